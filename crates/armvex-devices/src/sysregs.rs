//! The Versatile Express motherboard system registers (ARM DUI 0447, *Motherboard Express
//! µATX Technical Reference Manual*, section 4.3 "Register descriptions"), as QEMU's
//! `hw/misc/arm_sysctl.c` models them for the vexpress boards.
//!
//! | offset | register | here |
//! |---|---|---|
//! | 0x00 | SYS_ID | board ID, 0x1190f500 |
//! | 0x04 | SYS_SW | user switches, 0 |
//! | 0x08 | SYS_LED | read/write |
//! | 0x20 | SYS_LOCK | keeps 0xa05f, else the low 15 bits |
//! | 0x28, 0x2c | SYS_CFGDATA1/2 (legacy) | read/write |
//! | 0x30 / 0x34 | SYS_FLAGS(SET) / SYS_FLAGSCLR | flags; secondary CPUs poll them for their entry address |
//! | 0x38 / 0x3c | SYS_NVFLAGS(SET) / SYS_NVFLAGSCLR | flags that survive a reboot |
//! | 0x44 | SYS_PCICTL | reads 1 |
//! | 0x48 | SYS_MCI | MMC card detect (bit 0) and write protect (bit 1) |
//! | 0x5c | SYS_24MHZ | free-running 24 MHz counter (Linux's `sched_clock`) |
//! | 0x84 / 0x88 | SYS_PROCID0/1 | daughterboard IDs; PROCID1 reads 0xff000000 (no second tile) |
//! | 0xa0 / 0xa4 / 0xa8 | SYS_CFGDATA / SYS_CFGCTRL / SYS_CFGSTAT | the configuration bus |
//!
//! Everything else reads as zero and ignores writes.
//!
//! **The configuration bus.** Software writes the data (for a write) to SYS_CFGDATA, clears
//! SYS_CFGSTAT, then writes SYS_CFGCTRL with bit 31 (start), bit 30 (write), the function in
//! `[25:20]`, the site in `[17:16]` (0 motherboard, 1 daughterboard), the board position in
//! `[15:12]` and the device number in `[11:0]`. The transfer completes at once: SYS_CFGSTAT reads
//! 1 (complete), or 3 (complete with error) for an unknown function or device. Functions: 1 OSC
//! (clock rates in Hz, readable and writable), 2 VOLT (voltages in µV, read-only), 7 MUXFPGA
//! and 11 DVIMODE (accepted, no effect), 8 SHUTDOWN and 9 REBOOT (ask the machine to power off
//! or reset). Site and reset values follow QEMU's tables: motherboard oscillators 50, 23.75,
//! 24, 24, 24, 24 MHz (OSC2 clocks the UARTs), motherboard voltage 3.3 V, and the
//! daughterboard's own clocks and voltages from [`SysRegsConfig`].
//!
//! Saved state: every register that holds a value and the oscillator rates; power-off and
//! reboot requests already made are the bus's. The [`SysRegsConfig`] is how the board was
//! built: SYS_PROCID0 and the number of daughterboard oscillators are saved only to refuse a
//! state from another board. The 24 MHz counter is virtual time, which the bus saves.

use crate::{NS_PER_SEC, state_error, truncate};
use armvex_bus::{AccessSize, Device, DeviceContext, MachineRequest, StateError, state};
use serde::{Deserialize, Serialize};

/// The value QEMU's vexpress boards report in SYS_ID (HBI-0190, revision B, FPGA build).
pub const VEXPRESS_SYS_ID: u32 = 0x1190_f500;

