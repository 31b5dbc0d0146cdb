//! The executable's ELF headers, read by hand (ELF64, little-endian): where its sections are,
//! its symbols, and where it was loaded. Two readers use it, both off the hot path: the runtime entry's
//! symbol-table scan (`runtime_entry.rs`, at detection) and the symbolizer's DWARF reader
//! (`symbolize/dwarf/`, when a report is written).
//!
//! Everything here reads bytes it is given and checks every offset: a malformed or foreign
//! file gives `None`, never a panic or a read out of bounds.

/// `sh_type` of the symbol table.
pub(crate) const SHT_SYMTAB: u32 = 2;
/// `sh_flags` bit of a section that holds code (`SHF_EXECINSTR`).
pub(crate) const SHF_EXECINSTR: u64 = 0x4;
/// `sh_flags` bit of a compressed section (`SHF_COMPRESSED`).
pub(crate) const SHF_COMPRESSED: u64 = 0x800;
/// `st_type` of a data symbol.
pub(crate) const STT_OBJECT: u8 = 1;
/// `st_type` of a function symbol.
pub(crate) const STT_FUNC: u8 = 2;
/// Bytes of the ELF64 file header (the part [`Layout::parse`] reads).
pub(crate) const FILE_HEADER_SIZE: usize = 64;

/// Little-endian integers at `at` in `bytes`; `None` past the end.
pub(crate) fn u16_at(bytes: &[u8], at: usize) -> Option<u16> {
    Some(u16::from_le_bytes(
        bytes.get(at..at.checked_add(2)?)?.try_into().ok()?,
    ))
}
pub(crate) fn u32_at(bytes: &[u8], at: usize) -> Option<u32> {
    Some(u32::from_le_bytes(
        bytes.get(at..at.checked_add(4)?)?.try_into().ok()?,
    ))
}
pub(crate) fn u64_at(bytes: &[u8], at: usize) -> Option<usize> {
    usize::try_from(u64::from_le_bytes(
        bytes.get(at..at.checked_add(8)?)?.try_into().ok()?,
    ))
    .ok()
}

/// Where the section header table is, from the file header.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Layout {
    /// File offset of the section header table.
    pub(crate) table_offset: usize,
    /// Bytes per section header.
    pub(crate) entry_size: usize,
    /// Number of section headers.
    pub(crate) count: usize,
    /// Index of the section that holds the section names.
    pub(crate) names_index: usize,
}

impl Layout {
    /// Reads the file header at the start of `file` (at least [`FILE_HEADER_SIZE`] bytes);
    /// `None` unless it is an ELF64 little-endian file.
    pub(crate) fn parse(file: &[u8]) -> Option<Layout> {
        // e_ident: magic, ELFCLASS64, ELFDATA2LSB.
        if file.get(..6)? != b"\x7fELF\x02\x01" {
            return None;
        }
        let entry_size = usize::from(u16_at(file, 0x3a)?);
        if entry_size < 0x40 {
            return None;
        }
        Some(Layout {
            table_offset: u64_at(file, 0x28)?,
            entry_size,
            count: usize::from(u16_at(file, 0x3c)?),
            names_index: usize::from(u16_at(file, 0x3e)?),
        })
    }

    /// The bytes the section header table takes.
    pub(crate) fn table_size(&self) -> Option<usize> {
        self.count.checked_mul(self.entry_size)
    }
}

/// One section header (the fields allocsite reads).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct SectionHeader {
    /// Link-time address of the section (0 if it is not loaded).
    pub(crate) address: usize,
    /// Offset of the section's name in the names section.
    pub(crate) name: usize,
    /// `sh_type`.
    pub(crate) kind: u32,
    /// `sh_flags`.
    pub(crate) flags: u64,
    /// File offset of the section's bytes.
    pub(crate) offset: usize,
    /// Size of the section in the file.
    pub(crate) size: usize,
    /// `sh_link` (for the symbol table: its string table's index).
    pub(crate) link: usize,
    /// `sh_entsize`.
    pub(crate) entry_size: usize,
}

