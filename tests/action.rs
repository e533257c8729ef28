//! The GitHub Action's shell steps (`action/bootstrap.sh`, `action/install-tools.sh`) run as the
//! runner would run them, against the loopback index: GITHUB_PATH, GITHUB_OUTPUT and
//! GITHUB_STEP_SUMMARY are temp files, and PATH holds this build's `cargo-quickinstall` and
//! `gquick`, so the bootstrap step must skip the download. Not here: `action.yml` itself (GitHub
//! runs it; `.github/workflows/action-test.yml`) and install.sh (its own tests).

use std::ffi::OsString;
use std::path::{Path, PathBuf};

use serde_json::Value;

use crate::support::env::{Run, parent_var, quickinstall_exe};
use crate::support::index::{Scenario, world};

/// A scenario plus the files the runner would hand the action.
struct Runner {
    s: Scenario,
    github_path: PathBuf,
    github_output: PathBuf,
    summary: PathBuf,
}

impl Runner {
    fn new() -> Self {
        let s = Scenario::new();
        let runner_dir = s.path().join("runner");
        std::fs::create_dir_all(&runner_dir).unwrap();
        let files = ["path", "output", "summary"].map(|f| runner_dir.join(f));
        for f in &files {
            std::fs::write(f, "").unwrap();
        }
        let [github_path, github_output, summary] = files;
        Self {
            s,
            github_path,
            github_output,
            summary,
        }
    }

    /// Runs `action/<script>` with the action's inputs as env, as action.yml passes them.
    fn step(&self, script: &str, tools: &str, fallback: &str) -> Run {
        self.step_with(script, tools, fallback, &[])
    }

    /// [`Runner::step`] with extra variables.
    fn step_with(&self, script: &str, tools: &str, fallback: &str, extra: &[(&str, &Path)]) -> Run {
        let script = Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("action")
            .join(script);
        // The debug `cargo-quickinstall` and `gquick` live side by side in target/debug.
        let mut path = OsString::from(quickinstall_exe().parent().unwrap());
        if let Some(parent_path) = parent_var("PATH") {
            path.push(":");
            path.push(parent_path);
        }
        let mut cmd = self.s.command("bash");
        for (k, v) in extra {
            cmd = cmd.env(k, v);
        }
        cmd.arg(script)
            .env("PATH", path)
            .env("RUNNER_TEMP", self.s.path())
            .env("GITHUB_PATH", &self.github_path)
            .env("GITHUB_OUTPUT", &self.github_output)
            .env("GITHUB_STEP_SUMMARY", &self.summary)
            .env("QI_TOOLS", tools)
            .env("QI_INDEX", self.s.index.url())
            .env("QI_TRUSTED_KEYS", &world().key.public_b64)
            .env("QI_FALLBACK", fallback)
            .env("QI_TELEMETRY", "false")
            // Never reached: the bootstrap must find the clients on PATH.
            .env("QI_BOOTSTRAP_URL", "http://127.0.0.1:9/install.sh")
            .run()
    }

    fn install(&self, tools: &str) -> Run {
        self.step("install-tools.sh", tools, "false")
    }

    fn read(path: &Path) -> String {
        std::fs::read_to_string(path).unwrap()
    }

    /// The `results` output of the last run, parsed.
    fn results(&self) -> Vec<Value> {
        let output = Self::read(&self.github_output);
        let line = output
            .lines()
            .rev()
            .find_map(|l| l.strip_prefix("results="))
            .unwrap_or_else(|| panic!("no results= line in GITHUB_OUTPUT:\n{output}"));
        serde_json::from_str::<Vec<Value>>(line).unwrap()
    }

    fn result<'a>(results: &'a [Value], name: &str) -> &'a Value {
        results
            .iter()
            .find(|r| r["name"] == name)
            .unwrap_or_else(|| panic!("no result for {name}: {results:?}"))
    }

    /// The summary table row of `tool`, split into trimmed cells.
    fn summary_row(&self, tool: &str) -> Vec<String> {
        let summary = Self::read(&self.summary);
        let row = summary
            .lines()
            .rev()
            .find(|l| l.starts_with(&format!("| {tool} |")))
            .unwrap_or_else(|| panic!("no row for {tool} in the summary:\n{summary}"));
        row.trim_matches('|')
            .split('|')
            .map(|c| c.trim().to_owned())
            .collect()
    }
}

