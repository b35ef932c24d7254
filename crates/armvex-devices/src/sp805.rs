//! The ARM Watchdog Module SP805 (*ARM Watchdog Module (SP805) Technical Reference Manual*,
//! ARM DDI 0270, chapter 3 "Programmer's Model"). QEMU 7.2 does not model it on the vexpress
//! boards, so this follows the TRM; Linux binds it with `sp805_wdt`.
//!
//! | offset | register | |
//! |---|---|---|
//! | 0x000 | WdogLoad | the count to start from (reset 0xffffffff); writing it restarts the count |
//! | 0x004 | WdogValue | the current count (read-only) |
//! | 0x008 | WdogControl | bit 0 INTEN: run the counter and enable the interrupt; bit 1 RESEN: enable the reset |
//! | 0x00c | WdogIntClr | any write clears the interrupt and restarts the count from WdogLoad |
//! | 0x010 / 0x014 | WdogRIS / WdogMIS | raw and masked interrupt status (bit 0) |
//! | 0xc00 | WdogLock | 0x1acce551 unlocks, anything else locks; reads 1 when locked |
//! | 0xf00 / 0xf04 | WdogITCR / WdogITOP | integration test control and outputs (stored) |
//! | 0xfe0.. | IDs | 0x05 0x18 0x14 0x00 0x0d 0xf0 0x05 0xb1 |
//!
//! **How it counts** (TRM 2.2): while INTEN is set the counter decrements at WDOGCLK. When it
//! reaches zero the interrupt is raised and the next clock edge reloads it from WdogLoad. If it
//! reaches zero again with the interrupt still raised and RESEN set, the watchdog resets the
//! system: here it asks the machine for a reboot ([`MachineRequest::Reboot`]), as the board's
//! reset does, and stops. A guest that feeds the watchdog (writes WdogIntClr or WdogLoad) in
//! time never gets there.
//!
//! The counter never ticks: its value is computed from the virtual time it was (re)started
//! at, and the next zero is a bus deadline, so the reset comes at an exact, repeatable point.
//! While locked, writes to every register but WdogLock are ignored.
//!
//! Saved state: the registers, the count and the time it started from, whether the reset has
//! happened, and the timer slot.

use crate::{ns_for_ticks, primecell_id, state_error, ticks_in, truncate};
use armvex_bus::{AccessSize, Device, DeviceContext, MachineRequest, StateError, TimerSlot, state};
use serde::{Deserialize, Serialize};

const ID: [u8; 8] = [0x05, 0x18, 0x14, 0x00, 0x0d, 0xf0, 0x05, 0xb1];
const UNLOCK: u32 = 0x1acc_e551;
const CTRL_INTEN: u32 = 1;
const CTRL_RESEN: u32 = 2;

/// Register offsets (DDI 0270 §3.2, Table 3-1).
pub mod regs {
    /// WdogLoad: the count to start from.
    pub const WDOG_LOAD: u32 = 0x000;
    /// WdogValue: the current count, read-only.
    pub const WDOG_VALUE: u32 = 0x004;
    /// WdogControl: INTEN (bit 0), RESEN (bit 1).
    pub const WDOG_CONTROL: u32 = 0x008;
    /// WdogIntClr: any write clears the interrupt and reloads, write-only.
    pub const WDOG_INTCLR: u32 = 0x00c;
    /// WdogRIS: the raw interrupt status.
    pub const WDOG_RIS: u32 = 0x010;
    /// WdogMIS: the masked interrupt status.
    pub const WDOG_MIS: u32 = 0x014;
    /// WdogLock: 0x1ACCE551 unlocks the other registers, anything else locks them.
    pub const WDOG_LOCK: u32 = 0xc00;
    /// WdogITCR: integration test control.
    pub const WDOG_ITCR: u32 = 0xf00;
    /// WdogITOP: integration test output set, write-only.
    pub const WDOG_ITOP: u32 = 0xf04;
}
use regs::*;

/// What [`Sp805`] saves.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
struct Sp805State {
    load: u32,
    control: u32,
    raw_interrupt: bool,
    locked: bool,
    itcr: u32,
    itop: u32,
    /// While running: the count at `start` (virtual ns).
    count: u32,
    start: u64,
    /// The reset has been asserted; the counter is stopped until the guest restarts it.
    reset_done: bool,
    slot: Option<TimerSlot>,
}

/// An SP805 watchdog.
pub struct Sp805 {
    name: String,
    irq_id: Option<u32>,
    hz: u64,
    s: Sp805State,
}

impl Sp805 {
    /// A watchdog called `name` counting at `hz` (WDOGCLK), raising GIC interrupt `irq_id`
    /// (if wired).
    pub fn new(name: impl Into<String>, irq_id: Option<u32>, hz: u64) -> Self {
        Sp805 {
            name: name.into(),
            irq_id,
            hz,
            s: Sp805State {
                load: u32::MAX,
                control: 0,
                raw_interrupt: false,
                locked: false,
                itcr: 0,
                itop: 0,
                count: u32::MAX,
                start: 0,
                reset_done: false,
                slot: None,
            },
        }
    }

