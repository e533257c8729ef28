//! The Go bin directory: where `go install` puts commands (`GOBIN`, else the first `GOPATH`
//! entry's `bin`, else `~/go/bin`), the name it gives them, and what is in it now.
//!
//! Moving binaries in is [`super::transaction`]'s job and reading a binary's build info is
//! [`crate::gobuildinfo`]'s; this module only decides the place and the name, and lists.

use std::fs;
use std::io;
use std::path::{Path, PathBuf};

use crate::env::Env;
use crate::gobuildinfo::{BuildInfo, BuildInfoError, read_build_info};
use crate::goenv::GoSettings;
use crate::index::path::go_command_name;

/// Why the Go bin directory could not be found or listed.
#[derive(Debug, thiserror::Error)]
pub enum GoBinError {
    #[error(
        "`GOBIN` is `{}`, which is not an absolute path (go refuses it too); set it to an absolute path",
        path.display()
    )]
    RelativeGobin { path: PathBuf },
    #[error(
        "the first `GOPATH` entry `{}` is not an absolute path (go refuses it too); set `GOPATH` to absolute paths",
        path.display()
    )]
    RelativeGopath { path: PathBuf },
    #[error("could not find the home directory for `~/go/bin`; set `GOBIN` or `GOPATH`")]
    NoHome,
    #[error("could not list the directory `{}`: {source}", path.display())]
    ReadDir { path: PathBuf, source: io::Error },
}

/// Where `go install` would put commands: `GOBIN`, else the first `GOPATH` entry + `bin`, else
/// `$HOME/go/bin`, each read as `go env` reads it (the environment, then the go env file).
pub fn go_bin_dir(env: &Env) -> Result<PathBuf, GoBinError> {
    bin_dir(&GoSettings::read(env))
}

/// [`go_bin_dir`] from settings already read.
pub fn bin_dir(settings: &GoSettings) -> Result<PathBuf, GoBinError> {
    choose_bin_dir(settings.gobin(), settings.gopath())
}

/// The pure decision of [`bin_dir`]; `gopath` carries Go's `$HOME/go` default.
fn choose_bin_dir(gobin: Option<&str>, gopath: Option<&str>) -> Result<PathBuf, GoBinError> {
    if let Some(gobin) = gobin.filter(|g| !g.is_empty()) {
        let path = PathBuf::from(gobin);
        return if path.is_absolute() {
            Ok(path)
        } else {
            Err(GoBinError::RelativeGobin { path })
        };
    }
    // go's filepath.SplitList; empty entries carry no directory, so skip them.
    let first = gopath.and_then(|list| list.split(LIST_SEPARATOR).find(|e| !e.is_empty()));
    if let Some(first) = first {
        let path = PathBuf::from(first);
        return if path.is_absolute() {
            Ok(path.join("bin"))
        } else {
            Err(GoBinError::RelativeGopath { path })
        };
    }
    Err(GoBinError::NoHome)
}

#[cfg(windows)]
const LIST_SEPARATOR: char = ';';
#[cfg(not(windows))]
const LIST_SEPARATOR: char = ':';

/// One file in the Go bin directory.
#[derive(Debug)]
pub struct Listed {
    /// The file name (`lazygit`, `gopls.exe`).
    pub name: String,
    pub path: PathBuf,
    /// The build info; `None` when the file is not a Go binary, or when it could not be read
    /// (then [`Self::problem`] says why).
    pub info: Option<BuildInfo>,
    /// Why the build info could not be read (an unreadable file, a binary from Go < 1.18…);
    /// one bad file does not stop the listing.
    pub problem: Option<BuildInfoError>,
}

