//! Enrichment: better tags, cover art and lyrics from metadata sources, written to the
//! library with where each came from.
//!
//! Tags: for each track the [`Enricher`] asks the metadata sources that identify, in order,
//! ranks their candidates by one distance ([`matching`]), and writes the best one's fields
//! when it is close enough: field by field, never over a field the user edited, each with
//! its source plugin, the candidate's score and the time ([`Provenance`]). Every track's
//! result is committed on its own, with a record of what each source answered, so a run
//! that is killed loses nothing and the next run asks nothing again for a track whose
//! file has not changed since.
//!
//! Artwork: for each release the library's tracks name (a MusicBrainz release id, which
//! identification writes), the sources that have artwork are asked once; the image is
//! checked to be one and stored once, by its SHA-256, for every track of the release
//! that has none. Lyrics: each track is asked of the sources that have lyrics; time-synced
//! lyrics are kept only if they are LRC that fits the track ([`checks`]).

mod artwork;
pub mod checks;
pub mod conformance;
pub mod fields;
mod lyrics;
pub mod matching;
mod tags;

use std::collections::BTreeMap;
use std::future::Future;
use std::sync::Arc;

use serde::Serialize;
use tonearm_plugin_api::{MetadataSource, PluginError, PluginKind, TrackQuery, TrackTags};

use crate::events::{CoreEvent, MetadataEvent};
use crate::library::{StateChange, StoreError, StoreResult};
use crate::plugin::base_context;
use crate::registry::{Registry, RegistryError};
use crate::sources::Capabilities;
use crate::state::BufferedState;
use crate::{MaybeSend, MaybeSync};

pub use fields::{Field, FieldChange, Value, diff};
pub use matching::{Match, Recommendation};

/// What enrichment looks for.
#[cfg_attr(feature = "typescript", derive(ts_rs::TS))]
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Kind {
    /// Tags and catalogue ids, from sources that identify.
    Tags,
    /// Front covers, by release.
    Artwork,
    /// Plain and time-synced lyrics.
    Lyrics,
}

impl Kind {
    /// Every kind, in the order a run does them (artwork needs the release ids that
    /// identification writes).
    pub const ALL: [Kind; 3] = [Kind::Tags, Kind::Artwork, Kind::Lyrics];

    /// The kind's name, as stored.
    pub fn name(self) -> &'static str {
        match self {
            Kind::Tags => "tags",
            Kind::Artwork => "artwork",
            Kind::Lyrics => "lyrics",
        }
    }

    /// Whether a source whose manifest says `features` offers this kind.
    pub fn offered_by(self, features: &tonearm_plugin_api::MetadataFeatures) -> bool {
        match self {
            Kind::Tags => features.identify,
            Kind::Artwork => features.artwork,
            Kind::Lyrics => features.lyrics,
        }
    }
}

/// What a source's answer came to for one track.
#[cfg_attr(feature = "typescript", derive(ts_rs::TS))]
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Outcome {
    /// Fields were written.
    Written,
    /// The best candidate matched, and the library already had its values.
    Unchanged,
    /// No candidate was close enough; nothing was written.
    NoMatch,
    /// The source failed (down, throttling past the retries, an answer it could not
    /// read); the next run asks again.
    Failed,
}

impl Outcome {
    /// The outcome's name, as stored.
    pub fn name(self) -> &'static str {
        match self {
            Outcome::Written => "written",
            Outcome::Unchanged => "unchanged",
            Outcome::NoMatch => "no_match",
            Outcome::Failed => "failed",
        }
    }

    /// Whether the track needs no new request to this source until its file changes.
    pub fn is_final(self) -> bool {
        !matches!(self, Outcome::Failed)
    }
}

/// Where a written value came from.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Provenance {
    /// The metadata source's plugin id.
    pub plugin: String,
    /// The candidate's score, `1 - distance`.
    pub score: f64,
    /// When, in Unix milliseconds.
    pub at_ms: i64,
}

