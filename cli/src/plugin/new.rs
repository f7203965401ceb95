//! `tonearm plugin new KIND NAME`: a plugin crate to start from, outside any checkout,
//! that builds in every form and passes the conformance suite on its first build.

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::{Context as _, Result, bail};

/// The plugin kinds there is a template for.
#[derive(Debug, Clone, Copy, clap::ValueEnum)]
pub enum Template {
    /// A decoder (the template decodes PCM WAV).
    Decoder,
    /// A storage provider for a cloud file service, with a fake of the service.
    Provider,
    /// A metadata source for a lyrics service, with a fake of the service.
    Metadata,
}

/// One file of a template: its path in the new crate, and its text with placeholders.
type File = (&'static str, &'static str);

macro_rules! template {
    ($dir:literal: $($path:literal),* $(,)?) => {
        &[$(($path, include_str!(concat!("../../templates/", $dir, "/", $path)))),*]
    };
}

const DECODER: &[File] = template!("decoder":
    "Cargo.toml", ".gitignore", ".cargo/config.toml", "README.md",
    "src/lib.rs", "src/header.rs", "src/session.rs", "tests/conformance.rs",
    "dylib/Cargo.toml", "dylib/src/lib.rs", "component/Cargo.toml", "component/src/lib.rs",
);

const PROVIDER: &[File] = template!("provider":
    "Cargo.toml", ".gitignore", ".cargo/config.toml", "README.md",
    "src/lib.rs", "src/api.rs", "src/error.rs", "src/provider.rs", "tests/conformance.rs",
    "dylib/Cargo.toml", "dylib/src/lib.rs", "component/Cargo.toml", "component/src/lib.rs",
    "fake/Cargo.toml", "fake/src/lib.rs",
);

const METADATA: &[File] = template!("metadata":
    "Cargo.toml", ".gitignore", ".cargo/config.toml", "README.md",
    "src/lib.rs", "src/api.rs", "src/source.rs", "tests/conformance.rs", "tests/fake.rs",
    "dylib/Cargo.toml", "dylib/src/lib.rs", "component/Cargo.toml", "component/src/lib.rs",
    "fake/Cargo.toml", "fake/src/lib.rs",
);

/// What the provider and metadata templates' fakes share: serving, and `main`.
const FAKE: &[File] = template!("common": "fake/src/main.rs", "fake/src/serve.rs");

/// The crates a plugin depends on, by their folder in a Tonearm checkout.
const CRATES: &[(&str, &str)] = &[
    ("plugin-api", "plugin-api"),
    ("plugin-native", "plugin-native"),
    ("plugin-component", "plugin-component"),
    ("conformance", "tests/conformance"),
];

