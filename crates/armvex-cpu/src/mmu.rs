//! Address translation: the VMSAv7 short-descriptor format (ARM ARM B3.5); the
//! long-descriptor (LPAE) format of the Cortex-A15 is the submodule [`lpae`].
//!
//! With SCTLR.M clear, virtual addresses are physical addresses. With it set, a two-level walk
//! translates them:
//!
//! * **Level 1** (4096 word entries, indexed by VA\[31:20\], from TTBR0 or TTBR1 as TTBCR.N
//!   splits the address space) holds *sections* (1 MiB), *supersections* (16 MiB) or a pointer
//!   to a level 2 table.
//! * **Level 2** (256 entries, indexed by VA\[19:12\]) holds *small pages* (4 KiB) or *large
//!   pages* (64 KiB, replicated over 16 entries).
//!
//! Each mapping names a *domain* (DACR: no access / client / manager), access permissions
//! AP\[2:0\] (or the simplified model with an access flag when SCTLR.AFE is set), execute-never
//! bits XN/PXN, and the not-global bit nG. Faults are reported with the fault status codes of
//! B3.13.3, which the exception code writes to DFSR/IFSR.
//!
//! The result of a walk is what the software TLB in [`crate::memory`] needs: the physical
//! address and which kinds of access (read, write, execute, privileged or not) the mapping
//! allows.

use crate::cp15::{Cp15, sctlr};
use armvex_bus::{Accessor, Bus, PhysAddr};

pub mod lpae;

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
    /// Physical address of the access (40 bits with LPAE, else below 4 GiB).
    pub pa: PhysAddr,
    /// What the mapping allows ([`perm`] bits).
    pub perms: u8,
    /// Size of the mapping in bytes (4 KiB, 64 KiB, 1 MiB or 16 MiB; 4 GiB with the MMU off).
    pub size: u64,
    /// The descriptor's NS bit: a Secure mapping of Non-secure memory (reported in PAR.NS;
    /// vexpress has one physical address space for both).
    pub nonsecure: bool,
    /// Long-descriptor format only, for the 64-bit PAR: the memory attributes MAIR gives the
    /// descriptor's AttrIndx in bits 9:2, its shareability SH in bits 1:0.
    pub attrs: u16,
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

/// Marks [`Fault::status`] as a long-descriptor (LPAE) status: the 6-bit STATUS of B3.13.3
/// (Table B3-24) in bits 5:0, and this bit, which is FSR.LPAE (bit 9) too.
pub const LPAE_STATUS: u32 = 1 << 9;

/// Long-descriptor fault status codes (ARM ARM B3.13.3, Table B3-24); the translation,
/// access flag and permission faults add the lookup level (1-3).
pub mod lfsc {
    pub const TRANSLATION: u32 = 0b00_0100;
    pub const ACCESS_FLAG: u32 = 0b00_1000;
    pub const PERMISSION: u32 = 0b00_1100;
    pub const EXTERNAL: u32 = 0b01_0000;
    pub const ALIGNMENT: u32 = 0b10_0001;
    pub const DEBUG: u32 = 0b10_0010;
}

/// Not an architectural fault: the status of [`Fault::watchpoint`], which stops the CPU for
/// the debugger instead of taking a Data Abort (see [`crate::debug`]).
pub const WATCHPOINT_STATUS: u32 = 0x100;

impl Fault {
    /// A debugger watchpoint fired at `address` (never reaches the guest).
    pub fn watchpoint(address: u32, write: bool) -> Fault {
        Fault {
            status: WATCHPOINT_STATUS,
            domain: 0,
            address,
            write,
        }
    }

    /// True for [`Fault::watchpoint`].
    #[inline]
    pub fn is_watchpoint(&self) -> bool {
        self.status == WATCHPOINT_STATUS
    }

    /// An alignment fault at `address`.
    pub fn alignment(address: u32, write: bool) -> Fault {
        Fault {
            status: fsc::ALIGNMENT,
            domain: 0,
            address,
            write,
        }
    }

    /// The FSR value. Short-descriptor format: FS\[3:0\] in bits 3:0, FS\[4\] in bit 10,
    /// domain in 7:4; long-descriptor format ([`LPAE_STATUS`]): STATUS in bits 5:0 and bit 9 set.
    /// WnR in bit 11 (data aborts only; the caller drops it for IFSR).
    pub fn fsr(&self) -> u32 {
        let wnr = u32::from(self.write) << 11;
        if self.status & LPAE_STATUS != 0 {
            return (self.status & 0x3f) | LPAE_STATUS | wnr;
        }
        (self.status & 0xf) | ((self.status & 0x10) << 6) | ((self.domain & 0xf) << 4) | wnr
    }

