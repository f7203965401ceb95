//! The [`StorageProvider`] over Drive v3.

use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

use tonearm_plugin_api::{
    ByteRange, Change, ChangePage, ContentHash, Folder, FolderTree as Tree, HostContext,
    KeyValueStore, ListPage, Log, LogLevel, PluginError, PluginResult, RemoteEntry,
    StorageProvider,
};

use crate::api::{self, Api, FILE_FIELDS, FOLDER, File, FileId, FileList};

/// Where the folder tree is kept in the host's state store.
const TREE_KEY: &str = "tree/v1";
/// Drive's largest page.
const DEFAULT_PAGE_SIZE: u64 = 1000;
/// Page tokens of our listing: folders first, then files.
const FOLDERS: &str = "folders:";
const FILES: &str = "files:";

/// Google Drive, as the host lets this plugin reach it.
pub struct DriveProvider {
    api: Api,
    state: Arc<dyn KeyValueStore>,
    log: Arc<dyn Log>,
    folder: Option<String>,
    page_size: String,
    tree: Mutex<Option<Tree>>,
}

impl DriveProvider {
    /// A provider over the context's HTTP and state capabilities and the source's settings.
    pub fn new(ctx: &HostContext) -> PluginResult<Self> {
        let base = ctx
            .settings
            .get("endpoint.api")
            .map_or(crate::API, String::as_str);
        let page_size = ctx.number_setting("page_size", DEFAULT_PAGE_SIZE, 1..=1000)?;
        let shared_drive = ctx.settings.get("drive").filter(|d| !d.is_empty()).cloned();
        Ok(Self {
            api: Api::new(ctx.require_http()?, base, shared_drive),
            state: ctx.require_state()?,
            log: ctx.log.clone(),
            folder: ctx
                .settings
                .get("folder")
                .filter(|f| !f.is_empty())
                .cloned(),
            page_size: page_size.to_string(),
            tree: Mutex::new(None),
        })
    }

