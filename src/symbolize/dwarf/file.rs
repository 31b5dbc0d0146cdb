//! The executable's debug sections, read piece by piece with `pread`.
//!
//! Nothing is mapped: a mapped page counts in the process's resident set for as long as the
//! mapping lives (and the kernel maps up to 16 neighbouring pages with each one touched),
//! while bytes read into the heap take only what is asked for, often in memory the program
//! already freed. Every read is checked against its section's bounds.

use std::fs::File;
use std::os::unix::fs::FileExt;

use gimli::{AttributeValue, LittleEndian};

use crate::capture::elf::{
    FILE_HEADER_SIZE, Layout, SHF_COMPRESSED, SHF_EXECINSTR, SHT_SYMTAB, SectionHeader,
};

/// Bytes read from the file, as `gimli` parses them.
pub(super) type Slice<'a> = gimli::EndianSlice<'a, LittleEndian>;

/// The most a single string may take (names of deeply generic functions run to a few KiB).
const MAX_STRING: usize = 1 << 20;
/// The most the section-name table may take.
const MAX_NAMES: usize = 1 << 20;

/// Where one section lies in the file.
#[derive(Clone, Copy, Debug)]
pub(super) struct Section {
    offset: u64,
    size: u64,
}

impl Section {
    pub(super) fn size(self) -> u64 {
        self.size
    }
}

/// The executable file and the DWARF sections the symbolizer reads.
pub(super) struct DebugFile {
    file: File,
    pub(super) info: Section,
    pub(super) abbrev: Section,
    pub(super) aranges: Section,
    pub(super) line: Section,
    pub(super) str: Option<Section>,
    pub(super) line_str: Option<Section>,
    pub(super) ranges: Option<Section>,
    /// The symbol table and its strings (for code without debug info).
    pub(super) symbols: Option<(Section, Section)>,
    /// Bytes per entry of the symbol table.
    pub(super) symbol_size: usize,
    /// Link-time address ranges of the sections that hold code.
    pub(super) code: Vec<(u64, u64)>,
}

impl DebugFile {
    /// Opens `path` (the running executable: `/proc/self/exe`). `None` when it is not an
    /// ELF64 little-endian file, lacks `.debug_info`, `.debug_abbrev`, `.debug_aranges` or
    /// `.debug_line`, or has compressed debug sections: the caller then uses the general
    /// symbolizer.
    pub(super) fn open(path: &str) -> Option<DebugFile> {
        let file = File::open(path).ok()?;
        let mut header = [0; FILE_HEADER_SIZE];
        file.read_exact_at(&mut header, 0).ok()?;
        let layout = Layout::parse(&header)?;
        let table = read_at(&file, layout.table_offset as u64, layout.table_size()?)?;
        let names = SectionHeader::at(&table, &layout, layout.names_index)?;
        if names.size > MAX_NAMES {
            return None;
        }
        let names = read_at(&file, names.offset as u64, names.size)?;
        let mut debug = Vec::new();
        let mut code = Vec::new();
        let mut symbols = None;
        let mut symbol_size = 0;
        for index in 0..layout.count {
            let header = SectionHeader::at(&table, &layout, index)?;
            if header.flags & SHF_EXECINSTR != 0 {
                code.push((header.address as u64, (header.address + header.size) as u64));
            }
            if header.kind == SHT_SYMTAB {
                let strings = SectionHeader::at(&table, &layout, header.link)?;
                symbols = Some((section_of(&header), section_of(&strings)));
                symbol_size = header.entry_size;
            }
            let Some(name) = names.get(header.name..) else {
                continue;
            };
            let name = name.split(|&b| b == 0).next().unwrap_or_default();
            if name.starts_with(b".debug_") || name.starts_with(b".zdebug_") {
                if header.flags & SHF_COMPRESSED != 0 || name.starts_with(b".zdebug_") {
                    return None;
                }
                debug.push((name.to_vec(), header));
            }
        }
        let section = |wanted: &[u8]| {
            debug
                .iter()
                .find(|(name, _)| name == wanted)
                .map(|(_, header)| section_of(header))
        };
        Some(DebugFile {
            info: section(b".debug_info")?,
            abbrev: section(b".debug_abbrev")?,
            aranges: section(b".debug_aranges")?,
            line: section(b".debug_line")?,
            str: section(b".debug_str"),
            line_str: section(b".debug_line_str"),
            ranges: section(b".debug_ranges"),
            symbols,
            symbol_size,
            code,
            file,
        })
    }

