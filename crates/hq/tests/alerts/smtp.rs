//! Email over SMTP with STARTTLS and authentication, against a sink on loopback that
//! offers STARTTLS with a certificate from a throwaway CA and AUTH PLAIN or LOGIN: HQ
//! upgrades, verifies the certificate (the CA given as `ca_pem`, as `--smtp-ca-file`
//! does), authenticates with the configured user and password, and never sends them, nor
//! the message, over a connection that did not upgrade.

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use base64::Engine as _;
use countertop_hq::alerts::channels::{self, SmtpSettings};
use countertop_hq::alerts::rule::{Lang, Recipient};
use countertop_hq::storage::alerts::Delivery;
use tokio::io::{AsyncBufReadExt, AsyncRead, AsyncWrite, AsyncWriteExt, BufReader};
use tokio::net::TcpListener;
use uuid::Uuid;

use super::support::{alert_app, bad_hour};
use crate::common::certs::{ServerCert, TestCa};
use crate::common::Backend;

const USER: &str = "alerts@example.org";
const PASSWORD: &str = "s3cret pass";

/// What the sink saw on every connection.
#[derive(Debug, Default, Clone)]
struct Seen {
    /// Each command line, with whether the connection was TLS by then.
    commands: Vec<(bool, String)>,
    /// Credentials decoded from AUTH, with whether the connection was TLS.
    logins: Vec<(bool, String, String)>,
    /// Messages accepted, with whether the connection was TLS.
    mails: Vec<(bool, String)>,
}

struct Sink {
    port: u16,
    seen: Arc<Mutex<Seen>>,
}

#[derive(Clone)]
struct SinkConfig {
    /// STARTTLS with this certificate; none offered when `None`.
    cert: Option<ServerCert>,
    /// The AUTH mechanisms advertised, such as "PLAIN LOGIN".
    mechanisms: &'static str,
}

fn acceptor(cert: &ServerCert) -> tokio_rustls::TlsAcceptor {
    use rustls::pki_types::{pem::PemObject, CertificateDer, PrivateKeyDer};
    let chain: Vec<CertificateDer<'static>> =
        CertificateDer::pem_slice_iter(cert.cert_pem.as_bytes())
            .collect::<Result<_, _>>()
            .expect("certificate PEM");
    let key = PrivateKeyDer::from_pem_slice(cert.key_pem.as_bytes()).expect("key PEM");
    let config = rustls::ServerConfig::builder_with_provider(
        rustls::crypto::ring::default_provider().into(),
    )
    .with_safe_default_protocol_versions()
    .expect("versions")
    .with_no_client_auth()
    .with_single_cert(chain, key)
    .expect("server config");
    tokio_rustls::TlsAcceptor::from(Arc::new(config))
}

fn b64(s: &str) -> String {
    base64::engine::general_purpose::STANDARD.encode(s)
}

fn unb64(s: &str) -> String {
    let bytes = base64::engine::general_purpose::STANDARD
        .decode(s.trim())
        .unwrap_or_default();
    String::from_utf8_lossy(&bytes).into_owned()
}

enum Next {
    Done,
    StartTls,
}

async fn line<S: AsyncRead + AsyncWrite + Unpin>(io: &mut BufReader<S>) -> Option<String> {
    let mut buf = String::new();
    match io.read_line(&mut buf).await {
        Ok(0) | Err(_) => None,
        Ok(_) => Some(buf.trim_end_matches(['\r', '\n']).to_owned()),
    }
}

async fn reply<S: AsyncRead + AsyncWrite + Unpin>(io: &mut BufReader<S>, text: &str) -> bool {
    io.get_mut().write_all(text.as_bytes()).await.is_ok()
}

