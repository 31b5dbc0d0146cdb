//! Trimming a symbolized stack: allocsite's and the allocator's frames on top, the runtime
//! below `main` or the thread entry (the rules are in the module docs of `symbolize`).

use super::classify::{FrameClass, classify};
use super::frame::Frame;

/// Which ends of a stack `Symbolizer::frames` trims.
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

/// Applies [`TrimOptions`] to a symbolized stack (innermost first); see the module docs.
pub(super) fn trim_frames(mut all: Vec<Frame>, trim: TrimOptions) -> Vec<Frame> {
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
        } else if !is_library_frame(frame) {
            break;
        }
    }
    cut
}

/// True for frames of std, core, alloc, allocsite, the `backtrace` crate and the runtime:
/// the run of them on top of a stack is where the top trim looks for machinery.
fn is_library_frame(frame: &Frame) -> bool {
    if frame.file.as_deref().is_some_and(is_std_path) {
        return true;
    }
    let f = frame.function.as_str();
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

/// Paths of std, core and alloc as they appear in debug info.
fn is_std_path(path: &str) -> bool {
    path.starts_with("/rustc/")
        || ["std/src/", "core/src/", "alloc/src/", "panic_unwind/src/"]
            .iter()
            .any(|p| path.starts_with(p))
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

/// Cuts a budget scope's stack at the scope: allocsite's frames that ran the user's closure
/// (`measure`, `Budget::run`, the scope) or polled the user's future (`MeasuredFuture::poll`,
/// `InScope::poll`) and everything below them — the executor — go, and so do the std shims
/// between the scope and the closure or future (`FnOnce::call_once`, `catch_unwind`,
/// `Pin<P>::poll`), so the user's closure or future is the root. Stacks without such a
/// frame (other threads of a scope that spans threads) are kept whole; at least one frame
/// always stays.
pub(crate) fn trim_scope_root(mut frames: Vec<Frame>) -> Vec<Frame> {
    let classes: Vec<FrameClass> = frames.iter().map(classify).collect();
    let Some(first_other) = classes.iter().position(|c| *c != FrameClass::Allocsite) else {
        return frames;
    };
    let Some(cut) = classes[first_other..]
        .iter()
        .position(|c| *c == FrameClass::Allocsite)
        .map(|i| i + first_other)
    else {
        return frames;
    };
    let mut end = cut;
    while end > 1 && classes[end - 1] == FrameClass::Std && is_scope_glue(&frames[end - 1].function)
    {
        end -= 1;
    }
    frames.truncate(end.max(1));
    frames
}

/// std frames that exist only because a scope called the user's closure or polled the user's
/// future.
fn is_scope_glue(function: &str) -> bool {
    is_call_once_shim(function)
        || (function.starts_with("<core::pin::Pin<")
            && function.ends_with(" as core::future::future::Future>::poll"))
        || function.starts_with("core::ops::function::")
        || function.starts_with("std::panicking::")
        || function.starts_with("std::panic::catch_unwind")
        || function.contains("core::panic::unwind_safe::AssertUnwindSafe")
        || function == "__rust_try"
}

/// The frame where std enters the user's `main` or thread closure; everything below it is
/// runtime.
pub(super) fn is_runtime_entry(function: &str) -> bool {
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::symbolize::frame::tests::frame;

    fn functions(frames: &[Frame]) -> Vec<&str> {
        frames.iter().map(|f| f.function.as_str()).collect()
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
        assert!(is_library_frame(&both[0]));
        assert!(!is_library_frame(&both[2]));
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
    fn library_frames() {
        assert!(is_library_frame(&frame(
            "alloc::raw_vec::finish_grow",
            None
        )));
        assert!(is_library_frame(&frame(
            "<alloc::vec::Vec<T> as core::clone::Clone>::clone",
            None
        )));
        assert!(is_library_frame(&frame("allocsite::Profiler::new", None)));
        assert!(is_library_frame(&frame(
            "app::Thing::fmt",
            Some("core/src/fmt/mod.rs")
        )));
        assert!(!is_library_frame(&frame("app::main", Some("src/main.rs"))));
        assert!(!is_library_frame(&frame(
            "<app::Thing as core::fmt::Display>::fmt",
            Some("src/lib.rs")
        )));
    }

    #[test]
    fn a_scope_s_stack_ends_at_the_user_s_closure() {
        let stack = vec![
            frame("alloc::raw_vec::finish_grow", Some("alloc/src/raw_vec.rs")),
            frame(
                "serde_json::de::from_str",
                Some("serde_json-1.0.154/src/de.rs"),
            ),
            frame("app::parse", Some("tests/parse.rs")),
            frame("app::parses::{{closure}}", Some("tests/parse.rs")),
            frame(
                "core::ops::function::FnOnce::call_once",
                Some("core/src/ops/function.rs"),
            ),
            frame(
                "allocsite::engine::scope::run::run",
                Some("allocsite-0.1.0/src/engine/scope/run.rs"),
            ),
            frame(
                "allocsite::budget::measure::measure",
                Some("src/budget/measure.rs"),
            ),
            frame(
                "allocsite::budget::limits::Budget::run",
                Some("src/budget/limits.rs"),
            ),
            frame("app::parses", Some("tests/parse.rs")),
            frame("app::parses::{{closure}}", Some("tests/parse.rs")),
        ];
        assert_eq!(
            functions(&trim_scope_root(stack.clone())),
            [
                "alloc::raw_vec::finish_grow",
                "serde_json::de::from_str",
                "app::parse",
                "app::parses::{{closure}}"
            ]
        );
        // No scope frame (another thread of a spanning scope): kept whole.
        assert_eq!(trim_scope_root(stack[..4].to_vec()).len(), 4);
        // allocsite frames on top are not the scope.
        let mut on_top = stack.clone();
        on_top.insert(0, frame("allocsite::alloc::Alloc::alloc", None));
        assert_eq!(trim_scope_root(on_top).len(), 5);
    }

    #[test]
    fn a_future_s_stack_ends_at_the_user_s_future_not_in_the_executor() {
        let stack = vec![
            frame("alloc::fmt::format", Some("alloc/src/fmt.rs")),
            frame("app::reply::{{closure}}", Some("tests/app.rs")),
            frame(
                "<core::pin::Pin<P> as core::future::future::Future>::poll",
                Some("core/src/future/future.rs"),
            ),
            frame(
                "<allocsite::budget::future::MeasuredFuture<F> as core::future::future::Future>::poll",
                Some("allocsite-0.1.0/src/budget/future.rs"),
            ),
            frame(
                "allocsite::budget::limits::Budget::run_async::{{closure}}",
                Some("allocsite-0.1.0/src/budget/limits.rs"),
            ),
            frame(
                "tokio::runtime::task::core::Core<T,S>::poll::{{closure}}",
                Some("tokio-1.54.1/src/runtime/task/core.rs"),
            ),
            frame(
                "tokio::runtime::task::harness::poll_future",
                Some("tokio-1.54.1/src/runtime/task/harness.rs"),
            ),
            frame("start_thread", None),
        ];
        assert_eq!(
            functions(&trim_scope_root(stack)),
            ["alloc::fmt::format", "app::reply::{{closure}}"]
        );
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
}