    fn running(&self) -> bool {
        self.s.control & CTRL_INTEN != 0 && !self.s.reset_done
    }

    /// The count now.
    fn value(&self, now: u64) -> u32 {
        if !self.running() {
            return self.s.count;
        }
        let ticks = ticks_in(now.saturating_sub(self.s.start), self.hz);
        u64::from(self.s.count).saturating_sub(ticks) as u32
    }

    /// Start counting from `count` at `now`.
    fn restart(&mut self, ctx: &mut DeviceContext, count: u32) {
        self.s.count = count;
        self.s.start = ctx.now();
        self.s.reset_done = false;
        self.schedule(ctx);
    }

    /// Set the deadline of the next zero (or cancel it when stopped).
    fn schedule(&mut self, ctx: &mut DeviceContext) {
        if !self.running() {
            if let Some(slot) = self.s.slot {
                ctx.cancel_deadline(slot);
            }
            return;
        }
        let slot = *self.s.slot.get_or_insert_with(|| ctx.new_timer_slot());
        let at = self
            .s
            .start
            .saturating_add(ns_for_ticks(u64::from(self.s.count), self.hz));
        ctx.set_deadline(slot, at.max(ctx.now()));
    }

    fn update(&self, ctx: &mut DeviceContext) {
        if let Some(irq) = self.irq_id {
            ctx.set_spi(irq, self.s.raw_interrupt && self.s.control & CTRL_INTEN != 0);
        }
    }
}

impl Device for Sp805 {
    fn name(&self) -> &str {
        &self.name
    }

    fn read(&mut self, ctx: &mut DeviceContext, offset: u32, size: AccessSize) -> u32 {
        if let Some(id) = primecell_id(&ID, offset & !3) {
            return id;
        }
        let value = match offset & !3 {
            WDOG_LOAD => self.s.load,
            WDOG_VALUE => self.value(ctx.now()),
            WDOG_CONTROL => self.s.control,
            WDOG_RIS => u32::from(self.s.raw_interrupt),
            WDOG_MIS => u32::from(self.s.raw_interrupt && self.s.control & CTRL_INTEN != 0),
            WDOG_LOCK => u32::from(self.s.locked),
            WDOG_ITCR => self.s.itcr,
            _ => {
                tracing::debug!("{}: read of unknown or write-only offset {offset:#x}", self.name);
                0
            }
        };
        truncate(value, size)
    }

    fn write(&mut self, ctx: &mut DeviceContext, offset: u32, _size: AccessSize, value: u32) {
        let offset = offset & !3;
        if offset == WDOG_LOCK {
            self.s.locked = value != UNLOCK;
            return;
        }
        if self.s.locked {
            tracing::debug!(
                "{}: write of {value:#x} at {offset:#x} while locked, ignored",
                self.name
            );
            return;
        }
        match offset {
            WDOG_LOAD => {
                self.s.load = value;
                self.restart(ctx, value);
            }
            WDOG_CONTROL => {
                let was_running = self.s.control & CTRL_INTEN != 0;
                let now = ctx.now();
                let count = self.value(now);
                self.s.control = value & 3;
                if self.s.control & CTRL_INTEN != 0 && !was_running {
                    self.restart(ctx, self.s.load);
                } else if self.s.control & CTRL_INTEN == 0 && was_running {
                    // Stopped: the count stays where it got to.
                    self.s.count = count;
                    self.s.start = now;
                    self.schedule(ctx);
                }
            }
            WDOG_INTCLR => {
                self.s.raw_interrupt = false;
                self.restart(ctx, self.s.load);
            }
            WDOG_ITCR => self.s.itcr = value & 1,
            WDOG_ITOP => self.s.itop = value & 3,
            _ => tracing::debug!(
                "{}: write of {value:#x} to unknown or read-only offset {offset:#x}",
                self.name
            ),
        }
        self.update(ctx);
    }

    fn timer_expired(&mut self, ctx: &mut DeviceContext, _slot: TimerSlot) {
        if !self.running() {
            return;
        }
        if self.s.raw_interrupt {
            if self.s.control & CTRL_RESEN != 0 {
                tracing::info!("{}: not fed in time: resetting the machine", self.name);
                ctx.request(MachineRequest::Reboot);
                self.s.count = 0;
                self.s.start = ctx.now();
                self.s.reset_done = true;
                return;
            }
        } else {
            self.s.raw_interrupt = true;
        }
        // Zero reached: the next tick reloads the count, so the next zero is load + 1 ticks on.
        let tick = ns_for_ticks(1, self.hz);
        self.s.count = self.s.load;
        self.s.start = ctx.now().saturating_add(tick);
        self.schedule(ctx);
        self.update(ctx);
    }

    fn save_state(&self) -> Vec<u8> {
        let Sp805 {
            name: _,
            irq_id: _,
            hz: _,
            s,
        } = self;
        state::encode(s)
    }

