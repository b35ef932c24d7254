//! The bus's errors: what can go wrong while a machine is being put together.
//!
//! Every variant's `Display` is the one-line message a user sees (the CLI prints it after
//! `armvex: `), so the wording is part of the interface. None of these can happen while the
//! guest runs: guest accesses that hit nothing read as zero (see the crate docs).

use std::fmt;

/// Why RAM could not be mapped or a device could not be placed.
#[derive(Debug)]
pub enum BusError {
    /// A RAM region (or alias window) whose size or base is not a non-zero multiple of 4 KiB.
    RegionNotPageAligned {
        /// The region's name (an alias is "NAME alias").
        name: String,
    },
    /// A RAM region that would end above the 40-bit physical address space.
    RegionBeyond40Bits {
        /// The region's name.
        name: String,
    },
    /// Two RAM regions (or a region and an alias window) that overlap.
    RegionOverlap {
        /// The region's name.
        name: String,
    },
    /// The host would not give the memory for a region (or a ROM device's view of it).
    Allocate {
        /// What the memory was for: "guest RAM for NAME" or "the view of NAME".
        what: String,
        /// Its size in MiB.
        mib: u64,
        /// The host's answer.
        source: std::io::Error,
    },
    /// An alias window of a region that does not exist.
    UnknownAliasTarget {
        /// The region the alias names.
        of: String,
    },
    /// A region name that no RAM region has.
    NoSuchRegion {
        /// The name asked for.
        name: String,
    },
    /// A device range that is empty or wraps past 4 GiB.
    BadDeviceRange {
        /// The device's name.
        device: String,
        /// Its base address.
        base: u32,
        /// Its size in bytes.
        size: u32,
    },
    /// A device range that overlaps RAM.
    DeviceOverlapsRam {
        /// The device's name.
        device: String,
        /// Its base address.
        base: u32,
    },
    /// A device range that overlaps another device.
    DeviceOverlap {
        /// The new device's name.
        device: String,
        /// Its base address.
        base: u32,
        /// The device already there.
        other: String,
        /// That device's base address.
        other_base: u32,
    },
}

impl fmt::Display for BusError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            BusError::RegionNotPageAligned { name } => {
                write!(
                    f,
                    "RAM region {name} must be a non-zero multiple of 4 KiB at a 4 KiB boundary"
                )
            }
            BusError::RegionBeyond40Bits { name } => {
                write!(
                    f,
                    "RAM region {name} ends beyond the 40-bit physical address space (1 TiB)"
                )
            }
            BusError::RegionOverlap { name } => write!(f, "RAM region {name} overlaps another region"),
            BusError::Allocate { what, mib, source } => write!(f, "cannot allocate {mib} MiB of {what}: {source}"),
            BusError::UnknownAliasTarget { of } => write!(f, "RAM alias of unknown region {of}"),
            BusError::NoSuchRegion { name } => write!(f, "no memory region called {name}"),
            BusError::BadDeviceRange { device, base, size } => {
                write!(f, "device {device} has a bad range {base:#010x}+{size:#x}")
            }
            BusError::DeviceOverlapsRam { device, base } => write!(f, "device {device} at {base:#010x} overlaps RAM"),
            BusError::DeviceOverlap {
                device,
                base,
                other,
                other_base,
            } => write!(
                f,
                "device {device} at {base:#010x} overlaps {other} at {other_base:#010x}"
            ),
        }
    }
}

impl std::error::Error for BusError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            BusError::Allocate { source, .. } => Some(source),
            _ => None,
        }
    }
}

/// Callers that still report errors as strings (`Result<_, String>` and `?`) keep working.
impl From<BusError> for String {
    fn from(e: BusError) -> String {
        e.to_string()
    }
}
