//! A real headless Chromium for the dashboard's browser tests and screenshots, driven over
//! WebDriver by Debian's `chromedriver`, each session with a fresh profile and download
//! folder. Missing Chromium fails loudly with how to install it: these tests never skip.
#![allow(dead_code)]

use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use fantoccini::elements::Element;
use fantoccini::{Client, ClientBuilder, Locator};
use serde_json::json;

const INSTALL: &str = "the dashboard's browser tests need Chromium and its WebDriver: \
     install them with `apt-get install chromium chromium-driver` (./dev.sh test does), \
     or point COUNTERTOP_CHROMIUM and COUNTERTOP_CHROMEDRIVER at them";

fn find(env: &str, names: &[&str]) -> PathBuf {
    if let Ok(p) = std::env::var(env) {
        let p = PathBuf::from(p);
        assert!(
            p.is_file(),
            "{env}={} is not a file; {INSTALL}",
            p.display()
        );
        return p;
    }
    let path = std::env::var_os("PATH").unwrap_or_default();
    for dir in std::env::split_paths(&path) {
        for name in names {
            let candidate = dir.join(name);
            if candidate.is_file() {
                return candidate;
            }
        }
    }
    panic!("{} not found; {INSTALL}", names[0]);
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("a free port")
}

/// One Chromium session with its own chromedriver, profile and downloads folder.
pub struct Browser {
    pub client: Client,
    pub base: String,
    pub downloads: tempfile::TempDir,
    _profile: tempfile::TempDir,
    driver: Child,
}

impl Browser {
    /// A headless Chromium at `width`×`height`, speaking `lang` first, for the HQ at `base`.
    pub async fn start(base: &str, (width, height): (u32, u32), lang: &str) -> Browser {
        let chromium = find("COUNTERTOP_CHROMIUM", &["chromium", "chromium-browser"]);
        let chromedriver = find("COUNTERTOP_CHROMEDRIVER", &["chromedriver"]);
        let port = free_port();
        let driver = Command::new(&chromedriver)
            .arg(format!("--port={port}"))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap_or_else(|e| {
                panic!("{} does not start ({e}); {INSTALL}", chromedriver.display())
            });
        let profile = tempfile::tempdir().expect("profile dir");
        let downloads = tempfile::tempdir().expect("downloads dir");
        let caps = json!({
            "browserName": "chrome",
            "goog:chromeOptions": {
                "binary": chromium,
                "args": [
                    "--headless=new",
                    "--no-sandbox",
                    "--disable-gpu",
                    "--disable-dev-shm-usage",
                    "--no-first-run",
                    "--hide-scrollbars",
                    format!("--user-data-dir={}", profile.path().display()),
                    format!("--window-size={width},{height}"),
                    format!("--lang={lang}"),
                ],
                "prefs": {
                    "intl.accept_languages": lang,
                    "download.default_directory": downloads.path(),
                    "download.prompt_for_download": false,
                },
            },
        });
        let serde_json::Value::Object(caps) = caps else {
            unreachable!("an object")
        };
        let url = format!("http://127.0.0.1:{port}");
        let deadline = Instant::now() + Duration::from_secs(30);
        let client = loop {
            let connector = hyper_util::client::legacy::connect::HttpConnector::new();
            match ClientBuilder::new(connector)
                .capabilities(caps.clone())
                .connect(&url)
                .await
            {
                Ok(c) => break c,
                Err(e) if Instant::now() < deadline => {
                    let _ = e;
                    tokio::time::sleep(Duration::from_millis(200)).await;
                }
                Err(e) => panic!("no WebDriver session from {url}: {e}; {INSTALL}"),
            }
        };
        let browser = Browser {
            client,
            base: base.trim_end_matches('/').to_owned(),
            downloads,
            _profile: profile,
            driver,
        };
        // The window size flag sets the outer window; the viewport is what a user sees.
        browser.set_viewport(width, height).await;
        browser
    }

