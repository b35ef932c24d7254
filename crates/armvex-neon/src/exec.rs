//! Execution of the data-processing groups (ARM ARM A7.4 and the instructions of A8.8
//! they point to). Each function reads its operands out of the register file first and
//! writes the results last, so a destination that overlaps a source (allowed for many
//! long and narrow forms) behaves as the ARM ARM's pseudocode says.
//!
//! | group (A7.4) | function | instructions |
//! |---|---|---|
//! | 3 registers same length | [`three_same`] | VADD VSUB VHADD VRHADD VHSUB VQADD VQSUB, bitwise and VBSL/VBIT/VBIF, VCEQ/VCGE/VCGT/VTST, VMAX/VMIN, VABD/VABA, VMUL/VMLA/VMLS (integer, VMUL.P8), VPADD/VPMAX/VPMIN, VQDMULH/VQRDMULH, VSHL/VRSHL/VQSHL/VQRSHL (register), and the F32 forms incl. VFMA/VFMS, VACGE/VACGT, VRECPS/VRSQRTS |
//! | 2 registers and a shift | [`shift_imm`] | VSHR VSRA VRSHR VRSRA VSRI VSHL VSLI VQSHL VQSHLU, narrowing VSHRN VRSHRN VQSHRN VQRSHRN VQSHRUN VQRSHRUN, VSHLL/VMOVL, VCVT fixed point |
//! | 1 register and an immediate | [`mod_imm`] | VMOV VMVN VORR VBIC (immediate), `AdvSIMDExpandImm` |
//! | 3 registers different lengths | [`three_diff`] | VADDL VADDW VSUBL VSUBW VADDHN VRADDHN VSUBHN VRSUBHN VABAL VABDL VMLAL VMLSL VMULL (incl. VMULL.P8) VQDMLAL VQDMLSL VQDMULL |
//! | 2 registers and a scalar | [`scalar`] | VMLA VMLS VMUL (integer and F32), VMLAL VMLSL VMULL, VQDMLAL VQDMLSL VQDMULL, VQDMULH VQRDMULH |
//! | miscellaneous | [`ext`], [`tbl`], [`dup_scalar`] | VEXT, VTBL/VTBX, VDUP (scalar) |
//! | 2 registers misc | [`two_misc`] | VREV16/32/64, VPADDL/VPADAL, VCLS VCLZ VCNT VMVN, VQABS VQNEG VABS VNEG, compares with #0 (integer and F32), VSWP VTRN VUZP VZIP, VMOVN VQMOVN VQMOVUN, VSHLL (maximum shift), VCVT F16<->F32, VRECPE/VRSQRTE (U32 and F32), VCVT F32<->S32/U32 |
//!
//! Floating-point details that matter for bit-exact results (all checked against QEMU):
//! VMLA/VMLS.F32 round twice (`d + (n*m)`, `d - (n*m)`), VFMA/VFMS once; VABD.F32 is
//! `|n - m|` after rounding; VMAX/VMIN.F32 return the default NaN for any NaN operand and
//! order -0 below +0; VRECPS is `2 - n*m` and VRSQRTS `(3 - n*m) / 2`, except that
//! infinity times zero (after flushing denormals) gives exactly 2.0 or 1.5.

use armvex_fpu as fpu;
use armvex_fpu::FpContext;

use crate::decode::{bit, field, vd, vm, vn};
use crate::estimate;
use crate::lanes::{elem, int, mask, replicate, sat, sat_s, sat_u, set_elem, sext};

/// The state an instruction works on while it runs: the D registers, the sticky QC flag it
/// may set, and the floating-point context of the Standard FPSCR value.
pub(crate) struct Unit<'a> {
    pub d: &'a mut [u64; 32],
    pub qc: bool,
    pub fp: FpContext,
    /// FPSCR.AHP: the one FPSCR control the Standard FPSCR value keeps (VCVT half).
    pub ahp: bool,
}

impl Unit<'_> {
    #[inline]
    fn r(&self, n: usize) -> u64 {
        self.d[n & 31]
    }
    #[inline]
    fn w(&mut self, n: usize, v: u64) {
        self.d[n & 31] = v;
    }
    /// D registers n and n+1 (a Q register when `regs` = 2).
    #[inline]
    fn rq(&self, n: usize, regs: usize) -> [u64; 2] {
        [self.r(n), if regs == 2 { self.r(n + 1) } else { 0 }]
    }
}

const ONES: u64 = u64::MAX;

fn all_ones_if(c: bool) -> u64 {
    if c { ONES } else { 0 }
}

// ------------------------------------------------------------------ three registers, same length

