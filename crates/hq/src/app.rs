//! Building and running the server: bind (port 0 in tests), open storage, serve until
//! SIGTERM or Ctrl-C. Shutdown is graceful: the listener closes, requests in flight run
//! to completion, and since a push answers only after its transaction commits, no event
//! that was acknowledged as accepted is lost.

use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use tokio::net::TcpListener;
use tower_http::request_id::{MakeRequestUuid, PropagateRequestIdLayer, SetRequestIdLayer};
use tower_http::trace::TraceLayer;

use crate::metrics::Metrics;
use crate::routes::{router, AppState};
use crate::storage::{open_storage, Storage, StorageError};
use crate::throttle::{AttemptRules, AttemptThrottle, TrustedProxies};
use crate::tls::{LiveCertificate, TlsError, TlsFiles};

/// Limits on what one request may carry.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// Bytes on the wire (compressed or not).
    pub max_body_bytes: usize,
    /// Bytes after gzip decoding: the defence against gzip bombs.
    pub max_decoded_bytes: usize,
    /// Events in one push.
    pub max_events: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_body_bytes: 2 * 1024 * 1024,
            max_decoded_bytes: 8 * 1024 * 1024,
            max_events: 1000,
        }
    }
}

/// What the server needs to start.
#[derive(Debug, Clone)]
pub struct Settings {
    pub listen: String,
    pub database: String,
    pub limits: Limits,
    /// Longer requests are answered 503 `timeout`.
    pub request_timeout: Duration,
    /// Serve HTTPS with this certificate and key instead of plain HTTP.
    pub tls: Option<TlsFiles>,
    /// Reverse proxies whose `X-Forwarded-For` names the client (`--trusted-proxy`).
    pub trusted_proxies: Vec<ipnet::IpNet>,
    /// How hard enrollment attempts are throttled.
    pub enroll_throttle: AttemptRules,
    /// The web dashboard: session expiry, cookies, sign-in throttling.
    pub web: crate::web::WebSettings,
    /// Alerts: timing, channels, the clock.
    pub alerts: crate::alerts::AlertSettings,
    /// Daily and weekly digests: the local hour, the check interval. They use the alert
    /// engine's clock and outbox.
    pub digests: crate::alerts::digest::DigestSettings,
}

impl Settings {
    pub fn new(listen: impl Into<String>, database: impl Into<String>) -> Settings {
        Settings {
            listen: listen.into(),
            database: database.into(),
            limits: Limits::default(),
            request_timeout: Duration::from_secs(30),
            tls: None,
            trusted_proxies: Vec::new(),
            enroll_throttle: AttemptRules::enrollment(),
            web: crate::web::WebSettings::default(),
            alerts: crate::alerts::AlertSettings::default(),
            digests: crate::alerts::digest::DigestSettings::default(),
        }
    }
}

