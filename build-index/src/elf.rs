//! The oldest glibc an ELF binary runs on, read from its dynamic section, and whether a binary
//! is static at all ([`linkage_of_file`]: what makes a musl build worth publishing).
//!
//! The container is read by the `object` crate (header, program headers, the dynamic table and
//! the `Elf_Verneed`/`Elf_Vernaux` records, for 32/64-bit files of either byte order, every
//! read bounds-checked): hand-written binary-format parsing is where bugs hide. This module
//! only decides what the entries mean: `PT_INTERP`, `DT_NEEDED`, and, through `DT_VERNEED`,
//! the symbol versions the binary needs (`.gnu.version_r`). A binary with no interpreter and
//! no `DT_NEEDED` is static and needs no glibc at all. Addresses are mapped through the
//! `PT_LOAD` segments, so a file without section headers reads the same.

use std::cmp::Ordering;
use std::path::{Path, PathBuf};

use object::elf::{self, DynamicTag};
use object::read::elf::{Dyn as _, FileHeader, ProgramHeader as _};
use object::read::{Bytes, FileKind, StringTable};
use object::{Endianness, U16, U32};

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
    let interpreter = elf
        .interpreter
        .map(|i| String::from_utf8_lossy(i).into_owned());
    let mut needed = Vec::new();
    let names: Vec<u64> = elf.values(elf::DT_NEEDED).collect();
    if !names.is_empty() {
        let strings = elf
            .strings()
            .ok_or("DT_NEEDED without a string table in the file")?;
        for name in names {
            needed.push(string(&strings, name)?);
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
    let has_needed = elf.value(elf::DT_NEEDED).is_some();
    if elf.interpreter.is_none() && !has_needed {
        // static-pie binaries (crt-static on gnu) keep a dynamic section for self-relocation.
        return Ok(None);
    }
    let (Some(verneed), Some(count), Some(_)) = (
        elf.value(elf::DT_VERNEED),
        elf.value(elf::DT_VERNEEDNUM),
        elf.value(elf::DT_STRTAB),
    ) else {
        return Ok(None);
    };
    let verneed = elf
        .at_address(verneed)
        .ok_or("DT_VERNEED is outside the file")?;
    let strings = elf.strings().ok_or("DT_STRTAB is outside the file")?;
    let names = version_needs(elf.endian, verneed, count, &strings)?;
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
    let is_static = elf.interpreter.is_none() && elf.value(elf::DT_NEEDED).is_none();
    Ok((elf.machine, is_static))
}

/// What this module needs of an ELF file, as `object` read it.
struct Elf<'a> {
    endian: Endianness,
    machine: u16,
    /// The first `PT_INTERP` segment's path.
    interpreter: Option<&'a [u8]>,
    /// The first `PT_DYNAMIC` segment's entries up to `DT_NULL`, as (tag, value).
    dynamic: Vec<(DynamicTag, u64)>,
    /// Each `PT_LOAD` segment's virtual address and its bytes in the file.
    loads: Vec<(u64, &'a [u8])>,
}

impl<'a> Elf<'a> {
    fn parse(data: &'a [u8]) -> Result<Self, &'static str> {
        match FileKind::parse(data) {
            Ok(FileKind::Elf32) => Self::parse_as::<elf::FileHeader32<Endianness>>(data),
            Ok(FileKind::Elf64) => Self::parse_as::<elf::FileHeader64<Endianness>>(data),
            Ok(_) => Err("it is another kind of executable"),
            Err(_) => Err("it does not start with the ELF magic"),
        }
    }

    fn parse_as<H: FileHeader<Endian = Endianness>>(data: &'a [u8]) -> Result<Self, &'static str> {
        let header = H::parse(data).map_err(|_| "its ELF header is truncated or invalid")?;
        let endian = header.endian().map_err(|_| "unknown ELF byte order")?;
        let segments = header
            .program_headers(endian, data)
            .map_err(|_| "its program headers run past the end of the file")?;
        let mut elf = Self {
            endian,
            machine: header.e_machine(endian).0,
            interpreter: None,
            dynamic: Vec::new(),
            loads: Vec::new(),
        };
        let mut seen_dynamic = false;
        for segment in segments {
            let interp = segment
                .interpreter(endian, data)
                .map_err(|_| "its PT_INTERP segment is outside the file or not terminated")?;
            if elf.interpreter.is_none() {
                elf.interpreter = interp;
            }
            let dynamic = segment
                .dynamic(endian, data)
                .map_err(|_| "its PT_DYNAMIC segment is outside the file")?;
            if let Some(entries) = dynamic.filter(|_| !seen_dynamic) {
                seen_dynamic = true;
                elf.dynamic = entries
                    .iter()
                    .take(MAX_LINKS)
                    .map(|d| (d.tag(endian), d.val(endian)))
                    .take_while(|&(tag, _)| tag != elf::DT_NULL)
                    .collect();
            }
            if segment.p_type(endian) == elf::PT_LOAD {
                let bytes = segment
                    .data(endian, data)
                    .map_err(|()| "a PT_LOAD segment runs past the end of the file")?;
                elf.loads.push((segment.p_vaddr(endian).into(), bytes));
            }
        }
        Ok(elf)
    }

    /// The values of every dynamic entry tagged `tag`.
    fn values(&self, tag: DynamicTag) -> impl Iterator<Item = u64> + '_ {
        self.dynamic
            .iter()
            .filter(move |&&(t, _)| t == tag)
            .map(|&(_, v)| v)
    }

    /// The first dynamic entry tagged `tag`.
    fn value(&self, tag: DynamicTag) -> Option<u64> {
        self.values(tag).next()
    }

    /// The file's bytes from a virtual address to the end of the `PT_LOAD` segment mapping it.
    fn at_address(&self, vaddr: u64) -> Option<&'a [u8]> {
        self.loads.iter().find_map(|&(start, bytes)| {
            let offset = usize::try_from(vaddr.checked_sub(start)?).ok()?;
            bytes.get(offset..).filter(|rest| !rest.is_empty())
        })
    }

    /// The dynamic string table (`DT_STRTAB`, `DT_STRSZ` when given).
    fn strings(&self) -> Option<StringTable<'a>> {
        let table = self.at_address(self.value(elf::DT_STRTAB)?)?;
        let len = self
            .value(elf::DT_STRSZ)
            .map_or(table.len() as u64, |size| size.min(table.len() as u64));
        Some(StringTable::new(table, 0, len))
    }
}