/// One field's value and where it came from, as the library records it.
#[cfg_attr(feature = "typescript", derive(ts_rs::TS))]
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct FieldSource {
    /// The field.
    pub field: Field,
    /// Its value.
    pub value: Value,
    /// `user` for an edit, else the plugin that wrote it.
    pub source: String,
    /// The candidate's score (none for an edit).
    pub score: Option<f64>,
    /// When, in Unix milliseconds.
    pub at_ms: i64,
}

/// A track as enrichment sees it.
#[derive(Debug, Clone, PartialEq)]
pub struct Target {
    /// The track.
    pub track_id: i64,
    /// Its file's path, to show.
    pub path: String,
    /// Its tags now (the file's, with what was written over them).
    pub tags: TrackTags,
    /// Its duration.
    pub duration_ms: Option<u64>,
    /// Fields the user edited: never written.
    pub locked: Vec<Field>,
    /// Sources that answered finally for this kind since the file last changed.
    pub done: Vec<String>,
    /// Whether it has a front cover (embedded or fetched).
    pub has_artwork: bool,
    /// Whether it has lyrics.
    pub has_lyrics: bool,
}

impl Target {
    /// What a metadata source is asked about this track.
    fn query(&self) -> TrackQuery {
        TrackQuery {
            tags: self.tags.clone(),
            duration_ms: self.duration_ms,
            fingerprint: None,
        }
    }
}

/// An image as the library keeps it: once per content.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Image {
    /// SHA-256 of `bytes`, hex.
    pub sha256: String,
    /// Its MIME type, from its signature.
    pub mime: String,
    /// The image.
    #[serde(skip)]
    pub bytes: Vec<u8>,
}

impl Image {
    /// `bytes` as an image, or why they are not one.
    pub fn check(bytes: Vec<u8>) -> Result<Self, String> {
        let Some(mime) = checks::image_type(&bytes) else {
            let head: String = String::from_utf8_lossy(&bytes[..bytes.len().min(24)])
                .chars()
                .filter(|c| !c.is_control())
                .collect();
            return Err(format!(
                "the answer is not an image ({} bytes starting {head:?})",
                bytes.len()
            ));
        };
        Ok(Self {
            sha256: image_hash(&bytes),
            mime: mime.to_owned(),
            bytes,
        })
    }
}

