//! The seam between a virtio transport and a device type.
//!
//! A transport ([`crate::VirtioMmio`]) implements what every virtio device shares (§2: status,
//! feature negotiation, queues, interrupts); a *backend* implements one device type (§5: its ID,
//! its feature bits, its configuration space and what it does with requests). The board only
//! places transports; which backend sits behind each is decided when the machine is built,
//! from the command line. (The 2011 QEMU RFC for virtio-mmio tied device and transport
//! together in the board code; later QEMU put a bus between them. This trait is that bus.)

use crate::queue::{QueueError, SplitQueue};
use armvex_bus::PhysicalMemory;
use armvex_bus::state::StateError;

/// A virtio device type behind a transport.
pub trait VirtioBackend {
    /// Short name for logs and traces, e.g. "virtio-blk".
    fn name(&self) -> &str;

    /// Virtio device ID (§5: 2 = block). Never 0, which means "no device".
    fn device_id(&self) -> u32;

    /// The device-type feature bits offered (bits 0..=23 and 50..=63; anything else is
    /// ignored). The transport adds the ring features it implements (INDIRECT_DESC,
    /// EVENT_IDX, and VERSION_1 when modern).
    fn device_features(&self) -> u64;

    /// Read `data.len()` bytes (1, 2, 4 or 8) of the configuration space at `offset`,
    /// little-endian. Bytes beyond the configuration structure read as zero.
    fn read_config(&self, offset: u32, data: &mut [u8]);

    /// The driver writes `data` at `offset` of the configuration space.
    fn write_config(&mut self, offset: u32, data: &[u8]);

    /// `QueueNumMax` of each queue; the length is the number of queues.
    fn queue_max_sizes(&self) -> Vec<u16>;

    /// The driver set DRIVER_OK with these negotiated features (device and transport bits).
    fn activate(&mut self, _negotiated_features: u64) {}

    /// The driver notified queue `index`: take its available chains with
    /// [`SplitQueue::pop`], handle them and return them with [`SplitQueue::add_used`]. An
    /// `Err` means the queue is broken (the transport sets DEVICE_NEEDS_RESET); a request that
    /// is merely wrong is completed with an error status of the device type instead. The
    /// transport decides about interrupts afterwards.
    fn process_queue(
        &mut self,
        index: usize,
        queue: &mut SplitQueue,
        memory: &mut PhysicalMemory,
    ) -> Result<(), QueueError>;

    /// The driver reset the device (Status = 0): forget any per-driver state.
    fn reset(&mut self);

    /// Shared memory region `id` (§2.10) as (guest physical base, length), if it exists.
    fn shared_memory_region(&self, _id: u32) -> Option<(u64, u64)> {
        None
    }

    /// The device type's own guest-visible state, everything it keeps between requests
    /// (configuration fields the driver wrote, modes derived from the negotiated features), as
    /// bytes made with [`armvex_bus::state::encode`]. The transport saves its own registers and
    /// the queues; host resources (image files) are not state. Saved within the transport's
    /// state by [`crate::VirtioMmio`]'s `Device::save_state`.
    fn save_state(&self) -> Vec<u8>;

    /// Put back a state made by [`VirtioBackend::save_state`] of a backend built the same way
    /// (configuration that comes from the command line may be checked). Bytes that do not fit
    /// are a one-line error, never a panic; on error nothing is changed.
    fn load_state(&mut self, state: &[u8]) -> Result<(), StateError>;
}
