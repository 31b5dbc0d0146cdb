//! The DHAT JSON format (`dhatFileVersion` 2), as Valgrind's DHAT and the `dhat` crate write
//! it and as Valgrind's viewer `dh_view.html` reads it.
//!
//! [`DhatFile`] is the whole file with readable field names (serde renames them to DHAT's
//! short ones). It reads files from any of those tools ([`DhatFile::from_json`]) as well as
//! writing allocsite's. Every file read is checked by the one validator
//! (`report/validate.rs`), which follows Valgrind's viewer; [`DhatFile::validate`] applies
//! the same rules to a file being written.

use std::collections::HashMap;
use std::fmt;

use serde::{Deserialize, Serialize};

/// A DHAT file.
///
/// ```
/// let text = r#"{"dhatFileVersion":2,"mode":"rust-heap","verb":"Allocated","bklt":true,
///   "bkacc":false,"tu":"µs","Mtu":"s","tuth":10,"cmd":"demo","pid":1,"tg":5,"te":10,
///   "pps":[{"tb":64,"tbk":1,"tl":5,"mb":64,"mbk":1,"gb":64,"gbk":1,"eb":0,"ebk":0,"fs":[1]}],
///   "ftbl":["[root]","0x1: demo::main (src/main.rs:3:5)"]}"#;
/// let file = allocsite::report::dhat::DhatFile::from_json(text).unwrap();
/// file.validate().unwrap();
/// assert_eq!(file.total_bytes(), 64.0);
/// ```
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct DhatFile {
    /// Always 2.
    #[serde(rename = "dhatFileVersion", deserialize_with = "lenient::count")]
    pub version: u32,
    /// `"rust-heap"` for allocsite and the dhat crate; Valgrind writes `"heap"`, `"copy"`, `"ad-hoc"`.
    pub mode: String,
    /// Shown by the viewer as "`<verb>` at {".
    pub verb: String,
    /// Are block lifetimes recorded (`tl`, `mb`, `gb`, `eb`… present)?
    #[serde(rename = "bklt")]
    pub block_lifetimes: bool,
    /// Are block accesses recorded (`rb`, `wb`; Valgrind only)?
    #[serde(rename = "bkacc")]
    pub block_accesses: bool,
    /// Unit labels: one byte, bytes, blocks (defaults "byte", "bytes", "blocks").
    #[serde(rename = "bu", default, skip_serializing_if = "Option::is_none")]
    pub byte_unit: Option<String>,
    /// Label for bytes.
    #[serde(rename = "bsu", default, skip_serializing_if = "Option::is_none")]
    pub bytes_unit: Option<String>,
    /// Label for blocks.
    #[serde(rename = "bksu", default, skip_serializing_if = "Option::is_none")]
    pub blocks_unit: Option<String>,
    /// Time unit (`"µs"` for Rust programs, `"instrs"` for Valgrind).
    #[serde(rename = "tu")]
    pub time_unit: String,
    /// The unit for a million time units (`"s"`).
    #[serde(rename = "Mtu")]
    pub million_time_unit: String,
    /// Average lifetime below which blocks count as short-lived, in `time_unit`.
    #[serde(
        rename = "tuth",
        default,
        skip_serializing_if = "Option::is_none",
        deserialize_with = "lenient::optional_count"
    )]
    pub short_lived_threshold: Option<u64>,
    /// The command line.
    #[serde(rename = "cmd")]
    pub command: String,
    /// Process id.
    #[serde(deserialize_with = "lenient::count")]
    pub pid: u64,
    /// Time at the end (t-end).
    #[serde(rename = "te", deserialize_with = "lenient::count")]
    pub end_time: u64,
    /// Time of the global peak (t-gmax).
    #[serde(
        rename = "tg",
        default,
        skip_serializing_if = "Option::is_none",
        deserialize_with = "lenient::optional_count"
    )]
    pub peak_time: Option<u64>,
    /// Program points: one per distinct allocation stack.
    #[serde(rename = "pps")]
    pub program_points: Vec<ProgramPoint>,
    /// Frame table; `frames[0]` is `"[root]"`.
    #[serde(rename = "ftbl")]
    pub frames: Vec<String>,
    /// allocsite's own metadata (ignored by other viewers).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub allocsite: Option<Extension>,
}

