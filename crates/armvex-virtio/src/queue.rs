//! Split virtqueues (virtio 1.2 §2.7).
//!
//! A virtqueue is how a driver hands buffers to a device. The *split* layout keeps three areas
//! in guest memory, all little-endian:
//!
//! * the **descriptor table** (§2.7.5): `size` entries of 16 bytes, `{le64 addr, le32 len,
//!   le16 flags, le16 next}`. A descriptor names one guest buffer; `NEXT` links it to the next
//!   descriptor of the same request (a *chain*), `WRITE` marks a buffer the device writes
//!   (otherwise the device only reads it), and `INDIRECT` (§2.7.5.3) says the buffer is itself a
//!   table of descriptors holding the rest of the request;
//! * the **available ring** (§2.7.6), written by the driver: `{le16 flags, le16 idx,
//!   le16 ring[size], le16 used_event}`. `ring` holds the heads of chains the driver offers and
//!   `idx` counts (mod 2^16) how many it has offered;
//! * the **used ring** (§2.7.8), written by the device: `{le16 flags, le16 idx,
//!   {le32 id, le32 len} ring[size], le16 avail_event}`. The device returns each chain by its head
//!   with the number of bytes it wrote into the chain's writable buffers.
//!
//! Where the areas live depends on the transport: a modern (version 2) virtio-mmio driver
//! writes the three addresses; a legacy (version 1) driver gives one page frame number and the
//! areas follow each other, the used ring aligned to `QueueAlign` (§4.2.4 and §2.7.2's legacy
//! layout). Both end up as the three addresses of [`SplitQueue`].
//!
//! With `VIRTIO_F_EVENT_IDX` (§2.7.7, §2.7.10) each side tells the other how far it may get
//! before it wants to hear about it: the driver's `used_event` suppresses interrupts until the
//! used index passes it, and the device's `avail_event` suppresses notifications. Without it
//! the driver can only switch interrupts off with the `NO_INTERRUPT` flag of the available ring.
//!
//! ## Everything the guest writes is checked, here and only here
//!
//! Guest memory is untrusted. [`SplitQueue::pop`] validates a whole chain before any device
//! sees it: every descriptor and buffer inside RAM, no index beyond the table, no loops, no
//! chain longer than the queue, indirect tables of a sane length that are neither nested nor
//! combined with `NEXT`, and no device-readable buffer after a device-writable one (§2.7.4.2).
//! A chain that breaks any rule is a [`QueueError`]; the transport answers it by setting
//! `DEVICE_NEEDS_RESET` (§2.1.2) and the queue stays stopped until the driver resets the device.
//! Nothing here panics on guest data and nothing touches memory outside RAM: all guest accesses
//! go through [`PhysicalMemory::read_bytes`] and [`PhysicalMemory::write_bytes`], which refuse
//! anything not wholly in RAM and keep the CPU's predecoded-code cache coherent.
//!
//! Rules about the *meaning* of a request (which buffers a block read needs, where the status
//! byte goes) belong to the device, which fails such a request on its own terms.

use armvex_bus::memory::OutsideRam;
use armvex_bus::{PhysAddr, PhysicalMemory};
use serde::{Deserialize, Serialize};

/// Descriptor flag: the chain continues at `next`.
pub const VIRTQ_DESC_F_NEXT: u16 = 1;
/// Descriptor flag: the buffer is device-writable (otherwise device-readable).
pub const VIRTQ_DESC_F_WRITE: u16 = 2;
/// Descriptor flag: the buffer is a table of indirect descriptors (§2.7.5.3).
pub const VIRTQ_DESC_F_INDIRECT: u16 = 4;
/// Available-ring flag: the driver does not want used-buffer interrupts (without EVENT_IDX).
pub const VIRTQ_AVAIL_F_NO_INTERRUPT: u16 = 1;

/// Size of one descriptor in bytes.
const DESC_SIZE: u64 = 16;

/// The used-ring alignment of the legacy layout until the driver writes `QueueAlign`
/// (4096, as in QEMU; Linux always writes 4096 anyway).
pub const LEGACY_DEFAULT_ALIGN: u32 = 4096;

/// Why a queue cannot be used: the driver broke a rule of §2.7.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum QueueError {
    /// Queue size zero, above the device's maximum, or not a power of two (§2.7).
    BadSize {
        /// The size written.
        size: u32,
        /// The device's maximum.
        max: u16,
    },
    /// A ring area is not aligned as §2.7 requires (descriptors 16, available 2, used 4).
    Misaligned {
        /// Which area.
        area: &'static str,
        /// Its address.
        addr: u64,
    },
    /// Legacy `QueueAlign` that is not a power of two.
    BadLegacyAlign(u32),
    /// Legacy `GuestPageSize` that is not a power of two.
    BadPageSize(u32),
    /// A ring (descriptor table, available or used ring) is not wholly in RAM.
    RingOutsideRam {
        /// Which area.
        area: &'static str,
        /// Its address.
        addr: u64,
    },
    /// The available index moved by more than the queue size since the device last looked.
    AvailIndexJump {
        /// The index the device had reached.
        from: u16,
        /// The index the driver published.
        to: u16,
    },
    /// The available ring names a head beyond the descriptor table.
    HeadOutOfRange {
        /// The head named.
        head: u16,
        /// The queue size.
        size: u16,
    },
    /// A descriptor's `next` points beyond its table.
    NextOutOfRange {
        /// The chain's head.
        head: u16,
        /// The `next` index.
        next: u16,
    },
    /// A descriptor (or indirect table) is not wholly in RAM.
    DescriptorOutsideRam {
        /// The chain's head.
        head: u16,
        /// Address of the descriptor or table.
        addr: u64,
    },
    /// A data buffer is not wholly in RAM.
    BufferOutsideRam {
        /// The chain's head.
        head: u16,
        /// The buffer's address.
        addr: u64,
        /// Its length.
        len: u32,
    },
    /// Following `next` revisits a descriptor.
    Loop {
        /// The chain's head.
        head: u16,
    },
    /// More buffers in one chain than the queue size (§2.7.5.3.1).
    ChainTooLong {
        /// The chain's head.
        head: u16,
        /// The queue size.
        size: u16,
    },
    /// `INDIRECT` used without `VIRTIO_F_INDIRECT_DESC` negotiated.
    IndirectNotNegotiated {
        /// The chain's head.
        head: u16,
    },
    /// An indirect table inside an indirect table.
    NestedIndirect {
        /// The chain's head.
        head: u16,
    },
    /// `INDIRECT` together with `NEXT` (§2.7.5.3.1).
    IndirectWithNext {
        /// The chain's head.
        head: u16,
    },
    /// Indirect table length zero, not a multiple of 16, or more entries than the queue size.
    BadIndirectLength {
        /// The chain's head.
        head: u16,
        /// The table's length in bytes.
        len: u32,
    },
    /// A device-readable buffer after a device-writable one (§2.7.4.2).
    ReadableAfterWritable {
        /// The chain's head.
        head: u16,
    },
}

