//! The [`StorageProvider`] over Microsoft Graph.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

use tonearm_plugin_api::{
    ByteRange, Change, ChangePage, ContentHash, Folder, FolderTree, HostContext, KeyValueStore,
    ListPage, Log, LogLevel, PluginError, PluginResult, RemoteEntry, StorageProvider,
};

use crate::api::{self, Api, Item};

/// Where the folder tree and the files still waiting for their folder are kept.
const TREE_KEY: &str = "tree/v1";
const PENDING_KEY: &str = "pending/v1";
/// Items per page asked for; Graph may send fewer.
const DEFAULT_PAGE_SIZE: u64 = 1000;
/// Download URLs remembered at most (they live about an hour).
const MAX_CACHED_URLS: usize = 50_000;

/// OneDrive, as the host lets this plugin reach it.
pub struct OneDriveProvider {
    api: Api,
    state: Arc<dyn KeyValueStore>,
    log: Arc<dyn Log>,
    top: String,
    tree: Mutex<Option<FolderTree>>,
    /// Pre-authenticated download URLs by item id, from listings and redirects.
    urls: Mutex<HashMap<String, String>>,
}

/// A file whose folder has not been seen yet: Graph may list a child before its parent.
#[derive(Debug, Clone, serde::Serialize, serde::Deserialize)]
struct Pending {
    id: String,
    parent: String,
    name: String,
    size: u64,
    modified_ms: Option<i64>,
    hash: Option<(String, String)>,
    mime: Option<String>,
}

impl Pending {
    fn entry(&self, path: String) -> RemoteEntry {
        RemoteEntry {
            id: self.id.clone(),
            path,
            size: self.size,
            modified_ms: self.modified_ms,
            content_hash: self
                .hash
                .clone()
                .map(|(algorithm, value)| ContentHash { algorithm, value }),
            mime: self.mime.clone(),
        }
    }
}

/// The tree and pending files of one page's work, saved together.
struct Work<'a> {
    tree: MutexGuard<'a, Option<FolderTree>>,
    pending: Vec<Pending>,
}

impl OneDriveProvider {
    /// A provider over the context's HTTP and state capabilities and the source's settings.
    pub fn new(ctx: &HostContext) -> PluginResult<Self> {
        let base = ctx
            .settings
            .get("endpoint.api")
            .map_or(crate::API, String::as_str);
        let top = ctx.number_setting("page_size", DEFAULT_PAGE_SIZE, 1..=1000)?;
        let drive = ctx.settings.get("drive").filter(|d| !d.is_empty());
        Ok(Self {
            api: Api::new(ctx.require_http()?, base, drive.map(String::as_str)),
            state: ctx.require_state()?,
            log: ctx.log.clone(),
            top: top.to_string(),
            tree: Mutex::new(None),
            urls: Mutex::new(HashMap::new()),
        })
    }

    fn load<T: serde::de::DeserializeOwned>(&self, key: &str) -> PluginResult<Option<T>> {
        Ok(self
            .state
            .get(key)?
            .and_then(|b| serde_json::from_slice(&b).ok()))
    }

    fn store<T: serde::Serialize>(&self, key: &str, value: &T) -> PluginResult<()> {
        let bytes = serde_json::to_vec(value)
            .map_err(|e| PluginError::Internal(format!("cannot encode {key}: {e}")))?;
        self.state.put(key, &bytes)
    }

