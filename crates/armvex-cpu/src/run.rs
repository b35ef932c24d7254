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
use crate::insn::{COND_ALWAYS, Flow};
use armvex_bus::Bus;

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
                (false, false) => self.run_arm_block::<false>(bus, code, remaining),
                (false, true) => self.run_arm_block::<true>(bus, code, remaining),
                (true, false) => self.run_thumb_block::<false>(bus, code, remaining),
                (true, true) => self.run_thumb_block::<true>(bus, code, remaining),
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

    fn run_arm_block<const TRACE: bool>(&mut self, bus: &mut Bus, code: &mut CodeCache, remaining: u64) -> (Flow, u64) {
        let mut pc = self.regs[15] & !3;
        let (index, host) = match self.fetch_page(bus, pc) {
            Ok(p) => p,
            Err(fault) => {
                self.prefetch_abort(pc, fault);
                return (Flow::Branch, 0);
            }
        };
        let page = code.arm_page(&mut bus.memory, index, host);
        self.sync_code_epoch(bus);
        let page_base = pc & !0xfff;
        // Instructions retired before the current straight run, and where that run started.
        let mut done = 0u64;
        let mut first = ((pc & 0xfff) >> 2) as usize;
        let mut last = ARM_SLOTS.min(first + remaining.min(ARM_SLOTS as u64) as usize);
        let mut i = first;
        while i < last {
            let insn = &page[i];
            i += 1;
            self.regs[15] = pc.wrapping_add(8);
            if TRACE {
                self.trace_insn(bus, pc, insn);
            }
            if insn.cond == COND_ALWAYS || self.condition_passed(insn.cond) {
                let flow = (insn.exec)(self, bus, insn);
                if flow != Flow::Next {
                    let executed = done + (i - first) as u64;
                    let target = self.regs[15];
                    // A plain branch within this page continues the block.
                    if flow == Flow::Jump && target & !0xfff == page_base && executed < remaining {
                        // Time moves on for timer and counter reads in the loop.
                        self.local_time += executed - done;
                        done = executed;
                        pc = target;
                        first = ((pc & 0xfff) >> 2) as usize;
                        last = ARM_SLOTS.min(first + (remaining - done).min(ARM_SLOTS as u64) as usize);
                        i = first;
                        continue;
                    }
                    return (flow, executed);
                }
            }
            pc = pc.wrapping_add(4);
        }
        self.regs[15] = pc;
        (Flow::Next, done + (i - first) as u64)
    }

    fn run_thumb_block<const TRACE: bool>(
        &mut self,
        bus: &mut Bus,
        code: &mut CodeCache,
        remaining: u64,
    ) -> (Flow, u64) {
        let mut pc = self.regs[15] & !1;
        let (index, host) = match self.fetch_page(bus, pc) {
            Ok(p) => p,
            Err(fault) => {
                self.prefetch_abort(pc, fault);
                return (Flow::Branch, 0);
            }
        };
        let page = code.thumb_page(&mut bus.memory, index, host);
        self.sync_code_epoch(bus);
        let page_base = pc & !0xfff;
        let mut slot = ((pc & 0xfff) >> 1) as usize;
        let mut executed = 0u64;
        // Instructions already accounted for in `local_time`.
        let mut timed = 0u64;
        while slot < THUMB_SLOTS && executed < remaining {
            let insn = &page[slot];
            executed += 1;
            self.regs[15] = pc.wrapping_add(4);
            if TRACE {
                self.trace_insn(bus, pc, insn);
            }
            // Inside an IT block the condition comes from ITSTATE, which advances before the
            // instruction runs; `current_it` keeps this instruction's ITSTATE for exceptions
            // that return to it (aborts, undefined instructions).
            let it = self.it;
            self.current_it = it;
            let cond = if it != 0 {
                self.advance_it();
                it >> 4
            } else {
                insn.cond
            };
            if cond == COND_ALWAYS || self.condition_passed(cond) {
                let flow = (insn.exec)(self, bus, insn);
                if flow != Flow::Next {
                    let target = self.regs[15];
                    if flow == Flow::Jump && target & !0xfff == page_base {
                        self.local_time += executed - timed;
                        timed = executed;
                        pc = target;
                        slot = ((pc & 0xfff) >> 1) as usize;
                        continue;
                    }
                    return (flow, executed);
                }
            }
            pc = pc.wrapping_add(u32::from(insn.len));
            slot += usize::from(insn.len) / 2;
        }
        self.regs[15] = pc;
        (Flow::Next, executed)
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
