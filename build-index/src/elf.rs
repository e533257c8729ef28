//! The oldest glibc an ELF binary runs on, read from its dynamic section, and whether a binary
//! is static at all ([`linkage_of_file`]: what makes a musl build worth publishing).
//!
//! A minimal, bounds-checked ELF reader (32/64-bit, either byte order, from the header): it finds
//! `PT_INTERP`, `PT_DYNAMIC` and, through the dynamic section's `DT_VERNEED`, the symbol versions
//! the binary needs (`.gnu.version_r`). A binary with no interpreter and no `DT_NEEDED` is static
//! and needs no glibc at all. It reads only what this answer needs; it is not a general parser.

use std::cmp::Ordering;
use std::path::{Path, PathBuf};

const PT_LOAD: u32 = 1;
const PT_DYNAMIC: u32 = 2;
const PT_INTERP: u32 = 3;
const DT_NULL: u64 = 0;
const DT_NEEDED: u64 = 1;
const DT_STRTAB: u64 = 5;
const DT_VERNEED: u64 = 0x6fff_fffe;
const DT_VERNEEDNUM: u64 = 0x6fff_ffff;
/// Bounds loops over linked lists inside the file, so a crafted file cannot spin forever.
const MAX_LINKS: usize = 4096;

/// Why a binary's glibc requirement could not be read.
#[derive(Debug, thiserror::Error)]
pub enum ElfError {
    #[error("could not read binary `{}`: {source}", path.display())]
    Read {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("binary `{}` is not a well-formed ELF file: {reason}", path.display())]
    Malformed { path: PathBuf, reason: &'static str },
}

/// The highest `GLIBC_x.y[.z]` version the file at `path` needs, or `None` when it is
/// statically linked (or needs no versioned glibc symbol).
pub fn min_glibc_of_file(path: &Path) -> Result<Option<String>, ElfError> {
    let bytes = std::fs::read(path).map_err(|source| ElfError::Read {
        path: path.to_owned(),
        source,
    })?;
    min_glibc(&bytes).map_err(|reason| ElfError::Malformed {
        path: path.to_owned(),
        reason,
    })
}

/// The highest of several requirements (`None` counts as "no requirement").
pub fn highest(versions: impl IntoIterator<Item = Option<String>>) -> Option<String> {
    versions
        .into_iter()
        .flatten()
        .max_by(|a, b| compare_versions(a, b))
}

/// What an ELF binary needs from the system at run time.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Linkage {
    /// The program interpreter (`PT_INTERP`), e.g. `/lib/ld-musl-x86_64.so.1`.
    pub interpreter: Option<String>,
    /// The shared libraries it names (`DT_NEEDED`).
    pub needed: Vec<String>,
}

impl Linkage {
    /// Static: no interpreter and no shared library (a static-pie keeps a dynamic section to
    /// relocate itself, but names nothing in it).
    pub fn is_static(&self) -> bool {
        self.interpreter.is_none() && self.needed.is_empty()
    }

    /// `interpreter /lib/ld…, needs libc.so.6, libz.so.1` for messages.
    pub fn describe(&self) -> String {
        let mut parts = Vec::new();
        if let Some(i) = &self.interpreter {
            parts.push(format!("interpreter {i}"));
        }
        if !self.needed.is_empty() {
            parts.push(format!("needs {}", self.needed.join(", ")));
        }
        if parts.is_empty() {
            "static".to_owned()
        } else {
            parts.join("; ")
        }
    }
}

/// The [`Linkage`] of the file at `path`.
pub fn linkage_of_file(path: &Path) -> Result<Linkage, ElfError> {
    let bytes = std::fs::read(path).map_err(|source| ElfError::Read {
        path: path.to_owned(),
        source,
    })?;
    linkage(&bytes).map_err(|reason| ElfError::Malformed {
        path: path.to_owned(),
        reason,
    })
}

