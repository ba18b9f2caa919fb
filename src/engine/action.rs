//! Actions out (docs/host.md): what the host should do, and when.
//!
//! A step records each action as a few indices into the program and one
//! range of computed values; a host receives it as an
//! [`ActionRef`], a view that borrows every name from the program and the
//! customer's id from its state, and writes itself as JSON without
//! building anything. [`Action`] is the owned form, for hosts that keep
//! actions.

use crate::check::hir::{Effect, Rule};
use crate::compile::{CExpr, Ir};
use crate::time::Instant;
use crate::value::{AsJson, Value};
use serde::Serialize;
use serde::ser::SerializeMap;
use std::fmt;

/// One action for the host to carry out, owned.
#[derive(Clone, Debug, PartialEq)]
#[non_exhaustive]
pub struct Action {
    /// The firing instant.
    pub at: Instant,
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
    /// The action as its JSON object (keys in the documented order).
    pub fn to_json(&self) -> serde_json::Value {
        // Infallible: keys are strings and numbers are written as JSON
        // allows (see `Value::to_json`).
        serde_json::to_value(self).unwrap_or(serde_json::Value::Null)
    }

    /// Appends the action as one line of JSON (the object, then `\n`):
    /// what serializing it gives, written without serde's machinery.
    pub fn write_json_line(&self, out: &mut Vec<u8>) {
        self.view().write_json_line(out);
    }

    /// The action as a borrowed view, the one form that is written.
    fn view(&self) -> ActionRef<'_> {
        ActionRef {
            at: self.at,
            customer: &self.customer,
            rule: self.rule.as_deref(),
            action: &self.action,
            args: Args::Owned(&self.args),
            variant: self.variant.as_deref(),
            id: IdText::Owned(&self.id),
        }
    }
}

/// The documented action object, keys in order; `serde_json::to_writer`
/// puts it straight on the host's output.
impl Serialize for Action {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        self.view().serialize(s)
    }
}

/// An action as a step produced it, borrowed from the program and the
/// customer's state: reading or writing it builds nothing.
#[derive(Clone, Copy, Debug)]
pub struct ActionRef<'a> {
    at: Instant,
    customer: &'a str,
    rule: Option<&'a str>,
    action: &'a str,
    args: Args<'a>,
    variant: Option<&'a str>,
    id: IdText<'a>,
}

/// An action's arguments, as they are held.
#[derive(Clone, Copy, Debug)]
enum Args<'a> {
    /// A host action: its parameters and their values, in order.
    Host(&'a [String], &'a [Value]),
    /// `$tag_added` / `$tag_removed`: `{"tag": …}`.
    Tag(&'a str),
    /// `$set`: `{"attr": …, "value": …}`.
    Set(&'a str, &'a Value),
    /// An owned action's.
    Owned(&'a [(String, Value)]),
}

/// The parts of an action's id, joined when it is written.
#[derive(Clone, Copy, Debug)]
struct ActionId<'a> {
    /// The rule's name, or an auto tag's text (written `tag:NAME`).
    cause: &'a str,
    tag: bool,
    trigger_at: i64,
    occurrence: u32,
    index: u16,
}

impl fmt::Display for ActionId<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let prefix = if self.tag { "tag:" } else { "" };
        write!(
            f,
            "{prefix}{}/{}/{}/{}",
            self.cause, self.trigger_at, self.occurrence, self.index
        )
    }
}

impl<'a> ActionRef<'a> {
    /// The firing instant.
    pub fn at(&self) -> Instant {
        self.at
    }

