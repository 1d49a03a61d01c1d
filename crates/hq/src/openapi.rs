//! The OpenAPI 3.1 document served at `/api/v1/openapi.json`, written by hand next to the
//! routes it describes so that it stays small and readable.

use serde_json::{json, Value};

fn error_response(description: &str) -> Value {
    json!({
        "description": description,
        "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}}
    })
}

/// The document.
pub fn document() -> Value {
    let bearer = json!([{"bearer": []}]);
    let e401 = error_response("missing, unknown or revoked token");
    json!({
        "openapi": "3.1.0",
        "info": {
            "title": "Countertop head office API",
            "version": env!("CARGO_PKG_VERSION"),
            "license": {"name": "GPL-3.0-or-later"},
            "description": "Kiosks enroll, push events and pull their survey; head office reads reports. Every error is {\"error\": code, \"message\": text}."
        },
        "servers": [{"url": "/api/v1"}],
        "components": {
            "securitySchemes": {"bearer": {"type": "http", "scheme": "bearer"}},
            "schemas": {
                "Error": {"type": "object", "required": ["error", "message"],
                    "properties": {"error": {"type": "string"}, "message": {"type": "string"}}},
                "Event": {"type": "object",
                    "required": ["id", "seq", "device_time", "utc_offset_minutes", "kind", "body"],
                    "properties": {
                        "id": {"type": "string", "format": "uuid"},
                        "seq": {"type": "integer", "minimum": 0},
                        "device_time": {"type": "string", "format": "date-time"},
                        "utc_offset_minutes": {"type": "integer", "minimum": -840, "maximum": 840},
                        "kind": {"type": "string", "examples": ["rating", "rating_details", "device_health", "regular_upserted", "visit", "regular_erased"]},
                        "body": {"type": "object"}
                    }},
                "EventResult": {"type": "object", "required": ["index", "status"],
                    "properties": {
                        "index": {"type": "integer"},
                        "id": {"type": "string", "format": "uuid"},
                        "status": {"enum": ["accepted", "duplicate", "rejected"]},
                        "flags": {"type": "array", "items": {"type": "string"}},
                        "code": {"type": "string"},
                        "reason": {"type": "string"}
                    }},
                "PushRequest": {"type": "object", "required": ["protocol", "events"],
                    "properties": {"protocol": {"type": "string", "examples": ["1.0"]},
                        "events": {"type": "array", "items": {"$ref": "#/components/schemas/Event"}}}},
                "PushResponse": {"type": "object",
                    "properties": {"protocol": {"type": "string"},
                        "server_time": {"type": "string", "format": "date-time"},
                        "accepted": {"type": "integer"}, "duplicates": {"type": "integer"},
                        "rejected": {"type": "integer"},
                        "results": {"type": "array", "items": {"$ref": "#/components/schemas/EventResult"}}}},
                "EnrollRequest": {"type": "object", "required": ["protocol", "code"],
                    "properties": {"protocol": {"type": "string"}, "code": {"type": "string"},
                        "device_name": {"type": "string"}}},
                "EnrollResponse": {"type": "object",
                    "properties": {"protocol": {"type": "string"},
                        "device_id": {"type": "string", "format": "uuid"},
                        "store_id": {"type": "string", "format": "uuid"},
                        "device_token": {"type": "string"},
                        "server_time": {"type": "string", "format": "date-time"}}},
                "ConfigResponse": {"type": "object",
                    "properties": {"protocol": {"type": "string"}, "cursor": {"type": "integer"},
                        "config": {"type": ["object", "null"]},
                        "server_time": {"type": "string", "format": "date-time"}}},
                "Hlc": {"type": "object", "required": ["wall_ms", "counter", "node"],
                    "description": "Hybrid logical clock; profiles merge last-writer-wins on (wall_ms, counter, node)",
                    "properties": {"wall_ms": {"type": "integer", "minimum": 0, "maximum": countertop_protocol::Hlc::MAX_WALL_MS},
                        "counter": {"type": "integer", "minimum": 0, "maximum": u32::MAX},
                        "node": {"type": "string", "format": "uuid"}}},
                "Regular": {"type": "object", "required": ["regular_id", "hlc", "name", "consent"],
                    "description": "A regular's profile (personal data). Invalid profiles are rejected per event with code invalid_regular (or field_too_long)",
                    "properties": {
                        "regular_id": {"type": "string", "format": "uuid"},
                        "hlc": {"$ref": "#/components/schemas/Hlc"},
                        "name": {"type": "string", "maxLength": 40},
                        "phone": {"type": "string", "description": "6 to 15 digits"},
                        "usual": {"type": "object"},
                        "dietary": {"type": "string", "maxLength": 200},
                        "consent": {"type": "object", "required": ["version", "given_at"]}}},
                "VisitRecord": {"type": "object", "required": ["id", "at", "regular_id"],
                    "properties": {"id": {"type": "string", "format": "uuid"},
                        "at": {"type": "string", "format": "date-time"},
                        "regular_id": {"type": "string", "format": "uuid"},
                        "rating_id": {"type": "string", "format": "uuid"},
                        "unhappy": {"type": "boolean"}}},
                "RegularErased": {"type": "object", "required": ["regular_id", "erased_at"],
                    "properties": {"regular_id": {"type": "string", "format": "uuid"},
                        "erased_at": {"type": "string", "format": "date-time"}}},
                "RegularsResponse": {"type": "object",
                    "required": ["protocol", "cursor", "more", "profiles", "visits", "erased", "server_time"],
                    "properties": {"protocol": {"type": "string"},
                        "cursor": {"type": "integer", "description": "pass back as ?cursor="},
                        "more": {"type": "boolean", "description": "the page was full: pull again at once"},
                        "profiles": {"type": "array", "items": {"$ref": "#/components/schemas/Regular"}},
                        "visits": {"type": "array", "items": {"$ref": "#/components/schemas/VisitRecord"}},
                        "erased": {"type": "array", "items": {"$ref": "#/components/schemas/RegularErased"}},
                        "server_time": {"type": "string", "format": "date-time"}}},
                "RegularsScope": {"type": "object", "required": ["scope"],
                    "properties": {"scope": {"enum": ["store", "chain"]}}},
                "RegularsReport": {"type": "object",
                    "properties": {"from": {"type": "string", "format": "date"},
                        "to": {"type": "string", "format": "date"},
                        "store_id": {"type": "string", "format": "uuid"},
                        "regulars": {"type": "integer", "description": "regulars with that home store now"},
                        "new_regulars": {"type": "integer", "description": "of those, first stored in the range"},
                        "visits": {"type": "integer", "description": "visits in the range (by visited store)"},
                        "unhappy_visits": {"type": "integer"},
                        "erasures": {"type": "integer", "description": "erasures in the range (by home store)"}}},
                "Summary": {"type": "object",
                    "properties": {"count": {"type": "integer"}, "csat_percent": {"type": "number"},
                        "average": {"type": "number"},
                        "distribution": {"type": "array", "items": {"type": "integer"}, "minItems": 5, "maxItems": 5},
                        "nps": {"type": "number"}, "nps_responses": {"type": "integer"}}}
            }
        },
        "paths": {
            "/enroll": {"post": {
                "summary": "Trade a one-time enrollment code for a device id and token",
                "requestBody": {"required": true, "content": {"application/json": {"schema": {"$ref": "#/components/schemas/EnrollRequest"}}}},
                "responses": {
                    "201": {"description": "enrolled", "content": {"application/json": {"schema": {"$ref": "#/components/schemas/EnrollResponse"}}}},
                    "400": error_response("malformed body or unsupported protocol version"),
                    "404": error_response("unknown code"),
                    "410": error_response("code already used or expired")}}},
            "/events": {"post": {
                "summary": "Push a batch of events (gzip or plain); idempotent by event id",
                "security": bearer,
                "requestBody": {"required": true, "content": {"application/json": {"schema": {"$ref": "#/components/schemas/PushRequest"}}}},
                "responses": {
                    "200": {"description": "one result per event", "content": {"application/json": {"schema": {"$ref": "#/components/schemas/PushResponse"}}}},
                    "400": error_response("malformed JSON or gzip, or unsupported protocol version"),
                    "401": e401,
                    "413": error_response("body, decoded body or event count over the limit"),
                    "415": error_response("not application/json, or an unsupported Content-Encoding")}}},
            "/stores/{store_id}/config": {
                "parameters": [{"name": "store_id", "in": "path", "required": true, "schema": {"type": "string", "format": "uuid"}}],
                "get": {
                    "summary": "The store's survey, if it changed since the cursor",
                    "security": bearer,
                    "parameters": [{"name": "cursor", "in": "query", "schema": {"type": "integer"}},
                        {"name": "X-Countertop-Protocol", "in": "header", "schema": {"type": "string", "examples": ["1.0"]}}],
                    "responses": {
                        "200": {"description": "config (null when unchanged) and the new cursor", "content": {"application/json": {"schema": {"$ref": "#/components/schemas/ConfigResponse"}}}},
                        "400": error_response("unsupported protocol version"),
                        "401": e401, "403": error_response("the device belongs to another store")}},
                "put": {
                    "summary": "Replace the store's survey (API token)",
                    "security": bearer,
                    "responses": {"200": {"description": "the new config and cursor"}, "401": e401, "404": error_response("no such store")}}},
            "/stores/{store_id}/regulars": {
                "parameters": [{"name": "store_id", "in": "path", "required": true, "schema": {"type": "string", "format": "uuid"}}],
                "get": {
                    "summary": "Regular profiles, visits and erasures this store's kiosks may see, changed after the cursor (at most 500 a page)",
                    "security": bearer,
                    "parameters": [{"name": "cursor", "in": "query", "schema": {"type": "integer", "default": 0}},
                        {"name": "X-Countertop-Protocol", "in": "header", "schema": {"type": "string", "examples": ["1.0"]}}],
                    "responses": {
                        "200": {"description": "a page in change order, the new cursor, and more=true when full", "content": {"application/json": {"schema": {"$ref": "#/components/schemas/RegularsResponse"}}}},
                        "400": error_response("bad cursor or unsupported protocol version"),
                        "401": e401, "403": error_response("the device belongs to another store")}}},
            "/stores/{store_id}/regulars-scope": {
                "parameters": [{"name": "store_id", "in": "path", "required": true, "schema": {"type": "string", "format": "uuid"}}],
                "put": {
                    "summary": "Set who sees the store's regulars: store (default) or chain (API token)",
                    "security": bearer,
                    "requestBody": {"required": true, "content": {"application/json": {"schema": {"$ref": "#/components/schemas/RegularsScope"}}}},
                    "responses": {"200": {"description": "{store_id, scope}"},
                        "400": error_response("malformed body or unknown scope"),
                        "401": e401, "404": error_response("no such store"),
                        "415": error_response("not application/json")}}},
            "/devices/{device_id}/revoke": {"post": {
                "summary": "Revoke a device's token (API token)",
                "security": bearer,
                "parameters": [{"name": "device_id", "in": "path", "required": true, "schema": {"type": "string", "format": "uuid"}}],
                "responses": {"204": {"description": "revoked"}, "401": e401, "404": error_response("no such device")}}},
            "/reports": {"get": {
                "summary": "Count, CSAT %, average, distribution and NPS over a range of local dates",
                "security": bearer,
                "parameters": [
                    {"name": "from", "in": "query", "required": true, "schema": {"type": "string", "format": "date"}},
                    {"name": "to", "in": "query", "required": true, "schema": {"type": "string", "format": "date"}},
                    {"name": "store", "in": "query", "schema": {"type": "string", "format": "uuid"}},
                    {"name": "group_by", "in": "query", "schema": {"enum": ["store", "day", "hour", "touchpoint", "reason"]}},
                    {"name": "include_repeats", "in": "query", "schema": {"type": "boolean", "default": false}}],
                "responses": {"200": {"description": "total and groups (each a Summary plus key)"},
                    "400": error_response("bad dates or parameters"), "401": e401}}},
            "/reports/regulars": {"get": {
                "summary": "Counts about regulars, no personal data: regulars, new, visits, unhappy visits, erasures",
                "security": bearer,
                "parameters": [
                    {"name": "from", "in": "query", "required": true, "schema": {"type": "string", "format": "date"}},
                    {"name": "to", "in": "query", "required": true, "schema": {"type": "string", "format": "date"}},
                    {"name": "store", "in": "query", "schema": {"type": "string", "format": "uuid"}}],
                "responses": {"200": {"description": "counts", "content": {"application/json": {"schema": {"$ref": "#/components/schemas/RegularsReport"}}}},
                    "400": error_response("bad dates or parameters"), "401": e401}}},
            "/openapi.json": {"get": {"summary": "This document", "responses": {"200": {"description": "OpenAPI 3.1"}}}}
        }
    })
}
