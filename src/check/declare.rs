//! The first pass: every declared name, so that declarations are
//! order-free (§1) and the later passes can resolve any name to its index.

use super::{ActionSym, Checker, DerivedKey, EventSym};
use crate::diagnostic::Code;
use crate::diagnostic::{Diagnostic, Span};
use crate::syntax::ast::*;
use crate::zone::Zone;
use indexmap::{IndexMap, IndexSet};

impl Checker<'_> {
    pub(super) fn declare(&mut self, module: &Module) {
        // One namespace for events, broadcasts, actions, segments, stages,
        // ledgers and rules (§3 "Names").
        let mut namespace: IndexMap<String, &'static str> = IndexMap::new();
        let mut claim = |c: &mut Self, name: &Ident, kind: &'static str| -> bool {
            if let Some(prev_kind) = namespace.get(&name.node) {
                let article = if prev_kind.starts_with(['a', 'e']) {
                    "an"
                } else {
                    "a"
                };
                let msg = format!(
                    "`{}` is already declared as {article} {prev_kind}",
                    name.node
                );
                c.error(Code::Duplicate, name.span, msg);
                return false;
            }
            namespace.insert(name.node.clone(), kind);
            true
        };
        let mut zone_seen = false;
        for item in &module.items {
            match item {
                Item::Timezone(z) => {
                    if std::mem::replace(&mut zone_seen, true) {
                        self.error(
                            Code::Duplicate,
                            z.span,
                            "the program time zone is declared twice",
                        );
                    }
                    self.timezone(z);
                }
                Item::Event(e) => {
                    let kind = if e.broadcast { "broadcast" } else { "event" };
                    if claim(self, &e.name, kind) {
                        let fields = self.field_map(&e.fields, "field");
                        self.t.events.insert(
                            e.name.node.clone(),
                            EventSym {
                                broadcast: e.broadcast,
                                fields,
                            },
                        );
                    }
                }
                Item::Profile(fields) => {
                    for f in fields {
                        if self.t.profile.contains_key(&f.name.node) {
                            self.error(
                                Code::Duplicate,
                                f.name.span,
                                format!("profile attribute `{}` is declared twice", f.name.node),
                            );
                        } else {
                            self.t.profile.insert(f.name.node.clone(), f.ty.node);
                        }
                    }
                }
                Item::Action(a) => {
                    if claim(self, &a.name, "action") {
                        let params = self.field_map(&a.params, "parameter");
                        self.t.actions.insert(
                            a.name.node.clone(),
                            ActionSym {
                                params,
                                channel: a.channel.as_ref().map(|c| c.node.clone()),
                            },
                        );
                    }
                }
                Item::Segment(s) => {
                    if claim(self, &s.name, "segment") {
                        self.derived(DerivedKey::Segment(s.name.node.clone()), s.name.span);
                    }
                }
                Item::Stage(s) => {
                    if claim(self, &s.name, "stage") {
                        let labels = s.labels.iter().map(|l| l.name.node.clone()).collect();
                        self.t.stage_labels.insert(s.name.node.clone(), labels);
                        self.derived(DerivedKey::Stage(s.name.node.clone()), s.name.span);
                    }
                }
                Item::Ledger(l) => {
                    if claim(self, &l.name, "ledger") {
                        self.t.ledgers.insert(l.name.node.clone(), ());
                    }
                }
                Item::Rule(r) => {
                    if claim(self, &r.name, "rule") {
                        self.t.rules.insert(r.name.node.clone(), ());
                    }
                }
                Item::Tag(t) => {
                    let key = DerivedKey::Tag(t.name.node.clone());
                    if self.t.has(key.clone()) {
                        self.error(
                            Code::Duplicate,
                            t.name.span,
                            format!("auto tag \"{}\" is declared twice", t.name.node),
                        );
                    } else {
                        self.derived(key, t.name.span);
                    }
                }
                Item::CustomerTimezone(_) | Item::Cap(_) | Item::Quiet(_) => {}
            }
        }
    }

    fn derived(&mut self, key: DerivedKey, span: Span) {
        self.t.derived.insert(key, span);
        self.deps.push(IndexSet::new());
    }

    fn timezone(&mut self, z: &Spanned<String>) {
        match Zone::parse(&z.node) {
            Some(zone) => self.t.timezone = zone,
            None => {
                let candidates: Vec<&str> =
                    chrono_tz::TZ_VARIANTS.iter().map(|t| t.name()).collect();
                let d = Diagnostic::error(
                    Code::UnknownZone,
                    self.out.source,
                    z.span,
                    format!("unknown time zone `{}`", z.node),
                )
                .with_suggestion(&z.node, candidates);
                let d = if d.help.is_none() {
                    d.with_help(
                        "use an IANA name such as \"Asia/Shanghai\" or an offset such as \"+08:00\"",
                    )
                } else {
                    d
                };
                self.out.errors.push(d);
            }
        }
    }

    fn field_map(&mut self, fields: &[Field], what: &str) -> IndexMap<String, Type> {
        let mut map = IndexMap::new();
        for f in fields {
            if map.insert(f.name.node.clone(), f.ty.node).is_some() {
                self.error(
                    Code::Duplicate,
                    f.name.span,
                    format!("{what} `{}` is declared twice", f.name.node),
                );
            }
        }
        map
    }
}
