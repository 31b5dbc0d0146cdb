//! The tracking engine (feature `track`): everything that runs inside the allocator.
//!
//! An allocation enters through [`hooks`], which reads the thread's state ([`thread`]),
//! adds to the thread's own [`counters`] and moves the sampling countdown ([`sampler`]).
//! Only an allocation that is sampled or made inside a budget scope, and the free of a
//! recorded block, goes on to the [`recorder`], which captures the stack ([`crate::capture`])
//! and updates the site table, the profiling session and the open [`scope`]s under one lock.
//! [`profiling`] starts and ends sessions, [`scope::run`] opens and closes scopes, and
//! [`stats`] answers the public counters.
//!
//! Architecture invariants of this folder:
//! - Dependencies point one way: `hooks` → `thread` → `counters`, `sampler` → `recorder` →
//!   `scope::table`, `crate::capture`. Nothing here names `report`, `budget` or `profiler`;
//!   `symbolize` is named only off the hot path (learning the runtime entry when a session or
//!   scope starts, and the stack printed by a no-allocation zone before it aborts).
//!   `tests/layering.rs` checks this.
//! - The hot path (`hooks`, `thread`, `counters`, `sampler`) takes no lock, does no I/O,
//!   never allocates and writes no cache line another thread writes.
//! - Everything that may allocate runs with the thread's reentrancy guard held
//!   ([`thread::untracked`], or the busy flag on the recording path), so allocsite's own
//!   allocations are never counted as the program's.
//! - Nothing unwinds out of a hook: recording paths run under an abort-on-unwind guard.
//!
//! The backend interface the rest of the crate uses is `crate::backend` (`backend/track.rs`).

pub(crate) mod counters;
pub(crate) mod fork;
pub(crate) mod hooks;
pub(crate) mod profiling;
pub(crate) mod recorder;
pub(crate) mod sampler;
pub(crate) mod scope;
pub(crate) mod spawn;
pub(crate) mod stats;
pub(crate) mod thread;
