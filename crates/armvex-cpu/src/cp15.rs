//! CP15, the system control coprocessor (ARM ARM B4, "System Control Registers in a VMSA
//! implementation").
//!
//! Software reaches these registers with `MRC`/`MCR p15, op1, Rt, CRn, CRm, op2` (and `MRRC`/
//! `MCRR` for the 64-bit ones). [`Cp15::read`] and [`Cp15::write`] are indexed by
//! `(CRn, op1, CRm, op2)`; a register that does not exist, or that the current privilege may
//! not access, is UNDEFINED, as on hardware, and is logged with its name-less coordinates.
//!
//! The values of the identification registers are those QEMU 7.2 gives its Cortex-A9 and
//! Cortex-A15 models on the vexpress boards (read back from QEMU by `firmware/tests/cp15.c`).
//! Those CPUs have the Security Extensions (the guest starts in Secure Supervisor mode and
//! Monitor mode exists; SCR, NSACR and MVBAR are implemented). QEMU gives the A15 the
//! Virtualization Extensions too, but armvex has no Hyp mode: only HVBAR and HCR exist, as
//! plain registers Secure PL1 can read and write.
//!
//! ## Secure and Non-secure worlds (ARM ARM B1.5, B3.15.4 "Banked system control registers")
//!
//! Software is in *Non-secure state* when SCR.NS is set and the CPU is not in Monitor mode;
//! Monitor mode is always Secure. Some registers (SCTLR, VBAR, the translation table registers,
//! DACR, the fault registers, PAR, PRRR/NMRR, CONTEXTIDR, the TPIDRs, CSSELR, FCSEIDR) have a
//! copy per world. The fields of [`Cp15`] hold the copies of the *current* world, which is
//! what the MMU, exception entry and fault reporting use; [`Cp15::other_world`] parks the other
//! world's copies, and the CPU swaps them when its security state changes
//! ([`Cp15::swap_worlds`]). An MRC/MCR reaches the copy SCR.NS selects, so Monitor mode with
//! SCR.NS set reads and writes the Non-secure copies ([`Cp15::read`], [`Cp15::write`]).
//!
//! In Non-secure state SCR, SDER and MVBAR are UNDEFINED, NSACR is read-only, and CPACR's
//! cp10/cp11 fields ignore writes unless NSACR allows them (reads then return 0xff0fffff, QEMU
//! 7.2's value, where hardware would read the fields as zero).
//!
//! Writes that change how addresses translate return a [`Cp15Effect`] so the CPU can flush its
//! software TLB; cache maintenance is a no-op for data (there are no caches) and drops
//! predecoded code for the instruction-cache operations.

use crate::model::CpuModel;

/// SCTLR bits (B4.1.130).
pub mod sctlr {
    pub const M: u32 = 1 << 0;
    pub const A: u32 = 1 << 1;
    pub const C: u32 = 1 << 2;
    pub const Z: u32 = 1 << 11;
    pub const I: u32 = 1 << 12;
    pub const V: u32 = 1 << 13;
    pub const WXN: u32 = 1 << 19;
    pub const UWXN: u32 = 1 << 20;
    pub const EE: u32 = 1 << 25;
    pub const TRE: u32 = 1 << 28;
    pub const AFE: u32 = 1 << 29;
    pub const TE: u32 = 1 << 30;
}

/// NSACR.cp10: Non-secure access to the VFP (cp10 and cp11) is allowed.
pub const NSACR_CP10: u32 = 1 << 10;

/// CPACR's cp10 and cp11 access fields.
const CPACR_CP10_CP11: u32 = 0x00f0_0000;

/// Coordinates of a 32-bit CP15 register: (CRn, op1, CRm, op2).
pub type RegKey = (u32, u32, u32, u32);

/// Declares [`OtherWorld`], the parked copies of the registers banked between the Secure and
/// Non-secure worlds, and [`Cp15::swap_worlds`], which exchanges them with the current copies.
macro_rules! banked_registers {
    ($($name:ident),* $(,)?) => {
        /// The other security state's copies of the banked registers (see the module docs).
        #[derive(Clone, Copy, Debug, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
        pub struct OtherWorld {
            $(pub $name: u32,)*
        }

        impl Cp15 {
            /// Exchange the current world's banked registers with the parked ones.
            pub fn swap_worlds(&mut self) {
                $(std::mem::swap(&mut self.$name, &mut self.other_world.$name);)*
            }
        }
    };
}

