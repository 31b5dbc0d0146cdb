//! The backend of builds with the `track` feature: the backend interface (see `mod.rs`)
//! adapted to the engine. The hooks and counters pass straight through; scopes and
//! profiling sessions are translated between the public types and the engine's.

pub(crate) use crate::engine::hooks::{
    after_plain_realloc, on_alloc, on_dealloc, on_realloc, realloc_is_plain, try_dealloc_fast,
};
pub(crate) use crate::engine::stats::{check_installed, stats, thread_stats};

use std::time::{Duration, Instant};

use crate::budget::usage::{ResolvedStack, ScopeKind, SiteStack, Usage};
use crate::engine::fork::{self, ForkHooks};
use crate::engine::profiling::{self, SessionOptions};
use crate::engine::recorder::session::FinishedSession;
use crate::engine::scope::run::{ScopeOptions, ScopeSite, run};
use crate::engine::scope::table::{OnAllocation, ScopeCounts};
use crate::engine::scope::task::{self, Entered, TaskScope};
use crate::engine::thread::untracked;
use crate::error::Error;
use crate::lock::{SpinGuard, SpinLock};
use crate::profiler::builder::ProfilerBuilder;
use crate::profiler::dump::numbered;
use crate::profiler::dumper::{self, DumpHooks, DumpOutcome};
use crate::profiler::finish::{ProfileReport, render, write_dump, write_outputs};
use crate::profiler::process::pprof_options;
use crate::profiler::snapshot::SnapshotFormat;
use crate::report::output::OutputFormat;
use crate::report::pprof::PprofOptions;
use crate::symbolize::frame::Frame;
use crate::symbolize::resolve::Symbolizer;
use crate::symbolize::trim::{TrimOptions, trim_scope_root};

/// Runs `work` in a budget scope of `kind` and returns its exact [`Usage`].
pub(crate) fn run_scope<R>(kind: ScopeKind, work: impl FnOnce() -> R) -> Result<(R, Usage), Error> {
    let options = ScopeOptions {
        spanning: kind == ScopeKind::SpawnedThreads,
        on_allocation: match kind {
            ScopeKind::AbortOnAllocation => OnAllocation::Abort,
            ScopeKind::CurrentThread | ScopeKind::SpawnedThreads => OnAllocation::Record,
        },
    };
    register_fork_handlers();
    let started = Instant::now();
    let (value, mut usage) = run(options, work, usage)?;
    usage.duration = started.elapsed();
    Ok((value, usage))
}

/// The scope of a measured future (`measure_future`): opened at its first poll, entered for
/// each poll on whichever thread polls it, finished when the future completes; dropping it
/// unfinished closes it and discards its figures.
pub(crate) struct FutureScope(TaskScope, Instant);

/// Opens a future's scope inside the calling thread's current scope.
pub(crate) fn open_future_scope() -> Result<FutureScope, Error> {
    register_fork_handlers();
    let started = Instant::now();
    TaskScope::open().map(|scope| FutureScope(scope, started))
}

impl FutureScope {
    /// Enters the scope on the calling thread until the guard drops.
    #[inline(always)]
    pub(crate) fn enter(&self) -> ScopeEntered {
        task::enter(self.0.id())
    }

    /// Closes the scope (call it not entered) and returns its exact [`Usage`].
    pub(crate) fn finish(self) -> Usage {
        let FutureScope(scope, started) = self;
        let mut usage = scope.close(usage);
        usage.duration = started.elapsed();
        usage
    }
}

/// The guard of an entered scope: dropping it puts back the thread's previous scope.
pub(crate) type ScopeEntered = Entered;

/// The innermost scope open on the calling thread (0: none), to carry into other tasks.
#[inline(always)]
pub(crate) fn current_scope() -> u64 {
    task::current()
}

/// Enters scope `id` (from [`current_scope`]) on the calling thread
/// until the guard drops. While the scope is open, the thread's allocations count in it.
#[inline(always)]
pub(crate) fn enter_scope(id: u64) -> ScopeEntered {
    task::enter(id)
}

