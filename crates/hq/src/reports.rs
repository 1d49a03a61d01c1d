//! Report arithmetic, the one place it lives: from per-group sums to count, CSAT % (share
//! of ratings in the top two faces), the Happy Index (the mean face mapped linearly to
//! 0–100), average, score distribution and NPS (only when anyone answered it).

use chrono::NaiveDate;
use serde::Serialize;
use uuid::Uuid;

use crate::storage::analytics::Sums;
use crate::storage::{GroupBy, Tally};

/// The figures for one group (or for the whole range).
#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
pub struct Summary {
    pub count: u64,
    /// Share of ratings in the scale's top two faces, in percent; absent with no ratings.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub csat_percent: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub average: Option<f64>,
    /// The mean face mapped linearly to 0–100 (five faces: 0/25/50/75/100; four:
    /// 0/33.3/66.7/100); absent with no ratings, or when only [`Tally`] sums are known
    /// (they do not keep the scales apart).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub happy_index: Option<f64>,
    /// Ratings with score 1, 2, 3, 4, 5.
    pub distribution: [u64; 5],
    /// Net promoter score (−100..=100), only when the survey asks it and someone answered.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub nps: Option<f64>,
    pub nps_responses: u64,
}

/// One group of a report.
#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
pub struct Group {
    pub key: String,
    #[serde(flatten)]
    pub summary: Summary,
}

/// A whole report, as `GET /api/v1/reports` returns it.
#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
pub struct Report {
    pub from: NaiveDate,
    pub to: NaiveDate,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub store_id: Option<Uuid>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub group_by: Option<GroupBy>,
    pub include_repeats: bool,
    pub total: Summary,
    pub groups: Vec<Group>,
}

fn round1(x: f64) -> f64 {
    (x * 10.0).round() / 10.0
}

fn round2(x: f64) -> f64 {
    (x * 100.0).round() / 100.0
}

impl From<&Tally> for Summary {
    fn from(t: &Tally) -> Summary {
        let count = t.count as f64;
        Summary {
            count: t.count,
            csat_percent: (t.count > 0).then(|| round1(100.0 * t.satisfied as f64 / count)),
            average: (t.count > 0).then(|| round2(t.score_sum as f64 / count)),
            happy_index: None,
            distribution: t.distribution,
            nps: (t.nps_responses > 0).then(|| {
                let n = t.nps_responses as f64;
                round1(100.0 * (t.promoters as f64 - t.detractors as f64) / n)
            }),
            nps_responses: t.nps_responses,
        }
    }
}

/// The Happy Index of `sums`, unrounded: each rating's face mapped to 0–100 on its own
/// scale ((score − 1) / (faces − 1)), averaged. Exact over a mix of scales: with 12 as the
/// common multiple of 4 and 3, it is 100 · (3·Σ₅(s−1) + 4·Σ₄(s−1)) / (12 · count).
pub fn happy_index(sums: &Sums) -> Option<f64> {
    let count = sums.count();
    if count == 0 {
        return None;
    }
    let steps =
        |counts: &[u64]| -> u64 { counts.iter().enumerate().map(|(i, n)| i as u64 * n).sum() };
    let twelfths = 3 * steps(&sums.five) + 4 * steps(&sums.four);
    Some(100.0 * twelfths as f64 / (12 * count) as f64)
}

/// The change from `previous` to `current` of one figure, when both exist.
pub fn change(current: Option<f64>, previous: Option<f64>) -> Option<f64> {
    Some(round1(current? - previous?))
}

impl From<&Sums> for Summary {
    fn from(s: &Sums) -> Summary {
        let count = s.count();
        let c = count as f64;
        Summary {
            count,
            csat_percent: (count > 0).then(|| round1(100.0 * s.satisfied() as f64 / c)),
            average: (count > 0).then(|| round2(s.score_sum() as f64 / c)),
            happy_index: happy_index(s).map(round1),
            distribution: s.distribution(),
            nps: (s.nps_responses > 0).then(|| {
                let n = s.nps_responses as f64;
                round1(100.0 * (s.promoters as f64 - s.detractors as f64) / n)
            }),
            nps_responses: s.nps_responses,
        }
    }
}

/// Order groups naturally: hours as numbers, everything else as text.
pub fn sort_groups(group_by: Option<GroupBy>, groups: &mut [Group]) {
    if group_by == Some(GroupBy::Hour) {
        groups.sort_by_key(|g| g.key.parse::<u32>().unwrap_or(u32::MAX));
    } else {
        groups.sort_by(|a, b| a.key.cmp(&b.key));
    }
}

