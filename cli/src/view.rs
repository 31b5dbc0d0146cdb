//! `view`: the report written to a new private folder in the temporary directory, its path
//! printed, and the desktop's opener asked to open it.
//!
//! The folder is new for every run (created with `mkdir`, which fails on anything already
//! there, including a symbolic link, and mode 0700 on Unix), so nothing another user put in
//! a shared `/tmp` is written through, and the report is left there for the browser to read
//! after this program has exited.

use std::ffi::OsString;
use std::io::{self, Write};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use allocsite::report::html::{convert_comparison, convert_file};

use crate::Failure;
use crate::commands::stdout_result;

/// How long to wait for the opener to say whether it worked (`xdg-open` returns once the
/// browser has the file; a browser started in the foreground is left running).
const OPENER_WAIT: Duration = Duration::from_secs(3);

pub(crate) fn view(path: &Path, baseline: Option<&Path>, open: bool) -> Result<(), Failure> {
    let directory = private_directory().map_err(|e| {
        format!(
            "cannot create a folder for the report in {}: {e}",
            std::env::temp_dir().display()
        )
    })?;
    let stem = path
        .file_stem()
        .map_or_else(|| OsString::from("profile"), OsString::from);
    let mut name = stem;
    name.push(".html");
    let report = directory.join(name);
    let written = match baseline {
        Some(baseline) => convert_comparison(baseline, path, &report),
        None => convert_file(path, &report),
    };
    if let Err(error) = written {
        let _ = std::fs::remove_dir_all(&directory);
        return Err(error.to_string().into());
    }
    stdout_result(writeln!(io::stdout(), "{}", report.display()))?;
    if !open {
        return Ok(());
    }
    match opener() {
        Err(why) => eprintln!("allocsite: not opened: {why}; open the file above in a browser"),
        Ok((program, arguments)) => {
            let name = program
                .file_name()
                .unwrap_or(program.as_os_str())
                .to_owned();
            let name = name.to_string_lossy();
            match run_opener(&program, &arguments, &report) {
                Ok(Some(status)) if status.success() => {
                    eprintln!("allocsite: opened it with {name}");
                }
                Ok(Some(status)) => eprintln!(
                    "allocsite: {name} could not open it ({status}); open the file above in a browser"
                ),
                Ok(None) => eprintln!("allocsite: opening it with {name}"),
                Err(e) => {
                    eprintln!("allocsite: cannot run {name}: {e}; open the file above in a browser")
                }
            }
        }
    }
    Ok(())
}

/// A new folder `allocsite-view-<pid>-<n>` in the temporary directory, readable only by
/// the user, as an absolute path.
fn private_directory() -> io::Result<PathBuf> {
    let base = std::path::absolute(std::env::temp_dir())?;
    let salt = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |time| time.subsec_nanos());
    let mut builder = std::fs::DirBuilder::new();
    #[cfg(unix)]
    std::os::unix::fs::DirBuilderExt::mode(&mut builder, 0o700);
    for attempt in 0..100u32 {
        let directory = base.join(format!(
            "allocsite-view-{}-{salt:x}{attempt}",
            std::process::id()
        ));
        match builder.create(&directory) {
            Ok(()) => return Ok(directory),
            Err(e) if e.kind() == io::ErrorKind::AlreadyExists => continue,
            Err(e) => return Err(e),
        }
    }
    Err(io::Error::new(
        io::ErrorKind::AlreadyExists,
        "100 folder names were all taken",
    ))
}

/// The desktop's opener and the arguments before the file, or why there is none.
fn opener() -> Result<(PathBuf, Vec<&'static str>), String> {
    if cfg!(target_os = "macos") {
        find_program("open")
            .map(|program| (program, vec![]))
            .ok_or_else(|| "`open` is not on PATH".to_owned())
    } else if cfg!(windows) {
        // `start` is built into cmd; its first quoted argument is the window title.
        Ok((PathBuf::from("cmd"), vec!["/C", "start", ""]))
    } else {
        let desktop = ["DISPLAY", "WAYLAND_DISPLAY"]
            .iter()
            .any(|name| std::env::var_os(name).is_some_and(|value| !value.is_empty()));
        if !desktop {
            return Err("no desktop session (DISPLAY and WAYLAND_DISPLAY are not set)".into());
        }
        find_program("xdg-open")
            .map(|program| (program, vec![]))
            .ok_or_else(|| "xdg-open is not installed (Debian: apt install xdg-utils)".to_owned())
    }
}

/// `name` in a folder of `PATH`, if it is an executable file there.
fn find_program(name: &str) -> Option<PathBuf> {
    let path = std::env::var_os("PATH")?;
    std::env::split_paths(&path)
        .map(|folder| folder.join(name))
        .find(|candidate| is_executable(candidate))
}

#[cfg(unix)]
fn is_executable(path: &Path) -> bool {
    use std::os::unix::fs::PermissionsExt;
    std::fs::metadata(path).is_ok_and(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
}

#[cfg(not(unix))]
fn is_executable(path: &Path) -> bool {
    path.is_file()
}

/// Runs the opener on `report`, detached from the terminal; its exit status, or `None` if
/// it is still running after [`OPENER_WAIT`] (it is left to run).
fn run_opener(
    program: &Path,
    arguments: &[&str],
    report: &Path,
) -> io::Result<Option<std::process::ExitStatus>> {
    let mut child = Command::new(program)
        .args(arguments)
        .arg(report)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()?;
    let started = Instant::now();
    loop {
        if let Some(status) = child.try_wait()? {
            return Ok(Some(status));
        }
        if started.elapsed() >= OPENER_WAIT {
            return Ok(None);
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}
