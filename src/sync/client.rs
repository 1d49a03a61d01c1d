//! The kiosk's HTTP client for head office: enroll, push events (gzip), pull config.
//! Every failure says whether trying again can help, and how long HQ asked us to wait.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::time::Duration;

use countertop_protocol::{
    ConfigResponse, EnrollRequest, EnrollResponse, ErrorBody, EventOutcome, EventResult,
    PushRequest, PushResponse, RegularsResponse, PROTOCOL_VERSION,
};
use reqwest::StatusCode;
use uuid::Uuid;

use crate::store::{HqLink, PendingEvent};

/// Why a call to HQ failed.
#[derive(Debug, Clone, thiserror::Error)]
pub enum HqError {
    #[error("cannot reach HQ at {url}: {reason}")]
    Unreachable { url: String, reason: String },
    #[error("HQ answered {status}: {message}")]
    Status {
        status: StatusCode,
        code: String,
        message: String,
        retry_after: Option<Duration>,
    },
    #[error("HQ sent an answer this kiosk cannot read: {0}")]
    BadResponse(String),
    #[error("{0} is not an HQ address (expected http://host:port or https://host)")]
    BadUrl(String),
    #[error("{0}")]
    CaFile(String),
}

impl HqError {
    /// True when the network, not HQ, is the problem: worth probing for its return.
    pub fn is_unreachable(&self) -> bool {
        matches!(self, HqError::Unreachable { .. })
    }

    pub fn retry_after(&self) -> Option<Duration> {
        match self {
            HqError::Status { retry_after, .. } => *retry_after,
            _ => None,
        }
    }

    /// The HTTP status HQ answered, if it answered at all.
    pub fn status(&self) -> Option<StatusCode> {
        match self {
            HqError::Status { status, .. } => Some(*status),
            _ => None,
        }
    }
}

/// How the kiosk's HTTP client is built. One place to add an option (a trusted CA, a
/// proxy) without touching every caller: `HqClient::with_options(url, options)`.
#[derive(Debug, Clone)]
pub struct ClientOptions {
    pub connect_timeout: Duration,
    pub timeout: Duration,
    /// Extra CAs to trust for HQ's certificate (`sync.ca_file`), beside the public ones.
    pub ca_file: Option<PathBuf>,
}

impl Default for ClientOptions {
    fn default() -> Self {
        ClientOptions {
            connect_timeout: Duration::from_secs(10),
            timeout: Duration::from_secs(60),
            ca_file: None,
        }
    }
}

/// A client bound to one HQ. It holds a connection pool: keep one for as long as the HQ
/// address stays the same, so connections are reused across requests and rounds.
#[derive(Clone)]
pub struct HqClient {
    http: reqwest::Client,
    base: String,
}

impl HqClient {
    /// A client for HQ at `base`, trusting the CAs in `ca_file` (`sync.ca_file`) as well as
    /// the public ones, with the default timeouts.
    pub fn new(base: &str, ca_file: Option<&Path>) -> Result<Self, HqError> {
        let options = ClientOptions {
            ca_file: ca_file.map(Path::to_path_buf),
            ..ClientOptions::default()
        };
        Self::with_options(base, &options)
    }

    pub fn with_options(base: &str, options: &ClientOptions) -> Result<Self, HqError> {
        let base = normalize_base(base);
        if !(base.starts_with("http://") || base.starts_with("https://")) {
            return Err(HqError::BadUrl(base));
        }
        let mut builder = reqwest::Client::builder();
        if let Some(path) = &options.ca_file {
            let certs =
                crate::config::read_ca_file(path).map_err(|e| HqError::CaFile(e.to_string()))?;
            for cert in certs {
                builder = builder.add_root_certificate(cert);
            }
        }
        let http = builder
            .connect_timeout(options.connect_timeout)
            .timeout(options.timeout)
            .user_agent(concat!("countertop/", env!("CARGO_PKG_VERSION")))
            .build()
            .map_err(|e| HqError::BadUrl(format!("{base} ({e})")))?;
        Ok(HqClient { http, base })
    }

    pub fn base(&self) -> &str {
        &self.base
    }

    /// True when this client talks to the HQ at `url` (as given at enrollment).
    pub fn serves(&self, url: &str) -> bool {
        self.base == normalize_base(url)
    }

    /// Trades a one-time enrollment code for this device's identity at HQ.
    pub async fn enroll(&self, code: &str, device_name: Option<String>) -> Result<HqLink, HqError> {
        let request = EnrollRequest {
            protocol: PROTOCOL_VERSION,
            code: code.trim().to_owned(),
            device_name,
        };
        let response = self
            .send(
                self.http
                    .post(format!("{}/api/v1/enroll", self.base))
                    .json(&request),
            )
            .await?;
        let enrolled: EnrollResponse = read_json(response).await?;
        Ok(HqLink {
            hq_url: self.base.clone(),
            device_id: enrolled.device_id,
            store_id: enrolled.store_id,
            device_token: enrolled.device_token,
        })
    }

