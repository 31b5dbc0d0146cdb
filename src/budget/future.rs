//! Measuring futures: [`measure_future`], and carrying a scope into the tasks and threads a
//! measured future starts ([`in_current_scope`], [`ScopeHandle`]).
//!
//! A future's scope is entered each time the future is polled, on whichever thread polls
//! it, and left when the poll returns: what the future does between polls — other tasks on
//! the same worker thread, the executor itself — is not counted, and what it does on any
//! thread while it runs is.

use std::future::Future;
use std::mem::ManuallyDrop;
use std::panic::Location;
use std::pin::Pin;
use std::task::{Context, Poll};

use super::usage::Usage;
use crate::backend::{self, FutureScope};
use crate::error::Error;

/// Measures a future: the returned future polls `future` inside a scope of its own and
/// resolves to its output with the allocations it made.
///
/// The scope is entered each time the future is polled, on whichever thread polls it, and
/// left when the poll returns, so the figures are exact on any executor: two measured
/// futures interleaved on one worker thread never count each other's allocations, a future
/// that moves between threads is followed, and a block it allocated and another thread
/// freed counts as freed (not leaked). The future's own state is dropped inside the scope
/// when it completes, as a closure's captures are in [`measure`](crate::measure).
///
/// Nesting works both ways: a measured future polled inside another measured future or a
/// [`measure`](crate::measure) closure adds its figures to that scope when it completes,
/// and a `measure` inside the future adds to the future's scope.
///
/// Not counted: what the executor does on the thread between polls, and tasks or threads the
/// future starts — unless they carry its scope with [`in_current_scope`] or
/// [`ScopeHandle`]. Everything the thread does *during* a poll is counted, the executor's
/// work inside it included (e.g. tokio's `yield_now` puts the waker in a per-worker list
/// that grows the first time it is used on a thread, so it can count one allocation).
///
/// A future dropped before it completes closes its scope and reports nothing.
///
/// # Errors
///
/// The future resolves at its first poll, without polling `future`, to
/// [`Error::TrackingDisabled`] without the `track` feature, [`Error::NotInstalled`] if
/// [`crate::Alloc`] is not the global allocator, or [`Error::OutOfMemory`].
///
/// ```
/// #[global_allocator]
/// static ALLOC: allocsite::Alloc = allocsite::Alloc::system();
///
/// async fn greeting(name: &str) -> String {
///     format!("hello, {name}")
/// }
///
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() {
/// match allocsite::measure_future(greeting("ada")).await {
///     Ok((text, usage)) => {
///         assert_eq!(text, "hello, ada");
///         assert_eq!(usage.allocations, 1);
///     }
///     Err(error) => assert_eq!(error, allocsite::Error::TrackingDisabled),
/// }
/// # }
/// ```
pub fn measure_future<F: Future>(future: F) -> MeasuredFuture<F> {
    MeasuredFuture {
        inner: ManuallyDrop::new(future),
        state: State::NotStarted,
    }
}

/// The future returned by [`measure_future`].
#[must_use = "futures do nothing unless polled: `.await` it"]
pub struct MeasuredFuture<F> {
    /// Pinned whenever `self` is (structural pinning): never moved, dropped in place.
    inner: ManuallyDrop<F>,
    state: State,
}

enum State {
    /// Not polled yet: `inner` is live, no scope.
    NotStarted,
    /// Polled: `inner` is live, the scope is open.
    Running(FutureScope),
    /// Completed (or failed to open its scope): `inner` has been dropped.
    Done,
}

impl<F> std::fmt::Debug for MeasuredFuture<F> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let state = match self.state {
            State::NotStarted => "not started",
            State::Running(_) => "running",
            State::Done => "done",
        };
        f.debug_struct("MeasuredFuture")
            .field("state", &state)
            .finish_non_exhaustive()
    }
}

