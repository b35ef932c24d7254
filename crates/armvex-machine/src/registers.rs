//! The registers a debugger sees, numbered as armvex's gdb target description numbers them.
//!
//! | number | register |
//! |---|---|
//! | 0–15 | R0–R12, SP, LR, PC of the current mode (PC: the next instruction) |
//! | 16 | CPSR |
//! | 17–48 | D0–D31 (64 bits each) |
//! | 49 | FPSCR |
//!
//! The same numbers are used in recordings of debugger edits (see [`crate::console`]).

use crate::error::MachineError;
use armvex_cpu::Cpu;

/// Number of the CPSR.
pub const CPSR: usize = 16;
/// Number of D0.
pub const D0: usize = 17;
/// Number of the FPSCR.
pub const FPSCR: usize = 49;
/// How many registers there are.
pub const COUNT: usize = 50;

/// Size of register `reg` in bytes (0 if there is no such register).
pub fn size(reg: usize) -> usize {
    match reg {
        0..=16 | FPSCR => 4,
        D0..FPSCR => 8,
        _ => 0,
    }
}

/// Read register `reg` of `cpu`.
pub fn read(cpu: &Cpu, reg: usize) -> Option<u64> {
    Some(match reg {
        0..=15 => u64::from(cpu.register(reg)),
        CPSR => u64::from(cpu.cpsr()),
        D0..FPSCR => cpu.vfp.d[reg - D0],
        FPSCR => u64::from(cpu.vfp.fpscr),
        _ => return None,
    })
}

/// Write register `reg` of `cpu`. Writing the CPSR switches mode (and register banks) as an
/// exception return would; an invalid mode is refused.
pub fn write(cpu: &mut Cpu, reg: usize, value: u64) -> Result<(), MachineError> {
    match reg {
        0..=15 => cpu.set_register(reg, value as u32),
        CPSR => {
            if armvex_cpu::Mode::from_bits(value as u32).is_none() {
                return Err(format!("CPSR {value:#x} has no valid mode").into());
            }
            cpu.set_cpsr_raw(value as u32);
            cpu.flush_tlb();
        }
        D0..FPSCR => cpu.vfp.d[reg - D0] = value,
        FPSCR => cpu.vfp.fpscr = value as u32,
        _ => return Err(format!("there is no register {reg}").into()),
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use armvex_cpu::{CpuConfig, CpuModel, Mode};

    #[test]
    fn registers_read_and_write_by_number() {
        let mut cpu = Cpu::new(CpuConfig {
            model: CpuModel::CortexA15,
            index: 0,
            cluster_size: 1,
            semihosting: false,
        });
        write(&mut cpu, 3, 0x1234).unwrap();
        write(&mut cpu, 15, 0x6000_0003).unwrap();
        write(&mut cpu, D0 + 31, 0x4000_0000_0000_0000).unwrap();
        write(&mut cpu, FPSCR, 0x0300_0000).unwrap();
        assert_eq!(read(&cpu, 3), Some(0x1234));
        assert_eq!(read(&cpu, 15), Some(0x6000_0000), "ARM state: bits 1:0 dropped");
        assert_eq!(read(&cpu, D0 + 31), Some(0x4000_0000_0000_0000));
        assert_eq!(read(&cpu, FPSCR), Some(0x0300_0000));
        write(&mut cpu, 13, 0x100).unwrap();
        write(&mut cpu, CPSR, 0x6000_01d2).unwrap();
        assert_eq!(cpu.mode(), Mode::Irq);
        assert_eq!(read(&cpu, 13), Some(0), "IRQ mode has its own SP");
        assert!(write(&mut cpu, CPSR, 0x1d5).is_err());
        assert!(write(&mut cpu, COUNT, 0).is_err());
        assert_eq!(
            (size(0), size(CPSR), size(D0), size(FPSCR), size(COUNT)),
            (4, 4, 8, 4, 0)
        );
    }
}
