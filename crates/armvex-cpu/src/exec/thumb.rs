//! Instructions that exist only in Thumb state (ARM ARM A6): IT, CBZ/CBNZ, TBB/TBH. (The
//! 32-bit instruction whose second halfword lies on the next page is decoded when it runs:
//! [`crate::decode`]'s `cross_page`.)

use super::mem;
use crate::cpu::Cpu;
use crate::insn::{Flow, Handler, Insn, SPARE, Spare};
use crate::thread::{Ops, Second};
use armvex_bus::Bus;

/// IT: start an If-Then block; `imm` = firstcond:mask (the new ITSTATE).
pub fn it(cpu: &mut Cpu, _bus: &mut Bus, d: &Insn) -> Flow {
    cpu.it = d.imm as u8;
    Flow::Next
}

/// The threaded handler of IT: set ITSTATE, then run the IT block's copies (see
/// [`it_block_copies`]) if the page has them and the budget covers the whole block; else
/// return to the block loop, which runs the instructions of the IT block one at a time
/// under their conditions (see [`crate::run`]).
///
/// `imm` bits 7:0 are the new ITSTATE, bits 31:8 how many slots on the block's first copy
/// is (0: no copies); `op` is the number of instructions in the block.
///
/// # Safety
/// See [`crate::insn::Handler`]; the copies are as [`it_block_copies`] leaves them.
#[inline(always)]
unsafe fn it_threaded(cpu: &mut Cpu, bus: &mut Bus, d: *const Insn, _: Spare, rem: u64) -> u64 {
    // SAFETY: `d` points at a live instruction (the caller's contract).
    let insn = unsafe { &*d };
    #[cfg(feature = "pair-census")]
    cpu.census.arrive(
        d as usize,
        std::ptr::fn_addr_eq(insn.exec, it_threaded as Handler),
        crate::census::Name::of::<ItStart>(insn.slots()),
    );
    it(cpu, bus, insn);
    // SAFETY: the caller's contract.
    let left = unsafe { crate::thread::left_after(d, rem) };
    let copies = (insn.imm >> 8) as usize;
    // The copies skip the block's own slots, so the budget must not end inside the block
    // (where a slot would be patched to stop the chain, see `Cpu::run_chain`): the budget
    // left after the IT instruction (below zero, wrapped, if it ends inside the run) covers
    // every instruction of the block.
    if copies != 0 && left as i64 >= i64::from(insn.op) {
        // SAFETY: `it_block_copies` put the block's copies `copies` slots on, in the page's
        // array; they are in this instruction's run, already paid for.
        return unsafe {
            let first = d.add(copies);
            ((*first).exec)(cpu, bus, first, SPARE, rem)
        };
    }
    // SAFETY: the next slot is in the page's array (pages end with sentinels).
    crate::thread::stop_chain(cpu, left, unsafe { d.add(1) })
}

/// IT as the second instruction of a fused pair (see [`crate::fuse`]).
pub(crate) struct ItStart;

impl Second for ItStart {
    const HANDLER: Handler = it_threaded;
    #[inline(always)]
    unsafe fn run(cpu: &mut Cpu, bus: &mut Bus, d: *const Insn, rem: u64) -> u64 {
        // SAFETY: the caller's contract.
        unsafe { it_threaded(cpu, bus, d, SPARE, rem) }
    }
}

/// The `exec` of the copy of an instruction of an IT block whose ITSTATE (before it runs) is
/// in `skip`, with condition `COND` (ITSTATE bits 7:4): as `Cpu::step_in_it_block` does,
/// advance ITSTATE, keep the instruction's own in `current_it` while it runs, and run its
/// handler (the copy's `then`) if the condition holds, or go on to the next copy.
///
/// # Safety
/// See [`crate::insn::Handler`]; `d` is a copy made by [`it_block_copies`].
unsafe fn it_step<const COND: u8>(cpu: &mut Cpu, bus: &mut Bus, d: *const Insn, _: Spare, rem: u64) -> u64 {
    // SAFETY: `d` points at a live instruction (the caller's contract).
    let itstate = unsafe { (*d).skip };
    cpu.current_it = itstate;
    cpu.it = advanced_it(itstate);
    if cpu.condition_holds::<COND>() {
        // SAFETY: the caller's contract; `then` is the instruction's own handler.
        return unsafe { ((*d).then)(cpu, bus, d, SPARE, rem) };
    }
    // SAFETY: the copies are laid out as their slots are (a 32-bit instruction takes two),
    // and the last is followed by the block's end (`it_block_end`).
    unsafe { crate::thread::dispatch(cpu, bus, d, rem, Flow::Next) }
}

