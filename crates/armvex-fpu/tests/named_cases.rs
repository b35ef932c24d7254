//! The behaviours that matter, one named case at a time, with exact bit patterns.
//!
//! Every expectation here was produced by QEMU: `check` first finds the very same case
//! (operation, FPSCR, operands) in the QEMU oracle table and requires QEMU's result and
//! flags to be the ones written here, then requires the crate to agree. (The cases are
//! generated into the table by `gen_curated` in oracle/gen.py.)

mod common;

use std::collections::HashMap;
use std::sync::OnceLock;

use armvex_fpu::flags::{IDC, IOC, IXC, OFC, UFC};
use armvex_fpu::*;

const RN: u32 = 0;
const RP: u32 = 1 << 22;
const RM: u32 = 2 << 22;
const RZ: u32 = 3 << 22;
const FZ: u32 = FPSCR_FZ;
const DN: u32 = FPSCR_DN;
const AHP: u32 = FPSCR_AHP;
const DZC: u32 = flags::DZC;

// Single-precision operands.
const ONE: u64 = 0x3f80_0000;
const QNAN: u64 = 0x7fc0_0001; // quiet NaN, payload 1
const SNAN: u64 = 0x7f80_0002; // signalling NaN, payload 2
const NQNAN: u64 = 0xffc0_0003; // negative quiet NaN, payload 3
const NSNAN: u64 = 0xff80_0004; // negative signalling NaN, payload 4
const INF: u64 = 0x7f80_0000;
const NINF: u64 = 0xff80_0000;
const MAX: u64 = 0x7f7f_ffff;
const NMAX: u64 = 0xff7f_ffff;
const MIN_NORMAL: u64 = 0x0080_0000;
const DEFAULT_NAN: u64 = 0x7fc0_0000;

// NZCV results of compares.
const EQ: u64 = 0x6000_0000;
const LT: u64 = 0x8000_0000;
const UN: u64 = 0x3000_0000;

type Key = (String, u32, Vec<u64>);

fn qemu_table() -> &'static HashMap<Key, (u64, u32)> {
    static TABLE: OnceLock<HashMap<Key, (u64, u32)>> = OnceLock::new();
    TABLE.get_or_init(|| {
        common::TABLE
            .lines()
            .filter_map(common::parse)
            .map(|l| {
                (
                    (l.op.to_string(), l.fpscr_in, l.ins),
                    (l.result, l.fpscr_out & flags::ALL),
                )
            })
            .collect()
    })
}

/// `op` run with `fpscr` on `ins` gives `result` and raises exactly `raised`, according to
/// QEMU's table and to the crate.
#[track_caller]
fn check(op: &str, fpscr: u32, ins: &[u64], result: u64, raised: u32) {
    let key = (op.to_string(), fpscr, ins.to_vec());
    let Some(&qemu) = qemu_table().get(&key) else {
        panic!("{op} fpscr={fpscr:08x} {ins:x?} is not in the QEMU table (add it to gen_curated)");
    };
    assert_eq!(
        qemu,
        (result, raised),
        "QEMU disagrees with the expectation for {op} fpscr={fpscr:08x} {ins:x?} (result, flags)"
    );
    let mut ctx = FpContext::from_fpscr(fpscr);
    let got = common::run(op, &mut ctx, fpscr & AHP != 0, ins);
    assert_eq!(
        (got, ctx.flags),
        (result, raised),
        "armvex-fpu: {op} fpscr={fpscr:08x} {ins:x?} (result, flags)"
    );
}

