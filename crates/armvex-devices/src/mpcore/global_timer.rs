//! The Cortex-A9 MPCore global timer (Cortex-A9 MPCore TRM, ARM DDI 0407, section 4.3
//! "Global timer registers").
//!
//! One 64-bit up-counter shared by all CPUs, clocked by PERIPHCLK divided by
//! `prescaler + 1` (control bits `[15:8]`) and started by control bit 0. Each CPU has its own
//! 64-bit *comparator*: with comparator enable (bit 1) set, the CPU's event flag is set when
//! the counter reaches the comparator; with auto-increment (bit 3) the comparator then moves
//! on by the auto-increment value, which gives a periodic interrupt. The flag raises the CPU's PPI 27 when IRQ enable (bit 2) is set.
//! Control bits 1..3, the comparator, the flag and the increment are banked per CPU; the enable
//! bit, the prescaler and the counter are shared.
//!
//! Like QEMU 7.2 (`hw/timer/a9gtimer.c`, which this follows) the clock is 100 MHz, the counter
//! may only be written while the timer is disabled, and the comparison is level-sensitive: the
//! flag is set while the counter is *past* the comparator (one tick after it reaches it, as
//! QEMU does; checked with `-icount shift=0`), so a flag cleared while the counter is still
//! past it (and no auto-increment moved it) is set again at once. One QEMU 7.2 behaviour is
//! not copied: there the counter keeps running while the timer is disabled (and a value
//! written then does not read back); armvex's stands still, as the TRM says.

use super::private_timer::PERIPHCLK_TICK_NS;
use armvex_bus::MAX_CPUS;
use serde::{Deserialize, Serialize};

const CTRL_TIMER_ENABLE: u32 = 1 << 0;
const CTRL_COMP_ENABLE: u32 = 1 << 1;
const CTRL_IRQ_ENABLE: u32 = 1 << 2;
const CTRL_AUTO_INCREMENT: u32 = 1 << 3;
/// The control bits each CPU has its own copy of.
const CTRL_BANKED: u32 = CTRL_COMP_ENABLE | CTRL_IRQ_ENABLE | CTRL_AUTO_INCREMENT;

/// Register offsets from the global timer's base (DDI 0407 §4.3 "Global timer registers").
pub mod regs {
    /// Global Timer Counter Register, low word.
    pub const COUNTER_LOW: u32 = 0x00;
    /// Global Timer Counter Register, high word.
    pub const COUNTER_HIGH: u32 = 0x04;
    /// Global Timer Control Register (enable and prescaler shared, the rest per CPU).
    pub const CONTROL: u32 = 0x08;
    /// Global Timer Interrupt Status Register (the CPU's event flag; write 1 to clear).
    pub const INTERRUPT_STATUS: u32 = 0x0c;
    /// Comparator Value Register, low word (per CPU).
    pub const COMPARATOR_LOW: u32 = 0x10;
    /// Comparator Value Register, high word (per CPU).
    pub const COMPARATOR_HIGH: u32 = 0x14;
    /// Auto-increment Register (per CPU).
    pub const AUTO_INCREMENT: u32 = 0x18;
}
use regs::*;

/// One CPU's comparator.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
struct Comparator {
    /// The banked control bits.
    control: u32,
    event: bool,
    compare: u64,
    increment: u32,
}

/// The global timer block. Plain data: it is its own saved state.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct GlobalTimer {
    /// The shared control bits (enable, prescaler).
    control: u32,
    /// Counter value at `since` (while enabled), or its frozen value.
    count: u64,
    since: u64,
    comparators: [Comparator; MAX_CPUS],
}

impl GlobalTimer {
    fn enabled(&self) -> bool {
        self.control & CTRL_TIMER_ENABLE != 0
    }

    fn tick_ns(&self) -> u64 {
        (u64::from((self.control >> 8) & 0xff) + 1) * PERIPHCLK_TICK_NS
    }

    /// The counter at `now`.
    pub fn counter(&self, now: u64) -> u64 {
        if self.enabled() {
            self.count.wrapping_add(now.saturating_sub(self.since) / self.tick_ns())
        } else {
            self.count
        }
    }

    /// Compare every enabled comparator with the counter at `now`: set flags, auto-increment.
    pub fn advance(&mut self, now: u64) {
        if !self.enabled() {
            return;
        }
        let counter = self.counter(now);
        for c in self.comparators.iter_mut() {
            if c.control & CTRL_COMP_ENABLE == 0 || counter <= c.compare {
                continue;
            }
            c.event = true;
            if c.control & CTRL_AUTO_INCREMENT != 0 && c.increment != 0 {
                // Catch up with the counter by whole increments (several if we are late).
                let inc = u64::from(c.increment);
                let steps = (counter - c.compare).div_ceil(inc);
                c.compare = c.compare.wrapping_add(steps.wrapping_mul(inc));
            }
        }
    }

    /// When the bus should call back: the earliest time the counter passes a comparator that
    /// can still change something (flag clear, or auto-incrementing).
    pub fn deadline(&self, now: u64) -> Option<u64> {
        if !self.enabled() {
            return None;
        }
        let counter = self.counter(now);
        self.comparators
            .iter()
            .filter(|c| c.control & CTRL_COMP_ENABLE != 0 && (!c.event || c.control & CTRL_AUTO_INCREMENT != 0))
            .filter_map(|c| {
                // The counter passes `compare` at since + (compare + 1 - count) ticks.
                let ticks = c.compare.checked_add(1)?.checked_sub(self.count)?;
                let at = self.since.checked_add(ticks.checked_mul(self.tick_ns())?)?;
                (c.compare >= counter).then_some(at.max(now))
            })
            .min()
    }

