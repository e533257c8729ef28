//! Why no prebuilt was used for a package: a short headline and, when several sources were
//! asked, one line per source (`  index: it is not in the release index`), so that the reason
//! stays readable however many sources said no. Said before a build from source, in a
//! `--dry-run` plan and in the `--no-fallback` error; not how each source decides.

use std::fmt;

/// Why no prebuilt was used.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Why {
    /// One short clause: "it is private: it matches GOPRIVATE…", "no prebuilt for x86_64-…".
    pub headline: String,
    /// `(label, reason)` in the order asked: a source's name and its answer, or a fact they
    /// share (`crate`: where it comes from).
    pub lines: Vec<(String, String)>,
}

impl Why {
    /// One reason for everything (offline, private, locked as a build): no per-source lines.
    pub fn because(headline: impl Into<String>) -> Self {
        Self {
            headline: headline.into(),
            lines: Vec::new(),
        }
    }

    /// Each source's answer, in the order asked, under a headline naming the targets tried
    /// (so that no line needs to repeat them).
    pub fn per_source(targets: &[String], lines: Vec<(String, String)>) -> Self {
        Self {
            headline: format!("no prebuilt for {}", targets.join(", ")),
            lines,
        }
    }

    /// The per-source lines, each after a newline and indented by two spaces; empty when there
    /// are none. Appended to a headline that ends its own sentence.
    pub fn details(&self) -> String {
        self.lines
            .iter()
            .map(|(label, reason)| format!("\n  {label}: {reason}"))
            .collect()
    }
}

/// The headline, then [`Why::details`].
impl fmt::Display for Why {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}{}", self.headline, self.details())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_line_per_source_under_a_short_headline() {
        let why = Why::per_source(
            &["x86_64-unknown-linux-musl".into()],
            vec![
                ("index".into(), "it is not in the release index".into()),
                (
                    "upstream".into(),
                    "the crate declares no prebuilt releases".into(),
                ),
            ],
        );
        assert_eq!(
            why.to_string(),
            "no prebuilt for x86_64-unknown-linux-musl\n  index: it is not in the release index\n  upstream: the crate declares no prebuilt releases"
        );
        assert_eq!(Why::because("it is private").to_string(), "it is private");
    }
}
