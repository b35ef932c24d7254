//! Board descriptions, read from the TOML files in `boards/` (built into the binary).
//!
//! A board file says everything about a machine a learner needs to find: which CPU, where RAM
//! and the other memories are, where each device sits and which interrupt it raises. The
//! machine is assembled from it in [`crate::Machine::new`].

use crate::error::MachineError;
use serde::Deserialize;

/// The board files, by name.
const BOARDS: &[(&str, &str)] = &[
    ("vexpress-a9", include_str!("../../../boards/vexpress-a9.toml")),
    ("vexpress-a15", include_str!("../../../boards/vexpress-a15.toml")),
];

/// The text of the built-in board file called `name`.
pub fn board_file(name: &str) -> Option<&'static str> {
    BOARDS.iter().find(|(n, _)| *n == name).map(|(_, text)| *text)
}

/// The names of the known boards.
pub fn board_names() -> Vec<&'static str> {
    BOARDS.iter().map(|(n, _)| *n).collect()
}

/// The CPU a board has.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum CpuKind {
    /// ARM Cortex-A9 (ARMv7-A with the Security and Multiprocessing extensions).
    CortexA9,
    /// ARM Cortex-A15 (adds the Virtualization extensions and the generic timer).
    CortexA15,
}

/// The interrupt controller of a board's MPCore region.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum GicKind {
    /// GICv1, in the Cortex-A9 MPCore's private region (with SCU and timers).
    Gicv1,
    /// GICv2, in the Cortex-A15 MPCore's private region.
    Gicv2,
}

/// The command interface of a NOR flash.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum FlashKind {
    /// The Intel command set, as QEMU's pflash_cfi01.
    Cfi01,
}

/// The model of a memory-mapped device (see the table in `armvex_devices`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum DeviceKind {
    /// Versatile Express system registers.
    VexpressSysregs,
    /// PL011 UART.
    Pl011,
    /// SP804 dual timer.
    Sp804,
    /// PL031 real-time clock.
    Pl031,
    /// L2C-310 cache controller.
    #[serde(rename = "l2c-310")]
    L2c310,
    /// SP810 system controller.
    Sp810,
    /// A virtio-mmio transport.
    VirtioMmio,
    /// PL181 MMCI (the SD card slot).
    Pl181,
    /// PL050 KMI (PS/2 keyboard or mouse).
    Pl050,
    /// PL111 CLCD.
    Pl111,
    /// SP805 watchdog.
    Sp805,
    /// PL041 AACI.
    Pl041,
    /// PL341 memory controller (identification only).
    Pl341,
    /// PL354 memory controller (identification only).
    Pl354,
    /// SMSC LAN9118 Ethernet.
    Lan9118,
    /// The SBCon I2C bus: not modelled, reads as zero.
    SbconI2c,
}

impl DeviceKind {
    /// The name the board files use.
    pub fn as_str(self) -> &'static str {
        match self {
            DeviceKind::VexpressSysregs => "vexpress-sysregs",
            DeviceKind::Pl011 => "pl011",
            DeviceKind::Sp804 => "sp804",
            DeviceKind::Pl031 => "pl031",
            DeviceKind::L2c310 => "l2c-310",
            DeviceKind::Sp810 => "sp810",
            DeviceKind::VirtioMmio => "virtio-mmio",
            DeviceKind::Pl181 => "pl181",
            DeviceKind::Pl050 => "pl050",
            DeviceKind::Pl111 => "pl111",
            DeviceKind::Sp805 => "sp805",
            DeviceKind::Pl041 => "pl041",
            DeviceKind::Pl341 => "pl341",
            DeviceKind::Pl354 => "pl354",
            DeviceKind::Lan9118 => "lan9118",
            DeviceKind::SbconI2c => "sbcon-i2c",
        }
    }
}

/// Compare with a board file's spelling (`d.kind == "virtio-mmio"` keeps working).
impl PartialEq<&str> for DeviceKind {
    fn eq(&self, other: &&str) -> bool {
        self.as_str() == *other
    }
}