/// The string at `offset` of a string table.
fn string(strings: &StringTable<'_>, offset: u64) -> Result<String, &'static str> {
    let offset = u32::try_from(offset).map_err(|_| "offset too large")?;
    strings
        .get(offset)
        .map(|s| String::from_utf8_lossy(s).into_owned())
        .map_err(|()| "a string is outside its table or not terminated")
}

/// Names of every version in the `Elf_Verneed`/`Elf_Vernaux` chains starting at `data` (the
/// same layout in ELF32 and ELF64).
fn version_needs(
    endian: Endianness,
    data: &[u8],
    count: u64,
    strings: &StringTable<'_>,
) -> Result<Vec<String>, &'static str> {
    const OUTSIDE: &str = "a version need record is outside its segment";
    let get16 = |v: &U16<Endianness>| v.get(endian);
    let get32 = |v: &U32<Endianness>| usize::try_from(v.get(endian)).unwrap_or(usize::MAX);
    let mut names = Vec::new();
    let mut need_at = 0usize;
    for _ in 0..count.min(MAX_LINKS as u64) {
        let need = Bytes(data)
            .read_at::<elf::Verneed<Endianness>>(need_at)
            .map_err(|()| OUTSIDE)?;
        let mut aux_at = need_at.checked_add(get32(&need.vn_aux)).ok_or(OUTSIDE)?;
        for _ in 0..get16(&need.vn_cnt).min(MAX_LINKS as u16) {
            let aux = Bytes(data)
                .read_at::<elf::Vernaux<Endianness>>(aux_at)
                .map_err(|()| OUTSIDE)?;
            names.push(string(strings, aux.vna_name.get(endian).into())?);
            let next = get32(&aux.vna_next);
            if next == 0 {
                break;
            }
            aux_at = aux_at.checked_add(next).ok_or(OUTSIDE)?;
        }
        let next = get32(&need.vn_next);
        if next == 0 {
            break;
        }
        need_at = need_at.checked_add(next).ok_or(OUTSIDE)?;
    }
    Ok(names)
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

    /// Whether rustup installed `target`'s standard library; without it the test says so, and
    /// fails under `CI=true`.
    #[allow(clippy::disallowed_methods, clippy::print_stderr)] // a test's skip note, as tools::require_tool
    fn has_target(target: &str) -> bool {
        let out = Command::new("rustc")
            .args(["--print", "target-libdir", "--target", target])
            .output()
            .unwrap();
        let found =
            out.status.success() && Path::new(String::from_utf8_lossy(&out.stdout).trim()).is_dir();
        if !found {
            assert!(
                std::env::var_os("CI").is_none_or(|v| v != "true"),
                "the `{target}` target is not installed (rustup target add {target})"
            );
            eprintln!("skipped: the `{target}` target is not installed");
        }
        found
    }

    #[test]
    #[cfg(all(target_os = "linux", target_arch = "x86_64"))]
    fn a_musl_static_pie_is_static_and_a_gnu_binary_is_not() {
        if !has_target("x86_64-unknown-linux-musl") {
            return;
        }
        let dir = tempfile::tempdir().unwrap();
        let musl = compile(
            dir.path(),
            "musl",
            &["--target", "x86_64-unknown-linux-musl"],
        );
        let bytes = std::fs::read(&musl).unwrap();
        let linkage = linkage(&bytes).unwrap();
        assert!(linkage.is_static(), "{linkage:?}");
        assert_eq!(min_glibc(&bytes).unwrap(), None);
        // 62 is EM_X86_64.
        assert_eq!(machine_and_static(&bytes).unwrap(), (62, true));

        let gnu = compile(dir.path(), "gnu", &["--target", "x86_64-unknown-linux-gnu"]);
        let bytes = std::fs::read(&gnu).unwrap();
        assert_eq!(machine_and_static(&bytes).unwrap(), (62, false));
        assert!(min_glibc(&bytes).unwrap().is_some());
    }

    #[test]
    fn refuses_truncated_and_foreign_files() {
        let dir = tempfile::tempdir().unwrap();
        let binary = std::fs::read(compile(dir.path(), "host", &[])).unwrap();
        // The header alone: its program headers are past the end.
        assert!(linkage(&binary[..64]).is_err());
        assert!(machine_and_static(&binary[..64]).is_err());
        // A Mach-O header is an executable, but not ELF.
        assert!(linkage(b"\xcf\xfa\xed\xfe\x07\x00\x00\x01").is_err());
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