/// The public [`Usage`] of a closed scope (built outside every scope, tracked).
fn usage(counts: &ScopeCounts, sites: &[ScopeSite<'_>]) -> Usage {
    Usage {
        allocations: counts.allocations,
        reallocations: counts.reallocations,
        deallocations: counts.deallocations,
        bytes_allocated: counts.bytes_allocated,
        bytes_freed: counts.bytes_freed,
        peak_live_bytes: counts.peak_net_bytes.max(0) as u64,
        leaked_blocks: counts.live_blocks,
        leaked_bytes: counts.live_bytes,
        duration: Duration::ZERO,
        stacks: sites
            .iter()
            .map(|site| SiteStack {
                addresses: site.stack.to_vec(),
                allocations: site.usage.allocations,
                bytes: site.usage.bytes,
            })
            .collect(),
    }
}

/// Symbolizes budget scopes' stacks (untracked) and trims them to the scope (see
/// `symbolize::trim::trim_scope_root`), then copies them into tracked memory for the caller.
pub(crate) fn resolve_stacks(stacks: &[SiteStack]) -> Vec<ResolvedStack> {
    let resolved: Vec<ResolvedStack> = untracked(|| {
        let mut symbolizer = Symbolizer::new();
        stacks
            .iter()
            .map(|site| {
                let frames = symbolizer.frames(&site.addresses, TrimOptions::default());
                ResolvedStack {
                    frames: trim_scope_root(frames)
                        .iter()
                        .map(Frame::dhat_string)
                        .collect(),
                    allocations: site.allocations,
                    bytes: site.bytes,
                }
            })
            .collect()
    });
    let copy = resolved.clone();
    untracked(|| drop(resolved));
    copy
}

/// The running profile's configuration and the command that started it; `Some` exactly
/// while a session runs. Its lock serialises starting and finishing.
struct Active {
    config: ProfilerBuilder,
    command: String,
    /// Wall-clock start, in nanoseconds since the Unix epoch (pprof's `time_nanos`).
    started: Option<i64>,
}

static ACTIVE: SpinLock<Option<Active>> = SpinLock::new(None);

fn active() -> SpinGuard<'static, Option<Active>> {
    ACTIVE.lock()
}

/// Registers the `fork` handlers (once): the engine's locks, this file's `ACTIVE`, which
/// a forked child empties (the parent's profile is not the child's to write, and the child
/// may start its own), and the dump thread's lock.
fn register_fork_handlers() {
    fork::register(ForkHooks {
        prepare: || {
            ACTIVE.lock_and_hold();
            dumper::lock_for_fork();
        },
        // SAFETY: taken by `prepare` on this thread just before the fork.
        parent: || unsafe {
            dumper::unlock_after_fork();
            ACTIVE.release_held();
        },
        child: || {
            // SAFETY: as above.
            unsafe {
                dumper::unlock_after_fork();
                ACTIVE.release_held();
            }
            *ACTIVE.lock() = None;
        },
    });
}

/// Starts a profiling session configured by `config`.
pub(crate) fn start_profiling(config: ProfilerBuilder) -> Result<(), Error> {
    check_installed()?;
    register_fork_handlers();
    let dump_signal = config.dumps.signal.map(dumper::resolve).transpose()?;
    // What the dump thread needs, copied untracked (and dropped untracked by `start_dumps`).
    let dumps = untracked(|| {
        config
            .dumps
            .is_on()
            .then(|| (config.dumps.clone(), config.outputs.targets()))
    });
    let mut active = active();
    if active.is_some() {
        return Err(Error::AlreadyRunning);
    }
    let command = std::env::args().collect::<Vec<_>>().join(" ");
    profiling::start(SessionOptions {
        sample_bytes: config.sample_bytes,
        seed: config.seed,
        stop_at_runtime_entry: config.trim_bottom,
    })?;
    register_exit_hook();
    let started = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .ok()
        .and_then(|since| i64::try_from(since.as_nanos()).ok());
    *active = Some(Active {
        config,
        command,
        started,
    });
    drop(active);
    if let Some((dumps, targets)) = dumps {
        untracked(move || start_dumps(&dumps, dump_signal, &targets));
    }
    Ok(())
}

/// Starts the dump thread and says where the dumps go (or why there will be none). A
/// failure leaves the profile running without dumps. Runs untracked (the session has
/// started: nothing of ours may be counted); writes to the standard error directly, not
/// through `eprintln!`, whose capture by a test harness would grow a buffer the harness
/// frees tracked.
fn start_dumps(
    dumps: &crate::profiler::dump::DumpSettings,
    signal: Option<i32>,
    targets: &[(std::path::PathBuf, OutputFormat)],
) {
    use std::io::Write;
    let mut stderr = std::io::stderr().lock();
    let when: Vec<String> = signal
        .map(|signal| format!("on {}", dumper::signal_name(signal)))
        .into_iter()
        .chain(dumps.every.map(|every| format!("every {every:?}")))
        .collect();
    let when = when.join(" and ");
    if targets.is_empty() {
        let _ = writeln!(
            stderr,
            "allocsite: no dumps {when}: the profile writes no file (set ALLOCSITE_OUTPUT or \
             ALLOCSITE_PPROF)"
        );
        return;
    }
    let hooks = DumpHooks {
        enter_thread: enter_dump_thread,
        dump: dump_now,
    };
    let _ = match dumper::start(dumps, signal, hooks) {
        Ok(()) => {
            let pid = std::process::id();
            let files: Vec<String> = targets
                .iter()
                .map(|(path, _)| numbered(path, pid, 1).display().to_string())
                .collect();
            writeln!(
                stderr,
                "allocsite: dumping the running profile {when} (pid {pid}) to {}, numbered from 0001",
                files.join(", ")
            )
        }
        Err(errno) => writeln!(
            stderr,
            "allocsite: could not start the dump thread ({}); the profile runs without dumps",
            std::io::Error::from_raw_os_error(errno)
        ),
    };
}

