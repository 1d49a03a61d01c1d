//! The operator's actions, shared by the CLI and the tests: add a store, issue a
//! one-time enrollment code, create an API token. Secrets are returned once, and only
//! their hashes are stored.

use chrono::{Duration, Utc};
use uuid::Uuid;

use crate::secrets::{self, RandomError};
use crate::storage::{RegularsScope, Storage, StorageError};

/// Why an operator action failed.
#[derive(Debug, thiserror::Error)]
pub enum AdminError {
    #[error(
        "{0:?} is not an IANA time zone; use a name such as Asia/Ho_Chi_Minh or Europe/London"
    )]
    BadTimezone(String),
    #[error("the store name must not be empty")]
    EmptyName,
    #[error("no store with id {0}; add one with 'countertop-hq store add'")]
    NoSuchStore(Uuid),
    #[error(transparent)]
    Random(#[from] RandomError),
    #[error(transparent)]
    Storage(#[from] StorageError),
}

/// Add a store, with the demo survey under its own name. Returns its id.
pub async fn add_store(
    storage: &dyn Storage,
    name: &str,
    timezone: &str,
) -> Result<Uuid, AdminError> {
    let name = name.trim();
    if name.is_empty() {
        return Err(AdminError::EmptyName);
    }
    if timezone.parse::<chrono_tz::Tz>().is_err() {
        return Err(AdminError::BadTimezone(timezone.to_owned()));
    }
    Ok(storage.create_store(name, timezone).await?)
}

/// Issue a one-time enrollment code for `store`, valid for `valid_for`.
pub async fn issue_enroll_code(
    storage: &dyn Storage,
    store: Uuid,
    valid_for: Duration,
) -> Result<String, AdminError> {
    if storage.store(store).await?.is_none() {
        return Err(AdminError::NoSuchStore(store));
    }
    let code = secrets::new_enroll_code()?;
    let hash = secrets::hash_secret(&secrets::normalize_enroll_code(&code));
    storage
        .create_enroll_code(store, &hash, Utc::now() + valid_for)
        .await?;
    Ok(code)
}

/// Create an API token. Returns its id and the token itself.
pub async fn issue_api_token(
    storage: &dyn Storage,
    name: &str,
) -> Result<(Uuid, String), AdminError> {
    let token = secrets::new_token()?;
    let id = storage
        .create_api_token(name, &secrets::hash_secret(&token))
        .await?;
    Ok((id, token))
}

/// Set who sees a store's regulars: its own kiosks only (`store`), or every `chain`-scoped
/// store's kiosks (`chain`).
pub async fn set_regulars_scope(
    storage: &dyn Storage,
    store: Uuid,
    scope: RegularsScope,
) -> Result<(), AdminError> {
    match storage.set_regulars_scope(store, scope).await {
        Err(StorageError::NoSuchStore(id)) => Err(AdminError::NoSuchStore(id)),
        other => Ok(other?),
    }
}
