//! Events in (docs/host.md): JSON validated against the program's
//! declarations, or built in Rust.

mod decode;

use crate::compile::{Ir, Program};
use crate::syntax::ast::Type;
use crate::time::{Instant, TimeError};
use crate::value::Value;
use compact_str::CompactString;
use serde_json::{Map, Value as Json};

/// Why an event was rejected. Each message names the offending field.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum EventError {
    /// Not a JSON object.
    #[error("not a JSON object: {0}")]
    NotJson(String),
    /// A required key is missing or not a string.
    #[error("`{0}` is required and must be a string")]
    Missing(&'static str),
    /// `time` is not RFC 3339 with an offset.
    #[error("`time` is not an RFC 3339 time with an offset: {0:?}")]
    BadTime(String),
    /// `time` is outside the range RFC 3339 can write.
    #[error("`time` {0} is after 9999-12-31T23:59:59Z or before 0000-01-01T00:00:00Z (in UTC)")]
    TimeOutOfRange(String),
    /// `data` is present but not an object.
    #[error("`data` must be an object")]
    BadData,
    /// A field the event type does not declare.
    #[error("event `{event}` has no field `{field}`")]
    UnknownField {
        /// The event type.
        event: String,
        /// The field.
        field: String,
    },
    /// A field of the wrong type.
    #[error("field `{field}` of `{event}`: {message}")]
    FieldType {
        /// The event type.
        event: String,
        /// The field.
        field: String,
        /// What was expected.
        message: String,
    },
    /// `customer` given to a broadcast, or missing from a customer event.
    #[error("{0}")]
    Customer(String),
    /// A reserved `$` type that does not exist, or misused.
    #[error("{0}")]
    Reserved(String),
}

/// What an event does.
#[derive(Clone, Debug, PartialEq)]
pub(crate) enum EventKind {
    /// A declared event (or broadcast), with its fields in declared order.
    Declared {
        /// Event type index.
        event: usize,
        /// Field values.
        fields: Vec<Value>,
    },
    /// A type the program does not declare: only `first_seen`/`last_seen`.
    Undeclared(String),
    /// `$profile`: attributes set (`null` unsets).
    Profile(Vec<(usize, Value)>),
    /// `$tag`.
    Tag(String),
    /// `$untag`.
    Untag(String),
    /// `$forget`.
    Forget,
}

/// A validated event: parsed from JSON ([`Event::parse_for`]) or built
/// ([`Event::builder`]) against a program.
#[derive(Clone, Debug, PartialEq)]
pub struct Event {
    /// Dedup id (inline up to 24 bytes, as ids mostly are).
    pub(crate) id: Option<CompactString>,
    /// The customer; `None` for a broadcast.
    pub(crate) customer: Option<CompactString>,
    /// When it happened (fractions truncated).
    pub(crate) at: Instant,
    /// What it does.
    pub(crate) kind: EventKind,
}

/// An event's `data`: decoded from JSON, or given as values.
enum Data<'a> {
    Json(&'a Map<String, Json>),
    Typed(&'a [(String, Value)]),
}

impl Data<'_> {
    fn keys(&self) -> Box<dyn Iterator<Item = &str> + '_> {
        match self {
            Data::Json(m) => Box::new(m.keys().map(String::as_str)),
            Data::Typed(v) => Box::new(v.iter().map(|(k, _)| k.as_str())),
        }
    }

    /// Field `key` as the declared type `ty`; `Err` says what was expected.
    fn value(&self, key: &str, ty: Type) -> Option<Result<Value, String>> {
        match self {
            Data::Json(m) => m.get(key).map(|j| Value::from_json(j, ty)),
            Data::Typed(v) => v
                .iter()
                .rev()
                .find(|(k, _)| k == key)
                .map(|(_, x)| x.conform(ty)),
        }
    }

    /// Field `key` as text.
    fn text(&self, key: &str) -> Option<&str> {
        match self {
            Data::Json(m) => m.get(key).and_then(Json::as_str),
            Data::Typed(v) => v
                .iter()
                .rev()
                .find(|(k, _)| k == key)
                .and_then(|(_, x)| match x {
                    Value::Str(s) => Some(s.as_str()),
                    _ => None,
                }),
        }
    }
}

