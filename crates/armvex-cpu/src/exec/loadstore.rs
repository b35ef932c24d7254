//! Loads and stores (ARM ARM A5.3, A5.2.8–A5.2.10, A5.5).
//!
//! Single loads and stores are specialised by kind (word, byte, halfword, signed, double),
//! by addressing mode (offset, pre-indexed, post-indexed, unprivileged) and by the form of the
//! offset (immediate or shifted register).
//!
//! Fields: `rd` = Rt (the data register), `rs` = Rt2 for LDRD/STRD, `rn` = base, `rm` = index
//! register; `imm` = the immediate offset, already negated when U=0 (register forms: the shift
//! amount); `op` = shift type; `op2` bit 0 = U (register forms: add the index).

use super::{mem, mem_synced};
use crate::alu::shift_imm;
use crate::cpu::Cpu;
use crate::insn::{Flow, Insn};
use crate::memory::AccessFlags;
use crate::thread::{Op, Ops, OpsOf, Refine, op, reads};
use armvex_bus::Bus;

/// The kinds of single load/store.
pub mod kind {
    pub const LDR: u8 = 0;
    pub const STR: u8 = 1;
    pub const LDRB: u8 = 2;
    pub const STRB: u8 = 3;
    pub const LDRH: u8 = 4;
    pub const STRH: u8 = 5;
    pub const LDRSB: u8 = 6;
    pub const LDRSH: u8 = 7;
    pub const LDRD: u8 = 8;
    pub const STRD: u8 = 9;
}

/// Addressing modes.
pub mod mode {
    /// [Rn, offset]
    pub const OFFSET: u8 = 0;
    /// [Rn, offset]!
    pub const PRE: u8 = 1;
    /// \[Rn\], offset
    pub const POST: u8 = 2;
    /// \[Rn\], offset with User-mode permissions (ARM LDRT and friends).
    pub const POST_USER: u8 = 3;
    /// [Rn, offset] with User-mode permissions (Thumb LDRT and friends).
    pub const OFFSET_USER: u8 = 4;

    /// The access is at the base address (the offset applies afterwards).
    pub const fn post_indexed(m: u8) -> bool {
        m == POST || m == POST_USER
    }

    /// The base register is updated.
    pub const fn writeback(m: u8) -> bool {
        m == PRE || m == POST || m == POST_USER
    }

    /// The access is checked with User-mode permissions.
    pub const fn unprivileged(m: u8) -> bool {
        m == POST_USER || m == OFFSET_USER
    }
}

use kind::*;

#[inline(always)]
fn is_load(k: u8) -> bool {
    matches!(k, LDR | LDRB | LDRH | LDRSB | LDRSH | LDRD)
}

/// Offset forms single loads and stores are specialised for.
pub mod offset {
    /// `imm`, already negated for U = 0.
    pub const IMM: u8 = 0;
    /// Register `rm` shifted by immediate (`op` = type, `imm` = amount), added or subtracted
    /// (`op2` bit 0).
    pub const REG: u8 = 1;
    /// Register `rm` shifted left by `imm`, added: the common `[Rn, Rm, LSL #n]`.
    pub const REG_ADD_LSL: u8 = 2;
}

/// The address a single load/store accesses, and the base plus offset that writeback stores
/// (the same address unless post-indexed). The offset is an immediate or a shifted register,
/// added or subtracted (`op2` bit 0). With `PC`, the base may be R15, which is word-aligned
/// (Align(PC, 4) in Thumb state; in ARM state it already is).
#[inline(always)]
fn addresses<const MODE: u8, const OFF: u8, const PC: bool>(cpu: &Cpu, d: &Insn) -> (u32, u32) {
    let base = cpu.r(d.rn);
    let offset = match OFF {
        offset::IMM => d.imm,
        offset::REG_ADD_LSL => cpu.r(d.rm) << d.imm,
        _ => {
            let v = shift_imm(cpu.r(d.rm), d.op, d.imm, cpu.cf);
            if d.op2 & 1 != 0 { v } else { v.wrapping_neg() }
        }
    };
    let base = if PC && d.rn == 15 { base & !3 } else { base };
    let indexed = base.wrapping_add(offset);
    let addr = if mode::post_indexed(MODE) { base } else { indexed };
    (addr, indexed)
}

