use std::path::{Path, PathBuf};

use super::source::{Origin, Requested};
use super::*;

fn config(env: &[(&str, &str)], files: &[(&str, &str)]) -> Result<CargoConfig, ConfigError> {
    let env = Env::from_pairs(Path::new("/w/p"), env.iter().copied());
    let texts: Vec<(PathBuf, String)> = files
        .iter()
        .map(|(p, t)| (PathBuf::from(p), (*t).to_owned()))
        .collect();
    let paths = texts.iter().map(|(p, _)| p.clone()).collect();
    CargoConfig::from_texts(&env, &texts, paths)
}

#[test]
fn deeper_files_win_tables_merge_and_environment_wins_over_all() {
    let deep = r#"
        registry.default = "deep"
        [registries.deep]
        index = "sparse+http://deep/"
        [http]
        timeout = 5
    "#;
    let home = r#"
        registry.default = "home"
        install.root = "inst"
        [registries.home]
        index = "sparse+http://home/"
        [http]
        timeout = 9
        proxy = "http://proxy:3128"
        [net]
        retry = 7
    "#;
    let c = config(
        &[],
        &[("/w/p/.cargo/config.toml", deep), ("/ch/config.toml", home)],
    )
    .unwrap();
    assert_eq!(c.registry_default.as_ref().unwrap().value, "deep");
    assert_eq!(
        c.registry_default.as_ref().unwrap().origin,
        "/w/p/.cargo/config.toml"
    );
    assert_eq!(c.http_timeout.as_ref().unwrap().value, 5);
    // Keys only the shallower file sets survive the merge.
    assert_eq!(c.http_proxy.as_ref().unwrap().value, "http://proxy:3128");
    assert_eq!(c.net_retry.as_ref().unwrap().value, 7);
    assert_eq!(
        c.registry_index("home").unwrap().value,
        "sparse+http://home/"
    );
    // A relative path is relative to the directory holding the config's directory.
    assert_eq!(c.install_root.as_ref().unwrap().value, Path::new("/inst"));

    let c = config(
        &[
            ("CARGO_REGISTRY_DEFAULT", "env"),
            ("CARGO_REGISTRIES_MY_REG_INDEX", "sparse+http://env/"),
            ("CARGO_INSTALL_ROOT", "rel"),
            ("CARGO_HTTP_TIMEOUT", "3"),
            ("CARGO_NET_OFFLINE", "true"),
            ("CARGO_TERM_COLOR", "always"),
            ("CARGO_TERM_QUIET", "true"),
            ("CARGO_BUILD_TARGET", "x86_64-unknown-linux-musl"),
        ],
        &[("/w/p/.cargo/config.toml", deep)],
    )
    .unwrap();
    assert_eq!(c.registry_default.as_ref().unwrap().value, "env");
    assert_eq!(
        c.registry_index("my-reg").unwrap().value,
        "sparse+http://env/"
    );
    assert_eq!(
        c.install_root.as_ref().unwrap().value,
        Path::new("/w/p/rel")
    );
    assert_eq!(c.http_timeout.as_ref().unwrap().value, 3);
    assert!(c.offline());
    assert_eq!(c.term_color.as_ref().unwrap().value, "always");
    assert!(c.term_quiet.as_ref().unwrap().value);
    assert_eq!(
        c.build_target.as_ref().unwrap().value,
        "x86_64-unknown-linux-musl"
    );
}

#[test]
fn bad_files_and_values_are_named() {
    let e = config(&[], &[("/w/.cargo/config.toml", "registry = [")]).unwrap_err();
    assert!(e.message.contains("/w/.cargo/config.toml"), "{e}");
    let e = config(&[("CARGO_NET_OFFLINE", "yes")], &[]).unwrap_err();
    assert!(e.message.contains("CARGO_NET_OFFLINE"), "{e}");
    let e = config(&[("CARGO_HTTP_TIMEOUT", "soon")], &[]).unwrap_err();
    assert!(e.message.contains("CARGO_HTTP_TIMEOUT"), "{e}");
}

