//! Data-processing instructions (ARM ARM A5.2.1–A5.2.3, A8.8): sixteen opcodes, each with or
//! without setting the flags (S), with operand 2 an immediate, a register, a register shifted
//! by an immediate, or a register shifted by a register.
//!
//! Every combination is its own handler, monomorphised from [`dp`], so the opcode, the S bit
//! and the operand form are constants inside it. An instruction that writes the PC goes to the
//! slower [`dp_to_pc`] instead.

use crate::alu::{add_with_carry, shift_imm, shift_imm_c, shift_reg_c};
use crate::cpu::Cpu;
use crate::insn::{Decoded, Flow, Insn};
use crate::thread::{Op, Ops, OpsOf, op, reads};
use armvex_bus::Bus;

/// Opcodes (bits 24:21 of the ARM encoding).
pub mod opcode {
    pub const AND: u8 = 0;
    pub const EOR: u8 = 1;
    pub const SUB: u8 = 2;
    pub const RSB: u8 = 3;
    pub const ADD: u8 = 4;
    pub const ADC: u8 = 5;
    pub const SBC: u8 = 6;
    pub const RSC: u8 = 7;
    pub const TST: u8 = 8;
    pub const TEQ: u8 = 9;
    pub const CMP: u8 = 10;
    pub const CMN: u8 = 11;
    pub const ORR: u8 = 12;
    pub const MOV: u8 = 13;
    pub const BIC: u8 = 14;
    pub const MVN: u8 = 15;

    /// The comparison opcodes write no register.
    pub const fn is_test(op: u8) -> bool {
        op >= TST && op <= CMN
    }

    /// The logical opcodes set C from the shifter, not the adder.
    pub const fn is_logical(op: u8) -> bool {
        matches!(op, AND | EOR | TST | TEQ | ORR | MOV | BIC | MVN)
    }
}

/// Operand 2 forms.
pub mod form {
    /// `imm` is the expanded immediate; `op2`: 0 = carry unchanged, 1 = carry out 0, 2 = carry out 1.
    pub const IMM: u8 = 0;
    /// Register `rm`, unshifted.
    pub const REG: u8 = 1;
    /// Register `rm` shifted by immediate: `op` = shift type, `imm` = amount (decoded).
    pub const IMM_SHIFT: u8 = 2;
    /// Register `rm` shifted by register `rs`: `op` = shift type.
    pub const REG_SHIFT: u8 = 3;
}

use opcode::*;

/// Operand 2 and the shifter carry out (only computed when `need_carry`), for an operand
/// form known only at run time (see [`dp_to_pc`]).
#[inline(always)]
fn operand2(cpu: &Cpu, d: &Insn, form_: u8, need_carry: bool) -> (u32, u32) {
    match form_ {
        form::IMM => (d.imm, if d.op2 == 0 { cpu.cf } else { u32::from(d.op2 - 1) }),
        form::REG => (cpu.reg(d.rm), cpu.cf),
        form::IMM_SHIFT => {
            let v = cpu.reg(d.rm);
            if need_carry {
                shift_imm_c(v, d.op, d.imm, cpu.cf)
            } else {
                (shift_imm(v, d.op, d.imm, cpu.cf), 0)
            }
        }
        _ => shift_reg_c(cpu.reg(d.rm), d.op, cpu.reg(d.rs), cpu.cf),
    }
}

/// The operand forms handlers are specialised for: [`form::IMM`], [`form::REG`], one per
/// shift type of [`form::IMM_SHIFT`] (so no handler decides the shift type at run time),
/// and [`form::REG_SHIFT`].
pub mod handler_form {
    pub const IMM: u8 = 0;
    pub const REG: u8 = 1;
    /// `IMM_SHIFT + t` for shift type `t` (LSL, LSR, ASR, ROR, RRX; see [`crate::alu::shift`]).
    pub const IMM_SHIFT: u8 = 2;
    pub const REG_SHIFT: u8 = 7;
    /// Number of forms.
    pub const COUNT: usize = 8;

    /// The handler form of operand form `form` (see [`super::form`]) with shift type `shift`.
    pub const fn of(form: u8, shift: u8) -> u8 {
        match form {
            super::form::IMM => IMM,
            super::form::REG => REG,
            super::form::IMM_SHIFT => IMM_SHIFT + shift,
            _ => REG_SHIFT,
        }
    }
}

