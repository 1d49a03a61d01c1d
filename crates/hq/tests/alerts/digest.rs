//! Daily and weekly digests on both backends: a real HQ on a real port, the real SMTP sink,
//! an injected clock (no sleeps for time). Sent at the local hour and not before; once per
//! period across a restart and across two HQ instances on one PostgreSQL; the content
//! (figures of the read model, scope, escaping, the text part, Vietnamese); unsubscribing
//! by the link and by the RFC 8058 one-click POST; forged tokens refused.

use std::sync::Arc;

use chrono::{DateTime, Datelike, Duration, NaiveDate, TimeZone, Utc};
use chrono_tz::Tz;
use countertop_hq::alerts::channels::SmtpSettings;
use countertop_hq::alerts::digest::{token, unsubscribe_secret, Digests};
use countertop_hq::alerts::{Engine, ManualClock};
use countertop_hq::reports::Summary;
use countertop_hq::storage::accounts::Role;
use countertop_hq::storage::analytics::{period_ranges, Period};
use countertop_hq::storage::digests::{DigestKind, DigestPrefs};
use countertop_hq::web::figures::Figures;
use countertop_hq::web::i18n::Lang;
use countertop_hq::{Application, Settings, Storage};
use serde_json::json;
use tokio::sync::oneshot;
use uuid::Uuid;

use super::support::{Kiosk, Mail, SmtpSink};
use crate::common::web::{csrf_of, WebClient};
use crate::common::{database_url, rating_at, Backend};

const TZ: &str = "Asia/Ho_Chi_Minh";

/// An in-process HQ whose digests and outbox the test drives with a manual clock.
struct DigestApp {
    address: String,
    storage: Arc<dyn Storage>,
    engine: Arc<Engine>,
    digests: Arc<Digests>,
    _shutdown: oneshot::Sender<()>,
}

async fn digest_app(url: &str, clock: &Arc<ManualClock>, smtp: &SmtpSink) -> DigestApp {
    let mut settings = Settings::new("127.0.0.1:0", url);
    settings.alerts.enabled = false;
    settings.alerts.clock = clock.clone();
    settings.alerts.retry_base = std::time::Duration::from_millis(20);
    settings.alerts.smtp = Some(SmtpSettings {
        host: "127.0.0.1".into(),
        port: smtp.port,
        starttls: false,
        username: None,
        password: None,
        from: "hq@example.org".into(),
        ca_pem: None,
    });
    let app = Application::build(settings).await.expect("app builds");
    let out = DigestApp {
        address: format!("http://{}", app.local_addr()),
        storage: app.storage(),
        engine: app.alerts(),
        digests: app.digests(),
        _shutdown: oneshot::channel().0,
    };
    let (tx, rx) = oneshot::channel::<()>();
    tokio::spawn(app.run_until(async {
        let _ = rx.await;
    }));
    DigestApp {
        _shutdown: tx,
        ..out
    }
}

impl DigestApp {
    /// Queue what is due and send it; returns (queued, sent).
    async fn tick(&self) -> (usize, usize) {
        let queued = self.digests.queue_due().await.expect("queue digests");
        let sent = self.engine.deliver_due().await.expect("deliver");
        (queued, sent)
    }

    async fn store(&self, name: &str) -> Kiosk {
        let client = reqwest::Client::new();
        let store = countertop_hq::admin::add_store(self.storage.as_ref(), name, TZ)
            .await
            .expect("store");
        let code = countertop_hq::admin::issue_enroll_code(
            self.storage.as_ref(),
            store,
            Duration::hours(1),
        )
        .await
        .expect("code");
        let resp = client
            .post(format!("{}/api/v1/enroll", self.address))
            .json(&json!({"protocol": "1.0", "code": code, "device_name": "counter"}))
            .send()
            .await
            .expect("enroll");
        assert_eq!(resp.status(), 201);
        let body: serde_json::Value = resp.json().await.expect("json");
        Kiosk {
            store_id: store,
            token: body["device_token"].as_str().expect("token").to_owned(),
        }
    }

