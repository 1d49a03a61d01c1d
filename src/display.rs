//! The screen and touchscreen of a kiosk with no desktop: `[display]` in kiosk.toml turned
//! into what Slint's linuxkms backend and libinput read.
//!
//! Slint takes the picture's rotation, output and mode from its environment
//! (`SLINT_KMS_ROTATION`, `SLINT_DRM_OUTPUT`, `SLINT_DRM_MODE`) but does not turn touch
//! input: it maps each touch's position on the panel straight onto the (turned) window. So a
//! turned screen also needs libinput's calibration matrix on the touchscreen, which a udev
//! rule sets ([`touch_udev_rules`], printed by `countertop touch-rules`).

use std::path::Path;

use crate::config::{DisplayConfig, Rotation};

/// The variables Slint's linuxkms backend reads for this display, in a stable order.
pub fn slint_environment(display: &DisplayConfig) -> Vec<(&'static str, String)> {
    let mut vars = vec![("SLINT_KMS_ROTATION", display.rotation.degrees().to_string())];
    if let Some(output) = &display.output {
        vars.push(("SLINT_DRM_OUTPUT", output.clone()));
    }
    if let Some(mode) = display.mode {
        vars.push(("SLINT_DRM_MODE", mode.to_string()));
    }
    vars
}

/// The variables of [`slint_environment`] that are not already set: a variable set in the
/// environment (a systemd drop-in, a shell) wins over kiosk.toml.
pub fn environment_to_set(
    display: &DisplayConfig,
    is_set: impl Fn(&str) -> bool,
) -> Vec<(&'static str, String)> {
    slint_environment(display)
        .into_iter()
        .filter(|(name, _)| !is_set(name))
        .collect()
}

/// Puts `[display]` into this process's environment for Slint. Call it before any thread
/// starts (changing the environment is not thread-safe) and before the first window.
pub fn apply_to_environment(display: &DisplayConfig) {
    for (name, value) in environment_to_set(display, |name| std::env::var_os(name).is_some()) {
        std::env::set_var(name, value);
    }
}

/// libinput's calibration matrix `[a, b, c, d, e, f]` (window x = a·u + b·v + c, window
/// y = d·u + e·v + f, from the panel's own normalised u, v) for a picture turned clockwise
/// by `rotation`, so that a finger lands on what it touches.
pub fn calibration_matrix(rotation: Rotation) -> [i8; 6] {
    match rotation {
        Rotation::None => [1, 0, 0, 0, 1, 0],
        // The window's top-left corner is at the panel's top-right: x = v, y = 1 - u.
        Rotation::Quarter => [0, 1, 0, -1, 0, 1],
        Rotation::Half => [-1, 0, 1, 0, -1, 1],
        // The window's top-left corner is at the panel's bottom-left: x = 1 - v, y = u.
        Rotation::ThreeQuarters => [0, -1, 1, 1, 0, 0],
    }
}

/// The udev rules file that gives every touchscreen the calibration matrix for this
/// display. An unturned screen gets the identity matrix, so turning it back takes effect.
pub fn touch_udev_rules(display: &DisplayConfig, config: Option<&Path>) -> String {
    let matrix = calibration_matrix(display.rotation)
        .iter()
        .map(i8::to_string)
        .collect::<Vec<_>>()
        .join(" ");
    let source = config.map_or_else(
        || "the built-in defaults".to_owned(),
        |path| path.display().to_string(),
    );
    format!(
        "# Written by `countertop touch-rules` from {source}\n\
         # ([display] rotation = {degrees}): turns touch input with the picture.\n\
         # Do not edit: change the rotation in kiosk.toml and restart countertop.service.\n\
         ACTION==\"add|change\", SUBSYSTEM==\"input\", KERNEL==\"event*\", \
         ENV{{ID_INPUT_TOUCHSCREEN}}==\"1\", ENV{{LIBINPUT_CALIBRATION_MATRIX}}=\"{matrix}\"\n",
        degrees = display.rotation.degrees(),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Where a point of the window (normalised) is shown on the panel when Slint turns the
    /// picture: its software renderer turns by 90° "to the right" for `SLINT_KMS_ROTATION=90`.
    fn shown_at(rotation: Rotation, (x, y): (i8, i8)) -> (i8, i8) {
        match rotation {
            Rotation::None => (x, y),
            Rotation::Quarter => (1 - y, x),
            Rotation::Half => (1 - x, 1 - y),
            Rotation::ThreeQuarters => (y, 1 - x),
        }
    }

    #[test]
    fn a_touch_on_a_turned_panel_lands_on_the_window_point_shown_there() {
        for rotation in [
            Rotation::None,
            Rotation::Quarter,
            Rotation::Half,
            Rotation::ThreeQuarters,
        ] {
            let [a, b, c, d, e, f] = calibration_matrix(rotation);
            for corner in [(0, 0), (1, 0), (0, 1), (1, 1)] {
                let (u, v) = shown_at(rotation, corner);
                let touched = (a * u + b * v + c, d * u + e * v + f);
                assert_eq!(touched, corner, "{rotation:?}: panel ({u}, {v})");
            }
        }
    }

    #[test]
    fn the_udev_rule_sets_the_matrix_of_the_configured_rotation_on_touchscreens_only() {
        let display = DisplayConfig {
            rotation: Rotation::Quarter,
            ..Default::default()
        };
        let rules = touch_udev_rules(&display, Some(Path::new("/etc/countertop/kiosk.toml")));
        let rule = rules.lines().find(|l| !l.starts_with('#')).unwrap();
        assert!(rule.contains("ENV{ID_INPUT_TOUCHSCREEN}==\"1\""), "{rule}");
        assert!(
            rule.ends_with("ENV{LIBINPUT_CALIBRATION_MATRIX}=\"0 1 0 -1 0 1\""),
            "{rule}"
        );
        assert!(rules.contains("/etc/countertop/kiosk.toml"));
        let unturned = touch_udev_rules(&DisplayConfig::default(), None);
        assert!(unturned.contains("\"1 0 0 0 1 0\""), "{unturned}");
    }

    #[test]
    fn the_environment_carries_rotation_output_and_mode_unless_already_set() {
        let display = DisplayConfig {
            rotation: Rotation::Half,
            output: Some("DSI-1".into()),
            mode: Some(3),
        };
        assert_eq!(
            slint_environment(&display),
            [
                ("SLINT_KMS_ROTATION", "180".to_owned()),
                ("SLINT_DRM_OUTPUT", "DSI-1".to_owned()),
                ("SLINT_DRM_MODE", "3".to_owned()),
            ]
        );
        let kept = environment_to_set(&display, |name| name == "SLINT_DRM_OUTPUT");
        assert_eq!(
            kept.iter().map(|(name, _)| *name).collect::<Vec<_>>(),
            ["SLINT_KMS_ROTATION", "SLINT_DRM_MODE"]
        );
        assert_eq!(
            slint_environment(&DisplayConfig::default()),
            [("SLINT_KMS_ROTATION", "0".to_owned())]
        );
    }
}
