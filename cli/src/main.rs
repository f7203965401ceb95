//! The `tonearm` command: scan, sync, browse and decode a music library.

mod bundled;
mod cache;
mod decode;
mod enrich;
mod library;
mod output;
mod play;
mod playlist;
mod plugin;
mod registry;
mod select;
mod signin;
mod sources;

// The binary is the crate linked last, so it chooses the builtin plugins (see
// `tonearm_plugin_api::registration` for why plugin crates never register themselves).
#[cfg(feature = "plugin-local")]
tonearm_plugin_api::register_builtin!(tonearm_plugin_local::DESCRIPTOR);
#[cfg(feature = "plugin-symphonia")]
tonearm_plugin_api::register_builtin!(tonearm_plugin_symphonia::DESCRIPTOR);
#[cfg(all(feature = "plugin-opus", feature = "bundle-opus"))]
compile_error!(
    "`plugin-opus` links the Opus decoder and `bundle-opus` embeds it as a component: choose one"
);
#[cfg(feature = "plugin-opus")]
tonearm_plugin_api::register_builtin!(tonearm_plugin_opus::DESCRIPTOR);
#[cfg(feature = "plugin-gdrive")]
tonearm_plugin_api::register_builtin!(tonearm_plugin_gdrive::DESCRIPTOR);
#[cfg(feature = "plugin-onedrive")]
tonearm_plugin_api::register_builtin!(tonearm_plugin_onedrive::DESCRIPTOR);
#[cfg(feature = "plugin-musicbrainz")]
tonearm_plugin_api::register_builtin!(tonearm_plugin_musicbrainz::DESCRIPTOR);
#[cfg(feature = "plugin-coverart")]
tonearm_plugin_api::register_builtin!(tonearm_plugin_coverart::DESCRIPTOR);
#[cfg(feature = "plugin-lrclib")]
tonearm_plugin_api::register_builtin!(tonearm_plugin_lrclib::DESCRIPTOR);

use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;

use anyhow::{Context as _, Result};
use clap::{Args, Parser, Subcommand};
use tonearm_host::config::{Config, IndexConfig};
use tonearm_host::plugins::Plugins;
use tonearm_host::{EventBus, HostCapabilities, Registry, SqliteStore, Tonearm};
use tonearm_loader::PluginFiles;

