//! The ARM Dual-Timer Module SP804 (ARM DDI 0271, *ARM Dual-Timer Module (SP804) Technical
//! Reference Manual*, chapter 3 "Programmers Model").
//!
//! Two identical down-counters at offsets 0x00 and 0x20, sharing one interrupt output. Each has
//! `TimerLoad` (0x00), `TimerValue` (0x04, read-only), `TimerControl` (0x08), `TimerIntClr`
//! (0x0c, write-only), `TimerRIS`/`TimerMIS` (0x10/0x14) and `TimerBGLoad` (0x18). Control bits:
//! 0 one-shot, 1 32-bit (else 16-bit), `[3:2]` prescale (÷1, ÷16, ÷256), 5 interrupt enable,
//! 6 periodic (else free-running), 7 enable. The counter decrements at the timer clock (1 MHz on
//! the Versatile Express motherboard); on reaching zero it raises its interrupt status and then
//! reloads from `TimerLoad` (periodic), wraps to the maximum (free-running) or stops (one-shot).
//! `TimerBGLoad` sets the reload value without touching the running count.
//!
//! This follows QEMU's `hw/timer/arm_timer.c`, including where it departs from the TRM:
//!
//! * a periodic timer interrupts every `load` ticks (the TRM says `load + 1`), and the counter
//!   reads the whole ticks left until the next zero: `load - 1` just after a reload, down to 0
//!   during the last tick (checked against QEMU 7.2 with `-icount shift=0`);
//! * writing `TimerControl` with the enable bit set reloads the counter (from `TimerLoad`, or
//!   the maximum in free-running mode), and so does writing `TimerLoad`, which also restarts
//!   a running counter (an expired one-shot stays stopped);
//! * the prescaled clock is the timer clock shifted right by 4 or 8 bits (integer Hz), and in
//!   16-bit mode only the free-running maximum changes (0xffff).
//!
//! Nothing ticks: each counter remembers when it next reaches zero, its value is computed on
//! read, and that zero is a bus deadline (none while its interrupt status is already set).
//!
//! Saved state: each counter whole (its registers, raw interrupt status, whether it runs, its
//! stopped value or next zero) and the two timer slots. The clock rate is part of each counter
//! but comes from how the timer was built: a state from a timer clocked differently is refused.

use crate::{PERIPH_ID0, PRIMECELL_ID_END, ns_for_ticks, primecell_id, state_error, ticks_in, truncate};
use armvex_bus::{AccessSize, Device, DeviceContext, StateError, TimerSlot, state};
use serde::{Deserialize, Serialize};

const CTRL_ONESHOT: u32 = 1 << 0;
const CTRL_32BIT: u32 = 1 << 1;
const CTRL_IE: u32 = 1 << 5;
const CTRL_PERIODIC: u32 = 1 << 6;
const CTRL_ENABLE: u32 = 1 << 7;

const ID: [u8; 8] = [0x04, 0x18, 0x14, 0x00, 0x0d, 0xf0, 0x05, 0xb1];

/// Register offsets (DDI 0271 §3.2, Table 3-1). Each counter's registers are at its base:
/// [`TIMER1`] or [`TIMER2`].
pub mod regs {
    /// Counter 1's registers.
    pub const TIMER1: u32 = 0x00;
    /// Counter 2's registers.
    pub const TIMER2: u32 = 0x20;
    /// The end of counter 2's registers.
    pub const TIMER2_END: u32 = 0x40;
    /// TimerXLoad: the reload value; writing it reloads the counter.
    pub const TIMER_LOAD: u32 = 0x00;
    /// TimerXValue: the current count, read-only.
    pub const TIMER_VALUE: u32 = 0x04;
    /// TimerXControl.
    pub const TIMER_CONTROL: u32 = 0x08;
    /// TimerXIntClr: any write clears the interrupt, write-only.
    pub const TIMER_INTCLR: u32 = 0x0c;
    /// TimerXRIS: the raw interrupt status.
    pub const TIMER_RIS: u32 = 0x10;
    /// TimerXMIS: the masked interrupt status.
    pub const TIMER_MIS: u32 = 0x14;
    /// TimerXBGLoad: the reload value, without reloading now.
    pub const TIMER_BGLOAD: u32 = 0x18;
}
use regs::*;