    /// Push ratings `(score, comment, reason)` at `at`.
    async fn push(&self, k: &Kiosk, at: DateTime<Utc>, ratings: &[(u8, Option<&str>, &[&str])]) {
        let events: Vec<_> = ratings
            .iter()
            .map(|(score, comment, reasons)| {
                let mut e = rating_at(at, *score);
                if let Some(c) = comment {
                    e["body"]["comment"] = json!(c);
                }
                e["body"]["reasons"] = json!(reasons);
                e
            })
            .collect();
        let resp = reqwest::Client::new()
            .post(format!("{}/api/v1/events", self.address))
            .bearer_auth(&k.token)
            .json(&json!({"protocol": "1.0", "events": events}))
            .send()
            .await
            .expect("push");
        assert_eq!(resp.status(), 200);
    }

    async fn user(&self, email: &str, role: Role, stores: &[Uuid], prefs: DigestPrefs) -> Uuid {
        let id = self
            .storage
            .create_user(email, role, stores, None)
            .await
            .expect("user")
            .expect("new email");
        assert!(self
            .storage
            .set_digest_prefs(id, prefs)
            .await
            .expect("prefs"));
        id
    }
}

fn tz() -> Tz {
    TZ.parse().expect("tz")
}

/// The last Sunday before today (local): ratings are pushed on it, so the Monday after it
/// has both a daily (that Sunday) and a weekly (the week ending it) digest due, and the
/// ratings are in the past (ingest re-stamps ratings from the future).
fn last_sunday() -> NaiveDate {
    let today = Utc::now().with_timezone(&tz()).date_naive();
    today - Duration::days(i64::from(today.weekday().num_days_from_monday()) + 1)
}

fn local(day: NaiveDate, h: u32, m: u32) -> DateTime<Utc> {
    tz().from_local_datetime(&day.and_hms_opt(h, m, 0).expect("time"))
        .single()
        .expect("unambiguous")
        .with_timezone(&Utc)
}

const DAILY: DigestPrefs = DigestPrefs {
    daily: true,
    weekly: false,
};
const BOTH: DigestPrefs = DigestPrefs {
    daily: true,
    weekly: true,
};

/// Decode base64 (as lettre writes MIME parts).
fn base64(s: &str) -> Vec<u8> {
    const A: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = Vec::new();
    let (mut buf, mut bits) = (0u32, 0u32);
    for c in s.bytes() {
        let Some(v) = A.iter().position(|&a| a == c) else {
            continue;
        };
        buf = (buf << 6) | v as u32;
        bits += 6;
        if bits >= 8 {
            bits -= 8;
            out.push((buf >> bits) as u8);
        }
    }
    out
}

/// Decode quoted-printable.
fn quoted_printable(s: &str) -> Vec<u8> {
    let mut out = Vec::new();
    let b = s.as_bytes();
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'=' {
            if b.get(i + 1) == Some(&b'\n') {
                i += 2;
                continue;
            }
            if let Some(h) = s
                .get(i + 1..i + 3)
                .and_then(|h| u8::from_str_radix(h, 16).ok())
            {
                out.push(h);
                i += 3;
                continue;
            }
        }
        out.push(b[i]);
        i += 1;
    }
    out
}

/// The decoded body of the mail's part of this content type.
fn part(mail: &Mail, content_type: &str) -> String {
    // The sink keeps SMTP's dot-stuffing: a line starting with "." arrives as "..".
    let data = mail.data.replace("\r\n", "\n").replace("\n..", "\n.");
    let start = data
        .find(&format!("Content-Type: {content_type}"))
        .unwrap_or_else(|| panic!("no {content_type} part in {}", mail.data));
    let rest = &data[start..];
    let body_at = rest.find("\n\n").expect("part body") + 2;
    let headers = &rest[..body_at];
    let body = &rest[body_at..];
    let body = &body[..body.find("\n--").unwrap_or(body.len())];
    let bytes = if headers.contains("base64") {
        base64(body)
    } else if headers.contains("quoted-printable") {
        quoted_printable(body)
    } else {
        body.as_bytes().to_vec()
    };
    String::from_utf8(bytes).expect("utf-8 part")
}

