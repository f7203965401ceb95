//! `tonearm registry …`: making keys, starting an index in a folder, publishing to it,
//! and serving it for a local test (any static web server serves one).

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::{Context as _, Result, bail};
use clap::Subcommand;
use tonearm_registry::{
    COMPONENT_TARGET, IndexKeys, IndexWriter, Publisher, Release, RoleKeys, Root, SecretKey,
};

use super::Context;

const DAY: i64 = 86_400;

/// `tonearm registry …`.
#[derive(Debug, Subcommand)]
pub enum RegistryCommand {
    /// Make a signing key: the secret into FILE (readable by you only), the public key
    /// printed.
    Keygen {
        /// Where to write the secret key; never overwritten.
        #[arg(long, short, value_name = "FILE")]
        out: PathBuf,
    },
    /// Start an index in a folder, its root signed by KEY, which also signs its
    /// snapshots and timestamps and publishes its plugins (see docs/registry.md for
    /// indexes with a key per role).
    Init {
        /// The folder (new or empty).
        dir: PathBuf,
        /// The index's key (from `registry keygen`).
        #[arg(long, value_name = "FILE")]
        key: PathBuf,
        /// The publisher's key [default: KEY].
        #[arg(long, value_name = "FILE")]
        publisher_key: Option<PathBuf>,
        /// The publisher's name.
        #[arg(long, default_value = "main")]
        publisher: String,
        /// Plugin ids the publisher may publish: exact, or a prefix ending in `*`
        /// (repeatable) [default: every id].
        #[arg(long = "plugins", value_name = "PATTERN")]
        patterns: Vec<String>,
        /// Days the root stays trusted; rotate it before then.
        #[arg(long, default_value_t = 365)]
        root_days: i64,
        #[command(flatten)]
        lifetimes: Lifetimes,
    },
    /// Publish a plugin file (a `.wasm` component, or a native library for this
    /// machine's target) as a new version, and re-sign the index.
    Publish {
        /// The plugin file.
        file: PathBuf,
        /// The publisher's key.
        #[arg(long, value_name = "FILE")]
        key: PathBuf,
        /// The index folder.
        #[arg(long, value_name = "DIR")]
        index: PathBuf,
        /// The key that signs snapshots and timestamps [default: KEY].
        #[arg(long, value_name = "FILE")]
        index_key: Option<PathBuf>,
        /// The publisher's name in the root [default: the one KEY signs for that may
        /// publish the plugin].
        #[arg(long)]
        publisher: Option<String>,
        #[command(flatten)]
        lifetimes: Lifetimes,
    },
    /// Withdraw a version (or, with --undo, bring it back): hosts then choose it only when
    /// pinned to it exactly.
    Yank {
        /// The plugin id.
        id: String,
        /// The version.
        version: semver::Version,
        /// The publisher's key.
        #[arg(long, value_name = "FILE")]
        key: PathBuf,
        /// The index folder.
        #[arg(long, value_name = "DIR")]
        index: PathBuf,
        /// The key that signs snapshots and timestamps [default: KEY].
        #[arg(long, value_name = "FILE")]
        index_key: Option<PathBuf>,
        /// Bring the version back.
        #[arg(long)]
        undo: bool,
        #[command(flatten)]
        lifetimes: Lifetimes,
    },
    /// Sign the index's snapshot and timestamp again, unchanged: run it more often than
    /// the timestamp's lifetime, or hosts take the index for frozen.
    Resign {
        /// The index folder.
        #[arg(long, value_name = "DIR")]
        index: PathBuf,
        /// The key that signs snapshots and timestamps.
        #[arg(long, value_name = "FILE")]
        index_key: PathBuf,
        #[command(flatten)]
        lifetimes: Lifetimes,
    },
    /// Serve an index folder over HTTP, for a local test.
    Serve {
        /// The index folder.
        dir: PathBuf,
        /// The address to listen on.
        #[arg(long, default_value = "127.0.0.1:8470")]
        addr: std::net::SocketAddr,
    },
}

