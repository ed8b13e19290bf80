//! Outputs that appear whole or not at all: the `durable` crate's writer (temporary file,
//! fsync, rename, fsync of the folder), with errors that name the table.

use std::fs::File;
use std::path::Path;

use crate::{Result, TableError};

/// A file being written under a temporary name beside its target. [`AtomicFile::commit`] makes
/// it the target; dropping it uncommitted deletes the temporary file.
pub struct AtomicFile(durable::AtomicFile);

impl AtomicFile {
    /// Starts writing `target`, creating its parent folder when needed.
    pub fn create(target: &Path) -> Result<Self> {
        durable::AtomicFile::create(target)
            .map(AtomicFile)
            .map_err(|e| TableError::io(target, e))
    }

    pub fn target(&self) -> &Path {
        self.0.target()
    }

    /// The open temporary file.
    pub fn file(&self) -> &File {
        self.0.file()
    }

    /// A second handle on the temporary file (writers that take ownership of a `File`).
    pub fn try_clone_file(&self) -> Result<File> {
        self.0
            .try_clone_file()
            .map_err(|e| TableError::io(self.0.target(), e))
    }

    /// Starts writing what is written so far to disk, without waiting (see
    /// [`durable::AtomicFile::start_writeback`]).
    pub fn start_writeback(&self) {
        self.0.start_writeback()
    }

    /// Flushes to disk, renames over the target, flushes the folder.
    pub fn commit(self) -> Result<()> {
        let target = self.0.target().to_path_buf();
        self.0.commit().map_err(|e| TableError::io(&target, e))
    }
}

/// Writes `bytes` to `target` atomically (JSON summaries, HTML, ...).
pub fn write_bytes(target: &Path, bytes: &[u8]) -> Result<()> {
    durable::write_bytes(target, bytes).map_err(|e| TableError::io(target, e))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn uncommitted_file_leaves_nothing() {
        let dir = tempfile::tempdir().unwrap();
        let target = dir.path().join("sub/out.bin");
        {
            let f = AtomicFile::create(&target).unwrap();
            use std::io::Write;
            f.file().write_all(b"half").unwrap();
        }
        assert!(!target.exists());
        let left: Vec<_> = std::fs::read_dir(dir.path().join("sub")).unwrap().collect();
        assert!(left.is_empty(), "temporary file removed: {left:?}");
        write_bytes(&target, b"whole").unwrap();
        assert_eq!(std::fs::read(&target).unwrap(), b"whole");
    }
}
