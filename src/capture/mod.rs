//! Capturing call stacks on the allocation hot path.
//!
//! A *call site* is the list of return addresses that led to an allocation, innermost first.
//! This module only captures the raw addresses; [`crate::symbolize`] turns them into names,
//! files and lines when a report is written, and trims allocsite's own frames.
//!
//! # Two unwinders
//!
//! - [`Unwinder::FramePointers`]: follows the chain of frame records (`[fp]` = caller's frame
//!   pointer, `[fp + 8]` = return address) on x86_64 and aarch64 Linux/Android. About 1–2 ns
//!   per frame. It is only correct when the code was compiled with frame pointers, which on
//!   x86_64 means `RUSTFLAGS="-C force-frame-pointers=yes"`.
//! - [`Unwinder::UnwindTables`]: the platform unwinder through
//!   [`backtrace::trace_unsynchronized`] (libgcc's `_Unwind_Backtrace` reading `.eh_frame` on
//!   Linux). Always correct, but it costs microseconds per stack (see `benches/stack_capture.rs`
//!   and the numbers in the crate docs).
//!
//! [`unwinder`] picks one once per process, by *measuring* rather than guessing: it captures
//! the same stack from a chain of `#[inline(never)]` probe functions with both unwinders and
//! uses frame pointers only if the return addresses agree. On a default x86_64 build the walk
//! reads garbage (`rbp` is a general register there), the comparison fails and the tables are
//! used.
//!
//! # Invariants of [`capture`]
//!
//! It runs inside `GlobalAlloc::alloc`, so it never allocates, never panics, takes no locks and
//! never reads memory outside the current thread's stack:
//!
//! - the stack bounds of each thread are cached in a `const`-initialised thread-local filled on
//!   first use with `pthread_getattr_np` (which calls C `malloc`, never the Rust global
//!   allocator);
//! - every frame pointer must lie between the current stack pointer and the stack base, be
//!   16-byte aligned, and be strictly greater than the previous one (so the walk terminates);
//! - every return address must fall inside an executable `PT_LOAD` segment of a module loaded
//!   when [`unwinder`] ran (collected with `dl_iterate_phdr`); the first frame that fails any
//!   check ends the walk.
//!
//! The standard library is shipped without frame pointers on x86_64, so even with
//! `-C force-frame-pointers=yes` the chain passes *through* std functions that do not set up
//! a frame: the frame of the function that called such a std function is missing from the
//! stack (its return address is on the stack but not linked). If the std function used `rbp`
//! as a general register, the saved value is garbage; the checks above stop the walk there
//! rather than follow it. The result is a possibly shortened, never invented, stack.
//!
//! # Deliberately not done
//!
//! - No unwinding through signal frames or alternate signal stacks: if the stack pointer is
//!   not on the thread's normal stack, [`capture`] falls back to the unwind tables.
//! - Modules `dlopen`ed after detection are not in the executable-range table, so a frame
//!   pointer walk stops at their first frame.
//! - No `framehop`-style cached DWARF unwinder yet. Measured in a scratch crate, `framehop`
//!   0.16 with `MustNotAllocateDuringUnwind` captures 16 frames in ~170–340 ns and 32 in
//!   ~350–380 ns without allocating, 10–20× cheaper than the tables; but it needs the module
//!   list built up front (and kept current across `dlopen`), a mutable rule cache per thread
//!   or behind a lock, and brings `gimli` 0.33 next to `backtrace`'s 0.32.
//!
//! # Cost (x86_64 Linux, 2-core VM, `benches/stack_capture.rs`)
//!
//! | unwinder | ~10 frames | ~30 frames |
//! |---|---|---|
//! | frame pointers (`-C force-frame-pointers=yes`) | 31 ns | 83 ns |
//! | unwind tables (`backtrace::trace_unsynchronized`) | 2.9–3.4 µs | 7.5–8.5 µs |
//!
//! Symbolizing costs about 1 µs per distinct address once `backtrace` has parsed the debug
//! info, and is done only when a report is written.

use std::sync::OnceLock;

pub(crate) mod runtime_entry;
pub(crate) mod unwinder;

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
    let unwinder = if fp::SUPPORTED && probe_agrees() {
        Unwinder::FramePointers
    } else {
        Unwinder::UnwindTables
    };
    Detection { unwinder }
}

