//! The T32 (Thumb-2) decoder.
//!
//! Thumb instructions are 16 or 32 bits long; a halfword whose top five bits are 0b11101,
//! 0b11110 or 0b11111 starts a 32-bit instruction (ARM ARM A6.1). A page is decoded one
//! halfword slot at a time, so a branch into the middle of a 32-bit instruction also finds an
//! entry (whatever that halfword decodes to on its own).
//!
//! The tables follow ARM ARM A6.2 (16-bit encodings) and A6.3 (32-bit encodings). Most
//! instructions map onto the same handlers as their ARM counterparts; the Thumb-only ones
//! (IT, CBZ, TBB/TBH, ORN, ADR, the 16-bit "flags unless in an IT block" forms) live in
//! [`crate::exec::thumb`] and [`crate::exec::dataproc`]. Conditions come from the IT state at
//! run time, so every Thumb instruction is unconditional except the conditional branches.
//!
//! UNPREDICTABLE register choices (SP or PC where the ARM ARM forbids them) decode as the
//! same operation on that register.

use super::Features;
use super::THUMB_SLOTS;
use crate::alu::{decode_imm_shift, shift};
use crate::cpu::Cpu;
use crate::exec::dataproc::{self, dp_ops, dp_t16_ops, form, opcode, orn_ops};
use crate::exec::loadstore::{self, SINGLE_HANDLERS, block, kind, mode};
use crate::exec::{branch, media, misc, multiply, thumb};
use crate::insn::{COND_ALWAYS, Decoded, Flow, Insn, bit, bits};
use crate::thread::op;
use armvex_bus::Bus;

/// Decode a whole 4 KiB page of Thumb code, one entry per halfword.
pub fn decode_thumb_page(bytes: &[u8], f: &Features) -> Vec<Decoded> {
    let half = |i: usize| u16::from_le_bytes([bytes[2 * i], bytes[2 * i + 1]]);
    (0..THUMB_SLOTS)
        .map(|i| {
            let hw1 = half(i);
            if !is_32bit(hw1) {
                decode_thumb16(hw1, f)
            } else if i + 1 < THUMB_SLOTS {
                decode_thumb32(hw1, half(i + 1), f)
            } else {
                Decoded::new(op!(cross_page), u32::from(hw1)).imm(u32::from(hw1)).len(4)
            }
        })
        .collect()
}

/// A 32-bit Thumb instruction at the last halfword of a page: its second halfword is fetched
/// (through the MMU) each time, and the instruction is decoded and executed on the spot.
/// `imm` holds the first halfword.
pub fn cross_page(cpu: &mut Cpu, bus: &mut Bus, d: &Insn) -> Flow {
    let addr = cpu.current_insn_addr();
    let hw2 = match cpu.fetch_halfword(bus, addr.wrapping_add(2)) {
        Ok(h) => h,
        Err(fault) => {
            cpu.prefetch_abort(addr, fault);
            return Flow::Branch;
        }
    };
    let decoded = decode_thumb32(
        d.imm as u16,
        hw2,
        &Features::for_model(cpu.model(), cpu.config.semihosting),
    );
    // The same slot: the same PC.
    let (insn, family) = decoded.finish_with_family(u32::from(d.pc) - 4, true);
    // A B<cond> (T3) carries its own condition, which the page's handlers check before the
    // step (the step itself branches unconditionally): check it here too. Inside an IT block
    // ITSTATE's condition decides, as in `Cpu::step_in_it_block`.
    if insn.cond() < COND_ALWAYS && cpu.current_it == 0 && !cpu.condition_passed(insn.cond()) {
        return Flow::Next;
    }
    (family.step_pc)(cpu, bus, &insn)
}

/// True if `hw1` is the first halfword of a 32-bit instruction.
#[inline]
pub fn is_32bit(hw1: u16) -> bool {
    hw1 >> 11 >= 0b11101
}

fn undef16(h: u32) -> Decoded {
    Decoded::new(op!(misc::undefined), h).len(2)
}

/// Decode a 16-bit Thumb instruction (A6.2).
pub fn decode_thumb16(hw: u16, f: &Features) -> Decoded {
    let h = u32::from(hw);
    let d = match bits(h, 15, 10) {
        0b000000..=0b001111 => shift_add_sub_move_compare(h),
        0b010000 => data_processing16(h),
        0b010001 => special_data_and_branch(h),
        0b010010 | 0b010011 => {
            // LDR (literal): [Align(PC, 4) + imm8 * 4]
            Decoded::new(SINGLE_HANDLERS[kind::LDR as usize][mode::OFFSET as usize][0], h)
                .rd(bits(h, 10, 8))
                .rn(15)
                .imm(bits(h, 7, 0) * 4)
        }
        0b010100..=0b100111 => load_store16(h),
        0b101000 | 0b101001 => Decoded::new(dataproc::ADR, h).rd(bits(h, 10, 8)).imm(bits(h, 7, 0) * 4),
        0b101010 | 0b101011 => Decoded::new(dp_ops(opcode::ADD, false, form::IMM, 0), h)
            .rd(bits(h, 10, 8))
            .rn(13)
            .imm(bits(h, 7, 0) * 4),
        0b101100..=0b101111 => misc16(h, f),
        0b110000 | 0b110001 => {
            // STM (STMIA) Rn!, {list}
            Decoded::new(loadstore::STM, h)
                .rn(bits(h, 10, 8))
                .imm(bits(h, 7, 0))
                .op2(u32::from(block::INCREMENT | block::WRITEBACK))
        }
        0b110010 | 0b110011 => {
            // LDM Rn{!}, {list}: writeback unless Rn is in the list.
            let rn = bits(h, 10, 8);
            let list = bits(h, 7, 0);
            let wb = if list & (1 << rn) == 0 { block::WRITEBACK } else { 0 };
            Decoded::new(loadstore::LDM, h)
                .rn(rn)
                .imm(list)
                .op2(u32::from(block::INCREMENT | wb))
        }
        0b110100..=0b110111 => match bits(h, 11, 8) {
            0b1110 => undef16(h),
            0b1111 => Decoded::new(op!(misc::svc), h).imm(bits(h, 7, 0)),
            cond => {
                let imm = ((bits(h, 7, 0) << 24) as i32 >> 23) as u32;
                Decoded::new(branch::BRANCH, h).imm(imm).cond(cond)
            }
        },
        0b111000 | 0b111001 => {
            let imm = ((bits(h, 10, 0) << 21) as i32 >> 20) as u32;
            Decoded::new(branch::BRANCH, h).imm(imm)
        }
        _ => undef16(h),
    };
    d.len(2)
}