/// Tonearm: a music library core with plugins for storage, decoding and metadata.
#[derive(Debug, Parser)]
#[command(name = "tonearm", version, about, propagate_version = true)]
pub struct Cli {
    /// The library file [default: the XDG data dir's tonearm/library.db].
    #[arg(long, global = true, env = "TONEARM_LIBRARY", value_name = "PATH")]
    library: Option<PathBuf>,
    /// The config file [default: the XDG config dir's tonearm/config.json].
    #[arg(long, global = true, env = "TONEARM_CONFIG", value_name = "PATH")]
    config: Option<PathBuf>,
    /// Also load this plugin: a native library or a wasm component (repeatable).
    #[arg(long = "plugin", global = true, value_name = "PATH")]
    plugins: Vec<PathBuf>,
    /// Do not register the plugins built into this binary.
    #[arg(long, global = true)]
    no_builtins: bool,
    /// More log output (-v info, -vv debug, -vvv trace); RUST_LOG overrides.
    #[arg(short, long, global = true, action = clap::ArgAction::Count)]
    verbose: u8,
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Scan the bundled samples into a fresh library, list, search and decode one.
    Demo {
        /// Keep the samples, library and decoded WAV in this folder.
        #[arg(long, value_name = "DIR")]
        keep: Option<PathBuf>,
    },
    /// Add a folder as a source (once) and sync it.
    Scan {
        /// The folder.
        dir: PathBuf,
        /// The source's name [default: the folder's name].
        #[arg(long)]
        name: Option<String>,
        /// List everything even if nothing changed since the last sync.
        #[arg(long)]
        full: bool,
        /// Then enrich its tracks (tags, covers, lyrics); the config's `enrich_after_sync`
        /// does this always.
        #[arg(long)]
        enrich: bool,
    },
    /// Sync one source, or all of them.
    Sync {
        /// The source's name [default: every source].
        source: Option<String>,
        /// List everything instead of only the changes since the last sync.
        #[arg(long)]
        full: bool,
        /// Then enrich the synced tracks (tags, covers, lyrics).
        #[arg(long)]
        enrich: bool,
    },
    /// Manage sources.
    #[command(subcommand)]
    Source(SourceCommand),
    /// Browse the library.
    #[command(subcommand)]
    Library(LibraryCommand),
    /// Decode a track (id, search text or file path) to a WAV file.
    Decode {
        /// A track id, a file path, or search text matching one track.
        track: String,
        /// The WAV file to write.
        #[arg(short, long, value_name = "FILE")]
        output: PathBuf,
        /// Use this decoder instead of the best-scoring one.
        #[arg(long)]
        decoder: Option<String>,
    },
    /// Play tracks, an album or a playlist, with a status line and keys.
    Play(play::PlayArgs),
    /// Make and edit playlists.
    #[command(subcommand)]
    Playlist(playlist::PlaylistCommand),
    /// Offline copies of cloud tracks: status, pin, unpin, clear.
    #[command(subcommand)]
    Cache(cache::CacheCommand),
    /// Better tags, cover art and lyrics from metadata sources, written with their provenance.
    Enrich(enrich::EnrichArgs),
    /// Write a track's front cover (or its album's) to a file.
    Artwork {
        /// The track id.
        track: i64,
        /// The file to write.
        #[arg(short, long, value_name = "FILE")]
        output: PathBuf,
        /// The cover of the track's album (from any of its tracks).
        #[arg(long)]
        album: bool,
    },
    /// Print a track's lyrics.
    Lyrics {
        /// The track id.
        track: i64,
        /// The time-synced LRC instead of the plain text.
        #[arg(long)]
        synced: bool,
    },
    /// Plugins: what is loaded and why; find, install, update and remove them.
    #[command(alias = "plugins")]
    Plugin(plugin::PluginArgs),
    /// Plugin indexes: keys, a new index, publishing to it, serving it.
    #[command(subcommand)]
    Registry(registry::RegistryCommand),
    /// Run the conformance suite on a loaded plugin.
    Conformance {
        /// The plugin's id.
        id: String,
        /// A fixtures folder with a fixtures.json [default: the bundled fixtures].
        #[arg(long, value_name = "DIR")]
        fixtures: Option<PathBuf>,
        /// For a network provider: the address of its fake server, which the suite fills
        /// through the control API of docs/conformance.md.
        #[arg(long, value_name = "URL")]
        server: Option<String>,
    },
}

#[derive(Debug, Subcommand)]
enum SourceCommand {
    /// Add a source; for a cloud drive, sign in to it in a browser first.
    Add {
        /// The provider plugin's id (`local`, `gdrive`, …).
        provider: String,
        /// For `local`: the folder.
        location: Option<PathBuf>,
        /// The source's name [default: the folder's or the provider's name].
        #[arg(long)]
        name: Option<String>,
        /// A provider setting (repeatable): `folder=ID`, `drive=ID`, `endpoint.api=URL`, …
        #[arg(long = "set", value_name = "KEY=VALUE")]
        settings: Vec<String>,
        #[command(flatten)]
        sign_in: SignInArgs,
    },
    /// Sign in to a source's service again (after its grant was revoked or expired).
    Signin {
        /// The source's name.
        name: String,
        #[command(flatten)]
        sign_in: SignInArgs,
    },
    /// List sources.
    List(JsonFlag),
    /// Remove a source with its tracks.
    Remove {
        /// The source's name.
        name: String,
    },
}

#[derive(Debug, Subcommand)]
enum LibraryCommand {
    /// List tracks.
    List {
        /// Rows at most.
        #[arg(long, default_value_t = 100)]
        limit: u32,
        /// Rows to skip.
        #[arg(long, default_value_t = 0)]
        offset: u32,
        #[command(flatten)]
        json: JsonFlag,
    },
    /// Search titles, artists, albums, genres and paths.
    Search {
        /// Words to find (prefixes match; accents are ignored).
        query: String,
        /// Rows at most.
        #[arg(long, default_value_t = 50)]
        limit: u32,
        #[command(flatten)]
        json: JsonFlag,
    },
    /// Counts over the library.
    Stats(JsonFlag),
    /// Files whose tags could not be read, and why.
    Failed(JsonFlag),
    /// Set a track's fields by hand; enrichment never writes over them.
    Edit {
        /// The track id.
        track: i64,
        /// A field and its value (repeatable): `title=…`, `artists=A; B`, `year=1999`, …
        #[arg(long = "set", value_name = "FIELD=VALUE", required = true)]
        values: Vec<String>,
    },
    /// Where each written or edited field of a track came from.
    Provenance {
        /// The track id.
        track: i64,
        #[command(flatten)]
        json: JsonFlag,
    },
}

