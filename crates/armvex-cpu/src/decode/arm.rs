//! The A32 (ARM state) decoder: one 32-bit word in, one [`Decoded`] out.
//!
//! The structure follows the decode tables of the ARM ARM, chapter A5 ("ARM Instruction Set
//! Encoding"): the condition field and bits 27:25 pick a group (A5.1), and each group has its
//! own table (A5.2 data processing and miscellaneous, A5.3 loads and stores, A5.4 media, A5.5
//! branches and block transfers, A5.6 coprocessor and SVC, A5.7 unconditional instructions).
//! Encodings this core does not implement (Advanced SIMD, Jazelle, the Virtualization and
//! Security Extensions' instructions, coprocessors other than CP15) decode to
//! [`undefined`](crate::exec::misc::undefined).
//!
//! UNPREDICTABLE encodings are decoded as their closest well-defined neighbour (for example
//! a register-shifted operand with R15 simply reads R15); programs that rely on them are wrong.

use super::Features;
use crate::alu::{arm_expand_imm_c, decode_imm_shift};
use crate::exec::dataproc::{self, dp_ops, form, opcode};
use crate::exec::loadstore::{self, SINGLE_HANDLERS, block, kind, mode};
use crate::exec::{branch, media, misc, multiply};
use crate::insn::{COND_ALWAYS, Decoded, bit, bits};
use crate::thread::op;

/// Decode one ARM instruction.
pub fn decode_arm(w: u32, f: &Features) -> Decoded {
    let cond = w >> 28;
    if cond == 0xf {
        return unconditional(w, f);
    }
    let insn = match bits(w, 27, 25) {
        0b000 | 0b001 => dataproc_and_misc(w, f),
        0b010 => load_store_word(w),
        0b011 if !bit(w, 4) => load_store_word(w),
        0b011 => media(w, f),
        0b100 => block_transfer(w),
        0b101 => Decoded::new(branch::BRANCH, w)
            .imm(branch_offset(w))
            .op(bits(w, 24, 24)),
        _ => coprocessor_and_svc(w, f),
    };
    insn.cond(cond)
}

fn undef(w: u32) -> Decoded {
    Decoded::new(op!(misc::undefined), w)
}

fn branch_offset(w: u32) -> u32 {
    (((w & 0x00ff_ffff) << 8) as i32 >> 6) as u32
}

/// A5.2: data-processing and miscellaneous instructions.
fn dataproc_and_misc(w: u32, f: &Features) -> Decoded {
    let op = bit(w, 25);
    let op1 = bits(w, 24, 20);
    let op2 = bits(w, 7, 4);
    let misc_space = op1 & 0b11001 == 0b10000;
    if !op {
        if op2 & 0b1001 == 0b1001 {
            return match op2 {
                0b1001 if op1 & 0b10000 == 0 => multiply(w),
                0b1001 => synchronization(w),
                _ => extra_load_store(w),
            };
        }
        if misc_space {
            return if op2 & 0b1000 == 0 {
                miscellaneous(w, f)
            } else {
                halfword_multiply(w)
            };
        }
        return dataproc_register(w, op2 & 1 != 0);
    }
    match op1 {
        0b10000 => Decoded::new(dataproc::MOVW, w)
            .rd(bits(w, 15, 12))
            .imm((bits(w, 19, 16) << 12) | bits(w, 11, 0)),
        0b10100 => Decoded::new(dataproc::MOVT, w)
            .rd(bits(w, 15, 12))
            .imm((bits(w, 19, 16) << 12) | bits(w, 11, 0)),
        0b10010 | 0b10110 => msr_immediate_and_hints(w),
        _ => {
            let (imm, carry) = arm_expand_imm_c(bits(w, 11, 0));
            let carry_code = carry.map_or(0, |c| c + 1);
            dataproc_insn(
                w,
                form::IMM,
                Decoded::new(op!(misc::undefined), w).imm(imm).op2(carry_code),
            )
        }
    }
}

/// Fill in the opcode, S bit, Rd and Rn of a data-processing instruction whose operand 2 is
/// already in `d`, choosing the handler.
fn dataproc_insn(w: u32, operand_form: u8, d: Decoded) -> Decoded {
    let opc = bits(w, 24, 21) as u8;
    let s = bit(w, 20);
    let rd = bits(w, 15, 12);
    let d = d.rd(rd).rn(bits(w, 19, 16));
    if rd == 15 && !opcode::is_test(opc) {
        return dataproc::to_pc(opc, s, operand_form, d);
    }
    let shift = d.insn.op;
    d.with_ops(dp_ops(opc, s, operand_form, shift))
}

