//! The ARM PrimeCell System Controller SP810 (ARM DDI 0254, *PrimeCell System Controller
//! (SP810) Technical Reference Manual*, chapter 3), at 0x10001000 (vexpress-a9) or 0x1c020000
//! (vexpress-a15).
//!
//! On the Versatile Express only its system control register `SCCTRL` (0x000) matters: bits
//! 15, 17, 19 and 21 choose the reference clock (32 kHz or 1 MHz) of each SP804 timer, and
//! Linux's clk-sp810 driver reads and writes them. QEMU does not model the SP810 at all, so
//! the whole window reads as zero there; armvex keeps `SCCTRL` as a plain read/write register
//! (resetting to zero, as QEMU reads) and reads zero everywhere else, including the PrimeCell
//! ID registers, so Linux's AMBA bus does not bind a driver to it — as under QEMU. The timers
//! always run at their configured rate whatever `SCCTRL` says.
//!
//! Saved state: `SCCTRL`.

use crate::truncate;
use armvex_bus::{AccessSize, Device, DeviceContext, StateError, state};
use serde::{Deserialize, Serialize};

/// An SP810 system controller.
pub struct Sp810 {
    name: String,
    scctrl: u32,
}

/// What [`Sp810`] saves.
#[derive(Serialize, Deserialize)]
struct Sp810State {
    scctrl: u32,
}

impl Sp810 {
    /// A system controller called `name`.
    pub fn new(name: impl Into<String>) -> Self {
        Sp810 {
            name: name.into(),
            scctrl: 0,
        }
    }
}

impl Device for Sp810 {
    fn name(&self) -> &str {
        &self.name
    }

    fn read(&mut self, _ctx: &mut DeviceContext, offset: u32, size: AccessSize) -> u32 {
        if offset == 0 {
            truncate(self.scctrl, size)
        } else {
            tracing::debug!("{}: read of unmodelled offset {offset:#x}", self.name);
            0
        }
    }

    fn write(&mut self, _ctx: &mut DeviceContext, offset: u32, _size: AccessSize, value: u32) {
        if offset == 0 {
            self.scctrl = value;
        } else {
            tracing::debug!("{}: write of {value:#x} to unmodelled offset {offset:#x}", self.name);
        }
    }

    fn save_state(&self) -> Vec<u8> {
        let Sp810 { name: _, scctrl } = *self;
        state::encode(&Sp810State { scctrl })
    }

    fn load_state(&mut self, bytes: &[u8]) -> Result<(), StateError> {
        let Sp810State { scctrl } = state::decode(bytes, &self.name)?;
        self.scctrl = scctrl;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::state_tests::{check_damaged_states, load_device};
    use crate::test_support::bus_with_ram;
    use armvex_bus::{Accessor, Bus};

    fn setup() -> (Bus, u32) {
        let mut bus = bus_with_ram(0x6000_0000, 0x1000);
        let base = 0x1000_1000;
        bus.add_device(base, 0x1000, Box::new(Sp810::new("sysctl"))).unwrap();
        (bus, base)
    }

    #[test]
    fn scctrl_holds_its_value_and_ids_read_zero() {
        let (mut bus, base) = setup();
        let cpu0 = Accessor { cpu: 0, time: 0 };
        assert_eq!(bus.read(cpu0, base, AccessSize::Word), 0);
        bus.write(cpu0, base, AccessSize::Word, 1 << 15 | 1 << 17);
        assert_eq!(bus.read(cpu0, base, AccessSize::Word), 0x0002_8000);
        bus.write(cpu0, base + 0x24, AccessSize::Word, 0xffff);
        assert_eq!(bus.read(cpu0, base + 0x24, AccessSize::Word), 0);
        assert_eq!(bus.read(cpu0, base + 0xfe0, AccessSize::Word), 0);
        assert_eq!(bus.read(cpu0, base + 0xff0, AccessSize::Word), 0);
    }

    #[test]
    fn scctrl_survives_save_and_restore() {
        let cpu0 = Accessor { cpu: 0, time: 0 };
        let (mut a, base) = setup();
        a.write(cpu0, base, AccessSize::Word, 1 << 15 | 1 << 21);
        let saved = a.save_state();
        let (mut b, _) = setup();
        assert_eq!(b.read(cpu0, base, AccessSize::Word), 0);
        b.load_state(&saved).unwrap();
        assert_eq!(b.save_state(), saved);
        for bus in [&mut a, &mut b] {
            assert_eq!(bus.read(cpu0, base, AccessSize::Word), 0x0020_8000);
            bus.write(cpu0, base, AccessSize::Word, 1 << 17);
            assert_eq!(bus.read(cpu0, base, AccessSize::Word), 0x0002_0000);
        }
    }

    #[test]
    fn damaged_states_are_refused_without_panic() {
        let (mut a, base) = setup();
        a.write(Accessor { cpu: 0, time: 0 }, base, AccessSize::Word, 0xdead_beef);
        let valid = a.save_state().devices[0].1.clone();
        let e = Sp810::new("sysctl").load_state(&valid[..2]).unwrap_err();
        assert!(e.0.starts_with("saved state of sysctl is not understood"), "{e}");
        check_damaged_states(&valid, |bytes| {
            let (mut bus, base) = setup();
            load_device(&mut bus, 0, bytes)?;
            bus.read(Accessor { cpu: 0, time: 0 }, base, AccessSize::Word);
            Ok(())
        });
    }
}
