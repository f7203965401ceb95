//! What each command does.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::Arc;

use anyhow::{Context as _, Result, bail};
use tonearm_conformance::fixtures::FixtureSet;
use tonearm_host::capabilities::{FileByteSource, ProviderByteSource};
use tonearm_host::library::{Source, TrackRow};
use tonearm_host::playback::{self, DecodeSummary};
use tonearm_host::sync::{HostCapabilities, RetryPolicy, RetryingProvider, SyncOptions, Syncer};
use tonearm_host::{Library, conformance};
use tonearm_loader::PluginFiles;
use tonearm_loader::wasm::WasmLimits;
use tonearm_plugin_api::{ByteSource, ProbeHint};

use super::output::{self, table};
use super::{Context, SignInArgs, signin};

const LOCAL: &str = "local";

fn syncer(ctx: &Context, library: &Library, full: bool) -> Result<Syncer> {
    // Local sources sync without a network stack; a provider that needs one says so.
    let capabilities = match ctx.network() {
        Ok(network) => HostCapabilities::with_network(network),
        Err(e) => {
            tracing::debug!(error = %e, "no network stack");
            HostCapabilities::offline()
        }
    };
    Ok(Syncer::new(
        library.clone(),
        ctx.registry.clone(),
        capabilities,
        SyncOptions {
            full,
            ..SyncOptions::default()
        },
    ))
}

/// Adds a source (signing in first if its provider needs it) and returns it.
pub async fn source_add(
    ctx: &Context,
    provider: &str,
    location: Option<&Path>,
    name: Option<String>,
    settings: &[String],
    sign_in: &SignInArgs,
) -> Result<Source> {
    let library = ctx.library().await?;
    let manifest = ctx.registry.info(provider)?.manifest;
    if manifest.capabilities.filesystem {
        let location = location.with_context(|| {
            format!("provider `{provider}` needs a folder: tonearm source add {provider} DIR")
        })?;
        return add_source(ctx, &library, provider, location, name).await;
    }
    if let Some(location) = location {
        bail!(
            "provider `{provider}` takes no folder ({}); pick what to sync with --set, e.g. --set folder=ID",
            location.display()
        );
    }
    let mut map = BTreeMap::new();
    for setting in settings {
        let (key, value) = setting
            .split_once('=')
            .with_context(|| format!("--set {setting}: expected KEY=VALUE"))?;
        map.insert(key.trim().to_owned(), value.trim().to_owned());
    }
    let name = name.unwrap_or_else(|| provider.to_owned());
    if library.source(&name).await.is_ok() {
        bail!("a source named `{name}` exists already; pick another with --name");
    }
    if manifest.capabilities.oauth.is_some() {
        let client = signin::client(ctx, &manifest.id, sign_in, None)?;
        signin::run(ctx, &name, &manifest, &map, client, sign_in).await?;
    }
    let source = library.add_source(&name, provider, &map).await?;
    println!(
        "added source `{}` ({provider}); sync it with `tonearm sync {}`",
        source.name, source.name
    );
    Ok(source)
}

/// Signs an existing source in again.
pub async fn source_signin(ctx: &Context, name: &str, sign_in: &SignInArgs) -> Result<ExitCode> {
    let library = ctx.library().await?;
    let source = library.source(name).await?;
    let manifest = ctx.registry.info(&source.provider)?.manifest;
    if manifest.capabilities.oauth.is_none() {
        bail!("source `{name}` ({}) needs no sign-in", source.provider);
    }
    let previous = ctx.network()?.tokens.get(name)?;
    let client = signin::client(ctx, &manifest.id, sign_in, previous.as_ref())?;
    signin::run(ctx, name, &manifest, &source.settings, client, sign_in).await?;
    println!("signed in; sync it with `tonearm sync {name}`");
    Ok(ExitCode::SUCCESS)
}

