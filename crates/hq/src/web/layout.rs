//! What the base template (`templates/base.html`) needs on every page: the translator,
//! the signed-in account, the nav (with admin-only entries hidden), the CSRF token for
//! the logout and language forms, and the stylesheet's cache-busting URL. Page templates
//! hold a `l: Layout` and call `l.t("...")` for every visible string.

use super::auth::Viewer;
use super::i18n::{Lang, Tr};

/// One entry of the header's nav.
#[derive(Debug, Clone)]
pub struct NavItem {
    pub href: &'static str,
    /// English msgid.
    pub label: &'static str,
    pub current: bool,
}

/// A language of the switch.
#[derive(Debug, Clone)]
pub struct LangChoice {
    pub code: &'static str,
    pub name: &'static str,
    pub current: bool,
}

/// The signed-in account, as the header shows it.
#[derive(Debug, Clone)]
pub struct LayoutUser {
    pub email: String,
    /// English msgid of the role.
    pub role: &'static str,
}

/// Everything `base.html` shows around a page.
#[derive(Debug, Clone)]
pub struct Layout {
    pub tr: Tr,
    pub lang: &'static str,
    pub user: Option<LayoutUser>,
    pub csrf: String,
    pub nav: Vec<NavItem>,
    pub langs: Vec<LangChoice>,
    /// The current path, where the language switch comes back to.
    pub path: String,
    pub css: &'static str,
    /// Open, unacknowledged alerts in the viewer's stores (the header's badge).
    pub open_alerts: usize,
}

/// The header's nav: (path, msgid, admins only).
const NAV: &[(&str, &str, bool)] = &[
    ("/", "Overview", false),
    ("/devices", "Devices", false),
    ("/survey", "Survey", false),
    ("/privacy", "Privacy", true),
    ("/users", "Users", true),
    ("/audit", "Audit", false),
    ("/alerts", "Alerts", false),
    ("/export", "Export", false),
];

/// The nav entry a path belongs to. A store's own pages belong to their section
/// (`/stores/{id}/devices` is Devices, `/stores/{id}/survey` is Survey); the store page
/// itself is a drill-down of the overview.
fn section(path: &str) -> &str {
    match path.strip_prefix("/stores/") {
        Some(rest) => rest.find('/').map_or("/", |i| &rest[i..]),
        None => path,
    }
}

fn is_current(href: &str, path: &str) -> bool {
    let path = section(path);
    if href == "/" {
        path == "/"
    } else {
        path == href || path.starts_with(&format!("{href}/"))
    }
}

fn role_msgid(role: crate::storage::accounts::Role) -> &'static str {
    use crate::storage::accounts::Role;
    match role {
        Role::Admin => "Administrator",
        Role::Manager => "Manager",
        Role::Viewer => "Viewer",
    }
}

impl Layout {
    /// The layout of a signed-in page.
    pub fn new(viewer: &Viewer) -> Layout {
        let mut l = Layout::public(viewer.lang, &viewer.path);
        l.user = Some(LayoutUser {
            email: viewer.email.clone(),
            role: role_msgid(viewer.role),
        });
        l.csrf = viewer.csrf.clone();
        l.open_alerts = crate::alerts::badge::count(viewer.scope.store_ids());
        l.nav = NAV
            .iter()
            .filter(|(_, _, admin)| !admin || viewer.is_admin())
            .map(|(href, label, _)| NavItem {
                href,
                label,
                current: is_current(href, &viewer.path),
            })
            .collect();
        l
    }

    /// The layout of a page without an account (sign-in, set password, errors).
    pub fn public(lang: Lang, path: &str) -> Layout {
        Layout {
            tr: Tr(lang),
            lang: lang.code(),
            user: None,
            csrf: String::new(),
            nav: Vec::new(),
            langs: Lang::ALL
                .iter()
                .map(|l| LangChoice {
                    code: l.code(),
                    name: l.native_name(),
                    current: *l == lang,
                })
                .collect(),
            path: path.to_owned(),
            css: super::assets::css_url(),
            open_alerts: 0,
        }
    }

    /// Translate a msgid.
    pub fn t<'a>(&self, msgid: &'a str) -> &'a str {
        self.tr.t(msgid)
    }

    /// Translate a msgid with `{name}` placeholders.
    pub fn f(&self, msgid: &str, args: &[(&str, &str)]) -> String {
        self.tr.f(msgid, args)
    }

    /// The language switch's link on public pages.
    pub fn lang_href(&self, code: &str) -> String {
        format!("/lang?set={code}&next={}", super::url_encode(&self.path))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::storage::accounts::Role;

    #[test]
    fn nav_labels_and_roles_are_translated() {
        for (_, label, _) in NAV {
            assert!(super::super::i18n::has_vi(label), "{label}");
        }
        for role in Role::ALL {
            assert!(super::super::i18n::has_vi(role_msgid(role)), "{role}");
        }
        for action in [
            "login_ok",
            "login_failed",
            "logout",
            "password_set",
            "user_added",
            "user_changed",
            "user_disabled",
            "user_enabled",
            "password_link",
            "survey_changed",
            "device_enrolled",
            "device_revoked",
            "regular_erased",
            "something new",
        ] {
            let label = super::super::audit::action_label(action);
            assert!(super::super::i18n::has_vi(label), "{label}");
        }
    }

    #[test]
    fn the_current_page_is_marked_in_the_nav() {
        assert!(is_current("/", "/"));
        assert!(is_current("/", "/stores/abc"));
        assert!(!is_current("/", "/devices"));
        assert!(is_current("/users", "/users/abc"));
        assert!(!is_current("/users", "/usersx"));
    }

    #[test]
    fn a_stores_own_pages_mark_their_section_not_the_overview() {
        for (path, want) in [
            ("/stores/abc/devices", "/devices"),
            ("/stores/abc/devices/def/revoke", "/devices"),
            ("/stores/abc/survey", "/survey"),
            ("/stores/abc/alerts", "/alerts"),
            ("/stores/abc/audit", "/audit"),
        ] {
            let marked: Vec<&str> = NAV
                .iter()
                .map(|(href, _, _)| *href)
                .filter(|href| is_current(href, path))
                .collect();
            assert_eq!(marked, [want], "{path}");
        }
    }
}
