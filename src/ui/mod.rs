//! Slint glue: the generated UI types, and one adapter per part of the kiosk. No SQL and
//! no HTTP here; adapters talk to the core thread through [`crate::core::Core`].

mod barista;
mod customer;
pub mod headless;
pub mod language;
mod manager;
mod remember;
mod staff;
pub mod watchdog;

slint::include_modules!();

pub use barista::BaristaPanel;
pub use customer::CustomerFlow;
pub use manager::ManagerPanel;
pub use remember::RememberFlow;
pub use staff::StaffMode;

/// A UI callback that runs `f` on `target` for as long as it is alive: adapters hold
/// themselves weakly in their own callbacks, so a dropped adapter is never kept alive.
pub(crate) fn while_alive<T: 'static>(target: &std::rc::Rc<T>, f: fn(&T)) -> impl Fn() + 'static {
    let weak = std::rc::Rc::downgrade(target);
    move || {
        if let Some(target) = weak.upgrade() {
            f(&target);
        }
    }
}

/// Every flow of the kiosk's screens, connected to one core.
pub struct Flows {
    pub customer: std::rc::Rc<CustomerFlow>,
    pub remember: std::rc::Rc<RememberFlow>,
    pub staff: std::rc::Rc<StaffMode>,
}

/// Connects every screen of `app` to `core`, and shows the welcome screen.
pub fn install(app: &App, core: crate::core::Core) -> Flows {
    let customer = CustomerFlow::install(app, core.clone());
    let remember = RememberFlow::install(app, core.clone(), customer.clone());
    let staff = StaffMode::install(app, core, customer.clone(), remember.clone());
    Flows {
        customer,
        remember,
        staff,
    }
}
