//! The allocator of every stage binary: mimalloc, told to keep the pages it frees.
//!
//! The stages allocate and free the same large buffers batch after batch (Arrow builders,
//! LSTM activations). mimalloc by default hands freed pages back to the OS after 10 ms, and the
//! next batch then pays the kernel to fault in and zero them again: a third of ingest's time,
//! measured. Keeping them costs no extra peak memory, since the next batch reuses them.

#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// `mi_option_purge_delay` in mimalloc 3's `mi_option_e` (libmimalloc-sys does not name it).
const MI_OPTION_PURGE_DELAY: libmimalloc_sys::mi_option_t = 15;

/// Never purge freed pages (the option is read at each purge, so setting it late is fine).
pub fn keep_freed_pages() {
    // SAFETY: sets a plain integer option; mimalloc reads options atomically.
    unsafe { libmimalloc_sys::mi_option_set(MI_OPTION_PURGE_DELAY, -1) };
}

#[cfg(test)]
mod tests {
    #[test]
    fn the_purge_delay_option_is_the_one_we_set() {
        super::keep_freed_pages();
        // SAFETY: reads a plain integer option.
        let v = unsafe { libmimalloc_sys::mi_option_get(super::MI_OPTION_PURGE_DELAY) };
        assert_eq!(v, -1);
        // its neighbours keep their defaults: the index is not off by one
        let numa = unsafe { libmimalloc_sys::mi_option_get(super::MI_OPTION_PURGE_DELAY + 1) };
        assert_ne!(numa, -1);
    }
}