/// [`linkage_of_file`] on bytes.
pub fn linkage(bytes: &[u8]) -> Result<Linkage, &'static str> {
    let elf = Elf::parse(bytes)?;
    let segments = elf.segments()?;
    let interpreter = match segments.iter().find(|s| s.kind == PT_INTERP) {
        Some(interp) => Some(elf.string(interp.offset)?),
        None => None,
    };
    let mut needed = Vec::new();
    if let Some(dynamic) = segments.iter().find(|s| s.kind == PT_DYNAMIC) {
        let entries = elf.dynamic_entries(dynamic)?;
        let names: Vec<u64> = entries
            .iter()
            .filter(|&&(tag, _)| tag == DT_NEEDED)
            .map(|&(_, v)| v)
            .collect();
        if !names.is_empty() {
            let strtab = entries
                .iter()
                .find(|&&(t, _)| t == DT_STRTAB)
                .and_then(|&(_, v)| elf.offset_of(&segments, v))
                .ok_or("DT_NEEDED without a string table in the file")?;
            for name in names {
                needed.push(elf.string(strtab.checked_add(name).ok_or("offset too large")?)?);
            }
        }
    }
    Ok(Linkage {
        interpreter,
        needed,
    })
}

/// [`min_glibc_of_file`] on bytes.
pub fn min_glibc(bytes: &[u8]) -> Result<Option<String>, &'static str> {
    let elf = Elf::parse(bytes)?;
    let segments = elf.segments()?;
    let has_interp = segments.iter().any(|s| s.kind == PT_INTERP);
    let Some(dynamic) = segments.iter().find(|s| s.kind == PT_DYNAMIC) else {
        return Ok(None);
    };
    let entries = elf.dynamic_entries(dynamic)?;
    let has_needed = entries.iter().any(|&(tag, _)| tag == DT_NEEDED);
    if !has_interp && !has_needed {
        // static-pie binaries (crt-static on gnu) keep a dynamic section for self-relocation.
        return Ok(None);
    }
    let value = |wanted: u64| entries.iter().find(|&&(t, _)| t == wanted).map(|&(_, v)| v);
    let (Some(verneed), Some(count), Some(strtab)) =
        (value(DT_VERNEED), value(DT_VERNEEDNUM), value(DT_STRTAB))
    else {
        return Ok(None);
    };
    let verneed = elf
        .offset_of(&segments, verneed)
        .ok_or("DT_VERNEED is outside the file")?;
    let strtab = elf
        .offset_of(&segments, strtab)
        .ok_or("DT_STRTAB is outside the file")?;
    let names = elf.version_needs(verneed, count, strtab)?;
    Ok(highest(names.into_iter().map(|n| {
        n.strip_prefix("GLIBC_")
            .filter(|v| is_dotted_number(v))
            .map(str::to_owned)
    })))
}

/// The file's `e_machine` and whether it is statically linked (no `PT_INTERP` loader and no
/// `DT_NEEDED` library), for `import`, which accepts only static binaries.
pub fn machine_and_static(bytes: &[u8]) -> Result<(u16, bool), &'static str> {
    let elf = Elf::parse(bytes)?;
    let machine = elf.u16(0x12)?;
    let segments = elf.segments()?;
    if segments.iter().any(|s| s.kind == PT_INTERP) {
        return Ok((machine, false));
    }
    let needs = match segments.iter().find(|s| s.kind == PT_DYNAMIC) {
        Some(dynamic) => elf
            .dynamic_entries(dynamic)?
            .iter()
            .any(|&(tag, _)| tag == DT_NEEDED),
        None => false,
    };
    Ok((machine, !needs))
}

struct Segment {
    kind: u32,
    offset: u64,
    vaddr: u64,
    filesz: u64,
}

struct Elf<'a> {
    data: &'a [u8],
    is64: bool,
    little: bool,
}

impl<'a> Elf<'a> {
    fn parse(data: &'a [u8]) -> Result<Self, &'static str> {
        if data.get(..4) != Some(b"\x7fELF".as_slice()) {
            return Err("it does not start with the ELF magic");
        }
        let is64 = match data.get(4) {
            Some(1) => false,
            Some(2) => true,
            _ => return Err("unknown ELF class"),
        };
        let little = match data.get(5) {
            Some(1) => true,
            Some(2) => false,
            _ => return Err("unknown ELF byte order"),
        };
        Ok(Self { data, is64, little })
    }

    fn bytes<const N: usize>(&self, at: u64) -> Result<[u8; N], &'static str> {
        let start = usize::try_from(at).map_err(|_| "offset too large")?;
        let end = start.checked_add(N).ok_or("offset too large")?;
        self.data
            .get(start..end)
            .and_then(|s| s.try_into().ok())
            .ok_or("a structure runs past the end of the file")
    }

