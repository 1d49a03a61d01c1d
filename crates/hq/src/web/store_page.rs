//! The store page (`/stores/{store_id}`): one store over the period asked — its figures
//! against the previous period, the daily trend, hour × weekday heatmaps of the Happy
//! Index and of the volume, the score distribution, the reason chips the survey defines
//! (praise and problems) with counts and their daily trend, the touchpoint split, and the
//! comments feed (newest first; filtered by score, reason or text; suspected repeats
//! only when asked; keyset paging with "Older").

use std::collections::HashMap;

use askama::Template;
use askama_web::WebTemplate;
use axum::extract::{Query, State};
use chrono::Utc;
use serde::Deserialize;

use super::charts::{self, Bar, HeatCell, HeatScale};
use super::figures::{fill_days, trend_points, tz_of, Change, Figures, NONE};
use super::format;
use super::i18n::Tr;
use super::period::{Chosen, PeriodQuery};
use super::{route, url_encode, Access, Layout, Route, ScopedStore, Viewer, WebError};
use crate::reports::{self, Summary};
use crate::routes::AppState;
use crate::storage::accounts::Role;
use crate::storage::analytics::{period_ranges, CommentCursor, CommentQuery, StoreRange, Sums};

pub const ROUTES: &[Route] =
    &[route!(GET "/stores/{store_id}", Access::Signed(Role::Viewer), page)];

/// Comments per page.
pub const COMMENTS_PER_PAGE: usize = 25;
/// The longest text filter kept, in characters.
const MAX_FILTER_CHARS: usize = 100;

#[derive(Debug, Default, Deserialize)]
pub struct StoreQuery {
    #[serde(flatten)]
    pub period: PeriodQuery,
    pub score: Option<String>,
    pub reason: Option<String>,
    pub q: Option<String>,
    pub repeats: Option<String>,
    pub before: Option<String>,
}

/// A reason chip with its figures.
pub struct Chip {
    pub slug: String,
    pub label: String,
    pub count: String,
    pub change: Change,
    pub spark: String,
    pub href: String,
    pub current: bool,
}

/// One comment of the feed.
pub struct CommentView {
    pub when: String,
    pub score: String,
    pub score_class: String,
    pub reasons: Vec<String>,
    pub touchpoint: String,
    pub comment: String,
    pub repeat: bool,
}

/// One touchpoint's row.
pub struct TouchpointRow {
    pub name: String,
    pub f: Figures,
    pub share: String,
}

/// A choice of a filter's select.
pub struct FilterChoice {
    pub value: String,
    pub label: String,
    pub current: bool,
}

#[derive(Template, WebTemplate)]
#[template(path = "store_page.html")]
pub struct StorePage {
    pub l: Layout,
    pub name: String,
    pub timezone: String,
    pub dates: String,
    pub chosen: Chosen,
    pub action: String,
    pub f: Figures,
    pub count_change: Change,
    pub index_change: Change,
    pub csat_change: Change,
    pub nps_change: Change,
    pub trend_svg: String,
    pub heat_index_svg: String,
    pub heat_volume_svg: String,
    pub distribution_svg: String,
    pub praise: Vec<Chip>,
    pub problems: Vec<Chip>,
    pub other_reasons: Vec<Chip>,
    pub touchpoints: Vec<TouchpointRow>,
    pub comments: Vec<CommentView>,
    pub older: Option<String>,
    pub newest: Option<String>,
    pub score_choices: Vec<FilterChoice>,
    pub reason_choices: Vec<FilterChoice>,
    pub text_filter: String,
    pub repeats: bool,
    pub filter_notice: Option<&'static str>,
    pub filtered: bool,
    pub clear_href: String,
}

const WEEKDAYS: [&str; 7] = ["Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"];

