//! The Advanced SIMD encoding space: which words are NEON instructions, which are
//! UNDEFINED, and which group each valid one belongs to.
//!
//! ARM ARM (DDI 0406C) chapter A7, "Advanced SIMD and Floating-point Instruction Encoding":
//!
//! | A32 | T32 | what | ARM ARM |
//! |---|---|---|---|
//! | `1111 001U ....` | `111U 1111 ....` | data processing | A7.4 |
//! | `1111 0100 ...0` | `1111 1001 ...0` | element and structure loads/stores | A7.7 |
//! | `cond 1110 .... .... 1011 ...1` | `1110 1110 .... .... 1011 ...1` | 8/16/32-bit transfers between core and scalar, VDUP (core) | A7.8 |
//!
//! The T32 encodings are the A32 ones with a few prefix bits moved ([`t32_to_a32`]), so
//! everything below decodes A32 words. Decoding only classifies and checks: the result is
//! a [`NeonOp`] holding the group and the (A32) word itself, 8 bytes, and the executor
//! reads the operand fields from the word again. That keeps the decoded form small and
//! `Copy` (what the CPU stores in its predecoded instruction cache) and the field
//! extraction, a few shifts and masks, next to the code that uses it.
//!
//! Every UNDEFINED condition of the ARM ARM for the ARMv7 Cortex-A9/A15 (Advanced SIMD
//! version 1 with VFPv4-era fused multiply-add, no ARMv8 additions) is checked here: a
//! Q-register operand with an odd D number, reserved `size` values, reserved `align` or
//! `index_align` encodings, and the opcodes that only later architectures define (SHA, AES,
//! VRINT, VCVTA, VMAXNM, VQRDMLAH, half-precision arithmetic and PMULL.64), which are
//! UNDEFINED on these cores exactly as QEMU 7.2 treats them for `-cpu cortex-a15`.
//!
//! UNPREDICTABLE encodings (such as a VLD that runs past D31, or `Rn == PC`) decode to an
//! operation: what it does is then whatever the executor does (deterministic, no panic).

/// The instruction groups of A7.4, A7.7 and A7.8.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[repr(u8)]
pub enum Group {
    /// Three registers of the same length (A7.4.1).
    ThreeSame,
    /// Two registers and a shift amount (A7.4.4).
    ShiftImm,
    /// One register and a modified immediate value (A7.4.6).
    ModImm,
    /// Three registers of different lengths (A7.4.2).
    ThreeDiff,
    /// Two registers and a scalar (A7.4.3).
    Scalar,
    /// VEXT.
    Ext,
    /// VTBL, VTBX.
    Tbl,
    /// VDUP (scalar).
    DupScalar,
    /// Two registers, miscellaneous (A7.4.5).
    TwoMisc,
    /// VLDn/VSTn (multiple n-element structures).
    LsMultiple,
    /// VLDn/VSTn (single n-element structure to one lane).
    LsSingle,
    /// VLDn (single n-element structure to all lanes).
    LsAllLanes,
    /// VMOV (ARM core register to scalar).
    CoreToScalar,
    /// VMOV (scalar to ARM core register).
    ScalarToCore,
    /// VDUP (ARM core register).
    DupCore,
}

impl Group {
    /// Every group, in declaration order: `Group::ALL[g as usize] == g` (per-group counts
    /// are arrays indexed by the discriminant).
    pub const ALL: [Group; 15] = [
        Group::ThreeSame,
        Group::ShiftImm,
        Group::ModImm,
        Group::ThreeDiff,
        Group::Scalar,
        Group::Ext,
        Group::Tbl,
        Group::DupScalar,
        Group::TwoMisc,
        Group::LsMultiple,
        Group::LsSingle,
        Group::LsAllLanes,
        Group::CoreToScalar,
        Group::ScalarToCore,
        Group::DupCore,
    ];
}

