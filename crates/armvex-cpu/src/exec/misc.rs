//! Status registers, exception-generating instructions, hints, barriers and coprocessor
//! access (ARM ARM A5.2.11, A5.2.12, A5.6, A5.7, B9.3).

use super::mem;
use crate::cp15::Cp15Effect;
use crate::cpu::{Cpu, Exit};
use crate::insn::{Flow, Insn};
use crate::memory::AccessFlags;
use crate::mmu::{self, Access};
use crate::state::{Mode, psr};
use crate::thread::{Op, Ops, OpsOf};
use armvex_bus::Bus;

/// An UNDEFINED encoding: take the Undefined Instruction exception.
pub fn undefined(cpu: &mut Cpu, bus: &mut Bus, d: &Insn) -> Flow {
    tracing::debug!(target: "cpu", "cpu{}: undefined instruction {} at {:#010x}", cpu.index(), encoding(cpu, bus, d), cpu.current_insn_addr());
    cpu.undefined()
}

/// The encoding of the instruction being executed, read back from memory (for messages).
fn encoding(cpu: &Cpu, bus: &Bus, d: &Insn) -> String {
    let mut b = [0u8; 4];
    let n = d.len(cpu.is_thumb()) as usize;
    match cpu.debug_read(bus, cpu.current_insn_addr(), &mut b[..n]) {
        Ok(()) if n == 2 => format!("{:#06x}", u16::from_le_bytes([b[0], b[1]])),
        Ok(()) if cpu.is_thumb() => format!(
            "{:#06x} {:#06x}",
            u16::from_le_bytes([b[0], b[1]]),
            u16::from_le_bytes([b[2], b[3]])
        ),
        Ok(()) => format!("{:#010x}", u32::from_le_bytes(b)),
        Err(_) => "(unreadable)".into(),
    }
}

/// An instruction that does nothing here (NOP, YIELD, PLD, PLI, DMB, DSB, DBG, cache hints).
pub fn nop(_cpu: &mut Cpu, _bus: &mut Bus, _d: &Insn) -> Flow {
    Flow::Next
}

/// ISB: ends the block, so instructions written before it are fetched afresh and pending
/// interrupts are seen.
pub fn isb(cpu: &mut Cpu, _bus: &mut Bus, d: &Insn) -> Flow {
    let next = cpu.next_insn_addr(d);
    cpu.regs[15] = next;
    Flow::Branch
}

/// MRS: `rd` ← CPSR (`op` 0) or SPSR (`op` 1). As in QEMU, the execution-state bits (T, J,
/// IT) read as zero.
pub fn mrs(cpu: &mut Cpu, _bus: &mut Bus, d: &Insn) -> Flow {
    let v = if d.op == 0 {
        cpu.cpsr() & !psr::EXEC
    } else {
        match cpu.spsr() {
            Some(v) => v,
            None if cpu.mode() == Mode::User => return cpu.undefined(),
            None => 0,
        }
    };
    cpu.regs[d.rd as usize] = v;
    Flow::Next
}

/// The byte mask selected by MSR's field mask (c, x, s, f).
fn field_mask(fields: u8) -> u32 {
    (0..4)
        .filter(|i| fields & (1 << i) != 0)
        .map(|i| 0xffu32 << (8 * i))
        .sum()
}

/// MSR: CPSR (`op` 0) or SPSR (`op` 1) fields `op2` ← `rm` (register form) or `imm`
/// (immediate form, `rm` = 0xff). Ends the block: the mode or the interrupt masks may change.
pub fn msr(cpu: &mut Cpu, _bus: &mut Bus, d: &Insn) -> Flow {
    let value = if d.rm == 0xff { d.imm } else { cpu.regs[d.rm as usize] };
    let mut mask = field_mask(d.op2) & psr::VALID;
    if d.op == 0 {
        mask &= !psr::EXEC;
        if cpu.mode() == Mode::User {
            mask &= psr::USER_WRITABLE;
        }
        cpu.write_cpsr_masked(value, mask);
    } else {
        match cpu.spsr() {
            Some(old) => cpu.set_spsr((old & !mask) | (value & mask)),
            None if cpu.mode() == Mode::User => return cpu.undefined(),
            None => {}
        }
    }
    let next = cpu.next_insn_addr(d);
    cpu.regs[15] = next;
    Flow::Branch
}

