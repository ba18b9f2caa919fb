//! What expressions read of a customer: first and last seen, the profile,
//! manual tags, the last known value of each segment, tag and stage, the
//! aggregates' state and the ledgers. The engine owns one per customer and
//! steps it; evaluation only reads it.

use super::aggregate::Aggregates;
use super::ledger::Credits;
use crate::blocks::Three;
use crate::compile::Ir;
use crate::hint::{prefetch, prefetch_slice};
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
///
/// Every customer holds one per segment, tag and stage, so it is packed
/// into 10 bytes (the value one of 65,536 codes, the instant unaligned)
/// where the plain layout takes 16. It encodes as that plain layout
/// (`DerivedData`).
#[derive(Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(try_from = "DerivedData")]
#[repr(C, packed(2))]
pub(crate) struct DerivedState {
    /// Holds until this instant (exclusive).
    until: i64,
    /// The value: a label index, or one of the codes below.
    value: u16,
}

/// A derived value and its instant as they are encoded.
#[derive(Serialize, Deserialize)]
#[serde(rename = "DerivedState")]
struct DerivedData {
    value: DVal,
    until: i64,
}

/// The codes of the values that are not labels; a label index is below
/// them (the checker refuses a stage of more labels, see
/// `limits::MAX_STAGE_LABELS`).
const UNKNOWN: u16 = u16::MAX;
const TRUE: u16 = u16::MAX - 1;
const FALSE: u16 = u16::MAX - 2;

const _: () = assert!(crate::limits::MAX_STAGE_LABELS == FALSE as usize);
const _: () = assert!(std::mem::size_of::<DerivedState>() == 10);

impl DerivedState {
    /// `value`, holding until `until`; `None` for a label index of
    /// `MAX_STAGE_LABELS` or more, which no program has.
    pub fn new(value: DVal, until: i64) -> Option<DerivedState> {
        let value = match value {
            DVal::Unknown => UNKNOWN,
            DVal::Bool(true) => TRUE,
            DVal::Bool(false) => FALSE,
            DVal::Label(l) => u16::try_from(l).ok().filter(|l| *l < FALSE)?,
        };
        Some(DerivedState { until, value })
    }

    /// The value.
    pub fn value(&self) -> DVal {
        match self.value {
            UNKNOWN => DVal::Unknown,
            TRUE => DVal::Bool(true),
            FALSE => DVal::Bool(false),
            label => DVal::Label(u32::from(label)),
        }
    }

    /// The instant up to which it holds (exclusive).
    pub fn until(&self) -> i64 {
        self.until
    }

    /// Makes it hold only until `until`.
    pub fn set_until(&mut self, until: i64) {
        self.until = until;
    }

    /// Nothing known yet.
    pub const UNKNOWN: DerivedState = DerivedState {
        until: FOREVER,
        value: UNKNOWN,
    };
}

impl std::fmt::Debug for DerivedState {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DerivedState")
            .field("value", &self.value())
            .field("until", &self.until())
            .finish()
    }
}

impl Serialize for DerivedState {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        DerivedData {
            value: self.value(),
            until: self.until(),
        }
        .serialize(s)
    }
}

impl TryFrom<DerivedData> for DerivedState {
    type Error = &'static str;

    fn try_from(d: DerivedData) -> Result<DerivedState, &'static str> {
        DerivedState::new(d.value, d.until).ok_or("a stage's label index out of range")
    }
}

/// Manual tags (set by the host or by rules), sorted: a look-up is a
/// binary search, and what is stored does not depend on arrival order.
///
/// Most customers carry one tag at most, so one tag of up to 24 bytes is
/// kept in the state itself (24 bytes, the size of the string: the enum
/// takes its tag from the string's unused bit patterns); two or more go
/// to a list. It encodes as the sorted sequence either way.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub(crate) enum Tags {
    /// None.
    #[default]
    None,
    /// Exactly one.
    One(CompactString),
    /// Two or more, sorted.
    Many(Tight<CompactString>),
}

const _: () = assert!(std::mem::size_of::<Tags>() == std::mem::size_of::<CompactString>());