    /// Pushes a batch of outbox rows as `countertop_protocol` events (a [`PushRequest`],
    /// gzip-compressed), shifting their times by `correction` (HQ's clock minus ours) when
    /// the device clock is known to be wrong.
    ///
    /// A row the protocol refuses, and so HQ would, is not sent: it is answered here in
    /// HQ's own words (rejected, with the protocol's code and reason), so sync quarantines
    /// it like any event HQ refuses and the rest flow on.
    pub async fn push(
        &self,
        token: &str,
        events: &[PendingEvent],
        correction: chrono::Duration,
    ) -> Result<PushResponse, HqError> {
        let mut refused = Vec::new();
        let mut sent_from = Vec::with_capacity(events.len());
        let mut request = PushRequest {
            protocol: PROTOCOL_VERSION,
            events: Vec::with_capacity(events.len()),
        };
        for (index, pending) in events.iter().enumerate() {
            match pending.to_event(correction) {
                Ok(event) => {
                    sent_from.push(index);
                    request.events.push(event);
                }
                Err(e) => refused.push(EventResult {
                    index,
                    id: Some(pending.id),
                    outcome: EventOutcome::Rejected {
                        code: e.code().to_owned(),
                        reason: e.to_string(),
                    },
                }),
            }
        }
        let mut response = if request.events.is_empty() {
            PushResponse {
                protocol: PROTOCOL_VERSION,
                server_time: chrono::Utc::now(),
                accepted: 0,
                duplicates: 0,
                rejected: 0,
                results: Vec::new(),
            }
        } else {
            let mut response = self.send_push(token, &request).await?;
            // HQ numbers the events it was sent; the caller numbers its whole batch.
            for result in &mut response.results {
                result.index = sent_from.get(result.index).copied().unwrap_or(usize::MAX);
            }
            response
        };
        response.rejected += refused.len();
        response.results.extend(refused);
        Ok(response)
    }

    async fn send_push(&self, token: &str, request: &PushRequest) -> Result<PushResponse, HqError> {
        let json = serde_json::to_vec(request).map_err(|e| HqError::BadResponse(e.to_string()))?;
        let compress_error =
            |e: std::io::Error| HqError::BadResponse(format!("cannot compress: {e}"));
        let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
        gz.write_all(&json).map_err(compress_error)?;
        let body = gz.finish().map_err(compress_error)?;
        let request = self
            .http
            .post(format!("{}/api/v1/events", self.base))
            .bearer_auth(token)
            .header(reqwest::header::CONTENT_TYPE, "application/json")
            .header(reqwest::header::CONTENT_ENCODING, "gzip")
            .body(body);
        read_json(self.send(request).await?).await
    }

    /// The store's survey if it changed since `cursor`.
    pub async fn pull_config(
        &self,
        token: &str,
        store: Uuid,
        cursor: u64,
    ) -> Result<ConfigResponse, HqError> {
        let response = self
            .send(
                self.http
                    .get(format!("{}/api/v1/stores/{store}/config", self.base))
                    .query(&[("cursor", cursor)])
                    .bearer_auth(token),
            )
            .await?;
        read_json(response).await
    }

    /// Regular profiles, visits and erasures changed since `cursor`, one page.
    pub async fn pull_regulars(
        &self,
        token: &str,
        store: Uuid,
        cursor: u64,
    ) -> Result<RegularsResponse, HqError> {
        let response = self
            .send(
                self.http
                    .get(format!("{}/api/v1/stores/{store}/regulars", self.base))
                    .query(&[("cursor", cursor)])
                    .bearer_auth(token),
            )
            .await?;
        read_json(response).await
    }

    /// Sends a request; a 4xx or 5xx becomes an [`HqError::Status`] with HQ's reason.
    async fn send(&self, request: reqwest::RequestBuilder) -> Result<reqwest::Response, HqError> {
        let response = request.send().await.map_err(|e| HqError::Unreachable {
            url: self.base.clone(),
            reason: describe(&e),
        })?;
        let status = response.status();
        if status.is_success() {
            return Ok(response);
        }
        let retry_after = response
            .headers()
            .get(reqwest::header::RETRY_AFTER)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.trim().parse::<u64>().ok())
            .map(Duration::from_secs);
        let text = response.text().await.unwrap_or_default();
        let (code, message) = match serde_json::from_str::<ErrorBody>(&text) {
            Ok(body) => (body.error, body.message),
            Err(_) => (
                "http_error".to_owned(),
                text.chars().take(200).collect::<String>(),
            ),
        };
        Err(HqError::Status {
            status,
            code,
            message,
            retry_after,
        })
    }
}

/// An HQ address as the client keeps it: no trailing slash.
fn normalize_base(base: &str) -> String {
    base.trim().trim_end_matches('/').to_owned()
}

async fn read_json<T: serde::de::DeserializeOwned>(
    response: reqwest::Response,
) -> Result<T, HqError> {
    let bytes = response
        .bytes()
        .await
        .map_err(|e| HqError::BadResponse(describe(&e)))?;
    serde_json::from_slice(&bytes).map_err(|e| HqError::BadResponse(e.to_string()))
}

/// reqwest's errors hide their cause; this names it ("connection refused", "timed out").
fn describe(error: &reqwest::Error) -> String {
    let mut text = error.to_string();
    let mut source = std::error::Error::source(error);
    while let Some(cause) = source {
        text = format!("{text}: {cause}");
        source = cause.source();
    }
    text
}