pub(crate) fn three_same(u: &mut Unit, w: u32) {
    let (a, b, uns, size, q) = (field(w, 8, 4), bit(w, 4), bit(w, 24), field(w, 20, 2), bit(w, 6));
    let regs = if q { 2 } else { 1 };
    let (d, n, m) = (vd(w), vn(w), vm(w));
    if a >= 12 {
        return three_same_float(u, w, a, b, uns, regs);
    }
    if a == 1 && b {
        // bitwise: the size field selects the operation
        for r in 0..regs {
            let (x, y, z) = (u.r(n + r), u.r(m + r), u.r(d + r));
            let v = match (uns, size) {
                (false, 0) => x & y,
                (false, 1) => x & !y,
                (false, 2) => x | y,
                (false, _) => x | !y,
                (true, 0) => x ^ y,
                (true, 1) => (x & z) | (y & !z),
                (true, 2) => (x & y) | (z & !y),
                (true, _) => (z & y) | (x & !y),
            };
            u.w(d + r, v);
        }
        return;
    }
    let esize = 8 << size;
    if a == 10 || (a == 11 && b) {
        // VPMAX, VPMIN, VPADD: pairs of Dn, then pairs of Dm
        let (x, y) = (u.r(n), u.r(m));
        let h = 32 / esize;
        let mut out = 0;
        for e in 0..h {
            for (half, src) in [(0, x), (1, y)] {
                let p = int(elem(src, 2 * e, esize), esize, !uns);
                let q2 = int(elem(src, 2 * e + 1, esize), esize, !uns);
                let v = match (a, b) {
                    (10, false) => p.max(q2),
                    (10, true) => p.min(q2),
                    _ => p + q2,
                };
                out = set_elem(out, e + half * h, esize, v as u64);
            }
        }
        u.w(d, out);
        return;
    }
    let signed = !uns;
    let mut qc = false;
    for r in 0..regs {
        let (x, y, z) = (u.r(n + r), u.r(m + r), u.r(d + r));
        let mut out = 0;
        for e in 0..64 / esize {
            let (xe, ye, ze) = (elem(x, e, esize), elem(y, e, esize), elem(z, e, esize));
            let (xi, yi) = (int(xe, esize, signed), int(ye, esize, signed));
            let v: u64 = match (a, b) {
                (0, false) => ((xi + yi) >> 1) as u64,
                (0, true) => sat(xi + yi, esize, signed, &mut qc),
                (1, false) => ((xi + yi + 1) >> 1) as u64,
                (2, false) => ((xi - yi) >> 1) as u64,
                (2, true) => sat(xi - yi, esize, signed, &mut qc),
                (3, false) => all_ones_if(xi > yi),
                (3, true) => all_ones_if(xi >= yi),
                // shifts: the value is Vm's element, the shift Vn's bottom byte
                (4, false) => shift_reg(yi, xe, esize, signed, false, false, &mut qc),
                (4, true) => shift_reg(yi, xe, esize, signed, false, true, &mut qc),
                (5, false) => shift_reg(yi, xe, esize, signed, true, false, &mut qc),
                (5, true) => shift_reg(yi, xe, esize, signed, true, true, &mut qc),
                (6, false) => xi.max(yi) as u64,
                (6, true) => xi.min(yi) as u64,
                (7, false) => (xi - yi).unsigned_abs() as u64,
                (7, true) => ze.wrapping_add((xi - yi).unsigned_abs() as u64),
                (8, false) => {
                    if uns {
                        xe.wrapping_sub(ye)
                    } else {
                        xe.wrapping_add(ye)
                    }
                }
                (8, true) => all_ones_if(if uns { xe == ye } else { xe & ye != 0 }),
                (9, false) => {
                    let p = xe.wrapping_mul(ye);
                    if uns { ze.wrapping_sub(p) } else { ze.wrapping_add(p) }
                }
                (9, true) => {
                    if uns {
                        pmul(xe, ye) // VMUL.P8
                    } else {
                        xe.wrapping_mul(ye)
                    }
                }
                (11, false) => {
                    let (xs, ys) = (int(xe, esize, true), int(ye, esize, true));
                    let round = if uns { 1i128 << (esize - 1) } else { 0 };
                    sat_s((2 * xs * ys + round) >> esize, esize, &mut qc)
                }
                _ => 0,
            };
            out = set_elem(out, e, esize, v);
        }
        u.w(d + r, out);
    }
    u.qc |= qc;
}

/// Carry-less (polynomial) product of two bit strings of up to 32 bits.
fn pmul(a: u64, b: u64) -> u64 {
    let mut r = 0;
    for i in 0..32 {
        if (b >> i) & 1 != 0 {
            r ^= a << i;
        }
    }
    r
}

/// VSHL/VRSHL/VQSHL/VQRSHL (register): `value` shifted by the signed bottom byte of
/// `shift_elem`, left if positive, right (rounding if `round`) if negative, saturating to
/// the element if `saturate`.
fn shift_reg(
    value: i128,
    shift_elem: u64,
    esize: u32,
    signed: bool,
    round: bool,
    saturate: bool,
    qc: &mut bool,
) -> u64 {
    let shift = (shift_elem as u8 as i8) as i32;
    if shift >= 0 {
        let s = shift as u32;
        if saturate {
            if value == 0 {
                0
            } else if s >= esize {
                sat(if value > 0 { i128::MAX } else { i128::MIN }, esize, signed, qc)
            } else {
                sat(value << s, esize, signed, qc)
            }
        } else if s >= esize {
            0
        } else {
            ((value << s) as u64) & mask(esize)
        }
    } else {
        let s = ((-shift) as u32).min(66);
        let v = if round {
            (value + (1i128 << (s - 1))) >> s
        } else {
            value >> s
        };
        if saturate {
            sat(v, esize, signed, qc)
        } else {
            v as u64 & mask(esize)
        }
    }
}

