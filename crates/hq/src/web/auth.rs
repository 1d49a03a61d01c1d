//! Who is asking: password hashes (argon2id), the [`Viewer`] extractor every signed-in
//! page takes, and the one scope check ([`Viewer::store`], [`Viewer::stores_in_scope`])
//! that pages, exports and JSON routes go through. A store outside the viewer's scope and
//! a store that does not exist get the same 404.

use std::sync::LazyLock;

use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
use argon2::Argon2;
use axum::extract::FromRequestParts;
use axum::http::request::Parts;
use axum::http::Method;
use tower_sessions::Session;
use uuid::Uuid;

use super::error::WebError;
use super::i18n::{Lang, Tr};
use crate::routes::AppState;
use crate::secrets;
use crate::storage::accounts::{Role, StoreSummary, UserRecord};
use crate::storage::StoreRecord;

/// Session keys.
pub(super) const USER_KEY: &str = "user_id";
pub(super) const CSRF_KEY: &str = "csrf";

/// Passwords shorter than this are refused.
pub const MIN_PASSWORD_CHARS: usize = 10;
/// And longer than this (hashing cost is bounded).
pub const MAX_PASSWORD_CHARS: usize = 200;

/// Hash a password with argon2id (default parameters: 19 MiB, 2 passes), off the async
/// threads.
pub async fn hash_password(password: &str) -> Result<String, WebError> {
    let password = password.to_owned();
    tokio::task::spawn_blocking(move || hash_password_now(&password))
        .await
        .map_err(|e| WebError::Internal(e.to_string()))?
}

fn hash_password_now(password: &str) -> Result<String, WebError> {
    let mut salt = [0u8; 16];
    getrandom::fill(&mut salt).map_err(|e| WebError::Internal(e.to_string()))?;
    let salt = SaltString::encode_b64(&salt).map_err(|e| WebError::Internal(e.to_string()))?;
    Argon2::default()
        .hash_password(password.as_bytes(), &salt)
        .map(|h| h.to_string())
        .map_err(|e| WebError::Internal(e.to_string()))
}

/// A hash of a random password, checked when the account is unknown (or has no
/// password), so a wrong email costs the same time as a wrong password.
static DECOY_HASH: LazyLock<String> = LazyLock::new(|| {
    let random = secrets::new_token().unwrap_or_else(|_| "decoy".repeat(8));
    hash_password_now(&random).unwrap_or_default()
});

/// Check `password` against `hash` (or the decoy when `None`), off the async threads.
/// Always does one argon2 verification.
pub async fn verify_password(password: &str, hash: Option<&str>) -> bool {
    let password = password.to_owned();
    let (hash, real) = match hash {
        Some(h) => (h.to_owned(), true),
        None => (DECOY_HASH.clone(), false),
    };
    tokio::task::spawn_blocking(move || {
        let ok = PasswordHash::new(&hash)
            .map(|parsed| {
                Argon2::default()
                    .verify_password(password.as_bytes(), &parsed)
                    .is_ok()
            })
            .unwrap_or(false);
        ok && real
    })
    .await
    .unwrap_or(false)
}

/// Warm the decoy hash at start-up, so the first unknown-account login is not faster.
pub fn prepare_decoy() {
    LazyLock::force(&DECOY_HASH);
}

/// Whether a new password is acceptable; the msgid of the problem otherwise.
pub fn check_new_password(password: &str, confirm: &str) -> Result<(), &'static str> {
    let n = password.chars().count();
    if n < MIN_PASSWORD_CHARS {
        return Err("The password needs at least 10 characters.");
    }
    if n > MAX_PASSWORD_CHARS {
        return Err("The password may have at most 200 characters.");
    }
    if password != confirm {
        return Err("The two passwords differ.");
    }
    Ok(())
}

/// Which stores a signed-in account sees.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Scope {
    /// Every store (admins).
    Chain,
    /// Only these (managers and viewers).
    Stores(Vec<Uuid>),
}

impl Scope {
    pub fn contains(&self, store: Uuid) -> bool {
        match self {
            Scope::Chain => true,
            Scope::Stores(ids) => ids.contains(&store),
        }
    }

    /// The store ids to filter by, `None` for the whole chain.
    pub fn store_ids(&self) -> Option<&[Uuid]> {
        match self {
            Scope::Chain => None,
            Scope::Stores(ids) => Some(ids),
        }
    }
}

/// The signed-in account of this request. Take it as an argument and the handler only
/// runs for a valid session of an enabled account (others are sent to `/login`).
#[derive(Debug, Clone)]
pub struct Viewer {
    pub user_id: Uuid,
    pub email: String,
    pub role: Role,
    pub scope: Scope,
    pub lang: Lang,
    /// The session's CSRF token, for the hidden field of every form.
    pub csrf: String,
    /// The path of this request (for the nav and the language switch).
    pub path: String,
}

