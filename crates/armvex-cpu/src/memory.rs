//! Loads, stores and instruction fetch through a software TLB.
//!
//! Translating every access through the page tables and then finding which RAM region or
//! device it hits would make each load cost hundreds of host instructions. The software TLB
//! remembers, per 4 KiB virtual page, the *host* address of the RAM backing it, so the common
//! case of a load is: index the TLB by the page number, compare one tag, read host memory.
//!
//! * There are separate tables for reads and writes (a page may be readable but not writable,
//!   and writes to pages holding predecoded code must be seen), each in two copies:
//!   privileged and User mode (LDRT/STRT use the User copy from any mode).
//! * The tag compare also checks natural alignment: an unaligned access, a page that is not RAM
//!   (MMIO), or a page not yet translated all fall through to the *slow path*, which walks the
//!   tables, checks permissions and alignment, raises faults, talks to devices and refills the TLB.
//! * Big-endian data accesses (CPSR.E set by SETEND) never fill the TLB and so always take the
//!   slow path, which swaps bytes; little-endian code pays nothing for that feature.
//! * The TLB is flushed whenever the translation regime changes (SCTLR, TTBR, TTBCR, DACR,
//!   CONTEXTIDR writes, TLB maintenance), which is always correct; ASID tagging is not needed.
//!   Linux does that tens of thousands of times in a boot (context switches, fixmap and
//!   vmalloc changes inside the kernel's section-mapped range), usually with only a few
//!   dozen entries filled since the last flush. So the TLB remembers which indices it filled
//!   ([`FILLED_MAX`](crate::tlb::FILLED_MAX) at most) and a flush clears just those; only a TLB that filled more
//!   since the last flush is cleared whole. Either way every entry is invalid afterwards.

use crate::cpu::{Cpu, Insn};
use crate::mmu::{self, Access, Fault, perm};
use crate::tlb::{FetchEntry, PAGE_MASK, TlbEntry, tlb_host, tlb_index};
use armvex_bus::{AccessSize, Accessor, Bus, PhysAddr, PhysicalMemory};

/// Flags for the slow path.
#[derive(Clone, Copy, Debug, Default)]
pub struct AccessFlags {
    /// Check as a User-mode access (LDRT/STRT, or the CPU is in User mode).
    pub user: bool,
    /// Alignment (as a mask) required whatever SCTLR.A says: 3 for LDM/STM/LDRD, size-1 for
    /// the exclusives.
    pub align: u32,
}

macro_rules! fast_load {
    ($name:ident, $ty:ty, $size:expr) => {
        /// Load from `va` with the current privilege (fast path through the TLB).
        #[inline(always)]
        pub(crate) fn $name(&mut self, bus: &mut Bus, va: u32) -> Result<u32, Fault> {
            if let Some(host) = self.tlb_read_host(va, $size) {
                let host = host as *const $ty;
                // SAFETY: the entry was filled from a RAM page of this bus's memory (the run
                // loop drops a TLB filled from another, see `Cpu::adopt_memory`), whose
                // mappings live as long as it; the tag check guarantees that `va` lies in that
                // page and is naturally aligned, so the read is in bounds.
                return Ok(<$ty>::from_le(unsafe { host.read_unaligned() }) as u32);
            }
            let user = self.privilege_index != 0;
            self.load_slow(bus, va, $size, AccessFlags { user, align: 0 })
        }
    };
}

macro_rules! fast_store {
    ($name:ident, $ty:ty, $size:expr) => {
        /// Store to `va` with the current privilege (fast path through the TLB).
        #[inline(always)]
        pub(crate) fn $name(&mut self, bus: &mut Bus, va: u32, value: u32) -> Result<(), Fault> {
            if let Some(host) = self.tlb_write_host(va, $size) {
                let host = host as *mut $ty;
                // SAFETY: as for loads; write entries are only filled for writable RAM pages
                // that hold no predecoded code.
                unsafe { host.write_unaligned((value as $ty).to_le()) };
                return Ok(());
            }
            let user = self.privilege_index != 0;
            self.store_slow(bus, va, $size, value, AccessFlags { user, align: 0 })
        }
    };
}

