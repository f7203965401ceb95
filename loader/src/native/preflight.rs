//! Checks a file before the dynamic loader maps it.
//!
//! `dlopen` of a truncated ELF file maps segments past the end of the file, and the first
//! touch of those pages kills the process with SIGBUS: no error is ever returned. So the
//! file's own tables are checked against its length first. Non-ELF files are left to the
//! platform loader, which refuses them with an ordinary error.

use std::io::{self, Read, Seek, SeekFrom};
use std::path::Path;

const PT_LOAD: u32 = 1;

/// Fails if `path` is an ELF file whose headers or loadable segments lie beyond its end.
pub(crate) fn check(path: &Path) -> Result<(), String> {
    let mut file = std::fs::File::open(path).map_err(|e| format!("cannot open: {e}"))?;
    let len = file.metadata().map_err(|e| e.to_string())?.len();
    check_image(&mut file, len)
}

/// [`check`] of a file already open, `len` bytes long. (The fuzz target `elf_preflight`
/// includes this module by path and calls it on its input.)
pub(crate) fn check_image(file: &mut (impl Read + Seek), len: u64) -> Result<(), String> {
    let mut ident = [0u8; 64];
    let n = read_up_to(file, &mut ident).map_err(|e| e.to_string())?;
    if n < 4 || &ident[..4] != b"\x7fELF" {
        return Ok(());
    }
    let elf = Elf::parse(&ident[..n]).ok_or("a truncated ELF header")?;
    let table_end =
        |offset: u64, entry: u64, count: u64| offset.checked_add(entry.checked_mul(count)?);
    let ph_end = table_end(elf.phoff, elf.phentsize, elf.phnum)
        .ok_or("an impossible program header table")?;
    if ph_end > len {
        return Err(format!(
            "truncated: its program headers end at byte {ph_end}, the file at {len}"
        ));
    }
    let sh_end = table_end(elf.shoff, elf.shentsize, elf.shnum)
        .ok_or("an impossible section header table")?;
    if elf.shnum > 0 && sh_end > len {
        return Err(format!(
            "truncated: its section headers end at byte {sh_end}, the file at {len}"
        ));
    }
    let mut header = vec![0u8; usize::try_from(elf.phentsize).map_err(|e| e.to_string())?];
    for i in 0..elf.phnum {
        file.seek(SeekFrom::Start(elf.phoff + i * elf.phentsize))
            .map_err(|e| e.to_string())?;
        file.read_exact(&mut header).map_err(|e| e.to_string())?;
        let (kind, offset, size) = elf.segment(&header).ok_or("a malformed program header")?;
        let end = offset
            .checked_add(size)
            .ok_or("a segment beyond any file size")?;
        if kind == PT_LOAD && end > len {
            return Err(format!(
                "truncated: a loadable segment ends at byte {end}, the file at {len}"
            ));
        }
    }
    Ok(())
}

fn read_up_to(file: &mut impl Read, buf: &mut [u8]) -> io::Result<usize> {
    let mut filled = 0;
    while filled < buf.len() {
        match file.read(&mut buf[filled..])? {
            0 => break,
            n => filled += n,
        }
    }
    Ok(filled)
}

/// The few ELF header fields the check needs.
struct Elf {
    wide: bool,
    little: bool,
    phoff: u64,
    phentsize: u64,
    phnum: u64,
    shoff: u64,
    shentsize: u64,
    shnum: u64,
}

impl Elf {
    fn parse(h: &[u8]) -> Option<Self> {
        let wide = match h.get(4)? {
            1 => false,
            2 => true,
            _ => return None,
        };
        let little = match h.get(5)? {
            1 => true,
            2 => false,
            _ => return None,
        };
        let r = Reader { bytes: h, little };
        Some(if wide {
            Self {
                wide,
                little,
                phoff: r.u64(0x20)?,
                shoff: r.u64(0x28)?,
                phentsize: r.u16(0x36)?.into(),
                phnum: r.u16(0x38)?.into(),
                shentsize: r.u16(0x3A)?.into(),
                shnum: r.u16(0x3C)?.into(),
            }
        } else {
            Self {
                wide,
                little,
                phoff: r.u32(0x1C)?.into(),
                shoff: r.u32(0x20)?.into(),
                phentsize: r.u16(0x2A)?.into(),
                phnum: r.u16(0x2C)?.into(),
                shentsize: r.u16(0x2E)?.into(),
                shnum: r.u16(0x30)?.into(),
            }
        })
    }

    /// Type, file offset and file size of a program header.
    fn segment(&self, h: &[u8]) -> Option<(u32, u64, u64)> {
        let r = Reader {
            bytes: h,
            little: self.little,
        };
        if self.wide {
            Some((r.u32(0)?, r.u64(8)?, r.u64(0x20)?))
        } else {
            Some((r.u32(0)?, r.u32(4)?.into(), r.u32(0x10)?.into()))
        }
    }
}

struct Reader<'a> {
    bytes: &'a [u8],
    little: bool,
}

impl Reader<'_> {
    fn take<const N: usize>(&self, at: usize) -> Option<[u8; N]> {
        self.bytes.get(at..at + N)?.try_into().ok()
    }

    fn u16(&self, at: usize) -> Option<u16> {
        let b = self.take(at)?;
        Some(if self.little {
            u16::from_le_bytes(b)
        } else {
            u16::from_be_bytes(b)
        })
    }

    fn u32(&self, at: usize) -> Option<u32> {
        let b = self.take(at)?;
        Some(if self.little {
            u32::from_le_bytes(b)
        } else {
            u32::from_be_bytes(b)
        })
    }

    fn u64(&self, at: usize) -> Option<u64> {
        let b = self.take(at)?;
        Some(if self.little {
            u64::from_le_bytes(b)
        } else {
            u64::from_be_bytes(b)
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn this_test_binary_passes_and_its_truncations_fail() {
        let me = std::env::current_exe().unwrap();
        let bytes = std::fs::read(&me).unwrap();
        if !bytes.starts_with(b"\x7fELF") {
            return; // Not an ELF platform: nothing to check here.
        }
        assert_eq!(check(&me), Ok(()));
        let dir = std::env::temp_dir().join(format!("tonearm-preflight-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        for keep in [bytes.len() / 2, 100, 64, 10] {
            let cut = dir.join(format!("cut-{keep}"));
            std::fs::write(&cut, &bytes[..keep]).unwrap();
            let err = check(&cut).unwrap_err();
            assert!(err.contains("truncated"), "{keep}: {err}");
        }
        let text = dir.join("text");
        std::fs::write(&text, b"just text").unwrap();
        assert_eq!(
            check(&text),
            Ok(()),
            "non-ELF files are the platform loader's to refuse"
        );
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
