//! Cookie flags: HttpOnly and SameSite=Lax always, Secure when HQ serves TLS (or is told
//! it sits behind a TLS proxy).

use countertop_hq::storage::accounts::Role;
use countertop_hq::tls::TlsFiles;

use crate::common::certs::TestCa;
use crate::common::web::{login_attempt, set_cookie, WebClient, PASSWORD};
use crate::common::{spawn_app, spawn_app_with, Backend};

fn flags(cookie: &str) -> Vec<String> {
    cookie
        .split(';')
        .skip(1)
        .map(|f| f.trim().to_ascii_lowercase())
        .collect()
}

async fn session_cookies_are_http_only_and_same_site_lax(backend: Backend) {
    let app = spawn_app(backend).await;
    let (_, email) = app.user_of_role(Role::Admin, &[]).await;
    let mut client = WebClient::new(&app);
    let resp = login_attempt(&mut client, &email, PASSWORD).await;
    let cookie = set_cookie(&resp, "ct_session").expect("session cookie");
    let f = flags(&cookie);
    assert!(f.contains(&"httponly".to_owned()), "{cookie}");
    assert!(f.contains(&"samesite=lax".to_owned()), "{cookie}");
    assert!(!f.contains(&"secure".to_owned()), "plain HTTP: {cookie}");
    assert!(f.iter().any(|x| x.starts_with("max-age=")), "{cookie}");
}

async fn over_tls_every_cookie_is_secure(backend: Backend) {
    let dir = tempfile::tempdir().expect("dir");
    let ca = TestCa::new("web test CA");
    let (cert, key) = ca.server_cert(&["localhost"]).write(dir.path());
    let app = spawn_app_with(backend, |s| s.tls = Some(TlsFiles { cert, key })).await;
    let (_, email) = app.user_of_role(Role::Admin, &[]).await;
    let port = app.address.rsplit(':').next().expect("port").to_owned();
    let base = format!("https://localhost:{port}");
    let http = reqwest::Client::builder()
        .cookie_store(true)
        .redirect(reqwest::redirect::Policy::none())
        .add_root_certificate(reqwest::Certificate::from_pem(ca.cert_pem().as_bytes()).expect("ca"))
        .build()
        .expect("client");
    let mut client = WebClient {
        http,
        base: base.clone(),
        csrf: None,
    };
    let page = client
        .http
        .get(format!("{base}/login"))
        .send()
        .await
        .expect("https GET");
    let csrf_cookie = set_cookie(&page, "ct_csrf").expect("csrf cookie");
    assert!(
        flags(&csrf_cookie).contains(&"secure".to_owned()),
        "{csrf_cookie}"
    );
    let resp = login_attempt(&mut client, &email, PASSWORD).await;
    assert_eq!(resp.status(), 303);
    let cookie = set_cookie(&resp, "ct_session").expect("session cookie");
    let f = flags(&cookie);
    assert!(f.contains(&"secure".to_owned()), "{cookie}");
    assert!(f.contains(&"httponly".to_owned()), "{cookie}");
    assert!(f.contains(&"samesite=lax".to_owned()), "{cookie}");
}

async fn behind_a_tls_proxy_cookies_can_be_made_secure(backend: Backend) {
    let app = spawn_app_with(backend, |s| s.web.secure_cookies = true).await;
    let (_, email) = app.user_of_role(Role::Admin, &[]).await;
    let mut client = WebClient::new(&app);
    let resp = login_attempt(&mut client, &email, PASSWORD).await;
    let cookie = set_cookie(&resp, "ct_session").expect("session cookie");
    assert!(flags(&cookie).contains(&"secure".to_owned()), "{cookie}");
}

crate::on_both_backends!(
    session_cookies_are_http_only_and_same_site_lax,
    over_tls_every_cookie_is_secure,
    behind_a_tls_proxy_cookies_can_be_made_secure,
);
