//! Rendering without a display: `countertop screenshots` writes a PNG of every screen at
//! every supported size, with Slint's software renderer on a platform of our own.

use std::path::{Path, PathBuf};
use std::rc::Rc;

use anyhow::{Context, Result};
use slint::platform::software_renderer::{MinimalSoftwareWindow, RepaintBufferType};
use slint::platform::{Platform, PlatformError, WindowAdapter};
use slint::Rgb8Pixel;
use slint::{ComponentHandle, ModelRc, PhysicalSize, VecModel};

use super::customer::{chip_models, face_models};
use super::{
    language, manager, App, Barista, BaristaNote, CommentLine, FormProblem, Kiosk, LanguageChoice,
    Manager, ManagerField, ManagerTab, Outcome, PinNote, Problem, ReasonCount, RegularRow,
    Remember, Screen, Staff, StaffRole,
};
use crate::config::KioskConfig;
use crate::feedback::Sentiment;

/// The sizes a kiosk must look right at: the Pi touchscreen, a tablet, and portrait.
pub const SIZES: [(u32, u32); 3] = [(800, 480), (1280, 800), (480, 800)];

struct HeadlessPlatform {
    window: Rc<MinimalSoftwareWindow>,
}

impl Platform for HeadlessPlatform {
    fn create_window_adapter(&self) -> Result<Rc<dyn WindowAdapter>, PlatformError> {
        Ok(self.window.clone())
    }
}

/// A kiosk UI rendered off screen.
pub struct Headless {
    window: Rc<MinimalSoftwareWindow>,
    pub app: App,
}

impl Headless {
    /// Installs the headless platform; call once per process, before any UI exists.
    pub fn new() -> Result<Self> {
        let window = MinimalSoftwareWindow::new(RepaintBufferType::NewBuffer);
        slint::platform::set_platform(Box::new(HeadlessPlatform {
            window: window.clone(),
        }))
        .map_err(|e| anyhow::anyhow!("cannot set up headless rendering: {e}"))?;
        let app = App::new().context("cannot build the kiosk UI")?;
        Ok(Headless { window, app })
    }

    /// Renders the current state at `width`×`height` and returns RGB pixels.
    pub fn render(&self, width: u32, height: u32) -> Result<Vec<Rgb8Pixel>> {
        self.window.set_size(PhysicalSize::new(width, height));
        self.app.show().context("cannot show the kiosk UI")?;
        self.window.request_redraw();
        let mut pixels = vec![Rgb8Pixel::default(); width as usize * height as usize];
        self.window.draw_if_needed(|renderer| {
            renderer.render(&mut pixels, width as usize);
        });
        Ok(pixels)
    }
}

/// Writes RGB pixels as a PNG file.
pub fn write_png(path: &Path, width: u32, height: u32, pixels: &[Rgb8Pixel]) -> Result<()> {
    let file =
        std::fs::File::create(path).with_context(|| format!("cannot create {}", path.display()))?;
    let mut encoder = png::Encoder::new(std::io::BufWriter::new(file), width, height);
    encoder.set_color(png::ColorType::Rgb);
    encoder.set_depth(png::BitDepth::Eight);
    let mut writer = encoder.write_header()?;
    let bytes: Vec<u8> = pixels.iter().flat_map(|p| [p.r, p.g, p.b]).collect();
    writer.write_image_data(&bytes)?;
    writer.finish()?;
    Ok(())
}

/// One screen in a state worth looking at.
struct Scene {
    name: &'static str,
    screen: Screen,
    sentiment: Sentiment,
    selected: &'static [usize],
    comment: SampleComment,
}

/// Which of the sample's comments a scene shows.
#[derive(Clone, Copy)]
enum SampleComment {
    None,
    Short,
    Long,
}