#[test]
fn bootstrap_is_skipped_when_both_clients_are_on_path() {
    let r = Runner::new();
    let run = r.step("bootstrap.sh", "", "false");
    run.assert_exit(0);
    run.stderr_has(&["already on PATH; not bootstrapping"]);
    assert_eq!(Runner::read(&r.github_path), "", "{run}");
}

/// Without the clients on PATH the bootstrap downloads install.sh; a fake `curl` records its
/// arguments: HTTPS only (redirects too) unless the URL itself is `http://`.
#[test]
fn bootstrap_downloads_over_https_only_unless_the_url_is_http() {
    let r = Runner::new();
    let bin = r.s.path().join("fakebin");
    std::fs::create_dir_all(&bin).unwrap();
    let curl = bin.join("curl");
    std::fs::write(
        &curl,
        "#!/bin/sh\nprintf '%s\\n' \"$@\" > \"$CURL_ARGS\"\nprev=\nfor a in \"$@\"; do\n  \
         if [ \"$prev\" = -o ]; then echo 'echo installer-ran' > \"$a\"; fi\n  prev=$a\ndone\n",
    )
    .unwrap();
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&curl, std::fs::Permissions::from_mode(0o755)).unwrap();
    }
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("action/bootstrap.sh");
    let args_file = r.s.path().join("curl-args");
    for (url, proto) in [
        ("https://example.invalid/install.sh", "=https"),
        ("http://127.0.0.1:9/install.sh", "=http,https"),
    ] {
        let run =
            r.s.command("bash")
                .arg(&script)
                .env("PATH", format!("{}:/usr/bin:/bin", bin.display()))
                .env("RUNNER_TEMP", r.s.path())
                .env("GITHUB_PATH", &r.github_path)
                .env("CARGO_HOME", r.s.path().join("cargo"))
                .env("CURL_ARGS", &args_file)
                .env("QI_BOOTSTRAP_URL", url)
                .run();
        run.assert_exit(0);
        assert!(run.stdout.contains("installer-ran"), "{run}");
        let args = std::fs::read_to_string(&args_file).unwrap();
        let expected = format!("--proto\n{proto}\n--proto-redir\n{proto}\n");
        assert!(args.contains(&expected), "{url}: curl got\n{args}");
    }
    assert!(Runner::read(&r.github_path).contains("cargo/bin"));
}

#[test]
fn installs_tools_and_reports_them() {
    let r = Runner::new();
    let run = r.install("qi-hello\nqi-tool@^1");
    run.assert_exit(0);
    assert_eq!(r.s.run_installed("qi-hello"), "qi-hello 0.2.0");
    assert_eq!(r.s.run_installed("qi-tool"), "qi-tool 1.0.0");

    let path_lines = Runner::read(&r.github_path);
    let bin = r.s.bin_dir();
    assert!(
        path_lines.lines().any(|l| Path::new(l) == bin),
        "{} not in GITHUB_PATH:\n{path_lines}",
        bin.display()
    );

    assert!(
        !run.stdout.contains("::"),
        "no annotations when all is well:\n{run}"
    );
    let results = r.results();
    assert_eq!(results.len(), 2, "{results:?}");
    for (name, version) in [("qi-hello", "0.2.0"), ("qi-tool", "1.0.0")] {
        let res = Runner::result(&results, name);
        assert_eq!(res["ok"], true, "{res}");
        assert_eq!(res["version"], version, "{res}");
        assert_eq!(res["source"], "prebuilt", "{res}");
        let row = r.summary_row(name);
        assert_eq!(row[..3], [name, version, "prebuilt"], "{row:?}");
        assert!(row[3].parse::<f64>().is_ok(), "seconds: {row:?}");
    }
}

#[test]
fn a_rerun_reports_already_installed() {
    let r = Runner::new();
    r.install("qi-hello").assert_exit(0);
    r.install("qi-hello").assert_exit(0);
    let results = r.results();
    assert_eq!(results.len(), 1, "{results:?}");
    assert_eq!(results[0]["source"], "already-installed", "{results:?}");
    assert_eq!(r.summary_row("qi-hello")[2], "already-installed");
}

