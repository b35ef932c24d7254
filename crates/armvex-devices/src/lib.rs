//! # armvex-devices: the peripherals of the Versatile Express boards
//!
//! Each module models one piece of hardware as QEMU 7.2 (our oracle) models it for
//! `-M vexpress-a9` and `-M vexpress-a15`, and each starts with a few lines on the hardware and
//! the manual it follows. Every device is a plain value implementing [`armvex_bus::Device`]; the
//! machine crate places it on the bus.
//!
//! | module | device | what it models |
//! |---|---|---|
//! | [`gic`] | ARM Generic Interrupt Controller | GICv1 (Cortex-A9 MPCore) and GICv2 (Cortex-A15 MPCore): distributor, per-CPU interfaces, SGIs, priorities, preemption; drives each CPU's IRQ/FIQ input |
//! | [`mpcore`] | MPCore private regions | [`A9MpCore`]: SCU, GIC, global timer, per-CPU private timer and watchdog; [`A15MpCore`]: the GICv2 |
//! | [`pl011`] | PL011 UART | the console: RX FIFO fed by host input, TX to a host writer, interrupts |
//!
//! ## Conventions shared by all devices
//!
//! * **Interrupts** are GIC interrupt IDs: the board's "SPI n" is ID `n + 32`. A device holds its
//!   line at a level (`ctx.set_spi(id, level)`); the interrupt controller decides the rest.
//! * **Time** is virtual (`ctx.now()`, nanoseconds; one guest instruction is one nanosecond).
//!   Timers never tick: a counter's value is computed from the time it was started, and the
//!   moment something visible happens (an interrupt) is scheduled as a bus deadline.
//! * **Misbehaving guests** never crash a device: unknown offsets read as zero and ignore writes,
//!   odd access sizes are tolerated, and such accesses are logged at debug level.

use armvex_bus::AccessSize;

pub mod gic;
pub mod mpcore;
pub mod pl011;

pub use gic::{Gic, GicConfig, GicVersion};
pub use mpcore::{A9MpCore, A15MpCore};
pub use pl011::Pl011;

/// The low `size` bytes of `value` (what a narrow read of a 32-bit register returns).
pub(crate) fn truncate(value: u32, size: AccessSize) -> u32 {
    match size {
        AccessSize::Byte => value & 0xff,
        AccessSize::Half => value & 0xffff,
        AccessSize::Word => value,
    }
}

/// The PrimeCell identification registers at 0xfe0..0x1000: one ID byte per word, periph ID
/// 0..3 then cell ID 0..3. `None` outside that window.
pub(crate) fn primecell_id(id: &[u8; 8], offset: u32) -> Option<u32> {
    if (0xfe0..0x1000).contains(&offset) {
        id.get(((offset - 0xfe0) >> 2) as usize).map(|&b| u32::from(b))
    } else {
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn primecell_ids_and_truncation() {
        let id = [0x11, 0x10, 0x14, 0x00, 0x0d, 0xf0, 0x05, 0xb1];
        assert_eq!(primecell_id(&id, 0xfe0), Some(0x11));
        assert_eq!(primecell_id(&id, 0xffc), Some(0xb1));
        assert_eq!(primecell_id(&id, 0xfdc), None);
        assert_eq!(truncate(0x1234_5678, AccessSize::Half), 0x5678);
        assert_eq!(truncate(0x1234_5678, AccessSize::Byte), 0x78);
    }
}