/// The Standard FPSCR value's context: round to nearest, flush-to-zero, default NaN.
pub(crate) fn standard_context() -> FpContext {
    FpContext {
        rounding: fpu::Rounding::NearestEven,
        flush_to_zero: true,
        default_nan: true,
        flags: 0,
    }
}

fn is_nan(x: u32) -> bool {
    x & 0x7FFF_FFFF > 0x7F80_0000
}

fn squash(ctx: &mut FpContext, x: u32) -> u32 {
    if x & 0x7F80_0000 == 0 && x & 0x007F_FFFF != 0 {
        ctx.flags |= fpu::flags::IDC;
        x & 0x8000_0000
    } else {
        x
    }
}

/// VMAX.F32/VMIN.F32 (`FPMax`/`FPMin`): any NaN gives the default NaN (IOC for a
/// signalling one); +0 is larger than -0.
fn fmaxmin(ctx: &mut FpContext, a: u32, b: u32, max: bool) -> u32 {
    let (a, b) = (squash(ctx, a), squash(ctx, b));
    if is_nan(a) || is_nan(b) {
        if (is_nan(a) && a & 0x0040_0000 == 0) || (is_nan(b) && b & 0x0040_0000 == 0) {
            ctx.flags |= fpu::flags::IOC;
        }
        return fpu::default_nan32();
    }
    let key = |x: u32| -> i64 {
        if x & 0x8000_0000 != 0 {
            -((x & 0x7FFF_FFFF) as i64) - 1
        } else {
            x as i64
        }
    };
    let a_larger = key(a) > key(b);
    if a_larger == max { a } else { b }
}

const F_EQ: u32 = 0x6000_0000;
const F_GT: u32 = 0x2000_0000;

/// One float operation of the 3-same group (not pairwise); `key` is (A, B, U, bit 21), the
/// opcode fields of A7.4.1.
fn float_op(ctx: &mut FpContext, key: (u32, bool, bool, bool), x: u32, y: u32, z: u32) -> u32 {
    let op1 = key.3;
    match key {
        (12, true, _, false) => fpu::vfma32(ctx, z, x, y),
        (12, true, _, true) => fpu::vfms32(ctx, z, x, y),
        (13, false, false, false) => fpu::add32(ctx, x, y),
        (13, false, false, true) => fpu::sub32(ctx, x, y),
        (13, false, true, _) => fpu::sub32(ctx, x, y) & 0x7FFF_FFFF,
        (13, true, false, false) => {
            let p = fpu::mul32(ctx, x, y);
            fpu::add32(ctx, z, p)
        }
        (13, true, false, true) => {
            let p = fpu::mul32(ctx, x, y);
            fpu::sub32(ctx, z, p)
        }
        (13, true, true, _) => fpu::mul32(ctx, x, y),
        (14, false, false, _) => all_ones_if(fpu::compare32(ctx, x, y, false) == F_EQ) as u32,
        (14, false, true, false) => {
            let c = fpu::compare32(ctx, x, y, true);
            all_ones_if(c == F_EQ || c == F_GT) as u32
        }
        (14, false, true, true) => all_ones_if(fpu::compare32(ctx, x, y, true) == F_GT) as u32,
        (14, true, _, false) => {
            let c = fpu::compare32(ctx, x & 0x7FFF_FFFF, y & 0x7FFF_FFFF, true);
            all_ones_if(c == F_EQ || c == F_GT) as u32
        }
        (14, true, _, true) => all_ones_if(fpu::compare32(ctx, x & 0x7FFF_FFFF, y & 0x7FFF_FFFF, true) == F_GT) as u32,
        (15, false, _, _) => fmaxmin(ctx, x, y, !op1),
        (15, true, _, false) => recps(ctx, x, y),
        (15, true, _, true) => rsqrts(ctx, x, y),
        _ => 0,
    }
}

fn is_inf(x: u32) -> bool {
    x & 0x7FFF_FFFF == 0x7F80_0000
}
fn is_zero(x: u32) -> bool {
    x & 0x7FFF_FFFF == 0
}

/// VRECPS: `2 - x*y` (two roundings), with `inf * 0` giving exactly 2.
fn recps(ctx: &mut FpContext, x: u32, y: u32) -> u32 {
    let (x, y) = (squash(ctx, x), squash(ctx, y));
    if (is_inf(x) && is_zero(y)) || (is_inf(y) && is_zero(x)) {
        return 0x4000_0000;
    }
    let p = fpu::mul32(ctx, x, y);
    fpu::sub32(ctx, 0x4000_0000, p)
}

/// VRSQRTS: `(3 - x*y) / 2`, with `inf * 0` giving exactly 1.5.
fn rsqrts(ctx: &mut FpContext, x: u32, y: u32) -> u32 {
    let (x, y) = (squash(ctx, x), squash(ctx, y));
    if (is_inf(x) && is_zero(y)) || (is_inf(y) && is_zero(x)) {
        return 0x3FC0_0000;
    }
    let p = fpu::mul32(ctx, x, y);
    let s = fpu::sub32(ctx, 0x4040_0000, p);
    fpu::div32(ctx, s, 0x4000_0000)
}

