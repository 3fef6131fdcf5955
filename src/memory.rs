//! Giving memory back to the system, for a long-running server under
//! mimalloc (feature `mimalloc`; without it these do nothing and the
//! system allocator does what it does). The allocator itself is the
//! program's choice (`#[global_allocator]`, as the `tcpkit` binary
//! declares it); these are what a server that uses it calls: small pages
//! first, a collector thread, and each tokio worker's collection as it
//! parks (`on_thread_park`).
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

/// How often freed memory is looked for and given back.
#[cfg(feature = "mimalloc")]
const COLLECT_EVERY: std::time::Duration = std::time::Duration::from_secs(1);

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