/// A6.2.1: shift (immediate), add, subtract, move, and compare.
fn shift_add_sub_move_compare(h: u32) -> Decoded {
    let t16 = |op: u8, f: u8| Decoded::new(dp_t16_ops(op, f, 0), h);
    let (rd, rn_or_rm, rm) = (bits(h, 2, 0), bits(h, 5, 3), bits(h, 8, 6));
    match bits(h, 13, 9) {
        0b00000..=0b01011 => {
            // LSL/LSR/ASR #imm5: MOVS Rd, Rm, shift
            let (ty, amount) = decode_imm_shift(bits(h, 12, 11), bits(h, 10, 6));
            if ty == shift::LSL && amount == 0 {
                t16(opcode::MOV, form::REG).rd(rd).rm(rn_or_rm)
            } else {
                Decoded::new(dp_t16_ops(opcode::MOV, form::IMM_SHIFT, ty), h)
                    .rd(rd)
                    .rm(rn_or_rm)
                    .op(u32::from(ty))
                    .imm(amount)
            }
        }
        0b01100 => t16(opcode::ADD, form::REG).rd(rd).rn(rn_or_rm).rm(rm),
        0b01101 => t16(opcode::SUB, form::REG).rd(rd).rn(rn_or_rm).rm(rm),
        0b01110 => t16(opcode::ADD, form::IMM).rd(rd).rn(rn_or_rm).imm(rm),
        0b01111 => t16(opcode::SUB, form::IMM).rd(rd).rn(rn_or_rm).imm(rm),
        op => {
            let rdn = bits(h, 10, 8);
            let imm = bits(h, 7, 0);
            match op >> 2 {
                0b100 => t16(opcode::MOV, form::IMM).rd(rdn).imm(imm),
                0b101 => Decoded::new(dp_ops(opcode::CMP, true, form::IMM, 0), h)
                    .rn(rdn)
                    .imm(imm),
                0b110 => t16(opcode::ADD, form::IMM).rd(rdn).rn(rdn).imm(imm),
                _ => t16(opcode::SUB, form::IMM).rd(rdn).rn(rdn).imm(imm),
            }
        }
    }
}

/// A6.2.2: data processing on two low registers.
fn data_processing16(h: u32) -> Decoded {
    let (rdn, rm) = (bits(h, 2, 0), bits(h, 5, 3));
    let t16 = |op: u8, f: u8| Decoded::new(dp_t16_ops(op, f, 0), h).rd(rdn).rn(rdn).rm(rm);
    let compare = |op: u8| Decoded::new(dp_ops(op, true, form::REG, 0), h).rn(rdn).rm(rm);
    let shift_by_reg = |ty: u8| {
        Decoded::new(dp_t16_ops(opcode::MOV, form::REG_SHIFT, 0), h)
            .rd(rdn)
            .rm(rdn)
            .rs(rm)
            .op(u32::from(ty))
    };
    match bits(h, 9, 6) {
        0b0000 => t16(opcode::AND, form::REG),
        0b0001 => t16(opcode::EOR, form::REG),
        0b0010 => shift_by_reg(shift::LSL),
        0b0011 => shift_by_reg(shift::LSR),
        0b0100 => shift_by_reg(shift::ASR),
        0b0101 => t16(opcode::ADC, form::REG),
        0b0110 => t16(opcode::SBC, form::REG),
        0b0111 => shift_by_reg(shift::ROR),
        0b1000 => compare(opcode::TST),
        // RSBS Rd, Rn, #0 (NEG)
        0b1001 => Decoded::new(dp_t16_ops(opcode::RSB, form::IMM, 0), h)
            .rd(rdn)
            .rn(rm)
            .imm(0),
        0b1010 => compare(opcode::CMP),
        0b1011 => compare(opcode::CMN),
        0b1100 => t16(opcode::ORR, form::REG),
        // MULS Rdm, Rn, Rdm
        0b1101 => Decoded::new(multiply::MUL_T16, h).rd(rdn).rn(rm).rm(rdn).op(0),
        0b1110 => t16(opcode::BIC, form::REG),
        _ => t16(opcode::MVN, form::REG),
    }
}

/// A6.2.3: special data instructions (high registers) and branch and exchange.
fn special_data_and_branch(h: u32) -> Decoded {
    let rdn = bits(h, 2, 0) | (bits(h, 7, 7) << 3);
    let rm = bits(h, 6, 3);
    let plain = |op: u8, s: bool| {
        let d = Decoded::new(dp_ops(op, s, form::REG, 0), h).rd(rdn).rn(rdn).rm(rm);
        if rdn == 15 && !s {
            dataproc::to_pc(op, false, form::REG, d)
        } else {
            d
        }
    };
    match bits(h, 9, 8) {
        0b00 => plain(opcode::ADD, false),
        0b01 => plain(opcode::CMP, true),
        0b10 => plain(opcode::MOV, false),
        _ => Decoded::new(branch::BX, h).rm(rm).op(bits(h, 7, 7)),
    }
}

