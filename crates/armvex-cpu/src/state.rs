//! Processor modes, banked registers and the program status register.
//!
//! ARMv7-A has nine processor modes (ARM ARM B1.3.1). Registers R13 (SP) and R14 (LR) are banked
//! per mode, FIQ mode also banks R8–R12, and each exception mode has a Saved Program Status
//! Register (SPSR). The CPU keeps the *current* mode's view in `regs[0..16]` and parks the other
//! banks in [`BankedRegisters`]; a mode change swaps them (B1.3.2).
//!
//! The CPSR (B1.3.3) is kept split into fields. The condition flags are kept *lazily*, in the
//! form that makes setting them cheapest: the N flag is bit 31 of `nf`, the Z flag is set when
//! `zf == 0`, C is `cf` (0 or 1) and V is bit 31 of `vf`. An ADDS then just stores its result
//! into `nf` and `zf` and computes C and V with two cheap operations.

/// A processor mode (CPSR.M).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
#[repr(u8)]
pub enum Mode {
    User = 0x10,
    Fiq = 0x11,
    Irq = 0x12,
    Supervisor = 0x13,
    Monitor = 0x16,
    Abort = 0x17,
    Hyp = 0x1a,
    Undefined = 0x1b,
    System = 0x1f,
}

impl Mode {
    /// The mode encoded by CPSR.M bits, if valid.
    pub fn from_bits(m: u32) -> Option<Mode> {
        Some(match m & 0x1f {
            0x10 => Mode::User,
            0x11 => Mode::Fiq,
            0x12 => Mode::Irq,
            0x13 => Mode::Supervisor,
            0x16 => Mode::Monitor,
            0x17 => Mode::Abort,
            0x1a => Mode::Hyp,
            0x1b => Mode::Undefined,
            0x1f => Mode::System,
            _ => return None,
        })
    }

    /// Index of this mode's bank of R13/R14/SPSR (User and System share bank 0).
    #[inline]
    pub fn bank(self) -> usize {
        match self {
            Mode::User | Mode::System => 0,
            Mode::Fiq => 1,
            Mode::Irq => 2,
            Mode::Supervisor => 3,
            Mode::Abort => 4,
            Mode::Undefined => 5,
            Mode::Monitor => 6,
            Mode::Hyp => 7,
        }
    }

    /// True for the modes that have an SPSR (all but User and System).
    #[inline]
    pub fn has_spsr(self) -> bool {
        !matches!(self, Mode::User | Mode::System)
    }

    /// True for the modes that run at PL1 or higher.
    #[inline]
    pub fn is_privileged(self) -> bool {
        self != Mode::User
    }

    /// The short name QEMU uses in its CPU dumps ("svc32", "usr32", ...).
    pub fn name(self) -> &'static str {
        match self {
            Mode::User => "usr",
            Mode::Fiq => "fiq",
            Mode::Irq => "irq",
            Mode::Supervisor => "svc",
            Mode::Monitor => "mon",
            Mode::Abort => "abt",
            Mode::Hyp => "hyp",
            Mode::Undefined => "und",
            Mode::System => "sys",
        }
    }
}

/// Registers not visible in the current mode.
#[derive(Clone, Debug, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct BankedRegisters {
    /// R13 of each bank (see [`Mode::bank`]).
    pub sp: [u32; 8],
    /// R14 of each bank.
    pub lr: [u32; 8],
    /// SPSR of each bank (bank 0 has none).
    pub spsr: [u32; 8],
    /// R8–R12 of every mode but FIQ.
    pub r8_12_usr: [u32; 5],
    /// R8–R12 of FIQ mode.
    pub r8_12_fiq: [u32; 5],
}

/// CPSR bit positions and masks (ARM ARM B1.3.3).
pub mod psr {
    pub const N: u32 = 1 << 31;
    pub const Z: u32 = 1 << 30;
    pub const C: u32 = 1 << 29;
    pub const V: u32 = 1 << 28;
    pub const Q: u32 = 1 << 27;
    pub const IT_LOW: u32 = 3 << 25;
    pub const J: u32 = 1 << 24;
    pub const GE: u32 = 0xf << 16;
    pub const IT_HIGH: u32 = 0x3f << 10;
    pub const E: u32 = 1 << 9;
    pub const A: u32 = 1 << 8;
    pub const I: u32 = 1 << 7;
    pub const F: u32 = 1 << 6;
    pub const T: u32 = 1 << 5;
    pub const M: u32 = 0x1f;
    pub const NZCV: u32 = N | Z | C | V;
    /// The bits an instruction may change in User mode (APSR plus the E bit, as in QEMU).
    pub const USER_WRITABLE: u32 = NZCV | Q | GE | E;
    /// The execution-state bits MSR may not change in the CPSR.
    pub const EXEC: u32 = IT_LOW | IT_HIGH | J | T;
    /// The bits that exist in ARMv7 (both cores report Jazelle in ID_ISAR1, so J is kept in
    /// SPSRs, as QEMU does; MSR can never set it in the CPSR, see [`EXEC`]).
    pub const VALID: u32 = 0xff0f_ffff;
}

/// Splits an ITSTATE byte into the CPSR bits that hold it (IT\[1:0\] in 26:25, IT\[7:2\] in 15:10).
#[inline]
pub fn it_to_psr(it: u8) -> u32 {
    (u32::from(it & 3) << 25) | (u32::from(it >> 2) << 10)
}

/// Gathers the ITSTATE byte from CPSR bits.
#[inline]
pub fn it_from_psr(psr: u32) -> u8 {
    (((psr >> 25) & 3) | (((psr >> 10) & 0x3f) << 2)) as u8
}
