//! What the running-profile dumps are (opt-in: on a signal, every N seconds) and where they
//! go: [`DumpSettings`], set by the builder and the `ALLOCSITE_DUMP_*` variables, and the
//! numbered file names. The thread and the signal handler that take them are `dumper.rs`.
//!
//! A dump writes every output the profile is configured with (DHAT JSON, pprof, HTML, folded)
//! as it stands at that moment, without stopping the profile, each file beside its final
//! output with the process id and a sequence number before the extension:
//! `allocsite-profile.json` → `allocsite-profile.4242.0001.json`, `heap.pb.gz` →
//! `heap.4242.0001.pb.gz`. Files are written atomically (`report/write.rs`), so a collector
//! that picks them up never reads half a dump; nothing is ever deleted.

use std::path::{Path, PathBuf};
use std::time::Duration;

use crate::error::Error;

/// When to dump the running profile (both off by default).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub(crate) struct DumpSettings {
    /// Dump when the process receives this signal.
    pub(crate) signal: Option<DumpSignal>,
    /// Dump this often (never zero).
    pub(crate) every: Option<Duration>,
}

/// A dump signal as configured: a number from the code, or a name from
/// `ALLOCSITE_DUMP_SIGNAL` (resolved to the platform's number when the profile starts).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum DumpSignal {
    Number(i32),
    /// `USR1`, `USR2` or `HUP`, without the `SIG` prefix.
    Name(&'static str),
}

/// The signal names `ALLOCSITE_DUMP_SIGNAL` accepts (with or without `SIG`, any case).
pub(crate) const SIGNAL_NAMES: [&str; 3] = ["USR1", "USR2", "HUP"];

impl DumpSettings {
    /// True if any dump is configured.
    #[cfg_attr(not(feature = "track"), allow(dead_code))]
    pub(crate) fn is_on(&self) -> bool {
        self.signal.is_some() || self.every.is_some()
    }

