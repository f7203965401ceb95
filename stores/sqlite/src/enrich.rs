//! What enrichment reads and writes: tracks' tags, values written over them with their
//! provenance, user edits, and what each metadata source answered.

use std::collections::{BTreeMap, HashMap};

use rusqlite::{OptionalExtension as _, params};
use tonearm_core::enrich::{
    EnrichStore, Field, FieldChange, FieldSource, Image, Kind, Outcome, Provenance, StoredLyrics,
    Target, Value,
};
use tonearm_core::library::{StateChange, StoreError, StoreResult, display_names as display};
use tonearm_plugin_api::TrackTags;

use super::write::{Links, NameIds, Tx, insert_links, reindex_track, remove_orphans};
use super::{LibraryError, SqliteStore, now_ms};

/// Who an edit comes from, in `tag_overrides.source`.
const USER: &str = "user";

/// The tags of track `id` as the library has them now.
fn load_tags(tx: &Tx<'_>, id: i64) -> Result<Option<TrackTags>, LibraryError> {
    let row = tx
        .prepare_cached(
            "SELECT t.title, al.title, t.track_number, t.track_total, t.disc_number, t.disc_total, \
             t.year, t.musicbrainz_recording_id, t.musicbrainz_release_id, t.isrc, t.album_id \
             FROM tracks t LEFT JOIN albums al ON al.id = t.album_id WHERE t.id = ?",
        )?
        .query_row([id], |r| {
            Ok((
                TrackTags {
                    title: r.get(0)?,
                    album: r.get(1)?,
                    track_number: r.get(2)?,
                    track_total: r.get(3)?,
                    disc_number: r.get(4)?,
                    disc_total: r.get(5)?,
                    year: r.get(6)?,
                    musicbrainz_recording_id: r.get(7)?,
                    musicbrainz_release_id: r.get(8)?,
                    isrc: r.get(9)?,
                    ..TrackTags::default()
                },
                r.get::<_, Option<i64>>(10)?,
            ))
        })
        .optional()?;
    let Some((mut tags, album_id)) = row else {
        return Ok(None);
    };
    tags.artists = names(
        tx,
        "SELECT a.name FROM track_artists x JOIN artists a ON a.id = x.artist_id \
         WHERE x.track_id = ? ORDER BY x.position",
        id,
    )?;
    tags.genres = names(
        tx,
        "SELECT g.name FROM track_genres x JOIN genres g ON g.id = x.genre_id WHERE x.track_id = ? \
         ORDER BY g.name",
        id,
    )?;
    if let Some(album_id) = album_id {
        tags.album_artists = names(
            tx,
            "SELECT a.name FROM album_artists x JOIN artists a ON a.id = x.artist_id \
             WHERE x.album_id = ? ORDER BY x.position",
            album_id,
        )?;
    }
    Ok(Some(tags))
}

fn names(tx: &Tx<'_>, sql: &str, id: i64) -> Result<Vec<String>, LibraryError> {
    let mut statement = tx.prepare_cached(sql)?;
    let rows = statement.query_map([id], |r| r.get::<_, String>(0))?;
    Ok(rows.collect::<Result<_, _>>()?)
}

/// Writes `tags` to track `id`'s columns, artist links, album and search row.
fn store_tags(tx: &Tx<'_>, id: i64, tags: &TrackTags) -> Result<(), LibraryError> {
    let mut names = NameIds::default();
    let album_artists = if tags.album_artists.is_empty() {
        &tags.artists
    } else {
        &tags.album_artists
    };
    let album_id = match &tags.album {
        Some(title) => Some(names.album(tx, title, album_artists, tags.year)?),
        None => None,
    };
    tx.prepare_cached(
        "UPDATE tracks SET title = ?, artist_display = ?, album_id = ?, track_number = ?, \
         track_total = ?, disc_number = ?, disc_total = ?, year = ?, musicbrainz_recording_id = ?, \
         musicbrainz_release_id = ?, isrc = ? WHERE id = ?",
    )?
    .execute(params![
        tags.title,
        display(&tags.artists),
        album_id,
        tags.track_number,
        tags.track_total,
        tags.disc_number,
        tags.disc_total,
        tags.year,
        tags.musicbrainz_recording_id,
        tags.musicbrainz_release_id,
        tags.isrc,
        id
    ])?;
    tx.prepare_cached("DELETE FROM track_artists WHERE track_id = ?")?
        .execute([id])?;
    let mut artist_ids = Vec::with_capacity(tags.artists.len());
    for name in &tags.artists {
        artist_ids.push(names.artist(tx, name)?);
    }
    insert_links(tx, Links::TrackArtists, id, &artist_ids)?;
    reindex_track(tx, id)?;
    Ok(())
}

