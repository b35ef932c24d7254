//! Threaded dispatch: each instruction's handler jumps straight to the next one's.
//!
//! A simple interpreter loop calls the handler of every instruction from one place and looks
//! at what it returns: about fifteen host instructions per guest instruction (store the PC,
//! test the condition, move the arguments, the indirect call, test the result, move the
//! pointer, compare it with the end) before the handler does any work, and one indirect call
//! site that every instruction shares, which the host's branch predictor cannot learn.
//!
//! armvex's handlers are *threaded* instead. Every handler ([`Handler`]) executes its
//! instruction and then, if the instruction went on in sequence, calls the next slot's
//! handler itself, as the very last thing it does. That call is a tail call, which the
//! compiler turns into a jump: a straight run of guest instructions is a chain of jumps from
//! handler to handler, each with its own indirect jump for the branch predictor to learn,
//! and nothing in between. A branch to the same page jumps to the target's handler the same
//! way. The chain comes back to the block loop in [`crate::run`] only when the budget is used
//! up, at the end of the page, or when an instruction leaves the page or ends the block
//! ([`ChainEnd`]).
//!
//! # Runs: counting instructions without counting each one
//!
//! The machine's schedule gives a CPU a budget of instructions, and the CPU must stop
//! exactly where it ends (timers, other CPUs and the debugger depend on it). Counting down
//! one per instruction would cost every handler a decrement and a test. Instead, the decoder
//! gives every slot a *run* ([`Insn::run`]): the instructions from it along the straight line
//! (each slot's successor is the slot after it, or two on after a 32-bit Thumb instruction)
//! up to the end of the page or up to an instruction that *ends its run*: a B or BL (the
//! hand-written [`crate::exec::branch`] handlers), whose not-taken path goes on like a branch
//! would. A run is paid for when it is entered, from the budget, with one test: at the start
//! of a chain ([`Cpu::run_chain`]), at a branch's target and after a branch not taken
//! ([`enter`], [`jump`]). Inside the run, handlers go on to the next slot with no count at
//! all. The budget a handler is given, `rem`, is what will be left after its run; an
//! instruction that leaves the straight line early (a data-processing write to the PC, a
//! load into it, an exception, a CPSR write) hands back the part of its run that did not run:
//! what is left after it is `rem + run - 1` ([`left_after`]).
//!
//! If the budget does not cover the run where a chain starts, the slot where it ends (that
//! many instructions on along the straight line) gets the sentinel's handler for the time of
//! the chain, which stops it there; the chain starts with `rem` below zero by the rest of the
//! run (wrapping), and the sentinel handler adds the slot's run back ([`end_of_page`]). The
//! two handlers that look further than the next slot check the budget really covers what they
//! skip: a condition check skipping a run of instructions that all fail
//! ([`condition_check`]), and a comparison fused with the branch after it. Runs end at
//! branches so that they are short (a few instructions in most code), which keeps the slots
//! patched this way near the budget's end few. Checked blocks, and IT blocks whose copies
//! cannot be used (see below), run one instruction at a time the same way, with a budget of
//! one.
//!
//! Rust does not promise tail calls (there is no `become` on stable), so correctness never
//! depends on them: the block loop hands a chain at most [`CHUNK`] instructions at a time,
//! which bounds the stack a chain can use even where the calls are not turned into jumps
//! (unoptimised builds); in release builds they are jumps. Keeping them jumps takes care: a
//! handler returns one scalar (the budget left; where the chain stopped goes into the CPU's
//! `chain_next`, through [`stop_chain`] and [`leave_chain`]), because a handler that returned
//! a two-part value it built itself had that value split and rebuilt before `ret`, and the
//! optimiser then made none of its calls tail calls: every in-page B and every fused
//! compare-and-branch pushed a frame, and the chain unwound up to 256 of them at its end.
//! `objdump -d target/release/armvex` shows it: no `call *` in `fast`, `condition_check`,
//! `branch_threaded` or `compare_branch` but for calls of out-of-line steps.
//!
//! What the loop no longer does per instruction is done at decode time, or only by the
//! handlers that need it:
//!
//! * **The PC.** R15 reads as the instruction's address + 8 (ARM) or + 4 (Thumb). Each
//!   [`Insn`] knows that value as an offset in its page (`pc`), and the CPU knows the page's
//!   virtual address (`block_va`), so a handler that reads R15, computes a return address or
//!   may take an exception stores `regs[15]` itself ([`Cpu::sync_pc`]). Handler families are
//!   marked [`Op::SYNC`] by default; the common ones that never need it say so, and their
//!   instructions that name R15 as an operand get the `full` variant, which syncs.
//! * **The condition.** An unconditional instruction (nearly all Thumb instructions, most
//!   ARM ones) runs no condition check at all. A conditional ARM instruction's `exec` is the
//!   check of its condition code, one function per code ([`CONDITION_CHECKS`]), which tests
//!   just the flags that code needs (`Z`, or `C and not Z`, ...) and then jumps to the
//!   instruction's own handler (its `then`) or on to the next instruction. B and BL check
//!   their condition themselves ([`crate::exec::branch`]).
//! * **Time.** MMIO accesses see the time the block started at, moved on at every taken
//!   branch inside the page (so a polling loop sees its timer move). A handler that branches
//!   inside the page sets `local_time` from `time_origin - left` (the budget left after the
//!   branch), where the block loop set `time_origin` when it started the chain.
//!
//! Debugger-checked blocks (breakpoints, tracing) run one instruction at a time: the block
//! loop starts a chain with a budget of one, so it returns after that instruction (see
//! [`crate::run`]).
//!
//! # Thumb: IT blocks and calls between pages
//!
//! Thumb-2 code (busybox, glibc built for Thumb) differs from ARM code in two ways that
//! matter here. Its conditional instructions are *IT blocks*: `ite eq; moveq r0, #1;
//! movne r0, #0` — the IT instruction sets ITSTATE, which gives the next one to four
//! instructions their conditions (and makes the 16-bit data-processing ones leave the
//! flags alone). And its code is spread over many pages that call each other.
//!
//! **IT blocks.** A slot cannot simply be decoded as conditional because an IT precedes it:
//! the same halfword may be reached with no IT block (a branch to it, or the "IT" may be the
//! second half of a 32-bit instruction). So a decoded Thumb page holds, after its sentinels,
//! *copies* of the instructions of each IT block
//! ([`crate::exec::thumb::it_block_copies`]), laid out as slots are (a 32-bit instruction
//! takes two):
//!
//! ```text
//!   slots:   [ it ne ] [ addne r3,#1 ] [ bxne lr ] [ movs r3,#9 ] ... [sentinel][sentinel]
//!               |                                      ^
//!               | (imm: copies 2048 slots on)          | (end: `imm` slots back)
//!               v                                      |
//!   copies:  [ it_step NE, then = add ] [ it_step NE, then = bx ] [ end ] ...
//! ```
//!
//! Each copy's `exec` ([`crate::exec::thumb`]'s `it_step`, one per condition code) does what
//! the block loop's `step_in_it_block` does for one instruction: keep the instruction's
//! ITSTATE (stored in the copy's `skip`) in `current_it`, advance ITSTATE, then run the
//! instruction's own handler (the copy's `then`) if the condition holds, or go on to the
//! next copy. The end slot clears `current_it` and jumps back into the page, at the slot
//! after the block. The copies keep their slots' `pc` and runs, so they read R15, fault and
//! count exactly as the slots do. The IT handler enters them only when the budget covers the
//! whole block: otherwise a slot inside the block may be the one patched to stop the chain
//! (see [`Cpu::run_chain`]), which the copies would run past, and it returns to the block
//! loop, which runs the block one instruction at a time as before. A branch inside an IT
//! block (UNPREDICTABLE before its last instruction) does not go on in the chain while
//! ITSTATE is not zero, and the chain clears `current_it` wherever it leaves a block.
//!
//! **Calls between pages.** [`jump_out`] goes on into another page in Thumb state as in ARM
//! state: the fetch TLB entry of a page remembers its decoded code and for which instruction
//! set ([`crate::tlb::THUMB_CODE`]). On the `fs` boot's test window (busybox's `seq` and
//! `sha256sum`, 5.3e8 instructions) the two took armvex from 31.1 to 24.6 host instructions
//! per guest instruction (callgrind): 21M of the window's 22M block-loop entries were Thumb
//! blocks ending at a branch to another page, and 20M instructions ran in IT blocks at about
//! 87 host instructions each. Crossing pages is still the window's largest cost outside the
//! instructions themselves: 21.5M calls of [`jump_out`] (about 7% of its host time, sampled
//! by `perf`), each checking what the block loop would otherwise check (code to drop,
//! interrupts) and the fetch TLB. The IT handler, `it_step` and the end slot are each one
//! indirect jump shared by every IT block, which the host predicts less well than the
//! per-slot jumps of straight code.
//!
//! Fusing 16-bit comparisons (CMP, TST, SUBS) with the conditional branch after them, as
//! ARM pages do, was tried and measured no better on that window (13.04e9 host instructions
//! against 13.02e9) nor on the Thumb integer benchmark (whose compilers schedule the
//! comparison away from the branch), so Thumb pages do not fuse them.
//!
//! # Superinstructions
//!
//! Frequent pairs of instructions (an ADDS and the ADC after it, two loads, a comparison
//! and the branch after it) get one handler for both ([`fused`], chosen at decode time by
//! [`crate::fuse`]): half the indirect jumps where they follow each other. A chain whose
//! budget ends between the two runs the first one's own handler (see
//! [`Cpu::run_chain`]).
//!
//! # A picture, for readers new to interpreters
//!
//! A decoded page is an array of 32-byte [`Insn`] slots, one per instruction (per halfword in
//! Thumb state), followed by sentinels. Each slot carries the host function that runs it
//! (`exec`) and its operands, so running guest code is calling `exec` of one slot after
//! the other. Here is a page holding a loop like the range coder of the xz decompressor
//! (simplified), as armvex runs it:
//!
//! ```text
//!   block loop (crate::run)          the page's slots (crate::code_cache)
//!   -----------------------          ------------------------------------------------------
//!   look up the page of the PC       [ ldr r3,[r4]   ] exec = fast<ldr imm>     --+
//!   budget = min(left, CHUNK)        [ lsl r2,r2,#1  ] exec = fast<mov lsl>     <-+ jump
//!   call exec of the PC's slot --->  [ cmp r3,#1<<24 ] exec = compare_branch<cmp imm, CS>
//!        |                           [ bcs 1f        ] (run by the slot above; its own exec
//!        |                           [   ...         ]  serves code that branches to it)
//!        |                      1f:  [ cmp r1,lr     ] exec = fast<cmp reg>
//!        |                           [ strhi r1,[r4] ] exec = check HI, then = fast<str>
//!        |                           [ sub r3,r3,r1  ] exec = fast<sub reg>
//!        |                           [ stmls r4,{..} ] exec = check LS, skip 2 --+ HI holds:
//!        |                           [ addls r2,r2,#1] exec = check LS           | skip both,
//!        |                           [ ldrhhi r3,..  ] exec = check HI      <----+ enter `then`
//!        |                           [   ...         ]
//!        |                           [ bls loop      ] exec = branch<LS, local> -> slot of loop
//!        |                           [ (sentinel)    ] exec = end_of_page: back to the loop
//!        v
//!   ChainEnd { left, next }: budget used up, end of page, or a branch out (`chain_flow`):
//!   interrupts, timers and other CPUs are looked at here, then the next chain starts.
//! ```
//!
//! Every handler ends by calling the next one (`dispatch`): there is no central loop to
//! come back to, so each handler has its own indirect jump, which the host's branch
//! predictor learns separately (a jump from `cmp` to `strhi` is predictable where a single
//! shared call site is not). The per-instruction work outside the instruction itself is:
//!
//! ```text
//!   next = this slot + 32 bytes                   (64 after a 32-bit Thumb instruction)
//!   jump to next.exec                             a tail call: no stack grows
//! ```
//!
//! and at a branch (the end of a run): `if left >= next.run { rem = left - next.run } else
//! stop`.
//!
//! What is decided at decode time so that handlers need not decide it at run time:
//!
//! * the handler *family* from the encoding, refined by operands and place in the page
//!   ([`Op::REFINE`]): one handler per shift type, addressing mode, condition of a branch,
//!   branch target inside or outside the page;
//! * whether the PC must be stored before the instruction ([`Op::SYNC`], `full` variants);
//! * whether there is a condition to check at all, and which one ([`CONDITION_CHECKS`]);
//!   for ARM pages, how many following instructions share that condition (`skip`: they all
//!   fail together, see [`condition_check`]);
//! * whether a comparison and the conditional branch after it run as one handler
//!   ([`crate::exec::branch`]'s `compare_branch`).
//!
//! * how many instructions each slot's run holds ([`Insn::run`]).
//!
//! None of this changes what the guest sees or how instructions are counted: a chain stops
//! exactly where its budget ends, and a debugger or the profiler stopping the machine
//! anywhere finds the state an unbroken run would have there.