impl std::fmt::Display for QueueError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        use QueueError::*;
        match self {
            BadSize { size, max } => write!(f, "queue size {size} is not a power of two in 1..={max}"),
            Misaligned { area, addr } => write!(f, "{area} at {addr:#x} is misaligned"),
            BadLegacyAlign(a) => write!(f, "legacy QueueAlign {a:#x} is not a power of two"),
            BadPageSize(p) => write!(f, "legacy GuestPageSize {p:#x} is not a power of two"),
            RingOutsideRam { area, addr } => write!(f, "{area} at {addr:#x} is outside RAM"),
            AvailIndexJump { from, to } => {
                write!(
                    f,
                    "available index jumped from {from} to {to}, more than the queue size"
                )
            }
            HeadOutOfRange { head, size } => write!(f, "chain head {head} is beyond the queue size {size}"),
            NextOutOfRange { head, next } => write!(f, "chain {head}: next index {next} is beyond its table"),
            DescriptorOutsideRam { head, addr } => {
                write!(f, "chain {head}: descriptor at {addr:#x} is outside RAM")
            }
            BufferOutsideRam { head, addr, len } => {
                write!(f, "chain {head}: buffer {addr:#x}+{len:#x} is outside RAM")
            }
            Loop { head } => write!(f, "chain {head} loops"),
            ChainTooLong { head, size } => write!(f, "chain {head} is longer than the queue size {size}"),
            IndirectNotNegotiated { head } => {
                write!(f, "chain {head}: indirect descriptor without VIRTIO_F_INDIRECT_DESC")
            }
            NestedIndirect { head } => write!(f, "chain {head}: indirect table inside an indirect table"),
            IndirectWithNext { head } => write!(f, "chain {head}: descriptor has both INDIRECT and NEXT"),
            BadIndirectLength { head, len } => write!(f, "chain {head}: indirect table length {len:#x} is invalid"),
            ReadableAfterWritable { head } => {
                write!(f, "chain {head}: device-readable buffer after a device-writable one")
            }
        }
    }
}

impl std::error::Error for QueueError {}

/// True if guest physical `addr..addr+len` lies wholly inside one RAM region (an empty range
/// always does: nothing will be accessed).
pub fn ram_contains(mem: &PhysicalMemory, addr: u64, len: u64) -> bool {
    if len == 0 {
        return true;
    }
    let Some(end) = addr.checked_add(len) else {
        return false;
    };
    mem.regions().any(|r| addr >= r.base && end <= r.base + r.size)
}

/// `base + offset` as a guest physical address (40 bits with LPAE), if it does not wrap.
fn address(base: u64, offset: u64) -> Option<PhysAddr> {
    base.checked_add(offset)
}

fn read_ring(
    mem: &PhysicalMemory,
    base: u64,
    offset: u64,
    buf: &mut [u8],
    area: &'static str,
) -> Result<(), QueueError> {
    let err = QueueError::RingOutsideRam {
        area,
        addr: base.wrapping_add(offset),
    };
    let pa = address(base, offset).ok_or(err.clone())?;
    mem.read_bytes(pa, buf).map_err(|_| err)
}

fn write_ring(
    mem: &mut PhysicalMemory,
    base: u64,
    offset: u64,
    data: &[u8],
    area: &'static str,
) -> Result<(), QueueError> {
    let err = QueueError::RingOutsideRam {
        area,
        addr: base.wrapping_add(offset),
    };
    let pa = address(base, offset).ok_or(err.clone())?;
    mem.write_bytes(pa, data).map_err(|_| err)
}

fn read_u16(mem: &PhysicalMemory, base: u64, offset: u64, area: &'static str) -> Result<u16, QueueError> {
    let mut b = [0u8; 2];
    read_ring(mem, base, offset, &mut b, area)?;
    Ok(u16::from_le_bytes(b))
}

/// §2.7.10: should the device notify, given the driver's `event` index, the new used index and
/// the used index at the previous decision? (True if `event` lies in `[old, new)` mod 2^16.)
pub fn vring_need_event(event: u16, new: u16, old: u16) -> bool {
    new.wrapping_sub(event).wrapping_sub(1) < new.wrapping_sub(old)
}

const DESCRIPTOR_AREA: &str = "descriptor table";
const AVAIL_AREA: &str = "available ring";
const USED_AREA: &str = "used ring";

/// One split virtqueue: where its rings are and how far the device has got. Plain data: it is
/// part of the transport's snapshot (see [`crate::transport::TransportState`]).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct SplitQueue {
    /// The largest size the device accepts (`QueueNumMax`).
    pub max_size: u16,
    /// The size the driver chose (`QueueNum`): a power of two in `1..=max_size`.
    pub size: u16,
    /// The queue is live (modern `QueueReady`, or a non-zero legacy `QueuePFN`).
    pub ready: bool,
    /// Guest physical address of the descriptor table.
    pub desc_addr: u64,
    /// Guest physical address of the available ring ("driver area").
    pub avail_addr: u64,
    /// Guest physical address of the used ring ("device area").
    pub used_addr: u64,
    /// Legacy `QueuePFN` (0 when unused or modern).
    pub legacy_pfn: u32,
    /// Legacy `QueueAlign`: alignment of the used ring after the available ring.
    pub legacy_align: u32,
    /// `VIRTIO_F_EVENT_IDX` was negotiated.
    pub event_idx: bool,
    /// `VIRTIO_F_INDIRECT_DESC` was negotiated.
    pub indirect: bool,
    /// Free-running index of the next available-ring entry the device will take.
    pub next_avail: u16,
    /// Free-running index of the next used-ring entry the device will fill.
    pub next_used: u16,
    /// With EVENT_IDX: the used index at the last interrupt decision (None: no decision yet).
    pub signalled_used: Option<u16>,
    /// Used entries were added since the last interrupt decision.
    pub used_pending: bool,
}

impl SplitQueue {
    /// A queue as after reset: not ready, size = `max_size`, legacy alignment 4096.
    pub fn new(max_size: u16) -> Self {
        SplitQueue {
            max_size,
            size: max_size,
            ready: false,
            desc_addr: 0,
            avail_addr: 0,
            used_addr: 0,
            legacy_pfn: 0,
            legacy_align: LEGACY_DEFAULT_ALIGN,
            event_idx: false,
            indirect: false,
            next_avail: 0,
            next_used: 0,
            signalled_used: None,
            used_pending: false,
        }
    }

    /// Follow the ring features of `negotiated` (EVENT_IDX, INDIRECT_DESC): the transport
    /// calls this when the queue goes live and when the driver sets DRIVER_OK, not per
    /// notification.
    pub fn use_features(&mut self, negotiated: u64) {
        self.event_idx = negotiated & crate::features::EVENT_IDX != 0;
        self.indirect = negotiated & crate::features::INDIRECT_DESC != 0;
    }

    /// Back to the state after reset (§2.7: a reset queue is not ready and forgets its rings).
    pub fn reset(&mut self) {
        *self = SplitQueue::new(self.max_size);
    }

    /// Check a queue size: a power of two in `1..=max` (split queues, §2.7).
    pub fn check_size(size: u32, max: u16) -> Result<(), QueueError> {
        if size == 0 || size > u32::from(max) || !size.is_power_of_two() {
            return Err(QueueError::BadSize { size, max });
        }
        Ok(())
    }

    /// The driver wrote `QueueNum`.
    pub fn set_size(&mut self, size: u32) -> Result<(), QueueError> {
        Self::check_size(size, self.max_size)?;
        self.size = size as u16;
        Ok(())
    }

    /// Byte sizes of the three areas for the current size (§2.7: 16n, 6+2n, 6+8n).
    fn area_sizes(&self) -> (u64, u64, u64) {
        let n = u64::from(self.size);
        (DESC_SIZE * n, 6 + 2 * n, 6 + 8 * n)
    }

