//! The play queue: what plays, in which order, and what comes next.
//!
//! Pure data: the engine asks it which entry follows the current one, the app edits it.
//! Entries carry ids of their own, so the same track may be queued twice and an edit names
//! exactly the entry it means.

use serde::{Deserialize, Serialize};

/// One queued track; `entry` tells two queuings of one track apart.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[cfg_attr(feature = "typescript", derive(ts_rs::TS))]
pub struct QueueEntry {
    /// This queuing's id, unique within the queue's life.
    #[cfg_attr(feature = "typescript", ts(type = "number"))]
    pub entry: u64,
    /// The library track.
    #[cfg_attr(feature = "typescript", ts(type = "number"))]
    pub track_id: i64,
}

/// What happens at the end of a track and of the queue.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[cfg_attr(feature = "typescript", derive(ts_rs::TS))]
pub enum Repeat {
    /// Play the queue once.
    #[default]
    Off,
    /// Play the current track again and again.
    One,
    /// Start the queue again after its last track.
    All,
}

/// The queue in play order, the current entry, repeat and shuffle.
///
/// What [`entries`](Queue::entries) lists is the order things play in: with shuffle on, a
/// permutation drawn when shuffle was turned on (and again at each wrap with
/// [`Repeat::All`]), so every entry plays once before any plays again. Entries added while
/// shuffled go to a random place among those not yet played; turning shuffle off restores
/// the order they were queued in.
#[derive(Debug, Clone)]
pub struct Queue {
    order: Vec<QueueEntry>,
    /// Position in `order` of the entry that plays next.
    next: usize,
    current: Option<QueueEntry>,
    repeat: Repeat,
    shuffle: Option<Shuffle>,
    next_id: u64,
}

#[derive(Debug, Clone)]
struct Shuffle {
    rng: fastrand::Rng,
    /// Entry ids in the order they were queued, to restore when shuffle is turned off.
    queued: Vec<u64>,
}

impl Default for Queue {
    fn default() -> Self {
        Self::new()
    }
}

impl Queue {
    /// An empty queue, repeat off, in order.
    pub fn new() -> Self {
        Self {
            order: Vec::new(),
            next: 0,
            current: None,
            repeat: Repeat::Off,
            shuffle: None,
            next_id: 1,
        }
    }

    /// The entries in play order.
    pub fn entries(&self) -> &[QueueEntry] {
        &self.order
    }

    /// The number of entries.
    pub fn len(&self) -> usize {
        self.order.len()
    }

    /// Whether nothing is queued.
    pub fn is_empty(&self) -> bool {
        self.order.is_empty()
    }

    /// The current entry: the one playing, paused, or last played.
    pub fn current(&self) -> Option<QueueEntry> {
        self.current
    }

    /// The repeat mode.
    pub fn repeat(&self) -> Repeat {
        self.repeat
    }

    /// Sets the repeat mode.
    pub fn set_repeat(&mut self, repeat: Repeat) {
        self.repeat = repeat;
    }

    /// Whether the order is shuffled.
    pub fn shuffled(&self) -> bool {
        self.shuffle.is_some()
    }

    /// Queues `tracks` at the end (shuffled: among the entries not yet played).
    pub fn append(&mut self, tracks: &[i64]) -> Vec<QueueEntry> {
        let added = self.new_entries(tracks);
        match &mut self.shuffle {
            Some(shuffle) => {
                for &entry in &added {
                    let at = shuffle.rng.usize(self.next..=self.order.len());
                    self.order.insert(at, entry);
                    shuffle.queued.push(entry.entry);
                }
            }
            None => self.order.extend_from_slice(&added),
        }
        added
    }

    /// Queues `tracks` to play right after the current entry, in the order given.
    pub fn play_next(&mut self, tracks: &[i64]) -> Vec<QueueEntry> {
        let added = self.new_entries(tracks);
        let at = self.next;
        self.order.splice(at..at, added.iter().copied());
        if let Some(shuffle) = &mut self.shuffle {
            let after = self
                .current
                .and_then(|c| shuffle.queued.iter().position(|&id| id == c.entry))
                .map_or(shuffle.queued.len(), |p| p + 1);
            shuffle
                .queued
                .splice(after..after, added.iter().map(|e| e.entry));
        }
        // `next` stays where it was: on the first of the new entries.
        added
    }

