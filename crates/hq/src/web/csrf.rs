//! Cross-site request forgery: every POST must come from this dashboard. Two checks, both
//! in the route guard ([`super::guard`]), so no handler can forget them:
//! - the browser's own word: a `Sec-Fetch-Site` other than `same-origin`/`none`, or an
//!   `Origin` whose host is not this request's `Host`, is refused;
//! - a synchronizer token: signed-in forms carry the session's token in a hidden `csrf`
//!   field (or an `X-CSRF-Token` header); the sign-in and set-password forms, which have
//!   no session yet, carry the token of the `ct_csrf` cookie (double submit).

use axum::body::{Body, Bytes};
use axum::http::request::Parts;
use axum::http::{header, HeaderMap};

use super::error::WebError;
use super::i18n::cookie;

/// The cookie of the double-submit token on pages without a session.
pub const CSRF_COOKIE: &str = "ct_csrf";
/// The hidden form field every form carries.
pub const CSRF_FIELD: &str = "csrf";

/// Refuse a request the browser says comes from another site.
pub fn check_origin(headers: &HeaderMap) -> Result<(), WebError> {
    if let Some(site) = headers.get("sec-fetch-site") {
        match site.to_str().unwrap_or("") {
            "same-origin" | "none" => {}
            _ => return Err(WebError::Csrf),
        }
    }
    if let Some(origin) = headers.get(header::ORIGIN) {
        let origin = origin.to_str().map_err(|_| WebError::Csrf)?;
        let host = headers
            .get(header::HOST)
            .and_then(|h| h.to_str().ok())
            .ok_or(WebError::Csrf)?;
        let origin_host = origin
            .strip_prefix("https://")
            .or_else(|| origin.strip_prefix("http://"))
            .ok_or(WebError::Csrf)?;
        if !origin_host.eq_ignore_ascii_case(host) {
            return Err(WebError::Csrf);
        }
    }
    Ok(())
}

/// Equal, in time that does not depend on where they differ.
pub fn same_token(a: &str, b: &str) -> bool {
    a.len() == b.len()
        && !a.is_empty()
        && a.bytes()
            .zip(b.bytes())
            .fold(0u8, |acc, (x, y)| acc | (x ^ y))
            == 0
}

/// The double-submit cookie's token, when it looks like one of ours.
pub fn cookie_token(headers: &HeaderMap) -> Option<String> {
    cookie(headers, CSRF_COOKIE)
        .filter(|t| t.len() == 64 && t.bytes().all(|b| b.is_ascii_hexdigit()))
}

/// Read the body (up to `limit` bytes), check its `csrf` field (or the header) against
/// `expected`, and hand back a body the handler can read again.
pub async fn verify(
    parts: &Parts,
    body: Body,
    expected: Option<&str>,
    limit: usize,
) -> Result<Body, WebError> {
    let bytes: Bytes =
        axum::body::to_bytes(body, limit)
            .await
            .map_err(|_| WebError::BadRequest {
                message: "The form is too large.",
            })?;
    let sent = parts
        .headers
        .get("x-csrf-token")
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned)
        .or_else(|| form_urlencoded_field(&bytes, CSRF_FIELD));
    match (expected, sent) {
        (Some(expected), Some(sent)) if same_token(expected, &sent) => Ok(Body::from(bytes)),
        _ => Err(WebError::Csrf),
    }
}

fn form_urlencoded_field(bytes: &[u8], name: &str) -> Option<String> {
    let pairs: Vec<(String, String)> = serde_urlencoded::from_bytes(bytes).ok()?;
    pairs.into_iter().find(|(k, _)| k == name).map(|(_, v)| v)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn headers(pairs: &[(&'static str, &'static str)]) -> HeaderMap {
        let mut h = HeaderMap::new();
        for (k, v) in pairs {
            h.insert(*k, v.parse().expect("value"));
        }
        h
    }

    #[test]
    fn same_origin_posts_pass_and_foreign_ones_do_not() {
        assert!(check_origin(&headers(&[
            ("host", "hq:8080"),
            ("origin", "http://hq:8080")
        ]))
        .is_ok());
        assert!(check_origin(&headers(&[("host", "hq:8080")])).is_ok());
        assert!(check_origin(&headers(&[
            ("host", "hq:8080"),
            ("origin", "http://evil:8080")
        ]))
        .is_err());
        assert!(check_origin(&headers(&[("host", "hq"), ("origin", "null")])).is_err());
        assert!(check_origin(&headers(&[
            ("host", "hq"),
            ("sec-fetch-site", "cross-site")
        ]))
        .is_err());
        assert!(
            check_origin(&headers(&[("host", "hq"), ("sec-fetch-site", "same-site")])).is_err()
        );
    }

    #[test]
    fn tokens_compare_whole() {
        assert!(same_token("abcd", "abcd"));
        assert!(!same_token("abcd", "abce"));
        assert!(!same_token("abcd", "abc"));
        assert!(!same_token("", ""));
    }
}