impl Cpu {
    /// The host address of `va` if the TLB maps it for a naturally aligned read of `size`
    /// bytes at the current privilege (the fast path; `None` means: take the slow path).
    #[inline(always)]
    pub(crate) fn tlb_read_host(&self, va: u32, size: u32) -> Option<*const u8> {
        tlb_host(self.tlb.read.as_ptr().cast(), self.tlb_user_bytes, va, size).map(|p| p as *const u8)
    }

    /// As [`Cpu::tlb_read_host`], for writes.
    #[inline(always)]
    pub(crate) fn tlb_write_host(&self, va: u32, size: u32) -> Option<*mut u8> {
        tlb_host(self.tlb.write.as_ptr().cast(), self.tlb_user_bytes, va, size)
    }

    fast_load!(load32, u32, 4);
    fast_load!(load16, u16, 2);
    fast_load!(load8, u8, 1);
    fast_store!(store32, u32, 4);
    fast_store!(store16, u16, 2);
    fast_store!(store8, u8, 1);

    /// A load with explicit flags (LDRT, LDM, LDRD, the exclusives). Takes the fast path when
    /// the flags allow it.
    #[inline]
    pub(crate) fn load_with(&mut self, bus: &mut Bus, va: u32, size: u32, flags: AccessFlags) -> Result<u32, Fault> {
        let idx = usize::from(flags.user);
        let e = self.tlb.read[idx][tlb_index(va)];
        if e.tag == va & (PAGE_MASK | (size - 1) | flags.align) {
            let host = (va as usize).wrapping_add(e.addend) as *const u8;
            // SAFETY: see `load32`; the access is naturally aligned and inside the page.
            return Ok(unsafe { read_host(host, size) });
        }
        self.load_slow(bus, va, size, flags)
    }

    /// A store with explicit flags (see [`Cpu::load_with`]).
    #[inline]
    pub(crate) fn store_with(
        &mut self,
        bus: &mut Bus,
        va: u32,
        size: u32,
        value: u32,
        flags: AccessFlags,
    ) -> Result<(), Fault> {
        let idx = usize::from(flags.user);
        let e = self.tlb.write[idx][tlb_index(va)];
        if e.tag == va & (PAGE_MASK | (size - 1) | flags.align) {
            let host = (va as usize).wrapping_add(e.addend) as *mut u8;
            // SAFETY: see `store32`.
            unsafe { write_host(host, size, value) };
            return Ok(());
        }
        self.store_slow(bus, va, size, value, flags)
    }

    /// Make the TLB safe to use with `memory` (see the module docs): if it was filled from
    /// another memory, drop every entry. The run loop calls this once per run.
    #[inline]
    pub(crate) fn adopt_memory(&mut self, memory: &PhysicalMemory) {
        let id = memory.id();
        if self.tlb_memory != id {
            self.tlb.flush_all();
            // The write entries' code epoch was the old memory's.
            self.seen_code_epoch = u64::MAX;
            self.tlb_memory = id;
        }
    }

    fn check_alignment(&self, va: u32, size: u32, flags: AccessFlags, write: bool) -> Result<bool, Fault> {
        let natural = va & (size - 1) != 0;
        if va & flags.align != 0 || (natural && self.cp15.alignment_checking()) {
            return Err(Fault::alignment(va, write));
        }
        Ok(natural)
    }

