//! Accounts: the operations the CLI (`countertop-hq user ...`), the admins' users page
//! and the tests share, and the page itself (add with a one-time link to set the
//! password, change role and stores, disable and enable, issue a new link). Every change
//! on the page is audited.

use chrono::Utc;
use uuid::Uuid;

use super::auth::{self, check_new_password};
use super::Route;
use crate::secrets::{self, RandomError};
use crate::storage::accounts::Role;
use crate::storage::{Storage, StorageError};

pub const ROUTES: &[Route] = &[];

/// Why an account operation failed; each message is also an English msgid.
#[derive(Debug, thiserror::Error)]
pub enum UserError {
    #[error("This is not an email address.")]
    BadEmail,
    #[error("An account with this email exists already.")]
    EmailTaken,
    #[error("A manager or viewer needs at least one store.")]
    NoStores,
    #[error("One of the stores does not exist.")]
    NoSuchStore(Uuid),
    #[error("No such account.")]
    NoSuchUser,
    #[error("{0}")]
    BadPassword(&'static str),
    #[error(transparent)]
    Random(#[from] RandomError),
    #[error(transparent)]
    Storage(StorageError),
    #[error("{0}")]
    Internal(String),
}

impl From<StorageError> for UserError {
    fn from(e: StorageError) -> UserError {
        match e {
            StorageError::NoSuchStore(id) => UserError::NoSuchStore(id),
            other => UserError::Storage(other),
        }
    }
}

impl UserError {
    /// The msgid to show on a page.
    pub fn msgid(&self) -> &'static str {
        match self {
            UserError::BadEmail => "This is not an email address.",
            UserError::EmailTaken => "An account with this email exists already.",
            UserError::NoStores => "A manager or viewer needs at least one store.",
            UserError::NoSuchStore(_) => "One of the stores does not exist.",
            UserError::NoSuchUser => "No such account.",
            UserError::BadPassword(m) => m,
            UserError::Random(_) | UserError::Storage(_) | UserError::Internal(_) => {
                "Something went wrong on the server. Nothing was changed; try again in a moment."
            }
        }
    }
}

/// An email as accounts keep it: trimmed, lower-cased, plausible.
pub fn normalize_email(email: &str) -> Result<String, UserError> {
    let email = email.trim().to_lowercase();
    let valid = email.len() <= 254
        && !email.chars().any(|c| c.is_whitespace() || c.is_control())
        && matches!(email.split_once('@'), Some((local, domain))
            if !local.is_empty() && !domain.is_empty() && !domain.contains('@'));
    if valid {
        Ok(email)
    } else {
        Err(UserError::BadEmail)
    }
}

fn check_scope(role: Role, stores: &[Uuid]) -> Result<Vec<Uuid>, UserError> {
    let mut stores = stores.to_vec();
    stores.sort();
    stores.dedup();
    if role != Role::Admin && stores.is_empty() {
        return Err(UserError::NoStores);
    }
    Ok(stores)
}

/// Create an account, with a password (checked) or none yet (then issue a link).
pub async fn add_user(
    storage: &dyn Storage,
    email: &str,
    role: Role,
    stores: &[Uuid],
    password: Option<&str>,
) -> Result<Uuid, UserError> {
    let email = normalize_email(email)?;
    let stores = check_scope(role, stores)?;
    let hash = match password {
        Some(p) => {
            check_new_password(p, p).map_err(UserError::BadPassword)?;
            Some(
                auth::hash_password(p)
                    .await
                    .map_err(|e| UserError::Internal(e.to_string()))?,
            )
        }
        None => None,
    };
    storage
        .create_user(&email, role, &stores, hash.as_deref())
        .await?
        .ok_or(UserError::EmailTaken)
}

/// Change an account's role and stores.
pub async fn change_user(
    storage: &dyn Storage,
    id: Uuid,
    role: Role,
    stores: &[Uuid],
) -> Result<(), UserError> {
    let stores = check_scope(role, stores)?;
    if storage.update_user(id, role, &stores).await? {
        Ok(())
    } else {
        Err(UserError::NoSuchUser)
    }
}

/// Issue a one-time link token for setting the password, valid for `valid`. Returns
/// the token (only its hash is kept).
pub async fn issue_password_link(
    storage: &dyn Storage,
    user: Uuid,
    valid: std::time::Duration,
) -> Result<String, UserError> {
    if storage.user(user).await?.is_none() {
        return Err(UserError::NoSuchUser);
    }
    let token = secrets::new_token()?;
    let valid = chrono::Duration::from_std(valid).unwrap_or(chrono::Duration::hours(72));
    storage
        .create_password_link(user, &secrets::hash_secret(&token), Utc::now() + valid)
        .await?;
    Ok(token)
}

/// The full set-password URL for a token.
pub fn password_link_url(base_url: &str, token: &str) -> String {
    format!(
        "{}/set-password?token={token}",
        base_url.trim_end_matches('/')
    )
}
