//! Capturing call stacks on the allocation hot path.
//!
//! A *call site* is the list of return addresses that led to an allocation, innermost first.
//! This module only captures the raw addresses; [`crate::symbolize`] turns them into names,
//! files and lines when a report is written, and trims allocsite's own frames.
//!
//! # Three unwinders
//!
//! - [`Unwinder::FramePointers`]: follows the chain of frame records (`[fp]` = caller's frame
//!   pointer, `[fp + 8]` = return address) on x86_64 and aarch64 Linux/Android. About 1–3 ns
//!   per frame. Correct only when the code was compiled with frame pointers, which on
//!   x86_64 means `RUSTFLAGS="-C force-frame-pointers=yes"`: user code, debug and release,
//!   is built without them by default.
//! - [`Unwinder::CachedUnwindTables`] (`cfi/`, x86_64 Linux with glibc): the unwind tables'
//!   rules, each computed once per return address and cached, so a capture reads one
//!   cached word per frame. The default on x86_64 Linux, no flags needed.
//! - [`Unwinder::UnwindTables`]: the platform unwinder through
//!   [`backtrace::trace_unsynchronized`] (libgcc's `_Unwind_Backtrace` reading `.eh_frame` on
//!   Linux). Always correct, but microseconds per stack. Used elsewhere, and for the rare
//!   stack the cached unwinder does not follow (a signal frame, a CFA expression).
//!
//! [`unwinder`] picks one once per process, by *measuring* rather than guessing: it captures
//! the same stack from a chain of `#[inline(never)]` probe functions with each unwinder and
//! the platform's, and takes the first (in the order above) whose return addresses agree. On
//! a default x86_64 build the frame-pointer walk reads garbage (`rbp` is a general register
//! there), so the cached tables are chosen.
//!
//! # Invariants of [`capture`]
//!
//! It runs inside `GlobalAlloc::alloc`, so it never allocates, never panics, takes no locks and
//! never reads memory outside the current thread's stack:
//!
//! - the stack bounds of each thread are cached in a `const`-initialised thread-local filled on
//!   first use with `pthread_getattr_np` (which calls C `malloc`, never the Rust global
//!   allocator);
//! - every word read from the stack lies between the stack pointer at the start of the
//!   capture and the stack base, aligned; frame pointers and CFAs must grow from frame to
//!   frame (so a walk terminates); the first frame that fails a check ends the walk;
//! - the frame-pointer walk also checks every return address against the executable
//!   `PT_LOAD` segments of the modules loaded when [`unwinder`] ran;
//! - the cached unwinder's misses read `.eh_frame` through `gimli` with a context on the
//!   stack, and find the module with glibc's lock-free `_dl_find_object` (`dl_iterate_phdr`
//!   where it is missing).
//!
//! The result is a possibly shortened, never invented, stack.
//!
//! # Deliberately not done
//!
//! - No unwinding through signal frames or alternate signal stacks in the fast unwinders: if
//!   the stack pointer is not on the thread's normal stack, or a frame is a signal
//!   trampoline, [`capture`] uses the platform unwinder.
//! - Modules `dlopen`ed after detection are not in the frame-pointer walk's executable-range
//!   table, so a frame-pointer walk stops at their first frame (the cached unwinder finds
//!   them).
//! - No cached unwinder on aarch64 or without glibc yet: those use frame pointers where the
//!   probe agrees, else the platform unwinder.
//!
//! # Cost (x86_64 Linux, 2-core VM, `benches/stack_capture.rs`)
//!
//! | unwinder | ~10 frames | ~30 frames |
//! |---|---|---|
//! | frame pointers (`-C force-frame-pointers=yes`) | 20 ns | 65 ns |
//! | cached unwind tables (default build) | 44 ns | 143 ns |
//! | unwind tables (`backtrace::trace_unsynchronized`) | 1.5 µs | 3.6 µs |
//!
//! Symbolizing is done only when a report is written (`symbolize/`).

use std::sync::OnceLock;

