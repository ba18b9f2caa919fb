//! Lists sized to what they hold, for state kept once per customer.
//!
//! A customer holds a dozen small lists (scheduled firings, window entries,
//! recent ids, credits, caps' instants), most of them empty or holding one
//! or two items at any time, and there are millions of customers. `Vec`
//! spends 24 bytes on each list even when empty, never gives capacity back,
//! and doubles from four: a list that once held five firings keeps room for
//! eight for ever. These keep one pointer per list (an empty one allocates
//! nothing), grow one item at a time while small, and give memory back when
//! emptied or mostly empty, so a customer's lists cost about what they hold.
//!
//! Costs: growth is exact up to [`EXACT`] items, then doubling, so a push
//! is O(1) amortized at any size (a realloc per push only while small);
//! shrinking happens when a list falls to a quarter of its room, so a list
//! that oscillates around one size does not reallocate every time.

use serde::{Deserialize, Deserializer, Serialize, Serializer};
use thin_vec::ThinVec;

/// Items up to which a list grows one at a time.
pub(crate) const EXACT: usize = 8;

/// A list sized to what it holds (see the module's docs).
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Tight<T>(ThinVec<T>);

impl<T> Default for Tight<T> {
    fn default() -> Tight<T> {
        Tight::new()
    }
}

impl<T> Tight<T> {
    /// An empty list (no allocation).
    pub fn new() -> Tight<T> {
        Tight(ThinVec::new())
    }

    /// Room for one more item, by the growth rule above.
    fn room(&mut self) {
        let (len, cap) = (self.0.len(), self.0.capacity());
        if len == cap {
            self.0.reserve_exact(if len < EXACT { 1 } else { len });
        }
    }

    /// Gives room back once the list holds a quarter of it (all of it when
    /// empty).
    fn settle(&mut self) {
        let (len, cap) = (self.0.len(), self.0.capacity());
        if (len == 0 && cap > 0) || (cap > EXACT && len * 4 <= cap) {
            self.0.shrink_to_fit();
        }
    }

    /// Appends `item`.
    pub fn push(&mut self, item: T) {
        self.room();
        self.0.push(item);
    }

    /// Inserts `item` at `at` (at most the length).
    pub fn insert(&mut self, at: usize, item: T) {
        self.room();
        self.0.insert(at, item);
    }

    /// Removes the item at `at`, if there is one.
    pub fn remove(&mut self, at: usize) -> Option<T> {
        let item = (at < self.0.len()).then(|| self.0.remove(at));
        self.settle();
        item
    }

    /// Keeps the items for which `keep` holds, in order.
    pub fn retain(&mut self, keep: impl FnMut(&T) -> bool) {
        self.0.retain(keep);
        self.settle();
    }

    /// Takes out the first `n` items (all of them if fewer), handing each
    /// to `f` in order; how many there were.
    pub fn take_front(&mut self, n: usize, f: impl FnMut(T)) -> usize {
        let n = n.min(self.0.len());
        self.0.drain(..n).for_each(f);
        self.settle();
        n
    }

    /// Takes out every item, in order.
    pub fn take_all(&mut self) -> ThinVec<T> {
        std::mem::take(&mut self.0)
    }

    /// Removes every item and gives the room back.
    pub fn clear(&mut self) {
        self.0 = ThinVec::new();
    }

    /// The items, in order, mutably.
    pub fn as_mut_slice(&mut self) -> &mut [T] {
        &mut self.0
    }
}

impl<T> std::ops::Deref for Tight<T> {
    type Target = [T];

    fn deref(&self) -> &[T] {
        &self.0
    }
}

impl<T> FromIterator<T> for Tight<T> {
    fn from_iter<I: IntoIterator<Item = T>>(items: I) -> Tight<T> {
        let mut v: ThinVec<T> = items.into_iter().collect();
        v.shrink_to_fit();
        Tight(v)
    }
}

impl<T> Extend<T> for Tight<T> {
    fn extend<I: IntoIterator<Item = T>>(&mut self, items: I) {
        for item in items {
            self.push(item);
        }
    }
}

impl<T> From<Vec<T>> for Tight<T> {
    fn from(v: Vec<T>) -> Tight<T> {
        v.into_iter().collect()
    }
}

impl<'a, T> IntoIterator for &'a Tight<T> {
    type Item = &'a T;
    type IntoIter = std::slice::Iter<'a, T>;

    fn into_iter(self) -> Self::IntoIter {
        self.0.iter()
    }
}

/// Serialized as a plain sequence, as `Vec` and `VecDeque` are: a state
/// written before these lists existed reads the same.
impl<T: Serialize> Serialize for Tight<T> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_seq(self.0.iter())
    }
}

impl<'de, T: Deserialize<'de>> Deserialize<'de> for Tight<T> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Tight<T>, D::Error> {
        Ok(Vec::<T>::deserialize(d)?.into())
    }
}

/// A first-in first-out list sized to what it holds: a [`Tight`] list
/// whose front is taken by moving a start index, the taken items dropped
/// at once and their room reclaimed when they are half of it. A pop is
/// O(1) amortized at any length; the items stay one slice.
#[derive(Clone, Debug)]
pub(crate) struct Fifo<T: Default> {
    items: Tight<T>,
    /// Items before this index are taken (left as `T::default()`).
    head: u32,
}

