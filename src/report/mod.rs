//! Reports: DHAT-compatible JSON, folded stacks, the terminal summary, and self-contained
//! HTML (the bundled viewer with the data inside).
//!
//! [`dhat`] and [`html`] work without the `track` feature: any DHAT file can be read,
//! validated and turned into an HTML report.

pub mod dhat;
pub mod folded;
pub mod html;
#[cfg(feature = "pprof")]
pub mod pprof;
#[cfg(feature = "track")]
pub(crate) mod profile;
#[cfg(feature = "track")]
pub(crate) mod summary;

pub use folded::FoldedMetric;
