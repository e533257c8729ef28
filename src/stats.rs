//! The anonymous install ping: one small JSON record per install attempt, sent to the stats
//! service, which tells the build farm what people want built next.
//!
//! What is sent is exactly a [`Ping`] (defined once, in [`ping`], for the client and the
//! service): kind, package name, version, target, outcome, client name and version; nothing
//! about the user, the machine or its paths. This module decides whether to
//! send at all ([`Settings`], [`decide`]), shows the one-time notice, and sends a run's pings
//! together, in one request on a connection opened when the run starts ([`Telemetry`]); at exit
//! it waits at most [`WAIT_AT_EXIT`] in total for them and then abandons the rest. A ping never
//! reports an error: its failure is invisible by design.
//! It does not know how installs work; the operations tell it outcomes.

use std::cell::{Cell, RefCell};
use std::path::{Path, PathBuf};
use std::sync::mpsc::{self, Receiver, RecvTimeoutError, Sender};
use std::sync::{Arc, Mutex, OnceLock};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use crate::env::Env;
use crate::error::PackageError;
use crate::registry::crates::Registry;
use crate::report::{Reporter, Source};

/// The project's stats service; `QUICKINSTALL_STATS_URL` points elsewhere (a self-hosted one).
pub const DEFAULT_STATS_URL: &str = "https://stats.quickinstall.dev";

/// The most the client waits at exit, in total, for pings still in flight.
pub const WAIT_AT_EXIT: Duration = Duration::from_millis(200);

/// A ping's own deadline. Longer than [`WAIT_AT_EXIT`] on purpose: pings sent early in a long
/// run (before a fallback's compile) have time to finish while the run goes on; at exit, the
/// join deadline, not this, bounds the delay.
const REQUEST_TIMEOUT: Duration = Duration::from_secs(2);

/// The marker file (in the config dir) that says the notice was shown.
const NOTICE_MARKER: &str = "quickinstall/telemetry-notice-shown";

pub mod ping;
pub use ping::{Client, Kind, Outcome, Ping};

/// What the client knows of an outcome; the type itself is the wire contract ([`ping`]).
impl Outcome {
    /// The outcome of a successful install, from its result's `source`: none for
    /// `already-installed` (nothing was attempted).
    pub fn of_success(source: Option<Source>) -> Option<Self> {
        match source? {
            Source::Prebuilt => Some(Self::Prebuilt),
            Source::Fallback => Some(Self::FallbackBuilt),
            Source::AlreadyInstalled => None,
        }
    }

    /// The outcome of a failed install: none for failures that say nothing about the package
    /// (network, usage, a binary conflict, the tracker).
    pub fn of_error(error: &PackageError) -> Option<Self> {
        match error {
            PackageError::NoPrebuilt { .. } => Some(Self::NotInIndex),
            PackageError::Fallback(_) => Some(Self::FallbackFailed),
            e if e.is_verification() => Some(Self::VerifyFailed),
            _ => None,
        }
    }
}

/// The version and target an error names, when it names them.
pub fn subject_of(error: &PackageError) -> (Option<&str>, Option<&str>) {
    match error {
        PackageError::NoPrebuilt { version, .. } => (Some(version), None),
        PackageError::Source { subject, .. }
        | PackageError::Download { subject, .. }
        | PackageError::Unpack { subject, .. }
        | PackageError::ArchiveRefused { subject, .. }
        | PackageError::Install { subject, .. } => (Some(&subject.version), Some(&subject.target)),
        _ => (None, None),
    }
}

/// What decides whether pings are sent for a run.
#[derive(Clone, Copy, Debug)]
pub struct Settings {
    pub client: Client,
    /// `--no-telemetry`.
    pub no_telemetry: bool,
    pub dry_run: bool,
    /// The packages come from a public source (crates.io or a mirror of it; for Go, privacy is
    /// decided per module by the caller).
    pub public: bool,
    /// `--quiet`: the notice waits for a run that prints.
    pub quiet: bool,
}

