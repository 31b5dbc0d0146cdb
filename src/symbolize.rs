//! Turning captured return addresses into named, trimmed frames, when a report is written.
//!
//! [`Symbolizer`] resolves each distinct address once with [`backtrace::resolve`] (DWARF line
//! tables through `gimli`/`addr2line`) and caches the result. One address can expand into
//! several [`Frame`]s when functions were inlined into each other; all of them carry the
//! original return address.
//!
//! # Return addresses
//!
//! A captured address is where the call *returns to*, one instruction after the call.
//! `backtrace::resolve` already subtracts one from the address it is given before looking it
//! up (see `adjust_ip` in backtrace-rs), so the raw return address is passed as is and the line
//! reported is the call's. [`Frame::address`] is the unmodified return address.
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
//!
//! # Deliberately not done
//!
//! - No symbolization on the hot path, and no symbol cache shared between `Symbolizer`s
//!   (`backtrace` keeps its own cache of parsed debug info process-wide).
//! - Frames are trimmed by name, not by comparing against a reference stack as dhat-rs does, so
//!   the result does not depend on where the profiler was started.

use std::collections::HashMap;

/// One symbolized frame. Inlined functions expand one address into several frames.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct Frame {
    /// The captured return address (not adjusted).
    pub address: usize,
    /// Demangled function name without the hash, or `"???"` if unknown.
    pub function: String,
    /// Source file, trimmed (see [`Frame::dhat_string`]).
    pub file: Option<String>,
    /// Source line of the call.
    pub line: Option<u32>,
    /// Source column of the call.
    pub column: Option<u32>,
}

impl Frame {
    /// DHAT style, as Valgrind and the dhat crate write it:
    /// `"0x1a2b: crate::module::function (src/file.rs:12:5)"`. Missing parts are written as
    /// `???` and `0`, like dhat-rs does.
    ///
    /// Paths are trimmed when the frame is built: files of the profiled package are relative
    /// to its root (`src/lib.rs`), std's start at the library crate (`alloc/src/raw_vec.rs`),
    /// crates.io dependencies at the crate's folder (`serde_json-1.0.0/src/de.rs`), and other
    /// paths keep their last three components as dhat-rs does.
    pub fn dhat_string(&self) -> String {
        format!(
            "{:#x}: {} ({}:{}:{})",
            self.address,
            self.function,
            self.file.as_deref().unwrap_or("???"),
            self.line.unwrap_or(0),
            self.column.unwrap_or(0),
        )
    }

    /// True for frames of std, core, alloc, allocsite, the `backtrace` crate and the runtime:
    /// used to find "the first frame in the user's code".
    pub fn is_library_frame(&self) -> bool {
        if self.file.as_deref().is_some_and(is_std_path) {
            return true;
        }
        let f = self.function.as_str();
        let f = f.strip_prefix('<').unwrap_or(f);
        const LIBRARY_PREFIXES: &[&str] = &[
            "std::",
            "core::",
            "alloc::",
            "allocsite::",
            "backtrace::",
            "test::",
            "__rust",
            "__rdl_",
            "__rg_",
            "_Unwind_",
            "__libc_start",
            "_start",
            "start_thread",
            "clone",
        ];
        LIBRARY_PREFIXES.iter().any(|p| f.starts_with(p)) || f == "main" || f == "???"
    }
}

/// Which ends of a stack [`Symbolizer::frames`] trims.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct TrimOptions {
    /// Drop allocsite's own frames and the allocator machinery at the innermost end.
    pub top: bool,
    /// Drop the runtime frames below the user's `main` or thread entry.
    pub bottom: bool,
}

impl Default for TrimOptions {
    fn default() -> Self {
        TrimOptions {
            top: true,
            bottom: true,
        }
    }
}

/// Symbolizes captured stacks, caching by address (one `backtrace::resolve` per distinct
/// address).
pub(crate) struct Symbolizer {
    cache: HashMap<usize, Vec<Frame>>,
    /// Root of the profiled package, used to make its paths relative.
    package_root: Option<String>,
}

