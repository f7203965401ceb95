//! `tonearm cache …`: offline copies of cloud tracks.

use std::process::ExitCode;

use anyhow::Result;
use clap::Subcommand;
use tonearm_host::cache::Pinned;

use super::Context;
use super::output;
use super::select::Selection;

/// Cache commands.
#[derive(Debug, Subcommand)]
pub enum CacheCommand {
    /// What the cache holds.
    Status {
        /// Print JSON.
        #[arg(long)]
        json: bool,
    },
    /// Download tracks now and keep them whatever the size limit.
    Pin(Selection),
    /// Let tracks go when the cache needs room.
    Unpin(Selection),
    /// Remove the copies (not pinned ones, unless asked).
    Clear {
        /// Pinned tracks too.
        #[arg(long)]
        pinned: bool,
    },
}

pub async fn run(ctx: &Context, command: CacheCommand) -> Result<ExitCode> {
    let tonearm = ctx.tonearm().await?;
    match command {
        CacheCommand::Status { json } => {
            let status = tonearm.cache_status()?;
            if json {
                output::json(&status)?;
            } else {
                println!(
                    "{} tracks, {} of a {} limit; {} pinned ({})",
                    status.tracks,
                    output::bytes(status.bytes),
                    output::bytes(status.limit),
                    status.pinned,
                    output::bytes(status.pinned_bytes)
                );
            }
        }
        CacheCommand::Pin(selection) => {
            let tracks = selection.tracks(&tonearm).await?;
            let (mut pinned, mut local, mut failed) = (0, 0, 0);
            for track in &tracks {
                let title = track.title.clone().unwrap_or_else(|| track.path.clone());
                match tonearm.pin(track.id).await {
                    Ok(Pinned::Pinned) => {
                        pinned += 1;
                        println!("pinned {title}");
                    }
                    Ok(Pinned::Local) => local += 1,
                    Err(e) => {
                        failed += 1;
                        eprintln!("cannot pin {title}: {e}");
                    }
                }
            }
            println!("{pinned} pinned, {local} on this machine already, {failed} failed");
            if failed > 0 {
                return Ok(ExitCode::FAILURE);
            }
        }
        CacheCommand::Unpin(selection) => {
            let tracks = selection.tracks(&tonearm).await?;
            let mut unpinned = 0;
            for track in &tracks {
                if tonearm.unpin(track.id)? {
                    unpinned += 1;
                }
            }
            println!("{unpinned} unpinned");
        }
        CacheCommand::Clear { pinned } => {
            let gone = tonearm.clear_cache(pinned)?;
            println!("removed {gone} cached tracks");
        }
    }
    Ok(ExitCode::SUCCESS)
}
