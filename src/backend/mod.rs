//! The backend interface: the one switch between the two ways allocsite can be built.
//!
//! The public API ([`crate::Alloc`], `stats`, `budget`, `profiler`) reaches tracking only
//! through the functions below, which exist in both backends with the same signatures:
//!
//! | function | what it does |
//! |---|---|
//! | `on_alloc`, `on_dealloc`, `on_realloc` | the allocator hooks |
//! | `stats`, `thread_stats`, `check_installed` | the exact counters |
//! | `run_scope`, `resolve_stacks` | budget scopes and their stacks, symbolized |
//! | `open_future_scope`, `FutureScope`, `current_scope`, `enter_scope` | scopes that follow a future across polls and threads |
//! | `start_profiling`, `finish_profiling` | a profiling session and its outputs |
//!
//! - `track.rs` (feature `track`) adapts them to the engine (`crate::engine`): it is the
//!   only file that names both the public types and the engine's.
//! - `off.rs` (feature off): empty inline hooks, so `Alloc` compiles to the inner
//!   allocator's calls, and every function that would report figures says tracking is off.
//!   This file is the whole feature-off path.
//!
//! Architecture invariant: nothing outside this folder names `crate::engine` except
//! `profiler/finish.rs` (which writes a finished session) and `report/profile.rs` (which
//! models one); the engine never names this folder or the public API.

#[cfg(not(feature = "track"))]
mod off;
#[cfg(feature = "track")]
mod track;

#[cfg(not(feature = "track"))]
pub(crate) use off::*;
#[cfg(feature = "track")]
pub(crate) use track::*;
