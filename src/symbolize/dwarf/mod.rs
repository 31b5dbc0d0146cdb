//! Symbolizing the executable's own addresses by reading only the debug info they need.
//!
//! `backtrace::resolve` (through `addr2line`) maps the whole executable and, before the
//! first lookup, reads the header and root entry of every compilation unit: on a release
//! build with line tables that touched 7.3 of its 8 MiB of DWARF, and the mapped pages
//! stayed in the resident set (the tree benchmark's peak was 1.39× System's). This reader
//! starts from `.debug_aranges` (which address range is in which unit), reads with `pread`
//! only the units that hold an address asked for (and those their inlined functions' names
//! are in), and runs only their line programs. It follows `addr2line`'s rules, so it names
//! the same frames; `tests` below compare the two address by address.
//!
//! It answers for all of the executable's code, in DWARF 2–4 with uncompressed sections (what
//! rustc and cargo produce by default on Linux). A unit `.debug_aranges` does not list (C
//! built by clang without `-gdwarf-aranges`) is found from its root entry, as `addr2line`
//! finds it, the first time an address no listed range covers is asked about. Code the debug info says nothing of (std's
//! precompiled allocation paths, `__rust_try`) is named from the symbol table, as `backtrace`
//! names it: leaving it to `backtrace` would make it read all of the debug info after all.
//! Anything else (shared libraries, DWARF 5, compressed or missing debug info) is `None`, and
//! the caller asks `backtrace`.

mod file;
mod lines;
mod symbols;
mod unit;

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;

use gimli::{DebugAranges, LittleEndian};

use file::DebugFile;
use lines::Location;
use symbols::Symbols;
use unit::{NameRef, Named, Unit};

/// How deep a chain of `DW_AT_abstract_origin` / `DW_AT_specification` is followed for a
/// name (as `addr2line` does).
const NAME_HOPS: usize = 16;

/// One frame of an address: the function (its raw, mangled name; `None` when nothing names
/// it) and where in it.
#[derive(Debug, PartialEq, Eq)]
pub(crate) struct Resolved {
    pub(crate) name: Option<Vec<u8>>,
    pub(crate) file: Option<String>,
    pub(crate) line: Option<u32>,
    pub(crate) column: Option<u32>,
}

/// The executable's debug info, read as addresses ask for it.
pub(crate) struct Executable {
    file: DebugFile,
    /// Runtime address minus link-time address.
    bias: u64,
    abbrev: Box<[u8]>,
    /// `(begin, end, unit offset)`, sorted by `begin`.
    aranges: Box<[(u64, u64, u64)]>,
    /// The offsets of the units `.debug_aranges` lists, sorted.
    listed: Box<[u64]>,
    /// Units read so far, by offset (`None`: it could not be read).
    units: HashMap<u64, Option<Arc<Unit>>>,
    /// Known unit offsets and, once read, where each ends: finds the unit of a
    /// `DW_FORM_ref_addr` without reading every unit's header.
    bounds: BTreeMap<u64, Option<u64>>,
    /// The symbol table, read when code without debug info is first asked about.
    symbols: Option<Option<Symbols>>,
    /// Code ranges of the units `.debug_aranges` does not list, as `(begin, end, unit
    /// offset)`: `addr2line` finds an address in them from their root entry. Read once,
    /// the first time no listed range covers an address (rustc lists every unit that has
    /// code; C built by clang without `-gdwarf-aranges` is not listed).
    unlisted: Option<Box<[(u64, u64, u64)]>>,
}

