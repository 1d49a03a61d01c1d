//! What a head-office manager reads to find their way: the nav marks the section a
//! store's page belongs to, typed dates are a custom period without picking "Custom"
//! first, kiosks are shown by name (the id only as a short tag), and the Vietnamese
//! pages use the kiosk's word for a store.

use chrono::{DateTime, Utc};
use countertop_hq::storage::accounts::Role;
use uuid::Uuid;

use crate::common::{rating_at, spawn_app, Backend};

/// The nav entry marked `aria-current="page"`, by its href.
fn current_nav(html: &str) -> Vec<String> {
    let nav = &html[html.find("class=\"main-nav\"").expect("nav")..];
    let nav = &nav[..nav.find("</nav>").expect("nav end")];
    nav.split("<a href=\"")
        .skip(1)
        .filter(|a| a[..a.find('>').unwrap_or(0)].contains("aria-current=\"page\""))
        .map(|a| a[..a.find('"').unwrap_or(0)].to_owned())
        .collect()
}

async fn the_nav_marks_the_section_of_a_stores_page_not_always_the_overview(backend: Backend) {
    let app = spawn_app(backend).await;
    let kiosk = app.kiosk().await;
    let (_, mut web) = app.signed_in(Role::Admin, &[]).await;
    let s = kiosk.store_id;
    for (path, marked) in [
        ("/".to_owned(), "/"),
        (format!("/stores/{s}"), "/"),
        (format!("/stores/{s}/devices"), "/devices"),
        (format!("/stores/{s}/survey"), "/survey"),
        (format!("/stores/{s}/alerts"), "/alerts"),
        (format!("/stores/{s}/audit"), "/audit"),
        ("/export".to_owned(), "/export"),
    ] {
        let (status, html) = web.get(&path).await;
        assert_eq!(status, 200, "{path}");
        assert_eq!(current_nav(&html), [marked], "{path}");
    }
}

fn count_of(html: &str, store: Uuid) -> String {
    let start = html
        .find(&format!("id=\"store-{store}\""))
        .unwrap_or_else(|| panic!("no row for {store}"));
    let rest = &html[start..];
    let at = rest.find("fig-count\">").expect("count") + "fig-count\">".len();
    rest[at..at + rest[at..].find('<').expect("end")].to_owned()
}

async fn typed_dates_are_a_custom_period_whatever_the_select_says(backend: Backend) {
    let app = spawn_app(backend).await;
    let kiosk = app.kiosk_in("UTC").await;
    let at: DateTime<Utc> = "2026-11-10T12:00:00Z".parse().expect("time");
    app.push_ok(&kiosk.token, &[rating_at(at, 5)]).await;
    let (_, mut web) = app.signed_in(Role::Admin, &[]).await;
    // The form as a browser sends it when dates are typed and the select left on 7 days.
    let (_, typed) = web
        .get("/?period=7d&from=2026-11-10&to=2026-11-10&shown_from=&shown_to=")
        .await;
    assert_eq!(count_of(&typed, kiosk.store_id), "1", "the typed day");
    assert!(
        typed.contains("value=\"custom\" selected"),
        "custom is shown as picked"
    );
    // Dates left as the page showed them follow the select: back to the last 30 days.
    let (_, left) = web
        .get("/?period=30d&from=2026-11-10&to=2026-11-10&shown_from=2026-11-10&shown_to=2026-11-10")
        .await;
    assert!(left.contains("value=\"30d\" selected"), "the select wins");
}

async fn kiosks_are_shown_by_name_with_the_id_only_as_a_short_tag(backend: Backend) {
    let app = spawn_app(backend).await;
    let kiosk = app.kiosk().await;
    let (_, mut web) = app.signed_in(Role::Admin, &[]).await;
    let id = kiosk.device_id.simple().to_string();
    for path in [
        "/devices".to_owned(),
        format!("/stores/{}/devices", kiosk.store_id),
    ] {
        let (_, html) = web.get(&path).await;
        let tbody = &html[html.find("<tbody>").expect("table")..];
        let tbody = &tbody[..tbody.find("</tbody>").expect("end")];
        assert!(
            tbody.contains("<strong>counter</strong>"),
            "{path}: the name"
        );
        assert!(
            tbody.contains(&format!("#{}", &id[id.len() - 6..])),
            "{path}: a short tag"
        );
        assert!(
            !tbody
                .split('>')
                .any(|text| text.starts_with(&kiosk.device_id.to_string())),
            "{path}: the full id is never text on the page"
        );
    }
}

async fn vietnamese_pages_say_quan_for_a_store_as_the_kiosk_does(backend: Backend) {
    let app = spawn_app(backend).await;
    let kiosk = app.kiosk().await;
    let (_, mut web) = app.signed_in(Role::Admin, &[]).await;
    web.get("/export").await;
    let resp = web.post("/lang", &[("set", "vi"), ("next", "/")]).await;
    assert!(resp.status().is_redirection() || resp.status().is_success());
    for path in [
        "/".to_owned(),
        "/export".to_owned(),
        format!("/stores/{}/devices", kiosk.store_id),
    ] {
        let (_, vi) = web.get(&path).await;
        assert!(vi.contains("lang=\"vi\""), "{path} in Vietnamese");
        assert!(!vi.to_lowercase().contains("cửa hàng"), "{path}: {vi}");
    }
    let (_, export) = web.get("/export").await;
    assert!(export.contains("Tất cả quán của tôi"));
}

crate::on_both_backends!(
    the_nav_marks_the_section_of_a_stores_page_not_always_the_overview,
    typed_dates_are_a_custom_period_whatever_the_select_says,
    kiosks_are_shown_by_name_with_the_id_only_as_a_short_tag,
    vietnamese_pages_say_quan_for_a_store_as_the_kiosk_does,
);