#[cfg(all(
    any(target_os = "linux", target_os = "android"),
    target_pointer_width = "64"
))]
pub(crate) mod elf;
mod origin;
pub(crate) mod runtime_entry;
pub(crate) mod unwinder;

pub(crate) use origin::Origin;
use unwinder::{MAX_FRAMES, Unwinder};

/// What [`unwinder`] found, computed once per process.
struct Detection {
    unwinder: Unwinder,
}

static DETECTION: OnceLock<Detection> = OnceLock::new();

/// Decides once per process which unwinder is correct here, and caches the answer.
///
/// The first call may allocate (it captures with the `backtrace` crate and collects the loaded
/// modules' executable ranges); callers must hold the allocator's reentrancy guard. Later calls
/// are a single atomic load.
pub(crate) fn unwinder() -> Unwinder {
    DETECTION.get_or_init(detect).unwinder
}

fn detect() -> Detection {
    fp::init_code_ranges();
    cfi::init();
    runtime_entry::learn_from_symbol_table();
    let unwinder = [Unwinder::FramePointers, Unwinder::CachedUnwindTables]
        .into_iter()
        .find(|&u| supported(u) && probe_agrees(u))
        .unwrap_or(Unwinder::UnwindTables);
    Detection { unwinder }
}

/// Whether `u` exists on this target at all.
fn supported(u: Unwinder) -> bool {
    match u {
        Unwinder::FramePointers => fp::SUPPORTED,
        Unwinder::CachedUnwindTables => cfi::SUPPORTED,
        Unwinder::UnwindTables => true,
    }
}

/// Captures the current call stack's return addresses, innermost first, into `out`; returns
/// how many were written.
///
/// The first address is the return address into the caller of `capture` with
/// [`Unwinder::FramePointers`] and [`Unwinder::CachedUnwindTables`]; with
/// [`Unwinder::UnwindTables`] the stack may additionally start with `capture`'s own frame
/// (the symbolizer trims allocsite's frames either way).
///
/// Never allocates, never panics, never reads outside the current thread's stack.
/// Asking for an unwinder [`unwinder`] did not choose is memory-safe but may return a
/// short or meaningless stack.
#[inline(never)]
pub(crate) fn capture(unwinder: Unwinder, out: &mut [usize; MAX_FRAMES]) -> usize {
    let here = Origin::here();
    // The platform's stack leaves out this frame too, and the tracer's (its callees).
    start(unwinder, here, here.sp + 1, out)
}

/// Like [`capture`], but the stack starts at the frame that took `origin` with
/// [`Origin::here`]: the first address is the return address into that frame's caller
/// (with [`Unwinder::UnwindTables`], an address inside that frame), and the frames between it
/// and this call are not walked. `origin` must come from a frame of this thread that is still
/// running (see [`Origin`]); one that is not is ignored, and the capture starts here.
///
/// Same guarantees as [`capture`]: never allocates, never panics, never reads outside the
/// current thread's stack.
#[inline(never)]
pub(crate) fn capture_from(
    unwinder: Unwinder,
    origin: Origin,
    out: &mut [usize; MAX_FRAMES],
) -> usize {
    let origin = origin.live_or_here();
    start(unwinder, origin, origin.sp, out)
}

/// Where every capture begins: the fast walk from `origin` when its stack pointer is on this
/// thread's normal stack (known bounds, not a signal or coroutine stack) and the walk follows
/// every frame; otherwise the platform unwinder, keeping the frames whose stack pointer is at
/// least `platform_limit` (`tables::capture_above`). Inlined into [`capture`] and
/// [`capture_from`], so an origin taken there is their own frame's.
#[inline(always)]
fn start(
    unwinder: Unwinder,
    origin: Origin,
    platform_limit: usize,
    out: &mut [usize; MAX_FRAMES],
) -> usize {
    let walked = match (unwinder, stack_base_above(origin.sp)) {
        (Unwinder::FramePointers, Some(hi)) => fp::walk_from(origin, hi, out),
        (Unwinder::CachedUnwindTables, Some(hi)) => cfi::walk_from(origin, hi, out),
        _ => None,
    };
    match walked {
        Some(n) => n,
        None => tables::capture_above(platform_limit, out),
    }
}

