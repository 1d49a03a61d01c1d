//! What a digest says, built from the dashboard's read model ([`crate::storage::analytics`])
//! and its one definition of each figure ([`crate::reports`]), formatted as the dashboard
//! formats it ([`crate::web::figures`]): the figures of the period and their change
//! against the period before, the ranking (best and worst stores), the top problems (the
//! most picked reasons), three recent comments and the open alerts, for the stores in
//! the recipient's scope only. Rendered twice: `digest_email.html` (askama escapes every
//! stored text) and `digest_email.txt` (plain).

use std::collections::HashMap;

use askama::Template;
use chrono::{DateTime, NaiveDate, Utc};
use uuid::Uuid;

use crate::reports::{self, Summary};
use crate::storage::alerts::AlertQuery;
use crate::storage::analytics::{period_ranges, CommentQuery, Period, StoreInfo, Sums};
use crate::storage::digests::DigestKind;
use crate::storage::{Storage, StorageError};
use crate::web::figures::{tz_of, Change, Figures};
use crate::web::format;
use crate::web::i18n::{Lang, Tr};

/// How many stores the ranking shows at each end, and how many problems and comments.
const RANK_ROWS: usize = 3;
const PROBLEMS: usize = 3;
const COMMENTS: usize = 3;
const ALERTS: usize = 10;

/// The addresses a digest links to.
#[derive(Debug, Clone)]
pub struct Links {
    pub dashboard: String,
    pub preferences: String,
    pub unsubscribe: String,
}

/// One store in the ranking.
#[derive(Debug, Clone)]
pub struct Ranked {
    pub rank: usize,
    pub name: String,
    pub index: String,
    pub csat: String,
    pub count: String,
}

/// A reason and how often it was picked.
#[derive(Debug, Clone)]
pub struct Problem {
    pub reason: String,
    pub count: String,
}

#[derive(Debug, Clone)]
pub struct Comment {
    pub store: String,
    pub date: String,
    pub score: String,
    pub text: String,
}

#[derive(Debug, Clone)]
pub struct OpenAlert {
    pub rule: String,
    pub store: String,
    pub detail: String,
    pub since: String,
}

/// Everything both parts show, already formatted in the recipient's language.
#[derive(Debug, Clone)]
pub struct View {
    pub tr: Tr,
    pub lang: &'static str,
    pub subject: String,
    pub period: String,
    pub stores: String,
    pub f: Figures,
    pub count_change: Change,
    pub csat_change: Change,
    pub index_change: Change,
    pub nps_change: Change,
    pub show_nps: bool,
    pub best: Vec<Ranked>,
    pub worst: Vec<Ranked>,
    pub problems: Vec<Problem>,
    pub comments: Vec<Comment>,
    pub alerts: Vec<OpenAlert>,
    pub links: Links,
    /// The figures themselves, for tests and the bench.
    pub total: Summary,
}

#[derive(Template)]
#[template(path = "digest_email.html")]
struct HtmlPart<'a> {
    m: &'a View,
}

#[derive(Template)]
#[template(path = "digest_email.txt")]
struct TextPart<'a> {
    m: &'a View,
}

/// A rendered digest.
#[derive(Debug, Clone)]
pub struct Rendered {
    pub subject: String,
    pub text: String,
    pub html: String,
}

impl View {
    pub fn render(&self) -> Result<Rendered, askama::Error> {
        Ok(Rendered {
            subject: self.subject.clone(),
            text: TextPart { m: self }.render()?,
            html: HtmlPart { m: self }.render()?,
        })
    }
}

fn dates(lang: Lang, from: NaiveDate, to: NaiveDate) -> String {
    if from == to {
        format::date(lang, from)
    } else {
        format!("{} – {}", format::date(lang, from), format::date(lang, to))
    }
}

