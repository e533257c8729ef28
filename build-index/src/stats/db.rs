//! The install counts in SQLite: the schema, the single batching writer and the `/counts` read.
//!
//! Storage is aggregated: one row per (day, kind, name, version, target, outcome, client,
//! client_version) with a count `n`. Every field of a ping is kept, but only the UTC day of it,
//! so the table grows with the distinct installs of a day, not with pings, `/counts` sums few
//! rows, and no row can be tied to one request (there is no time of day and never an IP).
//!
//! Durability: the database is in WAL mode with `synchronous=FULL`, so a commit is fsynced
//! before it returns and a ping acknowledged after its commit survives a process crash *and* a
//! power loss. NORMAL would only survive a process crash; FULL costs one fsync per commit, which
//! the writer amortises by committing every waiting ping in one transaction.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::mpsc::{self, Receiver, Sender};
use std::thread::{self, JoinHandle};

use rusqlite::{Connection, OpenFlags, params};
use tokio::sync::oneshot;

use super::validate::{CountsQuery, Ping};

/// At most this many pings go into one transaction.
const MAX_BATCH: usize = 1000;

const SCHEMA: &str = "CREATE TABLE IF NOT EXISTS installs (
    day TEXT NOT NULL,
    kind TEXT NOT NULL,
    name TEXT NOT NULL,
    version TEXT NOT NULL,
    target TEXT NOT NULL,
    outcome TEXT NOT NULL,
    client TEXT NOT NULL,
    client_version TEXT NOT NULL,
    n INTEGER NOT NULL,
    PRIMARY KEY (day, kind, name, version, target, outcome, client, client_version)
) WITHOUT ROWID";

const UPSERT: &str = "INSERT INTO installs
    (day, kind, name, version, target, outcome, client, client_version, n)
    VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)
    ON CONFLICT DO UPDATE SET n = n + excluded.n";

#[derive(Debug, thiserror::Error)]
pub enum DbError {
    #[error("could not open the stats database `{}`: {source}", path.display())]
    Open {
        path: PathBuf,
        source: rusqlite::Error,
    },
    #[error("could not read the stats database `{}`: {source}", path.display())]
    Read {
        path: PathBuf,
        source: rusqlite::Error,
    },
    #[error("could not start the stats writer thread: {0}")]
    Spawn(std::io::Error),
}

/// Opens (creating if needed) the database for writing: WAL, `synchronous=FULL`, the schema.
pub fn open_writer(path: &Path) -> Result<Connection, DbError> {
    let fail = |source| DbError::Open {
        path: path.to_owned(),
        source,
    };
    let conn = Connection::open(path).map_err(fail)?;
    conn.pragma_update(None, "journal_mode", "WAL")
        .map_err(fail)?;
    conn.pragma_update(None, "synchronous", "FULL")
        .map_err(fail)?;
    conn.busy_timeout(std::time::Duration::from_secs(5))
        .map_err(fail)?;
    conn.execute_batch(SCHEMA).map_err(fail)?;
    Ok(conn)
}

/// One ping waiting for its commit, with where to send the outcome.
struct Job {
    ping: Ping,
    ack: oneshot::Sender<bool>,
}

/// The handle the request handlers use to hand pings to the writer.
#[derive(Clone)]
pub struct WriterHandle {
    tx: Sender<Job>,
}

impl WriterHandle {
    /// Queues `ping` and waits until its transaction is committed (true) or failed (false).
    /// The writer commits a queued ping even when this future is dropped before the answer.
    /// Queues `pings` together (so the writer takes them into one transaction when it is
    /// free) and waits until all are committed; `false` if any could not be.
    pub async fn record_all(&self, pings: Vec<Ping>) -> bool {
        let mut acks = Vec::with_capacity(pings.len());
        for ping in pings {
            let (ack, done) = oneshot::channel();
            if self.tx.send(Job { ping, ack }).is_err() {
                return false;
            }
            acks.push(done);
        }
        let mut all = true;
        for done in acks {
            all &= done.await.unwrap_or(false);
        }
        all
    }
}

/// Starts the single writer thread. It ends, after committing everything queued, once every
/// [`WriterHandle`] is dropped.
pub fn spawn_writer(conn: Connection) -> Result<(WriterHandle, JoinHandle<()>), DbError> {
    let (tx, rx) = mpsc::channel();
    let join = thread::Builder::new()
        .name("stats-writer".into())
        .spawn(move || write_loop(conn, &rx))
        .map_err(DbError::Spawn)?;
    Ok((WriterHandle { tx }, join))
}

