//! Address translation: the VMSAv7 short-descriptor format (ARM ARM B3.5).
//!
//! With SCTLR.M clear, virtual addresses are physical addresses. With it set, a two-level walk
//! translates them:
//!
//! * **Level 1** (4096 word entries, indexed by VA[31:20], from TTBR0 or TTBR1 as TTBCR.N
//!   splits the address space) holds *sections* (1 MiB), *supersections* (16 MiB) or a pointer
//!   to a level 2 table.
//! * **Level 2** (256 entries, indexed by VA[19:12]) holds *small pages* (4 KiB) or *large
//!   pages* (64 KiB, replicated over 16 entries).
//!
//! Each mapping names a *domain* (DACR: no access / client / manager), access permissions
//! AP[2:0] (or the simplified model with an access flag when SCTLR.AFE is set), execute-never
//! bits XN/PXN, and the not-global bit nG. Faults are reported with the fault status codes of
//! B3.13.3, which the exception code writes to DFSR/IFSR.
//!
//! The result of a walk is what the software TLB in [`crate::memory`] needs: the physical
//! address and which kinds of access (read, write, execute, privileged or not) the mapping
//! allows.

use crate::cp15::{Cp15, sctlr};
use armvex_bus::{Accessor, Bus};

/// The kind of access being translated.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Access {
    Read,
    Write,
    Fetch,
}

/// Permission bits of a translation, for the TLB.
pub mod perm {
    pub const PRIV_READ: u8 = 1;
    pub const PRIV_WRITE: u8 = 2;
    pub const PRIV_EXEC: u8 = 4;
    pub const USER_READ: u8 = 8;
    pub const USER_WRITE: u8 = 16;
    pub const USER_EXEC: u8 = 32;
    pub const ALL: u8 = 63;
}

/// A successful translation.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Translation {
    /// Physical address of the access.
    pub pa: u32,
    /// What the mapping allows ([`perm`] bits).
    pub perms: u8,
    /// Size of the mapping in bytes (4 KiB, 64 KiB, 1 MiB or 16 MiB; 4 GiB with the MMU off).
    pub size: u64,
}

/// Short-descriptor fault status codes (ARM ARM B3.13.3, Table B3-23).
pub mod fsc {
    pub const ALIGNMENT: u32 = 0b00001;
    pub const DEBUG: u32 = 0b00010;
    pub const ACCESS_FLAG_SECTION: u32 = 0b00011;
    pub const TRANSLATION_SECTION: u32 = 0b00101;
    pub const ACCESS_FLAG_PAGE: u32 = 0b00110;
    pub const TRANSLATION_PAGE: u32 = 0b00111;
    pub const EXTERNAL: u32 = 0b01000;
    pub const DOMAIN_SECTION: u32 = 0b01001;
    pub const DOMAIN_PAGE: u32 = 0b01011;
    pub const PERMISSION_SECTION: u32 = 0b01101;
    pub const PERMISSION_PAGE: u32 = 0b01111;
}

/// A memory fault: what DFSR/IFSR and DFAR/IFAR will say.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Fault {
    /// Fault status code (5 bits, [`fsc`]).
    pub status: u32,
    /// Domain of the mapping (0 when unknown).
    pub domain: u32,
    /// The faulting virtual address.
    pub address: u32,
    /// The access was a write.
    pub write: bool,
}

impl Fault {
    /// An alignment fault at `address`.
    pub fn alignment(address: u32, write: bool) -> Fault {
        Fault {
            status: fsc::ALIGNMENT,
            domain: 0,
            address,
            write,
        }
    }

    /// The short-descriptor FSR value: FS[3:0] in bits 3:0, FS[4] in bit 10, domain in 7:4,
    /// WnR in bit 11 (data aborts only; the caller drops it for IFSR).
    pub fn fsr(&self) -> u32 {
        (self.status & 0xf) | ((self.status & 0x10) << 6) | ((self.domain & 0xf) << 4) | (u32::from(self.write) << 11)
    }
}