    /// The folder tree: in memory, else from the state store.
    fn tree(&self) -> PluginResult<MutexGuard<'_, Option<Tree>>> {
        let mut tree = self.tree.lock().unwrap_or_else(PoisonError::into_inner);
        if tree.is_none()
            && let Some(bytes) = self.state.get(TREE_KEY)?
        {
            *tree = serde_json::from_slice(&bytes).ok();
        }
        Ok(tree)
    }

    fn save(&self, tree: &Tree) -> PluginResult<()> {
        let bytes = serde_json::to_vec(tree)
            .map_err(|e| PluginError::Internal(format!("cannot encode the folder tree: {e}")))?;
        self.state.put(TREE_KEY, &bytes)
    }

    /// The id of the folder the source starts at.
    fn root_id(&self) -> PluginResult<String> {
        if let Some(folder) = &self.folder
            && folder != "root"
        {
            return Ok(folder.clone());
        }
        if let Some(drive) = &self.api.shared_drive {
            // A shared drive's root folder has the drive's id.
            return Ok(drive.clone());
        }
        // `root` is an alias; files name their parent by its real id.
        let root: FileId = self
            .api
            .get("files/root", &[("fields", "id")])
            .map_err(|f| f.error)?;
        Ok(root.id)
    }

    fn list_params<'a>(
        &'a self,
        q: &'a str,
        fields: &'a str,
        token: &'a str,
        drive: &'a [(&'static str, String)],
    ) -> Vec<(&'a str, &'a str)> {
        let mut params = vec![
            ("q", q),
            ("fields", fields),
            ("pageSize", self.page_size.as_str()),
            ("spaces", "drive"),
        ];
        if !token.is_empty() {
            params.push(("pageToken", token));
        }
        if drive.is_empty() {
            params.push(("corpora", "user"));
        } else {
            params.push(("corpora", "drive"));
            params.extend(drive.iter().map(|(k, v)| (*k, v.as_str())));
        }
        params
    }

    fn files_page(&self, q: &str, fields: &str, token: &str) -> PluginResult<FileList> {
        let drive = self.api.drive_params();
        let list: FileList = self
            .api
            .get("files", &self.list_params(q, fields, token, &drive))
            .map_err(|f| match f.location.as_str() {
                // A page token from an earlier run that Drive no longer knows.
                "pageToken" => {
                    PluginError::Invalid(format!("Drive refused the page token: {}", f.error))
                }
                _ => f.error,
            })?;
        if list.incomplete_search {
            return Err(PluginError::Transient(
                "Drive says this page of results is incomplete".into(),
            ));
        }
        Ok(list)
    }

    fn list_folders(&self, token: &str) -> PluginResult<ListPage> {
        let q = format!("mimeType = '{FOLDER}' and trashed = false");
        let page = self.files_page(
            &q,
            "nextPageToken,incompleteSearch,files(id,name,parents)",
            token,
        )?;
        let mut guard = self.tree()?;
        let tree = guard.as_mut().ok_or_else(|| {
            PluginError::Invalid("the listing was not started; list from the first page".into())
        })?;
        for f in page.files {
            tree.folders.insert(
                f.id,
                Folder {
                    name: f.name,
                    parent: f.parents.into_iter().next(),
                },
            );
        }
        self.save(tree)?;
        Ok(ListPage {
            entries: Vec::new(),
            next_page: Some(match page.next_page_token {
                Some(t) => format!("{FOLDERS}{t}"),
                None => FILES.to_owned(),
            }),
        })
    }

    fn list_files(&self, token: &str) -> PluginResult<ListPage> {
        let q = format!("mimeType != '{FOLDER}' and trashed = false");
        let fields = format!("nextPageToken,incompleteSearch,files({FILE_FIELDS})");
        let page = self.files_page(&q, &fields, token)?;
        let guard = self.tree()?;
        let tree = guard.as_ref().ok_or_else(|| {
            PluginError::Invalid("the folder tree is missing; list from the first page".into())
        })?;
        Ok(ListPage {
            entries: page.files.iter().filter_map(|f| entry(tree, f)).collect(),
            next_page: page.next_page_token.map(|t| format!("{FILES}{t}")),
        })
    }

    /// One page of Drive's change list from `cursor`; a cursor Drive no longer knows is
    /// `CursorExpired`.
    fn change_list(&self, cursor: &str) -> PluginResult<api::ChangeList> {
        let drive = self.api.drive_params();
        let fields =
            format!("nextPageToken,newStartPageToken,changes(fileId,removed,file({FILE_FIELDS}))");
        let mut params: Vec<(&str, &str)> = vec![
            ("pageToken", cursor),
            ("pageSize", self.page_size.as_str()),
            ("includeRemoved", "true"),
            ("spaces", "drive"),
            ("fields", fields.as_str()),
        ];
        params.extend(drive.iter().map(|(k, v)| (*k, v.as_str())));
        self.api
            .get("changes", &params)
            .map_err(|f| match (f.status, f.location.as_str()) {
                (400, "pageToken") | (404 | 410, _) => {
                    PluginError::CursorExpired(f.error.to_string())
                }
                _ => f.error,
            })
    }

    /// Applies folder changes to `tree`: the removals of what was under a folder that went,
    /// and the folders that moved or were renamed (whose files must be reported again).
    fn apply_folder_changes(
        &self,
        tree: &mut Tree,
        folders: Vec<api::Change>,
    ) -> PluginResult<(Vec<Change>, Vec<String>)> {
        let (mut removals, mut moved) = (Vec::new(), Vec::new());
        for change in folders {
            match change.file.filter(|f| !change.removed && !f.trashed) {
                Some(f) => {
                    let new = Folder {
                        name: f.name,
                        parent: f.parents.into_iter().next(),
                    };
                    if let Some(old) = tree.folders.insert(f.id.clone(), new.clone())
                        && old != new
                    {
                        moved.push(f.id);
                    }
                }
                None => removals.extend(self.remove_folder(tree, &change.file_id)?),
            }
        }
        Ok((removals, moved))
    }

    /// Drops folder `id` and everything under it from `tree`; returns the removals of the
    /// files Drive still lists under it (a trashed folder's).
    fn remove_folder(&self, tree: &mut Tree, id: &str) -> PluginResult<Vec<Change>> {
        self.log
            .log(LogLevel::Info, &format!("folder {id} removed"));
        let subtree = tree.subtree(id);
        let stale = tree.clone();
        for id in &subtree {
            tree.folders.remove(id);
        }
        let mut below = Vec::new();
        match self.rereport(&stale, &subtree, &mut below) {
            Ok(()) => Ok(below
                .into_iter()
                .map(|c| match c {
                    Change::Upsert { entry } => Change::Removed { id: entry.id },
                    other => other,
                })
                .collect()),
            // A deleted (not trashed) folder's files cannot be listed any more: only a new
            // listing tells what went with it.
            Err(PluginError::NotFound(why)) => Err(PluginError::CursorExpired(format!(
                "folder {id} was deleted and what was in it can no longer be listed ({why})"
            ))),
            // Anything else may pass: the page is tried again.
            Err(e) => Err(e),
        }
    }

    /// Every file under the folders of `ids`, as changes against `tree`.
    fn rereport(&self, tree: &Tree, ids: &[String], out: &mut Vec<Change>) -> PluginResult<()> {
        let fields = format!("nextPageToken,incompleteSearch,files({FILE_FIELDS})");
        for id in ids {
            let q = format!(
                "'{}' in parents and trashed = false and mimeType != '{FOLDER}'",
                id.replace('\'', "\\'")
            );
            let mut token = String::new();
            loop {
                let page = self.files_page(&q, &fields, &token)?;
                for f in &page.files {
                    out.push(match entry(tree, f) {
                        Some(entry) => Change::Upsert { entry },
                        None => Change::Removed { id: f.id.clone() },
                    });
                }
                match page.next_page_token {
                    Some(t) => token = t,
                    None => break,
                }
            }
        }
        Ok(())
    }
}

