//! A server binary run as a child process that prints its base URL on its first line of stdout
//! (`build-index serve`, `build-index stats serve`); killed and reaped when dropped, so a failing
//! test leaves no server behind.

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};

/// A running child server.
pub struct ChildServer {
    child: Child,
    url: String,
}

impl ChildServer {
    /// Spawns `command` with stdout piped and waits for its first line, the `http://…` URL it
    /// listens on. Panics (failing the test) when it prints anything else.
    pub fn start(mut command: Command) -> Self {
        let mut child = command
            .stdout(Stdio::piped())
            .spawn()
            .unwrap_or_else(|e| panic!("could not start {command:?}: {e}"));
        let mut line = String::new();
        if let Some(stdout) = child.stdout.take() {
            let _ = BufReader::new(stdout).read_line(&mut line);
        }
        let url = line.trim().trim_end_matches('/').to_owned();
        if !url.starts_with("http://") {
            let _ = child.kill();
            let _ = child.wait();
            panic!("{command:?} printed {line:?}, not its URL");
        }
        Self { child, url }
    }

    /// `http://127.0.0.1:PORT`, without a trailing slash.
    pub fn url(&self) -> &str {
        &self.url
    }

    /// `127.0.0.1:PORT`, for [`crate::client`] and `TcpStream::connect`.
    pub fn addr(&self) -> &str {
        self.url.trim_start_matches("http://")
    }

    /// The process, for tests that signal it themselves.
    pub fn child_mut(&mut self) -> &mut Child {
        &mut self.child
    }
}

impl Drop for ChildServer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