/// CPS: `op2` bits 1:0 = imod (2 enable, 3 disable), bit 2 = change mode; `imm` = A/I/F bits
/// (4/2/1); `op` = mode. A NOP in User mode.
pub fn cps(cpu: &mut Cpu, _bus: &mut Bus, d: &Insn) -> Flow {
    if cpu.mode() != Mode::User {
        let mut value = cpu.cpsr();
        let mut mask = 0;
        let aif = (d.imm & 7) << 6;
        match d.op2 & 3 {
            2 => {
                value &= !aif;
                mask |= aif;
            }
            3 => {
                value |= aif;
                mask |= aif;
            }
            _ => {}
        }
        if d.op2 & 4 != 0 {
            value = (value & !psr::M) | u32::from(d.op);
            mask |= psr::M;
        }
        cpu.write_cpsr_masked(value, mask);
    }
    let next = cpu.next_insn_addr(d);
    cpu.regs[15] = next;
    Flow::Branch
}

/// SETEND: `op` = 1 for big-endian data.
pub fn setend(cpu: &mut Cpu, _bus: &mut Bus, d: &Insn) -> Flow {
    let v = if d.op != 0 { psr::E } else { 0 };
    cpu.write_cpsr_masked(v, psr::E);
    Flow::Next
}

/// The first address and the written-back base of SRS/RFE (two words); `op2` bit 0 = U
/// (increment), bit 1 = P (before).
fn two_word_block(base: u32, op2: u8) -> (u32, u32) {
    let inc = op2 & 1 != 0;
    let before = op2 & 2 != 0;
    let mut addr = if inc { base } else { base.wrapping_sub(8) };
    if before == inc {
        addr = addr.wrapping_add(4);
    }
    (
        addr,
        if inc {
            base.wrapping_add(8)
        } else {
            base.wrapping_sub(8)
        },
    )
}

/// SRS: store LR and SPSR of the current mode on the stack of mode `op`; `op2` bit 0 = U,
/// bit 1 = P, bit 2 = W.
pub fn srs(cpu: &mut Cpu, bus: &mut Bus, d: &Insn) -> Flow {
    let target = Mode::from_bits(u32::from(d.op));
    let Some(target) = target.filter(|m| *m != Mode::Hyp) else {
        return cpu.undefined();
    };
    let Some(spsr) = cpu.spsr() else {
        return cpu.undefined();
    };
    let base = cpu.banked_sp(target);
    let (addr, wb) = two_word_block(base, d.op2);
    let flags = AccessFlags { user: false, align: 3 };
    let lr = cpu.regs[14];
    mem!(cpu, cpu.store_with(bus, addr, 4, lr, flags));
    mem!(cpu, cpu.store_with(bus, addr.wrapping_add(4), 4, spsr, flags));
    if d.op2 & 4 != 0 {
        cpu.set_banked_sp(target, wb);
    }
    Flow::Next
}

/// RFE: load PC and CPSR from `[rn]`; `op2` as for SRS.
pub fn rfe(cpu: &mut Cpu, bus: &mut Bus, d: &Insn) -> Flow {
    if cpu.mode() == Mode::User {
        return cpu.undefined();
    }
    let base = cpu.regs[d.rn as usize];
    let (addr, wb) = two_word_block(base, d.op2);
    let flags = AccessFlags { user: false, align: 3 };
    let pc = mem!(cpu, cpu.load_with(bus, addr, 4, flags));
    let new_cpsr = mem!(cpu, cpu.load_with(bus, addr.wrapping_add(4), 4, flags));
    if d.op2 & 4 != 0 {
        cpu.regs[d.rn as usize] = wb;
    }
    cpu.exception_return(pc, Some(new_cpsr))
}

/// SVC: `imm` = the comment field. `SVC 0x123456` (ARM) or `SVC 0xAB` (Thumb) outside User mode
/// is a semihosting call when semihosting is on.
pub fn svc(cpu: &mut Cpu, _bus: &mut Bus, d: &Insn) -> Flow {
    let next = cpu.next_insn_addr(d);
    let semihost_imm = if cpu.thumb { 0xab } else { 0x12_3456 };
    if cpu.config.semihosting && d.imm == semihost_imm && cpu.mode() != Mode::User {
        cpu.regs[15] = next;
        cpu.exit = Exit::Semihosting;
        return Flow::Stop;
    }
    cpu.supervisor_call(next)
}

/// HLT: `HLT 0xF000` (ARM) / `HLT 0x3C` (Thumb) is a semihosting call when semihosting is on;
/// any other HLT is UNDEFINED (no external debugger).
pub fn hlt(cpu: &mut Cpu, _bus: &mut Bus, d: &Insn) -> Flow {
    let semihost_imm = if cpu.thumb { 0x3c } else { 0xf000 };
    if cpu.config.semihosting && d.imm == semihost_imm && cpu.mode() != Mode::User {
        let next = cpu.next_insn_addr(d);
        cpu.regs[15] = next;
        cpu.exit = Exit::Semihosting;
        return Flow::Stop;
    }
    cpu.undefined()
}