use crate::cpu::{COND_ALWAYS, ChainEnd, Cpu, Flow, Handler, Insn, SPARE, Spare, Step};
use armvex_bus::Bus;

/// The most instructions the block loop lets one chain of handlers run. Only a bound on the
/// stack a chain may use when tail calls are not jumps: 256 frames in unoptimised builds,
/// where none of them are. In optimised builds the handlers' calls of the next handler are
/// jumps, so the bound only says how often a long in-page loop comes back to the block loop.
pub const CHUNK: u64 = if cfg!(debug_assertions) { 256 } else { 4096 };

/// What `regs[15]` holds while a handler that does not keep the PC runs, in builds with
/// debug assertions: a handler that reads it anyway computes with this visibly wrong value,
/// and the tests that compare with QEMU fail.
#[cfg(debug_assertions)]
const PC_POISON: u32 = 0xdead_0001;

/// Which operand fields of an instruction are registers it reads (see [`Op::READS`]).
pub mod reads {
    pub const RD: u8 = 1;
    pub const RN: u8 = 2;
    pub const RM: u8 = 4;
    pub const RS: u8 = 8;
    pub const ALL: u8 = RD | RN | RM | RS;
}

/// A family of instructions that share one step function.
pub trait Op {
    /// True if the step may read R15 in any way: as an operand, through the address of the
    /// current or next instruction, or by taking an exception. The threaded handler then
    /// stores the PC before the step runs. Families that never do say `false`.
    const SYNC: bool = true;
    /// For families with `SYNC == false`: the operand fields that are registers the step
    /// reads; an instruction naming R15 in one of them gets the syncing variant.
    const READS: u8 = reads::ALL;
    /// A more specialised family for some instructions, chosen from their operands and
    /// their place in the page when they are decoded (e.g. one shift type of a
    /// shifted-register operand, or a branch whose target is in the same page).
    const REFINE: Option<Refine> = None;
    /// True for the hot families whose conditional instructions get handlers that check
    /// the condition themselves ([`checked`]), one per condition code, rather than a shared
    /// condition check that jumps on to the instruction's handler: one indirect jump
    /// instead of two, and a host branch on the flags per family and condition, which the
    /// branch predictor tells apart.
    const INLINE_CONDITION: bool = false;
    /// Execute one instruction, or return [`Flow::Slow`] having changed nothing, for
    /// [`Op::slow`] to do it. A step should keep every call out of its common path and leave
    /// the rest to `slow`: a threaded handler whose common path calls nothing needs no stack
    /// frame, and its tail call to the next handler is a bare jump.
    fn step(cpu: &mut Cpu, bus: &mut Bus, d: &Insn) -> Flow;
    /// Execute one instruction the fast step gave up on (only called after [`Flow::Slow`]).
    #[inline(always)]
    fn slow(cpu: &mut Cpu, bus: &mut Bus, d: &Insn) -> Flow {
        let _ = (cpu, bus, d);
        unreachable!("a step returned Flow::Slow without a slow step")
    }
    /// Execute one instruction that names R15 in a register field (the `full` variant, with
    /// `regs[15]` synced). The same as [`Op::step`] unless the family's fast step assumes
    /// no field is R15.
    #[inline(always)]
    fn step_pc(cpu: &mut Cpu, bus: &mut Bus, d: &Insn) -> Flow {
        Self::step(cpu, bus, d)
    }
}

