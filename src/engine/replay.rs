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
    pub fn replay_from(
        &mut self,
        mut input: impl BufRead,
        sink: &mut dyn Sink,
        bad: &mut dyn FnMut(u64, LineError),
    ) -> std::io::Result<u64> {
        let mut line = Vec::new();
        let mut n = 0;
        loop {
            line.clear();
            if input.read_until(b'\n', &mut line)? == 0 {
                return Ok(n);
            }
            n += 1;
            if let Err(e) = self.replay_bytes_into(&line, sink) {
                bad(n, e);
            }
        }
    }

    /// Asks for the slot of the customer `line` seems to name (a hint: a
    /// line it misreads costs a useless prefetch, nothing else). No id is
    /// compared, so nothing of the slot is read yet. O(line length).
    fn prefetch_customer_of(&self, line: &str) {
        let Some(id) = customer_of(line) else {
            return;
        };
        if let Some(slot) = self.index.iter_hash(self.hash(id)).next() {
            if let Some(s) = self.slots.get(*slot) {
                crate::hint::prefetch_all(s);
            }
        }
    }

    /// [`Engine::replay_line_into`] for a line as read, not yet known to be
    /// UTF-8: one that is not is rejected (and counted) like any bad line.
    pub fn replay_bytes_into(&mut self, line: &[u8], sink: &mut dyn Sink) -> Result<(), LineError> {
        match std::str::from_utf8(line) {
            Ok(text) => {
                // The customer's slot is on its way while the line is parsed.
                self.prefetch_customer_of(text);
                self.replay_line_into(text, sink)
            }
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
/// than a parse: `None` when the value is not a plain string.
fn customer_of(line: &str) -> Option<&str> {
    const KEY: &str = "\"customer\"";
    let at = line.find(KEY)? + KEY.len();
    let value = line[at..].trim_ascii_start().strip_prefix(':')?;
    let value = value.trim_ascii_start().strip_prefix('"')?;
    let end = value.find(['"', '\\'])?;
    value[end..].starts_with('"').then(|| &value[..end])
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
        assert_eq!(
            customer_of(r#"{"customer": "u1", "type": "x"}"#),
            Some("u1")
        );
        assert_eq!(
            customer_of(r#"{"type":"x","customer" :"客户-7"}"#),
            Some("客户-7")
        );
        assert_eq!(customer_of(r#"{"customer": "a\"b"}"#), None);
        assert_eq!(customer_of(r#"{"customer": 7}"#), None);
        assert_eq!(customer_of(r#"{"customer": "open"#), None);
        assert_eq!(customer_of(r#"{"advance": "2026-01-01T00:00:00Z"}"#), None);
    }
}
