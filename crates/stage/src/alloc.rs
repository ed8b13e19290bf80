//! The allocator of every stage binary: mimalloc, told to keep the pages it frees and to
//! commit memory as it is used; and no transparent huge pages.
//!
//! The stages allocate and free the same large buffers batch after batch (Arrow builders,
//! LSTM activations). mimalloc by default hands freed pages back to the OS after 10 ms, and the
//! next batch then pays the kernel to fault in and zero them again: a third of ingest's time,
//! measured. Keeping them costs no extra peak memory, since the next batch reuses them.

#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// `mi_option_purge_delay` in mimalloc 3's `mi_option_e` (libmimalloc-sys does not name it).
const MI_OPTION_PURGE_DELAY: libmimalloc_sys::mi_option_t = 15;

/// `mi_option_arena_eager_commit` in mimalloc 3's `mi_option_e`.
const MI_OPTION_ARENA_EAGER_COMMIT: libmimalloc_sys::mi_option_t = 4;

/// `mi_option_destroy_on_exit` in mimalloc 3's `mi_option_e`.
const MI_OPTION_DESTROY_ON_EXIT: libmimalloc_sys::mi_option_t = 22;

/// Never purge freed pages (the option is read at each purge, so setting it late is fine), and
/// commit memory as it is used rather than whole arenas at once. Eagerly committed arenas are
/// faulted in as transparent huge pages, each zeroed whole on first touch: on 200k faces that
/// was 0.45–0.53 s of kernel time in ingest's 1.4 s, against 0.06 s committed on demand (the
/// first arena is already reserved when `main` starts; the setting applies to the later ones,
/// which is where it counted). `MIMALLOC_ARENA_EAGER_COMMIT` in the environment still wins.
pub fn configure() {
    set_purge_delay(-1);
    if std::env::var_os("MIMALLOC_ARENA_EAGER_COMMIT").is_none() {
        // SAFETY: sets a plain integer option; mimalloc reads options atomically.
        unsafe { libmimalloc_sys::mi_option_set(MI_OPTION_ARENA_EAGER_COMMIT, 0) };
    }
    // No clean-up at exit: mimalloc's exit hook frees every page of the heap back to the OS
    // (a madvise for each span, 25 ms at the end of ingest's 0.8 s on 200k faces), which the
    // process's exit does anyway. 2 skips the hook (1 would also destroy the arenas); the
    // environment still wins, and its statistics and verbose options keep the hook.
    if !exit_hook_asked_for() {
        // SAFETY: sets a plain integer option, read once at exit.
        unsafe { libmimalloc_sys::mi_option_set(MI_OPTION_DESTROY_ON_EXIT, 2) };
    }
    // Transparent huge pages off for the process: a huge page is zeroed whole (2 MiB) on the
    // first touch of any byte of it, which on this project's machine cost more kernel time
    // than the fewer TLB misses saved. Measured alternately: ingest of 200k faces 1.23–1.47 s
    // against 1.30–1.53 s (kernel 0.13–0.18 s against 0.36–0.49 s, 20 MB less memory), and
    // `train` 583–596 sequences/s against 483–495.
    #[cfg(target_os = "linux")]
    // SAFETY: PR_SET_THP_DISABLE takes plain integer arguments and touches no memory of ours.
    unsafe {
        libc::prctl(libc::PR_SET_THP_DISABLE, 1, 0, 0, 0);
    }
}

/// Whether the environment sets mimalloc's exit hook itself, or asks for what it prints.
fn exit_hook_asked_for() -> bool {
    [
        "MIMALLOC_DESTROY_ON_EXIT",
        "MIMALLOC_SHOW_STATS",
        "MIMALLOC_VERBOSE",
    ]
    .iter()
    .any(|v| std::env::var_os(v).is_some())
}

/// Hand freed pages back to the OS once they have stayed unused for `ms` milliseconds (-1:
/// never), unless `MIMALLOC_PURGE_DELAY` in the environment says otherwise.
fn set_purge_delay(ms: i64) {
    if std::env::var_os("MIMALLOC_PURGE_DELAY").is_none() {
        // SAFETY: sets a plain integer option; mimalloc reads options atomically.
        unsafe { libmimalloc_sys::mi_option_set(MI_OPTION_PURGE_DELAY, ms as _) };
    }
}

/// For a stage that streams an input of any size (ingest): freed pages go back to the OS after
/// 100 ms unused. Never purging, the pages that fragmentation leaves behind pile up, and
/// ingest's peak grew with its input: 132-152 MB for 200k faces, 189-190 MB for 2M, 190-232 MB
/// for 4M. With this: 110-117, 135-139 and 132-138 MB. A batch reuses its pages within
/// milliseconds, so most are still kept from one to the next; the rest cost kernel time (4M
/// faces: 11.7-12.3 s against 10.5-10.9 s, alternated; a delay of 250 ms cost half as much and
/// let the peak reach 155 MB).
pub fn bounded_memory() {
    set_purge_delay(100);
}

#[cfg(test)]
mod tests {
    #[test]
    fn the_options_are_the_ones_we_set() {
        super::configure();
        // SAFETY: reads a plain integer option.
        let delay = || unsafe { libmimalloc_sys::mi_option_get(super::MI_OPTION_PURGE_DELAY) };
        if std::env::var_os("MIMALLOC_PURGE_DELAY").is_none() {
            assert_eq!(delay(), -1);
            super::bounded_memory();
            assert_eq!(delay(), 100);
            super::configure();
            assert_eq!(delay(), -1);
        }
        // its neighbours keep their defaults: the index is not off by one
        let numa = unsafe { libmimalloc_sys::mi_option_get(super::MI_OPTION_PURGE_DELAY + 1) };
        assert_ne!(numa, -1);
        #[cfg(target_os = "linux")]
        {
            // SAFETY: PR_GET_THP_DISABLE reads a flag of the process.
            let thp_off = unsafe { libc::prctl(libc::PR_GET_THP_DISABLE, 0, 0, 0, 0) };
            assert_eq!(thp_off, 1);
        }
        if !super::exit_hook_asked_for() {
            let destroy =
                unsafe { libmimalloc_sys::mi_option_get(super::MI_OPTION_DESTROY_ON_EXIT) };
            assert_eq!(destroy, 2);
            // arena_reserve, next to it, is a size in KiB (1 GiB by default), not 2
            let next =
                unsafe { libmimalloc_sys::mi_option_get(super::MI_OPTION_DESTROY_ON_EXIT + 1) };
            assert_ne!(next, 2);
        }
        if std::env::var_os("MIMALLOC_ARENA_EAGER_COMMIT").is_none() {
            let eager =
                unsafe { libmimalloc_sys::mi_option_get(super::MI_OPTION_ARENA_EAGER_COMMIT) };
            assert_eq!(eager, 0);
            // purge_decommits, next to it, defaults to 1
            let next =
                unsafe { libmimalloc_sys::mi_option_get(super::MI_OPTION_ARENA_EAGER_COMMIT + 1) };
            assert_eq!(next, 1);
        }
    }
}
