//! Helpers for unit tests: a CPU on a small RAM-only bus.

use crate::code_cache::CodeCache;
use crate::cpu::{Cpu, CpuConfig, Exit};
use crate::cpu::{Insn, Step};
use crate::decode::Features;
use crate::model::CpuModel;
use armvex_bus::{Bus, PhysicalMemory, RamRegionSpec};

/// Base of the test RAM.
pub const RAM: u32 = 0x6000_0000;

/// A CPU (Cortex-A9, semihosting on) and a bus with 1 MiB of RAM at [`RAM`].
pub fn machine(model: CpuModel) -> (Cpu, Bus) {
    let mem = PhysicalMemory::new(&[RamRegionSpec {
        name: "ram".into(),
        base: u64::from(RAM),
        size: 0x10_0000,
    }])
    .unwrap();
    let cpu = Cpu::new(CpuConfig {
        model,
        index: 0,
        cluster_size: 1,
        semihosting: true,
    });
    (cpu, Bus::new(mem))
}

/// An instruction executed by step `h`, with its operands (all zero to start with).
pub struct TestInsn {
    step: Step,
    insn: Insn,
}

macro_rules! field {
    ($name:ident) => {
        pub fn $name(mut self, v: u32) -> Self {
            self.insn = self.insn.$name(v);
            self
        }
    };
}

impl TestInsn {
    field!(rd);
    field!(rn);
    field!(rm);
    field!(rs);
    field!(imm);
    field!(op);
    field!(op2);
}

/// An instruction executed by `h` with all fields zero.
pub fn insn(h: Step) -> TestInsn {
    TestInsn {
        step: h,
        insn: Insn::operands(),
    }
}

/// Execute one instruction's step at RAM (R15 reads as RAM + 8) with the given registers.
pub fn run_one(d: TestInsn, regs: &[(usize, u32)]) -> (Cpu, Bus) {
    let (mut cpu, mut bus) = machine(CpuModel::CortexA9);
    for &(r, v) in regs {
        cpu.regs[r] = v;
    }
    cpu.regs[15] = RAM + 8;
    (d.step)(&mut cpu, &mut bus, &d.insn);
    (cpu, bus)
}

/// Load ARM `words` at RAM, set registers, and run until `count` instructions have retired
/// or the program stops (a semihosting call or WFI). Returns the CPU, bus and exit reason.
pub fn run_arm(words: &[u32], regs: &[(usize, u32)], count: u64) -> (Cpu, Bus, Exit) {
    run_arm_on(CpuModel::CortexA9, words, regs, count)
}

/// [`run_arm`] on a chosen core.
pub fn run_arm_on(model: CpuModel, words: &[u32], regs: &[(usize, u32)], count: u64) -> (Cpu, Bus, Exit) {
    let (mut cpu, mut bus) = machine(model);
    let bytes: Vec<u8> = words.iter().flat_map(|w| w.to_le_bytes()).collect();
    bus.memory.write_bytes(u64::from(RAM), &bytes).unwrap();
    for &(r, v) in regs {
        cpu.regs[r] = v;
    }
    cpu.regs[15] = RAM;
    let mut code = CodeCache::new(bus.memory.total_pages(), Features::for_model(model, true));
    let exit = cpu.run(&mut bus, &mut code, count, 0);
    (cpu, bus, exit)
}

/// Load Thumb halfwords at RAM and run them in Thumb state (see [`run_arm`]).
pub fn run_thumb(halfwords: &[u16], regs: &[(usize, u32)], count: u64) -> (Cpu, Bus, Exit) {
    let (mut cpu, mut bus) = machine(CpuModel::CortexA9);
    let bytes: Vec<u8> = halfwords.iter().flat_map(|h| h.to_le_bytes()).collect();
    bus.memory.write_bytes(u64::from(RAM), &bytes).unwrap();
    for &(r, v) in regs {
        cpu.regs[r] = v;
    }
    cpu.set_pc_interworking(RAM | 1);
    let mut code = CodeCache::new(bus.memory.total_pages(), Features::for_model(CpuModel::CortexA9, true));
    let exit = cpu.run(&mut bus, &mut code, count, 0);
    (cpu, bus, exit)
}
