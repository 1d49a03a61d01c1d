//! The export: ratings with their reasons and comments, per store (or every store in
//! scope) and range of local dates, as a CSV download for spreadsheets and as paged JSON
//! for BI tools. The CSV is streamed page by page from the read model's keyset-paged
//! [`Analytics::export_page`], so a year of a chain never sits in memory; cells a
//! spreadsheet would run as a formula are made safe ([`csv_text`]). Both go through the
//! one scope check: a store outside the viewer's scope is a 404.

use std::sync::Arc;

use askama::Template;
use askama_web::WebTemplate;
use axum::body::{Body, Bytes};
use axum::extract::{Query, State};
use axum::http::{header, HeaderValue};
use axum::response::{IntoResponse, Response};
use axum::Json;
use chrono::{Duration, NaiveDate, SecondsFormat, Utc};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use super::error::WebError;
use super::{route, Access, Layout, Route, Viewer};
use crate::routes::AppState;
use crate::storage::accounts::Role;
use crate::storage::analytics::{ExportRow, StoreRange, MAX_PAGE};
use crate::storage::{Storage, StorageError};

pub const ROUTES: &[Route] = &[
    route!(GET "/export", Access::Signed(Role::Viewer), page),
    route!(GET "/export.csv", Access::Signed(Role::Viewer), csv),
    route!(GET "/export.json", Access::Signed(Role::Viewer), json),
];

/// Rows per JSON page unless `limit` says otherwise (at most [`MAX_PAGE`]).
pub const JSON_DEFAULT_LIMIT: usize = 1_000;
/// The range the form suggests: the last 30 days.
const DEFAULT_DAYS: i64 = 30;

/// The query of all three routes. Dates are local to each store, inclusive.
#[derive(Debug, Default, Deserialize)]
pub struct ExportParams {
    /// A store id; empty or absent for every store in scope.
    #[serde(default)]
    store: Option<String>,
    #[serde(default)]
    from: Option<String>,
    #[serde(default)]
    to: Option<String>,
    /// JSON paging: the `next` of the previous page.
    #[serde(default)]
    after: Option<String>,
    #[serde(default)]
    limit: Option<String>,
}

/// What the query asks for, checked against the scope.
struct Selection {
    ranges: Vec<StoreRange>,
    names: Arc<std::collections::HashMap<Uuid, String>>,
    from: NaiveDate,
    to: NaiveDate,
    /// For the file name: the one store's name, or `None` for all in scope.
    store_name: Option<String>,
}

fn bad(message: &'static str) -> WebError {
    WebError::BadRequest { message }
}

fn date(s: Option<&str>) -> Result<Option<NaiveDate>, WebError> {
    match s.map(str::trim).filter(|s| !s.is_empty()) {
        None => Ok(None),
        Some(s) => s
            .parse()
            .map(Some)
            .map_err(|_| bad("A date is written YYYY-MM-DD, such as 2026-12-01.")),
    }
}

async fn select(
    state: &AppState,
    viewer: &Viewer,
    q: &ExportParams,
) -> Result<Selection, WebError> {
    let today = Utc::now().date_naive();
    let to = date(q.to.as_deref())?.unwrap_or(today);
    let from = date(q.from.as_deref())?.unwrap_or(to - Duration::days(DEFAULT_DAYS - 1));
    if from > to {
        return Err(bad("The first day comes after the last day."));
    }
    let (stores, store_name) = match q.store.as_deref().map(str::trim).filter(|s| !s.is_empty()) {
        Some(id) => {
            let id = Uuid::parse_str(id).map_err(|_| WebError::NotFound)?;
            let s = viewer.store(state, id).await?;
            (vec![(s.id, s.name.clone())], Some(s.name))
        }
        None => (
            viewer
                .stores_in_scope(state)
                .await?
                .into_iter()
                .map(|s| (s.id, s.name))
                .collect(),
            None,
        ),
    };
    Ok(Selection {
        ranges: stores
            .iter()
            .map(|(id, _)| StoreRange {
                store_id: *id,
                from,
                to,
            })
            .collect(),
        names: Arc::new(stores.into_iter().collect()),
        from,
        to,
        store_name,
    })
}

/// A text cell: always quoted (`"` doubled), and a cell that starts like a formula
/// (`=`, `+`, `-`, `@`, tab, carriage return) gets a leading `'` so a spreadsheet shows
/// it as text instead of running it.
pub fn csv_text(out: &mut String, s: &str) {
    out.push('"');
    if s.starts_with(['=', '+', '-', '@', '\t', '\r']) {
        out.push('\'');
    }
    for c in s.chars() {
        if c == '"' {
            out.push('"');
        }
        out.push(c);
    }
    out.push('"');
}

