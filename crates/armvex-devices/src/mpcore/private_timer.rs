//! The Cortex-A9 MPCore private timer and watchdog (Cortex-A9 MPCore TRM, ARM DDI 0407,
//! section 4.2 "Private timer and watchdog registers").
//!
//! Each CPU has its own 32-bit down-counter (the "TWD" timer), seen at the same address by
//! every CPU. It counts PERIPHCLK ticks divided by `prescaler + 1` (control bits `[15:8]`). When
//! the counter reaches zero the *event flag* (interrupt status register, bit 0) is set, and in
//! auto-reload mode the counter starts again from the load value on the next tick, so a
//! periodic timer fires every `(load + 1) * (prescaler + 1)` ticks. Writing the load register
//! also writes the counter. The flag stays set until software writes 1 to it; the interrupt
//! (a PPI) is raised while the flag is set and control bit 2 (IT enable) is set.
//!
//! The watchdog has the same four registers and, in timer mode, behaves the same; like QEMU
//! (`hw/timer/arm_mptimer.c`, which this follows) armvex models only timer mode.
//!
//! QEMU clocks PERIPHCLK at 100 MHz (one tick every 10 ns), so Linux calibrates the TWD to
//! 100 MHz; armvex does the same. Nothing ticks: the counter is computed from the time it
//! was last set, and the moment it next reaches zero is a deadline on the bus.

use serde::{Deserialize, Serialize};

/// Control register: timer enable.
const CTRL_ENABLE: u32 = 1 << 0;
/// Control register: auto-reload.
const CTRL_AUTO_RELOAD: u32 = 1 << 1;
/// Control register: interrupt enable.
const CTRL_IRQ_ENABLE: u32 = 1 << 2;

/// Register offsets from the timer's (or watchdog's, in timer mode) base (DDI 0407 §4.2
/// "Private timer and watchdog registers").
pub mod regs {
    /// Load Register: the reload value; writing it also sets the counter.
    pub const LOAD: u32 = 0x00;
    /// Counter Register.
    pub const COUNTER: u32 = 0x04;
    /// Control Register: enable, auto-reload, IT enable, prescaler `[15:8]`.
    pub const CONTROL: u32 = 0x08;
    /// Interrupt Status Register: the event flag, write 1 to clear.
    pub const INTERRUPT_STATUS: u32 = 0x0c;
}
use regs::*;

/// Nanoseconds per PERIPHCLK tick (100 MHz, as in QEMU).
pub const PERIPHCLK_TICK_NS: u64 = 10;

/// One private timer (or the watchdog in timer mode). Plain data: it is its own saved state.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct PrivateTimer {
    load: u32,
    control: u32,
    /// The event flag (interrupt status).
    event: bool,
    /// Whether the counter is counting.
    running: bool,
    /// The counter's value at `since` (while running), or its frozen value.
    count: u32,
    since: u64,
    /// Zero crossings up to this time have been accounted for.
    checked_until: u64,
}

impl PrivateTimer {
    fn tick_ns(&self) -> u64 {
        (u64::from((self.control >> 8) & 0xff) + 1) * PERIPHCLK_TICK_NS
    }

    /// Auto-reload with a non-zero load (a zero load would fire every tick; like QEMU the timer
    /// then stops after the first zero instead).
    fn reloads(&self) -> bool {
        self.control & CTRL_AUTO_RELOAD != 0 && self.load != 0
    }

    /// The counter value at `now`.
    pub fn counter(&self, now: u64) -> u32 {
        if !self.running {
            return self.count;
        }
        let ticks = now.saturating_sub(self.since) / self.tick_ns();
        let count = u64::from(self.count);
        if ticks <= count {
            (count - ticks) as u32
        } else if self.reloads() {
            // After zero: load, load - 1, ..., 0, load, ...
            let phase = (ticks - count - 1) % (u64::from(self.load) + 1);
            (u64::from(self.load) - phase) as u32
        } else {
            0
        }
    }

    /// The first time after `t` at which the counter reaches zero, if it ever does.
    fn next_zero_after(&self, t: u64) -> Option<u64> {
        if !self.running {
            return None;
        }
        let tick = self.tick_ns();
        let first = self.since.checked_add(u64::from(self.count).checked_mul(tick)?)?;
        if first > t {
            return Some(first);
        }
        if !self.reloads() {
            return None;
        }
        let period = (u64::from(self.load) + 1) * tick;
        let k = (t - first) / period + 1;
        first.checked_add(k.checked_mul(period)?)
    }

    /// Account for zero crossings up to `now`: set the event flag; a one-shot timer stops.
    pub fn advance(&mut self, now: u64) {
        if !self.running || now <= self.checked_until {
            return;
        }
        if self.next_zero_after(self.checked_until).is_some_and(|z| z <= now) {
            self.event = true;
            if !self.reloads() {
                self.running = false;
                self.count = 0;
            }
        }
        self.checked_until = now;
    }

    /// (Re)start counting from `count` at `now` if the timer is enabled.
    fn start(&mut self, count: u32, now: u64) {
        self.count = count;
        self.since = now;
        self.checked_until = now;
        self.running = self.control & CTRL_ENABLE != 0 && count != 0;
    }

