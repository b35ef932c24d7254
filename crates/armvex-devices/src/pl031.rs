//! The ARM PrimeCell Real Time Clock PL031 (ARM DDI 0224, *PrimeCell Real Time Clock (PL031)
//! Technical Reference Manual*, chapter 3 "Programmers Model").
//!
//! A 32-bit counter of seconds. `RTCDR` (0x00) reads it, `RTCLR` (0x08) loads it, `RTCMR`
//! (0x04) holds an alarm value: when the counter equals it, the raw interrupt status `RTCRIS`
//! (0x14) is set; `RTCIMSC` (0x10) masks it, `RTCMIS` (0x18) is the masked status, `RTCICR`
//! (0x1c) clears it, and the interrupt output is high while the masked status is set. `RTCCR`
//! (0x0c) starts the clock. PrimeCell IDs 0x31 0x10 0x14 0x00 0x0d 0xf0 0x05 0xb1.
//!
//! As in QEMU (`hw/rtc/pl031.c`): the clock always runs and `RTCCR` reads 1; the counter is
//! `start + now / 1 s`, where `start` is the wall-clock time (seconds since 1970) the machine
//! was given — never the host clock, so runs repeat — and `now` is virtual time; writing
//! `RTCLR` shifts that offset. Setting the match register schedules the alarm `MR - DR` whole
//! seconds after the moment of the write (at once if they are equal).
//!
//! Saved state: the offset between virtual time and `RTCDR` (which holds the start time the
//! machine was given — host input, but guest-visible, so a restored machine reads the saved
//! clock and not the time it was itself built with), the match, load and mask registers, the
//! raw interrupt status and the alarm's timer slot.

use crate::{NS_PER_SEC, PERIPH_ID0, PRIMECELL_ID_END, primecell_id, state_error, truncate};
use armvex_bus::{AccessSize, Device, DeviceContext, StateError, TimerSlot, state};
use serde::{Deserialize, Serialize};

const ID: [u8; 8] = [0x31, 0x10, 0x14, 0x00, 0x0d, 0xf0, 0x05, 0xb1];

/// Register offsets (DDI 0224 §3.2, Table 3-1).
pub mod regs {
    /// Data Register (§3.3.1): the counter, read-only.
    pub const RTCDR: u32 = 0x00;
    /// Match Register (§3.3.2): the alarm value.
    pub const RTCMR: u32 = 0x04;
    /// Load Register (§3.3.3): a write sets the counter.
    pub const RTCLR: u32 = 0x08;
    /// Control Register (§3.3.4): bit 0 starts the clock (always running here).
    pub const RTCCR: u32 = 0x0c;
    /// Interrupt Mask Set/Clear Register (§3.3.5).
    pub const RTCIMSC: u32 = 0x10;
    /// Raw Interrupt Status Register (§3.3.6), read-only.
    pub const RTCRIS: u32 = 0x14;
    /// Masked Interrupt Status Register (§3.3.7), read-only.
    pub const RTCMIS: u32 = 0x18;
    /// Interrupt Clear Register (§3.3.8), write-only.
    pub const RTCICR: u32 = 0x1c;
}
use regs::*;

/// A PL031 real-time clock.
pub struct Pl031 {
    name: String,
    irq_id: u32,
    /// Seconds to add to virtual time for `RTCDR`.
    tick_offset: u32,
    mr: u32,
    lr: u32,
    im: u32,
    is: u32,
    slot: Option<TimerSlot>,
}

/// What [`Pl031`] saves.
#[derive(Serialize, Deserialize)]
struct Pl031State {
    tick_offset: u32,
    mr: u32,
    lr: u32,
    im: u32,
    is: u32,
    slot: Option<TimerSlot>,
}

impl Pl031 {
    /// An RTC called `name` raising GIC interrupt `irq_id` (board SPI 4 is ID 36 on the
    /// vexpress boards), reading `start_time` (seconds since 1970-01-01 UTC) at virtual time 0.
    pub fn new(name: impl Into<String>, irq_id: u32, start_time: u64) -> Self {
        Pl031 {
            name: name.into(),
            irq_id,
            tick_offset: start_time as u32,
            mr: 0,
            lr: 0,
            im: 0,
            is: 0,
            slot: None,
        }
    }

    /// `RTCDR` at virtual time `now`.
    fn count(&self, now: u64) -> u32 {
        self.tick_offset.wrapping_add((now / NS_PER_SEC) as u32)
    }

    fn update(&self, ctx: &mut DeviceContext) {
        ctx.set_spi(self.irq_id, self.is & self.im != 0);
    }

    /// Schedule the alarm for when the counter reaches the match register.
    fn set_alarm(&mut self, ctx: &mut DeviceContext) {
        let now = ctx.now();
        // Wraps like the counter, so a match value "behind" the counter is ~136 years away.
        let seconds = self.mr.wrapping_sub(self.count(now));
        if seconds == 0 {
            if let Some(slot) = self.slot {
                ctx.cancel_deadline(slot);
            }
            self.is = 1;
        } else {
            let slot = *self.slot.get_or_insert_with(|| ctx.new_timer_slot());
            ctx.set_deadline(slot, now.saturating_add(u64::from(seconds) * NS_PER_SEC));
        }
    }
}