    /// The customer.
    pub fn customer(&self) -> &'a str {
        self.customer
    }

    /// The rule that fired; `None` for an auto tag's change.
    pub fn rule(&self) -> Option<&'a str> {
        self.rule
    }

    /// A host action's name, or `$tag_added`, `$tag_removed`, `$set`.
    pub fn action(&self) -> &'a str {
        self.action
    }

    /// The A/B variant, for split rules.
    pub fn variant(&self) -> Option<&'a str> {
        self.variant
    }

    /// The deterministic id (see [`Action::id`]).
    pub fn id(&self) -> String {
        self.id.to_string()
    }

    /// The arguments, in declared parameter order.
    pub fn args(&self) -> Vec<(String, Value)> {
        match self.args {
            Args::Host(names, values) => {
                names.iter().cloned().zip(values.iter().cloned()).collect()
            }
            Args::Tag(tag) => vec![("tag".into(), Value::Str(tag.into()))],
            Args::Set(attr, value) => vec![
                ("attr".into(), Value::Str(attr.into())),
                ("value".into(), value.clone()),
            ],
            Args::Owned(args) => args.to_vec(),
        }
    }

    /// Appends the action as one line of JSON (the object, then `\n`):
    /// what serializing it gives, written without serde's machinery or an
    /// allocation.
    pub fn write_json_line(&self, out: &mut Vec<u8>) {
        out.extend_from_slice(b"{\"at\":\"");
        out.extend_from_slice(crate::time::rfc3339(self.at.unix(), &mut [0; 20]).as_bytes());
        out.extend_from_slice(b"\",\"customer\":");
        string(out, self.customer);
        out.extend_from_slice(b",\"rule\":");
        match self.rule {
            Some(r) => string(out, r),
            None => out.extend_from_slice(b"null"),
        }
        out.extend_from_slice(b",\"action\":");
        string(out, self.action);
        out.extend_from_slice(b",\"args\":");
        // Writing into a Vec cannot fail.
        let _ = serde_json::to_writer(&mut *out, &self.args);
        if let Some(v) = self.variant {
            out.extend_from_slice(b",\"variant\":");
            string(out, v);
        }
        out.extend_from_slice(b",\"id\":");
        match self.id {
            IdText::Owned(id) => string(out, id),
            IdText::Parts(p) => {
                // `"CAUSE/TRIGGER/OCCURRENCE/INDEX"`: the cause escaped (a tag's
                // text may need it), the rest digits.
                let quote = out.len();
                string(out, p.cause);
                out.pop();
                if p.tag {
                    out.splice(quote + 1..quote + 1, *b"tag:");
                }
                let mut n = itoa::Buffer::new();
                out.push(b'/');
                out.extend_from_slice(n.format(p.trigger_at).as_bytes());
                out.push(b'/');
                out.extend_from_slice(n.format(p.occurrence).as_bytes());
                out.push(b'/');
                out.extend_from_slice(n.format(p.index).as_bytes());
                out.push(b'"');
            }
        }
        out.extend_from_slice(b"}\n");
    }

    /// The owned action.
    pub fn to_owned(&self) -> Action {
        Action {
            at: self.at,
            customer: self.customer.to_string(),
            rule: self.rule.map(str::to_string),
            action: self.action.to_string(),
            args: self.args(),
            variant: self.variant.map(str::to_string),
            id: self.id(),
        }
    }
}

impl Serialize for ActionRef<'_> {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut m = s.serialize_map(Some(6 + usize::from(self.variant.is_some())))?;
        m.serialize_entry("at", &self.at)?;
        m.serialize_entry("customer", self.customer)?;
        m.serialize_entry("rule", &self.rule)?;
        m.serialize_entry("action", self.action)?;
        m.serialize_entry("args", &self.args)?;
        if let Some(v) = self.variant {
            m.serialize_entry("variant", v)?;
        }
        m.serialize_entry("id", &Collect(&self.id))?;
        m.end()
    }
}

