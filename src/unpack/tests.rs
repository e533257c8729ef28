//! Unit tests for the unpacker: crafted archives, each refused for one named reason.

#![allow(clippy::unwrap_used)] // tests may unwrap (STYLE.md)

use std::io::Write;

use flate2::Compression;
use flate2::write::GzEncoder;
use tar::{Builder, EntryType, Header};

use super::entry::{Disposition, classify};
use super::tar_gz::Unpack;
use super::*;

/// One entry of a test archive: raw name bytes (written into the header as-is), kind, data.
struct Spec<'a> {
    name: &'a [u8],
    kind: EntryType,
    data: &'a [u8],
    link: Option<&'a str>,
}

fn file<'a>(name: &'a str, data: &'a [u8]) -> Spec<'a> {
    Spec {
        name: name.as_bytes(),
        kind: EntryType::Regular,
        data,
        link: None,
    }
}

fn of_kind(name: &str, kind: EntryType) -> Spec<'_> {
    Spec {
        name: name.as_bytes(),
        kind,
        data: b"",
        link: None,
    }
}

fn tar_bytes(specs: &[Spec]) -> Vec<u8> {
    let mut builder = Builder::new(Vec::new());
    for spec in specs {
        let mut header = Header::new_gnu();
        // Write the name bytes ourselves: `set_path` refuses `..` and absolute paths, which
        // are exactly what these tests need.
        let field = &mut header.as_old_mut().name;
        field.fill(0);
        field[..spec.name.len()].copy_from_slice(spec.name);
        header.set_entry_type(spec.kind);
        header.set_size(spec.data.len() as u64);
        header.set_mode(0o4777);
        if let Some(link) = spec.link {
            header.set_link_name(link).unwrap();
        }
        header.set_cksum();
        builder.append(&header, spec.data).unwrap();
    }
    builder.into_inner().unwrap()
}

fn gzip(bytes: &[u8]) -> Vec<u8> {
    let mut gz = GzEncoder::new(Vec::new(), Compression::fast());
    gz.write_all(bytes).unwrap();
    gz.finish().unwrap()
}

struct Fixture {
    _dir: tempfile::TempDir,
    archive: PathBuf,
    staging: PathBuf,
}

fn fixture(gz_bytes: &[u8]) -> Fixture {
    let dir = tempfile::tempdir().unwrap();
    let archive = dir.path().join("a.tar.gz");
    fs::write(&archive, gz_bytes).unwrap();
    let staging = dir.path().join("staging");
    fs::create_dir(&staging).unwrap();
    Fixture {
        _dir: dir,
        archive,
        staging,
    }
}

fn names(list: &[&str]) -> Vec<String> {
    list.iter().map(|s| (*s).to_owned()).collect()
}

fn staging_entries(f: &Fixture) -> Vec<String> {
    let mut v: Vec<_> = fs::read_dir(&f.staging)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    v.sort();
    v
}

/// Unpacks, expects a refusal, and checks that staging was left empty.
/// The same archive held in memory is refused for the same reason.
fn refused(specs: &[Spec], expected: &[&str]) -> UnpackError {
    let gz = gzip(&tar_bytes(specs));
    let f = fixture(&gz);
    let err = unpack_archive(&f.archive, &f.staging, &names(expected)).unwrap_err();
    assert_eq!(
        staging_entries(&f),
        Vec::<String>::new(),
        "staging not empty"
    );
    let m = fixture(b"");
    let expected = names(expected);
    let in_memory =
        unpack_selected_bytes(&gz, &f.archive, &m.staging, &expected, &expected).unwrap_err();
    assert_eq!(in_memory.to_string(), err.to_string());
    assert_eq!(
        staging_entries(&m),
        Vec::<String>::new(),
        "staging not empty"
    );
    err
}

/// Unpacks `archive`'s file with `limit` as the cap, every listed binary wanted.
fn unpack_with_limit(
    archive: &Path,
    staging: &Path,
    listed: &[String],
    limit: u64,
) -> Result<Vec<StagedBinary>, UnpackError> {
    Unpack {
        archive,
        staging,
        listed,
        wanted: listed,
        limit,
    }
    .file()
}

fn entry_problem(err: &UnpackError) -> (String, EntryProblem) {
    match err {
        UnpackError::Entry { entry, problem, .. } => (entry.clone(), *problem),
        other => panic!("expected an entry error, got {other}"),
    }
}

