//! The virtio-mmio transport (virtio 1.2 §4.2).
//!
//! A virtio-mmio device is a window of little-endian 32-bit registers (offsets below 0x100)
//! followed by the device-type configuration space (0x100 on). On the Versatile Express
//! motherboard QEMU places four of them at 0x10013000 + n * 0x200, wired to SPI 40..43 (GIC
//! interrupt IDs 72..75).
//!
//! | offset | modern (version 2, §4.2.2) | legacy (version 1, §4.2.4) |
//! |---|---|---|
//! | 0x000 | MagicValue "virt" | same |
//! | 0x004 | Version 2 | 1 |
//! | 0x008 | DeviceID (0: empty slot) | same |
//! | 0x00c | VendorID | same |
//! | 0x010, 0x014 | DeviceFeatures, DeviceFeaturesSel | HostFeatures, HostFeaturesSel |
//! | 0x020, 0x024 | DriverFeatures, DriverFeaturesSel | GuestFeatures, GuestFeaturesSel |
//! | 0x028 | - | GuestPageSize |
//! | 0x030 | QueueSel | same |
//! | 0x034 | QueueNumMax | same |
//! | 0x038 | QueueNum | same |
//! | 0x03c | - | QueueAlign |
//! | 0x040 | - | QueuePFN |
//! | 0x044 | QueueReady | - |
//! | 0x050 | QueueNotify | same |
//! | 0x060, 0x064 | InterruptStatus, InterruptACK | same |
//! | 0x070 | Status | same |
//! | 0x080..0x0a4 | QueueDesc, QueueDriver, QueueDevice (Low/High) | - |
//! | 0x0ac..0x0bc | SHMSel, SHMLen (Low/High), SHMBase (Low/High) | - |
//! | 0x0fc | ConfigGeneration | - |
//! | 0x100+ | configuration space | same |
//!
//! ## Initialisation, as Linux 6.1's `virtio_mmio.c` and `virtio.c` drive it (§3.1)
//!
//! Probe reads MagicValue, Version, DeviceID (0 ends the probe) and VendorID; a legacy driver
//! then writes GuestPageSize = 4096 once. The driver writes Status = 0 (reset), then sets
//! ACKNOWLEDGE (1) and DRIVER (2) by read-modify-write, reads the 64 feature bits through
//! DeviceFeaturesSel = 1 then 0, and writes its choice through DriverFeaturesSel = 1 then 0. A
//! modern driver sets FEATURES_OK (8) and reads Status back: the device clears the bit again if
//! it refuses the features (here: any bit it did not offer, or no VERSION_1). Per queue: select
//! it, check it is not live (QueuePFN or QueueReady reads 0), read QueueNumMax, write QueueNum,
//! then legacy QueueAlign = 4096 and QueuePFN = address / 4096, or modern the three ring
//! addresses and QueueReady = 1. Finally DRIVER_OK (4). The interrupt handler reads
//! InterruptStatus and writes the same value to InterruptACK.
//!
//! ## Choices made here
//!
//! * **Reset** (Status = 0) returns everything to its initial state (status, feature words
//!   and selectors, interrupt status, every queue including its legacy QueueAlign, the
//!   device) except the legacy GuestPageSize, which Linux writes only once at probe (and
//!   ConfigGeneration, which only ever counts up).
//! * **QueueNum** must be a power of two no larger than QueueNumMax (split queues, §2.7); any
//!   other value sets DEVICE_NEEDS_RESET and leaves the size unchanged. So does a queue whose
//!   rings are misaligned or not wholly in RAM when it is made live, and a notified queue
//!   whose chains break a rule of §2.7 (see [`crate::queue`]). DEVICE_NEEDS_RESET (64) stays
//!   set until reset, the device ignores notifications meanwhile, and if DRIVER_OK was set a
//!   configuration-change interrupt tells the driver (§2.1.2).
//! * **Features**: the device's device-type bits plus INDIRECT_DESC and EVENT_IDX, and
//!   VERSION_1 when modern. ACCESS_PLATFORM and RING_PACKED are never offered (nor any other
//!   transport bit the device names).
//! * **Interrupt**: one level-triggered line, high while InterruptStatus (bit 0 used buffer,
//!   bit 1 configuration change) is non-zero.
//! * **Completion timing**: a QueueNotify write is handled synchronously: requests are
//!   completed and the used-buffer interrupt raised before the write returns, at the virtual
//!   time of the write. With [`VirtioMmio::with_interrupt_delay`] the interrupt (not the work)
//!   is instead raised exactly `delay` virtual nanoseconds later, through a bus timer.
//! * **Register accesses** below 0x100 must be aligned 32-bit; others read as zero and are
//!   ignored (as in QEMU). The configuration space takes 1, 2 and 4-byte accesses.
//! * **VendorID** is QEMU's ("QEMU", 0x554d4551), so register dumps compare equal under both.
//!
//! ## Saved state (snapshots, reverse execution)
//!
//! `Device::save_state` saves every register the driver can read back or that decides
//! future behaviour ([`TransportState`]: status, feature words and selectors, the legacy
//! GuestPageSize, interrupt status, and each queue with its ring addresses, legacy QueueAlign
//! and how far the device has got in its rings), the bus timer slot of a delayed interrupt,
//! and the device's own state ([`VirtioDevice::save_state`]). The rings themselves are in
//! guest RAM, saved with RAM. QEMU saves the same facts (`hw/virtio/virtio-mmio.c`,
//! `virtio.c`), though its first version of this transport forgot the legacy alignment.
//! Loading refuses, with a one-line message, a state of another format, register layout,
//! device type, queue layout or offered features; the interrupt line and the delayed
//! interrupt's deadline are put back by the bus, which saves them.

use crate::device::{Queues, VirtioDevice};
use crate::features::{DEVICE_TYPE_MASK, EVENT_IDX, INDIRECT_DESC, VERSION_1};
use crate::queue::{QueueError, SplitQueue};
use armvex_bus::state::{self, StateError};
use armvex_bus::{AccessSize, Device, DeviceContext, TimerSlot};
use serde::{Deserialize, Serialize};
use std::fmt::Display;

/// "virt" in little-endian ASCII.
pub const MAGIC_VALUE: u32 = 0x7472_6976;
/// The VendorID reported: QEMU's, so guest-visible registers match the reference emulator.
pub const VENDOR_ID: u32 = 0x554d_4551;

/// Register offsets (§4.2.2, legacy §4.2.4).
pub mod regs {
    /// R: 0x74726976, "virt" in little-endian ASCII.
    pub const MAGIC_VALUE: u32 = 0x000;
    /// R: the layout, 1 (legacy) or 2 (modern).
    pub const VERSION: u32 = 0x004;
    /// R: the device type (2 block, 1 network, ...); 0 for an empty slot.
    pub const DEVICE_ID: u32 = 0x008;
    /// R: the subsystem vendor ID (QEMU's).
    pub const VENDOR_ID: u32 = 0x00c;
    /// R: the 32 offered feature bits chosen by DeviceFeaturesSel.
    pub const DEVICE_FEATURES: u32 = 0x010;
    /// W: which word of the offered features DeviceFeatures shows.
    pub const DEVICE_FEATURES_SEL: u32 = 0x014;
    /// W: the 32 accepted feature bits chosen by DriverFeaturesSel.
    pub const DRIVER_FEATURES: u32 = 0x020;
    /// W: which word of the accepted features DriverFeatures sets.
    pub const DRIVER_FEATURES_SEL: u32 = 0x024;
    /// Legacy only.
    pub const GUEST_PAGE_SIZE: u32 = 0x028;
    /// W: the queue the Queue* registers refer to.
    pub const QUEUE_SEL: u32 = 0x030;
    /// R: the largest size the selected queue accepts (0: no such queue).
    pub const QUEUE_NUM_MAX: u32 = 0x034;
    /// W: the size the driver chose for the selected queue.
    pub const QUEUE_NUM: u32 = 0x038;
    /// Legacy only.
    pub const QUEUE_ALIGN: u32 = 0x03c;
    /// Legacy only.
    pub const QUEUE_PFN: u32 = 0x040;
    /// RW, modern: the selected queue is live.
    pub const QUEUE_READY: u32 = 0x044;
    /// W: the index of a queue with new available buffers.
    pub const QUEUE_NOTIFY: u32 = 0x050;
    /// R: why the interrupt is raised (bit 0 used buffer, bit 1 configuration change).
    pub const INTERRUPT_STATUS: u32 = 0x060;
    /// W: the InterruptStatus bits the driver has handled.
    pub const INTERRUPT_ACK: u32 = 0x064;
    /// RW: the device status bits ([`super::status`]); writing 0 resets.
    pub const STATUS: u32 = 0x070;
    /// W, modern: descriptor table address of the selected queue, bits 0..31.
    pub const QUEUE_DESC_LOW: u32 = 0x080;
    /// W, modern: descriptor table address, bits 32..63.
    pub const QUEUE_DESC_HIGH: u32 = 0x084;
    /// W, modern: available ring (driver area) address, bits 0..31.
    pub const QUEUE_DRIVER_LOW: u32 = 0x090;
    /// W, modern: available ring address, bits 32..63.
    pub const QUEUE_DRIVER_HIGH: u32 = 0x094;
    /// W, modern: used ring (device area) address, bits 0..31.
    pub const QUEUE_DEVICE_LOW: u32 = 0x0a0;
    /// W, modern: used ring address, bits 32..63.
    pub const QUEUE_DEVICE_HIGH: u32 = 0x0a4;
    /// W, modern: the shared memory region the SHMLen/SHMBase registers describe.
    pub const SHM_SEL: u32 = 0x0ac;
    /// R, modern: length of the selected shared memory region, bits 0..31 (-1: none).
    pub const SHM_LEN_LOW: u32 = 0x0b0;
    /// R, modern: its length, bits 32..63.
    pub const SHM_LEN_HIGH: u32 = 0x0b4;
    /// R, modern: its base address, bits 0..31.
    pub const SHM_BASE_LOW: u32 = 0x0b8;
    /// R, modern: its base address, bits 32..63.
    pub const SHM_BASE_HIGH: u32 = 0x0bc;
    /// R, modern: changes whenever the device changes its configuration space.
    pub const CONFIG_GENERATION: u32 = 0x0fc;
    /// The device-specific configuration space starts here.
    pub const CONFIG: u32 = 0x100;
}

