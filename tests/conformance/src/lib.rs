//! The Tonearm conformance suite: certifies a plugin through its trait alone, so the same
//! checks hold for a builtin, a native library, a wasm component or the web bundle's copy.
//!
//! - [`decoder::check`] runs a [`Decoder`](tonearm_plugin_api::Decoder) over the bundled
//!   [`fixtures`] (or your own) for every format its manifest claims.
//! - [`provider::check`] drives a [`StorageProvider`](tonearm_plugin_api::StorageProvider)
//!   through a [`provider::ProviderHarness`] that can change the files it serves.
//! - [`metadata::check`] puts a [`MetadataSource`](tonearm_plugin_api::MetadataSource)
//!   before a scripted service: odd queries, a service with nothing, down, or answering
//!   garbage, and where its requests go.
//! - [`host::test_context`] is the `HostContext` to create a plugin with in its own tests;
//!   with feature `http`, `http::TestHttp` lets it reach a local fake server.
//! - [`provider::ServedHarness`] certifies a network provider against its fake server.
//!
//! Every check runs on its own thread with a deadline and its panics caught, so a hanging
//! or panicking plugin fails its checks instead of stopping the suite.

pub mod decoder;
pub mod fixtures;
pub mod host;
#[cfg(feature = "http")]
pub mod http;
pub mod metadata;
pub mod provider;
mod reference;

use std::fmt;
#[cfg(not(all(target_arch = "wasm32", not(target_os = "wasi"))))]
use std::panic::{AssertUnwindSafe, catch_unwind};
#[cfg(not(all(target_arch = "wasm32", not(target_os = "wasi"))))]
use std::sync::mpsc;
use std::time::Duration;

/// How one check ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    /// It held.
    Passed,
    /// It did not, and why.
    Failed(String),
    /// It does not apply to this plugin, and why.
    Skipped(String),
}

/// One named check and its outcome.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Check {
    /// What was checked.
    pub name: String,
    /// How it ended.
    pub outcome: Outcome,
}

/// The outcome of a suite run on one plugin.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Report {
    /// The plugin checked.
    pub plugin: String,
    /// Every check, in the order run.
    pub checks: Vec<Check>,
}

impl Report {
    /// An empty report for `plugin`.
    pub fn new(plugin: &str) -> Self {
        Self {
            plugin: plugin.to_owned(),
            checks: Vec::new(),
        }
    }

    /// Records a check's result.
    pub fn record(&mut self, name: impl Into<String>, result: Result<(), String>) {
        let outcome = match result {
            Ok(()) => Outcome::Passed,
            Err(why) => Outcome::Failed(why),
        };
        self.checks.push(Check {
            name: name.into(),
            outcome,
        });
    }

    /// Records a check that does not apply.
    pub fn skip(&mut self, name: impl Into<String>, why: impl Into<String>) {
        self.checks.push(Check {
            name: name.into(),
            outcome: Outcome::Skipped(why.into()),
        });
    }

    /// Checks that passed.
    pub fn passed(&self) -> usize {
        self.count(|o| matches!(o, Outcome::Passed))
    }

    /// Checks that failed.
    pub fn failed(&self) -> usize {
        self.count(|o| matches!(o, Outcome::Failed(_)))
    }

    /// Checks skipped.
    pub fn skipped(&self) -> usize {
        self.count(|o| matches!(o, Outcome::Skipped(_)))
    }

    fn count(&self, f: impl Fn(&Outcome) -> bool) -> usize {
        self.checks.iter().filter(|c| f(&c.outcome)).count()
    }

    /// Whether at least one check ran and none failed.
    pub fn is_success(&self) -> bool {
        self.failed() == 0 && self.passed() > 0
    }

    /// The failures, one line each.
    pub fn failures(&self) -> Vec<String> {
        self.checks
            .iter()
            .filter_map(|c| match &c.outcome {
                Outcome::Failed(why) => Some(format!("{}: {why}", c.name)),
                _ => None,
            })
            .collect()
    }
}

impl fmt::Display for Report {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(f, "conformance of `{}`", self.plugin)?;
        for check in &self.checks {
            match &check.outcome {
                Outcome::Passed => writeln!(f, "  ok    {}", check.name)?,
                Outcome::Failed(why) => writeln!(f, "  FAIL  {}: {why}", check.name)?,
                Outcome::Skipped(why) => writeln!(f, "  skip  {} ({why})", check.name)?,
            }
        }
        write!(
            f,
            "{} passed, {} failed, {} skipped",
            self.passed(),
            self.failed(),
            self.skipped()
        )
    }
}

/// Runs `f` on its own thread, failing if it panics or takes longer than `deadline`. A
/// check that times out leaves its thread behind: a hung plugin cannot be stopped from
/// outside, but it no longer holds up the suite.
#[cfg(not(all(target_arch = "wasm32", not(target_os = "wasi"))))]
pub fn guarded<T: Send + 'static>(
    deadline: Duration,
    f: impl FnOnce() -> Result<T, String> + Send + 'static,
) -> Result<T, String> {
    let (tx, rx) = mpsc::channel();
    std::thread::Builder::new()
        .name("conformance-check".into())
        .spawn(move || {
            let result = catch_unwind(AssertUnwindSafe(f)).unwrap_or_else(|payload| {
                let message = payload
                    .downcast_ref::<&str>()
                    .map(|s| s.to_string())
                    .or_else(|| payload.downcast_ref::<String>().cloned())
                    .unwrap_or_else(|| "unknown panic".into());
                Err(format!("panicked: {message}"))
            });
            let _ = tx.send(result);
        })
        .map_err(|e| format!("cannot start a check thread: {e}"))?;
    match rx.recv_timeout(deadline) {
        Ok(result) => result,
        Err(mpsc::RecvTimeoutError::Timeout) => {
            Err(format!("did not finish within {deadline:?} (hang?)"))
        }
        Err(mpsc::RecvTimeoutError::Disconnected) => Err("the check thread died".into()),
    }
}

/// Runs `f` where it is: a browser's wasm has no threads to run it on, so a hang there
/// is the page's watchdog's to catch, and a panic aborts the whole test.
#[cfg(all(target_arch = "wasm32", not(target_os = "wasi")))]
pub fn guarded<T: Send + 'static>(
    _deadline: Duration,
    f: impl FnOnce() -> Result<T, String> + Send + 'static,
) -> Result<T, String> {
    f()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn guarded_reports_panics_and_hangs() {
        let panicked = guarded::<()>(Duration::from_secs(5), || panic!("boom"));
        assert!(panicked.unwrap_err().contains("boom"));
        let hung = guarded::<()>(Duration::from_millis(50), || {
            std::thread::sleep(Duration::from_secs(5));
            Ok(())
        });
        assert!(hung.unwrap_err().contains("did not finish"));
        assert_eq!(guarded(Duration::from_secs(5), || Ok(3)), Ok(3));
    }

    #[test]
    fn a_report_without_passes_is_not_a_success() {
        let mut report = Report::new("p");
        report.skip("x", "n/a");
        assert!(!report.is_success());
        report.record("y", Ok(()));
        assert!(report.is_success());
        report.record("z", Err("bad".into()));
        assert!(!report.is_success());
        assert_eq!(report.failures(), vec!["z: bad".to_string()]);
    }
}
