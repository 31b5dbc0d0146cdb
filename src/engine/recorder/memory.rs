//! Memory for the recorder's tables, straight from the kernel (`mmap`), never from an
//! allocator.
//!
//! The recording path runs inside the allocator, possibly in a signal handler that
//! interrupted the inner allocator while it held its own locks (glibc's arena lock). If the
//! recorder asked an allocator for memory there, the process could deadlock, or corrupt the
//! heap on a single thread; and a thread holding a recorder lock while waiting for an
//! allocator lock could deadlock with that handler. So the tables use only memory mapped
//! here: `mmap` and `munmap` are system calls, async-signal-safe and lock-free in user space.
//!
//! - [`Region`]: zeroed pages, unmapped on drop.
//! - [`IntMap`]: an open-addressing map from non-zero `u64` keys to plain values.
//! - [`Chunks`]: an array that grows by whole chunks that never move, so other threads can
//!   read its elements without a lock while its owner appends.
//!
//! A failed `mmap` (out of memory) makes an insertion report failure; callers drop what they
//! were recording and count it (see `DROPPED`), they never panic.

use std::ptr::NonNull;
use std::sync::atomic::{AtomicPtr, AtomicU64, Ordering};

/// Records the recorder could not keep because the kernel refused memory.
pub(crate) static DROPPED: AtomicU64 = AtomicU64::new(0);

/// Types whose all-zero bit pattern is a valid value: the tables hand out zeroed memory.
///
/// # Safety
///
/// Implement only for types made of integers, floats, raw pointers, atomics of those, and
/// arrays or structs of such fields.
pub(crate) unsafe trait Zeroable: Sized {}

// SAFETY: integers and floats are valid as all zeros.
unsafe impl Zeroable for u64 {}
// SAFETY: as above.
unsafe impl Zeroable for u32 {}
// SAFETY: as above.
unsafe impl Zeroable for usize {}
// SAFETY: as above.
unsafe impl Zeroable for i64 {}
// SAFETY: an atomic integer's zero is a valid value.
unsafe impl Zeroable for AtomicU64 {}
// SAFETY: a null pointer is a valid atomic pointer.
unsafe impl<T> Zeroable for AtomicPtr<T> {}

/// Zeroed, readable and writable pages from `mmap`.
pub(crate) struct Region {
    start: NonNull<u8>,
    bytes: usize,
}

// SAFETY: a region is plain memory; who may touch it is up to its owner.
unsafe impl Send for Region {}
// SAFETY: as above.
unsafe impl Sync for Region {}

impl Region {
    /// `bytes` (rounded up to pages) of zeroed memory, or `None` if the kernel refuses.
    pub(crate) fn new(bytes: usize) -> Option<Region> {
        let page = 4096;
        let bytes = bytes.max(1).checked_next_multiple_of(page)?;
        // SAFETY: an anonymous private mapping at an address of the kernel's choosing; no
        // file, no fixed address, so no existing mapping is touched.
        let start = unsafe {
            libc::mmap(
                std::ptr::null_mut(),
                bytes,
                libc::PROT_READ | libc::PROT_WRITE,
                libc::MAP_PRIVATE | libc::MAP_ANONYMOUS,
                -1,
                0,
            )
        };
        if start == libc::MAP_FAILED {
            return None;
        }
        Some(Region {
            start: NonNull::new(start.cast())?,
            bytes,
        })
    }

    pub(crate) fn as_ptr(&self) -> *mut u8 {
        self.start.as_ptr()
    }

    /// Gives up ownership: the pages stay mapped for the rest of the process.
    pub(crate) fn leak(self) -> *mut u8 {
        let start = self.start.as_ptr();
        std::mem::forget(self);
        start
    }
}

impl Drop for Region {
    fn drop(&mut self) {
        // SAFETY: `start..start + bytes` is a mapping this region made and still owns.
        unsafe {
            libc::munmap(self.start.as_ptr().cast(), self.bytes);
        }
    }
}

/// An open-addressing map from non-zero `u64` keys to `V` (linear probing, at most half
/// full, deletion by backward shift so no tombstones build up). Not synchronised: it lives
/// behind a lock or in one thread's state. Values move bitwise when the table grows and are
/// dropped with the map.
pub(crate) struct IntMap<V: Zeroable> {
    slots: Option<Region>,
    /// Slots minus one (a power of two minus one); 0 while nothing is mapped.
    mask: usize,
    len: usize,
    _values: std::marker::PhantomData<V>,
}

#[repr(C)]
struct Slot<V> {
    key: u64,
    value: V,
}