/// What a shop working in one language has on its screens: customers' comments, notes,
/// regulars. A Vietnamese scene shows what a Vietnamese shop sees, not English data under
/// Vietnamese labels.
struct Sample {
    short_comment: &'static str,
    long_comment: &'static str,
    note: &'static str,
    dietary: &'static str,
    /// The regulars the barista's search shows: name, last phone digits, usual order (menu
    /// slugs, worded from the menu in the scene's language), visits, days since the last.
    regulars: [(
        &'static str,
        &'static str,
        &'static [&'static str],
        i32,
        i32,
    ); 3],
}

const ENGLISH_SAMPLE: Sample = Sample {
    short_comment: "The queue was long",
    long_comment: "The queue was long but the latte was great",
    note: "Extra hot, no lid",
    dietary: "Nut allergy",
    regulars: [
        (
            "Nguyễn Thị Phương Thảo",
            "4567",
            &["latte", "medium", "oat", "extra_shot"],
            23,
            2,
        ),
        (
            "Alexandra Montgomery-Whitfield",
            "1180",
            &["iced_coffee", "large", "less_sugar"],
            8,
            0,
        ),
        ("Nguyen Van Minh", "", &["espresso"], 1, 14),
    ],
};

const VIETNAMESE_SAMPLE: Sample = Sample {
    short_comment: "Phải xếp hàng lâu quá",
    long_comment: "Xếp hàng hơi lâu nhưng latte rất ngon, nhân viên phục vụ nhiệt tình",
    note: "Thật nóng, không nắp",
    dietary: "Dị ứng đậu\u{a0}phộng",
    regulars: [
        (
            "Tôn Nữ Hoàng Khánh Phượng",
            "4567",
            &["latte", "medium", "oat", "extra_shot"],
            23,
            2,
        ),
        (
            "Nguyễn Văn Minh Đức",
            "1180",
            &["iced_coffee", "large", "less_sugar"],
            8,
            0,
        ),
        ("Nguyen Van Minh", "", &["espresso"], 1, 14),
    ],
};

fn sample(lang: &str) -> &'static Sample {
    match lang {
        "vi" => &VIETNAMESE_SAMPLE,
        _ => &ENGLISH_SAMPLE,
    }
}

impl Sample {
    fn comment(&self, which: SampleComment) -> &'static str {
        match which {
            SampleComment::None => "",
            SampleComment::Short => self.short_comment,
            SampleComment::Long => self.long_comment,
        }
    }
}

/// A usual order in words, from the menu's labels in `lang`.
fn usual(config: &KioskConfig, slugs: &[&str], lang: &str) -> String {
    let menu = &config.survey.remember_me.menu;
    slugs
        .iter()
        .map(|slug| menu.label(slug, lang))
        .collect::<Vec<_>>()
        .join(super::remember::USUAL_SEPARATOR)
}

const SCENES: &[Scene] = &[
    Scene {
        name: "welcome",
        screen: Screen::Welcome,
        sentiment: Sentiment::Happy,
        selected: &[],
        comment: SampleComment::None,
    },
    Scene {
        name: "follow-up-happy",
        screen: Screen::FollowUp,
        sentiment: Sentiment::Happy,
        selected: &[0, 3],
        comment: SampleComment::None,
    },
    Scene {
        name: "follow-up-unhappy",
        screen: Screen::FollowUp,
        sentiment: Sentiment::Unhappy,
        selected: &[0],
        comment: SampleComment::Short,
    },
    Scene {
        name: "comment",
        screen: Screen::Comment,
        sentiment: Sentiment::Unhappy,
        selected: &[],
        comment: SampleComment::Long,
    },
    Scene {
        name: "comment-empty",
        screen: Screen::Comment,
        sentiment: Sentiment::Happy,
        selected: &[],
        comment: SampleComment::None,
    },
    Scene {
        name: "thank-you",
        screen: Screen::ThankYou,
        sentiment: Sentiment::Happy,
        selected: &[],
        comment: SampleComment::None,
    },
];

// --- The manager's screen: scenes and their fixtures (one block) ------------------

