//! The replay input format (HOST.md): one JSON object per line, either an
//! event or `{"advance": TIME}`.

use super::Engine;
use super::action::Action;
use crate::value::parse_time;

impl Engine {
    /// Feeds one replay line: an event, or `{"advance": TIME}`; a blank line
    /// does nothing. `Err` says why the line was rejected (the engine is
    /// unchanged).
    pub fn replay_line(&mut self, line: &str) -> Result<Vec<Action>, String> {
        let line = line.trim();
        if line.is_empty() {
            return Ok(Vec::new());
        }
        if let Some(advance) = advance_of(line) {
            let t = advance?;
            return Ok(self.advance_to(t));
        }
        self.process(line).map_err(|e| e.to_string())
    }

    /// Ends a replay: advances to `until`, or else to the latest instant
    /// seen.
    pub fn replay_end(&mut self, until: Option<i64>) -> Vec<Action> {
        match until.or(self.clock()) {
            Some(t) => self.advance_to(t),
            None => Vec::new(),
        }
    }
}

/// `Some` for an `{"advance": …}` line: its instant, or why it is bad.
fn advance_of(line: &str) -> Option<Result<i64, String>> {
    if !line.contains("\"advance\"") {
        return None;
    }
    let json: serde_json::Value = serde_json::from_str(line).ok()?;
    let t = json.as_object()?.get("advance")?;
    Some(
        t.as_str()
            .and_then(parse_time)
            .ok_or_else(|| format!("`advance` is not an RFC 3339 time: {t}")),
    )
}