/// SMC: call the Secure Monitor.
pub fn smc(cpu: &mut Cpu, _bus: &mut Bus, d: &Insn) -> Flow {
    let next = cpu.next_insn_addr(d);
    cpu.secure_monitor_call(next)
}

/// BKPT: a Prefetch Abort (debug event).
pub fn bkpt(cpu: &mut Cpu, _bus: &mut Bus, _d: &Insn) -> Flow {
    cpu.breakpoint()
}

/// WFI: wait for an interrupt (the machine decides when the CPU resumes).
pub fn wfi(cpu: &mut Cpu, _bus: &mut Bus, d: &Insn) -> Flow {
    let next = cpu.next_insn_addr(d);
    cpu.regs[15] = next;
    cpu.exit = Exit::WaitForInterrupt;
    Flow::Stop
}

/// WFE: consume the event register, or wait for an event.
pub fn wfe(cpu: &mut Cpu, _bus: &mut Bus, d: &Insn) -> Flow {
    if cpu.event_register {
        cpu.event_register = false;
        return Flow::Next;
    }
    let next = cpu.next_insn_addr(d);
    cpu.regs[15] = next;
    cpu.exit = Exit::WaitForEvent;
    Flow::Stop
}

/// SEV: signal an event to every CPU (this one included).
pub fn sev(cpu: &mut Cpu, _bus: &mut Bus, _d: &Insn) -> Flow {
    cpu.sent_event = true;
    cpu.event_register = true;
    Flow::Next
}

/// MRC/MCR: `rs` = coprocessor, `rd` = Rt, `rn` = CRn, `rm` = CRm, `op2` = opc1 << 3 | opc2,
/// `op` = 1 for MRC (read).
pub fn coprocessor(cpu: &mut Cpu, bus: &mut Bus, d: &Insn) -> Flow {
    let key = (
        u32::from(d.rn),
        u32::from(d.op2 >> 3),
        u32::from(d.rm),
        u32::from(d.op2 & 7),
    );
    let privileged = cpu.mode() != Mode::User;
    match d.rs {
        15 if d.rn == 14 && cpu.timer.is_some() => {
            let user = !privileged;
            let now = cpu.local_time;
            let timer_key = (key.1, key.2, key.3);
            if d.op == 1 {
                let timer = cpu.timer.as_ref().expect("checked");
                let Some(v) = timer.read(timer_key, now, user) else {
                    return unknown_register(cpu, d, key);
                };
                cpu.regs[d.rd as usize] = v;
            } else {
                let v = cpu.regs[d.rd as usize];
                let timer = cpu.timer.as_mut().expect("checked");
                if !timer.write(timer_key, v, now, user) {
                    return unknown_register(cpu, d, key);
                }
                cpu.update_timer_outputs(bus, now);
            }
            Flow::Next
        }
        15 if d.rn == 9 && key.1 == 0 && (12..=14).contains(&key.2) => {
            let (crm, op2, now, user) = (key.2, key.3, cpu.local_time, !privileged);
            if d.op == 1 {
                let Some(v) = cpu.pmu.read(crm, op2, now, user) else {
                    return unknown_register(cpu, d, key);
                };
                if d.rd == 15 {
                    cpu.set_nzcv(v & psr::NZCV);
                } else {
                    cpu.regs[d.rd as usize] = v;
                }
            } else {
                let v = cpu.regs[d.rd as usize];
                if !cpu.pmu.write(crm, op2, v, now, user) {
                    return unknown_register(cpu, d, key);
                }
            }
            Flow::Next
        }
        14 if d.op == 1 => {
            let Some(v) = cpu.cp14.read(key, privileged) else {
                return unknown_register(cpu, d, key);
            };
            if d.rd == 15 {
                cpu.set_nzcv(v & psr::NZCV);
            } else {
                cpu.regs[d.rd as usize] = v;
            }
            Flow::Next
        }
        14 => {
            let v = cpu.regs[d.rd as usize];
            if !cpu.cp14.write(key, v, privileged) {
                return unknown_register(cpu, d, key);
            }
            Flow::Next
        }
        // ISR: which of IRQ (bit 7), FIQ (bit 6) are pending.
        15 if d.op == 1 && key == (12, 0, 1, 0) && privileged => {
            let index = cpu.index();
            let v = if bus.irq.cpu_irq(index) { 1 << 7 } else { 0 } | if bus.irq.cpu_fiq(index) { 1 << 6 } else { 0 };
            cpu.regs[d.rd as usize] = v;
            Flow::Next
        }
        // The A9's TLB lockdown register: a no-op whose read leaves Rt alone (as QEMU).
        15 if key == (10, 0, 0, 0) && privileged && cpu.model() == crate::model::CpuModel::CortexA9 => Flow::Next,
        15 if d.op == 1 => {
            let Some(v) = cpu.cp15.read(key, privileged) else {
                return unknown_register(cpu, d, key);
            };
            if d.rd == 15 {
                cpu.set_nzcv(v & psr::NZCV);
            } else {
                cpu.regs[d.rd as usize] = v;
            }
            Flow::Next
        }
        15 => {
            let v = cpu.regs[d.rd as usize];
            // The CP15 barrier operations may be used from User mode.
            if !privileged && matches!(key, (7, 0, 5, 4) | (7, 0, 10, 4) | (7, 0, 10, 5)) {
                return Flow::Next;
            }
            let Some(effect) = cpu.cp15.write(key, v, privileged) else {
                return unknown_register(cpu, d, key);
            };
            apply_cp15_effect(cpu, bus, d, effect)
        }
        _ => unknown_register(cpu, d, key),
    }
}

