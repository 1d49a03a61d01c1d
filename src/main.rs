//! `countertop`: the kiosk binary. Parses the command line and hands over; no logic here.

use std::path::PathBuf;

use anyhow::{Context, Result};
use clap::{Parser, Subcommand};
use slint::ComponentHandle;

use countertop::config::KioskConfig;
use countertop::core::Core;
use countertop::ui::{headless, App};

/// Countertop: an in-store feedback terminal that remembers regulars.
#[derive(Parser)]
#[command(version, about, long_about = None)]
struct Cli {
    /// The kiosk configuration file (see kiosk.example.toml). Without it, the built-in
    /// defaults run the "Corner Coffee" demo.
    #[arg(long, global = true, env = "COUNTERTOP_CONFIG")]
    config: Option<PathBuf>,

    /// The directory holding the local database; overrides `data_dir` in the config.
    #[arg(long, global = true, env = "COUNTERTOP_DATA")]
    data: Option<PathBuf>,

    #[command(subcommand)]
    command: Option<Command>,
}

#[derive(Subcommand)]
enum Command {
    /// Open the kiosk window (the default).
    Run {
        /// Fill the screen, as on a counter.
        #[arg(long)]
        fullscreen: bool,
        /// Window size, such as 1280x800; overrides the config.
        #[arg(long, value_parser = parse_size)]
        size: Option<(u32, u32)>,
    },
    /// Write a PNG of every screen at every supported size, with no display needed.
    Screenshots {
        /// Where to write the PNG files.
        #[arg(long)]
        out: PathBuf,
        /// Only this language (such as en or vi); all configured languages by default.
        #[arg(long)]
        lang: Option<String>,
    },
    /// Enroll this kiosk at head office with a one-time code from `countertop-hq enroll-code`.
    Enroll {
        /// HQ's address, such as http://hq.example:8080.
        #[arg(long)]
        hq: String,
        /// The one-time enrollment code.
        #[arg(long)]
        code: String,
        /// A name for this kiosk that the manager will recognise, such as "counter left".
        #[arg(long)]
        name: Option<String>,
    },
    /// A headless kiosk for tests and load: records N ratings through the same core as a
    /// tap, syncs until the queue is empty, and exits 0.
    Simulate {
        /// HQ's address; needed with --enroll, otherwise the enrolled one is used.
        #[arg(long)]
        hq: Option<String>,
        /// Enroll first with this one-time code (skipped if already enrolled).
        #[arg(long)]
        enroll: Option<String>,
        /// How many ratings to record before syncing.
        #[arg(long, default_value_t = 0)]
        ratings: u64,
        /// Give up with exit code 1 if the queue is not empty after this many seconds
        /// (0: wait for ever).
        #[arg(long, default_value_t = 0)]
        timeout: u64,
        /// Pace the ratings this many seconds apart, syncing meanwhile, as a real
        /// counter would (0: as fast as they commit).
        #[arg(long, default_value_t = 0.0)]
        every: f64,
    },
    /// Print the udev rule that turns the touchscreen with the picture (`[display] rotation`);
    /// countertop.service installs it in /etc/udev/rules.d before each start.
    TouchRules,
    /// Open the store, render one frame off screen, and exit: for start-up benchmarks.
    #[command(hide = true)]
    FirstFrame {
        #[arg(long, value_parser = parse_size, default_value = "1280x800")]
        size: (u32, u32),
    },
    /// Record ratings through the core, printing each id once it is committed: for the
    /// durability test and benchmarks.
    #[command(hide = true)]
    RecordRatings {
        #[arg(long, default_value_t = u64::MAX)]
        count: u64,
    },
}

fn parse_size(s: &str) -> Result<(u32, u32), String> {
    let (w, h) = s
        .split_once('x')
        .ok_or_else(|| format!("expected WIDTHxHEIGHT, such as 800x480, not {s:?}"))?;
    let parse = |v: &str| {
        v.parse::<u32>()
            .map_err(|_| format!("{v:?} in {s:?} is not a number of pixels"))
    };
    Ok((parse(w)?, parse(h)?))
}