fn header<'a>(mail: &'a Mail, name: &str) -> Option<&'a str> {
    mail.data
        .lines()
        .find_map(|l| l.strip_prefix(&format!("{name}: ")))
        .map(str::trim)
}

fn mails_to(sink: &SmtpSink, to: &str) -> Vec<Mail> {
    sink.mails()
        .into_iter()
        .filter(|m| m.rcpt.iter().any(|r| r == to))
        .collect()
}

async fn a_digest_goes_out_at_the_local_hour_and_not_before(backend: Backend) {
    let sink = SmtpSink::start().await;
    let (url, _dir) = database_url(backend).await;
    let sunday = last_sunday();
    let clock = Arc::new(ManualClock::new(local(sunday + Duration::days(1), 6, 59)));
    let app = digest_app(&url, &clock, &sink).await;
    let k = app.store("Alpha").await;
    app.push(&k, local(sunday, 12, 0), &[(5, None, &[]), (2, None, &[])])
        .await;
    app.user("m@example.org", Role::Manager, &[k.store_id], DAILY)
        .await;

    assert_eq!(app.tick().await, (0, 0), "06:59 local: not yet");
    assert!(sink.mails().is_empty());
    clock.set(local(sunday + Duration::days(1), 7, 0));
    assert_eq!(app.tick().await, (1, 1), "07:00 local: yesterday's digest");
    clock.set(local(sunday + Duration::days(1), 18, 0));
    assert_eq!(app.tick().await, (0, 0), "one per day");
    let mails = mails_to(&sink, "m@example.org");
    assert_eq!(mails.len(), 1);
    let unsub = header(&mails[0], "List-Unsubscribe").expect("List-Unsubscribe");
    assert!(unsub.starts_with('<') && unsub.contains("/unsubscribe/one-click?token="));
    assert_eq!(
        header(&mails[0], "List-Unsubscribe-Post"),
        Some("List-Unsubscribe=One-Click")
    );
    clock.set(local(sunday + Duration::days(2), 7, 0));
    assert_eq!(app.tick().await, (1, 1), "the next day's digest");
}

