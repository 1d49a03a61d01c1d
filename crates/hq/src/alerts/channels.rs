//! Sending one delivery: a webhook (a JSON POST, its body signed with HMAC-SHA256 in
//! `X-Countertop-Signature`, its idempotency key in `Idempotency-Key`), a Slack-compatible
//! incoming webhook (`{"text": ...}`, which Teams Workflows accept too), or an email over
//! SMTP (a plain-text and an HTML part, in the recipient's language, every stored text
//! escaped in the HTML). Retries are the outbox's business ([`super::engine`]): here is one
//! attempt.
//!
//! Every SMTP connection HQ opens comes from [`smtp_transport`]: STARTTLS required (the
//! server's certificate verified against the public roots and an optional custom CA), AUTH
//! PLAIN or LOGIN with the configured user after the upgrade, and a password never sent
//! over a connection that did not upgrade.

use std::time::Duration;

use lettre::message::{Mailbox, MultiPart};
use lettre::transport::smtp::authentication::Credentials;
use lettre::transport::smtp::client::{Certificate, Tls, TlsParameters};
use lettre::{AsyncSmtpTransport, AsyncTransport, Message, Tokio1Executor};
use serde::Deserialize;

use super::rule::{Lang, Recipient};
use crate::storage::alerts::Delivery;
use crate::web::i18n::{self, Tr};

/// The header that carries the signature: `sha256=` and the lowercase hex HMAC.
pub const SIGNATURE_HEADER: &str = "X-Countertop-Signature";
pub const IDEMPOTENCY_HEADER: &str = "Idempotency-Key";

/// How HQ reaches its mail server. Its `Debug` leaves the password out.
#[derive(Clone)]
pub struct SmtpSettings {
    pub host: String,
    pub port: u16,
    /// STARTTLS (required) when true; plain SMTP otherwise (a local relay, tests).
    pub starttls: bool,
    pub username: Option<String>,
    pub password: Option<String>,
    pub from: String,
    /// PEM certificates of CAs trusted for the server's certificate besides the public
    /// roots (a company CA; the tests' CA).
    pub ca_pem: Option<String>,
}

impl std::fmt::Debug for SmtpSettings {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SmtpSettings")
            .field("host", &self.host)
            .field("port", &self.port)
            .field("starttls", &self.starttls)
            .field("username", &self.username.as_ref().map(|_| "<set>"))
            .field("password", &self.password.as_ref().map(|_| "<redacted>"))
            .field("ca_pem", &self.ca_pem.as_ref().map(|_| "<set>"))
            .finish()
    }
}

/// `sha256=<hex>` of `body` under `secret`.
pub fn sign(secret: &[u8], body: &[u8]) -> String {
    let key = ring::hmac::Key::new(ring::hmac::HMAC_SHA256, secret);
    let tag = ring::hmac::sign(&key, body);
    format!("sha256={}", hex::encode(tag.as_ref()))
}

/// Why an attempt failed (no URL, address or secret in it: it is logged and stored).
#[derive(Debug, thiserror::Error)]
pub enum SendError {
    #[error("the receiver answered HTTP {0}")]
    Status(u16),
    #[error("HTTP: {0}")]
    Http(String),
    #[error("email is not configured on this HQ (--smtp-host)")]
    NoSmtp,
    #[error("SMTP: {0}")]
    Smtp(String),
    #[error("the stored payload does not read: {0}")]
    Payload(String),
}

/// The payload fields messages show.
#[derive(Debug, Deserialize)]
struct Payload {
    event: String,
    rule_name: String,
    condition: String,
    store_name: String,
    detail: String,
}

fn payload(d: &Delivery) -> Result<Payload, SendError> {
    serde_json::from_str(&d.payload).map_err(|e| SendError::Payload(e.to_string()))
}

fn headline(tr: Tr, p: &Payload) -> String {
    let msgid = match p.event.as_str() {
        "alert.closed" => "Alert closed: {rule} at {store}",
        "alert.repeated" => "Alert still open: {rule} at {store}",
        _ => "Alert: {rule} at {store}",
    };
    tr.f(msgid, &[("rule", &p.rule_name), ("store", &p.store_name)])
}