    /// When the bus should call back: the next zero crossing, unless the flag is already set
    /// (further crossings change nothing visible until software clears it).
    pub fn deadline(&self) -> Option<u64> {
        if self.event {
            None
        } else {
            self.next_zero_after(self.checked_until)
        }
    }

    /// Level of the timer's interrupt.
    pub fn irq_level(&self) -> bool {
        self.event && self.control & CTRL_IRQ_ENABLE != 0
    }

    /// Register read at `offset` (0x00..0x20) at time `now`.
    pub fn read(&mut self, offset: u32, now: u64) -> u32 {
        self.advance(now);
        match offset {
            LOAD => self.load,
            COUNTER => self.counter(now),
            CONTROL => self.control,
            INTERRUPT_STATUS => u32::from(self.event),
            _ => {
                tracing::debug!("A9 private timer: read of unknown offset {offset:#x}");
                0
            }
        }
    }

    /// Register write at `offset` at time `now`.
    pub fn write(&mut self, offset: u32, value: u32, now: u64) {
        self.advance(now);
        match offset {
            LOAD => {
                self.load = value;
                self.start(value, now);
            }
            COUNTER => {
                let reload_now = value == 0 && self.control & (CTRL_ENABLE | CTRL_AUTO_RELOAD) == 3;
                self.start(if reload_now { self.load } else { value }, now);
            }
            CONTROL => {
                let current = self.counter(now);
                self.control = value;
                let reload_now = current == 0 && value & CTRL_AUTO_RELOAD != 0;
                self.start(if reload_now { self.load } else { current }, now);
            }
            INTERRUPT_STATUS => {
                if value & 1 != 0 {
                    self.event = false;
                }
            }
            _ => tracing::debug!("A9 private timer: write of {value:#x} to unknown offset {offset:#x}"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_shot_counts_down_and_stops() {
        let mut t = PrivateTimer::default();
        t.write(0x04, 100, 0);
        t.write(0x08, CTRL_ENABLE | CTRL_IRQ_ENABLE, 1000);
        assert_eq!(t.read(0x04, 1000), 100);
        assert_eq!(t.read(0x04, 1009), 100);
        assert_eq!(t.read(0x04, 1010), 99);
        assert_eq!(t.deadline(), Some(1000 + 100 * 10));
        assert!(!t.irq_level());
        t.advance(1999);
        assert!(!t.irq_level());
        t.advance(2000);
        assert!(t.irq_level());
        assert_eq!(t.read(0x0c, 2000), 1);
        assert_eq!(t.read(0x04, 5000), 0);
        assert_eq!(t.deadline(), None);
        t.write(0x0c, 1, 5000);
        assert_eq!(t.read(0x0c, 5000), 0);
        assert_eq!(t.deadline(), None, "one-shot: stopped");
    }

    #[test]
    fn auto_reload_period_is_load_plus_one_with_prescaler() {
        let mut t = PrivateTimer::default();
        // Prescaler 1: a tick every 20 ns. Load 4: zero every 5 ticks = 100 ns.
        t.write(0x08, CTRL_AUTO_RELOAD | CTRL_IRQ_ENABLE | (1 << 8), 0);
        t.write(0x00, 4, 0);
        assert_eq!(t.read(0x04, 0), 4, "load also writes the counter");
        t.write(0x08, CTRL_ENABLE | CTRL_AUTO_RELOAD | CTRL_IRQ_ENABLE | (1 << 8), 0);
        let values: Vec<u32> = (0..12).map(|i| t.counter(i * 20)).collect();
        assert_eq!(values, [4, 3, 2, 1, 0, 4, 3, 2, 1, 0, 4, 3]);
        assert_eq!(t.deadline(), Some(80));
        t.advance(80);
        assert!(t.irq_level());
        assert_eq!(t.deadline(), None, "flag set: no callbacks needed");
        t.write(0x0c, 1, 130);
        assert_eq!(t.deadline(), Some(180));
        t.advance(500);
        assert!(t.irq_level());
    }

    #[test]
    fn periodic_start_with_zero_counter_reloads() {
        let mut t = PrivateTimer::default();
        t.write(0x00, 9, 0);
        t.write(0x04, 0, 0);
        t.write(0x08, CTRL_ENABLE | CTRL_AUTO_RELOAD, 0);
        assert_eq!(t.counter(0), 9);
        assert_eq!(t.deadline(), Some(90));
        t.advance(95);
        assert!(!t.irq_level(), "IT enable clear");
        assert_eq!(t.read(0x0c, 95), 1);
    }

    #[test]
    fn disabled_timer_holds_its_value() {
        let mut t = PrivateTimer::default();
        t.write(0x00, 1000, 0);
        t.write(0x08, CTRL_ENABLE, 0);
        t.write(0x08, 0, 500);
        assert_eq!(t.read(0x04, 500), 950);
        assert_eq!(t.read(0x04, 90_000), 950);
        assert_eq!(t.deadline(), None);
        t.write(0x08, CTRL_ENABLE, 90_000);
        assert_eq!(t.deadline(), Some(90_000 + 9500));
    }
}