    fn new_entries(&mut self, tracks: &[i64]) -> Vec<QueueEntry> {
        tracks
            .iter()
            .map(|&track_id| {
                let entry = QueueEntry {
                    entry: self.next_id,
                    track_id,
                };
                self.next_id += 1;
                entry
            })
            .collect()
    }

    /// Removes `entry`; returns whether it was queued. Removing the current entry leaves
    /// none current, and the one after it still plays next.
    pub fn remove(&mut self, entry: u64) -> bool {
        let Some(pos) = self.position(entry) else {
            return false;
        };
        self.order.remove(pos);
        if pos < self.next {
            self.next -= 1;
        }
        if self.current.is_some_and(|c| c.entry == entry) {
            self.current = None;
        }
        if let Some(shuffle) = &mut self.shuffle {
            shuffle.queued.retain(|&id| id != entry);
        }
        true
    }

    /// Moves `entry` to position `to` of the play order (clamped to the end); returns
    /// whether it was queued. What plays next stays what followed the current entry.
    pub fn move_to(&mut self, entry: u64, to: usize) -> bool {
        let Some(from) = self.position(entry) else {
            return false;
        };
        let anchor = self.anchor();
        let moved = self.order.remove(from);
        let to = to.min(self.order.len());
        self.order.insert(to, moved);
        self.restore(anchor);
        true
    }

    /// Empties the queue.
    pub fn clear(&mut self) {
        self.order.clear();
        self.next = 0;
        self.current = None;
        if let Some(shuffle) = &mut self.shuffle {
            shuffle.queued.clear();
        }
    }

    /// Turns shuffle on (drawing from `seed`) or off. On: the current entry stays and every
    /// other entry follows it in a random order. Off: the queued order comes back.
    pub fn set_shuffle(&mut self, on: bool, seed: u64) {
        match (on, self.shuffle.is_some()) {
            (true, false) => {
                let queued = self.order.iter().map(|e| e.entry).collect();
                let mut rng = fastrand::Rng::with_seed(seed);
                let current = self.current.and_then(|c| self.position(c.entry));
                let mut rest: Vec<QueueEntry> = self
                    .order
                    .iter()
                    .enumerate()
                    .filter(|&(i, _)| Some(i) != current)
                    .map(|(_, &e)| e)
                    .collect();
                rng.shuffle(&mut rest);
                self.order = current.map(|c| self.order[c]).into_iter().collect();
                self.next = self.order.len();
                self.order.extend(rest);
                self.shuffle = Some(Shuffle { rng, queued });
            }
            (false, true) => {
                let anchor = self.anchor();
                if let Some(shuffle) = self.shuffle.take() {
                    let rank = |e: &QueueEntry| shuffle.queued.iter().position(|&id| id == e.entry);
                    self.order.sort_by_key(rank);
                }
                self.restore(anchor);
            }
            _ => {}
        }
    }

    /// Makes `entry` current; returns it, or `None` if it is not queued.
    pub fn jump(&mut self, entry: u64) -> Option<QueueEntry> {
        let pos = self.position(entry)?;
        self.current = Some(self.order[pos]);
        self.next = pos + 1;
        self.current
    }

    /// The entry that plays when the current one ends, without moving to it. At the end
    /// of a shuffled queue that repeats, this draws the next round's order.
    pub fn peek(&mut self) -> Option<QueueEntry> {
        if self.repeat == Repeat::One
            && let Some(current) = self.current
        {
            return Some(current);
        }
        self.peek_skip()
    }

    /// The entry the current one ends into: [`peek`](Queue::peek)'s, made current.
    pub fn advance(&mut self) -> Option<QueueEntry> {
        if self.repeat == Repeat::One && self.current.is_some() {
            return self.current;
        }
        self.skip()
    }

    /// The entry a "next" press moves to (repeat one does not hold it), without moving.
    pub fn peek_skip(&mut self) -> Option<QueueEntry> {
        if self.next >= self.order.len() {
            if self.repeat != Repeat::All || self.order.is_empty() {
                return None;
            }
            self.wrap();
        }
        self.order.get(self.next).copied()
    }

