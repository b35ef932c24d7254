//! The arithmetic operations, generic over the format: `FPAdd`/`FPSub`, `FPMul`, `FPDiv`,
//! `FPSqrt` and the fused `FPMulAdd` of the ARM ARM (ARM DDI 0406C, A2.7 "Floating-point
//! data types and arithmetic", where these pseudocode functions are defined), computed
//! exactly and rounded once by [`round_pack`].

use crate::nan::{process_nan, process_nans, process_nans_muladd};
use crate::parts::{Class, Format, LEAD, Parts, normalize128, pack, pack_special, round_pack, shift_right_jam64};
use crate::{FpContext, Rounding, flags};

fn unpack2(ctx: &mut FpContext, fmt: Format, a: u64, b: u64) -> (Parts, Parts) {
    let fz = ctx.flush_to_zero;
    (
        crate::parts::unpack(ctx, fmt, a, fz),
        crate::parts::unpack(ctx, fmt, b, fz),
    )
}

/// Sign of an exact zero sum of two operands of opposite signs: -0 only when rounding
/// towards minus infinity (IEEE 754 §6.3).
fn exact_zero_sign(ctx: &FpContext) -> bool {
    ctx.rounding == Rounding::MinusInfinity
}

/// Add two finite non-zero values exactly (up to a sticky bit) and round.
fn add_normals(ctx: &mut FpContext, fmt: Format, a: &Parts, b: &Parts) -> u64 {
    // Let x be the operand of larger magnitude.
    let (x, y) = if (a.exp, a.sig) >= (b.exp, b.sig) {
        (a, b)
    } else {
        (b, a)
    };
    let d = (x.exp - y.exp) as u32;
    let ys = shift_right_jam64(y.sig, d);
    let mut exp = x.exp;
    let sig;
    if x.sign == y.sign {
        let mut s = x.sig + ys;
        if s >> (LEAD + 1) != 0 {
            s = shift_right_jam64(s, 1);
            exp += 1;
        }
        sig = s;
    } else {
        let s = x.sig - ys;
        if s == 0 {
            return pack_special(fmt, &Parts::zero(exact_zero_sign(ctx)));
        }
        let shift = s.leading_zeros() - 1;
        sig = s << shift;
        exp -= shift as i32;
    }
    round_pack(ctx, fmt, ctx.rounding, ctx.flush_to_zero, x.sign, exp, sig)
}

/// `FPAdd` (and `FPSub` when `subtract`).
pub(crate) fn add(ctx: &mut FpContext, fmt: Format, a: u64, b: u64, subtract: bool) -> u64 {
    let (a, mut b) = unpack2(ctx, fmt, a, b);
    if a.is_nan() || b.is_nan() {
        // The NaN keeps its own sign even when subtracting.
        return process_nans(ctx, fmt, &a, &b);
    }
    b.sign ^= subtract;
    match (a.class, b.class) {
        (Class::Infinity, Class::Infinity) if a.sign != b.sign => {
            ctx.flags |= flags::IOC;
            fmt.default_nan()
        }
        (Class::Infinity, _) => pack_special(fmt, &a),
        (_, Class::Infinity) => pack_special(fmt, &b),
        (Class::Zero, Class::Zero) => {
            let sign = if a.sign == b.sign { a.sign } else { exact_zero_sign(ctx) };
            pack_special(fmt, &Parts::zero(sign))
        }
        (Class::Zero, _) => pack(ctx, fmt, ctx.rounding, ctx.flush_to_zero, &b),
        (_, Class::Zero) => pack(ctx, fmt, ctx.rounding, ctx.flush_to_zero, &a),
        _ => add_normals(ctx, fmt, &a, &b),
    }
}

/// `FPMul`.
pub(crate) fn mul(ctx: &mut FpContext, fmt: Format, a: u64, b: u64) -> u64 {
    let (a, b) = unpack2(ctx, fmt, a, b);
    if a.is_nan() || b.is_nan() {
        return process_nans(ctx, fmt, &a, &b);
    }
    let sign = a.sign ^ b.sign;
    if (a.is_inf() && b.is_zero()) || (a.is_zero() && b.is_inf()) {
        ctx.flags |= flags::IOC;
        return fmt.default_nan();
    }
    if a.is_inf() || b.is_inf() {
        return pack_special(fmt, &Parts::infinity(sign));
    }
    if a.is_zero() || b.is_zero() {
        return pack_special(fmt, &Parts::zero(sign));
    }
    let product = a.sig as u128 * b.sig as u128;
    let (exp, sig) = normalize128(product, a.exp + b.exp - 2 * LEAD as i32);
    round_pack(ctx, fmt, ctx.rounding, ctx.flush_to_zero, sign, exp, sig)
}

