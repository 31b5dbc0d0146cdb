//! One compilation unit read on its own: its bytes, abbreviations and root attributes, the
//! code ranges of its functions, and the inlined calls at one address.
//!
//! The lookups follow `addr2line` (which the `backtrace` crate uses) rule for rule, so both
//! name the same frames: `tests` in `mod.rs` compare them address by address.

use std::sync::OnceLock;

use gimli::{
    AttributeValue, DebugAbbrev, DebugAbbrevOffset, DebugInfo, DebugInfoOffset, LittleEndian,
    Reader, UnitOffset,
};

use super::file::{DebugFile, Slice, string};
use super::lines::Lines;

type Entries<'abbrev, 'unit, 'bytes> = gimli::EntriesRaw<'abbrev, 'unit, Slice<'bytes>>;

/// Where a function's name comes from when it has none of its own: another entry, in this
/// unit or (`DW_FORM_ref_addr`) anywhere in `.debug_info`.
#[derive(Clone, Copy, Debug)]
pub(super) enum NameRef {
    InUnit(u64),
    InSection(u64),
}

/// A compilation unit, loaded when an address in it (or a name it holds) is first needed.
pub(super) struct Unit {
    /// Offset of the unit in `.debug_info`.
    pub(super) start: u64,
    bytes: Box<[u8]>,
    abbreviations: gimli::Abbreviations,
    /// The unit's base address (`DW_AT_low_pc` of its root), for its range lists.
    low_pc: u64,
    comp_dir: Option<Vec<u8>>,
    name: Option<Vec<u8>>,
    stmt_list: Option<u64>,
    address_size: u8,
    /// The root entry's address attributes.
    root: Ranges,
    lines: OnceLock<Option<Lines>>,
    functions: OnceLock<Option<Box<[FunctionRange]>>>,
}

/// One code range of a function, sorted by `begin` in the unit's index.
#[derive(Clone, Copy, Debug)]
struct FunctionRange {
    begin: u64,
    end: u64,
    entry: u64,
}

/// What the entry of a function or inlined call says, its name not yet followed.
#[derive(Debug, Default)]
pub(super) struct Named {
    /// The name found in the entry's own attributes (linkage name first).
    pub(super) name: Option<Vec<u8>>,
    /// Where to look when `name` is `None`.
    pub(super) origin: Option<NameRef>,
}

/// An inlined call whose code covers the probed address.
#[derive(Debug)]
pub(super) struct InlinedCall {
    pub(super) named: Named,
    pub(super) call_file: Option<u64>,
    pub(super) call_line: u32,
    pub(super) call_column: u32,
}

impl Unit {
    /// Reads the unit at `start` in `.debug_info`. `None` for anything but DWARF 2–4 (their
    /// forms are the ones read here; DWARF 5 goes to the general symbolizer).
    pub(super) fn load(file: &DebugFile, abbrev: &[u8], start: u64) -> Option<Unit> {
        Unit::read(file, start, |header, _| {
            header
                .abbreviations(&DebugAbbrev::new(abbrev, LittleEndian))
                .ok()
        })
    }

    /// The code ranges of the unit at `start`, from its root entry alone. Only the root's
    /// abbreviation is parsed, not the whole table (which units may share, and which for a
    /// unit of a debug build can run to thousands of entries).
    pub(super) fn root_code_ranges(
        file: &DebugFile,
        abbrev: &[u8],
        start: u64,
    ) -> Option<Vec<(u64, u64)>> {
        Unit::root_only(file, abbrev, start)
            .or_else(|| Unit::load(file, abbrev, start))?
            .code_ranges(file)
    }

    /// The unit at `start` with only its root entry's abbreviation parsed: enough for its
    /// root attributes, nothing else.
    fn root_only(file: &DebugFile, abbrev: &[u8], start: u64) -> Option<Unit> {
        Unit::read(file, start, |header, code| {
            let table = abbrev.get(header.debug_abbrev_offset().0..)?;
            let mut table = abbreviation_entry(table, code)?;
            table.push(0); // the end of a one-entry table
            DebugAbbrev::new(&table, LittleEndian)
                .abbreviations(DebugAbbrevOffset(0))
                .ok()
        })
    }