/// Writes a new plugin crate named `name` of kind `template` into `path` (default
/// `./NAME`), depending on the Tonearm crates in checkout `tonearm` (default: the one
/// this `tonearm` was built from, if it is still there; else the crates' registry
/// versions).
pub fn new(
    template: Template,
    name: &str,
    path: Option<PathBuf>,
    tonearm: Option<PathBuf>,
) -> Result<ExitCode> {
    check_name(name)?;
    let dir = path.unwrap_or_else(|| PathBuf::from(name));
    if dir.exists()
        && std::fs::read_dir(&dir)
            .map(|mut d| d.next().is_some())
            .unwrap_or(true)
    {
        bail!(
            "{} exists and is not empty: choose another --path",
            dir.display()
        );
    }
    let checkout = match tonearm {
        Some(dir) if !is_checkout(&dir) => bail!(
            "{} is not a Tonearm checkout (no plugin-api/Cargo.toml)",
            dir.display()
        ),
        Some(dir) => Some(dir),
        None => built_from().filter(|dir| is_checkout(dir)),
    };
    let checkout = checkout
        .map(|dir| {
            std::fs::canonicalize(&dir).with_context(|| format!("cannot resolve {}", dir.display()))
        })
        .transpose()?;
    let version = env!("CARGO_PKG_VERSION");
    let minor: String = version.split('.').take(2).collect::<Vec<_>>().join(".");
    let files: &[&[File]] = match template {
        Template::Decoder => &[DECODER],
        Template::Provider => &[PROVIDER, FAKE],
        Template::Metadata => &[METADATA, FAKE],
    };
    for (relative, text) in files.iter().copied().flatten() {
        let mut text = text
            .replace("{{crate_ident}}", &name.replace('-', "_"))
            .replace("{{crate}}", name)
            .replace("{{id}}", name)
            .replace("{{name}}", name);
        for (key, folder) in CRATES {
            let dependency = match &checkout {
                Some(root) => format!("path = {}", toml_path(&root.join(folder))?),
                None => format!("version = \"{minor}\""),
            };
            text = text.replace(&format!("{{{{dep:{key}}}}}"), &dependency);
        }
        let target = dir.join(relative);
        if let Some(parent) = target.parent() {
            std::fs::create_dir_all(parent)
                .with_context(|| format!("cannot create {}", parent.display()))?;
        }
        std::fs::write(&target, text)
            .with_context(|| format!("cannot write {}", target.display()))?;
    }
    match &checkout {
        Some(root) => {
            // The checkout's lock file: the versions Tonearm was tested with, and builds
            // that share what the checkout already compiled.
            let lock = root.join("Cargo.lock");
            if lock.is_file() {
                std::fs::copy(&lock, dir.join("Cargo.lock"))
                    .with_context(|| format!("cannot copy {}", lock.display()))?;
            }
            println!(
                "a {template:?} plugin in {}, on the Tonearm crates in {}",
                dir.display(),
                root.display()
            );
        }
        None => println!(
            "a {template:?} plugin in {}, on the Tonearm crates {minor} from crates.io",
            dir.display()
        ),
    }
    println!(
        "next: cd {} && cargo test   (then see its README.md)",
        dir.display()
    );
    Ok(ExitCode::SUCCESS)
}

/// A crate name that is also a plugin id: lowercase letters, digits and `-`, a letter
/// first.
fn check_name(name: &str) -> Result<()> {
    let ok = name.len() <= 64
        && name.starts_with(|c: char| c.is_ascii_lowercase())
        && name
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-')
        && !name.ends_with('-');
    if !ok {
        bail!(
            "`{name}` cannot name a plugin: use lowercase letters, digits and `-`, a letter first"
        );
    }
    // The crate's name in Rust code is the name with `_` for `-`: not a keyword.
    const KEYWORDS: &[&str] = &[
        "as", "async", "await", "break", "const", "continue", "crate", "dyn", "else", "enum",
        "extern", "false", "fn", "for", "gen", "if", "impl", "in", "let", "loop", "match", "mod",
        "move", "mut", "pub", "ref", "return", "self", "static", "struct", "super", "trait",
        "true", "try", "type", "unsafe", "use", "where", "while", "yield",
    ];
    if KEYWORDS.contains(&name) {
        bail!("`{name}` is a Rust keyword, which cannot name a crate: choose another name");
    }
    Ok(())
}

/// `path` as a TOML literal string: no escapes to get wrong (a decomposed accent, a
/// Windows backslash).
fn toml_path(path: &Path) -> Result<String> {
    let text = path
        .to_str()
        .with_context(|| format!("{} is not UTF-8", path.display()))?;
    if text.contains(['\'', '\n', '\r']) {
        bail!("{text} cannot be written in Cargo.toml as a literal path: move the checkout");
    }
    Ok(format!("'{text}'"))
}

fn is_checkout(dir: &Path) -> bool {
    dir.join("plugin-api/Cargo.toml").is_file()
}

/// The checkout this `tonearm` was compiled from.
fn built_from() -> Option<PathBuf> {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .map(Path::to_owned)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_must_make_a_crate_and_an_id() {
        assert!(check_name("acme-wav").is_ok());
        for bad in ["Acme", "-x", "x-", "1x", "type", "a_b", ""] {
            assert!(check_name(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn paths_are_written_as_toml_literals() {
        assert_eq!(
            toml_path(Path::new("/src/tonearm/Zoe\u{301}")).unwrap(),
            "'/src/tonearm/Zoe\u{301}'"
        );
        assert!(toml_path(Path::new("/it's")).is_err());
    }
}
