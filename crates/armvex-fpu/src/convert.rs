//! Conversions: `FPConvert` between precisions (including half precision, IEEE or ARM's
//! alternative format), `FPToFixed` (to integers and fixed point, saturating) and
//! `FixedToFP`.

use crate::nan::process_nan;
use crate::parts::{Class, F16, F16_AHP, F32, Format, LEAD, Parts, normalize128, pack, pack_special, unpack};
use crate::{FpContext, Rounding, flags};

/// `FPConvert` from `from` to `to`. `flush_in`/`flush_out` say whether FPSCR.FZ applies to
/// the input and the result: QEMU ignores FZ for the half-precision side of VCVTB/VCVTT.
pub(crate) fn convert(
    ctx: &mut FpContext,
    from: Format,
    to: Format,
    bits: u64,
    flush_in: bool,
    flush_out: bool,
) -> u64 {
    let p = unpack(ctx, from, bits, flush_in);
    if to.alt_half {
        // No NaN or infinity in the destination: both are Invalid Operation.
        match p.class {
            Class::QuietNaN | Class::SignallingNaN => {
                ctx.flags |= flags::IOC;
                return pack_special(to, &Parts::zero(p.sign));
            }
            Class::Infinity => {
                ctx.flags |= flags::IOC;
                return if p.sign { to.sign_bit() } else { 0 } | to.max_normal();
            }
            _ => {}
        }
    } else if p.is_nan() {
        return process_nan(ctx, to, &p);
    }
    pack(ctx, to, ctx.rounding, flush_out, &p)
}

/// Half precision to single (VCVTB/VCVTT.F32.F16). FZ does not apply.
pub(crate) fn f16_to_f32(ctx: &mut FpContext, h: u16, ahp: bool) -> u32 {
    let from = if ahp { F16_AHP } else { F16 };
    convert(ctx, from, F32, h as u64, false, false) as u32
}

/// Single to half precision (VCVTB/VCVTT.F16.F32). FZ flushes a denormal single input but
/// never the half-precision result.
pub(crate) fn f32_to_f16(ctx: &mut FpContext, a: u32, ahp: bool) -> u16 {
    let to = if ahp { F16_AHP } else { F16 };
    let fz = ctx.flush_to_zero;
    convert(ctx, F32, to, a as u64, fz, false) as u16
}

/// `FPToFixed`: `value * 2^frac_bits` rounded to an integer of `width` bits (16 or 32),
/// signed or unsigned, saturating. Returns the integer as a 64-bit two's complement value.
///
/// Flags as QEMU's `float_to_sint`/`float_to_uint` raise them: Inexact when rounding
/// discarded bits; an out-of-range result is Invalid *instead of* Inexact; a NaN is Invalid
/// and converts to 0 (the VFP helpers test for NaN before converting); a negative value
/// that rounds to zero is just Inexact, even for unsigned results.
pub(crate) fn to_fixed(
    ctx: &mut FpContext,
    fmt: Format,
    bits: u64,
    frac_bits: u32,
    signed: bool,
    width: u32,
    mode: Rounding,
) -> i64 {
    let fz = ctx.flush_to_zero;
    let p = unpack(ctx, fmt, bits, fz);
    let (min, max): (i64, i64) = if signed {
        (-(1i64 << (width - 1)), (1i64 << (width - 1)) - 1)
    } else {
        (0, (1i64 << width) - 1)
    };
    match p.class {
        Class::QuietNaN | Class::SignallingNaN => {
            ctx.flags |= flags::IOC;
            return 0;
        }
        Class::Infinity => {
            ctx.flags |= flags::IOC;
            return if p.sign { min } else { max };
        }
        Class::Zero => return 0,
        Class::Normal => {}
    }

    // value = sig * 2^(e - 62) with the scaling applied; round to an integer magnitude.
    let e = p.exp + frac_bits.min(1 << 16) as i32;
    let (magnitude, inexact): (u128, bool) = if e < 0 {
        // |value| < 1: zero or one depending on the mode.
        let one = match mode {
            Rounding::NearestEven => e == -1 && p.sig != 1 << LEAD,
            Rounding::Zero => false,
            Rounding::PlusInfinity => !p.sign,
            Rounding::MinusInfinity => p.sign,
        };
        (one as u128, true)
    } else if e <= LEAD as i32 {
        let frac_len = LEAD - e as u32;
        let int = p.sig >> frac_len;
        let rem = p.sig & ((1u64 << frac_len) - 1);
        let up = rem != 0
            && match mode {
                Rounding::NearestEven => {
                    let half = 1u64 << frac_len >> 1;
                    rem > half || (rem == half && int & 1 == 1)
                }
                Rounding::Zero => false,
                Rounding::PlusInfinity => !p.sign,
                Rounding::MinusInfinity => p.sign,
            };
        (int as u128 + up as u128, rem != 0)
    } else {
        // At least 2^63: out of range for any width we handle.
        (u128::MAX, false)
    };

    if magnitude == 0 {
        if inexact {
            ctx.flags |= flags::IXC;
        }
        return 0;
    }
    let value: i128 = if p.sign {
        -(magnitude.min(1 << 64) as i128)
    } else {
        magnitude.min(1 << 64) as i128
    };
    if value < min as i128 {
        ctx.flags |= flags::IOC;
        min
    } else if value > max as i128 {
        ctx.flags |= flags::IOC;
        max
    } else {
        if inexact {
            ctx.flags |= flags::IXC;
        }
        value as i64
    }
}

/// `FixedToFP`: the integer `value` scaled by `2^-frac_bits`, rounded to `fmt` in `mode`.
pub(crate) fn from_fixed(ctx: &mut FpContext, fmt: Format, value: i64, frac_bits: u32, mode: Rounding) -> u64 {
    if value == 0 {
        return 0;
    }
    let sign = value < 0;
    let magnitude = value.unsigned_abs() as u128;
    let (exp, sig) = normalize128(magnitude, -(frac_bits.min(1 << 16) as i32));
    let fz = ctx.flush_to_zero;
    pack(
        ctx,
        fmt,
        mode,
        fz,
        &Parts {
            sign,
            class: Class::Normal,
            exp,
            sig,
        },
    )
}
