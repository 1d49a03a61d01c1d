//! HTTPS served by HQ itself (rustls, through axum-server), for kiosks and browsers that
//! reach it across the internet with no reverse proxy in front.
//!
//! The certificate and key are read at start, where a bad file stops HQ with the reason,
//! and again on every SIGHUP, so a renewed certificate needs no restart: connections
//! already open keep going, new handshakes get the new certificate. A file that cannot
//! be used on SIGHUP (half-written, wrong key, not PEM) changes nothing: the certificate
//! in use stays, and the log says why.

use std::future::Future;
use std::net::SocketAddr;
use std::path::PathBuf;

use axum::Router;
use axum_server::tls_rustls::RustlsConfig;
use axum_server::Handle;
use tokio::net::TcpListener;

/// Where HQ's certificate chain and private key live (PEM files).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TlsFiles {
    /// The server certificate first, then any intermediates.
    pub cert: PathBuf,
    /// The private key (PKCS#8, PKCS#1 or SEC1).
    pub key: PathBuf,
}

/// A certificate and key that cannot be used.
#[derive(Debug, thiserror::Error)]
#[error(
    "cannot use the TLS certificate {cert} with the key {key}: {source} (both must be \
     readable PEM files, the key the one the certificate was made for)"
)]
pub struct TlsError {
    cert: PathBuf,
    key: PathBuf,
    source: std::io::Error,
}

/// The certificate in use, which SIGHUP replaces.
#[derive(Debug)]
pub struct LiveCertificate {
    files: TlsFiles,
    config: RustlsConfig,
    /// Listened to from the moment the certificate is loaded, so a SIGHUP that comes
    /// before serving starts is not fatal (its default action ends the process).
    hangup: Option<tokio::signal::unix::Signal>,
}

impl LiveCertificate {
    /// Reads the files; fails with the reason when they cannot serve.
    pub async fn load(files: TlsFiles) -> Result<LiveCertificate, TlsError> {
        let config = RustlsConfig::from_pem_file(&files.cert, &files.key)
            .await
            .map_err(|source| error(&files, source))?;
        let hangup = match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::hangup()) {
            Ok(signal) => Some(signal),
            Err(e) => {
                tracing::warn!(
                    "cannot listen for SIGHUP, so the TLS certificate will not reload: {e}"
                );
                None
            }
        };
        Ok(LiveCertificate {
            files,
            config,
            hangup,
        })
    }

    /// Reads the files again. On failure the certificate in use stays.
    pub async fn reload(&self) -> Result<(), TlsError> {
        self.config
            .reload_from_pem_file(&self.files.cert, &self.files.key)
            .await
            .map_err(|source| error(&self.files, source))
    }

    /// Reloads on every SIGHUP, forever, logging each outcome.
    async fn reload_on_sighup(mut self) {
        let Some(mut hangup) = self.hangup.take() else {
            return;
        };
        while hangup.recv().await.is_some() {
            match self.reload().await {
                Ok(()) => tracing::info!(
                    cert = %self.files.cert.display(),
                    "SIGHUP: TLS certificate reloaded; new connections use it"
                ),
                Err(e) => tracing::warn!("SIGHUP: kept the TLS certificate in use: {e}"),
            }
        }
    }
}

fn error(files: &TlsFiles, source: std::io::Error) -> TlsError {
    TlsError {
        cert: files.cert.clone(),
        key: files.key.clone(),
        source,
    }
}

/// Serves `app` over HTTPS on `listener` until `shutdown` completes, then lets requests
/// in flight finish, as the plain HTTP server does.
pub(crate) async fn serve(
    listener: TcpListener,
    app: Router,
    certificate: LiveCertificate,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    let listener = listener.into_std()?;
    let handle: Handle<SocketAddr> = Handle::new();
    let stopper = handle.clone();
    let stop = tokio::spawn(async move {
        shutdown.await;
        stopper.graceful_shutdown(None);
    });
    tracing::debug!(cert = %certificate.files.cert.display(), "serving HTTPS");
    let config = certificate.config.clone();
    let reloads = tokio::spawn(certificate.reload_on_sighup());
    let served = axum_server::from_tcp_rustls(listener, config)?
        .handle(handle)
        .serve(app.into_make_service_with_connect_info::<SocketAddr>())
        .await;
    reloads.abort();
    stop.abort();
    served
}
