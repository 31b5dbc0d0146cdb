//! The runtime entry: where std enters the user's `main` or a thread's closure. Every
//! unwinder stops there (keeping that frame, which the bottom trim looks for): the frames
//! below are the runtime's, which reports drop anyway, and on a test thread they are a third
//! of the stack.
//!
//! The entry is `__rust_begin_short_backtrace` (std's, and libtest's own of the same name),
//! a function std never inlines. Its code ranges are read once from the executable's symbol
//! table ([`learn_from_symbol_table`], when the unwinder is chosen): no debug info is parsed.
//! A stripped executable has no symbol table; then the platform unwinder learns single
//! return addresses from symbolization instead (`symbolize::runtime_entry`), and the other
//! unwinders walk to the outermost frame.

use std::sync::atomic::{
    AtomicBool, AtomicU64, AtomicUsize,
    Ordering::{Acquire, Relaxed, Release},
};

/// Return addresses learned by symbolization (the platform unwinder's fallback). Zero slots
/// are empty.
const STOP_SLOTS: usize = 8;
static STOP_AT: [AtomicUsize; STOP_SLOTS] = [const { AtomicUsize::new(0) }; STOP_SLOTS];
/// Cleared when a profile keeps the runtime frames (`trim_bottom(false)`).
static STOP_ENABLED: AtomicBool = AtomicBool::new(true);

/// Code ranges of the entry functions, `[start, end)`, sorted and disjoint, read from the
/// symbol table: the first [`RANGE_COUNT`] slots (a test binary has one per closure type
/// its tests spawn threads with, plus libtest's). Written once, before `RANGE_COUNT` is
/// published.
const MAX_RANGES: usize = 256;
static RANGES: [(AtomicUsize, AtomicUsize); MAX_RANGES] =
    [const { (AtomicUsize::new(0), AtomicUsize::new(0)) }; MAX_RANGES];
static RANGE_COUNT: AtomicUsize = AtomicUsize::new(0);

/// A filter in front of [`is_stop`], which the frame-pointer walk and the platform unwinder
/// ask at every frame: one bit per 4 KiB code page (modulo 256 MiB), set for every page an
/// entry function or a learned stop address touches. A clear bit answers "no" in a few
/// instructions; a set one (the entry's own pages, and pages aliasing them) goes on to the
/// exact checks. Bits are set before the ranges or addresses they cover are published, so
/// the filter never hides a stop.
const PAGE_SHIFT: u32 = 12;
const FILTER_WORDS: usize = 1024;
static PAGES: [AtomicU64; FILTER_WORDS] = [const { AtomicU64::new(0) }; FILTER_WORDS];

/// The filter's word and bit for the page of `address`.
#[inline(always)]
fn page_slot(address: usize) -> (usize, u64) {
    let page = (address >> PAGE_SHIFT) % (FILTER_WORDS * 64);
    (page / 64, 1 << (page % 64))
}

/// Marks the pages of `[start, end)` in the filter.
fn mark_pages(start: usize, end: usize) {
    let first = start >> PAGE_SHIFT;
    let last = end.saturating_sub(1).max(start) >> PAGE_SHIFT;
    // A range longer than the filter sets every bit once round.
    for page in first..=last.min(first + FILTER_WORDS * 64 - 1) {
        let (word, bit) = page_slot(page << PAGE_SHIFT);
        PAGES[word].fetch_or(bit, Relaxed);
    }
}

/// Whether `address`'s page may hold a stop (false: certainly not).
#[inline(always)]
fn may_stop(address: usize) -> bool {
    let (word, bit) = page_slot(address);
    PAGES[word].load(Relaxed) & bit != 0
}

/// True if a capture stops after the frame returning to `ip`: it is in a runtime entry, and
/// stopping is enabled. The cached unwinder asks [`in_entry_function`] once per address
/// instead (its rule cache keeps the answer).
#[inline]
pub(crate) fn is_stop(ip: usize) -> bool {
    stops_enabled()
        && may_stop(ip)
        && (in_entry_function(ip) || STOP_AT.iter().any(|slot| slot.load(Relaxed) == ip))
}

/// Whether captures stop at the runtime entry (false while a profile keeps runtime frames).
#[inline(always)]
pub(crate) fn stops_enabled() -> bool {
    STOP_ENABLED.load(Relaxed)
}

/// True if `address` is inside one of the entry functions the symbol table named (a binary
/// search of the sorted ranges).
#[inline]
pub(crate) fn in_entry_function(address: usize) -> bool {
    let count = RANGE_COUNT.load(Acquire);
    let (mut low, mut high) = (0, count);
    while low < high {
        let middle = (low + high) / 2;
        let (start, end) = &RANGES[middle];
        if address < start.load(Relaxed) {
            high = middle;
        } else if address >= end.load(Relaxed) {
            low = middle + 1;
        } else {
            return true;
        }
    }
    false
}

