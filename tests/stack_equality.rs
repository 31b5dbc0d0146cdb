//! The unwinder allocsite chose captures the same return addresses as the platform's unwinder
//! (libgcc's, through the `backtrace` crate), over many shapes of call: closures, generics,
//! inlining, recursion, threads, panics caught and resumed, a signal handler, and C code in
//! shared libraries loaded, unloaded and loaded again at run time.
#![cfg(feature = "track")]

use allocsite::__bench::{MAX_FRAMES, Unwinder, capture, unwinder};
use std::hint::black_box;
use std::sync::Mutex;

#[global_allocator]
static ALLOC: allocsite::Alloc = allocsite::Alloc::system();

/// A capture with the chosen unwinder and one with the platform's, made from the same frame.
#[derive(Debug)]
struct Pair {
    chosen: Vec<usize>,
    platform: Vec<usize>,
}

/// The cut marker that ends a stack longer than MAX_FRAMES: not a return address.
fn is_cut_marker(word: usize) -> bool {
    word >> (usize::BITS - 1) == 1
}

/// Captures with both, keeping the return addresses (a cut stack's marker counts frames
/// from a different depth in each, so it is checked apart).
#[inline(never)]
fn capture_both() -> Pair {
    let mut chosen = [0; MAX_FRAMES];
    let mut platform = [0; MAX_FRAMES];
    let n = capture(unwinder(), black_box(&mut chosen));
    let m = capture(Unwinder::UnwindTables, black_box(&mut platform));
    let (chosen, platform) = (&chosen[..n], &platform[..m]);
    // Only the last word of a stack is ever a marker, and a stack is cut only when full.
    for stack in [chosen, platform] {
        let cut = stack.last().is_some_and(|&w| is_cut_marker(w));
        assert_eq!(cut, stack.len() == MAX_FRAMES && cut, "{stack:x?}");
        assert!(stack[..stack.len() - 1].iter().all(|&w| !is_cut_marker(w)));
    }
    let real = |stack: &[usize]| -> Vec<usize> {
        stack
            .iter()
            .copied()
            .filter(|&w| !is_cut_marker(w))
            .collect()
    };
    Pair {
        chosen: real(chosen),
        platform: real(platform),
    }
}

/// Checks that both captures name the same callers of `capture_both`, frame for frame, and
/// that the chosen one is not shorter. Returns how many frames were compared.
#[track_caller]
fn assert_same(pair: &Pair, shape: &str) -> usize {
    let Pair { chosen, platform } = pair;
    // Both stacks may start with the same frames of allocsite's (where the capture wrapper
    // is not inlined); then comes the return into `capture_both`, after its first call in
    // `chosen` and after its second in `platform` (a few bytes apart), then the same callers.
    let c = chosen
        .iter()
        .position(|a| !platform.contains(a))
        .unwrap_or_else(|| panic!("{shape}: no return into capture_both: {pair:x?}"));
    assert!(
        c + 1 < chosen.len(),
        "{shape}: chosen stack too short: {pair:x?}"
    );
    let j = platform
        .iter()
        .position(|&a| a == chosen[c + 1])
        .unwrap_or_else(|| {
            panic!(
                "{shape}: the platform's stack lacks {:#x}: {pair:x?}",
                chosen[c + 1]
            )
        });
    assert!(
        j >= 1 && platform[j - 1].abs_diff(chosen[c]) < 64,
        "{shape}: {pair:x?}"
    );
    let chosen = &chosen[c..];
    if unwinder() == Unwinder::FramePointers {
        // A frame-pointer walk (chosen only in builds with frame pointers) loses the callers
        // of code built without them (the C library, the test's C code) and may stop there:
        // its frames must still be the platform's, in the same order, never others.
        let mut rest = platform[j..].iter();
        for frame in &chosen[1..] {
            assert!(
                rest.any(|a| a == frame),
                "{shape}: {frame:#x} is not in the platform's stack: {pair:x?}"
            );
        }
        return chosen.len() - 1;
    }
    let common = (chosen.len() - 1).min(platform.len() - j);
    assert_eq!(
        &chosen[1..1 + common],
        &platform[j..j + common],
        "{shape}: the stacks differ"
    );
    // The platform's capture starts deeper (its own frames), so it is cut by MAX_FRAMES
    // first; when it is not cut, both end at the same outermost frame.
    if platform.len() < MAX_FRAMES - 1 {
        assert_eq!(chosen.len() - 1, platform.len() - j, "{shape}: {pair:x?}");
    }
    common
}

