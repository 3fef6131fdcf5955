//! The binary's memory allocator: mimalloc (feature `mimalloc`), a
//! once-a-second collection that gives freed memory back to the system,
//! small pages for every command, and, for the clients, an arena
//! committed as it is used (see [`COMMIT_AS_USED`]).
//!
//! Why mimalloc: tokio aligns each task and each socket's readiness state
//! to 128 bytes; glibc's malloc pads every such allocation, mimalloc's size
//! classes are already aligned, which takes an idle connection from ~1245
//! to ~770 bytes.
//!
//! Why collect: mimalloc (v3, libmimalloc-sys's default) returns freed
//! pages after a delay (1 s), but only checks the delay when some thread
//! works with the allocator again. After a burst (900 clients holding
//! 64 KiB lines, then gone) an idle server's threads allocate nothing, so
//! it kept its peak RSS (6.4 times its idle baseline, indefinitely). A
//! thread that forces a collection every second brings it back to 1.33
//! times within 10 s. Setting the delay to 0 instead did the same, but
//! cost 21 bytes per idle connection (794 instead of 773); the collector
//! costs neither that nor measurable CPU in the pipeline bench.
//!
//! Why the workers collect too: pages a worker thread freed (or that other
//! threads freed into its heap) are purged only by that thread, and the
//! collector's forced collection does not reach them. After 2,000 clients
//! that flood without reading, an idle server kept 6 to 7 times its fresh
//! RSS 10 s after they left. Each tokio worker now collects its own heap
//! whenever it runs out of work and parks (`on_thread_park`), so the last
//! thing an idle worker does is give its freed pages back: 1.08 times the
//! fresh RSS in the same test. It costs no measurable CPU: pingpong, which
//! parks the workers between messages, showed the same server CPU per
//! reply in alternate runs with and without it, with 10,000 idle
//! connections held (a large heap to walk) and without. A rate limit would
//! skip exactly the park that matters, the last one after a burst.

//!
//! Why small pages: mimalloc asks for transparent huge pages on its arenas
//! (`madvise(MADV_HUGEPAGE)`), so the first touch of fresh memory makes
//! the kernel clear 2 MiB at once. On this project's VM each such fault
//! took 5 to 25 ms, inside one connection's turn: while 2,000 non-readers
//! arrived and the heap grew, 38 turns that long held every other client
//! on the thread, and an innocent client's reply came 200 to 300 ms late.
//! With 4 KiB pages the same growth is spread thinly (worst reply 25 to
//! 80 ms), and a purge gives back exactly the pages freed.

#[cfg(feature = "mimalloc")]
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// How often freed memory is looked for and given back.
#[cfg(feature = "mimalloc")]
const COLLECT_EVERY: std::time::Duration = std::time::Duration::from_secs(1);

/// mimalloc v3's `mi_option_arena_eager_commit` (its `mimalloc.h`).
#[cfg(all(feature = "mimalloc", target_os = "linux", target_env = "gnu"))]
const ARENA_EAGER_COMMIT: libmimalloc_sys::mi_option_t = 4;

/// A client's arenas are committed as they are used, not ahead: mimalloc
/// commits its first arena eagerly on systems that overcommit, about
/// 5 MiB of a client's 10 to 12 MiB peak RSS, for a client whose whole
/// heap is a few hundred KiB (fetch of a small file: 14.6 MiB peak before,
/// 7.0 after). `serve` keeps eager commit: committing as used cost it 25 %
/// more CPU per pipelined reply in the same run (`/tmp/abba.sh` in the
/// issue note).
///
/// The option must be set before mimalloc reserves that arena, which
/// happens before `main` (its constructor runs at priority 101, and std
/// allocates while starting): hence a constructor of ours at priority 100.
/// glibc passes constructors `argc` and `argv` (std's own argument capture
/// relies on it), so it can tell `serve` apart without allocating.
#[cfg(all(feature = "mimalloc", target_os = "linux", target_env = "gnu"))]
#[used]
#[unsafe(link_section = ".init_array.00100")]
static COMMIT_AS_USED: extern "C" fn(
    std::ffi::c_int,
    *const *const std::ffi::c_char,
    *const *const std::ffi::c_char,
) = {
    extern "C" fn commit_as_used(
        argc: std::ffi::c_int,
        argv: *const *const std::ffi::c_char,
        _env: *const *const std::ffi::c_char,
    ) {
        let count = usize::try_from(argc).unwrap_or(0);
        let serving = !argv.is_null()
            && (1..count).any(|i| {
                // SAFETY: glibc passes main's argv: `argc` valid pointers
                // to NUL-terminated strings.
                let arg = unsafe { std::ffi::CStr::from_ptr(*argv.add(i)) };
                arg.to_bytes() == b"serve"
            });
        if !serving {
            // SAFETY: sets one entry of mimalloc's option table; valid
            // before its initialization, which then keeps the value.
            unsafe { libmimalloc_sys::mi_option_set(ARENA_EAGER_COMMIT, 0) };
        }
    }
    commit_as_used
};

/// Keeps this process's memory in small pages: no transparent huge pages
/// (Linux; elsewhere nothing to do). Call first in `main`, before the heap
/// grows.
pub fn small_pages() {
    #[cfg(target_os = "linux")]
    // SAFETY: PR_SET_THP_DISABLE only sets a flag on this process; a
    // kernel without it says EINVAL, and then pages stay as they were.
    unsafe {
        libc::prctl(libc::PR_SET_THP_DISABLE, 1, 0, 0, 0);
    }
}

/// Starts the collector thread (for a long-running server). Without
/// mimalloc, the system allocator does what it does.
pub fn return_memory_promptly() {
    #[cfg(feature = "mimalloc")]
    {
        let collector = std::thread::Builder::new()
            .name("memory-return".into())
            .spawn(|| {
                loop {
                    std::thread::sleep(COLLECT_EVERY);
                    // SAFETY: mimalloc's collection is safe from any
                    // thread; forced, it also purges pages other threads
                    // freed.
                    unsafe { libmimalloc_sys::mi_collect(true) };
                }
            });
        if let Err(e) = collector {
            tracing::warn!(
                "cannot start the memory-return thread ({e}); freed memory may stay with the process"
            );
        }
    }
}

/// Gives the calling thread's freed pages back to the system: run by each
/// tokio worker as it parks. Without mimalloc, nothing to do.
pub fn give_back_this_threads_memory() {
    #[cfg(feature = "mimalloc")]
    // SAFETY: an unforced collection of the calling thread's own heap.
    unsafe {
        libmimalloc_sys::mi_collect(false)
    };
}
