//! `countertop-hq`, the operator's interface: serve the API, add stores, make enrollment
//! codes and API tokens. Each command prints only its value on stdout, so it scripts
//! well; logs go to stderr.

use anyhow::{bail, Context, Result};
use clap::{Parser, Subcommand};
use countertop_hq::app::shutdown_signal;
use countertop_hq::tls::TlsFiles;
use countertop_hq::{admin, open_storage, Application, Settings};
use std::path::PathBuf;
use uuid::Uuid;

#[derive(Parser)]
#[command(
    name = "countertop-hq",
    version,
    about = "Countertop head-office server"
)]
struct Cli {
    /// Database: sqlite:PATH or postgres://USER@HOST:PORT/DB.
    #[arg(
        long,
        global = true,
        env = "COUNTERTOP_HQ_DATABASE",
        default_value = "sqlite:countertop-hq.db"
    )]
    database: String,
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Serve the HTTP API. Prints the address it listens on once ready.
    Serve {
        #[arg(long, env = "COUNTERTOP_HQ_LISTEN", default_value = "127.0.0.1:8080")]
        listen: String,
        /// Serve HTTPS with this PEM certificate chain (server certificate first). SIGHUP
        /// reloads it and the key without a restart.
        #[arg(long, env = "COUNTERTOP_HQ_TLS_CERT", requires = "tls_key")]
        tls_cert: Option<PathBuf>,
        /// The PEM private key of --tls-cert.
        #[arg(long, env = "COUNTERTOP_HQ_TLS_KEY", requires = "tls_cert")]
        tls_key: Option<PathBuf>,
        /// A reverse proxy (CIDR or address) whose X-Forwarded-For names the client, for
        /// per-address throttling; repeat the flag, or separate with commas in the env.
        #[arg(
            long = "trusted-proxy",
            value_name = "CIDR",
            env = "COUNTERTOP_HQ_TRUSTED_PROXY",
            value_delimiter = ',',
            value_parser = countertop_hq::throttle::parse_trusted_proxy
        )]
        trusted_proxy: Vec<ipnet::IpNet>,
    },
    /// Manage stores.
    Store {
        #[command(subcommand)]
        command: StoreCommand,
    },
    /// Print a one-time enrollment code for a store's kiosk.
    EnrollCode {
        #[arg(long)]
        store: Uuid,
        /// How long the code stays valid.
        #[arg(long, default_value_t = 24)]
        valid_hours: u32,
    },
    /// Manage API tokens for reports and admin calls.
    Token {
        #[command(subcommand)]
        command: TokenCommand,
    },
    /// Manage enrolled kiosks.
    Device {
        #[command(subcommand)]
        command: DeviceCommand,
    },
    /// Load 30 days of demo history for three cafés, and a demo admin; prints the first
    /// store's id. Running it again adds nothing.
    Demo {
        /// Another seed gives another (equally plausible) history.
        #[arg(long, default_value_t = countertop_hq::demo::DEFAULT_SEED)]
        seed: u64,
        /// The demo admin's email; its password is read from COUNTERTOP_HQ_DEMO_PASSWORD,
        /// else the demo's own (printed).
        #[arg(long, default_value = countertop_hq::demo::ADMIN_EMAIL)]
        admin_email: String,
        /// Create no demo admin.
        #[arg(long)]
        no_admin: bool,
    },
}

#[derive(Subcommand)]
enum StoreCommand {
    /// Add a store; prints its id.
    Add {
        #[arg(long)]
        name: String,
        /// IANA time zone, such as Asia/Ho_Chi_Minh.
        #[arg(long)]
        timezone: String,
    },
    /// Set who sees the store's regulars: `store` (its own kiosks, the default) or
    /// `chain` (the kiosks of every chain-scoped store).
    SetRegularsScope {
        store_id: Uuid,
        #[arg(value_parser = ["store", "chain"])]
        scope: String,
    },
}

#[derive(Subcommand)]
enum TokenCommand {
    /// Create an API token; prints it (shown once: only its hash is kept).
    Add {
        #[arg(long)]
        name: String,
    },
    /// Revoke an API token by its id.
    Revoke { id: Uuid },
}