/// Register offsets (DUI 0447 §4.3 "Register descriptions"; the registers the vexpress
/// inherited from the Versatile boards carry QEMU's `arm_sysctl.c` names).
pub mod regs {
    /// System identification (§4.3).
    pub const SYS_ID: u32 = 0x00;
    /// User switches (§4.3).
    pub const SYS_SW: u32 = 0x04;
    /// User LEDs (§4.3).
    pub const SYS_LED: u32 = 0x08;
    /// The first of the legacy oscillator registers OSC0..OSC4.
    pub const SYS_OSC0: u32 = 0x0c;
    /// The last legacy oscillator register.
    pub const SYS_OSC4: u32 = 0x1c;
    /// Lock for the registers that need it: 0xa05f unlocks.
    pub const SYS_LOCK: u32 = 0x20;
    /// 100 Hz counter (§4.3).
    pub const SYS_100HZ: u32 = 0x24;
    /// Legacy configuration data 1.
    pub const SYS_CFGDATA1: u32 = 0x28;
    /// Legacy configuration data 2.
    pub const SYS_CFGDATA2: u32 = 0x2c;
    /// SYS_FLAGS / SYS_FLAGSSET (§4.3): reads the flags, writes set bits. The boot loader's
    /// secondary CPUs poll it for their entry address (see `armvex_machine::boot`).
    pub const SYS_FLAGS: u32 = 0x30;
    /// SYS_FLAGSCLR (§4.3): writes clear bits of SYS_FLAGS.
    pub const SYS_FLAGSCLR: u32 = 0x34;
    /// SYS_NVFLAGS / SYS_NVFLAGSSET (§4.3): flags that survive a reboot; writes set bits.
    pub const SYS_NVFLAGS: u32 = 0x38;
    /// SYS_NVFLAGSCLR (§4.3): writes clear bits of SYS_NVFLAGS.
    pub const SYS_NVFLAGSCLR: u32 = 0x3c;
    /// Legacy reset control.
    pub const SYS_RESETCTL: u32 = 0x40;
    /// Legacy PCI control.
    pub const SYS_PCICTL: u32 = 0x44;
    /// MMC card detect and write protect (§4.3).
    pub const SYS_MCI: u32 = 0x48;
    /// Flash control (§4.3).
    pub const SYS_FLASH: u32 = 0x4c;
    /// Legacy CLCD control.
    pub const SYS_CLCD: u32 = 0x50;
    /// Legacy CLCD serial control.
    pub const SYS_CLCDSER: u32 = 0x54;
    /// Boot select switches (SYS_CFGSW in §4.3).
    pub const SYS_BOOTCS: u32 = 0x58;
    /// Free-running 24 MHz counter (§4.3).
    pub const SYS_24MHZ: u32 = 0x5c;
    /// Miscellaneous control (§4.3).
    pub const SYS_MISC: u32 = 0x60;
    /// The first DMA peripheral map register (SYS_DMA in §4.3).
    pub const SYS_DMAPSR0: u32 = 0x64;
    /// Legacy PLD control, the last register of the DMA/IO block.
    pub const SYS_PLDCTL: u32 = 0x74;
    /// Legacy bus ID.
    pub const SYS_BUSID: u32 = 0x80;
    /// Daughterboard 1 identification (§4.3).
    pub const SYS_PROCID0: u32 = 0x84;
    /// Daughterboard 2 identification (§4.3).
    pub const SYS_PROCID1: u32 = 0x88;
    /// The first legacy oscillator reset register.
    pub const SYS_OSCRESET0: u32 = 0x8c;
    /// The last legacy oscillator reset register.
    pub const SYS_OSCRESET4: u32 = 0x9c;
    /// Configuration bus data (§4.3).
    pub const SYS_CFGDATA: u32 = 0xa0;
    /// Configuration bus control: starts a transfer (§4.3).
    pub const SYS_CFGCTRL: u32 = 0xa4;
    /// Configuration bus status (§4.3).
    pub const SYS_CFGSTAT: u32 = 0xa8;
    /// The first legacy test oscillator register.
    pub const SYS_TEST_OSC0: u32 = 0xc0;
    /// The last legacy test oscillator register.
    pub const SYS_TEST_OSC4: u32 = 0xd0;
}
use regs::*;
pub use regs::{SYS_FLAGS, SYS_FLAGSCLR};

const LOCK_VALUE: u32 = 0xa05f;

