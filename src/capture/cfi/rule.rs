//! How to step from one x86_64 frame to its caller, in one word.
//!
//! An unwind table row (DWARF CFI) can say many things; at a call site in compiled Rust or C
//! code it almost always says one of a few: the canonical frame address (CFA, the caller's
//! stack pointer) is `rsp + n` or `rbp + n`, the return address is the word just below the
//! CFA, and `rbp` is either untouched or saved at `CFA + m`. [`Rule`] holds exactly that, so
//! a cached rule is one `u64` and a step is two adds and at most two loads. Anything else
//! (CFA expressions, registers saved in other registers, a return address elsewhere) is
//! [`Rule::Unsupported`], and the capture hands the whole stack to the platform unwinder.

/// What a cached unwind rule says about one code address.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Rule {
    /// A frame with a caller: CFA = `base + cfa_offset`, return address at `CFA - 8`
    /// (offsets are multiples of 8).
    Step {
        /// The register the CFA is computed from.
        base: Base,
        /// Added to `base` to give the CFA (the caller's stack pointer); at most
        /// [`MAX_CFA_OFFSET`].
        cfa_offset: u32,
        /// Where the caller's `rbp` is saved, relative to the CFA; `None` if this frame
        /// leaves `rbp` as the caller had it.
        saved_rbp: Option<i16>,
    },
    /// The outermost frame: the return address is undefined (`_start`, a thread's entry).
    Outermost,
    /// A rule this unwinder does not follow, or no unwind information at all.
    Unsupported,
}

/// The register a CFA is computed from.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Base {
    Rsp,
    Rbp,
}

/// Largest CFA offset a rule holds (a frame of 512 KiB); larger frames are
/// [`Rule::Unsupported`].
pub(super) const MAX_CFA_OFFSET: u32 = 8 * 0xffff;

/// A [`Rule`] in 28 bits (the rest of a cache word is the address's tag), laid out so that a
/// step decodes it with a shift or two:
///
/// - bits 0..16: the CFA offset, in words;
/// - bits 16..24: where `rbp` is saved relative to the CFA, in words, as `i8`; 0 if not
///   saved (the word at the CFA belongs to the caller, so no frame saves `rbp` there);
/// - bit 24: the CFA is computed from `rbp` (else from `rsp`);
/// - bits 25..27: the kind: [`Packed::STEP`], [`Packed::OUTERMOST`] or
///   [`Packed::UNSUPPORTED`] (never 0: a packed rule is never 0);
/// - bit 27: the address is in a function where std enters user code (captures stop after
///   it, see `capture::runtime_entry`), so the walk learns it from the word it already has.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) struct Packed(pub(super) u64);

impl Packed {
    pub(super) const STEP: u64 = 1;
    pub(super) const OUTERMOST: u64 = 2;
    pub(super) const UNSUPPORTED: u64 = 3;
    const BASE_RBP: u64 = 1 << 24;
    const KIND_SHIFT: u32 = 25;
    const KIND_MASK: u64 = 3 << Self::KIND_SHIFT;
    const ENTRY: u64 = 1 << 27;

    /// The mask for [`Packed::continues`]: the kind, and the entry bit when captures stop at
    /// the runtime's entry.
    #[inline(always)]
    pub(super) const fn continue_mask(stop_at_entry: bool) -> u64 {
        Self::KIND_MASK | if stop_at_entry { Self::ENTRY } else { 0 }
    }

    /// Whether the walk goes on to the caller: a step, and not a runtime entry where the
    /// walk stops (`mask` from [`Packed::continue_mask`]). One test for both, as every
    /// frame of every capture asks it.
    #[inline(always)]
    pub(super) fn continues(self, mask: u64) -> bool {
        self.0 & mask == Self::STEP << Self::KIND_SHIFT
    }

    /// The rule marked as one in a runtime entry function.
    pub(super) fn in_entry(self) -> Packed {
        Packed(self.0 | Self::ENTRY)
    }

    /// Whether the address is in a runtime entry function.
    #[cfg(test)]
    pub(super) fn is_entry(self) -> bool {
        self.0 & Self::ENTRY != 0
    }

    /// [`Packed::STEP`], [`Packed::OUTERMOST`] or [`Packed::UNSUPPORTED`].
    #[inline(always)]
    pub(super) fn kind(self) -> u64 {
        (self.0 >> Self::KIND_SHIFT) & 3
    }

    /// For a step: whether the CFA is computed from `rbp`.
    #[inline(always)]
    pub(super) fn cfa_from_rbp(self) -> bool {
        self.0 & Self::BASE_RBP != 0
    }

    /// For a step: the CFA offset in bytes.
    #[inline(always)]
    pub(super) fn cfa_offset(self) -> usize {
        (self.0 as u16 as usize) * 8
    }

    /// For a step: where `rbp` is saved relative to the CFA, in bytes; 0 if it is not.
    #[inline(always)]
    pub(super) fn saved_rbp(self) -> isize {
        isize::from((self.0 >> 16) as u8 as i8) * 8
    }
}