/// The values written over the tags of the track of file `file_id`, if it has a track.
/// Forgets what metadata sources answered about the track of `file_id`, whose file changed.
pub(super) fn forget_answers_of_file(tx: &Tx<'_>, file_id: i64) -> Result<(), LibraryError> {
    tx.prepare_cached(
        "DELETE FROM enrichment WHERE track_id IN (SELECT id FROM tracks WHERE file_id = ?)",
    )?
    .execute([file_id])?;
    Ok(())
}

pub(super) fn overrides_of_file(
    tx: &Tx<'_>,
    file_id: i64,
) -> Result<Vec<(Field, Value)>, LibraryError> {
    let mut statement = tx.prepare_cached(
        "SELECT o.field, o.value FROM tag_overrides o JOIN tracks t ON t.id = o.track_id \
         WHERE t.file_id = ?",
    )?;
    let rows = statement.query_map([file_id], |r| {
        Ok((r.get::<_, String>(0)?, r.get::<_, String>(1)?))
    })?;
    let mut out = Vec::new();
    for row in rows {
        let (field, value) = row?;
        // A field or value this version cannot read (written by a newer one) is kept in
        // the table and skipped here.
        if let (Some(field), Ok(value)) = (Field::parse(&field), serde_json::from_str(&value)) {
            out.push((field, value));
        }
    }
    Ok(out)
}

/// Records `fields` over track `id` from `source`, then rewrites its tags with them.
fn override_fields(
    tx: &Tx<'_>,
    id: i64,
    fields: &[(Field, Value)],
    source: &str,
    score: Option<f64>,
    at: i64,
) -> Result<(), LibraryError> {
    let Some(mut tags) = load_tags(tx, id)? else {
        return Err(StoreError::NoSuchTrack(id).into());
    };
    for (field, value) in fields {
        let json = serde_json::to_string(value)
            .map_err(|e| StoreError::Corrupt(format!("cannot encode {field}: {e}")))?;
        // A user's edit is never replaced by enrichment; an edit replaces anything.
        let written = tx
            .prepare_cached(
                "INSERT INTO tag_overrides (track_id, field, value, source, score, written_at) \
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6) ON CONFLICT (track_id, field) DO UPDATE SET \
                 value = excluded.value, source = excluded.source, score = excluded.score, \
                 written_at = excluded.written_at WHERE tag_overrides.source <> 'user' OR ?4 = 'user'",
            )?
            .execute(params![id, field.name(), json, source, score, at])?;
        if written > 0 {
            field.set(&mut tags, value);
        }
    }
    store_tags(tx, id, &tags)?;
    remove_orphans(tx)
}

/// The image `sql` selects (sha256, mime, bytes) for `id`, if any.
fn image(tx: &Tx<'_>, sql: &str, id: i64) -> Result<Option<Image>, LibraryError> {
    Ok(tx
        .prepare_cached(sql)?
        .query_row([id], |r| {
            Ok(Image {
                sha256: r.get(0)?,
                mime: r.get::<_, Option<String>>(1)?.unwrap_or_default(),
                bytes: r.get(2)?,
            })
        })
        .optional()?)
}