fn three_same_float(u: &mut Unit, w: u32, a: u32, b: bool, uns: bool, regs: usize) {
    let (d, n, m) = (vd(w), vn(w), vm(w));
    let op1 = bit(w, 21);
    let ctx = &mut u.fp;
    let pairwise = uns && !b && (a == 13 && !op1 || a == 15);
    if pairwise {
        let (x, y) = (u.d[n], u.d[m]);
        let f = |ctx: &mut FpContext, p: u64| -> u64 {
            let (lo, hi) = (p as u32, (p >> 32) as u32);
            (if a == 13 {
                fpu::add32(ctx, lo, hi)
            } else {
                fmaxmin(ctx, lo, hi, !op1)
            }) as u64
        };
        let lo = f(ctx, x);
        let hi = f(ctx, y);
        u.d[d] = lo | (hi << 32);
        return;
    }
    for r in 0..regs {
        let (x, y, z) = (u.d[n + r], u.d[m + r], u.d[d + r]);
        let mut out = 0u64;
        for e in 0..2 {
            let s = 32 * e;
            let v = float_op(ctx, (a, b, uns, op1), (x >> s) as u32, (y >> s) as u32, (z >> s) as u32);
            out |= (v as u64) << s;
        }
        u.d[d + r] = out;
    }
}

// ------------------------------------------------------------------ shifts by immediate

pub(crate) fn shift_imm(u: &mut Unit, w: u32) {
    let (a, uns, l, q) = (field(w, 8, 4), bit(w, 24), bit(w, 7), bit(w, 6));
    let imm6 = field(w, 16, 6);
    let (d, m) = (vd(w), vm(w));
    let regs = if q { 2 } else { 1 };
    let esize = if l {
        64
    } else if imm6 & 0x20 != 0 {
        32
    } else if imm6 & 0x10 != 0 {
        16
    } else {
        8
    };
    let signed = !uns;
    let mut qc = false;
    match a {
        0..=7 => {
            let rshift = if l { 64 } else { 2 * esize } - imm6;
            let lshift = if l { imm6 } else { imm6 - esize };
            for r in 0..regs {
                let (x, z) = (u.r(m + r), u.r(d + r));
                let mut out = 0;
                for e in 0..64 / esize {
                    let (xe, ze) = (elem(x, e, esize), elem(z, e, esize));
                    let xi = int(xe, esize, signed);
                    let rnd = |s: u32| (xi + (1i128 << (s - 1))) >> s;
                    let v = match a {
                        0 => (xi >> rshift) as u64,
                        1 => ze.wrapping_add((xi >> rshift) as u64),
                        2 => rnd(rshift) as u64,
                        3 => ze.wrapping_add(rnd(rshift) as u64),
                        4 => {
                            if rshift >= esize {
                                ze
                            } else {
                                let mk = mask(esize) >> rshift;
                                (ze & !mk) | ((xe >> rshift) & mk)
                            }
                        }
                        5 => {
                            if uns {
                                let mk = (mask(esize) << lshift) & mask(esize);
                                (ze & !mk) | ((xe << lshift) & mk)
                            } else {
                                xe << lshift
                            }
                        }
                        6 => sat_u(int(xe, esize, true) << lshift, esize, &mut qc),
                        _ => sat(xi << lshift, esize, signed, &mut qc),
                    };
                    out = set_elem(out, e, esize, v);
                }
                u.w(d + r, out);
            }
        }
        8 | 9 => {
            // narrowing: source elements are 2*esize bits of Qm, results esize bits
            let esize = if imm6 & 0x20 != 0 {
                32
            } else if imm6 & 0x10 != 0 {
                16
            } else {
                8
            };
            let s = 2 * esize - imm6;
            let src = u.rq(m, 2);
            let big = 2 * esize;
            let mut out = 0;
            for e in 0..64 / esize {
                let se = elem(src[(e / (32 / esize)) as usize], e % (32 / esize), big);
                // a = 8: U=0 VSHRN/VRSHRN (no saturation); U=1 VQSHRUN/VQRSHRUN (signed
                // source, unsigned result). a = 9: VQSHRN/VQRSHRN, signedness from U.
                let src_signed = if a == 8 { true } else { signed };
                let v = int(se, big, src_signed);
                let shifted = if q { (v + (1i128 << (s - 1))) >> s } else { v >> s };
                let res = match (a, uns) {
                    (8, false) => shifted as u64,
                    (8, true) => sat_u(shifted, esize, &mut qc),
                    _ => sat(shifted, esize, signed, &mut qc),
                };
                out = set_elem(out, e, esize, res);
            }
            u.w(d, out);
        }
        10 => {
            let s = imm6 - esize;
            let x = u.r(m);
            let mut out = [0u64; 2];
            let per = 32 / esize;
            for e in 0..64 / esize {
                let v = (int(elem(x, e, esize), esize, signed) << s) as u64;
                let slot = &mut out[(e / per) as usize];
                *slot = set_elem(*slot, e % per, 2 * esize, v);
            }
            u.w(d, out[0]);
            u.w(d + 1, out[1]);
        }
        _ => {
            // VCVT between float and fixed point, 64 - imm6 fraction bits
            let frac = 64 - imm6;
            for r in 0..regs {
                let x = u.r(m + r);
                let mut out = 0u64;
                for e in 0..2 {
                    let xe = (x >> (32 * e)) as u32;
                    let v = if a == 14 {
                        fpu::fixed_to_f32(&mut u.fp, xe, frac, signed, false)
                    } else {
                        fpu::f32_to_fixed(&mut u.fp, xe, frac, signed, false)
                    };
                    out |= (v as u64) << (32 * e);
                }
                u.w(d + r, out);
            }
        }
    }
    u.qc |= qc;
}