/// GET /stores/{store_id}
pub async fn page(
    State(state): State<AppState>,
    viewer: Viewer,
    ScopedStore(store): ScopedStore,
    Query(q): Query<StoreQuery>,
) -> Result<StorePage, WebError> {
    let tr = viewer.tr();
    let lang = viewer.lang;
    let chosen = q.period.choose();
    let tz = tz_of(&store.timezone);
    let (current, previous) = period_ranges(chosen.period, &[(store.id, tz)], Utc::now());
    let an = state.storage.as_ref();
    let sums_of =
        |v: Vec<(uuid::Uuid, Sums)>| v.into_iter().map(|(_, s)| s).next().unwrap_or_default();
    let cur = sums_of(an.store_summaries(&current, false).await?);
    let prev = sums_of(an.store_summaries(&previous, false).await?);
    let (cs, ps) = (Summary::from(&cur), Summary::from(&prev));
    let range = current.first().copied().unwrap_or(StoreRange {
        store_id: store.id,
        from: Utc::now().date_naive(),
        to: Utc::now().date_naive(),
    });
    let days = fill_days(range.from, range.to, &an.daily(&current, false).await?);
    let points = trend_points(tr, &days);
    let trend_svg = charts::trend(
        tr.t("Daily trend"),
        tr.t("Happy Index per day (line, 0 to 100) and the number of ratings per day (bars)."),
        if cs.count == 0 { &[] } else { &points },
        tr.t("No ratings in this period"),
    );
    let heat = an.heatmap(&current, false).await?;
    let (heat_index_svg, heat_volume_svg) = heatmaps(tr, &heat);
    let distribution_svg = distribution(tr, &cs);

    // Reasons: counts now and before, and per day for the sparkline.
    let now_counts: HashMap<String, u64> = an.reasons(&current, false).await?.into_iter().collect();
    let before_counts: HashMap<String, u64> =
        an.reasons(&previous, false).await?.into_iter().collect();
    let mut per_day: HashMap<String, Vec<u64>> = HashMap::new();
    let index_of: HashMap<chrono::NaiveDate, usize> =
        days.iter().enumerate().map(|(i, (d, _))| (*d, i)).collect();
    for (d, reason, n) in an.reasons_daily(&current, false).await? {
        if let Some(&i) = index_of.get(&d) {
            per_day.entry(reason).or_insert_with(|| vec![0; days.len()])[i] = n;
        }
    }
    let base = format!("/stores/{}", store.id);
    let period_q = chosen.query();
    let chosen_reason = q
        .reason
        .as_deref()
        .map(str::trim)
        .filter(|r| !r.is_empty() && r.len() <= 64);
    let chip = |slug: &str, label: String| {
        let n = now_counts.get(slug).copied().unwrap_or(0);
        let spark_values = per_day
            .get(slug)
            .cloned()
            .unwrap_or_else(|| vec![0; days.len()]);
        Chip {
            slug: slug.to_owned(),
            count: format::integer(lang, n),
            change: Change::of_count(tr, n, before_counts.get(slug).copied().unwrap_or(0)),
            spark: charts::sparkline(
                &tr.f("{reason}: ratings per day", &[("reason", &label)]),
                &spark_values,
            ),
            href: format!("{base}?{period_q}&reason={}#comments", url_encode(slug)),
            current: chosen_reason == Some(slug),
            label,
        }
    };
    let label_lang = lang.code();
    let config = &store.config;
    let praise: Vec<Chip> = config
        .praise_reasons
        .iter()
        .map(|c| chip(c.slug.as_str(), c.label_in(label_lang, "en").to_owned()))
        .collect();
    let problems: Vec<Chip> = config
        .problem_reasons
        .iter()
        .map(|c| chip(c.slug.as_str(), c.label_in(label_lang, "en").to_owned()))
        .collect();
    let known: Vec<&str> = config
        .praise_reasons
        .iter()
        .chain(&config.problem_reasons)
        .map(|c| c.slug.as_str())
        .collect();
    let mut other: Vec<&String> = now_counts
        .keys()
        .filter(|k| !known.contains(&k.as_str()))
        .collect();
    other.sort();
    let other_reasons: Vec<Chip> = other
        .into_iter()
        .map(|slug| chip(slug, slug.replace('_', " ")))
        .collect();
    let label_of = |slug: &str| -> String {
        config
            .praise_reasons
            .iter()
            .chain(&config.problem_reasons)
            .find(|c| c.slug.as_str() == slug)
            .map(|c| c.label_in(label_lang, "en").to_owned())
            .unwrap_or_else(|| slug.replace('_', " "))
    };

    let touchpoints = an
        .touchpoints(&current, false)
        .await?
        .into_iter()
        .map(|(name, s)| {
            let summary = Summary::from(&s);
            let share = if cs.count > 0 {
                format!(
                    "{}%",
                    format::decimal(lang, 100.0 * summary.count as f64 / cs.count as f64, 0)
                )
            } else {
                NONE.to_owned()
            };
            TouchpointRow {
                name,
                f: Figures::new(lang, &summary),
                share,
            }
        })
        .collect();

    // The comments feed.
    let mut filter_notice = None;
    let score = match q.score.as_deref().map(str::trim).filter(|s| !s.is_empty()) {
        None => None,
        Some(s) => match s.parse::<u8>() {
            Ok(n @ 1..=5) => Some(n),
            _ => {
                filter_notice =
                    Some("The score filter takes a score from 1 to 5; it was left out.");
                None
            }
        },
    };
    let text: String =
        q.q.as_deref()
            .unwrap_or("")
            .trim()
            .chars()
            .take(MAX_FILTER_CHARS)
            .collect();
    let repeats = q.repeats.as_deref().is_some_and(|v| v == "1" || v == "on");
    let before = match q.before.as_deref().filter(|b| !b.is_empty()) {
        None => None,
        Some(b) => match CommentCursor::from_token(b) {
            Some(c) => Some(c),
            None => {
                filter_notice = Some("That page of comments does not exist; showing the newest.");
                None
            }
        },
    };
    let page = an
        .comments(&CommentQuery {
            ranges: current.clone(),
            score,
            reason: chosen_reason.map(str::to_owned),
            text: (!text.is_empty()).then(|| text.clone()),
            include_repeats: repeats,
            before,
            limit: COMMENTS_PER_PAGE,
        })
        .await?;
    let mut filters = format!("{base}?{period_q}");
    if let Some(s) = score {
        filters.push_str(&format!("&score={s}"));
    }
    if let Some(r) = chosen_reason {
        filters.push_str(&format!("&reason={}", url_encode(r)));
    }
    if !text.is_empty() {
        filters.push_str(&format!("&q={}", url_encode(&text)));
    }
    if repeats {
        filters.push_str("&repeats=1");
    }
    let older = page
        .next
        .map(|c| format!("{filters}&before={}#comments", c.to_token()));
    let newest = before.map(|_| format!("{filters}#comments"));
    let comments = page
        .rows
        .into_iter()
        .map(|r| CommentView {
            when: format::local_time(lang, r.occurred_at, tz),
            score: tr.f(
                "{score} of {faces}",
                &[
                    ("score", &r.score.to_string()),
                    ("faces", &r.scale.to_string()),
                ],
            ),
            score_class: format!("s{}", score_level(r.score, r.scale)),
            reasons: r.reasons.iter().map(|s| label_of(s)).collect(),
            touchpoint: r.touchpoint,
            comment: r.comment,
            repeat: r.suspected_repeat,
        })
        .collect();
    let score_choices = std::iter::once(FilterChoice {
        value: String::new(),
        label: tr.t("Any score").to_owned(),
        current: score.is_none(),
    })
    .chain((1..=5u8).rev().map(|n| FilterChoice {
        value: n.to_string(),
        label: n.to_string(),
        current: score == Some(n),
    }))
    .collect();
    let reason_choices = std::iter::once(FilterChoice {
        value: String::new(),
        label: tr.t("Any reason").to_owned(),
        current: chosen_reason.is_none(),
    })
    .chain(
        praise
            .iter()
            .chain(&problems)
            .chain(&other_reasons)
            .map(|c| FilterChoice {
                value: c.slug.clone(),
                label: c.label.clone(),
                current: chosen_reason == Some(c.slug.as_str()),
            }),
    )
    .collect();
    let dates = if range.from == range.to {
        format::date(lang, range.from)
    } else {
        format!(
            "{} – {}",
            format::date(lang, range.from),
            format::date(lang, range.to)
        )
    };
    Ok(StorePage {
        l: Layout::new(&viewer),
        name: store.name.clone(),
        timezone: store.timezone.clone(),
        dates,
        action: base.clone(),
        f: Figures::new(lang, &cs),
        count_change: Change::of_count(tr, cs.count, ps.count),
        index_change: Change::new(tr, cs.happy_index, ps.happy_index, 1),
        csat_change: Change::new(tr, cs.csat_percent, ps.csat_percent, 1),
        nps_change: Change::new(tr, cs.nps, ps.nps, 0),
        trend_svg,
        heat_index_svg,
        heat_volume_svg,
        distribution_svg,
        praise,
        problems,
        other_reasons,
        touchpoints,
        comments,
        older,
        newest,
        score_choices,
        reason_choices,
        filtered: score.is_some() || chosen_reason.is_some() || !text.is_empty() || repeats,
        text_filter: text,
        repeats,
        filter_notice,
        clear_href: format!("{base}?{period_q}#comments"),
        chosen,
    })
}

