//! Tables, JSON and progress for the terminal.

use std::time::Duration;

use indicatif::{ProgressBar, ProgressStyle};
use serde::Serialize;
use tonearm_host::events::{CoreEvent, SyncCounts, SyncEvent};
use tonearm_host::{EventBus, Received};

/// Prints rows as an aligned table; cells longer than `max` characters are shortened.
pub fn table(headers: &[&str], rows: &[Vec<String>], max: usize) {
    let clip = |s: &str| -> String {
        if s.chars().count() > max {
            s.chars().take(max.saturating_sub(1)).chain(['…']).collect()
        } else {
            s.to_owned()
        }
    };
    let rows: Vec<Vec<String>> = rows
        .iter()
        .map(|r| r.iter().map(|c| clip(c)).collect())
        .collect();
    let mut widths: Vec<usize> = headers.iter().map(|h| h.chars().count()).collect();
    for row in &rows {
        for (w, cell) in widths.iter_mut().zip(row) {
            *w = (*w).max(cell.chars().count());
        }
    }
    let line = |cells: Vec<String>| {
        let padded: Vec<String> = cells
            .iter()
            .zip(&widths)
            .map(|(c, w)| format!("{c}{}", " ".repeat(w - c.chars().count())))
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