impl SectionHeader {
    /// Header `index` of a table whose bytes are `table` (as [`Layout`] describes it).
    pub(crate) fn at(table: &[u8], layout: &Layout, index: usize) -> Option<SectionHeader> {
        let at = index.checked_mul(layout.entry_size)?;
        let header = table.get(at..at.checked_add(layout.entry_size)?)?;
        Some(SectionHeader {
            name: u32_at(header, 0)? as usize,
            kind: u32_at(header, 4)?,
            flags: u64_at(header, 8)? as u64,
            address: u64_at(header, 0x10)?,
            offset: u64_at(header, 0x18)?,
            size: u64_at(header, 0x20)?,
            link: u32_at(header, 0x28)? as usize,
            entry_size: u64_at(header, 0x38)?,
        })
    }

    /// The section's bytes within `file` (the whole file's bytes), if they lie in it.
    pub(crate) fn bytes<'a>(&self, file: &'a [u8]) -> Option<&'a [u8]> {
        file.get(self.offset..self.offset.checked_add(self.size)?)
    }
}

/// The symbols of a symbol table whose entries are `entry_size` bytes; none if that is too
/// small for an ELF64 symbol (24 bytes).
pub(crate) fn symbols(table: &[u8], entry_size: usize) -> impl Iterator<Item = Symbol<'_>> {
    let entry_size = if entry_size >= 24 {
        entry_size
    } else {
        table.len() + 1
    };
    table.chunks_exact(entry_size).map(Symbol)
}

/// One ELF64 symbol (`Elf64_Sym`: `st_name` u32, `st_info` u8, `st_other` u8, `st_shndx`
/// u16, `st_value` u64, `st_size` u64), read field by field as asked: a scan that rejects
/// most symbols by their type reads one byte of them. This runs in the user's build, where
/// dependencies are not optimised, so each field is one unaligned load.
#[derive(Clone, Copy)]
pub(crate) struct Symbol<'a>(&'a [u8]);

impl Symbol<'_> {
    /// `st_type`: [`STT_FUNC`], [`STT_OBJECT`], …
    #[inline]
    pub(crate) fn kind(&self) -> u8 {
        self.0[4] & 0xf
    }

    /// `st_shndx`: 0 for a symbol defined elsewhere.
    #[inline]
    pub(crate) fn section(&self) -> u16 {
        // SAFETY: `symbols` hands out entries of at least 24 bytes; bytes 6..8 lie in them.
        u16::from_le(unsafe { self.0.as_ptr().add(6).cast::<u16>().read_unaligned() })
    }

    /// The offset of the symbol's name in its string table.
    #[inline]
    pub(crate) fn name(&self) -> usize {
        // SAFETY: as in `section`; bytes 0..4.
        u32::from_le(unsafe { self.0.as_ptr().cast::<u32>().read_unaligned() }) as usize
    }

    /// Its link-time address.
    #[inline]
    pub(crate) fn address(&self) -> usize {
        // SAFETY: as in `section`; bytes 8..16.
        u64::from_le(unsafe { self.0.as_ptr().add(8).cast::<u64>().read_unaligned() }) as usize
    }

    /// Its size in bytes.
    #[inline]
    pub(crate) fn size(&self) -> usize {
        // SAFETY: as in `section`; bytes 16..24.
        u64::from_le(unsafe { self.0.as_ptr().add(16).cast::<u64>().read_unaligned() }) as usize
    }
}

