//! TLS for the PostgreSQL connection, with libpq's names, so a managed PostgreSQL's
//! connection string works as its provider documents it:
//!
//! | `sslmode`     | encrypted              | server certificate checked          |
//! |---------------|------------------------|-------------------------------------|
//! | `disable`     | no                     | -                                   |
//! | `prefer`      | if the server offers it (the default) | no                   |
//! | `require`     | yes, or no connection  | no (like libpq without a root cert) |
//! | `verify-ca`   | yes                    | chain against `sslrootcert`         |
//! | `verify-full` | yes                    | chain against `sslrootcert`, and the host name |
//!
//! tokio-postgres itself parses only `disable`, `prefer` and `require`, and knows no
//! `sslrootcert`: both are taken out of the URL here, and the rest goes to tokio-postgres
//! unchanged. `sslrootcert` is a PEM file of one or more CA certificates; without it,
//! `verify-*` uses `~/.postgresql/root.crt` as libpq does. The TLS stack is rustls.

use std::path::{Path, PathBuf};
use std::str::FromStr;
use std::sync::Arc;

use percent_encoding::percent_decode_str;
use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::client::WebPkiServerVerifier;
use rustls::crypto::CryptoProvider;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, ServerName, UnixTime};
use rustls::{CertificateError, DigitallySignedStruct, RootCertStore, SignatureScheme};
use tokio_postgres_rustls::MakeRustlsConnect;

use super::StorageError;

/// A TLS setting in the database URL that cannot be used, or a first connection that
/// failed (with its whole chain of causes, which the pool's error would hide).
#[derive(Debug, thiserror::Error)]
pub enum PgConnectError {
    #[error("cannot connect: {0}")]
    Connect(String),
    #[error(
        "sslmode={0:?} is not supported: use disable, prefer, require, verify-ca or verify-full"
    )]
    UnknownMode(String),
    #[error(
        "sslmode={0} checks the server's certificate, so it needs the CA that signed it: add \
         sslrootcert=/path/to/ca.pem to the database URL"
    )]
    NoRootCert(&'static str),
    #[error("cannot read sslrootcert file {path}: {source}")]
    RootCertUnreadable {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("sslrootcert file {path} holds no usable PEM certificate: {reason}")]
    RootCertNotPem { path: PathBuf, reason: String },
    #[error("the TLS settings cannot be built: {0}")]
    Setup(String),
}

/// libpq's `sslmode`, as HQ understands it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SslMode {
    Disable,
    Prefer,
    Require,
    VerifyCa,
    VerifyFull,
}

impl SslMode {
    fn parse(value: &str) -> Result<SslMode, PgConnectError> {
        Ok(match value {
            "disable" => SslMode::Disable,
            "prefer" => SslMode::Prefer,
            "require" => SslMode::Require,
            "verify-ca" => SslMode::VerifyCa,
            "verify-full" => SslMode::VerifyFull,
            other => return Err(PgConnectError::UnknownMode(other.to_owned())),
        })
    }

    fn as_str(self) -> &'static str {
        match self {
            SslMode::Disable => "disable",
            SslMode::Prefer => "prefer",
            SslMode::Require => "require",
            SslMode::VerifyCa => "verify-ca",
            SslMode::VerifyFull => "verify-full",
        }
    }

    /// The mode tokio-postgres is given: it only decides whether TLS is tried or required;
    /// the checks of `verify-*` are done by the verifier.
    fn for_tokio_postgres(self) -> &'static str {
        match self {
            SslMode::Disable => "disable",
            SslMode::Prefer => "prefer",
            SslMode::Require | SslMode::VerifyCa | SslMode::VerifyFull => "require",
        }
    }
}

/// The TLS parts of a database URL, and the URL without them.
#[derive(Debug, PartialEq, Eq)]
struct SplitUrl {
    rest: String,
    mode: SslMode,
    root_cert: Option<PathBuf>,
}

fn decode(text: &str) -> String {
    percent_decode_str(text).decode_utf8_lossy().into_owned()
}

fn split_url(url: &str) -> Result<SplitUrl, PgConnectError> {
    let (base, query) = url.split_once('?').unwrap_or((url, ""));
    let mut mode = SslMode::Prefer;
    let mut root_cert = None;
    let mut kept = Vec::new();
    for pair in query.split('&').filter(|p| !p.is_empty()) {
        let (key, value) = pair.split_once('=').unwrap_or((pair, ""));
        match decode(key).as_str() {
            "sslmode" => mode = SslMode::parse(&decode(value))?,
            "sslrootcert" => root_cert = Some(PathBuf::from(decode(value))),
            _ => kept.push(pair.to_owned()),
        }
    }
    kept.push(format!("sslmode={}", mode.for_tokio_postgres()));
    Ok(SplitUrl {
        rest: format!("{base}?{}", kept.join("&")),
        mode,
        root_cert,
    })
}