async fn the_digest_shows_the_read_models_figures_for_the_recipients_stores_only(backend: Backend) {
    let sink = SmtpSink::start().await;
    let (url, _dir) = database_url(backend).await;
    let sunday = last_sunday();
    let monday = sunday + Duration::days(1);
    let clock = Arc::new(ManualClock::new(local(monday, 7, 30)));
    let app = digest_app(&url, &clock, &sink).await;
    let a = app.store("Alpha & Co").await;
    let b = app.store("Beta Hidden").await;
    let hostile = "<script>alert(1)</script> & \"quotes\"";
    app.push(
        &a,
        local(sunday, 12, 0),
        &[
            (5, None, &[]),
            (4, None, &[]),
            (1, Some(hostile), &["slow_service"]),
            (2, None, &["slow_service", "dirty"]),
        ],
    )
    .await;
    app.push(
        &b,
        local(sunday, 13, 0),
        &[(5, Some("beta only"), &["beta_reason"])],
    )
    .await;
    // The day before, for the change.
    app.push(
        &a,
        local(sunday - Duration::days(1), 12, 0),
        &[(5, None, &[])],
    )
    .await;
    let manager = app
        .user("vi@example.org", Role::Manager, &[a.store_id], DAILY)
        .await;
    app.storage
        .set_user_lang(manager, "vi")
        .await
        .expect("lang");
    let gone = app.user("gone@example.org", Role::Admin, &[], DAILY).await;
    app.storage
        .set_user_disabled(gone, true)
        .await
        .expect("disable");

    assert_eq!(app.tick().await, (1, 1), "the disabled admin gets none");
    let mails = mails_to(&sink, "vi@example.org");
    assert_eq!(mails.len(), 1);
    assert!(mails_to(&sink, "gone@example.org").is_empty());
    let (text, html) = (part(&mails[0], "text/plain"), part(&mails[0], "text/html"));

    // The figures are the read model's, formatted as the dashboard formats them.
    let (cur, _) = period_ranges(
        Period::Custom {
            from: sunday,
            to: sunday,
        },
        &[(a.store_id, tz())],
        clock_now(&clock),
    );
    let sums = app
        .storage
        .store_summaries(&cur, false)
        .await
        .expect("read model");
    assert_eq!(sums.len(), 1);
    let f = Figures::new(Lang::Vi, &Summary::from(&sums[0].1));
    assert_eq!(f.count, "4");
    for figure in [&f.count, &f.csat, &f.index] {
        assert!(text.contains(figure.as_str()), "{figure} in {text}");
        assert!(html.contains(figure.as_str()), "{figure} in {html}");
    }
    assert!(text.contains("Bản tin hằng ngày"), "Vietnamese: {text}");
    assert!(html.contains("Vấn đề hàng đầu") && html.contains("slow_service"));
    // Scope: nothing of the other store.
    for secret in ["Beta Hidden", "beta only", "beta_reason"] {
        assert!(!text.contains(secret) && !html.contains(secret), "{secret}");
    }
    // The comment: escaped in HTML, as typed in the text part.
    assert!(text.contains(hostile), "{text}");
    assert!(!html.contains("<script>"), "{html}");
    assert!(html.contains("&#60;script&#62;") || html.contains("&lt;script&gt;"));
    assert!(html.contains("Alpha &#38; Co") || html.contains("Alpha &amp; Co"));

    // The manager loses store A for B: the next digest is about B only.
    app.storage
        .update_user(manager, Role::Manager, &[b.store_id])
        .await
        .expect("scope");
    clock.set(local(monday + Duration::days(1), 7, 30));
    assert_eq!(app.tick().await, (1, 1));
    let mails = mails_to(&sink, "vi@example.org");
    let text = part(&mails[1], "text/plain");
    assert!(
        text.contains("Beta Hidden") && !text.contains("Alpha"),
        "{text}"
    );
}

fn clock_now(clock: &ManualClock) -> DateTime<Utc> {
    use countertop_hq::alerts::Clock;
    clock.now()
}

async fn a_restart_sends_a_queued_digest_once_and_never_queues_it_again(backend: Backend) {
    let sink = SmtpSink::start().await;
    let (url, _dir) = database_url(backend).await;
    let sunday = last_sunday();
    let clock = Arc::new(ManualClock::new(local(sunday + Duration::days(1), 8, 0)));
    let first = digest_app(&url, &clock, &sink).await;
    let k = first.store("Alpha").await;
    first
        .user("r@example.org", Role::Viewer, &[k.store_id], BOTH)
        .await;
    assert_eq!(
        first.digests.queue_due().await.expect("queue"),
        2,
        "Monday: daily and weekly"
    );
    drop(first); // stopped before the outbox sent anything
    let second = digest_app(&url, &clock, &sink).await;
    assert_eq!(second.tick().await, (0, 2), "sent once, not queued again");
    clock.advance(Duration::hours(3));
    assert_eq!(second.tick().await, (0, 0));
    assert_eq!(mails_to(&sink, "r@example.org").len(), 2);
}

