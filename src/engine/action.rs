//! Actions out (HOST.md): what the host should do, and when.

use crate::value::{Value, format_time};
use serde_json::{Map, Value as Json};

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
        let mut obj = Map::new();
        obj.insert("at".into(), format_time(self.at).into());
        obj.insert("customer".into(), self.customer.as_str().into());
        obj.insert(
            "rule".into(),
            self.rule.as_deref().map_or(Json::Null, Into::into),
        );
        obj.insert("action".into(), self.action.as_str().into());
        let args: Map<String, Json> = self
            .args
            .iter()
            .map(|(k, v)| (k.clone(), v.to_json()))
            .collect();
        obj.insert("args".into(), Json::Object(args));
        if let Some(v) = &self.variant {
            obj.insert("variant".into(), v.as_str().into());
        }
        obj.insert("id".into(), self.id.as_str().into());
        Json::Object(obj)
    }
}

/// Actions as a JSON array.
pub fn to_json_array(actions: &[Action]) -> Json {
    Json::Array(actions.iter().map(Action::to_json).collect())
}