#[test]
fn exact_ties_round_to_even() {
    // 1 + half an ulp: a tie, rounds to the even neighbour 1.0.
    check("add.f32", RN, &[ONE, 0x3380_0000], 0x3f80_0000, IXC);
    // 1 + 1.5 ulp: a tie between 1+1ulp and 1+2ulp; 1+2ulp is even.
    check("add.f32", RN, &[ONE, 0x3440_0000], 0x3f80_0002, IXC);
    check("add.f32", RP, &[ONE, 0x3380_0000], 0x3f80_0001, IXC);
    check("add.f32", RM, &[ONE, 0x3380_0000], 0x3f80_0000, IXC);
    check("add.f32", RZ, &[ONE, 0x3440_0000], 0x3f80_0001, IXC);
    check(
        "add.f64",
        RN,
        &[0x3ff0_0000_0000_0000, 0x3ca0_0000_0000_0000],
        0x3ff0_0000_0000_0000,
        IXC,
    );
    check(
        "add.f64",
        RP,
        &[0x3ff0_0000_0000_0000, 0x3ca0_0000_0000_0000],
        0x3ff0_0000_0000_0001,
        IXC,
    );
    // 1/3 in every mode.
    check("div.f32", RN, &[ONE, 0x4040_0000], 0x3eaa_aaab, IXC);
    check("div.f32", RZ, &[ONE, 0x4040_0000], 0x3eaa_aaaa, IXC);
    check(
        "div.f64",
        RN,
        &[0x3ff0_0000_0000_0000, 0x4008_0000_0000_0000],
        0x3fd5_5555_5555_5555,
        IXC,
    );
    check(
        "div.f64",
        RP,
        &[0x3ff0_0000_0000_0000, 0x4008_0000_0000_0000],
        0x3fd5_5555_5555_5556,
        IXC,
    );
}

#[test]
fn overflow_gives_infinity_or_max_normal_by_rounding_mode() {
    check("add.f32", RN, &[MAX, MAX], INF, OFC | IXC);
    check("add.f32", RP, &[MAX, MAX], INF, OFC | IXC);
    check("add.f32", RM, &[MAX, MAX], MAX, OFC | IXC);
    check("add.f32", RZ, &[MAX, MAX], MAX, OFC | IXC);
    check("add.f32", RN, &[NMAX, NMAX], NINF, OFC | IXC);
    check("add.f32", RP, &[NMAX, NMAX], NMAX, OFC | IXC);
    check("add.f32", RM, &[NMAX, NMAX], NINF, OFC | IXC);
    check("add.f32", RZ, &[NMAX, NMAX], NMAX, OFC | IXC);
    check("mul.f32", RN, &[MAX, 0x4000_0000], INF, OFC | IXC);
    let dmax = 0x7fef_ffff_ffff_ffff;
    check("add.f64", RN, &[dmax, dmax], 0x7ff0_0000_0000_0000, OFC | IXC);
    check("add.f64", RZ, &[dmax, dmax], dmax, OFC | IXC);
    // Narrowing: above FLT_MAX + half an ulp overflows in RN; in RZ it rounds down to
    // FLT_MAX, which is no overflow at all.
    check("f64_to_f32", RN, &[0x47ef_ffff_ffff_ffff], INF, OFC | IXC);
    check("f64_to_f32", RZ, &[0x47ef_ffff_ffff_ffff], MAX, IXC);
}

#[test]
fn exact_zero_results_and_signed_zeros() {
    check("sub.f32", RN, &[0x3fc0_0000, 0x3fc0_0000], 0, 0);
    check("sub.f32", RM, &[0x3fc0_0000, 0x3fc0_0000], 0x8000_0000, 0);
    check("add.f32", RN, &[0x8000_0000, 0], 0, 0);
    check("add.f32", RM, &[0x8000_0000, 0], 0x8000_0000, 0);
    // -min_normal + (min_normal + 1 ulp) = 1 denormal ulp, exactly: no underflow.
    check("add.f32", RN, &[0x8080_0000, 0x0080_0001], 0x0000_0001, 0);
    // ... but with FZ the tiny result is flushed (UFC, not IXC).
    check("add.f32", FZ, &[0x8080_0000, 0x0080_0001], 0, UFC);
    check(
        "sub.f64",
        RM,
        &[0x3ff8_0000_0000_0000, 0x3ff8_0000_0000_0000],
        1 << 63,
        0,
    );
}

