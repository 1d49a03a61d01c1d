//! A small HTTP/1.1 fault proxy between a kiosk and a real HQ process.
//!
//! It keeps the kiosk's connections alive (and counts them, so a test can see whether
//! the kiosk reuses them) and forwards each request to HQ on a fresh upstream connection.
//! Each request meets either a random fault (with [`FaultProxy::start`]): a refused or
//! dropped connection, a drop after HQ committed but before the response arrived (the
//! classic duplicate maker), a slow response, a 500, or a 429 with `Retry-After`; or the
//! verdict of a [`Rule`] that sees the request's method, path and (gunzipped) body.
#![allow(dead_code)]

use std::io::Read;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Fault {
    Pass,
    Refuse,
    DropMidRequest,
    DropAfterCommit,
    Slow,
    ServerError,
    TooManyRequests,
}

const FAULTS: [Fault; 6] = [
    Fault::Refuse,
    Fault::DropMidRequest,
    Fault::DropAfterCommit,
    Fault::Slow,
    Fault::ServerError,
    Fault::TooManyRequests,
];

/// What a [`Rule`] does with one request.
#[derive(Debug, Clone)]
pub enum Action {
    Pass,
    /// Answer 500 without asking HQ.
    ServerError,
    /// Forward to HQ, then hold HQ's answer until the flag is set (at most a minute).
    HoldUntil(Arc<AtomicBool>),
    /// Forward to HQ, and pass on its push answer with only the first `n` results.
    KeepResults(usize),
}

/// One request as a rule sees it; `body` is gunzipped when the request was gzip.
pub struct Seen<'a> {
    pub method: &'a str,
    pub path: &'a str,
    pub body: &'a [u8],
}

impl Seen<'_> {
    pub fn is_push(&self) -> bool {
        self.method == "POST" && self.path.starts_with("/api/v1/events")
    }

    pub fn is_config_pull(&self) -> bool {
        self.method == "GET" && self.path.contains("/config")
    }

    pub fn body_contains(&self, needle: &str) -> bool {
        self.body
            .windows(needle.len())
            .any(|w| w == needle.as_bytes())
    }
}

pub type Rule = Arc<dyn Fn(&Seen) -> Action + Send + Sync>;

#[derive(Default)]
pub struct Stats {
    /// TCP connections the kiosk opened to the proxy.
    pub connections: AtomicUsize,
    pub requests: AtomicUsize,
    pub pushes: AtomicUsize,
    pub config_pulls: AtomicUsize,
    pub faults: [AtomicUsize; 6],
}

pub struct FaultProxy {
    pub port: u16,
    pub enabled: Arc<AtomicBool>,
    pub stats: Arc<Stats>,
    _runtime: tokio::runtime::Runtime,
}

/// How the proxy picks what happens to each request.
#[derive(Clone)]
enum Mode {
    Random { percent: u32 },
    Rule(Rule),
}

impl FaultProxy {
    /// Proxies to `127.0.0.1:upstream`; with faults enabled, about `percent` % of
    /// requests meet a random fault.
    pub fn start(upstream: u16, percent: u32) -> FaultProxy {
        Self::launch(upstream, Mode::Random { percent })
    }

    /// Proxies to `127.0.0.1:upstream`, doing to each request what `rule` says once
    /// enabled, and passing everything on before.
    pub fn with_rule(
        upstream: u16,
        rule: impl Fn(&Seen) -> Action + Send + Sync + 'static,
    ) -> FaultProxy {
        Self::launch(upstream, Mode::Rule(Arc::new(rule)))
    }

    pub fn enable(&self, on: bool) {
        self.enabled.store(on, Ordering::Relaxed);
    }

    fn launch(upstream: u16, mode: Mode) -> FaultProxy {
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .expect("proxy runtime");
        let listener = runtime
            .block_on(TcpListener::bind("127.0.0.1:0"))
            .expect("proxy binds");
        let port = listener.local_addr().expect("addr").port();
        let enabled = Arc::new(AtomicBool::new(false));
        let stats = Arc::new(Stats::default());
        let (on, counts) = (enabled.clone(), stats.clone());
        runtime.spawn(async move {
            while let Ok((client, _)) = listener.accept().await {
                counts.connections.fetch_add(1, Ordering::Relaxed);
                let (on, counts, mode) = (on.clone(), counts.clone(), mode.clone());
                tokio::spawn(async move {
                    let _ = serve(client, upstream, &on, &counts, &mode).await;
                });
            }
        });
        FaultProxy {
            port,
            enabled,
            stats,
            _runtime: runtime,
        }
    }

