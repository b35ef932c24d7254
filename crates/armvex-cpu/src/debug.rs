//! What a debugger needs from a core: breakpoints, watchpoints and exact stops.
//!
//! armvex's gdb stub and its reverse execution stop the guest *between* instructions, at
//! exactly the point a debugger names, and must be invisible otherwise: a run that stops and
//! goes on has to do exactly what a run that never stopped does, instruction for instruction.
//!
//! ## Breakpoints compare the PC
//!
//! Hardware debuggers and QEMU's gdbstub never need to write a `BKPT` into guest memory, and
//! neither does armvex: a breakpoint is an address in [`DebugControl`]. That makes breakpoints
//! work on virtual addresses the MMU does not map yet, on read-only flash, and on code a guest
//! checksums. The cost is paid only where breakpoints are: a bitmap of the 4 KiB virtual pages
//! holding breakpoints is tested once per block, and only blocks in such pages compare the PC
//! before each instruction ("checked" blocks in [`crate::run`]).
//!
//! ## Watchpoints ride on the software TLB
//!
//! A watched page never gets a TLB entry for the watched kind of access, so every load or store
//! to it takes the slow path ([`crate::memory`]), which compares the access with the
//! watchpoints. A hit stops the CPU *before* the instruction completes (the instruction is not
//! counted as retired and is executed again when the CPU resumes), as the ARM architecture's
//! own watchpoints do (ARM ARM C3.4, "Watchpoint debug events": synchronous, taken before the
//! access) — which is what gdb expects from an ARM target, where watchpoints are not
//! "steppable": gdb then steps over the instruction itself and shows the old and new values.
//! Only the CPU's own data accesses are watched, not DMA, as on hardware.
//!
//! ## Exact stops and resuming inside a block
//!
//! The run loop checks for interrupts and refreshes its view of time only between *blocks*.
//! Where blocks end is part of what the guest sees (an interrupt made pending by an MMIO write
//! is taken at the next block boundary), so a debugger stop in the middle of a block must not
//! create a new boundary: the CPU remembers that it stopped inside a block
//! (`resume_mid_block`), and the next [`crate::Cpu::run`] continues that block without the
//! between-block work, with the same view of time. A *stop point* is therefore "just before an
//! instruction runs, after everything the machine does before it" — the same state whether the
//! run got there in one go or in many pieces.
//!
//! ## Interval summaries
//!
//! Reverse execution keeps checkpoints and, for each interval between two of them, which
//! virtual pages were executed, read and written ([`PageSummary`]), so a reverse-continue can
//! skip intervals where its breakpoint or watchpoint cannot have fired. They cost nothing per
//! instruction: the TLBs are flushed at each checkpoint, so every page an interval touches is
//! translated at least once in it, and the slow path that fills the TLB records it.
//!
//! This module holds what the debugger asks for; the core's side (the calls on a [`Cpu`](crate::Cpu)
//! and the checks the block loop and the memory slow path make) is [`crate::debug_hooks`].

/// A kind of watchpoint: gdb's `watch` (writes), `rwatch` (reads) and `awatch` (both).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum WatchKind {
    Write,
    Read,
    Access,
}

impl WatchKind {
    /// Whether a write (`true`) or a read (`false`) triggers this kind.
    #[inline]
    pub fn triggered_by(self, write: bool) -> bool {
        match self {
            WatchKind::Write => write,
            WatchKind::Read => !write,
            WatchKind::Access => true,
        }
    }
}

/// A watched range of virtual addresses.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Watchpoint {
    pub addr: u32,
    /// Length in bytes (at least 1).
    pub len: u32,
    pub kind: WatchKind,
}

impl Watchpoint {
    /// True if the access of `size` bytes at `va` touches this watchpoint.
    #[inline]
    pub fn overlaps(&self, va: u32, size: u32) -> bool {
        let (a, b) = (u64::from(va), u64::from(self.addr));
        a < b + u64::from(self.len.max(1)) && b < a + u64::from(size)
    }

    /// The virtual page numbers this watchpoint touches.
    pub fn pages(&self) -> impl Iterator<Item = u32> {
        let first = self.addr >> 12;
        let last = ((u64::from(self.addr) + u64::from(self.len.max(1)) - 1) >> 12) as u32;
        first..=last
    }
}