impl Symbolizer {
    pub(crate) fn new() -> Self {
        let package_root = std::env::var("CARGO_MANIFEST_DIR")
            .ok()
            .filter(|s| !s.is_empty())
            .or_else(|| {
                std::env::current_dir()
                    .ok()
                    .and_then(|d| d.to_str().map(str::to_owned))
            })
            .map(|mut s| {
                if !s.ends_with('/') {
                    s.push('/');
                }
                s
            });
        Symbolizer {
            cache: HashMap::new(),
            package_root,
        }
    }

    /// Symbolizes a captured stack (innermost first) and trims it as [`TrimOptions`] says.
    /// See the module docs for the exact rules and for what is returned when everything is
    /// trimmed.
    pub(crate) fn frames(&mut self, ips: &[usize], trim: TrimOptions) -> Vec<Frame> {
        let mut all = Vec::with_capacity(ips.len());
        for &ip in ips {
            let resolved = self.resolve(ip);
            all.extend_from_slice(resolved);
            // Nothing below the runtime's entry frame survives the bottom trim, so stop
            // resolving there: the frames below are libc's, and resolving them can mean
            // inflating libc's separate debug file (measured: ~90 ms and ~40 MiB per report).
            if trim.bottom
                && resolved
                    .iter()
                    .any(|frame| is_runtime_entry(&frame.function))
            {
                crate::stack::remember_runtime_entry(ip);
                break;
            }
        }
        trim_frames(all, trim)
    }

    /// The frames of one address, resolved once.
    fn resolve(&mut self, ip: usize) -> &[Frame] {
        let root = self.package_root.as_deref();
        self.cache.entry(ip).or_insert_with(|| {
            let mut frames = Vec::new();
            // `resolve` subtracts one from the address itself (see the module docs).
            backtrace::resolve(ip as *mut core::ffi::c_void, |sym| {
                let function = sym
                    .name()
                    .map(|n| format!("{n:#}"))
                    .unwrap_or_else(|| "???".to_owned());
                let file = sym
                    .filename()
                    .and_then(|p| p.to_str())
                    .map(|p| trim_path(p, root));
                frames.push(Frame {
                    address: ip,
                    function,
                    file,
                    line: sym.lineno(),
                    column: sym.colno(),
                });
            });
            if frames.is_empty() {
                frames.push(Frame {
                    address: ip,
                    function: "???".to_owned(),
                    file: None,
                    line: None,
                    column: None,
                });
            }
            frames
        })
    }
}

/// Applies [`TrimOptions`] to a symbolized stack (innermost first); see the module docs.
fn trim_frames(mut all: Vec<Frame>, trim: TrimOptions) -> Vec<Frame> {
    if all.is_empty() {
        return all;
    }
    let start = if trim.top { top_cut(&all) } else { 0 };
    let end = if trim.bottom {
        bottom_cut(&all[start..]) + start
    } else {
        all.len()
    };
    if start < end {
        all.truncate(end);
        all.drain(..start);
        all
    } else {
        let keep = if start < all.len() {
            start
        } else {
            all.len() - 1
        };
        vec![all.swap_remove(keep)]
    }
}

/// Index of the first frame to keep after dropping the allocation machinery on top.
///
/// Only the leading run of machinery and library frames is looked at: allocsite frames
/// further down the stack (a budget scope's `measure`, which called the user's closure)
/// are the caller's context, and cutting at them would drop the user's frames above.
fn top_cut(frames: &[Frame]) -> usize {
    let mut cut = 0;
    for (index, frame) in frames.iter().enumerate() {
        if is_machinery(&frame.function)
            || frame.file.as_deref().is_some_and(is_allocator_entry_file)
        {
            cut = index + 1;
        } else if !frame.is_library_frame() {
            break;
        }
    }
    cut
}

/// The files of std's allocator entry points (`alloc::alloc::alloc`, `realloc`, …), which
/// release builds with line-tables-only debug info name without their module path.
fn is_allocator_entry_file(path: &str) -> bool {
    path.ends_with("alloc/src/alloc.rs") || path.ends_with("std/src/alloc.rs")
}

