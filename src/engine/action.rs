//! Actions out (HOST.md): what the host should do, and when.

use crate::value::{AsJson, Value, format_time};
use serde::Serialize;
use serde::ser::SerializeMap;
use serde_json::Value as Json;

/// One action for the host to carry out.
#[derive(Clone, Debug, PartialEq)]
pub struct Action {
    /// The firing instant (Unix seconds).
    pub at: i64,
    /// The customer.
    pub customer: String,
    /// The rule that fired; `None` for an auto tag's change.
    pub rule: Option<String>,
    /// A host action's name, or `$tag_added`, `$tag_removed`, `$set`.
    pub action: String,
    /// Arguments, in declared parameter order.
    pub args: Vec<(String, Value)>,
    /// The A/B variant, for split rules.
    pub variant: Option<String>,
    /// Deterministic id: the same across replays, restarts,
    /// snapshot/restore and sharded runs, unique within the customer's
    /// history (`RULE/TRIGGER_INSTANT/OCCURRENCE/INDEX`, or
    /// `tag:NAME/…` for an auto tag).
    pub id: String,
}

impl Action {
    /// The action as its JSON object (keys in HOST.md's order).
    pub fn to_json(&self) -> Json {
        // Infallible: see `Value::to_json`.
        serde_json::to_value(self).unwrap_or(Json::Null)
    }
}

/// HOST.md's action object, keys in its order; `serde_json::to_writer` puts
/// it straight on the host's output.
impl Serialize for Action {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        struct Args<'a>(&'a [(String, Value)]);
        impl Serialize for Args<'_> {
            fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
                s.collect_map(self.0.iter().map(|(k, v)| (k, AsJson(v))))
            }
        }
        let mut m = s.serialize_map(Some(6 + usize::from(self.variant.is_some())))?;
        m.serialize_entry("at", &format_time(self.at))?;
        m.serialize_entry("customer", &self.customer)?;
        m.serialize_entry("rule", &self.rule)?;
        m.serialize_entry("action", &self.action)?;
        m.serialize_entry("args", &Args(&self.args))?;
        if let Some(v) = &self.variant {
            m.serialize_entry("variant", v)?;
        }
        m.serialize_entry("id", &self.id)?;
        m.end()
    }
}
