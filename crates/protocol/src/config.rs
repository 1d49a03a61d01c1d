//! The survey configuration that flows down from HQ to every kiosk of a store: the
//! question and its touchpoint, the number of faces, the reason chips, the languages and
//! the screen timeouts. `SurveyConfig::default()` is the demo content ("Corner Coffee").

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::values::{ReasonSlug, Scale, Score, Touchpoint, ValidationError};

/// A language tag such as `en` or `vi`.
pub type Language = String;

/// A text in every language the survey offers, keyed by language tag.
pub type LocalizedText = BTreeMap<Language, String>;

/// One reason chip: its slug (what is stored) and its label per language.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct ReasonChip {
    /// `id` is the older spelling `kiosk.toml` files use for the same thing.
    #[serde(alias = "id")]
    pub slug: ReasonSlug,
    #[cfg_attr(feature = "openapi", schema(value_type = std::collections::BTreeMap<String, String>))]
    pub label: LocalizedText,
}

impl ReasonChip {
    /// The label in `lang`, else in `fallback`, else in any language it has.
    pub fn label_in(&self, lang: &str, fallback: &str) -> &str {
        localized(&self.label, lang, fallback)
    }
}

/// `text` in `lang`, else in `fallback`, else in any language it has ("" with none).
pub fn localized<'a>(text: &'a LocalizedText, lang: &str, fallback: &str) -> &'a str {
    text.get(lang)
        .or_else(|| text.get(fallback))
        .or_else(|| text.values().next())
        .map(String::as_str)
        .unwrap_or("")
}

/// How long screens stay up, in seconds.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Timeouts {
    /// Back to the question after this long without a touch.
    #[cfg_attr(feature = "openapi", schema(minimum = 1))]
    pub idle_seconds: u32,
    /// How long the thank-you screen shows.
    #[cfg_attr(feature = "openapi", schema(minimum = 1))]
    pub thank_you_seconds: u32,
    /// Taps on the same kiosk within this window are flagged as suspected repeats.
    pub repeat_window_seconds: u32,
}

/// The survey a store's kiosks show.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(try_from = "UncheckedSurveyConfig")]
pub struct SurveyConfig {
    /// Increases with every change; ratings record the version they answered.
    pub version: u32,
    #[cfg_attr(feature = "openapi", schema(min_length = 1, pattern = r"\S"))]
    pub shop_name: String,
    pub touchpoint: Touchpoint,
    #[cfg_attr(feature = "openapi", schema(value_type = std::collections::BTreeMap<String, String>))]
    pub question: LocalizedText,
    pub scale: Scale,
    /// When set, the kiosk also asks the 0..=10 recommend question.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[cfg_attr(feature = "openapi", schema(value_type = Option<std::collections::BTreeMap<String, String>>))]
    pub nps_question: Option<LocalizedText>,
    pub praise_reasons: Vec<ReasonChip>,
    pub problem_reasons: Vec<ReasonChip>,
    /// The first language is the default.
    #[cfg_attr(feature = "openapi", schema(value_type = Vec<String>, min_items = 1))]
    pub languages: Vec<Language>,
    pub timeouts: Timeouts,
    /// The "remember me" offer, its consent text and the menu for usual orders.
    #[serde(default)]
    pub remember_me: RememberMe,
}

/// One choice on the menu: a slug (what is stored) and its label per language.
pub type MenuOption = ReasonChip;

/// The shop's menu, from which a regular's usual order is built.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Menu {
    pub items: Vec<MenuOption>,
    #[serde(default)]
    pub sizes: Vec<MenuOption>,
    #[serde(default)]
    pub milks: Vec<MenuOption>,
    #[serde(default)]
    pub extras: Vec<MenuOption>,
}

impl Menu {
    /// Every option of every group, items first.
    pub fn options(&self) -> impl Iterator<Item = &MenuOption> {
        self.items
            .iter()
            .chain(&self.sizes)
            .chain(&self.milks)
            .chain(&self.extras)
    }

    /// The label of `slug` in `lang`, falling back to the slug itself for an option the
    /// menu no longer has.
    pub fn label(&self, slug: &str, lang: &str) -> String {
        self.options()
            .find(|o| o.slug.as_str() == slug)
            .and_then(|o| o.label.get(lang))
            .cloned()
            .unwrap_or_else(|| slug.replace('_', " "))
    }
}

