//! Read access to one folder the user granted, and nothing outside it.

use std::fs;
use std::io;
use std::path::{Path, PathBuf};
use std::time::UNIX_EPOCH;

use super::os::NotRegular;
use tonearm_plugin_api::{DirEntry, EntryKind, FileStat, FileSystem, PluginError, PluginResult};

/// A granted folder. Paths are relative and `/`-separated; `..`, `.`, empty components and
/// absolute paths are refused, and symbolic links are reported as [`EntryKind::Other`] and
/// never followed, so nothing outside the folder can be reached.
#[derive(Debug, Clone)]
pub struct GrantedFolder {
    root: PathBuf,
    /// The root held open, where files are opened in one checked lookup.
    #[cfg(target_os = "linux")]
    beneath: Option<std::sync::Arc<super::os::Beneath>>,
}

impl GrantedFolder {
    /// Grants `root`, which must be an existing folder.
    pub fn new(root: impl AsRef<Path>) -> io::Result<Self> {
        let root = root.as_ref().canonicalize()?;
        if !root.is_dir() {
            return Err(io::Error::new(
                io::ErrorKind::NotADirectory,
                format!("{} is not a folder", root.display()),
            ));
        }
        Ok(Self {
            #[cfg(target_os = "linux")]
            beneath: super::os::Beneath::new(&root).ok().map(std::sync::Arc::new),
            root,
        })
    }

    /// The granted folder.
    pub fn root(&self) -> &Path {
        &self.root
    }

    /// The full path of `path`, refusing what would leave the folder: `..`, `.`, empty or
    /// absolute components, and a symbolic link on the way (any component but the last;
    /// each operation refuses a link at the end itself, without following it).
    ///
    /// Where the check and the operation are apart (not on Linux, where files are opened
    /// beneath the held root in one lookup), a link swapped in by another process between
    /// them is followed; the plugin cannot make one itself, its access is read-only.
    fn resolve(&self, path: &str) -> PluginResult<PathBuf> {
        check(path)?;
        let mut full = self.root.clone();
        if path.is_empty() {
            return Ok(full);
        }
        let mut parts = path.split('/').peekable();
        while let Some(part) = parts.next() {
            full.push(part);
            if parts.peek().is_some() {
                refuse_link(&full, path)?;
            }
        }
        Ok(full)
    }

    /// Opens `path` for reading if it is a regular file in the folder.
    fn open(&self, path: &str) -> PluginResult<fs::File> {
        #[cfg(target_os = "linux")]
        if let Some(opened) = self
            .beneath
            .as_ref()
            .and_then(|b| check(path).map(|()| b.open_regular(path)).transpose())
        {
            return not_regular(path, opened?.map_err(|e| io_error(path, e))?);
        }
        let full = self.resolve(path)?;
        not_regular(
            path,
            super::os::open_regular(&full).map_err(|e| io_error(path, e))?,
        )
    }
}

/// Refuses a path with a `..`, `.` or empty component, or a NUL.
fn check(path: &str) -> PluginResult<()> {
    if path.is_empty() {
        return Ok(());
    }
    if path
        .split('/')
        .any(|part| part.is_empty() || part == "." || part == ".." || part.contains('\0'))
    {
        return Err(PluginError::Invalid(format!(
            "path {path:?} leaves the granted folder or is malformed"
        )));
    }
    Ok(())
}

/// What was opened, or why it is not a file to read.
fn not_regular<T>(path: &str, opened: Result<T, NotRegular>) -> PluginResult<T> {
    opened.map_err(|not| match not {
        NotRegular::Link => PluginError::NotFound(format!(
            "{path} is or passes through a symbolic link, which is never followed"
        )),
        NotRegular::Other => PluginError::NotFound(format!("{path} is not a regular file")),
    })
}

/// Refuses `full` (`path` in the folder) if it is a symbolic link: one that points
/// outside the folder would lead there.
fn refuse_link(full: &Path, path: &str) -> PluginResult<()> {
    match full.symlink_metadata() {
        Ok(meta) if meta.file_type().is_symlink() => Err(PluginError::NotFound(format!(
            "{path} passes through a symbolic link, which is never followed"
        ))),
        // Missing or unreadable: the operation itself says so.
        _ => Ok(()),
    }
}

