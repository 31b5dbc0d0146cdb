//! The one atomic file writer: every report file is written to a temporary file beside its
//! destination and renamed into place, so a reader never sees half a report and a failed
//! write leaves any earlier file intact.

use std::fs::File;
use std::io::{self, BufWriter, Write};
use std::path::{Path, PathBuf};

/// Writes `path` through `write`, atomically (see the module docs). The temporary file is
/// `<path>.tmp-<pid>` and is removed if anything fails.
///
/// # Errors
///
/// Any error creating, writing, syncing or renaming the file, or returned by `write`;
/// `path` is then as it was.
///
/// ```
/// use std::io::Write;
///
/// let path = std::env::temp_dir().join(format!("allocsite-write-doc-{}.txt", std::process::id()));
/// allocsite::report::write::write_atomically(&path, |out| out.write_all(b"report"))?;
/// assert_eq!(std::fs::read_to_string(&path)?, "report");
/// # std::fs::remove_file(&path)?;
/// # Ok::<(), std::io::Error>(())
/// ```
pub fn write_atomically(
    path: &Path,
    write: impl FnOnce(&mut dyn Write) -> io::Result<()>,
) -> io::Result<()> {
    let mut temporary = path.as_os_str().to_owned();
    temporary.push(format!(".tmp-{}", std::process::id()));
    let temporary = PathBuf::from(temporary);
    let result = (|| {
        let file = File::create(&temporary)?;
        let mut out = BufWriter::new(file);
        write(&mut out)?;
        out.into_inner()
            .map_err(|error| error.into_error())?
            .sync_all()?;
        std::fs::rename(&temporary, path)
    })();
    if result.is_err() {
        let _ = std::fs::remove_file(&temporary);
    }
    result
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_failed_write_keeps_the_old_file_and_leaves_no_temporary() {
        let dir = std::env::temp_dir().join(format!("allocsite-write-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("report.txt");
        write_atomically(&path, |out| out.write_all(b"first")).unwrap();
        let error = write_atomically(&path, |out| {
            out.write_all(b"half")?;
            Err(io::Error::other("disk full"))
        })
        .unwrap_err();
        assert_eq!(error.to_string(), "disk full");
        assert_eq!(std::fs::read_to_string(&path).unwrap(), "first");
        let names: Vec<_> = std::fs::read_dir(&dir)
            .unwrap()
            .map(|e| e.unwrap().file_name())
            .collect();
        assert_eq!(names, ["report.txt"]);
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn an_unwritable_directory_is_an_error() {
        let path = Path::new("/nonexistent-allocsite-dir/report.json");
        assert!(write_atomically(path, |out| out.write_all(b"x")).is_err());
    }
}
