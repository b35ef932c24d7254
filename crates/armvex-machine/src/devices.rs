//! Placing the board's devices on the bus, as the board file describes them.
//!
//! Every `[[device]]` of `boards/<name>.toml` becomes one [`armvex_bus::Device`] at its base
//! address; its `spi = [n]` is its interrupt line (GIC ID n + 32). The `[mpcore]` region holds
//! the interrupt controller, which is registered with the bus. Which device sits behind each
//! virtio-mmio transport is not part of the board: the user chooses on the command line, as
//! with QEMU's `-device`:
//!
//! ```text
//! --drive file=disk.img                          a virtio-blk disk on the next free transport
//! --drive id=d0,file=disk.img --device virtio-blk,drive=d0[,slot=N]
//! --netdev user,id=n0 --device virtio-net,netdev=n0[,mac=52:54:00:12:34:56][,slot=N]
//! --device virtio-rng[,entropy=host][,id=ID][,slot=N]
//! --chardev socket,id=c0,port=4555,server=on --device virtio-console,chardev=c0[,slot=N]
//! --netdev user,id=n1 --device lan9118,netdev=n1[,mac=...]   the board's own network card
//! ```
//!
//! (`--nic user,...` is the front end's shorthand for the last: a `--netdev` and the LAN9118
//! on it.) The LAN9118 is always on the board, as on the real one; without a network it is on
//! none: its frames go nowhere and nothing arrives.
//!
//! QEMU's names work too (`virtio-blk-device`, `virtio-net-device`, `virtio-rng-device`,
//! `virtio-serial-device`, `virtconsole`). Devices with `slot=` take that transport; the others
//! take the lowest free one, the `--drive` shorthands first, then the `--device`s in order.
//! An unknown kind, a bad or missing option, two devices in one slot or more devices than
//! transports are one-line errors naming the option.
//!
//! Devices with a host side that sends input (a network, a socket, host entropy) get it
//! through the machine's host-input journal: each is given a sender from
//! [`HostInput::backend_sender`], and [`BoardDevices::input_routes`] says which bus device
//! the input named by each backend id goes to.

use crate::board::{Board, CpuKind, DeviceEntry, DeviceKind as BoardKind, FlashKind, GicKind, parse_size};
use crate::console::{HostEvent, HostInput};
use crate::error::MachineError;
use crate::hostdev::{ChardevSpec, HostEntropy};
use armvex_bus::{Bus, DeviceId};
use armvex_devices::{
    A9MpCore, A15MpCore, L2c310, Pl011, Pl031, Sp804, Sp810, SysRegsConfig, VexpressSysRegs, ZeroStub,
};
use armvex_devices::{CfiFlash, CfiFlashConfig};
use armvex_devices::{Display, Lan9118, Pl041, Pl050, Pl111, Pl181, PrimeCellIds, SdCard, Sp805, primecell};
use armvex_net::{NetBackend, NetdevSpec, NullBackend};
use armvex_virtio::{
    BlockDevice, ConsoleDevice, DiskImage, DiskMode, NetDevice, RngDevice, SharedDisk, VirtioDevice, VirtioMmio,
};
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
    /// `backing=BASE`: `file` is a persistent overlay over this base image (see
    /// `armvex_virtio::disk`), created if it does not exist.
    #[serde(default)]
    pub backing: Option<PathBuf>,
    /// The transport (0..=3) to attach to; the next free one if not given.
    pub slot: Option<usize>,
}

impl DriveSpec {
    /// The SD card of `--sd FILE[,readonly=on][,snapshot=on]`: a drive in [`SD_SLOT`].
    pub fn parse_sd(s: &str) -> Result<DriveSpec, MachineError> {
        let mut parts = split_options(s);
        let file = parts.first().filter(|f| !f.is_empty()).ok_or("--sd needs a file")?;
        parts[0] = format!("file={file}");
        let (mut spec, id) = DriveSpec::parse_parts(parts).map_err(|e| e.replace("--drive", "--sd"))?;
        if id.is_some() {
            return Err("--sd takes no id=".into());
        }
        if spec.slot.is_some() {
            return Err("--sd takes no slot=".into());
        }
        spec.slot = Some(SD_SLOT);
        Ok(spec)
    }

    /// The image of NOR flash `index` (`--pflash FILE[,readonly=on][,snapshot=on]`, the
    /// first for flash 0, the second for flash 1, as QEMU's `-pflash`).
    pub fn parse_pflash(s: &str, index: usize) -> Result<DriveSpec, MachineError> {
        let slot = *PFLASH_SLOTS
            .get(index)
            .ok_or("the board has two flashes: --pflash is given at most twice")?;
        let mut spec = DriveSpec::parse_sd(s).map_err(|e| e.to_string().replace("--sd", "--pflash"))?;
        spec.slot = Some(slot);
        Ok(spec)
    }

