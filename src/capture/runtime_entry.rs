//! The runtime entry: return addresses where std enters the user's `main` or a thread's
//! closure, at which captures through the unwind tables stop.

use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering::Relaxed};

/// Return addresses at which a capture through the unwind tables stops: where std enters the
/// user's `main` or thread closure, learned by `symbolize::learn_runtime_entry`. The frames below
/// are runtime frames that the default bottom trim drops anyway, and each costs ~0.5 µs to
/// unwind through the tables; stopping there makes a capture on the main thread about half
/// as long. Zero slots are empty.
const STOP_SLOTS: usize = 8;
static STOP_AT: [AtomicUsize; STOP_SLOTS] = [const { AtomicUsize::new(0) }; STOP_SLOTS];
/// Cleared when a profile keeps the runtime frames (`trim_bottom(false)`).
static STOP_ENABLED: AtomicBool = AtomicBool::new(true);

/// True if captures stop at `ip` (a known runtime entry, and stopping is enabled).
pub(crate) fn is_stop(ip: usize) -> bool {
    STOP_ENABLED.load(Relaxed) && STOP_AT.iter().any(|slot| slot.load(Relaxed) == ip)
}

/// Remembers `ip` as a runtime entry (see [`STOP_AT`]). Called from symbolization, which
/// identifies the entry by name; ignored when the slots are full.
pub(crate) fn remember_runtime_entry(ip: usize) {
    for slot in &STOP_AT {
        match slot.compare_exchange(0, ip, Relaxed, Relaxed) {
            Ok(_) => return,
            Err(existing) if existing == ip => return,
            Err(_) => {}
        }
    }
}

/// Whether captures may stop at the runtime entry (false when a profile keeps runtime frames).
pub(crate) fn set_stop_at_runtime_entry(enabled: bool) {
    STOP_ENABLED.store(enabled, Relaxed);
}
