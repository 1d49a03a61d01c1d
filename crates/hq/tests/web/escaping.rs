//! Hostile store names and account emails are shown as text, never as markup, in the
//! layout, the overview, the users pages and the audit log.

use countertop_hq::storage::accounts::Role;

use crate::common::{spawn_app, Backend};

const STORE: &str = "<script>alert(1)</script>\"'><img src=x onerror=alert(2)>";
/// Valid as far as the account rules go (no spaces), hostile as markup.
const EMAIL: &str = "\"><script>alert(3)</script>@x.org";

fn assert_inert(body: &str, what: &str) {
    assert!(!body.contains("<script>"), "{what}: raw script tag\n{body}");
    assert!(!body.contains("<img src=x"), "{what}: raw img tag");
    assert!(!body.contains(STORE), "{what}: the store name verbatim");
    assert!(!body.contains(EMAIL), "{what}: the email verbatim");
}

async fn hostile_store_names_and_emails_are_escaped(backend: Backend) {
    let app = spawn_app(backend).await;
    let store = app.store(STORE, "Asia/Ho_Chi_Minh").await;
    let id = countertop_hq::web::users::add_user(
        app.storage.as_ref(),
        EMAIL,
        Role::Manager,
        &[store],
        Some(crate::common::web::PASSWORD),
    )
    .await
    .expect("a hostile but valid email");
    let mut hostile = app.login(EMAIL, crate::common::web::PASSWORD).await;
    let (_, body) = hostile.get("/").await;
    assert_inert(&body, "overview of the hostile account");
    assert!(
        body.contains("&#60;script&#62;alert(1)"),
        "the name is shown, as text: {body}"
    );
    let (_, mut admin) = app.signed_in(Role::Admin, &[]).await;
    for path in ["/", "/users", &format!("/users/{id}"), "/audit"] {
        let (status, body) = admin.get(path).await;
        assert_eq!(status, 200, "{path}");
        assert_inert(&body, path);
    }
}

crate::on_both_backends!(hostile_store_names_and_emails_are_escaped);