    fn work(&self) -> PluginResult<Work<'_>> {
        let mut tree = self.tree.lock().unwrap_or_else(PoisonError::into_inner);
        if tree.is_none() {
            *tree = self.load(TREE_KEY)?;
        }
        let pending = self.load(PENDING_KEY)?.unwrap_or_default();
        Ok(Work { tree, pending })
    }

    fn save(&self, work: &Work<'_>) -> PluginResult<()> {
        if let Some(tree) = work.tree.as_ref() {
            self.store(TREE_KEY, tree)?;
        }
        self.store(PENDING_KEY, &work.pending)
    }

    fn remember_url(&self, id: &str, url: String) {
        let mut urls = self.urls.lock().unwrap_or_else(PoisonError::into_inner);
        if urls.len() >= MAX_CACHED_URLS {
            urls.clear();
        }
        urls.insert(id.to_owned(), url);
    }

    /// Applies one page of items (enumeration or changes) to the tree; returns the
    /// changes they make to the library.
    fn absorb(&self, items: Vec<Item>, work: &mut Work<'_>) -> PluginResult<Vec<Change>> {
        // An item may appear more than once in a feed: the last occurrence wins.
        let mut last: HashMap<String, usize> = HashMap::new();
        for (i, item) in items.iter().enumerate() {
            last.insert(item.id.clone(), i);
        }
        let items: Vec<Item> = items
            .into_iter()
            .enumerate()
            .filter(|(i, item)| last.get(&item.id) == Some(i))
            .map(|(_, item)| item)
            .collect();
        let tree = work.tree.get_or_insert_with(FolderTree::default);
        let mut out = Vec::new();
        let mut moved = Vec::new();
        // Folders first, so files in this page find folders from this page.
        for item in &items {
            if item.deleted.is_some() {
                if tree.folders.contains_key(&item.id) {
                    for id in tree.subtree(&item.id) {
                        tree.folders.remove(&id);
                    }
                }
                work.pending.retain(|p| p.id != item.id);
                self.urls
                    .lock()
                    .unwrap_or_else(PoisonError::into_inner)
                    .remove(&item.id);
                out.push(Change::Removed {
                    id: item.id.clone(),
                });
            } else if item.root.is_some() {
                tree.root = item.id.clone();
            } else if item.folder.is_some() {
                let folder = Folder {
                    name: item.name.clone().unwrap_or_default(),
                    parent: item.parent_id().map(str::to_owned),
                };
                if let Some(old) = tree.folders.insert(item.id.clone(), folder.clone())
                    && old != folder
                {
                    moved.push(item.id.clone());
                }
            }
        }
        for item in items {
            if item.deleted.is_some() || item.file.is_none() {
                continue;
            }
            let (Some(parent), Some(name)) = (item.parent_id(), item.name.clone()) else {
                continue;
            };
            let hashes = item.file.as_ref().and_then(|f| f.hashes.as_ref());
            let hash = hashes.and_then(|h| match (&h.quick_xor, &h.sha1) {
                (Some(q), _) => Some(("quickxor".to_owned(), q.clone())),
                (None, Some(s)) => Some(("sha1".to_owned(), s.clone())),
                (None, None) => None,
            });
            if let Some(url) = item.download_url.clone() {
                self.remember_url(&item.id, url);
            }
            let pending = Pending {
                id: item.id.clone(),
                parent: parent.to_owned(),
                name,
                size: item.size.unwrap_or(0),
                modified_ms: item.modified_ms(),
                hash,
                mime: item.file.as_ref().and_then(|f| f.mime_type.clone()),
            };
            work.pending.retain(|p| p.id != pending.id);
            work.pending.push(pending);
        }
        // Every file whose folder is now known leaves the waiting list.
        let mut waiting = Vec::new();
        for p in std::mem::take(&mut work.pending) {
            match tree.path_in(&p.parent, &p.name) {
                Some(path) => out.push(Change::Upsert {
                    entry: p.entry(path),
                }),
                None => waiting.push(p),
            }
        }
        work.pending = waiting;
        if !moved.is_empty() {
            let tree = tree.clone();
            self.rereport(&tree, &moved, &mut out)?;
        }
        Ok(out)
    }

    /// Every file below the moved folders, with its new path (Graph reports only the
    /// folder itself).
    fn rereport(
        &self,
        tree: &FolderTree,
        moved: &[String],
        out: &mut Vec<Change>,
    ) -> PluginResult<()> {
        let mut folders: Vec<String> = moved.iter().flat_map(|id| tree.subtree(id)).collect();
        folders.sort();
        folders.dedup();
        for folder in folders {
            let mut url = Some(self.api.children_url(&folder, &self.top));
            while let Some(next) = url {
                let page = self.api.page(&next)?;
                for item in page.value {
                    if item.file.is_none() || item.deleted.is_some() {
                        continue;
                    }
                    let Some(name) = &item.name else { continue };
                    let Some(path) = tree.path_in(&folder, name) else {
                        out.push(Change::Removed {
                            id: item.id.clone(),
                        });
                        continue;
                    };
                    let hash = item
                        .file
                        .as_ref()
                        .and_then(|f| f.hashes.as_ref())
                        .and_then(|h| h.quick_xor.clone())
                        .map(|value| ContentHash {
                            algorithm: "quickxor".into(),
                            value,
                        });
                    out.push(Change::Upsert {
                        entry: RemoteEntry {
                            id: item.id.clone(),
                            path,
                            size: item.size.unwrap_or(0),
                            modified_ms: item.modified_ms(),
                            content_hash: hash,
                            mime: item.file.as_ref().and_then(|f| f.mime_type.clone()),
                        },
                    });
                }
                url = page.next_link;
            }
        }
        Ok(())
    }

    /// Drops files whose folder never came (outside what the source covers).
    fn give_up_waiting(&self, work: &mut Work<'_>) {
        if !work.pending.is_empty() {
            self.log.log(
                LogLevel::Warn,
                &format!(
                    "{} files are in folders Graph never listed; skipping them",
                    work.pending.len()
                ),
            );
            work.pending.clear();
        }
    }

    /// A pre-authenticated URL for `id`: remembered, or from a `/content` redirect.
    fn download_url(&self, id: &str) -> PluginResult<Result<String, Vec<u8>>> {
        if let Some(url) = self
            .urls
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .get(id)
        {
            return Ok(Ok(url.clone()));
        }
        let response = self.api.get(&self.api.content_url(id), Vec::new())?;
        match response.status {
            301 | 302 | 303 | 307 | 308 => {
                let location = response
                    .header("location")
                    .ok_or_else(|| PluginError::Transient("a redirect without a Location".into()))?
                    .to_owned();
                self.remember_url(id, location.clone());
                Ok(Ok(location))
            }
            // Served directly, without a redirect.
            200 => Ok(Err(response.body)),
            _ => Err(api::failure(&response)),
        }
    }
}

