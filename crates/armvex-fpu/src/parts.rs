//! Unpacked floating-point values and the one rounding routine everything shares.
//!
//! Every operation in this crate works the way the ARM ARM pseudocode does: unpack the
//! operands into sign, exponent and an exact significand (`FPUnpack`), compute the exact or
//! sticky-jammed result, and hand it to a single rounding function (`FPRound`) that applies
//! the rounding mode, flush-to-zero, overflow and underflow rules of the destination format.
//!
//! Significands are kept in a `u64` with the leading one at bit 62 ([`LEAD`]), so a value is
//! `sig * 2^(exp - 62)`. That leaves 10 (double), 39 (single) or 52 (half) bits below the
//! destination precision for the guard and round bits; any non-zero bits shifted out are
//! "jammed" into bit 0 (the sticky bit), which is all correct rounding needs.

use crate::{FpContext, Rounding, flags};

/// Bit position of the leading (integer) bit of a normalised significand.
pub(crate) const LEAD: u32 = 62;

/// An IEEE-754 style binary format: half, single or double precision, or ARM's alternative
/// half precision (FPSCR.AHP), which has no infinities or NaNs and uses the all-ones exponent
/// for ordinary numbers up to 131008.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Format {
    pub exp_bits: u32,
    pub frac_bits: u32,
    /// ARM alternative half precision: exponent 31 is a normal exponent.
    pub alt_half: bool,
}

pub(crate) const F16: Format = Format {
    exp_bits: 5,
    frac_bits: 10,
    alt_half: false,
};
pub(crate) const F16_AHP: Format = Format {
    exp_bits: 5,
    frac_bits: 10,
    alt_half: true,
};
pub(crate) const F32: Format = Format {
    exp_bits: 8,
    frac_bits: 23,
    alt_half: false,
};
pub(crate) const F64: Format = Format {
    exp_bits: 11,
    frac_bits: 52,
    alt_half: false,
};

impl Format {
    pub(crate) const fn bias(self) -> i32 {
        (1 << (self.exp_bits - 1)) - 1
    }
    /// The all-ones exponent field value.
    pub(crate) const fn exp_all_ones(self) -> u64 {
        (1 << self.exp_bits) - 1
    }
    pub(crate) const fn frac_mask(self) -> u64 {
        (1 << self.frac_bits) - 1
    }
    pub(crate) const fn sign_bit(self) -> u64 {
        1 << (self.exp_bits + self.frac_bits)
    }
    /// Largest biased exponent of a finite number.
    pub(crate) const fn max_finite_exp(self) -> i32 {
        if self.alt_half {
            self.exp_all_ones() as i32
        } else {
            self.exp_all_ones() as i32 - 1
        }
    }
    pub(crate) const fn max_normal(self) -> u64 {
        ((self.max_finite_exp() as u64) << self.frac_bits) | self.frac_mask()
    }
    pub(crate) const fn infinity(self) -> u64 {
        self.exp_all_ones() << self.frac_bits
    }
    /// FPDefaultNaN(): positive, quiet bit set, rest of the fraction zero.
    pub(crate) const fn default_nan(self) -> u64 {
        self.infinity() | (1 << (self.frac_bits - 1))
    }
}

/// What kind of value an operand is (the ARM ARM's `FPType`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Class {
    Zero,
    Normal,
    Infinity,
    QuietNaN,
    SignallingNaN,
}

/// An unpacked value.
///
/// * `Normal` (this includes denormal inputs, which are normalised): the value is
///   `sig * 2^(exp - 62)` with bit 62 of `sig` set.
/// * NaNs: `sig` holds the fraction field left-aligned at bit 63 (bit 63 is the quiet bit),
///   so converting a NaN between formats keeps the top of its payload.
/// * `Zero`, `Infinity`: only `sign` matters.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Parts {
    pub sign: bool,
    pub class: Class,
    pub exp: i32,
    pub sig: u64,
}