impl<V: Zeroable> Default for IntMap<V> {
    fn default() -> Self {
        Self::new()
    }
}

impl<V: Zeroable> IntMap<V> {
    pub(crate) const fn new() -> Self {
        IntMap {
            slots: None,
            mask: 0,
            len: 0,
            _values: std::marker::PhantomData,
        }
    }

    pub(crate) fn len(&self) -> usize {
        self.len
    }

    fn slots(&self) -> &[Slot<V>] {
        match &self.slots {
            // SAFETY: the region holds `mask + 1` slots, zeroed or written by this map, and a
            // zeroed slot is valid (`V: Zeroable`, key 0 = empty).
            Some(region) => unsafe {
                std::slice::from_raw_parts(region.as_ptr().cast::<Slot<V>>(), self.mask + 1)
            },
            None => &[],
        }
    }

    fn slots_mut(&mut self) -> &mut [Slot<V>] {
        let slots = self.mask + 1;
        match &mut self.slots {
            // SAFETY: as in `slots`, and `&mut self` makes this the only access.
            Some(region) => unsafe {
                std::slice::from_raw_parts_mut(region.as_ptr().cast::<Slot<V>>(), slots)
            },
            None => &mut [],
        }
    }

    #[inline]
    fn home(&self, key: u64) -> usize {
        home_of(key, self.mask)
    }

    pub(crate) fn get(&self, key: u64) -> Option<&V> {
        let slots = self.slots();
        if slots.is_empty() || key == 0 {
            return None;
        }
        let mut index = self.home(key);
        loop {
            let slot = &slots[index];
            if slot.key == key {
                return Some(&slot.value);
            }
            if slot.key == 0 {
                return None;
            }
            index = (index + 1) & self.mask;
        }
    }

    pub(crate) fn get_mut(&mut self, key: u64) -> Option<&mut V> {
        let mask = self.mask;
        let mut index = self.home(key);
        let slots = self.slots_mut();
        if slots.is_empty() || key == 0 {
            return None;
        }
        loop {
            if slots[index].key == key {
                return Some(&mut slots[index].value);
            }
            if slots[index].key == 0 {
                return None;
            }
            index = (index + 1) & mask;
        }
    }

    /// Inserts or replaces; returns the previous value. `Err(())` if the table had to grow
    /// and the kernel refused memory (nothing changed then).
    #[allow(clippy::result_unit_err)]
    #[inline]
    pub(crate) fn insert(&mut self, key: u64, value: V) -> Result<Option<V>, ()> {
        debug_assert_ne!(key, 0);
        if (self.len + 1) * 2 > self.mask + 1 || self.slots.is_none() {
            self.grow()?;
        }
        let mask = self.mask;
        let mut index = self.home(key);
        let slots = self.slots_mut();
        loop {
            let slot = &mut slots[index];
            if slot.key == key {
                return Ok(Some(std::mem::replace(&mut slot.value, value)));
            }
            if slot.key == 0 {
                slot.key = key;
                // SAFETY: an empty slot's value is zeroed memory that was never a live value
                // (or was moved out), so it is overwritten without being dropped.
                unsafe { std::ptr::write(&mut slot.value, value) };
                self.len += 1;
                return Ok(None);
            }
            index = (index + 1) & mask;
        }
    }

    /// Removes `key`, returning its value.
    #[inline(always)]
    pub(crate) fn remove(&mut self, key: u64) -> Option<V> {
        if self.slots.is_none() || key == 0 {
            return None;
        }
        let mask = self.mask;
        let mut index = self.home(key);
        let slots = self.slots_mut();
        loop {
            if slots[index].key == key {
                break;
            }
            if slots[index].key == 0 {
                return None;
            }
            index = (index + 1) & mask;
        }
        // SAFETY: the slot holds a live value; it is moved out here and the slot is then
        // overwritten bitwise or marked empty, never dropped again.
        let removed = unsafe { std::ptr::read(&slots[index].value) };
        // Backward-shift: move later entries of the run into the hole when their home
        // position allows it, so lookups never need tombstones.
        let mut hole = index;
        let mut next = (hole + 1) & mask;
        while slots[next].key != 0 {
            let home = home_of(slots[next].key, mask);
            let distance_next = next.wrapping_sub(home) & mask;
            let distance_hole = hole.wrapping_sub(home) & mask;
            if distance_hole <= distance_next {
                // SAFETY: moves the entry bitwise into the hole (whose value was moved out);
                // the source becomes the new hole.
                unsafe {
                    std::ptr::copy_nonoverlapping(&slots[next], &mut slots[hole], 1);
                }
                hole = next;
            }
            next = (next + 1) & mask;
        }
        slots[hole].key = 0;
        self.len -= 1;
        Some(removed)
    }

