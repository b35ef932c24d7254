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
//!   backend) except the legacy GuestPageSize, which Linux writes only once at probe.
//! * **QueueNum** must be a power of two no larger than QueueNumMax (split queues, §2.7); any
//!   other value sets DEVICE_NEEDS_RESET and leaves the size unchanged. So does a queue whose
//!   rings are misaligned or not wholly in RAM when it is made live, and a notified queue
//!   whose chains break a rule of §2.7 (see [`crate::queue`]). DEVICE_NEEDS_RESET (64) stays
//!   set until reset, the device ignores notifications meanwhile, and if DRIVER_OK was set a
//!   configuration-change interrupt tells the driver (§2.1.2).
//! * **Features**: the backend's device-type bits plus INDIRECT_DESC and EVENT_IDX, and
//!   VERSION_1 when modern. ACCESS_PLATFORM and RING_PACKED are never offered (nor any other
//!   transport bit the backend names).
//! * **Interrupt**: one level-triggered line, high while InterruptStatus (bit 0 used buffer,
//!   bit 1 configuration change) is non-zero.
//! * **Completion timing**: a QueueNotify write is handled synchronously: requests are
//!   completed and the used-buffer interrupt raised before the write returns, at the virtual
//!   time of the write. With [`VirtioMmio::with_interrupt_delay`] the interrupt (not the work)
//!   is instead raised exactly `delay` virtual nanoseconds later, through a bus timer.
//! * **Register accesses** below 0x100 must be aligned 32-bit; others read as zero and are
//!   ignored (as in QEMU). The configuration space takes 1, 2 and 4-byte accesses.
//! * **VendorID** is QEMU's ("QEMU", 0x554d4551), so register dumps compare equal under both.

use crate::backend::VirtioBackend;
use crate::features::{DEVICE_TYPE_MASK, EVENT_IDX, INDIRECT_DESC, VERSION_1};
use crate::queue::SplitQueue;
use armvex_bus::{AccessSize, Device, DeviceContext, TimerSlot};
use serde::{Deserialize, Serialize};
use std::fmt::Display;

/// "virt" in little-endian ASCII.
pub const MAGIC_VALUE: u32 = 0x7472_6976;
/// The VendorID reported: QEMU's, so guest-visible registers match the reference emulator.
pub const VENDOR_ID: u32 = 0x554d_4551;

/// Register offsets (§4.2.2, legacy §4.2.4).
pub mod regs {
    pub const MAGIC_VALUE: u32 = 0x000;
    pub const VERSION: u32 = 0x004;
    pub const DEVICE_ID: u32 = 0x008;
    pub const VENDOR_ID: u32 = 0x00c;
    pub const DEVICE_FEATURES: u32 = 0x010;
    pub const DEVICE_FEATURES_SEL: u32 = 0x014;
    pub const DRIVER_FEATURES: u32 = 0x020;
    pub const DRIVER_FEATURES_SEL: u32 = 0x024;
    /// Legacy only.
    pub const GUEST_PAGE_SIZE: u32 = 0x028;
    pub const QUEUE_SEL: u32 = 0x030;
    pub const QUEUE_NUM_MAX: u32 = 0x034;
    pub const QUEUE_NUM: u32 = 0x038;
    /// Legacy only.
    pub const QUEUE_ALIGN: u32 = 0x03c;
    /// Legacy only.
    pub const QUEUE_PFN: u32 = 0x040;
    pub const QUEUE_READY: u32 = 0x044;
    pub const QUEUE_NOTIFY: u32 = 0x050;
    pub const INTERRUPT_STATUS: u32 = 0x060;
    pub const INTERRUPT_ACK: u32 = 0x064;
    pub const STATUS: u32 = 0x070;
    pub const QUEUE_DESC_LOW: u32 = 0x080;
    pub const QUEUE_DESC_HIGH: u32 = 0x084;
    pub const QUEUE_DRIVER_LOW: u32 = 0x090;
    pub const QUEUE_DRIVER_HIGH: u32 = 0x094;
    pub const QUEUE_DEVICE_LOW: u32 = 0x0a0;
    pub const QUEUE_DEVICE_HIGH: u32 = 0x0a4;
    pub const SHM_SEL: u32 = 0x0ac;
    pub const SHM_LEN_LOW: u32 = 0x0b0;
    pub const SHM_LEN_HIGH: u32 = 0x0b4;
    pub const SHM_BASE_LOW: u32 = 0x0b8;
    pub const SHM_BASE_HIGH: u32 = 0x0bc;
    pub const CONFIG_GENERATION: u32 = 0x0fc;
    pub const CONFIG: u32 = 0x100;
}

/// Device status bits (§2.1).
pub mod status {
    pub const ACKNOWLEDGE: u32 = 1;
    pub const DRIVER: u32 = 2;
    pub const DRIVER_OK: u32 = 4;
    pub const FEATURES_OK: u32 = 8;
    pub const DEVICE_NEEDS_RESET: u32 = 64;
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
    /// The DeviceID of the backend at snapshot time (0: none); checked on restore.
    pub device_id: u32,
    /// Device status (§2.1).
    pub status: u32,
    pub device_features_sel: u32,
    pub driver_features_sel: u32,
    /// What the driver wrote to DriverFeatures, both words.
    pub driver_features: u64,
    /// Legacy GuestPageSize (survives reset).
    pub guest_page_size: u32,
    pub queue_sel: u32,
    pub interrupt_status: u32,
    pub config_generation: u32,
    pub shm_sel: u32,
    /// With a delayed interrupt: the virtual time at which the used-buffer interrupt is due.
    pub pending_interrupt_at: Option<u64>,
    pub queues: Vec<SplitQueue>,
}