/// Index one past the last frame to keep after dropping the runtime at the bottom.
fn bottom_cut(frames: &[Frame]) -> usize {
    let cut = frames
        .iter()
        .position(|f| f.function.contains("__rust_begin_short_backtrace"))
        .or_else(|| frames.iter().position(|f| is_runtime(&f.function)));
    let Some(mut cut) = cut else {
        return frames.len();
    };
    while cut > 0 && is_call_once_shim(&frames[cut - 1].function) {
        cut -= 1;
    }
    cut
}

/// Allocator machinery and allocsite itself (see the module docs).
fn is_machinery(function: &str) -> bool {
    let f = function.strip_prefix('<').unwrap_or(function);
    if f.starts_with("allocsite::") {
        return !f.contains("::tests::");
    }
    const PREFIXES: &[&str] = &[
        "__rust_alloc",
        "__rust_realloc",
        "__rust_dealloc",
        "__rust_alloc_zeroed",
        "__rdl_",
        "__rg_",
        "__rustc::",
        "alloc::alloc::",
        "std::alloc::",
        "backtrace::",
        "_Unwind_",
    ];
    PREFIXES.iter().any(|p| f.starts_with(p))
        || function.contains(" as core::alloc::global::GlobalAlloc>::")
        || function.contains(" as core::alloc::Allocator>::")
}

/// The frame where std enters the user's `main` or thread closure; everything below it is
/// runtime.
fn is_runtime_entry(function: &str) -> bool {
    function.contains("__rust_begin_short_backtrace") || function.contains("lang_start")
}

/// Runtime frames below `main` or a thread's entry (used when no
/// `__rust_begin_short_backtrace` frame was found).
fn is_runtime(function: &str) -> bool {
    const PREFIXES: &[&str] = &[
        "std::rt::lang_start",
        "__libc_start",
        "_start",
        "start_thread",
        "clone",
        "std::sys::pal::unix::thread::Thread::new::thread_start",
        "std::sys::thread::unix::Thread::new::thread_start",
    ];
    function == "main"
        || PREFIXES.iter().any(|p| function.starts_with(p))
        || (function.starts_with("std::") && function.contains("thread_start"))
}

/// `FnOnce::call_once` shims that std puts between the runtime and user code.
fn is_call_once_shim(function: &str) -> bool {
    function.starts_with("core::ops::function::FnOnce::call_once")
        || (function.starts_with('<')
            && function.contains(" as core::ops::function::FnOnce<")
            && function.contains(">>::call_once")
            && !function.contains("::{{closure}}"))
}

/// Paths of std, core and alloc as they appear in debug info.
fn is_std_path(path: &str) -> bool {
    path.starts_with("/rustc/")
        || ["std/src/", "core/src/", "alloc/src/", "panic_unwind/src/"]
            .iter()
            .any(|p| path.starts_with(p))
}

/// Shortens a source path for display (see [`Frame::dhat_string`]).
fn trim_path(path: &str, package_root: Option<&str>) -> String {
    if let Some(rest) = package_root.and_then(|root| path.strip_prefix(root)) {
        return rest.to_owned();
    }
    // std: "/rustc/<hash>/library/alloc/src/raw_vec.rs" or a rust-src copy.
    if let Some(i) = path.rfind("/library/") {
        let rest = &path[i + "/library/".len()..];
        if rest.contains("/src/") {
            return rest.to_owned();
        }
    }
    // crates.io: ".../registry/src/<index>/serde-1.0.0/src/de.rs".
    if let Some(i) = path.find("/registry/src/") {
        let rest = &path[i + "/registry/src/".len()..];
        if let Some(j) = rest.find('/') {
            return rest[j + 1..].to_owned();
        }
    }
    if !path.starts_with('/') {
        return path.to_owned();
    }
    // dhat-rs: the last three components.
    let parts: Vec<&str> = path.split('/').filter(|s| !s.is_empty()).collect();
    parts[parts.len().saturating_sub(3)..].join("/")
}

/// Hooks for `benches/stack_capture.rs`, re-exported as `allocsite::__bench`. Not public API.
#[doc(hidden)]
pub mod bench {
    pub use super::{Frame, TrimOptions};

