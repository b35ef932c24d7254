//! Placing the board's devices on the bus, as the board file describes them.
//!
//! Every `[[device]]` of `boards/<name>.toml` becomes one [`armvex_bus::Device`] at its base
//! address; its `spi = [n]` is its interrupt line (GIC ID n + 32). The `[mpcore]` region holds
//! the interrupt controller, which is registered with the bus. Which device sits behind each
//! virtio-mmio transport is not part of the board: the user chooses with `--drive`.

use crate::board::{Board, DeviceEntry, parse_size};
use armvex_bus::{Bus, DeviceId};
use armvex_devices::{
    A9MpCore, A15MpCore, L2c310, Pl011, Pl031, Sp804, Sp810, SysRegsConfig, VexpressSysRegs, ZeroStub,
};
use armvex_devices::{CfiFlash, CfiFlashConfig};
use armvex_devices::{Display, Pl041, Pl050, Pl111, Pl181, PrimeCellIds, SdCard, Sp805, primecell};
use armvex_virtio::{BlockDevice, DiskImage, DiskMode, SharedDisk, VirtioBackend, VirtioMmio};
use std::cell::RefCell;
use std::io::Write;
use std::path::PathBuf;
use std::rc::Rc;

/// The slot number of the SD card (`--sd`): the SD card is a drive like the virtio ones (its
/// image is in [`BoardDevices::disks`], so snapshots and reverse execution save and rewind it
/// as theirs), but it sits in the MMCI's slot, not on a virtio-mmio transport.
pub const SD_SLOT: usize = 100;

/// The slot numbers of the NOR flashes' images (`--pflash`), flash 0 and flash 1: drives like
/// the SD card's, in the board's flashes instead of on a transport.
pub const PFLASH_SLOTS: [usize; 2] = [101, 102];

/// A `--drive` option.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct DriveSpec {
    pub file: PathBuf,
    pub readonly: bool,
    /// Writes go to a temporary copy-on-write overlay; the image is opened read-only and
    /// never changes (QEMU's `snapshot=on`).
    #[serde(default)]
    pub snapshot: bool,
    /// The transport (0..=3) to attach to; the next free one if not given.
    pub slot: Option<usize>,
}

impl DriveSpec {
    /// The SD card of `--sd FILE[,readonly=on][,snapshot=on]`: a drive in [`SD_SLOT`].
    pub fn parse_sd(s: &str) -> Result<DriveSpec, String> {
        let mut parts = s.splitn(2, ',');
        let file = parts.next().filter(|f| !f.is_empty()).ok_or("--sd needs a file")?;
        let mut spec = match parts.next() {
            Some(rest) => DriveSpec::parse(&format!("file={file},{rest}")),
            None => DriveSpec::parse(&format!("file={file}")),
        }
        .map_err(|e| e.replace("--drive", "--sd"))?;
        if spec.slot.is_some() {
            return Err("--sd takes no slot=".into());
        }
        spec.slot = Some(SD_SLOT);
        Ok(spec)
    }

    /// The image of NOR flash `index` (`--pflash FILE[,readonly=on][,snapshot=on]`, the
    /// first for flash 0, the second for flash 1, as QEMU's `-pflash`).
    pub fn parse_pflash(s: &str, index: usize) -> Result<DriveSpec, String> {
        let slot = *PFLASH_SLOTS
            .get(index)
            .ok_or("the board has two flashes: --pflash is given at most twice")?;
        let mut spec = DriveSpec::parse_sd(s).map_err(|e| e.replace("--sd", "--pflash"))?;
        spec.slot = Some(slot);
        Ok(spec)
    }

    /// Parse `file=PATH[,format=raw][,readonly=on|off][,snapshot=on|off][,slot=N]`.
    pub fn parse(s: &str) -> Result<DriveSpec, String> {
        let mut file = None;
        let mut readonly = false;
        let mut snapshot = false;
        let mut slot = None;
        for part in s.split(',') {
            let (key, value) = part
                .split_once('=')
                .ok_or_else(|| format!("bad --drive option '{part}' (expected key=value)"))?;
            match key {
                "file" => file = Some(PathBuf::from(value)),
                "format" if value == "raw" => {}
                "format" => return Err(format!("--drive format={value} is not supported (only raw)")),
                "readonly" => readonly = on_off("readonly", value)?,
                "snapshot" => snapshot = on_off("snapshot", value)?,
                "slot" => {
                    slot = Some(
                        value
                            .parse()
                            .ok()
                            .filter(|s| *s < SD_SLOT)
                            .ok_or_else(|| format!("bad --drive slot={value} (0 to 3)"))?,
                    );
                }
                _ => return Err(format!("unknown --drive option '{key}'")),
            }
        }
        let file = file.ok_or("--drive needs file=PATH")?;
        Ok(DriveSpec {
            file,
            readonly,
            snapshot,
            slot,
        })
    }

