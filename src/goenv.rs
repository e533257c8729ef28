//! The Go settings (`GOPROXY`, `GOPRIVATE`, `GOBIN`, …) read as `go env` reads them: the process
//! environment, then the user's go env file (what `go env -w` writes), then `$GOROOT/go.env`,
//! then Go's defaults.
//!
//! This is the one reader of Go settings for gquick and build-index; what they mean (the proxy
//! list, private paths, the bin directory) is decided by the modules that use them. It follows
//! cmd/go/internal/cfg (`Getenv`, `EnvFile`, `initEnvCache`, `readEnvFile`) and never runs `go`.

use std::collections::BTreeMap;
use std::fs;
use std::path::{Path, PathBuf};

use crate::env::Env;

/// `GOPROXY` when nothing sets it (Go's built-in default before 1.21; the `go.env` that Go 1.21+
/// ships sets the same value).
pub const DEFAULT_GOPROXY: &str = "https://proxy.golang.org,direct";

/// `GOTOOLCHAIN` when nothing sets it: a Go without a `go.env` (before 1.21, or one whose
/// packager removed the line) runs itself. The `go.env` of Go 1.21+ says `auto`.
pub const DEFAULT_GOTOOLCHAIN: &str = "local";

/// The settings this reader knows (cmd/go's `Getenv` of each). `GOROOT` is read only to find
/// `$GOROOT/go.env`.
pub const SETTINGS: &[&str] = &[
    "GOPROXY",
    "GOPRIVATE",
    "GONOPROXY",
    "GONOSUMDB",
    "GOFLAGS",
    "GOINSECURE",
    "GOBIN",
    "GOPATH",
    "GOTOOLCHAIN",
    "GOOS",
    "GOARCH",
];

/// Where the user's go env file is, as `go env GOENV` reports it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum EnvFile {
    /// `GOENV=off`: no file is read.
    Off,
    /// `$GOENV`, else `go/env` in the user config directory.
    Path(PathBuf),
    /// No `GOENV` and no user config directory (no `$HOME`, or a relative `$XDG_CONFIG_HOME`,
    /// which Go refuses): no file is read.
    Unknown,
}

/// The Go settings in effect, each as `go env NAME` would print it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GoSettings {
    /// cmd/go's `Getenv` of each of [`SETTINGS`]: the non-empty process value, else the go env
    /// file's, else `$GOROOT/go.env`'s. Absent when none sets it.
    values: BTreeMap<&'static str, String>,
    env_file: EnvFile,
    /// `$HOME/go` (Go's default `GOPATH`), unless that is `GOROOT` itself.
    default_gopath: Option<String>,
}

impl GoSettings {
    /// Reads the settings: `env`, then the files it points to. A missing or unreadable file
    /// counts as empty, as in Go.
    pub fn read(env: &Env) -> Self {
        let env_file = env_file(env);
        let user = match &env_file {
            EnvFile::Path(path) => read_text(path),
            EnvFile::Off | EnvFile::Unknown => String::new(),
        };
        let user_values = parse_env_file(&user);
        let goroot = find_goroot(env, &user_values);
        let goroot_text = goroot
            .as_deref()
            .map(|root| read_text(&root.join("go.env")))
            .unwrap_or_default();
        Self::from_sources(env, env_file, &user, &goroot_text, goroot.as_deref())
    }

    /// The settings from `env` and the two files' text (pure; [`Self::read`] does the I/O).
    pub fn from_sources(
        env: &Env,
        env_file: EnvFile,
        user_file: &str,
        goroot_file: &str,
        goroot: Option<&Path>,
    ) -> Self {
        let user = parse_env_file(user_file);
        let shipped = parse_env_file(goroot_file);
        let mut values = BTreeMap::new();
        for &name in SETTINGS {
            // cfg.Getenv: a variable set to "" in the environment falls through to the files;
            // a key in the user file (even empty) hides the one in GOROOT/go.env.
            let value = env
                .get(name)
                .or_else(|| user.get(name).map(String::as_str))
                .or_else(|| shipped.get(name).map(String::as_str));
            if let Some(value) = value {
                values.insert(name, value.to_owned());
            }
        }
        Self {
            values,
            env_file,
            default_gopath: default_gopath(env, goroot),
        }
    }