/// The manager's screen: each tab, and the keyboard and PIN pad it opens.
struct ManagerScene {
    name: &'static str,
    tab: ManagerTab,
    editing: ManagerField,
    pin_role: StaffRole,
    /// Every message shows its failure: a refused PIN, a failed export or enrolment.
    failing: bool,
    /// The first day's PIN change, or the note after it.
    first_day: FirstDay,
}

#[derive(Clone, Copy, PartialEq)]
enum FirstDay {
    No,
    Changing,
    Saved,
}

const fn scene(
    name: &'static str,
    tab: ManagerTab,
    editing: ManagerField,
    pin_role: StaffRole,
    failing: bool,
) -> ManagerScene {
    ManagerScene {
        name,
        tab,
        editing,
        pin_role,
        failing,
        first_day: FirstDay::No,
    }
}

const MANAGER_SCENES: &[ManagerScene] = {
    use ManagerField as F;
    use ManagerTab as T;
    use StaffRole as R;
    &[
        scene("manager-today", T::Today, F::None, R::None, false),
        scene("manager-sync", T::Sync, F::None, R::None, false),
        scene("manager-settings", T::Settings, F::None, R::None, false),
        scene("manager-export", T::Export, F::None, R::None, false),
        scene("manager-export-looking", T::Export, F::None, R::None, false),
        scene("manager-enroll", T::Settings, F::HqUrl, R::None, false),
        scene("manager-pin", T::Settings, F::None, R::Barista, false),
        scene(
            "manager-export-path",
            T::Export,
            F::ExportPath,
            R::None,
            false,
        ),
        scene(
            "manager-settings-failed",
            T::Settings,
            F::None,
            R::None,
            true,
        ),
        scene("manager-export-failed", T::Export, F::None, R::None, true),
        scene(
            "manager-enroll-failed",
            T::Settings,
            F::HqUrl,
            R::None,
            true,
        ),
        scene(
            "manager-pin-refused",
            T::Settings,
            F::None,
            R::Manager,
            true,
        ),
        ManagerScene {
            first_day: FirstDay::Changing,
            ..scene("manager-first-day", T::Today, F::None, R::Manager, false)
        },
        ManagerScene {
            first_day: FirstDay::Changing,
            ..scene(
                "manager-first-day-equal",
                T::Today,
                F::None,
                R::Barista,
                true,
            )
        },
        ManagerScene {
            first_day: FirstDay::Saved,
            ..scene("manager-first-day-saved", T::Today, F::None, R::None, false)
        },
    ]
};

/// Renders every manager scene in `lang` at every size.
fn manager_scenes(headless: &Headless, out: &Path, lang: &str) -> Result<Vec<PathBuf>> {
    let mut written = Vec::new();
    demo_manager(&headless.app, lang);
    headless.app.global::<Kiosk>().set_screen(Screen::Manager);
    let panel = headless.app.global::<Manager>();
    for scene in MANAGER_SCENES {
        panel.set_tab(scene.tab);
        panel.set_editing(scene.editing);
        panel.set_enrolling_open(scene.editing == ManagerField::HqUrl);
        panel.set_pin_role(scene.pin_role);
        panel.set_pin_length(if scene.pin_role == StaffRole::None {
            0
        } else {
            3
        });
        panel.set_first_day(scene.first_day == FirstDay::Changing);
        panel.set_first_day_saved(scene.first_day == FirstDay::Saved);
        demo_manager_failures(&headless.app, scene.failing, scene.first_day);
        // Looking for a USB stick, before any path is known.
        let looking = scene.name == "manager-export-looking";
        let path = panel.get_export_path();
        panel.set_looking_for_usb(looking);
        if looking {
            panel.set_export_path("".into());
            panel.set_export_outcome(Outcome::Idle);
        }
        written.extend(render_all(headless, out, lang, scene.name)?);
        panel.set_export_path(path);
        panel.set_looking_for_usb(false);
    }
    Ok(written)
}