fn main() -> Result<()> {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_env("COUNTERTOP_LOG")
                .unwrap_or_else(|_| "countertop=info".into()),
        )
        .with_writer(std::io::stderr)
        .init();
    let cli = Cli::parse();
    let mut config = KioskConfig::load(cli.config.as_deref())?;
    if let Some(data) = cli.data {
        config.data_dir = data;
    }
    let command = cli.command.unwrap_or(Command::Run {
        fullscreen: false,
        size: None,
    });
    // Every command that runs a kiosk holds the data directory for its lifetime: a second
    // kiosk on the same directory is refused, naming the first. `enroll` is one short
    // write that SQLite serialises with the running kiosk's (whose sync takes the new
    // enrollment on its next round), so it may run beside the service.
    let doing = match &command {
        Command::Screenshots { .. } | Command::TouchRules | Command::Enroll { .. } => None,
        Command::Run { .. } => Some("run"),
        Command::Simulate { .. } => Some("simulate"),
        Command::FirstFrame { .. } => Some("first-frame"),
        Command::RecordRatings { .. } => Some("record-ratings"),
    };
    let _lock = match doing {
        Some(doing) => Some(countertop::store::DataDirLock::acquire(
            &config.data_dir,
            &format!("countertop {doing}"),
        )?),
        None => None,
    };
    match command {
        Command::Run { fullscreen, size } => {
            if let Some((w, h)) = size {
                config.window.width = w;
                config.window.height = h;
            }
            config.window.fullscreen |= fullscreen;
            run(config)
        }
        Command::Screenshots { out, lang } => {
            let languages = match lang {
                Some(lang) => vec![lang],
                None => config.languages.available.clone(),
            };
            let written = headless::screenshots(&config, &out, &languages)?;
            println!("wrote {} screenshots to {}", written.len(), out.display());
            Ok(())
        }
        Command::Enroll { hq, code, name } => enroll(&config, &hq, &code, name),
        Command::Simulate {
            hq,
            enroll: code,
            ratings,
            timeout,
            every,
        } => simulate(config, hq, code, ratings, timeout, every),
        Command::TouchRules => {
            print!(
                "{}",
                countertop::display::touch_udev_rules(&config.display, cli.config.as_deref())
            );
            Ok(())
        }
        Command::FirstFrame { size } => first_frame(config, size),
        Command::RecordRatings { count } => record_ratings(config, count),
    }
}

fn start_core(config: &KioskConfig) -> Result<(Core, countertop::core::CoreThread)> {
    let database = config.database_path();
    Core::start(database.clone(), config.clone())
        .with_context(|| format!("cannot open the kiosk database {}", database.display()))
}

fn run(config: KioskConfig) -> Result<()> {
    // Before any thread starts: Slint's linuxkms backend reads these from the environment.
    countertop::display::apply_to_environment(&config.display);
    let (core, _core_thread) = start_core(&config)?;
    tracing::info!(
        "kiosk started; database {}",
        config.database_path().display()
    );
    let app = App::new().context("cannot open the kiosk window (is a display available?)")?;
    app.window().set_size(slint::LogicalSize::new(
        config.window.width as f32,
        config.window.height as f32,
    ));
    app.window().set_fullscreen(config.window.fullscreen);
    let _flows = countertop::ui::install(&app, core);
    let _watchdog = countertop::ui::watchdog::start();
    app.run().context("the kiosk window closed with an error")?;
    Ok(())
}

fn enroll(config: &KioskConfig, hq: &str, code: &str, name: Option<String>) -> Result<()> {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    let link = runtime.block_on(async {
        let client = countertop::sync::client::HqClient::new(hq, config.sync.ca_file.as_deref())?;
        client.enroll(code, name).await
    })?;
    let database = config.database_path();
    let mut store = countertop::store::Store::open(&database)
        .with_context(|| format!("cannot open the kiosk database {}", database.display()))?;
    store.set_hq_link(&link)?;
    println!("{}", link.device_id);
    eprintln!(
        "enrolled at {} as device {} of store {}",
        link.hq_url, link.device_id, link.store_id
    );
    Ok(())
}