/// How to sign in.
#[derive(Debug, Args)]
pub struct SignInArgs {
    /// The OAuth client id [default: the config file's `oauth_clients.PROVIDER`].
    #[arg(long)]
    client_id: Option<String>,
    /// The OAuth client secret, if the service wants one.
    #[arg(long, env = "TONEARM_CLIENT_SECRET", hide_env_values = true)]
    client_secret: Option<String>,
    /// Print the sign-in address instead of also opening a browser.
    #[arg(long)]
    no_browser: bool,
    /// How long to wait for the sign-in to finish, in seconds.
    #[arg(long, default_value_t = 300)]
    timeout: u64,
}

#[derive(Debug, Args)]
struct JsonFlag {
    /// Print JSON instead of a table.
    #[arg(long)]
    json: bool,
}

/// What every command works with.
pub struct Context {
    registry: Arc<Registry>,
    config: Config,
    /// The HTTP stack and token store, made on first use.
    network: std::sync::OnceLock<tonearm_net::Network>,
    library_path: Option<PathBuf>,
    /// Loads plugin files.
    files: Arc<PluginFiles>,
    /// The plugins installed from indexes (and component files).
    plugins: Plugins,
    /// The index `plugin` commands read.
    index: Option<IndexConfig>,
    /// Installed plugins not loaded because a copy this binary ships is as new, and why.
    inactive: Vec<(tonearm_registry::Installation, String)>,
}

impl Context {
    fn bus(&self) -> &EventBus {
        self.registry.bus()
    }

    /// Where signed-in sources' tokens are kept (owner-only, in the data folder).
    fn token_store(&self) -> Result<Arc<tonearm_net::auth::TokenStore>> {
        let dirs = directories::ProjectDirs::from("", "", "tonearm")
            .context("cannot find a home folder for the token store")?;
        Ok(Arc::new(tonearm_net::auth::TokenStore::new(
            dirs.data_dir().join("auth/tokens.json"),
        )))
    }

    /// What providers that reach the network need.
    fn network(&self) -> Result<tonearm_net::Network> {
        if let Some(network) = self.network.get() {
            return Ok(network.clone());
        }
        let dirs = directories::ProjectDirs::from("", "", "tonearm")
            .context("cannot find a home folder for the token store")?;
        // Catalogues' answers are kept for as long as they say they stay good.
        let settings = tonearm_net::HttpSettings {
            cache_dir: Some(dirs.cache_dir().join("http")),
            ..self.config.http.settings()
        };
        let network = tonearm_net::Network {
            http: Arc::new(tonearm_net::HttpService::new(settings)?),
            tokens: self.token_store()?,
        };
        Ok(self.network.get_or_init(|| network).clone())
    }

    /// What this machine grants providers: folders, and the network when its stack starts.
    fn capabilities(&self) -> HostCapabilities {
        match self.network() {
            Ok(network) => HostCapabilities::with_network(network),
            // Local sources work without a network stack; a provider that needs one says so.
            Err(e) => {
                tracing::debug!(error = %e, "no network stack");
                match self.token_store() {
                    Ok(tokens) => HostCapabilities::offline_with_tokens(tokens),
                    Err(_) => HostCapabilities::offline(),
                }
            }
        }
    }

    /// The facade over the library file, with the offline cache.
    async fn tonearm(&self) -> Result<Tonearm> {
        let tonearm = Tonearm::new(
            self.registry.clone(),
            self.library().await?,
            self.capabilities(),
        );
        Ok(match self.cache() {
            Ok(Some(cache)) => tonearm.with_cache(Arc::new(cache)),
            Ok(None) => tonearm,
            // Playing from the network still works: say why nothing is kept.
            Err(e) => {
                eprintln!("warning: no offline cache: {e:#}");
                tonearm
            }
        })
    }

    /// The offline cache the config describes (none if it is turned off).
    fn cache(&self) -> Result<Option<tonearm_host::cache::DiskCache>> {
        let config = &self.config.cache;
        if !config.enabled {
            return Ok(None);
        }
        let dirs = directories::ProjectDirs::from("", "", "tonearm")
            .context("cannot find a home folder for the cache")?;
        let settings = tonearm_host::cache::CacheSettings {
            dir: config
                .dir
                .clone()
                .unwrap_or_else(|| dirs.cache_dir().join("tracks")),
            // Beside the library, never in the cache folder: the folder alone is unreadable.
            key_file: dirs.data_dir().join("cache.key"),
            limit: config.limit_mb.saturating_mul(1 << 20),
        };
        let cache = tonearm_host::cache::DiskCache::open(
            settings,
            tokio::runtime::Handle::current(),
            self.bus().clone(),
        )?;
        Ok(Some(cache))
    }

