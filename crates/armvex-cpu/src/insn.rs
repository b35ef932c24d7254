//! The predecoded form of an instruction.
//!
//! Decoding an ARM instruction (finding which of ~200 encodings it is and pulling out its
//! fields) costs far more than executing most of them, so armvex decodes each instruction once,
//! into an [`Insn`]: a pointer to the function that executes exactly that kind of instruction,
//! plus its operands already extracted. Executing is then one indirect call. Handlers are plain
//! `fn` pointers (not trait objects), often specialised with const generics, e.g. one function
//! per data-processing opcode and S bit.
//!
//! The meaning of the operand fields depends on the handler; each handler documents what it
//! expects. The usual convention: `rd` destination, `rn` first operand/base, `rm` second operand
//! or index, `rs` shift register or accumulator, `imm` an immediate, `op`/`op2` small extra fields.

use crate::cpu::Cpu;
use armvex_bus::Bus;

/// What an instruction handler tells the run loop.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[repr(u8)]
pub enum Flow {
    /// Continue with the next instruction in sequence.
    Next,
    /// A plain branch: only R15 (and maybe LR) changed, in the same instruction set. The run
    /// loop may continue the block at `regs[15]` if it is in the same page.
    Jump,
    /// Control flow changed (branch, exception entry or return, CPSR write): `regs[15]` holds
    /// the address of the next instruction. The block ends.
    Branch,
    /// The CPU must leave its run loop ([`crate::Exit`] says why); `regs[15]` holds the address
    /// of the next instruction.
    Stop,
}

/// An instruction handler.
pub type Handler = fn(&mut Cpu, &mut Bus, &Insn) -> Flow;

/// The condition code meaning "always".
pub const COND_ALWAYS: u8 = 14;

/// One predecoded instruction (24 bytes).
#[derive(Clone, Copy)]
pub struct Insn {
    pub exec: Handler,
    pub imm: u32,
    /// The instruction's encoding (for traces and the rare handlers that re-read it). For a
    /// 32-bit Thumb instruction: first halfword in bits 31:16.
    pub raw: u32,
    pub rd: u8,
    pub rn: u8,
    pub rm: u8,
    pub rs: u8,
    /// Condition code (ARM ARM A8.3); [`COND_ALWAYS`] when unconditional.
    pub cond: u8,
    pub op: u8,
    pub op2: u8,
    /// Length in bytes (4 in ARM state, 2 or 4 in Thumb).
    pub len: u8,
}

impl std::fmt::Debug for Insn {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "Insn({:#010x} cond={} rd={} rn={} rm={} rs={} imm={:#x} op={} op2={})",
            self.raw, self.cond, self.rd, self.rn, self.rm, self.rs, self.imm, self.op, self.op2
        )
    }
}

impl Insn {
    /// An instruction executed by `exec`, with all operand fields zero.
    #[inline]
    pub fn new(exec: Handler, raw: u32) -> Insn {
        Insn {
            exec,
            imm: 0,
            raw,
            rd: 0,
            rn: 0,
            rm: 0,
            rs: 0,
            cond: COND_ALWAYS,
            op: 0,
            op2: 0,
            len: 4,
        }
    }

    pub fn rd(mut self, r: u32) -> Self {
        self.rd = r as u8;
        self
    }
    pub fn rn(mut self, r: u32) -> Self {
        self.rn = r as u8;
        self
    }
    pub fn rm(mut self, r: u32) -> Self {
        self.rm = r as u8;
        self
    }
    pub fn rs(mut self, r: u32) -> Self {
        self.rs = r as u8;
        self
    }
    pub fn imm(mut self, v: u32) -> Self {
        self.imm = v;
        self
    }
    pub fn op(mut self, v: u32) -> Self {
        self.op = v as u8;
        self
    }
    pub fn op2(mut self, v: u32) -> Self {
        self.op2 = v as u8;
        self
    }
    pub fn cond(mut self, c: u32) -> Self {
        self.cond = c as u8;
        self
    }
    pub fn len(mut self, l: u32) -> Self {
        self.len = l as u8;
        self
    }
}

/// Extract bits `hi..=lo` of `v`.
#[inline(always)]
pub const fn bits(v: u32, hi: u32, lo: u32) -> u32 {
    (v >> lo) & (((1u64 << (hi - lo + 1)) - 1) as u32)
}

/// Bit `n` of `v`.
#[inline(always)]
pub const fn bit(v: u32, n: u32) -> bool {
    (v >> n) & 1 != 0
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn insn_is_24_bytes() {
        assert_eq!(std::mem::size_of::<Insn>(), 24);
    }

    #[test]
    fn bit_fields() {
        assert_eq!(bits(0xe3a0_1005, 15, 12), 1);
        assert_eq!(bits(0xffff_ffff, 31, 0), 0xffff_ffff);
        assert!(bit(0x10, 4) && !bit(0x10, 3));
    }
}
