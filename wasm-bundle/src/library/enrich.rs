//! What enrichment reads and writes in IndexedDB: values written over tracks' tags with
//! their provenance, user edits, what each metadata source answered, cover images and
//! lyrics; and the metadata sources' HTTP cache.
//!
//! A track record holds its tags with the written values applied (what listing and
//! search show); the values themselves are kept apart, by track and field, so a new scan
//! of the file gets them again ([`super::ops`]).

use std::collections::{HashMap, HashSet};

use tonearm_core::enrich::{
    EnrichStore, Field, FieldChange, FieldSource, Image, Kind, Outcome, Provenance, StoredLyrics,
    Target, Value,
};

use super::*;

/// Who an edit comes from, in an override's `source`.
const USER: &str = "user";

/// Writes `fields` over track `id` from `source`, never over the user's edits unless
/// `source` is the user, and rewrites the track record with them.
async fn override_fields(
    tx: &IdbTransaction,
    id: i64,
    fields: Vec<(Field, Value)>,
    source: &str,
    score: Option<f64>,
    at: i64,
) -> StoreResult<()> {
    let mut track = track_record(tx, id)
        .await?
        .ok_or(StoreError::NoSuchTrack(id))?;
    let store = os(tx, OVERRIDES)?;
    let mut tags = track.track.tags.clone();
    for (field, value) in fields {
        let key = key(&[number(id), JsValue::from_str(field.name())]);
        let old: Option<OverrideRecord> = record(store.get(&key), "get override").await?;
        if old.is_some_and(|o| o.source == USER) && source != USER {
            continue;
        }
        field.set(&mut tags, &value);
        let written = OverrideRecord {
            track_id: id,
            field: field.name().to_owned(),
            value,
            source: source.to_owned(),
            score,
            at,
        };
        put(&store, &written, "put override").await?;
    }
    track.set_tags(tags);
    put_track(tx, &track).await
}

async fn record_outcome(
    tx: &IdbTransaction,
    id: i64,
    kind: Kind,
    plugin: &str,
    outcome: Outcome,
    detail: Option<String>,
    at: i64,
) -> StoreResult<()> {
    let outcome = OutcomeRecord {
        track_id: id,
        kind: kind.name().to_owned(),
        plugin: plugin.to_owned(),
        outcome: outcome.name().to_owned(),
        detail,
        at,
    };
    put(&os(tx, ENRICHMENT)?, &outcome, "put outcome")
        .await
        .map(|_| ())
}

/// The image kept under `sha256`, if any.
async fn image(tx: &IdbTransaction, sha256: &str) -> StoreResult<Option<Image>> {
    let found = request(
        os(tx, IMAGES)?
            .get(&JsValue::from_str(sha256))
            .map_err(js_error("get image"))?,
    )
    .await?;
    if found.is_undefined() {
        return Ok(None);
    }
    let field = |name: &str| js_sys::Reflect::get(&found, &JsValue::from_str(name)).ok();
    let bytes = field("bytes")
        .and_then(|b| b.dyn_into::<js_sys::Uint8Array>().ok())
        .ok_or_else(|| StoreError::Corrupt(format!("image {sha256} has no bytes")))?;
    Ok(Some(Image {
        sha256: sha256.to_owned(),
        mime: field("mime")
            .and_then(|m| m.as_string())
            .unwrap_or_default(),
        bytes: bytes.to_vec(),
    }))
}

/// The keys of `store`, as a set of strings or numbers (`as_key` picks).
async fn keys_of<K: std::hash::Hash + Eq>(
    tx: &IdbTransaction,
    store: &str,
    as_key: impl Fn(&JsValue) -> Option<K>,
) -> StoreResult<HashSet<K>> {
    let keys = request(
        os(tx, store)?
            .get_all_keys()
            .map_err(js_error("list keys"))?,
    )
    .await?;
    Ok(js_sys::Array::from(&keys)
        .iter()
        .filter_map(|k| as_key(&k))
        .collect())
}