/// A5.2.1 / A5.2.2: data processing with a register operand, shifted by an immediate or by a
/// register.
fn dataproc_register(w: u32, register_shift: bool) -> Decoded {
    let rm = bits(w, 3, 0);
    let ty = bits(w, 6, 5);
    if register_shift {
        let d = Decoded::new(op!(misc::undefined), w).rm(rm).rs(bits(w, 11, 8)).op(ty);
        return dataproc_insn(w, form::REG_SHIFT, d);
    }
    let (t, amount) = decode_imm_shift(ty, bits(w, 11, 7));
    let d = Decoded::new(op!(misc::undefined), w)
        .rm(rm)
        .op(u32::from(t))
        .imm(amount);
    if t == crate::alu::shift::LSL && amount == 0 {
        dataproc_insn(w, form::REG, d)
    } else {
        dataproc_insn(w, form::IMM_SHIFT, d)
    }
}

/// A5.2.11: MSR (immediate) and hints.
fn msr_immediate_and_hints(w: u32) -> Decoded {
    let r = bit(w, 22);
    let mask = bits(w, 19, 16);
    if !r && mask == 0 {
        return match bits(w, 7, 0) {
            2 => Decoded::new(op!(misc::wfe), w),
            3 => Decoded::new(op!(misc::wfi), w),
            4 => Decoded::new(op!(misc::sev), w),
            // NOP, YIELD, DBG and the unallocated hints.
            _ => Decoded::new(misc::NOP, w),
        };
    }
    let (imm, _) = arm_expand_imm_c(bits(w, 11, 0));
    Decoded::new(op!(misc::msr), w)
        .op(u32::from(r))
        .op2(mask)
        .rm(0xff)
        .imm(imm)
}

/// A5.2.12: miscellaneous instructions.
fn miscellaneous(w: u32, f: &Features) -> Decoded {
    let op = bits(w, 22, 21);
    let op2 = bits(w, 6, 4);
    let rm = bits(w, 3, 0);
    match (op2, op) {
        (0b000, _) if bit(w, 9) => undef(w), // MRS/MSR (banked register): Virtualization Extensions
        (0b000, 0b00 | 0b10) => Decoded::new(op!(misc::mrs), w)
            .rd(bits(w, 15, 12))
            .op(u32::from(bit(w, 22))),
        (0b000, _) => Decoded::new(op!(misc::msr), w)
            .op(u32::from(bit(w, 22)))
            .op2(bits(w, 19, 16))
            .rm(rm),
        (0b001, 0b01) | (0b010, 0b01) => Decoded::new(branch::BX, w).rm(rm),
        (0b001, 0b11) => Decoded::new(media::REVERSE, w).rd(bits(w, 15, 12)).rm(rm).op(4),
        (0b011, 0b01) => Decoded::new(branch::BX, w).rm(rm).op(1),
        (0b101, _) => Decoded::new(op!(multiply::qaddsub), w)
            .rd(bits(w, 15, 12))
            .rn(bits(w, 19, 16))
            .rm(rm)
            .op(op),
        (0b111, 0b01) => Decoded::new(op!(misc::bkpt), w),
        (0b111, 0b11) => Decoded::new(op!(misc::smc), w),
        (0b111, 0b00) if f.semihosting => Decoded::new(op!(misc::hlt), w).imm((bits(w, 19, 8) << 4) | bits(w, 3, 0)),
        _ => undef(w),
    }
}

/// A5.2.7: signed halfword multiplies.
fn halfword_multiply(w: u32) -> Decoded {
    let d = Decoded::new(op!(multiply::mul_half), w)
        .rn(bits(w, 3, 0))
        .rm(bits(w, 11, 8));
    let xy = bits(w, 5, 5) | (bits(w, 6, 6) << 1);
    match bits(w, 22, 21) {
        0b00 => d.op(0).op2(xy).rd(bits(w, 19, 16)).rs(bits(w, 15, 12)),
        0b01 => d
            .op(1)
            .op2((bits(w, 6, 6) << 1) | if bit(w, 5) { 4 } else { 0 })
            .rd(bits(w, 19, 16))
            .rs(bits(w, 15, 12)),
        0b10 => d.op(2).op2(xy).rd(bits(w, 15, 12)).rs(bits(w, 19, 16)),
        _ => d.op(3).op2(xy).rd(bits(w, 19, 16)),
    }
}

