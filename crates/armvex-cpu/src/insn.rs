//! The predecoded form of an instruction.
//!
//! Decoding an ARM instruction (finding which of ~200 encodings it is and pulling out its
//! fields) costs far more than executing most of them, so armvex decodes each instruction once,
//! into an [`Insn`]: a pointer to the function that executes exactly that kind of instruction,
//! plus its operands already extracted. Handlers are plain `fn` pointers (not trait objects),
//! specialised with const generics, e.g. one function per data-processing opcode, S bit and
//! operand form.
//!
//! An instruction's behaviour is written once, as a *step* ([`Step`](crate::cpu::Step): do the instruction,
//! report how control flow goes on). The handler an [`Insn`] points at is a *threaded* wrapper
//! of that step ([`Handler`], see [`crate::thread`]): it runs the step and then jumps straight
//! to the next instruction's handler.
//!
//! The meaning of the operand fields depends on the handler; each handler documents what it
//! expects. The usual convention: `rd` destination, `rn` first operand/base, `rm` second operand
//! or index, `rs` shift register or accumulator, `imm` an immediate, `op`/`op2` small extra fields.
//!
//! Decoders build a [`Decoded`] (the handler family, the operands and the encoding); the code
//! cache turns it into an [`Insn`] for its slot of the page, choosing the wrapper that fits
//! (see [`Decoded::finish`]).

use crate::thread::Ops;
// The slot types themselves live with the `Cpu` (a handler is a function of the `Cpu`, and
// the `Cpu` remembers where its chain of slots stopped): see [`crate::cpu`].
pub(crate) use crate::cpu::{COND_ALWAYS, ChainEnd, Flow, Handler, Insn, SPARE, Spare};

/// Where [`Insn::cond_run`] keeps the condition code, and the mask of its run length.
const COND_SHIFT: u32 = 12;
const RUN_MASK: u16 = (1 << COND_SHIFT) - 1;

impl Insn {
    /// How many slots the next instruction is ahead (1, or 2 for a 32-bit Thumb instruction).
    #[inline(always)]
    pub fn slots(&self) -> usize {
        usize::from(self.next_bytes) / std::mem::size_of::<Insn>()
    }

    /// An instruction run by `exec`, with all operand fields zero, at page offset 0.
    pub fn with_handler(exec: Handler) -> Insn {
        Insn {
            exec,
            then: exec,
            imm: 0,
            rd: 0,
            rn: 0,
            rm: 0,
            rs: 0,
            op: 0,
            op2: 0,
            cond_run: (COND_ALWAYS as u16) << COND_SHIFT,
            pc: 0,
            skip: 1,
            next_bytes: std::mem::size_of::<Insn>() as u8,
        }
    }

    /// The condition code ([`COND_ALWAYS`] when unconditional).
    #[inline(always)]
    pub fn cond(&self) -> u8 {
        (self.cond_run >> COND_SHIFT) as u8
    }

    /// Set the condition code.
    pub fn set_cond(&mut self, cond: u8) {
        self.cond_run = (self.cond_run & RUN_MASK) | (u16::from(cond) << COND_SHIFT);
    }

    /// The instructions of the slot's run from this one on, this one included (see
    /// [`crate::thread`]): 0 for a sentinel.
    #[inline(always)]
    pub fn run(&self) -> u64 {
        u64::from(self.cond_run & RUN_MASK)
    }

    /// Set the length of the slot's run.
    pub fn set_run(&mut self, run: usize) {
        debug_assert!(run <= usize::from(RUN_MASK));
        self.cond_run = (self.cond_run & !RUN_MASK) | run as u16;
    }

    /// The instruction's length in bytes: 4 in ARM state, 2 or 4 in Thumb state (one or two
    /// slots).
    #[inline(always)]
    pub fn len(&self, thumb: bool) -> u32 {
        if thumb {
            u32::from(self.next_bytes) / (std::mem::size_of::<Insn>() as u32 / 2)
        } else {
            4
        }
    }

    /// Operand fields for a [`Step`](crate::cpu::Step) called directly (unit tests): no handler of its own.
    pub fn operands() -> Insn {
        Insn::with_handler(crate::thread::end_of_page)
    }