    /// Reads the unit at `start` with the abbreviations `abbreviations` parses for it, given
    /// its header and the abbreviation code of its root entry.
    fn read(
        file: &DebugFile,
        start: u64,
        abbreviations: impl FnOnce(&gimli::UnitHeader<Slice<'_>>, u64) -> Option<gimli::Abbreviations>,
    ) -> Option<Unit> {
        let bytes = file.read_entry(file.info, start)?.into_boxed_slice();
        let header = header(&bytes)?;
        if !(2..=4).contains(&header.version()) {
            return None;
        }
        let mut root_entry = Slice::new(bytes.get(header.header_size()..)?, LittleEndian);
        let root_code = gimli::leb128::read::unsigned(&mut root_entry).ok()?;
        let abbreviations = abbreviations(&header, root_code)?;
        // The root entry: the unit's base address, directory, name and line program.
        let (mut low_pc, mut comp_dir, mut name, mut stmt_list) = (0, None, None, None);
        let mut root = Ranges::default();
        let mut entries = header.entries_raw(&abbreviations, None).ok()?;
        let abbreviation = entries.read_abbreviation().ok()??;
        for spec in abbreviation.attributes() {
            let attribute = entries.read_attribute(*spec).ok()?;
            root.read(&attribute);
            match (attribute.name(), attribute.value()) {
                (gimli::DW_AT_low_pc, AttributeValue::Addr(address)) => low_pc = address,
                (gimli::DW_AT_comp_dir, value) => comp_dir = string(file, value),
                (gimli::DW_AT_name, value) => name = string(file, value),
                (gimli::DW_AT_stmt_list, AttributeValue::DebugLineRef(offset)) => {
                    stmt_list = Some(offset.0 as u64);
                }
                _ => {}
            }
        }
        let address_size = header.address_size();
        Some(Unit {
            start,
            bytes,
            abbreviations,
            low_pc,
            comp_dir,
            name,
            stmt_list,
            address_size,
            root,
            lines: OnceLock::new(),
            functions: OnceLock::new(),
        })
    }

    /// The code ranges the unit's root entry gives (`.debug_aranges` usually says the same,
    /// for the units it lists).
    pub(super) fn code_ranges(&self, file: &DebugFile) -> Option<Vec<(u64, u64)>> {
        self.root.resolve(file, self)
    }

    /// The offset just past the unit in `.debug_info`.
    pub(super) fn end(&self) -> u64 {
        self.start + self.bytes.len() as u64
    }

    /// The unit's line table, parsed once.
    pub(super) fn lines(&self, file: &DebugFile) -> Option<&Lines> {
        self.lines
            .get_or_init(|| {
                Lines::load(
                    file,
                    self.stmt_list?,
                    self.address_size,
                    self.comp_dir.as_deref(),
                    self.name.as_deref(),
                )
            })
            .as_ref()
    }

    /// The entry offset of the function whose code covers `probe`, if one does.
    pub(super) fn function_at(&self, file: &DebugFile, probe: u64) -> Option<u64> {
        let functions = self
            .functions
            .get_or_init(|| self.function_ranges(file))
            .as_deref()?;
        // Ranges do not overlap (functions folded into one share a range: either is right).
        let index = functions.partition_point(|range| range.begin <= probe);
        let range = functions.get(index.checked_sub(1)?)?;
        (probe < range.end).then_some(range.entry)
    }

    /// Every function's code ranges (entries `DW_TAG_subprogram` with an address).
    fn function_ranges(&self, file: &DebugFile) -> Option<Box<[FunctionRange]>> {
        let header = header(&self.bytes)?;
        let mut entries = header.entries_raw(&self.abbreviations, None).ok()?;
        let mut functions = Vec::new();
        while !entries.is_empty() {
            let entry = entries.next_offset().0 as u64;
            let Some(abbreviation) = entries.read_abbreviation().ok()? else {
                continue;
            };
            if abbreviation.tag() != gimli::DW_TAG_subprogram {
                entries.skip_attributes(abbreviation.attributes()).ok()?;
                continue;
            }
            let mut ranges = Ranges::default();
            for spec in abbreviation.attributes() {
                ranges.read(&entries.read_attribute(*spec).ok()?);
            }
            for (begin, end) in ranges.resolve(file, self)? {
                functions.push(FunctionRange { begin, end, entry });
            }
        }
        functions.sort_by_key(|range| range.begin);
        Some(functions.into_boxed_slice())
    }

    /// The function entry at `entry`: its name (or where to find it) and the inlined calls
    /// whose code covers `probe`, outermost first.
    pub(super) fn calls_at(
        &self,
        file: &DebugFile,
        entry: u64,
        probe: u64,
    ) -> Option<(Named, Vec<InlinedCall>)> {
        let header = header(&self.bytes)?;
        let mut entries = header
            .entries_raw(&self.abbreviations, Some(UnitOffset(entry as usize)))
            .ok()?;
        let depth = entries.next_depth();
        let abbreviation = entries.read_abbreviation().ok()??;
        let mut named = Named::default();
        for spec in abbreviation.attributes() {
            named.read(file, &entries.read_attribute(*spec).ok()?);
        }
        let mut found = Vec::new();
        self.inlined_children(file, &mut entries, depth, 0, probe, &mut found)?;
        // One call per depth, outermost first: the first found at each depth, as long as the
        // depths follow on.
        let mut chain = Vec::new();
        for (depth, call) in found {
            if depth == chain.len() {
                chain.push(call);
            }
        }
        Some((named, chain))
    }

    /// Walks the entries below `depth`, collecting the inlined calls that cover `probe` with
    /// their inlining depth. Nested functions are skipped; other entries (lexical blocks)
    /// are walked through at the same inlining depth.
    fn inlined_children(
        &self,
        file: &DebugFile,
        entries: &mut Entries<'_, '_, '_>,
        depth: isize,
        inlined_depth: usize,
        probe: u64,
        found: &mut Vec<(usize, InlinedCall)>,
    ) -> Option<()> {
        loop {
            let next_depth = entries.next_depth();
            if next_depth <= depth {
                return Some(());
            }
            let Some(abbreviation) = entries.read_abbreviation().ok()? else {
                continue;
            };
            match abbreviation.tag() {
                gimli::DW_TAG_subprogram => {
                    entries.skip_attributes(abbreviation.attributes()).ok()?;
                    while entries.next_depth() > next_depth {
                        if let Some(inner) = entries.read_abbreviation().ok()? {
                            entries.skip_attributes(inner.attributes()).ok()?;
                        }
                    }
                }
                gimli::DW_TAG_inlined_subroutine => {
                    let mut ranges = Ranges::default();
                    let mut call = InlinedCall {
                        named: Named::default(),
                        call_file: None,
                        call_line: 0,
                        call_column: 0,
                    };
                    for spec in abbreviation.attributes() {
                        let attribute = entries.read_attribute(*spec).ok()?;
                        ranges.read(&attribute);
                        call.named.read(file, &attribute);
                        match (attribute.name(), attribute.value()) {
                            // A file index of 0 means "no file" before DWARF 5.
                            (gimli::DW_AT_call_file, AttributeValue::FileIndex(index))
                                if index > 0 =>
                            {
                                call.call_file = Some(index);
                            }
                            (gimli::DW_AT_call_line, _) => {
                                call.call_line = attribute.udata_value().unwrap_or(0) as u32;
                            }
                            (gimli::DW_AT_call_column, _) => {
                                call.call_column = attribute.udata_value().unwrap_or(0) as u32;
                            }
                            _ => {}
                        }
                    }
                    let covers = ranges
                        .resolve(file, self)?
                        .iter()
                        .any(|&(begin, end)| begin <= probe && probe < end);
                    if covers {
                        found.push((inlined_depth, call));
                    }
                    self.inlined_children(
                        file,
                        entries,
                        next_depth,
                        inlined_depth + 1,
                        probe,
                        found,
                    )?;
                }
                _ => entries.skip_attributes(abbreviation.attributes()).ok()?,
            }
        }
    }

    /// The name an entry holds: its linkage name, else its name, else the name of the entry
    /// its `DW_AT_abstract_origin` or `DW_AT_specification` points at.
    pub(super) fn entry_name(&self, file: &DebugFile, entry: u64) -> Option<Named> {
        let header = header(&self.bytes)?;
        let mut entries = header
            .entries_raw(&self.abbreviations, Some(UnitOffset(entry as usize)))
            .ok()?;
        let abbreviation = entries.read_abbreviation().ok()??;
        let mut linkage = None;
        let mut name = None;
        let mut origin = None;
        for spec in abbreviation.attributes() {
            let attribute = entries.read_attribute(*spec).ok()?;
            match attribute.name() {
                gimli::DW_AT_linkage_name | gimli::DW_AT_MIPS_linkage_name => {
                    if let Some(found) = string(file, attribute.value()) {
                        linkage = Some(found);
                        break;
                    }
                }
                gimli::DW_AT_name => {
                    if let Some(found) = string(file, attribute.value()) {
                        name = Some(found);
                    }
                }
                gimli::DW_AT_abstract_origin | gimli::DW_AT_specification => {
                    origin = name_ref(attribute.value());
                }
                _ => {}
            }
        }
        Some(match linkage.or(name) {
            Some(name) => Named {
                name: Some(name),
                origin: None,
            },
            None => Named { name: None, origin },
        })
    }
}

impl Named {
    /// Takes in one attribute of a function or inlined call, as `addr2line` does: a linkage
    /// name replaces anything found before it; a plain name or a reference counts only
    /// while nothing was found.
    fn read(&mut self, file: &DebugFile, attribute: &gimli::Attribute<Slice<'_>>) {
        match attribute.name() {
            gimli::DW_AT_linkage_name | gimli::DW_AT_MIPS_linkage_name => {
                if let Some(name) = string(file, attribute.value()) {
                    self.name = Some(name);
                    self.origin = None;
                }
            }
            gimli::DW_AT_name if self.name.is_none() && self.origin.is_none() => {
                self.name = string(file, attribute.value());
            }
            gimli::DW_AT_abstract_origin | gimli::DW_AT_specification
                if self.name.is_none() && self.origin.is_none() =>
            {
                self.origin = name_ref(attribute.value());
            }
            _ => {}
        }
    }
}

fn name_ref(value: AttributeValue<Slice<'_>>) -> Option<NameRef> {
    match value {
        AttributeValue::UnitRef(offset) => Some(NameRef::InUnit(offset.0 as u64)),
        AttributeValue::DebugInfoRef(offset) => Some(NameRef::InSection(offset.0 as u64)),
        _ => None,
    }
}

/// The bytes of abbreviation `code` in the table `table` starts with (its code, tag,
/// children flag and attribute specifications up to their (0, 0) end), found by stepping
/// over the entries before it without parsing them into a table.
fn abbreviation_entry(table: &[u8], code: u64) -> Option<Vec<u8>> {
    let mut input = Slice::new(table, LittleEndian);
    loop {
        let start = table.len() - input.len();
        let found = gimli::leb128::read::unsigned(&mut input).ok()?;
        if found == 0 {
            return None; // the end of the table
        }
        gimli::leb128::read::unsigned(&mut input).ok()?; // tag
        input.read_u8().ok()?; // children
        loop {
            let name = gimli::leb128::read::unsigned(&mut input).ok()?;
            let form = gimli::leb128::read::unsigned(&mut input).ok()?;
            if form == u64::from(gimli::DW_FORM_implicit_const.0) {
                gimli::leb128::read::signed(&mut input).ok()?;
            }
            if name == 0 && form == 0 {
                break;
            }
        }
        if found == code {
            return Some(table[start..table.len() - input.len()].to_vec());
        }
    }
}

/// The header of the unit whose bytes (from its initial length on) are `bytes`.
fn header(bytes: &[u8]) -> Option<gimli::UnitHeader<Slice<'_>>> {
    DebugInfo::new(bytes, LittleEndian)
        .header_from_offset(DebugInfoOffset(0))
        .ok()
}