/// A5.2.5: multiply and multiply-accumulate.
fn multiply(w: u32) -> Decoded {
    let s = bits(w, 20, 20);
    let (rd, ra, rm, rn) = (bits(w, 19, 16), bits(w, 15, 12), bits(w, 11, 8), bits(w, 3, 0));
    let short = |op| Decoded::new(multiply::MUL, w).rd(rd).rs(ra).rm(rm).rn(rn).op(op).op2(s);
    let long = |op| {
        Decoded::new(multiply::MUL_LONG, w)
            .rd(ra)
            .rs(rd)
            .rm(rm)
            .rn(rn)
            .op(op)
            .op2(s)
    };
    match bits(w, 23, 21) {
        0b000 => short(0),
        0b001 => short(1),
        0b010 if s == 0 => long(4),
        0b011 if s == 0 => short(2),
        0b100 => long(0),
        0b101 => long(1),
        0b110 => long(2),
        0b111 => long(3),
        _ => undef(w),
    }
}

/// A5.2.10: synchronization primitives.
fn synchronization(w: u32) -> Decoded {
    let (rn, rt, rt2) = (bits(w, 19, 16), bits(w, 15, 12), bits(w, 3, 0));
    let op = bits(w, 23, 20);
    if op & 0b1011 == 0 {
        let size = if bit(w, 22) { 1 } else { 4 };
        return Decoded::new(loadstore::SWAP, w).rd(rt).rm(rt2).rn(rn).op(size);
    }
    if op & 0b1000 == 0 {
        return undef(w);
    }
    let size = match bits(w, 22, 21) {
        0b00 => 4,
        0b01 => 8,
        0b10 => 1,
        _ => 2,
    };
    if bit(w, 20) {
        Decoded::new(loadstore::LOAD_EXCLUSIVE, w)
            .rd(rt)
            .rs(rt + 1)
            .rn(rn)
            .op(size)
    } else {
        Decoded::new(loadstore::STORE_EXCLUSIVE, w)
            .rd(rt)
            .rm(rt2)
            .rs(rt2 + 1)
            .rn(rn)
            .op(size)
    }
}

/// The addressing mode of a single load/store from P and W.
fn addressing_mode(w: u32) -> u8 {
    match (bit(w, 24), bit(w, 21)) {
        (true, false) => mode::OFFSET,
        (true, true) => mode::PRE,
        (false, false) => mode::POST,
        (false, true) => mode::POST_USER,
    }
}

/// A5.2.8 / A5.2.9: halfword, signed and doubleword loads and stores.
fn extra_load_store(w: u32) -> Decoded {
    let load = bit(w, 20);
    let k = match (bits(w, 6, 5), load) {
        (0b01, false) => kind::STRH,
        (0b01, true) => kind::LDRH,
        (0b10, false) => kind::LDRD,
        (0b10, true) => kind::LDRSB,
        (0b11, false) => kind::STRD,
        _ => kind::LDRSH,
    };
    let m = addressing_mode(w);
    let rt = bits(w, 15, 12);
    if matches!(k, kind::LDRD | kind::STRD) && (m == mode::POST_USER || rt & 1 != 0) {
        return undef(w);
    }
    let register = !bit(w, 22);
    let up = bit(w, 23);
    let d = Decoded::new(SINGLE_HANDLERS[k as usize][m as usize][usize::from(register)], w)
        .rd(rt)
        .rn(bits(w, 19, 16));
    // Rt2 of LDRD/STRD (Rt is even there, so this is at most R15).
    let d = if matches!(k, kind::LDRD | kind::STRD) {
        d.rs(rt + 1)
    } else {
        d
    };
    if register {
        d.rm(bits(w, 3, 0)).op2(u32::from(up))
    } else {
        let imm = (bits(w, 11, 8) << 4) | bits(w, 3, 0);
        d.imm(if up { imm } else { imm.wrapping_neg() })
    }
}