// SYS_CFGCTRL functions.
const CFG_OSC: u32 = 1;
const CFG_VOLT: u32 = 2;
const CFG_MUXFPGA: u32 = 7;
const CFG_SHUTDOWN: u32 = 8;
const CFG_REBOOT: u32 = 9;
const CFG_DVIMODE: u32 = 11;

// SYS_CFGCTRL sites.
const SITE_MB: u32 = 0;
const SITE_DB1: u32 = 1;

/// Motherboard oscillators at reset (Hz).
const MB_CLOCKS: [u32; 6] = [50_000_000, 23_750_000, 24_000_000, 24_000_000, 24_000_000, 24_000_000];

/// What differs between boards: the daughterboard's identity, clocks and voltages.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SysRegsConfig {
    /// SYS_ID.
    pub sys_id: u32,
    /// SYS_PROCID0: identifies the daughterboard (core tile).
    pub proc_id: u32,
    /// Daughterboard oscillators at reset (Hz), SYS_CFG site 1 OSC devices 0...
    pub db_clocks: Vec<u32>,
    /// Daughterboard voltage sensors (µV), SYS_CFG site 1 VOLT devices 0...
    pub db_voltages: Vec<u32>,
    /// SYS_MCI: bit 0 card present, bit 1 write-protected (QEMU: no card, so 0).
    pub mci: u32,
}

impl SysRegsConfig {
    /// The CoreTile Express A9x4 (V2P-CA9) as QEMU's vexpress-a9 has it.
    pub fn ca9() -> Self {
        SysRegsConfig {
            sys_id: VEXPRESS_SYS_ID,
            proc_id: 0x0c00_0191,
            db_clocks: vec![45_000_000, 23_750_000, 66_670_000],
            db_voltages: vec![1_000_000, 1_000_000, 1_000_000, 1_800_000, 900_000, 3_300_000],
            mci: 0,
        }
    }

    /// The CoreTile Express A15x2 (V2P-CA15) as QEMU's vexpress-a15 has it.
    pub fn ca15() -> Self {
        SysRegsConfig {
            sys_id: VEXPRESS_SYS_ID,
            proc_id: 0x1400_0237,
            db_clocks: vec![
                60_000_000, 0, 0, 0, 40_000_000, 23_750_000, 50_000_000, 60_000_000, 40_000_000,
            ],
            db_voltages: vec![900_000],
            mci: 0,
        }
    }
}

/// What [`VexpressSysRegs`] saves.
#[derive(Serialize, Deserialize)]
struct SysRegsState {
    /// SYS_PROCID0 of the board, to refuse a state from another one.
    proc_id: u32,
    leds: u32,
    lock: u32,
    cfgdata1: u32,
    cfgdata2: u32,
    flags: u32,
    nvflags: u32,
    cfgdata: u32,
    cfgctrl: u32,
    cfgstat: u32,
    mb_clocks: [u32; 6],
    db_clocks: Vec<u32>,
}

/// The Versatile Express system registers.
pub struct VexpressSysRegs {
    config: SysRegsConfig,
    leds: u32,
    lock: u32,
    cfgdata1: u32,
    cfgdata2: u32,
    flags: u32,
    nvflags: u32,
    cfgdata: u32,
    cfgctrl: u32,
    cfgstat: u32,
    mb_clocks: [u32; 6],
    db_clocks: Vec<u32>,
}

impl VexpressSysRegs {
    /// The system registers of a board described by `config`.
    pub fn new(config: SysRegsConfig) -> Self {
        VexpressSysRegs {
            leds: 0,
            lock: 0,
            cfgdata1: 0,
            cfgdata2: 0,
            flags: 0,
            nvflags: 0,
            cfgdata: 0,
            cfgctrl: 0,
            cfgstat: 0,
            mb_clocks: MB_CLOCKS,
            db_clocks: config.db_clocks.clone(),
            config,
        }
    }

    /// The SYS_FLAGS register (where secondary CPUs find their entry point).
    pub fn flags(&self) -> u32 {
        self.flags
    }

