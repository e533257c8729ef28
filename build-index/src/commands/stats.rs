//! `build-index stats`: the anonymous install-count service.

use super::{Error, say};
use crate::stats::{ServeArgs, StatsServer};

#[derive(clap::Subcommand, Debug)]
pub(crate) enum Command {
    /// Serve `POST /record-install`, `GET /counts?since=YYYY-MM-DD[&kind=crate|go]` and
    /// `GET /healthz` over HTTP/1.1, counting into a SQLite database; prints its URL.
    Serve(ServeArgs),
}

/// Binds, prints the URL and serves until SIGTERM or SIGINT.
pub(crate) fn run(command: Command) -> Result<(), Error> {
    match command {
        Command::Serve(args) => {
            let server = StatsServer::bind(&args.addr, &args.db, args.settings())?;
            let local = server.local_addr().map_err(Error::LocalAddr)?;
            say(&format!("http://{local}/"))?;
            Ok(server.run()?)
        }
    }
}