/// The endpoint to POST to, or `None` when pings are off: `--no-telemetry`,
/// `QUICKINSTALL_NO_TELEMETRY`, `DO_NOT_TRACK`, `--dry-run`, or a private registry.
pub fn decide(settings: &Settings, env: &Env) -> Option<String> {
    if settings.no_telemetry
        || settings.dry_run
        || !settings.public
        || env.no_telemetry()
        || env.do_not_track()
    {
        return None;
    }
    Some(endpoint(
        env.get("QUICKINSTALL_STATS_URL")
            .unwrap_or(DEFAULT_STATS_URL),
    ))
}

fn endpoint(base: &str) -> String {
    format!("{}/record-install", base.trim_end_matches('/'))
}

/// Whether a crate registry is public: none given (crates.io), crates.io itself, or the URL in
/// `QUICKINSTALL_PUBLIC_REGISTRY`, which declares a mirror of crates.io as public.
pub fn is_public_registry(registry: Option<&str>, env: &Env) -> bool {
    let Some(url) = registry else {
        return true;
    };
    if Registry::from_url(url).is_ok_and(|r| r.is_crates_io()) {
        return true;
    }
    let normal = |u: &str| {
        u.strip_prefix("sparse+")
            .unwrap_or(u)
            .trim_end_matches('/')
            .to_owned()
    };
    env.get("QUICKINSTALL_PUBLIC_REGISTRY")
        .is_some_and(|mirror| normal(mirror) == normal(url))
}

/// A resolved version: `1.2.3` for a crate, `v1.2.3` (pseudo-versions included) for Go.
pub fn is_exact_version(kind: Kind, version: &str) -> bool {
    let bare = match kind {
        Kind::Crate => Some(version),
        Kind::Go => version.strip_prefix('v'),
    };
    bare.is_some_and(|v| semver::Version::parse(v).is_ok())
}

/// The one-line notice shown on the first run with pings on.
pub fn notice_text(base_url: &str) -> String {
    format!(
        "quickinstall sends an anonymous install count (package, version, target, outcome) to {base_url}; turn it off with --no-telemetry or DO_NOT_TRACK=1"
    )
}

/// The notice marker's path, when there is a config dir.
pub fn notice_marker(env: &Env) -> Option<PathBuf> {
    env.config_dir().map(|d| d.join(NOTICE_MARKER))
}

/// Claims the marker: true when this run created it (or cannot write it, so the notice is
/// shown rather than hidden), false when a run already did.
fn claim_marker(marker: &Path) -> bool {
    if marker.exists() {
        return false;
    }
    if let Some(dir) = marker.parent() {
        let _ = std::fs::create_dir_all(dir);
    }
    // `create_new` makes the claim atomic: of two runs started together, one shows the notice.
    match std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .open(marker)
    {
        Ok(_) => true,
        Err(e) => e.kind() != std::io::ErrorKind::AlreadyExists,
    }
}

fn show_notice_once(env: &Env, base_url: &str, reporter: &Reporter) {
    let show = match notice_marker(env) {
        Some(marker) => claim_marker(&marker),
        None => true,
    };
    if show {
        reporter.note(&notice_text(base_url));
    }
}

/// One run's pings. They are kept as the outcomes come and sent together, in one request
/// (a list, [`ping::body`]), by [`Telemetry::flush`] or at the end of the run; the connection
/// they go out on is opened when the run starts, so at the end they cost one round trip, not
/// three (TCP, TLS, the request). Dropping it (or [`Telemetry::finish`]) sends what is left
/// and waits at most [`WAIT_AT_EXIT`] in total for the requests in flight; threads still running
/// after that are abandoned, and end with the process.
pub struct Telemetry {
    active: Option<Active>,
}

struct Active {
    client: Client,
    endpoint: String,
    link: Arc<Link>,
    /// Recorded, not yet sent.
    pending: RefCell<Vec<Ping>>,
    done_tx: Sender<()>,
    done_rx: Receiver<()>,
    outstanding: Cell<usize>,
}

