//! What the action pages' tests share: reading a rendered form back as a browser would
//! submit it, a small CSV reader, and the audit lines of an action.

use countertop_hq::storage::accounts::{AuditQuery, AuditRecord};

use crate::common::TestApp;

fn unescape(s: &str) -> String {
    s.replace("&lt;", "<")
        .replace("&gt;", ">")
        .replace("&quot;", "\"")
        .replace("&#x27;", "'")
        .replace("&#39;", "'")
        .replace("&#34;", "\"")
        .replace("&amp;", "&")
}

fn attr(tag: &str, name: &str) -> Option<String> {
    let key = format!(" {name}=\"");
    let i = tag.find(&key)? + key.len();
    let end = tag[i..].find('"')?;
    Some(unescape(&tag[i..i + end]))
}

/// The fields the first `<form>` whose action is `action` submits: inputs (checked
/// boxes only), textareas and selects, in page order, without the CSRF field.
pub fn form_fields(html: &str, action: &str) -> Vec<(String, String)> {
    let start = html
        .find(&format!("action=\"{action}\""))
        .expect("the form is on the page");
    let form = &html[start..];
    let form = &form[..form.find("</form>").expect("form end")];
    let mut out = Vec::new();
    let mut rest = form;
    while let Some(i) = rest.find('<') {
        rest = &rest[i..];
        let end = rest.find('>').unwrap_or(rest.len());
        let tag = &rest[..end];
        if tag.starts_with("<input") {
            let name = attr(tag, "name");
            let kind = attr(tag, "type").unwrap_or_default();
            if let Some(name) = name.filter(|n| n != "csrf") {
                if kind == "checkbox" {
                    if tag.contains(" checked") {
                        out.push((name, attr(tag, "value").unwrap_or_else(|| "on".into())));
                    }
                } else {
                    out.push((name, attr(tag, "value").unwrap_or_default()));
                }
            }
        } else if tag.starts_with("<textarea") {
            let name = attr(tag, "name").expect("textarea name");
            let body = &rest[end + 1..];
            let close = body.find("</textarea>").expect("textarea end");
            out.push((name, unescape(&body[..close])));
        } else if tag.starts_with("<select") {
            let name = attr(tag, "name").expect("select name");
            let body = &rest[end..];
            let close = body.find("</select>").expect("select end");
            let options = &body[..close];
            let chosen = options
                .split("<option")
                .skip(1)
                .find(|o| o.contains(" selected"))
                .or_else(|| options.split("<option").nth(1))
                .and_then(|o| attr(&format!(" {o}"), "value"))
                .unwrap_or_default();
            out.push((name, chosen));
        }
        rest = &rest[1..];
    }
    out
}

/// Set (or add) a field.
pub fn set(fields: &mut Vec<(String, String)>, name: &str, value: &str) {
    match fields.iter_mut().find(|(k, _)| k == name) {
        Some((_, v)) => *v = value.to_owned(),
        None => fields.push((name.to_owned(), value.to_owned())),
    }
}

pub fn as_refs(fields: &[(String, String)]) -> Vec<(&str, &str)> {
    fields
        .iter()
        .map(|(k, v)| (k.as_str(), v.as_str()))
        .collect()
}

/// Records of RFC 4180 CSV (quoted fields may hold commas, quotes and line breaks).
pub fn parse_csv(text: &str) -> Vec<Vec<String>> {
    let mut rows = Vec::new();
    let mut row = Vec::new();
    let mut cell = String::new();
    let mut quoted = false;
    let mut chars = text.chars().peekable();
    while let Some(c) = chars.next() {
        match (quoted, c) {
            (true, '"') if chars.peek() == Some(&'"') => {
                chars.next();
                cell.push('"');
            }
            (true, '"') => quoted = false,
            (true, c) => cell.push(c),
            (false, '"') => quoted = true,
            (false, ',') => row.push(std::mem::take(&mut cell)),
            (false, '\r') => {}
            (false, '\n') => {
                row.push(std::mem::take(&mut cell));
                rows.push(std::mem::take(&mut row));
            }
            (false, c) => cell.push(c),
        }
    }
    if !cell.is_empty() || !row.is_empty() {
        row.push(cell);
        rows.push(row);
    }
    rows
}

/// Every audit line with this action code, newest first.
pub async fn audit_lines(app: &TestApp, action: &str) -> Vec<AuditRecord> {
    app.storage
        .audit_entries(&AuditQuery {
            stores: None,
            before: None,
            limit: 1000,
        })
        .await
        .expect("audit read")
        .into_iter()
        .filter(|r| r.action == action)
        .collect()
}

/// The status a kiosk gets pulling its survey (200 while enrolled, 401 once revoked).
pub async fn kiosk_pull_status(app: &TestApp, kiosk: &crate::common::Kiosk) -> u16 {
    app.client
        .get(app.url(&format!("/api/v1/stores/{}/config", kiosk.store_id)))
        .bearer_auth(&kiosk.token)
        .send()
        .await
        .expect("sent")
        .status()
        .as_u16()
}
