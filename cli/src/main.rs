//! `allocsite`: summarise, compare, convert and open DHAT heap profiles from a terminal.
//!
//! A thin shell over the library's reports (`allocsite::report`): every file is read and
//! checked by the library's one validator, the call sites are the library's call-site table,
//! the comparison is `report::diff`, the pages are `report::html`, the conversions
//! `report::pprof` and `report::folded`. This crate only parses the command line, names the
//! files in messages, and opens the browser (`view.rs`).
//!
//! Exit status: 0 done; 1 `diff --fail-above` exceeded; 2 a bad argument, an unreadable or
//! invalid file, an unwritable output. Every error is one line on stderr.

use std::io::Write;
use std::process::ExitCode;

mod args;
mod commands;
mod view;

use args::Command;

/// Why a command did not succeed.
#[derive(Debug)]
pub(crate) enum Failure {
    /// A bad argument, an unreadable or invalid file, an unwritable output (exit 2).
    Error(String),
    /// `diff --fail-above`: the total grew by more than allowed (exit 1).
    Exceeded(String),
}

impl From<String> for Failure {
    fn from(message: String) -> Self {
        Failure::Error(message)
    }
}

impl From<&str> for Failure {
    fn from(message: &str) -> Self {
        Failure::Error(message.to_owned())
    }
}

fn main() -> ExitCode {
    let command = match args::parse(std::env::args_os().skip(1)) {
        Ok(command) => command,
        Err(message) => return fail(&Failure::Error(message)),
    };
    let result = match command {
        Command::Help(text) => print(&text),
        Command::Version => print(&format!("allocsite {}\n", env!("CARGO_PKG_VERSION"))),
        Command::Summary { file, top } => commands::summary(&file, top),
        Command::Diff {
            before,
            after,
            metric,
            top,
            fail_above,
        } => commands::diff(&before, &after, metric, top, fail_above),
        Command::Html {
            file,
            output,
            baseline,
        } => commands::html(&file, output.as_deref(), baseline.as_deref()),
        Command::Convert {
            file,
            format,
            output,
            metric,
        } => commands::convert(&file, format, output.as_deref(), metric),
        Command::View {
            file,
            baseline,
            open,
        } => view::view(&file, baseline.as_deref(), open),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(failure) => fail(&failure),
    }
}

fn print(text: &str) -> Result<(), Failure> {
    commands::stdout_result(std::io::stdout().lock().write_all(text.as_bytes()))
}

fn fail(failure: &Failure) -> ExitCode {
    match failure {
        Failure::Error(message) => {
            eprintln!("error: {message}");
            ExitCode::from(2)
        }
        Failure::Exceeded(message) => {
            eprintln!("error: {message}");
            ExitCode::from(1)
        }
    }
}
