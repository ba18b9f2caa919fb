//! Duplicate events (§6): an event whose `id` was accepted for the same
//! customer within the dedup horizon is ignored.
//!
//! The ids are kept with the time of the event that carried them, oldest
//! first, so that those past the horizon leave from the front: O(1)
//! amortized per event. A look-up scans the few ids a customer has within
//! the horizon; beyond `INDEXED` of them, a hash index answers in O(1).
//! A customer holds at most `StateLimits::max_ids`; past that, the oldest
//! leave early (and are counted): a resent event carrying one of them is
//! accepted again.

use crate::tight::Fifo;
use compact_str::CompactString;
use hashbrown::HashMap;
use serde::{Deserialize, Serialize};

/// Ids past which a look-up goes through a hash index.
const INDEXED: usize = 32;

/// An id and the time of the event that carried it. An id of up to 24
/// bytes (most are) is kept in place, not in a block of its own.
type Held = (i64, CompactString);

/// A customer's recent event ids: behind one pointer, as most customers
/// hold none at any moment (the ids leave after the horizon). It encodes
/// as `DedupData`.
#[derive(Clone, Debug, Default)]
pub(crate) struct Dedup(Option<Box<Ids>>);

/// The ids of a customer that holds some, by time (an id accepted again
/// after its horizon appears twice: the newest counts).
///
/// A customer's events are mostly more than a horizon apart, so it holds
/// one id at a time: the oldest is kept in this block, and a customer that
/// holds one costs one allocation, made when its event is accepted and
/// given back when the id leaves.
#[derive(Clone, Debug)]
struct Ids {
    /// The oldest.
    front: Held,
    /// The others, oldest first.
    rest: Fifo<Held>,
    /// For many ids: each id's newest time.
    index: Option<Box<HashMap<CompactString, i64>>>,
}

/// A customer's recent ids as they are encoded.
#[derive(Serialize, Deserialize)]
#[serde(rename = "Dedup")]
struct DedupData<Q> {
    queue: Q,
}

/// The ids in order, as a sized sequence.
struct Queue<'a>(&'a Dedup);

impl Serialize for Queue<'_> {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_seq(self.0.iter())
    }
}

impl Serialize for Dedup {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        DedupData { queue: Queue(self) }.serialize(s)
    }
}

impl<'de> Deserialize<'de> for Dedup {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Dedup, D::Error> {
        let DedupData { queue } = DedupData::<Vec<Held>>::deserialize(d)?;
        Ok(Dedup::from_entries(queue))
    }
}

impl PartialEq for Dedup {
    fn eq(&self, other: &Dedup) -> bool {
        self.iter().eq(other.iter())
    }
}

impl Dedup {
    /// The ids and their times, by time (its length known up front, as
    /// postcard's encoding needs).
    fn iter(&self) -> impl Iterator<Item = &Held> {
        let (front, rest) = match &self.0 {
            Some(ids) => (Some(&ids.front), &ids.rest[..]),
            None => (None, &[][..]),
        };
        front.into_iter().chain(rest)
    }

    /// Asks for the ids' block, the first thing an event's step reads
    /// (see `hint`).
    pub fn prefetch(&self) {
        if let Some(ids) = &self.0 {
            crate::hint::prefetch(&**ids);
        }
    }

    /// Was an event with `id` at `time` already accepted within `horizon`?
    pub fn is_duplicate(&self, id: &str, time: i64, horizon: i64) -> bool {
        self.0
            .as_ref()
            .is_some_and(|ids| ids.newest(id).is_some_and(|t0| time - t0 <= horizon))
    }

    /// Records `id` of an accepted event at `time`, keeping at most `max`
    /// ids. Returns how many left early for want of room.
    pub fn accept(&mut self, id: &str, time: i64, max: usize) -> usize {
        let held = (time, CompactString::from(id));
        let Some(ids) = &mut self.0 else {
            if max == 0 {
                return 1;
            }
            self.0 = Some(Box::new(Ids {
                front: held,
                rest: Fifo::default(),
                index: None,
            }));
            return 0;
        };
        ids.insert(held);
        let mut evicted = 0;
        while self.len() > max {
            self.pop();
            evicted += 1;
        }
        if let Some(ids) = &mut self.0 {
            ids.settle_index();
        }
        evicted
    }

    /// Ids held.
    fn len(&self) -> usize {
        self.0.as_ref().map_or(0, |ids| 1 + ids.rest.len())
    }

    /// Forgets the ids of events before `horizon` (the dedup horizon back
    /// from the latest accepted event's instant).
    pub fn expire(&mut self, horizon: i64) {
        while self.0.as_ref().is_some_and(|ids| ids.front.0 < horizon) {
            self.pop();
        }
        if let Some(ids) = &mut self.0 {
            ids.settle_index();
        }
    }

    /// Takes out the oldest id.
    fn pop(&mut self) {
        let Some(ids) = &mut self.0 else {
            return;
        };
        let (t, id) = match ids.rest.pop_front() {
            Some(next) => std::mem::replace(&mut ids.front, next),
            None => {
                self.0 = None;
                return;
            }
        };
        if let Some(index) = &mut ids.index {
            // An id is accepted again only after its horizon, so its
            // entries have distinct times, and the newest leaves last.
            if index.get(&id) == Some(&t) {
                index.remove(&id);
            }
        }
    }

