//! The OpenAPI 3.1 document served at `/api/v1/openapi.json`, generated from the code:
//! the operations come from the `#[utoipa::path]` of each handler, collected by the
//! router itself (`routes::api_router`), so a route cannot be served without being
//! documented; the schemas come from the protocol types (`countertop-protocol`'s
//! `openapi` feature) and HQ's own response types.

use std::sync::OnceLock;

use countertop_protocol::{
    ErrorBody, Event, EventOutcome, NewDeviceHealth, NewRating, NewRatingDetails, NewRegular,
    RegularErased, Visit,
};
use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::openapi::OpenApi as Document;
use utoipa::{Modify, OpenApi};

/// The document's fixed parts; the router adds every operation.
#[derive(OpenApi)]
#[openapi(
    info(
        title = "Countertop head office API",
        description = "Kiosks enroll, push events and pull their survey and regulars; head office reads reports. \
            Every answer that is not a success is JSON {\"error\": \"<stable code>\", \"message\": \"<what to do>\"}, \
            including unknown routes (404 `not_found`), wrong methods (405 `method_not_allowed`, with `Allow`) and timeouts \
            (503 `timeout`). Kiosks authenticate with the device token from enrollment, head office with an API token \
            from `countertop-hq token add`, both as `Authorization: Bearer`. Enrollment attempts are throttled per client \
            address and per code (429 with `Retry-After`); a kiosk's sync never is.",
        license(name = "GPL-3.0-or-later")
    ),
    servers((url = "/api/v1")),
    modifiers(&SecuritySchemes),
    components(schemas(
        ErrorBody, Event, EventOutcome, NewRating, NewRatingDetails, NewDeviceHealth,
        NewRegular, Visit, RegularErased
    )),
    tags(
        (name = "devices", description = "Enrollment and revocation of kiosks"),
        (name = "events", description = "Pushing ratings and other events"),
        (name = "config", description = "The survey each store's kiosks show"),
        (name = "regulars", description = "Regulars' profiles, visits and erasures"),
        (name = "reports", description = "Figures for head office"),
        (name = "operations", description = "This document")
    )
)]
pub struct ApiDoc;

struct SecuritySchemes;

impl Modify for SecuritySchemes {
    fn modify(&self, doc: &mut Document) {
        let components = doc.components.get_or_insert_with(Default::default);
        let bearer = |what: &str| {
            SecurityScheme::Http(
                HttpBuilder::new()
                    .scheme(HttpAuthScheme::Bearer)
                    .description(Some(what.to_owned()))
                    .build(),
            )
        };
        components.add_security_scheme(
            "device_token",
            bearer("The device token a kiosk got from POST /enroll (64 hex characters)"),
        );
        components.add_security_scheme(
            "api_token",
            bearer("An API token from 'countertop-hq token add'"),
        );
    }
}

/// The whole document, built once.
pub fn document() -> &'static Document {
    static DOC: OnceLock<Document> = OnceLock::new();
    DOC.get_or_init(|| crate::routes::api_router().split_for_parts().1)
}

/// The document as JSON text, built once.
pub fn document_json() -> &'static str {
    static JSON: OnceLock<String> = OnceLock::new();
    JSON.get_or_init(|| {
        serde_json::to_string(document()).unwrap_or_else(|e| {
            tracing::error!(error = %e, "cannot serialize the OpenAPI document");
            "{}".to_owned()
        })
    })
}