/// The SHA-256 of an image, in hex: the key it is stored under, embedded or fetched.
pub fn image_hash(bytes: &[u8]) -> String {
    use sha2::Digest as _;
    sha2::Sha256::digest(bytes)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// Lyrics as the library keeps them.
#[cfg_attr(feature = "typescript", derive(ts_rs::TS))]
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct StoredLyrics {
    /// Plain text.
    pub plain: Option<String>,
    /// Time-synced LRC, checked.
    pub synced_lrc: Option<String>,
    /// The track has no lyrics, on purpose.
    pub instrumental: bool,
    /// The plugin they came from, or `embedded`.
    pub source: String,
}

/// Where enrichment reads tracks and writes what it found: the library.
pub trait EnrichStore: Clone + MaybeSend + MaybeSync + 'static {
    /// The tracks of `source` (every source's if `None`), with what `kind` enrichment
    /// already did for each since its file last changed.
    fn enrich_targets(
        &self,
        source: Option<&str>,
        kind: Kind,
    ) -> impl Future<Output = StoreResult<Vec<Target>>> + MaybeSend;

    /// Writes `changes` to a track with their `provenance` and records the source's
    /// outcome as written, in one transaction.
    fn write_tags(
        &self,
        track_id: i64,
        changes: Vec<FieldChange>,
        provenance: Provenance,
    ) -> impl Future<Output = StoreResult<()>> + MaybeSend;

    /// Records what `plugin` answered for `kind` on a track, writing nothing else.
    fn record_outcome(
        &self,
        track_id: i64,
        kind: Kind,
        plugin: &str,
        outcome: Outcome,
        detail: Option<String>,
    ) -> impl Future<Output = StoreResult<()>> + MaybeSend;

    /// Stores `image` once and makes it the front cover of `track_ids`, recording the
    /// source's outcome as written for each, in one transaction.
    fn write_artwork(
        &self,
        track_ids: Vec<i64>,
        image: Image,
        provenance: Provenance,
    ) -> impl Future<Output = StoreResult<()>> + MaybeSend;

    /// Stores a track's lyrics and records the source's outcome as written.
    fn write_lyrics(
        &self,
        track_id: i64,
        lyrics: StoredLyrics,
        provenance: Provenance,
    ) -> impl Future<Output = StoreResult<()>> + MaybeSend;

    /// A track's front cover, if it has one.
    fn track_artwork(
        &self,
        track_id: i64,
    ) -> impl Future<Output = StoreResult<Option<Image>>> + MaybeSend;

    /// The front cover of the album of a track: the one most of its tracks have (the
    /// earliest track's on a tie).
    fn album_artwork(
        &self,
        track_id: i64,
    ) -> impl Future<Output = StoreResult<Option<Image>>> + MaybeSend;

    /// A track's lyrics, if it has any.
    fn lyrics(
        &self,
        track_id: i64,
    ) -> impl Future<Output = StoreResult<Option<StoredLyrics>>> + MaybeSend;

    /// Sets fields as the user: enrichment never writes over them.
    fn edit_tags(
        &self,
        track_id: i64,
        values: Vec<(Field, Value)>,
    ) -> impl Future<Output = StoreResult<()>> + MaybeSend;

    /// Where each written or edited field of a track came from.
    fn provenance(
        &self,
        track_id: i64,
    ) -> impl Future<Output = StoreResult<Vec<FieldSource>>> + MaybeSend;

    /// The state metadata source `plugin` keeps in this library (one per plugin, shared
    /// by every run).
    fn metadata_state(
        &self,
        plugin: &str,
    ) -> impl Future<Output = StoreResult<BTreeMap<String, Vec<u8>>>> + MaybeSend;

    /// Applies changes to the state of metadata source `plugin`, atomically.
    fn save_metadata_state(
        &self,
        plugin: &str,
        changes: &[StateChange],
    ) -> impl Future<Output = StoreResult<()>> + MaybeSend;
}