/// A board description.
#[derive(Clone, Debug, Deserialize)]
#[serde(rename_all = "kebab-case", deny_unknown_fields)]
pub struct Board {
    pub name: String,
    pub summary: String,
    /// The CPU model.
    pub cpu: CpuKind,
    pub max_cpus: usize,
    /// Linux machine type number (ATAG boots).
    pub machine_id: u32,
    pub dtb_compatible: String,
    pub ram: Ram,
    #[serde(default)]
    pub memory: Vec<Memory>,
    pub mpcore: MpCore,
    #[serde(default)]
    pub device: Vec<DeviceEntry>,
}

/// Main RAM.
#[derive(Clone, Debug, Deserialize)]
#[serde(rename_all = "kebab-case", deny_unknown_fields)]
pub struct Ram {
    pub base: u32,
    pub default_size: String,
    pub max_size: String,
}

/// Another RAM-like memory.
#[derive(Clone, Debug, Deserialize)]
#[serde(rename_all = "kebab-case", deny_unknown_fields)]
pub struct Memory {
    pub name: String,
    pub base: u32,
    pub size: String,
    /// The guest can read and execute it but not write it directly (a flash's writes are
    /// commands to it, see `flash`); loaders may still put an image there.
    #[serde(default)]
    pub read_only: bool,
    /// A second address where the whole memory also appears.
    pub alias_base: Option<u32>,
    /// The memory is a NOR flash with this command interface: "cfi01" (Intel command set, as
    /// QEMU's pflash_cfi01; see `armvex_devices::pflash`). Flashes take `--pflash` images in
    /// the order of the board file.
    pub flash: Option<FlashKind>,
}

/// The MPCore private region (interrupt controller and per-CPU timers).
#[derive(Clone, Debug, Deserialize)]
#[serde(rename_all = "kebab-case", deny_unknown_fields)]
pub struct MpCore {
    pub base: u32,
    /// The interrupt controller.
    pub gic: GicKind,
    /// Number of interrupt IDs the GIC implements.
    pub interrupts: u32,
    /// Offsets of the GIC distributor and CPU interface in the region.
    pub gic_distributor_offset: u32,
    pub gic_cpu_offset: u32,
    pub global_timer_ppi: Option<u32>,
    pub twd_timer_ppi: Option<u32>,
    pub twd_watchdog_ppi: Option<u32>,
    pub generic_timer_secure_ppi: Option<u32>,
    pub generic_timer_nonsecure_ppi: Option<u32>,
    pub generic_timer_virtual_ppi: Option<u32>,
    pub generic_timer_hyp_ppi: Option<u32>,
}

/// A memory-mapped device.
#[derive(Clone, Debug, Deserialize)]
#[serde(rename_all = "kebab-case", deny_unknown_fields)]
pub struct DeviceEntry {
    pub name: String,
    /// The device model, e.g. "pl011".
    pub kind: DeviceKind,
    pub base: u32,
    /// Size of the register window (4 KiB if not given).
    pub size: Option<u32>,
    /// Board SPI numbers of its interrupt outputs (GIC ID = SPI + 32).
    #[serde(default)]
    pub spi: Vec<u32>,
    /// The daughterboard's PROCID0 value (system registers only).
    pub proc_id: Option<u32>,
    /// The frequency of the clock the device counts (watchdogs).
    pub clock_hz: Option<u32>,
}

impl Board {
    /// The board called `name`.
    pub fn by_name(name: &str) -> Result<Board, MachineError> {
        let (_, text) = BOARDS
            .iter()
            .find(|(n, _)| *n == name)
            .ok_or_else(|| format!("unknown machine '{name}' (known: {})", board_names().join(", ")))?;
        Board::parse(name, text)
    }

