//! The Performance Monitors (ARM ARM C12, PMUv2; CP15 c9, CRm 12–14), as QEMU 7.2 presents
//! them on the vexpress CPUs (values read back by `firmware/tests/cp15_sys.c`).
//!
//! Six event counters and a cycle counter with their enable, overflow and interrupt-enable
//! bit sets. Linux's perf driver probes them at boot (PMCR.N gives the counter count). The
//! cycle counter counts virtual time (one cycle per nanosecond, deterministic; one count per
//! 64 cycles with PMCR.D) on the Cortex-A15, and sets PMOVSR.C when it wraps past 2^32; on the
//! Cortex-A9, as in QEMU, the counters never advance. Event counters only move through PMSWINC
//! (software increment). Overflow interrupts are not raised: QEMU's vexpress boards do not wire
//! the PMU's interrupt output to the GIC either.

use crate::model::CpuModel;

/// Number of event counters (PMCR.N).
pub const COUNTERS: usize = 6;
const CYCLE_BIT: u32 = 1 << 31;
const COUNTER_MASK: u32 = CYCLE_BIT | ((1 << COUNTERS) - 1);

/// PMCR bits.
const PMCR_E: u32 = 1 << 0;
const PMCR_P: u32 = 1 << 1;
const PMCR_C: u32 = 1 << 2;
const PMCR_D: u32 = 1 << 3;
const PMCR_WRITABLE: u32 = 0xf9;

/// Performance monitor state of one core.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Pmu {
    model: CpuModel,
    pmcr: u32,
    enabled: u32,
    overflow: u32,
    interrupts: u32,
    select: u32,
    user_enable: u32,
    counters: [u32; COUNTERS],
    event_types: [u32; COUNTERS],
    cycle_filter: u32,
    /// The cycle count at `since` (virtual ns) while counting. PMCCNTR is its low 32 bits;
    /// the high bits count wraps, so a wrap shows as a change of `cycles >> 32`.
    cycles: u64,
    since: u64,
    /// `cycles >> 32` when PMOVSR.C was last brought up to date.
    wraps_seen: u64,
}

impl Pmu {
    pub fn new(model: CpuModel) -> Pmu {
        Pmu {
            model,
            pmcr: 0,
            enabled: 0,
            overflow: 0,
            interrupts: 0,
            select: 0,
            user_enable: 0,
            counters: [0; COUNTERS],
            event_types: [0; COUNTERS],
            cycle_filter: 0,
            cycles: 0,
            since: 0,
            wraps_seen: 0,
        }
    }

    fn id_bits(&self) -> u32 {
        let idcode = match self.model {
            CpuModel::CortexA9 => 0x09,
            CpuModel::CortexA15 => 0x0f,
        };
        0x4100_0000 | (idcode << 16) | ((COUNTERS as u32) << 11)
    }

    fn cycle_counting(&self) -> bool {
        self.model == CpuModel::CortexA15 && self.pmcr & PMCR_E != 0 && self.enabled & CYCLE_BIT != 0
    }

    fn cycle_count(&self, now: u64) -> u64 {
        if self.cycle_counting() {
            let elapsed = now.saturating_sub(self.since);
            // PMCR.D: one count every 64 cycles.
            let counts = if self.pmcr & PMCR_D != 0 { elapsed / 64 } else { elapsed };
            self.cycles.wrapping_add(counts)
        } else {
            self.cycles
        }
    }

    /// PMOVSR as of `now`: the stored bits, plus C if the cycle counter wrapped since the
    /// last update.
    fn overflow_status(&self, now: u64) -> u32 {
        let wrapped = self.cycle_count(now) >> 32 != self.wraps_seen;
        self.overflow | if wrapped { CYCLE_BIT } else { 0 }
    }

    /// Fold elapsed cycles into `cycles` (and a wrap into PMOVSR.C) before a change of the
    /// counting state.
    fn settle(&mut self, now: u64) {
        self.overflow = self.overflow_status(now);
        self.cycles = self.cycle_count(now);
        self.since = now;
        self.wraps_seen = self.cycles >> 32;
    }

    /// Whether User mode may access register `crm, op2` (PMUSERENR.EN).
    fn user_allowed(&self, crm: u32, op2: u32) -> bool {
        self.user_enable & 1 != 0 && !matches!((crm, op2), (14, 0..=2))
    }

    /// Read `(CRm, op2)` of CRn = 9, op1 = 0; `None` if UNDEFINED.
    pub fn read(&self, crm: u32, op2: u32, now: u64, user: bool) -> Option<u32> {
        if user && !(self.user_allowed(crm, op2) || (crm, op2) == (14, 0)) {
            return None;
        }
        let sel = self.select as usize;
        Some(match (crm, op2) {
            (12, 0) => self.id_bits() | self.pmcr,
            (12, 1) | (12, 2) => self.enabled,
            (12, 3) => self.overflow_status(now),
            (12, 5) => self.select,
            (13, 0) => self.cycle_count(now) as u32,
            (13, 1) if sel < COUNTERS => self.event_types[sel],
            (13, 1) if sel == 31 => self.cycle_filter,
            (13, 2) if sel < COUNTERS => self.counters[sel],
            (13, 1) | (13, 2) => 0,
            (14, 0) => self.user_enable,
            (14, 1) | (14, 2) => self.interrupts,
            _ => return None,
        })
    }

