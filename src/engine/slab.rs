//! The engine's customers, held in place: fixed chunks of slots, each
//! customer's state inside its slot.
//!
//! A step reads a customer's slot (its queue bookkeeping) and then its
//! state; with the state in the slot that is one place in memory, not a
//! pointer to follow to another. Chunks never move, so adding a customer
//! never copies the others (a `Vec` of states would copy them all at each
//! doubling, and hold both copies while it does); the room unused is at
//! most one chunk.

/// Slots per chunk.
const CHUNK: usize = 256;

/// Slots, addressed by `u32`, added at the end.
#[derive(Clone, Debug, Default)]
pub(super) struct Slab<T> {
    chunks: Vec<Box<[T]>>,
    len: usize,
}

impl<T: Default> Slab<T> {
    /// Slots held.
    pub fn len(&self) -> usize {
        self.len
    }

    /// Adds `item` as the last slot; its address.
    pub fn push(&mut self, item: T) -> u32 {
        let at = self.len;
        if at % CHUNK == 0 {
            self.chunks.push((0..CHUNK).map(|_| T::default()).collect());
        }
        self.len += 1;
        self[at as u32] = item;
        at as u32
    }

    /// The slot at `at`, if there is one.
    pub fn get(&self, at: u32) -> Option<&T> {
        let at = at as usize;
        (at < self.len).then(|| &self.chunks[at / CHUNK][at % CHUNK])
    }

    /// Every slot, mutably, in address order.
    pub fn iter_mut(&mut self) -> impl Iterator<Item = &mut T> {
        let len = self.len;
        self.chunks.iter_mut().flat_map(|c| c.iter_mut()).take(len)
    }
}

impl<T> std::ops::Index<u32> for Slab<T> {
    type Output = T;

    fn index(&self, at: u32) -> &T {
        let at = at as usize;
        &self.chunks[at / CHUNK][at % CHUNK]
    }
}

impl<T> std::ops::IndexMut<u32> for Slab<T> {
    fn index_mut(&mut self, at: u32) -> &mut T {
        let at = at as usize;
        &mut self.chunks[at / CHUNK][at % CHUNK]
    }
}
