//! The dashboard's languages: English (the msgids themselves) and Vietnamese, from the
//! gettext catalog `crates/hq/lang/vi.po`, compiled into the binary and parsed once with
//! `polib`. Templates call [`Tr::t`] on every visible string; a missing translation falls
//! back to English. The language comes from the account's setting, else the `ct_lang`
//! cookie, else `Accept-Language`.

use std::collections::HashMap;
use std::sync::LazyLock;

use axum::http::{header, HeaderMap};

/// The cookie that remembers the language chosen with the switch.
pub const LANG_COOKIE: &str = "ct_lang";

/// A dashboard language.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Lang {
    #[default]
    En,
    Vi,
}

impl Lang {
    pub const ALL: [Lang; 2] = [Lang::En, Lang::Vi];

    pub fn code(self) -> &'static str {
        match self {
            Lang::En => "en",
            Lang::Vi => "vi",
        }
    }

    /// The language's own name, for the switch.
    pub fn native_name(self) -> &'static str {
        match self {
            Lang::En => "English",
            Lang::Vi => "Tiếng Việt",
        }
    }

    pub fn from_code(code: &str) -> Option<Lang> {
        match code.trim().to_ascii_lowercase().as_str() {
            "en" => Some(Lang::En),
            "vi" => Some(Lang::Vi),
            _ => None,
        }
    }

    /// The cookie's choice, else the first supported `Accept-Language` entry (by q).
    pub fn from_headers(headers: &HeaderMap) -> Lang {
        cookie(headers, LANG_COOKIE)
            .and_then(|c| Lang::from_code(&c))
            .or_else(|| accept_language(headers))
            .unwrap_or_default()
    }
}

/// A cookie's value from the request headers.
pub fn cookie(headers: &HeaderMap, name: &str) -> Option<String> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(k, _)| *k == name)
        .map(|(_, v)| v.trim().to_owned())
}

fn accept_language(headers: &HeaderMap) -> Option<Lang> {
    let value = headers.get(header::ACCEPT_LANGUAGE)?.to_str().ok()?;
    let mut best: Option<(f32, Lang)> = None;
    for part in value.split(',') {
        let mut bits = part.split(';');
        let tag = bits.next().unwrap_or("").trim();
        let q = bits
            .find_map(|b| b.trim().strip_prefix("q="))
            .and_then(|q| q.parse::<f32>().ok())
            .unwrap_or(1.0);
        let primary = tag.split('-').next().unwrap_or("");
        if let Some(lang) = Lang::from_code(primary) {
            if best.is_none_or(|(bq, _)| q > bq) {
                best = Some((q, lang));
            }
        }
    }
    best.map(|(_, l)| l)
}

const VI_PO: &str = include_str!("../../lang/vi.po");

/// msgid → Vietnamese msgstr, for the translated entries of `vi.po`.
static VI: LazyLock<HashMap<String, String>> = LazyLock::new(|| parse_catalog(VI_PO));

fn parse_catalog(po: &str) -> HashMap<String, String> {
    match polib::po_file::parse_from_reader(po.as_bytes()) {
        Ok(catalog) => catalog
            .messages()
            .filter(|m| m.is_singular() && m.is_translated())
            .filter_map(|m| Some((m.msgid().to_owned(), m.msgstr().ok()?.to_owned())))
            .filter(|(_, s)| !s.is_empty())
            .collect(),
        Err(e) => {
            tracing::error!(error = %e, "the dashboard's vi.po does not parse; showing English");
            HashMap::new()
        }
    }
}

/// Translates for one request.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Tr(pub Lang);

impl Tr {
    /// `msgid` in this language (English is the msgid itself).
    pub fn t<'a>(&self, msgid: &'a str) -> &'a str {
        match self.0 {
            Lang::En => msgid,
            Lang::Vi => VI.get(msgid).map(String::as_str).unwrap_or(msgid),
        }
    }

    /// [`Tr::t`], then each `{name}` replaced by its value.
    pub fn f(&self, msgid: &str, args: &[(&str, &str)]) -> String {
        let mut out = self.t(msgid).to_owned();
        for (name, value) in args {
            out = out.replace(&format!("{{{name}}}"), value);
        }
        out
    }

    pub fn lang(&self) -> Lang {
        self.0
    }
}

/// Whether the catalog has a translation of `msgid` (for the completeness test).
pub fn has_vi(msgid: &str) -> bool {
    VI.contains_key(msgid)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn headers(pairs: &[(&str, &str)]) -> HeaderMap {
        let mut h = HeaderMap::new();
        for (k, v) in pairs {
            h.append(
                axum::http::HeaderName::from_bytes(k.as_bytes()).expect("name"),
                v.parse().expect("value"),
            );
        }
        h
    }

    #[test]
    fn the_cookie_wins_over_accept_language() {
        let h = headers(&[("cookie", "a=b; ct_lang=en"), ("accept-language", "vi")]);
        assert_eq!(Lang::from_headers(&h), Lang::En);
    }

    #[test]
    fn accept_language_picks_the_best_supported_entry() {
        let h = headers(&[("accept-language", "fr;q=0.9, vi-VN;q=0.8, en;q=0.5")]);
        assert_eq!(Lang::from_headers(&h), Lang::Vi);
        let h = headers(&[("accept-language", "de, fr")]);
        assert_eq!(Lang::from_headers(&h), Lang::En);
    }

    #[test]
    fn vietnamese_comes_from_the_catalog_and_english_is_the_msgid() {
        assert_eq!(Tr(Lang::Vi).t("Sign in"), "Đăng nhập");
        assert_eq!(Tr(Lang::En).t("Sign in"), "Sign in");
        assert_eq!(Tr(Lang::Vi).t("no such msgid"), "no such msgid");
    }

    #[test]
    fn placeholders_are_filled_after_translation() {
        assert_eq!(
            Tr(Lang::En).f("Signed in as {email}", &[("email", "a@b")]),
            "Signed in as a@b"
        );
    }
}
