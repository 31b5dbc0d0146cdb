//! A unit's line table: which file, line and column each address's code comes from.

use gimli::{DebugLine, DebugLineOffset, LittleEndian};

use super::file::{DebugFile, Slice, string};

/// A source position; line 0 (compiler-generated code) has no line and no column.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub(super) struct Location {
    pub(super) file: Option<String>,
    pub(super) line: Option<u32>,
    pub(super) column: Option<u32>,
}

/// The rows of one unit's line program, by sequence (a run of contiguous code).
pub(super) struct Lines {
    /// File paths by index (index 0 is unused before DWARF 5 and left empty).
    files: Box<[String]>,
    sequences: Box<[Sequence]>,
}

struct Sequence {
    start: u64,
    end: u64,
    rows: Box<[Row]>,
}

#[derive(Clone, Copy)]
struct Row {
    address: u64,
    file: u64,
    line: u32,
    column: u32,
}

impl Lines {
    /// Reads and runs the line program at `offset` in `.debug_line`, of a unit whose
    /// addresses are `address_size` bytes and whose directory and name are `comp_dir` and
    /// `name`. `None` if it is malformed.
    pub(super) fn load(
        file: &DebugFile,
        offset: u64,
        address_size: u8,
        comp_dir: Option<&[u8]>,
        name: Option<&[u8]>,
    ) -> Option<Lines> {
        let bytes = file.read_entry(file.line, offset)?;
        let program = DebugLine::new(&bytes, LittleEndian)
            .program(
                DebugLineOffset(0),
                address_size,
                comp_dir.map(slice),
                name.map(slice),
            )
            .ok()?;
        let mut sequences = Vec::new();
        let mut rows: Vec<Row> = Vec::new();
        let mut state = program.rows();
        while let Some((_, row)) = state.next_row().ok()? {
            if row.end_sequence() {
                if let Some(start) = rows.first().map(|row| row.address) {
                    sequences.push(Sequence {
                        start,
                        end: row.address(),
                        rows: std::mem::take(&mut rows).into_boxed_slice(),
                    });
                }
                continue;
            }
            let next = Row {
                address: row.address(),
                file: row.file_index(),
                line: row.line().map_or(0, |line| line.get() as u32),
                column: match row.column() {
                    gimli::ColumnType::LeftEdge => 0,
                    gimli::ColumnType::Column(column) => column.get() as u32,
                },
            };
            // Several rows at one address: the last one stands.
            match rows.last_mut() {
                Some(last) if last.address == next.address => *last = next,
                _ => rows.push(next),
            }
        }
        sequences.sort_by_key(|sequence| sequence.start);
        let header = state.header();
        let mut files = vec![match header.file(0) {
            Some(entry) => path(file, comp_dir, header, entry)?,
            None => String::new(),
        }];
        let mut index = 1;
        while let Some(entry) = header.file(index) {
            files.push(path(file, comp_dir, header, entry)?);
            index += 1;
        }
        Some(Lines {
            files: files.into_boxed_slice(),
            sequences: sequences.into_boxed_slice(),
        })
    }

    /// The path of file `index`.
    pub(super) fn file(&self, index: u64) -> Option<&str> {
        self.files
            .get(usize::try_from(index).ok()?)
            .map(String::as_str)
    }

    /// Where the code at `probe` comes from, if a sequence covers it.
    pub(super) fn location(&self, probe: u64) -> Option<Location> {
        let index = self
            .sequences
            .partition_point(|sequence| sequence.start <= probe);
        let sequence = self.sequences.get(index.checked_sub(1)?)?;
        if probe >= sequence.end {
            return None;
        }
        let index = sequence.rows.partition_point(|row| row.address <= probe);
        let row = sequence.rows.get(index.checked_sub(1)?)?;
        let known = row.line != 0;
        Some(Location {
            file: self.file(row.file).map(str::to_owned),
            line: known.then_some(row.line),
            column: known.then_some(row.column),
        })
    }
}

fn slice(bytes: &[u8]) -> Slice<'_> {
    Slice::new(bytes, LittleEndian)
}

/// A file entry's path as `addr2line` renders it: the unit's directory, then the entry's
/// directory unless it is the unit's (index 0), then its name; an absolute part starts over.
fn path(
    file: &DebugFile,
    comp_dir: Option<&[u8]>,
    header: &gimli::LineProgramHeader<Slice<'_>>,
    entry: &gimli::FileEntry<Slice<'_>>,
) -> Option<String> {
    let mut path = comp_dir
        .map(|dir| String::from_utf8_lossy(dir).into_owned())
        .unwrap_or_default();
    if entry.directory_index() != 0
        && let Some(directory) = entry.directory(header)
    {
        push(
            &mut path,
            &String::from_utf8_lossy(&string(file, directory)?),
        );
    }
    push(
        &mut path,
        &String::from_utf8_lossy(&string(file, entry.path_name())?),
    );
    Some(path)
}

fn push(path: &mut String, part: &str) {
    let forward_root = |p: &str| p.starts_with('/') || p.get(1..3) == Some(":/");
    let backward_root = |p: &str| p.starts_with('\\') || p.get(1..3) == Some(":\\");
    if forward_root(part) || backward_root(part) {
        *path = part.to_owned();
        return;
    }
    let separator = if backward_root(path) { '\\' } else { '/' };
    if !path.is_empty() && !path.ends_with(separator) {
        path.push(separator);
    }
    path.push_str(part);
}

#[cfg(test)]
mod tests {
    use super::push;

    #[test]
    fn paths_join_like_addr2lines() {
        let joined = |parts: &[&str]| {
            let mut path = String::new();
            for part in parts {
                push(&mut path, part);
            }
            path
        };
        assert_eq!(
            joined(&["/work/app", "src", "main.rs"]),
            "/work/app/src/main.rs"
        );
        assert_eq!(
            joined(&["/work/app/", "src/lib.rs"]),
            "/work/app/src/lib.rs"
        );
        assert_eq!(
            joined(&["/work/app", "/rustc/abc/library/core", "src/x.rs"]),
            "/rustc/abc/library/core/src/x.rs"
        );
        assert_eq!(joined(&["", "main.rs"]), "main.rs");
        assert_eq!(joined(&["C:\\app", "src"]), "C:\\app\\src");
    }
}