    /// The slow path of a load: alignment, translation, permissions, devices, TLB refill.
    #[cold]
    #[inline(never)]
    pub(crate) fn load_slow(&mut self, bus: &mut Bus, va: u32, size: u32, flags: AccessFlags) -> Result<u32, Fault> {
        if self.check_alignment(va, size, flags, false)? {
            // Unaligned and allowed: assemble from bytes (each may be on a different page).
            let mut v = 0u32;
            for i in 0..size {
                let b = self.load_slow(bus, va.wrapping_add(i), 1, flags)?;
                v |= b << (8 * i);
            }
            // Bytes were fetched in address order; reverse for big-endian data.
            return Ok(if self.big_endian {
                v.swap_bytes() >> (32 - 8 * size)
            } else {
                v
            });
        }
        let t = mmu::translate(&self.cp15, bus, self.config.index, va, Access::Read, flags.user)?;
        self.debug_access(va, size, false)?;
        let raw = if let Some(page) = bus.memory.page(t.pa) {
            if !self.big_endian && self.tlb_fill_allowed(va, false) {
                self.tlb.note_mapping_size(va, t.size);
                let idx = usize::from(flags.user);
                self.tlb.note_fill(tlb_index(va));
                // Fill both privilege tables the mapping allows.
                for (p, bit) in [(0, perm::PRIV_READ), (1, perm::USER_READ)] {
                    if t.perms & bit != 0 && (p == idx || p == 0) {
                        self.tlb.read[p][tlb_index(va)] = TlbEntry {
                            tag: va & PAGE_MASK,
                            addend: (page.host as usize).wrapping_sub((va & PAGE_MASK) as usize),
                        };
                    }
                }
            }
            // SAFETY: `page.host` points at the 4 KiB RAM page holding `t.pa`, and an aligned
            // access of at most 4 bytes does not leave it.
            unsafe { read_host(page.host.add((t.pa & 0xfff) as usize), size) }
        } else {
            let who = Accessor {
                cpu: self.config.index,
                time: self.local_time,
            };
            let v = bus.read_phys(who, t.pa, AccessSize::from_bytes(size).unwrap_or(AccessSize::Word));
            self.note_mmio(false, t.pa, size, v);
            v
        };
        Ok(if self.big_endian {
            raw.swap_bytes() >> (32 - 8 * size)
        } else {
            raw
        })
    }

    /// The slow path of a store.
    #[cold]
    #[inline(never)]
    pub(crate) fn store_slow(
        &mut self,
        bus: &mut Bus,
        va: u32,
        size: u32,
        value: u32,
        flags: AccessFlags,
    ) -> Result<(), Fault> {
        if self.check_alignment(va, size, flags, true)? {
            let v = if self.big_endian {
                value.swap_bytes() >> (32 - 8 * size)
            } else {
                value
            };
            // Translate every byte first so a fault leaves memory untouched.
            for i in 0..size {
                mmu::translate(
                    &self.cp15,
                    bus,
                    self.config.index,
                    va.wrapping_add(i),
                    Access::Write,
                    flags.user,
                )?;
            }
            for i in 0..size {
                self.store_slow(bus, va.wrapping_add(i), 1, (v >> (8 * i)) & 0xff, flags)?;
            }
            return Ok(());
        }
        let v = if self.big_endian {
            value.swap_bytes() >> (32 - 8 * size)
        } else {
            value
        };
        let t = mmu::translate(&self.cp15, bus, self.config.index, va, Access::Write, flags.user)?;
        self.debug_access(va, size, true)?;
        // Read-only memory (flash) takes the MMIO path, where the write is ignored.
        if let Some(page) = bus.memory.page(t.pa).filter(|p| p.writable) {
            // Before the write: an undo log saves the page here (see armvex_bus::memory).
            bus.memory.note_write(page.index);
            if !self.big_endian && !bus.memory.is_code(page.index) && self.tlb_fill_allowed(va, true) {
                self.tlb.note_mapping_size(va, t.size);
                let idx = usize::from(flags.user);
                self.tlb.note_fill(tlb_index(va));
                for (p, bit) in [(0, perm::PRIV_WRITE), (1, perm::USER_WRITE)] {
                    if t.perms & bit != 0 && (p == idx || p == 0) {
                        self.tlb.write[p][tlb_index(va)] = TlbEntry {
                            tag: va & PAGE_MASK,
                            addend: (page.host as usize).wrapping_sub((va & PAGE_MASK) as usize),
                        };
                    }
                }
            }
            // SAFETY: as in `load_slow`.
            unsafe { write_host(page.host.add((t.pa & 0xfff) as usize), size, v) };
        } else {
            let who = Accessor {
                cpu: self.config.index,
                time: self.local_time,
            };
            self.note_mmio(true, t.pa, size, v);
            bus.write_phys(who, t.pa, AccessSize::from_bytes(size).unwrap_or(AccessSize::Word), v);
        }
        Ok(())
    }