// ------------------------------------------------------------------ one register and a modified immediate

/// `AdvSIMDExpandImm(op, cmode, imm8)`: the 64-bit constant.
pub(crate) fn expand_imm(op: bool, cmode: u32, imm8: u32) -> u64 {
    let i = imm8 as u64;
    let r32 = |v: u64| v | (v << 32);
    match cmode >> 1 {
        0 => r32(i),
        1 => r32(i << 8),
        2 => r32(i << 16),
        3 => r32(i << 24),
        4 => replicate(i, 16),
        5 => replicate(i << 8, 16),
        6 => {
            if cmode & 1 == 0 {
                r32((i << 8) | 0xFF)
            } else {
                r32((i << 16) | 0xFFFF)
            }
        }
        _ => {
            if cmode & 1 == 0 {
                if !op {
                    replicate(i, 8)
                } else {
                    let mut v = 0;
                    for b in 0..8 {
                        if (i >> b) & 1 != 0 {
                            v |= 0xFF << (8 * b);
                        }
                    }
                    v
                }
            } else {
                // a single-precision float: a:NOT(b):bbbbb:cdefgh:Zeros(19)
                let b6 = (i >> 6) & 1;
                let f =
                    ((i >> 7) << 31) | ((b6 ^ 1) << 30) | (if b6 != 0 { 0x1F << 25 } else { 0 }) | ((i & 0x3F) << 19);
                r32(f)
            }
        }
    }
}

pub(crate) fn mod_imm(u: &mut Unit, w: u32) {
    let (cmode, op, q) = (field(w, 8, 4), bit(w, 5), bit(w, 6));
    let imm8 = (field(w, 24, 1) << 7) | (field(w, 16, 3) << 4) | field(w, 0, 4);
    let imm = expand_imm(op, cmode, imm8);
    let d = vd(w);
    for r in 0..if q { 2 } else { 1 } {
        let old = u.r(d + r);
        let v = if cmode & 1 == 1 && cmode < 12 {
            if op { old & !imm } else { old | imm }
        } else if op && cmode != 14 {
            !imm
        } else {
            imm
        };
        u.w(d + r, v);
    }
}

// ------------------------------------------------------------------ three registers, different lengths

pub(crate) fn three_diff(u: &mut Unit, w: u32) {
    let (a, uns, size) = (field(w, 8, 4), bit(w, 24), field(w, 20, 2));
    let (d, n, m) = (vd(w), vn(w), vm(w));
    let esize = 8 << size;
    let big = 2 * esize;
    let signed = !uns;
    let per = 32 / esize; // wide elements per D register
    let mut qc = false;
    if a == 4 || a == 6 {
        // VADDHN, VRADDHN, VSUBHN, VRSUBHN: wide inputs, narrow (high half) results
        let (x, y) = (u.rq(n, 2), u.rq(m, 2));
        let mut out = 0;
        for e in 0..64 / esize {
            let (xe, ye) = (
                elem(x[(e / per) as usize], e % per, big),
                elem(y[(e / per) as usize], e % per, big),
            );
            let mut v = if a == 4 {
                xe.wrapping_add(ye)
            } else {
                xe.wrapping_sub(ye)
            };
            if uns {
                v = v.wrapping_add(1 << (esize - 1));
            }
            out = set_elem(out, e, esize, (v & mask(big)) >> esize);
        }
        u.w(d, out);
        return;
    }
    let wide_n = a == 1 || a == 3;
    let xn = u.rq(n, 2);
    let ym = u.r(m);
    let acc = u.rq(d, 2);
    let mut out = [0u64; 2];
    for e in 0..64 / esize {
        let (slot, i) = ((e / per) as usize, e % per);
        let xi = if wide_n {
            int(elem(xn[slot], i, big), big, signed)
        } else {
            int(elem(xn[0], e, esize), esize, signed)
        };
        let poly_x = elem(xn[0], e, esize);
        let yi = int(elem(ym, e, esize), esize, signed);
        let ai = int(elem(acc[slot], i, big), big, signed);
        let v: u64 = match a {
            0 | 1 => (xi + yi) as u64,
            2 | 3 => (xi - yi) as u64,
            5 => (ai + (xi - yi).abs()) as u64,
            7 => (xi - yi).unsigned_abs() as u64,
            8 => (ai + xi * yi) as u64,
            10 => (ai - xi * yi) as u64,
            12 => (xi * yi) as u64,
            9 | 11 | 13 => {
                let p = sat_s(2 * xi * yi, big, &mut qc);
                let p = int(p, big, true);
                match a {
                    9 => sat_s(ai + p, big, &mut qc),
                    11 => sat_s(ai - p, big, &mut qc),
                    _ => p as u64,
                }
            }
            _ => pmul(poly_x, elem(ym, e, esize)),
        };
        out[slot] = set_elem(out[slot], i, big, v);
    }
    u.w(d, out[0]);
    u.w(d + 1, out[1]);
    u.qc |= qc;
}