/// A single load or store. See the module documentation for the fields; `OFF` is the offset
/// form ([`offset`]). Without `PC`, no register field is R15 (the decoder saw to it, see
/// [`crate::thread`]).
///
/// The fast path handles a naturally aligned access to a page the TLB already maps, without
/// calling anything (so it needs no stack frame); for everything else it returns
/// [`Flow::Slow`], and [`single_slow`] does the work.
#[inline(always)]
fn single<const KIND: u8, const MODE: u8, const OFF: u8, const PC: bool>(
    cpu: &mut Cpu,
    _bus: &mut Bus,
    d: &Insn,
) -> Flow {
    let simple = matches!(KIND, LDR | STR | LDRB | STRB | LDRH | STRH | LDRSB | LDRSH);
    if simple && !mode::unprivileged(MODE) && !(PC && KIND == LDR && d.rd == 15) {
        let (addr, indexed) = addresses::<MODE, OFF, PC>(cpu, d);
        let size = match KIND {
            LDR | STR => 4,
            LDRH | STRH | LDRSH => 2,
            _ => 1,
        };
        if is_load(KIND) {
            if let Some(host) = cpu.tlb_read_host(addr, size) {
                // SAFETY: the TLB maps `addr` to this host address inside a RAM page, and the
                // access is naturally aligned, so it stays inside the page.
                let raw = unsafe { crate::memory::read_host(host, size) };
                let value = match KIND {
                    LDRSB => raw as u8 as i8 as u32,
                    LDRSH => raw as u16 as i16 as u32,
                    _ => raw,
                };
                if mode::writeback(MODE) {
                    cpu.set_r(d.rn, indexed);
                }
                cpu.set_r(d.rd, value);
                return Flow::Next;
            }
        } else if let Some(host) = cpu.tlb_write_host(addr, size) {
            let value = cpu.r(d.rd);
            // SAFETY: as above; write entries only map RAM pages that hold no predecoded code.
            unsafe { crate::memory::write_host(host, size, value) };
            if mode::writeback(MODE) {
                cpu.set_r(d.rn, indexed);
            }
            return Flow::Next;
        }
    }
    Flow::Slow
}

/// The family of single loads and stores of one kind, addressing mode and offset form.
pub(crate) struct Single<const KIND: u8, const MODE: u8, const OFF: u8>;

impl<const KIND: u8, const MODE: u8, const OFF: u8> Op for Single<KIND, MODE, OFF> {
    const SYNC: bool = false;
    const INLINE_CONDITION: bool = KIND <= STRH && MODE <= mode::POST;
    const REFINE: Option<Refine> = if OFF == offset::REG {
        Some(refine_register_offset::<KIND, MODE>)
    } else {
        None
    };
    #[inline(always)]
    fn step(cpu: &mut Cpu, bus: &mut Bus, d: &Insn) -> Flow {
        single::<KIND, MODE, OFF, false>(cpu, bus, d)
    }
    #[inline(always)]
    fn step_pc(cpu: &mut Cpu, bus: &mut Bus, d: &Insn) -> Flow {
        single::<KIND, MODE, OFF, true>(cpu, bus, d)
    }
    #[inline(always)]
    fn slow(cpu: &mut Cpu, bus: &mut Bus, d: &Insn) -> Flow {
        single_slow::<KIND, MODE, OFF>(cpu, bus, d)
    }
}

/// `[Rn, Rm, LSL #n]` gets its own handler.
fn refine_register_offset<const KIND: u8, const MODE: u8>(d: &mut Insn, _thumb: bool) -> &'static Ops {
    if d.op == crate::alu::shift::LSL && d.op2 & 1 != 0 {
        <Single<KIND, MODE, { offset::REG_ADD_LSL }> as OpsOf>::OPS
    } else {
        <Single<KIND, MODE, { offset::REG }> as OpsOf>::OPS
    }
}

