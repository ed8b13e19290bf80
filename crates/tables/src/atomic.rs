//! Outputs that appear whole or not at all.

use std::fs::File;
use std::path::{Path, PathBuf};

use tempfile::NamedTempFile;

use crate::{Result, TableError};

/// A file being written under a temporary name beside its target. [`AtomicFile::commit`] renames
/// it over the target; dropping it uncommitted deletes the temporary file.
pub struct AtomicFile {
    target: PathBuf,
    tmp: NamedTempFile,
}

impl AtomicFile {
    /// Starts writing `target`, creating its parent folder when needed.
    pub fn create(target: &Path) -> Result<Self> {
        let parent = match target.parent() {
            Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
            _ => PathBuf::from("."),
        };
        std::fs::create_dir_all(&parent).map_err(|e| TableError::io(&parent, e))?;
        let name = target
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        let tmp = tempfile::Builder::new()
            .prefix(&format!(".{name}."))
            .suffix(".tmp")
            .tempfile_in(&parent)
            .map_err(|e| TableError::io(target, e))?;
        Ok(AtomicFile {
            target: target.to_path_buf(),
            tmp,
        })
    }

    pub fn target(&self) -> &Path {
        &self.target
    }

    /// The open temporary file.
    pub fn file(&self) -> &File {
        self.tmp.as_file()
    }

    /// A second handle on the temporary file (writers that take ownership of a `File`).
    pub fn try_clone_file(&self) -> Result<File> {
        self.tmp
            .as_file()
            .try_clone()
            .map_err(|e| TableError::io(&self.target, e))
    }

    /// Flushes to disk and renames over the target.
    pub fn commit(self) -> Result<()> {
        self.tmp
            .as_file()
            .sync_all()
            .map_err(|e| TableError::io(&self.target, e))?;
        self.tmp
            .persist(&self.target)
            .map_err(|e| TableError::io(&self.target, e.error))?;
        Ok(())
    }
}

/// Writes `bytes` to `target` atomically (JSON summaries, HTML, ...).
pub fn write_bytes(target: &Path, bytes: &[u8]) -> Result<()> {
    use std::io::Write;
    let out = AtomicFile::create(target)?;
    out.file()
        .write_all(bytes)
        .map_err(|e| TableError::io(target, e))?;
    out.commit()
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
