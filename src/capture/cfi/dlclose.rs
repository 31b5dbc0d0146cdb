//! `dlclose`, forwarded to the C library, flushing the rule cache around it: the next
//! library loaded may be mapped where the closed one was, and its code must not be unwound
//! with the old one's rules.
//!
//! allocsite defines `dlclose` (glibc Linux, dynamically linked), as it defines
//! `pthread_create` (`engine/spawn.rs`): the program's calls — `libloading`'s and any other
//! Rust code's — resolve to it at link time. Calls the C library makes internally (its own
//! `dlopen`/`dlclose` of NSS or iconv modules) are not seen; a library unloaded that way
//! and replaced at the same address before the next flush can give a wrong stack for its
//! code (every read is still checked, so never a crash). Elsewhere nothing is interposed.

/// Keeps the interposed `dlclose` in the link (see `engine/spawn.rs`'s `anchor`).
#[inline(never)]
pub(super) fn anchor() {
    #[cfg(all(target_env = "gnu", not(target_feature = "crt-static")))]
    core::hint::black_box(interpose::dlclose as *const () as usize);
}

#[cfg(all(target_env = "gnu", not(target_feature = "crt-static")))]
mod interpose {
    use core::ffi::{c_int, c_void};
    use core::sync::atomic::{AtomicUsize, Ordering};

    use super::super::cache;

    type Dlclose = unsafe extern "C" fn(*mut c_void) -> c_int;

    /// The C library's `dlclose` (0: not looked up yet).
    static REAL: AtomicUsize = AtomicUsize::new(0);

    /// `dlclose`, flushing the rule cache before and after the library goes.
    ///
    /// # Safety
    ///
    /// The contract of POSIX `dlclose`.
    #[unsafe(no_mangle)]
    pub(super) unsafe extern "C" fn dlclose(handle: *mut c_void) -> c_int {
        let mut address = REAL.load(Ordering::Acquire);
        if address == 0 {
            // SAFETY: `dlsym` with `RTLD_NEXT` and a NUL-terminated name: the next definition
            // of `dlclose` after this object (the C library's), or null.
            address = unsafe { libc::dlsym(libc::RTLD_NEXT, c"dlclose".as_ptr()) } as usize;
            REAL.store(address, Ordering::Release);
        }
        if address == 0 {
            return -1;
        }
        // SAFETY: the symbol the C library exports under this name has this signature.
        let real = unsafe { core::mem::transmute::<usize, Dlclose>(address) };
        // Before: no rule computed from now on outlives the library; after: none computed
        // while it was being unloaded does either.
        cache::flush();
        // SAFETY: forwarded unchanged; the caller upholds the contract.
        let result = unsafe { real(handle) };
        cache::flush();
        result
    }
}
