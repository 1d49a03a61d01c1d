//! Scope on every route, as a table over `countertop_hq::web::routes()`: a route added
//! later is checked without touching this file. For each route:
//! - signed out, a signed-in route sends to the sign-in page;
//! - a manager of store A asking for anything of store B gets 404 (like a missing store);
//! - a manager on an admin route gets 403;
//! - a viewer of store A may not post (403), except to `Access::Account` routes (its own
//!   sign-out and language).

use axum::http::Method;
use countertop_hq::storage::accounts::Role;
use countertop_hq::web::{routes, Access, Route};
use uuid::Uuid;

use crate::common::web::WebClient;
use crate::common::{spawn_app, Backend};

/// The route's path with `{store_id}` as `store` and any other parameter a fresh UUID.
fn path_for(route: &Route, store: Uuid) -> String {
    let mut out = String::new();
    let mut rest = route.path;
    while let Some(i) = rest.find('{') {
        out.push_str(&rest[..i]);
        let end = rest[i..].find('}').map(|e| i + e).expect("closing brace");
        let name = &rest[i + 1..end];
        if name == "store_id" {
            out.push_str(&store.to_string());
        } else {
            out.push_str(&Uuid::now_v7().to_string());
        }
        rest = &rest[end + 1..];
    }
    out.push_str(rest);
    out
}

async fn call(client: &WebClient, route: &Route, path: &str) -> u16 {
    let resp = if route.method == Method::POST {
        client.post(path, &[]).await
    } else {
        client
            .http
            .get(client.url(path))
            .header("accept", "text/html")
            .send()
            .await
            .expect("sent")
    };
    resp.status().as_u16()
}

async fn every_route_keeps_its_scope_and_role(backend: Backend) {
    let app = spawn_app(backend).await;
    let a = app.store("Store A", "Asia/Ho_Chi_Minh").await;
    let b = app.store("Store B", "Asia/Ho_Chi_Minh").await;
    let (_, manager) = app.signed_in(Role::Manager, &[a]).await;
    let (_, viewer) = app.signed_in(Role::Viewer, &[a]).await;
    let anonymous = WebClient::new(&app);
    let table = routes();
    assert!(table.len() >= 10, "the table lists the dashboard");
    let mut checked_store_routes = 0;
    for route in &table {
        let min = match route.access {
            Access::Public => continue,
            Access::Account => Role::Viewer,
            Access::Signed(min) => min,
        };
        let label = format!("{} {}", route.method, route.path);
        // Signed out: to the sign-in page (POSTs too: no token can be right).
        let status = call(&anonymous, route, &path_for(route, a)).await;
        assert!(
            status == 303 || (route.method == Method::POST && status == 403),
            "{label} signed out: {status}"
        );
        if route.takes_store() {
            checked_store_routes += 1;
            let status = call(&manager, route, &path_for(route, b)).await;
            assert_eq!(status, 404, "{label} as a manager of another store");
            let missing = Uuid::now_v7();
            let status = call(&manager, route, &path_for(route, missing)).await;
            assert_eq!(status, 404, "{label} for a store that does not exist");
        } else if min == Role::Admin {
            let status = call(&manager, route, &path_for(route, a)).await;
            assert_eq!(status, 403, "{label} as a manager");
        }
        let own_account = route.access == Access::Account;
        if !own_account && (route.method == Method::POST || min >= Role::Manager) {
            let status = call(&viewer, route, &path_for(route, a)).await;
            assert_eq!(status, 403, "{label} as a viewer (read-only)");
        }
    }
    eprintln!("{checked_store_routes} routes take a store id");
}

async fn a_manager_sees_only_their_stores(backend: Backend) {
    let app = spawn_app(backend).await;
    let a = app.store("Alpha Store", "Asia/Ho_Chi_Minh").await;
    app.store("Beta Store", "Asia/Ho_Chi_Minh").await;
    let (_, mut manager) = app.signed_in(Role::Manager, &[a]).await;
    let (_, body) = manager.get("/").await;
    assert!(body.contains("Alpha Store"));
    assert!(!body.contains("Beta Store"), "{body}");
    let (_, mut admin) = app.signed_in(Role::Admin, &[]).await;
    let (_, body) = admin.get("/").await;
    assert!(body.contains("Alpha Store") && body.contains("Beta Store"));
    // Admin-only entries are not in a manager's nav.
    let (_, body) = manager.get("/").await;
    assert!(!body.contains("href=\"/users\""), "{body}");
    assert!(!body.contains("href=\"/privacy\""));
    let (_, body) = admin.get("/").await;
    assert!(body.contains("href=\"/users\""));
}

crate::on_both_backends!(
    every_route_keeps_its_scope_and_role,
    a_manager_sees_only_their_stores,
);
