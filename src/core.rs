//! The core thread: it owns the store and the sync loop on a tokio runtime of its own, so
//! the UI thread never waits on a disk or a network.
//!
//! The UI sends [`Command`]s over a channel and awaits the answer on a oneshot; a tap is
//! answered only once its rating is committed to disk. Sync state and survey changes
//! from head office flow back on watch channels.

use std::cell::{Cell, RefCell};
use std::path::PathBuf;
use std::rc::Rc;
use std::thread::JoinHandle;

use chrono::{DateTime, Utc};
use tokio::sync::{mpsc, oneshot, watch};
use uuid::Uuid;

use crate::clock;
use crate::config::KioskConfig;
use crate::feedback::{Details, RepeatFilter, Score};
use crate::refusal::Refusal;
pub use crate::regulars::{DayReport, LatestComment, LocalSettings, RegularCard, RegularEdit};
pub use crate::store::StaffRole;
use crate::store::{self, NewRating, PinCheck, RecordedRating, Store, StoreError, Summary};
use crate::sync::client::{HqClient, HqError};
use crate::sync::{self, SyncStatus, Wake};

/// What a customer gives "I'm already a regular" to prove a record is theirs.
pub enum Proof {
    /// The 4-digit personal code they chose when joining.
    Code(String),
    /// A barista's (or the manager's) PIN, typed at the counter by staff.
    StaffPin(String),
}

/// What a phone number and a [`Proof`] opened.
pub enum OwnRecord {
    Opened(Box<RegularCard>),
    /// No record has that number with that code: which of the two was wrong is not said.
    NoMatch,
    /// The staff PIN was wrong; the pad is locked for the period when set.
    StaffRefused {
        locked_for: Option<std::time::Duration>,
    },
}

/// What went wrong on the core thread, as the UI sees it.
#[derive(Debug, thiserror::Error)]
pub enum CoreError {
    #[error(transparent)]
    Store(StoreError),
    /// Input refused. The message is for the person at the kiosk: plain words, no
    /// internals.
    #[error("{0}")]
    Invalid(String),
    /// Input refused, as a kind the UI words in the language on screen.
    #[error(transparent)]
    Refused(Refusal),
    /// Head office could not be reached or answered with an error.
    #[error(transparent)]
    Hq(HqError),
    #[error("the kiosk core has stopped")]
    Stopped,
    #[error("cannot start the kiosk core: {0}")]
    Start(String),
}

impl From<StoreError> for CoreError {
    fn from(e: StoreError) -> Self {
        match e {
            StoreError::Invalid(message) => CoreError::Invalid(message),
            StoreError::Refused(refusal) => CoreError::Refused(refusal),
            other => CoreError::Store(other),
        }
    }
}

impl From<HqError> for CoreError {
    /// HQ refusing what was sent (a wrong code, a bad address) is the user's to fix, so
    /// it comes back as [`CoreError::Refused`] (HQ's own explanation kept for the log).
    fn from(e: HqError) -> Self {
        match e {
            HqError::Status {
                status, message, ..
            } if status.is_client_error() => CoreError::Refused(Refusal::HqRefused {
                status: status.as_u16(),
                message,
            }),
            HqError::BadUrl(url) => CoreError::Refused(Refusal::NotAnHqAddress(url)),
            other => CoreError::Hq(other),
        }
    }
}

/// A tap as the UI reports it: the score, and the survey it was given under.
#[derive(Debug, Clone)]
pub struct Tap {
    pub score: Score,
    pub touchpoint: countertop_protocol::Touchpoint,
    pub survey_version: u32,
}

/// A rating once committed, with whether it was flagged as a suspected repeat.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Rated {
    pub recorded: RecordedRating,
    pub suspected_repeat: bool,
}

/// Trouble with the kiosk's own storage that staff should see: the red mark in the corner,
/// explained on the manager's sync screen.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct StoreAlert {
    /// The database was damaged and salvaged: what was recovered and where the damaged
    /// file is kept. Stays until the manager dismisses it. The manager's screen words it
    /// in the language on show; [`StoreAlert::message`] is the English for logs and HQ.
    pub salvaged: Option<crate::store::Salvage>,
    /// The disk (or `store.max_size_mb`) is full or nearly: new taps may not be saved.
    pub full: bool,
}

impl StoreAlert {
    /// True when staff should look.
    pub fn is_raised(&self) -> bool {
        self.salvaged.is_some() || self.full
    }

    /// What the manager reads, in English like the rest of sync's state.
    pub fn message(&self) -> Option<String> {
        let full = self.full.then(|| {
            "the kiosk's storage is full: new ratings cannot be saved until space is freed              (or store.max_size_mb is raised)"
                .to_owned()
        });
        match (&self.salvaged, full) {
            (Some(s), Some(f)) => Some(format!("{}. Also, {f}", s.message())),
            (Some(s), None) => Some(s.message()),
            (None, f) => f,
        }
    }
}

type Reply<T> = oneshot::Sender<Result<T, CoreError>>;
type Job = Box<dyn FnOnce(&CoreState) + Send>;