/// Builds an event without JSON (see [`Event::builder`]).
#[derive(Clone, Debug)]
pub struct EventBuilder<'p> {
    program: &'p Program,
    kind: String,
    customer: Option<String>,
    time: Option<Instant>,
    id: Option<String>,
    data: Vec<(String, Value)>,
}

impl EventBuilder<'_> {
    /// The customer (none for a broadcast).
    pub fn customer(mut self, id: &str) -> Self {
        self.customer = Some(id.to_string());
        self
    }

    /// When it happened.
    pub fn time(mut self, t: Instant) -> Self {
        self.time = Some(t);
        self
    }

    /// A dedup id.
    pub fn id(mut self, id: &str) -> Self {
        self.id = Some(id.to_string());
        self
    }

    /// A field of its `data` (for `$profile`, an attribute; for `$tag`,
    /// `tag`).
    pub fn field(mut self, name: &str, value: impl Into<Value>) -> Self {
        self.data.push((name.to_string(), value.into()));
        self
    }

    /// The event, checked against the program as a JSON one is.
    pub fn build(self) -> Result<Event, EventError> {
        let time = self.time.ok_or(EventError::Missing("time"))?;
        Event::build(
            self.program.ir(),
            &self.kind,
            time,
            self.id.as_deref(),
            self.customer.as_deref(),
            &Data::Typed(&self.data),
        )
    }
}

impl Event {
    /// Parses and validates one JSON event against a program.
    pub fn parse_for(program: &Program, text: &str) -> Result<Event, EventError> {
        Event::parse(program.ir(), text)
    }

