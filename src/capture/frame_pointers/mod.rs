//! The frame-pointer walk (x86_64 and aarch64 Linux/Android): follows frame records with
//! every read checked against the thread's stack bounds and every return address against
//! the loaded modules' code, and the start-up probe that decides whether the walk is right
//! in this build.

use super::origin::Origin;
use super::runtime_entry::is_stop;
use super::unwinder::{MAX_COUNTED, MAX_FRAMES, cut_marker};

mod code_ranges;

pub(super) const SUPPORTED: bool = true;

/// Collects the loaded modules' code ranges (once); may allocate.
pub(super) fn init_code_ranges() {
    code_ranges::init();
}

/// Removes pointer-authentication bits (aarch64 `pac-ret` code signs saved return
/// addresses); Linux user-space code lives below 2^48.
#[inline(always)]
fn strip(ret: usize) -> usize {
    if cfg!(target_arch = "aarch64") {
        ret & ((1usize << 48) - 1)
    } else {
        ret
    }
}

/// Follows frame records from `origin`'s frame pointer, reading only between its stack
/// pointer and `hi` (the stack base). Inlined into `capture::capture` and
/// `capture::capture_from`, so that an origin taken there is this frame's.
#[inline(always)]
pub(super) fn walk_from(origin: Origin, hi: usize, out: &mut [usize; MAX_FRAMES]) -> Option<usize> {
    Some(walk(origin.fp, origin.sp, hi, out))
}

#[cfg(test)]
pub(super) fn walk_for_test(
    fp: usize,
    lo: usize,
    hi: usize,
    out: &mut [usize; MAX_FRAMES],
) -> usize {
    walk(fp, lo, hi, out)
}

/// Follows frame records from `fp`, reading only inside `[lo, hi)`. A stack longer than
/// [`MAX_FRAMES`] ends with its cut marker (`unwinder::cut_marker`).
#[inline(always)]
fn walk(mut fp: usize, lo: usize, hi: usize, out: &mut [usize; MAX_FRAMES]) -> usize {
    const WORD: usize = core::mem::size_of::<usize>();
    let ranges = code_ranges::get();
    // The next frame's return address, or `None` at the end of the chain or at the first
    // frame that fails a check.
    let mut next = || {
        if fp < lo || fp & 0xf != 0 || fp > hi.saturating_sub(2 * WORD) {
            return None;
        }
        // SAFETY: `[lo, hi)` runs from our own stack pointer to the base of this thread's
        // stack, which is mapped and readable; `fp .. fp + 16` lies inside it and is
        // aligned (checked just above).
        let (caller, ret) = unsafe {
            (
                core::ptr::read(fp as *const usize),
                core::ptr::read((fp + WORD) as *const usize),
            )
        };
        let ret = strip(ret);
        if ret < 4096 || ranges.is_some_and(|r| !r.contains(ret)) {
            return None;
        }
        // The outermost frame has a zero frame pointer; anything not growing toward the
        // stack base is garbage: the walk ends after this frame.
        fp = if caller > fp { caller } else { usize::MAX };
        Some(ret)
    };
    let mut n = 0;
    while let Some(ret) = next() {
        if n == MAX_FRAMES - 1 {
            let mut left_out = 1;
            let mut last = ret;
            while left_out < MAX_COUNTED && !is_stop(last) {
                match next() {
                    Some(ret) => {
                        left_out += 1;
                        last = ret;
                    }
                    None => break,
                }
            }
            out[n] = cut_marker(left_out);
            return MAX_FRAMES;
        }
        out[n] = ret;
        n += 1;
        // Keep the runtime's entry frame (the bottom trim looks for it), then stop.
        if is_stop(ret) {
            break;
        }
    }
    n
}