/// The run's way to the stats service: its agent (whose pool keeps the connection), and the
/// thread opening that connection at the start, which a send waits for rather than opening a
/// second one.
struct Link {
    agent: OnceLock<ureq::Agent>,
    opening: Mutex<Option<JoinHandle<()>>>,
}

impl Link {
    fn agent(&self, client: Client, endpoint: &str) -> &ureq::Agent {
        self.agent.get_or_init(|| ping_agent(client, endpoint))
    }
}

impl Telemetry {
    /// Sends nothing.
    pub fn off() -> Self {
        Self { active: None }
    }

    /// Pings per `settings` and the environment; shows the notice on the first run with
    /// pings on.
    pub fn start(settings: &Settings, env: &Env, reporter: &Reporter) -> Self {
        let Some(endpoint) = decide(settings, env) else {
            return Self::off();
        };
        if settings.quiet {
            // The notice must be seen before pings go out; a quiet run sends none and waits
            // for one that prints.
            let seen = notice_marker(env).is_some_and(|m| m.exists());
            if !seen {
                return Self::off();
            }
        } else {
            let base = endpoint.trim_end_matches("/record-install");
            show_notice_once(env, base, reporter);
        }
        let link = Arc::new(Link {
            agent: OnceLock::new(),
            opening: Mutex::new(None),
        });
        let client = settings.client;
        let (done_tx, done_rx) = mpsc::channel();
        Self {
            active: Some(Active {
                client,
                endpoint,
                link,
                pending: RefCell::new(Vec::new()),
                done_tx,
                done_rx,
                outstanding: Cell::new(0),
            }),
        }
    }

    pub fn is_on(&self) -> bool {
        self.active.is_some()
    }

    /// Starts opening the connection the pings will go out on, in the background: a
    /// `GET /healthz`, which carries nothing and leaves the connection in the agent's pool.
    /// For runs with something to ping: one whose every package is private makes no contact.
    pub fn connect_early(&self) {
        let Some(active) = &self.active else {
            return;
        };
        let Ok(mut slot) = active.link.opening.lock() else {
            return;
        };
        if slot.is_some() || active.link.agent.get().is_some() {
            return;
        }
        let link = Arc::clone(&active.link);
        let (client, endpoint) = (active.client, active.endpoint.clone());
        let healthz = format!("{}/healthz", endpoint.trim_end_matches("/record-install"));
        let opening = std::thread::Builder::new()
            .name("stats-connect".into())
            .spawn(move || {
                if let Ok(response) = link.agent(client, &endpoint).get(&healthz).call() {
                    // Read to its end, the connection goes back to the pool.
                    let _ = response.into_body().read_to_vec();
                }
            });
        *slot = opening.ok();
    }

    /// Keeps one ping, to be sent with the run's others. Nothing is kept for a version that
    /// was never resolved (a Go query like `latest` handed to `go install` as is).
    pub fn record(&self, name: &str, version: &str, target: &str, outcome: Outcome) {
        let Some(active) = &self.active else {
            return;
        };
        if !is_exact_version(active.client.kind(), version) {
            return;
        }
        let ping = Ping::new(active.client, name, version, target, outcome);
        active.pending.borrow_mut().push(ping);
    }

