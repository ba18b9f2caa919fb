//! Hints to the processor about memory about to be read.
//!
//! A customer's state is a dozen blocks at scattered addresses, and at a
//! population past the cache each first touch of one is a miss. Where the
//! engine knows which customers come next (an instant's due timers, a
//! broadcast's walk), it asks for their blocks a step ahead, so those
//! misses overlap with the current customer's work instead of following
//! it.

/// Asks for the cache line holding `p` to be loaded. Never faults, for any
/// address; a no-op where the target has no prefetch instruction.
#[inline(always)]
pub(crate) fn prefetch<T: ?Sized>(p: *const T) {
    #[cfg(target_arch = "x86_64")]
    // SAFETY: `prefetcht0` is a hint: it reads nothing and never faults,
    // whatever the address, and SSE is part of every x86-64.
    unsafe {
        use std::arch::x86_64::{_MM_HINT_T0, _mm_prefetch};
        _mm_prefetch::<_MM_HINT_T0>(p.cast::<i8>());
    }
    #[cfg(not(target_arch = "x86_64"))]
    let _ = p;
}

/// The cache line's size on the targets siyu is built for.
const LINE: usize = 64;

/// [`prefetch`] for every cache line `*p` touches: from the line its first
/// byte is in, so that an object not starting on a line has its last one
/// asked for too.
#[inline(always)]
pub(crate) fn prefetch_all<T>(p: &T) {
    prefetch_bytes((p as *const T).cast::<u8>(), std::mem::size_of::<T>());
}

/// [`prefetch_all`] for the elements of a slice, its first
/// [`SLICE_BYTES`] at most (five lines, where they do not start on one):
/// a state's arrays of the program's size (its derived values, its rules'
/// words) span two or three lines, and a step reads them through; a
/// longer list is read from its front, and asking for all of it would
/// crowd out what the step reads next.
#[inline(always)]
pub(crate) fn prefetch_slice<T>(s: &[T]) {
    prefetch_bytes(
        s.as_ptr().cast::<u8>(),
        std::mem::size_of_val(s).min(SLICE_BYTES),
    );
}

/// Bytes of a slice [`prefetch_slice`] asks for at most.
const SLICE_BYTES: usize = 4 * LINE;

/// Asks for every line of the `len` bytes from `base`.
#[inline(always)]
fn prefetch_bytes(base: *const u8, len: usize) {
    let skew = base as usize % LINE;
    let first = base.wrapping_sub(skew);
    for offset in (0..skew + len).step_by(LINE) {
        prefetch(first.wrapping_add(offset));
    }
}