/// Fills the manager's screen with a believable day, in the shop's language.
fn demo_manager(app: &App, lang: &str) {
    let vi = lang == "vi";
    let m = app.global::<Manager>();
    let summary = crate::store::Summary {
        count: 87,
        distribution: [3, 5, 9, 28, 42],
        csat_percent: Some(80.5),
        average: Some(4.16),
        suspected_repeats: 2,
    };
    manager::show_summary(&m, &summary, crate::feedback::Scale::FIVE);
    m.set_day("2026-11-23".into());
    let by_hour = [
        0, 0, 0, 0, 0, 0, 3, 9, 14, 11, 7, 6, 10, 8, 5, 4, 5, 3, 2, 0, 0, 0, 0, 0,
    ];
    m.set_hour_max(14);
    m.set_by_hour(ModelRc::new(VecModel::from(by_hour.to_vec())));
    let reasons = if vi {
        [
            ("Nhân viên thân thiện", 31),
            ("Ngon", 24),
            ("Phục vụ chậm", 6),
        ]
    } else {
        [("Friendly staff", 31), ("Tasty", 24), ("Slow service", 6)]
    };
    m.set_top_reasons(ModelRc::new(VecModel::from(
        reasons
            .iter()
            .map(|(label, count)| ReasonCount {
                label: (*label).into(),
                count: *count,
            })
            .collect::<Vec<_>>(),
    )));
    let comments = if vi {
        [
            ("16:42", 5, "Bạc xỉu ngon nhất khu này, cảm ơn quán!"),
            (
                "15:10",
                2,
                "Phải xếp hàng lâu, cà phê sữa mang ra thì đã nguội",
            ),
            ("13:55", 4, "Bánh mới rất ngon"),
        ]
    } else {
        [
            ("16:42", 5, "Best flat white in town, thank you!"),
            (
                "15:10",
                2,
                "The queue was long and my latte came out lukewarm",
            ),
            ("13:55", 4, "Lovely new cake selection"),
        ]
    };
    m.set_latest_comments(ModelRc::new(VecModel::from(
        comments
            .iter()
            .map(|(time, score, text)| CommentLine {
                time: (*time).into(),
                score: *score,
                mood: *score - 1,
                text: (*text).into(),
            })
            .collect::<Vec<_>>(),
    )));
    m.set_enrolled(true);
    m.set_hq_url("https://hq.cornercoffee.example".into());
    m.set_pending(4);
    m.set_oldest_pending("16:39".into());
    m.set_last_success("16:35".into());
    m.set_last_error("HQ unreachable: connection refused".into());
    m.set_sync_problem(super::SyncProblem::Unreachable);
    m.set_quarantined(1);
    m.set_retrying(true);
    m.set_languages(ModelRc::new(VecModel::from(
        ["en", "vi"]
            .iter()
            .map(|code| LanguageChoice {
                code: (*code).into(),
                name: language::native_name(code).into(),
            })
            .collect::<Vec<_>>(),
    )));
    let (idle_min, idle_max) = manager::idle_bounds();
    m.set_idle_min(idle_min);
    m.set_idle_max(idle_max);
    let pins = crate::regulars::PIN_DIGITS;
    m.set_pin_min(*pins.start() as i32);
    m.set_pin_max(*pins.end() as i32);
    m.set_default_language(lang.into());
    m.set_idle_secs(20);
    m.set_remember_me(true);
    m.set_export_path("/media/pi/KINGSTON/ratings-2026-11-23.csv".into());
    m.set_export_outcome(Outcome::Done);
    m.set_export_rows(87);
    m.set_export_written("/media/pi/KINGSTON/ratings-2026-11-23.csv".into());
    m.set_enroll_url("https://hq.cornercoffee.example".into());
    m.set_enroll_code("7Q4-K9".into());
}