    /// Sends the pings kept so far, together, in the background; returns at once. Called
    /// before a long step (a build from source) so they do not wait for its end.
    pub fn flush(&self) {
        let Some(active) = &self.active else {
            return;
        };
        let pending = std::mem::take(&mut *active.pending.borrow_mut());
        for chunk in pending.chunks(ping::MAX_PINGS_PER_REQUEST) {
            let body = ping::body(chunk);
            let link = Arc::clone(&active.link);
            let (client, endpoint) = (active.client, active.endpoint.clone());
            let done = active.done_tx.clone();
            let spawned = std::thread::Builder::new()
                .name("stats-ping".into())
                .spawn(move || {
                    // The connection being opened is the one to use: wait for it.
                    let opening = link.opening.lock().ok().and_then(|mut o| o.take());
                    if let Some(handle) = opening {
                        let _ = handle.join();
                    }
                    // Whatever happens is ignored: a ping never shows an error.
                    let _ = link
                        .agent(client, &endpoint)
                        .post(&endpoint)
                        .header("Content-Type", "application/json")
                        .send(body.as_str());
                    let _ = done.send(());
                });
            if spawned.is_ok() {
                active.outstanding.set(active.outstanding.get() + 1);
            }
        }
    }

    /// Sends what is left and waits for the requests in flight, at most [`WAIT_AT_EXIT`] in
    /// total.
    pub fn finish(self) {
        drop(self);
    }
}

/// The agent pings to `endpoint` go out on.
fn ping_agent(client: Client, endpoint: &str) -> ureq::Agent {
    // A plain-HTTP endpoint (a loopback test server) has no use for the system's certificates.
    let roots = crate::download::roots::for_url(endpoint);
    let config = ureq::Agent::config_builder()
        .http_status_as_error(false)
        .user_agent(format!("{}/{}", client.name(), env!("CARGO_PKG_VERSION")))
        .timeout_global(Some(REQUEST_TIMEOUT))
        .tls_config(ureq::tls::TlsConfig::builder().root_certs(roots).build())
        .build();
    crate::download::new_agent(config)
}

