//! Several arrays of a customer's state in one allocation.
//!
//! A state's parts whose lengths the program fixes (an aggregate's running
//! values, its stores, its windows' totals) were each a boxed slice: a
//! 16-byte pointer apiece, a block apiece, and a cache miss apiece the
//! first time a step reads it. [`Three`] keeps three such arrays one after
//! the other in a single block, behind one pointer and three lengths.
//!
//! The lengths live in the value itself, so it can be read, cloned and
//! serialized without the program that laid it out.

use std::alloc::{Layout, alloc, dealloc, handle_alloc_error};
use std::fmt;
use std::marker::PhantomData;
use std::ptr::NonNull;

/// Three arrays, of `A`, `B` and `C`, in one block.
pub(crate) struct Three<A, B, C> {
    /// The block: the `A`s from its start, then the `B`s and the `C`s,
    /// each at its alignment (dangling, aligned, when it is empty).
    ptr: NonNull<u8>,
    lens: [u32; 3],
    /// It owns the values.
    _owns: PhantomData<(A, B, C)>,
}

// SAFETY: `Three` owns its values as a `(Vec<A>, Vec<B>, Vec<C>)` would,
// and hands out references only through `&self` and `&mut self`.
unsafe impl<A: Send, B: Send, C: Send> Send for Three<A, B, C> {}
// SAFETY: as above: a shared `Three` gives only shared references.
unsafe impl<A: Sync, B: Sync, C: Sync> Sync for Three<A, B, C> {}

/// Too many values for one block's lengths (more than `u32::MAX` in one
/// array, or more bytes than an allocation can hold).
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
#[error("too many values for one block")]
pub(crate) struct TooLarge;

impl<A, B, C> Three<A, B, C> {
    /// The block's layout for these lengths, and where the `B`s and the
    /// `C`s start.
    fn layout(lens: [usize; 3]) -> Option<(Layout, usize, usize)> {
        let a = Layout::array::<A>(lens[0]).ok()?;
        let (ab, at_b) = a.extend(Layout::array::<B>(lens[1]).ok()?).ok()?;
        let (abc, at_c) = ab.extend(Layout::array::<C>(lens[2]).ok()?).ok()?;
        Some((abc, at_b, at_c))
    }

    fn lens(&self) -> [usize; 3] {
        self.lens.map(|n| n as usize)
    }

    /// Where the `B`s and the `C`s start: what `layout` works out, without
    /// its checks, for lengths it has already accepted (a value is only
    /// made with those), so that no step can overflow.
    fn offsets(lens: [usize; 3]) -> (usize, usize) {
        let at_b = (lens[0] * size_of::<A>()).next_multiple_of(align_of::<B>());
        let at_c = (at_b + lens[1] * size_of::<B>()).next_multiple_of(align_of::<C>());
        (at_b, at_c)
    }

    /// Where the three arrays start.
    fn starts(&self) -> (*mut A, *mut B, *mut C) {
        let (at_b, at_c) = Self::offsets(self.lens());
        let base = self.ptr.as_ptr();
        (
            base.cast::<A>(),
            base.wrapping_add(at_b).cast::<B>(),
            base.wrapping_add(at_c).cast::<C>(),
        )
    }

    /// The three arrays moved into one block. O(total length).
    pub fn new(a: Vec<A>, b: Vec<B>, c: Vec<C>) -> Result<Three<A, B, C>, TooLarge> {
        let lens = [a.len(), b.len(), c.len()];
        let short = |n: usize| u32::try_from(n).map_err(|_| TooLarge);
        let short_lens = [short(lens[0])?, short(lens[1])?, short(lens[2])?];
        let (layout, at_b, at_c) = Self::layout(lens).ok_or(TooLarge)?;
        debug_assert_eq!(Self::offsets(lens), (at_b, at_c));
        let ptr = if layout.size() == 0 {
            // No bytes to hold: any address aligned for all three will do.
            NonNull::new(std::ptr::without_provenance_mut(layout.align())).ok_or(TooLarge)?
        } else {
            // SAFETY: the layout's size is not zero.
            let p = unsafe { alloc(layout) };
            NonNull::new(p).unwrap_or_else(|| handle_alloc_error(layout))
        };
        let base = ptr.as_ptr();
        // SAFETY: each array's place in the block is inside the allocation,
        // aligned for its type and as long as the vector, and the three do
        // not overlap (`Layout::extend`). The values are moved bit for
        // bit, and each vector's length is set to 0 before it is dropped,
        // so they are not dropped there: the block owns them now.
        unsafe {
            move_into(a, base.cast::<A>());
            move_into(b, base.add(at_b).cast::<B>());
            move_into(c, base.add(at_c).cast::<C>());
        }
        Ok(Three {
            ptr,
            lens: short_lens,
            _owns: PhantomData,
        })
    }

    /// The three arrays, as raw slices: each holds initialized values
    /// owned by `self`, and the three do not overlap.
    fn raw(&self) -> (*mut [A], *mut [B], *mut [C]) {
        let (a, b, c) = self.starts();
        let [na, nb, nc] = self.lens();
        (
            std::ptr::slice_from_raw_parts_mut(a, na),
            std::ptr::slice_from_raw_parts_mut(b, nb),
            std::ptr::slice_from_raw_parts_mut(c, nc),
        )
    }

