//! The vocabulary of stack capture: which unwinder, and how many frames a stack keeps.

/// Most frames kept per captured stack.
pub(crate) const MAX_FRAMES: usize = 32;

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