/// One of the two counters.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
struct Counter {
    clock_hz: u64,
    /// `TimerLoad`/`TimerBGLoad`.
    load: u32,
    control: u32,
    /// Raw interrupt status.
    int_level: bool,
    /// Counting (enabled and, for a one-shot timer, not yet expired).
    running: bool,
    /// While stopped: the counter value.
    count: u32,
    /// While running: when the counter next reaches zero.
    next_zero: u64,
}

impl Counter {
    fn new(clock_hz: u64) -> Self {
        Counter {
            clock_hz,
            load: 0,
            control: CTRL_IE,
            int_level: false,
            running: false,
            count: 0,
            next_zero: 0,
        }
    }

    /// The counting rate after the prescaler.
    fn hz(&self) -> u64 {
        match (self.control >> 2) & 3 {
            1 => self.clock_hz >> 4,
            2 => self.clock_hz >> 8,
            _ => self.clock_hz,
        }
    }

    /// The value the counter reloads with: the load value, or the maximum when free-running.
    fn limit(&self) -> u32 {
        if self.control & (CTRL_PERIODIC | CTRL_ONESHOT) != 0 {
            self.load
        } else if self.control & CTRL_32BIT != 0 {
            0xffff_ffff
        } else {
            0xffff
        }
    }

    fn repeats(&self) -> bool {
        self.control & CTRL_ONESHOT == 0 && self.limit() != 0
    }

    fn irq_level(&self) -> bool {
        self.int_level && self.control & CTRL_IE != 0
    }

    /// The first zero strictly after `t`: `next_zero`, or for a repeating counter one of the
    /// zeros every `limit` ticks after it.
    fn zero_after(&self, t: u64) -> Option<u64> {
        if self.next_zero > t {
            return Some(self.next_zero);
        }
        if !self.repeats() {
            return None;
        }
        let hz = self.hz();
        let limit = u64::from(self.limit());
        let periods = ticks_in(t - self.next_zero, hz) / limit + 1;
        self.next_zero
            .checked_add(ns_for_ticks(periods.checked_mul(limit)?, hz))
    }

    /// The counter value at `now`: the whole ticks left until the next zero (so it reads the
    /// reload value only at the instant of reloading, as QEMU's does).
    fn value(&self, now: u64) -> u32 {
        if !self.running {
            return self.count;
        }
        match self.zero_after(now) {
            Some(z) => u32::try_from(ticks_in(z - now, self.hz())).unwrap_or(u32::MAX),
            None => 0,
        }
    }

    /// Account for reaching zero up to `now`: raise the status, reload or stop.
    fn advance(&mut self, now: u64) {
        if !self.running || self.next_zero > now {
            return;
        }
        self.int_level = true;
        match self.zero_after(now) {
            Some(z) if self.repeats() => self.next_zero = z,
            _ => {
                self.running = false;
                self.count = 0;
            }
        }
    }

    /// Count down from `count`, starting at `now` (if enabled). Starting at zero raises the
    /// status at once and reloads (or, one-shot, stops).
    fn start(&mut self, count: u32, now: u64) {
        self.count = count;
        self.running = self.control & CTRL_ENABLE != 0;
        if !self.running {
            return;
        }
        let mut count = count;
        if count == 0 {
            self.int_level = true;
            if !self.repeats() {
                self.running = false;
                return;
            }
            count = self.limit();
        }
        match now.checked_add(ns_for_ticks(u64::from(count), self.hz())) {
            Some(z) => self.next_zero = z,
            None => {
                // A clock so slow the zero is beyond the end of time: it never comes.
                self.running = false;
                self.count = count;
            }
        }
    }

    fn deadline(&self) -> Option<u64> {
        (self.running && !self.int_level).then_some(self.next_zero)
    }

    /// Read the register at `reg`, an offset from the counter's base with the low two bits
    /// clear.
    fn read(&mut self, reg: u32, now: u64) -> u32 {
        self.advance(now);
        match reg {
            TIMER_LOAD | TIMER_BGLOAD => self.load,
            TIMER_VALUE => self.value(now),
            TIMER_CONTROL => self.control,
            TIMER_RIS => u32::from(self.int_level),
            TIMER_MIS => u32::from(self.irq_level()),
            _ => {
                tracing::debug!("SP804: read of unknown register {reg:#x}");
                0
            }
        }
    }

