//! Advanced SIMD (NEON) execution: the CPU's side of `armvex-neon` (ARM ARM A2.6, A7).
//!
//! `armvex-neon` does the work: it executes a decoded op on the extension registers D0–D31
//! (shared with the VFP, [`crate::vfp_state::VfpState`]) and FPSCR, and reaches the core
//! registers and memory through the [`NeonEnv`] the CPU gives it. This module adds what only
//! the CPU knows:
//!
//! * **Whether Advanced SIMD may run** (ARM ARM B1.11; B4.1.40 CPACR, B4.1.111 NSACR): as
//!   for the VFP, CPACR must grant coprocessors 10 and 11 at the current privilege (and
//!   NSACR.cp10 let the Non-secure world use them) and FPEXC.EN must be set. On top of that,
//!   CPACR.ASEDIS (bit 31) and, in Non-secure state, NSACR.NSASEDIS (bit 15) disable the
//!   Advanced SIMD instructions that are not also VFP instructions: all of them here but the
//!   32-bit scalar VMOVs, which the VFP decoder keeps in ARM state. The real cores enforce
//!   these bits (QEMU 7.2 keeps them and does not; Linux never sets them).
//! * **Memory through the MMU** with the current privilege: a structure load or store is a
//!   sequence of element accesses of 1, 2, 4 or 8 bytes, each translated and checked like an
//!   LDR of that size (an unaligned element follows SCTLR.A); an `:align` qualifier the
//!   address does not meet is an Alignment fault whatever SCTLR.A says (A8.8, VLD1). Either is
//!   a Data Abort. Elements already transferred when an access faults stay transferred; the
//!   base register is written back only when the whole instruction completed.

use crate::cpu::Cpu;
use crate::insn::{Flow, Insn};
use crate::memory::AccessFlags;
use crate::mmu::Fault;
use armvex_bus::Bus;
use armvex_neon::{Group, NeonEnv, NeonFault, NeonOp};

/// CPACR.ASEDIS: Advanced SIMD disabled (B4.1.40).
const CPACR_ASEDIS: u32 = 1 << 31;
/// NSACR.NSASEDIS: Advanced SIMD disabled in Non-secure state (B4.1.111).
const NSACR_NSASEDIS: u32 = 1 << 15;

impl Cpu {
    /// An Advanced SIMD instruction may execute: the VFP is enabled (CPACR, NSACR, FPEXC.EN)
    /// and neither CPACR.ASEDIS nor, in Non-secure state, NSACR.NSASEDIS is set.
    #[inline]
    fn neon_enabled(&self) -> bool {
        self.vfp_enabled()
            && self.cp15.cpacr & CPACR_ASEDIS == 0
            && !(self.cp15.nonsecure && self.cp15.nsacr & NSACR_NSASEDIS != 0)
    }
}

/// The op an instruction's operands hold: the group in `op`, the A32 word in `imm`.
#[inline]
fn neon_op(d: &Insn) -> NeonOp {
    NeonOp {
        group: Group::ALL[usize::from(d.op) % Group::ALL.len()],
        word: d.imm,
    }
}

/// Data processing (A7.4): registers only.
pub fn data_processing(cpu: &mut Cpu, _bus: &mut Bus, d: &Insn) -> Flow {
    if !cpu.neon_enabled() {
        return cpu.undefined();
    }
    armvex_neon::execute_dp(neon_op(d), &mut cpu.vfp.d, &mut cpu.vfp.fpscr);
    Flow::Next
}

/// Element and structure loads and stores (A7.7), and the transfers between core registers
/// and scalars and VDUP from a core register (A7.8): the ops that need core registers or
/// memory.
pub fn with_core(cpu: &mut Cpu, bus: &mut Bus, d: &Insn) -> Flow {
    if !cpu.neon_enabled() {
        return cpu.undefined();
    }
    with_env(cpu, bus, neon_op(d))
}

/// Execute an op that needs the core registers or memory. The extension registers are
/// copied out for the call (the environment borrows the CPU) and back after it.
fn with_env(cpu: &mut Cpu, bus: &mut Bus, op: NeonOp) -> Flow {
    let mut dregs = cpu.vfp.d;
    let mut fpscr = cpu.vfp.fpscr;
    let result = armvex_neon::execute(op, &mut dregs, &mut fpscr, &mut Env { cpu, bus });
    cpu.vfp.d = dregs;
    cpu.vfp.fpscr = fpscr;
    match result {
        Ok(()) => Flow::Next,
        Err(NeonFault::Alignment { addr }) => {
            // L (bit 21) clear: a store.
            let write = op.word & (1 << 21) == 0;
            cpu.data_abort(Fault::alignment(addr, write))
        }
        Err(NeonFault::Memory(fault)) => cpu.data_abort(fault),
    }
}

