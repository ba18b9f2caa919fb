//! Runtime values and their JSON encoding (§2).

use crate::time::{Instant, rfc3339};
use chrono::NaiveDate;
use serde::{Deserialize, Serialize};
use std::cmp::Ordering;

/// A declarable value type (the language's types; `syntax` spells them).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Type {
    /// i64.
    Int,
    /// f64.
    Number,
    /// UTF-8 text.
    String,
    /// true / false.
    Bool,
    /// A calendar date.
    Date,
    /// An instant.
    Time,
    /// Whole seconds.
    Duration,
    /// `list<string>`.
    StringList,
}

impl Type {
    /// The spelling in source.
    pub fn as_str(self) -> &'static str {
        match self {
            Type::Int => "int",
            Type::Number => "number",
            Type::String => "string",
            Type::Bool => "bool",
            Type::Date => "date",
            Type::Time => "time",
            Type::Duration => "duration",
            Type::StringList => "list<string>",
        }
    }
}

/// A value serialized as action-argument JSON (docs/host.md, values in JSON): times as RFC 3339
/// text, dates as `YYYY-MM-DD`, durations as seconds. Writing it straight
/// to the output spares building a `serde_json::Value` per action.
pub struct AsJson<'a>(pub &'a Value);

impl Serialize for AsJson<'_> {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        match self.0 {
            Value::Null => s.serialize_unit(),
            Value::Bool(b) => s.serialize_bool(*b),
            Value::Int(i) | Value::Duration(i) => s.serialize_i64(*i),
            Value::Number(n) if n.is_finite() => s.serialize_f64(*n),
            Value::Number(_) => s.serialize_unit(),
            Value::Str(x) => s.serialize_str(x),
            Value::Date(d) => s.collect_str(&d.format("%Y-%m-%d")),
            Value::Time(t) => s.serialize_str(rfc3339(*t, &mut [0; 20])),
            Value::List(items) => s.collect_seq(items.iter().map(AsJson)),
        }
    }
}

/// A value an expression evaluates to.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub enum Value {
    /// Absent or unknown.
    Null,
    /// true / false.
    Bool(bool),
    /// i64.
    Int(i64),
    /// f64 (always finite).
    Number(f64),
    /// Text (inline up to 24 bytes: most values a program reads — a SKU,
    /// a city, a zone — live in the value itself, not behind a pointer).
    Str(compact_str::CompactString),
    /// A calendar date.
    Date(NaiveDate),
    /// An instant, in Unix seconds.
    Time(i64),
    /// Whole seconds.
    Duration(i64),
    /// A list.
    List(Box<[Value]>),
}

impl Value {
    /// Is this `null`?
    pub fn is_null(&self) -> bool {
        matches!(self, Value::Null)
    }

    /// The number of an int or number value.
    pub fn as_f64(&self) -> Option<f64> {
        match self {
            Value::Int(i) => Some(*i as f64),
            Value::Number(n) => Some(*n),
            _ => None,
        }
    }

    /// The whole seconds or integer of an int, time or duration value.
    pub fn as_whole(&self) -> Option<i64> {
        match self {
            Value::Int(x) | Value::Time(x) | Value::Duration(x) => Some(*x),
            _ => None,
        }
    }

    /// Three-valued truth: `None` for null (and, defensively, non-bools).
    pub fn truth(&self) -> Option<bool> {
        match self {
            Value::Bool(b) => Some(*b),
            _ => None,
        }
    }

    /// Same-type ordering (int/number mixed); `None` when incomparable or
    /// either side is null.
    pub fn compare(&self, other: &Value) -> Option<Ordering> {
        match (self, other) {
            (Value::Int(a), Value::Int(b)) => Some(a.cmp(b)),
            (Value::Str(a), Value::Str(b)) => Some(a.cmp(b)),
            (Value::Bool(a), Value::Bool(b)) => Some(a.cmp(b)),
            (Value::Date(a), Value::Date(b)) => Some(a.cmp(b)),
            (Value::Time(a), Value::Time(b)) | (Value::Duration(a), Value::Duration(b)) => {
                Some(a.cmp(b))
            }
            (Value::List(a), Value::List(b)) => (a == b).then_some(Ordering::Equal),
            (a, b) => a.as_f64()?.partial_cmp(&b.as_f64()?),
        }
    }

    /// The value as action-argument JSON.
    pub fn to_json(&self) -> serde_json::Value {
        // Infallible: every key is a string and every number is written as
        // JSON allows (a non-finite one as null).
        serde_json::to_value(AsJson(self)).unwrap_or(serde_json::Value::Null)
    }

