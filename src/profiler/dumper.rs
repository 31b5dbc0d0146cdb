//! The dumps themselves (feature `track`): one background thread, `allocsite-dump`, that
//! takes a dump when the dump signal arrives or its interval has passed, until the profile
//! ends. What a dump writes and where is `dump.rs`; taking one is `backend/track.rs`
//! (`DumpHooks::dump`).
//!
//! - **The signal handler does almost nothing.** It sets an atomic flag and writes one byte
//!   to a non-blocking pipe, saving and restoring `errno`: both async-signal-safe. It never
//!   allocates, locks, formats or touches the profile, so a signal that interrupts the
//!   program inside `malloc`, a lock of allocsite's or anywhere else cannot deadlock or
//!   corrupt anything. The thread, blocked in `poll` on the pipe (with the interval as
//!   timeout), does the work.
//! - **The thread's allocations are not the program's.** It is created and joined with the
//!   reentrancy guard held, and holds the guard itself for its whole life
//!   (`DumpHooks::enter_thread`), so nothing it allocates is counted or recorded, and no
//!   block crosses between tracked and untracked code.
//! - **Signals are taken only if free.** The dump signal must be `SIGUSR1`, `SIGUSR2`,
//!   `SIGHUP` or (Linux) a real-time signal, and must not have a handler already: allocsite
//!   never replaces the program's own handler. When the profile ends the signal gets back the
//!   action it had before (default or ignored).
//! - **The pipe is made once and never closed**, so a handler running on another thread
//!   while a profile ends can never write into a reused descriptor.
//! - **fork**: the child has no dump thread. In the child, `stop`, and `start` of a profile
//!   the child begins, restore the signal and forget the parent's thread instead of joining
//!   it; the lock here is taken around `fork` (`lock_for_fork`).

use std::io::Write;
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, AtomicI32, Ordering::SeqCst};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use super::dump::{DumpSettings, DumpSignal};
use crate::error::Error;
use crate::lock::SpinLock;

/// What a dump did: each file it wrote or tried to, with the reason it could not (`None`:
/// written).
pub(crate) type DumpOutcome = Vec<(PathBuf, Option<String>)>;

/// What the dump thread calls, supplied by the backend.
pub(crate) struct DumpHooks {
    /// Runs first on the dump thread: holds the reentrancy guard for the thread's life.
    pub(crate) enter_thread: fn(),
    /// Takes dump number `sequence`; [`Error::NotProfiling`] if the profile has ended.
    pub(crate) dump: fn(u64) -> Result<DumpOutcome, Error>,
}

struct Running {
    thread: JoinHandle<()>,
    /// The process that started the thread (a forked child has no such thread).
    pid: u32,
    /// The dump signal and the action it had before.
    signal: Option<(i32, libc::sigaction)>,
}

static RUNNING: SpinLock<Option<Running>> = SpinLock::new(None);
/// The pipe's ends (-1: not made yet). Made once, never closed.
static READ_END: AtomicI32 = AtomicI32::new(-1);
static WRITE_END: AtomicI32 = AtomicI32::new(-1);
/// Set by the signal handler, cleared by the thread when it takes the dump.
static SIGNALLED: AtomicBool = AtomicBool::new(false);
/// Tells the thread to end.
static STOP: AtomicBool = AtomicBool::new(false);