/// Device status bits (§2.1).
pub mod status {
    /// The guest has noticed the device.
    pub const ACKNOWLEDGE: u32 = 1;
    /// The guest has a driver for it.
    pub const DRIVER: u32 = 2;
    /// The driver is set up and ready to drive the device.
    pub const DRIVER_OK: u32 = 4;
    /// Modern: the driver has written its features (the device may refuse them by clearing this).
    pub const FEATURES_OK: u32 = 8;
    /// Set by the device: it cannot go on until the driver resets it.
    pub const DEVICE_NEEDS_RESET: u32 = 64;
    /// Set by the driver: it gave up on the device.
    pub const FAILED: u32 = 128;
}

/// InterruptStatus bit: the device used a buffer.
pub const INT_USED_BUFFER: u32 = 1;
/// InterruptStatus bit: the configuration changed (or the device needs a reset).
pub const INT_CONFIG_CHANGE: u32 = 2;

/// Everything guest-visible about a transport, as plain data (for snapshots). Includes the
/// legacy GuestPageSize and each queue's QueueAlign, which the first QEMU implementation of
/// this transport forgot to save.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct TransportState {
    /// Version 2 register layout (else legacy version 1).
    pub modern: bool,
    /// The DeviceID of the device at snapshot time (0: none); checked on restore.
    pub device_id: u32,
    /// Device status (§2.1).
    pub status: u32,
    /// DeviceFeaturesSel.
    pub device_features_sel: u32,
    /// DriverFeaturesSel.
    pub driver_features_sel: u32,
    /// What the driver wrote to DriverFeatures, both words.
    pub driver_features: u64,
    /// Legacy GuestPageSize (survives reset).
    pub guest_page_size: u32,
    /// QueueSel.
    pub queue_sel: u32,
    /// InterruptStatus: the reasons for the raised interrupt not yet acknowledged.
    pub interrupt_status: u32,
    /// ConfigGeneration.
    pub config_generation: u32,
    /// SHMSel.
    pub shm_sel: u32,
    /// With a delayed interrupt: the virtual time at which the used-buffer interrupt is due.
    pub pending_interrupt_at: Option<u64>,
    /// The device's queues, in index order.
    pub queues: Vec<SplitQueue>,
}

/// A virtio-mmio transport with an optional device behind it. Place it on the bus with
/// `Bus::add_device(base, 0x200, Box::new(transport))`.
pub struct VirtioMmio {
    name: String,
    irq_id: u32,
    device: Option<Box<dyn VirtioDevice>>,
    /// Feature bits offered to the driver.
    offered: u64,
    state: TransportState,
    interrupt_delay_ns: u64,
    timer: Option<TimerSlot>,
    /// After [`VirtioMmio::restore`]: drive the interrupt line and re-arm a pending deadline
    /// at the next bus callback (restore itself has no access to the bus). Not needed after
    /// `Device::load_state`, whose bus restores lines and deadlines itself.
    resync: bool,
    /// The last chains the driver notified, as they were when the device took them (for
    /// inspectors: once used, a chain's indirect table may be freed and reused). Not state.
    recent: std::collections::VecDeque<RecentChain>,
}

/// How many notified chains a transport remembers for inspectors.
const RECENT_CHAINS: usize = 16;

/// A chain as the device found it at a QueueNotify (see [`VirtioMmio::recent_chains`]).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct RecentChain {
    /// The queue it was taken from.
    pub queue: usize,
    /// Its free-running index in the available ring.
    pub avail_index: u16,
    /// Its head descriptor index.
    pub head: u16,
    /// Its buffers (an indirect table followed).
    pub buffers: Vec<crate::queue::Buffer>,
    /// The first bytes of the first buffer (a virtio-blk request header, a net header).
    pub header: Vec<u8>,
    /// The last byte of the last device-writable buffer after the device handled the
    /// notification (a virtio-blk status byte).
    pub last_byte: Option<u8>,
    /// Virtual time of the QueueNotify.
    pub time: u64,
}

/// Version of the bytes made by `Device::save_state`: a different number means the layout
/// changed and the state is refused with a clear message.
const STATE_FORMAT: u32 = 1;

/// What `Device::save_state` saves (inside a `(STATE_FORMAT, bytes)` envelope).
#[derive(Serialize, Deserialize)]
struct SavedTransport {
    transport: TransportState,
    /// The features offered: checked on load (they depend on how the device was built, e.g.
    /// a read-only disk offers RO).
    offered: u64,
    /// The bus timer slot of the delayed interrupt, once allocated. Its deadline is in the
    /// bus's clock, which the bus saves.
    timer: Option<TimerSlot>,
    /// The device's own state ([`VirtioDevice::save_state`]); empty without a device.
    device: Vec<u8>,
}

impl VirtioMmio {
    /// A transport with the `modern` (version 2) or legacy (version 1) register layout,
    /// driving GIC interrupt `irq_id`, with `device` behind it (`None`: an empty slot,
    /// DeviceID 0).
    pub fn new(modern: bool, irq_id: u32, device: Option<Box<dyn VirtioDevice>>) -> Self {
        let (name, offered, device_id, queues) = match &device {
            Some(b) => {
                let mut offered = (b.device_features() & DEVICE_TYPE_MASK) | INDIRECT_DESC | EVENT_IDX;
                if modern {
                    offered |= VERSION_1;
                } else {
                    // HostFeatures of the legacy layout is one 32-bit word.
                    offered &= 0xffff_ffff;
                }
                let queues = b.queue_max_sizes().into_iter().map(SplitQueue::new).collect();
                (format!("virtio-mmio:{}", b.name()), offered, b.device_id(), queues)
            }
            None => ("virtio-mmio:empty".to_string(), 0, 0, Vec::new()),
        };
        VirtioMmio {
            name,
            irq_id,
            device,
            offered,
            state: TransportState {
                modern,
                device_id,
                status: 0,
                device_features_sel: 0,
                driver_features_sel: 0,
                driver_features: 0,
                guest_page_size: crate::queue::LEGACY_DEFAULT_ALIGN,
                queue_sel: 0,
                interrupt_status: 0,
                config_generation: 0,
                shm_sel: 0,
                pending_interrupt_at: None,
                queues,
            },
            interrupt_delay_ns: 0,
            timer: None,
            resync: false,
            recent: std::collections::VecDeque::new(),
        }
    }

    /// Use `name` in traces and logs (e.g. the board's "virtio0") instead of
    /// `virtio-mmio:<device>`.
    pub fn with_name(mut self, name: impl Into<String>) -> Self {
        self.name = name.into();
        self
    }

    /// Raise used-buffer interrupts `delay_ns` virtual nanoseconds after the notification
    /// that completed the requests, instead of immediately (0, the default).
    pub fn with_interrupt_delay(mut self, delay_ns: u64) -> Self {
        self.interrupt_delay_ns = delay_ns;
        self
    }

    /// True for the version 2 register layout.
    pub fn is_modern(&self) -> bool {
        self.state.modern
    }

    /// The feature bits offered to the driver.
    pub fn offered_features(&self) -> u64 {
        self.offered
    }

    /// The features both sides agreed on: what the driver wrote, limited to what was offered.
    pub fn negotiated_features(&self) -> u64 {
        self.state.driver_features & self.offered
    }

    /// The name of the device behind the transport ("virtio-blk", ...), `None` for an empty
    /// slot.
    pub fn device_name(&self) -> Option<&str> {
        self.device.as_ref().map(|d| d.name())
    }

    /// The GIC interrupt ID this transport drives.
    pub fn irq_id(&self) -> u32 {
        self.irq_id
    }

    /// The guest-visible state, borrowed (for inspectors; [`VirtioMmio::snapshot`] copies it).
    pub fn state(&self) -> &TransportState {
        &self.state
    }

    /// The guest-visible state as plain data.
    pub fn snapshot(&self) -> TransportState {
        self.state.clone()
    }

    /// Put back a state taken with [`VirtioMmio::snapshot`] from a transport built the same
    /// way (same layout, same device type, same queues), without the bus's state: for a
    /// transport placed on a fresh bus afterwards. (A whole machine is restored through
    /// `Device::load_state` instead, which also restores the device's state.) If the driver
    /// had set DRIVER_OK, the device is told the negotiated features again. The interrupt line
    /// is driven again, and a pending delayed interrupt re-armed, at the next bus access or
    /// timer callback (restore has no access to the bus).
    pub fn restore(&mut self, state: TransportState) -> Result<(), StateError> {
        self.check_fits(&state)
            .map_err(|e| StateError(format!("{}: {e}", self.name)))?;
        self.state = state;
        self.resync = true;
        // The device derives per-driver settings from the negotiated features.
        if self.state.status & status::DRIVER_OK != 0 {
            let negotiated = self.negotiated_features();
            if let Some(b) = &mut self.device {
                b.activate(negotiated);
            }
        }
        Ok(())
    }

    /// Why `state` cannot be this transport's: another register layout, device type or queue
    /// layout, or a live queue of impossible size.
    fn check_fits(&self, state: &TransportState) -> Result<(), String> {
        if state.modern != self.state.modern {
            return Err(format!(
                "snapshot is of a {} transport",
                if state.modern { "modern" } else { "legacy" }
            ));
        }
        if state.device_id != self.state.device_id {
            return Err(format!(
                "snapshot has device ID {}, this transport has {}",
                state.device_id, self.state.device_id
            ));
        }
        let max = |qs: &[SplitQueue]| qs.iter().map(|q| q.max_size).collect::<Vec<_>>();
        if max(&state.queues) != max(&self.state.queues) {
            return Err(format!(
                "snapshot has queues of sizes {:?}, this transport {:?}",
                max(&state.queues),
                max(&self.state.queues)
            ));
        }
        if let Some(q) = state
            .queues
            .iter()
            .find(|q| q.ready && SplitQueue::check_size(u32::from(q.size), q.max_size).is_err())
        {
            return Err(format!("snapshot has a live queue of bad size {}", q.size));
        }
        Ok(())
    }

    fn resync(&mut self, ctx: &mut DeviceContext) {
        if std::mem::take(&mut self.resync) {
            self.update_line(ctx);
            if let Some(when) = self.state.pending_interrupt_at {
                let slot = *self.timer.get_or_insert_with(|| ctx.new_timer_slot());
                ctx.set_deadline(slot, when);
            }
        }
    }

