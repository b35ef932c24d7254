//! Address translation: the long-descriptor translation table format, LPAE (ARM ARM B3.6).
//!
//! The Cortex-A15 has the Large Physical Address Extension: with TTBCR.EAE set, translation
//! uses 64-bit descriptors in up to three levels of 512-entry tables (4 KiB each), mapping
//! 32-bit virtual addresses to 40-bit physical ones:
//!
//! ```text
//!   VA bits   31:30        29:21          20:12          11:0
//!             level 1      level 2        level 3        offset
//!             (1 GiB)      (2 MiB)        (4 KiB)
//! ```
//!
//! * **Two regions** (B3.6.4): TTBCR.T0SZ and T1SZ size the parts of the address space
//!   TTBR0 (from 0 up) and TTBR1 (down from the top) translate: 2^(32-TxSZ) bytes each, and
//!   with both zero TTBR0 translates everything. An address between the two regions takes
//!   a Translation fault; TTBCR.EPD0/EPD1 disable a region's walks. A region of more than
//!   1 GiB (TxSZ 0 or 1) starts at level 1, a smaller one at level 2 (its level 1 entry
//!   would cover it all).
//! * **Descriptors** (B3.6.1): bits 1:0 = `11` at levels 1 and 2 point to the next table
//!   (bits 39:12), and carry restrictions for everything below it: APTable (no PL0 access,
//!   read-only), XNTable, PXNTable, NSTable. `01` at levels 1 and 2 is a block (1 GiB or
//!   2 MiB), `11` at level 3 a page; anything with bit 0 clear (and `01` at level 3) is
//!   invalid. A block or page has the output address, AttrIndx (an index into MAIR0/MAIR1,
//!   the same CP15 registers as PRRR/NMRR), NS, AP\[2:1\], SH, AF (the access flag: clear, the
//!   access takes an Access flag fault), nG, the Contiguous hint (ignored: it only lets a
//!   TLB cache more), PXN and XN.
//! * **Permissions** (B3.7.1): AP\[2\] makes the mapping read-only, AP\[1\] gives PL0 the same
//!   access as PL1; there are no domains. XN forbids execution, PXN execution at PL1;
//!   SCTLR.WXN makes writable memory execute-never, SCTLR.UWXN makes memory PL0 can write
//!   execute-never at PL1.
//! * **Faults** (B3.13.3): the long-descriptor status codes, which name the lookup level,
//!   in DFSR/IFSR with bit 9 (LPAE) set; see [`crate::mmu::lfsc`].
//!
//! Physical addresses are 40 bits ([`PhysAddr`]): tables and output addresses may be
//! anywhere in the first TiB, e.g. in vexpress-a15's RAM above 4 GiB. Where nothing is
//! mapped, table reads (and the accesses themselves) read as zero, as everywhere on the bus.

use super::{Fault, LPAE_STATUS, Walk, lfsc, perm};
use crate::cp15::{Cp15, sctlr};
use armvex_bus::PhysAddr;

/// Bits 39:12 of a descriptor: a table or page address.
const ADDRESS_39_12: u64 = 0xff_ffff_f000;