// ------------------------------------------------------------------ two registers and a scalar

pub(crate) fn scalar(u: &mut Unit, w: u32) {
    let (a, uns, size) = (field(w, 8, 4), bit(w, 24), field(w, 20, 2));
    let esize = 8 << size;
    let (d, n) = (vd(w), vn(w));
    let (mreg, index) = if size == 1 {
        ((w & 7) as usize, (field(w, 5, 1) << 1) | field(w, 3, 1))
    } else {
        ((w & 15) as usize, field(w, 5, 1))
    };
    let sc = elem(u.r(mreg), index, esize);
    let mut qc = false;
    match a {
        0 | 4 | 8 | 12 | 13 => {
            let regs = if uns { 2 } else { 1 };
            let sci = int(sc, esize, true);
            for r in 0..regs {
                let (x, z) = (u.r(n + r), u.r(d + r));
                let mut out = 0;
                for e in 0..64 / esize {
                    let (xe, ze) = (elem(x, e, esize), elem(z, e, esize));
                    let v = match a {
                        0 => ze.wrapping_add(xe.wrapping_mul(sc)),
                        4 => ze.wrapping_sub(xe.wrapping_mul(sc)),
                        8 => xe.wrapping_mul(sc),
                        _ => {
                            let round = if a == 13 { 1i128 << (esize - 1) } else { 0 };
                            sat_s((2 * int(xe, esize, true) * sci + round) >> esize, esize, &mut qc)
                        }
                    };
                    out = set_elem(out, e, esize, v);
                }
                u.w(d + r, out);
            }
        }
        1 | 5 | 9 => {
            let regs = if uns { 2 } else { 1 };
            let s = sc as u32;
            for r in 0..regs {
                let (x, z) = (u.r(n + r), u.r(d + r));
                let mut out = 0u64;
                for e in 0..2 {
                    let (xe, ze) = ((x >> (32 * e)) as u32, (z >> (32 * e)) as u32);
                    let v = match a {
                        1 => {
                            let p = fpu::mul32(&mut u.fp, xe, s);
                            fpu::add32(&mut u.fp, ze, p)
                        }
                        5 => {
                            let p = fpu::mul32(&mut u.fp, xe, s);
                            fpu::sub32(&mut u.fp, ze, p)
                        }
                        _ => fpu::mul32(&mut u.fp, xe, s),
                    };
                    out |= (v as u64) << (32 * e);
                }
                u.w(d + r, out);
            }
        }
        _ => {
            // long forms: VMLAL, VMLSL, VMULL, VQDMLAL, VQDMLSL, VQDMULL
            let signed = !uns || matches!(a, 3 | 7 | 11);
            let big = 2 * esize;
            let per = 32 / esize;
            let x = u.r(n);
            let acc = u.rq(d, 2);
            let sci = int(sc, esize, signed);
            let mut out = [0u64; 2];
            for e in 0..64 / esize {
                let (slot, i) = ((e / per) as usize, e % per);
                let xi = int(elem(x, e, esize), esize, signed);
                let ai = int(elem(acc[slot], i, big), big, signed);
                let v = match a {
                    2 => (ai + xi * sci) as u64,
                    6 => (ai - xi * sci) as u64,
                    10 => (xi * sci) as u64,
                    _ => {
                        let p = int(sat_s(2 * xi * sci, big, &mut qc), big, true);
                        match a {
                            3 => sat_s(ai + p, big, &mut qc),
                            7 => sat_s(ai - p, big, &mut qc),
                            _ => p as u64,
                        }
                    }
                };
                out[slot] = set_elem(out[slot], i, big, v);
            }
            u.w(d, out[0]);
            u.w(d + 1, out[1]);
        }
    }
    u.qc |= qc;
}

// ------------------------------------------------------------------ VEXT, VTBL/VTBX, VDUP (scalar)

pub(crate) fn ext(u: &mut Unit, w: u32) {
    let (d, n, m, q) = (vd(w), vn(w), vm(w), bit(w, 6));
    let imm = field(w, 8, 4) as usize;
    if q {
        let mut bytes = [0u8; 32];
        for (i, reg) in [n, n + 1, m, m + 1].into_iter().enumerate() {
            bytes[i * 8..i * 8 + 8].copy_from_slice(&u.r(reg).to_le_bytes());
        }
        let lo = u64::from_le_bytes(bytes[imm..imm + 8].try_into().unwrap_or([0; 8]));
        let hi = u64::from_le_bytes(bytes[imm + 8..imm + 16].try_into().unwrap_or([0; 8]));
        u.w(d, lo);
        u.w(d + 1, hi);
    } else {
        let v = ((u.r(m) as u128) << 64) | u.r(n) as u128;
        u.w(d, (v >> (imm * 8)) as u64);
    }
}