    fn load_state(&mut self, bytes: &[u8]) -> Result<(), StateError> {
        let s: Sp805State = state::decode(bytes, &self.name)?;
        if s.control > 3 || s.itcr > 1 || s.itop > 3 {
            return Err(state_error(&self.name, "holds values a watchdog cannot have"));
        }
        self.s = s;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::test_support::bus_without_ram;
    use AccessSize::Word;
    use armvex_bus::{Accessor, Bus};

    const BASE: u32 = 0x1000_f000;
    const IRQ: u32 = 32;
    const HZ: u64 = 1_000_000;

    fn at(time: u64) -> Accessor {
        Accessor { cpu: 0, time }
    }

    fn setup() -> (Bus, usize) {
        let mut bus = bus_without_ram();
        let id = bus
            .add_device(BASE, 0x1000, Box::new(Sp805::new("wdt", Some(IRQ), HZ)))
            .unwrap();
        (bus, id)
    }

    #[test]
    fn reset_values_and_ids() {
        let (mut bus, _) = setup();
        let r = |bus: &mut Bus, off| bus.read(at(0), BASE + off, Word);
        assert_eq!(r(&mut bus, 0), u32::MAX);
        assert_eq!(r(&mut bus, 4), u32::MAX);
        assert_eq!(r(&mut bus, 8), 0);
        assert_eq!(r(&mut bus, 0xc00), 0);
        let ids: Vec<u32> = (0..8).map(|i| r(&mut bus, 0xfe0 + 4 * i)).collect();
        assert_eq!(ids, [0x05, 0x18, 0x14, 0x00, 0x0d, 0xf0, 0x05, 0xb1]);
    }

    #[test]
    fn an_unfed_watchdog_interrupts_then_resets() {
        let (mut bus, _) = setup();
        bus.write(at(0), BASE, Word, 1000);
        bus.write(at(0), BASE + 8, Word, CTRL_INTEN | CTRL_RESEN);
        assert_eq!(bus.read(at(250_000), BASE + 4, Word), 750);
        bus.run_due_timers(999_999);
        assert!(!bus.irq.spi_level(IRQ));
        bus.run_due_timers(1_000_000);
        assert!(bus.irq.spi_level(IRQ), "first zero: the interrupt");
        assert_eq!(bus.read(at(1_000_000), BASE + 0x14, Word), 1);
        assert!(bus.requests.is_empty());
        bus.run_due_timers(2_000_999);
        assert!(bus.requests.is_empty());
        bus.run_due_timers(2_001_000);
        assert_eq!(bus.requests, [MachineRequest::Reboot], "second zero: the reset");
        bus.run_due_timers(10_000_000);
        assert_eq!(bus.requests.len(), 1, "and it stops");
    }

    #[test]
    fn a_fed_watchdog_never_resets_and_the_lock_holds() {
        let (mut bus, _) = setup();
        bus.write(at(0), BASE, Word, 1000);
        bus.write(at(0), BASE + 8, Word, CTRL_INTEN | CTRL_RESEN);
        for t in (500_000..20_000_000).step_by(500_000) {
            bus.run_due_timers(t);
            bus.write(at(t), BASE + 0xc, Word, 1);
        }
        assert!(bus.requests.is_empty());
        bus.write(at(20_000_000), BASE + 0xc00, Word, 0);
        assert_eq!(bus.read(at(20_000_000), BASE + 0xc00, Word), 1);
        bus.write(at(20_000_000), BASE + 8, Word, 0);
        assert_eq!(bus.read(at(20_000_000), BASE + 8, Word), 3, "locked: ignored");
        bus.write(at(20_000_000), BASE + 0xc00, Word, UNLOCK);
        bus.write(at(20_000_000), BASE + 8, Word, 0);
        bus.run_due_timers(100_000_000);
        assert!(bus.requests.is_empty(), "stopped");
        assert_eq!(bus.read(at(100_000_000), BASE + 4, Word), 500);
    }

    #[test]
    fn state_round_trip_and_damaged_states() {
        let (mut a, _) = setup();
        a.write(at(0), BASE, Word, 1000);
        a.write(at(0), BASE + 8, Word, CTRL_INTEN | CTRL_RESEN);
        a.run_due_timers(1_200_000);
        let saved = a.save_state();
        let (mut b, _) = setup();
        b.load_state(&saved).unwrap();
        for bus in [&mut a, &mut b] {
            assert_eq!(bus.read(at(1_200_000), BASE + 4, Word), 801);
            assert!(bus.irq.spi_level(IRQ));
            bus.run_due_timers(2_001_000);
            assert_eq!(bus.requests, [MachineRequest::Reboot]);
        }
        let valid = saved.devices[0].1.clone();
        crate::state_tests::check_damaged_states(&valid, |bytes| {
            let (mut bus, id) = setup();
            crate::state_tests::load_device(&mut bus, id, bytes)?;
            for off in (0..0x1000).step_by(4) {
                bus.read(at(5), BASE + off, Word);
            }
            Ok(())
        });
    }
}