/// A6.2.4: load/store single data item.
fn load_store16(h: u32) -> Decoded {
    let (rt, rn) = (bits(h, 2, 0), bits(h, 5, 3));
    let single = |k: u8, register: bool| {
        Decoded::new(
            SINGLE_HANDLERS[k as usize][mode::OFFSET as usize][usize::from(register)],
            h,
        )
        .rd(rt)
        .rn(rn)
        .op2(1)
    };
    let imm5 = bits(h, 10, 6);
    match bits(h, 15, 12) {
        0b0101 => {
            let k = match bits(h, 11, 9) {
                0b000 => kind::STR,
                0b001 => kind::STRH,
                0b010 => kind::STRB,
                0b011 => kind::LDRSB,
                0b100 => kind::LDR,
                0b101 => kind::LDRH,
                0b110 => kind::LDRB,
                _ => kind::LDRSH,
            };
            single(k, true).rm(bits(h, 8, 6))
        }
        0b0110 => single(if bit(h, 11) { kind::LDR } else { kind::STR }, false).imm(imm5 * 4),
        0b0111 => single(if bit(h, 11) { kind::LDRB } else { kind::STRB }, false).imm(imm5),
        0b1000 => single(if bit(h, 11) { kind::LDRH } else { kind::STRH }, false).imm(imm5 * 2),
        _ => {
            // SP-relative: [SP, #imm8 * 4]
            let k = if bit(h, 11) { kind::LDR } else { kind::STR };
            Decoded::new(SINGLE_HANDLERS[k as usize][mode::OFFSET as usize][0], h)
                .rd(bits(h, 10, 8))
                .rn(13)
                .imm(bits(h, 7, 0) * 4)
        }
    }
}

/// A6.2.5: miscellaneous 16-bit instructions.
fn misc16(h: u32, f: &Features) -> Decoded {
    let (rd, rm) = (bits(h, 2, 0), bits(h, 5, 3));
    match bits(h, 11, 5) {
        0b0000000..=0b0000011 => Decoded::new(dp_ops(opcode::ADD, false, form::IMM, 0), h)
            .rd(13)
            .rn(13)
            .imm(bits(h, 6, 0) * 4),
        0b0000100..=0b0000111 => Decoded::new(dp_ops(opcode::SUB, false, form::IMM, 0), h)
            .rd(13)
            .rn(13)
            .imm(bits(h, 6, 0) * 4),
        0b0001000..=0b0001111 | 0b0011000..=0b0011111 | 0b1001000..=0b1001111 | 0b1011000..=0b1011111 => {
            let imm = (bits(h, 9, 9) << 6) | (bits(h, 7, 3) << 1);
            Decoded::new(op!(thumb::cbz), h).rn(rd).imm(imm).op(bits(h, 11, 11))
        }
        0b0010000..=0b0010111 => {
            // SXTH, SXTB, UXTH, UXTB
            let (signed, size) = match bits(h, 7, 6) {
                0b00 => (1, 1),
                0b01 => (1, 0),
                0b10 => (0, 1),
                _ => (0, 0),
            };
            Decoded::new(media::EXTEND, h).rd(rd).rn(15).rm(rm).op(signed).op2(size)
        }
        0b0100000..=0b0101111 => {
            // PUSH {list, LR}
            let list = bits(h, 7, 0) | (bits(h, 8, 8) << 14);
            Decoded::new(loadstore::STM, h)
                .rn(13)
                .imm(list)
                .op2(u32::from(block::BEFORE | block::WRITEBACK))
        }
        0b0110010 => Decoded::new(op!(misc::setend), h).op(bits(h, 3, 3)),
        0b0110011 => {
            let imod = if bit(h, 4) { 3 } else { 2 };
            Decoded::new(op!(misc::cps), h).op2(imod).imm(bits(h, 2, 0))
        }
        0b1010000..=0b1010001 => Decoded::new(media::REVERSE, h).rd(rd).rm(rm).op(0),
        0b1010010..=0b1010011 => Decoded::new(media::REVERSE, h).rd(rd).rm(rm).op(1),
        0b1010110..=0b1010111 => Decoded::new(media::REVERSE, h).rd(rd).rm(rm).op(2),
        0b1010100..=0b1010101 if f.semihosting => Decoded::new(op!(misc::hlt), h).imm(bits(h, 5, 0)),
        0b1100000..=0b1101111 => {
            // POP {list, PC}
            let list = bits(h, 7, 0) | (bits(h, 8, 8) << 15);
            Decoded::new(loadstore::LDM, h)
                .rn(13)
                .imm(list)
                .op2(u32::from(block::INCREMENT | block::WRITEBACK))
        }
        0b1110000..=0b1110111 => Decoded::new(op!(misc::bkpt), h),
        0b1111000..=0b1111111 => {
            if bits(h, 3, 0) != 0 {
                Decoded::new(&thumb::IT, h).imm(bits(h, 7, 0))
            } else {
                match bits(h, 7, 4) {
                    2 => Decoded::new(op!(misc::wfe), h),
                    3 => Decoded::new(op!(misc::wfi), h),
                    4 => Decoded::new(op!(misc::sev), h),
                    _ => Decoded::new(misc::NOP, h),
                }
            }
        }
        _ => undef16(h),
    }
}

fn undef32(w: u32) -> Decoded {
    Decoded::new(op!(misc::undefined), w).len(4)
}

