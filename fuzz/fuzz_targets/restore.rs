//! Valid snapshots of the bundled SOP's engine, mutated past the checksum:
//! the input edits the payload of a real snapshot (byte writes, a cut, a
//! splice), the header's length and checksum are recomputed, and restore
//! must refuse the result with an error or give an engine that keeps
//! working — never panic. Mutating bytes the checksum would reject first
//! reaches the decoder and the state validation behind it.
#![no_main]

use libfuzzer_sys::fuzz_target;
use std::sync::OnceLock;

const HEADER: usize = 8 + 2 + 8 + 8 + 8;

fn program() -> &'static siyu::Program {
    static PROGRAM: OnceLock<siyu::Program> = OnceLock::new();
    PROGRAM.get_or_init(|| {
        siyu::compile(include_str!("../../examples/sop/sop.siyu"))
            .unwrap_or_else(|e| panic!("{}", e.render("sop.siyu")))
    })
}

/// A snapshot after the first 3,000 events of the bundled sample: every
/// kind of state (windows, ledgers, pending timers, tags, ids) is in it.
fn snapshot() -> &'static [u8] {
    static SNAPSHOT: OnceLock<Vec<u8>> = OnceLock::new();
    SNAPSHOT.get_or_init(|| {
        let mut engine = siyu::Engine::new(program());
        for line in include_str!("../../examples/sop/events.jsonl").lines().take(3000) {
            let _ = engine.replay_line(line);
        }
        engine.snapshot()
    })
}

fuzz_target!(|data: &[u8]| {
    let original = snapshot();
    let mut payload = original[HEADER..].to_vec();
    // The first byte picks the edit; the rest are its operands.
    let Some((&mode, rest)) = data.split_first() else {
        return;
    };
    match mode % 3 {
        // Byte writes: (position high, position low, value) triples.
        0 => {
            for w in rest.chunks_exact(3) {
                if payload.is_empty() {
                    break;
                }
                let at = usize::from(u16::from_le_bytes([w[0], w[1]])) * 7 % payload.len();
                payload[at] = w[2];
            }
        }
        // A cut at a position.
        1 => {
            let at = rest.iter().fold(0usize, |a, b| a.wrapping_mul(31).wrapping_add(usize::from(*b)));
            payload.truncate(at % (payload.len() + 1));
        }
        // The rest spliced in at a position.
        _ => {
            let at = usize::from(rest.first().copied().unwrap_or(0)) * 97 % (payload.len() + 1);
            payload.splice(at..at, rest.iter().copied());
        }
    }
    let mut bytes = original[..HEADER].to_vec();
    bytes[18..26].copy_from_slice(&(payload.len() as u64).to_le_bytes());
    bytes[26..34].copy_from_slice(&siyu::fnv1a64(&payload).to_le_bytes());
    bytes.extend_from_slice(&payload);
    if let Ok(mut engine) = siyu::Engine::restore(program(), &bytes) {
        let _ = engine.snapshot();
        let later = engine
            .clock()
            .and_then(|t| siyu::Instant::from_unix(t.unix().saturating_add(86_400)).ok());
        if let Some(t) = later {
            let _ = engine.advance_to(t);
        }
        let _ = engine.process(
            r#"{"customer": "c1", "type": "purchase", "time": "2027-06-01T00:00:00Z", "data": {"amount": 10, "sku": "x", "category": "y"}}"#,
        );
    }
});