enum Command {
    /// A tap, with the moment it was made on the kiosk's monotonic clock.
    Rate(Tap, clock::Tick, Reply<Rated>),
    AttachDetails(Uuid, Details, Reply<()>),
    Summary(DateTime<Utc>, DateTime<Utc>, Reply<Summary>),
    /// A PIN typed on the staff pad. Hashing is slow on purpose, so it runs here.
    CheckPin(String, Reply<PinCheck>),
    /// Work on the core's state that completes without waiting (store reads and writes).
    Job(Job),
    /// Trade an enrollment code at HQ: `(hq_url, code, device_name)`.
    Enroll(String, String, Option<String>, Reply<()>),
    SyncNow,
    /// The background check found the file damaged: `(salvage generation it checked, what)`.
    Damaged(u64, String),
    /// Finish what came before, then stop.
    Shutdown,
}

/// The UI's handle on the core thread. Cheap to clone.
#[derive(Clone)]
pub struct Core {
    commands: mpsc::UnboundedSender<Command>,
    sync_status: watch::Receiver<SyncStatus>,
    config: watch::Receiver<KioskConfig>,
    store_alert: watch::Receiver<StoreAlert>,
    ratings: watch::Receiver<u64>,
}

/// Owns the core thread. Dropping it stops the thread once every command sent before is
/// finished, even while handles to the core are still held elsewhere.
pub struct CoreThread {
    handle: Option<JoinHandle<()>>,
    commands: mpsc::UnboundedSender<Command>,
}

impl Drop for CoreThread {
    fn drop(&mut self) {
        let _ = self.commands.send(Command::Shutdown);
        if let Some(handle) = self.handle.take() {
            let _ = handle.join();
        }
    }
}

/// The core's own state, shared by the command loop and the sync loop on one thread.
struct CoreState {
    store: Rc<RefCell<Store>>,
    repeats: RefCell<RepeatFilter>,
    wake: Rc<Wake>,
    /// The local configuration, before HQ's survey and the local settings.
    base: KioskConfig,
    config: Rc<watch::Sender<KioskConfig>>,
    store_alert: watch::Sender<StoreAlert>,
    sync_status: watch::Sender<SyncStatus>,
    /// Bumped by every rating and every rating's details saved.
    ratings: watch::Sender<u64>,
    /// Bumped by every salvage, so a check of the file before it is not acted on after.
    generation: Cell<u64>,
}

impl Core {
    /// Opens the store at `database` on a new core thread, and starts syncing if the kiosk
    /// is enrolled. Fails if the store cannot open.
    pub fn start(database: PathBuf, config: KioskConfig) -> Result<(Core, CoreThread), CoreError> {
        let (commands, inbox) = mpsc::unbounded_channel::<Command>();
        let (status_tx, sync_status) = watch::channel(SyncStatus::default());
        let (ratings_tx, ratings) = watch::channel(0);
        let (opened_tx, opened_rx) = std::sync::mpsc::channel();
        let to_core = commands.clone();
        let handle = std::thread::Builder::new()
            .name("countertop-core".into())
            .spawn(move || {
                let channels = (status_tx, ratings_tx);
                core_thread(database, config, inbox, to_core, channels, opened_tx)
            })
            .map_err(|e| CoreError::Start(e.to_string()))?;
        match opened_rx.recv() {
            Ok(Ok((config, store_alert))) => Ok((
                Core {
                    commands: commands.clone(),
                    sync_status,
                    config,
                    store_alert,
                    ratings,
                },
                CoreThread {
                    handle: Some(handle),
                    commands,
                },
            )),
            Ok(Err(e)) => {
                let _ = handle.join();
                Err(e)
            }
            Err(_) => Err(CoreError::Stopped),
        }
    }

    async fn ask<T>(&self, make: impl FnOnce(Reply<T>) -> Command) -> Result<T, CoreError> {
        let (reply, answer) = oneshot::channel();
        self.commands
            .send(make(reply))
            .map_err(|_| CoreError::Stopped)?;
        answer.await.map_err(|_| CoreError::Stopped)?
    }

    /// Checks a PIN typed on the staff pad against the stored hashes and the lockout,
    /// using the wall clock. The PIN is never logged.
    pub async fn check_pin(&self, pin: String) -> Result<PinCheck, CoreError> {
        self.ask(|reply| Command::CheckPin(pin, reply)).await
    }

    /// Records a tap; resolves once it is on disk.
    pub async fn rate(&self, tap: Tap) -> Result<Rated, CoreError> {
        let at = clock::tick();
        self.ask(|reply| Command::Rate(tap, at, reply)).await
    }

    /// Attaches reasons, a comment and an NPS answer to the rating `rating`.
    pub async fn attach_details(&self, rating: Uuid, details: Details) -> Result<(), CoreError> {
        self.ask(|reply| Command::AttachDetails(rating, details, reply))
            .await
    }

    /// Counts over `[from, to)`, suspected repeats left out.
    pub async fn summary(
        &self,
        from: DateTime<Utc>,
        to: DateTime<Utc>,
    ) -> Result<Summary, CoreError> {
        self.ask(|reply| Command::Summary(from, to, reply)).await
    }

