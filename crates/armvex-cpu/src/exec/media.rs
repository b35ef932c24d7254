//! The ARMv6 "media" instructions and other bit manipulation (ARM ARM A5.4, A5.2.12):
//! parallel add/subtract on halfwords and bytes (with the GE flags), saturation, packing,
//! sign/zero extension with rotation, SEL, byte/bit reversal, CLZ, sum of absolute
//! differences, and bit-field extract/insert/clear.
//!
//! Fields: `rd` destination, `rn` and `rm` sources, `rs` accumulator; `op`/`op2`/`imm` as
//! documented per handler.

use crate::alu::{shift_imm, signed_sat, unsigned_sat};
use crate::cpu::Cpu;
use crate::insn::{Flow, Insn};
use crate::thread::{Op, Ops, OpsOf, Refine, op, reads};
use armvex_bus::Bus;

#[inline(always)]
fn r(cpu: &Cpu, n: u8) -> u32 {
    cpu.regs[usize::from(n & 15)]
}

/// Prefixes of the parallel instructions (`op`). The decoder computes them from the
/// encoding; the whole table is here for readers, some names unused by the code.
#[allow(dead_code)]
pub mod prefix {
    pub const S: u8 = 0;
    pub const Q: u8 = 1;
    pub const SH: u8 = 2;
    pub const U: u8 = 3;
    pub const UQ: u8 = 4;
    pub const UH: u8 = 5;
}

/// Parallel operations (`op2`), the whole table (see [`prefix`]).
#[allow(dead_code)]
pub mod parallel_op {
    pub const ADD16: u8 = 0;
    pub const ASX: u8 = 1;
    pub const SAX: u8 = 2;
    pub const SUB16: u8 = 3;
    pub const ADD8: u8 = 4;
    pub const SUB8: u8 = 7;
}

/// The 36 parallel add/subtract instructions: `op` = [`prefix`], `op2` = [`parallel_op`].
pub fn parallel(cpu: &mut Cpu, _bus: &mut Bus, d: &Insn) -> Flow {
    parallel_with(cpu, d, d.op, d.op2)
}

/// [`parallel`] for prefix `OP` and operation `OP2` known when the handler is compiled: the
/// lane loop unrolled and the choices made (glibc's string functions run `uadd8` + `sel`
/// in their inner loops).
fn parallel_of<const OP: u8, const OP2: u8>(cpu: &mut Cpu, _bus: &mut Bus, d: &Insn) -> Flow {
    parallel_with(cpu, d, OP, OP2)
}

/// The parallel instructions' families by `[prefix][operation]` (see [`refine_parallel`]).
static PARALLEL_OPS: [[&Ops; 8]; 6] = {
    macro_rules! ops {
        ($p:literal) => {
            [
                op!(nosync(reads::RN | reads::RM) parallel_of::<$p, 0>),
                op!(nosync(reads::RN | reads::RM) parallel_of::<$p, 1>),
                op!(nosync(reads::RN | reads::RM) parallel_of::<$p, 2>),
                op!(nosync(reads::RN | reads::RM) parallel_of::<$p, 3>),
                op!(nosync(reads::RN | reads::RM) parallel_of::<$p, 4>),
                op!(nosync(reads::RN | reads::RM) parallel),
                op!(nosync(reads::RN | reads::RM) parallel),
                op!(nosync(reads::RN | reads::RM) parallel_of::<$p, 7>),
            ]
        };
    }
    [ops!(0), ops!(1), ops!(2), ops!(3), ops!(4), ops!(5)]
};

/// The parallel add/subtract instructions as decoded: [`refine_parallel`] picks the handler
/// of their prefix and operation.
struct ParallelAny;

impl Op for ParallelAny {
    const REFINE: Option<Refine> = Some(refine_parallel);
    fn step(cpu: &mut Cpu, bus: &mut Bus, d: &Insn) -> Flow {
        parallel(cpu, bus, d)
    }
}

/// The family of the parallel add/subtract instructions.
pub static PARALLEL: &Ops = <ParallelAny as OpsOf>::OPS;

