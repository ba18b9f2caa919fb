//! pest errors → diagnostics in the user's words: what was expected, what
//! was found, and a "did you mean" for a misspelt keyword.

use super::{Rule, is_keyword};
use crate::diagnostic::{Code, Diagnostic, Span};

/// Converts a pest error from parsing `source[offset..]` into a
/// diagnostic in the user's words, placed in the whole `source`.
pub(super) fn syntax_error(
    source: &str,
    offset: usize,
    e: &pest::error::Error<Rule>,
) -> Diagnostic {
    let at = offset
        + match e.location {
            pest::error::InputLocation::Pos(p) => p,
            pest::error::InputLocation::Span((s, _)) => s,
        };
    let (positives, negatives) = match &e.variant {
        pest::error::ErrorVariant::ParsingError {
            positives,
            negatives,
        } => (positives.clone(), negatives.clone()),
        pest::error::ErrorVariant::CustomError { .. } => (Vec::new(), Vec::new()),
    };
    let found = found_at(source, at);
    let mut expected: Vec<&str> = Vec::new();
    for r in &positives {
        let d = describe(*r);
        if !expected.contains(&d) {
            expected.push(d);
        }
    }
    let message = if expected.is_empty() {
        format!("unexpected {}", found.1)
    } else {
        format!("expected {}, found {}", enumerate(&expected), found.1)
    };
    let d = Diagnostic::error(Code::Syntax, source, Span::new(at, at + found.0), message);
    let word = &source[at..at + found.0];
    if negatives.contains(&Rule::keyword) || (is_keyword(word) && positives.contains(&Rule::ident))
    {
        return d.with_help(format!(
            "`{word}` is a keyword; a declared name cannot be one"
        ));
    }
    if !word.is_empty() && word.bytes().all(|b| b.is_ascii_digit() || b == b'_') {
        let wants_duration = positives.iter().any(|r| {
            matches!(
                r,
                Rule::trigger | Rule::duration_lit | Rule::duration | Rule::after_trigger
            )
        });
        if wants_duration {
            return d.with_help(format!(
                "a duration needs a unit: `{word}d`, `{word}h`, `{word}m` or `{word}s`?"
            ));
        }
    }
    if word.chars().next().is_some_and(char::is_alphabetic) {
        let candidates = keywords_expected(&positives);
        return d.with_suggestion(word, candidates);
    }
    d
}

const ITEM_KEYWORDS: [&str; 12] = [
    "timezone",
    "event",
    "broadcast",
    "profile",
    "action",
    "cap",
    "quiet",
    "segment",
    "tag",
    "stage",
    "ledger",
    "rule",
];

const CLAUSE_KEYWORDS: [&str; 10] = [
    "when", "if", "do", "at", "limit", "priority", "split", "holdout", "quiet", "goal",
];

const TRIGGER_KEYWORDS: [&str; 6] = ["no", "enters", "exits", "every", "anniversary", "last"];

/// The keywords that would have been accepted where an error is: those the
/// grammar named, and the first words of the items, clauses or triggers it
/// expected. A misspelt one is suggested.
fn keywords_expected(positives: &[Rule]) -> Vec<&'static str> {
    let mut out: Vec<&'static str> = Vec::new();
    for r in positives {
        let d = describe(*r);
        // Keyword rules describe themselves as the word in backquotes.
        if let Some(kw) = d.strip_prefix('`').and_then(|w| w.strip_suffix('`')) {
            if kw.chars().all(|c| c.is_ascii_lowercase() || c == '_') {
                out.push(kw);
            }
        }
        let group: &[&str] = match r {
            Rule::timezone_decl
            | Rule::event_decl
            | Rule::broadcast_decl
            | Rule::profile_decl
            | Rule::action_decl
            | Rule::cap_decl
            | Rule::quiet_decl
            | Rule::segment_decl
            | Rule::tag_decl
            | Rule::stage_decl
            | Rule::ledger_decl
            | Rule::rule_decl
            | Rule::EOI => &ITEM_KEYWORDS,
            Rule::clause
            | Rule::when_clause
            | Rule::if_clause
            | Rule::do_clause
            | Rule::at_clause
            | Rule::limit_clause
            | Rule::priority_clause
            | Rule::split_clause
            | Rule::holdout_clause
            | Rule::quiet_clause
            | Rule::goal_clause => &CLAUSE_KEYWORDS,
            Rule::trigger
            | Rule::no_trigger
            | Rule::after_trigger
            | Rule::every_trigger
            | Rule::enters_trigger
            | Rule::exits_trigger
            | Rule::anniversary
            | Rule::before_anniversary => &TRIGGER_KEYWORDS,
            _ => &[],
        };
        out.extend_from_slice(group);
    }
    out.sort_unstable();
    out.dedup();
    out
}

/// The length in bytes and a description of the token at `at`.
fn found_at(source: &str, at: usize) -> (usize, String) {
    let rest = source.get(at..).unwrap_or("");
    let Some(first) = rest.chars().next() else {
        return (0, "end of input".into());
    };
    let len = if first.is_alphanumeric() || first == '_' {
        rest.find(|c: char| !(c.is_alphanumeric() || c == '_'))
            .unwrap_or(rest.len())
    } else {
        first.len_utf8()
    };
    let shown = &rest[..len];
    match first {
        '\n' | '\r' => (0, "end of line".into()),
        '"' => (1, "a string".into()),
        _ => (len, format!("`{shown}`")),
    }
}

fn enumerate(items: &[&str]) -> String {
    match items {
        [] => String::new(),
        [one] => one.to_string(),
        [init @ .., last] => format!("{} or {last}", init.join(", ")),
    }
}

