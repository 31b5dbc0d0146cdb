//! The profiler's engine side (feature `track`): starting a session, and at its end
//! symbolizing, writing every output atomically and printing the summary.
//!
//! Everything that allocates for the report runs [`untracked`], so the report's own
//! allocations are never counted as the program's. Values that cross back to the caller
//! (the [`ProfileReport`], error messages) are cloned outside the untracked section and the
//! untracked originals dropped inside it, so no block is allocated untracked and freed
//! tracked (which would unbalance the exact counters).

use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::Mutex;

use crate::profiler::{ProfileReport, ProfilerBuilder};
use crate::recorder;
use crate::report::profile::Profile;
use crate::report::{folded, summary};
use crate::symbolize::TrimOptions;
use crate::thread_state::untracked;
use crate::{Error, sampler, stack};

/// The running profile's configuration, and the process that started it.
struct Active {
    config: ProfilerBuilder,
    pid: u32,
    command: String,
}

static ACTIVE: Mutex<Option<Active>> = Mutex::new(None);

fn active() -> std::sync::MutexGuard<'static, Option<Active>> {
    ACTIVE.lock().unwrap_or_else(|poison| poison.into_inner())
}

pub(crate) fn start_profiling(config: ProfilerBuilder) -> Result<(), Error> {
    crate::tracking::check_installed()?;
    let mut active = active();
    if active.is_some() {
        return Err(Error::AlreadyRunning);
    }
    let command = std::env::args().collect::<Vec<_>>().join(" ");
    // Decide the unwinder now (it may allocate), not inside the first sampled allocation,
    // and learn where this thread's stack enters user code (captures stop there).
    stack::set_stop_at_runtime_entry(config.trim_bottom);
    untracked(stack::learn_runtime_entry);
    let session = untracked(|| recorder::lock().start_session(config.sample_bytes));
    sampler::begin_session(session, config.sample_bytes, config.seed);
    register_exit_hook();
    *active = Some(Active {
        config,
        pid: std::process::id(),
        command,
    });
    Ok(())
}

pub(crate) fn finish_profiling() -> Result<ProfileReport, Error> {
    let Some(active) = active().take() else {
        return Ok(ProfileReport::default());
    };
    sampler::end_session();
    let finished = untracked(|| recorder::lock().finish_session());
    let Some(finished) = finished else {
        return Ok(ProfileReport::default());
    };
    if std::process::id() != active.pid {
        // A forked child: the report belongs to the parent.
        untracked(|| drop(finished));
        return Ok(ProfileReport::default());
    }
    let config = &active.config;
    let mut targets: Vec<(PathBuf, Output)> = Vec::new();
    if let Some(path) = &config.json_path {
        targets.push((path.clone(), Output::Dhat));
    }
    if let Some(path) = &config.html_path {
        targets.push((path.clone(), Output::Html));
    }
    if let Some((path, metric)) = &config.folded {
        targets.push((path.clone(), Output::Folded(*metric)));
    }
    let trim = TrimOptions {
        top: config.trim_top,
        bottom: config.trim_bottom,
    };
    let outcome = untracked(|| {
        let profile = Profile::build(finished, trim, active.command.clone(), active.pid);
        let mut failure = None;
        let mut written = Vec::new();
        for (index, (path, output)) in targets.iter().enumerate() {
            match write_atomically(path, |out| output.write(&profile, out)) {
                Ok(()) => written.push(index),
                Err(reason) => {
                    eprintln!("allocsite: could not write {}: {reason}", path.display());
                    failure.get_or_insert((index, reason.to_string()));
                }
            }
        }
        if config.summary {
            let names: Vec<String> = written
                .iter()
                .map(|&i| targets[i].0.display().to_string())
                .collect();
            let _ = summary::write(
                &profile,
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

enum Output {
    Dhat,
    Html,
    Folded(crate::report::FoldedMetric),
}

impl Output {
    fn write(&self, profile: &Profile, out: &mut dyn Write) -> std::io::Result<()> {
        match self {
            Output::Dhat => {
                serde_json::to_writer(&mut *out, &profile.to_dhat())?;
                out.write_all(b"\n")
            }
            Output::Html => {
                let json = serde_json::to_string(&profile.to_dhat())?;
                crate::report::html::write_html_report(&json, out)
            }
            Output::Folded(metric) => {
                folded::write(profile, *metric, &mut std::io::BufWriter::new(out))
            }
        }
    }
}

/// Writes `path` through a temporary file beside it and renames it into place, so a reader
/// never sees half a report and a failed write leaves any earlier report intact.
fn write_atomically(
    path: &Path,
    write: impl FnOnce(&mut dyn Write) -> std::io::Result<()>,
) -> std::io::Result<()> {
    let mut temporary = path.as_os_str().to_owned();
    temporary.push(format!(".tmp-{}", std::process::id()));
    let temporary = PathBuf::from(temporary);
    let result = (|| {
        let file = std::fs::File::create(&temporary)?;
        let mut out = std::io::BufWriter::new(file);
        write(&mut out)?;
        out.into_inner()
            .map_err(|error| error.into_error())?
            .sync_all()?;
        std::fs::rename(&temporary, path)
    })();
    if result.is_err() {
        let _ = std::fs::remove_file(&temporary);
    }
    result
}

/// Registers, once, a C `atexit` hook that finishes a profile still running when the
/// program exits (`std::process::exit`, or returning from `main` with the profiler in a
/// `static`). `_exit`, `abort` and fatal signals skip it.
fn register_exit_hook() {
    static REGISTERED: std::sync::Once = std::sync::Once::new();
    extern "C" fn at_exit() {
        // Unwinding out of an `extern "C"` function aborts; catch it and report instead.
        let result = std::panic::catch_unwind(|| {
            if let Err(error) = finish_profiling() {
                eprintln!("allocsite: {error}");
            }
        });
        if result.is_err() {
            eprintln!("allocsite: writing the profile at exit panicked");
        }
    }
    REGISTERED.call_once(|| {
        // SAFETY: `at_exit` is a plain `extern "C" fn()` that lives for the whole program.
        unsafe {
            libc::atexit(at_exit);
        }
    });
}