    /// Parse `file=PATH[,format=raw][,readonly=on|off][,snapshot=on|off][,backing=BASE][,slot=N]`. A comma
    /// in the path is written `,,` (QEMU's escape).
    pub fn parse(s: &str) -> Result<DriveSpec, MachineError> {
        match Self::parse_with_id(s)? {
            (drive, None) => Ok(drive),
            (_, Some(id)) => Err(format!("--drive id={id}: give the drive to a --device virtio-blk,drive={id}").into()),
        }
    }

    /// Parse a `--drive` that may have an `id=ID` (then a `--device virtio-blk,drive=ID`
    /// attaches it, and it has no `slot=` of its own).
    pub fn parse_with_id(s: &str) -> Result<(DriveSpec, Option<String>), MachineError> {
        Ok(Self::parse_parts(split_options(s))?)
    }

    /// [`DriveSpec::parse_with_id`] of an option list already split by [`split_options`].
    fn parse_parts(parts: Vec<String>) -> Result<(DriveSpec, Option<String>), String> {
        let mut id = None;
        let mut file = None;
        let mut readonly = false;
        let mut snapshot = false;
        let mut backing = None;
        let mut slot = None;
        let mut seen = Vec::new();
        for part in &parts {
            let (key, value) = part
                .split_once('=')
                .ok_or_else(|| format!("bad --drive option '{part}' (expected key=value)"))?;
            if seen.contains(&key) {
                return Err(format!("--drive {key}= is given twice"));
            }
            seen.push(key);
            match key {
                "id" => id = Some(value.to_string()),
                "file" if value.is_empty() => return Err("--drive file= names no file".into()),
                "file" => file = Some(PathBuf::from(value)),
                "format" if value == "raw" => {}
                "format" => return Err(format!("--drive format={value} is not supported (only raw)")),
                "readonly" => readonly = on_off("readonly", value)?,
                "snapshot" => snapshot = on_off("snapshot", value)?,
                "backing" if value.is_empty() => return Err("--drive backing= names no file".into()),
                "backing" => backing = Some(PathBuf::from(value)),
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
        if let Some(id) = &id {
            armvex_net::spec::check_id("--drive", id)?;
            if slot.is_some() {
                return Err(format!("--drive id={id}: the --device that takes it says slot="));
            }
        }
        if backing.is_some() && (readonly || snapshot) {
            return Err("--drive backing= is an overlay the guest writes: not with readonly=on or snapshot=on".into());
        }
        let drive = DriveSpec {
            file,
            readonly,
            snapshot,
            backing,
            slot,
        };
        Ok((drive, id))
    }

    /// Open the drive's disk as its options say.
    pub fn open(&self) -> Result<DiskImage, MachineError> {
        match &self.backing {
            Some(base) => Ok(DiskImage::open_persistent(&self.file, base)?),
            None => Ok(DiskImage::open(&self.file, self.mode())?),
        }
    }

    /// How the image is used.
    pub fn mode(&self) -> DiskMode {
        if self.backing.is_some() {
            DiskMode::PersistentOverlay
        } else if self.readonly {
            DiskMode::ReadOnly
        } else if self.snapshot {
            DiskMode::TemporaryOverlay
        } else {
            DiskMode::InPlace
        }
    }
}

/// Split a QEMU-style option list (`file=a.img,readonly=on`) at its commas. A doubled comma
/// is a comma inside a value, as in QEMU: `file=my,,disk.img` names `my,disk.img`.
pub fn split_options(s: &str) -> Vec<String> {
    let mut parts = vec![String::new()];
    let mut chars = s.chars().peekable();
    while let Some(c) = chars.next() {
        if c == ',' && chars.peek() != Some(&',') {
            parts.push(String::new());
            continue;
        }
        if c == ',' {
            chars.next();
        }
        if let Some(part) = parts.last_mut() {
            part.push(c);
        }
    }
    parts
}

fn on_off(key: &str, value: &str) -> Result<bool, String> {
    match value {
        "on" | "true" | "yes" => Ok(true),
        "off" | "false" | "no" => Ok(false),
        _ => Err(format!("bad --drive {key}={value} (on or off)")),
    }
}

/// A `--device` option: a device kind for a virtio-mmio transport.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct DeviceSpec {
    pub kind: DeviceKind,
    /// The transport (0..=3) to attach to; the next free one if not given.
    pub slot: Option<usize>,
    /// `id=`: names the device (a virtio-rng with host entropy receives its input by it).
    pub id: Option<String>,
}

/// The device kinds `--device` knows.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub enum DeviceKind {
    /// virtio-blk on the `--drive` with this id.
    Blk { drive: String },
    /// virtio-net on the `--netdev` with this id.
    Net { netdev: String, mac: Option<[u8; 6]> },
    /// virtio-rng: seeded (`--rng-seed`) or, with `entropy=host`, the host's entropy.
    Rng { host_entropy: bool },
    /// virtio-console on the `--chardev` with this id.
    Console { chardev: String },
    /// The board's own LAN9118 on the `--netdev` with this id (not on a transport).
    Lan9118 { netdev: String, mac: Option<[u8; 6]> },
}

