//! `GET /export/ratings`: the dashboard's JSON export (ratings with their reasons and
//! comments, paged) for BI tools, which hold an API token rather than a browser session.
//! An API token is head office's, like `/reports`: it sees the whole chain, and a store
//! that does not exist is a 404. The rows and the paging are the dashboard's own
//! ([`crate::web::export::json_page`]), so both answer the same.

use std::collections::HashMap;

use axum::extract::State;
use axum::Json;
use countertop_protocol::ErrorBody;
use serde::Deserialize;
use utoipa::IntoParams;
use uuid::Uuid;

use super::reports::date_range;
use super::{existing_store, ApiAuth, ApiQuery, AppState};
use crate::error::ApiError;
use crate::storage::analytics::StoreRange;
use crate::web::export::{json_page, JsonPage, JSON_DEFAULT_LIMIT, JSON_MAX_LIMIT};

/// Which ratings, and which page of them.
#[derive(Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct ExportParams {
    /// First local date, inclusive (YYYY-MM-DD, in each store's time zone).
    #[param(value_type = chrono::NaiveDate)]
    from: String,
    /// Last local date, inclusive; on or after `from`, at most 1,098 days later.
    #[param(value_type = chrono::NaiveDate)]
    to: String,
    /// Only this store (404 `unknown_store` if there is none); every store without it.
    #[param(value_type = Uuid, required = false, nullable = false)]
    store: Option<Uuid>,
    /// The `next` of the previous page; absent for the first page.
    #[param(value_type = Uuid, required = false, nullable = false)]
    after: Option<Uuid>,
    /// Rows per page, 1 to 5,000 (1,000 without it).
    #[param(value_type = u32, required = false, nullable = false, minimum = 1, maximum = 5000)]
    limit: Option<u64>,
}

/// Ratings with their reasons and comments, one page at a time, in rating id order:
/// ask again with `after` set to the answer's `next` until `next` is null. Pages are
/// stable: ratings that arrive meanwhile come on later pages or not at all, never twice.
#[utoipa::path(
    get,
    path = "/export/ratings",
    tag = "reports",
    security(("api_token" = [])),
    params(ExportParams),
    responses(
        (status = 200, description = "One page of ratings", body = JsonPage),
        (status = 400, description = "`bad_query` (a parameter that does not parse, or `limit` outside 1 to 5,000), `bad_date`, or `bad_date_range`: `to` before `from` or more than 1,098 days after it", body = ErrorBody),
        (status = 401, description = "Missing, unknown or revoked API token", body = ErrorBody),
        (status = 404, description = "`unknown_store`: `store` names no store", body = ErrorBody),
        (status = 503, description = "`storage_unavailable` or `timeout`: retry later", body = ErrorBody),
    )
)]
pub async fn ratings(
    State(state): State<AppState>,
    _: ApiAuth,
    ApiQuery(p): ApiQuery<ExportParams>,
) -> Result<Json<JsonPage>, ApiError> {
    let (from, to) = date_range(&p.from, &p.to)?;
    let limit = match p.limit {
        None => JSON_DEFAULT_LIMIT,
        Some(n) if (1..=JSON_MAX_LIMIT as u64).contains(&n) => n as usize,
        Some(_) => {
            return Err(ApiError::bad_request(
                "bad_query",
                format!("limit is a number of rows from 1 to {JSON_MAX_LIMIT}"),
            ))
        }
    };
    let stores: Vec<(Uuid, String)> = match p.store {
        Some(id) => {
            let s = existing_store(&state, id).await?;
            vec![(s.id, s.name)]
        }
        None => state
            .storage
            .store_list()
            .await?
            .into_iter()
            .map(|s| (s.id, s.name))
            .collect(),
    };
    let ranges: Vec<StoreRange> = stores
        .iter()
        .map(|(id, _)| StoreRange {
            store_id: *id,
            from,
            to,
        })
        .collect();
    let names: HashMap<Uuid, String> = stores.into_iter().collect();
    let page = json_page(
        state.storage.as_ref(),
        &ranges,
        &names,
        (from, to),
        p.after,
        limit,
    )
    .await?;
    Ok(Json(page))
}
