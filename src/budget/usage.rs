//! The vocabulary of budgets: what a measured scope did ([`Usage`]), its call sites
//! ([`CallSite`]), and how a scope is delimited ([`ScopeKind`]).

use std::fmt;

use crate::symbolize::classify::FrameClass;

/// What a measured closure did. Counts are exact.
///
/// Its `Debug` output shows the figures and the call sites ([`Usage::call_sites`], resolved
/// to source lines), not the raw stacks.
#[derive(Clone, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct Usage {
    /// Allocations (`alloc` and `alloc_zeroed`) made in the scope.
    pub allocations: u64,
    /// Reallocations made in the scope.
    pub reallocations: u64,
    /// Frees made in the scope (of any block, wherever it was allocated).
    pub deallocations: u64,
    /// Bytes allocated, including reallocations' new sizes.
    pub bytes_allocated: u64,
    /// Bytes freed, including reallocations' old sizes.
    pub bytes_freed: u64,
    /// Highest allocated-minus-freed bytes reached during the scope, relative to its start.
    pub peak_live_bytes: u64,
    /// Blocks allocated in the scope and still live at its end.
    pub leaked_blocks: u64,
    /// Bytes of those blocks.
    pub leaked_bytes: u64,
    /// How long the scope ran, by the wall clock: from its start to its end (a measured
    /// future's, from its first poll to its completion). Not a budget figure: baselines
    /// leave it out; a budget's profile shows it as its run time.
    pub duration: std::time::Duration,
    /// Captured stacks of the scope's call sites (resolved by [`Usage::call_sites`]).
    pub(crate) stacks: Box<[SiteStack]>,
}

/// One raw call site of a scope: its return addresses and what it allocated.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub(crate) struct SiteStack {
    pub(crate) addresses: Vec<usize>,
    pub(crate) allocations: u64,
    pub(crate) bytes: u64,
}

/// A scope's stack, symbolized: DHAT frame strings, innermost first, trimmed (allocsite's
/// frames and the allocator's on top, the scope and everything below it at the bottom).
#[cfg(feature = "report")]
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub(crate) struct ResolvedStack {
    pub(crate) frames: Vec<String>,
    pub(crate) allocations: u64,
    pub(crate) bytes: u64,
}

/// A call site of a measured scope: the first frame of the user's own code in the stacks
/// of its allocations, with the call it made there (stacks through the same line are one
/// call site, whatever their return addresses).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct CallSite {
    /// The call site's function: the first frame of the user's code; if no frame is the
    /// user's, the first frame of a dependency (then `class` says which), else the first
    /// frame outside std, allocsite and the C runtime, else the innermost frame.
    pub function: String,
    /// Its source file, as the debug info names it (e.g. `tests/budgets.rs`).
    pub file: Option<String>,
    /// Its line.
    pub line: Option<u32>,
    /// The function it called that led to the allocations (the frame just inside it; of
    /// the stack with the most bytes when several calls on the line allocated), e.g.
    /// `serde_json::de::from_str`. `None` when the call site allocated itself.
    pub callee: Option<String>,
    /// Where the call site's code lives: [`FrameClass::User`] unless no frame was the user's.
    pub class: FrameClass,
    /// Allocations and reallocations made at this site.
    pub allocations: u64,
    /// Bytes they requested.
    pub bytes: u64,
    /// The trimmed stack in DHAT's frame format, innermost first (of the stack with the
    /// most bytes, when several met at this site).
    pub stack: Vec<String>,
}

/// `file:line  callee ← function  (n allocations, n bytes)`, as failure messages list it.
impl fmt::Display for CallSite {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{}  {}  ({} allocations, {} bytes)",
            self.location(),
            self.describe(),
            self.allocations,
            self.bytes
        )
    }
}

impl CallSite {
    /// `file:line` (or the function name when there is no line information).
    pub fn location(&self) -> String {
        match (&self.file, self.line) {
            (Some(file), Some(line)) => format!("{file}:{line}"),
            (Some(file), None) => file.clone(),
            _ => self.function.clone(),
        }
    }

    /// `callee ← function`, labelled when the call site is not the user's code:
    /// `serde_json::de::from_str ← app::parse`,
    /// `[in serde_json 1.0.154] alloc::vec::Vec<T>::push ← serde_json::de::…`.
    pub fn describe(&self) -> String {
        let mut text = String::new();
        if self.class != FrameClass::User
            && let Some(label) = self.class.stand_in_label()
        {
            text.push_str(&label);
            text.push(' ');
        }
        if let Some(callee) = &self.callee {
            text.push_str(callee);
            text.push_str(" ← ");
        }
        text.push_str(&self.function);
        text
    }
}

impl fmt::Debug for Usage {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        /// A call site shown as its one line (not as a struct with a whole stack).
        struct Line(CallSite);
        impl fmt::Debug for Line {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                fmt::Display::fmt(&self.0, f)
            }
        }
        f.debug_struct("Usage")
            .field("allocations", &self.allocations)
            .field("reallocations", &self.reallocations)
            .field("deallocations", &self.deallocations)
            .field("bytes_allocated", &self.bytes_allocated)
            .field("bytes_freed", &self.bytes_freed)
            .field("peak_live_bytes", &self.peak_live_bytes)
            .field("leaked_blocks", &self.leaked_blocks)
            .field("leaked_bytes", &self.leaked_bytes)
            .field("duration", &self.duration)
            .field(
                "call_sites",
                &self.call_sites().into_iter().map(Line).collect::<Vec<_>>(),
            )
            .finish()
    }
}

impl Usage {
    /// One line with every figure, for failure messages.
    pub(crate) fn describe(&self) -> String {
        format!(
            "{} allocations, {} reallocations, {} deallocations, {} bytes allocated, peak {} bytes, \
             {} blocks / {} bytes still live at the end",
            self.allocations,
            self.reallocations,
            self.deallocations,
            self.bytes_allocated,
            self.peak_live_bytes,
            self.leaked_blocks,
            self.leaked_bytes
        )
    }
}

/// How a scope is delimited; see [`measure`], [`measure_with_spawned_threads`], [`abort_on_alloc`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum ScopeKind {
    CurrentThread,
    SpawnedThreads,
    AbortOnAllocation,
}