/// 1 (worst) to 5 (best) on the five-face look, whatever the scale.
fn score_level(score: u8, scale: u8) -> u8 {
    if scale == 4 {
        [1, 2, 4, 5]
            .get(usize::from(score).saturating_sub(1))
            .copied()
            .unwrap_or(1)
    } else {
        score.clamp(1, 5)
    }
}

fn heatmaps(tr: Tr, heat: &[[Sums; 24]; 7]) -> (String, String) {
    let lang = tr.lang();
    let days: [String; 7] = WEEKDAYS.map(|d| tr.t(d).to_owned());
    let cell = |d: usize, h: usize, index: bool| {
        let s = &heat[d][h];
        let n = s.count();
        let hi = reports::happy_index(s);
        let title = tr.f(
            "{day} {hour}:00: Happy Index {index}, {count} ratings",
            &[
                ("day", &days[d]),
                ("hour", &format!("{h:02}")),
                (
                    "index",
                    &hi.map(|v| format::decimal(lang, v, 0))
                        .unwrap_or_else(|| NONE.into()),
                ),
                ("count", &format::integer(lang, n)),
            ],
        );
        if index {
            HeatCell {
                value: hi,
                text: hi.map(|v| format::decimal(lang, v, 0)).unwrap_or_default(),
                title,
            }
        } else {
            HeatCell {
                value: (n > 0).then_some(n as f64),
                text: if n > 0 {
                    format::integer(lang, n)
                } else {
                    String::new()
                },
                title,
            }
        }
    };
    let index_cells: [[HeatCell; 24]; 7] =
        std::array::from_fn(|d| std::array::from_fn(|h| cell(d, h, true)));
    let volume_cells: [[HeatCell; 24]; 7] =
        std::array::from_fn(|d| std::array::from_fn(|h| cell(d, h, false)));
    (
        charts::heatmap(
            tr.t("Happy Index by weekday and hour"),
            tr.t("Each cell is one hour of one weekday, in the store's time zone; the number is the Happy Index (0 to 100), empty without ratings."),
            HeatScale::Index,
            &days,
            &index_cells,
        ),
        charts::heatmap(
            tr.t("Ratings by weekday and hour"),
            tr.t("Each cell is one hour of one weekday, in the store's time zone; the number is how many ratings came in."),
            HeatScale::Volume,
            &days,
            &volume_cells,
        ),
    )
}

fn distribution(tr: Tr, s: &Summary) -> String {
    let lang = tr.lang();
    let total = s.count.max(1) as f64;
    let rows: Vec<Bar> = (1..=5usize)
        .rev()
        .map(|score| {
            let n = s.distribution[score - 1];
            Bar {
                label: tr.f("Score {n}", &[("n", &score.to_string())]),
                value: n,
                value_text: format!(
                    "{} · {}%",
                    format::integer(lang, n),
                    format::decimal(lang, 100.0 * n as f64 / total, 0)
                ),
                class: ["bar-s1", "bar-s2", "bar-s3", "bar-s4", "bar-s5"][score - 1],
            }
        })
        .collect();
    charts::bars(
        tr.t("Score distribution"),
        tr.t("How many ratings gave each score, 5 the best, with their share."),
        &rows,
    )
}
