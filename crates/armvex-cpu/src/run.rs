//! The execution loop.
//!
//! [`Cpu::run`] executes *blocks*: straight runs of predecoded instructions inside one 4 KiB
//! page, ending at a branch (any instruction that returns [`Flow::Branch`]), at the end of the
//! page, or when the instruction budget runs out. Everything that is not an instruction
//! happens *between* blocks, never per instruction:
//!
//! 1. drop predecoded pages that were written (self-modifying code, DMA, page reuse);
//! 2. take a pending FIQ or IRQ if unmasked;
//! 3. look up the page of the PC through the fetch TLB (a prefetch abort if that faults);
//! 4. drop TLB write entries if a page became a code page (so writes to it are seen).
//!
//! Inside a block the loop only sets R15 to "this instruction + 8" (what an instruction reads
//! as PC), checks the condition code and calls the handler.

use crate::code_cache::{ARM_SLOTS, CodeCache, THUMB_SLOTS};
use crate::cpu::{Cpu, Exit};
use crate::debug::{DebugControl, DebugStop};
use crate::insn::{COND_ALWAYS, Flow, Insn};
use armvex_bus::Bus;

/// A prefetch abort taken because the PC's page cannot be fetched counts as one instruction,
/// so that virtual time moves on (and the run loop returns) even when the abort vector
/// itself cannot be fetched and the CPU does nothing but take aborts.
const FETCH_ABORT_COST: u64 = 1;

impl Cpu {
    /// Run at most `budget` instructions. `now` is the virtual time (ns) at which this run
    /// starts; with one instruction per nanosecond, MMIO accesses see `now` plus the
    /// instructions retired so far in this run (counted at block starts).
    pub fn run(&mut self, bus: &mut Bus, code: &mut CodeCache, budget: u64, now: u64) -> Exit {
        self.run_with(bus, code, budget, now, &DebugControl::NONE)
    }

    /// [`Cpu::run`] with breakpoints, a stop request or an instruction limit (see
    /// [`crate::debug`]). With [`DebugControl::NONE`] this is exactly `run`.
    ///
    /// `budget` is where the *schedule* ends this CPU's turn (a natural block boundary);
    /// `debug.limit` is where a debugger wants it to stop, which may be inside a block: the
    /// next run then continues that block as if it had never stopped.
    pub fn run_with(
        &mut self,
        bus: &mut Bus,
        code: &mut CodeCache,
        budget: u64,
        now: u64,
        debug: &DebugControl,
    ) -> Exit {
        let start = self.icount;
        let end = start + budget;
        let stop_at = start + budget.min(debug.limit);
        self.exit = Exit::Budget;
        let tracing = self.tracer.is_some();
        let checking = debug.checking();
        while self.icount < stop_at {
            if std::mem::take(&mut self.dbg.resume_mid_block) {
                // Continue the block a debugger stop interrupted: no between-block work, and
                // `local_time` stays what the block started with.
            } else {
                self.local_time = now + (self.icount - start);
                self.dbg.time_carry = 0;
                if self.flush_code_cache {
                    self.flush_code_cache = false;
                    code.clear(&mut bus.memory);
                }
                if bus.memory.has_invalidated() {
                    code.drop_invalidated(&mut bus.memory);
                }
                if !self.mask_f && bus.irq.cpu_fiq(self.config.index) {
                    self.take_interrupt(true);
                } else if !self.mask_i && bus.irq.cpu_irq(self.config.index) {
                    self.take_interrupt(false);
                }
            }
            let mut checked = false;
            if checking {
                if let Some(stop) = self.debug_stop_before(debug) {
                    self.dbg.resume_mid_block = true;
                    self.exit = Exit::Debug(stop);
                    return self.exit;
                }
                checked = debug.page_has_breakpoint(self.regs[15]);
            }
            let remaining = stop_at - self.icount;
            let (flow, executed, mid_block) = match (self.thumb, tracing || checked) {
                (false, false) => self.run_block::<false, false>(bus, code, remaining, debug),
                (false, true) => self.run_block::<false, true>(bus, code, remaining, debug),
                (true, false) => self.run_block::<true, false>(bus, code, remaining, debug),
                (true, true) => self.run_block::<true, true>(bus, code, remaining, debug),
            };
            self.icount += executed - std::mem::take(&mut self.dbg.retried);
            if flow == Flow::Stop {
                return self.exit;
            }
            // Stopped by the debugger's limit inside a block the schedule would have gone on
            // with: the next run continues it.
            if mid_block && stop_at < end && self.icount == stop_at {
                self.dbg.resume_mid_block = true;
            }
        }
        if self.icount < end {
            self.exit = Exit::Debug(DebugStop::Limit);
        }
        self.exit
    }