/// The base of this thread's stack, if `sp` lies on it (below the base, above its end).
#[inline(always)]
fn stack_base_above(sp: usize) -> Option<usize> {
    #[cfg(any(target_os = "linux", target_os = "android"))]
    return stack_bounds::current()
        .filter(|&(lo, hi)| lo <= sp && sp < hi)
        .map(|(_, hi)| hi);
    #[cfg(not(any(target_os = "linux", target_os = "android")))]
    {
        let _ = sp;
        None
    }
}

/// Captures one stack with `u` and with the platform unwinder from a known chain of
/// functions, and tells whether `u` saw the same return addresses.
fn probe_agrees(u: Unwinder) -> bool {
    let mut fast = [0usize; MAX_FRAMES];
    let mut platform = [0usize; MAX_FRAMES];
    let (nf, np) = core::hint::black_box(probe_outer(u, &mut fast, &mut platform, 3));
    agrees(&fast[..nf], &platform[..np])
}

/// `fast[0]` is the return address into `probe_inner` after its first `capture` call, and
/// `fast[1..4]` the returns into `probe_middle`, `probe_outer` and `probe_agrees`. The
/// platform's stack must contain `fast[1..4]` in order, right after a return address into
/// `probe_inner` close to `fast[0]` (its second `capture` call).
fn agrees(fast: &[usize], platform: &[usize]) -> bool {
    if fast.len() < 4 {
        return false;
    }
    let Some(j) = platform.iter().position(|&a| a == fast[1]) else {
        return false;
    };
    j >= 1
        && platform.len() >= j + 3
        && fast[1..4] == platform[j..j + 3]
        && platform[j - 1].abs_diff(fast[0]) < 256
}

// Three distinct functions (different arithmetic on `k`, so they cannot be merged); the
// `black_box` after each call keeps it from becoming a tail call that would drop a frame.
#[inline(never)]
fn probe_outer(
    u: Unwinder,
    fast: &mut [usize; MAX_FRAMES],
    platform: &mut [usize; MAX_FRAMES],
    k: u32,
) -> (usize, usize) {
    core::hint::black_box(probe_middle(u, fast, platform, k.wrapping_mul(7)))
}

#[inline(never)]
fn probe_middle(
    u: Unwinder,
    fast: &mut [usize; MAX_FRAMES],
    platform: &mut [usize; MAX_FRAMES],
    k: u32,
) -> (usize, usize) {
    core::hint::black_box(probe_inner(u, fast, platform, k ^ 0x55))
}

#[inline(never)]
fn probe_inner(
    u: Unwinder,
    fast: &mut [usize; MAX_FRAMES],
    platform: &mut [usize; MAX_FRAMES],
    k: u32,
) -> (usize, usize) {
    core::hint::black_box(k);
    let nf = capture(u, fast);
    let np = capture(Unwinder::UnwindTables, platform);
    (core::hint::black_box(nf), core::hint::black_box(np))
}

/// Hooks for `benches/stack_capture.rs` and `tests/stack_capture.rs`, re-exported as
/// `allocsite::__bench`. Not public API.
#[doc(hidden)]
pub(crate) mod bench {
    pub use super::unwinder::Unwinder;

    /// `capture::unwinder::MAX_FRAMES`.
    pub const MAX_FRAMES: usize = super::unwinder::MAX_FRAMES;

    /// `capture::unwinder()`.
    pub fn unwinder() -> Unwinder {
        super::unwinder()
    }

    /// `capture::capture`; inlined so that it adds no frame of its own.
    #[inline]
    pub fn capture(unwinder: Unwinder, out: &mut [usize; MAX_FRAMES]) -> usize {
        super::capture(unwinder, out)
    }

    /// Empties the cached unwinder's rule cache, so the next captures miss (as `dlclose`
    /// does).
    pub fn flush_rule_cache() {
        super::cfi::flush();
    }
}