    /// Write the register at `reg` (as for [`Counter::read`]).
    fn write(&mut self, reg: u32, value: u32, now: u64) {
        self.advance(now);
        match reg {
            TIMER_LOAD => {
                // The counter reloads at once; a running counter restarts from the new value.
                self.load = value;
                if self.running {
                    self.start(self.limit(), now);
                } else {
                    self.count = self.limit();
                }
            }
            TIMER_VALUE => tracing::debug!("SP804: write to read-only TimerValue ignored"),
            TIMER_CONTROL => {
                let current = self.value(now);
                self.control = value;
                if value & CTRL_ENABLE != 0 {
                    // Enabling (or rewriting the control of an enabled counter) reloads it.
                    self.start(self.limit(), now);
                } else {
                    self.running = false;
                    self.count = current;
                }
            }
            TIMER_INTCLR => self.int_level = false,
            // Only the next reload uses the new value.
            TIMER_BGLOAD => self.load = value,
            _ => tracing::debug!("SP804: write of {value:#x} to unknown register {reg:#x}"),
        }
    }
}

/// An SP804 dual timer.
pub struct Sp804 {
    name: String,
    irq_id: u32,
    counters: [Counter; 2],
    slots: [Option<TimerSlot>; 2],
}

/// What [`Sp804`] saves.
#[derive(Serialize, Deserialize)]
struct Sp804State {
    counters: [Counter; 2],
    slots: [Option<TimerSlot>; 2],
}

impl Sp804 {
    /// A dual timer called `name` raising GIC interrupt `irq_id` (board SPI n is ID n + 32:
    /// 34 and 35 for the two motherboard SP804s) whose counters run at `clock_hz` (1 MHz on
    /// the Versatile Express).
    pub fn new(name: impl Into<String>, irq_id: u32, clock_hz: u64) -> Self {
        Sp804 {
            name: name.into(),
            irq_id,
            counters: [Counter::new(clock_hz), Counter::new(clock_hz)],
            slots: [None; 2],
        }
    }

    fn sync(&mut self, ctx: &mut DeviceContext, which: usize) {
        ctx.set_spi(self.irq_id, self.counters.iter().any(Counter::irq_level));
        match (self.counters[which].deadline(), self.slots[which]) {
            (Some(when), slot) => {
                let slot = slot.unwrap_or_else(|| ctx.new_timer_slot());
                self.slots[which] = Some(slot);
                ctx.set_deadline(slot, when);
            }
            (None, Some(slot)) => ctx.cancel_deadline(slot),
            (None, None) => {}
        }
    }
}

impl Device for Sp804 {
    fn name(&self) -> &str {
        &self.name
    }

    fn read(&mut self, ctx: &mut DeviceContext, offset: u32, size: AccessSize) -> u32 {
        let value = match offset {
            TIMER1..TIMER2_END => {
                let which = (offset / TIMER2) as usize;
                let v = self.counters[which].read((offset % TIMER2) & !3, ctx.now());
                self.sync(ctx, which);
                v
            }
            PERIPH_ID0..PRIMECELL_ID_END => primecell_id(&ID, offset & !3).unwrap_or(0),
            _ => {
                tracing::debug!("{}: read of unknown offset {offset:#x}", self.name);
                0
            }
        };
        truncate(value, size)
    }

    fn write(&mut self, ctx: &mut DeviceContext, offset: u32, _size: AccessSize, value: u32) {
        match offset {
            TIMER1..TIMER2_END => {
                let which = (offset / TIMER2) as usize;
                self.counters[which].write((offset % TIMER2) & !3, value, ctx.now());
                self.sync(ctx, which);
            }
            _ => tracing::debug!("{}: write of {value:#x} to unknown offset {offset:#x}", self.name),
        }
    }

    fn timer_expired(&mut self, ctx: &mut DeviceContext, slot: TimerSlot) {
        for which in 0..2 {
            if self.slots[which] == Some(slot) {
                self.counters[which].advance(ctx.now());
                self.sync(ctx, which);
            }
        }
    }

