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
