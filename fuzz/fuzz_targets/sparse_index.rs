//! The sparse-index reader (`src/registry/crates.rs`): the first line is the crate name asked
//! for, the second a `--version` argument, the rest the registry's file (one JSON object per
//! line). Parses, then picks a version as `cargo quickinstall name@version` would.

#![no_main]

use libfuzzer_sys::fuzz_target;
use quickinstall::registry::crates::{
    parse_index_file, parse_version_arg, pinned_version, select_version, sparse_path,
};

fuzz_target!(|data: &[u8]| {
    let mut parts = data.splitn(3, |b| *b == b'\n');
    let (Some(name), Some(version), Some(file)) = (parts.next(), parts.next(), parts.next()) else {
        return;
    };
    let name = String::from_utf8_lossy(name);
    let _ = sparse_path(&name);
    let versions = parse_index_file(file, &name);
    let req = parse_version_arg(&String::from_utf8_lossy(version)).ok();
    if let Some(req) = &req {
        let _ = pinned_version(req);
    }
    if let Ok(chosen) = select_version(&name, &versions, req.as_ref()) {
        assert!(!chosen.yanked, "a yanked version is never chosen");
        if let Some(req) = &req {
            assert!(req.matches(&chosen.version), "the chosen version matches");
        }
    }
    let _ = select_version(&name, &versions, None);
});
