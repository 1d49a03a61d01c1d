//! A small HTTP/1.1 fault proxy between a kiosk and HQ. It takes one request per
//! connection, so every request can meet its own fault:
//! a refused connection, a drop mid-request, a drop after HQ committed but before the
//! response arrived (the classic duplicate maker), a slow response, a 500, or a 429 with
//! `Retry-After`.
#![allow(dead_code)]

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

#[derive(Default)]
pub struct Stats {
    pub requests: AtomicUsize,
    pub faults: [AtomicUsize; 6],
}

pub struct FaultProxy {
    pub port: u16,
    pub enabled: Arc<AtomicBool>,
    pub stats: Arc<Stats>,
    _runtime: tokio::runtime::Runtime,
}

impl FaultProxy {
    /// Proxies to `127.0.0.1:upstream`; with faults enabled, about `percent` % of
    /// requests meet a random fault.
    pub fn start(upstream: u16, percent: u32) -> FaultProxy {
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
                let fault = if on.load(Ordering::Relaxed) && fastrand::u32(0..100) < percent {
                    let i = fastrand::usize(0..FAULTS.len());
                    counts.faults[i].fetch_add(1, Ordering::Relaxed);
                    FAULTS[i]
                } else {
                    Fault::Pass
                };
                counts.requests.fetch_add(1, Ordering::Relaxed);
                tokio::spawn(async move {
                    let _ = serve(client, upstream, fault).await;
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
    let length = head
        .lines()
        .find_map(|l| {
            let (name, value) = l.split_once(':')?;
            name.trim()
                .eq_ignore_ascii_case("content-length")
                .then(|| value.trim().parse::<usize>().ok())?
        })
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

async fn serve(mut client: TcpStream, upstream: u16, fault: Fault) -> std::io::Result<()> {
    if fault == Fault::Refuse {
        return Ok(()); // accepted and closed at once: the kiosk sees a reset
    }
    let Some((head, body)) = read_request(&mut client).await? else {
        return Ok(());
    };
    match fault {
        Fault::DropMidRequest => return Ok(()), // HQ never sees it
        Fault::ServerError => {
            let msg = "HTTP/1.1 500 Internal Server Error\r\ncontent-type: application/json\r\n\
                       content-length: 2\r\nconnection: close\r\n\r\n{}";
            return client.write_all(msg.as_bytes()).await;
        }
        Fault::TooManyRequests => {
            let msg = "HTTP/1.1 429 Too Many Requests\r\nretry-after: 1\r\n\
                       content-length: 0\r\nconnection: close\r\n\r\n";
            return client.write_all(msg.as_bytes()).await;
        }
        _ => {}
    }
    let mut hq = TcpStream::connect(("127.0.0.1", upstream)).await?;
    hq.write_all(closing(&head).as_bytes()).await?;
    hq.write_all(&body).await?;
    let mut response = Vec::new();
    hq.read_to_end(&mut response).await?;
    match fault {
        Fault::DropAfterCommit => Ok(()), // HQ committed; the kiosk never hears
        Fault::Slow => {
            tokio::time::sleep(Duration::from_millis(300 + fastrand::u64(0..1200))).await;
            client.write_all(&response).await
        }
        _ => client.write_all(&response).await,
    }
}
