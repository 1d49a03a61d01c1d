//! Report arithmetic: from per-group sums to count, CSAT % (share of ratings in the top
//! two faces), average, score distribution and NPS (only when anyone answered it).

use chrono::NaiveDate;
use serde::Serialize;
use uuid::Uuid;

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
            distribution: t.distribution,
            nps: (t.nps_responses > 0).then(|| {
                let n = t.nps_responses as f64;
                round1(100.0 * (t.promoters as f64 - t.detractors as f64) / n)
            }),
            nps_responses: t.nps_responses,
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
    fn no_ratings_means_no_percentages_and_no_nps() {
        let s = Summary::from(&Tally::default());
        assert_eq!(s.count, 0);
        assert_eq!(s.csat_percent, None);
        assert_eq!(s.nps, None);
        let v = serde_json::to_value(&s).expect("serializes");
        assert!(v.get("nps").is_none());
    }
}
