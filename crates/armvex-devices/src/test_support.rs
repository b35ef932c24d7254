//! What the devices' unit tests share: the bus a device under test sits on.

use armvex_bus::{Bus, PhysicalMemory, RamRegionSpec};

/// A bus with one RAM region called `name` of `size` bytes at `base`, and no devices yet.
pub(crate) fn bus_with_ram_named(name: &str, base: u32, size: u32) -> Bus {
    let mem = PhysicalMemory::new(&[RamRegionSpec {
        name: name.into(),
        base: u64::from(base),
        size: u64::from(size),
    }])
    .unwrap();
    Bus::new(mem)
}

/// A bus with `size` bytes of RAM (called "ram") at `base`, and no devices yet.
pub(crate) fn bus_with_ram(base: u32, size: u32) -> Bus {
    bus_with_ram_named("ram", base, size)
}

/// A bus without RAM or devices.
pub(crate) fn bus_without_ram() -> Bus {
    Bus::new(PhysicalMemory::new(&[]).unwrap())
}