/// Choose a more specialised family for an instruction in its slot (`pc` set), in Thumb
/// state or not (see [`Op::REFINE`]); it may rewrite operand fields for that family.
pub type Refine = fn(&mut Insn, bool) -> &'static Ops;

/// The threaded handlers of one instruction family, and its step.
pub struct Ops {
    /// The step for instructions naming R15 ([`Op::step_pc`]), right for every instruction
    /// of the family when `regs[15]` is synced (for instructions executed outside a page,
    /// see `cross_page` in [`crate::decode`]).
    pub step_pc: Step,
    /// Syncs the PC only if the family is [`Op::SYNC`]; for instructions whose next slot
    /// is the one after theirs (ARM, 16-bit Thumb), and for 32-bit Thumb instructions.
    pub fast: Handler,
    pub fast_wide: Handler,
    /// Always syncs the PC (as `fast` and `fast_wide`).
    pub full: Handler,
    pub full_wide: Handler,
    pub sync: bool,
    pub reads: u8,
    /// See [`Op::REFINE`].
    pub refine: Option<Refine>,
    /// For [`Op::INLINE_CONDITION`] families: `fast` with the check of each condition code
    /// (but "always") built in ([`checked`]): going on to the next instruction when it
    /// fails, and (the second table) past a run of instructions with the same condition.
    pub checked: Option<&'static [[Handler; 14]; 2]>,
    /// The handlers check the condition code themselves (hand-written families).
    pub own_condition: bool,
    /// The instruction ends its run: its handler checks the budget for the instruction it
    /// goes on to, whichever that is (the hand-written B/BL handlers, see [`enter`]).
    pub ends_run: bool,
}

impl Ops {
    /// The family `insn` (in its slot, in Thumb state or not) is best run by: this one, or
    /// one `refine` chooses.
    pub fn refined(&'static self, insn: &mut Insn, thumb: bool) -> &'static Ops {
        match self.refine {
            Some(refine) => refine(insn, thumb),
            None => self,
        }
    }

    /// The handlers for `insn`: its `exec` (the condition check of its condition code, if it
    /// has one, or the handler with that check built in, see [`Ops::checks_inline`]) and its
    /// `then`.
    pub fn select(&self, insn: &Insn) -> (Handler, Handler) {
        let handler = match (self.needs_full(insn), insn.slots() == 2) {
            (false, false) => self.fast,
            (false, true) => self.fast_wide,
            (true, false) => self.full,
            (true, true) => self.full_wide,
        };
        if insn.cond() != COND_ALWAYS && !self.own_condition {
            let cond = usize::from(insn.cond().min(COND_ALWAYS));
            match self.checked {
                Some(checked) if self.checks_inline(insn) => (checked[0][cond], handler),
                _ => (CONDITION_CHECKS[cond], handler),
            }
        } else {
            (handler, handler)
        }
    }

    /// True if `insn` needs the `full` variant: the family does not sync the PC and the
    /// instruction names R15 in a register field it reads.
    fn needs_full(&self, insn: &Insn) -> bool {
        let named = |mask: u8, r: u8| self.reads & mask != 0 && r == 15;
        let reads_pc = named(reads::RD, insn.rd)
            || named(reads::RN, insn.rn)
            || named(reads::RM, insn.rm)
            || named(reads::RS, insn.rs);
        !self.sync && reads_pc
    }

    /// True if `insn`, a conditional instruction of this family, gets a handler that checks
    /// its condition itself ([`Op::INLINE_CONDITION`], [`checked`]): one slot long, not the
    /// `full` variant.
    pub fn checks_inline(&self, insn: &Insn) -> bool {
        self.checked.is_some()
            && !self.own_condition
            && insn.cond() < COND_ALWAYS
            && insn.slots() == 1
            && !self.needs_full(insn)
    }

    /// A family whose handlers are all `handler`, which checks conditions itself (for
    /// handlers written by hand).
    pub const fn uniform(step: Step, handler: Handler) -> Ops {
        Ops {
            step_pc: step,
            fast: handler,
            fast_wide: handler,
            full: handler,
            full_wide: handler,
            sync: true,
            reads: reads::ALL,
            refine: None,
            checked: None,
            own_condition: true,
            ends_run: false,
        }
    }

    /// The same family, marked as ending its instruction's run ([`Ops::ends_run`]).
    pub const fn ending_run(self) -> Ops {
        Ops { ends_run: true, ..self }
    }
}

/// The [`Ops`] of every [`Op`].
pub trait OpsOf {
    const OPS: &'static Ops;
}

impl<O: Op> OpsOf for O {
    const OPS: &'static Ops = &Ops {
        step_pc: whole_step_pc::<O>,
        fast: fast::<O, 1>,
        fast_wide: fast::<O, 2>,
        full: full::<O, 1>,
        full_wide: full::<O, 2>,
        sync: O::SYNC,
        reads: O::READS,
        refine: O::REFINE,
        checked: if O::INLINE_CONDITION {
            Some(&[
                [
                    checked::<O, 0, false>,
                    checked::<O, 1, false>,
                    checked::<O, 2, false>,
                    checked::<O, 3, false>,
                    checked::<O, 4, false>,
                    checked::<O, 5, false>,
                    checked::<O, 6, false>,
                    checked::<O, 7, false>,
                    checked::<O, 8, false>,
                    checked::<O, 9, false>,
                    checked::<O, 10, false>,
                    checked::<O, 11, false>,
                    checked::<O, 12, false>,
                    checked::<O, 13, false>,
                ],
                [
                    checked::<O, 0, true>,
                    checked::<O, 1, true>,
                    checked::<O, 2, true>,
                    checked::<O, 3, true>,
                    checked::<O, 4, true>,
                    checked::<O, 5, true>,
                    checked::<O, 6, true>,
                    checked::<O, 7, true>,
                    checked::<O, 8, true>,
                    checked::<O, 9, true>,
                    checked::<O, 10, true>,
                    checked::<O, 11, true>,
                    checked::<O, 12, true>,
                    checked::<O, 13, true>,
                ],
            ])
        } else {
            None
        },
        own_condition: false,
        ends_run: false,
    };
}

