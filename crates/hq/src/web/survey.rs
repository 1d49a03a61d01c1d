//! The survey editor: everything a store's [`SurveyConfig`] holds, as one form, checked
//! by the protocol's own constructors and [`SurveyConfig::validate`] (the one place the
//! survey rules live), with each problem shown beside its field and the typed values
//! kept. Saving goes through [`crate::storage::Storage::set_config`], the path of the
//! API's `PUT /stores/{id}/config`: the version goes up and kiosks take the survey on
//! their next sync. The preview (faces and chips) is SVG and HTML, no script.

use std::collections::HashMap;

use askama::Template;
use askama_web::WebTemplate;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use countertop_protocol::{
    LocalizedText, Menu, ReasonChip, ReasonSlug, RememberMe, Scale, SurveyConfig, Timeouts,
    Touchpoint,
};
use serde::Deserialize;
use uuid::Uuid;

use super::error::WebError;
use super::i18n::Tr;
use super::{audit, route, Access, Layout, Route, ScopedStore, Viewer, WebForm};
use crate::routes::AppState;
use crate::storage::accounts::Role;
use crate::storage::StoreRecord;

pub const ROUTES: &[Route] = &[
    route!(GET "/survey", Access::Signed(Role::Viewer), list),
    route!(GET "/stores/{store_id}/survey", Access::Signed(Role::Viewer), page),
    route!(POST "/stores/{store_id}/survey", Access::Signed(Role::Manager), save),
];

/// Most languages a survey may list (the form has a column per language).
const MAX_LANGUAGES: usize = 6;
/// Empty rows the form offers for new chips and menu options.
const BLANK_CHIP_ROWS: usize = 2;
const BLANK_MENU_ROWS: usize = 1;
/// Most rows read per group (the form never has more; a forged one is cut).
const MAX_ROWS: usize = 64;

/// A text in one language, as a form field.
pub struct LangField {
    pub lang: String,
    pub name: String,
    pub value: String,
}

/// One chip or menu option row: its code and a label per language.
pub struct ChipRow {
    pub slug_name: String,
    pub slug: String,
    pub labels: Vec<LangField>,
}

/// A group of rows (praise, problems, menu items...).
pub struct RowGroup {
    pub key: &'static str,
    /// English msgid of its heading.
    pub title: &'static str,
    pub rows: Vec<ChipRow>,
}

/// The form's values, as typed (or as stored).
pub struct SurveyForm {
    pub shop_name: String,
    pub languages: String,
    pub langs: Vec<String>,
    pub touchpoint: String,
    pub scale: String,
    pub question: Vec<LangField>,
    pub nps_on: bool,
    pub nps: Vec<LangField>,
    pub chips: Vec<RowGroup>,
    pub idle: String,
    pub thank_you: String,
    pub repeat_window: String,
    pub rm_on: bool,
    pub rm_unhappy: bool,
    pub consent: Vec<LangField>,
    pub dietary: Vec<LangField>,
    pub menu: Vec<RowGroup>,
}

/// The face preview: one face per score, worst first.
pub struct Face {
    pub score: u8,
    /// The mouth's SVG path.
    pub mouth: String,
    pub colour: &'static str,
}

#[derive(Template, WebTemplate)]
#[template(path = "survey.html")]
pub struct SurveyPage {
    pub l: Layout,
    pub store_id: Uuid,
    pub store: String,
    pub version: u64,
    pub form: SurveyForm,
    /// Field name → translated problem.
    pub errors: HashMap<String, String>,
    /// A problem not tied to one field.
    pub general: Option<String>,
    pub saved: bool,
    pub can_edit: bool,
    pub faces: Vec<Face>,
    /// The question and chips in each language, for the preview.
    pub previews: Vec<Preview>,
}

/// What a kiosk shows in one language.
pub struct Preview {
    pub lang: String,
    pub question: String,
    pub praise: Vec<String>,
    pub problem: Vec<String>,
}

