//! A folder tree for services whose files know only their parent folder's id (Google
//! Drive, OneDrive): it turns a parent id and a name into a path under the source's root.

use std::collections::HashMap;

use serde::{Deserialize, Serialize};

/// One folder: its name and parent.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Folder {
    /// Its name.
    pub name: String,
    /// Its parent folder's id; `None` for a top folder.
    pub parent: Option<String>,
}

/// Every known folder by id, and the id of the folder the source starts at.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct FolderTree {
    /// The source's root folder.
    pub root: String,
    /// Folders by id.
    pub folders: HashMap<String, Folder>,
}

/// Deeper than any real tree; stops a cycle in bad data.
const MAX_DEPTH: usize = 256;

impl FolderTree {
    /// An empty tree rooted at `root`.
    pub fn new(root: String) -> Self {
        Self {
            root,
            folders: HashMap::new(),
        }
    }

    /// The path of `name` inside folder `parent`, if that folder is under the root.
    pub fn path_in(&self, parent: &str, name: &str) -> Option<String> {
        let mut parts = vec![name];
        let mut at = parent;
        for _ in 0..MAX_DEPTH {
            if at == self.root {
                parts.reverse();
                return Some(parts.join("/"));
            }
            let folder = self.folders.get(at)?;
            parts.push(&folder.name);
            at = folder.parent.as_deref()?;
        }
        None
    }

    /// `id` and every folder below it.
    pub fn subtree(&self, id: &str) -> Vec<String> {
        let mut children: HashMap<&str, Vec<&str>> = HashMap::new();
        for (child, f) in &self.folders {
            if let Some(p) = &f.parent {
                children.entry(p.as_str()).or_default().push(child);
            }
        }
        let mut out = vec![id.to_owned()];
        let mut i = 0;
        while i < out.len() && out.len() < 1_000_000 {
            if let Some(kids) = children.get(out[i].as_str()) {
                out.extend(kids.iter().map(|k| (*k).to_owned()));
            }
            i += 1;
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tree() -> FolderTree {
        let mut t = FolderTree::new("R".into());
        let mut add = |id: &str, name: &str, parent: &str| {
            t.folders.insert(
                id.into(),
                Folder {
                    name: name.into(),
                    parent: Some(parent.into()),
                },
            );
        };
        add("a", "Artist", "R");
        add("b", "Album", "a");
        add("x", "Elsewhere", "OTHER");
        add("loop1", "l1", "loop2");
        add("loop2", "l2", "loop1");
        t
    }

    #[test]
    fn paths_are_built_up_to_the_root_only() {
        let t = tree();
        assert_eq!(
            t.path_in("b", "01.flac").as_deref(),
            Some("Artist/Album/01.flac")
        );
        assert_eq!(t.path_in("R", "top.mp3").as_deref(), Some("top.mp3"));
        assert_eq!(t.path_in("x", "f.mp3"), None);
        assert_eq!(t.path_in("unknown", "f.mp3"), None);
        assert_eq!(t.path_in("loop1", "f.mp3"), None);
    }

    #[test]
    fn subtrees_include_every_descendant() {
        let mut s = tree().subtree("a");
        s.sort();
        assert_eq!(s, ["a", "b"]);
    }
}
