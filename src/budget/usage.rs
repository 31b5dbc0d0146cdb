//! The vocabulary of budgets: what a measured scope did ([`Usage`]), its call sites
//! ([`CallSite`]), and how a scope is delimited ([`ScopeKind`]).

/// What a measured closure did. Counts are exact.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
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
    /// Captured stacks of the scope's call sites (resolved by [`Usage::call_sites`]).
    pub(crate) stacks: Vec<SiteStack>,
}

/// One raw call site of a scope: its return addresses and what it allocated.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub(crate) struct SiteStack {
    pub(crate) addresses: Vec<usize>,
    pub(crate) allocations: u64,
    pub(crate) bytes: u64,
}

/// A call site of a measured scope, symbolized.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct CallSite {
    /// The first function outside std, core, alloc and allocsite (the line to look at).
    pub function: String,
    /// Its source file, as the debug info names it (e.g. `tests/budgets.rs`).
    pub file: Option<String>,
    /// Its line.
    pub line: Option<u32>,
    /// Allocations and reallocations made at this site.
    pub allocations: u64,
    /// Bytes they requested.
    pub bytes: u64,
    /// The whole trimmed stack in DHAT's frame format, innermost first.
    pub stack: Vec<String>,
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