    async fn library(&self) -> Result<SqliteStore> {
        let path = match &self.library_path {
            Some(path) => path.clone(),
            None => default_library_path()?,
        };
        SqliteStore::open(&path)
            .await
            .with_context(|| format!("opening the library at {}", path.display()))
    }
}

fn default_library_path() -> Result<PathBuf> {
    let dirs = directories::ProjectDirs::from("", "", "tonearm")
        .context("cannot find a home folder for the library; pass --library PATH")?;
    Ok(dirs.data_dir().join("library.db"))
}

fn init_logging(verbose: u8) {
    // The PulseAudio client logs an error for every stream it closes.
    let default = match verbose {
        0 => "warn,pulseaudio=off",
        1 => "info,sqlx=warn,pulseaudio=off",
        2 => "debug,sqlx=info",
        _ => "trace",
    };
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new(default));
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .init();
}

/// Runs the command line and turns errors into a message and exit code 1.
fn main() -> ExitCode {
    let cli = Cli::parse();
    init_logging(cli.verbose);
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("error: cannot start the async runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    match runtime.block_on(run(cli)) {
        Ok(code) => code,
        Err(e) => {
            eprintln!("error: {e:#}");
            if unknown_source(&e) {
                eprintln!("(see `tonearm source list`)");
            }
            ExitCode::FAILURE
        }
    }
}

/// Whether `error` comes down to a source name the library does not know.
fn unknown_source(error: &anyhow::Error) -> bool {
    use tonearm_host::TonearmError;
    use tonearm_host::sync::SyncError;
    use tonearm_store_sqlite::{LibraryError, StoreError};

    let unknown = |e: &StoreError| matches!(e, StoreError::NoSuchSource(_));
    error.chain().any(|cause| {
        cause.downcast_ref::<StoreError>().is_some_and(unknown)
            || matches!(cause.downcast_ref::<LibraryError>(), Some(LibraryError::Store(e)) if unknown(e))
            || matches!(cause.downcast_ref::<SyncError>(), Some(SyncError::Store(e)) if unknown(e))
            || matches!(cause.downcast_ref::<TonearmError>(), Some(TonearmError::Store(e) | TonearmError::Sync(SyncError::Store(e))) if unknown(e))
    })
}

