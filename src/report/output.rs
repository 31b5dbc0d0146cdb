//! The one place where the profiler's output formats are registered: which files a profile
//! writes ([`Outputs`], configured by the builder and the `ALLOCSITE_*` variables) and how
//! each format is written ([`Output::write`]).
//!
//! To add a format: a writer module in `report/`, a variant of [`Output`], a field of
//! [`Outputs`] with its environment variable in [`Outputs::apply_environment`], and a
//! builder method in `profiler/builder.rs`.

use std::path::PathBuf;

use super::folded::FoldedMetric;
use crate::error::Error;

/// One output format.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
// Without the `track` feature nothing is ever written.
#[cfg_attr(not(feature = "track"), allow(dead_code))]
pub(crate) enum Output {
    /// DHAT JSON (`dhatFileVersion` 2).
    Dhat,
    /// The self-contained HTML report.
    Html,
    /// Folded stacks carrying one metric.
    Folded(FoldedMetric),
    /// pprof (gzip-compressed `profile.proto`, Go's heap conventions).
    Pprof,
}

/// The files a profile writes.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Outputs {
    pub(crate) dhat: Option<PathBuf>,
    pub(crate) html: Option<PathBuf>,
    pub(crate) folded: Option<(PathBuf, FoldedMetric)>,
    pub(crate) pprof: Option<PathBuf>,
}

/// The file name written when no output is configured.
pub(crate) const DEFAULT_DHAT_OUTPUT: &str = "allocsite-profile.json";

impl Default for Outputs {
    fn default() -> Self {
        Outputs {
            dhat: Some(PathBuf::from(DEFAULT_DHAT_OUTPUT)),
            html: None,
            folded: None,
            pprof: None,
        }
    }
}

impl Outputs {
    /// Every file to write with its format, in the order DHAT JSON, HTML, folded, pprof.
    #[cfg_attr(not(feature = "track"), allow(dead_code))]
    pub(crate) fn targets(&self) -> Vec<(PathBuf, Output)> {
        let mut targets = Vec::new();
        if let Some(path) = &self.dhat {
            targets.push((path.clone(), Output::Dhat));
        }
        if let Some(path) = &self.html {
            targets.push((path.clone(), Output::Html));
        }
        if let Some((path, metric)) = &self.folded {
            targets.push((path.clone(), Output::Folded(*metric)));
        }
        if let Some(path) = &self.pprof {
            targets.push((path.clone(), Output::Pprof));
        }
        targets
    }

    /// Applies `ALLOCSITE_OUTPUT`, `ALLOCSITE_HTML`, `ALLOCSITE_FOLDED`,
    /// `ALLOCSITE_FOLDED_METRIC` and `ALLOCSITE_PPROF` (an empty path turns that output off).
    pub(crate) fn apply_environment(
        &mut self,
        read: impl Fn(&'static str) -> Option<String>,
    ) -> Result<(), Error> {
        if let Some(value) = read("ALLOCSITE_OUTPUT") {
            self.dhat = (!value.is_empty()).then(|| PathBuf::from(value));
        }
        if let Some(value) = read("ALLOCSITE_HTML") {
            self.html = (!value.is_empty()).then(|| PathBuf::from(value));
        }
        if let Some(value) = read("ALLOCSITE_PPROF") {
            self.pprof = (!value.is_empty()).then(|| PathBuf::from(value));
        }
        let metric = match read("ALLOCSITE_FOLDED_METRIC") {
            Some(value) => Some(
                FoldedMetric::from_name(&value).ok_or(Error::BadEnvironment {
                    name: "ALLOCSITE_FOLDED_METRIC",
                    value,
                    expected: "total-bytes, total-blocks, peak-bytes or end-bytes",
                })?,
            ),
            None => None,
        };
        if let Some(value) = read("ALLOCSITE_FOLDED") {
            let metric = metric
                .or(self.folded.as_ref().map(|(_, m)| *m))
                .unwrap_or_default();
            self.folded = (!value.is_empty()).then(|| (PathBuf::from(value), metric));
        } else if let (Some(metric), Some((_, current))) = (metric, self.folded.as_mut()) {
            *current = metric;
        }
        Ok(())
    }
}

#[cfg(feature = "track")]
impl Output {
    /// Writes a profile's DHAT file in this format (the HTML report is named after the
    /// command).
    /// Writes `file` in this format; `pprof` says what the pprof file's mapping and start
    /// time are (the live profiler knows them).
    pub(crate) fn write(
        self,
        file: &super::dhat::DhatFile,
        pprof: &super::pprof::PprofOptions,
        out: &mut dyn std::io::Write,
    ) -> std::io::Result<()> {
        match self {
            Output::Dhat => {
                serde_json::to_writer(&mut *out, file)?;
                out.write_all(b"\n")
            }
            Output::Html => {
                let json = serde_json::to_string(file)?;
                super::html::write_named_html_report(&json, file.plain_command(), out)
            }
            Output::Folded(metric) => {
                super::folded::write_folded(file, metric, &mut std::io::BufWriter::new(out))
            }
            Output::Pprof => super::pprof::write_pprof(file, pprof, out),
        }
    }
}