/// Shows every failure message the manager can meet (or none), for the screenshots.
fn demo_manager_failures(app: &App, failing: bool, first_day: FirstDay) {
    let m = app.global::<Manager>();
    if failing {
        m.set_settings_outcome(Outcome::Failed);
        m.set_settings_problem(Problem::IdleOutOfRange);
        m.set_export_outcome(Outcome::Failed);
        m.set_export_problem(Problem::ExportNotAllowed);
        m.set_export_detail("/media/pi/KINGSTON".into());
        m.set_enroll_outcome(Outcome::Failed);
        m.set_enroll_problem(Problem::CodeRefused);
        m.set_pin_problem(if first_day == FirstDay::Changing {
            Problem::PinsEqual
        } else {
            Problem::PinWeak
        });
    } else {
        m.set_settings_outcome(Outcome::Idle);
        m.set_export_outcome(Outcome::Done);
        m.set_enroll_outcome(Outcome::Idle);
        m.set_pin_problem(Problem::None);
    }
}

// --- End of the manager's scenes ----------------------------------------------------

/// Writes `<lang>-<w>x<h>-<screen>.png` for every screen, size and language into `out`.
pub fn screenshots(config: &KioskConfig, out: &Path, languages: &[String]) -> Result<Vec<PathBuf>> {
    std::fs::create_dir_all(out).with_context(|| format!("cannot create {}", out.display()))?;
    let headless = Headless::new()?;
    let kiosk = headless.app.global::<Kiosk>();
    kiosk.set_faces(face_models(config.survey.scale));
    kiosk.set_shop_name(config.shop_name.as_str().into());
    let fallback = &config.languages.default;
    let mut written = Vec::new();
    for lang in languages {
        language::select(lang);
        kiosk.set_telex(crate::telex::is_default_for(lang));
        kiosk.set_question(config.survey.question_in(lang, fallback).into());
        kiosk.set_next_language_name(
            language::native_name(language::next(&config.languages.available, lang)).into(),
        );
        for scene in SCENES {
            let chips = config.survey.chips_for(scene.sentiment);
            let selected: Vec<bool> = (0..chips.len())
                .map(|i| scene.selected.contains(&i))
                .collect();
            kiosk.set_chips(ModelRc::new(VecModel::from(chip_models(
                chips, &selected, lang, fallback,
            ))));
            kiosk.set_happy(scene.sentiment == Sentiment::Happy);
            kiosk.set_comment(sample(lang).comment(scene.comment).into());
            kiosk.set_screen(scene.screen);
            written.extend(render_all(&headless, out, lang, scene.name)?);
        }
        written.extend(nps_and_apology_scenes(&headless, config, out, lang)?);
        for (name, set_up) in STAFF_SCENES {
            set_up(&headless.app, config, lang);
            written.extend(render_all(&headless, out, lang, name)?);
        }
        written.extend(manager_scenes(&headless, out, lang)?);
    }
    Ok(written)
}

/// The follow-up with the NPS row (answered, and not), and the apology after an unhappy
/// face. A survey without an NPS question shows a sample one.
fn nps_and_apology_scenes(
    headless: &Headless,
    config: &KioskConfig,
    out: &Path,
    lang: &str,
) -> Result<Vec<PathBuf>> {
    let kiosk = headless.app.global::<Kiosk>();
    let fallback = &config.languages.default;
    let question = config
        .survey
        .nps_question_in(lang, fallback)
        .unwrap_or(if lang == "vi" {
            "Bạn có sẵn lòng giới thiệu quán cho bạn bè không?"
        } else {
            "How likely are you to recommend us to a friend?"
        });
    let mut written = Vec::new();
    for (name, sentiment, selected, nps) in [
        ("follow-up-nps", Sentiment::Happy, &[1usize][..], 9),
        ("follow-up-nps-unhappy", Sentiment::Unhappy, &[0, 4][..], -1),
    ] {
        let chips = config.survey.chips_for(sentiment);
        let on: Vec<bool> = (0..chips.len()).map(|i| selected.contains(&i)).collect();
        kiosk.set_chips(ModelRc::new(VecModel::from(chip_models(
            chips, &on, lang, fallback,
        ))));
        kiosk.set_happy(sentiment == Sentiment::Happy);
        kiosk.set_comment("".into());
        kiosk.set_nps_question(question.into());
        kiosk.set_nps(nps);
        kiosk.set_screen(Screen::FollowUp);
        written.extend(render_all(headless, out, lang, name)?);
    }
    kiosk.set_nps_question("".into());
    kiosk.set_nps(-1);
    kiosk.set_apologise(true);
    kiosk.set_screen(Screen::ThankYou);
    written.extend(render_all(headless, out, lang, "thank-you-sorry")?);
    kiosk.set_apologise(false);
    Ok(written)
}