async fn run(cli: Cli) -> Result<ExitCode> {
    let registry = if cli.no_builtins {
        Registry::new(EventBus::default())
    } else {
        let (registry, errors) = Registry::with_builtins(EventBus::default());
        for error in errors {
            eprintln!("warning: a builtin plugin failed to load: {error}");
        }
        registry
    };
    let config = match &cli.config {
        Some(path) => Config::load(path, true)?,
        None => match directories::ProjectDirs::from("", "", "tonearm") {
            Some(dirs) => Config::load(&dirs.config_dir().join("config.json"), false)?,
            None => Config::default(),
        },
    };
    let dirs = directories::ProjectDirs::from("", "", "tonearm");
    let plugin_dirs = config
        .plugin_dirs
        .clone()
        .unwrap_or_else(|| dirs.iter().map(|d| d.data_dir().join("plugins")).collect());
    let cache_dir = dirs.as_ref().map(|d| d.cache_dir().join("components"));
    let files = Arc::new(PluginFiles::new(config.wasm.limits(cache_dir)));
    // Installs live beside the plugin folder's own files, in a folder it never scans.
    let plugin_root = plugin_dirs
        .first()
        .cloned()
        .unwrap_or_else(|| PathBuf::from("plugins"));
    let plugins = Plugins::new(plugin_root.join("installed"), plugin_root.join("trust"));
    // What ships in this binary first: installed copies replace it when newer.
    if !cli.no_builtins {
        for result in files.load_bundled(&registry, bundled::BUNDLED) {
            if let Err(e) = result {
                eprintln!("warning: a bundled plugin failed to load: {e}");
            }
        }
    }
    // Installed plugins that fail to load are reported, not fatal: the rest still work.
    // One not newer than the copy this binary ships is no failure: `plugin list` says so.
    let mut inactive = Vec::new();
    for found in plugins.installed().list() {
        match found {
            Ok((installation, path)) => match plugins.load(&files, &registry, &installation, &path)
            {
                Ok(_) => {}
                Err(tonearm_host::plugins::PluginsError::Load(
                    tonearm_loader::LoadError::Registry(
                        e @ tonearm_host::registry::RegistryError::NotNewer { .. },
                    ),
                )) => inactive.push((installation, e.to_string())),
                Err(e) => eprintln!("warning: skipping plugin {}: {e}", path.display()),
            },
            Err(e) => eprintln!("warning: skipping an installed plugin: {e}"),
        }
    }
    for dir in &plugin_dirs {
        for path in PluginFiles::in_dir(dir).unwrap_or_default() {
            if let Err(e) = files.load_installed(&registry, &path) {
                eprintln!("warning: skipping plugin {}: {e}", path.display());
            }
        }
    }
    for path in &cli.plugins {
        files
            .load_installed(&registry, path)
            .with_context(|| format!("loading --plugin {}", path.display()))?;
    }
    for warning in config.apply(&registry) {
        eprintln!("warning: {warning}");
    }
    let index = match &cli.command {
        Command::Plugin(args) => args.index.config(config.index.clone())?,
        _ => config.index.clone(),
    };
    let ctx = Context {
        registry: Arc::new(registry),
        config,
        network: std::sync::OnceLock::new(),
        index,
        library_path: cli.library,
        files,
        plugins,
        inactive,
    };
    match cli.command {
        Command::Demo { keep } => decode::demo(&ctx, keep).await,
        Command::Scan {
            dir,
            name,
            full,
            enrich,
        } => {
            let (code, source) = sources::scan(&ctx, &dir, name, full).await?;
            enrich::after_sync(&ctx, Some(source), enrich, code).await
        }
        Command::Sync {
            source,
            full,
            enrich,
        } => {
            let code = sources::sync(&ctx, source.clone(), full).await?;
            enrich::after_sync(&ctx, source, enrich, code).await
        }
        Command::Source(SourceCommand::Add {
            provider,
            location,
            name,
            settings,
            sign_in,
        }) => sources::add(
            &ctx,
            &provider,
            location.as_deref(),
            name,
            &settings,
            &sign_in,
        )
        .await
        .map(|_| ExitCode::SUCCESS),
        Command::Source(SourceCommand::Signin { name, sign_in }) => {
            sources::signin(&ctx, &name, &sign_in).await
        }
        Command::Source(SourceCommand::List(f)) => sources::list(&ctx, f.json).await,
        Command::Source(SourceCommand::Remove { name }) => sources::remove(&ctx, &name).await,
        Command::Library(LibraryCommand::List {
            limit,
            offset,
            json,
        }) => library::list(&ctx, limit, offset, json.json).await,
        Command::Library(LibraryCommand::Search { query, limit, json }) => {
            library::search(&ctx, &query, limit, json.json).await
        }
        Command::Library(LibraryCommand::Stats(f)) => library::stats(&ctx, f.json).await,
        Command::Library(LibraryCommand::Failed(f)) => library::failed(&ctx, f.json).await,
        Command::Library(LibraryCommand::Edit { track, values }) => {
            enrich::edit(&ctx, track, &values).await
        }
        Command::Library(LibraryCommand::Provenance { track, json }) => {
            enrich::provenance(&ctx, track, json.json).await
        }
        Command::Enrich(args) => enrich::run(&ctx, args).await,
        Command::Artwork {
            track,
            output,
            album,
        } => enrich::artwork(&ctx, track, &output, album).await,
        Command::Lyrics { track, synced } => enrich::lyrics(&ctx, track, synced).await,
        Command::Decode {
            track,
            output,
            decoder,
        } => decode::decode(&ctx, &track, &output, decoder.as_deref()).await,
        Command::Play(args) => play::play(&ctx, args).await,
        Command::Playlist(command) => playlist::run(&ctx, command).await,
        Command::Cache(command) => cache::run(&ctx, command).await,
        Command::Plugin(args) => plugin::run(&ctx, args.command).await,
        Command::Registry(command) => registry::run(&ctx, command).await,
        Command::Conformance {
            id,
            fixtures,
            server,
        } => plugin::conformance(&ctx, &id, fixtures.as_deref(), server).await,
    }
}