/// The menu's groups (their fields belong to the menu section).
const MENU_KEYS: [&str; 4] = ["items", "sizes", "milks", "extras"];

impl SurveyPage {
    pub fn err(&self, field: &str) -> Option<&str> {
        self.errors.get(field).map(String::as_str)
    }

    /// Whether a section (`question`, `praise`, `problem`, `timeouts`, `remember`,
    /// `menu`) starts open. Sections are folded away (`<details>`) unless first or
    /// holding a problem, so the long form stays manageable without script and a
    /// refusal is never hidden.
    pub fn open(&self, section: &str) -> bool {
        section == "question" || self.errors.keys().any(|k| section_of(k) == section)
    }
}

/// The section a field belongs to, from its name.
fn section_of(field: &str) -> &'static str {
    let head = field.split('_').next().unwrap_or("");
    match head {
        "praise" => "praise",
        "problem" => "problem",
        "idle" | "thank" | "repeat" => "timeouts",
        "consent" | "dietary" | "rm" => "remember",
        h if MENU_KEYS.contains(&h) => "menu",
        _ => "question",
    }
}

impl RowGroup {
    /// How many rows have a code (the blank rows for new ones do not count).
    pub fn filled(&self) -> usize {
        self.rows
            .iter()
            .filter(|r| !r.slug.trim().is_empty())
            .count()
    }
}

#[derive(Template, WebTemplate)]
#[template(path = "survey_list.html")]
pub struct SurveyListPage {
    pub l: Layout,
    pub stores: Vec<(Uuid, String)>,
}

/// GET /survey: pick a store.
pub async fn list(
    State(state): State<AppState>,
    viewer: Viewer,
) -> Result<SurveyListPage, WebError> {
    let stores = viewer
        .stores_in_scope(&state)
        .await?
        .into_iter()
        .map(|s| (s.id, s.name))
        .collect();
    Ok(SurveyListPage {
        l: Layout::new(&viewer),
        stores,
    })
}

fn lang_fields(prefix: &str, langs: &[String], text: &LocalizedText) -> Vec<LangField> {
    langs
        .iter()
        .map(|lang| LangField {
            lang: lang.clone(),
            name: format!("{prefix}_{lang}"),
            value: text.get(lang).cloned().unwrap_or_default(),
        })
        .collect()
}

fn chip_rows(key: &str, langs: &[String], chips: &[ReasonChip], blanks: usize) -> Vec<ChipRow> {
    let empty = LocalizedText::new();
    chips
        .iter()
        .map(|c| (c.slug.as_str().to_owned(), &c.label))
        .chain((0..blanks).map(|_| (String::new(), &empty)))
        .enumerate()
        .map(|(i, (slug, label))| ChipRow {
            slug_name: format!("{key}_{i}_slug"),
            slug,
            labels: lang_fields(&format!("{key}_{i}"), langs, label),
        })
        .collect()
}

const CHIP_GROUPS: [(&str, &str); 2] = [("praise", "Praise chips"), ("problem", "Problem chips")];
const MENU_GROUPS: [(&str, &str); 4] = [
    ("items", "Menu items"),
    ("sizes", "Sizes"),
    ("milks", "Milks"),
    ("extras", "Extras"),
];

fn menu_group<'a>(menu: &'a Menu, key: &str) -> &'a [ReasonChip] {
    match key {
        "items" => &menu.items,
        "sizes" => &menu.sizes,
        "milks" => &menu.milks,
        _ => &menu.extras,
    }
}

