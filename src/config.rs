//! The kiosk's configuration: `kiosk.toml`, overridden by environment and flags.
//!
//! Every field has a default that works out of the box (the "Corner Coffee" demo), so a
//! kiosk starts with no file at all. The survey part is what head office will later push
//! down; it carries a version so answers keep the survey they were given under.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::{Deserialize, Serialize};

use crate::feedback::{Scale, Sentiment};
use countertop_protocol::{localized, LocalizedText, Touchpoint};

/// One "what stood out?" chip: a slug (`id = "..."` in kiosk.toml) and its label in each
/// language. The protocol's own type, so HQ and the kiosk agree on what a reason is.
pub use countertop_protocol::ReasonChip;

/// Everything a kiosk needs to run.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(default, deny_unknown_fields)]
pub struct KioskConfig {
    /// The shop's name, shown small above the question.
    pub shop_name: String,
    /// Where the local database lives. Relative paths are taken from the working directory.
    pub data_dir: PathBuf,
    pub survey: SurveyConfig,
    pub timeouts: Timeouts,
    pub languages: Languages,
    pub window: WindowConfig,
    pub sync: SyncConfig,
    pub store: StoreConfig,
    pub display: DisplayConfig,
}

/// The screen of a kiosk with no desktop (Slint's linuxkms backend); see [`crate::display`].
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
#[serde(default, deny_unknown_fields)]
pub struct DisplayConfig {
    /// Turns the picture, and the touchscreen with it, clockwise.
    pub rotation: Rotation,
    /// The DRM connector, such as "HDMI-A-1" or "DSI-1"; none: the first connected one.
    pub output: Option<String>,
    /// The index of the mode in the output's list; none: its preferred mode.
    pub mode: Option<u32>,
}

/// A quarter-turn of the screen, clockwise, as kiosk.toml writes it: 0, 90, 180 or 270.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(try_from = "u16", into = "u16")]
pub enum Rotation {
    #[default]
    None,
    Quarter,
    Half,
    ThreeQuarters,
}

impl Rotation {
    pub fn degrees(self) -> u16 {
        match self {
            Rotation::None => 0,
            Rotation::Quarter => 90,
            Rotation::Half => 180,
            Rotation::ThreeQuarters => 270,
        }
    }
}

impl TryFrom<u16> for Rotation {
    type Error = String;

    fn try_from(degrees: u16) -> Result<Self, Self::Error> {
        match degrees {
            0 => Ok(Rotation::None),
            90 => Ok(Rotation::Quarter),
            180 => Ok(Rotation::Half),
            270 => Ok(Rotation::ThreeQuarters),
            other => Err(format!(
                "rotation must be 0, 90, 180 or 270 (degrees clockwise), not {other}"
            )),
        }
    }
}

impl From<Rotation> for u16 {
    fn from(rotation: Rotation) -> u16 {
        rotation.degrees()
    }
}

/// The local database.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
#[serde(default, deny_unknown_fields)]
pub struct StoreConfig {
    /// Cap on the database size in MB, so a small SD card never fills up; 0 for no cap.
    /// At the cap new taps fail like on a full disk: the customer is still thanked, staff
    /// see a red mark, and everything stored before is kept.
    pub max_size_mb: f64,
}

/// How the kiosk syncs with head office. The HQ address itself comes from enrollment.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(default, deny_unknown_fields)]
pub struct SyncConfig {
    /// Sync at least this often when idle (new ratings sync at once).
    pub interval_secs: f64,
    /// Events per push.
    pub batch_size: usize,
    /// First retry delay after a failure; it doubles up to `retry_max_secs`.
    pub retry_base_secs: f64,
    pub retry_max_secs: f64,
    /// How often the kiosk reports its health to HQ.
    pub health_interval_secs: f64,
    /// Synced ratings are deleted locally after this many days; unsynced ones never are.
    pub retention_days: u32,
    /// A PEM file of CA certificates to trust for HQ's HTTPS, beside the public ones: for
    /// an HQ whose certificate a chain's own CA signed. Checked at start.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub ca_file: Option<PathBuf>,
}

