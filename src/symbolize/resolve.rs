//! Resolving return addresses to frames (function, file, line; inlined frames expanded),
//! cached per [`Symbolizer`].

use std::collections::HashMap;

use crate::capture::runtime_entry::remember_runtime_entry;
use crate::capture::unwinder::{MAX_COUNTED, left_out};
use crate::lock::SpinLock;

use super::dwarf::Executable;
use super::frame::{Frame, more_frames_not_captured, trim_path};
use super::trim::{TrimOptions, is_runtime_entry, trim_frames};

/// What every [`Symbolizer`] shares: the executable's debug info as read so far. Held
/// around every symbolization, including each call into the `backtrace` crate's symbolizer
/// (which keeps a process-wide lock of its own): `fork`'s prepare handler takes it, so no
/// allocsite thread is symbolizing when a process forks and a child can symbolize.
pub(crate) static SYMBOLIZER: SpinLock<SharedDebugInfo> = SpinLock::new(SharedDebugInfo::new());

/// The executable's debug info, read as addresses ask for it (`dwarf/`), opened at the
/// first symbolization.
pub(crate) struct SharedDebugInfo {
    executable: Option<Option<Box<Executable>>>,
}

impl SharedDebugInfo {
    const fn new() -> Self {
        SharedDebugInfo { executable: None }
    }

    /// Gives back everything read so far (it is read again when next needed), and the
    /// `backtrace` crate's parsed debug info too.
    pub(crate) fn clear(&mut self) {
        self.executable = None;
        backtrace::clear_symbol_cache();
    }

    /// The frames of `ip` as the `backtrace` crate would name them, from the executable's
    /// debug info read in part; `None` where only `backtrace` can say.
    fn frames_in_executable(
        &mut self,
        ip: usize,
        package_root: Option<&str>,
    ) -> Option<Vec<Frame>> {
        let executable = self
            .executable
            .get_or_insert_with(|| Executable::open().map(Box::new))
            .as_mut()?;
        let frames = executable.frames(ip)?;
        Some(
            frames
                .into_iter()
                .map(|frame| Frame {
                    address: ip,
                    function: frame.name.map_or_else(
                        || "???".to_owned(),
                        |name| format!("{:#}", backtrace::SymbolName::new(&name)),
                    ),
                    file: frame.file.map(|path| trim_path(&path, package_root)),
                    line: frame.line,
                    column: frame.column,
                    object: None,
                })
                .collect(),
        )
    }
}

/// Symbolizes captured stacks, caching by address (one `backtrace::resolve` per distinct
/// address).
pub(crate) struct Symbolizer {
    cache: HashMap<usize, Vec<Frame>>,
    /// Root of the profiled package, used to make its paths relative.
    package_root: Option<String>,
}

impl Symbolizer {
    pub(crate) fn new() -> Self {
        let package_root = std::env::var("CARGO_MANIFEST_DIR")
            .ok()
            .filter(|s| !s.is_empty())
            .or_else(|| {
                std::env::current_dir()
                    .ok()
                    .and_then(|d| d.to_str().map(str::to_owned))
            })
            .map(|mut s| {
                if !s.ends_with('/') {
                    s.push('/');
                }
                s
            });
        Symbolizer {
            cache: HashMap::new(),
            package_root,
        }
    }

    /// Symbolizes a captured stack (innermost first) and trims it as [`TrimOptions`] says.
    /// See the module docs for the exact rules and for what is returned when everything is
    /// trimmed. A stack the capture cut at [`MAX_FRAMES`] ends with its cut marker; its frames
    /// end with the marker frame `[… N more frames not captured]`.
    pub(crate) fn frames(&mut self, ips: &[usize], trim: TrimOptions) -> Vec<Frame> {
        let mut shared = SYMBOLIZER.lock();
        let (ips, left_out) = match ips.split_last() {
            Some((&last, rest)) => match left_out(last) {
                Some(n) => (rest, Some(n)),
                None => (ips, None),
            },
            None => (ips, None),
        };
        let mut all = Vec::with_capacity(ips.len());
        for &ip in ips {
            let resolved = self.resolve(ip, &mut shared);
            all.extend_from_slice(resolved);
            // Nothing below the runtime's entry frame survives the bottom trim, so stop
            // resolving there: the frames below are libc's, and resolving them can mean
            // inflating libc's separate debug file (measured: ~90 ms and ~40 MiB per report).
            if trim.bottom
                && resolved
                    .iter()
                    .any(|frame| is_runtime_entry(&frame.function))
            {
                remember_runtime_entry(ip);
                break;
            }
        }
        let mut frames = trim_frames(all, trim);
        if let Some(n) = left_out {
            frames.push(Frame::marker(&more_frames_not_captured(
                n,
                n >= MAX_COUNTED,
            )));
        }
        frames
    }