/// The connection settings and the TLS connector for a `postgres://` URL, after one
/// connection with them worked: a refused certificate or a server without TLS is told
/// with its cause here, before the pool (whose errors drop the cause) takes over.
pub(crate) async fn connect_options(
    url: &str,
) -> Result<(tokio_postgres::Config, MakeRustlsConnect), StorageError> {
    let split = split_url(url)?;
    let config = tokio_postgres::Config::from_str(&split.rest)
        .map_err(|_| StorageError::BadUrl(url.to_owned()))?;
    let connector = connector(split.mode, split.root_cert.as_deref())?;
    match config.connect(connector.clone()).await {
        Ok((client, connection)) => {
            drop(client);
            // The connection ends once the client is gone.
            let _ = connection.await;
        }
        Err(e) => return Err(PgConnectError::Connect(with_causes(&e)).into()),
    }
    Ok((config, connector))
}

/// An error and its sources, `a: b: c` (tokio-postgres shows only the first).
fn with_causes(error: &dyn std::error::Error) -> String {
    let mut text = error.to_string();
    let mut source = error.source();
    while let Some(cause) = source {
        let more = cause.to_string();
        if !text.ends_with(&more) {
            text = format!("{text}: {more}");
        }
        source = cause.source();
    }
    text
}

fn provider() -> Arc<CryptoProvider> {
    Arc::new(rustls::crypto::ring::default_provider())
}

fn connector(mode: SslMode, root_cert: Option<&Path>) -> Result<MakeRustlsConnect, PgConnectError> {
    let provider = provider();
    let verifier: Arc<dyn ServerCertVerifier> = match mode {
        SslMode::Disable | SslMode::Prefer | SslMode::Require => Arc::new(EncryptOnly {
            provider: Arc::clone(&provider),
        }),
        SslMode::VerifyCa | SslMode::VerifyFull => {
            let path = match root_cert {
                Some(path) => path.to_owned(),
                None => default_root_cert().ok_or(PgConnectError::NoRootCert(mode.as_str()))?,
            };
            let roots = read_roots(&path)?;
            let webpki =
                WebPkiServerVerifier::builder_with_provider(Arc::new(roots), Arc::clone(&provider))
                    .build()
                    .map_err(|e| PgConnectError::Setup(e.to_string()))?;
            Arc::new(Verified {
                webpki,
                check_name: mode == SslMode::VerifyFull,
                root_cert: path,
            })
        }
    };
    let config = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| PgConnectError::Setup(e.to_string()))?
        .dangerous()
        .with_custom_certificate_verifier(verifier)
        .with_no_client_auth();
    Ok(MakeRustlsConnect::new(config))
}

/// libpq's default CA file, when it exists.
fn default_root_cert() -> Option<PathBuf> {
    let path = PathBuf::from(std::env::var_os("HOME")?).join(".postgresql/root.crt");
    path.is_file().then_some(path)
}

fn read_roots(path: &Path) -> Result<RootCertStore, PgConnectError> {
    let bytes = std::fs::read(path).map_err(|source| PgConnectError::RootCertUnreadable {
        path: path.to_owned(),
        source,
    })?;
    let not_pem = |reason: String| PgConnectError::RootCertNotPem {
        path: path.to_owned(),
        reason,
    };
    let certs = CertificateDer::pem_slice_iter(&bytes)
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| not_pem(e.to_string()))?;
    if certs.is_empty() {
        return Err(not_pem("no BEGIN CERTIFICATE section".into()));
    }
    let mut roots = RootCertStore::empty();
    for cert in certs {
        roots
            .add(cert)
            .map_err(|e| not_pem(format!("a certificate cannot be used as a CA: {e}")))?;
    }
    Ok(roots)
}

/// `disable`, `prefer`, `require`: the connection is encrypted, and the handshake's
/// signatures are checked, but the certificate itself is not (libpq does the same).
#[derive(Debug)]
struct EncryptOnly {
    provider: Arc<CryptoProvider>,
}

