//! The replay input format (docs/host.md): one JSON object per line,
//! either an event or `{"advance": TIME}`.

use super::action::Action;
use super::event::{Event, EventError, EventKind};
use super::step::Sink;
use super::{Engine, NIL};
use crate::compile::{Ir, Program};
use crate::time::Instant;
use compact_str::CompactString;
use hashbrown::HashMap;
use std::io::BufRead;
use std::sync::mpsc::{Receiver, SyncSender};

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

/// What [`Engine::replay_with`] tells its caller besides the actions,
/// which it takes as a [`Sink`]: each line about to be applied, each line
/// refused or ignored, and how far the reading has got. Every method does
/// nothing unless implemented.
pub trait ReplayHooks: Sink {
    /// Before line `n` (counted from 1) is applied. `at` is the instant
    /// it carries when it parsed as an event or an `{"advance": …}`; none
    /// for a blank line or one that did not (not UTF-8, not JSON, not a
    /// valid event: it will be refused). The engine may be
    /// driven from here (advanced to a day's end to look at it, say):
    /// what that emits goes to this sink, and the line comes after it.
    fn before_line(&mut self, _engine: &mut Engine, _n: u64, _at: Option<Instant>) {}

    /// Line `n` was refused, and why; it changed nothing.
    fn bad(&mut self, _n: u64, _error: LineError) {}

    /// Line `n` was an event of a type the program does not declare,
    /// `kind`: accepted and ignored (as `Metrics::ignored` counts).
    fn undeclared(&mut self, _n: u64, _kind: &str) {}

    /// After each batch of a few hundred lines: the input's bytes those
    /// lines took, and the lines applied, both counted from the start.
    fn progress(&mut self, _engine: &Engine, _bytes: u64, _lines: u64) {}
}

/// The hooks of [`Engine::replay_from_pipelined`]: a sink, and where bad
/// lines go.
struct Plain<'a> {
    sink: &'a mut dyn Sink,
    bad: &'a mut dyn FnMut(u64, LineError),
}

impl Sink for Plain<'_> {
    fn action(&mut self, action: super::action::ActionRef<'_>) {
        self.sink.action(action);
    }

    fn observer(&mut self) -> Option<&mut dyn super::step::Observer> {
        self.sink.observer()
    }
}

