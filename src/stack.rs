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
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering::Relaxed};

/// Most frames kept per captured stack.
pub(crate) const MAX_FRAMES: usize = 32;

/// How stacks are captured.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Unwinder {
    /// Walk the frame-pointer chain: a few nanoseconds per stack, needs frame pointers
    /// (`-C force-frame-pointers=yes` on x86_64).
    FramePointers,
    /// Use the platform's unwind tables through the `backtrace` crate: always correct, costs
    /// microseconds per stack.
    UnwindTables,
}

impl Unwinder {
    /// A short stable name, for reports and logs: `"frame-pointers"` or `"unwind-tables"`.
    pub fn name(self) -> &'static str {
        match self {
            Unwinder::FramePointers => "frame-pointers",
            Unwinder::UnwindTables => "unwind-tables",
        }
    }
}

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
    let unwinder = if fp::SUPPORTED && fp::probe_agrees() {
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

/// Return addresses at which a capture through the unwind tables stops: where std enters the
/// user's `main` or thread closure, learned by [`learn_runtime_entry`]. The frames below
/// are runtime frames that the default bottom trim drops anyway, and each costs ~0.5 µs to
/// unwind through the tables; stopping there makes a capture on the main thread about half
/// as long. Zero slots are empty.
const STOP_SLOTS: usize = 8;
static STOP_AT: [AtomicUsize; STOP_SLOTS] = [const { AtomicUsize::new(0) }; STOP_SLOTS];
/// Cleared when a profile keeps the runtime frames (`trim_bottom(false)`).
static STOP_ENABLED: AtomicBool = AtomicBool::new(true);

fn is_stop(ip: usize) -> bool {
    STOP_ENABLED.load(Relaxed) && STOP_AT.iter().any(|slot| slot.load(Relaxed) == ip)
}

/// Remembers `ip` as a runtime entry (see [`STOP_AT`]). Called from symbolization, which
/// identifies the entry by name; ignored when the slots are full.
pub(crate) fn remember_runtime_entry(ip: usize) {
    for slot in &STOP_AT {
        match slot.compare_exchange(0, ip, Relaxed, Relaxed) {
            Ok(_) => return,
            Err(existing) if existing == ip => return,
            Err(_) => {}
        }
    }
}

/// Whether captures may stop at the runtime entry (false when a profile keeps runtime frames).
pub(crate) fn set_stop_at_runtime_entry(enabled: bool) {
    STOP_ENABLED.store(enabled, Relaxed);
}

/// Captures and symbolizes the calling thread's stack once, so that its runtime entry is
/// known before the first sampled capture. Only the unwind tables need it. May allocate:
/// call it with the reentrancy guard held.
pub(crate) fn learn_runtime_entry() {
    if unwinder() != Unwinder::UnwindTables {
        return;
    }
    let mut frames = [0usize; MAX_FRAMES];
    let depth = capture(Unwinder::UnwindTables, &mut frames);
    if depth > 0 && is_stop(frames[depth - 1]) {
        return; // this thread's entry is already known
    }
    let _ = crate::symbolize::Symbolizer::new()
        .frames(&frames[..depth], crate::symbolize::TrimOptions::default());
    // Give the parsed debug info back now: keeping it through the workload would add its
    // megabytes to the program's peak. The report parses it again at the end.
    backtrace::clear_symbol_cache();
}

/// Hooks for `benches/stack_capture.rs` and `tests/stack_capture.rs`, re-exported as
/// `allocsite::__bench`. Not public API.
#[doc(hidden)]
pub mod bench {
    pub use super::Unwinder;

    /// [`super::MAX_FRAMES`].
    pub const MAX_FRAMES: usize = super::MAX_FRAMES;

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

/// The platform unwinder, through the `backtrace` crate.
mod tables {
    use super::MAX_FRAMES;

    /// Captures with `backtrace`'s unsynchronized tracer. Inlined into [`super::capture`].
    #[inline(always)]
    pub(super) fn capture(out: &mut [usize; MAX_FRAMES]) -> usize {
        // Frames of the tracer itself (called from here) have a stack address at or below
        // this local; skip them.
        let marker = 0u8;
        let here = core::hint::black_box(&marker) as *const u8 as usize;
        let mut n = 0;
        let mut record = |frame: &backtrace::Frame| {
            if (frame.sp() as usize) <= here && !frame.sp().is_null() {
                return true;
            }
            let ip = frame.ip() as usize;
            if ip == 0 {
                return false;
            }
            match out.get_mut(n) {
                Some(slot) => *slot = ip,
                None => return false,
            }
            n += 1;
            // Keep the entry frame itself (the bottom trim looks for it), then stop.
            n < MAX_FRAMES && !super::is_stop(ip)
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
        n
    }
}

/// Stack bounds of the current thread, cached per thread.
#[cfg(all(
    any(target_os = "linux", target_os = "android"),
    any(target_arch = "x86_64", target_arch = "aarch64")
))]
mod bounds {
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
}

