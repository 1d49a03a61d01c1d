//! Typing Vietnamese on the real on-screen keyboard, under Slint's testing backend with
//! mocked time: every key is clicked where it is drawn, as a customer's finger would, and the
//! text the kiosk keeps (the stored comment, the remember-me form's name) is checked.

mod common;

use std::time::Duration;

use common::TestKiosk;
use countertop::config::KioskConfig;
use countertop::ui::{Kiosk, Remember, Screen};
use i_slint_backend_testing::{mock_elapsed_time, AccessibleRole, ElementHandle};
use slint::platform::PointerEventButton;
use slint::ComponentHandle;

/// The keyboard's own keys, in Vietnamese.
const SHIFT_VI: &str = "Chữ hoa";
const SPACE_VI: &str = "Dấu cách";
const DELETE_VI: &str = "Xóa";
const TELEX_VI: &str = "Gõ tiếng Việt (Telex)";
const MORE_VI: &str = "Thêm chữ cái";

#[test]
fn vietnamese_typing_on_the_real_keyboard() {
    i_slint_backend_testing::init_integration_test_with_mock_time();
    keys_of_one_row_have_equal_widths();
    the_words_of_the_issue_type_into_the_comment_and_are_stored();
    the_words_of_the_issue_type_into_the_remember_me_name();
    tone_keys_type_vietnamese_without_telex();
    english_types_as_spelt_until_telex_is_turned_on();
}

/// The key labelled `label` on the keyboard on screen.
fn key(kiosk: &TestKiosk, label: &str) -> ElementHandle {
    let keyboard = ElementHandle::find_by_element_type_name(&kiosk.app, "Keyboard")
        .next()
        .unwrap_or_else(|| panic!("no keyboard on the {:?} screen", kiosk.screen()));
    let wanted = label.to_owned();
    keyboard
        .query_descendants()
        .match_accessible_role(AccessibleRole::Button)
        .match_predicate(move |e| e.accessible_label().as_deref() == Some(wanted.as_str()))
        .find_first()
        .unwrap_or_else(|| panic!("no key labelled {label:?}"))
}

fn click(kiosk: &TestKiosk, label: &str) {
    key(kiosk, label).mock_single_click(PointerEventButton::Left);
}

/// Clicks the keys for `keys`, as a Telex typist would press them: a capital is Shift, then
/// the letter; a space is the space bar.
fn press(kiosk: &TestKiosk, keys: &str) {
    for c in keys.chars() {
        if c == ' ' {
            click(kiosk, SPACE_VI);
        } else if c.is_uppercase() {
            click(kiosk, SHIFT_VI);
            click(kiosk, &c.to_string());
        } else {
            click(kiosk, &c.to_string());
        }
    }
}

/// A kiosk in Vietnamese, on the comment screen after a rating.
fn vietnamese_comment_screen() -> TestKiosk {
    let kiosk = TestKiosk::start(KioskConfig::default());
    kiosk.tap("Language: Tiếng Việt");
    kiosk.rate("Rất hài lòng");
    kiosk.tap("Thêm nhận xét");
    assert_eq!(kiosk.screen(), Screen::Comment);
    kiosk
}

fn comment(kiosk: &TestKiosk) -> String {
    kiosk.app.global::<Kiosk>().get_comment().to_string()
}

fn keys_of_one_row_have_equal_widths() {
    let kiosk = vietnamese_comment_screen();
    for page in 0..2 {
        let rows: &[&str] = if page == 0 {
            &["qwertyuiop", "asdfghjkl'", "zxcvbnm,.?", "1234567890"]
        } else {
            &["1234567890"]
        };
        for row in rows {
            let widths: Vec<f32> = row
                .chars()
                .map(|c| key(&kiosk, &c.to_string()).size().width)
                .collect();
            assert!(widths[0] > 40.0, "keys are finger-sized: {widths:?}");
            for w in &widths {
                assert!((w - widths[0]).abs() < 0.5, "row {row}: {widths:?}");
            }
        }
        if page == 1 {
            let marks: Vec<f32> = ["ă", "â", "đ", "ê", "ô", "ơ", "ư", "sắc", "nặng", "₫"]
                .iter()
                .map(|l| key(&kiosk, l).size().width)
                .collect();
            for w in &marks {
                assert!((w - marks[0]).abs() < 0.5, "letters and tones: {marks:?}");
            }
        }
        click(&kiosk, MORE_VI);
    }
}