/// The core registers and memory, as `armvex-neon` sees them.
struct Env<'a> {
    cpu: &'a mut Cpu,
    bus: &'a mut Bus,
}

impl Env<'_> {
    fn flags(&self) -> AccessFlags {
        AccessFlags {
            user: self.cpu.privilege_index != 0,
            align: 0,
        }
    }

    /// The flags of the first word of an 8-byte element: SCTLR.A asks for 8-byte alignment.
    fn flags64(&self) -> AccessFlags {
        let align = if self.cpu.cp15.alignment_checking() { 7 } else { 0 };
        AccessFlags { align, ..self.flags() }
    }

    /// Whether `len` bytes at `addr`, as elements of `ebytes`, can be copied in one go: the
    /// same page, little-endian data, and no element SCTLR.A would fault.
    fn contiguous(&self, addr: u32, len: usize, ebytes: u32) -> bool {
        !self.cpu.big_endian
            && (addr & 0xfff) as usize + len <= 0x1000
            && !(self.cpu.cp15.alignment_checking() && addr & (ebytes - 1) != 0)
    }
}

impl NeonEnv for Env<'_> {
    type Fault = Fault;

    fn core_reg(&self, r: usize) -> u32 {
        self.cpu.regs[r & 15]
    }

    fn set_core_reg(&mut self, r: usize, value: u32) {
        self.cpu.regs[r & 15] = value;
    }

    fn read(&mut self, addr: u32, bytes: u32) -> Result<u64, Fault> {
        if bytes < 8 {
            let flags = self.flags();
            return self.cpu.load_with(self.bus, addr, bytes, flags).map(u64::from);
        }
        let flags64 = self.flags64();
        let first = self.cpu.load_with(self.bus, addr, 4, flags64)?;
        let flags = self.flags();
        let second = self.cpu.load_with(self.bus, addr.wrapping_add(4), 4, flags)?;
        // Each word comes back in the CPU's data endianness; big-endian data keeps the more
        // significant word first.
        let (lo, hi) = if self.cpu.big_endian {
            (second, first)
        } else {
            (first, second)
        };
        Ok(u64::from(lo) | (u64::from(hi) << 32))
    }

    /// The page through the TLB's fast path, as `load8` would find it: only a RAM page the
    /// TLB maps for reading at the current privilege (watchpoints, devices and misses go one
    /// element at a time through the slow path).
    fn read_contiguous(&mut self, addr: u32, buf: &mut [u8], ebytes: u32) -> bool {
        if !self.contiguous(addr, buf.len(), ebytes) {
            return false;
        }
        let Some(host) = self.cpu.tlb_read_host(addr, 1) else {
            return false;
        };
        // SAFETY: the TLB maps `addr`'s page to this host RAM page, and `addr..addr + len`
        // lies inside that page (`contiguous`).
        unsafe { std::ptr::copy_nonoverlapping(host, buf.as_mut_ptr(), buf.len()) };
        true
    }

    /// As `read_contiguous`, through the TLB's write entries (never filled for pages that
    /// hold predecoded code, so code is still invalidated by the slow path).
    fn write_contiguous(&mut self, addr: u32, buf: &[u8], ebytes: u32) -> bool {
        if !self.contiguous(addr, buf.len(), ebytes) {
            return false;
        }
        let Some(host) = self.cpu.tlb_write_host(addr, 1) else {
            return false;
        };
        // SAFETY: as in `read_contiguous`, for a writable RAM page.
        unsafe { std::ptr::copy_nonoverlapping(buf.as_ptr(), host, buf.len()) };
        true
    }

    fn write(&mut self, addr: u32, bytes: u32, value: u64) -> Result<(), Fault> {
        if bytes < 8 {
            let flags = self.flags();
            return self.cpu.store_with(self.bus, addr, bytes, value as u32, flags);
        }
        let (lo, hi) = (value as u32, (value >> 32) as u32);
        let (first, second) = if self.cpu.big_endian { (hi, lo) } else { (lo, hi) };
        let flags64 = self.flags64();
        self.cpu.store_with(self.bus, addr, 4, first, flags64)?;
        let flags = self.flags();
        self.cpu.store_with(self.bus, addr.wrapping_add(4), 4, second, flags)
    }
}
