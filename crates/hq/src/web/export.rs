//! todo
pub const ROUTES: &[super::Route] = &[];
