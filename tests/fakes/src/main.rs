//! Runs the fake services by hand, to try the `tonearm` command against them:
//!
//! ```sh
//! cargo run -p tonearm-fakes -- drive --music ~/Music
//! ```

use std::path::{Path, PathBuf};
use std::time::Duration;

use anyhow::{Context as _, Result};
use clap::{Parser, Subcommand};
use tonearm_fakes::drive::FakeDrive;
use tonearm_fakes::oauth::{Authority, FakeOAuth};

/// Fake cloud services on 127.0.0.1 for trying Tonearm without an account.
#[derive(Parser)]
#[command(name = "tonearm-fakes", version)]
struct Cli {
    #[command(subcommand)]
    service: Service,
}

#[derive(Subcommand)]
enum Service {
    /// A fake Google Drive (with its OAuth server) holding the files of a folder.
    Drive {
        /// The folder whose files (recursively) the fake Drive holds.
        #[arg(long)]
        music: PathBuf,
        /// The Drive API port [default: any free one].
        #[arg(long, default_value_t = 0)]
        port: u16,
        /// The OAuth server's port [default: any free one].
        #[arg(long, default_value_t = 0)]
        oauth_port: u16,
        /// Seconds an access token lives.
        #[arg(long, default_value_t = 3600)]
        token_lifetime: u64,
        /// Rotate refresh tokens on every refresh.
        #[arg(long)]
        rotate: bool,
    },
    /// A fake OneDrive (Microsoft Graph, with its OAuth server) holding a folder's files.
    Onedrive {
        /// The folder whose files (recursively) the fake OneDrive holds.
        #[arg(long)]
        music: PathBuf,
        /// Seconds an access token lives.
        #[arg(long, default_value_t = 3600)]
        token_lifetime: u64,
    },
}

/// What the CLI needs from either fake.
trait Holds {
    fn add_file_at(&self, path: &str, bytes: &[u8]) -> String;
}

impl Holds for FakeDrive {
    fn add_file_at(&self, path: &str, bytes: &[u8]) -> String {
        FakeDrive::add_file_at(self, path, bytes)
    }
}

impl Holds for tonearm_fakes::graph::FakeGraph {
    fn add_file_at(&self, path: &str, bytes: &[u8]) -> String {
        tonearm_fakes::graph::FakeGraph::add_file_at(self, path, bytes)
    }
}

fn print_usage(provider: &str, name: &str, api: &str, oauth: &FakeOAuth) {
    println!(
        "fake OAuth:  {} and {}",
        oauth.authorize_url(),
        oauth.token_url()
    );
    println!();
    println!("Add it as a source (any client id works):");
    println!(
        "  tonearm source add {provider} --name {name} --client-id tonearm-test \\\n    --set endpoint.api={api} --set endpoint.authorize={} --set endpoint.token={}",
        oauth.authorize_url(),
        oauth.token_url()
    );
    println!("\nStop with Ctrl-C.");
}

fn main() -> Result<()> {
    match Cli::parse().service {
        Service::Drive {
            music,
            port,
            oauth_port,
            token_lifetime,
            rotate,
        } => {
            let authority = Authority::default();
            authority.set_access_lifetime(Duration::from_secs(token_lifetime));
            authority.set_rotation(rotate);
            let oauth = FakeOAuth::start_on(authority.clone(), oauth_port)
                .context("starting the OAuth server")?;
            let drive = std::sync::Arc::new(
                FakeDrive::start_on(authority.clone(), port).context("starting the Drive")?,
            );
            let count = upload(drive.as_ref(), &music, &music)?;
            let control = tonearm_fakes::control::start(authority, drive.clone())
                .context("starting the control port")?;
            println!(
                "fake Drive:  {} ({count} files from {})",
                drive.url(),
                music.display()
            );
            println!("fake control: {}", control.url());
            print_usage("gdrive", "fake-drive", &drive.url(), &oauth);
            loop {
                std::thread::park();
            }
        }
        Service::Onedrive {
            music,
            token_lifetime,
        } => {
            let authority = Authority::default();
            authority.set_access_lifetime(Duration::from_secs(token_lifetime));
            // Microsoft rotates refresh tokens.
            authority.set_rotation(true);
            let oauth =
                FakeOAuth::start_on(authority.clone(), 0).context("starting the OAuth server")?;
            let graph =
                tonearm_fakes::graph::FakeGraph::start(authority).context("starting Graph")?;
            let count = upload(&graph, &music, &music)?;
            println!(
                "fake Graph:  {} ({count} files from {})",
                graph.url(),
                music.display()
            );
            print_usage("onedrive", "fake-onedrive", &graph.url(), &oauth);
            loop {
                std::thread::park();
            }
        }
    }
}

fn upload(drive: &dyn Holds, root: &Path, dir: &Path) -> Result<usize> {
    let mut count = 0;
    let mut entries: Vec<_> = std::fs::read_dir(dir)
        .with_context(|| format!("reading {}", dir.display()))?
        .collect::<Result<_, _>>()?;
    entries.sort_by_key(|e| e.file_name());
    for entry in entries {
        let path = entry.path();
        if path.is_dir() {
            count += upload(drive, root, &path)?;
        } else if path.is_file() {
            let rel = path.strip_prefix(root).unwrap_or(&path);
            let bytes =
                std::fs::read(&path).with_context(|| format!("reading {}", path.display()))?;
            drive.add_file_at(&rel.to_string_lossy().replace('\\', "/"), &bytes);
            count += 1;
        }
    }
    Ok(count)
}