/// The general case of [`single`]: TLB misses, unaligned or unprivileged accesses, MMIO,
/// doubleword transfers, loads into the PC, faults.
#[inline(always)]
fn single_slow<const KIND: u8, const MODE: u8, const OFF: u8>(cpu: &mut Cpu, bus: &mut Bus, d: &Insn) -> Flow {
    // Faults and loads into the PC need the PC (the fast path never does).
    cpu.sync_pc(d);
    let (addr, indexed) = addresses::<MODE, OFF, true>(cpu, d);
    let user = mode::unprivileged(MODE);
    let flags = AccessFlags {
        user: user || cpu.privilege_index != 0,
        align: 0,
    };

    if is_load(KIND) {
        let value = match KIND {
            LDR if !user => mem!(cpu, cpu.load32(bus, addr)),
            LDRB if !user => mem!(cpu, cpu.load8(bus, addr)),
            LDRH if !user => mem!(cpu, cpu.load16(bus, addr)),
            LDR => mem!(cpu, cpu.load_with(bus, addr, 4, flags)),
            LDRB => mem!(cpu, cpu.load_with(bus, addr, 1, flags)),
            LDRH => mem!(cpu, cpu.load_with(bus, addr, 2, flags)),
            LDRSB => mem!(cpu, cpu.load_with(bus, addr, 1, flags)) as u8 as i8 as u32,
            LDRSH => mem!(cpu, cpu.load_with(bus, addr, 2, flags)) as u16 as i16 as u32,
            _ => {
                // LDRD: both words are loaded before any register is written.
                let flags = AccessFlags { align: 3, ..flags };
                let lo = mem!(cpu, cpu.load_with(bus, addr, 4, flags));
                let hi = mem!(cpu, cpu.load_with(bus, addr.wrapping_add(4), 4, flags));
                if mode::writeback(MODE) {
                    cpu.set_reg(d.rn, indexed);
                }
                cpu.set_reg(d.rd, lo);
                cpu.set_reg(d.rs, hi);
                return Flow::Next;
            }
        };
        // Writeback before the loaded value, so Rt wins if Rt == Rn (as QEMU).
        if mode::writeback(MODE) {
            cpu.set_reg(d.rn, indexed);
        }
        if KIND == LDR && d.rd == 15 {
            // LoadWritePC: interworking branch.
            return cpu.bx_write_pc(value);
        }
        cpu.set_reg(d.rd, value);
    } else {
        let value = cpu.reg(d.rd);
        match KIND {
            STR if !user => mem!(cpu, cpu.store32(bus, addr, value)),
            STRB if !user => mem!(cpu, cpu.store8(bus, addr, value)),
            STRH if !user => mem!(cpu, cpu.store16(bus, addr, value)),
            STR => mem!(cpu, cpu.store_with(bus, addr, 4, value, flags)),
            STRB => mem!(cpu, cpu.store_with(bus, addr, 1, value, flags)),
            STRH => mem!(cpu, cpu.store_with(bus, addr, 2, value, flags)),
            _ => {
                let flags = AccessFlags { align: 3, ..flags };
                let hi = cpu.reg(d.rs);
                mem!(cpu, cpu.store_with(bus, addr, 4, value, flags));
                mem!(cpu, cpu.store_with(bus, addr.wrapping_add(4), 4, hi, flags));
            }
        }
        if mode::writeback(MODE) {
            cpu.set_reg(d.rn, indexed);
        }
    }
    Flow::Next
}

macro_rules! by_reg {
    ($k:literal, $m:literal) => {
        [
            <Single<$k, $m, { offset::IMM }> as OpsOf>::OPS,
            <Single<$k, $m, { offset::REG }> as OpsOf>::OPS,
        ]
    };
}
macro_rules! by_mode {
    ($k:literal) => {
        [
            by_reg!($k, 0),
            by_reg!($k, 1),
            by_reg!($k, 2),
            by_reg!($k, 3),
            by_reg!($k, 4),
        ]
    };
}

/// Handlers indexed by `[kind][mode][register offset]`.
pub static SINGLE_HANDLERS: [[[&Ops; 2]; 5]; 10] = [
    by_mode!(0),
    by_mode!(1),
    by_mode!(2),
    by_mode!(3),
    by_mode!(4),
    by_mode!(5),
    by_mode!(6),
    by_mode!(7),
    by_mode!(8),
    by_mode!(9),
];