impl DeviceSpec {
    /// Parse the value of a `--device` option: `KIND[,opt=val]...`.
    pub fn parse(s: &str) -> Result<DeviceSpec, MachineError> {
        let mut parts = s.split(',');
        let given = parts.next().unwrap_or_default();
        let kind = match given {
            "virtio-blk" | "virtio-blk-device" => "virtio-blk",
            "virtio-net" | "virtio-net-device" => "virtio-net",
            "virtio-rng" | "virtio-rng-device" => "virtio-rng",
            "virtio-console" | "virtio-serial" | "virtio-serial-device" | "virtconsole" => "virtio-console",
            "lan9118" => "lan9118",
            "" => {
                return Err(
                    "--device needs a kind (virtio-blk, virtio-net, virtio-rng, virtio-console, lan9118)".into(),
                );
            }
            other => {
                return Err(format!(
                    "--device {other}: unknown kind (virtio-blk, virtio-net, virtio-rng, virtio-console, lan9118)"
                )
                .into());
            }
        };
        let option = format!("--device {given}");
        let (mut slot, mut id, mut drive, mut netdev, mut mac, mut chardev, mut host_entropy) =
            (None, None, None, None, None, None, false);
        let mut seen = Vec::new();
        for part in parts {
            let (key, value) = part
                .split_once('=')
                .ok_or_else(|| format!("{option}: bad option '{part}' (expected key=value)"))?;
            if seen.contains(&key) {
                return Err(format!("{option}: {key}= is given twice").into());
            }
            seen.push(key);
            match (kind, key) {
                (_, "slot") => {
                    slot = Some(
                        value
                            .parse::<usize>()
                            .map_err(|_| format!("{option} slot={value}: not a transport number"))?,
                    );
                }
                (_, "id") => {
                    armvex_net::spec::check_id(&option, value)?;
                    id = Some(value.to_string());
                }
                ("virtio-blk", "drive") => drive = Some(value.to_string()),
                ("virtio-net" | "lan9118", "netdev") => netdev = Some(value.to_string()),
                ("virtio-net" | "lan9118", "mac") => {
                    mac = Some(armvex_virtio::net::parse_mac(value).map_err(|e| format!("{option}: {e}"))?);
                }
                ("virtio-rng", "entropy") => {
                    host_entropy = match value {
                        "host" => true,
                        "seeded" => false,
                        _ => return Err(format!("{option} entropy={value}: expected seeded or host").into()),
                    };
                }
                ("virtio-console", "chardev") => chardev = Some(value.to_string()),
                _ => return Err(format!("{option}: unknown option '{key}'").into()),
            }
        }
        let need = |v: Option<String>, what: &str| v.ok_or_else(|| format!("{option} needs {what}=ID"));
        let kind = match kind {
            "virtio-blk" => DeviceKind::Blk {
                drive: need(drive, "drive")?,
            },
            "virtio-net" => DeviceKind::Net {
                netdev: need(netdev, "netdev")?,
                mac,
            },
            "virtio-rng" => DeviceKind::Rng { host_entropy },
            "lan9118" => {
                if slot.is_some() {
                    return Err(format!(
                        "{option}: the board's own network card is on no virtio-mmio transport (no slot=)"
                    )
                    .into());
                }
                DeviceKind::Lan9118 {
                    netdev: need(netdev, "netdev")?,
                    mac,
                }
            }
            _ => DeviceKind::Console {
                chardev: need(chardev, "chardev")?,
            },
        };
        Ok(DeviceSpec { kind, slot, id })
    }

    /// The option as the user would write it, for messages.
    fn describe(&self) -> String {
        match &self.kind {
            DeviceKind::Blk { drive } => format!("--device virtio-blk,drive={drive}"),
            DeviceKind::Net { netdev, .. } => format!("--device virtio-net,netdev={netdev}"),
            DeviceKind::Rng { .. } => "--device virtio-rng".into(),
            DeviceKind::Console { chardev } => format!("--device virtio-console,chardev={chardev}"),
            DeviceKind::Lan9118 { netdev, .. } => format!("--device lan9118,netdev={netdev}"),
        }
    }
}

/// Devices chosen on the command line beyond the `--drive` shorthand, with their host sides:
/// part of how a machine is built ([`crate::MachineSetup`]), so a snapshot records them.
#[derive(Clone, Debug, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Peripherals {
    pub devices: Vec<DeviceSpec>,
    /// The `id=` of each drive of the setup (same order), if it has one.
    pub drive_ids: Vec<Option<String>>,
    pub netdevs: Vec<NetdevSpec>,
    pub chardevs: Vec<ChardevSpec>,
    /// `--rng-seed`: the key of every seeded virtio-rng (each transport its own stream).
    pub rng_seed: u64,
    /// `--dtb-randomness on`: a Linux guest's device tree gets 64 bytes of the `--rng-seed`
    /// generator as `/chosen/rng-seed` (see [`crate::boot::patch_dtb`]). Off by default here,
    /// as QEMU's vexpress boards do; the `armvex` command turns it on unless told otherwise.
    #[serde(default)]
    pub dtb_randomness: bool,
}