    /// How the image is used.
    pub fn mode(&self) -> DiskMode {
        if self.readonly {
            DiskMode::ReadOnly
        } else if self.snapshot {
            DiskMode::TemporaryOverlay
        } else {
            DiskMode::InPlace
        }
    }
}

fn on_off(key: &str, value: &str) -> Result<bool, String> {
    match value {
        "on" | "true" | "yes" => Ok(true),
        "off" | "false" | "no" => Ok(false),
        _ => Err(format!("bad --drive {key}={value} (on or off)")),
    }
}

/// Where the console goes and what else the devices need from the host.
pub struct DeviceHostSetup {
    /// UART0's output (the console).
    pub console: Box<dyn Write>,
    /// The RTC's start time (seconds since 1970).
    pub rtc_start: u64,
    /// The virtio-mmio transports are version 2 (modern) rather than 1 (legacy).
    pub virtio_modern: bool,
    pub drives: Vec<DriveSpec>,
    /// Disk images already opened for the drives, in the same order (else opened here).
    pub disks: Option<Vec<SharedDisk>>,
}

/// Devices the machine talks to after building the board.
pub struct BoardDevices {
    /// UART0, which receives console input.
    pub console_uart: Option<DeviceId>,
    /// Each drive's transport slot and disk image (snapshots and reverse execution save and
    /// rewind them).
    pub disks: Vec<(usize, SharedDisk)>,
    /// The PS/2 keyboard's and mouse's KMIs (host keyboard and mouse input goes there).
    pub keyboard: Option<DeviceId>,
    pub mouse: Option<DeviceId>,
    /// Each CLCD's name and registers (for screenshots).
    pub displays: Vec<(String, Display)>,
}

