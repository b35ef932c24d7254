//! Arithmetic building blocks shared by the ARM and Thumb instruction handlers: the barrel
//! shifter (ARM ARM A8.4), addition with carry and overflow (A2.2.1), and saturation (A2.2.1
//! SignedSatQ/UnsignedSatQ).

/// Shift types of the barrel shifter. The immediate forms LSR #32, ASR #32 and RRX (encoded
/// with a zero amount) are resolved at decode time, so an immediate shift is always
/// `(type, 1..=32)` or `(Lsl, 0..=31)`.
pub mod shift {
    pub const LSL: u8 = 0;
    pub const LSR: u8 = 1;
    pub const ASR: u8 = 2;
    pub const ROR: u8 = 3;
    pub const RRX: u8 = 4;
}

/// DecodeImmShift (A8.4.1): the shift type and amount of an immediate-shift operand.
pub fn decode_imm_shift(ty: u32, imm5: u32) -> (u8, u32) {
    match (ty, imm5) {
        (0, n) => (shift::LSL, n),
        (1, 0) => (shift::LSR, 32),
        (2, 0) => (shift::ASR, 32),
        (3, 0) => (shift::RRX, 1),
        (t, n) => (t as u8, n),
    }
}

/// Shift_C with an immediate amount already decoded by [`decode_imm_shift`]: returns the result
/// and the carry out (0 or 1).
#[inline(always)]
pub fn shift_imm_c(v: u32, ty: u8, n: u32, carry_in: u32) -> (u32, u32) {
    match ty {
        shift::LSL => {
            if n == 0 {
                (v, carry_in)
            } else {
                (v << n, (v >> (32 - n)) & 1)
            }
        }
        shift::LSR => {
            if n == 32 {
                (0, v >> 31)
            } else {
                (v >> n, (v >> (n - 1)) & 1)
            }
        }
        shift::ASR => {
            if n == 32 {
                (((v as i32) >> 31) as u32, v >> 31)
            } else {
                (((v as i32) >> n) as u32, (v >> (n - 1)) & 1)
            }
        }
        shift::ROR => (v.rotate_right(n), (v >> (n - 1)) & 1),
        _ => ((carry_in << 31) | (v >> 1), v & 1),
    }
}

/// Shift without carry out, immediate amount (see [`shift_imm_c`]).
#[inline(always)]
pub fn shift_imm(v: u32, ty: u8, n: u32, carry_in: u32) -> u32 {
    match ty {
        shift::LSL => v << n,
        shift::LSR => {
            if n == 32 {
                0
            } else {
                v >> n
            }
        }
        shift::ASR => ((v as i32) >> n.min(31)) as u32,
        shift::ROR => v.rotate_right(n),
        _ => (carry_in << 31) | (v >> 1),
    }
}

/// Shift_C by a register amount (bottom byte of Rs): amounts of 32 and more follow A8.4.2.
#[inline(always)]
pub fn shift_reg_c(v: u32, ty: u8, amount: u32, carry_in: u32) -> (u32, u32) {
    let n = amount & 0xff;
    if n == 0 {
        return (v, carry_in);
    }
    match ty {
        shift::LSL => match n {
            1..=31 => (v << n, (v >> (32 - n)) & 1),
            32 => (0, v & 1),
            _ => (0, 0),
        },
        shift::LSR => match n {
            1..=31 => (v >> n, (v >> (n - 1)) & 1),
            32 => (0, v >> 31),
            _ => (0, 0),
        },
        shift::ASR => {
            if n < 32 {
                (((v as i32) >> n) as u32, (v >> (n - 1)) & 1)
            } else {
                (((v as i32) >> 31) as u32, v >> 31)
            }
        }
        _ => {
            let r = n & 31;
            if r == 0 {
                (v, v >> 31)
            } else {
                (v.rotate_right(r), (v >> (r - 1)) & 1)
            }
        }
    }
}

/// AddWithCarry (A2.2.1): result, carry out (0/1), overflow (in bit 31, as the lazy V flag).
#[inline(always)]
pub fn add_with_carry(a: u32, b: u32, carry: u32) -> (u32, u32, u32) {
    let wide = u64::from(a) + u64::from(b) + u64::from(carry);
    let r = wide as u32;
    (r, (wide >> 32) as u32, (a ^ r) & (b ^ r))
}

/// SignedSatQ: saturate `v` to an `n`-bit signed range (1 <= n <= 32); true if it saturated.
#[inline]
pub fn signed_sat(v: i64, n: u32) -> (u32, bool) {
    let max = (1i64 << (n - 1)) - 1;
    let min = -(1i64 << (n - 1));
    if v > max {
        (max as u32, true)
    } else if v < min {
        (min as u32, true)
    } else {
        (v as u32, false)
    }
}

