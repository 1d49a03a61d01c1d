//! The kiosk's languages: which bundled translation to use, and what each is called.

/// The language the `.slint` sources are written in; it needs no translation file.
pub const SOURCE_LANGUAGE: &str = "en";

/// Switches the whole UI to `lang`. Unknown languages fall back to the source language.
pub fn select(lang: &str) {
    let bundle = if lang == SOURCE_LANGUAGE { "" } else { lang };
    if let Err(e) = slint::select_bundled_translation(bundle) {
        tracing::warn!("no translation for language {lang:?} ({e}); showing English");
        let _ = slint::select_bundled_translation("");
    }
}

/// A language's name in its own words, as the language button shows it.
pub fn native_name(lang: &str) -> String {
    match lang {
        "en" => "English".into(),
        "vi" => "Tiếng Việt".into(),
        "fr" => "Français".into(),
        "es" => "Español".into(),
        "de" => "Deutsch".into(),
        "zh" => "中文".into(),
        "ja" => "日本語".into(),
        "ko" => "한국어".into(),
        other => other.to_uppercase(),
    }
}

/// The language after `current` in `available`, wrapping round.
pub fn next<'a>(available: &'a [String], current: &str) -> &'a str {
    let at = available.iter().position(|l| l == current).unwrap_or(0);
    available
        .get((at + 1) % available.len().max(1))
        .map(String::as_str)
        .unwrap_or(SOURCE_LANGUAGE)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_language_button_cycles_through_the_available_languages() {
        let available = vec!["en".to_string(), "vi".to_string()];
        assert_eq!(next(&available, "en"), "vi");
        assert_eq!(next(&available, "vi"), "en");
        assert_eq!(next(&available, "xx"), "vi");
        assert_eq!(native_name("vi"), "Tiếng Việt");
    }
}
