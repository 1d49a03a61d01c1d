//! The core thread: it owns the store and the sync loop on a tokio runtime of its own, so
//! the UI thread never waits on a disk or a network.
//!
//! The UI sends [`Command`]s over a channel and awaits the answer on a oneshot; a tap is
//! answered only once its rating is committed to disk. Sync state and survey changes
//! from head office flow back on watch channels.

use std::cell::RefCell;
use std::path::PathBuf;
use std::rc::Rc;
use std::thread::JoinHandle;
use std::time::Instant;

use chrono::{DateTime, Utc};
use tokio::sync::{mpsc, oneshot, watch};
use uuid::Uuid;

use crate::clock;
use crate::config::KioskConfig;
use crate::feedback::{Details, RepeatFilter, Score};
use crate::store::{NewRating, PinCheck, RecordedRating, Store, StoreError, Summary};
use crate::sync::{self, SyncStatus, Wake};

/// What went wrong on the core thread, as the UI sees it.
#[derive(Debug, thiserror::Error)]
pub enum CoreError {
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("the kiosk core has stopped")]
    Stopped,
    #[error("cannot start the kiosk core: {0}")]
    Start(String),
}

/// A tap as the UI reports it: the score, and the survey it was given under.
#[derive(Debug, Clone)]
pub struct Tap {
    pub score: Score,
    pub touchpoint: String,
    pub survey_version: u32,
}

/// A rating once committed, with whether it was flagged as a suspected repeat.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Rated {
    pub recorded: RecordedRating,
    pub suspected_repeat: bool,
}

type Reply<T> = oneshot::Sender<Result<T, CoreError>>;

enum Command {
    Rate(Tap, Instant, Reply<Rated>),
    AttachDetails(Uuid, Details, Reply<()>),
    Summary(DateTime<Utc>, DateTime<Utc>, Reply<Summary>),
    /// A PIN typed on the staff pad. Hashing is slow on purpose, so it runs here.
    CheckPin(String, Reply<PinCheck>),
    SyncNow,
    /// Finish what came before, then stop.
    Shutdown,
}

/// The UI's handle on the core thread. Cheap to clone.
#[derive(Clone)]
pub struct Core {
    commands: mpsc::UnboundedSender<Command>,
    sync_status: watch::Receiver<SyncStatus>,
    config: watch::Receiver<KioskConfig>,
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
}

impl Core {
    /// Opens the store at `database` on a new core thread, and starts syncing if the kiosk
    /// is enrolled. Fails if the store cannot open.
    pub fn start(database: PathBuf, config: KioskConfig) -> Result<(Core, CoreThread), CoreError> {
        let (commands, inbox) = mpsc::unbounded_channel::<Command>();
        let (status_tx, sync_status) = watch::channel(SyncStatus::default());
        let (opened_tx, opened_rx) = std::sync::mpsc::channel();
        let handle = std::thread::Builder::new()
            .name("countertop-core".into())
            .spawn(move || core_thread(database, config, inbox, status_tx, opened_tx))
            .map_err(|e| CoreError::Start(e.to_string()))?;
        match opened_rx.recv() {
            Ok(Ok(config)) => Ok((
                Core {
                    commands: commands.clone(),
                    sync_status,
                    config,
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
        let at = Instant::now();
        self.ask(|reply| Command::Rate(tap, at, reply)).await
    }

    /// Attaches reasons and a comment to the rating `rating`.
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

type Opened = Result<watch::Receiver<KioskConfig>, CoreError>;

fn core_thread(
    database: PathBuf,
    config: KioskConfig,
    mut inbox: mpsc::UnboundedReceiver<Command>,
    status: watch::Sender<SyncStatus>,
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
    let store = match Store::open_capped(&database, config.store.max_size_mb) {
        Ok(store) => store,
        Err(e) => {
            let _ = opened.send(Err(e.into()));
            return;
        }
    };
    // A survey HQ sent before a restart is in force from the first screen.
    let in_force = match store.hq_survey() {
        Ok(Some(json)) => match serde_json::from_str(&json) {
            Ok(hq) => config.with_hq_survey(&hq),
            Err(e) => {
                tracing::warn!("ignoring the stored HQ survey: {e}");
                config.clone()
            }
        },
        _ => config.clone(),
    };
    let (config_tx, config_rx) = watch::channel(in_force.clone());
    let state = Rc::new(CoreState {
        store: Rc::new(RefCell::new(store)),
        repeats: RefCell::new(RepeatFilter::new(in_force.repeat_window())),
        wake: Rc::new(Wake::default()),
    });
    sync::publish(&state.store, &status, false);
    let _ = opened.send(Ok(config_rx.clone()));

    let local = tokio::task::LocalSet::new();
    local.block_on(&runtime, async move {
        let sync = tokio::task::spawn_local(sync::run(
            state.store.clone(),
            state.wake.clone(),
            config,
            status,
            config_tx,
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
    });
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
            let result = state.store.borrow_mut().record_rating(&rating);
            match &result {
                Ok(_) => state.wake.new_rating.notify_one(),
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
            let result =
                state
                    .store
                    .borrow_mut()
                    .attach_details(rating, &details, clock::local_now());
            match &result {
                Ok(()) => state.wake.new_rating.notify_one(),
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
        Command::SyncNow => state.wake.sync_now.notify_one(),
        Command::Shutdown => {}
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
                PinCheck::Granted(StaffRole::Manager)
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
}
