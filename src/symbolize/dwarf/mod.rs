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
//! It answers for the executable's code in DWARF 2–4 with uncompressed sections (what
//! rustc and cargo produce by default on Linux); anything else (shared libraries, DWARF 5,
//! compressed or missing debug info, an address no range covers) is `None`, and the caller
//! asks `backtrace`.

mod file;
mod lines;
mod unit;

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;

use gimli::{DebugAranges, LittleEndian};

use file::DebugFile;
use lines::Location;
use unit::{NameRef, Named, Unit};

/// How deep a chain of `DW_AT_abstract_origin` / `DW_AT_specification` is followed for a
/// name (as `addr2line` does).
const NAME_HOPS: usize = 16;

/// One frame of an address: the function (its raw, mangled name) and where in it.
#[derive(Debug, PartialEq, Eq)]
pub(crate) struct Resolved {
    pub(crate) name: Vec<u8>,
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
    /// Units read so far, by offset (`None`: it could not be read).
    units: HashMap<u64, Option<Arc<Unit>>>,
    /// Known unit offsets and, once read, where each ends: finds the unit of a
    /// `DW_FORM_ref_addr` without reading every unit's header.
    bounds: BTreeMap<u64, Option<u64>>,
}

impl Executable {
    /// The running executable's debug info, if it has what this reader needs.
    pub(crate) fn open() -> Option<Executable> {
        let file = DebugFile::open("/proc/self/exe")?;
        let bias = crate::capture::elf::executable_bias()? as u64;
        let abbrev = file.read_all(file.abbrev)?.into_boxed_slice();
        let aranges_bytes = file.read_all(file.aranges)?;
        let mut aranges = Vec::new();
        let mut headers = DebugAranges::new(&aranges_bytes, LittleEndian).headers();
        while let Some(header) = headers.next().ok()? {
            let unit = header.debug_info_offset().0 as u64;
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
        let bounds = aranges.iter().map(|&(_, _, unit)| (unit, None)).collect();
        Some(Executable {
            file,
            bias,
            abbrev,
            aranges: aranges.into_boxed_slice(),
            units: HashMap::new(),
            bounds,
        })
    }

    /// The frames of the return address `ip`, innermost (most inlined) first, as
    /// `backtrace::resolve` would give them; `None` when this reader cannot say (the
    /// caller then asks `backtrace`).
    pub(crate) fn frames(&mut self, ip: usize) -> Option<Vec<Resolved>> {
        // The call is the instruction before the return address (as `backtrace` does).
        let probe = (ip as u64).checked_sub(1)?.checked_sub(self.bias)?;
        let index = self.aranges.partition_point(|range| range.0 <= probe);
        let &(_, end, offset) = self.aranges.get(index.checked_sub(1)?)?;
        if probe >= end {
            return None;
        }
        let unit = self.unit(offset)?;
        let entry = unit.function_at(&self.file, probe)?;
        let (function, calls) = unit.calls_at(&self.file, entry, probe)?;
        let lines = unit.lines(&self.file);
        let mut location = lines.and_then(|lines| lines.location(probe));
        let mut frames = Vec::with_capacity(calls.len() + 1);
        // Innermost first: each inlined call's frame is at the location found so far, and
        // the call's own position is where its caller (one level out) is.
        for call in calls.iter().rev() {
            frames.push(self.frame(&unit, &call.named, location.take())?);
            location = Some(Location {
                file: call
                    .call_file
                    .and_then(|index| lines?.file(index))
                    .map(str::to_owned),
                line: (call.call_line != 0).then_some(call.call_line),
                column: (call.call_column != 0).then_some(call.call_column),
            });
        }
        frames.push(self.frame(&unit, &function, location)?);
        Some(frames)
    }

    fn frame(&mut self, unit: &Arc<Unit>, named: &Named, at: Option<Location>) -> Option<Resolved> {
        let name = match (&named.name, named.origin) {
            (Some(name), _) => name.clone(),
            (None, Some(origin)) => self.name(unit.clone(), origin, NAME_HOPS)?,
            // `backtrace` would use the symbol table's name: let it.
            (None, None) => return None,
        };
        let at = at.unwrap_or_default();
        Some(Resolved {
            name,
            file: at.file,
            line: at.line,
            column: at.column,
        })
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
