//! # armvex-fpu: VFP arithmetic with ARM's exact semantics (under construction)
//!
//! The interface the CPU crate programs against. Every operation takes and returns IEEE bit
//! patterns (`u32` single, `u64` double) and an [`FpContext`] holding the FPSCR controls and
//! the cumulative exception flags.

/// Rounding modes, in FPSCR.RMode order.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Rounding {
    /// Round to nearest, ties to even (RN).
    NearestEven = 0,
    /// Round towards plus infinity (RP).
    PlusInfinity = 1,
    /// Round towards minus infinity (RM).
    MinusInfinity = 2,
    /// Round towards zero (RZ).
    Zero = 3,
}

/// Cumulative exception flag bits, in FPSCR positions.
pub mod flags {
    pub const IOC: u32 = 1 << 0;
    pub const DZC: u32 = 1 << 1;
    pub const OFC: u32 = 1 << 2;
    pub const UFC: u32 = 1 << 3;
    pub const IXC: u32 = 1 << 4;
    pub const IDC: u32 = 1 << 7;
}

/// The FPSCR controls an operation obeys, and the flags it raises.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct FpContext {
    pub rounding: Rounding,
    /// FPSCR.FZ: flush denormal inputs and outputs to zero.
    pub flush_to_zero: bool,
    /// FPSCR.DN: any NaN result is the default NaN.
    pub default_nan: bool,
    /// Cumulative exception flags (bits of [`flags`]); operations only ever set bits.
    pub flags: u32,
}
