//! The Go build recipe as data: target triple ↔ GOOS/GOARCH, the `go build` arguments and the
//! environment a build gets. Pure; running `go` is [`super::build_go`].
//!
//! Every build is static (`CGO_ENABLED=0`, `-tags netgo,osusergo`) and reproducible
//! (`-trimpath`, `-buildvcs=false`, `-ldflags "-s -w -buildid="`). It runs as
//! `go install <package>@<version>`, not `go build` in the unpacked source: only then does Go
//! record the module's version (`mod <module> <version> h1:…`) in the build info instead of
//! `(devel)`, and the binary is the one a user's `go install` would give (go.mod `replace`
//! directives ignored). Go records `-trimpath=true`, `CGO_ENABLED=0` and the tags there, but
//! not `-ldflags` when `-trimpath` is set (go.dev/issue/52372).
//!
//! A module whose commands need cgo is the one exception to `CGO_ENABLED=0`: those commands
//! are rebuilt as static PIEs with zig as the C compiler, see [`super::cgo`].

use std::ffi::OsString;

/// The target a Linux x86_64 host builds for by default: a static Go binary runs on any Linux,
/// and the client looks for musl first.
pub const DEFAULT_TARGET: &str = "x86_64-unknown-linux-musl";

/// The `-ldflags` of the recipe.
pub const LDFLAGS: &str = "-s -w -buildid=";
/// The `-tags` of the recipe.
pub const TAGS: &str = "netgo,osusergo";

/// Target triple → (GOOS, GOARCH), for the targets the index serves.
pub fn goos_goarch(target: &str) -> Option<(&'static str, &'static str)> {
    Some(match target {
        "x86_64-unknown-linux-musl" | "x86_64-unknown-linux-gnu" => ("linux", "amd64"),
        "aarch64-unknown-linux-musl" | "aarch64-unknown-linux-gnu" => ("linux", "arm64"),
        "riscv64gc-unknown-linux-musl" => ("linux", "riscv64"),
        "loongarch64-unknown-linux-musl" => ("linux", "loong64"),
        "aarch64-apple-darwin" => ("darwin", "arm64"),
        "x86_64-apple-darwin" => ("darwin", "amd64"),
        "x86_64-pc-windows-msvc" => ("windows", "amd64"),
        _ => return None,
    })
}

/// The triple an index entry uses: on Linux the `-musl` one, whichever Linux triple was asked
/// for, since a `CGO_ENABLED=0` binary depends on no libc.
pub fn index_target(target: &str) -> String {
    match target {
        "x86_64-unknown-linux-gnu" => "x86_64-unknown-linux-musl".to_owned(),
        "aarch64-unknown-linux-gnu" => "aarch64-unknown-linux-musl".to_owned(),
        other => other.to_owned(),
    }
}

/// The default target for a host given as `go env GOOS GOARCH`: the triple of that pair.
pub fn host_target(goos: &str, goarch: &str) -> Option<&'static str> {
    Some(match (goos, goarch) {
        ("linux", "amd64") => DEFAULT_TARGET,
        ("linux", "arm64") => "aarch64-unknown-linux-musl",
        ("linux", "riscv64") => "riscv64gc-unknown-linux-musl",
        ("linux", "loong64") => "loongarch64-unknown-linux-musl",
        ("darwin", "arm64") => "aarch64-apple-darwin",
        ("darwin", "amd64") => "x86_64-apple-darwin",
        ("windows", "amd64") => "x86_64-pc-windows-msvc",
        _ => return None,
    })
}

/// The binary's file name for a command package on `goos`.
pub fn binary_name(command: &str, goos: &str) -> String {
    if goos == "windows" {
        format!("{command}.exe")
    } else {
        command.to_owned()
    }
}

/// `go install` arguments for one package at the module's version.
pub fn build_args(package: &str, version: &str) -> Vec<OsString> {
    let mut args: Vec<OsString> = [
        "install",
        "-trimpath",
        "-buildvcs=false",
        "-ldflags",
        LDFLAGS,
        "-tags",
        TAGS,
    ]
    .iter()
    .map(OsString::from)
    .collect();
    args.push(format!("{package}@{version}").into());
    args
}

