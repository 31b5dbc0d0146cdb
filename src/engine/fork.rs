//! `fork` while other threads use allocsite: handlers registered with `pthread_atfork` take
//! every engine lock before the fork and release them in the parent and in the child, so the
//! child (whose only thread is the one that forked) never inherits a lock held by a thread
//! that does not exist there. The child then abandons the parent's profiling session, so
//! it neither writes the parent's report nor is refused a profiler of its own.
//!
//! Order: the handlers take the locks in one fixed order (allocsite's lock around the
//! `backtrace` crate's symbolizer, which has a process-wide lock of its own; sites, scopes,
//! session, the 64 live-block shards). The recorder never holds one of these while waiting for another,
//! so the prepare handler cannot deadlock with a recording thread.

use std::sync::Once;

use super::recorder::{live, session, sites::SITES};
use super::sampler;
use super::scope::table::SCOPES;
use crate::symbolize::resolve::SYMBOLIZER;

/// Hooks the engine's parts that live outside it (the backend's profile configuration)
/// into the handlers: called with the same discipline.
pub(crate) struct ForkHooks {
    pub(crate) prepare: fn(),
    pub(crate) parent: fn(),
    pub(crate) child: fn(),
}

static mut HOOKS: Option<ForkHooks> = None;
static REGISTER: Once = Once::new();

/// Registers the handlers (once per process; later calls do nothing). `hooks` run first in
/// `prepare` and last in `parent`/`child`.
pub(crate) fn register(hooks: ForkHooks) {
    REGISTER.call_once(|| {
        // SAFETY: written once, inside `call_once`, before the handlers that read it are
        // registered; never written again.
        unsafe { HOOKS = Some(hooks) };
        // SAFETY: three plain `extern "C" fn()` that live for the whole program.
        unsafe {
            libc::pthread_atfork(Some(prepare), Some(parent), Some(child));
        }
    });
}

fn hooks() -> Option<&'static ForkHooks> {
    // SAFETY: `HOOKS` is written once before the handlers are registered (see `register`).
    unsafe { (*std::ptr::addr_of!(HOOKS)).as_ref() }
}

extern "C" fn prepare() {
    if let Some(hooks) = hooks() {
        (hooks.prepare)();
    }
    SYMBOLIZER.lock_and_hold();
    SITES.lock_for_fork();
    SCOPES.lock_and_hold();
    session::lock_for_fork();
    live::lock_for_fork();
}

/// Releases what `prepare` took.
fn release() {
    // SAFETY: called only from the parent and child handlers, right after `prepare` took
    // these locks on this same thread.
    unsafe {
        live::unlock_after_fork();
        session::unlock_after_fork();
        SCOPES.release_held();
        SITES.unlock_after_fork();
        SYMBOLIZER.release_held();
    }
}

extern "C" fn parent() {
    release();
    if let Some(hooks) = hooks() {
        (hooks.parent)();
    }
}

extern "C" fn child() {
    release();
    // The parent's session is not the child's.
    sampler::end_session();
    session::abandon_in_child();
    if let Some(hooks) = hooks() {
        (hooks.child)();
    }
}
