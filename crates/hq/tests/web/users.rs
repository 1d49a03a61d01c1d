//! Accounts on the admins' page: add with a one-time link, set the password through it
//! (once, before it expires), change role and stores, disable (sessions stop at once),
//! and the audit log that records it all without personal data.

use chrono::{Duration, Utc};
use countertop_hq::secrets;
use countertop_hq::storage::accounts::Role;

use crate::common::web::{location, WebClient, PASSWORD};
use crate::common::{spawn_app, Backend};

/// The set-password link shown on a page.
fn link_of(body: &str) -> String {
    let i = body
        .find("/set-password?token=")
        .expect("a link on the page");
    let rest = &body[i..];
    let end = rest.find('<').expect("end of the link");
    rest[..end].to_owned()
}

async fn an_admin_adds_an_account_that_sets_its_password_once(backend: Backend) {
    let app = spawn_app(backend).await;
    let store = app.store("Corner Coffee", "Asia/Ho_Chi_Minh").await;
    let (_, admin) = app.signed_in(Role::Admin, &[]).await;
    let store_id = store.to_string();
    let resp = admin
        .post(
            "/users",
            &[
                ("email", "New.Manager@Example.org"),
                ("role", "manager"),
                ("stores", &store_id),
            ],
        )
        .await;
    assert_eq!(resp.status(), 200);
    let body = resp.text().await.expect("body");
    let link = link_of(&body);
    let user = app
        .storage
        .user_by_email("new.manager@example.org")
        .await
        .expect("query")
        .expect("account stored lower-cased");
    assert_eq!(user.role, Role::Manager);
    assert_eq!(user.stores, vec![store]);
    assert!(user.password_hash.is_none());

    let mut newcomer = WebClient::new(&app);
    let (status, page) = newcomer.get(&link).await;
    assert_eq!(status, 200, "{page}");
    let token = link.rsplit('=').next().expect("token").to_owned();
    let short = newcomer
        .post(
            "/set-password",
            &[
                ("token", &token),
                ("password", "short"),
                ("confirm", "short"),
            ],
        )
        .await;
    assert_eq!(short.status(), 400, "too short a password is refused");
    let new_password = "a long enough passphrase";
    let ok = newcomer
        .post(
            "/set-password",
            &[
                ("token", &token),
                ("password", new_password),
                ("confirm", new_password),
            ],
        )
        .await;
    assert_eq!(ok.status(), 200);
    let again = newcomer
        .post(
            "/set-password",
            &[
                ("token", &token),
                ("password", "another passphrase!"),
                ("confirm", "another passphrase!"),
            ],
        )
        .await;
    assert_eq!(again.status(), 404, "the link works once");
    let mut client = app.login("new.manager@example.org", new_password).await;
    let (_, body) = client.get("/").await;
    assert!(body.contains("Corner Coffee"));
    // The stored hash is argon2id.
    let user = app.storage.user(user.id).await.expect("q").expect("user");
    assert!(user.password_hash.expect("hash").starts_with("$argon2id$"));
}

async fn an_expired_link_is_refused(backend: Backend) {
    let app = spawn_app(backend).await;
    let (id, _) = app.user_of_role(Role::Admin, &[]).await;
    let token = secrets::new_token().expect("token");
    app.storage
        .create_password_link(
            id,
            &secrets::hash_secret(&token),
            Utc::now() - Duration::minutes(1),
        )
        .await
        .expect("link");
    let mut client = WebClient::new(&app);
    let (status, body) = client.get(&format!("/set-password?token={token}")).await;
    assert_eq!(status, 404);
    assert!(body.contains("not valid any more"), "{body}");
}

