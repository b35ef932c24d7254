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
//! Inside a block, the instructions' handlers run one after the other by themselves
//! (threaded dispatch, see [`crate::thread`]); the block loop here only starts them, and
//! picks up where they stop: at the end of the budget or the page, or at a branch out.

use crate::code_cache::{ARM_SLOTS, CodeCache, SENTINELS, THUMB_SLOTS};
use crate::cpu::{Cpu, Exit};
use crate::debug::{DebugControl, DebugStop};
use crate::insn::{COND_ALWAYS, ChainEnd, Flow, Insn};
use crate::thread::CHUNK;
use crate::tlb::THUMB_CODE;
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
        // The TLB holds host pointers into the memory that filled it: drop it if that was
        // not this bus's memory.
        self.adopt_memory(&bus.memory);
        let start = self.icount;
        let end = start + budget;
        let stop_at = start + budget.min(debug.limit);
        self.exit = Exit::Budget;
        let tracing = self.tracer.is_some();
        let checking = debug.checking();
        // A debugger checks every block start, and a tracer runs one instruction at a time.
        self.chain_pages = !tracing && !checking;
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
    #[inline(always)]
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
            code.thumb_page(&mut bus.memory, index, host)
        } else {
            code.arm_page(&mut bus.memory, index, host)
        };
        let (slots, raw) = (page.as_mut_ptr().cast_const(), page.raw_ptr());
        // The generation with the instruction set, as the fetch TLB's code entries keep it.
        self.code_generation = code.generation() | if THUMB { THUMB_CODE } else { 0 };
        self.note_code(pc, slots, self.code_generation);
        self.sync_code_epoch(bus);
        self.block::<THUMB, CHECKED>(bus, slots, raw, pc, remaining, debug)
    }

    /// Before the instruction at `pc` inside a checked block (the first one of the block was
    /// checked by the run loop): trace it, and stop if it is a breakpoint.
    #[inline(always)]
    fn check_insn(&mut self, pc: u32, raw: u32, len: u8, debug: &DebugControl) -> bool {
        if self.tracer.is_some() {
            self.trace_insn(pc, raw, len);
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

    /// Execute the instructions of one decoded page (`page`: its slots, one per word in ARM
    /// state, one per halfword in Thumb state, then the sentinels; `raw`: their encodings)
    /// starting at `pc`, for at most `budget` instructions, following plain branches that
    /// stay in the page. Returns how it stopped, the number of instructions executed, and
    /// whether the budget ended it inside the page; `regs[15]` holds the next PC.
    ///
    /// Straight runs are chains of threaded handlers (see [`crate::thread`]), given at most
    /// [`CHUNK`] instructions at a time. Checked blocks, and Thumb instructions inside an IT
    /// block, run one instruction per call (a budget of one).
    ///
    /// `local_time` is the time the block started at, moved on at every branch that stays in
    /// the page to `time_base + instructions so far`; what it does not count yet when the
    /// block ends inside its page is kept in `time_carry` for a debugger stop to resume with.
    #[inline(always)]
    fn block<const THUMB: bool, const CHECKED: bool>(
        &mut self,
        bus: &mut Bus,
        page: *const Insn,
        raw: *const u32,
        pc: u32,
        budget: u64,
        debug: &DebugControl,
    ) -> (Flow, u64, bool) {
        let (slot_count, shift, bias) = if THUMB { (THUMB_SLOTS, 1, 4) } else { (ARM_SLOTS, 2, 8) };
        self.block_va = pc & !0xfff;
        self.block_page = page;
        self.slot_shift = shift;
        let time_base = self.local_time.wrapping_add(std::mem::take(&mut self.dbg.time_carry));
        let mut done = 0u64;
        let mut first = true;
        // SAFETY: the slot of an offset below 4096 is in the page's array.
        let mut d = unsafe { page.add(((pc & 0xfff) >> shift) as usize) };
        loop {
            let end = if CHECKED || (THUMB && self.it != 0) {
                if CHECKED {
                    // SAFETY: `d` is an instruction slot of the page (below the sentinels).
                    let (insn, index) = unsafe { (&*d, d.offset_from(page) as usize) };
                    let at = self.block_va.wrapping_add(u32::from(insn.pc) - bias);
                    // SAFETY: `raw` has one entry per instruction slot.
                    let encoding = unsafe { *raw.add(index) };
                    if !first && self.check_insn(at, encoding, insn.len(THUMB) as u8, debug) {
                        let unsynced = time_base.wrapping_add(done).wrapping_sub(self.local_time);
                        self.stop_mid_block(at, unsynced, DebugStop::Breakpoint);
                        return (Flow::Stop, done, false);
                    }
                    if first && self.tracer.is_some() {
                        self.trace_insn(at, encoding, insn.len(THUMB) as u8);
                    }
                    first = false;
                }
                done += 1;
                if THUMB && self.it != 0 {
                    // SAFETY: `d` is an instruction slot of the page.
                    unsafe { self.step_in_it_block(bus, d) }
                } else {
                    // SAFETY: `d` is an instruction slot of the page, and the block fields
                    // describe the page.
                    unsafe { self.run_chain(bus, d, 1) }
                }
            } else {
                let chunk = (budget - done).min(CHUNK);
                self.time_origin = time_base.wrapping_add(done + chunk);
                // SAFETY: as above.
                let end = unsafe { self.run_chain(bus, d, chunk) };
                done += chunk - end.left;
                // Between two instructions no ITSTATE is current: the chain may have left
                // from the last instruction of an IT block (see `crate::exec::thumb`).
                self.current_it = 0;
                end
            };
            // A chain may have gone on into another page (see `crate::thread::jump`): the
            // block is in that page now.
            let page = self.block_page;
            // The first sentinel: slots at or past it end the page.
            let sentinel = page.wrapping_add(slot_count);
            if !end.next.is_null() {
                // The straight line goes on at `end.next`, or, if that is a copy of an IT
                // block's instruction or the end of one (see
                // `crate::exec::thumb::it_block_copies`), at the slot it stands for.
                let mut next = end.next;
                if next >= sentinel.wrapping_add(SENTINELS) {
                    // SAFETY: a copy's `pc` is its slot's, whose offset is at most 4096
                    // (the first sentinel).
                    next = unsafe { page.add(((u32::from((*next).pc) - bias) >> shift) as usize) };
                }
                // SAFETY: chains only stop at slots of the page's array.
                let next_pc = self
                    .block_va
                    .wrapping_add(u32::from(unsafe { (*next).pc }).wrapping_sub(bias));
                let at_sentinel = next >= sentinel;
                if at_sentinel || done == budget {
                    self.regs[15] = next_pc;
                    // Kept only if a debugger limit paused the block (see `run_with`).
                    self.dbg.time_carry = time_base.wrapping_add(done).wrapping_sub(self.local_time);
                    return (Flow::Next, done, !at_sentinel);
                }
                d = next;
                continue;
            }
            match self.chain_flow {
                // A plain branch within this page continues the block (in chains, the
                // handler itself does this, unless the chain's share of the budget is used up).
                Flow::Jump if self.regs[15] & !0xfff == self.block_va && done < budget => {
                    // Time moves on for timer and counter reads in the loop.
                    self.local_time = time_base.wrapping_add(done);
                    // SAFETY: the slot of an offset below 4096 is in the page's array.
                    d = unsafe { page.add(((self.regs[15] & 0xfff) >> shift) as usize) };
                }
                Flow::Stop if self.dbg.retried != 0 => {
                    // A watchpoint stopped the last instruction before it completed.
                    let ran = done - self.dbg.retried;
                    self.dbg.time_carry = time_base.wrapping_add(ran).wrapping_sub(self.local_time);
                    self.dbg.resume_mid_block = true;
                    return (Flow::Stop, done, false);
                }
                flow => return (flow, done, false),
            }
        }
    }

    /// Execute the Thumb instruction at `d` inside an IT block (ITSTATE non-zero). The
    /// condition comes from ITSTATE, which advances before the instruction runs.
    /// `current_it` holds the instruction's ITSTATE while it runs, for the exceptions that
    /// return to it (aborts, undefined instructions) and for the 16-bit data-processing
    /// instructions, which set flags only outside IT blocks; it is zero outside IT blocks,
    /// so the common path stores nothing.
    ///
    /// # Safety
    /// `d` must be an instruction slot of the page the block fields describe.
    unsafe fn step_in_it_block(&mut self, bus: &mut Bus, d: *const Insn) -> ChainEnd {
        let it = self.it;
        self.current_it = it;
        self.advance_it();
        let cond = it >> 4;
        // SAFETY: the caller's contract.
        let insn = unsafe { &*d };
        // SAFETY: the next slot is in the page's array (pages end with sentinels).
        let next = unsafe { d.add(insn.slots()) };
        let end = if cond == COND_ALWAYS || self.condition_passed(cond) {
            if insn.cond() == COND_ALWAYS {
                // SAFETY: the caller's contract.
                unsafe { self.run_chain(bus, d, 1) }
            } else {
                // A conditional branch (the only conditional Thumb instructions) inside an
                // IT block (UNPREDICTABLE): ITSTATE's condition decides, not its own. Run
                // an unconditional copy; the copy only stands for the slot (its next slot
                // is the slot's).
                let mut copy = Insn {
                    exec: crate::exec::branch::unconditional_handler(insn),
                    ..*insn
                };
                copy.set_cond(COND_ALWAYS);
                // The copy, then sentinels where a branch not taken goes on (one or two slots
                // on), which end the chain there.
                let end_of_page = Insn::operands();
                let copies = [copy, end_of_page, end_of_page];
                // SAFETY: with a budget of one, the handler (a B, which ends its run: run
                // length 1, so nothing is patched) reads only the copy, and the slot after it
                // if the branch is not taken (a sentinel).
                let end = unsafe { self.run_chain(bus, copies.as_ptr(), 1) };
                if end.next.is_null() {
                    end
                } else {
                    ChainEnd { left: 0, next }
                }
            }
        } else {
            ChainEnd { left: 0, next }
        };
        // The block is over (or an exception entry or return replaced ITSTATE).
        if self.it == 0 {
            self.current_it = 0;
        }
        end
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
