//! Enrichment: better tags from metadata sources, written to the library with where each
//! value came from.
//!
//! For each track the [`Enricher`] asks the metadata sources that identify, in order,
//! ranks their candidates by one distance ([`matching`]), and writes the best one's fields
//! when it is close enough: field by field, never over a field the user edited, each with
//! its source plugin, the candidate's score and the time ([`Provenance`]). Every track's
//! result is committed on its own, with a record of what each source answered, so a run
//! that is killed loses nothing and the next run asks nothing again for a track whose
//! file has not changed since.

pub mod fields;
pub mod matching;

use std::collections::BTreeMap;
use std::future::Future;
use std::sync::Arc;

use serde::Serialize;
use tonearm_plugin_api::{MetadataSource, PluginError, PluginKind, TrackQuery, TrackTags};

use crate::library::{StoreError, StoreResult};
use crate::plugin::base_context;
use crate::registry::{Registry, RegistryError};
use crate::sources::Capabilities;
use crate::sync::rt;
use crate::{MaybeSend, MaybeSync};

pub use fields::{Field, FieldChange, Value, diff};
pub use matching::{Match, Recommendation};

/// What enrichment looks for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Kind {
    /// Tags and catalogue ids, from sources that identify.
    Tags,
}

impl Kind {
    /// The kind's name, as stored.
    pub fn name(self) -> &'static str {
        match self {
            Kind::Tags => "tags",
        }
    }
}

/// What a source's answer came to for one track.
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
}

impl Default for EnrichOptions {
    fn default() -> Self {
        Self {
            dry_run: false,
            accept: Recommendation::Strong,
            refresh: false,
            sources: None,
            settings: BTreeMap::new(),
        }
    }
}

/// What happened to one track.
#[derive(Debug, Clone, Serialize)]
pub struct TrackResult {
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

/// What a run did.
#[derive(Debug, Clone, Default, Serialize)]
pub struct EnrichReport {
    /// Tracks looked at.
    pub tracks: u64,
    /// Tracks every source had answered already (no request sent).
    pub skipped: u64,
    /// One entry per track that was asked about.
    pub results: Vec<TrackResult>,
}

impl EnrichReport {
    /// How many results came to `outcome`.
    pub fn count(&self, outcome: Outcome) -> usize {
        self.results.iter().filter(|r| r.outcome == outcome).count()
    }
}

/// Progress of a run, after each track.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Progress {
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
}

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

    /// The sources to ask for `kind`, created with their capabilities.
    fn open(&self, kind: Kind) -> Result<Vec<Opened>, EnrichError> {
        let offers = |info: &crate::registry::PluginInfo| match kind {
            Kind::Tags => info.manifest.metadata.identify,
        };
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
            opened.push(Opened { id, source });
        }
        if opened.is_empty() {
            return Err(EnrichError::NoSource(match kind {
                Kind::Tags => "identification (tags)",
            }));
        }
        Ok(opened)
    }

    /// Enriches the tags of `source`'s tracks (every source's if `None`), calling
    /// `progress` after each track.
    pub async fn tags(
        &self,
        source: Option<&str>,
        mut progress: impl FnMut(Progress),
    ) -> Result<EnrichReport, EnrichError> {
        let sources = self.open(Kind::Tags)?;
        let targets = self.store.enrich_targets(source, Kind::Tags).await?;
        let total = targets.len() as u64;
        let mut report = EnrichReport {
            tracks: total,
            ..EnrichReport::default()
        };
        for (i, target) in targets.into_iter().enumerate() {
            let ask: Vec<&Opened> = sources
                .iter()
                .filter(|s| self.options.refresh || !target.done.contains(&s.id))
                .collect();
            if ask.is_empty() {
                report.skipped += 1;
            } else {
                let result = self.identify(&target, &ask).await?;
                report.results.push(result);
            }
            progress(Progress {
                done: i as u64 + 1,
                total,
            });
        }
        Ok(report)
    }

    /// Asks `sources` in turn about one track until one matches, and writes the match.
    async fn identify(
        &self,
        target: &Target,
        sources: &[&Opened],
    ) -> Result<TrackResult, EnrichError> {
        let query = TrackQuery {
            tags: target.tags.clone(),
            duration_ms: target.duration_ms,
            fingerprint: None,
        };
        let mut result = TrackResult {
            track_id: target.track_id,
            path: target.path.clone(),
            plugin: String::new(),
            outcome: Outcome::NoMatch,
            best: None,
            changes: Vec::new(),
            error: None,
        };
        for opened in sources {
            result.plugin = opened.id.clone();
            let source = opened.source.clone();
            let asked = query.clone();
            let answer = rt::blocking(move || source.identify(&asked))
                .await
                .map_err(EnrichError::Worker)?;
            let candidates = match answer {
                Ok(candidates) => candidates,
                Err(error) => {
                    tracing::warn!(plugin = %opened.id, path = %target.path, %error, "identify failed");
                    result.outcome = Outcome::Failed;
                    result.error = Some(error.to_string());
                    if !self.options.dry_run {
                        self.store
                            .record_outcome(
                                target.track_id,
                                Kind::Tags,
                                &opened.id,
                                Outcome::Failed,
                                Some(error.to_string()),
                            )
                            .await?;
                    }
                    continue;
                }
            };
            let best = matching::rank(&query, candidates).into_iter().next();
            result.best = best.as_ref().map(|m| (m.recommendation, m.score()));
            let accepted = best.filter(|m| m.recommendation >= self.options.accept);
            let Some(best) = accepted else {
                result.outcome = Outcome::NoMatch;
                result.error = None;
                if !self.options.dry_run {
                    self.store
                        .record_outcome(
                            target.track_id,
                            Kind::Tags,
                            &opened.id,
                            Outcome::NoMatch,
                            None,
                        )
                        .await?;
                }
                continue;
            };
            let changes = diff(&target.tags, &best.candidate.tags, &target.locked);
            result.error = None;
            result.outcome = if changes.is_empty() {
                Outcome::Unchanged
            } else {
                Outcome::Written
            };
            result.changes = changes.clone();
            if !self.options.dry_run {
                if changes.is_empty() {
                    self.store
                        .record_outcome(
                            target.track_id,
                            Kind::Tags,
                            &opened.id,
                            Outcome::Unchanged,
                            None,
                        )
                        .await?;
                } else {
                    let provenance = Provenance {
                        plugin: opened.id.clone(),
                        score: best.score(),
                        at_ms: {
                            use tonearm_plugin_api::Clock as _;
                            crate::log::SystemClock.now_unix_ms()
                        },
                    };
                    self.store
                        .write_tags(target.track_id, changes, provenance)
                        .await?;
                }
            }
            return Ok(result);
        }
        Ok(result)
    }
}