impl Device for Pl031 {
    fn name(&self) -> &str {
        &self.name
    }

    fn read(&mut self, ctx: &mut DeviceContext, offset: u32, size: AccessSize) -> u32 {
        let value = match offset {
            RTCDR => self.count(ctx.now()),
            RTCMR => self.mr,
            RTCLR => self.lr,
            RTCCR => 1,
            RTCIMSC => self.im,
            RTCRIS => self.is,
            RTCMIS => self.is & self.im,
            PERIPH_ID0..PRIMECELL_ID_END => primecell_id(&ID, offset & !3).unwrap_or(0),
            _ => {
                tracing::debug!("{}: read of unknown or write-only offset {offset:#x}", self.name);
                0
            }
        };
        truncate(value, size)
    }

    fn write(&mut self, ctx: &mut DeviceContext, offset: u32, _size: AccessSize, value: u32) {
        match offset {
            RTCMR => {
                self.mr = value;
                self.set_alarm(ctx);
            }
            RTCLR => {
                self.lr = value;
                let now = self.count(ctx.now());
                self.tick_offset = self.tick_offset.wrapping_add(value.wrapping_sub(now));
                self.set_alarm(ctx);
            }
            RTCCR => {} // the clock is always enabled
            RTCIMSC => self.im = value & 1,
            RTCICR => self.is &= !value,
            _ => tracing::debug!(
                "{}: write of {value:#x} to unknown or read-only offset {offset:#x}",
                self.name
            ),
        }
        self.update(ctx);
    }

    fn timer_expired(&mut self, ctx: &mut DeviceContext, _slot: TimerSlot) {
        self.is = 1;
        self.update(ctx);
    }

    fn save_state(&self) -> Vec<u8> {
        let Pl031 {
            name: _,
            irq_id: _,
            tick_offset,
            mr,
            lr,
            im,
            is,
            slot,
        } = *self;
        state::encode(&Pl031State {
            tick_offset,
            mr,
            lr,
            im,
            is,
            slot,
        })
    }