impl Serialize for Args<'_> {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        match *self {
            Args::Host(names, values) => {
                s.collect_map(names.iter().zip(values).map(|(k, v)| (k, AsJson(v))))
            }
            Args::Tag(tag) => {
                let mut m = s.serialize_map(Some(1))?;
                m.serialize_entry("tag", tag)?;
                m.end()
            }
            Args::Set(attr, value) => {
                let mut m = s.serialize_map(Some(2))?;
                m.serialize_entry("attr", attr)?;
                m.serialize_entry("value", &AsJson(value))?;
                m.end()
            }
            Args::Owned(args) => s.collect_map(args.iter().map(|(k, v)| (k, AsJson(v)))),
        }
    }
}

/// An action's id as it is held: an owned action's text, or a step's
/// parts.
#[derive(Clone, Copy, Debug)]
enum IdText<'a> {
    Owned(&'a str),
    Parts(ActionId<'a>),
}

impl fmt::Display for IdText<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            IdText::Owned(id) => f.write_str(id),
            IdText::Parts(p) => p.fmt(f),
        }
    }
}

/// Appends `s` as a JSON string.
fn string(out: &mut Vec<u8>, s: &str) {
    // Writing into a Vec cannot fail.
    let _ = serde_json::to_writer(&mut *out, s);
}

/// A `Display` value written as a JSON string without an allocation.
struct Collect<'a, T>(&'a T);

impl<T: fmt::Display> Serialize for Collect<'_, T> {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self.0)
    }
}

/// An action as a step records it, until its instant is done.
#[derive(Clone, Debug)]
pub(crate) struct Emitted {
    /// When it fires.
    pub at: Instant,
    /// What it is.
    pub kind: Kind,
    /// The variant of a split firing.
    pub variant: Option<u16>,
    /// The firing's trigger instant and occurrence there, and the action's
    /// index in the firing (see [`Action::id`]).
    pub trigger_at: i64,
    /// Which firing at that instant.
    pub occurrence: u32,
    /// Which action of the firing.
    pub index: u16,
}

/// What an emitted action is, by index into the program.
#[derive(Clone, Debug)]
pub(crate) enum Kind {
    /// Host action `effect` of rule `rule`'s chosen actions, its argument
    /// values at `args` of the step's value buffer.
    Host {
        /// The rule.
        rule: u32,
        /// The action (index into the program's actions).
        action: u32,
        /// Where its argument values are.
        args: std::ops::Range<u32>,
    },
    /// A rule's `add tag`/`remove tag`: effect `effect` of its chosen
    /// actions.
    RuleTag {
        /// The rule.
        rule: u32,
        /// The effect (it names the tag).
        effect: u16,
        /// Added (or removed).
        added: bool,
    },
    /// An auto tag's change.
    AutoTag {
        /// The tag's derived slot.
        slot: u32,
        /// Added (or removed).
        added: bool,
    },
    /// A rule's `set profile.F = …`, the new value at `value`.
    Set {
        /// The rule.
        rule: u32,
        /// The attribute.
        attr: u32,
        /// Where the value is.
        value: u32,
    },
}

