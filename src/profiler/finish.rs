//! Writing a finished profile: symbolize its sites, write every configured output
//! atomically, print the summary, and say what was written ([`ProfileReport`]).
//!
//! Everything that allocates for the report runs untracked, so the report's own
//! allocations are never counted as the program's. Values that cross back to the caller
//! (the [`ProfileReport`], error messages) are cloned outside the untracked section and the
//! untracked originals dropped inside it, so no block is allocated untracked and freed
//! tracked (which would unbalance the exact counters).

use std::path::PathBuf;

/// What a finished profile wrote and its headline figures. An inert profiler (a build
/// without the `track` feature) finishes with an empty report: nothing written, every figure 0.
#[derive(Clone, Debug, Default, PartialEq)]
#[non_exhaustive]
pub struct ProfileReport {
    /// Files written, in the order of the formats' registry ([`crate::report::OutputFormat::all`]:
    /// DHAT JSON, HTML, folded, pprof).
    pub written: Vec<PathBuf>,
    /// Total bytes allocated (an estimate when `sampled`).
    pub total_bytes: f64,
    /// Total blocks allocated (an estimate when `sampled`).
    pub total_blocks: f64,
    /// Bytes live at the global peak.
    pub peak_bytes: f64,
    /// Bytes still live at the end.
    pub end_bytes: f64,
    /// Distinct call sites (program points) after merging.
    pub sites: usize,
    /// Allocations whose stacks were captured.
    pub samples: u64,
    /// True when the figures are sampled estimates.
    pub sampled: bool,
}

#[cfg(feature = "track")]
pub(crate) use writing::{render, write_dump, write_outputs};

#[cfg(feature = "track")]
mod writing {
    use std::path::PathBuf;

    use super::ProfileReport;
    use crate::engine::recorder::session::FinishedSession;
    use crate::engine::thread::untracked;
    use crate::error::Error;
    use crate::profiler::builder::ProfilerBuilder;
    use crate::report::output::OutputFormat;
    use crate::report::pprof::PprofOptions;
    use crate::report::profile::Profile;
    use crate::report::summary;
    use crate::report::write::write_atomically;
    use crate::symbolize::trim::TrimOptions;

    /// Writes the outputs `config` asks for from a finished session of process `pid`,
    /// started by `command`, and prints the summary. `pprof` describes the executable for
    /// the pprof output.
    pub(crate) fn write_outputs(
        finished: FinishedSession,
        config: &ProfilerBuilder,
        command: &str,
        pid: u32,
        pprof: &PprofOptions,
    ) -> Result<ProfileReport, Error> {
        let targets: Vec<(PathBuf, OutputFormat)> = config.outputs.targets();
        if targets.is_empty() && !config.summary {
            // Nothing to write or print: no need to symbolize.
            let report = unsymbolized_report(&finished);
            untracked(|| drop(finished));
            return Ok(report);
        }
        let trim = TrimOptions {
            top: config.trim_top,
            bottom: config.trim_bottom,
        };
        let outcome = untracked(|| {
            let profile = Profile::build(finished, trim, command.to_owned(), pid);
            let file = profile.to_dhat();
            let options = config.outputs.options(pprof);
            // Failures are returned, not printed: the caller says them once (`Profiler::finish`'s
            // caller, or the drop and exit hooks, which have no caller to return to).
            let mut failures: Vec<(usize, String)> = Vec::new();
            let mut written = Vec::new();
            for (index, (path, format)) in targets.iter().enumerate() {
                match write_atomically(path, |out| format.write(&file, &options, out)) {
                    Ok(()) => written.push(index),
                    Err(reason) => failures.push((index, reason.to_string())),
                }
            }
            // The first failure is the error; the others are named in its reason.
            let failure = failures.first().map(|(index, reason)| {
                let mut reason = reason.clone();
                for (other, other_reason) in &failures[1..] {
                    reason.push_str(&format!(
                        "; also not written: {}: {other_reason}",
                        targets[*other].0.display()
                    ));
                }
                (*index, reason)
            });
            if config.summary {
                let names: Vec<String> = written
                    .iter()
                    .map(|&i| targets[i].0.display().to_string())
                    .collect();
                let _ = summary::write(
                    &file,
                    config.summary_sites,
                    &names,
                    &mut std::io::stderr().lock(),
                );
            }
            let numbers = ProfileReport {
                written: Vec::new(),
                total_bytes: profile.total(|s| s.total_bytes).round(),
                total_blocks: profile.total(|s| s.total_blocks).round(),
                peak_bytes: profile.total(|s| s.peak_bytes).round(),
                end_bytes: profile.total(|s| s.live_bytes).round(),
                sites: profile.sites.len(),
                samples: profile.samples,
                sampled: profile.sampled(),
            };
            (numbers, written, failure)
        });
        // Copy out what the caller keeps, then free the untracked originals untracked.
        let (numbers, written, failure) = &outcome;
        let result = match failure {
            Some((index, reason)) => Err(Error::Write {
                path: targets[*index].0.clone(),
                reason: reason.clone(),
            }),
            None => Ok(ProfileReport {
                written: written.iter().map(|&i| targets[i].0.clone()).collect(),
                ..numbers.clone()
            }),
        };
        untracked(|| drop(outcome));
        result
    }

