//! A throwaway PostgreSQL for tests, started from the system's `initdb` and `postgres`
//! in a temp dir on a free port. One cluster per test binary (see [`shared`]); each test
//! gets its own fresh database. Under root, the server runs as the `postgres` user,
//! because `initdb` refuses to run as root.
//!
//! Stopping: dropping a [`PgCluster`] sends SIGQUIT (an immediate shutdown, like
//! `pg_ctl stop -m immediate`). The shared cluster lives in a static, which Rust never
//! drops, so the server is also started with a parent-death signal: it shuts down when
//! the test process exits, however it exits.

#![allow(dead_code)]

use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::{mpsc, Mutex, OnceLock};
use std::time::{Duration, Instant};

use std::os::unix::process::CommandExt;

pub struct PgCluster {
    pub port: u16,
    dir: PathBuf,
    child: Mutex<Option<Child>>,
    /// Started with [`PgCluster::start_tls`]: TCP connections must use TLS.
    tls_only: bool,
}

/// A server certificate and key (PEM) for [`PgCluster::start_tls`].
pub struct ServerTls<'a> {
    pub cert_pem: &'a str,
    pub key_pem: &'a str,
    /// Refuse TCP connections without TLS (tests), or take both (the TLS benchmark).
    pub require_tls: bool,
}

fn bin_dir() -> Result<PathBuf, String> {
    let has_all = |d: &Path| d.join("initdb").is_file() && d.join("postgres").is_file();
    if let Ok(dir) = std::env::var("COUNTERTOP_PG_BINDIR") {
        let dir = PathBuf::from(dir);
        if has_all(&dir) {
            return Ok(dir);
        }
        return Err(format!(
            "COUNTERTOP_PG_BINDIR={} has no initdb and postgres",
            dir.display()
        ));
    }
    if let Ok(out) = Command::new("pg_config").arg("--bindir").output() {
        let dir = PathBuf::from(String::from_utf8_lossy(&out.stdout).trim());
        if has_all(&dir) {
            return Ok(dir);
        }
    }
    if let Ok(entries) = std::fs::read_dir("/usr/lib/postgresql") {
        let mut dirs: Vec<PathBuf> = entries
            .filter_map(|e| e.ok())
            .map(|e| e.path().join("bin"))
            .filter(|d| has_all(d))
            .collect();
        dirs.sort();
        if let Some(d) = dirs.pop() {
            return Ok(d);
        }
    }
    if let Some(path) = std::env::var_os("PATH") {
        for d in std::env::split_paths(&path) {
            if has_all(&d) {
                return Ok(d);
            }
        }
    }
    Err(
        "PostgreSQL server binaries (initdb, postgres) were not found: install the \
         'postgresql' package (apt-get install postgresql), or set COUNTERTOP_PG_BINDIR"
            .into(),
    )
}

/// uid and gid to run PostgreSQL as: the `postgres` user when we are root.
fn run_as() -> Result<Option<(u32, u32)>, String> {
    // SAFETY: geteuid has no preconditions.
    if unsafe { libc::geteuid() } != 0 {
        return Ok(None);
    }
    let name = c"postgres";
    // SAFETY: getpwnam takes a valid C string and returns a pointer to static data or null;
    // we copy the two fields out at once, before any other call could overwrite it.
    let pw = unsafe { libc::getpwnam(name.as_ptr()) };
    if pw.is_null() {
        return Err(
            "running as root, and there is no 'postgres' user to run PostgreSQL as \
                    (initdb refuses root): install the 'postgresql' package, which creates it"
                .into(),
        );
    }
    // SAFETY: pw is non-null and points to a valid passwd struct.
    let (uid, gid) = unsafe { ((*pw).pw_uid, (*pw).pw_gid) };
    Ok(Some((uid, gid)))
}

fn free_port() -> Result<u16, String> {
    let l = TcpListener::bind("127.0.0.1:0").map_err(|e| e.to_string())?;
    Ok(l.local_addr().map_err(|e| e.to_string())?.port())
}

fn remove_stale_dirs(tmp: &Path) {
    let Ok(entries) = std::fs::read_dir(tmp) else {
        return;
    };
    for e in entries.filter_map(|e| e.ok()) {
        let name = e.file_name().to_string_lossy().into_owned();
        if let Some(pid) = name
            .strip_prefix("countertop-pg-")
            .and_then(|rest| rest.split('-').next())
        {
            if !Path::new("/proc").join(pid).exists() {
                let _ = std::fs::remove_dir_all(e.path());
            }
        }
    }
}