impl Viewer {
    pub fn tr(&self) -> Tr {
        Tr(self.lang)
    }

    pub fn is_admin(&self) -> bool {
        self.role == Role::Admin
    }

    /// Managers and admins act; viewers only read.
    pub fn can_edit(&self) -> bool {
        self.role >= Role::Manager
    }

    /// The store, if it exists and is in scope; 404 otherwise (the same answer for both).
    pub async fn store(&self, state: &AppState, id: Uuid) -> Result<StoreRecord, WebError> {
        if !self.scope.contains(id) {
            return Err(WebError::NotFound);
        }
        state.storage.store(id).await?.ok_or(WebError::NotFound)
    }

    /// The stores this account sees, by name.
    pub async fn stores_in_scope(&self, state: &AppState) -> Result<Vec<StoreSummary>, WebError> {
        let all = state.storage.store_list().await?;
        Ok(all
            .into_iter()
            .filter(|s| self.scope.contains(s.id))
            .collect())
    }
}

/// The scope an account has.
pub fn scope_of(user: &UserRecord) -> Scope {
    match user.role {
        Role::Admin => Scope::Chain,
        Role::Manager | Role::Viewer => Scope::Stores(user.stores.clone()),
    }
}

/// Where to come back after signing in: the request's path and query for a GET, the
/// overview otherwise.
fn next_of(parts: &Parts) -> String {
    if parts.method == Method::GET {
        parts
            .uri
            .path_and_query()
            .map(|p| p.as_str().to_owned())
            .unwrap_or_else(|| "/".to_owned())
    } else {
        "/".to_owned()
    }
}

/// The session of this request (the session layer always provides one).
pub fn session_of(parts: &Parts) -> Result<Session, WebError> {
    parts
        .extensions
        .get::<Session>()
        .cloned()
        .ok_or_else(|| WebError::Internal("the session layer is missing".into()))
}

fn session_err(e: tower_sessions::session::Error) -> WebError {
    WebError::Internal(format!("session: {e}"))
}

/// Build the [`Viewer`] from the session, or refuse with a redirect to `/login`.
pub async fn authenticate(parts: &Parts, state: &AppState) -> Result<Viewer, WebError> {
    let login = || WebError::LoginRequired {
        next: next_of(parts),
    };
    let session = session_of(parts)?;
    let Some(user_id) = session.get::<Uuid>(USER_KEY).await.map_err(session_err)? else {
        return Err(login());
    };
    let user = match state.storage.user(user_id).await? {
        Some(u) if !u.disabled => u,
        _ => {
            session.flush().await.map_err(session_err)?;
            return Err(login());
        }
    };
    let Some(csrf) = session.get::<String>(CSRF_KEY).await.map_err(session_err)? else {
        session.flush().await.map_err(session_err)?;
        return Err(login());
    };
    let lang = user
        .lang
        .as_deref()
        .and_then(Lang::from_code)
        .unwrap_or_else(|| Lang::from_headers(&parts.headers));
    Ok(Viewer {
        user_id: user.id,
        scope: scope_of(&user),
        role: user.role,
        email: user.email,
        lang,
        csrf,
        path: parts.uri.path().to_owned(),
    })
}

/// Start a signed-in session for `user`: a new session id (the old one, if any, is
/// deleted), a new CSRF token.
pub async fn sign_in(session: &Session, user: Uuid) -> Result<(), WebError> {
    session.cycle_id().await.map_err(session_err)?;
    session.clear().await;
    session.insert(USER_KEY, user).await.map_err(session_err)?;
    let token = secrets::new_token().map_err(|e| WebError::Internal(e.to_string()))?;
    session.insert(CSRF_KEY, token).await.map_err(session_err)?;
    Ok(())
}

/// End the session: its row is deleted and the cookie removed.
pub async fn sign_out(session: &Session) -> Result<(), WebError> {
    session.flush().await.map_err(session_err)
}

impl FromRequestParts<AppState> for Viewer {
    type Rejection = WebError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, WebError> {
        // The route guard has usually authenticated already.
        if let Some(v) = parts.extensions.get::<Viewer>() {
            return Ok(v.clone());
        }
        authenticate(parts, state).await
    }
}

/// The store named by the path's `{store_id}`, already checked against the viewer's
/// scope by the route guard (routes whose path has `{store_id}` get it).
#[derive(Debug, Clone)]
pub struct ScopedStore(pub StoreRecord);

impl FromRequestParts<AppState> for ScopedStore {
    type Rejection = WebError;

    async fn from_request_parts(parts: &mut Parts, _: &AppState) -> Result<Self, WebError> {
        parts
            .extensions
            .get::<ScopedStore>()
            .cloned()
            .ok_or_else(|| {
                WebError::Internal("ScopedStore used on a route without {store_id}".into())
            })
    }
}
