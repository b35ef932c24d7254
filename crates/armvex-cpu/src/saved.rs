//! Saving and restoring a core, and the register view a debugger uses.
//!
//! [`CpuState`] is everything architectural about one core (ARM ARM B1.3 "Processor modes and
//! registers", B4 "System Control Registers", the VFP register file) plus what the run loop
//! needs to continue exactly where it stopped: the instruction count, and whether a debugger
//! stopped it inside a block (see [`crate::debug`]). It is plain data (serde), saved by
//! snapshots and by reverse execution's checkpoints.
//!
//! Caches are not state: after [`Cpu::load_state`] the software TLB is empty, and the machine
//! must drop its predecoded code, since guest memory may have changed under it.

use crate::cp14::DebugRegisters;
use crate::cp15::Cp15;
use crate::cpu::{Cpu, ExclusiveMonitor};
use crate::error::CpuError;
use crate::generic_timer::GenericTimer;
use crate::model::CpuModel;
use crate::pmu::Pmu;
use crate::state::{BankedRegisters, Mode};
use crate::vfp_state::VfpState;
use serde::{Deserialize, Serialize};

/// One core's saved state.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct CpuState {
    pub model: CpuModel,
    pub index: usize,
    /// R0–R15 of the current mode; R15 is the address of the next instruction.
    pub regs: [u32; 16],
    pub cpsr: u32,
    pub banks: BankedRegisters,
    pub cp15: Cp15,
    pub cp14: DebugRegisters,
    pub vfp: VfpState,
    pub pmu: Pmu,
    pub timer: Option<GenericTimer>,
    pub monitor: ExclusiveMonitor,
    pub event_register: bool,
    pub sent_event: bool,
    /// Instructions retired since reset.
    pub icount: u64,
    /// A debugger stopped the core inside a block: the block goes on when it resumes, with
    /// the view of time it started with.
    pub resume_mid_block: bool,
    pub local_time: u64,
    pub time_carry: u64,
}

impl Cpu {
    /// Everything needed to put this core back as it is now.
    pub fn save_state(&self) -> CpuState {
        CpuState {
            model: self.config.model,
            index: self.config.index,
            regs: self.regs,
            cpsr: self.cpsr(),
            banks: self.banks.clone(),
            cp15: self.cp15.clone(),
            cp14: self.cp14.clone(),
            vfp: self.vfp.clone(),
            pmu: self.pmu.clone(),
            timer: self.timer.clone(),
            monitor: self.monitor,
            event_register: self.event_register,
            sent_event: self.sent_event,
            icount: self.icount,
            resume_mid_block: self.dbg.resume_mid_block,
            local_time: self.local_time,
            time_carry: self.dbg.time_carry,
        }
    }

    /// Put back a state from [`Cpu::save_state`] of the same core of a machine built the same
    /// way. A state of another core model or index, or an inconsistent one, is refused.
    pub fn load_state(&mut self, s: &CpuState) -> Result<(), CpuError> {
        let index = self.config.index;
        if s.model != self.config.model || s.index != index {
            return Err(CpuError::OtherCore {
                index,
                saved_model: s.model,
                saved_index: s.index,
                model: self.config.model,
            });
        }
        let mode = Mode::from_bits(s.cpsr).ok_or(CpuError::InvalidMode { index, cpsr: s.cpsr })?;
        if s.timer.is_some() != (self.config.model == CpuModel::CortexA15) {
            return Err(CpuError::TimerDoesNotFit {
                index,
                saved_model: s.model,
            });
        }
        self.banks = s.banks.clone();
        self.regs = s.regs;
        self.cp15 = s.cp15.clone();
        // Mode first, so that setting the CPSR switches no banks.
        self.mode = mode;
        self.set_cpsr_raw(s.cpsr);
        self.set_privilege(mode == Mode::User);
        self.cp14 = s.cp14.clone();
        self.vfp = s.vfp.clone();
        self.pmu = s.pmu.clone();
        self.timer = s.timer.clone();
        self.monitor = s.monitor;
        self.event_register = s.event_register;
        self.sent_event = s.sent_event;
        self.icount = s.icount;
        self.current_it = 0;
        self.dbg.resume_mid_block = s.resume_mid_block;
        self.dbg.time_carry = s.time_carry;
        self.dbg.retried = 0;
        self.dbg.skip_breakpoint_at = None;
        self.local_time = s.local_time;
        self.tlb.flush_all();
        self.seen_code_epoch = u64::MAX;
        Ok(())
    }