impl Parts {
    pub(crate) const fn zero(sign: bool) -> Parts {
        Parts {
            sign,
            class: Class::Zero,
            exp: 0,
            sig: 0,
        }
    }
    pub(crate) const fn infinity(sign: bool) -> Parts {
        Parts {
            sign,
            class: Class::Infinity,
            exp: 0,
            sig: 0,
        }
    }
    pub(crate) fn is_nan(&self) -> bool {
        matches!(self.class, Class::QuietNaN | Class::SignallingNaN)
    }
    pub(crate) fn is_snan(&self) -> bool {
        self.class == Class::SignallingNaN
    }
    pub(crate) fn is_qnan(&self) -> bool {
        self.class == Class::QuietNaN
    }
    pub(crate) fn is_zero(&self) -> bool {
        self.class == Class::Zero
    }
    pub(crate) fn is_inf(&self) -> bool {
        self.class == Class::Infinity
    }
}

/// `FPUnpack`: split `bits` of format `fmt` into its parts. With `flush` (FPSCR.FZ), a
/// denormal input becomes a zero of the same sign and raises Input Denormal (IDC).
pub(crate) fn unpack(ctx: &mut FpContext, fmt: Format, bits: u64, flush: bool) -> Parts {
    let sign = bits & fmt.sign_bit() != 0;
    let exp_field = (bits >> fmt.frac_bits) & fmt.exp_all_ones();
    let frac = bits & fmt.frac_mask();
    if exp_field == 0 {
        if frac == 0 {
            return Parts::zero(sign);
        }
        if flush {
            ctx.flags |= flags::IDC;
            return Parts::zero(sign);
        }
        // Denormal: value = frac * 2^(1 - bias - frac_bits). Normalise to bit 62.
        let shift = frac.leading_zeros() - 1;
        let sig = frac << shift;
        let exp = 1 - fmt.bias() - fmt.frac_bits as i32 + LEAD as i32 - shift as i32;
        return Parts {
            sign,
            class: Class::Normal,
            exp,
            sig,
        };
    }
    if exp_field == fmt.exp_all_ones() && !fmt.alt_half {
        if frac == 0 {
            return Parts::infinity(sign);
        }
        let quiet = frac >> (fmt.frac_bits - 1) & 1 != 0;
        let class = if quiet { Class::QuietNaN } else { Class::SignallingNaN };
        return Parts {
            sign,
            class,
            exp: 0,
            sig: frac << (64 - fmt.frac_bits),
        };
    }
    let sig = (frac | 1 << fmt.frac_bits) << (LEAD - fmt.frac_bits);
    Parts {
        sign,
        class: Class::Normal,
        exp: exp_field as i32 - fmt.bias(),
        sig,
    }
}

/// Pack a zero, infinity or NaN (whose payload is used as is, so quieten it first).
pub(crate) fn pack_special(fmt: Format, p: &Parts) -> u64 {
    let sign = if p.sign { fmt.sign_bit() } else { 0 };
    match p.class {
        Class::Zero => sign,
        Class::Infinity => sign | fmt.infinity(),
        Class::QuietNaN | Class::SignallingNaN => sign | fmt.infinity() | (p.sig >> (64 - fmt.frac_bits)),
        // Not used for normal numbers; round instead. Keep it total all the same.
        Class::Normal => sign | fmt.infinity(),
    }
}

/// Shift right, ORing every bit shifted out into bit 0 ("jamming" the sticky bit).
pub(crate) fn shift_right_jam64(x: u64, n: u32) -> u64 {
    if n == 0 {
        x
    } else if n >= 64 {
        (x != 0) as u64
    } else {
        (x >> n) | ((x & ((1 << n) - 1)) != 0) as u64
    }
}

pub(crate) fn shift_right_jam128(x: u128, n: u32) -> u128 {
    if n == 0 {
        x
    } else if n >= 128 {
        (x != 0) as u128
    } else {
        (x >> n) | ((x & ((1 << n) - 1)) != 0) as u128
    }
}