    /// A SYS_CFG read; `None` for an unknown function or device.
    fn cfg_read(&self, function: u32, site: u32, device: usize) -> Option<u32> {
        match (function, site) {
            (CFG_OSC, SITE_MB) => self.mb_clocks.get(device).copied(),
            (CFG_OSC, SITE_DB1) => self.db_clocks.get(device).copied(),
            (CFG_VOLT, SITE_MB) => (device == 0).then_some(3_300_000),
            (CFG_VOLT, SITE_DB1) => self.config.db_voltages.get(device).copied(),
            _ => None,
        }
    }

    /// A SYS_CFG write; false for an unknown function or device.
    fn cfg_write(&mut self, ctx: &mut DeviceContext, function: u32, site: u32, device: usize) -> bool {
        let value = self.cfgdata;
        match (function, site) {
            (CFG_OSC, SITE_MB) => self.mb_clocks.get_mut(device).map(|c| *c = value).is_some(),
            (CFG_OSC, SITE_DB1) => self.db_clocks.get_mut(device).map(|c| *c = value).is_some(),
            (CFG_MUXFPGA | CFG_DVIMODE, SITE_MB) => device == 0,
            (CFG_SHUTDOWN, SITE_MB) if device == 0 => {
                tracing::info!("guest asked for power off");
                ctx.request(MachineRequest::PowerOff);
                true
            }
            (CFG_REBOOT, SITE_MB) if device == 0 => {
                tracing::info!("guest asked for a reboot");
                ctx.request(MachineRequest::Reboot);
                true
            }
            _ => false,
        }
    }

    /// SYS_CFGCTRL was written with the start bit: do the transfer.
    fn cfg_transfer(&mut self, ctx: &mut DeviceContext) {
        let ctrl = self.cfgctrl;
        let dcc = (ctrl >> 26) & 0xf;
        let function = (ctrl >> 20) & 0x3f;
        let site = (ctrl >> 16) & 3;
        let position = (ctrl >> 12) & 0xf;
        let device = (ctrl & 0xfff) as usize;
        let write = ctrl & (1 << 30) != 0;
        self.cfgstat = 1;
        let ok = if dcc != 0 || position != 0 {
            false
        } else if write {
            self.cfg_write(ctx, function, site, device)
        } else if let Some(v) = self.cfg_read(function, site, device) {
            self.cfgdata = v;
            true
        } else {
            false
        };
        if !ok {
            tracing::debug!(
                "sysregs: unsupported SYS_CFG {} of function {function} site {site} position {position} device {device} (dcc {dcc})",
                if write { "write" } else { "read" }
            );
            self.cfgstat |= 2;
        }
    }
}

impl Device for VexpressSysRegs {
    fn name(&self) -> &str {
        "vexpress-sysregs"
    }

    fn read(&mut self, ctx: &mut DeviceContext, offset: u32, size: AccessSize) -> u32 {
        let value = match offset {
            SYS_ID => self.config.sys_id,
            SYS_LED => self.leds,
            SYS_LOCK => self.lock,
            SYS_CFGDATA1 => self.cfgdata1,
            SYS_CFGDATA2 => self.cfgdata2,
            SYS_FLAGS => self.flags,
            SYS_NVFLAGS => self.nvflags,
            SYS_PCICTL => 1,
            SYS_MCI => self.config.mci,
            // 24 MHz counter: ticks since virtual time 0, 32 bits.
            SYS_24MHZ => (u128::from(ctx.now()) * 24_000_000 / u128::from(NS_PER_SEC)) as u32,
            SYS_PROCID0 => self.config.proc_id,
            SYS_PROCID1 => 0xff00_0000,
            SYS_CFGDATA => self.cfgdata,
            SYS_CFGCTRL => self.cfgctrl,
            SYS_CFGSTAT => self.cfgstat,
            // Switches, oscillators, 100 Hz counter, reset control, flash, CLCD, boot select,
            // misc, DMA, oscillator reset and test registers: zero on the vexpress.
            SYS_SW
            | SYS_OSC0..=SYS_OSC4
            | SYS_100HZ
            | SYS_RESETCTL
            | SYS_FLASH..=SYS_BOOTCS
            | SYS_MISC..=SYS_BUSID
            | SYS_OSCRESET0..=SYS_OSCRESET4
            | SYS_TEST_OSC0..=SYS_TEST_OSC4
                if offset & 3 == 0 =>
            {
                0
            }
            _ => {
                tracing::debug!("sysregs: read of unknown offset {offset:#x}");
                0
            }
        };
        truncate(value, size)
    }