/// The "remember me" offer shown after the feedback flow.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct RememberMe {
    pub enabled: bool,
    /// Raised whenever the consent text changes; each consent records the version shown.
    pub consent_version: u32,
    #[cfg_attr(feature = "openapi", schema(value_type = std::collections::BTreeMap<String, String>))]
    pub consent_text: LocalizedText,
    /// The separate consent for dietary or allergy notes.
    #[cfg_attr(feature = "openapi", schema(value_type = std::collections::BTreeMap<String, String>))]
    pub dietary_consent_text: LocalizedText,
    pub menu: Menu,
    /// Whether the offer also follows one of the two lowest faces. Off by default: a
    /// customer who has just told us the visit went badly gets an apology, not a sign-up
    /// form (see the README's configuration section).
    #[serde(default)]
    pub offer_after_unhappy: bool,
}

impl RememberMe {
    /// Whether to offer "remember me" to a customer who just gave `score`.
    pub fn offered_after(&self, score: Score) -> bool {
        self.enabled && (self.offer_after_unhappy || !score.is_unhappy())
    }
}

#[derive(Deserialize)]
struct UncheckedSurveyConfig {
    version: u32,
    shop_name: String,
    touchpoint: Touchpoint,
    question: LocalizedText,
    scale: Scale,
    #[serde(default)]
    nps_question: Option<LocalizedText>,
    praise_reasons: Vec<ReasonChip>,
    problem_reasons: Vec<ReasonChip>,
    languages: Vec<Language>,
    timeouts: Timeouts,
    #[serde(default)]
    remember_me: RememberMe,
}

impl TryFrom<UncheckedSurveyConfig> for SurveyConfig {
    type Error = ValidationError;
    fn try_from(u: UncheckedSurveyConfig) -> Result<Self, Self::Error> {
        let c = SurveyConfig {
            version: u.version,
            shop_name: u.shop_name,
            touchpoint: u.touchpoint,
            question: u.question,
            scale: u.scale,
            nps_question: u.nps_question,
            praise_reasons: u.praise_reasons,
            problem_reasons: u.problem_reasons,
            languages: u.languages,
            timeouts: u.timeouts,
            remember_me: u.remember_me,
        };
        c.validate()?;
        Ok(c)
    }
}

impl SurveyConfig {
    /// Check what types alone cannot: every language has every text, timeouts are set.
    pub fn validate(&self) -> Result<(), ValidationError> {
        let bad = |m: String| Err(ValidationError::InvalidConfig(m));
        // Text no store can keep (a NUL) is refused here, not by one backend's error.
        let as_json = serde_json::to_value(self)
            .map_err(|e| ValidationError::InvalidConfig(format!("cannot encode: {e}")))?;
        crate::text::check_json_text(&as_json)?;
        if self.languages.is_empty() {
            return bad("languages must list at least one language".into());
        }
        if self.shop_name.trim().is_empty() {
            return bad("shop_name must not be empty".into());
        }
        let t = self.timeouts;
        if t.idle_seconds == 0 || t.thank_you_seconds == 0 {
            return bad("idle_seconds and thank_you_seconds must be above zero".into());
        }
        for lang in &self.languages {
            let missing = |text: &LocalizedText| text.get(lang).is_none_or(|s| s.is_empty());
            if missing(&self.question) {
                return bad(format!("question has no text for language {lang:?}"));
            }
            if self.nps_question.as_ref().is_some_and(missing) {
                return bad(format!("nps_question has no text for language {lang:?}"));
            }
            for chip in self.praise_reasons.iter().chain(&self.problem_reasons) {
                if missing(&chip.label) {
                    return bad(format!(
                        "reason {} has no label for language {lang:?}",
                        chip.slug
                    ));
                }
            }
            let r = &self.remember_me;
            if r.enabled {
                if missing(&r.consent_text) || missing(&r.dietary_consent_text) {
                    return bad(format!(
                        "remember_me has no consent text for language {lang:?}"
                    ));
                }
                if let Some(o) = r.menu.options().find(|o| missing(&o.label)) {
                    return bad(format!(
                        "menu option {} has no label for language {lang:?}",
                        o.slug
                    ));
                }
            }
        }
        if self.remember_me.enabled && self.remember_me.menu.items.is_empty() {
            return bad("remember_me needs at least one menu item".into());
        }
        Ok(())
    }

