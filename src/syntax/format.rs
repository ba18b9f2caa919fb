//! `siyu fmt`: a program in canonical form with every comment kept where
//! it was.
//!
//! The canonical lines come from the printer, each with the source range
//! of the node it prints. Comments are read from the source (outside
//! strings) and placed by position: a comment after code on its line stays
//! at the end of the line printing that code; a comment on a line of its
//! own goes above the next printed line — or above the line of the node it
//! sits inside, when that node prints on one line (a condition written
//! over several lines). So an `allow(KIND)` pragma stays on, or just above,
//! the line its warning is reported on. Blank lines the author left
//! between items and clauses are kept (one at most); blocks are set apart
//! as the printer sets them.
//!
//! Formatting is idempotent, and the formatted program parses to the same
//! tree (`tests/format.rs` checks both over every program in the repo).

use super::printer::{self, Line};
use crate::diagnostic::Diagnostic;
use crate::limits::Limits;

/// A comment of the source.
struct Comment {
    /// Byte offset of its `#`.
    start: usize,
    /// From `#` to the end of its line, trailing spaces removed.
    text: String,
    /// Nothing but whitespace before it on its line.
    own_line: bool,
}

/// Where a comment goes in the output.
#[derive(Default)]
struct Placed {
    /// Above the line, each on its own line.
    above: Vec<usize>,
    /// At the end of the line.
    trailing: Option<usize>,
    /// Below the line (a second trailing comment for one printed line).
    below: Vec<usize>,
}

/// `source` in canonical form with its comments, or the errors that keep
/// it from parsing (formatting needs a program that parses; it need not
/// type-check).
pub fn format(source: &str, limits: &Limits) -> Result<String, Vec<Diagnostic>> {
    let (module, spans) = super::parse_spanned(source, limits)?;
    let lines = printer::lines(&module, Some(&spans));
    let comments = comments(source);
    let mut placed: Vec<Placed> = (0..lines.len()).map(|_| Placed::default()).collect();
    let mut at_end = Vec::new();
    for (i, c) in comments.iter().enumerate() {
        match place(&lines, c) {
            Some(Target::Above(l)) => placed[l].above.push(i),
            Some(Target::Trailing(l)) => {
                let p = &mut placed[l];
                if p.trailing.is_none() && p.below.is_empty() {
                    p.trailing = Some(i);
                } else {
                    p.below.push(i);
                }
            }
            None => at_end.push(i),
        }
    }
    let mut out = Output::default();
    for (l, p) in lines.iter().zip(&placed) {
        let start = l.source.map_or(0, |s| s.start);
        // Comments above a closing brace belong to the block's body.
        let comment_indent = if l.closes { l.indent + 1 } else { l.indent };
        let mut first = true;
        for &c in &p.above {
            let c = &comments[c];
            out.blank(first && l.blank_before || blank_before(source, c.start));
            out.line(comment_indent, &c.text);
            first = false;
        }
        out.blank((first && l.blank_before || blank_before(source, start)) && !l.closes);
        let mut text = l.text.clone();
        if let Some(c) = p.trailing {
            text.push_str("  ");
            text.push_str(&comments[c].text);
        }
        out.line(l.indent, &text);
        out.opened = l.opens;
        for &c in &p.below {
            out.line(l.indent, &comments[c].text);
        }
    }
    for c in at_end {
        let c = &comments[c];
        out.blank(blank_before(source, c.start));
        out.line(0, &c.text);
    }
    Ok(out.text)
}

/// The formatted text being written: blank lines are asked for freely and
/// written only where one is allowed (never first, never two, never just
/// inside an opening brace).
#[derive(Default)]
struct Output {
    text: String,
    want_blank: bool,
    opened: bool,
}

impl Output {
    fn blank(&mut self, wanted: bool) {
        self.want_blank |= wanted;
    }

