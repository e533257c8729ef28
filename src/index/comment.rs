//! The trusted comment of an index file's signature: `quickinstall-index v1 path=… timestamp=…
//! expires=…` (see `docs/index-format.md`, "Signature").
//!
//! Rendering and parsing only; minisign covers the comment with its global signature, and
//! [`crate::index::signature`] judges what it says (path, window, expiry).

const COMMENT_TAG: &str = "quickinstall-index v1";

/// What the signed (trusted) comment of an index file binds.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TrustedComment {
    /// The file's path relative to the index root, e.g. `crates/ri/pg/ripgrep.json`.
    pub path: String,
    /// Unix seconds at which the file was signed.
    pub timestamp: u64,
    /// Unix seconds after which the signature is no longer accepted. Required under a
    /// delegation; optional for a directly trusted key (older indexes have none).
    pub expires: Option<u64>,
}

impl TrustedComment {
    pub fn render(&self) -> String {
        let mut text = format!(
            "{COMMENT_TAG} path={} timestamp={}",
            self.path, self.timestamp
        );
        if let Some(expires) = self.expires {
            text.push_str(&format!(" expires={expires}"));
        }
        text
    }

    pub fn parse(text: &str) -> Option<Self> {
        let rest = text.strip_prefix(COMMENT_TAG)?.strip_prefix(' ')?;
        let mut path = None;
        let mut timestamp = None;
        let mut expires = None;
        for field in rest.split(' ') {
            match field.split_once('=')? {
                ("path", p) if !p.is_empty() => path = Some(p.to_owned()),
                ("timestamp", t) => timestamp = Some(t.parse().ok()?),
                ("expires", t) => expires = Some(t.parse().ok()?),
                _ => {}
            }
        }
        Some(Self {
            path: path?,
            timestamp: timestamp?,
            expires,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn trusted_comment_round_trips() {
        let c = TrustedComment {
            path: "crates/2/ab.json".into(),
            timestamp: 7,
            expires: Some(9),
        };
        assert_eq!(TrustedComment::parse(&c.render()), Some(c));
        assert_eq!(TrustedComment::parse("timestamp:1 file:x"), None);
    }
}