    fn u16(&self, at: u64) -> Result<u16, &'static str> {
        let b = self.bytes::<2>(at)?;
        Ok(if self.little {
            u16::from_le_bytes(b)
        } else {
            u16::from_be_bytes(b)
        })
    }

    fn u32(&self, at: u64) -> Result<u32, &'static str> {
        let b = self.bytes::<4>(at)?;
        Ok(if self.little {
            u32::from_le_bytes(b)
        } else {
            u32::from_be_bytes(b)
        })
    }

    fn u64(&self, at: u64) -> Result<u64, &'static str> {
        let b = self.bytes::<8>(at)?;
        Ok(if self.little {
            u64::from_le_bytes(b)
        } else {
            u64::from_be_bytes(b)
        })
    }

    /// An address-sized field: 4 bytes in ELF32, 8 in ELF64.
    fn word(&self, at: u64) -> Result<u64, &'static str> {
        if self.is64 {
            self.u64(at)
        } else {
            self.u32(at).map(u64::from)
        }
    }

    fn segments(&self) -> Result<Vec<Segment>, &'static str> {
        let (phoff, entsize, num) = if self.is64 {
            (self.u64(0x20)?, self.u16(0x36)?, self.u16(0x38)?)
        } else {
            (u64::from(self.u32(0x1c)?), self.u16(0x2a)?, self.u16(0x2c)?)
        };
        let mut out = Vec::new();
        for i in 0..u64::from(num) {
            let at = phoff
                .checked_add(i * u64::from(entsize))
                .ok_or("program header offset overflows")?;
            let segment = if self.is64 {
                Segment {
                    kind: self.u32(at)?,
                    offset: self.u64(at + 8)?,
                    vaddr: self.u64(at + 16)?,
                    filesz: self.u64(at + 32)?,
                }
            } else {
                Segment {
                    kind: self.u32(at)?,
                    offset: u64::from(self.u32(at + 4)?),
                    vaddr: u64::from(self.u32(at + 8)?),
                    filesz: u64::from(self.u32(at + 16)?),
                }
            };
            out.push(segment);
        }
        Ok(out)
    }

    fn dynamic_entries(&self, dynamic: &Segment) -> Result<Vec<(u64, u64)>, &'static str> {
        let size = if self.is64 { 16 } else { 8 };
        let half = size / 2;
        let mut out = Vec::new();
        for i in 0..(dynamic.filesz / size).min(MAX_LINKS as u64) {
            let at = dynamic.offset + i * size;
            let tag = self.word(at)?;
            if tag == DT_NULL {
                break;
            }
            out.push((tag, self.word(at + half)?));
        }
        Ok(out)
    }

    /// File offset of a virtual address, through the `PT_LOAD` segment that maps it.
    fn offset_of(&self, segments: &[Segment], vaddr: u64) -> Option<u64> {
        segments
            .iter()
            .filter(|s| s.kind == PT_LOAD)
            .find(|s| vaddr >= s.vaddr && vaddr - s.vaddr < s.filesz)
            .map(|s| s.offset + (vaddr - s.vaddr))
    }

    /// Names of every version in the `Elf_Verneed`/`Elf_Vernaux` chains (same layout for ELF32
    /// and ELF64).
    fn version_needs(
        &self,
        start: u64,
        count: u64,
        strtab: u64,
    ) -> Result<Vec<String>, &'static str> {
        let mut names = Vec::new();
        let mut need = start;
        for _ in 0..count.min(MAX_LINKS as u64) {
            let aux_count = self.u16(need + 2)?;
            let mut aux = need + u64::from(self.u32(need + 8)?);
            for _ in 0..aux_count.min(MAX_LINKS as u16) {
                let name = self.u32(aux + 8)?;
                names.push(self.string(strtab + u64::from(name))?);
                let next = self.u32(aux + 12)?;
                if next == 0 {
                    break;
                }
                aux += u64::from(next);
            }
            let next = self.u32(need + 12)?;
            if next == 0 {
                break;
            }
            need += u64::from(next);
        }
        Ok(names)
    }

    fn string(&self, at: u64) -> Result<String, &'static str> {
        let start = usize::try_from(at).map_err(|_| "offset too large")?;
        let rest = self
            .data
            .get(start..)
            .ok_or("a string is outside the file")?;
        let end = rest
            .iter()
            .position(|&b| b == 0)
            .ok_or("a string is not terminated")?;
        Ok(String::from_utf8_lossy(rest.get(..end).unwrap_or_default()).into_owned())
    }
}