impl EnrichStore for IndexedDbStore {
    async fn enrich_targets(&self, source: Option<&str>, kind: Kind) -> StoreResult<Vec<Target>> {
        let stores = [SOURCES, TRACKS, OVERRIDES, ENRICHMENT, IMAGES, LYRICS];
        self.read(&stores, async |tx| {
            let mut tracks: Vec<TrackRecord> = match source {
                Some(name) => {
                    let id = source_by_name(tx, name).await?.id;
                    get_all(&os(tx, TRACKS)?, Some("source"), &number(id)).await?
                }
                None => get_all(&os(tx, TRACKS)?, None, &JsValue::UNDEFINED).await?,
            };
            tracks.sort_by(|a, b| a.path.cmp(&b.path));
            let overrides: Vec<OverrideRecord> =
                get_all(&os(tx, OVERRIDES)?, None, &JsValue::UNDEFINED).await?;
            let mut locked: HashMap<i64, Vec<Field>> = HashMap::new();
            for o in overrides.iter().filter(|o| o.source == USER) {
                if let Some((field, _)) = o.parsed() {
                    locked.entry(o.track_id).or_default().push(field);
                }
            }
            // A track's answers are forgotten when its file is scanned again, so every
            // answer kept is about the file as it is.
            let outcomes: Vec<OutcomeRecord> =
                get_all(&os(tx, ENRICHMENT)?, None, &JsValue::UNDEFINED).await?;
            let mut done: HashMap<i64, Vec<String>> = HashMap::new();
            for o in outcomes {
                if o.kind == kind.name() && o.outcome != Outcome::Failed.name() {
                    done.entry(o.track_id).or_default().push(o.plugin);
                }
            }
            let images = keys_of(tx, IMAGES, JsValue::as_string).await?;
            let lyrics = keys_of(tx, LYRICS, |k| k.as_f64().map(|n| n as i64)).await?;
            Ok(tracks
                .into_iter()
                .map(|t| Target {
                    track_id: t.id,
                    has_artwork: t.cover().is_some_and(|sha| images.contains(sha)),
                    has_lyrics: lyrics.contains(&t.id),
                    locked: locked.remove(&t.id).unwrap_or_default(),
                    done: done.remove(&t.id).unwrap_or_default(),
                    duration_ms: t.track.audio.duration_ms,
                    path: t.path,
                    tags: t.track.tags,
                })
                .collect())
        })
        .await
    }

    async fn write_tags(
        &self,
        track_id: i64,
        changes: Vec<FieldChange>,
        provenance: Provenance,
    ) -> StoreResult<()> {
        self.write(&[TRACKS, OVERRIDES, ENRICHMENT], async |tx| {
            let fields = changes.into_iter().map(|c| (c.field, c.new)).collect();
            let (plugin, at) = (&provenance.plugin, provenance.at_ms);
            override_fields(tx, track_id, fields, plugin, Some(provenance.score), at).await?;
            record_outcome(tx, track_id, Kind::Tags, plugin, Outcome::Written, None, at).await
        })
        .await
    }

    async fn record_outcome(
        &self,
        track_id: i64,
        kind: Kind,
        plugin: &str,
        outcome: Outcome,
        detail: Option<String>,
    ) -> StoreResult<()> {
        self.write(&[ENRICHMENT], async |tx| {
            record_outcome(tx, track_id, kind, plugin, outcome, detail, now_ms()).await
        })
        .await
    }