/// Renders the current state at every size.
fn render_all(headless: &Headless, out: &Path, lang: &str, name: &str) -> Result<Vec<PathBuf>> {
    let mut written = Vec::new();
    for (width, height) in SIZES {
        let pixels = headless.render(width, height)?;
        let path = out.join(format!("{lang}-{width}x{height}-{name}.png"));
        write_png(&path, width, height, &pixels)?;
        written.push(path);
    }
    Ok(written)
}

type SetUp = fn(&App, &KioskConfig, &str);

/// The remember-me and staff screens, with demo data.
const STAFF_SCENES: &[(&str, SetUp)] = &[
    ("remember-offer", |app, _, _| {
        app.global::<Kiosk>().set_screen(Screen::RememberOffer)
    }),
    ("remember-name", |app, config, lang| {
        demo_form(app, config, lang, 0);
    }),
    ("remember-phone", |app, config, lang| {
        demo_form(app, config, lang, 1);
    }),
    ("remember-usual", |app, config, lang| {
        demo_form(app, config, lang, 2);
    }),
    ("remember-extras", |app, config, lang| {
        demo_form(app, config, lang, 3);
    }),
    ("remember-note", |app, config, lang| {
        demo_form(app, config, lang, 4);
    }),
    ("remember-consent", |app, config, lang| {
        demo_form(app, config, lang, 5);
    }),
    ("remember-dietary", |app, config, lang| {
        demo_form(app, config, lang, 6);
        app.global::<Remember>()
            .set_dietary(sample(lang).dietary.into());
    }),
    ("remember-code", |app, config, lang| {
        demo_form(app, config, lang, 7);
        app.global::<Remember>().set_code_dots("••".into());
    }),
    ("remember-find", |app, _, _| {
        demo_find(app, 0, "", FormProblem::None)
    }),
    ("remember-find-code", |app, _, _| {
        demo_find(app, 1, "•••", FormProblem::None)
    }),
    ("remember-find-no-match", |app, _, _| {
        demo_find(app, 1, "", FormProblem::NoMatch)
    }),
    ("remember-find-locked", |app, _, _| {
        demo_find(app, 1, "", FormProblem::Locked)
    }),
    ("remember-find-staff", |app, _, _| {
        demo_find(app, 2, "••••", FormProblem::None)
    }),
    ("remember-found", |app, config, lang| {
        let r = app.global::<Remember>();
        let (name, _, order, _, _) = sample(lang).regulars[0];
        r.set_locked(false);
        r.set_problem(FormProblem::None);
        r.set_found(true);
        r.set_found_name(first_name(name).into());
        r.set_found_usual(usual(config, order, lang).into());
        app.global::<Kiosk>().set_screen(Screen::RememberFind);
    }),
    ("staff-pin", |app, _, _| {
        let s = app.global::<Staff>();
        s.set_pin_length(2);
        s.set_pin_min(*crate::regulars::PIN_DIGITS.start() as i32);
        s.set_pin_max(*crate::regulars::PIN_DIGITS.end() as i32);
        s.set_pin_note(PinNote::None);
        app.global::<Kiosk>().set_screen(Screen::StaffPin);
    }),
    ("staff-pin-first-day", |app, _, _| {
        let s = app.global::<Staff>();
        s.set_pin_length(0);
        s.set_pin_locked(false);
        s.set_pin_note(PinNote::FirstDay);
        app.global::<Kiosk>().set_screen(Screen::StaffPin);
    }),
    ("staff-pin-locked", |app, _, _| {
        let s = app.global::<Staff>();
        s.set_pin_length(0);
        s.set_pin_locked(true);
        s.set_pin_note(PinNote::Locked);
        s.set_lock_seconds(30);
        app.global::<Kiosk>().set_screen(Screen::StaffPin);
    }),
    ("barista-search", |app, config, lang| {
        app.global::<Staff>().set_pin_locked(false);
        demo_barista(app, config, lang, "ng", -1);
    }),
    ("barista-regular", |app, config, lang| {
        demo_barista(app, config, lang, "ng", 0)
    }),
];