    /// Level of CPU `cpu`'s PPI 27.
    pub fn irq_level(&self, cpu: usize) -> bool {
        let c = &self.comparators[cpu];
        c.event && c.control & CTRL_IRQ_ENABLE != 0
    }

    /// Register read at `offset` (0x00..0x20) by `cpu` at `now`.
    pub fn read(&mut self, cpu: usize, offset: u32, now: u64) -> u32 {
        self.advance(now);
        let c = &self.comparators[cpu];
        match offset {
            COUNTER_LOW => self.counter(now) as u32,
            COUNTER_HIGH => (self.counter(now) >> 32) as u32,
            CONTROL => self.control | c.control,
            INTERRUPT_STATUS => u32::from(c.event),
            COMPARATOR_LOW => c.compare as u32,
            COMPARATOR_HIGH => (c.compare >> 32) as u32,
            AUTO_INCREMENT => c.increment,
            _ => {
                tracing::debug!("A9 global timer: read of unknown offset {offset:#x}");
                0
            }
        }
    }

    /// Register write at `offset` by `cpu` at `now`.
    pub fn write(&mut self, cpu: usize, offset: u32, value: u32, now: u64) {
        self.advance(now);
        let set_low = |v: u64| (v & !0xffff_ffff) | u64::from(value);
        let set_high = |v: u64| (v & 0xffff_ffff) | (u64::from(value) << 32);
        match offset {
            COUNTER_LOW | COUNTER_HIGH => {
                if self.enabled() {
                    tracing::debug!("A9 global timer: counter written while running; ignored");
                } else if offset == COUNTER_LOW {
                    self.count = set_low(self.count);
                } else {
                    self.count = set_high(self.count);
                }
            }
            CONTROL => {
                // Freeze the counter at `now`, then apply the new enable and prescaler.
                self.count = self.counter(now);
                self.since = now;
                self.control = value & !CTRL_BANKED;
                self.comparators[cpu].control = value & CTRL_BANKED;
            }
            INTERRUPT_STATUS => {
                if value & 1 != 0 {
                    self.comparators[cpu].event = false;
                }
            }
            COMPARATOR_LOW => self.comparators[cpu].compare = set_low(self.comparators[cpu].compare),
            COMPARATOR_HIGH => self.comparators[cpu].compare = set_high(self.comparators[cpu].compare),
            AUTO_INCREMENT => self.comparators[cpu].increment = value,
            _ => tracing::debug!("A9 global timer: write of {value:#x} to unknown offset {offset:#x}"),
        }
        self.advance(now);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counter_runs_only_while_enabled() {
        let mut g = GlobalTimer::default();
        g.write(0, 0x00, 0xffff_fff0, 0);
        g.write(0, 0x04, 1, 0);
        assert_eq!(g.read(0, 0x00, 1000), 0xffff_fff0, "disabled: frozen");
        g.write(0, 0x08, CTRL_TIMER_ENABLE, 1000);
        assert_eq!(
            g.read(0, 0x00, 1000 + 10 * 0x20),
            0x10,
            "100 MHz, carries into the high word"
        );
        assert_eq!(g.read(0, 0x04, 1000 + 10 * 0x20), 2);
        g.write(0, 0x00, 0, 2000);
        assert_eq!(g.counter(2000), 0x2_0000_0054, "cannot write a running counter");
        g.write(0, 0x08, 0, 2000);
        assert_eq!(g.counter(50_000), 0x2_0000_0054);
    }

    #[test]
    fn comparator_sets_the_flag_once_the_counter_passes_it() {
        let mut g = GlobalTimer::default();
        g.write(1, 0x10, 50, 0);
        g.write(1, 0x08, CTRL_TIMER_ENABLE | CTRL_COMP_ENABLE | CTRL_IRQ_ENABLE, 0);
        assert_eq!(g.read(0, 0x08, 0), CTRL_TIMER_ENABLE, "comparator bits are banked");
        assert_eq!(g.read(1, 0x08, 0), 0x7);
        // QEMU 7.2 (-icount shift=0): with compare 20 the flag is first seen at counter 21.
        assert_eq!(g.deadline(0), Some(510));
        g.advance(509);
        assert!(!g.irq_level(1), "counter 50 == compare: not yet");
        g.advance(510);
        assert!(g.irq_level(1) && !g.irq_level(0));
        assert_eq!(g.deadline(510), None);
        // Cleared while the counter is past the comparator: set again (level semantics).
        g.write(1, 0x0c, 1, 600);
        assert!(g.irq_level(1));
        // Move the comparator on, then clear.
        g.write(1, 0x10, 1000, 600);
        g.write(1, 0x0c, 1, 600);
        assert!(!g.irq_level(1));
        assert_eq!(g.deadline(600), Some(10_010));
    }

    #[test]
    fn auto_increment_gives_a_periodic_flag() {
        let mut g = GlobalTimer::default();
        g.write(0, 0x10, 100, 0);
        g.write(0, 0x18, 100, 0);
        g.write(
            0,
            0x08,
            CTRL_TIMER_ENABLE | CTRL_COMP_ENABLE | CTRL_AUTO_INCREMENT | (4 << 8),
            0,
        );
        // Prescaler 4: 50 ns per tick; the counter passes 100 at tick 101.
        assert_eq!(g.deadline(0), Some(5050));
        g.advance(5050);
        assert_eq!(g.read(0, 0x0c, 5050), 1);
        assert_eq!(g.read(0, 0x10, 5050), 200);
        assert_eq!(g.deadline(5050), Some(10_050));
        // Late by several periods: the comparator catches up with the counter (520 -> 600).
        g.advance(26_000);
        assert_eq!(g.read(0, 0x10, 26_000), 600);
    }
}
