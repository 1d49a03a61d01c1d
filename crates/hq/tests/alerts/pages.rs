//! The alerts pages over HTTP: rules editor scope (managers their stores, admins the
//! chain), the open list with its badge, acknowledge and close, and a store's history.

use countertop_hq::storage::accounts::Role;

use super::support::{bad_hour, Receiver};
use crate::common::web::location;
use crate::common::{rating, spawn_app, Backend};

async fn a_manager_adds_rules_for_their_own_stores_only(backend: Backend) {
    let app = spawn_app(backend).await;
    let mine = app.store("Mine", "UTC").await;
    let theirs = app.store("Theirs", "UTC").await;
    let (_, mut manager) = app.signed_in(Role::Manager, &[mine]).await;
    let (status, _) = manager.get("/alerts").await;
    assert_eq!(status, 200);
    let form = |store: String, name: &'static str, target: &'static str| {
        vec![
            ("name", name.to_owned()),
            ("store", store),
            ("condition", "unhappy_share_above".to_owned()),
            ("threshold", "50".to_owned()),
            ("window_minutes", "15".to_owned()),
            ("min_answers", "4".to_owned()),
            ("pending_minutes", "0".to_owned()),
            ("repeat_minutes", "30".to_owned()),
            ("recipient_kind", "webhook".to_owned()),
            ("target", target.to_owned()),
        ]
    };
    let post = |fields: Vec<(&'static str, String)>| {
        let manager = &manager;
        async move {
            let f: Vec<(&str, &str)> = fields.iter().map(|(k, v)| (*k, v.as_str())).collect();
            manager.post("/alerts/rules", &f).await
        }
    };
    let chain = post(form(String::new(), "Chain", "https://example.org/h")).await;
    assert_eq!(chain.status(), 400, "managers make no chain-wide rules");
    let other = post(form(theirs.to_string(), "Other", "https://example.org/h")).await;
    assert_eq!(other.status(), 404, "another store is not found");
    let junk = post(form(mine.to_string(), "Junk", "javascript:alert(1)")).await;
    assert_eq!(junk.status(), 400);
    let ok = post(form(
        mine.to_string(),
        "<b>Bad hour</b>",
        "https://example.org/h",
    ))
    .await;
    assert_eq!(ok.status(), 303);
    assert_eq!(location(&ok), "/alerts");
    assert_eq!(
        app.storage.rules().await.expect("rules").len(),
        1,
        "only the good one"
    );
    let (_, page) = manager.get("/alerts").await;
    assert!(
        page.contains("&#60;b&#62;Bad hour&#60;/b&#62;"),
        "the name is escaped"
    );
    assert!(!page.contains("<b>Bad hour"));

    let (_, mut admin) = app.signed_in(Role::Admin, &[]).await;
    admin.get("/alerts").await;
    let f = form(String::new(), "Chain", "https://example.org/h");
    let f: Vec<(&str, &str)> = f.iter().map(|(k, v)| (*k, v.as_str())).collect();
    assert_eq!(admin.post("/alerts/rules", &f).await.status(), 303);
    let (_, page) = manager.get("/alerts").await;
    assert!(
        !page.contains(">Chain<"),
        "a manager does not see chain-wide rules"
    );
}

async fn an_open_alert_shows_in_the_badge_and_is_acknowledged_then_closed(backend: Backend) {
    let hook = Receiver::start(&[]).await;
    let app = spawn_app(backend).await;
    let store = app.store("Corner", "UTC").await;
    let kiosk = app.kiosk_of(store).await;
    let mut spec = bad_hour(&hook.url);
    spec.stores = vec![store];
    app.storage.create_rule(&spec).await.expect("rule");
    app.push_ok(&kiosk.token, &[rating(1), rating(1), rating(2), rating(1)])
        .await;
    hook.wait_accepted(1).await;

    let (_, mut viewer) = app.signed_in(Role::Viewer, &[store]).await;
    let (_, page) = viewer.get("/alerts").await;
    assert!(
        page.contains("class=\"badge\""),
        "the header shows the badge"
    );
    assert!(page.contains("Bad hour"));
    let alert = app
        .storage
        .alerts(&countertop_hq::storage::alerts::AlertQuery {
            stores: Some(vec![store]),
            open_only: true,
            limit: 10,
        })
        .await
        .expect("alerts")[0]
        .clone();
    assert!(
        !page.contains(&format!("/alerts/{}/acknowledge", alert.id)),
        "viewers get no form"
    );
    let refused = viewer
        .post(
            &format!("/alerts/{}/acknowledge", alert.id),
            &[("note", "x")],
        )
        .await;
    assert_eq!(refused.status(), 403);

    let (_, mut manager) = app.signed_in(Role::Manager, &[store]).await;
    let (_, page) = manager.get("/alerts").await;
    assert!(page.contains(&format!("/alerts/{}/acknowledge", alert.id)));
    let ack = manager
        .post(
            &format!("/alerts/{}/acknowledge", alert.id),
            &[("note", "<i>calling the barista</i>")],
        )
        .await;
    assert_eq!(ack.status(), 303);
    let (status, history) = manager.get(&format!("/stores/{store}/alerts")).await;
    assert_eq!(status, 200);
    assert!(history.contains("&#60;i&#62;calling the barista&#60;/i&#62;"));
    assert!(history.contains("Acknowledged"));
    let (_, page) = manager.get("/alerts").await;
    assert!(
        !page.contains("class=\"badge\""),
        "acknowledged: the badge is gone"
    );

    let close = manager
        .post(&format!("/alerts/{}/close", alert.id), &[])
        .await;
    assert_eq!(close.status(), 303);
    let (_, history) = manager.get(&format!("/stores/{store}/alerts")).await;
    assert!(history.contains("tag-closed"), "{history}");
    let again = manager
        .post(&format!("/alerts/{}/close", alert.id), &[])
        .await;
    assert_eq!(again.status(), 404, "a closed alert is not closed twice");
}

crate::on_both_backends!(
    a_manager_adds_rules_for_their_own_stores_only,
    an_open_alert_shows_in_the_badge_and_is_acknowledged_then_closed,
);