fn demo_form(app: &App, config: &KioskConfig, lang: &str, step: i32) {
    let r = app.global::<Remember>();
    let fallback = &config.languages.default;
    let menu = &config.survey.remember_me.menu;
    let choices = |options: &[countertop_protocol::MenuOption], on: &[usize]| {
        super::remember::choices(options, lang, fallback, |i| on.contains(&i))
    };
    let text = |t: &countertop_protocol::LocalizedText| t.get(lang).cloned().unwrap_or_default();
    r.set_step(step);
    let sample = sample(lang);
    r.set_name(first_name(sample.regulars[0].0).into());
    r.set_phone("0901234567".into());
    r.set_items(choices(&menu.items, &[1]));
    r.set_sizes(choices(&menu.sizes, &[1]));
    r.set_milks(choices(&menu.milks, &[1]));
    r.set_extras(choices(&menu.extras, &[0]));
    r.set_consent_text(text(&config.survey.remember_me.consent_text).into());
    r.set_dietary_consent_text(text(&config.survey.remember_me.dietary_consent_text).into());
    r.set_consent(true);
    r.set_note(sample.note.into());
    r.set_dietary_consent(step == 6);
    app.global::<Kiosk>().set_screen(Screen::RememberForm);
}

/// "I'm already a regular" at `step` (phone, code, staff PIN), with `dots` typed.
fn demo_find(app: &App, step: i32, dots: &str, problem: FormProblem) {
    let r = app.global::<Remember>();
    r.set_found(false);
    r.set_lookup("0901234567".into());
    r.set_find_step(step);
    r.set_proof_dots(dots.into());
    r.set_proof_length(dots.chars().count() as i32);
    r.set_locked(problem == FormProblem::Locked);
    r.set_lock_seconds(30);
    r.set_problem(problem);
    app.global::<Kiosk>().set_screen(Screen::RememberFind);
}

fn demo_barista(app: &App, config: &KioskConfig, lang: &str, query: &str, selected: i32) {
    let sample = sample(lang);
    let rows: Vec<RegularRow> = sample
        .regulars
        .iter()
        .enumerate()
        .map(|(i, (name, tail, order, visits, days))| {
            // The first two regulars' last visits went badly (the first has notes): long
            // names with the flag, which must never take width from a name, at any size.
            let unhappy = i < 2;
            let noted = |text: &str| if i == 0 { text.into() } else { "".into() };
            RegularRow {
                id: "".into(),
                name: (*name).into(),
                phone_tail: (*tail).into(),
                usual: usual(config, order, lang).into(),
                note: noted(sample.note),
                dietary: noted(sample.dietary),
                visits: *visits,
                last_visit_days: *days,
                unhappy,
            }
        })
        .collect();
    let b = app.global::<Barista>();
    b.set_query(query.into());
    b.set_total(1234);
    b.set_results(ModelRc::new(VecModel::from(rows)));
    b.set_selected(selected);
    b.set_note(if selected < 0 {
        BaristaNote::VisitLogged
    } else {
        BaristaNote::None
    });
    b.set_note_name(first_name(sample.regulars[2].0).into());
    app.global::<Kiosk>().set_screen(Screen::Barista);
}

/// How the kiosk greets a regular: the last word of a Vietnamese full name ("Phượng").
fn first_name(name: &str) -> &str {
    name.rsplit(' ').next().unwrap_or(name)
}