    /// Whether this survey asks the NPS question.
    pub fn asks_nps(&self) -> bool {
        self.nps_question.is_some()
    }
}

fn text(en: &str, vi: &str) -> LocalizedText {
    BTreeMap::from([
        ("en".to_owned(), en.to_owned()),
        ("vi".to_owned(), vi.to_owned()),
    ])
}

fn chip(slug: &str, en: &str, vi: &str) -> ReasonChip {
    ReasonChip {
        // The demo slugs are literals known to be valid.
        slug: ReasonSlug::new(slug).unwrap_or_else(|_| unreachable!("demo slug {slug}")),
        label: text(en, vi),
    }
}

impl Default for SurveyConfig {
    /// The demo survey of "Corner Coffee".
    fn default() -> Self {
        SurveyConfig {
            version: 1,
            shop_name: "Corner Coffee".into(),
            touchpoint: Touchpoint::new("visit").unwrap_or_else(|_| unreachable!("demo slug")),
            question: text(
                "How was your visit today?",
                "Hôm nay bạn thấy quán thế nào?",
            ),
            scale: Scale::FIVE,
            nps_question: None,
            praise_reasons: vec![
                chip("fast_service", "Fast service", "Phục vụ nhanh"),
                chip("tasty", "Tasty", "Ngon"),
                chip("good_value", "Good value", "Giá hợp lý"),
                chip(
                    "friendly_staff",
                    "Friendly staff",
                    "Nhân viên thân\u{a0}thiện",
                ),
                chip("nice_place", "Nice place", "Không gian đẹp"),
            ],
            problem_reasons: vec![
                chip("slow_service", "Slow service", "Phục vụ chậm"),
                chip("quality", "Quality", "Chất lượng"),
                chip("price", "Price", "Giá cả"),
                chip("staff", "Staff", "Nhân viên"),
                chip("cleanliness", "Cleanliness", "Vệ sinh"),
            ],
            languages: vec!["en".into(), "vi".into()],
            // The kiosk's own defaults: back to the question after 20 s idle, thanks for
            // 3 s, and a second tap within 4 s is a suspected repeat.
            timeouts: Timeouts {
                idle_seconds: 20,
                thank_you_seconds: 3,
                repeat_window_seconds: 4,
            },
            remember_me: RememberMe::default(),
        }
    }
}