/// LDM/STM flags in `op2`.
pub mod block {
    /// Increment (U).
    pub const INCREMENT: u8 = 1;
    /// Before (P).
    pub const BEFORE: u8 = 2;
    /// Writeback (W).
    pub const WRITEBACK: u8 = 4;
    /// The `^` forms (S): user registers, or exception return when loading the PC.
    pub const USER: u8 = 8;
}

/// The lowest address and the written-back base of a block transfer of `count` registers.
#[inline(always)]
fn block_addresses(base: u32, count: u32, flags: u8) -> (u32, u32) {
    let size = count * 4;
    let inc = flags & block::INCREMENT != 0;
    let before = flags & block::BEFORE != 0;
    let start = match (inc, before) {
        (true, false) => base,
        (true, true) => base.wrapping_add(4),
        (false, false) => base.wrapping_sub(size).wrapping_add(4),
        (false, true) => base.wrapping_sub(size),
    };
    let wb = if inc {
        base.wrapping_add(size)
    } else {
        base.wrapping_sub(size)
    };
    (start, wb)
}

/// LDM: `rn` = base, `imm` = register list, `op2` = [`block`] flags.
///
/// Registers are written as their words arrive, as QEMU does, except the base register and
/// the PC, which are written after the last load. So a data abort part-way leaves the base
/// as it was (ARM ARM B1.9.7: the instruction can be restarted); registers already loaded
/// hold their new values (architecturally UNKNOWN).
pub fn ldm(cpu: &mut Cpu, bus: &mut Bus, d: &Insn) -> Flow {
    let list = d.imm & 0xffff;
    let rn = d.rn as usize;
    let base = cpu.reg(d.rn);
    let (mut addr, wb) = block_addresses(base, list.count_ones(), d.op2);
    let flags = AccessFlags {
        user: cpu.privilege_index != 0,
        align: 3,
    };
    // The `^` form without the PC loads the User-mode registers.
    let user_regs = d.op2 & block::USER != 0 && list & (1 << 15) == 0;
    let mut loaded_base = None;
    let mut new_pc = 0;
    let mut l = list;
    while l != 0 {
        let r = l.trailing_zeros() as usize;
        l &= l - 1;
        let value = mem_synced!(cpu, d, cpu.load_with(bus, addr, 4, flags));
        addr = addr.wrapping_add(4);
        if user_regs {
            cpu.set_user_reg(r, value);
        } else if r == 15 {
            new_pc = value;
        } else if r == rn {
            loaded_base = Some(value);
        } else {
            cpu.regs[r] = value;
        }
    }
    if d.op2 & block::WRITEBACK != 0 {
        cpu.set_reg(d.rn, wb);
    }
    if let Some(value) = loaded_base {
        cpu.regs[rn] = value;
    }
    if list & (1 << 15) != 0 {
        if d.op2 & block::USER != 0 {
            return cpu.exception_return(new_pc, None);
        }
        return cpu.bx_write_pc(new_pc);
    }
    Flow::Next
}

/// STM: `rn` = base, `imm` = register list, `op2` = [`block`] flags. Registers are stored as
/// they were before the instruction (a base in the list stores its original value).
pub fn stm(cpu: &mut Cpu, bus: &mut Bus, d: &Insn) -> Flow {
    let list = d.imm & 0xffff;
    let base = cpu.reg(d.rn);
    let (mut addr, wb) = block_addresses(base, list.count_ones(), d.op2);
    let flags = AccessFlags {
        user: cpu.privilege_index != 0,
        align: 3,
    };
    let user_regs = d.op2 & block::USER != 0;
    let mut l = list;
    while l != 0 {
        let r = l.trailing_zeros() as usize;
        l &= l - 1;
        let v = if user_regs { cpu.user_reg(r) } else { cpu.regs[r] };
        mem_synced!(cpu, d, cpu.store_with(bus, addr, 4, v, flags));
        addr = addr.wrapping_add(4);
    }
    if d.op2 & block::WRITEBACK != 0 {
        cpu.set_reg(d.rn, wb);
    }
    Flow::Next
}