/// One program point. Figures are numbers (sampled estimates are rounded to integers when
/// allocsite writes them; other tools' floats are read as they are).
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct ProgramPoint {
    /// Total bytes.
    #[serde(rename = "tb", serialize_with = "whole::number")]
    pub total_bytes: f64,
    /// Total blocks.
    #[serde(rename = "tbk", serialize_with = "whole::number")]
    pub total_blocks: f64,
    /// Sum of block lifetimes.
    #[serde(
        rename = "tl",
        default,
        skip_serializing_if = "Option::is_none",
        serialize_with = "whole::optional"
    )]
    pub total_lifetime: Option<f64>,
    /// Maximum live bytes of this point.
    #[serde(
        rename = "mb",
        default,
        skip_serializing_if = "Option::is_none",
        serialize_with = "whole::optional"
    )]
    pub max_bytes: Option<f64>,
    /// Live blocks at that maximum.
    #[serde(
        rename = "mbk",
        default,
        skip_serializing_if = "Option::is_none",
        serialize_with = "whole::optional"
    )]
    pub max_blocks: Option<f64>,
    /// Bytes live at the global peak.
    #[serde(
        rename = "gb",
        default,
        skip_serializing_if = "Option::is_none",
        serialize_with = "whole::optional"
    )]
    pub peak_bytes: Option<f64>,
    /// Blocks live at the global peak.
    #[serde(
        rename = "gbk",
        default,
        skip_serializing_if = "Option::is_none",
        serialize_with = "whole::optional"
    )]
    pub peak_blocks: Option<f64>,
    /// Bytes live at the end.
    #[serde(
        rename = "eb",
        default,
        skip_serializing_if = "Option::is_none",
        serialize_with = "whole::optional"
    )]
    pub end_bytes: Option<f64>,
    /// Blocks live at the end.
    #[serde(
        rename = "ebk",
        default,
        skip_serializing_if = "Option::is_none",
        serialize_with = "whole::optional"
    )]
    pub end_blocks: Option<f64>,
    /// Bytes read (Valgrind only).
    #[serde(
        rename = "rb",
        default,
        skip_serializing_if = "Option::is_none",
        serialize_with = "whole::optional"
    )]
    pub bytes_read: Option<f64>,
    /// Bytes written (Valgrind only).
    #[serde(
        rename = "wb",
        default,
        skip_serializing_if = "Option::is_none",
        serialize_with = "whole::optional"
    )]
    pub bytes_written: Option<f64>,
    /// Frame indices into the frame table, innermost (the allocation) first.
    #[serde(rename = "fs", deserialize_with = "lenient::counts")]
    pub frames: Vec<usize>,
}

/// allocsite's metadata block, stored under the top-level key `"allocsite"`. Every field
/// is optional when reading (files from other versions may lack some).
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct Extension {
    /// Version of allocsite that wrote the file.
    pub version: String,
    /// Mean bytes between samples (1: every allocation recorded).
    #[serde(deserialize_with = "lenient::count")]
    pub sample_bytes: u64,
    /// True if the program-point figures are estimates from sampling.
    pub sampled: bool,
    /// Allocations whose stack was captured.
    #[serde(deserialize_with = "lenient::count")]
    pub samples: u64,
    /// How stacks were captured (`"frame-pointers"`, `"cached-unwind-tables"` or
    /// `"unwind-tables"`).
    pub unwinder: String,
    /// Distinct captured stacks that became the same program point after trimming.
    #[serde(deserialize_with = "lenient::count")]
    pub merged_sites: u64,
}

/// Why a DHAT file is not something the viewers can show.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct InvalidDhatFile(pub String);

impl fmt::Display for InvalidDhatFile {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "invalid DHAT file: {}", self.0)
    }
}

impl std::error::Error for InvalidDhatFile {}

impl DhatFile {
    /// An empty heap-mode file as allocsite (and the `dhat` crate) writes it: mode
    /// `rust-heap`, times in µs, frame 0 `[root]`. Lifetime fields are recorded (`bklt`)
    /// when `peak_time` is given.
    pub fn rust_heap(command: String, pid: u64, end_time: u64, peak_time: Option<u64>) -> DhatFile {
        DhatFile {
            version: 2,
            mode: "rust-heap".into(),
            verb: "Allocated".into(),
            block_lifetimes: peak_time.is_some(),
            block_accesses: false,
            byte_unit: None,
            bytes_unit: None,
            blocks_unit: None,
            time_unit: "µs".into(),
            million_time_unit: "s".into(),
            short_lived_threshold: peak_time.map(|_| 10),
            command,
            pid,
            end_time: end_time.max(1),
            peak_time,
            program_points: Vec::new(),
            frames: vec!["[root]".into()],
            allocsite: None,
        }
    }