    async fn write_artwork(
        &self,
        track_ids: Vec<i64>,
        image: Image,
        provenance: Provenance,
    ) -> StoreResult<()> {
        self.write(&[TRACKS, IMAGES, ENRICHMENT], async |tx| {
            let record = image_record(&image.sha256, &image.mime, &image.bytes)?;
            request(
                os(tx, IMAGES)?
                    .put(&record)
                    .map_err(js_error("put image"))?,
            )
            .await?;
            for &id in &track_ids {
                let mut track = track_record(tx, id)
                    .await?
                    .ok_or(StoreError::NoSuchTrack(id))?;
                track.fetched_cover = Some(image.sha256.clone());
                put_track(tx, &track).await?;
                let (plugin, at) = (&provenance.plugin, provenance.at_ms);
                record_outcome(tx, id, Kind::Artwork, plugin, Outcome::Written, None, at).await?;
            }
            remove_orphan_images(tx).await
        })
        .await
    }

    async fn write_lyrics(
        &self,
        track_id: i64,
        lyrics: StoredLyrics,
        provenance: Provenance,
    ) -> StoreResult<()> {
        self.write(&[TRACKS, LYRICS, ENRICHMENT], async |tx| {
            if track_record(tx, track_id).await?.is_none() {
                return Err(StoreError::NoSuchTrack(track_id));
            }
            let (plugin, at) = (&provenance.plugin, provenance.at_ms);
            let kept = LyricsRecord {
                track_id,
                plain: lyrics.plain.clone(),
                synced_lrc: lyrics.synced_lrc.clone(),
                instrumental: lyrics.instrumental,
                source: lyrics.source.clone(),
                at,
            };
            put(&os(tx, LYRICS)?, &kept, "put lyrics").await?;
            record_outcome(
                tx,
                track_id,
                Kind::Lyrics,
                plugin,
                Outcome::Written,
                None,
                at,
            )
            .await
        })
        .await
    }

    async fn track_artwork(&self, track_id: i64) -> StoreResult<Option<Image>> {
        self.read(&[TRACKS, IMAGES], async |tx| {
            let track = track_record(tx, track_id)
                .await?
                .ok_or(StoreError::NoSuchTrack(track_id))?;
            match track.cover() {
                Some(sha) => image(tx, sha).await,
                None => Ok(None),
            }
        })
        .await
    }

    async fn album_artwork(&self, track_id: i64) -> StoreResult<Option<Image>> {
        self.read(&[TRACKS, IMAGES], async |tx| {
            let me = track_record(tx, track_id)
                .await?
                .ok_or(StoreError::NoSuchTrack(track_id))?;
            if me.track.tags.album.is_none() {
                return match me.cover() {
                    Some(sha) => image(tx, sha).await,
                    None => Ok(None),
                };
            }
            // The album's tracks are one run of the sort key: its album artists and title,
            // then any disc (an array sorts after every number).
            let (artists, album) = (&me.order.0, &me.order.1);
            let low = key(&[JsValue::from_str(artists), JsValue::from_str(album)]);
            let high = key(&[
                JsValue::from_str(artists),
                JsValue::from_str(album),
                js_sys::Array::new().into(),
            ]);
            let range = IdbKeyRange::bound(&low, &high).map_err(js_error("key range"))?;
            let tracks: Vec<TrackRecord> =
                get_all(&os(tx, TRACKS)?, Some("order"), &range.into()).await?;
            // The cover most of its tracks have; on a tie, the earliest track's.
            let mut votes: HashMap<&str, (usize, i64)> = HashMap::new();
            for t in &tracks {
                if let Some(sha) = t.cover() {
                    let vote = votes.entry(sha).or_insert((0, t.id));
                    vote.0 += 1;
                    vote.1 = vote.1.min(t.id);
                }
            }
            let mut ranked: Vec<(&str, (usize, i64))> = votes.into_iter().collect();
            ranked.sort_by(|a, b| b.1.0.cmp(&a.1.0).then(a.1.1.cmp(&b.1.1)));
            for (sha, _) in ranked {
                if let Some(found) = image(tx, sha).await? {
                    return Ok(Some(found));
                }
            }
            Ok(None)
        })
        .await
    }

