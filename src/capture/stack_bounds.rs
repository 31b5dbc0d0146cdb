//! Stack bounds of the current thread, cached per thread, so the frame-pointer walk never
//! reads outside the thread's stack.

use core::cell::Cell;

thread_local! {
    /// `(lo, hi)` of this thread's stack; `(0, 0)` = not asked yet; `(1, 0)` = unknown.
    static BOUNDS: Cell<(usize, usize)> = const { Cell::new((0, 0)) };
}

/// `(lo, hi)` of the current thread's stack, or `None` if they cannot be known.
/// Works in thread-local destructors too: the cell has no destructor.
#[inline]
pub(super) fn current() -> Option<(usize, usize)> {
    BOUNDS
        .try_with(|cell| {
            let mut b = cell.get();
            if b == (0, 0) {
                b = query().unwrap_or((1, 0));
                cell.set(b);
            }
            b
        })
        .ok()
        .filter(|&(lo, hi)| lo < hi)
}

#[cold]
fn query() -> Option<(usize, usize)> {
    // SAFETY: `attr` is initialised by `pthread_getattr_np` before it is read and destroyed
    // exactly once after a successful init; the out-pointers are valid locals. glibc and
    // musl allocate with C `malloc` here, never with the Rust global allocator.
    unsafe {
        let mut attr: libc::pthread_attr_t = core::mem::zeroed();
        if libc::pthread_getattr_np(libc::pthread_self(), &mut attr) != 0 {
            return None;
        }
        let mut addr: *mut libc::c_void = core::ptr::null_mut();
        let mut size: libc::size_t = 0;
        let rc = libc::pthread_attr_getstack(&attr, &mut addr, &mut size);
        libc::pthread_attr_destroy(&mut attr);
        if rc != 0 || addr.is_null() {
            return None;
        }
        let lo = addr as usize;
        Some((lo, lo.checked_add(size)?))
    }
}