/// One SMTP dialogue on `io` until QUIT, EOF, or a STARTTLS to perform.
async fn dialogue<S: AsyncRead + AsyncWrite + Unpin>(
    io: &mut BufReader<S>,
    tls: bool,
    config: &SinkConfig,
    seen: &Mutex<Seen>,
) -> Next {
    let mut authed = false;
    while let Some(cmd) = line(io).await {
        seen.lock().expect("lock").commands.push((tls, cmd.clone()));
        let upper = cmd.to_ascii_uppercase();
        let ok = if upper.starts_with("EHLO") || upper.starts_with("HELO") {
            let starttls = if config.cert.is_some() && !tls {
                "250-STARTTLS\r\n"
            } else {
                ""
            };
            // AUTH is offered on the plain connection too, as a careless server would:
            // the client must not take it up there.
            reply(
                io,
                &format!(
                    "250-sink\r\n{starttls}250-AUTH {}\r\n250 8BITMIME\r\n",
                    config.mechanisms
                ),
            )
            .await
        } else if upper == "STARTTLS" && config.cert.is_some() && !tls {
            reply(io, "220 go ahead\r\n").await;
            return Next::StartTls;
        } else if let Some(rest) = upper.strip_prefix("AUTH PLAIN") {
            let initial = cmd[cmd.len() - rest.len()..].trim().to_owned();
            let initial = if initial.is_empty() {
                reply(io, "334 \r\n").await;
                line(io).await.unwrap_or_default()
            } else {
                initial
            };
            let decoded = unb64(&initial);
            let mut parts = decoded.split('\0').skip(1);
            let (user, pass) = (
                parts.next().unwrap_or_default().to_owned(),
                parts.next().unwrap_or_default().to_owned(),
            );
            authed = user == USER && pass == PASSWORD;
            seen.lock().expect("lock").logins.push((tls, user, pass));
            reply(io, if authed { "235 ok\r\n" } else { "535 no\r\n" }).await
        } else if upper.starts_with("AUTH LOGIN") {
            reply(io, &format!("334 {}\r\n", b64("Username:"))).await;
            let user = unb64(&line(io).await.unwrap_or_default());
            reply(io, &format!("334 {}\r\n", b64("Password:"))).await;
            let pass = unb64(&line(io).await.unwrap_or_default());
            authed = user == USER && pass == PASSWORD;
            seen.lock().expect("lock").logins.push((tls, user, pass));
            reply(io, if authed { "235 ok\r\n" } else { "535 no\r\n" }).await
        } else if upper.starts_with("MAIL FROM:") {
            reply(
                io,
                if authed {
                    "250 ok\r\n"
                } else {
                    "530 authenticate first\r\n"
                },
            )
            .await
        } else if upper.starts_with("DATA") {
            reply(io, "354 go on\r\n").await;
            let mut data = String::new();
            while let Some(l) = line(io).await {
                if l == "." {
                    break;
                }
                data.push_str(&l);
                data.push('\n');
            }
            seen.lock().expect("lock").mails.push((tls, data));
            reply(io, "250 queued\r\n").await
        } else if upper.starts_with("QUIT") {
            reply(io, "221 bye\r\n").await;
            return Next::Done;
        } else {
            reply(io, "250 ok\r\n").await
        };
        if !ok {
            break;
        }
    }
    Next::Done
}

impl Sink {
    async fn start(config: SinkConfig) -> Sink {
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let port = listener.local_addr().expect("addr").port();
        let seen = Arc::new(Mutex::new(Seen::default()));
        let state = Arc::clone(&seen);
        tokio::spawn(async move {
            while let Ok((tcp, _)) = listener.accept().await {
                let (config, seen) = (config.clone(), Arc::clone(&state));
                tokio::spawn(async move {
                    let mut io = BufReader::new(tcp);
                    reply(&mut io, "220 sink ESMTP\r\n").await;
                    if let Next::StartTls = dialogue(&mut io, false, &config, &seen).await {
                        let Some(cert) = &config.cert else { return };
                        // The client waits for "220 go ahead": nothing is buffered.
                        let Ok(tls) = acceptor(cert).accept(io.into_inner()).await else {
                            return;
                        };
                        let mut io = BufReader::new(tls);
                        dialogue(&mut io, true, &config, &seen).await;
                    }
                });
            }
        });
        Sink { port, seen }
    }

    fn seen(&self) -> Seen {
        self.seen.lock().expect("lock").clone()
    }
}

