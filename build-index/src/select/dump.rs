//! Streaming reader of the crates.io database dump (`db-dump.tar.gz`): one pass over the tar
//! entries in whatever order they come, folding each CSV row into compact per-crate state.
//!
//! Never unpacks to disk and never holds a whole table: per crate it keeps a name, a day, a
//! download count and the best stable version seen so far with its binary names. It does not
//! filter or rank; that is [`super::rank`]'s job. Columns are found by header name, so the column
//! order of a dump (alphabetical in current dumps) does not matter.

use std::collections::HashMap;
use std::io::Read;

use flate2::read::GzDecoder;

/// The category slug that marks a crate as a command-line tool.
pub const CLI_CATEGORY: &str = "command-line-utilities";

/// A calendar day as `yyyymmdd`, so days compare as integers.
pub type Day = u32;

/// The best (highest semver) non-yanked, non-prerelease version of a crate seen so far.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Best {
    pub version: semver::Version,
    pub bins: Vec<String>,
}

/// What the dump says about one crate, folded from all tables.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct CrateState {
    /// From `crates.csv`; `None` when only other tables mention the id.
    pub name: Option<Box<str>>,
    /// `crates.updated_at`, as a day.
    pub updated: Option<Day>,
    /// `crate_downloads.downloads` (all-time downloads; older dumps keep it in `crates.csv`).
    pub downloads: u64,
    pub versions: u32,
    pub yanked: u32,
    pub prerelease: u32,
    pub best: Option<Best>,
    pub cli: bool,
}

/// Everything the selection needs from a dump.
#[derive(Debug, Default)]
pub struct DumpState {
    pub crates: HashMap<u32, CrateState>,
    /// The tables found, in the order they came.
    pub tables: Vec<String>,
    /// Versions whose `num` is not valid semver: skipped, counted.
    pub bad_versions: u64,
}

/// The tables this reader folds; other entries are skipped (still decompressed: a tar stream
/// cannot seek).
const TABLES: [&str; 5] = [
    "crates",
    "versions",
    "categories",
    "crates_categories",
    "crate_downloads",
];

#[derive(Debug, thiserror::Error)]
pub enum DumpError {
    #[error("could not read the dump archive: {0}")]
    Archive(std::io::Error),
    #[error("could not read `{table}.csv` in the dump: {source}")]
    Csv { table: String, source: csv::Error },
    #[error("`{table}.csv` in the dump has no `{column}` column")]
    MissingColumn { table: String, column: &'static str },
    #[error("`{table}.csv` in the dump, line {line}: bad `{column}` value `{value}`")]
    BadValue {
        table: String,
        line: u64,
        column: &'static str,
        value: String,
    },
    #[error("the dump has no `data/{0}.csv` table")]
    MissingTable(&'static str),
}

/// Reads a `db-dump.tar.gz` stream to the end and folds the tables it knows.
pub fn read_dump(reader: impl Read) -> Result<DumpState, DumpError> {
    let mut archive = tar::Archive::new(GzDecoder::new(reader));
    let mut state = DumpState::default();
    // Crate ids in `command-line-utilities`, gathered before or after `categories.csv` says
    // which id that is: the tar may list the tables in any order.
    let mut cli_category: Option<u32> = None;
    let mut crate_categories: Vec<(u32, u32)> = Vec::new();
    for entry in archive.entries().map_err(DumpError::Archive)? {
        let entry = entry.map_err(DumpError::Archive)?;
        let path = entry.path().map_err(DumpError::Archive)?.into_owned();
        let Some(table) = table_name(&path) else {
            continue;
        };
        let table = table.to_owned();
        let mut csv = csv::ReaderBuilder::new()
            .has_headers(true)
            .buffer_capacity(256 * 1024)
            .from_reader(entry);
        let headers = csv
            .byte_headers()
            .map_err(|source| csv_error(&table, source))?
            .clone();
        let cols = Columns {
            table: &table,
            headers: &headers,
        };
        match table.as_str() {
            "crates" => read_crates(&mut csv, &cols, &mut state)?,
            "versions" => read_versions(&mut csv, &cols, &mut state)?,
            "categories" => cli_category = read_categories(&mut csv, &cols)?.or(cli_category),
            "crates_categories" => read_crates_categories(&mut csv, &cols, &mut crate_categories)?,
            "crate_downloads" => read_crate_downloads(&mut csv, &cols, &mut state)?,
            _ => continue,
        }
        state.tables.push(table);
    }
    for required in ["crates", "versions"] {
        if !state.tables.iter().any(|t| t == required) {
            return Err(DumpError::MissingTable(required));
        }
    }
    if let Some(cli) = cli_category {
        for (crate_id, category_id) in crate_categories {
            if category_id == cli {
                state.crates.entry(crate_id).or_default().cli = true;
            }
        }
    }
    Ok(state)
}

/// `<stamp>/data/<table>.csv` → `<table>` when it is one this reader folds.
fn table_name(path: &std::path::Path) -> Option<&str> {
    let file = path.file_name()?.to_str()?;
    let parent = path.parent()?.file_name()?.to_str()?;
    let table = file.strip_suffix(".csv")?;
    (parent == "data" && TABLES.contains(&table)).then_some(table)
}

fn csv_error(table: &str, source: csv::Error) -> DumpError {
    DumpError::Csv {
        table: table.to_owned(),
        source,
    }
}

/// Header lookup for one table.
struct Columns<'a> {
    table: &'a str,
    headers: &'a csv::ByteRecord,
}

impl Columns<'_> {
    fn find(&self, column: &'static str) -> Result<usize, DumpError> {
        self.headers
            .iter()
            .position(|h| h == column.as_bytes())
            .ok_or_else(|| DumpError::MissingColumn {
                table: self.table.to_owned(),
                column,
            })
    }

