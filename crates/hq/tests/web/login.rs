//! Signing in and out: sessions, cookies, expiry, throttling, and the same answer for a
//! wrong password and an unknown account.

use std::time::Duration;

use countertop_hq::storage::accounts::Role;
use countertop_hq::throttle::{AttemptRules, Rule};

use crate::common::web::{
    cookie_value, get_with_session, location, login_attempt, login_session, set_cookie,
    spawn_app_at, WebClient, PASSWORD,
};
use crate::common::{spawn_app, spawn_app_with, Backend};

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

/// The sign-in answer with the typed email taken out, to compare two answers.
async fn answer(client: &mut WebClient, email: &str, password: &str) -> (u16, String) {
    let resp = login_attempt(client, email, password).await;
    let status = resp.status().as_u16();
    let body = resp.text().await.expect("body");
    (status, body.replace(email, "EMAIL"))
}

async fn a_wrong_password_and_an_unknown_account_get_the_same_answer(backend: Backend) {
    let app = spawn_app(backend).await;
    let store = app.store("Corner Coffee", "Asia/Ho_Chi_Minh").await;
    let (_, email) = app.user_of_role(Role::Manager, &[store]).await;
    let (disabled_id, disabled) = app.user_of_role(Role::Manager, &[store]).await;
    app.storage
        .set_user_disabled(disabled_id, true)
        .await
        .expect("disabled");
    let mut client = WebClient::new(&app);
    let wrong = answer(&mut client, &email, "not the password").await;
    let unknown = answer(&mut client, "nobody@example.org", "not the password").await;
    let off = answer(&mut client, &disabled, PASSWORD).await;
    assert_eq!(wrong.0, 401);
    assert!(wrong.1.contains("The email or the password is wrong."));
    assert_eq!(
        wrong, unknown,
        "unknown account answers like a wrong password"
    );
    assert_eq!(
        wrong, off,
        "a disabled account answers like a wrong password"
    );
    let (status, _) = client.get("/").await;
    assert_eq!(status, 303, "none of them signed in");
}

async fn the_session_id_changes_at_sign_in_and_the_old_one_stops_working(backend: Backend) {
    let app = spawn_app(backend).await;
    let (_, email) = app.user_of_role(Role::Admin, &[]).await;
    let (_, first) = login_session(&app, &email).await;
    // A planted (fixated) cookie is not adopted either.
    let mut client = WebClient::new(&app);
    client.get("/login").await;
    let resp = client
        .http
        .post(client.url("/login"))
        .header("origin", &app.address)
        .header(
            "cookie",
            format!(
                "ct_session={first}; ct_csrf={}",
                client.csrf.as_deref().unwrap_or("")
            ),
        )
        .form(&[
            ("email", email.as_str()),
            ("password", PASSWORD),
            ("csrf", client.csrf.as_deref().unwrap_or("")),
        ])
        .send()
        .await
        .expect("sent");
    assert_eq!(resp.status(), 303);
    let second = cookie_value(&set_cookie(&resp, "ct_session").expect("new cookie"));
    assert_ne!(first, second, "a new session id at sign-in");
    assert_eq!(get_with_session(&app.address, "/", &second).await, 200);
    assert_eq!(
        get_with_session(&app.address, "/", &first).await,
        303,
        "the session signed in over is gone"
    );
}

async fn signing_out_ends_the_session_on_the_server(backend: Backend) {
    let app = spawn_app(backend).await;
    let (_, email) = app.user_of_role(Role::Admin, &[]).await;
    let (client, session) = login_session(&app, &email).await;
    let resp = client.post("/logout", &[]).await;
    assert_eq!(resp.status(), 303);
    assert_eq!(
        get_with_session(&app.address, "/", &session).await,
        303,
        "a copy of the cookie no longer works"
    );
}

async fn sessions_expire_after_inactivity_and_activity_keeps_them(backend: Backend) {
    let app = spawn_app_with(backend, |s| {
        s.web.session_idle = Duration::from_millis(1500)
    })
    .await;
    let (_, email) = app.user_of_role(Role::Admin, &[]).await;
    let (_, session) = login_session(&app, &email).await;
    for _ in 0..5 {
        tokio::time::sleep(Duration::from_millis(500)).await;
        assert_eq!(
            get_with_session(&app.address, "/", &session).await,
            200,
            "each request moves the expiry on"
        );
    }
    tokio::time::sleep(Duration::from_millis(2000)).await;
    assert_eq!(get_with_session(&app.address, "/", &session).await, 303);
}

async fn repeated_failures_are_answered_429_per_account_and_per_address(backend: Backend) {
    let app = spawn_app_with(backend, |s| {
        s.web.login_throttle = AttemptRules {
            per_address: Rule::new(6, Duration::from_secs(600)),
            per_subject: Rule::new(3, Duration::from_secs(600)),
        }
    })
    .await;
    let store = app.store("Corner Coffee", "Asia/Ho_Chi_Minh").await;
    let (_, email) = app.user_of_role(Role::Manager, &[store]).await;
    let mut client = WebClient::new(&app);
    let mut statuses = Vec::new();
    for _ in 0..3 {
        statuses.push(
            login_attempt(&mut client, &email, "wrong")
                .await
                .status()
                .as_u16(),
        );
    }
    let throttled = login_attempt(&mut client, &email, PASSWORD).await;
    assert_eq!(statuses, [401, 401, 401]);
    assert_eq!(throttled.status(), 429, "even the right password waits");
    assert!(throttled.headers().contains_key("retry-after"));
    let body = throttled.text().await.expect("body");
    assert!(body.contains("Too many attempts"), "{body}");
    // Per address: other (unknown) accounts from the same address use up its burst.
    let mut statuses = Vec::new();
    for i in 0..3 {
        let other = format!("guess{i}@example.org");
        statuses.push(
            login_attempt(&mut client, &other, "x")
                .await
                .status()
                .as_u16(),
        );
    }
    assert_eq!(statuses, [401, 401, 429]);
}

async fn a_session_made_by_one_hq_works_on_another_and_after_a_restart(backend: Backend) {
    let first = spawn_app(backend).await;
    let (_, email) = first.user_of_role(Role::Admin, &[]).await;
    let (_, session) = login_session(&first, &email).await;
    let second = spawn_app_at(&first.database_url, |_| {}).await;
    assert_eq!(
        get_with_session(&second.address, "/", &session).await,
        200,
        "another HQ process on the same database serves the session"
    );
    drop(second);
    let mut first = first;
    first.stop_server();
    let restarted = spawn_app_at(&first.database_url, |_| {}).await;
    assert_eq!(
        get_with_session(&restarted.address, "/", &session).await,
        200,
        "the session survives a restart"
    );
}

crate::on_both_backends!(
    signing_in_opens_the_overview_and_signing_out_closes_it,
    a_page_asked_for_before_signing_in_comes_back_after,
    a_wrong_password_and_an_unknown_account_get_the_same_answer,
    the_session_id_changes_at_sign_in_and_the_old_one_stops_working,
    signing_out_ends_the_session_on_the_server,
    sessions_expire_after_inactivity_and_activity_keeps_them,
    repeated_failures_are_answered_429_per_account_and_per_address,
    a_session_made_by_one_hq_works_on_another_and_after_a_restart,
);