    /// An event of type `kind` (a declared event or broadcast, an
    /// undeclared type, or `$profile`, `$tag`, `$untag`, `$forget`) to build
    /// field by field:
    ///
    /// ```
    /// # let program = siyu::compile("event purchase { amount: number }")?;
    /// let ev = siyu::Event::builder(&program, "purchase")
    ///     .customer("c1")
    ///     .time(siyu::Instant::parse("2026-03-01T10:00:00+08:00")?)
    ///     .field("amount", 199.0)
    ///     .build()?;
    /// assert_eq!(ev.customer(), Some("c1"));
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn builder<'p>(program: &'p Program, kind: &str) -> EventBuilder<'p> {
        EventBuilder {
            program,
            kind: kind.to_string(),
            customer: None,
            time: None,
            id: None,
            data: Vec::new(),
        }
    }

    /// The customer; `None` for a broadcast.
    pub fn customer(&self) -> Option<&str> {
        self.customer.as_deref()
    }

    /// When it happened (fractions of a second truncated).
    pub fn time(&self) -> Instant {
        self.at
    }

    /// When it happened, in Unix seconds.
    pub(crate) fn secs(&self) -> i64 {
        self.at.unix()
    }

    /// Its dedup id.
    pub fn id(&self) -> Option<&str> {
        self.id.as_deref()
    }

    pub(crate) fn parse(ir: &Ir, text: &str) -> Result<Event, EventError> {
        // A well-formed, valid line takes the fast path; anything else (a
        // wrong type, a duplicate key, not an object) the general one,
        // which says what is wrong.
        if let Some(ev) = decode::fast(ir, text) {
            return Ok(ev);
        }
        let json: Json =
            serde_json::from_str(text).map_err(|e| EventError::NotJson(e.to_string()))?;
        Event::from_json(ir, &json)
    }

    fn from_json(ir: &Ir, json: &Json) -> Result<Event, EventError> {
        let obj = json
            .as_object()
            .ok_or_else(|| EventError::NotJson("expected an object".into()))?;
        let string = |key: &'static str| obj.get(key).and_then(Json::as_str);
        let kind_name = string("type").ok_or(EventError::Missing("type"))?;
        let time_text = string("time").ok_or(EventError::Missing("time"))?;
        let time = event_time(time_text)?;
        let id = match obj.get("id") {
            None | Some(Json::Null) => None,
            Some(Json::String(s)) => Some(s.as_str()),
            Some(_) => return Err(EventError::Missing("id")),
        };
        let empty = Map::new();
        let data = match obj.get("data") {
            None | Some(Json::Null) => &empty,
            Some(Json::Object(m)) => m,
            Some(_) => return Err(EventError::BadData),
        };
        let customer = match obj.get("customer") {
            None | Some(Json::Null) => None,
            Some(Json::String(s)) => Some(s.as_str()),
            Some(_) => return Err(EventError::Missing("customer")),
        };
        Event::build(ir, kind_name, time, id, customer, &Data::Json(data))
    }

    /// The event from its parts, every one of the right JSON type.
    fn build(
        ir: &Ir,
        kind_name: &str,
        time: Instant,
        id: Option<&str>,
        customer: Option<&str>,
        data: &Data<'_>,
    ) -> Result<Event, EventError> {
        let id = id.map(str::to_string);
        let customer = match customer {
            Some("") => return Err(EventError::Missing("customer")),
            c => c.map(str::to_string),
        };
        let kind = match kind_name {
            "$profile" => {
                let mut attrs = Vec::new();
                for k in data.keys() {
                    let Some(i) = ir.profile.iter().position(|(n, _)| n == k) else {
                        return Err(EventError::UnknownField {
                            event: "$profile".into(),
                            field: k.to_string(),
                        });
                    };
                    let decoded = data.value(k, ir.profile[i].1).unwrap_or(Ok(Value::Null));
                    let value = decoded.map_err(|message| EventError::FieldType {
                        event: "$profile".into(),
                        field: k.to_string(),
                        message,
                    })?;
                    attrs.push((i, value));
                }
                EventKind::Profile(attrs)
            }
            "$tag" | "$untag" => {
                let tag = data.text("tag").ok_or_else(|| {
                    EventError::Reserved(format!("`{kind_name}` needs `data: {{\"tag\": \"…\"}}`"))
                })?;
                if ir.auto_tags.contains_key(tag) {
                    return Err(EventError::Reserved(format!(
                        "\"{tag}\" is an auto tag: its condition sets it, not `{kind_name}`"
                    )));
                }
                if kind_name == "$tag" {
                    EventKind::Tag(tag.to_string())
                } else {
                    EventKind::Untag(tag.to_string())
                }
            }
            "$forget" => EventKind::Forget,
            reserved if reserved.starts_with('$') => {
                return Err(EventError::Reserved(format!(
                    "unknown reserved event type `{reserved}`"
                )));
            }
            name => match ir.event_ids.get(name) {
                Some(&event) => EventKind::Declared {
                    event,
                    fields: fields(ir, event, data)?,
                },
                None => EventKind::Undeclared(name.to_string()),
            },
        };
        let broadcast =
            matches!(kind, EventKind::Declared { event, .. } if ir.events[event].broadcast);
        match (&customer, broadcast) {
            (Some(_), true) => {
                return Err(EventError::Customer(format!(
                    "broadcast `{kind_name}` is about no one customer: send it without `customer`"
                )));
            }
            (None, false) => return Err(EventError::Missing("customer")),
            _ => {}
        }
        Ok(Event {
            id: id.map(CompactString::from),
            customer: customer.map(CompactString::from),
            at: time,
            kind,
        })
    }

    /// Is this a broadcast?
    pub fn is_broadcast(&self) -> bool {
        self.customer.is_none()
    }
}

/// An event's `time`.
fn event_time(text: &str) -> Result<Instant, EventError> {
    match Instant::parse(text) {
        Ok(t) => Ok(t),
        Err(TimeError::OutOfRange(_)) => Err(EventError::TimeOutOfRange(text.to_string())),
        Err(_) => Err(EventError::BadTime(text.to_string())),
    }
}

