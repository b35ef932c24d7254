//! # armvex-fpu: VFP arithmetic with ARM's exact semantics
//!
//! The VFPv3/VFPv4 scalar floating-point operations of ARMv7-A, bit for bit as QEMU 7.2's
//! ARM target computes them: results, NaN payloads and signs, and the cumulative exception
//! flags IOC, DZC, OFC, UFC, IXC and IDC. The CPU crate decodes the VFP instructions and
//! moves registers; every computation goes through this crate.
//!
//! Every operation takes and returns IEEE bit patterns (`u32` single, `u64` double, `u16`
//! half) and an [`FpContext`] holding the FPSCR controls (rounding mode, FZ, DN) and the
//! cumulative exception flags, which operations only ever OR into. Nothing depends on the
//! host FPU: the arithmetic is integer-only software floating point.
//!
//! ## What the ARM architecture says, and where it is implemented
//!
//! The ARMv7-A/R Architecture Reference Manual (ARM DDI 0406C) describes VFP arithmetic in
//! A2.7 "Floating-point data types and arithmetic", as pseudocode functions, and the
//! instructions that use them in A8.8 (VADD, VFMA, VCVT, ...):
//!
//! | pseudocode | here |
//! |---|---|
//! | `FPUnpack`, `FPRound`, `FPDefaultNaN` | `parts` (private): [`FpContext`] FZ handling, tininess *before* rounding |
//! | `FPProcessNaN`, `FPProcessNaNs`, `FPProcessNaNs3` | `nan` (private) |
//! | `FPAdd`, `FPSub`, `FPMul`, `FPDiv`, `FPSqrt`, `FPMulAdd` | [`add32`], [`sub32`], [`mul32`], [`div32`], [`sqrt32`], [`vfma32`], … |
//! | `FPNeg`, `FPAbs` | [`neg32`], [`abs32`], … |
//! | `FPCompare` | [`compare32`], [`compare64`] |
//! | `FPToFixed`, `FixedToFP` | [`f32_to_i32`], [`i32_to_f32`], [`f32_to_fixed`], [`fixed_to_f32`], … |
//! | `FPConvert`, `FPHalfToSingle`, `FPSingleToHalf` | [`f32_to_f64`], [`f64_to_f32`], [`f16_to_f32`], [`f32_to_f16`] |
//!
//! ## The rules, in short
//!
//! * **Rounding**: FPSCR.RMode, all four modes ([`Rounding`]), with three exceptions: VCVT to
//!   integer rounds towards zero (VCVTR uses RMode: the `round_to_zero` argument), VCVT to
//!   fixed point always rounds towards zero, and VCVT *from* fixed point always rounds to
//!   nearest (the ARM ARM passes `FPRounding_TIEEVEN` to `FixedToFP`; QEMU 7.2 agrees).
//! * **Flush-to-zero** (FPSCR.FZ, [`FpContext::flush_to_zero`]): a denormal *input* is
//!   replaced by a zero of the same sign and raises IDC; a result that is tiny *before*
//!   rounding becomes a zero of the same sign and raises UFC only (not IXC).
//! * **Underflow** without FZ: tininess is detected before rounding, and UFC is raised only
//!   when the tiny result is also inexact (then with IXC).
//! * **Overflow**: OFC and IXC; the result is infinity or the largest finite number,
//!   depending on the rounding mode and sign.
//! * **NaNs**: a signalling NaN operand raises IOC. With FPSCR.DN the result is the default
//!   NaN ([`default_nan32`], [`default_nan64`]); otherwise the first signalling NaN operand,
//!   else the first quiet NaN, is returned with its quiet bit set. For the fused
//!   multiply-add, QEMU's order is addend, then the two factors, and `0 * inf + qNaN` is an
//!   Invalid Operation returning the default NaN.
//! * **Invalid operations** (`inf - inf`, `0 * inf`, `0/0`, `inf/inf`, square root of a
//!   negative number, out-of-range or NaN conversions to integer) raise IOC; arithmetic
//!   ones return the default NaN; `x/0` raises DZC.
//!
//! ## Using it
//!
//! ```
//! use armvex_fpu::{FpContext, add32, f32_to_i32, flags};
//!
//! // FPSCR with RMode = round towards zero, FZ = 1.
//! let mut ctx = FpContext::from_fpscr(0x01c0_0000);
//! assert_eq!(add32(&mut ctx, 0x3f80_0000, 0x3380_0000), 0x3f80_0000); // 1.0 + 2^-24
//! assert_eq!(ctx.flags, flags::IXC);
//! assert_eq!(f32_to_i32(&mut ctx, 0x0000_0001, false), 0); // denormal flushed: IDC
//! assert_eq!(ctx.flags, flags::IXC | flags::IDC);
//! // The CPU writes the flags back: fpscr |= ctx.flags.
//! ```
//!
//! ## How it is checked
//!
//! `oracle/gen.py` runs tens of thousands of VFP instructions on QEMU 7.2 (`-M
//! vexpress-a15`) through a bare-metal harness and records results and FPSCR;
//! `tests/qemu_oracle.rs` replays that table, `tests/named_cases.rs` spells out the
//! interesting cases (each also looked up in QEMU's table), and `tests/host_cross_check.rs`
//! compares round-to-nearest results with the host's IEEE arithmetic.
//!
//! ## Instruction sequences
//!
//! The non-fused multiply-accumulate instructions are two operations with a rounding in
//! between; the order of the operands of the final addition and where negations happen
//! matter for which NaN comes out and its sign. They follow QEMU's `translate-vfp.c`:
//! VMLA = `d + (n*m)`, VMLS = `d + -(n*m)`, VNMLA = `-d + -(n*m)`, VNMLS = `-d + (n*m)`,
//! VNMUL = `-(n*m)`, where `-x` is a plain sign flip ([`neg32`]) that also flips NaNs.
//! The fused VFPv4 instructions negate their inputs the same way and then compute
//! `FPMulAdd(addend, n, m)` once: VFMA = `d + n*m`, VFMS = `d + (-n)*m`, VFNMA =
//! `-d + (-n)*m`, VFNMS = `-d + n*m`.
//!
//! ## Not covered
//!
//! Neon (Advanced SIMD) arithmetic, which uses the "standard FPSCR value" and extra
//! operations (reciprocal estimates, min/max), and ARMv8 additions (VRINT, VSEL,
//! VMAXNM, VCVTA/N/P/M, conversions between half and double precision, half-precision
//! arithmetic) are not provided. FPSCR.LEN/STRIDE short vectors are the caller's business:
//! each element is one scalar operation here.

