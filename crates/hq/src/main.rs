//! `countertop-hq`, the operator's interface: serve the API and the dashboard, add stores,
//! make enrollment codes, API tokens and dashboard accounts. Each command prints only its
//! value on stdout, so it scripts well; logs go to stderr.

use anyhow::{bail, Context, Result};
use clap::{Parser, Subcommand};
use countertop_hq::app::shutdown_signal;
use countertop_hq::storage::accounts::{AuditEntry, Role, UserRecord};
use countertop_hq::tls::TlsFiles;
use countertop_hq::web::users;
use countertop_hq::{admin, open_storage, Application, Settings, Storage};
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

/// Alerts: the webhook signing key, the mail server, and the engine's timing.
#[derive(clap::Args)]
struct AlertArgs {
    /// The key webhook bodies are signed with (HMAC-SHA256, `X-Countertop-Signature`).
    #[arg(long, env = "COUNTERTOP_HQ_WEBHOOK_SECRET", hide_env_values = true)]
    webhook_secret: Option<String>,
    /// The SMTP server alert emails go through (STARTTLS on --smtp-port, 587 by default).
    #[arg(long, env = "COUNTERTOP_HQ_SMTP_HOST")]
    smtp_host: Option<String>,
    #[arg(long, env = "COUNTERTOP_HQ_SMTP_PORT", default_value_t = 587)]
    smtp_port: u16,
    #[arg(long, env = "COUNTERTOP_HQ_SMTP_USER", requires = "smtp_password")]
    smtp_user: Option<String>,
    #[arg(long, env = "COUNTERTOP_HQ_SMTP_PASSWORD", hide_env_values = true)]
    smtp_password: Option<String>,
    /// The sender of alert emails, such as `Countertop <alerts@example.org>`.
    #[arg(
        long,
        env = "COUNTERTOP_HQ_SMTP_FROM",
        default_value = "countertop-hq@localhost"
    )]
    smtp_from: String,
    /// Plain SMTP without STARTTLS (a relay on the same machine only). Never with a
    /// password: HQ refuses to send credentials over a connection that did not upgrade.
    #[arg(long, env = "COUNTERTOP_HQ_SMTP_PLAIN", conflicts_with = "smtp_user")]
    smtp_plain: bool,
    /// A PEM file of CA certificates trusted for the SMTP server's certificate, besides
    /// the public roots (a company CA).
    #[arg(long, env = "COUNTERTOP_HQ_SMTP_CA_FILE")]
    smtp_ca_file: Option<PathBuf>,
    /// How often every alert rule is evaluated for every store, in seconds (pushes
    /// evaluate their own store at once besides).
    #[arg(long, env = "COUNTERTOP_HQ_ALERT_EVALUATE_SECONDS", default_value_t = 30,
          value_parser = clap::value_parser!(u64).range(1..=3600))]
    alert_evaluate_seconds: u64,
    /// How long a process owns a delivery it is sending; after that another retries it.
    #[arg(long, env = "COUNTERTOP_HQ_ALERT_LEASE_SECONDS", default_value_t = 60,
          value_parser = clap::value_parser!(u64).range(1..=3600))]
    alert_lease_seconds: u64,
    /// The first retry's wait in milliseconds; each further retry waits twice as long.
    #[arg(long, env = "COUNTERTOP_HQ_ALERT_RETRY_MS", default_value_t = 2000,
          value_parser = clap::value_parser!(u64).range(10..=600_000))]
    alert_retry_ms: u64,
}