#[test]
fn underflow_detects_tininess_before_rounding() {
    // (1 - 2^-24) * 2^-126 is below the smallest normal before rounding and rounds up to
    // it: tiny before rounding, so Underflow (with Inexact).
    check("mul.f32", RN, &[0x3f7f_ffff, MIN_NORMAL], MIN_NORMAL, UFC | IXC);
    check("mul.f32", RN, &[0xbf7f_ffff, MIN_NORMAL], 0x8080_0000, UFC | IXC);
    check("mul.f32", RZ, &[0x3f7f_ffff, MIN_NORMAL], 0x007f_ffff, UFC | IXC);
    check("mul.f32", RP, &[0x3f7f_ffff, MIN_NORMAL], MIN_NORMAL, UFC | IXC);
    check("mul.f32", RM, &[0x3f7f_ffff, MIN_NORMAL], 0x007f_ffff, UFC | IXC);
    // With FZ: flushed to zero, UFC only.
    check("mul.f32", FZ, &[0x3f7f_ffff, MIN_NORMAL], 0, UFC);
    check("mul.f32", FZ | RM, &[0xbf7f_ffff, MIN_NORMAL], 0x8000_0000, UFC);
    // An exact denormal result is not an underflow...
    check("mul.f32", RN, &[0x3f00_0000, MIN_NORMAL], 0x0040_0000, 0);
    // ...unless FZ flushes it.
    check("mul.f32", FZ, &[0x3f00_0000, MIN_NORMAL], 0, UFC);
    // Half of (min_normal + 1 ulp): a tie in the denormal range, to even.
    check("mul.f32", RN, &[0x3f00_0000, 0x0080_0001], 0x0040_0000, UFC | IXC);
    check("mul.f32", RP, &[0x3f00_0000, 0x0080_0001], 0x0040_0001, UFC | IXC);
    check(
        "mul.f64",
        RN,
        &[0x3fef_ffff_ffff_ffff, 0x0010_0000_0000_0000],
        0x0010_0000_0000_0000,
        UFC | IXC,
    );
    check("mul.f64", FZ, &[0x3fef_ffff_ffff_ffff, 0x0010_0000_0000_0000], 0, UFC);
    // Narrowing to single: the largest double below FLT_MIN rounds up to FLT_MIN.
    check("f64_to_f32", RN, &[0x380f_ffff_ffff_ffff], MIN_NORMAL, UFC | IXC);
    check("f64_to_f32", FZ, &[0x380f_ffff_ffff_ffff], 0, UFC);
    check("f64_to_f32", RN, &[0x36a0_0000_0000_0000], 0x0000_0001, 0);
}

#[test]
fn flush_to_zero_inputs() {
    // A denormal operand is a zero (IDC), even when the other operand is a NaN.
    check("add.f32", FZ, &[0x0000_0001, QNAN], QNAN, IDC);
    check("add.f32", RN, &[0x0000_0001, QNAN], QNAN, 0);
    check("cmp.f32", FZ, &[0x8000_0001, 0x0000_0001], EQ, IDC);
    check("cmp.f32", RN, &[0x8000_0001, 0x0000_0001], LT, 0);
    check("cmpz.f32", FZ, &[0x8000_0001], EQ, IDC);
    check("cmpz.f32", RN, &[0x8000_0001], LT, 0);
    check(
        "mul.f64",
        FZ,
        &[0x8000_0000_0000_0001, 0x3ff0_0000_0000_0000],
        1 << 63,
        IDC,
    );
    check("div.f32", FZ, &[0x8000_0001, 0], DEFAULT_NAN, IOC | IDC);
    check("div.f32", RN, &[0x8000_0001, 0], NINF, DZC);
    check("f32_to_f64", FZ, &[0x0000_0001], 0, IDC);
    check("f32_to_f64", RN, &[0x0000_0001], 0x36a0_0000_0000_0000, 0);
    check("f32_to_i32", FZ, &[0x0000_0001], 0, IDC);
    check("f32_to_i32", RN, &[0x0000_0001], 0, IXC);
}