async fn add_source(
    ctx: &Context,
    library: &Library,
    provider: &str,
    location: &Path,
    name: Option<String>,
) -> Result<Source> {
    let manifest = ctx.registry.info(provider)?.manifest;
    let mut settings = BTreeMap::new();
    if manifest.capabilities.filesystem {
        let root = location.canonicalize().with_context(|| {
            format!("{} is not a folder that can be opened", location.display())
        })?;
        if !root.is_dir() {
            bail!("{} is not a folder", root.display());
        }
        settings.insert("root".to_owned(), root.to_string_lossy().into_owned());
    } else {
        bail!(
            "provider `{provider}` is not folder-based; only `local` sources can be added this way for now"
        );
    }
    let name = match name {
        Some(name) => name,
        None => unique_name(library, location).await?,
    };
    let source = library.add_source(&name, provider, &settings).await?;
    println!(
        "added source `{}` ({provider}: {})",
        source.name,
        location.display()
    );
    Ok(source)
}

/// A source name from the folder's name, made unique.
async fn unique_name(library: &Library, location: &Path) -> Result<String> {
    let base = location
        .canonicalize()
        .ok()
        .and_then(|p| p.file_name().map(|n| n.to_string_lossy().into_owned()))
        .filter(|n| !n.is_empty())
        .unwrap_or_else(|| "music".to_owned());
    let taken: Vec<String> = library
        .sources()
        .await?
        .into_iter()
        .map(|s| s.name)
        .collect();
    let mut name = base.clone();
    let mut n = 2;
    while taken.contains(&name) {
        name = format!("{base}-{n}");
        n += 1;
    }
    Ok(name)
}

pub async fn scan(ctx: &Context, dir: &Path, name: Option<String>, full: bool) -> Result<ExitCode> {
    let library = ctx.library().await?;
    let root = dir
        .canonicalize()
        .with_context(|| format!("cannot open {}", dir.display()))?;
    let existing = library.sources().await?.into_iter().find(|s| {
        s.provider == LOCAL
            && s.settings.get("root").map(PathBuf::from).as_deref() == Some(root.as_path())
    });
    let source = match existing {
        Some(source) => source,
        None => add_source(ctx, &library, LOCAL, &root, name).await?,
    };
    sync_sources(ctx, &library, Some(source.name), full).await
}

pub async fn sync(ctx: &Context, source: Option<String>, full: bool) -> Result<ExitCode> {
    let library = ctx.library().await?;
    if library.sources().await?.is_empty() {
        bail!("the library has no sources yet; add one with `tonearm scan DIR`");
    }
    sync_sources(ctx, &library, source, full).await
}

async fn sync_sources(
    ctx: &Context,
    library: &Library,
    source: Option<String>,
    full: bool,
) -> Result<ExitCode> {
    let syncer = syncer(ctx, library, full)?;
    let progress = output::sync_progress(ctx.bus());
    let results = match source {
        Some(name) => vec![(name.clone(), syncer.sync_source(&name).await)],
        None => syncer.sync_all().await?,
    };
    progress.finish();
    let mut code = ExitCode::SUCCESS;
    for (name, result) in results {
        match result {
            Ok(counts) => println!("{name}: {}", output::counts(&counts)),
            Err(e) => {
                eprintln!(
                    "{name}: sync failed: {e}\n  what was committed is kept; run `tonearm sync {name}` to resume"
                );
                code = ExitCode::FAILURE;
            }
        }
    }
    let stats = library.stats().await?;
    println!(
        "library: {} tracks, {} albums, {} artists",
        stats.tracks, stats.albums, stats.artists
    );
    if stats.failed_files > 0 {
        println!(
            "{} files could not be read; see `tonearm library failed`",
            stats.failed_files
        );
    }
    Ok(code)
}