impl Emitted {
    /// The view of this action, its values in `values`, for customer `id`.
    pub fn view<'a>(&self, ir: &'a Ir, id: &'a str, values: &'a [Value]) -> ActionRef<'a> {
        let rule = |r: u32| &ir.rules[r as usize];
        let variant = |r: &'a Rule<CExpr>| -> Option<&'a str> {
            let v = usize::from(self.variant?);
            r.split
                .as_ref()?
                .variants
                .get(v)
                .map(|(n, _, _)| n.as_str())
        };
        let action_id = |cause: &'a str, tag: bool| {
            IdText::Parts(ActionId {
                cause,
                tag,
                trigger_at: self.trigger_at,
                occurrence: self.occurrence,
                index: self.index,
            })
        };
        let at = self.at;
        let slice = |r: &std::ops::Range<u32>| {
            values
                .get(r.start as usize..r.end as usize)
                .unwrap_or_default()
        };
        match &self.kind {
            Kind::Host {
                rule: r,
                action,
                args,
            } => {
                let (rule, info) = (rule(*r), &ir.actions[*action as usize]);
                ActionRef {
                    at,
                    customer: id,
                    rule: Some(&rule.name),
                    action: &info.name,
                    args: Args::Host(&info.params, slice(args)),
                    variant: variant(rule),
                    id: action_id(&rule.name, false),
                }
            }
            Kind::RuleTag {
                rule: r,
                effect,
                added,
            } => {
                let rule = rule(*r);
                let effects = rule.effects(self.variant.map(usize::from));
                let tag = match effects.get(usize::from(*effect)) {
                    Some(Effect::AddTag(t) | Effect::RemoveTag(t)) => t.as_str(),
                    _ => "",
                };
                ActionRef {
                    at,
                    customer: id,
                    rule: Some(&rule.name),
                    action: tag_action(*added),
                    args: Args::Tag(tag),
                    variant: variant(rule),
                    id: action_id(&rule.name, false),
                }
            }
            Kind::AutoTag { slot, added } => {
                let tag = ir.derived[*slot as usize].def.name();
                ActionRef {
                    at,
                    customer: id,
                    rule: None,
                    action: tag_action(*added),
                    args: Args::Tag(tag),
                    variant: None,
                    id: action_id(tag, true),
                }
            }
            Kind::Set {
                rule: r,
                attr,
                value,
            } => {
                let rule = rule(*r);
                ActionRef {
                    at,
                    customer: id,
                    rule: Some(&rule.name),
                    action: "$set",
                    args: Args::Set(
                        &ir.profile[*attr as usize].0,
                        values.get(*value as usize).unwrap_or(&Value::Null),
                    ),
                    variant: variant(rule),
                    id: action_id(&rule.name, false),
                }
            }
        }
    }
}

fn tag_action(added: bool) -> &'static str {
    if added { "$tag_added" } else { "$tag_removed" }
}

#[cfg(test)]
mod tests {
    use crate::Engine;

    /// The hand-written line is, byte for byte, what serializing gives:
    /// for views and owned actions, ids of rules and of tags whose text
    /// needs escaping, variants, nulls and every kind of value.
    #[test]
    fn json_lines_are_what_serde_writes() {
        let program = crate::compile(
            "event e { n: number, s: string }\nprofile { d: date }\n\
             action a(x: number, y: string, z: int)\n\
             tag \"q\\\"t\\\\\" when count(e) >= 1\n\
             rule r { when e do a(x: event.n, y: event.s, z: 3), set profile.d = null, add tag \"w\" }\n\
             rule v { when e split \"x\" { a1 50% do a(x: 1.5, y: \"\\u{1F600}\", z: -1) b1 50% do a(x: 2, y: \"\", z: 0) } }",
        )
        .expect("compiles");
        let mut engine = Engine::new(&program);
        let mut lines = Vec::new();
        let mut owned = Vec::new();
        for (c, n, s) in [("c1", "1e300", "a\\\"b"), ("c\\n2", "-0.25", "\\u0000x")] {
            let json = format!(
                "{{\"customer\": \"{c}\", \"type\": \"e\", \"time\": \"2026-01-01T00:00:00Z\", \"data\": {{\"n\": {n}, \"s\": \"{s}\"}}}}"
            );
            engine
                .process_into(&json, &mut |a: super::ActionRef<'_>| {
                    let mut line = Vec::new();
                    a.write_json_line(&mut line);
                    let want = serde_json::to_string(&a).expect("serializes") + "\n";
                    lines.push((String::from_utf8(line).expect("UTF-8"), want));
                    owned.push(a.to_owned());
                })
                .expect("valid");
        }
        assert!(lines.len() >= 8, "{lines:?}");
        for (got, want) in &lines {
            assert_eq!(got, want);
        }
        for a in &owned {
            let mut line = Vec::new();
            a.write_json_line(&mut line);
            let want = serde_json::to_string(a).expect("serializes") + "\n";
            assert_eq!(String::from_utf8(line).expect("UTF-8"), want);
        }
    }
}
