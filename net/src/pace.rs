//! How fast requests go: a bound and a pace per plugin, and a budget per service that
//! every plugin and every source reaching that service shares.
//!
//! Services such as MusicBrainz count requests per client address, not per plugin: two
//! plugins (or two sources of one plugin) each keeping to one request a second would
//! together send two, and be answered 503. So the budget of a host name lives here, in the
//! one HTTP service of the process, and plugins only declare it ([`RateLimit`]).

use std::collections::{HashMap, VecDeque};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use tokio::sync::Semaphore;
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

/// The budget of one service: at most `requests` starts in any window of `period`, kept
/// as the start times of the last `requests` requests (a sliding window, exact where a
/// token bucket would let a burst and the steady rate overlap in one window).
#[derive(Debug)]
struct Budget {
    requests: usize,
    period: Duration,
    /// Start times of the latest requests, oldest first; at most `requests` of them.
    starts: VecDeque<Instant>,
    /// Nothing starts before this (the service asked for a pause).
    not_before: Option<Instant>,
    /// Pauses asked for so far: a turn taken before a pause is taken again after it.
    pauses: u64,
}

impl Budget {
    fn new(limit: &RateLimit) -> Self {
        Self {
            requests: limit.requests.max(1) as usize,
            period: Duration::from_millis(u64::from(limit.period_ms.max(1))),
            starts: VecDeque::new(),
            not_before: None,
            pauses: 0,
        }
    }

    /// Takes one request's turn; answers when it may start (now or later).
    fn take(&mut self, now: Instant) -> Instant {
        let mut go = self.not_before.map_or(now, |t| t.max(now));
        if self.starts.len() >= self.requests
            && let Some(oldest) = self.starts.pop_front()
        {
            go = go.max(oldest + self.period);
        }
        // Turns are handed out in order, so starts stay sorted.
        if let Some(&last) = self.starts.back() {
            go = go.max(last);
        }
        self.starts.push_back(go);
        go
    }

    /// The service asked for a pause (a `503` or `429` with `Retry-After`): nothing starts
    /// before `until`.
    fn pause_until(&mut self, until: Instant) {
        self.not_before = Some(self.not_before.map_or(until, |t| t.max(until)));
        self.pauses += 1;
    }

    /// Whether this budget allows more requests per unit of time than `other`.
    fn is_looser_than(&self, other: &Budget) -> bool {
        // requests / period > other.requests / other.period, without division.
        self.requests as u128 * other.period.as_nanos()
            > other.requests as u128 * self.period.as_nanos()
    }
}

/// The budgets of every rate-limited host, shared by every client of one HTTP service.
#[derive(Debug, Default)]
pub(crate) struct Budgets {
    by_host: Mutex<HashMap<String, Budget>>,
}

impl Budgets {
    /// Adds the limits a plugin declares. Two plugins that declare different limits for
    /// one host get the stricter one: the service's terms are the same for both.
    pub(crate) fn declare(&self, limits: &[RateLimit]) {
        let mut budgets = self.by_host.lock().unwrap_or_else(PoisonError::into_inner);
        for limit in limits {
            let host = limit.host.to_ascii_lowercase();
            let new = Budget::new(limit);
            match budgets.get_mut(&host) {
                Some(old) if old.is_looser_than(&new) => {
                    old.requests = new.requests;
                    old.period = new.period;
                }
                Some(_) => {}
                None => {
                    budgets.insert(host, new);
                }
            }
        }
    }

    /// The budget key for `authority` (`host` or `host:port`): itself, its host, or the
    /// `*.domain` pattern its host falls under.
    fn key_for(budgets: &HashMap<String, Budget>, authority: &str) -> Option<String> {
        let authority = authority.to_ascii_lowercase();
        if budgets.contains_key(&authority) {
            return Some(authority);
        }
        let host = match authority.rsplit_once(':') {
            // Not the colons of an IPv6 address in brackets.
            Some((host, port)) if port.chars().all(|c| c.is_ascii_digit()) => host.to_owned(),
            _ => authority,
        };
        if budgets.contains_key(&host) {
            return Some(host);
        }
        budgets
            .keys()
            .find(|pattern| {
                pattern
                    .strip_prefix("*.")
                    .is_some_and(|domain| host.ends_with(&format!(".{domain}")))
            })
            .cloned()
    }

