//! TLS, black-box: the real `countertop-hq` binary serving HTTPS with certificates the
//! test makes (reloaded on SIGHUP), and HQ connecting to a real PostgreSQL over TLS with
//! each libpq `sslmode`.

mod common;

use std::net::SocketAddr;
use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};

use common::certs::{ServerCert, TestCa};
use common::pg::{PgCluster, ServerTls};
use common::process::Server;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, ServerName};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio_rustls::client::TlsStream;

// ---------------------------------------------------------------- HTTPS served by HQ

/// A TLS connection to HQ from a client that trusts `ca_pem` only.
async fn connect(addr: SocketAddr, ca_pem: &str) -> Result<TlsStream<TcpStream>, String> {
    let mut roots = rustls::RootCertStore::empty();
    for cert in CertificateDer::pem_slice_iter(ca_pem.as_bytes()) {
        roots
            .add(cert.map_err(|e| e.to_string())?)
            .map_err(|e| e.to_string())?;
    }
    let config = rustls::ClientConfig::builder_with_provider(
        rustls::crypto::ring::default_provider().into(),
    )
    .with_safe_default_protocol_versions()
    .map_err(|e| e.to_string())?
    .with_root_certificates(roots)
    .with_no_client_auth();
    let tcp = TcpStream::connect(addr).await.map_err(|e| e.to_string())?;
    let name = ServerName::try_from("localhost").map_err(|e| e.to_string())?;
    tokio_rustls::TlsConnector::from(Arc::new(config))
        .connect(name, tcp)
        .await
        .map_err(|e| e.to_string())
}

/// The certificate the server presented on this connection, in DER.
fn presented(stream: &TlsStream<TcpStream>) -> Vec<u8> {
    stream
        .get_ref()
        .1
        .peer_certificates()
        .and_then(|certs| certs.first())
        .map(|c| c.to_vec())
        .expect("the server presented a certificate")
}

/// `GET /healthz` on an open connection (HTTP/1.1 keep-alive); returns the status code.
async fn healthz(stream: &mut TlsStream<TcpStream>) -> u16 {
    stream
        .write_all(b"GET /healthz HTTP/1.1\r\nHost: localhost\r\n\r\n")
        .await
        .expect("request written");
    let mut buf = Vec::new();
    let mut chunk = [0u8; 4096];
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let n = tokio::time::timeout(Duration::from_secs(10), stream.read(&mut chunk))
            .await
            .expect("answer within 10 s")
            .expect("read");
        assert!(n > 0, "connection closed before a full answer");
        buf.extend_from_slice(&chunk[..n]);
        let text = String::from_utf8_lossy(&buf);
        if let Some(end) = text.find("\r\n\r\n") {
            let head = text[..end].to_ascii_lowercase();
            let length: usize = head
                .lines()
                .find_map(|l| l.strip_prefix("content-length:"))
                .and_then(|v| v.trim().parse().ok())
                .expect("a content-length");
            if buf.len() >= end + 4 + length {
                let status = head
                    .split_whitespace()
                    .nth(1)
                    .and_then(|s| s.parse().ok())
                    .expect("a status line");
                return status;
            }
        }
        assert!(Instant::now() < deadline, "no full answer");
    }
}

fn sighup(server: &Server) {
    let pid = server.child.as_ref().expect("running").id();
    // SAFETY: kill with the pid of our own child.
    let rc = unsafe { libc::kill(pid as libc::pid_t, libc::SIGHUP) };
    assert_eq!(rc, 0, "SIGHUP sent");
}

fn addr_of(server: &Server) -> SocketAddr {
    server
        .address
        .trim_start_matches("http://")
        .parse()
        .expect("serve printed a socket address")
}

/// Starts `serve` over HTTPS with `cert` in `dir`; returns the server, its log, the files.
fn serve_https(
    dir: &Path,
    cert: &ServerCert,
) -> (
    Server,
    Arc<std::sync::Mutex<Vec<u8>>>,
    std::path::PathBuf,
    std::path::PathBuf,
) {
    let (cert_file, key_file) = cert.write(dir);
    let database = format!("sqlite:{}", dir.join("hq.db").display());
    let (server, log) = Server::start_captured(
        dir,
        &[
            "--database",
            &database,
            "--tls-cert",
            &cert_file.display().to_string(),
            "--tls-key",
            &key_file.display().to_string(),
        ],
    );
    (server, log, cert_file, key_file)
}