/// The CSV's first line.
pub const CSV_HEADER: &str = "rating_id,store_id,store,device_id,occurred_at_utc,local_date,\
local_hour,touchpoint,survey_version,faces,score,nps,suspected_repeat,reasons,comment\r\n";

fn csv_row(out: &mut String, r: &ExportRow, store: &str) {
    use std::fmt::Write;
    let _ = write!(out, "{},{},", r.rating_id, r.store_id);
    csv_text(out, store);
    let _ = write!(
        out,
        ",{},{},{},{},",
        r.device_id,
        r.occurred_at.to_rfc3339_opts(SecondsFormat::Secs, true),
        r.local_date,
        r.local_hour
    );
    csv_text(out, &r.touchpoint);
    let _ = write!(out, ",{},{},{},", r.survey_version, r.scale, r.score);
    if let Some(n) = r.nps {
        let _ = write!(out, "{n}");
    }
    out.push_str(if r.suspected_repeat {
        ",true,"
    } else {
        ",false,"
    });
    csv_text(out, &r.reasons.join(";"));
    out.push(',');
    if let Some(c) = &r.comment {
        csv_text(out, c);
    }
    out.push_str("\r\n");
}

/// A file name of ASCII letters, digits and dashes.
fn file_name(sel: &Selection) -> String {
    let store = match &sel.store_name {
        None => "all-stores".to_owned(),
        Some(name) => {
            let mut slug = String::new();
            for c in name.chars().flat_map(char::to_lowercase) {
                if c.is_ascii_alphanumeric() {
                    slug.push(c);
                } else if !slug.ends_with('-') && !slug.is_empty() {
                    slug.push('-');
                }
            }
            let slug = slug
                .trim_end_matches('-')
                .chars()
                .take(40)
                .collect::<String>();
            if slug.is_empty() {
                "store".to_owned()
            } else {
                slug
            }
        }
    };
    format!("countertop-ratings-{store}-{}-{}.csv", sel.from, sel.to)
}

struct Pager {
    storage: Arc<dyn Storage>,
    ranges: Vec<StoreRange>,
    names: Arc<std::collections::HashMap<Uuid, String>>,
    after: Option<Uuid>,
    done: bool,
}

async fn next_chunk(mut p: Pager) -> Result<Option<(Bytes, Pager)>, StorageError> {
    if p.done {
        return Ok(None);
    }
    let rows = p.storage.export_page(&p.ranges, p.after, MAX_PAGE).await?;
    p.done = rows.len() < MAX_PAGE;
    let Some(last) = rows.last() else {
        return Ok(None);
    };
    p.after = Some(last.rating_id);
    let mut out = String::with_capacity(rows.len() * 160);
    for r in &rows {
        let store = p.names.get(&r.store_id).map_or("", String::as_str);
        csv_row(&mut out, r, store);
    }
    Ok(Some((Bytes::from(out), p)))
}

/// GET /export.csv
pub async fn csv(
    State(state): State<AppState>,
    viewer: Viewer,
    Query(q): Query<ExportParams>,
) -> Result<Response, WebError> {
    let sel = select(&state, &viewer, &q).await?;
    let name = file_name(&sel);
    let pager = Pager {
        storage: Arc::clone(&state.storage),
        ranges: sel.ranges,
        names: sel.names,
        after: None,
        done: false,
    };
    // A byte-order mark, so spreadsheet programs read the UTF-8 (Vietnamese) correctly.
    let head = futures_util::stream::once(async {
        Ok::<_, StorageError>(Bytes::from(format!("\u{feff}{CSV_HEADER}")))
    });
    let rows = futures_util::stream::try_unfold(pager, next_chunk);
    let body = Body::from_stream(futures_util::StreamExt::chain(head, rows));
    let disposition = HeaderValue::from_str(&format!("attachment; filename=\"{name}\""))
        .map_err(|e| WebError::Internal(e.to_string()))?;
    Ok((
        [
            (
                header::CONTENT_TYPE,
                HeaderValue::from_static("text/csv; charset=utf-8"),
            ),
            (header::CONTENT_DISPOSITION, disposition),
        ],
        body,
    )
        .into_response())
}

/// One rating of the JSON export.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct JsonRow {
    pub rating_id: Uuid,
    pub store_id: Uuid,
    /// The store's name.
    pub store: String,
    pub device_id: Uuid,
    pub occurred_at: chrono::DateTime<Utc>,
    pub local_date: NaiveDate,
    /// The hour of the day in the store's time zone, 0 to 23.
    pub local_hour: u8,
    pub touchpoint: String,
    pub survey_version: u32,
    /// 4 or 5: the faces the kiosk showed.
    pub faces: u8,
    /// 1 (unhappiest face) to `faces`.
    pub score: u8,
    /// 0 to 10, when the survey asked.
    pub nps: Option<u8>,
    /// A tap the kiosk thinks repeats the one before (kept, but left out of figures).
    pub suspected_repeat: bool,
    /// Reason chip slugs.
    pub reasons: Vec<String>,
    pub comment: Option<String>,
}