/// Operand 2 and the shifter carry out (only computed when `need_carry`) for handler form
/// `HF` (see [`handler_form`]).
#[inline(always)]
fn operand2_of<const HF: u8>(cpu: &Cpu, d: &Insn, need_carry: bool) -> (u32, u32) {
    match HF {
        handler_form::IMM => (d.imm, if d.op2 == 0 { cpu.cf } else { u32::from(d.op2 - 1) }),
        handler_form::REG => (cpu.r(d.rm), cpu.cf),
        handler_form::REG_SHIFT => shift_reg_c(cpu.r(d.rm), d.op, cpu.r(d.rs), cpu.cf),
        _ => {
            let (v, ty) = (cpu.r(d.rm), HF - handler_form::IMM_SHIFT);
            if need_carry {
                shift_imm_c(v, ty, d.imm, cpu.cf)
            } else {
                (shift_imm(v, ty, d.imm, cpu.cf), 0)
            }
        }
    }
}

#[inline(always)]
fn arith(cpu: &mut Cpu, s: bool, a: u32, b: u32, carry: u32) -> u32 {
    if s {
        let (r, c, v) = add_with_carry(a, b, carry);
        cpu.nf = r;
        cpu.zf = r;
        cpu.cf = c;
        cpu.vf = v;
        r
    } else {
        a.wrapping_add(b).wrapping_add(carry)
    }
}

#[inline(always)]
fn logical(cpu: &mut Cpu, s: bool, r: u32, carry: u32) -> u32 {
    if s {
        cpu.nf = r;
        cpu.zf = r;
        cpu.cf = carry;
    }
    r
}

/// The ALU: `a` is Rn, `b` operand 2, `carry` the shifter carry out.
#[inline(always)]
pub(crate) fn alu(cpu: &mut Cpu, op: u8, s: bool, a: u32, b: u32, carry: u32) -> u32 {
    match op {
        AND | TST => logical(cpu, s, a & b, carry),
        EOR | TEQ => logical(cpu, s, a ^ b, carry),
        SUB | CMP => arith(cpu, s, a, !b, 1),
        RSB => arith(cpu, s, b, !a, 1),
        ADD | CMN => arith(cpu, s, a, b, 0),
        ADC => {
            let c = cpu.cf;
            arith(cpu, s, a, b, c)
        }
        SBC => {
            let c = cpu.cf;
            arith(cpu, s, a, !b, c)
        }
        RSC => {
            let c = cpu.cf;
            arith(cpu, s, b, !a, c)
        }
        ORR => logical(cpu, s, a | b, carry),
        MOV => logical(cpu, s, b, carry),
        BIC => logical(cpu, s, a & !b, carry),
        _ => logical(cpu, s, !b, carry),
    }
}

/// A data-processing instruction that does not write the PC.
/// Fields: `rd`, `rn`, and operand 2 as described in [`form`].
/// `HF` is the operand form, see [`handler_form`].
#[inline(always)]
pub fn dp<const OP: u8, const S: bool, const HF: u8>(cpu: &mut Cpu, _bus: &mut Bus, d: &Insn) -> Flow {
    let (b, carry) = operand2_of::<HF>(cpu, d, S && is_logical(OP));
    let a = if OP == MOV || OP == MVN { 0 } else { cpu.r(d.rn) };
    let r = alu(cpu, OP, S, a, b, carry);
    if !is_test(OP) {
        cpu.set_r(d.rd, r);
    }
    Flow::Next
}

/// A data-processing instruction (not a comparison) writing the PC (`rd` = 15): `op` holds the
/// opcode, `op2` the form in bits 3:2 and the carry code of [`form::IMM`] in bits 1:0, `rs` bit
/// 7 the S bit.
///
/// SUBS and MOVS to the PC are exception returns (CPSR ← SPSR; UNDEFINED in User mode). The
/// ARM ARM makes every S-form an exception return, but QEMU, our oracle, treats the others
/// (ADDS PC, ... ) as a branch that also sets the flags, and so does armvex.
pub fn dp_to_pc(cpu: &mut Cpu, _bus: &mut Bus, d: &Insn) -> Flow {
    let operand_form = d.op2 >> 2;
    let s = d.rs & 0x80 != 0;
    let mut inner = *d;
    inner.op2 &= 3;
    inner.op = (d.rs >> 4) & 7;
    inner.rs = d.rs & 0xf;
    let (b, carry) = operand2(cpu, &inner, operand_form, is_logical(d.op));
    let a = cpu.reg(d.rn);
    let exception_return = s && (d.op == SUB || d.op == MOV);
    if exception_return && cpu.mode() == crate::state::Mode::User {
        return cpu.undefined();
    }
    let r = alu(cpu, d.op, s && !exception_return, a, b, carry);
    if exception_return {
        cpu.exception_return(r, None)
    } else {
        cpu.alu_write_pc(r)
    }
}

