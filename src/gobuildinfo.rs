//! The build info Go embeds in every binary (Go version, main package, module, version, build
//! settings), read in Rust so `gquick list` needs no `go` on the machine.
//!
//! This module only reads and parses; it does not decide what to list, upgrade or install. It
//! follows Go's `debug/buildinfo` (Go >= 1.18 layout): find the data region of the ELF, Mach-O or
//! PE container, find the 16-byte-aligned `\xff Go buildinf:` header in its first 64 KiB, read
//! the two varint-prefixed strings after the 32-byte header. Unknown containers are stream-scanned
//! for the header. Reads are bounded: no file is read whole.

use std::fmt;
use std::fs::File;
use std::io::{self, Read, Seek, SeekFrom};
use std::path::{Path, PathBuf};

/// What Go recorded about how a binary was built (`go version -m` shows the same).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct BuildInfo {
    /// `go1.19.8`.
    pub go_version: String,
    /// The main package's import path (`example.com/tool/cmd/tool`).
    pub path: String,
    /// The module holding the main package (`example.com/tool`).
    pub module: String,
    /// That module's version; `(devel)` when it was built from its own source tree.
    pub version: String,
    /// The `build` lines, in order: (`-trimpath`, `true`), (`CGO_ENABLED`, `0`), …
    pub settings: Vec<(String, String)>,
}

impl BuildInfo {
    /// The value of the first build setting named `key`.
    pub fn setting(&self, key: &str) -> Option<&str> {
        self.settings
            .iter()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v.as_str())
    }

    /// Whether the binary was built with the release index's recipe: `-trimpath`, `CGO_ENABLED`
    /// recorded (`0`, or `1` for the modules the index builds with cgo through zig),
    /// `-tags=netgo,osusergo` and `-ldflags="-s -w -buildid="`.
    ///
    /// Go >= 1.19 leaves `-ldflags` out of the build info when `-trimpath` is set, because linker
    /// flags can hold local paths (go.dev/issue/52372). So `-ldflags` is checked only when it is
    /// recorded; `-trimpath=true` is always required.
    pub fn from_index_recipe(&self) -> bool {
        self.setting("-trimpath") == Some("true")
            && matches!(self.setting("CGO_ENABLED"), Some("0" | "1"))
            && self.setting("-tags") == Some("netgo,osusergo")
            && self
                .setting("-ldflags")
                .is_none_or(|flags| flags == "-s -w -buildid=")
    }
}

/// Why the build info of a binary could not be read.
#[derive(Debug, thiserror::Error)]
pub enum BuildInfoError {
    #[error("could not read `{}`: {source}", path.display())]
    Read { path: PathBuf, source: io::Error },
    #[error(
        "{} was built by Go older than 1.18, whose build info cannot be read; rebuild it with a newer Go",
        Subject(path)
    )]
    TooOld { path: Option<PathBuf> },
    #[error("the Go build info in {} is malformed: {reason}", Subject(path))]
    Malformed {
        path: Option<PathBuf>,
        reason: String,
    },
}

impl BuildInfoError {
    fn with_path(self, file: &Path) -> Self {
        match self {
            Self::TooOld { .. } => Self::TooOld {
                path: Some(file.to_owned()),
            },
            Self::Malformed { reason, .. } => Self::Malformed {
                path: Some(file.to_owned()),
                reason,
            },
            read @ Self::Read { .. } => read,
        }
    }
}

/// Names the binary in messages: its path when known.
struct Subject<'a>(&'a Option<PathBuf>);

impl fmt::Display for Subject<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.0 {
            Some(path) => write!(f, "`{}`", path.display()),
            None => f.write_str("the binary"),
        }
    }
}

/// Reads the build info of the file at `path`. `Ok(None)`: not a Go binary (or not an
/// executable at all).
pub fn read_build_info(path: &Path) -> Result<Option<BuildInfo>, BuildInfoError> {
    let read_error = |source| BuildInfoError::Read {
        path: path.to_owned(),
        source,
    };
    let file = File::open(path).map_err(read_error)?;
    let size = file.metadata().map_err(read_error)?.len();
    let mut source = FileSource { file, size };
    parse_from(&mut source).map_err(|e| match e {
        Failure::Io(source) => read_error(source),
        Failure::Info(e) => e.with_path(path),
    })
}

/// Parses the build info of a binary held in memory. `Ok(None)`: not a Go binary.
pub fn parse_build_info(bytes: &[u8]) -> Result<Option<BuildInfo>, BuildInfoError> {
    parse_from(&mut SliceSource(bytes)).map_err(|e| match e {
        // Reading a slice cannot fail, but keep the mapping total.
        Failure::Io(source) => BuildInfoError::Malformed {
            path: None,
            reason: source.to_string(),
        },
        Failure::Info(e) => e,
    })
}

/// Internal failure: I/O on the source, or a problem with what was read.
enum Failure {
    Io(io::Error),
    Info(BuildInfoError),
}

impl From<io::Error> for Failure {
    fn from(e: io::Error) -> Self {
        Self::Io(e)
    }
}

fn malformed(reason: impl Into<String>) -> Failure {
    Failure::Info(BuildInfoError::Malformed {
        path: None,
        reason: reason.into(),
    })
}