/// A decoded Advanced SIMD instruction: its group and its A32 encoding.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct NeonOp {
    pub group: Group,
    /// The instruction in its A32 form (T32 encodings are converted by [`t32_to_a32`]).
    pub word: u32,
}

/// The optional parts of Advanced SIMD a core has (MVFR1 fields).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Features {
    /// MVFR1.SIMDFMAC: VFMA/VFMS (the VFPv4 fused multiply-add) in Advanced SIMD. When
    /// false those encodings are UNDEFINED.
    pub fused_multiply_add: bool,
}

impl Features {
    /// The Cortex-A9 as QEMU 7.2 models it. A real Cortex-A9 (VFPv3) has no VFMA/VFMS, and
    /// QEMU's MVFR1 for it (0x01111111) says SIMDFMAC = 0, yet QEMU 7.2 executes Advanced
    /// SIMD VFMA/VFMS under `-cpu cortex-a9` (measured: the differential test's A9 runs).
    /// QEMU is the reference, so they are allowed here too; an OS does not use them, since
    /// MVFR1 does not advertise them.
    pub const CORTEX_A9: Features = Features {
        fused_multiply_add: true,
    };
    /// The Cortex-A15 (QEMU `-cpu cortex-a15`: MVFR1 = 0x11111111).
    pub const CORTEX_A15: Features = Features {
        fused_multiply_add: true,
    };
}

/// What the decoder says about a word.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Decoded {
    /// Not in the Advanced SIMD space: the CPU decodes it as usual.
    NotNeon,
    /// An Advanced SIMD encoding that is UNDEFINED on the Cortex-A9/A15.
    Undefined,
    /// A valid instruction.
    Op(NeonOp),
}

/// The A32 form of a 32-bit T32 Advanced SIMD encoding (first halfword in bits 31:16), or
/// `None` when the word is not in one of the three T32 Advanced SIMD spaces.
///
/// * data processing: `111U 1111` becomes `1111 001U` (bit 28 moves to bit 24);
/// * loads/stores: `1111 1001` becomes `1111 0100`;
/// * transfers: `1110 1110` is the A32 form with condition AL.
pub fn t32_to_a32(word: u32) -> Option<u32> {
    match word >> 24 {
        0xEF | 0xFF => Some((word & 0x00FF_FFFF) | 0xF200_0000 | ((word >> 4) & 0x0100_0000)),
        0xF9 if word & (1 << 20) == 0 => Some((word & 0x00FF_FFFF) | 0xF400_0000),
        0xEE if (word >> 8) & 0xF == 0xB && word & (1 << 4) != 0 => Some(word),
        _ => None,
    }
}

/// The T32 form of an A32 Advanced SIMD word (the inverse of [`t32_to_a32`]).
pub fn a32_to_t32(word: u32) -> u32 {
    match word >> 24 {
        0xF2 | 0xF3 => 0xEF00_0000 | ((word & 0x0100_0000) << 4) | (word & 0x00FF_FFFF),
        0xF4 => 0xF900_0000 | (word & 0x00FF_FFFF),
        _ => word,
    }
}

/// Decode an A32 word. A conditional transfer (A7.8) decodes whatever its condition field
/// holds: the CPU checks the condition.
pub fn decode_a32(word: u32, features: Features) -> Decoded {
    if word >> 25 == 0b111_1001 {
        return decode_dp(word, features);
    }
    if word >> 24 == 0xF4 {
        return if word & (1 << 20) == 0 {
            decode_ls(word)
        } else {
            Decoded::NotNeon
        };
    }
    if word >> 28 != 0xF && (word >> 24) & 0xF == 0xE && (word >> 8) & 0xF == 0xB && word & 0x10 != 0 {
        return decode_transfer(word);
    }
    Decoded::NotNeon
}

/// Decode a 32-bit T32 word (first halfword in bits 31:16).
pub fn decode_t32(word: u32, features: Features) -> Decoded {
    match t32_to_a32(word) {
        Some(a32) => decode_a32(a32, features),
        None => Decoded::NotNeon,
    }
}

// ------------------------------------------------------------------ fields

