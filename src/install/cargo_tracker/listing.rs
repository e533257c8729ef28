//! The two listings: `.crates.toml` (v1, package id → binaries) and `.crates2.json` (v2,
//! package id → how it was installed), with cargo's rules for marking an install and for
//! syncing v2 from v1. Pure data; the files are read and written in [`super::CargoTracker`].

use std::collections::{BTreeMap, BTreeSet};

use serde::{Deserialize, Serialize};

use super::PackageId;

/// `.crates.toml`: package id → binary names. cargo keeps no other key here; unknown ones are
/// kept anyway, in case a later cargo adds some.
#[derive(Default, Debug, Deserialize, Serialize)]
pub(super) struct ListingV1 {
    pub(super) v1: BTreeMap<PackageId, BTreeSet<String>>,
    #[serde(flatten)]
    other: BTreeMap<String, toml::Value>,
}

/// `.crates2.json`: package id → how it was installed.
#[derive(Default, Debug, Deserialize, Serialize)]
pub(super) struct ListingV2 {
    pub(super) installs: BTreeMap<PackageId, InstallInfo>,
    #[serde(flatten)]
    other: BTreeMap<String, serde_json::Value>,
}

/// cargo's `InstallInfo`, field for field and in the same order (the JSON follows it).
#[derive(Debug, Clone, Deserialize, Serialize)]
pub(super) struct InstallInfo {
    pub(super) version_req: Option<String>,
    pub(super) bins: BTreeSet<String>,
    features: BTreeSet<String>,
    all_features: bool,
    no_default_features: bool,
    pub(super) profile: String,
    pub(super) target: Option<String>,
    rustc: Option<String>,
    #[serde(flatten)]
    other: BTreeMap<String, serde_json::Value>,
}

impl InstallInfo {
    /// What cargo assumes for an entry only v1 knows about.
    pub(super) fn from_v1(bins: &BTreeSet<String>) -> Self {
        Self {
            version_req: None,
            bins: bins.clone(),
            features: BTreeSet::new(),
            all_features: false,
            no_default_features: false,
            profile: "release".to_owned(),
            target: None,
            rustc: None,
            other: BTreeMap::new(),
        }
    }
}

impl ListingV1 {
    /// cargo's `CrateListingV1::mark_installed`.
    pub(super) fn mark_installed(&mut self, id: &PackageId, bins: &BTreeSet<String>) {
        for other_bins in self.v1.values_mut() {
            for bin in bins {
                other_bins.remove(bin);
            }
        }
        self.v1.retain(|_, set| !set.is_empty());
        self.v1
            .entry(id.clone())
            .or_default()
            .extend(bins.iter().cloned());
    }
}

impl ListingV2 {
    /// cargo's `sync_v1`: v1 is the source of truth, since an older cargo may have changed it
    /// alone.
    pub(super) fn sync_v1(&mut self, v1: &ListingV1) {
        for (id, bins) in &v1.v1 {
            self.installs
                .entry(id.clone())
                .and_modify(|info| info.bins = bins.clone())
                .or_insert_with(|| InstallInfo::from_v1(bins));
        }
        self.installs.retain(|id, _| v1.v1.contains_key(id));
    }

    /// cargo's `CrateListingV2::mark_installed`, for a release build with default features.
    pub(super) fn mark_installed(
        &mut self,
        id: &PackageId,
        bins: &BTreeSet<String>,
        version_req: Option<String>,
        target: &str,
        rustc: Option<String>,
    ) {
        for info in self.installs.values_mut() {
            for bin in bins {
                info.bins.remove(bin);
            }
        }
        self.installs.retain(|_, info| !info.bins.is_empty());
        let info = self
            .installs
            .entry(id.clone())
            .or_insert_with(|| InstallInfo::from_v1(&BTreeSet::new()));
        info.bins.extend(bins.iter().cloned());
        info.version_req = version_req;
        info.features = BTreeSet::new();
        info.all_features = false;
        info.no_default_features = false;
        info.profile = "release".to_owned();
        info.target = Some(target.to_owned());
        info.rustc = rustc;
    }
}