/// The form of a stored survey.
fn form_of(c: &SurveyConfig) -> SurveyForm {
    let langs = c.languages.clone();
    let r = &c.remember_me;
    SurveyForm {
        shop_name: c.shop_name.clone(),
        languages: langs.join(", "),
        touchpoint: c.touchpoint.as_str().to_owned(),
        scale: c.scale.faces().to_string(),
        question: lang_fields("q", &langs, &c.question),
        nps_on: c.nps_question.is_some(),
        nps: lang_fields(
            "nps",
            &langs,
            c.nps_question.as_ref().unwrap_or(&LocalizedText::new()),
        ),
        chips: CHIP_GROUPS
            .iter()
            .map(|(key, title)| RowGroup {
                key,
                title,
                rows: chip_rows(
                    key,
                    &langs,
                    if *key == "praise" {
                        &c.praise_reasons
                    } else {
                        &c.problem_reasons
                    },
                    BLANK_CHIP_ROWS,
                ),
            })
            .collect(),
        idle: c.timeouts.idle_seconds.to_string(),
        thank_you: c.timeouts.thank_you_seconds.to_string(),
        repeat_window: c.timeouts.repeat_window_seconds.to_string(),
        rm_on: r.enabled,
        rm_unhappy: r.offer_after_unhappy,
        consent: lang_fields("consent", &langs, &r.consent_text),
        dietary: lang_fields("dietary", &langs, &r.dietary_consent_text),
        menu: MENU_GROUPS
            .iter()
            .map(|(key, title)| RowGroup {
                key,
                title,
                rows: chip_rows(key, &langs, menu_group(&r.menu, key), BLANK_MENU_ROWS),
            })
            .collect(),
        langs,
    }
}

fn faces(scale: u8) -> Vec<Face> {
    let scale = if scale == 4 { 4 } else { 5 };
    (1..=scale)
        .map(|score| {
            // Curvature from -1 (unhappy) to 1 (happy).
            let t = (f64::from(score) - 1.0) / f64::from(scale - 1) * 2.0 - 1.0;
            let control = 40.0 + 12.0 * t;
            let ends = 40.0 - 4.0 * t;
            let colour = match (score, scale) {
                (1, _) => "#c0392b",
                (2, _) => "#e67e22",
                (3, 5) => "#f1c40f",
                (3, 4) | (4, 5) => "#7dbb42",
                _ => "#27ae60",
            };
            Face {
                score,
                mouth: format!("M18 {ends:.1} Q32 {control:.1} 46 {ends:.1}"),
                colour,
            }
        })
        .collect()
}

fn view(
    viewer: &Viewer,
    store: &StoreRecord,
    form: SurveyForm,
    errors: HashMap<String, String>,
    general: Option<String>,
    saved: bool,
) -> SurveyPage {
    let text_in = |fields: &[LangField], lang: &str| {
        fields
            .iter()
            .find(|f| f.lang == lang)
            .map(|f| f.value.clone())
            .unwrap_or_default()
    };
    let labels = |key: &str, lang: &str| -> Vec<String> {
        form.chips
            .iter()
            .filter(|g| g.key == key)
            .flat_map(|g| &g.rows)
            .filter(|r| !r.slug.trim().is_empty())
            .map(|r| {
                let label = text_in(&r.labels, lang);
                if label.is_empty() {
                    r.slug.clone()
                } else {
                    label
                }
            })
            .collect()
    };
    let previews = form
        .langs
        .iter()
        .map(|lang| Preview {
            lang: lang.clone(),
            question: text_in(&form.question, lang),
            praise: labels("praise", lang),
            problem: labels("problem", lang),
        })
        .collect();
    SurveyPage {
        l: Layout::new(viewer),
        store_id: store.id,
        store: store.name.clone(),
        version: store.config_version,
        faces: faces(form.scale.trim().parse().unwrap_or(5)),
        previews,
        form,
        errors,
        general,
        saved,
        can_edit: viewer.can_edit(),
    }
}

#[derive(Deserialize)]
pub struct SavedFlag {
    saved: Option<String>,
}

/// GET /stores/{store_id}/survey
pub async fn page(
    viewer: Viewer,
    ScopedStore(store): ScopedStore,
    axum::extract::Query(q): axum::extract::Query<SavedFlag>,
) -> SurveyPage {
    let form = form_of(&store.config);
    view(
        &viewer,
        &store,
        form,
        HashMap::new(),
        None,
        q.saved.is_some(),
    )
}

/// The form as posted: field name → value (the last one wins).
struct Posted(HashMap<String, String>);

