//! Snapshots (docs/host.md, the calls): a whole engine as bytes, and back.
//!
//! Layout, all integers little-endian:
//!
//! | bytes | what |
//! |---|---|
//! | 8 | magic `SIYUSNAP` |
//! | 2 | format version (2; version 1 is read too, see `v1`) |
//! | 8 | program fingerprint: FNV-1a 64 of its canonical text |
//! | 8 | payload length |
//! | 8 | FNV-1a 64 of the payload |
//! | … | payload: the engine's clock, customers and metrics in postcard |
//!
//! postcard is serde's compact binary encoding (varints, no field names): a
//! customer's state takes a fraction of its JSON, and the format has a
//! published, stable specification. Truncated, corrupted or foreign bytes,
//! or bytes of another program, give an error — never a panic and never a
//! silently wrong engine: every customer is checked against the program
//! before the engine is built.

mod v1;

use super::state::CustomerState;
use super::{Engine, Metrics};
use crate::compile::{Program, fnv1a64};
use serde::{Deserialize, Serialize};

const MAGIC: &[u8; 8] = b"SIYUSNAP";
/// The format written: version 2 (siyu 0.2), whose customer states hold
/// only what their program uses.
const VERSION: u16 = 2;
const HEADER: usize = 8 + 2 + 8 + 8 + 8;

/// Why bytes could not be restored.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum SnapshotError {
    /// Shorter than its header or its declared length.
    #[error("snapshot is truncated ({0} bytes)")]
    Truncated(usize),
    /// Not a siyu snapshot.
    #[error("not a siyu snapshot (bad magic)")]
    BadMagic,
    /// Written by a version this one does not read.
    #[error(
        "snapshot format version {0} is not supported (this is version {VERSION}; it reads versions 1 and 2)"
    )]
    Version(u16),
    /// Taken under another program.
    #[error(
        "snapshot was taken under another program (fingerprint {found:016x}, this program is {expected:016x})"
    )]
    ProgramMismatch {
        /// This program's fingerprint.
        expected: u64,
        /// The snapshot's.
        found: u64,
    },
    /// The payload does not match its checksum.
    #[error("snapshot is corrupted (checksum mismatch)")]
    Checksum,
    /// The payload does not decode, or decodes to an inconsistent engine.
    #[error("snapshot is damaged: {0}")]
    Damaged(String),
}

/// What a snapshot holds, as written (borrowing the engine's states).
#[derive(Serialize)]
struct BodyOut<'a> {
    clock: Option<i64>,
    customers: Vec<&'a CustomerState>,
    metrics: &'a Metrics,
}

/// What a snapshot holds, as read.
#[derive(Deserialize)]
struct Body {
    clock: Option<i64>,
    customers: Vec<CustomerState>,
    metrics: Metrics,
}

impl Engine {
    /// The whole engine as bytes (see the module documentation).
    pub fn snapshot(&self) -> Vec<u8> {
        let body = BodyOut {
            clock: self.clock,
            customers: self
                .in_order()
                .filter_map(|s| self.slots[s].state.as_ref())
                .collect(),
            metrics: &self.metrics,
        };
        // Infallible for any state: postcard into a `Vec` fails only on a
        // sequence of unknown length or an error a `Serialize` raises. Every
        // sequence in the body is a slice or a sized iterator (`Tight`,
        // `Fifo`, boxed slices; `Occurrences` states its length first), and
        // no `Serialize` of the state raises one. Were a change to break
        // that, an empty payload would drop every customer without a word:
        // a bug to stop at, not to hide.
        let payload = postcard::to_stdvec(&body).expect("a snapshot body serializes");
        let mut out = Vec::with_capacity(HEADER + payload.len());
        out.extend_from_slice(MAGIC);
        out.extend_from_slice(&VERSION.to_le_bytes());
        out.extend_from_slice(&self.program.fingerprint().to_le_bytes());
        out.extend_from_slice(&(payload.len() as u64).to_le_bytes());
        out.extend_from_slice(&fnv1a64(&payload).to_le_bytes());
        out.extend_from_slice(&payload);
        out
    }

    /// An engine from snapshot bytes taken under the same program.
    pub fn restore(program: &Program, bytes: &[u8]) -> Result<Engine, SnapshotError> {
        if bytes.len() >= MAGIC.len() && &bytes[..MAGIC.len()] != MAGIC {
            return Err(SnapshotError::BadMagic);
        }
        if bytes.len() < HEADER {
            return Err(SnapshotError::Truncated(bytes.len()));
        }
        let (head, payload) = bytes.split_at(HEADER);
        let word = |at: usize| {
            let mut b = [0u8; 8];
            b.copy_from_slice(&head[at..at + 8]);
            u64::from_le_bytes(b)
        };
        let version = u16::from_le_bytes([head[8], head[9]]);
        if version != VERSION && version != 1 {
            return Err(SnapshotError::Version(version));
        }
        let expected = program.fingerprint();
        let found = word(10);
        if found != expected {
            return Err(SnapshotError::ProgramMismatch { expected, found });
        }
        if word(18) != payload.len() as u64 {
            return Err(SnapshotError::Truncated(bytes.len()));
        }
        if word(26) != fnv1a64(payload) {
            return Err(SnapshotError::Checksum);
        }
        let body: Body = match version {
            1 => v1::read(program, payload)?,
            _ => {
                postcard::from_bytes(payload).map_err(|e| SnapshotError::Damaged(e.to_string()))?
            }
        };
        let mut engine = Engine::new(program);
        if body.metrics.rules.len() != engine.metrics.rules.len() {
            return Err(SnapshotError::Damaged(
                "metrics do not match the program's rules".into(),
            ));
        }
        engine.metrics = body.metrics;
        engine.clock = body.clock;
        for st in body.customers {
            st.validate(program.ir())
                .map_err(|e| SnapshotError::Damaged(e.to_string()))?;
            if engine.find(st.id()).is_some() {
                return Err(SnapshotError::Damaged(format!(
                    "customer `{}` appears twice",
                    st.id()
                )));
            }
            engine.insert(st);
        }
        Ok(engine)
    }
}
