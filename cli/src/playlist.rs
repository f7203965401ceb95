//! `tonearm playlist …`: named, ordered lists of library tracks. Positions are counted
//! from 1, as `show` prints them.

use std::process::ExitCode;

use anyhow::{Result, bail};
use clap::Subcommand;
use tonearm_host::Tonearm;

use super::Context;
use super::output::{self, table};

/// Playlist commands.
#[derive(Debug, Subcommand)]
pub enum PlaylistCommand {
    /// Create an empty playlist.
    Create {
        /// Its name.
        name: String,
    },
    /// Append tracks: ids, or search text (every match is added).
    Add {
        /// The playlist.
        name: String,
        /// Track ids or search text.
        #[arg(required = true)]
        tracks: Vec<String>,
    },
    /// List the playlists.
    List {
        /// Print JSON instead of a table.
        #[arg(long)]
        json: bool,
    },
    /// Show a playlist's tracks.
    Show {
        /// The playlist.
        name: String,
        /// Print JSON instead of a table.
        #[arg(long)]
        json: bool,
    },
    /// Remove the entry at a position.
    Remove {
        /// The playlist.
        name: String,
        /// The position, from 1.
        position: u32,
    },
    /// Move the entry at one position to another.
    Move {
        /// The playlist.
        name: String,
        /// Where the entry is, from 1.
        from: u32,
        /// Where it goes, from 1.
        to: u32,
    },
    /// Rename a playlist.
    Rename {
        /// The playlist.
        name: String,
        /// Its new name.
        new_name: String,
    },
    /// Delete a playlist (its tracks stay in the library).
    Delete {
        /// The playlist.
        name: String,
    },
}

pub async fn run(ctx: &Context, command: PlaylistCommand) -> Result<ExitCode> {
    let tonearm = ctx.tonearm().await?;
    match command {
        PlaylistCommand::Create { name } => {
            let playlist = tonearm.create_playlist(&name).await?;
            println!("created playlist {:?} (id {})", playlist.name, playlist.id);
        }
        PlaylistCommand::Add { name, tracks } => {
            let playlist = tonearm.playlist(&name).await?;
            let ids = resolve(&tonearm, &tracks).await?;
            tonearm.add_to_playlist(playlist.id, &ids).await?;
            println!(
                "added {} track{} to {name:?} ({} in all)",
                ids.len(),
                if ids.len() == 1 { "" } else { "s" },
                playlist.tracks as usize + ids.len()
            );
        }
        PlaylistCommand::List { json } => {
            let playlists = tonearm.playlists().await?;
            if json {
                output::json(&playlists)?;
            } else if playlists.is_empty() {
                println!("no playlists; make one with `tonearm playlist create NAME`");
            } else {
                let rows: Vec<Vec<String>> = playlists
                    .iter()
                    .map(|p| vec![p.name.clone(), p.tracks.to_string()])
                    .collect();
                table(&["NAME", "TRACKS"], &rows, 48);
            }
        }
        PlaylistCommand::Show { name, json } => {
            let playlist = tonearm.playlist(&name).await?;
            let tracks = tonearm.playlist_tracks(playlist.id).await?;
            if json {
                output::json(&tracks)?;
            } else {
                let rows: Vec<Vec<String>> = tracks
                    .iter()
                    .enumerate()
                    .map(|(i, t)| {
                        vec![
                            (i + 1).to_string(),
                            t.id.to_string(),
                            t.artists.clone(),
                            t.title.clone().unwrap_or_else(|| t.path.clone()),
                            output::duration(t.duration_ms),
                        ]
                    })
                    .collect();
                table(&["#", "ID", "ARTIST", "TITLE", "TIME"], &rows, 40);
            }
        }
        PlaylistCommand::Remove { name, position } => {
            let playlist = tonearm.playlist(&name).await?;
            tonearm
                .remove_from_playlist(playlist.id, from_one(position)?)
                .await?;
            println!("removed entry {position} of {name:?}");
        }
        PlaylistCommand::Move { name, from, to } => {
            let playlist = tonearm.playlist(&name).await?;
            tonearm
                .move_in_playlist(playlist.id, from_one(from)?, from_one(to)?)
                .await?;
            println!("moved entry {from} of {name:?} to {to}");
        }
        PlaylistCommand::Rename { name, new_name } => {
            let playlist = tonearm.playlist(&name).await?;
            tonearm.rename_playlist(playlist.id, &new_name).await?;
            println!("renamed {name:?} to {new_name:?}");
        }
        PlaylistCommand::Delete { name } => {
            let playlist = tonearm.playlist(&name).await?;
            tonearm.delete_playlist(playlist.id).await?;
            println!("deleted {name:?}");
        }
    }
    Ok(ExitCode::SUCCESS)
}

fn from_one(position: u32) -> Result<u32> {
    match position.checked_sub(1) {
        Some(index) => Ok(index),
        None => bail!("positions count from 1"),
    }
}

/// Track ids as given, and every track matching the rest as search text.
pub async fn resolve(tonearm: &Tonearm, words: &[String]) -> Result<Vec<i64>> {
    let mut ids = Vec::new();
    let mut text = Vec::new();
    for word in words {
        match word.parse::<i64>() {
            Ok(id) => {
                tonearm.track(id).await?;
                ids.push(id);
            }
            Err(_) => text.push(word.as_str()),
        }
    }
    if !text.is_empty() {
        let query = text.join(" ");
        let found = tonearm.search(&query, 10_000).await?;
        if found.is_empty() {
            bail!("no track matches {query:?}");
        }
        ids.extend(found.iter().map(|t| t.id));
    }
    Ok(ids)
}