/// Put every device of `board` on `bus`.
pub fn build(board: &Board, bus: &mut Bus, num_cpus: usize, mut host: DeviceHostSetup) -> Result<BoardDevices, String> {
    let mp = &board.mpcore;
    let ic = match mp.gic.as_str() {
        "gicv1" => bus.add_device(
            mp.base,
            A9MpCore::SIZE,
            Box::new(A9MpCore::new(num_cpus, mp.interrupts as usize)?),
        )?,
        "gicv2" => bus.add_device(
            mp.base,
            A15MpCore::SIZE,
            Box::new(A15MpCore::new(num_cpus, mp.interrupts as usize)?),
        )?,
        other => return Err(format!("board {}: unknown interrupt controller {other}", board.name)),
    };
    bus.set_interrupt_controller(ic);

    // Assign the drives to transports: explicit slots first, then the next free ones.
    let transports: Vec<&DeviceEntry> = board.device.iter().filter(|d| d.kind == "virtio-mmio").collect();
    let mut backends: Vec<Option<Box<dyn VirtioBackend>>> = transports.iter().map(|_| None).collect();
    let opened = host.disks.take();
    if opened.as_ref().is_some_and(|d| d.len() != host.drives.len()) {
        return Err("the disk images given do not match the drives".into());
    }
    let mut opened = opened.map(|d| d.into_iter().map(Some).collect::<Vec<_>>());
    let mut drives: Vec<(usize, DriveSpec)> = std::mem::take(&mut host.drives).into_iter().enumerate().collect();
    // The SD card's drive (`--sd`) goes into the MMCI's slot, not on a virtio transport.
    let mut sd = None;
    if let Some(i) = drives.iter().position(|(_, d)| d.slot == Some(SD_SLOT)) {
        let (n, spec) = drives.remove(i);
        if drives.iter().any(|(_, d)| d.slot == Some(SD_SLOT)) {
            return Err("only one SD card fits the board's MMCI".into());
        }
        let disk: SharedDisk = match opened.as_mut().and_then(|o| o[n].take()) {
            Some(d) => d,
            None => Rc::new(RefCell::new(DiskImage::open(&spec.file, spec.mode())?)),
        };
        sd = Some((spec, disk));
    }
    // The flashes' images (`--pflash`) go into the board's flashes.
    let mut pflash: Vec<(DriveSpec, SharedDisk)> = Vec::new();
    while let Some(i) = drives
        .iter()
        .position(|(_, d)| d.slot.is_some_and(|s| PFLASH_SLOTS.contains(&s)))
    {
        let (n, spec) = drives.remove(i);
        let disk: SharedDisk = match opened.as_mut().and_then(|o| o[n].take()) {
            Some(d) => d,
            None => Rc::new(RefCell::new(DiskImage::open(&spec.file, spec.mode())?)),
        };
        pflash.push((spec, disk));
    }
    drives.sort_by_key(|(_, d)| d.slot.is_none());
    let mut disks = Vec::new();
    for (n, drive) in drives {
        let slot = match drive.slot {
            Some(s) if s >= backends.len() => {
                return Err(format!(
                    "--drive slot={s}: the board has transports 0 to {}",
                    backends.len() - 1
                ));
            }
            Some(s) if backends[s].is_some() => return Err(format!("--drive slot={s} is used twice")),
            Some(s) => s,
            None => backends.iter().position(Option::is_none).ok_or_else(|| {
                format!(
                    "too many --drive options: the board has {} virtio-mmio transports",
                    backends.len()
                )
            })?,
        };
        let disk: SharedDisk = match opened.as_mut().and_then(|o| o[n].take()) {
            Some(d) => d,
            None => Rc::new(RefCell::new(DiskImage::open(&drive.file, drive.mode())?)),
        };
        disks.push((slot, disk.clone()));
        backends[slot] = Some(Box::new(BlockDevice::new(disk)));
    }
    let mut backends = backends.into_iter();

    let sd_read_only = sd.as_ref().is_some_and(|(spec, _)| spec.readonly);
    let sd_disk = sd.map(|(_, disk)| disk);
    if let Some(disk) = &sd_disk {
        disks.push((SD_SLOT, disk.clone()));
    }
    let mut sd_card = Some(SdCard::new(sd_disk.clone(), sd_read_only)?);
    let (mut keyboard, mut mouse, mut displays) = (None, None, Vec::new());

    let mut console_uart = None;
    let mut console = Some(host.console);
    for d in &board.device {
        let irq = d.spi.first().map(|s| s + 32);
        let need_irq = || irq.ok_or_else(|| format!("board {}: device {} needs an interrupt", board.name, d.name));
        let size = d.size.unwrap_or(0x1000);
        let device: Box<dyn armvex_bus::Device> = match d.kind.as_str() {
            "vexpress-sysregs" => {
                let mut config = if board.cpu == "cortex-a15" {
                    SysRegsConfig::ca15()
                } else {
                    SysRegsConfig::ca9()
                };
                if let Some(p) = d.proc_id {
                    config.proc_id = p;
                }
                // SYS_MCI: card detect (bit 0) and write protect (bit 1) of the MMCI's slot.
                if sd_disk.is_some() {
                    config.mci = 1 | (u32::from(sd_read_only) << 1);
                }
                Box::new(VexpressSysRegs::new(config))
            }
            "pl011" => {
                // UART0 is the console; the others go nowhere.
                let out: Box<dyn Write> = if d.name == "uart0" {
                    console.take().unwrap_or_else(|| Box::new(std::io::sink()))
                } else {
                    Box::new(std::io::sink())
                };
                Box::new(Pl011::new(d.name.clone(), need_irq()?, out))
            }
            "sp804" => Box::new(Sp804::new(d.name.clone(), need_irq()?, 1_000_000)),
            "pl031" => Box::new(Pl031::new(d.name.clone(), need_irq()?, host.rtc_start)),
            "l2c-310" => Box::new(L2c310::new()),
            "sp810" => Box::new(Sp810::new(d.name.clone())),
            "virtio-mmio" => {
                let backend = backends.next().flatten();
                Box::new(VirtioMmio::new(host.virtio_modern, need_irq()?, backend).with_name(d.name.clone()))
            }
            "pl181" => {
                let irqs = match d.spi[..] {
                    [a, b, ..] => [a + 32, b + 32],
                    _ => return Err(format!("board {}: device {} needs two interrupts", board.name, d.name)),
                };
                let card = sd_card.take().ok_or("the board has two MMCIs; --sd fills only one")?;
                Box::new(Pl181::new(d.name.clone(), irqs, card))
            }
            "pl050" => {
                // As on QEMU's vexpress: the first KMI has the keyboard, the second the mouse.
                let is_mouse = keyboard.is_some();
                Box::new(Pl050::new(d.name.clone(), need_irq()?, is_mouse))
            }
            "pl111" => {
                let clcd = Pl111::new(d.name.clone());
                displays.push((d.name.clone(), clcd.display()));
                Box::new(clcd)
            }
            "sp805" => Box::new(Sp805::new(d.name.clone(), irq, d.clock_hz.map_or(32_768, u64::from))),
            "pl041" => Box::new(Pl041::new(d.name.clone(), need_irq()?)),
            "pl341" => Box::new(PrimeCellIds::new(d.name.clone(), primecell::PL341_ID)),
            "pl354" => Box::new(PrimeCellIds::new(d.name.clone(), primecell::PL354_ID)),
            // Devices QEMU models but armvex does not: they read as zero, so Linux skips them.
            "sbcon-i2c" | "lan9118" => Box::new(ZeroStub::new(d.name.clone())),
            other => {
                return Err(format!(
                    "board {}: device {} has unknown kind {other}",
                    board.name, d.name
                ));
            }
        };
        let id = bus.add_device(d.base, size, device)?;
        if d.name == "uart0" {
            console_uart = Some(id);
        }
        if d.kind == "pl050" {
            if keyboard.is_none() {
                keyboard = Some(id);
            } else {
                mouse = mouse.or(Some(id));
            }
        }
    }
    build_flashes(board, bus, pflash, &mut disks)?;
    disks.sort_by_key(|(slot, _)| *slot);
    Ok(BoardDevices {
        console_uart,
        disks,
        keyboard,
        mouse,
        displays,
    })
}