/// MRRC/MCRR: `imm` = coprocessor, `rd` = Rt (low word), `rs` = Rt2 (high word), `rm` = CRm,
/// `op2` = opc1, `op` = 1 for MRRC (read).
pub fn coprocessor64(cpu: &mut Cpu, bus: &mut Bus, d: &Insn) -> Flow {
    let privileged = cpu.mode() != Mode::User;
    let a15 = cpu.model() == crate::model::CpuModel::CortexA15;
    let (opc1, crm) = (u32::from(d.op2), u32::from(d.rm));
    let now = cpu.local_time;
    let value: Option<u64> = match (d.imm, crm) {
        (15, 14) if d.op == 1 => cpu.timer.as_ref().and_then(|t| t.read64(opc1, now, !privileged)),
        (15, 14) => {
            let v = (u64::from(cpu.regs[d.rs as usize]) << 32) | u64::from(cpu.regs[d.rd as usize]);
            let written = cpu.timer.as_mut().is_some_and(|t| t.write64(opc1, v, !privileged));
            if written {
                cpu.update_timer_outputs(bus, now);
            }
            written.then_some(0)
        }
        // The 64-bit TTBR0/TTBR1 (opc1 0/1) and PAR of the LPAE-capable A15 (B4.1.154,
        // B4.1.155, B4.1.113): Rt the low word, Rt2 the high one (BADDR[39:32], the ASID).
        (15, 2) if a15 && privileged && opc1 <= 1 => {
            let (lo, hi) = (cpu.regs[d.rd as usize], cpu.regs[d.rs as usize]);
            let read = d.op == 1;
            let value = cpu.cp15.with_access_bank(|c| {
                let (ttbr, ttbr_hi) = if opc1 == 0 {
                    (&mut c.ttbr0, &mut c.ttbr0_hi)
                } else {
                    (&mut c.ttbr1, &mut c.ttbr1_hi)
                };
                if !read {
                    (*ttbr, *ttbr_hi) = (lo, hi);
                }
                (u64::from(*ttbr_hi) << 32) | u64::from(*ttbr)
            });
            if !read {
                cpu.tlb.flush_all();
            }
            Some(value)
        }
        (15, 7) if a15 && privileged && opc1 == 0 => {
            let (lo, hi) = (cpu.regs[d.rd as usize], cpu.regs[d.rs as usize]);
            let read = d.op == 1;
            Some(cpu.cp15.with_access_bank(|c| {
                if !read {
                    (c.par, c.par_hi) = (lo, hi);
                }
                (u64::from(c.par_hi) << 32) | u64::from(c.par)
            }))
        }
        // DBGDRAR, DBGDSAR: no memory-mapped debug.
        (14, 1 | 2) if d.op == 1 && privileged && opc1 == 0 => Some(0),
        _ => None,
    };
    match value {
        Some(v) => {
            if d.op == 1 {
                cpu.regs[d.rd as usize] = v as u32;
                cpu.regs[d.rs as usize] = (v >> 32) as u32;
            }
            Flow::Next
        }
        None => {
            tracing::debug!(target: "cpu", "cpu{}: mcrr/mrrc p{}, {opc1}, c{crm}: no such register, undefined", cpu.index(), d.imm);
            cpu.undefined()
        }
    }
}