impl Tags {
    /// The tags, sorted.
    pub fn as_slice(&self) -> &[CompactString] {
        match self {
            Tags::None => &[],
            Tags::One(t) => std::slice::from_ref(t),
            Tags::Many(ts) => ts,
        }
    }

    /// Does the customer carry `tag`?
    pub fn contains(&self, tag: &str) -> bool {
        self.find(tag).is_ok()
    }

    fn find(&self, tag: &str) -> Result<usize, usize> {
        self.as_slice().binary_search_by(|t| t.as_str().cmp(tag))
    }

    /// Adds `tag`; whether it was new.
    pub fn insert(&mut self, tag: &str) -> bool {
        let Err(at) = self.find(tag) else {
            return false;
        };
        match self {
            Tags::None => *self = Tags::One(tag.into()),
            Tags::One(t) => {
                let mut ts: Tight<CompactString> = [std::mem::take(t)].into_iter().collect();
                ts.insert(at, tag.into());
                *self = Tags::Many(ts);
            }
            Tags::Many(ts) => ts.insert(at, tag.into()),
        }
        true
    }

    /// Removes `tag`; whether it was carried.
    pub fn remove(&mut self, tag: &str) -> bool {
        let Ok(at) = self.find(tag) else {
            return false;
        };
        *self = match std::mem::take(self) {
            Tags::None | Tags::One(_) => Tags::None,
            Tags::Many(mut ts) => {
                ts.remove(at);
                Tags::from_sorted(ts.take_all().into_iter())
            }
        };
        true
    }

    /// From tags in any order.
    pub fn from_any<T: Into<CompactString>>(tags: impl IntoIterator<Item = T>) -> Tags {
        let mut tags: Vec<CompactString> = tags.into_iter().map(Into::into).collect();
        tags.sort();
        tags.dedup();
        Tags::from_sorted(tags.into_iter())
    }

    /// From distinct tags, sorted.
    fn from_sorted(mut tags: impl ExactSizeIterator<Item = CompactString>) -> Tags {
        match (tags.len(), tags.next()) {
            (_, None) => Tags::None,
            (1, Some(t)) => Tags::One(t),
            (_, Some(t)) => Tags::Many(std::iter::once(t).chain(tags).collect()),
        }
    }
}

/// As the sorted sequence, as when the tags were always a list.
impl Serialize for Tags {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_seq(self.as_slice())
    }
}

/// Sorted and without repeats whatever the input's order, so that a
/// look-up's binary search holds for a hand-made state too.
impl<'de> Deserialize<'de> for Tags {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Tags, D::Error> {
        Ok(Tags::from_any(Vec::<CompactString>::deserialize(d)?))
    }
}

/// Everything expressions read of one customer.
#[derive(Clone, Debug, PartialEq)]
pub(crate) struct Facts {
    /// The earliest time of an accepted event.
    pub first_seen: MaybeAt,
    /// The latest time of an accepted event.
    pub last_seen: MaybeAt,
    /// Manual tags.
    pub tags: Tags,
    /// In one block: profile attributes, by index; per ledger, unspent
    /// credits, oldest first; segments, tags and stages, by slot. Their
    /// lengths are the program's and a step reads all three, so one block
    /// is one miss rather than three (the credits before the derived
    /// values, whose alignment is smaller, so that no padding comes
    /// between).
    parts: Three<Value, Credits, DerivedState>,
    /// The aggregates' state.
    pub aggs: Aggregates,
    /// The zone attribute as last written, parsed: `profile[attr]` is this
    /// zone (`None`: not a valid one). A zone is otherwise a name look-up
    /// at every step and every firing.
    zone: Memo<Option<(usize, Option<Zone>)>>,
}

/// The facts as they are encoded (the layout before [`Three`]).
#[derive(Serialize)]
#[serde(rename = "Facts")]
struct FactsRef<'a> {
    first_seen: MaybeAt,
    last_seen: MaybeAt,
    profile: &'a [Value],
    tags: &'a Tags,
    derived: &'a [DerivedState],
    aggs: &'a Aggregates,
    ledgers: &'a [Credits],
}

/// The facts as they are decoded.
#[derive(Deserialize)]
#[serde(rename = "Facts")]
struct FactsData {
    first_seen: MaybeAt,
    last_seen: MaybeAt,
    profile: Vec<Value>,
    tags: Tags,
    derived: Vec<DerivedState>,
    aggs: Aggregates,
    ledgers: Vec<Credits>,
}

