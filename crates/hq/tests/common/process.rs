//! Running the real `countertop-hq` binary: CLI commands, and `serve` as a child process
//! that is stopped with SIGTERM (or killed when the handle drops).

use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Child, Command, Output, Stdio};

pub const BIN: &str = env!("CARGO_BIN_EXE_countertop-hq");

/// Run a CLI command to completion.
pub fn run(args: &[&str], cwd: &Path, env: &[(&str, &str)]) -> Output {
    let mut cmd = Command::new(BIN);
    cmd.args(args)
        .current_dir(cwd)
        .env_remove("COUNTERTOP_HQ_DATABASE")
        .env("RUST_LOG", "warn");
    for (k, v) in env {
        cmd.env(k, v);
    }
    cmd.output().expect("countertop-hq runs")
}

/// Stdout of a successful command, trimmed; panics with stderr otherwise.
pub fn value(out: &Output) -> String {
    assert!(
        out.status.success(),
        "command failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout.clone())
        .expect("utf-8")
        .trim()
        .to_owned()
}

/// A `countertop-hq serve` child process.
pub struct Server {
    pub child: Option<Child>,
    pub address: String,
}

impl Server {
    /// Start `serve --listen 127.0.0.1:0`, plus `extra` args, and wait for its address.
    pub fn start(cwd: &Path, extra: &[&str]) -> Server {
        let mut child = Command::new(BIN)
            .arg("serve")
            .args(["--listen", "127.0.0.1:0"])
            .args(extra)
            .current_dir(cwd)
            .env_remove("COUNTERTOP_HQ_DATABASE")
            .env("RUST_LOG", "warn")
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("serve starts");
        let stdout = child.stdout.take().expect("stdout piped");
        let mut line = String::new();
        BufReader::new(stdout)
            .read_line(&mut line)
            .expect("serve prints its address");
        assert!(!line.trim().is_empty(), "serve exited before listening");
        Server {
            child: Some(child),
            address: format!("http://{}", line.trim()),
        }
    }

    /// Like [`Server::start`], with `RUST_LOG=debug`, and everything the server writes to
    /// stdout and stderr after its address collected in the returned buffer.
    pub fn start_captured(
        cwd: &Path,
        extra: &[&str],
    ) -> (Server, std::sync::Arc<std::sync::Mutex<Vec<u8>>>) {
        use std::io::Read;
        let mut child = Command::new(BIN)
            .arg("serve")
            .args(["--listen", "127.0.0.1:0"])
            .args(extra)
            .current_dir(cwd)
            .env_remove("COUNTERTOP_HQ_DATABASE")
            .env("RUST_LOG", "debug")
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("serve starts");
        let out = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
        let mut stdout = BufReader::new(child.stdout.take().expect("stdout piped"));
        let mut line = String::new();
        stdout
            .read_line(&mut line)
            .expect("serve prints its address");
        assert!(!line.trim().is_empty(), "serve exited before listening");
        let stderr = child.stderr.take().expect("stderr piped");
        for mut stream in [
            Box::new(stdout) as Box<dyn Read + Send>,
            Box::new(stderr) as Box<dyn Read + Send>,
        ] {
            let out = std::sync::Arc::clone(&out);
            std::thread::spawn(move || {
                let mut buf = [0u8; 4096];
                while let Ok(n) = stream.read(&mut buf) {
                    if n == 0 {
                        break;
                    }
                    if let Ok(mut o) = out.lock() {
                        o.extend_from_slice(&buf[..n]);
                    }
                }
            });
        }
        (
            Server {
                child: Some(child),
                address: format!("http://{}", line.trim()),
            },
            out,
        )
    }

    /// Send SIGTERM and wait for the exit status.
    pub fn terminate(&mut self) -> std::process::ExitStatus {
        let mut child = self.child.take().expect("still running");
        // SAFETY: kill with the pid of our own child.
        unsafe {
            libc::kill(child.id() as libc::pid_t, libc::SIGTERM);
        }
        child.wait().expect("wait for serve")
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}