    /// Legacy layout (§2.7.2 legacy interface, §4.2.4): descriptor table at
    /// `pfn * page_size`, available ring right after it, used ring at the next multiple of
    /// `legacy_align`, then enable the queue. `pfn` must be non-zero (0 means "stop").
    pub fn enable_legacy(&mut self, mem: &PhysicalMemory, pfn: u32, page_size: u32) -> Result<(), QueueError> {
        if !page_size.is_power_of_two() {
            return Err(QueueError::BadPageSize(page_size));
        }
        if !self.legacy_align.is_power_of_two() {
            return Err(QueueError::BadLegacyAlign(self.legacy_align));
        }
        Self::check_size(u32::from(self.size), self.max_size)?;
        let (desc_len, avail_len, _) = self.area_sizes();
        let align = u64::from(self.legacy_align);
        self.legacy_pfn = pfn;
        self.desc_addr = u64::from(pfn) * u64::from(page_size);
        self.avail_addr = self.desc_addr + desc_len;
        self.used_addr = (self.avail_addr + avail_len).div_ceil(align) * align;
        self.enable(mem)
    }

    /// Check the configured size and the three areas (alignment, wholly in RAM) and make the
    /// queue live, starting from index 0 as a freshly initialised ring does (§2.7.6, §2.7.8).
    pub fn enable(&mut self, mem: &PhysicalMemory) -> Result<(), QueueError> {
        Self::check_size(u32::from(self.size), self.max_size)?;
        let (desc_len, avail_len, used_len) = self.area_sizes();
        for (area, addr, len, align) in [
            (DESCRIPTOR_AREA, self.desc_addr, desc_len, 16),
            (AVAIL_AREA, self.avail_addr, avail_len, 2),
            (USED_AREA, self.used_addr, used_len, 4),
        ] {
            if addr % align != 0 {
                return Err(QueueError::Misaligned { area, addr });
            }
            if !ram_contains(mem, addr, len) {
                return Err(QueueError::RingOutsideRam { area, addr });
            }
        }
        self.ready = true;
        self.next_avail = 0;
        self.next_used = 0;
        self.signalled_used = None;
        self.used_pending = false;
        Ok(())
    }

    /// The size as a usable divisor: guards against a restored snapshot with a bad size.
    fn valid_size(&self) -> Result<u16, QueueError> {
        Self::check_size(u32::from(self.size), self.max_size)?;
        Ok(self.size)
    }

    /// Take the next chain the driver made available, fully validated, or `None` if there is
    /// none (or the queue is not ready). With EVENT_IDX, also publishes `avail_event` so the
    /// driver notifies when it adds the next chain after this one.
    pub fn pop(&mut self, mem: &mut PhysicalMemory) -> Result<Option<DescriptorChain>, QueueError> {
        if !self.ready {
            return Ok(None);
        }
        let size = self.valid_size()?;
        let avail_idx = read_u16(mem, self.avail_addr, 2, AVAIL_AREA)?;
        let pending = avail_idx.wrapping_sub(self.next_avail);
        if pending == 0 {
            return Ok(None);
        }
        if pending > size {
            return Err(QueueError::AvailIndexJump {
                from: self.next_avail,
                to: avail_idx,
            });
        }
        let slot = u64::from(self.next_avail % size);
        let head = read_u16(mem, self.avail_addr, 4 + 2 * slot, AVAIL_AREA)?;
        let chain = self.walk_chain(mem, head)?;
        self.next_avail = self.next_avail.wrapping_add(1);
        if self.event_idx {
            let offset = 4 + 8 * u64::from(size);
            write_ring(mem, self.used_addr, offset, &self.next_avail.to_le_bytes(), USED_AREA)?;
        }
        Ok(Some(chain))
    }

    /// Read one 16-byte descriptor `index` of the table at `table`.
    fn read_descriptor(mem: &PhysicalMemory, table: u64, index: u32, head: u16) -> Result<RawDescriptor, QueueError> {
        let offset = DESC_SIZE * u64::from(index);
        let err = QueueError::DescriptorOutsideRam {
            head,
            addr: table.wrapping_add(offset),
        };
        let pa = address(table, offset).ok_or(err.clone())?;
        let mut b = [0u8; 16];
        mem.read_bytes(pa, &mut b).map_err(|_| err)?;
        Ok(RawDescriptor {
            addr: u64::from_le_bytes(b[0..8].try_into().expect("8 bytes")),
            len: u32::from_le_bytes(b[8..12].try_into().expect("4 bytes")),
            flags: u16::from_le_bytes([b[12], b[13]]),
            next: u16::from_le_bytes([b[14], b[15]]),
        })
    }

    /// Follow the chain starting at descriptor `head` and check every rule of §2.7.5.
    pub fn walk_chain(&self, mem: &PhysicalMemory, head: u16) -> Result<DescriptorChain, QueueError> {
        let size = self.valid_size()?;
        if head >= size {
            return Err(QueueError::HeadOutOfRange { head, size });
        }
        let mut chain = DescriptorChain {
            head,
            buffers: Vec::new(),
        };
        // The table being walked: the queue's own, or (once) an indirect one.
        let mut table = self.desc_addr;
        let mut table_entries = u32::from(size);
        let mut in_indirect = false;
        let mut index = u32::from(head);
        // Descriptors read from the current table: more than it has entries means a loop.
        let mut visited = 0u32;
        let mut seen_writable = false;
        loop {
            visited += 1;
            if visited > table_entries {
                return Err(QueueError::Loop { head });
            }
            let d = Self::read_descriptor(mem, table, index, head)?;
            if d.flags & VIRTQ_DESC_F_INDIRECT != 0 {
                if in_indirect {
                    return Err(QueueError::NestedIndirect { head });
                }
                if !self.indirect {
                    return Err(QueueError::IndirectNotNegotiated { head });
                }
                if d.flags & VIRTQ_DESC_F_NEXT != 0 {
                    return Err(QueueError::IndirectWithNext { head });
                }
                let entries = d.len / DESC_SIZE as u32;
                if d.len == 0 || d.len % DESC_SIZE as u32 != 0 || entries > u32::from(size) {
                    return Err(QueueError::BadIndirectLength { head, len: d.len });
                }
                if !ram_contains(mem, d.addr, u64::from(d.len)) {
                    return Err(QueueError::DescriptorOutsideRam { head, addr: d.addr });
                }
                // §2.7.5.3.2: the WRITE flag of the descriptor naming the table is ignored.
                table = d.addr;
                table_entries = entries;
                in_indirect = true;
                index = 0;
                visited = 0;
                continue;
            }
            let writable = d.flags & VIRTQ_DESC_F_WRITE != 0;
            if writable {
                seen_writable = true;
            } else if seen_writable {
                return Err(QueueError::ReadableAfterWritable { head });
            }
            if !ram_contains(mem, d.addr, u64::from(d.len)) {
                return Err(QueueError::BufferOutsideRam {
                    head,
                    addr: d.addr,
                    len: d.len,
                });
            }
            chain.buffers.push(Buffer {
                addr: d.addr,
                len: d.len,
                writable,
            });
            if chain.buffers.len() > usize::from(size) {
                return Err(QueueError::ChainTooLong { head, size });
            }
            if d.flags & VIRTQ_DESC_F_NEXT == 0 {
                return Ok(chain);
            }
            if u32::from(d.next) >= table_entries {
                return Err(QueueError::NextOutOfRange { head, next: d.next });
            }
            index = u32::from(d.next);
        }
    }