    /// Symbolizes `ips` with a fresh [`super::Symbolizer`], so every address is resolved once.
    pub fn frames_uncached(ips: &[usize], trim: TrimOptions) -> Vec<Frame> {
        super::Symbolizer::new().frames(ips, trim)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::stack::{MAX_FRAMES, Unwinder, capture};
    use core::hint::black_box;

    fn frame(function: &str, file: Option<&str>) -> Frame {
        Frame {
            address: 0x1000,
            function: function.to_owned(),
            file: file.map(str::to_owned),
            line: Some(1),
            column: Some(1),
        }
    }

    fn functions(frames: &[Frame]) -> Vec<&str> {
        frames.iter().map(|f| f.function.as_str()).collect()
    }

    /// Returns the captured stack and the line of the `capture` call.
    #[inline(never)]
    fn known_call_site(out: &mut [usize; MAX_FRAMES]) -> (usize, u32) {
        // The capture call is on the line after this one (rustfmt keeps it there).
        let line = line!() + 1;
        let n = black_box(capture(Unwinder::UnwindTables, out));
        (n, line)
    }

    #[test]
    fn resolves_file_and_line_of_the_call() {
        let mut out = [0; MAX_FRAMES];
        let (n, line) = known_call_site(&mut out);
        let untrimmed = TrimOptions {
            top: false,
            bottom: false,
        };
        let frames = Symbolizer::new().frames(&out[..n], untrimmed);
        let site = frames
            .iter()
            .find(|f| f.function.ends_with("known_call_site"))
            .unwrap_or_else(|| panic!("{frames:#?}"));
        assert_eq!(site.line, Some(line), "{site:?}");
        let file = site.file.as_deref().unwrap();
        assert!(file.ends_with("src/symbolize.rs"), "{file}");
        assert!(!file.starts_with('/'), "{file}");
        assert!(site.address >= out[0].min(site.address));
        assert!(
            out[..n].contains(&site.address),
            "address is the return address"
        );
    }

    #[test]
    fn default_trim_keeps_the_test_and_drops_capture_and_runtime() {
        let mut out = [0; MAX_FRAMES];
        let (n, _) = known_call_site(&mut out);
        let frames = Symbolizer::new().frames(&out[..n], TrimOptions::default());
        let names = functions(&frames);
        assert!(names[0].ends_with("known_call_site"), "{names:#?}");
        assert!(
            names[1].ends_with("default_trim_keeps_the_test_and_drops_capture_and_runtime"),
            "{names:#?}"
        );
        for f in &names {
            assert!(
                !f.contains("__rust_begin_short_backtrace")
                    && !f.starts_with("std::thread")
                    && !f.ends_with("::capture")
                    && !f.contains("backtrace::"),
                "{names:#?}"
            );
        }
    }

    #[test]
    fn top_trim_drops_machinery_and_keeps_vec_growth() {
        let stack = vec![
            frame("allocsite::stack::capture", None),
            frame(
                "<allocsite::Alloc<A> as core::alloc::global::GlobalAlloc>::alloc",
                None,
            ),
            frame("__rustc::__rust_alloc", None),
            frame("alloc::alloc::alloc", Some("alloc/src/alloc.rs")),
            frame("alloc::raw_vec::finish_grow", Some("alloc/src/raw_vec.rs")),
            frame("alloc::vec::Vec<T,A>::push", Some("alloc/src/vec/mod.rs")),
            frame("app::work", Some("src/main.rs")),
            frame("app::main", Some("src/main.rs")),
            frame(
                "core::ops::function::FnOnce::call_once",
                Some("core/src/ops/function.rs"),
            ),
            frame(
                "std::sys::backtrace::__rust_begin_short_backtrace",
                Some("std/src/sys/backtrace.rs"),
            ),
            frame("std::rt::lang_start::{{closure}}", Some("std/src/rt.rs")),
            frame("std::rt::lang_start_internal", Some("std/src/rt.rs")),
            frame("main", None),
            frame("__libc_start_call_main", None),
            frame("_start", None),
        ];
        let both = trim_frames(stack.clone(), TrimOptions::default());
        assert_eq!(
            functions(&both),
            [
                "alloc::raw_vec::finish_grow",
                "alloc::vec::Vec<T,A>::push",
                "app::work",
                "app::main"
            ]
        );
        let top = trim_frames(
            stack.clone(),
            TrimOptions {
                top: true,
                bottom: false,
            },
        );
        assert_eq!(top.len(), stack.len() - 4);
        let bottom = trim_frames(
            stack.clone(),
            TrimOptions {
                top: false,
                bottom: true,
            },
        );
        assert_eq!(functions(&bottom).last(), Some(&"app::main"));
        assert_eq!(bottom.len(), 8);
        assert!(both[0].is_library_frame());
        assert!(!both[2].is_library_frame());
    }

    #[test]
    fn bottom_trim_of_a_spawned_thread() {
        let stack = vec![
            frame("app::worker::{{closure}}", Some("src/main.rs")),
            frame(
                "std::sys::backtrace::__rust_begin_short_backtrace",
                Some("std/src/sys/backtrace.rs"),
            ),
            frame(
                "std::thread::Builder::spawn_unchecked_::{{closure}}::{{closure}}",
                Some("std/src/thread/mod.rs"),
            ),
            frame(
                "std::sys::pal::unix::thread::Thread::new::thread_start",
                Some("std/src/sys/pal/unix/thread.rs"),
            ),
            frame("start_thread", None),
            frame("clone3", None),
        ];
        let kept = trim_frames(stack, TrimOptions::default());
        assert_eq!(functions(&kept), ["app::worker::{{closure}}"]);
    }

    #[test]
    fn everything_trimmed_keeps_one_frame() {
        // Memory the runtime asks for before `main`.
        let stack = vec![
            frame("__rustc::__rust_alloc", None),
            frame("std::rt::lang_start_internal", Some("std/src/rt.rs")),
            frame("main", None),
        ];
        let kept = trim_frames(stack.clone(), TrimOptions::default());
        assert_eq!(functions(&kept), ["std::rt::lang_start_internal"]);
        // Only machinery: the outermost frame stays.
        let kept = trim_frames(stack[..1].to_vec(), TrimOptions::default());
        assert_eq!(functions(&kept), ["__rustc::__rust_alloc"]);
        assert!(trim_frames(Vec::new(), TrimOptions::default()).is_empty());
    }

    #[test]
    fn dhat_string_format() {
        let f = Frame {
            address: 0x1a2b,
            function: "app::module::function".to_owned(),
            file: Some("src/file.rs".to_owned()),
            line: Some(12),
            column: Some(5),
        };
        assert_eq!(
            f.dhat_string(),
            "0x1a2b: app::module::function (src/file.rs:12:5)"
        );
        let unknown = Frame {
            address: 0xff,
            function: "???".to_owned(),
            file: None,
            line: None,
            column: None,
        };
        assert_eq!(unknown.dhat_string(), "0xff: ??? (???:0:0)");
    }

    #[test]
    fn paths_are_trimmed() {
        let root = Some("/home/me/app/");
        assert_eq!(trim_path("/home/me/app/src/lib.rs", root), "src/lib.rs");
        assert_eq!(
            trim_path("/rustc/0123abcd/library/alloc/src/raw_vec.rs", root),
            "alloc/src/raw_vec.rs"
        );
        assert_eq!(
            trim_path(
                "/home/me/.cargo/registry/src/index.crates.io-1949cf8c6b5b557f/serde_json-1.0.1/src/de.rs",
                root
            ),
            "serde_json-1.0.1/src/de.rs"
        );
        assert_eq!(trim_path("/usr/src/glibc/x/y/z.c", root), "x/y/z.c");
        assert_eq!(trim_path("src/main.rs", None), "src/main.rs");
    }

    #[test]
    fn library_frames() {
        assert!(frame("alloc::raw_vec::finish_grow", None).is_library_frame());
        assert!(
            frame("<alloc::vec::Vec<T> as core::clone::Clone>::clone", None).is_library_frame()
        );
        assert!(frame("allocsite::Profiler::new", None).is_library_frame());
        assert!(frame("app::Thing::fmt", Some("core/src/fmt/mod.rs")).is_library_frame());
        assert!(!frame("app::main", Some("src/main.rs")).is_library_frame());
        assert!(
            !frame(
                "<app::Thing as core::fmt::Display>::fmt",
                Some("src/lib.rs")
            )
            .is_library_frame()
        );
    }
}