    /// Waits for a request to `host` to be within its service's budget.
    pub(crate) async fn admit(&self, host: &str) {
        let mut turn = None;
        loop {
            let go = {
                let mut budgets = self.by_host.lock().unwrap_or_else(PoisonError::into_inner);
                let Some(budget) =
                    Self::key_for(&budgets, host).and_then(|key| budgets.get_mut(&key))
                else {
                    return;
                };
                // A pause since this request took its turn: the turn is void, take one
                // after the pause (all waiting requests do, in order, at the rate).
                match turn {
                    Some(pauses) if pauses == budget.pauses => return,
                    _ => {}
                }
                turn = Some(budget.pauses);
                budget.take(Instant::now())
            };
            tokio::time::sleep_until(go.into()).await;
        }
    }

    /// Holds back every request to `host`'s service for `wait`, as it asked.
    pub(crate) fn pause(&self, host: &str, wait: Duration) {
        let mut budgets = self.by_host.lock().unwrap_or_else(PoisonError::into_inner);
        if let Some(key) = Self::key_for(&budgets, host)
            && let Some(budget) = budgets.get_mut(&key)
        {
            budget.pause_until(Instant::now() + wait);
        }
    }
}

/// Shared budgets, cheap to clone.
pub(crate) type SharedBudgets = Arc<Budgets>;

#[cfg(test)]
mod tests {
    use super::*;

    /// When each of `requests` requests, all asked for at once, may start.
    fn starts(limit: RateLimit, requests: usize) -> Vec<u128> {
        let t0 = Instant::now();
        let mut budget = Budget::new(&limit);
        (0..requests)
            .map(|_| (budget.take(t0) - t0).as_millis())
            .collect()
    }

    #[test]
    fn one_a_second_spaces_every_request_by_a_second() {
        let at = starts(RateLimit::per_second("musicbrainz.org", 1), 4);
        assert_eq!(at, [0, 1000, 2000, 3000]);
    }

    #[test]
    fn three_a_second_never_starts_four_in_one_second() {
        let at = starts(RateLimit::per_second("api.acoustid.org", 3), 7);
        assert_eq!(at, [0, 0, 0, 1000, 1000, 1000, 2000]);
        for (i, start) in at.iter().enumerate().skip(3) {
            assert!(start - at[i - 3] >= 1000, "{at:?}");
        }
    }

    #[test]
    fn a_pause_holds_everything_back() {
        let t0 = Instant::now();
        let mut budget = Budget::new(&RateLimit::per_second("x", 1));
        budget.take(t0);
        budget.pause_until(t0 + Duration::from_secs(5));
        assert_eq!(budget.take(t0) - t0, Duration::from_secs(5));
        assert_eq!(budget.take(t0) - t0, Duration::from_secs(6));
    }

    #[test]
    fn the_stricter_of_two_declarations_wins_and_wildcards_match_subdomains() {
        let budgets = Budgets::default();
        budgets.declare(&[RateLimit::per_second("musicbrainz.org", 5)]);
        budgets.declare(&[RateLimit::per_second("MusicBrainz.org", 1)]);
        budgets.declare(&[RateLimit::per_second("musicbrainz.org", 10)]);
        budgets.declare(&[RateLimit::per_second("*.example.com", 2)]);
        let map = budgets.by_host.lock().unwrap();
        assert_eq!(map["musicbrainz.org"].requests, 1);
        assert_eq!(
            Budgets::key_for(&map, "A.Example.com").as_deref(),
            Some("*.example.com")
        );
        assert_eq!(Budgets::key_for(&map, "example.com"), None);
        assert_eq!(Budgets::key_for(&map, "lrclib.net"), None);
        assert_eq!(
            Budgets::key_for(&map, "musicbrainz.org:443").as_deref(),
            Some("musicbrainz.org")
        );
    }
}