    /// Return chain `head` to the driver with `len` bytes written into its writable buffers
    /// (§2.7.8), and publish the new used index.
    pub fn add_used(&mut self, mem: &mut PhysicalMemory, head: u16, len: u32) -> Result<(), QueueError> {
        let size = self.valid_size()?;
        let slot = u64::from(self.next_used % size);
        let mut elem = [0u8; 8];
        elem[..4].copy_from_slice(&u32::from(head).to_le_bytes());
        elem[4..].copy_from_slice(&len.to_le_bytes());
        write_ring(mem, self.used_addr, 4 + 8 * slot, &elem, USED_AREA)?;
        self.next_used = self.next_used.wrapping_add(1);
        write_ring(mem, self.used_addr, 2, &self.next_used.to_le_bytes(), USED_AREA)?;
        self.used_pending = true;
        Ok(())
    }

    /// After adding used entries: does the driver want a used-buffer interrupt (§2.7.10)?
    /// False if nothing was added since the last call.
    pub fn should_notify(&mut self, mem: &PhysicalMemory) -> Result<bool, QueueError> {
        if !std::mem::take(&mut self.used_pending) {
            return Ok(false);
        }
        let size = self.valid_size()?;
        if self.event_idx {
            let used_event = read_u16(mem, self.avail_addr, 4 + 2 * u64::from(size), AVAIL_AREA)?;
            let new = self.next_used;
            Ok(match self.signalled_used.replace(new) {
                None => true,
                Some(old) => vring_need_event(used_event, new, old),
            })
        } else {
            let flags = read_u16(mem, self.avail_addr, 0, AVAIL_AREA)?;
            Ok(flags & VIRTQ_AVAIL_F_NO_INTERRUPT == 0)
        }
    }
}

/// A descriptor as it sits in guest memory.
#[derive(Clone, Copy, Debug)]
struct RawDescriptor {
    addr: u64,
    len: u32,
    flags: u16,
    next: u16,
}

/// One guest buffer of a validated chain: wholly inside RAM.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Buffer {
    /// Guest physical address of the buffer (40 bits with LPAE).
    pub addr: PhysAddr,
    /// Its length in bytes.
    pub len: u32,
    /// Device-writable (otherwise device-readable).
    pub writable: bool,
}

/// A validated request: its head index (what goes back in the used ring) and its buffers in
/// chain order, device-readable ones first.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct DescriptorChain {
    /// Index of the chain's head descriptor.
    pub head: u16,
    /// The buffers, device-readable ones first.
    pub buffers: Vec<Buffer>,
}

impl DescriptorChain {
    /// Total bytes the device may read.
    pub fn readable_len(&self) -> u64 {
        self.buffers
            .iter()
            .filter(|b| !b.writable)
            .map(|b| u64::from(b.len))
            .sum()
    }

    /// Total bytes the device may write.
    pub fn writable_len(&self) -> u64 {
        self.buffers
            .iter()
            .filter(|b| b.writable)
            .map(|b| u64::from(b.len))
            .sum()
    }

    /// The device-readable bytes as one stream.
    pub fn reader(&self) -> ChainCursor<'_> {
        ChainCursor::new(&self.buffers, false)
    }

    /// The device-writable bytes as one stream.
    pub fn writer(&self) -> ChainCursor<'_> {
        ChainCursor::new(&self.buffers, true)
    }

    /// Guest address of the very last device-writable byte (where e.g. virtio-blk puts its
    /// status), if there is any writable byte.
    pub fn last_writable_byte(&self) -> Option<PhysAddr> {
        self.buffers
            .iter()
            .rev()
            .find(|b| b.writable && b.len > 0)
            .map(|b| b.addr + u64::from(b.len - 1))
    }
}

/// A position in the readable or the writable bytes of a chain, which the device consumes as
/// one stream regardless of how the driver split it into buffers (§2.6.4, message framing).
#[derive(Clone, Debug)]
pub struct ChainCursor<'a> {
    buffers: &'a [Buffer],
    writable: bool,
    index: usize,
    offset: u32,
    remaining: u64,
}

impl<'a> ChainCursor<'a> {
    fn new(buffers: &'a [Buffer], writable: bool) -> Self {
        let remaining = buffers
            .iter()
            .filter(|b| b.writable == writable)
            .map(|b| u64::from(b.len))
            .sum();
        ChainCursor {
            buffers,
            writable,
            index: 0,
            offset: 0,
            remaining,
        }
    }

    /// Bytes left in the stream.
    pub fn remaining(&self) -> u64 {
        self.remaining
    }

    /// Keep at most `n` more bytes of the stream.
    pub fn limit(mut self, n: u64) -> Self {
        self.remaining = self.remaining.min(n);
        self
    }

    /// The next contiguous piece of at most `max` bytes, consumed.
    fn next_span(&mut self, max: usize) -> Option<(PhysAddr, usize)> {
        while self.remaining > 0 && max > 0 {
            let b = self.buffers.get(self.index)?;
            if b.writable != self.writable || self.offset >= b.len {
                self.index += 1;
                self.offset = 0;
                continue;
            }
            let n = u64::from(b.len - self.offset).min(max as u64).min(self.remaining) as usize;
            let addr = b.addr + u64::from(self.offset);
            self.offset += n as u32;
            self.remaining -= n as u64;
            return Some((addr, n));
        }
        None
    }

    /// Copy the next bytes of the stream into `out`; returns how many (fewer at the end).
    pub fn read(&mut self, mem: &PhysicalMemory, out: &mut [u8]) -> Result<usize, OutsideRam> {
        let mut done = 0;
        while let Some((addr, n)) = self.next_span(out.len() - done) {
            mem.read_bytes(addr, &mut out[done..done + n])?;
            done += n;
        }
        Ok(done)
    }

    /// Copy `data` into the next bytes of the stream; returns how many fit.
    pub fn write(&mut self, mem: &mut PhysicalMemory, data: &[u8]) -> Result<usize, OutsideRam> {
        let mut done = 0;
        while let Some((addr, n)) = self.next_span(data.len() - done) {
            mem.write_bytes(addr, &data[done..done + n])?;
            done += n;
        }
        Ok(done)
    }

