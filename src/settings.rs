//! The values of `ALLOCSITE_*` environment variables: one parser per kind of value, shared
//! by the profiler (`profiler/environment.rs`) and the baselines (`budget/baseline.rs`).
//! Each rejects what it cannot read with [`Error::BadEnvironment`] naming the variable.

use crate::error::Error;

/// The values a switch accepts, for messages.
pub(crate) const SWITCH_VALUES: &str =
    "1, true or yes to turn it on; 0, false or no to turn it off";

/// A switch: `1`, `true`, `yes` or `on` (on); `0`, `false`, `no`, `off` or empty (off); any
/// case, surrounding spaces ignored.
pub(crate) fn switch(name: &'static str, value: &str) -> Result<bool, Error> {
    match value.trim().to_ascii_lowercase().as_str() {
        "1" | "true" | "yes" | "on" => Ok(true),
        "0" | "false" | "no" | "off" | "" => Ok(false),
        _ => Err(Error::BadEnvironment {
            name,
            value: value.to_owned(),
            expected: SWITCH_VALUES,
        }),
    }
}

/// A number of bytes: digits (`_` allowed between them), optionally followed by a binary
/// unit: `k`/`KiB`/`KB` (1024), `m`/`MiB`/`MB` (1024²), `g`/`GiB`/`GB` (1024³), or `b`/`B`;
/// any case, spaces allowed before the unit. `64k` is 65,536.
pub(crate) fn bytes(name: &'static str, value: &str) -> Result<u64, Error> {
    let invalid = || Error::BadEnvironment {
        name,
        value: value.to_owned(),
        expected: "a number of bytes, optionally with a unit: 64k, 64KiB, 1m, 1MiB (k = 1024)",
    };
    let text = value.trim();
    let digits_end = text
        .find(|c: char| !c.is_ascii_digit() && c != '_')
        .unwrap_or(text.len());
    let (digits, unit) = text.split_at(digits_end);
    let digits: String = digits.chars().filter(|&c| c != '_').collect();
    let number: u64 = digits.parse().map_err(|_| invalid())?;
    let multiplier: u64 = match unit.trim().to_ascii_lowercase().as_str() {
        "" | "b" => 1,
        "k" | "kb" | "kib" => 1 << 10,
        "m" | "mb" | "mib" => 1 << 20,
        "g" | "gb" | "gib" => 1 << 30,
        _ => return Err(invalid()),
    };
    number.checked_mul(multiplier).ok_or_else(invalid)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn switches_read_the_usual_spellings_and_reject_the_rest() {
        for on in ["1", "true", "TRUE", "yes", "Yes", "on", " 1 "] {
            assert_eq!(switch("X", on), Ok(true), "{on:?}");
        }
        for off in ["0", "false", "False", "no", "NO", "off", ""] {
            assert_eq!(switch("X", off), Ok(false), "{off:?}");
        }
        for bad in ["2", "y", "enable", "-1", "truee"] {
            let error = switch("ALLOCSITE_X", bad).unwrap_err();
            assert_eq!(
                error.to_string(),
                format!(
                    "environment variable ALLOCSITE_X={bad:?} is invalid: expected 1, true or yes \
                     to turn it on; 0, false or no to turn it off"
                )
            );
        }
    }

    #[test]
    fn byte_counts_take_binary_units() {
        for (text, expected) in [
            ("1", 1),
            ("65536", 65536),
            ("64k", 64 << 10),
            ("64K", 64 << 10),
            ("64KiB", 64 << 10),
            ("64 kb", 64 << 10),
            ("1m", 1 << 20),
            ("2MiB", 2 << 20),
            ("1g", 1 << 30),
            ("512b", 512),
            ("1_000", 1000),
            (" 8k ", 8 << 10),
        ] {
            assert_eq!(bytes("X", text), Ok(expected), "{text:?}");
        }
        for bad in [
            "",
            "k",
            "64q",
            "-1",
            "1.5k",
            "64 k b",
            "99999999999999999999g",
            "17179869184g",
        ] {
            let error = bytes("ALLOCSITE_X", bad).unwrap_err();
            assert!(
                error.to_string().contains("expected a number of bytes"),
                "{bad:?}: {error}"
            );
        }
    }
}