/// Errors while starting the server.
#[derive(Debug, thiserror::Error)]
pub enum StartError {
    #[error("cannot listen on {addr}: {source}")]
    Bind {
        addr: String,
        source: std::io::Error,
    },
    #[error(transparent)]
    Storage(#[from] StorageError),
    #[error(transparent)]
    Tls(#[from] TlsError),
}

/// A bound, ready-to-run server.
pub struct Application {
    listener: TcpListener,
    addr: SocketAddr,
    state: AppState,
    tls: Option<LiveCertificate>,
    digests: Arc<crate::alerts::digest::Digests>,
}

impl Application {
    /// Open storage and bind the listener (use port 0 for any free port).
    pub async fn build(settings: Settings) -> Result<Application, StartError> {
        let storage = open_storage(&settings.database).await?;
        Application::with_storage(settings, storage).await
    }

    /// Like [`Application::build`], with storage already open.
    pub async fn with_storage(
        settings: Settings,
        storage: Arc<dyn Storage>,
    ) -> Result<Application, StartError> {
        let tls = match settings.tls.clone() {
            Some(files) => Some(LiveCertificate::load(files).await?),
            None => None,
        };
        let listener = TcpListener::bind(&settings.listen)
            .await
            .map_err(|source| StartError::Bind {
                addr: settings.listen.clone(),
                source,
            })?;
        let addr = listener.local_addr().map_err(|source| StartError::Bind {
            addr: settings.listen.clone(),
            source,
        })?;
        let alerts = Arc::new(crate::alerts::Engine::new(
            Arc::clone(&storage),
            settings.alerts.clone(),
        ));
        let base_url = settings
            .web
            .public_url
            .clone()
            .unwrap_or_else(|| format!("http://{addr}"));
        let digests = Arc::new(crate::alerts::digest::Digests::new(
            Arc::clone(&storage),
            Arc::clone(&settings.alerts.clock),
            settings.digests.clone(),
            base_url,
        ));
        Ok(Application {
            digests,
            listener,
            addr,
            state: AppState {
                alerts,
                storage,
                metrics: Arc::new(Metrics::new()),
                limits: settings.limits,
                request_timeout: settings.request_timeout,
                trusted_proxies: Arc::new(TrustedProxies(settings.trusted_proxies)),
                enroll_throttle: Arc::new(AttemptThrottle::new(settings.enroll_throttle)),
                web: Arc::new(crate::web::WebState::new(
                    settings.web.clone(),
                    settings.tls.is_some(),
                )),
            },
            tls,
        })
    }

    pub fn local_addr(&self) -> SocketAddr {
        self.addr
    }

    /// The alert engine (tests drive it directly with an injected clock).
    pub fn alerts(&self) -> Arc<crate::alerts::Engine> {
        Arc::clone(&self.state.alerts)
    }

    /// The digest sender (tests drive it directly with an injected clock).
    pub fn digests(&self) -> Arc<crate::alerts::digest::Digests> {
        Arc::clone(&self.digests)
    }

    pub fn storage(&self) -> Arc<dyn Storage> {
        Arc::clone(&self.state.storage)
    }

    /// Serve until `shutdown` completes, then finish requests in flight. With
    /// [`Settings::tls`], HTTPS, reloading the certificate on SIGHUP.
    pub async fn run_until(
        self,
        shutdown: impl Future<Output = ()> + Send + 'static,
    ) -> std::io::Result<()> {
        // The alert engine runs beside the server and stops with it; anything it had in
        // flight stays in the outbox and is sent again after a restart.
        let engine = self
            .state
            .alerts
            .settings()
            .enabled
            .then(|| tokio::spawn(Arc::clone(&self.state.alerts).run()));
        let _stop_engine = AbortOnDrop(engine);
        // Digests are emails: without SMTP there is nothing to build them for.
        let alerts = self.state.alerts.settings();
        let digests = (alerts.enabled && alerts.smtp.is_some() && self.digests.settings().enabled)
            .then(|| tokio::spawn(Arc::clone(&self.digests).run()));
        let _stop_digests = AbortOnDrop(digests);
        let app = router(self.state)
            .layer(PropagateRequestIdLayer::x_request_id())
            // Spans name the path only: a query can hold a one-time token
            // (`/set-password?token=`), which must never reach a log.
            .layer(TraceLayer::new_for_http().make_span_with(
                |req: &axum::http::Request<axum::body::Body>| {
                    tracing::debug_span!(
                        "request",
                        method = %req.method(),
                        path = %req.uri().path(),
                        version = ?req.version(),
                    )
                },
            ))
            .layer(SetRequestIdLayer::x_request_id(MakeRequestUuid));
        if let Some(certificate) = self.tls {
            return crate::tls::serve(self.listener, app, certificate, shutdown).await;
        }
        // Peer addresses feed the throttle's client address (`throttle::ClientAddr`).
        axum::serve(
            self.listener,
            app.into_make_service_with_connect_info::<SocketAddr>(),
        )
        .with_graceful_shutdown(shutdown)
        .await
    }
}

/// Stops the alert engine when serving ends.
struct AbortOnDrop(Option<tokio::task::JoinHandle<()>>);

impl Drop for AbortOnDrop {
    fn drop(&mut self) {
        if let Some(h) = &self.0 {
            h.abort();
        }
    }
}

/// Resolves on SIGTERM or Ctrl-C.
pub async fn shutdown_signal() {
    let ctrl_c = async {
        if tokio::signal::ctrl_c().await.is_err() {
            std::future::pending::<()>().await;
        }
    };
    #[cfg(unix)]
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! {
        _ = ctrl_c => {},
        _ = term => {},
    }
    tracing::info!("shutting down: finishing requests in flight");
}
