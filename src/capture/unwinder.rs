//! The vocabulary of stack capture: which unwinder, and how many frames a stack keeps.

/// Most words per captured stack: return addresses, and the cut marker of a longer stack.
/// Tokio's workers poll a task about 35 frames deep; 64 keeps such stacks whole.
pub(crate) const MAX_FRAMES: usize = 64;

/// A stack longer than [`MAX_FRAMES`] keeps its `MAX_FRAMES - 1` innermost return addresses
/// and ends with this word, tagged with how many frames were left out ([`cut_marker`]). No
/// return address has the top bit set (user space is the lower half of the address space),
/// so the word cannot be mistaken for one, and two stacks that differ only below the cut stay
/// two stacks.
const CUT: usize = 1 << (usize::BITS - 1);

/// Frames left out of a cut stack are counted up to this many ("or more" beyond): counting
/// costs a step of the walk per frame.
pub(crate) const MAX_COUNTED: usize = 512;

/// The word that ends a stack cut with `left_out` more frames (counted up to [`MAX_COUNTED`]).
#[inline(always)]
pub(crate) fn cut_marker(left_out: usize) -> usize {
    CUT | left_out.min(MAX_COUNTED)
}

/// How many frames a cut stack left out, if `word` is its cut marker (`MAX_COUNTED`: that
/// many or more).
pub(crate) fn left_out(word: usize) -> Option<usize> {
    (word & CUT != 0).then_some(word & !CUT)
}

/// How stacks are captured.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Unwinder {
    /// Walk the frame-pointer chain: a few nanoseconds per frame, needs frame pointers
    /// (`-C force-frame-pointers=yes` on x86_64).
    FramePointers,
    /// Follow the unwind tables (`.eh_frame`) with each address's rule cached: a few
    /// nanoseconds per frame once the rules are cached, no frame pointers needed (x86_64
    /// Linux with glibc).
    CachedUnwindTables,
    /// Use the platform's unwind tables through the `backtrace` crate: always correct, costs
    /// microseconds per stack.
    UnwindTables,
}

impl Unwinder {
    /// A short stable name, for reports and logs: `"frame-pointers"`,
    /// `"cached-unwind-tables"` or `"unwind-tables"`.
    pub fn name(self) -> &'static str {
        match self {
            Unwinder::FramePointers => "frame-pointers",
            Unwinder::CachedUnwindTables => "cached-unwind-tables",
            Unwinder::UnwindTables => "unwind-tables",
        }
    }
}