    /// The debugger's part of a slow-path data access at `va`, after translation and before
    /// the access: a watchpoint stops it (see [`crate::debug`]); a summary records the page.
    #[inline]
    fn debug_access(&mut self, va: u32, size: u32, write: bool) -> Result<(), Fault> {
        if !self.dbg.watchpoints.is_empty() {
            if let Some(hit) = self.watch_check(va, size, write) {
                self.exit = crate::Exit::Debug(crate::debug::DebugStop::Watchpoint(hit));
                return Err(Fault::watchpoint(va, write));
            }
        }
        if let Some(s) = self.dbg.summary.as_mut() {
            if write {
                s.written.insert(va);
            } else {
                s.read.insert(va);
            }
        }
        Ok(())
    }

    /// The physical address of `va` for the debugger (see [`mmu::translate_debug`]).
    pub fn debug_translate(&self, bus: &Bus, va: u32) -> Option<PhysAddr> {
        mmu::translate_debug(&self.cp15, &bus.memory, va)
    }

    /// Read guest virtual memory for the debugger: through this CPU's current translation,
    /// RAM only (device registers are never read: a read could change them), no fault taken.
    /// On failure, returns how many bytes were read (the first unreadable address is
    /// `va + that`).
    pub fn debug_read(&self, bus: &Bus, va: u32, buf: &mut [u8]) -> Result<(), usize> {
        let mut done = 0usize;
        while done < buf.len() {
            let a = va.wrapping_add(done as u32);
            let n = (0x1000 - (a & 0xfff) as usize).min(buf.len() - done);
            let pa = self.debug_translate(bus, a).ok_or(done)?;
            bus.memory.read_bytes(pa, &mut buf[done..done + n]).map_err(|_| done)?;
            done += n;
        }
        Ok(())
    }

    /// Write guest virtual memory for the debugger (see [`Cpu::debug_read`]); read-only memory
    /// such as flash is written too, as a loader would. Predecoded code it overwrites is
    /// dropped. On failure, returns how many bytes were written.
    pub fn debug_write(&self, bus: &mut Bus, va: u32, data: &[u8]) -> Result<(), usize> {
        let mut done = 0usize;
        while done < data.len() {
            let a = va.wrapping_add(done as u32);
            let n = (0x1000 - (a & 0xfff) as usize).min(data.len() - done);
            let pa = self.debug_translate(bus, a).ok_or(done)?;
            bus.memory.load_bytes(pa, &data[done..done + n]).map_err(|_| done)?;
            done += n;
        }
        Ok(())
    }

    /// Find the RAM page holding the instruction at `va`, through the fetch TLB.
    #[inline]
    pub(crate) fn fetch_page(&mut self, bus: &mut Bus, va: u32) -> Result<(u32, *const u8), Fault> {
        let p = self.privilege_index;
        let e = self.tlb.fetch[p][tlb_index(va)];
        if e.tag == va & PAGE_MASK {
            return Ok((e.page, e.host));
        }
        self.fetch_page_slow(bus, va)
    }

