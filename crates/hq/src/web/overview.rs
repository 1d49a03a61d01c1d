//! The overview (`/`): for the period asked (each store's own local dates), every store in
//! scope with its count, CSAT, Happy Index, average and NPS, each against the previous
//! period of the same length; the stores ranked (best first by default, worst first or
//! by name on request); the chain's daily trend; and an Attention block of stores whose
//! kiosks are offline or backlogged ([`super::device_status`]).

use std::collections::{BTreeMap, HashMap};

use askama::Template;
use askama_web::WebTemplate;
use axum::extract::{Query, State};
use chrono::Utc;
use serde::Deserialize;
use uuid::Uuid;

use super::charts;
use super::device_status;
use super::figures::{fill_days, trend_points, tz_of, Change, Figures};
use super::format;
use super::period::{Chosen, PeriodQuery};
use super::{route, Access, Layout, Route, Viewer, WebError};
use crate::reports::Summary;
use crate::routes::AppState;
use crate::storage::accounts::Role;
use crate::storage::analytics::{period_ranges, Sums};

pub const ROUTES: &[Route] = &[route!(GET "/", Access::Signed(Role::Viewer), page)];

#[derive(Debug, Default, Deserialize)]
pub struct OverviewQuery {
    #[serde(flatten)]
    pub period: PeriodQuery,
    pub sort: Option<String>,
}

/// One store's row.
pub struct StoreRow {
    pub rank: usize,
    pub name: String,
    pub href: String,
    pub timezone: String,
    pub dates: String,
    pub f: Figures,
    pub count_change: Change,
    pub csat_change: Change,
    pub index_change: Change,
    pub nps_change: Change,
    pub id: Uuid,
}

/// A store in the Attention block.
pub struct AttentionRow {
    pub name: String,
    pub href: String,
    /// Translated sentences, one per kiosk problem.
    pub problems: Vec<String>,
}

/// A sort of the ranking.
pub struct SortLink {
    pub label: &'static str,
    pub href: String,
    pub current: bool,
}

#[derive(Template, WebTemplate)]
#[template(path = "overview.html")]
pub struct OverviewPage {
    pub l: Layout,
    pub chosen: Chosen,
    pub no_stores: bool,
    pub rows: Vec<StoreRow>,
    pub chain: Figures,
    pub chain_count_change: Change,
    pub chain_csat_change: Change,
    pub chain_index_change: Change,
    pub chain_nps_change: Change,
    pub best: Option<(String, String, String)>,
    pub worst: Option<(String, String, String)>,
    pub show_nps: bool,
    pub trend_svg: String,
    pub attention: Vec<AttentionRow>,
    pub sorts: Vec<SortLink>,
    pub period_label: String,
}

const SORTS: [(&str, &str); 4] = [
    ("best", "Best first"),
    ("worst", "Worst first"),
    ("count", "Most ratings"),
    ("name", "Name"),
];