/// Where `go install` puts a binary under `GOPATH`: `bin/<name>` for the host's GOOS/GOARCH,
/// `bin/<goos>_<goarch>/<name>` when cross-compiling. Both are tried, cross first.
pub fn installed_paths(
    gopath: &std::path::Path,
    goos: &str,
    goarch: &str,
    name: &str,
) -> [std::path::PathBuf; 2] {
    let bin = gopath.join("bin");
    [
        bin.join(format!("{goos}_{goarch}")).join(name),
        bin.join(name),
    ]
}

/// The variables the recipe sets on top of the scrubbed environment (which must not hold
/// `GOBIN`: Go refuses it when cross-compiling). `GOPATH` is the build's own, so its `bin` holds
/// only this build's binaries. `proxy`, when given, replaces `GOPROXY` so the module and its
/// dependencies come from where the checked zip came from.
pub fn build_vars(
    goos: &str,
    goarch: &str,
    gopath: &std::path::Path,
    proxy: Option<&str>,
) -> Vec<(OsString, OsString)> {
    let mut vars: Vec<(OsString, OsString)> = [
        ("CGO_ENABLED", "0"),
        ("GOOS", goos),
        ("GOARCH", goarch),
        // The recipe's flags only: a user's GOFLAGS (e.g. -mod=vendor) would change the build.
        ("GOFLAGS", "-mod=mod"),
        // Newer `go` would download the toolchain a go.mod asks for: build with this one.
        ("GOTOOLCHAIN", "local"),
    ]
    .iter()
    .map(|(k, v)| (OsString::from(k), OsString::from(v)))
    .collect();
    vars.push(("GOPATH".into(), gopath.as_os_str().to_owned()));
    if let Some(p) = proxy {
        vars.push(("GOPROXY".into(), p.into()));
    }
    vars
}

#[cfg(test)]
mod tests {
    use std::path::Path;

    use super::*;

    #[test]
    fn targets_map_to_goos_goarch_and_linux_entries_are_musl() {
        assert_eq!(
            goos_goarch("x86_64-unknown-linux-gnu"),
            Some(("linux", "amd64"))
        );
        assert_eq!(
            goos_goarch("loongarch64-unknown-linux-musl"),
            Some(("linux", "loong64"))
        );
        assert_eq!(
            goos_goarch("x86_64-pc-windows-msvc"),
            Some(("windows", "amd64"))
        );
        assert_eq!(goos_goarch("mips-unknown-linux-gnu"), None);
        assert_eq!(index_target("x86_64-unknown-linux-gnu"), DEFAULT_TARGET);
        assert_eq!(index_target("aarch64-apple-darwin"), "aarch64-apple-darwin");
        assert_eq!(host_target("linux", "amd64"), Some(DEFAULT_TARGET));
        for t in [
            "aarch64-unknown-linux-musl",
            "x86_64-apple-darwin",
            "riscv64gc-unknown-linux-musl",
        ] {
            let (os, arch) = goos_goarch(t).unwrap();
            assert_eq!(host_target(os, arch), Some(t));
        }
    }

    #[test]
    fn build_args_and_vars_follow_the_recipe() {
        let args: Vec<String> = build_args("example.com/tool/cmd/a", "v1.0.0")
            .into_iter()
            .map(|a| a.into_string().unwrap())
            .collect();
        assert_eq!(
            args.join(" "),
            "install -trimpath -buildvcs=false -ldflags -s -w -buildid= -tags netgo,osusergo example.com/tool/cmd/a@v1.0.0"
        );
        let vars = build_vars("linux", "amd64", Path::new("/g"), Some("file:///p"));
        let get = |k: &str| {
            vars.iter()
                .find(|(n, _)| n == k)
                .map(|(_, v)| v.to_str().unwrap())
        };
        assert_eq!(get("CGO_ENABLED"), Some("0"));
        assert_eq!(get("GOFLAGS"), Some("-mod=mod"));
        assert_eq!(get("GOPROXY"), Some("file:///p"));
        assert_eq!(get("GOPATH"), Some("/g"));
        assert_eq!(
            installed_paths(Path::new("/g"), "linux", "arm64", "tool")[0],
            Path::new("/g/bin/linux_arm64/tool")
        );
        assert_eq!(binary_name("tool", "windows"), "tool.exe");
    }
}