    fn find_opt(&self, column: &'static str) -> Option<usize> {
        self.headers.iter().position(|h| h == column.as_bytes())
    }
}

/// One row's fields, with errors that name the table, line and column.
struct Row<'a> {
    table: &'a str,
    record: &'a csv::ByteRecord,
}

impl Row<'_> {
    fn str(&self, index: usize, column: &'static str) -> Result<&str, DumpError> {
        let bytes = self.record.get(index).unwrap_or_default();
        std::str::from_utf8(bytes).map_err(|_| self.bad(column, &String::from_utf8_lossy(bytes)))
    }

    fn id(&self, index: usize, column: &'static str) -> Result<u32, DumpError> {
        let text = self.str(index, column)?;
        text.parse().map_err(|_| self.bad(column, text))
    }

    fn count(&self, index: usize, column: &'static str) -> Result<u64, DumpError> {
        let text = self.str(index, column)?;
        text.parse().map_err(|_| self.bad(column, text))
    }

    fn bad(&self, column: &'static str, value: &str) -> DumpError {
        DumpError::BadValue {
            table: self.table.to_owned(),
            line: self.record.position().map_or(0, csv::Position::line),
            column,
            value: value.chars().take(80).collect(),
        }
    }
}

/// Calls `each` for every record of a table.
fn for_each_row<R: Read>(
    csv: &mut csv::Reader<R>,
    table: &str,
    mut each: impl FnMut(&Row<'_>) -> Result<(), DumpError>,
) -> Result<(), DumpError> {
    let mut record = csv::ByteRecord::new();
    while csv
        .read_byte_record(&mut record)
        .map_err(|source| csv_error(table, source))?
    {
        each(&Row {
            table,
            record: &record,
        })?;
    }
    Ok(())
}

fn read_crates<R: Read>(
    csv: &mut csv::Reader<R>,
    cols: &Columns<'_>,
    state: &mut DumpState,
) -> Result<(), DumpError> {
    let id = cols.find("id")?;
    let name = cols.find("name")?;
    let updated = cols.find("updated_at")?;
    // Dumps before crate_downloads existed kept the count here.
    let downloads = cols.find_opt("downloads");
    for_each_row(csv, cols.table, |row| {
        let crate_id = row.id(id, "id")?;
        let day_text = row.str(updated, "updated_at")?;
        let day = parse_day(day_text).ok_or_else(|| row.bad("updated_at", day_text))?;
        let entry = state.crates.entry(crate_id).or_default();
        entry.name = Some(row.str(name, "name")?.into());
        entry.updated = Some(day);
        if let Some(downloads) = downloads {
            entry.downloads = row.count(downloads, "downloads")?;
        }
        Ok(())
    })
}

fn read_versions<R: Read>(
    csv: &mut csv::Reader<R>,
    cols: &Columns<'_>,
    state: &mut DumpState,
) -> Result<(), DumpError> {
    let crate_id = cols.find("crate_id")?;
    let num = cols.find("num")?;
    let yanked = cols.find("yanked")?;
    let bin_names = cols.find("bin_names")?;
    let crates = &mut state.crates;
    let bad_versions = &mut state.bad_versions;
    for_each_row(csv, cols.table, |row| {
        let entry = crates.entry(row.id(crate_id, "crate_id")?).or_default();
        entry.versions += 1;
        let yanked_text = row.str(yanked, "yanked")?;
        match yanked_text {
            "t" | "true" => {
                entry.yanked += 1;
                return Ok(());
            }
            "f" | "false" => {}
            other => return Err(row.bad("yanked", other)),
        }
        let Ok(version) = semver::Version::parse(row.str(num, "num")?) else {
            *bad_versions += 1;
            return Ok(());
        };
        if !version.pre.is_empty() {
            entry.prerelease += 1;
            return Ok(());
        }
        if entry.best.as_ref().is_some_and(|b| b.version >= version) {
            return Ok(());
        }
        // Only the winning version's array is parsed: most rows never get here.
        let array = row.str(bin_names, "bin_names")?;
        let bins = parse_pg_array(array).ok_or_else(|| row.bad("bin_names", array))?;
        entry.best = Some(Best { version, bins });
        Ok(())
    })
}

/// The id of [`CLI_CATEGORY`], if the table has it.
fn read_categories<R: Read>(
    csv: &mut csv::Reader<R>,
    cols: &Columns<'_>,
) -> Result<Option<u32>, DumpError> {
    let id = cols.find("id")?;
    let slug = cols.find("slug")?;
    let mut found = None;
    for_each_row(csv, cols.table, |row| {
        if row.str(slug, "slug")? == CLI_CATEGORY {
            found = Some(row.id(id, "id")?);
        }
        Ok(())
    })?;
    Ok(found)
}

fn read_crates_categories<R: Read>(
    csv: &mut csv::Reader<R>,
    cols: &Columns<'_>,
    pairs: &mut Vec<(u32, u32)>,
) -> Result<(), DumpError> {
    let crate_id = cols.find("crate_id")?;
    let category_id = cols.find("category_id")?;
    for_each_row(csv, cols.table, |row| {
        pairs.push((
            row.id(crate_id, "crate_id")?,
            row.id(category_id, "category_id")?,
        ));
        Ok(())
    })
}

fn read_crate_downloads<R: Read>(
    csv: &mut csv::Reader<R>,
    cols: &Columns<'_>,
    state: &mut DumpState,
) -> Result<(), DumpError> {
    let crate_id = cols.find("crate_id")?;
    let downloads = cols.find("downloads")?;
    for_each_row(csv, cols.table, |row| {
        let count = row.count(downloads, "downloads")?;
        state
            .crates
            .entry(row.id(crate_id, "crate_id")?)
            .or_default()
            .downloads = count;
        Ok(())
    })
}

/// `2024-03-01 12:00:00.123+00` or `2024-03-01` → `20240301`.
pub fn parse_day(text: &str) -> Option<Day> {
    let date = text.get(..10)?;
    let mut parts = date.split('-');
    let (y, m, d) = (parts.next()?, parts.next()?, parts.next()?);
    if y.len() != 4 || m.len() != 2 || d.len() != 2 || !date.is_ascii() {
        return None;
    }
    let (y, m, d): (u32, u32, u32) = (y.parse().ok()?, m.parse().ok()?, d.parse().ok()?);
    ((1..=12).contains(&m) && (1..=31).contains(&d)).then_some(y * 10_000 + m * 100 + d)
}

/// Parses a one-dimensional Postgres array literal of text: `{}`, `{rg}`, `{a,"b c","d\"e"}`.
/// An empty field (SQL NULL) is an empty list; `NULL` elements are dropped. `None` when the
/// literal is malformed.
pub fn parse_pg_array(text: &str) -> Option<Vec<String>> {
    if text.is_empty() {
        return Some(Vec::new());
    }
    let inner = text.strip_prefix('{')?.strip_suffix('}')?;
    let mut items = Vec::new();
    if inner.trim().is_empty() {
        return Some(items);
    }
    let mut chars = inner.chars().peekable();
    loop {
        while chars.peek().is_some_and(|c| c.is_whitespace()) {
            chars.next();
        }
        let mut item = String::new();
        let quoted = chars.peek() == Some(&'"');
        if quoted {
            chars.next();
            loop {
                match chars.next()? {
                    '\\' => item.push(chars.next()?),
                    '"' => break,
                    c => item.push(c),
                }
            }
            while chars.peek().is_some_and(|c| c.is_whitespace()) {
                chars.next();
            }
        } else {
            while let Some(&c) = chars.peek() {
                match c {
                    ',' => break,
                    '"' | '{' | '}' => return None,
                    '\\' => {
                        chars.next();
                        item.push(chars.next()?);
                    }
                    c => {
                        item.push(c);
                        chars.next();
                    }
                }
            }
            let trimmed = item.trim_end();
            if trimmed.is_empty() {
                return None;
            }
            item.truncate(trimmed.len());
        }
        // An unquoted NULL is SQL NULL; a quoted "NULL" is the text.
        if quoted || !item.eq_ignore_ascii_case("NULL") {
            items.push(item);
        }
        match chars.next() {
            None => return Some(items),
            Some(',') => {}
            Some(_) => return None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn strings(items: &[&str]) -> Vec<String> {
        items.iter().map(|s| (*s).to_owned()).collect()
    }

    #[test]
    fn parses_pg_arrays_with_quoting() {
        assert_eq!(parse_pg_array("{}"), Some(vec![]));
        assert_eq!(parse_pg_array(""), Some(vec![]));
        assert_eq!(parse_pg_array("{rg}"), Some(strings(&["rg"])));
        assert_eq!(parse_pg_array("{a,b}"), Some(strings(&["a", "b"])));
        assert_eq!(
            parse_pg_array(r#"{"a b","c,d","e\"f","g\\h"}"#),
            Some(strings(&["a b", "c,d", "e\"f", "g\\h"]))
        );
        assert_eq!(
            parse_pg_array(r#"{NULL,"NULL",x}"#),
            Some(strings(&["NULL", "x"]))
        );
    }

    #[test]
    fn refuses_malformed_pg_arrays() {
        for bad in ["rg", "{rg", "{\"rg}", "{a,,b}", "{a\"b}", "{\"a\"b}"] {
            assert_eq!(parse_pg_array(bad), None, "{bad}");
        }
    }

    #[test]
    fn parses_dump_days() {
        assert_eq!(parse_day("2024-03-01 12:00:00.123456"), Some(20_240_301));
        assert_eq!(parse_day("2024-03-01"), Some(20_240_301));
        assert_eq!(parse_day("2024-13-01"), None);
        assert_eq!(parse_day("24-03-01"), None);
        assert_eq!(parse_day(""), None);
    }

    /// A tar.gz in memory with `tables` in the given order.
    fn dump(tables: &[(&str, &str)]) -> Vec<u8> {
        let mut builder = tar::Builder::new(flate2::write::GzEncoder::new(
            Vec::new(),
            flate2::Compression::fast(),
        ));
        for (name, body) in tables {
            let mut header = tar::Header::new_gnu();
            header.set_size(body.len() as u64);
            header.set_mode(0o644);
            header.set_cksum();
            builder
                .append_data(
                    &mut header,
                    format!("2026-01-01-000000/data/{name}.csv"),
                    body.as_bytes(),
                )
                .unwrap();
        }
        builder.into_inner().unwrap().finish().unwrap()
    }

    const CRATES: &str =
        "id,name,updated_at\n1,tool,2026-01-02 00:00:00\n2,lib,2020-01-01 00:00:00\n";
    const VERSIONS: &str = "bin_names,crate_id,id,num,yanked\n{tool},1,10,1.0.0,f\n\"{tool,\"\"tool two\"\"}\",1,11,1.2.0,f\n{x},1,12,2.0.0,t\n{y},1,13,3.0.0-rc.1,f\n{},2,20,0.1.0,f\n";
    const CATEGORIES: &str = "id,slug\n7,command-line-utilities\n8,other\n";
    const CRATES_CATEGORIES: &str = "category_id,crate_id\n7,2\n8,1\n";
    const DOWNLOADS: &str = "crate_id,downloads\n1,500\n2,9\n";

    #[test]
    fn folds_tables_in_any_order() {
        let forward = [
            ("categories", CATEGORIES),
            ("crate_downloads", DOWNLOADS),
            ("crates", CRATES),
            ("crates_categories", CRATES_CATEGORIES),
            ("versions", VERSIONS),
        ];
        let mut backward = forward;
        backward.reverse();
        let a = read_dump(&dump(&forward)[..]).unwrap();
        let b = read_dump(&dump(&backward)[..]).unwrap();
        assert_eq!(a.crates, b.crates);
        let tool = &a.crates[&1];
        assert_eq!(tool.name.as_deref(), Some("tool"));
        assert_eq!(tool.downloads, 500);
        assert_eq!((tool.versions, tool.yanked, tool.prerelease), (4, 1, 1));
        let best = tool.best.as_ref().unwrap();
        assert_eq!(best.version.to_string(), "1.2.0");
        assert_eq!(best.bins, strings(&["tool", "tool two"]));
        assert!(!tool.cli);
        assert!(a.crates[&2].cli);
        assert_eq!(a.crates[&2].updated, Some(20_200_101));
    }

    #[test]
    fn requires_crates_and_versions_tables() {
        let err = read_dump(&dump(&[("crates", CRATES)])[..]).unwrap_err();
        assert!(matches!(err, DumpError::MissingTable("versions")), "{err}");
    }

    #[test]
    fn names_the_table_line_and_column_of_a_bad_value() {
        let versions = "bin_names,crate_id,num,yanked\n{a},1,1.0.0,maybe\n";
        let err = read_dump(&dump(&[("crates", CRATES), ("versions", versions)])[..]).unwrap_err();
        assert_eq!(
            err.to_string(),
            "`versions.csv` in the dump, line 2: bad `yanked` value `maybe`"
        );
    }
}
