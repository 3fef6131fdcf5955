//! The binary's memory allocator: mimalloc (feature `mimalloc`) and, for
//! the clients, an arena committed as it is used (see [`COMMIT_AS_USED`]).
//! Giving freed memory back (a collector, the workers' collection, small
//! pages) is the library's [`tcpkit::memory`].
//!
//! Why mimalloc: tokio aligns each task and each socket's readiness state
//! to 128 bytes; glibc's malloc pads every such allocation, mimalloc's
//! power-of-two size classes are already aligned, which takes an idle
//! connection from ~900 to ~630 bytes.

#[cfg(feature = "mimalloc")]
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

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
