//! `build-index`: builds, packages, signs, publishes and serves the quickinstall release index.
//!
//! This file is the thin shell: clap types, dispatch, and the mapping of any error to
//! `error: <sentence>` on stderr and exit code 1. Each subcommand lives in its own module:
//! [`keygen`], [`delegate`] and [`resign`] (the trust chain), [`build`] (with [`package`], [`elf`], [`record`]), [`package_cmd`] (binaries
//! built elsewhere), [`bootstrap`] (the `install.sh` installer), [`plan`], [`publish`] (with
//! [`validate`], [`sign`]), [`serve`] and [`stats`] (the install-count service); [`history`]
//! is the failure history that `build` classifies, `publish` merges and `plan` reads;
//! [`atomic`] and [`time`] are shared helpers.

// Tests may unwrap: a panic there is a test failure with its location.
#![cfg_attr(test, allow(clippy::unwrap_used))]

mod atomic;
mod bootstrap;
mod build;
mod child;
mod delegate;
mod elf;
mod go;
mod history;
mod import;
mod keygen;
mod macho;
mod package;
mod package_cmd;
mod plan;
mod publish;
mod recipe;
mod record;
mod resign;
mod select;
mod serve;
mod sign;
mod signed_file;
mod stats;
mod time;
mod triple;
mod validate;

use std::io::Write;
use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};