impl Peripherals {
    /// True when nothing but `--drive` shorthands was asked for.
    pub fn is_empty(&self) -> bool {
        self.devices.is_empty() && self.netdevs.is_empty() && self.chardevs.is_empty()
    }
}

/// Where the console goes and what else the devices need from the host.
pub struct DeviceHostSetup<'a> {
    /// UART0's output (the console).
    pub console: Box<dyn Write>,
    /// The RTC's start time (seconds since 1970).
    pub rtc_start: u64,
    /// The virtio-mmio transports are version 2 (modern) rather than 1 (legacy).
    pub virtio_modern: bool,
    pub drives: Vec<DriveSpec>,
    /// Disk images already opened for the drives, in the same order (else opened here).
    pub disks: Option<Vec<SharedDisk>>,
    /// `--device`, `--netdev`, `--chardev`, `--rng-seed`.
    pub peripherals: &'a Peripherals,
    /// Where backends send their input (see [`HostInput::backend_sender`]).
    pub input: &'a mut HostInput,
}

/// Devices the machine talks to after building the board.
pub struct BoardDevices {
    /// UART0, which receives console input.
    pub console_uart: Option<DeviceId>,
    /// Each drive's transport slot and disk image (snapshots and reverse execution save and
    /// rewind them).
    pub disks: Vec<(usize, SharedDisk)>,
    /// The transport slot of each drive, in the setup's drive order.
    pub drive_slots: Vec<usize>,
    /// Where host input goes: [`HostEvent::Device`] events named by the first (a netdev's,
    /// a chardev's or a virtio-rng's id) are delivered to the second.
    pub input_routes: Vec<(String, DeviceId)>,
    /// The PS/2 keyboard's and mouse's KMIs (host keyboard and mouse input goes there).
    pub keyboard: Option<DeviceId>,
    pub mouse: Option<DeviceId>,
    /// Each CLCD's name and registers (for screenshots).
    pub displays: Vec<(String, Display)>,
}