#[test]
fn nan_propagation_two_operands() {
    // A signalling NaN wins over a quiet one in either position, and is quietened.
    check("add.f32", RN, &[QNAN, SNAN], 0x7fc0_0002, IOC);
    check("add.f32", RN, &[SNAN, QNAN], 0x7fc0_0002, IOC);
    // Two quiet NaNs: the first operand's.
    check("add.f32", RN, &[QNAN, NQNAN], QNAN, 0);
    // One NaN: that one, sign and payload kept; subtraction does not flip a NaN.
    check("add.f32", RN, &[ONE, NQNAN], NQNAN, 0);
    check("sub.f32", RN, &[ONE, NQNAN], NQNAN, 0);
    // Default NaN mode.
    check("add.f32", DN, &[QNAN, SNAN], DEFAULT_NAN, IOC);
    check("add.f32", DN, &[ONE, NQNAN], DEFAULT_NAN, 0);
    check(
        "add.f64",
        RN,
        &[0x7ff8_0000_0000_0001, 0x7ff0_0000_0000_0002],
        0x7ff8_0000_0000_0002,
        IOC,
    );
    check(
        "add.f64",
        DN,
        &[0x7ff8_0000_0000_0001, 0x7ff0_0000_0000_0002],
        0x7ff8_0000_0000_0000,
        IOC,
    );
}

#[test]
fn invalid_operations_and_division_by_zero() {
    check("sub.f32", RN, &[INF, INF], DEFAULT_NAN, IOC);
    check("mul.f32", RN, &[0, NINF], DEFAULT_NAN, IOC);
    // A signalling NaN times zero is a NaN operand first: the quietened NaN.
    check("mul.f32", RN, &[NSNAN, 0], 0xffc0_0004, IOC);
    check("div.f32", RN, &[0, 0], DEFAULT_NAN, IOC);
    check("div.f32", RN, &[ONE, 0x8000_0000], NINF, DZC);
    check("div.f32", RN, &[INF, 0], INF, 0);
    check(
        "div.f64",
        RN,
        &[0x7ff0_0000_0000_0000, 0x7ff0_0000_0000_0000],
        0x7ff8_0000_0000_0000,
        IOC,
    );
}

#[test]
fn square_root() {
    check("sqrt.f32", RN, &[0x4000_0000], 0x3fb5_04f3, IXC);
    check("sqrt.f64", RN, &[0x4000_0000_0000_0000], 0x3ff6_a09e_667f_3bcd, IXC);
    check("sqrt.f32", RN, &[0xbf80_0000], DEFAULT_NAN, IOC);
    check("sqrt.f32", RN, &[NINF], DEFAULT_NAN, IOC);
    check("sqrt.f32", RN, &[0x8000_0000], 0x8000_0000, 0);
    check("sqrt.f32", RN, &[0x8000_0001], DEFAULT_NAN, IOC);
    check("sqrt.f32", FZ, &[0x8000_0001], 0x8000_0000, IDC);
    check("sqrt.f32", RN, &[SNAN], 0x7fc0_0002, IOC);
    check("sqrt.f32", DN, &[SNAN], DEFAULT_NAN, IOC);
}