fn is_dotted_number(v: &str) -> bool {
    !v.is_empty()
        && v.split('.')
            .all(|p| !p.is_empty() && p.bytes().all(|b| b.is_ascii_digit()))
}

/// Numeric comparison of dotted versions: `2.9` < `2.17` < `2.17.1`.
fn compare_versions(a: &str, b: &str) -> Ordering {
    let parts = |s: &str| -> Vec<u64> { s.split('.').map(|p| p.parse().unwrap_or(0)).collect() };
    parts(a).cmp(&parts(b))
}

#[cfg(test)]
mod tests {
    use std::process::Command;

    use super::*;

    fn compile(dir: &Path, name: &str, extra: &[&str]) -> PathBuf {
        let src = dir.join("hello.rs");
        std::fs::write(&src, "fn main() { println!(\"hello\"); }\n").unwrap();
        let out = dir.join(name);
        let status = Command::new("rustc")
            .arg(&src)
            .arg("-o")
            .arg(&out)
            .args(extra)
            .status()
            .unwrap();
        assert!(status.success());
        out
    }

    #[test]
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    fn a_dynamic_binary_needs_a_glibc_and_a_static_one_none() {
        let dir = tempfile::tempdir().unwrap();
        let dynamic = compile(dir.path(), "dyn", &[]);
        let found = min_glibc_of_file(&dynamic)
            .unwrap()
            .expect("a glibc version");
        let mut parts = found.split('.');
        assert_eq!(parts.next(), Some("2"), "{found}");
        assert!(
            parts.next().unwrap().parse::<u32>().unwrap() >= 2,
            "{found}"
        );
        let static_ = compile(dir.path(), "static", &["-C", "target-feature=+crt-static"]);
        assert_eq!(min_glibc_of_file(&static_).unwrap(), None);
    }

    #[test]
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    fn a_dynamic_binary_names_its_interpreter_and_libraries_and_a_static_one_nothing() {
        let dir = tempfile::tempdir().unwrap();
        let dynamic = linkage_of_file(&compile(dir.path(), "dyn", &[])).unwrap();
        assert!(!dynamic.is_static());
        assert!(
            dynamic
                .interpreter
                .as_deref()
                .is_some_and(|i| i.contains("ld-linux")),
            "{dynamic:?}"
        );
        assert!(
            dynamic.needed.iter().any(|n| n == "libc.so.6"),
            "{dynamic:?}"
        );
        assert!(
            dynamic.describe().contains("libc.so.6"),
            "{}",
            dynamic.describe()
        );
        let static_ = compile(dir.path(), "static", &["-C", "target-feature=+crt-static"]);
        let linkage = linkage_of_file(&static_).unwrap();
        assert!(linkage.is_static(), "{linkage:?}");
        assert_eq!(linkage.describe(), "static");
    }

    #[test]
    fn refuses_files_that_are_not_elf() {
        assert!(linkage(b"#!/bin/sh\n").is_err());
        assert!(min_glibc(b"#!/bin/sh\n").is_err());
        assert!(min_glibc(b"\x7fELF\x02\x01").is_err());
        assert!(min_glibc(b"").is_err());
    }

    #[test]
    fn versions_compare_numerically() {
        let v = |xs: &[&str]| highest(xs.iter().map(|s| Some((*s).to_owned())));
        assert_eq!(v(&["2.9", "2.17", "2.3.4"]).as_deref(), Some("2.17"));
        assert_eq!(v(&["2.17", "2.17.1"]).as_deref(), Some("2.17.1"));
        assert_eq!(highest([None, None]), None);
    }
}