fn the_words_of_the_issue_type_into_the_comment_and_are_stored() {
    let kiosk = vietnamese_comment_screen();
    // Vietnamese turns Telex on.
    assert_eq!(key(&kiosk, TELEX_VI).accessible_checked(), Some(true));
    press(&kiosk, "phucj vuj chaamj");
    assert_eq!(comment(&kiosk), "phục vụ chậm");
    // Backspace takes the whole composed letter.
    click(&kiosk, DELETE_VI);
    assert_eq!(comment(&kiosk), "phục vụ chậ");
    press(&kiosk, "m, tuyeetj vowif. Phuowngj, DDuwcs");
    assert_eq!(comment(&kiosk), "phục vụ chậm, tuyệt vời. Phượng, Đức");
    kiosk.tap("OK");
    kiosk.tap("Xong");
    if kiosk.screen() == Screen::RememberOffer {
        kiosk.tap("Không, cảm ơn");
    }
    kiosk.pump_until("the comment on disk", |k| k.ratings()[0].comment.is_some());
    assert_eq!(
        kiosk.ratings()[0].comment.as_deref(),
        Some("phục vụ chậm, tuyệt vời. Phượng, Đức")
    );
}

fn the_words_of_the_issue_type_into_the_remember_me_name() {
    let kiosk = TestKiosk::start(KioskConfig::default());
    kiosk.tap("Language: Tiếng Việt");
    kiosk.rate("Rất hài lòng");
    kiosk.tap("Xong");
    assert_eq!(kiosk.screen(), Screen::RememberOffer);
    kiosk.tap("Có, hãy nhớ tôi");
    assert_eq!(kiosk.screen(), Screen::RememberForm);
    let name = || kiosk.app.global::<Remember>().get_name().to_string();
    for (keys, word) in [
        ("Phuowngj", "Phượng"),
        ("DDuwcs", "Đức"),
        ("phucj vuj", "phục vụ"),
        ("chaamj", "chậm"),
        ("tuyeetj vowif", "tuyệt vời"),
    ] {
        press(&kiosk, keys);
        assert_eq!(name(), word, "typed {keys}");
        assert_eq!(kiosk.value_of("Tên hoặc biệt danh").as_deref(), Some(word));
        for _ in word.chars() {
            click(&kiosk, DELETE_VI);
        }
        assert_eq!(name(), "", "one Delete per letter of {word}");
    }
}

fn tone_keys_type_vietnamese_without_telex() {
    let kiosk = vietnamese_comment_screen();
    click(&kiosk, TELEX_VI);
    assert_eq!(key(&kiosk, TELEX_VI).accessible_checked(), Some(false));
    press(&kiosk, "Ph");
    click(&kiosk, MORE_VI);
    click(&kiosk, "ư");
    click(&kiosk, "ơ");
    click(&kiosk, MORE_VI);
    press(&kiosk, "ng");
    click(&kiosk, MORE_VI);
    click(&kiosk, "nặng");
    // A capital Đ from the second page.
    click(&kiosk, SPACE_VI);
    click(&kiosk, SHIFT_VI);
    click(&kiosk, "Đ");
    click(&kiosk, "ư");
    click(&kiosk, MORE_VI);
    click(&kiosk, "c");
    click(&kiosk, MORE_VI);
    click(&kiosk, "sắc");
    assert_eq!(comment(&kiosk), "Phượng Đức");
    // Without Telex, Telex keys are letters.
    click(&kiosk, MORE_VI);
    press(&kiosk, " aas");
    assert_eq!(comment(&kiosk), "Phượng Đức aas");
}

fn english_types_as_spelt_until_telex_is_turned_on() {
    let kiosk = TestKiosk::start(KioskConfig::default());
    kiosk.rate("Very happy");
    kiosk.tap("Add a comment");
    let telex = "Vietnamese typing (Telex)";
    assert_eq!(key(&kiosk, telex).accessible_checked(), Some(false));
    for c in "class boss".chars() {
        let label = if c == ' ' {
            "Space".to_owned()
        } else {
            c.to_string()
        };
        click(&kiosk, &label);
    }
    assert_eq!(comment(&kiosk), "class boss");
    click(&kiosk, telex);
    click(&kiosk, "Space");
    for c in "ddaa".chars() {
        click(&kiosk, &c.to_string());
    }
    assert_eq!(comment(&kiosk), "class boss đâ");
    // The next customer starts from their language's default again.
    kiosk.tap("OK");
    kiosk.done();
    mock_elapsed_time(Duration::from_secs(30));
    kiosk.pump_until("the welcome screen", |k| k.screen() == Screen::Welcome);
    assert!(!kiosk.app.global::<Kiosk>().get_telex());
}