/// D:Vd, the destination D register number.
#[inline]
pub(crate) fn vd(w: u32) -> usize {
    (((w >> 18) & 0x10) | ((w >> 12) & 0xF)) as usize
}
/// N:Vn.
#[inline]
pub(crate) fn vn(w: u32) -> usize {
    (((w >> 3) & 0x10) | ((w >> 16) & 0xF)) as usize
}
/// M:Vm.
#[inline]
pub(crate) fn vm(w: u32) -> usize {
    (((w >> 1) & 0x10) | (w & 0xF)) as usize
}
#[inline]
pub(crate) fn bit(w: u32, b: u32) -> bool {
    (w >> b) & 1 != 0
}
#[inline]
pub(crate) fn field(w: u32, lo: u32, width: u32) -> u32 {
    (w >> lo) & ((1 << width) - 1)
}

fn op(group: Group, word: u32) -> Decoded {
    Decoded::Op(NeonOp { group, word })
}

const UNDEF: Decoded = Decoded::Undefined;

// ------------------------------------------------------------------ data processing

fn decode_dp(w: u32, features: Features) -> Decoded {
    let u = bit(w, 24);
    if !bit(w, 23) {
        if field(w, 8, 4) == 12 && !features.fused_multiply_add {
            return UNDEF;
        }
        return three_same(w);
    }
    if bit(w, 4) {
        if !bit(w, 7) && field(w, 19, 3) == 0 {
            return mod_imm(w);
        }
        return shift_imm(w);
    }
    if field(w, 20, 2) != 3 {
        return if bit(w, 6) { scalar(w) } else { three_diff(w) };
    }
    if !u {
        // VEXT: a byte index past the end of a D register is UNDEFINED.
        let q = bit(w, 6);
        if (q && (vd(w) | vn(w) | vm(w)) & 1 != 0) || (!q && bit(w, 11)) {
            return UNDEF;
        }
        return op(Group::Ext, w);
    }
    if !bit(w, 11) {
        return two_misc(w);
    }
    if field(w, 10, 2) == 2 {
        return op(Group::Tbl, w);
    }
    if field(w, 7, 5) == 0b11000 {
        // VDUP (scalar): imm4 = xxx1 (8-bit), xx10 (16-bit), x100 (32-bit); x000 UNDEFINED.
        if field(w, 16, 3) == 0 || (bit(w, 6) && vd(w) & 1 != 0) {
            return UNDEF;
        }
        return op(Group::DupScalar, w);
    }
    UNDEF
}

/// Q = 1 and one of the given register numbers odd: UNDEFINED.
fn q_misaligned(w: u32, regs: &[usize]) -> bool {
    bit(w, 6) && regs.iter().any(|r| r & 1 != 0)
}

fn three_same(w: u32) -> Decoded {
    let (a, b, u, size, q) = (field(w, 8, 4), bit(w, 4), bit(w, 24), field(w, 20, 2), bit(w, 6));
    if q_misaligned(w, &[vd(w), vn(w), vm(w)]) {
        return UNDEF;
    }
    let float_undef = bit(w, 20); // size<0> = 1: half precision (ARMv8.2)
    let ok = match (a, b) {
        // VQADD, VQSUB, VSHL, VQSHL, VRSHL, VQRSHL, logic: every size
        (0, true) | (2, true) | (4, _) | (5, _) | (1, true) => true,
        (0, false) | (1, false) | (2, false) | (3, _) | (6, _) | (7, _) => size != 3,
        (8, false) => true,
        (8, true) => size != 3,
        (9, false) => size != 3,
        (9, true) => {
            if u {
                size == 0
            } else {
                size != 3
            }
        }
        (10, _) => size != 3 && !q,
        (11, false) => size == 1 || size == 2,
        (11, true) => !u && size != 3 && !q,
        (12, true) => !u && !float_undef,
        (12, false) => false,
        (13, false) => !(float_undef || (u && !bit(w, 21) && q)), // VPADD.F32: D only
        (13, true) => !(float_undef || (u && bit(w, 21))),
        (14, false) => !float_undef && (u || !bit(w, 21)),
        (14, true) => !float_undef && u,
        (15, false) => !(float_undef || (u && q)), // VPMAX/VPMIN.F32: D only
        (15, true) => !float_undef && !u,
        _ => false,
    };
    if ok { op(Group::ThreeSame, w) } else { UNDEF }
}

