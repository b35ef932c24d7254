//! The Generic Timer of the Cortex-A15 (ARM ARM B8, "The Generic Timer"; CP15 c14).
//!
//! A 64-bit system counter counts at CNTFRQ (62.5 MHz, as in QEMU: one tick per 16 ns of
//! virtual time), readable as CNTPCT (physical) and CNTVCT (virtual; CNTVOFF is 0 without the
//! Virtualization Extensions). Two timers compare against it: the physical timer (CNTP_*) and
//! the virtual timer (CNTV_*). Each has a 64-bit compare value CVAL (TVAL is a signed 32-bit
//! view of CVAL minus the count) and a control register (ENABLE, IMASK, ISTATUS); its
//! interrupt output is `ENABLE && ISTATUS && !IMASK`, wired to a per-CPU interrupt (PPI): the
//! physical timer seen from Secure state is the "secure physical timer", PPI 29; the virtual
//! timer is PPI 27. Linux on the vexpress-a15 uses the virtual timer.
//!
//! The timer is event-driven like every device: nothing ticks. The machine asks
//! [`GenericTimer::next_deadline`] when planning a round and calls [`crate::Cpu::update_timer_outputs`]
//! at that time; register writes update the outputs at once.

use armvex_bus::Bus;

/// Nanoseconds of virtual time per counter tick (62.5 MHz).
pub const NS_PER_TICK: u64 = 16;
/// CNTFRQ after reset.
pub const FREQUENCY_HZ: u32 = 62_500_000;
/// PPI of the secure physical timer.
pub const SECURE_PHYS_PPI: u32 = 29;
/// PPI of the virtual timer.
pub const VIRT_PPI: u32 = 27;

const CTL_ENABLE: u32 = 1;
const CTL_IMASK: u32 = 2;
const CTL_ISTATUS: u32 = 4;

/// One comparator.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Comparator {
    /// ENABLE and IMASK (ISTATUS is computed).
    pub ctl: u32,
    pub cval: u64,
}

impl Comparator {
    fn status(&self, count: u64) -> bool {
        count >= self.cval
    }

    fn ctl_value(&self, count: u64) -> u32 {
        // ISTATUS reads as 0 while the timer is disabled (as QEMU).
        let enabled = self.ctl & CTL_ENABLE != 0;
        (self.ctl & (CTL_ENABLE | CTL_IMASK)) | if enabled && self.status(count) { CTL_ISTATUS } else { 0 }
    }

    fn output(&self, count: u64) -> bool {
        self.ctl & CTL_ENABLE != 0 && self.ctl & CTL_IMASK == 0 && self.status(count)
    }

    /// Virtual time at which this comparator's output will rise, if it is low and can rise.
    fn deadline(&self, count: u64) -> Option<u64> {
        (self.ctl & CTL_ENABLE != 0 && self.ctl & CTL_IMASK == 0 && !self.status(count))
            .then(|| self.cval.saturating_mul(NS_PER_TICK))
    }
}

/// The generic timer state of one CPU.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct GenericTimer {
    pub cntfrq: u32,
    pub cntkctl: u32,
    pub phys: Comparator,
    pub virt: Comparator,
    /// The output levels last driven onto the PPIs (physical, virtual).
    outputs: (bool, bool),
}

impl Default for GenericTimer {
    fn default() -> Self {
        GenericTimer {
            cntfrq: FREQUENCY_HZ,
            cntkctl: 0,
            phys: Comparator::default(),
            virt: Comparator::default(),
            outputs: (false, false),
        }
    }
}

impl GenericTimer {
    /// The counter value at virtual time `now` (ns).
    pub fn count(now: u64) -> u64 {
        now / NS_PER_TICK
    }