    /// Moves to the next entry as a "next" press does; `None` at the end of the queue,
    /// which leaves no entry current.
    pub fn skip(&mut self) -> Option<QueueEntry> {
        match self.peek_skip() {
            Some(entry) => {
                self.current = Some(entry);
                self.next += 1;
                Some(entry)
            }
            None => {
                self.current = None;
                None
            }
        }
    }

    /// Moves to the entry before the current one and returns it; at the first entry, the
    /// first entry again.
    pub fn previous(&mut self) -> Option<QueueEntry> {
        let current = self.current.and_then(|c| self.position(c.entry));
        let pos = match current {
            Some(pos) => pos.saturating_sub(1),
            None => self.next.checked_sub(1)?,
        };
        let entry = *self.order.get(pos)?;
        self.current = Some(entry);
        self.next = pos + 1;
        Some(entry)
    }

    /// A new round of a shuffled (or plain) queue that repeats.
    fn wrap(&mut self) {
        if let Some(shuffle) = &mut self.shuffle {
            let last = self.order.last().copied();
            shuffle.rng.shuffle(&mut self.order);
            // Never the same track twice in a row across the wrap.
            if self.order.len() > 1 && self.order.first().copied() == last {
                self.order.swap(0, 1);
            }
        }
        self.next = 0;
    }

    fn position(&self, entry: u64) -> Option<usize> {
        self.order.iter().position(|e| e.entry == entry)
    }

    /// What `next` is relative to, before an edit that reorders.
    fn anchor(&self) -> Anchor {
        match self.current.and_then(|c| self.position(c.entry)) {
            Some(pos) if pos + 1 == self.next => Anchor::AfterCurrent,
            _ => Anchor::Before(self.order.get(self.next).map(|e| e.entry)),
        }
    }

    fn restore(&mut self, anchor: Anchor) {
        self.next = match anchor {
            Anchor::AfterCurrent => self
                .current
                .and_then(|c| self.position(c.entry))
                .map_or(self.order.len(), |p| p + 1),
            Anchor::Before(Some(id)) => self.position(id).unwrap_or(self.order.len()),
            Anchor::Before(None) => self.order.len(),
        };
    }
}

enum Anchor {
    AfterCurrent,
    Before(Option<u64>),
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tracks(queue: &Queue) -> Vec<i64> {
        queue.entries().iter().map(|e| e.track_id).collect()
    }

    fn play_all(queue: &mut Queue, max: usize) -> Vec<i64> {
        let mut played = Vec::new();
        while let Some(entry) = queue.advance() {
            played.push(entry.track_id);
            if played.len() == max {
                break;
            }
        }
        played
    }

    #[test]
    fn plays_in_order_and_ends() {
        let mut q = Queue::new();
        q.append(&[1, 2, 3]);
        assert_eq!(play_all(&mut q, 10), [1, 2, 3]);
        assert_eq!(q.current(), None);
    }

    #[test]
    fn repeat_one_holds_the_track_and_next_leaves_it() {
        let mut q = Queue::new();
        q.append(&[1, 2]);
        q.set_repeat(Repeat::One);
        assert_eq!(play_all(&mut q, 3), [1, 1, 1]);
        assert_eq!(q.skip().map(|e| e.track_id), Some(2));
    }

    #[test]
    fn repeat_all_wraps() {
        let mut q = Queue::new();
        q.append(&[1, 2]);
        q.set_repeat(Repeat::All);
        assert_eq!(play_all(&mut q, 5), [1, 2, 1, 2, 1]);
    }

    #[test]
    fn play_next_goes_after_the_current_entry() {
        let mut q = Queue::new();
        q.append(&[1, 2, 3]);
        q.advance();
        q.play_next(&[9, 8]);
        assert_eq!(tracks(&q), [1, 9, 8, 2, 3]);
        assert_eq!(play_all(&mut q, 10), [9, 8, 2, 3]);
    }