    /// This fault as the long-descriptor format reports it (TTBCR.EAE set): the faults that
    /// are not from a walk (alignment, debug, external) get their long status codes; walk
    /// faults already have them.
    pub fn in_lpae_format(self) -> Fault {
        if self.status & LPAE_STATUS != 0 || self.is_watchpoint() {
            return self;
        }
        let status = match self.status {
            fsc::ALIGNMENT => lfsc::ALIGNMENT,
            fsc::DEBUG => lfsc::DEBUG,
            _ => lfsc::EXTERNAL,
        };
        Fault {
            status: LPAE_STATUS | status,
            domain: 0,
            ..self
        }
    }

    /// The 6-bit long-descriptor STATUS of this fault (for the 64-bit PAR).
    pub fn lpae_status(self) -> u32 {
        self.in_lpae_format().status & 0x3f
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
            pa: PhysAddr::from(va),
            perms: perm::ALL,
            size: 1 << 32,
            nonsecure: false,
            attrs: 0,
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
            status: if walk.level != 0 {
                LPAE_STATUS | lfsc::PERMISSION | u32::from(walk.level)
            } else if walk.section {
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
        nonsecure: walk.nonsecure,
        attrs: walk.attrs,
    })
}

/// Everything a walk found, before the permission check.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Walk {
    pub pa: PhysAddr,
    pub perms: u8,
    pub size: u64,
    pub domain: u32,
    /// The mapping is a section or supersection (for fault status codes).
    pub section: bool,
    /// The mapping is not global (ASID-specific).
    pub not_global: bool,
    /// NS bit of the level 1 descriptor (section, supersection or page table).
    pub nonsecure: bool,
    /// Long-descriptor format: the level of the block or page descriptor (1-3, for fault
    /// status codes); 0 for the short-descriptor format.
    pub level: u8,
    /// Long-descriptor format: [`Translation::attrs`].
    pub attrs: u16,
}

fn read_descriptor(bus: &mut Bus, cpu: usize, pa: PhysAddr) -> u32 {
    // Table walks read memory directly; on vexpress unassigned addresses read as zero, so a
    // table outside RAM simply yields translation faults.
    bus.read_phys(Accessor { cpu, time: 0 }, pa, armvex_bus::AccessSize::Word)
}

/// Walk the translation tables for `va` (the MMU must be enabled). Faults other than
/// permission faults are returned here; permissions are in [`Walk::perms`].
pub fn walk(cp15: &Cp15, bus: &mut Bus, cpu: usize, va: u32) -> Result<Walk, Fault> {
    walk_with(cp15, va, false, |pa| read_descriptor(bus, cpu, pa))
}

/// The physical address of `va` as a debugger sees it: through the current translation
/// regime, whatever the permissions, domains and access flags say, reading descriptors from
/// RAM only (a table outside RAM translates nothing), with no side effect. `None` if `va` is
/// not mapped.
pub fn translate_debug(cp15: &Cp15, memory: &armvex_bus::PhysicalMemory, va: u32) -> Option<PhysAddr> {
    if cp15.sctlr & sctlr::M == 0 {
        return Some(PhysAddr::from(va));
    }
    let mut outside_ram = false;
    let walk = walk_with(cp15, va, true, |pa| {
        memory.read(pa, armvex_bus::AccessSize::Word).unwrap_or_else(|| {
            outside_ram = true;
            0
        })
    });
    walk.ok().filter(|_| !outside_ram).map(|w| w.pa)
}

