//! Budget scopes: the bookkeeping behind [`crate::measure`] and no-allocation zones.
//!
//! A scope belongs to the thread that opened it: that thread's state
//! ([`ThreadState::scope`](super::thread::ThreadState::scope)) holds the innermost open scope's id, and every allocation and free
//! the thread makes while it is non-zero takes the recording path. A *thread-spanning*
//! scope is also adopted by every thread that makes its first allocation while the scope is
//! open (threads the closure spawns); only one of those can be open at a time in the
//! process, which the budget module enforces with a lock.
//!
//! Nesting: when an inner scope closes, its figures are merged into its parent and its id is
//! forwarded to the parent, so a block the inner scope allocated and the outer scope frees
//! is still matched. Forwarding entries are dropped when the outermost scope closes.
//!
//! - [`table`]: the bookkeeping, inside the recorder's lock.
//! - [`run`]: opening a scope around a closure and closing it on every exit path.
//! - [`abort`]: the stack report of a strict no-allocation zone.

pub(crate) mod abort;
pub(crate) mod run;
pub(crate) mod table;
