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
    language, manager, App, Barista, BaristaNote, Kiosk, Manager, ManagerField, ManagerTab,
    PinNote, RegularRow, Remember, Screen, Staff, StaffRole,
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
    comment: &'static str,
}

const SCENES: &[Scene] = &[
    Scene {
        name: "welcome",
        screen: Screen::Welcome,
        sentiment: Sentiment::Happy,
        selected: &[],
        comment: "",
    },
    Scene {
        name: "follow-up-happy",
        screen: Screen::FollowUp,
        sentiment: Sentiment::Happy,
        selected: &[0, 3],
        comment: "",
    },
    Scene {
        name: "follow-up-unhappy",
        screen: Screen::FollowUp,
        sentiment: Sentiment::Unhappy,
        selected: &[0],
        comment: "The queue was long",
    },
    Scene {
        name: "comment",
        screen: Screen::Comment,
        sentiment: Sentiment::Unhappy,
        selected: &[],
        comment: "The queue was long but the latte was great",
    },
    Scene {
        name: "comment-empty",
        screen: Screen::Comment,
        sentiment: Sentiment::Happy,
        selected: &[],
        comment: "",
    },
    Scene {
        name: "thank-you",
        screen: Screen::ThankYou,
        sentiment: Sentiment::Happy,
        selected: &[],
        comment: "",
    },
];

/// The manager's screen: each tab, and the keyboard and PIN pad it opens.
struct ManagerScene {
    name: &'static str,
    tab: ManagerTab,
    editing: ManagerField,
    pin_role: StaffRole,
    /// Every message shows its failure: a refused PIN, a failed export or enrolment.
    failing: bool,
}

const MANAGER_SCENES: &[ManagerScene] = &[
    ManagerScene {
        name: "manager-today",
        tab: ManagerTab::Today,
        editing: ManagerField::None,
        pin_role: StaffRole::None,
        failing: false,
    },
    ManagerScene {
        name: "manager-sync",
        tab: ManagerTab::Sync,
        editing: ManagerField::None,
        pin_role: StaffRole::None,
        failing: false,
    },
    ManagerScene {
        name: "manager-settings",
        tab: ManagerTab::Settings,
        editing: ManagerField::None,
        pin_role: StaffRole::None,
        failing: false,
    },
    ManagerScene {
        name: "manager-export",
        tab: ManagerTab::Export,
        editing: ManagerField::None,
        pin_role: StaffRole::None,
        failing: false,
    },
    ManagerScene {
        name: "manager-enroll",
        tab: ManagerTab::Settings,
        editing: ManagerField::HqUrl,
        pin_role: StaffRole::None,
        failing: false,
    },
    ManagerScene {
        name: "manager-pin",
        tab: ManagerTab::Settings,
        editing: ManagerField::None,
        pin_role: StaffRole::Barista,
        failing: false,
    },
    ManagerScene {
        name: "manager-export-path",
        tab: ManagerTab::Export,
        editing: ManagerField::ExportPath,
        pin_role: StaffRole::None,
        failing: false,
    },
    ManagerScene {
        name: "manager-settings-failed",
        tab: ManagerTab::Settings,
        editing: ManagerField::None,
        pin_role: StaffRole::None,
        failing: true,
    },
    ManagerScene {
        name: "manager-export-failed",
        tab: ManagerTab::Export,
        editing: ManagerField::None,
        pin_role: StaffRole::None,
        failing: true,
    },
    ManagerScene {
        name: "manager-enroll-failed",
        tab: ManagerTab::Settings,
        editing: ManagerField::HqUrl,
        pin_role: StaffRole::None,
        failing: true,
    },
    ManagerScene {
        name: "manager-pin-refused",
        tab: ManagerTab::Settings,
        editing: ManagerField::None,
        pin_role: StaffRole::Manager,
        failing: true,
    },
];

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
            kiosk.set_comment(scene.comment.into());
            kiosk.set_screen(scene.screen);
            written.extend(render_all(&headless, out, lang, scene.name)?);
        }
        for (name, set_up) in STAFF_SCENES {
            set_up(&headless.app, config, lang);
            written.extend(render_all(&headless, out, lang, name)?);
        }
        manager::demo(&headless.app);
        kiosk.set_screen(Screen::Manager);
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
            manager::demo_failures(&headless.app, scene.failing);
            for (width, height) in SIZES {
                let pixels = headless.render(width, height)?;
                let path = out.join(format!("{lang}-{width}x{height}-{}.png", scene.name));
                write_png(&path, width, height, &pixels)?;
                written.push(path);
            }
        }
    }
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
        app.global::<Remember>().set_dietary("Nut allergy".into());
    }),
    ("remember-find", |app, _, _| {
        let r = app.global::<Remember>();
        r.set_found(false);
        r.set_lookup("0901234".into());
        app.global::<Kiosk>().set_screen(Screen::RememberFind);
    }),
    ("remember-found", |app, _, _| {
        let r = app.global::<Remember>();
        r.set_found(true);
        r.set_found_name("Lan".into());
        r.set_found_usual("Latte · Medium · Oat · Extra shot".into());
        app.global::<Kiosk>().set_screen(Screen::RememberFind);
    }),
    ("staff-pin", |app, _, _| {
        let s = app.global::<Staff>();
        s.set_pin_length(2);
        s.set_pin_note(PinNote::None);
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
    ("barista-search", |app, _, _| {
        app.global::<Staff>().set_pin_locked(false);
        demo_barista(app, "ng", -1);
    }),
    ("barista-regular", |app, _, _| demo_barista(app, "ng", 0)),
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
    r.set_name("Lan".into());
    r.set_phone("0901234567".into());
    r.set_items(choices(&menu.items, &[1]));
    r.set_sizes(choices(&menu.sizes, &[1]));
    r.set_milks(choices(&menu.milks, &[1]));
    r.set_extras(choices(&menu.extras, &[0]));
    r.set_consent_text(text(&config.survey.remember_me.consent_text).into());
    r.set_dietary_consent_text(text(&config.survey.remember_me.dietary_consent_text).into());
    r.set_consent(true);
    r.set_note("Extra hot, no lid".into());
    r.set_dietary_consent(step == 6);
    app.global::<Kiosk>().set_screen(Screen::RememberForm);
}

fn demo_barista(app: &App, query: &str, selected: i32) {
    let row = |name: &str, tail: &str, usual: &str, visits, days, unhappy| RegularRow {
        id: "".into(),
        name: name.into(),
        phone_tail: tail.into(),
        usual: usual.into(),
        note: if unhappy {
            "Extra hot, no lid".into()
        } else {
            "".into()
        },
        dietary: if unhappy {
            "Nut allergy".into()
        } else {
            "".into()
        },
        visits,
        last_visit_days: days,
        unhappy,
    };
    // Long Vietnamese names, two of them flagged: the flag must never take width from a
    // name, at any size.
    let rows = vec![
        row(
            "Nguyễn Thị Phương Thảo",
            "4567",
            "Latte · Medium · Oat · Extra shot",
            23,
            2,
            true,
        ),
        row(
            "Tôn Nữ Hoàng Khánh Phượng",
            "1180",
            "Iced coffee · Large · Less sugar",
            8,
            12,
            true,
        ),
        row("Nguyễn Văn Minh Đức", "", "Espresso", 1, 14, false),
    ];
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
    b.set_note_name("Minh".into());
    app.global::<Kiosk>().set_screen(Screen::Barista);
}
