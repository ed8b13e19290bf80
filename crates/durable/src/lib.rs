//! Files that appear whole or not at all, even when the process is killed (SIGKILL) or the
//! machine loses power mid-write: the one atomic writer every crate of the pipeline uses.
//!
//! [`AtomicFile`] writes a temporary file beside its target (same folder, so the rename stays
//! on one file system), and [`AtomicFile::commit`] fsyncs it, renames it over the target and
//! fsyncs the folder, so that after a crash the target is either the previous complete file or
//! the new complete one, never a mix. Temporary files left by a killed writer are named
//! `.<target name>.<random>.tmp`; [`remove_stale`] clears them.

use std::fs::File;
use std::io;
use std::path::{Path, PathBuf};

use tempfile::NamedTempFile;

/// A file being written under a temporary name beside its target. [`AtomicFile::commit`]
/// publishes it; dropping it uncommitted deletes the temporary file.
pub struct AtomicFile {
    target: PathBuf,
    tmp: NamedTempFile,
}

/// The folder holding `target` (`.` for a bare file name).
pub fn parent_of(target: &Path) -> PathBuf {
    match target.parent() {
        Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
        _ => PathBuf::from("."),
    }
}

fn tmp_prefix(target: &Path) -> String {
    let name = target
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    format!(".{name}.")
}

const TMP_SUFFIX: &str = ".tmp";

impl AtomicFile {
    /// Starts writing `target`, creating its parent folder when needed. Errors are the plain
    /// `io::Error`s; callers name the file.
    pub fn create(target: &Path) -> io::Result<Self> {
        let parent = parent_of(target);
        std::fs::create_dir_all(&parent)?;
        let prefix = tmp_prefix(target);
        let mut builder = tempfile::Builder::new();
        builder.prefix(&prefix).suffix(TMP_SUFFIX);
        // an output is an ordinary file (rw for all, less the umask), not the 0600 of a private
        // temporary file: others sharing the folder, or a web server, must read it
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            builder.permissions(std::fs::Permissions::from_mode(0o666));
        }
        let tmp = builder.tempfile_in(&parent)?;
        Ok(AtomicFile {
            target: target.to_path_buf(),
            tmp,
        })
    }

    pub fn target(&self) -> &Path {
        &self.target
    }

    /// Where the bytes go until the commit.
    pub fn temp_path(&self) -> &Path {
        self.tmp.path()
    }

    /// The open temporary file.
    pub fn file(&self) -> &File {
        self.tmp.as_file()
    }

    /// The open temporary file, mutably (for `Write`).
    pub fn file_mut(&mut self) -> &mut File {
        self.tmp.as_file_mut()
    }

    /// A second handle on the temporary file (writers that take ownership of a `File`).
    pub fn try_clone_file(&self) -> io::Result<File> {
        self.tmp.as_file().try_clone()
    }

    /// Asks the kernel to start writing what has been written so far to disk, without
    /// waiting for it: a writer that calls this as it goes (after each Parquet row group) finds
    /// little left to wait for in [`commit`](Self::commit)'s fsync. A hint: it never fails,
    /// and does nothing outside Linux.
    pub fn start_writeback(&self) {
        #[cfg(target_os = "linux")]
        {
            use std::os::fd::AsRawFd;
            // SAFETY: a plain syscall on an open descriptor of ours; it touches no memory.
            unsafe {
                libc::sync_file_range(
                    self.tmp.as_file().as_raw_fd(),
                    0,
                    0,
                    libc::SYNC_FILE_RANGE_WRITE,
                );
            }
        }
    }

    /// Flushes the file to disk, renames it over the target and flushes the folder, so the
    /// rename itself survives a power loss.
    pub fn commit(self) -> io::Result<()> {
        self.tmp.as_file().sync_all()?;
        self.tmp.persist(&self.target).map_err(|e| e.error)?;
        sync_dir(&parent_of(&self.target))
    }
}

/// Fsyncs a folder, so that the renames and creations in it are on disk.
pub fn sync_dir(dir: &Path) -> io::Result<()> {
    #[cfg(unix)]
    {
        File::open(dir)?.sync_all()
    }
    #[cfg(not(unix))]
    {
        // Windows has no folder handles to flush; its renames are journaled by NTFS.
        let _ = dir;
        Ok(())
    }
}

/// Writes `bytes` to `target` atomically (JSON summaries, HTML, figures, ...).
pub fn write_bytes(target: &Path, bytes: &[u8]) -> io::Result<()> {
    use std::io::Write;
    let mut out = AtomicFile::create(target)?;
    out.file_mut().write_all(bytes)?;
    out.commit()
}

/// Writes through `write`, which is handed the temporary file's path (for libraries that
/// write to a path of their own, e.g. safetensors), then publishes it as [`AtomicFile`] does.
pub fn write_with<E: From<io::Error>>(
    target: &Path,
    write: impl FnOnce(&Path) -> Result<(), E>,
) -> Result<(), E> {
    let out = AtomicFile::create(target)?;
    write(out.temp_path())?;
    out.commit()?;
    Ok(())
}