fn refine_parallel(d: &mut Insn, _thumb: bool) -> &'static Ops {
    match PARALLEL_OPS
        .get(usize::from(d.op))
        .and_then(|ops| ops.get(usize::from(d.op2)))
    {
        Some(ops) => ops,
        None => op!(parallel),
    }
}

#[inline(always)]
fn parallel_with(cpu: &mut Cpu, d: &Insn, op: u8, op2: u8) -> Flow {
    use parallel_op::*;
    let (a, b) = (r(cpu, d.rn), r(cpu, d.rm));
    let signed = op < prefix::U;
    let kind = op % 3; // 0 = plain (sets GE), 1 = saturating, 2 = halving
    // Lanes: (element width, [(a lane, b lane, add?)]) as i64 values.
    let bytes = matches!(op2, ADD8 | SUB8);
    let lanes = if bytes { 4 } else { 2 };
    let width = if bytes { 8 } else { 16 };
    let lane = |v: u32, i: u32| -> i64 {
        let x = (v >> (i * width)) & ((1 << width) - 1);
        if signed {
            if bytes {
                i64::from(x as u8 as i8)
            } else {
                i64::from(x as u16 as i16)
            }
        } else {
            i64::from(x)
        }
    };
    let mut result = 0u32;
    let mut ge = 0u8;
    for i in 0..lanes {
        // Which lane of b pairs with lane i of a, and whether it adds.
        let (bi, add) = match op2 {
            ADD16 | ADD8 => (i, true),
            SUB16 | SUB8 => (i, false),
            ASX => (1 - i, i == 1),
            _ => (1 - i, i == 0), // SAX
        };
        let v = if add {
            lane(a, i) + lane(b, bi)
        } else {
            lane(a, i) - lane(b, bi)
        };
        let out = match kind {
            0 => {
                let ok = if signed {
                    v >= 0
                } else if add {
                    v >= 1 << width
                } else {
                    v >= 0
                };
                if ok {
                    ge |= if bytes { 1 << i } else { 3 << (2 * i) };
                }
                v as u32
            }
            1 => {
                if signed {
                    signed_sat(v, width).0
                } else {
                    unsigned_sat(v, width).0
                }
            }
            _ => (v >> 1) as u32,
        };
        result |= (out & ((1 << width) - 1)) << (i * width);
    }
    if kind == 0 {
        cpu.ge = ge;
    }
    cpu.regs[d.rd as usize] = result;
    Flow::Next
}

/// SEL: each byte from Rn if its GE flag is set, else from Rm.
pub fn sel(cpu: &mut Cpu, _bus: &mut Bus, d: &Insn) -> Flow {
    let mut mask = 0u32;
    for i in 0..4 {
        if cpu.ge & (1 << i) != 0 {
            mask |= 0xff << (8 * i);
        }
    }
    cpu.regs[d.rd as usize] = (r(cpu, d.rn) & mask) | (r(cpu, d.rm) & !mask);
    Flow::Next
}

/// SSAT (`op` 0) / USAT (1): saturate Rn (shifted: `op2` = shift type LSL/ASR, `imm` bits
/// 7:0 = amount) to `rs` bits.
pub fn saturate(cpu: &mut Cpu, _bus: &mut Bus, d: &Insn) -> Flow {
    let v = shift_imm(r(cpu, d.rn), d.op2, d.imm, cpu.cf) as i32;
    let (res, sat) = if d.op == 0 {
        signed_sat(i64::from(v), u32::from(d.rs))
    } else {
        unsigned_sat(i64::from(v), u32::from(d.rs))
    };
    cpu.q |= sat;
    cpu.regs[d.rd as usize] = res;
    Flow::Next
}

/// SSAT16 (`op` 0) / USAT16 (1): saturate each halfword of Rn to `rs` bits.
pub fn saturate16(cpu: &mut Cpu, _bus: &mut Bus, d: &Insn) -> Flow {
    let v = r(cpu, d.rn);
    let mut out = 0;
    for i in 0..2 {
        let h = i64::from((v >> (16 * i)) as u16 as i16);
        let (s, sat) = if d.op == 0 {
            signed_sat(h, u32::from(d.rs))
        } else {
            unsigned_sat(h, u32::from(d.rs))
        };
        cpu.q |= sat;
        out |= (s & 0xffff) << (16 * i);
    }
    cpu.regs[d.rd as usize] = out;
    Flow::Next
}