#[derive(Parser, Debug)]
#[command(name = "build-index", version, about)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand, Debug)]
enum Command {
    /// Generate a minisign key pair for signing the index (secret key unencrypted, mode 0600).
    Keygen {
        #[arg(long, value_name = "FILE")]
        secret_key: PathBuf,
        #[arg(long, value_name = "FILE")]
        public_key: PathBuf,
        /// Replace existing key files.
        #[arg(long)]
        force: bool,
        /// Make the offline root key (it signs only delegations; see docs/releasing.md).
        #[arg(long)]
        root: bool,
    },
    /// With the root key, let a signing key sign one index for a limited time.
    Delegate {
        #[arg(long, value_name = "FILE")]
        root_key: PathBuf,
        /// The signing key's `.pub` file (or its base64 line).
        #[arg(long, value_name = "FILE")]
        signing_key_pub: String,
        /// How long the grant lasts: `60d`, `12w`, `36h`…
        #[arg(long, value_name = "DURATION", value_parser = sign::parse_duration)]
        valid_for: u64,
        /// The index the grant is for; clients expect `quickinstall` unless QUICKINSTALL_INDEX_ID says otherwise.
        #[arg(long, value_name = "ID", default_value = quickinstall::index::delegation::DEFAULT_INDEX_ID)]
        index_id: String,
        #[arg(long, value_name = "FILE")]
        out: PathBuf,
    },
    /// Re-sign every package file (new timestamps and expiry, optionally a new delegation)
    /// without touching archives.
    Resign {
        #[arg(long, value_name = "DIR")]
        index: PathBuf,
        #[arg(long, value_name = "FILE")]
        secret_key: PathBuf,
        /// Sign under this delegation (from `build-index delegate`); bundles carry it.
        #[arg(long, value_name = "FILE")]
        delegation: Option<PathBuf>,
        /// How long each signature stays valid.
        #[arg(long, value_name = "DURATION", value_parser = sign::parse_duration, default_value = sign::DEFAULT_SIGNATURE_VALIDITY)]
        signature_validity: u64,
    },
    /// Build one crate (or the commands of one Go module) statically and package it with a
    /// result (or failure) record.
    #[command(group(clap::ArgGroup::new("source").required(true).args(["krate", "path", "go"])))]
    Build {
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
    },
    /// Package binaries built elsewhere (e.g. this project's own, by its CI) into the archive
    /// and result record `build` writes, for `publish`.
    Package {
        #[arg(long, value_name = "CRATE")]
        name: String,
        #[arg(long, value_name = "VER")]
        version: String,
        #[arg(long, value_name = "TRIPLE")]
        target: String,
        /// Directory for the archive and record.
        #[arg(long, value_name = "DIR")]
        out: PathBuf,
        /// The executables to pack, each under its file name.
        #[arg(required = true, value_name = "BINARY")]
        binaries: Vec<PathBuf>,
    },
    /// Print a POSIX `install.sh` that installs the newest prebuilt of each crate from the
    /// index, carrying their sha256 (verifies the package files' signatures first).
    BootstrapScript {
        #[arg(long, value_name = "DIR")]
        index: PathBuf,
        /// The URL the index is served at.
        #[arg(long, value_name = "URL")]
        base_url: String,
        /// A package to install (repeatable); default: `quickinstall`, the package our clients
        /// (`cargo-quickinstall`, `gquick`) are published under.
        #[arg(long = "crate", value_name = "NAME", default_value = "quickinstall")]
        crates: Vec<String>,
        /// A signing key (`.pub` file) the installer trusts directly (a self-hosted index).
        #[arg(long, value_name = "FILE")]
        public_key: Option<PathBuf>,
        /// A root key (`.pub` file, repeatable) whose delegations the installer accepts.
        /// Without this and without --public-key: the roots built into the clients.
        #[arg(long = "root", value_name = "FILE")]
        roots: Vec<PathBuf>,
        /// The index identity the delegations must name.
        #[arg(long, value_name = "ID", default_value = quickinstall::index::delegation::DEFAULT_INDEX_ID)]
        index_id: String,
        /// Render the Windows PowerShell installer (`install.ps1`) instead of `install.sh`.
        #[arg(long)]
        powershell: bool,
    },
    /// Print the GitHub Actions matrix for one run: queued crates × targets not yet built.
    Plan {
        /// The queue written by `select crates` (JSON lines).
        #[arg(long, value_name = "QUEUE")]
        queue: PathBuf,
        /// The Go lane: the queue written by `select go`, planned in turns with the crates.
        #[arg(long, value_name = "QUEUE")]
        go_queue: Option<PathBuf>,
        #[arg(long, value_name = "DIR")]
        index: PathBuf,
        /// The failure history (JSON lines); a missing file is an empty history.
        #[arg(long, value_name = "FILE")]
        history: Option<PathBuf>,
        /// Targets to build, comma-separated.
        #[arg(long, value_name = "T1,T2,...", value_delimiter = ',',
              default_values_t = plan::DEFAULT_TARGETS.iter().map(|t| (*t).to_owned()).collect::<Vec<_>>())]
        targets: Vec<String>,
        /// At most this many matrix items.
        #[arg(long, value_name = "N", default_value_t = plan::DEFAULT_MAX)]
        max: usize,
        /// Failures of one version on one target after which it is no longer planned.
        #[arg(long, value_name = "N", default_value_t = history::DEFAULT_MAX_FAILURES)]
        max_failures: usize,
    },
    /// Validate build results, add them to the index and sign the changed package files.
    Publish {
        #[arg(long, value_name = "DIR")]
        index: PathBuf,
        #[arg(long, value_name = "FILE")]
        secret_key: PathBuf,
        /// Point releases at `URL/<archive path>` instead of a path relative to the index; a
        /// URL containing `{file}` is a template (`{name}`, `{version}`, `{target}`, `{file}`).
        #[arg(long, value_name = "URL")]
        archive_base: Option<String>,
        /// Merge failure records into this failure history (without it they are refused).
        #[arg(long, value_name = "FILE")]
        history: Option<PathBuf>,
        /// The matrix `build-index plan` printed: accept only its items' results, each from its
        /// own directory under --artifacts; anything else is refused and reported (exit 0).
        #[arg(long, value_name = "PLAN", requires = "artifacts")]
        expect: Option<PathBuf>,
        /// With --expect: the directory holding one artifact directory per plan item.
        #[arg(long, value_name = "DIR", requires = "expect")]
        artifacts: Option<PathBuf>,
        /// The CI run id written into new failure-history lines.
        #[arg(long, value_name = "ID")]
        run_id: Option<String>,
        /// Sign under this delegation (from `build-index delegate`); bundles carry it.
        #[arg(long, value_name = "FILE")]
        delegation: Option<PathBuf>,
        /// How long each new signature stays valid.
        #[arg(long, value_name = "DURATION", value_parser = sign::parse_duration, default_value = sign::DEFAULT_SIGNATURE_VALIDITY)]
        signature_validity: u64,
        /// Result records written by `build-index build` or `package`.
        #[arg(required_unless_present = "expect", value_name = "RESULT")]
        results: Vec<PathBuf>,
    },
    /// Check that a secret key's public half is one the clients trust, directly or through
    /// `--delegation` from a built-in root (a preflight before publishing); prints the public key.
    CheckKey {
        #[arg(long, value_name = "FILE")]
        secret_key: PathBuf,
        /// The delegation `publish` will sign under (from `build-index delegate`).
        #[arg(long, value_name = "FILE")]
        delegation: Option<PathBuf>,
        /// A public key to trust besides the clients' built-in ones (base64 line or `.pub`
        /// text; repeatable).
        #[arg(long = "trusted-key", value_name = "KEY")]
        trusted_keys: Vec<String>,
    },
    /// Choose what to build next: `select crates` reads the crates.io db dump, `select go` the
    /// Go module index.
    #[command(subcommand)]
    Select(SelectCommand),
    /// The anonymous install-count service.
    #[command(subcommand)]
    Stats(StatsCommand),
    /// Mirror an existing prebuilt pool into the signed index, verified once here.
    #[command(subcommand)]
    Import(import::cli::ImportCommand),
    /// Serve an index directory over HTTP/1.1 (for tests and local use).
    Serve {
        #[arg(long, value_name = "DIR")]
        index: PathBuf,
        #[arg(long, default_value = "127.0.0.1:0")]
        addr: String,
        /// Log one line per request on stderr.
        #[arg(long)]
        log: bool,
        /// Wait this many milliseconds before answering each request: emulates a distant
        /// host's round trip when benchmarking on loopback.
        #[arg(long, value_name = "MS", default_value_t = 0)]
        latency_ms: u64,
    },
}