const MAGIC: &[u8; 14] = b"\xff Go buildinf:";
const HEADER_SIZE: usize = 32;
const ALIGN: usize = 16;
/// Go's reader looks at the first 64 KiB of the data region; the linker puts the header there.
const SEARCH_WINDOW: usize = 64 * 1024;
/// Flag bit: the version and module strings follow the header inline (Go >= 1.18).
const FLAG_VERSION_INLINE: u8 = 0x2;
/// Generous cap on one string (a module list of thousands of deps stays far below).
const MAX_STRING: u64 = 16 * 1024 * 1024;
/// Cap on header tables read from containers (section headers, load commands).
const MAX_TABLE: u64 = 16 * 1024 * 1024;
/// Chunk size for the stream scan of unknown containers.
const SCAN_CHUNK: usize = 1024 * 1024;

/// Random access to the bytes of a binary, so files are read piecewise and slices directly.
trait Source {
    fn size(&self) -> u64;
    /// Up to `len` bytes at `offset`; fewer at the end of the input.
    fn read_at(&mut self, offset: u64, len: usize) -> io::Result<Vec<u8>>;
}

struct SliceSource<'a>(&'a [u8]);

impl Source for SliceSource<'_> {
    fn size(&self) -> u64 {
        self.0.len() as u64
    }
    fn read_at(&mut self, offset: u64, len: usize) -> io::Result<Vec<u8>> {
        let start = usize::try_from(offset)
            .unwrap_or(usize::MAX)
            .min(self.0.len());
        let end = start.saturating_add(len).min(self.0.len());
        Ok(self.0.get(start..end).unwrap_or_default().to_vec())
    }
}

struct FileSource {
    file: File,
    size: u64,
}

impl Source for FileSource {
    fn size(&self) -> u64 {
        self.size
    }
    fn read_at(&mut self, offset: u64, len: usize) -> io::Result<Vec<u8>> {
        if offset >= self.size {
            return Ok(Vec::new());
        }
        self.file.seek(SeekFrom::Start(offset))?;
        let mut out = Vec::with_capacity(len.min(SCAN_CHUNK * 2));
        (&mut self.file).take(len as u64).read_to_end(&mut out)?;
        Ok(out)
    }
}

/// Where to look for the build info header.
#[derive(Debug, PartialEq, Eq)]
enum Region {
    /// A known container: search the first 64 KiB from this file offset.
    At(u64),
    /// A known container with no data region: not a Go binary.
    Nothing,
    /// An unknown container: scan the whole input, aligned to its start.
    Scan,
}

fn parse_from(source: &mut dyn Source) -> Result<Option<BuildInfo>, Failure> {
    let header_offset = match locate(source)? {
        Region::Nothing => return Ok(None),
        Region::At(offset) => {
            let window = source.read_at(offset, SEARCH_WINDOW)?;
            find_aligned_magic(&window).map(|i| offset + i as u64)
        }
        Region::Scan => scan(source)?,
    };
    let Some(header_offset) = header_offset else {
        return Ok(None);
    };
    // The header is `MAGIC`, the pointer size, then the flags byte.
    let header = source.read_at(header_offset, HEADER_SIZE)?;
    let flags = match header.get(MAGIC.len() + 1) {
        Some(&flags) if header.len() == HEADER_SIZE => flags,
        _ => return Err(malformed("the header is cut short")),
    };
    if flags & FLAG_VERSION_INLINE == 0 {
        return Err(Failure::Info(BuildInfoError::TooOld { path: None }));
    }
    let mut at = header_offset + HEADER_SIZE as u64;
    let go_version = read_string(source, &mut at)?;
    let modinfo = read_string(source, &mut at)?;
    let go_version =
        String::from_utf8(go_version).map_err(|_| malformed("the Go version is not UTF-8"))?;
    let mut info = parse_modinfo(unwrap_sentinels(&modinfo)).map_err(malformed)?;
    info.go_version = go_version;
    Ok(Some(info))
}

/// The offset of the first 16-byte-aligned header in `data` with room for the whole header.
fn find_aligned_magic(data: &[u8]) -> Option<usize> {
    (0..data.len())
        .step_by(ALIGN)
        .find(|&i| data.get(i..i + MAGIC.len()) == Some(MAGIC) && data.len() - i >= HEADER_SIZE)
}

/// Stream-scans the whole input, one chunk in memory at a time.
fn scan(source: &mut dyn Source) -> io::Result<Option<u64>> {
    let mut offset = 0u64;
    while offset < source.size() {
        // Read a header's worth past the chunk so a header straddling the boundary is seen.
        let chunk = source.read_at(offset, SCAN_CHUNK + HEADER_SIZE)?;
        let checked = chunk.len().min(SCAN_CHUNK);
        if let Some(i) = find_aligned_magic(&chunk).filter(|&i| i < checked) {
            return Ok(Some(offset + i as u64));
        }
        offset += SCAN_CHUNK as u64;
    }
    Ok(None)
}

/// Reads a uvarint length and that many bytes at `*at`, advancing it.
fn read_string(source: &mut dyn Source, at: &mut u64) -> Result<Vec<u8>, Failure> {
    let prefix = source.read_at(*at, 10)?;
    let (len, used) = decode_uvarint(&prefix).ok_or_else(|| malformed("a length is invalid"))?;
    let start = *at + used as u64;
    if len > MAX_STRING || len > source.size().saturating_sub(start) {
        return Err(malformed("a string runs past the end of the file"));
    }
    let len = usize::try_from(len).map_err(|_| malformed("a string is too long"))?;
    let bytes = source.read_at(start, len)?;
    if bytes.len() != len {
        return Err(malformed("a string runs past the end of the file"));
    }
    *at = start + len as u64;
    Ok(bytes)
}