fn io_error(path: &str, err: io::Error) -> PluginError {
    match err.kind() {
        io::ErrorKind::NotFound => PluginError::NotFound(path.to_owned()),
        io::ErrorKind::PermissionDenied => PluginError::Unauthorized(format!("{path}: {err}")),
        _ => PluginError::Io(format!("{path}: {err}")),
    }
}

/// Milliseconds since the epoch (negative before it) of a time given in seconds and
/// nanoseconds, rounded toward zero as [`stat_of`]'s arithmetic on `SystemTime` does.
#[cfg(target_os = "linux")]
fn millis(secs: i64, nanos: i64) -> i64 {
    let nanos = i128::from(secs) * 1_000_000_000 + i128::from(nanos);
    i64::try_from(nanos / 1_000_000).unwrap_or(0)
}

/// What [`stat_of`] says of the same file, from its raw `stat`: a folder listed either way
/// must give the same records, or a rescan would see every file changed.
#[cfg(target_os = "linux")]
#[allow(clippy::unnecessary_cast)] // The fields' widths differ between architectures.
fn raw_stat_of(stat: &rustix::fs::Stat) -> (EntryKind, FileStat) {
    use rustix::fs::FileType;

    let kind = match FileType::from_raw_mode(stat.st_mode as _) {
        FileType::RegularFile => EntryKind::File,
        FileType::Directory => EntryKind::Dir,
        _ => EntryKind::Other,
    };
    let (ino, dev) = (stat.st_ino as u64, stat.st_dev as u64);
    let stat = FileStat {
        size: u64::try_from(stat.st_size).unwrap_or(0),
        modified_ms: millis(stat.st_mtime as i64, stat.st_mtime_nsec as i64),
        file_id: Some(ino ^ dev.rotate_left(48)),
    };
    (kind, stat)
}

/// `name` as a string, or `None` (with a warning) if it is not valid UTF-8.
fn utf8_name(name: std::ffi::OsString, folder: &str) -> Option<String> {
    name.into_string()
        .map_err(|name| {
            tracing::warn!(
                folder,
                ?name,
                "skipping a file name that is not valid UTF-8"
            );
        })
        .ok()
}

fn stat_of(meta: &fs::Metadata) -> FileStat {
    let modified_ms = meta
        .modified()
        .ok()
        .and_then(|t| match t.duration_since(UNIX_EPOCH) {
            Ok(d) => i64::try_from(d.as_millis()).ok(),
            Err(before) => i64::try_from(before.duration().as_millis())
                .ok()
                .map(|ms| -ms),
        })
        .unwrap_or(0);
    FileStat {
        size: meta.len(),
        modified_ms,
        file_id: super::os::file_id(meta),
    }
}

impl FileSystem for GrantedFolder {
    fn read_dir(&self, path: &str) -> PluginResult<Vec<DirEntry>> {
        // One lookup beneath the held root for the folder, and each entry stat'ed relative
        // to it: no path is looked up from `/` again, folder by folder.
        #[cfg(target_os = "linux")]
        if let Some(listed) = self
            .beneath
            .as_ref()
            .and_then(|b| check(path).map(|()| b.read_dir(path)).transpose())
        {
            let listed = not_regular(path, listed?.map_err(|e| io_error(path, e))?)?;
            return Ok(listed
                .into_iter()
                .filter_map(|(name, stat)| {
                    let name = utf8_name(name, path)?;
                    let (kind, stat) = raw_stat_of(&stat);
                    Some(DirEntry { name, kind, stat })
                })
                .collect());
        }
        let dir = self.resolve(path)?;
        // Listing follows a link at the end too.
        if !path.is_empty() {
            refuse_link(&dir, path)?;
        }
        let mut entries = Vec::new();
        for entry in fs::read_dir(&dir).map_err(|e| io_error(path, e))? {
            let entry = entry.map_err(|e| io_error(path, e))?;
            let Some(name) = utf8_name(entry.file_name(), path) else {
                continue;
            };
            // A directory entry's metadata does not follow links, and is read relative to
            // the open directory (or from the listing itself on Windows), not by path.
            let meta = match entry.metadata() {
                Ok(m) => m,
                // Deleted between listing and stat: it is simply not there any more.
                Err(e) if e.kind() == io::ErrorKind::NotFound => continue,
                Err(e) => return Err(io_error(&name, e)),
            };
            let kind = if meta.is_file() {
                EntryKind::File
            } else if meta.is_dir() {
                EntryKind::Dir
            } else {
                EntryKind::Other
            };
            entries.push(DirEntry {
                name,
                kind,
                stat: stat_of(&meta),
            });
        }
        Ok(entries)
    }

