//! What every dashboard response carries: security headers, and the stylesheet served
//! from the binary.

use crate::common::web::WebClient;
use crate::common::{spawn_app, Backend};

async fn every_page_carries_the_security_headers(backend: Backend) {
    let app = spawn_app(backend).await;
    let client = WebClient::new(&app);
    for path in ["/login", "/", "/no-such-page"] {
        let resp = client
            .http
            .get(client.url(path))
            .header("accept", "text/html")
            .send()
            .await
            .expect("sent");
        let h = resp.headers();
        let csp = h
            .get("content-security-policy")
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default();
        assert!(csp.contains("script-src 'self'"), "{path}: {csp}");
        assert!(csp.contains("frame-ancestors 'none'"), "{path}: {csp}");
        assert!(!csp.contains("unsafe-inline"), "{path}: {csp}");
        assert_eq!(h["x-frame-options"], "DENY", "{path}");
        assert_eq!(h["x-content-type-options"], "nosniff", "{path}");
        assert_eq!(h["referrer-policy"], "same-origin", "{path}");
        assert_eq!(h["cache-control"], "no-store", "{path}");
    }
}

async fn the_stylesheet_is_served_from_the_binary_and_cacheable(backend: Backend) {
    let app = spawn_app(backend).await;
    let mut client = WebClient::new(&app);
    let (_, login) = client.get("/login").await;
    let i = login.find("/static/app.css?v=").expect("stylesheet link");
    let href: String = login[i..].chars().take_while(|c| *c != '"').collect();
    let resp = client
        .http
        .get(client.url(&href))
        .send()
        .await
        .expect("sent");
    assert_eq!(resp.status(), 200);
    assert_eq!(resp.headers()["content-type"], "text/css; charset=utf-8");
    assert!(resp.headers()["cache-control"]
        .to_str()
        .expect("ascii")
        .contains("max-age=31536000"));
    assert!(resp.text().await.expect("css").contains("--brand"));
}

async fn the_json_api_keeps_answering_json(backend: Backend) {
    let app = spawn_app(backend).await;
    let resp = app
        .client
        .get(app.url("/healthz"))
        .send()
        .await
        .expect("sent");
    assert_eq!(resp.status(), 200);
    let resp = app
        .client
        .get(app.url("/api/v1/nothing"))
        .header("accept", "text/html")
        .send()
        .await
        .expect("sent");
    assert_eq!(resp.status(), 404);
    assert!(resp.headers()["content-type"]
        .to_str()
        .expect("ascii")
        .starts_with("application/json"));
}

async fn the_language_follows_the_account_then_the_cookie_then_the_browser(backend: Backend) {
    use countertop_hq::storage::accounts::Role;
    let app = spawn_app(backend).await;
    let client = WebClient::new(&app);
    let page = |lang: &'static str| {
        let client = &client;
        async move {
            client
                .http
                .get(client.url("/login"))
                .header("accept-language", lang)
                .send()
                .await
                .expect("sent")
                .text()
                .await
                .expect("body")
        }
    };
    assert!(page("vi-VN,vi;q=0.9").await.contains("Đăng nhập"));
    assert!(page("en-GB").await.contains(">Sign in<"));
    // The switch on the sign-in page sets the cookie, which beats Accept-Language, and
    // keeps the page to come back to.
    let resp = client
        .http
        .get(client.url("/lang?set=vi&next=%2Flogin%3Fnext%3D%252Faudit"))
        .send()
        .await
        .expect("sent");
    assert_eq!(resp.status(), 303);
    assert_eq!(resp.headers()["location"], "/login?next=%2Faudit");
    assert!(page("en").await.contains("Đăng nhập"));
    // A signed-in account's choice is kept with the account.
    let (id, mut signed) = app.signed_in(Role::Admin, &[]).await;
    let resp = signed
        .post("/lang", &[("set", "vi"), ("next", "/audit")])
        .await;
    assert_eq!(resp.status(), 303);
    assert_eq!(resp.headers()["location"], "/audit");
    let user = app.storage.user(id).await.expect("q").expect("user");
    assert_eq!(user.lang.as_deref(), Some("vi"));
    let (_, body) = signed.get("/audit").await;
    assert!(body.contains("Nhật ký hoạt động"), "{body}");
    let resp = signed.post("/lang", &[("set", "klingon")]).await;
    assert_eq!(resp.status(), 400);
}

crate::on_both_backends!(
    every_page_carries_the_security_headers,
    the_stylesheet_is_served_from_the_binary_and_cacheable,
    the_json_api_keeps_answering_json,
    the_language_follows_the_account_then_the_cookie_then_the_browser,
);