#[test]
fn chained_multiply_accumulate_nan_signs() {
    // VNMUL negates whatever the multiply returned, the default NaN included.
    check("vnmul.f32", RN, &[QNAN, ONE], 0xffc0_0001, 0);
    check("vnmul.f32", DN, &[QNAN, ONE], 0xffc0_0000, 0);
    check("vnmul.f32", RN, &[SNAN, ONE], 0xffc0_0002, IOC);
    check("vnmul.f32", RN, &[INF, 0], 0xffc0_0000, IOC);
    // VMLA = d + n*m: d is the first operand of the addition.
    check("vmla.f32", RN, &[QNAN, NQNAN, ONE], QNAN, 0);
    // VMLS = d + -(n*m): the product NaN is negated.
    check("vmls.f32", RN, &[ONE, NQNAN, ONE], 0x7fc0_0003, 0);
    // VNMLA = -d + -(n*m); VNMLS = -d + n*m.
    check("vnmla.f32", RN, &[QNAN, ONE, ONE], 0xffc0_0001, 0);
    check("vnmla.f32", RN, &[ONE, QNAN, ONE], 0xffc0_0001, 0);
    check("vnmls.f32", RN, &[QNAN, ONE, ONE], 0xffc0_0001, 0);
    check("vnmls.f32", RN, &[ONE, SNAN, ONE], 0x7fc0_0002, IOC);
    // Two roundings: the product is flushed before the add when FZ is on.
    check("vmla.f32", RN, &[MIN_NORMAL, 0x3f00_0000, 0x8080_0000], 0x0040_0000, 0);
    check("vmla.f32", FZ, &[MIN_NORMAL, 0x3f00_0000, 0x8080_0000], MIN_NORMAL, UFC);
}

#[test]
fn fused_multiply_add() {
    // The ARM ARM's definitions: VFNMA = -d - n*m, VFNMS = -d + n*m, VFMS = d - n*m.
    check("vfnma.f32", RN, &[ONE, 0x4000_0000, 0x4040_0000], 0xc0e0_0000, 0);
    check("vfnms.f32", RN, &[ONE, 0x4000_0000, 0x4040_0000], 0x40a0_0000, 0);
    check("vfms.f32", RN, &[ONE, 0x4000_0000, 0x4040_0000], 0xc0a0_0000, 0);
    // One rounding: (1 + 2^-23) * -(1 - 2^-23) + 1 = 2^-46 exactly.
    check("vfma.f32", RN, &[ONE, 0x3f80_0001, 0xbf7f_fffe], 0x2880_0000, 0);
    // Exact cancellation: +0, or -0 when rounding towards minus infinity.
    check("vfma.f32", RN, &[0xbf80_0000, ONE, ONE], 0, 0);
    check("vfma.f32", RM, &[0xbf80_0000, ONE, ONE], 0x8000_0000, 0);
    check("vfma.f32", RN, &[NINF, INF, ONE], DEFAULT_NAN, IOC);
    // 0 * inf + quiet NaN: Invalid, default NaN. With a signalling NaN addend: that NaN.
    check("vfma.f32", RN, &[QNAN, 0, INF], DEFAULT_NAN, IOC);
    check("vfma.f32", RN, &[SNAN, 0, INF], 0x7fc0_0002, IOC);
    check("vfma.f32", RN, &[ONE, 0, INF], DEFAULT_NAN, IOC);
    check(
        "vfma.f64",
        RN,
        &[0x7ff8_0000_0000_0001, 0, 0x7ff0_0000_0000_0000],
        0x7ff8_0000_0000_0000,
        IOC,
    );
    // NaN order: signalling first (addend, n, m), then quiet (addend, n, m).
    check("vfma.f32", RN, &[QNAN, SNAN, ONE], 0x7fc0_0002, IOC);
    check("vfma.f32", RN, &[QNAN, NQNAN, ONE], QNAN, 0);
    check("vfma.f32", RN, &[ONE, QNAN, NSNAN], 0xffc0_0004, IOC);
    // Negated inputs carry their sign flip onto NaNs.
    check("vfms.f32", RN, &[ONE, QNAN, ONE], 0xffc0_0001, 0);
    check("vfnma.f32", RN, &[QNAN, ONE, ONE], 0xffc0_0001, 0);
    check("vfnma.f32", RN, &[ONE, QNAN, ONE], 0xffc0_0001, 0);
    check("vfnms.f32", RN, &[QNAN, ONE, ONE], 0xffc0_0001, 0);
    check("vfnms.f32", DN, &[QNAN, ONE, ONE], DEFAULT_NAN, 0);
}