#[test]
fn extracts_listed_binaries_with_mode_0755_and_skips_licenses() {
    let f = fixture(&gzip(&tar_bytes(&[
        file("LICENSE-MIT", b"mit"),
        file("rg", b"binary rg"),
        file("COPYING", b"gpl"),
        file("rg-helper", b"helper"),
    ])));
    let staged = unpack_archive(&f.archive, &f.staging, &names(&["rg", "rg-helper"])).unwrap();
    assert_eq!(
        staged,
        vec![
            StagedBinary {
                name: "rg".into(),
                path: f.staging.join("rg")
            },
            StagedBinary {
                name: "rg-helper".into(),
                path: f.staging.join("rg-helper")
            },
        ]
    );
    assert_eq!(fs::read(f.staging.join("rg")).unwrap(), b"binary rg");
    assert_eq!(staging_entries(&f), ["rg", "rg-helper"]);
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        // The header said 04777 (setuid); none of it is applied.
        let mode = fs::metadata(f.staging.join("rg"))
            .unwrap()
            .permissions()
            .mode();
        assert_eq!(mode & 0o7777, 0o755);
    }
}

#[test]
fn refuses_parent_dir_path() {
    let err = refused(&[file("rg", b"ok"), file("../x", b"evil")], &["rg"]);
    assert_eq!(
        entry_problem(&err),
        ("../x".into(), EntryProblem::ParentDir)
    );
    assert!(err.to_string().contains("`../x`"), "{err}");
}

#[test]
fn refuses_absolute_path() {
    let err = refused(&[file("rg", b"ok"), file("/abs", b"evil")], &["rg"]);
    assert_eq!(entry_problem(&err), ("/abs".into(), EntryProblem::Absolute));
}

#[test]
fn refuses_nested_and_dotted_paths() {
    for name in ["bin/rg", "./rg", "rg/", "."] {
        let err = refused(&[file(name, b"x")], &["rg"]);
        assert_eq!(entry_problem(&err).1, EntryProblem::NotTopLevel, "{name}");
    }
}

#[test]
fn refuses_symlink() {
    let mut spec = of_kind("rg", EntryType::Symlink);
    spec.link = Some("/etc/passwd");
    let err = refused(&[spec], &["rg"]);
    assert_eq!(entry_problem(&err), ("rg".into(), EntryProblem::Symlink));
}

#[test]
fn refuses_hardlink() {
    let mut spec = of_kind("rg2", EntryType::Link);
    spec.link = Some("rg");
    let err = refused(&[file("rg", b"ok"), spec], &["rg", "rg2"]);
    assert_eq!(entry_problem(&err), ("rg2".into(), EntryProblem::HardLink));
}

#[test]
fn refuses_devices_fifos_and_directories() {
    let cases = [
        (EntryType::Char, EntryProblem::Device),
        (EntryType::Block, EntryProblem::Device),
        (EntryType::Fifo, EntryProblem::Fifo),
        (EntryType::Directory, EntryProblem::Directory),
        (EntryType::Continuous, EntryProblem::UnsupportedKind),
    ];
    for (kind, problem) in cases {
        let err = refused(&[of_kind("rg", kind)], &["rg"]);
        assert_eq!(entry_problem(&err).1, problem, "{kind:?}");
    }
}

#[test]
fn refuses_duplicate_entries_even_differing_in_case() {
    let err = refused(&[file("rg", b"one"), file("rg", b"two")], &["rg"]);
    assert_eq!(entry_problem(&err), ("rg".into(), EntryProblem::Duplicate));
    let err = refused(
        &[
            file("rg", b"ok"),
            file("LICENSE", b"a"),
            file("license", b"b"),
        ],
        &["rg"],
    );
    assert_eq!(entry_problem(&err).1, EntryProblem::Duplicate);
}

#[test]
fn refuses_unexpected_file() {
    let err = refused(&[file("rg", b"ok"), file("install.sh", b"x")], &["rg"]);
    assert_eq!(
        entry_problem(&err),
        ("install.sh".into(), EntryProblem::Unexpected)
    );
    assert!(err.to_string().contains("unexpected file"), "{err}");
}

#[test]
fn refuses_names_that_are_not_plain_file_names() {
    let err = refused(&[file(".hidden", b"x")], &["rg"]);
    assert_eq!(entry_problem(&err).1, EntryProblem::InvalidName);
    let err = refused(
        &[Spec {
            name: b"r\xffg",
            kind: EntryType::Regular,
            data: b"",
            link: None,
        }],
        &["rg"],
    );
    assert_eq!(entry_problem(&err).1, EntryProblem::InvalidName);
}

#[test]
fn refuses_a_missing_binary() {
    let err = refused(&[file("rg", b"ok")], &["rg", "rga"]);
    assert!(
        matches!(&err, UnpackError::MissingBinary { name, .. } if name == "rga"),
        "{err}"
    );
}

