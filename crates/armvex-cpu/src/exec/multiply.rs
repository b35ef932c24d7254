//! Multiplies (ARM ARM A5.2.5, A5.2.7, A5.4.4).
//!
//! Field conventions: `rd` destination (RdLo for long multiplies), `rs` accumulator Ra (RdHi
//! for long multiplies), `rn` and `rm` the factors. `op` selects the variant, `op2` holds
//! flags (S bit; the x/y/M/R selectors).

use crate::alu::signed_sat;
use crate::cpu::Cpu;
use crate::insn::{Flow, Insn};
use crate::thread::{Op, Ops, OpsOf, Refine, op};
use armvex_bus::Bus;

#[inline(always)]
fn r(cpu: &Cpu, n: u8) -> u32 {
    cpu.regs[usize::from(n & 15)]
}

/// MUL (`op` 0), MLA (1), MLS (2); `op2` = S. C and V are unchanged.
pub fn mul(cpu: &mut Cpu, _bus: &mut Bus, d: &Insn) -> Flow {
    let p = r(cpu, d.rn).wrapping_mul(r(cpu, d.rm));
    let v = match d.op {
        0 => p,
        1 => p.wrapping_add(r(cpu, d.rs)),
        _ => r(cpu, d.rs).wrapping_sub(p),
    };
    cpu.regs[d.rd as usize] = v;
    if d.op2 != 0 {
        cpu.set_nz(v);
    }
    Flow::Next
}

/// Thumb 16-bit MULS: sets N and Z only outside an IT block.
pub fn mul_t16(cpu: &mut Cpu, bus: &mut Bus, d: &Insn) -> Flow {
    let mut m = *d;
    m.op2 = u8::from(cpu.current_it == 0);
    mul(cpu, bus, &m)
}

/// Long multiplies: `op` 0 UMULL, 1 UMLAL, 2 SMULL, 3 SMLAL, 4 UMAAL; `op2` = S.
/// `rd` = RdLo, `rs` = RdHi.
pub fn mul_long(cpu: &mut Cpu, _bus: &mut Bus, d: &Insn) -> Flow {
    let (a, b) = (r(cpu, d.rn), r(cpu, d.rm));
    let acc = (u64::from(r(cpu, d.rs)) << 32) | u64::from(r(cpu, d.rd));
    let v: u64 = match d.op {
        0 => u64::from(a) * u64::from(b),
        1 => (u64::from(a) * u64::from(b)).wrapping_add(acc),
        2 => (i64::from(a as i32) * i64::from(b as i32)) as u64,
        3 => ((i64::from(a as i32) * i64::from(b as i32)) as u64).wrapping_add(acc),
        _ => u64::from(a) * u64::from(b) + u64::from(r(cpu, d.rs)) + u64::from(r(cpu, d.rd)),
    };
    cpu.regs[d.rd as usize] = v as u32;
    cpu.regs[d.rs as usize] = (v >> 32) as u32;
    if d.op2 != 0 {
        cpu.nf = (v >> 32) as u32;
        cpu.zf = u32::from(v != 0);
    }
    Flow::Next
}

#[inline(always)]
fn half(v: u32, top: bool) -> i32 {
    if top { (v as i32) >> 16 } else { i32::from(v as i16) }
}

/// Halfword multiplies: `op` 0 SMLAxy, 1 SMLAWy/SMULWy (`op2` bit 2 set for SMULWy),
/// 2 SMLALxy, 3 SMULxy. `op2` bit 0 = x (top half of Rn), bit 1 = y (top half of Rm).
pub fn mul_half(cpu: &mut Cpu, _bus: &mut Bus, d: &Insn) -> Flow {
    let (x, y) = (d.op2 & 1 != 0, d.op2 & 2 != 0);
    let (a, b) = (r(cpu, d.rn), r(cpu, d.rm));
    match d.op {
        0 => {
            let p = i64::from(half(a, x) * half(b, y)) + i64::from(r(cpu, d.rs) as i32);
            cpu.regs[d.rd as usize] = p as u32;
            if p != i64::from(p as i32) {
                cpu.q = true;
            }
        }
        1 => {
            let p = (i64::from(a as i32) * i64::from(half(b, y))) >> 16;
            if d.op2 & 4 != 0 {
                cpu.regs[d.rd as usize] = p as u32;
            } else {
                let s = p + i64::from(r(cpu, d.rs) as i32);
                cpu.regs[d.rd as usize] = s as u32;
                if s != i64::from(s as i32) {
                    cpu.q = true;
                }
            }
        }
        2 => {
            let acc = ((u64::from(r(cpu, d.rs)) << 32) | u64::from(r(cpu, d.rd))) as i64;
            let v = acc.wrapping_add(i64::from(half(a, x) * half(b, y)));
            cpu.regs[d.rd as usize] = v as u32;
            cpu.regs[d.rs as usize] = (v >> 32) as u32;
        }
        _ => cpu.regs[d.rd as usize] = half(a, x).wrapping_mul(half(b, y)) as u32,
    }
    Flow::Next
}