    fn save_state(&self) -> Vec<u8> {
        let Sp804 {
            name: _,
            irq_id: _,
            counters,
            slots,
        } = self;
        state::encode(&Sp804State {
            counters: counters.clone(),
            slots: *slots,
        })
    }

    fn load_state(&mut self, bytes: &[u8]) -> Result<(), StateError> {
        let Sp804State { counters, slots } = state::decode(bytes, &self.name)?;
        for (saved, ours) in counters.iter().zip(&self.counters) {
            if saved.clock_hz != ours.clock_hz {
                return Err(state_error(
                    &self.name,
                    format_args!(
                        "is from a timer clocked at {} Hz; this one runs at {} Hz",
                        saved.clock_hz, ours.clock_hz
                    ),
                ));
            }
        }
        self.counters = counters;
        self.slots = slots;
        Ok(())
    }
}

#[cfg(test)]
#[allow(clippy::identity_op)] // register offsets are spelled out, 0x00 included
mod tests {
    use super::*;
    use crate::test_support::bus_with_ram;
    use AccessSize::Word;
    use armvex_bus::{Accessor, Bus, DeviceId};

    const BASE: u32 = 0x1001_1000;
    const IRQ: u32 = 34;
    const US: u64 = 1000;

    fn setup() -> Bus {
        setup_clocked_at(1_000_000)
    }

    fn setup_clocked_at(hz: u64) -> Bus {
        setup_with_id(hz).0
    }

    /// The bus and the timer's id on it.
    fn setup_with_id(hz: u64) -> (Bus, DeviceId) {
        let mut bus = bus_with_ram(0x6000_0000, 0x1000);
        let id = bus
            .add_device(BASE, 0x1000, Box::new(Sp804::new("timer01", IRQ, hz)))
            .unwrap();
        (bus, id)
    }

    fn at(time: u64) -> Accessor {
        Accessor { cpu: 0, time }
    }

    #[test]
    fn reset_values_and_ids() {
        let mut bus = setup();
        assert_eq!(bus.read(at(0), BASE + 0x08, Word), 0x20);
        assert_eq!(bus.read(at(0), BASE + 0x28, Word), 0x20);
        assert_eq!(bus.read(at(0), BASE + 0x04, Word), 0);
        let ids: Vec<u32> = (0..8).map(|i| bus.read(at(0), BASE + 0xfe0 + 4 * i, Word)).collect();
        assert_eq!(ids, [0x04, 0x18, 0x14, 0x00, 0x0d, 0xf0, 0x05, 0xb1]);
    }

    #[test]
    fn periodic_timer_interrupts_every_load_ticks() {
        let mut bus = setup();
        // Linux's sp804 clockevent in periodic mode: 32-bit, periodic, IE, enable.
        bus.write(at(0), BASE + 0x00, Word, 10_000);
        bus.write(at(0), BASE + 0x08, Word, 0xe2);
        assert_eq!(bus.read(at(0), BASE + 0x04, Word), 10_000);
        assert_eq!(bus.read(at(1), BASE + 0x04, Word), 9999, "whole ticks left");
        assert_eq!(bus.read(at(2500 * US), BASE + 0x04, Word), 7500);
        for n in 1..=3u64 {
            bus.run_due_timers(n * 10_000 * US - 1);
            assert!(!bus.irq.spi_level(IRQ));
            bus.run_due_timers(n * 10_000 * US);
            assert!(bus.irq.spi_level(IRQ), "period {n}");
            assert_eq!(bus.read(at(n * 10_000 * US), BASE + 0x14, Word), 1);
            bus.write(at(n * 10_000 * US + 5), BASE + 0x0c, Word, 1);
            assert!(!bus.irq.spi_level(IRQ));
        }
        assert_eq!(bus.read(at(30_001 * US), BASE + 0x04, Word), 9999);
    }

