//! The replay input format (docs/host.md): one JSON object per line,
//! either an event or `{"advance": TIME}`.

use super::Engine;
use super::action::Action;
use super::step::Sink;
use crate::time::Instant;
use std::io::BufRead;

/// Why a replay line was skipped.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum LineError {
    /// The event was rejected.
    #[error(transparent)]
    Event(#[from] super::Error),
    /// `{"advance": …}` with something other than a time.
    #[error("`advance` is not an RFC 3339 time: {0}")]
    Advance(String),
    /// The line is not UTF-8.
    #[error("not UTF-8 (invalid byte at offset {0})")]
    NotUtf8(usize),
}

impl Engine {
    /// Feeds one replay line: an event, or `{"advance": TIME}`; a blank line
    /// does nothing. `Err` says why the line was rejected (the engine is
    /// unchanged).
    pub fn replay_line(&mut self, line: &str) -> Result<Vec<Action>, LineError> {
        let mut out = Vec::new();
        self.replay_line_into(line, &mut out)?;
        Ok(out)
    }

    /// [`Engine::replay_line`], each action handed to `sink` as it comes.
    pub fn replay_line_into(&mut self, line: &str, sink: &mut dyn Sink) -> Result<(), LineError> {
        let line = line.trim();
        if line.is_empty() {
            return Ok(());
        }
        if let Some(advance) = advance_of(line) {
            self.advance_into(advance?, sink);
            return Ok(());
        }
        Ok(self.process_into(line, sink)?)
    }

    /// Replays a stream of lines (events and `{"advance": …}`) in order,
    /// one line at a time, so that memory does not grow with the input:
    /// each action goes to `sink` as it comes, and each line that is not
    /// UTF-8, not JSON or not a valid event goes to `bad` with its 1-based
    /// number, and is skipped. Returns the lines read; ends at the end of
    /// the input (call [`Engine::replay_end_into`] to close the replay).
    ///
    /// It reads one line ahead: while a line is processed, the next line's
    /// customer slot is on its way, and the blocks its state points to are
    /// asked for before that line is parsed, each wait overlapping work
    /// rather than following it. An error reading ahead is returned after
    /// the line before it is processed, as without the look-ahead.
    pub fn replay_from(
        &mut self,
        mut input: impl BufRead,
        sink: &mut dyn Sink,
        bad: &mut dyn FnMut(u64, LineError),
    ) -> std::io::Result<u64> {
        let (mut line, mut next) = (Vec::new(), Vec::new());
        let mut read = input.read_until(b'\n', &mut next);
        let mut ahead = self.prefetch_slot_of(&next);
        let mut n = 0;
        loop {
            if read? == 0 {
                return Ok(n);
            }
            std::mem::swap(&mut line, &mut next);
            let slot = ahead;
            next.clear();
            read = input.read_until(b'\n', &mut next);
            ahead = match read {
                Ok(len) if len > 0 => self.prefetch_slot_of(&next),
                _ => None,
            };
            if let Some(s) = slot.and_then(|s| self.slots.get(s)) {
                s.prefetch_state();
            }
            n += 1;
            if let Err(e) = self.replay_checked(&line, sink) {
                bad(n, e);
            }
        }
    }

    /// Asks for the slot of the customer `line` seems to name, and says
    /// which it is (a hint: a line it misreads costs a useless prefetch,
    /// nothing else). No id is compared, so nothing of the slot is read
    /// yet. O(line length).
    fn prefetch_slot_of(&self, line: &[u8]) -> Option<u32> {
        let id = customer_of(line)?;
        let slot = *self.index.iter_hash(self.hash(id)).next()?;
        crate::hint::prefetch_all(self.slots.get(slot)?);
        Some(slot)
    }

    /// [`Engine::replay_line_into`] for a line as read, not yet known to be
    /// UTF-8: one that is not is rejected (and counted) like any bad line.
    pub fn replay_bytes_into(&mut self, line: &[u8], sink: &mut dyn Sink) -> Result<(), LineError> {
        // The customer's slot is on its way while the line is parsed.
        self.prefetch_slot_of(line);
        self.replay_checked(line, sink)
    }

    /// [`Engine::replay_bytes_into`] without the hint.
    fn replay_checked(&mut self, line: &[u8], sink: &mut dyn Sink) -> Result<(), LineError> {
        match std::str::from_utf8(line) {
            Ok(text) => self.replay_line_into(text, sink),
            Err(e) => {
                self.metrics.rejected += 1;
                Err(LineError::NotUtf8(e.valid_up_to()))
            }
        }
    }

