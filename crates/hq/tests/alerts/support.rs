//! The test doubles alerts need: a webhook receiver that records every request and
//! answers from a script (500s first, or hold the first request forever), a small SMTP
//! sink, and an in-process HQ whose alert engine the test drives with a manual clock.

use std::collections::VecDeque;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use chrono::{DateTime, Utc};
use countertop_hq::alerts::rule::{Condition, Recipient, RuleSpec};
use countertop_hq::alerts::{Engine, ManualClock};
use countertop_hq::{Application, Settings, Storage};
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
use tokio::net::TcpListener;
use tokio::sync::{oneshot, Notify};
use uuid::Uuid;

use crate::common::{database_url, Backend};

pub const SECRET: &str = "test-webhook-secret";

/// One request the receiver saw.
#[derive(Debug, Clone)]
pub struct Seen {
    pub idempotency_key: String,
    pub signature: Option<String>,
    pub body: Bytes,
    pub status: u16,
}

#[derive(Default)]
struct ReceiverState {
    seen: Mutex<Vec<Seen>>,
    script: Mutex<VecDeque<u16>>,
    hold_first: Mutex<bool>,
    held: Notify,
}

/// A webhook receiver on loopback.
#[derive(Clone)]
pub struct Receiver {
    pub url: String,
    state: Arc<ReceiverState>,
}

async fn receive(
    State(state): State<Arc<ReceiverState>>,
    headers: HeaderMap,
    body: Bytes,
) -> StatusCode {
    let hold = std::mem::take(&mut *state.hold_first.lock().expect("lock"));
    let status = if hold {
        0
    } else {
        state
            .script
            .lock()
            .expect("lock")
            .pop_front()
            .unwrap_or(200)
    };
    let header = |n: &str| {
        headers
            .get(n)
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned)
    };
    state.seen.lock().expect("lock").push(Seen {
        idempotency_key: header("idempotency-key").unwrap_or_default(),
        signature: header("x-countertop-signature"),
        body,
        status,
    });
    if hold {
        state.held.notify_one();
        std::future::pending::<()>().await;
    }
    StatusCode::from_u16(status).unwrap_or(StatusCode::OK)
}

impl Receiver {
    /// Answers 200 to everything, after `script` (status codes) runs out.
    pub async fn start(script: &[u16]) -> Receiver {
        let state = Arc::new(ReceiverState::default());
        state.script.lock().expect("lock").extend(script);
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let url = format!("http://{}/hook", listener.local_addr().expect("addr"));
        let app = axum::Router::new()
            .route("/hook", axum::routing::post(receive))
            .with_state(Arc::clone(&state));
        tokio::spawn(async move { axum::serve(listener, app).await });
        Receiver { url, state }
    }

    /// The first request is recorded and never answered.
    pub fn hold_first(&self) {
        *self.state.hold_first.lock().expect("lock") = true;
    }

    pub async fn wait_held(&self) {
        tokio::time::timeout(Duration::from_secs(20), self.state.held.notified())
            .await
            .expect("a delivery reached the receiver");
    }

    pub fn seen(&self) -> Vec<Seen> {
        self.state.seen.lock().expect("lock").clone()
    }

    /// Requests answered 2xx, once per idempotency key (what a receiver keeps).
    pub fn accepted_keys(&self) -> Vec<String> {
        let mut keys: Vec<String> = self
            .seen()
            .into_iter()
            .filter(|s| (200..300).contains(&s.status))
            .map(|s| s.idempotency_key)
            .collect();
        keys.sort();
        keys.dedup();
        keys
    }

    /// Wait (polling, up to 20 s) until `n` requests were accepted.
    pub async fn wait_accepted(&self, n: usize) {
        let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
        while self.accepted_keys().len() < n {
            assert!(
                tokio::time::Instant::now() < deadline,
                "expected {n} accepted deliveries, saw {:?}",
                self.seen()
            );
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }
}

/// One email the sink received.
#[derive(Debug, Clone)]
pub struct Mail {
    pub rcpt: Vec<String>,
    pub data: String,
}

/// A plain SMTP sink on loopback, enough for lettre: EHLO, MAIL, RCPT, DATA, QUIT.
#[derive(Clone)]
pub struct SmtpSink {
    pub port: u16,
    pub mails: Arc<Mutex<Vec<Mail>>>,
}

impl SmtpSink {
    pub async fn start() -> SmtpSink {
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let port = listener.local_addr().expect("addr").port();
        let mails = Arc::new(Mutex::new(Vec::new()));
        let store = Arc::clone(&mails);
        tokio::spawn(async move {
            while let Ok((stream, _)) = listener.accept().await {
                let store = Arc::clone(&store);
                tokio::spawn(async move {
                    let (r, mut w) = stream.into_split();
                    let mut lines = BufReader::new(r).lines();
                    let _ = w.write_all(b"220 sink ESMTP\r\n").await;
                    let mut rcpt = Vec::new();
                    while let Ok(Some(line)) = lines.next_line().await {
                        let upper = line.to_ascii_uppercase();
                        let reply: &[u8] = if upper.starts_with("EHLO") || upper.starts_with("HELO")
                        {
                            b"250-sink\r\n250 8BITMIME\r\n"
                        } else if upper.starts_with("RCPT TO:") {
                            rcpt.push(line[8..].trim().trim_matches(['<', '>']).to_owned());
                            b"250 ok\r\n"
                        } else if upper.starts_with("DATA") {
                            let _ = w.write_all(b"354 go on\r\n").await;
                            let mut data = String::new();
                            while let Ok(Some(l)) = lines.next_line().await {
                                if l == "." {
                                    break;
                                }
                                data.push_str(&l);
                                data.push('\n');
                            }
                            store.lock().expect("lock").push(Mail {
                                rcpt: std::mem::take(&mut rcpt),
                                data,
                            });
                            b"250 queued\r\n"
                        } else if upper.starts_with("QUIT") {
                            let _ = w.write_all(b"221 bye\r\n").await;
                            break;
                        } else {
                            b"250 ok\r\n"
                        };
                        if w.write_all(reply).await.is_err() {
                            break;
                        }
                    }
                });
            }
        });
        SmtpSink { port, mails }
    }

