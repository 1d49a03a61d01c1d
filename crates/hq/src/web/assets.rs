//! The dashboard's one stylesheet, compiled into the binary (HQ may run in a back office
//! without internet: no CDN). Its URL carries a hash of its content, so browsers may
//! cache it for a year and still see a new version at once.

use std::sync::LazyLock;

use axum::http::header;
use axum::response::IntoResponse;

const CSS: &str = include_str!("../../static/app.css");

static CSS_URL: LazyLock<String> = LazyLock::new(|| {
    let hash = crate::secrets::hash_secret(CSS);
    format!("/static/app.css?v={}", &hash[..12])
});

/// `/static/app.css?v=<hash>`.
pub fn css_url() -> &'static str {
    CSS_URL.as_str()
}

/// GET /static/app.css
pub async fn stylesheet() -> impl IntoResponse {
    (
        [
            (header::CONTENT_TYPE, "text/css; charset=utf-8"),
            (header::CACHE_CONTROL, "public, max-age=31536000, immutable"),
        ],
        CSS,
    )
}
