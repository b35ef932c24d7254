//! Named cases: encodings, UNDEFINED rules and results worked out from the ARM ARM
//! (DDI 0406C) by hand. The random comparison with QEMU is in `qemu_cases.rs`.

use armvex_neon::{Decoded, Features, Group, NeonEnv, NeonFault, decode_a32, decode_t32, execute, t32_to_a32};

const A15: Features = Features::CORTEX_A15;

struct Env {
    regs: [u32; 16],
    mem: [u8; 64],
}

impl NeonEnv for Env {
    type Fault = ();
    fn core_reg(&self, r: usize) -> u32 {
        self.regs[r]
    }
    fn set_core_reg(&mut self, r: usize, v: u32) {
        self.regs[r] = v;
    }
    fn read(&mut self, addr: u32, bytes: u32) -> Result<u64, ()> {
        let s = self.mem.get(addr as usize..(addr + bytes) as usize).ok_or(())?;
        Ok(s.iter().rev().fold(0, |a, &b| (a << 8) | b as u64))
    }
    fn write(&mut self, addr: u32, bytes: u32, v: u64) -> Result<(), ()> {
        let s = self.mem.get_mut(addr as usize..(addr + bytes) as usize).ok_or(())?;
        for (i, b) in s.iter_mut().enumerate() {
            *b = (v >> (8 * i)) as u8;
        }
        Ok(())
    }
}

fn run(word: u32, d: &mut [u64; 32], fpscr: &mut u32) {
    let Decoded::Op(op) = decode_a32(word, A15) else {
        panic!("{word:08x} does not decode")
    };
    let mut env = Env {
        regs: [0; 16],
        mem: [0; 64],
    };
    execute(op, d, fpscr, &mut env).unwrap();
}

#[test]
fn t32_prefixes_map_to_a32() {
    // vadd.i8 d0, d1, d2: A32 f2010802, T32 ef010802; vsub.i8: f3../ff..
    assert_eq!(t32_to_a32(0xEF01_0802), Some(0xF201_0802));
    assert_eq!(t32_to_a32(0xFF01_0802), Some(0xF301_0802));
    // vld1.8 {d0}, [r0]: A32 f420070f, T32 f920070f
    assert_eq!(t32_to_a32(0xF920_070F), Some(0xF420_070F));
    // 0xF9 with bit 20 set is LDRSB (immediate), not Advanced SIMD
    assert_eq!(decode_t32(0xF990_0000, A15), Decoded::NotNeon);
    assert_eq!(decode_a32(0xE081_0002, A15), Decoded::NotNeon); // add r0, r1, r2
}

#[test]
fn undefined_rules() {
    // vadd.i8 q0, q1, q3 is fine; q0 with Vn = d3 (odd) is UNDEFINED
    assert!(matches!(
        decode_a32(0xF202_0846, A15),
        Decoded::Op(NeonOp {
            group: Group::ThreeSame,
            ..
        })
    ));
    assert_eq!(decode_a32(0xF203_0846, A15), Decoded::Undefined);
    // vhadd with size = 11 is UNDEFINED, vqadd.s64 is not
    assert_eq!(decode_a32(0xF231_0002, A15), Decoded::Undefined);
    assert!(matches!(decode_a32(0xF231_0012, A15), Decoded::Op(_)));
    // vmovn.i16 d0, q1 needs an even Vm: with Vm = d3, UNDEFINED
    assert!(matches!(decode_a32(0xF3B2_0202, A15), Decoded::Op(_)));
    assert_eq!(decode_a32(0xF3B2_0203, A15), Decoded::Undefined);
    // vld1.8 {d0, d1}, [r0:256] (align = 11 with two registers) is UNDEFINED
    assert_eq!(decode_a32(0xF420_0A3F, A15), Decoded::Undefined);
}
use armvex_neon::NeonOp;

#[test]
fn vqadd_saturates_and_sets_qc() {
    // vqadd.s8 d0, d1, d2
    let mut d = [0u64; 32];
    d[1] = 0x7F80_0102_0304_0506;
    d[2] = 0x0180_0101_0101_0101;
    let mut fpscr = 0;
    run(0xF201_0012, &mut d, &mut fpscr);
    assert_eq!(d[0], 0x7F80_0203_0405_0607);
    assert_eq!(fpscr, 1 << 27);
}

#[test]
fn vrecpe_and_vrsqrte_estimates() {
    // vrecpe.f32 d0, d1 and vrsqrte.f32 d2, d1 of 2.0 and 4.0
    let mut d = [0u64; 32];
    d[1] = 0x4080_0000_4000_0000;
    let mut fpscr = 0;
    run(0xF3BB_0501, &mut d, &mut fpscr);
    assert_eq!(d[0], 0x3E7F_8000_3EFF_8000); // ~0.2495, ~0.499
    run(0xF3BB_2581, &mut d, &mut fpscr);
    assert_eq!(d[2], 0x3EFF_8000_3F34_8000); // ~0.499, ~0.705
    assert_eq!(fpscr, 0);
}

#[test]
fn vld1_alignment_fault_and_writeback() {
    // vld1.32 {d0}, [r1:64]!  (r1 = 4: misaligned for :64)
    let Decoded::Op(op) = decode_a32(0xF421_079D, A15) else {
        panic!()
    };
    let mut env = Env {
        regs: [0; 16],
        mem: [0; 64],
    };
    env.mem[8..16].copy_from_slice(&0x1122_3344_5566_7788u64.to_le_bytes());
    env.regs[1] = 4;
    let (mut d, mut fpscr) = ([0u64; 32], 0);
    assert_eq!(
        execute(op, &mut d, &mut fpscr, &mut env),
        Err(NeonFault::Alignment { addr: 4 })
    );
    assert_eq!(env.regs[1], 4, "no writeback after a fault");
    env.regs[1] = 8;
    execute(op, &mut d, &mut fpscr, &mut env).unwrap();
    assert_eq!(d[0], 0x1122_3344_5566_7788);
    assert_eq!(env.regs[1], 16);
}

#[test]
fn the_decoded_form_is_small() {
    // What the CPU keeps in its predecoded instruction: 8 bytes, Copy.
    assert_eq!(std::mem::size_of::<NeonOp>(), 8);
    assert!(std::mem::size_of::<Decoded>() <= 12);
}
