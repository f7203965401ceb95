//! Identifying tracks and writing their tags.

use super::{
    EnrichError, EnrichReport, EnrichStore, Enricher, Kind, Opened, Outcome, Progress, Provenance,
    Target, TrackResult, diff, matching, now_ms,
};
use crate::sources::Capabilities;

impl<S: EnrichStore, C: Capabilities> Enricher<S, C> {
    /// Enriches the tags of `source`'s tracks (every source's if `None`), calling
    /// `progress` after each track.
    pub async fn tags(
        &self,
        source: Option<&str>,
        mut progress: impl FnMut(Progress),
    ) -> Result<EnrichReport, EnrichError> {
        let sources = self.open(Kind::Tags).await?;
        let targets = self.store.enrich_targets(source, Kind::Tags).await?;
        let total = targets.len() as u64;
        let mut report = EnrichReport::new(Kind::Tags, total);
        self.announce_start(Kind::Tags, total);
        for (i, target) in targets.into_iter().enumerate() {
            let ask: Vec<&Opened> = sources
                .iter()
                .filter(|s| self.options.refresh || !target.done.contains(&s.id))
                .collect();
            if ask.is_empty() {
                report.skipped += 1;
            } else {
                let result = self.identify(&target, &ask).await?;
                self.announce(&result);
                report.results.push(result);
            }
            progress(Progress {
                kind: Kind::Tags,
                done: i as u64 + 1,
                total,
            });
        }
        Ok(self.finish(report))
    }

    /// Asks `sources` in turn about one track until one matches, and writes the match.
    async fn identify(
        &self,
        target: &Target,
        sources: &[&Opened],
    ) -> Result<TrackResult, EnrichError> {
        let query = target.query();
        let mut result = TrackResult::of(Kind::Tags, target);
        for opened in sources {
            result.plugin = opened.id.clone();
            let asked = query.clone();
            let answer = self
                .call(opened, move |source| source.identify(&asked))
                .await?;
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
                        at_ms: now_ms(),
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