/// The dump thread's first act: hold the reentrancy guard for the rest of its life, so
/// nothing it allocates (up to its thread-local destructors) is counted as the program's.
fn enter_dump_thread() {
    crate::engine::thread::with(|thread| thread.set_busy(true));
}

/// Takes dump number `sequence` (on the dump thread, untracked): every configured output,
/// numbered (`profiler/dump.rs`).
fn dump_now(sequence: u64) -> Result<DumpOutcome, Error> {
    let (finished, config, command) = take_live()?;
    let pid = std::process::id();
    let targets: Vec<(std::path::PathBuf, OutputFormat)> = config
        .outputs
        .targets()
        .into_iter()
        .map(|(path, output)| (numbered(&path, pid, sequence), output))
        .collect();
    let pprof = live_pprof_options(None);
    let failures = write_dump(finished, &config, &command, pid, &pprof, &targets);
    Ok(targets
        .into_iter()
        .map(|(path, _)| path)
        .zip(failures)
        .collect())
}

/// Ends the running session and writes its outputs; an empty report if none is running
/// (or in a forked child, whose report belongs to the parent).
pub(crate) fn finish_profiling() -> Result<ProfileReport, Error> {
    // First the dump thread (it may be waiting for `ACTIVE`), then the session.
    untracked(dumper::stop);
    let Some(active) = active().take() else {
        return Ok(ProfileReport::default());
    };
    let Some(finished) = profiling::finish() else {
        return Ok(ProfileReport::default());
    };
    let pprof = untracked(|| pprof_options(active.started));
    let report = write_outputs(
        finished,
        &active.config,
        &active.command,
        std::process::id(),
        &pprof,
    );
    untracked(|| drop(pprof));
    report
}

/// The running profile's current figures in `format`, without stopping it.
pub(crate) fn snapshot(format: SnapshotFormat) -> Result<Vec<u8>, Error> {
    let (finished, config, command) = take_live()?;
    let (output, pprof) = untracked(|| match format {
        SnapshotFormat::Dhat => (OutputFormat::Dhat, live_pprof_options(None)),
        SnapshotFormat::Pprof => (OutputFormat::Pprof, live_pprof_options(None)),
        SnapshotFormat::PprofHeap => (OutputFormat::Pprof, live_pprof_options(Some("inuse_space"))),
    });
    let bytes = render(
        finished,
        &config,
        &command,
        std::process::id(),
        &pprof,
        output,
    );
    untracked(|| drop((config, command, pprof)));
    bytes
}

/// The running session's figures so far, with copies of its configuration and command
/// (all three allocated untracked: drop them untracked). `ACTIVE` is held only to copy the
/// configuration, never while the engine's locks are taken; a profile that ends meanwhile
/// gives [`Error::NotProfiling`].
fn take_live() -> Result<(FinishedSession, ProfilerBuilder, String), Error> {
    let copied = {
        let active = active();
        active
            .as_ref()
            .map(|active| untracked(|| (active.config.clone(), active.command.clone())))
    };
    let Some((config, command)) = copied else {
        return Err(Error::NotProfiling);
    };
    match profiling::snapshot() {
        Some(finished) => Ok((finished, config, command)),
        None => {
            untracked(|| drop((config, command)));
            Err(Error::NotProfiling)
        }
    }
}

/// Sums the running profile's figures as a snapshot does and drops them without rendering;
/// false if no profile runs. For `benches/snapshot.rs`, which times the part of a snapshot
/// that takes the engine's locks.
pub(crate) fn snapshot_figures() -> bool {
    match take_live() {
        Ok(live) => {
            untracked(|| drop(live));
            true
        }
        Err(_) => false,
    }
}

/// pprof options of a live profile (call untracked): stamped with the time it was taken,
/// as Go stamps its heap profiles, without the moving `bytes` label (see
/// [`PprofOptions::block_size_label`]), opening on `default_sample_type` (`None`:
/// `alloc_space`).
fn live_pprof_options(default_sample_type: Option<&str>) -> PprofOptions {
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .ok()
        .and_then(|since| i64::try_from(since.as_nanos()).ok());
    PprofOptions {
        default_sample_type: default_sample_type.map(str::to_owned),
        block_size_label: false,
        ..pprof_options(now)
    }
}

/// Registers, once, a C `atexit` hook that finishes a profile still running when the
/// program exits (`std::process::exit`, or returning from `main` with the profiler in a
/// `static`). `_exit`, `abort` and fatal signals skip it.
fn register_exit_hook() {
    static REGISTERED: std::sync::Once = std::sync::Once::new();
    extern "C" fn at_exit() {
        // A forked child that inherited the hook has nothing to write, and must not touch a
        // lock before it knows that (its parent's threads may have held them at the fork).
        if !profiling::started_in_this_process() {
            return;
        }
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
