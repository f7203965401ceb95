//! Checks for storage providers, through a harness that can change what they serve.
//!
//! The central invariant: a full listing, with the changes since its cursor applied to it,
//! always equals a fresh listing — whatever style of ids and changes the service uses
//! (stable ids with new paths, or [`Change::Moved`]). Around it: listings are complete and
//! free of duplicates across page boundaries, byte ranges are exact at every edge, hostile
//! names survive, and bad cursors and tokens give errors, not panics.

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;
use std::time::Duration;

use tonearm_plugin_api::{ByteRange, Change, PluginError, RemoteEntry, StorageProvider};

use crate::{Report, guarded};

mod served;

pub use served::{CreateProvider, ServedHarness};

/// How long one provider check may take.
const DEADLINE: Duration = Duration::from_secs(120);
/// Pages per listing at most.
const MAX_PAGES: usize = 100_000;

/// Gives the suite a provider and lets it change the files that provider serves.
///
/// The storage starts empty. Paths are `/`-separated and relative to the provider's root.
pub trait ProviderHarness: Send + Sync {
    /// A provider over the harness's storage; called once per check.
    fn provider(&self) -> Result<Arc<dyn StorageProvider>, String>;
    /// Creates or replaces a file, creating folders as needed.
    fn put(&self, path: &str, bytes: &[u8]) -> Result<(), String>;
    /// Deletes a file.
    fn remove(&self, path: &str) -> Result<(), String>;
    /// Renames or moves a file, creating folders as needed.
    fn rename(&self, from: &str, to: &str) -> Result<(), String>;
}

/// Names that break naive code: unicode in both normal forms, spaces, quotes, URL
/// metacharacters, a 200-byte name and a 24-level-deep path.
pub fn hostile_paths() -> Vec<String> {
    let deep = (0..24)
        .map(|i| format!("d{i}"))
        .collect::<Vec<_>>()
        .join("/");
    vec![
        "plain.flac".into(),
        "with space/and space.mp3".into(),
        "quotes/it's \"quoted\".ogg".into(),
        "url/#hash?query=1&x=%20.m4a".into(),
        "unicode/Ånström – Zoë (NFC).flac".into(),
        "unicode/A\u{30a}nstro\u{308}m (NFD).flac".into(),
        "unicode/坂本龍一/音楽.wav".into(),
        "emoji/🎵 song 🎶.mp3".into(),
        format!("long/{}.flac", "x".repeat(195)),
        format!("{deep}/deep.flac"),
        "back\\slash and semi;colon.mp3".into(),
        "+plus [brackets] {braces} (parens).aiff".into(),
    ]
}

/// Deterministic contents of a given length, different per `seed`.
pub fn contents(len: usize, seed: u8) -> Vec<u8> {
    (0..len)
        .map(|i| {
            (i as u32)
                .wrapping_mul(2_654_435_761)
                .rotate_left(u32::from(seed % 31)) as u8
                ^ seed
        })
        .collect()
}

/// Lists every page; fails on duplicate ids or a runaway listing.
pub fn list_all(provider: &dyn StorageProvider) -> Result<Vec<RemoteEntry>, String> {
    let mut all = Vec::new();
    let mut seen = HashMap::new();
    let mut token: Option<String> = None;
    for page_no in 0..MAX_PAGES {
        let page = provider
            .list(token.as_deref())
            .map_err(|e| format!("list page {page_no} failed: {e}"))?;
        for entry in page.entries {
            if let Some(prev) = seen.insert(entry.id.clone(), page_no) {
                return Err(format!(
                    "id {:?} listed twice (pages {prev} and {page_no})",
                    entry.id
                ));
            }
            all.push(entry);
        }
        match page.next_page {
            Some(next) if Some(&next) == token.as_ref() => {
                return Err(format!("page {page_no} returned its own token"));
            }
            Some(next) => token = Some(next),
            None => return Ok(all),
        }
    }
    Err(format!("more than {MAX_PAGES} pages"))
}

