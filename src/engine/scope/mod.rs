//! Budget scopes: the bookkeeping behind [`crate::measure`] and no-allocation zones.
//!
//! A closure's scope belongs to the thread that opened it: that thread's state
//! ([`ThreadState::scope`](super::thread::ThreadState::scope)) holds the innermost open scope's id, and every allocation and free
//! the thread makes while it is non-zero takes the recording path. A *thread-spanning*
//! scope is also joined by the threads its thread creates while it is open
//! (`engine/spawn.rs`). A future's scope belongs to no thread: whichever thread polls the
//! future holds the scope's id for the length of the poll ([`task`]).
//!
//! Nesting: when an inner scope closes, its figures are merged into its parent and its id is
//! forwarded to the parent, so a block the inner scope allocated and the outer scope frees
//! is still matched. Forwarding entries are dropped when the outermost scope closes.
//!
//! - [`table`]: the bookkeeping, inside the recorder's lock.
//! - [`run`]: opening a scope around a closure and closing it on every exit path.
//! - [`task`]: a scope that follows a future: entered by whichever thread polls it, for the
//!   length of each poll.
//! - [`abort`]: the stack report of a strict no-allocation zone.

pub(crate) mod abort;
pub(crate) mod run;
pub(crate) mod table;
pub(crate) mod task;