/// ITAdvance() of `it` (ARM ARM A2.5.2).
#[inline(always)]
pub(crate) fn advanced_it(it: u8) -> u8 {
    if it & 7 == 0 {
        0
    } else {
        (it & 0xe0) | ((it << 1) & 0x1f)
    }
}

/// The handlers of the copies of IT-block instructions, by condition code.
static IT_STEPS: [Handler; 15] = [
    it_step::<0>,
    it_step::<1>,
    it_step::<2>,
    it_step::<3>,
    it_step::<4>,
    it_step::<5>,
    it_step::<6>,
    it_step::<7>,
    it_step::<8>,
    it_step::<9>,
    it_step::<10>,
    it_step::<11>,
    it_step::<12>,
    it_step::<13>,
    it_step::<14>,
];

/// The slot after the copies of an IT block: the block is over (`current_it` back to zero);
/// go on with the page's slot after the block, `imm` slots back, which is in the same run.
///
/// # Safety
/// See [`crate::insn::Handler`]; `d` is an end made by [`it_block_copies`].
unsafe fn it_block_end(cpu: &mut Cpu, bus: &mut Bus, d: *const Insn, _: Spare, rem: u64) -> u64 {
    cpu.current_it = 0;
    // SAFETY: `it_block_copies` put the slot after the block `imm` slots back, in the same
    // page's array.
    unsafe {
        let next = d.sub((*d).imm as usize);
        ((*next).exec)(cpu, bus, next, SPARE, rem)
    }
}

/// Give the IT instructions of a decoded Thumb page (`insns`: its `slots` slots, then the
/// sentinels; `families`: each slot's family) copies of their blocks, appended to `insns`,
/// so that an IT block runs in the chain of handlers instead of one instruction at a time
/// in the block loop.
///
/// A slot cannot simply be made conditional where it follows an IT instruction: the same
/// halfword may also be reached outside the block (a branch to it, or the IT "instruction"
/// may be the second half of a 32-bit one). So each IT instruction whose block lies in the
/// page gets copies of the block's instructions after the page's sentinels, laid out as
/// slots are (a 32-bit instruction takes two), each with the ITSTATE it runs under in
/// `skip` and `exec` = [`it_step`] of its condition (a B or BL gets the handler for a
/// target outside the page, as `Cpu::step_in_it_block` runs it: its own condition is not
/// checked, and the slot-relative target of the in-page variant is not right for a copy),
/// followed by an end ([`it_block_end`]) that goes back to the page's slot after the block.
/// The copies keep the slots' `pc` and runs, so they count, fault and read R15 as the slots
/// do. Blocks holding an IT, or with an ITSTATE whose condition is 15, have no copies (the
/// block loop runs those).
pub(crate) fn it_block_copies(insns: &mut Vec<Insn>, families: &[&'static Ops], slots: usize) {
    for i in 0..slots {
        if !std::ptr::eq(families[i], &IT) {
            continue;
        }
        let first_state = insns[i].imm as u8;
        // The block's slots and ITSTATEs.
        let mut block = Vec::with_capacity(4);
        let (mut state, mut at) = (first_state, i + 1);
        while state != 0 && block.len() < 4 {
            block.push((at, state));
            if at >= slots {
                break;
            }
            at += insns[at].slots();
            state = advanced_it(state);
        }
        let fits = at <= slots
            && block.len() <= 4
            && block
                .iter()
                .all(|&(j, st)| j < slots && st >> 4 != 15 && !std::ptr::eq(families[j], &IT));
        if !fits || state != 0 {
            continue;
        }
        let first_copy = insns.len();
        for &(j, st) in &block {
            let mut copy = insns[j];
            if families[j].ends_run {
                // A B or BL (see above).
                copy.set_cond(crate::insn::COND_ALWAYS);
                copy.then = crate::exec::branch::unconditional_handler(&copy);
            } else {
                copy.then = insns[j].exec;
            }
            copy.exec = IT_STEPS[usize::from(st >> 4)];
            copy.skip = st;
            insns.push(copy);
            if copy.slots() == 2 {
                let padding = insns[slots];
                insns.push(padding);
            }
        }
        let end_slot = insns.len();
        let mut end = insns[at];
        end.exec = it_block_end;
        end.then = it_block_end;
        end.imm = (end_slot - at) as u32;
        insns.push(end);
        insns[i].imm = u32::from(first_state) | (((first_copy - i) as u32) << 8);
        insns[i].op = block.len() as u8;
    }
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