    /// Make the page area exactly `width`×`height` CSS pixels.
    pub async fn set_viewport(&self, width: u32, height: u32) {
        let inner = self
            .client
            .execute("return [window.innerWidth, window.innerHeight];", vec![])
            .await
            .expect("viewport size");
        let (iw, ih) = (
            inner[0].as_u64().unwrap_or(u64::from(width)) as u32,
            inner[1].as_u64().unwrap_or(u64::from(height)) as u32,
        );
        let (ow, oh) = self.client.get_window_size().await.expect("window size");
        let w = (ow as i64 - i64::from(iw) + i64::from(width)).max(i64::from(width)) as u32;
        let h = (oh as i64 - i64::from(ih) + i64::from(height)).max(i64::from(height)) as u32;
        self.client
            .set_window_size(w, h)
            .await
            .expect("window resizes");
    }

    pub async fn goto(&self, path: &str) {
        self.client
            .goto(&format!("{}{path}", self.base))
            .await
            .unwrap_or_else(|e| panic!("open {path}: {e}"));
    }

    pub async fn path(&self) -> String {
        let url = self.client.current_url().await.expect("current url");
        match url.query() {
            Some(q) => format!("{}?{q}", url.path()),
            None => url.path().to_owned(),
        }
    }

    pub async fn find(&self, css: &str) -> Element {
        self.wait_for(css).await
    }

    /// Waits (up to 10 s) for an element matching `css`.
    pub async fn wait_for(&self, css: &str) -> Element {
        self.client
            .wait()
            .at_most(Duration::from_secs(10))
            .for_element(Locator::Css(css))
            .await
            .unwrap_or_else(|e| panic!("no element {css} on the page: {e}"))
    }

    pub async fn all(&self, css: &str) -> Vec<Element> {
        self.client
            .find_all(Locator::Css(css))
            .await
            .unwrap_or_default()
    }

    pub async fn fill(&self, css: &str, value: &str) {
        let field = self.find(css).await;
        field.clear().await.expect("field clears");
        field.send_keys(value).await.expect("typing");
    }

    pub async fn click(&self, css: &str) {
        self.find(css).await.click().await.expect("click");
    }

    /// The visible text of the page's body.
    pub async fn text(&self) -> String {
        self.find("body").await.text().await.expect("page text")
    }

    /// The page's HTML.
    pub async fn source(&self) -> String {
        self.client.source().await.expect("page source")
    }

    /// Signs in through the form and lands on the overview.
    pub async fn sign_in(&self, email: &str, password: &str) {
        self.goto("/login").await;
        self.fill("input[name=email]", email).await;
        self.fill("input[name=password]", password).await;
        self.click("form[action='/login'] button[type=submit]")
            .await;
        let deadline = Instant::now() + Duration::from_secs(10);
        while self.path().await.starts_with("/login") {
            assert!(
                Instant::now() < deadline,
                "still on the sign-in page: {}",
                self.text().await
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    /// A full-page PNG of what is on screen.
    pub async fn screenshot(&self, path: &Path) {
        let png = self.client.screenshot().await.expect("screenshot");
        std::fs::write(path, png).unwrap_or_else(|e| panic!("write {}: {e}", path.display()));
    }

    /// Waits for a finished download whose name ends with `suffix`; returns its bytes.
    pub async fn downloaded(&self, suffix: &str) -> (String, Vec<u8>) {
        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            if let Ok(entries) = std::fs::read_dir(self.downloads.path()) {
                for entry in entries.flatten() {
                    let name = entry.file_name().to_string_lossy().into_owned();
                    if name.ends_with(suffix) {
                        let bytes = std::fs::read(entry.path()).expect("download reads");
                        return (name, bytes);
                    }
                }
            }
            assert!(
                Instant::now() < deadline,
                "no *{suffix} download in {}",
                self.downloads.path().display()
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    /// Ends the WebDriver session (the driver stops on drop).
    pub async fn close(self) {
        let _ = self.client.clone().close().await;
    }
}

impl Drop for Browser {
    fn drop(&mut self) {
        let _ = self.driver.kill();
        let _ = self.driver.wait();
    }
}