impl Executable {
    /// The running executable's debug info, if it has what this reader needs.
    pub(crate) fn open() -> Option<Executable> {
        let file = DebugFile::open("/proc/self/exe")?;
        let bias = crate::capture::elf::executable_bias()? as u64;
        let abbrev = file.read_all(file.abbrev)?.into_boxed_slice();
        let aranges_bytes = file.read_all(file.aranges)?;
        let mut aranges = Vec::new();
        let mut listed = Vec::new();
        let mut headers = DebugAranges::new(&aranges_bytes, LittleEndian).headers();
        while let Some(header) = headers.next().ok()? {
            let unit = header.debug_info_offset().0 as u64;
            listed.push(unit);
            let mut entries = header.entries();
            while let Some(entry) = entries.next().ok()? {
                let range = entry.range();
                // Code the linker dropped keeps its entry with address 0 (a tombstone).
                if range.begin != 0 && range.begin < range.end {
                    aranges.push((range.begin, range.end, unit));
                }
            }
        }
        aranges.sort_unstable();
        listed.sort_unstable();
        listed.dedup();
        let bounds = listed.iter().map(|&unit| (unit, None)).collect();
        Some(Executable {
            file,
            bias,
            abbrev,
            aranges: aranges.into_boxed_slice(),
            listed: listed.into_boxed_slice(),
            units: HashMap::new(),
            bounds,
            symbols: None,
            unlisted: None,
        })
    }

    /// The frames of the return address `ip`, innermost (most inlined) first, as
    /// `backtrace::resolve` would give them; `None` when this reader cannot say (the
    /// caller then asks `backtrace`).
    pub(crate) fn frames(&mut self, ip: usize) -> Option<Vec<Resolved>> {
        // The call is the instruction before the return address (as `backtrace` does).
        let probe = (ip as u64).checked_sub(1)?.checked_sub(self.bias)?;
        if !self.file.code.iter().any(|&(b, e)| b <= probe && probe < e) {
            return None; // another object's code (a shared library's)
        }
        let Some(offset) = self.unit_offset_at(probe) else {
            // Code the debug info says nothing of: the symbol's name alone.
            return Some(self.symbol_only(probe));
        };
        let unit = self.unit(offset)?;
        let Some(entry) = unit.function_at(&self.file, probe) else {
            return Some(self.line_only(&unit, probe));
        };
        let (function, calls) = unit.calls_at(&self.file, entry, probe)?;
        let lines = unit.lines(&self.file);
        let mut location = lines.and_then(|lines| lines.location(probe));
        let mut frames = Vec::with_capacity(calls.len() + 1);
        // Innermost first: each inlined call's frame is at the location found so far, and
        // the call's own position is where its caller (one level out) is.
        for call in calls.iter().rev() {
            frames.push(self.frame(&unit, &call.named, probe, location.take()));
            location = Some(Location {
                file: call
                    .call_file
                    .and_then(|index| lines?.file(index))
                    .map(str::to_owned),
                line: (call.call_line != 0).then_some(call.call_line),
                column: (call.call_column != 0).then_some(call.call_column),
            });
        }
        frames.push(self.frame(&unit, &function, probe, location));
        Some(frames)
    }

    /// The unit whose code covers `probe`: one `.debug_aranges` lists, else one it does not.
    fn unit_offset_at(&mut self, probe: u64) -> Option<u64> {
        let index = self.aranges.partition_point(|range| range.0 <= probe);
        match index.checked_sub(1).map(|index| self.aranges[index]) {
            Some((_, end, offset)) if probe < end => Some(offset),
            _ => self.unlisted_unit_at(probe),
        }
    }

    /// The frame of code a unit covers but no function of it does: its line, named from
    /// the symbol table (or the symbol's name alone without a line).
    fn line_only(&mut self, unit: &Unit, probe: u64) -> Vec<Resolved> {
        match unit
            .lines(&self.file)
            .and_then(|lines| lines.location(probe))
        {
            Some(at) => vec![Resolved {
                name: self.symbol(probe),
                file: at.file,
                line: at.line,
                column: at.column,
            }],
            None => self.symbol_only(probe),
        }
    }

    /// A frame of `named`'s function at `at`; a function without a name is given the
    /// symbol table's name for `probe`, as `backtrace` does.
    fn frame(
        &mut self,
        unit: &Arc<Unit>,
        named: &Named,
        probe: u64,
        at: Option<Location>,
    ) -> Resolved {
        let name = match (&named.name, named.origin) {
            (Some(name), _) => Some(name.clone()),
            (None, Some(origin)) => self.name(unit.clone(), origin, NAME_HOPS),
            (None, None) => None,
        };
        let at = at.unwrap_or_default();
        Resolved {
            name: name.or_else(|| self.symbol(probe)),
            file: at.file,
            line: at.line,
            column: at.column,
        }
    }

