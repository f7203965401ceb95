//! `tonearm decode | demo`: decoding a track or a file to WAV.

use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::Arc;

use anyhow::{Context as _, Result, bail};
use tonearm_conformance::fixtures::FixtureSet;
use tonearm_host::capabilities::FileByteSource;
use tonearm_host::playback::{self, DecodeSummary, Stream};

use super::{Context, library, sources};

/// Opens what `track` names: a file, a track id, or search text.
async fn open(ctx: &Context, track: &str, decoder: Option<&str>) -> Result<Stream> {
    let tonearm = ctx.tonearm().await?;
    let path = Path::new(track);
    if path.is_file() {
        let bytes = FileByteSource::open(path)
            .with_context(|| format!("cannot open {}", path.display()))?;
        return Ok(tonearm
            .open_bytes(Arc::new(bytes), &path.display().to_string(), decoder)
            .await?);
    }
    let id = match track.parse::<i64>() {
        Ok(id) => id,
        Err(_) => {
            let matches = tonearm.search(track, 5).await?;
            let Some(best) = matches.first() else {
                bail!(
                    "{track:?} is neither a file, a track id, nor text matching a track in the library"
                );
            };
            if matches.len() > 1 {
                eprintln!(
                    "{} tracks match {track:?}; decoding the best match, id {}",
                    matches.len(),
                    best.id
                );
            }
            best.id
        }
    };
    Ok(tonearm.open_track(id, decoder).await?)
}

pub async fn decode(
    ctx: &Context,
    track: &str,
    output: &Path,
    decoder: Option<&str>,
) -> Result<ExitCode> {
    let summary = decode_one(ctx, track, output, decoder).await?;
    print_decode(&summary, output);
    Ok(ExitCode::SUCCESS)
}

async fn decode_one(
    ctx: &Context,
    track: &str,
    output: &Path,
    decoder: Option<&str>,
) -> Result<DecodeSummary> {
    let stream = open(ctx, track, decoder).await?;
    let bus = ctx.bus().clone();
    let output = output.to_owned();
    // Decoding and remote reads block: off the async threads.
    let summary =
        tokio::task::spawn_blocking(move || playback::decode_to_wav(stream, &output, &bus))
            .await??;
    Ok(summary)
}

fn print_decode(s: &DecodeSummary, output: &Path) {
    println!(
        "decoded {} frames ({:.2} s, {} Hz × {} ch, {}) with `{}` to {} — {:.0}× realtime",
        s.frames,
        s.frames as f64 / f64::from(s.spec.sample_rate),
        s.spec.sample_rate,
        s.spec.channels,
        s.spec.codec,
        s.decoder,
        output.display(),
        s.realtime_factor()
    );
}

pub async fn demo(ctx: &Context, keep: Option<PathBuf>) -> Result<ExitCode> {
    let temp;
    let keep_dir = keep.is_some();
    let dir = match keep {
        Some(dir) => {
            std::fs::create_dir_all(&dir)
                .with_context(|| format!("cannot create {}", dir.display()))?;
            dir
        }
        None => {
            temp = tempfile::tempdir().context("cannot create a temporary folder")?;
            temp.path().to_owned()
        }
    };
    let samples = dir.join("samples");
    std::fs::create_dir_all(&samples)?;
    let fixtures = FixtureSet::bundled();
    for fixture in &fixtures.audio {
        std::fs::write(samples.join(&fixture.file), &fixture.bytes)?;
    }
    println!(
        "== {} bundled samples written to {}",
        fixtures.audio.len(),
        samples.display()
    );
    let demo_ctx = Context {
        registry: ctx.registry.clone(),
        library_path: Some(
            ctx.library_path
                .clone()
                .unwrap_or_else(|| dir.join("library.db")),
        ),
        files: ctx.files.clone(),
        plugins: ctx.plugins.clone(),
        index: ctx.index.clone(),
        inactive: ctx.inactive.clone(),
        config: ctx.config.clone(),
        network: std::sync::OnceLock::new(),
    };
    println!("== tonearm scan {}", samples.display());
    sources::scan(&demo_ctx, &samples, Some("samples".into()), false).await?;
    println!("\n== tonearm library list");
    library::list(&demo_ctx, 20, 0, false).await?;
    println!("\n== tonearm library search \"zoe\"   (accents ignored)");
    library::search(&demo_ctx, "zoe", 10, false).await?;
    println!("\n== tonearm library stats");
    library::stats(&demo_ctx, false).await?;
    let first = demo_ctx.tonearm().await?.tracks(1, 0).await?;
    let Some(track) = first.first() else {
        bail!("the demo library is empty: the scan found no tracks")
    };
    let wav = dir.join("decoded.wav");
    println!("\n== tonearm decode {} -o {}", track.id, wav.display());
    let summary = decode_one(&demo_ctx, &track.id.to_string(), &wav, None).await?;
    print_decode(&summary, &wav);
    if keep_dir {
        println!(
            "\nThe samples, library.db and decoded.wav are in {}",
            dir.display()
        );
    }
    println!("\nNext: `tonearm scan ~/Music`, then `tonearm library search WORDS`.");
    Ok(ExitCode::SUCCESS)
}
