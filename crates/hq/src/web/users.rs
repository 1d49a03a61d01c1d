//! Accounts: the operations the CLI (`countertop-hq user ...`), the admins' users page
//! and the tests share, and the page itself (add with a one-time link to set the
//! password, change role and stores, disable and enable, issue a new link). Every change
//! on the page is audited.

use askama::Template;
use askama_web::WebTemplate;
use axum::extract::{Path, State};
use axum::http::{header, HeaderMap};
use axum::response::{IntoResponse, Redirect, Response};
use chrono::Utc;
use uuid::Uuid;

use super::auth::{self, check_new_password, Viewer};
use super::error::WebError;
use super::{audit, route, Access, Layout, Route, WebForm};
use crate::routes::AppState;
use crate::secrets::{self, RandomError};
use crate::storage::accounts::{Role, StoreSummary, UserRecord};
use crate::storage::{Storage, StorageError};

pub const ROUTES: &[Route] = &[
    route!(GET "/users", Access::Signed(Role::Admin), list),
    route!(POST "/users", Access::Signed(Role::Admin), add),
    route!(GET "/users/{user_id}", Access::Signed(Role::Admin), edit),
    route!(POST "/users/{user_id}", Access::Signed(Role::Admin), change),
    route!(POST "/users/{user_id}/disable", Access::Signed(Role::Admin), disable),
    route!(POST "/users/{user_id}/enable", Access::Signed(Role::Admin), enable),
    route!(POST "/users/{user_id}/link", Access::Signed(Role::Admin), new_link),
];

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
    #[error("You cannot disable your own account or take away your own admin role.")]
    OwnAccount,
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
            UserError::OwnAccount => {
                "You cannot disable your own account or take away your own admin role."
            }
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

/// Where set-password links point: the configured public URL, else this request's host.
fn base_url(state: &AppState, headers: &HeaderMap) -> String {
    if let Some(url) = &state.web.settings.public_url {
        return url.clone();
    }
    let host = headers
        .get(header::HOST)
        .and_then(|h| h.to_str().ok())
        .unwrap_or("localhost");
    let scheme = if state.web.secure { "https" } else { "http" };
    format!("{scheme}://{host}")
}

/// One account as the list shows it.
pub struct UserLine {
    pub id: Uuid,
    pub email: String,
    pub role: &'static str,
    pub stores: String,
    pub disabled: bool,
    pub has_password: bool,
}

/// A store checkbox.
pub struct StoreChoice {
    pub id: Uuid,
    pub name: String,
    pub checked: bool,
}

/// A role option.
pub struct RoleChoice {
    pub code: &'static str,
    pub label: &'static str,
    pub selected: bool,
}

fn role_label(role: Role) -> &'static str {
    match role {
        Role::Admin => "Administrator",
        Role::Manager => "Manager",
        Role::Viewer => "Viewer",
    }
}

fn role_choices(current: Role) -> Vec<RoleChoice> {
    Role::ALL
        .iter()
        .map(|r| RoleChoice {
            code: r.as_str(),
            label: role_label(*r),
            selected: *r == current,
        })
        .collect()
}

fn store_choices(stores: &[StoreSummary], checked: &[Uuid]) -> Vec<StoreChoice> {
    stores
        .iter()
        .map(|s| StoreChoice {
            id: s.id,
            name: s.name.clone(),
            checked: checked.contains(&s.id),
        })
        .collect()
}

fn line(u: &UserRecord, stores: &[StoreSummary], all_stores: &str) -> UserLine {
    UserLine {
        id: u.id,
        email: u.email.clone(),
        role: role_label(u.role),
        stores: if u.role == Role::Admin {
            all_stores.to_owned()
        } else {
            stores
                .iter()
                .filter(|s| u.stores.contains(&s.id))
                .map(|s| s.name.as_str())
                .collect::<Vec<_>>()
                .join(", ")
        },
        disabled: u.disabled,
        has_password: u.password_hash.is_some(),
    }
}

#[derive(Template, WebTemplate)]
#[template(path = "users.html")]
pub struct UsersPage {
    pub l: Layout,
    pub users: Vec<UserLine>,
    pub roles: Vec<RoleChoice>,
    pub stores: Vec<StoreChoice>,
    pub email: String,
    pub error: Option<&'static str>,
    /// A set-password link just issued, shown once.
    pub link: Option<(String, String)>,
}