fn fields(ir: &Ir, event: usize, data: &Data<'_>) -> Result<Vec<Value>, EventError> {
    let info = &ir.events[event];
    for k in data.keys() {
        if !info.fields.iter().any(|(f, _)| f == k) {
            return Err(EventError::UnknownField {
                event: info.name.clone(),
                field: k.to_string(),
            });
        }
    }
    info.fields
        .iter()
        .map(|(f, ty)| match data.value(f, *ty) {
            None => Ok(Value::Null),
            Some(v) => v.map_err(|message| EventError::FieldType {
                event: info.name.clone(),
                field: f.clone(),
                message,
            }),
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The typed parse and the general one agree, on good lines and bad.
    #[test]
    fn typed_and_general_parses_agree() {
        let program = crate::compile(
            "event purchase { amount: number }\nbroadcast restock {}\nprofile { city: string }",
        )
        .expect("compiles");
        let ir = program.ir();
        let t = "\"time\": \"2026-01-01T00:00:00+08:00\"";
        let lines = [
            format!(
                "{{\"customer\": \"c1\", \"type\": \"purchase\", {t}, \"data\": {{\"amount\": 5}}}}"
            ),
            format!(
                "{{\"customer\": \"c\\u0031\", \"type\": \"purchase\", {t}, \"id\": \"e1\", \"data\": null}}"
            ),
            format!("{{\"type\": \"restock\", {t}}}"),
            format!(
                "{{\"customer\": \"c1\", \"type\": \"$profile\", {t}, \"data\": {{\"city\": \"SH\"}}}}"
            ),
            format!(
                "{{\"customer\": \"c1\", \"type\": \"$tag\", {t}, \"data\": {{\"tag\": \"x\"}}, \"extra\": 1}}"
            ),
            format!("{{\"customer\": \"\", \"type\": \"purchase\", {t}}}"),
            format!("{{\"customer\": 7, \"type\": \"purchase\", {t}}}"),
            format!("{{\"customer\": \"c1\", \"type\": \"purchase\", {t}, \"id\": 3}}"),
            format!("{{\"customer\": \"c1\", \"type\": \"purchase\", {t}, \"data\": []}}"),
            r#"{"customer": "c1", "type": "purchase", "time": "yesterday"}"#.to_string(),
            format!("{{\"customer\": \"c1\", \"type\": \"purchase\", \"type\": \"visit\", {t}}}"),
            format!("{{\"customer\": \"c1\", {t}}}"),
            format!(
                "{{\"customer\": \"c1\", \"type\": \"purchase\", {t}, \"data\": {{\"amount\": \"x\"}}}}"
            ),
            format!("{{\"type\": \"purchase\", {t}}}"),
            format!("{{\"customer\": \"c1\", \"type\": \"restock\", {t}}}"),
            "[1, 2]".to_string(),
            format!("{{\"customer\": \"c1\", \"type\": \"visit\", {t}, \"data\": 5}}"),
            format!(
                "{{\"customer\": \"c1\", \"type\": \"visit\", {t}, \"data\": {{\"any\": [1]}}}}"
            ),
            format!(
                "{{\"customer\": \"c1\", \"type\": \"purchase\", {t}, \"data\": {{\"amount\": 5, \"amount\": 7}}}}"
            ),
            format!(
                "{{\"customer\": \"c1\", \"type\": \"purchase\", {t}, \"data\": {{\"amount\": 1e400}}}}"
            ),
            format!(
                "{{\"customer\": \"c1\", \"type\": \"purchase\", {t}, \"data\": {{\"amount\": 18446744073709551615}}}}"
            ),
            format!(
                "{{\"customer\": \"c1\", \"type\": \"$profile\", {t}, \"data\": {{\"city\": null, \"city\": \"BJ\"}}}}"
            ),
            format!(
                "{{\"customer\": \"c1\", \"type\": \"$profile\", {t}, \"data\": {{\"town\": 1}}}}"
            ),
            format!(
                "{{\"customer\": \"c1\", \"type\": \"$untag\", {t}, \"data\": {{\"tag\": \"x\", \"more\": 2}}}}"
            ),
            format!("{{\"customer\": \"c1\", \"type\": \"$tag\", {t}, \"data\": {{\"tag\": 3}}}}"),
            format!("{{\"customer\": \"c1\", \"type\": \"$nope\", {t}}}"),
            r#"{"customer": "c1", "type": "purchase", "time": "9999-12-31T23:00:00-12:00"}"#
                .to_string(),
        ];
        for line in &lines {
            let general = serde_json::from_str::<Json>(line)
                .map_err(|e| EventError::NotJson(e.to_string()))
                .and_then(|json| Event::from_json(ir, &json));
            assert_eq!(Event::parse(ir, line), general, "{line}");
        }
    }
}