#[test]
fn the_unwinder_is_the_fastest_correct_one() {
    let chosen = unwinder();
    eprintln!("unwinder: {}", chosen.name());
    if cfg!(all(
        target_os = "linux",
        target_env = "gnu",
        target_arch = "x86_64"
    )) {
        assert_ne!(
            chosen,
            Unwinder::UnwindTables,
            "no fast unwinder was chosen"
        );
    }
}

// --- Rust shapes -----------------------------------------------------------------------------

#[inline(never)]
fn plain_a(k: u32) -> Pair {
    let pair = plain_b(k.wrapping_mul(3));
    black_box(k);
    pair
}

#[inline(never)]
fn plain_b(k: u32) -> Pair {
    let pair = capture_both();
    black_box(k ^ 0x3c);
    pair
}

#[test]
fn plain_calls() {
    assert!(assert_same(&plain_a(1), "plain calls") >= 3);
}

#[test]
fn closures() {
    let offset = black_box(7u64);
    let run = move |f: &dyn Fn() -> Pair| {
        let pair = f();
        black_box(offset);
        pair
    };
    let pair = run(&|| {
        let pair = capture_both();
        black_box(offset + 1);
        pair
    });
    assert_same(&pair, "closures");
}

#[inline(never)]
fn generic<T: std::fmt::Debug + Clone>(value: T, depth: u32) -> Pair {
    if depth == 0 {
        let pair = capture_both();
        black_box(&value);
        pair
    } else {
        let pair = generic_wrapped([value.clone(), value], depth - 1);
        black_box(depth);
        pair
    }
}

#[inline(never)]
fn generic_wrapped<T: std::fmt::Debug + Clone>(pair_of: [T; 2], depth: u32) -> Pair {
    let pair = generic(pair_of[0].clone(), depth);
    black_box(&pair_of);
    pair
}

#[test]
fn generics() {
    assert_same(&generic(1u8, 3), "generics over u8");
    assert_same(&generic("text", 2), "generics over &str");
}

#[inline(always)]
fn inlined_twice(k: u64) -> Pair {
    inlined_once(k + 1)
}

#[inline(always)]
fn inlined_once(k: u64) -> Pair {
    let pair = capture_both();
    black_box(k);
    pair
}

#[inline(never)]
fn calls_inlined(k: u64) -> Pair {
    let pair = inlined_twice(k);
    black_box(k * 5);
    pair
}

#[test]
fn inlining() {
    assert_same(&calls_inlined(3), "inlined frames");
}

#[inline(never)]
fn recurse(depth: u32, frame: &mut [u8; 48]) -> Pair {
    frame[depth as usize % 48] = depth as u8;
    if depth == 0 {
        capture_both()
    } else {
        let pair = recurse(depth - 1, black_box(&mut [depth as u8; 48]));
        black_box(frame);
        pair
    }
}

#[test]
fn recursion_deep_and_shallow() {
    for depth in [1, 5, 20, 100] {
        let compared = assert_same(&recurse(depth, &mut [0; 48]), "recursion");
        if depth >= 100 {
            // Both are cut at MAX_FRAMES; the platform's has its own frames first.
            assert!(
                compared >= MAX_FRAMES / 2,
                "depth {depth}: {compared} compared"
            );
        }
    }
}