/// SWP (`op` 4) / SWPB (`op` 1): `rd` = Rt (loaded), `rm` = Rt2 (stored), `rn` = address.
pub fn swap(cpu: &mut Cpu, bus: &mut Bus, d: &Insn) -> Flow {
    let addr = cpu.reg(d.rn);
    let size = u32::from(d.op);
    let flags = AccessFlags {
        user: cpu.privilege_index != 0,
        align: size - 1,
    };
    let old = mem!(cpu, cpu.load_with(bus, addr, size, flags));
    let new = cpu.reg(d.rm);
    mem!(cpu, cpu.store_with(bus, addr, size, new, flags));
    cpu.set_reg(d.rd, old);
    Flow::Next
}

/// LDREX{B,H,D}: `rd` = Rt, `rs` = Rt2 (LDREXD), `rn` = base, `imm` = offset (Thumb LDREX),
/// `op` = size (1, 2, 4, 8).
pub fn load_exclusive(cpu: &mut Cpu, bus: &mut Bus, d: &Insn) -> Flow {
    let addr = cpu.reg(d.rn).wrapping_add(d.imm);
    let flags = AccessFlags {
        user: cpu.privilege_index != 0,
        align: u32::from(d.op) - 1,
    };
    let value = if d.op == 8 {
        let lo = mem!(cpu, cpu.load_with(bus, addr, 4, flags));
        let hi = mem!(
            cpu,
            cpu.load_with(bus, addr.wrapping_add(4), 4, AccessFlags { align: 3, ..flags })
        );
        cpu.set_reg(d.rd, lo);
        cpu.set_reg(d.rs, hi);
        (u64::from(hi) << 32) | u64::from(lo)
    } else {
        let v = mem!(cpu, cpu.load_with(bus, addr, u32::from(d.op), flags));
        cpu.set_reg(d.rd, v);
        u64::from(v)
    };
    cpu.monitor.addr = Some(addr);
    cpu.monitor.value = value;
    Flow::Next
}

/// STREX{B,H,D}: `rd` = status register, `rm` = Rt, `rs` = Rt2 (STREXD), `rn` = base, `imm` =
/// offset (Thumb STREX), `op` = size. Succeeds (status 0) if the monitor holds this address and
/// memory still holds the value the LDREX saw, as in QEMU; the monitor is cleared either way.
pub fn store_exclusive(cpu: &mut Cpu, bus: &mut Bus, d: &Insn) -> Flow {
    let monitor = cpu.monitor;
    let flow = store_exclusive_once(cpu, bus, d);
    if cpu.dbg.retried != 0 {
        // A watchpoint stopped it before it completed: it runs again from the same monitor.
        cpu.monitor = monitor;
    }
    flow
}

fn store_exclusive_once(cpu: &mut Cpu, bus: &mut Bus, d: &Insn) -> Flow {
    let addr = cpu.reg(d.rn).wrapping_add(d.imm);
    let monitored = cpu.monitor.addr == Some(addr);
    cpu.monitor.addr = None;
    if !monitored {
        cpu.set_reg(d.rd, 1);
        return Flow::Next;
    }
    let flags = AccessFlags {
        user: cpu.privilege_index != 0,
        align: u32::from(d.op) - 1,
    };
    let current = if d.op == 8 {
        let lo = mem!(cpu, cpu.load_with(bus, addr, 4, flags));
        let hi = mem!(
            cpu,
            cpu.load_with(bus, addr.wrapping_add(4), 4, AccessFlags { align: 3, ..flags })
        );
        (u64::from(hi) << 32) | u64::from(lo)
    } else {
        u64::from(mem!(cpu, cpu.load_with(bus, addr, u32::from(d.op), flags)))
    };
    if current != cpu.monitor.value {
        cpu.set_reg(d.rd, 1);
        return Flow::Next;
    }
    let value = cpu.reg(d.rm);
    if d.op == 8 {
        let hi = cpu.reg(d.rs);
        mem!(cpu, cpu.store_with(bus, addr, 4, value, flags));
        mem!(
            cpu,
            cpu.store_with(bus, addr.wrapping_add(4), 4, hi, AccessFlags { align: 3, ..flags })
        );
    } else {
        mem!(cpu, cpu.store_with(bus, addr, u32::from(d.op), value, flags));
    }
    cpu.set_reg(d.rd, 0);
    Flow::Next
}