/// Go's `binary.Uvarint`: the value and the number of bytes used.
fn decode_uvarint(bytes: &[u8]) -> Option<(u64, usize)> {
    let mut value = 0u64;
    for (i, &b) in bytes.iter().enumerate().take(10) {
        let part = u64::from(b & 0x7f);
        if i == 9 && b > 1 {
            return None; // overflows 64 bits
        }
        value |= part << (7 * i);
        if b < 0x80 {
            return Some((value, i + 1));
        }
    }
    None
}

/// The linker wraps the module info in 16-byte sentinels; Go treats anything else as absent.
fn unwrap_sentinels(modinfo: &[u8]) -> &[u8] {
    let n = modinfo.len();
    if n >= 33 && modinfo.get(n - 17) == Some(&b'\n') {
        modinfo.get(16..n - 16).unwrap_or_default()
    } else {
        &[]
    }
}

/// Parses the module info text (runtime/debug `ParseBuildInfo`); the Go version is filled in by
/// the caller. Dependency and replacement lines are skipped: nothing here needs them.
fn parse_modinfo(text: &[u8]) -> Result<BuildInfo, String> {
    let text = std::str::from_utf8(text).map_err(|_| "the module info is not UTF-8".to_owned())?;
    let mut info = BuildInfo::default();
    for line in text.lines() {
        if let Some(path) = line.strip_prefix("path\t") {
            path.clone_into(&mut info.path);
        } else if let Some(module) = line.strip_prefix("mod\t") {
            let fields: Vec<&str> = module.split('\t').collect();
            let [path, version, ..] = fields.as_slice() else {
                return Err(format!("the module line `{line}` has too few fields"));
            };
            (*path).clone_into(&mut info.module);
            (*version).clone_into(&mut info.version);
        } else if let Some(setting) = line.strip_prefix("build\t") {
            info.settings.push(parse_setting(setting)?);
        }
    }
    Ok(info)
}

/// One `build` line: `key=value`, where either side may be a quoted Go string.
fn parse_setting(kv: &str) -> Result<(String, String), String> {
    let bad = || format!("the build setting `{kv}` is invalid");
    let (key, raw_value) = if kv.starts_with(['"', '`']) {
        let (key, rest) = unquote_prefix(kv).ok_or_else(bad)?;
        (key, rest.strip_prefix('=').ok_or_else(bad)?)
    } else {
        let (key, value) = kv.split_once('=').ok_or_else(bad)?;
        (key.to_owned(), value)
    };
    if key.is_empty() {
        return Err(bad());
    }
    let value = if raw_value.starts_with(['"', '`']) {
        match unquote_prefix(raw_value) {
            Some((value, "")) => value,
            _ => return Err(bad()),
        }
    } else {
        raw_value.to_owned()
    };
    Ok((key, value))
}

/// Go's `strconv.QuotedPrefix` + `Unquote`: the quoted string at the start of `s` (back-quoted
/// raw, or double-quoted with escapes), decoded, and the rest of `s`.
fn unquote_prefix(s: &str) -> Option<(String, &str)> {
    if let Some(raw) = s.strip_prefix('`') {
        let end = raw.find('`')?;
        return Some((raw.get(..end)?.to_owned(), raw.get(end + 1..)?));
    }
    let body = s.strip_prefix('"')?;
    let mut out = Vec::new();
    let mut chars = body.char_indices();
    while let Some((i, c)) = chars.next() {
        match c {
            '"' => return Some((String::from_utf8(out).ok()?, body.get(i + 1..)?)),
            '\n' => return None,
            '\\' => {
                let (_, e) = chars.next()?;
                let mut hex = |n: usize| -> Option<u32> {
                    let digits: String = (0..n)
                        .map(|_| chars.next().map(|(_, c)| c))
                        .collect::<Option<_>>()?;
                    u32::from_str_radix(&digits, 16).ok()
                };
                match e {
                    'a' => out.push(0x07),
                    'b' => out.push(0x08),
                    'f' => out.push(0x0c),
                    'n' => out.push(b'\n'),
                    'r' => out.push(b'\r'),
                    't' => out.push(b'\t'),
                    'v' => out.push(0x0b),
                    '\\' => out.push(b'\\'),
                    '"' => out.push(b'"'),
                    'x' => out.push(u8::try_from(hex(2)?).ok()?),
                    'u' | 'U' => {
                        let c = char::from_u32(hex(if e == 'u' { 4 } else { 8 })?)?;
                        out.extend_from_slice(c.encode_utf8(&mut [0; 4]).as_bytes());
                    }
                    '0'..='7' => {
                        let rest: String = (0..2)
                            .map(|_| chars.next().map(|(_, c)| c))
                            .collect::<Option<_>>()?;
                        let value = u32::from_str_radix(&format!("{e}{rest}"), 8).ok()?;
                        out.push(u8::try_from(value).ok()?);
                    }
                    _ => return None,
                }
            }
            c => out.extend_from_slice(c.encode_utf8(&mut [0; 4]).as_bytes()),
        }
    }
    None
}

// ---- containers --------------------------------------------------------------------------------