/// Stack bounds of the current thread, for the walks.
#[cfg(any(target_os = "linux", target_os = "android"))]
mod stack_bounds;

/// The cached unwinder, where it exists.
#[cfg(all(target_os = "linux", target_env = "gnu", target_arch = "x86_64"))]
mod cfi;

/// Elsewhere: no cached unwinder, the tables are used.
#[cfg(not(all(target_os = "linux", target_env = "gnu", target_arch = "x86_64")))]
mod cfi {
    use super::unwinder::MAX_FRAMES;

    pub(super) const SUPPORTED: bool = false;

    pub(super) fn init() {}

    pub(super) fn flush() {}

    #[inline(always)]
    pub(super) fn walk_from(
        _: super::Origin,
        _: usize,
        _: &mut [usize; MAX_FRAMES],
    ) -> Option<usize> {
        None
    }
}

/// The frame-pointer walk, where it exists.
#[cfg(all(
    any(target_os = "linux", target_os = "android"),
    any(target_arch = "x86_64", target_arch = "aarch64")
))]
#[path = "frame_pointers/mod.rs"]
mod fp;
mod tables;

/// Elsewhere: no frame-pointer walk, the tables are always used.
#[cfg(not(all(
    any(target_os = "linux", target_os = "android"),
    any(target_arch = "x86_64", target_arch = "aarch64")
)))]
mod fp {
    use super::unwinder::MAX_FRAMES;

    pub(super) const SUPPORTED: bool = false;

    pub(super) fn init_code_ranges() {}

