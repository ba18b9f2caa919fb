//! The types expressions have while they are checked.

use crate::syntax::ast::Type;
use std::fmt;

/// The static type of an expression.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Ty {
    /// The `null` literal: compatible with every type.
    Null,
    /// A sub-expression that already has an error: compatible with every
    /// type, so one mistake is reported once.
    Error,
    /// i64.
    Int,
    /// f64.
    Number,
    /// Text.
    String,
    /// Three-valued boolean.
    Bool,
    /// Calendar date.
    Date,
    /// Instant.
    Time,
    /// Seconds.
    Duration,
    /// A list of elements of one type.
    List(Box<Ty>),
    /// A bare stage name, only meaningful left of `is` / `in`.
    Stage(String),
}

impl Ty {
    /// The checker type of a declared type.
    pub fn of(t: Type) -> Ty {
        match t {
            Type::Int => Ty::Int,
            Type::Number => Ty::Number,
            Type::String => Ty::String,
            Type::Bool => Ty::Bool,
            Type::Date => Ty::Date,
            Type::Time => Ty::Time,
            Type::Duration => Ty::Duration,
            Type::StringList => Ty::List(Box::new(Ty::String)),
        }
    }

    /// Unknown enough (null or already wrong) to be compatible with anything.
    pub fn is_wild(&self) -> bool {
        matches!(self, Ty::Null | Ty::Error)
    }

    /// int or number.
    pub fn is_numeric(&self) -> bool {
        matches!(self, Ty::Int | Ty::Number)
    }

    /// The common type of two operands that may meet (`==`, `??`, list
    /// elements, `min`): equal types, int/number mixed, or a wild side.
    pub fn unify(&self, other: &Ty) -> Option<Ty> {
        match (self, other) {
            (a, b) if a == b => Some(a.clone()),
            (Ty::Error, _) | (_, Ty::Error) => Some(Ty::Error),
            (Ty::Null, b) => Some(b.clone()),
            (a, Ty::Null) => Some(a.clone()),
            (Ty::Int, Ty::Number) | (Ty::Number, Ty::Int) => Some(Ty::Number),
            (Ty::List(a), Ty::List(b)) => a.unify(b).map(|t| Ty::List(Box::new(t))),
            _ => None,
        }
    }

    /// Can a value of this type be stored where `want` is declared
    /// (action arguments, `set profile.F`)? An int fits a number.
    pub fn fits(&self, want: &Ty) -> bool {
        self.is_wild() || self == want || (*self == Ty::Int && *want == Ty::Number)
    }
}

impl fmt::Display for Ty {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Ty::Null => f.write_str("null"),
            Ty::Error => f.write_str("unknown"),
            Ty::Int => f.write_str("int"),
            Ty::Number => f.write_str("number"),
            Ty::String => f.write_str("string"),
            Ty::Bool => f.write_str("bool"),
            Ty::Date => f.write_str("date"),
            Ty::Time => f.write_str("time"),
            Ty::Duration => f.write_str("duration"),
            Ty::List(t) => write!(f, "list<{t}>"),
            Ty::Stage(s) => write!(f, "stage `{s}`"),
        }
    }
}