/// Normalise a non-zero wide value `x * 2^exp_of_bit0` into a significand with its leading
/// one at bit 62 (bits below the 64-bit window jammed into bit 0) and the matching exponent.
pub(crate) fn normalize128(x: u128, exp_of_bit0: i32) -> (i32, u64) {
    debug_assert!(x != 0);
    let lead = 127 - x.leading_zeros() as i32;
    let sig = if lead >= LEAD as i32 {
        shift_right_jam128(x, (lead - LEAD as i32) as u32) as u64
    } else {
        (x << (LEAD as i32 - lead)) as u64
    };
    (exp_of_bit0 + lead, sig)
}

/// `FPRound`: round `sig * 2^(exp - 62)` (bit 62 of `sig` set, sticky bits jammed into the
/// low end) to format `fmt` in `mode`, raising Inexact, Overflow and Underflow as the ARM
/// ARM says: underflow (tininess) is detected *before* rounding, and with `flush` (FPSCR.FZ)
/// a result that is tiny before rounding becomes a zero of the same sign, raising only
/// Underflow (UFC, not IXC — the ARM ARM's FPRound and QEMU agree).
pub(crate) fn round_pack(
    ctx: &mut FpContext,
    fmt: Format,
    mode: Rounding,
    flush: bool,
    sign: bool,
    exp: i32,
    sig: u64,
) -> u64 {
    debug_assert!(sig >> LEAD == 1);
    let sign_bits = if sign { fmt.sign_bit() } else { 0 };
    let shift = LEAD - fmt.frac_bits;
    let round_mask = (1u64 << shift) - 1;
    let half = 1u64 << (shift - 1);
    let increment = match mode {
        Rounding::NearestEven => half,
        Rounding::Zero => 0,
        Rounding::PlusInfinity => {
            if sign {
                0
            } else {
                round_mask
            }
        }
        Rounding::MinusInfinity => {
            if sign {
                round_mask
            } else {
                0
            }
        }
    };
    // Round the significand at bit `shift`; returns the rounded value (may carry to bit 63).
    let round = |s: u64| -> u64 {
        let tie = mode == Rounding::NearestEven && (s & round_mask) == half;
        let mut r = (s + increment) & !round_mask;
        if tie {
            r &= !(1u64 << shift);
        }
        r
    };

    let biased = exp + fmt.bias();
    if biased >= 1 {
        let inexact = sig & round_mask != 0;
        let mut rounded = round(sig);
        let mut biased = biased;
        if rounded >> (LEAD + 1) != 0 {
            rounded >>= 1;
            biased += 1;
        }
        if biased > fmt.max_finite_exp() {
            if fmt.alt_half {
                // No infinity to overflow to: saturate and signal Invalid Operation
                // (FPRound for alternative half precision; QEMU raises only Invalid).
                ctx.flags |= flags::IOC;
                return sign_bits | fmt.max_normal();
            }
            ctx.flags |= flags::OFC | flags::IXC;
            let to_max = match mode {
                Rounding::NearestEven => false,
                Rounding::Zero => true,
                Rounding::PlusInfinity => sign,
                Rounding::MinusInfinity => !sign,
            };
            return sign_bits | if to_max { fmt.max_normal() } else { fmt.infinity() };
        }
        if inexact {
            ctx.flags |= flags::IXC;
        }
        // The implicit bit (bit 62 >> shift = 1 << frac_bits) adds one to the exponent field.
        return sign_bits | ((((biased - 1) as u64) << fmt.frac_bits) + (rounded >> shift));
    }

    // Tiny before rounding.
    if flush {
        ctx.flags |= flags::UFC;
        return sign_bits;
    }
    let denorm = shift_right_jam64(sig, (1 - biased) as u32);
    if denorm & round_mask != 0 {
        ctx.flags |= flags::UFC | flags::IXC;
    }
    // A carry into bit 62 yields the smallest normal, which packs correctly as is.
    sign_bits | (round(denorm) >> shift)
}

/// Pack an exact or rounded result described by `p` (any class) into `fmt`.
pub(crate) fn pack(ctx: &mut FpContext, fmt: Format, mode: Rounding, flush: bool, p: &Parts) -> u64 {
    match p.class {
        Class::Normal => round_pack(ctx, fmt, mode, flush, p.sign, p.exp, p.sig),
        _ => pack_special(fmt, p),
    }
}