#[test]
fn a_failing_tool_fails_the_step_and_the_others_still_install() {
    let r = Runner::new();
    let run = r.install("qi-hello qi-no-such-crate");
    run.assert_exit(1);
    run.stderr_has(&["qi-no-such-crate"]);
    assert_eq!(r.s.run_installed("qi-hello"), "qi-hello 0.2.0");
    let results = r.results();
    assert_eq!(Runner::result(&results, "qi-hello")["ok"], true);
    let failed = Runner::result(&results, "qi-no-such-crate");
    assert_eq!(failed["ok"], false, "{failed}");
    assert_eq!(r.summary_row("qi-no-such-crate")[2], "failed");
    // One error annotation, for the failure only, with the client's reason.
    let errors: Vec<&str> = run
        .stdout
        .lines()
        .filter(|l| l.starts_with("::error"))
        .collect();
    assert_eq!(errors.len(), 1, "{run}");
    let reason = failed["error"].as_str().unwrap();
    assert_eq!(
        errors[0],
        format!("::error title=quickinstall::qi-no-such-crate: {reason}"),
        "{run}"
    );
    assert!(!run.stdout.contains("::warning"), "{run}");
}

/// A tool built from source gets a `::warning::` on the run's page, a failure an `::error::`.
#[test]
fn a_source_build_is_a_warning_annotation_and_a_failure_an_error() {
    let r = Runner::new();
    let run = r.step("install-tools.sh", "qi-fallback qi-no-such-crate", "true");
    run.assert_exit(1);
    assert_eq!(r.s.run_installed("qi-fallback"), "qi-fallback 0.1.0");
    let results = r.results();
    assert_eq!(
        Runner::result(&results, "qi-fallback")["source"],
        "fallback"
    );
    let annotations: Vec<&str> = run.stdout.lines().filter(|l| l.starts_with("::")).collect();
    assert_eq!(annotations.len(), 2, "{run}");
    assert!(
        annotations.iter().any(|l| l
            .starts_with("::warning title=quickinstall::qi-fallback 0.1.0 was built from source")),
        "{run}"
    );
    assert!(
        annotations
            .iter()
            .any(|l| l.starts_with("::error title=quickinstall::qi-no-such-crate: ")),
        "{run}"
    );
}

/// A message cannot end or forge a workflow command: `%`, CR and LF are escaped.
#[test]
fn annotation_text_is_escaped() {
    let r = Runner::new();
    let results = r.s.path().join("results.jsonl");
    std::fs::write(
        &results,
        "{\"name\":\"t\",\"ok\":false,\"error\":\"100% bad\\n::error::forged\"}\nnot json\n",
    )
    .unwrap();
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("action/summary.py");
    let run =
        r.s.command("python3")
            .arg(script)
            .arg("--annotations")
            .arg(&results)
            .run();
    run.assert_exit(0);
    assert_eq!(
        run.stdout,
        "::error title=quickinstall::t: 100%25 bad%0A::error::forged\n"
    );
}

#[test]
fn a_bad_input_value_is_a_usage_error_before_anything_runs() {
    let r = Runner::new();
    let run = r.step("install-tools.sh", "qi-hello", "sometimes");
    run.assert_exit(2);
    run.stderr_has(&["`fallback` must be true or false"]);
    assert!(!r.s.bin_dir().join("qi-hello").exists());
}

#[test]
fn go_entries_go_to_gquick_alongside_the_crates() {
    let r = Runner::new();
    let gobin = r.s.path().join("gobin");
    // GOPROXY=off keeps gquick off the network: the Go package cannot resolve and fails, which
    // shows it reached gquick (cargo-quickinstall would reject the `/` as a crate name).
    let off = Path::new("off");
    let run = r.step_with(
        "install-tools.sh",
        "qi-hello example.com/nope/cmd/x@v1.0.0",
        "false",
        &[("GOBIN", &gobin), ("GOPROXY", off)],
    );
    run.assert_exit(1);
    assert_eq!(r.s.run_installed("qi-hello"), "qi-hello 0.2.0");
    let results = r.results();
    assert_eq!(Runner::result(&results, "qi-hello")["ok"], true);
    let go = Runner::result(&results, "example.com/nope/cmd/x");
    assert_eq!(go["ok"], false, "{go}");
    let path_lines = Runner::read(&r.github_path);
    assert!(
        path_lines.lines().any(|l| Path::new(l) == gobin),
        "GOBIN not in GITHUB_PATH:\n{path_lines}"
    );
}