    /// The headline figures of a session without symbolizing it (`sites` then counts
    /// distinct captured stacks, which symbolization may merge further).
    fn unsymbolized_report(finished: &FinishedSession) -> ProfileReport {
        let total = |metric: fn(&crate::engine::recorder::session::SiteStats) -> f64| {
            finished
                .sites
                .iter()
                .map(|site| metric(&site.stats))
                .sum::<f64>()
                .round()
        };
        ProfileReport {
            written: Vec::new(),
            total_bytes: total(|s| s.total_bytes),
            total_blocks: total(|s| s.total_blocks),
            peak_bytes: total(|s| s.peak_bytes),
            end_bytes: total(|s| s.live_bytes),
            sites: finished.sites.len(),
            samples: finished.samples,
            sampled: finished.sample_bytes > 1,
        }
    }

    /// Writes a snapshot of the running session to `targets` (a dump: no summary, no
    /// messages) and returns each target's failure (`None`: written). Runs untracked, and
    /// so does the value it returns: call it where the reentrancy guard is held.
    pub(crate) fn write_dump(
        finished: FinishedSession,
        config: &ProfilerBuilder,
        command: &str,
        pid: u32,
        pprof: &PprofOptions,
        targets: &[(PathBuf, OutputFormat)],
    ) -> Vec<Option<String>> {
        let trim = TrimOptions {
            top: config.trim_top,
            bottom: config.trim_bottom,
        };
        untracked(|| {
            let file = Profile::build(finished, trim, command.to_owned(), pid).to_dhat();
            let options = config.outputs.options(pprof);
            targets
                .iter()
                .map(|(path, format)| {
                    write_atomically(path, |out| format.write(&file, &options, out))
                        .err()
                        .map(|error| error.to_string())
                })
                .collect()
        })
    }

    /// A finished (or snapshot) session as the bytes of one output format, in tracked
    /// memory for the caller.
    pub(crate) fn render(
        finished: FinishedSession,
        config: &ProfilerBuilder,
        command: &str,
        pid: u32,
        pprof: &PprofOptions,
        format: OutputFormat,
    ) -> Result<Vec<u8>, Error> {
        let trim = TrimOptions {
            top: config.trim_top,
            bottom: config.trim_bottom,
        };
        let rendered = untracked(|| {
            let profile = Profile::build(finished, trim, command.to_owned(), pid);
            let file = profile.to_dhat();
            let options = config.outputs.options(pprof);
            let mut bytes = Vec::new();
            format
                .write(&file, &options, &mut bytes)
                .map(|()| bytes)
                .map_err(|error| error.to_string())
        });
        let copy = match &rendered {
            Ok(bytes) => Ok(bytes.clone()),
            Err(reason) => Err(Error::Write {
                path: "<snapshot>".into(),
                reason: reason.clone(),
            }),
        };
        untracked(|| drop(rendered));
        copy
    }
}
