//! A crate whose resolution was fixed in advance (`--locked-tools`, from `quickinstall.lock`).
//!
//! Phase one takes the pinned version and archive as they are: no registry request, no index
//! lookup, no pool probe; the archive is the one request, its size and sha256 checked while
//! streaming by the driver (and the archive cache consulted first). A pin without a candidate
//! is a build: `cargo install --locked` of exactly that version. What to pin is
//! `crate::toolset`'s business.

use super::{Crates, Recorded};
use crate::cli::CrateSpec;
use crate::error::PackageError;
use crate::ops::driver::{Fallback, Plan};
use crate::source::{Candidate, Why};

/// A resolution fixed in advance.
#[derive(Debug, Clone)]
pub struct Pinned {
    pub version: semver::Version,
    /// The archive to install (its check a size and sha256); `None`: build from source.
    pub candidate: Option<Candidate>,
    /// Where the pin came from, for messages (`quickinstall.lock:12`).
    pub from: String,
}

impl Crates<'_> {
    pub(super) fn plan_pinned(&self, spec: &CrateSpec, pinned: &Pinned) -> Plan<Recorded> {
        let version = pinned.version.to_string();
        if let Some(bins) = self
            .already_installed(&spec.name, &version)
            .filter(|_| !self.request.run.force)
        {
            return Plan::Already {
                name: spec.name.clone(),
                version,
                bins,
            };
        }
        let Some(candidate) = pinned.candidate.clone() else {
            return Plan::Fallback(Fallback {
                name: spec.name.clone(),
                req: Some(format!("={version}")),
                version: Some(version),
                why: Why::because(format!("{} locks it as a build from source", pinned.from)),
            });
        };
        let target = candidate.target.clone();
        let extra = Recorded {
            version: pinned.version.clone(),
            req_text: spec.req_text.clone(),
        };
        match self.d.take(&spec.name, &version, candidate, extra) {
            Ok(plan) => plan,
            Err(why) => Plan::Failed {
                name: spec.name.clone(),
                version: Some(version.clone()),
                error: PackageError::NoPrebuilt {
                    name: spec.name.clone(),
                    version,
                    targets: format!("{target} ({why}; pinned by {})", pinned.from),
                    fallback: "cargo install",
                    details: String::new(),
                },
            },
        }
    }
}
