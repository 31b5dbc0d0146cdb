//! Where a capture starts: the registers of one frame, so that a stack captured deeper down
//! can begin at that frame's caller instead of walking the frames in between.
//!
//! The allocation hooks take an [`Origin`] where they leave the user's code; the recorder
//! captures from it further down. The frames between (the hook's general path, the recorder,
//! the capture itself) are allocsite's own: the symbolizer would drop them from every report,
//! and walking them cost a step each (three of the ten frames of a typical stack).

/// The instruction, stack and frame pointers of a frame, read together at one instruction of
/// it by [`Origin::here`].
///
/// A capture from an origin ([`super::capture_from`]) is meaningful only on the thread that
/// took it, while the frame that took it is still running (a callee of it captures). It stays
/// memory-safe otherwise: an origin below the capture's own stack pointer is ignored and the
/// capture starts at its own frame, and every read is checked as in any capture.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Origin {
    /// An address inside the frame's function, whose unwind rule describes `sp`.
    pub(super) ip: usize,
    pub(super) sp: usize,
    /// `rbp` (x86_64) or `x29` (aarch64).
    pub(super) fp: usize,
}

impl Origin {
    /// The registers of the frame this is inlined into.
    #[inline(always)]
    pub(crate) fn here() -> Origin {
        let (ip, sp, fp): (usize, usize, usize);
        // SAFETY: copies the instruction, stack and frame pointers into general registers;
        // touches no memory and changes no flags. All three are read at the same instruction,
        // so the unwind row for `ip` describes this `sp`.
        #[cfg(all(target_arch = "x86_64", not(miri)))]
        unsafe {
            core::arch::asm!(
                "lea {ip}, [rip]",
                "mov {sp}, rsp",
                "mov {fp}, rbp",
                ip = out(reg) ip,
                sp = out(reg) sp,
                fp = out(reg) fp,
                options(nomem, nostack, preserves_flags)
            );
        }
        // SAFETY: as above.
        #[cfg(all(target_arch = "aarch64", not(miri)))]
        unsafe {
            core::arch::asm!(
                "adr {ip}, .",
                "mov {sp}, sp",
                "mov {fp}, x29",
                ip = out(reg) ip,
                sp = out(reg) sp,
                fp = out(reg) fp,
                options(nomem, nostack, preserves_flags)
            );
        }
        // Elsewhere only the platform unwinder exists, and it needs only a stack address.
        // Miri runs no inline assembly (its tests of the hooks never capture a stack).
        #[cfg(any(miri, not(any(target_arch = "x86_64", target_arch = "aarch64"))))]
        {
            let marker = 0u8;
            (ip, sp, fp) = (0, core::hint::black_box(&marker) as *const u8 as usize, 0);
        }
        Origin { ip, sp, fp }
    }

    /// This origin if it is a live frame further up the caller's stack (a higher stack
    /// pointer), else the caller's own registers: an origin from another thread, or from a
    /// frame that has returned, is not followed. Inlined, so "the caller" is the capture.
    #[inline(always)]
    pub(super) fn live_or_here(self) -> Origin {
        let here = Origin::here();
        if self.sp >= here.sp { self } else { here }
    }
}

#[cfg(test)]
mod tests {
    use super::super::tests::{available, is_fn, names};
    use super::super::unwinder::{MAX_FRAMES, Unwinder};
    use super::super::{capture, capture_from};
    use super::Origin;
    use core::hint::black_box;

    /// Takes an origin, then captures twice two frames further down: from the origin, and
    /// from there. Returns (from the origin, from there).
    #[inline(never)]
    fn takes_origin(u: Unwinder, k: u32) -> (Vec<usize>, Vec<usize>) {
        let origin = Origin::here();
        let both = black_box(between(u, black_box(origin), k.wrapping_add(11)));
        black_box(k);
        both
    }

    #[inline(never)]
    fn between(u: Unwinder, origin: Origin, k: u32) -> (Vec<usize>, Vec<usize>) {
        black_box(k.rotate_left(3));
        let (mut from, mut plain) = ([0; MAX_FRAMES], [0; MAX_FRAMES]);
        let nf = capture_from(u, origin, &mut from);
        let np = capture(u, &mut plain);
        black_box(k);
        (from[..nf].to_vec(), plain[..np].to_vec())
    }

    #[test]
    fn a_capture_from_an_origin_starts_at_its_frames_caller() {
        for u in available() {
            let (from, plain) = takes_origin(u, 5);
            let names = names(&from);
            assert!(names.len() > 2, "{u:?}: {names:#?}");
            if u == Unwinder::UnwindTables {
                // The platform's stack starts inside the frame that took the origin.
                assert!(is_fn(&names[0], "takes_origin"), "{u:?}: {names:#?}");
                assert!(plain.ends_with(&from), "{u:?}");
            } else {
                // The others start at the return address into its caller: exactly what a
                // capture from two frames down has after the frames of `between` and
                // `takes_origin`.
                assert_eq!(from, plain[2..], "{u:?}");
                assert!(
                    names[0].contains("a_capture_from_an_origin"),
                    "{u:?}: {names:#?}"
                );
            }
        }
    }

    #[test]
    fn an_origin_that_is_not_a_live_frame_is_ignored() {
        // An origin below this frame's stack pointer (its frame has returned): the capture
        // starts at its own frame instead of reading what is no longer a frame.
        #[inline(never)]
        fn returned() -> Origin {
            black_box(Origin::here())
        }
        let stale = returned();
        for u in available() {
            let (mut from, mut plain) = ([0; MAX_FRAMES], [0; MAX_FRAMES]);
            let nf = capture_from(u, stale, &mut from);
            let np = capture(u, &mut plain);
            let (from, plain) = (names(&from[..nf]), names(&plain[..np]));
            let test = |v: &[String]| {
                v.iter()
                    .position(|f| f.contains("an_origin_that_is_not_a_live_frame"))
            };
            assert!(test(&from).is_some(), "{u:?}: {from:#?}");
            assert_eq!(
                from.len() - test(&from).unwrap(),
                plain.len() - test(&plain).unwrap()
            );
        }
    }
}