#[derive(Subcommand, Debug)]
enum StatsCommand {
    /// Serve `POST /record-install`, `GET /counts?since=YYYY-MM-DD[&kind=crate|go]` and
    /// `GET /healthz` over HTTP/1.1, counting into a SQLite database; prints its URL.
    Serve(stats::ServeArgs),
}

#[derive(Subcommand, Debug)]
enum SelectCommand {
    /// Rank Go modules from the module index's records into a build queue (JSON lines).
    #[command(group(clap::ArgGroup::new("records").required(true).args(["index_records", "module_index"])))]
    Go {
        /// Module index records, JSON lines `{"Path","Version","Timestamp"}`.
        #[arg(long, value_name = "FILE")]
        index_records: Option<PathBuf>,
        /// Page the records from this module index (the public one is
        /// `https://index.golang.org/index`), 2000 a page, from --since.
        #[arg(long, value_name = "URL")]
        module_index: Option<String>,
        /// With --module-index: stop after this many pages, so a run always ends.
        #[arg(
            long,
            value_name = "N",
            default_value_t = 1000,
            requires = "module_index"
        )]
        max_pages: usize,
        /// Keep only records indexed at or after this RFC 3339 UTC time.
        #[arg(long, value_name = "RFC3339")]
        since: Option<String>,
        /// Install requests per module, a JSON object: a file path or an http(s) URL.
        #[arg(long, value_name = "FILE|URL")]
        stats: Option<String>,
        /// A popularity score per module, a JSON object.
        #[arg(long, value_name = "FILE")]
        popularity: Option<PathBuf>,
        /// Detect command packages from the module zips on this proxy (URL or directory);
        /// modules without any are left out.
        #[arg(long, value_name = "URL|DIR")]
        proxy: Option<String>,
        /// Keep at most N modules.
        #[arg(long, value_name = "N")]
        limit: Option<usize>,
        /// The queue file to write.
        #[arg(long, value_name = "QUEUE")]
        out: PathBuf,
    },
    /// Rank crates with binaries from the crates.io db dump into a build queue (JSON lines).
    Crates {
        /// The crates.io `db-dump.tar.gz`, read streaming.
        #[arg(long, value_name = "FILE")]
        dump: PathBuf,
        /// Keep only crates updated on or after this day.
        #[arg(long, value_name = "YYYY-MM-DD")]
        since: Option<String>,
        /// Install requests per crate, a JSON object: a file path or an http(s) URL.
        #[arg(long, value_name = "FILE|URL")]
        stats: Option<String>,
        /// The release index: skip versions it has, boost new versions of crates it has.
        #[arg(long, value_name = "DIR")]
        index: Option<PathBuf>,
        /// Keep at most N crates.
        #[arg(long, value_name = "N")]
        limit: Option<usize>,
        /// The queue file to write.
        #[arg(long, value_name = "QUEUE")]
        out: PathBuf,
    },
}