    /// Runs `work` on the core thread and returns its answer.
    async fn job<T: Send + 'static>(
        &self,
        work: impl FnOnce(&CoreState) -> Result<T, CoreError> + Send + 'static,
    ) -> Result<T, CoreError> {
        self.ask(|reply| {
            Command::Job(Box::new(move |state: &CoreState| {
                let _ = reply.send(work(state));
            }))
        })
        .await
    }

    /// Up to `limit` regulars matching what was typed (name words or phone digits), most
    /// recently seen first; an empty query gives the most recently seen.
    pub async fn search_regulars(
        &self,
        query: String,
        limit: usize,
    ) -> Result<Vec<RegularCard>, CoreError> {
        self.job(move |s| Ok(s.store.borrow().search_regulars(&query, limit)?))
            .await
    }

    /// The regular with exactly this phone number, if any.
    pub async fn find_by_phone(&self, phone: String) -> Result<Option<RegularCard>, CoreError> {
        self.job(move |s| Ok(s.store.borrow().find_by_phone(&phone)?))
            .await
    }

    /// The record behind `phone`, opened only with its owner's code or a staff PIN: a
    /// phone number alone opens nothing. A staff PIN goes through the staff pad's own
    /// check, with its lockout.
    pub async fn open_own_record(
        &self,
        phone: String,
        proof: Proof,
    ) -> Result<OwnRecord, CoreError> {
        self.job(move |s| {
            let mut store = s.store.borrow_mut();
            let found = match proof {
                Proof::Code(code) => store.open_with_code(&phone, &code)?,
                Proof::StaffPin(pin) => match store.check_pin(&pin, Utc::now())? {
                    PinCheck::Granted(_) => store.find_by_phone(&phone)?,
                    // The default PINs prove nothing: anyone can read them in the manual.
                    PinCheck::FirstDay | PinCheck::FirstDayPending => {
                        return Ok(OwnRecord::StaffRefused { locked_for: None })
                    }
                    PinCheck::Wrong { locked_for } => {
                        return Ok(OwnRecord::StaffRefused { locked_for })
                    }
                    PinCheck::Locked { remaining } => {
                        return Ok(OwnRecord::StaffRefused {
                            locked_for: Some(remaining),
                        })
                    }
                },
            };
            Ok(found.map_or(OwnRecord::NoMatch, |card| OwnRecord::Opened(Box::new(card))))
        })
        .await
    }

    /// Creates (`id: None`) or edits a regular's profile; refused input comes back as
    /// [`CoreError::Invalid`].
    pub async fn save_regular(&self, edit: RegularEdit) -> Result<RegularCard, CoreError> {
        self.job(move |s| {
            let card = s
                .store
                .borrow_mut()
                .save_regular(&edit, clock::local_now())?;
            s.wake.new_rating.notify_one();
            Ok(card)
        })
        .await
    }

    /// Logs a visit by `regular`, with the rating given on it, if any (`unhappy` set for
    /// one of the two lowest faces).
    pub async fn log_visit(
        &self,
        regular: Uuid,
        rating: Option<(Uuid, bool)>,
    ) -> Result<(), CoreError> {
        self.job(move |s| {
            s.store
                .borrow_mut()
                .log_visit(regular, rating, clock::local_now())?;
            s.wake.new_rating.notify_one();
            Ok(())
        })
        .await
    }

    /// Forgets a regular on this kiosk now, and everywhere once synced.
    pub async fn erase_regular(&self, regular: Uuid) -> Result<(), CoreError> {
        self.job(move |s| {
            s.store
                .borrow_mut()
                .erase_regular(regular, clock::local_now())?;
            s.wake.new_rating.notify_one();
            Ok(())
        })
        .await
    }

    /// How many regulars this kiosk holds.
    pub async fn regular_count(&self) -> Result<u64, CoreError> {
        self.job(|s| Ok(s.store.borrow().regular_count()?)).await
    }

    /// Sets a staff role's PIN: 4 to 8 digits, not the other role's.
    pub async fn set_pin(&self, role: StaffRole, pin: String) -> Result<(), CoreError> {
        self.job(move |s| Ok(s.store.borrow_mut().set_pin(role, &pin)?))
            .await
    }

    /// Whether the default PINs have been replaced (see [`Core::complete_first_day`]).
    pub async fn first_day_done(&self) -> Result<bool, CoreError> {
        self.job(|s| Ok(s.store.borrow_mut().first_day_done()?))
            .await
    }

    /// The first day: sets the new manager and barista PINs at once (both hard to guess,
    /// and different), after which the barista's PIN opens the regulars.
    pub async fn complete_first_day(
        &self,
        manager: String,
        barista: String,
    ) -> Result<(), CoreError> {
        self.job(move |s| {
            Ok(s.store
                .borrow_mut()
                .complete_first_day(&manager, &barista)?)
        })
        .await
    }

    /// Writes ratings made in `[from, to)` to a CSV file; returns the number of rows.
    /// The kiosk's own `<data_dir>/exports` folder is made on first use (a USB stick's
    /// folder is the manager's to choose, and never made up).
    pub async fn export_csv(
        &self,
        path: PathBuf,
        from: DateTime<Utc>,
        to: DateTime<Utc>,
    ) -> Result<u64, CoreError> {
        self.job(move |s| {
            let exports = s.base.data_dir.join("exports");
            if path.parent() == Some(exports.as_path()) {
                if let Err(e) = std::fs::create_dir_all(&exports) {
                    tracing::warn!("cannot create {}: {e}", exports.display());
                }
            }
            Ok(s.store.borrow().export_csv(&path, from, to)?)
        })
        .await
    }

    /// Where today's CSV goes unless the manager types another path: the first USB stick
    /// mounted under `<media>/<user>/<stick>`, else `<data_dir>/exports`. Looking at a
    /// slow USB stick can take seconds, so it runs here, never on the UI thread.
    pub async fn default_export_path(
        &self,
        media: PathBuf,
        day: chrono::NaiveDate,
    ) -> Result<PathBuf, CoreError> {
        self.job(move |s| Ok(default_export_path(&media, &s.base.data_dir, day)))
            .await
    }

    /// Test hook: keeps the core thread busy until `release` answers or hangs up, as a
    /// slow USB stick or disk would.
    #[doc(hidden)]
    pub fn stall_until(&self, release: std::sync::mpsc::Receiver<()>) {
        let _ = self.commands.send(Command::Job(Box::new(move |_| {
            let _ = release.recv();
        })));
    }

    /// A count bumped by every rating (and its details) saved, to follow them live.
    pub fn rating_changes(&self) -> watch::Receiver<u64> {
        self.ratings.clone()
    }

    /// The manager's report over `[from, to)`.
    pub async fn day_report(
        &self,
        from: DateTime<Utc>,
        to: DateTime<Utc>,
    ) -> Result<DayReport, CoreError> {
        self.job(move |s| Ok(s.store.borrow().day_report(from, to)?))
            .await
    }

    /// Enrolls this kiosk at head office with a one-time code; sync starts at once.
    pub async fn enroll(
        &self,
        hq_url: String,
        code: String,
        device_name: Option<String>,
    ) -> Result<(), CoreError> {
        self.ask(|reply| Command::Enroll(hq_url, code, device_name, reply))
            .await
    }

    /// The kiosk's own settings.
    pub async fn settings(&self) -> Result<LocalSettings, CoreError> {
        self.job(|s| Ok(s.store.borrow().local_settings()?)).await
    }

    /// Saves the kiosk's own settings and applies them to [`Core::config`] at once.
    pub async fn save_settings(&self, settings: LocalSettings) -> Result<(), CoreError> {
        self.job(move |s| s.save_settings(&settings)).await
    }

    /// Trouble with the kiosk's storage, for the red mark and the manager's screen.
    pub fn store_alert(&self) -> watch::Receiver<StoreAlert> {
        self.store_alert.clone()
    }

    /// The manager has read what the salvage recovered: the red mark goes (unless the
    /// storage is also full).
    pub async fn dismiss_salvage(&self) -> Result<(), CoreError> {
        self.job(|s| {
            s.store.borrow_mut().dismiss_salvage_notice()?;
            s.store_alert.send_modify(|a| a.salvaged = None);
            Ok(())
        })
        .await
    }

    /// Wakes the sync loop now, even while it waits to retry.
    pub fn sync_now(&self) {
        let _ = self.commands.send(Command::SyncNow);
    }

    /// Sync's state, updated after every round.
    pub fn sync_status(&self) -> watch::Receiver<SyncStatus> {
        self.sync_status.clone()
    }

    /// The configuration in force: the local one, with HQ's survey once it has sent one.
    pub fn config(&self) -> watch::Receiver<KioskConfig> {
        self.config.clone()
    }
}