#[test]
fn refuses_a_truncated_archive() {
    let full = gzip(&tar_bytes(&[file("rg", &[7u8; 100_000])]));
    for cut in [full.len() / 2, full.len() - 4] {
        let f = fixture(&full[..cut]);
        let err = unpack_archive(&f.archive, &f.staging, &names(&["rg"])).unwrap_err();
        assert!(
            matches!(err, UnpackError::Corrupt { .. }),
            "cut {cut}: {err}"
        );
        assert!(err.to_string().contains("corrupt or truncated"), "{err}");
        assert_eq!(staging_entries(&f), Vec::<String>::new());
    }
}

#[test]
fn refuses_an_archive_that_unpacks_beyond_the_cap() {
    let specs = [file("rg", &[1u8; 600]), file("rga", &[2u8; 600])];
    let f = fixture(&gzip(&tar_bytes(&specs)));
    let expected = names(&["rg", "rga"]);
    let err = unpack_with_limit(&f.archive, &f.staging, &expected, 1000).unwrap_err();
    assert!(
        matches!(err, UnpackError::TooLarge { limit: 1000, .. }),
        "{err}"
    );
    assert_eq!(staging_entries(&f), Vec::<String>::new());
    // A cap that leaves room for everything the stream inflates to (headers, padded data,
    // end-of-archive blocks) passes.
    let tar = tar_bytes(&specs);
    let f = fixture(&gzip(&tar));
    let whole = tar.len() as u64;
    assert!(unpack_with_limit(&f.archive, &f.staging, &expected, whole).is_ok());
    let f = fixture(&gzip(&tar));
    assert!(unpack_with_limit(&f.archive, &f.staging, &expected, whole - 1).is_err());
}

#[test]
fn skipped_entries_count_toward_the_cap() {
    // A license file is skipped, not written, but inflating it still costs: a bomb hidden
    // in a skipped entry must be refused, not inflated in full.
    let bomb = vec![0u8; 64 * 1024];
    let specs = [file("rg", b"ok"), file("LICENSE", &bomb)];
    let f = fixture(&gzip(&tar_bytes(&specs)));
    let expected = names(&["rg"]);
    let err = unpack_with_limit(&f.archive, &f.staging, &expected, 16 * 1024).unwrap_err();
    assert!(
        matches!(err, UnpackError::TooLarge { limit: 16384, .. }),
        "{err}"
    );
    assert_eq!(staging_entries(&f), Vec::<String>::new());
}

#[test]
fn refuses_bytes_that_are_not_gzip() {
    let f = fixture(&tar_bytes(&[file("rg", b"ok")]));
    let err = unpack_archive(&f.archive, &f.staging, &names(&["rg"])).unwrap_err();
    assert!(matches!(err, UnpackError::Corrupt { .. }), "{err}");
}

#[test]
fn entry_names_in_messages_cannot_carry_terminal_escapes() {
    let err = refused(
        &[Spec {
            name: b"a\x1b[31m/b",
            kind: EntryType::Regular,
            data: b"",
            link: None,
        }],
        &["rg"],
    );
    assert!(!err.to_string().contains('\x1b'), "{err}");
    assert!(err.to_string().contains("\\u{1b}"), "{err}");
}

#[test]
fn a_corrupt_header_cannot_put_its_name_raw_into_the_message() {
    // Found by `fuzz/run.sh` (target `unpack`): the tar reader's own error quotes the
    // header's name, so a crafted name with a bad checksum field reached the terminal.
    let mut bytes = tar_bytes(&[Spec {
        name: b"LICENSE\n\x1b[31mF",
        kind: EntryType::Regular,
        data: b"",
        link: None,
    }]);
    bytes[148..156].copy_from_slice(b"zzzzzzz\0");
    let f = fixture(&gzip(&bytes));
    let err = unpack_archive(&f.archive, &f.staging, &names(&["rg"])).unwrap_err();
    assert!(matches!(err, UnpackError::Corrupt { .. }), "{err}");
    let text = err.to_string();
    assert!(!text.chars().any(char::is_control), "{text:?}");
    assert!(text.contains("LICENSE\\n\\u{1b}[31mF"), "{text:?}");
}