banked_registers!(
    sctlr, ttbr0, ttbr1, ttbcr, dacr, dfsr, ifsr, dfar, ifar, par, csselr, prrr, nmrr, vbar, fcseidr, contextidr,
    tpidrurw, tpidruro, tpidrprw, ttbr0_hi, ttbr1_hi, par_hi,
);

/// TTBCR.EAE: the long-descriptor (LPAE) translation table format (B4.1.153; A15 only).
pub const TTBCR_EAE: u32 = 1 << 31;

/// The SCR bits (B4.1.129).
pub mod scr {
    /// Non-secure: PL1 and PL0 outside Monitor mode are in Non-secure state.
    pub const NS: u32 = 1 << 0;
    /// IRQs are taken to Monitor mode.
    pub const IRQ: u32 = 1 << 1;
    /// FIQs are taken to Monitor mode.
    pub const FIQ: u32 = 1 << 2;
    /// CPSR.F may be changed in Non-secure state.
    pub const FW: u32 = 1 << 4;
    /// CPSR.A may be changed in Non-secure state.
    pub const AW: u32 = 1 << 5;
}

/// What the CPU must do after a CP15 write.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Cp15Effect {
    /// Nothing beyond the register write.
    Nothing,
    /// Translation changed: flush the whole software TLB.
    FlushTlb,
    /// TLB maintenance by address: flush the entries for this virtual address.
    FlushTlbPage(u32),
    /// Instruction cache invalidation: end the block, so the next instructions are fetched
    /// afresh (predecoded code itself is kept coherent with memory writes).
    FlushCode,
    /// An address translation operation (ATS1C*, ATS12NSO*): translate `va` with the
    /// `nonsecure` world's translation registers and write the result to PAR.
    Translate {
        va: u32,
        write: bool,
        user: bool,
        nonsecure: bool,
    },
    /// CP15 wait-for-interrupt (c7, c0, 4).
    WaitForInterrupt,
}

/// The CP15 state of one core.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Cp15 {
    model: CpuModel,
    cpu_index: u32,
    cluster_size: u32,
    pub sctlr: u32,
    pub actlr: u32,
    pub cpacr: u32,
    pub ttbr0: u32,
    pub ttbr1: u32,
    pub ttbcr: u32,
    /// The high words of the 64-bit TTBR0/TTBR1 of the long-descriptor format (MCRR/MRRC;
    /// BADDR\[39:32\] and the ASID in bits 55:48). The short-descriptor format ignores them.
    pub ttbr0_hi: u32,
    pub ttbr1_hi: u32,
    /// The high word of the 64-bit PAR an address translation writes with TTBCR.EAE set.
    pub par_hi: u32,
    pub dacr: u32,
    pub dfsr: u32,
    pub ifsr: u32,
    pub adfsr: u32,
    pub aifsr: u32,
    pub dfar: u32,
    pub ifar: u32,
    pub par: u32,
    pub csselr: u32,
    pub prrr: u32,
    pub nmrr: u32,
    pub vbar: u32,
    pub fcseidr: u32,
    pub contextidr: u32,
    pub tpidrurw: u32,
    pub tpidruro: u32,
    pub tpidrprw: u32,
    /// Secure Configuration Register.
    pub scr: u32,
    /// Secure debug enable register.
    pub sder: u32,
    /// Non-Secure Access Control Register.
    pub nsacr: u32,
    /// Monitor Vector Base Address Register.
    pub mvbar: u32,
    /// Cortex-A9 power control / diagnostic registers (c15, c0, 0..2).
    pub a9_power: [u32; 3],
    /// Hyp Vector Base Address Register (A15 only; there is no Hyp mode to use it).
    pub hvbar: u32,
    /// Hyp Configuration Register (A15 only; stored, not acted on).
    pub hcr: u32,
    /// The CPU is in Non-secure state: the fields above are the Non-secure copies.
    pub nonsecure: bool,
    /// The other world's copies of the banked registers.
    pub other_world: OtherWorld,
}