impl AlertArgs {
    fn settings(self) -> Result<countertop_hq::alerts::AlertSettings> {
        use countertop_hq::alerts::channels;
        use std::time::Duration;
        let ca_pem = match &self.smtp_ca_file {
            Some(path) => Some(
                std::fs::read_to_string(path)
                    .with_context(|| format!("reading --smtp-ca-file {}", path.display()))?,
            ),
            None => None,
        };
        let smtp = self.smtp_host.map(|host| channels::SmtpSettings {
            host,
            port: self.smtp_port,
            starttls: !self.smtp_plain,
            username: self.smtp_user,
            password: self.smtp_password,
            from: self.smtp_from,
            ca_pem,
        });
        if let Some(smtp) = &smtp {
            // The CA file and the TLS settings are checked now, not at the first alert.
            channels::smtp_transport(smtp).context("the SMTP settings")?;
        }
        Ok(countertop_hq::alerts::AlertSettings {
            webhook_secret: self.webhook_secret.filter(|s| !s.is_empty()),
            smtp,
            evaluate_every: Duration::from_secs(self.alert_evaluate_seconds),
            lease: Duration::from_secs(self.alert_lease_seconds),
            retry_base: Duration::from_millis(self.alert_retry_ms),
            ..Default::default()
        })
    }
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
        /// The dashboard's address as people reach it, for set-password links.
        #[arg(long, env = "COUNTERTOP_HQ_PUBLIC_URL")]
        public_url: Option<String>,
        /// Minutes without a request after which a dashboard session ends.
        #[arg(long, env = "COUNTERTOP_HQ_SESSION_IDLE_MINUTES", default_value_t = 480,
              value_parser = clap::value_parser!(u64).range(1..=43200))]
        session_idle_minutes: u64,
        /// Mark cookies Secure without --tls-cert (HQ behind a TLS-terminating proxy).
        #[arg(long, env = "COUNTERTOP_HQ_SECURE_COOKIES")]
        secure_cookies: bool,
        #[command(flatten)]
        alerts: Box<AlertArgs>,
        /// The local hour (0-23) daily and weekly digests are emailed from, in each
        /// account's time zone (that of its first store by name).
        #[arg(long, env = "COUNTERTOP_HQ_DIGEST_HOUR", default_value_t = 7,
              value_parser = clap::value_parser!(u32).range(0..=23))]
        digest_hour: u32,
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
    /// Manage dashboard accounts.
    User {
        #[command(subcommand)]
        command: UserCommand,
    },
}

#[derive(Subcommand)]
enum UserCommand {
    /// Add an account. With --password-stdin it reads the password from standard input;
    /// otherwise it prints a one-time link for setting it.
    Add {
        #[arg(long)]
        email: String,
        /// admin, manager or viewer.
        #[arg(long, value_parser = parse_role)]
        role: Role,
        /// A store the account sees (managers and viewers); repeat for several.
        #[arg(long = "store")]
        stores: Vec<Uuid>,
        /// Read the password from the first line of standard input.
        #[arg(long)]
        password_stdin: bool,
        #[command(flatten)]
        link: LinkArgs,
    },
    /// List accounts: id, email, role, stores, status (tab-separated).
    List,
    /// Print a new one-time link for setting the account's password.
    Link {
        /// The account's id or email.
        account: String,
        #[command(flatten)]
        link: LinkArgs,
    },
    /// Disable an account (it can no longer sign in; its sessions stop at once).
    #[command(alias = "remove")]
    Disable {
        /// The account's id or email.
        account: String,
    },
    /// Enable a disabled account again.
    Enable {
        /// The account's id or email.
        account: String,
    },
}

#[derive(clap::Args)]
struct LinkArgs {
    /// The dashboard's address as people reach it; the link starts with it.
    #[arg(
        long,
        env = "COUNTERTOP_HQ_PUBLIC_URL",
        default_value = "http://127.0.0.1:8080"
    )]
    base_url: String,
    /// How long the link stays valid.
    #[arg(long, default_value_t = 72, value_parser = clap::value_parser!(u64).range(1..=720))]
    valid_hours: u64,
}

