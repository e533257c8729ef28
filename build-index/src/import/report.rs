//! What one `build-index import` did: the releases imported (or already there), and every
//! entry skipped (not applicable) or failed (a check refused it), grouped by reason. Printed
//! as text on stdout and, with `--report FILE`, written as JSON.

use std::collections::BTreeMap;

use serde::Serialize;

/// Why an entry was skipped (nothing wrong with it, but not importable) or failed (a check
/// refused it). The kebab-case name is the key in the report.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Reason {
    // skipped
    Unsigned,
    UnsupportedTarget,
    UnknownBuilder,
    SeveralBinaries,
    NotInRegistry,
    CommitNotATag,
    NoCommandPackage,
    OursWins,
    // failed
    BadSignature,
    BadArchive,
    ChecksumMismatch,
    SizeMismatch,
    Download,
    NotStatic,
    WrongArchitecture,
    InvalidName,
    InvalidEntry,
    Duplicate,
    BadMetadata,
}

impl Reason {
    /// Whether the reason is a refused check (`failed`) rather than a skip.
    pub fn is_failure(self) -> bool {
        self >= Self::BadSignature
    }

    fn key(self) -> String {
        serde_json::to_value(self)
            .ok()
            .and_then(|v| v.as_str().map(str::to_owned))
            .unwrap_or_default()
    }
}

/// The report. Entries are described as `<name> <version> <target>` (or what the source gave).
#[derive(Debug, Default, Serialize, PartialEq, Eq)]
pub struct Report {
    /// Releases written into the index by this run.
    pub imported: Vec<String>,
    /// Releases the index already held exactly (a re-run).
    pub unchanged: Vec<String>,
    /// Reason → the entries skipped for it, each with the detail.
    pub skipped: BTreeMap<String, Vec<String>>,
    /// Reason → the entries refused for it, each with the detail.
    pub failed: BTreeMap<String, Vec<String>>,
}

impl Report {
    /// Records an entry that was not imported.
    pub fn refuse(&mut self, reason: Reason, entry: &str, detail: &str) {
        let list = if reason.is_failure() {
            &mut self.failed
        } else {
            &mut self.skipped
        };
        let line = if detail.is_empty() {
            entry.to_owned()
        } else {
            format!("{entry}: {detail}")
        };
        list.entry(reason.key()).or_default().push(line);
    }

    /// Sorts every list, so a report does not depend on download order.
    pub fn finish(&mut self) {
        self.imported.sort();
        self.unchanged.sort();
        for list in self.skipped.values_mut().chain(self.failed.values_mut()) {
            list.sort();
        }
    }

    /// The text printed on stdout.
    pub fn text(&self) -> String {
        let count = |m: &BTreeMap<String, Vec<String>>| m.values().map(Vec::len).sum::<usize>();
        let mut out = format!(
            "imported {}, unchanged {}, skipped {}, failed {}\n",
            self.imported.len(),
            self.unchanged.len(),
            count(&self.skipped),
            count(&self.failed)
        );
        for line in &self.imported {
            out.push_str(&format!("imported {line}\n"));
        }
        for (word, map) in [("skipped", &self.skipped), ("failed", &self.failed)] {
            for (reason, lines) in map {
                for line in lines {
                    out.push_str(&format!("{word} ({reason}) {line}\n"));
                }
            }
        }
        out
    }
}
