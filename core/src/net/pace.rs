//! How fast a service may be asked: a budget per host, shared by every plugin and every
//! source of one host process (or one worker) that reaches it.
//!
//! Services such as MusicBrainz count requests per client address, not per plugin: two
//! plugins (or two sources of one plugin) each keeping to one request a second would
//! together send two, and be answered 503. So the budget of a host name lives with the
//! host's HTTP stack, and plugins only declare it ([`RateLimit`]).
//!
//! Nothing here waits: [`Budgets::admit`] says when a request may start, on a clock the
//! caller keeps (natively a monotonic `Instant`, in the browser `performance.now()`), and
//! the caller sleeps however its platform sleeps.

use std::collections::{HashMap, VecDeque};
use std::sync::{Mutex, PoisonError};
use std::time::Duration;

use tonearm_plugin_api::RateLimit;

/// A point on the caller's clock: the time since an origin it chose.
pub type Instant = Duration;

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

    /// When a request asked for at `now` could start, without taking the turn.
    fn next_free(&self, now: Instant) -> Instant {
        let mut go = self.not_before.map_or(now, |t| t.max(now));
        if self.starts.len() >= self.requests
            && let Some(&oldest) = self.starts.front()
        {
            go = go.max(oldest + self.period);
        }
        // Turns are handed out in order, so starts stay sorted.
        if let Some(&last) = self.starts.back() {
            go = go.max(last);
        }
        go
    }

    /// Takes one request's turn; answers when it may start (now or later).
    fn take(&mut self, now: Instant) -> Instant {
        let go = self.next_free(now);
        if self.starts.len() >= self.requests {
            self.starts.pop_front();
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

/// A request's place in its service's budget, from [`Budgets::admit`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Admission {
    /// It may start now.
    Go,
    /// It may start at `at`: wait, then ask again with `turn` (a pause the service asked
    /// for in between voids the turn, and the request takes a new one after the pause).
    Wait {
        /// When.
        at: Instant,
        /// The turn it holds.
        turn: Turn,
    },
}

/// A turn taken in a budget, to show [`Budgets::admit`] again after waiting.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Turn(u64);

/// The budgets of every rate-limited host, shared by every client of one HTTP stack.
#[derive(Debug, Default)]
pub struct Budgets {
    by_host: Mutex<HashMap<String, Budget>>,
}

impl Budgets {
    /// Adds the limits a plugin declares. Two plugins that declare different limits for
    /// one host get the stricter one: the service's terms are the same for both.
    pub fn declare(&self, limits: &[RateLimit]) {
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

    /// Where a request to `authority` asked for at `now` stands: `held` is the turn it
    /// took when last told to wait, if it was.
    pub fn admit(&self, authority: &str, now: Instant, held: Option<Turn>) -> Admission {
        let mut budgets = self.by_host.lock().unwrap_or_else(PoisonError::into_inner);
        let Some(budget) = Self::key_for(&budgets, authority).and_then(|k| budgets.get_mut(&k))
        else {
            return Admission::Go;
        };
        if held.is_some_and(|Turn(pauses)| pauses == budget.pauses) {
            return Admission::Go;
        }
        let at = budget.take(now);
        if at <= now {
            return Admission::Go;
        }
        Admission::Wait {
            at,
            turn: Turn(budget.pauses),
        }
    }

    /// When a request to `authority` asked for at `now` could start, taking no turn.
    pub fn next_free(&self, authority: &str, now: Instant) -> Instant {
        let budgets = self.by_host.lock().unwrap_or_else(PoisonError::into_inner);
        Self::key_for(&budgets, authority)
            .and_then(|k| budgets.get(&k))
            .map_or(now, |b| b.next_free(now))
    }

    /// Holds back every request to `authority`'s service until `now + wait`, as it asked.
    pub fn pause(&self, authority: &str, now: Instant, wait: Duration) {
        let mut budgets = self.by_host.lock().unwrap_or_else(PoisonError::into_inner);
        if let Some(key) = Self::key_for(&budgets, authority)
            && let Some(budget) = budgets.get_mut(&key)
        {
            budget.pause_until(now + wait);
        }
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;

    /// When each of `requests` requests, all asked for at once, may start, in ms.
    fn starts(limit: RateLimit, requests: usize) -> Vec<u128> {
        let mut budget = Budget::new(&limit);
        (0..requests)
            .map(|_| budget.take(Duration::ZERO).as_millis())
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
    fn a_pause_holds_everything_back_and_voids_the_turns_taken_before_it() {
        let budgets = Budgets::default();
        budgets.declare(&[RateLimit::per_second("x", 1)]);
        let t0 = Duration::ZERO;
        assert_eq!(budgets.admit("x", t0, None), Admission::Go);
        let Admission::Wait { at, turn } = budgets.admit("x", t0, None) else {
            panic!("a second request in one second must wait")
        };
        assert_eq!(at, Duration::from_secs(1));
        budgets.pause("x", t0, Duration::from_secs(5));
        assert_eq!(budgets.next_free("x", t0), Duration::from_secs(5));
        // The turn held through the pause is void: a new one, after the pause.
        let Admission::Wait { at, .. } = budgets.admit("x", at, Some(turn)) else {
            panic!("the pause must hold the request back")
        };
        assert_eq!(at, Duration::from_secs(5));
        assert_eq!(budgets.admit("y", t0, None), Admission::Go, "no budget");
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
