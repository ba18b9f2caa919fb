//! What expressions read of a customer: first and last seen, the profile,
//! manual tags, the last known value of each segment, tag and stage, the
//! aggregates' state and the ledgers. The engine owns one per customer and
//! steps it; evaluation only reads it.

use super::aggregate::Aggregates;
use super::ledger::Credits;
use crate::compile::Ir;
use crate::hint::prefetch;
use crate::tight::Tight;
use crate::value::Value;
use crate::zone::Zone;
use compact_str::CompactString;
use serde::{Deserialize, Serialize};

pub(crate) use crate::time::FOREVER;
use crate::time::MaybeAt;

/// The last known value of a segment, tag or stage.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) enum DVal {
    /// Before the customer's first event: a member of nothing.
    Unknown,
    /// A segment's or tag's membership.
    Bool(bool),
    /// A stage's label index.
    Label(u32),
}

/// A derived value and the instant up to which it holds without events.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct DerivedState {
    /// The value.
    pub value: DVal,
    /// Holds until this instant (exclusive).
    pub until: i64,
}

/// Manual tags (set by the host or by rules), sorted: a look-up is a
/// binary search, and what is stored does not depend on arrival order.
/// A tag up to 24 bytes is kept inline, not in a block of its own.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct Tags(Tight<CompactString>);

impl Tags {
    /// Does the customer carry `tag`?
    pub fn contains(&self, tag: &str) -> bool {
        self.0.binary_search_by(|t| t.as_str().cmp(tag)).is_ok()
    }

    /// Adds `tag`; whether it was new.
    pub fn insert(&mut self, tag: &str) -> bool {
        match self.0.binary_search_by(|t| t.as_str().cmp(tag)) {
            Ok(_) => false,
            Err(at) => {
                self.0.insert(at, tag.into());
                true
            }
        }
    }

    /// Removes `tag`; whether it was carried.
    pub fn remove(&mut self, tag: &str) -> bool {
        match self.0.binary_search_by(|t| t.as_str().cmp(tag)) {
            Ok(at) => {
                self.0.remove(at);
                true
            }
            Err(_) => false,
        }
    }

    /// From tags in any order.
    pub fn from_any(tags: impl IntoIterator<Item = String>) -> Tags {
        let mut tags: Vec<CompactString> = tags.into_iter().map(CompactString::from).collect();
        tags.sort();
        tags.dedup();
        Tags(tags.into())
    }
}

/// Everything expressions read of one customer.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub(crate) struct Facts {
    /// The earliest time of an accepted event.
    pub first_seen: MaybeAt,
    /// The latest time of an accepted event.
    pub last_seen: MaybeAt,
    /// Profile attributes, by index.
    pub profile: Box<[Value]>,
    /// Manual tags.
    pub tags: Tags,
    /// Segments, tags and stages, by slot.
    pub derived: Box<[DerivedState]>,
    /// The aggregates' state.
    pub aggs: Aggregates,
    /// Per ledger: unspent credits, oldest first.
    pub ledgers: Box<[Credits]>,
    /// The zone attribute as last written, parsed: `profile[attr]` is this
    /// zone (`None`: not a valid one). A zone is otherwise a name look-up
    /// at every step and every firing.
    #[serde(skip)]
    zone: Memo<Option<(usize, Option<Zone>)>>,
}

/// What follows from the rest of the state and is kept only to save work:
/// not stored, no part in equality. A state without it (new, restored)
/// works it out again.
#[derive(Clone, Debug, Default)]
pub(crate) struct Memo<T>(pub T);

impl<T> PartialEq for Memo<T> {
    fn eq(&self, _: &Memo<T>) -> bool {
        true
    }
}

impl Facts {
    /// Nothing known yet.
    pub fn new(ir: &Ir) -> Facts {
        Facts {
            first_seen: MaybeAt::NONE,
            last_seen: MaybeAt::NONE,
            profile: vec![Value::Null; ir.profile.len()].into(),
            tags: Tags::default(),
            derived: vec![
                DerivedState {
                    value: DVal::Unknown,
                    until: FOREVER,
                };
                ir.derived.len()
            ]
            .into(),
            aggs: Aggregates::new(ir),
            ledgers: (0..ir.ledgers.len()).map(|_| Credits::default()).collect(),
            zone: Memo::default(),
        }
    }

    /// Asks for the blocks a step reads first (see `hint`).
    pub fn prefetch(&self) {
        prefetch(self.profile.as_ptr());
        prefetch(self.derived.as_ptr());
        prefetch(self.ledgers.as_ptr());
        self.aggs.prefetch();
    }

    /// Writes a profile attribute (the one place that does, so the zone
    /// memo follows it).
    pub fn set_profile(&mut self, ir: &Ir, attr: usize, v: Value) {
        self.zone.0 = if ir.customer_zone == Some(attr) {
            Some((attr, parse_zone(&v)))
        } else {
            self.zone.0.filter(|(a, _)| *a != attr)
        };
        self.profile[attr] = v;
    }

    /// The customer's zone: `timezone profile.F` when set and valid, else
    /// the program's.
    pub fn zone(&self, ir: &Ir) -> Zone {
        ir.customer_zone
            .and_then(|i| match self.zone.0 {
                Some((attr, zone)) if attr == i => zone,
                _ => parse_zone(&self.profile[i]),
            })
            .unwrap_or(ir.zone)
    }
}

fn parse_zone(v: &Value) -> Option<Zone> {
    match v {
        Value::Str(s) => Zone::parse(s),
        _ => None,
    }
}