    fn write(&mut self, ctx: &mut DeviceContext, offset: u32, _size: AccessSize, value: u32) {
        match offset {
            SYS_LED => self.leds = value,
            SYS_LOCK => self.lock = if value == LOCK_VALUE { value } else { value & 0x7fff },
            SYS_CFGDATA1 => self.cfgdata1 = value,
            SYS_CFGDATA2 => self.cfgdata2 = value,
            SYS_FLAGS => self.flags |= value,
            SYS_FLAGSCLR => self.flags &= !value,
            SYS_NVFLAGS => self.nvflags |= value,
            SYS_NVFLAGSCLR => self.nvflags &= !value,
            SYS_CFGDATA => self.cfgdata = value,
            SYS_CFGCTRL => {
                // Bits [19:18] are RAZ/WI and the start bit always reads as zero.
                self.cfgctrl = value & !((3 << 18) | (1 << 31));
                if value & (1 << 31) != 0 {
                    self.cfg_transfer(ctx);
                }
            }
            SYS_CFGSTAT => self.cfgstat = value & 3,
            SYS_OSC0..=SYS_OSC4
            | SYS_RESETCTL
            | SYS_PCICTL
            | SYS_FLASH
            | SYS_CLCD
            | SYS_CLCDSER
            | SYS_DMAPSR0..=SYS_PLDCTL
            | SYS_BUSID..=SYS_OSCRESET4
                if offset & 3 == 0 => {}
            _ => tracing::debug!("sysregs: write of {value:#x} to unknown or read-only offset {offset:#x}"),
        }
    }

    fn save_state(&self) -> Vec<u8> {
        let VexpressSysRegs {
            config,
            leds,
            lock,
            cfgdata1,
            cfgdata2,
            flags,
            nvflags,
            cfgdata,
            cfgctrl,
            cfgstat,
            mb_clocks,
            db_clocks,
        } = self;
        state::encode(&SysRegsState {
            proc_id: config.proc_id,
            leds: *leds,
            lock: *lock,
            cfgdata1: *cfgdata1,
            cfgdata2: *cfgdata2,
            flags: *flags,
            nvflags: *nvflags,
            cfgdata: *cfgdata,
            cfgctrl: *cfgctrl,
            cfgstat: *cfgstat,
            mb_clocks: *mb_clocks,
            db_clocks: db_clocks.clone(),
        })
    }