/// The platform number of a dump signal, if allocsite may take it; the error says why not.
pub(crate) fn resolve(signal: DumpSignal) -> Result<i32, Error> {
    let number = match signal {
        DumpSignal::Number(number) => number,
        DumpSignal::Name("USR1") => libc::SIGUSR1,
        DumpSignal::Name("USR2") => libc::SIGUSR2,
        DumpSignal::Name(_) => libc::SIGHUP,
    };
    let allowed =
        [libc::SIGUSR1, libc::SIGUSR2, libc::SIGHUP].contains(&number) || is_real_time(number);
    if !allowed {
        return Err(Error::BadDumpSignal {
            signal: number,
            reason: "only SIGUSR1, SIGUSR2, SIGHUP or a real-time signal can trigger dumps",
        });
    }
    let mut current = empty_action();
    // SAFETY: reads the signal's current action into `current`; changes nothing.
    if unsafe { libc::sigaction(number, std::ptr::null(), &mut current) } != 0 {
        return Err(Error::BadDumpSignal {
            signal: number,
            reason: "the system does not know this signal",
        });
    }
    if current.sa_sigaction != libc::SIG_DFL && current.sa_sigaction != libc::SIG_IGN {
        return Err(Error::BadDumpSignal {
            signal: number,
            reason: "the program already handles it, and allocsite does not replace a handler",
        });
    }
    Ok(number)
}

#[cfg(any(target_os = "linux", target_os = "android"))]
fn is_real_time(signal: i32) -> bool {
    (libc::SIGRTMIN()..=libc::SIGRTMAX()).contains(&signal)
}

#[cfg(not(any(target_os = "linux", target_os = "android")))]
fn is_real_time(_signal: i32) -> bool {
    false
}

/// `SIGUSR1`, …, or `signal N`.
pub(crate) fn signal_name(signal: i32) -> String {
    match signal {
        libc::SIGUSR1 => "SIGUSR1".into(),
        libc::SIGUSR2 => "SIGUSR2".into(),
        libc::SIGHUP => "SIGHUP".into(),
        other => format!("signal {other}"),
    }
}

fn empty_action() -> libc::sigaction {
    // SAFETY: `sigaction` is plain data (integers, a handler address, a signal set) for which
    // all-zero bytes are a valid value: no handler, no flags, an empty mask.
    unsafe { std::mem::zeroed() }
}

/// Starts the dump thread for `settings` with the dump signal `signal` (already checked
/// with [`resolve`]). Call with the reentrancy guard held (the thread's creation allocates).
/// Returns the OS error number if the pipe or the thread could not be made (nothing is
/// left running then).
pub(crate) fn start(
    settings: &DumpSettings,
    signal: Option<i32>,
    hooks: DumpHooks,
) -> Result<(), i32> {
    let mut running = RUNNING.lock();
    if let Some(stale) = running.take_if(|running| running.pid != std::process::id()) {
        // Inherited through `fork` from a parent whose profile had dumps: that thread does
        // not exist here.
        forget_in_child(stale);
    }
    if running.is_some() {
        return Ok(());
    }
    make_pipe()?;
    STOP.store(false, SeqCst);
    SIGNALLED.store(false, SeqCst);
    let every = settings.every;
    // No std name: std's start of a named thread copies the name into a `Box<str>` on the
    // new thread before the closure runs, where no reentrancy guard is held yet, so the copy
    // would count as the program's allocation. `run` names the thread itself.
    let thread = std::thread::Builder::new()
        .spawn(move || run(signal, every, hooks))
        .map_err(|error| error.raw_os_error().unwrap_or(libc::EAGAIN))?;
    let signal = signal.map(|signal| {
        let mut action = empty_action();
        action.sa_sigaction = on_signal as extern "C" fn(libc::c_int) as libc::sighandler_t;
        action.sa_flags = libc::SA_RESTART;
        let mut previous = empty_action();
        // SAFETY: installs `on_signal`, which is async-signal-safe (see the module docs), with
        // an empty mask (zeroed), and saves the action it replaces.
        unsafe { libc::sigaction(signal, &action, &mut previous) };
        (signal, previous)
    });
    *running = Some(Running {
        thread,
        pid: std::process::id(),
        signal,
    });
    Ok(())
}