type Opened = Result<(watch::Receiver<KioskConfig>, watch::Receiver<StoreAlert>), CoreError>;

fn core_thread(
    database: PathBuf,
    config: KioskConfig,
    mut inbox: mpsc::UnboundedReceiver<Command>,
    to_core: mpsc::UnboundedSender<Command>,
    (status, ratings): (watch::Sender<SyncStatus>, watch::Sender<u64>),
    opened: std::sync::mpsc::Sender<Opened>,
) {
    let runtime = match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    {
        Ok(runtime) => runtime,
        Err(e) => {
            let _ = opened.send(Err(CoreError::Start(e.to_string())));
            return;
        }
    };
    // A damaged file is salvaged here rather than stopping the kiosk.
    let (store, salvaged) = match Store::open_or_salvage(&database, config.store.max_size_mb) {
        Ok(opened) => opened,
        Err(e) => {
            let _ = opened.send(Err(e.into()));
            return;
        }
    };
    let alert = StoreAlert {
        salvaged: store.salvage_notice().ok().flatten(),
        full: store.is_full().unwrap_or(false),
    };
    if alert.full {
        tracing::error!("the kiosk's storage is full at start; new ratings may not be saved");
    }
    let (alert_tx, alert_rx) = watch::channel(alert);
    // Damage away from what start-up reads shows only to a read of the whole file, which
    // runs beside the core (a fresh salvage needs none).
    if salvaged.is_none() {
        check_in_background(database.clone(), 0, to_core);
    }
    // A survey HQ sent before a restart, and the local settings, are in force from the
    // first screen.
    let in_force = sync::config_in_force(&config, &store);
    let (config_tx, config_rx) = watch::channel(in_force.clone());
    let config_tx = Rc::new(config_tx);
    let state = Rc::new(CoreState {
        store: Rc::new(RefCell::new(store)),
        repeats: RefCell::new(RepeatFilter::new(in_force.repeat_window())),
        wake: Rc::new(Wake::default()),
        base: config.clone(),
        config: config_tx.clone(),
        store_alert: alert_tx,
        sync_status: status,
        ratings,
        generation: Cell::new(0),
    });
    sync::publish(&state.store, &state.sync_status, None);
    let _ = opened.send(Ok((config_rx.clone(), alert_rx)));

    let local = tokio::task::LocalSet::new();
    let status = state.sync_status.clone();
    local.block_on(&runtime, async move {
        let sync = tokio::task::spawn_local(sync::run(
            state.store.clone(),
            state.wake.clone(),
            config,
            status,
            config_tx,
        ));
        let retention = tokio::task::spawn_local(keep_to_the_retention(
            state.store.clone(),
            state.wake.clone(),
        ));
        let mut config_rx = config_rx;
        loop {
            tokio::select! {
                command = inbox.recv() => match command {
                    None | Some(Command::Shutdown) => break,
                    Some(command) => handle_command(&state, command),
                },
                Ok(()) = config_rx.changed() => {
                    let window = config_rx.borrow_and_update().repeat_window();
                    state.repeats.borrow_mut().set_window(window);
                }
            }
        }
        sync.abort();
        retention.abort();
    });
}