    fn load_state(&mut self, bytes: &[u8]) -> Result<(), StateError> {
        let SysRegsState {
            proc_id,
            leds,
            lock,
            cfgdata1,
            cfgdata2,
            flags,
            nvflags,
            cfgdata,
            cfgctrl,
            cfgstat,
            mb_clocks,
            db_clocks,
        } = state::decode(bytes, self.name())?;
        if proc_id != self.config.proc_id || db_clocks.len() != self.config.db_clocks.len() {
            return Err(state_error(
                self.name(),
                format_args!(
                    "is from a board with SYS_PROCID0 {proc_id:#010x} and {} daughterboard oscillators; this one has {:#010x} and {}",
                    db_clocks.len(),
                    self.config.proc_id,
                    self.config.db_clocks.len()
                ),
            ));
        }
        self.leds = leds;
        self.lock = lock;
        self.cfgdata1 = cfgdata1;
        self.cfgdata2 = cfgdata2;
        self.flags = flags;
        self.nvflags = nvflags;
        self.cfgdata = cfgdata;
        self.cfgctrl = cfgctrl;
        self.cfgstat = cfgstat;
        self.mb_clocks = mb_clocks;
        self.db_clocks = db_clocks;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::test_support::bus_with_ram;
    use AccessSize::Word;
    use armvex_bus::{Accessor, Bus};

    const BASE: u32 = 0x1000_0000;
    const START: u32 = 1 << 31;
    const WRITE: u32 = 1 << 30;

    fn setup(config: SysRegsConfig) -> Bus {
        let mut bus = bus_with_ram(0x6000_0000, 0x1000);
        bus.add_device(BASE, 0x1000, Box::new(VexpressSysRegs::new(config)))
            .unwrap();
        bus
    }

    fn at(time: u64) -> Accessor {
        Accessor { cpu: 0, time }
    }

    /// A configuration read the way Linux's vexpress-sysreg driver does it.
    fn cfg_read(bus: &mut Bus, function: u32, site: u32, device: u32) -> (u32, u32) {
        bus.write(at(0), BASE + 0xa8, Word, 0);
        bus.write(
            at(0),
            BASE + 0xa4,
            Word,
            START | (function << 20) | (site << 16) | device,
        );
        (bus.read(at(0), BASE + 0xa8, Word), bus.read(at(0), BASE + 0xa0, Word))
    }

    #[test]
    fn identification() {
        let mut bus = setup(SysRegsConfig::ca9());
        assert_eq!(bus.read(at(0), BASE, Word), 0x1190_f500);
        assert_eq!(bus.read(at(0), BASE + 0x84, Word), 0x0c00_0191);
        assert_eq!(bus.read(at(0), BASE + 0x88, Word), 0xff00_0000);
        assert_eq!(bus.read(at(0), BASE + 0x44, Word), 1);
        assert_eq!(bus.read(at(0), BASE + 0x48, Word), 0);
        let mut bus = setup(SysRegsConfig::ca15());
        assert_eq!(bus.read(at(0), BASE + 0x84, Word), 0x1400_0237);
    }

    #[test]
    fn flags_set_and_clear() {
        let mut bus = setup(SysRegsConfig::ca9());
        // Linux's SMP boot: clear all, then set the secondary entry point.
        bus.write(at(0), BASE + 0x34, Word, 0xffff_ffff);
        bus.write(at(0), BASE + 0x30, Word, 0x6010_0000);
        assert_eq!(bus.read(at(0), BASE + 0x30, Word), 0x6010_0000);
        bus.write(at(0), BASE + 0x30, Word, 0x0000_0040);
        assert_eq!(bus.read(at(0), BASE + 0x30, Word), 0x6010_0040);
        bus.write(at(0), BASE + 0x34, Word, 0x6000_0000);
        assert_eq!(bus.read(at(0), BASE + 0x30, Word), 0x0010_0040);
        bus.write(at(0), BASE + 0x38, Word, 5);
        bus.write(at(0), BASE + 0x3c, Word, 1);
        assert_eq!(bus.read(at(0), BASE + 0x38, Word), 4);
    }

    #[test]
    fn counter_24mhz_from_virtual_time() {
        let mut bus = setup(SysRegsConfig::ca9());
        assert_eq!(bus.read(at(0), BASE + 0x5c, Word), 0);
        assert_eq!(bus.read(at(1_000_000_000), BASE + 0x5c, Word), 24_000_000);
        assert_eq!(bus.read(at(125), BASE + 0x5c, Word), 3);
        // Wraps at 32 bits (after ~179 s).
        assert_eq!(
            bus.read(at(179 * 1_000_000_000), BASE + 0x5c, Word),
            (179u64 * 24_000_000) as u32
        );
    }

    #[test]
    fn oscillators_and_voltages() {
        let mut bus = setup(SysRegsConfig::ca9());
        assert_eq!(cfg_read(&mut bus, 1, 0, 2), (1, 24_000_000), "OSC2: UART clock");
        assert_eq!(cfg_read(&mut bus, 1, 0, 1), (1, 23_750_000));
        assert_eq!(cfg_read(&mut bus, 1, 1, 0), (1, 45_000_000), "daughterboard OSC0");
        assert_eq!(cfg_read(&mut bus, 1, 1, 2), (1, 66_670_000));
        assert_eq!(cfg_read(&mut bus, 1, 1, 3).0, 3, "no such oscillator: error");
        assert_eq!(cfg_read(&mut bus, 2, 0, 0), (1, 3_300_000));
        assert_eq!(cfg_read(&mut bus, 2, 1, 3), (1, 1_800_000));
        assert_eq!(cfg_read(&mut bus, 4, 0, 0).0, 3, "temperature: not modelled");
        // Write the CLCD clock, read it back.
        bus.write(at(0), BASE + 0xa0, Word, 25_175_000);
        bus.write(at(0), BASE + 0xa4, Word, START | WRITE | (1 << 20) | 1);
        assert_eq!(bus.read(at(0), BASE + 0xa8, Word), 1);
        assert_eq!(
            bus.read(at(0), BASE + 0xa4, Word),
            WRITE | (1 << 20) | 1,
            "start reads 0"
        );
        assert_eq!(cfg_read(&mut bus, 1, 0, 1), (1, 25_175_000));
        let mut bus = setup(SysRegsConfig::ca15());
        assert_eq!(cfg_read(&mut bus, 1, 1, 8), (1, 40_000_000));
        assert_eq!(cfg_read(&mut bus, 2, 1, 0), (1, 900_000));
    }

    #[test]
    fn shutdown_and_reboot_reach_the_machine() {
        let mut bus = setup(SysRegsConfig::ca9());
        bus.write(at(0), BASE + 0xa4, Word, 0xc080_0000);
        assert_eq!(bus.requests, [MachineRequest::PowerOff]);
        assert_eq!(bus.read(at(0), BASE + 0xa8, Word), 1);
        bus.write(at(0), BASE + 0xa4, Word, 0xc090_0000);
        assert_eq!(bus.requests, [MachineRequest::PowerOff, MachineRequest::Reboot]);
        bus.write(at(0), BASE + 0xa4, Word, 0xc080_0001);
        assert_eq!(bus.requests.len(), 2, "device 1: no such shutdown controller");
        assert_eq!(bus.read(at(0), BASE + 0xa8, Word), 3);
        bus.write(at(0), BASE + 0xa4, Word, 0xc070_0000);
        assert_eq!(bus.read(at(0), BASE + 0xa8, Word), 1, "MUXFPGA accepted");
        bus.write(at(0), BASE + 0xa4, Word, 0xc4b0_0000);
        assert_eq!(bus.read(at(0), BASE + 0xa8, Word), 3, "DCC 1: unsupported");
    }

    #[test]
    fn other_registers() {
        let mut bus = setup(SysRegsConfig::ca9());
        bus.write(at(0), BASE + 0x08, Word, 0xff);
        assert_eq!(bus.read(at(0), BASE + 0x08, Word), 0xff);
        bus.write(at(0), BASE + 0x20, Word, 0xa05f);
        assert_eq!(bus.read(at(0), BASE + 0x20, Word), 0xa05f);
        bus.write(at(0), BASE + 0x20, Word, 0xffff);
        assert_eq!(bus.read(at(0), BASE + 0x20, Word), 0x7fff);
        bus.write(at(0), BASE + 0x84, Word, 0);
        assert_eq!(bus.read(at(0), BASE + 0x84, Word), 0x0c00_0191, "PROCID0 is read-only");
        for off in 0..0x1000 {
            bus.read(at(0), BASE + off, AccessSize::Byte);
        }
    }

    /// Every readable register at time 1 s, SYS_CFGDATA included (reads have no side effects).
    fn registers(bus: &mut Bus) -> Vec<u32> {
        (0..0x100)
            .step_by(4)
            .map(|off| bus.read(at(1_000_000_000), BASE + off, Word))
            .collect()
    }

    /// The registers as Linux leaves them after boot, a changed CLCD clock (motherboard OSC1)
    /// and daughterboard OSC0, and an unsupported transfer left with its error status.
    fn board_in_use() -> Bus {
        let mut bus = setup(SysRegsConfig::ca9());
        bus.write(at(0), BASE + 0x08, Word, 0x5a);
        bus.write(at(0), BASE + 0x20, Word, 0xa05f);
        bus.write(at(0), BASE + 0x28, Word, 0x1234);
        bus.write(at(0), BASE + 0x2c, Word, 0x5678);
        bus.write(at(0), BASE + 0x30, Word, 0x6010_0040);
        bus.write(at(0), BASE + 0x38, Word, 0x3);
        bus.write(at(0), BASE + 0xa0, Word, 25_175_000);
        bus.write(at(0), BASE + 0xa4, Word, START | WRITE | (1 << 20) | 1);
        bus.write(at(0), BASE + 0xa0, Word, 40_000_000);
        bus.write(at(0), BASE + 0xa4, Word, START | WRITE | (1 << 20) | (1 << 16));
        bus.write(at(0), BASE + 0xa4, Word, START | (4 << 20));
        bus
    }

    #[test]
    fn registers_and_oscillators_survive_save_and_restore() {
        let mut a = board_in_use();
        let saved = a.save_state();
        let mut b = setup(SysRegsConfig::ca9());
        b.load_state(&saved).unwrap();
        assert_eq!(b.save_state(), saved);
        let expected = registers(&mut a);
        assert_eq!(registers(&mut b), expected);
        for (off, value) in [
            (0x08, 0x5a),
            (0x20, 0xa05f),
            (0x28, 0x1234),
            (0x2c, 0x5678),
            (0x30, 0x6010_0040),
            (0x38, 0x3),
            (0x5c, 24_000_000),
            (0xa0, 40_000_000),
            (0xa4, 4 << 20),
            (0xa8, 3),
        ] {
            assert_eq!(expected[off / 4], value, "offset {off:#x}");
        }
        for bus in [&mut a, &mut b] {
            assert_eq!(cfg_read(bus, 1, 0, 1), (1, 25_175_000), "motherboard OSC1");
            assert_eq!(cfg_read(bus, 1, 1, 0), (1, 40_000_000), "daughterboard OSC0");
            assert_eq!(cfg_read(bus, 1, 1, 1), (1, 23_750_000));
            bus.write(at(0), BASE + 0x34, Word, 0x40);
            assert_eq!(bus.read(at(0), BASE + 0x30, Word), 0x6010_0000);
        }
        assert_eq!(a.save_state(), b.save_state());
    }

    #[test]
    fn a_state_from_another_board_is_refused() {
        let saved = board_in_use().save_state();
        let mut a15 = setup(SysRegsConfig::ca15());
        assert_eq!(
            a15.load_state(&saved).unwrap_err().0,
            "vexpress-sysregs: saved state of vexpress-sysregs is from a board with SYS_PROCID0 \
             0x0c000191 and 3 daughterboard oscillators; this one has 0x14000237 and 9"
        );
    }

    #[test]
    fn damaged_states_are_refused_without_panic() {
        let valid = board_in_use().save_state().devices[0].1.clone();
        crate::state_tests::check_damaged_states(&valid, |bytes| {
            let mut bus = setup(SysRegsConfig::ca9());
            crate::state_tests::load_device(&mut bus, 0, bytes)?;
            registers(&mut bus);
            for function in [1, 2] {
                for site in [0, 1] {
                    for device in [0, 5, 8, 0xfff] {
                        cfg_read(&mut bus, function, site, device);
                        bus.write(
                            at(0),
                            BASE + 0xa4,
                            Word,
                            START | WRITE | (function << 20) | (site << 16) | device,
                        );
                    }
                }
            }
            Ok(())
        });
    }
}