impl Cp15 {
    pub fn new(model: CpuModel, cpu_index: usize, cluster_size: usize) -> Cp15 {
        Cp15 {
            model,
            cpu_index: cpu_index as u32,
            cluster_size: cluster_size as u32,
            sctlr: 0x00c5_0078,
            actlr: 0,
            cpacr: 0,
            ttbr0: 0,
            ttbr1: 0,
            ttbcr: 0,
            ttbr0_hi: 0,
            ttbr1_hi: 0,
            par_hi: 0,
            dacr: 0,
            dfsr: 0,
            ifsr: 0,
            adfsr: 0,
            aifsr: 0,
            dfar: 0,
            ifar: 0,
            par: 0,
            csselr: 0,
            // QEMU resets PRRR and NMRR to zero.
            prrr: 0,
            nmrr: 0,
            vbar: 0,
            fcseidr: 0,
            contextidr: 0,
            tpidrurw: 0,
            tpidruro: 0,
            tpidrprw: 0,
            scr: 0,
            sder: 0,
            nsacr: 0,
            mvbar: 0,
            a9_power: [0; 3],
            hvbar: 0,
            hcr: 0,
            nonsecure: false,
            // Both worlds reset alike: SCTLR to its reset value, the rest to zero (QEMU).
            other_world: OtherWorld {
                sctlr: 0x00c5_0078,
                ..OtherWorld::default()
            },
        }
    }

    /// Run `access` on the copies of the banked registers that MRC/MCR reach: those of the
    /// world SCR.NS selects. They differ from the current copies only in Monitor mode with
    /// SCR.NS set, where the Non-secure copies are swapped in for the access.
    pub fn with_access_bank<R>(&mut self, access: impl FnOnce(&mut Cp15) -> R) -> R {
        let other = (self.scr & scr::NS != 0) != self.nonsecure;
        if other {
            self.swap_worlds();
        }
        let result = access(self);
        if other {
            self.swap_worlds();
        }
        result
    }

    /// MRC: read a register; `None` if it is UNDEFINED for this core, privilege or world.
    pub fn read(&mut self, key: RegKey, privileged: bool) -> Option<u32> {
        self.with_access_bank(|c| c.read_current(key, privileged))
    }

    /// MCR: write a register; `None` if it is UNDEFINED for this core, privilege or world.
    pub fn write(&mut self, key: RegKey, v: u32, privileged: bool) -> Option<Cp15Effect> {
        self.with_access_bank(|c| c.write_current(key, v, privileged))
    }

    /// SCTLR.A: alignment faults for all unaligned accesses.
    #[inline]
    pub fn alignment_checking(&self) -> bool {
        self.sctlr & sctlr::A != 0
    }

    /// The base of the exception vectors: 0xffff0000 with SCTLR.V (high vectors), else VBAR.
    pub fn exception_vector_base(&self) -> u32 {
        if self.sctlr & sctlr::V != 0 {
            0xffff_0000
        } else {
            self.vbar
        }
    }

    /// The long-descriptor translation table format is in use (TTBCR.EAE; only the A15 can
    /// set it): translation walks, fault status codes and PAR take their LPAE forms.
    #[inline]
    pub fn lpae(&self) -> bool {
        self.ttbcr & TTBCR_EAE != 0
    }

    /// Short-descriptor PXN bits exist (cores with LPAE: the Cortex-A15).
    pub fn has_pxn(&self) -> bool {
        self.model == CpuModel::CortexA15
    }

    /// The MIDR (main ID register).
    pub fn midr(&self) -> u32 {
        match self.model {
            CpuModel::CortexA9 => 0x410f_c090,
            CpuModel::CortexA15 => 0x414f_c0f0,
        }
    }