/// Finds the data region Go's reader would search (debug/buildinfo `DataStart`), as a file
/// offset. A container whose headers do not parse is treated as not a Go binary.
fn locate(source: &mut dyn Source) -> io::Result<Region> {
    let head = source.read_at(0, 64)?;
    let region = match head.get(..4) {
        Some([0x7f, b'E', b'L', b'F']) => elf(source, &head)?,
        Some([0xfe, 0xed, 0xfa, 0xce | 0xcf] | [0xce | 0xcf, 0xfa, 0xed, 0xfe]) => {
            macho(source, &head)?
        }
        Some([b'M', b'Z', ..]) => pe(source, &head)?,
        _ => return Ok(Region::Scan),
    };
    Ok(region.map_or(Region::Nothing, Region::At))
}

/// Fixed-width integers at an offset, in the container's byte order; `None` when out of range.
#[derive(Clone, Copy)]
struct Fields<'a> {
    data: &'a [u8],
    big_endian: bool,
}

impl<'a> Fields<'a> {
    fn new(data: &'a [u8], big_endian: bool) -> Self {
        Self { data, big_endian }
    }
    fn bytes<const N: usize>(self, at: usize) -> Option<[u8; N]> {
        self.data.get(at..at.checked_add(N)?)?.try_into().ok()
    }
    fn u16(self, at: usize) -> Option<u64> {
        let b = self.bytes::<2>(at)?;
        Some(u64::from(if self.big_endian {
            u16::from_be_bytes(b)
        } else {
            u16::from_le_bytes(b)
        }))
    }
    fn u32(self, at: usize) -> Option<u64> {
        let b = self.bytes::<4>(at)?;
        Some(u64::from(if self.big_endian {
            u32::from_be_bytes(b)
        } else {
            u32::from_le_bytes(b)
        }))
    }
    fn u64(self, at: usize) -> Option<u64> {
        let b = self.bytes::<8>(at)?;
        Some(if self.big_endian {
            u64::from_be_bytes(b)
        } else {
            u64::from_le_bytes(b)
        })
    }
}

/// Reads a table of `count` entries of `entry_size` bytes at `offset`, bounded.
fn read_table(
    source: &mut dyn Source,
    offset: u64,
    count: u64,
    entry_size: u64,
) -> io::Result<Option<Vec<u8>>> {
    let Some(len) = count.checked_mul(entry_size).filter(|&l| l <= MAX_TABLE) else {
        return Ok(None);
    };
    let Ok(len) = usize::try_from(len) else {
        return Ok(None);
    };
    let table = source.read_at(offset, len)?;
    Ok((table.len() == len).then_some(table))
}

/// The ELF header fields this reader needs (the `Elf32_Ehdr`/`Elf64_Ehdr` layouts).
struct ElfHeader {
    wide: bool,
    big_endian: bool,
    phoff: u64,
    phentsize: u64,
    phnum: u64,
    shoff: u64,
    shentsize: u64,
    shnum: u64,
    shstrndx: u64,
}

impl ElfHeader {
    fn parse(head: &[u8]) -> Option<Self> {
        let wide = match head.get(4)? {
            1 => false,
            2 => true,
            _ => return None,
        };
        let big_endian = head.get(5) == Some(&2);
        let h = Fields::new(head, big_endian);
        // 32-bit headers are the 64-bit ones with 4-byte offsets: the later fields shift.
        let (phoff, shoff, rest) = if wide {
            (h.u64(0x20)?, h.u64(0x28)?, 0x36)
        } else {
            (h.u32(0x1c)?, h.u32(0x20)?, 0x2a)
        };
        Some(Self {
            wide,
            big_endian,
            phoff,
            shoff,
            phentsize: h.u16(rest)?,
            phnum: h.u16(rest + 2)?,
            shentsize: h.u16(rest + 4)?,
            shnum: h.u16(rest + 6)?,
            shstrndx: h.u16(rest + 8)?,
        })
    }
}

/// ELF: the `.go.buildinfo` section, else the first writable, non-executable `PT_LOAD` segment.
fn elf(source: &mut dyn Source, head: &[u8]) -> io::Result<Option<u64>> {
    let Some(h) = ElfHeader::parse(head) else {
        return Ok(None);
    };
    if let Some(offset) = elf_section(source, &h)? {
        return Ok(Some(offset));
    }
    let (Some(table), Ok(entry)) = (
        read_table(source, h.phoff, h.phnum, h.phentsize)?,
        usize::try_from(h.phentsize),
    ) else {
        return Ok(None);
    };
    const PT_LOAD: u64 = 1;
    const PF_X: u64 = 1;
    const PF_W: u64 = 2;
    for ph in table.chunks_exact(entry.max(1)) {
        let p = Fields::new(ph, h.big_endian);
        // (type, flags, file offset) of Elf64_Phdr / Elf32_Phdr.
        let (kind, flags, offset) = if h.wide {
            (p.u32(0), p.u32(4), p.u64(8))
        } else {
            (p.u32(0), p.u32(24), p.u32(4))
        };
        if let (Some(PT_LOAD), Some(flags), Some(offset)) = (kind, flags, offset)
            && flags & (PF_X | PF_W) == PF_W
        {
            return Ok(Some(offset));
        }
    }
    Ok(None)
}