/// Translate `va` for an access of `kind`, at PL0 if `user`.
pub fn translate(
    cp15: &Cp15,
    bus: &mut Bus,
    cpu: usize,
    va: u32,
    kind: Access,
    user: bool,
) -> Result<Translation, Fault> {
    if cp15.sctlr & sctlr::M == 0 {
        return Ok(Translation {
            pa: va,
            perms: perm::ALL,
            size: 1 << 32,
        });
    }
    let write = kind == Access::Write;
    let walk = walk(cp15, bus, cpu, va).map_err(|f| Fault { write, ..f })?;
    let allowed = if user {
        match kind {
            Access::Read => perm::USER_READ,
            Access::Write => perm::USER_WRITE,
            Access::Fetch => perm::USER_EXEC,
        }
    } else {
        match kind {
            Access::Read => perm::PRIV_READ,
            Access::Write => perm::PRIV_WRITE,
            Access::Fetch => perm::PRIV_EXEC,
        }
    };
    if walk.perms & allowed == 0 {
        return Err(Fault {
            status: if walk.section {
                fsc::PERMISSION_SECTION
            } else {
                fsc::PERMISSION_PAGE
            },
            domain: walk.domain,
            address: va,
            write: kind == Access::Write,
        });
    }
    Ok(Translation {
        pa: walk.pa,
        perms: walk.perms,
        size: walk.size,
    })
}

/// Everything a walk found, before the permission check.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Walk {
    pub pa: u32,
    pub perms: u8,
    pub size: u64,
    pub domain: u32,
    /// The mapping is a section or supersection (for fault status codes).
    pub section: bool,
    /// The mapping is not global (ASID-specific).
    pub not_global: bool,
}

fn read_descriptor(bus: &mut Bus, cpu: usize, pa: u32) -> u32 {
    // Table walks read memory directly; on vexpress unassigned addresses read as zero, so a
    // table outside RAM simply yields translation faults.
    bus.read(Accessor { cpu, time: 0 }, pa, armvex_bus::AccessSize::Word)
}

