//! VFP decoding: coprocessors 10 and 11 (ARM ARM A7.5 data processing, A7.6 extension
//! register loads and stores, A7.8 transfers between core and extension registers).
//!
//! The same words appear in ARM state (with a condition field) and in Thumb state (with 0b1110
//! in its place), so the Thumb decoder hands its coprocessor instructions here too.

use super::Features;
use crate::exec::misc;
use crate::exec::vfp::{self, binop};
use crate::insn::{Decoded, bit, bits};
use crate::thread::{Ops, op};

fn undef(w: u32) -> Decoded {
    Decoded::new(op!(misc::undefined), w)
}

/// Register number of an S register (`Vx:x`) or a D register (`x:Vx`).
fn reg(double: bool, four: u32, one: u32) -> u32 {
    if double { (one << 4) | four } else { (four << 1) | one }
}

/// Decode an ARM-state VFP instruction (bits 11:9 = 0b101).
pub fn decode_vfp_arm(w: u32, f: &Features) -> Decoded {
    let op1 = bits(w, 27, 24);
    match op1 {
        0b1100 | 0b1101 if bits(w, 27, 21) == 0b1100010 => two_register_transfer(w),
        0b1100 | 0b1101 => load_store(w),
        0b1110 if bit(w, 4) => single_register_transfer(w, f),
        0b1110 => data_processing(w, f),
        _ => undef(w),
    }
}

/// A7.5: VFP data-processing instructions.
fn data_processing(w: u32, f: &Features) -> Decoded {
    let double = bit(w, 8);
    let vd = reg(double, bits(w, 15, 12), bits(w, 22, 22));
    let vn = reg(double, bits(w, 19, 16), bits(w, 7, 7));
    let vm = reg(double, bits(w, 3, 0), bits(w, 5, 5));
    let opc1 = (bits(w, 23, 23) << 2) | bits(w, 21, 20);
    let op6 = bit(w, 6);
    let bin = |op: u8| {
        let h: &'static Ops = match (double, op) {
            (false, binop::ADD) => op!(vfp::binary::<false, { binop::ADD }>),
            (false, binop::SUB) => op!(vfp::binary::<false, { binop::SUB }>),
            (false, binop::MUL) => op!(vfp::binary::<false, { binop::MUL }>),
            (false, binop::DIV) => op!(vfp::binary::<false, { binop::DIV }>),
            (false, binop::NMUL) => op!(vfp::binary::<false, { binop::NMUL }>),
            (false, binop::MLA) => op!(vfp::binary::<false, { binop::MLA }>),
            (false, binop::MLS) => op!(vfp::binary::<false, { binop::MLS }>),
            (false, binop::NMLA) => op!(vfp::binary::<false, { binop::NMLA }>),
            (false, binop::NMLS) => op!(vfp::binary::<false, { binop::NMLS }>),
            (false, binop::FMA) => op!(vfp::binary::<false, { binop::FMA }>),
            (false, binop::FMS) => op!(vfp::binary::<false, { binop::FMS }>),
            (false, binop::FNMA) => op!(vfp::binary::<false, { binop::FNMA }>),
            (false, _) => op!(vfp::binary::<false, { binop::FNMS }>),
            (true, binop::ADD) => op!(vfp::binary::<true, { binop::ADD }>),
            (true, binop::SUB) => op!(vfp::binary::<true, { binop::SUB }>),
            (true, binop::MUL) => op!(vfp::binary::<true, { binop::MUL }>),
            (true, binop::DIV) => op!(vfp::binary::<true, { binop::DIV }>),
            (true, binop::NMUL) => op!(vfp::binary::<true, { binop::NMUL }>),
            (true, binop::MLA) => op!(vfp::binary::<true, { binop::MLA }>),
            (true, binop::MLS) => op!(vfp::binary::<true, { binop::MLS }>),
            (true, binop::NMLA) => op!(vfp::binary::<true, { binop::NMLA }>),
            (true, binop::NMLS) => op!(vfp::binary::<true, { binop::NMLS }>),
            (true, binop::FMA) => op!(vfp::binary::<true, { binop::FMA }>),
            (true, binop::FMS) => op!(vfp::binary::<true, { binop::FMS }>),
            (true, binop::FNMA) => op!(vfp::binary::<true, { binop::FNMA }>),
            (true, _) => op!(vfp::binary::<true, { binop::FNMS }>),
        };
        Decoded::new(h, w).rd(vd).rn(vn).rm(vm)
    };
    match opc1 {
        0b000 => bin(if op6 { binop::MLS } else { binop::MLA }),
        0b001 => bin(if op6 { binop::NMLA } else { binop::NMLS }),
        0b010 => bin(if op6 { binop::NMUL } else { binop::MUL }),
        0b011 => bin(if op6 { binop::SUB } else { binop::ADD }),
        0b100 if !op6 => bin(binop::DIV),
        0b101 if f.fused_multiply_add => bin(if op6 { binop::FNMA } else { binop::FNMS }),
        0b110 if f.fused_multiply_add => bin(if op6 { binop::FMS } else { binop::FMA }),
        0b111 => other_data_processing(w, double, vd, vm),
        _ => undef(w),
    }
}