pub async fn source_list(ctx: &Context, json: bool) -> Result<ExitCode> {
    let sources = ctx.library().await?.sources().await?;
    if json {
        output::json(&sources)?;
    } else {
        let rows: Vec<Vec<String>> = sources
            .iter()
            .map(|s| {
                let state = match (&s.last_error, &s.cursor, &s.pending_cursor) {
                    (Some(e), _, _) => format!("failed: {e}"),
                    (None, _, Some(_)) => "interrupted; resumes on next sync".into(),
                    (None, Some(_), None) => "synced".into(),
                    (None, None, None) => "never synced".into(),
                };
                vec![
                    s.name.clone(),
                    s.provider.clone(),
                    ["root", "folder", "drive"]
                        .iter()
                        .find_map(|k| s.settings.get(*k).cloned())
                        .unwrap_or_default(),
                    state,
                ]
            })
            .collect();
        table(&["NAME", "PROVIDER", "LOCATION", "STATE"], &rows, 60);
    }
    Ok(ExitCode::SUCCESS)
}

pub async fn source_remove(ctx: &Context, name: &str) -> Result<ExitCode> {
    ctx.library().await?.remove_source(name).await?;
    if ctx.network()?.tokens.remove(name)? {
        println!("forgot the sign-in of `{name}`");
    }
    println!("removed source `{name}` and its tracks");
    Ok(ExitCode::SUCCESS)
}

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

pub async fn list(ctx: &Context, limit: i64, offset: i64, json: bool) -> Result<ExitCode> {
    let tracks = ctx.library().await?.tracks(limit, offset).await?;
    print_tracks(&tracks, json)?;
    Ok(ExitCode::SUCCESS)
}

pub async fn search(ctx: &Context, query: &str, limit: i64, json: bool) -> Result<ExitCode> {
    let tracks = ctx.library().await?.search(query, limit).await?;
    if tracks.is_empty() && !json {
        println!("no track matches {query:?}");
        return Ok(ExitCode::SUCCESS);
    }
    print_tracks(&tracks, json)?;
    Ok(ExitCode::SUCCESS)
}

pub async fn stats(ctx: &Context, json: bool) -> Result<ExitCode> {
    let s = ctx.library().await?.stats().await?;
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
    let failed = ctx.library().await?.failed_files(10_000).await?;
    if json {
        let rows: Vec<_> = failed
            .iter()
            .map(|f| serde_json::json!({"source": f.source, "path": f.path, "error": f.reason}))
            .collect();
        output::json(&rows)?;
    } else if failed.is_empty() {
        println!("every file was read");
    } else {
        let rows: Vec<Vec<String>> = failed
            .into_iter()
            .map(|f| vec![f.source, f.path, f.reason])
            .collect();
        table(&["SOURCE", "PATH", "WHY"], &rows, 70);
    }
    Ok(ExitCode::SUCCESS)
}

fn hint_for(path: &str) -> ProbeHint {
    let ext = path
        .rsplit('/')
        .next()
        .and_then(|n| n.rsplit_once('.'))
        .map(|(_, e)| e.to_ascii_lowercase());
    ProbeHint {
        extension: ext,
        mime: None,
    }
}

