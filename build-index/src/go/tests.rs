//! Tests of Go module builds: naming, classification, package checks and real `go build`s.

use super::*;

#[test]
fn stems_are_plain_file_names_unique_per_module() {
    assert_eq!(
        stem("example.com/Tool/v2", "v2.0.0", "x86_64-unknown-linux-musl"),
        "example.com+!tool+v2-v2.0.0-x86_64-unknown-linux-musl"
    );
}

#[test]
fn go_diagnostics_classify_as_compile_errors() {
    assert_eq!(
        classify("# example.com/tool\n./main.go:3:9: undefined: x"),
        history::Reason::CompileError
    );
    assert_eq!(classify("go: downloading x"), history::Reason::Other);
}

#[test]
fn packages_must_belong_to_the_module_and_have_distinct_names() {
    let m = "example.com/tool";
    assert!(
        check_packages(
            m,
            &["example.com/tool".into(), "example.com/tool/cmd/a".into()]
        )
        .is_ok()
    );
    assert!(check_packages(m, &["example.com/toolbox/a".into()]).is_err());
    let names = binary_names(
        &["example.com/tool/v2".into(), "example.com/x/a".into()],
        "linux",
    )
    .unwrap();
    assert_eq!(names[0].1, "tool");
    let err = binary_names(
        &["example.com/a/x".into(), "example.com/b/x".into()],
        "windows",
    )
    .unwrap_err();
    assert!(err.to_string().contains("`x.exe`"), "{err}");
}
