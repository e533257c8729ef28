//! The dynamic libraries a Mach-O executable (macOS) loads, read from its load commands.
//!
//! A macOS build can link a library the build machine has but users do not (Homebrew's
//! `/opt/homebrew/lib/libssl.3.dylib`, say); the binary then fails at launch on every other Mac.
//! [`foreign_libraries`] lists every library an executable loads from outside `/usr/lib/` and
//! `/System/` (the only places every Mac has), so `validate` can refuse it. Thin 32/64-bit
//! images and universal (fat) files are read; nothing else is interpreted.

/// Where every Mac has its libraries.
const SYSTEM_PREFIXES: &[&str] = &["/usr/lib/", "/System/"];

const MH_MAGIC: u32 = 0xfeed_face;
const MH_MAGIC_64: u32 = 0xfeed_facf;
const FAT_MAGIC: u32 = 0xcafe_babe;
const FAT_MAGIC_64: u32 = 0xcafe_babf;

/// Load commands that name a library to load (`LC_LOAD_DYLIB`, weak, re-export, lazy, upward).
const DYLIB_COMMANDS: &[u32] = &[0xc, 0x8000_0018, 0x8000_001f, 0x20, 0x8000_0023];

/// Whether the first bytes are those of a Mach-O image or universal file.
pub fn is_macho(head: &[u8]) -> bool {
    let Some(bytes) = head.get(..4) else {
        return false;
    };
    let be = u32::from_be_bytes([bytes[0], bytes[1], bytes[2], bytes[3]]);
    let le = u32::from_le_bytes([bytes[0], bytes[1], bytes[2], bytes[3]]);
    [MH_MAGIC, MH_MAGIC_64, FAT_MAGIC, FAT_MAGIC_64].contains(&be)
        || [MH_MAGIC, MH_MAGIC_64].contains(&le)
}

/// The libraries `data` loads from outside the system locations, or `Err` with a reason when it
/// is a Mach-O file that cannot be read (a truncated or malformed header is refused too).
pub fn foreign_libraries(data: &[u8]) -> Result<Vec<String>, String> {
    let mut out = Vec::new();
    for lib in libraries(data)? {
        if !SYSTEM_PREFIXES.iter().any(|p| lib.starts_with(p)) && !out.contains(&lib) {
            out.push(lib);
        }
    }
    Ok(out)
}

/// Every library each image in `data` loads.
fn libraries(data: &[u8]) -> Result<Vec<String>, String> {
    let magic_be = read_u32(data, 0, true).ok_or("shorter than a Mach-O header")?;
    if magic_be == FAT_MAGIC || magic_be == FAT_MAGIC_64 {
        let wide = magic_be == FAT_MAGIC_64;
        let count = read_u32(data, 4, true).ok_or("truncated universal header")?;
        let entry_size = if wide { 32 } else { 20 };
        let mut libs = Vec::new();
        for i in 0..count as usize {
            let at = 8 + i * entry_size;
            let offset = if wide {
                read_u64(data, at + 8, true)
            } else {
                read_u32(data, at + 8, true).map(u64::from)
            }
            .ok_or("truncated universal header")?;
            let slice = usize::try_from(offset)
                .ok()
                .and_then(|o| data.get(o..))
                .ok_or("a universal slice lies outside the file")?;
            libs.extend(image_libraries(slice)?);
        }
        return Ok(libs);
    }
    image_libraries(data)
}

/// The libraries one thin image loads.
fn image_libraries(data: &[u8]) -> Result<Vec<String>, String> {
    let (big_endian, header_size) = match (read_u32(data, 0, false), read_u32(data, 0, true)) {
        (Some(MH_MAGIC_64), _) => (false, 32),
        (Some(MH_MAGIC), _) => (false, 28),
        (_, Some(MH_MAGIC_64)) => (true, 32),
        (_, Some(MH_MAGIC)) => (true, 28),
        _ => return Err("not a Mach-O image".into()),
    };
    let ncmds = read_u32(data, 16, big_endian).ok_or("truncated Mach-O header")?;
    let mut at = header_size;
    let mut libs = Vec::new();
    for _ in 0..ncmds {
        let cmd = read_u32(data, at, big_endian).ok_or("truncated load command")?;
        let size = read_u32(data, at + 4, big_endian).ok_or("truncated load command")? as usize;
        if size < 8 {
            return Err("a load command is shorter than its header".into());
        }
        let command = data.get(at..at + size).ok_or("truncated load command")?;
        if DYLIB_COMMANDS.contains(&cmd) {
            let name_at = read_u32(command, 8, big_endian).ok_or("truncated dylib command")?;
            let name = command
                .get(name_at as usize..)
                .ok_or("a library name lies outside its command")?;
            let end = name.iter().position(|&b| b == 0).unwrap_or(name.len());
            libs.push(String::from_utf8_lossy(&name[..end]).into_owned());
        }
        at += size;
    }
    Ok(libs)
}