    /// `length` bytes at `offset` in `section`; `None` past its end or if the read fails.
    pub(super) fn read(&self, section: Section, offset: u64, length: u64) -> Option<Vec<u8>> {
        if offset.checked_add(length)? > section.size {
            return None;
        }
        read_at(
            &self.file,
            section.offset.checked_add(offset)?,
            usize::try_from(length).ok()?,
        )
    }

    /// Up to `length` bytes at `offset` in `section`, fewer at its end.
    pub(super) fn read_up_to(&self, section: Section, offset: u64, length: u64) -> Option<Vec<u8>> {
        let length = length.min(section.size.checked_sub(offset)?);
        self.read(section, offset, length)
    }

    /// The whole section.
    pub(super) fn read_all(&self, section: Section) -> Option<Vec<u8>> {
        self.read(section, 0, section.size)
    }

    /// The DWARF entry at `offset` whose first field is its initial length (a unit, a line
    /// program): its bytes, that field included. `None` for a 64-bit DWARF length past the
    /// section or a read failure.
    pub(super) fn read_entry(&self, section: Section, offset: u64) -> Option<Vec<u8>> {
        self.read(section, offset, self.entry_length(section, offset)?)
    }

    /// The length of the DWARF entry at `offset` (see [`DebugFile::read_entry`]), its
    /// initial length field included.
    pub(super) fn entry_length(&self, section: Section, offset: u64) -> Option<u64> {
        let first = self.read(section, offset, 4)?;
        match u32::from_le_bytes(first.try_into().ok()?) {
            0xffff_ffff => {
                let long = self.read(section, offset.checked_add(4)?, 8)?;
                u64::from_le_bytes(long.try_into().ok()?).checked_add(12)
            }
            // 0xfffffff0..0xfffffffe are reserved: not DWARF this reader knows.
            0xffff_fff0.. => None,
            length => Some(u64::from(length) + 4),
        }
    }

    /// The NUL-terminated string at `offset` in `section`, without its NUL.
    pub(super) fn string(&self, section: Section, offset: u64) -> Option<Vec<u8>> {
        let mut chunk = 256;
        loop {
            let bytes = self.read_up_to(section, offset, chunk)?;
            if let Some(end) = bytes.iter().position(|&b| b == 0) {
                let mut bytes = bytes;
                bytes.truncate(end);
                return Some(bytes);
            }
            if (bytes.len() as u64) < chunk || chunk as usize >= MAX_STRING {
                return None;
            }
            chunk *= 4;
        }
    }
}

fn section_of(header: &SectionHeader) -> Section {
    Section {
        offset: header.offset as u64,
        size: header.size as u64,
    }
}

/// A string attribute's bytes: inline, or in `.debug_str` / `.debug_line_str`.
pub(super) fn string(file: &DebugFile, value: AttributeValue<Slice<'_>>) -> Option<Vec<u8>> {
    match value {
        AttributeValue::String(bytes) => Some(bytes.slice().to_vec()),
        AttributeValue::DebugStrRef(offset) => file.string(file.str?, offset.0 as u64),
        AttributeValue::DebugLineStrRef(offset) => file.string(file.line_str?, offset.0 as u64),
        _ => None,
    }
}

fn read_at(file: &File, offset: u64, length: usize) -> Option<Vec<u8>> {
    let mut bytes = vec![0; length];
    file.read_exact_at(&mut bytes, offset).ok()?;
    Some(bytes)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_this_test_binarys_debug_sections_within_their_bounds() {
        let file = DebugFile::open("/proc/self/exe").unwrap();
        let info = file.info;
        assert!(info.size() > 0);
        // A unit: its initial length says how long it is.
        let unit = file.read_entry(info, 0).unwrap();
        let length = u32::from_le_bytes(unit[..4].try_into().unwrap());
        assert_eq!(unit.len() as u64, u64::from(length) + 4);
        // Past the end: nothing, never a short read passed off as whole.
        assert!(file.read(info, info.size() - 2, 4).is_none());
        assert!(file.read(info, u64::MAX, 1).is_none());
        assert_eq!(file.read_up_to(info, info.size() - 2, 4).unwrap().len(), 2);
        assert!(file.read_entry(info, info.size()).is_none());
        // A string from the string table ends before its NUL.
        let strings = file.str.unwrap();
        let first = file.string(strings, 0).unwrap();
        assert!(!first.contains(&0));
        assert!(file.string(strings, strings.size()).is_none());
    }

    #[test]
    fn refuses_files_it_cannot_read() {
        assert!(DebugFile::open("/no/such/file").is_none());
        assert!(DebugFile::open("/proc/self/status").is_none());
    }
}