/// The family of [`dp_to_pc`].
pub static DP_TO_PC: &Ops = op!(dp_to_pc);

/// Pack the fields of a PC-writing data-processing instruction for [`dp_to_pc`].
pub fn to_pc(op: u8, s: bool, form_: u8, d: Decoded) -> Decoded {
    let i = d.insn;
    Decoded {
        insn: Insn {
            op,
            op2: (form_ << 2) | (i.op2 & 3),
            rs: (i.rs & 0xf) | ((i.op & 7) << 4) | if s { 0x80 } else { 0 },
            ..i
        },
        ..d
    }
    .with_ops(DP_TO_PC)
}

/// The registers a data-processing instruction reads (Rd is only written).
const DP_READS: u8 = reads::RN | reads::RM | reads::RS;

macro_rules! forms {
    ($h:ident, $($c:literal),*) => {
        [
            op!(nosync(DP_READS) $h::<$($c,)* 0>),
            op!(nosync(DP_READS) $h::<$($c,)* 1>),
            op!(nosync(DP_READS) $h::<$($c,)* 2>),
            op!(nosync(DP_READS) $h::<$($c,)* 3>),
            op!(nosync(DP_READS) $h::<$($c,)* 4>),
            op!(nosync(DP_READS) $h::<$($c,)* 5>),
            op!(nosync(DP_READS) $h::<$($c,)* 6>),
            op!(nosync(DP_READS) $h::<$($c,)* 7>),
        ]
    };
}

/// The family of [`dp`] for one opcode, S bit and handler form: a named type, so that
/// [`crate::thread`]'s fused pairs can name it. The forms that set no flags get
/// [`crate::thread::Op::INLINE_CONDITION`] for the immediate, the register, and the register
/// shifted by an immediate LSL, LSR or ASR (the others are rare enough conditional to share
/// the condition checks).
pub(crate) struct Dp<const OP: u8, const S: bool, const HF: u8>;

impl<const OP: u8, const S: bool, const HF: u8> Op for Dp<OP, S, HF> {
    const SYNC: bool = false;
    const READS: u8 = DP_READS;
    const INLINE_CONDITION: bool = !S && HF <= handler_form::IMM_SHIFT + crate::alu::shift::ASR;
    #[inline(always)]
    fn step(cpu: &mut Cpu, bus: &mut Bus, d: &Insn) -> Flow {
        dp::<OP, S, HF>(cpu, bus, d)
    }
}

/// The family of [`dp_t16`] for one opcode and handler form (see [`Dp`]).
pub(crate) struct DpT16<const OP: u8, const HF: u8>;

impl<const OP: u8, const HF: u8> Op for DpT16<OP, HF> {
    const SYNC: bool = false;
    const READS: u8 = DP_READS;
    #[inline(always)]
    fn step(cpu: &mut Cpu, bus: &mut Bus, d: &Insn) -> Flow {
        dp_t16::<OP, HF>(cpu, bus, d)
    }
}

macro_rules! named_forms {
    ($t:ident, $($c:literal),*) => {
        [
            <$t<$($c,)* 0> as OpsOf>::OPS,
            <$t<$($c,)* 1> as OpsOf>::OPS,
            <$t<$($c,)* 2> as OpsOf>::OPS,
            <$t<$($c,)* 3> as OpsOf>::OPS,
            <$t<$($c,)* 4> as OpsOf>::OPS,
            <$t<$($c,)* 5> as OpsOf>::OPS,
            <$t<$($c,)* 6> as OpsOf>::OPS,
            <$t<$($c,)* 7> as OpsOf>::OPS,
        ]
    };
}
macro_rules! table {
    ($($op:literal)*) => {
        [$([named_forms!(Dp, $op, false), named_forms!(Dp, $op, true)]),*]
    };
}

