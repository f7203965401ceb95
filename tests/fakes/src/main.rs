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
    /// Fake MusicBrainz, Cover Art Archive and LRCLIB services holding a catalogue.
    ///
    /// The catalogue is a JSON file: `{"recordings": [...], "covers": [{"release":
    /// MBID, "file": PATH}], "lyrics": [...]}`, recordings and lyrics in the fakes'
    /// shapes (`tonearm_fakes::musicbrainz::Recording`, `tonearm_fakes::lrclib::LyricsRecord`);
    /// cover paths are relative to the file.
    Metadata {
        /// The catalogue file.
        #[arg(long)]
        catalogue: PathBuf,
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
        Service::Metadata { catalogue } => serve_metadata(&catalogue),
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

/// What `tonearm-fakes metadata` serves.
#[derive(serde::Deserialize)]
struct MetadataCatalogue {
    #[serde(default)]
    recordings: Vec<tonearm_fakes::musicbrainz::Recording>,
    #[serde(default)]
    covers: Vec<CoverFile>,
    #[serde(default)]
    lyrics: Vec<tonearm_fakes::lrclib::LyricsRecord>,
}

#[derive(serde::Deserialize)]
struct CoverFile {
    release: String,
    file: PathBuf,
}

fn serve_metadata(catalogue: &Path) -> Result<()> {
    use tonearm_fakes::coverart::FakeCoverArt;
    use tonearm_fakes::lrclib::FakeLrclib;
    use tonearm_fakes::musicbrainz::FakeMusicBrainz;

    let text = std::fs::read_to_string(catalogue)
        .with_context(|| format!("reading {}", catalogue.display()))?;
    let parsed: MetadataCatalogue = serde_json::from_str(&text)
        .with_context(|| format!("{} is not a catalogue", catalogue.display()))?;
    let mb = FakeMusicBrainz::start().context("starting MusicBrainz")?;
    let caa = FakeCoverArt::start().context("starting the Cover Art Archive")?;
    let lrclib = FakeLrclib::start().context("starting LRCLIB")?;
    for recording in parsed.recordings {
        mb.add(recording);
    }
    let base = catalogue.parent().unwrap_or(Path::new("."));
    for cover in parsed.covers {
        let path = base.join(&cover.file);
        let bytes = std::fs::read(&path).with_context(|| format!("reading {}", path.display()))?;
        let mime = match path.extension().and_then(|e| e.to_str()) {
            Some("png") => "image/png",
            _ => "image/jpeg",
        };
        caa.add(&cover.release, mime, &bytes);
    }
    for record in parsed.lyrics {
        lrclib.add(record);
    }
    let (mb, caa, lrclib) = (
        std::sync::Arc::new(mb),
        std::sync::Arc::new(caa),
        std::sync::Arc::new(lrclib),
    );
    let control = tonearm_fakes::control::start_metadata(mb.clone(), caa.clone(), lrclib.clone())
        .context("starting the control port")?;
    println!("fake MusicBrainz: {}", mb.url());
    println!(
        "fake Cover Art Archive: {} (images at {})",
        caa.url(),
        caa.image_host()
    );
    println!("fake LRCLIB: {}", lrclib.url());
    println!("fake control: {}", control.url());
    println!();
    println!("Point the metadata sources at them (config.json):");
    println!(
        "  {{\"metadata\": {{\"musicbrainz\": {{\"endpoint.api\": \"{}\"}}, \"coverart\": {{\"endpoint.api\": \"{}\"}}, \"lrclib\": {{\"endpoint.api\": \"{}\"}}}}}}",
        mb.url(),
        caa.url(),
        lrclib.url()
    );
    println!("\nStop with Ctrl-C.");
    loop {
        std::thread::park();
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
