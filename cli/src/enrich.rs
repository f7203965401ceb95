//! `tonearm enrich`, `tonearm artwork`, `tonearm lyrics`, `tonearm library edit` and
//! `tonearm library provenance`: tags, covers and lyrics from metadata sources, the user's
//! own tags, and where each came from.

use std::collections::BTreeMap;
use std::path::Path;
use std::process::ExitCode;

use anyhow::{Context as _, Result, bail};
use clap::{Args, ValueEnum};
use tonearm_host::enrich::{
    EnrichOptions, EnrichReport, Field, Kind, Outcome, Recommendation, Value,
};

use super::Context;
use super::output::{self, table};

/// What to enrich.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Only {
    /// Tags and catalogue ids.
    Tags,
    /// Front covers.
    Artwork,
    /// Lyrics.
    Lyrics,
}

impl Only {
    fn kind(self) -> Kind {
        match self {
            Only::Tags => Kind::Tags,
            Only::Artwork => Kind::Artwork,
            Only::Lyrics => Kind::Lyrics,
        }
    }
}

/// The weakest match written.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Accept {
    /// Only strong matches.
    Strong,
    /// Strong and medium matches.
    Medium,
}

/// `tonearm enrich`.
#[derive(Debug, Args)]
pub struct EnrichArgs {
    /// The source whose tracks to enrich [default: every source].
    source: Option<String>,
    /// Look only for this (repeatable) [default: tags, then artwork, then lyrics].
    #[arg(long, value_enum)]
    only: Vec<Only>,
    /// The longest edge of covers to fetch, in pixels; 0 for the original.
    #[arg(long, default_value_t = 500)]
    size: u32,
    /// Print what would change, writing nothing.
    #[arg(long)]
    dry_run: bool,
    /// The weakest match to write.
    #[arg(long, value_enum, default_value = "strong")]
    accept: Accept,
    /// Ask again about tracks a source answered since their file last changed.
    #[arg(long)]
    refresh: bool,
    /// Ask only this metadata source (repeatable, in order) [default: every loaded one].
    #[arg(long = "from", value_name = "PLUGIN")]
    from: Vec<String>,
    /// A metadata source's setting (repeatable): `musicbrainz.endpoint.api=URL`; adds to
    /// the config file's `metadata`.
    #[arg(long = "set", value_name = "PLUGIN.KEY=VALUE")]
    settings: Vec<String>,
    /// Print the report as JSON.
    #[arg(long)]
    json: bool,
}

/// After a sync: enriches `source`'s tracks (every source's if `None`) with every kind
/// when asked (`--enrich`) or configured (`enrich_after_sync`); a sync that failed is
/// not followed by enrichment.
pub async fn after_sync(
    ctx: &Context,
    source: Option<String>,
    asked: bool,
    code: ExitCode,
) -> Result<ExitCode> {
    if !(asked || ctx.config.enrich_after_sync) || code != ExitCode::SUCCESS {
        return Ok(code);
    }
    let args = EnrichArgs {
        source,
        only: Vec::new(),
        size: 500,
        dry_run: false,
        accept: Accept::Strong,
        refresh: false,
        from: Vec::new(),
        settings: Vec::new(),
        json: false,
    };
    run(ctx, args).await
}

/// Each source's settings: the config file's, then the command line's.
fn settings(ctx: &Context, extra: &[String]) -> Result<BTreeMap<String, BTreeMap<String, String>>> {
    let mut settings = ctx.config.metadata.clone();
    for item in extra {
        let (key, value) = item
            .split_once('=')
            .with_context(|| format!("--set {item:?}: expected PLUGIN.KEY=VALUE"))?;
        let (plugin, key) = key
            .split_once('.')
            .with_context(|| format!("--set {item:?}: name the plugin, as in musicbrainz.{key}"))?;
        settings
            .entry(plugin.to_owned())
            .or_default()
            .insert(key.to_owned(), value.to_owned());
    }
    Ok(settings)
}