fn shift_imm(w: u32) -> Decoded {
    let (a, u, l, q) = (field(w, 8, 4), bit(w, 24), bit(w, 7), bit(w, 6));
    let wide = q_misaligned(w, &[vd(w), vm(w)]);
    let ok = match a {
        0..=3 => !wide,
        4 => u && !wide,
        5 | 7 => !wide,
        6 => u && !wide,
        // narrowing: Q selects the rounding form; Vm is a Q register
        8 | 9 => !l && vm(w) & 1 == 0,
        // VSHLL/VMOVL: Vd is a Q register
        10 => !l && !q && vd(w) & 1 == 0,
        // VCVT fixed point (32-bit only: bit 21 set)
        14 | 15 => !l && bit(w, 21) && !wide,
        _ => false,
    };
    if ok { op(Group::ShiftImm, w) } else { UNDEF }
}

fn mod_imm(w: u32) -> Decoded {
    let (cmode, opb) = (field(w, 8, 4), bit(w, 5));
    if q_misaligned(w, &[vd(w)]) || (cmode == 15 && opb) {
        return UNDEF;
    }
    op(Group::ModImm, w)
}

fn three_diff(w: u32) -> Decoded {
    let (a, u, size) = (field(w, 8, 4), bit(w, 24), field(w, 20, 2));
    let (d, n, m) = (vd(w), vn(w), vm(w));
    let ok = match a {
        0 | 2 | 5 | 7 | 8 | 10 | 12 => d & 1 == 0,
        1 | 3 => d & 1 == 0 && n & 1 == 0,
        4 | 6 => n & 1 == 0 && m & 1 == 0,
        9 | 11 | 13 => !u && size != 0 && d & 1 == 0,
        14 => !u && size == 0 && d & 1 == 0,
        _ => false,
    };
    if ok { op(Group::ThreeDiff, w) } else { UNDEF }
}

fn scalar(w: u32) -> Decoded {
    let (a, u, size) = (field(w, 8, 4), bit(w, 24), field(w, 20, 2));
    if size == 0 {
        return UNDEF;
    }
    let (d, n) = (vd(w), vn(w));
    let q_bad = u && (d | n) & 1 != 0;
    let ok = match a {
        0 | 4 | 8 | 12 | 13 => !q_bad,
        1 | 5 | 9 => size == 2 && !q_bad,
        2 | 6 | 10 => d & 1 == 0,
        3 | 7 | 11 => !u && d & 1 == 0,
        _ => false,
    };
    if ok { op(Group::Scalar, w) } else { UNDEF }
}

fn two_misc(w: u32) -> Decoded {
    let (size, opc1, opc2, q) = (field(w, 18, 2), field(w, 16, 2), field(w, 7, 4), bit(w, 6));
    let wide = q_misaligned(w, &[vd(w), vm(w)]);
    let (d, m) = (vd(w), vm(w));
    let ok = match (opc1, opc2) {
        (0, 0) => size != 3 && !wide,
        (0, 1) => size < 2 && !wide,
        (0, 2) => size == 0 && !wide,
        (0, 4) | (0, 5) | (0, 8) | (0, 9) | (0, 12) | (0, 13) | (0, 14) | (0, 15) => size != 3 && !wide,
        (0, 10) | (0, 11) => size == 0 && !wide,
        (1, 0..=4) | (1, 6) | (1, 7) => size != 3 && !wide,
        (1, 8..=12) | (1, 14) | (1, 15) => size == 2 && !wide,
        (2, 0) => size == 0 && !wide,
        (2, 1) => size != 3 && !wide,
        (2, 2) | (2, 3) => size != 3 && !wide && (q || size != 2),
        (2, 4) | (2, 5) => size != 3 && m & 1 == 0,
        (2, 6) => !q && size != 3 && d & 1 == 0,
        (2, 12) => !q && size == 1 && m & 1 == 0,
        (2, 14) => !q && size == 1 && d & 1 == 0,
        (3, 8..=15) => size == 2 && !wide,
        _ => false,
    };
    if ok { op(Group::TwoMisc, w) } else { UNDEF }
}