#[derive(Subcommand)]
enum DeviceCommand {
    /// Revoke a kiosk's token; it must enroll again.
    Revoke { id: Uuid },
}

fn init_logging() {
    tracing_subscriber::fmt()
        .with_writer(std::io::stderr)
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info")),
        )
        .init();
}

#[tokio::main]
async fn main() -> Result<()> {
    let cli = Cli::parse();
    init_logging();
    match cli.command {
        Command::Serve {
            listen,
            tls_cert,
            tls_key,
            trusted_proxy,
        } => {
            let mut settings = Settings::new(listen, &cli.database);
            settings.tls = tls_cert
                .zip(tls_key)
                .map(|(cert, key)| TlsFiles { cert, key });
            let https = settings.tls.is_some();
            settings.trusted_proxies = trusted_proxy;
            let app = Application::build(settings)
                .await
                .with_context(|| format!("starting HQ on {}", cli.database))?;
            let storage = app.storage();
            // The address alone on stdout, so scripts (and tests) can find the port.
            println!("{}", app.local_addr());
            tracing::info!(
                addr = %app.local_addr(),
                backend = storage.backend(),
                scheme = if https { "https" } else { "http" },
                "serving"
            );
            app.run_until(shutdown_signal()).await.context("serving")?;
            tracing::info!("stopped");
        }
        Command::Store {
            command: StoreCommand::Add { name, timezone },
        } => {
            let storage = open(&cli.database).await?;
            let id = admin::add_store(storage.as_ref(), &name, &timezone).await?;
            println!("{id}");
        }
        Command::Store {
            command: StoreCommand::SetRegularsScope { store_id, scope },
        } => {
            let storage = open(&cli.database).await?;
            let scope = scope.parse().map_err(anyhow::Error::msg)?;
            admin::set_regulars_scope(storage.as_ref(), store_id, scope).await?;
        }
        Command::EnrollCode { store, valid_hours } => {
            let storage = open(&cli.database).await?;
            let valid = chrono::Duration::hours(i64::from(valid_hours));
            let code = admin::issue_enroll_code(storage.as_ref(), store, valid).await?;
            println!("{code}");
        }
        Command::Token {
            command: TokenCommand::Add { name },
        } => {
            let storage = open(&cli.database).await?;
            let (id, token) = admin::issue_api_token(storage.as_ref(), &name).await?;
            eprintln!("API token id {id} (use it with 'token revoke')");
            println!("{token}");
        }
        Command::Token {
            command: TokenCommand::Revoke { id },
        } => {
            let storage = open(&cli.database).await?;
            if !storage.revoke_api_token(id).await? {
                bail!("no API token with id {id}");
            }
        }
        Command::Device {
            command: DeviceCommand::Revoke { id },
        } => {
            let storage = open(&cli.database).await?;
            if !storage.revoke_device(id).await? {
                bail!("no device with id {id}");
            }
        }
        Command::Demo {
            seed,
            admin_email,
            no_admin,
        } => {
            let storage = open(&cli.database).await?;
            let password = std::env::var("COUNTERTOP_HQ_DEMO_PASSWORD")
                .unwrap_or_else(|_| countertop_hq::demo::ADMIN_PASSWORD.to_owned());
            let options = countertop_hq::demo::DemoOptions {
                seed,
                now: chrono::Utc::now(),
                admin: (!no_admin).then(|| (admin_email.clone(), password)),
            };
            let report = countertop_hq::demo::load(storage.as_ref(), &options)
                .await
                .context("loading the demo data")?;
            tracing::info!(
                accepted = report.accepted,
                duplicates = report.duplicates,
                stores = report.stores.len(),
                admin_created = report.admin_created,
                "demo loaded"
            );
            if let Some((id, _)) = report.stores.first() {
                println!("{id}");
            }
        }
    }
    Ok(())
}

async fn open(url: &str) -> Result<std::sync::Arc<dyn countertop_hq::Storage>> {
    open_storage(url)
        .await
        .with_context(|| format!("opening database {url}"))
}
