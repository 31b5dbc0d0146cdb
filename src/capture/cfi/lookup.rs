//! A cache miss: the unwind rule for one code address, read from the `.eh_frame` of the
//! module that contains it.
//!
//! The module is found with glibc's `_dl_find_object` (2.35 and later: lock-free,
//! async-signal-safe, and current across `dlopen`/`dlclose`), else with `dl_iterate_phdr`
//! (which takes the loader's lock, as libgcc's unwinder does for every frame). Its
//! `.eh_frame_hdr` has a sorted table of functions; `gimli` finds the FDE in it and runs its
//! call-frame instructions up to the address, in a context kept on this stack: nothing here
//! allocates. Misses happen once per distinct return address (and again after the cache is
//! flushed), so this path may cost microseconds.

use core::ffi::{c_int, c_void};
use core::sync::atomic::{AtomicUsize, Ordering};

use gimli::{
    BaseAddresses, EhFrame, EhFrameHdr, EndianSlice, NativeEndian, Pointer, Register, RegisterRule,
    UnwindContext, UnwindContextStorage, UnwindSection, UnwindTableRow,
};

use super::rule::{self, Rule};

/// Where a module's unwind information is.
#[derive(Clone, Copy, Debug)]
struct Module {
    /// The address of its `.eh_frame_hdr` (the `PT_GNU_EH_FRAME` segment).
    eh_frame_hdr: usize,
    /// The end of its mapping: `.eh_frame` lies below it.
    end: usize,
}

/// The unwind rule at `address` (for a return address, the address of the call: one byte
/// before it).
pub(super) fn rule_at(address: usize) -> Rule {
    match find_module(address) {
        Some(module) => rule_in(module, address).unwrap_or(Rule::Unsupported),
        None => Rule::Unsupported,
    }
}

/// Rules at most a few registers hold at a call site; more is an error from `gimli`, which
/// ends in [`Rule::Unsupported`]. The context is a few kilobytes of this stack.
struct OnStack;

impl<T: gimli::ReaderOffset> UnwindContextStorage<T> for OnStack {
    type Rules = [(Register, RegisterRule<T>); 24];
    type Stack = [UnwindTableRow<T, Self>; 4];
}

fn rule_in(module: Module, address: usize) -> gimli::Result<Rule> {
    let hdr_len = module.end.saturating_sub(module.eh_frame_hdr);
    // SAFETY: `eh_frame_hdr .. end` lies inside the mapping of a module that contains a
    // return address on this thread's stack, so it stays loaded while we read it; the
    // reads stay inside the records the header and the FDEs describe.
    let hdr_bytes =
        unsafe { core::slice::from_raw_parts(module.eh_frame_hdr as *const u8, hdr_len) };
    let bases = BaseAddresses::default().set_eh_frame_hdr(module.eh_frame_hdr as u64);
    let hdr = EhFrameHdr::new(hdr_bytes, NativeEndian).parse(&bases, 8)?;
    let eh_frame = match hdr.eh_frame_ptr() {
        Pointer::Direct(eh_frame) => eh_frame as usize,
        Pointer::Indirect(_) => return Ok(Rule::Unsupported),
    };
    if eh_frame >= module.end {
        return Ok(Rule::Unsupported);
    }
    // SAFETY: as above; `.eh_frame` is inside the module's mapping.
    let frame_bytes =
        unsafe { core::slice::from_raw_parts(eh_frame as *const u8, module.end - eh_frame) };
    let eh_frame_section = EhFrame::from(EndianSlice::new(frame_bytes, NativeEndian));
    let bases = bases.set_eh_frame(eh_frame as u64);
    let Some(table) = hdr.table() else {
        return Ok(Rule::Unsupported);
    };
    let fde = table.fde_for_address(
        &eh_frame_section,
        &bases,
        address as u64,
        EhFrame::cie_from_offset,
    )?;
    if fde.is_signal_trampoline() {
        return Ok(Rule::Unsupported);
    }
    let mut context = UnwindContext::<usize, OnStack>::new_in();
    let row =
        fde.unwind_info_for_address(&eh_frame_section, &bases, &mut context, address as u64)?;
    Ok(rule::from_row(row))
}