impl Serialize for Facts {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        FactsRef {
            first_seen: self.first_seen,
            last_seen: self.last_seen,
            profile: self.profile(),
            tags: &self.tags,
            derived: self.derived(),
            aggs: &self.aggs,
            ledgers: self.ledgers(),
        }
        .serialize(s)
    }
}

impl<'de> Deserialize<'de> for Facts {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Facts, D::Error> {
        let data = FactsData::deserialize(d)?;
        let parts = Three::new(data.profile, data.ledgers, data.derived)
            .map_err(serde::de::Error::custom)?;
        Ok(Facts {
            first_seen: data.first_seen,
            last_seen: data.last_seen,
            tags: data.tags,
            parts,
            aggs: data.aggs,
            zone: Memo::default(),
        })
    }
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
        let profile = vec![Value::Null; ir.profile.len()];
        let ledgers = (0..ir.ledgers.len()).map(|_| Credits::default()).collect();
        let derived = vec![DerivedState::UNKNOWN; ir.derived.len()];
        // A program's attributes, ledgers and derived values number far
        // fewer than a block's lengths can count: each takes bytes of
        // source.
        let parts = Three::new(profile, ledgers, derived)
            .expect("a program has fewer than u32::MAX attributes");
        Facts {
            first_seen: MaybeAt::NONE,
            last_seen: MaybeAt::NONE,
            tags: Tags::default(),
            parts,
            aggs: Aggregates::new(ir),
            zone: Memo::default(),
        }
    }

    /// Profile attributes, by index (written through
    /// [`Facts::set_profile`] only).
    pub fn profile(&self) -> &[Value] {
        self.parts.parts().0
    }

    /// Per ledger, unspent credits, oldest first.
    pub fn ledgers(&self) -> &[Credits] {
        self.parts.parts().1
    }

    /// Segments, tags and stages, by slot.
    pub fn derived(&self) -> &[DerivedState] {
        self.parts.parts().2
    }

    /// [`Facts::ledgers`], to change.
    pub fn ledgers_mut(&mut self) -> &mut [Credits] {
        self.parts.parts_mut().1
    }

    /// [`Facts::derived`], to change.
    pub fn derived_mut(&mut self) -> &mut [DerivedState] {
        self.parts.parts_mut().2
    }

    /// Asks for the blocks a step reads first (see `hint`).
    pub fn prefetch(&self) {
        let (profile, ledgers, derived) = self.parts.parts();
        prefetch(profile.as_ptr());
        prefetch(ledgers.as_ptr());
        prefetch_slice(derived);
        self.aggs.prefetch();
    }

    /// Asks for the entries and credits behind the blocks of
    /// [`Facts::prefetch`]; reads those blocks.
    pub fn prefetch_entries(&self) {
        self.aggs.prefetch_entries();
        for credits in self.ledgers() {
            credits.prefetch();
        }
    }

    /// Writes a profile attribute (the one place that does, so the zone
    /// memo follows it).
    pub fn set_profile(&mut self, ir: &Ir, attr: usize, v: Value) {
        self.zone.0 = if ir.customer_zone == Some(attr) {
            Some((attr, parse_zone(&v)))
        } else {
            self.zone.0.filter(|(a, _)| *a != attr)
        };
        self.parts.parts_mut().0[attr] = v;
    }

    /// Works out the zone memo when it is not known: a state restored or
    /// read from outside carries none, and without it every step would
    /// look the zone's name up again (a tenth of a broadcast's time after
    /// a restore).
    pub fn remember_zone(&mut self, ir: &Ir) {
        if let Some(i) = ir.customer_zone {
            if self.zone.0.is_none_or(|(attr, _)| attr != i) {
                let zone = self.profile().get(i).and_then(parse_zone);
                self.zone.0 = Some((i, zone));
            }
        }
    }

    /// The customer's zone: `timezone profile.F` when set and valid, else
    /// the program's.
    pub fn zone(&self, ir: &Ir) -> Zone {
        ir.customer_zone
            .and_then(|i| match self.zone.0 {
                Some((attr, zone)) if attr == i => zone,
                _ => parse_zone(&self.profile()[i]),
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

#[cfg(test)]
mod tests {
    use super::{DVal, DerivedState, Facts, Tags};
    use crate::limits::MAX_STAGE_LABELS;
    use crate::value::Value;

    #[test]
    fn a_derived_value_packs_every_value_a_program_can_hold() {
        let last = MAX_STAGE_LABELS as u32 - 1;
        for v in [
            DVal::Unknown,
            DVal::Bool(false),
            DVal::Bool(true),
            DVal::Label(0),
            DVal::Label(last),
        ] {
            let d = DerivedState::new(v, -7).unwrap();
            assert_eq!((d.value(), d.until()), (v, -7));
        }
        assert_eq!(DerivedState::new(DVal::Label(last + 1), 0), None);
        assert_eq!(DerivedState::new(DVal::Label(u32::MAX), 0), None);
    }

    #[test]
    fn a_derived_value_encodes_as_the_plain_layout() {
        let d = DerivedState::new(DVal::Label(3), 5).unwrap();
        let json = serde_json::to_string(&d).unwrap();
        assert_eq!(json, r#"{"value":{"Label":3},"until":5}"#);
        assert_eq!(serde_json::from_str::<DerivedState>(&json).unwrap(), d);
        let unknown = serde_json::to_string(&DerivedState::UNKNOWN).unwrap();
        assert_eq!(
            unknown,
            format!(r#"{{"value":"Unknown","until":{}}}"#, i64::MAX)
        );
        let bytes = postcard::to_allocvec(&d).unwrap();
        assert_eq!(postcard::from_bytes::<DerivedState>(&bytes).unwrap(), d);
        let too_far = r#"{"value":{"Label":65533},"until":0}"#;
        assert!(serde_json::from_str::<DerivedState>(too_far).is_err());
    }

    #[test]
    fn a_decoded_state_remembers_its_zone_as_a_written_one_does() {
        let program = crate::compile(
            "timezone \"Asia/Shanghai\"\ntimezone profile.tz\nprofile { tz: string }\n\
             event e\naction a()\nrule r { when e do a() }",
        )
        .unwrap();
        let ir = program.ir();
        let mut written = Facts::new(ir);
        written.set_profile(ir, 0, Value::Str("Europe/Paris".into()));
        let json = serde_json::to_string(&written).unwrap();
        let mut read: Facts = serde_json::from_str(&json).unwrap();
        assert_eq!(read.zone.0, None, "the memo is not encoded");
        read.remember_zone(ir);
        assert_eq!(read.zone.0, written.zone.0);
        assert!(read.zone(ir) == written.zone(ir));
        assert!(
            read.zone(ir) != ir.zone,
            "the customer's own zone, not the program's"
        );
    }

    #[test]
    fn tags_stay_sorted_and_distinct_through_one_and_many() {
        let mut tags = Tags::default();
        assert!(tags.insert("b"));
        assert!(matches!(tags, Tags::One(_)));
        assert!(!tags.insert("b"));
        assert!(tags.insert("a") && tags.insert("c"));
        assert_eq!(tags.as_slice(), ["a", "b", "c"]);
        assert!(tags.remove("b") && !tags.remove("b"));
        assert!(tags.remove("a"));
        assert!(matches!(&tags, Tags::One(t) if t == "c"));
        assert!(tags.contains("c") && !tags.contains("a"));
        assert!(tags.remove("c"));
        assert_eq!(tags, Tags::None);
    }

    #[test]
    fn tags_encode_as_the_sorted_list_and_read_any_order() {
        let tags = Tags::from_any(["b", "a", "b"]);
        assert_eq!(serde_json::to_string(&tags).unwrap(), r#"["a","b"]"#);
        let read: Tags = serde_json::from_str(r#"["c","a","c"]"#).unwrap();
        assert_eq!(read.as_slice(), ["a", "c"]);
        let one: Tags = serde_json::from_str(r#"["x"]"#).unwrap();
        assert!(matches!(one, Tags::One(_)));
        let none: Tags = serde_json::from_str("[]").unwrap();
        assert_eq!(none, Tags::None);
    }
}
