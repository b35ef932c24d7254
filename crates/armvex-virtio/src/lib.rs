//! # armvex-virtio: virtio over MMIO, and the devices behind it
//!
//! Virtio (OASIS virtio 1.2) is a standard interface between a guest driver and a virtual
//! device. It has these layers, one module each:
//!
//! * [`transport`]: **virtio-mmio** (virtio 1.2 §4.2), a block of 32-bit registers through
//!   which the driver discovers the device, negotiates features, sets up queues and rings the
//!   doorbell, and an interrupt line through which the device answers. Both register layouts
//!   are implemented: *legacy* (version 1, what QEMU's vexpress boards show by default) and
//!   *modern* (version 2), chosen when the transport is built.
//! * [`queue`]: **split virtqueues** (§2.7), the rings in guest memory through which requests
//!   and their buffers travel. All validation of guest-written ring data happens there.
//! * [`device`]: the seam between the two, the trait [`VirtioDevice`] that every device type
//!   implements, and [`Queues`], what a device sees of its queues. The transport knows no
//!   device type: adding one is a new module here, and no line of the transport changes.
//! * device types, one module each:
//!   - [`blk`]: **virtio-blk** (§5.2), a disk backed by a raw image file ([`disk`] is its host
//!     side: the image, read-only, written in place or under a throwaway overlay, with undo
//!     logs for reverse execution);
//!   - [`net`]: **virtio-net** (§5.1), an Ethernet card whose host side is an `armvex_net`
//!     backend (user-mode networking through libslirp, a tap);
//!   - [`rng`]: **virtio-rng** (§5.4), random bytes from a seeded ChaCha20 or, recorded as host
//!     input, from the host;
//!   - [`console`]: **virtio-console** (§5.3), a second console (`hvc0`) bound to a host socket
//!     or file.
//!
//! The transport does not know which device sits behind it: the machine builds a
//! [`VirtioMmio`] per slot of the board and attaches whatever device the command line asks
//! for (or none: an empty slot reports device ID 0 and Linux skips it).
//!
//! ```no_run
//! use armvex_virtio::{BlockDevice, DiskImage, DiskMode, SharedDisk, VirtioMmio};
//! use std::{cell::RefCell, rc::Rc};
//! # fn main() -> Result<(), String> {
//! let image = DiskImage::open(std::path::Path::new("debian.img"), DiskMode::InPlace)?;
//! // The machine keeps a handle to the disk, to save and rewind it with the machine.
//! let disk: SharedDisk = Rc::new(RefCell::new(image));
//! // vexpress "SPI 40" = GIC interrupt ID 72.
//! let transport = VirtioMmio::new(false, 72, Some(Box::new(BlockDevice::new(disk.clone()))));
//! let empty_slot = VirtioMmio::new(false, 73, None);
//! # let _ = (transport, empty_slot);
//! # Ok(())
//! # }
//! ```
//!
//! ## Determinism
//!
//! A notification (a guest write to `QueueNotify`) is handled synchronously: the device reads
//! its requests, does the host file I/O, fills the used ring and raises the used-buffer
//! interrupt before the write returns, all at the virtual time of that write. Input from the
//! host (network frames, console bytes, host entropy) never reaches a device directly: the
//! machine journals it and delivers it between rounds (`Device::host_input`), so a recorded
//! session replays exactly. Optionally
//! ([`VirtioMmio::with_interrupt_delay`]) the interrupt is raised a fixed number of virtual
//! nanoseconds later through a bus timer. Either way the same guest run produces the same
//! interrupts at the same instruction counts.

#![warn(missing_docs)]

pub mod blk;
pub mod console;
pub mod device;
pub mod disk;
pub mod error;
#[cfg(any(test, feature = "fuzzing"))]
pub mod fuzzing;
pub mod net;
pub mod queue;
pub mod rng;
pub mod transport;

pub use blk::BlockDevice;
pub use console::ConsoleDevice;
pub use device::{Queues, VirtioDevice};
pub use disk::{BaseIdentity, DiskImage, DiskMode, DiskUndo, SharedDisk};
pub use error::{DiskError, LockError, MacError};
pub use net::NetDevice;
pub use queue::{DescriptorChain, QueueError, SplitQueue};
pub use rng::{EntropySource, RngDevice};
pub use transport::{RecentChain, TransportState, VirtioMmio};

/// Feature bits shared by all device types (virtio 1.2 §6, "Reserved Feature Bits").
pub mod features {
    /// Legacy: interrupt when the available ring becomes empty even if suppressed.
    pub const NOTIFY_ON_EMPTY: u64 = 1 << 24;
    /// Legacy: the device accepts any framing of a request into buffers.
    pub const ANY_LAYOUT: u64 = 1 << 27;
    /// Indirect descriptor tables (§2.7.5.3).
    pub const INDIRECT_DESC: u64 = 1 << 28;
    /// `used_event`/`avail_event` notification suppression (§2.7.10).
    pub const EVENT_IDX: u64 = 1 << 29;
    /// Compliance with virtio 1.x; required by modern virtio-mmio (§4.2.2).
    pub const VERSION_1: u64 = 1 << 32;
    /// The device sits behind an IOMMU: never offered (guest physical addresses are used).
    pub const ACCESS_PLATFORM: u64 = 1 << 33;
    /// Packed virtqueues (§2.8): never offered (only split queues are implemented).
    pub const RING_PACKED: u64 = 1 << 34;
    /// Bits a device type may define: 0..=23 and 50..=63 (of the 64 a transport can carry).
    pub const DEVICE_TYPE_MASK: u64 = 0x00ff_ffff | !((1u64 << 50) - 1);
}

#[cfg(test)]
mod testing;