/// A5.3: LDR, STR, LDRB, STRB and their unprivileged forms.
fn load_store_word(w: u32) -> Decoded {
    let k = match (bit(w, 22), bit(w, 20)) {
        (false, true) => kind::LDR,
        (false, false) => kind::STR,
        (true, true) => kind::LDRB,
        (true, false) => kind::STRB,
    };
    let m = addressing_mode(w);
    let register = bit(w, 25);
    let up = bit(w, 23);
    let d = Decoded::new(SINGLE_HANDLERS[k as usize][m as usize][usize::from(register)], w)
        .rd(bits(w, 15, 12))
        .rn(bits(w, 19, 16));
    if register {
        let (t, amount) = decode_imm_shift(bits(w, 6, 5), bits(w, 11, 7));
        d.rm(bits(w, 3, 0)).op(u32::from(t)).imm(amount).op2(u32::from(up))
    } else {
        let imm = bits(w, 11, 0);
        d.imm(if up { imm } else { imm.wrapping_neg() })
    }
}

/// A5.4: media instructions.
fn media(w: u32, f: &Features) -> Decoded {
    let op1 = bits(w, 24, 20);
    let op2 = bits(w, 7, 5);
    let (rd, rn) = (bits(w, 15, 12), bits(w, 3, 0));
    match op1 >> 3 {
        0b00 => parallel(w),
        0b01 => pack_unpack_saturate_reverse(w),
        0b10 => signed_multiply(w, f),
        _ => match (op1, op2) {
            (0b11000, 0b000) => Decoded::new(op!(media::usad8), w)
                .rd(bits(w, 19, 16))
                .rs(rd)
                .rm(bits(w, 11, 8))
                .rn(rn),
            (0b11010 | 0b11011, 0b010 | 0b110) => Decoded::new(op!(media::bitfield), w)
                .op(0)
                .rd(rd)
                .rn(rn)
                .imm(bits(w, 11, 7))
                .rs(bits(w, 20, 16) + 1),
            (0b11110 | 0b11111, 0b010 | 0b110) => Decoded::new(op!(media::bitfield), w)
                .op(1)
                .rd(rd)
                .rn(rn)
                .imm(bits(w, 11, 7))
                .rs(bits(w, 20, 16) + 1),
            (0b11100 | 0b11101, 0b000 | 0b100) => Decoded::new(op!(media::bitfield), w)
                .op(2)
                .rd(rd)
                .rn(rn)
                .imm(bits(w, 11, 7))
                .rs(bits(w, 20, 16)),
            _ => undef(w),
        },
    }
}

/// A5.4.1 / A5.4.2: parallel addition and subtraction.
fn parallel(w: u32) -> Decoded {
    let unsigned = bit(w, 22);
    let variant = bits(w, 21, 20);
    let op = bits(w, 7, 5);
    if variant == 0 || op == 0b101 || op == 0b110 {
        return undef(w);
    }
    let prefix = (variant - 1) + if unsigned { 3 } else { 0 };
    Decoded::new(media::PARALLEL, w)
        .rd(bits(w, 15, 12))
        .rn(bits(w, 19, 16))
        .rm(bits(w, 3, 0))
        .op(prefix)
        .op2(op)
}

