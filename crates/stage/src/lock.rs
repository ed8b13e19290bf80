//! One writer at a time: a lock file beside a stage's output (or in its run folder), held with
//! an OS file lock for as long as the stage runs. A second run writing the same output is
//! refused with the first one's pid; a run that dies (even by SIGKILL) releases the lock with
//! its process, so a stale lock file never blocks the next run.

use std::fs::{File, OpenOptions};
use std::io::{Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};

#[derive(Debug, thiserror::Error)]
pub enum LockError {
    #[error(
        "{output} is being written by another run (pid {pid}, lock file {lock}); wait for it to \
         end or write elsewhere"
    )]
    Held {
        output: PathBuf,
        lock: PathBuf,
        pid: String,
    },
    #[error("{path}: {source}")]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
}

/// Held while a stage writes an output; the lock file is removed when it is dropped.
#[derive(Debug)]
pub struct OutputLock {
    path: PathBuf,
    file: File,
}

/// `<name>.lock` beside a file output, `.lock` inside a folder output.
pub fn lock_path(output: &Path, folder: bool) -> PathBuf {
    if folder {
        output.join(".lock")
    } else {
        let name = output
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        output.with_file_name(format!(".{name}.lock"))
    }
}

impl OutputLock {
    /// Locks the file output `output` (`.<name>.lock` beside it).
    /// Temporary files a killed writer of `output` left are removed once the lock is held.
    pub fn file(output: &Path) -> Result<Self, LockError> {
        let lock = Self::acquire(output, &lock_path(output, false))?;
        let _ = durable::remove_stale(output);
        Ok(lock)
    }

    /// Locks one part of a partitioned folder output: `dir/<column>=<value>/<file_name>` for
    /// every value (`.<file_name>.lock` in `dir`), so that the shards of a run, each writing its
    /// own file name, write the folder at once. Temporary files a killed writer of that part
    /// left in the partitions are removed once the lock is held.
    pub fn part(dir: &Path, file_name: &str) -> Result<Self, LockError> {
        let target = dir.join(file_name);
        let lock = Self::acquire(&target, &lock_path(&target, false))?;
        if let Ok(entries) = std::fs::read_dir(dir) {
            for entry in entries.flatten() {
                if entry.path().is_dir() {
                    let _ = durable::remove_stale(&entry.path().join(file_name));
                }
            }
        }
        Ok(lock)
    }

    /// Locks the folder output `output` (`.lock` inside it; the folder is created). Temporary
    /// files a killed run left in it are removed once the lock is held.
    pub fn folder(output: &Path) -> Result<Self, LockError> {
        std::fs::create_dir_all(output).map_err(|source| LockError::Io {
            path: output.to_path_buf(),
            source,
        })?;
        let lock = Self::acquire(output, &lock_path(output, true))?;
        let _ = durable::remove_stale_in(output);
        Ok(lock)
    }

    fn acquire(output: &Path, lock: &Path) -> Result<Self, LockError> {
        let io = |source| LockError::Io {
            path: lock.to_path_buf(),
            source,
        };
        if let Some(parent) = lock.parent().filter(|p| !p.as_os_str().is_empty()) {
            std::fs::create_dir_all(parent).map_err(|source| LockError::Io {
                path: parent.to_path_buf(),
                source,
            })?;
        }
        // The holder removes the file when it ends: a run that opened the old file just before
        // may then lock a file no longer in the folder, so it checks that the file it locked is
        // still the one at the path, and tries again when not.
        for _ in 0..100 {
            let mut file = OpenOptions::new()
                .read(true)
                .write(true)
                .create(true)
                .truncate(false)
                .open(lock)
                .map_err(io)?;
            match file.try_lock() {
                Ok(()) => {}
                Err(std::fs::TryLockError::WouldBlock) => {
                    let mut pid = String::new();
                    let _ = file.read_to_string(&mut pid);
                    let pid = pid.trim();
                    return Err(LockError::Held {
                        output: output.to_path_buf(),
                        lock: lock.to_path_buf(),
                        pid: if pid.is_empty() {
                            "unknown".into()
                        } else {
                            pid.to_string()
                        },
                    });
                }
                Err(std::fs::TryLockError::Error(e)) => return Err(io(e)),
            }
            if !same_file(&file, lock) {
                continue;
            }
            file.set_len(0).map_err(io)?;
            file.seek(SeekFrom::Start(0)).map_err(io)?;
            writeln!(file, "{}", std::process::id()).map_err(io)?;
            file.flush().map_err(io)?;
            return Ok(OutputLock {
                path: lock.to_path_buf(),
                file,
            });
        }
        Err(io(std::io::Error::other(
            "the lock file kept being replaced",
        )))
    }

    /// The lock file.
    pub fn path(&self) -> &Path {
        &self.path
    }
}

#[cfg(unix)]
fn same_file(file: &File, path: &Path) -> bool {
    use std::os::unix::fs::MetadataExt;
    match (file.metadata(), std::fs::metadata(path)) {
        (Ok(a), Ok(b)) => a.dev() == b.dev() && a.ino() == b.ino(),
        _ => false,
    }
}

#[cfg(not(unix))]
fn same_file(_file: &File, path: &Path) -> bool {
    path.exists()
}

impl Drop for OutputLock {
    fn drop(&mut self) {
        // removed while still locked, so that no other run locks this file in between
        let _ = std::fs::remove_file(&self.path);
        let _ = self.file.unlock();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_second_writer_is_refused_with_the_holders_pid() {
        let dir = tempfile::tempdir().unwrap();
        let out = dir.path().join("clusters.parquet");
        let first = OutputLock::file(&out).unwrap();
        assert_eq!(first.path(), dir.path().join(".clusters.parquet.lock"));
        let e = OutputLock::file(&out).unwrap_err().to_string();
        assert!(
            e.contains("clusters.parquet") && e.contains(&format!("pid {}", std::process::id())),
            "{e}"
        );
        drop(first);
        assert!(!dir.path().join(".clusters.parquet.lock").exists());
        let again = OutputLock::file(&out).unwrap();
        drop(again);
    }

    #[test]
    fn a_folder_lock_lives_inside_the_folder() {
        let dir = tempfile::tempdir().unwrap();
        let run = dir.path().join("run");
        let l = OutputLock::folder(&run).unwrap();
        assert!(run.join(".lock").is_file());
        assert!(OutputLock::folder(&run).is_err());
        drop(l);
        assert!(!run.join(".lock").exists());
    }

    #[test]
    fn a_stale_lock_file_without_a_holder_is_taken_over() {
        let dir = tempfile::tempdir().unwrap();
        let out = dir.path().join("e.parquet");
        // what a killed run leaves: the file, with its pid, but no lock on it
        std::fs::write(lock_path(&out, false), "999999\n").unwrap();
        let l = OutputLock::file(&out).unwrap();
        let text = std::fs::read_to_string(l.path()).unwrap();
        assert_eq!(text.trim(), std::process::id().to_string());
    }
}