    /// Register `n` (0–15) as a debugger sees it between runs: R15 is the address of the next
    /// instruction.
    pub fn register(&self, n: usize) -> u32 {
        self.regs[n & 15]
    }

    /// Set register `n` (0–15) from the debugger. Writing R15 moves the PC in the current
    /// instruction set (bit 0 is dropped in Thumb state, bits 1:0 in ARM state).
    pub fn set_register(&mut self, n: usize, value: u32) {
        let n = n & 15;
        self.regs[n] = if n == 15 {
            value & if self.thumb { !1 } else { !3 }
        } else {
            value
        };
    }

    /// The banked registers not visible in the current mode (for `monitor info registers`).
    pub fn banked_registers(&self) -> &BankedRegisters {
        &self.banks
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testutil::{RAM, run_arm_on};

    #[test]
    fn a_saved_core_runs_on_identically() {
        // A loop that counts in R0, pushes to the stack, switches to IRQ mode and back, and
        // sets flags; run part of it, save, load into a fresh core, run both on.
        let prog = [
            0xe3a0_0000u32, // mov r0, #0
            0xe3a0_d801,    // mov sp, #0x10000
            0xe08d_d006,    // add sp, sp, r6
            0xe280_0001,    // loop: add r0, r0, #1
            0xe52d_0004,    // push {r0}
            0xe321_f0d2,    // msr cpsr_c, #0xd2 (IRQ mode)
            0xe1a0_e000,    // mov lr, r0
            0xe321_f0d3,    // msr cpsr_c, #0xd3 (SVC mode)
            0xe350_0064,    // cmp r0, #100
            0x1aff_fff8,    // bne loop
            0xeaff_fffe,    // b .
        ];
        let (mut a, mut bus_a, _) = run_arm_on(CpuModel::CortexA15, &prog, &[(6, RAM)], 57);
        let saved = a.save_state();
        let (mut b, mut bus_b, _) = run_arm_on(CpuModel::CortexA15, &prog, &[], 1);
        b.load_state(&saved).unwrap();
        assert_eq!(b.save_state(), saved);
        let ram: Vec<u8> = {
            let mut v = vec![0; 0x20000];
            bus_a.memory.read_bytes(u64::from(RAM), &mut v).unwrap();
            v
        };
        bus_b.memory.write_bytes(u64::from(RAM), &ram).unwrap();
        let features = crate::decode::Features::for_model(CpuModel::CortexA15, true);
        let mut code_a = crate::CodeCache::new(bus_a.memory.total_pages(), features.clone());
        let mut code_b = crate::CodeCache::new(bus_b.memory.total_pages(), features);
        a.run(&mut bus_a, &mut code_a, 1000, 0);
        b.run(&mut bus_b, &mut code_b, 1000, 0);
        assert_eq!(a.save_state(), b.save_state());
        assert_eq!(a.register(0), 100);
        assert_eq!(a.banked_registers().lr[Mode::Irq.bank()], 100);
    }

    #[test]
    fn a_state_of_another_core_is_refused() {
        let (a, _, _) = run_arm_on(CpuModel::CortexA9, &[0xeaff_fffe], &[], 3);
        let (mut b, _, _) = run_arm_on(CpuModel::CortexA15, &[0xeaff_fffe], &[], 3);
        assert_eq!(
            b.load_state(&a.save_state()).unwrap_err().to_string(),
            "cpu0: the saved core is CortexA9 cpu0, this one CortexA15"
        );
        let mut bad = b.save_state();
        bad.cpsr = 0x1f & 0x0b;
        assert_eq!(
            b.load_state(&bad).unwrap_err(),
            CpuError::InvalidMode {
                index: 0,
                cpsr: bad.cpsr
            }
        );
        assert_eq!(
            b.load_state(&bad).unwrap_err().to_string(),
            "cpu0: saved CPSR 0xb has no valid mode"
        );
    }
}