/// A watchpoint that fired: the access has not happened, and the instruction has not retired.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct WatchHit {
    /// The watchpoint.
    pub watchpoint: Watchpoint,
    /// The first watched byte the access touches (what gdb's stop reply names).
    pub addr: u32,
    /// The access was a write.
    pub write: bool,
}

/// Why [`crate::Cpu::run`] stopped for the debugger.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum DebugStop {
    /// The next instruction is at a breakpoint.
    Breakpoint,
    /// The instruction at the PC was about to touch a watchpoint.
    Watchpoint(WatchHit),
    /// [`DebugControl::limit`] instructions retired.
    Limit,
    /// [`DebugControl::stop_before_next`] was set.
    Requested,
}

/// Breakpoints and stop requests, shared by all CPUs of a machine and passed to
/// [`crate::Cpu::run_with`].
#[derive(Clone, Debug)]
pub struct DebugControl {
    /// Breakpoint addresses, sorted, bit 0 clear.
    breakpoints: Vec<u32>,
    /// One bit per 4 KiB virtual page that holds a breakpoint (empty without breakpoints).
    pages: Vec<u64>,
    /// Stop before the next instruction, whatever it is (after the between-block work).
    pub stop_before_next: bool,
    /// Retire at most this many instructions in this run; `u64::MAX` for no limit.
    pub limit: u64,
}

impl Default for DebugControl {
    fn default() -> Self {
        DebugControl::NONE
    }
}

impl DebugControl {
    /// No breakpoints, no stop: the fast path.
    pub const NONE: DebugControl = DebugControl {
        breakpoints: Vec::new(),
        pages: Vec::new(),
        stop_before_next: false,
        limit: u64::MAX,
    };

    /// Replace the breakpoints (virtual addresses of instructions; bit 0 is ignored).
    pub fn set_breakpoints(&mut self, addrs: impl IntoIterator<Item = u32>) {
        let mut b: Vec<u32> = addrs.into_iter().map(|a| a & !1).collect();
        b.sort_unstable();
        b.dedup();
        self.pages = if b.is_empty() {
            Vec::new()
        } else {
            vec![0; (1 << 20) / 64]
        };
        for &a in &b {
            let page = (a >> 12) as usize;
            self.pages[page / 64] |= 1 << (page % 64);
        }
        self.breakpoints = b;
    }

    /// The breakpoints, sorted.
    pub fn breakpoints(&self) -> &[u32] {
        &self.breakpoints
    }

    /// Whether instructions must be checked at all (breakpoints or a stop request).
    #[inline]
    pub fn checking(&self) -> bool {
        self.stop_before_next || !self.breakpoints.is_empty()
    }

    /// True if the 4 KiB virtual page of `va` holds a breakpoint.
    #[inline]
    pub fn page_has_breakpoint(&self, va: u32) -> bool {
        let page = (va >> 12) as usize;
        self.pages.get(page / 64).is_some_and(|w| w & (1 << (page % 64)) != 0)
    }

    /// True if `pc` is a breakpoint.
    #[inline]
    pub fn is_breakpoint(&self, pc: u32) -> bool {
        self.page_has_breakpoint(pc) && self.breakpoints.binary_search(&(pc & !1)).is_ok()
    }
}

/// Which virtual pages an interval of execution executed, read and wrote (see the module
/// docs): a superset, recorded when the TLB is filled.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct PageSummary {
    pub executed: PageSet,
    pub read: PageSet,
    pub written: PageSet,
}

/// A set of 4 KiB virtual pages: one bit per page of the 4 GiB address space (128 KiB).
#[derive(Clone, PartialEq, Eq)]
pub struct PageSet {
    bits: Vec<u64>,
}

impl std::fmt::Debug for PageSet {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "PageSet({} pages)", self.len())
    }
}

impl Default for PageSet {
    fn default() -> Self {
        PageSet::new()
    }
}

impl PageSet {
    /// The empty set.
    pub fn new() -> PageSet {
        PageSet {
            bits: vec![0; (1 << 20) / 64],
        }
    }

    /// Add the page holding `va`.
    #[inline]
    pub fn insert(&mut self, va: u32) {
        let page = (va >> 12) as usize;
        self.bits[page / 64] |= 1 << (page % 64);
    }

