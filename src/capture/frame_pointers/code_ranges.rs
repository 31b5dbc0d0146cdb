//! Executable address ranges of the modules loaded at detection time: a return address
//! outside them ends a frame-pointer walk.

use std::sync::OnceLock;

const MAX_RANGES: usize = 128;

pub(super) struct Ranges {
    len: usize,
    /// More segments than fit: do not check at all rather than reject good frames.
    overflow: bool,
    ranges: [(usize, usize); MAX_RANGES],
}

static RANGES: OnceLock<Ranges> = OnceLock::new();

impl Ranges {
    #[inline]
    pub(super) fn contains(&self, addr: usize) -> bool {
        self.overflow
            || self.ranges[..self.len]
                .iter()
                .any(|&(lo, hi)| lo <= addr && addr < hi)
    }
}

/// The table, if [`init`] has run. Never blocks, never allocates.
#[inline]
pub(super) fn get() -> Option<&'static Ranges> {
    RANGES.get()
}

/// Collects the executable `PT_LOAD` segments of all loaded modules (once).
pub(super) fn init() {
    RANGES.get_or_init(|| {
        let mut table = Ranges {
            len: 0,
            overflow: false,
            ranges: [(0, 0); MAX_RANGES],
        };
        // SAFETY: the callback only reads the `dl_phdr_info` it is given, for the duration
        // of the call, and writes to `table` through the pointer we pass, which outlives
        // the call.
        unsafe {
            libc::dl_iterate_phdr(Some(callback), (&mut table as *mut Ranges).cast());
        }
        table
    });
}

unsafe extern "C" fn callback(
    info: *mut libc::dl_phdr_info,
    _size: libc::size_t,
    data: *mut libc::c_void,
) -> libc::c_int {
    // SAFETY: `data` is the `&mut Ranges` passed to `dl_iterate_phdr` above; `info` and its
    // `dlpi_phdr` array of `dlpi_phnum` entries are valid during the callback.
    let (table, info) = unsafe { (&mut *data.cast::<Ranges>(), &*info) };
    if info.dlpi_phdr.is_null() {
        return 0;
    }
    // SAFETY: see above.
    let phdrs = unsafe { core::slice::from_raw_parts(info.dlpi_phdr, info.dlpi_phnum as usize) };
    for ph in phdrs {
        if ph.p_type == libc::PT_LOAD && ph.p_flags & libc::PF_X != 0 {
            if table.len == MAX_RANGES {
                table.overflow = true;
                return 1;
            }
            let lo = (info.dlpi_addr as usize).wrapping_add(ph.p_vaddr as usize);
            table.ranges[table.len] = (lo, lo.wrapping_add(ph.p_memsz as usize));
            table.len += 1;
        }
    }
    0
}
