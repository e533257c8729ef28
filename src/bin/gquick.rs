//! `gquick`: parse arguments, run the install, list or upgrade operation, map the result to an
//! exit status. Everything else lives in the library.

use std::process::ExitCode;

use clap::{CommandFactory, Parser};
use quickinstall::cli::go::{GoArgs, GoCommand, GoInstallRequest, parse_go_spec};
use quickinstall::env::Env;
use quickinstall::error::ExitStatus;
use quickinstall::install::go_bin;
use quickinstall::ops::ecosystem;
use quickinstall::ops::list_go;
use quickinstall::report::Reporter;

fn main() -> ExitCode {
    let env = Env::from_process();
    let args = match GoArgs::try_parse() {
        Ok(a) => a,
        Err(e) => {
            let _ = e.print();
            return exit(if e.use_stderr() {
                ExitStatus::Usage
            } else {
                ExitStatus::Success
            });
        }
    };
    let usage = |message: String| {
        Reporter::plain(false).error(&message, None);
        exit(ExitStatus::Usage)
    };
    let Some(command) = args.command else {
        // `arg_required_else_help`: without a subcommand, only `--completions` gets here.
        if let Some(shell) = args.completions {
            // Into a buffer first: a closed pipe (`| head`) must not panic.
            let mut script = Vec::new();
            clap_complete::generate(shell, &mut GoArgs::command(), "gquick", &mut script);
            let _ = std::io::Write::write_all(&mut std::io::stdout(), &script);
        }
        return exit(ExitStatus::Success);
    };
    match command {
        GoCommand::Install { packages, options } => {
            let specs = match packages
                .iter()
                .map(|p| parse_go_spec(p))
                .collect::<Result<Vec<_>, _>>()
            {
                Ok(s) => s,
                Err(e) => return usage(e.0),
            };
            let request = match GoInstallRequest::new(specs, options, &env) {
                Ok(r) => r,
                Err(e) => return usage(e.0),
            };
            let reporter = Reporter::new(&env, request.run.quiet);
            exit(ecosystem::go::run(&request, &env, &reporter))
        }
        GoCommand::List { json } => {
            let bin_dir = match go_bin::go_bin_dir(&env) {
                Ok(d) => d,
                Err(e) => return usage(e.to_string()),
            };
            exit(list_go::list(&bin_dir, json, &Reporter::new(&env, false)))
        }
        GoCommand::Sync {
            locked,
            update,
            manifest,
            options,
        } => {
            let mode = quickinstall::toolset::Mode::from_flags(!locked, locked, update)
                .unwrap_or(quickinstall::toolset::Mode::Sync);
            let quiet = options.quiet;
            let requests = quickinstall::toolset::Requests::for_gquick(options, &env);
            let reporter = Reporter::new(&env, quiet);
            exit(quickinstall::toolset::run(
                &mode,
                manifest.as_deref(),
                &requests,
                &env,
                &reporter,
            ))
        }
        GoCommand::Upgrade {
            names,
            all,
            options,
        } => {
            let request = match GoInstallRequest::new(Vec::new(), options, &env) {
                Ok(r) => r,
                Err(e) => return usage(e.0),
            };
            let reporter = Reporter::new(&env, request.run.quiet);
            exit(list_go::upgrade(request, &names, all, &env, &reporter))
        }
    }
}

fn exit(status: ExitStatus) -> ExitCode {
    ExitCode::from(status.code() as u8)
}