fn record(
    tx: &Tx<'_>,
    id: i64,
    kind: Kind,
    plugin: &str,
    outcome: Outcome,
    detail: Option<&str>,
    at: i64,
) -> Result<(), LibraryError> {
    tx.prepare_cached(
        "INSERT INTO enrichment (track_id, kind, plugin, outcome, detail, at) VALUES (?, ?, ?, ?, ?, ?) \
         ON CONFLICT (track_id, kind, plugin) DO UPDATE SET outcome = excluded.outcome, \
         detail = excluded.detail, at = excluded.at",
    )?
    .execute(params![id, kind.name(), plugin, outcome.name(), detail, at])?;
    Ok(())
}

impl SqliteStore {
    /// Tracks of `source` (or all) with what `kind` enrichment did for them.
    async fn targets(
        &self,
        source: Option<String>,
        kind: Kind,
    ) -> Result<Vec<Target>, LibraryError> {
        self.writer
            .transaction(move |tx| {
                let mut statement = tx.prepare_cached(
                    "SELECT t.id, f.path, t.duration_ms, f.scanned_at, \
                     EXISTS (SELECT 1 FROM artwork a JOIN artwork_images i ON i.sha256 = a.sha256 \
                       WHERE a.id = t.artwork_id), \
                     EXISTS (SELECT 1 FROM lyrics l WHERE l.track_id = t.id) \
                     FROM tracks t JOIN files f ON f.id = t.file_id JOIN sources s ON s.id = f.source_id \
                     WHERE ?1 IS NULL OR s.name = ?1 ORDER BY f.path",
                )?;
                type Row = (i64, String, Option<i64>, i64, bool, bool);
                let rows: Vec<Row> = statement
                    .query_map([&source], |r| {
                        Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?, r.get(4)?, r.get(5)?))
                    })?
                    .collect::<Result<_, _>>()?;
                let mut locked: HashMap<i64, Vec<Field>> = HashMap::new();
                let mut statement =
                    tx.prepare_cached("SELECT track_id, field FROM tag_overrides WHERE source = 'user'")?;
                for row in statement.query_map([], |r| Ok((r.get::<_, i64>(0)?, r.get::<_, String>(1)?)))? {
                    let (id, field) = row?;
                    if let Some(field) = Field::parse(&field) {
                        locked.entry(id).or_default().push(field);
                    }
                }
                let mut answered: HashMap<i64, Vec<(String, i64)>> = HashMap::new();
                let mut statement = tx.prepare_cached(
                    "SELECT track_id, plugin, at FROM enrichment WHERE kind = ? AND outcome <> 'failed'",
                )?;
                for row in statement.query_map([kind.name()], |r| {
                    Ok((r.get::<_, i64>(0)?, r.get::<_, String>(1)?, r.get::<_, i64>(2)?))
                })? {
                    let (id, plugin, at) = row?;
                    answered.entry(id).or_default().push((plugin, at));
                }
                let mut targets = Vec::with_capacity(rows.len());
                for (id, path, duration_ms, scanned_at, has_artwork, has_lyrics) in rows {
                    let Some(tags) = load_tags(tx, id)? else {
                        continue;
                    };
                    let done = answered
                        .remove(&id)
                        .unwrap_or_default()
                        .into_iter()
                        // A rescan forgets a file's answers; the time guards the answers a
                        // library kept from before it did (and in the same millisecond, the
                        // deletion is what counts).
                        .filter(|(_, at)| *at >= scanned_at)
                        .map(|(plugin, _)| plugin)
                        .collect();
                    targets.push(Target {
                        track_id: id,
                        path,
                        tags,
                        duration_ms: duration_ms.and_then(|d| u64::try_from(d).ok()),
                        locked: locked.remove(&id).unwrap_or_default(),
                        done,
                        has_artwork,
                        has_lyrics,
                    });
                }
                Ok(targets)
            })
            .await
    }
}

impl EnrichStore for SqliteStore {
    async fn enrich_targets(&self, source: Option<&str>, kind: Kind) -> StoreResult<Vec<Target>> {
        Ok(self.targets(source.map(str::to_owned), kind).await?)
    }