/// Build the digest of `kind` over the local dates `from..=to` for `scope` (the
/// recipient's stores, by name), as of `now`.
#[allow(clippy::too_many_arguments)]
pub async fn build(
    storage: &dyn Storage,
    lang: Lang,
    kind: DigestKind,
    scope: &[StoreInfo],
    all_stores: bool,
    from: NaiveDate,
    to: NaiveDate,
    now: DateTime<Utc>,
    links: Links,
) -> Result<View, StorageError> {
    let tr = Tr(lang);
    let zones: Vec<(Uuid, chrono_tz::Tz)> =
        scope.iter().map(|s| (s.id, tz_of(&s.timezone))).collect();
    let (current, previous) = period_ranges(Period::Custom { from, to }, &zones, now);
    let cur: HashMap<Uuid, Sums> = storage
        .store_summaries(&current, false)
        .await?
        .into_iter()
        .collect();
    let prev: HashMap<Uuid, Sums> = storage
        .store_summaries(&previous, false)
        .await?
        .into_iter()
        .collect();
    let (mut total, mut before) = (Sums::default(), Sums::default());
    let mut ranked: Vec<(Summary, &StoreInfo)> = Vec::new();
    for s in scope {
        let c = cur.get(&s.id).copied().unwrap_or_default();
        total.merge(&c);
        if let Some(p) = prev.get(&s.id) {
            before.merge(p);
        }
        if c.count() > 0 {
            ranked.push((Summary::from(&c), s));
        }
    }
    ranked.sort_by(|a, b| reports::rank_order(&a.0, &b.0).then_with(|| a.1.name.cmp(&b.1.name)));
    let row = |i: usize, (s, store): &(Summary, &StoreInfo)| {
        let f = Figures::new(lang, s);
        Ranked {
            rank: i + 1,
            name: store.name.clone(),
            index: f.index,
            csat: f.csat,
            count: f.count,
        }
    };
    // With fewer than two stores there is nothing to rank; best and worst never overlap.
    let (best, worst) = if ranked.len() >= 2 {
        let top = RANK_ROWS.min(ranked.len().div_ceil(2));
        let bottom = RANK_ROWS.min(ranked.len() - top);
        let best = ranked
            .iter()
            .take(top)
            .enumerate()
            .map(|(i, r)| row(i, r))
            .collect();
        let worst = ranked
            .iter()
            .enumerate()
            .rev()
            .take(bottom)
            .map(|(i, r)| row(i, r))
            .collect();
        (best, worst)
    } else {
        (Vec::new(), Vec::new())
    };
    let problems = storage
        .reasons(&current, false)
        .await?
        .into_iter()
        .take(PROBLEMS)
        .map(|(reason, n)| Problem {
            reason,
            count: format::integer(lang, n),
        })
        .collect();
    let names: HashMap<Uuid, &str> = scope.iter().map(|s| (s.id, s.name.as_str())).collect();
    let comments = storage
        .comments(&CommentQuery {
            ranges: current.clone(),
            score: None,
            reason: None,
            text: None,
            include_repeats: false,
            before: None,
            limit: COMMENTS,
        })
        .await?
        .rows
        .into_iter()
        .take(COMMENTS)
        .map(|c| Comment {
            store: names.get(&c.store_id).copied().unwrap_or("").to_owned(),
            date: format::date(lang, c.local_date),
            score: format!("{}/{}", c.score, c.scale),
            text: c.comment,
        })
        .collect();
    let zone_of: HashMap<Uuid, chrono_tz::Tz> = zones.iter().copied().collect();
    let alerts = storage
        .alerts(&AlertQuery {
            stores: (!all_stores).then(|| scope.iter().map(|s| s.id).collect()),
            open_only: true,
            limit: ALERTS,
        })
        .await?
        .into_iter()
        .filter(|a| names.contains_key(&a.store_id))
        .map(|a| OpenAlert {
            rule: a.rule_name,
            store: names.get(&a.store_id).copied().unwrap_or("").to_owned(),
            detail: a.detail,
            since: a
                .opened_at
                .map(|t| {
                    let tz = zone_of.get(&a.store_id).copied().unwrap_or(chrono_tz::UTC);
                    format::local_time(lang, t, tz)
                })
                .unwrap_or_default(),
        })
        .collect();
    let (t, b) = (Summary::from(&total), Summary::from(&before));
    let period = dates(lang, from, to);
    let subject = match kind {
        DigestKind::Daily => tr.f("Daily digest: {period}", &[("period", &period)]),
        DigestKind::Weekly => tr.f("Weekly digest: {period}", &[("period", &period)]),
    };
    let stores = if all_stores {
        tr.f(
            "All stores ({n})",
            &[("n", &format::integer(lang, scope.len() as u64))],
        )
    } else {
        scope
            .iter()
            .map(|s| s.name.as_str())
            .collect::<Vec<_>>()
            .join(", ")
    };
    Ok(View {
        tr,
        lang: lang.code(),
        subject,
        period,
        stores,
        f: Figures::new(lang, &t),
        count_change: Change::of_count(tr, t.count, b.count),
        csat_change: Change::new(tr, t.csat_percent, b.csat_percent, 1),
        index_change: Change::new(tr, t.happy_index, b.happy_index, 1),
        nps_change: Change::new(tr, t.nps, b.nps, 0),
        show_nps: t.nps.is_some() || b.nps.is_some(),
        best,
        worst,
        problems,
        comments,
        alerts,
        links,
        total: t,
    })
}
