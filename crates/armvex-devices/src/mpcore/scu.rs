//! The Cortex-A9 MPCore Snoop Control Unit (Cortex-A9 MPCore TRM, ARM DDI 0407, section 2.2
//! "SCU registers").
//!
//! The SCU keeps the CPUs' L1 data caches coherent. armvex has no caches, so only the
//! registers software reads to learn about the cluster matter: the configuration register
//! (number of CPUs, and which take part in coherency) and the CPU power status. As in QEMU 7.2
//! (`hw/misc/a9scu.c`), the control register keeps only its enable bit, "invalidate all" does
//! nothing, and the power status register (one byte per CPU in the TRM) is one 32-bit value:
//! a write of any width anywhere in 0x08..0x0b replaces it, and only 0x08 reads it.
//!
//! Saved state: the control and power status registers (the configuration follows from the
//! number of CPUs the cluster was built with).

use serde::{Deserialize, Serialize};

/// Register offsets (DDI 0407 §2.2 "SCU registers").
pub mod regs {
    /// SCU Control Register: bit 0 enables the SCU.
    pub const SCU_CONTROL: u32 = 0x00;
    /// SCU Configuration Register: CPUs in SMP mode and the number of CPUs, read-only.
    pub const SCU_CONFIG: u32 = 0x04;
    /// SCU CPU Power Status Register, a byte per CPU (one word here, as in QEMU).
    pub const SCU_CPU_POWER_STATUS: u32 = 0x08;
    /// The last byte of the power status register.
    pub const SCU_CPU_POWER_STATUS_END: u32 = 0x0b;
    /// SCU Invalidate All Registers in Secure State (does nothing here).
    pub const SCU_INVALIDATE_ALL: u32 = 0x0c;
}
use regs::*;

#[derive(Clone, Debug)]
pub(crate) struct Scu {
    num_cpus: usize,
    control: u32,
    /// CPU power status.
    power_status: u32,
}

/// What [`Scu`] saves.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct ScuState {
    control: u32,
    power_status: u32,
}

impl Scu {
    pub fn state(&self) -> ScuState {
        let Scu {
            num_cpus: _,
            control,
            power_status,
        } = *self;
        ScuState { control, power_status }
    }

    pub fn restore(&mut self, state: ScuState) {
        let ScuState { control, power_status } = state;
        self.control = control;
        self.power_status = power_status;
    }

    pub fn new(num_cpus: usize) -> Self {
        Scu {
            num_cpus,
            control: 0,
            power_status: 0,
        }
    }

    pub fn read(&self, offset: u32) -> u32 {
        match offset {
            SCU_CONTROL => self.control,
            // Configuration: CPUs in SMP mode [7:4], number of CPUs - 1 [1:0].
            SCU_CONFIG => (((1u32 << self.num_cpus) - 1) << 4) | (self.num_cpus as u32 - 1),
            SCU_CPU_POWER_STATUS => self.power_status,
            _ => 0,
        }
    }

    pub fn write(&mut self, offset: u32, value: u32) {
        match offset {
            SCU_CONTROL => self.control = value & 1,
            SCU_CPU_POWER_STATUS..=SCU_CPU_POWER_STATUS_END => self.power_status = value,
            // Configuration is read-only; invalidate-all has nothing to invalidate.
            SCU_CONFIG | SCU_INVALIDATE_ALL => {}
            _ => tracing::debug!("A9 SCU: write of {value:#x} to unimplemented offset {offset:#x}"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn configuration_and_power_status() {
        let mut s = Scu::new(4);
        assert_eq!(s.read(0x04), 0xf3);
        assert_eq!(Scu::new(1).read(0x04), 0x10);
        assert_eq!(Scu::new(2).read(0x04), 0x31);
        s.write(0x00, 0xff);
        assert_eq!(s.read(0x00), 1);
        // QEMU 7.2: a byte written at 0x09 (CPU 1's status) replaces the whole register.
        s.write(0x09, 0x3);
        assert_eq!(s.read(0x08), 0x3);
        assert_eq!(s.read(0x09), 0);
        s.write(0x04, 0);
        assert_eq!(s.read(0x04), 0xf3);
    }
}
