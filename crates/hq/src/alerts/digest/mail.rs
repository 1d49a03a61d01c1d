//! A digest as it sits in the alert outbox and leaves it: the payload (subject, both
//! parts and the unsubscribe link, rendered once when queued, so every retry sends the
//! same mail) and one SMTP attempt, with `List-Unsubscribe` and
//! `List-Unsubscribe-Post: List-Unsubscribe=One-Click` (RFC 8058).

use lettre::message::header::{HeaderName, HeaderValue};
use lettre::message::{Mailbox, MultiPart};
use lettre::Message;
use serde::{Deserialize, Serialize};

use crate::alerts::channels::{self, SendError, SmtpSettings};
use crate::storage::alerts::Delivery;

/// The `event` of a digest payload.
pub const EVENT: &str = "digest";

/// What a digest delivery carries.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DigestPayload {
    pub event: String,
    pub kind: String,
    pub period_start: String,
    pub subject: String,
    pub text: String,
    pub html: String,
    /// The one-click address (POST), for `List-Unsubscribe`.
    pub one_click_url: String,
}

impl DigestPayload {
    /// The payload of a digest delivery; `None` for an alert's.
    pub fn of(payload: &str) -> Option<DigestPayload> {
        serde_json::from_str::<DigestPayload>(payload)
            .ok()
            .filter(|p| p.event == EVENT)
    }
}

/// One attempt at one digest.
pub async fn send(
    smtp: &SmtpSettings,
    address: &str,
    d: &Delivery,
    p: &DigestPayload,
) -> Result<(), SendError> {
    let bad = |e: &dyn std::fmt::Display| SendError::Smtp(e.to_string());
    let from: Mailbox = smtp.from.parse().map_err(|e| bad(&e))?;
    let to: Mailbox = address.parse().map_err(|e| bad(&e))?;
    let url: String = p
        .one_click_url
        .chars()
        .filter(|c| c.is_ascii_graphic())
        .collect();
    let message = Message::builder()
        .from(from)
        .to(to)
        .subject(p.subject.clone())
        .message_id(Some(format!("<{}@countertop-hq>", d.id)))
        .raw_header(HeaderValue::new(
            HeaderName::new_from_ascii_str("List-Unsubscribe"),
            format!("<{url}>"),
        ))
        .raw_header(HeaderValue::new(
            HeaderName::new_from_ascii_str("List-Unsubscribe-Post"),
            "List-Unsubscribe=One-Click".to_owned(),
        ))
        .multipart(MultiPart::alternative_plain_html(
            p.text.clone(),
            p.html.clone(),
        ))
        .map_err(|e| bad(&e))?;
    // The one transport of alert emails, with its STARTTLS, CA and password rules.
    channels::send_message(smtp, message).await
}
