//! The survey configuration: `SurveyConfig` from JSON (HQ's `PUT /config` body and the
//! kiosk's config pull) and `validate()`.
//!
//! Properties:
//! - nothing panics;
//! - whatever deserialises also validates (deserialising validates);
//! - a valid config serialises and re-parses to an equal value, and the kiosk's pull
//!   answer that carries it does too;
//! - breaking a valid config (no languages, no shop name, a zero timeout, a language with
//!   no question) is refused by both `validate()` and deserialisation.
#![no_main]

use chrono::DateTime;
use countertop_protocol::{ConfigResponse, SurveyConfig, PROTOCOL_VERSION};
use libfuzzer_sys::fuzz_target;

fn refused(config: &SurveyConfig) {
    assert!(config.validate().is_err(), "a broken config validates");
    let json = serde_json::to_value(config).expect("a config serialises");
    assert!(serde_json::from_value::<SurveyConfig>(json).is_err());
}

fuzz_target!(|data: &[u8]| {
    let Ok(config) = serde_json::from_slice::<SurveyConfig>(data) else {
        return;
    };
    assert_eq!(
        config.validate(),
        Ok(()),
        "deserialised but does not validate"
    );
    let text = serde_json::to_string(&config).expect("a config serialises");
    let back: SurveyConfig = serde_json::from_str(&text).expect("a valid config re-parses");
    assert_eq!(back, config, "round trip changed the config");
    assert_eq!(config.asks_nps(), config.nps_question.is_some());

    let pull = ConfigResponse {
        protocol: PROTOCOL_VERSION,
        cursor: u64::from(config.version),
        config: Some(config.clone()),
        server_time: DateTime::from_timestamp(1_764_000_000, 0).unwrap_or_default(),
    };
    let text = serde_json::to_vec(&pull).expect("a pull answer serialises");
    let back: ConfigResponse = serde_json::from_slice(&text).expect("a pull answer re-parses");
    assert_eq!(back, pull);

    let mut broken = config.clone();
    broken.languages.clear();
    refused(&broken);
    let mut broken = config.clone();
    broken.shop_name = " ".into();
    refused(&broken);
    let mut broken = config.clone();
    broken.timeouts.idle_seconds = 0;
    refused(&broken);
    let mut broken = config.clone();
    broken.question.clear();
    refused(&broken);
});