    async fn write_tags(
        &self,
        track_id: i64,
        changes: Vec<FieldChange>,
        provenance: Provenance,
    ) -> StoreResult<()> {
        Ok(self
            .writer
            .transaction(move |tx| {
                let fields: Vec<(Field, Value)> =
                    changes.into_iter().map(|c| (c.field, c.new)).collect();
                override_fields(
                    tx,
                    track_id,
                    &fields,
                    &provenance.plugin,
                    Some(provenance.score),
                    provenance.at_ms,
                )?;
                record(
                    tx,
                    track_id,
                    Kind::Tags,
                    &provenance.plugin,
                    Outcome::Written,
                    None,
                    provenance.at_ms,
                )
            })
            .await?)
    }

    async fn record_outcome(
        &self,
        track_id: i64,
        kind: Kind,
        plugin: &str,
        outcome: Outcome,
        detail: Option<String>,
    ) -> StoreResult<()> {
        let plugin = plugin.to_owned();
        Ok(self
            .writer
            .transaction(move |tx| {
                record(
                    tx,
                    track_id,
                    kind,
                    &plugin,
                    outcome,
                    detail.as_deref(),
                    now_ms(),
                )
            })
            .await?)
    }

    async fn write_artwork(
        &self,
        track_ids: Vec<i64>,
        image: Image,
        provenance: Provenance,
    ) -> StoreResult<()> {
        Ok(self
            .writer
            .transaction(move |tx| {
                tx.prepare_cached(
                    "INSERT OR IGNORE INTO artwork_images (sha256, bytes) VALUES (?, ?)",
                )?
                .execute(params![image.sha256, image.bytes])?;
                let artwork_id: i64 = tx
                    .prepare_cached(
                        "INSERT INTO artwork (sha256, mime, byte_len, source) VALUES (?, ?, ?, ?) \
                         ON CONFLICT (sha256) DO UPDATE SET mime = excluded.mime, \
                         source = coalesce(artwork.source, excluded.source) RETURNING id",
                    )?
                    .query_row(
                        params![
                            image.sha256,
                            image.mime,
                            image.bytes.len() as i64,
                            provenance.plugin
                        ],
                        |r| r.get(0),
                    )?;
                for id in &track_ids {
                    let changed = tx
                        .prepare_cached("UPDATE tracks SET artwork_id = ? WHERE id = ?")?
                        .execute(params![artwork_id, id])?;
                    if changed == 0 {
                        return Err(StoreError::NoSuchTrack(*id).into());
                    }
                    record(
                        tx,
                        *id,
                        Kind::Artwork,
                        &provenance.plugin,
                        Outcome::Written,
                        None,
                        provenance.at_ms,
                    )?;
                }
                remove_orphans(tx)
            })
            .await?)
    }

    async fn write_lyrics(
        &self,
        track_id: i64,
        lyrics: StoredLyrics,
        provenance: Provenance,
    ) -> StoreResult<()> {
        Ok(self
            .writer
            .transaction(move |tx| {
                tx.prepare_cached(
                    "INSERT INTO lyrics (track_id, plain, synced_lrc, source, instrumental, written_at) \
                     VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT (track_id) DO UPDATE SET plain = excluded.plain, \
                     synced_lrc = excluded.synced_lrc, source = excluded.source, \
                     instrumental = excluded.instrumental, written_at = excluded.written_at",
                )?
                .execute(params![
                    track_id,
                    lyrics.plain,
                    lyrics.synced_lrc,
                    lyrics.source,
                    lyrics.instrumental,
                    provenance.at_ms
                ])?;
                record(tx, track_id, Kind::Lyrics, &provenance.plugin, Outcome::Written, None, provenance.at_ms)
            })
            .await?)
    }

    async fn track_artwork(&self, track_id: i64) -> StoreResult<Option<Image>> {
        Ok(self
            .writer
            .transaction(move |tx| {
                image(
                    tx,
                    "SELECT a.sha256, a.mime, i.bytes FROM tracks t JOIN artwork a ON a.id = t.artwork_id \
                     JOIN artwork_images i ON i.sha256 = a.sha256 WHERE t.id = ?",
                    track_id,
                )
            })
            .await?)
    }

