//! Enrichment through the facade: better tags from metadata sources, user edits, and
//! where each value came from. Available with a library that keeps provenance
//! ([`EnrichStore`]).

use crate::enrich::{
    EnrichOptions, EnrichReport, EnrichStore, Enricher, Field, FieldSource, Image, Kind, Progress,
    StoredLyrics, Value,
};
use crate::library::LibraryStore;
use crate::sources::Capabilities;

use super::{Tonearm, TonearmError};

impl<S: LibraryStore + EnrichStore, C: Capabilities> Tonearm<S, C> {
    /// Enriches the tracks of `source` (every source's if `None`) with each of `kinds`,
    /// in the order of [`Kind::ALL`] (covers need the release ids identification writes;
    /// see [`crate::enrich`]); `progress` is called after each track of each kind.
    pub async fn enrich(
        &self,
        source: Option<&str>,
        kinds: &[Kind],
        options: EnrichOptions,
        mut progress: impl FnMut(Progress),
    ) -> Result<Vec<EnrichReport>, TonearmError> {
        if let Some(name) = source {
            // An unknown name is an error, not an empty run.
            LibraryStore::source(self.store(), name).await?;
        }
        let enricher = Enricher::new(
            self.store().clone(),
            self.registry().clone(),
            self.sources.shared_capabilities(),
            options,
        );
        let mut reports = Vec::new();
        for kind in Kind::ALL.into_iter().filter(|k| kinds.contains(k)) {
            let report = match kind {
                Kind::Tags => enricher.tags(source, &mut progress).await?,
                Kind::Artwork => enricher.artwork(source, &mut progress).await?,
                Kind::Lyrics => enricher.lyrics(source, &mut progress).await?,
            };
            reports.push(report);
        }
        self.store().remove_orphans().await?;
        Ok(reports)
    }

    /// Identifies the tracks of `source` (every source's if `None`) and writes the
    /// fields of close enough matches: [`Tonearm::enrich`] for tags alone.
    pub async fn enrich_tags(
        &self,
        source: Option<&str>,
        options: EnrichOptions,
        progress: impl FnMut(Progress),
    ) -> Result<EnrichReport, TonearmError> {
        let mut reports = self
            .enrich(source, &[Kind::Tags], options, progress)
            .await?;
        reports
            .pop()
            .ok_or(TonearmError::Enrich(crate::enrich::EnrichError::NoSource(
                "tags",
            )))
    }

    /// A track's front cover, if it has one the library holds.
    pub async fn track_artwork(&self, track_id: i64) -> Result<Option<Image>, TonearmError> {
        Ok(self.store().track_artwork(track_id).await?)
    }

    /// The front cover of a track's album (the one most of its tracks have), if the
    /// library holds one.
    pub async fn album_artwork(&self, track_id: i64) -> Result<Option<Image>, TonearmError> {
        Ok(self.store().album_artwork(track_id).await?)
    }

    /// A track's lyrics, if it has any.
    pub async fn lyrics(&self, track_id: i64) -> Result<Option<StoredLyrics>, TonearmError> {
        Ok(self.store().lyrics(track_id).await?)
    }

    /// Sets fields of a track as the user: enrichment never writes over them.
    pub async fn edit_tags(
        &self,
        track_id: i64,
        values: Vec<(Field, Value)>,
    ) -> Result<(), TonearmError> {
        Ok(self.store().edit_tags(track_id, values).await?)
    }

    /// Where each written or edited field of a track came from.
    pub async fn tag_provenance(&self, track_id: i64) -> Result<Vec<FieldSource>, TonearmError> {
        Ok(self.store().provenance(track_id).await?)
    }
}
