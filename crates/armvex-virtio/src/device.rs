//! The seam between the virtio-mmio transport and the device types behind it.
//!
//! Virtio (OASIS virtio 1.2) splits a device in two. What every device shares — status, feature
//! negotiation, virtqueues, interrupts (§2, §3) — is the *transport*'s business
//! ([`crate::VirtioMmio`], §4.2). What makes a disk a disk or a network card a network card —
//! its device ID, its feature bits, its configuration space and what it does with the buffers
//! the driver gives it (§5) — is the *device type*'s, behind the one trait of this module,
//! [`VirtioDevice`].
//!
//! The board places transports only. Which device sits behind each is chosen when the machine
//! is built, from the command line (`--device virtio-net,netdev=n0,slot=2`). The 2011 QEMU RFC
//! that introduced virtio-mmio tied device and transport together in the board code; later
//! QEMU put a bus between them. This trait is that bus: a new device type is a new module that
//! implements it, and the transport does not change.
//!
//! ## How a device type works
//!
//! The transport calls the device at three kinds of moments, always at a deterministic virtual
//! time:
//!
//! * **configuration**: [`VirtioDevice::read_config`] and [`VirtioDevice::write_config`] for the
//!   driver's accesses at 0x100 and up; [`VirtioDevice::activate`] when the driver sets
//!   DRIVER_OK with the features both sides agreed on; [`VirtioDevice::reset`] when it writes 0
//!   to Status;
//! * **a notification**: the driver wrote a queue's index to QueueNotify (§4.2.3.3):
//!   [`VirtioDevice::queue_notify`] takes the queue's available chains ([`Queues::pop`]),
//!   handles them and returns them ([`Queues::add_used`]);
//! * **host input**: something arrived from the host for this device — a network frame, bytes
//!   for a console, entropy — delivered through the machine's host-input journal (so that a
//!   recorded session replays exactly): [`VirtioDevice::host_input`]. The device puts it in
//!   the buffers the driver made available, or keeps it until the driver makes some.
//!
//! In the last two cases the device sees its queues and guest RAM through [`Queues`]. After it
//! returns, the transport decides about interrupts: a used-buffer interrupt if any queue got
//! used buffers and the driver wants to hear about it (§2.7.10), a configuration-change
//! interrupt if the device called [`Queues::config_changed`]. An `Err` from the device means a
//! queue broke a rule of §2.7: the transport sets DEVICE_NEEDS_RESET (§2.1.2).
//!
//! A device never blocks and never waits for the host: output to the host (a frame the guest
//! sends, console bytes) is written right away, and input from the host only comes in through
//! [`VirtioDevice::host_input`].

use crate::queue::{DescriptorChain, QueueError, SplitQueue};
use armvex_bus::PhysicalMemory;
use armvex_bus::state::StateError;

/// A virtio device type behind a transport (§5).
pub trait VirtioDevice {
    /// Short name for logs and traces, e.g. "virtio-blk".
    fn name(&self) -> &str;

    /// Virtio device ID (§5: 1 network, 2 block, 3 console, 4 entropy). Never 0, which means
    /// "no device".
    fn device_id(&self) -> u32;

    /// The device-type feature bits offered (bits 0..=23 and 50..=63; anything else is
    /// ignored). The transport adds the ring features it implements (INDIRECT_DESC,
    /// EVENT_IDX, and VERSION_1 when modern).
    fn device_features(&self) -> u64;

    /// Read `data.len()` bytes (1, 2, 4 or 8) of the configuration space at `offset`,
    /// little-endian. Bytes beyond the configuration structure read as zero.
    fn read_config(&self, offset: u32, data: &mut [u8]);

    /// The driver writes `data` at `offset` of the configuration space (ignored unless the
    /// device type has writable fields).
    fn write_config(&mut self, offset: u32, data: &[u8]) {
        tracing::debug!(target: "virtio", "{}: config write {data:?} at {offset:#x} ignored", self.name());
    }

    /// `QueueNumMax` of each queue; the length is the number of queues.
    fn queue_max_sizes(&self) -> Vec<u16>;

    /// The driver set DRIVER_OK with these negotiated features (device and transport bits).
    fn activate(&mut self, _negotiated_features: u64) {}

    /// The driver notified queue `index`: take its available chains with [`Queues::pop`],
    /// handle them and return them with [`Queues::add_used`]. A request that is merely wrong is
    /// completed with an error of the device type; an `Err` means the queue is broken.
    fn queue_notify(&mut self, index: usize, queues: &mut Queues) -> Result<(), QueueError>;