// ------------------------------------------------------------------ loads and stores

fn decode_ls(w: u32) -> Decoded {
    let load = bit(w, 21);
    if !bit(w, 23) {
        let (ty, size, align) = (field(w, 8, 4), field(w, 6, 2), field(w, 4, 2));
        let ok = match ty {
            0b0111 | 0b0110 => align & 2 == 0, // VLD1 one or three registers
            0b1010 => align != 3,              // VLD1 two registers
            0b0010 => true,                    // VLD1 four registers
            0b1000 | 0b1001 => size != 3 && align != 3,
            0b0011 => size != 3,
            0b0100 | 0b0101 => size != 3 && align & 2 == 0,
            0b0000 | 0b0001 => size != 3,
            _ => false,
        };
        return if ok { op(Group::LsMultiple, w) } else { UNDEF };
    }
    let size = field(w, 10, 2);
    let nm1 = field(w, 8, 2);
    if size == 3 {
        // to all lanes: loads only
        let (sz, a) = (field(w, 6, 2), bit(w, 4));
        let ok = load
            && match nm1 {
                0 => sz != 3 && !(sz == 0 && a),
                1 => sz != 3,
                2 => sz != 3 && !a,
                _ => sz != 3 || a, // VLD4.32 all lanes: size = 11 needs a = 1
            };
        return if ok { op(Group::LsAllLanes, w) } else { UNDEF };
    }
    let ia = field(w, 4, 4);
    let ok = match (nm1, size) {
        (0, 0) => ia & 1 == 0,
        (0, 1) => ia & 2 == 0,
        (0, 2) => ia & 4 == 0 && (ia & 3 == 0 || ia & 3 == 3),
        (1, 0) | (1, 1) => true,
        (1, 2) => ia & 2 == 0,
        (2, 0) | (2, 1) => ia & 1 == 0,
        (2, 2) => ia & 3 == 0,
        (3, 0) | (3, 1) => true,
        (3, 2) => ia & 3 != 3,
        _ => false,
    };
    if ok { op(Group::LsSingle, w) } else { UNDEF }
}

// ------------------------------------------------------------------ transfers

fn decode_transfer(w: u32) -> Decoded {
    let (opc1, opc2) = (field(w, 21, 2), field(w, 5, 2));
    if !bit(w, 20) {
        if bit(w, 23) {
            // VDUP (core): B:E = 11 UNDEFINED, bit 6 must be 0
            let be = (field(w, 22, 1) << 1) | field(w, 5, 1);
            let d = ((w >> 3) & 0x10) | ((w >> 16) & 0xF);
            if be == 3 || bit(w, 6) || (bit(w, 21) && d & 1 != 0) {
                return UNDEF;
            }
            return op(Group::DupCore, w);
        }
        if opc1 & 2 == 0 && opc2 == 2 {
            return UNDEF;
        }
        return op(Group::CoreToScalar, w);
    }
    let u = bit(w, 23);
    if opc1 & 2 == 0 && (opc2 == 2 || (opc2 == 0 && u)) {
        return UNDEF;
    }
    op(Group::ScalarToCore, w)
}

#[cfg(test)]
mod group_tests {
    use super::Group;

    #[test]
    fn all_lists_the_groups_in_discriminant_order() {
        for (i, g) in Group::ALL.iter().enumerate() {
            assert_eq!(*g as usize, i, "{g:?}");
        }
    }
}