    #[test]
    fn removing_the_current_entry_keeps_what_follows() {
        let mut q = Queue::new();
        let added = q.append(&[1, 2, 3]);
        q.advance();
        q.advance();
        assert!(q.remove(added[1].entry));
        assert_eq!(q.current(), None);
        assert_eq!(q.advance().map(|e| e.track_id), Some(3));
        assert!(!q.remove(added[1].entry), "already gone");
    }

    #[test]
    fn removing_before_the_current_entry_keeps_the_place() {
        let mut q = Queue::new();
        let added = q.append(&[1, 2, 3]);
        q.advance();
        q.advance();
        q.remove(added[0].entry);
        assert_eq!(q.current().map(|e| e.track_id), Some(2));
        assert_eq!(q.advance().map(|e| e.track_id), Some(3));
    }

    #[test]
    fn moving_keeps_what_plays_next_after_the_current_entry() {
        let mut q = Queue::new();
        let added = q.append(&[1, 2, 3, 4]);
        q.advance();
        assert!(q.move_to(added[3].entry, 1));
        assert_eq!(tracks(&q), [1, 4, 2, 3]);
        assert_eq!(play_all(&mut q, 10), [4, 2, 3]);
        // Moving the current entry to the end: nothing is left after it.
        let mut q = Queue::new();
        let added = q.append(&[1, 2, 3]);
        q.advance();
        q.move_to(added[0].entry, 99);
        assert_eq!(tracks(&q), [2, 3, 1]);
        assert_eq!(q.advance(), None);
    }

    #[test]
    fn previous_goes_back_and_stops_at_the_first() {
        let mut q = Queue::new();
        q.append(&[1, 2, 3]);
        q.advance();
        q.advance();
        assert_eq!(q.previous().map(|e| e.track_id), Some(1));
        assert_eq!(q.previous().map(|e| e.track_id), Some(1));
        assert_eq!(q.advance().map(|e| e.track_id), Some(2));
    }

    #[test]
    fn jump_plays_on_from_the_entry() {
        let mut q = Queue::new();
        let added = q.append(&[1, 2, 3]);
        assert_eq!(q.jump(added[1].entry).map(|e| e.track_id), Some(2));
        assert_eq!(q.advance().map(|e| e.track_id), Some(3));
        assert_eq!(q.jump(999), None);
    }

    #[test]
    fn shuffle_plays_every_entry_once_per_round_and_unshuffle_restores() {
        let mut q = Queue::new();
        let tracks_in: Vec<i64> = (1..=20).collect();
        q.append(&tracks_in);
        q.advance();
        q.set_shuffle(true, 7);
        assert_eq!(
            q.current().map(|e| e.track_id),
            Some(1),
            "the current entry stays"
        );
        q.set_repeat(Repeat::All);
        let mut round1 = vec![1];
        round1.extend(play_all(&mut q, 19));
        let mut sorted = round1.clone();
        sorted.sort_unstable();
        assert_eq!(sorted, tracks_in, "each once in the first round");
        assert_ne!(round1, tracks_in, "and not in order");
        let round2 = play_all(&mut q, 20);
        assert_ne!(round2.first(), round1.last(), "no repeat across the wrap");
        let mut sorted = round2.clone();
        sorted.sort_unstable();
        assert_eq!(sorted, tracks_in, "each once in the second round");
        // Added while shuffled at the end of a round: it plays before the next round.
        q.append(&[99]);
        let rest = play_all(&mut q, 20);
        assert_eq!(rest.first(), Some(&99), "{rest:?}");
        q.set_shuffle(false, 0);
        let mut expected = tracks_in.clone();
        expected.push(99);
        assert_eq!(tracks(&q), expected, "the queued order is back");
    }

    #[test]
    fn entries_added_while_shuffled_play_before_the_round_ends() {
        let mut q = Queue::new();
        q.append(&[1, 2, 3, 4]);
        q.set_shuffle(true, 3);
        q.advance();
        q.append(&[5, 6]);
        let mut played = vec![q.current().map(|e| e.track_id).unwrap_or_default()];
        played.extend(play_all(&mut q, 10));
        played.sort_unstable();
        assert_eq!(played, [1, 2, 3, 4, 5, 6]);
    }
}
