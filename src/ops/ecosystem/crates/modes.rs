//! The two ways `cargo quickinstall` runs other than "these crates, prebuilt if possible":
//! `--git`/`--path`/`--features`/… (straight to `cargo install`, nothing prebuilt can honour
//! them) and `--upgrade-all` (the installed crates of this source, newest version each).

use crate::cli::{CrateSpec, InstallRequest, SourceBuild};
use crate::env::Env;
use crate::error::ExitStatus;
use crate::fallback::SourceBuild as Command;
use crate::install::cargo_tracker;
use crate::registry::crates::Registry;
use crate::report::Reporter;

/// Runs `cargo install` with the user's arguments, announced with the flag that made it
/// necessary. `--dry-run` prints the command; `--no-fallback` refuses.
pub(super) fn source_build(
    request: &InstallRequest,
    build: &SourceBuild,
    env: &Env,
    reporter: &Reporter,
) -> ExitStatus {
    let command = Command {
        program: env.cargo(),
        args: build.args.clone(),
    };
    if !request.run.fallback {
        reporter.error(
            &format!(
                "{} asks for a build from source, which --no-fallback forbids",
                build.because
            ),
            Some(&format!("drop --no-fallback, or run `{command}` yourself")),
        );
        return ExitStatus::Failure;
    }
    if request.run.dry_run {
        reporter.data(&format!(
            "would build from source ({} needs `cargo install`) with `{command}`",
            build.because
        ));
        return ExitStatus::Success;
    }
    reporter.status(
        "Building",
        &format!("from source: nothing prebuilt can honour {}", build.because),
    );
    reporter.status("Running", &format!("`{command}`"));
    match command.run("the crate") {
        Ok(()) => ExitStatus::Success,
        Err(e) => {
            reporter.error(&e.to_string(), e.hint().as_deref());
            ExitStatus::Failure
        }
    }
}

/// `--upgrade-all`: every crate cargo's tracker records under the install root from the source
/// crates come from now, asked for at its newest version (already-newest ones are reported as
/// already installed). Crates from other sources (git, path, another registry) are named and
/// left alone.
pub(super) fn upgrade_candidates(request: &InstallRequest, reporter: &Reporter) -> Vec<CrateSpec> {
    let Some(source_id) = request
        .source
        .sparse_url
        .as_deref()
        .and_then(|url| Registry::from_url(url).ok())
        .map(|r| r.source_id())
    else {
        reporter.warn(&format!(
            "--upgrade-all cannot check for newer versions in {}; nothing upgraded",
            request.source.describe
        ));
        return Vec::new();
    };
    let mut specs = Vec::new();
    for (id, _) in cargo_tracker::installed_snapshot(&request.root) {
        if id.source() == source_id {
            specs.push(CrateSpec {
                name: id.name().to_owned(),
                req: None,
                req_text: None,
                pinned: None,
            });
        } else {
            reporter.verbose(
                1,
                &format!(
                    "not upgrading `{} {}`: installed from `{}`, not {}",
                    id.name(),
                    id.version(),
                    id.source(),
                    request.source.describe
                ),
            );
        }
    }
    if specs.is_empty() {
        reporter.status(
            "Upgraded",
            &format!(
                "nothing: no crate from {} is installed",
                request.source.describe
            ),
        );
    }
    specs
}