    fn update_line(&self, ctx: &mut DeviceContext) {
        ctx.set_spi(self.irq_id, self.state.interrupt_status != 0);
    }

    /// Status = 0 (§2.1.1, §4.2.3.1).
    fn reset(&mut self, ctx: &mut DeviceContext) {
        let s = &mut self.state;
        s.status = 0;
        s.device_features_sel = 0;
        s.driver_features_sel = 0;
        s.driver_features = 0;
        s.queue_sel = 0;
        s.interrupt_status = 0;
        s.shm_sel = 0;
        s.pending_interrupt_at = None;
        s.queues.iter_mut().for_each(SplitQueue::reset);
        if let Some(slot) = self.timer {
            ctx.cancel_deadline(slot);
        }
        if let Some(b) = &mut self.device {
            b.reset();
        }
        self.update_line(ctx);
    }

    /// The device cannot go on: set DEVICE_NEEDS_RESET and tell the driver (§2.1.2).
    fn needs_reset(&mut self, ctx: &mut DeviceContext, reason: impl Display) {
        tracing::warn!(target: "virtio", "{}: {reason}; device needs reset", self.name);
        if self.state.status & status::DEVICE_NEEDS_RESET == 0 {
            self.state.status |= status::DEVICE_NEEDS_RESET;
            if self.state.status & status::DRIVER_OK != 0 {
                self.state.interrupt_status |= INT_CONFIG_CHANGE;
                self.update_line(ctx);
            }
        }
    }

    /// A used buffer is ready for the driver: interrupt now or after the configured delay.
    fn signal_used(&mut self, ctx: &mut DeviceContext) {
        if self.interrupt_delay_ns == 0 {
            self.state.interrupt_status |= INT_USED_BUFFER;
            self.update_line(ctx);
        } else if self.state.pending_interrupt_at.is_none() {
            let when = ctx.now().saturating_add(self.interrupt_delay_ns);
            self.state.pending_interrupt_at = Some(when);
            let slot = *self.timer.get_or_insert_with(|| ctx.new_timer_slot());
            ctx.set_deadline(slot, when);
        }
    }

    fn write_status(&mut self, ctx: &mut DeviceContext, value: u32) {
        let value = value & 0xff;
        if value == 0 {
            self.reset(ctx);
            return;
        }
        let old = self.state.status;
        // DEVICE_NEEDS_RESET belongs to the device: only a reset clears it.
        let mut new = (value & !status::DEVICE_NEEDS_RESET) | (old & status::DEVICE_NEEDS_RESET);
        if self.state.modern && new & status::FEATURES_OK != 0 && old & status::FEATURES_OK == 0 {
            let driver = self.state.driver_features;
            if driver & !self.offered != 0 || driver & VERSION_1 == 0 {
                tracing::warn!(target: "virtio", "{}: refusing driver features {driver:#x} (offered {:#x})",
                    self.name, self.offered);
                new &= !status::FEATURES_OK;
            }
        }
        if new & status::DRIVER_OK != 0 && old & status::DRIVER_OK == 0 {
            let negotiated = self.negotiated_features();
            // A legacy driver may have made its queues live before writing its features.
            for q in self.state.queues.iter_mut().filter(|q| q.ready) {
                q.use_features(negotiated);
            }
            if let Some(b) = &mut self.device {
                b.activate(negotiated);
            }
        }
        self.state.status = new;
    }

    /// The driver wrote QueueNotify (§4.2.3.3): process that queue now.
    fn notify(&mut self, ctx: &mut DeviceContext, index: u32) {
        let s = &self.state;
        if self.device.is_none() {
            return;
        }
        if s.status & status::DEVICE_NEEDS_RESET != 0 {
            tracing::debug!(target: "virtio", "{}: notify ignored until reset", self.name);
            return;
        }
        if s.status & status::DRIVER_OK == 0 {
            // §3.1.1: no buffers are used before DRIVER_OK.
            tracing::debug!(target: "virtio", "{}: notify before DRIVER_OK ignored", self.name);
            return;
        }
        let Some(q) = s.queues.get(index as usize) else {
            tracing::warn!(target: "virtio", "{}: notify of queue {index}, which does not exist", self.name);
            return;
        };
        if !q.ready {
            tracing::debug!(target: "virtio", "{}: notify of queue {index}, which is not live", self.name);
            return;
        }
        let seen = self.chains_to_take(ctx, index as usize);
        self.run_device(ctx, &format!("queue {index}"), |device, queues| {
            device.queue_notify(index as usize, queues)
        });
        for mut chain in seen {
            chain.last_byte = chain.buffers.last().filter(|b| b.writable && b.len > 0).and_then(|b| {
                let mut byte = [0u8];
                ctx.memory
                    .read_bytes(b.addr + u64::from(b.len - 1), &mut byte)
                    .ok()
                    .map(|()| byte[0])
            });
            if self.recent.len() == RECENT_CHAINS {
                self.recent.pop_front();
            }
            self.recent.push_back(chain);
        }
    }

    /// The chains a notification of queue `index` hands the device (at most the last
    /// [`RECENT_CHAINS`]), read without changing anything, for [`VirtioMmio::recent_chains`].
    fn chains_to_take(&self, ctx: &DeviceContext, index: usize) -> Vec<RecentChain> {
        let Some(q) = self.state.queues.get(index).filter(|q| q.ready && q.size > 0) else {
            return Vec::new();
        };
        let read16 = |addr: u64| {
            let mut b = [0u8; 2];
            ctx.memory.read_bytes(addr, &mut b).ok().map(|()| u16::from_le_bytes(b))
        };
        let Some(avail_idx) = read16(q.avail_addr + 2) else {
            return Vec::new();
        };
        let waiting = avail_idx.wrapping_sub(q.next_avail).min(q.size);
        let skip = waiting.saturating_sub(RECENT_CHAINS as u16);
        (skip..waiting)
            .filter_map(|k| {
                let i = q.next_avail.wrapping_add(k);
                let head = read16(q.avail_addr + 4 + 2 * u64::from(i % q.size))?;
                let chain = q.walk_chain(ctx.memory, head).ok()?;
                let first = chain.buffers.first()?;
                let mut header = vec![0u8; first.len.min(16) as usize];
                ctx.memory.read_bytes(first.addr, &mut header).ok()?;
                Some(RecentChain {
                    queue: index,
                    avail_index: i,
                    head,
                    buffers: chain.buffers,
                    header,
                    last_byte: None,
                    time: ctx.now(),
                })
            })
            .collect()
    }

    /// The last chains the driver notified (oldest first), as the device found them.
    pub fn recent_chains(&self) -> impl Iterator<Item = &RecentChain> {
        self.recent.iter()
    }

    /// Let the device work on its queues (`work`, for `what`), then interrupt as its queues and
    /// configuration say: a used-buffer interrupt if the driver wants one for any queue that
    /// got used buffers (§2.7.10), a configuration-change interrupt if the device changed its
    /// configuration (§2.5), DEVICE_NEEDS_RESET if a queue broke (§2.1.2).
    fn run_device(
        &mut self,
        ctx: &mut DeviceContext,
        what: &str,
        work: impl FnOnce(&mut dyn VirtioDevice, &mut Queues) -> Result<(), QueueError>,
    ) {
        let Some(device) = self.device.as_mut() else {
            return;
        };
        let s = &mut self.state;
        let running = s.status & status::DRIVER_OK != 0 && s.status & status::DEVICE_NEEDS_RESET == 0;
        let mut queues = Queues::new(&mut s.queues, ctx.memory, running);
        let worked = work(device.as_mut(), &mut queues);
        let config_changed = queues.did_change_config();
        // Buffers used before any error are still reported to the driver.
        let mut used = false;
        let mut broken = None;
        for (i, q) in s.queues.iter_mut().enumerate() {
            match q.should_notify(ctx.memory) {
                Ok(wanted) => used |= wanted,
                Err(e) => broken = Some(format!("queue {i}: {e}")),
            }
        }
        if used {
            self.signal_used(ctx);
        }
        if config_changed {
            self.state.config_generation = self.state.config_generation.wrapping_add(1);
            if self.state.status & status::DRIVER_OK != 0 {
                self.state.interrupt_status |= INT_CONFIG_CHANGE;
                self.update_line(ctx);
            }
        }
        if let Some(e) = broken {
            self.needs_reset(ctx, e);
        }
        if let Err(e) = worked {
            self.needs_reset(ctx, format!("{what}: {e}"));
        }
    }

    fn read_register(&mut self, offset: u32) -> u32 {
        let s = &self.state;
        let queue = s.queues.get(s.queue_sel as usize);
        let modern = s.modern;
        match offset {
            regs::MAGIC_VALUE => MAGIC_VALUE,
            regs::VERSION => {
                if modern {
                    2
                } else {
                    1
                }
            }
            regs::DEVICE_ID => s.device_id,
            regs::VENDOR_ID => VENDOR_ID,
            regs::DEVICE_FEATURES => match s.device_features_sel {
                0 => self.offered as u32,
                1 => (self.offered >> 32) as u32,
                _ => 0,
            },
            regs::QUEUE_NUM_MAX => queue.map_or(0, |q| u32::from(q.max_size)),
            regs::QUEUE_PFN if !modern => queue.map_or(0, |q| q.legacy_pfn),
            regs::QUEUE_READY if modern => queue.map_or(0, |q| u32::from(q.ready)),
            regs::INTERRUPT_STATUS => s.interrupt_status,
            regs::STATUS => s.status,
            regs::SHM_LEN_LOW | regs::SHM_LEN_HIGH | regs::SHM_BASE_LOW | regs::SHM_BASE_HIGH if modern => {
                // §4.2.2: a region that does not exist has length (and here base) -1.
                let region = self.device.as_ref().and_then(|b| b.shared_memory_region(s.shm_sel));
                let (base, len) = region.unwrap_or((u64::MAX, u64::MAX));
                match offset {
                    regs::SHM_LEN_LOW => len as u32,
                    regs::SHM_LEN_HIGH => (len >> 32) as u32,
                    regs::SHM_BASE_LOW => base as u32,
                    _ => (base >> 32) as u32,
                }
            }
            regs::CONFIG_GENERATION if modern => s.config_generation,
            _ => {
                tracing::debug!(target: "virtio", "{}: read of write-only or unknown register {offset:#x}", self.name);
                0
            }
        }
    }

