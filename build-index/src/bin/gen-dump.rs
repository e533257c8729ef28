//! `gen-dump`: writes crates.io-style database dumps (`db-dump.tar.gz`) for tests and benchmarks.
//!
//! `gen-dump pack --src DIR --out FILE` packs hand-written CSV tables (the fixture) into the real
//! layout `<stamp>/data/<table>.csv` + `metadata.json`; `gen-dump synth` writes a synthetic dump
//! of the real dump's shape at any scale, deterministic for a seed. It never reads a real dump
//! and is not part of the client.

// Tests may unwrap: a panic there is a test failure with its location.
#![cfg_attr(test, allow(clippy::unwrap_used))]

use std::fs::{self, File};
use std::io::{self, BufWriter, Seek, Write};
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use clap::{Parser, Subcommand};
use flate2::Compression;
use flate2::write::GzEncoder;

/// The dump folder name written into the archive (the real one is the dump's start time).
const STAMP: &str = "2026-11-20-020000";
/// Fixed mtime for every entry, so the same input gives the same archive.
const MTIME: u64 = 1_795_140_000;

#[derive(Parser, Debug)]
#[command(
    name = "gen-dump",
    about = "Writes crates.io-style db-dump.tar.gz files"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand, Debug)]
enum Command {
    /// Pack `<table>.csv` files from a directory into a dump, in reverse name order (the real
    /// dump's order is not alphabetical either, and the reader must not care).
    Pack {
        #[arg(long, value_name = "DIR")]
        src: PathBuf,
        #[arg(long, value_name = "FILE")]
        out: PathBuf,
    },
    /// Generate a synthetic dump of the real one's shape.
    Synth {
        #[arg(long, default_value_t = 200_000)]
        crates: u32,
        #[arg(long, default_value_t = 2_000_000)]
        versions: u32,
        #[arg(long, default_value_t = 1)]
        seed: u64,
        #[arg(long, value_name = "FILE")]
        out: PathBuf,
    },
}

#[derive(Debug, thiserror::Error)]
enum GenError {
    #[error("could not read the tables in `{path}`: {source}")]
    ReadSrc { path: PathBuf, source: io::Error },
    #[error("could not write the dump `{path}`: {source}")]
    Write { path: PathBuf, source: io::Error },
}

#[allow(clippy::print_stderr)] // reporting the error is this function's job
fn main() -> ExitCode {
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Pack { src, out } => pack(&src, &out),
        Command::Synth {
            crates,
            versions,
            seed,
            out,
        } => synth(crates, versions, seed, &out),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::FAILURE
        }
    }
}

/// A dump being written: tar over gzip, every entry with fixed metadata.
struct DumpWriter {
    tar: tar::Builder<GzEncoder<BufWriter<File>>>,
}

impl DumpWriter {
    fn create(path: &Path, level: Compression) -> io::Result<Self> {
        let file = File::create(path)?;
        Ok(Self {
            tar: tar::Builder::new(GzEncoder::new(BufWriter::new(file), level)),
        })
    }

    fn add(&mut self, name: &str, size: u64, data: impl io::Read) -> io::Result<()> {
        let mut header = tar::Header::new_gnu();
        header.set_size(size);
        header.set_mode(0o644);
        header.set_mtime(MTIME);
        header.set_entry_type(tar::EntryType::Regular);
        header.set_cksum();
        self.tar
            .append_data(&mut header, format!("{STAMP}/{name}"), data)
    }

    fn add_bytes(&mut self, name: &str, bytes: &[u8]) -> io::Result<()> {
        self.add(name, bytes.len() as u64, bytes)
    }

    fn finish(self) -> io::Result<()> {
        let gz = self.tar.into_inner()?;
        let mut file = gz.finish()?;
        file.flush()?;
        file.get_ref().sync_all()
    }
}

fn metadata(crates: u64) -> String {
    format!(
        "{{\"timestamp\":\"2026-11-20T02:00:00Z\",\"crates_io_commit\":\"synthetic\",\"crates\":{crates}}}\n"
    )
}