impl StorageProvider for OneDriveProvider {
    fn change_cursor(&self) -> PluginResult<String> {
        let page = self.api.page(&self.api.latest_url())?;
        page.delta_link.ok_or_else(|| {
            PluginError::Transient("Graph gave no deltaLink for token=latest".into())
        })
    }

    fn list(&self, page_token: Option<&str>) -> PluginResult<ListPage> {
        let url = match page_token {
            None => {
                *self.tree.lock().unwrap_or_else(PoisonError::into_inner) =
                    Some(FolderTree::default());
                self.store(PENDING_KEY, &Vec::<Pending>::new())?;
                self.api.delta_url(&self.top)
            }
            Some(link) if link.starts_with("http") => link.to_owned(),
            Some(t) => return Err(PluginError::Invalid(format!("not a Graph link: {t:?}"))),
        };
        let page = self.api.page(&url).map_err(|e| match e {
            // A stale nextLink from an interrupted listing: the host starts over.
            PluginError::CursorExpired(why) if page_token.is_some() => PluginError::Invalid(why),
            other => other,
        })?;
        let mut work = self.work()?;
        let changes = self.absorb(page.value, &mut work)?;
        if page.next_link.is_none() {
            self.give_up_waiting(&mut work);
        }
        self.save(&work)?;
        let entries = changes
            .into_iter()
            .filter_map(|c| match c {
                Change::Upsert { entry } => Some(entry),
                _ => None,
            })
            .collect();
        Ok(ListPage {
            entries,
            next_page: page.next_link,
        })
    }

    fn changes(&self, cursor: &str) -> PluginResult<ChangePage> {
        if !cursor.starts_with("http") {
            return Err(PluginError::CursorExpired(format!(
                "not a Graph link: {cursor:?}"
            )));
        }
        let page = self.api.page(cursor)?;
        let mut work = self.work()?;
        let Some(tree) = work.tree.as_ref().filter(|t| !t.root.is_empty()) else {
            return Err(PluginError::CursorExpired(
                "the folder tree is missing".into(),
            ));
        };
        // Graph may report a deleted folder without a tombstone for each item in it
        // (OneDrive for Business and SharePoint do), and a deleted folder cannot be
        // listed: only a new listing tells what went with it.
        if let Some(folder) = page
            .value
            .iter()
            .find(|item| item.deleted.is_some() && tree.folders.contains_key(&item.id))
        {
            let name = &tree.folders[&folder.id].name;
            return Err(PluginError::CursorExpired(format!(
                "folder {name:?} ({}) was deleted, and Graph need not report what was in it",
                folder.id
            )));
        }
        // The page is applied to the tree in place; a failure halfway leaves the tree as it
        // was, so that the host's retry of the page sees the same moves again.
        let before = work.tree.clone();
        let applied = self.absorb(page.value, &mut work).and_then(|changes| {
            match (page.next_link.clone(), page.delta_link) {
                (Some(next), _) => Ok((changes, next)),
                (None, Some(delta)) => Ok((changes, delta)),
                (None, None) => Err(PluginError::Transient(
                    "Graph's delta page carried no link".into(),
                )),
            }
        });
        let (changes, next_cursor) = match applied {
            Ok(applied) => applied,
            Err(e) => {
                *work.tree = before;
                return Err(e);
            }
        };
        if page.next_link.is_none() {
            self.give_up_waiting(&mut work);
        }
        self.save(&work)?;
        Ok(ChangePage {
            changes,
            has_more: page.next_link.is_some(),
            next_cursor,
        })
    }

    fn read_range(&self, id: &str, range: ByteRange) -> PluginResult<Vec<u8>> {
        let Some(header) = range.http_header() else {
            return Ok(Vec::new());
        };
        // A remembered URL may have expired: one more try with a fresh redirect.
        for attempt in 0..2 {
            let url = match self.download_url(id)? {
                Ok(url) => url,
                Err(whole) => return Ok(range.cut(whole)),
            };
            let response = self.api.get(&url, vec![("Range".into(), header.clone())])?;
            match response.status {
                206 => return Ok(response.body),
                200 => return Ok(range.cut(response.body)),
                416 => return Ok(Vec::new()),
                401 | 403 | 404 | 410 if attempt == 0 => {
                    self.urls
                        .lock()
                        .unwrap_or_else(PoisonError::into_inner)
                        .remove(id);
                }
                _ => return Err(api::failure(&response)),
            }
        }
        Err(PluginError::Transient(format!(
            "no working download URL for {id}"
        )))
    }
}