/// ThumbExpandImm_C (A6.3.2): the immediate and whether it sets the carry (`None`: unchanged).
fn thumb_expand_imm_c(imm12: u32) -> (u32, Option<u32>) {
    let imm8 = imm12 & 0xff;
    if imm12 >> 10 == 0 {
        let v = match (imm12 >> 8) & 3 {
            0 => imm8,
            1 => imm8 | (imm8 << 16),
            2 => (imm8 << 8) | (imm8 << 24),
            _ => imm8 * 0x0101_0101,
        };
        (v, None)
    } else {
        let v = (0x80 | (imm12 & 0x7f)).rotate_right(imm12 >> 7);
        (v, Some(v >> 31))
    }
}

/// Decode a 32-bit Thumb instruction from its two halfwords (A6.3).
pub fn decode_thumb32(hw1: u16, hw2: u16, f: &Features) -> Decoded {
    let w = (u32::from(hw1) << 16) | u32::from(hw2);
    if let Some(d) = super::neon::decode_t32(w, f) {
        return d.len(4);
    }
    let op1 = bits(w, 28, 27);
    let op2 = bits(w, 26, 20);
    let d = match op1 {
        0b01 => {
            if op2 & 0b1100100 == 0b0000000 {
                load_store_multiple(w)
            } else if op2 & 0b1100100 == 0b0000100 {
                load_store_dual_exclusive_table(w)
            } else if op2 & 0b1100000 == 0b0100000 {
                data_processing_shifted_register(w)
            } else {
                coprocessor(w, f)
            }
        }
        0b10 => {
            if bit(w, 15) {
                branches_and_misc(w, f)
            } else if op2 & 0b0100000 == 0 {
                data_processing_modified_immediate(w)
            } else {
                data_processing_plain_immediate(w)
            }
        }
        _ => {
            if op2 & 0b1000000 != 0 {
                coprocessor(w, f)
            } else if op2 & 0b1110001 == 0 {
                store_single(w)
            } else if op2 & 0b1100111 == 0b0000001 || op2 & 0b1100111 == 0b0000011 || op2 & 0b1100111 == 0b0000101 {
                load_single(w)
            } else if op2 & 0b1110000 == 0b0100000 {
                data_processing_register(w)
            } else if op2 & 0b1111000 == 0b0110000 {
                multiply32(w)
            } else if op2 & 0b1111000 == 0b0111000 {
                long_multiply(w, f)
            } else {
                undef32(w)
            }
        }
    };
    d.len(4)
}

/// Fill in a data-processing instruction (shared by the register and immediate forms):
/// `op4` is the T32 opcode (bits 24:21), `d` already holds operand 2.
fn dataproc32(w: u32, op4: u32, operand_form: u8, d: Decoded) -> Decoded {
    let s = bit(w, 20);
    let (rn, rd) = (bits(w, 19, 16), bits(w, 11, 8));
    let normal = |op: u8, d: Decoded| {
        let d = d.rd(rd).rn(rn);
        if rd == 15 && !opcode::is_test(op) {
            return dataproc::to_pc(op, s, operand_form, d);
        }
        let shift = d.insn.op;
        d.with_ops(dp_ops(op, s, operand_form, shift))
    };
    let compare = |op: u8, d: Decoded| {
        let shift = d.insn.op;
        d.rn(rn).with_ops(dp_ops(op, true, operand_form, shift))
    };
    match op4 {
        0b0000 if rd == 15 && s => compare(opcode::TST, d),
        0b0000 => normal(opcode::AND, d),
        0b0001 => normal(opcode::BIC, d),
        0b0010 if rn == 15 => normal(opcode::MOV, d),
        0b0010 => normal(opcode::ORR, d),
        0b0011 if rn == 15 => normal(opcode::MVN, d),
        0b0011 => d.rd(rd).rn(rn).with_ops(orn_ops(s, operand_form, d.insn.op)),
        0b0100 if rd == 15 && s => compare(opcode::TEQ, d),
        0b0100 => normal(opcode::EOR, d),
        0b1000 if rd == 15 && s => compare(opcode::CMN, d),
        0b1000 => normal(opcode::ADD, d),
        0b1010 => normal(opcode::ADC, d),
        0b1011 => normal(opcode::SBC, d),
        0b1101 if rd == 15 && s => compare(opcode::CMP, d),
        0b1101 => normal(opcode::SUB, d),
        0b1110 => normal(opcode::RSB, d),
        _ => undef32(w),
    }
}

/// A6.3.11: data processing (shifted register), and PKHBT/PKHTB.
fn data_processing_shifted_register(w: u32) -> Decoded {
    let op4 = bits(w, 24, 21);
    let rm = bits(w, 3, 0);
    let imm5 = (bits(w, 14, 12) << 2) | bits(w, 7, 6);
    if op4 == 0b0110 {
        let tb = bit(w, 5);
        let amount = if tb && imm5 == 0 { 32 } else { imm5 };
        return Decoded::new(op!(media::pack), w)
            .rd(bits(w, 11, 8))
            .rn(bits(w, 19, 16))
            .rm(rm)
            .op(u32::from(tb))
            .imm(amount);
    }
    let (ty, amount) = decode_imm_shift(bits(w, 5, 4), imm5);
    let d = Decoded::new(op!(misc::undefined), w)
        .rm(rm)
        .op(u32::from(ty))
        .imm(amount);
    if ty == shift::LSL && amount == 0 {
        dataproc32(w, op4, form::REG, d)
    } else {
        dataproc32(w, op4, form::IMM_SHIFT, d)
    }
}

/// A6.3.1: data processing (modified immediate).
fn data_processing_modified_immediate(w: u32) -> Decoded {
    let imm12 = (bits(w, 26, 26) << 11) | (bits(w, 14, 12) << 8) | bits(w, 7, 0);
    let (imm, carry) = thumb_expand_imm_c(imm12);
    let d = Decoded::new(op!(misc::undefined), w)
        .imm(imm)
        .op2(carry.map_or(0, |c| c + 1));
    dataproc32(w, bits(w, 24, 21), form::IMM, d)
}