/// What a change to a file means for the source: an upsert while it is a downloadable file
/// in the source, else its removal (deleted, trashed, moved out, or not downloadable).
fn file_change(tree: &Tree, change: api::Change) -> Change {
    match change
        .file
        .filter(|_| !change.removed)
        .and_then(|f| entry(tree, &f))
    {
        Some(entry) => Change::Upsert { entry },
        None => Change::Removed { id: change.file_id },
    }
}

/// A Drive file as a library entry, if it is downloadable and under the root.
fn entry(tree: &Tree, f: &File) -> Option<RemoteEntry> {
    if f.is_folder() || f.is_google_type() || f.trashed {
        return None;
    }
    let path = tree.path_in(f.parents.first()?, &f.name)?;
    Some(RemoteEntry {
        id: f.id.clone(),
        path,
        size: f.size.as_deref().and_then(|s| s.parse().ok()).unwrap_or(0),
        modified_ms: f.modified_ms(),
        content_hash: f.md5_checksum.clone().map(|value| ContentHash {
            algorithm: "md5".into(),
            value,
        }),
        mime: Some(f.mime_type.clone()).filter(|m| !m.is_empty()),
    })
}

impl StorageProvider for DriveProvider {
    fn change_cursor(&self) -> PluginResult<String> {
        let drive = self.api.drive_params();
        let params: Vec<(&str, &str)> = drive.iter().map(|(k, v)| (*k, v.as_str())).collect();
        let token: api::StartPageToken = self
            .api
            .get("changes/startPageToken", &params)
            .map_err(|f| f.error)?;
        Ok(token.start_page_token)
    }

    fn list(&self, page_token: Option<&str>) -> PluginResult<ListPage> {
        match page_token {
            None => {
                let tree = Tree::new(self.root_id()?);
                self.save(&tree)?;
                *self.tree.lock().unwrap_or_else(PoisonError::into_inner) = Some(tree);
                self.list_folders("")
            }
            Some(t) if t.starts_with(FOLDERS) => self.list_folders(&t[FOLDERS.len()..]),
            Some(t) if t.starts_with(FILES) => self.list_files(&t[FILES.len()..]),
            Some(t) => Err(PluginError::Invalid(format!(
                "not a page token of this plugin: {t:?}"
            ))),
        }
    }

    fn changes(&self, cursor: &str) -> PluginResult<ChangePage> {
        let list = self.change_list(cursor)?;
        let next_cursor = match (&list.next_page_token, &list.new_start_page_token) {
            (Some(t), _) | (None, Some(t)) => t.clone(),
            (None, None) => {
                return Err(PluginError::Transient(
                    "Drive's change list carried no page token".into(),
                ));
            }
        };
        let mut guard = self.tree()?;
        let Some(kept) = guard.as_mut() else {
            return Err(PluginError::CursorExpired(
                "the folder tree is missing".into(),
            ));
        };
        // The page is applied to a copy: a failure halfway leaves the tree as it was, so
        // that the host's retry of the page sees the same folder changes again.
        let mut copy = kept.clone();
        let tree = &mut copy;
        // Folders first: a new folder and a new file in it may arrive in either order.
        let (folders, files): (Vec<_>, Vec<_>) = list.changes.into_iter().partition(|c| {
            c.file.as_ref().is_some_and(File::is_folder)
                || (c.file.is_none() && tree.folders.contains_key(&c.file_id))
        });
        let tree_changed = !folders.is_empty();
        let (mut out, moved_folders) = self.apply_folder_changes(tree, folders)?;
        out.extend(files.into_iter().map(|change| file_change(tree, change)));
        if !moved_folders.is_empty() {
            let mut all = Vec::new();
            for id in &moved_folders {
                all.extend(tree.subtree(id));
            }
            all.sort();
            all.dedup();
            self.rereport(tree, &all, &mut out)?;
        }
        if tree_changed {
            self.save(tree)?;
            *kept = copy;
        }
        Ok(ChangePage {
            changes: out,
            has_more: list.next_page_token.is_some(),
            next_cursor,
        })
    }

    fn read_range(&self, id: &str, range: ByteRange) -> PluginResult<Vec<u8>> {
        self.api.media(id, range)
    }
}
