//! Signing in and out: sessions, cookies, expiry, throttling, and the same answer for a
//! wrong password and an unknown account.

use countertop_hq::storage::accounts::Role;

use crate::common::web::{location, login_attempt, WebClient, PASSWORD};
use crate::common::{spawn_app, Backend};

async fn signing_in_opens_the_overview_and_signing_out_closes_it(backend: Backend) {
    let app = spawn_app(backend).await;
    let store = app.store("Corner Coffee", "Asia/Ho_Chi_Minh").await;
    let (_, email) = app.user_of_role(Role::Manager, &[store]).await;
    let mut client = WebClient::new(&app);
    let (status, _) = client.get("/").await;
    assert_eq!(status, 303, "not signed in: sent to the sign-in page");
    let resp = login_attempt(&mut client, &email, PASSWORD).await;
    assert_eq!(resp.status(), 303);
    assert_eq!(location(&resp), "/");
    let (status, body) = client.get("/").await;
    assert_eq!(status, 200);
    assert!(body.contains("Corner Coffee"), "{body}");
    assert!(body.contains(&email));
    let resp = client.post("/logout", &[]).await;
    assert_eq!(resp.status(), 303);
    assert_eq!(location(&resp), "/login");
    let (status, _) = client.get("/").await;
    assert_eq!(status, 303, "signed out");
}

async fn a_page_asked_for_before_signing_in_comes_back_after(backend: Backend) {
    let app = spawn_app(backend).await;
    let (_, email) = app.user_of_role(Role::Admin, &[]).await;
    let mut client = WebClient::new(&app);
    let resp = client
        .http
        .get(client.url("/audit"))
        .send()
        .await
        .expect("sent");
    assert_eq!(resp.status(), 303);
    assert_eq!(location(&resp), "/login?next=%2Faudit");
    let (status, body) = client.get("/login?next=%2Faudit").await;
    assert_eq!(status, 200);
    assert!(body.contains("value=\"/audit\""), "{body}");
    let resp = client
        .post(
            "/login",
            &[
                ("email", &email),
                ("password", PASSWORD),
                ("next", "/audit"),
            ],
        )
        .await;
    assert_eq!(location(&resp), "/audit");
    // A next that leaves the site is replaced by the overview.
    let mut other = WebClient::new(&app);
    other.get("/login").await;
    let resp = other
        .post(
            "/login",
            &[
                ("email", &email),
                ("password", PASSWORD),
                ("next", "//evil.example/"),
            ],
        )
        .await;
    assert_eq!(location(&resp), "/");
}

crate::on_both_backends!(
    signing_in_opens_the_overview_and_signing_out_closes_it,
    a_page_asked_for_before_signing_in_comes_back_after,
);
