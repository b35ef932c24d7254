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
//! | [`sp804`] | SP804 dual timer | two 32/16-bit down-counters (periodic, one-shot, free-running) |
//! | [`pl031`] | PL031 real-time clock | seconds counter from a given start time, alarm interrupt |
//! | [`sysregs`] | Versatile Express system registers | board ID, flags for secondary-CPU boot, 24 MHz counter, SYS_CFG clocks, power-off and reboot |
//! | [`l2c310`] | L2C-310 (PL310) cache controller | identification and control registers; maintenance completes at once |
//! | [`sp810`] | SP810 system controller | the one register Linux touches |
//! | [`pl181`], [`sd`] | PL181 MMCI and an SD card | the card slot: SD commands, PIO FIFO, SDSC/SDHC on a disk image |
//! | [`pl111`] | PL111 CLCD | the display: registers, palette, the picture rendered from guest RAM on request |
//! | [`pl050`], [`ps2`] | PL050 KMI, PS/2 keyboard and mouse | keyboard and mouse fed by recorded host input |
//! | [`lan9118`] | SMSC LAN9118 Ethernet | the board's network card: FIFOs, MAC and PHY registers, frames to and from an `armvex_net` backend |
//! | [`sp805`] | SP805 watchdog | counts down in virtual time; an unfed watchdog resets the machine |
//! | [`pl041`] | PL041 AACI | probe level: registers and the AC'97 codec's, no sound |
//! | [`primecell`] | PL341, PL354 memory controllers | identification registers only |
//! | [`pflash`] | CFI NOR flash (Intel command set) | the motherboard's two flashes: read array, status, identifier, CFI query, program, buffered write, block erase, on an optional disk image |
//! | [`stub`] | any unmodelled PrimeCell | reads zero everywhere (so Linux skips it), ignores writes |
//!
//! ## Wiring a Versatile Express board
//!
//! What each device `kind` of the board files (`boards/*.toml`) becomes; "SPI n" is the
//! board's interrupt number, passed as GIC interrupt ID `n + 32`:
//!
//! | kind | device | window |
//! |---|---|---|
//! | `[mpcore]` gicv1 | [`A9MpCore::new`]`(cpus, 96)`, then `Bus::set_interrupt_controller` | [`A9MpCore::SIZE`] |
//! | `[mpcore]` gicv2 | [`A15MpCore::new`]`(cpus, 160)`, then `Bus::set_interrupt_controller` | [`A15MpCore::SIZE`] |
//! | vexpress-sysregs | [`VexpressSysRegs::new`]`(`[`SysRegsConfig::ca9`]`())` or `ca15()` | 4 KiB |
//! | pl011 | [`Pl011::new`]`(name, spi + 32, console writer)` | 4 KiB |
//! | sp804 | [`Sp804::new`]`(name, spi + 32, 1_000_000)` | 4 KiB |
//! | pl031 | [`Pl031::new`]`(name, spi + 32, start time in seconds since 1970)` | 4 KiB |
//! | l2c-310 | [`L2c310::new`]`()` | 4 KiB |
//! | sp810 | [`Sp810::new`]`(name)` | 4 KiB |
//! | pl181 | [`Pl181::new`]`(name, [spi0 + 32, spi1 + 32], `[`SdCard::new`]`(disk, read_only))` | 4 KiB |
//! | pl111 | [`Pl111::new`]`(name)`; the machine keeps [`Pl111::display`] for screenshots | 4 KiB |
//! | pl050 | [`Pl050::new`]`(name, spi + 32, mouse)`: the first KMI has the keyboard, the second the mouse | 4 KiB |
//! | sp805 | [`Sp805::new`]`(name, spi + 32 if wired, clock-hz)` | 4 KiB |
//! | pl041 | [`Pl041::new`]`(name, spi + 32)` | 4 KiB |
//! | pl341, pl354 | [`PrimeCellIds::new`]`(name, `[`primecell::PL341_ID`]` or PL354_ID)` | 4 KiB |
//! | lan9118 | [`Lan9118::new`]`(name, spi + 32, mac, backend)`: the `--nic` or `--device lan9118` network, else [`armvex_net::NullBackend`] | as given (the 256-byte window repeats) |
//! | sbcon-i2c | [`ZeroStub::new`]`(name)` | as given |
//! | `[[memory]]` with `flash = "cfi01"` | [`CfiFlash::new`]`(name, `[`CfiFlashConfig::VEXPRESS`]`, base, image, read_only)` through `Bus::add_rom_device(memory name, …)`; the image's bytes loaded with [`CfiFlash::initial_contents`] | the memory's |
//!
//! The MPCore device must be the bus's interrupt controller: it turns line levels into each
//! CPU's IRQ/FIQ input. On the vexpress-a15 the CPUs' generic timers drive PPIs 26, 27, 29
//! and 30 through `Bus::set_ppi`.
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
//! * **Saved state** (snapshots and reverse execution, see [`armvex_bus::state`]): each device
//!   gathers what it saves in one plain-data `…State` struct (serde, encoded with
//!   [`armvex_bus::state::encode`]; the L2C-310, plain data itself, is its own) holding every
//!   register a guest can read back and every internal value that decides future behaviour,
//!   including the [`armvex_bus::TimerSlot`]s it owns. `save_state` names every field of the
//!   device, so a field added later must be either saved or listed as not state. What a
//!   device was built with (its name, interrupt ID, clock rate, number of CPUs) is not
//!   restored but checked: a state from a device built differently is refused with a
//!   one-line error naming the device, as is one holding values the device could never have
//!   reached where they matter (FIFO positions, interrupt IDs, table lengths, CPU masks).
//!   Interrupt line levels and timer deadlines belong to the bus and are restored there, so
//!   loading drives no line and schedules nothing; whether a saved timer slot exists in the
//!   restored clock is also the bus's to check. Host resources (the console writer) stay as
//!   they are.

