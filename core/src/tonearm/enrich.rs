//! Enrichment through the facade: better tags from metadata sources, user edits, and
//! where each value came from. Available with a library that keeps provenance
//! ([`EnrichStore`]).

use crate::enrich::{
    EnrichOptions, EnrichReport, EnrichStore, Enricher, Field, FieldSource, Progress, Value,
};
use crate::library::LibraryStore;
use crate::sources::Capabilities;

use super::{Tonearm, TonearmError};

impl<S: LibraryStore + EnrichStore, C: Capabilities> Tonearm<S, C> {
    /// Identifies the tracks of `source` (every source's if `None`) with the metadata
    /// sources that identify, and writes the fields of close enough matches (see
    /// [`crate::enrich`]); `progress` is called after each track.
    pub async fn enrich_tags(
        &self,
        source: Option<&str>,
        options: EnrichOptions,
        progress: impl FnMut(Progress),
    ) -> Result<EnrichReport, TonearmError> {
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
        Ok(enricher.tags(source, progress).await?)
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