impl<T: Default> Default for Fifo<T> {
    fn default() -> Fifo<T> {
        Fifo {
            items: Tight::new(),
            head: 0,
        }
    }
}

impl<T: Default> Fifo<T> {
    /// Where its oldest item is (or would be), found without reading the
    /// list's header: for a prefetch.
    pub fn front_ptr(&self) -> *const T {
        self.items.as_ptr().wrapping_add(self.head as usize)
    }

    /// The items, oldest first.
    pub fn as_slice(&self) -> &[T] {
        self.items.get(self.head as usize..).unwrap_or(&[])
    }

    /// Items held.
    pub fn len(&self) -> usize {
        self.as_slice().len()
    }

    /// Nothing held?
    pub fn is_empty(&self) -> bool {
        self.as_slice().is_empty()
    }

    /// Inserts `item` at position `at` (at most the length).
    pub fn insert(&mut self, at: usize, item: T) {
        self.items.insert(self.head as usize + at, item);
    }

    /// Takes out the oldest item.
    pub fn pop_front(&mut self) -> Option<T> {
        let head = self.head as usize;
        let item = std::mem::take(self.items.as_mut_slice().get_mut(head)?);
        self.head += 1;
        let taken = self.head as usize;
        if taken == self.items.len() {
            self.items.clear();
            self.head = 0;
        } else if taken * 2 >= self.items.len() {
            self.items.take_front(taken, drop);
            self.head = 0;
        }
        Some(item)
    }
}

impl<T: Default> std::ops::Deref for Fifo<T> {
    type Target = [T];

    fn deref(&self) -> &[T] {
        self.as_slice()
    }
}

impl<T: Default + PartialEq> PartialEq for Fifo<T> {
    fn eq(&self, other: &Fifo<T>) -> bool {
        self.as_slice() == other.as_slice()
    }
}

impl<T: Default> FromIterator<T> for Fifo<T> {
    fn from_iter<I: IntoIterator<Item = T>>(items: I) -> Fifo<T> {
        Fifo {
            items: items.into_iter().collect(),
            head: 0,
        }
    }
}

impl<T: Default> From<Vec<T>> for Fifo<T> {
    fn from(v: Vec<T>) -> Fifo<T> {
        v.into_iter().collect()
    }
}

impl<T: Default + Serialize> Serialize for Fifo<T> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_seq(self.as_slice())
    }
}

impl<'de, T: Default + Deserialize<'de>> Deserialize<'de> for Fifo<T> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Fifo<T>, D::Error> {
        Ok(Vec::<T>::deserialize(d)?.into())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn grows_one_at_a_time_while_small_and_gives_room_back() {
        let mut t = Tight::new();
        for i in 0..EXACT {
            t.push(i);
            assert_eq!(t.0.capacity(), i + 1);
        }
        t.push(EXACT);
        assert_eq!(t.0.capacity(), 2 * EXACT);
        t.retain(|x| *x < 2);
        assert_eq!(t.0.capacity(), 2);
        t.retain(|_| false);
        assert_eq!(t.0.capacity(), 0);
    }

    #[test]
    fn serializes_as_a_vec_does() {
        let v = vec![(1u32, 2i64), (3, 4)];
        let t: Tight<(u32, i64)> = v.clone().into();
        let mut f: Fifo<(u32, i64)> = vec![(0, 0), (1, 2), (3, 4)].into();
        f.pop_front();
        let want = postcard::to_allocvec(&v).expect("encodes");
        assert_eq!(postcard::to_allocvec(&t).expect("encodes"), want);
        assert_eq!(postcard::to_allocvec(&f).expect("encodes"), want);
        let back: Fifo<(u32, i64)> = postcard::from_bytes(&want).expect("decodes");
        assert_eq!(back, f);
    }

    #[derive(Clone, Debug)]
    enum Op {
        Push(u16),
        Insert(u16, u16),
        Pop,
    }

    fn op() -> impl Strategy<Value = Op> {
        prop_oneof![
            4 => any::<u16>().prop_map(Op::Push),
            1 => (any::<u16>(), any::<u16>()).prop_map(|(a, b)| Op::Insert(a, b)),
            3 => Just(Op::Pop),
        ]
    }

    proptest! {
        /// A `Fifo` holds what a `VecDeque` given the same operations
        /// holds, and never more than four times its length in room (past
        /// the exact sizes).
        #[test]
        fn fifo_is_a_deque(ops in proptest::collection::vec(op(), 0..300)) {
            let mut f: Fifo<u16> = Fifo::default();
            let mut d = std::collections::VecDeque::new();
            for op in ops {
                match op {
                    Op::Push(x) => { f.insert(f.len(), x); d.push_back(x); }
                    Op::Insert(at, x) => {
                        let at = at as usize % (d.len() + 1);
                        f.insert(at, x);
                        d.insert(at, x);
                    }
                    Op::Pop => prop_assert_eq!(f.pop_front(), d.pop_front()),
                }
                prop_assert!(f.as_slice().iter().eq(d.iter()));
                prop_assert!(f.items.0.capacity() <= (4 * f.items.len()).max(EXACT));
            }
        }
    }
}