/// `_dl_find_object`'s result (glibc's `struct dl_find_object` on x86_64, plus room).
#[repr(C)]
struct DlFindObject {
    flags: u64,
    map_start: *mut c_void,
    map_end: *mut c_void,
    link_map: *mut c_void,
    eh_frame: *mut c_void,
    reserved: [u64; 16],
}

type DlFindObjectFn = unsafe extern "C" fn(*mut c_void, *mut DlFindObject) -> c_int;

/// `_dl_find_object`, or 1 if the C library has none (0: not looked up yet).
static DL_FIND_OBJECT: AtomicUsize = AtomicUsize::new(0);

/// Looks up `_dl_find_object` once. May take the loader's lock: call it outside the
/// allocator's hot path (the unwinder's start-up probe does).
pub(super) fn init() {
    if DL_FIND_OBJECT.load(Ordering::Acquire) == 0 {
        // SAFETY: `dlsym` with a NUL-terminated name; null when the symbol is absent.
        let f = unsafe { libc::dlsym(libc::RTLD_DEFAULT, c"_dl_find_object".as_ptr()) } as usize;
        DL_FIND_OBJECT.store(if f == 0 { 1 } else { f }, Ordering::Release);
    }
}

fn find_module(address: usize) -> Option<Module> {
    match DL_FIND_OBJECT.load(Ordering::Acquire) {
        0 | 1 => find_with_phdrs(address),
        f => {
            // SAFETY: the value is the address of glibc's `_dl_find_object`, whose signature
            // this is.
            let find = unsafe { core::mem::transmute::<usize, DlFindObjectFn>(f) };
            // SAFETY: all-zero is a valid value of this plain C struct.
            let mut result: DlFindObject = unsafe { core::mem::zeroed() };
            // SAFETY: `result` is large enough for glibc's struct (it has reserved room
            // for growth, and ours has more). `_dl_find_object` only reads `address`.
            if unsafe { find(address as *mut c_void, &mut result) } != 0
                || result.eh_frame.is_null()
            {
                return None;
            }
            Some(Module {
                eh_frame_hdr: result.eh_frame as usize,
                end: result.map_end as usize,
            })
        }
    }
}

/// `dl_iterate_phdr`'s search state.
struct Search {
    address: usize,
    found: Option<Module>,
}

fn find_with_phdrs(address: usize) -> Option<Module> {
    let mut search = Search {
        address,
        found: None,
    };
    // SAFETY: the callback reads only the `dl_phdr_info` it is given, during the call, and
    // writes `search` through the pointer passed, which outlives the call.
    unsafe {
        libc::dl_iterate_phdr(Some(visit), (&mut search as *mut Search).cast());
    }
    search.found
}

unsafe extern "C" fn visit(
    info: *mut libc::dl_phdr_info,
    _size: libc::size_t,
    data: *mut c_void,
) -> c_int {
    // SAFETY: `data` is the `&mut Search` passed above; `info` and its `dlpi_phnum` program
    // headers are valid during the callback.
    let (search, info) = unsafe { (&mut *data.cast::<Search>(), &*info) };
    if info.dlpi_phdr.is_null() {
        return 0;
    }
    // SAFETY: see above.
    let headers =
        unsafe { core::slice::from_raw_parts(info.dlpi_phdr, usize::from(info.dlpi_phnum)) };
    let bias = info.dlpi_addr as usize;
    let mut contains = false;
    let mut end = 0;
    let mut eh_frame_hdr = None;
    for header in headers {
        let start = bias.wrapping_add(header.p_vaddr as usize);
        let stop = start.wrapping_add(header.p_memsz as usize);
        match header.p_type {
            libc::PT_LOAD => {
                end = end.max(stop);
                contains |=
                    header.p_flags & libc::PF_X != 0 && (start..stop).contains(&search.address);
            }
            libc::PT_GNU_EH_FRAME => eh_frame_hdr = Some(start),
            _ => {}
        }
    }
    if !contains {
        return 0;
    }
    search.found = eh_frame_hdr.map(|eh_frame_hdr| Module { eh_frame_hdr, end });
    1
}