    /// Every entry, in slot order.
    pub(crate) fn iter(&self) -> impl Iterator<Item = (u64, &V)> {
        self.slots()
            .iter()
            .filter(|slot| slot.key != 0)
            .map(|slot| (slot.key, &slot.value))
    }

    /// Every entry, mutably.
    pub(crate) fn iter_mut(&mut self) -> impl Iterator<Item = (u64, &mut V)> {
        self.slots_mut()
            .iter_mut()
            .filter(|slot| slot.key != 0)
            .map(|slot| (slot.key, &mut slot.value))
    }

    /// Drops every entry and gives the memory back.
    #[cfg(test)]
    pub(crate) fn clear(&mut self) {
        self.drop_values();
        self.slots = None;
        self.mask = 0;
        self.len = 0;
    }

    fn drop_values(&mut self) {
        if std::mem::needs_drop::<V>() {
            for slot in self.slots_mut() {
                if slot.key != 0 {
                    slot.key = 0;
                    // SAFETY: an occupied slot holds a live value, dropped once here.
                    unsafe { std::ptr::drop_in_place(&mut slot.value) };
                }
            }
        }
        self.len = 0;
    }

    #[cold]
    #[inline(never)]
    fn grow(&mut self) -> Result<(), ()> {
        let slots = ((self.mask + 1) * 2).max(64);
        let bytes = slots
            .checked_mul(std::mem::size_of::<Slot<V>>())
            .ok_or(())?;
        let region = Region::new(bytes).ok_or(())?;
        let mut old = std::mem::replace(
            self,
            IntMap {
                slots: Some(region),
                mask: slots - 1,
                len: 0,
                _values: std::marker::PhantomData,
            },
        );
        for slot in old.slots_mut() {
            if slot.key != 0 {
                let key = std::mem::replace(&mut slot.key, 0);
                // SAFETY: moved out once; the old slot is marked empty, so `old`'s drop
                // does not drop it again.
                let value = unsafe { std::ptr::read(&slot.value) };
                let _ = self
                    .insert(key, value)
                    .expect("the new table has room for every old entry");
            }
        }
        old.len = 0;
        Ok(())
    }
}

impl<V: Zeroable> Drop for IntMap<V> {
    fn drop(&mut self) {
        self.drop_values();
    }
}

// SAFETY: an `IntMap` is a table of (`u64`, `V`) in a region it owns; all-zero is the
// empty map (`None` region, mask 0, length 0).
unsafe impl<V: Zeroable> Zeroable for IntMap<V> {}

/// The home slot of `key` in a table of `mask + 1` slots (Fibonacci hashing).
#[inline]
fn home_of(key: u64, mask: usize) -> usize {
    (key.wrapping_mul(0x9E37_79B9_7F4A_7C15) >> 32) as usize & mask
}

/// Elements of a [`Chunks`] array per chunk.
pub(crate) const CHUNK: usize = 1024;
/// Chunks a [`Chunks`] array can have: `CHUNK * MAX_CHUNKS` elements in all.
const MAX_CHUNKS: usize = 4096;

/// A growable array of `T` whose elements never move: chunk `i` holds elements
/// `i * CHUNK ..`, mapped on first use and published with a release store, so any thread
/// can read an element that another thread made reachable without taking a lock.
/// Chunks are never unmapped (the array lives for the process or is reused).
pub(crate) struct Chunks<T: Zeroable> {
    chunks: [AtomicPtr<T>; MAX_CHUNKS],
}

impl<T: Zeroable> Chunks<T> {
    pub(crate) const fn new() -> Self {
        Chunks {
            chunks: [const { AtomicPtr::new(std::ptr::null_mut()) }; MAX_CHUNKS],
        }
    }

    /// Element `index`, if its chunk exists.
    #[inline]
    pub(crate) fn get(&self, index: usize) -> Option<&T> {
        let chunk = self.chunks.get(index / CHUNK)?.load(Ordering::Acquire);
        if chunk.is_null() {
            return None;
        }
        // SAFETY: a published chunk holds `CHUNK` zeroed-or-written elements and is never
        // unmapped; elements are only changed through shared references (atomics) or by
        // the owner under the rules of the type that holds this array.
        Some(unsafe { &*chunk.add(index % CHUNK) })
    }