/// Regulars are kept until 12 months after their last visit, as the consent text says: at
/// start and every six hours, those past it are erased, here and (by tombstone) everywhere.
async fn keep_to_the_retention(store: Rc<RefCell<Store>>, wake: Rc<Wake>) {
    loop {
        let erased = store.borrow_mut().erase_lapsed_regulars(clock::local_now());
        match erased {
            Ok(0) => {}
            Ok(n) => {
                tracing::info!("{n} regulars erased 12 months after their last visit");
                wake.new_rating.notify_one();
            }
            Err(e) => tracing::warn!("cannot erase regulars past their retention: {e}"),
        }
        tokio::time::sleep(std::time::Duration::from_secs(6 * 60 * 60)).await;
    }
}

/// Runs `PRAGMA quick_check` on its own thread and connection, and reports damage to the
/// core, which salvages. `generation`: the salvage count the check was started at.
fn check_in_background(
    database: PathBuf,
    generation: u64,
    to_core: mpsc::UnboundedSender<Command>,
) {
    let spawned = std::thread::Builder::new()
        .name("countertop-check".into())
        .spawn(move || match store::salvage::quick_check(&database) {
            Ok(None) => tracing::debug!("database check: ok"),
            Ok(Some(problem)) => {
                tracing::error!("database check found damage: {problem}");
                let _ = to_core.send(Command::Damaged(generation, problem));
            }
            Err(e) => tracing::warn!("could not check the database: {e}"),
        });
    if let Err(e) = spawned {
        tracing::warn!("could not start the database check: {e}");
    }
}

fn handle_command(state: &CoreState, command: Command) {
    match command {
        Command::Rate(tap, at, reply) => {
            let suspected_repeat = state.repeats.borrow_mut().is_repeat(at);
            let rating = NewRating {
                score: tap.score,
                touchpoint: tap.touchpoint,
                survey_version: tap.survey_version,
                suspected_repeat,
                at: clock::local_now(),
            };
            let result = state.write(|store| store.record_rating(&rating));
            match &result {
                Ok(_) => {
                    state.wake.new_rating.notify_one();
                    state.ratings.send_modify(|n| *n += 1);
                }
                Err(e) => tracing::error!("a rating could not be saved: {e}"),
            }
            let _ = reply.send(
                result
                    .map(|recorded| Rated {
                        recorded,
                        suspected_repeat,
                    })
                    .map_err(CoreError::from),
            );
        }
        Command::AttachDetails(rating, details, reply) => {
            let at = clock::local_now();
            let result = state.write(|store| store.attach_details(rating, &details, at));
            match &result {
                Ok(()) => {
                    state.wake.new_rating.notify_one();
                    state.ratings.send_modify(|n| *n += 1);
                }
                Err(e) => tracing::error!("reasons for a rating could not be saved: {e}"),
            }
            let _ = reply.send(result.map_err(CoreError::from));
        }
        Command::Summary(from, to, reply) => {
            let _ = reply.send(
                state
                    .store
                    .borrow()
                    .summary(from, to)
                    .map_err(CoreError::from),
            );
        }
        Command::CheckPin(pin, reply) => {
            let result = state.store.borrow_mut().check_pin(&pin, Utc::now());
            if let Err(e) = &result {
                tracing::error!("a staff PIN could not be checked: {e}");
            }
            let _ = reply.send(result.map_err(CoreError::from));
        }
        Command::Job(job) => job(state),
        Command::Enroll(hq_url, code, device_name, reply) => {
            let store = state.store.clone();
            let wake = state.wake.clone();
            let ca_file = state.base.sync.ca_file.clone();
            tokio::task::spawn_local(async move {
                let result = enroll(&store, &hq_url, ca_file.as_deref(), &code, device_name).await;
                if result.is_ok() {
                    wake.sync_now.notify_one();
                }
                let _ = reply.send(result);
            });
        }
        Command::SyncNow => state.wake.sync_now.notify_one(),
        Command::Damaged(generation, problem) => {
            if generation == state.generation.get() {
                let _ = state.salvage(&problem);
            }
        }
        Command::Shutdown => {}
    }
}