/// GET / — the overview.
pub async fn page(
    State(state): State<AppState>,
    viewer: Viewer,
    Query(q): Query<OverviewQuery>,
) -> Result<OverviewPage, WebError> {
    let tr = viewer.tr();
    let lang = viewer.lang;
    let chosen = q.period.choose();
    let stores = viewer.stores_in_scope(&state).await?;
    let zones: Vec<(Uuid, chrono_tz::Tz)> =
        stores.iter().map(|s| (s.id, tz_of(&s.timezone))).collect();
    let now = Utc::now();
    let (current, previous) = period_ranges(chosen.period, &zones, now);
    let an = state.storage.as_ref();
    // Three independent reads, at the same time: each has its own pooled connection (a
    // reader connection on SQLite), so the page takes the slowest, not their sum.
    let (cur, prev, daily) = tokio::try_join!(
        an.store_summaries(&current, false),
        an.store_summaries(&previous, false),
        an.daily(&current, false),
    )?;
    let cur: HashMap<Uuid, Sums> = cur.into_iter().collect();
    let prev: HashMap<Uuid, Sums> = prev.into_iter().collect();

    let mut rows: Vec<(Summary, StoreRow)> = Vec::with_capacity(stores.len());
    let (mut chain_cur, mut chain_prev) = (Sums::default(), Sums::default());
    for (s, range) in stores.iter().zip(&current) {
        let c = cur.get(&s.id).copied().unwrap_or_default();
        let p = prev.get(&s.id).copied().unwrap_or_default();
        chain_cur.merge(&c);
        chain_prev.merge(&p);
        let (cs, ps) = (Summary::from(&c), Summary::from(&p));
        let dates = if range.from == range.to {
            format::date(lang, range.from)
        } else {
            format!(
                "{} – {}",
                format::date(lang, range.from),
                format::date(lang, range.to)
            )
        };
        rows.push((
            cs.clone(),
            StoreRow {
                rank: 0,
                name: s.name.clone(),
                href: format!("/stores/{}?{}", s.id, chosen.query()),
                timezone: s.timezone.clone(),
                dates,
                f: Figures::new(lang, &cs),
                count_change: Change::of_count(tr, cs.count, ps.count),
                csat_change: Change::new(tr, cs.csat_percent, ps.csat_percent, 1),
                index_change: Change::new(tr, cs.happy_index, ps.happy_index, 1),
                nps_change: Change::new(tr, cs.nps, ps.nps, 0),
                id: s.id,
            },
        ));
    }
    // Rank by Happy Index, then CSAT, then count; stores without ratings last.
    rows.sort_by(|a, b| {
        crate::reports::rank_order(&a.0, &b.0).then_with(|| a.1.name.cmp(&b.1.name))
    });
    for (i, (_, r)) in rows.iter_mut().enumerate() {
        r.rank = i + 1;
    }
    let with_data: Vec<&(Summary, StoreRow)> = rows.iter().filter(|(s, _)| s.count > 0).collect();
    let callout = |r: &StoreRow| (r.name.clone(), r.href.clone(), r.f.index.clone());
    let best = (with_data.len() >= 2).then(|| callout(&with_data[0].1));
    let worst = (with_data.len() >= 2).then(|| callout(&with_data[with_data.len() - 1].1));
    let sort = SORTS
        .iter()
        .map(|&(k, _)| k)
        .find(|k| Some(*k) == q.sort.as_deref())
        .unwrap_or("best");
    match sort {
        "worst" => {
            let (mut has, none): (Vec<_>, Vec<_>) =
                rows.into_iter().partition(|(s, _)| s.count > 0);
            has.reverse();
            rows = has.into_iter().chain(none).collect();
        }
        "count" => rows.sort_by(|a, b| b.0.count.cmp(&a.0.count).then(a.1.rank.cmp(&b.1.rank))),
        "name" => rows.sort_by_key(|r| r.1.name.to_lowercase()),
        _ => {}
    }
    let show_nps = rows.iter().any(|(s, _)| s.nps.is_some());

    let (cs, ps) = (Summary::from(&chain_cur), Summary::from(&chain_prev));
    let from = current.iter().map(|r| r.from).min();
    let to = current.iter().map(|r| r.to).max();
    let points = match (from, to) {
        (Some(from), Some(to)) => trend_points(tr, &fill_days(from, to, &daily)),
        _ => Vec::new(),
    };
    let trend_svg = charts::trend(
        tr.t("Daily trend"),
        tr.t("Happy Index per day (line, 0 to 100) and the number of ratings per day (bars)."),
        if cs.count == 0 { &[] } else { &points },
        tr.t("No ratings in this period"),
    );

    let attention = attention(&state, &viewer, &stores, &chosen, now).await?;
    let period_label = chosen
        .choices
        .iter()
        .find(|c| c.current)
        .map(|c| tr.t(c.label).to_owned())
        .unwrap_or_default();
    let sorts = SORTS
        .iter()
        .map(|&(k, label)| SortLink {
            label,
            href: format!("/?{}&sort={k}", chosen.query()),
            current: k == sort,
        })
        .collect();
    Ok(OverviewPage {
        l: Layout::new(&viewer),
        no_stores: stores.is_empty(),
        chain: Figures::new(lang, &cs),
        chain_count_change: Change::of_count(tr, cs.count, ps.count),
        chain_csat_change: Change::new(tr, cs.csat_percent, ps.csat_percent, 1),
        chain_index_change: Change::new(tr, cs.happy_index, ps.happy_index, 1),
        chain_nps_change: Change::new(tr, cs.nps, ps.nps, 0),
        rows: rows.into_iter().map(|(_, r)| r).collect(),
        best,
        worst,
        show_nps,
        trend_svg,
        attention,
        sorts,
        period_label,
        chosen,
    })
}

async fn attention(
    state: &AppState,
    viewer: &Viewer,
    stores: &[crate::storage::accounts::StoreSummary],
    chosen: &Chosen,
    now: chrono::DateTime<Utc>,
) -> Result<Vec<AttentionRow>, WebError> {
    let tr = viewer.tr();
    let ids: Vec<Uuid> = stores.iter().map(|s| s.id).collect();
    let devices = state.storage.devices(Some(&ids)).await?;
    let offline_after = state.web.settings.offline_after;
    let mut by_store: BTreeMap<Uuid, Vec<String>> = BTreeMap::new();
    let mut hours = HashMap::new();
    for d in devices.iter().filter(|d| !d.revoked) {
        let Some(store) = stores.iter().find(|s| s.id == d.store_id) else {
            continue;
        };
        let h = match hours.entry(d.store_id) {
            std::collections::hash_map::Entry::Occupied(e) => e.into_mut(),
            std::collections::hash_map::Entry::Vacant(e) => {
                e.insert(state.storage.opening_hours(d.store_id).await?)
            }
        };
        let tz = tz_of(&store.timezone);
        let st = device_status::status(d, h, tz, now, offline_after);
        let name = d
            .name
            .clone()
            .unwrap_or_else(|| tr.t("Unnamed kiosk").to_owned());
        if st.offline {
            let last = d
                .last_seen
                .map(|t| format::local_time(viewer.lang, t, tz))
                .unwrap_or_else(|| tr.t("never").to_owned());
            by_store.entry(d.store_id).or_default().push(tr.f(
                "{kiosk} is offline (last heard from {last})",
                &[("kiosk", &name), ("last", &last)],
            ));
        }
        if st.backlog {
            let queue = format::integer(viewer.lang, d.queue_depth.unwrap_or(0));
            by_store.entry(d.store_id).or_default().push(tr.f(
                "{kiosk} has {n} ratings waiting to be sent",
                &[("kiosk", &name), ("n", &queue)],
            ));
        }
    }
    Ok(stores
        .iter()
        .filter_map(|s| {
            by_store.remove(&s.id).map(|problems| AttentionRow {
                name: s.name.clone(),
                href: format!("/stores/{}?{}", s.id, chosen.query()),
                problems,
            })
        })
        .collect())
}
