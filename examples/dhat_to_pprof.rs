//! Turns a DHAT JSON file (from allocsite, the `dhat` crate or `valgrind --tool=dhat`) into
//! a gzip-compressed pprof profile for `go tool pprof`, Pyroscope, Parca and the like.
//!
//! ```text
//! cargo run --example dhat_to_pprof --features pprof -- input.json output.pb.gz
//! go tool pprof -top output.pb.gz
//! ```
//!
//! Exit status: 0 when written; 1 when the input cannot be read or converted (one line
//! naming the file and the problem; an existing output is left as it was); 2 for wrong
//! arguments.

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use allocsite::report::dhat::DhatFile;
use allocsite::report::pprof::{PprofOptions, write_pprof};
use allocsite::report::write::write_atomically;

const USAGE: &str = "usage: dhat_to_pprof <input.json> <output.pb.gz>\n\
    \n\
    Writes a DHAT profile (dhatFileVersion 2) as a gzip-compressed pprof profile.";

fn convert(input: &Path, output: &Path) -> Result<(), String> {
    let text = std::fs::read_to_string(input)
        .map_err(|e| format!("cannot read {}: {e}", input.display()))?;
    // The one validator every reader of DHAT files uses (the viewer's rules and messages).
    let file = DhatFile::from_json(&text).map_err(|e| format!("{}: {e}", input.display()))?;
    let mut out = Vec::new();
    write_pprof(&file, &PprofOptions::default(), &mut out)
        .map_err(|e| format!("{}: {e}", input.display()))?;
    // Written whole or not at all: an existing output is left as it was on failure.
    write_atomically(output, |w| w.write_all(&out))
        .map_err(|e| format!("cannot write {}: {e}", output.display()))
}

fn main() -> ExitCode {
    let args: Vec<PathBuf> = std::env::args_os().skip(1).map(PathBuf::from).collect();
    if args
        .iter()
        .any(|a| a.as_os_str() == "-h" || a.as_os_str() == "--help")
    {
        println!("{USAGE}");
        return ExitCode::SUCCESS;
    }
    let [input, output] = args.as_slice() else {
        eprintln!("error: expected 2 arguments, got {}\n\n{USAGE}", args.len());
        return ExitCode::from(2);
    };
    match convert(input, output) {
        Ok(()) => {
            println!("wrote {}", output.display());
            ExitCode::SUCCESS
        }
        Err(error) => {
            eprintln!("error: {error}");
            ExitCode::FAILURE
        }
    }
}
