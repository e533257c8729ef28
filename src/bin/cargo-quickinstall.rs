//! `cargo quickinstall`: parse arguments, run the install operation, map the result to an exit
//! status. Everything else lives in the library.

use std::process::ExitCode;

use clap::{CommandFactory, FromArgMatches};
use quickinstall::cargo_config::CargoConfig;
use quickinstall::cli::{Args, InstallRequest, targets_help};
use quickinstall::env::Env;
use quickinstall::error::ExitStatus;
use quickinstall::ops::ecosystem;
use quickinstall::report::Reporter;

fn main() -> ExitCode {
    let env = Env::from_process();
    let mut argv: Vec<_> = std::env::args_os().collect();
    // Run as `cargo quickinstall …`, cargo passes the subcommand name first.
    if argv.get(1).is_some_and(|a| a == "quickinstall") {
        argv.remove(1);
    }
    let command = || {
        Args::command()
            .after_help(targets_help())
            .color(clap_color(&env, &argv))
    };
    let matches = match command().try_get_matches_from(&argv) {
        Ok(m) => m,
        Err(e) => {
            let _ = e.print();
            return exit(if e.use_stderr() {
                ExitStatus::Usage
            } else {
                ExitStatus::Success
            });
        }
    };
    let reporter_for_usage = Reporter::plain(false);
    let args = match Args::from_arg_matches(&matches) {
        Ok(a) => a,
        Err(e) => {
            reporter_for_usage.error(e.to_string().trim_start_matches("error: ").trim_end(), None);
            return exit(ExitStatus::Usage);
        }
    };
    if args.print_version {
        reporter_for_usage.data(&format!("cargo-quickinstall {}", env!("CARGO_PKG_VERSION")));
        return exit(ExitStatus::Success);
    }
    if let Some(shell) = args.completions {
        // Into a buffer first: a closed pipe (`| head`) must not panic.
        let mut script = Vec::new();
        clap_complete::generate(shell, &mut command(), "cargo-quickinstall", &mut script);
        let _ = std::io::Write::write_all(&mut std::io::stdout(), &script);
        return exit(ExitStatus::Success);
    }
    if args.list {
        // cargo's tracker records our installs as its own: its listing is the listing.
        let mut list = std::process::Command::new(env.cargo());
        list.args(["install", "--list"]);
        if let Some(root) = &args.root {
            list.arg("--root").arg(root);
        }
        return match list.status() {
            Ok(status) if status.success() => exit(ExitStatus::Success),
            Ok(_) => exit(ExitStatus::Failure),
            Err(e) => {
                reporter_for_usage.error(
                    &format!("could not run `cargo install --list`: {e}"),
                    Some("install cargo (rustup.rs), or name it with $CARGO"),
                );
                exit(ExitStatus::Failure)
            }
        };
    }
    // cargo's own configuration: which registry, where to install, proxy, offline…
    let config = match CargoConfig::load(&env) {
        Ok(c) => c,
        Err(e) => {
            reporter_for_usage.error(&e.message, Some(&e.help));
            return exit(ExitStatus::Failure);
        }
    };
    let toolset_mode =
        quickinstall::toolset::Mode::from_flags(args.sync, args.locked_tools, args.update.clone());
    let manifest = args.manifest.clone();
    if manifest.is_some() && toolset_mode.is_none() {
        reporter_for_usage.error(
            "--manifest applies to --sync, --locked-tools and --update",
            Some("add one of them, e.g. `cargo quickinstall --sync --manifest tools/quickinstall.toml`"),
        );
        return exit(ExitStatus::Usage);
    }
    let common = args.common.clone();
    let request = match InstallRequest::new(args, &env, &config) {
        Ok(r) => r,
        Err(e) => {
            let (message, hint) = match e.0.split_once("\nhelp: ") {
                Some((m, h)) => (m, Some(h)),
                None => (e.0.as_str(), None),
            };
            reporter_for_usage.error(message, hint);
            return exit(ExitStatus::Usage);
        }
    };
    let reporter = Reporter::new(&env, request.run.quiet)
        .with_color(request.net.color.as_deref())
        .with_verbosity(request.verbose);
    if let Some(mode) = toolset_mode {
        let requests = quickinstall::toolset::Requests::new(Ok(request), common, &env);
        return exit(quickinstall::toolset::run(
            &mode,
            manifest.as_deref(),
            &requests,
            &env,
            &reporter,
        ));
    }
    exit(ecosystem::crates::run(&request, &env, &reporter))
}

/// clap's own colour (help, usage errors): `--color` if given, else `CARGO_TERM_COLOR`, else
/// `CLICOLOR_FORCE`; clap's `auto` honours `NO_COLOR` and the terminal.
fn clap_color(env: &Env, argv: &[std::ffi::OsString]) -> clap::ColorChoice {
    let flag = argv.iter().enumerate().find_map(|(i, a)| {
        let a = a.to_str()?;
        a.strip_prefix("--color=")
            .map(str::to_owned)
            .or_else(|| (a == "--color").then(|| argv.get(i + 1)?.to_str().map(str::to_owned))?)
    });
    let choice = flag
        .or_else(|| env.get("CARGO_TERM_COLOR").map(str::to_owned))
        .or_else(|| {
            env.get("CLICOLOR_FORCE")
                .filter(|v| *v != "0")
                .map(|_| "always".to_owned())
        });
    match choice.as_deref() {
        Some("always") => clap::ColorChoice::Always,
        Some("never") => clap::ColorChoice::Never,
        _ => clap::ColorChoice::Auto,
    }
}

fn exit(status: ExitStatus) -> ExitCode {
    ExitCode::from(status.code() as u8)
}