    /// A setting's value when it is set and not empty (cmd/go treats an empty value as unset).
    pub fn get(&self, name: &str) -> Option<&str> {
        self.values
            .get(name)
            .map(String::as_str)
            .filter(|v| !v.is_empty())
    }

    /// Where the user's go env file is (`go env GOENV`).
    pub fn env_file(&self) -> &EnvFile {
        &self.env_file
    }

    /// `GOOS/GOARCH` when either names a platform other than this host's: `go install` then
    /// cross-builds, into a `GOOS_GOARCH` directory of its own.
    pub fn cross_platform(&self) -> Option<String> {
        let (host_os, host_arch) = host_platform();
        let os = self.get("GOOS").unwrap_or(host_os);
        let arch = self.get("GOARCH").unwrap_or(host_arch);
        (os != host_os || arch != host_arch).then(|| format!("{os}/{arch}"))
    }

    /// The first flag in `GOFLAGS` that changes what `go install` builds (`-tags`,
    /// `-ldflags`, `-race`, …): a prebuilt is then not that binary. Flags that change only how
    /// go works (`-mod`, `-modcacherw`, `-trimpath`, `-x`, `-p`…) are not among them.
    pub fn build_changing_goflag(&self) -> Option<String> {
        const CHANGING: &[&str] = &[
            "tags",
            "ldflags",
            "gcflags",
            "asmflags",
            "gccgoflags",
            "race",
            "msan",
            "asan",
            "cover",
            "coverpkg",
            "covermode",
            "buildmode",
            "linkshared",
            "compiler",
            "pgo",
            "overlay",
        ];
        self.goflags()?.split_whitespace().find_map(|flag| {
            let name = flag.trim_start_matches('-');
            let name = name.split_once('=').map_or(name, |(n, _)| n);
            (flag.starts_with('-') && CHANGING.contains(&name)).then(|| flag.to_owned())
        })
    }

    /// `GOPROXY`, else [`DEFAULT_GOPROXY`].
    pub fn goproxy(&self) -> &str {
        self.get("GOPROXY").unwrap_or(DEFAULT_GOPROXY)
    }

    /// `GOPRIVATE`: path-prefix globs of private modules.
    pub fn goprivate(&self) -> Option<&str> {
        self.get("GOPRIVATE")
    }

    /// `GONOPROXY`, else `GOPRIVATE` (cmd/go's default).
    pub fn gonoproxy(&self) -> Option<&str> {
        self.get("GONOPROXY").or_else(|| self.goprivate())
    }

    /// `GONOSUMDB`, else `GOPRIVATE` (cmd/go's default).
    pub fn gonosumdb(&self) -> Option<&str> {
        self.get("GONOSUMDB").or_else(|| self.goprivate())
    }

    /// `GOFLAGS`, verbatim.
    pub fn goflags(&self) -> Option<&str> {
        self.get("GOFLAGS")
    }

    /// `GOINSECURE`, verbatim.
    pub fn goinsecure(&self) -> Option<&str> {
        self.get("GOINSECURE")
    }

    /// `GOBIN`, verbatim (Go refuses a relative one; the caller decides).
    pub fn gobin(&self) -> Option<&str> {
        self.get("GOBIN")
    }

    /// `GOPATH` (a list), else `$HOME/go`; `None` without either.
    pub fn gopath(&self) -> Option<&str> {
        self.get("GOPATH").or(self.default_gopath.as_deref())
    }

    /// `GOTOOLCHAIN`, else [`DEFAULT_GOTOOLCHAIN`].
    pub fn gotoolchain(&self) -> &str {
        self.get("GOTOOLCHAIN").unwrap_or(DEFAULT_GOTOOLCHAIN)
    }
}

/// cmd/go's `readEnvFile`: `KEY=VALUE` lines split at `\n` and the first `=`, nothing trimmed,
/// a line whose first byte is not `A`–`Z` (comments, blanks) or that has no `=` skipped, the last
/// line of a key winning.
pub fn parse_env_file(text: &str) -> BTreeMap<String, String> {
    text.split('\n')
        .filter(|line| line.starts_with(|c: char| c.is_ascii_uppercase()))
        .filter_map(|line| line.split_once('='))
        .map(|(key, value)| (key.to_owned(), value.to_owned()))
        .collect()
}