/// Dual 16-bit multiplies: `op` 0 SMLAD/SMUAD, 1 SMLSD/SMUSD, 2 SMLALD, 3 SMLSLD;
/// `op2` bit 0 = M (swap Rm's halves), bit 1 = no accumulator (SMUAD/SMUSD).
pub fn mul_dual(cpu: &mut Cpu, _bus: &mut Bus, d: &Insn) -> Flow {
    let a = r(cpu, d.rn);
    let mut b = r(cpu, d.rm);
    if d.op2 & 1 != 0 {
        b = b.rotate_right(16);
    }
    let p1 = i64::from(half(a, false) * half(b, false));
    let p2 = i64::from(half(a, true)) * i64::from(half(b, true));
    let sum = if d.op & 1 == 0 { p1 + p2 } else { p1 - p2 };
    if d.op < 2 {
        let acc = if d.op2 & 2 != 0 {
            0
        } else {
            i64::from(r(cpu, d.rs) as i32)
        };
        let v = sum + acc;
        cpu.regs[d.rd as usize] = v as u32;
        if v != i64::from(v as i32) {
            cpu.q = true;
        }
    } else {
        let acc = ((u64::from(r(cpu, d.rs)) << 32) | u64::from(r(cpu, d.rd))) as i64;
        let v = acc.wrapping_add(sum);
        cpu.regs[d.rd as usize] = v as u32;
        cpu.regs[d.rs as usize] = (v >> 32) as u32;
    }
    Flow::Next
}

/// Most-significant-word multiplies: `op` 0 SMMLA, 1 SMMLS, 2 SMMUL; `op2` = R (round).
pub fn mul_msw(cpu: &mut Cpu, _bus: &mut Bus, d: &Insn) -> Flow {
    let p = i64::from(r(cpu, d.rn) as i32) * i64::from(r(cpu, d.rm) as i32);
    let acc = (i64::from(r(cpu, d.rs) as i32)) << 32;
    let round = if d.op2 != 0 { 0x8000_0000i64 } else { 0 };
    let v = match d.op {
        0 => acc.wrapping_add(p),
        1 => acc.wrapping_sub(p),
        _ => p,
    }
    .wrapping_add(round);
    cpu.regs[d.rd as usize] = (v >> 32) as u32;
    Flow::Next
}

/// SDIV (`op` 0) and UDIV (1): division by zero gives 0 (no trap on these cores).
pub fn divide(cpu: &mut Cpu, _bus: &mut Bus, d: &Insn) -> Flow {
    let (a, b) = (r(cpu, d.rn), r(cpu, d.rm));
    let v = if b == 0 {
        0
    } else if d.op == 0 {
        (a as i32).wrapping_div(b as i32) as u32
    } else {
        a / b
    };
    cpu.regs[d.rd as usize] = v;
    Flow::Next
}

/// QADD (`op` 0), QSUB (1), QDADD (2), QDSUB (3): Rd = sat(Rm ± [2×]Rn).
pub fn qaddsub(cpu: &mut Cpu, _bus: &mut Bus, d: &Insn) -> Flow {
    let m = i64::from(r(cpu, d.rm) as i32);
    let mut n = i64::from(r(cpu, d.rn) as i32);
    if d.op >= 2 {
        let (dn, sat) = signed_sat(2 * n, 32);
        n = i64::from(dn as i32);
        cpu.q |= sat;
    }
    let v = if d.op & 1 == 0 { m + n } else { m - n };
    let (v, sat) = signed_sat(v, 32);
    cpu.q |= sat;
    cpu.regs[d.rd as usize] = v;
    Flow::Next
}