/// Enrolls at HQ with a one-time code and saves the link; sync starts over with it.
async fn enroll(
    store: &Rc<RefCell<Store>>,
    hq_url: &str,
    ca_file: Option<&std::path::Path>,
    code: &str,
    device_name: Option<String>,
) -> Result<(), CoreError> {
    if hq_url.trim().is_empty() || code.trim().is_empty() {
        return Err(CoreError::Refused(Refusal::EnrollIncomplete));
    }
    let client = HqClient::new(hq_url.trim(), ca_file)?;
    let link = client.enroll(code, device_name).await?;
    store.borrow_mut().set_hq_link(&link)?;
    tracing::info!(
        "enrolled at {} as device {} of store {}",
        link.hq_url,
        link.device_id,
        link.store_id
    );
    Ok(())
}

/// Where the CSV goes unless the manager types another path: the first USB stick
/// mounted under `media/<user>/<stick>`, else `<data_dir>/exports`.
pub fn default_export_path(
    media: &std::path::Path,
    data_dir: &std::path::Path,
    day: chrono::NaiveDate,
) -> PathBuf {
    let file = format!("ratings-{}.csv", day.format("%Y-%m-%d"));
    let mut sticks: Vec<PathBuf> = std::fs::read_dir(media)
        .into_iter()
        .flatten()
        .flatten()
        .filter(|user| user.path().is_dir())
        .flat_map(|user| {
            std::fs::read_dir(user.path())
                .into_iter()
                .flatten()
                .flatten()
        })
        .map(|stick| stick.path())
        .filter(|path| path.is_dir())
        .collect();
    sticks.sort();
    match sticks.first() {
        Some(stick) => stick.join(file),
        None => data_dir.join("exports").join(file),
    }
}

/// Refuses local settings the kiosk could not run with, as kinds the manager's screen words.
fn check_settings(settings: &LocalSettings, config: &KioskConfig) -> Result<(), CoreError> {
    if let Some(lang) = &settings.default_language {
        if !config.languages.available.contains(lang) {
            return Err(CoreError::Refused(Refusal::LanguageNotOffered(
                lang.clone(),
            )));
        }
    }
    if let Some(idle) = settings.idle_secs {
        if !idle.is_finite() || !crate::config::IDLE_SECS.contains(&idle) {
            return Err(CoreError::Refused(Refusal::IdleOutOfRange));
        }
    }
    Ok(())
}

impl CoreState {
    /// A write to the store. One that finds the file damaged salvages it and is tried
    /// once more on the fresh database, so the tap still counts. A write that fails for
    /// want of space raises the full-storage alert; one that succeeds re-checks it.
    fn write<T>(
        &self,
        mut op: impl FnMut(&mut Store) -> Result<T, StoreError>,
    ) -> Result<T, StoreError> {
        let mut result = op(&mut self.store.borrow_mut());
        if let Err(e) = &result {
            if store::is_damage(e) && self.salvage(&e.to_string()).is_ok() {
                result = op(&mut self.store.borrow_mut());
            }
        }
        let full = match &result {
            Ok(_) => self.store.borrow().is_full().unwrap_or(false),
            Err(e) => store::is_full_error(e),
        };
        self.store_alert.send_if_modified(|a| {
            let changed = a.full != full;
            a.full = full;
            changed
        });
        result
    }

    /// Salvages the damaged store in place and tells staff and the manager's screen.
    fn salvage(&self, cause: &str) -> Result<(), StoreError> {
        self.generation.set(self.generation.get() + 1);
        let report = self.store.borrow_mut().salvage_in_place(cause);
        match report {
            Ok(report) => {
                self.store_alert.send_modify(|a| a.salvaged = Some(report));
                sync::publish(&self.store, &self.sync_status, None);
                self.wake.sync_now.notify_one();
                Ok(())
            }
            Err(e) => {
                tracing::error!("the damaged database could not be salvaged: {e}");
                Err(e)
            }
        }
    }