/// Remembers `ip` as a runtime entry. Called from symbolization, which identifies the entry
/// by name; ignored when the slots are full.
pub(crate) fn remember_runtime_entry(ip: usize) {
    mark_pages(ip, ip + 1);
    for slot in &STOP_AT {
        match slot.compare_exchange(0, ip, Relaxed, Relaxed) {
            Ok(_) => return,
            Err(existing) if existing == ip => return,
            Err(_) => {}
        }
    }
}

/// Whether captures may stop at the runtime entry (false when a profile keeps runtime frames).
pub(crate) fn set_stop_at_runtime_entry(enabled: bool) {
    STOP_ENABLED.store(enabled, Relaxed);
}

/// Whether the entry's code ranges are known (the executable has a symbol table).
pub(crate) fn known_from_symbol_table() -> bool {
    RANGE_COUNT.load(Acquire) != 0
}

/// Reads the entry functions' code ranges from the executable's symbol table, once. May
/// allocate and maps the executable for the duration: call it with the reentrancy guard held,
/// off the hot path (the unwinder's detection does).
pub(crate) fn learn_from_symbol_table() {
    if known_from_symbol_table() {
        return;
    }
    #[cfg(all(
        any(target_os = "linux", target_os = "android"),
        target_pointer_width = "64"
    ))]
    {
        let Some(bias) = symbols::executable_bias() else {
            return;
        };
        let mut ranges = Vec::new();
        symbols::for_each_entry_function(|start, end| {
            ranges.push((start.wrapping_add(bias), end.wrapping_add(bias)));
        });
        ranges.sort_unstable();
        ranges.dedup();
        // Beyond MAX_RANGES, threads entered through the others walk to their outermost
        // frame: slower, still right.
        ranges.truncate(MAX_RANGES);
        for (slot, (start, end)) in RANGES.iter().zip(&ranges) {
            mark_pages(*start, *end);
            slot.0.store(*start, Relaxed);
            slot.1.store(*end, Relaxed);
        }
        RANGE_COUNT.store(ranges.len(), Release);
    }
}

/// The executable's symbol table (ELF64, little-endian), read by hand: this runs in the user's
/// build, where dependencies are not optimised, and a generic ELF reader there took
/// ~1 µs per symbol (10 ms for a small test binary); this loop takes a few nanoseconds.
#[cfg(all(
    any(target_os = "linux", target_os = "android"),
    target_pointer_width = "64"
))]
mod symbols {
    /// The name every entry function's symbol contains (mangled either way: legacy
    /// `…28__rust_begin_short_backtrace17h…E` or v0 `…28___rust_begin_short_backtrace…`).
    const ENTRY: &[u8] = b"__rust_begin_short_backtrace";

    pub(super) use crate::capture::elf::executable_bias;
    use crate::capture::elf::{Layout, SHT_SYMTAB, STT_FUNC, SectionHeader, symbols};

    /// Calls `found(start, end)` for each entry function's link-time code range.
    pub(super) fn for_each_entry_function(found: impl FnMut(usize, usize)) {
        if let Some(map) = Mapped::executable() {
            let _ = scan(map.bytes(), found);
        }
    }

    /// Whether the NUL-terminated (or slice-long) string at the start of `text` contains
    /// `needle`. The C library's `memchr` and `memmem` do the work: they are optimised even
    /// when this crate is not.
    fn contains(text: &[u8], needle: &[u8]) -> bool {
        // SAFETY: both calls read only inside `text` (`memchr` at most `text.len()` bytes,
        // `memmem` at most `length`, which is within it) and `needle`.
        unsafe {
            let nul = libc::memchr(text.as_ptr().cast(), 0, text.len());
            let length = if nul.is_null() {
                text.len()
            } else {
                nul as usize - text.as_ptr() as usize
            };
            !libc::memmem(
                text.as_ptr().cast(),
                length,
                needle.as_ptr().cast(),
                needle.len(),
            )
            .is_null()
        }
    }

    /// Walks the `.symtab` of an ELF64 little-endian file; `None` on anything malformed.
    fn scan(elf: &[u8], mut found: impl FnMut(usize, usize)) -> Option<()> {
        let layout = Layout::parse(elf)?;
        let table = elf.get(layout.table_offset..)?;
        let table = table.get(..layout.table_size()?)?;
        let symtab = (0..layout.count)
            .find_map(|i| SectionHeader::at(table, &layout, i).filter(|s| s.kind == SHT_SYMTAB))?;
        let strings = SectionHeader::at(table, &layout, symtab.link)?.bytes(elf)?;
        for symbol in symbols(symtab.bytes(elf)?, symtab.entry_size) {
            // Most symbols are not functions: one byte rejects them.
            if symbol.kind() != STT_FUNC {
                continue;
            }
            let (name_at, start, size) = (symbol.name(), symbol.address(), symbol.size());
            if size == 0 || name_at >= strings.len() {
                continue;
            }
            if contains(&strings[name_at..], ENTRY) {
                found(start, start.checked_add(size)?);
            }
        }
        Some(())
    }