async fn two_hq_instances_on_one_postgresql_send_each_digest_once(backend: Backend) {
    let sink = SmtpSink::start().await;
    let (url, _dir) = database_url(backend).await;
    let sunday = last_sunday();
    let clock = Arc::new(ManualClock::new(local(sunday + Duration::days(1), 7, 0)));
    let one = digest_app(&url, &clock, &sink).await;
    let two = digest_app(&url, &clock, &sink).await;
    let k = one.store("Alpha").await;
    one.push(&k, local(sunday, 12, 0), &[(4, None, &[])]).await;
    for i in 0..5 {
        one.user(
            &format!("u{i}@example.org"),
            Role::Manager,
            &[k.store_id],
            BOTH,
        )
        .await;
    }
    let (q1, q2) = tokio::join!(one.digests.queue_due(), two.digests.queue_due());
    assert_eq!(
        q1.expect("one") + q2.expect("two"),
        10,
        "5 accounts × 2 kinds"
    );
    let (s1, s2) = tokio::join!(one.engine.deliver_due(), two.engine.deliver_due());
    assert_eq!(s1.expect("one") + s2.expect("two"), 10);
    assert_eq!(sink.mails().len(), 10);
    assert_eq!(one.tick().await, (0, 0));
    assert_eq!(two.tick().await, (0, 0));
}

async fn unsubscribing_by_link_and_by_one_click_stops_the_next_digest(backend: Backend) {
    let sink = SmtpSink::start().await;
    let (url, _dir) = database_url(backend).await;
    let sunday = last_sunday();
    let monday = sunday + Duration::days(1);
    let clock = Arc::new(ManualClock::new(local(monday, 7, 0)));
    let app = digest_app(&url, &clock, &sink).await;
    let k = app.store("Alpha").await;
    let user = app
        .user("u@example.org", Role::Manager, &[k.store_id], BOTH)
        .await;
    assert_eq!(app.tick().await, (2, 2));
    let mails = mails_to(&sink, "u@example.org");
    let daily = mails
        .iter()
        .find(|m| part(m, "text/plain").starts_with("Daily digest"))
        .expect("daily");
    let weekly = mails
        .iter()
        .find(|m| part(m, "text/plain").starts_with("Weekly digest"))
        .expect("weekly");

    // The daily digest's link: a GET shows a confirmation and changes nothing.
    let text = part(daily, "text/plain");
    let link = text
        .lines()
        .find_map(|l| l.split_once(": http").map(|(_, u)| format!("http{u}")))
        .filter(|u| u.contains("/unsubscribe?token="))
        .or_else(|| {
            text.lines()
                .filter_map(|l| l.find("http").map(|i| l[i..].to_owned()))
                .find(|u| u.contains("/unsubscribe?token="))
        })
        .expect("unsubscribe link in the text part");
    let path = &link[app.address.len()..];
    let mut browser = WebClient::for_base(&app.address);
    let (status, page) = browser.get(path).await;
    assert_eq!(status, 200, "{page}");
    assert!(csrf_of(&page).is_some(), "a form with one button");
    assert_eq!(app.storage.digest_prefs(user).await.expect("prefs"), BOTH);
    let token = path.split("token=").nth(1).expect("token");
    let resp = browser.post("/unsubscribe", &[("token", token)]).await;
    assert_eq!(resp.status(), 200);
    assert_eq!(
        app.storage.digest_prefs(user).await.expect("prefs"),
        DigestPrefs {
            daily: false,
            weekly: true
        }
    );

    // The weekly digest's List-Unsubscribe: the mail client's one-click POST.
    let one_click = header(weekly, "List-Unsubscribe")
        .expect("header")
        .trim_matches(['<', '>']);
    let resp = reqwest::Client::new()
        .post(one_click)
        .header("content-type", "application/x-www-form-urlencoded")
        .body("List-Unsubscribe=One-Click")
        .send()
        .await
        .expect("one-click");
    assert_eq!(resp.status(), 200);
    assert_eq!(
        app.storage.digest_prefs(user).await.expect("prefs"),
        DigestPrefs {
            daily: false,
            weekly: false
        }
    );

    clock.set(local(monday + Duration::days(7), 7, 0));
    assert_eq!(app.tick().await, (0, 0), "neither digest any more");
}