impl Default for RememberMe {
    /// The demo offer and menu of "Corner Coffee".
    fn default() -> Self {
        RememberMe {
            enabled: true,
            // Version 2 (2026-12): says who receives the record (head office, and the
            // chain's other shops when they share regulars), for how long, that no
            // changes nothing, and how to change or erase it; version 1 said only this
            // shop's staff saw it. Records keep the version they were given under.
            consent_version: 2,
            consent_text: text(
                "Corner Coffee keeps your name, phone number, usual order, visits and the \
                 personal code you choose (stored scrambled), so our staff can greet you \
                 and start your usual. Who sees it: the staff of this shop and Corner \
                 Coffee's head office; if this shop shares its regulars with our other \
                 shops, their staff too, so they can greet you there. We keep it until 12 \
                 months after your last visit, then delete it. Saying no changes nothing: \
                 you order and rate just the same. To change or erase your details, tap \
                 \"I'm already a regular\" and enter your phone number and code, or ask \
                 our staff.",
                "Corner Coffee lưu tên, số điện thoại, món quen, các lần ghé quán và mã \
                 cá nhân bạn chọn (được lưu ở dạng mã hóa), để nhân viên chào bạn và pha \
                 sẵn món quen. Ai xem được: nhân viên quán này và trụ sở của \
                 Corner Coffee; nếu quán này chia sẻ khách quen với các quán khác trong \
                 chuỗi, nhân viên các quán đó cũng xem được để phục vụ bạn ở đó. Thông tin \
                 được giữ đến 12 tháng sau lần ghé cuối của bạn, rồi bị xóa. Không đồng ý \
                 cũng không sao: bạn vẫn gọi món và đánh giá như thường. Để sửa hoặc xóa \
                 thông tin, chạm \"Tôi là khách quen\" rồi nhập số điện thoại và mã của \
                 bạn, hoặc nhờ nhân viên.",
            ),
            dietary_consent_text: text(
                "Also keep my allergies and dietary needs. This is health information: it \
                 is kept only with this tick, seen by the same people, and erased with the \
                 rest.",
                "Lưu cả thông tin dị ứng và chế độ ăn của tôi. Đây là thông tin sức khỏe: \
                 chỉ được lưu khi bạn đánh dấu ô này, cùng những người trên xem được, và \
                 bị xóa cùng các thông tin khác.",
            ),
            menu: Menu {
                items: vec![
                    chip("espresso", "Espresso", "Espresso"),
                    chip("latte", "Latte", "Latte"),
                    chip("cappuccino", "Cappuccino", "Cappuccino"),
                    chip("iced_coffee", "Iced coffee", "Cà phê đá"),
                    chip("tea", "Tea", "Trà"),
                ],
                sizes: vec![
                    chip("small", "Small", "Nhỏ"),
                    chip("medium", "Medium", "Vừa"),
                    chip("large", "Large", "Lớn"),
                ],
                milks: vec![
                    chip("whole", "Whole milk", "Sữa tươi"),
                    chip("oat", "Oat", "Sữa yến\u{a0}mạch"),
                    chip("soy", "Soy", "Sữa đậu nành"),
                    chip("no_milk", "No milk", "Không sữa"),
                ],
                extras: vec![
                    chip("extra_shot", "Extra shot", "Thêm shot"),
                    chip("less_sugar", "Less sugar", "Ít đường"),
                    chip("less_ice", "Less ice", "Ít đá"),
                    chip("vanilla", "Vanilla", "Vani"),
                ],
            },
            offer_after_unhappy: false,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn demo_config_is_valid_and_round_trips() {
        let c = SurveyConfig::default();
        assert_eq!(c.validate(), Ok(()));
        let json = serde_json::to_string(&c).expect("serializes");
        let back: SurveyConfig = serde_json::from_str(&json).expect("deserializes");
        assert_eq!(back, c);
        assert_eq!(c.praise_reasons.len(), 5);
        assert_eq!(c.problem_reasons.len(), 5);
    }

    #[test]
    fn config_missing_a_translation_is_refused() {
        let mut v = serde_json::to_value(SurveyConfig::default()).expect("serializes");
        v["languages"] = serde_json::json!(["en", "vi", "fr"]);
        assert!(serde_json::from_value::<SurveyConfig>(v).is_err());
    }

    #[test]
    fn remember_me_follows_an_unhappy_face_only_when_the_survey_says_so() {
        let score = |v| Score::new(v, Scale::FIVE).expect("on the scale");
        let mut offer = RememberMe::default();
        assert!(!offer.offer_after_unhappy, "off unless a shop turns it on");
        assert!(!offer.offered_after(score(1)) && !offer.offered_after(score(2)));
        assert!(offer.offered_after(score(3)) && offer.offered_after(score(5)));
        offer.offer_after_unhappy = true;
        assert!(offer.offered_after(score(1)));
        offer.enabled = false;
        assert!(!offer.offered_after(score(5)));
    }

    #[test]
    fn a_config_written_before_offer_after_unhappy_still_parses() {
        let mut v = serde_json::to_value(SurveyConfig::default()).expect("serializes");
        v["remember_me"]
            .as_object_mut()
            .expect("object")
            .remove("offer_after_unhappy");
        let c: SurveyConfig = serde_json::from_value(v).expect("old config parses");
        assert!(!c.remember_me.offer_after_unhappy);
    }

    #[test]
    fn a_chip_s_slug_may_be_spelled_id_and_its_label_falls_back() {
        let c: ReasonChip = serde_json::from_value(serde_json::json!(
            {"id": "tasty", "label": {"en": "Tasty"}}
        ))
        .expect("chip");
        assert_eq!(c.slug.as_str(), "tasty");
        assert_eq!(c.label_in("vi", "en"), "Tasty");
    }

    #[test]
    fn config_with_a_three_face_scale_is_refused() {
        let mut v = serde_json::to_value(SurveyConfig::default()).expect("serializes");
        v["scale"] = serde_json::json!(3);
        assert!(serde_json::from_value::<SurveyConfig>(v).is_err());
    }
}
