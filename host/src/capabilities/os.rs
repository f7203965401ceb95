//! What reading files needs from the operating system, for Unix and Windows alike.

use std::fs::{File, Metadata};
use std::io;
use std::path::Path;

/// Why [`open_regular`] refused a path that exists.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum NotRegular {
    /// A symbolic link, which is never followed.
    Link,
    /// A folder, a FIFO, a device or a socket.
    Other,
}

/// Opens `path` for reading if it is a regular file, without following a symbolic link at
/// its end: `Ok(Err(_))` says what it is instead. One path lookup: the open refuses a link
/// itself, and what was opened is checked by its handle (a FIFO opens without blocking).
#[cfg(unix)]
pub(crate) fn open_regular(path: &Path) -> io::Result<Result<File, NotRegular>> {
    use std::os::unix::fs::OpenOptionsExt as _;

    let opened = std::fs::OpenOptions::new()
        .read(true)
        .custom_flags(libc::O_NOFOLLOW | libc::O_NONBLOCK)
        .open(path);
    let file = match opened {
        Ok(file) => file,
        Err(e) if e.raw_os_error() == Some(libc::ELOOP) => return Ok(Err(NotRegular::Link)),
        Err(e) => return Err(e),
    };
    Ok(if file.metadata()?.is_file() {
        Ok(file)
    } else {
        Err(NotRegular::Other)
    })
}

/// Opens `path` for reading if it is a regular file and not a symbolic link.
#[cfg(not(unix))]
pub(crate) fn open_regular(path: &Path) -> io::Result<Result<File, NotRegular>> {
    let meta = path.symlink_metadata()?;
    if meta.file_type().is_symlink() {
        return Ok(Err(NotRegular::Link));
    }
    if !meta.is_file() {
        return Ok(Err(NotRegular::Other));
    }
    File::open(path).map(Ok)
}

/// A granted folder's root held open, so that a path beneath it is opened in one lookup
/// that refuses any symbolic link on the way and anything outside (Linux's `openat2` with
/// `RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS`), rather than checked folder by folder first.
#[cfg(target_os = "linux")]
#[derive(Debug)]
pub(crate) struct Beneath {
    root: std::os::fd::OwnedFd,
    /// Where the root was when it was opened.
    root_path: std::path::PathBuf,
    /// Cleared when the kernel has no `openat2` (before Linux 5.6) or refuses it (a
    /// sandbox's filter): callers then check paths themselves.
    works: std::sync::atomic::AtomicBool,
}

#[cfg(target_os = "linux")]
impl Beneath {
    /// Holds `root` (a folder) open.
    pub(crate) fn new(root: &Path) -> io::Result<Self> {
        use rustix::fs::{Mode, OFlags};

        let root_path = root.to_owned();
        let root = rustix::fs::open(
            root,
            OFlags::PATH | OFlags::DIRECTORY | OFlags::CLOEXEC,
            Mode::empty(),
        )?;
        Ok(Self {
            root,
            root_path,
            works: std::sync::atomic::AtomicBool::new(true),
        })
    }

    /// Opens `path` (relative, checked to hold no `..`) for reading if it is a regular
    /// file, as [`open_regular`] does; `None` when `openat2` cannot be used here.
    pub(crate) fn open_regular(&self, path: &str) -> Option<io::Result<Result<File, NotRegular>>> {
        use rustix::fs::OFlags;

        let flags = OFlags::RDONLY | OFlags::NOFOLLOW | OFlags::NONBLOCK | OFlags::CLOEXEC;
        let file = match self.open(path, flags)? {
            Ok(file) => file,
            Err(e) => return Some(Err(e)),
        };
        Some(match file {
            Ok(file) => file.metadata().map(|m| {
                if m.is_file() {
                    Ok(file)
                } else {
                    Err(NotRegular::Other)
                }
            }),
            Err(not) => Ok(Err(not)),
        })
    }