impl Default for SyncConfig {
    fn default() -> Self {
        Self {
            interval_secs: 60.0,
            batch_size: 500,
            retry_base_secs: 1.0,
            retry_max_secs: 300.0,
            health_interval_secs: 300.0,
            retention_days: 30,
            ca_file: None,
        }
    }
}

/// The question asked, and the answers offered.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(default, deny_unknown_fields)]
pub struct SurveyConfig {
    /// Bumped whenever the question, scale or reasons change.
    pub version: u32,
    /// Which part of the visit the question is about, e.g. "visit" or "wait".
    pub touchpoint: Touchpoint,
    /// The question, by language code. The default language must be present.
    pub question: BTreeMap<String, String>,
    /// 5 faces, or 4 with no neutral face.
    pub scale: Scale,
    /// Chips offered after a happy rating.
    pub praise: Vec<ReasonChip>,
    /// Chips offered after an unhappy rating.
    pub problems: Vec<ReasonChip>,
    /// "How likely are you to recommend us?", by language code: when set, the follow-up
    /// screen also asks it, on a 0–10 row the customer may leave alone.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub nps_question: Option<LocalizedText>,
    /// The "remember me" offer after the feedback flow: on or off, its consent texts
    /// (versioned) and the menu a usual order is built from.
    pub remember_me: countertop_protocol::RememberMe,
}

/// The idle timeouts a kiosk runs with, in seconds: what `kiosk.toml` accepts, what an HQ
/// survey and the manager's setting are kept within, and what the manager's screen offers.
pub const IDLE_SECS: std::ops::RangeInclusive<f64> = 3.0..=3600.0;

/// How long screens wait, in seconds.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(default, deny_unknown_fields)]
pub struct Timeouts {
    /// Any screen returns to welcome after this long without a touch.
    pub idle_secs: f64,
    /// The thank-you screen shows this long.
    pub thank_you_secs: f64,
    /// A rating this soon after the previous one is flagged as a suspected repeat.
    pub repeat_secs: f64,
}

/// Which languages the kiosk offers.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(default, deny_unknown_fields)]
pub struct Languages {
    /// The language every customer starts in.
    pub default: String,
    /// The languages the language button cycles through, in order.
    pub available: Vec<String>,
}

/// The kiosk window.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(default, deny_unknown_fields)]
pub struct WindowConfig {
    pub width: u32,
    pub height: u32,
    /// Fill the screen, as on a counter. Off by default so a desktop gets a window.
    pub fullscreen: bool,
}

/// A configuration that cannot run.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("cannot read {path}: {source}")]
    Read {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("{path} is not valid kiosk configuration: {source}")]
    Parse {
        path: PathBuf,
        source: Box<toml::de::Error>,
    },
    #[error("invalid configuration: {0}")]
    Invalid(String),
}

/// The demo survey ("Corner Coffee"): one definition, in the wire protocol, that HQ gives a
/// new store and a kiosk uses before it has heard from HQ.
fn demo() -> countertop_protocol::SurveyConfig {
    countertop_protocol::SurveyConfig::default()
}

impl Default for SurveyConfig {
    fn default() -> Self {
        SurveyConfig::from_hq(&demo())
    }
}

impl Default for Timeouts {
    fn default() -> Self {
        Timeouts::from_hq(&demo().timeouts)
    }
}

impl Default for Languages {
    fn default() -> Self {
        Languages::from_hq(&demo().languages).unwrap_or_else(|| Languages {
            default: "en".into(),
            available: vec!["en".into()],
        })
    }
}

impl SurveyConfig {
    fn from_hq(hq: &countertop_protocol::SurveyConfig) -> Self {
        SurveyConfig {
            version: hq.version,
            touchpoint: hq.touchpoint.clone(),
            question: hq.question.clone(),
            scale: hq.scale,
            praise: hq.praise_reasons.clone(),
            problems: hq.problem_reasons.clone(),
            nps_question: hq.nps_question.clone(),
            remember_me: hq.remember_me.clone(),
        }
    }
}

