//! A PrimeCell that armvex models only as far as its identification registers: the A9
//! daughterboard's memory controllers, the PL341 dynamic memory controller (DMC, *PrimeCell
//! AXI Dynamic Memory Controller (PL340) TRM*, ARM DDI 0331, and its PL341 variant) at
//! 0x100e0000 and the PL354 static memory controller (SMC, *PrimeCell Static Memory
//! Controller (PL350 series) TRM*, ARM DDI 0380) at 0x100e1000.
//!
//! Linux's AMBA bus reads the peripheral and cell IDs at 0xfe0..0xffc before it matches a
//! driver. An ID of zero (an unmodelled device, or QEMU, which maps nothing there) makes it
//! defer the device forever ("deferred probe pending" after ten seconds). With real IDs Linux
//! matches them against its drivers: no driver claims a PL341 or a PL354 (`pl353-smc` wants
//! part 0x353), so the devices stay unbound, cleanly. The controllers' own registers (memory
//! timings, chip configuration) have nothing to do in an emulator whose memory is always
//! ready: they read as zero and ignore writes, as before.
//!
//! A device with only constant registers has no state: it saves nothing and loads only that.

use crate::{primecell_id, truncate};
use armvex_bus::{AccessSize, Device, DeviceContext, StateError, state};

/// The IDs of a PL341 (r0p0): part number 0x341, designer ARM (0x41).
pub const PL341_ID: [u8; 8] = [0x41, 0x13, 0x04, 0x00, 0x0d, 0xf0, 0x05, 0xb1];
/// The IDs of a PL354 (r0p0): part number 0x354, designer ARM.
pub const PL354_ID: [u8; 8] = [0x54, 0x13, 0x04, 0x00, 0x0d, 0xf0, 0x05, 0xb1];

/// A device window that answers only its PrimeCell IDs.
pub struct PrimeCellIds {
    name: String,
    id: [u8; 8],
}

impl PrimeCellIds {
    /// A device called `name` with identification bytes `id` (periph ID 0..3, cell ID 0..3).
    pub fn new(name: impl Into<String>, id: [u8; 8]) -> Self {
        PrimeCellIds { name: name.into(), id }
    }
}

impl Device for PrimeCellIds {
    fn name(&self) -> &str {
        &self.name
    }

    fn read(&mut self, _ctx: &mut DeviceContext, offset: u32, size: AccessSize) -> u32 {
        match primecell_id(&self.id, offset & !3) {
            Some(v) => truncate(v, size),
            None => {
                tracing::debug!("{} (IDs only): read at {offset:#x} reads 0", self.name);
                0
            }
        }
    }

    fn write(&mut self, _ctx: &mut DeviceContext, offset: u32, _size: AccessSize, value: u32) {
        tracing::debug!("{} (IDs only): write of {value:#x} at {offset:#x} ignored", self.name);
    }

    fn save_state(&self) -> Vec<u8> {
        let PrimeCellIds { name: _, id: _ } = self;
        state::encode(&())
    }

    fn load_state(&mut self, bytes: &[u8]) -> Result<(), StateError> {
        state::decode::<()>(bytes, &self.name)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::test_support::bus_without_ram;
    use armvex_bus::Accessor;

    #[test]
    fn ids_and_nothing_else() {
        let mut bus = bus_without_ram();
        let base = 0x100e_1000;
        bus.add_device(base, 0x1000, Box::new(PrimeCellIds::new("smc", PL354_ID)))
            .unwrap();
        let t = Accessor { cpu: 0, time: 0 };
        let ids: Vec<u32> = (0..8)
            .map(|i| bus.read(t, base + 0xfe0 + 4 * i, AccessSize::Word))
            .collect();
        assert_eq!(ids, [0x54, 0x13, 0x04, 0x00, 0x0d, 0xf0, 0x05, 0xb1]);
        bus.write(t, base, AccessSize::Word, 5);
        assert_eq!(bus.read(t, base, AccessSize::Word), 0);
        let dev = PrimeCellIds::new("dmc", PL341_ID);
        crate::state_tests::check_damaged_states(&dev.save_state(), |b| {
            PrimeCellIds::new("dmc", PL341_ID).load_state(b)
        });
    }
}