/// Captures the current call stack's return addresses, innermost first, into `out`; returns
/// how many were written.
///
/// The first address is the return address into the caller of `capture` with
/// [`Unwinder::FramePointers`]; with [`Unwinder::UnwindTables`] the stack may additionally
/// start with `capture`'s own frame (the symbolizer trims allocsite's frames either way).
///
/// Never allocates, never panics, never reads outside the current thread's stack.
/// Asking for [`Unwinder::FramePointers`] where [`unwinder`] did not choose it is memory-safe
/// but may return a short or meaningless stack.
#[inline(never)]
pub(crate) fn capture(unwinder: Unwinder, out: &mut [usize; MAX_FRAMES]) -> usize {
    match unwinder {
        Unwinder::FramePointers => fp::capture(out),
        Unwinder::UnwindTables => tables::capture(out),
    }
}

/// Captures one stack with both unwinders from a known chain of functions and tells
/// whether the frame-pointer walk saw the same return addresses.
fn probe_agrees() -> bool {
    fp::init_code_ranges();
    let mut fp = [0usize; MAX_FRAMES];
    let mut bt = [0usize; MAX_FRAMES];
    let (nf, nb) = core::hint::black_box(probe_outer(&mut fp, &mut bt, 3));
    fp::agrees(&fp[..nf], &bt[..nb])
}

// Three distinct functions (different arithmetic on `k`, so they cannot be merged); the
// `black_box` after each call keeps it from becoming a tail call that would drop a frame.
#[inline(never)]
fn probe_outer(
    fp: &mut [usize; MAX_FRAMES],
    bt: &mut [usize; MAX_FRAMES],
    k: u32,
) -> (usize, usize) {
    core::hint::black_box(probe_middle(fp, bt, k.wrapping_mul(7)))
}

#[inline(never)]
fn probe_middle(
    fp: &mut [usize; MAX_FRAMES],
    bt: &mut [usize; MAX_FRAMES],
    k: u32,
) -> (usize, usize) {
    core::hint::black_box(probe_inner(fp, bt, k ^ 0x55))
}

#[inline(never)]
fn probe_inner(
    fp: &mut [usize; MAX_FRAMES],
    bt: &mut [usize; MAX_FRAMES],
    k: u32,
) -> (usize, usize) {
    core::hint::black_box(k);
    let nf = capture(Unwinder::FramePointers, fp);
    let nb = capture(Unwinder::UnwindTables, bt);
    (core::hint::black_box(nf), core::hint::black_box(nb))
}

/// Hooks for `benches/stack_capture.rs` and `tests/stack_capture.rs`, re-exported as
/// `allocsite::__bench`. Not public API.
#[doc(hidden)]
pub(crate) mod bench {
    pub use super::unwinder::Unwinder;

    /// [`super::unwinder::MAX_FRAMES`].
    pub const MAX_FRAMES: usize = super::unwinder::MAX_FRAMES;

    /// [`super::unwinder`].
    pub fn unwinder() -> Unwinder {
        super::unwinder()
    }

    /// [`super::capture`]; inlined so that it adds no frame of its own.
    #[inline]
    pub fn capture(unwinder: Unwinder, out: &mut [usize; MAX_FRAMES]) -> usize {
        super::capture(unwinder, out)
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
    use super::tables;
    use super::unwinder::MAX_FRAMES;

    pub(super) const SUPPORTED: bool = false;

    pub(super) fn init_code_ranges() {}

    pub(super) fn agrees(_fp: &[usize], _bt: &[usize]) -> bool {
        false
    }

    #[inline(always)]
    pub(super) fn capture(out: &mut [usize; MAX_FRAMES]) -> usize {
        tables::capture(out)
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
    fn available() -> Vec<Unwinder> {
        let mut v = vec![Unwinder::UnwindTables];
        if unwinder() == Unwinder::FramePointers {
            v.push(Unwinder::FramePointers);
        }
        v
    }

    /// Matches `name` or `path::to::name`: with `debug = "line-tables-only"` DWARF has no
    /// linkage names, so functions are named without their module path.
    fn is_fn(function: &str, name: &str) -> bool {
        function == name
            || function
                .strip_suffix(name)
                .is_some_and(|p| p.ends_with("::"))
    }

    fn names(ips: &[usize]) -> Vec<String> {
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
    fn deep_recursion_is_cut_at_max_frames() {
        for u in available() {
            let mut out = [0; MAX_FRAMES];
            assert_eq!(recurse(200, u, &mut out), MAX_FRAMES, "{u:?}");
            let names = names(&out);
            let recursing = names.iter().filter(|f| is_fn(f, "recurse")).count();
            assert!(recursing >= MAX_FRAMES - 1, "{u:?}: {names:#?}");
        }
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