pub async fn run(ctx: &Context, args: EnrichArgs) -> Result<ExitCode> {
    let tonearm = ctx.tonearm().await?;
    let kinds: Vec<Kind> = if args.only.is_empty() {
        // Every kind some loaded source offers; asking for one none offers is an error.
        let loaded = tonearm.registry().list();
        let kinds: Vec<Kind> = Kind::ALL
            .into_iter()
            .filter(|k| loaded.iter().any(|p| k.offered_by(&p.manifest.metadata)))
            .collect();
        if kinds.is_empty() {
            bail!("no metadata source is loaded (see `tonearm plugin list`)");
        }
        kinds
    } else {
        args.only.iter().map(|o| o.kind()).collect()
    };
    let options = EnrichOptions {
        artwork_size: (args.size > 0).then_some(args.size),
        dry_run: args.dry_run,
        accept: match args.accept {
            Accept::Strong => Recommendation::Strong,
            Accept::Medium => Recommendation::Medium,
        },
        refresh: args.refresh,
        sources: (!args.from.is_empty()).then(|| args.from.clone()),
        settings: settings(ctx, &args.settings)?,
    };
    let bar = indicatif::ProgressBar::new(0).with_style(
        indicatif::ProgressStyle::with_template("{msg:8} {bar:30} {pos}/{len} tracks {elapsed}")
            .unwrap_or_else(|_| indicatif::ProgressStyle::default_bar()),
    );
    if args.json {
        bar.set_draw_target(indicatif::ProgressDrawTarget::hidden());
    }
    let reports = tonearm
        .enrich(args.source.as_deref(), &kinds, options, |p| {
            bar.set_message(p.kind.name());
            bar.set_length(p.total);
            bar.set_position(p.done);
        })
        .await?;
    bar.finish_and_clear();
    if args.json {
        output::json(&reports)?;
    } else {
        for report in &reports {
            print_report(report, args.dry_run);
        }
    }
    let failed = reports.iter().any(|r| r.count(Outcome::Failed) > 0);
    Ok(if failed {
        ExitCode::FAILURE
    } else {
        ExitCode::SUCCESS
    })
}

fn print_report(report: &EnrichReport, dry_run: bool) {
    for result in &report.results {
        let best = result
            .best
            .map(|(rec, score)| format!("{rec:?} match, score {score:.2}").to_lowercase())
            .unwrap_or_else(|| "no candidate".into());
        match result.outcome {
            Outcome::Written if dry_run => {
                println!("{} ({}, {best}): would write", result.path, result.plugin);
            }
            Outcome::Written => println!("{} ({}, {best}):", result.path, result.plugin),
            Outcome::Unchanged => continue,
            Outcome::NoMatch if report.kind == Kind::Tags => {
                println!(
                    "{} ({}): no match written ({best})",
                    result.path, result.plugin
                );
            }
            Outcome::NoMatch => match &result.error {
                Some(why) => println!("{} ({}): nothing kept: {why}", result.path, result.plugin),
                None => println!("{} ({}): none found", result.path, result.plugin),
            },
            Outcome::Failed => println!(
                "{} ({}): failed: {}",
                result.path,
                result.plugin,
                result.error.as_deref().unwrap_or("unknown error")
            ),
        }
        for change in &result.changes {
            let old = change
                .old
                .as_ref()
                .map_or_else(|| "(none)".to_owned(), ToString::to_string);
            println!("  {}: {old} -> {}", change.field, change.new);
        }
    }
    let verb = if dry_run {
        "would be written"
    } else {
        "written"
    };
    println!(
        "{}: {} tracks: {} {verb}, {} already right, {} without a match, {} failed, {} answered before",
        report.kind.name(),
        report.tracks,
        report.count(Outcome::Written),
        report.count(Outcome::Unchanged),
        report.count(Outcome::NoMatch),
        report.count(Outcome::Failed),
        report.skipped
    );
}