/// The file offset of the `.go.buildinfo` section, if the section table names one.
fn elf_section(source: &mut dyn Source, h: &ElfHeader) -> io::Result<Option<u64>> {
    let (Ok(entry), Ok(strndx)) = (usize::try_from(h.shentsize), usize::try_from(h.shstrndx))
    else {
        return Ok(None);
    };
    let Some(table) = read_table(source, h.shoff, h.shnum, h.shentsize)?.filter(|_| entry > 0)
    else {
        return Ok(None);
    };
    // (name, file offset, size) of Elf64_Shdr / Elf32_Shdr number `i`.
    let section = |i: usize| -> Option<(u64, u64, u64)> {
        let s = Fields::new(table.get(i * entry..(i + 1) * entry)?, h.big_endian);
        if h.wide {
            Some((s.u32(0)?, s.u64(24)?, s.u64(32)?))
        } else {
            Some((s.u32(0)?, s.u32(16)?, s.u32(20)?))
        }
    };
    let Some((_, names_offset, names_size)) = section(strndx) else {
        return Ok(None);
    };
    let names_size = usize::try_from(names_size.min(MAX_TABLE)).unwrap_or(0);
    let names = source.read_at(names_offset, names_size)?;
    const NAME: &[u8] = b".go.buildinfo\0";
    for i in 0..table.len() / entry {
        if let Some((name, offset, _)) = section(i)
            && let Ok(name) = usize::try_from(name)
            && names.get(name..).is_some_and(|n| n.starts_with(NAME))
        {
            return Ok(Some(offset));
        }
    }
    Ok(None)
}

/// Mach-O: the `__go_buildinfo` section, else the first non-empty read-write segment.
fn macho(source: &mut dyn Source, head: &[u8]) -> io::Result<Option<u64>> {
    let big_endian = head.first() == Some(&0xfe);
    let wide = head.get(..4).is_some_and(|m| m.contains(&0xcf));
    let h = Fields::new(head, big_endian);
    let (Some(ncmds), Some(sizeofcmds)) = (h.u32(16), h.u32(20)) else {
        return Ok(None);
    };
    let header_size = if wide { 32 } else { 28 };
    let Some(cmds) = read_table(source, header_size, 1, sizeofcmds)? else {
        return Ok(None);
    };
    const LC_SEGMENT: u64 = 0x1;
    const LC_SEGMENT_64: u64 = 0x19;
    const RW: u64 = 3;
    let mut segment = None;
    let mut at = 0usize;
    for _ in 0..ncmds {
        let c = Fields::new(&cmds, big_endian);
        let (Some(cmd), Some(size)) = (c.u32(at), c.u32(at + 4)) else {
            break;
        };
        let Ok(size) = usize::try_from(size) else {
            break;
        };
        let Some(body) = cmds.get(at..at.saturating_add(size)).filter(|_| size >= 8) else {
            break;
        };
        let b = Fields::new(body, big_endian);
        // Field offsets of segment_command(_64) and section(_64), from <mach-o/loader.h>.
        let layout = match cmd {
            LC_SEGMENT_64 => Some((true, 72usize, 80usize, 48usize)),
            LC_SEGMENT => Some((false, 56, 68, 40)),
            _ => None,
        };
        if let Some((w, first_section, section_size, offset_field)) = layout {
            let (vmaddr, fileoff, filesize, maxprot, initprot, nsects) = if w {
                (
                    b.u64(24),
                    b.u64(40),
                    b.u64(48),
                    b.u32(56),
                    b.u32(60),
                    b.u32(64),
                )
            } else {
                (
                    b.u32(24),
                    b.u32(32),
                    b.u32(36),
                    b.u32(40),
                    b.u32(44),
                    b.u32(48),
                )
            };
            let nsects = usize::try_from(nsects.unwrap_or(0)).unwrap_or(0);
            // Only as many sections as the command holds, whatever `nsects` claims.
            let fit = body.len().saturating_sub(first_section) / section_size;
            for i in 0..nsects.min(fit) {
                let s = first_section + i * section_size;
                if body
                    .get(s..s + 16)
                    .is_some_and(|n| n.starts_with(b"__go_buildinfo"))
                    && let Some(offset) = b.u32(s + offset_field)
                {
                    return Ok(Some(offset));
                }
            }
            if segment.is_none()
                && vmaddr.is_some_and(|a| a != 0)
                && filesize.is_some_and(|s| s != 0)
                && maxprot == Some(RW)
                && initprot == Some(RW)
            {
                segment = fileoff;
            }
        }
        at += size;
    }
    Ok(segment)
}

