//! The platform unwinder (libgcc's `_Unwind_Backtrace` on Linux) through the `backtrace`
//! crate: always correct, microseconds per stack.

use super::runtime_entry::is_stop;
use super::unwinder::{MAX_COUNTED, MAX_FRAMES, cut_marker};

/// Captures the frames whose stack pointer (as the platform unwinder reports it: the frame's
/// own, at its call to the next frame) is at or above `limit`. With the stack pointer an
/// `Origin` holds, the stack starts at the frame that took it: every frame it called since,
/// the tracer's among them, is below.
#[inline(always)]
pub(super) fn capture_above(limit: usize, out: &mut [usize; MAX_FRAMES]) -> usize {
    let mut n = 0;
    // Frames beyond MAX_FRAMES - 1, counted once the stack is known to be cut.
    let mut left_out = 0;
    let mut record = |frame: &backtrace::Frame| {
        if (frame.sp() as usize) < limit && !frame.sp().is_null() {
            return true;
        }
        let ip = frame.ip() as usize;
        if ip == 0 {
            return false;
        }
        if n == MAX_FRAMES - 1 {
            left_out += 1;
            return left_out < MAX_COUNTED && !is_stop(ip);
        }
        out[n] = ip;
        n += 1;
        // Keep the entry frame itself (the bottom trim looks for it), then stop.
        !is_stop(ip)
    };
    #[cfg(unix)]
    // SAFETY: `trace_unsynchronized` is unsafe only because it does not serialize callers;
    // on Unix it is `_Unwind_Backtrace`, which is thread-safe and does not use the Rust
    // allocator. The callback cannot panic (it never indexes out of bounds).
    unsafe {
        backtrace::trace_unsynchronized(&mut record)
    };
    #[cfg(not(unix))]
    backtrace::trace(&mut record);
    if left_out > 0 {
        out[n] = cut_marker(left_out);
        n += 1;
    }
    n
}