fn parse_role(s: &str) -> Result<Role, String> {
    s.parse()
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
            public_url,
            session_idle_minutes,
            secure_cookies,
            alerts,
            digest_hour,
        } => {
            let mut settings = Settings::new(listen, &cli.database);
            settings.tls = tls_cert
                .zip(tls_key)
                .map(|(cert, key)| TlsFiles { cert, key });
            let https = settings.tls.is_some();
            settings.trusted_proxies = trusted_proxy;
            settings.web.public_url = public_url.map(|u| u.trim_end_matches('/').to_owned());
            settings.web.session_idle = std::time::Duration::from_secs(session_idle_minutes * 60);
            settings.web.secure_cookies = secure_cookies;
            settings.alerts = alerts.settings()?;
            settings.digests.hour = digest_hour;
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
        Command::User { command } => {
            let storage = open(&cli.database).await?;
            user_command(storage.as_ref(), command).await?;
        }
    }
    Ok(())
}

/// An account by id or email.
async fn find_user(storage: &dyn Storage, account: &str) -> Result<UserRecord> {
    let found = match Uuid::parse_str(account.trim()) {
        Ok(id) => storage.user(id).await?,
        Err(_) => storage.user_by_email(account).await?,
    };
    found.with_context(|| {
        format!("no account {account:?}; list them with 'countertop-hq user list'")
    })
}

async fn print_link(storage: &dyn Storage, user: Uuid, link: &LinkArgs) -> Result<()> {
    let valid = std::time::Duration::from_secs(link.valid_hours * 3600);
    let token = users::issue_password_link(storage, user, valid).await?;
    eprintln!(
        "One-time link to set the password (valid {} h; send it to the person):",
        link.valid_hours
    );
    println!("{}", users::password_link_url(&link.base_url, &token));
    Ok(())
}

async fn audit(storage: &dyn Storage, action: &str, user: Uuid, detail: String) -> Result<()> {
    storage
        .record_audit(&AuditEntry {
            actor: None,
            action: action.to_owned(),
            store_id: None,
            target: Some(user.to_string()),
            detail,
        })
        .await?;
    Ok(())
}

async fn user_command(storage: &dyn Storage, command: UserCommand) -> Result<()> {
    match command {
        UserCommand::Add {
            email,
            role,
            stores,
            password_stdin,
            link,
        } => {
            let password = if password_stdin {
                let mut line = String::new();
                std::io::stdin()
                    .read_line(&mut line)
                    .context("reading the password from standard input")?;
                Some(line.trim_end_matches(['\r', '\n']).to_owned())
            } else {
                None
            };
            let id = users::add_user(storage, &email, role, &stores, password.as_deref()).await?;
            audit(storage, "user_added", id, format!("role={role} cli")).await?;
            eprintln!("account id {id}");
            if password.is_none() {
                print_link(storage, id, &link).await?;
            } else {
                println!("{id}");
            }
        }
        UserCommand::List => {
            let stores = storage.store_list().await?;
            for u in storage.users().await? {
                let names: Vec<&str> = stores
                    .iter()
                    .filter(|s| u.stores.contains(&s.id))
                    .map(|s| s.name.as_str())
                    .collect();
                let status = if u.disabled {
                    "disabled"
                } else if u.password_hash.is_none() {
                    "no-password"
                } else {
                    "active"
                };
                println!(
                    "{}\t{}\t{}\t{}\t{status}",
                    u.id,
                    u.email,
                    u.role,
                    names.join(",")
                );
            }
        }
        UserCommand::Link { account, link } => {
            let user = find_user(storage, &account).await?;
            audit(storage, "password_link", user.id, "cli".into()).await?;
            print_link(storage, user.id, &link).await?;
        }
        UserCommand::Disable { account } => {
            let user = find_user(storage, &account).await?;
            storage.set_user_disabled(user.id, true).await?;
            audit(storage, "user_disabled", user.id, "cli".into()).await?;
        }
        UserCommand::Enable { account } => {
            let user = find_user(storage, &account).await?;
            storage.set_user_disabled(user.id, false).await?;
            audit(storage, "user_enabled", user.id, "cli".into()).await?;
        }
    }
    Ok(())
}

async fn open(url: &str) -> Result<std::sync::Arc<dyn countertop_hq::Storage>> {
    open_storage(url)
        .await
        .with_context(|| format!("opening database {url}"))
}