impl Timeouts {
    fn from_hq(hq: &countertop_protocol::Timeouts) -> Self {
        Timeouts {
            idle_secs: f64::from(hq.idle_seconds).clamp(*IDLE_SECS.start(), *IDLE_SECS.end()),
            thank_you_secs: f64::from(hq.thank_you_seconds),
            repeat_secs: f64::from(hq.repeat_window_seconds),
        }
    }
}

impl Languages {
    /// The first language HQ lists is the default.
    fn from_hq(hq: &[String]) -> Option<Self> {
        hq.first().map(|first| Languages {
            default: first.clone(),
            available: hq.to_vec(),
        })
    }
}

impl Default for WindowConfig {
    fn default() -> Self {
        Self {
            width: 800,
            height: 480,
            fullscreen: false,
        }
    }
}

impl Default for KioskConfig {
    fn default() -> Self {
        Self {
            shop_name: demo().shop_name,
            data_dir: default_data_dir(),
            survey: SurveyConfig::default(),
            timeouts: Timeouts::default(),
            languages: Languages::default(),
            window: WindowConfig::default(),
            sync: SyncConfig::default(),
            store: StoreConfig::default(),
            display: DisplayConfig::default(),
        }
    }
}

/// `$XDG_DATA_HOME/countertop`, else `~/.local/share/countertop`, else `./countertop-data`.
fn default_data_dir() -> PathBuf {
    if let Some(dir) = std::env::var_os("XDG_DATA_HOME").filter(|d| !d.is_empty()) {
        return PathBuf::from(dir).join("countertop");
    }
    match std::env::var_os("HOME").filter(|h| !h.is_empty()) {
        Some(home) => PathBuf::from(home).join(".local/share/countertop"),
        None => PathBuf::from("countertop-data"),
    }
}

/// The CA certificates in `sync.ca_file`, for the HQ client to trust.
pub fn read_ca_file(path: &Path) -> Result<Vec<reqwest::Certificate>, ConfigError> {
    let bad = |why: String| {
        ConfigError::Invalid(format!(
            "sync.ca_file {}: {why}; it must be a PEM file of the CA that signed HQ's \
             certificate (-----BEGIN CERTIFICATE-----)",
            path.display()
        ))
    };
    let pem = std::fs::read(path).map_err(|e| bad(format!("cannot be read ({e})")))?;
    let certs = reqwest::Certificate::from_pem_bundle(&pem)
        .map_err(|e| bad(format!("is not valid PEM ({e})")))?;
    if certs.is_empty() {
        return Err(bad("holds no certificate".into()));
    }
    Ok(certs)
}

impl KioskConfig {
    /// Reads `path` if given; otherwise the defaults. The result is validated.
    pub fn load(path: Option<&Path>) -> Result<Self, ConfigError> {
        let config = match path {
            Some(path) => {
                let raw = std::fs::read_to_string(path).map_err(|source| ConfigError::Read {
                    path: path.to_owned(),
                    source,
                })?;
                Self::from_toml(&raw).map_err(|e| match e {
                    ConfigError::Parse { source, .. } => ConfigError::Parse {
                        path: path.to_owned(),
                        source,
                    },
                    other => other,
                })?
            }
            None => Self::default(),
        };
        config.validate()?;
        Ok(config)
    }

    /// Parses a `kiosk.toml` text; fields left out keep their defaults.
    pub fn from_toml(raw: &str) -> Result<Self, ConfigError> {
        let config: Self = toml::from_str(raw).map_err(|source| ConfigError::Parse {
            path: PathBuf::from("kiosk.toml"),
            source: Box::new(source),
        })?;
        config.validate()?;
        Ok(config)
    }