#[test]
fn selected_unpacking_skips_listed_binaries_not_asked_for() {
    let f = fixture(&gzip(&tar_bytes(&[
        file("alpha", b"a"),
        file("beta", b"b"),
    ])));
    let staged = unpack_selected(
        &f.archive,
        &f.staging,
        &names(&["alpha", "beta"]),
        &names(&["beta"]),
    )
    .unwrap();
    assert_eq!(staged.len(), 1);
    assert_eq!(staged[0].name, "beta");
    assert_eq!(staging_entries(&f), vec!["beta".to_owned()]);
    // A binary the signed entry does not list is still refused.
    let f = fixture(&gzip(&tar_bytes(&[
        file("alpha", b"a"),
        file("gamma", b"c"),
    ])));
    let err = unpack_selected(
        &f.archive,
        &f.staging,
        &names(&["alpha"]),
        &names(&["alpha"]),
    )
    .unwrap_err();
    assert!(err.to_string().contains("gamma"), "{err}");
}

#[test]
fn classify_accepts_binaries_and_licenses_only() {
    let expected = names(&["license-checker"]);
    assert_eq!(
        classify(b"license-checker", EntryType::Regular, &expected, &expected),
        Ok(Disposition::Binary("license-checker".into()))
    );
    for license in [
        "LICENSE",
        "LICENSE-APACHE",
        "Licence.txt",
        "COPYING",
        "NOTICE",
    ] {
        assert_eq!(
            classify(license.as_bytes(), EntryType::Regular, &expected, &expected),
            Ok(Disposition::Skip),
            "{license}"
        );
    }
    assert_eq!(
        classify(b"README.md", EntryType::Regular, &expected, &expected),
        Err(EntryProblem::Unexpected)
    );
}

#[test]
fn an_archive_in_memory_unpacks_like_the_same_file() {
    let gz = gzip(&tar_bytes(&[
        file("LICENSE", b"mit"),
        file("rg", b"binary rg"),
    ]));
    let m = fixture(b"");
    let listed = names(&["rg"]);
    let staged =
        unpack_selected_bytes(&gz, Path::new("a.tar.gz"), &m.staging, &listed, &listed).unwrap();
    assert_eq!(staged.len(), 1);
    assert_eq!(fs::read(m.staging.join("rg")).unwrap(), b"binary rg");
    // A gzip stream cut short is refused as corrupt, and leaves nothing.
    let cut = &gz[..gz.len() - 4];
    let t = fixture(b"");
    let err = unpack_selected_bytes(cut, Path::new("a.tar.gz"), &t.staging, &listed, &listed)
        .unwrap_err();
    assert!(matches!(err, UnpackError::Corrupt { .. }), "{err}");
    assert_eq!(staging_entries(&t), Vec::<String>::new());
}

#[test]
fn an_archive_in_memory_is_judged_like_the_same_file_however_it_is_inflated() {
    // In memory, an archive is inflated in one piece where it can be, streamed otherwise: bytes
    // after the gzip member, a trailer that claims too little or too much, a flipped CRC and a
    // cap below the tar's length must each end as they do for the same file.
    let tar = tar_bytes(&[file("LICENSE", b"mit"), file("rg", &[9u8; 70_000])]);
    let gz = gzip(&tar);
    let at = gz.len() - 4;
    let with_trailer = |claim: u32| {
        let mut b = gz.clone();
        b[at..].copy_from_slice(&claim.to_le_bytes());
        b
    };
    let mut trailing = gz.clone();
    trailing.extend_from_slice(b"trailing bytes");
    let mut crc = gz.clone();
    crc[at - 1] ^= 0x40;
    let whole = tar.len() as u64;
    let cases = [
        ("intact", gz.clone(), whole),
        ("trailing bytes", trailing, whole),
        ("short trailer", with_trailer(1000), whole),
        (
            "long trailer",
            with_trailer(tar.len() as u32 + 512),
            whole + 512,
        ),
        ("flipped CRC", crc, whole),
        ("cap below the tar", gz.clone(), whole - 1),
    ];
    let listed = names(&["rg"]);
    for (case, bytes, limit) in cases {
        let f = fixture(&bytes);
        let from_file = unpack_with_limit(&f.archive, &f.staging, &listed, limit)
            .map(|staged| fs::read(&staged[0].path).unwrap())
            .map_err(|e| e.to_string());
        let m = fixture(b"");
        let from_memory = Unpack {
            archive: &f.archive,
            staging: &m.staging,
            listed: &listed,
            wanted: &listed,
            limit,
        }
        .bytes(&bytes)
        .map(|staged| fs::read(&staged[0].path).unwrap())
        .map_err(|e| e.to_string());
        assert_eq!(from_memory, from_file, "{case}");
        if case == "intact" {
            assert_eq!(from_memory, Ok(vec![9u8; 70_000]));
        }
        if from_memory.is_err() {
            assert_eq!(staging_entries(&m), Vec::<String>::new(), "{case}");
        }
    }
}