/// A6.3.3: data processing (plain binary immediate).
fn data_processing_plain_immediate(w: u32) -> Decoded {
    let (rn, rd) = (bits(w, 19, 16), bits(w, 11, 8));
    let imm12 = (bits(w, 26, 26) << 11) | (bits(w, 14, 12) << 8) | bits(w, 7, 0);
    let imm5 = (bits(w, 14, 12) << 2) | bits(w, 7, 6);
    let low5 = bits(w, 4, 0);
    let add_sub = |op: u8, imm: u32| Decoded::new(dp_ops(op, false, form::IMM, 0), w).rd(rd).rn(rn).imm(imm);
    match bits(w, 24, 20) {
        0b00000 if rn == 15 => Decoded::new(dataproc::ADR, w).rd(rd).imm(imm12),
        0b00000 => add_sub(opcode::ADD, imm12),
        0b01010 if rn == 15 => Decoded::new(dataproc::ADR, w).rd(rd).imm(imm12.wrapping_neg()),
        0b01010 => add_sub(opcode::SUB, imm12),
        0b00100 => Decoded::new(dataproc::MOVW, w).rd(rd).imm((rn << 12) | imm12),
        0b01100 => Decoded::new(dataproc::MOVT, w).rd(rd).imm((rn << 12) | imm12),
        0b10010 if imm5 == 0 => Decoded::new(op!(media::saturate16), w).rd(rd).rn(rn).op(0).rs(low5 + 1),
        0b11010 if imm5 == 0 => Decoded::new(op!(media::saturate16), w).rd(rd).rn(rn).op(1).rs(low5),
        op @ (0b10000 | 0b10010 | 0b11000 | 0b11010) => {
            let (ty, amount) = if bit(w, 21) {
                decode_imm_shift(2, imm5)
            } else {
                (shift::LSL, imm5)
            };
            let (unsigned, width) = if op & 0b01000 != 0 { (1, low5) } else { (0, low5 + 1) };
            Decoded::new(op!(media::saturate), w)
                .rd(rd)
                .rn(rn)
                .op(unsigned)
                .rs(width)
                .op2(u32::from(ty))
                .imm(amount)
        }
        0b10100 => Decoded::new(op!(media::bitfield), w)
            .op(0)
            .rd(rd)
            .rn(rn)
            .imm(imm5)
            .rs(low5 + 1),
        0b11100 => Decoded::new(op!(media::bitfield), w)
            .op(1)
            .rd(rd)
            .rn(rn)
            .imm(imm5)
            .rs(low5 + 1),
        0b10110 => Decoded::new(op!(media::bitfield), w)
            .op(2)
            .rd(rd)
            .rn(rn)
            .imm(imm5)
            .rs(low5),
        _ => undef32(w),
    }
}

/// A6.3.4: branches and miscellaneous control.
fn branches_and_misc(w: u32, f: &Features) -> Decoded {
    let op = bits(w, 26, 20);
    let op1 = bits(w, 14, 12);
    let s = bits(w, 26, 26);
    let (j1, j2) = (bits(w, 13, 13), bits(w, 11, 11));
    match op1 {
        0b000 | 0b010 => {
            if op & 0b0111000 != 0b0111000 {
                // B<cond> (T3): SignExtend(S:J2:J1:imm6:imm11:'0')
                let imm = (s << 20) | (j2 << 19) | (j1 << 18) | (bits(w, 21, 16) << 12) | (bits(w, 10, 0) << 1);
                let imm = ((imm << 11) as i32 >> 11) as u32;
                return Decoded::new(branch::BRANCH, w).imm(imm).cond(bits(w, 25, 22));
            }
            if op1 == 0b010 {
                // UDF.W (permanently undefined) and everything else here.
                return undef32(w);
            }
            match op {
                0b0111000 | 0b0111001 if !bit(w, 5) => Decoded::new(op!(misc::msr), w)
                    .op(bits(w, 20, 20))
                    .op2(bits(w, 11, 8))
                    .rm(bits(w, 19, 16)),
                0b0111010 => {
                    if bits(w, 10, 8) == 0 {
                        match bits(w, 7, 0) {
                            2 => Decoded::new(op!(misc::wfe), w),
                            3 => Decoded::new(op!(misc::wfi), w),
                            4 => Decoded::new(op!(misc::sev), w),
                            _ => Decoded::new(misc::NOP, w),
                        }
                    } else {
                        Decoded::new(op!(misc::cps), w)
                            .op2(bits(w, 10, 9) | (bits(w, 8, 8) << 2))
                            .imm(bits(w, 7, 5))
                            .op(bits(w, 4, 0))
                    }
                }
                0b0111011 => match bits(w, 7, 4) {
                    0b0010 => Decoded::new(loadstore::CLEAR_EXCLUSIVE, w),
                    0b0100 | 0b0101 => Decoded::new(misc::NOP, w),
                    0b0110 => Decoded::new(op!(misc::isb), w),
                    _ => undef32(w),
                },
                0b0111100 => Decoded::new(branch::BX, w).rm(bits(w, 19, 16)),
                0b0111101 => {
                    // SUBS PC, LR, #imm8: exception return.
                    let d = Decoded::new(op!(misc::undefined), w).rn(14).rd(15).imm(bits(w, 7, 0));
                    dataproc::to_pc(opcode::SUB, true, form::IMM, d)
                }
                0b0111110 | 0b0111111 if !bit(w, 5) => {
                    Decoded::new(op!(misc::mrs), w).rd(bits(w, 11, 8)).op(bits(w, 20, 20))
                }
                0b1111111 => Decoded::new(op!(misc::smc), w),
                _ => undef32(w),
            }
        }
        _ => {
            let i1 = 1 ^ j1 ^ s;
            let i2 = 1 ^ j2 ^ s;
            let imm = (s << 24) | (i1 << 23) | (i2 << 22) | (bits(w, 25, 16) << 12) | (bits(w, 10, 0) << 1);
            let imm = ((imm << 7) as i32 >> 7) as u32;
            match op1 {
                0b001 | 0b011 => Decoded::new(branch::BRANCH, w).imm(imm),
                0b101 | 0b111 => Decoded::new(branch::BRANCH, w).imm(imm).op(1),
                _ if bit(w, 0) => undef32(w),
                _ => {
                    let _ = f;
                    Decoded::new(op!(branch::blx_imm), w).imm(imm)
                }
            }
        }
    }
}