#![warn(missing_docs)]

use armvex_bus::{AccessSize, StateError};

pub mod error;
pub mod gic;
pub mod l2c310;
pub mod lan9118;
pub mod mpcore;
pub mod pflash;
pub mod pl011;
pub mod pl031;
pub mod pl041;
pub mod pl050;
pub mod pl111;
pub mod pl181;
pub mod primecell;
pub mod ps2;
pub mod sd;
pub mod sp804;
pub mod sp805;
pub mod sp810;
pub mod stub;
pub mod sysregs;
#[cfg(test)]
mod test_support;

pub use error::DeviceError;
pub use gic::{Gic, GicConfig, GicLine, GicVersion};
pub use l2c310::L2c310;
pub use lan9118::Lan9118;
pub use mpcore::{A9MpCore, A15MpCore};
pub use pflash::{CfiFlash, CfiFlashConfig};
pub use pl011::Pl011;
pub use pl031::Pl031;
pub use pl041::Pl041;
pub use pl050::{KmiInput, Pl050};
pub use pl111::{Display, Frame, Pl111};
pub use pl181::Pl181;
pub use primecell::PrimeCellIds;
pub use sd::SdCard;
pub use sp804::Sp804;
pub use sp805::Sp805;
pub use sp810::Sp810;
pub use stub::ZeroStub;
pub use sysregs::{SysRegsConfig, VexpressSysRegs};

/// Nanoseconds in one second.
pub(crate) const NS_PER_SEC: u64 = 1_000_000_000;

/// The low `size` bytes of `value` (what a narrow read of a 32-bit register returns).
pub(crate) fn truncate(value: u32, size: AccessSize) -> u32 {
    match size {
        AccessSize::Byte => value & 0xff,
        AccessSize::Half => value & 0xffff,
        AccessSize::Word => value,
    }
}

/// The offset of `PeriphID0`, the first of every PrimeCell's identification registers: one ID
/// byte per word, `PeriphID0..3` then `PCellID0..3`, up to [`PRIMECELL_ID_END`] (e.g. the
/// PL011 TRM, ARM DDI 0183, §3.3.15 and §3.3.16).
pub(crate) const PERIPH_ID0: u32 = 0xfe0;
/// The end of the PrimeCell identification registers, and of a PrimeCell's 4 KiB window.
pub(crate) const PRIMECELL_ID_END: u32 = 0x1000;