    /// Remember in the fetch TLB entry of `va` (just used by [`Cpu::fetch_page`]) that its
    /// page's decoded code for the current instruction set is at `code` in code cache
    /// generation `generation` (with [`THUMB_CODE`](crate::tlb::THUMB_CODE) set for Thumb code).
    #[inline(always)]
    pub(crate) fn note_code(&mut self, va: u32, code: *const Insn, generation: u64) {
        let e = &mut self.tlb.fetch[self.privilege_index][tlb_index(va)];
        e.code = code;
        e.code_generation = generation;
    }

    /// The decoded page (in the current instruction set) of the page of `va` if the fetch
    /// TLB maps it and knows it (see [`FetchEntry::code`]); the CPU's `code_generation` is
    /// the code cache's with the current instruction set's [`THUMB_CODE`](crate::tlb::THUMB_CODE) bit.
    #[inline(always)]
    pub(crate) fn known_code(&self, va: u32) -> Option<*const Insn> {
        // `& 1`: the index is 0 or 1, and the mask spares a bounds check on this hot path.
        let e = &self.tlb.fetch[self.privilege_index & 1][tlb_index(va)];
        (e.tag == va & PAGE_MASK && e.code_generation == self.code_generation).then_some(e.code)
    }

    #[cold]
    #[inline(never)]
    fn fetch_page_slow(&mut self, bus: &mut Bus, va: u32) -> Result<(u32, *const u8), Fault> {
        let user = self.privilege_index != 0;
        let t = mmu::translate(&self.cp15, bus, self.config.index, va, Access::Fetch, user)?;
        if let Some(s) = self.dbg.summary.as_mut() {
            s.executed.insert(va);
        }
        let Some(page) = bus.memory.page(t.pa) else {
            tracing::warn!(
                "cpu{}: instruction fetch from {va:#010x} (pa {:#010x}), which is not RAM",
                self.config.index,
                t.pa
            );
            return Err(Fault {
                status: mmu::fsc::EXTERNAL,
                domain: 0,
                address: va,
                write: false,
            });
        };
        self.tlb.note_mapping_size(va, t.size);
        self.tlb.note_fill(tlb_index(va));
        self.tlb.fetch[self.privilege_index][tlb_index(va)] = FetchEntry {
            tag: va & PAGE_MASK,
            page: page.index,
            host: page.host,
            ..FetchEntry::default()
        };
        Ok((page.index, page.host))
    }

    /// Fetch one instruction halfword at `va` through the MMU (for a Thumb instruction that
    /// straddles a page boundary).
    pub(crate) fn fetch_halfword(&mut self, bus: &mut Bus, va: u32) -> Result<u16, Fault> {
        let (_, host) = self.fetch_page(bus, va)?;
        // SAFETY: `host` is the start of the 4 KiB RAM page holding `va`, and `va` is
        // halfword-aligned, so the two bytes are inside it.
        Ok(u16::from_le(unsafe {
            (host.add((va & 0xffe) as usize) as *const u16).read_unaligned()
        }))
    }

    /// Read `buf.len()` bytes of guest *virtual* memory as a debugger would (privileged,
    /// without faults being taken or devices being touched). Used by semihosting.
    pub fn read_virtual(&mut self, bus: &mut Bus, va: u32, buf: &mut [u8]) -> Result<(), Fault> {
        for (i, b) in buf.iter_mut().enumerate() {
            let a = va.wrapping_add(i as u32);
            let t = mmu::translate(&self.cp15, bus, self.config.index, a, Access::Read, false)?;
            let mut one = [0u8];
            if bus.memory.read_bytes(t.pa, &mut one).is_err() {
                return Err(Fault {
                    status: mmu::fsc::EXTERNAL,
                    domain: 0,
                    address: a,
                    write: false,
                });
            }
            *b = one[0];
        }
        Ok(())
    }

