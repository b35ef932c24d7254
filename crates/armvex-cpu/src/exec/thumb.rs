//! Instructions that exist only in Thumb state (ARM ARM A6): IT, CBZ/CBNZ, TBB/TBH, and the
//! 32-bit instruction whose second halfword lies on the next page.

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

/// A 32-bit Thumb instruction at the last halfword of a page: its second halfword is fetched
/// (through the MMU) each time, and the instruction is decoded and executed on the spot.
/// `imm` holds the first halfword.
pub fn cross_page(cpu: &mut Cpu, bus: &mut Bus, d: &Insn) -> Flow {
    let addr = cpu.current_insn_addr();
    let hw2 = match cpu.fetch_halfword(bus, addr.wrapping_add(2)) {
        Ok(h) => h,
        Err(fault) => {
            cpu.prefetch_abort(addr, fault);
            return Flow::Branch;
        }
    };
    let decoded = crate::decode::decode_thumb32(
        d.imm as u16,
        hw2,
        &crate::decode::Features::for_model(cpu.model(), cpu.config.semihosting),
    );
    // The same slot: the same PC.
    let (insn, family) = decoded.finish_with_family(u32::from(d.pc) - 4, true);
    // A B<cond> (T3) carries its own condition, which the page's handlers check before the
    // step (the step itself branches unconditionally): check it here too. Inside an IT block
    // ITSTATE's condition decides, as in `Cpu::step_in_it_block`.
    if insn.cond() < crate::insn::COND_ALWAYS && cpu.current_it == 0 && !cpu.condition_passed(insn.cond()) {
        return Flow::Next;
    }
    (family.step_pc)(cpu, bus, &insn)
}