    async fn album_artwork(&self, track_id: i64) -> StoreResult<Option<Image>> {
        Ok(self
            .writer
            .transaction(move |tx| {
                image(
                    tx,
                    "SELECT a.sha256, a.mime, i.bytes FROM tracks me JOIN tracks t ON t.album_id = me.album_id \
                     JOIN artwork a ON a.id = t.artwork_id JOIN artwork_images i ON i.sha256 = a.sha256 \
                     WHERE me.id = ? GROUP BY a.sha256 \
                     ORDER BY count(*) DESC, min(coalesce(t.disc_number, 999999) * 100000 \
                       + coalesce(t.track_number, 99999)) LIMIT 1",
                    track_id,
                )
            })
            .await?)
    }

    async fn lyrics(&self, track_id: i64) -> StoreResult<Option<StoredLyrics>> {
        Ok(self
            .writer
            .transaction(move |tx| {
                Ok(tx
                    .prepare_cached(
                        "SELECT plain, synced_lrc, instrumental, coalesce(source, 'embedded') FROM lyrics \
                         WHERE track_id = ?",
                    )?
                    .query_row([track_id], |r| {
                        Ok(StoredLyrics {
                            plain: r.get(0)?,
                            synced_lrc: r.get(1)?,
                            instrumental: r.get(2)?,
                            source: r.get(3)?,
                        })
                    })
                    .optional()?)
            })
            .await?)
    }

    async fn edit_tags(&self, track_id: i64, values: Vec<(Field, Value)>) -> StoreResult<()> {
        Ok(self
            .writer
            .transaction(move |tx| override_fields(tx, track_id, &values, USER, None, now_ms()))
            .await?)
    }

    async fn metadata_state(&self, plugin: &str) -> StoreResult<BTreeMap<String, Vec<u8>>> {
        Ok(SqliteStore::metadata_state(self, plugin).await?)
    }

    async fn save_metadata_state(&self, plugin: &str, changes: &[StateChange]) -> StoreResult<()> {
        Ok(SqliteStore::save_metadata_state(self, plugin, changes).await?)
    }

    async fn provenance(&self, track_id: i64) -> StoreResult<Vec<FieldSource>> {
        Ok(self
            .writer
            .transaction(move |tx| {
                let mut statement = tx.prepare_cached(
                    "SELECT field, value, source, score, written_at FROM tag_overrides \
                     WHERE track_id = ? ORDER BY field",
                )?;
                let rows = statement.query_map([track_id], |r| {
                    Ok((
                        r.get::<_, String>(0)?,
                        r.get::<_, String>(1)?,
                        r.get::<_, String>(2)?,
                        r.get::<_, Option<f64>>(3)?,
                        r.get::<_, i64>(4)?,
                    ))
                })?;
                let mut out = Vec::new();
                for row in rows {
                    let (field, value, source, score, at_ms) = row?;
                    if let (Some(field), Ok(value)) =
                        (Field::parse(&field), serde_json::from_str(&value))
                    {
                        out.push(FieldSource {
                            field,
                            value,
                            source,
                            score,
                            at_ms,
                        });
                    }
                }
                Ok(out)
            })
            .await?)
    }
}

#[cfg(test)]
mod tests {
    use tonearm_core::enrich::EnrichStore as _;
    use tonearm_core::library::{CursorUpdate, FileWrite};

    use super::*;
    use crate::tests::{library, track};

    fn change(field: Field, new: Value) -> FieldChange {
        FieldChange {
            field,
            old: None,
            new,
        }
    }

    fn from(plugin: &str) -> Provenance {
        Provenance {
            plugin: plugin.into(),
            score: 0.98,
            at_ms: now_ms(),
        }
    }