    /// The frames of one address, resolved once.
    fn resolve(&mut self, ip: usize, shared: &mut SharedDebugInfo) -> &[Frame] {
        let root = self.package_root.as_deref();
        self.cache.entry(ip).or_insert_with(|| {
            if let Some(frames) = shared.frames_in_executable(ip, root) {
                return frames;
            }
            let mut frames = Vec::new();
            // `resolve` subtracts one from the address itself (see the module docs).
            backtrace::resolve(ip as *mut core::ffi::c_void, |sym| {
                let function = sym
                    .name()
                    .map(|n| format!("{n:#}"))
                    .unwrap_or_else(|| "???".to_owned());
                let file = sym
                    .filename()
                    .and_then(|p| p.to_str())
                    .map(|p| trim_path(p, root));
                frames.push(Frame {
                    address: ip,
                    function,
                    file,
                    line: sym.lineno(),
                    column: sym.colno(),
                    object: None,
                });
            });
            if frames.is_empty() {
                frames.push(Frame {
                    address: ip,
                    function: "???".to_owned(),
                    file: None,
                    line: None,
                    column: None,
                    object: None,
                });
            }
            frames
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::capture::capture;
    use crate::capture::unwinder::{MAX_FRAMES, Unwinder};
    use core::hint::black_box;

    fn functions(frames: &[Frame]) -> Vec<&str> {
        frames.iter().map(|f| f.function.as_str()).collect()
    }

    /// Returns the captured stack and the line of the `capture` call.
    #[inline(never)]
    fn known_call_site(out: &mut [usize; MAX_FRAMES]) -> (usize, u32) {
        // The capture call is on the line after this one (rustfmt keeps it there).
        let line = line!() + 1;
        let n = black_box(capture(Unwinder::UnwindTables, out));
        (n, line)
    }

    #[test]
    fn resolves_file_and_line_of_the_call() {
        let mut out = [0; MAX_FRAMES];
        let (n, line) = known_call_site(&mut out);
        let untrimmed = TrimOptions {
            top: false,
            bottom: false,
        };
        let frames = Symbolizer::new().frames(&out[..n], untrimmed);
        let site = frames
            .iter()
            .find(|f| f.function.ends_with("known_call_site"))
            .unwrap_or_else(|| panic!("{frames:#?}"));
        assert_eq!(site.line, Some(line), "{site:?}");
        let file = site.file.as_deref().unwrap();
        assert!(file.ends_with("src/symbolize/resolve.rs"), "{file}");
        assert!(!file.starts_with('/'), "{file}");
        assert!(site.address >= out[0].min(site.address));
        assert!(
            out[..n].contains(&site.address),
            "address is the return address"
        );
    }

    #[test]
    fn default_trim_keeps_the_test_and_drops_capture_and_runtime() {
        let mut out = [0; MAX_FRAMES];
        let (n, _) = known_call_site(&mut out);
        let frames = Symbolizer::new().frames(&out[..n], TrimOptions::default());
        let names = functions(&frames);
        assert!(names[0].ends_with("known_call_site"), "{names:#?}");
        assert!(
            names[1].ends_with("default_trim_keeps_the_test_and_drops_capture_and_runtime"),
            "{names:#?}"
        );
        for f in &names {
            assert!(
                !f.contains("__rust_begin_short_backtrace")
                    && !f.starts_with("std::thread")
                    && !f.ends_with("::capture")
                    && !f.contains("backtrace::"),
                "{names:#?}"
            );
        }
    }
}