/// One attempt at one delivery.
pub async fn send(
    http: &reqwest::Client,
    secret: Option<&str>,
    smtp: Option<&SmtpSettings>,
    d: &Delivery,
) -> Result<(), SendError> {
    match &d.recipient {
        Recipient::Webhook { url } => {
            let mut req = http
                .post(url)
                .header(reqwest::header::CONTENT_TYPE, "application/json")
                .header(IDEMPOTENCY_HEADER, d.id.to_string())
                .body(d.payload.clone());
            if let Some(secret) = secret {
                req = req.header(
                    SIGNATURE_HEADER,
                    sign(secret.as_bytes(), d.payload.as_bytes()),
                );
            }
            check(req.send().await)
        }
        Recipient::Slack { url } => {
            let p = payload(d)?;
            let text = format!(
                "{}: {} ({})",
                headline(Tr::default(), &p),
                p.detail,
                p.condition
            );
            let body = serde_json::json!({ "text": text }).to_string();
            check(
                http.post(url)
                    .header(reqwest::header::CONTENT_TYPE, "application/json")
                    .header(IDEMPOTENCY_HEADER, d.id.to_string())
                    .body(body)
                    .send()
                    .await,
            )
        }
        Recipient::Email { address, lang } => {
            let smtp = smtp.ok_or(SendError::NoSmtp)?;
            if let Some(digest) = super::digest::mail::DigestPayload::of(&d.payload) {
                return super::digest::mail::send(smtp, address, d, &digest).await;
            }
            send_email(smtp, address, *lang, d).await
        }
    }
}

fn check(r: Result<reqwest::Response, reqwest::Error>) -> Result<(), SendError> {
    match r {
        Ok(resp) if resp.status().is_success() => Ok(()),
        Ok(resp) => Err(SendError::Status(resp.status().as_u16())),
        // Without the URL: it may carry a token.
        Err(e) => Err(SendError::Http(e.without_url().to_string())),
    }
}

/// Escape text for HTML: the dashboard's one escaper, which its charts use too.
pub use crate::web::charts::esc as escape;

/// The subject, plain text and HTML of an alert email.
pub fn email_parts(lang: Lang, payload_json: &str) -> Result<(String, String, String), SendError> {
    let p: Payload =
        serde_json::from_str(payload_json).map_err(|e| SendError::Payload(e.to_string()))?;
    let tr = Tr(match lang {
        Lang::En => i18n::Lang::En,
        Lang::Vi => i18n::Lang::Vi,
    });
    let subject = headline(tr, &p);
    let measured = tr.t("Measured");
    let condition = tr.t("Condition");
    let text = format!(
        "{subject}\n\n{measured}: {}\n{condition}: {}\n",
        p.detail, p.condition
    );
    let html = format!(
        "<!doctype html><html><body><h1>{}</h1><p>{}: {}</p><p>{}: {}</p></body></html>",
        escape(&subject),
        escape(measured),
        escape(&p.detail),
        escape(condition),
        escape(&p.condition)
    );
    Ok((subject, text, html))
}

async fn send_email(
    smtp: &SmtpSettings,
    address: &str,
    lang: Lang,
    d: &Delivery,
) -> Result<(), SendError> {
    let bad = |e: &dyn std::fmt::Display| SendError::Smtp(e.to_string());
    let (subject, text, html) = email_parts(lang, &d.payload)?;
    let from: Mailbox = smtp.from.parse().map_err(|e| bad(&e))?;
    let to: Mailbox = address.parse().map_err(|e| bad(&e))?;
    let message = Message::builder()
        .from(from)
        .to(to)
        .subject(subject)
        .message_id(Some(format!("<{}@countertop-hq>", d.id)))
        .multipart(MultiPart::alternative_plain_html(text, html))
        .map_err(|e| bad(&e))?;
    send_message(smtp, message).await
}

/// Refused before connecting: a password over a connection that will not upgrade.
pub const PLAIN_PASSWORD_REFUSED: &str =
    "refusing to send the SMTP password without STARTTLS (--smtp-plain with --smtp-user)";