    /// True if the page holding `va` is in the set.
    #[inline]
    pub fn contains(&self, va: u32) -> bool {
        let page = (va >> 12) as usize;
        self.bits[page / 64] & (1 << (page % 64)) != 0
    }

    /// Number of pages in the set.
    pub fn len(&self) -> usize {
        self.bits.iter().map(|w| w.count_ones() as usize).sum()
    }

    /// True if the set is empty.
    pub fn is_empty(&self) -> bool {
        self.bits.iter().all(|&w| w == 0)
    }

    /// The page numbers (virtual address >> 12) in the set, in order.
    pub fn pages(&self) -> Vec<u32> {
        let mut out = Vec::new();
        for (i, &w) in self.bits.iter().enumerate() {
            let mut w = w;
            while w != 0 {
                let b = w.trailing_zeros();
                out.push((i as u32) * 64 + b);
                w &= w - 1;
            }
        }
        out
    }

    /// Add every page of `other`.
    pub fn union_with(&mut self, other: &PageSet) {
        for (a, b) in self.bits.iter_mut().zip(&other.bits) {
            *a |= *b;
        }
    }

    /// Remove every page.
    pub fn clear(&mut self) {
        self.bits.iter_mut().for_each(|w| *w = 0);
    }
}

/// The debugger's state inside one core.
#[derive(Default)]
pub(crate) struct CpuDebug {
    /// Watchpoints (virtual addresses).
    pub watchpoints: Vec<Watchpoint>,
    /// Virtual pages (address >> 12) holding a read or access watchpoint: never filled into
    /// the read TLB.
    pub read_watch_pages: Vec<u32>,
    /// Virtual pages holding a write or access watchpoint: never filled into the write TLB.
    pub write_watch_pages: Vec<u32>,
    /// Do not stop at a breakpoint at this address once (resuming from it).
    pub skip_breakpoint_at: Option<u32>,
    /// The last run stopped inside a block: continue it without the between-block work.
    pub resume_mid_block: bool,
    /// Instructions of the interrupted block not yet added to `local_time`.
    pub time_carry: u64,
    /// Instructions that ran but did not retire (a watchpoint stopped them): uncounted.
    pub retried: u64,
    /// Pages touched since the summary started, when reverse execution records them.
    pub summary: Option<Box<PageSummary>>,
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cpu::{Cpu, Exit};
    use crate::model::CpuModel;
    use crate::saved::CpuState;
    use crate::testutil::{RAM, machine};
    use crate::{CodeCache, Features};
    use armvex_bus::Bus;

    /// Counts to 200 in R0, storing each value at [R6] and summing it back into R3.
    const ARM_LOOP: [u32; 9] = [
        0xe3a0_0000, // 0x00 mov r0, #0
        0xe3a0_3000, // 0x04 mov r3, #0
        0xe280_0001, // 0x08 loop: add r0, r0, #1
        0xe586_0000, // 0x0c str r0, [r6]
        0xe596_2000, // 0x10 ldr r2, [r6]
        0xe083_3002, // 0x14 add r3, r3, r2
        0xe350_00c8, // 0x18 cmp r0, #200
        0xbaff_fff9, // 0x1c blt loop
        0xeaff_fffe, // 0x20 b .
    ];

    /// The same loop in Thumb-2, with 16- and 32-bit instructions.
    const THUMB_LOOP: [u16; 10] = [
        0x2000, // 0x00 movs r0, #0
        0x3001, // 0x02 loop: adds r0, #1
        0x6030, // 0x04 str r0, [r6]
        0xf8d6, 0x2000, // 0x06 ldr.w r2, [r6]
        0xeb03, 0x0302, // 0x0a add.w r3, r3, r2
        0x28c8, // 0x0e cmp r0, #200
        0xdbf7, // 0x10 blt loop
        0xe7fe, // 0x12 b .
    ];
    const DATA: u32 = RAM + 0x1000;

    fn setup(thumb: bool) -> (Cpu, Bus, CodeCache) {
        let (mut cpu, mut bus) = machine(CpuModel::CortexA9);
        let bytes: Vec<u8> = if thumb {
            THUMB_LOOP.iter().flat_map(|h| h.to_le_bytes()).collect()
        } else {
            ARM_LOOP.iter().flat_map(|w| w.to_le_bytes()).collect()
        };
        bus.memory.write_bytes(u64::from(RAM), &bytes).unwrap();
        cpu.regs[6] = DATA;
        cpu.set_pc_interworking(RAM | u32::from(thumb));
        let code = CodeCache::new(bus.memory.total_pages(), Features::for_model(CpuModel::CortexA9, true));
        (cpu, bus, code)
    }