/// The board's NOR flashes (`[[memory]]` with `flash = "cfi01"`), flash `i` with the image in
/// `PFLASH_SLOTS[i]` if given: each image's bytes are loaded into its flash, and the image is
/// a drive of `disks` (snapshots and reverse execution save and rewind it).
fn build_flashes(
    board: &Board,
    bus: &mut Bus,
    mut images: Vec<(DriveSpec, SharedDisk)>,
    disks: &mut Vec<(usize, SharedDisk)>,
) -> Result<(), String> {
    let flashes: Vec<_> = board.memory.iter().filter(|m| m.flash.is_some()).collect();
    for (index, m) in flashes.iter().enumerate() {
        if m.flash.as_deref() != Some("cfi01") {
            return Err(format!(
                "board {}: memory {} has an unknown flash kind",
                board.name, m.name
            ));
        }
        let slot = PFLASH_SLOTS.get(index).copied();
        let image = images
            .iter()
            .position(|(spec, _)| spec.slot == slot)
            .map(|i| images.remove(i));
        let read_only = image.as_ref().is_some_and(|(spec, _)| spec.readonly);
        let disk = image.map(|(_, disk)| disk);
        let flash = CfiFlash::new(
            m.name.clone(),
            CfiFlashConfig::VEXPRESS,
            m.base,
            disk.clone(),
            read_only,
        )
        .map_err(|e| format!("--pflash {e}"))?;
        if parse_size(&m.size)? != u64::from(CfiFlashConfig::VEXPRESS.size) {
            return Err(format!("board {}: flash {} must be 64 MiB", board.name, m.name));
        }
        flash.initial_contents(|offset, bytes| {
            bus.memory
                .load_bytes(m.base + offset, bytes)
                .map_err(|e| format!("cannot load flash {}: {e}", m.name))
        })?;
        bus.add_rom_device(&m.name, Box::new(flash))?;
        if let (Some(slot), Some(disk)) = (slot, disk) {
            disks.push((slot, disk));
        }
    }
    if let Some((spec, _)) = images.first() {
        return Err(format!(
            "--pflash {}: the board has {} flashes",
            spec.file.display(),
            flashes.len()
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn drive_options() {
        assert_eq!(
            DriveSpec::parse("file=disk.img").unwrap(),
            DriveSpec {
                file: "disk.img".into(),
                readonly: false,
                snapshot: false,
                slot: None
            }
        );
        assert_eq!(
            DriveSpec::parse("file=a.img,format=raw,readonly=on,slot=2").unwrap(),
            DriveSpec {
                file: "a.img".into(),
                readonly: true,
                snapshot: false,
                slot: Some(2)
            }
        );
        let cow = DriveSpec::parse("file=a.img,snapshot=on").unwrap();
        assert!(cow.snapshot && cow.mode() == DiskMode::TemporaryOverlay);
        for bad in [
            "disk.img",
            "file=a,format=qcow2",
            "file=a,readonly=maybe",
            "file=a,snapshot=1",
            "file=a,slot=x",
            "file=a,cache=none",
            "format=raw",
        ] {
            assert!(DriveSpec::parse(bad).is_err(), "{bad}");
        }
    }
}
