//! Provider calls retried when the plugin says the failure is temporary.
//!
//! The HTTP layer already rides out `429`/`503`; this covers what only the plugin can
//! tell from an API's own error reasons (Drive's 403 `userRateLimitExceeded`, a garbled
//! answer), for every call a sync makes, listing and tag reads alike.

use std::time::Duration;

use backon::BackoffBuilder as _;
use tonearm_plugin_api::PluginError;

#[cfg(not(all(target_arch = "wasm32", not(target_os = "wasi"))))]
pub use blocking::RetryingProvider;

/// How retryable provider failures are retried.
#[derive(Debug, Clone, Copy)]
pub struct RetryPolicy {
    /// Attempts per call, the first included.
    pub attempts: usize,
    /// The first delay.
    pub min_delay: Duration,
    /// The longest delay, and the longest `retry_after` waited out.
    pub max_delay: Duration,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        Self {
            attempts: 5,
            min_delay: Duration::from_millis(500),
            max_delay: Duration::from_secs(60),
        }
    }
}

/// The waits between attempts of one call under a [`RetryPolicy`].
pub struct Delays {
    backoff: backon::ExponentialBackoff,
    max_delay: Duration,
}

impl Delays {
    /// The waits of a fresh call.
    pub fn new(policy: RetryPolicy) -> Self {
        Self {
            backoff: backon::ExponentialBuilder::default()
                .with_min_delay(policy.min_delay)
                .with_max_delay(policy.max_delay)
                .with_max_times(policy.attempts.saturating_sub(1))
                .with_jitter()
                .build(),
            max_delay: policy.max_delay,
        }
    }

    /// How long to wait before trying again after `error`; `None` to give up (the error
    /// lasts, the attempts are spent, or the wait the service asked for is too long).
    pub fn after(&mut self, error: &PluginError) -> Option<Duration> {
        if !error.is_retryable() {
            return None;
        }
        match error {
            PluginError::RateLimited {
                retry_after: Some(after),
            } if *after > self.max_delay => None,
            // A stated wait still spends an attempt.
            PluginError::RateLimited {
                retry_after: Some(after),
            } => self.backoff.next().map(|_| *after),
            _ => self.backoff.next(),
        }
    }
}

#[cfg(not(all(target_arch = "wasm32", not(target_os = "wasi"))))]
mod blocking {
    use std::sync::Arc;

    use tonearm_plugin_api::{ByteRange, ChangePage, ListPage, PluginResult, StorageProvider};

    use super::{Delays, RetryPolicy};

    /// A provider whose calls are retried under a [`RetryPolicy`], sleeping on the calling
    /// thread: for blocking callers (playback, the conformance suite). The sync engine waits
    /// without a thread instead.
    pub struct RetryingProvider {
        inner: Arc<dyn StorageProvider>,
        policy: RetryPolicy,
    }

    impl RetryingProvider {
        /// Wraps `inner`.
        pub fn new(inner: Arc<dyn StorageProvider>, policy: RetryPolicy) -> Self {
            Self { inner, policy }
        }

        fn run<T>(&self, what: &str, call: impl Fn() -> PluginResult<T>) -> PluginResult<T> {
            let mut delays = Delays::new(self.policy);
            loop {
                let error = match call() {
                    Err(e) => e,
                    ok => return ok,
                };
                let Some(delay) = delays.after(&error) else {
                    return Err(error);
                };
                tracing::info!(call = what, %error, delay_ms = delay.as_millis() as u64, "provider call failed; retrying");
                std::thread::sleep(delay);
            }
        }
    }

    impl StorageProvider for RetryingProvider {
        fn change_cursor(&self) -> PluginResult<String> {
            self.run("change_cursor", || self.inner.change_cursor())
        }

        fn list(&self, page_token: Option<&str>) -> PluginResult<ListPage> {
            self.run("list", || self.inner.list(page_token))
        }

        fn changes(&self, cursor: &str) -> PluginResult<ChangePage> {
            self.run("changes", || self.inner.changes(cursor))
        }

        fn read_range(&self, id: &str, range: ByteRange) -> PluginResult<Vec<u8>> {
            self.run("read_range", || self.inner.read_range(id, range))
        }
    }
}

#[cfg(all(test, not(target_arch = "wasm32")))]
mod tests {
    use std::sync::Arc;
    use std::sync::atomic::{AtomicUsize, Ordering};

    use tonearm_plugin_api::{ByteRange, ChangePage, ListPage, PluginResult, StorageProvider};

    use super::*;

    /// Fails the first `failures` calls with `error`.
    struct Flaky {
        calls: AtomicUsize,
        failures: usize,
        error: PluginError,
    }

    impl StorageProvider for Flaky {
        fn change_cursor(&self) -> PluginResult<String> {
            if self.calls.fetch_add(1, Ordering::SeqCst) < self.failures {
                return Err(self.error.clone());
            }
            Ok("c".into())
        }
        fn list(&self, _: Option<&str>) -> PluginResult<ListPage> {
            unreachable!()
        }
        fn changes(&self, _: &str) -> PluginResult<ChangePage> {
            unreachable!()
        }
        fn read_range(&self, _: &str, _: ByteRange) -> PluginResult<Vec<u8>> {
            unreachable!()
        }
    }

    fn retrying(failures: usize, error: PluginError) -> (Arc<Flaky>, RetryingProvider) {
        let flaky = Arc::new(Flaky {
            calls: AtomicUsize::new(0),
            failures,
            error,
        });
        let policy = RetryPolicy {
            attempts: 3,
            min_delay: Duration::from_millis(1),
            max_delay: Duration::from_millis(20),
        };
        (flaky.clone(), RetryingProvider::new(flaky, policy))
    }

    #[test]
    fn temporary_failures_are_retried_up_to_the_limit() {
        let limited = PluginError::RateLimited { retry_after: None };
        let (flaky, p) = retrying(2, limited.clone());
        assert_eq!(p.change_cursor().ok().as_deref(), Some("c"));
        assert_eq!(flaky.calls.load(Ordering::SeqCst), 3);
        let (flaky, p) = retrying(3, limited.clone());
        assert_eq!(p.change_cursor(), Err(limited));
        assert_eq!(flaky.calls.load(Ordering::SeqCst), 3);
    }

    #[test]
    fn lasting_failures_and_long_waits_are_not_retried() {
        let (flaky, p) = retrying(1, PluginError::NotFound("x".into()));
        assert!(p.change_cursor().is_err());
        assert_eq!(flaky.calls.load(Ordering::SeqCst), 1);
        let long = PluginError::RateLimited {
            retry_after: Some(Duration::from_secs(3600)),
        };
        let (flaky, p) = retrying(1, long.clone());
        assert_eq!(p.change_cursor(), Err(long));
        assert_eq!(flaky.calls.load(Ordering::SeqCst), 1);
    }
}