fn pack(src: &Path, out: &Path) -> Result<(), GenError> {
    let read_err = |source| GenError::ReadSrc {
        path: src.to_owned(),
        source,
    };
    let write_err = |source| GenError::Write {
        path: out.to_owned(),
        source,
    };
    let mut tables: Vec<PathBuf> = fs::read_dir(src)
        .map_err(read_err)?
        .map(|e| e.map(|e| e.path()))
        .collect::<Result<_, _>>()
        .map_err(read_err)?;
    tables.retain(|p| p.extension().is_some_and(|e| e == "csv"));
    tables.sort();
    tables.reverse();
    let mut dump = DumpWriter::create(out, Compression::default()).map_err(write_err)?;
    dump.add_bytes("metadata.json", metadata(0).as_bytes())
        .map_err(write_err)?;
    for table in &tables {
        let bytes = fs::read(table).map_err(read_err)?;
        let name = table
            .file_name()
            .and_then(|n| n.to_str())
            .unwrap_or("table.csv");
        dump.add_bytes(&format!("data/{name}"), &bytes)
            .map_err(write_err)?;
    }
    dump.finish().map_err(write_err)
}

/// splitmix64: small, fast, and the same sequence everywhere for a seed.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// Uniform in `0..n` (n > 0); the modulo bias is irrelevant here.
    fn below(&mut self, n: u64) -> u64 {
        self.next() % n.max(1)
    }

    fn chance(&mut self, percent: u64) -> bool {
        self.below(100) < percent
    }

    fn day(&mut self) -> String {
        let year = 2015 + self.below(12);
        format!(
            "{year}-{:02}-{:02} {:02}:{:02}:{:02}.{:06}",
            1 + self.below(12),
            1 + self.below(28),
            self.below(24),
            self.below(60),
            self.below(60),
            self.below(1_000_000)
        )
    }
}

const WORDS: [&str; 16] = [
    "fast",
    "tool",
    "parse",
    "async",
    "\"quoted\"",
    "json",
    "line\nbreak",
    "cli",
    "serde",
    "http",
    "grep",
    "file",
    "a,b",
    "index",
    "cargo",
    "rust",
];

fn text(rng: &mut Rng, words: u64) -> String {
    let mut s = String::new();
    for i in 0..words {
        if i > 0 {
            s.push(' ');
        }
        s.push_str(WORDS[(rng.below(WORDS.len() as u64)) as usize]);
    }
    s
}

/// A CSV field, quoted (Postgres `COPY … CSV` quotes fields with `"`, `,` or newlines).
fn field(s: &str) -> String {
    if s.contains(['"', ',', '\n']) {
        format!("\"{}\"", s.replace('"', "\"\""))
    } else {
        s.to_owned()
    }
}

/// Writes one table into a temp file beside the dump, then into the tar (its size must be known
/// before its bytes, and holding a 600 MB table in memory is what the reader must not need).
fn table(
    dump: &mut DumpWriter,
    dir: &Path,
    name: &str,
    write: impl FnOnce(&mut dyn Write) -> io::Result<()>,
) -> io::Result<()> {
    let mut tmp = tempfile::Builder::new().prefix(".gen-").tempfile_in(dir)?;
    {
        let mut w = BufWriter::with_capacity(1 << 20, tmp.as_file_mut());
        write(&mut w)?;
        w.flush()?;
    }
    let size = tmp.as_file().metadata()?.len();
    tmp.as_file_mut().rewind()?;
    dump.add(&format!("data/{name}.csv"), size, tmp.as_file())
}