/// cmd/go's `EnvFile`: `$GOENV` (`off` disables it; a relative path is read from the working
/// directory), else `go/env` in [`user_config_dir`].
pub fn env_file(env: &Env) -> EnvFile {
    match env.get("GOENV") {
        Some("off") => EnvFile::Off,
        Some(path) => EnvFile::Path(env.cwd().join(path)),
        None => match user_config_dir(env) {
            Some(dir) => EnvFile::Path(dir.join("go").join("env")),
            None => EnvFile::Unknown,
        },
    }
}

/// Go's `os.UserConfigDir`: `%AppData%` on Windows, `$HOME/Library/Application Support` on
/// macOS, else `$XDG_CONFIG_HOME` (refused when relative), else `$HOME/.config`. Only the
/// variables count, as in Go (no password-database lookup).
pub fn user_config_dir(env: &Env) -> Option<PathBuf> {
    if cfg!(windows) {
        return env.get("APPDATA").map(PathBuf::from);
    }
    let home = env.get("HOME").map(PathBuf::from);
    if cfg!(target_os = "macos") {
        return home.map(|h| h.join("Library").join("Application Support"));
    }
    match env.get("XDG_CONFIG_HOME").map(PathBuf::from) {
        Some(dir) if dir.is_absolute() => Some(dir),
        Some(_) => None,
        None => home.map(|h| h.join(".config")),
    }
}

/// Go's default `GOPATH` (go/build `defaultGOPATH`): `$HOME/go` (`%USERPROFILE%` on Windows),
/// unless that is the Go installation itself.
fn default_gopath(env: &Env, goroot: Option<&Path>) -> Option<String> {
    let home = env.get(if cfg!(windows) { "USERPROFILE" } else { "HOME" })?;
    let path = Path::new(home).join("go");
    if goroot.is_some_and(|root| root.components().eq(path.components())) {
        return None;
    }
    Some(path.to_string_lossy().into_owned())
}

/// cmd/go's `findGOROOT`, without running `go`: `$GOROOT`, else `GOROOT` from the user file,
/// else the directory two levels above the `go` on `PATH` when it holds `pkg/tool` (before and
/// after resolving symlinks, as Go does for its own executable).
fn find_goroot(env: &Env, user: &BTreeMap<String, String>) -> Option<PathBuf> {
    if let Some(root) = env.get("GOROOT").or_else(|| {
        user.get("GOROOT")
            .map(String::as_str)
            .filter(|r| !r.is_empty())
    }) {
        return Some(PathBuf::from(root));
    }
    let exe = if cfg!(windows) { "go.exe" } else { "go" };
    let go = std::env::split_paths(env.get("PATH")?)
        .filter(|dir| !dir.as_os_str().is_empty())
        .map(|dir| env.cwd().join(dir).join(exe))
        .find(|candidate| candidate.is_file())?;
    let is_goroot = |root: &Path| root.join("pkg").join("tool").is_dir();
    let above = |exe: &Path| exe.parent()?.parent().map(Path::to_owned);
    above(&go)
        .filter(|root| is_goroot(root))
        .or_else(|| above(&fs::canonicalize(&go).ok()?).filter(|root| is_goroot(root)))
}

/// This host's platform as Go names it (`GOHOSTOS`, `GOHOSTARCH`).
fn host_platform() -> (&'static str, &'static str) {
    let os = match std::env::consts::OS {
        "macos" => "darwin",
        other => other,
    };
    let arch = match std::env::consts::ARCH {
        "x86_64" => "amd64",
        "aarch64" => "arm64",
        "x86" => "386",
        "powerpc64" => "ppc64",
        other => other,
    };
    (os, arch)
}

fn read_text(path: &Path) -> String {
    fs::read(path)
        .map(|bytes| String::from_utf8_lossy(&bytes).into_owned())
        .unwrap_or_default()
}

#[cfg(test)]
#[allow(clippy::unwrap_used)] // tests fail loudly by unwrapping
mod tests {
    use super::*;

    fn env(pairs: &[(&str, &str)]) -> Env {
        Env::from_pairs(Path::new("/work"), pairs.iter().copied())
    }

    fn settings(pairs: &[(&str, &str)], user: &str, goroot: &str) -> GoSettings {
        GoSettings::from_sources(&env(pairs), EnvFile::Path("/f".into()), user, goroot, None)
    }

