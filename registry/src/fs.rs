//! Writing files so that a crash leaves the old one or the new one, never a torn one.

use std::path::Path;

use crate::RegistryError;

/// The error for `path`.
pub(crate) fn io(path: &Path, source: std::io::Error) -> RegistryError {
    RegistryError::Io {
        path: path.display().to_string(),
        source,
    }
}

/// Replaces `path` with `bytes` atomically and durably, creating its folder.
pub(crate) fn write_atomic(path: &Path, bytes: &[u8]) -> Result<(), RegistryError> {
    let (Some(parent), Some(name)) = (path.parent(), path.file_name()) else {
        return Err(RegistryError::corrupt(
            &path.display().to_string(),
            "not a file's path",
        ));
    };
    std::fs::create_dir_all(parent).map_err(|e| io(parent, e))?;
    // A name of its own, with a leading dot (never taken for an index file or a plugin):
    // two writers of one file each rename a whole one into place.
    let mut file = tempfile::Builder::new()
        .prefix(&format!(".{}.", name.to_string_lossy()))
        .suffix(".partial")
        .tempfile_in(parent)
        .map_err(|e| io(parent, e))?;
    // Durable before it is named: a crash leaves the old file or the new one.
    std::io::Write::write_all(&mut file, bytes).map_err(|e| io(file.path(), e))?;
    file.as_file().sync_all().map_err(|e| io(file.path(), e))?;
    file.persist(path).map_err(|e| io(path, e.error))?;
    sync_dir(parent);
    Ok(())
}

/// Makes a rename in `dir` durable (Unix; elsewhere opening a folder fails, harmlessly).
pub(crate) fn sync_dir(dir: &Path) {
    if let Ok(folder) = std::fs::File::open(dir) {
        let _ = folder.sync_all();
    }
}
