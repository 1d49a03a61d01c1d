//! Helpers for the dashboard's black-box tests: a browser-like client (cookie jar, no
//! automatic redirects, `Origin` on posts), accounts of each role, signing in, and the
//! CSRF token of a page's form.

use countertop_hq::storage::accounts::Role;
use countertop_hq::web::users;
use uuid::Uuid;

use super::TestApp;

/// The password every test account gets.
pub const PASSWORD: &str = "correct horse battery";

/// A browser: keeps cookies, does not follow redirects, sends `Origin` on posts.
pub struct WebClient {
    pub http: reqwest::Client,
    pub base: String,
    /// The CSRF token of the last page fetched with a form (see [`WebClient::get`]).
    pub csrf: Option<String>,
}

impl WebClient {
    pub fn new(app: &TestApp) -> WebClient {
        WebClient::for_base(&app.address)
    }

    pub fn for_base(base: &str) -> WebClient {
        WebClient {
            http: reqwest::Client::builder()
                .cookie_store(true)
                .redirect(reqwest::redirect::Policy::none())
                .build()
                .expect("client"),
            base: base.to_owned(),
            csrf: None,
        }
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    /// GET, remembering the CSRF token if the page has a form.
    pub async fn get(&mut self, path: &str) -> (u16, String) {
        let resp = self
            .http
            .get(self.url(path))
            .header("accept", "text/html")
            .send()
            .await
            .expect("GET sent");
        let status = resp.status().as_u16();
        let body = resp.text().await.expect("body");
        if let Some(token) = csrf_of(&body) {
            self.csrf = Some(token);
        }
        (status, body)
    }

    /// POST a form with the remembered CSRF token and this site's `Origin`.
    pub async fn post(&self, path: &str, fields: &[(&str, &str)]) -> reqwest::Response {
        let mut form: Vec<(String, String)> = fields
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        if let Some(token) = &self.csrf {
            form.push(("csrf".into(), token.clone()));
        }
        self.post_raw(path, &form, Some(&self.base)).await
    }

    /// POST exactly these fields, with this `Origin` (or none).
    pub async fn post_raw(
        &self,
        path: &str,
        form: &[(String, String)],
        origin: Option<&str>,
    ) -> reqwest::Response {
        let mut req = self.http.post(self.url(path)).form(form);
        if let Some(origin) = origin {
            req = req.header("origin", origin);
        }
        req.send().await.expect("POST sent")
    }
}

/// The value of the first `name="csrf"` hidden field of a page.
pub fn csrf_of(html: &str) -> Option<String> {
    let i = html.find("name=\"csrf\" value=\"")?;
    let rest = &html[i + "name=\"csrf\" value=\"".len()..];
    let end = rest.find('"')?;
    Some(rest[..end].to_owned()).filter(|t| !t.is_empty())
}

/// Where a redirect points.
pub fn location(resp: &reqwest::Response) -> String {
    resp.headers()
        .get("location")
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
        .to_owned()
}

impl TestApp {
    /// Stop this HQ's server (its database stays, for a restart on it).
    pub fn stop_server(&mut self) {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
    }

    /// A new account with [`PASSWORD`]; returns its id and email.
    pub async fn user_of_role(&self, role: Role, stores: &[Uuid]) -> (Uuid, String) {
        let email = format!("{}-{}@example.org", role, Uuid::now_v7().simple());
        let id = users::add_user(self.storage.as_ref(), &email, role, stores, Some(PASSWORD))
            .await
            .expect("user added");
        (id, email)
    }

    /// Sign in through the form; panics unless it works.
    pub async fn login(&self, email: &str, password: &str) -> WebClient {
        let mut client = WebClient::new(self);
        let resp = login_attempt(&mut client, email, password).await;
        assert_eq!(resp.status(), 303, "sign-in of {email} failed");
        let (status, _) = client.get("/").await;
        assert_eq!(status, 200, "the overview after signing in");
        client
    }

    /// A signed-in client of a new account of `role` scoped to `stores`.
    pub async fn signed_in(&self, role: Role, stores: &[Uuid]) -> (Uuid, WebClient) {
        let (id, email) = self.user_of_role(role, stores).await;
        (id, self.login(&email, PASSWORD).await)
    }
}

/// Load the sign-in form, then post it.
pub async fn login_attempt(
    client: &mut WebClient,
    email: &str,
    password: &str,
) -> reqwest::Response {
    let (status, _) = client.get("/login").await;
    assert_eq!(status, 200, "the sign-in page");
    client
        .post("/login", &[("email", email), ("password", password)])
        .await
}

/// Another HQ on the same database (a restart, or a second process behind a load
/// balancer), with its own settings.
pub async fn spawn_app_at(
    database_url: &str,
    tweak: impl FnOnce(&mut countertop_hq::Settings),
) -> TestApp {
    let mut settings = countertop_hq::Settings::new("127.0.0.1:0", database_url);
    tweak(&mut settings);
    let app = countertop_hq::Application::build(settings)
        .await
        .expect("app builds");
    let address = format!("http://{}", app.local_addr());
    let storage = app.storage();
    let (tx, rx) = tokio::sync::oneshot::channel::<()>();
    tokio::spawn(app.run_until(async {
        let _ = rx.await;
    }));
    TestApp {
        address,
        client: reqwest::Client::new(),
        storage,
        database_url: database_url.to_owned(),
        _dir: None,
        shutdown: Some(tx),
    }
}

/// The `Set-Cookie` header of `name` in a response, whole (value and attributes).
pub fn set_cookie(resp: &reqwest::Response, name: &str) -> Option<String> {
    resp.headers()
        .get_all("set-cookie")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .find(|v| v.starts_with(&format!("{name}=")))
        .map(str::to_owned)
}

/// The value of a `Set-Cookie` header (`name=value; ...` → `value`).
pub fn cookie_value(set_cookie: &str) -> String {
    set_cookie
        .split(';')
        .next()
        .and_then(|p| p.split_once('='))
        .map(|(_, v)| v.to_owned())
        .unwrap_or_default()
}

/// GET with exactly this session cookie (no jar); returns the status.
pub async fn get_with_session(base: &str, path: &str, session: &str) -> u16 {
    reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .expect("client")
        .get(format!("{base}{path}"))
        .header("cookie", format!("ct_session={session}"))
        .send()
        .await
        .expect("sent")
        .status()
        .as_u16()
}

/// Sign in with a fresh client; returns the client and the session cookie's value.
pub async fn login_session(app: &TestApp, email: &str) -> (WebClient, String) {
    let mut client = WebClient::new(app);
    let resp = login_attempt(&mut client, email, PASSWORD).await;
    assert_eq!(resp.status(), 303, "sign-in failed");
    let cookie = set_cookie(&resp, "ct_session").expect("a session cookie");
    let (status, _) = client.get("/").await;
    assert_eq!(status, 200);
    (client, cookie_value(&cookie))
}
