//! Reciprocal and reciprocal square root estimates (VRECPE, VRSQRTE): the ARM ARM's
//! the ARM ARM's pseudocode functions `RecipEstimate`, `RecipSqrtEstimate`,
//! `UnsignedRecipEstimate`, `UnsignedRSqrtEstimate`, `FPRecipEstimate` and `FPRSqrtEstimate`
//! (DDI 0406C, with the VRECPE and VRSQRTE instruction descriptions in chapter A8), bit for
//! bit. An estimate is 8 bits, looked up from the top 9 bits of the operand's significand
//! (the reciprocal square root keeps the exponent's parity: [0.25, 0.5) or [0.5, 1)); the
//! two tables are computed at compile time from the pseudocode's integer formulation
//! (`(1 << 19) DIV a` for 1/a, a search for the largest b with `a * b^2 < 2^28` for
//! 1/sqrt(a)). The float versions work on the Standard FPSCR value: a denormal input is
//! flushed to zero (IDC), zero gives infinity (DZC), a NaN the default NaN (IOC if
//! signalling), and a reciprocal too small for a normal single is flushed (UFC).
//! VRECPS/VRSQRTS, the Newton-Raphson steps, are in `exec`.

use armvex_fpu::FpContext;
use armvex_fpu::flags::{DZC, IDC, IOC, UFC};

/// `RecipEstimate(a)` for a = 256..=511 (an operand in [0.5, 1) in units of 1/512):
/// the estimate of 1/a, 256..=511 in units of 1/256.
const fn recip_estimate(a: u32) -> u32 {
    let a = a * 2 + 1;
    let b = (1 << 19) / a;
    b.div_ceil(2) // (b + 1) DIV 2
}

/// `RecipSqrtEstimate(a)` for a = 128..=511 (an operand in [0.25, 1) in units of 1/512).
const fn recip_sqrt_estimate(a: u32) -> u32 {
    let a = if a < 256 { a * 2 + 1 } else { ((a >> 1) << 1) * 2 + 2 } as u64;
    let mut b: u64 = 512;
    while a * (b + 1) * (b + 1) < (1 << 28) {
        b += 1;
    }
    b.div_ceil(2) as u32 // (b + 1) DIV 2
}

const fn recip_table() -> [u16; 256] {
    let mut t = [0u16; 256];
    let mut i = 0;
    while i < 256 {
        t[i] = recip_estimate(256 + i as u32) as u16;
        i += 1;
    }
    t
}

const fn rsqrt_table() -> [u16; 384] {
    let mut t = [0u16; 384];
    let mut i = 0;
    while i < 384 {
        t[i] = recip_sqrt_estimate(128 + i as u32) as u16;
        i += 1;
    }
    t
}

static RECIP: [u16; 256] = recip_table();
static RSQRT: [u16; 384] = rsqrt_table();

fn recip(a: u32) -> u32 {
    RECIP[(a - 256) as usize] as u32
}
fn rsqrt(a: u32) -> u32 {
    RSQRT[(a - 128) as usize] as u32
}

/// VRECPE.U32.
pub(crate) fn recpe_u32(x: u32) -> u32 {
    if x & 0x8000_0000 == 0 {
        return u32::MAX;
    }
    recip(x >> 23) << 23
}

/// VRSQRTE.U32.
pub(crate) fn rsqrte_u32(x: u32) -> u32 {
    if x & 0xC000_0000 == 0 {
        return u32::MAX;
    }
    rsqrt(x >> 23) << 23
}

fn is_nan(x: u32) -> bool {
    x & 0x7FFF_FFFF > 0x7F80_0000
}

/// NaN operand under the Standard FPSCR value (DN = 1): IOC for a signalling NaN, the
/// default NaN out.
fn nan_result(ctx: &mut FpContext, x: u32) -> u32 {
    if x & 0x0040_0000 == 0 {
        ctx.flags |= IOC;
    }
    armvex_fpu::default_nan32()
}

/// Flush a denormal input to zero (Standard FPSCR: FZ = 1), raising IDC.
fn squash(ctx: &mut FpContext, x: u32) -> u32 {
    if x & 0x7F80_0000 == 0 && x & 0x007F_FFFF != 0 {
        ctx.flags |= IDC;
        x & 0x8000_0000
    } else {
        x
    }
}

/// VRECPE.F32 with the Standard FPSCR value.
pub(crate) fn recpe_f32(ctx: &mut FpContext, x: u32) -> u32 {
    let x = squash(ctx, x);
    let sign = x & 0x8000_0000;
    let exp = (x >> 23) & 0xFF;
    if is_nan(x) {
        return nan_result(ctx, x);
    }
    if exp == 0xFF {
        return sign; // 1/inf = 0
    }
    if x & 0x7FFF_FFFF == 0 {
        ctx.flags |= DZC;
        return sign | 0x7F80_0000;
    }
    if exp >= 253 {
        // the reciprocal is below the normal range: flushed (FZ) with UFC
        ctx.flags |= UFC;
        return sign;
    }
    let scaled = 256 | ((x >> 15) & 0xFF);
    let est = recip(scaled);
    let result_exp = 253 - exp; // 1..=252: always a normal result here
    sign | (result_exp << 23) | ((est & 0xFF) << 15)
}

/// VRSQRTE.F32 with the Standard FPSCR value.
pub(crate) fn rsqrte_f32(ctx: &mut FpContext, x: u32) -> u32 {
    let x = squash(ctx, x);
    let sign = x & 0x8000_0000;
    let exp = (x >> 23) & 0xFF;
    if is_nan(x) {
        return nan_result(ctx, x);
    }
    if x & 0x7FFF_FFFF == 0 {
        ctx.flags |= DZC;
        return sign | 0x7F80_0000;
    }
    if sign != 0 {
        ctx.flags |= IOC;
        return armvex_fpu::default_nan32();
    }
    if exp == 0xFF {
        return 0;
    }
    // exp is 1..=254 (denormals were flushed). Keep the exponent's parity: an odd
    // exponent gives an operand in [0.25, 0.5), an even one in [0.5, 1).
    let frac = x & 0x007F_FFFF;
    let scaled = if exp & 1 != 0 {
        128 | (frac >> 16)
    } else {
        256 | (frac >> 15)
    };
    let est = rsqrt(scaled);
    let result_exp = (380 - exp) / 2;
    (result_exp << 23) | ((est & 0xFF) << 15)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tables_match_the_pseudocode_ranges() {
        assert_eq!(recip(256), 511);
        assert_eq!(recip(511), 256);
        assert!(RSQRT.iter().all(|&e| (256..512).contains(&e)));
        assert!(RECIP.iter().all(|&e| (256..512).contains(&e)));
    }

    #[test]
    fn float_estimates() {
        let mut ctx = FpContext::from_fpscr(0x0300_0000);
        // 1/1.0 ~= 0.998 (0x3f7f8000), 1/sqrt(1.0) ~= 0.998
        assert_eq!(recpe_f32(&mut ctx, 0x3F80_0000), 0x3F7F_8000);
        assert_eq!(rsqrte_f32(&mut ctx, 0x3F80_0000), 0x3F7F_8000);
        assert_eq!(ctx.flags, 0);
        assert_eq!(recpe_f32(&mut ctx, 0x8000_0000), 0xFF80_0000);
        assert_eq!(ctx.flags, DZC);
    }
}