/// An entry's address attributes, resolved into ranges once all are read.
#[derive(Clone, Copy, Default)]
struct Ranges {
    low_pc: Option<u64>,
    high_pc: Option<u64>,
    size: Option<u64>,
    list: Option<u64>,
}

impl Ranges {
    fn read(&mut self, attribute: &gimli::Attribute<Slice<'_>>) {
        match (attribute.name(), attribute.value()) {
            (gimli::DW_AT_low_pc, AttributeValue::Addr(address)) => self.low_pc = Some(address),
            (gimli::DW_AT_high_pc, AttributeValue::Addr(address)) => self.high_pc = Some(address),
            (gimli::DW_AT_high_pc, AttributeValue::Udata(size)) => self.size = Some(size),
            (gimli::DW_AT_ranges, AttributeValue::RangeListsRef(offset)) => {
                self.list = Some(offset.0 as u64);
            }
            _ => {}
        }
    }

    /// The non-empty ranges; `None` if a range list cannot be read.
    fn resolve(&self, file: &DebugFile, unit: &Unit) -> Option<Vec<(u64, u64)>> {
        if let Some(offset) = self.list {
            return range_list(file, unit, offset);
        }
        let (Some(begin), end) = (self.low_pc, self.high_pc) else {
            return Some(Vec::new());
        };
        let end = match (end, self.size) {
            (Some(end), _) => end,
            (None, Some(size)) => begin.wrapping_add(size),
            (None, None) => return Some(Vec::new()),
        };
        Some(if begin < end {
            vec![(begin, end)]
        } else {
            Vec::new()
        })
    }
}

