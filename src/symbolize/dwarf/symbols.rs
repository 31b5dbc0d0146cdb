//! The executable's symbol table: the name of code the debug info says nothing of (std's
//! precompiled allocation paths, `__rust_try`, C start-up code), chosen as the `backtrace`
//! crate chooses it, so both name such frames alike.

use super::file::{DebugFile, Section};
use crate::capture::elf::{STT_FUNC, STT_OBJECT, symbols};

/// Function and data symbols defined in the file, by address.
pub(super) struct Symbols {
    /// `(address, size, name offset)`, in the order `backtrace` sorts them.
    entries: Box<[(u64, u64, u32)]>,
    strings: Section,
}

impl Symbols {
    /// Reads the symbol table, if the file has one.
    pub(super) fn load(file: &DebugFile) -> Option<Symbols> {
        let (table, strings) = file.symbols?;
        let bytes = file.read_all(table)?;
        let mut entries = Vec::new();
        for symbol in symbols(&bytes, file.symbol_size) {
            // Function and data symbols defined in the file: the ones `backtrace` looks at.
            let kind = symbol.kind();
            if (kind != STT_FUNC && kind != STT_OBJECT) || symbol.section() == 0 {
                continue;
            }
            let name = u32::try_from(symbol.name()).ok()?;
            entries.push((symbol.address() as u64, symbol.size() as u64, name));
        }
        // The same unstable sort of the same sequence as `backtrace`: symbols sharing an
        // address come out in the same order, and the search below picks the same one.
        entries.sort_unstable_by_key(|entry| entry.0);
        Some(Symbols {
            entries: entries.into_boxed_slice(),
            strings,
        })
    }

    /// The symbols, as sorted.
    #[cfg(test)]
    pub(super) fn entries(&self) -> &[(u64, u64, u32)] {
        &self.entries
    }

    /// The name of the symbol at or before `probe` whose extent (its end included, as
    /// `backtrace` has it) reaches `probe`.
    pub(super) fn name_at(&self, file: &DebugFile, probe: u64) -> Option<Vec<u8>> {
        let index = match self.entries.binary_search_by_key(&probe, |entry| entry.0) {
            Ok(index) => index,
            Err(index) => index.checked_sub(1)?,
        };
        let (address, size, name) = *self.entries.get(index)?;
        if probe > address.checked_add(size)? {
            return None;
        }
        file.string(self.strings, u64::from(name))
    }
}