/// Executable address ranges of the modules loaded at detection time.
#[cfg(all(
    any(target_os = "linux", target_os = "android"),
    any(target_arch = "x86_64", target_arch = "aarch64")
))]
mod exec {
    use std::sync::OnceLock;

    const MAX_RANGES: usize = 128;

    pub(super) struct Ranges {
        len: usize,
        /// More segments than fit: do not check at all rather than reject good frames.
        overflow: bool,
        ranges: [(usize, usize); MAX_RANGES],
    }

    static RANGES: OnceLock<Ranges> = OnceLock::new();

    impl Ranges {
        #[inline]
        pub(super) fn contains(&self, addr: usize) -> bool {
            self.overflow
                || self.ranges[..self.len]
                    .iter()
                    .any(|&(lo, hi)| lo <= addr && addr < hi)
        }
    }

    /// The table, if [`init`] has run. Never blocks, never allocates.
    #[inline]
    pub(super) fn get() -> Option<&'static Ranges> {
        RANGES.get()
    }

    /// Collects the executable `PT_LOAD` segments of all loaded modules (once).
    pub(super) fn init() {
        RANGES.get_or_init(|| {
            let mut table = Ranges {
                len: 0,
                overflow: false,
                ranges: [(0, 0); MAX_RANGES],
            };
            // SAFETY: the callback only reads the `dl_phdr_info` it is given, for the duration
            // of the call, and writes to `table` through the pointer we pass, which outlives
            // the call.
            unsafe {
                libc::dl_iterate_phdr(Some(callback), (&mut table as *mut Ranges).cast());
            }
            table
        });
    }

    unsafe extern "C" fn callback(
        info: *mut libc::dl_phdr_info,
        _size: libc::size_t,
        data: *mut libc::c_void,
    ) -> libc::c_int {
        // SAFETY: `data` is the `&mut Ranges` passed to `dl_iterate_phdr` above; `info` and its
        // `dlpi_phdr` array of `dlpi_phnum` entries are valid during the callback.
        let (table, info) = unsafe { (&mut *data.cast::<Ranges>(), &*info) };
        if info.dlpi_phdr.is_null() {
            return 0;
        }
        // SAFETY: see above.
        let phdrs =
            unsafe { core::slice::from_raw_parts(info.dlpi_phdr, info.dlpi_phnum as usize) };
        for ph in phdrs {
            if ph.p_type == libc::PT_LOAD && ph.p_flags & libc::PF_X != 0 {
                if table.len == MAX_RANGES {
                    table.overflow = true;
                    return 1;
                }
                let lo = (info.dlpi_addr as usize).wrapping_add(ph.p_vaddr as usize);
                table.ranges[table.len] = (lo, lo.wrapping_add(ph.p_memsz as usize));
                table.len += 1;
            }
        }
        0
    }
}

/// The frame-pointer walk.
#[cfg(all(
    any(target_os = "linux", target_os = "android"),
    any(target_arch = "x86_64", target_arch = "aarch64")
))]
mod fp {
    use super::{MAX_FRAMES, Unwinder, bounds, exec};

    pub(super) const SUPPORTED: bool = true;