fn settings(port: u16, ca: Option<&TestCa>) -> SmtpSettings {
    SmtpSettings {
        host: "localhost".into(),
        port,
        starttls: true,
        username: Some(USER.into()),
        password: Some(PASSWORD.into()),
        from: "Countertop <alerts@example.org>".into(),
        ca_pem: ca.map(TestCa::cert_pem),
    }
}

fn delivery() -> Delivery {
    Delivery {
        id: Uuid::now_v7(),
        alert_id: Some(Uuid::now_v7()),
        recipient: Recipient::Email {
            address: "quan.ly@example.org".into(),
            lang: Lang::En,
        },
        payload: serde_json::json!({
            "event": "alert.opened", "rule_name": "Bad hour", "condition": "c",
            "store_name": "Corner", "detail": "d"
        })
        .to_string(),
        attempts: 1,
    }
}

async fn send(smtp: &SmtpSettings) -> Result<(), channels::SendError> {
    channels::send(&reqwest::Client::new(), None, Some(smtp), &delivery()).await
}

fn tls_sink(ca: &TestCa, mechanisms: &'static str) -> SinkConfig {
    SinkConfig {
        cert: Some(ca.server_cert(&["localhost"])),
        mechanisms,
    }
}

/// Nothing secret, and no message, went over the plain part of any connection.
fn nothing_sent_in_the_clear(seen: &Seen) {
    for (tls, cmd) in &seen.commands {
        let upper = cmd.to_ascii_uppercase();
        assert!(
            *tls || !(upper.starts_with("AUTH")
                || upper.starts_with("MAIL")
                || upper.starts_with("RCPT")),
            "{cmd:?} was sent before STARTTLS"
        );
        assert!(!cmd.contains(PASSWORD) && !cmd.contains(&b64(PASSWORD)) || *tls);
    }
    assert!(seen.logins.iter().all(|(tls, _, _)| *tls));
    assert!(seen.mails.iter().all(|(tls, _)| *tls));
}