/// Why a run could not go on.
#[derive(Debug, thiserror::Error)]
pub enum EnrichError {
    /// The library failed.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// A named plugin is missing, of another kind, or disabled.
    #[error(transparent)]
    Registry(#[from] RegistryError),
    /// No loaded metadata source offers what was asked.
    #[error("no loaded metadata source offers {0}")]
    NoSource(&'static str),
    /// A source could not have the capabilities it asks for.
    #[error("metadata source `{plugin}` cannot run here: {reason}")]
    Grant {
        /// The plugin.
        plugin: String,
        /// Why.
        reason: String,
    },
    /// A source failed to start.
    #[error("metadata source `{plugin}` failed to start: {error}")]
    Start {
        /// The plugin.
        plugin: String,
        /// What it said.
        error: PluginError,
    },
    /// A plugin call's thread died.
    #[error("an enrichment worker stopped unexpectedly: {0}")]
    Worker(String),
}

/// How a run goes.
#[derive(Debug, Clone)]
pub struct EnrichOptions {
    /// Compute and report what would change, writing nothing.
    pub dry_run: bool,
    /// The weakest recommendation written (default: strong only).
    pub accept: Recommendation,
    /// Ask again even where a source answered since the file last changed.
    pub refresh: bool,
    /// The sources to ask, in order (default: every loaded source that offers the kind,
    /// in id order).
    pub sources: Option<Vec<String>>,
    /// Each source's settings (`endpoint.api`, …), by plugin id.
    pub settings: BTreeMap<String, BTreeMap<String, String>>,
    /// The longest edge of the covers to fetch, in pixels (`None`: the original).
    pub artwork_size: Option<u32>,
}

impl Default for EnrichOptions {
    fn default() -> Self {
        Self {
            dry_run: false,
            accept: Recommendation::Strong,
            refresh: false,
            sources: None,
            settings: BTreeMap::new(),
            artwork_size: Some(500),
        }
    }
}

/// What happened to one track.
#[cfg_attr(feature = "typescript", derive(ts_rs::TS))]
#[derive(Debug, Clone, Serialize)]
pub struct TrackResult {
    /// What was looked for.
    pub kind: Kind,
    /// The track.
    pub track_id: i64,
    /// Its path.
    pub path: String,
    /// The source whose answer decided it (the last one asked if none matched).
    pub plugin: String,
    /// What came of it.
    pub outcome: Outcome,
    /// The best candidate's recommendation and score, if there was one.
    pub best: Option<(Recommendation, f64)>,
    /// The fields written (or, in a dry run, that would be).
    pub changes: Vec<FieldChange>,
    /// Why it failed, for a failure.
    pub error: Option<String>,
}

impl TrackResult {
    /// No match yet for `target` in a run of `kind`, no source asked.
    fn of(kind: Kind, target: &Target) -> Self {
        Self {
            kind,
            track_id: target.track_id,
            path: target.path.clone(),
            plugin: String::new(),
            outcome: Outcome::NoMatch,
            best: None,
            changes: Vec::new(),
            error: None,
        }
    }
}

/// What a run did for one kind.
#[cfg_attr(feature = "typescript", derive(ts_rs::TS))]
#[derive(Debug, Clone, Serialize)]
pub struct EnrichReport {
    /// What was looked for.
    pub kind: Kind,
    /// Tracks looked at.
    pub tracks: u64,
    /// Tracks every source had answered already (no request sent).
    pub skipped: u64,
    /// One entry per track that was asked about.
    pub results: Vec<TrackResult>,
}

impl EnrichReport {
    /// An empty report of `kind` over `tracks` tracks.
    pub fn new(kind: Kind, tracks: u64) -> Self {
        Self {
            kind,
            tracks,
            skipped: 0,
            results: Vec::new(),
        }
    }

    /// How many results came to `outcome`.
    pub fn count(&self, outcome: Outcome) -> usize {
        self.results.iter().filter(|r| r.outcome == outcome).count()
    }
}

/// Progress of a run, after each track.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Progress {
    /// What is being looked for.
    pub kind: Kind,
    /// Tracks done, skipped ones included.
    pub done: u64,
    /// Tracks in the run.
    pub total: u64,
}

/// Runs enrichment over one library with one platform's capabilities.
pub struct Enricher<S, C> {
    store: S,
    registry: Arc<Registry>,
    capabilities: Arc<C>,
    options: EnrichOptions,
}

/// An opened metadata source.
struct Opened {
    id: String,
    source: Arc<dyn MetadataSource>,
    /// Its state, if it keeps one: saved after every call that changed it.
    state: Option<Arc<BufferedState>>,
}

impl<S, C> Enricher<S, C> {
    /// Tells the bus a run of `kind` over `tracks` began.
    fn announce_start(&self, kind: Kind, tracks: u64) {
        self.registry
            .bus()
            .emit(CoreEvent::Metadata(MetadataEvent::Started {
                kind: kind.name().into(),
                tracks,
            }));
    }

    /// Tells the bus what came of one track.
    fn announce(&self, result: &TrackResult) {
        self.registry
            .bus()
            .emit(CoreEvent::Metadata(MetadataEvent::Track {
                kind: result.kind.name().into(),
                track_id: result.track_id,
                plugin: result.plugin.clone(),
                outcome: result.outcome.name().into(),
                fields: result
                    .changes
                    .iter()
                    .map(|c| c.field.name().to_owned())
                    .collect(),
            }));
    }