/// The regular files in `bin_dir`, sorted by name, each with its build info. A missing
/// directory lists as empty (nothing was installed yet). Dot files are skipped: they are
/// temporary files of interrupted installs, never commands.
pub fn list(bin_dir: &Path) -> Result<Vec<Listed>, GoBinError> {
    let read_dir_error = |source| GoBinError::ReadDir {
        path: bin_dir.to_owned(),
        source,
    };
    let entries = match fs::read_dir(bin_dir) {
        Ok(entries) => entries,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(e) => return Err(read_dir_error(e)),
    };
    let mut listed = Vec::new();
    for entry in entries {
        let entry = entry.map_err(read_dir_error)?;
        let name = entry.file_name().to_string_lossy().into_owned();
        // `file_type` does not follow symlinks: a link is not something `go install` wrote.
        let is_file = entry.file_type().is_ok_and(|t| t.is_file());
        if name.starts_with('.') || !is_file {
            continue;
        }
        let path = entry.path();
        let (info, problem) = match read_build_info(&path) {
            Ok(info) => (info, None),
            Err(e) => (None, Some(e)),
        };
        listed.push(Listed {
            name,
            path,
            info,
            problem,
        });
    }
    listed.sort_by(|a, b| a.name.cmp(&b.name));
    Ok(listed)
}