#[test]
fn registry_choice_and_replacement_follow_cargo() {
    let file = r#"
        registry.default = "corp"
        [registries.corp]
        index = "sparse+http://corp/"
        [registries.git-reg]
        index = "https://git.example/index"
        [source.crates-io]
        replace-with = "mirror"
        [source.mirror]
        registry = "sparse+http://mirror/"
        [source.vendored]
        directory = "vendor"
        [source.offline-reg]
        local-registry = "/l"
        [source.from-git]
        git = "https://git.example/crates"
        branch = "main"
    "#;
    let c = config(&[], &[("/w/.cargo/config.toml", file)]).unwrap();
    let url = |s: &str| Origin::Registry { url: s.to_owned() };
    assert_eq!(
        c.resolve_source(Requested::Default).unwrap().origin,
        url("sparse+http://corp/")
    );
    let named = c.resolve_source(Requested::Named("crates-io")).unwrap();
    assert_eq!(named.origin, url("sparse+http://mirror/"));
    assert!(named.replaced);
    assert_eq!(
        c.resolve_source(Requested::Named("git-reg"))
            .unwrap()
            .origin,
        url("https://git.example/index")
    );
    // An --index naming crates.io is replaced like crates.io.
    assert_eq!(
        c.resolve_source(Requested::Index("sparse+https://index.crates.io/"))
            .unwrap()
            .origin,
        url("sparse+http://mirror/")
    );
    assert_eq!(
        c.resolve_source(Requested::Index("sparse+http://other/"))
            .unwrap()
            .origin,
        url("sparse+http://other/")
    );
    let mut git = c.clone();
    git.sources.get_mut("crates-io").unwrap().replace_with = Some(Defined {
        value: "from-git".into(),
        origin: "t".into(),
    });
    assert_eq!(
        git.resolve_source(Requested::Named("crates-io"))
            .unwrap()
            .origin,
        Origin::Git("https://git.example/crates".into())
    );
    let e = c.resolve_source(Requested::Named("nope")).unwrap_err();
    assert!(e.message.contains("`nope`"), "{e}");
    assert!(e.help.contains("[registries.nope]"), "{e:?}");

    let c = config(
        &[],
        &[(
            "/w/.cargo/config.toml",
            "[source.crates-io]\nreplace-with = \"vendored\"\n[source.vendored]\ndirectory = \"vendor\"",
        )],
    )
    .unwrap();
    assert_eq!(
        c.resolve_source(Requested::Default).unwrap().origin,
        Origin::Directory(PathBuf::from("/w/vendor"))
    );

    // Nothing configured: crates.io.
    let c = config(&[], &[]).unwrap();
    let r = c.resolve_source(Requested::Default).unwrap();
    assert_eq!(r.origin, Origin::CratesIo);
    assert!(!r.replaced);
}

#[test]
fn replacement_cycles_and_dangling_names_are_errors() {
    let cycle = r#"
        [source.crates-io]
        replace-with = "a"
        [source.a]
        replace-with = "b"
        [source.b]
        replace-with = "a"
    "#;
    let c = config(&[], &[("/w/.cargo/config.toml", cycle)]).unwrap();
    let e = c.resolve_source(Requested::Default).unwrap_err();
    assert!(e.message.contains("crates-io → a → b → a"), "{e}");
    let dangling = "[source.crates-io]\nreplace-with = \"ghost\"";
    let c = config(&[], &[("/w/.cargo/config.toml", dangling)]).unwrap();
    let e = c.resolve_source(Requested::Default).unwrap_err();
    assert!(e.message.contains("`ghost`"), "{e}");
}

#[test]
fn files_are_found_from_the_working_directory_up_then_cargo_home() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path();
    let work = root.join("a/b");
    std::fs::create_dir_all(work.join(".cargo")).unwrap();
    std::fs::create_dir_all(root.join("a/.cargo")).unwrap();
    std::fs::create_dir_all(root.join("home")).unwrap();
    std::fs::write(work.join(".cargo/config.toml"), "term.color = \"never\"").unwrap();
    // Legacy name, one level up: read, and shallower than the working dir's.
    std::fs::write(
        root.join("a/.cargo/config"),
        "term.color = \"always\"\nnet.retry = 1",
    )
    .unwrap();
    std::fs::write(root.join("home/config.toml"), "net.offline = true").unwrap();
    let home = root.join("home");
    let env = Env::from_pairs(&work, [("CARGO_HOME", home.to_str().unwrap())]);
    let c = CargoConfig::load(&env).unwrap();
    assert_eq!(c.term_color.unwrap().value, "never");
    assert_eq!(c.net_retry.unwrap().value, 1);
    assert!(c.net_offline.unwrap().value);
    assert_eq!(c.files.len(), 3, "{:?}", c.files);
}
