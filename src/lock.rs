//! [`SpinLock`]: the lock every table of allocsite's uses (the engine's, and the one that
//! serialises allocsite's calls into the `backtrace` crate).
//!
//! A test-and-test-and-set lock that spins briefly and then yields. The engine's critical
//! sections are a few table operations that never allocate, never block and never call out,
//! so a waiter rarely waits long. It is used instead of `std::sync::Mutex` for two reasons:
//! a forked child must be able to release the locks its parent's other threads held at the
//! moment of `fork` (`engine/fork.rs` takes every allocsite lock before `fork` and releases
//! them in both processes), and poisoning has no meaning here (nothing panics inside).

use std::cell::UnsafeCell;
use std::ops::{Deref, DerefMut};
use std::sync::atomic::{AtomicBool, Ordering};

/// A lock around a `T`.
pub(crate) struct SpinLock<T> {
    locked: AtomicBool,
    value: UnsafeCell<T>,
}

// SAFETY: the lock gives one thread at a time access to the value, as a mutex does.
unsafe impl<T: Send> Sync for SpinLock<T> {}
// SAFETY: as above.
unsafe impl<T: Send> Send for SpinLock<T> {}

impl<T> SpinLock<T> {
    pub(crate) const fn new(value: T) -> Self {
        SpinLock {
            locked: AtomicBool::new(false),
            value: UnsafeCell::new(value),
        }
    }

    /// Takes the lock, spinning and then yielding until it is free.
    pub(crate) fn lock(&self) -> SpinGuard<'_, T> {
        let mut spins = 0u32;
        loop {
            if !self.locked.load(Ordering::Relaxed)
                && self
                    .locked
                    .compare_exchange_weak(false, true, Ordering::Acquire, Ordering::Relaxed)
                    .is_ok()
            {
                return SpinGuard { lock: self };
            }
            spins += 1;
            if spins < 64 {
                std::hint::spin_loop();
            } else {
                std::thread::yield_now();
            }
        }
    }

    /// Takes the lock and keeps it past the guard's scope (for `fork`'s prepare handler).
    pub(crate) fn lock_and_hold(&self) {
        std::mem::forget(self.lock());
    }

    /// Releases a lock taken by [`SpinLock::lock_and_hold`].
    ///
    /// # Safety
    ///
    /// The lock must be held by a forgotten guard, and nothing may use that guard's access
    /// afterwards: the caller is `fork`'s parent or child handler, right after the prepare
    /// handler took the lock on the same thread.
    pub(crate) unsafe fn release_held(&self) {
        self.locked.store(false, Ordering::Release);
    }
}

/// Access to a locked value; the lock is released when it is dropped.
pub(crate) struct SpinGuard<'a, T> {
    lock: &'a SpinLock<T>,
}

impl<T> Deref for SpinGuard<'_, T> {
    type Target = T;
    fn deref(&self) -> &T {
        // SAFETY: the guard exists only while this thread holds the lock.
        unsafe { &*self.lock.value.get() }
    }
}

impl<T> DerefMut for SpinGuard<'_, T> {
    fn deref_mut(&mut self) -> &mut T {
        // SAFETY: as above, and `&mut self` makes this the only access through the guard.
        unsafe { &mut *self.lock.value.get() }
    }
}

impl<T> Drop for SpinGuard<'_, T> {
    fn drop(&mut self) {
        self.lock.locked.store(false, Ordering::Release);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn threads_take_turns() {
        static COUNTER: SpinLock<u64> = SpinLock::new(0);
        let threads: Vec<_> = (0..4)
            .map(|_| {
                std::thread::spawn(|| {
                    for _ in 0..10_000 {
                        *COUNTER.lock() += 1;
                    }
                })
            })
            .collect();
        for thread in threads {
            thread.join().unwrap();
        }
        assert_eq!(*COUNTER.lock(), 40_000);
    }

    #[test]
    fn a_held_lock_can_be_released_by_its_holder() {
        let lock = SpinLock::new(1);
        lock.lock_and_hold();
        assert!(lock.locked.load(Ordering::Relaxed));
        // SAFETY: held by the forgotten guard above, which nothing uses.
        unsafe { lock.release_held() };
        assert_eq!(*lock.lock(), 1);
    }
}
