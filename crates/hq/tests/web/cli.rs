//! `countertop-hq user ...`: accounts from the command line, with the password on
//! standard input or a one-time link, then used through the dashboard.

use std::io::Write;
use std::process::{Command, Stdio};

use crate::common::process::{run, value, Server, BIN};
use crate::common::web::{login_attempt, spawn_app_at, WebClient};
use crate::common::{database_url, Backend};

fn add_with_password(db: &str, cwd: &std::path::Path, args: &[&str], password: &str) -> String {
    let mut child = Command::new(BIN)
        .args(["user", "add", "--password-stdin"])
        .args(args)
        .current_dir(cwd)
        .env("COUNTERTOP_HQ_DATABASE", db)
        .env("RUST_LOG", "warn")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("runs");
    child
        .stdin
        .take()
        .expect("stdin")
        .write_all(format!("{password}\n").as_bytes())
        .expect("password written");
    value(&child.wait_with_output().expect("finishes"))
}

async fn accounts_made_on_the_command_line_sign_in_on_the_dashboard(backend: Backend) {
    let (db, dir) = database_url(backend).await;
    let cwd = tempfile::tempdir().expect("cwd");
    let env = [("COUNTERTOP_HQ_DATABASE", db.as_str())];
    let store = value(&run(
        &[
            "store",
            "add",
            "--name",
            "Corner Coffee",
            "--timezone",
            "Asia/Ho_Chi_Minh",
        ],
        cwd.path(),
        &env,
    ));
    let password = "typed on standard input";
    let id = add_with_password(
        &db,
        cwd.path(),
        &[
            "--email",
            "Manager@Example.org",
            "--role",
            "manager",
            "--store",
            &store,
        ],
        password,
    );
    assert_eq!(id.len(), 36, "prints the account id: {id}");
    let link = value(&run(
        &[
            "user",
            "add",
            "--email",
            "viewer@example.org",
            "--role",
            "viewer",
            "--store",
            &store,
            "--base-url",
            "https://hq.example.com/",
        ],
        cwd.path(),
        &env,
    ));
    assert!(
        link.starts_with("https://hq.example.com/set-password?token="),
        "{link}"
    );
    let list = value(&run(&["user", "list"], cwd.path(), &env));
    assert!(
        list.contains("manager@example.org\tmanager\tCorner Coffee\tactive"),
        "{list}"
    );
    assert!(
        list.contains("viewer@example.org\tviewer\tCorner Coffee\tno-password"),
        "{list}"
    );

    let app = spawn_app_at(&db, |_| {}).await;
    let mut client = WebClient::new(&app);
    let resp = login_attempt(&mut client, "manager@example.org", password).await;
    assert_eq!(resp.status(), 303, "the stdin password signs in");
    let path = link.trim_start_matches("https://hq.example.com");
    let (status, _) = WebClient::new(&app).get(path).await;
    assert_eq!(status, 200, "the printed link opens the set-password form");

    value(&run(
        &["user", "disable", "manager@example.org"],
        cwd.path(),
        &env,
    ));
    let mut client = WebClient::new(&app);
    let resp = login_attempt(&mut client, "manager@example.org", password).await;
    assert_eq!(resp.status(), 401, "a disabled account cannot sign in");
    drop(dir);
}

async fn bad_account_commands_say_what_to_do(backend: Backend) {
    let (db, dir) = database_url(backend).await;
    let cwd = tempfile::tempdir().expect("cwd");
    let env = [("COUNTERTOP_HQ_DATABASE", db.as_str())];
    let out = run(
        &[
            "user",
            "add",
            "--email",
            "m@example.org",
            "--role",
            "manager",
        ],
        cwd.path(),
        &env,
    );
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("at least one store"), "{err}");
    let out = run(
        &["user", "add", "--email", "m@example.org", "--role", "owner"],
        cwd.path(),
        &env,
    );
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("admin, manager or viewer"));
    let out = run(&["user", "disable", "nobody@example.org"], cwd.path(), &env);
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("user list"));
    let short = Command::new(BIN)
        .args([
            "user",
            "add",
            "--password-stdin",
            "--email",
            "a@example.org",
            "--role",
            "admin",
        ])
        .current_dir(cwd.path())
        .env("COUNTERTOP_HQ_DATABASE", &db)
        .stdin(Stdio::null())
        .output()
        .expect("runs");
    assert!(!short.status.success(), "an empty password is refused");
    assert!(String::from_utf8_lossy(&short.stderr).contains("at least 10 characters"));
    drop(dir);
}

/// With debug logs on, signing in, a set-password link and a session leave no
/// password, token, session id or typed email in HQ's output.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hq_never_logs_passwords_tokens_or_session_ids() {
    let cwd = tempfile::tempdir().expect("cwd");
    let db = format!("sqlite:{}", cwd.path().join("hq.db").display());
    let env = [("COUNTERTOP_HQ_DATABASE", db.as_str())];
    let password = "Zebrafish-Quartermaster-77";
    add_with_password(
        &db,
        cwd.path(),
        &["--email", "boss@example.org", "--role", "admin"],
        password,
    );
    let link = value(&run(
        &["user", "link", "boss@example.org", "--base-url", "http://x"],
        cwd.path(),
        &env,
    ));
    let token = link.rsplit('=').next().expect("token").to_owned();
    let (mut server, output) = Server::start_captured(cwd.path(), &["--database", &db]);
    let mut client = WebClient::for_base(&server.address);
    let (status, _) = client.get(&format!("/set-password?token={token}")).await;
    assert_eq!(status, 200);
    let stranger = "stranger.typed.this@example.org";
    login_attempt(&mut client, stranger, "Wrong-Password-Typed").await;
    let resp = login_attempt(&mut client, "boss@example.org", password).await;
    assert_eq!(resp.status(), 303);
    let session = crate::common::web::set_cookie(&resp, "ct_session")
        .map(|c| crate::common::web::cookie_value(&c))
        .expect("session");
    let csrf = client.csrf.clone().expect("csrf");
    client.get("/audit").await;
    client.post("/logout", &[]).await;
    tokio::time::sleep(std::time::Duration::from_millis(300)).await;
    server.terminate();
    let logs = String::from_utf8_lossy(&output.lock().expect("logs")).to_string();
    assert!(logs.contains("/audit"), "debug logs were captured: {logs}");
    for secret in [
        password,
        "Wrong-Password-Typed",
        &token,
        &session,
        &csrf,
        stranger,
    ] {
        assert!(!logs.contains(secret), "{secret} in the logs:\n{logs}");
    }
}

crate::on_both_backends!(
    accounts_made_on_the_command_line_sign_in_on_the_dashboard,
    bad_account_commands_say_what_to_do,
);