fn simulate(
    config: KioskConfig,
    hq: Option<String>,
    code: Option<String>,
    ratings: u64,
    timeout: u64,
    every: f64,
) -> Result<()> {
    use countertop::core::Tap;
    use countertop::feedback::Score;

    if let Some(code) = code {
        let enrolled = countertop::store::Store::open(&config.database_path())?
            .hq_link()?
            .is_some();
        if !enrolled {
            let hq = hq.as_deref().context("--enroll needs --hq URL")?;
            enroll(&config, hq, &code, Some("simulator".into()))?;
        }
    }
    let (core, _core_thread) = start_core(&config)?;
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    runtime.block_on(async {
        for i in 0..ratings {
            let survey = core.config().borrow().survey.clone();
            let score = Score::new(
                (i % u64::from(survey.scale.faces()) + 1) as i64,
                survey.scale,
            )?;
            core.rate(Tap {
                score,
                touchpoint: survey.touchpoint.clone(),
                survey_version: survey.version,
            })
            .await?;
            if every > 0.0 {
                tokio::time::sleep(std::time::Duration::from_secs_f64(every)).await;
            }
        }
        // Only a report published after the last rating was recorded counts.
        let mut status = core.sync_status();
        status.borrow_and_update();
        core.sync_now();
        let deadline = (timeout > 0)
            .then(|| tokio::time::Instant::now() + std::time::Duration::from_secs(timeout));
        loop {
            let changed = status.changed();
            match deadline {
                Some(deadline) => tokio::time::timeout_at(deadline, changed)
                    .await
                    .map_err(|_| anyhow::anyhow!("the queue did not empty within {timeout} s"))??,
                None => changed.await?,
            }
            let now = status.borrow_and_update();
            if !now.enrolled {
                anyhow::bail!("this kiosk is not enrolled: pass --hq URL --enroll CODE");
            }
            if now.pending == 0 && !now.retrying {
                println!(
                    "synced; {} quarantined{}",
                    now.quarantined,
                    now.clock_offset_ms
                        .map(|ms| format!(", clock offset {ms} ms"))
                        .unwrap_or_default()
                );
                return Ok(());
            }
        }
    })
}

fn first_frame(config: KioskConfig, (width, height): (u32, u32)) -> Result<()> {
    let started = std::time::Instant::now();
    let (core, _core_thread) = start_core(&config)?;
    let headless = headless::Headless::new()?;
    let _flows = countertop::ui::install(&headless.app, core);
    let pixels = headless.render(width, height)?;
    let lit = pixels.iter().filter(|p| p.r != p.g || p.g != p.b).count();
    println!(
        "first frame {width}x{height} in {:.1} ms ({lit} coloured pixels)",
        started.elapsed().as_secs_f64() * 1000.0
    );
    Ok(())
}

fn record_ratings(config: KioskConfig, count: u64) -> Result<()> {
    use countertop::core::Tap;
    use countertop::feedback::Score;
    use std::io::Write;

    let (core, _core_thread) = start_core(&config)?;
    let runtime = tokio::runtime::Builder::new_current_thread().build()?;
    let stdout = std::io::stdout();
    runtime.block_on(async {
        for i in 0..count {
            let score = Score::new((i % 5 + 1) as i64, config.survey.scale)
                .or_else(|_| Score::new(1, config.survey.scale))?;
            let tap = Tap {
                score,
                touchpoint: config.survey.touchpoint.clone(),
                survey_version: config.survey.version,
            };
            let rated = core.rate(tap).await?;
            let mut out = stdout.lock();
            writeln!(out, "{}", rated.recorded.id)?;
            out.flush()?;
        }
        Ok(())
    })
}
