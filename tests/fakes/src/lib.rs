//! Faithful fakes of the services Tonearm's plugins talk to: Google Drive v3, MusicBrainz,
//! Microsoft Graph and an OAuth 2 authorization server, as real HTTP servers on 127.0.0.1.
//!
//! They are stateful (files can be added, changed, renamed, moved and deleted between
//! syncs) and emulate the real APIs' paging, field selection, errors and throttling, with
//! faults injected on request. They know nothing of Tonearm's traits: a plugin that works
//! against them speaks the real protocol.

pub mod control;
pub mod coverart;
pub mod drive;
pub mod graph;
pub mod lrclib;
pub mod musicbrainz;
pub mod oauth;
mod server;

pub use server::Server;

/// Whether `id` has the shape of a MusicBrainz id (a hyphenated UUID), as the services
/// check before anything else.
pub(crate) fn is_mbid(id: &str) -> bool {
    id.len() == 36
        && id.chars().enumerate().all(|(i, c)| match i {
            8 | 13 | 18 | 23 => c == '-',
            _ => c.is_ascii_hexdigit(),
        })
}

/// An HTTP status and a body to answer one request with instead of the normal answer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Fault {
    /// Drive's 403 with a rate-limit reason (`userRateLimitExceeded`, `rateLimitExceeded`).
    RateLimitReason(String),
    /// 429 Too Many Requests, with `Retry-After` seconds if given.
    TooManyRequests(Option<u64>),
    /// 503 Service Unavailable, with `Retry-After` seconds if given.
    Unavailable(Option<u64>),
    /// 401 whatever token was sent (as when a token was revoked server-side).
    Unauthorized,
    /// 200 with a body that is not JSON.
    Garbage,
    /// A listing page with no items that still points to a next page.
    EmptyPage,
    /// A listing page that says the results are incomplete (`incompleteSearch`).
    IncompleteSearch,
}

/// Faults served on a schedule: every `every`-th request that matches one of `faults`'
/// endpoints gets the next fault in turn, for as long as it is set.
#[derive(Debug, Clone, Default)]
pub struct Chaos {
    every: usize,
    faults: Vec<(Endpoint, Fault)>,
    seen: usize,
    next: usize,
}

impl Chaos {
    /// A schedule; `every` of 0 never fires.
    pub fn new(every: usize, faults: Vec<(Endpoint, Fault)>) -> Self {
        Self {
            every,
            faults,
            seen: 0,
            next: 0,
        }
    }

    /// The fault for this request to `endpoint`, if it is due.
    pub(crate) fn next_for(&mut self, endpoint: Endpoint) -> Option<Fault> {
        if self.every == 0 || self.faults.is_empty() {
            return None;
        }
        self.seen += 1;
        if !self.seen.is_multiple_of(self.every) {
            return None;
        }
        for _ in 0..self.faults.len() {
            let (e, fault) = &self.faults[self.next % self.faults.len()];
            self.next += 1;
            if *e == endpoint || *e == Endpoint::Any {
                return Some(fault.clone());
            }
        }
        None
    }
}

/// The faults a fake will serve: queued ones first, in order, then any due on the
/// [`Chaos`] schedule.
#[derive(Debug, Default)]
pub(crate) struct FaultPlan {
    queued: std::collections::VecDeque<(Endpoint, Fault)>,
    chaos: Chaos,
}

impl FaultPlan {
    pub(crate) fn push(&mut self, endpoint: Endpoint, fault: Fault) {
        self.queued.push_back((endpoint, fault));
    }

    pub(crate) fn set_chaos(&mut self, chaos: Chaos) {
        self.chaos = chaos;
    }

    pub(crate) fn pending(&self) -> usize {
        self.queued.len()
    }

    pub(crate) fn clear(&mut self) {
        self.queued.clear();
    }

    /// The fault for this request to `endpoint`, if any.
    pub(crate) fn take(&mut self, endpoint: Endpoint) -> Option<Fault> {
        let queued = self
            .queued
            .iter()
            .position(|(e, _)| *e == endpoint || *e == Endpoint::Any)
            .and_then(|at| self.queued.remove(at))
            .map(|(_, f)| f);
        queued.or_else(|| self.chaos.next_for(endpoint))
    }
}

/// Which requests a fault applies to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Endpoint {
    /// Full listings (`files.list`, `children`, first `delta`).
    List,
    /// Change feeds (`changes.list`, `delta` with a token).
    Changes,
    /// Start cursors (`changes/startPageToken`, `delta?token=latest`).
    StartCursor,
    /// File content.
    Content,
    /// Any request.
    Any,
}
