//! Go's build info blob, once found: the 32-byte `\xff Go buildinf:` header, the two
//! varint-prefixed strings after it (Go version, module info), and the module info text
//! (`path`, `mod`, `build` lines, as runtime/debug `ParseBuildInfo` reads them).
//!
//! Ours rather than a crate's: it follows Go's `debug/buildinfo` (Go >= 1.18 layout) and nothing
//! else reads it. Every length is checked against the input before it is read.

use super::{BuildInfo, BuildInfoError, Failure, Source, malformed};

pub(super) const MAGIC: &[u8; 14] = b"\xff Go buildinf:";
pub(super) const HEADER_SIZE: usize = 32;
pub(super) const ALIGN: usize = 16;
/// Go's reader looks at the first 64 KiB of the data region; the linker puts the header there.
pub(super) const SEARCH_WINDOW: usize = 64 * 1024;
/// Flag bit: the version and module strings follow the header inline (Go >= 1.18).
pub(super) const FLAG_VERSION_INLINE: u8 = 0x2;
/// Generous cap on one string (a module list of thousands of deps stays far below).
pub(super) const MAX_STRING: u64 = 16 * 1024 * 1024;

/// Decodes the build info whose header starts at `header_offset`.
pub(super) fn decode(source: &mut dyn Source, header_offset: u64) -> Result<BuildInfo, Failure> {
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
    Ok(info)
}

/// The offset of the first 16-byte-aligned header in `data` with room for the whole header.
pub(super) fn find_aligned_magic(data: &[u8]) -> Option<usize> {
    (0..data.len())
        .step_by(ALIGN)
        .find(|&i| data.get(i..i + MAGIC.len()) == Some(MAGIC) && data.len() - i >= HEADER_SIZE)
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

#[cfg(test)]
mod tests {
    use super::*;

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
    fn uvarint_rejects_overflow_and_truncation() {
        assert_eq!(decode_uvarint(&[0x96, 0x01]), Some((150, 2)));
        assert_eq!(decode_uvarint(&[0x80]), None);
        assert_eq!(decode_uvarint(&[0xff; 10]), None);
    }
}