    /// Drop TLB write entries if some page became a code page since we last looked.
    #[inline(always)]
    fn sync_code_epoch(&mut self, bus: &Bus) {
        let epoch = bus.memory.code_epoch();
        if epoch != self.seen_code_epoch {
            self.seen_code_epoch = epoch;
            self.tlb.flush_writes();
        }
    }

    /// Run one block from `regs[15]`: fetch its page (a prefetch abort if it cannot be
    /// fetched), get the page's predecoded instructions, and execute them in ARM or Thumb state.
    /// Returns how the block ended, the instructions it ran, and whether the budget ended it
    /// inside its page (rather than a branch or the end of the page).
    ///
    /// `CHECKED` blocks call [`Cpu::trace_insn`] when tracing and stop at breakpoints.
    fn run_block<const THUMB: bool, const CHECKED: bool>(
        &mut self,
        bus: &mut Bus,
        code: &mut CodeCache,
        remaining: u64,
        debug: &DebugControl,
    ) -> (Flow, u64, bool) {
        let pc = self.regs[15] & if THUMB { !1 } else { !3 };
        let (index, host) = match self.fetch_page(bus, pc) {
            Ok(p) => p,
            Err(fault) => {
                self.prefetch_abort(pc, fault);
                return (Flow::Branch, FETCH_ABORT_COST, false);
            }
        };
        let page = if THUMB {
            code.thumb_page(&mut bus.memory, index, host).as_ptr()
        } else {
            code.arm_page(&mut bus.memory, index, host).as_ptr()
        };
        self.sync_code_epoch(bus);
        if THUMB {
            self.thumb_block::<CHECKED>(bus, page, pc, remaining, debug)
        } else {
            self.arm_block::<CHECKED>(bus, page, pc, remaining, debug)
        }
    }

    /// Before the instruction at `pc` inside a checked block (the first one of the block was
    /// checked by the run loop): trace it, and stop if it is a breakpoint.
    #[inline(always)]
    fn check_insn(&mut self, bus: &mut Bus, pc: u32, insn: &Insn, debug: &DebugControl) -> bool {
        if self.tracer.is_some() {
            self.trace_insn(bus, pc, insn);
        }
        debug.is_breakpoint(pc)
    }

    /// Leave a block in the middle for the debugger, before the instruction at `pc`: the next
    /// run continues the block, with `unsynced` instructions not yet added to `local_time`.
    #[cold]
    fn stop_mid_block(&mut self, pc: u32, unsynced: u64, stop: DebugStop) {
        self.regs[15] = pc;
        self.dbg.resume_mid_block = true;
        self.dbg.time_carry = unsynced;
        self.exit = Exit::Debug(stop);
    }