/// PKHBT (`op` 0: bottom of Rn, top of Rm LSL imm) / PKHTB (1: top of Rn, bottom of Rm ASR
/// imm; `imm` is the decoded amount, 32 for an encoded 0).
pub fn pack(cpu: &mut Cpu, _bus: &mut Bus, d: &Insn) -> Flow {
    let n = r(cpu, d.rn);
    let m = r(cpu, d.rm);
    cpu.regs[d.rd as usize] = if d.op == 0 {
        (n & 0xffff) | ((m << d.imm) & 0xffff_0000)
    } else {
        let shifted = ((m as i32) >> d.imm.min(31)) as u32;
        (n & 0xffff_0000) | (shifted & 0xffff)
    };
    Flow::Next
}

/// Extend (and add): `op` bit 0 signed?; `op2`: 0 = byte, 1 = halfword, 2 = two bytes (…B16);
/// `imm` = rotation (0, 8, 16, 24); `rn` = 15 for the forms without addition.
pub fn extend(cpu: &mut Cpu, _bus: &mut Bus, d: &Insn) -> Flow {
    let v = r(cpu, d.rm).rotate_right(d.imm);
    let signed = d.op & 1 != 0;
    let add = if d.rn == 15 { 0 } else { r(cpu, d.rn) };
    cpu.regs[d.rd as usize] = extended(signed, d.op2, add, v);
    Flow::Next
}

/// `v` extended as `signed` `size` (see [`extend`]) and added to `add`.
#[inline(always)]
fn extended(signed: bool, size: u8, add: u32, v: u32) -> u32 {
    match size {
        0 => add.wrapping_add(if signed { v as u8 as i8 as u32 } else { v & 0xff }),
        1 => add.wrapping_add(if signed { v as u16 as i16 as u32 } else { v & 0xffff }),
        _ => {
            let (lo, hi) = if signed {
                (v as u8 as i8 as u32, (v >> 16) as u8 as i8 as u32)
            } else {
                (v & 0xff, (v >> 16) & 0xff)
            };
            let lo = (add & 0xffff).wrapping_add(lo) & 0xffff;
            let hi = (add >> 16).wrapping_add(hi) & 0xffff;
            lo | (hi << 16)
        }
    }
}

/// [`extend`] specialised for signedness, size and whether it adds.
#[inline(always)]
fn extend_as<const SIGNED: bool, const SIZE: u8, const ADD: bool>(cpu: &mut Cpu, _bus: &mut Bus, d: &Insn) -> Flow {
    let v = cpu.r(d.rm).rotate_right(d.imm);
    let add = if ADD { cpu.r(d.rn) } else { 0 };
    cpu.set_r(d.rd, extended(SIGNED, SIZE, add, v));
    Flow::Next
}

/// Reversals: `op` 0 REV, 1 REV16, 2 REVSH, 3 RBIT, 4 CLZ; operand `rm`.
pub fn reverse(cpu: &mut Cpu, _bus: &mut Bus, d: &Insn) -> Flow {
    let v = r(cpu, d.rm);
    cpu.regs[d.rd as usize] = match d.op {
        0 => v.swap_bytes(),
        1 => ((v & 0x00ff_00ff) << 8) | ((v >> 8) & 0x00ff_00ff),
        2 => (v as u16).swap_bytes() as i16 as u32,
        3 => v.reverse_bits(),
        _ => v.leading_zeros(),
    };
    Flow::Next
}

/// USAD8 / USADA8 (`rs` = accumulator, 15 for none).
pub fn usad8(cpu: &mut Cpu, _bus: &mut Bus, d: &Insn) -> Flow {
    let (a, b) = (r(cpu, d.rn), r(cpu, d.rm));
    let mut sum = if d.rs == 15 { 0 } else { r(cpu, d.rs) };
    for i in 0..4 {
        let x = (a >> (8 * i)) & 0xff;
        let y = (b >> (8 * i)) & 0xff;
        sum = sum.wrapping_add(x.abs_diff(y));
    }
    cpu.regs[d.rd as usize] = sum;
    Flow::Next
}

