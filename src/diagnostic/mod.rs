//! Compile diagnostics: what went wrong, where, and how to fix it.
//!
//! A [`Diagnostic`] is plain data the host can inspect (severity, message,
//! line and column, an optional help line); [`Diagnostic::render`] draws the
//! source line with a caret under the span, the way rustc and minijinja do.

mod codes;
pub use codes::Code;
use std::fmt;

/// A byte range of the source text.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Span {
    /// First byte.
    pub start: usize,
    /// One past the last byte.
    pub end: usize,
}

impl Span {
    /// A span from `start` to `end` (bytes).
    pub fn new(start: usize, end: usize) -> Span {
        Span { start, end }
    }

    /// The smallest span covering both.
    pub fn to(self, other: Span) -> Span {
        Span::new(self.start.min(other.start), self.end.max(other.end))
    }
}

/// How bad a diagnostic is.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Severity {
    /// The program does not compile.
    Error,
    /// The program compiles, but probably does not do what was meant.
    Warning,
}

/// One finding of the compiler about the source.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct Diagnostic {
    /// Error or warning.
    pub severity: Severity,
    /// What kind of finding, as a stable code (docs/codes.md).
    pub code: Code,
    /// What is wrong, in one sentence.
    pub message: String,
    /// Where (bytes of the source).
    pub span: Span,
    /// 1-based line of `span.start`.
    pub line: usize,
    /// 1-based column of `span.start`, counting characters.
    pub column: usize,
    /// A suggestion ("did you mean `purchase`?"), shown under the caret.
    pub help: Option<String>,
}

impl Diagnostic {
    /// An error of kind `code` at `span` of `source`.
    pub fn error(code: Code, source: &str, span: Span, message: impl Into<String>) -> Diagnostic {
        Diagnostic::new(Severity::Error, code, source, span, message)
    }

    /// A warning of kind `code` at `span` of `source`.
    pub fn warning(code: Code, source: &str, span: Span, message: impl Into<String>) -> Diagnostic {
        Diagnostic::new(Severity::Warning, code, source, span, message)
    }

    fn new(
        severity: Severity,
        code: Code,
        source: &str,
        span: Span,
        message: impl Into<String>,
    ) -> Diagnostic {
        let span = clamp(source, span);
        let (line, column) = line_col(source, span.start);
        Diagnostic::located(severity, code, span, line, column, message)
    }

    /// A warning at `span`, located through `lines`: many diagnostics of
    /// one source cost O(log lines) each to place, not a scan of the
    /// source each.
    pub(crate) fn warning_in(
        code: Code,
        lines: &Lines<'_>,
        span: Span,
        message: impl Into<String>,
    ) -> Diagnostic {
        let span = clamp(lines.source, span);
        let (line, column) = lines.line_col(span.start);
        Diagnostic::located(Severity::Warning, code, span, line, column, message)
    }

    fn located(
        severity: Severity,
        code: Code,
        span: Span,
        line: usize,
        column: usize,
        message: impl Into<String>,
    ) -> Diagnostic {
        Diagnostic {
            severity,
            code,
            message: message.into(),
            span,
            line,
            column,
            help: None,
        }
    }

    /// Adds a help line.
    pub fn with_help(mut self, help: impl Into<String>) -> Diagnostic {
        self.help = Some(help.into());
        self
    }

