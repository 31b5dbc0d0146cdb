//! Learning where the calling thread's stack enters user code by symbolizing it, so that
//! captures through the platform unwinder can stop there (see `capture::runtime_entry`):
//! the fallback for an executable without a symbol table.

use crate::capture::runtime_entry::{is_stop, known_from_symbol_table};
use crate::capture::{self, unwinder::MAX_FRAMES, unwinder::Unwinder};

use super::resolve::Symbolizer;
use super::trim::TrimOptions;

/// Captures and symbolizes the calling thread's stack once, so that its runtime entry is
/// known before the first sampled capture. Only the platform unwinder needs it, and only when
/// the executable's symbol table did not give the entry. May allocate: call it with the
/// reentrancy guard held.
pub(crate) fn learn_runtime_entry() {
    if capture::unwinder() != Unwinder::UnwindTables || known_from_symbol_table() {
        return;
    }
    let mut frames = [0usize; MAX_FRAMES];
    let depth = capture::capture(Unwinder::UnwindTables, &mut frames);
    if depth > 0 && is_stop(frames[depth - 1]) {
        return; // this thread's entry is already known
    }
    if depth == MAX_FRAMES {
        // The stack is deeper than a capture reaches (a task polled deep inside an async
        // runtime's worker): its entry cannot be learned from here, and captures made below
        // this point stop at the frame limit anyway. Symbolizing would cost a full parse of
        // the debug info at every scope opened here, for nothing.
        return;
    }
    let _ = Symbolizer::new().frames(&frames[..depth], TrimOptions::default());
    // Give the parsed debug info back now: keeping it through the workload would add its
    // megabytes to the program's peak. The report parses it again at the end.
    super::resolve::SYMBOLIZER.lock().clear();
}