    #[test]
    fn env_file_lines_are_read_as_cmd_go_reads_them() {
        let parsed = parse_env_file(
            "# comment\nGOPRIVATE=old.example\n\nGOPRIVATE=corp.example\n lead=1\nlower=2\n\
             NOEQUALS\nGOFLAGS= -x \nGOPROXY=a=b\r\nGOBIN=",
        );
        let pairs: Vec<(&str, &str)> = parsed
            .iter()
            .map(|(k, v)| (k.as_str(), v.as_str()))
            .collect();
        assert_eq!(
            pairs,
            [
                ("GOBIN", ""),
                // Nothing trimmed, not even a carriage return.
                ("GOFLAGS", " -x "),
                ("GOPRIVATE", "corp.example"),
                ("GOPROXY", "a=b\r"),
            ]
        );
    }

    #[test]
    fn the_environment_beats_the_user_file_which_beats_goroot_go_env() {
        let user = "GOPRIVATE=file.example\nGOPROXY=https://file.example\n";
        let shipped = "GOPROXY=https://goroot.example\nGOTOOLCHAIN=auto\nGOINSECURE=g.example\n";
        let s = settings(&[("GOPRIVATE", "env.example")], user, shipped);
        assert_eq!(s.goprivate(), Some("env.example"));
        assert_eq!(s.goproxy(), "https://file.example");
        assert_eq!(s.gotoolchain(), "auto");
        assert_eq!(s.goinsecure(), Some("g.example"));
        assert_eq!(s.goflags(), None);
    }

    #[test]
    fn goos_or_goarch_naming_another_platform_is_a_cross_build() {
        let host = settings(&[], "", "");
        assert_eq!(host.cross_platform(), None);
        let (os, arch) = host_platform();
        // The host's own names, spelled out, are no cross build.
        assert_eq!(
            settings(&[("GOOS", os), ("GOARCH", arch)], "", "").cross_platform(),
            None
        );
        let other_arch = if arch == "arm64" { "amd64" } else { "arm64" };
        assert_eq!(
            settings(&[], &format!("GOARCH={other_arch}\n"), "").cross_platform(),
            Some(format!("{os}/{other_arch}"))
        );
        assert_eq!(
            settings(&[("GOOS", "plan9")], "", "").cross_platform(),
            Some(format!("plan9/{arch}"))
        );
    }

    #[test]
    fn goflags_that_change_the_build_are_told_from_those_that_do_not() {
        let flag = |v: &str| settings(&[("GOFLAGS", v)], "", "").build_changing_goflag();
        assert_eq!(flag("-mod=mod -trimpath -modcacherw -x"), None);
        assert_eq!(flag("-mod=mod -tags=netgo"), Some("-tags=netgo".into()));
        assert_eq!(flag("--ldflags=-s"), Some("--ldflags=-s".into()));
        assert_eq!(flag("-race"), Some("-race".into()));
        assert_eq!(settings(&[], "", "").build_changing_goflag(), None);
    }

    #[test]
    fn a_variable_set_empty_falls_through_to_the_file() {
        // cfg.Getenv: `os.Getenv(key) != ""` or else the file (checked against `go env`).
        let s = settings(&[("GOPRIVATE", "")], "GOPRIVATE=corp.example\n", "");
        assert_eq!(s.goprivate(), Some("corp.example"));
    }

    #[test]
    fn an_empty_line_in_the_user_file_hides_goroot_go_env_and_means_the_default() {
        let s = settings(&[], "GOPROXY=\n", "GOPROXY=https://goroot.example\n");
        assert_eq!(s.goproxy(), DEFAULT_GOPROXY);
    }

    #[test]
    fn gonoproxy_and_gonosumdb_default_to_goprivate_from_any_source() {
        let s = settings(&[], "GOPRIVATE=corp.example\n", "");
        assert_eq!(s.gonoproxy(), Some("corp.example"));
        assert_eq!(s.gonosumdb(), Some("corp.example"));
        let s = settings(
            &[("GONOPROXY", "none.example")],
            "GOPRIVATE=corp.example\nGONOSUMDB=sum.example\n",
            "",
        );
        assert_eq!(s.gonoproxy(), Some("none.example"));
        assert_eq!(s.gonosumdb(), Some("sum.example"));
    }