    /// The value as the declared type, from a value given in Rust (an
    /// event built without JSON): an int stands for a number, an integral
    /// number for an int, a `YYYY-MM-DD` string for a date; `Err` names
    /// what was expected.
    pub(crate) fn conform(&self, ty: Type) -> Result<Value, String> {
        let wrong = || Err(format!("expected {}", ty.as_str()));
        Ok(match (ty, self) {
            (_, Value::Null) => Value::Null,
            (Type::Int, Value::Int(_))
            | (Type::Number, Value::Number(_))
            | (Type::String, Value::Str(_))
            | (Type::Bool, Value::Bool(_))
            | (Type::Date, Value::Date(_))
            | (Type::Time, Value::Time(_))
            | (Type::Duration, Value::Duration(_)) => self.clone(),
            (Type::Int, Value::Number(n)) if n.fract() == 0.0 && n.abs() < 9.0e18 => {
                Value::Int(*n as i64)
            }
            (Type::Number, Value::Int(i)) => Value::Number(*i as f64),
            (Type::Date, Value::Str(s)) => match NaiveDate::parse_from_str(s, "%Y-%m-%d") {
                Ok(d) => Value::Date(d),
                Err(_) => return Err("expected date \"YYYY-MM-DD\"".into()),
            },
            (Type::StringList, Value::List(items))
                if items.iter().all(|i| matches!(i, Value::Str(_))) =>
            {
                self.clone()
            }
            _ => return wrong(),
        })
    }

    /// Decodes a JSON value as the declared type; `Err` names what was
    /// expected. An explicit `null` is accepted for every type.
    pub fn from_json(json: &serde_json::Value, ty: Type) -> Result<Value, String> {
        use serde_json::Value as J;
        let wrong = || Err(format!("expected {}", ty.as_str()));
        Ok(match (ty, json) {
            (_, J::Null) => Value::Null,
            (Type::Bool, J::Bool(b)) => Value::Bool(*b),
            (Type::Int, J::Number(n)) => match n.as_i64() {
                Some(i) => Value::Int(i),
                None => match n.as_f64() {
                    Some(f) if f.fract() == 0.0 && f.abs() < 9.0e18 => Value::Int(f as i64),
                    _ => return Err("expected int (an integral number)".into()),
                },
            },
            (Type::Number, J::Number(n)) => match n.as_f64() {
                Some(f) if f.is_finite() => Value::Number(f),
                _ => return wrong(),
            },
            (Type::String, J::String(s)) => Value::Str(s.as_str().into()),
            (Type::Date, J::String(s)) => match NaiveDate::parse_from_str(s, "%Y-%m-%d") {
                Ok(d) => Value::Date(d),
                Err(_) => return Err("expected date \"YYYY-MM-DD\"".into()),
            },
            (Type::Time, J::String(s)) => match Instant::parse(s) {
                Ok(t) => Value::Time(t.unix()),
                Err(e) => return Err(format!("expected time: {e}")),
            },
            (Type::Duration, J::Number(n)) => match n.as_i64() {
                Some(i) => Value::Duration(i),
                None => return Err("expected duration (integer seconds)".into()),
            },
            (Type::StringList, J::Array(items)) => {
                let mut out = Vec::with_capacity(items.len());
                for item in items {
                    match item {
                        J::String(s) => out.push(Value::Str(s.as_str().into())),
                        _ => return Err("expected list<string>".into()),
                    }
                }
                Value::List(out.into())
            }
            _ => return wrong(),
        })
    }
}

impl From<f64> for Value {
    fn from(n: f64) -> Value {
        if n.is_finite() {
            Value::Number(n)
        } else {
            Value::Null
        }
    }
}

impl From<i64> for Value {
    fn from(n: i64) -> Value {
        Value::Int(n)
    }
}

impl From<bool> for Value {
    fn from(b: bool) -> Value {
        Value::Bool(b)
    }
}

impl From<&str> for Value {
    fn from(s: &str) -> Value {
        Value::Str(s.into())
    }
}

impl From<String> for Value {
    fn from(s: String) -> Value {
        Value::Str(s.into())
    }
}

impl From<Instant> for Value {
    fn from(t: Instant) -> Value {
        Value::Time(t.unix())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn json_decoding_follows_declared_types() {
        assert_eq!(Value::from_json(&json!(4.0), Type::Int), Ok(Value::Int(4)));
        assert!(Value::from_json(&json!(4.5), Type::Int).is_err());
        assert_eq!(
            Value::from_json(&json!(4), Type::Number),
            Ok(Value::Number(4.0))
        );
        assert!(Value::from_json(&json!("abc"), Type::Number).is_err());
        assert_eq!(Value::from_json(&json!(null), Type::Date), Ok(Value::Null));
        assert_eq!(
            Value::from_json(&json!("2026-03-01T10:00:00.9+08:00"), Type::Time),
            Ok(Value::Time(1772330400))
        );
        assert!(Value::from_json(&json!(["a", 1]), Type::StringList).is_err());
    }

    #[test]
    fn mixed_numbers_compare() {
        assert_eq!(
            Value::Int(2).compare(&Value::Number(2.5)),
            Some(Ordering::Less)
        );
        assert_eq!(Value::Int(2).compare(&Value::Null), None);
    }
}
