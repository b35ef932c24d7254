//! What a debugger does with a stopped machine: breakpoints and watchpoints, reading and
//! changing registers and memory.
//!
//! Reading never changes the guest: memory is read through a CPU's current translation without
//! touching devices (see `armvex_cpu::debug`). Changing the guest is host input: every write
//! goes into the host-input journal with the position where it happened (see
//! [`crate::console`]), so a recording replays it and reverse execution re-applies it when it
//! goes over that point again.

use crate::Machine;
use crate::console::DebuggerEdit;
use crate::error::MachineError;
use armvex_cpu::{Cpu, Watchpoint};

impl Machine {
    /// Replace the breakpoints (virtual addresses, all CPUs).
    pub fn set_breakpoints(&mut self, addrs: &[u32]) {
        self.debug.set_breakpoints(addrs.iter().copied());
    }

    /// The breakpoints, sorted.
    pub fn breakpoints(&self) -> &[u32] {
        self.debug.breakpoints()
    }

    /// Replace the watchpoints (virtual addresses, all CPUs).
    pub fn set_watchpoints(&mut self, watchpoints: &[Watchpoint]) {
        self.watchpoints = watchpoints.to_vec();
        for cpu in &mut self.cpus {
            cpu.set_watchpoints(watchpoints);
        }
    }

    /// The watchpoints.
    pub fn watchpoints(&self) -> &[Watchpoint] {
        &self.watchpoints
    }

    /// Let CPU `cpu` run past a breakpoint at `pc` once (resuming from it without removing it).
    pub fn skip_breakpoint_once(&mut self, cpu: usize, pc: u32) {
        if let Some(c) = self.cpus.get_mut(cpu) {
            c.skip_breakpoint_once(pc);
        }
    }

    /// CPU `i`, to look at.
    pub fn cpu(&self, i: usize) -> Option<&Cpu> {
        self.cpus.get(i)
    }

    /// Read guest memory at virtual address `addr` through CPU `cpu`'s translation (RAM only).
    /// On failure, how many bytes could be read.
    pub fn read_memory(&self, cpu: usize, addr: u32, buf: &mut [u8]) -> Result<(), usize> {
        let c = self.cpus.get(cpu).ok_or(0usize)?;
        c.debug_read(&self.bus, addr, buf)
    }

    /// The physical address CPU `cpu` translates `addr` to now, if it is mapped.
    pub fn translate(&self, cpu: usize, addr: u32) -> Option<armvex_bus::PhysAddr> {
        self.cpus.get(cpu)?.debug_translate(&self.bus, addr)
    }

    /// Write guest memory for the debugger (journaled; see the module docs). Nothing is
    /// written unless all of it can be.
    pub fn write_memory(&mut self, cpu: usize, addr: u32, data: &[u8]) -> Result<(), MachineError> {
        let mut check = vec![0u8; data.len()];
        self.read_memory(cpu, addr, &mut check).map_err(|n| {
            format!(
                "cannot write memory at {:#010x}: not mapped RAM",
                addr.wrapping_add(n as u32)
            )
        })?;
        Ok(self.edit(DebuggerEdit::Memory {
            cpu,
            addr,
            data: data.to_vec(),
        })?)
    }

    /// Read register `reg` (numbered as in [`crate::registers`]) of CPU `cpu`.
    pub fn read_register(&self, cpu: usize, reg: usize) -> Option<u64> {
        crate::registers::read(self.cpus.get(cpu)?, reg)
    }

    /// Write register `reg` of CPU `cpu` for the debugger (journaled).
    pub fn write_register(&mut self, cpu: usize, reg: usize, value: u64) -> Result<(), MachineError> {
        if self.read_register(cpu, reg) == Some(value) {
            return Ok(());
        }
        Ok(self.edit(DebuggerEdit::Register { cpu, reg, value })?)
    }

    /// Apply a debugger edit now and journal it.
    fn edit(&mut self, edit: DebuggerEdit) -> Result<(), String> {
        self.apply_edit(&edit)?;
        let (now, position) = (self.bus.clock.now(), self.position());
        Ok(self.input.push_edit(now, position, edit)?)
    }

    /// The host input: its journal (what was delivered, and what a replay still has to
    /// deliver) and cursor, for snapshots.
    pub fn input(&self) -> &crate::console::HostInput {
        &self.input
    }

    /// True if the host-input journal has input further on than the machine now is (the
    /// machine went back in time and has not caught up): a debugger edit now would drop it.
    pub fn has_future_input(&self) -> bool {
        self.input.cursor() < self.input.journal().len()
    }
}