/// The [`Ops`] of a step function: `op!(path)`, `op!(nosync path)` for a family that never
/// needs the PC, `op!(nosync(READS) path)` to say which fields are registers it reads,
/// `op!(checked nosync(READS) path)` for such a family with [`Op::INLINE_CONDITION`].
macro_rules! op {
    (checked nosync($reads:expr) $f:path) => {{
        struct O;
        impl $crate::thread::Op for O {
            const SYNC: bool = false;
            const READS: u8 = $reads;
            const INLINE_CONDITION: bool = true;
            #[inline(always)]
            fn step(cpu: &mut $crate::cpu::Cpu, bus: &mut armvex_bus::Bus, d: &$crate::cpu::Insn) -> $crate::cpu::Flow {
                $f(cpu, bus, d)
            }
        }
        <O as $crate::thread::OpsOf>::OPS
    }};
    (nosync($reads:expr) $f:path) => {{
        struct O;
        impl $crate::thread::Op for O {
            const SYNC: bool = false;
            const READS: u8 = $reads;
            #[inline(always)]
            fn step(cpu: &mut $crate::cpu::Cpu, bus: &mut armvex_bus::Bus, d: &$crate::cpu::Insn) -> $crate::cpu::Flow {
                $f(cpu, bus, d)
            }
        }
        <O as $crate::thread::OpsOf>::OPS
    }};
    (nosync $f:path) => {
        $crate::thread::op!(nosync($crate::thread::reads::ALL) $f)
    };
    ($f:path) => {{
        struct O;
        impl $crate::thread::Op for O {
            #[inline(always)]
            fn step(cpu: &mut $crate::cpu::Cpu, bus: &mut armvex_bus::Bus, d: &$crate::cpu::Insn) -> $crate::cpu::Flow {
                $f(cpu, bus, d)
            }
        }
        <O as $crate::thread::OpsOf>::OPS
    }};
}
pub(crate) use op;

/// [`Op::step_pc`] with its slow path.
fn whole_step_pc<O: Op>(cpu: &mut Cpu, bus: &mut Bus, d: &Insn) -> Flow {
    match O::step_pc(cpu, bus, d) {
        Flow::Slow => O::slow(cpu, bus, d),
        flow => flow,
    }
}

impl Cpu {
    /// Make `regs[15]` read as the PC of instruction `d` (its address + 8 or + 4).
    #[inline(always)]
    pub(crate) fn sync_pc(&mut self, d: &Insn) {
        self.regs[15] = self.block_va.wrapping_add(u32::from(d.pc));
    }
}

/// The unconditional variant.
///
/// # Safety
/// See [`Handler`].
unsafe fn fast<O: Op, const SLOTS: usize>(cpu: &mut Cpu, bus: &mut Bus, d: *const Insn, _: Spare, rem: u64) -> u64 {
    #[cfg(feature = "pair-census")]
    {
        // Run as the slot's `exec` (not by a condition check or an IT block), the
        // instruction may be either of a pair (see `crate::census`).
        // SAFETY: `d` points at a live instruction (the caller's contract).
        let exec = std::ptr::fn_addr_eq(unsafe { (*d).exec }, fast::<O, SLOTS> as Handler);
        let name = crate::census::Name::of::<O>(SLOTS);
        cpu.census.arrive(d as usize, exec, name);
        if exec {
            cpu.census.expect(d.wrapping_add(SLOTS) as usize, name);
        }
    }
    // SAFETY: the caller's contract.
    unsafe { fast_body::<O, SLOTS>(cpu, bus, d, rem) }
}

/// Two instructions in one handler (a *superinstruction*, see [`crate::fuse`]): the one at
/// `d`, of family `A` and `SA` slots long, as its [`fast`] handler would run it, then the
/// one after it as its own handler would ([`Second`]), with no indirect jump between them.
/// If the first one does not go on in sequence (a slow path, a jump, an exception),
/// neither does this handler: it goes where the first one's handler would have gone.
///
/// # Safety
/// See [`Handler`]; the slot after `d` holds an instruction whose `exec` is
/// `S::HANDLER`, in the same run, and the budget does not end at it (see
/// [`Cpu::run_partial`]).
pub(crate) unsafe fn fused<A: Op, const SA: usize, S: Second>(
    cpu: &mut Cpu,
    bus: &mut Bus,
    d: *const Insn,
    _: Spare,
    rem: u64,
) -> u64 {
    // SAFETY: `d` points at a live instruction (the caller's contract).
    let flow = plain_step::<A>(cpu, bus, unsafe { &*d });
    if flow != Flow::Next {
        if flow == Flow::Slow {
            // SAFETY: the caller's contract.
            return unsafe { slow_path::<A, SA>(cpu, bus, d, SPARE, rem) };
        }
        // SAFETY: the caller's contract (the instruction is `SA` slots long).
        return unsafe { dispatch_to::<SA>(cpu, bus, d, rem, flow) };
    }
    // SAFETY: the caller's contract: the next instruction is `SA` slots on, in the page's
    // array, and runs as `S::HANDLER`.
    unsafe { S::run(cpu, bus, d.add(SA), rem) }
}