    #[test]
    fn one_shot_fires_once_and_reads_zero() {
        let mut bus = setup();
        // Linux's set_next_event: disable, load, enable one-shot.
        bus.write(at(0), BASE + 0x28, Word, 0x22);
        bus.write(at(0), BASE + 0x20, Word, 500);
        bus.write(at(100), BASE + 0x28, Word, 0xa3);
        assert_eq!(bus.read(at(100), BASE + 0x24, Word), 500, "enabling reloads");
        bus.run_due_timers(100 + 500 * US);
        assert!(bus.irq.spi_level(IRQ));
        assert_eq!(bus.read(at(900 * US), BASE + 0x24, Word), 0);
        bus.write(at(900 * US), BASE + 0x2c, Word, 0);
        assert!(!bus.irq.spi_level(IRQ));
        assert_eq!(bus.clock.next_deadline(), None);
    }

    #[test]
    fn free_running_wraps_at_the_maximum() {
        let mut bus = setup();
        // Free-running 16-bit with interrupts masked: counts from 0xffff.
        bus.write(at(0), BASE + 0x08, Word, 0x80);
        assert_eq!(bus.read(at(0), BASE + 0x04, Word), 0xffff);
        assert_eq!(bus.read(at(0xffff * US), BASE + 0x04, Word), 0xffff, "reloaded at zero");
        assert_eq!(bus.read(at(0xffff * US + 1), BASE + 0x04, Word), 0xfffe);
        assert_eq!(bus.read(at(0xffff * US), BASE + 0x10, Word), 1, "raw status set");
        assert_eq!(bus.read(at(0xffff * US), BASE + 0x14, Word), 0, "masked");
        assert!(!bus.irq.spi_level(IRQ));
        assert_eq!(bus.read(at(0x10005 * US), BASE + 0x04, Word), 0xfff9);
    }

    #[test]
    fn prescaler_divides_the_clock() {
        let mut bus = setup();
        bus.write(at(0), BASE + 0x00, Word, 100);
        bus.write(at(0), BASE + 0x08, Word, 0xc2 | (1 << 2)); // ÷16
        assert_eq!(bus.read(at(160 * US), BASE + 0x04, Word), 90);
        assert_eq!(bus.clock.next_deadline().map(|d| d.1), Some(1600 * US));
    }

    #[test]
    fn background_load_changes_only_the_next_period() {
        let mut bus = setup();
        bus.write(at(0), BASE + 0x00, Word, 100);
        bus.write(at(0), BASE + 0x08, Word, 0xe2);
        bus.write(at(30 * US + 500), BASE + 0x18, Word, 50);
        assert_eq!(bus.read(at(30 * US + 500), BASE + 0x04, Word), 69, "69.5 ticks left");
        assert_eq!(bus.read(at(30 * US + 500), BASE + 0x00, Word), 50);
        bus.run_due_timers(100 * US);
        assert!(bus.irq.spi_level(IRQ), "the current period still ends at 100 ticks");
        bus.write(at(100 * US), BASE + 0x0c, Word, 1);
        assert_eq!(bus.clock.next_deadline().map(|d| d.1), Some(150 * US));
    }

    #[test]
    fn both_timers_share_the_interrupt() {
        let mut bus = setup();
        bus.write(at(0), BASE + 0x00, Word, 10);
        bus.write(at(0), BASE + 0x08, Word, 0xa3);
        bus.write(at(0), BASE + 0x20, Word, 20);
        bus.write(at(0), BASE + 0x28, Word, 0xa3);
        bus.run_due_timers(10 * US);
        assert!(bus.irq.spi_level(IRQ));
        bus.write(at(10 * US), BASE + 0x0c, Word, 1);
        assert!(!bus.irq.spi_level(IRQ));
        bus.run_due_timers(20 * US);
        assert!(bus.irq.spi_level(IRQ));
        assert_eq!(bus.read(at(20 * US), BASE + 0x30, Word), 1);
        assert_eq!(bus.read(at(20 * US), BASE + 0x10, Word), 0);
    }

    #[test]
    fn periodic_load_2_reads_1_then_0_as_qemu_does() {
        // QEMU 7.2 under -icount shift=0: timer 1 periodic with load 2 at 1 MHz reads 1 for
        // a microsecond, then 0, and raises its status every 2 us.
        let mut bus = setup();
        bus.write(at(0), BASE + 0x00, Word, 2);
        bus.write(at(0), BASE + 0x08, Word, 0xc2);
        let reads: Vec<u32> = [1, 999, 1000, 1001, 2001, 3000, 3001]
            .iter()
            .map(|&t| bus.read(at(t), BASE + 0x04, Word))
            .collect();
        assert_eq!(reads, [1, 1, 1, 0, 1, 1, 0]);
        assert_eq!(bus.read(at(3000), BASE + 0x10, Word), 1);
    }