/// CLREX: clear the local monitor.
pub fn clear_exclusive(cpu: &mut Cpu, _bus: &mut Bus, _d: &Insn) -> Flow {
    cpu.monitor.addr = None;
    Flow::Next
}

/// The handler families of this module's instructions.
pub static LDM: &Ops = <Ldm<0> as OpsOf>::OPS;
/// STM without the PC in its list (see [`stm_ops`]).
pub static STM: &Ops = <Stm<false, 0> as OpsOf>::OPS;
/// STM storing the PC.
pub static STM_PC: &Ops = <Stm<true, 0> as OpsOf>::OPS;

/// LDM with `FLAGS` (the [`block`] flags but `USER`): [`ldm_fast`], else [`ldm`]. As
/// decoded (with `FLAGS` 0), the family refines itself into the one of its flags, and keeps
/// the number of registers in `op`.
pub(crate) struct Ldm<const FLAGS: u8>;

impl<const FLAGS: u8> Op for Ldm<FLAGS> {
    const SYNC: bool = false;
    const INLINE_CONDITION: bool = true;
    const READS: u8 = reads::RN;
    const REFINE: Option<Refine> = Some(refine_ldm);
    #[inline(always)]
    fn step(cpu: &mut Cpu, _bus: &mut Bus, d: &Insn) -> Flow {
        ldm_fast::<FLAGS>(cpu, d)
    }
    fn slow(cpu: &mut Cpu, bus: &mut Bus, d: &Insn) -> Flow {
        ldm(cpu, bus, d)
    }
}

/// STM: [`stm_fast`], else [`stm`]; with `PC` in the list, the PC is synced. `FLAGS` as for
/// [`Ldm`].
pub(crate) struct Stm<const PC: bool, const FLAGS: u8>;

impl<const PC: bool, const FLAGS: u8> Op for Stm<PC, FLAGS> {
    const SYNC: bool = PC;
    const INLINE_CONDITION: bool = true;
    const READS: u8 = reads::RN;
    const REFINE: Option<Refine> = Some(if PC { refine_stm::<true> } else { refine_stm::<false> });
    #[inline(always)]
    fn step(cpu: &mut Cpu, _bus: &mut Bus, d: &Insn) -> Flow {
        stm_fast::<FLAGS>(cpu, d)
    }
    fn slow(cpu: &mut Cpu, bus: &mut Bus, d: &Insn) -> Flow {
        stm(cpu, bus, d)
    }
}

macro_rules! block_flags {
    ($t:ident $(, $pc:literal)?) => {
        [
            <$t<$($pc,)? 0> as OpsOf>::OPS,
            <$t<$($pc,)? 1> as OpsOf>::OPS,
            <$t<$($pc,)? 2> as OpsOf>::OPS,
            <$t<$($pc,)? 3> as OpsOf>::OPS,
            <$t<$($pc,)? 4> as OpsOf>::OPS,
            <$t<$($pc,)? 5> as OpsOf>::OPS,
            <$t<$($pc,)? 6> as OpsOf>::OPS,
            <$t<$($pc,)? 7> as OpsOf>::OPS,
        ]
    };
}

/// Block transfer families by flags.
static LDM_FAMILIES: [&Ops; 8] = block_flags!(Ldm);
static STM_FAMILIES: [[&Ops; 8]; 2] = [block_flags!(Stm, false), block_flags!(Stm, true)];

/// The number of registers of a block transfer goes to `op`; the flags choose the family.
fn refine_ldm(d: &mut Insn, _thumb: bool) -> &'static Ops {
    d.op = (d.imm & 0xffff).count_ones() as u8;
    LDM_FAMILIES[usize::from(d.op2 & 7)]
}