    /// Host input for this device (one network frame, console bytes, entropy), delivered by the
    /// machine at a deterministic point through its journal. The default ignores it.
    fn host_input(&mut self, data: &[u8], _queues: &mut Queues) -> Result<(), QueueError> {
        tracing::debug!(target: "virtio", "{}: {} bytes of host input ignored", self.name(), data.len());
        Ok(())
    }

    /// The driver reset the device (Status = 0): forget any per-driver state.
    fn reset(&mut self);

    /// Shared memory region `id` (§2.10) as (guest physical base, length), if it exists.
    fn shared_memory_region(&self, _id: u32) -> Option<(u64, u64)> {
        None
    }

    /// The device type's own guest-visible state, everything it keeps between requests
    /// (configuration fields the driver wrote, modes derived from the negotiated features,
    /// input not yet handed to the driver), as bytes made with [`armvex_bus::state::encode`].
    /// The transport saves its own registers and the queues; host resources (image files,
    /// sockets) are not state. Saved within the transport's state by [`crate::VirtioMmio`]'s
    /// `Device::save_state`.
    fn save_state(&self) -> Vec<u8>;

    /// Put back a state made by [`VirtioDevice::save_state`] of a device built the same way
    /// (configuration that comes from the command line may be checked). Bytes that do not fit
    /// are a one-line error, never a panic; on error nothing is changed.
    fn load_state(&mut self, state: &[u8]) -> Result<(), StateError>;
}

/// What a device may touch while it handles a notification or host input: the transport's
/// queues, guest RAM, and the configuration-change interrupt.
///
/// Queues that do not exist, are not live, or belong to a device that is not running
/// (before DRIVER_OK, or while it needs a reset) have nothing available and take nothing.
pub struct Queues<'a> {
    queues: &'a mut [SplitQueue],
    memory: &'a mut PhysicalMemory,
    running: bool,
    config_changed: bool,
}

impl<'a> Queues<'a> {
    /// The queues of a device that is `running` (DRIVER_OK set, no reset needed).
    pub fn new(queues: &'a mut [SplitQueue], memory: &'a mut PhysicalMemory, running: bool) -> Self {
        Queues {
            queues,
            memory,
            running,
            config_changed: false,
        }
    }

    fn live(&mut self, index: usize) -> Option<&mut SplitQueue> {
        if !self.running {
            return None;
        }
        self.queues.get_mut(index).filter(|q| q.ready)
    }

    /// True if queue `index` exists and the driver has made it live (and the device runs).
    pub fn is_live(&self, index: usize) -> bool {
        self.running && self.queues.get(index).is_some_and(|q| q.ready)
    }

    /// Take the next chain the driver made available on queue `index`, validated (see
    /// [`SplitQueue::pop`]), or `None` if there is none.
    pub fn pop(&mut self, index: usize) -> Result<Option<DescriptorChain>, QueueError> {
        let memory = &mut *self.memory;
        match self.queues.get_mut(index).filter(|q| q.ready && self.running) {
            Some(q) => q.pop(memory),
            None => Ok(None),
        }
    }

    /// Give back the last `count` chains taken from queue `index` with [`Queues::pop`] and not
    /// yet returned with [`Queues::add_used`]: the driver still owns them, and the next `pop`
    /// takes them again (a device that found it cannot use them yet).
    pub fn unpop(&mut self, index: usize, count: u16) {
        if let Some(q) = self.live(index) {
            q.next_avail = q.next_avail.wrapping_sub(count);
        }
    }

    /// Return chain `head` of queue `index` to the driver with `len` bytes written into its
    /// writable buffers (§2.7.8).
    pub fn add_used(&mut self, index: usize, head: u16, len: u32) -> Result<(), QueueError> {
        let memory = &mut *self.memory;
        match self.queues.get_mut(index).filter(|q| q.ready && self.running) {
            Some(q) => q.add_used(memory, head, len),
            None => Ok(()),
        }
    }

    /// Guest RAM, to read and write the buffers of a chain (see
    /// [`DescriptorChain::reader`] and [`DescriptorChain::writer`]).
    pub fn memory(&mut self) -> &mut PhysicalMemory {
        self.memory
    }

    /// The device's configuration changed (e.g. a network link went up or down): the
    /// transport bumps ConfigGeneration and raises the configuration-change interrupt (§2.5).
    pub fn config_changed(&mut self) {
        self.config_changed = true;
    }

    /// Whether [`Queues::config_changed`] was called.
    pub fn did_change_config(&self) -> bool {
        self.config_changed
    }
}