    #[test]
    fn defaults_apply_when_nothing_sets_a_value() {
        let s = settings(&[("HOME", "/home/u")], "", "");
        assert_eq!(s.goproxy(), DEFAULT_GOPROXY);
        assert_eq!(s.gotoolchain(), DEFAULT_GOTOOLCHAIN);
        assert_eq!(s.goprivate(), None);
        assert_eq!(s.gonoproxy(), None);
        assert_eq!(s.gobin(), None);
        assert_eq!(s.gopath(), Some("/home/u/go"));
        assert_eq!(settings(&[], "", "").gopath(), None);
        let s = settings(&[("HOME", "/h")], "GOPATH=/file-gp\nGOBIN=/file-bin\n", "");
        assert_eq!(s.gopath(), Some("/file-gp"));
        assert_eq!(s.gobin(), Some("/file-bin"));
    }

    #[test]
    fn the_default_gopath_is_never_goroot() {
        let e = env(&[("HOME", "/h")]);
        let s = GoSettings::from_sources(&e, EnvFile::Off, "", "", Some(Path::new("/h/go")));
        assert_eq!(s.gopath(), None);
    }

    #[cfg(all(unix, not(target_os = "macos")))]
    #[test]
    fn the_env_file_is_goenv_else_in_the_user_config_dir() {
        let file = |pairs: &[(&str, &str)]| env_file(&env(pairs));
        assert_eq!(file(&[("GOENV", "off"), ("HOME", "/h")]), EnvFile::Off);
        assert_eq!(
            file(&[("GOENV", "rel/env")]),
            EnvFile::Path("/work/rel/env".into())
        );
        assert_eq!(
            file(&[("GOENV", ""), ("HOME", "/h")]),
            EnvFile::Path("/h/.config/go/env".into())
        );
        assert_eq!(
            file(&[("XDG_CONFIG_HOME", "/x"), ("HOME", "/h")]),
            EnvFile::Path("/x/go/env".into())
        );
        // Go refuses a relative XDG_CONFIG_HOME rather than falling back to $HOME.
        assert_eq!(
            file(&[("XDG_CONFIG_HOME", "x"), ("HOME", "/h")]),
            EnvFile::Unknown
        );
        assert_eq!(file(&[]), EnvFile::Unknown);
    }

    #[test]
    fn read_takes_the_file_goenv_names_and_ignores_it_when_off() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("env");
        fs::write(
            &path,
            "GOPRIVATE=corp.example\nGOPROXY=https://file.example\n",
        )
        .unwrap();
        let goenv = path.to_str().unwrap();
        let read = |pairs: &[(&str, &str)]| GoSettings::read(&env(pairs));
        let s = read(&[("GOENV", goenv), ("PATH", "")]);
        assert_eq!(s.goprivate(), Some("corp.example"));
        assert_eq!(s.goproxy(), "https://file.example");
        assert_eq!(s.env_file(), &EnvFile::Path(path.clone()));
        let s = read(&[("GOENV", "off"), ("PATH", "")]);
        assert_eq!(s.goprivate(), None);
        assert_eq!(s.goproxy(), DEFAULT_GOPROXY);
    }

    #[test]
    fn read_finds_goroot_go_env_from_goroot_or_the_go_on_path() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path().join("goroot");
        fs::create_dir_all(root.join("pkg/tool")).unwrap();
        fs::create_dir_all(root.join("bin")).unwrap();
        let exe = if cfg!(windows) { "go.exe" } else { "go" };
        fs::write(root.join("bin").join(exe), "").unwrap();
        fs::write(root.join("go.env"), "GOPRIVATE=shipped.example\n").unwrap();
        let root_text = root.to_str().unwrap();
        let s = GoSettings::read(&env(&[("GOENV", "off"), ("GOROOT", root_text)]));
        assert_eq!(s.goprivate(), Some("shipped.example"));
        let bin = root.join("bin");
        let s = GoSettings::read(&env(&[("GOENV", "off"), ("PATH", bin.to_str().unwrap())]));
        assert_eq!(s.goprivate(), Some("shipped.example"));
        // The user's go env file wins over GOROOT/go.env.
        let user = dir.path().join("env");
        fs::write(&user, "GOPRIVATE=user.example\n").unwrap();
        let s = GoSettings::read(&env(&[
            ("GOENV", user.to_str().unwrap()),
            ("GOROOT", root_text),
        ]));
        assert_eq!(s.goprivate(), Some("user.example"));
    }
}