async fn hq_upgrades_verifies_the_certificate_and_logs_in_before_sending(backend: Backend) {
    let ca = TestCa::new("Countertop test mail CA");
    let sink = Sink::start(tls_sink(&ca, "PLAIN LOGIN")).await;
    let smtp = settings(sink.port, Some(&ca));
    let app = alert_app(backend, true, |s| s.alerts.smtp = Some(smtp)).await;
    let kiosk = app.kiosk("UTC").await;
    let mut spec = bad_hour("https://example.org/unused");
    spec.recipients = vec![Recipient::Email {
        address: "quan.ly@example.org".into(),
        lang: Lang::En,
    }];
    app.storage.create_rule(&spec).await.expect("rule");
    app.push_scores(&kiosk, &[1, 1, 2, 2]).await;
    let deadline = Instant::now() + Duration::from_secs(20);
    while sink.seen().mails.is_empty() {
        assert!(
            Instant::now() < deadline,
            "no email: {:?}",
            sink.seen().commands
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let seen = sink.seen();
    assert!(
        seen.commands.iter().any(|(tls, c)| !tls && c == "STARTTLS"),
        "HQ asked to upgrade: {:?}",
        seen.commands
    );
    assert_eq!(
        seen.logins,
        [(true, USER.to_owned(), PASSWORD.to_owned())],
        "one login, over TLS, with the configured user and password"
    );
    assert!(seen.mails[0].1.contains("Bad hour"));
    nothing_sent_in_the_clear(&seen);
}

#[tokio::test]
async fn auth_login_is_used_when_the_server_offers_only_login() {
    let ca = TestCa::new("Countertop test mail CA");
    let sink = Sink::start(tls_sink(&ca, "LOGIN")).await;
    send(&settings(sink.port, Some(&ca))).await.expect("sent");
    let seen = sink.seen();
    assert!(
        seen.commands.iter().any(|(_, c)| c == "AUTH LOGIN"),
        "{:?}",
        seen.commands
    );
    assert_eq!(seen.logins, [(true, USER.to_owned(), PASSWORD.to_owned())]);
    assert_eq!(seen.mails.len(), 1);
    nothing_sent_in_the_clear(&seen);
}

#[tokio::test]
async fn a_certificate_from_an_untrusted_ca_gets_neither_the_password_nor_the_mail() {
    let ca = TestCa::new("Countertop test mail CA");
    let sink = Sink::start(tls_sink(&ca, "PLAIN LOGIN")).await;
    // HQ trusts another CA (and the public roots), not the one that signed the sink's.
    let other = TestCa::new("Some other CA");
    let e = send(&settings(sink.port, Some(&other)))
        .await
        .expect_err("refused");
    assert!(e.to_string().contains("SMTP"), "{e}");
    // Without any custom CA, only the public roots: refused too.
    send(&settings(sink.port, None)).await.expect_err("refused");
    let seen = sink.seen();
    assert!(seen.logins.is_empty() && seen.mails.is_empty(), "{seen:?}");
    nothing_sent_in_the_clear(&seen);
}

#[tokio::test]
async fn a_server_that_does_not_offer_starttls_gets_neither_the_password_nor_the_mail() {
    let ca = TestCa::new("Countertop test mail CA");
    let sink = Sink::start(SinkConfig {
        cert: None,
        mechanisms: "PLAIN LOGIN",
    })
    .await;
    send(&settings(sink.port, Some(&ca)))
        .await
        .expect_err("refused");
    let seen = sink.seen();
    assert!(!seen.commands.is_empty(), "HQ did connect");
    assert!(seen.logins.is_empty() && seen.mails.is_empty(), "{seen:?}");
    nothing_sent_in_the_clear(&seen);
}

#[tokio::test]
async fn plain_smtp_with_a_password_is_refused_before_connecting() {
    let sink = Sink::start(SinkConfig {
        cert: None,
        mechanisms: "PLAIN LOGIN",
    })
    .await;
    let mut smtp = settings(sink.port, None);
    smtp.starttls = false;
    let e = send(&smtp).await.expect_err("refused");
    assert!(
        e.to_string().contains(channels::PLAIN_PASSWORD_REFUSED),
        "{e}"
    );
    tokio::time::sleep(Duration::from_millis(100)).await;
    assert!(sink.seen().commands.is_empty(), "HQ did not even connect");
}

#[tokio::test]
async fn a_wrong_password_is_an_error_and_no_mail_goes_out() {
    let ca = TestCa::new("Countertop test mail CA");
    let sink = Sink::start(tls_sink(&ca, "PLAIN")).await;
    let mut smtp = settings(sink.port, Some(&ca));
    smtp.password = Some("wrong".into());
    let e = send(&smtp).await.expect_err("refused");
    assert!(
        !e.to_string().contains("wrong"),
        "the password is not in the error: {e}"
    );
    let seen = sink.seen();
    assert_eq!(seen.logins.len(), 1);
    assert!(seen.mails.is_empty());
}

#[test]
fn serve_refuses_a_password_over_plain_smtp_and_an_unreadable_ca_file_at_start_up() {
    use crate::common::process::run;
    let dir = tempfile::tempdir().expect("temp dir");
    let db = format!("sqlite:{}", dir.path().join("hq.db").display());
    let base = ["serve", "--listen", "127.0.0.1:0", "--database", &db];
    let plain = [
        "--smtp-host",
        "mail.example.org",
        "--smtp-plain",
        "--smtp-user",
        USER,
        "--smtp-password",
        PASSWORD,
    ];
    let out = run(&[&base[..], &plain[..]].concat(), dir.path(), &[]);
    assert!(!out.status.success(), "refused");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("--smtp-plain") && stderr.contains("--smtp-user"),
        "{stderr}"
    );
    assert!(
        !stderr.contains(PASSWORD),
        "the password is not echoed: {stderr}"
    );

    let missing = dir.path().join("no-such-ca.pem");
    let missing = missing.to_str().expect("utf-8 path");
    let ca = ["--smtp-host", "mail.example.org", "--smtp-ca-file", missing];
    let out = run(&[&base[..], &ca[..]].concat(), dir.path(), &[]);
    assert!(!out.status.success(), "refused");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("--smtp-ca-file"), "{stderr}");
}

crate::on_both_backends!(hq_upgrades_verifies_the_certificate_and_logs_in_before_sending);