/// A6.3.5: load/store multiple, SRS and RFE.
fn load_store_multiple(w: u32) -> Decoded {
    let (rn, load, wb) = (bits(w, 19, 16), bit(w, 20), bit(w, 21));
    let list = bits(w, 15, 0);
    match bits(w, 24, 23) {
        0b01 | 0b10 => {
            let dir = if bits(w, 24, 23) == 0b01 {
                block::INCREMENT
            } else {
                block::BEFORE
            };
            let flags = dir | if wb { block::WRITEBACK } else { 0 };
            let ops = if load { loadstore::LDM } else { loadstore::stm_ops(list) };
            Decoded::new(ops, w).rn(rn).imm(list).op2(u32::from(flags))
        }
        pu => {
            // SRS/RFE: op 00 = decrement before (DB), 11 = increment after (IA).
            let flags = if pu == 0b00 { 0b010 } else { 0b001 } | if wb { 0b100 } else { 0 };
            if load {
                Decoded::new(op!(misc::rfe), w).rn(rn).op2(flags)
            } else {
                Decoded::new(op!(misc::srs), w).op(bits(w, 4, 0)).op2(flags)
            }
        }
    }
}

/// A6.3.6: load/store dual, exclusive, and table branch.
fn load_store_dual_exclusive_table(w: u32) -> Decoded {
    let (rn, rt, rt2) = (bits(w, 19, 16), bits(w, 15, 12), bits(w, 11, 8));
    let (op1, op2, op3) = (bits(w, 24, 23), bits(w, 21, 20), bits(w, 7, 4));
    let imm8x4 = bits(w, 7, 0) * 4;
    match (op1, op2) {
        (0b00, 0b00) => Decoded::new(loadstore::STORE_EXCLUSIVE, w)
            .rd(rt2)
            .rm(rt)
            .rn(rn)
            .imm(imm8x4)
            .op(4),
        (0b00, 0b01) => Decoded::new(loadstore::LOAD_EXCLUSIVE, w)
            .rd(rt)
            .rn(rn)
            .imm(imm8x4)
            .op(4),
        (0b01, 0b00) => {
            let size = match op3 {
                0b0100 => 1,
                0b0101 => 2,
                0b0111 => 8,
                _ => return undef32(w),
            };
            Decoded::new(loadstore::STORE_EXCLUSIVE, w)
                .rd(bits(w, 3, 0))
                .rm(rt)
                .rs(rt2)
                .rn(rn)
                .op(size)
        }
        (0b01, 0b01) => match op3 {
            0b0000 | 0b0001 => Decoded::new(op!(thumb::table_branch), w)
                .rn(rn)
                .rm(bits(w, 3, 0))
                .op(op3),
            0b0100 => Decoded::new(loadstore::LOAD_EXCLUSIVE, w).rd(rt).rn(rn).op(1),
            0b0101 => Decoded::new(loadstore::LOAD_EXCLUSIVE, w).rd(rt).rn(rn).op(2),
            0b0111 => Decoded::new(loadstore::LOAD_EXCLUSIVE, w).rd(rt).rs(rt2).rn(rn).op(8),
            _ => undef32(w),
        },
        _ => {
            // LDRD/STRD (immediate): P = bit 24, U = bit 23, W = bit 21.
            let m = match (bit(w, 24), bit(w, 21)) {
                (true, false) => mode::OFFSET,
                (true, true) => mode::PRE,
                (false, true) => mode::POST,
                (false, false) => return undef32(w),
            };
            let k = if bit(w, 20) { kind::LDRD } else { kind::STRD };
            let imm = if bit(w, 23) { imm8x4 } else { imm8x4.wrapping_neg() };
            Decoded::new(SINGLE_HANDLERS[k as usize][m as usize][0], w)
                .rd(rt)
                .rs(rt2)
                .rn(rn)
                .imm(imm)
        }
    }
}