    fn line(&mut self, indent: usize, text: &str) {
        if self.want_blank && !self.text.is_empty() && !self.opened {
            self.text.push('\n');
        }
        self.want_blank = false;
        self.opened = false;
        for _ in 0..indent {
            self.text.push_str("  ");
        }
        self.text.push_str(text);
        self.text.push('\n');
    }
}

enum Target {
    Above(usize),
    Trailing(usize),
}

/// The printed line a comment goes with; `None`: after everything.
fn place(lines: &[Line], c: &Comment) -> Option<Target> {
    let starts = |l: &Line| l.source.map_or(0, |s| s.start);
    // The last line whose node starts before the comment.
    let prev = lines.iter().rposition(|l| starts(l) <= c.start);
    if !c.own_line {
        return match prev {
            Some(p) => Some(Target::Trailing(p)),
            None => (!lines.is_empty()).then_some(Target::Above(0)),
        };
    }
    if let Some(p) = prev {
        let l = &lines[p];
        // Inside a node printed on one line: above that line.
        if !l.opens && !l.closes && l.source.is_some_and(|s| c.start < s.end) {
            return Some(Target::Above(p));
        }
    }
    let next = prev.map_or(0, |p| p + 1);
    (next < lines.len()).then_some(Target::Above(next))
}

/// Is there a blank line in the source just before `at` (between it and
/// the text before it)?
fn blank_before(source: &str, at: usize) -> bool {
    let before = &source[..at.min(source.len())];
    let gap = &before[before.trim_end().len()..];
    !before.trim_end().is_empty() && gap.matches('\n').count() >= 2
}

/// Every comment of the source, in order: `#` to the end of the line,
/// outside string literals.
fn comments(source: &str) -> Vec<Comment> {
    let mut out = Vec::new();
    let mut in_string = false;
    let mut escaped = false;
    let mut line_start = 0;
    let mut chars = source.char_indices();
    while let Some((i, c)) = chars.next() {
        if in_string {
            match (escaped, c) {
                (true, _) => escaped = false,
                (false, '\\') => escaped = true,
                (false, '"') => in_string = false,
                (false, '\n') => {
                    in_string = false;
                    line_start = i + 1;
                }
                _ => {}
            }
            continue;
        }
        match c {
            '"' => in_string = true,
            '\n' => line_start = i + 1,
            '#' => {
                let end = source[i..].find('\n').map_or(source.len(), |e| i + e);
                out.push(Comment {
                    start: i,
                    text: source[i..end].trim_end().to_string(),
                    own_line: source[line_start..i].trim().is_empty(),
                });
                // Skip to the end of the line; the newline itself is seen.
                for (j, _) in chars.by_ref() {
                    if j + 1 >= end {
                        break;
                    }
                }
            }
            _ => {}
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fmt(src: &str) -> String {
        format(src, &Limits::default()).unwrap_or_else(|e| panic!("{e:?}"))
    }

    #[test]
    fn keeps_every_kind_of_comment_in_place() {
        let src = "# header\n\n# about events\nevent purchase { amount: number }   # money\naction push(content: string)\n\nrule r {  # the rule\n  when purchase\n  # the guard\n  if event.amount > 10 and\n     # inside the condition\n     event.amount < 100\n  do push(content: \"#not a comment\")\n  # before the brace\n}\n# the end\n";
        let want = "# header\n\n# about events\nevent purchase { amount: number }  # money\naction push(content: string)\n\nrule r {  # the rule\n  when purchase\n  # the guard\n  # inside the condition\n  if event.amount > 10 and event.amount < 100\n  do push(content: \"#not a comment\")\n  # before the brace\n}\n# the end\n";
        assert_eq!(fmt(src), want);
        assert_eq!(fmt(want), want, "formatting is idempotent");
    }

    #[test]
    fn comments_in_strings_are_text() {
        let c = comments("tag \"#vip\" when true  # real\n");
        assert_eq!(c.len(), 1);
        assert_eq!(c[0].text, "# real");
        assert!(!c[0].own_line);
    }
}
