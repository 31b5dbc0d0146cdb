//! Learning where the calling thread's stack enters user code, so that captures through the
//! unwind tables can stop there (see `capture::is_stop`).

use crate::capture::{self, runtime_entry::is_stop, unwinder::MAX_FRAMES, unwinder::Unwinder};

use super::resolve::Symbolizer;
use super::trim::TrimOptions;

/// Captures and symbolizes the calling thread's stack once, so that its runtime entry is
/// known before the first sampled capture. Only the unwind tables need it. May allocate:
/// call it with the reentrancy guard held.
pub(crate) fn learn_runtime_entry() {
    if capture::unwinder() != Unwinder::UnwindTables {
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
    let _backtrace = super::resolve::BACKTRACE.lock();
    backtrace::clear_symbol_cache();
}