    /// Adds "did you mean `x`?" when a candidate is close to `wrong`.
    pub fn with_suggestion<'a>(
        self,
        wrong: &str,
        candidates: impl IntoIterator<Item = &'a str>,
    ) -> Diagnostic {
        match did_you_mean(wrong, candidates) {
            Some(best) => self.with_help(format!("did you mean `{best}`?")),
            None => self,
        }
    }

    /// Renders the diagnostic against the source it was made from:
    ///
    /// ```text
    /// error[E0201]: unknown event `purchse`
    ///  --> rules.siyu:3:17
    ///   |
    /// 3 | rule big { when purchse do push(content: "x") }
    ///   |                 ^^^^^^^ did you mean `purchase`?
    /// ```
    pub fn render(&self, source: &str, path: &str) -> String {
        self.render_with(source, path, &Paint::PLAIN)
    }

    /// [`Diagnostic::render`] with ANSI colours, as compilers show them on
    /// a terminal: the kind in red or yellow, the caret and help in the
    /// same colour, the gutter in blue. Whether to colour is the caller's
    /// to decide (a terminal, `NO_COLOR`).
    pub fn render_ansi(&self, source: &str, path: &str) -> String {
        self.render_with(source, path, &Paint::ANSI)
    }

    fn render_with(&self, source: &str, path: &str, paint: &Paint) -> String {
        let (kind, colour) = match self.severity {
            Severity::Error => ("error", paint.error),
            Severity::Warning => ("warning", paint.warning),
        };
        let (bold, blue, reset) = (paint.bold, paint.gutter, paint.reset);
        let span = clamp(source, self.span);
        let line_start = source[..span.start].rfind('\n').map_or(0, |i| i + 1);
        let line_end = source[span.start..]
            .find('\n')
            .map_or(source.len(), |i| span.start + i);
        let text = source[line_start..line_end].trim_end_matches('\r');
        // The span may start on the `\r` trimmed off the line's end.
        let caret_end = span
            .end
            .clamp(span.start, (line_start + text.len()).max(span.start));
        let pad = display_width(&source[line_start..span.start]);
        let width = display_width(&source[span.start..caret_end]).max(1);
        let gutter = self.line.to_string().len();
        let blank = " ".repeat(gutter);
        let mut out = format!(
            "{colour}{kind}[{}]{reset}{bold}: {}{reset}\n{blank}{blue}-->{reset} {path}:{}:{}\n\
             {blue}{blank} |{reset}\n{blue}{} |{reset} {}\n{blue}{blank} |{reset} {}{colour}{}",
            self.code,
            self.message,
            self.line,
            self.column,
            self.line,
            text.replace('\t', " "),
            " ".repeat(pad),
            "^".repeat(width),
        );
        if let Some(help) = &self.help {
            out.push(' ');
            out.push_str(help);
        }
        out.push_str(reset);
        out.push('\n');
        out
    }

    /// 1-based line and character column just past the span's end, in the
    /// source it was made from.
    pub fn end(&self, source: &str) -> (usize, usize) {
        line_col(source, clamp(source, self.span).end)
    }
}

/// The escapes a rendering uses (none for plain text).
struct Paint {
    error: &'static str,
    warning: &'static str,
    bold: &'static str,
    gutter: &'static str,
    reset: &'static str,
}

impl Paint {
    const PLAIN: Paint = Paint {
        error: "",
        warning: "",
        bold: "",
        gutter: "",
        reset: "",
    };
    const ANSI: Paint = Paint {
        error: "\x1b[1;31m",
        warning: "\x1b[1;33m",
        bold: "\x1b[1m",
        gutter: "\x1b[1;34m",
        reset: "\x1b[0m",
    };
}

impl fmt::Display for Diagnostic {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}: {}", self.line, self.column, self.message)?;
        if let Some(help) = &self.help {
            write!(f, " ({help})")?;
        }
        Ok(())
    }
}

/// Keeps a span inside the source and on character boundaries, so that a
/// diagnostic built from any input can always be rendered.
fn clamp(source: &str, span: Span) -> Span {
    let mut start = span.start.min(source.len());
    while !source.is_char_boundary(start) {
        start -= 1;
    }
    let mut end = span.end.clamp(start, source.len());
    while !source.is_char_boundary(end) {
        end += 1;
    }
    Span::new(start, end)
}

/// Where each line of a source starts.
pub(crate) struct Lines<'s> {
    source: &'s str,
    starts: Vec<usize>,
}

impl<'s> Lines<'s> {
    /// The index of `source`'s lines, in one pass.
    pub(crate) fn new(source: &'s str) -> Lines<'s> {
        let starts = std::iter::once(0)
            .chain(source.match_indices('\n').map(|(i, _)| i + 1))
            .collect();
        Lines { source, starts }
    }

    /// 1-based line and character column of a byte offset on a character
    /// boundary.
    fn line_col(&self, offset: usize) -> (usize, usize) {
        let line = self.starts.partition_point(|&s| s <= offset);
        let start = self.starts[line - 1];
        (line, self.source[start..offset].chars().count() + 1)
    }

    /// Line `n` (1-based) without its line break.
    pub(crate) fn line(&self, n: usize) -> Option<&'s str> {
        let start = *self.starts.get(n.checked_sub(1)?)?;
        let end = self.starts.get(n).map_or(self.source.len(), |&e| e - 1);
        let line = self.source.get(start..end)?;
        Some(line.strip_suffix('\r').unwrap_or(line))
    }
}

/// 1-based line and character column of a byte offset.
pub(crate) fn line_col(source: &str, offset: usize) -> (usize, usize) {
    let before = &source[..offset];
    let line = before.matches('\n').count() + 1;
    let line_start = before.rfind('\n').map_or(0, |i| i + 1);
    (line, before[line_start..].chars().count() + 1)
}