/// The second instruction of a [`fused`] pair: what its slot's handler is on its own, and
/// that handler's work, to be inlined into the pair's.
pub(crate) trait Second {
    /// The handler of the instruction's slot.
    const HANDLER: Handler;
    /// Run the instruction at `d` as [`Second::HANDLER`] does.
    ///
    /// # Safety
    /// As for [`Second::HANDLER`] (see [`Handler`]).
    unsafe fn run(cpu: &mut Cpu, bus: &mut Bus, d: *const Insn, rem: u64) -> u64;
}

/// A [`Second`] that runs as [`fast`] of family `O`, `SLOTS` slots long.
pub(crate) struct Plain<O, const SLOTS: usize>(std::marker::PhantomData<O>);

impl<O: Op, const SLOTS: usize> Second for Plain<O, SLOTS> {
    const HANDLER: Handler = fast::<O, SLOTS>;
    #[inline(always)]
    unsafe fn run(cpu: &mut Cpu, bus: &mut Bus, d: *const Insn, rem: u64) -> u64 {
        // SAFETY: the caller's contract.
        unsafe { fast_body::<O, SLOTS>(cpu, bus, d, rem) }
    }
}

/// The step of `insn`, family `O`, as [`fast`] runs it: with the PC stored first if the
/// family needs it (in builds with debug assertions, a visibly wrong PC if not).
#[inline(always)]
fn plain_step<O: Op>(cpu: &mut Cpu, bus: &mut Bus, insn: &Insn) -> Flow {
    if O::SYNC {
        cpu.sync_pc(insn);
    } else {
        #[cfg(debug_assertions)]
        {
            cpu.regs[15] = PC_POISON;
        }
    }
    O::step(cpu, bus, insn)
}

/// The body of [`fast`].
///
/// # Safety
/// See [`Handler`].
#[inline(always)]
unsafe fn fast_body<O: Op, const SLOTS: usize>(cpu: &mut Cpu, bus: &mut Bus, d: *const Insn, rem: u64) -> u64 {
    // SAFETY: `d` points at a live instruction (the caller's contract).
    let flow = plain_step::<O>(cpu, bus, unsafe { &*d });
    if flow == Flow::Slow {
        // SAFETY: the caller's contract.
        return unsafe { slow_path::<O, SLOTS>(cpu, bus, d, SPARE, rem) };
    }
    // SAFETY: the caller's contract (the instruction is `SLOTS` slots long).
    unsafe { dispatch_to::<SLOTS>(cpu, bus, d, rem, flow) }
}

/// The variant that always syncs the PC.
///
/// # Safety
/// See [`Handler`].
unsafe fn full<O: Op, const SLOTS: usize>(cpu: &mut Cpu, bus: &mut Bus, d: *const Insn, _: Spare, rem: u64) -> u64 {
    // SAFETY: `d` points at a live instruction (the caller's contract).
    let insn = unsafe { &*d };
    cpu.sync_pc(insn);
    let flow = O::step_pc(cpu, bus, insn);
    if flow == Flow::Slow {
        // SAFETY: the caller's contract.
        return unsafe { slow_path::<O, SLOTS>(cpu, bus, d, SPARE, rem) };
    }
    // SAFETY: the caller's contract (the instruction is `SLOTS` slots long).
    unsafe { dispatch_to::<SLOTS>(cpu, bus, d, rem, flow) }
}

/// The handler of a conditional instruction of an [`Op::INLINE_CONDITION`] family with
/// condition code `COND`: [`fast`] if the condition holds, else on to the next instruction
/// or, with `SKIPS`, as [`condition_failed`] goes. The same as [`condition_check`] followed
/// by `fast`, with one indirect jump fewer.
///
/// # Safety
/// See [`Handler`]; the instruction is one slot long, and with `SKIPS`, its `skip` is as
/// [`link_condition_runs`] leaves it.
unsafe fn checked<O: Op, const COND: u8, const SKIPS: bool>(
    cpu: &mut Cpu,
    bus: &mut Bus,
    d: *const Insn,
    _: Spare,
    rem: u64,
) -> u64 {
    if cpu.condition_holds::<COND>() {
        // SAFETY: the caller's contract.
        return unsafe { fast::<O, 1>(cpu, bus, d, SPARE, rem) };
    }
    if SKIPS {
        // SAFETY: the caller's contract.
        unsafe { condition_failed(cpu, bus, d, rem) }
    } else {
        // SAFETY: the caller's contract.
        unsafe { dispatch_to::<1>(cpu, bus, d, rem, Flow::Next) }
    }
}

/// Go on after the condition of the instruction at `d` failed, `d` starting a run of
/// instructions with its condition (see [`link_condition_runs`]): past them, into the `then`
/// or the `exec` of the instruction after them as `skip` says ([`Insn::skip`]), as
/// [`condition_check`] does.
///
/// # Safety
/// See [`Handler`]; `d`'s `skip` is as [`link_condition_runs`] leaves it.
#[inline(always)]
unsafe fn condition_failed(cpu: &mut Cpu, bus: &mut Bus, d: *const Insn, rem: u64) -> u64 {
    // SAFETY: `d` points at a live instruction (the caller's contract).
    let (skip, run) = unsafe { ((*d).skip, (*d).run()) };
    let count = usize::from(skip & SKIP_COUNT);
    // As in `condition_check`: the skipped instructions are paid for unless the budget ends
    // inside them.
    if rem.wrapping_add(run) > count as u64 {
        // SAFETY: `link_condition_runs` found the slot `count` on in the page's array; `then`
        // follows `exec` in an `Insn`, and its `then` is right for it when this condition
        // fails if `skip` says so.
        return unsafe {
            let next = d.add(count);
            let handler = next.cast::<Handler>().add(usize::from(skip >> 7)).read();
            handler(cpu, bus, next, SPARE, rem)
        };
    }
    // SAFETY: the caller's contract.
    unsafe { dispatch_to::<1>(cpu, bus, d, rem, Flow::Next) }
}

const _: () = assert!(
    std::mem::offset_of!(Insn, exec) == 0 && std::mem::offset_of!(Insn, then) == std::mem::size_of::<Handler>()
);

/// [`Insn::skip`]: the bits holding the number of slots to skip.
pub(crate) const SKIP_COUNT: u8 = 0x7f;
/// [`Insn::skip`]: the instruction after the skipped ones is entered through its `then`.
pub(crate) const SKIP_THEN: u8 = 0x80;

/// How a condition check goes on when the condition fails (see [`condition_check`]).
mod on_fail {
    /// To the next instruction.
    pub const NEXT: u8 = 0;
    /// Past the instructions with the same condition (`skip` slots on), into that
    /// instruction's `then`: it has the opposite condition, which holds, or none.
    pub const SKIP_THEN: u8 = 1;
    /// Past the instructions with the same condition, into that instruction's `exec`.
    pub const SKIP_EXEC: u8 = 2;
}

