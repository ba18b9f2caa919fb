//! The engine's one timer queue: each customer's next wake-up.
//!
//! The clock only moves forward, and every wake-up queued is at or after
//! the last one taken out, so the queue is a radix heap (Ahuja, Mehlhorn,
//! Orlin and Tarjan): entries sit in buckets by the highest bit in which
//! their instant differs from the last one taken, a push is O(1), and each
//! entry moves down at most once per bit, so taking the next is O(1)
//! amortized for instants that cluster, as timers do. It touches only the
//! lowest bucket and the one emptied into it, where a binary heap would
//! walk a path across all of its entries.
//!
//! Entries due at one instant come out together, in no set order: the
//! engine orders them by the first-seen rank each carries. A rank is 32
//! bits, so an entry is still two words (the queue holds one to a few
//! entries per customer), and taking an instant's entries out reads no
//! customer's slot: those are scattered, and were a miss each, in turn.

/// A queued wake-up: the instant, and the customer's first-seen rank and
/// slot.
pub(super) type Entry = (i64, Who);

/// A customer as the queue knows it: its first-seen rank and its slot.
pub(super) type Who = (u32, u32);

/// Buckets: one per differing bit, and one for "the same as the last".
const BUCKETS: usize = 65;

/// Entries' room a bucket emptied downwards keeps.
const KEPT_ROOM: usize = 64;

#[derive(Clone, Debug)]
pub(super) struct Queue {
    buckets: Vec<Vec<Entry>>,
    /// Each bucket's smallest key (meaningless when it is empty).
    mins: Vec<u64>,
    /// The last instant taken out (as an order-preserving unsigned key).
    last: u64,
    len: usize,
}

/// An instant as an unsigned key with the same order.
fn key(t: i64) -> u64 {
    (t as u64) ^ (1 << 63)
}

/// The bucket of `k` against the last key taken: 0 when equal, else one
/// more than the index of the highest differing bit.
fn bucket(k: u64, last: u64) -> usize {
    (64 - (k ^ last).leading_zeros()) as usize
}

impl Default for Queue {
    fn default() -> Queue {
        Queue {
            buckets: vec![Vec::new(); BUCKETS],
            mins: vec![u64::MAX; BUCKETS],
            last: 0,
            len: 0,
        }
    }
}

impl Queue {
    /// Queues a wake-up. One before the last taken (never asked for: every
    /// wake-up is at or after the clock) is queued at the last taken.
    pub fn push(&mut self, (t, who): Entry) {
        let k = key(t).max(self.last);
        self.put(k, (unkey(k), who));
        self.len += 1;
    }

    fn put(&mut self, k: u64, e: Entry) {
        let b = bucket(k, self.last);
        self.buckets[b].push(e);
        self.mins[b] = self.mins[b].min(k);
    }

    /// The earliest instant queued. Keys in a lower bucket are all smaller
    /// than those in a higher one, so it is the lowest bucket's smallest.
    pub fn peek(&self) -> Option<i64> {
        let b = (0..BUCKETS).find(|b| !self.buckets[*b].is_empty())?;
        Some(unkey(self.mins[b]))
    }

    /// Takes out every entry due at the earliest instant, handing each
    /// one's customer to `f`; that instant is the last taken.
    pub fn pop_instant(&mut self, mut f: impl FnMut(Who)) {
        let Some(b) = (0..BUCKETS).find(|b| !self.buckets[*b].is_empty()) else {
            return;
        };
        if b > 0 {
            // Down against the new last: its entries spread over the
            // buckets below, the smallest into bucket 0.
            // Every entry goes to a lower bucket, so bucket `b` gets its
            // emptied list back: a small one keeps its room for the next
            // (most instants move a few entries), a large one gives it back.
            self.last = self.mins[b];
            let mut entries = std::mem::take(&mut self.buckets[b]);
            self.mins[b] = u64::MAX;
            for e in entries.drain(..) {
                self.put(key(e.0), e);
            }
            if entries.capacity() <= KEPT_ROOM {
                self.buckets[b] = entries;
            }
        }
        let now = &mut self.buckets[0];
        self.len -= now.len();
        now.drain(..).for_each(|(_, who)| f(who));
        if now.capacity() > KEPT_ROOM {
            *now = Vec::new();
        }
        self.mins[0] = u64::MAX;
    }