/// Walk the long-descriptor tables for `va` (see [`crate::mmu::walk`]; `read` reads a word
/// of physical memory). `for_debugger` reports a mapping whose access flag is clear instead
/// of faulting.
pub(crate) fn walk_with(
    cp15: &Cp15,
    va: u32,
    for_debugger: bool,
    mut read: impl FnMut(PhysAddr) -> u32,
) -> Result<Walk, Fault> {
    let fault = |kind: u32, level: u32| Fault {
        status: LPAE_STATUS | kind | level,
        domain: 0,
        address: va,
        write: false,
    };
    // Descriptors are 8-byte aligned and `table` is below 2^40, so both words are too.
    let mut read64 = |pa: PhysAddr| -> u64 { u64::from(read(pa)) | (u64::from(read(pa + 4)) << 32) };
    let ttbcr = cp15.ttbcr;
    let t0sz = ttbcr & 7;
    let t1sz = (ttbcr >> 16) & 7;
    let va64 = u64::from(va);
    let in_ttbr0 = t0sz != 0 && va64 < 1 << (32 - t0sz);
    let in_ttbr1 = t1sz != 0 && va64 >= (1 << 32) - (1 << (32 - t1sz));
    // Which table, and the size of its region as TxSZ (B3.6.4).
    let (ttbr1, tsz) = match (in_ttbr0, in_ttbr1) {
        (true, _) => (false, t0sz),
        (false, true) => (true, t1sz),
        // The rest of the address space belongs to the table whose TxSZ is 0.
        (false, false) if t0sz == 0 => (false, 0),
        (false, false) if t1sz == 0 => (true, 0),
        (false, false) => return Err(fault(lfsc::TRANSLATION, 1)),
    };
    let epd = if ttbr1 { ttbcr & (1 << 23) } else { ttbcr & (1 << 7) };
    if epd != 0 {
        return Err(fault(lfsc::TRANSLATION, 1));
    }
    let ttbr = if ttbr1 {
        (u64::from(cp15.ttbr1_hi) << 32) | u64::from(cp15.ttbr1)
    } else {
        (u64::from(cp15.ttbr0_hi) << 32) | u64::from(cp15.ttbr0)
    };
    let input_bits = 32 - tsz;
    // A region over 1 GiB starts at level 1 (2^(input_bits-30) entries), else at level 2.
    let start: u32 = if input_bits > 30 { 1 } else { 2 };
    let align_bits = if start == 1 { 5 - tsz } else { 14 - tsz };
    let mut table = ttbr & 0xff_ffff_ffff & !((1u64 << align_bits) - 1);

    let (mut ap_table, mut xn_table, mut pxn_table, mut ns_table) = (0u64, false, false, false);
    let mut level = start;
    let desc = loop {
        let index = match level {
            1 => (va >> 30) & ((1 << (input_bits - 30)) - 1),
            2 if level == start => (va >> 21) & ((1 << (input_bits - 21)) - 1),
            2 => (va >> 21) & 0x1ff,
            _ => (va >> 12) & 0x1ff,
        };
        let desc = read64(table + u64::from(index) * 8);
        match (desc & 3, level) {
            (3, 1 | 2) => {
                ap_table |= (desc >> 61) & 3;
                xn_table |= desc & (1 << 60) != 0;
                pxn_table |= desc & (1 << 59) != 0;
                ns_table |= desc & (1 << 63) != 0;
                table = desc & ADDRESS_39_12;
                level += 1;
            }
            (1, 1 | 2) | (3, 3) => break desc,
            _ => return Err(fault(lfsc::TRANSLATION, level)),
        }
    };
    let size: u64 = match level {
        1 => 1 << 30,
        2 => 1 << 21,
        _ => 1 << 12,
    };
    if desc & (1 << 10) == 0 && !for_debugger {
        return Err(fault(lfsc::ACCESS_FLAG, level));
    }
    let pa: PhysAddr = (desc & 0xff_ffff_ffff & !(size - 1)) | (va64 & (size - 1));

    // AP[2:1] (bits 7:6) and APTable: bit 0 of each grants / removes PL0 access, bit 1
    // makes the mapping read-only.
    let ap = (desc >> 6) & 3;
    let user = ap & 1 != 0 && ap_table & 1 == 0;
    let read_only = ap & 2 != 0 || ap_table & 2 != 0;
    let xn = desc & (1 << 54) != 0 || xn_table;
    let pxn = desc & (1 << 53) != 0 || pxn_table;
    let writable = !read_only;
    // SCTLR.WXN: writable memory is execute-never; SCTLR.UWXN: memory PL0 can write is
    // execute-never at PL1.
    let wxn_forbids = cp15.sctlr & sctlr::WXN != 0 && writable;
    let uwxn_forbids = cp15.sctlr & sctlr::UWXN != 0 && user && writable;
    let mut perms = perm::PRIV_READ;
    if !read_only {
        perms |= perm::PRIV_WRITE;
    }
    if user {
        perms |= perm::USER_READ;
        if !read_only {
            perms |= perm::USER_WRITE;
        }
        if !xn && !wxn_forbids {
            perms |= perm::USER_EXEC;
        }
    }
    if !xn && !pxn && !wxn_forbids && !uwxn_forbids {
        perms |= perm::PRIV_EXEC;
    }

    // MAIR0 (PRRR's encoding) holds attributes 0-3, MAIR1 (NMRR's) 4-7.
    let attr_index = ((desc >> 2) & 7) as u32;
    let mair = if attr_index < 4 { cp15.prrr } else { cp15.nmrr };
    let attr = (mair >> (8 * (attr_index & 3))) & 0xff;
    let shareability = ((desc >> 8) & 3) as u32;
    Ok(Walk {
        pa,
        perms,
        size,
        domain: 0,
        section: level < 3,
        not_global: desc & (1 << 11) != 0,
        nonsecure: desc & (1 << 5) != 0 || ns_table,
        level: level as u8,
        attrs: ((attr << 2) | shareability) as u16,
    })
}
