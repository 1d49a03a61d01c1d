//! OpenAPI schemas for the types whose wire form is not their Rust shape: validated
//! newtypes (a slug is a string with a pattern, a scale is 4 or 5) and the types that
//! deserialize through an unchecked twin (`Event` through its envelope, `Regular` through
//! `NewRegular`). Everything else derives `utoipa::ToSchema` in place. Only built with the
//! `openapi` feature, which HQ turns on and the kiosk leaves off.

use std::borrow::Cow;

use utoipa::openapi::schema::{ObjectBuilder, Schema, SchemaType, Type};
use utoipa::openapi::RefOr;
use utoipa::{PartialSchema, ToSchema};

use crate::values::{MAX_COMMENT_CHARS, MAX_SLUG_LEN};
use crate::version::PROTOCOL_VERSION;

/// The pattern of a protocol version this side accepts: our major, any minor.
pub fn protocol_version_pattern() -> String {
    format!("^{}\\.[0-9]{{1,4}}$", PROTOCOL_VERSION.major)
}

/// The pattern of a slug (touchpoint, reason, menu option).
pub fn slug_pattern() -> String {
    format!("^[a-z0-9_]{{1,{MAX_SLUG_LEN}}}$")
}

fn string(description: &str) -> ObjectBuilder {
    ObjectBuilder::new()
        .schema_type(SchemaType::new(Type::String))
        .description(Some(description))
}

macro_rules! named_schema {
    ($ty:ty, $name:literal, $schema:expr) => {
        impl PartialSchema for $ty {
            fn schema() -> RefOr<Schema> {
                let schema: ObjectBuilder = $schema;
                RefOr::T(Schema::Object(schema.build()))
            }
        }
        impl ToSchema for $ty {
            fn name() -> Cow<'static, str> {
                Cow::Borrowed($name)
            }
        }
    };
}

named_schema!(
    crate::version::ProtocolVersion,
    "ProtocolVersion",
    string("The protocol version, MAJOR.MINOR. Any minor of this major is accepted; another major is refused with 400 unsupported_protocol_version.")
        .pattern(Some(protocol_version_pattern()))
        .examples([serde_json::json!(PROTOCOL_VERSION.to_string())])
);

named_schema!(
    crate::values::Touchpoint,
    "Touchpoint",
    string("Where in the visit the question is asked, as a slug").pattern(Some(slug_pattern()))
);

named_schema!(
    crate::values::ReasonSlug,
    "ReasonSlug",
    string("A reason chip or menu option, as a slug").pattern(Some(slug_pattern()))
);

named_schema!(
    crate::values::Comment,
    "Comment",
    string("A customer's free-text comment").max_length(Some(MAX_COMMENT_CHARS))
);

named_schema!(
    crate::values::Scale,
    "Scale",
    ObjectBuilder::new()
        .schema_type(SchemaType::new(Type::Integer))
        .description(Some("Number of faces on the rating scale"))
        .enum_values(Some([4, 5]))
);

named_schema!(
    crate::values::Nps,
    "Nps",
    ObjectBuilder::new()
        .schema_type(SchemaType::new(Type::Integer))
        .minimum(Some(0))
        .maximum(Some(10))
);

/// A type whose wire form is another, derived, type's: same schema, its own name.
macro_rules! same_schema_as {
    ($ty:ty, $wire:ty, $name:literal) => {
        impl PartialSchema for $ty {
            fn schema() -> RefOr<Schema> {
                <$wire as PartialSchema>::schema()
            }
        }
        impl ToSchema for $ty {
            fn name() -> Cow<'static, str> {
                Cow::Borrowed($name)
            }
            fn schemas(schemas: &mut Vec<(String, RefOr<Schema>)>) {
                <$wire as ToSchema>::schemas(schemas);
            }
        }
    };
}

same_schema_as!(crate::event::Event, crate::event::WireEvent, "Event");
same_schema_as!(
    crate::regular::Regular,
    crate::regular::NewRegular,
    "Regular"
);