/// How long signed documents stay trusted.
#[derive(Debug, clap::Args)]
pub struct Lifetimes {
    /// Days a timestamp stays trusted: re-sign within it.
    #[arg(long, default_value_t = 7)]
    timestamp_days: i64,
    /// Days a snapshot stays trusted.
    #[arg(long, default_value_t = 30)]
    snapshot_days: i64,
}

impl Lifetimes {
    fn keys<'a>(&self, key: &'a SecretKey) -> IndexKeys<'a> {
        IndexKeys {
            snapshot: key,
            timestamp: key,
            snapshot_lifetime: self.snapshot_days.saturating_mul(DAY),
            timestamp_lifetime: self.timestamp_days.saturating_mul(DAY),
        }
    }
}

/// Runs `command`.
pub async fn run(ctx: &Context, command: RegistryCommand) -> Result<ExitCode> {
    match command {
        RegistryCommand::Keygen { out } => keygen(&out),
        RegistryCommand::Init {
            dir,
            key,
            publisher_key,
            publisher,
            patterns,
            root_days,
            lifetimes,
        } => {
            let key = read_key(&key)?;
            let publisher_key = publisher_key.as_deref().map(read_key).transpose()?;
            let publisher_key = publisher_key.as_ref().unwrap_or(&key);
            let patterns = if patterns.is_empty() {
                vec!["*".to_owned()]
            } else {
                patterns
            };
            let role = |key: &SecretKey| RoleKeys {
                keys: vec![key.public().id()],
                threshold: 1,
            };
            let root = Root {
                version: 1,
                expires: super::plugin::now().saturating_add(root_days.saturating_mul(DAY)),
                keys: [&key, publisher_key]
                    .into_iter()
                    .map(|k| (k.public().id(), k.public()))
                    .collect(),
                root: role(&key),
                snapshot: role(&key),
                timestamp: role(&key),
                publishers: BTreeMap::from([(
                    publisher.clone(),
                    Publisher {
                        signers: role(publisher_key),
                        plugins: patterns,
                    },
                )]),
            };
            IndexWriter::create(
                &dir,
                &root,
                &[&key],
                lifetimes.keys(&key),
                super::plugin::now(),
            )?;
            println!(
                "an index in {}, publisher `{publisher}`; hosts trust it through {}",
                dir.display(),
                dir.join(tonearm_registry::root_path(1)).display()
            );
            Ok(ExitCode::SUCCESS)
        }
        RegistryCommand::Publish {
            file,
            key,
            index,
            index_key,
            publisher,
            lifetimes,
        } => publish(
            ctx,
            &file,
            &key,
            &index,
            index_key.as_deref(),
            publisher,
            &lifetimes,
        ),
        RegistryCommand::Yank {
            id,
            version,
            key,
            index,
            index_key,
            undo,
            lifetimes,
        } => {
            let key = read_key(&key)?;
            let index_key = index_key.as_deref().map(read_key).transpose()?;
            let keys = lifetimes.keys(index_key.as_ref().unwrap_or(&key));
            IndexWriter::open(&index).yank(
                &id,
                &version,
                !undo,
                &key,
                keys,
                super::plugin::now(),
            )?;
            let what = if undo { "back" } else { "yanked" };
            println!("`{id}` {version} is {what}");
            Ok(ExitCode::SUCCESS)
        }
        RegistryCommand::Resign {
            index,
            index_key,
            lifetimes,
        } => {
            let key = read_key(&index_key)?;
            IndexWriter::open(&index).resign(lifetimes.keys(&key), super::plugin::now())?;
            println!("re-signed {}", index.display());
            Ok(ExitCode::SUCCESS)
        }
        RegistryCommand::Serve { dir, addr } => serve(dir, addr).await,
    }
}

fn keygen(out: &Path) -> Result<ExitCode> {
    let key = SecretKey::generate()?;
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    let mut file = options.open(out).with_context(|| {
        format!(
            "cannot create {} (an existing key is never overwritten)",
            out.display()
        )
    })?;
    std::io::Write::write_all(&mut file, format!("{}\n", key.to_text()).as_bytes())?;
    file.sync_all()?;
    println!("secret key: {} (keep it; never share it)", out.display());
    println!("public key: {}", key.public().to_text());
    println!("key id:     {}", key.public().id().0);
    Ok(ExitCode::SUCCESS)
}

