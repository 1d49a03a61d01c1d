//! Scope on every action-page route: a table of them all, each called as a manager of
//! another store (404, the same as for a missing store), and each changing route called
//! as a viewer of the store (403). A route added to one of these pages' tables without a
//! row here fails `every_action_route_is_in_the_table`.

use countertop_hq::storage::accounts::Role;
use countertop_hq::web;

use crate::common::{spawn_app, Backend};

/// (method, path): `{s}` is the store, `{d}` a kiosk of it.
const TABLE: &[(&str, &str)] = &[
    ("GET", "/stores/{s}/devices"),
    ("POST", "/stores/{s}/devices/enroll"),
    ("POST", "/stores/{s}/hours"),
    ("GET", "/stores/{s}/devices/{d}/revoke"),
    ("POST", "/stores/{s}/devices/{d}/revoke"),
    ("GET", "/stores/{s}/survey"),
    ("POST", "/stores/{s}/survey"),
    ("GET", "/export.csv?store={s}"),
    ("GET", "/export.json?store={s}"),
];

#[test]
fn every_action_route_is_in_the_table() {
    let ours: Vec<&web::Route> = web::devices::ROUTES
        .iter()
        .chain(web::survey::ROUTES)
        .chain(web::export::ROUTES)
        .filter(|r| r.takes_store())
        .collect();
    for r in ours {
        let path = r
            .path
            .replace("{store_id}", "{s}")
            .replace("{device_id}", "{d}");
        assert!(
            TABLE
                .iter()
                .any(|(m, p)| *m == r.method.as_str() && *p == path),
            "{} {} has no row",
            r.method,
            r.path
        );
    }
}

async fn outside_the_scope_every_action_route_is_404_and_viewers_cannot_act(backend: Backend) {
    let app = spawn_app(backend).await;
    let kiosk = app.kiosk().await;
    let other = app.store("Elsewhere", "Europe/London").await;
    let (_, mut outsider) = app.signed_in(Role::Manager, &[other]).await;
    outsider.get("/devices").await;
    let (_, mut viewer) = app.signed_in(Role::Viewer, &[kiosk.store_id]).await;
    viewer.get("/devices").await;
    for (method, path) in TABLE {
        let path = path
            .replace("{s}", &kiosk.store_id.to_string())
            .replace("{d}", &kiosk.device_id.to_string());
        let status = if *method == "GET" {
            outsider.get(&path).await.0
        } else {
            outsider.post(&path, &[]).await.status().as_u16()
        };
        assert_eq!(status, 404, "{method} {path} as a manager of another store");
        if *method == "POST" {
            let status = viewer.post(&path, &[]).await.status().as_u16();
            assert_eq!(status, 403, "{method} {path} as a viewer");
        }
    }
    assert_eq!(
        super::ops_support::kiosk_pull_status(&app, &kiosk).await,
        200,
        "nothing was revoked"
    );
}

crate::on_both_backends!(outside_the_scope_every_action_route_is_404_and_viewers_cannot_act);
