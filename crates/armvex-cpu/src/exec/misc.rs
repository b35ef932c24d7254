//! Status registers, exception-generating instructions, hints, barriers and coprocessor
//! access (ARM ARM A5.2.11, A5.2.12, A5.6, A5.7, B9.3).

use super::mem;
use crate::cp15::Cp15Effect;
use crate::cpu::{Cpu, Exit};
use crate::insn::{Flow, Insn};
use crate::memory::AccessFlags;
use crate::mmu::{self, Access};
use crate::state::{Mode, psr};
use armvex_bus::Bus;

/// An UNDEFINED encoding: take the Undefined Instruction exception.
pub fn undefined(cpu: &mut Cpu, _bus: &mut Bus, d: &Insn) -> Flow {
    tracing::debug!(target: "cpu", "cpu{}: undefined instruction {:#010x} at {:#010x}", cpu.index(), d.raw, cpu.current_insn_addr());
    cpu.undefined()
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

/// RFE: load PC and CPSR from [`rn`]; `op2` as for SRS.
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
            let next = cpu.next_insn_addr(d);
            cpu.regs[15] = next;
            Flow::Branch
        }
        Cp15Effect::FlushTlbPage(va) => {
            cpu.tlb.flush_page(va & !0xfff);
            Flow::Next
        }
        Cp15Effect::FlushCode => {
            cpu.flush_code_cache = true;
            let next = cpu.next_insn_addr(d);
            cpu.regs[15] = next;
            Flow::Branch
        }
        Cp15Effect::Translate { va, write, user } => {
            let kind = if write { Access::Write } else { Access::Read };
            cpu.cp15.par = match mmu::translate(&cpu.cp15, bus, cpu.index(), va, kind, user) {
                Ok(t) => {
                    (t.pa & !0xfff)
                        | if t.size >= 0x100_0000 && t.size < 1 << 32 {
                            1 << 1
                        } else {
                            0
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