    /// The earliest virtual time at which an output will rise.
    pub fn next_deadline(&self, now: u64) -> Option<u64> {
        let c = Self::count(now);
        match (self.phys.deadline(c), self.virt.deadline(c)) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        }
    }

    /// Read a 32-bit register (CRn = 14): `(op1, crm, op2)`; `user` for PL0 checks.
    pub fn read(&self, key: (u32, u32, u32), now: u64, user: bool) -> Option<u32> {
        let c = Self::count(now);
        let k = self.cntkctl;
        let allowed = |bit: u32| !user || k & bit != 0;
        match key {
            (0, 0, 0) if allowed(0b11) => Some(self.cntfrq),
            (0, 1, 0) if !user => Some(self.cntkctl),
            (0, 2, 0) if allowed(1 << 9) => Some(self.phys.cval.wrapping_sub(c) as u32),
            (0, 2, 1) if allowed(1 << 9) => Some(self.phys.ctl_value(c)),
            (0, 3, 0) if allowed(1 << 8) => Some(self.virt.cval.wrapping_sub(c) as u32),
            (0, 3, 1) if allowed(1 << 8) => Some(self.virt.ctl_value(c)),
            _ => None,
        }
    }

    /// Write a 32-bit register; false if UNDEFINED.
    pub fn write(&mut self, key: (u32, u32, u32), v: u32, now: u64, user: bool) -> bool {
        let c = Self::count(now);
        let k = self.cntkctl;
        let allowed = |bit: u32| !user || k & bit != 0;
        match key {
            (0, 0, 0) if !user => self.cntfrq = v,
            (0, 1, 0) if !user => self.cntkctl = v,
            (0, 2, 0) if allowed(1 << 9) => self.phys.cval = c.wrapping_add(v as i32 as i64 as u64),
            (0, 2, 1) if allowed(1 << 9) => self.phys.ctl = v & (CTL_ENABLE | CTL_IMASK),
            (0, 3, 0) if allowed(1 << 8) => self.virt.cval = c.wrapping_add(v as i32 as i64 as u64),
            (0, 3, 1) if allowed(1 << 8) => self.virt.ctl = v & (CTL_ENABLE | CTL_IMASK),
            _ => return false,
        }
        true
    }

    /// Read a 64-bit register (MRRC p15, op1, c14).
    pub fn read64(&self, op1: u32, now: u64, user: bool) -> Option<u64> {
        let k = self.cntkctl;
        let allowed = |bit: u32| !user || k & bit != 0;
        match op1 {
            0 if allowed(1) => Some(Self::count(now)),
            1 if allowed(2) => Some(Self::count(now)),
            2 if allowed(1 << 9) => Some(self.phys.cval),
            3 if allowed(1 << 8) => Some(self.virt.cval),
            // CNTVOFF: always zero here; Secure PL1 may read it, as under QEMU.
            4 if !user => Some(0),
            _ => None,
        }
    }

    /// Write a 64-bit register (MCRR p15, op1, c14); false if UNDEFINED.
    pub fn write64(&mut self, op1: u32, v: u64, user: bool) -> bool {
        let k = self.cntkctl;
        let allowed = |bit: u32| !user || k & bit != 0;
        match op1 {
            2 if allowed(1 << 9) => self.phys.cval = v,
            3 if allowed(1 << 8) => self.virt.cval = v,
            4 if !user => {}
            _ => return false,
        }
        true
    }

    /// Drive the PPIs of CPU `cpu` from the current state (only when a level changes).
    pub fn drive_outputs(&mut self, bus: &mut Bus, cpu: usize, now: u64) {
        let c = Self::count(now);
        let levels = (self.phys.output(c), self.virt.output(c));
        if levels.0 != self.outputs.0 {
            bus.set_ppi(cpu, SECURE_PHYS_PPI, levels.0, now);
        }
        if levels.1 != self.outputs.1 {
            bus.set_ppi(cpu, VIRT_PPI, levels.1, now);
        }
        self.outputs = levels;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counter_and_tval() {
        let mut t = GenericTimer::default();
        assert_eq!(t.read((0, 0, 0), 0, false), Some(62_500_000));
        assert_eq!(t.read64(1, 1600, false), Some(100));
        assert!(t.write((0, 3, 0), 50, 1600, false));
        assert_eq!(t.virt.cval, 150);
        assert_eq!(t.read((0, 3, 0), 1600 + 16 * 60, false), Some((-10i32) as u32));
    }

    #[test]
    fn deadline_and_status() {
        let mut t = GenericTimer::default();
        t.write64(3, 1000, false);
        assert_eq!(t.next_deadline(0), None, "disabled");
        t.write((0, 3, 1), CTL_ENABLE, 0, false);
        assert_eq!(t.next_deadline(0), Some(16_000));
        assert_eq!(t.read((0, 3, 1), 16_000, false), Some(CTL_ENABLE | CTL_ISTATUS));
        assert_eq!(t.next_deadline(16_000), None, "already firing");
        t.write((0, 3, 1), CTL_ENABLE | CTL_IMASK, 0, false);
        assert_eq!(t.next_deadline(0), None, "masked");
    }

    #[test]
    fn user_access_follows_cntkctl() {
        let mut t = GenericTimer::default();
        assert_eq!(t.read64(1, 0, true), None);
        t.write((0, 1, 0), 0b10, 0, false);
        assert_eq!(t.read64(1, 0, true), Some(0));
        assert_eq!(t.read((0, 0, 0), 0, true), Some(62_500_000));
        assert_eq!(t.read((0, 3, 1), 0, true), None);
    }
}
