//! The pure part of reading a request body: the wire limit, the `Content-Encoding` check
//! and gzip decoding capped at the decoded limit (the defence against gzip bombs). It takes
//! bytes already read off the connection, so it can be tested and fuzzed without a server.

use std::io::Read;

use axum::http::StatusCode;

use crate::app::Limits;
use crate::error::ApiError;

/// The 413 for a body over the wire limit.
pub fn too_large(limits: &Limits) -> ApiError {
    ApiError::new(
        StatusCode::PAYLOAD_TOO_LARGE,
        "body_too_large",
        format!(
            "the request body is over {} bytes; send smaller batches",
            limits.max_body_bytes
        ),
    )
}

/// Check `raw` against the wire limit and undo its `Content-Encoding` (none, `identity` or
/// `gzip`, case and surrounding spaces ignored) within the decoded limit.
pub fn decode(
    raw: &[u8],
    content_encoding: Option<&str>,
    limits: &Limits,
) -> Result<Vec<u8>, ApiError> {
    if raw.len() > limits.max_body_bytes {
        return Err(too_large(limits));
    }
    let encoding = content_encoding.map(|v| v.trim().to_ascii_lowercase());
    match encoding.as_deref() {
        None | Some("identity") => Ok(raw.to_vec()),
        Some("gzip") => {
            let limit = limits.max_decoded_bytes;
            let mut out = Vec::new();
            flate2::read::GzDecoder::new(raw)
                .take(limit as u64 + 1)
                .read_to_end(&mut out)
                .map_err(|_| {
                    ApiError::bad_request("bad_gzip", "the body is not valid gzip data")
                })?;
            if out.len() > limit {
                return Err(ApiError::new(
                    StatusCode::PAYLOAD_TOO_LARGE,
                    "decoded_body_too_large",
                    format!("the body inflates to over {limit} bytes; send smaller batches"),
                ));
            }
            Ok(out)
        }
        Some(other) => Err(ApiError::new(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "unsupported_content_encoding",
            format!(
                "Content-Encoding {:?} is not supported; use gzip or none",
                other.chars().take(32).collect::<String>()
            ),
        )),
    }
}

#[cfg(test)]
mod tests {
    use std::io::Write;

    use super::*;

    fn code(e: ApiError) -> &'static str {
        match e {
            ApiError::Client { code, .. } => code,
            other => panic!("expected a client error, got {other:?}"),
        }
    }

    fn gzip(bytes: &[u8]) -> Vec<u8> {
        let mut enc = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
        enc.write_all(bytes).expect("gzip in memory");
        enc.finish().expect("gzip in memory")
    }

    #[test]
    fn plain_and_identity_bodies_pass_through_unchanged() {
        let limits = Limits::default();
        assert_eq!(decode(b"{}", None, &limits).expect("plain"), b"{}");
        assert_eq!(
            decode(b"{}", Some(" Identity "), &limits).expect("identity"),
            b"{}"
        );
    }

    #[test]
    fn gzip_body_is_inflated_whatever_the_header_case() {
        let body = gzip(b"{\"a\":1}");
        let out = decode(&body, Some("GZIP"), &Limits::default()).expect("gzip");
        assert_eq!(out, b"{\"a\":1}");
    }

    #[test]
    fn body_over_the_wire_limit_is_refused() {
        let limits = Limits {
            max_body_bytes: 4,
            ..Limits::default()
        };
        assert_eq!(
            code(decode(b"12345", None, &limits).unwrap_err()),
            "body_too_large"
        );
    }

    #[test]
    fn gzip_bomb_is_refused_past_the_decoded_limit() {
        let limits = Limits {
            max_decoded_bytes: 1000,
            ..Limits::default()
        };
        let bomb = gzip(&vec![b' '; 1001]);
        assert_eq!(
            code(decode(&bomb, Some("gzip"), &limits).unwrap_err()),
            "decoded_body_too_large"
        );
        let exact = gzip(&vec![b' '; 1000]);
        assert_eq!(
            decode(&exact, Some("gzip"), &limits)
                .expect("at limit")
                .len(),
            1000
        );
    }

    #[test]
    fn broken_gzip_and_unknown_encodings_get_their_own_codes() {
        let limits = Limits::default();
        assert_eq!(
            code(decode(b"not gzip", Some("gzip"), &limits).unwrap_err()),
            "bad_gzip"
        );
        assert_eq!(
            code(decode(b"{}", Some("br"), &limits).unwrap_err()),
            "unsupported_content_encoding"
        );
    }
}
