//! Delivery through the running engine on the real clock: a push reaches the webhook in
//! well under 5 s, a receiver that fails three times gets exactly one accepted delivery
//! under one idempotency key, Slack gets a text message, and email reaches a real SMTP
//! sink with a plain-text and an HTML part.

use std::time::{Duration, Instant};

use countertop_hq::alerts::channels::SmtpSettings;
use countertop_hq::alerts::rule::{Lang, Recipient};

use super::support::{alert_app, bad_hour, json, Receiver, SmtpSink};
use crate::common::Backend;

async fn a_receiver_that_fails_three_times_gets_exactly_one_accepted_delivery(backend: Backend) {
    let hook = Receiver::start(&[500, 500, 500]).await;
    let app = alert_app(backend, true, |_| {}).await;
    let kiosk = app.kiosk("UTC").await;
    app.storage
        .create_rule(&bad_hour(&hook.url))
        .await
        .expect("rule");
    let pushed = Instant::now();
    app.push_scores(&kiosk, &[1, 1, 1, 1]).await;
    hook.wait_accepted(1).await;
    let took = pushed.elapsed();
    assert!(
        took < Duration::from_secs(5),
        "push → delivered took {took:?}"
    );
    let seen = hook.seen();
    assert_eq!(seen.len(), 4, "three 500s, then one 200: {seen:?}");
    assert!(seen
        .iter()
        .all(|s| s.idempotency_key == seen[0].idempotency_key));
    assert!(
        seen.iter().all(|s| s.body == seen[0].body),
        "every retry sends the same bytes"
    );
    assert_eq!(hook.accepted_keys().len(), 1);
    // Nothing more goes out afterwards.
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(hook.seen().len(), 4);
    let counts = app.storage.outbox_counts().await.expect("counts");
    assert_eq!((counts.pending, counts.delivered), (0, 1));
}

async fn slack_and_email_recipients_get_their_own_message(backend: Backend) {
    let slack = Receiver::start(&[]).await;
    let sink = SmtpSink::start().await;
    let port = sink.port;
    let app = alert_app(backend, true, |s| {
        s.alerts.smtp = Some(SmtpSettings {
            host: "127.0.0.1".into(),
            port,
            starttls: false,
            username: None,
            password: None,
            from: "Countertop <alerts@example.org>".into(),
            ca_pem: None,
        })
    })
    .await;
    let kiosk = app.kiosk("UTC").await;
    let mut spec = bad_hour(&slack.url);
    spec.recipients = vec![
        Recipient::Slack {
            url: slack.url.clone(),
        },
        Recipient::Email {
            address: "quan.ly@example.org".into(),
            lang: Lang::Vi,
        },
    ];
    app.storage.create_rule(&spec).await.expect("rule");
    app.push_scores(&kiosk, &[1, 1, 2, 2]).await;
    slack.wait_accepted(1).await;
    let text = json(&slack.seen()[0])["text"]
        .as_str()
        .unwrap_or("")
        .to_owned();
    assert!(
        text.contains("Bad hour") && text.contains("unhappy"),
        "{text}"
    );
    let deadline = Instant::now() + Duration::from_secs(20);
    while sink.mails().is_empty() {
        assert!(Instant::now() < deadline, "no email reached the sink");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let mail = &sink.mails()[0];
    assert_eq!(mail.rcpt, ["quan.ly@example.org"]);
    assert!(mail.data.contains("multipart/alternative"), "{}", mail.data);
    assert!(mail.data.contains("text/plain") && mail.data.contains("text/html"));
    // The store's name is "Corner <Coffee>": escaped in the HTML part.
    assert!(mail.data.contains("Corner &lt;Coffee&gt;"), "{}", mail.data);
}

crate::on_both_backends!(
    a_receiver_that_fails_three_times_gets_exactly_one_accepted_delivery,
    slack_and_email_recipients_get_their_own_message,
);