/// What a grammar rule is called in an error message.
fn describe(rule: Rule) -> &'static str {
    use Rule::*;
    match rule {
        timezone_decl | event_decl | broadcast_decl | profile_decl | action_decl | cap_decl
        | quiet_decl | segment_decl | tag_decl | stage_decl | ledger_decl | rule_decl => {
            "a declaration (`event`, `profile`, `action`, `segment`, `tag`, `stage`, `ledger`, `rule`, …)"
        }
        EOI => "end of input",
        clause => {
            "a rule clause (`when`, `if`, `do`, `at`, `limit`, `priority`, `split`, `holdout`, `quiet`, `goal`)"
        }
        trigger => "a trigger (an event, `no E for D`, `D after E`, `enters S`, …)",
        expr | or_expr | and_expr | not_expr | cmp_expr | coalesce_expr | sum_expr
        | product_expr | unary_expr | paren | list | has_tag | aggregate | call | balance_call
        | expiring_call => "an expression",
        kw_and | kw_or | is_test | in_test | contains_test | compare | cmp_op | coalesce_op
        | add_op | mul_op => "an operator",
        ident | name | word | field_keyword => "a name",
        duration_lit | duration | spaced_duration => "a duration like `90d`",
        time_of_day => "a time like `09:00`",
        string => "a string",
        int_lit | signed_int | digits => "a whole number",
        number => "a number",
        percent => "a share like `50%`",
        variant => "a split variant (`LABEL P% do ...`)",
        stage_label => "a stage label (`LABEL when COND` or `LABEL otherwise`)",
        earn_clause | spend_clause | expire_clause => {
            "a ledger clause (`earn`, `spend`, `expire after`)"
        }
        action_list | call_action | add_tag | remove_tag | set_profile => "an action",
        named_arg => "a named argument `param: value`",
        field => "a field `name: type`",
        fields => "`{`",
        type_expr => "a type",
        where_part | kw_where => "`where`",
        unless_part | kw_unless => "`unless`",
        window => "a window `in D`",
        quiet_policy => "`defer`, `drop` or `ignore`",
        limit_once | kw_once => "`once`",
        limit_n => "a count",
        after_rule => "`rule`",
        after_event => "an event",
        profile_ref => "`profile.ATTR`",
        event_ref => "`event.FIELD`",
        customer_ref => "`customer.id`",
        weekday => "a weekday",
        agg_func | func => "a function",
        lbrace => "`{`",
        rbrace => "`}`",
        lparen => "`(`",
        rparen => "`)`",
        lbracket => "`[`",
        rbracket => "`]`",
        comma => "`,`",
        colon => "`:`",
        dot => "`.`",
        assign => "`=`",
        dash => "`-`",
        langle => "`<`",
        rangle => "`>`",
        neg => "`-`",
        kw_timezone => "`timezone`",
        kw_event => "`event`",
        kw_broadcast => "`broadcast`",
        kw_profile => "`profile`",
        kw_action => "`action`",
        kw_channel => "`channel`",
        kw_segment => "`segment`",
        kw_tag => "`tag`",
        kw_stage => "`stage`",
        kw_when => "`when`",
        kw_otherwise => "`otherwise`",
        kw_rule => "`rule`",
        kw_if => "`if`",
        kw_do => "`do`",
        kw_at => "`at`",
        kw_limit => "`limit`",
        kw_per => "`per`",
        kw_priority => "`priority`",
        kw_split => "`split`",
        kw_holdout => "`holdout`",
        kw_quiet => "`quiet`",
        kw_defer => "`defer`",
        kw_drop => "`drop`",
        kw_ignore => "`ignore`",
        kw_goal => "`goal`",
        kw_within => "`within`",
        kw_no => "`no`",
        kw_for => "`for`",
        kw_after => "`after`",
        kw_last => "`last`",
        kw_enters => "`enters`",
        kw_exits => "`exits`",
        kw_becomes => "`becomes`",
        kw_changes => "`changes`",
        kw_every => "`every`",
        kw_day => "`day`",
        kw_anniversary => "`anniversary`",
        kw_of => "`of`",
        kw_before => "`before`",
        kw_ledger => "`ledger`",
        kw_earn => "`earn`",
        kw_on => "`on`",
        kw_spend => "`spend`",
        kw_expire => "`expire`",
        kw_cap => "`cap`",
        kw_all => "`all`",
        kw_not => "`not`",
        kw_in => "`in`",
        kw_contains => "`contains`",
        kw_is => "`is`",
        kw_null => "`null`",
        kw_true => "`true`",
        kw_false => "`false`",
        kw_has => "`has`",
        kw_add => "`add`",
        kw_remove => "`remove`",
        kw_set => "`set`",
        kw_now => "`now`",
        kw_first_seen => "`first_seen`",
        kw_last_seen => "`last_seen`",
        kw_customer => "`customer`",
        kw_balance => "`balance`",
        kw_expiring => "`expiring`",
        no_trigger | after_trigger | before_anniversary | anniversary | every_trigger
        | enters_trigger | exits_trigger | changes_trigger | becomes_trigger | event_trigger => {
            "a trigger (an event, `no E for D`, `D after E`, `enters S`, …)"
        }
        when_clause | if_clause | do_clause | at_clause | limit_clause | priority_clause
        | split_clause | holdout_clause | quiet_clause | goal_clause => {
            "a rule clause (`when`, `if`, `do`, `at`, `limit`, `priority`, `split`, `holdout`, `quiet`, `goal`)"
        }
        keyword | keyword_only | program | item => "a declaration",
        ledger_clause => "a ledger clause (`earn`, `spend`, `expire after`)",
        action => "an action",
        primary => "an expression",
        WHITESPACE | COMMENT => "whitespace",
    }
}