/// The share of ratings in their scale's two lowest faces ([`Scale::is_unhappy`]), in
/// percent, unrounded; `None` with no ratings. Alerts (issue 11) fire on it.
///
/// [`Scale::is_unhappy`]: countertop_protocol::Scale::is_unhappy
pub fn unhappy_percent(sums: &Sums) -> Option<f64> {
    let count = sums.count();
    if count == 0 {
        return None;
    }
    let scale = countertop_protocol::Scale::FIVE;
    let unhappy: u64 = (1..=5u8)
        .filter(|s| scale.is_unhappy(*s))
        .map(|s| {
            sums.five[usize::from(s) - 1] + sums.four.get(usize::from(s) - 1).copied().unwrap_or(0)
        })
        .sum();
    Some(100.0 * unhappy as f64 / count as f64)
}

/// The ranking of stores, the one rule the overview and the digests share: by Happy
/// Index, then CSAT, then count, best first; stores without ratings last.
pub fn rank_order(a: &Summary, b: &Summary) -> std::cmp::Ordering {
    let key = |s: &Summary| {
        (
            s.happy_index.unwrap_or(-1.0),
            s.csat_percent.unwrap_or(-1.0),
            s.count,
        )
    };
    key(b)
        .partial_cmp(&key(a))
        .unwrap_or(std::cmp::Ordering::Equal)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn csat_average_and_nps_from_sums() {
        let t = Tally {
            key: "all".into(),
            count: 4,
            satisfied: 3,
            score_sum: 17,
            distribution: [0, 0, 1, 1, 2],
            nps_responses: 4,
            promoters: 2,
            detractors: 1,
        };
        let s = Summary::from(&t);
        assert_eq!(s.csat_percent, Some(75.0));
        assert_eq!(s.average, Some(4.25));
        assert_eq!(s.nps, Some(25.0));
    }

    #[test]
    fn the_happy_index_maps_each_scale_linearly_to_0_to_100() {
        let five = |i: usize| {
            let mut s = Sums::default();
            s.five[i] = 1;
            s
        };
        let four = |i: usize| {
            let mut s = Sums::default();
            s.four[i] = 1;
            s
        };
        let got: Vec<f64> = (0..5).filter_map(|i| happy_index(&five(i))).collect();
        assert_eq!(got, [0.0, 25.0, 50.0, 75.0, 100.0]);
        let got: Vec<f64> = (0..4)
            .filter_map(|i| Summary::from(&four(i)).happy_index)
            .collect();
        assert_eq!(got, [0.0, 33.3, 66.7, 100.0]);
        assert_eq!(happy_index(&Sums::default()), None);
    }

    #[test]
    fn a_mix_of_scales_averages_each_rating_on_its_own_scale() {
        // A five-face 4 (75) and a four-face 2 (33.33…): mean 54.1666…
        let mut s = Sums::default();
        s.five[3] = 1;
        s.four[1] = 1;
        let exact = happy_index(&s).expect("index");
        assert!((exact - (75.0 + 100.0 / 3.0) / 2.0).abs() < 1e-9, "{exact}");
        let summary = Summary::from(&s);
        assert_eq!(summary.happy_index, Some(54.2));
        assert_eq!(summary.count, 2);
        assert_eq!(
            summary.csat_percent,
            Some(50.0),
            "the five-face 4 is satisfied"
        );
        assert_eq!(summary.average, Some(3.0));
        assert_eq!(summary.distribution, [0, 1, 0, 1, 0]);
    }

    #[test]
    fn nps_and_changes_from_sums() {
        let s = Sums {
            five: [1, 0, 0, 0, 3],
            nps_responses: 4,
            promoters: 1,
            detractors: 3,
            ..Sums::default()
        };
        let summary = Summary::from(&s);
        assert_eq!(summary.nps, Some(-50.0));
        assert_eq!(summary.csat_percent, Some(75.0));
        assert_eq!(change(Some(80.0), Some(72.5)), Some(7.5));
        assert_eq!(change(Some(80.0), None), None);
        assert_eq!(Summary::from(&Sums::default()).nps, None);
    }

    #[test]
    fn no_ratings_means_no_percentages_and_no_nps() {
        let s = Summary::from(&Tally::default());
        assert_eq!(s.count, 0);
        assert_eq!(s.csat_percent, None);
        assert_eq!(s.nps, None);
        let v = serde_json::to_value(&s).expect("serializes");
        assert!(v.get("nps").is_none());
    }
}