    pub fn url(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    pub fn fault_count(&self, fault: Fault) -> usize {
        FAULTS
            .iter()
            .position(|f| *f == fault)
            .map(|i| self.stats.faults[i].load(Ordering::Relaxed))
            .unwrap_or(0)
    }

    pub fn count(counter: &AtomicUsize) -> usize {
        counter.load(Ordering::Relaxed)
    }
}

/// A random fault, counted, or `Pass`.
fn random_fault(percent: u32, counts: &Stats) -> Fault {
    if fastrand::u32(0..100) >= percent {
        return Fault::Pass;
    }
    let i = fastrand::usize(0..FAULTS.len());
    counts.faults[i].fetch_add(1, Ordering::Relaxed);
    FAULTS[i]
}

/// Serves the kiosk's requests on one connection until either side closes it or a
/// fault drops it.
async fn serve(
    mut client: TcpStream,
    upstream: u16,
    on: &AtomicBool,
    counts: &Stats,
    mode: &Mode,
) -> std::io::Result<()> {
    loop {
        let random = match mode {
            Mode::Random { percent } if on.load(Ordering::Relaxed) => {
                random_fault(*percent, counts)
            }
            _ => Fault::Pass,
        };
        if random == Fault::Refuse {
            return Ok(()); // closed at once: the kiosk sees a reset
        }
        let Some((head, body)) = read_request(&mut client).await? else {
            return Ok(());
        };
        counts.requests.fetch_add(1, Ordering::Relaxed);
        let decoded = decoded_body(&head, &body);
        let (method, path) = request_line(&head);
        let seen = Seen {
            method,
            path,
            body: &decoded,
        };
        if seen.is_push() {
            counts.pushes.fetch_add(1, Ordering::Relaxed);
        }
        if seen.is_config_pull() {
            counts.config_pulls.fetch_add(1, Ordering::Relaxed);
        }
        let action = match mode {
            Mode::Rule(rule) if on.load(Ordering::Relaxed) => rule(&seen),
            _ => Action::Pass,
        };
        match random {
            Fault::DropMidRequest => return Ok(()), // HQ never sees it
            Fault::ServerError => return client.write_all(SERVER_ERROR.as_bytes()).await,
            Fault::TooManyRequests => {
                let msg = "HTTP/1.1 429 Too Many Requests\r\nretry-after: 1\r\n\
                           content-length: 0\r\nconnection: close\r\n\r\n";
                return client.write_all(msg.as_bytes()).await;
            }
            _ => {}
        }
        if matches!(action, Action::ServerError) {
            client.write_all(SERVER_ERROR_KEEP.as_bytes()).await?;
            continue;
        }
        let response = forward(upstream, &head, &body).await?;
        let (mut head, mut body) = split_response(&response);
        match (random, action) {
            (Fault::DropAfterCommit, _) => return Ok(()), // HQ committed; no answer
            (Fault::Slow, _) => {
                tokio::time::sleep(Duration::from_millis(300 + fastrand::u64(0..1200))).await
            }
            (_, Action::HoldUntil(released)) => {
                for _ in 0..6000 {
                    if released.load(Ordering::SeqCst) {
                        break;
                    }
                    tokio::time::sleep(Duration::from_millis(10)).await;
                }
            }
            (_, Action::KeepResults(n)) => {
                body = keep_results(&body, n);
                head = with_length(&head, body.len());
            }
            _ => {}
        }
        let framed = is_framed(&head);
        client.write_all(keep_alive(&head).as_bytes()).await?;
        client.write_all(&body).await?;
        if !framed {
            return Ok(()); // the body ends at EOF: the connection cannot be reused
        }
    }
}

const SERVER_ERROR: &str =
    "HTTP/1.1 500 Internal Server Error\r\ncontent-type: application/json\r\n\
                            content-length: 2\r\nconnection: close\r\n\r\n{}";
const SERVER_ERROR_KEEP: &str =
    "HTTP/1.1 500 Internal Server Error\r\ncontent-type: application/json\r\n\
     content-length: 2\r\n\r\n{}";

/// Sends one request to HQ on its own connection and reads the whole answer.
async fn forward(upstream: u16, head: &str, body: &[u8]) -> std::io::Result<Vec<u8>> {
    let mut hq = TcpStream::connect(("127.0.0.1", upstream)).await?;
    hq.write_all(closing(head).as_bytes()).await?;
    hq.write_all(body).await?;
    let mut response = Vec::new();
    hq.read_to_end(&mut response).await?;
    Ok(response)
}

/// Reads one whole request: head and `Content-Length` body.
async fn read_request(client: &mut TcpStream) -> std::io::Result<Option<(String, Vec<u8>)>> {
    let mut buf = Vec::new();
    let mut chunk = [0u8; 8192];
    let head_end = loop {
        if let Some(pos) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
            break pos + 4;
        }
        let n = client.read(&mut chunk).await?;
        if n == 0 {
            return Ok(None);
        }
        buf.extend_from_slice(&chunk[..n]);
    };
    let head = String::from_utf8_lossy(&buf[..head_end]).into_owned();
    let length = header(&head, "content-length")
        .and_then(|v| v.parse::<usize>().ok())
        .unwrap_or(0);
    let mut body = buf[head_end..].to_vec();
    while body.len() < length {
        let n = client.read(&mut chunk).await?;
        if n == 0 {
            return Ok(None);
        }
        body.extend_from_slice(&chunk[..n]);
    }
    Ok(Some((head, body)))
}

