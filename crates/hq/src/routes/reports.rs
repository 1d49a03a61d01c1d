//! `GET /reports` (ratings) and `GET /reports/regulars` (counts about regulars) over a
//! range of local dates, for head office's API token.

use axum::extract::State;
use axum::Json;
use chrono::NaiveDate;
use countertop_protocol::ErrorBody;
use serde::{Deserialize, Serialize};
use utoipa::IntoParams;
use uuid::Uuid;

use super::{existing_store, ApiAuth, ApiQuery, AppState};
use crate::error::ApiError;
use crate::reports::{sort_groups, Group, Report, Summary};
use crate::storage::{GroupBy, RegularsReportQuery, RegularsTally, ReportQuery, Tally};

/// Longest date range one report may cover.
const MAX_REPORT_DAYS: i64 = 366 * 3;

/// Which ratings to report on.
#[derive(Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct ReportParams {
    /// First local date, inclusive (YYYY-MM-DD, in each store's time zone).
    #[param(value_type = NaiveDate)]
    from: String,
    /// Last local date, inclusive; on or after `from`, at most 1,098 days later.
    #[param(value_type = NaiveDate)]
    to: String,
    /// Only this store (404 `unknown_store` if there is none).
    #[param(value_type = Uuid, required = false, nullable = false)]
    store: Option<Uuid>,
    /// Also split the figures by this.
    #[param(value_type = GroupBy, required = false, nullable = false)]
    group_by: Option<GroupBy>,
    /// Count suspected repeat taps too.
    #[serde(default)]
    include_repeats: bool,
}

/// Parse and check a report's local date range.
pub(crate) fn date_range(from: &str, to: &str) -> Result<(NaiveDate, NaiveDate), ApiError> {
    let date = |s: &str| {
        NaiveDate::parse_from_str(s, "%Y-%m-%d").map_err(|_| {
            ApiError::bad_request(
                "bad_date",
                "dates must be YYYY-MM-DD, in the store's time zone",
            )
        })
    };
    let (from, to) = (date(from)?, date(to)?);
    if to < from || (to - from).num_days() > MAX_REPORT_DAYS {
        return Err(ApiError::bad_request(
            "bad_date_range",
            format!("'to' must be on or after 'from', at most {MAX_REPORT_DAYS} days later"),
        ));
    }
    Ok((from, to))
}

/// 404 `unknown_store` for a store filter that names no store.
async fn check_store(state: &AppState, store: Option<Uuid>) -> Result<(), ApiError> {
    if let Some(id) = store {
        existing_store(state, id).await?;
    }
    Ok(())
}

/// Count, CSAT %, average, score distribution and NPS over a range of local dates.
#[utoipa::path(
    get,
    path = "/reports",
    tag = "reports",
    security(("api_token" = [])),
    params(ReportParams),
    responses(
        (status = 200, description = "The total, and one group per key when `group_by` is given", body = Report),
        (status = 400, description = "`bad_query`, `bad_date`, or `bad_date_range`: a range the schema allows but HQ refuses, because `to` is before `from` or more than 1,098 days after it", body = ErrorBody),
        (status = 401, description = "Missing, unknown or revoked API token", body = ErrorBody),
        (status = 404, description = "`unknown_store`: `store` names no store", body = ErrorBody),
        (status = 503, description = "`storage_unavailable` or `timeout`: retry later", body = ErrorBody),
    )
)]
pub async fn ratings(
    State(state): State<AppState>,
    _: ApiAuth,
    ApiQuery(p): ApiQuery<ReportParams>,
) -> Result<Json<Report>, ApiError> {
    let (from, to) = date_range(&p.from, &p.to)?;
    check_store(&state, p.store).await?;
    let mut q = ReportQuery {
        from,
        to,
        store_id: p.store,
        group_by: None,
        include_repeats: p.include_repeats,
    };
    let total = state.storage.report(&q).await?;
    let total = total.first().cloned().unwrap_or_default();
    let mut groups = Vec::new();
    if p.group_by.is_some() {
        q.group_by = p.group_by;
        groups = state
            .storage
            .report(&q)
            .await?
            .iter()
            .map(|t: &Tally| Group {
                key: t.key.clone(),
                summary: Summary::from(t),
            })
            .collect();
        sort_groups(p.group_by, &mut groups);
    }
    Ok(Json(Report {
        from,
        to,
        store_id: p.store,
        group_by: p.group_by,
        include_repeats: p.include_repeats,
        total: Summary::from(&total),
        groups,
    }))
}

/// Which range the regulars report covers.
#[derive(Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct RegularsReportParams {
    /// First local date, inclusive (YYYY-MM-DD).
    #[param(value_type = NaiveDate)]
    from: String,
    /// Last local date, inclusive; on or after `from`, at most 1,098 days later.
    #[param(value_type = NaiveDate)]
    to: String,
    /// Only this store (404 `unknown_store` if there is none).
    #[param(value_type = Uuid, required = false, nullable = false)]
    store: Option<Uuid>,
}

/// The regulars report: counts only, never a name or a phone.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct RegularsReport {
    from: NaiveDate,
    to: NaiveDate,
    #[serde(skip_serializing_if = "Option::is_none")]
    store_id: Option<Uuid>,
    #[serde(flatten)]
    tally: RegularsTally,
}

/// Counts about regulars, no personal data: regulars, new, visits, unhappy visits,
/// erasures.
#[utoipa::path(
    get,
    path = "/reports/regulars",
    tag = "reports",
    security(("api_token" = [])),
    params(RegularsReportParams),
    responses(
        (status = 200, description = "Counts", body = RegularsReport),
        (status = 400, description = "`bad_query`, `bad_date`, or `bad_date_range`: a range the schema allows but HQ refuses, because `to` is before `from` or more than 1,098 days after it", body = ErrorBody),
        (status = 401, description = "Missing, unknown or revoked API token", body = ErrorBody),
        (status = 404, description = "`unknown_store`: `store` names no store", body = ErrorBody),
        (status = 503, description = "`storage_unavailable` or `timeout`: retry later", body = ErrorBody),
    )
)]
pub async fn regulars(
    State(state): State<AppState>,
    _: ApiAuth,
    ApiQuery(p): ApiQuery<RegularsReportParams>,
) -> Result<Json<RegularsReport>, ApiError> {
    let (from, to) = date_range(&p.from, &p.to)?;
    check_store(&state, p.store).await?;
    let tally = state
        .storage
        .regulars_report(&RegularsReportQuery {
            from,
            to,
            store_id: p.store,
        })
        .await?;
    Ok(Json(RegularsReport {
        from,
        to,
        store_id: p.store,
        tally,
    }))
}
