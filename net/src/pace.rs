//! How fast requests go: a bound and a pace per plugin, and a budget per service that
//! every plugin and every source reaching that service shares (the budgets' rules are the
//! core's, [`tonearm_core::net::pace`]; here they wait on tokio's timer).

use std::sync::{Arc, Mutex, OnceLock, PoisonError};
use std::time::{Duration, Instant};

use tokio::sync::Semaphore;
use tonearm_core::net::pace::{self, Admission};
use tonearm_plugin_api::RateLimit;

use crate::http::HttpSettings;

/// Spaces and bounds one plugin's requests.
pub(crate) struct Limiter {
    slots: Semaphore,
    interval: Option<Duration>,
    next: Mutex<Instant>,
}

impl Limiter {
    pub(crate) fn new(settings: &HttpSettings) -> Self {
        Self {
            slots: Semaphore::new(settings.concurrency.max(1)),
            interval: settings
                .requests_per_second
                .filter(|r| *r > 0.0)
                .map(|r| Duration::from_secs_f64(1.0 / r)),
            next: Mutex::new(Instant::now()),
        }
    }

    /// Waits for a slot and for this request's turn.
    pub(crate) async fn admit(&self) -> Option<tokio::sync::SemaphorePermit<'_>> {
        let permit = self.slots.acquire().await.ok()?;
        if let Some(interval) = self.interval {
            let start = {
                let mut next = self.next.lock().unwrap_or_else(PoisonError::into_inner);
                let start = (*next).max(Instant::now());
                *next = start + interval;
                start
            };
            tokio::time::sleep_until(start.into()).await;
        }
        Some(permit)
    }
}

/// The budgets of every rate-limited host (see [`tonearm_core::net::pace`]), shared by
/// every client of one HTTP service, on the process's monotonic clock.
#[derive(Debug, Default)]
pub(crate) struct Budgets {
    budgets: pace::Budgets,
}

/// The process's clock for budgets: the time since the first request asked for one.
fn now() -> pace::Instant {
    static ORIGIN: OnceLock<Instant> = OnceLock::new();
    ORIGIN.get_or_init(Instant::now).elapsed()
}

impl Budgets {
    /// Adds the limits a plugin declares (the stricter of two for one host wins).
    pub(crate) fn declare(&self, limits: &[RateLimit]) {
        self.budgets.declare(limits);
    }

    /// Waits for a request to `host` to be within its service's budget.
    pub(crate) async fn admit(&self, host: &str) {
        let mut held = None;
        while let Admission::Wait { at, turn } = self.budgets.admit(host, now(), held) {
            held = Some(turn);
            tokio::time::sleep(at.saturating_sub(now())).await;
        }
    }

    /// Holds back every request to `host`'s service for `wait`, as it asked.
    pub(crate) fn pause(&self, host: &str, wait: Duration) {
        self.budgets.pause(host, now(), wait);
    }
}

/// Shared budgets, cheap to clone.
pub(crate) type SharedBudgets = Arc<Budgets>;