/// `FPDiv`.
pub(crate) fn div(ctx: &mut FpContext, fmt: Format, a: u64, b: u64) -> u64 {
    let (a, b) = unpack2(ctx, fmt, a, b);
    if a.is_nan() || b.is_nan() {
        return process_nans(ctx, fmt, &a, &b);
    }
    let sign = a.sign ^ b.sign;
    if (a.is_zero() && b.is_zero()) || (a.is_inf() && b.is_inf()) {
        ctx.flags |= flags::IOC;
        return fmt.default_nan();
    }
    if a.is_inf() || b.is_zero() {
        if b.is_zero() && !a.is_inf() {
            ctx.flags |= flags::DZC;
        }
        return pack_special(fmt, &Parts::infinity(sign));
    }
    if a.is_zero() || b.is_inf() {
        return pack_special(fmt, &Parts::zero(sign));
    }
    let dividend = (a.sig as u128) << 64;
    let divisor = b.sig as u128;
    let quotient = dividend / divisor;
    // The quotient has at least 64 significant bits, so the remainder can be jammed into
    // bit 0 without disturbing rounding.
    let sticky = (dividend % divisor != 0) as u128;
    let (exp, sig) = normalize128(quotient | sticky, a.exp - b.exp - 64);
    round_pack(ctx, fmt, ctx.rounding, ctx.flush_to_zero, sign, exp, sig)
}

/// `FPSqrt`.
pub(crate) fn sqrt(ctx: &mut FpContext, fmt: Format, a: u64) -> u64 {
    let fz = ctx.flush_to_zero;
    let a = crate::parts::unpack(ctx, fmt, a, fz);
    match a.class {
        Class::QuietNaN | Class::SignallingNaN => return process_nan(ctx, fmt, &a),
        Class::Zero => return pack_special(fmt, &a),
        _ if a.sign => {
            ctx.flags |= flags::IOC;
            return fmt.default_nan();
        }
        Class::Infinity => return pack_special(fmt, &a),
        Class::Normal => {}
    }
    // value = sig * 2^(exp - 62). Make the exponent even by moving one factor of two into
    // the radicand; then sqrt(sig << (62 + odd)) has its leading one at bit 62.
    let odd = a.exp.rem_euclid(2) as u32;
    let radicand = (a.sig as u128) << (LEAD + odd);
    let root = radicand.isqrt();
    let sticky = (root * root != radicand) as u64;
    let exp = a.exp.div_euclid(2);
    round_pack(ctx, fmt, ctx.rounding, fz, false, exp, root as u64 | sticky)
}

/// `FPMulAdd(addend, n, m)`: `addend + n * m` with a single rounding.
pub(crate) fn muladd(ctx: &mut FpContext, fmt: Format, addend: u64, n: u64, m: u64) -> u64 {
    let fz = ctx.flush_to_zero;
    let c = crate::parts::unpack(ctx, fmt, addend, fz);
    let a = crate::parts::unpack(ctx, fmt, n, fz);
    let b = crate::parts::unpack(ctx, fmt, m, fz);
    if a.is_nan() || b.is_nan() || c.is_nan() {
        return process_nans_muladd(ctx, fmt, &a, &b, &c);
    }
    let product_sign = a.sign ^ b.sign;
    if (a.is_inf() && b.is_zero()) || (a.is_zero() && b.is_inf()) {
        ctx.flags |= flags::IOC;
        return fmt.default_nan();
    }
    if a.is_inf() || b.is_inf() {
        if c.is_inf() && c.sign != product_sign {
            ctx.flags |= flags::IOC;
            return fmt.default_nan();
        }
        return pack_special(fmt, &Parts::infinity(product_sign));
    }
    if c.is_inf() {
        return pack_special(fmt, &c);
    }
    if a.is_zero() || b.is_zero() {
        return match c.class {
            Class::Zero => {
                let sign = if c.sign == product_sign {
                    c.sign
                } else {
                    exact_zero_sign(ctx)
                };
                pack_special(fmt, &Parts::zero(sign))
            }
            _ => pack(ctx, fmt, ctx.rounding, fz, &c),
        };
    }

    // Exact product: leading one at bit 124 or 125, value = product * 2^(ea + eb - 124).
    let product = a.sig as u128 * b.sig as u128;
    let product_exp0 = a.exp + b.exp - 2 * LEAD as i32;
    if c.is_zero() {
        let (exp, sig) = normalize128(product, product_exp0);
        return round_pack(ctx, fmt, ctx.rounding, fz, product_sign, exp, sig);
    }

    // Line both up with their leading one at bit 125 and add; the smaller one is shifted
    // right with jamming. Each holds at most 106 significant bits, so bits only fall off
    // when the exponents are more than 20 apart, and then the sum cannot cancel by more
    // than one bit: the sticky bit stays far below the rounding position.
    const TOP: i32 = 125;
    let p_lead = 127 - product.leading_zeros() as i32;
    let p_mant = product << (TOP - p_lead);
    let p_exp = product_exp0 + p_lead; // exponent of the leading one
    let c_mant = (c.sig as u128) << (TOP - LEAD as i32);
    let c_exp = c.exp;
    let (x_sign, x_exp, x_mant, y_sign, y_exp, y_mant) = if (p_exp, p_mant) >= (c_exp, c_mant) {
        (product_sign, p_exp, p_mant, c.sign, c_exp, c_mant)
    } else {
        (c.sign, c_exp, c_mant, product_sign, p_exp, p_mant)
    };
    let d = (x_exp - y_exp) as u32;
    let y_aligned = crate::parts::shift_right_jam128(y_mant, d);
    let sum = if x_sign == y_sign {
        x_mant + y_aligned
    } else {
        x_mant - y_aligned
    };
    if sum == 0 {
        return pack_special(fmt, &Parts::zero(exact_zero_sign(ctx)));
    }
    let (exp, sig) = normalize128(sum, x_exp - TOP);
    round_pack(ctx, fmt, ctx.rounding, fz, x_sign, exp, sig)
}