fn wait_for_log(log: &std::sync::Mutex<Vec<u8>>, needle: &str, times: usize) {
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let text = String::from_utf8_lossy(&log.lock().expect("log")).into_owned();
        if text.matches(needle).count() >= times {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "the log never said {needle:?} ({times}x): {text}"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
}

#[tokio::test]
async fn https_serves_a_renewed_certificate_after_sighup_without_dropping_open_connections() {
    let dir = tempfile::tempdir().expect("temp dir");
    let ca = TestCa::new("Countertop test CA");
    let first = ca.server_cert(&["localhost"]);
    let (mut server, log, cert_file, key_file) = serve_https(dir.path(), &first);
    let addr = addr_of(&server);

    let mut open = connect(addr, &ca.cert_pem()).await.expect("TLS handshake");
    assert_eq!(presented(&open), first.der, "serves the first certificate");
    assert_eq!(healthz(&mut open).await, 200);

    // Renewal: the files are replaced (atomically, as certbot does) and HQ is told.
    let second = ca.server_cert(&["localhost"]);
    assert_ne!(first.der, second.der);
    let staged = dir.path().join("staged");
    std::fs::create_dir(&staged).expect("staging dir");
    let (new_cert, new_key) = second.write(&staged);
    std::fs::rename(new_key, &key_file).expect("replace key");
    std::fs::rename(new_cert, &cert_file).expect("replace certificate");
    sighup(&server);
    wait_for_log(&log, "TLS certificate reloaded", 1);

    let mut fresh = connect(addr, &ca.cert_pem()).await.expect("TLS handshake");
    assert_eq!(
        presented(&fresh),
        second.der,
        "a new connection gets the renewed certificate"
    );
    assert_eq!(healthz(&mut fresh).await, 200);
    assert_eq!(
        healthz(&mut open).await,
        200,
        "the connection opened before the reload still answers"
    );
    assert!(server.terminate().success(), "graceful shutdown over TLS");
}

#[tokio::test]
async fn a_certificate_that_cannot_be_used_on_sighup_keeps_the_one_in_use_and_says_why() {
    let dir = tempfile::tempdir().expect("temp dir");
    let ca = TestCa::new("Countertop test CA");
    let first = ca.server_cert(&["localhost"]);
    let (mut server, log, cert_file, key_file) = serve_https(dir.path(), &first);
    let addr = addr_of(&server);

    // A half-written certificate file.
    std::fs::write(&cert_file, &first.cert_pem[..first.cert_pem.len() / 2]).expect("write");
    sighup(&server);
    wait_for_log(&log, "kept the TLS certificate in use", 1);
    let mut after = connect(addr, &ca.cert_pem()).await.expect("TLS handshake");
    assert_eq!(presented(&after), first.der, "still the first certificate");
    assert_eq!(healthz(&mut after).await, 200);

    // A new certificate with the old key: they do not belong together.
    let second = ca.server_cert(&["localhost"]);
    std::fs::write(&cert_file, &second.cert_pem).expect("write");
    std::fs::write(&key_file, &first.key_pem).expect("write");
    sighup(&server);
    wait_for_log(&log, "kept the TLS certificate in use", 2);
    let text = String::from_utf8_lossy(&log.lock().expect("log")).into_owned();
    assert!(
        text.contains(&cert_file.display().to_string()),
        "the warning names the file: {text}"
    );
    let after = connect(addr, &ca.cert_pem()).await.expect("TLS handshake");
    assert_eq!(presented(&after), first.der, "still the first certificate");
    assert!(server.terminate().success());
}

#[test]
fn serve_refuses_to_start_with_a_certificate_it_cannot_read() {
    let dir = tempfile::tempdir().expect("temp dir");
    let database = format!("sqlite:{}", dir.path().join("hq.db").display());
    let out = common::process::run(
        &[
            "serve",
            "--listen",
            "127.0.0.1:0",
            "--database",
            &database,
            "--tls-cert",
            "/nonexistent/cert.pem",
            "--tls-key",
            "/nonexistent/key.pem",
        ],
        dir.path(),
        &[],
    );
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("/nonexistent/cert.pem") && stderr.contains("No such file"),
        "{stderr}"
    );
    assert!(out.stdout.is_empty(), "printed no address");
}

// ------------------------------------------------------------- PostgreSQL over TLS

/// One TLS cluster for this binary: its CA, and a certificate naming 127.0.0.1 and
/// db.countertop.test.
struct TlsCluster {
    cluster: PgCluster,
    ca_file: std::path::PathBuf,
    other_ca_file: std::path::PathBuf,
    _dir: tempfile::TempDir,
}

fn tls_cluster() -> &'static TlsCluster {
    static CLUSTER: std::sync::OnceLock<TlsCluster> = std::sync::OnceLock::new();
    CLUSTER.get_or_init(|| {
        let dir = tempfile::tempdir().expect("temp dir");
        let ca = TestCa::new("Countertop test database CA");
        let cert = ca.server_cert(&["db.countertop.test", "127.0.0.1"]);
        let cluster = PgCluster::start_tls(
            &ServerTls {
                cert_pem: &cert.cert_pem,
                key_pem: &cert.key_pem,
                require_tls: true,
            },
            false,
        );
        let ca_file = ca.write_pem(&dir.path().join("db-ca.pem"));
        let other_ca_file =
            TestCa::new("Someone else's CA").write_pem(&dir.path().join("other.pem"));
        TlsCluster {
            cluster,
            ca_file,
            other_ca_file,
            _dir: dir,
        }
    })
}

