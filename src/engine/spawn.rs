//! Thread-spanning scopes follow thread creation: a thread created while its creator has a
//! `measure_with_spawned_threads` scope open (directly, or because the creator itself was
//! created inside one) joins that scope before it runs any code; no other thread does.
//!
//! allocsite defines `pthread_create` (glibc Linux, dynamically linked): the program's calls
//! — std's `thread::spawn`, and through it rayon, tokio and the rest — resolve to it at link
//! time. It forwards to the C library's `pthread_create` (found once with
//! `dlsym(RTLD_NEXT)`). When the creating thread has no spanning scope it passes the call
//! through untouched; otherwise it starts the new thread in a trampoline that joins the
//! scope and then calls the real start routine. The trampoline's packet is allocated with C
//! `malloc`, never the Rust global allocator, so nothing of it is counted.
//!
//! Elsewhere (other C libraries, static linking) there is no interposition: a spanning scope
//! then counts only its own thread, and `measure_with_spawned_threads` says so in its docs.
//! Nor under Miri or ThreadSanitizer (`--cfg allocsite_tsan`, set by `.ci/checkers`), whose
//! runtimes define `pthread_create` themselves.

/// Keeps the interposed `pthread_create` in the link: the linker takes an object out of
/// allocsite's archive only when something in it is needed, and the definition must be in
/// the program for the program's calls to reach it. Called whenever a scope opens.
#[inline(never)]
pub(crate) fn anchor() {
    #[cfg(all(
        target_os = "linux",
        target_env = "gnu",
        not(target_feature = "crt-static"),
        not(miri),
        not(allocsite_tsan)
    ))]
    std::hint::black_box(interpose::pthread_create as *const () as usize);
}

#[cfg(all(
    target_os = "linux",
    target_env = "gnu",
    not(target_feature = "crt-static"),
    not(miri),
    not(allocsite_tsan)
))]
mod interpose {
    use std::ffi::c_void;
    use std::sync::atomic::{AtomicUsize, Ordering};

    use crate::engine::thread as thread_state;

    type StartRoutine = extern "C" fn(*mut c_void) -> *mut c_void;
    type PthreadCreate = unsafe extern "C" fn(
        *mut libc::pthread_t,
        *const libc::pthread_attr_t,
        StartRoutine,
        *mut c_void,
    ) -> libc::c_int;

    /// The C library's `pthread_create` (0: not looked up yet).
    static REAL: AtomicUsize = AtomicUsize::new(0);

    fn real() -> Option<PthreadCreate> {
        let mut address = REAL.load(Ordering::Acquire);
        if address == 0 {
            // SAFETY: `dlsym` with `RTLD_NEXT` and a NUL-terminated name; it returns the next
            // definition of `pthread_create` after this object (the C library's) or null.
            address = unsafe { libc::dlsym(libc::RTLD_NEXT, c"pthread_create".as_ptr()) } as usize;
            REAL.store(address, Ordering::Release);
        }
        // SAFETY: the symbol the C library exports under this name has this signature.
        (address != 0).then(|| unsafe { std::mem::transmute::<usize, PthreadCreate>(address) })
    }

    /// What the trampoline needs.
    struct Packet {
        start: StartRoutine,
        argument: *mut c_void,
        scope: u64,
    }

    extern "C" fn trampoline(packet: *mut c_void) -> *mut c_void {
        // SAFETY: `packet` is the `Packet` written by `pthread_create` below, handed to this
        // thread alone; it is read once and freed with the allocator that made it.
        let Packet {
            start,
            argument,
            scope,
        } = unsafe {
            let value = std::ptr::read(packet.cast::<Packet>());
            libc::free(packet);
            value
        };
        thread_state::with(|thread| thread.join_spanning_scope(scope));
        start(argument)
    }

    /// `pthread_create`, carrying the creator's spanning scope into the new thread.
    ///
    /// # Safety
    ///
    /// The contract of POSIX `pthread_create`.
    #[unsafe(no_mangle)]
    pub(super) unsafe extern "C" fn pthread_create(
        thread: *mut libc::pthread_t,
        attributes: *const libc::pthread_attr_t,
        start: StartRoutine,
        argument: *mut c_void,
    ) -> libc::c_int {
        let Some(real) = real() else {
            return libc::EAGAIN;
        };
        let scope = thread_state::with(|state| state.spanning());
        if scope == 0 {
            // SAFETY: forwarded unchanged; the caller upholds the contract.
            return unsafe { real(thread, attributes, start, argument) };
        }
        // SAFETY: C `malloc` of a plain struct's size; null is handled.
        let packet = unsafe { libc::malloc(std::mem::size_of::<Packet>()) }.cast::<Packet>();
        if packet.is_null() {
            // SAFETY: as above; the thread just does not join the scope.
            return unsafe { real(thread, attributes, start, argument) };
        }
        // SAFETY: `packet` is a fresh allocation of the right size and alignment (malloc
        // aligns for any fundamental type).
        unsafe {
            packet.write(Packet {
                start,
                argument,
                scope,
            })
        };
        // SAFETY: the trampoline has the start-routine signature and takes ownership of
        // `packet` when the thread starts.
        let result = unsafe { real(thread, attributes, trampoline, packet.cast()) };
        if result != 0 {
            // SAFETY: no thread was created, so the packet is still ours.
            unsafe { libc::free(packet.cast()) };
        }
        result
    }
}
