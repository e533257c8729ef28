//! `build-index serve`: an index directory over HTTP/1.1; prints its URL.

use std::path::PathBuf;
use std::time::Duration;

use super::{Error, say};
use crate::serve::Server;

#[derive(clap::Args, Debug)]
pub(crate) struct Args {
    #[arg(long, value_name = "DIR")]
    index: PathBuf,
    #[arg(long, default_value = "127.0.0.1:0")]
    addr: String,
    /// Log one line per request on stderr: its arrival (Unix seconds, to the microsecond),
    /// method, path, status and body bytes.
    #[arg(long)]
    log: bool,
    /// Wait this many milliseconds before answering each request: emulates a distant
    /// host's round trip when benchmarking on loopback.
    #[arg(long, value_name = "MS", default_value_t = 0)]
    latency_ms: u64,
}

/// Binds, prints the URL and serves until killed.
pub(crate) fn run(args: Args) -> Result<(), Error> {
    let server = Server::bind(&args.addr, &args.index, args.log)?
        .with_latency(Duration::from_millis(args.latency_ms));
    let local = server.local_addr().map_err(Error::LocalAddr)?;
    say(&format!("http://{local}/"))?;
    server.run();
    Ok(())
}
