//! The fast path of event parsing: a well-formed line decoded straight
//! into the event, `data` into its declared fields by name and type, with
//! no JSON tree built and strings borrowed where they need no escaping.
//! Anything it does not take — a malformed or invalid line — goes to the
//! general parse, which says what is wrong; both accept the same events.

use super::{Event, EventKind};
use crate::compile::Ir;
use crate::syntax::ast::Type;
use crate::time::Instant;
use crate::value::Value;
use compact_str::CompactString;
use serde::Deserializer as _;
use serde::de::{self, DeserializeSeed, MapAccess, SeqAccess, Visitor};
use serde_json::value::RawValue;
use std::borrow::Cow;
use std::fmt;

/// An event line as its keys' JSON types say it should be; `data` kept as
/// text until the type says what its fields are.
#[derive(serde::Deserialize)]
struct Line<'a> {
    #[serde(borrow)]
    customer: Option<Text<'a>>,
    #[serde(borrow, rename = "type")]
    kind: Cow<'a, str>,
    #[serde(borrow)]
    time: Cow<'a, str>,
    #[serde(borrow)]
    id: Option<Text<'a>>,
    #[serde(borrow)]
    data: Option<&'a RawValue>,
}

/// A string borrowed from the line unless it had escapes to undo. (serde
/// borrows a `Cow` only as a field of its own, not inside an `Option`.)
struct Text<'a>(Cow<'a, str>);

impl<'de: 'a, 'a> serde::Deserialize<'de> for Text<'a> {
    fn deserialize<D: de::Deserializer<'de>>(d: D) -> Result<Text<'a>, D::Error> {
        d.deserialize_str(TextVisitor)
    }
}

struct TextVisitor;

impl<'de> Visitor<'de> for TextVisitor {
    type Value = Text<'de>;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a string")
    }

    fn visit_borrowed_str<E: de::Error>(self, s: &'de str) -> Result<Text<'de>, E> {
        Ok(Text(Cow::Borrowed(s)))
    }

    fn visit_str<E: de::Error>(self, s: &str) -> Result<Text<'de>, E> {
        Ok(Text(Cow::Owned(s.to_owned())))
    }
}

/// The event of a well-formed, valid line; `None` otherwise.
pub(super) fn fast(ir: &Ir, text: &str) -> Option<Event> {
    let line: Line<'_> = serde_json::from_str(text).ok()?;
    let at = Instant::parse(&line.time).ok()?;
    let customer = match line.customer.as_ref().map(|c| &*c.0) {
        Some("") => return None,
        c => c.map(CompactString::from),
    };
    let data = line.data.map(RawValue::get);
    // `data` is an object, or absent.
    if data.is_some_and(|d| !d.trim_start().starts_with('{')) {
        return None;
    }
    let kind = match &*line.kind {
        "$profile" => {
            let given = match data {
                Some(d) => decode(d, &ir.profile)?,
                None => Vec::new(),
            };
            // In the order given, each once (the last wins, as in a JSON map).
            let mut attrs: Vec<(usize, Value)> = Vec::with_capacity(given.len());
            for (i, v) in given {
                match attrs.iter_mut().find(|(j, _)| *j == i) {
                    Some(slot) => slot.1 = v,
                    None => attrs.push((i, v)),
                }
            }
            EventKind::Profile(attrs)
        }
        "$tag" | "$untag" => {
            let decl = [("tag", Type::String)];
            let Some((_, Value::Str(tag))) = decode(data?, &decl)?.pop() else {
                return None;
            };
            if ir.auto_tags.contains_key(tag.as_str()) {
                return None;
            }
            if line.kind == "$tag" {
                EventKind::Tag(tag.into())
            } else {
                EventKind::Untag(tag.into())
            }
        }
        "$forget" => EventKind::Forget,
        reserved if reserved.starts_with('$') => return None,
        name => match ir.event_ids.get(name) {
            Some(&event) => {
                let decl = &ir.events[event].fields;
                // Straight into their places: a field given twice keeps
                // the last.
                let mut fields = vec![Value::Null; decl.len()];
                if let Some(d) = data {
                    decode_each(d, decl, |i, v| fields[i] = v)?;
                }
                EventKind::Declared { event, fields }
            }
            None => EventKind::Undeclared(name.to_string()),
        },
    };
    let broadcast = matches!(kind, EventKind::Declared { event, .. } if ir.events[event].broadcast);
    if customer.is_some() == broadcast {
        return None;
    }
    Some(Event {
        id: line.id.map(|id| CompactString::from(&*id.0)),
        customer,
        at,
        kind,
    })
}

/// `data` (an object): the fields given, as (declared index, value), in
/// the order given.
fn decode<N: AsRef<str>>(data: &str, decl: &[(N, Type)]) -> Option<Vec<(usize, Value)>> {
    let mut given = Vec::with_capacity(decl.len());
    decode_each(data, decl, |i, v| given.push((i, v)))?;
    Some(given)
}

