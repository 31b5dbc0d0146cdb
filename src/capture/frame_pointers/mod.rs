//! The frame-pointer walk (x86_64 and aarch64 Linux/Android): follows frame records with
//! every read checked against the thread's stack bounds and every return address against
//! the loaded modules' code, and the start-up probe that decides whether the walk is right
//! in this build.

use super::origin::Origin;
use super::runtime_entry::is_stop;
use super::tables;
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

/// Inlined into [`super::capture`], so the frame pointer read is `capture`'s own.
#[inline(always)]
pub(super) fn capture(out: &mut [usize; MAX_FRAMES]) -> usize {
    let here = Origin::here();
    // The platform's stack, if it is needed, leaves out this frame as `tables::capture` does.
    walk_from(here, here.sp + 1, out)
}

/// Inlined into [`super::capture_from`]: the walk starts at the frame record of the frame
/// that took `origin`, if that frame is above this one.
#[inline(always)]
pub(super) fn capture_from(origin: Origin, out: &mut [usize; MAX_FRAMES]) -> usize {
    let origin = origin.live_or_here();
    walk_from(origin, origin.sp, out)
}

/// Walks from `origin`, or has the platform unwinder capture the frames whose stack pointer is
/// at least `platform_limit` (see `tables::capture_above`) where this walk cannot.
#[inline(always)]
fn walk_from(origin: Origin, platform_limit: usize, out: &mut [usize; MAX_FRAMES]) -> usize {
    let Origin { sp, fp, .. } = origin;
    match super::stack_bounds::current() {
        Some((lo, hi)) if lo <= sp && sp < hi => walk(fp, sp, hi, out),
        // Unknown bounds, or running on an alternate (signal or coroutine) stack.
        _ => tables::capture_above(platform_limit, out),
    }
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