    /// Tells the bus a run ended, and returns its report.
    fn finish(&self, report: EnrichReport) -> EnrichReport {
        self.registry
            .bus()
            .emit(CoreEvent::Metadata(MetadataEvent::Finished {
                kind: report.kind.name().into(),
                written: report.count(Outcome::Written) as u64,
                unchanged: report.count(Outcome::Unchanged) as u64,
                no_match: report.count(Outcome::NoMatch) as u64,
                failed: report.count(Outcome::Failed) as u64,
                skipped: report.skipped,
            }));
        report
    }
}

use crate::sync::now_ms;

impl<S: EnrichStore, C: Capabilities> Enricher<S, C> {
    /// An enricher writing into `store`.
    pub fn new(
        store: S,
        registry: Arc<Registry>,
        capabilities: Arc<C>,
        options: EnrichOptions,
    ) -> Self {
        Self {
            store,
            registry,
            capabilities,
            options,
        }
    }

    /// Calls `opened` on a blocking thread, once the budgets of the services it reaches
    /// allow a request, then saves what the call changed in its state (a dry run keeps
    /// it in memory); `Err` only if the call's thread died or its state was not saved.
    async fn call<T: Send + 'static>(
        &self,
        opened: &Opened,
        f: impl FnOnce(&dyn MetadataSource) -> tonearm_plugin_api::PluginResult<T> + Send + 'static,
    ) -> Result<tonearm_plugin_api::PluginResult<T>, EnrichError> {
        self.capabilities.metadata_turn(&opened.id).await;
        let source = opened.source.clone();
        let answer = crate::sync::rt::blocking(move || f(&*source))
            .await
            .map_err(EnrichError::Worker)?;
        if let Some(state) = opened.state.as_ref().filter(|_| !self.options.dry_run) {
            let changes = state.take_changes();
            if !changes.is_empty() {
                self.store.save_metadata_state(&opened.id, &changes).await?;
            }
        }
        Ok(answer)
    }

    /// The sources to ask for `kind`, created with their saved state and capabilities.
    async fn open(&self, kind: Kind) -> Result<Vec<Opened>, EnrichError> {
        let offers = |info: &crate::registry::PluginInfo| kind.offered_by(&info.manifest.metadata);
        let ids: Vec<String> = match &self.options.sources {
            Some(ids) => ids.clone(),
            None => {
                let mut ids: Vec<String> = self
                    .registry
                    .list()
                    .into_iter()
                    .filter(|i| i.manifest.kind == PluginKind::MetadataSource && offers(i))
                    .map(|i| i.manifest.id)
                    .collect();
                ids.sort();
                ids
            }
        };
        let mut opened = Vec::new();
        for id in ids {
            let info = self.registry.info(&id)?;
            if !offers(&info) {
                continue;
            }
            let factory = self.registry.metadata_source(&id)?;
            let settings = self.options.settings.get(&id).cloned().unwrap_or_default();
            let mut ctx = base_context(&id);
            ctx.settings = settings.clone();
            let state = if info.manifest.capabilities.state {
                let saved = self.store.metadata_state(&id).await?;
                let state = Arc::new(BufferedState::new(saved));
                ctx = ctx.with_state(state.clone());
                Some(state)
            } else {
                None
            };
            let ctx = self
                .capabilities
                .grant_metadata(&info.manifest, &settings, ctx)
                .map_err(|reason| EnrichError::Grant {
                    plugin: id.clone(),
                    reason,
                })?;
            let source = factory.create(&ctx).map_err(|error| EnrichError::Start {
                plugin: id.clone(),
                error,
            })?;
            opened.push(Opened { id, source, state });
        }
        if opened.is_empty() {
            return Err(EnrichError::NoSource(match kind {
                Kind::Tags => "identification (tags)",
                Kind::Artwork => "artwork",
                Kind::Lyrics => "lyrics",
            }));
        }
        Ok(opened)
    }
}
