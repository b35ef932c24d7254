//! Loading a bare-metal program: an **ELF** file `--kernel` is loaded segment by segment at the
//! segments' physical addresses, and the CPU starts at its entry point (bit 0 set: Thumb), in
//! Supervisor mode with the MMU off, as QEMU does for `-kernel prog.elf`. (Anything else is a
//! Linux kernel: see [`crate::boot`].)
//!
//! A missing, empty or malformed file, or one that does not fit in memory, is an error with a
//! one-line message.

use crate::error::MachineError;
use armvex_bus::PhysicalMemory;
use goblin::elf::{Elf, program_header::PT_LOAD};
use std::path::Path;

/// What the loader put in memory.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LoadedImage {
    /// Where the CPU starts (bit 0 set for Thumb).
    pub entry: u32,
    /// The physical ranges written, as (start, end).
    pub ranges: Vec<(u32, u32)>,
    /// True for an ELF program; false for a Linux boot.
    pub elf: bool,
}

/// True if `path` is an ELF file (a bare-metal program); errors if it cannot be read or is
/// empty.
pub fn is_elf(path: &Path) -> Result<bool, MachineError> {
    use std::io::Read;
    let shown = path.display();
    crate::files::check(path, "kernel", crate::files::MAX_IMAGE)?;
    let mut f = std::fs::File::open(path).map_err(|e| format!("cannot read kernel {shown}: {e}"))?;
    let mut magic = [0u8; 4];
    let n = f
        .read(&mut magic)
        .map_err(|e| format!("cannot read kernel {shown}: {e}"))?;
    if n == 0 {
        return Err(format!("kernel {shown} is empty").into());
    }
    Ok(n == 4 && &magic == b"\x7fELF")
}

/// Read and load the ELF program `path`.
pub fn load_elf_program(path: &Path, memory: &mut PhysicalMemory) -> Result<LoadedImage, MachineError> {
    let shown = path.display();
    let data = crate::files::read(path, "kernel", crate::files::MAX_IMAGE)?;
    Ok(load_elf(&data, memory).map_err(|e| format!("kernel {shown}: {e}"))?)
}

fn load_elf(data: &[u8], memory: &mut PhysicalMemory) -> Result<LoadedImage, String> {
    // The class and byte order first, from the identification bytes: a clearer message than
    // what a parse of another kind of ELF file says.
    match (data.get(4), data.get(5)) {
        (Some(2), _) => return Err("a 64-bit ELF file; armvex runs 32-bit ARM programs".into()),
        (_, Some(2)) => return Err("a big-endian ELF file; armvex runs little-endian ARM programs".into()),
        _ => {}
    }
    let elf = Elf::parse(data).map_err(|e| format!("not a valid ELF file ({e})"))?;
    if elf.is_64 || elf.header.e_machine != goblin::elf::header::EM_ARM {
        return Err(format!(
            "not an ARM ELF file (machine {}); armvex runs 32-bit ARM programs",
            elf.header.e_machine
        ));
    }
    if !elf.little_endian {
        return Err("a big-endian ELF file; armvex runs little-endian ARM programs".into());
    }
    let mut ranges = Vec::new();
    for ph in elf
        .program_headers
        .iter()
        .filter(|p| p.p_type == PT_LOAD && p.p_memsz > 0)
    {
        let start = usize::try_from(ph.p_offset).ok();
        let len = usize::try_from(ph.p_filesz).ok();
        let bytes = match (start, len) {
            (Some(s), Some(l)) if s.checked_add(l).is_some_and(|e| e <= data.len()) => &data[s..s + l],
            _ => return Err("a segment lies outside the file (truncated?)".into()),
        };
        if ph.p_filesz > ph.p_memsz {
            return Err("a segment's file size exceeds its memory size".into());
        }
        let addr = u32::try_from(ph.p_paddr).map_err(|_| "segment address beyond 4 GiB".to_string())?;
        let memsz = u32::try_from(ph.p_memsz).map_err(|_| "segment larger than 4 GiB".to_string())?;
        let end = addr.checked_add(memsz).ok_or("segment wraps past 4 GiB")?;
        // As QEMU: two segments loaded at the same addresses are refused, not silently merged.
        if let Some((s, e)) = ranges.iter().find(|(s, e)| addr < *e && *s < end) {
            return Err(format!(
                "segments overlap: {addr:#010x}..{end:#010x} and {s:#010x}..{e:#010x}"
            ));
        }
        memory
            .load_bytes(u64::from(addr), bytes)
            .and_then(|_| {
                memory.zero(
                    u64::from(addr) + bytes.len() as u64,
                    u64::from(memsz) - bytes.len() as u64,
                )
            })
            .map_err(|_| format!("segment at {addr:#010x}..{end:#010x} does not fit in RAM"))?;
        ranges.push((addr, end));
    }
    if ranges.is_empty() {
        return Err("no loadable segments".into());
    }
    let entry = u32::try_from(elf.entry).map_err(|_| "entry point beyond 4 GiB".to_string())?;
    Ok(LoadedImage {
        entry,
        ranges,
        elf: true,
    })
}

/// The largest stretch of RAM `[ram_base, ram_end)` that no loaded range covers, as QEMU
/// computes the semihosting heap (rom_find_largest_gap_between).
pub fn largest_gap(ram_base: u32, ram_end: u64, ranges: &[(u32, u32)]) -> (u32, u32) {
    let mut sorted: Vec<(u64, u64)> = ranges
        .iter()
        .map(|&(s, e)| (u64::from(s).max(u64::from(ram_base)), u64::from(e).min(ram_end)))
        .filter(|(s, e)| s < e)
        .collect();
    sorted.sort();
    let mut best = (0u64, 0u64);
    let mut cursor = u64::from(ram_base);
    for (s, e) in sorted.into_iter().chain(std::iter::once((ram_end, ram_end))) {
        if s > cursor && s - cursor > best.1 - best.0 {
            best = (cursor, s);
        }
        cursor = cursor.max(e);
    }
    (best.0 as u32, best.1.min(u64::from(u32::MAX)) as u32)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn largest_gap_skips_loaded_ranges() {
        let g = largest_gap(0x6000_0000, 0xa000_0000, &[(0x6000_0000, 0x6001_0000)]);
        assert_eq!(g, (0x6001_0000, 0xa000_0000));
        let g = largest_gap(0x6000_0000, 0x6010_0000, &[(0x6008_0000, 0x6009_0000)]);
        assert_eq!(g, (0x6000_0000, 0x6008_0000));
    }
}