/// The changes since `cursor`, all pages; returns them and the final cursor.
pub fn drain_changes(
    provider: &dyn StorageProvider,
    cursor: &str,
) -> Result<(Vec<Change>, String), String> {
    let mut changes = Vec::new();
    let mut cursor = cursor.to_owned();
    for _ in 0..MAX_PAGES {
        let page = provider
            .changes(&cursor)
            .map_err(|e| format!("changes failed: {e}"))?;
        changes.extend(page.changes);
        cursor = page.next_cursor;
        if !page.has_more {
            return Ok((changes, cursor));
        }
    }
    Err(format!("more than {MAX_PAGES} pages of changes"))
}

/// Applies changes to a listing keyed by id.
pub fn apply(model: &mut BTreeMap<String, RemoteEntry>, changes: Vec<Change>) {
    for change in changes {
        match change {
            Change::Upsert { entry } => {
                model.insert(entry.id.clone(), entry);
            }
            Change::Removed { id } => {
                model.remove(&id);
            }
            Change::Moved { from_id, entry } => {
                model.remove(&from_id);
                model.insert(entry.id.clone(), entry);
            }
        }
    }
}

fn by_path(entries: impl IntoIterator<Item = RemoteEntry>) -> BTreeMap<String, u64> {
    entries.into_iter().map(|e| (e.path, e.size)).collect()
}

fn describe_diff(expected: &BTreeMap<String, u64>, actual: &BTreeMap<String, u64>) -> String {
    let missing: Vec<_> = expected
        .iter()
        .filter(|(p, s)| actual.get(*p) != Some(s))
        .map(|(p, s)| format!("{p} ({s} B)"))
        .take(5)
        .collect();
    let extra: Vec<_> = actual
        .iter()
        .filter(|(p, s)| expected.get(*p) != Some(s))
        .map(|(p, s)| format!("{p} ({s} B)"))
        .take(5)
        .collect();
    format!("missing or different: {missing:?}; unexpected: {extra:?}")
}

/// Runs the provider checks through `harness`, whose storage must start empty.
pub fn check(plugin_id: &str, harness: Arc<dyn ProviderHarness>) -> Report {
    let mut report = Report::new(plugin_id);

    let h = harness.clone();
    report.record(
        "an empty source lists nothing",
        guarded(DEADLINE, move || {
            let provider = h.provider()?;
            let listed = list_all(provider.as_ref())?;
            if listed.is_empty() {
                Ok(())
            } else {
                Err(format!("listed {} entries", listed.len()))
            }
        }),
    );

    // Populate: hostile names plus enough plain files to span several pages.
    let mut expected = BTreeMap::new();
    let populate = {
        let h = harness.clone();
        let mut files: Vec<(String, Vec<u8>)> = hostile_paths()
            .into_iter()
            .enumerate()
            .map(|(i, p)| (p, contents(100 + i * 37, i as u8)))
            .collect();
        files.extend((0..40).map(|i| {
            (
                format!("bulk/{:02}/track {i}.mp3", i % 7),
                contents(64 + i, 200u8.wrapping_add(i as u8)),
            )
        }));
        files.push(("sizes/empty.flac".into(), Vec::new()));
        files.push(("sizes/one.flac".into(), vec![42]));
        files.push(("sizes/large.flac".into(), contents(300_000, 9)));
        for (p, b) in &files {
            expected.insert(p.clone(), b.len() as u64);
        }
        guarded(DEADLINE, move || {
            files
                .iter()
                .try_for_each(|(p, b)| h.put(p, b).map_err(|e| format!("harness put {p}: {e}")))
        })
    };
    if let Err(e) = populate {
        report.record("harness can create files", Err(e));
        return report;
    }

    let (h, want) = (harness.clone(), expected.clone());
    report.record(
        "listing is complete, exact and has no duplicates across pages",
        guarded(DEADLINE, move || {
            let provider = h.provider()?;
            let listed = by_path(list_all(provider.as_ref())?);
            if listed == want {
                Ok(())
            } else {
                Err(describe_diff(&want, &listed))
            }
        }),
    );

    let h = harness.clone();
    report.record(
        "byte ranges are exact: spans, suffixes, over-long, empty and past the end",
        guarded(DEADLINE, move || ranges(h.as_ref())),
    );

    let h = harness.clone();
    report.record(
        "a missing id reads as NotFound",
        guarded(DEADLINE, move || {
            let provider = h.provider()?;
            match provider.read_range("no/such/file.flac", ByteRange::Span { offset: 0, len: 10 }) {
                Err(PluginError::NotFound(_)) => Ok(()),
                other => Err(format!("got {other:?}")),
            }
        }),
    );

    let h = harness.clone();
    report.record(
        "bad cursors and page tokens are refused with an error",
        guarded(DEADLINE, move || {
            let provider = h.provider()?;
            if provider.changes("garbage \u{0} cursor").is_ok() {
                return Err("a garbage cursor was accepted".into());
            }
            if provider
                .list(Some("garbage \u{0} token"))
                .is_ok_and(|p| !p.entries.is_empty())
            {
                return Err("a garbage page token listed entries".into());
            }
            Ok(())
        }),
    );

    let h = harness.clone();
    report.record(
        "changes after add, modify, delete, rename and move reproduce a fresh listing",
        guarded(DEADLINE, move || changes(h.as_ref(), expected)),
    );
    report
}