/// The one SMTP transport HQ builds (alerts and digests alike). STARTTLS is required when
/// `starttls` is set: a server that does not offer it, or whose certificate does not verify
/// for `host`, gets neither the credentials nor the message. Credentials with plain SMTP
/// are refused outright.
pub fn smtp_transport(
    smtp: &SmtpSettings,
) -> Result<AsyncSmtpTransport<Tokio1Executor>, SendError> {
    let bad = |e: &dyn std::fmt::Display| SendError::Smtp(e.to_string());
    let credentials = match (&smtp.username, &smtp.password) {
        (Some(u), Some(p)) => Some(Credentials::new(u.clone(), p.clone())),
        _ => None,
    };
    let tls = if smtp.starttls {
        let mut params = TlsParameters::builder(smtp.host.clone());
        if let Some(pem) = &smtp.ca_pem {
            use rustls::pki_types::{pem::PemObject, CertificateDer};
            let mut found = 0;
            for der in CertificateDer::pem_slice_iter(pem.as_bytes()) {
                let der = der.map_err(|e| SendError::Smtp(format!("the SMTP CA file: {e}")))?;
                params = params.add_root_certificate(
                    Certificate::from_der(der.to_vec()).map_err(|e| bad(&e))?,
                );
                found += 1;
            }
            if found == 0 {
                return Err(SendError::Smtp(
                    "the SMTP CA file holds no PEM certificate".into(),
                ));
            }
        }
        Tls::Required(params.build_rustls().map_err(|e| bad(&e))?)
    } else if credentials.is_some() {
        return Err(SendError::Smtp(PLAIN_PASSWORD_REFUSED.into()));
    } else {
        Tls::None
    };
    let mut builder = AsyncSmtpTransport::<Tokio1Executor>::builder_dangerous(&smtp.host)
        .port(smtp.port)
        .tls(tls)
        .timeout(Some(Duration::from_secs(20)));
    if let Some(c) = credentials {
        builder = builder.credentials(c);
    }
    Ok(builder.build())
}

/// Send one message through [`smtp_transport`].
pub async fn send_message(smtp: &SmtpSettings, message: Message) -> Result<(), SendError> {
    smtp_transport(smtp)?
        .send(message)
        .await
        .map(|_| ())
        .map_err(|e| SendError::Smtp(e.to_string()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_signature_is_the_rfc_4231_hmac_sha256() {
        // RFC 4231 test case 2.
        assert_eq!(
            sign(b"Jefe", b"what do ya want for nothing?"),
            "sha256=5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843"
        );
    }

    #[test]
    fn smtp_settings_never_show_the_password() {
        let s = SmtpSettings {
            host: "mail".into(),
            port: 587,
            starttls: true,
            username: Some("u".into()),
            password: Some("hunter2".into()),
            from: "a@b.c".into(),
            ca_pem: None,
        };
        assert!(!format!("{s:?}").contains("hunter2"));
        assert!(smtp_transport(&s).is_ok());
    }

    #[test]
    fn a_password_is_never_configured_for_plain_smtp() {
        let s = SmtpSettings {
            host: "mail".into(),
            port: 25,
            starttls: false,
            username: Some("u".into()),
            password: Some("hunter2".into()),
            from: "a@b.c".into(),
            ca_pem: None,
        };
        let e = smtp_transport(&s).expect_err("refused");
        assert!(e.to_string().contains("STARTTLS"), "{e}");
        let mut s = s;
        s.starttls = true;
        s.ca_pem = Some("not a certificate".into());
        assert!(
            smtp_transport(&s).is_err(),
            "a CA file without a certificate is refused"
        );
        s.ca_pem = Some("-----BEGIN CERTIFICATE-----\n!!\n-----END CERTIFICATE-----\n".into());
        assert!(smtp_transport(&s).is_err(), "a broken CA file is refused");
    }

    #[test]
    fn email_html_escapes_stored_text_and_speaks_vietnamese() {
        let payload = serde_json::json!({
            "event": "alert.opened", "rule_name": "<script>x</script>",
            "condition": "c", "store_name": "A & B", "detail": "d"
        })
        .to_string();
        let (subject, text, html) = email_parts(Lang::En, &payload).expect("parts");
        assert!(subject.contains("A & B"));
        assert!(text.contains("<script>"), "plain text stays as typed");
        assert!(html.contains("&lt;script&gt;") && !html.contains("<script>"));
        assert!(html.contains("A &amp; B"));
        let (vi, _, _) = email_parts(Lang::Vi, &payload).expect("parts");
        assert_ne!(vi, subject, "the subject is translated");
    }
}
