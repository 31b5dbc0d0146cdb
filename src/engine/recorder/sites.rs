//! The call-site table: every distinct captured stack gets a small integer, its [`SiteId`].
//!
//! Stacks are stored as raw return addresses (innermost first) and symbolized only when a
//! report is written. The table only grows: ids stay valid for the whole process, so budget
//! scopes and profiling sessions can both refer to sites without coordinating. It lives
//! inside the recorder's lock and is only reached on the recording (slow) path. Its hasher,
//! [`AddressHasher`], also keys the live-block table.

use std::collections::HashMap;
use std::hash::{BuildHasherDefault, Hasher};

pub(crate) type SiteId = u32;

#[derive(Default)]
pub(crate) struct SiteTable {
    ids: HashMap<Box<[usize]>, SiteId, BuildHasherDefault<AddressHasher>>,
    stacks: Vec<Box<[usize]>>,
}

impl SiteTable {
    /// The id of `stack`, adding it on first sight.
    pub(crate) fn intern(&mut self, stack: &[usize]) -> SiteId {
        if let Some(&id) = self.ids.get(stack) {
            return id;
        }
        let id = self.stacks.len() as SiteId;
        self.stacks.push(stack.into());
        self.ids.insert(stack.into(), id);
        id
    }

    pub(crate) fn stack(&self, id: SiteId) -> &[usize] {
        &self.stacks[id as usize]
    }
}

/// A multiply-rotate hasher (FxHash's scheme) for return addresses: the keys are not
/// attacker-controlled, and SipHash would dominate the cost of an exact-mode allocation.
#[derive(Default)]
pub(crate) struct AddressHasher(u64);

impl Hasher for AddressHasher {
    fn finish(&self) -> u64 {
        self.0
    }
    fn write(&mut self, bytes: &[u8]) {
        // `[usize]` hashes as one byte slice: take it a word at a time.
        let mut words = bytes.chunks_exact(8);
        for word in &mut words {
            self.write_u64(u64::from_ne_bytes(
                word.try_into().expect("chunks of 8 bytes"),
            ));
        }
        for &byte in words.remainder() {
            self.write_u64(u64::from(byte));
        }
    }
    fn write_u64(&mut self, value: u64) {
        self.0 = (self.0.rotate_left(5) ^ value).wrapping_mul(0x51_7c_c1_b7_27_22_0a_95);
    }
    fn write_usize(&mut self, value: usize) {
        self.write_u64(value as u64);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn same_stack_same_id_and_distinct_stacks_distinct_ids() {
        let mut table = SiteTable::default();
        let a = table.intern(&[1, 2, 3]);
        let b = table.intern(&[1, 2, 4]);
        assert_ne!(a, b);
        assert_eq!(table.intern(&[1, 2, 3]), a);
        assert_eq!(table.stack(b), &[1, 2, 4]);
    }
}
