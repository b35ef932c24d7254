//! A stand-in for devices armvex does not model: the SBCon I2C bus and the LAN9118 Ethernet
//! controller.
//!
//! Every register reads as zero and every write is ignored (and logged at debug level). For a
//! PrimeCell that includes the identification registers at 0xfe0..0xffc: Linux's AMBA bus reads
//! the peripheral and cell IDs before binding a driver, finds zeros, and leaves the device
//! alone ("amba ... : ... periphid 0"). Drivers probed from the device tree alone (LAN9118,
//! I2C) read zeros too and fail their identification checks.
//!
//! A stub has no state: its saved state is empty, and only an empty state loads.

use armvex_bus::{AccessSize, Device, DeviceContext, StateError, state};

/// A device window that reads as zero.
pub struct ZeroStub {
    name: String,
}

impl ZeroStub {
    /// A stub called `name` (e.g. "mmci", "kmi0").
    pub fn new(name: impl Into<String>) -> Self {
        ZeroStub { name: name.into() }
    }
}

impl Device for ZeroStub {
    fn name(&self) -> &str {
        &self.name
    }

    fn read(&mut self, _ctx: &mut DeviceContext, offset: u32, size: AccessSize) -> u32 {
        tracing::debug!(
            "{} (not modelled): {}-bit read at {offset:#x} reads 0",
            self.name,
            size.bits()
        );
        0
    }

    fn write(&mut self, _ctx: &mut DeviceContext, offset: u32, size: AccessSize, value: u32) {
        tracing::debug!(
            "{} (not modelled): {}-bit write of {value:#x} at {offset:#x} ignored",
            self.name,
            size.bits()
        );
    }

    fn save_state(&self) -> Vec<u8> {
        let ZeroStub { name: _ } = self;
        state::encode(&())
    }

    fn load_state(&mut self, bytes: &[u8]) -> Result<(), StateError> {
        state::decode::<()>(bytes, &self.name)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::test_support::bus_with_ram;
    use armvex_bus::Accessor;

    #[test]
    fn everything_reads_zero() {
        let mut bus = bus_with_ram(0x6000_0000, 0x1000);
        let base = 0x1000_5000;
        bus.add_device(base, 0x1000, Box::new(ZeroStub::new("mmci"))).unwrap();
        let cpu0 = Accessor { cpu: 0, time: 0 };
        for off in [0x0, 0x4, 0xfe0, 0xfe4, 0xff0, 0xffc] {
            bus.write(cpu0, base + off, AccessSize::Word, 0xffff_ffff);
            assert_eq!(bus.read(cpu0, base + off, AccessSize::Word), 0);
        }
        assert_eq!(bus.read(cpu0, base + 0x7, AccessSize::Byte), 0);
        assert_eq!(bus.device_names()[0].2, "mmci");
    }

    #[test]
    fn the_saved_state_is_empty_and_only_empty_loads() {
        let stub = ZeroStub::new("kmi0");
        assert_eq!(stub.save_state(), Vec::<u8>::new());
        assert_eq!(ZeroStub::new("kmi0").load_state(&[]), Ok(()));
        let e = ZeroStub::new("kmi0").load_state(&[0]).unwrap_err();
        assert_eq!(e.0, "saved state of kmi0 has 1 unexpected trailing bytes");
        crate::state_tests::check_damaged_states(&stub.save_state(), |bytes| ZeroStub::new("kmi0").load_state(bytes));
    }
}