    /// Execute ARM instructions of one decoded page starting at `pc`, for at most `budget`
    /// instructions, following plain branches that stay in the page. Returns how it stopped,
    /// the number of instructions executed, and whether the budget ended it inside the page;
    /// `regs[15]` holds the next PC.
    ///
    /// Kept small and out of line so that its loop state (CPU, bus, instruction pointer, end,
    /// PC) lives in registers across the handler calls.
    #[inline(never)]
    fn arm_block<const CHECKED: bool>(
        &mut self,
        bus: &mut Bus,
        page: *const Insn,
        mut pc: u32,
        budget: u64,
        debug: &DebugControl,
    ) -> (Flow, u64, bool) {
        let page_base = pc & !0xfff;
        // Instructions retired before the current straight run, and how many of them
        // `local_time` already counts (minus those a debugger stop carried over).
        let mut done = 0u64;
        let mut timed = 0u64.wrapping_sub(std::mem::take(&mut self.dbg.time_carry));
        let mut first = true;
        loop {
            let first_slot = ((pc & 0xfff) >> 2) as usize;
            let count = (ARM_SLOTS - first_slot).min((budget - done).min(ARM_SLOTS as u64) as usize);
            // SAFETY: `first_slot + count <= ARM_SLOTS`, the length of the page's array.
            let start = unsafe { page.add(first_slot) };
            // SAFETY: as above.
            let end = unsafe { start.add(count) };
            let mut p = start;
            let mut flow = Flow::Next;
            while p < end {
                // SAFETY: `start <= p < end`, inside the page's array.
                let insn = unsafe { &*p };
                if CHECKED {
                    if !first && self.check_insn(bus, pc, insn, debug) {
                        // SAFETY: both pointers are in the same array.
                        let ran = done + unsafe { p.offset_from(start) } as u64;
                        self.stop_mid_block(pc, ran.wrapping_sub(timed), DebugStop::Breakpoint);
                        return (Flow::Stop, ran, false);
                    }
                    if first && self.tracer.is_some() {
                        self.trace_insn(bus, pc, insn);
                    }
                    first = false;
                }
                // SAFETY: `p < end`, so `p + 1` is at most one past the array's end.
                p = unsafe { p.add(1) };
                self.regs[15] = pc.wrapping_add(8);
                if insn.cond == COND_ALWAYS || self.condition_passed(insn.cond) {
                    flow = (insn.exec)(self, bus, insn);
                    if flow != Flow::Next {
                        break;
                    }
                }
                pc = pc.wrapping_add(4);
            }
            // SAFETY: both pointers are in the same array.
            done += unsafe { p.offset_from(start) } as u64;
            match flow {
                Flow::Next => {
                    self.regs[15] = pc;
                    // Kept only if a debugger limit paused the block (see `run_with`).
                    self.dbg.time_carry = done.wrapping_sub(timed);
                    return (Flow::Next, done, first_slot + count < ARM_SLOTS);
                }
                // A plain branch within this page continues the block.
                Flow::Jump if self.regs[15] & !0xfff == page_base && done < budget => {
                    // Time moves on for timer and counter reads in the loop.
                    self.local_time = self.local_time.wrapping_add(done.wrapping_sub(timed));
                    timed = done;
                    pc = self.regs[15];
                }
                Flow::Stop if self.dbg.retried != 0 => {
                    // A watchpoint stopped the last instruction before it completed.
                    let ran = done - self.dbg.retried;
                    self.dbg.time_carry = ran.wrapping_sub(timed);
                    self.dbg.resume_mid_block = true;
                    return (flow, done, false);
                }
                _ => return (flow, done, false),
            }
        }
    }