    /// The three arrays.
    pub fn parts(&self) -> (&[A], &[B], &[C]) {
        let (a, b, c) = self.raw();
        // SAFETY: see `raw`; borrowed shared with `self`.
        unsafe { (&*a, &*b, &*c) }
    }

    /// The three arrays, to change.
    pub fn parts_mut(&mut self) -> (&mut [A], &mut [B], &mut [C]) {
        let (a, b, c) = self.raw();
        // SAFETY: see `raw`; `self` is borrowed exclusively for as long as
        // they are, and they do not overlap.
        unsafe { (&mut *a, &mut *b, &mut *c) }
    }
}

/// Moves the values of `v` to `to`, leaving `v` to free only its buffer.
///
/// # Safety
/// `to` is valid for writing `v.len()` values of `T`, aligned, and does
/// not overlap `v`'s buffer.
unsafe fn move_into<T>(mut v: Vec<T>, to: *mut T) {
    // SAFETY: the caller's promise; `v`'s values are initialized.
    unsafe {
        std::ptr::copy_nonoverlapping(v.as_ptr(), to, v.len());
        v.set_len(0);
    }
}

impl<A, B, C> Drop for Three<A, B, C> {
    fn drop(&mut self) {
        let (a, b, c) = self.raw();
        // SAFETY: the values are initialized and dropped once, here; the
        // block was allocated with this layout when its size is not zero.
        unsafe {
            std::ptr::drop_in_place(a);
            std::ptr::drop_in_place(b);
            std::ptr::drop_in_place(c);
            // The layout was worked out for these lengths when the block
            // was made, so it is there to be found again.
            if let Some((layout, _, _)) = Self::layout(self.lens()) {
                if layout.size() != 0 {
                    dealloc(self.ptr.as_ptr(), layout);
                }
            }
        }
    }
}

impl<A: Clone, B: Clone, C: Clone> Clone for Three<A, B, C> {
    fn clone(&self) -> Three<A, B, C> {
        let (a, b, c) = self.parts();
        // The lengths fit: they are this value's own.
        Three::new(a.to_vec(), b.to_vec(), c.to_vec()).expect("a block's own lengths fit a block")
    }
}

impl<A: PartialEq, B: PartialEq, C: PartialEq> PartialEq for Three<A, B, C> {
    fn eq(&self, other: &Three<A, B, C>) -> bool {
        self.parts() == other.parts()
    }
}

impl<A: fmt::Debug, B: fmt::Debug, C: fmt::Debug> fmt::Debug for Three<A, B, C> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let (a, b, c) = self.parts();
        f.debug_tuple("Three")
            .field(&a)
            .field(&b)
            .field(&c)
            .finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use std::rc::Rc;

    #[test]
    fn empty_arrays_take_no_block() {
        let t: Three<u8, String, u64> = Three::new(vec![], vec![], vec![]).unwrap();
        assert_eq!(
            Three::<u8, String, u64>::layout([0; 3]).map(|l| l.0.size()),
            Some(0)
        );
        let (a, b, c) = t.parts();
        assert!(a.is_empty() && b.is_empty() && c.is_empty());
        assert_eq!(t.clone(), t);
    }

    #[test]
    fn every_value_is_dropped_once() {
        let marker = Rc::new(());
        {
            let t = Three::new(
                vec![Rc::clone(&marker)],
                vec![String::from("x"); 3],
                vec![Rc::clone(&marker), Rc::clone(&marker)],
            )
            .unwrap();
            let copy = t.clone();
            assert_eq!(Rc::strong_count(&marker), 7);
            drop(t);
            assert_eq!(Rc::strong_count(&marker), 4);
            drop(copy);
        }
        assert_eq!(Rc::strong_count(&marker), 1);
    }

    proptest! {
        /// Whatever the lengths and alignments, the arrays come back as
        /// they went in, change independently, and clone equal.
        #[test]
        fn arrays_keep_their_values(
            a in prop::collection::vec(any::<u8>(), 0..20),
            b in prop::collection::vec(".{0,30}", 0..20),
            c in prop::collection::vec(any::<u64>(), 0..20),
        ) {
            let mut t = Three::new(a.clone(), b.clone(), c.clone()).unwrap();
            prop_assert_eq!(t.parts(), (&a[..], &b[..], &c[..]));
            let (ma, mb, mc) = t.parts_mut();
            ma.iter_mut().for_each(|x| *x = x.wrapping_add(1));
            mb.iter_mut().for_each(|s| s.push('!'));
            mc.reverse();
            let copy = t.clone();
            prop_assert_eq!(&copy, &t);
            let (ca, cb, cc) = copy.parts();
            prop_assert!(ca.iter().zip(&a).all(|(x, y)| *x == y.wrapping_add(1)));
            let bang = |y: &String| y.clone() + "!";
            prop_assert!(cb.iter().zip(&b).all(|(x, y)| *x == bang(y)));
            prop_assert!(cc.iter().eq(c.iter().rev()));
            let (_, _, cu64) = t.parts();
            prop_assert_eq!(cu64.as_ptr() as usize % std::mem::align_of::<u64>(), 0);
        }
    }
}