    #[tokio::test]
    async fn written_fields_carry_provenance_and_survive_a_rescan_but_not_a_user_edit() {
        let (_dir, store, source) = library().await;
        let scanned = track("song", &["band"], "Album");
        store
            .apply_batch(source, 0, vec![scanned.clone()], vec![], CursorUpdate::None)
            .await
            .unwrap();
        let id = store.tracks(10, 0).await.unwrap()[0].id;

        store
            .write_tags(
                id,
                vec![
                    change(Field::Title, Value::Text("Song".into())),
                    change(Field::Artists, Value::List(vec!["The Band".into()])),
                    change(Field::TrackNumber, Value::Number(4)),
                ],
                from("musicbrainz"),
            )
            .await
            .unwrap();
        let row = &store.tracks(10, 0).await.unwrap()[0];
        assert_eq!(
            (row.title.as_deref(), row.artists.as_str(), row.track_number),
            (Some("Song"), "The Band", Some(4))
        );
        assert_eq!(
            store.search("the band song", 10).await.unwrap().len(),
            1,
            "search sees it"
        );
        let origin = store.provenance(id).await.unwrap();
        assert_eq!(origin.len(), 3);
        assert!(
            origin
                .iter()
                .all(|f| f.source == "musicbrainz" && f.score == Some(0.98))
        );

        // The user edits the title; enrichment cannot take it back.
        store
            .edit_tags(id, vec![(Field::Title, Value::Text("My Title".into()))])
            .await
            .unwrap();
        store
            .write_tags(
                id,
                vec![change(Field::Title, Value::Text("Song".into()))],
                from("musicbrainz"),
            )
            .await
            .unwrap();
        let targets = store.enrich_targets(None, Kind::Tags).await.unwrap();
        assert_eq!(targets[0].tags.title.as_deref(), Some("My Title"));
        assert_eq!(targets[0].locked, [Field::Title]);
        assert_eq!(
            targets[0].done,
            ["musicbrainz"],
            "answered since the last scan"
        );

        // The file changes and is rescanned: its own tags come back under what was written
        // over them, and every source is asked again.
        let FileWrite::Scanned {
            entry,
            mut track,
            bytes_read,
        } = scanned
        else {
            unreachable!()
        };
        track.tags.year = Some(2001);
        std::thread::sleep(std::time::Duration::from_millis(2));
        store
            .apply_batch(
                source,
                0,
                vec![FileWrite::Scanned {
                    entry,
                    track,
                    bytes_read,
                }],
                vec![],
                CursorUpdate::None,
            )
            .await
            .unwrap();
        let targets = store.enrich_targets(None, Kind::Tags).await.unwrap();
        let tags = &targets[0].tags;
        assert_eq!(tags.title.as_deref(), Some("My Title"));
        assert_eq!(tags.artists, ["The Band"]);
        assert_eq!((tags.track_number, tags.year), (Some(4), Some(2001)));
        assert!(
            targets[0].done.is_empty(),
            "a changed file is asked about again"
        );
    }

    #[tokio::test]
    async fn failures_are_asked_again_and_other_answers_are_not() {
        let (_dir, store, source) = library().await;
        store
            .apply_batch(
                source,
                0,
                vec![track("a", &["x"], "y")],
                vec![],
                CursorUpdate::None,
            )
            .await
            .unwrap();
        let id = store.tracks(10, 0).await.unwrap()[0].id;
        store
            .record_outcome(
                id,
                Kind::Tags,
                "musicbrainz",
                Outcome::Failed,
                Some("503".into()),
            )
            .await
            .unwrap();
        store
            .record_outcome(id, Kind::Tags, "other", Outcome::NoMatch, None)
            .await
            .unwrap();
        let targets = store.enrich_targets(Some("s"), Kind::Tags).await.unwrap();
        assert_eq!(targets[0].done, ["other"]);
        assert!(
            store
                .enrich_targets(Some("nope"), Kind::Tags)
                .await
                .unwrap()
                .is_empty()
        );
        let err = store
            .edit_tags(9999, vec![(Field::Year, Value::Number(1))])
            .await
            .unwrap_err();
        assert!(matches!(err, StoreError::NoSuchTrack(9999)), "{err}");
    }
}