    fn write_register(&mut self, ctx: &mut DeviceContext, offset: u32, value: u32) {
        let modern = self.state.modern;
        let sel = self.state.queue_sel as usize;
        match offset {
            regs::DEVICE_FEATURES_SEL => self.state.device_features_sel = value,
            regs::DRIVER_FEATURES_SEL => self.state.driver_features_sel = value,
            regs::DRIVER_FEATURES => {
                if modern && self.state.status & status::FEATURES_OK != 0 {
                    tracing::warn!(target: "virtio", "{}: DriverFeatures written after FEATURES_OK; ignored", self.name);
                    return;
                }
                let f = &mut self.state.driver_features;
                match self.state.driver_features_sel {
                    0 => *f = (*f & !0xffff_ffff) | u64::from(value),
                    1 if modern => *f = (*f & 0xffff_ffff) | (u64::from(value) << 32),
                    // The legacy layout has one word; higher words (and modern ones beyond
                    // bit 63) must be zero.
                    _ if value != 0 => {
                        tracing::warn!(target: "virtio", "{}: driver features word {} = {value:#x} ignored",
                            self.name, self.state.driver_features_sel);
                    }
                    _ => {}
                }
            }
            regs::GUEST_PAGE_SIZE if !modern => self.state.guest_page_size = value,
            regs::QUEUE_SEL => self.state.queue_sel = value,
            regs::QUEUE_NUM => {
                let Some(q) = self.state.queues.get_mut(sel) else {
                    return;
                };
                if q.ready {
                    tracing::warn!(target: "virtio", "{}: QueueNum of live queue {sel} written; ignored", self.name);
                } else if let Err(e) = q.set_size(value) {
                    self.needs_reset(ctx, format!("queue {sel}: {e}"));
                }
            }
            regs::QUEUE_ALIGN if !modern => {
                if let Some(q) = self.state.queues.get_mut(sel) {
                    if q.ready {
                        tracing::warn!(target: "virtio", "{}: QueueAlign of live queue {sel} written; ignored", self.name);
                    } else {
                        q.legacy_align = value;
                    }
                }
            }
            regs::QUEUE_PFN if !modern => {
                let page_size = self.state.guest_page_size;
                let negotiated = self.negotiated_features();
                let Some(q) = self.state.queues.get_mut(sel) else {
                    return;
                };
                if value == 0 {
                    // "Stop using the queue": forget the rings, keep the driver's size and
                    // alignment.
                    let (size, align) = (q.size, q.legacy_align);
                    q.reset();
                    q.size = size;
                    q.legacy_align = align;
                    return;
                }
                q.use_features(negotiated);
                if let Err(e) = q.enable_legacy(ctx.memory, value, page_size) {
                    q.ready = false;
                    self.needs_reset(ctx, format!("queue {sel}: {e}"));
                }
            }
            regs::QUEUE_READY if modern => {
                let negotiated = self.negotiated_features();
                let Some(q) = self.state.queues.get_mut(sel) else {
                    return;
                };
                if value & 1 == 0 {
                    q.ready = false;
                } else if !q.ready {
                    q.use_features(negotiated);
                    if let Err(e) = q.enable(ctx.memory) {
                        self.needs_reset(ctx, format!("queue {sel}: {e}"));
                    }
                }
            }
            regs::QUEUE_NOTIFY => self.notify(ctx, value),
            regs::INTERRUPT_ACK => {
                self.state.interrupt_status &= !value;
                self.update_line(ctx);
            }
            regs::STATUS => self.write_status(ctx, value),
            regs::QUEUE_DESC_LOW
            | regs::QUEUE_DESC_HIGH
            | regs::QUEUE_DRIVER_LOW
            | regs::QUEUE_DRIVER_HIGH
            | regs::QUEUE_DEVICE_LOW
            | regs::QUEUE_DEVICE_HIGH
                if modern =>
            {
                let Some(q) = self.state.queues.get_mut(sel) else {
                    return;
                };
                if q.ready {
                    tracing::warn!(target: "virtio", "{}: ring address of live queue {sel} written; ignored", self.name);
                    return;
                }
                let (field, high) = match offset {
                    regs::QUEUE_DESC_LOW => (&mut q.desc_addr, false),
                    regs::QUEUE_DESC_HIGH => (&mut q.desc_addr, true),
                    regs::QUEUE_DRIVER_LOW => (&mut q.avail_addr, false),
                    regs::QUEUE_DRIVER_HIGH => (&mut q.avail_addr, true),
                    regs::QUEUE_DEVICE_LOW => (&mut q.used_addr, false),
                    _ => (&mut q.used_addr, true),
                };
                *field = if high {
                    (*field & 0xffff_ffff) | (u64::from(value) << 32)
                } else {
                    (*field & !0xffff_ffff) | u64::from(value)
                };
            }
            regs::SHM_SEL if modern => self.state.shm_sel = value,
            _ => {
                tracing::debug!(target: "virtio", "{}: write {value:#x} to read-only or unknown register {offset:#x} ignored",
                    self.name);
            }
        }
    }
}

impl Device for VirtioMmio {
    fn name(&self) -> &str {
        &self.name
    }

    fn as_any(&self) -> Option<&dyn std::any::Any> {
        Some(self)
    }

    fn as_any_mut(&mut self) -> Option<&mut dyn std::any::Any> {
        Some(self)
    }

    fn read(&mut self, ctx: &mut DeviceContext, offset: u32, size: AccessSize) -> u32 {
        self.resync(ctx);
        if offset >= regs::CONFIG {
            let Some(b) = &self.device else {
                return 0;
            };
            let mut buf = [0u8; 4];
            b.read_config(offset - regs::CONFIG, &mut buf[..size.bytes() as usize]);
            return u32::from_le_bytes(buf);
        }
        if size != AccessSize::Word || offset % 4 != 0 {
            tracing::warn!(target: "virtio", "{}: {}-bit read at {offset:#x} (registers are aligned 32-bit)",
                self.name, size.bits());
            return 0;
        }
        self.read_register(offset)
    }

    fn write(&mut self, ctx: &mut DeviceContext, offset: u32, size: AccessSize, value: u32) {
        self.resync(ctx);
        if offset >= regs::CONFIG {
            if let Some(b) = &mut self.device {
                let n = size.bytes() as usize;
                b.write_config(offset - regs::CONFIG, &value.to_le_bytes()[..n]);
            }
            return;
        }
        if size != AccessSize::Word || offset % 4 != 0 {
            tracing::warn!(target: "virtio", "{}: {}-bit write at {offset:#x} ignored (registers are aligned 32-bit)",
                self.name, size.bits());
            return;
        }
        self.write_register(ctx, offset, value);
    }

    fn timer_expired(&mut self, ctx: &mut DeviceContext, _slot: TimerSlot) {
        self.resync(ctx);
        if self.state.pending_interrupt_at.take().is_some() {
            self.state.interrupt_status |= INT_USED_BUFFER;
            self.update_line(ctx);
        }
    }

    /// Host input for the device behind this transport (a network frame, console bytes,
    /// entropy), at the virtual time the machine delivers it.
    fn host_input(&mut self, ctx: &mut DeviceContext, data: &[u8]) {
        self.resync(ctx);
        self.run_device(ctx, "host input", |device, queues| device.host_input(data, queues));
    }

    /// The transport's registers and queues, its timer slot, and the device's own state.
    fn save_state(&self) -> Vec<u8> {
        let saved = SavedTransport {
            transport: self.state.clone(),
            offered: self.offered,
            timer: self.timer,
            device: self.device.as_ref().map_or_else(Vec::new, |b| b.save_state()),
        };
        state::encode(&(STATE_FORMAT, state::encode(&saved)))
    }