/// The PrimeCell identification registers at [`PERIPH_ID0`]..[`PRIMECELL_ID_END`]: one ID byte
/// per word, periph ID 0..3 then cell ID 0..3. `None` outside that window.
pub(crate) fn primecell_id(id: &[u8; 8], offset: u32) -> Option<u32> {
    if (PERIPH_ID0..PRIMECELL_ID_END).contains(&offset) {
        id.get(((offset - PERIPH_ID0) >> 2) as usize).map(|&b| u32::from(b))
    } else {
        None
    }
}

/// The error for a saved state that `device` cannot take: "saved state of {device} {problem}".
pub(crate) fn state_error(device: &str, problem: impl std::fmt::Display) -> StateError {
    StateError(format!("saved state of {device} {problem}"))
}

/// How many whole ticks of a `hz` clock fit in `ns` nanoseconds.
pub(crate) fn ticks_in(ns: u64, hz: u64) -> u64 {
    if hz == 0 {
        return 0;
    }
    let t = u128::from(ns) * u128::from(hz) / u128::from(NS_PER_SEC);
    u64::try_from(t).unwrap_or(u64::MAX)
}

/// The time in nanoseconds at which the `ticks`-th tick of a `hz` clock happens (the smallest
/// `ns` with `ticks_in(ns, hz) >= ticks`), saturating at `u64::MAX`.
pub(crate) fn ns_for_ticks(ticks: u64, hz: u64) -> u64 {
    if hz == 0 {
        return u64::MAX;
    }
    let ns = (u128::from(ticks) * u128::from(NS_PER_SEC)).div_ceil(u128::from(hz));
    u64::try_from(ns).unwrap_or(u64::MAX)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tick_conversions_round_trip() {
        assert_eq!(ticks_in(999, 1_000_000), 0);
        assert_eq!(ticks_in(1000, 1_000_000), 1);
        assert_eq!(ns_for_ticks(3, 1_000_000), 3000);
        // 3906 Hz (1 MHz / 256, truncated as QEMU does): ticks land on rounded-up nanoseconds.
        let t = ns_for_ticks(1, 3906);
        assert_eq!(t, 256_017);
        assert_eq!(ticks_in(t, 3906), 1);
        assert_eq!(ticks_in(t - 1, 3906), 0);
        assert_eq!(ns_for_ticks(u64::MAX, 1), u64::MAX);
        assert_eq!(ticks_in(5, 0), 0);
    }

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

/// Helpers for the save/restore tests of every device.
#[cfg(test)]
pub(crate) mod state_tests {
    use armvex_bus::{Bus, StateError};

    /// Put `bytes` back as the state of device `id` of `bus`, the way a snapshot is loaded:
    /// through [`Bus::load_state`], with the bus's own clock and lines.
    pub fn load_device(bus: &mut Bus, id: usize, bytes: &[u8]) -> Result<(), StateError> {
        let mut state = bus.save_state();
        state.devices[id].1 = bytes.to_vec();
        bus.load_state(&state)
    }

    /// Feed damaged versions of `valid` (a real saved state) and random bytes to `load`, which
    /// builds a fresh device, loads the bytes into it and, if they were accepted, uses it.
    /// Every truncation and a trailing byte must be refused; single-byte changes and random
    /// bytes may be accepted or refused, but nothing may panic.
    pub fn check_damaged_states(valid: &[u8], mut load: impl FnMut(&[u8]) -> Result<(), StateError>) {
        for len in 0..valid.len() {
            assert!(
                load(&valid[..len]).is_err(),
                "a state cut to {len} of {} bytes was accepted",
                valid.len()
            );
        }
        let mut longer = valid.to_vec();
        longer.push(0);
        let e = load(&longer).expect_err("a state with a trailing byte was accepted");
        assert!(e.0.contains("trailing"), "{e}");
        for pos in 0..valid.len() {
            for flip in [0x01, 0x80, 0xff] {
                let mut bytes = valid.to_vec();
                bytes[pos] ^= flip;
                let _ = load(&bytes);
            }
        }
        // xorshift64: the same "random" bytes on every run.
        let mut x = 0x9e37_79b9_7f4a_7c15u64;
        for n in 0..1000 {
            let bytes: Vec<u8> = (0..n % 131)
                .map(|_| {
                    x ^= x << 13;
                    x ^= x >> 7;
                    x ^= x << 17;
                    x as u8
                })
                .collect();
            let _ = load(&bytes);
        }
    }
}