    /// Rejects what would leave a customer stuck or a screen empty.
    pub fn validate(&self) -> Result<(), ConfigError> {
        let invalid = |msg: String| Err(ConfigError::Invalid(msg));
        let langs = &self.languages;
        if langs.available.is_empty() {
            return invalid("languages.available must list at least one language".into());
        }
        if !langs.available.contains(&langs.default) {
            return invalid(format!(
                "languages.default \"{}\" is not in languages.available {:?}",
                langs.default, langs.available
            ));
        }
        if !self.survey.question.contains_key(&langs.default) {
            return invalid(format!(
                "survey.question has no text for the default language \"{}\"",
                langs.default
            ));
        }
        for chip in self.survey.praise.iter().chain(&self.survey.problems) {
            if !chip.label.contains_key(&langs.default) {
                return invalid(format!(
                    "reason chip \"{}\" needs a label in \"{}\"",
                    chip.slug, langs.default
                ));
            }
        }
        if let Some(nps) = &self.survey.nps_question {
            if !nps.contains_key(&langs.default) {
                return invalid(format!(
                    "survey.nps_question has no text for the default language \"{}\"",
                    langs.default
                ));
            }
        }
        let t = &self.timeouts;
        for (name, secs, range) in [
            ("timeouts.idle_secs", t.idle_secs, IDLE_SECS),
            ("timeouts.thank_you_secs", t.thank_you_secs, 0.5..=3600.0),
            ("timeouts.repeat_secs", t.repeat_secs, 0.0..=3600.0),
        ] {
            if !secs.is_finite() || !range.contains(&secs) {
                let (min, max) = range.into_inner();
                return invalid(format!("{name} must be between {min} and {max} seconds"));
            }
        }
        let s = &self.sync;
        if !(1..=5000).contains(&s.batch_size) {
            return invalid("sync.batch_size must be between 1 and 5000".into());
        }
        for (name, secs) in [
            ("sync.interval_secs", s.interval_secs),
            ("sync.retry_base_secs", s.retry_base_secs),
            ("sync.retry_max_secs", s.retry_max_secs),
            ("sync.health_interval_secs", s.health_interval_secs),
        ] {
            if !secs.is_finite() || !(0.01..=86_400.0).contains(&secs) {
                return invalid(format!("{name} must be between 0.01 and 86400 seconds"));
            }
        }
        if let Some(path) = &s.ca_file {
            read_ca_file(path)?;
        }
        if !self.store.max_size_mb.is_finite() || self.store.max_size_mb < 0.0 {
            return invalid("store.max_size_mb must be 0 (no cap) or more".into());
        }
        if self.window.width < 320 || self.window.height < 320 {
            return invalid("window.width and window.height must be at least 320".into());
        }
        if let Some(output) = &self.display.output {
            if output.is_empty()
                || !output
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || c == '-')
            {
                return invalid(format!(
                    "display.output {output:?} is not a connector name such as \"HDMI-A-1\" or \"DSI-1\" (SLINT_DRM_OUTPUT=list countertop run lists them)"
                ));
            }
        }
        Ok(())
    }

    pub fn idle_timeout(&self) -> Duration {
        Duration::from_secs_f64(self.timeouts.idle_secs)
    }

    pub fn thank_you_timeout(&self) -> Duration {
        Duration::from_secs_f64(self.timeouts.thank_you_secs)
    }

    pub fn repeat_window(&self) -> Duration {
        Duration::from_secs_f64(self.timeouts.repeat_secs)
    }

    /// This configuration with the survey head office pushed down: question, faces,
    /// reasons, languages and timeouts come from HQ; the rest stays local.
    pub fn with_hq_survey(&self, hq: &countertop_protocol::SurveyConfig) -> KioskConfig {
        let mut config = self.clone();
        config.shop_name = hq.shop_name.clone();
        config.survey = SurveyConfig::from_hq(hq);
        if let Some(languages) = Languages::from_hq(&hq.languages) {
            config.languages = languages;
        }
        config.timeouts = Timeouts::from_hq(&hq.timeouts);
        config
    }

    /// This configuration with the manager's local settings on top: each one set wins
    /// over both `kiosk.toml` and HQ's survey. A default language this configuration does
    /// not offer is ignored, so a survey from HQ that drops it cannot leave the kiosk
    /// without a valid language.
    pub fn with_local_settings(&self, local: &crate::regulars::LocalSettings) -> KioskConfig {
        let mut config = self.clone();
        if let Some(lang) = &local.default_language {
            if config.languages.available.contains(lang) {
                config.languages.default = lang.clone();
            }
        }
        if let Some(idle) = local.idle_secs.filter(|s| s.is_finite()) {
            config.timeouts.idle_secs = idle.clamp(*IDLE_SECS.start(), *IDLE_SECS.end());
        }
        if let Some(enabled) = local.remember_me {
            config.survey.remember_me.enabled = enabled;
        }
        config
    }

    /// The database file inside the data directory.
    pub fn database_path(&self) -> PathBuf {
        self.data_dir.join("countertop.db")
    }
}

