//! Scopes that follow a task instead of a closure: a future's scope is opened at its first
//! poll, *entered* by whichever thread polls it for exactly as long as each poll runs, and
//! closed when the future completes (or is dropped).
//!
//! Entering is two stores to the polling thread's state: the thread's scope becomes the
//! task's, and leaving puts back the scope the thread had before (another task's, a
//! `measure` closure's, or none). So two tasks interleaved on one thread never count each
//! other's allocations, and nothing is taken from the scope table per poll: allocations
//! made while entered record into the scope through the same recording path as a closure's
//! (`recorder::on_allocation`, which reads the thread's scope), whatever the thread.
//!
//! A scope may be entered on several threads at once (tasks spawned from a measured future
//! that carry its scope, see `budget/future.rs`): the scope table is locked per recorded
//! event, so concurrent entries add up exactly. An entry of a scope that has since closed
//! counts nothing: the first recording finds the scope closed and clears the thread's scope
//! for the rest of the entry (`recorder::admit`), and leaving restores the previous one.

use crate::engine::thread as thread_state;
use crate::error::Error;

use super::run::{self, ScopeOptions, ScopeSite};
use super::table::{ClosedScope, OnAllocation, ScopeCounts};

/// An open task scope. Dropping it closes the scope and discards its figures (a future
/// dropped before it completed).
pub(crate) struct TaskScope {
    id: u64,
    parent: u64,
}

impl TaskScope {
    /// Opens a scope inside the calling thread's current scope (its figures merge into that
    /// scope when it closes, as a closure's scope's do).
    pub(crate) fn open() -> Result<TaskScope, Error> {
        let (id, parent) = run::open(ScopeOptions {
            spanning: false,
            on_allocation: OnAllocation::Record,
        })?;
        Ok(TaskScope { id, parent })
    }

    /// The scope's id, for [`enter`].
    #[inline(always)]
    pub(crate) fn id(&self) -> u64 {
        self.id
    }

    /// Closes the scope and turns its figures into the caller's report, built outside every
    /// scope on this thread. Call it with the scope not entered.
    pub(crate) fn close<U>(self, report: impl FnOnce(&ScopeCounts, &[ScopeSite<'_>]) -> U) -> U {
        let closed = self.take_closed();
        let restore = current();
        let result = match &closed {
            Some(closed) => run::report_closed(closed, restore, report),
            // Not open: cannot happen (only `close` and `drop` close it, once).
            None => report(&ScopeCounts::default(), &[]),
        };
        if let Some(closed) = closed {
            thread_state::untracked(|| drop(closed));
        }
        result
    }

    fn take_closed(self) -> Option<ClosedScope> {
        let closed = run::close(self.id, self.parent == 0);
        std::mem::forget(self);
        closed
    }
}

impl Drop for TaskScope {
    fn drop(&mut self) {
        if let Some(closed) = run::close(self.id, self.parent == 0) {
            thread_state::untracked(|| drop(closed));
        }
    }
}

/// The innermost scope open on the calling thread (0: none).
#[inline(always)]
pub(crate) fn current() -> u64 {
    thread_state::with(|thread| thread.scope())
}

/// Scope `id` is the calling thread's scope until the guard drops, which puts back the
/// thread's previous scope (also when the poll unwinds).
#[must_use]
pub(crate) struct Entered {
    previous: u64,
}

/// Enters scope `id` on the calling thread (see [`Entered`]).
#[inline(always)]
pub(crate) fn enter(id: u64) -> Entered {
    let previous = thread_state::with(|thread| {
        let previous = thread.scope();
        thread.set_scope(id);
        previous
    });
    Entered { previous }
}

impl Drop for Entered {
    #[inline(always)]
    fn drop(&mut self) {
        let previous = self.previous;
        thread_state::with(|thread| thread.set_scope(previous));
    }
}