/// A fresh database on the TLS cluster, its URL with `host` and `params` appended.
async fn tls_url(host: &str, params: &str) -> String {
    let c = tls_cluster();
    let url = c.cluster.fresh_database().await;
    let db = url.rsplit('/').next().expect("database name").to_owned();
    format!(
        "postgres://postgres@{host}:{}/{db}?{params}",
        c.cluster.port
    )
}

async fn open_err(url: &str) -> String {
    match countertop_hq::open_storage(url).await {
        Ok(_) => panic!("{url} connected, but should not"),
        Err(e) => e.to_string(),
    }
}

#[tokio::test]
async fn sslmode_require_connects_encrypted_without_checking_the_certificate() {
    // The cluster refuses TCP without TLS, so connecting at all proves encryption.
    let url = tls_url("127.0.0.1", "sslmode=require").await;
    let storage = countertop_hq::open_storage(&url).await.expect("connects");
    storage.ping().await.expect("answers");
}

#[tokio::test]
async fn sslmode_verify_full_connects_with_the_servers_ca_and_host_name() {
    let ca = tls_cluster().ca_file.display().to_string();
    let url = tls_url(
        "127.0.0.1",
        &format!("sslmode=verify-full&sslrootcert={ca}"),
    )
    .await;
    let storage = countertop_hq::open_storage(&url).await.expect("connects");
    storage.ping().await.expect("answers");
    // The name in the certificate, reached through hostaddr.
    let url = tls_url(
        "db.countertop.test",
        &format!("hostaddr=127.0.0.1&sslmode=verify-full&sslrootcert={ca}"),
    )
    .await;
    countertop_hq::open_storage(&url)
        .await
        .expect("connects by name");
}

#[tokio::test]
async fn sslmode_verify_full_refuses_a_server_signed_by_another_ca() {
    let other = tls_cluster().other_ca_file.display().to_string();
    let url = tls_url(
        "127.0.0.1",
        &format!("sslmode=verify-full&sslrootcert={other}"),
    )
    .await;
    let message = open_err(&url).await;
    assert!(
        message.contains("not signed by a CA in sslrootcert") && message.contains(&other),
        "{message}"
    );
    let url = tls_url(
        "127.0.0.1",
        &format!("sslmode=verify-ca&sslrootcert={other}"),
    )
    .await;
    let message = open_err(&url).await;
    assert!(message.contains("not signed by a CA"), "{message}");
}

#[tokio::test]
async fn sslmode_verify_full_refuses_a_host_name_the_certificate_does_not_list() {
    let ca = tls_cluster().ca_file.display().to_string();
    let url = tls_url(
        "elsewhere.countertop.test",
        &format!("hostaddr=127.0.0.1&sslmode=verify-full&sslrootcert={ca}"),
    )
    .await;
    let message = open_err(&url).await;
    assert!(
        message.contains("does not name the host") && message.contains("elsewhere.countertop.test"),
        "{message}"
    );
    // verify-ca checks the chain only, as in libpq.
    let url = tls_url(
        "elsewhere.countertop.test",
        &format!("hostaddr=127.0.0.1&sslmode=verify-ca&sslrootcert={ca}"),
    )
    .await;
    countertop_hq::open_storage(&url)
        .await
        .expect("verify-ca ignores the name");
}

#[tokio::test]
async fn sslmode_require_against_a_server_without_tls_fails_clearly() {
    let url = common::pg::shared().fresh_database().await;
    let message = open_err(&format!("{url}?sslmode=require")).await;
    assert!(message.contains("server does not support TLS"), "{message}");
    // And disable still talks to it in the clear.
    countertop_hq::open_storage(&format!("{url}?sslmode=disable"))
        .await
        .expect("plain connection");
}

#[tokio::test]
async fn a_missing_or_non_pem_ca_file_is_named_in_the_error() {
    let dir = tempfile::tempdir().expect("temp dir");
    let url = tls_url(
        "127.0.0.1",
        "sslmode=verify-full&sslrootcert=/nonexistent/ca.pem",
    )
    .await;
    let message = open_err(&url).await;
    assert!(message.contains("/nonexistent/ca.pem"), "{message}");
    let junk = dir.path().join("junk.pem");
    std::fs::write(&junk, "not a certificate").expect("write");
    let url = tls_url(
        "127.0.0.1",
        &format!("sslmode=verify-full&sslrootcert={}", junk.display()),
    )
    .await;
    let message = open_err(&url).await;
    assert!(message.contains("no usable PEM certificate"), "{message}");
}