/// The condition check of a conditional instruction (its `exec`) for condition code `COND`:
/// a test or two of the lazy flags, then the instruction's own handler (its `then`), or on
/// as `ON_FAIL` says ([`on_fail`]).
///
/// An ARM instruction whose condition fails changes nothing but the instruction count, and
/// neither does the next one if it has the same condition: the flags are still the same. So
/// when the decoder finds such a run (the range coder of the kernel's xz decompressor is
/// full of them: `cmp`, then `strhi`, `stmls`, `addls`, `ldrhhi`, `ldrhls`, ...), the check
/// of its first instruction, on failing, jumps past the whole run at once (its instructions
/// are in the same run of the budget's, see [`Insn::run`], so they are paid for already),
/// straight into the handler of an instruction with the opposite condition (which holds
/// now) without checking that one either. If the budget ends inside the skipped
/// instructions, it goes on one instruction at a time, so chains still stop exactly where the
/// budget ends.
///
/// # Safety
/// See [`Handler`]; for `ON_FAIL` other than [`on_fail::NEXT`], `skip` slots on from `d`
/// is a slot of the same page's array, and every instruction before it from `d` on has
/// condition `COND`; for [`on_fail::SKIP_THEN`], that slot's `then` runs it correctly when
/// `COND` fails.
unsafe fn condition_check<const COND: u8, const ON_FAIL: u8>(
    cpu: &mut Cpu,
    bus: &mut Bus,
    d: *const Insn,
    _: Spare,
    rem: u64,
) -> u64 {
    if cpu.condition_holds::<COND>() {
        // SAFETY: the caller's contract; `then` runs the same instruction.
        return unsafe { ((*d).then)(cpu, bus, d, SPARE, rem) };
    }
    if ON_FAIL != on_fail::NEXT {
        // SAFETY: `d` points at a live instruction (the caller's contract).
        let (skip, run) = unsafe { (u64::from((*d).skip & SKIP_COUNT), (*d).run()) };
        // The skipped instructions are in this run (see `link_condition_runs`), which is
        // paid for, unless the budget ends inside it: then only if it ends past them.
        if rem.wrapping_add(run) > skip {
            // SAFETY: the caller's contract: the slot `skip` on is in the page's array.
            let next = unsafe { d.add(skip as usize) };
            // SAFETY: `next` is a live instruction of the same page; its `then` is right
            // for it when `COND` fails (the caller's contract).
            return unsafe {
                if ON_FAIL == on_fail::SKIP_THEN {
                    ((*next).then)(cpu, bus, next, SPARE, rem)
                } else {
                    ((*next).exec)(cpu, bus, next, SPARE, rem)
                }
            };
        }
    }
    // SAFETY: the caller's contract.
    unsafe { dispatch(cpu, bus, d, rem, Flow::Next) }
}

macro_rules! condition_checks {
    ($on_fail:expr) => {
        [
            condition_check::<0, { $on_fail }>,
            condition_check::<1, { $on_fail }>,
            condition_check::<2, { $on_fail }>,
            condition_check::<3, { $on_fail }>,
            condition_check::<4, { $on_fail }>,
            condition_check::<5, { $on_fail }>,
            condition_check::<6, { $on_fail }>,
            condition_check::<7, { $on_fail }>,
            condition_check::<8, { $on_fail }>,
            condition_check::<9, { $on_fail }>,
            condition_check::<10, { $on_fail }>,
            condition_check::<11, { $on_fail }>,
            condition_check::<12, { $on_fail }>,
            condition_check::<13, { $on_fail }>,
            condition_check::<14, { $on_fail }>,
        ]
    };
}

/// The condition checks, by condition code.
static CONDITION_CHECKS: [Handler; 15] = condition_checks!(on_fail::NEXT);
/// The condition checks that skip a run on failing ([`on_fail::SKIP_THEN`]).
static RUN_CHECKS_THEN: [Handler; 15] = condition_checks!(on_fail::SKIP_THEN);
/// The condition checks that skip a run on failing ([`on_fail::SKIP_EXEC`]).
static RUN_CHECKS_EXEC: [Handler; 15] = condition_checks!(on_fail::SKIP_EXEC);

/// Give the conditional instructions of a decoded ARM page (`insns`: its slots, then the
/// sentinels) the run checks of [`condition_check`] where they pay: `checked[i]` says how
/// slot `i` checks its condition ([`Check`]). A slot whose handler checks its condition
/// itself ([`checked`]) keeps its handler and gets the run in its `skip`.
///
/// A run of the same condition stops before an instruction that ends its run (`ends[i]`, a
/// B<cond> with that condition, say): skipping it would skip into the next run, which is
/// not paid for.
pub(crate) fn link_condition_runs(insns: &mut [Insn], checked: &[Check], ends: &[bool]) {
    const MAX: usize = SKIP_COUNT as usize;
    let slots = checked.len();
    debug_assert!(insns.len() > slots);
    // From the end of the page back, so that each slot's count follows from the next one's
    // (a page of zeros is 1024 ANDEQs: counting forward from each would take 1024 * 127 steps).
    let mut next_skip = 0;
    for i in (0..slots).rev() {
        let cond = insns[i].cond();
        // This slot and the ones after it with the same condition, up to one that ends its
        // run, at most 127.
        let skip = if i + 1 < slots && insns[i + 1].cond() == cond && !ends[i + 1] {
            (next_skip + 1).min(MAX)
        } else {
            1
        };
        next_skip = skip;
        if matches!(checked[i], Check::None) || cond >= COND_ALWAYS {
            continue;
        }
        debug_assert_eq!(
            skip,
            (1..MAX)
                .find(|&k| i + k >= slots || insns[i + k].cond() != cond || ends[i + k])
                .unwrap_or(MAX)
        );
        // The instruction after the run: the sentinel at the end of the page at the latest.
        let after = insns[i + skip].cond();
        let then_holds = after == cond ^ 1 || after == COND_ALWAYS;
        let (exec, then) = match (skip, then_holds) {
            (1, false) => continue,
            (1, true) if after == COND_ALWAYS => continue,
            (_, true) => (RUN_CHECKS_THEN[usize::from(cond)], SKIP_THEN),
            (_, false) => (RUN_CHECKS_EXEC[usize::from(cond)], 0),
        };
        match checked[i] {
            Check::Shared => insns[i].exec = exec,
            Check::Inline(family) => {
                let checked = family.checked.expect("a family checking its conditions");
                insns[i].exec = checked[1][usize::from(cond)];
            }
            Check::None => {}
        }
        insns[i].skip = skip as u8 | then;
    }
}

