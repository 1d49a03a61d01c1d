//! Request bodies: JSON, plain or gzip-compressed, read within the wire limit and decoded
//! within the decoded limit (the defence against gzip bombs). [`decode`] is a pure
//! function of the bytes, so it can be fuzzed and unit-tested without a server;
//! [`GzJson`] is the axum extractor every handler with a body uses, so no handler reads,
//! inflates or parses a body itself.

use std::io::Read;

use axum::body::Body;
use axum::extract::{FromRequest, Request};
use axum::http::{header, HeaderMap, StatusCode};
use countertop_protocol::{ProtocolVersion, PROTOCOL_VERSION};
use http_body_util::BodyExt;
use serde::de::DeserializeOwned;

use crate::app::Limits;
use crate::error::ApiError;
use crate::routes::AppState;

fn too_large(limits: &Limits) -> ApiError {
    ApiError::new(
        StatusCode::PAYLOAD_TOO_LARGE,
        "body_too_large",
        format!(
            "the request body is over {} bytes; send smaller batches",
            limits.max_body_bytes
        ),
    )
}

/// The body as sent (`raw`, at most `max_body_bytes`) to the body as meant: undo the
/// `Content-Encoding` (none, `identity` or `gzip`), refusing more than `max_decoded_bytes`
/// of output.
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
        None | Some("") | Some("identity") => Ok(raw.to_vec()),
        Some("gzip") | Some("x-gzip") => {
            let limit = limits.max_decoded_bytes;
            let mut out = Vec::new();
            flate2::read::GzDecoder::new(raw)
                .take(limit as u64 + 1)
                .read_to_end(&mut out)
                .map_err(|_| {
                    ApiError::bad_request(
                        "bad_gzip",
                        "the body is not valid gzip data; compress it with gzip, or send it plain without Content-Encoding",
                    )
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

/// Refuse anything but `Content-Type: application/json` (parameters allowed).
pub fn require_json(headers: &HeaderMap) -> Result<(), ApiError> {
    let ct = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    let mime = ct.split(';').next().unwrap_or("").trim();
    if mime.eq_ignore_ascii_case("application/json") {
        Ok(())
    } else {
        Err(ApiError::new(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "unsupported_media_type",
            format!(
                "send Content-Type: application/json (got {:?})",
                ct.chars().take(64).collect::<String>()
            ),
        ))
    }
}

/// Read the body, keeping at most `max_body_bytes`. A body somewhat over the limit is
/// read and thrown away, so the client (still sending) gets a clean 413 rather than a
/// reset connection; a huge one is refused at once.
async fn read_limited(
    body: Body,
    headers: &HeaderMap,
    limits: &Limits,
) -> Result<Vec<u8>, ApiError> {
    let drain_cap = limits.max_body_bytes.saturating_mul(4);
    let declared = headers
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<usize>().ok());
    if declared.is_some_and(|len| len > drain_cap) {
        return Err(too_large(limits));
    }
    let mut body = body;
    let mut raw = Vec::with_capacity(declared.unwrap_or(0).min(limits.max_body_bytes));
    let mut seen = 0usize;
    while let Some(frame) = body.frame().await {
        let frame = frame.map_err(|_| {
            ApiError::bad_request(
                "unreadable_body",
                "the request body could not be read; send it again",
            )
        })?;
        if let Ok(data) = frame.into_data() {
            seen = seen.saturating_add(data.len());
            if seen > drain_cap {
                break;
            }
            if seen <= limits.max_body_bytes {
                raw.extend_from_slice(&data);
            }
        }
    }
    if seen > limits.max_body_bytes {
        return Err(too_large(limits));
    }
    Ok(raw)
}

/// A request body type, and the protocol version it carries, if any.
pub trait WireBody: DeserializeOwned {
    fn protocol(&self) -> Option<ProtocolVersion> {
        None
    }
}

impl WireBody for countertop_protocol::EnrollRequest {
    fn protocol(&self) -> Option<ProtocolVersion> {
        Some(self.protocol)
    }
}

impl WireBody for countertop_protocol::SurveyConfig {}

/// Refuse a protocol version of another major.
pub fn check_protocol(v: ProtocolVersion) -> Result<(), ApiError> {
    PROTOCOL_VERSION
        .check_compatible(v)
        .map_err(|e| ApiError::bad_request("unsupported_protocol_version", e.to_string()))
}

/// Parse JSON: broken JSON is 400 `malformed_json`; JSON of the wrong shape or with
/// refused values is 422 `invalid_body`.
pub fn parse_json<T: DeserializeOwned>(bytes: &[u8]) -> Result<T, ApiError> {
    serde_json::from_slice(bytes).map_err(|e| {
        if e.classify() == serde_json::error::Category::Data {
            ApiError::unprocessable("invalid_body", format!("the body is not valid: {e}"))
        } else {
            ApiError::bad_request("malformed_json", format!("the body is not JSON: {e}"))
        }
    })
}

/// A JSON body, plain or gzip, within the limits, with its protocol version checked.
pub struct GzJson<T>(pub T);

impl<T: WireBody> FromRequest<AppState> for GzJson<T> {
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &AppState) -> Result<Self, Self::Rejection> {
        let (parts, body) = req.into_parts();
        require_json(&parts.headers)?;
        let raw = read_limited(body, &parts.headers, &state.limits).await?;
        let encoding = parts
            .headers
            .get(header::CONTENT_ENCODING)
            .map(|v| v.to_str().unwrap_or("\u{fffd}"));
        let bytes = decode(&raw, encoding, &state.limits)?;
        drop(raw);
        let value: T = parse_json(&bytes)?;
        if let Some(v) = value.protocol() {
            check_protocol(v)?;
        }
        Ok(GzJson(value))
    }
}

#[cfg(test)]
mod tests {
    use std::io::Write;

    use super::*;

    fn gzip(bytes: &[u8]) -> Vec<u8> {
        let mut enc = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
        enc.write_all(bytes).expect("gzip");
        enc.finish().expect("gzip")
    }

    fn code(e: ApiError) -> (u16, String) {
        match e {
            ApiError::Client { status, code, .. } => (status.as_u16(), code.to_owned()),
            other => panic!("not a client error: {other:?}"),
        }
    }

    #[test]
    fn plain_and_identity_bodies_pass_through() {
        let limits = Limits::default();
        assert_eq!(decode(b"{}", None, &limits).expect("plain"), b"{}");
        assert_eq!(
            decode(b"{}", Some(" Identity "), &limits).expect("identity"),
            b"{}"
        );
    }

    #[test]
    fn gzip_is_inflated() {
        let limits = Limits::default();
        let out = decode(&gzip(b"{\"a\":1}"), Some("GZIP"), &limits).expect("gzip");
        assert_eq!(out, b"{\"a\":1}");
    }

    #[test]
    fn a_body_over_the_wire_limit_is_413() {
        let limits = Limits {
            max_body_bytes: 4,
            ..Limits::default()
        };
        let err = decode(b"12345", None, &limits).expect_err("too large");
        assert_eq!(code(err), (413, "body_too_large".to_owned()));
    }

    #[test]
    fn a_gzip_bomb_stops_at_the_decoded_limit() {
        let limits = Limits {
            max_decoded_bytes: 1024,
            ..Limits::default()
        };
        let err = decode(&gzip(&[b' '; 1025]), Some("gzip"), &limits).expect_err("bomb");
        assert_eq!(code(err), (413, "decoded_body_too_large".to_owned()));
        let ok = decode(&gzip(&[b' '; 1024]), Some("gzip"), &limits).expect("at the limit");
        assert_eq!(ok.len(), 1024);
    }

    #[test]
    fn corrupt_gzip_is_400_and_unknown_encodings_are_415() {
        let limits = Limits::default();
        let err = decode(b"not gzip", Some("gzip"), &limits).expect_err("corrupt");
        assert_eq!(code(err), (400, "bad_gzip".to_owned()));
        let err = decode(b"{}", Some("br"), &limits).expect_err("brotli");
        assert_eq!(code(err), (415, "unsupported_content_encoding".to_owned()));
    }

    #[test]
    fn broken_json_is_400_and_wrong_shapes_are_422() {
        let err =
            parse_json::<countertop_protocol::EnrollRequest>(b"{\"protocol\":").expect_err("eof");
        assert_eq!(code(err), (400, "malformed_json".to_owned()));
        let err = parse_json::<countertop_protocol::EnrollRequest>(b"{\"protocol\":1}")
            .expect_err("shape");
        assert_eq!(code(err), (422, "invalid_body".to_owned()));
    }
}