impl Rule {
    /// The rule in 27 bits (see [`Packed`]). Steps must fit: `from_row` makes the others
    /// [`Rule::Unsupported`].
    pub(super) fn pack(self) -> Packed {
        Packed(match self {
            Rule::Step {
                base,
                cfa_offset,
                saved_rbp,
            } => {
                let mut word = (Packed::STEP << Packed::KIND_SHIFT) | u64::from(cfa_offset / 8);
                if base == Base::Rbp {
                    word |= Packed::BASE_RBP;
                }
                word | (u64::from((saved_rbp.unwrap_or(0) / 8) as i8 as u8) << 16)
            }
            Rule::Outermost => Packed::OUTERMOST << Packed::KIND_SHIFT,
            Rule::Unsupported => Packed::UNSUPPORTED << Packed::KIND_SHIFT,
        })
    }

    /// The rule a word holds, for tests and logs.
    #[cfg(test)]
    pub(super) fn unpack(packed: Packed) -> Rule {
        match packed.kind() {
            Packed::STEP => Rule::Step {
                base: if packed.cfa_from_rbp() {
                    Base::Rbp
                } else {
                    Base::Rsp
                },
                cfa_offset: packed.cfa_offset() as u32,
                saved_rbp: i16::try_from(packed.saved_rbp()).ok().filter(|&o| o != 0),
            },
            Packed::OUTERMOST => Rule::Outermost,
            _ => Rule::Unsupported,
        }
    }
}

/// Where a saved `rbp` may be, relative to the CFA, for a rule to hold it: below the return
/// address (at `CFA - 8`), where a frame pushes what it saves. The walk relies on it: a slot
/// at `CFA - 16` or lower is below the stack base whenever the CFA is not above it.
pub(super) const SAVED_RBP_RANGE: core::ops::RangeInclusive<i16> = -1024..=-16;

/// DWARF register numbers of x86_64 (System V psABI, figure 3.36).
mod register {
    pub(super) const RBP: u16 = 6;
    pub(super) const RSP: u16 = 7;
    pub(super) const RETURN_ADDRESS: u16 = 16;
}

/// The rule for one unwind table row, or `Unsupported` for a row this unwinder does not follow.
pub(super) fn from_row<T, S>(row: &gimli::UnwindTableRow<T, S>) -> Rule
where
    T: gimli::ReaderOffset,
    S: gimli::UnwindContextStorage<T>,
{
    use gimli::{CfaRule, Register, RegisterRule};
    let (base, cfa_offset) = match *row.cfa() {
        CfaRule::RegisterAndOffset { register, offset } => {
            let base = match register.0 {
                register::RSP => Base::Rsp,
                register::RBP => Base::Rbp,
                _ => return Rule::Unsupported,
            };
            // Stack slots are 8-byte aligned; an odd offset is not a rule of compiled code.
            match u32::try_from(offset) {
                Ok(offset) if offset <= MAX_CFA_OFFSET && offset % 8 == 0 => (base, offset),
                _ => return Rule::Unsupported,
            }
        }
        CfaRule::Expression(_) => return Rule::Unsupported,
    };
    match row.register(Register(register::RETURN_ADDRESS)) {
        // x86_64's `call` pushes the return address just below the caller's stack pointer.
        RegisterRule::Offset(-8) => {}
        // The ABI marks the outermost frame by leaving the return address undefined.
        RegisterRule::Undefined => return Rule::Outermost,
        _ => return Rule::Unsupported,
    }
    let saved_rbp = match row.register(Register(register::RBP)) {
        // No rule for a callee-saved register means "not changed by this frame".
        RegisterRule::Undefined | RegisterRule::SameValue => None,
        RegisterRule::Offset(offset) => match i16::try_from(offset) {
            Ok(offset) if offset != 0 && offset % 8 == 0 && SAVED_RBP_RANGE.contains(&offset) => {
                Some(offset)
            }
            _ => return Rule::Unsupported,
        },
        _ => return Rule::Unsupported,
    };
    Rule::Step {
        base,
        cfa_offset,
        saved_rbp,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rules_survive_packing() {
        let rules = [
            Rule::Step {
                base: Base::Rsp,
                cfa_offset: 8,
                saved_rbp: None,
            },
            Rule::Step {
                base: Base::Rbp,
                cfa_offset: 16,
                saved_rbp: Some(-16),
            },
            Rule::Step {
                base: Base::Rsp,
                cfa_offset: MAX_CFA_OFFSET,
                saved_rbp: Some(*SAVED_RBP_RANGE.start()),
            },
            Rule::Step {
                base: Base::Rbp,
                cfa_offset: 8,
                saved_rbp: Some(*SAVED_RBP_RANGE.end()),
            },
            Rule::Outermost,
            Rule::Unsupported,
        ];
        for rule in rules {
            let packed = rule.pack();
            assert_ne!(packed.0, 0, "{rule:?} packs to the empty slot");
            assert!(packed.0 < 1 << 27, "{rule:?} does not fit in 27 bits");
            assert_eq!(Rule::unpack(packed.in_entry()), rule);
            assert!(packed.in_entry().is_entry() && !packed.is_entry());
            let step = matches!(rule, Rule::Step { .. });
            for stop in [false, true] {
                let mask = Packed::continue_mask(stop);
                assert_eq!(packed.continues(mask), step, "{rule:?}");
                assert_eq!(packed.in_entry().continues(mask), step && !stop, "{rule:?}");
            }
            assert_eq!(Rule::unpack(packed), rule);
        }
    }
}
