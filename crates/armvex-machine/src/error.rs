//! The machine crate's error: why a machine could not be built, loaded or run on.
//!
//! `Display` is the one-line message the CLI prints after `armvex: `. Errors of the crates
//! below keep their own types ([`BusError`], [`DeviceError`], [`DiskError`], [`NetError`],
//! [`MacError`], [`StateError`], [`CpuError`]), so a caller can tell a disk that is locked from a board
//! file that is wrong; the machine's own checks (option values, board files, guest images,
//! recordings, debugger edits) are [`MachineError::Invalid`], whose message names the option,
//! file or field at fault.

use armvex_bus::{BusError, StateError};
use armvex_cpu::CpuError;
use armvex_devices::DeviceError;
use armvex_net::NetError;
use armvex_virtio::{DiskError, MacError};
use std::fmt;

/// Why a machine could not be built, loaded or run on.
#[derive(Debug)]
pub enum MachineError {
    /// RAM or a device could not be placed on the bus.
    Bus(BusError),
    /// A device refused its configuration or image.
    Device(DeviceError),
    /// A disk image could not be opened.
    Disk(DiskError),
    /// A network backend could not start, or a `--netdev` value does not parse.
    Net(NetError),
    /// A `mac=` value that is no unicast MAC address.
    Mac(MacError),
    /// A saved state that does not fit this machine.
    State(StateError),
    /// The CPU refused: a saved core state that does not fit, or `--trace`'s disassembler.
    Cpu(CpuError),
    /// Anything the machine itself refuses: an option value, a board file, a guest image, a
    /// recording, a debugger edit. The message names what is at fault.
    Invalid(String),
}

impl fmt::Display for MachineError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            MachineError::Bus(e) => e.fmt(f),
            MachineError::Device(e) => e.fmt(f),
            MachineError::Disk(e) => e.fmt(f),
            MachineError::Net(e) => e.fmt(f),
            MachineError::Mac(e) => e.fmt(f),
            MachineError::State(e) => e.fmt(f),
            MachineError::Cpu(e) => e.fmt(f),
            MachineError::Invalid(message) => f.write_str(message),
        }
    }
}

impl std::error::Error for MachineError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            MachineError::Bus(e) => Some(e),
            MachineError::Device(e) => Some(e),
            MachineError::Disk(e) => Some(e),
            MachineError::Net(e) => Some(e),
            MachineError::Mac(e) => Some(e),
            MachineError::State(e) => Some(e),
            MachineError::Cpu(e) => Some(e),
            MachineError::Invalid(_) => None,
        }
    }
}

macro_rules! from {
    ($($t:ident => $v:ident),*) => {$(
        impl From<$t> for MachineError {
            fn from(e: $t) -> MachineError {
                MachineError::$v(e)
            }
        }
    )*};
}
from!(BusError => Bus, DeviceError => Device, DiskError => Disk, NetError => Net, MacError => Mac, StateError => State, CpuError => Cpu);

/// The machine's own checks are written as messages (`Err(format!(...))`, `?` on a helper
/// that returns one): they become [`MachineError::Invalid`].
impl From<String> for MachineError {
    fn from(message: String) -> MachineError {
        MachineError::Invalid(message)
    }
}

impl From<&str> for MachineError {
    fn from(message: &str) -> MachineError {
        MachineError::Invalid(message.to_string())
    }
}

/// Callers that still report errors as strings keep working with `?`.
impl From<MachineError> for String {
    fn from(e: MachineError) -> String {
        e.to_string()
    }
}
