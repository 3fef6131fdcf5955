//! The binary's memory allocator: mimalloc (feature `mimalloc`), set up to
//! give freed memory back to the system at once.
//!
//! Why mimalloc: tokio aligns each task and each socket's readiness state
//! to 128 bytes; glibc's malloc pads every such allocation, mimalloc's size
//! classes are already aligned, which takes an idle connection from ~1245
//! to ~770 bytes.
//!
//! Why purge at once: mimalloc (v3, libmimalloc-sys's default) returns
//! freed pages after a delay (1 s), but only checks the delay when the
//! thread that freed them works with the allocator again. After a burst (a thousand clients holding 64 KiB lines, then
//! gone) an idle server's threads allocate nothing, so it kept its peak
//! RSS indefinitely. With no delay the pages go back as they empty; the
//! same-run benches (pipeline, churn, hold) showed no cost.

#[cfg(feature = "mimalloc")]
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// mimalloc's `mi_option_purge_delay` (its `mi_option_e` has no binding in
/// libmimalloc-sys; the test below checks that this is the option).
#[cfg(feature = "mimalloc")]
const PURGE_DELAY: libmimalloc_sys::mi_option_t = 15;

/// Makes freed memory go back to the system as soon as a page empties.
/// `MIMALLOC_PURGE_DELAY` in the environment still wins, for experiments.
pub fn return_memory_promptly() {
    #[cfg(feature = "mimalloc")]
    if std::env::var_os("MIMALLOC_PURGE_DELAY").is_none() {
        // SAFETY: sets one of mimalloc's options, which it reads atomically.
        unsafe { libmimalloc_sys::mi_option_set(PURGE_DELAY, 0) };
    }
}

#[cfg(all(test, feature = "mimalloc"))]
mod tests {
    #[test]
    fn purge_delay_is_the_option_we_mean() {
        // mimalloc v3's default purge delay is 1000 (ms); a new mimalloc
        // that renumbers its options or changes it fails here, to be looked at.
        if std::env::var_os("MIMALLOC_PURGE_DELAY").is_none() {
            // SAFETY: reads one of mimalloc's options.
            let delay = unsafe { libmimalloc_sys::mi_option_get(super::PURGE_DELAY) };
            assert_eq!(delay, 1000);
        }
    }
}
