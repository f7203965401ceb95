//! `tonearm playlist …`: named, ordered lists of library tracks. Positions are counted
//! from 1, as `show` prints them.

use std::process::ExitCode;

use anyhow::{Result, bail};
use clap::Subcommand;

use super::Context;
use super::output::{self, table};
use super::select::Selection;

/// Playlist commands.
#[derive(Debug, Subcommand)]
pub enum PlaylistCommand {
    /// Create an empty playlist.
    Create {
        /// Its name.
        name: String,
    },
    /// Append tracks: ids, search text (every match), an album or another playlist.
    Add {
        /// The playlist.
        name: String,
        /// The tracks.
        #[command(flatten)]
        tracks: Selection,
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
            let ids: Vec<i64> = tracks
                .tracks(&tonearm)
                .await?
                .iter()
                .map(|t| t.id)
                .collect();
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
