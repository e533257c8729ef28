//! The index package file (`src/index/format.rs`): parse and validate any bytes as the file of
//! the package they claim to describe, and check that an accepted file serialises to canonical
//! bytes that parse back to the same content (what `publish` relies on to stay idempotent).

#![no_main]

use libfuzzer_sys::fuzz_target;
use quickinstall::index::format::{PackageFile, PackageKind};
use quickinstall::index::path;

fuzz_target!(|data: &[u8]| {
    // Ask for the name the file claims, so parsing goes past the name check into validation.
    let claimed = serde_json::from_slice::<serde_json::Value>(data)
        .ok()
        .and_then(|v| v.get("name")?.as_str().map(str::to_owned))
        .unwrap_or_else(|| "qi-hello".to_owned());
    for kind in [PackageKind::Crate, PackageKind::Go] {
        let _ = path::package_file(kind, &claimed);
        let Ok(file) = PackageFile::parse(data, kind, &claimed) else {
            continue;
        };
        let canonical = file.to_bytes();
        let again = PackageFile::parse(&canonical, kind, &claimed)
            .expect("the canonical bytes of an accepted file are accepted");
        assert_eq!(
            again.to_bytes(),
            canonical,
            "canonical bytes are a fixed point"
        );
        for release in &file.releases {
            let found = file.releases_for(&release.version, std::slice::from_ref(&release.target));
            assert!(
                !found.is_empty(),
                "a listed release is found by its version and target"
            );
            let _ = path::archive_file(kind, &file.name, &release.version, &release.target);
        }
    }
});