    fn stat(&self, path: &str) -> PluginResult<FileStat> {
        #[cfg(target_os = "linux")]
        if let Some(found) = self
            .beneath
            .as_ref()
            .and_then(|b| check(path).map(|()| b.metadata(path)).transpose())
        {
            let meta = not_regular(path, found?.map_err(|e| io_error(path, e))?)?;
            if !meta.is_file() {
                return Err(PluginError::NotFound(format!(
                    "{path} is not a regular file"
                )));
            }
            return Ok(stat_of(&meta));
        }
        let full = self.resolve(path)?;
        let meta = full.symlink_metadata().map_err(|e| io_error(path, e))?;
        if !meta.is_file() {
            return Err(PluginError::NotFound(format!(
                "{path} is not a regular file"
            )));
        }
        Ok(stat_of(&meta))
    }

    fn read_at(&self, path: &str, offset: u64, buf: &mut [u8]) -> PluginResult<usize> {
        let file = self.open(path)?;
        super::os::read_full_at(&file, offset, buf).map_err(|e| io_error(path, e))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_cannot_leave_the_root() {
        let dir = tempfile::tempdir().unwrap();
        let granted = GrantedFolder::new(dir.path()).unwrap();
        for bad in ["..", "a/../..", "/etc/passwd", "a//b", "./a"] {
            assert!(
                matches!(granted.stat(bad), Err(PluginError::Invalid(_))),
                "{bad}"
            );
        }
    }

    #[cfg(unix)]
    #[test]
    fn symlinks_are_not_followed() {
        let dir = tempfile::tempdir().unwrap();
        std::os::unix::fs::symlink("/etc/hostname", dir.path().join("link")).unwrap();
        let granted = GrantedFolder::new(dir.path()).unwrap();
        let entries = granted.read_dir("").unwrap();
        assert_eq!(entries[0].kind, EntryKind::Other);
        let mut buf = [0u8; 4];
        let refused = granted.read_at("link", 0, &mut buf).unwrap_err();
        assert!(refused.to_string().contains("symbolic link"), "{refused}");
    }

    #[cfg(unix)]
    #[test]
    fn folders_that_are_links_lead_nowhere() {
        let outside = tempfile::tempdir().unwrap();
        std::fs::create_dir(outside.path().join("deeper")).unwrap();
        std::fs::write(outside.path().join("deeper/secret"), b"secret").unwrap();
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir(dir.path().join("music")).unwrap();
        std::os::unix::fs::symlink(outside.path(), dir.path().join("music/out")).unwrap();
        let granted = GrantedFolder::new(dir.path()).unwrap();
        let mut buf = [0u8; 6];
        for refused in [
            granted
                .read_at("music/out/deeper/secret", 0, &mut buf)
                .map(|_| ()),
            granted.stat("music/out/deeper/secret").map(|_| ()),
            granted.read_dir("music/out/deeper").map(|_| ()),
            granted.read_dir("music/out").map(|_| ()),
        ] {
            let refused = refused.unwrap_err();
            assert!(
                matches!(&refused, PluginError::NotFound(m) if m.contains("symbolic link")),
                "{refused}"
            );
        }
        assert_eq!(buf, [0; 6], "bytes from outside the folder were read");
        assert_eq!(granted.read_dir("music").unwrap().len(), 1);
    }

    #[cfg(unix)]
    #[test]
    fn fifos_and_folders_are_refused_without_blocking() {
        let dir = tempfile::tempdir().unwrap();
        let made = std::process::Command::new("mkfifo")
            .arg(dir.path().join("fifo"))
            .status()
            .unwrap();
        assert!(made.success());
        std::fs::create_dir(dir.path().join("folder")).unwrap();
        let granted = GrantedFolder::new(dir.path()).unwrap();
        let mut buf = [0u8; 4];
        // Opening a FIFO for reading would wait for a writer forever.
        let refused = granted.read_at("fifo", 0, &mut buf).unwrap_err();
        assert!(
            refused.to_string().contains("not a regular file"),
            "{refused}"
        );
        let refused = granted.read_at("folder", 0, &mut buf).unwrap_err();
        assert!(
            refused.to_string().contains("not a regular file"),
            "{refused}"
        );
    }

    /// The listing beneath the held root and the listing by path give the same entries, to
    /// the millisecond: a library listed one way and rescanned the other sees no change.
    #[cfg(target_os = "linux")]
    #[test]
    fn both_listings_agree() {
        use std::time::Duration;

        let dir = tempfile::tempdir().unwrap();
        fs::create_dir_all(dir.path().join("a/b")).unwrap();
        let times = [
            UNIX_EPOCH + Duration::new(1_700_000_000, 999_999_999),
            UNIX_EPOCH - Duration::new(1, 500_000_000),
            UNIX_EPOCH - Duration::new(0, 400_000),
        ];
        for (i, time) in times.into_iter().enumerate() {
            let file = fs::File::create(dir.path().join(format!("a/b/{i}.mp3"))).unwrap();
            file.set_len(i as u64 * 1000 + 7).unwrap();
            file.set_modified(time).unwrap();
        }
        std::os::unix::fs::symlink("b", dir.path().join("a/link")).unwrap();
        let beneath = GrantedFolder::new(dir.path()).unwrap();
        assert!(beneath.beneath.is_some());
        let by_path = GrantedFolder {
            root: beneath.root.clone(),
            beneath: None,
        };
        for folder in ["", "a", "a/b"] {
            let sorted = |mut entries: Vec<DirEntry>| {
                entries.sort_by(|x, y| x.name.cmp(&y.name));
                entries
            };
            let listed = sorted(beneath.read_dir(folder).unwrap());
            assert_eq!(
                listed,
                sorted(by_path.read_dir(folder).unwrap()),
                "{folder}"
            );
            assert!(!listed.is_empty());
        }
        let files = beneath.read_dir("a/b").unwrap();
        let mut ms: Vec<i64> = files.iter().map(|f| f.stat.modified_ms).collect();
        ms.sort_unstable();
        assert_eq!(ms, [-1500, 0, 1_700_000_000_999]);
        let refused = beneath.read_dir("a/link").unwrap_err();
        assert!(refused.to_string().contains("symbolic link"), "{refused}");
    }

    /// A granted folder removed after it was opened is gone, not empty: an empty listing
    /// would read as every file in it deleted.
    #[test]
    fn a_removed_folder_is_not_listed_as_empty() {
        let dir = tempfile::tempdir().unwrap();
        let music = dir.path().join("music");
        fs::create_dir_all(music.join("album")).unwrap();
        fs::write(music.join("album/a.mp3"), b"x").unwrap();
        let granted = GrantedFolder::new(&music).unwrap();
        assert_eq!(granted.read_dir("album").unwrap().len(), 1);
        fs::remove_dir_all(&music).unwrap();
        for folder in ["", "album"] {
            assert!(
                matches!(granted.read_dir(folder), Err(PluginError::NotFound(_))),
                "{folder:?}: {:?}",
                granted.read_dir(folder)
            );
        }
    }

    #[test]
    fn reads_and_stats_files() {
        let dir = tempfile::tempdir().unwrap();
        fs::create_dir(dir.path().join("sub dir")).unwrap();
        fs::write(dir.path().join("sub dir/a #1?.txt"), b"hello").unwrap();
        let granted = GrantedFolder::new(dir.path()).unwrap();
        assert_eq!(granted.stat("sub dir/a #1?.txt").unwrap().size, 5);
        let mut buf = [0u8; 10];
        assert_eq!(
            granted.read_at("sub dir/a #1?.txt", 1, &mut buf).unwrap(),
            4
        );
        assert_eq!(&buf[..4], b"ello");
        assert!(matches!(
            granted.stat("missing"),
            Err(PluginError::NotFound(_))
        ));
    }
}