    fn load_state(&mut self, bytes: &[u8]) -> Result<(), StateError> {
        let Pl031State {
            tick_offset,
            mr,
            lr,
            im,
            is,
            slot,
        } = state::decode(bytes, &self.name)?;
        if im > 1 || is > 1 {
            return Err(state_error(
                &self.name,
                format_args!("has interrupt bits {im:#x}/{is:#x}; the RTC has only bit 0"),
            ));
        }
        self.tick_offset = tick_offset;
        self.mr = mr;
        self.lr = lr;
        self.im = im;
        self.is = is;
        self.slot = slot;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::test_support::bus_with_ram;
    use AccessSize::Word;
    use armvex_bus::{Accessor, Bus};

    const BASE: u32 = 0x1001_7000;
    const IRQ: u32 = 36;
    /// 2024-01-01T00:00:00Z.
    const START: u64 = 1_704_067_200;
    const S: u64 = NS_PER_SEC;

    fn setup() -> Bus {
        setup_started_at(START)
    }

    fn setup_started_at(start: u64) -> Bus {
        let mut bus = bus_with_ram(0x6000_0000, 0x1000);
        bus.add_device(BASE, 0x1000, Box::new(Pl031::new("rtc", IRQ, start)))
            .unwrap();
        bus
    }

    fn at(time: u64) -> Accessor {
        Accessor { cpu: 0, time }
    }

    #[test]
    fn counts_seconds_from_the_start_time() {
        let mut bus = setup();
        assert_eq!(bus.read(at(0), BASE, Word), START as u32);
        assert_eq!(bus.read(at(S - 1), BASE, Word), START as u32);
        assert_eq!(bus.read(at(3 * S + 7), BASE, Word), START as u32 + 3);
        assert_eq!(bus.read(at(0), BASE + 0x0c, Word), 1);
        let ids: Vec<u32> = (0..8).map(|i| bus.read(at(0), BASE + 0xfe0 + 4 * i, Word)).collect();
        assert_eq!(ids, [0x31, 0x10, 0x14, 0x00, 0x0d, 0xf0, 0x05, 0xb1]);
    }

    #[test]
    fn load_register_sets_the_time() {
        let mut bus = setup();
        bus.write(at(2 * S), BASE + 0x08, Word, 1000);
        assert_eq!(bus.read(at(2 * S), BASE, Word), 1000);
        assert_eq!(bus.read(at(12 * S), BASE, Word), 1010);
        assert_eq!(bus.read(at(12 * S), BASE + 0x08, Word), 1000);
    }

    #[test]
    fn alarm_interrupt() {
        let mut bus = setup();
        bus.write(at(0), BASE + 0x10, Word, 1);
        bus.write(at(S / 2), BASE + 0x04, Word, START as u32 + 5);
        assert_eq!(bus.clock.next_deadline().map(|d| d.1), Some(S / 2 + 5 * S));
        bus.run_due_timers(5 * S);
        assert!(!bus.irq.spi_level(IRQ));
        bus.run_due_timers(S / 2 + 5 * S);
        assert!(bus.irq.spi_level(IRQ));
        assert_eq!(bus.read(at(6 * S), BASE + 0x14, Word), 1);
        assert_eq!(bus.read(at(6 * S), BASE + 0x18, Word), 1);
        bus.write(at(6 * S), BASE + 0x1c, Word, 1);
        assert!(!bus.irq.spi_level(IRQ));
        assert_eq!(bus.read(at(6 * S), BASE + 0x14, Word), 0);
    }

    #[test]
    fn alarm_equal_to_now_fires_at_once_and_mask_gates_the_line() {
        let mut bus = setup();
        bus.write(at(0), BASE + 0x04, Word, START as u32);
        assert_eq!(bus.read(at(0), BASE + 0x14, Word), 1);
        assert!(!bus.irq.spi_level(IRQ), "masked");
        bus.write(at(0), BASE + 0x10, Word, 0xff);
        assert_eq!(bus.read(at(0), BASE + 0x10, Word), 1);
        assert!(bus.irq.spi_level(IRQ));
    }

    /// Set the clock to 1000 at 2 s, unmask, and set an alarm for 1006 at 3 s (due at 8 s).
    fn clock_with_alarm() -> Bus {
        let mut bus = setup();
        bus.write(at(2 * S), BASE + 0x08, Word, 1000);
        bus.write(at(2 * S), BASE + 0x10, Word, 1);
        bus.write(at(3 * S), BASE + 0x04, Word, 1006);
        bus.run_due_timers(3 * S);
        bus
    }

    #[test]
    fn clock_and_alarm_survive_save_and_restore() {
        let mut a = clock_with_alarm();
        let saved = a.save_state();
        // Restored a day later: the new machine's host start time differs, the guest's
        // clock must not.
        let mut b = setup_started_at(START + 86_400);
        b.load_state(&saved).unwrap();
        assert_eq!(b.save_state(), saved);
        for bus in [&mut a, &mut b] {
            assert_eq!(bus.read(at(4 * S), BASE, Word), 1002);
            assert_eq!(bus.read(at(4 * S), BASE + 0x04, Word), 1006);
            assert_eq!(bus.read(at(4 * S), BASE + 0x08, Word), 1000);
            assert_eq!(bus.read(at(4 * S), BASE + 0x10, Word), 1);
            assert_eq!(bus.read(at(4 * S), BASE + 0x14, Word), 0);
            assert_eq!(bus.clock.next_deadline().map(|d| d.1), Some(8 * S));
            bus.run_due_timers(8 * S - 1);
            assert!(!bus.irq.spi_level(IRQ));
            bus.run_due_timers(8 * S);
            assert!(bus.irq.spi_level(IRQ));
            assert_eq!(bus.read(at(8 * S), BASE + 0x18, Word), 1);
            bus.write(at(9 * S), BASE + 0x1c, Word, 1);
            assert!(!bus.irq.spi_level(IRQ));
            // A second alarm reuses the restored timer slot.
            bus.write(at(9 * S), BASE + 0x04, Word, 1009);
            assert_eq!(bus.clock.next_deadline().map(|d| d.1), Some(11 * S));
            assert_eq!(bus.read(at(20 * S), BASE, Word), 1018);
        }
        assert_eq!(a.save_state(), b.save_state());
    }

    #[test]
    fn a_pending_interrupt_survives_save_and_restore() {
        let mut a = clock_with_alarm();
        a.run_due_timers(8 * S);
        assert!(a.irq.spi_level(IRQ));
        let saved = a.save_state();
        let mut b = setup();
        b.load_state(&saved).unwrap();
        assert!(b.irq.spi_level(IRQ), "the bus restored the line");
        assert_eq!(b.read(at(8 * S), BASE + 0x14, Word), 1);
        b.write(at(8 * S), BASE + 0x10, Word, 0);
        assert!(!b.irq.spi_level(IRQ), "masking drops the restored interrupt");
    }

    #[test]
    fn damaged_states_are_refused_without_panic() {
        let valid = clock_with_alarm().save_state().devices[0].1.clone();
        let mut bad = Pl031::new("rtc", IRQ, START);
        let im = state::encode(&Pl031State {
            tick_offset: 0,
            mr: 0,
            lr: 0,
            im: 2,
            is: 0,
            slot: None,
        });
        assert_eq!(
            bad.load_state(&im).unwrap_err().0,
            "saved state of rtc has interrupt bits 0x2/0x0; the RTC has only bit 0"
        );
        crate::state_tests::check_damaged_states(&valid, |bytes| {
            let mut bus = setup();
            crate::state_tests::load_device(&mut bus, 0, bytes)?;
            for off in (0..0x1000).step_by(4) {
                bus.read(at(5 * S), BASE + off, Word);
            }
            Ok(())
        });
    }
}