impl Posted {
    fn get(&self, name: &str) -> String {
        self.0
            .get(name)
            .map(|s| s.trim().to_owned())
            .unwrap_or_default()
    }
    fn on(&self, name: &str) -> bool {
        self.0.contains_key(name)
    }
}

/// A language tag as the form accepts it: `en`, `vi`, `pt-br`.
fn valid_lang(tag: &str) -> bool {
    (2..=8).contains(&tag.len())
        && tag.bytes().all(|b| b.is_ascii_lowercase() || b == b'-')
        && !tag.starts_with('-')
        && !tag.ends_with('-')
}

/// What the form turns into: the typed form (for showing again), the survey if every
/// field read, and the problems by field.
struct Read {
    form: SurveyForm,
    config: Option<SurveyConfig>,
    errors: HashMap<String, String>,
}

fn read_texts(p: &Posted, prefix: &str, langs: &[String]) -> (Vec<LangField>, LocalizedText) {
    let fields: Vec<LangField> = langs
        .iter()
        .map(|lang| {
            let name = format!("{prefix}_{lang}");
            LangField {
                value: p.get(&name),
                lang: lang.clone(),
                name,
            }
        })
        .collect();
    let text = fields
        .iter()
        .filter(|f| !f.value.is_empty())
        .map(|f| (f.lang.clone(), f.value.clone()))
        .collect();
    (fields, text)
}

fn read_rows(
    p: &Posted,
    key: &str,
    langs: &[String],
    tr: Tr,
    errors: &mut HashMap<String, String>,
) -> (Vec<ChipRow>, Vec<ReasonChip>) {
    let prefix = format!("{key}_");
    let mut indices: Vec<usize> =
        p.0.keys()
            .filter_map(|k| k.strip_prefix(&prefix)?.strip_suffix("_slug")?.parse().ok())
            .filter(|i| *i < MAX_ROWS)
            .collect();
    indices.sort_unstable();
    indices.dedup();
    let mut rows = Vec::new();
    let mut chips = Vec::new();
    for i in indices {
        let slug_name = format!("{key}_{i}_slug");
        let slug = p.get(&slug_name);
        let (labels, label) = read_texts(p, &format!("{key}_{i}"), langs);
        if slug.is_empty() {
            if !label.is_empty() {
                errors.insert(
                    slug_name.clone(),
                    tr.t("Give this row a code, or clear its labels.")
                        .to_owned(),
                );
            }
        } else {
            match ReasonSlug::new(slug.clone()) {
                Ok(slug) => chips.push(ReasonChip { slug, label }),
                Err(_) => {
                    errors.insert(
                        slug_name.clone(),
                        tr.t("A code is 1 to 32 lower-case letters, digits or _ (such as fast_service).")
                            .to_owned(),
                    );
                }
            }
        }
        rows.push(ChipRow {
            slug_name,
            slug,
            labels,
        });
    }
    (rows, chips)
}

fn number(p: &Posted, name: &str, tr: Tr, errors: &mut HashMap<String, String>) -> (String, u32) {
    let typed = p.get(name);
    match typed.parse::<u32>() {
        Ok(n) if n <= 86_400 => (typed, n),
        _ => {
            errors.insert(
                name.to_owned(),
                tr.t("Write a whole number of seconds, 0 to 86400.")
                    .to_owned(),
            );
            (typed, 0)
        }
    }
}