/// The file name `go install` gives the command built from `package` for `goos`.
pub fn binary_name(package: &str, goos: &str) -> String {
    let name = go_command_name(package);
    if goos == "windows" {
        format!("{name}.exe")
    } else {
        name.to_owned()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env(pairs: &[(&str, &str)]) -> Env {
        Env::from_pairs(Path::new("/cwd"), pairs.iter().copied())
    }

    #[test]
    fn gobin_wins_over_gopath_and_home() {
        let e = env(&[
            ("GOENV", "off"),
            ("GOBIN", "/opt/gobin"),
            ("GOPATH", "/gp"),
            ("HOME", "/home/u"),
        ]);
        assert_eq!(go_bin_dir(&e).unwrap(), Path::new("/opt/gobin"));
    }

    #[test]
    fn first_gopath_entry_gets_bin_appended() {
        let list = format!("/first{LIST_SEPARATOR}/second");
        let e = env(&[("GOENV", "off"), ("GOPATH", &list), ("HOME", "/home/u")]);
        assert_eq!(go_bin_dir(&e).unwrap(), Path::new("/first/bin"));
        let leading_empty = format!("{LIST_SEPARATOR}/second");
        let e = env(&[("GOENV", "off"), ("GOPATH", &leading_empty)]);
        assert_eq!(go_bin_dir(&e).unwrap(), Path::new("/second/bin"));
    }

    #[test]
    fn defaults_to_home_go_bin() {
        let e = env(&[("GOENV", "off"), ("HOME", "/home/u"), ("GOBIN", "")]);
        assert_eq!(go_bin_dir(&e).unwrap(), Path::new("/home/u/go/bin"));
        assert!(matches!(
            choose_bin_dir(None, None),
            Err(GoBinError::NoHome)
        ));
        // Like go, only `$HOME` counts for the default (no password-database lookup).
        let e = env(&[("GOENV", "off")]);
        assert!(matches!(go_bin_dir(&e), Err(GoBinError::NoHome)));
    }

    #[test]
    fn refuses_relative_gobin_and_gopath_naming_them() {
        let e = env(&[("GOENV", "off"), ("GOBIN", "rel/bin")]);
        let err = go_bin_dir(&e).unwrap_err();
        assert!(matches!(err, GoBinError::RelativeGobin { .. }));
        assert!(err.to_string().contains("`rel/bin`"), "{err}");
        let e = env(&[("GOENV", "off"), ("GOPATH", "gp")]);
        let err = go_bin_dir(&e).unwrap_err();
        assert!(matches!(err, GoBinError::RelativeGopath { .. }));
        assert!(err.to_string().contains("`gp`"), "{err}");
    }

    #[test]
    fn honours_go_env_file_below_the_process_environment() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("goenv");
        fs::write(
            &file,
            "# comment\nGOPATH=/from-file\nGOBIN=/old\nGOBIN=/file-bin\n",
        )
        .unwrap();
        let file = file.to_str().unwrap();
        let e = env(&[("GOENV", file), ("HOME", "/home/u")]);
        assert_eq!(go_bin_dir(&e).unwrap(), Path::new("/file-bin"));
        let e = env(&[("GOENV", file), ("GOBIN", "/env-bin")]);
        assert_eq!(go_bin_dir(&e).unwrap(), Path::new("/env-bin"));
        // GOBIN from the file still beats GOPATH from the process, as go does.
        let e = env(&[("GOENV", file), ("GOPATH", "/env-gp")]);
        assert_eq!(go_bin_dir(&e).unwrap(), Path::new("/file-bin"));
    }

    #[cfg(all(unix, not(target_os = "macos")))]
    #[test]
    fn finds_go_env_file_in_xdg_config_home() {
        let dir = tempfile::tempdir().unwrap();
        fs::create_dir_all(dir.path().join("go")).unwrap();
        fs::write(dir.path().join("go/env"), "GOBIN=/xdg-bin\n").unwrap();
        let config = dir.path().to_str().unwrap();
        let e = env(&[("XDG_CONFIG_HOME", config), ("HOME", "/home/u")]);
        assert_eq!(go_bin_dir(&e).unwrap(), Path::new("/xdg-bin"));
        let e = env(&[
            ("XDG_CONFIG_HOME", config),
            ("GOENV", "off"),
            ("HOME", "/h"),
        ]);
        assert_eq!(go_bin_dir(&e).unwrap(), Path::new("/h/go/bin"));
    }

    /// The smallest file our reader takes for a Go binary (header + version + wrapped modinfo).
    fn fake_go_binary(flags: u8, modinfo: &str) -> Vec<u8> {
        let mut out = b"\xff Go buildinf:".to_vec();
        out.extend([8, flags]);
        out.resize(32, 0);
        out.push(8);
        out.extend(b"go1.21.0");
        let wrapped = format!("{}{modinfo}{}", "0".repeat(16), "1".repeat(16));
        out.push(u8::try_from(wrapped.len()).unwrap());
        out.extend(wrapped.as_bytes());
        out
    }

    #[test]
    fn lists_regular_files_sorted_with_their_build_info() {
        let dir = tempfile::tempdir().unwrap();
        let bin = dir.path();
        let modinfo = "path\texample.com/t/cmd/zed\nmod\texample.com/t\tv1.0.0\t\n\
                       build\t-trimpath=true\n";
        fs::write(bin.join("zed"), fake_go_binary(2, modinfo)).unwrap();
        fs::write(bin.join("alpha"), "#!/bin/sh\necho not go\n").unwrap();
        fs::write(bin.join("old"), fake_go_binary(0, "")).unwrap();
        fs::write(bin.join(".tmp123"), "partial").unwrap();
        fs::create_dir(bin.join("subdir")).unwrap();
        #[cfg(unix)]
        std::os::unix::fs::symlink(bin.join("zed"), bin.join("link")).unwrap();

        let listed = list(bin).unwrap();
        let names: Vec<&str> = listed.iter().map(|l| l.name.as_str()).collect();
        assert_eq!(names, ["alpha", "old", "zed"]);

        assert!(listed[0].info.is_none() && listed[0].problem.is_none());
        assert_eq!(listed[0].path, bin.join("alpha"));

        assert!(listed[1].info.is_none());
        let problem = listed[1].problem.as_ref().unwrap().to_string();
        assert!(
            problem.contains(&bin.join("old").display().to_string()),
            "{problem}"
        );

        let info = listed[2].info.as_ref().unwrap();
        assert_eq!(info.go_version, "go1.21.0");
        assert_eq!(info.path, "example.com/t/cmd/zed");
        assert_eq!(info.module, "example.com/t");
        assert_eq!(info.version, "v1.0.0");
        assert_eq!(info.setting("-trimpath"), Some("true"));
    }

    #[test]
    fn a_missing_bin_dir_lists_as_empty() {
        let dir = tempfile::tempdir().unwrap();
        assert!(list(&dir.path().join("go/bin")).unwrap().is_empty());
    }

    #[test]
    fn a_bin_dir_that_is_a_file_is_an_error_naming_it() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("bin");
        fs::write(&file, "").unwrap();
        let err = list(&file).unwrap_err();
        assert!(
            err.to_string().starts_with(&format!(
                "could not list the directory `{}`",
                file.display()
            )),
            "{err}"
        );
    }

    #[test]
    fn binary_names_follow_go_install() {
        assert_eq!(
            binary_name("example.com/tool/cmd/lazygit", "linux"),
            "lazygit"
        );
        assert_eq!(binary_name("example.com/tool/v2", "darwin"), "tool");
        assert_eq!(binary_name("example.com/tool/v2", "windows"), "tool.exe");
        assert_eq!(
            binary_name("golang.org/x/tools/gopls", "windows"),
            "gopls.exe"
        );
    }
}