    /// Element `index`, mapping its chunk if needed; `None` when out of memory or past the
    /// last chunk. Two threads may race to map the same chunk: one wins, the other's pages
    /// are unmapped.
    pub(crate) fn get_or_map(&self, index: usize) -> Option<&T> {
        if let Some(element) = self.get(index) {
            return Some(element);
        }
        let slot = self.chunks.get(index / CHUNK)?;
        let region = Region::new(CHUNK * std::mem::size_of::<T>())?;
        let fresh = region.as_ptr().cast::<T>();
        match slot.compare_exchange(
            std::ptr::null_mut(),
            fresh,
            Ordering::AcqRel,
            Ordering::Acquire,
        ) {
            Ok(_) => {
                region.leak();
            }
            Err(_) => drop(region),
        }
        self.get(index)
    }

    /// Every mapped chunk's elements, with their indices (chunks may be mapped in any
    /// order; unmapped ones are skipped).
    pub(crate) fn iter(&self) -> impl Iterator<Item = (usize, &T)> {
        self.chunks
            .iter()
            .enumerate()
            .filter(|(_, chunk)| !chunk.load(Ordering::Acquire).is_null())
            .flat_map(move |(number, _)| {
                (number * CHUNK..(number + 1) * CHUNK)
                    .map(move |index| (index, self.get(index).expect("chunk is mapped")))
            })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_map_inserts_finds_replaces_and_removes() {
        let mut map: IntMap<u64> = IntMap::new();
        for key in 1..=1000u64 {
            assert_eq!(map.insert(key * 7919, key), Ok(None));
        }
        assert_eq!(map.len(), 1000);
        assert_eq!(map.insert(7919, 42), Ok(Some(1)));
        assert_eq!(map.get(7919), Some(&42));
        for key in (2..=1000u64).step_by(2) {
            assert_eq!(map.remove(key * 7919), Some(key));
        }
        assert_eq!(map.len(), 500);
        for key in 1..=1000u64 {
            let expected = (key % 2 == 1).then_some(if key == 1 { 42 } else { key });
            assert_eq!(map.get(key * 7919).copied(), expected, "key {key}");
        }
        assert_eq!(map.remove(12345), None);
        // Key 0 marks empty slots: it is never found.
        assert!(map.get(0).is_none() && map.get_mut(0).is_none() && map.remove(0).is_none());
        assert_eq!(map.iter().count(), 500);
        map.clear();
        assert_eq!(map.get(7919), None);
    }

    #[test]
    fn removal_keeps_every_colliding_key_reachable() {
        // Keys with the same home slot form one run; removing from its middle must shift
        // the rest back.
        let mut map: IntMap<u64> = IntMap::new();
        map.insert(1, 0).unwrap();
        let home = map.home(1);
        let colliding: Vec<u64> = (2..u64::MAX)
            .filter(|&key| map.home(key) == home)
            .take(5)
            .collect();
        for &key in &colliding {
            map.insert(key, key).unwrap();
        }
        map.remove(colliding[1]);
        for &key in colliding.iter().filter(|&&k| k != colliding[1]) {
            assert_eq!(map.get(key), Some(&key));
        }
    }

    #[test]
    fn values_that_own_memory_move_and_drop_once() {
        // Maps inside a map: growth moves them, removal returns them, the outer drop drops
        // the rest (a double drop would unmap twice and crash).
        let mut outer: IntMap<IntMap<u64>> = IntMap::new();
        for key in 1..=300u64 {
            let mut inner = IntMap::new();
            inner.insert(key, key * 2).unwrap();
            outer.insert(key, inner).unwrap();
        }
        let taken = outer.remove(150).unwrap();
        assert_eq!(taken.get(150), Some(&300));
        assert_eq!(outer.get(299).unwrap().get(299), Some(&598));
        drop(outer);
        drop(taken);
    }

    #[test]
    fn chunks_are_shared_and_grow_without_moving() {
        static ARRAY: Chunks<AtomicU64> = Chunks::new();
        assert!(ARRAY.get(5).is_none());
        let first = ARRAY.get_or_map(5).unwrap() as *const AtomicU64;
        ARRAY
            .get_or_map(CHUNK * 3 + 1)
            .unwrap()
            .store(9, Ordering::Relaxed);
        assert_eq!(first, ARRAY.get(5).unwrap() as *const _);
        assert_eq!(ARRAY.get(CHUNK * 3 + 1).unwrap().load(Ordering::Relaxed), 9);
        // Chunks 1 and 2 were never mapped: iteration skips them.
        assert_eq!(ARRAY.iter().count(), 2 * CHUNK);
        assert_eq!(ARRAY.iter().nth(CHUNK).unwrap().0, 3 * CHUNK);
    }
}