/// The families that never need the PC (unless an operand is R15).
pub static MUL: &Ops = <MulAny as OpsOf>::OPS;

/// The MUL/MLA/MLS family before it is specialised (see [`mul_as`]).
struct MulAny;

impl Op for MulAny {
    const SYNC: bool = false;
    const REFINE: Option<Refine> = Some(refine_mul);
    fn step(cpu: &mut Cpu, bus: &mut Bus, d: &Insn) -> Flow {
        mul(cpu, bus, d)
    }
}

/// [`mul`] specialised for its variant and S bit.
#[inline(always)]
fn mul_as<const OP: u8, const S: bool>(cpu: &mut Cpu, _bus: &mut Bus, d: &Insn) -> Flow {
    let p = cpu.r(d.rn).wrapping_mul(cpu.r(d.rm));
    let v = match OP {
        0 => p,
        1 => p.wrapping_add(cpu.r(d.rs)),
        _ => cpu.r(d.rs).wrapping_sub(p),
    };
    cpu.set_r(d.rd, v);
    if S {
        cpu.set_nz(v);
    }
    Flow::Next
}

/// The family of [`mul_as`] for one variant and S bit (a named type, see
/// [`crate::exec::dataproc::Dp`]).
pub(crate) struct MulAs<const OP: u8, const S: bool>;

impl<const OP: u8, const S: bool> Op for MulAs<OP, S> {
    const SYNC: bool = false;
    #[inline(always)]
    fn step(cpu: &mut Cpu, bus: &mut Bus, d: &Insn) -> Flow {
        mul_as::<OP, S>(cpu, bus, d)
    }
}

/// The family of [`mul_long_as`] for one variant and S bit (a named type, see
/// [`crate::exec::dataproc::Dp`]).
pub(crate) struct MulLongAs<const OP: u8, const S: bool>;

impl<const OP: u8, const S: bool> Op for MulLongAs<OP, S> {
    const SYNC: bool = false;
    #[inline(always)]
    fn step(cpu: &mut Cpu, bus: &mut Bus, d: &Insn) -> Flow {
        mul_long_as::<OP, S>(cpu, bus, d)
    }
}

/// MUL families indexed by `[op][S]`.
static MUL_FAMILIES: [[&Ops; 2]; 3] = [
    [<MulAs<0, false> as OpsOf>::OPS, <MulAs<0, true> as OpsOf>::OPS],
    [<MulAs<1, false> as OpsOf>::OPS, <MulAs<1, true> as OpsOf>::OPS],
    [<MulAs<2, false> as OpsOf>::OPS, <MulAs<2, true> as OpsOf>::OPS],
];

fn refine_mul(d: &mut Insn, _thumb: bool) -> &'static Ops {
    MUL_FAMILIES[usize::from(d.op.min(2))][usize::from(d.op2 != 0)]
}
pub static MUL_T16: &Ops = op!(nosync mul_t16);
pub static MUL_LONG: &Ops = <MulLongAny as OpsOf>::OPS;

/// The long multiplies before they are specialised (see [`mul_long_as`]).
struct MulLongAny;

impl Op for MulLongAny {
    const SYNC: bool = false;
    const REFINE: Option<Refine> = Some(refine_mul_long);
    fn step(cpu: &mut Cpu, bus: &mut Bus, d: &Insn) -> Flow {
        mul_long(cpu, bus, d)
    }
}

/// [`mul_long`] specialised for its variant and S bit.
#[inline(always)]
fn mul_long_as<const OP: u8, const S: bool>(cpu: &mut Cpu, _bus: &mut Bus, d: &Insn) -> Flow {
    let (a, b) = (cpu.r(d.rn), cpu.r(d.rm));
    let acc = (u64::from(cpu.r(d.rs)) << 32) | u64::from(cpu.r(d.rd));
    let v: u64 = match OP {
        0 => u64::from(a) * u64::from(b),
        1 => (u64::from(a) * u64::from(b)).wrapping_add(acc),
        2 => (i64::from(a as i32) * i64::from(b as i32)) as u64,
        3 => ((i64::from(a as i32) * i64::from(b as i32)) as u64).wrapping_add(acc),
        _ => u64::from(a) * u64::from(b) + u64::from(cpu.r(d.rs)) + u64::from(cpu.r(d.rd)),
    };
    cpu.set_r(d.rd, v as u32);
    cpu.set_r(d.rs, (v >> 32) as u32);
    if S {
        cpu.nf = (v >> 32) as u32;
        cpu.zf = u32::from(v != 0);
    }
    Flow::Next
}

