//! Interrupt lines.
//!
//! Board wiring follows the GIC's numbering: interrupt IDs 16..31 are *private peripheral
//! interrupts* (PPIs), one set per CPU (e.g. each CPU's own timer), and IDs 32 and up are *shared
//! peripheral interrupts* (SPIs): the vexpress documentation's "SPI n" is ID n+32. Devices drive
//! line levels here; the interrupt controller reads them and drives each CPU's IRQ and FIQ
//! inputs, which the CPU samples between blocks of instructions.

/// The most CPUs a machine can have (the vexpress daughterboards take up to 4).
pub const MAX_CPUS: usize = 4;

/// Number of interrupt IDs tracked (the GICv2 on the A15 has 160).
pub const MAX_IRQ_IDS: usize = 256;

/// The levels of every interrupt line and the IRQ/FIQ inputs of each CPU.
#[derive(Clone, Debug, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct InterruptLines {
    spi: [u64; MAX_IRQ_IDS / 64],
    ppi: [u32; MAX_CPUS],
    cpu_irq: [bool; MAX_CPUS],
    cpu_fiq: [bool; MAX_CPUS],
    changed: bool,
}

impl InterruptLines {
    /// Drive shared line `id` (32..256).
    pub fn set_spi(&mut self, id: u32, level: bool) {
        let (w, b) = (id as usize / 64, id % 64);
        if w >= self.spi.len() {
            tracing::warn!("interrupt line {id} does not exist");
            return;
        }
        let old = self.spi[w];
        if level {
            self.spi[w] |= 1 << b;
        } else {
            self.spi[w] &= !(1 << b);
        }
        self.changed |= old != self.spi[w];
    }

    /// Level of shared line `id`.
    pub fn spi_level(&self, id: u32) -> bool {
        let (w, b) = (id as usize / 64, id % 64);
        self.spi.get(w).is_some_and(|v| v & (1 << b) != 0)
    }

    /// Drive private line `id` (16..31) of `cpu`.
    pub fn set_ppi(&mut self, cpu: usize, id: u32, level: bool) {
        if cpu >= MAX_CPUS || !(16..32).contains(&id) {
            tracing::warn!("private interrupt {id} of cpu {cpu} does not exist");
            return;
        }
        let old = self.ppi[cpu];
        if level {
            self.ppi[cpu] |= 1 << id;
        } else {
            self.ppi[cpu] &= !(1 << id);
        }
        self.changed |= old != self.ppi[cpu];
    }

    /// Level of private line `id` of `cpu`.
    pub fn ppi_level(&self, cpu: usize, id: u32) -> bool {
        cpu < MAX_CPUS && id < 32 && self.ppi[cpu] & (1 << id) != 0
    }

    /// True once after any line changed level (for the interrupt controller to re-evaluate).
    pub fn take_changed(&mut self) -> bool {
        std::mem::take(&mut self.changed)
    }

    /// Set the IRQ and FIQ inputs of `cpu` (driven by the interrupt controller).
    pub fn set_cpu_inputs(&mut self, cpu: usize, irq: bool, fiq: bool) {
        self.cpu_irq[cpu] = irq;
        self.cpu_fiq[cpu] = fiq;
    }

    /// The IRQ input of `cpu`.
    #[inline]
    pub fn cpu_irq(&self, cpu: usize) -> bool {
        self.cpu_irq[cpu]
    }

    /// The FIQ input of `cpu`.
    #[inline]
    pub fn cpu_fiq(&self, cpu: usize) -> bool {
        self.cpu_fiq[cpu]
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lines_record_changes() {
        let mut l = InterruptLines::default();
        l.set_spi(72, true);
        assert!(l.spi_level(72) && !l.spi_level(71));
        assert!(l.take_changed());
        l.set_spi(72, true);
        assert!(!l.take_changed(), "same level is not a change");
        l.set_ppi(1, 29, true);
        assert!(l.ppi_level(1, 29) && !l.ppi_level(0, 29));
        assert!(l.take_changed());
        l.set_spi(300, true);
        assert!(!l.spi_level(300));
    }
}
