//! Text every store can keep. HQ stores wire text in SQLite and in PostgreSQL, and
//! PostgreSQL's `text` and `jsonb` cannot hold U+0000; a lone UTF-16 surrogate escape
//! (`"\ud800"` in JSON) is not a character at all. Rather than store such text on one
//! backend and fail on the other, both refuse it, by these checks, with the stable code
//! `unstorable_text` naming the field.

use crate::values::ValidationError;

/// Why a text cannot be stored by every backend.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TextProblem {
    /// U+0000.
    Nul,
    /// A `\ud800`-style escape without its pair.
    LoneSurrogate,
}

impl TextProblem {
    pub(crate) fn explain(self, field: &str) -> String {
        let what = if field.is_empty() { "a string" } else { field };
        match self {
            TextProblem::Nul => {
                format!("{what} holds a NUL character (U+0000), which cannot be stored; remove it")
            }
            TextProblem::LoneSurrogate => format!(
                "{what} holds a lone UTF-16 surrogate escape (such as \\ud800), which is not \
                 a character; send valid Unicode"
            ),
        }
    }
}

/// Refuse `text` in `field` when a backend could not store it.
pub fn check_text(field: &str, text: &str) -> Result<(), ValidationError> {
    if text.contains('\0') {
        Err(ValidationError::UnstorableText {
            field: field.to_owned(),
            problem: TextProblem::Nul,
        })
    } else {
        Ok(())
    }
}

/// Refuse a JSON value holding, in any string or key, text a backend could not store.
/// The error names the first such field by its path, such as `body.reasons[1]`.
pub fn check_json_text(value: &serde_json::Value) -> Result<(), ValidationError> {
    fn walk(v: &serde_json::Value, path: &mut String) -> Result<(), ValidationError> {
        match v {
            serde_json::Value::String(s) => check_text(path, s),
            serde_json::Value::Array(items) => {
                for (i, item) in items.iter().enumerate() {
                    let len = path.len();
                    path.push_str(&format!("[{i}]"));
                    walk(item, path)?;
                    path.truncate(len);
                }
                Ok(())
            }
            serde_json::Value::Object(map) => {
                for (key, item) in map {
                    let len = path.len();
                    if !path.is_empty() {
                        path.push('.');
                    }
                    path.push_str(&key.replace('\0', "\\u0000"));
                    check_text(path, key)?;
                    walk(item, path)?;
                    path.truncate(len);
                }
                Ok(())
            }
            _ => Ok(()),
        }
    }
    walk(value, &mut String::new())
}

/// Whether the JSON text `raw` may hold a NUL or a lone surrogate. In JSON both can only
/// be written as a `\u` escape, so this quick look at the text spares the common event
/// a closer one; `true` means "look closer", not "refuse".
pub fn json_may_hold_unstorable_text(raw: &str) -> bool {
    let bytes = raw.as_bytes();
    let mut from = 0;
    while let Some(at) = raw[from..].find("\\u") {
        let hex = &bytes[from + at + 2..];
        if hex.starts_with(b"0000")
            || (hex.len() >= 2
                && matches!(hex[0], b'd' | b'D')
                && matches!(hex[1], b'8'..=b'9' | b'a'..=b'f' | b'A'..=b'F'))
        {
            return true;
        }
        from += at + 2;
    }
    false
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn nul_anywhere_in_a_string_is_refused_with_the_field_named() {
        let v = json!({"body": {"reasons": ["ok", "b\u{0}d"], "comment": "fine"}});
        let err = check_json_text(&v).expect_err("nul");
        assert_eq!(err.code(), "unstorable_text");
        assert!(err.to_string().contains("body.reasons[1]"), "{err}");
    }

    #[test]
    fn nul_in_a_key_is_refused() {
        let v = json!({"body": {"a\u{0}": 1}});
        assert!(check_json_text(&v).is_err());
    }

    #[test]
    fn ordinary_text_passes_including_other_control_characters() {
        let v = json!({"comment": "Phở ngon!\n\t\u{1}\u{7f}\u{fffd}"});
        assert_eq!(check_json_text(&v), Ok(()));
        assert_eq!(check_text("device_name", "counter left"), Ok(()));
    }

    #[test]
    fn quick_look_flags_only_nul_and_surrogate_escapes() {
        assert!(json_may_hold_unstorable_text(r#"{"c":"a\u0000b"}"#));
        assert!(json_may_hold_unstorable_text(r#"{"c":"\ud800"}"#));
        assert!(json_may_hold_unstorable_text(r#"{"c":"\uDFFF"}"#));
        assert!(!json_may_hold_unstorable_text(
            r#"{"c":"\u00e9 \u0041 \n"}"#
        ));
        assert!(!json_may_hold_unstorable_text(r#"{"c":"plain"}"#));
        // An escaped backslash before u0000 is not a NUL, but a closer look tells.
        assert!(json_may_hold_unstorable_text(r#"{"c":"\\u0000"}"#));
        assert!(!json_may_hold_unstorable_text(r#"{"c":"ends with \u"}"#));
    }
}
