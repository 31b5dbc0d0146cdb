//! The cached unwinder (x86_64 Linux with glibc): the unwind tables' answer at frame-pointer
//! speed, in the build users actually run (no `-C force-frame-pointers`).
//!
//! Each step from a frame to its caller needs the unwind rule at the frame's return address.
//! Rules are computed from the module's `.eh_frame` on the first sight of an address
//! (`lookup.rs`, microseconds, no allocation) and kept in a lock-free table shared by all
//! threads (`cache.rs`); every later capture through the same code reads one cached word per
//! frame (`rule.rs`). A step is then: CFA = `rsp` or `rbp` + offset, return address at
//! `CFA - 8`, `rbp` restored from `CFA + k` if the frame saved it.
//!
//! Every read from the stack is checked first: it must lie between the stack pointer at
//! which the capture began and the thread's stack base, 8-byte aligned, and the CFA must
//! grow from frame to frame. The first frame that fails a check ends the stack; a bad stack
//! is cut short, never followed out of bounds. A rule this unwinder does not follow (a CFA
//! expression, as in a signal trampoline) hands the whole capture to the platform unwinder,
//! so the answer stays that of the unwind tables.
//!
//! Libraries unloaded with `dlclose` flush the cache (`dlclose.rs`): their addresses may be
//! reused by the next library loaded.

mod cache;
mod dlclose;
mod lookup;
mod rule;

use super::origin::Origin;
use super::runtime_entry::{in_entry_function, stops_enabled};
#[cfg(test)]
use super::stack_bounds;
use super::unwinder::{MAX_COUNTED, MAX_FRAMES, cut_marker};
use rule::Packed;
#[cfg(test)]
use rule::{Base, Rule};

/// Whether this unwinder exists on this target.
pub(super) const SUPPORTED: bool = true;

/// Prepares the miss path (looks up `_dl_find_object`) and keeps the `dlclose` interposer in
/// the link. Call once, outside the allocator's hot path: it may take the loader's lock.
pub(super) fn init() {
    lookup::init();
    dlclose::anchor();
}

/// Makes every cached rule a miss (for benchmarks and tests of the miss path).
pub(super) fn flush() {
    cache::flush();
}

/// Walks from `origin`, whose stack pointer is on this thread's stack below `hi` (the
/// stack base). Inlined into `capture::capture` and `capture::capture_from`, so that an
/// origin taken there is this frame's. `None` when a frame needs a rule this unwinder does
/// not follow (the caller then asks the platform unwinder).
#[inline(always)]
pub(super) fn walk_from(origin: Origin, hi: usize, out: &mut [usize; MAX_FRAMES]) -> Option<usize> {
    walk(origin.ip, origin.sp, origin.fp, hi, out)
}

/// Unwinds from the frame at `ip` with registers `sp` and `bp`, reading only inside
/// `[sp, hi)`. `None` when a frame needs a rule this unwinder does not follow. A stack longer
/// than [`MAX_FRAMES`] ends with its cut marker (`unwinder::cut_marker`).
#[inline(always)]
fn walk(
    ip: usize,
    sp: usize,
    bp: usize,
    hi: usize,
    out: &mut [usize; MAX_FRAMES],
) -> Option<usize> {
    let mut walker = Walker {
        at: ip,
        sp,
        bp,
        lo: sp,
        hi,
        continue_mask: Packed::continue_mask(stops_enabled()),
    };
    let mut n = 0;
    loop {
        match walker.next()? {
            Some(ret) if n < MAX_FRAMES - 1 => {
                out[n] = ret;
                n += 1;
            }
            Some(_) => {
                let mut left_out = 1;
                while left_out < MAX_COUNTED && matches!(walker.next(), Some(Some(_))) {
                    left_out += 1;
                }
                out[n] = cut_marker(left_out);
                return Some(MAX_FRAMES);
            }
            None => return Some(n),
        }
    }
}

/// The state of a walk: the frame being left and its registers.
struct Walker {
    /// The address whose rule applies: `ip` itself for the first frame, the call
    /// instruction (one byte before the return address) for the others.
    at: usize,
    sp: usize,
    bp: usize,
    /// The stack pointer at the start of the capture, and the stack base: every read is
    /// inside `[lo, hi)`.
    lo: usize,
    hi: usize,
    /// Which rules let the walk go on ([`Packed::continue_mask`]): it ends at a runtime
    /// entry function (after keeping its frame) when captures stop there.
    continue_mask: u64,
}