    fn state(cpu: &Cpu, bus: &Bus) -> (CpuState, u32) {
        (
            cpu.save_state(),
            bus.memory.read(u64::from(DATA), armvex_bus::AccessSize::Word).unwrap(),
        )
    }

    /// Run `n` instructions in one go, then again stopping after each of `limits` (cycled),
    /// and compare.
    fn stepped_equals_straight(thumb: bool, n: u64, limits: &[u64]) {
        let (mut cpu, mut bus, mut code) = setup(thumb);
        assert_eq!(cpu.run(&mut bus, &mut code, n, 0), Exit::Budget);
        let straight = state(&cpu, &bus);
        let (mut cpu, mut bus, mut code) = setup(thumb);
        let mut debug = DebugControl::default();
        let mut stops = 0;
        for &limit in limits.iter().cycle() {
            let done = cpu.instructions();
            if done == n {
                break;
            }
            debug.limit = limit;
            match cpu.run_with(&mut bus, &mut code, n - done, done, &debug) {
                Exit::Debug(DebugStop::Limit) => {
                    assert_eq!(cpu.instructions(), done + limit);
                    stops += 1;
                }
                Exit::Budget => assert_eq!(cpu.instructions(), n),
                other => panic!("unexpected {other:?}"),
            }
        }
        assert!(stops > 10);
        assert_eq!(state(&cpu, &bus), straight);
    }

    #[test]
    fn stopping_anywhere_changes_nothing_arm() {
        stepped_equals_straight(false, 1000, &[1]);
        stepped_equals_straight(false, 1000, &[3, 1, 7, 2, 13]);
    }

    #[test]
    fn stopping_anywhere_changes_nothing_thumb() {
        stepped_equals_straight(true, 1000, &[1]);
        stepped_equals_straight(true, 1000, &[2, 5, 1, 11, 3]);
    }

    #[test]
    fn a_breakpoint_stops_before_its_instruction_every_time() {
        for thumb in [false, true] {
            let (mut cpu, mut bus, mut code) = setup(thumb);
            let store = RAM + if thumb { 0x04 } else { 0x0c };
            let mut debug = DebugControl::default();
            debug.set_breakpoints([store]);
            let mut seen = Vec::new();
            for i in 0..3 {
                if i > 0 {
                    cpu.skip_breakpoint_once(store);
                }
                let exit = cpu.run_with(&mut bus, &mut code, 10_000, 0, &debug);
                assert_eq!(exit, Exit::Debug(DebugStop::Breakpoint));
                assert_eq!(cpu.pc(), store);
                seen.push((cpu.instructions(), cpu.register(0)));
            }
            let (len, first) = if thumb { (6, 2) } else { (6, 3) };
            assert_eq!(
                seen,
                vec![(first, 1), (first + len, 2), (first + 2 * len, 3)],
                "thumb {thumb}"
            );
            // Without a skip, resuming stops again at once, retiring nothing.
            let before = cpu.instructions();
            assert_eq!(
                cpu.run_with(&mut bus, &mut code, 10_000, 0, &debug),
                Exit::Debug(DebugStop::Breakpoint)
            );
            assert_eq!(cpu.instructions(), before);
        }
    }