fn unknown_register(cpu: &mut Cpu, d: &Insn, key: (u32, u32, u32, u32)) -> Flow {
    tracing::debug!(
        target: "cpu",
        "cpu{}: {} p{}, {}, r{}, c{}, c{}, {}: no such register, undefined",
        cpu.index(),
        if d.op == 1 { "mrc" } else { "mcr" },
        d.rs,
        key.1,
        d.rd,
        key.0,
        key.2,
        key.3
    );
    cpu.undefined()
}

fn apply_cp15_effect(cpu: &mut Cpu, bus: &mut Bus, d: &Insn, effect: Cp15Effect) -> Flow {
    match effect {
        Cp15Effect::Nothing | Cp15Effect::WaitForInterrupt => Flow::Next,
        Cp15Effect::FlushTlb => {
            cpu.tlb.flush_all();
            // An SCR write may have changed the security state.
            cpu.update_security_state();
            let next = cpu.next_insn_addr(d);
            cpu.regs[15] = next;
            Flow::Branch
        }
        Cp15Effect::FlushTlbPage(va) => {
            cpu.tlb.flush_page(va & !0xfff);
            Flow::Next
        }
        Cp15Effect::FlushCode => {
            // Predecoded code is already dropped whenever its page is written (by a CPU
            // through any mapping, by DMA or by a loader), so it is never stale across
            // blocks. Instruction-cache invalidation only has to end this block, so that
            // instructions after it are fetched afresh. (Dropping the whole cache here made
            // Linux, which invalidates line by line after patching code, re-decode its whole
            // text hundreds of thousands of times.)
            let next = cpu.next_insn_addr(d);
            cpu.regs[15] = next;
            Flow::Branch
        }
        Cp15Effect::Translate {
            va,
            write,
            user,
            nonsecure,
        } => {
            let kind = if write { Access::Write } else { Access::Read };
            // ATS12NSO* from Secure state walks with the Non-secure copies of the registers.
            let other_world = nonsecure != cpu.cp15.nonsecure;
            if other_world {
                cpu.cp15.swap_worlds();
            }
            let result = mmu::translate(&cpu.cp15, bus, cpu.index(), va, kind, user);
            if other_world {
                cpu.cp15.swap_worlds();
            }
            if cpu.cp15.lpae() {
                // The 64-bit PAR (B4.1.113, long-descriptor format): bit 11 (LPAE) set; on
                // success PA[39:12], NS, SH in bits 8:7 and the MAIR attributes in 63:56;
                // on a fault F and the fault's STATUS in bits 6:1.
                let par: u64 = (1 << 11)
                    | match result {
                        Ok(t) => {
                            let ns = u64::from(nonsecure || t.nonsecure) << 9;
                            (t.pa & !0xfff) | ns | (u64::from(t.attrs & 3) << 7) | (u64::from(t.attrs >> 2) << 56)
                        }
                        Err(f) => 1 | (u64::from(f.lpae_status()) << 1),
                    };
                (cpu.cp15.par, cpu.cp15.par_hi) = (par as u32, (par >> 32) as u32);
                return Flow::Next;
            }
            cpu.cp15.par_hi = 0;
            cpu.cp15.par = match result {
                // PAR.NS (bit 9): the output address is Non-secure; a supersection reports
                // PA[31:24] and the SS bit.
                Ok(t) => {
                    let ns = u32::from(nonsecure || t.nonsecure) << 9;
                    if t.size == 0x100_0000 {
                        (t.pa as u32 & 0xff00_0000) | (1 << 1) | ns
                    } else {
                        (t.pa as u32 & !0xfff) | ns
                    }
                }
                Err(f) => {
                    let fs = f.status;
                    1 | ((fs & 0xf) << 1) | ((fs & 0x10) << 2)
                }
            };
            Flow::Next
        }
    }
}

/// The family of [`nop`]: needs no PC. A named type (not `op!`'s) so that the
/// superinstruction list (`PAIRS` in `crate::fuse`) and the pair census can name it.
pub(crate) struct Nop;

impl Op for Nop {
    const SYNC: bool = false;
    const READS: u8 = 0;
    #[inline(always)]
    fn step(cpu: &mut Cpu, bus: &mut Bus, d: &Insn) -> Flow {
        nop(cpu, bus, d)
    }
}

/// The [`Ops`] of [`Nop`].
pub static NOP: &Ops = <Nop as OpsOf>::OPS;