    /// Saves the local settings and puts them in force at once.
    fn save_settings(&self, settings: &LocalSettings) -> Result<(), CoreError> {
        let without_local = sync::config_in_force(&self.base, &self.store.borrow())
            .with_local_settings(&LocalSettings::default());
        check_settings(settings, &without_local)?;
        self.store.borrow_mut().set_local_settings(settings)?;
        let in_force = sync::config_in_force(&self.base, &self.store.borrow());
        self.config.send_replace(in_force);
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::StaffRole;

    #[test]
    fn pins_are_checked_on_the_core_thread_and_wrong_ones_count_towards_a_lockout() {
        let dir = tempfile::tempdir().unwrap();
        let (core, _thread) =
            Core::start(dir.path().join("kiosk.db"), KioskConfig::default()).unwrap();
        let runtime = tokio::runtime::Builder::new_current_thread()
            .build()
            .unwrap();
        runtime.block_on(async {
            assert_eq!(
                core.check_pin("1234".into()).await.unwrap(),
                PinCheck::FirstDay
            );
            for _ in 0..2 {
                assert_eq!(
                    core.check_pin("1111".into()).await.unwrap(),
                    PinCheck::Wrong { locked_for: None }
                );
            }
            assert_eq!(
                core.check_pin("1111".into()).await.unwrap(),
                PinCheck::Wrong {
                    locked_for: Some(std::time::Duration::from_secs(30))
                }
            );
            assert!(matches!(
                core.check_pin("1234".into()).await.unwrap(),
                PinCheck::Locked { .. }
            ));
        });
    }

    fn started() -> (tempfile::TempDir, Core, CoreThread, tokio::runtime::Runtime) {
        let dir = tempfile::tempdir().unwrap();
        let (core, thread) =
            Core::start(dir.path().join("kiosk.db"), KioskConfig::default()).unwrap();
        let runtime = tokio::runtime::Builder::new_current_thread()
            .build()
            .unwrap();
        (dir, core, thread, runtime)
    }

    fn edit(name: &str, phone: Option<&str>) -> RegularEdit {
        RegularEdit {
            id: None,
            name: name.into(),
            phone: phone.map(Into::into),
            usual: Default::default(),
            dietary: None,
            consent_version: 1,
            dietary_consent: false,
            code: None,
        }
    }

    #[test]
    fn regulars_are_saved_found_visited_and_erased_through_the_core() {
        let (_dir, core, _thread, runtime) = started();
        runtime.block_on(async {
            let lan = core
                .save_regular(edit("Nguyễn Lan", Some("0901 234 567")))
                .await
                .unwrap();
            core.save_regular(edit("Trần Mai", None)).await.unwrap();
            assert_eq!(core.regular_count().await.unwrap(), 2);
            let found = core.search_regulars("nguyen".into(), 10).await.unwrap();
            assert_eq!(found.len(), 1);
            assert_eq!(found[0].regular.id(), lan.regular.id());
            let by_phone = core.find_by_phone("0901234567".into()).await.unwrap();
            assert_eq!(by_phone.map(|c| c.regular.id()), Some(lan.regular.id()));
            core.log_visit(lan.regular.id(), Some((Uuid::now_v7(), true)))
                .await
                .unwrap();
            let card = &core.search_regulars("".into(), 1).await.unwrap()[0];
            assert_eq!(card.visit_count, 1);
            assert!(card.last_rating_unhappy);
            assert!(!format!("{card:?}").contains("Lan"), "Debug hides the name");
            core.erase_regular(lan.regular.id()).await.unwrap();
            assert_eq!(core.regular_count().await.unwrap(), 1);
            assert!(core
                .search_regulars("0901".into(), 10)
                .await
                .unwrap()
                .is_empty());
        });
    }

    #[test]
    fn refused_input_comes_back_as_invalid_with_a_plain_message() {
        let (dir, core, _thread, runtime) = started();
        runtime.block_on(async {
            let invalid = |r: Result<(), CoreError>| match r {
                Err(CoreError::Invalid(m)) => m,
                Err(CoreError::Refused(r)) => r.to_string(),
                other => panic!("expected Invalid or Refused, got {other:?}"),
            };
            let m = invalid(core.save_regular(edit(" ", None)).await.map(|_| ()));
            assert_eq!(m, "a regular needs a name or nickname");
            let m = invalid(core.set_pin(StaffRole::Manager, "12".into()).await);
            assert_eq!(m, "a PIN has 4 to 8 digits");
            core.complete_first_day("4826".into(), "1357".into())
                .await
                .unwrap();
            assert_eq!(
                core.check_pin("4826".into()).await.unwrap(),
                PinCheck::Granted(StaffRole::Manager)
            );
            let m = invalid(core.log_visit(Uuid::now_v7(), None).await);
            assert!(m.contains("no longer"), "{m}");
            let m = invalid(
                core.enroll("http://127.0.0.1:9".into(), " ".into(), None)
                    .await,
            );
            assert!(m.contains("enrollment code"), "{m}");
            let m = invalid(core.enroll("ftp://hq".into(), "abc".into(), None).await);
            assert!(m.contains("not an HQ address"), "{m}");
            let unreachable = core
                .enroll("http://127.0.0.1:9".into(), "abc".into(), None)
                .await;
            assert!(
                matches!(unreachable, Err(CoreError::Hq(_))),
                "{unreachable:?}"
            );
            let now = Utc::now();
            let m = invalid(
                core.export_csv(dir.path().join("missing/x.csv"), now, now)
                    .await
                    .map(|_| ()),
            );
            assert!(m.contains("does not exist"), "{m}");
            let m = invalid(
                core.save_settings(LocalSettings {
                    default_language: Some("fr".into()),
                    ..Default::default()
                })
                .await,
            );
            assert!(m.contains("\"fr\" is not offered"), "{m}");
            let m = invalid(
                core.save_settings(LocalSettings {
                    idle_secs: Some(1.0),
                    ..Default::default()
                })
                .await,
            );
            assert!(m.contains("idle time"), "{m}");
            let refused = core
                .save_settings(LocalSettings {
                    idle_secs: Some(*crate::config::IDLE_SECS.end() + 1.0),
                    ..Default::default()
                })
                .await;
            assert!(
                matches!(refused, Err(CoreError::Refused(Refusal::IdleOutOfRange))),
                "{refused:?}"
            );
        });
    }

    #[test]
    fn local_settings_are_kept_and_put_in_force_at_once_and_after_a_restart() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("kiosk.db");
        let runtime = tokio::runtime::Builder::new_current_thread()
            .build()
            .unwrap();
        let settings = LocalSettings {
            default_language: Some("vi".into()),
            idle_secs: Some(42.0),
            remember_me: Some(false),
        };
        {
            let (core, _thread) = Core::start(path.clone(), KioskConfig::default()).unwrap();
            let config = core.config();
            runtime.block_on(async {
                assert_eq!(core.settings().await.unwrap(), LocalSettings::default());
                core.save_settings(settings.clone()).await.unwrap();
                assert_eq!(core.settings().await.unwrap(), settings);
            });
            let now = config.borrow().clone();
            assert_eq!(now.languages.default, "vi");
            assert_eq!(now.timeouts.idle_secs, 42.0);
            assert!(!now.survey.remember_me.enabled);
        }
        let (core, _thread) = Core::start(path, KioskConfig::default()).unwrap();
        let restarted = core.config().borrow().clone();
        assert_eq!(restarted.languages.default, "vi");
        assert_eq!(restarted.timeouts.idle_secs, 42.0);
    }