    /// Hands `f` the customers of the lowest bucket, when it holds at
    /// most `limit` entries: those due soonest, every one due at the next
    /// instant among them (stale ones too). A look at what comes next,
    /// for asking for its memory early, bounded so that it costs
    /// O(`limit`) whatever the queue holds; it takes nothing out.
    pub fn peek_next(&self, limit: usize, mut f: impl FnMut(Who)) {
        let Some(b) = (0..BUCKETS).find(|b| !self.buckets[*b].is_empty()) else {
            return;
        };
        let entries = &self.buckets[b];
        if entries.len() <= limit {
            for &(_, who) in entries {
                f(who);
            }
        }
    }

    /// Entries queued (stale ones included).
    pub fn len(&self) -> usize {
        self.len
    }

    /// The queue of exactly `entries`, which start it afresh (stale ones
    /// left out by the caller).
    pub fn rebuild(&mut self, entries: impl Iterator<Item = Entry>) {
        let last = self.last;
        *self = Queue::default();
        self.last = last;
        for e in entries {
            self.push(e);
        }
    }
}

/// The instant of an order-preserving key.
fn unkey(k: u64) -> i64 {
    (k ^ (1 << 63)) as i64
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn a_look_ahead_sees_the_next_instant_and_takes_nothing_out() {
        let mut q = Queue::default();
        for (t, slot) in [(100, 0), (130, 1), (131, 2), (131, 3), (5_000, 4)] {
            q.push((t, (slot, slot)));
        }
        q.pop_instant(|_| {});
        let mut seen = Vec::new();
        q.peek_next(8, |(_, slot)| seen.push(slot));
        seen.sort_unstable();
        // 130 and 131 differ from 100 in the same highest bit: one bucket.
        assert_eq!(seen, [1, 2, 3]);
        let mut none = Vec::new();
        q.peek_next(2, |who| none.push(who));
        assert!(none.is_empty(), "a bucket past the limit is not read");
        assert_eq!(q.len(), 4);
        let mut next = Vec::new();
        q.pop_instant(|(_, slot)| next.push(slot));
        assert_eq!(next, [1]);
    }

    proptest! {
        /// Whatever is pushed (each at or after the last instant taken
        /// out, however far a peek looked ahead), instants come out in
        /// order, each with every entry due then — as a sorted list would
        /// give them.
        #[test]
        fn comes_out_as_a_sorted_list(ops in prop::collection::vec((0u8..4, -1000i64..1000, (0u32..50, 0u32..50)), 1..200)) {
            let mut q = Queue::default();
            let mut model: Vec<Entry> = Vec::new();
            let mut clock = -5000i64;
            for (op, dt, who) in ops {
                match op {
                    0 | 1 => {
                        let t = clock.saturating_add(dt.abs());
                        q.push((t, who));
                        model.push((t, who));
                    }
                    2 => {
                        prop_assert_eq!(q.peek(), model.iter().map(|e| e.0).min());
                    }
                    _ => {
                        let Some(t) = q.peek() else { continue };
                        let mut out = Vec::new();
                        q.pop_instant(|who| out.push((t, who)));
                        out.sort_unstable();
                        model.sort();
                        let want: Vec<Entry> = model.iter().copied().filter(|e| e.0 == t).collect();
                        model.retain(|e| e.0 != t);
                        prop_assert!(model.iter().all(|e| e.0 > t));
                        prop_assert_eq!(&out, &want);
                        clock = t;
                    }
                }
                prop_assert_eq!(q.len(), model.len());
            }
        }
    }
}
