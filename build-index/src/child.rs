//! Running an untrusted build command (`cargo install`, `go build`): stdin closed, output
//! appended to its log, in its own process group so a timeout, or build-index being stopped
//! from outside (SIGTERM, SIGINT, SIGHUP; Ctrl-C, Ctrl-Break or closing the console on
//! Windows), kills everything it started, and the log's tail read back for the failure record.
//! Shared by crate and Go builds.

use std::fs::{self, File};
use std::io::{self, Read, Seek, SeekFrom};
use std::path::Path;
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Mutex, MutexGuard, PoisonError, mpsc};
use std::time::Duration;

/// How much of the end of a log is read for a failure record's tail.
const LOG_TAIL_BYTES: u64 = 64 * 1024;

/// How `cargo install` ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Exit {
    Success,
    Failed,
    /// Killed after the request's timeout.
    TimedOut(Duration),
    /// Killed because build-index itself was told to stop, by this signal.
    Cancelled(&'static str),
}

/// Runs an untrusted build command (its environment already set by the caller): stdin closed,
/// stdout and stderr appended to the log at `log_path`, in its own process group so a timeout
/// stops every process it started (cargo, rustc, build scripts; go, the compiler, cc).
/// `Err(Ok(e))` is a log-file failure, `Err(Err(e))` a failure to start or wait for the child.
pub(crate) fn run_logged(
    command: &mut Command,
    log_path: &Path,
    timeout: Option<Duration>,
) -> Result<Exit, Result<io::Error, io::Error>> {
    let log = fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(log_path)
        .map_err(Ok)?;
    command
        .stdin(Stdio::null())
        .stdout(log.try_clone().map_err(Ok)?)
        .stderr(log);
    #[cfg(unix)]
    std::os::unix::process::CommandExt::process_group(command, 0);
    let stop = stop_signals().map_err(Err)?;
    if let Some(signal) = stop.signal() {
        return Ok(Exit::Cancelled(signal));
    }
    let mut child = command.spawn().map_err(Err)?;
    stop.watch(Victim::of(&child));
    let waited = match timeout {
        None => child.wait().map(|status| (status, false)),
        Some(limit) => wait_or_kill(&mut child, limit),
    };
    stop.unwatch();
    let (status, killed) = waited.map_err(Err)?;
    if let Some(signal) = stop.signal() {
        note_stop(log_path, &format!("because build-index received {signal}"));
        return Ok(Exit::Cancelled(signal));
    }
    Ok(match (status.success(), timeout) {
        (true, _) => Exit::Success,
        (false, Some(limit)) if killed => {
            note_timeout(log_path, limit);
            Exit::TimedOut(limit)
        }
        (false, _) => Exit::Failed,
    })
}

/// Whether build-index was told to stop (the signal's name), for the steps after the build.
pub(crate) fn cancelled() -> Option<&'static str> {
    STOP.signal()
}

/// The signals that stop build-index, once they are caught: which came, and the process group
/// of the build running when it came (killed then, or as soon as it starts).
struct Stop {
    signal: Mutex<Option<&'static str>>,
    running: Mutex<Option<Victim>>,
    installed: Mutex<bool>,
}

static STOP: Stop = Stop {
    signal: Mutex::new(None),
    running: Mutex::new(None),
    installed: Mutex::new(false),
};

/// Catches the stop signals (once per process), so that a build in progress is killed with
/// its process group instead of outliving build-index. A caught signal no longer ends
/// build-index by itself: the build steps check [`cancelled`] and stop, leaving no record.
fn stop_signals() -> io::Result<&'static Stop> {
    let mut installed = lock(&STOP.installed);
    if !*installed {
        // The handlers are in place before this returns, so no signal can slip between the
        // spawn and the watch; a current-thread runtime on its own thread waits for them.
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_io()
            .build()?;
        let mut signals = {
            let _context = runtime.enter();
            Signals::new()?
        };
        std::thread::Builder::new()
            .name("stop-signals".into())
            .spawn(move || {
                loop {
                    let name = runtime.block_on(signals.next());
                    STOP.fire(name);
                }
            })?;
        *installed = true;
    }
    Ok(&STOP)
}

impl Stop {
    fn signal(&self) -> Option<&'static str> {
        *lock(&self.signal)
    }

    /// A signal came: remember the first, kill the running build's group.
    fn fire(&self, name: &'static str) {
        lock(&self.signal).get_or_insert(name);
        if let Some(victim) = lock(&self.running).as_ref() {
            victim.kill();
        }
    }

    /// The build just started: kill it on a signal (at once if one already came).
    fn watch(&self, victim: Victim) {
        let mut running = lock(&self.running);
        if self.signal().is_some() {
            victim.kill();
        }
        *running = Some(victim);
    }

    fn unwatch(&self) {
        *lock(&self.running) = None;
    }
}

/// A lock that a panic elsewhere does not poison for good: the data are plain values.
fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(PoisonError::into_inner)
}

/// SIGTERM, SIGINT and SIGHUP, as tokio streams.
#[cfg(unix)]
struct Signals {
    term: tokio::signal::unix::Signal,
    int: tokio::signal::unix::Signal,
    hup: tokio::signal::unix::Signal,
}

