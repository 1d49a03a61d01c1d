//! The manager's screen (placeholder until the real one lands from its branch).

use std::rc::Rc;

use super::App;
use crate::core::Core;

/// Drives the manager's screen.
pub struct ManagerPanel {
    _core: Core,
}

impl ManagerPanel {
    pub fn install(_app: &App, core: Core) -> Rc<ManagerPanel> {
        Rc::new(ManagerPanel { _core: core })
    }

    /// Refreshes the numbers each time the screen opens.
    pub fn open(&self) {}
}
