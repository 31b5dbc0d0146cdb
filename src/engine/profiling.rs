//! The engine side of a profiling session's lifecycle: start sampling and recording, and at
//! the end hand the session's figures over. Writing the outputs is the profiler's business
//! (`profiler/finish.rs`); the states are drawn in ARCHITECTURE.md ("Profiler lifecycle").
//!
//! A session is running exactly when the recorder holds one (`Recorder::session`) and the
//! sampler's session number is non-zero; [`start`] sets both, [`finish`] clears both.

use std::sync::atomic::{AtomicU32, Ordering::Relaxed};

use crate::capture::runtime_entry::set_stop_at_runtime_entry;
use crate::error::Error;
use crate::symbolize::runtime_entry::learn_runtime_entry;

use super::counters;
use super::recorder::session::{self, FinishedSession};
use super::sampler;
use super::stats::check_installed;
use super::thread::untracked;

/// How a session samples.
#[derive(Clone, Copy, Debug)]
pub(crate) struct SessionOptions {
    /// Mean bytes between samples (1: every allocation).
    pub(crate) sample_bytes: u64,
    /// The sampling seed.
    pub(crate) seed: u64,
    /// Captures may stop at the runtime entry (false when a profile keeps runtime frames).
    pub(crate) stop_at_runtime_entry: bool,
}

/// The process that started the running session (0: none), so a forked child never hands
/// over its parent's session.
static STARTED_BY: AtomicU32 = AtomicU32::new(0);

/// Starts a session. The caller serialises starts and finishes (only one session runs).
pub(crate) fn start(options: SessionOptions) -> Result<(), Error> {
    check_installed()?;
    // Decide the unwinder now (it may allocate), not inside the first sampled allocation,
    // and learn where this thread's stack enters user code (captures stop there).
    set_stop_at_runtime_entry(options.stop_at_runtime_entry);
    untracked(learn_runtime_entry);
    let session = untracked(|| session::start(options.sample_bytes));
    sampler::begin_session(session, options.sample_bytes, options.seed);
    counters::wake_all();
    STARTED_BY.store(std::process::id(), Relaxed);
    Ok(())
}

/// The running session's figures so far, without ending it; `None` if none is running or
/// in a forked child. The value was allocated untracked: drop it with [`untracked`].
pub(crate) fn snapshot() -> Option<FinishedSession> {
    if !started_in_this_process() {
        return None;
    }
    untracked(session::snapshot)
}

/// True if a session is running and this process started it (false in a forked child that
/// inherited its parent's session). Touches no lock.
pub(crate) fn started_in_this_process() -> bool {
    STARTED_BY.load(Relaxed) == std::process::id()
}

/// Ends the running session and returns its figures; `None` if none is running, or in a
/// forked child (the report belongs to the parent). The value was allocated untracked: drop
/// it with [`untracked`].
pub(crate) fn finish() -> Option<FinishedSession> {
    sampler::end_session();
    let finished = untracked(session::finish)?;
    if STARTED_BY.swap(0, Relaxed) != std::process::id() {
        untracked(|| drop(finished));
        return None;
    }
    Some(finished)
}
