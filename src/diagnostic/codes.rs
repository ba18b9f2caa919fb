//! Stable codes of the compiler's diagnostics (docs/codes.md explains each
//! with an example and its fix; `siyu explain-code CODE` prints that).
//!
//! A code names a kind of finding, not one message: messages may be
//! reworded, codes never change meaning, and a retired code is not reused.
//! `E01xx` syntax, `E02xx` names, `E03xx` types, `E04xx` declarations,
//! `E05xx` rules, `E09xx` limits; `W03xx` warnings.

use std::fmt;

macro_rules! codes {
    ($($variant:ident = $code:literal, $title:literal;)*) => {
        /// The kind of a diagnostic, as a stable code.
        #[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
        #[non_exhaustive]
        pub enum Code {
            $(
                #[doc = $title]
                $variant,
            )*
        }

        impl Code {
            /// Every code, in order.
            pub const ALL: &'static [Code] = &[$(Code::$variant),*];

            /// The code as printed: `E0201`, `W0301`.
            pub fn as_str(self) -> &'static str {
                match self {
                    $(Code::$variant => $code,)*
                }
            }

            /// What the code is about, in a few words.
            pub fn title(self) -> &'static str {
                match self {
                    $(Code::$variant => $title,)*
                }
            }
        }
    };
}

codes! {
    Internal = "E0001", "The compiler could not finish";
    Syntax = "E0101", "The text does not follow the grammar here";
    Duration = "E0102", "A duration is not written in seconds, minutes, hours, days or weeks";
    Number = "E0103", "A number, share or time of day is out of range";
    Escape = "E0104", "A string has an invalid escape";
    KeywordName = "E0105", "A keyword is used as a declared name";
    UnknownType = "E0106", "A field's type is not one of the language's types";
    Percent = "E0107", "A percentage outside `split` and `holdout`";
    UnknownEvent = "E0201", "An event type that is not declared";
    UnknownField = "E0202", "An event field that the event does not declare";
    UnknownProfile = "E0203", "A profile attribute that is not declared";
    UnknownAction = "E0204", "An action that is not declared";
    UnknownName = "E0205", "A name that no declaration gives";
    UnknownLabel = "E0206", "A stage label that the stage does not have";
    Duplicate = "E0207", "Something is declared or given twice";
    Cycle = "E0208", "Segments, tags or stages that read each other in a circle";
    UnknownZone = "E0209", "A time zone that is neither an IANA name nor a fixed offset";
    NoEventHere = "E0210", "`event.*` or `customer.*` where there is none";
    Mismatch = "E0301", "Values of types that do not go together";
    NotCondition = "E0302", "A value where a condition (bool) is needed";
    Arguments = "E0303", "A function given the wrong number or types of arguments";
    AggregateField = "E0304", "An aggregate without the field it needs, or with one it cannot use";
    StageValue = "E0305", "A stage used as a value instead of through its labels";
    ListType = "E0306", "A list of mixed types, or a list operator without a list";
    StageLabels = "E0401", "A stage whose labels are out of order or without `otherwise`";
    Ledger = "E0402", "A ledger clause that cannot be";
    QuietHours = "E0403", "Quiet hours that cannot be";
    Split = "E0404", "A split whose variants do not add up";
    Trigger = "E0501", "A rule without one trigger";
    NoAction = "E0502", "A rule that does nothing, or has both `do` and `split`";
    AtTwice = "E0503", "A rule with two `at` times";
    Goal = "E0504", "A `goal` on a rule without `split` or `holdout`";
    AutoTagWritten = "E0505", "A rule that adds or removes an auto tag";
    ActionArgs = "E0506", "An action call whose arguments do not match its declaration";
    Limit = "E0901", "The program exceeds one of the compiler's limits";
    NeverFires = "W0301", "A rule or segment whose conditions contradict each other";
    Shadowed = "W0302", "A stage label that an earlier label always takes over";
    Unused = "W0303", "A definition that nothing reads";
    Uncapped = "W0304", "An action whose channel no cap names";
    DoubleSend = "W0305", "Two rules sending the same message on the same trigger";
    NeverActs = "W0306", "A declaration or clause that can have no effect";
}

impl Code {
    /// The code printed as `text` (`E0201`, case-insensitive).
    pub fn parse(text: &str) -> Option<Code> {
        Code::ALL
            .iter()
            .copied()
            .find(|c| c.as_str().eq_ignore_ascii_case(text.trim()))
    }
}

impl fmt::Display for Code {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::Code;

    #[test]
    fn codes_are_unique_and_parse_back() {
        let mut seen = std::collections::BTreeSet::new();
        for c in Code::ALL {
            assert!(seen.insert(c.as_str()), "{} twice", c.as_str());
            assert_eq!(Code::parse(c.as_str()), Some(*c));
            assert_eq!(Code::parse(&c.as_str().to_lowercase()), Some(*c));
        }
        assert_eq!(Code::parse("E9999"), None);
    }
}