/// A5.4.3: packing, unpacking, saturation and reversal.
fn pack_unpack_saturate_reverse(w: u32) -> Decoded {
    let op1 = bits(w, 22, 20);
    let op2 = bits(w, 7, 5);
    let a = bits(w, 19, 16);
    let (rd, rm) = (bits(w, 15, 12), bits(w, 3, 0));
    let extend = |signed: bool, size: u32| {
        Decoded::new(media::EXTEND, w)
            .rd(rd)
            .rn(a)
            .rm(rm)
            .op(u32::from(signed))
            .op2(size)
            .imm(bits(w, 11, 10) * 8)
    };
    let sat = |op: u32, width: u32| {
        let (t, amount) = if bit(w, 6) {
            decode_imm_shift(2, bits(w, 11, 7))
        } else {
            (0, bits(w, 11, 7))
        };
        Decoded::new(op!(media::saturate), w)
            .rd(rd)
            .rn(rm)
            .op(op)
            .rs(width)
            .op2(u32::from(t))
            .imm(amount)
    };
    match (op1, op2) {
        (0b000, 0b000 | 0b010 | 0b100 | 0b110) => {
            let tb = bit(w, 6);
            let amount = bits(w, 11, 7);
            let amount = if tb && amount == 0 { 32 } else { amount };
            Decoded::new(op!(media::pack), w)
                .rd(rd)
                .rn(a)
                .rm(rm)
                .op(u32::from(tb))
                .imm(amount)
        }
        (0b000, 0b011) => extend(true, 2),
        (0b000, 0b101) => Decoded::new(
            op!(nosync(crate::thread::reads::RN | crate::thread::reads::RM) media::sel),
            w,
        )
        .rd(rd)
        .rn(a)
        .rm(rm),
        (0b010 | 0b011, 0b000 | 0b010 | 0b100 | 0b110) => sat(0, bits(w, 20, 16) + 1),
        (0b010, 0b001) => Decoded::new(op!(media::saturate16), w).rd(rd).rn(rm).op(0).rs(a + 1),
        (0b010, 0b011) => extend(true, 0),
        (0b011, 0b001) => Decoded::new(media::REVERSE, w).rd(rd).rm(rm).op(0),
        (0b011, 0b011) => extend(true, 1),
        (0b011, 0b101) => Decoded::new(media::REVERSE, w).rd(rd).rm(rm).op(1),
        (0b100, 0b011) => extend(false, 2),
        (0b110 | 0b111, 0b000 | 0b010 | 0b100 | 0b110) => sat(1, bits(w, 20, 16)),
        (0b110, 0b001) => Decoded::new(op!(media::saturate16), w).rd(rd).rn(rm).op(1).rs(a),
        (0b110, 0b011) => extend(false, 0),
        (0b111, 0b001) => Decoded::new(media::REVERSE, w).rd(rd).rm(rm).op(3),
        (0b111, 0b011) => extend(false, 1),
        (0b111, 0b101) => Decoded::new(media::REVERSE, w).rd(rd).rm(rm).op(2),
        _ => undef(w),
    }
}

/// A5.4.4: signed multiplies and the integer divides.
fn signed_multiply(w: u32, f: &Features) -> Decoded {
    let op1 = bits(w, 22, 20);
    let op2 = bits(w, 7, 5);
    let (rd, ra, rm, rn) = (bits(w, 19, 16), bits(w, 15, 12), bits(w, 11, 8), bits(w, 3, 0));
    let mx = bits(w, 5, 5);
    let no_acc = if ra == 15 { 2 } else { 0 };
    match (op1, op2) {
        (0b000, 0b000 | 0b001) => Decoded::new(op!(multiply::mul_dual), w)
            .rd(rd)
            .rs(ra)
            .rm(rm)
            .rn(rn)
            .op(0)
            .op2(mx | no_acc),
        (0b000, 0b010 | 0b011) => Decoded::new(op!(multiply::mul_dual), w)
            .rd(rd)
            .rs(ra)
            .rm(rm)
            .rn(rn)
            .op(1)
            .op2(mx | no_acc),
        (0b001, 0b000) if f.divide => Decoded::new(op!(multiply::divide), w).rd(rd).rm(rm).rn(rn).op(0),
        (0b011, 0b000) if f.divide => Decoded::new(op!(multiply::divide), w).rd(rd).rm(rm).rn(rn).op(1),
        (0b100, 0b000 | 0b001) => Decoded::new(op!(multiply::mul_dual), w)
            .rd(ra)
            .rs(rd)
            .rm(rm)
            .rn(rn)
            .op(2)
            .op2(mx),
        (0b100, 0b010 | 0b011) => Decoded::new(op!(multiply::mul_dual), w)
            .rd(ra)
            .rs(rd)
            .rm(rm)
            .rn(rn)
            .op(3)
            .op2(mx),
        (0b101, 0b000 | 0b001) => {
            let op = if ra == 15 { 2 } else { 0 };
            Decoded::new(op!(multiply::mul_msw), w)
                .rd(rd)
                .rs(ra)
                .rm(rm)
                .rn(rn)
                .op(op)
                .op2(mx)
        }
        (0b101, 0b110 | 0b111) => Decoded::new(op!(multiply::mul_msw), w)
            .rd(rd)
            .rs(ra)
            .rm(rm)
            .rn(rn)
            .op(1)
            .op2(mx),
        _ => undef(w),
    }
}

/// A5.5: LDM/STM (B and BL are decoded by the caller).
fn block_transfer(w: u32) -> Decoded {
    let list = bits(w, 15, 0);
    let rn = bits(w, 19, 16);
    if list == 0 {
        return undef(w);
    }
    let flag = |b: u32, f: u8| if bit(w, b) { u32::from(f) } else { 0 };
    let flags =
        flag(23, block::INCREMENT) | flag(24, block::BEFORE) | flag(21, block::WRITEBACK) | flag(22, block::USER);
    let ops = if bit(w, 20) {
        loadstore::LDM
    } else {
        loadstore::stm_ops(list)
    };
    Decoded::new(ops, w).rn(rn).imm(list).op2(flags)
}

