//! The unpacker (`src/unpack.rs`): any bytes as a `.tar.gz` unpacked into a fresh scratch
//! directory, both as a crate archive (every listed binary wanted) and as a Go module's (one of
//! two wanted), from a file and from memory (where it is inflated whole when it can be).
//! Checks the contract: on refusal nothing stays in the staging directory and the message is
//! printable (no newline or terminal escape from a crafted name); on success it holds exactly
//! the wanted binaries, as regular executable files, in that order; and memory and file agree,
//! on the message as on the bytes written.

#![no_main]

#[path = "scratch.rs"]
mod scratch;

use std::fs;
use std::os::unix::fs::PermissionsExt;
use std::path::Path;

use libfuzzer_sys::fuzz_target;
use quickinstall::unpack::{
    StagedBinary, UnpackError, unpack_archive, unpack_selected, unpack_selected_bytes,
};

fuzz_target!(|data: &[u8]| {
    let dir = scratch::dir("qi-fuzz-unpack-");
    let archive = dir.path().join("qi-hello.tar.gz");
    fs::write(&archive, data).expect("the scratch archive can be written");
    let listed = ["qi-hello".to_owned(), "qi-hello-admin".to_owned()];
    let wanted = ["qi-hello".to_owned()];

    let all = dir.path().join("all");
    fs::create_dir(&all).expect("staging");
    check(&all, &listed, unpack_archive(&archive, &all, &listed));

    let some = dir.path().join("some");
    fs::create_dir(&some).expect("staging");
    let from_file = unpack_selected(&archive, &some, &listed, &wanted);
    let file_outcome = outcome(&from_file);
    check(&some, &wanted, from_file);

    let memory = dir.path().join("memory");
    fs::create_dir(&memory).expect("staging");
    let from_memory = unpack_selected_bytes(data, &archive, &memory, &listed, &wanted);
    assert_eq!(
        outcome(&from_memory),
        file_outcome,
        "memory and file disagree"
    );
    check(&memory, &wanted, from_memory);
});

/// The error's text, or each staged binary's contents.
fn outcome(result: &Result<Vec<StagedBinary>, UnpackError>) -> Result<Vec<Vec<u8>>, String> {
    match result {
        Ok(staged) => Ok(staged
            .iter()
            .map(|b| fs::read(&b.path).expect("staged file"))
            .collect()),
        Err(e) => Err(e.to_string()),
    }
}

fn check(staging: &Path, wanted: &[String], result: Result<Vec<StagedBinary>, UnpackError>) {
    let mut present: Vec<String> = fs::read_dir(staging)
        .expect("the staging directory is still there")
        .map(|e| e.expect("entry").file_name().to_string_lossy().into_owned())
        .collect();
    present.sort();
    match result {
        Err(e) => {
            assert!(present.is_empty(), "{e}, yet {present:?} stayed behind");
            let text = e.to_string();
            assert!(!text.chars().any(char::is_control), "printable: {text:?}");
        }
        Ok(staged) => {
            let names: Vec<&str> = staged.iter().map(|s| s.name.as_str()).collect();
            assert_eq!(names, wanted, "the wanted binaries, in order");
            let mut expected = wanted.to_vec();
            expected.sort();
            assert_eq!(present, expected, "nothing but the wanted binaries");
            for binary in &staged {
                assert_eq!(binary.path, staging.join(&binary.name));
                let meta = fs::symlink_metadata(&binary.path).expect("staged file");
                assert!(
                    meta.file_type().is_file(),
                    "{} is a regular file",
                    binary.name
                );
                assert_eq!(meta.permissions().mode() & 0o777, 0o755);
            }
        }
    }
}
