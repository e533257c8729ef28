//! `build-index build`: one crate (registry or local) or one Go module's commands, built
//! statically and packaged with a result or failure record; prints the record's path.

use std::path::PathBuf;
use std::time::Duration;

use super::{Error, say};
use crate::{build, go};

#[derive(clap::Args, Debug)]
pub(crate) struct Args {
    /// A crate from the registry, at an exact version or the newest.
    #[arg(long = "crate", value_name = "NAME[@VER]")]
    krate: Option<String>,
    /// A local package directory.
    #[arg(long, value_name = "DIR")]
    path: Option<PathBuf>,
    /// A Go module from the module proxy, at an exact version (`vX.Y.Z`).
    #[arg(long, value_name = "MODULE@VERSION")]
    go: Option<String>,
    /// With --go: a command package to build (repeatable); detected from the module when
    /// absent.
    #[arg(long = "package", value_name = "PATH", requires = "go")]
    packages: Vec<String>,
    /// With --go: the module proxy, a URL or a directory in the proxy layout (default: the
    /// first URL of GOPROXY, else `https://proxy.golang.org`).
    #[arg(long, value_name = "URL|DIR", requires = "go")]
    proxy: Option<String>,
    /// Target triple (default: on Linux the host architecture's musl target when installed,
    /// then, for a crate that fails for musl, the host's gnu target). A crate for another
    /// architecture or OS is cross-built with `cargo-zigbuild`.
    #[arg(long, value_name = "TRIPLE")]
    target: Option<String>,
    /// Sparse registry index URL (default: crates.io).
    #[arg(long, value_name = "URL")]
    registry: Option<String>,
    /// Directory for the archive, log and record.
    #[arg(long, value_name = "DIR")]
    out: PathBuf,
    /// Kill the build after this many seconds and record the failure as a timeout.
    #[arg(long, value_name = "SECS")]
    timeout_secs: Option<u64>,
}

/// Builds and prints the record's path.
pub(crate) fn run(args: Args) -> Result<(), Error> {
    let timeout = args.timeout_secs.map(Duration::from_secs);
    if let Some(spec) = args.go {
        let (module, version) = go::proxy::parse_spec(&spec)?;
        let request = go::GoBuildRequest {
            module,
            version,
            packages: args.packages,
            target: args.target,
            proxy: args.proxy,
            out: args.out,
            timeout,
        };
        let record = go::build_go(&request, &build::BuildEnv::from_process())?;
        return say(&record.display().to_string());
    }
    let source = match (args.krate, args.path) {
        (Some(spec), _) => {
            let (name, version) = build::parse_crate_spec(&spec)?;
            build::Source::Crate { name, version }
        }
        (None, Some(dir)) => build::Source::Path(dir),
        // clap's required group makes this unreachable; fail plainly all the same.
        (None, None) => return Err(Error::NoSource),
    };
    let request = build::BuildRequest {
        source,
        target: args.target,
        registry: args.registry,
        out: args.out,
        timeout,
    };
    let record = build::build(&request, &build::BuildEnv::from_process())?;
    say(&record.display().to_string())
}