    /// The executable file mapped read-only (pages are read only as the symbol table is).
    struct Mapped {
        address: *mut libc::c_void,
        length: usize,
    }

    impl Mapped {
        fn executable() -> Option<Mapped> {
            // SAFETY: opens a NUL-terminated path read-only; the descriptor is closed below
            // whatever happens.
            let fd =
                unsafe { libc::open(c"/proc/self/exe".as_ptr(), libc::O_RDONLY | libc::O_CLOEXEC) };
            if fd < 0 {
                return None;
            }
            // SAFETY: `stat` is plain data filled by `fstat` on an open descriptor.
            let mut stat: libc::stat = unsafe { core::mem::zeroed() };
            // SAFETY: as above.
            let length = (unsafe { libc::fstat(fd, &mut stat) } == 0)
                .then_some(stat.st_size as usize)
                .filter(|&length| length > 0);
            let address = length.map(|length| {
                // SAFETY: a private read-only mapping of the whole file; checked below.
                unsafe {
                    libc::mmap(
                        core::ptr::null_mut(),
                        length,
                        libc::PROT_READ,
                        libc::MAP_PRIVATE,
                        fd,
                        0,
                    )
                }
            });
            // SAFETY: the descriptor opened above; the mapping does not need it.
            unsafe { libc::close(fd) };
            match (address, length) {
                (Some(address), Some(length)) if address != libc::MAP_FAILED => {
                    Some(Mapped { address, length })
                }
                _ => None,
            }
        }

        fn bytes(&self) -> &[u8] {
            // SAFETY: the mapping is `length` readable bytes and lives as long as `self`.
            unsafe { core::slice::from_raw_parts(self.address.cast::<u8>(), self.length) }
        }
    }

    impl Drop for Mapped {
        fn drop(&mut self) {
            // SAFETY: unmaps exactly the mapping made in `executable`, which nothing else uses.
            unsafe { libc::munmap(self.address, self.length) };
        }
    }

    #[cfg(test)]
    mod tests {
        #[test]
        fn the_scan_finds_the_entry_functions_of_this_test_binary() {
            let map = super::Mapped::executable().unwrap();
            let mut found = Vec::new();
            super::scan(map.bytes(), |start, end| found.push((start, end))).unwrap();
            // libtest's and std's own, at least (one per closure type given to a thread).
            assert!(found.len() >= 2, "{found:x?}");
            assert!(found.iter().all(|(start, end)| start < end));
            assert!(super::contains(
                b"_ZN4test28__rust_begin_short_backtrace17hE\0_ZN",
                super::ENTRY
            ));
            assert!(!super::contains(
                b"_ZN4test3run\0__rust_begin_short_backtrace",
                super::ENTRY
            ));
            // Anything that is not an ELF file is refused, not misread.
            assert!(super::scan(b"\x7fELF\x01\x01 not a 64-bit file", |_, _| {}).is_none());
            assert!(super::scan(&map.bytes()[..64], |_, _| {}).is_none());
        }
    }
}

#[cfg(test)]
mod filter_tests {
    use super::*;

    /// The exact answer, without the page filter.
    fn exact(ip: usize) -> bool {
        in_entry_function(ip) || STOP_AT.iter().any(|slot| slot.load(Relaxed) == ip)
    }

    #[test]
    fn the_page_filter_never_hides_a_stop_and_clears_other_code() {
        learn_from_symbol_table();
        let count = RANGE_COUNT.load(Acquire);
        assert!(count > 0, "this test binary has a symbol table");
        // Every address that is a stop passes the filter (so `is_stop` answers as without
        // it), across every range and the code around it; most other code does not.
        let mut cleared = 0;
        for (start, end) in RANGES[..count]
            .iter()
            .map(|(s, e)| (s.load(Relaxed), e.load(Relaxed)))
        {
            for ip in (start.saturating_sub(1 << 20)..end + (1 << 20)).step_by(61) {
                assert!(!exact(ip) || may_stop(ip), "{ip:#x}");
                cleared += usize::from(!may_stop(ip));
            }
            for ip in start..end {
                assert!(
                    exact(ip) && may_stop(ip),
                    "{ip:#x} in [{start:#x}, {end:#x})"
                );
            }
        }
        assert!(
            cleared > 0,
            "the filter answers no for code away from the entry"
        );
        // A learned address passes it too.
        let learned = RANGES[count - 1].1.load(Relaxed) + (8 << 20) + 5;
        remember_runtime_entry(learned);
        assert!(exact(learned) && may_stop(learned));
    }
}