fn read_key(path: &Path) -> Result<SecretKey> {
    let text = std::fs::read_to_string(path)
        .with_context(|| format!("cannot read the key {}", path.display()))?;
    SecretKey::from_text(text.trim())
        .with_context(|| format!("{} holds no secret key", path.display()))
}

#[allow(clippy::too_many_arguments)]
fn publish(
    ctx: &Context,
    file: &Path,
    key: &Path,
    index: &Path,
    index_key: Option<&Path>,
    publisher: Option<String>,
    lifetimes: &Lifetimes,
) -> Result<ExitCode> {
    let key = read_key(key)?;
    let index_key = index_key.map(read_key).transpose()?;
    let package = std::fs::read(file).with_context(|| format!("cannot read {}", file.display()))?;
    // The manifest is the plugin's own: read it as a host would.
    let mut loaded = ctx.files.read(file)?;
    let (Some(plugin), None) = (loaded.pop(), loaded.pop()) else {
        bail!(
            "{} must hold exactly one plugin to be published",
            file.display()
        );
    };
    let m = plugin.manifest;
    let writer = IndexWriter::open(index);
    let publisher = match publisher {
        Some(name) => name,
        None => {
            let root = writer.latest_root()?;
            let id = key.public().id();
            root.publishers
                .iter()
                .find(|(_, p)| p.signers.keys.contains(&id) && p.may_publish(&m.id))
                .map(|(name, _)| name.clone())
                .with_context(|| {
                    format!(
                        "no publisher in the index's root signs with this key and may publish `{}`",
                        m.id
                    )
                })?
        }
    };
    let wasm = file.extension().is_some_and(|e| e == "wasm");
    let release = Release {
        id: m.id.clone(),
        version: m.version.clone(),
        kind: m.kind,
        api: m.api_version.clone(),
        target: if wasm {
            COMPONENT_TARGET.to_owned()
        } else {
            tonearm_loader::native::TARGET.to_owned()
        },
        capabilities: m.capabilities.clone(),
        publisher,
    };
    let name = file
        .file_name()
        .and_then(|n| n.to_str())
        .context("the plugin file has no usable name")?;
    let keys = lifetimes.keys(index_key.as_ref().unwrap_or(&key));
    let entry = writer.publish(release, name, &package, &key, keys, super::plugin::now())?;
    println!(
        "published `{}` {} ({}, {} bytes, sha256 {})",
        entry.id, entry.version, entry.target, entry.package.length, entry.package.sha256
    );
    Ok(ExitCode::SUCCESS)
}

/// Serves `dir`'s files, read-only, until interrupted.
async fn serve(dir: PathBuf, addr: std::net::SocketAddr) -> Result<ExitCode> {
    use axum::extract::{Path as UrlPath, State};
    use axum::http::StatusCode;

    async fn file(
        State(dir): State<PathBuf>,
        UrlPath(path): UrlPath<String>,
    ) -> Result<Vec<u8>, StatusCode> {
        // Index paths are plain names under the folder: nothing hidden, nothing above it,
        // no drive or stream names (`C:`, `file:stream` on Windows).
        let plain = path.split('/').all(|part| {
            !part.is_empty()
                && !part.starts_with('.')
                && part
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b"-_.".contains(&b))
        });
        if !plain {
            return Err(StatusCode::NOT_FOUND);
        }
        tokio::fs::read(dir.join(&path))
            .await
            .map_err(|_| StatusCode::NOT_FOUND)
    }

    if !dir.join(tonearm_registry::root_path(1)).is_file() {
        bail!(
            "{} holds no index (no {})",
            dir.display(),
            tonearm_registry::root_path(1)
        );
    }
    let app = axum::Router::new()
        .route("/{*path}", axum::routing::get(file))
        .with_state(dir.clone());
    let listener = tokio::net::TcpListener::bind(addr)
        .await
        .with_context(|| format!("cannot listen on {addr}"))?;
    println!(
        "serving {} at http://{}/ (Ctrl-C stops)",
        dir.display(),
        listener.local_addr()?
    );
    axum::serve(listener, app).await?;
    Ok(ExitCode::SUCCESS)
}
