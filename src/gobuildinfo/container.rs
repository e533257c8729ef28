//! Where Go's build info lives in an ELF, Mach-O or PE container: the file offset of the data
//! region Go's `debug/buildinfo` searches (`DataStart`), found with the `object` crate's readers.
//!
//! Binary-format parsing of untrusted files is where a maintained, fuzzed parser removes risk, so
//! the headers, section tables and load commands are read by `object`; this module only chooses
//! which section or segment Go's reader would use. `object` checks every offset against the
//! input's length; on top of that each table is capped at [`MAX_TABLE`] bytes *before* it is
//! read, so a hostile header cannot make a reader over a file allocate what it declares. A
//! container whose headers do not parse counts as not a Go binary.

use object::read::elf::{FileHeader, ProgramHeader as _, SectionHeader as _};
use object::read::macho::{MachHeader, Section as _, Segment as _};
use object::read::pe::ImageNtHeaders;
use object::read::{FileKind, ReadRef, StringTable};
use object::{Endianness, LittleEndian as LE, elf, macho, pe};

/// Cap on one header table read from a container (section headers, program headers, section
/// names, load commands): far above any real binary's, far below a hostile declared size.
pub(super) const MAX_TABLE: u64 = 16 * 1024 * 1024;

/// Where to look for the build info header.
#[derive(Debug, PartialEq, Eq)]
pub(super) enum Region {
    /// A known container: search the first 64 KiB from this file offset.
    At(u64),
    /// A known container with no data region (or headers that do not parse): not a Go binary.
    Nothing,
    /// An unknown container: scan the whole input, aligned to its start.
    Scan,
}

/// Finds the data region of `data` (a slice, or a `ReadCache` over a file).
pub(super) fn locate<'a, R: ReadRef<'a>>(data: R) -> Region {
    let start = match FileKind::parse(data) {
        Ok(FileKind::Elf32) => elf_data::<elf::FileHeader32<Endianness>, R>(data),
        Ok(FileKind::Elf64) => elf_data::<elf::FileHeader64<Endianness>, R>(data),
        Ok(FileKind::MachO32) => macho_data::<macho::MachHeader32<Endianness>, R>(data),
        Ok(FileKind::MachO64) => macho_data::<macho::MachHeader64<Endianness>, R>(data),
        Ok(FileKind::Pe32) => pe_data::<pe::ImageNtHeaders32, R>(data),
        Ok(FileKind::Pe64) => pe_data::<pe::ImageNtHeaders64, R>(data),
        // Unknown magic, or too short to tell: Go's reader gives up; scanning finds nothing in
        // what is not a Go binary and keeps odd wrappers readable.
        _ => return Region::Scan,
    };
    start.map_or(Region::Nothing, Region::At)
}

/// Whether `count` entries of `T` fit under [`MAX_TABLE`].
fn table_fits<T>(count: u32) -> bool {
    u64::from(count).saturating_mul(size_of::<T>() as u64) <= MAX_TABLE
}

/// ELF: the `.go.buildinfo` section, else the first writable, non-executable `PT_LOAD` segment.
fn elf_data<'a, Elf, R>(data: R) -> Option<u64>
where
    Elf: FileHeader<Endian = Endianness>,
    R: ReadRef<'a>,
{
    let header = Elf::parse(data).ok()?;
    let endian = header.endian().ok()?;
    if let Some(offset) = elf_section(header, endian, data) {
        return Some(offset);
    }
    let count = header.phnum(endian, data).ok()?;
    if !table_fits::<Elf::ProgramHeader>(count) {
        return None;
    }
    let writable = elf::PF_W | elf::PF_X;
    header
        .program_headers(endian, data)
        .ok()?
        .iter()
        .find(|p| p.p_type(endian) == elf::PT_LOAD && p.p_flags(endian) & writable == elf::PF_W)
        .map(|p| p.p_offset(endian).into())
}

