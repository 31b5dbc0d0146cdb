//! Opening a budget scope around a closure, and closing it on every exit path.

use crate::engine::recorder::live;
use crate::engine::recorder::sites::SITES;
use crate::engine::spawn;
use crate::engine::stats::check_installed;
use crate::engine::thread::{self as thread_state, untracked};
use crate::error::Error;
use crate::symbolize::runtime_entry::learn_runtime_entry;

use super::table::{ClosedScope, OnAllocation, SCOPES, ScopeCounts, SiteUsage};

/// How a scope is delimited.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct ScopeOptions {
    /// Threads this thread starts while the scope is open (and threads they start) join it
    /// (`measure_with_spawned_threads`; see `engine/spawn.rs`).
    pub(crate) spanning: bool,
    /// What an allocation inside the scope does.
    pub(crate) on_allocation: OnAllocation,
}

/// One call site of a closed scope: its captured stack and what it allocated.
pub(crate) struct ScopeSite<'a> {
    pub(crate) stack: &'a [usize],
    pub(crate) usage: SiteUsage,
}

/// Opens a scope inside the calling thread's current scope (its parent; 0: none) without
/// entering it: the checks and preparations every scope needs. Returns `(id, parent)`.
pub(crate) fn open(options: ScopeOptions) -> Result<(u64, u64), Error> {
    check_installed()?;
    let parent = thread_state::with(|thread| thread.scope());
    if options.spanning && parent != 0 {
        return Err(Error::NestedSpanningScope);
    }
    spawn::anchor();
    if parent == 0 {
        // Learn where this thread's stack enters user code, so captures can stop there
        // (cheap after the first time: the symbolizer's caches are warm).
        untracked(learn_runtime_entry);
    }
    let Some(id) = untracked(|| SCOPES.lock().open(parent, options.on_allocation)) else {
        return Err(Error::OutOfMemory);
    };
    Ok((id, parent))
}

/// Closes scope `id` (`None` if it was not open). The thread's scope is the caller's
/// business; `outermost` says the scope had no parent.
pub(crate) fn close(id: u64, outermost: bool) -> Option<ClosedScope> {
    let closed = untracked(|| SCOPES.lock().close(id));
    if outermost {
        // The outermost scope closed: if nothing recorded is live any more, frees can skip
        // the filter again.
        untracked(live::reset_if_empty);
    }
    closed
}

/// Turns a closed scope's exact counts and call sites into the caller's report. `report`
/// runs outside every scope on this thread (an enclosing scope counts what the work did,
/// not allocsite's report of it); the thread's scope is `restore` afterwards.
pub(crate) fn report_closed<U>(
    closed: &ClosedScope,
    restore: u64,
    report: impl FnOnce(&ScopeCounts, &[ScopeSite<'_>]) -> U,
) -> U {
    thread_state::with(|thread| thread.set_scope(0));
    // Copy the stacks out of the site table untracked, build the report tracked, then free
    // the untracked copies untracked.
    let stacks: Vec<(Box<[usize]>, SiteUsage)> = untracked(|| {
        closed
            .sites()
            .map(|(site, usage)| (SITES.stack(site).into_boxed_slice(), usage))
            .collect()
    });
    let sites: Vec<ScopeSite<'_>> = untracked(|| {
        stacks
            .iter()
            .map(|(stack, usage)| ScopeSite {
                stack,
                usage: *usage,
            })
            .collect()
    });
    let result = report(&closed.counts, &sites);
    untracked(|| drop(sites));
    untracked(|| drop(stacks));
    thread_state::with(|thread| thread.set_scope(restore));
    result
}

/// Runs `work` inside a new scope. When it returns, `report` turns the scope's exact counts
/// and its call sites into the caller's result (see [`report_closed`]). The scope is closed
/// even if `work` panics.
pub(crate) fn run<R, U>(
    options: ScopeOptions,
    work: impl FnOnce() -> R,
    report: impl FnOnce(&ScopeCounts, &[ScopeSite<'_>]) -> U,
) -> Result<(R, U), Error> {
    let (id, parent) = open(options)?;
    let mut guard = Close {
        id,
        parent,
        spanning: options.spanning,
        closed: None,
    };
    if guard.spanning {
        thread_state::with(|thread| thread.set_spanning(id));
    }
    thread_state::with(|thread| thread.set_scope(id));
    let value = work();
    guard.close();
    let closed = guard
        .closed
        .as_ref()
        .expect("a scope is open until closed here");
    let result = report_closed(closed, parent, report);
    Ok((value, result))
}

/// Closes the scope on every exit path, including a panic in `work`.
struct Close {
    id: u64,
    parent: u64,
    spanning: bool,
    closed: Option<ClosedScope>,
}

impl Close {
    fn close(&mut self) {
        if self.spanning {
            thread_state::with(|thread| thread.set_spanning(0));
        }
        thread_state::with(|thread| thread.set_scope(self.parent));
        self.closed = close(self.id, self.parent == 0);
    }
}

impl Drop for Close {
    fn drop(&mut self) {
        if self.closed.is_none() {
            self.close();
        }
        if let Some(closed) = self.closed.take() {
            untracked(|| drop(closed));
        }
    }
}