fn write_loop(mut conn: Connection, rx: &Receiver<Job>) {
    while let Ok(first) = rx.recv() {
        let mut batch = vec![first];
        while batch.len() < MAX_BATCH {
            match rx.try_recv() {
                Ok(job) => batch.push(job),
                Err(_) => break,
            }
        }
        let day = today();
        let ok = commit(&mut conn, &day, batch.iter().map(|j| &j.ping)).is_ok();
        for job in batch {
            // The client may have gone; its ping is committed all the same.
            let _ = job.ack.send(ok);
        }
    }
}

/// Adds the pings to the counters of `day` in one transaction.
fn commit<'a>(
    conn: &mut Connection,
    day: &str,
    pings: impl Iterator<Item = &'a Ping>,
) -> rusqlite::Result<()> {
    let mut counts: HashMap<&Ping, i64> = HashMap::new();
    for ping in pings {
        *counts.entry(ping).or_default() += 1;
    }
    let tx = conn.transaction()?;
    {
        let mut stmt = tx.prepare_cached(UPSERT)?;
        for (p, n) in counts {
            stmt.execute(params![
                day,
                p.kind.as_str(),
                p.name,
                p.version,
                p.target,
                p.outcome.as_str(),
                p.client.name(),
                p.client_version,
                n
            ])?;
        }
    }
    tx.commit()
}

/// Today (UTC) as `YYYY-MM-DD`.
fn today() -> String {
    let stamp = crate::time::rfc3339_utc(crate::time::now());
    stamp.get(..10).unwrap_or("1970-01-01").to_owned()
}

/// Counts per name and outcome since the query's day: `{name: {outcome: n}}`, without totals.
pub fn counts(
    path: &Path,
    query: &CountsQuery,
) -> Result<HashMap<String, HashMap<String, u64>>, DbError> {
    let fail = |source| DbError::Read {
        path: path.to_owned(),
        source,
    };
    let conn = Connection::open_with_flags(
        path,
        OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_NO_MUTEX,
    )
    .map_err(fail)?;
    conn.busy_timeout(std::time::Duration::from_secs(5))
        .map_err(fail)?;
    let mut stmt = conn
        .prepare_cached(
            "SELECT name, outcome, SUM(n) FROM installs
             WHERE day >= ?1 AND (?2 IS NULL OR kind = ?2)
             GROUP BY name, outcome",
        )
        .map_err(fail)?;
    let rows = stmt
        .query_map(
            params![query.since, query.kind.map(|k| k.as_str())],
            |row| {
                Ok((
                    row.get::<_, String>(0)?,
                    row.get::<_, String>(1)?,
                    row.get::<_, i64>(2)?,
                ))
            },
        )
        .map_err(fail)?;
    let mut out: HashMap<String, HashMap<String, u64>> = HashMap::new();
    for row in rows {
        let (name, outcome, n) = row.map_err(fail)?;
        let n = u64::try_from(n).unwrap_or(0);
        *out.entry(name).or_default().entry(outcome).or_default() += n;
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::super::validate::{Kind, parse_ping};
    use super::*;

    fn ping(name: &str) -> Ping {
        parse_ping(
            format!(
                r#"{{"kind":"crate","name":"{name}","version":"1.0.0","target":"x86_64-unknown-linux-musl","outcome":"prebuilt","client":"cargo-quickinstall","client_version":"0.1.0"}}"#
            )
            .as_bytes(),
        )
        .unwrap()
    }

    #[test]
    fn writer_commits_before_acknowledging_and_counts_sum() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("stats.db");
        let (handle, join) = spawn_writer(open_writer(&path).unwrap()).unwrap();
        let rt = tokio::runtime::Builder::new_current_thread()
            .build()
            .unwrap();
        assert!(rt.block_on(handle.record_all(vec![ping("a")])));
        assert!(rt.block_on(handle.record_all(vec![ping("a"), ping("b")])));
        let query = CountsQuery {
            since: "1970-01-01".into(),
            kind: None,
        };
        // Acknowledged means readable by another connection already.
        let counts = counts(&path, &query).unwrap();
        assert_eq!(counts["a"]["prebuilt"], 2);
        assert_eq!(counts["b"]["prebuilt"], 1);
        drop(handle);
        join.join().unwrap();
        let go_only = CountsQuery {
            since: "1970-01-01".into(),
            kind: Some(Kind::Go),
        };
        assert!(super::counts(&path, &go_only).unwrap().is_empty());
        let future = CountsQuery {
            since: "9999-01-01".into(),
            kind: None,
        };
        assert!(super::counts(&path, &future).unwrap().is_empty());
    }
}