/// How a slot checks its condition (see [`link_condition_runs`]).
#[derive(Clone, Copy)]
pub(crate) enum Check {
    /// It has none, or its handler is written by hand (B, BL).
    None,
    /// Its `exec` is the shared check of its condition code ([`condition_check`]).
    Shared,
    /// Its `exec` checks the condition itself ([`checked`]), a handler of this family.
    Inline(&'static Ops),
}

/// The slow step of the instruction at `d`, then on as [`dispatch`] goes. Out of line, so
/// that the fast handlers that tail-call it stay free of calls.
///
/// # Safety
/// See [`Handler`].
#[cold]
#[inline(never)]
unsafe fn slow_path<O: Op, const SLOTS: usize>(
    cpu: &mut Cpu,
    bus: &mut Bus,
    d: *const Insn,
    _: Spare,
    rem: u64,
) -> u64 {
    // SAFETY: `d` points at a live instruction (the caller's contract).
    let flow = O::slow(cpu, bus, unsafe { &*d });
    // SAFETY: the caller's contract.
    unsafe { dispatch_to::<SLOTS>(cpu, bus, d, rem, flow) }
}

/// After the instruction at `d` ran with result `flow`: go on with the next instruction (a
/// tail call) or return to the block loop.
///
/// # Safety
/// See [`Handler`]; `d` does not end its run.
#[inline(always)]
pub(crate) unsafe fn dispatch(cpu: &mut Cpu, bus: &mut Bus, d: *const Insn, rem: u64, flow: Flow) -> u64 {
    // SAFETY: every page ends with sentinel slots, so the next slot of an instruction
    // (`next_bytes` on) is in the page's array (see `crate::code_cache`).
    let next = unsafe { d.byte_add(usize::from((*d).next_bytes)) };
    // SAFETY: the caller's contract.
    unsafe { dispatch_next(cpu, bus, d, next, rem, flow) }
}

/// [`dispatch`] for an instruction known to be `SLOTS` slots long: no need to read how far
/// the next one is.
///
/// # Safety
/// See [`Handler`]; the instruction at `d` is `SLOTS` slots long and does not end its run.
#[inline(always)]
unsafe fn dispatch_to<const SLOTS: usize>(cpu: &mut Cpu, bus: &mut Bus, d: *const Insn, rem: u64, flow: Flow) -> u64 {
    // SAFETY: `d` points at a live instruction (the caller's contract).
    debug_assert_eq!(unsafe { (*d).slots() }, SLOTS);
    // SAFETY: every page ends with sentinel slots, so the next slot of an instruction is in
    // the page's array (see `crate::code_cache`).
    let next = unsafe { d.add(SLOTS) };
    // SAFETY: the caller's contract.
    unsafe { dispatch_next(cpu, bus, d, next, rem, flow) }
}

/// After the instruction at `d` ran with result `flow`, `next` being the slot after it: go
/// on (a tail call) or return to the block loop. Going on in sequence costs nothing: the
/// next instruction is in the same run, already paid for.
///
/// # Safety
/// See [`Handler`]; `next` is a slot of the page's array; `d` does not end its run.
#[inline(always)]
unsafe fn dispatch_next(cpu: &mut Cpu, bus: &mut Bus, d: *const Insn, next: *const Insn, rem: u64, flow: Flow) -> u64 {
    #[cfg(feature = "pair-census")]
    if flow == Flow::Next {
        cpu.census.dispatches += 1;
    } else {
        cpu.census.forget();
    }
    match flow {
        // SAFETY: `next` is a live instruction of the same page.
        Flow::Next => unsafe { ((*next).exec)(cpu, bus, next, SPARE, rem) },
        // SAFETY: the caller's contract.
        Flow::Jump => unsafe { jump(cpu, bus, left_after(d, rem)) },
        // SAFETY: as above.
        flow => leave_chain(cpu, unsafe { left_after(d, rem) }, flow),
    }
}

/// The budget left after the instruction at `d` ran, `rem` being what is left after its
/// whole run (see [`Handler`]): its run from the next instruction on was paid for and will
/// not run now.
///
/// # Safety
/// `d` points at a live instruction.
#[inline(always)]
pub(crate) unsafe fn left_after(d: *const Insn, rem: u64) -> u64 {
    // SAFETY: the caller's contract.
    rem.wrapping_add(unsafe { (*d).run() }.wrapping_sub(1))
}

/// Go on with the instruction at `next`, which starts a run, with `left` budget: pay for its
/// run if the budget covers it, or end the chain before it for the block loop to go on.
///
/// # Safety
/// See [`Handler`]; `next` is a slot of the page's array.
#[inline(always)]
pub(crate) unsafe fn enter(cpu: &mut Cpu, bus: &mut Bus, next: *const Insn, left: u64) -> u64 {
    // SAFETY: the caller's contract.
    let run = unsafe { (*next).run() };
    if left >= run {
        // SAFETY: the caller's contract.
        return unsafe { ((*next).exec)(cpu, bus, next, SPARE, left - run) };
    }
    stop_chain(cpu, left, next)
}

/// End a chain between two instructions, with `left` budget left: the straight line goes on
/// at `next` (see [`ChainEnd`]).
#[inline(always)]
pub(crate) fn stop_chain(cpu: &mut Cpu, left: u64, next: *const Insn) -> u64 {
    cpu.chain_next = next;
    left
}

/// End a chain, with `left` budget left, because an instruction ended with `flow` (not
/// [`Flow::Next`]): `regs[15]` holds the next PC (see [`ChainEnd`]).
#[inline(always)]
pub(crate) fn leave_chain(cpu: &mut Cpu, left: u64, flow: Flow) -> u64 {
    cpu.chain_flow = flow;
    cpu.chain_next = std::ptr::null();
    left
}

impl Cpu {
    /// Run the chain of handlers that starts at `d`, with at most `budget` instructions. If
    /// the budget covers the run of `d`, the chain starts with that run paid for. If not,
    /// the slot where the budget ends (`budget` instructions on along the straight line,
    /// inside the run) gets the handler of a sentinel for the time of the chain, and the
    /// chain starts with more paid for than it has: `rem` "below zero", which the handlers
    /// that look ahead (condition runs, compare and branch) check.
    ///
    /// # Safety
    /// See [`Handler`]; the page's array is writable through `d` (the slots are patched and
    /// restored here), and nothing else reads it meanwhile.
    #[inline(always)]
    pub(crate) unsafe fn run_chain(&mut self, bus: &mut Bus, d: *const Insn, budget: u64) -> ChainEnd {
        #[cfg(feature = "pair-census")]
        self.census.forget();
        // SAFETY: the caller's contract.
        let run = unsafe { (*d).run() };
        let left = if budget >= run {
            // SAFETY: the caller's contract.
            unsafe { ((*d).exec)(self, bus, d, SPARE, budget - run) }
        } else {
            // SAFETY: the caller's contract.
            unsafe { self.run_partial(bus, d, budget, run) }
        };
        ChainEnd {
            left,
            next: self.chain_next,
        }
    }