#[test]
fn threads() {
    let handles: Vec<_> = (0..4)
        .map(|i| {
            std::thread::spawn(move || {
                let pair = plain_a(i);
                assert_same(&pair, "a spawned thread");
            })
        })
        .collect();
    for handle in handles {
        handle.join().unwrap();
    }
    std::thread::scope(|s| {
        s.spawn(|| assert_same(&generic(2u16, 4), "a scoped thread"));
    });
}

/// Captures in its destructor, which runs while a panic unwinds through its owner.
struct CaptureOnDrop<'a>(&'a Mutex<Option<Pair>>);

impl Drop for CaptureOnDrop<'_> {
    fn drop(&mut self) {
        *self.0.lock().unwrap() = Some(capture_both());
    }
}

#[inline(never)]
fn panics_with_guard(slot: &Mutex<Option<Pair>>) {
    let _guard = CaptureOnDrop(slot);
    black_box(slot);
    panic!("unwinding on purpose");
}

#[test]
fn panics_caught_and_resumed() {
    std::panic::set_hook(Box::new(|_| {}));
    let during = Mutex::new(None);
    let caught = std::panic::catch_unwind(|| panics_with_guard(&during));
    assert!(caught.is_err());
    assert_same(
        during.lock().unwrap().as_ref().unwrap(),
        "a destructor run by unwinding",
    );
    // After the panic was caught, and inside a resumed one.
    assert_same(&plain_a(9), "after catch_unwind");
    let resumed = Mutex::new(None);
    let outer = std::panic::catch_unwind(|| {
        let inner = std::panic::catch_unwind(|| panics_with_guard(&resumed));
        if let Err(payload) = inner {
            let _guard = CaptureOnDrop(&during);
            std::panic::resume_unwind(payload);
        }
    });
    assert!(outer.is_err());
    assert_same(
        during.lock().unwrap().as_ref().unwrap(),
        "a destructor run by resume_unwind",
    );
    let _ = std::panic::take_hook();
}

static IN_HANDLER: Mutex<Option<Pair>> = Mutex::new(None);

extern "C" fn on_signal(_: libc::c_int) {
    // Test only: a Mutex in a handler is fine here, nothing else holds it while raising.
    if let Ok(mut slot) = IN_HANDLER.try_lock() {
        *slot = Some(capture_both());
    }
}

#[test]
fn a_signal_handler() {
    // SAFETY: installs a handler for SIGUSR2 (no other test uses it) and raises it on this
    // thread; the handler's only shared state is the mutex above.
    unsafe {
        let mut action: libc::sigaction = std::mem::zeroed();
        action.sa_sigaction = on_signal as extern "C" fn(libc::c_int) as usize;
        assert_eq!(
            libc::sigaction(libc::SIGUSR2, &action, std::ptr::null_mut()),
            0
        );
        assert_eq!(libc::raise(libc::SIGUSR2), 0);
    }
    let pair = IN_HANDLER.lock().unwrap().take().expect("the handler ran");
    assert_same(&pair, "a signal handler");
}

// --- C code in shared libraries ----------------------------------------------------------------