impl Drop for Telemetry {
    fn drop(&mut self) {
        self.flush();
        let Some(active) = &self.active else {
            return;
        };
        let deadline = Instant::now() + WAIT_AT_EXIT;
        let mut left = active.outstanding.get();
        while left > 0 {
            let now = Instant::now();
            let Some(wait) = deadline.checked_duration_since(now) else {
                break;
            };
            match active.done_rx.recv_timeout(wait) {
                Ok(()) => left -= 1,
                Err(RecvTimeoutError::Timeout | RecvTimeoutError::Disconnected) => break,
            }
        }
        active.outstanding.set(left);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::error::Subject;

    fn env(pairs: &[(&str, &str)]) -> Env {
        Env::from_pairs(Path::new("/w"), pairs.iter().copied())
    }

    fn settings() -> Settings {
        Settings {
            client: Client::CargoQuickinstall,
            no_telemetry: false,
            dry_run: false,
            public: true,
            quiet: false,
        }
    }

    #[test]
    fn every_opt_out_turns_pings_off() {
        assert_eq!(
            decide(&settings(), &env(&[])).as_deref(),
            Some("https://stats.quickinstall.dev/record-install")
        );
        assert_eq!(
            decide(
                &settings(),
                &env(&[("QUICKINSTALL_STATS_URL", "http://h:1/")])
            )
            .as_deref(),
            Some("http://h:1/record-install")
        );
        let off = |s: Settings, e: &[(&str, &str)]| decide(&s, &env(e)).is_none();
        assert!(off(
            Settings {
                no_telemetry: true,
                ..settings()
            },
            &[]
        ));
        assert!(off(
            Settings {
                dry_run: true,
                ..settings()
            },
            &[]
        ));
        assert!(off(
            Settings {
                public: false,
                ..settings()
            },
            &[]
        ));
        assert!(off(settings(), &[("DO_NOT_TRACK", "1")]));
        assert!(off(settings(), &[("QUICKINSTALL_NO_TELEMETRY", "1")]));
        assert!(!off(settings(), &[("QUICKINSTALL_NO_TELEMETRY", "0")]));
    }

    #[test]
    fn only_crates_io_or_a_declared_mirror_is_public() {
        let e = env(&[("QUICKINSTALL_PUBLIC_REGISTRY", "http://127.0.0.1:9/index/")]);
        assert!(is_public_registry(None, &e));
        assert!(is_public_registry(
            Some("sparse+https://index.crates.io/"),
            &e
        ));
        assert!(is_public_registry(
            Some("sparse+http://127.0.0.1:9/index"),
            &e
        ));
        assert!(!is_public_registry(Some("http://127.0.0.1:8/index/"), &e));
        assert!(!is_public_registry(
            Some("http://127.0.0.1:9/index/"),
            &env(&[])
        ));
    }

    #[test]
    fn outcomes_follow_the_contract() {
        assert_eq!(
            Outcome::of_success(Some(Source::Prebuilt)),
            Some(Outcome::Prebuilt)
        );
        assert_eq!(
            Outcome::of_success(Some(Source::Fallback)),
            Some(Outcome::FallbackBuilt)
        );
        assert_eq!(Outcome::of_success(Some(Source::AlreadyInstalled)), None);
        let no_prebuilt = PackageError::NoPrebuilt {
            name: "a".into(),
            version: "1.0.0".into(),
            targets: "t".into(),
            fallback: "cargo install",
            details: String::new(),
        };
        assert_eq!(Outcome::of_error(&no_prebuilt), Some(Outcome::NotInIndex));
        assert_eq!(subject_of(&no_prebuilt), (Some("1.0.0"), None));
        let conflict = PackageError::Conflict {
            bin: "a".into(),
            dir: PathBuf::from("/b"),
            owner: None,
        };
        assert_eq!(Outcome::of_error(&conflict), None);
        let unpack = PackageError::Unpack {
            subject: Box::new(Subject {
                name: "a".into(),
                version: "1.0.0".into(),
                target: "t".into(),
            }),
            source: crate::unpack::UnpackError::MissingBinary {
                archive: PathBuf::from("/a.tar.gz"),
                name: "a".into(),
            },
        };
        assert_eq!(Outcome::of_error(&unpack), Some(Outcome::VerifyFailed));
        assert_eq!(subject_of(&unpack), (Some("1.0.0"), Some("t")));
    }

    #[test]
    fn only_resolved_versions_are_sent() {
        assert!(is_exact_version(Kind::Crate, "1.2.3"));
        assert!(!is_exact_version(Kind::Crate, "v1.2.3"));
        assert!(is_exact_version(Kind::Go, "v1.2.3"));
        assert!(is_exact_version(
            Kind::Go,
            "v0.0.0-20240101120000-abcdef123456"
        ));
        assert!(!is_exact_version(Kind::Go, "latest"));
        assert!(!is_exact_version(Kind::Go, "v1"));
    }

    #[test]
    fn the_notice_marker_is_claimed_once() {
        let dir = tempfile::tempdir().unwrap();
        let e = env(&[("XDG_CONFIG_HOME", dir.path().to_str().unwrap())]);
        let marker = notice_marker(&e).unwrap();
        assert_eq!(
            marker,
            dir.path().join("quickinstall/telemetry-notice-shown")
        );
        assert!(claim_marker(&marker));
        assert!(!claim_marker(&marker));
    }

    #[test]
    fn finishing_with_a_dead_server_waits_at_most_the_budget() {
        // A listener that accepts (the kernel queues the connection) and never answers.
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let url = format!("http://{}", listener.local_addr().unwrap());
        let dir = tempfile::tempdir().unwrap();
        let e = env(&[
            ("QUICKINSTALL_STATS_URL", url.as_str()),
            ("XDG_CONFIG_HOME", dir.path().to_str().unwrap()),
        ]);
        let telemetry = Telemetry::start(&settings(), &e, &Reporter::plain(true));
        assert!(telemetry.is_on());
        telemetry.record("a", "1.0.0", "t", Outcome::Prebuilt);
        telemetry.record("b", "1.0.0", "t", Outcome::Prebuilt);
        let start = Instant::now();
        telemetry.finish();
        // A bound, not a benchmark: generous for a loaded 2-core machine.
        assert!(start.elapsed() < Duration::from_secs(1));
    }
}
