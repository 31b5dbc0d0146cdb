//! The reader against `backtrace::resolve` on this test binary's own code.

use super::*;
use crate::capture::capture;
use crate::capture::unwinder::{MAX_FRAMES, Unwinder};

/// `backtrace`'s frames of `ip`, in the reader's terms.
fn oracle(ip: usize) -> Vec<Resolved> {
    let mut frames = Vec::new();
    backtrace::resolve(ip as *mut core::ffi::c_void, |symbol| {
        frames.push(Resolved {
            name: symbol.name().map(|name| name.as_bytes().to_vec()),
            file: symbol
                .filename()
                .map(|path| path.to_string_lossy().into_owned()),
            line: symbol.lineno(),
            column: symbol.colno(),
        });
    });
    frames
}

/// Compares the reader with `backtrace` at every address given. Returns how many addresses
/// `backtrace` knows a source line of, and how many of those the reader left to it.
fn compare(executable: &mut Executable, ips: impl IntoIterator<Item = usize>) -> (usize, usize) {
    let _lock = crate::symbolize::resolve::SYMBOLIZER.lock();
    let (mut with_lines, mut left) = (0, 0);
    for ip in ips {
        let expected = oracle(ip);
        let has_line = expected.iter().any(|frame| frame.line.is_some());
        with_lines += usize::from(has_line);
        match executable.frames(ip) {
            Some(frames) => assert_eq!(frames, expected, "at {ip:#x}"),
            None => left += usize::from(has_line),
        }
    }
    (with_lines, left)
}

/// The load address of the object that holds `address`.
fn object_base(address: usize) -> usize {
    // SAFETY: `dladdr` only reads the loader's tables and fills `info`.
    unsafe {
        let mut info: libc::Dl_info = core::mem::zeroed();
        libc::dladdr(address as *const libc::c_void, &mut info);
        info.dli_fbase as usize
    }
}

#[inline(never)]
fn stack_here(out: &mut [usize; MAX_FRAMES]) -> usize {
    let mut collected = Vec::new();
    // Inlined iterator adapters and a closure: frames with inlined calls.
    (0..3).map(|i| i * 2).for_each(|i| {
        collected.push(core::hint::black_box(i));
    });
    let n = capture(Unwinder::UnwindTables, out);
    core::hint::black_box(collected);
    n
}

#[test]
fn names_the_same_frames_as_backtrace_on_captured_stacks() {
    let mut executable = Executable::open().expect("tests build with line tables");
    let mut out = [0; MAX_FRAMES];
    let n = stack_here(&mut out);
    // libc's frames (thread start) are another object's: only this executable's count.
    let ours = out[..n]
        .iter()
        .copied()
        .filter(|&ip| object_base(ip) == object_base(stack_here as *const () as usize));
    let (with_lines, left) = compare(&mut executable, ours);
    assert!(
        with_lines >= 3 && left == 0,
        "left {left} of {with_lines} to backtrace"
    );
    // The innermost frame is this file's `stack_here`, on the capture's line.
    let innermost = executable.frames(out[0]).unwrap();
    let name = innermost.last().unwrap().name.as_deref().unwrap();
    let name = format!("{:#}", backtrace::SymbolName::new(name));
    assert!(name.ends_with("stack_here"), "{name}");
}

#[test]
fn names_the_same_frames_as_backtrace_across_the_code() {
    let mut executable = Executable::open().unwrap();
    // Addresses spread over every range the reader knows, each its runtime address plus one
    // (`frames` takes return addresses).
    let ranges = executable.aranges.clone();
    let total: u64 = ranges.iter().map(|(begin, end, _)| end - begin).sum();
    let step = (total / 1500).max(1);
    let mut ips = Vec::new();
    let mut carry = 0;
    for &(begin, end, _) in ranges.iter() {
        let mut at = begin + carry;
        while at < end {
            ips.push((at + executable.bias + 1) as usize);
            at += step;
        }
        carry = at - end;
    }
    // Ranges also cover statics (no line there, for either): count only code.
    let (with_lines, left) = compare(&mut executable, ips);
    assert!(with_lines >= 1000, "{with_lines}");
    assert!(
        left * 100 <= with_lines,
        "left {left} of {with_lines} to backtrace"
    );
}

#[test]
fn names_code_without_debug_info_from_the_symbol_table_as_backtrace_does() {
    let mut executable = Executable::open().unwrap();
    let symbols = Symbols::load(&executable.file).expect("tests keep their symbol table");
    // Every 20th function and data symbol: its first byte and a byte inside it, whether
    // the debug info covers it or not (data gives no frame, or the symbol's name alone).
    let mut ips = Vec::new();
    for &(address, size, _) in symbols.entries().iter().step_by(20) {
        for probe in [address, address + size / 2] {
            ips.push((probe + executable.bias + 1) as usize);
        }
    }
    let _lock = crate::symbolize::resolve::SYMBOLIZER.lock();
    let mut answered = 0;
    for &ip in &ips {
        let probe = (ip - 1) as u64 - executable.bias;
        let in_code = executable
            .file
            .code
            .iter()
            .any(|&(b, e)| b <= probe && probe < e);
        match executable.frames(ip) {
            Some(frames) => {
                answered += 1;
                assert_eq!(frames, oracle(ip), "at {ip:#x}");
            }
            None => assert!(!in_code, "left code at {ip:#x} to backtrace"),
        }
    }
    assert!(answered >= 1000, "{answered} of {}", ips.len());
}

#[test]
fn finds_units_that_aranges_does_not_list_from_their_root_entry() {
    let mut executable = Executable::open().unwrap();
    // Forget the ranges of the unit that holds this test, as if `.debug_aranges` left it
    // out (clang does without `-gdwarf-aranges`): its frames must come out the same.
    let ip = stack_here as *const () as usize + 8;
    let probe = (ip - 1) as u64 - executable.bias;
    let holder = executable
        .aranges
        .iter()
        .find(|range| range.0 <= probe && probe < range.1)
        .unwrap()
        .2;
    let mut ranges = executable.aranges.to_vec();
    ranges.retain(|range| range.2 != holder);
    executable.aranges = ranges.into_boxed_slice();
    let mut listed = executable.listed.to_vec();
    listed.retain(|&unit| unit != holder);
    executable.listed = listed.into_boxed_slice();
    let _lock = crate::symbolize::resolve::SYMBOLIZER.lock();
    let frames = executable.frames(ip).unwrap();
    assert!(
        frames.iter().any(|frame| frame.line.is_some()),
        "{frames:?}"
    );
    assert_eq!(frames, oracle(ip));
    let unlisted = executable.unlisted.as_deref().unwrap();
    assert!(
        unlisted.iter().any(|range| range.2 == holder),
        "{unlisted:x?}"
    );
}

#[test]
fn reads_only_the_units_it_is_asked_about() {
    let mut executable = Executable::open().unwrap();
    let ip = names_the_same_frames_as_backtrace_on_captured_stacks as *const () as usize + 8;
    assert!(executable.frames(ip).is_some());
    let read = executable.units.len();
    let known = executable.bounds.len();
    assert!(read >= 1, "{read}");
    assert!(
        read * 10 < known,
        "read {read} of {known} units for one address"
    );
}

#[test]
fn says_nothing_of_addresses_outside_the_executables_code() {
    let mut executable = Executable::open().unwrap();
    assert!(executable.frames(0).is_none());
    assert!(executable.frames(1).is_none());
    assert!(executable.frames(usize::MAX).is_none());
    // libc's `malloc` is in another object.
    assert!(
        executable
            .frames(libc::malloc as *const () as usize + 4)
            .is_none()
    );
}