    /// [`Cpu::run_chain`] for a budget that ends inside the run of `d` (`run` long).
    ///
    /// # Safety
    /// See [`Cpu::run_chain`]; `budget < run`.
    ///
    /// A superinstruction ([`crate::fuse`]) in the slot before the one patched would run
    /// past it, so for the time of the chain that slot (if unconditional) gets its
    /// instruction's own handler, which its `then` keeps.
    #[cold]
    #[inline(never)]
    unsafe fn run_partial(&mut self, bus: &mut Bus, d: *const Insn, budget: u64, run: u64) -> u64 {
        let mut stop = d.cast_mut();
        let mut before = stop;
        for _ in 0..budget {
            before = stop;
            // SAFETY: the straight line inside a run stays in the page's array.
            stop = unsafe { stop.byte_add(usize::from((*stop).next_bytes)) };
        }
        // SAFETY: `stop` is a slot of the run (so not a sentinel), and `before` the one
        // before it (`budget` is at least 1), both writable (the caller's contract); the chain
        // stops at `stop` and both are restored before anything else runs them.
        unsafe {
            let saved = ((*stop).exec, (*stop).then);
            let saved_before = (*before).exec;
            if (*before).cond() == COND_ALWAYS {
                (*before).exec = (*before).then;
            }
            (*stop).exec = end_of_page;
            (*stop).then = end_of_page;
            let left = ((*d).exec)(self, bus, d, SPARE, budget.wrapping_sub(run));
            ((*stop).exec, (*stop).then) = saved;
            (*before).exec = saved_before;
            left
        }
    }
}

/// A plain branch to `regs[15]`, with `left` budget after it: go on there if it is in the
/// same page and the budget covers the target's run, moving time on as the block loop would;
/// if it is in another page, as [`jump_out`] goes; return to the loop otherwise.
///
/// # Safety
/// See [`Handler`].
#[inline(always)]
pub(crate) unsafe fn jump(cpu: &mut Cpu, bus: &mut Bus, left: u64) -> u64 {
    let target = cpu.regs[15];
    // Inside an IT block (a jump before its last instruction, UNPREDICTABLE) the block loop
    // goes on one instruction at a time, as from every IT-block instruction before.
    if target & !0xfff == cpu.block_va && cpu.it == 0 {
        // The jump may have been the last instruction of an IT block.
        cpu.current_it = 0;
        // SAFETY: `block_page` is the array of the page at `block_va`, and the slot of an
        // offset below 4096 is inside it.
        let next = unsafe { cpu.block_page.add(((target & 0xfff) >> cpu.slot_shift) as usize) };
        // SAFETY: as above.
        let run = unsafe { (*next).run() };
        if left >= run {
            cpu.local_time = cpu.time_origin.wrapping_sub(left);
            // SAFETY: `next` is a live instruction of the same page.
            return unsafe { ((*next).exec)(cpu, bus, next, SPARE, left - run) };
        }
        return leave_chain(cpu, left, Flow::Jump);
    }
    // SAFETY: the caller's contract.
    unsafe { jump_out(cpu, bus, target, left) }
}

/// A plain branch to `target`, in another page than the block's, with `left` budget after
/// it: go on there if the block loop would do nothing but go on there, that is if the
/// chain may cross pages (no debugger checks block starts, no tracer), the CPU is not in an
/// IT block, no code is to be dropped, no interrupt would be taken, the fetch TLB maps the page
/// and knows its decoded code ([`crate::tlb::FetchEntry::code`]), and the budget covers
/// the target's run; the block goes on in that page (`block_va`, `block_page`), with time
/// moved on as the block loop would. Return to the loop otherwise, with `regs[15]` =
/// `target`.
///
/// Most blocks of the kernel's xz decompressor end with a branch between its two pages (a
/// call of the range coder, a return); going back to the block loop costs about 120 host
/// instructions each time. So do most blocks of user-mode Thumb code (busybox's calls and
/// returns between its functions' pages); the branch stays in the instruction set, so the
/// target page's code for it is the one the fetch TLB entry must know.
///
/// # Safety
/// See [`Handler`].
#[inline(never)]
pub(crate) unsafe fn jump_out(cpu: &mut Cpu, bus: &mut Bus, target: u32, left: u64) -> u64 {
    cpu.regs[15] = target;
    if cpu.chain_pages && cpu.it == 0 && cpu.between_blocks_is_nothing(bus) {
        if let Some(page) = cpu.known_code(target) {
            // SAFETY: `page` is the array of a live decoded page of the current instruction
            // set (its generation is the code cache's), and the slot of an offset below 4096
            // is inside it.
            let next = unsafe { page.add(((target & 0xfff) >> cpu.slot_shift) as usize) };
            // SAFETY: as above.
            let run = unsafe { (*next).run() };
            if left >= run {
                // The branch may have been the last instruction of an IT block.
                cpu.current_it = 0;
                cpu.block_va = target & !0xfff;
                cpu.block_page = page;
                debug_assert_eq!(cpu.slot_shift, if cpu.thumb { 1 } else { 2 });
                cpu.local_time = cpu.time_origin.wrapping_sub(left);
                // SAFETY: `next` is a live instruction of the block's page now.
                return unsafe { ((*next).exec)(cpu, bus, next, SPARE, left - run) };
            }
        }
    }
    leave_chain(cpu, left, Flow::Jump)
}

impl Cpu {
    /// True if the block loop, starting a block now, would do nothing before it: no decoded
    /// code or write TLB entries to drop, no FIQ or IRQ to take (see [`crate::run`]).
    #[inline(always)]
    fn between_blocks_is_nothing(&self, bus: &Bus) -> bool {
        !self.flush_code_cache
            && !bus.memory.has_invalidated()
            && bus.memory.code_epoch() == self.seen_code_epoch
            && (self.mask_f || !bus.irq.cpu_fiq(self.config.index))
            && (self.mask_i || !bus.irq.cpu_irq(self.config.index))
    }
}

/// The handler of the sentinel slots after the last instruction of a page: the straight
/// line ends here; nothing is executed or counted. Also the handler of the slot where a
/// budget ends inside a run, for the time of the chain ([`Cpu::run_chain`]): what is left
/// is then the part of the run from that slot on, which was paid for and does not run.
///
/// # Safety
/// See [`Handler`].
pub unsafe fn end_of_page(cpu: &mut Cpu, _bus: &mut Bus, d: *const Insn, _: Spare, rem: u64) -> u64 {
    // SAFETY: the caller's contract.
    stop_chain(cpu, rem.wrapping_add(unsafe { (*d).run() }), d)
}

/// The step of a sentinel (never executed: the block loop stops at sentinels).
fn end_of_page_step(_cpu: &mut Cpu, _bus: &mut Bus, _d: &Insn) -> Flow {
    Flow::Next
}

/// The family of the sentinel slots.
pub static END_OF_PAGE: Ops = Ops::uniform(end_of_page_step, end_of_page);
