//! The only writer to stdout and stderr.
//!
//! Data (`--json` objects, `--dry-run` plans) goes to stdout; everything else (status lines,
//! warnings, errors with their hints, progress) to stderr. Progress bars appear only on a
//! terminal outside CI; colour only on a terminal without `NO_COLOR`. Shared by the download
//! threads, so every method takes `&self`.
#![allow(clippy::print_stdout, clippy::print_stderr)]

use std::collections::HashSet;
use std::io::{IsTerminal, Write};
use std::sync::Mutex;
use std::time::Duration;

use indicatif::{MultiProgress, ProgressBar, ProgressDrawTarget, ProgressStyle};
use serde::Serialize;

use crate::env::Env;
use crate::source::Origin;

/// How output should look, decided once from flags, the environment and the terminal.
pub struct Reporter {
    quiet: bool,
    color: bool,
    /// `-v` count: 1 for the decisions (URLs asked, targets, cache, why not), 2 for more.
    verbosity: u8,
    bars: Option<MultiProgress>,
    /// The keys of the warnings said once per run ([`Reporter::warn_once`]).
    said: Mutex<HashSet<String>>,
}

/// How a package got into the bin directory, as `--json`'s `source` spells it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Source {
    /// A verified prebuilt archive (from whichever [`Origin`] says).
    Prebuilt,
    /// Built from source (`cargo install` / `go install`).
    Fallback,
    /// Nothing to do: that version's binaries were already there.
    AlreadyInstalled,
}

/// The result of one crate, as `--json` prints it.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct PackageResult {
    pub name: String,
    pub version: Option<String>,
    pub target: Option<String>,
    /// `prebuilt`, `fallback` or `already-installed`; `null` when it failed.
    pub source: Option<Source>,
    /// Which source: `index`, `quickinstall`, `upstream` or `build`; `null` when it failed or
    /// was already installed.
    pub origin: Option<Origin>,
    /// Whether a signature verified what was installed (a signed index entry or pool archive).
    pub signed: bool,
    pub binaries: Vec<String>,
    pub paths: Vec<String>,
    pub ok: bool,
    pub error: Option<String>,
    /// Whether the failure was a verification failure (exit status 3); not printed.
    #[serde(skip)]
    pub verification_failure: bool,
    /// Seconds this package took: its resolve, verify, download and unpack, plus the install
    /// step it shared with the rest of the batch (or its fallback build).
    pub seconds: f64,
}

/// A download's progress: a bar on a terminal, nothing otherwise.
pub struct Progress {
    bar: Option<ProgressBar>,
}

impl Progress {
    pub fn set(&self, bytes: u64) {
        if let Some(bar) = &self.bar {
            bar.set_position(bytes);
        }
    }

    pub fn finish(&self) {
        if let Some(bar) = &self.bar {
            bar.finish_and_clear();
        }
    }
}

impl Reporter {
    pub fn new(env: &Env, quiet: bool) -> Self {
        let tty = std::io::stderr().is_terminal();
        let bars = (tty && !env.is_ci() && !quiet)
            .then(|| MultiProgress::with_draw_target(ProgressDrawTarget::stderr()));
        Self {
            quiet,
            color: tty && !env.no_color(),
            verbosity: 0,
            bars,
            said: Mutex::default(),
        }
    }

    /// Applies an explicit colour choice (`--color`, else cargo's `term.color` /
    /// `CARGO_TERM_COLOR`): `always`, `never`, or `auto`/none (the terminal and `NO_COLOR`
    /// decide, as in [`Reporter::new`]).
    pub fn with_color(mut self, choice: Option<&str>) -> Self {
        match choice {
            Some("always") => self.color = true,
            Some("never") => self.color = false,
            _ => {}
        }
        self
    }

    /// Sets the `-v` count (ignored with `--quiet`).
    pub fn with_verbosity(mut self, verbosity: u8) -> Self {
        self.verbosity = verbosity;
        self
    }

    /// A `-v` line (`level` 1) or a `-vv` line (`level` 2): what was tried and why, for bug
    /// reports.
    pub fn verbose(&self, level: u8, message: &str) {
        if !self.quiet && self.verbosity >= level {
            self.prefixed("verbose", "35", message);
        }
    }

    /// A reporter that prints nothing but errors and uses no terminal features.
    pub fn plain(quiet: bool) -> Self {
        Self {
            quiet,
            color: false,
            verbosity: 0,
            bars: None,
            said: Mutex::default(),
        }
    }

    fn line(&self, label: &str, color: &str, message: &str) {
        let label = if self.color {
            format!("\x1b[1;{color}m{label:>12}\x1b[0m")
        } else {
            format!("{label:>12}")
        };
        let text = format!("{label} {message}");
        match &self.bars {
            Some(bars) => {
                let _ = bars.println(text);
            }
            None => eprintln!("{text}"),
        }
    }

    /// A cargo-style status line: `   Installed `x 1.0.0`…`.
    pub fn status(&self, label: &str, message: &str) {
        if !self.quiet {
            self.line(label, "32", message);
        }
    }