/// The file offset of the `.go.buildinfo` section, if the section table names one.
fn elf_section<'a, Elf, R>(header: &Elf, endian: Endianness, data: R) -> Option<u64>
where
    Elf: FileHeader<Endian = Endianness>,
    R: ReadRef<'a>,
{
    if !table_fits::<Elf::SectionHeader>(header.shnum(endian, data).ok()?) {
        return None;
    }
    let sections = header.section_headers(endian, data).ok()?;
    let index = usize::try_from(header.shstrndx(endian, data).ok()?).ok()?;
    // The names are read once, capped, rather than name by name through a file cache.
    let (offset, size) = sections.get(index)?.file_range(endian)?;
    if size > MAX_TABLE {
        return None;
    }
    let names = StringTable::new(data.read_bytes_at(offset, size).ok()?, 0, size);
    sections
        .iter()
        .find(|s| names.get(s.sh_name(endian)) == Ok(b".go.buildinfo"))
        .map(|s| s.sh_offset(endian).into())
}

/// Mach-O: the `__go_buildinfo` section, else the first non-empty read-write segment.
fn macho_data<'a, Mach, R>(data: R) -> Option<u64>
where
    Mach: MachHeader<Endian = Endianness>,
    R: ReadRef<'a>,
{
    let header = Mach::parse(data, 0).ok()?;
    let endian = header.endian().ok()?;
    if u64::from(header.sizeofcmds(endian)) > MAX_TABLE {
        return None;
    }
    let mut commands = header.load_commands(endian, data, 0).ok()?;
    let read_write = macho::VM_PROT_READ | macho::VM_PROT_WRITE;
    let mut segment_start = None;
    while let Ok(Some(command)) = commands.next() {
        let Ok(Some((segment, section_data))) = Mach::Segment::from_command(command) else {
            continue;
        };
        // `object` refuses a section count the command cannot hold.
        let sections = segment.sections(endian, section_data).unwrap_or_default();
        if let Some(section) = sections
            .iter()
            .find(|s| s.sectname().starts_with(b"__go_buildinfo"))
        {
            return Some(section.offset(endian).into());
        }
        if segment_start.is_none()
            && segment.vmaddr(endian).into() != 0
            && segment.filesize(endian).into() != 0
            && segment.maxprot(endian) == read_write
            && segment.initprot(endian) == read_write
        {
            segment_start = Some(segment.fileoff(endian).into());
        }
    }
    segment_start
}