/// Makes the pipe, once: both ends non-blocking (the handler must never block; the thread
/// drains it) and closed on `exec`.
fn make_pipe() -> Result<(), i32> {
    if READ_END.load(SeqCst) >= 0 {
        return Ok(());
    }
    let last_error = || {
        std::io::Error::last_os_error()
            .raw_os_error()
            .unwrap_or(libc::EMFILE)
    };
    let mut ends = [-1; 2];
    // SAFETY: `pipe` writes two descriptors into `ends`, an array of two `c_int`.
    if unsafe { libc::pipe(ends.as_mut_ptr()) } != 0 {
        return Err(last_error());
    }
    for end in ends {
        // SAFETY: flag changes on the descriptors just made.
        let failed = unsafe {
            libc::fcntl(end, libc::F_SETFD, libc::FD_CLOEXEC) != 0
                || libc::fcntl(end, libc::F_SETFL, libc::O_NONBLOCK) != 0
        };
        if failed {
            let error = last_error();
            // SAFETY: closes the two descriptors just made, which nothing else knows.
            unsafe {
                libc::close(ends[0]);
                libc::close(ends[1]);
            }
            return Err(error);
        }
    }
    WRITE_END.store(ends[1], SeqCst);
    READ_END.store(ends[0], SeqCst);
    Ok(())
}

/// Stops the dump thread, if one runs, waiting for a dump in progress to finish, and gives
/// the dump signal back its previous action. In a forked child it only restores the signal.
/// Call with the reentrancy guard held (the thread's handle is freed here).
pub(crate) fn stop() {
    let Some(running) = RUNNING.lock().take() else {
        return;
    };
    if running.pid != std::process::id() {
        return forget_in_child(running);
    }
    restore_signal(&running);
    STOP.store(true, SeqCst);
    wake();
    let _ = running.thread.join();
    STOP.store(false, SeqCst);
    SIGNALLED.store(false, SeqCst);
}

/// Gives the dump signal back the action it had before `start`.
fn restore_signal(running: &Running) {
    if let Some((signal, previous)) = &running.signal {
        // SAFETY: restores the action `start` saved for this signal.
        unsafe { libc::sigaction(*signal, previous, std::ptr::null_mut()) };
    }
}

/// In a forked child: the parent's dump thread does not exist here (joining it would wait
/// forever); give the signal back its previous action and forget the handle.
fn forget_in_child(running: Running) {
    restore_signal(&running);
    std::mem::forget(running.thread);
}

/// For `fork`: takes the lock and keeps it.
pub(crate) fn lock_for_fork() {
    RUNNING.lock_and_hold();
}

/// Releases what [`lock_for_fork`] took.
///
/// # Safety
///
/// Only in `fork`'s parent or child handler after `lock_for_fork` on this thread.
pub(crate) unsafe fn unlock_after_fork() {
    // SAFETY: the caller's contract.
    unsafe { RUNNING.release_held() };
}

/// The signal handler: a flag and a byte in the pipe, nothing else (see the module docs).
extern "C" fn on_signal(_signal: libc::c_int) {
    SIGNALLED.store(true, SeqCst);
    wake();
}

/// Wakes the thread: one byte into the pipe. Async-signal-safe: `write` on a non-blocking
/// descriptor (a full pipe already holds a wake-up, so a failed write loses nothing), with
/// `errno` put back as it was.
fn wake() {
    let fd = WRITE_END.load(SeqCst);
    if fd < 0 {
        return;
    }
    let saved = errno::get();
    // SAFETY: writes one byte from a live local to a descriptor that is never closed.
    unsafe { libc::write(fd, [1u8].as_ptr().cast(), 1) };
    errno::set(saved);
}

mod errno {
    #[cfg(any(target_os = "linux", target_os = "android"))]
    use libc::__errno_location as location;
    #[cfg(any(target_vendor = "apple", target_os = "freebsd"))]
    use libc::__error as location;

    pub(super) fn get() -> i32 {
        #[cfg(any(
            target_os = "linux",
            target_os = "android",
            target_vendor = "apple",
            target_os = "freebsd"
        ))]
        // SAFETY: the calling thread's `errno`, always a valid pointer.
        return unsafe { *location() };
        #[allow(unreachable_code)]
        0
    }

    pub(super) fn set(_value: i32) {
        #[cfg(any(
            target_os = "linux",
            target_os = "android",
            target_vendor = "apple",
            target_os = "freebsd"
        ))]
        // SAFETY: as in `get`.
        unsafe {
            *location() = _value
        };
    }
}