#[cfg(unix)]
impl Signals {
    fn new() -> io::Result<Self> {
        use tokio::signal::unix::{SignalKind, signal};
        Ok(Self {
            term: signal(SignalKind::terminate())?,
            int: signal(SignalKind::interrupt())?,
            hup: signal(SignalKind::hangup())?,
        })
    }

    async fn next(&mut self) -> &'static str {
        tokio::select! {
            _ = self.term.recv() => "SIGTERM",
            _ = self.int.recv() => "SIGINT",
            _ = self.hup.recv() => "SIGHUP",
        }
    }
}

/// Ctrl-C, Ctrl-Break and the console closing, as tokio streams.
#[cfg(windows)]
struct Signals {
    c: tokio::signal::windows::CtrlC,
    brk: tokio::signal::windows::CtrlBreak,
    close: tokio::signal::windows::CtrlClose,
}

#[cfg(windows)]
impl Signals {
    fn new() -> io::Result<Self> {
        use tokio::signal::windows::{ctrl_break, ctrl_c, ctrl_close};
        Ok(Self {
            c: ctrl_c()?,
            brk: ctrl_break()?,
            close: ctrl_close()?,
        })
    }

    async fn next(&mut self) -> &'static str {
        tokio::select! {
            _ = self.c.recv() => "Ctrl-C",
            _ = self.brk.recv() => "Ctrl-Break",
            _ = self.close.recv() => "the console closing",
        }
    }
}

/// Waits for `child`; if it is still running after `limit`, kills its process group. Returns
/// its status and whether it was killed. A watcher thread sleeps on a channel that this
/// thread closes when the child exits, so an early exit wakes it and nothing polls.
pub(crate) fn wait_or_kill(child: &mut Child, limit: Duration) -> io::Result<(ExitStatus, bool)> {
    let (done, done_rx) = mpsc::channel::<()>();
    let killed = AtomicBool::new(false);
    let victim = Victim::of(child);
    let (killed_ref, victim_ref) = (&killed, &victim);
    let status = std::thread::scope(|scope| {
        scope.spawn(move || {
            if done_rx.recv_timeout(limit) == Err(mpsc::RecvTimeoutError::Timeout) {
                killed_ref.store(true, Ordering::SeqCst);
                victim_ref.kill();
            }
        });
        let status = child.wait();
        drop(done);
        status
    })?;
    Ok((status, killed.load(Ordering::SeqCst)))
}

/// What the watcher kills: the child's whole process group on Unix.
#[cfg(unix)]
#[derive(Clone, Copy)]
struct Victim(rustix::process::Pid);

#[cfg(unix)]
impl Victim {
    fn of(child: &Child) -> Self {
        Self(rustix::process::Pid::from_child(child))
    }

    fn kill(&self) {
        // The child leads its group (`process_group(0)`), so its pid is the group id. An error
        // means the group is already gone, which is what we want.
        let _ = rustix::process::kill_process_group(self.0, rustix::process::Signal::KILL);
    }
}

/// Elsewhere only the child itself can be killed, by `taskkill` on its pid and its tree.
#[cfg(not(unix))]
#[derive(Clone, Copy)]
struct Victim(u32);

#[cfg(not(unix))]
impl Victim {
    fn of(child: &Child) -> Self {
        Self(child.id())
    }

    fn kill(&self) {
        let _ = Command::new("taskkill")
            .args(["/F", "/T", "/PID", &self.0.to_string()])
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status();
    }
}

/// Ends the log with why it stops, so its tail says so too. Best effort: the failure record
/// carries the reason whatever happens here.
pub(crate) fn note_timeout(log_path: &Path, limit: Duration) {
    let after = format!("after {} s (--timeout-secs)", limit.as_secs_f64());
    note_stop(log_path, &after);
}

/// Appends `build-index: the build was stopped <why>` to the log; best effort.
fn note_stop(log_path: &Path, why: &str) {
    use std::io::Write;
    if let Ok(mut log) = fs::OpenOptions::new().append(true).open(log_path) {
        let _ = writeln!(log, "build-index: the build was stopped {why}");
    }
}

/// Why a short tool run gave no output.
#[derive(Debug)]
pub(crate) enum ToolError {
    /// It could not be started.
    Spawn(io::Error),
    /// It failed: the last lines of its stderr.
    Failed(String),
}

/// Runs a short, trusted tool query (`rustc -vV`, `cargo metadata`, `go env`) with stdin
/// closed; its stdout as text. The caller sets the program, arguments and environment.
pub(crate) fn tool_output(command: &mut Command) -> Result<String, ToolError> {
    let output = command
        .stdin(Stdio::null())
        .output()
        .map_err(ToolError::Spawn)?;
    if !output.status.success() {
        return Err(ToolError::Failed(crate::record::log_tail(
            &output.stderr,
            5,
        )));
    }
    Ok(String::from_utf8_lossy(&output.stdout).into_owned())
}

/// The last [`LOG_TAIL_BYTES`] of a file.
pub(crate) fn read_tail(path: &Path) -> io::Result<Vec<u8>> {
    let mut file = File::open(path)?;
    let len = file.metadata()?.len();
    file.seek(SeekFrom::Start(len.saturating_sub(LOG_TAIL_BYTES)))?;
    let mut buf = Vec::new();
    file.read_to_end(&mut buf)?;
    Ok(buf)
}
