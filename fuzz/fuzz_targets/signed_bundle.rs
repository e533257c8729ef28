//! The signed bundle (`src/index/signature.rs`): split any bytes into signature text and data,
//! decode and verify the signature against a test key (the one the seed bundles are signed
//! with, `fuzz/seeds/fuzz-key.pub`) and the built-in keys, parse the trusted comment, then parse
//! the data as a package file when it verified: the client's path from bundle to package file.

#![no_main]

use std::sync::LazyLock;

use libfuzzer_sys::fuzz_target;
use quickinstall::index::format::{PackageFile, PackageKind};
use quickinstall::index::signature::{TrustedComment, TrustedKeys, bundle, split_bundle};

/// The path the seed bundles were signed for.
const SEED_PATH: &str = "crates/qi/-h/qi-hello.json";

static KEYS: LazyLock<(TrustedKeys, TrustedKeys)> = LazyLock::new(|| {
    let mut test = TrustedKeys::empty();
    test.add_text(include_str!("../seeds/fuzz-key.pub"))
        .expect("the committed test key parses");
    (test, TrustedKeys::builtin())
});

fuzz_target!(|data: &[u8]| {
    let Some((signature, signed)) = split_bundle(data) else {
        return;
    };
    // Writing a bundle back gives the same split, whenever no signature line is empty (a real
    // minisign signature has none; `bundle` trims trailing newlines).
    if signature.lines().all(|l| !l.is_empty()) {
        let rebuilt = bundle(signature, signed);
        assert_eq!(split_bundle(&rebuilt), Some((signature, signed)));
    }
    let comment = signature
        .lines()
        .find_map(|l| l.strip_prefix("trusted comment: "))
        .unwrap_or_default();
    if let Some(parsed) = TrustedComment::parse(comment) {
        assert_eq!(TrustedComment::parse(&parsed.render()), Some(parsed));
    }
    let (test, builtin) = &*KEYS;
    let _ = builtin.verify(signed, signature, SEED_PATH);
    if let Ok(comment) = test.verify(signed, signature, SEED_PATH) {
        assert_eq!(comment.path, SEED_PATH);
        let _ = PackageFile::parse(signed, PackageKind::Crate, "qi-hello");
    }
});
