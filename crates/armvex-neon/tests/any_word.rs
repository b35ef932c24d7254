//! Any 32-bit word, A32 or T32, decodes without panicking, and any decoded instruction
//! executes without panicking from any state (UNPREDICTABLE encodings included), memory
//! faults included. Run in a debug build, this also checks for arithmetic overflow.

use armvex_neon::{Decoded, Features, NeonEnv, decode_a32, decode_t32, execute};

struct Env {
    regs: [u32; 16],
    mem: [u8; 256],
}

impl NeonEnv for Env {
    type Fault = u32;
    fn core_reg(&self, r: usize) -> u32 {
        self.regs[r]
    }
    fn set_core_reg(&mut self, r: usize, v: u32) {
        self.regs[r] = v;
    }
    fn read(&mut self, addr: u32, bytes: u32) -> Result<u64, u32> {
        let s = self
            .mem
            .get(addr as usize..addr as usize + bytes as usize)
            .ok_or(addr)?;
        Ok(s.iter().rev().fold(0, |a, &b| (a << 8) | b as u64))
    }
    fn write(&mut self, addr: u32, bytes: u32, v: u64) -> Result<(), u32> {
        let s = self
            .mem
            .get_mut(addr as usize..addr as usize + bytes as usize)
            .ok_or(addr)?;
        for (i, b) in s.iter_mut().enumerate() {
            *b = (v >> (8 * i)) as u8;
        }
        Ok(())
    }
}

fn xorshift(s: &mut u64) -> u64 {
    *s ^= *s << 13;
    *s ^= *s >> 7;
    *s ^= *s << 17;
    *s
}

#[test]
fn random_words_never_panic() {
    let mut seed = 0x9E37_79B9_7F4A_7C15u64;
    let mut d = [0u64; 32];
    let mut env = Env {
        regs: [0; 16],
        mem: [0; 256],
    };
    let mut fpscr = 0u32;
    let (mut ops, mut undefined) = (0, 0);
    for i in 0..400_000 {
        let r = xorshift(&mut seed);
        // aim at the Advanced SIMD spaces most of the time
        let low = r as u32 & 0x00FF_FFFF;
        let word = match i % 6 {
            0 => 0xF200_0000 | (r as u32 & 0x01FF_FFFF),
            1 => 0xF400_0000 | (low & !(1 << 20)),
            2 => 0xEE00_0B10 | (r as u32 & 0x00FF_F0EF),
            3 => 0xEF00_0000 | ((r as u32 & 1) << 28) | low,
            4 => 0xF900_0000 | low,
            _ => r as u32,
        };
        let features = if r >> 63 != 0 {
            Features::CORTEX_A9
        } else {
            Features::CORTEX_A15
        };
        let decoded = if i % 6 >= 3 {
            decode_t32(word, features)
        } else {
            decode_a32(word, features)
        };
        match decoded {
            Decoded::Op(op) => {
                ops += 1;
                for x in d.iter_mut().take(4) {
                    *x = xorshift(&mut seed);
                }
                d[(r >> 40) as usize & 31] = 0x7F80_0001_0000_0001; // NaN and denormal lanes
                for reg in env.regs.iter_mut() {
                    *reg = (xorshift(&mut seed) % 300) as u32;
                }
                let _ = execute(op, &mut d, &mut fpscr, &mut env);
            }
            Decoded::Undefined => undefined += 1,
            Decoded::NotNeon => {}
        }
    }
    assert!(
        ops > 100_000 && undefined > 50_000,
        "{ops} executed, {undefined} UNDEFINED"
    );
}