    /// The metadata of `path` without following a link; `None` as for `open_regular`.
    pub(crate) fn metadata(&self, path: &str) -> Option<io::Result<Result<Metadata, NotRegular>>> {
        use rustix::fs::OFlags;

        let flags = OFlags::PATH | OFlags::NOFOLLOW | OFlags::CLOEXEC;
        Some(match self.open(path, flags)? {
            Ok(Ok(file)) => file.metadata().map(Ok),
            Ok(Err(not)) => Ok(Err(not)),
            Err(e) => Err(e),
        })
    }

    /// Lists the folder `path` (relative, checked to hold no `..`; empty for the root):
    /// each entry's name and metadata, which does not follow a link, read relative to the
    /// open folder rather than by path. An entry removed while listed is left out. `None`
    /// as for `open_regular`.
    pub(crate) fn read_dir(&self, path: &str) -> Option<io::Result<Result<Listing, NotRegular>>> {
        use rustix::fs::OFlags;

        let flags = OFlags::RDONLY | OFlags::DIRECTORY | OFlags::NOFOLLOW | OFlags::CLOEXEC;
        let path = if path.is_empty() { "." } else { path };
        Some(match self.open(path, flags)? {
            Ok(Ok(folder)) => list(folder).and_then(|(entries, held)| {
                // A folder removed while held open lists as empty (its entries are gone,
                // and reading it ends at once): say it is gone, as a listing by path
                // would, rather than let an empty listing read as every file in it
                // deleted. Some file systems give a live folder no link count either, so
                // the folder is looked up again by its path before it is called gone.
                if entries.is_empty() && held.st_nlink == 0 && !self.still_at(path, &held) {
                    return Err(io::ErrorKind::NotFound.into());
                }
                Ok(Ok(entries))
            }),
            Ok(Err(not)) => Ok(Err(not)),
            // `O_DIRECTORY` answers a link at the end as not a folder, before `O_NOFOLLOW`
            // would: say which it is. (A link on the way was refused by the open.)
            Err(e) if e.raw_os_error() == Some(libc::ENOTDIR) => {
                match rustix::fs::statat(&self.root, path, rustix::fs::AtFlags::SYMLINK_NOFOLLOW) {
                    Ok(stat)
                        if rustix::fs::FileType::from_raw_mode(stat.st_mode as _)
                            == rustix::fs::FileType::Symlink =>
                    {
                        Ok(Err(NotRegular::Link))
                    }
                    _ => Err(e),
                }
            }
            Err(e) => Err(e),
        })
    }

    /// Whether the folder `held` is still at `path` beneath the root's path.
    #[allow(clippy::unnecessary_cast)] // The fields' widths differ between architectures.
    fn still_at(&self, path: &str, held: &rustix::fs::Stat) -> bool {
        use std::os::unix::fs::MetadataExt as _;

        std::fs::symlink_metadata(self.root_path.join(path))
            .is_ok_and(|m| m.dev() == held.st_dev as u64 && m.ino() == held.st_ino as u64)
    }

    fn open(
        &self,
        path: &str,
        flags: rustix::fs::OFlags,
    ) -> Option<io::Result<Result<File, NotRegular>>> {
        use std::sync::atomic::Ordering;

        use rustix::fs::{Mode, ResolveFlags};
        use rustix::io::Errno;

        if !self.works.load(Ordering::Relaxed) {
            return None;
        }
        let resolve =
            ResolveFlags::BENEATH | ResolveFlags::NO_SYMLINKS | ResolveFlags::NO_MAGICLINKS;
        match rustix::fs::openat2(&self.root, path, flags, Mode::empty(), resolve) {
            Ok(fd) => Some(Ok(Ok(File::from(fd)))),
            // A link on the way or at the end; or a way out, which the path checks refuse
            // first anyway.
            Err(Errno::LOOP | Errno::XDEV) => Some(Ok(Err(NotRegular::Link))),
            Err(Errno::NOSYS | Errno::PERM | Errno::INVAL | Errno::TOOBIG) => {
                self.works.store(false, Ordering::Relaxed);
                None
            }
            Err(e) => Some(Err(e.into())),
        }
    }
}