    /// Execute Thumb instructions of one decoded page (one slot per halfword; a 32-bit
    /// instruction occupies the slot of its first halfword) starting at `pc`, as
    /// [`Cpu::arm_block`] does for ARM code.
    ///
    /// Every instruction takes at least one slot, so a straight run of at most `n` slots
    /// executes at most `n` instructions: the inner loop bounds the run by slots and needs no
    /// separate budget check; only when the slots run out first does it look at the budget.
    #[inline(never)]
    fn thumb_block<const CHECKED: bool>(
        &mut self,
        bus: &mut Bus,
        page: *const Insn,
        mut pc: u32,
        budget: u64,
        debug: &DebugControl,
    ) -> (Flow, u64, bool) {
        let page_base = pc & !0xfff;
        // One past the end of the page's array of THUMB_SLOTS instructions: pointers are
        // only moved with `wrapping_add` and compared against it, and read while below it.
        let end = page.wrapping_add(THUMB_SLOTS);
        let mut executed = 0u64;
        // Instructions already accounted for in `local_time` (minus a debugger stop's carry).
        let mut timed = 0u64.wrapping_sub(std::mem::take(&mut self.dbg.time_carry));
        let mut first = true;
        loop {
            let mut p = page.wrapping_add(((pc & 0xfff) >> 1) as usize);
            let mut flow = Flow::Next;
            'run: loop {
                // Bounded by slots, which bounds the instructions too; with 32-bit
                // instructions the slots may run out before the budget: go on then, so the
                // block ends exactly at the budget (or its page's end), whatever the mix.
                let limit = end.min(p.wrapping_add((budget - executed).min(THUMB_SLOTS as u64) as usize));
                while p < limit {
                    // SAFETY: `page <= p < limit <= end`, inside the page's array.
                    let insn = unsafe { &*p };
                    if CHECKED {
                        if !first && self.check_insn(bus, pc, insn, debug) {
                            self.stop_mid_block(pc, executed.wrapping_sub(timed), DebugStop::Breakpoint);
                            return (Flow::Stop, executed, false);
                        }
                        if first && self.tracer.is_some() {
                            self.trace_insn(bus, pc, insn);
                        }
                        first = false;
                    }
                    executed += 1;
                    self.regs[15] = pc.wrapping_add(4);
                    let it = self.it;
                    if it == 0 {
                        if insn.cond == COND_ALWAYS || self.condition_passed(insn.cond) {
                            flow = (insn.exec)(self, bus, insn);
                            if flow != Flow::Next {
                                break 'run;
                            }
                        }
                    } else {
                        flow = self.step_in_it_block(bus, insn, it);
                        if flow != Flow::Next {
                            break 'run;
                        }
                    }
                    pc = pc.wrapping_add(u32::from(insn.len));
                    // A 32-bit instruction in the last slot (one that crosses into the next
                    // page) moves `p` two slots past the end: only compared, never read.
                    p = p.wrapping_add(usize::from(insn.len >> 1));
                }
                if p >= end || executed >= budget {
                    break;
                }
            }
            match flow {
                Flow::Next => {
                    self.regs[15] = pc;
                    // Kept only if a debugger limit paused the block (see `run_with`).
                    self.dbg.time_carry = executed.wrapping_sub(timed);
                    return (Flow::Next, executed, p < end);
                }
                // A plain branch within this page continues the block.
                Flow::Jump if self.regs[15] & !0xfff == page_base && executed < budget => {
                    self.local_time = self.local_time.wrapping_add(executed.wrapping_sub(timed));
                    timed = executed;
                    pc = self.regs[15];
                }
                Flow::Stop if self.dbg.retried != 0 => {
                    let ran = executed - self.dbg.retried;
                    self.dbg.time_carry = ran.wrapping_sub(timed);
                    self.dbg.resume_mid_block = true;
                    return (flow, executed, false);
                }
                _ => return (flow, executed, false),
            }
        }
    }

    /// Execute one instruction inside an IT block, whose ITSTATE is `it` (non-zero). The
    /// condition comes from ITSTATE, which advances before the instruction runs.
    /// `current_it` holds the instruction's ITSTATE while it runs, for the exceptions that
    /// return to it (aborts, undefined instructions) and for the 16-bit data-processing
    /// instructions, which set flags only outside IT blocks; it is zero outside IT blocks,
    /// so the common path stores nothing.
    #[inline]
    fn step_in_it_block(&mut self, bus: &mut Bus, insn: &Insn, it: u8) -> Flow {
        self.current_it = it;
        self.advance_it();
        let cond = it >> 4;
        let flow = if cond == COND_ALWAYS || self.condition_passed(cond) {
            (insn.exec)(self, bus, insn)
        } else {
            Flow::Next
        };
        // The block is over (or an exception entry or return replaced ITSTATE).
        if self.it == 0 {
            self.current_it = 0;
        }
        flow
    }

    /// ITAdvance() (ARM ARM A2.5.2).
    #[inline(always)]
    pub(crate) fn advance_it(&mut self) {
        if self.it & 7 == 0 {
            self.it = 0;
        } else {
            self.it = (self.it & 0xe0) | ((self.it << 1) & 0x1f);
        }
    }
}