impl SurveyConfig {
    /// The question in `lang`, falling back to any language that has one.
    pub fn question_in(&self, lang: &str, fallback: &str) -> &str {
        localized(&self.question, lang, fallback)
    }

    /// The NPS question in `lang`, if the survey asks one.
    pub fn nps_question_in(&self, lang: &str, fallback: &str) -> Option<&str> {
        self.nps_question
            .as_ref()
            .map(|q| localized(q, lang, fallback))
    }

    /// The chips for a rating of this sentiment.
    pub fn chips_for(&self, sentiment: Sentiment) -> &[ReasonChip] {
        match sentiment {
            Sentiment::Happy => &self.praise,
            Sentiment::Unhappy => &self.problems,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_are_valid_and_offer_english_and_vietnamese() {
        let config = KioskConfig::default();
        config.validate().unwrap();
        assert_eq!(config.languages.available, ["en", "vi"]);
        assert_eq!(
            config.survey.question_in("vi", "en"),
            "Hôm nay bạn thấy quán thế nào?"
        );
        assert_eq!(config.survey.praise.len(), 5);
        assert_eq!(config.survey.problems.len(), 5);
        assert_eq!(config.survey.scale, Scale::FIVE);
        assert_eq!(config.idle_timeout(), Duration::from_secs(20));
        assert_eq!(config.thank_you_timeout(), Duration::from_secs(3));
        assert_eq!(config.repeat_window(), Duration::from_secs(4));
        // A kiosk that has heard from a new store's HQ keeps the same demo survey.
        let from_hq = config.with_hq_survey(&countertop_protocol::SurveyConfig::default());
        assert_eq!(from_hq, config);
    }

    #[test]
    fn a_partial_file_keeps_the_other_defaults() {
        let config = KioskConfig::from_toml(
            "[survey]\nscale = 4\ntouchpoint = \"wait\"\n[survey.question]\nen = \"How was the wait?\"\n[timeouts]\nidle_secs = 30\n",
        )
        .unwrap();
        assert_eq!(config.survey.scale, Scale::FOUR);
        assert_eq!(config.survey.question_in("vi", "en"), "How was the wait?");
        assert_eq!(config.idle_timeout(), Duration::from_secs(30));
        assert_eq!(config.thank_you_timeout(), Duration::from_secs(3));
    }

    #[test]
    fn unknown_keys_and_bad_values_are_refused_with_the_reason() {
        let err = KioskConfig::from_toml("idle = 3").unwrap_err().to_string();
        assert!(err.contains("unknown field"), "{err}");
        let err = KioskConfig::from_toml("[survey]\nscale = 7")
            .unwrap_err()
            .to_string();
        assert!(err.contains("4 or 5"), "{err}");
        let err = KioskConfig::from_toml("[languages]\ndefault = \"fr\"")
            .unwrap_err()
            .to_string();
        assert!(err.contains("\"fr\" is not in"), "{err}");
        let err = KioskConfig::from_toml("[timeouts]\nidle_secs = 0.1")
            .unwrap_err()
            .to_string();
        assert!(err.contains("idle_secs"), "{err}");
    }

    #[test]
    fn the_nps_question_and_the_unhappy_offer_come_from_the_file_or_from_hq() {
        let config = KioskConfig::from_toml(
            "[survey.nps_question]\nen = \"Would you recommend us?\"\n\
             [survey.remember_me]\nenabled = true\nconsent_version = 1\noffer_after_unhappy = true\n\
             consent_text = { en = \"x\" }\ndietary_consent_text = { en = \"y\" }\n\
             [[survey.remember_me.menu.items]]\nslug = \"tea\"\nlabel = { en = \"Tea\" }\n",
        )
        .unwrap();
        assert_eq!(
            config.survey.nps_question_in("vi", "en"),
            Some("Would you recommend us?")
        );
        assert!(config.survey.remember_me.offer_after_unhappy);
        assert_eq!(
            KioskConfig::default().survey.nps_question_in("en", "en"),
            None
        );
        let mut hq = countertop_protocol::SurveyConfig {
            nps_question: Some([("en".to_owned(), "Recommend us?".to_owned())].into()),
            ..Default::default()
        };
        hq.remember_me.offer_after_unhappy = true;
        let from_hq = KioskConfig::default().with_hq_survey(&hq);
        assert_eq!(
            from_hq.survey.nps_question_in("en", "en"),
            Some("Recommend us?")
        );
        assert!(from_hq.survey.remember_me.offer_after_unhappy);
        let err = KioskConfig::from_toml("[survey.nps_question]\nvi = \"?\"")
            .unwrap_err()
            .to_string();
        assert!(err.contains("nps_question"), "{err}");
    }

    #[test]
    fn a_reason_chip_id_must_be_a_slug_hq_accepts() {
        let err = KioskConfig::from_toml(
            "[[survey.praise]]\nid = \"Fast Service\"\nlabel = { en = \"Fast\" }\n",
        )
        .unwrap_err()
        .to_string();
        assert!(err.contains("not a slug"), "{err}");
    }

    #[test]
    fn local_settings_win_over_the_file_and_hq_but_only_with_a_language_on_offer() {
        let base = KioskConfig::default();
        let mut hq = countertop_protocol::SurveyConfig::default();
        hq.timeouts.idle_seconds = 60;
        let local = crate::regulars::LocalSettings {
            default_language: Some("vi".into()),
            idle_secs: Some(45.0),
            remember_me: Some(false),
        };
        let config = base.with_hq_survey(&hq).with_local_settings(&local);
        assert_eq!(config.languages.default, "vi");
        assert_eq!(config.idle_timeout(), Duration::from_secs(45));
        assert!(!config.survey.remember_me.enabled);
        config.validate().unwrap();
        let unset = base
            .with_hq_survey(&hq)
            .with_local_settings(&Default::default());
        assert_eq!(unset, base.with_hq_survey(&hq));
        let french = crate::regulars::LocalSettings {
            default_language: Some("fr".into()),
            ..Default::default()
        };
        assert_eq!(base.with_local_settings(&french).languages.default, "en");
    }

    #[test]
    fn display_rotation_output_and_mode_are_read_and_checked() {
        let config =
            KioskConfig::from_toml("[display]\nrotation = 270\noutput = \"DSI-1\"\nmode = 2\n")
                .unwrap();
        assert_eq!(config.display.rotation, Rotation::ThreeQuarters);
        assert_eq!(config.display.output.as_deref(), Some("DSI-1"));
        assert_eq!(config.display.mode, Some(2));
        assert_eq!(KioskConfig::default().display.rotation, Rotation::None);
        let err = KioskConfig::from_toml("[display]\nrotation = 45")
            .unwrap_err()
            .to_string();
        assert!(err.contains("0, 90, 180 or 270"), "{err}");
        let err = KioskConfig::from_toml("[display]\noutput = \"HDMI A 1\"")
            .unwrap_err()
            .to_string();
        assert!(err.contains("display.output"), "{err}");
    }

    #[test]
    fn the_packaged_kiosk_toml_is_the_example_fullscreen_with_data_in_var_lib() {
        let root = Path::new(env!("CARGO_MANIFEST_DIR"));
        let packaged = KioskConfig::load(Some(&root.join("packaging/kiosk/kiosk.toml"))).unwrap();
        assert_eq!(packaged.data_dir, Path::new("/var/lib/countertop"));
        assert!(packaged.window.fullscreen);
        let mut example = KioskConfig::load(Some(&root.join("kiosk.example.toml"))).unwrap();
        example.data_dir = packaged.data_dir.clone();
        example.window.fullscreen = true;
        assert_eq!(packaged, example);
    }

    #[test]
    fn the_example_file_in_the_repository_parses() {
        let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("kiosk.example.toml");
        let config = KioskConfig::load(Some(&path)).unwrap();
        assert_eq!(config.survey, SurveyConfig::default());
    }
}
