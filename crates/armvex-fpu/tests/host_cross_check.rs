//! A second, independent opinion for round-to-nearest without FZ: the host's IEEE-754
//! arithmetic (Rust's `f32`/`f64` operators, `mul_add`, `sqrt` and `as` casts are all
//! correctly rounded to nearest). Millions of random operands, concentrated on the
//! exponents where things happen, must give the same result bits except for NaN payloads,
//! where the host follows its own rules (only NaN-ness is compared).
//!
//! This checks the arithmetic core only; flags, FZ, DN, the other rounding modes and NaN
//! selection are covered by the QEMU oracle table.

use armvex_fpu::*;

/// xorshift64*: small, deterministic.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }

    /// Random single: exponent and significand patterns biased towards edge cases.
    fn f32(&mut self) -> u32 {
        let r = self.next();
        let sign = (r as u32) & 0x8000_0000;
        let exp = match (r >> 32) % 8 {
            0 => 0,
            1 => 1 + (r >> 40) as u32 % 3,
            2 => 254 - (r >> 40) as u32 % 3,
            3 => 255,
            _ => 127 - 40 + (r >> 40) as u32 % 80,
        };
        let frac = match (r >> 48) % 4 {
            0 => 0x7f_ffff >> ((r >> 52) % 24),
            1 => (self.next() as u32) & 0x7f_ffff & !(0xff_ffff >> ((r >> 52) % 24)),
            _ => self.next() as u32 & 0x7f_ffff,
        };
        sign | exp << 23 | frac
    }

    fn f64(&mut self) -> u64 {
        let r = self.next();
        let sign = r & (1 << 63);
        let exp = match (r >> 32) % 8 {
            0 => 0,
            1 => 1 + (r >> 40) % 3,
            2 => 2046 - (r >> 40) % 3,
            3 => 2047,
            _ => 1023 - 60 + (r >> 40) % 120,
        };
        let mask = (1u64 << 52) - 1;
        let frac = match (r >> 48) % 4 {
            0 => mask >> ((r >> 52) % 53),
            1 => self.next() & mask & !(mask >> ((r >> 52) % 53)),
            _ => self.next() & mask,
        };
        sign | exp << 52 | frac
    }
}

const N: usize = 400_000;

fn same32(ours: u32, host: f32) -> bool {
    if host.is_nan() {
        f32::from_bits(ours).is_nan()
    } else {
        ours == host.to_bits()
    }
}

fn same64(ours: u64, host: f64) -> bool {
    if host.is_nan() {
        f64::from_bits(ours).is_nan()
    } else {
        ours == host.to_bits()
    }
}

#[test]
fn single_precision_matches_host_round_to_nearest() {
    let mut rng = Rng(0x1234_5678_9abc_def1);
    let mut ctx = FpContext::default();
    for _ in 0..N {
        let (a, b, c) = (rng.f32(), rng.f32(), rng.f32());
        let (x, y, z) = (f32::from_bits(a), f32::from_bits(b), f32::from_bits(c));
        assert!(same32(add32(&mut ctx, a, b), x + y), "add32({a:08x}, {b:08x})");
        assert!(same32(sub32(&mut ctx, a, b), x - y), "sub32({a:08x}, {b:08x})");
        assert!(same32(mul32(&mut ctx, a, b), x * y), "mul32({a:08x}, {b:08x})");
        assert!(same32(div32(&mut ctx, a, b), x / y), "div32({a:08x}, {b:08x})");
        assert!(same32(sqrt32(&mut ctx, a), x.sqrt()), "sqrt32({a:08x})");
        assert!(
            same32(vfma32(&mut ctx, c, a, b), x.mul_add(y, z)),
            "vfma32({c:08x}, {a:08x}, {b:08x})"
        );
        assert!(same64(f32_to_f64(&mut ctx, a), x as f64), "f32_to_f64({a:08x})");
        assert_eq!(f32_to_i32(&mut ctx, a, true), x as i32 as u32, "f32_to_i32({a:08x})");
        assert_eq!(f32_to_u32(&mut ctx, a, true), x as u32, "f32_to_u32({a:08x})");
        assert_eq!(
            i32_to_f32(&mut ctx, b),
            (b as i32 as f32).to_bits(),
            "i32_to_f32({b:08x})"
        );
        assert_eq!(u32_to_f32(&mut ctx, b), (b as f32).to_bits(), "u32_to_f32({b:08x})");
        assert_eq!(
            f32_to_i32(&mut ctx, a, false),
            if x.is_nan() {
                0
            } else {
                x.round_ties_even() as i32 as u32
            },
            "f32_to_i32 RN ({a:08x})"
        );
    }
}

