//! Tables, JSON and progress for the terminal.

use std::time::Duration;

use indicatif::{ProgressBar, ProgressStyle};
use serde::Serialize;
use tonearm_host::events::{CoreEvent, SyncCounts, SyncEvent};
use tonearm_host::{EventBus, Received};

/// Terminal columns a character takes: two for East Asian wide and fullwidth characters
/// (CJK ideographs, kana, hangul, fullwidth forms, most emoji), else one.
fn char_width(c: char) -> usize {
    let wide = matches!(u32::from(c),
        0x1100..=0x115F | 0x2E80..=0x303E | 0x3041..=0x33FF | 0x3400..=0x4DBF | 0x4E00..=0x9FFF
        | 0xA000..=0xA4CF | 0xAC00..=0xD7A3 | 0xF900..=0xFAFF | 0xFE30..=0xFE4F | 0xFF00..=0xFF60
        | 0xFFE0..=0xFFE6 | 0x1F300..=0x1F64F | 0x1F900..=0x1F9FF | 0x20000..=0x3FFFD);
    if wide { 2 } else { 1 }
}

/// Terminal columns a string takes.
fn width(s: &str) -> usize {
    s.chars().map(char_width).sum()
}

/// `s` cut to at most `max` columns, with an ellipsis if anything was cut.
fn clip(s: &str, max: usize) -> String {
    if width(s) <= max {
        return s.to_owned();
    }
    let mut out = String::new();
    let mut used = 0;
    for c in s.chars() {
        if used + char_width(c) + 1 > max {
            break;
        }
        used += char_width(c);
        out.push(c);
    }
    out.push('…');
    out
}

/// Prints rows as an aligned table; cells wider than `max` columns are shortened.
pub fn table(headers: &[&str], rows: &[Vec<String>], max: usize) {
    let rows: Vec<Vec<String>> = rows
        .iter()
        .map(|r| r.iter().map(|c| clip(c, max)).collect())
        .collect();
    let mut widths: Vec<usize> = headers.iter().map(|h| width(h)).collect();
    for row in &rows {
        for (w, cell) in widths.iter_mut().zip(row) {
            *w = (*w).max(width(cell));
        }
    }
    let line = |cells: Vec<String>| {
        let padded: Vec<String> = cells
            .iter()
            .zip(&widths)
            .map(|(c, w)| format!("{c}{}", " ".repeat(w - width(c))))
            .collect();
        println!("{}", padded.join("  ").trim_end());
    };
    line(headers.iter().map(|h| h.to_string()).collect());
    line(widths.iter().map(|w| "─".repeat(*w)).collect());
    for row in rows {
        line(row);
    }
}

/// Prints a value as pretty JSON.
pub fn json(value: &impl Serialize) -> anyhow::Result<()> {
    println!("{}", serde_json::to_string_pretty(value)?);
    Ok(())
}

/// Formats milliseconds as `m:ss`.
pub fn duration(ms: Option<i64>) -> String {
    ms.map(|ms| format!("{}:{:02}", ms / 60_000, (ms / 1000) % 60))
        .unwrap_or_default()
}

/// Formats a byte count.
pub fn bytes(n: u64) -> String {
    const UNITS: [&str; 5] = ["B", "KiB", "MiB", "GiB", "TiB"];
    let mut value = n as f64;
    let mut unit = 0;
    while value >= 1024.0 && unit < UNITS.len() - 1 {
        value /= 1024.0;
        unit += 1;
    }
    if unit == 0 {
        format!("{n} B")
    } else {
        format!("{value:.1} {}", UNITS[unit])
    }
}

/// One line summarising sync counts.
pub fn counts(c: &SyncCounts) -> String {
    format!(
        "{} added, {} updated, {} removed, {} unchanged, {} unreadable; {} read for tags",
        c.added,
        c.updated,
        c.removed,
        c.unchanged,
        c.failed,
        bytes(c.bytes_read)
    )
}

/// Shows a spinner with sync progress on stderr until the returned handle is finished.
pub fn sync_progress(bus: &EventBus) -> ProgressHandle {
    let bar = ProgressBar::new_spinner();
    bar.set_style(
        ProgressStyle::with_template("{spinner} {prefix}: {msg} [{elapsed}]")
            .unwrap_or_else(|_| ProgressStyle::default_spinner()),
    );
    bar.enable_steady_tick(Duration::from_millis(120));
    let mut events = bus.subscribe();
    let task_bar = bar.clone();
    let task = tokio::spawn(async move {
        while let Some(received) = events.recv().await {
            match received {
                Received::Event(CoreEvent::Sync(SyncEvent::Started { source, full })) => {
                    task_bar.set_prefix(source);
                    task_bar.set_message(if full {
                        "listing everything"
                    } else {
                        "fetching changes"
                    });
                }
                Received::Event(CoreEvent::Sync(SyncEvent::Progress { source, counts: c })) => {
                    task_bar.set_prefix(source);
                    task_bar.set_message(format!(
                        "{} seen, {} scanned, {} added, {} unreadable",
                        c.seen, c.scanned, c.added, c.failed
                    ));
                }
                // Missed progress events are harmless: the next one carries totals.
                _ => {}
            }
        }
    });
    ProgressHandle { bar, task }
}

/// A running progress display.
pub struct ProgressHandle {
    bar: ProgressBar,
    task: tokio::task::JoinHandle<()>,
}

impl ProgressHandle {
    /// Removes the display.
    pub fn finish(self) {
        self.task.abort();
        self.bar.finish_and_clear();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wide_characters_take_two_columns() {
        assert_eq!(width("坂本龍一"), 8);
        assert_eq!(width("Zoë"), 3);
        assert_eq!(width("🎵 a"), 4);
        assert_eq!(clip("坂本龍一 and friends", 7), "坂本龍…");
        assert_eq!(width(&clip("坂本龍一 and friends", 7)), 7);
        assert_eq!(clip("short", 10), "short");
    }
}
