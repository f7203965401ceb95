//! The HTTP cache on disk: the core's rules ([`tonearm_core::net::cache`]) over a folder.
//!
//! Each entry is two files named by the key: the policy and headers as JSON, and the
//! body. Entries are written to a temporary file and renamed, so a killed process leaves
//! either the old entry or the new one; an entry that does not read back is a miss.

use std::path::{Path, PathBuf};

use tonearm_core::net::cache::{self, CacheStore, Entry};

pub(crate) use tonearm_core::net::cache::{Lookup, cacheable, key};

/// Answers kept in one folder.
#[derive(Debug, Clone)]
pub struct DiskStore {
    dir: PathBuf,
}

/// The HTTP cache in a folder.
pub type HttpCache = cache::HttpCache<DiskStore>;

/// A cache in `dir` (made when first written).
pub fn in_folder(dir: impl Into<PathBuf>) -> HttpCache {
    HttpCache::new(DiskStore { dir: dir.into() })
}

impl DiskStore {
    /// The folder.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    fn paths(&self, key: &str) -> (PathBuf, PathBuf) {
        (
            self.dir.join(format!("{key}.json")),
            self.dir.join(format!("{key}.body")),
        )
    }

    fn try_write(&self, key: &str, entry: &Entry) -> std::io::Result<()> {
        std::fs::create_dir_all(&self.dir)?;
        let (meta, body_path) = self.paths(key);
        let json = serde_json::to_vec(entry).map_err(std::io::Error::other)?;
        // The body first: a meta file never names a body that is not there.
        for (path, bytes) in [
            (&body_path, entry.body.as_slice()),
            (&meta, json.as_slice()),
        ] {
            let tmp = path.with_extension(format!("tmp{}", std::process::id()));
            std::fs::write(&tmp, bytes)?;
            std::fs::rename(&tmp, path)?;
        }
        Ok(())
    }
}

impl CacheStore for DiskStore {
    fn read(&self, key: &str) -> Option<Entry> {
        let (meta, body) = self.paths(key);
        let mut entry: Entry = serde_json::from_slice(&std::fs::read(meta).ok()?).ok()?;
        entry.body = std::fs::read(body).ok()?;
        Some(entry)
    }

    fn write(&self, key: &str, entry: &Entry) {
        if let Err(e) = self.try_write(key, entry) {
            tracing::warn!(dir = %self.dir.display(), error = %e, "cannot keep an answer in the HTTP cache");
        }
    }
}

#[cfg(test)]
mod tests {
    use std::time::SystemTime;

    use tonearm_plugin_api::{HttpRequest, HttpResponse};

    use super::*;

    #[test]
    fn entries_survive_on_disk_and_a_damaged_one_is_a_miss() {
        let dir = tempfile::tempdir().unwrap();
        let cache = in_folder(dir.path());
        let request = HttpRequest {
            method: "GET".into(),
            url: "https://x/y".into(),
            headers: vec![],
            body: vec![],
        };
        let answer = HttpResponse {
            status: 200,
            headers: vec![("cache-control".into(), "max-age=60".into())],
            body: b"ok".to_vec(),
        };
        let now = SystemTime::now();
        cache.keep(&request, &answer, now);
        let again = in_folder(dir.path());
        let Lookup::Fresh(hit) = again.lookup(&request, now) else {
            panic!("not kept")
        };
        assert_eq!(hit.body, b"ok");
        std::fs::write(
            dir.path().join(format!("{}.json", key(&request))),
            "{garbage",
        )
        .unwrap();
        assert!(matches!(cache.lookup(&request, now), Lookup::Miss));
    }
}