    pub fn mails(&self) -> Vec<Mail> {
        self.mails.lock().expect("lock").clone()
    }
}

/// An in-process HQ whose alert engine does not run by itself: the test moves the clock,
/// then calls [`Engine::evaluate`] and [`Engine::deliver_due`].
pub struct AlertApp {
    pub address: String,
    pub client: reqwest::Client,
    pub storage: Arc<dyn Storage>,
    pub engine: Arc<Engine>,
    pub clock: Arc<ManualClock>,
    /// The engine runs by itself, on the system clock.
    running: bool,
    _dir: Option<tempfile::TempDir>,
    _shutdown: oneshot::Sender<()>,
}

/// Start an HQ on `backend`; `running` starts its engine on the real clock instead.
pub async fn alert_app(
    backend: Backend,
    running: bool,
    tweak: impl FnOnce(&mut Settings),
) -> AlertApp {
    let (url, dir) = database_url(backend).await;
    // Two hours back, so ratings stamped at the clock as it moves on are never "in the
    // future" for ingest (which would re-stamp them with the receipt time).
    let clock = Arc::new(ManualClock::new(Utc::now() - chrono::Duration::hours(2)));
    let mut settings = Settings::new("127.0.0.1:0", &url);
    settings.alerts.webhook_secret = Some(SECRET.into());
    settings.alerts.retry_base = Duration::from_millis(20);
    settings.alerts.poll_every = Duration::from_millis(20);
    settings.alerts.enabled = running;
    if !running {
        settings.alerts.clock = clock.clone();
    }
    tweak(&mut settings);
    let app = Application::build(settings).await.expect("app builds");
    let address = format!("http://{}", app.local_addr());
    let (storage, engine) = (app.storage(), app.alerts());
    let (tx, rx) = oneshot::channel::<()>();
    tokio::spawn(app.run_until(async {
        let _ = rx.await;
    }));
    AlertApp {
        address,
        client: reqwest::Client::new(),
        storage,
        engine,
        clock,
        running,
        _dir: dir,
        _shutdown: tx,
    }
}

/// A kiosk's credentials.
pub struct Kiosk {
    pub store_id: Uuid,
    pub token: String,
}

impl AlertApp {
    pub async fn kiosk(&self, tz: &str) -> Kiosk {
        kiosk(&self.client, &self.address, self.storage.as_ref(), tz).await
    }

    /// Push ratings with these scores, at the engine's clock's time.
    pub async fn push_scores(&self, kiosk: &Kiosk, scores: &[u8]) {
        let at = if self.running {
            Utc::now()
        } else {
            self.clock_now()
        };
        push_scores(&self.client, &self.address, kiosk, scores, at).await
    }

    pub fn clock_now(&self) -> DateTime<Utc> {
        use countertop_hq::alerts::Clock;
        self.clock.now()
    }

    /// Evaluate every rule and send what is due.
    pub async fn tick(&self) -> usize {
        self.engine.evaluate(None).await.expect("evaluate");
        self.engine.deliver_due().await.expect("deliver")
    }
}

pub async fn kiosk(
    client: &reqwest::Client,
    address: &str,
    storage: &dyn Storage,
    tz: &str,
) -> Kiosk {
    let store = countertop_hq::admin::add_store(storage, "Corner <Coffee>", tz)
        .await
        .expect("store");
    let code = countertop_hq::admin::issue_enroll_code(storage, store, chrono::Duration::hours(1))
        .await
        .expect("code");
    let resp = client
        .post(format!("{address}/api/v1/enroll"))
        .json(&serde_json::json!({"protocol": "1.0", "code": code, "device_name": "counter"}))
        .send()
        .await
        .expect("enroll");
    assert_eq!(resp.status(), 201);
    let body: serde_json::Value = resp.json().await.expect("json");
    Kiosk {
        store_id: store,
        token: body["device_token"].as_str().expect("token").to_owned(),
    }
}

pub async fn push_scores(
    client: &reqwest::Client,
    address: &str,
    kiosk: &Kiosk,
    scores: &[u8],
    at: DateTime<Utc>,
) {
    let events: Vec<_> = scores
        .iter()
        .map(|s| crate::common::rating_at(at, *s))
        .collect();
    let resp = client
        .post(format!("{address}/api/v1/events"))
        .bearer_auth(&kiosk.token)
        .json(&serde_json::json!({"protocol": "1.0", "events": events}))
        .send()
        .await
        .expect("push");
    assert_eq!(resp.status(), 200);
}

/// "50 % unhappy in the last 15 minutes, at least 4 answers", to `url`.
pub fn bad_hour(url: &str) -> RuleSpec {
    RuleSpec {
        name: "Bad hour".into(),
        stores: vec![],
        touchpoint: None,
        condition: Condition::UnhappyShareAbove { percent: 50.0 },
        window_minutes: 15,
        min_answers: 4,
        pending_seconds: 0,
        repeat_seconds: 0,
        recipients: vec![Recipient::Webhook { url: url.into() }],
    }
}

/// The payload of a request, as JSON.
pub fn json(seen: &Seen) -> serde_json::Value {
    serde_json::from_slice(&seen.body).expect("webhook body is JSON")
}