/// VFPExpandImm: the 8-bit immediate of VMOV as a single, or the top word of a double.
fn vfp_expand_imm(imm8: u32, double: bool) -> u32 {
    let sign = (imm8 >> 7) & 1;
    let b6 = (imm8 >> 6) & 1;
    let low6 = imm8 & 0x3f;
    if double {
        // sign : NOT(b) : bbbbbbbb : cdefgh : zeros(48)
        let exp = ((b6 ^ 1) << 10) | if b6 != 0 { 0xff << 2 } else { 0 };
        (sign << 31) | (exp << 20) | (low6 << 16)
    } else {
        // sign : NOT(b) : bbbbb : cdefgh : zeros(19)
        let exp = ((b6 ^ 1) << 7) | if b6 != 0 { 0x1f << 2 } else { 0 };
        (sign << 31) | (exp << 23) | (low6 << 19)
    }
}

/// A7.5, "other VFP data-processing instructions" (opc1 = 1x11).
fn other_data_processing(w: u32, double: bool, vd: u32, vm: u32) -> Decoded {
    let opc2 = bits(w, 19, 16);
    let opc3 = bits(w, 7, 6);
    let pick = |single: &'static Ops, dbl: &'static Ops| if double { dbl } else { single };
    if opc3 & 1 == 0 {
        let imm = vfp_expand_imm((bits(w, 19, 16) << 4) | bits(w, 3, 0), double);
        return Decoded::new(
            pick(op!(vfp::mov_immediate::<false>), op!(vfp::mov_immediate::<true>)),
            w,
        )
        .rd(vd)
        .imm(imm);
    }
    let unary = pick(op!(vfp::unary::<false>), op!(vfp::unary::<true>));
    let convert = pick(op!(vfp::convert::<false>), op!(vfp::convert::<true>));
    let s_reg = |four: u32, one: u32| reg(false, four, one);
    match (opc2, opc3) {
        (0b0000, 0b01) => Decoded::new(unary, w).rd(vd).rm(vm).op(0),
        (0b0000, 0b11) => Decoded::new(unary, w).rd(vd).rm(vm).op(1),
        (0b0001, 0b01) => Decoded::new(unary, w).rd(vd).rm(vm).op(2),
        (0b0001, 0b11) => Decoded::new(unary, w).rd(vd).rm(vm).op(3),
        (0b0010 | 0b0011, _) if !double => {
            // VCVTB/VCVTT between half and single precision; bit 16: to half.
            let op = if bit(w, 16) { 7 } else { 6 };
            Decoded::new(op!(vfp::convert::<false>), w)
                .rd(vd)
                .rm(vm)
                .op(op)
                .imm(bits(w, 7, 7))
        }
        (0b0100 | 0b0101, _) => {
            let flags = bits(w, 7, 7) | if opc2 == 0b0101 { 2 } else { 0 };
            Decoded::new(pick(op!(vfp::compare::<false>), op!(vfp::compare::<true>)), w)
                .rd(vd)
                .rm(vm)
                .op2(flags)
        }
        (0b0111, 0b11) => {
            // VCVT between double and single: the destination has the other size.
            if double {
                let d = s_reg(bits(w, 15, 12), bits(w, 22, 22));
                Decoded::new(op!(vfp::convert::<true>), w).rd(d).rm(vm).op(1)
            } else {
                let d = reg(true, bits(w, 15, 12), bits(w, 22, 22));
                Decoded::new(op!(vfp::convert::<false>), w).rd(d).rm(vm).op(0)
            }
        }
        (0b1000, _) => {
            // VCVT integer → float: the source is always an S register.
            let m = s_reg(bits(w, 3, 0), bits(w, 5, 5));
            Decoded::new(convert, w).rd(vd).rm(m).op(2).op2(bits(w, 7, 7))
        }
        (0b1010 | 0b1011 | 0b1110 | 0b1111, _) => {
            // VCVT between floating point and fixed point, in place.
            let to_fixed = bit(w, 18);
            let signed = !bit(w, 16);
            let size16 = !bit(w, 7);
            let size = if size16 { 16 } else { 32 };
            let imm = (bits(w, 3, 0) << 1) | bits(w, 5, 5);
            let frac_bits = size - imm;
            if frac_bits > size || (size16 && imm > 16) {
                return undef(w);
            }
            Decoded::new(convert, w)
                .rd(vd)
                .op(if to_fixed { 5 } else { 4 })
                .op2(u32::from(signed) | if size16 { 2 } else { 0 })
                .imm(frac_bits)
        }
        (0b1100 | 0b1101, _) => {
            // VCVT{R} float → integer: the destination is always an S register.
            let d = s_reg(bits(w, 15, 12), bits(w, 22, 22));
            let signed = bit(w, 16);
            let round_to_zero = bit(w, 7);
            Decoded::new(convert, w)
                .rd(d)
                .rm(vm)
                .op(3)
                .op2(u32::from(signed) | if round_to_zero { 2 } else { 0 })
        }
        _ => undef(w),
    }
}

