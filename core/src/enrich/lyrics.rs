//! Finding lyrics, and keeping time-synced ones only when they are LRC.

use tonearm_plugin_api::Lyrics;

use super::{
    EnrichError, EnrichReport, EnrichStore, Enricher, Kind, Outcome, Progress, Provenance,
    StoredLyrics, Target, TrackResult, checks, now_ms,
};
use crate::sources::Capabilities;

/// What of `lyrics` the library keeps for a track of `duration_ms`, and why anything was
/// dropped; `None` when nothing usable is left.
fn keep(
    lyrics: Lyrics,
    duration_ms: Option<u64>,
    plugin: &str,
) -> (Option<StoredLyrics>, Option<String>) {
    let mut why = None;
    let synced = lyrics
        .synced_lrc
        .filter(|lrc| match checks::check_lrc(lrc, duration_ms) {
            Ok(()) => true,
            Err(e) => {
                why = Some(format!("the synced lyrics are not LRC: {e}"));
                false
            }
        });
    if synced.is_none() && lyrics.plain.is_none() && !lyrics.instrumental {
        return (
            None,
            why.or_else(|| Some("the answer had no lyrics".into())),
        );
    }
    let stored = StoredLyrics {
        plain: lyrics.plain,
        synced_lrc: synced,
        instrumental: lyrics.instrumental,
        source: plugin.to_owned(),
    };
    (Some(stored), why)
}

impl<S: EnrichStore, C: Capabilities> Enricher<S, C> {
    /// Finds lyrics for `source`'s tracks (every source's if `None`) that have none;
    /// `progress` after each track.
    pub async fn lyrics(
        &self,
        source: Option<&str>,
        mut progress: impl FnMut(Progress),
    ) -> Result<EnrichReport, EnrichError> {
        let sources = self.open(Kind::Lyrics).await?;
        let targets = self.store.enrich_targets(source, Kind::Lyrics).await?;
        let total = targets.len() as u64;
        let mut report = EnrichReport::new(Kind::Lyrics, total);
        self.announce_start(Kind::Lyrics, total);
        for (i, target) in targets.iter().enumerate() {
            let ask: Vec<_> = sources
                .iter()
                .filter(|s| {
                    self.options.refresh || (!target.has_lyrics && !target.done.contains(&s.id))
                })
                .collect();
            if ask.is_empty() {
                report.skipped += 1;
            } else {
                let result = self.find_lyrics(target, &ask).await?;
                self.announce(&result);
                report.results.push(result);
            }
            progress(Progress {
                kind: Kind::Lyrics,
                done: i as u64 + 1,
                total,
            });
        }
        Ok(self.finish(report))
    }

    async fn find_lyrics(
        &self,
        target: &Target,
        sources: &[&super::Opened],
    ) -> Result<TrackResult, EnrichError> {
        let query = target.query();
        let mut result = TrackResult::of(Kind::Lyrics, target);
        for opened in sources {
            result.plugin = opened.id.clone();
            let asked = query.clone();
            let answer = self
                .call(opened, move |source| source.lyrics(&asked))
                .await?;
            let (kept, outcome, detail) = match answer {
                Ok(Some(lyrics)) => {
                    let (kept, why) = keep(lyrics, target.duration_ms, &opened.id);
                    let outcome = if kept.is_some() {
                        Outcome::Written
                    } else {
                        Outcome::NoMatch
                    };
                    (kept, outcome, why)
                }
                Ok(None) => (None, Outcome::NoMatch, None),
                Err(error) => {
                    tracing::warn!(plugin = %opened.id, path = %target.path, %error, "lyrics failed");
                    (None, Outcome::Failed, Some(error.to_string()))
                }
            };
            result.outcome = outcome;
            result.error = detail.clone();
            if self.options.dry_run {
                if kept.is_some() {
                    return Ok(result);
                }
                continue;
            }
            match kept {
                Some(lyrics) => {
                    let provenance = Provenance {
                        plugin: opened.id.clone(),
                        score: 1.0,
                        at_ms: now_ms(),
                    };
                    self.store
                        .write_lyrics(target.track_id, lyrics, provenance)
                        .await?;
                    return Ok(result);
                }
                None => {
                    self.store
                        .record_outcome(target.track_id, Kind::Lyrics, &opened.id, outcome, detail)
                        .await?;
                }
            }
        }
        Ok(result)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn synced_lyrics_that_are_not_lrc_are_dropped_and_said_why() {
        let answer = Lyrics {
            plain: Some("la la".into()),
            synced_lrc: Some("la la, no times".into()),
            instrumental: false,
        };
        let (kept, why) = keep(answer, Some(60_000), "lrclib");
        let kept = kept.unwrap();
        assert_eq!(
            (kept.plain.as_deref(), kept.synced_lrc),
            (Some("la la"), None)
        );
        assert!(why.unwrap().contains("not LRC"));
        let (nothing, why) = keep(Lyrics::default(), None, "lrclib");
        assert!(nothing.is_none() && why.is_some());
        let instrumental = Lyrics {
            instrumental: true,
            ..Lyrics::default()
        };
        assert!(keep(instrumental, None, "lrclib").0.unwrap().instrumental);
    }
}
