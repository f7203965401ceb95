//! Which tracks a command is about: ids, search text, an album or a playlist.

use anyhow::{Context as _, Result, bail};
use clap::Args;
use tonearm_host::Tonearm;
use tonearm_store_sqlite::TrackRow;

/// Tracks, as the user names them.
#[derive(Debug, Args)]
pub struct Selection {
    /// Track ids, or search text: every matching track.
    pub query: Vec<String>,
    /// The album whose title matches this, in disc and track order.
    #[arg(long, value_name = "TITLE", conflicts_with = "playlist")]
    pub album: Option<String>,
    /// This playlist, in its order.
    #[arg(long, value_name = "NAME")]
    pub playlist: Option<String>,
}

impl Selection {
    /// The tracks named, in order.
    pub async fn tracks(&self, tonearm: &Tonearm) -> Result<Vec<TrackRow>> {
        let args = self;
        if let Some(album) = &args.album {
            let wanted = album.to_lowercase();
            let mut rows: Vec<TrackRow> = tonearm
                .search(album, 10_000)
                .await?
                .into_iter()
                .filter(|t| {
                    t.album
                        .as_deref()
                        .is_some_and(|a| a.to_lowercase().contains(&wanted))
                })
                .collect();
            if rows.is_empty() {
                bail!("no album matches {album:?}");
            }
            rows.sort_by(|a, b| {
                (&a.album, a.disc_number, a.track_number, &a.path).cmp(&(
                    &b.album,
                    b.disc_number,
                    b.track_number,
                    &b.path,
                ))
            });
            return Ok(rows);
        }
        if let Some(name) = &args.playlist {
            let playlist = tonearm.playlist(name).await?;
            let rows = tonearm.playlist_tracks(playlist.id).await?;
            if rows.is_empty() {
                bail!("playlist {name:?} is empty");
            }
            return Ok(rows);
        }
        if args.query.is_empty() {
            bail!("say which tracks: ids, search text, --album or --playlist");
        }
        let mut rows = Vec::new();
        let mut text = Vec::new();
        for word in &args.query {
            match word.parse::<i64>() {
                Ok(id) => rows.push(
                    tonearm
                        .track(id)
                        .await
                        .with_context(|| format!("no track {id}"))?,
                ),
                Err(_) => text.push(word.as_str()),
            }
        }
        if !text.is_empty() {
            let query = text.join(" ");
            let found = tonearm.search(&query, 10_000).await?;
            if found.is_empty() && rows.is_empty() {
                bail!("no track matches {query:?}");
            }
            rows.extend(found);
        }
        Ok(rows)
    }
}