    /// Ends a replay: advances to `until`, or else to the latest instant
    /// seen.
    pub fn replay_end(&mut self, until: Option<Instant>) -> Vec<Action> {
        let mut out = Vec::new();
        self.replay_end_into(until, &mut out);
        out
    }

    /// [`Engine::replay_end`], each action handed to `sink` as it comes.
    pub fn replay_end_into(&mut self, until: Option<Instant>, sink: &mut dyn Sink) {
        if let Some(t) = until.or(self.clock()) {
            self.advance_into(t, sink);
        }
    }
}

/// The customer a replay line names, found by a scan for its key rather
/// than a parse: `None` when the value is not a plain UTF-8 string.
fn customer_of(line: &[u8]) -> Option<&str> {
    const KEY: &[u8] = b"\"customer\"";
    // From quote to quote: the key comes early in most lines.
    let mut from = 0;
    let at = loop {
        let quote = from + line.get(from..)?.iter().position(|b| *b == b'"')?;
        if line[quote..].starts_with(KEY) {
            break quote + KEY.len();
        }
        from = quote + 1;
    };
    let value = line[at..].trim_ascii_start().strip_prefix(b":")?;
    let value = value.trim_ascii_start().strip_prefix(b"\"")?;
    let end = value.iter().position(|b| matches!(b, b'"' | b'\\'))?;
    if value[end] != b'"' {
        return None;
    }
    std::str::from_utf8(&value[..end]).ok()
}

/// `Some` for an `{"advance": …}` line: its instant, or why it is bad.
fn advance_of(line: &str) -> Option<Result<Instant, LineError>> {
    if !line.contains("\"advance\"") {
        return None;
    }
    let json: serde_json::Value = serde_json::from_str(line).ok()?;
    let t = json.as_object()?.get("advance")?;
    Some(
        t.as_str()
            .and_then(|s| Instant::parse(s).ok())
            .ok_or_else(|| LineError::Advance(t.to_string())),
    )
}

#[cfg(test)]
mod tests {
    use super::customer_of;

    #[test]
    fn the_customer_hint_reads_plain_ids_and_gives_up_on_the_rest() {
        fn of(line: &str) -> Option<&str> {
            customer_of(line.as_bytes())
        }
        assert_eq!(of(r#"{"customer": "u1", "type": "x"}"#), Some("u1"));
        assert_eq!(of(r#"{"type":"x","customer" :"客户-7"}"#), Some("客户-7"));
        assert_eq!(of(r#"{"customer": "a\"b"}"#), None);
        assert_eq!(of(r#"{"customer": 7}"#), None);
        assert_eq!(of(r#"{"customer": "open"#), None);
        assert_eq!(of(r#"{"advance": "2026-01-01T00:00:00Z"}"#), None);
        assert_eq!(customer_of(b"{\"customer\": \"\xff\"}"), None);
    }
}

#[cfg(test)]
mod look_ahead {
    use crate::engine::{Action, Engine};
    use std::io::{BufRead, BufReader, Read};

    /// Yields `text`, then fails.
    struct FailsAfter<'a>(&'a [u8]);

    impl Read for FailsAfter<'_> {
        fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
            if self.0.is_empty() {
                return Err(std::io::Error::other("disk gone"));
            }
            let n = buf.len().min(self.0.len());
            buf[..n].copy_from_slice(&self.0[..n]);
            self.0 = &self.0[n..];
            Ok(n)
        }
    }

    fn replay(input: impl BufRead) -> (std::io::Result<u64>, Vec<Action>, Vec<u64>) {
        let program = crate::compile("event e\naction a()\nrule r { when e do a() }").unwrap();
        let mut engine = Engine::new(&program);
        let (mut out, mut bad) = (Vec::new(), Vec::new());
        let read = engine.replay_from(input, &mut out, &mut |n, _| bad.push(n));
        (read, out, bad)
    }

    const LINE: &str = r#"{"customer":"c","type":"e","time":"2026-01-01T00:00:00Z"}"#;

    #[test]
    fn every_line_is_processed_in_order_with_its_number() {
        let text = format!(
            "{LINE}\nnot json\n\n{}\n",
            LINE.replace("00:00:00", "00:00:01")
        );
        let (read, out, bad) = replay(text.as_bytes());
        assert_eq!(read.unwrap(), 4);
        assert_eq!(out.len(), 2);
        assert_eq!(bad, [2]);
    }

    #[test]
    fn an_error_reading_ahead_comes_after_the_line_before_it() {
        let text = format!("{LINE}\n");
        let (read, out, _) = replay(BufReader::with_capacity(8, FailsAfter(text.as_bytes())));
        assert_eq!(read.unwrap_err().to_string(), "disk gone");
        assert_eq!(out.len(), 1, "the line read before the error is replayed");
    }
}