fn read_form(p: &Posted, stored: &SurveyConfig, tr: Tr) -> Read {
    let mut errors = HashMap::new();
    let languages = p.get("languages");
    let mut langs: Vec<String> = Vec::new();
    for tag in languages
        .split(|c: char| c == ',' || c.is_whitespace())
        .map(|t| t.trim().to_ascii_lowercase())
        .filter(|t| !t.is_empty())
    {
        if !valid_lang(&tag) {
            errors.insert(
                "languages".to_owned(),
                tr.t("Languages are short codes such as en or vi, separated by commas.")
                    .to_owned(),
            );
        } else if !langs.contains(&tag) && langs.len() < MAX_LANGUAGES {
            langs.push(tag);
        }
    }
    if langs.is_empty() && !errors.contains_key("languages") {
        errors.insert(
            "languages".to_owned(),
            tr.t("List at least one language, such as en, vi.")
                .to_owned(),
        );
    }
    let shop_name = p.get("shop_name");
    let touchpoint = p.get("touchpoint");
    let tp = Touchpoint::new(touchpoint.clone());
    if tp.is_err() {
        errors.insert(
            "touchpoint".to_owned(),
            tr.t("A touchpoint is a code such as visit, wait or checkout.")
                .to_owned(),
        );
    }
    let scale = p.get("scale");
    let sc = scale.parse::<u8>().ok().and_then(|n| Scale::new(n).ok());
    if sc.is_none() {
        errors.insert("scale".to_owned(), tr.t("Choose 4 or 5 faces.").to_owned());
    }
    let (question, q_text) = read_texts(p, "q", &langs);
    let nps_on = p.on("nps_on");
    let (nps, nps_text) = read_texts(p, "nps", &langs);
    let mut chips = Vec::new();
    let mut chip_values = Vec::new();
    for (key, title) in CHIP_GROUPS {
        let (rows, values) = read_rows(p, key, &langs, tr, &mut errors);
        chips.push(RowGroup { key, title, rows });
        chip_values.push(values);
    }
    let (idle, idle_n) = number(p, "idle", tr, &mut errors);
    let (thank_you, thank_n) = number(p, "thank_you", tr, &mut errors);
    let (repeat_window, repeat_n) = number(p, "repeat_window", tr, &mut errors);
    let rm_on = p.on("rm_on");
    let rm_unhappy = p.on("rm_unhappy");
    let (consent, consent_text) = read_texts(p, "consent", &langs);
    let (dietary, dietary_text) = read_texts(p, "dietary", &langs);
    let mut menu = Vec::new();
    let mut menu_values = Vec::new();
    for (key, title) in MENU_GROUPS {
        let (rows, values) = read_rows(p, key, &langs, tr, &mut errors);
        menu.push(RowGroup { key, title, rows });
        menu_values.push(values);
    }
    let form = SurveyForm {
        shop_name: shop_name.clone(),
        languages,
        langs: langs.clone(),
        touchpoint,
        scale,
        question,
        nps_on,
        nps,
        chips,
        idle,
        thank_you,
        repeat_window,
        rm_on,
        rm_unhappy,
        consent,
        dietary,
        menu,
    };
    let (Ok(touchpoint), Some(scale), true) = (tp, sc, errors.is_empty()) else {
        return Read {
            form,
            config: None,
            errors,
        };
    };
    let old = &stored.remember_me;
    // Consent is versioned honestly: a changed text is a new version, so each consent
    // records the words the customer saw.
    let consent_version =
        if consent_text != old.consent_text || dietary_text != old.dietary_consent_text {
            old.consent_version + 1
        } else {
            old.consent_version
        };
    let mut menu_values = menu_values.into_iter();
    let mut next = || menu_values.next().unwrap_or_default();
    let menu_config = Menu {
        items: next(),
        sizes: next(),
        milks: next(),
        extras: next(),
    };
    let mut chip_values = chip_values.into_iter();
    let config = SurveyConfig {
        version: stored.version,
        shop_name,
        touchpoint,
        question: q_text,
        scale,
        nps_question: nps_on.then_some(nps_text),
        praise_reasons: chip_values.next().unwrap_or_default(),
        problem_reasons: chip_values.next().unwrap_or_default(),
        languages: langs,
        timeouts: Timeouts {
            idle_seconds: idle_n,
            thank_you_seconds: thank_n,
            repeat_window_seconds: repeat_n,
        },
        remember_me: RememberMe {
            enabled: rm_on,
            consent_version,
            consent_text,
            dietary_consent_text: dietary_text,
            menu: menu_config,
            offer_after_unhappy: rm_unhappy,
        },
    };
    Read {
        form,
        config: Some(config),
        errors,
    }
}