#[test]
fn compares() {
    check("cmp.f32", RN, &[QNAN, ONE], UN, 0);
    check("cmpe.f32", RN, &[QNAN, ONE], UN, IOC);
    check("cmp.f32", RN, &[SNAN, ONE], UN, IOC);
    check("cmp.f32", RN, &[0x8000_0000, 0], EQ, 0);
    check("cmp.f32", RN, &[NINF, NMAX], LT, 0);
    check("cmpe.f32", RN, &[ONE, 0x4000_0000], LT, 0);
    check("cmp.f64", RN, &[0x7ff8_0000_0000_0001, 0x7ff8_0000_0000_0001], UN, 0);
    check(
        "cmpe.f64",
        RN,
        &[0x7ff0_0000_0000_0000, 0x7fef_ffff_ffff_ffff],
        0x2000_0000,
        0,
    );
}

#[test]
fn float_to_integer_boundaries() {
    // 2^31 - 128 (largest single below 2^31), 2^31, -2^31, just below -2^31.
    check("f32_to_i32", RN, &[0x4eff_ffff], 0x7fff_ff80, 0);
    check("f32_to_i32", RN, &[0x4f00_0000], 0x7fff_ffff, IOC);
    check("f32_to_i32", RN, &[0xcf00_0000], 0x8000_0000, 0);
    check("f32_to_i32", RN, &[0xcf00_0001], 0x8000_0000, IOC);
    check("f32_to_u32", RN, &[0x4f80_0000], 0xffff_ffff, IOC);
    // -0.5 to unsigned: rounds to zero, Inexact only (VCVT and VCVTR in RN: ties to even).
    check("f32_to_u32", RN, &[0xbf00_0000], 0, IXC);
    check("f32_to_u32_r", RN, &[0xbf00_0000], 0, IXC);
    // ...but -0.5 rounded towards minus infinity is -1: out of range.
    check("f32_to_u32_r", RM, &[0xbf00_0000], 0, IOC);
    check("f32_to_u32_r", RN, &[0xbf40_0000], 0, IOC);
    // VCVTR uses FPSCR rounding; VCVT always truncates.
    check("f32_to_i32_r", RN, &[0x3fc0_0000], 2, IXC);
    check("f32_to_i32_r", RN, &[0x4020_0000], 2, IXC);
    check("f32_to_i32_r", RP, &[0x3f00_0000], 1, IXC);
    check("f32_to_i32", RP, &[0x3fc0_0000], 1, IXC);
    // NaN converts to 0, infinities saturate; all Invalid.
    check("f32_to_i32", RN, &[DEFAULT_NAN], 0, IOC);
    check("f32_to_i32", RN, &[SNAN], 0, IOC);
    check("f32_to_i32", RN, &[NINF], 0x8000_0000, IOC);
    check("f32_to_u32", RN, &[NINF], 0, IOC);
    // Doubles: 2^31 - 0.5, 2^31 - 1, -2^31 - 0.5, -2^31 - 1.
    check("f64_to_i32", RN, &[0x41df_ffff_ffe0_0000], 0x7fff_ffff, IXC);
    check("f64_to_i32_r", RN, &[0x41df_ffff_ffe0_0000], 0x7fff_ffff, IOC);
    check("f64_to_i32_r", RM, &[0x41df_ffff_ffe0_0000], 0x7fff_ffff, IXC);
    check("f64_to_i32", RN, &[0x41df_ffff_ffc0_0000], 0x7fff_ffff, 0);
    check("f64_to_i32", RN, &[0xc1e0_0000_0010_0000], 0x8000_0000, IXC);
    check("f64_to_i32_r", RN, &[0xc1e0_0000_0010_0000], 0x8000_0000, IXC);
    check("f64_to_i32_r", RM, &[0xc1e0_0000_0010_0000], 0x8000_0000, IOC);
    check("f64_to_i32", RN, &[0xc1e0_0000_0020_0000], 0x8000_0000, IOC);
    check("f64_to_u32", RN, &[0xbfe0_0000_0000_0000], 0, IXC);
    check("f64_to_u32", RN, &[0x41ef_ffff_ffe0_0000], 0xffff_ffff, 0);
    check("f64_to_u32", RN, &[0x7ff8_0000_0000_0001], 0, IOC);
}

