//! `tonearm library …`: browsing what the sources hold.

use std::process::ExitCode;

use anyhow::Result;
use tonearm_store_sqlite::TrackRow;

use super::Context;
use super::output::{self, table};

fn track_rows(tracks: &[TrackRow]) -> Vec<Vec<String>> {
    tracks
        .iter()
        .map(|t| {
            let number = match (t.disc_number, t.track_number) {
                (Some(d), Some(n)) => format!("{d}-{n:02}"),
                (None, Some(n)) => format!("{n:02}"),
                _ => String::new(),
            };
            vec![
                t.id.to_string(),
                t.artists.clone(),
                t.album.clone().unwrap_or_default(),
                number,
                t.title.clone().unwrap_or_default(),
                output::duration(t.duration_ms),
                t.file_type.clone().unwrap_or_default(),
            ]
        })
        .collect()
}

fn print_tracks(tracks: &[TrackRow], json: bool) -> Result<()> {
    if json {
        return output::json(&tracks);
    }
    table(
        &["ID", "ARTIST", "ALBUM", "#", "TITLE", "TIME", "TYPE"],
        &track_rows(tracks),
        32,
    );
    Ok(())
}

pub async fn list(ctx: &Context, limit: u32, offset: u32, json: bool) -> Result<ExitCode> {
    let tracks = ctx.tonearm().await?.tracks(limit, offset).await?;
    print_tracks(&tracks, json)?;
    Ok(ExitCode::SUCCESS)
}

pub async fn search(ctx: &Context, query: &str, limit: u32, json: bool) -> Result<ExitCode> {
    let tracks = ctx.tonearm().await?.search(query, limit).await?;
    if tracks.is_empty() && !json {
        println!("no track matches {query:?}");
        return Ok(ExitCode::SUCCESS);
    }
    print_tracks(&tracks, json)?;
    Ok(ExitCode::SUCCESS)
}

pub async fn stats(ctx: &Context, json: bool) -> Result<ExitCode> {
    let s = ctx.tonearm().await?.stats().await?;
    if json {
        output::json(&s)?;
    } else {
        let rows = vec![
            vec!["sources".into(), s.sources.to_string()],
            vec!["tracks".into(), s.tracks.to_string()],
            vec!["albums".into(), s.albums.to_string()],
            vec!["artists".into(), s.artists.to_string()],
            vec!["genres".into(), s.genres.to_string()],
            vec!["cover images".into(), s.artwork.to_string()],
            vec!["unreadable files".into(), s.failed_files.to_string()],
            vec![
                "total time".into(),
                output::duration(Some(s.total_duration_ms)),
            ],
            vec![
                "total size".into(),
                output::bytes(u64::try_from(s.total_bytes).unwrap_or(0)),
            ],
        ];
        table(&["", "COUNT"], &rows, 40);
    }
    Ok(ExitCode::SUCCESS)
}

pub async fn failed(ctx: &Context, json: bool) -> Result<ExitCode> {
    let failed = ctx.tonearm().await?.failed_files(10_000).await?;
    if json {
        let rows: Vec<_> = failed
            .iter()
            .map(|f| {
                serde_json::json!({
                    "source": f.source, "path": f.path, "error": f.reason, "playable": f.playable,
                    "temporary": f.retry.is_some(),
                    "retry_at_ms": f.retry.map(|r| r.at_ms),
                })
            })
            .collect();
        output::json(&rows)?;
    } else if failed.is_empty() {
        println!("every file was read");
    } else {
        let rows: Vec<Vec<String>> = failed
            .into_iter()
            .map(|f| {
                let kept = match (f.playable, f.retry) {
                    (true, _) => "kept",
                    // The provider failed, not the file: a later sync reads it again.
                    (false, Some(_)) => "retried by a later sync",
                    (false, None) => "skipped until it changes",
                };
                vec![f.source, f.path, kept.to_owned(), f.reason]
            })
            .collect();
        table(&["SOURCE", "PATH", "TRACK", "WHY"], &rows, 70);
    }
    Ok(ExitCode::SUCCESS)
}