    /// A warning said once per run for `key` (a source that cannot be reached, whatever the
    /// number of packages that found it so): later ones with the same key are dropped, the
    /// packages' own "no prebuilt" lines still name it.
    pub fn warn_once(&self, key: &str, message: &str) {
        let first = self
            .said
            .lock()
            .map_or(true, |mut said| said.insert(key.to_owned()));
        if first {
            self.warn(message);
        }
    }

    pub fn warn(&self, message: &str) {
        if !self.quiet {
            self.prefixed("warning", "33", message);
        }
    }

    /// A `note:` line, such as the one-time telemetry notice; like warnings, silenced by
    /// `--quiet`.
    pub fn note(&self, message: &str) {
        if !self.quiet {
            self.prefixed("note", "36", message);
        }
    }

    /// An error, with an optional hint on its own line.
    pub fn error(&self, message: &str, hint: Option<&str>) {
        self.prefixed("error", "31", message);
        if let Some(hint) = hint {
            self.prefixed("help", "36", hint);
        }
    }

    fn prefixed(&self, label: &str, color: &str, message: &str) {
        let label = if self.color {
            format!("\x1b[1;{color}m{label}\x1b[0m")
        } else {
            label.to_owned()
        };
        let text = format!("{label}: {message}");
        match &self.bars {
            Some(bars) => {
                let _ = bars.println(text);
            }
            None => eprintln!("{text}"),
        }
    }

    /// Starts showing a download of `total` bytes (`None`: not known before it ends). Without
    /// a terminal, one plain line instead of a bar.
    pub fn download(&self, what: &str, total: Option<u64>) -> Progress {
        match &self.bars {
            Some(bars) => {
                let (bar, template) = match total {
                    Some(total) => (
                        ProgressBar::new(total),
                        "{prefix:>12} {msg} [{bar:30}] {bytes}/{total_bytes} {bytes_per_sec}",
                    ),
                    None => (
                        ProgressBar::no_length(),
                        "{prefix:>12} {msg} {bytes} {bytes_per_sec}",
                    ),
                };
                let bar = bars.add(bar);
                bar.set_style(
                    ProgressStyle::with_template(template)
                        .unwrap_or_else(|_| ProgressStyle::default_bar())
                        .progress_chars("=> "),
                );
                bar.set_prefix("Downloading");
                bar.set_message(what.to_owned());
                bar.enable_steady_tick(Duration::from_millis(120));
                Progress { bar: Some(bar) }
            }
            None => {
                let line = match total {
                    Some(total) => format!("{what} ({})", human_bytes(total)),
                    None => what.to_owned(),
                };
                self.status("Downloading", &line);
                Progress { bar: None }
            }
        }
    }

    /// One `--json` result line on stdout.
    pub fn json(&self, result: &PackageResult) {
        let line = serde_json::to_string(result).unwrap_or_default();
        let mut out = std::io::stdout().lock();
        let _ = writeln!(out, "{line}");
    }

    /// Any serialisable value as one JSON line on stdout (`gquick list --json`).
    pub fn json_value<T: Serialize>(&self, value: &T) {
        let line = serde_json::to_string(value).unwrap_or_default();
        let mut out = std::io::stdout().lock();
        let _ = writeln!(out, "{line}");
    }

    /// A line of data (a `--dry-run` plan) on stdout.
    pub fn data(&self, line: &str) {
        let mut out = std::io::stdout().lock();
        let _ = writeln!(out, "{line}");
    }
}

/// `5242880` → `5.0 MiB`.
pub fn human_bytes(n: u64) -> String {
    const UNITS: [&str; 4] = ["B", "KiB", "MiB", "GiB"];
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn human_bytes_reads_naturally() {
        assert_eq!(human_bytes(12), "12 B");
        assert_eq!(human_bytes(5 * 1024 * 1024), "5.0 MiB");
        assert_eq!(human_bytes(1536), "1.5 KiB");
    }

    #[test]
    fn json_results_have_the_documented_fields() {
        let r = PackageResult {
            name: "a".into(),
            version: Some("1.0.0".into()),
            target: None,
            source: Some(Source::Prebuilt),
            origin: Some(Origin::Index),
            signed: true,
            binaries: vec!["a".into()],
            paths: vec!["/r/bin/a".into()],
            ok: true,
            error: None,
            verification_failure: false,
            seconds: 0.0,
        };
        let v: serde_json::Value = serde_json::to_value(&r).unwrap();
        let keys: Vec<_> = v.as_object().unwrap().keys().cloned().collect();
        assert_eq!(
            keys,
            [
                "binaries", "error", "name", "ok", "origin", "paths", "seconds", "signed",
                "source", "target", "version"
            ]
        );
        // The documented spellings.
        assert_eq!(v["source"], "prebuilt");
        assert_eq!(v["origin"], "index");
        let spell = |s: Source| serde_json::to_value(s).unwrap();
        assert_eq!(spell(Source::Fallback), "fallback");
        assert_eq!(spell(Source::AlreadyInstalled), "already-installed");
        let spell = |o: Origin| serde_json::to_value(o).unwrap();
        for o in [
            Origin::Index,
            Origin::Quickinstall,
            Origin::Upstream,
            Origin::Build,
        ] {
            assert_eq!(spell(o), o.as_str());
        }
    }
}