#[test]
fn integer_to_float() {
    check("i32_to_f32", RN, &[0x7fff_ffff], 0x4f00_0000, IXC);
    check("i32_to_f32", RZ, &[0x7fff_ffff], 0x4eff_ffff, IXC);
    check("u32_to_f32", RN, &[0xffff_ffff], 0x4f80_0000, IXC);
    check("u32_to_f32", RM, &[0xffff_ffff], 0x4f7f_ffff, IXC);
    check("i32_to_f32", RN, &[0x8000_0001], 0xcf00_0000, IXC);
    check("i32_to_f32", RM, &[0x8000_0001], 0xcf00_0000, IXC);
    check("i32_to_f32", RP, &[0x8000_0001], 0xceff_ffff, IXC);
    check("u32_to_f32", RN, &[0x0100_0001], 0x4b80_0000, IXC);
    check("i32_to_f64", RN, &[0x8000_0000], 0xc1e0_0000_0000_0000, 0);
    check("u32_to_f64", RN, &[0xffff_ffff], 0x41ef_ffff_ffe0_0000, 0);
}

#[test]
fn fixed_point() {
    // Fixed to float rounds to nearest whatever FPSCR.RMode says.
    check("fixed_to_f32.s32.3", RN, &[0x11ac_19d2], 0x4c0d_60cf, IXC);
    check("fixed_to_f32.s32.3", RZ, &[0x11ac_19d2], 0x4c0d_60cf, IXC);
    check("fixed_to_f32.u16.16", RN, &[0xffff_ffff], 0x3f7f_ff00, 0);
    // 16-bit operands: only the low half counts, sign-extended for signed.
    check("fixed_to_f32.s16.16", RN, &[0x0001_8000], 0xbf00_0000, 0);
    check("fixed_to_f64.s32.32", RN, &[0x8000_0000], 0xbfe0_0000_0000_0000, 0);
    check("fixed_to_f64.s16.0", RN, &[0x1234_80ff], 0xc0df_c040_0000_0000, 0);
    // Float to fixed always truncates and saturates; results are extended to the register.
    check("f32_to_fixed.s16.8", RN, &[0xc300_0100], 0xffff_8000, IOC);
    check("f32_to_fixed.u16.0", RN, &[0x477f_ff00], 0x0000_ffff, 0);
    check("f32_to_fixed.s32.31", RN, &[ONE], 0x7fff_ffff, IOC);
    check("f32_to_fixed.s32.31", RN, &[0xbf80_0000], 0x8000_0000, 0);
    check("f32_to_fixed.u32.32", RP, &[0x3f7f_ffff], 0xffff_ff00, 0);
    check("f32_to_fixed.s16.4", RN, &[QNAN], 0, IOC);
    check(
        "f64_to_fixed.s16.4",
        RN,
        &[0xc0a0_0800_0000_0000],
        0xffff_ffff_ffff_8000,
        IOC,
    );
    check("f64_to_fixed.u32.1", RN, &[0x41ef_ffff_ffff_ffff], 0xffff_ffff, IOC);
}

#[test]
fn precision_conversions_keep_nan_payloads() {
    check("f32_to_f64", RN, &[SNAN], 0x7ff8_0000_4000_0000, IOC);
    check("f32_to_f64", RN, &[0xffc1_2345], 0xfff8_2468_a000_0000, 0);
    check("f32_to_f64", DN, &[0xffc1_2345], 0x7ff8_0000_0000_0000, 0);
    // Narrowing keeps the top of the payload; a signalling NaN whose payload is all in the
    // dropped bits still comes out as a (quiet) NaN.
    check("f64_to_f32", RN, &[0x7ff0_0000_0000_0001], DEFAULT_NAN, IOC);
    check("f64_to_f32", RN, &[0xfff1_2345_6789_abcd], 0xffc9_1a2b, IOC);
    check("f64_to_f32", RN, &[0x3ff0_0000_1000_0000], 0x3f80_0000, IXC);
    check("f64_to_f32", RP, &[0x3ff0_0000_1000_0000], 0x3f80_0001, IXC);
}