impl<F: Future> Future for MeasuredFuture<F> {
    type Output = Result<(F::Output, Usage), Error>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        // SAFETY: `inner` is pinned structurally — it is only reached through `Pin` below,
        // never moved, and dropped in place (here and in `Drop`) — and `state` is not pinned.
        let this = unsafe { self.get_unchecked_mut() };
        if let State::NotStarted = this.state {
            match backend::open_future_scope() {
                Ok(scope) => this.state = State::Running(scope),
                Err(error) => {
                    this.state = State::Done;
                    // SAFETY: `inner` is live (not started) and never used again (`Done`).
                    unsafe { ManuallyDrop::drop(&mut this.inner) };
                    return Poll::Ready(Err(error));
                }
            }
        }
        let State::Running(scope) = &this.state else {
            panic!("allocsite::MeasuredFuture polled after it completed");
        };
        let entered = scope.enter();
        // SAFETY: see above; `inner` is live while `Running`.
        let inner = unsafe { Pin::new_unchecked(&mut *this.inner) };
        let output = match inner.poll(cx) {
            Poll::Pending => return Poll::Pending,
            Poll::Ready(output) => output,
        };
        let State::Running(scope) = std::mem::replace(&mut this.state, State::Done) else {
            unreachable!("the state was `Running` above")
        };
        // The future's own state goes inside its scope (if its drop panics, `scope` still
        // closes as it unwinds).
        // SAFETY: `inner` is live and, the state being `Done` now, never touched again.
        unsafe { ManuallyDrop::drop(&mut this.inner) };
        drop(entered);
        Poll::Ready(Ok((output, scope.finish())))
    }
}

impl<F> Drop for MeasuredFuture<F> {
    fn drop(&mut self) {
        match std::mem::replace(&mut self.state, State::Done) {
            State::NotStarted => {
                // SAFETY: `inner` is live and never used again.
                unsafe { ManuallyDrop::drop(&mut self.inner) };
            }
            State::Running(scope) => {
                // Dropped before it completed: its state goes inside its scope, which then
                // closes (`scope` drops after `_entered`) and reports nothing.
                let _entered = scope.enter();
                // SAFETY: as above.
                unsafe { ManuallyDrop::drop(&mut self.inner) };
            }
            State::Done => {}
        }
    }
}

/// The scope open on the calling thread when it was taken, to carry into the tasks and
/// threads started there: a `Copy` token that any thread can enter, for as long as the
/// scope is open. Use [`in_current_scope`] for a future; `run` for a closure, e.g. in
/// `tokio::task::spawn_blocking` or `std::thread::spawn`:
///
/// ```
/// #[global_allocator]
/// static ALLOC: allocsite::Alloc = allocsite::Alloc::system();
///
/// # fn main() {
/// if let Ok((length, usage)) = allocsite::measure(|| {
///     let scope = allocsite::ScopeHandle::current();
///     std::thread::spawn(move || scope.run(|| vec![0u8; 4096].len()))
///         .join()
///         .unwrap()
/// }) {
///     assert_eq!(length, 4096);
///     // The thread's vector, and what `spawn` allocated on this thread.
///     assert!(usage.bytes_allocated > 4096);
/// }
/// # }
/// ```
///
/// A handle taken outside every scope (or without the `track` feature) does nothing. Work
/// that runs after the scope closed is not counted anywhere: await the tasks (join the
/// threads) that carry a scope before it ends.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ScopeHandle {
    /// The scope's id (0: none).
    id: u64,
}

impl ScopeHandle {
    /// The innermost scope open on the calling thread: a [`measure`](crate::measure)
    /// closure's, or a measured future's while it is being polled.
    pub fn current() -> ScopeHandle {
        ScopeHandle {
            id: backend::current_scope(),
        }
    }

    /// True if the handle refers to no scope (taken outside every scope, or tracking off).
    pub fn is_none(&self) -> bool {
        self.id == 0
    }

    /// Runs `work` on the calling thread inside the scope: its allocations count in it.
    pub fn run<R>(self, work: impl FnOnce() -> R) -> R {
        let _entered = (self.id != 0).then(|| backend::enter_scope(self.id));
        work()
    }

    /// Wraps `future` so that each of its polls, on whatever thread, runs inside the scope
    /// (see [`in_current_scope`]).
    pub fn wrap<F: Future>(self, future: F) -> InScope<F> {
        InScope {
            inner: ManuallyDrop::new(future),
            live: true,
            scope: self,
        }
    }
}