#[test]
fn double_precision_matches_host_round_to_nearest() {
    let mut rng = Rng(0x0fed_cba9_8765_4321);
    let mut ctx = FpContext::default();
    for _ in 0..N {
        let (a, b, c) = (rng.f64(), rng.f64(), rng.f64());
        let (x, y, z) = (f64::from_bits(a), f64::from_bits(b), f64::from_bits(c));
        assert!(same64(add64(&mut ctx, a, b), x + y), "add64({a:016x}, {b:016x})");
        assert!(same64(sub64(&mut ctx, a, b), x - y), "sub64({a:016x}, {b:016x})");
        assert!(same64(mul64(&mut ctx, a, b), x * y), "mul64({a:016x}, {b:016x})");
        assert!(same64(div64(&mut ctx, a, b), x / y), "div64({a:016x}, {b:016x})");
        assert!(same64(sqrt64(&mut ctx, a), x.sqrt()), "sqrt64({a:016x})");
        assert!(
            same64(vfma64(&mut ctx, c, a, b), x.mul_add(y, z)),
            "vfma64({c:016x}, {a:016x}, {b:016x})"
        );
        assert!(same32(f64_to_f32(&mut ctx, a), x as f32), "f64_to_f32({a:016x})");
        assert_eq!(f64_to_i32(&mut ctx, a, true), x as i32 as u32, "f64_to_i32({a:016x})");
        assert_eq!(f64_to_u32(&mut ctx, a, true), x as u32, "f64_to_u32({a:016x})");
        let v = b as u32;
        assert_eq!(i32_to_f64(&mut ctx, v), (v as i32 as f64).to_bits());
        assert_eq!(u32_to_f64(&mut ctx, v), (v as f64).to_bits());
    }
}

/// Nothing panics, whatever the operands and controls (including out-of-range fixed-point
/// shifts), and operations only ever add flags.
#[test]
fn total_on_arbitrary_inputs() {
    let mut rng = Rng(0x5555_aaaa_3333_cccc);
    for i in 0..N / 4 {
        let fpscr = (rng.next() as u32) & 0x079f_ffff;
        let mut ctx = FpContext::from_fpscr(fpscr);
        let before = ctx.flags;
        let (a, b, c) = (rng.f32(), rng.f32(), rng.f32());
        let (d, e, f) = (rng.f64(), rng.f64(), rng.f64());
        let fb = match i % 4 {
            0 => (rng.next() % 40) as u32,
            1 => u32::MAX - (rng.next() % 3) as u32,
            _ => (rng.next() % 33) as u32,
        };
        let (signed, size16, flag) = (i & 1 != 0, i & 2 != 0, i & 4 != 0);
        let _ = vnmla32(&mut ctx, a, b, c) ^ vfnma32(&mut ctx, a, b, c) ^ vfnms32(&mut ctx, a, b, c);
        let _ = vnmla64(&mut ctx, d, e, f) ^ vfnma64(&mut ctx, d, e, f) ^ vfnms64(&mut ctx, d, e, f);
        let _ = compare32(&mut ctx, a, b, flag) ^ compare64(&mut ctx, d, e, flag);
        let _ = f32_to_fixed(&mut ctx, a, fb, signed, size16) ^ fixed_to_f32(&mut ctx, b, fb, signed, size16);
        let _ = f64_to_fixed(&mut ctx, d, fb, signed, size16) ^ fixed_to_f64(&mut ctx, e, fb, signed, size16);
        let _ = f32_to_f16(&mut ctx, a, flag) as u32 ^ f16_to_f32(&mut ctx, b as u16, flag);
        let _ = f64_to_i32(&mut ctx, d, flag) ^ f64_to_u32(&mut ctx, e, !flag);
        assert_eq!(ctx.flags & before, before);
        assert_eq!(ctx.flags & !flags::ALL, 0, "only flag bits are set");
        assert_eq!(ctx.rounding, FpContext::from_fpscr(fpscr).rounding);
    }
}