/// Bit fields: `op` 0 SBFX, 1 UBFX (`imm` = lsb, `rs` = width), 2 BFI/BFC (`imm` = lsb,
/// `rs` = msb; `rn` = 15 for BFC).
pub fn bitfield(cpu: &mut Cpu, _bus: &mut Bus, d: &Insn) -> Flow {
    let lsb = d.imm;
    match d.op {
        0 | 1 => {
            let width = u32::from(d.rs);
            let v = r(cpu, d.rn) >> lsb;
            let mask = if width >= 32 { u32::MAX } else { (1u32 << width) - 1 };
            let mut out = v & mask;
            if d.op == 0 && width < 32 && out & (1 << (width - 1)) != 0 {
                out |= !mask;
            }
            cpu.regs[d.rd as usize] = out;
        }
        _ => {
            let msb = u32::from(d.rs);
            if msb >= lsb {
                let width = msb - lsb + 1;
                let mask = (if width >= 32 { u32::MAX } else { (1u32 << width) - 1 }) << lsb;
                let src = if d.rn == 15 { 0 } else { r(cpu, d.rn) << lsb };
                let dst = &mut cpu.regs[d.rd as usize];
                *dst = (*dst & !mask) | (src & mask);
            }
        }
    }
    Flow::Next
}

/// The families that never need the PC (`rn` = 15 means "no addition" for [`extend`]).
pub static EXTEND: &Ops = <ExtendAny as OpsOf>::OPS;

/// The extend family before it is specialised (see [`extend_as`]).
struct ExtendAny;

impl Op for ExtendAny {
    const SYNC: bool = false;
    const READS: u8 = reads::RM;
    const REFINE: Option<Refine> = Some(refine_extend);
    fn step(cpu: &mut Cpu, bus: &mut Bus, d: &Insn) -> Flow {
        extend(cpu, bus, d)
    }
}

/// The family of [`extend_as`] for one signedness, size and addition (a named type, see
/// [`crate::exec::dataproc::Dp`]).
pub(crate) struct ExtendAs<const SIGNED: bool, const SIZE: u8, const ADD: bool>;

impl<const SIGNED: bool, const SIZE: u8, const ADD: bool> Op for ExtendAs<SIGNED, SIZE, ADD> {
    const SYNC: bool = false;
    const READS: u8 = reads::RM;
    #[inline(always)]
    fn step(cpu: &mut Cpu, bus: &mut Bus, d: &Insn) -> Flow {
        extend_as::<SIGNED, SIZE, ADD>(cpu, bus, d)
    }
}

macro_rules! extend_sizes {
    ($signed:literal, $add:literal) => {
        [
            <ExtendAs<$signed, 0, $add> as OpsOf>::OPS,
            <ExtendAs<$signed, 1, $add> as OpsOf>::OPS,
            <ExtendAs<$signed, 2, $add> as OpsOf>::OPS,
        ]
    };
}

/// Extend families indexed by `[signed][size][adds]`.
static EXTEND_FAMILIES: [[[&Ops; 2]; 3]; 2] = {
    let unsigned = (extend_sizes!(false, false), extend_sizes!(false, true));
    let signed = (extend_sizes!(true, false), extend_sizes!(true, true));
    [
        [
            [unsigned.0[0], unsigned.1[0]],
            [unsigned.0[1], unsigned.1[1]],
            [unsigned.0[2], unsigned.1[2]],
        ],
        [
            [signed.0[0], signed.1[0]],
            [signed.0[1], signed.1[1]],
            [signed.0[2], signed.1[2]],
        ],
    ]
};