    #[test]
    fn the_day_report_and_export_run_through_the_core() {
        let (dir, core, _thread, runtime) = started();
        runtime.block_on(async {
            let tap = Tap {
                score: Score::new(2, crate::feedback::Scale::FIVE).unwrap(),
                touchpoint: countertop_protocol::Touchpoint::new("visit").unwrap(),
                survey_version: 1,
            };
            core.rate(tap).await.unwrap();
            let from = Utc::now() - chrono::Duration::hours(1);
            let to = Utc::now() + chrono::Duration::hours(1);
            let report = core.day_report(from, to).await.unwrap();
            assert_eq!(report.summary.count, 1);
            assert_eq!(report.by_hour.iter().sum::<u64>(), 1);
            let path = dir.path().join("ratings.csv");
            assert_eq!(core.export_csv(path.clone(), from, to).await.unwrap(), 1);
            assert!(std::fs::read_to_string(path)
                .unwrap()
                .contains(",visit,5,2,"));
        });
    }

    #[test]
    fn export_defaults_to_the_first_usb_stick_else_the_data_dir() {
        let day = chrono::NaiveDate::from_ymd_opt(2026, 11, 23).unwrap();
        let media = tempfile::tempdir().unwrap();
        let data = std::path::Path::new("/var/lib/countertop");
        assert_eq!(
            default_export_path(media.path(), data, day),
            data.join("exports/ratings-2026-11-23.csv")
        );
        std::fs::create_dir_all(media.path().join("pi/ZSTICK")).unwrap();
        std::fs::create_dir_all(media.path().join("pi/KINGSTON")).unwrap();
        std::fs::write(media.path().join("pi/notes.txt"), "").unwrap();
        assert_eq!(
            default_export_path(media.path(), data, day),
            media.path().join("pi/KINGSTON/ratings-2026-11-23.csv")
        );
    }

    #[test]
    fn every_saved_rating_and_its_details_bump_the_rating_changes() {
        let (_dir, core, _thread, runtime) = started();
        let changes = core.rating_changes();
        let before = *changes.borrow();
        runtime.block_on(async {
            let tap = Tap {
                score: Score::new(4, crate::feedback::Scale::FIVE).unwrap(),
                touchpoint: countertop_protocol::Touchpoint::new("visit").unwrap(),
                survey_version: 1,
            };
            let rated = core.rate(tap).await.unwrap();
            assert_eq!(*changes.borrow(), before + 1);
            core.attach_details(rated.recorded.id, Details::default())
                .await
                .unwrap();
            assert_eq!(*changes.borrow(), before + 2);
        });
    }
}