    #[test]
    fn load_does_not_restart_an_expired_one_shot() {
        let mut bus = setup();
        bus.write(at(0), BASE + 0x00, Word, 5);
        bus.write(at(0), BASE + 0x08, Word, 0xa3);
        bus.run_due_timers(5 * US);
        bus.write(at(6 * US), BASE + 0x0c, Word, 1);
        bus.write(at(6 * US), BASE + 0x00, Word, 7);
        assert_eq!(
            bus.read(at(20 * US), BASE + 0x04, Word),
            7,
            "stopped at the new load value"
        );
        assert_eq!(bus.clock.next_deadline(), None);
        bus.write(at(20 * US), BASE + 0x08, Word, 0xa3);
        assert_eq!(bus.clock.next_deadline().map(|d| d.1), Some(27 * US));
    }

    #[test]
    fn odd_accesses_reach_the_register_holding_them() {
        use AccessSize::{Byte, Half};
        let (mut bus, id) = setup_with_id(1_000_000);
        let fresh = bus.device(id).unwrap().save_state();
        // A fresh timer, byte by byte: a narrow read sees the low byte of the register holding
        // it (TimerControl resets to 0x20: 32-bit), the ID bytes, 0 everywhere else.
        for off in 0..0x1000 {
            let expected = match off & !3 {
                0x08 | 0x28 => 0x20,
                0xfe0..=0xffc => u32::from(ID[((off - 0xfe0) / 4) as usize]),
                _ => 0,
            };
            assert_eq!(bus.read(at(0), BASE + off, Byte), expected, "byte at {off:#x}");
        }
        // Writes of every width outside the two counters (the ID registers included) change
        // nothing.
        for off in 0x40..0x1000 {
            bus.write(at(0), BASE + off, Byte, 0xff);
            bus.write(at(0), BASE + off, Half, 0xffff);
            bus.write(at(0), BASE + off, Word, 0xffff_ffff);
        }
        assert_eq!(bus.device(id).unwrap().save_state(), fresh);
        // Inside a counter, an unaligned write reaches the whole register holding it: a
        // half-word at 0x19 is a TimerBGLoad of 0x1234, one at 0x2a a TimerControl of 0x00a2
        // (enabled, free-running, interrupt enabled, 32-bit), which starts timer 2 from the
        // maximum.
        bus.write(at(0), BASE + 0x19, Half, 0x1234);
        bus.write(at(0), BASE + 0x2a, Half, 0x00a2);
        assert_eq!(bus.read(at(0), BASE + 0x00, Word), 0x1234);
        assert_eq!(bus.read(at(0), BASE + 0x18, Word), 0x1234);
        assert_eq!(bus.read(at(0), BASE + 0x0b, Byte), 0x20, "timer 1 untouched");
        assert_eq!(bus.read(at(0), BASE + 0x28, Word), 0xa2);
        assert_eq!(bus.read(at(0), BASE + 0x24, Word), 0xffff_ffff);
        assert_eq!(bus.read(at(1000), BASE + 0x25, Byte), 0xfe, "one tick later, low byte");
        // The read-only TimerValue and the unused word 0x1c ignore writes; a write anywhere
        // in TimerIntClr clears the interrupt.
        bus.write(at(1000), BASE + 0x26, Half, 0);
        bus.write(at(1000), BASE + 0x3d, Byte, 0xff);
        assert_eq!(bus.read(at(1000), BASE + 0x24, Word), 0xffff_fffe);
        assert_eq!(bus.read(at(1000), BASE + 0x3c, Word), 0);
        bus.write(at(0), BASE + 0x00, Word, 1);
        bus.write(at(0), BASE + 0x08, Word, 0xe2);
        bus.run_due_timers(1000);
        assert!(bus.irq.spi_level(IRQ));
        assert_eq!(bus.read(at(1000), BASE + 0x11, Byte), 1, "RIS");
        bus.write(at(1000), BASE + 0x0f, Byte, 0);
        assert!(!bus.irq.spi_level(IRQ));
        assert_eq!(bus.read(at(1000), BASE + 0x10, Word), 0);
    }