    #[inline(always)]
    pub(super) fn walk_from(
        _: super::Origin,
        _: usize,
        _: &mut [usize; MAX_FRAMES],
    ) -> Option<usize> {
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::symbolize::resolve::Symbolizer;
    use crate::symbolize::trim::TrimOptions;
    use core::hint::black_box;
    use std::sync::atomic::{AtomicUsize, Ordering};

    // Three distinct functions (different bodies, so they cannot be folded), each doing work
    // after its call so that no call becomes a tail call.
    #[inline(never)]
    fn chain_a(u: Unwinder, out: &mut [usize; MAX_FRAMES]) -> usize {
        black_box(chain_b(u, out, 1)) + 1
    }

    #[inline(never)]
    fn chain_b(u: Unwinder, out: &mut [usize; MAX_FRAMES], k: u32) -> usize {
        black_box(chain_c(u, out, k.wrapping_mul(3))) + 2
    }

    #[inline(never)]
    fn chain_c(u: Unwinder, out: &mut [usize; MAX_FRAMES], k: u32) -> usize {
        black_box(k ^ 0x5a);
        black_box(capture(u, out)) + 3
    }

    /// The unwinders that are correct in this build.
    pub(super) fn available() -> Vec<Unwinder> {
        let mut v = vec![Unwinder::UnwindTables];
        if supported(Unwinder::CachedUnwindTables) {
            v.push(Unwinder::CachedUnwindTables);
        }
        if unwinder() == Unwinder::FramePointers {
            v.push(Unwinder::FramePointers);
        }
        v
    }

    /// Matches `name` or `path::to::name`: with `debug = "line-tables-only"` DWARF has no
    /// linkage names, so functions are named without their module path.
    pub(super) fn is_fn(function: &str, name: &str) -> bool {
        function == name
            || function
                .strip_suffix(name)
                .is_some_and(|p| p.ends_with("::"))
    }

    pub(super) fn names(ips: &[usize]) -> Vec<String> {
        let untrimmed = TrimOptions {
            top: false,
            bottom: false,
        };
        Symbolizer::new()
            .frames(ips, untrimmed)
            .into_iter()
            .map(|f| f.function)
            .collect()
    }

    #[test]
    fn chain_is_captured_in_order() {
        for u in available() {
            let mut out = [0; MAX_FRAMES];
            let n = chain_a(u, &mut out) - 6;
            let names = names(&out[..n]);
            let pos = |suffix: &str| {
                names
                    .iter()
                    .position(|f| is_fn(f, suffix))
                    .unwrap_or_else(|| panic!("{u:?}: no {suffix} in {names:#?}"))
            };
            let c = pos("chain_c");
            assert_eq!(pos("chain_b"), c + 1, "{u:?}: {names:#?}");
            assert_eq!(pos("chain_a"), c + 2, "{u:?}: {names:#?}");
            assert!(
                names[c + 3].contains("chain_is_captured_in_order"),
                "{u:?}: {names:#?}"
            );
            // Nothing but `capture` itself (tables only) may come before the chain.
            for f in &names[..c] {
                assert!(is_fn(f, "capture"), "{u:?}: {names:#?}");
            }
        }
    }

    /// True if the function starts with `push rbp; mov rbp, rsp` (optionally after
    /// `endbr64`): that is, if this crate was compiled with frame pointers.
    #[cfg(target_arch = "x86_64")]
    fn has_frame_pointer_prologue(f: usize) -> bool {
        // SAFETY: reads the first bytes of a function of this crate, in mapped, readable text.
        let code = unsafe { core::slice::from_raw_parts(f as *const u8, 8) };
        let code = code.strip_prefix(&[0xf3, 0x0f, 0x1e, 0xfa]).unwrap_or(code);
        code.starts_with(&[0x55, 0x48, 0x89, 0xe5])
    }

    #[test]
    fn detection_matches_the_build() {
        let u = unwinder();
        eprintln!("allocsite unwinder: {}", u.name());
        // Independent evidence: the machine code of a function of this crate.
        #[cfg(target_arch = "x86_64")]
        assert_eq!(
            u == Unwinder::FramePointers,
            has_frame_pointer_prologue(chain_b as fn(_, _, _) -> _ as usize),
            "detected {u:?}"
        );
        // Without frame pointers, the cached tables wherever they exist.
        if u != Unwinder::FramePointers && supported(Unwinder::CachedUnwindTables) {
            assert_eq!(u, Unwinder::CachedUnwindTables);
        }
        // CI states what it expects for the flags it builds with.
        if let Ok(expected) = std::env::var("ALLOCSITE_EXPECT_UNWINDER") {
            assert_eq!(u.name(), expected);
        }
        assert_eq!(unwinder(), u, "cached");
    }

    #[inline(never)]
    fn recurse(depth: u32, u: Unwinder, out: &mut [usize; MAX_FRAMES]) -> usize {
        if depth == 0 {
            capture(u, out)
        } else {
            black_box(recurse(depth - 1, u, black_box(out)))
        }
    }

    #[test]
    fn deep_recursion_is_cut_at_max_frames_and_counts_the_rest() {
        use unwinder::{MAX_COUNTED, left_out};
        for u in available() {
            let mut out = [0; MAX_FRAMES];
            assert_eq!(recurse(200, u, &mut out), MAX_FRAMES, "{u:?}");
            let names = names(&out);
            let recursing = names.iter().filter(|f| is_fn(f, "recurse")).count();
            assert!(recursing >= MAX_FRAMES - 1, "{u:?}: {names:#?}");
            // The last word counts the frames left out: ten more calls, ten more frames.
            let cut = left_out(out[MAX_FRAMES - 1]).expect("a cut marker");
            assert!(recurse(210, u, &mut out) == MAX_FRAMES);
            assert_eq!(left_out(out[MAX_FRAMES - 1]), Some(cut + 10), "{u:?}");
            assert!(cut > 200 - MAX_FRAMES, "{u:?}: {cut}");
            // Counting stops at MAX_COUNTED.
            recurse(MAX_COUNTED as u32 + 200, u, &mut out);
            assert_eq!(left_out(out[MAX_FRAMES - 1]), Some(MAX_COUNTED), "{u:?}");
            // A stack that fits has no marker.
            let n = chain_a(u, &mut out) - 6;
            assert!(out[..n].iter().all(|&a| left_out(a).is_none()), "{u:?}");
        }
    }

    #[test]
    fn every_unwinder_stops_at_the_runtime_entry_read_from_the_symbol_table() {
        let _ = unwinder(); // detection reads the symbol table
        assert!(
            runtime_entry::known_from_symbol_table(),
            "this test binary has a symbol table with __rust_begin_short_backtrace"
        );
        let unwinders = available();
        std::thread::spawn(move || {
            for u in unwinders {
                let mut out = [0; MAX_FRAMES];
                let n = chain_a(u, &mut out) - 6;
                let names = names(&out[..n]);
                // The last frame kept is the thread's entry, and nothing below it.
                assert!(runtime_entry::is_stop(out[n - 1]), "{u:?}: {names:#?}");
                assert!(
                    names
                        .last()
                        .unwrap()
                        .contains("__rust_begin_short_backtrace"),
                    "{u:?}: {names:#?}"
                );
                assert!(
                    !names
                        .iter()
                        .any(|f| f.contains("thread_start") || f == "clone3"),
                    "{u:?}: {names:#?}"
                );
            }
        })
        .join()
        .unwrap();
    }

    #[test]
    fn capture_in_a_new_thread() {
        let unwinders = available();
        std::thread::spawn(move || {
            for u in unwinders {
                let mut out = [0; MAX_FRAMES];
                let n = chain_a(u, &mut out) - 6;
                let names = names(&out[..n]);
                assert!(
                    names.iter().any(|f| is_fn(f, "chain_a")),
                    "{u:?}: {names:#?}"
                );
            }
        })
        .join()
        .unwrap();
    }

    static IN_DESTRUCTOR: AtomicUsize = AtomicUsize::new(0);

    struct CaptureOnDrop(Vec<Unwinder>);

    impl Drop for CaptureOnDrop {
        fn drop(&mut self) {
            for &u in &self.0 {
                let mut out = [0; MAX_FRAMES];
                if chain_a(u, &mut out) > 6 {
                    IN_DESTRUCTOR.fetch_add(1, Ordering::SeqCst);
                }
            }
        }
    }

    thread_local! {
        static ON_EXIT: core::cell::RefCell<Option<CaptureOnDrop>> = const { core::cell::RefCell::new(None) };
    }

    #[test]
    fn capture_in_a_thread_local_destructor() {
        let unwinders = available();
        let expected = unwinders.len();
        std::thread::spawn(move || {
            ON_EXIT.with(|slot| *slot.borrow_mut() = Some(CaptureOnDrop(unwinders)));
        })
        .join()
        .unwrap();
        assert_eq!(IN_DESTRUCTOR.load(Ordering::SeqCst), expected);
    }

    #[test]
    fn walk_rejects_bad_frames() {
        // A fake stack: two good records, then one pointing backwards.
        #[cfg(all(
            any(target_os = "linux", target_os = "android"),
            any(target_arch = "x86_64", target_arch = "aarch64")
        ))]
        {
            let _ = unwinder(); // fills the executable-range table
            let code = chain_a as fn(_, _) -> _ as usize + 1;
            #[repr(C, align(16))]
            struct Fake([usize; 8]);
            let mut fake = Fake([0; 8]);
            let base = fake.0.as_ptr() as usize;
            fake.0 = [base + 16, code, base + 32, code + 1, base, code + 2, 0, 0];
            black_box(&mut fake);
            let mut out = [0; MAX_FRAMES];
            let n = fp::walk_for_test(base, base, base + 64, &mut out);
            assert_eq!(&out[..n], &[code, code + 1, code + 2]);
            // A return address outside any module stops the walk before it is recorded.
            fake.0[3] = 0x1234_5678;
            black_box(&mut fake);
            assert_eq!(fp::walk_for_test(base, base, base + 64, &mut out), 1);
            // Misaligned or out-of-bounds frame pointers are never read.
            assert_eq!(fp::walk_for_test(base + 8, base, base + 64, &mut out), 0);
            assert_eq!(fp::walk_for_test(base + 64, base, base + 64, &mut out), 0);
            assert_eq!(fp::walk_for_test(base - 16, base, base + 64, &mut out), 0);
        }
    }
}