/// The language named at the end of a protocol message (`... for language "vi"`).
fn lang_in(message: &str) -> Option<String> {
    let (_, rest) = message.rsplit_once("language ")?;
    Some(rest.trim_matches('"').to_owned())
}

/// The slug named in `reason SLUG has ...` or `menu option SLUG has ...`.
fn slug_in<'a>(message: &'a str, lead: &str) -> Option<&'a str> {
    message.strip_prefix(lead)?.split_whitespace().next()
}

/// Put the protocol's verdict beside the field it is about. Returns the general problem
/// when it names no field of the form.
fn place_error(
    message: &str,
    form: &SurveyForm,
    tr: Tr,
    errors: &mut HashMap<String, String>,
) -> Option<String> {
    let missing = tr
        .t("Write this in every language of the survey.")
        .to_owned();
    let row_field = |groups: &[RowGroup], slug: &str, lang: &str| -> Option<String> {
        groups
            .iter()
            .flat_map(|g| &g.rows)
            .find(|r| r.slug == slug)
            .and_then(|r| r.labels.iter().find(|l| l.lang == lang))
            .map(|l| l.name.clone())
    };
    let placed: Option<(String, String)> = if message.starts_with("question has no text") {
        lang_in(message).map(|l| (format!("q_{l}"), missing.clone()))
    } else if message.starts_with("nps_question has no text") {
        lang_in(message).map(|l| (format!("nps_{l}"), missing.clone()))
    } else if let Some(slug) = slug_in(message, "reason ") {
        lang_in(message)
            .and_then(|l| row_field(&form.chips, slug, &l))
            .map(|f| (f, missing.clone()))
    } else if let Some(slug) = slug_in(message, "menu option ") {
        lang_in(message)
            .and_then(|l| row_field(&form.menu, slug, &l))
            .map(|f| (f, missing.clone()))
    } else if message.starts_with("remember_me has no consent text") {
        lang_in(message).map(|l| {
            let field = if form
                .consent
                .iter()
                .any(|f| f.lang == l && f.value.is_empty())
            {
                format!("consent_{l}")
            } else {
                format!("dietary_{l}")
            };
            (field, missing.clone())
        })
    } else if message.starts_with("remember_me needs at least one menu item") {
        Some((
            "items".to_owned(),
            tr.t("Remember-me needs at least one menu item.").to_owned(),
        ))
    } else if message.starts_with("idle_seconds and thank_you_seconds") {
        let field = if form.idle.trim() == "0" {
            "idle"
        } else {
            "thank_you"
        };
        Some((
            field.to_owned(),
            tr.t("This must be above zero.").to_owned(),
        ))
    } else if message.starts_with("shop_name") {
        Some((
            "shop_name".to_owned(),
            tr.t("The shop name must not be empty.").to_owned(),
        ))
    } else {
        None
    };
    match placed {
        Some((field, msg)) => {
            errors.insert(field, msg);
            None
        }
        None => Some(tr.t("The survey has text that cannot be stored, such as a control character. Check the fields and save again.").to_owned()),
    }
}

