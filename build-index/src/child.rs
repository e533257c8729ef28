//! Running an untrusted build command (`cargo install`, `go build`): stdin closed, output
//! appended to its log, in its own process group so a timeout kills everything it started, and
//! the log's tail read back for the failure record. Shared by crate and Go builds.

use std::fs::{self, File};
use std::io::{self, Read, Seek, SeekFrom};
use std::path::Path;
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc;
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
    let mut child = command.spawn().map_err(Err)?;
    let (status, killed) = match timeout {
        None => (child.wait().map_err(Err)?, false),
        Some(limit) => wait_or_kill(&mut child, limit).map_err(Err)?,
    };
    Ok(match (status.success(), timeout) {
        (true, _) => Exit::Success,
        (false, Some(limit)) if killed => {
            note_timeout(log_path, limit);
            Exit::TimedOut(limit)
        }
        (false, _) => Exit::Failed,
    })
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
    use std::io::Write;
    if let Ok(mut log) = fs::OpenOptions::new().append(true).open(log_path) {
        let _ = writeln!(
            log,
            "build-index: the build was stopped after {} s (--timeout-secs)",
            limit.as_secs_f64()
        );
    }
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