async fn users_page(
    state: &AppState,
    viewer: &Viewer,
    form: Option<(&str, Role, &[Uuid])>,
    error: Option<&'static str>,
    link: Option<(String, String)>,
) -> Result<UsersPage, WebError> {
    let stores = state.storage.store_list().await?;
    let all = viewer.tr().t("All stores");
    let users = state
        .storage
        .users()
        .await?
        .iter()
        .map(|u| line(u, &stores, all))
        .collect();
    let (email, role, checked) = form.unwrap_or(("", Role::Manager, &[]));
    Ok(UsersPage {
        l: Layout::new(viewer),
        users,
        roles: role_choices(role),
        stores: store_choices(&stores, checked),
        email: email.to_owned(),
        error,
        link,
    })
}

/// GET /users
pub async fn list(State(state): State<AppState>, viewer: Viewer) -> Result<UsersPage, WebError> {
    users_page(&state, &viewer, None, None, None).await
}

/// The fields of the add and change forms: `email`, `role`, repeated `stores`.
struct AccountForm {
    email: String,
    role: Option<Role>,
    stores: Vec<Uuid>,
    bad_store: bool,
}

fn account_form(pairs: Vec<(String, String)>) -> AccountForm {
    let mut f = AccountForm {
        email: String::new(),
        role: None,
        stores: Vec::new(),
        bad_store: false,
    };
    for (k, v) in pairs {
        match k.as_str() {
            "email" => f.email = v.chars().take(300).collect(),
            "role" => f.role = v.parse().ok(),
            "stores" => match Uuid::parse_str(&v) {
                Ok(id) => f.stores.push(id),
                Err(_) => f.bad_store = true,
            },
            _ => {}
        }
    }
    f
}

fn page_error(e: UserError) -> Result<&'static str, WebError> {
    match e {
        UserError::Storage(e) => Err(WebError::Storage(e)),
        UserError::Random(e) => Err(WebError::Internal(e.to_string())),
        UserError::Internal(e) => Err(WebError::Internal(e)),
        other => Ok(other.msgid()),
    }
}

/// POST /users — add an account and show its set-password link once.
pub async fn add(
    State(state): State<AppState>,
    viewer: Viewer,
    headers: HeaderMap,
    WebForm(pairs): WebForm<Vec<(String, String)>>,
) -> Result<Response, WebError> {
    let f = account_form(pairs);
    let role = f.role.unwrap_or(Role::Manager);
    let fail = |msg| {
        users_page(
            &state,
            &viewer,
            Some((&f.email, role, &f.stores)),
            Some(msg),
            None,
        )
    };
    if f.role.is_none() {
        return Ok(fail("Choose a role.").await?.into_response());
    }
    if f.bad_store {
        return Ok(fail("One of the stores does not exist.")
            .await?
            .into_response());
    }
    let id = match add_user(state.storage.as_ref(), &f.email, role, &f.stores, None).await {
        Ok(id) => id,
        Err(e) => {
            let msg = page_error(e)?;
            return Ok(fail(msg).await?.into_response());
        }
    };
    audit::record(
        &state,
        Some(viewer.user_id),
        "user_added",
        None,
        Some(id.to_string()),
        &format!("role={role}"),
    )
    .await;
    let token = issue_password_link(
        state.storage.as_ref(),
        id,
        state.web.settings.password_link_valid,
    )
    .await
    .map_err(|e| WebError::Internal(e.to_string()))?;
    let url = password_link_url(&base_url(&state, &headers), &token);
    let email = normalize_email(&f.email).unwrap_or_default();
    Ok(users_page(&state, &viewer, None, None, Some((email, url)))
        .await?
        .into_response())
}

#[derive(Template, WebTemplate)]
#[template(path = "user.html")]
pub struct UserPage {
    pub l: Layout,
    pub user: UserLine,
    pub roles: Vec<RoleChoice>,
    pub stores: Vec<StoreChoice>,
    pub is_self: bool,
    pub error: Option<&'static str>,
    pub notice: Option<&'static str>,
    pub link: Option<String>,
}

async fn user_page(
    state: &AppState,
    viewer: &Viewer,
    id: Uuid,
    error: Option<&'static str>,
    notice: Option<&'static str>,
    link: Option<String>,
) -> Result<UserPage, WebError> {
    let user = state.storage.user(id).await?.ok_or(WebError::NotFound)?;
    let stores = state.storage.store_list().await?;
    let all = viewer.tr().t("All stores");
    Ok(UserPage {
        l: Layout::new(viewer),
        roles: role_choices(user.role),
        stores: store_choices(&stores, &user.stores),
        user: line(&user, &stores, all),
        is_self: user.id == viewer.user_id,
        error,
        notice,
        link,
    })
}