/// Put every device of `board` on `bus`.
pub fn build(
    board: &Board,
    bus: &mut Bus,
    num_cpus: usize,
    mut host: DeviceHostSetup,
) -> Result<BoardDevices, MachineError> {
    let mp = &board.mpcore;
    let ic = match mp.gic {
        GicKind::Gicv1 => bus.add_device(
            mp.base,
            A9MpCore::SIZE,
            Box::new(A9MpCore::new(num_cpus, mp.interrupts as usize)?),
        )?,
        GicKind::Gicv2 => bus.add_device(
            mp.base,
            A15MpCore::SIZE,
            Box::new(A15MpCore::new(num_cpus, mp.interrupts as usize)?),
        )?,
    };
    bus.set_interrupt_controller(ic);

    // Build what sits behind each transport: explicit slots first, then the next free ones.
    let transports: Vec<&DeviceEntry> = board
        .device
        .iter()
        .filter(|d| d.kind == BoardKind::VirtioMmio)
        .collect();
    let opened = host.disks.take();
    if opened.as_ref().is_some_and(|d| d.len() != host.drives.len()) {
        return Err("the disk images given do not match the drives".into());
    }
    let mut opened = opened.map(|d| d.into_iter().map(Some).collect::<Vec<_>>());
    // The SD card's drive (`--sd`) goes into the MMCI's slot, not on a virtio transport.
    let mut sd = None;
    let mut sd_drives = host.drives.iter().enumerate().filter(|(_, d)| d.slot == Some(SD_SLOT));
    if let Some((n, spec)) = sd_drives.next() {
        if sd_drives.next().is_some() {
            return Err("only one SD card fits the board's MMCI".into());
        }
        let disk: SharedDisk = match opened.as_mut().and_then(|o| o[n].take()) {
            Some(d) => d,
            None => Rc::new(RefCell::new(spec.open()?)),
        };
        sd = Some((spec.readonly, disk));
    }
    // The flashes' images (`--pflash`) go into the board's flashes, not on a transport.
    let mut pflash: Vec<(DriveSpec, SharedDisk)> = Vec::new();
    for (n, spec) in host.drives.iter().enumerate() {
        if spec.slot.is_some_and(|s| PFLASH_SLOTS.contains(&s)) {
            let disk: SharedDisk = match opened.as_mut().and_then(|o| o[n].take()) {
                Some(d) => d,
                None => Rc::new(RefCell::new(spec.open()?)),
            };
            pflash.push((spec.clone(), disk));
        }
    }
    // A live channel for host input only if some device's host side sends input: with none,
    // the run loop goes on exactly as before.
    let needs_input = host.peripherals.devices.iter().any(|d| match &d.kind {
        DeviceKind::Net { .. } | DeviceKind::Lan9118 { .. } | DeviceKind::Rng { host_entropy: true } => true,
        DeviceKind::Console { chardev } => host
            .peripherals
            .chardevs
            .iter()
            .any(|c| &c.id == chardev && matches!(c.kind, crate::hostdev::ChardevKind::Socket { .. })),
        _ => false,
    });
    let sender = if needs_input { host.input.backend_sender() } else { None };
    let mut virtio = VirtioSlots::new(transports.len());
    virtio.place(board, &host, &mut opened, sender.clone())?;
    let VirtioSlots {
        devices: backends,
        disks: mut disk_slots,
        routes,
        drive_slots,
        ..
    } = virtio;
    let mut backends = backends.into_iter();
    let mut slot_routes = Vec::new();

    let sd_read_only = sd.as_ref().is_some_and(|(readonly, _)| *readonly);
    let sd_disk = sd.map(|(_, disk)| disk);
    if let Some(disk) = &sd_disk {
        disk_slots.push((SD_SLOT, disk.clone()));
    }
    let mut sd_card = Some(SdCard::new(sd_disk.clone(), sd_read_only)?);
    let (mut keyboard, mut mouse, mut displays) = (None, None, Vec::new());
    // The board's network card: on the network a --nic or --device lan9118 names, else on none.
    let mut nic = lan9118_network(host.peripherals)?;
    let mut nic_route = None;

    let mut console_uart = None;
    let mut input_routes = Vec::new();
    let mut console = Some(host.console);
    for d in &board.device {
        let irq = d.spi.first().map(|s| s + 32);
        let need_irq = || irq.ok_or_else(|| format!("board {}: device {} needs an interrupt", board.name, d.name));
        let size = d.size.unwrap_or(0x1000);
        let device: Box<dyn armvex_bus::Device> = match d.kind {
            BoardKind::VexpressSysregs => {
                let mut config = match board.cpu {
                    CpuKind::CortexA15 => SysRegsConfig::ca15(),
                    CpuKind::CortexA9 => SysRegsConfig::ca9(),
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
            BoardKind::Pl011 => {
                // UART0 is the console; the others go nowhere.
                let out: Box<dyn Write> = if d.name == "uart0" {
                    console.take().unwrap_or_else(|| Box::new(std::io::sink()))
                } else {
                    Box::new(std::io::sink())
                };
                Box::new(Pl011::new(d.name.clone(), need_irq()?, out))
            }
            BoardKind::Sp804 => Box::new(Sp804::new(d.name.clone(), need_irq()?, 1_000_000)),
            BoardKind::Pl031 => Box::new(Pl031::new(d.name.clone(), need_irq()?, host.rtc_start)),
            BoardKind::L2c310 => Box::new(L2c310::new()),
            BoardKind::Sp810 => Box::new(Sp810::new(d.name.clone())),
            BoardKind::VirtioMmio => {
                let slot = slot_routes.len();
                slot_routes.push(
                    routes
                        .iter()
                        .filter(|(s, _)| *s == slot)
                        .map(|(_, r)| r.clone())
                        .collect::<Vec<_>>(),
                );
                let backend = backends.next().flatten();
                Box::new(VirtioMmio::new(host.virtio_modern, need_irq()?, backend).with_name(d.name.clone()))
            }
            BoardKind::Pl181 => {
                let irqs = match d.spi[..] {
                    [a, b, ..] => [a + 32, b + 32],
                    _ => return Err(format!("board {}: device {} needs two interrupts", board.name, d.name).into()),
                };
                let card = sd_card.take().ok_or("the board has two MMCIs; --sd fills only one")?;
                Box::new(Pl181::new(d.name.clone(), irqs, card))
            }
            BoardKind::Pl050 => {
                // As on QEMU's vexpress: the first KMI has the keyboard, the second the mouse.
                let is_mouse = keyboard.is_some();
                Box::new(Pl050::new(d.name.clone(), need_irq()?, is_mouse))
            }
            BoardKind::Pl111 => {
                let clcd = Pl111::new(d.name.clone());
                displays.push((d.name.clone(), clcd.display()));
                Box::new(clcd)
            }
            BoardKind::Sp805 => Box::new(Sp805::new(d.name.clone(), irq, d.clock_hz.map_or(32_768, u64::from))),
            BoardKind::Pl041 => Box::new(Pl041::new(d.name.clone(), need_irq()?)),
            BoardKind::Pl341 => Box::new(PrimeCellIds::new(d.name.clone(), primecell::PL341_ID)),
            BoardKind::Pl354 => Box::new(PrimeCellIds::new(d.name.clone(), primecell::PL354_ID)),
            // The board's network card, on the network `--nic`/`--device lan9118` names.
            BoardKind::Lan9118 => {
                let (backend, mac) = match nic.take() {
                    Some((spec, mac)) => {
                        nic_route = Some(spec.id.clone());
                        (open_netdev(spec, sender.clone())?, mac)
                    }
                    None => (Box::new(NullBackend) as Box<dyn NetBackend>, None),
                };
                let mac = mac.unwrap_or(armvex_devices::lan9118::DEFAULT_MAC);
                Box::new(Lan9118::new(d.name.clone(), need_irq()?, mac, backend))
            }
            // Devices QEMU models but armvex does not: they read as zero, so Linux skips them.
            BoardKind::SbconI2c => Box::new(ZeroStub::new(d.name.clone())),
        };
        let is_transport = d.kind == BoardKind::VirtioMmio;
        let is_nic = d.kind == BoardKind::Lan9118;
        let id = bus.add_device(d.base, size, device)?;
        if d.name == "uart0" {
            console_uart = Some(id);
        }
        if is_nic {
            if let Some(netdev) = nic_route.take() {
                input_routes.push((netdev, id));
            }
        }
        if is_transport {
            if let Some(names) = slot_routes.last_mut() {
                input_routes.extend(names.drain(..).map(|name| (name, id)));
            }
        }
        if d.kind == BoardKind::Pl050 {
            if keyboard.is_none() {
                keyboard = Some(id);
            } else {
                mouse = mouse.or(Some(id));
            }
        }
    }
    if let Some((spec, _)) = nic {
        return Err(format!(
            "--device lan9118,netdev={}: board {} has no LAN9118",
            spec.id, board.name
        )
        .into());
    }
    build_flashes(board, bus, pflash, &mut disk_slots)?;
    disk_slots.sort_by_key(|(slot, _)| *slot);
    Ok(BoardDevices {
        console_uart,
        disks: disk_slots,
        drive_slots,
        input_routes,
        keyboard,
        mouse,
        displays,
    })
}

/// The devices for the virtio-mmio transports, slot by slot, while they are placed.
struct VirtioSlots {
    devices: Vec<Option<Box<dyn VirtioDevice>>>,
    /// Which option took each slot, for messages.
    takers: Vec<Option<String>>,
    disks: Vec<(usize, SharedDisk)>,
    /// (slot, backend id) for devices whose host side sends input.
    routes: Vec<(usize, String)>,
    drive_slots: Vec<usize>,
}

impl VirtioSlots {
    fn new(transports: usize) -> VirtioSlots {
        VirtioSlots {
            devices: (0..transports).map(|_| None).collect(),
            takers: vec![None; transports],
            disks: Vec::new(),
            routes: Vec::new(),
            drive_slots: Vec::new(),
        }
    }

    /// The slot for the device `what` asked for (`wanted`, or the lowest free).
    fn claim(&mut self, wanted: Option<usize>, what: &str) -> Result<usize, String> {
        let count = self.devices.len();
        let slot = match wanted {
            Some(s) if s >= count => {
                return Err(format!(
                    "{what} slot={s}: the board has transports 0 to {}",
                    count.saturating_sub(1)
                ));
            }
            Some(s) => s,
            None => self
                .takers
                .iter()
                .position(Option::is_none)
                .ok_or_else(|| format!("{what}: no free virtio-mmio transport (the board has {count})"))?,
        };
        if let Some(other) = &self.takers[slot] {
            return Err(if other == what {
                format!("{what} slot={slot} is used twice")
            } else {
                format!("{what} slot={slot}: the transport is taken by {other}")
            });
        }
        self.takers[slot] = Some(what.to_string());
        Ok(slot)
    }

    /// Place every drive shorthand and `--device` of `host`, building their devices and host
    /// sides.
    fn place(
        &mut self,
        board: &Board,
        host: &DeviceHostSetup,
        opened: &mut Option<Vec<Option<SharedDisk>>>,
        sender: Option<crossbeam_channel::Sender<HostEvent>>,
    ) -> Result<(), String> {
        let p = host.peripherals;
        let drive_id = |n: usize| p.drive_ids.get(n).cloned().flatten();
        // Check the ids: unique, and every device's backend exists once.
        let mut names: Vec<&str> = Vec::new();
        for name in p
            .netdevs
            .iter()
            .map(|n| n.id.as_str())
            .chain(p.chardevs.iter().map(|c| c.id.as_str()))
        {
            if names.contains(&name) {
                return Err(format!("the id {name} is given to two --netdev/--chardev options"));
            }
            names.push(name);
        }
        for (i, id) in p
            .drive_ids
            .iter()
            .enumerate()
            .filter_map(|(i, id)| id.as_ref().map(|id| (i, id)))
        {
            if p.drive_ids[..i].iter().flatten().any(|other| other == id) {
                return Err(format!("--drive id={id} is given twice"));
            }
        }
        // The order of placement: explicit slots first (drives, then devices), then the rest.
        enum Item<'a> {
            Drive(usize),
            Device(&'a DeviceSpec),
        }
        let mut items: Vec<(Option<usize>, Item)> = Vec::new();
        let mut drive_slots = vec![None; host.drives.len()];
        for (n, d) in host.drives.iter().enumerate() {
            if let Some(s) = d.slot.filter(|s| *s == SD_SLOT || PFLASH_SLOTS.contains(s)) {
                // The SD card (`--sd`) and the flashes' images (`--pflash`): in the MMCI and
                // the flashes, not on a transport.
                drive_slots[n] = Some(s);
            } else if drive_id(n).is_none() {
                items.push((d.slot, Item::Drive(n)));
            }
        }
        // The LAN9118 is the board's own, on no transport (see lan9118_network).
        for d in p
            .devices
            .iter()
            .filter(|d| !matches!(d.kind, DeviceKind::Lan9118 { .. }))
        {
            items.push((d.slot, Item::Device(d)));
        }
        items.sort_by_key(|(slot, _)| slot.is_none());
        let mut open_disk = |n: usize| -> Result<SharedDisk, String> {
            match opened.as_mut().and_then(|o| o[n].take()) {
                Some(d) => Ok(d),
                None => Ok(Rc::new(RefCell::new(host.drives[n].open()?))),
            }
        };
        let mut used_backends: Vec<&str> = p
            .devices
            .iter()
            .filter_map(|d| match &d.kind {
                DeviceKind::Lan9118 { netdev, .. } => Some(netdev.as_str()),
                _ => None,
            })
            .collect();
        for (wanted, item) in items {
            match item {
                Item::Drive(n) => {
                    let slot = self.claim(wanted, &format!("--drive file={}", host.drives[n].file.display()))?;
                    let disk = open_disk(n)?;
                    self.disks.push((slot, disk.clone()));
                    self.devices[slot] = Some(Box::new(BlockDevice::new(disk)));
                    drive_slots[n] = Some(slot);
                }
                Item::Device(spec) => {
                    let what = spec.describe();
                    let slot = self.claim(wanted, &what)?;
                    let device: Box<dyn VirtioDevice> = match &spec.kind {
                        DeviceKind::Blk { drive } => {
                            let n = (0..host.drives.len())
                                .find(|&n| drive_id(n).as_deref() == Some(drive.as_str()))
                                .ok_or_else(|| format!("{what}: there is no --drive id={drive}"))?;
                            if drive_slots[n].is_some() {
                                return Err(format!("{what}: the drive is used twice"));
                            }
                            let disk = open_disk(n)?;
                            self.disks.push((slot, disk.clone()));
                            drive_slots[n] = Some(slot);
                            Box::new(BlockDevice::new(disk))
                        }
                        DeviceKind::Net { netdev, mac } => {
                            let spec = p
                                .netdevs
                                .iter()
                                .find(|n| &n.id == netdev)
                                .ok_or_else(|| format!("{what}: there is no --netdev id={netdev}"))?;
                            if used_backends.contains(&netdev.as_str()) {
                                return Err(format!("{what}: the netdev is used by another device"));
                            }
                            used_backends.push(netdev);
                            let backend = open_netdev(spec, sender.clone())?;
                            let mac = mac.unwrap_or_else(|| default_mac(board, slot));
                            self.routes.push((slot, netdev.clone()));
                            let card = NetDevice::new(mac, backend);
                            Box::new(match spec.mtu() {
                                Some(mtu) => card.with_mtu(mtu),
                                None => card,
                            })
                        }
                        DeviceKind::Rng { host_entropy: false } => Box::new(RngDevice::seeded(p.rng_seed, slot as u64)),
                        DeviceKind::Rng { host_entropy: true } => {
                            let id = spec.id.clone().unwrap_or_else(|| format!("virtio-rng{slot}"));
                            if names.contains(&id.as_str()) {
                                return Err(format!("{what}: the id {id} is taken by a --netdev or --chardev"));
                            }
                            self.routes.push((slot, id.clone()));
                            Box::new(RngDevice::host(Box::new(HostEntropy {
                                id,
                                input: sender.clone(),
                            })))
                        }
                        DeviceKind::Lan9118 { .. } => unreachable!("the LAN9118 is on no transport"),
                        DeviceKind::Console { chardev } => {
                            let spec = p
                                .chardevs
                                .iter()
                                .find(|c| &c.id == chardev)
                                .ok_or_else(|| format!("{what}: there is no --chardev id={chardev}"))?;
                            if used_backends.contains(&chardev.as_str()) {
                                return Err(format!("{what}: the chardev is used by another device"));
                            }
                            used_backends.push(chardev);
                            self.routes.push((slot, chardev.clone()));
                            Box::new(ConsoleDevice::new(spec.open(sender.clone())?))
                        }
                    };
                    self.devices[slot] = Some(device);
                }
            }
        }
        if let Some(n) = drive_slots.iter().position(Option::is_none) {
            let id = drive_id(n).unwrap_or_default();
            return Err(format!(
                "--drive id={id} is not used: attach it with --device virtio-blk,drive={id}"
            ));
        }
        self.drive_slots = drive_slots.into_iter().flatten().collect();
        Ok(())
    }
}

/// A LAN9118's network and its `mac=`.
type NicNetwork<'a> = (&'a NetdevSpec, Option<[u8; 6]>);

/// The network of the board's LAN9118 (`--nic`, or `--device lan9118,netdev=ID`) and its
/// `mac=`, if one is asked for; checked: one at most, on a `--netdev` that exists, with an
/// MTU the card can carry.
fn lan9118_network(p: &Peripherals) -> Result<Option<NicNetwork<'_>>, String> {
    let mut nics = p.devices.iter().filter_map(|d| match &d.kind {
        DeviceKind::Lan9118 { netdev, mac } => Some((d, netdev, *mac)),
        _ => None,
    });
    let Some((first, netdev, mac)) = nics.next() else {
        return Ok(None);
    };
    let what = first.describe();
    if nics.next().is_some() {
        return Err(format!("{what}: the board has one LAN9118, given twice"));
    }
    let spec = p
        .netdevs
        .iter()
        .find(|n| &n.id == netdev)
        .ok_or_else(|| format!("{what}: there is no --netdev id={netdev}"))?;
    if let Some(mtu) = spec.mtu() {
        return Err(format!(
            "{what}: the LAN9118 carries Ethernet frames of 1500 bytes, not --netdev mtu={mtu} (a virtio-net can)"
        ));
    }
    Ok(Some((spec, mac)))
}