    /// Reads a DHAT file from JSON text, checking it with the same rules as every other
    /// reader (see the module docs).
    ///
    /// # Errors
    ///
    /// [`InvalidDhatFile`] naming the first broken rule: not JSON (with line and column),
    /// a missing or mistyped field, a repeated frame list, a frame index outside the table.
    pub fn from_json(text: &str) -> Result<DhatFile, InvalidDhatFile> {
        let value = super::validate::validate_text(text).map_err(InvalidDhatFile)?;
        serde_json::from_value(value).map_err(|error| InvalidDhatFile(error.to_string()))
    }

    /// Checks this file against the rules Valgrind's viewer enforces (and the ones it
    /// silently gets wrong), the same rules [`DhatFile::from_json`] applies.
    ///
    /// # Errors
    ///
    /// [`InvalidDhatFile`] naming the first broken rule.
    pub fn validate(&self) -> Result<(), InvalidDhatFile> {
        let value =
            serde_json::to_value(self).map_err(|error| InvalidDhatFile(error.to_string()))?;
        super::validate::validate_value(&value).map_err(InvalidDhatFile)
    }

    /// The command line without the note allocsite adds to sampled profiles' (which says
    /// so for the viewers that show only `cmd`).
    pub fn plain_command(&self) -> &str {
        match self.command.find(SAMPLED_NOTE_START) {
            Some(index) if self.allocsite.is_some() => &self.command[..index],
            _ => &self.command,
        }
    }

    /// Sum of the program points' total bytes.
    pub fn total_bytes(&self) -> f64 {
        self.program_points.iter().map(|p| p.total_bytes).sum()
    }

    /// Sum of the program points' total blocks.
    pub fn total_blocks(&self) -> f64 {
        self.program_points.iter().map(|p| p.total_blocks).sum()
    }
}

/// How the note allocsite appends to a sampled profile's command line starts (see
/// `sampled_command`).
const SAMPLED_NOTE_START: &str = " [allocsite: sampled";

/// The command line of a sampled profile: the command and a note saying the figures are
/// estimates, for viewers that show nothing else (undone by [`DhatFile::plain_command`]).
#[cfg(feature = "track")]
pub(crate) fn sampled_command(command: &str, sample_bytes: u64) -> String {
    format!(
        "{command}{SAMPLED_NOTE_START}, one sample per {sample_bytes} bytes on average; figures are estimates]"
    )
}

/// Builds a DHAT frame table: `[root]` first, then each distinct frame string once.
pub(crate) struct FrameTable {
    frames: Vec<String>,
    index: HashMap<String, usize>,
}

impl FrameTable {
    pub(crate) fn new() -> Self {
        FrameTable {
            frames: vec!["[root]".to_string()],
            index: HashMap::new(),
        }
    }

    /// The index of `frame`, adding it on first sight.
    pub(crate) fn index(&mut self, frame: &str) -> usize {
        if let Some(&index) = self.index.get(frame) {
            return index;
        }
        self.frames.push(frame.to_owned());
        self.index.insert(frame.to_owned(), self.frames.len() - 1);
        self.frames.len() - 1
    }

    /// The finished table, for [`DhatFile::frames`].
    pub(crate) fn into_frames(self) -> Vec<String> {
        self.frames
    }
}

/// Reads the integer fields of files the validator accepted: JSON numbers that JavaScript
/// (and so the viewers) read as numbers, floats included (`2.0`, `1e3`), taken to the nearest
/// integer the field holds (fractions dropped, saturating at the type's bounds). The validator
/// has already refused wrong types and negative values where they matter.
mod lenient {
    use serde::de::{self, Deserializer, SeqAccess, Visitor};
    use std::fmt;
    use std::marker::PhantomData;

    /// A number read into an unsigned integer type.
    struct Count<T>(PhantomData<T>);

