//! Frames: turning captured return addresses into named, trimmed frames when a report is
//! written (feature `track`), reading them back from DHAT files, and saying where each
//! frame's code lives ([`classify`]: the user's, a dependency's, std's, …).
//!
//! `frame.rs` and `classify.rs` compile without the `track` feature (reports of any DHAT
//! file need them); `resolve.rs`, `trim.rs` and `runtime_entry.rs` need it.
//!
//! [`Symbolizer`] resolves each distinct address once and caches the result. The executable's
//! own addresses are read by [`dwarf`] (only the compilation units that hold them, read with
//! `pread`, nothing mapped); anything it cannot answer (shared libraries, DWARF 5, compressed
//! debug sections) goes to [`backtrace::resolve`] (DWARF line tables through
//! `gimli`/`addr2line`). Both name the same frames. One address can expand into several
//! [`Frame`]s when functions were inlined into each other; all of them carry the original
//! return address.
//!
//! # Return addresses
//!
//! A captured address is where the call *returns to*, one instruction after the call.
//! `dwarf` looks up the byte before it, and `backtrace::resolve` already subtracts one from
//! the address it is given before looking it up (see `adjust_ip` in backtrace-rs), so the raw
//! return address is passed as is and the line reported is the call's. [`Frame::address`] is the unmodified return address.
//!
//! # Trimming ([`TrimOptions`])
//!
//! - **top**: everything from the innermost frame down to and including the outermost frame of
//!   the allocation machinery is dropped: allocsite's own functions (except its tests),
//!   `__rust_alloc`/`__rdl_*`/`__rg_*`/`__rustc::*` shims, `alloc::alloc::*`, `std::alloc::*`,
//!   `GlobalAlloc`/`Allocator` impls, and the `backtrace`/`_Unwind_*` frames of a table-based
//!   capture. Callers such as `alloc::raw_vec::*` or `alloc::string::*` stay: they say *why*
//!   memory was asked for ("Vec growth").
//! - **bottom**: the runtime below the user's `main` or thread closure is dropped: the first
//!   (innermost) `__rust_begin_short_backtrace` frame and everything outside it; failing that,
//!   the first frame of `std::rt::lang_start*`, C `main`, `__libc_start_*`, `_start`,
//!   `start_thread`, `clone`/`clone3` or std's thread-start machinery. `FnOnce::call_once` shims
//!   directly above the cut go too.
//! - If trimming removes every frame, [`Symbolizer::frames`] returns the single innermost frame
//!   that survived the top trim (for instance `std::rt::lang_start_internal` for memory the
//!   runtime asks for before `main`), or, if the top trim removed everything, the outermost
//!   frame. It never returns an empty `Vec` for a non-empty stack.
//! - A stack the capture cut at its frame limit (`MAX_FRAMES` words, the last one its cut
//!   marker) ends with the marker frame `[… N more frames not captured]` (`at least N` past
//!   `MAX_COUNTED`), so no report passes a cut stack off as a whole one.
//! - Budget scopes cut their stacks at the scope as well (`trim::trim_scope_root`): allocsite's
//!   frames that ran the user's closure, the std shims between them and it, and everything
//!   below go, so the user's closure is the root.
//!
//! # Deliberately not done
//!
//! - No symbolization on the hot path, and no symbol cache shared between `Symbolizer`s
//!   (`backtrace` keeps its own cache of parsed debug info process-wide).
//! - Frames are trimmed by name, not by comparing against a reference stack as dhat-rs does, so
//!   the result does not depend on where the profiler was started.

pub(crate) mod classify;
#[cfg(all(
    feature = "track",
    any(target_os = "linux", target_os = "android"),
    target_pointer_width = "64"
))]
mod dwarf;
/// Elsewhere the executable's debug info is left to `backtrace` alone.
#[cfg(all(
    feature = "track",
    not(all(
        any(target_os = "linux", target_os = "android"),
        target_pointer_width = "64"
    ))
))]
mod dwarf {
    pub(crate) struct Executable;

    impl Executable {
        pub(crate) fn open() -> Option<Executable> {
            None
        }

        pub(crate) fn frames(&mut self, _ip: usize) -> Option<Vec<Resolved>> {
            None
        }
    }

    pub(crate) struct Resolved {
        pub(crate) name: Option<Vec<u8>>,
        pub(crate) file: Option<String>,
        pub(crate) line: Option<u32>,
        pub(crate) column: Option<u32>,
    }
}
pub(crate) mod frame;
mod paths;
#[cfg(feature = "track")]
pub(crate) mod resolve;
#[cfg(feature = "track")]
pub(crate) mod runtime_entry;
#[cfg(feature = "track")]
pub(crate) mod trim;

/// Hooks for `benches/stack_capture.rs`, re-exported as `allocsite::__bench`. Not public API.
#[cfg(feature = "track")]
#[doc(hidden)]
pub(crate) mod bench {
    pub use super::frame::Frame;
    pub use super::trim::TrimOptions;

    /// Symbolizes `ips` with a fresh `Symbolizer`, so every
    /// address is resolved once.
    pub fn frames_uncached(ips: &[usize], trim: TrimOptions) -> Vec<Frame> {
        super::resolve::Symbolizer::new().frames(ips, trim)
    }
}