    async fn lyrics(&self, track_id: i64) -> StoreResult<Option<StoredLyrics>> {
        self.read(&[LYRICS], async |tx| {
            let kept: Option<LyricsRecord> =
                record(os(tx, LYRICS)?.get(&number(track_id)), "get lyrics").await?;
            Ok(kept.map(|l| StoredLyrics {
                plain: l.plain,
                synced_lrc: l.synced_lrc,
                instrumental: l.instrumental,
                source: l.source,
            }))
        })
        .await
    }

    async fn edit_tags(&self, track_id: i64, values: Vec<(Field, Value)>) -> StoreResult<()> {
        self.write(&[TRACKS, OVERRIDES], async |tx| {
            override_fields(tx, track_id, values, USER, None, now_ms()).await
        })
        .await
    }

    async fn metadata_state(&self, plugin: &str) -> StoreResult<BTreeMap<String, Vec<u8>>> {
        let plugin = JsValue::from_str(plugin);
        self.read(&[METADATA_STATE], async |tx| {
            read_state(tx, METADATA_STATE, "plugin", &plugin).await
        })
        .await
    }

    async fn save_metadata_state(&self, plugin: &str, changes: &[StateChange]) -> StoreResult<()> {
        let plugin = JsValue::from_str(plugin);
        self.write(&[METADATA_STATE], async |tx| {
            write_state(tx, METADATA_STATE, ("plugin", &plugin), changes).await
        })
        .await
    }

    async fn provenance(&self, track_id: i64) -> StoreResult<Vec<FieldSource>> {
        self.read(&[OVERRIDES], async |tx| {
            let kept: Vec<OverrideRecord> =
                get_all(&os(tx, OVERRIDES)?, Some("track"), &number(track_id)).await?;
            let mut sources: Vec<FieldSource> = kept
                .into_iter()
                .filter_map(|o| {
                    let (field, value) = o.parsed()?;
                    Some(FieldSource {
                        field,
                        value,
                        source: o.source,
                        score: o.score,
                        at_ms: o.at,
                    })
                })
                .collect();
            sources.sort_by_key(|s| s.field);
            Ok(sources)
        })
        .await
    }
}

/// A kept HTTP answer: its cache key, policy and headers (JSON), and body.
pub type CachedAnswer = (String, String, Vec<u8>);

impl IndexedDbStore {
    /// Every answer in the HTTP cache.
    pub async fn http_cache(&self) -> StoreResult<Vec<CachedAnswer>> {
        self.read(&[HTTP_CACHE], async |tx| {
            let all = request(
                os(tx, HTTP_CACHE)?
                    .get_all()
                    .map_err(js_error("list cache"))?,
            )
            .await?;
            Ok(js_sys::Array::from(&all)
                .iter()
                .filter_map(|entry| {
                    let field = |name: &str| js_sys::Reflect::get(&entry, &name.into()).ok();
                    Some((
                        field("key")?.as_string()?,
                        field("meta")?.as_string()?,
                        field("body")?
                            .dyn_into::<js_sys::Uint8Array>()
                            .ok()?
                            .to_vec(),
                    ))
                })
                .collect())
        })
        .await
    }

    /// Keeps `answers` in the HTTP cache, replacing those with their keys.
    pub async fn keep_http_answers(&self, answers: Vec<CachedAnswer>) -> StoreResult<()> {
        self.write(&[HTTP_CACHE], async |tx| {
            let store = os(tx, HTTP_CACHE)?;
            for (key, meta, body) in &answers {
                let entry = js_sys::Object::new();
                let set = |f: &str, v: &JsValue| js_sys::Reflect::set(&entry, &f.into(), v);
                set("key", &JsValue::from_str(key))
                    .and_then(|_| set("meta", &JsValue::from_str(meta)))
                    .and_then(|_| set("body", &js_sys::Uint8Array::from(body.as_slice())))
                    .map_err(js_error("encode cache entry"))?;
                request(store.put(&entry).map_err(js_error("put cache entry"))?).await?;
            }
            Ok(())
        })
        .await
    }
}