fn user_id(raw: &str) -> Result<Uuid, WebError> {
    Uuid::parse_str(raw).map_err(|_| WebError::NotFound)
}

/// GET /users/{user_id}
pub async fn edit(
    State(state): State<AppState>,
    viewer: Viewer,
    Path(raw): Path<String>,
) -> Result<UserPage, WebError> {
    user_page(&state, &viewer, user_id(&raw)?, None, None, None).await
}

/// POST /users/{user_id} — change role and stores.
pub async fn change(
    State(state): State<AppState>,
    viewer: Viewer,
    Path(raw): Path<String>,
    WebForm(pairs): WebForm<Vec<(String, String)>>,
) -> Result<Response, WebError> {
    let id = user_id(&raw)?;
    let f = account_form(pairs);
    let Some(role) = f.role else {
        return Ok(
            user_page(&state, &viewer, id, Some("Choose a role."), None, None)
                .await?
                .into_response(),
        );
    };
    let result = if f.bad_store {
        Err(UserError::NoSuchStore(Uuid::nil()))
    } else if id == viewer.user_id && role != Role::Admin {
        Err(UserError::OwnAccount)
    } else {
        change_user(state.storage.as_ref(), id, role, &f.stores).await
    };
    match result {
        Ok(()) => {
            audit::record(
                &state,
                Some(viewer.user_id),
                "user_changed",
                None,
                Some(id.to_string()),
                &format!("role={role} stores={}", f.stores.len()),
            )
            .await;
            Ok(Redirect::to(&format!("/users/{id}")).into_response())
        }
        Err(UserError::NoSuchUser) => Err(WebError::NotFound),
        Err(e) => {
            let msg = page_error(e)?;
            Ok(user_page(&state, &viewer, id, Some(msg), None, None)
                .await?
                .into_response())
        }
    }
}

async fn set_disabled(
    state: &AppState,
    viewer: &Viewer,
    raw: &str,
    disabled: bool,
) -> Result<Response, WebError> {
    let id = user_id(raw)?;
    if id == viewer.user_id && disabled {
        return Ok(user_page(
            state,
            viewer,
            id,
            Some(UserError::OwnAccount.msgid()),
            None,
            None,
        )
        .await?
        .into_response());
    }
    if !state.storage.set_user_disabled(id, disabled).await? {
        return Err(WebError::NotFound);
    }
    let action = if disabled {
        "user_disabled"
    } else {
        "user_enabled"
    };
    audit::record(
        state,
        Some(viewer.user_id),
        action,
        None,
        Some(id.to_string()),
        "",
    )
    .await;
    Ok(Redirect::to(&format!("/users/{id}")).into_response())
}

/// POST /users/{user_id}/disable — its sessions stop working at once.
pub async fn disable(
    State(state): State<AppState>,
    viewer: Viewer,
    Path(raw): Path<String>,
) -> Result<Response, WebError> {
    set_disabled(&state, &viewer, &raw, true).await
}

/// POST /users/{user_id}/enable
pub async fn enable(
    State(state): State<AppState>,
    viewer: Viewer,
    Path(raw): Path<String>,
) -> Result<Response, WebError> {
    set_disabled(&state, &viewer, &raw, false).await
}

/// POST /users/{user_id}/link — a new one-time link to (re)set the password.
pub async fn new_link(
    State(state): State<AppState>,
    viewer: Viewer,
    headers: HeaderMap,
    Path(raw): Path<String>,
) -> Result<Response, WebError> {
    let id = user_id(&raw)?;
    let token = match issue_password_link(
        state.storage.as_ref(),
        id,
        state.web.settings.password_link_valid,
    )
    .await
    {
        Ok(t) => t,
        Err(UserError::NoSuchUser) => return Err(WebError::NotFound),
        Err(e) => return Err(WebError::Internal(e.to_string())),
    };
    audit::record(
        &state,
        Some(viewer.user_id),
        "password_link",
        None,
        Some(id.to_string()),
        "",
    )
    .await;
    let url = password_link_url(&base_url(&state, &headers), &token);
    Ok(user_page(
        &state,
        &viewer,
        id,
        None,
        Some("A new link is ready. Send it to the person; it works once."),
        Some(url),
    )
    .await?
    .into_response())
}