/// Any subcommand's failure; each variant's message is already a full sentence.
#[derive(Debug, thiserror::Error)]
enum Error {
    #[error(transparent)]
    Import(#[from] import::ImportError),
    #[error(transparent)]
    Keygen(#[from] keygen::KeygenError),
    #[error(transparent)]
    Delegate(#[from] delegate::DelegateError),
    #[error(transparent)]
    Resign(#[from] resign::ResignError),
    #[error(transparent)]
    Build(#[from] build::BuildError),
    #[error(transparent)]
    GoBuild(#[from] go::GoBuildError),
    #[error(transparent)]
    GoProxy(#[from] go::proxy::ProxyError),
    #[error(transparent)]
    Package(#[from] package_cmd::PackageCmdError),
    #[error(transparent)]
    Bootstrap(#[from] bootstrap::BootstrapError),
    #[error(transparent)]
    Plan(#[from] plan::PlanError),
    #[error(transparent)]
    Publish(#[from] publish::PublishError),
    #[error(transparent)]
    Select(#[from] select::SelectError),
    #[error(transparent)]
    Serve(#[from] serve::ServeError),
    #[error(transparent)]
    Stats(#[from] stats::StatsError),
    #[error(transparent)]
    SelectGo(#[from] select::go::GoSelectError),
    #[error("pass --index-records or --module-index")]
    NoRecordSource,
    #[error("pass one of --crate, --path or --go")]
    NoSource,
    #[error("could not find the address the server listens on: {0}")]
    LocalAddr(std::io::Error),
    #[error("could not write to stdout: {0}")]
    Stdout(std::io::Error),
    #[error("{0} result(s) were refused (listed above); the others were published")]
    Refused(usize),
    #[error(transparent)]
    Sign(#[from] sign::SignError),
    #[error("`--trusted-key {0}` is not a minisign public key")]
    BadTrustedKey(String),
}

#[allow(clippy::print_stderr)] // reporting the error is this function's job
fn main() -> ExitCode {
    match run(Cli::parse()) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::FAILURE
        }
    }
}

fn run(cli: Cli) -> Result<(), Error> {
    match cli.command {
        Command::Keygen {
            secret_key,
            public_key,
            force,
            root,
        } => {
            let line = if root {
                keygen::keygen_root(&secret_key, &public_key, force)?
            } else {
                keygen::keygen(&secret_key, &public_key, force)?
            };
            say(&line)
        }
        Command::Delegate {
            root_key,
            signing_key_pub,
            valid_for,
            index_id,
            out,
        } => {
            let grant = delegate::delegate(&delegate::DelegateRequest {
                root_key,
                signing_key_pub,
                valid_for,
                index_id,
                out,
            })?;
            say(&format!(
                "delegated {} to sign {} until {}",
                grant.key,
                grant.index,
                quickinstall::index::delegation::utc(grant.not_after)
            ))
        }
        Command::Resign {
            index,
            secret_key,
            delegation,
            signature_validity,
        } => {
            let files = resign::resign(&resign::ResignRequest {
                index,
                secret_key,
                delegation,
                signature_validity,
            })?;
            for file in files {
                say(&format!("resigned {file}"))?;
            }
            Ok(())
        }
        Command::Build {
            krate,
            path,
            go,
            packages,
            proxy,
            target,
            registry,
            out,
            timeout_secs,
        } => {
            if let Some(spec) = go {
                let (module, version) = go::proxy::parse_spec(&spec)?;
                let request = go::GoBuildRequest {
                    module,
                    version,
                    packages,
                    target,
                    proxy,
                    out,
                    timeout: timeout_secs.map(std::time::Duration::from_secs),
                };
                let record = go::build_go(&request, &build::BuildEnv::from_process())?;
                return say(&record.display().to_string());
            }
            let source = match (krate, path) {
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
                target,
                registry,
                out,
                timeout: timeout_secs.map(std::time::Duration::from_secs),
            };
            let record = build::build(&request, &build::BuildEnv::from_process())?;
            say(&record.display().to_string())
        }
        Command::Package {
            name,
            version,
            target,
            out,
            binaries,
        } => {
            let request = package_cmd::PackageRequest {
                name,
                version,
                target,
                out,
                binaries,
            };
            let record = package_cmd::package(&request, &package_cmd::PackageEnv::from_process())?;
            say(&record.display().to_string())
        }
        Command::BootstrapScript {
            index,
            base_url,
            crates,
            public_key,
            roots,
            index_id,
            powershell,
        } => {
            let flavor = if powershell {
                bootstrap::Flavor::PowerShell
            } else {
                bootstrap::Flavor::Sh
            };
            let request = bootstrap::BootstrapRequest {
                index,
                base_url,
                crates,
                public_key,
                roots,
                index_id,
            };
            let script = bootstrap::bootstrap_script(&request, flavor)?;
            say(script.trim_end())
        }
        Command::Plan {
            queue,
            go_queue,
            index,
            history,
            targets,
            max,
            max_failures,
        } => {
            let matrix = plan::plan(&plan::PlanRequest {
                queue,
                go_queue,
                index,
                history,
                targets,
                max,
                max_failures,
            })?;
            say(&matrix.to_line())
        }
        Command::Publish {
            index,
            secret_key,
            archive_base,
            history,
            expect,
            artifacts,
            run_id,
            results,
            delegation,
            signature_validity,
        } => {
            let expect = expect
                .zip(artifacts)
                .map(|(plan, artifacts)| publish::Expect { plan, artifacts });
            let farm = expect.is_some();
            let report = publish::publish(&publish::PublishRequest {
                index,
                secret_key,
                archive_base,
                history,
                results,
                expect,
                run_id,
                delegation,
                signature_validity,
            })?;
            for r in &report.refused {
                say(&format!("refused {}: {}", r.path.display(), r.reason))?;
            }
            for f in &report.failures {
                say(&format!(
                    "failed {} {} {} {}",
                    f.krate,
                    f.version,
                    f.target,
                    f.reason.as_str()
                ))?;
            }
            for p in report.published {
                let what = if p.changed { "published" } else { "unchanged" };
                say(&format!(
                    "{what} {} {} {} {}",
                    p.name, p.version, p.target, p.package_file
                ))?;
            }
            // The farm's run goes on (refusals are in the report and the history); records
            // given by hand are ours, so a refusal there is an error.
            if !farm && !report.refused.is_empty() {
                return Err(Error::Refused(report.refused.len()));
            }
            Ok(())
        }
        Command::CheckKey {
            secret_key,
            delegation,
            trusted_keys,
        } => {
            let mut trusted = quickinstall::index::signature::TrustedKeys::builtin();
            for key in trusted_keys {
                trusted
                    .add_text(&key)
                    .map_err(|_| Error::BadTrustedKey(key.clone()))?;
            }
            let public = sign::check_trusted(&secret_key, delegation.as_deref(), &trusted)?;
            say(&format!("trusted {public}"))
        }
        Command::Select(SelectCommand::Crates {
            dump,
            since,
            stats,
            index,
            limit,
            out,
        }) => {
            let outcome = select::select_crates(&select::SelectRequest {
                dump,
                since,
                stats,
                index,
                limit,
                out,
            })?;
            say(outcome.summary.trim_end())
        }
        Command::Select(SelectCommand::Go {
            index_records,
            module_index,
            max_pages,
            since,
            stats,
            popularity,
            proxy,
            limit,
            out,
        }) => {
            // clap's `records` group guarantees exactly one of the two.
            let records = match (index_records, module_index) {
                (Some(path), _) => select::go::RecordSource::File(path),
                (None, Some(url)) => select::go::RecordSource::ModuleIndex { url, max_pages },
                (None, None) => return Err(Error::NoRecordSource),
            };
            let summary = select::go::select_go(&select::go::GoSelectRequest {
                records,
                since,
                stats,
                popularity,
                proxy,
                limit,
                out,
            })?;
            say(summary.trim_end())
        }
        Command::Import(command) => {
            let report = import::cli::run(command)?;
            say(report.text().trim_end())
        }
        Command::Stats(StatsCommand::Serve(args)) => {
            let server = stats::StatsServer::bind(&args.addr, &args.db, args.settings())?;
            let local = server.local_addr().map_err(Error::LocalAddr)?;
            say(&format!("http://{local}/"))?;
            Ok(server.run()?)
        }
        Command::Serve {
            index,
            addr,
            log,
            latency_ms,
        } => {
            let server = serve::Server::bind(&addr, &index, log)?
                .with_latency(std::time::Duration::from_millis(latency_ms));
            let local = server.local_addr().map_err(Error::LocalAddr)?;
            say(&format!("http://{local}/"))?;
            server.run();
            Ok(())
        }
    }
}

/// One line of data on stdout, flushed (callers wait for it, e.g. the `serve` URL).
fn say(line: &str) -> Result<(), Error> {
    let mut out = std::io::stdout().lock();
    writeln!(out, "{line}")
        .and_then(|()| out.flush())
        .map_err(Error::Stdout)
}
