//! The real `countertop-hq serve` binary: SIGKILLed in the middle of a delivery, it sends
//! the delivery again after a restart under the same idempotency key (so the receiver
//! keeps it once); and two HQ processes on one PostgreSQL send one delivery.

use std::time::Duration;

use countertop_hq::open_storage;

use super::support::{bad_hour, kiosk, push_scores, Receiver, SECRET};
use crate::common::process::Server;
use crate::common::{database_url, Backend};

fn serve_args<'a>(db: &'a str, evaluate: &'a str) -> Vec<&'a str> {
    vec![
        "--database",
        db,
        "--webhook-secret",
        SECRET,
        "--alert-lease-seconds",
        "1",
        "--alert-retry-ms",
        "50",
        "--alert-evaluate-seconds",
        evaluate,
    ]
}

async fn hq_killed_mid_delivery_sends_it_again_once_by_idempotency_key(backend: Backend) {
    let (db, dir) = database_url(backend).await;
    let cwd = tempfile::tempdir().expect("dir");
    let hook = Receiver::start(&[]).await;
    hook.hold_first();
    let mut server = Server::start(cwd.path(), &serve_args(&db, "30"));
    let storage = open_storage(&db).await.expect("storage");
    storage
        .create_rule(&bad_hour(&hook.url))
        .await
        .expect("rule");
    let client = reqwest::Client::new();
    let k = kiosk(&client, &server.address, storage.as_ref(), "UTC").await;
    push_scores(
        &client,
        &server.address,
        &k,
        &[1, 1, 1, 1],
        chrono::Utc::now(),
    )
    .await;
    hook.wait_held().await;

    // SIGKILL while the receiver holds the request: no answer ever reached HQ.
    let mut child = server.child.take().expect("running");
    child.kill().expect("SIGKILL");
    child.wait().expect("reaped");

    let _restarted = Server::start(cwd.path(), &serve_args(&db, "30"));
    hook.wait_accepted(1).await;
    let seen = hook.seen();
    assert_eq!(seen.len(), 2, "the held attempt and one resend: {seen:?}");
    assert_eq!(seen[0].idempotency_key, seen[1].idempotency_key);
    assert_eq!(seen[0].body, seen[1].body);
    assert_eq!(hook.accepted_keys().len(), 1, "the receiver keeps it once");
    tokio::time::sleep(Duration::from_millis(1500)).await;
    assert_eq!(
        hook.seen().len(),
        2,
        "nothing more after the accepted attempt"
    );
    drop(dir);
}

crate::on_both_backends!(hq_killed_mid_delivery_sends_it_again_once_by_idempotency_key);

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_hq_processes_on_one_postgresql_send_one_delivery() {
    let (db, _) = database_url(Backend::Postgres).await;
    let cwd = tempfile::tempdir().expect("dir");
    let hook = Receiver::start(&[]).await;
    let a = Server::start(cwd.path(), &serve_args(&db, "1"));
    let b = Server::start(cwd.path(), &serve_args(&db, "1"));
    let storage = open_storage(&db).await.expect("storage");
    storage
        .create_rule(&bad_hour(&hook.url))
        .await
        .expect("rule");
    let client = reqwest::Client::new();
    let k = kiosk(&client, &a.address, storage.as_ref(), "UTC").await;
    let now = chrono::Utc::now();
    // Both processes see bad pushes for the store, at once.
    let (_, _) = tokio::join!(
        push_scores(&client, &a.address, &k, &[1, 1, 1, 1], now),
        push_scores(&client, &b.address, &k, &[1, 2, 1, 2], now),
    );
    hook.wait_accepted(1).await;
    // Both evaluate every store every second: give them a few rounds.
    tokio::time::sleep(Duration::from_millis(3000)).await;
    let seen = hook.seen();
    assert_eq!(
        seen.len(),
        1,
        "one alert, one delivery across two processes: {seen:?}"
    );
    let open = storage
        .alerts(&countertop_hq::storage::alerts::AlertQuery {
            stores: None,
            open_only: true,
            limit: 10,
        })
        .await
        .expect("alerts");
    assert_eq!(open.len(), 1);
}