impl PgCluster {
    /// initdb and start a new cluster. Panics with a clear message when it cannot.
    pub fn start() -> PgCluster {
        Self::start_with(false)
    }

    /// Start a cluster; `durable` keeps fsync and synchronous commit on (for benchmarks),
    /// otherwise they are off to keep tests fast.
    pub fn start_with(durable: bool) -> PgCluster {
        match Self::try_start(durable, None) {
            Ok(c) => c,
            Err(e) => panic!("cannot start a test PostgreSQL: {e}"),
        }
    }

    /// Start a cluster with `ssl=on` and this certificate. With `require_tls`, its
    /// `pg_hba.conf` accepts TCP connections only over TLS (so a test that connects has
    /// proved TLS was used). `durable` as in [`PgCluster::start_with`].
    pub fn start_tls(tls: &ServerTls<'_>, durable: bool) -> PgCluster {
        match Self::try_start(durable, Some(tls)) {
            Ok(c) => c,
            Err(e) => panic!("cannot start a test PostgreSQL with TLS: {e}"),
        }
    }

    fn try_start(durable: bool, tls: Option<&ServerTls<'_>>) -> Result<PgCluster, String> {
        let bin = bin_dir()?;
        let owner = run_as()?;
        // Under root the server runs as `postgres`, which must be able to reach the dir:
        // use /tmp rather than a TMPDIR that may sit under /root.
        let tmp = if owner.is_some() {
            PathBuf::from("/tmp")
        } else {
            std::env::temp_dir()
        };
        remove_stale_dirs(&tmp);
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.subsec_nanos())
            .unwrap_or(0);
        let dir = tmp.join(format!("countertop-pg-{}-{nanos}", std::process::id()));
        std::fs::create_dir_all(&dir).map_err(|e| format!("{}: {e}", dir.display()))?;
        if let Some((uid, gid)) = owner {
            std::os::unix::fs::chown(&dir, Some(uid), Some(gid))
                .map_err(|e| format!("chown {}: {e}", dir.display()))?;
        }
        let data = dir.join("data");
        let mut initdb = Command::new(bin.join("initdb"));
        initdb
            .arg("-D")
            .arg(&data)
            .args([
                "-U",
                "postgres",
                "-A",
                "trust",
                "-E",
                "UTF8",
                "--locale=C",
                "--no-sync",
            ])
            .stdout(Stdio::null())
            .stderr(Stdio::piped());
        if let Some((uid, gid)) = owner {
            initdb.uid(uid).gid(gid);
        }
        let out = initdb
            .output()
            .map_err(|e| format!("running initdb: {e}"))?;
        if !out.status.success() {
            return Err(format!(
                "initdb failed: {}",
                String::from_utf8_lossy(&out.stderr)
            ));
        }
        if let Some(tls) = tls {
            use std::os::unix::fs::PermissionsExt;
            let hba = if tls.require_tls {
                "local all all trust\nhostssl all all 127.0.0.1/32 trust\n\
                 hostssl all all ::1/128 trust\n"
            } else {
                "local all all trust\nhost all all 127.0.0.1/32 trust\nhost all all ::1/128 trust\n"
            };
            let files = [
                ("server.crt", tls.cert_pem),
                ("server.key", tls.key_pem),
                ("pg_hba.conf", hba),
            ];
            for (name, text) in files {
                let path = data.join(name);
                std::fs::write(&path, text).map_err(|e| format!("{}: {e}", path.display()))?;
                // PostgreSQL refuses a key file that others can read.
                std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o600))
                    .map_err(|e| format!("chmod {}: {e}", path.display()))?;
                if let Some((uid, gid)) = owner {
                    std::os::unix::fs::chown(&path, Some(uid), Some(gid))
                        .map_err(|e| format!("chown {}: {e}", path.display()))?;
                }
            }
        }
        let port = free_port()?;
        let log = std::fs::File::create(dir.join("postgres.log")).map_err(|e| e.to_string())?;
        let mut cmd = Command::new(bin.join("postgres"));
        cmd.arg("-D")
            .arg(&data)
            .arg("-p")
            .arg(port.to_string())
            .arg("-k")
            .arg(&dir)
            .args([
                "-c",
                "listen_addresses=127.0.0.1",
                "-c",
                "max_connections=300",
            ])
            .stdout(Stdio::null())
            .stderr(log);
        if tls.is_some() {
            cmd.args(["-c", "ssl=on"]);
        }
        if !durable {
            cmd.args([
                "-c",
                "fsync=off",
                "-c",
                "synchronous_commit=off",
                "-c",
                "full_page_writes=off",
            ]);
        }
        if let Some((uid, gid)) = owner {
            cmd.uid(uid).gid(gid);
        }
        // SAFETY: prctl is async-signal-safe; it runs in the child between fork and exec.
        unsafe {
            cmd.pre_exec(|| {
                if libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGQUIT) != 0 {
                    return Err(std::io::Error::last_os_error());
                }
                Ok(())
            });
        }
        // PR_SET_PDEATHSIG fires when the *thread* that forked exits, so fork from a
        // thread that lives as long as the process.
        let (tx, rx) = mpsc::channel();
        std::thread::spawn(move || {
            let _ = tx.send(cmd.spawn());
            loop {
                std::thread::park();
            }
        });
        let child = rx
            .recv()
            .map_err(|e| e.to_string())?
            .map_err(|e| format!("starting postgres: {e}"))?;
        let cluster = PgCluster {
            port,
            dir,
            child: Mutex::new(Some(child)),
            tls_only: tls.is_some_and(|t| t.require_tls),
        };
        cluster.wait_ready(&bin)?;
        Ok(cluster)
    }

    fn wait_ready(&self, bin: &Path) -> Result<(), String> {
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            let ok = Command::new(bin.join("pg_isready"))
                .args([
                    "-h",
                    "127.0.0.1",
                    "-p",
                    &self.port.to_string(),
                    "-U",
                    "postgres",
                    "-q",
                ])
                .status()
                .map(|s| s.success())
                .unwrap_or(false);
            if ok {
                return Ok(());
            }
            if let Ok(mut guard) = self.child.lock() {
                if let Some(child) = guard.as_mut() {
                    if let Ok(Some(status)) = child.try_wait() {
                        let log = std::fs::read_to_string(self.dir.join("postgres.log"))
                            .unwrap_or_default();
                        return Err(format!("postgres exited with {status}: {log}"));
                    }
                }
            }
            if Instant::now() > deadline {
                return Err("postgres did not become ready within 30 s".into());
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// The cluster's data directory.
    pub fn data_dir(&self) -> PathBuf {
        self.dir.join("data")
    }

    pub fn url(&self, db: &str) -> String {
        format!("postgres://postgres@127.0.0.1:{}/{db}", self.port)
    }

    /// Where the test itself connects to create databases: TCP, or the Unix socket for a
    /// cluster that takes TCP only over TLS.
    fn admin_url(&self) -> String {
        if self.tls_only {
            format!(
                "host={} port={} user=postgres dbname=postgres",
                self.dir.display(),
                self.port
            )
        } else {
            self.url("postgres")
        }
    }

    /// Create a new, empty database and return its URL.
    pub async fn fresh_database(&self) -> String {
        let name = format!("t_{}", uuid::Uuid::now_v7().simple());
        let mut last = String::new();
        for _ in 0..50 {
            match tokio_postgres::connect(&self.admin_url(), tokio_postgres::NoTls).await {
                Ok((client, conn)) => {
                    tokio::spawn(conn);
                    match client
                        .batch_execute(&format!("CREATE DATABASE \"{name}\""))
                        .await
                    {
                        Ok(()) => return self.url(&name),
                        Err(e) => last = e.to_string(),
                    }
                }
                Err(e) => last = e.to_string(),
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        panic!("cannot create a test database: {last}");
    }
}

impl Drop for PgCluster {
    fn drop(&mut self) {
        if let Ok(mut guard) = self.child.lock() {
            if let Some(mut child) = guard.take() {
                // SIGQUIT: immediate shutdown, as `pg_ctl stop -m immediate`.
                // SAFETY: kill with a pid we own.
                unsafe {
                    libc::kill(child.id() as libc::pid_t, libc::SIGQUIT);
                }
                let _ = child.wait();
            }
        }
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// The one cluster this test binary shares.
pub fn shared() -> &'static PgCluster {
    static CLUSTER: OnceLock<PgCluster> = OnceLock::new();
    CLUSTER.get_or_init(PgCluster::start)
}
