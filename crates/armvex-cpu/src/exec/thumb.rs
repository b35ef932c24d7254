//! Instructions that exist only in Thumb state (ARM ARM A6): IT, CBZ/CBNZ, TBB/TBH. (The
//! 32-bit instruction whose second halfword lies on the next page is decoded when it runs:
//! [`crate::decode`]'s `cross_page`.)

use super::mem;
use crate::cpu::Cpu;
use crate::insn::{Flow, Insn, Spare};
use crate::thread::Ops;
use armvex_bus::Bus;

/// IT: start an If-Then block; `imm` = firstcond:mask (the new ITSTATE).
pub fn it(cpu: &mut Cpu, _bus: &mut Bus, d: &Insn) -> Flow {
    cpu.it = d.imm as u8;
    Flow::Next
}

/// The threaded handler of IT: set ITSTATE and return to the block loop, which runs the
/// instructions of the IT block one at a time under their conditions (see [`crate::run`]).
///
/// # Safety
/// See [`crate::insn::Handler`].
unsafe fn it_threaded(cpu: &mut Cpu, bus: &mut Bus, d: *const Insn, _: Spare, rem: u64) -> u64 {
    // SAFETY: `d` points at a live instruction (the caller's contract).
    let insn = unsafe { &*d };
    it(cpu, bus, insn);
    // SAFETY: the next slot is in the page's array (pages end with sentinels).
    crate::thread::stop_chain(cpu, unsafe { crate::thread::left_after(d, rem) }, unsafe { d.add(1) })
}

/// The family of [`it`].
pub static IT: Ops = Ops::uniform(it, it_threaded);

/// CBZ (`op` 0) / CBNZ (`op` 1): compare `rn` with zero and branch forward by `imm`.
pub fn cbz(cpu: &mut Cpu, _bus: &mut Bus, d: &Insn) -> Flow {
    let zero = cpu.regs[d.rn as usize] == 0;
    if zero != (d.op != 0) {
        let target = cpu.regs[15].wrapping_add(d.imm);
        return cpu.branch_write_pc(target);
    }
    Flow::Next
}

/// TBB (`op` 0) / TBH (`op` 1): branch forward by twice the byte or halfword at Rn + Rm
/// (Rm doubled for TBH).
pub fn table_branch(cpu: &mut Cpu, bus: &mut Bus, d: &Insn) -> Flow {
    let base = cpu.regs[d.rn as usize];
    let index = cpu.regs[d.rm as usize];
    let offset = if d.op == 0 {
        mem!(cpu, cpu.load8(bus, base.wrapping_add(index)))
    } else {
        mem!(cpu, cpu.load16(bus, base.wrapping_add(index << 1)))
    };
    let target = cpu.regs[15].wrapping_add(offset << 1);
    cpu.branch_write_pc(target)
}
