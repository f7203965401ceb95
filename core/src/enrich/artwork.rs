//! Fetching front covers, once per release.

use std::collections::BTreeMap;

use tonearm_plugin_api::ArtworkRequest;

use super::{
    EnrichError, EnrichReport, EnrichStore, Enricher, Image, Kind, Outcome, Progress, Provenance,
    Target, TrackResult, now_ms,
};
use crate::sources::Capabilities;

impl<S: EnrichStore, C: Capabilities> Enricher<S, C> {
    /// Fetches the front cover of every release `source`'s tracks name (every source's if
    /// `None`) for the tracks that have none; `progress` counts tracks.
    pub async fn artwork(
        &self,
        source: Option<&str>,
        mut progress: impl FnMut(Progress),
    ) -> Result<EnrichReport, EnrichError> {
        let sources = self.open(Kind::Artwork).await?;
        let targets = self.store.enrich_targets(source, Kind::Artwork).await?;
        let total = targets.len() as u64;
        let mut report = EnrichReport::new(Kind::Artwork, total);
        self.announce_start(Kind::Artwork, total);
        // One request per release: every track of it gets the same cover.
        let mut releases: BTreeMap<String, Vec<Target>> = BTreeMap::new();
        let mut done = 0u64;
        for target in targets {
            let wanted = self.options.refresh || !target.has_artwork;
            match target.tags.musicbrainz_release_id.clone() {
                Some(release) if wanted => releases.entry(release).or_default().push(target),
                // No release to ask about (identify it first), or it has a cover.
                _ => {
                    report.skipped += 1;
                    done += 1;
                    progress(Progress {
                        kind: Kind::Artwork,
                        done,
                        total,
                    });
                }
            }
        }
        for (release, tracks) in releases {
            let ask: Vec<_> = sources
                .iter()
                .filter(|s| self.options.refresh || tracks.iter().any(|t| !t.done.contains(&s.id)))
                .collect();
            if ask.is_empty() {
                report.skipped += tracks.len() as u64;
            } else {
                let request = ArtworkRequest {
                    release_id: Some(release.clone()),
                    recording_id: None,
                    max_edge: self.options.artwork_size,
                };
                let results = self.fetch_cover(&request, &tracks, &ask).await?;
                results.iter().for_each(|r| self.announce(r));
                report.results.extend(results);
            }
            done += tracks.len() as u64;
            progress(Progress {
                kind: Kind::Artwork,
                done,
                total,
            });
        }
        Ok(self.finish(report))
    }

    /// Asks `sources` in turn for one release's cover until one has it, and stores it for
    /// `tracks`.
    async fn fetch_cover(
        &self,
        request: &ArtworkRequest,
        tracks: &[Target],
        sources: &[&super::Opened],
    ) -> Result<Vec<TrackResult>, EnrichError> {
        let ids: Vec<i64> = tracks.iter().map(|t| t.track_id).collect();
        let results = |plugin: &str, outcome: Outcome, error: Option<String>| {
            tracks
                .iter()
                .map(|t| TrackResult {
                    plugin: plugin.to_owned(),
                    outcome,
                    error: error.clone(),
                    ..TrackResult::of(Kind::Artwork, t)
                })
                .collect::<Vec<_>>()
        };
        let mut last = Vec::new();
        for opened in sources {
            let asked = request.clone();
            let answer = self
                .call(opened, move |source| source.artwork(&asked))
                .await?;
            let (outcome, detail) = match answer {
                Ok(Some(art)) => match Image::check(art.bytes) {
                    Ok(image) => {
                        if !self.options.dry_run {
                            let provenance = Provenance {
                                plugin: opened.id.clone(),
                                score: 1.0,
                                at_ms: now_ms(),
                            };
                            self.store
                                .write_artwork(ids.clone(), image, provenance)
                                .await?;
                        }
                        return Ok(results(&opened.id, Outcome::Written, None));
                    }
                    // Garbage is an answer too: recorded, not asked again until the
                    // files change.
                    Err(why) => (Outcome::NoMatch, Some(why)),
                },
                Ok(None) => (Outcome::NoMatch, None),
                Err(error) => {
                    tracing::warn!(plugin = %opened.id, release = ?request.release_id, %error, "artwork failed");
                    (Outcome::Failed, Some(error.to_string()))
                }
            };
            if !self.options.dry_run {
                for id in &ids {
                    self.store
                        .record_outcome(*id, Kind::Artwork, &opened.id, outcome, detail.clone())
                        .await?;
                }
            }
            last = results(&opened.id, outcome, detail);
        }
        Ok(last)
    }
}
