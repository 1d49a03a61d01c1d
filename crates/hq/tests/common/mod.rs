//! Shared test helpers: `spawn_app()` starts the real server on port 0 against a fresh
//! database (SQLite file or PostgreSQL database), in the style of Zero To Production.

#![allow(dead_code)]

pub mod certs;
pub mod pg;
pub mod process;
pub mod web;

use std::io::Write;
use std::sync::Arc;

use chrono::{DateTime, Duration, Utc};
use countertop_hq::{admin, Application, Settings, Storage};
use serde_json::{json, Value};
use tokio::sync::oneshot;
use uuid::Uuid;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    Postgres,
}

pub struct TestApp {
    pub address: String,
    pub client: reqwest::Client,
    pub storage: Arc<dyn Storage>,
    pub database_url: String,
    _dir: Option<tempfile::TempDir>,
    shutdown: Option<oneshot::Sender<()>>,
}

/// A kiosk enrolled through the API.
#[derive(Debug, Clone)]
pub struct Kiosk {
    pub device_id: Uuid,
    pub store_id: Uuid,
    pub token: String,
}

pub async fn database_url(backend: Backend) -> (String, Option<tempfile::TempDir>) {
    match backend {
        Backend::Sqlite => {
            let dir = tempfile::tempdir().expect("temp dir");
            let url = format!("sqlite:{}", dir.path().join("hq.db").display());
            (url, Some(dir))
        }
        Backend::Postgres => (pg::shared().fresh_database().await, None),
    }
}

pub async fn spawn_app(backend: Backend) -> TestApp {
    spawn_app_with(backend, |_| {}).await
}

pub async fn spawn_app_with(backend: Backend, tweak: impl FnOnce(&mut Settings)) -> TestApp {
    let (url, dir) = database_url(backend).await;
    let mut settings = Settings::new("127.0.0.1:0", &url);
    tweak(&mut settings);
    let app = Application::build(settings).await.expect("app builds");
    let address = format!("http://{}", app.local_addr());
    let storage = app.storage();
    let (tx, rx) = oneshot::channel::<()>();
    tokio::spawn(app.run_until(async {
        let _ = rx.await;
    }));
    TestApp {
        address,
        client: reqwest::Client::new(),
        storage,
        database_url: url,
        _dir: dir,
        shutdown: Some(tx),
    }
}

impl Drop for TestApp {
    fn drop(&mut self) {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
    }
}

impl TestApp {
    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.address)
    }

    pub async fn store(&self, name: &str, tz: &str) -> Uuid {
        admin::add_store(self.storage.as_ref(), name, tz)
            .await
            .expect("store added")
    }

    pub async fn enroll_code(&self, store: Uuid) -> String {
        admin::issue_enroll_code(self.storage.as_ref(), store, Duration::hours(24))
            .await
            .expect("code issued")
    }

    pub async fn api_token(&self) -> String {
        admin::issue_api_token(self.storage.as_ref(), "tests")
            .await
            .expect("token issued")
            .1
    }

    pub async fn enroll(&self, code: &str) -> reqwest::Response {
        self.client
            .post(self.url("/api/v1/enroll"))
            .json(&json!({"protocol": "1.0", "code": code, "device_name": "counter"}))
            .send()
            .await
            .expect("request sent")
    }

    /// A new store in `tz` with one enrolled kiosk.
    pub async fn kiosk_in(&self, tz: &str) -> Kiosk {
        let store = self.store("Corner Coffee", tz).await;
        self.kiosk_of(store).await
    }

    pub async fn kiosk(&self) -> Kiosk {
        self.kiosk_in("Asia/Ho_Chi_Minh").await
    }

    pub async fn kiosk_of(&self, store: Uuid) -> Kiosk {
        let code = self.enroll_code(store).await;
        let resp = self.enroll(&code).await;
        assert_eq!(resp.status(), 201, "enroll failed");
        let body: Value = resp.json().await.expect("json");
        Kiosk {
            device_id: body["device_id"]
                .as_str()
                .expect("id")
                .parse()
                .expect("uuid"),
            store_id: body["store_id"]
                .as_str()
                .expect("id")
                .parse()
                .expect("uuid"),
            token: body["device_token"].as_str().expect("token").to_owned(),
        }
    }

    pub async fn push(&self, token: &str, events: &[Value]) -> reqwest::Response {
        self.client
            .post(self.url("/api/v1/events"))
            .bearer_auth(token)
            .json(&json!({"protocol": "1.0", "events": events}))
            .send()
            .await
            .expect("request sent")
    }

    pub async fn push_ok(&self, token: &str, events: &[Value]) -> Value {
        let resp = self.push(token, events).await;
        assert_eq!(resp.status(), 200);
        resp.json().await.expect("json")
    }

    pub async fn report(&self, token: &str, query: &str) -> reqwest::Response {
        self.client
            .get(self.url(&format!("/api/v1/reports?{query}")))
            .bearer_auth(token)
            .send()
            .await
            .expect("request sent")
    }

    pub async fn report_ok(&self, query: &str) -> Value {
        let token = self.api_token().await;
        let resp = self.report(&token, query).await;
        assert_eq!(resp.status(), 200);
        resp.json().await.expect("json")
    }
}

/// A rating event at `at`, with a fresh UUIDv7.
pub fn rating_at(at: DateTime<Utc>, score: u8) -> Value {
    json!({
        "id": Uuid::now_v7(),
        "seq": 1,
        "device_time": at,
        "utc_offset_minutes": 420,
        "kind": "rating",
        "body": {
            "survey_version": 1, "touchpoint": "visit", "scale": 5, "score": score,
            "reasons": [], "suspected_repeat": false
        }
    })
}

pub fn rating(score: u8) -> Value {
    rating_at(Utc::now(), score)
}

pub fn gzip(bytes: &[u8]) -> Vec<u8> {
    let mut enc = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    enc.write_all(bytes).expect("gzip");
    enc.finish().expect("gzip")
}

pub fn statuses(resp: &Value) -> Vec<String> {
    resp["results"]
        .as_array()
        .expect("results")
        .iter()
        .map(|r| r["status"].as_str().unwrap_or("?").to_owned())
        .collect()
}

/// Define each listed `async fn name(backend: Backend)` as a test on SQLite and on
/// PostgreSQL.
#[macro_export]
macro_rules! on_both_backends {
    ($($name:ident),* $(,)?) => {
        mod sqlite {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $name() {
                    super::$name($crate::common::Backend::Sqlite).await
                }
            )*
        }
        mod postgres {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $name() {
                    super::$name($crate::common::Backend::Postgres).await
                }
            )*
        }
    };
}