    /// Skip up to `n` bytes of the stream; returns how many were skipped.
    pub fn skip(&mut self, n: u64) -> u64 {
        let mut done = 0u64;
        while done < n {
            let step = (n - done).min(usize::MAX as u64) as usize;
            match self.next_span(step) {
                Some((_, k)) => done += k as u64,
                None => break,
            }
        }
        done
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::fuzzing::{FUZZ_RAM_BASE, FUZZ_RAM_SIZE, fuzz_split_queue};
    use crate::testing::Rng;
    use armvex_bus::RamRegionSpec;

    const BASE: u32 = 0x6000_0000;
    const DESC: u32 = BASE;
    const AVAIL: u32 = BASE + 0x1000;
    const USED: u32 = BASE + 0x2000;
    const DATA: u32 = BASE + 0x4000;
    const TABLE: u32 = BASE + 0x8000;

    fn mem() -> PhysicalMemory {
        PhysicalMemory::new(&[RamRegionSpec {
            name: "ram".into(),
            base: u64::from(BASE),
            size: 0x1_0000,
        }])
        .unwrap()
    }

    fn queue(mem: &PhysicalMemory, size: u16) -> SplitQueue {
        let mut q = SplitQueue::new(256);
        q.set_size(u32::from(size)).unwrap();
        q.desc_addr = u64::from(DESC);
        q.avail_addr = u64::from(AVAIL);
        q.used_addr = u64::from(USED);
        q.indirect = true;
        q.enable(mem).unwrap();
        q
    }

    fn desc(mem: &mut PhysicalMemory, table: u32, i: u16, addr: u64, len: u32, flags: u16, next: u16) {
        let mut d = [0u8; 16];
        d[0..8].copy_from_slice(&addr.to_le_bytes());
        d[8..12].copy_from_slice(&len.to_le_bytes());
        d[12..14].copy_from_slice(&flags.to_le_bytes());
        d[14..16].copy_from_slice(&next.to_le_bytes());
        mem.write_bytes(u64::from(table + 16 * u32::from(i)), &d).unwrap();
    }

    /// Make `heads` available, starting at ring slot 0.
    fn offer(mem: &mut PhysicalMemory, size: u16, heads: &[u16]) {
        for (i, h) in heads.iter().enumerate() {
            mem.write_bytes(
                u64::from(AVAIL + 4 + 2 * (i as u32 % u32::from(size))),
                &h.to_le_bytes(),
            )
            .unwrap();
        }
        mem.write_bytes(u64::from(AVAIL + 2), &(heads.len() as u16).to_le_bytes())
            .unwrap();
    }

    fn pop_err(mem: &mut PhysicalMemory, q: &mut SplitQueue) -> QueueError {
        q.pop(mem).expect_err("the chain must be refused")
    }

    /// vexpress-a15 with LPAE: RAM above 4 GiB, where the driver may put rings and buffers.
    #[test]
    fn rings_and_buffers_above_4g_are_used_at_their_64_bit_addresses() {
        const HIGH: u64 = 0x1_0000_0000;
        let mut m = PhysicalMemory::new(&[RamRegionSpec {
            name: "ram".into(),
            base: 0x8000_0000,
            size: 0x8001_0000,
        }])
        .unwrap();
        let mut q = SplitQueue::new(256);
        q.set_size(4).unwrap();
        (q.desc_addr, q.avail_addr, q.used_addr) = (HIGH, HIGH + 0x1000, HIGH + 0x2000);
        q.enable(&m).unwrap();
        let put_desc = |m: &mut PhysicalMemory, i: u64, addr: u64, len: u32, flags: u16, next: u16| {
            let mut d = [0u8; 16];
            d[0..8].copy_from_slice(&addr.to_le_bytes());
            d[8..12].copy_from_slice(&len.to_le_bytes());
            d[12..14].copy_from_slice(&flags.to_le_bytes());
            d[14..16].copy_from_slice(&next.to_le_bytes());
            m.write_bytes(HIGH + 16 * i, &d).unwrap();
        };
        // A readable buffer above 4 GiB, a writable one just below, one that crosses 4 GiB.
        put_desc(&mut m, 0, HIGH + 0x4000, 4, VIRTQ_DESC_F_NEXT, 1);
        put_desc(&mut m, 1, 0xffff_fff8, 4, VIRTQ_DESC_F_NEXT | VIRTQ_DESC_F_WRITE, 2);
        put_desc(&mut m, 2, 0xffff_fffc, 8, VIRTQ_DESC_F_WRITE, 0);
        m.write_bytes(HIGH + 0x4000, b"high").unwrap();
        m.write_bytes(HIGH + 0x1004, &0u16.to_le_bytes()).unwrap();
        m.write_bytes(HIGH + 0x1002, &1u16.to_le_bytes()).unwrap();
        let chain = q.pop(&mut m).unwrap().unwrap();
        assert_eq!(
            chain.buffers.iter().map(|b| b.addr).collect::<Vec<_>>(),
            [HIGH + 0x4000, 0xffff_fff8, 0xffff_fffc]
        );
        assert_eq!(chain.last_writable_byte(), Some(HIGH + 3));
        let mut read = [0u8; 4];
        assert_eq!(chain.reader().read(&m, &mut read), Ok(4));
        assert_eq!(&read, b"high");
        assert_eq!(chain.writer().write(&mut m, b"0123456789ab"), Ok(12));
        let mut written = [0u8; 12];
        m.read_bytes(0xffff_fff8, &mut written).unwrap();
        assert_eq!(&written, b"0123456789ab");
        q.add_used(&mut m, 0, 12).unwrap();
        assert_eq!(m.read(HIGH + 0x2002, armvex_bus::AccessSize::Half), Some(1));
        assert_eq!(m.read(HIGH + 0x2008, armvex_bus::AccessSize::Word), Some(12));
        // A buffer past the end of RAM (0x1_0001_0000) is refused with its full address.
        put_desc(&mut m, 3, HIGH + 0xfffc, 8, 0, 0);
        m.write_bytes(HIGH + 0x1006, &3u16.to_le_bytes()).unwrap();
        m.write_bytes(HIGH + 0x1002, &2u16.to_le_bytes()).unwrap();
        assert_eq!(
            q.pop(&mut m).unwrap_err().to_string(),
            "chain 3: buffer 0x10000fffc+0x8 is outside RAM"
        );
    }

    #[test]
    fn a_chain_is_popped_used_and_notified() {
        let mut m = mem();
        let mut q = queue(&m, 4);
        desc(&mut m, DESC, 2, u64::from(DATA), 16, VIRTQ_DESC_F_NEXT, 3);
        desc(&mut m, DESC, 3, u64::from(DATA + 16), 8, VIRTQ_DESC_F_WRITE, 0);
        offer(&mut m, 4, &[2]);
        let chain = q.pop(&mut m).unwrap().unwrap();
        assert_eq!(chain.head, 2);
        assert_eq!(
            chain.buffers,
            vec![
                Buffer {
                    addr: u64::from(DATA),
                    len: 16,
                    writable: false
                },
                Buffer {
                    addr: u64::from(DATA + 16),
                    len: 8,
                    writable: true
                },
            ]
        );
        assert_eq!((chain.readable_len(), chain.writable_len()), (16, 8));
        assert_eq!(chain.last_writable_byte(), Some(u64::from(DATA + 23)));
        assert_eq!(q.pop(&mut m).unwrap(), None, "only one chain was offered");
        assert!(!q.should_notify(&m).unwrap(), "nothing used yet");
        q.add_used(&mut m, 2, 5).unwrap();
        assert_eq!(m.read(u64::from(USED + 2), armvex_bus::AccessSize::Half), Some(1));
        assert_eq!(m.read(u64::from(USED + 4), armvex_bus::AccessSize::Word), Some(2));
        assert_eq!(m.read(u64::from(USED + 8), armvex_bus::AccessSize::Word), Some(5));
        assert!(q.should_notify(&m).unwrap());
        assert!(!q.should_notify(&m).unwrap(), "each batch is reported once");
        // NO_INTERRUPT suppresses the interrupt when EVENT_IDX is off.
        m.write_bytes(u64::from(AVAIL), &VIRTQ_AVAIL_F_NO_INTERRUPT.to_le_bytes())
            .unwrap();
        q.add_used(&mut m, 2, 0).unwrap();
        assert!(!q.should_notify(&m).unwrap());
    }

    #[test]
    fn legacy_layout_follows_pfn_page_size_and_alignment() {
        let m = mem();
        let mut q = SplitQueue::new(256);
        q.set_size(16).unwrap();
        q.legacy_align = 4096;
        q.enable_legacy(&m, BASE / 4096, 4096).unwrap();
        assert_eq!(q.desc_addr, u64::from(BASE));
        assert_eq!(q.avail_addr, u64::from(BASE) + 256);
        // 256 + 6 + 32 = 294 → next 4096 boundary.
        assert_eq!(q.used_addr, u64::from(BASE) + 4096);
        q.legacy_align = 64;
        q.enable_legacy(&m, BASE / 4096, 4096).unwrap();
        assert_eq!(q.used_addr, u64::from(BASE) + 320);
        // Linux's 256-entry ring: 4096 + 518 bytes, used ring at +8192.
        q.set_size(256).unwrap();
        q.legacy_align = 4096;
        q.enable_legacy(&m, BASE / 4096 + 1, 4096).unwrap();
        assert_eq!(q.used_addr, u64::from(BASE) + 0x1000 + 0x2000);
        assert_eq!(
            q.enable_legacy(&m, BASE / 4096, 3000),
            Err(QueueError::BadPageSize(3000))
        );
        q.legacy_align = 100;
        assert_eq!(
            q.enable_legacy(&m, BASE / 4096, 4096),
            Err(QueueError::BadLegacyAlign(100))
        );
    }

    #[test]
    fn sizes_must_be_powers_of_two_up_to_the_maximum() {
        let mut q = SplitQueue::new(128);
        for bad in [0, 3, 100, 256, 65536, u32::MAX] {
            assert_eq!(q.set_size(bad), Err(QueueError::BadSize { size: bad, max: 128 }));
            assert_eq!(q.size, 128, "a refused size changes nothing");
        }
        for good in [1, 2, 64, 128] {
            q.set_size(good).unwrap();
        }
    }

    #[test]
    fn rings_must_be_aligned_and_in_ram() {
        let m = mem();
        let mut q = SplitQueue::new(8);
        q.desc_addr = u64::from(DESC) + 8;
        q.avail_addr = u64::from(AVAIL);
        q.used_addr = u64::from(USED);
        assert!(matches!(q.enable(&m), Err(QueueError::Misaligned { .. })));
        q.desc_addr = u64::from(DESC);
        q.used_addr = u64::from(BASE) + 0x1_0000 - 16;
        assert!(matches!(q.enable(&m), Err(QueueError::RingOutsideRam { .. })));
        q.used_addr = 0x1_0000_0000 + u64::from(USED);
        assert!(matches!(q.enable(&m), Err(QueueError::RingOutsideRam { .. })));
        assert!(!q.ready);
    }

    #[test]
    fn a_descriptor_outside_ram_is_refused() {
        let mut m = mem();
        let mut q = queue(&m, 4);
        desc(&mut m, DESC, 0, 0x1000_0000, 512, VIRTQ_DESC_F_WRITE, 0);
        offer(&mut m, 4, &[0]);
        assert_eq!(
            pop_err(&mut m, &mut q),
            QueueError::BufferOutsideRam {
                head: 0,
                addr: 0x1000_0000,
                len: 512
            }
        );
        // Straddling the end of RAM, and beyond 4 GiB.
        let mut q = queue(&m, 4);
        desc(&mut m, DESC, 0, u64::from(BASE) + 0xff00, 0x200, 0, 0);
        assert!(matches!(pop_err(&mut m, &mut q), QueueError::BufferOutsideRam { .. }));
        let mut q = queue(&m, 4);
        desc(&mut m, DESC, 0, 0x1_6000_0000, 16, 0, 0);
        assert!(matches!(pop_err(&mut m, &mut q), QueueError::BufferOutsideRam { .. }));
        let mut q = queue(&m, 4);
        desc(&mut m, DESC, 0, u64::MAX - 4, 16, 0, 0);
        assert!(matches!(pop_err(&mut m, &mut q), QueueError::BufferOutsideRam { .. }));
        // An indirect table outside RAM.
        let mut q = queue(&m, 4);
        desc(&mut m, DESC, 0, 0x2000_0000, 32, VIRTQ_DESC_F_INDIRECT, 0);
        assert!(matches!(
            pop_err(&mut m, &mut q),
            QueueError::DescriptorOutsideRam { .. }
        ));
    }

    #[test]
    fn a_looping_chain_is_refused() {
        let mut m = mem();
        let mut q = queue(&m, 4);
        desc(&mut m, DESC, 0, u64::from(DATA), 1, VIRTQ_DESC_F_NEXT, 1);
        desc(&mut m, DESC, 1, u64::from(DATA), 1, VIRTQ_DESC_F_NEXT, 0);
        offer(&mut m, 4, &[0]);
        assert_eq!(pop_err(&mut m, &mut q), QueueError::Loop { head: 0 });
        let mut q = queue(&m, 4);
        desc(&mut m, DESC, 0, u64::from(DATA), 1, VIRTQ_DESC_F_NEXT, 0);
        assert_eq!(pop_err(&mut m, &mut q), QueueError::Loop { head: 0 });
        // Inside an indirect table.
        let mut q = queue(&m, 4);
        desc(&mut m, DESC, 0, u64::from(TABLE), 48, VIRTQ_DESC_F_INDIRECT, 0);
        desc(&mut m, TABLE, 0, u64::from(DATA), 1, VIRTQ_DESC_F_NEXT, 1);
        desc(&mut m, TABLE, 1, u64::from(DATA), 1, VIRTQ_DESC_F_NEXT, 2);
        desc(&mut m, TABLE, 2, u64::from(DATA), 1, VIRTQ_DESC_F_NEXT, 1);
        assert_eq!(pop_err(&mut m, &mut q), QueueError::Loop { head: 0 });
    }

    #[test]
    fn a_chain_longer_than_the_queue_is_refused() {
        let mut m = mem();
        // Queue of 4: two direct buffers, then an indirect table of three: five buffers.
        let mut q = queue(&m, 4);
        desc(&mut m, DESC, 0, u64::from(DATA), 1, VIRTQ_DESC_F_NEXT, 1);
        desc(&mut m, DESC, 1, u64::from(DATA), 1, VIRTQ_DESC_F_NEXT, 2);
        desc(&mut m, DESC, 2, u64::from(TABLE), 48, VIRTQ_DESC_F_INDIRECT, 0);
        for i in 0..3 {
            desc(&mut m, TABLE, i, u64::from(DATA), 1, VIRTQ_DESC_F_NEXT, i + 1);
        }
        desc(&mut m, TABLE, 2, u64::from(DATA), 1, 0, 0);
        offer(&mut m, 4, &[0]);
        assert_eq!(pop_err(&mut m, &mut q), QueueError::ChainTooLong { head: 0, size: 4 });
        // One direct buffer fewer fits exactly.
        let mut q = queue(&m, 4);
        offer(&mut m, 4, &[1]);
        assert_eq!(q.pop(&mut m).unwrap().unwrap().buffers.len(), 4);
    }

    #[test]
    fn indirect_tables_are_checked() {
        let mut m = mem();
        desc(&mut m, TABLE, 0, u64::from(DATA), 16, VIRTQ_DESC_F_NEXT, 1);
        desc(&mut m, TABLE, 1, u64::from(DATA + 16), 1, VIRTQ_DESC_F_WRITE, 0);
        offer(&mut m, 8, &[0]);
        let cases: [(u32, u16, QueueError); 5] = [
            (
                0,
                VIRTQ_DESC_F_INDIRECT,
                QueueError::BadIndirectLength { head: 0, len: 0 },
            ),
            (
                24,
                VIRTQ_DESC_F_INDIRECT,
                QueueError::BadIndirectLength { head: 0, len: 24 },
            ),
            (
                16 * 9,
                VIRTQ_DESC_F_INDIRECT,
                QueueError::BadIndirectLength { head: 0, len: 144 },
            ),
            (
                32,
                VIRTQ_DESC_F_INDIRECT | VIRTQ_DESC_F_NEXT,
                QueueError::IndirectWithNext { head: 0 },
            ),
            (
                16,
                VIRTQ_DESC_F_INDIRECT,
                QueueError::NextOutOfRange { head: 0, next: 1 },
            ),
        ];
        for (len, flags, expected) in cases {
            let mut q = queue(&m, 8);
            desc(&mut m, DESC, 0, u64::from(TABLE), len, flags, 1);
            assert_eq!(pop_err(&mut m, &mut q), expected, "table length {len}, flags {flags}");
        }
        // Fine: the WRITE flag of the descriptor naming the table is ignored.
        let mut q = queue(&m, 8);
        desc(
            &mut m,
            DESC,
            0,
            u64::from(TABLE),
            32,
            VIRTQ_DESC_F_INDIRECT | VIRTQ_DESC_F_WRITE,
            0,
        );
        let chain = q.pop(&mut m).unwrap().unwrap();
        assert_eq!((chain.readable_len(), chain.writable_len()), (16, 1));
        // Not negotiated.
        let mut q = queue(&m, 8);
        q.indirect = false;
        assert_eq!(pop_err(&mut m, &mut q), QueueError::IndirectNotNegotiated { head: 0 });
        // Nested.
        let mut q = queue(&m, 8);
        desc(&mut m, TABLE, 1, u64::from(TABLE + 0x100), 16, VIRTQ_DESC_F_INDIRECT, 0);
        assert_eq!(pop_err(&mut m, &mut q), QueueError::NestedIndirect { head: 0 });
    }

    #[test]
    fn readable_after_writable_is_refused() {
        let mut m = mem();
        let mut q = queue(&m, 4);
        desc(
            &mut m,
            DESC,
            0,
            u64::from(DATA),
            16,
            VIRTQ_DESC_F_WRITE | VIRTQ_DESC_F_NEXT,
            1,
        );
        desc(&mut m, DESC, 1, u64::from(DATA + 16), 1, 0, 0);
        offer(&mut m, 4, &[0]);
        assert_eq!(pop_err(&mut m, &mut q), QueueError::ReadableAfterWritable { head: 0 });
    }

    #[test]
    fn ring_indices_are_checked() {
        let mut m = mem();
        let mut q = queue(&m, 4);
        offer(&mut m, 4, &[7]);
        assert_eq!(pop_err(&mut m, &mut q), QueueError::HeadOutOfRange { head: 7, size: 4 });
        let mut q = queue(&m, 4);
        desc(&mut m, DESC, 0, u64::from(DATA), 1, VIRTQ_DESC_F_NEXT, 9);
        offer(&mut m, 4, &[0]);
        assert_eq!(pop_err(&mut m, &mut q), QueueError::NextOutOfRange { head: 0, next: 9 });
        let mut q = queue(&m, 4);
        m.write_bytes(u64::from(AVAIL + 2), &5u16.to_le_bytes()).unwrap();
        assert_eq!(pop_err(&mut m, &mut q), QueueError::AvailIndexJump { from: 0, to: 5 });
    }

    #[test]
    fn a_restored_queue_with_a_bad_size_fails_instead_of_dividing_by_zero() {
        let mut m = mem();
        let mut q = queue(&m, 4);
        q.size = 0;
        offer(&mut m, 4, &[0]);
        assert!(matches!(q.pop(&mut m), Err(QueueError::BadSize { .. })));
        assert!(matches!(q.add_used(&mut m, 0, 0), Err(QueueError::BadSize { .. })));
    }

    #[test]
    fn event_idx_publishes_avail_event_and_honours_used_event() {
        let mut m = mem();
        let mut q = queue(&m, 8);
        q.event_idx = true;
        for i in 0..8 {
            desc(&mut m, DESC, i, u64::from(DATA), 1, VIRTQ_DESC_F_WRITE, 0);
        }
        offer(&mut m, 8, &[0, 1, 2]);
        let avail_event = |m: &PhysicalMemory| m.read(u64::from(USED + 4 + 8 * 8), armvex_bus::AccessSize::Half);
        let set_used_event =
            |m: &mut PhysicalMemory, v: u16| m.write_bytes(u64::from(AVAIL + 4 + 2 * 8), &v.to_le_bytes()).unwrap();
        for expected in 1..=3u32 {
            let c = q.pop(&mut m).unwrap().unwrap();
            assert_eq!(
                avail_event(&m),
                Some(expected),
                "the device wants a notification after each"
            );
            q.add_used(&mut m, c.head, 1).unwrap();
        }
        // First decision: always interrupt.
        assert!(q.should_notify(&m).unwrap());
        // The driver asks to hear only when the used index passes 5.
        set_used_event(&mut m, 5);
        for h in 3..5 {
            q.add_used(&mut m, h, 1).unwrap();
            assert!(
                !q.should_notify(&m).unwrap(),
                "used index {} has not passed 5",
                q.next_used
            );
        }
        q.add_used(&mut m, 5, 1).unwrap();
        assert!(q.should_notify(&m).unwrap(), "used index 6 passed used_event 5");
        // Crossing the event in a batch of two also notifies, wrapping around 2^16 too.
        set_used_event(&mut m, 6);
        q.add_used(&mut m, 6, 1).unwrap();
        q.add_used(&mut m, 7, 1).unwrap();
        assert!(q.should_notify(&m).unwrap());
        assert!(vring_need_event(0xffff, 1, 0xfffe));
        assert!(!vring_need_event(2, 1, 0xfffe));
    }

    #[test]
    fn cursors_stream_across_buffers() {
        let mut m = mem();
        m.write_bytes(u64::from(DATA), b"abcdefgh").unwrap();
        let chain = DescriptorChain {
            head: 0,
            buffers: vec![
                Buffer {
                    addr: u64::from(DATA),
                    len: 3,
                    writable: false,
                },
                Buffer {
                    addr: u64::from(DATA + 0x100),
                    len: 0,
                    writable: false,
                },
                Buffer {
                    addr: u64::from(DATA + 3),
                    len: 5,
                    writable: false,
                },
                Buffer {
                    addr: u64::from(DATA + 0x200),
                    len: 2,
                    writable: true,
                },
                Buffer {
                    addr: u64::from(DATA + 0x300),
                    len: 4,
                    writable: true,
                },
            ],
        };
        let mut r = chain.reader();
        let mut buf = [0u8; 6];
        assert_eq!(r.read(&m, &mut buf).unwrap(), 6);
        assert_eq!(&buf, b"abcdef");
        assert_eq!(r.remaining(), 2);
        assert_eq!(r.read(&m, &mut buf).unwrap(), 2);
        assert_eq!(&buf[..2], b"gh");
        assert_eq!(r.read(&m, &mut buf).unwrap(), 0);
        let mut w = chain.writer().limit(5);
        assert_eq!(w.skip(1), 1);
        assert_eq!(w.write(&mut m, b"XYZW").unwrap(), 4, "limited to 5 bytes, one skipped");
        assert_eq!(
            m.read(u64::from(DATA + 0x201), armvex_bus::AccessSize::Byte),
            Some(u32::from(b'X'))
        );
        assert_eq!(
            m.read(u64::from(DATA + 0x300), armvex_bus::AccessSize::Word),
            Some(u32::from_le_bytes(*b"YZW\0"))
        );
        assert_eq!(chain.last_writable_byte(), Some(u64::from(DATA + 0x303)));
    }

    /// A ring image that is mostly plausible, so random cases reach deep into the parser:
    /// indices mostly in range, addresses mostly in RAM, flags in every combination.
    fn random_ring(rng: &mut Rng) -> Vec<u8> {
        let size: u16 = if rng.chance(95) {
            1 << rng.below(9)
        } else {
            rng.next() as u16
        };
        let flags = rng.below(16) as u8;
        let legacy = flags & 4 != 0;
        let n = u32::from(size.clamp(1, 256));
        let mut image = vec![0u8; 0x4000];
        image.iter_mut().for_each(|b| *b = rng.next() as u8);
        let put = |image: &mut Vec<u8>, at: u32, bytes: &[u8]| {
            let at = at as usize;
            if at + bytes.len() <= image.len() {
                image[at..at + bytes.len()].copy_from_slice(bytes);
            }
        };
        let random_desc = |rng: &mut Rng, index: u32, entries: u32| {
            let mut d = [0u8; 16];
            let addr = if rng.chance(85) {
                u64::from(FUZZ_RAM_BASE) + rng.below(u64::from(FUZZ_RAM_SIZE) - 64)
            } else {
                rng.next()
            };
            let mut flags = 0u16;
            if rng.chance(60) {
                flags |= VIRTQ_DESC_F_NEXT;
            }
            if rng.chance(40) {
                flags |= VIRTQ_DESC_F_WRITE;
            }
            let (addr, len) = if rng.chance(8) {
                flags |= VIRTQ_DESC_F_INDIRECT;
                let table = if rng.chance(90) {
                    u64::from(FUZZ_RAM_BASE) + 0x3000 + (rng.below(0x800) & !15)
                } else {
                    rng.next()
                };
                let len = if rng.chance(80) {
                    16 * rng.below(u64::from(entries) + 2) as u32
                } else {
                    rng.next() as u32
                };
                (table, len)
            } else {
                (
                    addr,
                    if rng.chance(80) {
                        rng.below(300) as u32
                    } else {
                        rng.next() as u32
                    },
                )
            };
            // Often the following descriptor, so long loop-free chains occur too.
            let next = if rng.chance(50) {
                (index + 1) as u16
            } else if rng.chance(85) {
                rng.below(u64::from(entries)) as u16
            } else {
                rng.next() as u16
            };
            d[0..8].copy_from_slice(&addr.to_le_bytes());
            d[8..12].copy_from_slice(&len.to_le_bytes());
            d[12..14].copy_from_slice(&flags.to_le_bytes());
            d[14..16].copy_from_slice(&next.to_le_bytes());
            d
        };
        for i in 0..n {
            let d = random_desc(rng, i, n);
            put(&mut image, 16 * i, &d);
        }
        for i in 0..0x100 {
            let d = random_desc(rng, i % 16, 16);
            put(&mut image, 0x3000 + 16 * i, &d);
        }
        // Sometimes a well-formed chain of k direct buffers then an indirect table of m: near
        // and beyond the limit of `size` buffers.
        let long_chain = rng.chance(10);
        if long_chain {
            let k = rng.below(u64::from(n)) as u32;
            let m = 1 + rng.below(u64::from(n)) as u32;
            let buffer = |next: u32, more: bool| {
                let mut d = [0u8; 16];
                d[0..8].copy_from_slice(&u64::from(FUZZ_RAM_BASE + 0x8000).to_le_bytes());
                d[8..12].copy_from_slice(&16u32.to_le_bytes());
                d[12..14].copy_from_slice(&(if more { VIRTQ_DESC_F_NEXT } else { 0 }).to_le_bytes());
                d[14..16].copy_from_slice(&(next as u16).to_le_bytes());
                d
            };
            for i in 0..k {
                put(&mut image, 16 * i, &buffer(i + 1, true));
            }
            let mut d = [0u8; 16];
            d[0..8].copy_from_slice(&u64::from(FUZZ_RAM_BASE + 0x3000).to_le_bytes());
            d[8..12].copy_from_slice(&(16 * m).to_le_bytes());
            d[12..14].copy_from_slice(&VIRTQ_DESC_F_INDIRECT.to_le_bytes());
            put(&mut image, 16 * k, &d);
            for j in 0..m {
                put(&mut image, 0x3000 + 16 * j, &buffer(j + 1, j + 1 < m));
            }
        }
        let avail = if legacy { 16 * n } else { 0x1000 };
        let idx = if long_chain {
            1
        } else if rng.chance(90) {
            rng.below(u64::from(n) + 1) as u16
        } else {
            rng.next() as u16
        };
        if long_chain {
            put(&mut image, avail + 4, &0u16.to_le_bytes());
        }
        put(&mut image, avail, &(rng.below(2) as u16).to_le_bytes());
        put(&mut image, avail + 2, &idx.to_le_bytes());
        for i in u32::from(long_chain)..n {
            let head = if rng.chance(90) {
                rng.below(u64::from(n)) as u16
            } else {
                rng.next() as u16
            };
            put(&mut image, avail + 4 + 2 * i, &head.to_le_bytes());
        }
        let mut data = size.to_le_bytes().to_vec();
        data.push(flags);
        data.extend_from_slice(&image);
        data
    }

    #[test]
    fn thousands_of_random_rings_never_panic_the_parser() {
        let mut rng = Rng(0x5eed_1234_abcd_0001);
        for _ in 0..4000 {
            let data = random_ring(&mut rng);
            fuzz_split_queue(&data);
        }
        // Raw bytes too, including short and empty inputs.
        for len in 0..600 {
            let data: Vec<u8> = (0..len).map(|_| rng.next() as u8).collect();
            fuzz_split_queue(&data);
        }
    }

    #[test]
    fn the_random_rings_reach_every_outcome() {
        // The random test above is only worth something if it exercises the paths: count
        // which errors and successes it produces on a replica of the fuzz harness.
        let mut rng = Rng(0x5eed_1234_abcd_0001);
        let mut seen = std::collections::BTreeSet::new();
        let mut chains = 0;
        for _ in 0..4000 {
            let data = random_ring(&mut rng);
            let size = u16::from_le_bytes([data[0], data[1]]);
            let flags = data[2];
            let mut mem = PhysicalMemory::new(&[RamRegionSpec {
                name: "r".into(),
                base: u64::from(FUZZ_RAM_BASE),
                size: u64::from(FUZZ_RAM_SIZE),
            }])
            .unwrap();
            mem.write_bytes(u64::from(FUZZ_RAM_BASE), &data[3..]).unwrap();
            let mut q = SplitQueue::new(256);
            q.event_idx = flags & 1 != 0;
            q.indirect = flags & 2 != 0;
            if let Err(e) = q.set_size(u32::from(size)) {
                seen.insert(format!("{e:?}").split([' ', '{', '(']).next().unwrap().to_string());
                continue;
            }
            let base = u64::from(FUZZ_RAM_BASE);
            let r = if flags & 4 != 0 {
                q.enable_legacy(&mem, FUZZ_RAM_BASE / 4096, 4096)
            } else {
                q.desc_addr = base;
                q.avail_addr = base + 0x1000;
                q.used_addr = base + 0x2000;
                q.enable(&mem)
            };
            r.unwrap();
            match q.pop(&mut mem) {
                Ok(Some(_)) => chains += 1,
                Ok(None) => {}
                Err(e) => {
                    seen.insert(format!("{e:?}").split([' ', '{', '(']).next().unwrap().to_string());
                }
            }
        }
        assert!(chains > 200, "only {chains} valid chains");
        for kind in [
            "BadSize",
            "HeadOutOfRange",
            "NextOutOfRange",
            "BufferOutsideRam",
            "Loop",
            "ChainTooLong",
            "IndirectNotNegotiated",
            "NestedIndirect",
            "IndirectWithNext",
            "BadIndirectLength",
            "ReadableAfterWritable",
            "AvailIndexJump",
            "DescriptorOutsideRam",
        ] {
            assert!(seen.contains(kind), "random rings never produced {kind}: {seen:?}");
        }
    }
}