/// The dump thread: wait for the signal, the interval or the end; dump; say what happened.
fn run(signal: Option<i32>, every: Option<Duration>, hooks: DumpHooks) {
    (hooks.enter_thread)();
    // The name `top -H`, `ps -L` and debuggers show (at most 15 bytes).
    #[cfg(any(target_os = "linux", target_os = "android"))]
    // SAFETY: names the calling thread with a NUL-terminated string of 14 bytes.
    unsafe {
        libc::pthread_setname_np(libc::pthread_self(), c"allocsite-dump".as_ptr());
    }
    let mut next = every.map(|every| Instant::now() + every);
    let mut sequence = 0;
    // Per output, the failure last reported (interval dumps report a failure once).
    let mut reported: Vec<Option<String>> = Vec::new();
    loop {
        wait(next);
        if STOP.load(SeqCst) {
            return;
        }
        let signalled = SIGNALLED.swap(false, SeqCst);
        let due = next.is_some_and(|at| Instant::now() >= at);
        if !signalled && !due {
            continue;
        }
        sequence += 1;
        let outcome = (hooks.dump)(sequence);
        next = every.map(|every| Instant::now() + every);
        let Ok(files) = outcome else {
            continue; // the profile is ending: nothing to dump
        };
        let trigger = match signal {
            Some(signal) if signalled => Some(signal_name(signal)),
            _ => None,
        };
        report(sequence, trigger.as_deref(), &files, &mut reported);
    }
}

/// One line per failure (for interval dumps, only when it differs from that output's last
/// failure), and after a signal one line naming the files. Written straight to the standard
/// error (not through `eprintln!`, which a test harness would capture into a buffer another
/// thread owns).
fn report(
    sequence: u64,
    signal: Option<&str>,
    files: &[(PathBuf, Option<String>)],
    reported: &mut Vec<Option<String>>,
) {
    reported.resize(reported.len().max(files.len()), None);
    let mut out = std::io::stderr().lock();
    let mut written = Vec::new();
    for (index, (path, failure)) in files.iter().enumerate() {
        match failure {
            None => {
                written.push(path.display().to_string());
                reported[index] = None;
            }
            Some(reason) => {
                if signal.is_some() || reported[index].as_ref() != Some(reason) {
                    let again = if signal.is_none() {
                        " (later dumps say so again only if the reason changes)"
                    } else {
                        ""
                    };
                    let _ = writeln!(
                        out,
                        "allocsite: dump {sequence} could not write {}: {reason}{again}",
                        path.display()
                    );
                }
                reported[index] = Some(reason.clone());
            }
        }
    }
    if let Some(signal) = signal
        && !written.is_empty()
    {
        let _ = writeln!(
            out,
            "allocsite: {signal}: dump {sequence} written: {}",
            written.join(", ")
        );
    }
}

/// Blocks until the pipe has a byte (a signal or `stop`) or `until` passes, then empties it.
fn wait(until: Option<Instant>) {
    let fd = READ_END.load(SeqCst);
    let timeout = match until {
        None => -1,
        Some(at) => {
            let left = at.saturating_duration_since(Instant::now());
            // Round up, so the thread never wakes just before the deadline and spins.
            left.as_micros().div_ceil(1000).min(i32::MAX as u128) as i32
        }
    };
    let mut poll = libc::pollfd {
        fd,
        events: libc::POLLIN,
        revents: 0,
    };
    // SAFETY: one valid `pollfd`; an interrupted `poll` (EINTR) just returns early.
    unsafe { libc::poll(&mut poll, 1, timeout) };
    let mut buffer = [0u8; 64];
    // SAFETY: reads into a live local buffer of its length; the descriptor is non-blocking.
    while unsafe { libc::read(fd, buffer.as_mut_ptr().cast(), buffer.len()) } > 0 {}
}