/// Removes the temporary files a killed writer of `target` left beside it; returns how many.
/// Call it only while holding the output's lock, so that no live writer's file is removed.
pub fn remove_stale(target: &Path) -> io::Result<usize> {
    let parent = parent_of(target);
    let prefix = tmp_prefix(target);
    let mut removed = 0;
    let entries = match std::fs::read_dir(&parent) {
        Ok(e) => e,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(0),
        Err(e) => return Err(e),
    };
    for entry in entries {
        let entry = entry?;
        let name = entry.file_name();
        let name = name.to_string_lossy();
        if name.starts_with(&prefix) && name.ends_with(TMP_SUFFIX) && name.len() > prefix.len() {
            match std::fs::remove_file(entry.path()) {
                Ok(()) => removed += 1,
                Err(e) if e.kind() == io::ErrorKind::NotFound => {}
                Err(e) => return Err(e),
            }
        }
    }
    Ok(removed)
}

/// Removes every temporary file a killed writer left in `dir` (names `.<name>.<random>.tmp`);
/// returns how many. For a folder the caller holds the lock of (a run folder).
pub fn remove_stale_in(dir: &Path) -> io::Result<usize> {
    let mut removed = 0;
    let entries = match std::fs::read_dir(dir) {
        Ok(e) => e,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(0),
        Err(e) => return Err(e),
    };
    for entry in entries {
        let entry = entry?;
        let name = entry.file_name();
        let name = name.to_string_lossy();
        if name.starts_with('.') && name.ends_with(TMP_SUFFIX) && entry.file_type()?.is_file() {
            match std::fs::remove_file(entry.path()) {
                Ok(()) => removed += 1,
                Err(e) if e.kind() == io::ErrorKind::NotFound => {}
                Err(e) => return Err(e),
            }
        }
    }
    Ok(removed)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn uncommitted_file_leaves_nothing() {
        let dir = tempfile::tempdir().unwrap();
        let target = dir.path().join("sub/out.bin");
        {
            let mut f = AtomicFile::create(&target).unwrap();
            use std::io::Write;
            f.file_mut().write_all(b"half").unwrap();
        }
        assert!(!target.exists());
        let left: Vec<_> = std::fs::read_dir(dir.path().join("sub")).unwrap().collect();
        assert!(left.is_empty(), "temporary file removed: {left:?}");
        write_bytes(&target, b"whole").unwrap();
        assert_eq!(std::fs::read(&target).unwrap(), b"whole");
    }

    #[test]
    fn write_back_started_midway_keeps_every_byte() {
        let dir = tempfile::tempdir().unwrap();
        let target = dir.path().join("out.bin");
        let mut f = AtomicFile::create(&target).unwrap();
        use std::io::Write;
        let bytes: Vec<u8> = (0..300_000u32).map(|i| (i * 7 % 251) as u8).collect();
        for part in bytes.chunks(70_000) {
            f.file_mut().write_all(part).unwrap();
            f.start_writeback();
        }
        f.commit().unwrap();
        assert_eq!(std::fs::read(&target).unwrap(), bytes);
    }

    #[test]
    fn a_failed_write_keeps_the_previous_file() {
        let dir = tempfile::tempdir().unwrap();
        let target = dir.path().join("out.json");
        write_bytes(&target, b"first").unwrap();
        let r: io::Result<()> = write_with(&target, |tmp| {
            std::fs::write(tmp, b"sec")?;
            Err(io::Error::other("failed half-way"))
        });
        assert!(r.is_err());
        assert_eq!(std::fs::read(&target).unwrap(), b"first");
        write_with::<io::Error>(&target, |tmp| std::fs::write(tmp, b"second")).unwrap();
        assert_eq!(std::fs::read(&target).unwrap(), b"second");
        assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 1);
    }

    #[test]
    fn stale_temporary_files_are_removed_and_others_kept() {
        let dir = tempfile::tempdir().unwrap();
        let target = dir.path().join("t.parquet");
        let stale = dir.path().join(".t.parquet.abc123.tmp");
        let other = dir.path().join(".u.parquet.abc123.tmp");
        std::fs::write(&stale, b"x").unwrap();
        std::fs::write(&other, b"x").unwrap();
        std::fs::write(&target, b"x").unwrap();
        assert_eq!(remove_stale(&target).unwrap(), 1);
        assert!(!stale.exists() && other.exists() && target.exists());
        assert_eq!(remove_stale(&dir.path().join("none/x")).unwrap(), 0);
        assert_eq!(remove_stale_in(dir.path()).unwrap(), 1);
        assert!(!other.exists() && target.exists());
    }

    #[cfg(unix)]
    #[test]
    fn outputs_are_readable_by_others_as_the_umask_allows() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().unwrap();
        let target = dir.path().join("out.txt");
        let f = AtomicFile::create(&target).unwrap();
        f.commit().unwrap();
        let mode = std::fs::metadata(&target).unwrap().permissions().mode() & 0o777;
        // 0o666 less the umask (Linux says it in /proc): with the usual 022, 0644
        let umask = std::fs::read_to_string("/proc/self/status")
            .ok()
            .and_then(|s| {
                s.lines()
                    .find_map(|l| l.strip_prefix("Umask:"))
                    .and_then(|v| u32::from_str_radix(v.trim(), 8).ok())
            });
        if let Some(umask) = umask {
            assert_eq!(mode, 0o666 & !umask, "mode {mode:o} under umask {umask:o}");
        } else {
            assert_ne!(mode, 0o600, "a private temporary file's mode");
        }
    }
}