/// A6.3.10 / A6.3.7–A6.3.9: the addressing forms shared by 32-bit single loads and stores.
/// Returns `None` for an undefined form.
fn single32(w: u32, k: u8) -> Option<Decoded> {
    let (rn, rt) = (bits(w, 19, 16), bits(w, 15, 12));
    let handler = |m: u8, register: bool| SINGLE_HANDLERS[k as usize][m as usize][usize::from(register)];
    if rn == 15 {
        // Literal: [Align(PC, 4) ± imm12] (loads only).
        let imm = bits(w, 11, 0);
        let imm = if bit(w, 23) { imm } else { imm.wrapping_neg() };
        return Some(Decoded::new(handler(mode::OFFSET, false), w).rd(rt).rn(15).imm(imm));
    }
    if bit(w, 23) {
        return Some(
            Decoded::new(handler(mode::OFFSET, false), w)
                .rd(rt)
                .rn(rn)
                .imm(bits(w, 11, 0)),
        );
    }
    let imm8 = bits(w, 7, 0);
    if bits(w, 11, 6) == 0 {
        return Some(
            Decoded::new(handler(mode::OFFSET, true), w)
                .rd(rt)
                .rn(rn)
                .rm(bits(w, 3, 0))
                .op(u32::from(shift::LSL))
                .imm(bits(w, 5, 4))
                .op2(1),
        );
    }
    match bits(w, 11, 8) {
        0b1100 => Some(
            Decoded::new(handler(mode::OFFSET, false), w)
                .rd(rt)
                .rn(rn)
                .imm(imm8.wrapping_neg()),
        ),
        0b1110 => Some(
            Decoded::new(handler(mode::OFFSET_USER, false), w)
                .rd(rt)
                .rn(rn)
                .imm(imm8),
        ),
        puw if puw & 0b1001 == 0b1001 => {
            let m = if puw & 0b0100 != 0 { mode::PRE } else { mode::POST };
            let imm = if puw & 0b0010 != 0 { imm8 } else { imm8.wrapping_neg() };
            Some(Decoded::new(handler(m, false), w).rd(rt).rn(rn).imm(imm))
        }
        _ => None,
    }
}

/// A6.3.10: store single data item.
fn store_single(w: u32) -> Decoded {
    let k = match bits(w, 22, 21) {
        0b00 => kind::STRB,
        0b01 => kind::STRH,
        0b10 => kind::STR,
        _ => return undef32(w),
    };
    if bit(w, 24) || bits(w, 19, 16) == 15 {
        return undef32(w);
    }
    single32(w, k).unwrap_or_else(|| undef32(w))
}

/// A6.3.7–A6.3.9: loads (word, halfword, byte, signed) and the preload hints.
fn load_single(w: u32) -> Decoded {
    let signed = bit(w, 24);
    let size = bits(w, 22, 21);
    let rt = bits(w, 15, 12);
    let k = match (size, signed) {
        (0b00, false) => kind::LDRB,
        (0b00, true) => kind::LDRSB,
        (0b01, false) => kind::LDRH,
        (0b01, true) => kind::LDRSH,
        (0b10, false) => kind::LDR,
        _ => return undef32(w),
    };
    // Byte and halfword loads into PC are the preload hints (PLD, PLDW, PLI) or unallocated
    // hints: all NOPs here, except the unprivileged form, which is undefined.
    if rt == 15 && size != 0b10 {
        let unprivileged = !bit(w, 23) && bits(w, 19, 16) != 15 && bits(w, 11, 8) == 0b1110;
        return if unprivileged {
            undef32(w)
        } else {
            Decoded::new(misc::NOP, w)
        };
    }
    single32(w, k).unwrap_or_else(|| undef32(w))
}

/// A6.3.12: data processing (register): register-controlled shifts, extends, parallel
/// arithmetic and the miscellaneous operations.
fn data_processing_register(w: u32) -> Decoded {
    let op1 = bits(w, 23, 20);
    let op2 = bits(w, 7, 4);
    let (rn, rd, rm) = (bits(w, 19, 16), bits(w, 11, 8), bits(w, 3, 0));
    if op1 & 0b1000 == 0 && op2 == 0 {
        // LSL/LSR/ASR/ROR (register): MOV{S} Rd, Rn, <shift> Rm
        let s = bit(w, 20);
        let handler = dp_ops(opcode::MOV, s, form::REG_SHIFT, 0);
        return Decoded::new(handler, w).rd(rd).rm(rn).rs(rm).op(bits(w, 22, 21));
    }
    if op1 & 0b1000 == 0 && op2 & 0b1000 != 0 {
        let (signed, size) = match op1 {
            0b0000 => (1, 1),
            0b0001 => (0, 1),
            0b0010 => (1, 2),
            0b0011 => (0, 2),
            0b0100 => (1, 0),
            0b0101 => (0, 0),
            _ => return undef32(w),
        };
        return Decoded::new(media::EXTEND, w)
            .rd(rd)
            .rn(rn)
            .rm(rm)
            .op(signed)
            .op2(size)
            .imm(bits(w, 5, 4) * 8);
    }
    if op1 & 0b1000 != 0 && op2 & 0b1000 == 0 {
        let op = match bits(w, 22, 20) {
            0b000 => 4, // ADD8
            0b001 => 0, // ADD16
            0b010 => 1, // ASX
            0b100 => 7, // SUB8
            0b101 => 3, // SUB16
            0b110 => 2, // SAX
            _ => return undef32(w),
        };
        let prefix = match op2 {
            0b0000 => 0,
            0b0001 => 1,
            0b0010 => 2,
            0b0100 => 3,
            0b0101 => 4,
            0b0110 => 5,
            _ => return undef32(w),
        };
        return Decoded::new(media::PARALLEL, w).rd(rd).rn(rn).rm(rm).op(prefix).op2(op);
    }
    match (op1, op2) {
        (0b1000, 0b1000..=0b1011) => {
            let op = match op2 {
                0b1000 => 0, // QADD
                0b1001 => 2, // QDADD
                0b1010 => 1, // QSUB
                _ => 3,      // QDSUB
            };
            Decoded::new(op!(multiply::qaddsub), w).rd(rd).rn(rn).rm(rm).op(op)
        }
        (0b1001, 0b1000) => Decoded::new(media::REVERSE, w).rd(rd).rm(rm).op(0),
        (0b1001, 0b1001) => Decoded::new(media::REVERSE, w).rd(rd).rm(rm).op(1),
        (0b1001, 0b1010) => Decoded::new(media::REVERSE, w).rd(rd).rm(rm).op(3),
        (0b1001, 0b1011) => Decoded::new(media::REVERSE, w).rd(rd).rm(rm).op(2),
        (0b1010, 0b1000) => Decoded::new(
            op!(nosync(crate::thread::reads::RN | crate::thread::reads::RM) media::sel),
            w,
        )
        .rd(rd)
        .rn(rn)
        .rm(rm),
        (0b1011, 0b1000) => Decoded::new(media::REVERSE, w).rd(rd).rm(rm).op(4),
        _ => undef32(w),
    }
}