fn refine_extend(d: &mut Insn, _thumb: bool) -> &'static Ops {
    EXTEND_FAMILIES[usize::from(d.op & 1)][usize::from(d.op2.min(2))][usize::from(d.rn != 15)]
}
pub static REVERSE: &Ops = op!(nosync(reads::RM) reverse);

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testutil::{insn, run_one};

    fn par(op: u8, op2: u8, a: u32, b: u32) -> (u32, u8) {
        let (cpu, _) = run_one(
            insn(parallel).rd(0).rn(1).rm(2).op(op.into()).op2(op2.into()),
            &[(1, a), (2, b)],
        );
        (cpu.regs[0], cpu.ge)
    }

    #[test]
    fn parallel_arithmetic() {
        use parallel_op::*;
        use prefix::*;
        assert_eq!(par(U, ADD8, 0x80ff_0102, 0x8001_0102), (0x0000_0204, 0b1100));
        assert_eq!(par(S, SUB16, 0x0001_8000, 0x0002_0001), (0xffff_7fff, 0));
        assert_eq!(par(S, SUB16, 0x0003_0001, 0x0002_0001), (0x0001_0000, 0b1111));
        assert_eq!(par(UQ, ADD8, 0xf0f0_0101, 0x2020_0101), (0xffff_0202, 0));
        assert_eq!(par(Q, SUB16, 0x8000_7fff, 0x0001_ffff), (0x8000_7fff, 0));
        assert_eq!(par(SH, ADD16, 0x7fff_0001, 0x7fff_0003), (0x7fff_0002, 0));
        assert_eq!(par(UH, SUB8, 0x0000_0000, 0x0000_0001), (0x0000_00ff, 0));
        // UASX: lower = a.lo - b.hi, upper = a.hi + b.lo
        assert_eq!(par(U, ASX, 0xffff_0005, 0x0003_0001), (0x0000_0002, 0b0011 | 0b1100));
        // SSAX: lower = a.lo + b.hi, upper = a.hi - b.lo
        assert_eq!(par(S, SAX, 0x0001_0001, 0x0001_0002), (0xffff_0002, 0b0011));
    }

    #[test]
    fn saturation_sets_q() {
        let (cpu, _) = run_one(insn(saturate).rd(0).rn(1).op(0).rs(8), &[(1, 300)]);
        assert_eq!(cpu.regs[0], 127);
        assert!(cpu.q);
        let (cpu, _) = run_one(insn(saturate16).rd(0).rn(1).op(1).rs(4), &[(1, 0xfff0_0020)]);
        assert_eq!(cpu.regs[0], 0x0000_000f);
    }

    #[test]
    fn extend_with_rotation() {
        let (cpu, _) = run_one(insn(extend).rd(0).rn(15).rm(1).op(1).op2(0).imm(8), &[(1, 0x0000_8000)]);
        assert_eq!(cpu.regs[0], 0xffff_ff80);
        let (cpu, _) = run_one(
            insn(extend).rd(0).rn(2).rm(1).op(0).op2(2),
            &[(1, 0x00ff_00ff), (2, 0x0001_ffff)],
        );
        assert_eq!(cpu.regs[0], 0x0100_00fe);
    }

    #[test]
    fn bitfields() {
        let (cpu, _) = run_one(insn(bitfield).rd(0).rn(1).op(0).imm(4).rs(4), &[(1, 0x0000_00f0)]);
        assert_eq!(cpu.regs[0], 0xffff_ffff);
        let (cpu, _) = run_one(insn(bitfield).rd(0).rn(15).op(2).imm(8).rs(15), &[(0, 0xffff_ffff)]);
        assert_eq!(cpu.regs[0], 0xffff_00ff);
        let (cpu, _) = run_one(insn(bitfield).rd(0).rn(1).op(2).imm(0).rs(31), &[(0, 5), (1, 0xabcd)]);
        assert_eq!(cpu.regs[0], 0xabcd);
    }

    #[test]
    fn reversals() {
        let cases = [
            (0, 0x1234_5678, 0x7856_3412),
            (1, 0x1234_5678, 0x3412_7856),
            (2, 0x0000_0080, 0xffff_8000),
            (3, 1, 0x8000_0000),
            (4, 0x0000_ffff, 16),
        ];
        for (op, v, want) in cases {
            let (cpu, _) = run_one(insn(reverse).rd(0).rm(1).op(op), &[(1, v)]);
            assert_eq!(cpu.regs[0], want, "op {op}");
        }
    }
}