/// The executable's load bias (its runtime address minus its link-time address).
pub(crate) fn executable_bias() -> Option<usize> {
    unsafe extern "C" fn first(
        info: *mut libc::dl_phdr_info,
        _size: libc::size_t,
        data: *mut libc::c_void,
    ) -> libc::c_int {
        // SAFETY: `data` is the `Option<usize>` passed below; `info` is valid during the
        // call. The first object `dl_iterate_phdr` reports is the executable.
        unsafe { *data.cast::<Option<usize>>() = Some((*info).dlpi_addr as usize) };
        1
    }
    let mut bias: Option<usize> = None;
    // SAFETY: the callback writes only through the pointer to `bias`, which outlives the
    // call.
    unsafe { libc::dl_iterate_phdr(Some(first), (&mut bias as *mut Option<usize>).cast()) };
    bias
}

#[cfg(test)]
mod tests {
    use super::*;

    fn this_executable() -> Vec<u8> {
        std::fs::read("/proc/self/exe").unwrap()
    }

    #[test]
    fn finds_the_sections_of_this_test_binary_by_name() {
        let file = this_executable();
        let layout = Layout::parse(&file).unwrap();
        let table = &file[layout.table_offset..][..layout.table_size().unwrap()];
        let names = SectionHeader::at(table, &layout, layout.names_index)
            .unwrap()
            .bytes(&file)
            .unwrap();
        let named = |wanted: &[u8]| {
            (0..layout.count).find_map(|i| {
                let header = SectionHeader::at(table, &layout, i)?;
                let name = names.get(header.name..)?;
                name.strip_prefix(wanted)?
                    .starts_with(b"\0")
                    .then_some(header)
            })
        };
        let text = named(b".text").unwrap();
        assert!(text.size > 0 && text.bytes(&file).is_some());
        assert_eq!(named(b".symtab").unwrap().kind, SHT_SYMTAB);
        assert!(
            named(b".debug_info").is_some(),
            "tests build with debug info"
        );
        assert!(named(b".no_such_section").is_none());
    }

    #[test]
    fn refuses_what_is_not_a_64_bit_little_endian_elf_file() {
        assert!(Layout::parse(b"\x7fELF\x01\x01 a 32-bit file").is_none());
        assert!(Layout::parse(b"\x7fELF\x02\x02 big-endian").is_none());
        assert!(Layout::parse(b"#!/bin/sh").is_none());
        assert!(Layout::parse(&[]).is_none());
        let mut file = this_executable();
        file.truncate(FILE_HEADER_SIZE);
        let layout = Layout::parse(&file).unwrap();
        // The table lies past the end of these bytes: no header is read.
        assert!(SectionHeader::at(&file[..0], &layout, 0).is_none());
        let huge = SectionHeader {
            address: 0,
            name: 0,
            kind: 1,
            flags: 0,
            offset: usize::MAX - 1,
            size: 10,
            link: 0,
            entry_size: 0,
        };
        assert!(huge.bytes(&file).is_none());
    }

    #[test]
    fn reads_the_fields_of_a_symbol_and_refuses_short_entries() {
        let mut entry = [0u8; 24];
        entry[..4].copy_from_slice(&7u32.to_le_bytes());
        entry[4] = 0x12; // global, function
        entry[6..8].copy_from_slice(&3u16.to_le_bytes());
        entry[8..16].copy_from_slice(&0x1234u64.to_le_bytes());
        entry[16..].copy_from_slice(&40u64.to_le_bytes());
        let symbol = symbols(&entry, 24).next().unwrap();
        assert_eq!(
            (
                symbol.name(),
                symbol.kind(),
                symbol.section(),
                symbol.address(),
                symbol.size()
            ),
            (7, STT_FUNC, 3, 0x1234, 40)
        );
        assert_eq!(symbols(&entry, 16).count(), 0);
        assert_eq!(symbols(&entry[..23], 24).count(), 0);
    }

    #[test]
    fn the_bias_is_where_this_executable_was_loaded() {
        let bias = executable_bias().unwrap();
        let here = finds_the_sections_of_this_test_binary_by_name as *const () as usize;
        assert!(here > bias, "{here:#x} {bias:#x}");
    }
}