    fn id_registers(&self) -> &'static [u32; 16] {
        // ID_PFR0, ID_PFR1, ID_DFR0, ID_AFR0, ID_MMFR0..3, ID_ISAR0..5, 0, 0.
        match self.model {
            CpuModel::CortexA9 => &[
                0x0000_1031,
                0x0000_0011,
                0x0000_0000,
                0,
                0x0010_0103,
                0x2000_0000,
                0x0123_0000,
                0x0000_2111,
                0x0010_1111,
                0x1311_2111,
                0x2123_2041,
                0x1111_2131,
                0x0011_1142,
                0,
                0,
                0,
            ],
            CpuModel::CortexA15 => &[
                0x0000_1131,
                0x0001_1011,
                0x0201_0555,
                0,
                0x1020_1105,
                0x2000_0000,
                0x0124_0000,
                0x0210_2211,
                0x0210_1110,
                0x1311_2111,
                0x2123_2041,
                0x1111_2131,
                0x1001_1142,
                0,
                0,
                0,
            ],
        }
    }

    fn ctr(&self) -> u32 {
        match self.model {
            CpuModel::CortexA9 => 0x8003_8003,
            CpuModel::CortexA15 => 0x8444_c004,
        }
    }

    fn clidr(&self) -> u32 {
        match self.model {
            CpuModel::CortexA9 => (1 << 27) | (1 << 24) | 3,
            CpuModel::CortexA15 => 0x0a20_0023,
        }
    }

    fn ccsidr(&self) -> u32 {
        let table: &[u32] = match self.model {
            CpuModel::CortexA9 => &[0xe00f_e019, 0x200f_e019],
            CpuModel::CortexA15 => &[0x701f_e00a, 0x201f_e00a, 0x711f_e07a],
        };
        table.get(self.csselr as usize & 0xf).copied().unwrap_or(0)
    }

    fn mpidr(&self) -> u32 {
        0x8000_0000 | self.cpu_index
    }

    /// Read a register from the current copies.
    fn read_current(&self, key: RegKey, privileged: bool) -> Option<u32> {
        // Registers User mode may read.
        match key {
            (13, 0, 0, 2) => return Some(self.tpidrurw),
            (13, 0, 0, 3) => return Some(self.tpidruro),
            _ if !privileged => return None,
            _ => {}
        }
        let a15 = self.model == CpuModel::CortexA15;
        let secure = !self.nonsecure;
        Some(match key {
            (0, 0, 0, 0) | (0, 0, 0, 4) | (0, 0, 0, 6) | (0, 0, 0, 7) => self.midr(),
            (0, 0, 0, 1) => self.ctr(),
            (0, 0, 0, 2) | (0, 0, 0, 3) => 0,
            (0, 0, 0, 5) => self.mpidr(),
            (0, 0, 1, n) => self.id_registers()[n as usize],
            (0, 0, 2, n) => self.id_registers()[8 + n as usize],
            (0, 0, 3..=7, _) => 0,
            (0, 1, 0, 0) => self.ccsidr(),
            (0, 1, 0, 1) => self.clidr(),
            (0, 1, 0, 7) => 0,
            (0, 2, 0, 0) => self.csselr,
            (1, 0, 0, 0) => self.sctlr,
            // ACTLR reads as zero and ignores writes, as in QEMU.
            (1, 0, 0, 1) => 0,
            (1, 0, 0, 2) if self.nonsecure && self.nsacr & NSACR_CP10 == 0 => 0xff0f_ffff,
            (1, 0, 0, 2) => self.cpacr,
            (1, 0, 1, 0) if secure => self.scr,
            (1, 0, 1, 1) if secure => self.sder,
            (1, 0, 1, 2) => self.nsacr,
            (12, 0, 0, 1) if secure => self.mvbar,
            (12, 4, 0, 0) if a15 && secure => self.hvbar,
            (1, 4, 1, 0) if a15 && secure => self.hcr,
            (2, 0, 0, 0) => self.ttbr0,
            (2, 0, 0, 1) => self.ttbr1,
            (2, 0, 0, 2) => self.ttbcr,
            (3, 0, 0, 0) => self.dacr,
            (5, 0, 0, 0) => self.dfsr,
            (5, 0, 0, 1) => self.ifsr,
            // The auxiliary fault status registers read as zero (QEMU).
            (5, 0, 1, 0) | (5, 0, 1, 1) => 0,
            // AMAIR0/1 on the A15: RAZ/WI.
            (10, 0, 3, 0 | 1) if a15 => 0,
            (6, 0, 0, 0) => self.dfar,
            (6, 0, 0, 2) => self.ifar,
            (7, 0, 4, 0) => self.par,
            (10, 0, 2, 0) => self.prrr,
            (10, 0, 2, 1) => self.nmrr,
            (12, 0, 0, 0) => self.vbar,
            (13, 0, 0, 0) => self.fcseidr,
            (13, 0, 0, 1) => self.contextidr,
            (13, 0, 0, 4) => self.tpidrprw,
            // Cortex-A15: L2CTLR reports the number of CPUs and the interrupt controller;
            // L2ECTLR reads as zero.
            (9, 1, 0, 2) if a15 => ((self.cluster_size - 1) << 24) | (1 << 23),
            (9, 1, 0, 3) if a15 => 0,
            // Configuration base address (the MPCore private region).
            (15, 4, 0, 0) => {
                if a15 {
                    0x2c00_0000
                } else {
                    0x1e00_0000
                }
            }
            (15, 0, 0, n @ 0..=2) if !a15 => self.a9_power[n as usize],
            (15, 0, 1, 0) if !a15 => 0,
            (15, 5, 5..=7, 2) if !a15 => 0,
            // The A15's IMPLEMENTATION DEFINED c15 space reads as zero (QEMU's dummy c15 regs).
            (15, _, _, _) if a15 => 0,
            _ => return None,
        })
    }

    /// Write a register of the current copies.
    fn write_current(&mut self, key: RegKey, v: u32, privileged: bool) -> Option<Cp15Effect> {
        use Cp15Effect::*;
        if key == (13, 0, 0, 2) {
            self.tpidrurw = v;
            return Some(Nothing);
        }
        if !privileged {
            return Option::None;
        }
        let a15 = self.model == CpuModel::CortexA15;
        let secure = !self.nonsecure;
        Some(match key {
            (0, 2, 0, 0) => {
                self.csselr = v & 0xf;
                Nothing
            }
            (1, 0, 0, 0) => {
                // QEMU lets every SCTLR bit be written; the ones armvex acts on are M, A, V,
                // EE, TE, TRE, AFE and (A15) WXN/UWXN.
                let old = self.sctlr;
                self.sctlr = v;
                if old != v { FlushTlb } else { Nothing }
            }
            (1, 0, 0, 1) => Nothing,
            (1, 0, 0, 2) => {
                // CP10/CP11 access, ASEDIS and D32DIS; in Non-secure state the CP10/CP11
                // fields keep their value unless NSACR.cp10 allows Non-secure access.
                let keep = if self.nonsecure && self.nsacr & NSACR_CP10 == 0 {
                    CPACR_CP10_CP11
                } else {
                    0
                };
                self.cpacr = (v & 0xc0f0_0000 & !keep) | (self.cpacr & keep);
                Nothing
            }
            (1, 0, 1, 0) if secure => {
                let old = self.scr;
                self.scr = v & if a15 { 0x33ff } else { 0x327f };
                // SCR.NS changes the security state at once outside Monitor mode.
                if (old ^ self.scr) & scr::NS != 0 {
                    FlushTlb
                } else {
                    Nothing
                }
            }
            (1, 0, 1, 1) if secure => {
                self.sder = v & 3;
                Nothing
            }
            (1, 0, 1, 2) if secure => {
                self.nsacr = v;
                Nothing
            }
            (12, 0, 0, 1) if secure => {
                self.mvbar = v & !0x1f;
                Nothing
            }
            (12, 4, 0, 0) if a15 && secure => {
                self.hvbar = v & !0x1f;
                Nothing
            }
            (1, 4, 1, 0) if a15 && secure => {
                self.hcr = v;
                Nothing
            }
            (2, 0, 0, 0) => {
                self.ttbr0 = v;
                FlushTlb
            }
            (2, 0, 0, 1) => {
                self.ttbr1 = v;
                FlushTlb
            }
            (2, 0, 0, 2) => {
                // The A15 keeps its LPAE fields (EAE and the long-descriptor controls).
                // With EAE set the A15 keeps the long-descriptor (LPAE) fields instead.
                self.ttbcr = v & if a15 && v & TTBCR_EAE != 0 { 0xffc7_3f87 } else { 0x37 };
                FlushTlb
            }
            (3, 0, 0, 0) => {
                self.dacr = v;
                FlushTlb
            }
            (5, 0, 0, 0) => {
                self.dfsr = v;
                Nothing
            }
            (5, 0, 0, 1) => {
                self.ifsr = v;
                Nothing
            }
            (5, 0, 1, 0 | 1) => Nothing,
            (10, 0, 3, 0 | 1) if a15 => Nothing,
            (6, 0, 0, 0) => {
                self.dfar = v;
                Nothing
            }
            (6, 0, 0, 2) => {
                self.ifar = v;
                Nothing
            }
            (7, 0, 0, 4) => WaitForInterrupt,
            (7, 0, 4, 0) => {
                self.par = v;
                Nothing
            }
            // Instruction cache and branch predictor invalidation.
            (7, 0, 1, 0) | (7, 0, 5, 0) | (7, 0, 5, 1) => FlushCode,
            (7, 0, 1, 6) | (7, 0, 5, 6) | (7, 0, 5, 7) | (7, 0, 5, 4) => Nothing,
            // Data cache maintenance and the CP15 barriers: nothing to do without caches.
            (7, 0, 6, 1 | 2) | (7, 0, 10, 1 | 2 | 4 | 5) | (7, 0, 11, 1) | (7, 0, 14, 1 | 2) => Nothing,
            (7, 0, 8, op2 @ 0..=3) => Translate {
                va: v,
                write: op2 & 1 != 0,
                user: op2 >= 2,
                nonsecure: self.nonsecure,
            },
            // ATS12NSOPR/PW/UR/UW: Secure PL1 translating as the Non-secure world would (with
            // no Hyp mode, stage 1 is the whole translation).
            (7, 0, 8, op2 @ 4..=7) if secure => Translate {
                va: v,
                write: op2 & 1 != 0,
                user: op2 >= 6,
                nonsecure: true,
            },
            // TLB maintenance: everything, by ASID, by address (any ASID).
            (8, 0, 3 | 5 | 6 | 7, 0 | 2) => FlushTlb,
            (8, 0, 3 | 5 | 6 | 7, 1 | 3) => FlushTlbPage(v),
            (10, 0, 0, 0) if !a15 => Nothing,
            (10, 0, 2, 0) => {
                self.prrr = v;
                FlushTlb
            }
            (10, 0, 2, 1) => {
                self.nmrr = v;
                FlushTlb
            }
            (12, 0, 0, 0) => {
                self.vbar = v & !0x1f;
                Nothing
            }
            (13, 0, 0, 0) => {
                // FCSEIDR holds what is written (as QEMU); the FCSE PID is not applied to
                // addresses (the Cortex cores deprecate it and Linux never sets it).
                self.fcseidr = v;
                Nothing
            }
            (13, 0, 0, 1) => {
                let old = self.contextidr;
                self.contextidr = v;
                if old & 0xff != v & 0xff { FlushTlb } else { Nothing }
            }
            (13, 0, 0, 3) => {
                self.tpidruro = v;
                Nothing
            }
            (13, 0, 0, 4) => {
                self.tpidrprw = v;
                Nothing
            }
            (9, 1, 0, 2 | 3) if a15 => Nothing,
            (15, 0, 0, n @ 0..=2) if !a15 => {
                self.a9_power[n as usize] = v;
                Nothing
            }
            (15, 0, 1, 0) if !a15 => Nothing,
            (15, 5, 4, 2 | 4) | (15, 5, 5..=7, 2) if !a15 => Nothing,
            (15, 4, 0, 0) => Nothing,
            (15, _, _, _) if a15 => Nothing,
            _ => return Option::None,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn identification() {
        let mut a9 = Cp15::new(CpuModel::CortexA9, 1, 2);
        assert_eq!(a9.read((0, 0, 0, 0), true), Some(0x410f_c090));
        assert_eq!(a9.read((0, 0, 0, 5), true), Some(0x8000_0001));
        assert_eq!(a9.read((0, 0, 0, 0), false), None, "MIDR is PL1 only");
        let mut a15 = Cp15::new(CpuModel::CortexA15, 0, 4);
        assert_eq!(a15.read((0, 0, 0, 0), true), Some(0x414f_c0f0));
        assert_eq!(a15.read((9, 1, 0, 2), true), Some(0x0380_0000));
        assert_eq!(a9.read((9, 1, 0, 2), true), None);
    }

    #[test]
    fn translation_registers_flush_the_tlb() {
        let mut c = Cp15::new(CpuModel::CortexA9, 0, 1);
        assert_eq!(c.write((2, 0, 0, 0), 0x6000_4000, true), Some(Cp15Effect::FlushTlb));
        assert_eq!(
            c.write((13, 0, 0, 1), 0x100, true),
            Some(Cp15Effect::Nothing),
            "same ASID"
        );
        assert_eq!(c.write((13, 0, 0, 1), 0x101, true), Some(Cp15Effect::FlushTlb));
        assert_eq!(
            c.write((8, 0, 7, 1), 0x1234, true),
            Some(Cp15Effect::FlushTlbPage(0x1234))
        );
        assert_eq!(c.write((1, 0, 0, 0), 0x00c5_1078 | 1, true), Some(Cp15Effect::FlushTlb));
        assert_eq!(c.sctlr & 1, 1);
    }

    #[test]
    fn user_access() {
        let mut c = Cp15::new(CpuModel::CortexA9, 0, 1);
        assert_eq!(c.write((13, 0, 0, 2), 5, false), Some(Cp15Effect::Nothing));
        assert_eq!(c.read((13, 0, 0, 2), false), Some(5));
        assert_eq!(c.write((13, 0, 0, 3), 5, false), None);
        assert_eq!(c.read((13, 0, 0, 3), false), Some(0));
        assert_eq!(c.write((1, 0, 0, 0), 0, false), None);
    }
}