/// `data` (an object): each field given handed to `put` as (declared
/// index, value), in the order given; `None` if any is bad (some may have
/// been handed already).
fn decode_each<N: AsRef<str>>(
    data: &str,
    decl: &[(N, Type)],
    put: impl FnMut(usize, Value),
) -> Option<()> {
    let mut de = serde_json::Deserializer::from_str(data);
    de.deserialize_map(Fields { decl, put }).ok()?;
    de.end().ok()
}

struct Fields<'d, N, F> {
    decl: &'d [(N, Type)],
    put: F,
}

impl<'de, N: AsRef<str>, F: FnMut(usize, Value)> Visitor<'de> for Fields<'_, N, F> {
    type Value = ();

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("an object of declared fields")
    }

    fn visit_map<A: MapAccess<'de>>(mut self, mut map: A) -> Result<(), A::Error> {
        while let Some(i) = map.next_key_seed(Key(self.decl))? {
            let v = map.next_value_seed(Typed(self.decl[i].1))?;
            (self.put)(i, v);
        }
        Ok(())
    }
}

/// A key of `data`: the index of the declared field it names, found
/// without copying the key.
struct Key<'d, N>(&'d [(N, Type)]);

impl<'de, N: AsRef<str>> DeserializeSeed<'de> for Key<'_, N> {
    type Value = usize;

    fn deserialize<D: de::Deserializer<'de>>(self, d: D) -> Result<usize, D::Error> {
        d.deserialize_str(self)
    }
}

impl<'de, N: AsRef<str>> Visitor<'de> for Key<'_, N> {
    type Value = usize;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a declared field")
    }

    fn visit_str<E: de::Error>(self, key: &str) -> Result<usize, E> {
        self.0
            .iter()
            .position(|(n, _)| n.as_ref() == key)
            .ok_or_else(|| E::custom("undeclared field"))
    }
}

/// A field's value, decoded as its declared type is encoded in JSON.
struct Typed(Type);

impl<'de> DeserializeSeed<'de> for Typed {
    type Value = Value;

    fn deserialize<D: de::Deserializer<'de>>(self, d: D) -> Result<Value, D::Error> {
        d.deserialize_any(self)
    }
}

impl<'de> Visitor<'de> for Typed {
    type Value = Value;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.0.as_str())
    }

    fn visit_unit<E: de::Error>(self) -> Result<Value, E> {
        Ok(Value::Null)
    }

    fn visit_bool<E: de::Error>(self, b: bool) -> Result<Value, E> {
        match self.0 {
            Type::Bool => Ok(Value::Bool(b)),
            _ => Err(E::custom("wrong type")),
        }
    }

    fn visit_i64<E: de::Error>(self, n: i64) -> Result<Value, E> {
        match self.0 {
            Type::Int => Ok(Value::Int(n)),
            Type::Number => Ok(Value::Number(n as f64)),
            Type::Duration => Ok(Value::Duration(n)),
            _ => Err(E::custom("wrong type")),
        }
    }

    fn visit_u64<E: de::Error>(self, n: u64) -> Result<Value, E> {
        match (self.0, i64::try_from(n)) {
            (_, Ok(i)) => self.visit_i64(i),
            (Type::Number, Err(_)) => Ok(Value::Number(n as f64)),
            _ => Err(E::custom("out of range")),
        }
    }

    fn visit_f64<E: de::Error>(self, n: f64) -> Result<Value, E> {
        match self.0 {
            Type::Number if n.is_finite() => Ok(Value::Number(n)),
            Type::Int if n.fract() == 0.0 && n.abs() < 9.0e18 => Ok(Value::Int(n as i64)),
            _ => Err(E::custom("wrong type")),
        }
    }

    fn visit_str<E: de::Error>(self, s: &str) -> Result<Value, E> {
        match self.0 {
            Type::String => Ok(Value::Str(s.into())),
            Type::Date => chrono::NaiveDate::parse_from_str(s, "%Y-%m-%d")
                .map(Value::Date)
                .map_err(|_| E::custom("not a date")),
            Type::Time => Instant::parse(s)
                .map(|t| Value::Time(t.unix()))
                .map_err(|_| E::custom("not a time")),
            _ => Err(E::custom("wrong type")),
        }
    }

    fn visit_string<E: de::Error>(self, s: String) -> Result<Value, E> {
        match self.0 {
            Type::String => Ok(Value::Str(s.into())),
            _ => self.visit_str(&s),
        }
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Value, A::Error> {
        if self.0 != Type::StringList {
            return Err(de::Error::custom("wrong type"));
        }
        let mut out = Vec::new();
        while let Some(s) = seq.next_element::<Cow<'de, str>>()? {
            out.push(Value::Str(s.as_ref().into()));
        }
        Ok(Value::List(out.into()))
    }
}