/// A7.6: VLDR, VSTR, VLDM, VSTM, VPUSH, VPOP.
fn load_store(w: u32) -> Decoded {
    let double = bit(w, 8);
    let vd = reg(double, bits(w, 15, 12), bits(w, 22, 22));
    let (p, u, wb, load) = (bit(w, 24), bit(w, 23), bit(w, 21), bit(w, 20));
    let rn = bits(w, 19, 16);
    let imm8 = bits(w, 7, 0);
    if p && !wb {
        let offset = imm8 * 4;
        let h: &'static Ops = if double {
            op!(vfp::load_store::<true>)
        } else {
            op!(vfp::load_store::<false>)
        };
        return Decoded::new(h, w)
            .rd(vd)
            .rn(rn)
            .imm(if u { offset } else { offset.wrapping_neg() })
            .op(u32::from(!load));
    }
    // VLDM/VSTM: increment after (P=0, U=1) or decrement before with writeback (P=1, U=0).
    if p == u || (p && !wb) {
        return undef(w);
    }
    let count = if double { imm8 / 2 } else { imm8 };
    if count == 0 || vd + count > 32 {
        return undef(w);
    }
    // An odd word count with doubles is FLDMX/FSTMX: one extra (unused) word, which only
    // moves the written-back base.
    let extra_word = double && imm8 % 2 == 1;
    let op = u32::from(!load) | if p { 2 } else { 0 } | if wb { 4 } else { 0 } | if extra_word { 8 } else { 0 };
    let h: &'static Ops = if double {
        op!(vfp::load_store_multiple::<true>)
    } else {
        op!(vfp::load_store_multiple::<false>)
    };
    Decoded::new(h, w).rd(vd).rn(rn).imm(count).op(op)
}

/// A7.8: 8, 16 and 32-bit transfers between core and extension registers.
fn single_register_transfer(w: u32, f: &Features) -> Decoded {
    let l = bit(w, 20);
    let c = bit(w, 8);
    let a = bits(w, 23, 21);
    let rt = bits(w, 15, 12);
    match (c, a) {
        (false, 0b000) => {
            let sn = reg(false, bits(w, 19, 16), bits(w, 7, 7));
            Decoded::new(op!(vfp::mov_core_single), w)
                .rd(rt)
                .rn(sn)
                .op(u32::from(l))
        }
        (false, 0b111) => {
            let h: &'static Ops = if l { op!(vfp::vmrs) } else { op!(vfp::vmsr) };
            Decoded::new(h, w).rd(rt).rn(bits(w, 19, 16))
        }
        (true, 0b000 | 0b001) if bits(w, 6, 5) == 0 && (l || !bit(w, 23)) => {
            // VMOV between a core register and a 32-bit scalar.
            let dn = reg(true, bits(w, 19, 16), bits(w, 7, 7));
            Decoded::new(op!(vfp::mov_core_scalar), w)
                .rd(rt)
                .rn(dn)
                .imm(bits(w, 21, 21))
                .op(u32::from(l))
        }
        // 8/16-bit scalars and VDUP are Advanced SIMD.
        _ => super::neon::decode_a32(w, f).unwrap_or_else(|| undef(w)),
    }
}

/// A7.9: 64-bit transfers between core and extension registers.
fn two_register_transfer(w: u32) -> Decoded {
    let double = bit(w, 8);
    let m = reg(double, bits(w, 3, 0), bits(w, 5, 5));
    if bits(w, 7, 6) != 0 || !bit(w, 4) || (!double && m == 31) {
        return undef(w);
    }
    let h: &'static Ops = if double {
        op!(vfp::mov_two_core::<true>)
    } else {
        op!(vfp::mov_two_core::<false>)
    };
    Decoded::new(h, w)
        .rd(bits(w, 15, 12))
        .rs(bits(w, 19, 16))
        .rm(m)
        .op(bits(w, 20, 20))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn vmov_immediates_expand_like_the_arm_arm() {
        assert_eq!(vfp_expand_imm(0x70, false), 0x3f80_0000, "1.0f");
        assert_eq!(vfp_expand_imm(0x00, false), 0x4000_0000, "2.0f");
        assert_eq!(vfp_expand_imm(0xf0, false), 0xbf80_0000, "-1.0f");
        assert_eq!(vfp_expand_imm(0x70, true), 0x3ff0_0000, "1.0 (top word)");
        assert_eq!(vfp_expand_imm(0x60, true), 0x3fe0_0000, "0.5 (top word)");
    }
}