    #[cfg(test)]
    pub fn rd(mut self, r: u32) -> Self {
        self.rd = r as u8;
        self
    }
    #[cfg(test)]
    pub fn rn(mut self, r: u32) -> Self {
        self.rn = r as u8;
        self
    }
    #[cfg(test)]
    pub fn rm(mut self, r: u32) -> Self {
        self.rm = r as u8;
        self
    }
    #[cfg(test)]
    pub fn rs(mut self, r: u32) -> Self {
        self.rs = r as u8;
        self
    }
    #[cfg(test)]
    pub fn imm(mut self, v: u32) -> Self {
        self.imm = v;
        self
    }
    #[cfg(test)]
    pub fn op(mut self, v: u32) -> Self {
        self.op = v as u8;
        self
    }
    #[cfg(test)]
    pub fn op2(mut self, v: u32) -> Self {
        self.op2 = v as u8;
        self
    }
}

/// A decoded instruction before it has a slot: the handler family, the operands, the
/// encoding. Built by the decoders with the same builder methods as [`Insn`].
#[derive(Clone, Copy)]
pub struct Decoded {
    /// The handler family.
    pub ops: &'static Ops,
    /// The operands (its `exec`, `pc` and `slots` are set by [`Decoded::finish`]).
    pub insn: Insn,
    /// The instruction's encoding (for traces). For a 32-bit Thumb instruction: first
    /// halfword in bits 31:16.
    pub raw: u32,
    /// Length in bytes (4 in ARM state, 2 or 4 in Thumb).
    pub len: u8,
}

impl std::fmt::Debug for Decoded {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Decoded({:#010x} {:?})", self.raw, self.insn)
    }
}

impl Decoded {
    /// An instruction of family `ops` with encoding `raw`, all operand fields zero.
    #[inline]
    pub fn new(ops: &'static Ops, raw: u32) -> Decoded {
        Decoded {
            ops,
            insn: Insn::operands(),
            raw,
            len: 4,
        }
    }

    pub fn rd(mut self, r: u32) -> Self {
        self.insn.rd = r as u8;
        self
    }
    pub fn rn(mut self, r: u32) -> Self {
        self.insn.rn = r as u8;
        self
    }
    pub fn rm(mut self, r: u32) -> Self {
        self.insn.rm = r as u8;
        self
    }
    pub fn rs(mut self, r: u32) -> Self {
        self.insn.rs = r as u8;
        self
    }
    pub fn imm(mut self, v: u32) -> Self {
        self.insn.imm = v;
        self
    }
    pub fn op(mut self, v: u32) -> Self {
        self.insn.op = v as u8;
        self
    }
    pub fn op2(mut self, v: u32) -> Self {
        self.insn.op2 = v as u8;
        self
    }
    pub fn cond(mut self, c: u32) -> Self {
        self.insn.set_cond(c as u8);
        self
    }
    pub fn len(mut self, l: u32) -> Self {
        self.len = l as u8;
        self
    }
    /// Replace the handler family, keeping the operands.
    pub fn with_ops(mut self, ops: &'static Ops) -> Self {
        self.ops = ops;
        self
    }

    /// The instruction for the slot at byte `offset` of its page, in Thumb state or not:
    /// its PC offset, the distance to the next slot and the handler variant it needs
    /// (see [`crate::thread`]).
    pub fn finish(self, offset: u32, thumb: bool) -> Insn {
        self.finish_with_family(offset, thumb).0
    }

    /// [`Decoded::finish`], and the family that runs the instruction (the decoded one, or
    /// the more specialised one it refined itself into, whose steps expect the operands as
    /// the refinement left them).
    pub fn finish_with_family(self, offset: u32, thumb: bool) -> (Insn, &'static Ops) {
        let mut insn = self.insn;
        insn.pc = (offset + if thumb { 4 } else { 8 }) as u16;
        let slots = if thumb { self.len >> 1 } else { 1 };
        insn.next_bytes = slots * std::mem::size_of::<Insn>() as u8;
        let ops = self.ops.refined(&mut insn, thumb);
        // Families that need no PC index registers without a mask (`Cpu::r`).
        assert!(
            ops.sync || [insn.rd, insn.rn, insn.rm, insn.rs].iter().all(|&r| r < 16),
            "decoder bug: register field above 15 in {self:?}"
        );
        (insn.exec, insn.then) = ops.select(&insn);
        (insn, ops)
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
    fn insn_is_32_bytes() {
        assert_eq!(std::mem::size_of::<Insn>(), 32);
    }

    #[test]
    fn bit_fields() {
        assert_eq!(bits(0xe3a0_1005, 15, 12), 1);
        assert_eq!(bits(0xffff_ffff, 31, 0), 0xffff_ffff);
        assert!(bit(0x10, 4) && !bit(0x10, 3));
    }
}