    /// Applies `ALLOCSITE_DUMP_SIGNAL` and `ALLOCSITE_DUMP_INTERVAL` (an empty value, `0` or
    /// `off` turns that dump off).
    pub(crate) fn apply_environment(
        &mut self,
        read: impl Fn(&'static str) -> Option<String>,
    ) -> Result<(), Error> {
        if let Some(value) = read("ALLOCSITE_DUMP_SIGNAL") {
            self.signal = match parse_signal(&value) {
                Some(signal) => signal,
                None => {
                    return Err(Error::BadEnvironment {
                        name: "ALLOCSITE_DUMP_SIGNAL",
                        value,
                        expected: "SIGUSR1, SIGUSR2, SIGHUP or a signal number, or empty for none",
                    });
                }
            };
        }
        if let Some(value) = read("ALLOCSITE_DUMP_INTERVAL") {
            self.every = match parse_interval(&value) {
                Some(every) => every,
                None => {
                    return Err(Error::BadEnvironment {
                        name: "ALLOCSITE_DUMP_INTERVAL",
                        value,
                        expected: "a duration such as 60, 60s, 500ms, 5m or 1h, or 0 for none",
                    });
                }
            };
        }
        Ok(())
    }
}

fn is_off(text: &str) -> bool {
    matches!(text, "" | "0" | "off" | "none")
}

/// `Some(None)`: off; `None`: not understood.
fn parse_signal(text: &str) -> Option<Option<DumpSignal>> {
    let text = text.trim();
    if is_off(text) {
        return Some(None);
    }
    if let Ok(number) = text.parse::<i32>() {
        return (number > 0).then_some(Some(DumpSignal::Number(number)));
    }
    let upper = text.to_ascii_uppercase();
    let name = upper.strip_prefix("SIG").unwrap_or(&upper);
    SIGNAL_NAMES
        .iter()
        .find(|known| **known == name)
        .map(|known| Some(DumpSignal::Name(known)))
}

/// `Some(None)`: off; `None`: not understood. A number alone is seconds.
fn parse_interval(text: &str) -> Option<Option<Duration>> {
    let text = text.trim();
    if is_off(text) {
        return Some(None);
    }
    let digits = text
        .find(|c: char| !c.is_ascii_digit())
        .unwrap_or(text.len());
    let number: u64 = text[..digits].parse().ok()?;
    let interval = match text[digits..].trim() {
        "" | "s" => Duration::from_secs(number),
        "ms" => Duration::from_millis(number),
        "m" | "min" => Duration::from_secs(number.checked_mul(60)?),
        "h" => Duration::from_secs(number.checked_mul(3600)?),
        _ => return None,
    };
    Some((!interval.is_zero()).then_some(interval))
}

/// The file a dump writes for the output at `path`: the process id and the sequence number
/// (from 1, four digits or more) before the extension (`.pb.gz` and other `.gz` names keep
/// both parts: `heap.pb.gz` → `heap.4242.0001.pb.gz`).
#[cfg_attr(not(feature = "track"), allow(dead_code))]
pub(crate) fn numbered(path: &Path, pid: u32, sequence: u64) -> PathBuf {
    let name = path
        .file_name()
        .map(|name| name.to_string_lossy().into_owned())
        .unwrap_or_default();
    let last = name.rfind('.').filter(|&at| at > 0);
    let split = match last {
        Some(at) if name[at..].eq_ignore_ascii_case(".gz") => {
            name[..at].rfind('.').filter(|&inner| inner > 0).or(last)
        }
        _ => last,
    };
    let (stem, extension) = match split {
        Some(at) => name.split_at(at),
        None => (name.as_str(), ""),
    };
    path.with_file_name(format!("{stem}.{pid}.{sequence:04}{extension}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dump_files_are_numbered_before_the_extension() {
        let cases = [
            ("allocsite-profile.json", "allocsite-profile.42.0001.json"),
            ("/tmp/x/heap.pb.gz", "/tmp/x/heap.42.0001.pb.gz"),
            ("out/trace.folded", "out/trace.42.0001.folded"),
            ("profile", "profile.42.0001"),
            (".hidden", ".hidden.42.0001"),
            ("a.GZ", "a.42.0001.GZ"),
        ];
        for (path, expected) in cases {
            assert_eq!(numbered(Path::new(path), 42, 1), Path::new(expected));
        }
        assert_eq!(
            numbered(Path::new("p.json"), 7, 12345),
            Path::new("p.7.12345.json")
        );
    }

    #[test]
    fn environment_values() {
        let settings = |signal: &str, interval: &str| {
            let mut settings = DumpSettings::default();
            let (signal, interval) = (signal.to_owned(), interval.to_owned());
            settings
                .apply_environment(|name| match name {
                    "ALLOCSITE_DUMP_SIGNAL" => Some(signal.clone()),
                    "ALLOCSITE_DUMP_INTERVAL" => Some(interval.clone()),
                    _ => None,
                })
                .map(|()| settings)
        };
        let on = settings("SIGUSR1", "250ms").unwrap();
        assert_eq!(on.signal, Some(DumpSignal::Name("USR1")));
        assert_eq!(on.every, Some(Duration::from_millis(250)));
        assert!(on.is_on());
        for (text, expected) in [("usr2", "USR2"), ("HUP", "HUP"), (" sighup ", "HUP")] {
            assert_eq!(
                settings(text, "").unwrap().signal,
                Some(DumpSignal::Name(expected))
            );
        }
        assert_eq!(
            settings("34", "").unwrap().signal,
            Some(DumpSignal::Number(34))
        );
        for (text, seconds) in [("60", 60), ("60s", 60), ("5m", 300), ("1h", 3600)] {
            assert_eq!(
                settings("", text).unwrap().every,
                Some(Duration::from_secs(seconds))
            );
        }
        let off = settings("", "0").unwrap();
        assert!(!off.is_on());
        assert!(!settings("off", "off").unwrap().is_on());

        let error = settings("SIGKILLME", "").unwrap_err();
        assert!(
            error.to_string().contains("ALLOCSITE_DUMP_SIGNAL"),
            "{error}"
        );
        for bad in ["-1", "1.5s", "10 parsecs", "s", "99999999999999999999h"] {
            let error = settings("", bad).unwrap_err();
            assert!(
                error.to_string().contains("ALLOCSITE_DUMP_INTERVAL"),
                "{bad}: {error}"
            );
        }
    }
}