/// A folder's entries: each name with its metadata.
#[cfg(target_os = "linux")]
pub(crate) type Listing = Vec<(std::ffi::OsString, rustix::fs::Stat)>;

/// Reads the entries of the open `folder`, each stat'ed relative to it, and the folder's
/// own metadata after.
#[cfg(target_os = "linux")]
fn list(folder: File) -> io::Result<(Listing, rustix::fs::Stat)> {
    use std::os::unix::ffi::OsStringExt as _;

    use rustix::fs::{AtFlags, Dir};
    use rustix::io::Errno;

    let mut dir = Dir::new(std::os::fd::OwnedFd::from(folder))?;
    let mut entries = Vec::new();
    while let Some(entry) = dir.read() {
        let entry = entry?;
        let name = entry.file_name();
        if matches!(name.to_bytes(), b"." | b"..") {
            continue;
        }
        match rustix::fs::statat(dir.fd()?, name, AtFlags::SYMLINK_NOFOLLOW) {
            Ok(stat) => {
                entries.push((std::ffi::OsString::from_vec(name.to_bytes().to_vec()), stat))
            }
            Err(Errno::NOENT) => {}
            Err(e) => {
                let e = io::Error::from(e);
                return Err(io::Error::new(
                    e.kind(),
                    format!("{}: {e}", name.to_string_lossy()),
                ));
            }
        }
    }
    Ok((entries, rustix::fs::fstat(dir.fd()?)?))
}

/// Reads into `buf` from `offset` of `file` until it is full or the file ends, without a
/// shared cursor (several readers may use one file); returns how many bytes were read.
pub(crate) fn read_full_at(file: &File, offset: u64, buf: &mut [u8]) -> io::Result<usize> {
    let mut filled = 0;
    while filled < buf.len() {
        match read_at(file, &mut buf[filled..], offset + filled as u64) {
            Ok(0) => break,
            Ok(n) => filled += n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    Ok(filled)
}

#[cfg(unix)]
fn read_at(file: &File, buf: &mut [u8], offset: u64) -> io::Result<usize> {
    std::os::unix::fs::FileExt::read_at(file, buf, offset)
}

// Windows moves the file's cursor on a positioned read; nothing here relies on the cursor.
#[cfg(windows)]
fn read_at(file: &File, buf: &mut [u8], offset: u64) -> io::Result<usize> {
    std::os::windows::fs::FileExt::seek_read(file, buf, offset)
}

#[cfg(not(any(unix, windows)))]
fn read_at(_: &File, _: &mut [u8], _: u64) -> io::Result<usize> {
    Err(io::Error::new(
        io::ErrorKind::Unsupported,
        "positioned reads are not available on this platform",
    ))
}

/// An identity that survives renames within one filesystem: device and inode on Unix.
/// Windows' file index is not available from stable std, so there it is `None` (a rename
/// is then seen as a removal and an addition).
#[cfg(unix)]
pub(crate) fn file_id(meta: &Metadata) -> Option<u64> {
    use std::os::unix::fs::MetadataExt;
    Some(meta.ino() ^ meta.dev().rotate_left(48))
}

/// An identity that survives renames within one filesystem; none on this platform.
#[cfg(not(unix))]
pub(crate) fn file_id(_: &Metadata) -> Option<u64> {
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_fill_the_buffer_or_stop_at_the_end() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("f");
        std::fs::write(&path, b"0123456789").unwrap();
        let file = File::open(&path).unwrap();
        let mut buf = [0u8; 4];
        assert_eq!(read_full_at(&file, 3, &mut buf).unwrap(), 4);
        assert_eq!(&buf, b"3456");
        assert_eq!(read_full_at(&file, 8, &mut buf).unwrap(), 2);
        assert_eq!(read_full_at(&file, 20, &mut buf).unwrap(), 0);
    }
}