/// PE: the first initialized, read-write data section (normally `.data`).
fn pe(source: &mut dyn Source, head: &[u8]) -> io::Result<Option<u64>> {
    let Some(lfanew) = Fields::new(head, false).u32(0x3c) else {
        return Ok(None);
    };
    let coff = source.read_at(lfanew, 24)?;
    let c = Fields::new(&coff, false);
    if coff.get(..4) != Some(b"PE\0\0") {
        return Ok(None);
    }
    let (Some(nsections), Some(optional_size)) = (c.u16(6), c.u16(20)) else {
        return Ok(None);
    };
    let Some(table) = read_table(source, lfanew + 24 + optional_size, nsections, 40)? else {
        return Ok(None);
    };
    const INITIALIZED_DATA: u64 = 0x40;
    const MEM_READ: u64 = 0x4000_0000;
    const MEM_WRITE: u64 = 0x8000_0000;
    const ALIGN_MASK: u64 = 0x00f0_0000;
    for section in table.chunks_exact(40) {
        let s = Fields::new(section, false);
        if let (Some(virtual_address), Some(raw_size), Some(raw_offset), Some(flags)) =
            (s.u32(12), s.u32(16), s.u32(20), s.u32(36))
            && virtual_address != 0
            && raw_size != 0
            && flags & !ALIGN_MASK == INITIALIZED_DATA | MEM_READ | MEM_WRITE
        {
            return Ok(Some(raw_offset));
        }
    }
    Ok(None)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::process::Command;

    /// A header + strings blob as the Go >= 1.18 linker writes it.
    fn blob(go_version: &str, modinfo: &str) -> Vec<u8> {
        let mut out = MAGIC.to_vec();
        out.extend([8, FLAG_VERSION_INLINE]);
        out.resize(HEADER_SIZE, 0);
        let mut wrapped = vec![0x30u8; 16];
        wrapped.extend(modinfo.as_bytes());
        wrapped.extend([0xf9u8; 16]);
        for s in [go_version.as_bytes(), &wrapped] {
            let mut n = s.len();
            while n >= 0x80 {
                out.push((n as u8) | 0x80);
                n >>= 7;
            }
            out.push(n as u8);
            out.extend(s);
        }
        out
    }

    const MODINFO: &str = "path\texample.com/t/cmd/t\nmod\texample.com/t\tv1.2.3\th1:abc=\n\
        dep\texample.com/d\tv0.1.0\th1:x=\nbuild\t-compiler=gc\n\
        build\t-ldflags=\"-s -w -buildid=\"\nbuild\t-tags=netgo,osusergo\n\
        build\t-trimpath=true\nbuild\tCGO_ENABLED=0\n";

    #[test]
    fn parses_an_unknown_container_by_scanning_aligned_headers() {
        let mut bytes = b"#!/bin/sh\n".to_vec();
        // A misaligned copy of the magic must be skipped.
        bytes.resize(20, b' ');
        bytes.extend(MAGIC);
        bytes.resize(SCAN_CHUNK - 16, 0);
        bytes.extend(blob("go1.22.1", MODINFO));
        let info = parse_build_info(&bytes).unwrap().unwrap();
        assert_eq!(
            info,
            BuildInfo {
                go_version: "go1.22.1".into(),
                path: "example.com/t/cmd/t".into(),
                module: "example.com/t".into(),
                version: "v1.2.3".into(),
                settings: [
                    ("-compiler", "gc"),
                    ("-ldflags", "-s -w -buildid="),
                    ("-tags", "netgo,osusergo"),
                    ("-trimpath", "true"),
                    ("CGO_ENABLED", "0"),
                ]
                .map(|(k, v)| (k.to_owned(), v.to_owned()))
                .to_vec(),
            }
        );
        assert!(info.from_index_recipe());
    }

    #[test]
    fn files_without_the_header_are_not_go_binaries() {
        assert!(parse_build_info(b"#!/bin/sh\necho hi\n").unwrap().is_none());
        assert!(parse_build_info(b"").unwrap().is_none());
        // A truncated ELF header is not a Go binary either (and must not panic).
        assert!(parse_build_info(b"\x7fELF\x02\x01").unwrap().is_none());
        assert!(parse_build_info(b"MZ").unwrap().is_none());
    }

    #[test]
    fn pointer_format_is_reported_as_too_old() {
        let mut bytes = MAGIC.to_vec();
        bytes.extend([8, 0]);
        bytes.resize(64, 0);
        let err = parse_build_info(&bytes).unwrap_err();
        assert!(matches!(err, BuildInfoError::TooOld { .. }));
        assert_eq!(
            err.to_string(),
            "the binary was built by Go older than 1.18, whose build info cannot be read; \
             rebuild it with a newer Go"
        );
    }

    #[test]
    fn a_string_longer_than_the_file_is_malformed() {
        let mut bytes = blob("go1.22.1", MODINFO);
        bytes.truncate(HEADER_SIZE + 20);
        let err = parse_build_info(&bytes).unwrap_err();
        assert!(
            err.to_string().contains("runs past the end of the file"),
            "{err}"
        );
    }

    #[test]
    fn unwrapped_modinfo_counts_as_absent() {
        let mut bytes = MAGIC.to_vec();
        bytes.extend([8, FLAG_VERSION_INLINE]);
        bytes.resize(HEADER_SIZE, 0);
        bytes.extend([8]);
        bytes.extend(b"go1.20.1");
        bytes.extend([4]);
        bytes.extend(b"path");
        let info = parse_build_info(&bytes).unwrap().unwrap();
        assert_eq!(info.go_version, "go1.20.1");
        assert_eq!(info.path, "");
        assert!(info.settings.is_empty());
    }

    #[test]
    fn settings_unquote_go_strings() {
        assert_eq!(
            parse_setting(r#"-ldflags="-X 'main.v=a b' \"q\" \x41\u00e9\101""#).unwrap(),
            ("-ldflags".into(), "-X 'main.v=a b' \"q\" A\u{e9}A".into())
        );
        assert_eq!(
            parse_setting("\"odd key\"=`raw \\n`").unwrap(),
            ("odd key".into(), "raw \\n".into())
        );
        assert_eq!(
            parse_setting("GOOS=").unwrap(),
            ("GOOS".into(), String::new())
        );
        for bad in ["=x", "novalue", "k=\"unterminated", "k=\"a\"junk", "\"k\"x"] {
            assert!(parse_setting(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn recipe_needs_every_flag_but_tolerates_missing_ldflags() {
        let info = |settings: &[(&str, &str)]| BuildInfo {
            settings: settings
                .iter()
                .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
                .collect(),
            ..BuildInfo::default()
        };
        let full = [
            ("-tags", "netgo,osusergo"),
            ("-trimpath", "true"),
            ("CGO_ENABLED", "0"),
        ];
        assert!(info(&full).from_index_recipe());
        for skip in 0..full.len() {
            let mut partial = full.to_vec();
            partial.remove(skip);
            assert!(
                !info(&partial).from_index_recipe(),
                "without {:?}",
                full[skip]
            );
        }
        let mut other_ldflags = full.to_vec();
        other_ldflags.push(("-ldflags", "-X main.v=1"));
        assert!(!info(&other_ldflags).from_index_recipe());
        // The index builds modules that need cgo with zig: CGO_ENABLED=1, same recipe otherwise.
        let mut cgo = full.to_vec();
        cgo[2] = ("CGO_ENABLED", "1");
        assert!(info(&cgo).from_index_recipe());
        cgo[2] = ("CGO_ENABLED", "yes");
        assert!(!info(&cgo).from_index_recipe());
    }

    #[test]
    fn uvarint_rejects_overflow_and_truncation() {
        assert_eq!(decode_uvarint(&[0x96, 0x01]), Some((150, 2)));
        assert_eq!(decode_uvarint(&[0x80]), None);
        assert_eq!(decode_uvarint(&[0xff; 10]), None);
    }

    // ---- real binaries, built with the installed `go` ----------------------------------------

    /// A module `example.com/hello` with a command `cmd/hello`, in a temp dir.
    struct GoModule {
        dir: tempfile::TempDir,
    }

    impl GoModule {
        /// `None` (and a printed reason) when `go` is not installed.
        #[allow(clippy::print_stderr)] // the skip reason is the point
        fn new() -> Option<Self> {
            if Command::new("go").arg("version").output().is_err() {
                eprintln!("skipped: `go` is not on PATH");
                return None;
            }
            let dir = tempfile::tempdir().unwrap();
            std::fs::write(
                dir.path().join("go.mod"),
                "module example.com/hello\n\ngo 1.18\n",
            )
            .unwrap();
            std::fs::create_dir_all(dir.path().join("cmd/hello")).unwrap();
            std::fs::write(
                dir.path().join("cmd/hello/main.go"),
                "package main\n\nfunc main() { println(\"hello\") }\n",
            )
            .unwrap();
            Some(Self { dir })
        }

        fn go_version() -> String {
            let out = Command::new("go").arg("version").output().unwrap();
            let text = String::from_utf8(out.stdout).unwrap();
            text.split_whitespace().nth(2).unwrap().to_owned()
        }

        /// `go build` with `goos`/`goarch` and extra flags; returns the binary's path.
        fn build(&self, name: &str, goos: &str, goarch: &str, flags: &[&str]) -> PathBuf {
            let out = self.dir.path().join(name);
            let status = Command::new("go")
                .arg("build")
                .args(flags)
                .arg("-o")
                .arg(&out)
                .arg("./cmd/hello")
                .current_dir(self.dir.path())
                .env("GOOS", goos)
                .env("GOARCH", goarch)
                .env("CGO_ENABLED", "0")
                .env("GOFLAGS", "-mod=mod")
                .env("GOPROXY", "off")
                .env("GOTOOLCHAIN", "local")
                .status()
                .unwrap();
            assert!(status.success(), "go build failed");
            out
        }
    }

    const RECIPE: &[&str] = &[
        "-trimpath",
        "-buildvcs=false",
        "-ldflags",
        "-s -w -buildid=",
        "-tags",
        "netgo,osusergo",
    ];

    fn setting_pairs(info: &BuildInfo) -> Vec<(&str, &str)> {
        info.settings
            .iter()
            .map(|(k, v)| (k.as_str(), v.as_str()))
            .collect()
    }

    #[test]
    fn reads_a_real_binary_built_with_the_index_recipe() {
        let Some(module) = GoModule::new() else {
            return;
        };
        let binary = module.build("hello", "linux", "amd64", RECIPE);
        let info = read_build_info(&binary).unwrap().unwrap();
        assert_eq!(info.go_version, GoModule::go_version());
        assert_eq!(info.path, "example.com/hello/cmd/hello");
        assert_eq!(info.module, "example.com/hello");
        assert_eq!(info.version, "(devel)");
        let settings = setting_pairs(&info);
        for expected in [
            ("-compiler", "gc"),
            ("-tags", "netgo,osusergo"),
            ("-trimpath", "true"),
            ("CGO_ENABLED", "0"),
            ("GOARCH", "amd64"),
            ("GOOS", "linux"),
        ] {
            assert!(settings.contains(&expected), "{expected:?} in {settings:?}");
        }
        assert!(info.from_index_recipe());
        // The ELF path found the section rather than falling back to a scan.
        let bytes = std::fs::read(&binary).unwrap();
        assert!(matches!(
            locate(&mut SliceSource(&bytes)).unwrap(),
            Region::At(_)
        ));
        assert_eq!(parse_build_info(&bytes).unwrap().unwrap(), info);
    }

    #[test]
    fn reads_a_real_binary_built_without_the_recipe() {
        let Some(module) = GoModule::new() else {
            return;
        };
        let binary = module.build(
            "plain",
            "linux",
            "amd64",
            &["-ldflags", "-X 'main.greeting=hi there'"],
        );
        let info = read_build_info(&binary).unwrap().unwrap();
        assert_eq!(info.go_version, GoModule::go_version());
        assert_eq!(info.path, "example.com/hello/cmd/hello");
        assert_eq!(info.module, "example.com/hello");
        assert_eq!(info.version, "(devel)");
        let settings = setting_pairs(&info);
        assert!(settings.contains(&("-ldflags", "-X 'main.greeting=hi there'")));
        assert!(settings.contains(&("CGO_ENABLED", "0")));
        assert_eq!(info.setting("-trimpath"), None);
        assert_eq!(info.setting("-tags"), None);
        assert!(!info.from_index_recipe());
    }

    #[test]
    fn reads_real_binaries_of_every_container_layout() {
        let Some(module) = GoModule::new() else {
            return;
        };
        for (name, goos, goarch) in [
            ("hello-386", "linux", "386"),     // ELF, 32-bit, little-endian
            ("hello-mips", "linux", "mips"),   // ELF, 32-bit, big-endian
            ("hello-s390x", "linux", "s390x"), // ELF, 64-bit, big-endian
            ("hello.exe", "windows", "amd64"), // PE
            ("hello-windows-386.exe", "windows", "386"),
            ("hello-darwin-arm64", "darwin", "arm64"),
            ("hello-darwin-amd64", "darwin", "amd64"),
        ] {
            let binary = module.build(name, goos, goarch, RECIPE);
            let bytes = std::fs::read(&binary).unwrap();
            assert!(
                matches!(locate(&mut SliceSource(&bytes)).unwrap(), Region::At(_)),
                "{name}: container not recognised"
            );
            let info = read_build_info(&binary).unwrap().unwrap();
            assert_eq!(info.path, "example.com/hello/cmd/hello", "{name}");
            assert_eq!(info.module, "example.com/hello", "{name}");
            assert_eq!(info.setting("GOOS"), Some(goos), "{name}");
            assert_eq!(info.setting("GOARCH"), Some(goarch), "{name}");
            assert!(info.from_index_recipe(), "{name}");
        }
    }

    #[test]
    fn truncated_or_corrupted_real_binaries_never_panic() {
        let Some(module) = GoModule::new() else {
            return;
        };
        for (name, goos) in [
            ("t-elf", "linux"),
            ("t.exe", "windows"),
            ("t-mac", "darwin"),
        ] {
            let bytes = std::fs::read(module.build(name, goos, "amd64", RECIPE)).unwrap();
            let magic = bytes.windows(MAGIC.len()).position(|w| w == MAGIC).unwrap();
            // Cut inside the container headers, and around the build info header and strings.
            let cuts = (0..4096).step_by(7).chain(magic - 64..magic + 400);
            for cut in cuts {
                let _ = parse_build_info(&bytes[..cut]);
            }
            // Scramble the container headers one byte at a time.
            for at in 0..1024 {
                let mut broken = bytes.clone();
                broken[at] ^= 0xa5;
                let _ = parse_build_info(&broken);
            }
        }
    }

    /// A command built as a dependency of another module records that module's version; one
    /// built inside its own source tree records `(devel)` (the test above).
    #[test]
    fn reads_the_module_version_of_a_command_built_as_a_dependency() {
        let Some(module) = GoModule::new() else {
            return;
        };
        let wrapper = tempfile::tempdir().unwrap();
        std::fs::write(
            wrapper.path().join("go.mod"),
            format!(
                "module wrapper\n\ngo 1.18\n\nrequire example.com/hello v1.4.2\n\n\
                 replace example.com/hello => {}\n",
                module.dir.path().display()
            ),
        )
        .unwrap();
        let out = wrapper.path().join("hello");
        let status = Command::new("go")
            .args(["build", "-trimpath", "-o"])
            .arg(&out)
            .arg("example.com/hello/cmd/hello")
            .current_dir(wrapper.path())
            .env("CGO_ENABLED", "0")
            .env("GOFLAGS", "-mod=mod")
            .env("GOPROXY", "off")
            .env("GOTOOLCHAIN", "local")
            .status()
            .unwrap();
        assert!(status.success(), "go build failed");
        let info = read_build_info(&out).unwrap().unwrap();
        assert_eq!(info.path, "example.com/hello/cmd/hello");
        assert_eq!(info.module, "example.com/hello");
        assert_eq!(info.version, "v1.4.2");
    }

    #[test]
    fn names_the_path_when_a_file_cannot_be_read() {
        let dir = tempfile::tempdir().unwrap();
        let missing = dir.path().join("nope");
        let err = read_build_info(&missing).unwrap_err();
        assert!(
            err.to_string()
                .starts_with(&format!("could not read `{}`", missing.display()))
        );
        let old = dir.path().join("old");
        let mut bytes = MAGIC.to_vec();
        bytes.extend([8, 0]);
        bytes.resize(64, 0);
        std::fs::write(&old, bytes).unwrap();
        let err = read_build_info(&old).unwrap_err();
        assert!(
            err.to_string()
                .starts_with(&format!("`{}` was built by Go older", old.display()))
        );
    }
}