pub(crate) fn tbl(u: &mut Unit, w: u32) {
    let (d, n, m) = (vd(w), vn(w), vm(w));
    let len = field(w, 8, 2) as usize + 1;
    let tbx = bit(w, 6);
    let idx = u.r(m);
    let old = u.r(d);
    let mut table = [0u8; 32];
    for r in 0..len {
        table[r * 8..r * 8 + 8].copy_from_slice(&u.r(n + r).to_le_bytes());
    }
    let mut out = 0u64;
    for i in 0..8 {
        let k = ((idx >> (8 * i)) & 0xFF) as usize;
        let byte = if k < 8 * len {
            table[k] as u64
        } else if tbx {
            (old >> (8 * i)) & 0xFF
        } else {
            0
        };
        out |= byte << (8 * i);
    }
    u.w(d, out);
}

pub(crate) fn dup_scalar(u: &mut Unit, w: u32) {
    let imm4 = field(w, 16, 4);
    let (esize, index) = if imm4 & 1 != 0 {
        (8, imm4 >> 1)
    } else if imm4 & 2 != 0 {
        (16, imm4 >> 2)
    } else {
        (32, imm4 >> 3)
    };
    let v = replicate(elem(u.r(vm(w)), index, esize), esize);
    let d = vd(w);
    u.w(d, v);
    if bit(w, 6) {
        u.w(d + 1, v);
    }
}

// ------------------------------------------------------------------ two registers, miscellaneous

fn cls(x: u64, esize: u32) -> u64 {
    let s = sext(x, esize);
    let v = if s < 0 { !s } else { s } as u64 & mask(esize);
    (clz(v, esize) - 1) as u64
}
fn clz(x: u64, esize: u32) -> u32 {
    (x & mask(esize)).leading_zeros() - (64 - esize)
}

/// Apply `f` to every element of `regs` D registers from `m` into `d`.
fn map(u: &mut Unit, d: usize, m: usize, regs: usize, esize: u32, mut f: impl FnMut(&mut Unit, u64, u64) -> u64) {
    for r in 0..regs {
        let (x, z) = (u.r(m + r), u.r(d + r));
        let mut out = 0;
        for e in 0..64 / esize {
            let v = f(u, elem(x, e, esize), elem(z, e, esize));
            out = set_elem(out, e, esize, v);
        }
        u.w(d + r, out);
    }
}