#[test]
fn half_precision() {
    // IEEE half: 65504 is the largest; 65520 rounds to infinity in RN.
    check("f32_to_f16", RN, &[0x477f_e000], 0x7bff, 0);
    check("f32_to_f16", RN, &[0x477f_f000], 0x7c00, OFC | IXC);
    check("f32_to_f16", RZ, &[0x477f_f000], 0x7bff, IXC); // rounds down to 65504: no overflow
    // Just over half the smallest denormal rounds up to it; FZ never flushes the half.
    check("f32_to_f16", RN, &[0x3300_0001], 0x0001, UFC | IXC);
    check("f32_to_f16", FZ, &[0x3300_0001], 0x0001, UFC | IXC);
    // ...but it does flush a denormal single input.
    check("f32_to_f16", RN, &[0x0000_0001], 0x0000, UFC | IXC);
    check("f32_to_f16", FZ, &[0x0000_0001], 0x0000, IDC);
    check("f32_to_f16", RN, &[SNAN], 0x7e00, IOC);
    check("f32_to_f16", RN, &[0xffc1_2345], 0xfe09, 0);
    check("f32_to_f16", DN, &[0xffc1_2345], 0x7e00, 0);
    // Alternative half precision: no infinities or NaNs, largest value 131008.
    check("f32_to_f16", AHP, &[0x47ff_e000], 0x7fff, 0);
    check("f32_to_f16", AHP, &[0x47ff_f000], 0x7fff, IOC);
    check("f32_to_f16", AHP, &[QNAN], 0x0000, IOC);
    check("f32_to_f16", AHP, &[NINF], 0xffff, IOC);
    check("f16_to_f32", AHP, &[0x7c00], 0x4780_0000, 0);
    check("f16_to_f32", AHP, &[0xffff], 0xc7ff_e000, 0);
    check("f16_to_f32", RN, &[0x7c01], 0x7fc0_2000, IOC);
    check("f16_to_f32", RN, &[0xfe55], 0xffca_a000, 0);
    check("f16_to_f32", DN, &[0x7c01], DEFAULT_NAN, IOC);
    // Half denormals are exact singles, FZ or not.
    check("f16_to_f32", RN, &[0x0001], 0x3380_0000, 0);
    check("f16_to_f32", FZ, &[0x0001], 0x3380_0000, 0);
}

#[test]
fn sign_operations_touch_only_the_sign_bit() {
    let mut ctx = FpContext::from_fpscr(FZ | DN);
    assert_eq!(neg32(&mut ctx, 0x7f80_0001), 0xff80_0001);
    assert_eq!(abs32(&mut ctx, 0x8000_0001), 0x0000_0001);
    assert_eq!(neg64(&mut ctx, 0x0000_0000_0000_0001), 0x8000_0000_0000_0001);
    assert_eq!(abs64(&mut ctx, 0xfff0_0000_0000_0001), 0x7ff0_0000_0000_0001);
    assert_eq!(ctx.flags, 0);
    check("neg.f32", RN, &[0x7f80_0001], 0xff80_0001, 0);
}

#[test]
fn constants_and_context() {
    assert_eq!(default_nan32(), 0x7fc0_0000);
    assert_eq!(default_nan64(), 0x7ff8_0000_0000_0000);
    let ctx = FpContext::from_fpscr(0x0340_009f);
    assert_eq!(ctx.rounding, Rounding::PlusInfinity);
    assert!(ctx.flush_to_zero && ctx.default_nan);
    assert_eq!(ctx.flags, flags::ALL);
    assert_eq!(FpContext::default(), FpContext::from_fpscr(0));
}