/// Two libraries with the same entry point and the same code layout, differing only in the
/// size of one frame: the return address into `plugin_leaf` is at the same offset in both,
/// with a different unwind rule. Loaded one after the other at the same address, the second
/// is unwound right only if unloading the first dropped its cached rules.
fn plugin_source(variant: u32) -> String {
    // Both sizes take a 32-bit immediate, so the instructions have the same length; both
    // are 8 modulo 16, so the call is made with an aligned stack.
    let frame = 0x108 + variant * 0x100;
    format!(
        r#"
typedef void (*callback)(void *);
static volatile int sink;
/* plugin_leaf(cb, arg): calls cb(arg) from a frame of {frame} bytes. */
__asm__(
    ".text\n"
    ".globl plugin_leaf\n"
    ".hidden plugin_leaf\n"
    ".type plugin_leaf, @function\n"
    "plugin_leaf:\n"
    ".cfi_startproc\n"
    "sub ${frame}, %rsp\n"
    ".cfi_def_cfa_offset {cfa}\n"
    "mov %rdi, %rax\n"
    "mov %rsi, %rdi\n"
    "call *%rax\n"
    "add ${frame}, %rsp\n"
    ".cfi_def_cfa_offset 8\n"
    "ret\n"
    ".cfi_endproc\n"
    ".size plugin_leaf, .-plugin_leaf\n");
void plugin_leaf(callback cb, void *arg);
__attribute__((noinline)) static void with_vla(callback cb, void *arg, int n) {{
    /* A variable-length array: the CFA is computed from rbp here. */
    volatile char vla[n];
    vla[0] = (char)n;
    plugin_leaf(cb, arg);
    sink = vla[0];
}}
__attribute__((noinline)) void plugin_entry(callback cb, void *arg, int n) {{
    volatile long spill[8];
    spill[0] = n;
    with_vla(cb, arg, n * 2 + 1);
    sink = (int)spill[0];
}}
"#,
        cfa = frame + 8,
    )
}

/// Builds the variant with the C compiler into the test's scratch directory.
fn build_plugin(variant: u32) -> std::path::PathBuf {
    let dir = std::path::Path::new(env!("CARGO_TARGET_TMPDIR")).join("stack-equality");
    std::fs::create_dir_all(&dir).unwrap();
    let source = dir.join(format!("plugin{variant}.c"));
    let library = dir.join(format!("libplugin{variant}.so"));
    std::fs::write(&source, plugin_source(variant)).unwrap();
    let status = std::process::Command::new("cc")
        .args(["-O2", "-fPIC", "-shared", "-fomit-frame-pointer", "-o"])
        .arg(&library)
        .arg(&source)
        .status()
        .expect("this test builds a C shared library: install a C compiler (cc)");
    assert!(status.success(), "cc failed on {}", source.display());
    library
}

extern "C" fn capture_into(arg: *mut libc::c_void) {
    // SAFETY: `arg` is the `Option<Pair>` passed to `plugin_entry` by `call_plugin`.
    let slot = unsafe { &mut *arg.cast::<Option<Pair>>() };
    *slot = Some(capture_both());
}

/// Loads the library, captures from inside it, unloads it; returns where it was mapped.
#[inline(never)]
fn call_plugin(library: &std::path::Path) -> (usize, Pair) {
    type Entry = unsafe extern "C" fn(extern "C" fn(*mut libc::c_void), *mut libc::c_void, i32);
    let path = std::ffi::CString::new(library.as_os_str().as_encoded_bytes()).unwrap();
    // SAFETY: loads a library this test just built, calls its entry point with the signature
    // it was compiled with, and unloads it after the call returned.
    unsafe {
        let handle = libc::dlopen(path.as_ptr(), libc::RTLD_NOW | libc::RTLD_LOCAL);
        assert!(!handle.is_null(), "dlopen {}", library.display());
        let entry = libc::dlsym(handle, c"plugin_entry".as_ptr());
        assert!(!entry.is_null());
        let entry = std::mem::transmute::<*mut libc::c_void, Entry>(entry);
        let mut slot: Option<Pair> = None;
        entry(capture_into, (&mut slot as *mut Option<Pair>).cast(), 5);
        assert_eq!(libc::dlclose(handle), 0);
        (entry as usize, slot.expect("the callback ran"))
    }
}

#[test]
fn c_code_in_libraries_loaded_and_unloaded() {
    let first = build_plugin(0);
    let second = build_plugin(1);
    for round in 0..3 {
        for library in [&first, &second] {
            let (mapped_at, pair) = call_plugin(library);
            let compared = assert_same(&pair, &format!("{} (round {round})", library.display()));
            if unwinder() != Unwinder::FramePointers {
                assert!(compared >= 4, "the C frames are missing: {pair:x?}");
            }
            eprintln!(
                "{} at {mapped_at:#x}: {compared} frames agree",
                library.display()
            );
        }
    }
}
