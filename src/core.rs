//! The core thread: it owns the store (and, later, the sync loop) on a tokio runtime of its
//! own, so the UI thread never waits on a disk or a network.
//!
//! The UI sends [`Command`]s over a channel and awaits the answer on a oneshot; a tap is
//! answered only once its rating is committed to disk.

use std::path::PathBuf;
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use chrono::{DateTime, FixedOffset};
use tokio::sync::{mpsc, oneshot};
use uuid::Uuid;

use crate::feedback::{Details, RepeatFilter, Score};
use crate::store::{NewRating, RecordedRating, Store, StoreError, Summary};

/// What went wrong on the core thread, as the UI sees it.
#[derive(Debug, thiserror::Error)]
pub enum CoreError {
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("the kiosk core has stopped")]
    Stopped,
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
    Summary(DateTime<chrono::Utc>, DateTime<chrono::Utc>, Reply<Summary>),
    SetRepeatWindow(Duration),
    /// Finish what came before, then stop.
    Shutdown,
}

/// The UI's handle on the core thread. Cheap to clone.
#[derive(Clone)]
pub struct Core {
    commands: mpsc::UnboundedSender<Command>,
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

impl Core {
    /// Opens the store at `database` on a new core thread. Fails if the store cannot open.
    pub fn start(
        database: PathBuf,
        repeat_window: Duration,
    ) -> Result<(Core, CoreThread), CoreError> {
        let (commands, mut inbox) = mpsc::unbounded_channel::<Command>();
        let (opened_tx, opened_rx) = std::sync::mpsc::channel();
        let handle = std::thread::Builder::new()
            .name("countertop-core".into())
            .spawn(move || {
                let mut store = match Store::open(&database) {
                    Ok(store) => {
                        let _ = opened_tx.send(Ok(()));
                        store
                    }
                    Err(e) => {
                        let _ = opened_tx.send(Err(e));
                        return;
                    }
                };
                let runtime = match tokio::runtime::Builder::new_current_thread()
                    .enable_all()
                    .build()
                {
                    Ok(runtime) => runtime,
                    Err(e) => {
                        tracing::error!("cannot start the core runtime: {e}");
                        return;
                    }
                };
                let mut repeats = RepeatFilter::new(repeat_window);
                runtime.block_on(async move {
                    while let Some(command) = inbox.recv().await {
                        if let Command::Shutdown = command {
                            break;
                        }
                        handle_command(&mut store, &mut repeats, command);
                    }
                });
            })
            .map_err(|e| {
                CoreError::Store(StoreError::Io {
                    path: PathBuf::from("countertop-core thread"),
                    source: e,
                })
            })?;
        match opened_rx.recv() {
            Ok(Ok(())) => Ok((
                Core {
                    commands: commands.clone(),
                },
                CoreThread {
                    handle: Some(handle),
                    commands,
                },
            )),
            Ok(Err(e)) => {
                let _ = handle.join();
                Err(e.into())
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
        from: DateTime<chrono::Utc>,
        to: DateTime<chrono::Utc>,
    ) -> Result<Summary, CoreError> {
        self.ask(|reply| Command::Summary(from, to, reply)).await
    }

    /// Changes how soon a second rating counts as a suspected repeat.
    pub fn set_repeat_window(&self, window: Duration) {
        let _ = self.commands.send(Command::SetRepeatWindow(window));
    }
}

fn local_now() -> DateTime<FixedOffset> {
    chrono::Local::now().fixed_offset()
}

fn handle_command(store: &mut Store, repeats: &mut RepeatFilter, command: Command) {
    match command {
        Command::Rate(tap, at, reply) => {
            let suspected_repeat = repeats.is_repeat(at);
            let rating = NewRating {
                score: tap.score,
                touchpoint: tap.touchpoint,
                survey_version: tap.survey_version,
                suspected_repeat,
                at: local_now(),
            };
            let result = store.record_rating(&rating).map(|recorded| Rated {
                recorded,
                suspected_repeat,
            });
            if let Err(e) = &result {
                tracing::error!("a rating could not be saved: {e}");
            }
            let _ = reply.send(result.map_err(CoreError::from));
        }
        Command::AttachDetails(rating, details, reply) => {
            let result = store.attach_details(rating, &details, local_now());
            if let Err(e) = &result {
                tracing::error!("reasons for a rating could not be saved: {e}");
            }
            let _ = reply.send(result.map_err(CoreError::from));
        }
        Command::Summary(from, to, reply) => {
            let _ = reply.send(store.summary(from, to).map_err(CoreError::from));
        }
        Command::SetRepeatWindow(window) => repeats.set_window(window),
        Command::Shutdown => {}
    }
}