/// Long multiply families indexed by `[op][S]`.
static MUL_LONG_FAMILIES: [[&Ops; 2]; 5] = [
    [<MulLongAs<0, false> as OpsOf>::OPS, <MulLongAs<0, true> as OpsOf>::OPS],
    [<MulLongAs<1, false> as OpsOf>::OPS, <MulLongAs<1, true> as OpsOf>::OPS],
    [<MulLongAs<2, false> as OpsOf>::OPS, <MulLongAs<2, true> as OpsOf>::OPS],
    [<MulLongAs<3, false> as OpsOf>::OPS, <MulLongAs<3, true> as OpsOf>::OPS],
    [<MulLongAs<4, false> as OpsOf>::OPS, <MulLongAs<4, true> as OpsOf>::OPS],
];

fn refine_mul_long(d: &mut Insn, _thumb: bool) -> &'static Ops {
    MUL_LONG_FAMILIES[usize::from(d.op.min(4))][usize::from(d.op2 != 0)]
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testutil::{insn, run_one};

    #[test]
    fn smmlar_rounds() {
        // r0 = SMMLAR(r1, r2, r3): (r3 << 32 + r1*r2 + 0x80000000) >> 32
        // = (0x1_0000_0000 + 0xc000_0000 + 0x8000_0000) >> 32 = 2
        let (cpu, _) = run_one(
            insn(mul_msw).rd(0).rn(1).rm(2).rs(3).op(0).op2(1),
            &[(1, 0x4000_0000), (2, 3), (3, 1)],
        );
        assert_eq!(cpu.regs[0], 2);
        // Without rounding the carry into the top word is lost: (0x1_c000_0000) >> 32 = 1.
        let (cpu, _) = run_one(
            insn(mul_msw).rd(0).rn(1).rm(2).rs(3).op(0).op2(0),
            &[(1, 0x4000_0000), (2, 3), (3, 1)],
        );
        assert_eq!(cpu.regs[0], 1);
    }

    #[test]
    fn smlad_overflow_sets_q() {
        let (cpu, _) = run_one(
            insn(mul_dual).rd(0).rn(1).rm(2).rs(3).op(0),
            &[(1, 0x8000_8000), (2, 0x8000_8000), (3, 0)],
        );
        assert_eq!(cpu.regs[0], 0x8000_0000);
        assert!(cpu.q);
    }

    #[test]
    fn umaal_never_overflows() {
        let (cpu, _) = run_one(
            insn(mul_long).rd(0).rs(1).rn(2).rm(3).op(4),
            &[(0, 0xffff_ffff), (1, 0xffff_ffff), (2, 0xffff_ffff), (3, 0xffff_ffff)],
        );
        assert_eq!((cpu.regs[0], cpu.regs[1]), (0xffff_ffff, 0xffff_ffff));
    }

    #[test]
    fn divide_edge_cases() {
        let (cpu, _) = run_one(
            insn(divide).rd(0).rn(1).rm(2).op(0),
            &[(1, 0x8000_0000), (2, 0xffff_ffff)],
        );
        assert_eq!(cpu.regs[0], 0x8000_0000);
        let (cpu, _) = run_one(insn(divide).rd(0).rn(1).rm(2).op(1), &[(1, 7), (2, 0)]);
        assert_eq!(cpu.regs[0], 0);
    }

    #[test]
    fn qdadd_saturates_the_doubling() {
        let (cpu, _) = run_one(insn(qaddsub).rd(0).rm(1).rn(2).op(2), &[(1, 0), (2, 0x7000_0000)]);
        assert_eq!(cpu.regs[0], 0x7fff_ffff);
        assert!(cpu.q);
    }
}