mod arith;
mod compare;
mod convert;
mod nan;
mod parts;

use parts::{F32, F64};

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

impl Rounding {
    /// The rounding mode encoded in a two-bit FPSCR.RMode field (bits 23:22 of FPSCR,
    /// already shifted down; higher bits are ignored).
    pub fn from_rmode(rmode: u32) -> Rounding {
        match rmode & 3 {
            0 => Rounding::NearestEven,
            1 => Rounding::PlusInfinity,
            2 => Rounding::MinusInfinity,
            _ => Rounding::Zero,
        }
    }
}

/// Cumulative exception flag bits, in FPSCR positions.
pub mod flags {
    /// Invalid Operation.
    pub const IOC: u32 = 1 << 0;
    /// Division by Zero.
    pub const DZC: u32 = 1 << 1;
    /// Overflow.
    pub const OFC: u32 = 1 << 2;
    /// Underflow.
    pub const UFC: u32 = 1 << 3;
    /// Inexact.
    pub const IXC: u32 = 1 << 4;
    /// Input Denormal (a denormal operand was flushed to zero).
    pub const IDC: u32 = 1 << 7;
    /// All of the above.
    pub const ALL: u32 = IOC | DZC | OFC | UFC | IXC | IDC;
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

/// FPSCR.AHP: alternative half-precision format for VCVTB/VCVTT.
pub const FPSCR_AHP: u32 = 1 << 26;
/// FPSCR.DN: default NaN mode.
pub const FPSCR_DN: u32 = 1 << 25;
/// FPSCR.FZ: flush-to-zero mode.
pub const FPSCR_FZ: u32 = 1 << 24;
/// FPSCR.RMode: rounding mode, bits 23:22.
pub const FPSCR_RMODE_SHIFT: u32 = 22;

impl FpContext {
    /// The controls and cumulative flags held in an FPSCR value. (AHP is not part of the
    /// context: pass it to [`f32_to_f16`]/[`f16_to_f32`] directly.)
    pub fn from_fpscr(fpscr: u32) -> FpContext {
        FpContext {
            rounding: Rounding::from_rmode(fpscr >> FPSCR_RMODE_SHIFT),
            flush_to_zero: fpscr & FPSCR_FZ != 0,
            default_nan: fpscr & FPSCR_DN != 0,
            flags: fpscr & flags::ALL,
        }
    }
}

impl Default for FpContext {
    /// FPSCR = 0: round to nearest, no FZ, no DN, no flags.
    fn default() -> FpContext {
        FpContext::from_fpscr(0)
    }
}

/// The default NaN of single precision: `0x7fc00000`.
pub const fn default_nan32() -> u32 {
    F32.default_nan() as u32
}

/// The default NaN of double precision: `0x7ff8000000000000`.
pub const fn default_nan64() -> u64 {
    F64.default_nan()
}

// ------------------------------------------------------------------ basic arithmetic

/// VADD.F32: `FPAdd(a, b)`.
pub fn add32(ctx: &mut FpContext, a: u32, b: u32) -> u32 {
    arith::add(ctx, F32, a as u64, b as u64, false) as u32
}
/// VSUB.F32: `FPSub(a, b)`. A NaN `b` keeps its sign.
pub fn sub32(ctx: &mut FpContext, a: u32, b: u32) -> u32 {
    arith::add(ctx, F32, a as u64, b as u64, true) as u32
}
/// VMUL.F32: `FPMul(a, b)`.
pub fn mul32(ctx: &mut FpContext, a: u32, b: u32) -> u32 {
    arith::mul(ctx, F32, a as u64, b as u64) as u32
}
/// VDIV.F32: `FPDiv(a, b)`.
pub fn div32(ctx: &mut FpContext, a: u32, b: u32) -> u32 {
    arith::div(ctx, F32, a as u64, b as u64) as u32
}
/// VSQRT.F32: `FPSqrt(a)`.
pub fn sqrt32(ctx: &mut FpContext, a: u32) -> u32 {
    arith::sqrt(ctx, F32, a as u64) as u32
}
/// VADD.F64: `FPAdd(a, b)`.
pub fn add64(ctx: &mut FpContext, a: u64, b: u64) -> u64 {
    arith::add(ctx, F64, a, b, false)
}
/// VSUB.F64: `FPSub(a, b)`. A NaN `b` keeps its sign.
pub fn sub64(ctx: &mut FpContext, a: u64, b: u64) -> u64 {
    arith::add(ctx, F64, a, b, true)
}
/// VMUL.F64: `FPMul(a, b)`.
pub fn mul64(ctx: &mut FpContext, a: u64, b: u64) -> u64 {
    arith::mul(ctx, F64, a, b)
}
/// VDIV.F64: `FPDiv(a, b)`.
pub fn div64(ctx: &mut FpContext, a: u64, b: u64) -> u64 {
    arith::div(ctx, F64, a, b)
}
/// VSQRT.F64: `FPSqrt(a)`.
pub fn sqrt64(ctx: &mut FpContext, a: u64) -> u64 {
    arith::sqrt(ctx, F64, a)
}

// ------------------------------------------------------------------ sign operations

/// VNEG.F32: flip the sign bit. No flags, no NaN processing, no flushing; `ctx` is unused
/// (it is there so every operation has the same shape).
pub fn neg32(_ctx: &mut FpContext, a: u32) -> u32 {
    a ^ 0x8000_0000
}
/// VABS.F32: clear the sign bit. No flags, no NaN processing, no flushing.
pub fn abs32(_ctx: &mut FpContext, a: u32) -> u32 {
    a & 0x7fff_ffff
}
/// VNEG.F64: flip the sign bit. No flags, no NaN processing, no flushing.
pub fn neg64(_ctx: &mut FpContext, a: u64) -> u64 {
    a ^ (1 << 63)
}
/// VABS.F64: clear the sign bit. No flags, no NaN processing, no flushing.
pub fn abs64(_ctx: &mut FpContext, a: u64) -> u64 {
    a & !(1 << 63)
}

// ------------------------------------------------------------------ multiply-accumulate

/// VMLA.F32: `d + (n * m)`, two roundings.
pub fn vmla32(ctx: &mut FpContext, d: u32, n: u32, m: u32) -> u32 {
    let product = mul32(ctx, n, m);
    add32(ctx, d, product)
}
/// VMLS.F32: `d + -(n * m)`, two roundings.
pub fn vmls32(ctx: &mut FpContext, d: u32, n: u32, m: u32) -> u32 {
    let product = mul32(ctx, n, m);
    add32(ctx, d, product ^ 0x8000_0000)
}
/// VNMLA.F32: `-d + -(n * m)`, two roundings.
pub fn vnmla32(ctx: &mut FpContext, d: u32, n: u32, m: u32) -> u32 {
    let product = mul32(ctx, n, m);
    add32(ctx, d ^ 0x8000_0000, product ^ 0x8000_0000)
}
/// VNMLS.F32: `-d + (n * m)`, two roundings.
pub fn vnmls32(ctx: &mut FpContext, d: u32, n: u32, m: u32) -> u32 {
    let product = mul32(ctx, n, m);
    add32(ctx, d ^ 0x8000_0000, product)
}
/// VNMUL.F32: `-(n * m)`.
pub fn vnmul32(ctx: &mut FpContext, n: u32, m: u32) -> u32 {
    mul32(ctx, n, m) ^ 0x8000_0000
}
/// VMLA.F64: `d + (n * m)`, two roundings.
pub fn vmla64(ctx: &mut FpContext, d: u64, n: u64, m: u64) -> u64 {
    let product = mul64(ctx, n, m);
    add64(ctx, d, product)
}
/// VMLS.F64: `d + -(n * m)`, two roundings.
pub fn vmls64(ctx: &mut FpContext, d: u64, n: u64, m: u64) -> u64 {
    let product = mul64(ctx, n, m);
    add64(ctx, d, product ^ (1 << 63))
}
/// VNMLA.F64: `-d + -(n * m)`, two roundings.
pub fn vnmla64(ctx: &mut FpContext, d: u64, n: u64, m: u64) -> u64 {
    let product = mul64(ctx, n, m);
    add64(ctx, d ^ (1 << 63), product ^ (1 << 63))
}
/// VNMLS.F64: `-d + (n * m)`, two roundings.
pub fn vnmls64(ctx: &mut FpContext, d: u64, n: u64, m: u64) -> u64 {
    let product = mul64(ctx, n, m);
    add64(ctx, d ^ (1 << 63), product)
}
/// VNMUL.F64: `-(n * m)`.
pub fn vnmul64(ctx: &mut FpContext, n: u64, m: u64) -> u64 {
    mul64(ctx, n, m) ^ (1 << 63)
}

/// VFMA.F32 (VFPv4): `d + n * m`, one rounding.
pub fn vfma32(ctx: &mut FpContext, d: u32, n: u32, m: u32) -> u32 {
    arith::muladd(ctx, F32, d as u64, n as u64, m as u64) as u32
}
/// VFMS.F32 (VFPv4): `d + (-n) * m`, one rounding.
pub fn vfms32(ctx: &mut FpContext, d: u32, n: u32, m: u32) -> u32 {
    arith::muladd(ctx, F32, d as u64, (n ^ 0x8000_0000) as u64, m as u64) as u32
}
/// VFNMA.F32 (VFPv4): `(-d) + (-n) * m`, one rounding.
pub fn vfnma32(ctx: &mut FpContext, d: u32, n: u32, m: u32) -> u32 {
    arith::muladd(ctx, F32, (d ^ 0x8000_0000) as u64, (n ^ 0x8000_0000) as u64, m as u64) as u32
}
/// VFNMS.F32 (VFPv4): `(-d) + n * m`, one rounding.
pub fn vfnms32(ctx: &mut FpContext, d: u32, n: u32, m: u32) -> u32 {
    arith::muladd(ctx, F32, (d ^ 0x8000_0000) as u64, n as u64, m as u64) as u32
}
/// VFMA.F64 (VFPv4): `d + n * m`, one rounding.
pub fn vfma64(ctx: &mut FpContext, d: u64, n: u64, m: u64) -> u64 {
    arith::muladd(ctx, F64, d, n, m)
}
/// VFMS.F64 (VFPv4): `d + (-n) * m`, one rounding.
pub fn vfms64(ctx: &mut FpContext, d: u64, n: u64, m: u64) -> u64 {
    arith::muladd(ctx, F64, d, n ^ (1 << 63), m)
}
/// VFNMA.F64 (VFPv4): `(-d) + (-n) * m`, one rounding.
pub fn vfnma64(ctx: &mut FpContext, d: u64, n: u64, m: u64) -> u64 {
    arith::muladd(ctx, F64, d ^ (1 << 63), n ^ (1 << 63), m)
}
/// VFNMS.F64 (VFPv4): `(-d) + n * m`, one rounding.
pub fn vfnms64(ctx: &mut FpContext, d: u64, n: u64, m: u64) -> u64 {
    arith::muladd(ctx, F64, d ^ (1 << 63), n, m)
}

// ------------------------------------------------------------------ comparisons

/// VCMP.F32 (`signal_all_nans == false`) and VCMPE.F32 (`true`): the NZCV flags for
/// FPSCR bits 31:28 (equal 0110, less 1000, greater 0010, unordered 0011), other bits zero.
/// VCMP raises IOC only for a signalling NaN, VCMPE for any NaN. With FZ, denormals
/// compare as zeros (raising IDC). For VCMP with #0.0 pass `b = 0`.
pub fn compare32(ctx: &mut FpContext, a: u32, b: u32, signal_all_nans: bool) -> u32 {
    compare::compare(ctx, F32, a as u64, b as u64, signal_all_nans)
}
/// VCMP.F64 / VCMPE.F64; see [`compare32`].
pub fn compare64(ctx: &mut FpContext, a: u64, b: u64, signal_all_nans: bool) -> u32 {
    compare::compare(ctx, F64, a, b, signal_all_nans)
}

// ------------------------------------------------------------------ conversions

/// VCVT.F64.F32.
pub fn f32_to_f64(ctx: &mut FpContext, a: u32) -> u64 {
    let fz = ctx.flush_to_zero;
    convert::convert(ctx, F32, F64, a as u64, fz, fz)
}
/// VCVT.F32.F64.
pub fn f64_to_f32(ctx: &mut FpContext, a: u64) -> u32 {
    let fz = ctx.flush_to_zero;
    convert::convert(ctx, F64, F32, a, fz, fz) as u32
}

/// VCVTB/VCVTT.F16.F32: single to half precision (IEEE, or alternative half precision when
/// `ahp`, i.e. FPSCR.AHP). FZ flushes a denormal input (IDC) but never the half result.
/// In AHP a NaN becomes a zero and an infinity or overflow the largest value, all with IOC.
pub fn f32_to_f16(ctx: &mut FpContext, a: u32, ahp: bool) -> u16 {
    convert::f32_to_f16(ctx, a, ahp)
}
/// VCVTB/VCVTT.F32.F16: half (IEEE, or alternative when `ahp`) to single precision. Always
/// exact; FZ is ignored.
pub fn f16_to_f32(ctx: &mut FpContext, h: u16, ahp: bool) -> u32 {
    convert::f16_to_f32(ctx, h, ahp)
}

fn int_rounding(ctx: &FpContext, round_to_zero: bool) -> Rounding {
    if round_to_zero { Rounding::Zero } else { ctx.rounding }
}

/// VCVT.S32.F32 (`round_to_zero`) / VCVTR.S32.F32 (FPSCR rounding). Saturates; NaN gives 0;
/// IOC for NaN or out of range, IXC when inexact. Returns the integer's bits.
pub fn f32_to_i32(ctx: &mut FpContext, a: u32, round_to_zero: bool) -> u32 {
    let mode = int_rounding(ctx, round_to_zero);
    convert::to_fixed(ctx, F32, a as u64, 0, true, 32, mode) as u32
}
/// VCVT.U32.F32 / VCVTR.U32.F32; see [`f32_to_i32`]. A negative value that rounds to
/// zero gives 0 with IXC; below that, 0 with IOC.
pub fn f32_to_u32(ctx: &mut FpContext, a: u32, round_to_zero: bool) -> u32 {
    let mode = int_rounding(ctx, round_to_zero);
    convert::to_fixed(ctx, F32, a as u64, 0, false, 32, mode) as u32
}
/// VCVT.S32.F64 / VCVTR.S32.F64; see [`f32_to_i32`].
pub fn f64_to_i32(ctx: &mut FpContext, a: u64, round_to_zero: bool) -> u32 {
    let mode = int_rounding(ctx, round_to_zero);
    convert::to_fixed(ctx, F64, a, 0, true, 32, mode) as u32
}
/// VCVT.U32.F64 / VCVTR.U32.F64; see [`f32_to_u32`].
pub fn f64_to_u32(ctx: &mut FpContext, a: u64, round_to_zero: bool) -> u32 {
    let mode = int_rounding(ctx, round_to_zero);
    convert::to_fixed(ctx, F64, a, 0, false, 32, mode) as u32
}

/// VCVT.F32.S32: `v` is the register's bits, read as a signed integer.
pub fn i32_to_f32(ctx: &mut FpContext, v: u32) -> u32 {
    let mode = ctx.rounding;
    convert::from_fixed(ctx, F32, v as i32 as i64, 0, mode) as u32
}
/// VCVT.F32.U32.
pub fn u32_to_f32(ctx: &mut FpContext, v: u32) -> u32 {
    let mode = ctx.rounding;
    convert::from_fixed(ctx, F32, v as i64, 0, mode) as u32
}
/// VCVT.F64.S32 (always exact).
pub fn i32_to_f64(ctx: &mut FpContext, v: u32) -> u64 {
    let mode = ctx.rounding;
    convert::from_fixed(ctx, F64, v as i32 as i64, 0, mode)
}
/// VCVT.F64.U32 (always exact).
pub fn u32_to_f64(ctx: &mut FpContext, v: u32) -> u64 {
    let mode = ctx.rounding;
    convert::from_fixed(ctx, F64, v as i64, 0, mode)
}

fn fixed_width(size16: bool) -> u32 {
    if size16 { 16 } else { 32 }
}

/// VCVT.{S,U}{16,32}.F32 Sd, Sd, #frac_bits: to fixed point, always rounding towards zero
/// (ARM ARM; QEMU uses its `_round_to_zero` helpers). Saturates to the 16- or 32-bit range;
/// the result is sign- (signed) or zero- (unsigned) extended to 32 bits as written to Sd.
/// NaN gives 0 with IOC. `frac_bits` is 0..=16 for 16-bit and 1..=32 for 32-bit operands
/// in valid encodings; other values are computed the same way without panicking.
pub fn f32_to_fixed(ctx: &mut FpContext, a: u32, frac_bits: u32, signed: bool, size16: bool) -> u32 {
    convert::to_fixed(
        ctx,
        F32,
        a as u64,
        frac_bits,
        signed,
        fixed_width(size16),
        Rounding::Zero,
    ) as u32
}
/// VCVT.F32.{S,U}{16,32} Sd, Sd, #frac_bits: from fixed point, always rounding to nearest
/// (the ARM ARM's `FixedToFP(..., round_to_nearest = TRUE)`; QEMU 7.2 does the same, so
/// FPSCR.RMode is ignored). With `size16` only the low 16 bits of `v` are used
/// (sign-extended when `signed`).
pub fn fixed_to_f32(ctx: &mut FpContext, v: u32, frac_bits: u32, signed: bool, size16: bool) -> u32 {
    let value = fixed_operand(v as u64, signed, size16);
    convert::from_fixed(ctx, F32, value, frac_bits, Rounding::NearestEven) as u32
}
/// VCVT.{S,U}{16,32}.F64 Dd, Dd, #frac_bits: as [`f32_to_fixed`], the result extended to
/// the 64 bits written to Dd.
pub fn f64_to_fixed(ctx: &mut FpContext, a: u64, frac_bits: u32, signed: bool, size16: bool) -> u64 {
    convert::to_fixed(ctx, F64, a, frac_bits, signed, fixed_width(size16), Rounding::Zero) as u64
}
/// VCVT.F64.{S,U}{16,32} Dd, Dd, #frac_bits: from the low 16 or 32 bits of `v` (Dd);
/// always exact.
pub fn fixed_to_f64(ctx: &mut FpContext, v: u64, frac_bits: u32, signed: bool, size16: bool) -> u64 {
    let value = fixed_operand(v, signed, size16);
    convert::from_fixed(ctx, F64, value, frac_bits, Rounding::NearestEven)
}

fn fixed_operand(v: u64, signed: bool, size16: bool) -> i64 {
    match (size16, signed) {
        (true, true) => v as u16 as i16 as i64,
        (true, false) => v as u16 as i64,
        (false, true) => v as u32 as i32 as i64,
        (false, false) => v as u32 as i64,
    }
}