/// Opens what `track` names: a file, a track id, or search text.
async fn open_input(
    ctx: &Context,
    track: &str,
) -> Result<(Arc<dyn ByteSource>, ProbeHint, String)> {
    let path = Path::new(track);
    if path.is_file() {
        let source = FileByteSource::open(path)
            .with_context(|| format!("cannot open {}", path.display()))?;
        return Ok((
            Arc::new(source),
            hint_for(track),
            path.display().to_string(),
        ));
    }
    let library = ctx.library().await?;
    let id = match track.parse::<i64>() {
        Ok(id) => id,
        Err(_) => {
            let matches = library.search(track, 5).await?;
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
    let location = library.track_location(id).await?;
    let open = syncer(ctx, &library, false)?.open(&location.source).await?;
    // Playback reads block their thread; waiting out a temporary failure there is fine.
    let provider = Arc::new(RetryingProvider::new(open.provider, RetryPolicy::default()));
    let what = format!("track {id} ({}: {})", location.source.name, location.path);
    // Large blocks: playback reads straight through.
    let source =
        ProviderByteSource::new(provider, &location.remote_id, location.size, 256 * 1024, 16);
    Ok((Arc::new(source), hint_for(&location.path), what))
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
    let (source, hint, what) = open_input(ctx, track).await?;
    let registry = ctx.registry.clone();
    let output = output.to_owned();
    let decoder = decoder.map(str::to_owned);
    let summary = tokio::task::spawn_blocking(move || {
        let stream = playback::open(&registry, source, &hint, &what, decoder.as_deref())?;
        playback::decode_to_wav(stream, &output, registry.bus())
    })
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

pub fn plugins_list(ctx: &Context, json: bool) -> Result<ExitCode> {
    let plugins = ctx.registry.list();
    if json {
        output::json(&plugins)?;
        return Ok(ExitCode::SUCCESS);
    }
    print_plugins(&plugins);
    Ok(ExitCode::SUCCESS)
}

fn print_plugins(plugins: &[tonearm_host::registry::PluginInfo]) {
    let rows: Vec<Vec<String>> = plugins
        .iter()
        .map(|p| {
            let state = p
                .failure
                .as_ref()
                .map_or_else(|| "ok".into(), |f| format!("failed: {f}"));
            let m = &p.manifest;
            vec![
                m.id.clone(),
                m.kind.to_string(),
                m.version.to_string(),
                m.api_version.to_string(),
                p.origin.to_string(),
                state,
            ]
        })
        .collect();
    table(
        &["ID", "KIND", "VERSION", "API", "LOADED", "STATE"],
        &rows,
        60,
    );
}

pub fn plugins_load(ctx: &Context, path: &Path, install: bool) -> Result<ExitCode> {
    let loaded = match ctx.files.load(&ctx.registry, path) {
        Ok(loaded) => loaded,
        Err(tonearm_loader::LoadError::Registry(
            tonearm_host::registry::RegistryError::Duplicate(id),
        )) => {
            let origin = ctx
                .registry
                .info(&id)
                .map(|i| i.origin.to_string())
                .unwrap_or_default();
            bail!(
                "{}: it holds plugin `{id}`, which is already loaded ({origin})",
                path.display()
            );
        }
        Err(e) => return Err(e.into()),
    };
    println!("{} holds {} plugin(s):", path.display(), loaded.len());
    print_plugins(&loaded);
    if install {
        let dir = ctx
            .plugin_dir
            .as_ref()
            .context("no plugin folder is configured (see plugin_dirs in the config)")?;
        std::fs::create_dir_all(dir).with_context(|| format!("cannot create {}", dir.display()))?;
        let name = path
            .file_name()
            .context("the library path has no file name")?;
        let target = dir.join(name);
        // Copy then rename, so a half-copied library is never loaded.
        let partial = dir.join(format!(".{}.partial", name.to_string_lossy()));
        std::fs::copy(path, &partial)
            .with_context(|| format!("cannot copy into {}", dir.display()))?;
        std::fs::rename(&partial, &target)?;
        println!("installed to {}; it loads at every start", target.display());
    }
    Ok(ExitCode::SUCCESS)
}

pub fn plugins_inspect(ctx: &Context, id: &str) -> Result<ExitCode> {
    output::json(&ctx.registry.info(id)?)?;
    Ok(ExitCode::SUCCESS)
}

pub fn conformance(ctx: &Context, id: &str, fixtures: Option<&Path>) -> Result<ExitCode> {
    let report = conformance::run(&ctx.registry, id, fixtures)?;
    println!("{report}");
    Ok(if report.is_success() {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    })
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
        plugin_dir: ctx.plugin_dir.clone(),
        files: PluginFiles::new(WasmLimits::default()),
        config: ctx.config.clone(),
        network: std::sync::OnceLock::new(),
    };
    println!("== tonearm scan {}", samples.display());
    scan(&demo_ctx, &samples, Some("samples".into()), false).await?;
    println!("\n== tonearm library list");
    list(&demo_ctx, 20, 0, false).await?;
    println!("\n== tonearm library search \"zoe\"   (accents ignored)");
    search(&demo_ctx, "zoe", 10, false).await?;
    println!("\n== tonearm library stats");
    stats(&demo_ctx, false).await?;
    let first = demo_ctx.library().await?.tracks(1, 0).await?;
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