fn ranges(h: &dyn ProviderHarness) -> Result<(), String> {
    let provider = h.provider()?;
    let listed = list_all(provider.as_ref())?;
    let find = |path: &str| {
        listed
            .iter()
            .find(|e| e.path == path)
            .ok_or_else(|| format!("{path} not listed"))
    };
    let large = find("sizes/large.flac")?;
    let data = contents(300_000, 9);
    let len = data.len() as u64;
    let cases: Vec<(ByteRange, &[u8])> = vec![
        (ByteRange::Span { offset: 0, len: 16 }, &data[..16]),
        (
            ByteRange::Span {
                offset: 123_456,
                len: 70_000,
            },
            &data[123_456..193_456],
        ),
        (
            ByteRange::Span {
                offset: len - 10,
                len: 1000,
            },
            &data[data.len() - 10..],
        ),
        (
            ByteRange::Span {
                offset: 0,
                len: len * 2,
            },
            &data[..],
        ),
        (
            ByteRange::Span {
                offset: 500,
                len: 0,
            },
            &[],
        ),
        (
            ByteRange::Span {
                offset: len,
                len: 10,
            },
            &[],
        ),
        (
            ByteRange::Span {
                offset: len + 100,
                len: 10,
            },
            &[],
        ),
        (ByteRange::Suffix { len: 128 }, &data[data.len() - 128..]),
        (ByteRange::Suffix { len: len + 1000 }, &data[..]),
        (ByteRange::Suffix { len: 0 }, &[]),
    ];
    for (range, want) in cases {
        let got = provider
            .read_range(&large.id, range)
            .map_err(|e| format!("{range:?}: {e}"))?;
        if got != want {
            return Err(format!(
                "{range:?}: got {} bytes, expected {}",
                got.len(),
                want.len()
            ));
        }
    }
    let empty = find("sizes/empty.flac")?;
    for range in [
        ByteRange::Span { offset: 0, len: 10 },
        ByteRange::Suffix { len: 10 },
    ] {
        let got = provider
            .read_range(&empty.id, range)
            .map_err(|e| format!("empty file {range:?}: {e}"))?;
        if !got.is_empty() {
            return Err(format!("empty file {range:?}: got {} bytes", got.len()));
        }
    }
    for path in hostile_paths() {
        let entry = find(&path)?;
        let got = provider
            .read_range(
                &entry.id,
                ByteRange::Span {
                    offset: 0,
                    len: entry.size,
                },
            )
            .map_err(|e| format!("{path}: {e}"))?;
        if got.len() as u64 != entry.size {
            return Err(format!(
                "{path}: read {} of {} bytes",
                got.len(),
                entry.size
            ));
        }
    }
    Ok(())
}