    /// The current frame pointer and stack pointer.
    #[inline(always)]
    fn registers() -> (usize, usize) {
        let fp: usize;
        let sp: usize;
        // SAFETY: copies two registers into general registers; touches no memory.
        #[cfg(target_arch = "x86_64")]
        unsafe {
            core::arch::asm!(
                "mov {fp}, rbp",
                "mov {sp}, rsp",
                fp = out(reg) fp,
                sp = out(reg) sp,
                options(nomem, nostack, preserves_flags)
            );
        }
        // SAFETY: as above.
        #[cfg(target_arch = "aarch64")]
        unsafe {
            core::arch::asm!(
                "mov {fp}, x29",
                "mov {sp}, sp",
                fp = out(reg) fp,
                sp = out(reg) sp,
                options(nomem, nostack, preserves_flags)
            );
        }
        (fp, sp)
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
        let (fp, sp) = registers();
        match bounds::current() {
            Some((lo, hi)) if lo <= sp && sp < hi => walk(fp, sp, hi, out),
            // Unknown bounds, or running on an alternate (signal or coroutine) stack.
            _ => super::tables::capture(out),
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

    /// Follows frame records from `fp`, reading only inside `[lo, hi)`.
    #[inline(always)]
    fn walk(mut fp: usize, lo: usize, hi: usize, out: &mut [usize; MAX_FRAMES]) -> usize {
        const WORD: usize = core::mem::size_of::<usize>();
        let ranges = exec::get();
        let mut n = 0;
        while n < MAX_FRAMES {
            if fp < lo || fp & 0xf != 0 || fp > hi.saturating_sub(2 * WORD) {
                break;
            }
            // SAFETY: `[lo, hi)` runs from our own stack pointer to the base of this thread's
            // stack, which is mapped and readable; `fp .. fp + 16` lies inside it and is
            // aligned (checked just above).
            let (next, ret) = unsafe {
                (
                    core::ptr::read(fp as *const usize),
                    core::ptr::read((fp + WORD) as *const usize),
                )
            };
            let ret = strip(ret);
            if ret < 4096 || ranges.is_some_and(|r| !r.contains(ret)) {
                break;
            }
            out[n] = ret;
            n += 1;
            if next <= fp {
                // The outermost frame has a zero frame pointer; anything not growing toward
                // the stack base is garbage.
                break;
            }
            fp = next;
        }
        n
    }

    /// Captures one stack with both unwinders from a known chain of functions and tells
    /// whether the frame-pointer walk saw the same return addresses.
    pub(super) fn probe_agrees() -> bool {
        exec::init();
        let mut fp = [0usize; MAX_FRAMES];
        let mut bt = [0usize; MAX_FRAMES];
        let (nf, nb) = core::hint::black_box(probe_outer(&mut fp, &mut bt, 3));
        agrees(&fp[..nf], &bt[..nb])
    }

    /// `fp[0]` is the return address into `probe_inner` after its first `capture` call, and
    /// `fp[1..4]` the returns into `probe_middle`, `probe_outer` and `probe_agrees`. The
    /// tables' stack must contain `fp[1..4]` in order, right after a return address into
    /// `probe_inner` close to `fp[0]` (its second `capture` call).
    pub(super) fn agrees(fp: &[usize], bt: &[usize]) -> bool {
        if fp.len() < 4 {
            return false;
        }
        let Some(j) = bt.iter().position(|&a| a == fp[1]) else {
            return false;
        };
        j >= 1 && bt.len() >= j + 3 && fp[1..4] == bt[j..j + 3] && bt[j - 1].abs_diff(fp[0]) < 256
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
        let nf = super::capture(Unwinder::FramePointers, fp);
        let nb = super::capture(Unwinder::UnwindTables, bt);
        (core::hint::black_box(nf), core::hint::black_box(nb))
    }
}

/// Elsewhere: no frame-pointer walk, the tables are always used.
#[cfg(not(all(
    any(target_os = "linux", target_os = "android"),
    any(target_arch = "x86_64", target_arch = "aarch64")
)))]
mod fp {
    use super::MAX_FRAMES;

    pub(super) const SUPPORTED: bool = false;

    pub(super) fn probe_agrees() -> bool {
        false
    }

    #[inline(always)]
    pub(super) fn capture(out: &mut [usize; MAX_FRAMES]) -> usize {
        super::tables::capture(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::symbolize::{Symbolizer, TrimOptions};
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