    /// Timer 1 periodic every 10 ms with its status raised at 10 ms and not yet cleared;
    /// timer 2 a one-shot of 25 ms (÷16 prescale) started at 3 ms. Saved at 12.5 ms.
    fn timers_in_use() -> Bus {
        let mut bus = setup();
        bus.write(at(0), BASE + 0x00, Word, 10_000);
        bus.write(at(0), BASE + 0x08, Word, 0xe2);
        bus.write(at(3000 * US), BASE + 0x20, Word, 25_000 / 16);
        bus.write(at(3000 * US), BASE + 0x28, Word, 0xa7);
        bus.run_due_timers(12_500 * US);
        assert!(bus.irq.spi_level(IRQ));
        bus
    }

    #[test]
    fn counters_and_deadlines_survive_save_and_restore() {
        let mut a = timers_in_use();
        let saved = a.save_state();
        let mut b = setup();
        b.load_state(&saved).unwrap();
        assert_eq!(b.save_state(), saved);
        for bus in [&mut a, &mut b] {
            assert!(bus.irq.spi_level(IRQ));
            // Timer 2's zero at 3 ms + 1562 ticks of 16 us; timer 1 has none while its
            // status is set.
            assert_eq!(bus.clock.next_deadline().map(|d| d.1), Some(27_992 * US));
            let t = 12_500 * US;
            assert_eq!(bus.read(at(t), BASE + 0x04, Word), 7_500);
            assert_eq!(bus.read(at(t), BASE + 0x10, Word), 1);
            assert_eq!(bus.read(at(t), BASE + 0x24, Word), 968, "593.75 of 1562 ticks gone");
            assert_eq!(bus.read(at(t), BASE + 0x28, Word), 0xa7);
            assert_eq!(bus.read(at(t), BASE + 0x30, Word), 0);
            // Clearing timer 1 re-arms its next period at 20 ms.
            bus.write(at(t), BASE + 0x0c, Word, 1);
            assert!(!bus.irq.spi_level(IRQ));
            assert_eq!(bus.clock.next_deadline().map(|d| d.1), Some(20_000 * US));
            bus.run_due_timers(20_000 * US);
            assert!(bus.irq.spi_level(IRQ));
            bus.write(at(20_000 * US), BASE + 0x0c, Word, 1);
            bus.run_due_timers(27_992 * US - 1);
            assert!(!bus.irq.spi_level(IRQ));
            bus.run_due_timers(27_992 * US);
            assert!(bus.irq.spi_level(IRQ), "timer 2's one-shot");
            assert_eq!(bus.read(at(27_992 * US), BASE + 0x34, Word), 1);
            assert_eq!(bus.read(at(29_000 * US), BASE + 0x24, Word), 0);
            assert_eq!(bus.read(at(29_000 * US), BASE + 0x04, Word), 1_000);
        }
        assert_eq!(a.save_state(), b.save_state());
    }

    #[test]
    fn a_state_from_a_timer_with_another_clock_is_refused() {
        let saved = timers_in_use().save_state();
        let mut slow = setup_clocked_at(32_768);
        assert_eq!(
            slow.load_state(&saved).unwrap_err().0,
            "timer01: saved state of timer01 is from a timer clocked at 1000000 Hz; this one runs at 32768 Hz"
        );
    }

    #[test]
    fn damaged_states_are_refused_without_panic() {
        let valid = timers_in_use().save_state().devices[0].1.clone();
        crate::state_tests::check_damaged_states(&valid, |bytes| {
            let mut timer = Sp804::new("timer01", IRQ, 1_000_000);
            timer.load_state(bytes)?;
            // The counters alone: what a damaged timer slot would do is the bus's to check.
            for counter in &mut timer.counters {
                for t in [0, 1, 12_500 * US, u64::MAX / 2, u64::MAX] {
                    counter.advance(t);
                    for reg in 0..8 {
                        counter.read(reg, t);
                    }
                    counter.deadline();
                }
                counter.write(2, 0xe6, 7);
                counter.write(0, 3, 9);
                counter.read(1, 1 << 40);
            }
            Ok(())
        });
    }
}