/// PE: the first initialized, read-write data section (normally `.data`).
fn pe_data<'a, Pe, R>(data: R) -> Option<u64>
where
    Pe: ImageNtHeaders,
    R: ReadRef<'a>,
{
    let mut offset = pe::ImageDosHeader::parse(data)
        .ok()?
        .nt_headers_offset()
        .into();
    let (nt_headers, _) = Pe::parse(data, &mut offset).ok()?;
    // At most 65,535 headers of 40 bytes: under the cap by construction.
    let sections = nt_headers.sections(data, offset).ok()?;
    let wanted =
        pe::IMAGE_SCN_CNT_INITIALIZED_DATA | pe::IMAGE_SCN_MEM_READ | pe::IMAGE_SCN_MEM_WRITE;
    sections
        .iter()
        .find(|s| {
            s.virtual_address.get(LE) != 0
                && s.size_of_raw_data.get(LE) != 0
                && s.characteristics.get(LE).with_align(pe::SectionFlags(0)) == wanted
        })
        .map(|s| s.pointer_to_raw_data.get(LE).into())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::gobuildinfo::parse_build_info;
    use object::read::ReadCache;
    use std::cell::Cell;
    use std::io::{self, Read, Seek, SeekFrom};
    use std::rc::Rc;

    /// A 64-bit little-endian ELF header: `(phoff, phnum, shoff, shnum, shstrndx)`.
    fn elf64(phoff: u64, phnum: u16, shoff: u64, shnum: u16, shstrndx: u16) -> Vec<u8> {
        let mut h = vec![0u8; 64];
        h[..7].copy_from_slice(b"\x7fELF\x02\x01\x01");
        h[16..18].copy_from_slice(&2u16.to_le_bytes()); // ET_EXEC
        h[18..20].copy_from_slice(&62u16.to_le_bytes()); // EM_X86_64
        h[20..24].copy_from_slice(&1u32.to_le_bytes());
        h[32..40].copy_from_slice(&phoff.to_le_bytes());
        h[40..48].copy_from_slice(&shoff.to_le_bytes());
        h[52..54].copy_from_slice(&64u16.to_le_bytes());
        h[54..56].copy_from_slice(&56u16.to_le_bytes());
        h[56..58].copy_from_slice(&phnum.to_le_bytes());
        h[58..60].copy_from_slice(&64u16.to_le_bytes());
        h[60..62].copy_from_slice(&shnum.to_le_bytes());
        h[62..64].copy_from_slice(&shstrndx.to_le_bytes());
        h
    }

    /// A writable, non-executable `PT_LOAD` program header at file offset `offset`.
    fn writable_load(offset: u64) -> Vec<u8> {
        let mut p = vec![0u8; 56];
        p[..4].copy_from_slice(&1u32.to_le_bytes()); // PT_LOAD
        p[4..8].copy_from_slice(&6u32.to_le_bytes()); // PF_R | PF_W
        p[8..16].copy_from_slice(&offset.to_le_bytes());
        p
    }

    /// A 64-bit little-endian Mach-O header declaring `ncmds` commands in `sizeofcmds` bytes.
    fn macho64(ncmds: u32, sizeofcmds: u32) -> Vec<u8> {
        let mut h = vec![0u8; 32];
        h[..4].copy_from_slice(&[0xcf, 0xfa, 0xed, 0xfe]);
        h[4..8].copy_from_slice(&0x0100_0007u32.to_le_bytes()); // x86_64
        h[12..16].copy_from_slice(&2u32.to_le_bytes()); // MH_EXECUTE
        h[16..20].copy_from_slice(&ncmds.to_le_bytes());
        h[20..24].copy_from_slice(&sizeofcmds.to_le_bytes());
        h
    }

    #[test]
    fn truncated_container_headers_are_not_go_binaries() {
        let elf = elf64(64, 1, 0, 0, 0);
        let macho = macho64(1, 72);
        for whole in [&elf[..], &macho[..]] {
            for cut in 0..whole.len() {
                assert_eq!(
                    parse_build_info(&whole[..cut]).unwrap(),
                    None,
                    "cut at {cut}"
                );
            }
        }
        // Whole headers whose tables are missing: a known container without a data region.
        assert_eq!(locate(&elf[..]), Region::Nothing);
        assert_eq!(locate(&macho[..]), Region::Nothing);
        let mut pe = b"MZ".to_vec();
        pe.resize(0x40, 0);
        pe[0x3c..0x40].copy_from_slice(&0x40u32.to_le_bytes());
        pe.extend(b"PE\0\0");
        for cut in 0..pe.len() {
            assert_eq!(parse_build_info(&pe[..cut]).unwrap(), None, "cut at {cut}");
        }
    }

    #[test]
    fn offsets_past_the_end_are_a_clean_none() {
        // Section table far past the end (and at an offset that overflows when added to).
        for shoff in [1 << 40, u64::MAX - 8] {
            let bytes = elf64(0, 0, shoff, 3, 1);
            assert_eq!(locate(&bytes[..]), Region::Nothing);
            assert_eq!(parse_build_info(&bytes).unwrap(), None);
        }
        // Program headers past the end.
        let bytes = elf64(1 << 40, 1, 0, 0, 0);
        assert_eq!(locate(&bytes[..]), Region::Nothing);
        // A data segment that claims to start past the end: located, then nothing to read there.
        let mut bytes = elf64(64, 1, 0, 0, 0);
        bytes.extend(writable_load(u64::MAX - 8));
        assert_eq!(locate(&bytes[..]), Region::At(u64::MAX - 8));
        assert_eq!(parse_build_info(&bytes).unwrap(), None);
        // Mach-O load commands that run past the end.
        let bytes = macho64(4, 4096);
        assert_eq!(locate(&bytes[..]), Region::Nothing);
        assert_eq!(parse_build_info(&bytes).unwrap(), None);
    }

    /// A file `len` bytes long (without the disk): `head`, then zeros; counts the bytes read.
    struct Sparse {
        head: Vec<u8>,
        len: u64,
        at: u64,
        read: Rc<Cell<u64>>,
    }

    impl Read for Sparse {
        fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
            let n = buf
                .len()
                .min(usize::try_from(self.len - self.at).unwrap_or(usize::MAX));
            for (i, b) in buf[..n].iter_mut().enumerate() {
                let at = usize::try_from(self.at).unwrap() + i;
                *b = self.head.get(at).copied().unwrap_or(0);
            }
            self.at += n as u64;
            self.read.set(self.read.get() + n as u64);
            Ok(n)
        }
    }

    impl Seek for Sparse {
        fn seek(&mut self, pos: SeekFrom) -> io::Result<u64> {
            // `ReadCache` asks for the start of a read, and the end for the length.
            self.at = match pos {
                SeekFrom::Start(at) => at,
                SeekFrom::End(back) => self.len.saturating_add_signed(back),
                SeekFrom::Current(by) => self.at.saturating_add_signed(by),
            };
            Ok(self.at)
        }
    }

    /// Locates through a `ReadCache`, as for a file; returns the region and the bytes read.
    fn locate_in_file(head: Vec<u8>, len: u64) -> (Region, u64) {
        let read = Rc::new(Cell::new(0));
        let file = Sparse {
            head,
            len,
            at: 0,
            read: Rc::clone(&read),
        };
        let cache = ReadCache::new(file);
        let region = locate(&cache);
        (region, read.get())
    }

    #[test]
    fn huge_declared_tables_are_refused_before_they_are_read() {
        const GIB: u64 = 1 << 30;
        // Mach-O: 4 GiB of load commands, in a 5 GiB file.
        let (region, read) = locate_in_file(macho64(1, u32::MAX), 5 * GIB);
        assert_eq!(region, Region::Nothing);
        assert!(read < 4096, "read {read} bytes");
        // Just over the cap, in a file that holds it: still refused unread.
        let over = u32::try_from(MAX_TABLE).unwrap() + 8;
        let (region, read) = locate_in_file(macho64(1, over), 2 * MAX_TABLE);
        assert_eq!(region, Region::Nothing);
        assert!(read < 4096, "read {read} bytes");
        // ELF: the section count from section 0 (`e_shnum == 0`): 2^32 - 1 sections of 64
        // bytes; with no program headers either, nothing is left.
        let mut elf = elf64(0, 0, 64, 0, 0);
        let mut section_0 = vec![0u8; 64];
        section_0[32..40].copy_from_slice(&u64::from(u32::MAX).to_le_bytes()); // sh_size
        elf.extend(section_0);
        let (region, read) = locate_in_file(elf, 300 * GIB);
        assert_eq!(region, Region::Nothing);
        assert!(read < 4096, "read {read} bytes");
        // ELF: a section name table over the cap is skipped; the data segment still answers.
        let mut elf = elf64(64, 1, 128, 1, 0);
        elf.extend(writable_load(4096));
        elf.resize(128, 0);
        let mut names = vec![0u8; 64];
        names[4..8].copy_from_slice(&3u32.to_le_bytes()); // SHT_STRTAB
        names[24..32].copy_from_slice(&0u64.to_le_bytes()); // sh_offset
        names[32..40].copy_from_slice(&(MAX_TABLE + 1).to_le_bytes()); // sh_size
        elf.extend(names);
        let (region, read) = locate_in_file(elf, 2 * MAX_TABLE);
        assert_eq!(region, Region::At(4096));
        assert!(read < 4096, "read {read} bytes");
    }
}