    /// Write `(CRm, op2)`; false if UNDEFINED.
    pub fn write(&mut self, crm: u32, op2: u32, v: u32, now: u64, user: bool) -> bool {
        if user && !self.user_allowed(crm, op2) {
            return false;
        }
        let sel = self.select as usize;
        match (crm, op2) {
            (12, 0) => {
                self.settle(now);
                if v & PMCR_P != 0 {
                    self.counters = [0; COUNTERS];
                }
                if v & PMCR_C != 0 {
                    self.cycles = 0;
                    self.wraps_seen = 0;
                }
                self.pmcr = v & PMCR_WRITABLE;
            }
            (12, 1) => {
                self.settle(now);
                self.enabled |= v & COUNTER_MASK;
            }
            (12, 2) => {
                self.settle(now);
                self.enabled &= !v;
            }
            (12, 3) => {
                self.settle(now);
                self.overflow &= !v;
            }
            (12, 4) => {
                // PMSWINC: count software increments on enabled counters set to event 0.
                for i in 0..COUNTERS {
                    let counting = self.pmcr & PMCR_E != 0 && self.enabled & (1 << i) != 0;
                    if v & (1 << i) != 0 && counting && self.event_types[i] & 0xffff == 0 {
                        let (n, wrapped) = self.counters[i].overflowing_add(1);
                        self.counters[i] = n;
                        if wrapped {
                            self.overflow |= 1 << i;
                        }
                    }
                }
            }
            (12, 5) => self.select = v & 0x1f,
            (13, 0) => {
                self.settle(now);
                self.cycles = (self.cycles & !0xffff_ffff) | u64::from(v);
            }
            (13, 1) if sel < COUNTERS => self.event_types[sel] = v & 0xfe00_ffff,
            (13, 1) if sel == 31 => self.cycle_filter = v & 0xfe00_0000,
            (13, 2) if sel < COUNTERS => self.counters[sel] = v,
            (13, 1) | (13, 2) => {}
            (14, 0) => self.user_enable = v & 1,
            (14, 1) => self.interrupts |= v & COUNTER_MASK,
            (14, 2) => self.interrupts &= !v,
            _ => return false,
        }
        true
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn qemu_reset_values_and_masks() {
        let mut p = Pmu::new(CpuModel::CortexA9);
        assert_eq!(p.read(12, 0, 0, false), Some(0x4109_3000));
        p.write(12, 0, 0xffff_ffff, 0, false);
        assert_eq!(p.read(12, 0, 0, false), Some(0x4109_30f9));
        p.write(12, 1, 0xffff_ffff, 0, false);
        assert_eq!(p.read(12, 2, 0, false), Some(0x8000_003f));
        assert_eq!(p.read(12, 6, 0, false), None, "PMCEID0 is UNDEFINED, as in QEMU");
        p.write(12, 5, 0xffff_ffff, 0, false);
        assert_eq!(p.read(12, 5, 0, false), Some(0x1f));
    }

    #[test]
    fn the_cycle_counter_advances_only_on_the_a15() {
        for (model, advances) in [(CpuModel::CortexA9, false), (CpuModel::CortexA15, true)] {
            let mut p = Pmu::new(model);
            p.write(13, 0, 1000, 0, false);
            p.write(12, 1, CYCLE_BIT, 0, false);
            p.write(12, 0, PMCR_E, 0, false);
            assert_eq!(p.read(13, 0, 500, false) != Some(1000), advances, "{model:?}");
        }
    }

    #[test]
    fn a_cycle_counter_wrap_sets_pmovsr_c_until_cleared() {
        let mut p = Pmu::new(CpuModel::CortexA15);
        p.write(12, 0, PMCR_E, 0, false);
        p.write(13, 0, 0xffff_ff00, 0, false);
        p.write(12, 1, CYCLE_BIT, 0, false);
        assert_eq!(p.read(12, 3, 0xff, false), Some(0), "not wrapped yet");
        assert_eq!(p.read(12, 3, 0x100, false), Some(CYCLE_BIT));
        assert_eq!(p.read(13, 0, 0x105, false), Some(5));
        p.write(12, 3, CYCLE_BIT, 0x200, false);
        assert_eq!(p.read(12, 3, 0x300, false), Some(0), "cleared, and no second wrap");
        // Disabling keeps the flag and the count.
        p.write(13, 0, 0xffff_fff0, 0x300, false);
        p.write(12, 2, CYCLE_BIT, 0x400, false);
        assert_eq!(p.read(12, 3, 0x500, false), Some(CYCLE_BIT));
        assert_eq!(p.read(13, 0, 0x500, false), Some(0xf0));
    }

    #[test]
    fn pmcr_d_counts_every_64_cycles() {
        let mut p = Pmu::new(CpuModel::CortexA15);
        p.write(12, 1, CYCLE_BIT, 0, false);
        p.write(12, 0, PMCR_E | PMCR_D | PMCR_C, 1000, false);
        assert_eq!(p.read(13, 0, 1000 + 64 * 10 + 63, false), Some(10));
        p.write(12, 0, PMCR_E, 1000 + 64 * 10, false);
        assert_eq!(p.read(13, 0, 1000 + 64 * 10 + 5, false), Some(15));
    }

    #[test]
    fn user_access_needs_pmuserenr() {
        let mut p = Pmu::new(CpuModel::CortexA15);
        assert_eq!(p.read(13, 0, 0, true), None);
        assert_eq!(p.read(14, 0, 0, true), Some(0), "PMUSERENR is always readable");
        p.write(14, 0, 1, 0, false);
        assert!(p.read(13, 0, 0, true).is_some());
        assert!(!p.write(14, 1, 1, 0, true), "PMINTENSET stays PL1 only");
    }
}
