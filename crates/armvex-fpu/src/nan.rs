//! NaN handling: `FPProcessNaN`, `FPProcessNaNs` and `FPProcessNaNs3` from the ARM ARM, with
//! QEMU 7.2's exact choices where the architecture leaves room.
//!
//! * A signalling NaN operand always raises Invalid Operation (IOC).
//! * With FPSCR.DN the result is the default NaN (positive, quiet bit only).
//! * Otherwise the chosen NaN is returned quietened (quiet bit set, sign and the rest of
//!   the payload kept). Two operands: the first signalling NaN in operand order, else the
//!   first quiet NaN. Fused multiply-add (operands `n`, `m`, addend `d`): the same rule in
//!   the order addend, n, m — and `0 * inf + qNaN` (either order of the product) is Invalid
//!   and returns the default NaN, as QEMU's ARM `pickNaNMulAdd` does.

use crate::FpContext;
use crate::flags;
use crate::parts::{Format, Parts, pack_special};

/// Quieten and pack one NaN, honouring DN. Does not raise anything.
fn quiet_nan(ctx: &FpContext, fmt: Format, p: &Parts) -> u64 {
    if ctx.default_nan {
        return fmt.default_nan();
    }
    let mut q = *p;
    q.sig |= 1 << 63;
    pack_special(fmt, &q)
}

/// `FPProcessNaN`: the result of an operation whose only NaN operand is `p`.
pub(crate) fn process_nan(ctx: &mut FpContext, fmt: Format, p: &Parts) -> u64 {
    if p.is_snan() {
        ctx.flags |= flags::IOC;
    }
    quiet_nan(ctx, fmt, p)
}

/// `FPProcessNaNs`: at least one of `a`, `b` is a NaN.
pub(crate) fn process_nans(ctx: &mut FpContext, fmt: Format, a: &Parts, b: &Parts) -> u64 {
    if a.is_snan() || b.is_snan() {
        ctx.flags |= flags::IOC;
    }
    let chosen = if a.is_snan() {
        a
    } else if b.is_snan() {
        b
    } else if a.is_nan() {
        a
    } else {
        b
    };
    quiet_nan(ctx, fmt, chosen)
}

/// NaN selection for the fused multiply-add `n * m + addend`; at least one operand is a NaN.
pub(crate) fn process_nans_muladd(ctx: &mut FpContext, fmt: Format, n: &Parts, m: &Parts, addend: &Parts) -> u64 {
    if n.is_snan() || m.is_snan() || addend.is_snan() {
        ctx.flags |= flags::IOC;
    }
    let inf_times_zero = (n.is_inf() && m.is_zero()) || (n.is_zero() && m.is_inf());
    if inf_times_zero && addend.is_qnan() {
        ctx.flags |= flags::IOC;
        return fmt.default_nan();
    }
    let order = [addend, n, m];
    let chosen = order
        .iter()
        .find(|p| p.is_snan())
        .or_else(|| order.iter().find(|p| p.is_nan()))
        .copied()
        .unwrap_or(addend);
    quiet_nan(ctx, fmt, chosen)
}