/// [`walk`] with descriptors read by `read`; `for_debugger` ignores domain and access-flag
/// faults (the mapping is reported with no permissions instead). The short-descriptor format
/// reads tables and outputs addresses below 4 GiB only.
fn walk_with(cp15: &Cp15, va: u32, for_debugger: bool, mut read: impl FnMut(PhysAddr) -> u32) -> Result<Walk, Fault> {
    if cp15.lpae() {
        return lpae::walk_with(cp15, va, for_debugger, read);
    }
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
    let l1 = read(PhysAddr::from(l1_addr));
    let has_pxn = cp15.has_pxn();
    let afe = cp15.sctlr & sctlr::AFE != 0;
    match l1 & 3 {
        0 => Err(fault(fsc::TRANSLATION_SECTION, 0)),
        3 if !has_pxn => Err(fault(fsc::TRANSLATION_SECTION, 0)),
        1 => {
            let domain = (l1 >> 5) & 0xf;
            let pxn = has_pxn && l1 & (1 << 2) != 0;
            let l2_addr = (l1 & 0xffff_fc00) | (((va >> 12) & 0xff) << 2);
            let l2 = read(PhysAddr::from(l2_addr));
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
            if afe && ap & 1 == 0 && !for_debugger {
                return Err(fault(fsc::ACCESS_FLAG_PAGE, domain));
            }
            let perms = match permissions(cp15, domain, ap, xn, pxn) {
                Some(p) => p,
                None if for_debugger => 0,
                None => return Err(fault(fsc::DOMAIN_PAGE, domain)),
            };
            Ok(Walk {
                pa: PhysAddr::from(pa),
                perms,
                size,
                domain,
                section: false,
                not_global: ng,
                nonsecure: l1 & (1 << 3) != 0,
                level: 0,
                attrs: 0,
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
            if afe && ap & 1 == 0 && !for_debugger {
                return Err(fault(fsc::ACCESS_FLAG_SECTION, domain));
            }
            let perms = match permissions(cp15, domain, ap, xn, pxn) {
                Some(p) => p,
                None if for_debugger => 0,
                None => return Err(fault(fsc::DOMAIN_SECTION, domain)),
            };
            Ok(Walk {
                pa: PhysAddr::from(pa),
                perms,
                size,
                domain,
                section: true,
                not_global: ng,
                nonsecure: l1 & (1 << 19) != 0,
                level: 0,
                attrs: 0,
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cp15::sctlr;
    use crate::model::CpuModel;
    use armvex_bus::{AccessSize, Accessor, PhysicalMemory, RamRegionSpec};

    const RAM: u32 = 0x6000_0000;
    const L1: u32 = RAM + 0x4000; // 16 KiB aligned
    const L2: u32 = RAM + 0x8000;

    fn setup(model: CpuModel) -> (Cp15, Bus) {
        let mem = PhysicalMemory::new(&[RamRegionSpec {
            name: "ram".into(),
            base: u64::from(RAM),
            size: 0x10_0000,
        }])
        .unwrap();
        let mut cp15 = Cp15::new(model, 0, 1);
        cp15.sctlr |= sctlr::M;
        cp15.ttbr0 = L1;
        cp15.dacr = 0b01; // domain 0: client
        (cp15, Bus::new(mem))
    }

    fn put(bus: &mut Bus, addr: u32, v: u32) {
        bus.write(Accessor { cpu: 0, time: 0 }, addr, AccessSize::Word, v);
    }

    fn l1_entry(va: u32) -> u32 {
        L1 + ((va >> 20) << 2)
    }

    #[test]
    fn sections_and_supersections() {
        let (cp15, mut bus) = setup(CpuModel::CortexA9);
        // Section 0x00100000 -> 0x6a000000, AP=3 (full access), domain 0.
        put(&mut bus, l1_entry(0x0010_0000), 0x6a00_0000 | (3 << 10) | 2);
        let t = translate(&cp15, &mut bus, 0, 0x0012_3456, Access::Write, true).unwrap();
        assert_eq!((t.pa, t.size), (0x6a02_3456, 0x10_0000));
        // Supersection: 16 identical entries at 0x0100_0000 -> 0x7000_0000.
        for i in 0..16 {
            put(
                &mut bus,
                l1_entry(0x0100_0000 + (i << 20)),
                0x7000_0000 | (1 << 18) | (3 << 10) | 2,
            );
        }
        let t = translate(&cp15, &mut bus, 0, 0x01ab_cdef, Access::Read, false).unwrap();
        assert_eq!((t.pa, t.size), (0x70ab_cdef, 0x100_0000));
    }

    #[test]
    fn small_and_large_pages() {
        let (cp15, mut bus) = setup(CpuModel::CortexA9);
        put(&mut bus, l1_entry(0x0020_0000), L2 | 1);
        // Small page 0x00203000 -> 0x6bbb_b000, AP=3, XN.
        put(&mut bus, L2 + (3 << 2), 0x6bbb_b000 | (3 << 4) | 0b11);
        let t = translate(&cp15, &mut bus, 0, 0x0020_3abc, Access::Read, true).unwrap();
        assert_eq!((t.pa, t.size), (0x6bbb_babc, 0x1000));
        assert_eq!(t.perms & perm::USER_EXEC, 0, "XN");
        // Large page 0x00210000 -> 0x6cc0_0000 (16 replicated entries), AP=1 (privileged only).
        for i in 0..16 {
            put(&mut bus, L2 + ((0x10 + i) << 2), 0x6cc0_0000 | (1 << 4) | 0b01);
        }
        let t = translate(&cp15, &mut bus, 0, 0x0021_5678, Access::Write, false).unwrap();
        assert_eq!((t.pa, t.size), (0x6cc0_5678, 0x1_0000));
        let f = translate(&cp15, &mut bus, 0, 0x0021_5678, Access::Read, true).unwrap_err();
        assert_eq!((f.status, f.address), (fsc::PERMISSION_PAGE, 0x0021_5678));
    }

    #[test]
    fn fault_codes_and_domains() {
        let (mut cp15, mut bus) = setup(CpuModel::CortexA9);
        // Nothing mapped: level 1 translation fault, domain 0.
        let f = translate(&cp15, &mut bus, 0, 0x0030_0000, Access::Write, false).unwrap_err();
        assert_eq!(f.fsr(), 0x805, "WnR | translation section");
        // A page table with an empty entry: level 2 fault, with the table's domain.
        put(&mut bus, l1_entry(0x0040_0000), L2 | (5 << 5) | 1);
        cp15.dacr = 1 << 10; // domain 5: client
        let f = translate(&cp15, &mut bus, 0, 0x0040_5000, Access::Read, false).unwrap_err();
        assert_eq!(f.fsr(), 0x57, "domain 5, translation page");
        // Domain no access, and manager (no permission checks).
        put(&mut bus, l1_entry(0x0050_0000), 0x6a00_0000 | (3 << 5) | 2); // AP=0
        cp15.dacr = 0;
        let f = translate(&cp15, &mut bus, 0, 0x0050_0000, Access::Read, false).unwrap_err();
        assert_eq!(f.fsr(), 0x39, "domain 3, domain fault section");
        cp15.dacr = 3 << 6;
        assert!(
            translate(&cp15, &mut bus, 0, 0x0050_0000, Access::Write, true).is_ok(),
            "manager"
        );
        cp15.dacr = 1 << 6;
        let f = translate(&cp15, &mut bus, 0, 0x0050_0000, Access::Read, false).unwrap_err();
        assert_eq!(f.fsr(), 0x3d, "client: permission fault section (AP=0)");
    }

    #[test]
    fn access_flag_and_ttbcr_split() {
        let (mut cp15, mut bus) = setup(CpuModel::CortexA15);
        cp15.sctlr |= sctlr::AFE;
        // AP[0] is the access flag: clear → access flag fault.
        put(&mut bus, l1_entry(0x0060_0000), 0x6a00_0000 | (2 << 10) | 2);
        let f = translate(&cp15, &mut bus, 0, 0x0060_0000, Access::Read, false).unwrap_err();
        assert_eq!(f.status, fsc::ACCESS_FLAG_SECTION);
        // TTBCR.N = 2: addresses from 0x40000000 use TTBR1; the TTBR0 table is 4 KiB.
        cp15.sctlr &= !sctlr::AFE;
        cp15.ttbcr = 2;
        cp15.ttbr1 = RAM + 0xc000;
        cp15.ttbr0 = L1 | 0x1000; // 4 KiB aligned suffices with N = 2
        put(
            &mut bus,
            cp15.ttbr1 + ((0x8000_0000u32 >> 20) << 2),
            0x6d00_0000 | (3 << 10) | 2,
        );
        put(
            &mut bus,
            (L1 | 0x1000) + ((0x0070_0000u32 >> 20) << 2),
            0x6e00_0000 | (3 << 10) | 2,
        );
        assert_eq!(
            translate(&cp15, &mut bus, 0, 0x8000_1234, Access::Read, false)
                .unwrap()
                .pa,
            0x6d00_1234
        );
        assert_eq!(
            translate(&cp15, &mut bus, 0, 0x0070_1234, Access::Read, false)
                .unwrap()
                .pa,
            0x6e00_1234
        );
        // PD0 disables walks through TTBR0.
        cp15.ttbcr |= 1 << 4;
        let f = translate(&cp15, &mut bus, 0, 0x0070_1234, Access::Read, false).unwrap_err();
        assert_eq!(f.status, fsc::TRANSLATION_SECTION);
    }

    #[test]
    fn mmu_off_is_flat() {
        let (mut cp15, mut bus) = setup(CpuModel::CortexA9);
        cp15.sctlr &= !sctlr::M;
        let t = translate(&cp15, &mut bus, 0, 0x1234_5678, Access::Fetch, true).unwrap();
        assert_eq!((t.pa, t.perms), (0x1234_5678, perm::ALL));
    }
}
