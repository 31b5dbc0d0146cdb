//! Reports: DHAT-compatible JSON, folded stacks, the terminal summary, and self-contained
//! HTML (the bundled viewer with the data inside).
//!
//! - `dhat`: the DHAT file model, read from any tool's files and written for allocsite's;
//!   `validate.rs`: the one validator every reader uses.
//! - [`output`]: the one registry of output formats ([`OutputFormat`]: name, extension,
//!   environment variable, writer); [`write`](mod@write): the one atomic file writer.
//! - `profile.rs` (feature `track`): a finished session, symbolized — the model the DHAT
//!   file of a profile is built from; `call_sites.rs`: the call sites of any DHAT file, keyed
//!   by the first frame of the user's own code; `folded`, `summary`, `html`, `pprof/`
//!   (feature `pprof`, which `track` turns on): the writers; `diff`: two files compared by
//!   call site.
//!
//! Everything but [`folded::FoldedMetric`] (which configures a profile) and
//! [`write`](mod@write) needs the `report` feature, which `track` and `pprof` turn on:
//! `report` alone reads, validates, summarises, compares and turns any DHAT file into an HTML
//! report without tracking anything (the `allocsite` command, `cli/`, does all of that),
//! through `serde_json`. A build without features compiles no JSON code at all. (Module names
//! are not links here: most of them exist only with `report`.)

#[cfg(feature = "report")]
pub(crate) mod call_sites;
#[cfg(feature = "report")]
pub mod dhat;
#[cfg(feature = "report")]
pub mod diff;
pub mod folded;
#[cfg(feature = "report")]
pub mod html;
pub mod output;
#[cfg(feature = "pprof")]
pub mod pprof;
#[cfg(feature = "track")]
pub(crate) mod profile;
#[cfg(feature = "report")]
pub mod summary;
#[cfg(feature = "report")]
pub(crate) mod validate;
// The one atomic writer: reports, budget profiles and baseline files (no JSON needed).
pub mod write;

pub use folded::FoldedMetric;
pub use output::{OutputFormat, OutputOptions};