    impl<'de, T: TryFrom<u64> + Bounded> Visitor<'de> for Count<T> {
        type Value = T;
        fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            f.write_str("a number")
        }
        fn visit_u64<E: de::Error>(self, v: u64) -> Result<T, E> {
            Ok(T::try_from(v).unwrap_or(T::MAX))
        }
        fn visit_i64<E: de::Error>(self, v: i64) -> Result<T, E> {
            self.visit_u64(v.max(0) as u64)
        }
        fn visit_f64<E: de::Error>(self, v: f64) -> Result<T, E> {
            // `as` saturates, and takes NaN to 0.
            self.visit_u64(v as u64)
        }
    }

    pub(super) trait Bounded {
        const MAX: Self;
    }
    impl Bounded for u32 {
        const MAX: Self = u32::MAX;
    }
    impl Bounded for u64 {
        const MAX: Self = u64::MAX;
    }
    impl Bounded for usize {
        const MAX: Self = usize::MAX;
    }

    pub(super) fn count<'de, D, T>(deserializer: D) -> Result<T, D::Error>
    where
        D: Deserializer<'de>,
        T: TryFrom<u64> + Bounded,
    {
        deserializer.deserialize_any(Count(PhantomData))
    }

    pub(super) fn optional_count<'de, D: Deserializer<'de>>(
        deserializer: D,
    ) -> Result<Option<u64>, D::Error> {
        count(deserializer).map(Some)
    }

    pub(super) fn counts<'de, D: Deserializer<'de>>(
        deserializer: D,
    ) -> Result<Vec<usize>, D::Error> {
        struct Counts;
        impl<'de> Visitor<'de> for Counts {
            type Value = Vec<usize>;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("an array of numbers")
            }
            fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Vec<usize>, A::Error> {
                #[derive(serde::Deserialize)]
                struct Index(#[serde(deserialize_with = "count")] usize);
                let mut out = Vec::with_capacity(seq.size_hint().unwrap_or(0));
                while let Some(Index(index)) = seq.next_element()? {
                    out.push(index);
                }
                Ok(out)
            }
        }
        deserializer.deserialize_seq(Counts)
    }
}

/// Writes whole numbers as JSON integers (`8`, not `8.0`): estimates are rounded before
/// writing, and integers display cleanly in every viewer.
mod whole {
    use serde::Serializer;

    pub(super) fn number<S: Serializer>(value: &f64, serializer: S) -> Result<S::Ok, S::Error> {
        if value.fract() == 0.0 && value.abs() < 9.0e15 {
            serializer.serialize_i64(*value as i64)
        } else {
            serializer.serialize_f64(*value)
        }
    }

    pub(super) fn optional<S: Serializer>(
        value: &Option<f64>,
        serializer: S,
    ) -> Result<S::Ok, S::Error> {
        match value {
            Some(value) => number(value, serializer),
            None => serializer.serialize_none(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn file() -> DhatFile {
        let mut file = DhatFile::rust_heap("test".into(), 1, 10, Some(5));
        file.program_points.push(ProgramPoint {
            total_bytes: 8.0,
            total_blocks: 1.0,
            total_lifetime: Some(1.0),
            max_bytes: Some(8.0),
            max_blocks: Some(1.0),
            peak_bytes: Some(8.0),
            peak_blocks: Some(1.0),
            end_bytes: Some(0.0),
            end_blocks: Some(0.0),
            frames: vec![1],
            ..ProgramPoint::default()
        });
        file.frames.push("0x1: f (src/lib.rs:1:1)".into());
        file
    }

    #[test]
    fn validate_names_each_problem() {
        assert_eq!(file().validate(), Ok(()));
        let mut repeated = file();
        repeated
            .program_points
            .push(repeated.program_points[0].clone());
        assert!(
            repeated
                .validate()
                .unwrap_err()
                .0
                .contains("the same stack")
        );
        let mut out_of_range = file();
        out_of_range.program_points[0].frames = vec![2];
        assert!(
            out_of_range
                .validate()
                .unwrap_err()
                .0
                .contains("frame index 2")
        );
        let mut root_referenced = file();
        root_referenced.program_points[0].frames = vec![0];
        assert!(
            root_referenced
                .validate()
                .unwrap_err()
                .0
                .contains("frame index 0")
        );
        let mut version = file();
        version.version = 3;
        assert!(version.validate().unwrap_err().0.contains("expected 2"));
    }

    #[test]
    fn reads_extension_blocks_with_missing_fields() {
        let mut text = serde_json::to_value(file()).unwrap();
        text["allocsite"] = serde_json::json!({"version": "0.0.1", "sampleBytes": 1});
        let read = DhatFile::from_json(&text.to_string()).unwrap();
        assert_eq!(read.allocsite.unwrap().sample_bytes, 1);
    }

    #[test]
    fn frame_table_adds_each_frame_once() {
        let mut table = FrameTable::new();
        assert_eq!(table.index("a"), 1);
        assert_eq!(table.index("b"), 2);
        assert_eq!(table.index("a"), 1);
        assert_eq!(table.into_frames(), ["[root]", "a", "b"]);
    }

    #[test]
    fn writes_dhat_field_names_and_integers() {
        let text = serde_json::to_string(&file()).unwrap();
        assert!(text.starts_with(r#"{"dhatFileVersion":2,"mode":"rust-heap","#));
        assert!(text.contains(r#""tb":8,"tbk":1,"tl":1,"#), "{text}");
        assert!(!text.contains("allocsite"));
        assert!(!text.contains("\"bu\""));
    }
}
