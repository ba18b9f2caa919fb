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
    let base = (p as *const T).cast::<u8>();
    let skew = base as usize % LINE;
    let first = base.wrapping_sub(skew);
    for offset in (0..skew + std::mem::size_of::<T>()).step_by(LINE) {
        prefetch(first.wrapping_add(offset));
    }
}