fn header<'a>(head: &'a str, name: &str) -> Option<&'a str> {
    head.lines().find_map(|l| {
        let (key, value) = l.split_once(':')?;
        key.trim()
            .eq_ignore_ascii_case(name)
            .then_some(value.trim())
    })
}

fn request_line(head: &str) -> (&str, &str) {
    let mut parts = head.lines().next().unwrap_or_default().split(' ');
    (
        parts.next().unwrap_or_default(),
        parts.next().unwrap_or_default(),
    )
}

fn decoded_body(head: &str, body: &[u8]) -> Vec<u8> {
    if header(head, "content-encoding").is_some_and(|v| v.eq_ignore_ascii_case("gzip")) {
        let mut out = Vec::new();
        if flate2::read::GzDecoder::new(body)
            .read_to_end(&mut out)
            .is_ok()
        {
            return out;
        }
    }
    body.to_vec()
}

/// The request head with `Connection: close`, so HQ ends its response with EOF.
fn closing(head: &str) -> String {
    let mut out = String::new();
    for line in head.trim_end().lines() {
        if !line.to_ascii_lowercase().starts_with("connection:") {
            out.push_str(line);
            out.push_str("\r\n");
        }
    }
    out.push_str("Connection: close\r\n\r\n");
    out
}

/// The response head without HQ's `connection: close`, so the kiosk may keep its
/// connection to the proxy.
fn keep_alive(head: &str) -> String {
    let mut out = String::new();
    for line in head.trim_end().lines() {
        if !line.to_ascii_lowercase().starts_with("connection:") {
            out.push_str(line);
            out.push_str("\r\n");
        }
    }
    out.push_str("\r\n");
    out
}

fn split_response(response: &[u8]) -> (String, Vec<u8>) {
    let end = response
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .map_or(response.len(), |p| p + 4);
    (
        String::from_utf8_lossy(&response[..end]).into_owned(),
        response[end..].to_vec(),
    )
}

fn is_framed(head: &str) -> bool {
    header(head, "content-length").is_some()
        || header(head, "transfer-encoding").is_some_and(|v| v.contains("chunked"))
}

fn with_length(head: &str, length: usize) -> String {
    assert!(
        header(head, "transfer-encoding").is_none(),
        "the proxy rewrites only Content-Length answers"
    );
    let mut out = String::new();
    for line in head.trim_end().lines() {
        if !line.to_ascii_lowercase().starts_with("content-length:") {
            out.push_str(line);
            out.push_str("\r\n");
        }
    }
    out.push_str(&format!("content-length: {length}\r\n\r\n"));
    out
}

/// A push answer with only its first `n` results; any other body unchanged.
fn keep_results(body: &[u8], n: usize) -> Vec<u8> {
    let Ok(mut json) = serde_json::from_slice::<serde_json::Value>(body) else {
        return body.to_vec();
    };
    if let Some(results) = json.get_mut("results").and_then(|r| r.as_array_mut()) {
        results.truncate(n);
    }
    serde_json::to_vec(&json).unwrap_or_else(|_| body.to_vec())
}
