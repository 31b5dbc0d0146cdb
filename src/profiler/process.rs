//! What a pprof file says about the program beyond the DHAT figures: the executable's path,
//! its GNU build id and where its code was loaded (pprof's mapping 1), read once from the
//! loaded program headers (`dl_iterate_phdr`'s first module is the executable).

use std::ops::Range;
use std::sync::OnceLock;

use crate::report::pprof::PprofOptions;

/// The executable's mapping, once per process.
#[derive(Clone, Debug, Default)]
struct Executable {
    path: Option<String>,
    build_id: Option<String>,
    /// Executable code's address range and the file offset of its start.
    code: Option<(Range<u64>, u64)>,
}

static EXECUTABLE: OnceLock<Executable> = OnceLock::new();

/// pprof options for a profile of this process that started at `started` (nanoseconds
/// since the Unix epoch).
pub(crate) fn pprof_options(started: Option<i64>) -> PprofOptions {
    let executable = EXECUTABLE.get_or_init(read_executable);
    PprofOptions {
        binary_path: executable.path.clone(),
        build_id: executable.build_id.clone(),
        load_range: executable.code.clone(),
        time_nanos: started,
        default_sample_type: None,
        block_size_label: true,
    }
}

fn read_executable() -> Executable {
    let mut executable = Executable {
        path: std::env::current_exe()
            .ok()
            .and_then(|path| path.to_str().map(str::to_owned)),
        ..Executable::default()
    };
    #[cfg(target_os = "linux")]
    {
        let mut found = Found::default();
        // SAFETY: the callback only reads the `dl_phdr_info` it is given, during the call,
        // and writes to `found` through the pointer passed, which outlives the call.
        unsafe {
            libc::dl_iterate_phdr(Some(first_module), (&mut found as *mut Found).cast());
        }
        executable.build_id = found.build_id;
        executable.code = found.code;
    }
    executable
}

#[cfg(target_os = "linux")]
#[derive(Default)]
struct Found {
    build_id: Option<String>,
    code: Option<(Range<u64>, u64)>,
}

/// Reads the first module (the executable): its executable `PT_LOAD` segment and its
/// `NT_GNU_BUILD_ID` note. Returns 1 to stop after it.
#[cfg(target_os = "linux")]
// ELF addresses are `u32` on 32-bit targets; the casts widen them there.
#[allow(clippy::unnecessary_cast, clippy::useless_conversion)]
unsafe extern "C" fn first_module(
    info: *mut libc::dl_phdr_info,
    _size: libc::size_t,
    data: *mut libc::c_void,
) -> libc::c_int {
    // SAFETY: `data` is the `&mut Found` passed above; `info` and its `dlpi_phdr` array of
    // `dlpi_phnum` entries are valid during the callback.
    let (found, info) = unsafe { (&mut *data.cast::<Found>(), &*info) };
    if info.dlpi_phdr.is_null() {
        return 1;
    }
    // SAFETY: see above.
    let headers = unsafe { std::slice::from_raw_parts(info.dlpi_phdr, info.dlpi_phnum as usize) };
    let base = info.dlpi_addr as u64;
    for header in headers {
        if header.p_type == libc::PT_LOAD
            && header.p_flags & libc::PF_X != 0
            && found.code.is_none()
        {
            let start = base.wrapping_add(header.p_vaddr as u64);
            found.code = Some((start..start + header.p_memsz as u64, header.p_offset as u64));
        }
        if header.p_type == libc::PT_NOTE && found.build_id.is_none() {
            let start = base.wrapping_add(header.p_vaddr as u64) as usize;
            // SAFETY: a loaded note segment is mapped and readable for `p_memsz` bytes.
            let notes =
                unsafe { std::slice::from_raw_parts(start as *const u8, header.p_memsz as usize) };
            found.build_id = gnu_build_id(notes);
        }
    }
    1
}

/// The `NT_GNU_BUILD_ID` note's bytes as lowercase hex, from a note segment's bytes.
fn gnu_build_id(mut notes: &[u8]) -> Option<String> {
    const NT_GNU_BUILD_ID: u32 = 3;
    let word = |bytes: &[u8]| Some(u32::from_ne_bytes(bytes.get(..4)?.try_into().ok()?));
    while notes.len() >= 12 {
        let name_size = word(notes)? as usize;
        let descriptor_size = word(&notes[4..])? as usize;
        let kind = word(&notes[8..])?;
        let name_end = 12 + name_size.next_multiple_of(4);
        let descriptor_end = name_end + descriptor_size.next_multiple_of(4);
        let name = notes.get(12..12 + name_size)?;
        let descriptor = notes.get(name_end..name_end + descriptor_size)?;
        if kind == NT_GNU_BUILD_ID && name == b"GNU\0" {
            return Some(
                descriptor
                    .iter()
                    .map(|byte| format!("{byte:02x}"))
                    .collect(),
            );
        }
        notes = notes.get(descriptor_end..)?;
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_a_gnu_build_id_note() {
        let mut note = Vec::new();
        for word in [4u32, 3, 3] {
            note.extend_from_slice(&word.to_ne_bytes());
        }
        note.extend_from_slice(b"GNU\0");
        note.extend_from_slice(&[0xab, 0xcd, 0xef, 0]);
        assert_eq!(gnu_build_id(&note).as_deref(), Some("abcdef"));
        assert_eq!(gnu_build_id(&note[..10]), None);
    }

    #[test]
    fn this_test_binary_has_a_mapping() {
        let options = pprof_options(Some(5));
        assert!(options.binary_path.is_some());
        let (range, _) = options.load_range.expect("the executable's code range");
        let here = this_test_binary_has_a_mapping as *const () as u64;
        assert!(range.contains(&here), "{range:x?} does not hold {here:x}");
        assert_eq!(options.time_nanos, Some(5));
    }
}