/// A6.3.16: multiply, multiply-accumulate and absolute difference.
fn multiply32(w: u32) -> Decoded {
    let (rn, ra, rd, rm) = (bits(w, 19, 16), bits(w, 15, 12), bits(w, 11, 8), bits(w, 3, 0));
    let op2 = bits(w, 5, 4);
    let xy = bits(w, 5, 5) | (bits(w, 4, 4) << 1);
    let no_acc = if ra == 15 { 2 } else { 0 };
    match (bits(w, 22, 20), op2) {
        (0b000, 0b00) => {
            let op = if ra == 15 { 0 } else { 1 };
            Decoded::new(multiply::MUL, w).rd(rd).rn(rn).rm(rm).rs(ra).op(op)
        }
        (0b000, 0b01) => Decoded::new(multiply::MUL, w).rd(rd).rn(rn).rm(rm).rs(ra).op(2),
        (0b001, _) => {
            let op = if ra == 15 { 3 } else { 0 };
            Decoded::new(op!(multiply::mul_half), w)
                .rd(rd)
                .rn(rn)
                .rm(rm)
                .rs(ra)
                .op(op)
                .op2(xy)
        }
        (0b010, 0b00 | 0b01) => Decoded::new(op!(multiply::mul_dual), w)
            .rd(rd)
            .rn(rn)
            .rm(rm)
            .rs(ra)
            .op(0)
            .op2(bits(w, 4, 4) | no_acc),
        (0b011, 0b00 | 0b01) => {
            let smulw = if ra == 15 { 4 } else { 0 };
            Decoded::new(op!(multiply::mul_half), w)
                .rd(rd)
                .rn(rn)
                .rm(rm)
                .rs(ra)
                .op(1)
                .op2((bits(w, 4, 4) << 1) | smulw)
        }
        (0b100, 0b00 | 0b01) => Decoded::new(op!(multiply::mul_dual), w)
            .rd(rd)
            .rn(rn)
            .rm(rm)
            .rs(ra)
            .op(1)
            .op2(bits(w, 4, 4) | no_acc),
        (0b101, 0b00 | 0b01) => {
            let op = if ra == 15 { 2 } else { 0 };
            Decoded::new(op!(multiply::mul_msw), w)
                .rd(rd)
                .rn(rn)
                .rm(rm)
                .rs(ra)
                .op(op)
                .op2(bits(w, 4, 4))
        }
        (0b110, 0b00 | 0b01) => Decoded::new(op!(multiply::mul_msw), w)
            .rd(rd)
            .rn(rn)
            .rm(rm)
            .rs(ra)
            .op(1)
            .op2(bits(w, 4, 4)),
        (0b111, 0b00) => Decoded::new(op!(media::usad8), w).rd(rd).rn(rn).rm(rm).rs(ra),
        _ => undef32(w),
    }
}

/// A6.3.17: long multiply, long multiply-accumulate and divide.
fn long_multiply(w: u32, f: &Features) -> Decoded {
    let (rn, lo, hi, rm) = (bits(w, 19, 16), bits(w, 15, 12), bits(w, 11, 8), bits(w, 3, 0));
    let long = |op| Decoded::new(multiply::MUL_LONG, w).rd(lo).rs(hi).rn(rn).rm(rm).op(op);
    match (bits(w, 22, 20), bits(w, 7, 4)) {
        (0b000, 0b0000) => long(2),
        (0b001, 0b1111) if f.divide => Decoded::new(op!(multiply::divide), w).rd(hi).rn(rn).rm(rm).op(0),
        (0b010, 0b0000) => long(0),
        (0b011, 0b1111) if f.divide => Decoded::new(op!(multiply::divide), w).rd(hi).rn(rn).rm(rm).op(1),
        (0b100, 0b0000) => long(3),
        (0b100, op2 @ 0b1000..=0b1011) => {
            let xy = ((op2 >> 1) & 1) | ((op2 & 1) << 1);
            Decoded::new(op!(multiply::mul_half), w)
                .rd(lo)
                .rs(hi)
                .rn(rn)
                .rm(rm)
                .op(2)
                .op2(xy)
        }
        (0b100, 0b1100 | 0b1101) => Decoded::new(op!(multiply::mul_dual), w)
            .rd(lo)
            .rs(hi)
            .rn(rn)
            .rm(rm)
            .op(2)
            .op2(bits(w, 4, 4)),
        (0b101, 0b1100 | 0b1101) => Decoded::new(op!(multiply::mul_dual), w)
            .rd(lo)
            .rs(hi)
            .rn(rn)
            .rm(rm)
            .op(3)
            .op2(bits(w, 4, 4)),
        (0b110, 0b0000) => long(1),
        (0b110, 0b0110) => long(4),
        _ => undef32(w),
    }
}

/// A6.3.18: coprocessor instructions. In T32 they have the ARM encodings with the condition
/// field replaced by 0b1110 (and 0b1111 for the "2" forms, which no coprocessor here has).
fn coprocessor(w: u32, f: &Features) -> Decoded {
    if bits(w, 31, 28) != 0b1110 || bits(w, 25, 24) == 0b11 {
        return undef32(w);
    }
    super::arm::decode_arm(w, f)
}