    /// Put back a state made by `save_state` of a transport built the same way. The bus
    /// restores the interrupt line and the delayed interrupt's deadline itself: nothing is
    /// driven or re-armed here. Nothing is changed if the state is refused.
    fn load_state(&mut self, bytes: &[u8]) -> Result<(), StateError> {
        let (format, inner): (u32, Vec<u8>) = state::decode(bytes, "virtio-mmio")?;
        if format != STATE_FORMAT {
            return Err(StateError(format!(
                "saved virtio-mmio state has format {format}, this armvex reads format {STATE_FORMAT}"
            )));
        }
        let saved: SavedTransport = state::decode(&inner, "virtio-mmio")?;
        self.check_fits(&saved.transport).map_err(StateError)?;
        if saved.offered != self.offered {
            return Err(StateError(format!(
                "snapshot offers features {:#x}, this transport {:#x}",
                saved.offered, self.offered
            )));
        }
        if saved.transport.pending_interrupt_at.is_some() && saved.timer.is_none() {
            return Err(StateError(
                "snapshot has a pending interrupt but no timer for it".to_string(),
            ));
        }
        match &mut self.device {
            Some(b) => b
                .load_state(&saved.device)
                .map_err(|e| StateError(format!("{}: {e}", b.name())))?,
            // No device: the device IDs matched, so the snapshot had none either.
            None if saved.device.is_empty() => {}
            None => return Err(StateError("snapshot has a device behind this empty slot".to_string())),
        }
        self.state = saved.transport;
        self.timer = saved.timer;
        self.resync = false;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::blk::BlockDevice;
    use crate::features::{ACCESS_PLATFORM, RING_PACKED};
    use crate::queue::{QueueError, VIRTQ_DESC_F_NEXT};
    use crate::testing::*;

    /// A device offering every feature bit, with two queues and 8 bytes of writable config.
    /// Requests are returned unread.
    struct Greedy {
        config: [u8; 8],
    }

    impl VirtioDevice for Greedy {
        fn name(&self) -> &str {
            "greedy"
        }
        fn device_id(&self) -> u32 {
            0x42
        }
        fn device_features(&self) -> u64 {
            u64::MAX
        }
        fn read_config(&self, offset: u32, data: &mut [u8]) {
            for (i, b) in data.iter_mut().enumerate() {
                *b = self.config.get(offset as usize + i).copied().unwrap_or(0);
            }
        }
        fn write_config(&mut self, offset: u32, data: &[u8]) {
            for (i, b) in data.iter().enumerate() {
                if let Some(c) = self.config.get_mut(offset as usize + i) {
                    *c = *b;
                }
            }
        }
        fn queue_max_sizes(&self) -> Vec<u16> {
            vec![8, 16]
        }
        fn queue_notify(&mut self, index: usize, queues: &mut Queues) -> Result<(), QueueError> {
            while let Some(c) = queues.pop(index)? {
                queues.add_used(index, c.head, 0)?;
            }
            Ok(())
        }
        /// Host input: "cfg" changes the configuration, "broken" reports a broken queue,
        /// anything else is written into the next chain of queue 0.
        fn host_input(&mut self, data: &[u8], queues: &mut Queues) -> Result<(), QueueError> {
            match data {
                b"cfg" => queues.config_changed(),
                b"broken" => return Err(QueueError::Loop { head: 0 }),
                _ => {
                    if let Some(c) = queues.pop(0)? {
                        let n = c.writer().write(queues.memory(), data).unwrap_or(0);
                        queues.add_used(0, c.head, n as u32)?;
                    }
                }
            }
            Ok(())
        }
        fn reset(&mut self) {}
        fn save_state(&self) -> Vec<u8> {
            state::encode(&self.config)
        }
        fn load_state(&mut self, bytes: &[u8]) -> Result<(), StateError> {
            self.config = state::decode(bytes, "greedy")?;
            Ok(())
        }
    }

    fn greedy(modern: bool) -> Machine {
        Machine::new(VirtioMmio::new(
            modern,
            IRQ,
            Some(Box::new(Greedy { config: *b"abcdefgh" })),
        ))
    }

    const RING: u32 = RAM_BASE + 0x1_0000;
    const DATA: u32 = RAM_BASE + 0x8_0000;

    /// Modern bring-up of the greedy device with queue 0 (size 8) at separate addresses.
    fn greedy_ready(features: u64) -> (Machine, Ring) {
        let mut m = greedy(true);
        m.wr(regs::STATUS, 0);
        m.add_status(status::ACKNOWLEDGE | status::DRIVER);
        m.wr(regs::DRIVER_FEATURES_SEL, 1);
        m.wr(regs::DRIVER_FEATURES, (features >> 32) as u32);
        m.wr(regs::DRIVER_FEATURES_SEL, 0);
        m.wr(regs::DRIVER_FEATURES, features as u32);
        m.add_status(status::FEATURES_OK);
        assert_ne!(m.rd(regs::STATUS) & status::FEATURES_OK, 0);
        let ring = Ring::separate(RING, RING + 0x1000, RING + 0x2000, 8);
        m.wr(regs::QUEUE_SEL, 0);
        m.wr(regs::QUEUE_NUM, 8);
        m.wr(regs::QUEUE_DESC_LOW, ring.desc);
        m.wr(regs::QUEUE_DESC_HIGH, 0);
        m.wr(regs::QUEUE_DRIVER_LOW, ring.avail);
        m.wr(regs::QUEUE_DRIVER_HIGH, 0);
        m.wr(regs::QUEUE_DEVICE_LOW, ring.used);
        m.wr(regs::QUEUE_DEVICE_HIGH, 0);
        m.wr(regs::QUEUE_READY, 1);
        assert_eq!(m.rd(regs::QUEUE_READY), 1);
        m.add_status(status::DRIVER_OK);
        assert_eq!(m.rd(regs::STATUS), 0xf);
        (m, ring)
    }

    #[test]
    fn host_input_reaches_the_device_and_interrupts_as_it_says() {
        let (mut m, mut ring) = greedy_ready(VERSION_1);
        // Nothing available: the input is dropped by the device, no interrupt.
        m.bus.deliver_host_input(0, b"early");
        assert!(!m.irq());
        let head = ring.direct_chain(&mut m, &[(DATA, 16, true)]);
        ring.offer(&mut m, head);
        m.bus.deliver_host_input(0, b"frame");
        assert!(m.irq(), "used-buffer interrupt");
        assert_eq!(ring.take_used(&m), Some((u32::from(head), 5)));
        assert_eq!(m.peek(DATA, 5), b"frame");
        assert_eq!(m.linux_interrupt(), INT_USED_BUFFER);
        // A configuration change: ConfigGeneration moves and the driver hears of it.
        let generation = m.rd(regs::CONFIG_GENERATION);
        m.bus.deliver_host_input(0, b"cfg");
        assert_eq!(m.rd(regs::CONFIG_GENERATION), generation + 1);
        assert_eq!(m.linux_interrupt(), INT_CONFIG_CHANGE);
        // A broken queue: DEVICE_NEEDS_RESET, and further input never touches the rings.
        m.bus.deliver_host_input(0, b"broken");
        assert_ne!(m.rd(regs::STATUS) & status::DEVICE_NEEDS_RESET, 0);
        assert_eq!(m.linux_interrupt(), INT_CONFIG_CHANGE);
        let head = ring.direct_chain(&mut m, &[(DATA, 16, true)]);
        ring.offer(&mut m, head);
        m.bus.deliver_host_input(0, b"late");
        assert_eq!(ring.take_used(&m), None);
        assert!(!m.irq());
        // Before DRIVER_OK nothing is used either.
        m.wr(regs::STATUS, 0);
        m.bus.deliver_host_input(0, b"reset");
        assert_eq!(ring.take_used(&m), None);
    }

    #[test]
    fn an_empty_slot_reports_device_id_zero() {
        for (modern, version) in [(false, 1), (true, 2)] {
            let mut m = Machine::new(VirtioMmio::new(modern, IRQ, None));
            assert_eq!(m.rd(regs::MAGIC_VALUE), 0x7472_6976);
            assert_eq!(m.rd(regs::VERSION), version);
            assert_eq!(m.rd(regs::DEVICE_ID), 0);
            for sel in [0, 1] {
                m.wr(regs::DEVICE_FEATURES_SEL, sel);
                assert_eq!(m.rd(regs::DEVICE_FEATURES), 0);
            }
            assert_eq!(m.rd(regs::QUEUE_NUM_MAX), 0);
            assert_eq!(m.rd_sized(regs::CONFIG, AccessSize::Byte), 0);
            m.wr(regs::QUEUE_NOTIFY, 0);
            assert!(!m.irq());
            assert_eq!(m.transport().name(), "virtio-mmio:empty");
        }
        assert_eq!(VirtioMmio::new(false, IRQ, None).with_name("virtio3").name(), "virtio3");
    }

    #[test]
    fn features_never_include_access_platform_or_packed_rings() {
        let mut m = greedy(true);
        m.wr(regs::DEVICE_FEATURES_SEL, 0);
        let low = u64::from(m.rd(regs::DEVICE_FEATURES));
        m.wr(regs::DEVICE_FEATURES_SEL, 1);
        let high = u64::from(m.rd(regs::DEVICE_FEATURES));
        m.wr(regs::DEVICE_FEATURES_SEL, 2);
        assert_eq!(m.rd(regs::DEVICE_FEATURES), 0, "there is no third word");
        let offered = (high << 32) | low;
        assert_eq!(offered & (ACCESS_PLATFORM | RING_PACKED), 0);
        // Of the transport range 24..=49 only INDIRECT_DESC, EVENT_IDX and VERSION_1.
        let transport_range = ((1u64 << 50) - 1) & !0xff_ffff;
        assert_eq!(offered & transport_range, INDIRECT_DESC | EVENT_IDX | VERSION_1);
        assert_eq!(offered & 0xff_ffff, 0xff_ffff, "device-type bits pass through");
        // Legacy: one word, no VERSION_1.
        let mut m = greedy(false);
        m.wr(regs::DEVICE_FEATURES_SEL, 1);
        assert_eq!(m.rd(regs::DEVICE_FEATURES), 0);
        m.wr(regs::DEVICE_FEATURES_SEL, 0);
        assert_eq!(
            u64::from(m.rd(regs::DEVICE_FEATURES)),
            0xff_ffff | INDIRECT_DESC | EVENT_IDX
        );
    }

    #[test]
    fn features_ok_is_refused_without_version_1_or_with_unoffered_bits() {
        let mut m = greedy(true);
        let attempt = |m: &mut Machine, features: u64| {
            m.wr(regs::STATUS, 0);
            m.add_status(status::ACKNOWLEDGE | status::DRIVER);
            m.wr(regs::DRIVER_FEATURES_SEL, 1);
            m.wr(regs::DRIVER_FEATURES, (features >> 32) as u32);
            m.wr(regs::DRIVER_FEATURES_SEL, 0);
            m.wr(regs::DRIVER_FEATURES, features as u32);
            m.add_status(status::FEATURES_OK);
            m.rd(regs::STATUS) & status::FEATURES_OK != 0
        };
        assert!(!attempt(&mut m, EVENT_IDX), "VERSION_1 is required by a modern device");
        assert!(
            !attempt(&mut m, VERSION_1 | ACCESS_PLATFORM),
            "ACCESS_PLATFORM was not offered"
        );
        assert!(attempt(&mut m, VERSION_1 | EVENT_IDX | 1));
        assert_eq!(m.transport().negotiated_features(), VERSION_1 | EVENT_IDX | 1);
        // Features are frozen once FEATURES_OK is accepted.
        m.wr(regs::DRIVER_FEATURES, 0);
        assert_eq!(m.transport().negotiated_features(), VERSION_1 | EVENT_IDX | 1);
    }

    #[test]
    fn queue_num_over_the_maximum_or_not_a_power_of_two_needs_reset() {
        for (modern, bad) in [(false, 16), (true, 16), (false, 6), (true, 6), (true, 0)] {
            let mut m = greedy(modern);
            m.wr(regs::STATUS, 0);
            m.add_status(status::ACKNOWLEDGE | status::DRIVER);
            m.wr(regs::QUEUE_SEL, 0);
            assert_eq!(m.rd(regs::QUEUE_NUM_MAX), 8);
            m.wr(regs::QUEUE_NUM, bad);
            assert_eq!(m.rd(regs::STATUS), 3 | status::DEVICE_NEEDS_RESET, "QueueNum {bad}");
            assert_eq!(m.state().queues[0].size, 8, "the bad size was not taken");
            assert!(!m.irq(), "no interrupt before DRIVER_OK");
            // The driver cannot clear the bit, only reset.
            m.wr(regs::STATUS, 0xf);
            assert_ne!(m.rd(regs::STATUS) & status::DEVICE_NEEDS_RESET, 0);
            m.wr(regs::STATUS, 0);
            assert_eq!(m.rd(regs::STATUS), 0);
            m.wr(regs::QUEUE_NUM, 4);
            assert_eq!(m.rd(regs::STATUS), 0);
            assert_eq!(m.state().queues[0].size, 4);
        }
        // Queue 1 of the greedy device takes 16.
        let mut m = greedy(true);
        m.wr(regs::QUEUE_SEL, 1);
        assert_eq!(m.rd(regs::QUEUE_NUM_MAX), 16);
        m.wr(regs::QUEUE_NUM, 16);
        assert_eq!(m.rd(regs::STATUS), 0);
        // A queue that does not exist has maximum 0 and ignores writes.
        m.wr(regs::QUEUE_SEL, 2);
        assert_eq!(m.rd(regs::QUEUE_NUM_MAX), 0);
        m.wr(regs::QUEUE_NUM, 16);
        m.wr(regs::QUEUE_READY, 1);
        assert_eq!(m.rd(regs::QUEUE_READY), 0);
        assert_eq!(m.rd(regs::STATUS), 0);
    }

    #[test]
    fn a_bad_queue_after_driver_ok_raises_a_configuration_interrupt() {
        let (mut m, _ring) = greedy_ready(VERSION_1);
        m.wr(regs::QUEUE_SEL, 1);
        m.wr(regs::QUEUE_NUM, 12);
        assert_eq!(m.rd(regs::STATUS), 0xf | status::DEVICE_NEEDS_RESET);
        assert!(m.irq());
        assert_eq!(m.linux_interrupt(), INT_CONFIG_CHANGE);
        assert!(!m.irq());
    }

    #[test]
    fn a_looping_chain_needs_reset_and_stops_the_device_until_reset() {
        let (mut m, mut ring) = greedy_ready(VERSION_1);
        Ring::write_desc(&mut m, ring.desc, 0, u64::from(DATA), 4, VIRTQ_DESC_F_NEXT, 1);
        Ring::write_desc(&mut m, ring.desc, 1, u64::from(DATA), 4, VIRTQ_DESC_F_NEXT, 0);
        ring.submit(&mut m, 0);
        assert_eq!(
            m.rd(regs::STATUS) & status::DEVICE_NEEDS_RESET,
            status::DEVICE_NEEDS_RESET
        );
        assert!(m.irq());
        assert_eq!(m.rd(regs::INTERRUPT_STATUS), INT_CONFIG_CHANGE);
        assert_eq!(ring.used_idx(&m), 0, "nothing was used");
        // A good chain is not processed while the device needs a reset.
        Ring::write_desc(&mut m, ring.desc, 2, u64::from(DATA), 4, 0, 0);
        ring.submit(&mut m, 2);
        assert_eq!(ring.used_idx(&m), 0);
        m.wr(regs::STATUS, 0);
        assert_eq!(m.rd(regs::STATUS), 0);
        assert_eq!(m.rd(regs::INTERRUPT_STATUS), 0);
        assert!(!m.irq());
        assert!(!m.state().queues[0].ready);
    }

    #[test]
    fn a_descriptor_outside_ram_needs_reset_and_touches_nothing() {
        // Pointing at the transport's own registers, and at unmapped space.
        for addr in [u64::from(MMIO_BASE), 0x8000_0000] {
            let (mut m, mut ring) = greedy_ready(VERSION_1);
            let head = ring.direct_chain(&mut m, &[(DATA, 16, false), (addr as u32, 0x100, true)]);
            ring.submit(&mut m, head);
            assert_ne!(m.rd(regs::STATUS) & status::DEVICE_NEEDS_RESET, 0);
            assert_eq!(ring.used_idx(&m), 0);
            assert_eq!(m.rd(regs::DEVICE_ID), 0x42, "registers unharmed");
        }
    }

    #[test]
    fn the_interrupt_line_is_the_level_of_interrupt_status() {
        let (mut m, mut ring) = greedy_ready(VERSION_1);
        let head = ring.direct_chain(&mut m, &[(DATA, 4, true)]);
        ring.submit(&mut m, head);
        assert_eq!(ring.used_idx(&m), 1);
        assert!(m.irq());
        assert_eq!(m.rd(regs::INTERRUPT_STATUS), INT_USED_BUFFER);
        m.wr(regs::INTERRUPT_ACK, INT_CONFIG_CHANGE);
        assert!(m.irq(), "acknowledging another bit leaves the line high");
        m.wr(regs::INTERRUPT_ACK, INT_USED_BUFFER);
        assert!(!m.irq());
        assert_eq!(m.rd(regs::INTERRUPT_STATUS), 0);
    }

    #[test]
    fn avail_flags_and_event_idx_suppress_interrupts() {
        // Without EVENT_IDX: NO_INTERRUPT.
        let (mut m, mut ring) = greedy_ready(VERSION_1);
        ring.set_avail_flags(&mut m, 1);
        let head = ring.direct_chain(&mut m, &[(DATA, 4, true)]);
        ring.submit(&mut m, head);
        assert_eq!(ring.used_idx(&m), 1);
        assert!(!m.irq());
        // With EVENT_IDX, as Linux drives it: used_event = last used index seen.
        let (mut m, mut ring) = greedy_ready(VERSION_1 | EVENT_IDX);
        for i in 0..3u16 {
            let head = ring.direct_chain(&mut m, &[(DATA, 4, true)]);
            ring.submit(&mut m, head);
            assert_eq!(ring.avail_event(&m), i + 1, "the device asks to hear of the next chain");
            assert!(m.irq(), "request {i}");
            m.linux_interrupt();
            while ring.take_used(&m).is_some() {}
            ring.set_used_event(&mut m, ring.last_used);
        }
        // The driver asks for an interrupt only after two more completions.
        ring.set_used_event(&mut m, ring.last_used + 1);
        let head = ring.direct_chain(&mut m, &[(DATA, 4, true)]);
        ring.submit(&mut m, head);
        assert!(!m.irq(), "used_event not yet passed");
        let head = ring.direct_chain(&mut m, &[(DATA, 4, true)]);
        ring.submit(&mut m, head);
        assert!(m.irq());
    }

    #[test]
    fn notifications_before_driver_ok_or_for_idle_queues_are_ignored() {
        let (mut m, mut ring) = greedy_ready(VERSION_1);
        m.wr(regs::STATUS, 0);
        // Re-do everything but DRIVER_OK.
        m.add_status(status::ACKNOWLEDGE | status::DRIVER);
        m.wr(regs::DRIVER_FEATURES_SEL, 1);
        m.wr(regs::DRIVER_FEATURES, 1);
        m.add_status(status::FEATURES_OK);
        m.wr(regs::QUEUE_NUM, 8);
        m.wr(regs::QUEUE_DESC_LOW, ring.desc);
        m.wr(regs::QUEUE_DRIVER_LOW, ring.avail);
        m.wr(regs::QUEUE_DEVICE_LOW, ring.used);
        m.wr(regs::QUEUE_READY, 1);
        m.poke(ring.used, &[0; 8]);
        ring.avail_idx = 0;
        let head = ring.direct_chain(&mut m, &[(DATA, 4, true)]);
        ring.submit(&mut m, head);
        assert_eq!(ring.used_idx(&m), 0);
        m.wr(regs::QUEUE_NOTIFY, 1);
        m.wr(regs::QUEUE_NOTIFY, 99);
        m.add_status(status::DRIVER_OK);
        m.wr(regs::QUEUE_NOTIFY, 1);
        assert_eq!(ring.used_idx(&m), 0, "queue 1 is not live");
        m.wr(regs::QUEUE_NOTIFY, 0);
        assert_eq!(ring.used_idx(&m), 1);
    }

    #[test]
    fn queue_ready_and_ring_addresses_read_back_and_stop() {
        let (mut m, ring) = greedy_ready(VERSION_1);
        let q = &m.state().queues[0];
        assert_eq!(
            (q.desc_addr, q.avail_addr, q.used_addr),
            (u64::from(ring.desc), u64::from(ring.avail), u64::from(ring.used))
        );
        // Addresses of a live queue cannot change.
        m.wr(regs::QUEUE_DESC_LOW, 0);
        assert_eq!(m.state().queues[0].desc_addr, u64::from(ring.desc));
        // The address registers are write-only.
        assert_eq!(m.rd(regs::QUEUE_DESC_LOW), 0);
        m.wr(regs::QUEUE_READY, 0);
        assert_eq!(m.rd(regs::QUEUE_READY), 0);
        // 64-bit addresses beyond RAM are refused when the queue is made live.
        m.wr(regs::QUEUE_DESC_HIGH, 1);
        m.wr(regs::QUEUE_READY, 1);
        assert_eq!(m.rd(regs::QUEUE_READY), 0);
        assert_ne!(m.rd(regs::STATUS) & status::DEVICE_NEEDS_RESET, 0);
    }

    #[test]
    fn reset_clears_device_and_queues_but_not_the_guest_page_size() {
        let image = TempImage::new("reset", &[0; 4096]);
        let mut m = Machine::new(VirtioMmio::new(
            false,
            IRQ,
            Some(Box::new(BlockDevice::open(&image.path, false).unwrap())),
        ));
        m.wr(regs::GUEST_PAGE_SIZE, 0x2000);
        m.wr(regs::STATUS, 0);
        m.add_status(status::ACKNOWLEDGE | status::DRIVER);
        m.wr(regs::DRIVER_FEATURES, INDIRECT_DESC as u32);
        m.wr(regs::QUEUE_SEL, 0);
        m.wr(regs::QUEUE_NUM, 16);
        m.wr(regs::QUEUE_ALIGN, 0x2000);
        m.wr(regs::QUEUE_PFN, RING / 0x2000);
        assert_eq!(m.rd(regs::QUEUE_PFN), RING / 0x2000);
        m.add_status(status::DRIVER_OK);
        let s = m.state();
        assert_eq!(s.queues[0].desc_addr, u64::from(RING), "PFN counts GuestPageSize units");
        assert_eq!(
            s.queues[0].used_addr,
            u64::from(RING) + 0x2000,
            "used ring aligned to 8 KiB"
        );
        // Make an interrupt pending, then reset.
        let mut ring = Ring::contiguous(RING, 16, 0x2000);
        let head = ring.direct_chain(&mut m, &[(DATA, 16, false), (DATA + 16, 1, true)]);
        ring.submit(&mut m, head);
        assert!(m.irq());
        m.wr(regs::STATUS, 0);
        assert!(!m.irq());
        let s = m.state();
        assert_eq!((s.status, s.interrupt_status, s.driver_features), (0, 0, 0));
        assert_eq!(
            s.queues[0],
            SplitQueue::new(crate::blk::QUEUE_SIZE),
            "queue back to reset state"
        );
        assert_eq!(m.rd(regs::QUEUE_PFN), 0);
        assert_eq!(s.guest_page_size, 0x2000, "GuestPageSize survives reset");
        // QueuePFN = 0 stops a queue.
        m.wr(regs::QUEUE_NUM, 16);
        m.wr(regs::QUEUE_PFN, RING / 0x2000);
        assert!(m.state().queues[0].ready);
        m.wr(regs::QUEUE_PFN, 0);
        assert!(!m.state().queues[0].ready);
        assert_eq!(m.state().queues[0].size, 16);
    }

    #[test]
    fn queues_take_the_ring_features_when_they_go_live_or_at_driver_ok() {
        let flags = |m: &Machine, q: usize| {
            let s = m.state();
            (s.queues[q].event_idx, s.queues[q].indirect)
        };
        // Modern: features are fixed before QueueReady; no notification is needed.
        let (mut m, _) = greedy_ready(VERSION_1 | EVENT_IDX | INDIRECT_DESC);
        assert_eq!(flags(&m, 0), (true, true));
        assert_eq!(flags(&m, 1), (false, false), "queue 1 is not live");
        // A queue made live after DRIVER_OK takes them as it goes live.
        m.wr(regs::QUEUE_SEL, 1);
        m.wr(regs::QUEUE_NUM, 16);
        m.wr(regs::QUEUE_DESC_LOW, RING + 0x4000);
        m.wr(regs::QUEUE_DRIVER_LOW, RING + 0x5000);
        m.wr(regs::QUEUE_DEVICE_LOW, RING + 0x6000);
        m.wr(regs::QUEUE_READY, 1);
        assert_eq!(flags(&m, 1), (true, true));
        let (m, _) = greedy_ready(VERSION_1 | INDIRECT_DESC);
        assert_eq!(flags(&m, 0), (false, true));

        // Legacy: a queue made live before the features were written takes them at DRIVER_OK.
        let mut m = greedy(false);
        m.wr(regs::GUEST_PAGE_SIZE, 4096);
        m.wr(regs::STATUS, 0);
        m.add_status(status::ACKNOWLEDGE | status::DRIVER);
        m.wr(regs::QUEUE_SEL, 0);
        m.wr(regs::QUEUE_NUM, 8);
        m.wr(regs::QUEUE_PFN, RING >> 12);
        assert_eq!(flags(&m, 0), (false, false));
        m.wr(regs::DRIVER_FEATURES, EVENT_IDX as u32);
        assert_eq!(flags(&m, 0), (false, false), "not before DRIVER_OK");
        m.add_status(status::DRIVER_OK);
        assert_eq!(flags(&m, 0), (true, false));
        // Features written after DRIVER_OK (a driver bug) reach neither the device nor the
        // queues, and a notification does not change that.
        m.wr(regs::DRIVER_FEATURES, INDIRECT_DESC as u32);
        m.wr(regs::QUEUE_NOTIFY, 0);
        assert_eq!(flags(&m, 0), (true, false));
    }

    #[test]
    fn configuration_space_takes_byte_half_and_word_accesses() {
        for modern in [false, true] {
            let mut m = greedy(modern);
            assert_eq!(m.rd_sized(regs::CONFIG, AccessSize::Byte), u32::from(b'a'));
            assert_eq!(
                m.rd_sized(regs::CONFIG + 1, AccessSize::Half),
                u32::from_le_bytes(*b"bc\0\0")
            );
            assert_eq!(
                m.rd_sized(regs::CONFIG + 4, AccessSize::Word),
                u32::from_le_bytes(*b"efgh")
            );
            assert_eq!(m.config_bytes(6, 4), b"gh\0\0", "beyond the structure reads zero");
            m.wr_sized(regs::CONFIG + 2, AccessSize::Half, 0x5a59);
            assert_eq!(m.config_bytes(0, 8), b"abYZefgh");
            m.wr_sized(regs::CONFIG + 7, AccessSize::Byte, u32::from(b'!'));
            assert_eq!(
                m.rd_sized(regs::CONFIG + 4, AccessSize::Word),
                u32::from_le_bytes(*b"efg!")
            );
        }
    }

    #[test]
    fn registers_want_aligned_words_and_versions_keep_to_their_own() {
        let mut m = greedy(true);
        assert_eq!(m.rd_sized(regs::MAGIC_VALUE, AccessSize::Byte), 0);
        assert_eq!(m.rd_sized(regs::MAGIC_VALUE, AccessSize::Half), 0);
        m.wr_sized(regs::STATUS, AccessSize::Byte, 1);
        assert_eq!(m.rd(regs::STATUS), 0);
        assert_eq!(m.rd(regs::MAGIC_VALUE + 1), 0, "misaligned");
        // Modern only: SHM (no regions: length -1), ConfigGeneration.
        m.wr(regs::SHM_SEL, 0);
        assert_eq!(m.rd(regs::SHM_LEN_LOW), u32::MAX);
        assert_eq!(m.rd(regs::SHM_LEN_HIGH), u32::MAX);
        assert_eq!(m.rd(regs::CONFIG_GENERATION), 0);
        // Legacy registers do nothing on a modern transport and vice versa.
        m.wr(regs::GUEST_PAGE_SIZE, 0x1234);
        assert_eq!(m.state().guest_page_size, 4096);
        m.wr(regs::QUEUE_PFN, RING >> 12);
        assert!(!m.state().queues[0].ready);
        let mut m = greedy(false);
        assert_eq!(m.rd(regs::SHM_LEN_LOW), 0);
        m.wr(regs::QUEUE_DESC_LOW, RING);
        assert_eq!(m.state().queues[0].desc_addr, 0);
        m.wr(regs::QUEUE_READY, 1);
        assert!(!m.state().queues[0].ready);
    }

    #[test]
    fn a_delayed_interrupt_fires_at_exactly_the_configured_virtual_time() {
        let image = TempImage::new("delay", &[0; 4096]);
        let disk = BlockDevice::open(&image.path, false).unwrap();
        let mut m = Machine::new(VirtioMmio::new(false, IRQ, Some(Box::new(disk))).with_interrupt_delay(1000));
        m.wr(regs::GUEST_PAGE_SIZE, 4096);
        m.add_status(status::ACKNOWLEDGE | status::DRIVER);
        m.wr(regs::QUEUE_NUM, 16);
        m.wr(regs::QUEUE_PFN, RING >> 12);
        m.add_status(status::DRIVER_OK);
        let mut ring = Ring::contiguous(RING, 16, 4096);
        m.time = 5000;
        m.bus.run_due_timers(5000);
        m.poke(DATA, &[4, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0]); // FLUSH
        let head = ring.direct_chain(&mut m, &[(DATA, 16, false), (DATA + 16, 1, true)]);
        ring.submit(&mut m, head);
        assert_eq!(ring.used_idx(&m), 1, "the work is done at notify time");
        assert!(!m.irq());
        assert_eq!(m.state().pending_interrupt_at, Some(6000));
        m.bus.run_due_timers(5999);
        assert!(!m.irq());
        m.bus.run_due_timers(6000);
        assert!(m.irq());
        assert_eq!(m.state().pending_interrupt_at, None);
    }

    #[test]
    fn snapshots_survive_serialisation_including_queue_alignment() {
        let image = TempImage::new("snapshot", &[0x11; 8192]);
        let open = || Box::new(BlockDevice::open(&image.path, false).unwrap()) as Box<dyn VirtioDevice>;
        // The restored machine opens a copy: the first one still holds the image's write lock.
        let copy = TempImage::new("snapshot-copy", &[0x11; 8192]);
        let reopen = || Box::new(BlockDevice::open(&copy.path, false).unwrap()) as Box<dyn VirtioDevice>;
        let mut m = Machine::new(VirtioMmio::new(false, IRQ, Some(open())).with_interrupt_delay(500));
        m.wr(regs::GUEST_PAGE_SIZE, 4096);
        m.add_status(status::ACKNOWLEDGE | status::DRIVER);
        // No FLUSH: the disk is write-through, which the restored backend must know too.
        m.wr(regs::DRIVER_FEATURES, (INDIRECT_DESC | EVENT_IDX) as u32);
        m.wr(regs::QUEUE_NUM, 32);
        // Not Linux's 4096, so that a lost alignment would show.
        m.wr(regs::QUEUE_ALIGN, 0x4000);
        m.wr(regs::QUEUE_PFN, RING >> 12);
        m.add_status(status::DRIVER_OK);
        let mut ring = Ring::contiguous(RING, 32, 0x4000);
        // One request completed, its interrupt still pending.
        m.poke(DATA, &[0; 16]); // IN, sector 0
        let head = ring.direct_chain(
            &mut m,
            &[(DATA, 16, false), (DATA + 0x100, 512, true), (DATA + 16, 1, true)],
        );
        ring.submit(&mut m, head);
        assert_eq!(ring.take_used(&m), Some((u32::from(head), 513)));
        let before = m.state();
        assert_eq!(before.pending_interrupt_at, Some(500));

        let text = toml::to_string(&before).unwrap();
        let after: TransportState = toml::from_str(&text).unwrap();
        assert_eq!(after, before);
        assert_eq!(after.queues[0].legacy_align, 0x4000);
        assert_eq!(after.queues[0].used_addr, u64::from(RING) + 0x4000);
        assert!(text.contains("legacy_align = 16384"), "{text}");
        assert!(text.contains("guest_page_size = 4096"), "{text}");

        // A fresh machine with the same RAM and the restored transport carries on.
        let mut fresh = VirtioMmio::new(false, IRQ, Some(reopen())).with_interrupt_delay(500);
        fresh.restore(after).unwrap();
        let mut m2 = Machine::new(fresh);
        m2.poke(RAM_BASE, &m.peek(RAM_BASE, RAM_SIZE as usize));
        assert_eq!(m2.rd(regs::STATUS), 7);
        assert_eq!(
            m2.rd_sized(regs::CONFIG + 0x20, AccessSize::Byte),
            0,
            "still write-through"
        );
        m2.bus.run_due_timers(500);
        assert!(m2.irq(), "the pending interrupt was re-armed");
        assert_eq!(m2.linux_interrupt(), INT_USED_BUFFER);
        ring.set_used_event(&mut m2, ring.last_used);
        let head = ring.direct_chain(
            &mut m2,
            &[(DATA, 16, false), (DATA + 0x100, 512, true), (DATA + 16, 1, true)],
        );
        ring.submit(&mut m2, head);
        assert_eq!(
            ring.take_used(&m2),
            Some((u32::from(head), 513)),
            "used ring found where QueueAlign put it"
        );
        assert_eq!(m2.peek(DATA + 0x100, 512), vec![0x11; 512]);
    }

    #[test]
    fn restore_refuses_a_snapshot_of_another_kind_of_transport() {
        let image = TempImage::new("restore", &[0; 4096]);
        let blk = || Some(Box::new(BlockDevice::open(&image.path, false).unwrap()) as Box<dyn VirtioDevice>);
        let legacy = VirtioMmio::new(false, IRQ, blk()).snapshot();
        assert!(VirtioMmio::new(true, IRQ, blk()).restore(legacy.clone()).is_err());
        assert!(VirtioMmio::new(false, IRQ, None).restore(legacy.clone()).is_err());
        let mut bad = legacy.clone();
        bad.queues[0].ready = true;
        bad.queues[0].size = 3;
        assert!(VirtioMmio::new(false, IRQ, blk()).restore(bad).is_err());
        assert!(VirtioMmio::new(false, IRQ, blk()).restore(legacy).is_ok());
    }

    /// A transport's saved bytes with `change` applied to the decoded form, encoded again.
    fn altered(bytes: &[u8], change: impl FnOnce(&mut SavedTransport)) -> Vec<u8> {
        let (format, inner): (u32, Vec<u8>) = state::decode(bytes, "test").unwrap();
        let mut saved: SavedTransport = state::decode(&inner, "test").unwrap();
        change(&mut saved);
        state::encode(&(format, state::encode(&saved)))
    }

    #[test]
    fn a_loaded_delayed_interrupt_fires_from_the_bus_clock_at_its_time() {
        let image = TempImage::new("load-delay", &[0x22; 8192]);
        let open = || Box::new(BlockDevice::open(&image.path, false).unwrap()) as Box<dyn VirtioDevice>;
        // The restored machine opens a copy: the first one still holds the image's write lock.
        let copy = TempImage::new("load-delay-copy", &[0x22; 8192]);
        let reopen = || Box::new(BlockDevice::open(&copy.path, false).unwrap()) as Box<dyn VirtioDevice>;
        let mut m = Machine::new(VirtioMmio::new(false, IRQ, Some(open())).with_interrupt_delay(500));
        m.wr(regs::GUEST_PAGE_SIZE, 4096);
        m.add_status(status::ACKNOWLEDGE | status::DRIVER);
        m.wr(regs::DRIVER_FEATURES, (INDIRECT_DESC | EVENT_IDX) as u32);
        m.wr(regs::QUEUE_NUM, 32);
        m.wr(regs::QUEUE_ALIGN, 0x4000);
        m.wr(regs::QUEUE_PFN, RING >> 12);
        m.add_status(status::DRIVER_OK);
        let mut ring = Ring::contiguous(RING, 32, 0x4000);
        m.time = 100;
        m.bus.run_due_timers(100);
        m.poke(DATA, &[0; 16]);
        let head = ring.direct_chain(
            &mut m,
            &[(DATA, 16, false), (DATA + 0x100, 512, true), (DATA + 16, 1, true)],
        );
        ring.submit(&mut m, head);
        assert_eq!(m.state().pending_interrupt_at, Some(600));
        assert!(!m.irq());

        let saved = m.bus.save_state();
        let mut f = Machine::new(VirtioMmio::new(false, IRQ, Some(reopen())).with_interrupt_delay(500));
        f.poke(RAM_BASE, &m.peek(RAM_BASE, RAM_SIZE as usize));
        f.bus.load_state(&saved).unwrap();
        f.time = 100;
        assert_eq!(f.state(), m.state());
        assert_eq!(f.rd(regs::INTERRUPT_STATUS), 0);
        assert_eq!(
            f.bus.save_state(),
            saved,
            "a register read re-arms and re-drives nothing"
        );
        for machine in [&mut m, &mut f] {
            machine.bus.run_due_timers(599);
            assert!(!machine.irq());
            machine.bus.run_due_timers(600);
            assert!(machine.irq(), "fired from the restored clock at exactly 600");
            assert_eq!(machine.linux_interrupt(), INT_USED_BUFFER);
            // The next delayed interrupt uses the same timer slot: no new slot in the clock.
            machine.time = 700;
            ring.set_used_event(machine, 1);
            let head = ring
                .clone()
                .direct_chain(machine, &[(DATA, 16, false), (DATA + 16, 1, true)]);
            ring.clone().submit(machine, head);
            machine.bus.run_due_timers(1200);
            assert!(machine.irq());
        }
        assert_eq!(f.bus.save_state(), m.bus.save_state());
    }

    #[test]
    fn load_state_refuses_another_layout_device_queues_features_or_format() {
        let image = TempImage::new("load-refuse", &[0; 4096]);
        let blk = |ro: bool| Some(Box::new(BlockDevice::open(&image.path, ro).unwrap()) as Box<dyn VirtioDevice>);
        let legacy = VirtioMmio::new(false, IRQ, blk(false)).save_state();
        let refuse = |t: &mut VirtioMmio, bytes: &[u8], expected: &str| {
            let before = t.save_state();
            let e = t.load_state(bytes).unwrap_err();
            assert!(e.0.contains(expected), "{e} (expected {expected})");
            assert!(!e.0.contains('\n'), "{e}");
            assert_eq!(t.save_state(), before, "a refused state changes nothing");
        };
        refuse(
            &mut VirtioMmio::new(true, IRQ, blk(false)),
            &legacy,
            "snapshot is of a legacy transport",
        );
        refuse(
            &mut VirtioMmio::new(false, IRQ, None),
            &legacy,
            "snapshot has device ID 2, this transport has 0",
        );
        refuse(greedy(false).transport_mut(), &legacy, "device ID 2");
        refuse(
            &mut VirtioMmio::new(false, IRQ, blk(true)),
            &legacy,
            "snapshot offers features",
        );
        let more_queues = altered(&legacy, |s| s.transport.queues.push(SplitQueue::new(8)));
        refuse(
            &mut VirtioMmio::new(false, IRQ, blk(false)),
            &more_queues,
            "snapshot has queues of sizes [256, 8], this transport [256]",
        );
        let bad_size = altered(&legacy, |s| {
            s.transport.queues[0].ready = true;
            s.transport.queues[0].size = 3;
        });
        refuse(
            &mut VirtioMmio::new(false, IRQ, blk(false)),
            &bad_size,
            "live queue of bad size 3",
        );
        let lost_timer = altered(&legacy, |s| s.transport.pending_interrupt_at = Some(5));
        refuse(&mut VirtioMmio::new(false, IRQ, blk(false)), &lost_timer, "no timer");
        let future = state::encode(&(STATE_FORMAT + 1, Vec::<u8>::new()));
        refuse(
            &mut VirtioMmio::new(false, IRQ, blk(false)),
            &future,
            "has format 2, this armvex reads format 1",
        );
        refuse(
            &mut VirtioMmio::new(false, IRQ, blk(false)),
            &legacy[..legacy.len() - 1],
            "not understood",
        );
        let mut longer = legacy.clone();
        longer.push(0);
        refuse(&mut VirtioMmio::new(false, IRQ, blk(false)), &longer, "trailing");
        // The empty slot's own state loads into an empty slot.
        let empty = VirtioMmio::new(true, IRQ, None).save_state();
        VirtioMmio::new(true, IRQ, None).load_state(&empty).unwrap();
        VirtioMmio::new(false, IRQ, blk(false)).load_state(&legacy).unwrap();
    }

    #[test]
    fn random_or_damaged_states_never_panic_on_load_or_afterwards() {
        let (mut m, mut ring) = greedy_ready(VERSION_1 | EVENT_IDX | INDIRECT_DESC);
        let head = ring.direct_chain(&mut m, &[(DATA, 4, true)]);
        ring.submit(&mut m, head);
        let good = m.transport().save_state();
        let ram = m.peek(RAM_BASE, RAM_SIZE as usize);
        let mut rng = Rng(0xdead_beef);
        let (mut loaded, mut refused) = (0, 0);
        for case in 0..3000 {
            let bytes: Vec<u8> = match case % 3 {
                // Random bytes.
                0 => (0..rng.below(120)).map(|_| rng.next() as u8).collect(),
                // A good state with a few bytes changed.
                1 => {
                    let mut b = good.clone();
                    for _ in 0..1 + rng.below(3) {
                        let i = rng.below(b.len() as u64) as usize;
                        b[i] = rng.next() as u8;
                    }
                    b
                }
                // A good state cut short or lengthened.
                _ => {
                    let mut b = good.clone();
                    b.resize(rng.below(b.len() as u64 + 8) as usize, rng.next() as u8);
                    b
                }
            };
            let mut alone = VirtioMmio::new(true, IRQ, Some(Box::new(Greedy { config: *b"abcdefgh" })));
            match alone.load_state(&bytes) {
                Err(e) => {
                    assert!(!e.0.is_empty() && !e.0.contains('\n'), "{e}");
                    refused += 1;
                }
                Ok(()) => {
                    loaded += 1;
                    let mut fresh = Machine::new(alone);
                    fresh.poke(RAM_BASE, &ram);
                    // Whatever was loaded, the guest can poke at it without harm.
                    for offset in (0..0x100).step_by(4) {
                        fresh.rd(offset);
                    }
                    fresh.config_bytes(0, 8);
                    let mut r = ring.clone();
                    let head = r.direct_chain(&mut fresh, &[(DATA, 4, true)]);
                    r.submit(&mut fresh, head);
                    fresh.wr(regs::QUEUE_NOTIFY, 1);
                    fresh.linux_interrupt();
                    fresh.wr(regs::QUEUE_SEL, 1);
                    fresh.wr(regs::QUEUE_READY, 1);
                    fresh.wr(regs::STATUS, 0);
                }
            }
        }
        assert!(loaded > 100 && refused > 1000, "loaded {loaded}, refused {refused}");
    }
}
