//! Captures every log line the process writes, at every level, so a test can prove that no
//! personal field ever reaches a log.

use std::io::Write;
use std::sync::{Arc, Mutex};

/// Every log line written since [`CapturedLogs::install`].
#[derive(Clone, Default)]
pub struct CapturedLogs(Arc<Mutex<Vec<u8>>>);

impl Write for CapturedLogs {
    fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
        self.0
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .extend_from_slice(bytes);
        Ok(bytes.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl CapturedLogs {
    /// Routes every thread's logs, down to TRACE, into memory. Once per process.
    pub fn install() -> CapturedLogs {
        let logs = CapturedLogs::default();
        let writer = logs.clone();
        tracing_subscriber::fmt()
            .with_max_level(tracing::Level::TRACE)
            .with_ansi(false)
            .with_writer(move || writer.clone())
            .try_init()
            .expect("the only log subscriber of this test process");
        logs
    }

    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.0.lock().unwrap_or_else(|e| e.into_inner())).into_owned()
    }

    /// Panics with the offending line if any of `secrets` was logged.
    pub fn assert_free_of(&self, secrets: &[&str]) {
        let text = self.text();
        assert!(!text.is_empty(), "no log lines were captured at all");
        for line in text.lines() {
            for secret in secrets {
                assert!(
                    !line.contains(secret),
                    "personal data {secret:?} in a log line: {line}"
                );
            }
        }
    }
}