/// Terminal columns taken by `text`: East Asian wide characters (CJK, Hangul,
/// full-width forms, most emoji) take two, so carets line up under Chinese
/// tag names.
fn display_width(text: &str) -> usize {
    text.chars()
        .map(|c| {
            let c = c as u32;
            let wide = matches!(c,
                0x1100..=0x115F | 0x2E80..=0x303E | 0x3041..=0x33FF | 0x3400..=0x4DBF
                | 0x4E00..=0x9FFF | 0xA000..=0xA4CF | 0xAC00..=0xD7A3 | 0xF900..=0xFAFF
                | 0xFE30..=0xFE4F | 0xFF00..=0xFF60 | 0xFFE0..=0xFFE6 | 0x1F300..=0x1F64F
                | 0x1F900..=0x1F9FF | 0x20000..=0x3FFFD);
            if wide { 2 } else { 1 }
        })
        .sum()
}

/// The candidate closest to `wrong` by edit distance, if it is close enough
/// to be a plausible typo (at most a third of the length, at least one edit).
pub fn did_you_mean<'a>(
    wrong: &str,
    candidates: impl IntoIterator<Item = &'a str>,
) -> Option<&'a str> {
    let limit = (wrong.chars().count() / 3).max(1);
    candidates
        .into_iter()
        .filter(|c| *c != wrong)
        .map(|c| (edit_distance(wrong, c), c))
        .filter(|(d, _)| *d <= limit)
        .min_by(|a, b| a.0.cmp(&b.0).then(a.1.cmp(b.1)))
        .map(|(_, c)| c)
}

/// Edit distance over characters, a swap of two neighbours counting as one
/// edit (optimal string alignment): `whne` is one edit from `when`.
fn edit_distance(a: &str, b: &str) -> usize {
    let (a, b): (Vec<char>, Vec<char>) = (a.chars().collect(), b.chars().collect());
    // Three rows: two back for the swap, one back, and the current.
    let mut before: Vec<usize> = vec![0; b.len() + 1];
    let mut prev: Vec<usize> = (0..=b.len()).collect();
    let mut row: Vec<usize> = vec![0; b.len() + 1];
    for i in 1..=a.len() {
        row[0] = i;
        for j in 1..=b.len() {
            let cost = usize::from(a[i - 1] != b[j - 1]);
            let mut d = (prev[j - 1] + cost).min(prev[j] + 1).min(row[j - 1] + 1);
            if i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1] {
                d = d.min(before[j - 2] + 1);
            }
            row[j] = d;
        }
        std::mem::swap(&mut before, &mut prev);
        std::mem::swap(&mut prev, &mut row);
    }
    prev[b.len()]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn distance() {
        assert_eq!(edit_distance("purchse", "purchase"), 1);
        assert_eq!(edit_distance("", "abc"), 3);
        assert_eq!(edit_distance("高价值", "高价"), 1);
        assert_eq!(edit_distance("whne", "when"), 1);
        assert_eq!(edit_distance("segmnt", "segment"), 1);
    }

    #[test]
    fn suggestion_needs_closeness() {
        let names = ["purchase", "interaction", "sign_in"];
        assert_eq!(did_you_mean("purchse", names), Some("purchase"));
        assert_eq!(did_you_mean("refund", names), None);
    }

    #[test]
    fn caret_under_wide_characters() {
        let src = "tag \"高消费\" when 高价";
        let start = src.find("高价").unwrap(); // present in the literal above
        let d = Diagnostic::error(
            Code::UnknownName,
            src,
            Span::new(start, src.len()),
            "unknown segment",
        );
        let r = d.render(src, "x.siyu");
        let caret_line = r.lines().last().unwrap(); // render always ends with the caret line
        assert_eq!(caret_line, format!("  | {}^^^^", " ".repeat(18)));
        assert_eq!((d.line, d.column), (1, 16));
    }

    #[test]
    fn span_on_a_carriage_return() {
        let src = "ab \r\u{9d}cd";
        let d = Diagnostic::error(Code::Syntax, src, Span::new(3, 4), "x");
        assert!(d.render(src, "p").contains('^'));
    }

    #[test]
    fn out_of_range_span_is_clamped() {
        let d = Diagnostic::error(Code::Syntax, "ab\u{e9}", Span::new(3, 99), "x");
        assert!(d.render("ab\u{e9}", "p").contains("^"));
    }
}