/// The MAC address of a virtio-net card without `mac=`: QEMU's 52:54:00:12:34:56 with the
/// last byte counting the transport (so two cards differ; the first on slot 0 is QEMU's).
fn default_mac(_board: &Board, slot: usize) -> [u8; 6] {
    let mut mac = armvex_virtio::net::DEFAULT_MAC;
    mac[5] = mac[5].wrapping_add(slot as u8);
    mac
}

/// Start the host side of `spec`, sending the frames it receives for the guest to `input` as
/// [`HostEvent::Device`] events named by the netdev's id. Without `input` (a replay: the
/// recording brings the frames) the guest's frames go nowhere. For any NIC model: the
/// returned backend is where its transmitted frames go, and the machine must route the
/// netdev's id to the NIC (see [`BoardDevices::input_routes`]).
pub fn open_netdev(
    spec: &NetdevSpec,
    input: Option<crossbeam_channel::Sender<HostEvent>>,
) -> Result<Box<dyn NetBackend>, String> {
    let Some(tx) = input else {
        return Ok(Box::new(NullBackend));
    };
    let id = spec.id.clone();
    Ok(armvex_net::open(
        spec,
        Box::new(move |frame| {
            tx.send(HostEvent::Device {
                id: id.clone(),
                data: frame,
            })
            .is_ok()
        }),
    )?)
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
        match m.flash {
            Some(FlashKind::Cfi01) => {}
            None => continue,
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
                .load_bytes(u64::from(m.base + offset), bytes)
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
                backing: None,
                slot: None
            }
        );
        assert_eq!(
            DriveSpec::parse("file=a.img,format=raw,readonly=on,slot=2").unwrap(),
            DriveSpec {
                file: "a.img".into(),
                readonly: true,
                snapshot: false,
                backing: None,
                slot: Some(2)
            }
        );
        let overlay = DriveSpec::parse("file=o.ovl,backing=base.img").unwrap();
        assert_eq!(overlay.backing, Some(PathBuf::from("base.img")));
        assert_eq!(overlay.mode(), DiskMode::PersistentOverlay);
        assert!(
            DriveSpec::parse("file=o.ovl,backing=b,snapshot=on")
                .unwrap_err()
                .to_string()
                .contains("not with readonly=on or snapshot=on")
        );
        assert_eq!(
            DriveSpec::parse("file=o.ovl,backing=").unwrap_err().to_string(),
            "--drive backing= names no file"
        );
        // QEMU's escape: a doubled comma is a comma in the path.
        assert_eq!(
            DriveSpec::parse("file=my,,disk.img,readonly=on").unwrap().file,
            PathBuf::from("my,disk.img")
        );
        assert_eq!(DriveSpec::parse("file=a,,,,b").unwrap().file, PathBuf::from("a,,b"));
        assert_eq!(
            DriveSpec::parse_sd("card,,1.img,readonly=on").unwrap().file,
            PathBuf::from("card,1.img")
        );
        assert_eq!(
            DriveSpec::parse("file=a.img,readonly=on,readonly=off")
                .unwrap_err()
                .to_string(),
            "--drive readonly= is given twice"
        );
        assert_eq!(
            DriveSpec::parse("file=a.img,file=b.img").unwrap_err().to_string(),
            "--drive file= is given twice"
        );
        assert_eq!(
            DriveSpec::parse("file=").unwrap_err().to_string(),
            "--drive file= names no file"
        );
        assert_eq!(
            DeviceSpec::parse("virtio-blk,drive=a,drive=b").unwrap_err().to_string(),
            "--device virtio-blk: drive= is given twice"
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
