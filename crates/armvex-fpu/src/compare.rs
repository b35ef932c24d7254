//! `FPCompare`: VCMP / VCMPE.

use crate::parts::{Class, Format, Parts, unpack};
use crate::{FpContext, flags};

/// NZCV for "equal", "less than", "greater than" and "unordered", in FPSCR bits 31:28.
pub(crate) const NZCV_EQUAL: u32 = 0b0110 << 28;
pub(crate) const NZCV_LESS: u32 = 0b1000 << 28;
pub(crate) const NZCV_GREATER: u32 = 0b0010 << 28;
pub(crate) const NZCV_UNORDERED: u32 = 0b0011 << 28;

/// Magnitude key that orders finite values and infinities.
fn magnitude(p: &Parts) -> (u8, i32, u64) {
    match p.class {
        Class::Zero => (0, 0, 0),
        Class::Normal => (1, p.exp, p.sig),
        _ => (2, 0, 0),
    }
}

pub(crate) fn compare(ctx: &mut FpContext, fmt: Format, a: u64, b: u64, signal_all_nans: bool) -> u32 {
    let fz = ctx.flush_to_zero;
    let a = unpack(ctx, fmt, a, fz);
    let b = unpack(ctx, fmt, b, fz);
    if a.is_nan() || b.is_nan() {
        if signal_all_nans || a.is_snan() || b.is_snan() {
            ctx.flags |= flags::IOC;
        }
        return NZCV_UNORDERED;
    }
    if a.is_zero() && b.is_zero() {
        return NZCV_EQUAL;
    }
    let ordering = match (a.sign, b.sign) {
        (false, true) => core::cmp::Ordering::Greater,
        (true, false) => core::cmp::Ordering::Less,
        (false, false) => magnitude(&a).cmp(&magnitude(&b)),
        (true, true) => magnitude(&b).cmp(&magnitude(&a)),
    };
    match ordering {
        core::cmp::Ordering::Equal => NZCV_EQUAL,
        core::cmp::Ordering::Less => NZCV_LESS,
        core::cmp::Ordering::Greater => NZCV_GREATER,
    }
}
