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
use hashbrown::HashMap;
use serde::{Deserialize, Serialize};

/// Ids past which a look-up goes through a hash index.
const INDEXED: usize = 32;

/// A customer's recent event ids: behind one pointer, as most customers
/// hold none at any moment (the ids leave after the horizon). It encodes
/// as `DedupData`.
#[derive(Clone, Debug, Default)]
pub(crate) struct Dedup(Option<Box<Ids>>);

/// The ids of a customer that holds some.
#[derive(Clone, Debug, Default)]
struct Ids {
    /// Ids and the time of the event that carried them, by time (an id
    /// accepted again after its horizon appears twice: the newest counts).
    queue: Fifo<(i64, Box<str>)>,
    /// For many ids: each id's newest time.
    index: Option<HashMap<Box<str>, i64>>,
}

/// A customer's recent ids as they are encoded.
#[derive(Serialize, Deserialize)]
#[serde(rename = "Dedup")]
struct DedupData<Q> {
    queue: Q,
}

impl Serialize for Dedup {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        DedupData {
            queue: self.queue(),
        }
        .serialize(s)
    }
}

impl<'de> Deserialize<'de> for Dedup {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Dedup, D::Error> {
        let DedupData { queue } = DedupData::<Fifo<(i64, Box<str>)>>::deserialize(d)?;
        Ok(Dedup::holding(Ids { queue, index: None }))
    }
}

impl PartialEq for Dedup {
    fn eq(&self, other: &Dedup) -> bool {
        self.queue() == other.queue()
    }
}

impl Dedup {
    /// The ids and their times, by time.
    fn queue(&self) -> &[(i64, Box<str>)] {
        self.0.as_ref().map_or(&[], |ids| &ids.queue)
    }

    /// `ids`, behind the pointer unless there are none.
    fn holding(ids: Ids) -> Dedup {
        Dedup((!ids.queue.is_empty()).then(|| Box::new(ids)))
    }

    /// Was an event with `id` at `time` already accepted within `horizon`?
    pub fn is_duplicate(&self, id: &str, time: i64, horizon: i64) -> bool {
        self.0
            .as_ref()
            .is_some_and(|ids| ids.is_duplicate(id, time, horizon))
    }

    /// Records `id` of an accepted event at `time`, keeping at most `max`
    /// ids. Returns how many left early for want of room.
    pub fn accept(&mut self, id: &str, time: i64, max: usize) -> usize {
        let ids = self.0.get_or_insert_with(Box::default);
        let evicted = ids.accept(id, time, max);
        if ids.queue.is_empty() {
            self.0 = None;
        }
        evicted
    }

    /// Forgets the ids of events before `horizon` (the dedup horizon back
    /// from the latest accepted event's instant).
    pub fn expire(&mut self, horizon: i64) {
        if let Some(ids) = &mut self.0 {
            ids.expire(horizon);
            if ids.queue.is_empty() {
                self.0 = None;
            }
        }
    }

    /// From ids and their times, in any order.
    pub fn from_entries(entries: Vec<(i64, Box<str>)>) -> Dedup {
        Dedup::holding(Ids::from_entries(entries))
    }
}

impl Ids {
    /// The newest time `id` was accepted at, if it is still held.
    fn newest(&self, id: &str) -> Option<i64> {
        match &self.index {
            Some(index) => index.get(id).copied(),
            None => self
                .queue
                .iter()
                .filter(|(_, x)| &**x == id)
                .map(|(t, _)| *t)
                .max(),
        }
    }

    fn is_duplicate(&self, id: &str, time: i64, horizon: i64) -> bool {
        self.newest(id).is_some_and(|t0| time - t0 <= horizon)
    }

    fn accept(&mut self, id: &str, time: i64, max: usize) -> usize {
        let at = self.queue.partition_point(|(t, _)| *t <= time);
        self.queue.insert(at, (time, id.into()));
        if let Some(index) = &mut self.index {
            let newest = index.entry(id.into()).or_insert(time);
            *newest = (*newest).max(time);
        }
        let mut evicted = 0;
        while self.queue.len() > max {
            self.pop();
            evicted += 1;
        }
        if self.index.is_none() && self.queue.len() > INDEXED {
            let mut index = HashMap::with_capacity(self.queue.len());
            for (t, id) in self.queue.iter() {
                let newest = index.entry(id.clone()).or_insert(*t);
                *newest = (*newest).max(*t);
            }
            self.index = Some(index);
        } else if self.queue.len() <= INDEXED / 2 {
            self.index = None;
        }
        evicted
    }

    fn expire(&mut self, horizon: i64) {
        while self.queue.first().is_some_and(|(t, _)| *t < horizon) {
            self.pop();
        }
        if self.queue.len() <= INDEXED / 2 {
            self.index = None;
        }
    }

    fn pop(&mut self) {
        if let Some((t, id)) = self.queue.pop_front() {
            if let Some(index) = &mut self.index {
                // An id is accepted again only after its horizon, so its
                // entries have distinct times, and the newest leaves last.
                if index.get(&id) == Some(&t) {
                    index.remove(&id);
                }
            }
        }
    }

    fn from_entries(mut entries: Vec<(i64, Box<str>)>) -> Ids {
        entries.sort_by_key(|(t, _)| *t);
        Ids {
            queue: entries.into(),
            index: None,
        }
    }
}