/// UnsignedSatQ: saturate `v` to an `n`-bit unsigned range (0 <= n <= 31); true if it saturated.
#[inline]
pub fn unsigned_sat(v: i64, n: u32) -> (u32, bool) {
    let max = (1i64 << n) - 1;
    if v > max {
        (max as u32, true)
    } else if v < 0 {
        (0, true)
    } else {
        (v as u32, false)
    }
}

/// ARMExpandImm_C (A5.2.4): a rotated 8-bit immediate and whether it changes the carry
/// (`None`: carry unchanged, `Some(c)`: carry becomes bit 31 of the result).
pub fn arm_expand_imm_c(imm12: u32) -> (u32, Option<u32>) {
    let rot = (imm12 >> 8) * 2;
    let v = (imm12 & 0xff).rotate_right(rot);
    (v, (rot != 0).then_some(v >> 31))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn immediate_shifts_with_carry() {
        assert_eq!(shift_imm_c(0x8000_0001, shift::LSL, 1, 0), (2, 1));
        assert_eq!(shift_imm_c(0x8000_0001, shift::LSL, 0, 1), (0x8000_0001, 1));
        assert_eq!(shift_imm_c(0x8000_0001, shift::LSR, 32, 0), (0, 1));
        assert_eq!(shift_imm_c(0x8000_0000, shift::ASR, 32, 0), (0xffff_ffff, 1));
        assert_eq!(shift_imm_c(0x8000_0000, shift::ASR, 31, 0), (0xffff_ffff, 0));
        assert_eq!(shift_imm_c(0x0000_0003, shift::ROR, 1, 0), (0x8000_0001, 1));
        assert_eq!(shift_imm_c(0x0000_0003, shift::RRX, 1, 0), (1, 1));
        assert_eq!(shift_imm_c(0x0000_0002, shift::RRX, 1, 1), (0x8000_0001, 0));
        assert_eq!(decode_imm_shift(3, 0), (shift::RRX, 1));
        assert_eq!(decode_imm_shift(1, 0), (shift::LSR, 32));
    }

    #[test]
    fn register_shifts_beyond_31() {
        assert_eq!(shift_reg_c(0xffff_ffff, shift::LSL, 32, 0), (0, 1));
        assert_eq!(shift_reg_c(0xffff_ffff, shift::LSL, 33, 1), (0, 0));
        assert_eq!(shift_reg_c(0x8000_0000, shift::LSR, 32, 0), (0, 1));
        assert_eq!(shift_reg_c(0x8000_0000, shift::ASR, 200, 0), (0xffff_ffff, 1));
        assert_eq!(shift_reg_c(0x8000_0001, shift::ROR, 32, 0), (0x8000_0001, 1));
        assert_eq!(shift_reg_c(0x8000_0001, shift::ROR, 0x100, 0), (0x8000_0001, 0));
        assert_eq!(shift_reg_c(0x8000_0001, shift::ROR, 33, 0), (0xc000_0000, 1));
    }

    #[test]
    fn adder_flags() {
        assert_eq!(add_with_carry(0x7fff_ffff, 1, 0).2 >> 31, 1);
        let flags = |(r, c, v): (u32, u32, u32)| (r, c, v >> 31);
        assert_eq!(flags(add_with_carry(0xffff_ffff, 1, 0)), (0, 1, 0));
        // 5 - 3 = 5 + !3 + 1: carry set (no borrow)
        assert_eq!(flags(add_with_carry(5, !3, 1)), (2, 1, 0));
        assert_eq!(flags(add_with_carry(0xffff_ffff, 0xffff_ffff, 1)), (0xffff_ffff, 1, 0));
        assert_eq!(flags(add_with_carry(0x8000_0000, !1, 1)), (0x7fff_ffff, 1, 1));
    }

    #[test]
    fn saturation() {
        assert_eq!(signed_sat(200, 8), (127, true));
        assert_eq!(signed_sat(-200, 8), (0xffff_ff80, true));
        assert_eq!(signed_sat(-5, 32), (0xffff_fffb, false));
        assert_eq!(unsigned_sat(-1, 8), (0, true));
        assert_eq!(unsigned_sat(256, 8), (255, true));
        assert_eq!(unsigned_sat(7, 0), (0, true));
    }

    #[test]
    fn expand_imm() {
        assert_eq!(arm_expand_imm_c(0x0ff), (0xff, None));
        assert_eq!(arm_expand_imm_c(0x4ff), (0xff00_0000, Some(1)));
        assert_eq!(arm_expand_imm_c(0x102), (0x8000_0000, Some(1)));
    }
}