fn read_u32(data: &[u8], at: usize, big_endian: bool) -> Option<u32> {
    let b: [u8; 4] = data.get(at..at.checked_add(4)?)?.try_into().ok()?;
    Some(if big_endian {
        u32::from_be_bytes(b)
    } else {
        u32::from_le_bytes(b)
    })
}

fn read_u64(data: &[u8], at: usize, big_endian: bool) -> Option<u64> {
    let b: [u8; 8] = data.get(at..at.checked_add(8)?)?.try_into().ok()?;
    Some(if big_endian {
        u64::from_be_bytes(b)
    } else {
        u64::from_le_bytes(b)
    })
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    /// A minimal 64-bit little-endian Mach-O executable loading `libs`, byte by byte: the
    /// header, then one `LC_LOAD_DYLIB` per library (name at offset 24, padded to 8 bytes).
    pub(crate) fn macho_loading(libs: &[&str]) -> Vec<u8> {
        let mut cmds = Vec::new();
        for lib in libs {
            let size = (24 + lib.len() + 1).div_ceil(8) * 8;
            let mut c = Vec::new();
            for word in [0xc_u32, size as u32, 24, 2, 0x0001_0000, 0x0001_0000] {
                c.extend_from_slice(&word.to_le_bytes());
            }
            c.extend_from_slice(lib.as_bytes());
            c.resize(size, 0);
            cmds.extend(c);
        }
        let mut out = Vec::new();
        // magic, cputype (arm64), cpusubtype, filetype (MH_EXECUTE), ncmds, sizeofcmds, flags,
        // reserved.
        let header = [
            MH_MAGIC_64,
            0x0100_000c,
            0,
            2,
            libs.len() as u32,
            cmds.len() as u32,
            0,
            0,
        ];
        for word in header {
            out.extend_from_slice(&word.to_le_bytes());
        }
        out.extend(cmds);
        out
    }

    #[test]
    fn lists_libraries_outside_the_system_locations() {
        let ok = macho_loading(&[
            "/usr/lib/libSystem.B.dylib",
            "/System/Library/Frameworks/Security.framework/Versions/A/Security",
        ]);
        assert!(is_macho(&ok));
        assert_eq!(foreign_libraries(&ok).unwrap(), Vec::<String>::new());
        let brew = macho_loading(&[
            "/usr/lib/libSystem.B.dylib",
            "/opt/homebrew/opt/openssl@3/lib/libssl.3.dylib",
            "@rpath/libfoo.dylib",
        ]);
        assert_eq!(
            foreign_libraries(&brew).unwrap(),
            [
                "/opt/homebrew/opt/openssl@3/lib/libssl.3.dylib",
                "@rpath/libfoo.dylib"
            ]
        );
    }

    #[test]
    fn reads_universal_files_and_refuses_truncated_ones() {
        let slice = macho_loading(&["/usr/local/lib/libz.1.dylib"]);
        let mut fat = Vec::new();
        for word in [FAT_MAGIC, 1, 0x0100_000c, 0, 64, slice.len() as u32, 0] {
            fat.extend_from_slice(&word.to_be_bytes());
        }
        fat.resize(64, 0);
        fat.extend_from_slice(&slice);
        assert!(is_macho(&fat));
        assert_eq!(
            foreign_libraries(&fat).unwrap(),
            ["/usr/local/lib/libz.1.dylib"]
        );
        let truncated = &slice[..slice.len() - 8];
        assert!(foreign_libraries(truncated).is_err());
        assert!(!is_macho(b"\x7fELF"));
    }
}
