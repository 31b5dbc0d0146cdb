//! Turns a DHAT JSON file (from allocsite, the `dhat` crate or `valgrind --tool=dhat`)
//! into a self-contained HTML report that opens from disk with no other file.
//!
//! ```text
//! cargo run --example dhat_to_html --features report -- input.json output.html [baseline.json]
//! ```
//!
//! Exit status: 0 when written; 1 when the input cannot be read or converted (one line
//! naming the file and the problem; an existing output is left as it was); 2 for wrong
//! arguments.
//!
//! With a third argument the report compares `input.json` against `baseline.json` and
//! opens on the list of allocation sites that grew, shrank, appeared or disappeared.

use std::path::PathBuf;
use std::process::ExitCode;

use allocsite::report::html::{convert_comparison, convert_file};

const USAGE: &str = "usage: dhat_to_html <input.json> <output.html> [baseline.json]\n\
    \n\
    Writes a self-contained HTML report of a DHAT profile (dhatFileVersion 2).\n\
    With baseline.json, the report compares input.json against it.";

fn main() -> ExitCode {
    let args: Vec<PathBuf> = std::env::args_os().skip(1).map(PathBuf::from).collect();
    if args
        .iter()
        .any(|a| a.as_os_str() == "-h" || a.as_os_str() == "--help")
    {
        println!("{USAGE}");
        return ExitCode::SUCCESS;
    }
    let result = match args.as_slice() {
        [input, output] => convert_file(input, output),
        [input, output, baseline] => convert_comparison(baseline, input, output),
        _ => {
            eprintln!(
                "error: expected 2 or 3 arguments, got {}\n\n{USAGE}",
                args.len()
            );
            return ExitCode::from(2);
        }
    };
    match result {
        Ok(()) => {
            println!("wrote {}", args[1].display());
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::FAILURE
        }
    }
}
