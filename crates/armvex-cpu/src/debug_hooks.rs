//! The core's side of [`crate::debug`]: what a debugger calls on a [`Cpu`] (watchpoints,
//! stepping over a breakpoint, page summaries for reverse execution), and the checks the block
//! loop ([`crate::run`]) and the memory slow path ([`crate::memory`]) make before an
//! instruction and on a TLB fill.

use crate::cpu::Cpu;
use crate::debug::{DebugControl, DebugStop, PageSummary, WatchHit, WatchKind, Watchpoint};

impl Cpu {
    /// Watch these ranges of virtual addresses (replacing earlier watchpoints). Flushes the
    /// TLB so no fast-path entry bypasses them.
    pub fn set_watchpoints(&mut self, watchpoints: &[Watchpoint]) {
        let pages = |f: fn(WatchKind) -> bool| {
            let mut v: Vec<u32> = watchpoints
                .iter()
                .filter(|w| f(w.kind))
                .flat_map(|w| w.pages())
                .collect();
            v.sort_unstable();
            v.dedup();
            v
        };
        self.dbg.read_watch_pages = pages(|k| k != WatchKind::Write);
        self.dbg.write_watch_pages = pages(|k| k != WatchKind::Read);
        self.dbg.watchpoints = watchpoints.to_vec();
        self.tlb.flush_all();
    }

    /// The watchpoints.
    pub fn watchpoints(&self) -> &[Watchpoint] {
        &self.dbg.watchpoints
    }

    /// Do not stop at a breakpoint at `pc` the next time this CPU is about to run an
    /// instruction (resuming from a breakpoint stop without removing the breakpoint).
    pub fn skip_breakpoint_once(&mut self, pc: u32) {
        self.dbg.skip_breakpoint_at = Some(pc & !1);
    }

    /// Start recording which virtual pages this CPU executes, reads and writes, with an empty
    /// summary. Flushes the TLB so every page touched from now on is translated (and seen).
    pub fn start_summary(&mut self) {
        match self.dbg.summary.as_mut() {
            Some(s) => {
                s.executed.clear();
                s.read.clear();
                s.written.clear();
            }
            None => self.dbg.summary = Some(Box::default()),
        }
        self.tlb.flush_all();
    }

    /// The pages touched since [`Cpu::start_summary`]; recording goes on with an empty one.
    pub fn take_summary(&mut self) -> Option<PageSummary> {
        let s = self.dbg.summary.as_mut()?;
        let taken = std::mem::take(s.as_mut());
        self.tlb.flush_all();
        Some(taken)
    }

    /// The pages touched since the summary started, without ending it.
    pub fn summary(&self) -> Option<&PageSummary> {
        self.dbg.summary.as_deref()
    }

    /// Stop recording summaries.
    pub fn stop_summary(&mut self) {
        self.dbg.summary = None;
    }

    /// Drop every cached translation (e.g. after a debugger changed a register the MMU uses).
    pub fn flush_tlb(&mut self) {
        self.tlb.flush_all();
    }

    /// Before the instruction at the PC runs (in a checked run): stop for a requested stop or
    /// a breakpoint?
    #[inline]
    pub(crate) fn debug_stop_before(&mut self, debug: &DebugControl) -> Option<DebugStop> {
        if debug.stop_before_next {
            return Some(DebugStop::Requested);
        }
        let pc = self.regs[15] & !1;
        let skip = self.dbg.skip_breakpoint_at.take();
        (debug.is_breakpoint(pc) && skip != Some(pc)).then_some(DebugStop::Breakpoint)
    }

    /// The slow path's watchpoint check for an access of `size` bytes at `va`.
    #[inline]
    pub(crate) fn watch_check(&self, va: u32, size: u32, write: bool) -> Option<WatchHit> {
        self.dbg
            .watchpoints
            .iter()
            .find(|w| w.kind.triggered_by(write) && w.overlaps(va, size))
            .map(|w| WatchHit {
                watchpoint: *w,
                addr: va.max(w.addr),
                write,
            })
    }

    /// True if the TLB may hold an entry for the page of `va` for reads (`write` false) or
    /// writes: not if a watchpoint of that kind is on the page.
    #[inline]
    pub(crate) fn tlb_fill_allowed(&self, va: u32, write: bool) -> bool {
        let pages = if write {
            &self.dbg.write_watch_pages
        } else {
            &self.dbg.read_watch_pages
        };
        pages.is_empty() || pages.binary_search(&(va >> 12)).is_err()
    }
}