fn refine_stm<const PC: bool>(d: &mut Insn, _thumb: bool) -> &'static Ops {
    d.op = (d.imm & 0xffff).count_ones() as u8;
    STM_FAMILIES[usize::from(PC)][usize::from(d.op2 & 7)]
}

/// The host address of a block transfer of `count` words from `start` if the TLB maps them
/// all (one page, word-aligned) for a read (`write` false) or a write at the current
/// privilege.
#[inline(always)]
fn block_host(cpu: &Cpu, start: u32, count: u32, write: bool) -> Option<*mut u8> {
    if start & 0xfff > 0x1000 - 4 * count {
        return None;
    }
    if write {
        cpu.tlb_write_host(start, 4)
    } else {
        cpu.tlb_read_host(start, 4).map(|p| p as *mut u8)
    }
}

/// The common LDM: no `^`, all words in one page the TLB maps. Otherwise [`Flow::Slow`].
/// Registers are written as in [`ldm`]. `op` holds the number of registers.
#[inline(always)]
fn ldm_fast<const FLAGS: u8>(cpu: &mut Cpu, d: &Insn) -> Flow {
    let list = d.imm & 0xffff;
    if d.op2 & block::USER != 0 {
        return Flow::Slow;
    }
    let count = u32::from(d.op);
    let (start, wb) = block_addresses(cpu.r(d.rn), count, FLAGS);
    let Some(host) = block_host(cpu, start, count, false) else {
        return Flow::Slow;
    };
    // Nothing can fault from here on, so the order in which registers are written does not
    // show: each register gets its word, the base included (its loaded value wins over the
    // written-back address, as in `ldm`), and the PC's word goes to `regs[15]` until it is
    // written as a branch.
    let mut l = list;
    let mut p = host as *const u8;
    while l != 0 {
        let r = (l.trailing_zeros() & 15) as usize;
        l &= l - 1;
        // SAFETY: `block_host` checked that the TLB maps the whole transfer, in one page.
        cpu.regs[r] = unsafe { crate::memory::read_host(p, 4) };
        // SAFETY: at most one past the transfer, in or just past its page (never read).
        p = p.wrapping_add(4);
    }
    if FLAGS & block::WRITEBACK != 0 && list & (1 << d.rn) == 0 {
        cpu.set_r(d.rn, wb);
    }
    if list & (1 << 15) != 0 {
        let new_pc = cpu.regs[15];
        return cpu.bx_write_pc(new_pc);
    }
    Flow::Next
}

/// The common STM: no `^`, all words in one page the TLB maps. Otherwise [`Flow::Slow`].
/// `op` holds the number of registers.
#[inline(always)]
fn stm_fast<const FLAGS: u8>(cpu: &mut Cpu, d: &Insn) -> Flow {
    let list = d.imm & 0xffff;
    if d.op2 & block::USER != 0 {
        return Flow::Slow;
    }
    let count = u32::from(d.op);
    let (start, wb) = block_addresses(cpu.r(d.rn), count, FLAGS);
    let Some(host) = block_host(cpu, start, count, true) else {
        return Flow::Slow;
    };
    let mut l = list;
    let mut p = host;
    while l != 0 {
        let r = l.trailing_zeros() as usize;
        l &= l - 1;
        // SAFETY: `block_host` checked that the TLB maps the whole transfer, in one page,
        // for writes (so it holds no predecoded code).
        unsafe { crate::memory::write_host(p, 4, cpu.regs[r]) };
        p = p.wrapping_add(4);
    }
    if FLAGS & block::WRITEBACK != 0 {
        cpu.set_r(d.rn, wb);
    }
    Flow::Next
}

/// The family of an STM of register list `list`.
pub fn stm_ops(list: u32) -> &'static Ops {
    if list & (1 << 15) != 0 { STM_PC } else { STM }
}
pub static SWAP: &Ops = op!(swap);
pub static LOAD_EXCLUSIVE: &Ops = op!(load_exclusive);
pub static STORE_EXCLUSIVE: &Ops = op!(store_exclusive);
pub static CLEAR_EXCLUSIVE: &Ops = op!(nosync(0) clear_exclusive);