    #[test]
    fn a_watchpoint_stops_before_the_access_and_the_access_then_happens() {
        for (thumb, kind, store, load) in [
            (false, WatchKind::Write, 0x0c, 0x10),
            (false, WatchKind::Read, 0x0c, 0x10),
            (true, WatchKind::Access, 0x04, 0x06),
        ] {
            let (mut cpu, mut bus, mut code) = setup(thumb);
            cpu.set_watchpoints(&[Watchpoint {
                addr: DATA + 2,
                len: 1,
                kind,
            }]);
            let exit = cpu.run_with(&mut bus, &mut code, 10_000, 0, &DebugControl::NONE);
            let Exit::Debug(DebugStop::Watchpoint(hit)) = exit else {
                panic!("{exit:?}")
            };
            let at = if kind == WatchKind::Read { load } else { store };
            assert_eq!(cpu.pc(), RAM + at, "{kind:?}");
            assert_eq!((hit.addr, hit.write), (DATA + 2, kind != WatchKind::Read));
            let value = bus.memory.read(u64::from(DATA), armvex_bus::AccessSize::Word).unwrap();
            assert_eq!(
                value,
                u32::from(kind == WatchKind::Read),
                "{kind:?}: the store before the load happened"
            );
            let retired = cpu.instructions();
            assert_eq!(
                retired,
                if thumb {
                    2
                } else {
                    3 + u64::from(kind == WatchKind::Read)
                }
            );
            // Resuming without the watchpoint: the instruction runs, exactly once.
            cpu.set_watchpoints(&[]);
            cpu.run_with(&mut bus, &mut code, 1, 0, &DebugControl::NONE);
            assert_eq!(cpu.instructions(), retired + 1);
            assert_eq!(bus.memory.read(u64::from(DATA), armvex_bus::AccessSize::Word), Some(1));
        }
    }

    #[test]
    fn a_stop_request_stops_before_anything_runs() {
        let (mut cpu, mut bus, mut code) = setup(false);
        let debug = DebugControl {
            stop_before_next: true,
            ..DebugControl::default()
        };
        assert_eq!(
            cpu.run_with(&mut bus, &mut code, 100, 0, &debug),
            Exit::Debug(DebugStop::Requested)
        );
        assert_eq!((cpu.instructions(), cpu.pc()), (0, RAM));
    }

    #[test]
    fn summaries_record_pages_executed_read_and_written() {
        let (mut cpu, mut bus, mut code) = setup(false);
        cpu.start_summary();
        cpu.run(&mut bus, &mut code, 100, 0);
        let s = cpu.take_summary().unwrap();
        assert_eq!(s.executed.pages(), vec![RAM >> 12]);
        assert_eq!(s.read.pages(), vec![DATA >> 12]);
        assert_eq!(s.written.pages(), vec![DATA >> 12]);
        cpu.run(&mut bus, &mut code, 100, 0);
        assert_eq!(
            cpu.take_summary().unwrap().written.pages(),
            vec![DATA >> 12],
            "the TLB was flushed"
        );
    }

    #[test]
    fn breakpoints_by_page_and_address() {
        let mut d = DebugControl::default();
        assert!(!d.checking());
        d.set_breakpoints([0x8001, 0xc000_1000, 0x8000]);
        assert_eq!(d.breakpoints(), &[0x8000, 0xc000_1000]);
        assert!(d.checking());
        assert!(d.page_has_breakpoint(0x8ffc) && !d.page_has_breakpoint(0x9000));
        assert!(d.is_breakpoint(0x8000) && d.is_breakpoint(0x8001) && !d.is_breakpoint(0x8004));
        d.set_breakpoints([]);
        assert!(!d.checking() && !d.page_has_breakpoint(0x8000));
    }

    #[test]
    fn watchpoints_overlap_exactly() {
        let w = Watchpoint {
            addr: 0x1002,
            len: 2,
            kind: WatchKind::Write,
        };
        assert!(w.overlaps(0x1000, 4) && w.overlaps(0x1003, 1) && !w.overlaps(0x1004, 4));
        assert!(!w.overlaps(0x1001, 1));
        assert_eq!(w.pages().collect::<Vec<_>>(), vec![1]);
        let wide = Watchpoint {
            addr: 0xffc,
            len: 8,
            kind: WatchKind::Read,
        };
        assert_eq!(wide.pages().collect::<Vec<_>>(), vec![0, 1]);
        assert!(WatchKind::Access.triggered_by(true) && !WatchKind::Read.triggered_by(true));
    }

    #[test]
    fn page_sets() {
        let mut s = PageSet::new();
        s.insert(0xc000_1234);
        s.insert(0xc000_1fff);
        s.insert(0x6000_0000);
        assert_eq!(s.len(), 2);
        assert_eq!(s.pages(), vec![0x60000, 0xc0001]);
        let mut t = PageSet::new();
        t.insert(0x1000);
        t.union_with(&s);
        assert!(t.contains(0x1abc) && t.contains(0xc000_1000));
        t.clear();
        assert!(t.is_empty());
    }
}