fn changes(h: &dyn ProviderHarness, mut expected: BTreeMap<String, u64>) -> Result<(), String> {
    let provider = h.provider()?;
    let mut cursor = provider
        .change_cursor()
        .map_err(|e| format!("change_cursor: {e}"))?;
    let mut model: BTreeMap<String, RemoteEntry> = list_all(provider.as_ref())?
        .into_iter()
        .map(|e| (e.id.clone(), e))
        .collect();

    type Step = (
        &'static str,
        Box<dyn Fn(&dyn ProviderHarness, &mut BTreeMap<String, u64>) -> Result<(), String>>,
    );
    let steps: Vec<Step> = vec![
        ("nothing changed", Box::new(|_, _| Ok(()))),
        (
            "add",
            Box::new(|h, e| {
                h.put("added/new song.flac", &contents(777, 1))?;
                e.insert("added/new song.flac".into(), 777);
                Ok(())
            }),
        ),
        (
            "modify",
            Box::new(|h, e| {
                h.put("plain.flac", &contents(1234, 2))?;
                e.insert("plain.flac".into(), 1234);
                Ok(())
            }),
        ),
        (
            "delete",
            Box::new(|h, e| {
                h.remove("sizes/one.flac")?;
                e.remove("sizes/one.flac");
                Ok(())
            }),
        ),
        (
            "rename within a folder",
            Box::new(|h, e| {
                h.rename("bulk/00/track 0.mp3", "bulk/00/track zero.mp3")?;
                let size = e
                    .remove("bulk/00/track 0.mp3")
                    .ok_or("model lacks the file")?;
                e.insert("bulk/00/track zero.mp3".into(), size);
                Ok(())
            }),
        ),
        (
            "move to another folder",
            Box::new(|h, e| {
                h.rename("with space/and space.mp3", "moved/elsewhere/and space.mp3")?;
                let size = e
                    .remove("with space/and space.mp3")
                    .ok_or("model lacks the file")?;
                e.insert("moved/elsewhere/and space.mp3".into(), size);
                Ok(())
            }),
        ),
        (
            "several at once",
            Box::new(|h, e| {
                h.put("added/second.mp3", &contents(50, 3))?;
                h.remove("added/second.mp3")?;
                h.put("added/third.mp3", &contents(51, 4))?;
                h.remove("bulk/01/track 1.mp3")?;
                e.insert("added/third.mp3".into(), 51);
                e.remove("bulk/01/track 1.mp3");
                Ok(())
            }),
        ),
    ];
    for (name, step) in steps {
        step(h, &mut expected).map_err(|e| format!("{name}: harness: {e}"))?;
        let (changes, next) =
            drain_changes(provider.as_ref(), &cursor).map_err(|e| format!("{name}: {e}"))?;
        if name == "nothing changed" {
            let before = model.clone();
            apply(&mut model, changes);
            if by_path(model.values().cloned()) != by_path(before.into_values()) {
                return Err("with nothing changed, the changes altered the listing".into());
            }
        } else {
            apply(&mut model, changes);
        }
        cursor = next;
        let applied = by_path(model.values().cloned());
        if applied != expected {
            return Err(format!(
                "after {name}, listing + changes ≠ the files: {}",
                describe_diff(&expected, &applied)
            ));
        }
        let fresh = by_path(list_all(provider.as_ref())?);
        if fresh != expected {
            return Err(format!(
                "after {name}, a fresh listing ≠ the files: {}",
                describe_diff(&expected, &fresh)
            ));
        }
    }
    Ok(())
}
