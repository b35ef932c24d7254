//! Lanes: the elements packed in a D register, and the saturation rules.
//!
//! A 64-bit D register holds 8, 4, 2 or 1 elements of 8, 16, 32 or 64 bits, element 0 in
//! the least significant bits (ARM ARM A2.6.2 "Advanced SIMD vectors", the `Elem[]`
//! pseudocode function). A Q register is two consecutive D registers, `Q<n>` = `D<2n+1>:D<2n>`,
//! so its elements continue from the low D register into the high one.
//!
//! Saturating arithmetic (A2.2.1 `SignedSatQ`/`UnsignedSatQ`) clamps a result that does not
//! fit the element to the nearest representable value and sets FPSCR.QC, a sticky flag
//! only cleared by writing FPSCR.

/// Bits of an element of `esize` bits (8, 16, 32 or 64).
#[inline]
pub(crate) fn mask(esize: u32) -> u64 {
    if esize >= 64 { u64::MAX } else { (1u64 << esize) - 1 }
}

/// Element `i` of `esize` bits of `v`, zero-extended.
#[inline]
pub(crate) fn elem(v: u64, i: u32, esize: u32) -> u64 {
    if esize == 64 {
        v
    } else {
        (v >> (i * esize)) & mask(esize)
    }
}

/// `v` with element `i` replaced by the low `esize` bits of `x`.
#[inline]
pub(crate) fn set_elem(v: u64, i: u32, esize: u32, x: u64) -> u64 {
    if esize == 64 {
        return x;
    }
    let m = mask(esize) << (i * esize);
    (v & !m) | ((x << (i * esize)) & m)
}

/// Sign-extend the low `esize` bits of `x`.
#[inline]
pub(crate) fn sext(x: u64, esize: u32) -> i64 {
    let s = 64 - esize;
    ((x << s) as i64) >> s
}

/// An element as a mathematical integer (signed or unsigned).
#[inline]
pub(crate) fn int(x: u64, esize: u32, signed: bool) -> i128 {
    if signed {
        sext(x, esize) as i128
    } else {
        (x & mask(esize)) as i128
    }
}

/// `SignedSatQ(v, esize)`: the result bits, and QC set when it saturated.
#[inline]
pub(crate) fn sat_s(v: i128, esize: u32, qc: &mut bool) -> u64 {
    let max = (1i128 << (esize - 1)) - 1;
    let min = -(1i128 << (esize - 1));
    if v > max {
        *qc = true;
        max as u64 & mask(esize)
    } else if v < min {
        *qc = true;
        min as u64 & mask(esize)
    } else {
        v as u64 & mask(esize)
    }
}

/// `UnsignedSatQ(v, esize)`.
#[inline]
pub(crate) fn sat_u(v: i128, esize: u32, qc: &mut bool) -> u64 {
    let max = (1i128 << esize) - 1;
    if v > max {
        *qc = true;
        max as u64
    } else if v < 0 {
        *qc = true;
        0
    } else {
        v as u64
    }
}

/// `SatQ(v, esize, unsigned)`.
#[inline]
pub(crate) fn sat(v: i128, esize: u32, signed: bool, qc: &mut bool) -> u64 {
    if signed {
        sat_s(v, esize, qc)
    } else {
        sat_u(v, esize, qc)
    }
}

/// Replicate the low `esize` bits of `x` into every element of a D register.
#[inline]
pub(crate) fn replicate(x: u64, esize: u32) -> u64 {
    let mut v = x & mask(esize);
    let mut w = esize;
    while w < 64 {
        v |= v << w;
        w *= 2;
    }
    v
}