impl ReplayHooks for Plain<'_> {
    fn bad(&mut self, n: u64, error: LineError) {
        (self.bad)(n, error);
    }
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
        let parsed = Parsed::of_text(self.program.ir(), line);
        self.apply(&parsed, None, sink).map(|_| ())
    }

    /// Applies a line read and parsed (what `replay_line_into` does after
    /// the parse), its customer perhaps in slot `hint`; returns the slot
    /// its customer is in afterwards, if it names one.
    fn apply(
        &mut self,
        parsed: &Parsed,
        hint: Option<u32>,
        sink: &mut dyn Sink,
    ) -> Result<Option<u32>, LineError> {
        match parsed {
            Parsed::Blank => Ok(None),
            Parsed::Advance(t) => {
                self.advance_into(t.clone()?, sink);
                Ok(None)
            }
            Parsed::Event(Ok(ev)) => Ok(self.process_event_at(ev, hint, sink)?),
            Parsed::Event(Err(e)) => {
                self.metrics.rejected += 1;
                Err(LineError::Event(e.clone().into()))
            }
            Parsed::NotUtf8(at) => {
                self.metrics.rejected += 1;
                Err(LineError::NotUtf8(*at))
            }
        }
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
        let parsed = Parsed::of_bytes(self.program.ir(), line);
        self.apply(&parsed, None, sink).map(|_| ())
    }

    /// [`Engine::replay_from`] with the input read and its lines parsed on
    /// a second thread, while this one applies them: the same actions in
    /// the same order, the same lines to `bad`, the same count, in less
    /// time where a second processor is free (the parse is a large part
    /// of a light program's replay; see BENCHMARKS.md).
    ///
    /// The reader runs at most a few batches of lines ahead, so memory
    /// does not grow with the input either; it numbers the customers it
    /// reads (a number and an id per customer not forgotten), so that this
    /// thread finds a line's customer by number rather than by probing its
    /// index. An error reading is returned after every line before it has
    /// been applied; so is one starting the reader's thread (nothing
    /// applied then).
    pub fn replay_from_pipelined(
        &mut self,
        input: impl BufRead + Send,
        sink: &mut dyn Sink,
        bad: &mut dyn FnMut(u64, LineError),
    ) -> std::io::Result<u64> {
        self.replay_with(input, &mut Plain { sink, bad })
    }

    /// [`Engine::replay_from_pipelined`] with `hooks` told of each line
    /// before it is applied and after (see [`ReplayHooks`]), and of the
    /// reading's progress: for a host that shows progress, names the
    /// event types it ignored, or looks at the engine between lines. The
    /// actions go to `hooks` as a sink. A hook's own cost aside, each
    /// line costs what it costs in `replay_from_pipelined`.
    pub fn replay_with<H: ReplayHooks>(
        &mut self,
        input: impl BufRead + Send,
        hooks: &mut H,
    ) -> std::io::Result<u64> {
        let program = self.program.clone();
        std::thread::scope(|scope| {
            let (batches, received) = std::sync::mpsc::sync_channel(BATCHES_AHEAD);
            // Applied batches go back to the reader, which frees their
            // events (allocated on its thread) and reuses their room.
            let (back, returned) = std::sync::mpsc::channel();
            // A thread the system cannot start is an error, not a panic.
            let reader = std::thread::Builder::new()
                .name("siyu-replay-reader".into())
                .spawn_scoped(scope, move || {
                    read_batches(&program, input, &batches, &returned)
                })?;
            // The slot each customer number was last seen in (`NIL`: none
            // known), so that the index is not probed for a line.
            let mut slots: Vec<u32> = Vec::new();
            let (mut n, mut bytes) = (0, 0);
            for batch in received {
                let Batch {
                    lines,
                    customers,
                    bytes: read,
                } = &batch;
                let known = |slots: &[u32], i: usize| {
                    let number = customers.get(i).copied().flatten()?;
                    slots.get(number as usize).copied().filter(|s| *s != NIL)
                };
                let fetch = |engine: &Engine, slot: Option<u32>| {
                    if let Some(s) = slot.and_then(|s| engine.slots.get(s)) {
                        crate::hint::prefetch_all(s);
                    }
                };
                // Each level a line after the one it is reached through:
                // the slot two lines ahead, the blocks of the next.
                fetch(self, known(&slots, 0));
                fetch(self, known(&slots, 1));
                for (i, parsed) in lines.iter().enumerate() {
                    fetch(self, known(&slots, i + 2));
                    if let Some(s) = known(&slots, i + 1).and_then(|s| self.slots.get(s)) {
                        s.prefetch_state();
                    }
                    n += 1;
                    hooks.before_line(self, n, parsed.instant());
                    let ignored = self.metrics.ignored;
                    match self.apply(parsed, known(&slots, i), hooks) {
                        Ok(slot) => {
                            if self.metrics.ignored > ignored {
                                if let Some(kind) = parsed.undeclared() {
                                    hooks.undeclared(n, kind);
                                }
                            }
                            if let Some(number) = customers.get(i).copied().flatten() {
                                let number = number as usize;
                                if slots.len() <= number {
                                    slots.resize(number + 1, NIL);
                                }
                                slots[number] = slot.unwrap_or(NIL);
                            }
                        }
                        Err(e) => hooks.bad(n, e),
                    }
                }
                bytes += read;
                hooks.progress(self, bytes, n);
                // The reader gone (at the end), the batch is freed here.
                let _ = back.send(batch);
            }
            match reader.join() {
                Ok(result) => result.map(|()| n),
                Err(panic) => std::panic::resume_unwind(panic),
            }
        })
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

/// Lines a reader hands over at once: a batch's cost (a channel send)
/// is spread over many lines, and its memory stays small.
const BATCH_LINES: usize = 512;

/// Batches the reader may be ahead of the engine.
const BATCHES_AHEAD: usize = 4;

/// A replay line, read and parsed: everything that needs no engine.
enum Parsed {
    /// Blank: nothing to do.
    Blank,
    /// `{"advance": …}`: its instant, or why it is bad.
    Advance(Result<Instant, LineError>),
    /// An event, or why the line is not one.
    Event(Result<Event, EventError>),
    /// Not UTF-8: where the first invalid byte is.
    NotUtf8(usize),
}

impl Parsed {
    /// The instant the line carries, if it parsed.
    fn instant(&self) -> Option<Instant> {
        match self {
            Parsed::Advance(Ok(t)) => Some(*t),
            Parsed::Event(Ok(ev)) => Some(ev.time()),
            _ => None,
        }
    }

    /// The type of an event the program does not declare.
    fn undeclared(&self) -> Option<&str> {
        match self {
            Parsed::Event(Ok(Event {
                kind: EventKind::Undeclared(kind),
                ..
            })) => Some(kind),
            _ => None,
        }
    }

    /// A line as read. O(line length).
    fn of_bytes(ir: &Ir, line: &[u8]) -> Parsed {
        match std::str::from_utf8(line) {
            Ok(text) => Parsed::of_text(ir, text),
            Err(e) => Parsed::NotUtf8(e.valid_up_to()),
        }
    }

    /// A line of text. O(line length).
    fn of_text(ir: &Ir, line: &str) -> Parsed {
        let line = line.trim();
        if line.is_empty() {
            return Parsed::Blank;
        }
        match advance_of(line) {
            Some(t) => Parsed::Advance(t),
            None => Parsed::Event(Event::parse(ir, line)),
        }
    }
}

/// Parsed lines, and a number for each one's customer (the same number
/// for the same customer while the reader remembers it; see `Numbers`).
struct Batch {
    lines: Vec<Parsed>,
    customers: Vec<Option<u32>>,
    /// The input's bytes the lines took.
    bytes: u64,
}

/// The reader's numbers for customer ids: dense, so that the engine finds
/// a customer's slot by number in a plain array rather than by probing
/// its index, a cache miss or two a line that the reader now pays on its
/// own processor. A forgotten customer's number is given to the next new
/// id; the engine checks every slot it finds this way.
#[derive(Default)]
struct Numbers {
    of: HashMap<CompactString, u32>,
    free: Vec<u32>,
}

impl Numbers {
    /// The number of the customer an event line names, if any.
    fn of(&mut self, parsed: &Parsed) -> Option<u32> {
        let Parsed::Event(Ok(ev)) = parsed else {
            return None;
        };
        let id = ev.customer.as_ref()?;
        if ev.kind == EventKind::Forget {
            let number = self.of.remove(id)?;
            self.free.push(number);
            return Some(number);
        }
        if let Some(number) = self.of.get(id) {
            return Some(*number);
        }
        let number = match self.free.pop() {
            Some(number) => number,
            // Past `u32`'s count (never, in memory), a line goes without
            // a number and the engine probes its index.
            None => u32::try_from(self.of.len()).ok().filter(|n| *n != NIL)?,
        };
        self.of.insert(id.clone(), number);
        Some(number)
    }
}

/// Reads and parses `input` into batches for `to`, in order, until its
/// end, a read error (returned once the lines before it are sent), or the
/// engine's end of the channel going away.
fn read_batches(
    program: &Program,
    mut input: impl BufRead,
    to: &SyncSender<Batch>,
    returned: &Receiver<Batch>,
) -> std::io::Result<()> {
    let ir = program.ir();
    let mut numbers = Numbers::default();
    let mut buf = Vec::new();
    loop {
        let mut batch = match returned.try_recv() {
            Ok(mut batch) => {
                batch.lines.clear();
                batch.customers.clear();
                batch.bytes = 0;
                batch
            }
            Err(_) => Batch {
                lines: Vec::with_capacity(BATCH_LINES),
                customers: Vec::with_capacity(BATCH_LINES),
                bytes: 0,
            },
        };
        let mut result = Ok(());
        while batch.lines.len() < BATCH_LINES {
            buf.clear();
            match input.read_until(b'\n', &mut buf) {
                Ok(0) => break,
                Ok(got) => {
                    batch.bytes += got as u64;
                    let parsed = Parsed::of_bytes(ir, &buf);
                    batch.customers.push(numbers.of(&parsed));
                    batch.lines.push(parsed);
                }
                Err(e) => {
                    result = Err(e);
                    break;
                }
            }
        }
        let last = result.is_err() || batch.lines.len() < BATCH_LINES;
        if !batch.lines.is_empty() && to.send(batch).is_err() {
            return Ok(());
        }
        if last {
            return result;
        }
    }
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

    type Replayed = (std::io::Result<u64>, Vec<Action>, Vec<u64>);

    /// Replays the input `open` gives, on one thread and pipelined; both
    /// must come out the same, and the first is returned.
    fn replay<R: BufRead + Send>(source: &str, open: impl Fn() -> R) -> Replayed {
        let one = replay_with(source, open(), false);
        let piped = replay_with(source, open(), true);
        // An error is not `PartialEq`: compared by its text.
        fn seen((read, out, bad): &Replayed) -> (Result<u64, String>, &[Action], &[u64]) {
            (
                read.as_ref().map(|n| *n).map_err(|e| e.to_string()),
                out,
                bad,
            )
        }
        assert_eq!(seen(&piped), seen(&one), "pipelined as on one thread");
        one
    }

    const SOURCE: &str = "event e\naction a()\nrule r { when e do a() }";

    fn replay_with(source: &str, input: impl BufRead + Send, pipelined: bool) -> Replayed {
        let program = crate::compile(source).unwrap();
        let mut engine = Engine::new(&program);
        let (mut out, mut bad) = (Vec::new(), Vec::new());
        let read = if pipelined {
            engine.replay_from_pipelined(input, &mut out, &mut |n, _| bad.push(n))
        } else {
            engine.replay_from(input, &mut out, &mut |n, _| bad.push(n))
        };
        (read, out, bad)
    }

    const LINE: &str = r#"{"customer":"c","type":"e","time":"2026-01-01T00:00:00Z"}"#;

    #[test]
    fn every_line_is_processed_in_order_with_its_number() {
        let text = format!(
            "{LINE}\nnot json\n\n{}\n",
            LINE.replace("00:00:00", "00:00:01")
        );
        let (read, out, bad) = replay(SOURCE, || text.as_bytes());
        assert_eq!(read.unwrap(), 4);
        assert_eq!(out.len(), 2);
        assert_eq!(bad, [2]);
    }

    #[test]
    fn an_error_reading_ahead_comes_after_the_line_before_it() {
        let text = format!("{LINE}\n");
        let fails = || BufReader::with_capacity(8, FailsAfter(text.as_bytes()));
        let (read, out, _) = replay(SOURCE, fails);
        assert_eq!(read.unwrap_err().to_string(), "disk gone");
        assert_eq!(out.len(), 1, "the line read before the error is replayed");
    }

    #[test]
    fn many_batches_of_every_kind_of_line_come_out_as_on_one_thread() {
        // Customers forgotten and seen again, across batches, test the
        // reader's numbers and the engine's slots found by number.
        let source = "timezone \"UTC\"\nevent e { n: number }\naction a(n: number)\n\
                      rule r { when e do a(n: event.n) }\n\
                      rule s { when 2h after e do a(n: 0) }";
        let mut text = Vec::new();
        for i in 0..2_000u32 {
            let t = format!(
                "2026-01-01T{:02}:{:02}:{:02}Z",
                i / 3600,
                i / 60 % 60,
                i % 60
            );
            let line = match i % 7 {
                0 => format!(r#"{{"advance": "{t}"}}"#),
                1 => String::new(),
                2 => "not json".into(),
                3 => format!(
                    r#"{{"customer": "c{}", "type": "e", "time": "{t}"}}"#,
                    i % 13
                ),
                // Forgotten customers come back: their numbers and slots
                // are reused by others meanwhile.
                5 if i % 3 == 0 => format!(
                    r#"{{"customer": "c{}", "type": "$forget", "time": "{t}"}}"#,
                    i % 17
                ),
                _ => format!(
                    r#"{{"customer": "c{}", "type": "e", "time": "{t}", "data": {{"n": {i}}}}}"#,
                    i % 13
                ),
            };
            text.extend_from_slice(line.as_bytes());
            text.push(b'\n');
            if i % 500 == 1 {
                text.extend_from_slice(b"\xff\xfe\n");
            }
        }
        let (read, out, bad) = replay(source, || &text[..]);
        assert_eq!(read.unwrap(), 2_004);
        assert!(out.len() > 1_000, "{} actions", out.len());
        // 286 lines that are not JSON, and 4 that are not UTF-8.
        assert_eq!(bad.len(), 290);
    }

    /// What hooks are told, and an engine they drive between lines.
    #[derive(Default)]
    struct Told {
        actions: Vec<Action>,
        before: Vec<(u64, Option<i64>)>,
        bad: Vec<u64>,
        undeclared: Vec<(u64, String)>,
        progress: Vec<(u64, u64)>,
    }

    impl crate::engine::step::Sink for Told {
        fn action(&mut self, action: crate::engine::ActionRef<'_>) {
            self.actions.push(action.to_owned());
        }
    }

    impl super::ReplayHooks for Told {
        /// Advances the engine to just before each line's instant, as a
        /// host looking at each day's end would: the same timers fire, in
        /// the same order, as when the line moves the clock itself.
        fn before_line(&mut self, engine: &mut Engine, n: u64, at: Option<crate::Instant>) {
            self.before.push((n, at.map(crate::Instant::unix)));
            let earlier = at.and_then(|t| crate::Instant::from_unix(t.unix() - 1).ok());
            if let Some(t) = earlier.filter(|t| engine.clock().is_some_and(|c| c < *t)) {
                engine.advance_into(t, self);
            }
        }

        fn bad(&mut self, n: u64, _: super::LineError) {
            self.bad.push(n);
        }

        fn undeclared(&mut self, n: u64, kind: &str) {
            self.undeclared.push((n, kind.into()));
        }

        fn progress(&mut self, _: &Engine, bytes: u64, lines: u64) {
            self.progress.push((bytes, lines));
        }
    }

    #[test]
    fn hooks_are_told_each_line_its_instant_and_the_input_read() {
        let source = "timezone \"UTC\"\nevent e\naction a()\n\
                      rule r { when e do a() }\nrule s { when 90m after e do a() }";
        let (mut text, mut want_before, mut want_undeclared) = (Vec::new(), Vec::new(), Vec::new());
        for i in 0..1_300u32 {
            let secs = 1_767_225_600 + i64::from(i) * 600;
            let t = crate::Instant::from_unix(secs).unwrap().to_string();
            let n = u64::from(i) + 1;
            let (line, at) = match i % 6 {
                0 => (format!(r#"{{"advance": "{t}"}}"#), Some(secs)),
                1 => (String::new(), None),
                2 => ("not json".into(), None),
                3 => {
                    want_undeclared.push((n, "zz".to_string()));
                    let line = format!(
                        r#"{{"customer": "c{}", "type": "zz", "time": "{t}"}}"#,
                        i % 9
                    );
                    (line, Some(secs))
                }
                _ => {
                    let line = format!(
                        r#"{{"customer": "c{}", "type": "e", "time": "{t}"}}"#,
                        i % 9
                    );
                    (line, Some(secs))
                }
            };
            want_before.push((n, at));
            text.extend_from_slice(line.as_bytes());
            text.push(b'\n');
        }
        let (read, plain, bad) = replay(source, || &text[..]);
        let program = crate::compile(source).unwrap();
        let mut engine = Engine::new(&program);
        let mut told = Told::default();
        let lines = engine.replay_with(&text[..], &mut told).unwrap();
        assert_eq!(lines, read.unwrap());
        assert_eq!(told.before, want_before);
        assert_eq!(told.bad, bad);
        assert_eq!(told.undeclared, want_undeclared);
        assert_eq!(
            told.actions, plain,
            "driving the engine between lines changes nothing"
        );
        // Once a batch, the input's bytes and lines so far, to the end.
        assert_eq!(told.progress.len(), 1_300usize.div_ceil(super::BATCH_LINES));
        assert!(told.progress.is_sorted());
        assert_eq!(told.progress.last(), Some(&(text.len() as u64, 1_300)));
    }
}