/// One page of the JSON export, oldest rating id first; ask again with `after=next`
/// until `next` is null.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct JsonPage {
    pub from: NaiveDate,
    pub to: NaiveDate,
    pub rows: Vec<JsonRow>,
    /// The `after` of the next page; null on the last.
    pub next: Option<Uuid>,
}

/// The most rows a JSON page holds.
pub const JSON_MAX_LIMIT: usize = MAX_PAGE;

/// One page of the JSON export: the rows of `ranges` after `after`, at most `limit`
/// (1 to [`MAX_PAGE`]). The one paging rule of the dashboard's and the API's JSON.
pub async fn json_page(
    storage: &dyn Storage,
    ranges: &[StoreRange],
    names: &std::collections::HashMap<Uuid, String>,
    (from, to): (NaiveDate, NaiveDate),
    after: Option<Uuid>,
    limit: usize,
) -> Result<JsonPage, StorageError> {
    let limit = limit.clamp(1, MAX_PAGE);
    // One row more than asked tells whether another page follows.
    let mut rows = storage
        .export_page(ranges, after, (limit + 1).min(MAX_PAGE))
        .await?;
    let more = rows.len() > limit;
    rows.truncate(limit);
    let next = if more || rows.len() == MAX_PAGE {
        rows.last().map(|r| r.rating_id)
    } else {
        None
    };
    let rows = rows
        .into_iter()
        .map(|r| JsonRow {
            store: names.get(&r.store_id).cloned().unwrap_or_default(),
            rating_id: r.rating_id,
            store_id: r.store_id,
            device_id: r.device_id,
            occurred_at: r.occurred_at,
            local_date: r.local_date,
            local_hour: r.local_hour,
            touchpoint: r.touchpoint,
            survey_version: r.survey_version,
            faces: r.scale,
            score: r.score,
            nps: r.nps,
            suspected_repeat: r.suspected_repeat,
            reasons: r.reasons,
            comment: r.comment,
        })
        .collect();
    Ok(JsonPage {
        from,
        to,
        rows,
        next,
    })
}

/// GET /export.json
pub async fn json(
    State(state): State<AppState>,
    viewer: Viewer,
    Query(q): Query<ExportParams>,
) -> Result<Json<JsonPage>, WebError> {
    let sel = select(&state, &viewer, &q).await?;
    let limit = match q.limit.as_deref().map(str::trim).filter(|s| !s.is_empty()) {
        None => JSON_DEFAULT_LIMIT,
        Some(s) => match s.parse::<usize>() {
            Ok(n) if (1..=MAX_PAGE).contains(&n) => n,
            _ => return Err(bad("limit is a number of rows from 1 to 5000.")),
        },
    };
    let after = match q.after.as_deref().map(str::trim).filter(|s| !s.is_empty()) {
        None => None,
        Some(s) => Some(
            Uuid::parse_str(s).map_err(|_| bad("after is the next value of the previous page."))?,
        ),
    };
    let page = json_page(
        state.storage.as_ref(),
        &sel.ranges,
        &sel.names,
        (sel.from, sel.to),
        after,
        limit,
    )
    .await?;
    Ok(Json(page))
}

#[derive(Template, WebTemplate)]
#[template(path = "export.html")]
pub struct ExportPage {
    pub l: Layout,
    pub stores: Vec<(Uuid, String)>,
    pub from: String,
    pub to: String,
}

/// GET /export: the form.
pub async fn page(State(state): State<AppState>, viewer: Viewer) -> Result<ExportPage, WebError> {
    let to = Utc::now().date_naive();
    let from = to - Duration::days(DEFAULT_DAYS - 1);
    Ok(ExportPage {
        l: Layout::new(&viewer),
        stores: viewer
            .stores_in_scope(&state)
            .await?
            .into_iter()
            .map(|s| (s.id, s.name))
            .collect(),
        from: from.to_string(),
        to: to.to_string(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cell(s: &str) -> String {
        let mut out = String::new();
        csv_text(&mut out, s);
        out
    }

    #[test]
    fn csv_cells_are_quoted_and_formulas_made_text() {
        assert_eq!(cell("plain"), "\"plain\"");
        assert_eq!(cell("say \"hi\""), "\"say \"\"hi\"\"\"");
        assert_eq!(
            cell("two\nlines, and a comma"),
            "\"two\nlines, and a comma\""
        );
        for f in ["=1+1", "+1", "-1", "@SUM(A1)", "\tx", "\rx"] {
            assert_eq!(cell(f), format!("\"'{}\"", f), "{f:?}");
        }
        assert_eq!(cell("a=b"), "\"a=b\"", "only a leading sign is a formula");
    }
}