async fn disabling_an_account_ends_its_sessions_and_changes_are_audited(backend: Backend) {
    let app = spawn_app(backend).await;
    let a = app.store("Store A", "Asia/Ho_Chi_Minh").await;
    let b = app.store("Store B", "Asia/Ho_Chi_Minh").await;
    let (admin_id, mut admin) = app.signed_in(Role::Admin, &[]).await;
    let (id, mut manager) = app.signed_in(Role::Manager, &[a]).await;
    let (_, body) = admin.get(&format!("/users/{id}")).await;
    assert!(body.contains("Store B"));
    let resp = admin
        .post(
            &format!("/users/{id}"),
            &[("role", "viewer"), ("stores", &b.to_string())],
        )
        .await;
    assert_eq!(resp.status(), 303);
    let user = app.storage.user(id).await.expect("q").expect("user");
    assert_eq!((user.role, user.stores), (Role::Viewer, vec![b]));
    let (_, body) = manager.get("/").await;
    assert!(
        body.contains("Store B") && !body.contains("Store A"),
        "scope follows at once"
    );

    let resp = admin.post(&format!("/users/{id}/disable"), &[]).await;
    assert_eq!(location(&resp), format!("/users/{id}"));
    let (status, _) = manager.get("/").await;
    assert_eq!(status, 303, "a disabled account is signed out");
    // An admin cannot lock themselves out.
    let resp = admin.post(&format!("/users/{admin_id}/disable"), &[]).await;
    assert_eq!(resp.status(), 200);
    assert!(
        !app.storage
            .user(admin_id)
            .await
            .expect("q")
            .expect("u")
            .disabled
    );

    let (_, audit) = admin.get("/audit").await;
    for label in ["Account changed", "Account disabled", "Signed in"] {
        assert!(audit.contains(label), "{label} in the audit log");
    }
    let lines = app
        .storage
        .audit_entries(&countertop_hq::storage::accounts::AuditQuery {
            stores: None,
            before: None,
            limit: 100,
        })
        .await
        .expect("audit");
    assert!(lines.iter().any(|l| l.action == "user_disabled"
        && l.actor == Some(admin_id)
        && l.target.as_deref() == Some(id.to_string().as_str())));
}

async fn failed_sign_ins_are_audited_without_the_typed_email(backend: Backend) {
    let app = spawn_app(backend).await;
    let (id, email) = app.user_of_role(Role::Admin, &[]).await;
    let mut client = WebClient::new(&app);
    crate::common::web::login_attempt(&mut client, "stranger@example.org", "x").await;
    crate::common::web::login_attempt(&mut client, &email, "wrong").await;
    let lines = app
        .storage
        .audit_entries(&countertop_hq::storage::accounts::AuditQuery {
            stores: None,
            before: None,
            limit: 10,
        })
        .await
        .expect("audit");
    let failed: Vec<_> = lines
        .iter()
        .filter(|l| l.action == "login_failed")
        .collect();
    assert_eq!(failed.len(), 2);
    assert!(
        failed.iter().any(|l| l.actor.is_none()),
        "unknown account: no actor"
    );
    assert!(failed.iter().any(|l| l.actor == Some(id)));
    for l in &lines {
        assert!(
            !l.detail.contains("stranger") && !l.target.clone().unwrap_or_default().contains('@')
        );
    }
    let _ = PASSWORD;
}

async fn a_manager_cannot_reach_the_users_pages(backend: Backend) {
    let app = spawn_app(backend).await;
    let a = app.store("Store A", "Asia/Ho_Chi_Minh").await;
    let (_, mut manager) = app.signed_in(Role::Manager, &[a]).await;
    let (status, body) = manager.get("/users").await;
    assert_eq!(status, 403);
    assert!(body.contains("Not allowed"));
    let resp = manager
        .post("/users", &[("email", "x@example.org"), ("role", "admin")])
        .await;
    assert_eq!(resp.status(), 403);
    assert!(app
        .storage
        .user_by_email("x@example.org")
        .await
        .expect("q")
        .is_none());
}

async fn bad_account_forms_get_a_clear_message_and_change_nothing(backend: Backend) {
    let app = spawn_app(backend).await;
    let (_, admin) = app.signed_in(Role::Admin, &[]).await;
    let before = app.storage.users().await.expect("users").len();
    for (fields, message) in [
        (
            vec![("email", "not-an-email"), ("role", "admin")],
            "This is not an email address.",
        ),
        (
            vec![("email", "a@example.org"), ("role", "owner")],
            "Choose a role.",
        ),
        (
            vec![("email", "a@example.org"), ("role", "manager")],
            "A manager or viewer needs at least one store.",
        ),
        (
            vec![
                ("email", "a@example.org"),
                ("role", "manager"),
                ("stores", "not-a-uuid"),
            ],
            "One of the stores does not exist.",
        ),
    ] {
        let resp = admin.post("/users", &fields).await;
        assert_eq!(resp.status(), 200);
        let body = resp.text().await.expect("body");
        assert!(body.contains(message), "{message}\n{body}");
    }
    assert_eq!(app.storage.users().await.expect("users").len(), before);
}

crate::on_both_backends!(
    an_admin_adds_an_account_that_sets_its_password_once,
    an_expired_link_is_refused,
    disabling_an_account_ends_its_sessions_and_changes_are_audited,
    failed_sign_ins_are_audited_without_the_typed_email,
    a_manager_cannot_reach_the_users_pages,
    bad_account_forms_get_a_clear_message_and_change_nothing,
);
