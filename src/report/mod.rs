//! Reports: DHAT-compatible JSON, folded stacks, the terminal summary, and self-contained
//! HTML (the bundled viewer with the data inside).
//!
//! - [`dhat`]: the DHAT file model, read from any tool's files and written for allocsite's;
//!   `validate.rs`: the one validator every reader uses.
//! - [`output`]: the one registry of output formats ([`OutputFormat`]: name, extension,
//!   environment variable, writer); [`write`](mod@write): the one atomic file writer.
//! - `profile.rs` (feature `track`): a finished session, symbolized — the model the DHAT
//!   file of a profile is built from; `call_sites.rs`: the call sites of any DHAT file, keyed
//!   by the first frame of the user's own code; [`folded`], [`summary`], [`html`], `pprof/`
//!   (feature `pprof`, which `track` turns on): the writers; [`diff`]: two files compared
//!   by call site.
//!
//! [`dhat`], [`html`], [`summary`], [`folded`] and [`diff`] work without the `track`
//! feature: any DHAT file can be read, validated, summarised, compared and turned into an
//! HTML report (the `allocsite` command, `cli/`, does all of that).

pub(crate) mod call_sites;
pub mod dhat;
pub mod diff;
pub mod folded;
pub mod html;
pub mod output;
#[cfg(feature = "pprof")]
pub mod pprof;
#[cfg(feature = "track")]
pub(crate) mod profile;
pub mod summary;
pub(crate) mod validate;
pub mod write;

pub use folded::FoldedMetric;
pub use output::{OutputFormat, OutputOptions};
