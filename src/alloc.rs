//! [`Alloc`], the `#[global_allocator]` wrapper: forwards every call to the inner allocator
//! and reports what happened to the tracking backend (a no-op without the `track` feature).

use std::alloc::{GlobalAlloc, Layout, System};

use crate::backend;

/// A global allocator that forwards to an inner allocator (by default [`System`]) and, with
/// the `track` cargo feature, counts every allocation and records call sites.
///
/// Install it once, in the binary or test crate:
///
/// ```
/// #[global_allocator]
/// static ALLOC: allocsite::Alloc = allocsite::Alloc::system();
///
/// fn main() {
///     let v = vec![1u8; 100];
///     match allocsite::stats() {
///         Ok(stats) => assert!(stats.allocations >= 1),
///         // Without the `track` feature the wrapper is a pure pass-through and says so.
///         Err(error) => assert_eq!(error, allocsite::Error::TrackingDisabled),
///     }
///     drop(v);
/// }
/// ```
///
/// Any other `GlobalAlloc` can be wrapped with [`Alloc::new`]. A null pointer from the inner
/// allocator is returned unchanged and not counted. Without the `track` feature the wrapper
/// compiles to the inner allocator's calls and nothing else.
#[derive(Debug, Default)]
pub struct Alloc<A = System> {
    inner: A,
}

impl Alloc<System> {
    /// The wrapper around the system allocator, usable in a `static`.
    pub const fn system() -> Self {
        Alloc { inner: System }
    }
}

impl<A> Alloc<A> {
    /// Wraps `inner`, e.g. `static ALLOC: Alloc<MyAlloc> = Alloc::new(MyAlloc::new());`.
    pub const fn new(inner: A) -> Self {
        Alloc { inner }
    }

    /// The wrapped allocator.
    pub const fn inner(&self) -> &A {
        &self.inner
    }
}

/// A free the backend's fast path declined, out of line so that the fast path needs no
/// stack frame (its only call, the inner `dealloc`, is a tail call).
///
/// The parameters come in the order `__rust_dealloc` receives them (pointer, size, align),
/// with `inner` last, so the fast path jumps here without moving a register: where this
/// function lands in another codegen unit than its caller, LLVM cannot drop or reorder
/// its parameters, and a `(inner, pointer, layout)` order cost every free three moves.
///
/// # Safety
///
/// As `GlobalAlloc::dealloc` for `inner`, with `size` and `align` those of the block's
/// layout.
#[inline(never)]
unsafe fn dealloc_general<A: GlobalAlloc>(pointer: *mut u8, size: usize, align: usize, inner: &A) {
    backend::on_dealloc(pointer, size);
    // SAFETY: `size` and `align` come from a valid `Layout` (the caller's contract).
    let layout = unsafe { Layout::from_size_align_unchecked(size, align) };
    // SAFETY: the caller upholds `GlobalAlloc::dealloc`'s contract for `inner`.
    unsafe { inner.dealloc(pointer, layout) }
}

/// A realloc that is not plain (see `backend::realloc_is_plain`), out of line: the backend
/// settles a recorded old block before the inner allocator may hand its address to another
/// thread, then accounts for the new block.
///
/// # Safety
///
/// As `GlobalAlloc::realloc` for `inner`.
#[inline(never)]
unsafe fn realloc_general<A: GlobalAlloc>(
    inner: &A,
    pointer: *mut u8,
    layout: Layout,
    new_size: usize,
) -> *mut u8 {
    backend::on_realloc(pointer, layout.size(), new_size, || {
        // SAFETY: the caller upholds `GlobalAlloc::realloc`'s contract.
        unsafe { inner.realloc(pointer, layout, new_size) }
    })
}

// SAFETY: every method forwards to the inner allocator with the caller's arguments, so the
// inner allocator's guarantees are ours. The backend hooks only read the pointer's address
// and the sizes, never the memory, and never unwind (they abort instead).
unsafe impl<A: GlobalAlloc> GlobalAlloc for Alloc<A> {
    #[inline]
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        // SAFETY: the caller upholds `GlobalAlloc::alloc`'s contract for `layout`.
        let pointer = unsafe { self.inner.alloc(layout) };
        if pointer.is_null() {
            return pointer;
        }
        backend::on_alloc(pointer, layout.size())
    }

    #[inline]
    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        // SAFETY: as for `alloc`.
        let pointer = unsafe { self.inner.alloc_zeroed(layout) };
        if pointer.is_null() {
            return pointer;
        }
        backend::on_alloc(pointer, layout.size())
    }

    #[inline]
    unsafe fn dealloc(&self, pointer: *mut u8, layout: Layout) {
        // Report first: once the inner allocator has the block back, another thread may
        // receive the same address, and its record must not be confused with this one.
        if backend::try_dealloc_fast(pointer, layout.size()) {
            // SAFETY: the caller guarantees `pointer` came from this allocator with `layout`.
            unsafe { self.inner.dealloc(pointer, layout) }
        } else {
            // SAFETY: as above.
            unsafe { dealloc_general(pointer, layout.size(), layout.align(), &self.inner) }
        }
    }

    #[inline]
    unsafe fn realloc(&self, pointer: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        if !backend::realloc_is_plain(pointer) {
            // SAFETY: as below.
            return unsafe { realloc_general(&self.inner, pointer, layout, new_size) };
        }
        // SAFETY: the caller upholds `GlobalAlloc::realloc`'s contract.
        let new_pointer = unsafe { self.inner.realloc(pointer, layout, new_size) };
        if new_pointer.is_null() {
            return new_pointer;
        }
        backend::after_plain_realloc(new_pointer, layout.size(), new_size)
    }
}
