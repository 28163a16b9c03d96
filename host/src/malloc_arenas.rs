//! glibc's malloc gives every thread that allocates its own arena, up to eight per core. A
//! session's long-lived allocations are made on the runtime's workers and on the blocking pool
//! (login, file operations), so they end up spread over many arenas, each with its own free
//! holes left by the TLS handshakes: measured, an idle TLS session cost 13.2–13.9 KiB of RSS
//! with the default, and 10.1–11.3 KiB with one arena per core (at least two). The server sets
//! that at start, unless the operator chose with `MALLOC_ARENA_MAX`.

/// Limits glibc's arenas to one per core (at least two); returns the limit, or None if left
/// as it was (set by the environment, or not glibc).
pub fn limit() -> Option<usize> {
    if std::env::var_os("MALLOC_ARENA_MAX").is_some() {
        return None;
    }
    let arenas = std::thread::available_parallelism()
        .map(|n| n.get())
        .unwrap_or(2)
        .max(2);
    set(arenas).then_some(arenas)
}

#[cfg(all(target_os = "linux", target_env = "gnu"))]
fn set(arenas: usize) -> bool {
    // SAFETY: mallopt only changes a malloc tunable; called before the runtime's threads start.
    unsafe { libc::mallopt(libc::M_ARENA_MAX, arenas as libc::c_int) == 1 }
}

#[cfg(not(all(target_os = "linux", target_env = "gnu")))]
fn set(_arenas: usize) -> bool {
    false
}