impl ServerCertVerifier for EncryptOnly {
    fn verify_server_cert(
        &self,
        _end_entity: &CertificateDer<'_>,
        _intermediates: &[CertificateDer<'_>],
        _server_name: &ServerName<'_>,
        _ocsp_response: &[u8],
        _now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        Ok(ServerCertVerified::assertion())
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls12_signature(
            message,
            cert,
            dss,
            &self.provider.signature_verification_algorithms,
        )
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls13_signature(
            message,
            cert,
            dss,
            &self.provider.signature_verification_algorithms,
        )
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.provider
            .signature_verification_algorithms
            .supported_schemes()
    }
}

/// `verify-ca` and `verify-full`: the chain must lead to a CA in `sslrootcert`; with
/// `verify-full` the certificate must also name the host HQ connected to.
#[derive(Debug)]
struct Verified {
    webpki: Arc<WebPkiServerVerifier>,
    check_name: bool,
    root_cert: PathBuf,
}

/// Why the server's certificate was refused, in terms of the URL's settings.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
struct Refused(String);

impl ServerCertVerifier for Verified {
    fn verify_server_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        intermediates: &[CertificateDer<'_>],
        server_name: &ServerName<'_>,
        ocsp_response: &[u8],
        now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        let result = self.webpki.verify_server_cert(
            end_entity,
            intermediates,
            server_name,
            ocsp_response,
            now,
        );
        let explain = |what: String| {
            rustls::Error::InvalidCertificate(CertificateError::Other(rustls::OtherError(
                Arc::new(Refused(what)),
            )))
        };
        match result {
            Ok(verified) => Ok(verified),
            Err(rustls::Error::InvalidCertificate(
                CertificateError::NotValidForName | CertificateError::NotValidForNameContext { .. },
            )) if !self.check_name => Ok(ServerCertVerified::assertion()),
            Err(rustls::Error::InvalidCertificate(
                CertificateError::NotValidForName | CertificateError::NotValidForNameContext { .. },
            )) => Err(explain(format!(
                "the server's certificate does not name the host {:?} (sslmode=verify-full \
                 checks it): connect by a name the certificate lists, or use sslmode=verify-ca",
                server_name.to_str()
            ))),
            Err(rustls::Error::InvalidCertificate(
                CertificateError::UnknownIssuer | CertificateError::BadSignature,
            )) => Err(explain(format!(
                "the server's certificate is not signed by a CA in sslrootcert={}",
                self.root_cert.display()
            ))),
            Err(other) => Err(other),
        }
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        self.webpki.verify_tls12_signature(message, cert, dss)
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        self.webpki.verify_tls13_signature(message, cert, dss)
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.webpki.supported_verify_schemes()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn libpq_modes_are_taken_out_and_tokio_postgres_gets_one_it_knows() {
        let split = split_url(
            "postgres://hq@db:5432/hq?application_name=hq&sslmode=verify-full&sslrootcert=%2Fetc%2Fca%20x.pem",
        )
        .expect("parses");
        assert_eq!(split.mode, SslMode::VerifyFull);
        assert_eq!(split.root_cert, Some(PathBuf::from("/etc/ca x.pem")));
        assert_eq!(
            split.rest,
            "postgres://hq@db:5432/hq?application_name=hq&sslmode=require"
        );
        tokio_postgres::Config::from_str(&split.rest).expect("tokio-postgres reads the rest");
    }

    #[test]
    fn a_url_without_sslmode_prefers_tls_as_libpq_does() {
        let split = split_url("postgres://hq@db/hq").expect("parses");
        assert_eq!(split.mode, SslMode::Prefer);
        assert_eq!(split.rest, "postgres://hq@db/hq?sslmode=prefer");
    }

    #[test]
    fn an_unknown_sslmode_names_the_ones_that_work() {
        let err = split_url("postgres://hq@db/hq?sslmode=allow").expect_err("refused");
        assert!(err.to_string().contains("verify-full"), "{err}");
    }

    #[test]
    fn verify_modes_refuse_a_ca_file_that_cannot_be_read_or_is_not_pem() {
        let err = connector(SslMode::VerifyFull, Some(Path::new("/nonexistent/ca.pem")))
            .err()
            .expect("refused");
        assert!(
            matches!(err, PgConnectError::RootCertUnreadable { .. }),
            "{err}"
        );
        let dir = tempfile::tempdir().expect("temp dir");
        let not_pem = dir.path().join("ca.pem");
        std::fs::write(&not_pem, "this is not a certificate").expect("write");
        let err = connector(SslMode::VerifyCa, Some(&not_pem))
            .err()
            .expect("refused");
        assert!(
            matches!(err, PgConnectError::RootCertNotPem { .. }),
            "{err}"
        );
    }
}