/// Walk the translation tables for `va` (the MMU must be enabled). Faults other than
/// permission faults are returned here; permissions are in [`Walk::perms`].
pub fn walk(cp15: &Cp15, bus: &mut Bus, cpu: usize, va: u32) -> Result<Walk, Fault> {
    let fault = |status: u32, domain: u32| Fault {
        status,
        domain,
        address: va,
        write: false,
    };
    let n = cp15.ttbcr & 7;
    let use_ttbr1 = n != 0 && (va >> (32 - n)) != 0;
    let (base, pd) = if use_ttbr1 {
        (cp15.ttbr1 & 0xffff_c000, cp15.ttbcr & (1 << 5) != 0)
    } else {
        (cp15.ttbr0 & !(0x3fffu32 >> n), cp15.ttbcr & (1 << 4) != 0)
    };
    if pd {
        return Err(fault(fsc::TRANSLATION_SECTION, 0));
    }
    let index_mask = if use_ttbr1 { 0xfff } else { 0xfff >> n };
    let l1_addr = base | (((va >> 20) & index_mask) << 2);
    let l1 = read_descriptor(bus, cpu, l1_addr);
    let has_pxn = cp15.has_pxn();
    let afe = cp15.sctlr & sctlr::AFE != 0;
    match l1 & 3 {
        0 => Err(fault(fsc::TRANSLATION_SECTION, 0)),
        3 if !has_pxn => Err(fault(fsc::TRANSLATION_SECTION, 0)),
        1 => {
            let domain = (l1 >> 5) & 0xf;
            let pxn = has_pxn && l1 & (1 << 2) != 0;
            let l2_addr = (l1 & 0xffff_fc00) | (((va >> 12) & 0xff) << 2);
            let l2 = read_descriptor(bus, cpu, l2_addr);
            let (pa, size, xn, ap, ng) = match l2 & 3 {
                0 => return Err(fault(fsc::TRANSLATION_PAGE, domain)),
                1 => (
                    (l2 & 0xffff_0000) | (va & 0xffff),
                    0x1_0000,
                    l2 & (1 << 15) != 0,
                    ((l2 >> 4) & 3) | ((l2 >> 7) & 4),
                    l2 & (1 << 11) != 0,
                ),
                _ => (
                    (l2 & 0xffff_f000) | (va & 0xfff),
                    0x1000,
                    l2 & 1 != 0,
                    ((l2 >> 4) & 3) | ((l2 >> 7) & 4),
                    l2 & (1 << 11) != 0,
                ),
            };
            if afe && ap & 1 == 0 {
                return Err(fault(fsc::ACCESS_FLAG_PAGE, domain));
            }
            let perms = permissions(cp15, domain, ap, xn, pxn).ok_or(fault(fsc::DOMAIN_PAGE, domain))?;
            Ok(Walk {
                pa,
                perms,
                size,
                domain,
                section: false,
                not_global: ng,
            })
        }
        _ => {
            let supersection = l1 & (1 << 18) != 0;
            let domain = if supersection { 0 } else { (l1 >> 5) & 0xf };
            let pxn = has_pxn && l1 & 1 != 0;
            let xn = l1 & (1 << 4) != 0;
            let ap = ((l1 >> 10) & 3) | ((l1 >> 13) & 4);
            let ng = l1 & (1 << 17) != 0;
            let (pa, size) = if supersection {
                ((l1 & 0xff00_0000) | (va & 0x00ff_ffff), 0x100_0000)
            } else {
                ((l1 & 0xfff0_0000) | (va & 0x000f_ffff), 0x10_0000)
            };
            if afe && ap & 1 == 0 {
                return Err(fault(fsc::ACCESS_FLAG_SECTION, domain));
            }
            let perms = permissions(cp15, domain, ap, xn, pxn).ok_or(fault(fsc::DOMAIN_SECTION, domain))?;
            Ok(Walk {
                pa,
                perms,
                size,
                domain,
                section: true,
                not_global: ng,
            })
        }
    }
}

/// The permissions of a mapping, or `None` for a domain fault (DACR no access or reserved).
fn permissions(cp15: &Cp15, domain: u32, ap: u32, xn: bool, pxn: bool) -> Option<u8> {
    use perm::*;
    match (cp15.dacr >> (domain * 2)) & 3 {
        // Manager: no permission checks at all (QEMU also ignores XN here).
        3 => return Some(ALL),
        1 => {}
        _ => return None,
    }
    let afe = cp15.sctlr & sctlr::AFE != 0;
    let mut p = if afe {
        // Simplified access permissions model: AP[0] is the access flag.
        match ap >> 1 {
            0 => PRIV_READ | PRIV_WRITE,
            1 => PRIV_READ | PRIV_WRITE | USER_READ | USER_WRITE,
            2 => PRIV_READ,
            _ => PRIV_READ | USER_READ,
        }
    } else {
        match ap {
            1 => PRIV_READ | PRIV_WRITE,
            2 => PRIV_READ | PRIV_WRITE | USER_READ,
            3 => PRIV_READ | PRIV_WRITE | USER_READ | USER_WRITE,
            5 => PRIV_READ,
            6 | 7 => PRIV_READ | USER_READ,
            _ => 0,
        }
    };
    // Instruction fetches need read permission and no execute-never.
    if !xn {
        if p & PRIV_READ != 0 && !pxn {
            p |= PRIV_EXEC;
        }
        if p & USER_READ != 0 {
            p |= USER_EXEC;
        }
    }
    // SCTLR.WXN / UWXN (Virtualization Extensions cores): writable implies execute-never.
    if cp15.sctlr & sctlr::WXN != 0 && p & (PRIV_WRITE | USER_WRITE) != 0 {
        p &= !(PRIV_EXEC | USER_EXEC);
    }
    if cp15.sctlr & sctlr::UWXN != 0 && p & USER_WRITE != 0 {
        p &= !PRIV_EXEC;
    }
    Some(p)
}