pub(crate) fn two_misc(u: &mut Unit, w: u32) {
    let (size, opc1, opc2, q) = (field(w, 18, 2), field(w, 16, 2), field(w, 7, 4), bit(w, 6));
    let (d, m) = (vd(w), vm(w));
    let regs = if q { 2 } else { 1 };
    let esize = 8 << size;
    let mut qc = false;
    match (opc1, opc2) {
        (0, 0..=2) => {
            // VREV64/32/16: reverse the elements within each 64/32/16-bit container
            let container = 64 >> opc2;
            let per = container / esize;
            map(u, d, m, regs, container, |_, x, _| {
                let mut v = 0;
                for e in 0..per {
                    v = set_elem(v, per - 1 - e, esize, elem(x, e, esize));
                }
                v
            });
        }
        (0, 4 | 5 | 12 | 13) => {
            let signed = opc2 & 1 == 0;
            let acc = opc2 >= 12;
            let big = 2 * esize;
            map(u, d, m, regs, big, |_, x, z| {
                let s = int(elem(x, 0, esize), esize, signed) + int(elem(x, 1, esize), esize, signed);
                if acc { z.wrapping_add(s as u64) } else { s as u64 }
            });
        }
        (0, 8) => map(u, d, m, regs, esize, |_, x, _| cls(x, esize)),
        (0, 9) => map(u, d, m, regs, esize, |_, x, _| clz(x, esize) as u64),
        (0, 10) => map(u, d, m, regs, 8, |_, x, _| x.count_ones() as u64),
        (0, 11) => map(u, d, m, regs, 64, |_, x, _| !x),
        (0, 14) => map(u, d, m, regs, esize, |_, x, _| {
            sat_s(sext(x, esize).unsigned_abs() as i128, esize, &mut qc)
        }),
        (0, 15) => map(u, d, m, regs, esize, |_, x, _| {
            sat_s(-(sext(x, esize) as i128), esize, &mut qc)
        }),
        (1, 0..=4) => map(u, d, m, regs, esize, |_, x, _| {
            let s = sext(x, esize);
            all_ones_if(match opc2 {
                0 => s > 0,
                1 => s >= 0,
                2 => s == 0,
                3 => s <= 0,
                _ => s < 0,
            })
        }),
        (1, 6) => map(u, d, m, regs, esize, |_, x, _| sext(x, esize).unsigned_abs()),
        (1, 7) => map(u, d, m, regs, esize, |_, x, _| {
            (sext(x, esize) as i128).wrapping_neg() as u64
        }),
        (1, 8..=12) => map(u, d, m, regs, 32, |u, x, _| {
            let x = x as u32;
            let c = |u: &mut Unit, a: u32, b: u32, sig: bool| fpu::compare32(&mut u.fp, a, b, sig);
            all_ones_if(match opc2 {
                8 => c(u, x, 0, true) == F_GT,
                9 => matches!(c(u, x, 0, true), F_GT | F_EQ),
                10 => c(u, x, 0, false) == F_EQ,
                11 => matches!(c(u, x, 0, true), 0x8000_0000 | F_EQ),
                _ => c(u, x, 0, true) == 0x8000_0000,
            })
        }),
        (1, 14) => map(u, d, m, regs, 32, |_, x, _| x & 0x7FFF_FFFF),
        (1, 15) => map(u, d, m, regs, 32, |_, x, _| x ^ 0x8000_0000),
        (2, 0) => {
            for r in 0..regs {
                let (x, y) = (u.r(d + r), u.r(m + r));
                u.w(d + r, y);
                u.w(m + r, x);
            }
        }
        (2, 1) => {
            for r in 0..regs {
                let (mut x, mut y) = (u.r(d + r), u.r(m + r));
                if d == m {
                    // UNPREDICTABLE; leave the register as it is
                    continue;
                }
                for e in (0..64 / esize).step_by(2) {
                    let (a, b) = (elem(x, e + 1, esize), elem(y, e, esize));
                    x = set_elem(x, e + 1, esize, b);
                    y = set_elem(y, e, esize, a);
                }
                u.w(d + r, x);
                u.w(m + r, y);
            }
        }
        (2, 2 | 3) => {
            // VUZP, VZIP over the whole D or Q register pair
            let n = (64 * regs as u32) / esize; // elements per operand
            let (x, y) = (u.rq(d, regs), u.rq(m, regs));
            let per = 64 / esize;
            let get = |v: &[u64; 2], y: &[u64; 2], i: u32| {
                // element i of the concatenation y:v (2n elements)
                let (src, i) = if i < n { (v, i) } else { (y, i - n) };
                elem(src[(i / per) as usize], i % per, esize)
            };
            let (mut od, mut om) = ([0u64; 2], [0u64; 2]);
            let put = |o: &mut [u64; 2], i: u32, v: u64| {
                let s = &mut o[(i / per) as usize];
                *s = set_elem(*s, i % per, esize, v);
            };
            if opc2 == 2 {
                for e in 0..n {
                    put(&mut od, e, get(&x, &y, 2 * e));
                    put(&mut om, e, get(&x, &y, 2 * e + 1));
                }
            } else {
                for e in 0..n {
                    // zipped[2e] = x[e], zipped[2e+1] = y[e]; low half to d, high to m
                    let (a, b) = (get(&x, &y, e), get(&x, &y, n + e));
                    let (i0, i1) = (2 * e, 2 * e + 1);
                    for (i, v) in [(i0, a), (i1, b)] {
                        if i < n {
                            put(&mut od, i, v)
                        } else {
                            put(&mut om, i - n, v)
                        }
                    }
                }
            }
            if d == m {
                return; // UNPREDICTABLE
            }
            for r in 0..regs {
                u.w(d + r, od[r]);
                u.w(m + r, om[r]);
            }
        }
        (2, 4 | 5) => {
            let big = 2 * esize;
            let src = u.rq(m, 2);
            let per = 32 / esize;
            let mut out = 0;
            for e in 0..64 / esize {
                let x = elem(src[(e / per) as usize], e % per, big);
                let v = match (opc2, q) {
                    (4, false) => x,
                    (4, true) => sat_u(int(x, big, true), esize, &mut qc),
                    (_, false) => sat_s(int(x, big, true), esize, &mut qc),
                    _ => sat_u(int(x, big, false), esize, &mut qc),
                };
                out = set_elem(out, e, esize, v);
            }
            u.w(d, out);
        }
        (2, 6) => {
            let x = u.r(m);
            let per = 32 / esize;
            let mut out = [0u64; 2];
            for e in 0..64 / esize {
                let s = &mut out[(e / per) as usize];
                *s = set_elem(*s, e % per, 2 * esize, elem(x, e, esize) << esize);
            }
            u.w(d, out[0]);
            u.w(d + 1, out[1]);
        }
        (2, 12) => {
            let src = u.rq(m, 2);
            let mut out = 0u64;
            for e in 0..4 {
                let x = (src[e / 2] >> (32 * (e % 2))) as u32;
                out |= (fpu::f32_to_f16(&mut u.fp, x, u.ahp) as u64) << (16 * e);
            }
            u.w(d, out);
        }
        (2, 14) => {
            let x = u.r(m);
            let mut out = [0u64; 2];
            for e in 0..4 {
                let v = fpu::f16_to_f32(&mut u.fp, (x >> (16 * e)) as u16, u.ahp);
                out[e / 2] |= (v as u64) << (32 * (e % 2));
            }
            u.w(d, out[0]);
            u.w(d + 1, out[1]);
        }
        (3, _) => map(u, d, m, regs, 32, |u, x, _| {
            let x = x as u32;
            let ctx = &mut u.fp;
            (match opc2 {
                8 => estimate::recpe_u32(x),
                9 => estimate::rsqrte_u32(x),
                10 => estimate::recpe_f32(ctx, x),
                11 => estimate::rsqrte_f32(ctx, x),
                12 => fpu::i32_to_f32(ctx, x),
                13 => fpu::u32_to_f32(ctx, x),
                14 => fpu::f32_to_i32(ctx, x, true),
                _ => fpu::f32_to_u32(ctx, x, true),
            }) as u64
        }),
        _ => {}
    }
    u.qc |= qc;
}