/// Carries the calling thread's current scope into `future`: each poll of the returned
/// future, on whatever thread, counts in that scope (while it is open). Wrap the futures you
/// spawn from inside a measured future, so that the tasks' allocations count in it:
///
/// ```
/// #[global_allocator]
/// static ALLOC: allocsite::Alloc = allocsite::Alloc::system();
///
/// # #[tokio::main]
/// # async fn main() {
/// let measured = allocsite::measure_future(async {
///     let task = tokio::spawn(allocsite::in_current_scope(async {
///         vec![0u8; 100] // counted in the measured future's scope, on any worker thread
///     }));
///     task.await.unwrap()
/// });
/// if let Ok((bytes, usage)) = measured.await {
///     assert_eq!(bytes.len(), 100);
///     // The vector; and tokio's task when its worker thread has not yet dropped its
///     // reference (it may do so after `task.await` returns).
///     assert!((1..=2).contains(&usage.leaked_blocks));
///     assert!(usage.bytes_allocated >= 100); // and tokio's task itself
/// }
/// # }
/// ```
///
/// Without the wrapper a spawned task is a separate task: nothing it does counts in the
/// scope, except that blocks allocated in the scope and freed by the task count as freed.
/// The wrapper counts the task's polls, not a separate scope: its figures are the measured
/// future's, and its allocations after that future completed are not counted. Await the
/// task's handle inside the measured future to count all of it. Outside every scope (or
/// without the `track` feature) the wrapper does nothing.
pub fn in_current_scope<F: Future>(future: F) -> InScope<F> {
    ScopeHandle::current().wrap(future)
}

/// The future returned by [`in_current_scope`] and [`ScopeHandle::wrap`].
#[must_use = "futures do nothing unless polled: `.await` it or spawn it"]
pub struct InScope<F> {
    /// Pinned structurally, as in [`MeasuredFuture`]; live while `live`.
    inner: ManuallyDrop<F>,
    live: bool,
    scope: ScopeHandle,
}

impl<F> std::fmt::Debug for InScope<F> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("InScope")
            .field("scope", &self.scope)
            .finish_non_exhaustive()
    }
}

impl<F: Future> Future for InScope<F> {
    type Output = F::Output;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<F::Output> {
        // SAFETY: as in `MeasuredFuture::poll`: `inner` is pinned structurally.
        let this = unsafe { self.get_unchecked_mut() };
        assert!(this.live, "allocsite::InScope polled after it completed");
        let scope = this.scope.id;
        let entered = (scope != 0).then(|| backend::enter_scope(scope));
        // SAFETY: see above; `inner` is live.
        let inner = unsafe { Pin::new_unchecked(&mut *this.inner) };
        let output = match inner.poll(cx) {
            Poll::Pending => return Poll::Pending,
            Poll::Ready(output) => output,
        };
        this.live = false;
        // SAFETY: `inner` is live and, `live` being false now, never touched again.
        unsafe { ManuallyDrop::drop(&mut this.inner) };
        drop(entered);
        Poll::Ready(output)
    }
}

impl<F> Drop for InScope<F> {
    fn drop(&mut self) {
        if self.live {
            self.live = false;
            let _entered = (self.scope.id != 0).then(|| backend::enter_scope(self.scope.id));
            // SAFETY: `inner` is live and never used again.
            unsafe { ManuallyDrop::drop(&mut self.inner) };
        }
    }
}

/// Measures `future` for a budget or a baseline checked at `caller`: `Err` is the failure
/// message when nothing can be measured, for [`PanicsAtAwait`] to raise.
pub(super) async fn measure_future_or_fail<F: Future>(
    caller: &'static Location<'static>,
    future: F,
) -> Result<(F::Output, Usage), String> {
    measure_future(future)
        .await
        .map_err(|error| format!("allocation budget at {caller} cannot be checked: {error}"))
}

/// An async budget's or baseline's future: resolves to the value of `inner`'s `Ok`, and
/// panics with the message of its `Err`. The panic is raised in `poll`, which is
/// `#[track_caller]`, so the test's "panicked at" line names the `.await` in the test (the
/// same line as the message), not this file: a panic inside an `async` block cannot be
/// located at its caller.
pub(super) struct PanicsAtAwait<F> {
    inner: F,
}

impl<F> PanicsAtAwait<F> {
    pub(super) fn new(inner: F) -> Self {
        Self { inner }
    }
}

impl<T, F: Future<Output = Result<T, String>>> Future for PanicsAtAwait<F> {
    type Output = T;

    #[track_caller]
    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<T> {
        // SAFETY: `inner` is structurally pinned: it is never moved out of `self`, and
        // `PanicsAtAwait` has no `Drop` impl and no `Unpin` impl of its own (it is `Unpin`
        // only when `F` is).
        let inner = unsafe { self.map_unchecked_mut(|this| &mut this.inner) };
        match inner.poll(cx) {
            Poll::Ready(Ok(value)) => Poll::Ready(value),
            Poll::Ready(Err(message)) => panic!("{message}"),
            Poll::Pending => Poll::Pending,
        }
    }
}
