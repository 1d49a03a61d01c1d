//! Compiles the kiosk's Slint UI, with the translations under `lang/` bundled in.

fn main() {
    // No per-component context: one phrase has one translation across the app, and a
    // translator's .po file stays a flat list.
    let config = slint_build::CompilerConfiguration::new()
        .with_bundled_translations("lang")
        .with_default_translation_context(slint_build::DefaultTranslationContext::None);
    if let Err(error) = slint_build::compile_with_config("ui/app.slint", config) {
        panic!("ui/app.slint does not compile: {error}");
    }
}