    /// The board `text` describes (a board file's contents; `name` for messages). A bad file
    /// is a one-line error naming the field at fault and its line, e.g. "board file for x is
    /// invalid: line 12, field `kind`: unknown variant `pl999`, expected one of ...".
    pub fn parse(name: &str, text: &str) -> Result<Board, MachineError> {
        toml::from_str(text).map_err(|e| {
            let mut at = String::new();
            if let Some(span) = e.span() {
                let start = span.start.min(text.len());
                let line_start = text[..start].rfind('\n').map_or(0, |i| i + 1);
                let line_end = text[start..].find('\n').map_or(text.len(), |i| start + i);
                let line = &text[line_start..line_end];
                at = format!("line {}", text[..line_start].matches('\n').count() + 1);
                if let Some((key, _)) = line.split_once('=') {
                    let key = key.trim();
                    if !key.is_empty() && !key.starts_with('[') {
                        at.push_str(&format!(", field `{key}`"));
                    }
                } else if let Some(table) = line.trim().strip_prefix('[') {
                    at.push_str(&format!(", table [{}", table.trim_start_matches('[')));
                }
                at.push_str(": ");
            }
            let message = e.message().lines().next().unwrap_or_default().to_string();
            MachineError::Invalid(format!("board file for {name} is invalid: {at}{message}"))
        })
    }

    /// The device called `name`.
    pub fn device(&self, name: &str) -> Option<&DeviceEntry> {
        self.device.iter().find(|d| d.name == name)
    }

    /// The memory called `name`.
    pub fn memory(&self, name: &str) -> Option<&Memory> {
        self.memory.iter().find(|m| m.name == name)
    }

    /// RAM size used when none is given.
    pub fn default_ram_size(&self) -> u64 {
        parse_size(&self.ram.default_size).expect("board files have valid sizes")
    }

    /// Largest RAM size the board takes.
    pub fn max_ram_size(&self) -> u64 {
        parse_size(&self.ram.max_size).expect("board files have valid sizes")
    }
}

/// Parse a memory size the way QEMU's `-m` does: a number with an optional suffix K, M, G or
/// T (either case); a bare number means MiB.
pub fn parse_size(s: &str) -> Result<u64, MachineError> {
    let t = s.trim();
    let bad = || format!("bad memory size '{s}' (examples: 512M, 1G)");
    let (digits, unit) = match t.char_indices().find(|(_, c)| !c.is_ascii_digit()) {
        Some((i, _)) => (&t[..i], &t[i..]),
        None => (t, "M"),
    };
    let n: u64 = digits.parse().map_err(|_| bad())?;
    let shift = match unit {
        "K" | "k" | "KiB" => 10,
        "M" | "m" | "MiB" => 20,
        "G" | "g" | "GiB" => 30,
        "T" | "t" | "TiB" => 40,
        _ => return Err(bad().into()),
    };
    Ok(n.checked_mul(1 << shift).filter(|v| *v > 0).ok_or_else(bad)?)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn both_boards_parse() {
        for name in board_names() {
            let b = Board::by_name(name).unwrap();
            assert_eq!(b.name, name);
            assert_eq!(b.default_ram_size(), 128 << 20);
            assert_eq!(b.device.iter().filter(|d| d.kind == DeviceKind::VirtioMmio).count(), 4);
            assert_eq!(b.device.iter().filter(|d| d.kind == DeviceKind::Pl011).count(), 4);
        }
        assert!(
            Board::by_name("vexpress-a7")
                .unwrap_err()
                .to_string()
                .contains("unknown machine")
        );
    }

    #[test]
    fn sizes() {
        assert_eq!(parse_size("512M").unwrap(), 512 << 20);
        assert_eq!(parse_size("1G").unwrap(), 1 << 30);
        assert_eq!(parse_size("256").unwrap(), 256 << 20);
        assert_eq!(parse_size("64k").unwrap(), 64 << 10);
        for bad in ["", "0", "1X", "-5M", "1.5G", "M", "99999999999999G"] {
            assert!(parse_size(bad).is_err(), "{bad}");
        }
    }
}