    /// The unit `.debug_aranges` does not list whose code covers `probe`, if one does.
    fn unlisted_unit_at(&mut self, probe: u64) -> Option<u64> {
        if self.unlisted.is_none() {
            self.unlisted = Some(self.read_unlisted().unwrap_or_default());
        }
        let ranges = self.unlisted.as_deref()?;
        let &(_, _, offset) = ranges
            .iter()
            .find(|&&(begin, end, _)| begin <= probe && probe < end)?;
        Some(offset)
    }

    /// Walks every unit header (a few bytes each) and reads the root entry of each unit
    /// `.debug_aranges` does not list (in rustc's output, small ones without code) for its
    /// code ranges.
    fn read_unlisted(&mut self) -> Option<Box<[(u64, u64, u64)]>> {
        let mut ranges = Vec::new();
        let mut at = 0;
        while at < self.file.info.size() {
            let end = at.checked_add(self.file.entry_length(self.file.info, at)?)?;
            self.bounds.insert(at, Some(end));
            if self.listed.binary_search(&at).is_err() {
                let code = Unit::root_code_ranges(&self.file, &self.abbrev, at);
                for (begin, end) in code.unwrap_or_default() {
                    if begin != 0 {
                        ranges.push((begin, end, at));
                    }
                }
            }
            at = end;
        }
        Some(ranges.into_boxed_slice())
    }

    /// The frames of code the debug info does not cover: its symbol's name, or none.
    fn symbol_only(&mut self, probe: u64) -> Vec<Resolved> {
        self.symbol(probe)
            .map(|name| Resolved {
                name: Some(name),
                file: None,
                line: None,
                column: None,
            })
            .into_iter()
            .collect()
    }

    /// The symbol table's name for `probe`.
    fn symbol(&mut self, probe: u64) -> Option<Vec<u8>> {
        let file = &self.file;
        self.symbols
            .get_or_insert_with(|| Symbols::load(file))
            .as_ref()?
            .name_at(file, probe)
    }

    /// The name at the end of a chain of references.
    fn name(
        &mut self,
        mut unit: Arc<Unit>,
        mut reference: NameRef,
        hops: usize,
    ) -> Option<Vec<u8>> {
        for _ in 0..hops {
            let entry = match reference {
                NameRef::InUnit(entry) => entry,
                NameRef::InSection(offset) => {
                    unit = self.unit_containing(offset)?;
                    offset - unit.start
                }
            };
            let named = unit.entry_name(&self.file, entry)?;
            match (named.name, named.origin) {
                (Some(name), _) => return Some(name),
                (None, Some(next)) => reference = next,
                (None, None) => return None,
            }
        }
        None
    }

    /// The unit at `offset`, read once.
    fn unit(&mut self, offset: u64) -> Option<Arc<Unit>> {
        if let Some(unit) = self.units.get(&offset) {
            return unit.clone();
        }
        let unit = Unit::load(&self.file, &self.abbrev, offset).map(Arc::new);
        if let Some(unit) = &unit {
            self.bounds.insert(offset, Some(unit.end()));
        }
        self.units.insert(offset, unit.clone());
        unit
    }

    /// The unit that holds the entry at `offset` in `.debug_info`: from the nearest known
    /// unit before it, unit headers are read one after the other until one spans it.
    fn unit_containing(&mut self, offset: u64) -> Option<Arc<Unit>> {
        let mut at = match self.bounds.range(..=offset).next_back() {
            Some((&start, &Some(end))) if offset < end => return self.unit(start),
            Some((_, &Some(end))) => end,
            Some((&start, &None)) => start,
            None => 0,
        };
        while at < self.file.info.size() {
            let end = at.checked_add(self.file.entry_length(self.file.info, at)?)?;
            self.bounds.insert(at, Some(end));
            if offset < end {
                return self.unit(at);
            }
            at = end;
        }
        None
    }
}

#[cfg(test)]
mod tests;