fn synth(crates: u32, versions: u32, seed: u64, out: &Path) -> Result<(), GenError> {
    let write_err = |source| GenError::Write {
        path: out.to_owned(),
        source,
    };
    let dir = match out.parent() {
        Some(d) if !d.as_os_str().is_empty() => d.to_owned(),
        _ => PathBuf::from("."),
    };
    let mut dump = DumpWriter::create(out, Compression::fast()).map_err(write_err)?;
    dump.add_bytes("metadata.json", metadata(u64::from(crates)).as_bytes())
        .map_err(write_err)?;
    dump.add_bytes(
        "README.md",
        b"Synthetic crates.io database dump (gen-dump synth).\n",
    )
    .map_err(write_err)?;
    let avg = (u64::from(versions) / u64::from(crates.max(1))).max(1);
    const CLI_ID: u32 = 20;

    // Dependencies first and versions before crates: the reader must not rely on order.
    table(&mut dump, &dir, "dependencies", |w| {
        writeln!(w, "crate_id,default_features,explicit_name,features,id,kind,optional,req,target,version_id")?;
        let mut rng = Rng(seed ^ 0xD);
        for id in 0..u64::from(versions) * 3 {
            writeln!(
                w,
                "{},t,,{{}},{id},0,f,^1.{},,{}",
                rng.below(u64::from(crates)),
                rng.below(40),
                id / 3
            )?;
        }
        Ok(())
    })
    .map_err(write_err)?;

    table(&mut dump, &dir, "versions", |w| {
        writeln!(w, "bin_names,categories,checksum,crate_id,crate_size,created_at,description,documentation,downloads,edition,features,has_lib,homepage,id,keywords,license,links,num,num_no_build,published_by,repository,rust_version,updated_at,yanked")?;
        let mut rng = Rng(seed ^ 0x5);
        let mut id = 0u64;
        for c in 0..crates {
            let mut crate_rng = Rng(seed ^ u64::from(c).wrapping_mul(31));
            let has_bins = crate_rng.chance(12);
            let count = 1 + crate_rng.below(2 * avg - 1);
            for v in 0..count {
                let prerelease = rng.chance(6);
                let num = if prerelease {
                    format!("{}.{}.0-rc.{}", v / 10, v % 10, rng.below(3))
                } else {
                    format!("{}.{}.{}", v / 10, v % 10, rng.below(5))
                };
                let bins = if !has_bins {
                    "{}".to_owned()
                } else if rng.chance(10) {
                    format!("{{c{c},\"c{c} helper\"}}")
                } else {
                    format!("{{c{c}}}")
                };
                let yanked = if rng.chance(3) { "t" } else { "f" };
                writeln!(
                    w,
                    "{},{{}},{:016x}{:016x}{:016x}{:016x},{c},{},{},{},,{},2021,\"{{\"\"default\"\":[\"\"std\"\"],\"\"std\"\":[],\"\"serde\"\":[\"\"dep:serde\"\"]}}\",t,,{id},\"{{cli,tool}}\",MIT OR Apache-2.0,,{num},{num},{},https://example.invalid/c{c},1.70,{},{yanked}",
                    field(&bins),
                    rng.next(),
                    rng.next(),
                    rng.next(),
                    rng.next(),
                    rng.below(1 << 20),
                    rng.day(),
                    field(&text(&mut rng, 10)),
                    rng.below(100_000),
                    rng.below(90_000),
                    rng.day(),
                )?;
                id += 1;
            }
        }
        Ok(())
    })
    .map_err(write_err)?;

    table(&mut dump, &dir, "crates", |w| {
        writeln!(w, "created_at,description,documentation,homepage,id,max_features,max_upload_size,name,readme,repository,updated_at")?;
        let mut rng = Rng(seed ^ 0xC);
        for c in 0..crates {
            let readme_words = rng.below(300);
            writeln!(
                w,
                "{},{},,,{c},,,c{c},{},https://example.invalid/c{c},{}",
                rng.day(),
                field(&text(&mut rng, 12)),
                field(&text(&mut rng, readme_words)),
                rng.day(),
            )?;
        }
        Ok(())
    })
    .map_err(write_err)?;

    table(&mut dump, &dir, "categories", |w| {
        writeln!(w, "category,crates_cnt,created_at,description,id,path,slug")?;
        for id in 1..=80u32 {
            let slug = if id == CLI_ID {
                "command-line-utilities".to_owned()
            } else {
                format!("category-{id}")
            };
            writeln!(
                w,
                "Category {id},0,2017-01-17 19:13:05.112025,Things,{id},root.{slug},{slug}"
            )?;
        }
        Ok(())
    })
    .map_err(write_err)?;

    table(&mut dump, &dir, "crates_categories", |w| {
        writeln!(w, "category_id,crate_id")?;
        let mut rng = Rng(seed ^ 0xCC);
        for c in 0..crates {
            if rng.chance(5) {
                writeln!(w, "{CLI_ID},{c}")?;
            }
            for _ in 0..rng.below(3) {
                writeln!(w, "{},{c}", 21 + rng.below(60))?;
            }
        }
        Ok(())
    })
    .map_err(write_err)?;

    table(&mut dump, &dir, "crate_downloads", |w| {
        writeln!(w, "crate_id,downloads")?;
        let mut rng = Rng(seed ^ 0xDD);
        for c in 0..crates {
            // Heavy-tailed like real downloads: most crates small, a few huge.
            let digits = rng.below(8);
            writeln!(
                w,
                "{c},{}",
                rng.below(10u64.pow(u32::try_from(digits).unwrap_or(0) + 1))
            )?;
        }
        Ok(())
    })
    .map_err(write_err)?;

    table(&mut dump, &dir, "default_versions", |w| {
        writeln!(w, "crate_id,num_versions,version_id")?;
        for c in 0..crates {
            writeln!(w, "{c},1,{c}")?;
        }
        Ok(())
    })
    .map_err(write_err)?;

    dump.finish().map_err(write_err)
}
