//! `cargo quickinstall`: parse arguments, run the install operation, map the result to an exit
//! status. Everything else lives in the library.

use std::process::ExitCode;

use clap::{CommandFactory, FromArgMatches};
use quickinstall::cargo_config::CargoConfig;
use quickinstall::cli::{Args, InstallRequest, targets_help};
use quickinstall::env::Env;
use quickinstall::error::ExitStatus;
use quickinstall::ops::install_crates;
use quickinstall::report::Reporter;

fn main() -> ExitCode {
    let env = Env::from_process();
    let mut argv: Vec<_> = std::env::args_os().collect();
    // Run as `cargo quickinstall …`, cargo passes the subcommand name first.
    if argv.get(1).is_some_and(|a| a == "quickinstall") {
        argv.remove(1);
    }
    let matches = match Args::command()
        .after_help(targets_help())
        .try_get_matches_from(argv)
    {
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
    // cargo's own configuration: which registry, where to install, proxy, offline…
    let config = match CargoConfig::load(&env) {
        Ok(c) => c,
        Err(e) => {
            reporter_for_usage.error(&e.message, Some(&e.help));
            return exit(ExitStatus::Failure);
        }
    };
    let request = match Args::from_arg_matches(&matches)
        .map_err(|e| e.to_string())
        .and_then(|args| InstallRequest::new(args, &env, &config).map_err(|e| e.to_string()))
    {
        Ok(r) => r,
        Err(message) => {
            let message = message.trim_start_matches("error: ").trim_end();
            let (message, hint) = match message.split_once("\nhelp: ") {
                Some((m, h)) => (m, Some(h)),
                None => (message, None),
            };
            reporter_for_usage.error(message, hint);
            return exit(ExitStatus::Usage);
        }
    };
    let reporter = Reporter::new(&env, request.quiet).with_color(request.net.color.as_deref());
    exit(install_crates::run(&request, &env, &reporter))
}

fn exit(status: ExitStatus) -> ExitCode {
    ExitCode::from(status.code() as u8)
}
