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
        let start = self.icount;
        let end = start + budget;
        self.exit = Exit::Budget;
        let tracing = self.tracer.is_some();
        while self.icount < end {
            self.local_time = now + (self.icount - start);
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
            let remaining = end - self.icount;
            let (flow, executed) = match (self.thumb, tracing) {
                (false, false) => self.run_block::<false, false>(bus, code, remaining),
                (false, true) => self.run_block::<false, true>(bus, code, remaining),
                (true, false) => self.run_block::<true, false>(bus, code, remaining),
                (true, true) => self.run_block::<true, true>(bus, code, remaining),
            };
            self.icount += executed;
            if flow == Flow::Stop {
                return self.exit;
            }
        }
        Exit::Budget
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
    fn run_block<const THUMB: bool, const TRACE: bool>(
        &mut self,
        bus: &mut Bus,
        code: &mut CodeCache,
        remaining: u64,
    ) -> (Flow, u64) {
        let pc = self.regs[15] & if THUMB { !1 } else { !3 };
        let (index, host) = match self.fetch_page(bus, pc) {
            Ok(p) => p,
            Err(fault) => {
                self.prefetch_abort(pc, fault);
                return (Flow::Branch, FETCH_ABORT_COST);
            }
        };
        let page = if THUMB {
            code.thumb_page(&mut bus.memory, index, host).as_ptr()
        } else {
            code.arm_page(&mut bus.memory, index, host).as_ptr()
        };
        self.sync_code_epoch(bus);
        let (executed, flow) = if THUMB {
            self.thumb_block::<TRACE>(bus, page, pc, remaining)
        } else {
            self.arm_block::<TRACE>(bus, page, pc, remaining)
        };
        (flow, executed)
    }

    /// Execute ARM instructions of one decoded page starting at `pc`, for at most `budget`
    /// instructions, following plain branches that stay in the page. Returns the number of
    /// instructions executed and why it stopped; `regs[15]` holds the next PC.
    ///
    /// Kept small and out of line so that its loop state (CPU, bus, instruction pointer, end,
    /// PC) lives in registers across the handler calls.
    #[inline(never)]
    fn arm_block<const TRACE: bool>(
        &mut self,
        bus: &mut Bus,
        page: *const Insn,
        mut pc: u32,
        budget: u64,
    ) -> (u64, Flow) {
        let page_base = pc & !0xfff;
        // Instructions retired before the current straight run, and how many of them
        // `local_time` already counts.
        let mut done = 0u64;
        let mut timed = 0u64;
        loop {
            let first = ((pc & 0xfff) >> 2) as usize;
            let count = (ARM_SLOTS - first).min((budget - done).min(ARM_SLOTS as u64) as usize);
            // SAFETY: `first + count <= ARM_SLOTS`, the length of the page's array.
            let start = unsafe { page.add(first) };
            // SAFETY: as above.
            let end = unsafe { start.add(count) };
            let mut p = start;
            let mut flow = Flow::Next;
            while p < end {
                // SAFETY: `start <= p < end`, inside the page's array.
                let insn = unsafe { &*p };
                // SAFETY: `p < end`, so `p + 1` is at most one past the array's end.
                p = unsafe { p.add(1) };
                self.regs[15] = pc.wrapping_add(8);
                if TRACE {
                    self.trace_insn(bus, pc, insn);
                }
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
                    return (done, Flow::Next);
                }
                // A plain branch within this page continues the block.
                Flow::Jump if self.regs[15] & !0xfff == page_base && done < budget => {
                    // Time moves on for timer and counter reads in the loop.
                    self.local_time += done - timed;
                    timed = done;
                    pc = self.regs[15];
                }
                _ => return (done, flow),
            }
        }
    }

    /// Execute Thumb instructions of one decoded page (one slot per halfword; a 32-bit
    /// instruction occupies the slot of its first halfword) starting at `pc`, as
    /// [`Cpu::arm_block`] does for ARM code.
    ///
    /// Every instruction takes at least one slot, so a straight run of at most `n` slots
    /// executes at most `n` instructions: the loop bounds the run by slots and needs no
    /// separate budget check (a run with 32-bit instructions may end before the budget is
    /// used up; the caller then simply starts another block).
    #[inline(never)]
    fn thumb_block<const TRACE: bool>(
        &mut self,
        bus: &mut Bus,
        page: *const Insn,
        mut pc: u32,
        budget: u64,
    ) -> (u64, Flow) {
        let page_base = pc & !0xfff;
        // One past the end of the page's array of THUMB_SLOTS instructions: pointers are
        // only moved with `wrapping_add` and compared against it, and read while below it.
        let end = page.wrapping_add(THUMB_SLOTS);
        let mut executed = 0u64;
        // Instructions already accounted for in `local_time`.
        let mut timed = 0u64;
        loop {
            let mut p = page.wrapping_add(((pc & 0xfff) >> 1) as usize);
            let limit = end.min(p.wrapping_add((budget - executed).min(THUMB_SLOTS as u64) as usize));
            let mut flow = Flow::Next;
            while p < limit {
                // SAFETY: `page <= p < limit <= end`, inside the page's array.
                let insn = unsafe { &*p };
                executed += 1;
                self.regs[15] = pc.wrapping_add(4);
                if TRACE {
                    self.trace_insn(bus, pc, insn);
                }
                let it = self.it;
                if it == 0 {
                    if insn.cond == COND_ALWAYS || self.condition_passed(insn.cond) {
                        flow = (insn.exec)(self, bus, insn);
                        if flow != Flow::Next {
                            break;
                        }
                    }
                } else {
                    flow = self.step_in_it_block(bus, insn, it);
                    if flow != Flow::Next {
                        break;
                    }
                }
                pc = pc.wrapping_add(u32::from(insn.len));
                // A 32-bit instruction in the last slot (one that crosses into the next
                // page) moves `p` two slots past the end: only compared, never read.
                p = p.wrapping_add(usize::from(insn.len >> 1));
            }
            match flow {
                Flow::Next => {
                    self.regs[15] = pc;
                    return (executed, Flow::Next);
                }
                // A plain branch within this page continues the block.
                Flow::Jump if self.regs[15] & !0xfff == page_base && executed < budget => {
                    self.local_time += executed - timed;
                    timed = executed;
                    pc = self.regs[15];
                }
                _ => return (executed, flow),
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