impl Walker {
    /// Steps to the caller: `Some(Some(return address))`, `Some(None)` at the end of the
    /// stack (the outermost frame, the runtime's entry, or the first frame that fails a
    /// check), `None` for a rule this unwinder does not follow.
    #[inline(always)]
    fn next(&mut self) -> Option<Option<usize>> {
        const WORD: usize = core::mem::size_of::<usize>();
        let rule = match cache::CACHE.get(self.at) {
            Some(rule) => rule,
            None => miss(self.at),
        };
        if !rule.continues(self.continue_mask) {
            // The end of the stack (the outermost frame, or the runtime's entry into user
            // code, whose return address was kept), or a rule to hand to the platform.
            return (rule.kind() != Packed::UNSUPPORTED).then_some(None);
        }
        let cfa = if rule.cfa_from_rbp() {
            self.bp
        } else {
            self.sp
        }
        .wrapping_add(rule.cfa_offset());
        // The caller's frame is above this one (this also ends a corrupt chain), and below
        // the stack base. Offsets are multiples of 8, so `sp <= cfa - 8` and both words read
        // below are aligned when the CFA is.
        if cfa <= self.sp || cfa > self.hi || cfa % WORD != 0 {
            return Some(None);
        }
        // SAFETY: `cfa - 8` is an aligned word in `[sp, hi)`, inside this thread's stack
        // between the stack pointer at the start of the capture and the base: mapped and
        // readable.
        let ret = unsafe { core::ptr::read((cfa - WORD) as *const usize) };
        let saved_rbp = rule.saved_rbp();
        if saved_rbp != 0 {
            // Below the return address (`rule::SAVED_RBP_RANGE`): `slot < cfa - 8 < hi`.
            let slot = cfa.wrapping_add_signed(saved_rbp);
            if slot < self.lo {
                return Some(None);
            }
            // SAFETY: as above: `slot` is aligned (the CFA is, the offset is a multiple of
            // 8), at least `lo` (just checked) and below `cfa - 8`, so inside `[lo, hi)`.
            self.bp = unsafe { core::ptr::read(slot as *const usize) };
        }
        // No code is mapped in the first pages; a return address there ends the stack. It
        // also keeps every address the walk looks up out of the cache's empty-slot tag
        // (`cache::Cache::get`).
        if ret <= cache::LOWEST_ADDRESS {
            return Some(None);
        }
        self.sp = cfa;
        self.at = ret - 1;
        Some(Some(ret))
    }
}

/// Computes, caches and returns the rule at `at`; out of line, so the walk stays small.
#[cold]
#[inline(never)]
fn miss(at: usize) -> Packed {
    let mut rule = lookup::rule_at(at).pack();
    if in_entry_function(at) {
        rule = rule.in_entry();
    }
    cache::CACHE.put(at, rule);
    rule
}

#[cfg(test)]
mod tests {
    use super::*;

    #[inline(never)]
    fn from_here(window: usize, out: &mut [usize; MAX_FRAMES]) -> Option<usize> {
        init();
        let Origin { ip, sp, fp } = Origin::here();
        walk(ip, sp, fp, sp + window, core::hint::black_box(out))
    }

    #[test]
    fn the_walk_never_reads_past_the_stack_window() {
        let mut whole = [0; MAX_FRAMES];
        let depth = from_here(
            stack_bounds::current().unwrap().1 - Origin::here().sp,
            &mut whole,
        );
        assert!(depth.unwrap() > 3, "{depth:?}");
        // With the stack cut short just above this frame, the walk must stop there instead
        // of reading beyond it, whatever the rules say.
        for window in [0, 8, 16, 64, 256] {
            let mut out = [0; MAX_FRAMES];
            let n = from_here(window, &mut out).unwrap();
            assert!(n <= 2, "window {window}: {n} frames");
        }
    }

    #[test]
    fn an_address_without_unwind_information_is_unsupported() {
        init();
        assert_eq!(lookup::rule_at(0x10), Rule::Unsupported);
        // The first instruction of a function: the CFA is just above the return address.
        let f = the_walk_never_reads_past_the_stack_window as fn() as usize;
        assert_eq!(
            lookup::rule_at(f),
            Rule::Step {
                base: Base::Rsp,
                cfa_offset: 8,
                saved_rbp: None
            }
        );
    }
}