async fn a_forged_or_tampered_unsubscribe_token_is_refused_with_a_clear_page(backend: Backend) {
    let sink = SmtpSink::start().await;
    let (url, _dir) = database_url(backend).await;
    let clock = Arc::new(ManualClock::new(Utc::now()));
    let app = digest_app(&url, &clock, &sink).await;
    let user = app.user("u@example.org", Role::Admin, &[], BOTH).await;
    let secret = unsubscribe_secret(app.storage.as_ref())
        .await
        .expect("secret");
    let genuine = token::sign(&secret, user, DigestKind::Weekly);
    let forged = token::sign(b"not the server's secret", user, DigestKind::Weekly);
    let tampered = genuine.replace(".weekly.", ".daily.");
    let mut browser = WebClient::for_base(&app.address);
    for bad in [forged.as_str(), tampered.as_str(), "junk", ""] {
        let (status, page) = browser.get(&format!("/unsubscribe?token={bad}")).await;
        assert_eq!(status, 400, "{bad:?}");
        assert!(page.contains("not valid"), "{page}");
        let resp = reqwest::Client::new()
            .post(format!("{}/unsubscribe/one-click?token={bad}", app.address))
            .body("List-Unsubscribe=One-Click")
            .send()
            .await
            .expect("one-click");
        assert_eq!(resp.status(), 400, "{bad:?}");
    }
    let (status, _) = browser.get(&format!("/unsubscribe?token={genuine}")).await;
    assert_eq!(status, 200);
    let resp = browser.post("/unsubscribe", &[("token", &forged)]).await;
    assert_eq!(resp.status(), 400);
    assert_eq!(app.storage.digest_prefs(user).await.expect("prefs"), BOTH);
}

async fn an_account_chooses_its_digests_on_the_dashboard(backend: Backend) {
    let sink = SmtpSink::start().await;
    let (url, _dir) = database_url(backend).await;
    let clock = Arc::new(ManualClock::new(Utc::now()));
    let app = digest_app(&url, &clock, &sink).await;
    let k = app.store("Alpha").await;
    let hash = countertop_hq::web::auth::hash_password(crate::common::web::PASSWORD)
        .await
        .expect("hash");
    let viewer = app
        .storage
        .create_user("v@example.org", Role::Viewer, &[k.store_id], Some(&hash))
        .await
        .expect("user")
        .expect("new");
    assert_eq!(
        app.storage.digest_prefs(viewer).await.expect("prefs"),
        DigestPrefs::default(),
        "weekly only until chosen"
    );
    let mut browser = WebClient::for_base(&app.address);
    browser.get("/login").await;
    let resp = browser
        .post(
            "/login",
            &[
                ("email", "v@example.org"),
                ("password", crate::common::web::PASSWORD),
            ],
        )
        .await;
    assert_eq!(resp.status(), 303);
    let (status, page) = browser.get("/account").await;
    assert_eq!(status, 200);
    assert!(page.contains("value=\"weekly\" checked"), "{page}");
    let resp = browser
        .post("/account/digests", &[("digests", "both")])
        .await;
    assert_eq!(resp.status(), 303);
    assert_eq!(app.storage.digest_prefs(viewer).await.expect("prefs"), BOTH);
    let resp = browser
        .post("/account/digests", &[("digests", "hourly")])
        .await;
    assert_eq!(resp.status(), 400);
    assert_eq!(app.storage.digest_prefs(viewer).await.expect("prefs"), BOTH);
}

crate::on_both_backends!(
    a_digest_goes_out_at_the_local_hour_and_not_before,
    the_digest_shows_the_read_models_figures_for_the_recipients_stores_only,
    a_restart_sends_a_queued_digest_once_and_never_queues_it_again,
    unsubscribing_by_link_and_by_one_click_stops_the_next_digest,
    a_forged_or_tampered_unsubscribe_token_is_refused_with_a_clear_page,
    an_account_chooses_its_digests_on_the_dashboard,
);

mod one_postgresql {
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn two_hq_instances_on_one_postgresql_send_each_digest_once() {
        super::two_hq_instances_on_one_postgresql_send_each_digest_once(
            crate::common::Backend::Postgres,
        )
        .await
    }
}
