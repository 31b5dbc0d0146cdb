//! The `ALLOCSITE_*` environment variables, which override what the code configured.

use super::builder::ProfilerBuilder;
use crate::error::Error;
use crate::settings;

impl ProfilerBuilder {
    /// Applies the `ALLOCSITE_*` environment variables.
    pub(crate) fn with_environment(mut self) -> Result<Self, Error> {
        fn read(name: &'static str) -> Option<String> {
            std::env::var(name).ok()
        }
        fn number(name: &'static str, value: String) -> Result<u64, Error> {
            value.trim().parse().map_err(|_| Error::BadEnvironment {
                name,
                value,
                expected: "a whole number",
            })
        }
        if let Some(value) = read("ALLOCSITE_SAMPLE_BYTES") {
            let bytes = settings::bytes("ALLOCSITE_SAMPLE_BYTES", &value)?;
            if bytes == 0 {
                return Err(Error::BadEnvironment {
                    name: "ALLOCSITE_SAMPLE_BYTES",
                    value,
                    expected: "a number of bytes of at least 1",
                });
            }
            self.sample_bytes = bytes;
        }
        if let Some(value) = read("ALLOCSITE_SEED") {
            self.seed = number("ALLOCSITE_SEED", value)?;
        }
        self.outputs.apply_environment(read)?;
        self.dumps.apply_environment(read)?;
        if let Some(value) = read("ALLOCSITE_SUMMARY") {
            self.summary = settings::switch("ALLOCSITE_SUMMARY", &value)?;
        }
        if let Some(value) = read("ALLOCSITE_TRIM") {
            (self.trim_top, self.trim_bottom) = match value.as_str() {
                "both" => (true, true),
                "top" => (true, false),
                "bottom" => (false, true),
                "none" => (false, false),
                _ => {
                    return Err(Error::BadEnvironment {
                        name: "ALLOCSITE_TRIM",
                        value,
                        expected: "both, top, bottom or none",
                    });
                }
            };
        }
        Ok(self)
    }
}