/// A virtio-mmio transport with an optional device behind it. Place it on the bus with
/// `Bus::add_device(base, 0x200, Box::new(transport))`.
pub struct VirtioMmio {
    name: String,
    irq_id: u32,
    backend: Option<Box<dyn VirtioBackend>>,
    /// Feature bits offered to the driver.
    offered: u64,
    state: TransportState,
    interrupt_delay_ns: u64,
    timer: Option<TimerSlot>,
    /// After [`VirtioMmio::restore`]: drive the interrupt line and re-arm a pending deadline
    /// at the next bus callback (restore itself has no access to the bus).
    resync: bool,
}

impl VirtioMmio {
    /// A transport with the `modern` (version 2) or legacy (version 1) register layout,
    /// driving GIC interrupt `irq_id`, with `backend` behind it (`None`: an empty slot,
    /// DeviceID 0).
    pub fn new(modern: bool, irq_id: u32, backend: Option<Box<dyn VirtioBackend>>) -> Self {
        let (name, offered, device_id, queues) = match &backend {
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
            backend,
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
        }
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

    /// The guest-visible state as plain data.
    pub fn snapshot(&self) -> TransportState {
        self.state.clone()
    }

    /// Put back a state taken with [`VirtioMmio::snapshot`] from a transport built the same
    /// way (same layout, same device type, same queues). The interrupt line is driven again,
    /// and a pending delayed interrupt re-armed, at the next bus access or timer callback.
    pub fn restore(&mut self, state: TransportState) -> Result<(), String> {
        if state.modern != self.state.modern {
            return Err(format!(
                "{}: snapshot is of a {} transport",
                self.name,
                if state.modern { "modern" } else { "legacy" }
            ));
        }
        if state.device_id != self.state.device_id {
            return Err(format!(
                "{}: snapshot has device ID {}, this transport has {}",
                self.name, state.device_id, self.state.device_id
            ));
        }
        let max = |qs: &[SplitQueue]| qs.iter().map(|q| q.max_size).collect::<Vec<_>>();
        if max(&state.queues) != max(&self.state.queues) {
            return Err(format!("{}: snapshot has different queues", self.name));
        }
        if let Some(q) = state
            .queues
            .iter()
            .find(|q| q.ready && SplitQueue::check_size(u32::from(q.size), q.max_size).is_err())
        {
            return Err(format!(
                "{}: snapshot has a live queue of bad size {}",
                self.name, q.size
            ));
        }
        self.state = state;
        self.resync = true;
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
        if let Some(b) = &mut self.backend {
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
            if let Some(b) = &mut self.backend {
                b.activate(negotiated);
            }
        }
        self.state.status = new;
    }

    /// The driver wrote QueueNotify (§4.2.3.3): process that queue now.
    fn notify(&mut self, ctx: &mut DeviceContext, index: u32) {
        let negotiated = self.negotiated_features();
        let s = &mut self.state;
        let Some(backend) = &mut self.backend else {
            return;
        };
        if s.status & status::DEVICE_NEEDS_RESET != 0 {
            tracing::debug!(target: "virtio", "{}: notify ignored until reset", self.name);
            return;
        }
        if s.status & status::DRIVER_OK == 0 {
            // §3.1.1: no buffers are used before DRIVER_OK.
            tracing::debug!(target: "virtio", "{}: notify before DRIVER_OK ignored", self.name);
            return;
        }
        let Some(q) = s.queues.get_mut(index as usize) else {
            tracing::warn!(target: "virtio", "{}: notify of queue {index}, which does not exist", self.name);
            return;
        };
        if !q.ready {
            tracing::debug!(target: "virtio", "{}: notify of queue {index}, which is not live", self.name);
            return;
        }
        q.event_idx = negotiated & EVENT_IDX != 0;
        q.indirect = negotiated & INDIRECT_DESC != 0;
        let processed = backend.process_queue(index as usize, q, ctx.memory);
        // Requests completed before any error are still reported to the driver.
        let wanted = q.should_notify(ctx.memory);
        match wanted {
            Ok(true) => self.signal_used(ctx),
            Ok(false) => {}
            Err(e) => self.needs_reset(ctx, format!("queue {index}: {e}")),
        }
        if let Err(e) = processed {
            self.needs_reset(ctx, format!("queue {index}: {e}"));
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
                let region = self.backend.as_ref().and_then(|b| b.shared_memory_region(s.shm_sel));
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
                q.event_idx = negotiated & EVENT_IDX != 0;
                q.indirect = negotiated & INDIRECT_DESC != 0;
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
                    q.event_idx = negotiated & EVENT_IDX != 0;
                    q.indirect = negotiated & INDIRECT_DESC != 0;
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

    fn read(&mut self, ctx: &mut DeviceContext, offset: u32, size: AccessSize) -> u32 {
        self.resync(ctx);
        if offset >= regs::CONFIG {
            let Some(b) = &self.backend else {
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
            if let Some(b) = &mut self.backend {
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
}
