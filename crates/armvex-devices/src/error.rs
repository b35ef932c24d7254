//! The devices' errors: a configuration a device cannot have, or an image it cannot use.
//!
//! Each variant's `Display` is the one-line message a user sees (after `armvex: `). Guest
//! accesses never fail this way: a device answers every register access the way its manual
//! (or QEMU) says.

use std::fmt;

/// Why a device could not be built, or a saved state not put back.
#[derive(Debug)]
pub enum DeviceError {
    /// A GIC for no CPUs or more than the bus's [`armvex_bus::MAX_CPUS`].
    GicCpus(usize),
    /// A GIC whose interrupt count is not a multiple of 32 in 32..=`MAX_IRQ_IDS`.
    GicInterrupts(usize),
    /// A GIC with a priority width outside 4..=8 bits.
    GicPriorityBits(u8),
    /// A flash image whose size is not the flash's.
    FlashImageSize {
        /// The image, as [`armvex_virtio::DiskImage::describe`] names it.
        image: String,
        /// The flash's size in bytes.
        size: u32,
        /// The image's size in bytes.
        len: u64,
    },
    /// A flash image that could not be read.
    FlashRead {
        /// The image.
        image: String,
        /// The host's answer.
        source: std::io::Error,
    },
    /// An SD card image whose size is not a non-zero multiple of 512 bytes.
    SdImageSize {
        /// The image.
        image: String,
        /// Its size in bytes.
        len: u64,
    },
    /// A saved SD card state of a card of another size.
    SdStateSize {
        /// The size the state was saved with.
        saved: u64,
        /// This card's size.
        ours: u64,
    },
    /// A saved SD card state with values no card can have.
    SdStateInvalid,
}

impl fmt::Display for DeviceError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            DeviceError::GicCpus(n) => write!(f, "the GIC takes 1 to {} CPUs, not {n}", armvex_bus::MAX_CPUS),
            DeviceError::GicInterrupts(n) => write!(
                f,
                "the GIC takes a multiple of 32 interrupts from 32 to {}, not {n}",
                armvex_bus::irq::MAX_IRQ_IDS
            ),
            DeviceError::GicPriorityBits(n) => write!(f, "the GIC has 4 to 8 priority bits, not {n}"),
            DeviceError::FlashImageSize { image, size, len } => write!(
                f,
                "{image}: the flash is {} MiB ({size} bytes), the image has {len} bytes",
                size >> 20
            ),
            DeviceError::FlashRead { image, source } => write!(f, "cannot read {image}: {source}"),
            DeviceError::SdImageSize { image, len } => write!(
                f,
                "SD card image {image} is {len} bytes: an SD card's size must be a non-zero multiple of 512 bytes"
            ),
            DeviceError::SdStateSize { saved, ours } => {
                write!(f, "is of a {saved}-byte SD card, this one has {ours} bytes")
            }
            DeviceError::SdStateInvalid => write!(f, "holds values an SD card cannot have"),
        }
    }
}

impl std::error::Error for DeviceError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            DeviceError::FlashRead { source, .. } => Some(source),
            _ => None,
        }
    }
}

/// Callers that still report errors as strings keep working with `?`.
impl From<DeviceError> for String {
    fn from(e: DeviceError) -> String {
        e.to_string()
    }
}