    /// From ids and their times, in any order.
    pub fn from_entries(mut entries: Vec<Held>) -> Dedup {
        entries.sort_by_key(|(t, _)| *t);
        let mut entries = entries.into_iter();
        Dedup(entries.next().map(|front| {
            let mut ids = Ids {
                front,
                rest: entries.collect(),
                index: None,
            };
            ids.settle_index();
            Box::new(ids)
        }))
    }
}

impl Ids {
    /// The ids and their times, by time.
    fn iter(&self) -> impl Iterator<Item = &Held> {
        std::iter::once(&self.front).chain(self.rest.iter())
    }

    /// The newest time `id` was accepted at, if it is still held.
    fn newest(&self, id: &str) -> Option<i64> {
        match &self.index {
            Some(index) => index.get(id).copied(),
            None => self.iter().filter(|(_, x)| x == id).map(|(t, _)| *t).max(),
        }
    }

    /// Places `held` by its time, after those of the same time.
    fn insert(&mut self, held: Held) {
        if let Some(index) = &mut self.index {
            let newest = index.entry(held.1.clone()).or_insert(held.0);
            *newest = (*newest).max(held.0);
        }
        if held.0 < self.front.0 {
            let old = std::mem::replace(&mut self.front, held);
            self.rest.insert(0, old);
        } else {
            let at = self.rest.partition_point(|(t, _)| *t <= held.0);
            self.rest.insert(at, held);
        }
    }

    /// Builds the hash index once there are many ids, and drops it once
    /// there are few again (half as many, so that a count around the
    /// threshold does not rebuild it at every event).
    fn settle_index(&mut self) {
        let len = 1 + self.rest.len();
        if self.index.is_none() && len > INDEXED {
            let mut index = HashMap::with_capacity(len);
            for (t, id) in self.iter() {
                let newest = index.entry(id.clone()).or_insert(*t);
                *newest = (*newest).max(*t);
            }
            self.index = Some(Box::new(index));
        } else if len <= INDEXED / 2 {
            self.index = None;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::{Dedup, INDEXED};

    fn times(d: &Dedup) -> Vec<(i64, &str)> {
        d.iter().map(|(t, id)| (*t, id.as_str())).collect()
    }

    #[test]
    fn ids_stay_in_time_order_whichever_comes_first() {
        let mut d = Dedup::default();
        assert_eq!(d.accept("b", 20, 10), 0);
        assert_eq!(d.accept("a", 10, 10), 0);
        assert_eq!(d.accept("c", 20, 10), 0);
        assert_eq!(times(&d), [(10, "a"), (20, "b"), (20, "c")]);
        assert!(d.is_duplicate("a", 15, 5) && !d.is_duplicate("a", 16, 5));
        d.expire(20);
        assert_eq!(times(&d), [(20, "b"), (20, "c")]);
        d.expire(21);
        assert!(d.0.is_none() && !d.is_duplicate("b", 21, 100));
    }

    #[test]
    fn the_oldest_leave_early_past_the_limit() {
        let mut d = Dedup::default();
        assert_eq!(d.accept("a", 1, 0), 1);
        assert!(d.0.is_none());
        d.accept("a", 1, 2);
        d.accept("b", 2, 2);
        assert_eq!(d.accept("c", 3, 2), 1);
        assert_eq!(times(&d), [(2, "b"), (3, "c")]);
    }

    #[test]
    fn many_ids_are_indexed_and_answer_alike() {
        let mut d = Dedup::default();
        let n = INDEXED as i64 * 2;
        for t in 0..n {
            d.accept(&format!("id{}", t % 40), t, 1_000);
        }
        assert!(d.0.as_ref().is_some_and(|ids| ids.index.is_some()));
        // "id0" was accepted at 0, 40: the newest counts.
        assert!(d.is_duplicate("id0", 45, 5) && !d.is_duplicate("id0", 46, 5));
        d.expire(n - 4);
        assert!(d.0.as_ref().is_some_and(|ids| ids.index.is_none()));
        assert!(d.is_duplicate("id23", n, 10) && !d.is_duplicate("id0", n, 10));
    }

    #[test]
    fn ids_encode_in_time_order_and_read_any_order() {
        let d = Dedup::from_entries(vec![(2, "b".into()), (1, "a".into())]);
        let json = serde_json::to_string(&d).unwrap();
        assert_eq!(json, r#"{"queue":[[1,"a"],[2,"b"]]}"#);
        let read: Dedup = serde_json::from_str(&json).unwrap();
        assert_eq!(read, d);
        let bytes = postcard::to_allocvec(&d).unwrap();
        assert_eq!(postcard::from_bytes::<Dedup>(&bytes).unwrap(), d);
        assert_eq!(
            serde_json::to_string(&Dedup::default()).unwrap(),
            r#"{"queue":[]}"#
        );
    }
}