/// A DWARF 4 range list in `.debug_ranges`: pairs of addresses relative to a base (the
/// unit's `low_pc` until a base-address entry changes it), ended by a pair of zeros.
fn range_list(file: &DebugFile, unit: &Unit, offset: u64) -> Option<Vec<(u64, u64)>> {
    if unit.address_size != 8 {
        return None;
    }
    let section = file.ranges?;
    let mut ranges = Vec::new();
    let mut base = unit.low_pc;
    let mut at = offset;
    loop {
        let chunk = file.read_up_to(section, at, 512)?;
        if chunk.len() < 16 {
            return None;
        }
        for pair in chunk.chunks_exact(16) {
            let begin = u64::from_le_bytes(pair[..8].try_into().ok()?);
            let end = u64::from_le_bytes(pair[8..].try_into().ok()?);
            match (begin, end) {
                (0, 0) => return Some(ranges),
                (u64::MAX, address) => base = address,
                // A function the linker dropped keeps a tombstone range: skipped, as gimli does.
                (begin, end) => {
                    let (begin, end) = (base.wrapping_add(begin), base.wrapping_add(end));
                    if begin < end {
                        ranges.push((begin, end));
                    }
                }
            }
            at += 16;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_units_root_alone_gives_the_ranges_its_whole_table_gives() {
        let file = DebugFile::open("/proc/self/exe").unwrap();
        let abbrev = file.read_all(file.abbrev).unwrap();
        let (mut at, mut units, mut with_code) = (0, 0, 0);
        // Every unit of this test binary (some share their abbreviation tables, whose
        // root entries are then not the tables' first).
        while at < file.info.size() {
            let whole = Unit::load(&file, &abbrev, at).unwrap();
            let root = Unit::root_only(&file, &abbrev, at).unwrap();
            let ranges = whole.code_ranges(&file).unwrap();
            assert_eq!(root.code_ranges(&file).unwrap(), ranges, "unit at {at:#x}");
            assert_eq!(
                (root.stmt_list, &root.comp_dir),
                (whole.stmt_list, &whole.comp_dir)
            );
            units += 1;
            with_code += usize::from(!ranges.is_empty());
            at = whole.end();
        }
        assert!(
            units > 100 && with_code > 10,
            "{units} units, {with_code} with code"
        );
    }

    #[test]
    fn finds_an_abbreviation_by_code_past_the_others() {
        // Code 1: tag 0x11, children, (name 0x03, form 0x08), end; code 2: tag 0x2e, no
        // children, (0x3f, implicit_const 0x21, -1), end; the table's end.
        let table = [
            1, 0x11, 1, 0x03, 0x08, 0, 0, //
            2, 0x2e, 0, 0x3f, 0x21, 0x7f, 0, 0, //
            0,
        ];
        assert_eq!(abbreviation_entry(&table, 1).unwrap(), &table[..7]);
        assert_eq!(abbreviation_entry(&table, 2).unwrap(), &table[7..15]);
        assert!(abbreviation_entry(&table, 3).is_none());
        assert!(
            abbreviation_entry(&table[..9], 2).is_none(),
            "a cut table is refused"
        );
    }
}