/// `FIELD=VALUE` as a field and a value of its shape.
fn parse_value(item: &str) -> Result<(Field, Value)> {
    let (name, value) = item
        .split_once('=')
        .with_context(|| format!("{item:?}: expected FIELD=VALUE"))?;
    let Some(field) = Field::parse(name.trim()) else {
        let names: Vec<&str> = Field::ALL.iter().map(|f| f.name()).collect();
        bail!("no field named {name:?}; fields: {}", names.join(", "));
    };
    let value = value.trim();
    let parsed = match field {
        Field::Artists | Field::AlbumArtists => Value::List(
            value
                .split(';')
                .map(str::trim)
                .filter(|s| !s.is_empty())
                .map(str::to_owned)
                .collect(),
        ),
        Field::TrackNumber
        | Field::TrackTotal
        | Field::DiscNumber
        | Field::DiscTotal
        | Field::Year => Value::Number(
            value
                .parse()
                .with_context(|| format!("{name} must be a whole number, not {value:?}"))?,
        ),
        _ => Value::Text(value.to_owned()),
    };
    Ok((field, parsed))
}

pub async fn edit(ctx: &Context, track: i64, items: &[String]) -> Result<ExitCode> {
    let values = items
        .iter()
        .map(|i| parse_value(i))
        .collect::<Result<Vec<_>>>()?;
    ctx.tonearm().await?.edit_tags(track, values).await?;
    println!(
        "track {track}: {} field(s) set; enrichment will not change them",
        items.len()
    );
    Ok(ExitCode::SUCCESS)
}

pub async fn provenance(ctx: &Context, track: i64, json: bool) -> Result<ExitCode> {
    let fields = ctx.tonearm().await?.tag_provenance(track).await?;
    if json {
        output::json(&fields)?;
        return Ok(ExitCode::SUCCESS);
    }
    if fields.is_empty() {
        println!("track {track}: every field is the file's own");
        return Ok(ExitCode::SUCCESS);
    }
    let rows: Vec<Vec<String>> = fields
        .iter()
        .map(|f| {
            vec![
                f.field.to_string(),
                f.value.to_string(),
                f.source.clone(),
                f.score.map(|s| format!("{s:.2}")).unwrap_or_default(),
                f.at_ms.to_string(),
            ]
        })
        .collect();
    table(&["FIELD", "VALUE", "SOURCE", "SCORE", "AT (ms)"], &rows, 48);
    Ok(ExitCode::SUCCESS)
}

pub async fn artwork(ctx: &Context, track: i64, output: &Path, album: bool) -> Result<ExitCode> {
    let tonearm = ctx.tonearm().await?;
    let image = if album {
        tonearm.album_artwork(track).await?
    } else {
        tonearm.track_artwork(track).await?
    };
    let Some(image) = image else {
        bail!(
            "track {track} has no {}cover in the library (run `tonearm enrich --only artwork`)",
            if album { "album " } else { "" }
        );
    };
    std::fs::write(output, &image.bytes)
        .with_context(|| format!("writing {}", output.display()))?;
    println!(
        "{}: {} ({}, sha256 {})",
        output.display(),
        image.mime,
        output::bytes(image.bytes.len() as u64),
        &image.sha256[..12]
    );
    Ok(ExitCode::SUCCESS)
}

pub async fn lyrics(ctx: &Context, track: i64, synced: bool) -> Result<ExitCode> {
    let Some(lyrics) = ctx.tonearm().await?.lyrics(track).await? else {
        bail!("track {track} has no lyrics in the library (run `tonearm enrich --only lyrics`)");
    };
    if lyrics.instrumental {
        println!("(instrumental)");
        return Ok(ExitCode::SUCCESS);
    }
    let text = if synced {
        lyrics.synced_lrc.as_deref()
    } else {
        lyrics.plain.as_deref().or(lyrics.synced_lrc.as_deref())
    };
    match text {
        Some(text) => println!("{}", text.trim_end()),
        None => bail!(
            "track {track} has no {} lyrics",
            if synced { "time-synced" } else { "plain" }
        ),
    }
    Ok(ExitCode::SUCCESS)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn values_take_their_fields_shape() {
        assert_eq!(
            parse_value("artists=A; B ;").unwrap(),
            (Field::Artists, Value::List(vec!["A".into(), "B".into()]))
        );
        assert_eq!(
            parse_value("year=1999").unwrap(),
            (Field::Year, Value::Number(1999))
        );
        assert!(parse_value("year=soon").is_err());
        assert!(
            parse_value("colour=red")
                .unwrap_err()
                .to_string()
                .contains("title")
        );
    }
}