/// POST /stores/{store_id}/survey
pub async fn save(
    State(state): State<AppState>,
    viewer: Viewer,
    ScopedStore(store): ScopedStore,
    WebForm(fields): WebForm<Vec<(String, String)>>,
) -> Result<Response, WebError> {
    let tr = viewer.tr();
    let posted = Posted(fields.into_iter().collect());
    let Read {
        form,
        config,
        mut errors,
    } = read_form(&posted, &store.config, tr);
    let refused = |form, errors, general| {
        let page = view(&viewer, &store, form, errors, general, false);
        Ok((StatusCode::BAD_REQUEST, page).into_response())
    };
    let Some(config) = config else {
        let general = Some(
            tr.t("Some fields need a change; see the notes beside them.")
                .to_owned(),
        );
        return refused(form, errors, general);
    };
    if let Err(e) = config.validate() {
        let general = place_error(&e.to_string(), &form, tr, &mut errors).or_else(|| {
            Some(
                tr.t("Some fields need a change; see the notes beside them.")
                    .to_owned(),
            )
        });
        return refused(form, errors, general);
    }
    let version = state.storage.set_config(store.id, &config).await?;
    audit::record(
        &state,
        Some(viewer.user_id),
        "survey_changed",
        Some(store.id),
        None,
        &format!("version={version}"),
    )
    .await;
    Ok(Redirect::to(&format!("/stores/{}/survey?saved=1", store.id)).into_response())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn posted_of(c: &SurveyConfig) -> Posted {
        let f = form_of(c);
        let mut m = HashMap::new();
        m.insert("shop_name".into(), f.shop_name.clone());
        m.insert("languages".into(), f.languages.clone());
        m.insert("touchpoint".into(), f.touchpoint.clone());
        m.insert("scale".into(), f.scale.clone());
        for x in f
            .question
            .iter()
            .chain(&f.nps)
            .chain(&f.consent)
            .chain(&f.dietary)
        {
            m.insert(x.name.clone(), x.value.clone());
        }
        if f.nps_on {
            m.insert("nps_on".into(), "on".into());
        }
        if f.rm_on {
            m.insert("rm_on".into(), "on".into());
        }
        if f.rm_unhappy {
            m.insert("rm_unhappy".into(), "on".into());
        }
        for g in f.chips.iter().chain(&f.menu) {
            for r in &g.rows {
                m.insert(r.slug_name.clone(), r.slug.clone());
                for l in &r.labels {
                    m.insert(l.name.clone(), l.value.clone());
                }
            }
        }
        m.insert("idle".into(), f.idle.clone());
        m.insert("thank_you".into(), f.thank_you.clone());
        m.insert("repeat_window".into(), f.repeat_window.clone());
        Posted(m)
    }

    #[test]
    fn the_form_of_a_survey_reads_back_as_the_same_survey() {
        let mut c = SurveyConfig::default();
        c.remember_me.enabled = true;
        let read = read_form(&posted_of(&c), &c, Tr::default());
        assert!(read.errors.is_empty(), "{:?}", read.errors);
        assert_eq!(read.config, Some(c));
    }

    #[test]
    fn a_protocol_refusal_lands_beside_its_field() {
        let c = SurveyConfig::default();
        let mut p = posted_of(&c);
        p.0.insert("q_vi".into(), String::new());
        let read = read_form(&p, &c, Tr::default());
        let e = read
            .config
            .expect("fields read")
            .validate()
            .expect_err("no vi question");
        let mut errors = HashMap::new();
        assert_eq!(
            place_error(&e.to_string(), &read.form, Tr::default(), &mut errors),
            None
        );
        assert!(errors.contains_key("q_vi"), "{errors:?}");
    }

    #[test]
    fn changed_consent_text_is_a_new_consent_version() {
        let c = SurveyConfig::default();
        let mut p = posted_of(&c);
        p.0.insert("consent_en".into(), "We keep your name.".into());
        let read = read_form(&p, &c, Tr::default());
        let got = read.config.expect("read");
        assert_eq!(
            got.remember_me.consent_version,
            c.remember_me.consent_version + 1
        );
    }

    #[test]
    fn every_field_belongs_to_the_section_that_shows_it() {
        for (field, section) in [
            ("shop_name", "question"),
            ("languages", "question"),
            ("q_vi", "question"),
            ("nps_en", "question"),
            ("praise_3_slug", "praise"),
            ("problem_0_vi", "problem"),
            ("idle", "timeouts"),
            ("thank_you", "timeouts"),
            ("repeat_window", "timeouts"),
            ("consent_en", "remember"),
            ("dietary_vi", "remember"),
            ("milks", "menu"),
            ("extras_1_slug", "menu"),
        ] {
            assert_eq!(section_of(field), section, "{field}");
        }
    }
}