/// Handlers indexed by `[opcode][S][handler form]`.
static DP_HANDLERS: [[[&Ops; handler_form::COUNT]; 2]; 16] = table!(0 1 2 3 4 5 6 7 8 9 10 11 12 13 14 15);

/// The family of data-processing instruction `op` (not writing the PC), with S bit `s`,
/// operand form `form` (see [`form`]) and, for [`form::IMM_SHIFT`], shift type `shift`.
pub fn dp_ops(op: u8, s: bool, form_: u8, shift: u8) -> &'static Ops {
    DP_HANDLERS[usize::from(op)][usize::from(s)][usize::from(handler_form::of(form_, shift))]
}

/// A Thumb 16-bit data-processing instruction: it sets the flags only outside an IT block
/// (ARM ARM A6.2.1: "ADDS ... outside IT block, ADD ... inside IT block").
#[inline(always)]
pub fn dp_t16<const OP: u8, const HF: u8>(cpu: &mut Cpu, bus: &mut Bus, d: &Insn) -> Flow {
    if cpu.current_it == 0 {
        dp::<OP, true, HF>(cpu, bus, d)
    } else {
        dp::<OP, false, HF>(cpu, bus, d)
    }
}

/// Thumb 16-bit handlers indexed by `[opcode][handler form]`.
static DP_T16_HANDLERS: [[&Ops; handler_form::COUNT]; 16] = [
    named_forms!(DpT16, 0),
    named_forms!(DpT16, 1),
    named_forms!(DpT16, 2),
    named_forms!(DpT16, 3),
    named_forms!(DpT16, 4),
    named_forms!(DpT16, 5),
    named_forms!(DpT16, 6),
    named_forms!(DpT16, 7),
    named_forms!(DpT16, 8),
    named_forms!(DpT16, 9),
    named_forms!(DpT16, 10),
    named_forms!(DpT16, 11),
    named_forms!(DpT16, 12),
    named_forms!(DpT16, 13),
    named_forms!(DpT16, 14),
    named_forms!(DpT16, 15),
];

/// The family of a Thumb 16-bit data-processing instruction (see [`dp_ops`]).
pub fn dp_t16_ops(op: u8, form_: u8, shift: u8) -> &'static Ops {
    DP_T16_HANDLERS[usize::from(op)][usize::from(handler_form::of(form_, shift))]
}

/// ORN (Thumb-2 only): `rd` ← Rn OR NOT operand 2.
#[inline(always)]
pub fn orn<const S: bool, const HF: u8>(cpu: &mut Cpu, _bus: &mut Bus, d: &Insn) -> Flow {
    let (b, carry) = operand2_of::<HF>(cpu, d, S);
    let a = cpu.r(d.rn);
    let r = logical(cpu, S, a | !b, carry);
    cpu.set_r(d.rd, r);
    Flow::Next
}

/// ORN handlers indexed by `[S][handler form]`.
static ORN_HANDLERS: [[&Ops; handler_form::COUNT]; 2] = [forms!(orn, false), forms!(orn, true)];

/// The family of ORN (see [`dp_ops`]).
pub fn orn_ops(s: bool, form_: u8, shift: u8) -> &'static Ops {
    ORN_HANDLERS[usize::from(s)][usize::from(handler_form::of(form_, shift))]
}

/// ADR: `rd` ← Align(PC, 4) + `imm` (`imm` already negated for the subtracting form).
pub fn adr(cpu: &mut Cpu, _bus: &mut Bus, d: &Insn) -> Flow {
    cpu.set_reg(d.rd, (cpu.regs[15] & !3).wrapping_add(d.imm));
    Flow::Next
}

/// The family of [`adr`].
pub static ADR: &Ops = op!(adr);

/// MOVW: `rd` ← `imm` (16 bits, zero-extended).
pub fn movw(cpu: &mut Cpu, _bus: &mut Bus, d: &Insn) -> Flow {
    cpu.set_reg(d.rd, d.imm);
    Flow::Next
}

/// The family of [`movw`].
pub static MOVW: &Ops = op!(nosync(0) movw);

/// MOVT: top half of `rd` ← `imm`.
pub fn movt(cpu: &mut Cpu, _bus: &mut Bus, d: &Insn) -> Flow {
    let r = cpu.reg(d.rd);
    cpu.set_reg(d.rd, (r & 0xffff) | (d.imm << 16));
    Flow::Next
}

/// The family of [`movt`].
pub static MOVT: &Ops = op!(nosync(reads::RD) movt);