    /// Write guest virtual memory as a debugger would (see [`Cpu::read_virtual`]).
    pub fn write_virtual(&mut self, bus: &mut Bus, va: u32, data: &[u8]) -> Result<(), Fault> {
        for (i, b) in data.iter().enumerate() {
            let a = va.wrapping_add(i as u32);
            let t = mmu::translate(&self.cp15, bus, self.config.index, a, Access::Write, false)?;
            if bus.memory.write_bytes(t.pa, &[*b]).is_err() {
                return Err(Fault {
                    status: mmu::fsc::EXTERNAL,
                    domain: 0,
                    address: a,
                    write: true,
                });
            }
        }
        Ok(())
    }
}

/// Read a little-endian value of `size` bytes (1, 2 or 4) at `host`.
///
/// # Safety
/// `host..host+size` must be readable.
#[inline(always)]
pub(crate) unsafe fn read_host(host: *const u8, size: u32) -> u32 {
    // SAFETY: guaranteed by the caller.
    unsafe {
        match size {
            1 => u32::from(host.read()),
            2 => u32::from(u16::from_le((host as *const u16).read_unaligned())),
            _ => u32::from_le((host as *const u32).read_unaligned()),
        }
    }
}

/// Write a little-endian value of `size` bytes (1, 2 or 4) at `host`.
///
/// # Safety
/// `host..host+size` must be writable.
#[inline(always)]
pub(crate) unsafe fn write_host(host: *mut u8, size: u32, v: u32) {
    // SAFETY: guaranteed by the caller.
    unsafe {
        match size {
            1 => host.write(v as u8),
            2 => (host as *mut u16).write_unaligned((v as u16).to_le()),
            _ => (host as *mut u32).write_unaligned(v.to_le()),
        }
    }
}

#[cfg(test)]
mod tests {
    use crate::code_cache::CodeCache;
    use crate::decode::Features;
    use crate::model::CpuModel;
    use crate::testutil::{RAM, machine};
    use armvex_bus::Bus;

    /// A bus of the test machine holding `program` at [`RAM`] and `data` at `RAM + 0x1000`.
    fn bus_with(program: &[u32], data: u32) -> Bus {
        let (_, mut bus) = machine(CpuModel::CortexA9);
        let bytes: Vec<u8> = program.iter().flat_map(|w| w.to_le_bytes()).collect();
        bus.memory.write_bytes(u64::from(RAM), &bytes).unwrap();
        bus.memory
            .write_bytes(u64::from(RAM + 0x1000), &data.to_le_bytes())
            .unwrap();
        bus
    }

    #[test]
    fn a_tlb_filled_from_one_bus_is_not_used_with_another() {
        let (mut cpu, _) = machine(CpuModel::CortexA9);
        let features = Features::for_model(CpuModel::CortexA9, true);
        // ldr r0, [r1]; b .
        let mut a = bus_with(&[0xe591_0000, 0xeaff_fffe], 0x1111_1111);
        // ldr r2, [r1]; b .  (another program, and another value, at the same addresses)
        let mut b = bus_with(&[0xe591_2000, 0xeaff_fffe], 0x2222_2222);
        assert_ne!(a.memory.id(), b.memory.id());

        cpu.regs[1] = RAM + 0x1000;
        cpu.regs[15] = RAM;
        let mut code_a = CodeCache::new(a.memory.total_pages(), features.clone());
        cpu.run(&mut a, &mut code_a, 10, 0);
        assert_eq!(cpu.regs[0], 0x1111_1111);
        assert!(cpu.tlb_read_host(RAM + 0x1000, 4).is_some(), "the load filled the TLB");

        cpu.regs[0] = 0;
        cpu.regs[15] = RAM;
        let mut code_b = CodeCache::new(b.memory.total_pages(), features);
        cpu.run(&mut b, &mut code_b, 10, 0);
        assert_eq!(cpu.regs[0], 0, "bus B's program was fetched, not A's");
        assert_eq!(cpu.regs[2], 0x2222_2222, "bus B's data was read, not A's");

        // Back on bus A: A's memory again.
        cpu.regs[15] = RAM;
        cpu.run(&mut a, &mut code_a, 10, 0);
        assert_eq!(cpu.regs[0], 0x1111_1111);
    }
}