/// A5.6: coprocessor instructions and SVC.
fn coprocessor_and_svc(w: u32, f: &Features) -> Decoded {
    let op1 = bits(w, 25, 20);
    let coproc = bits(w, 11, 8);
    if op1 >> 4 == 0b11 {
        return Decoded::new(op!(misc::svc), w).imm(bits(w, 23, 0));
    }
    if coproc & 0b1110 == 0b1010 {
        return super::vfp::decode_vfp_arm(w, f);
    }
    if op1 >> 4 == 0b10 && bit(w, 4) {
        // MCR / MRC
        return Decoded::new(op!(misc::coprocessor), w)
            .rs(coproc)
            .rd(bits(w, 15, 12))
            .rn(bits(w, 19, 16))
            .rm(bits(w, 3, 0))
            .op2((bits(w, 23, 21) << 3) | bits(w, 7, 5))
            .op(bits(w, 20, 20));
    }
    if op1 & 0b111110 == 0b000100 {
        // MCRR / MRRC
        return Decoded::new(op!(misc::coprocessor64), w)
            .imm(coproc)
            .rd(bits(w, 15, 12))
            .rs(bits(w, 19, 16))
            .rm(bits(w, 3, 0))
            .op2(bits(w, 7, 4))
            .op(bits(w, 20, 20));
    }
    // LDC/STC/CDP: no coprocessor here implements them.
    undef(w)
}

/// A5.7: unconditional instructions.
fn unconditional(w: u32, f: &Features) -> Decoded {
    if let Some(d) = super::neon::decode_a32(w, f) {
        return d.cond(u32::from(COND_ALWAYS));
    }
    let op1 = bits(w, 27, 20);
    let d = match op1 >> 5 {
        0b101 => {
            let offset = branch_offset(w) | (bits(w, 24, 24) << 1);
            Decoded::new(op!(branch::blx_imm), w).imm(offset)
        }
        0b100 => {
            let flags = u32::from(bit(w, 23)) | (u32::from(bit(w, 24)) << 1) | (u32::from(bit(w, 21)) << 2);
            match (bit(w, 22), bit(w, 20)) {
                (true, false) => Decoded::new(op!(misc::srs), w).op(bits(w, 4, 0)).op2(flags),
                (false, true) => Decoded::new(op!(misc::rfe), w).rn(bits(w, 19, 16)).op2(flags),
                _ => undef(w),
            }
        }
        0b000..=0b011 => memory_hints_and_misc(w),
        _ => undef(w),
    };
    d.cond(u32::from(COND_ALWAYS))
}

/// A5.7.1: memory hints, Advanced SIMD and miscellaneous unconditional instructions.
fn memory_hints_and_misc(w: u32) -> Decoded {
    let op1 = bits(w, 26, 20);
    let op2 = bits(w, 7, 4);
    let rn = bits(w, 19, 16);
    match op1 {
        0b001_0000 if op2 & 0b0010 == 0 && rn & 1 == 0 => {
            let imod = bits(w, 19, 18);
            let m = bits(w, 17, 17);
            Decoded::new(op!(misc::cps), w)
                .op2(imod | (m << 2))
                .imm(bits(w, 8, 6))
                .op(bits(w, 4, 0))
        }
        0b001_0000 if op2 == 0 && rn & 1 == 1 => Decoded::new(op!(misc::setend), w).op(bits(w, 9, 9)),
        0b101_0111 => match op2 {
            0b0001 => Decoded::new(loadstore::CLEAR_EXCLUSIVE, w),
            0b0100 | 0b0101 => Decoded::new(misc::NOP, w),
            0b0110 => Decoded::new(op!(misc::isb), w),
            _ => undef(w),
        },
        // PLI, PLD, PLDW (immediate and register) and the unallocated memory hints.
        _ if op1 & 0b1000111 == 0b1000101 || op1 & 0b1000111 == 0b1000001 => {
            if op1 & 0b0100000 != 0 && op2 & 1 != 0 {
                undef(w)
            } else {
                Decoded::new(misc::NOP, w)
            }
        }
        _ => undef(w),
    }
}
