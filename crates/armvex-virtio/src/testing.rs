//! Test support: a machine with RAM and one virtio-mmio transport on a real [`Bus`], a
//! guest-side split-ring builder, and the register sequences of Linux 6.1's
//! `drivers/virtio/virtio_mmio.c` + `virtio.c` + `drivers/block/virtio_blk.c`, restated as
//! facts (which registers, in which order, with which values) for the tests to replay.

use crate::features::{EVENT_IDX, INDIRECT_DESC, VERSION_1};
use crate::queue::{VIRTQ_DESC_F_INDIRECT, VIRTQ_DESC_F_NEXT, VIRTQ_DESC_F_WRITE};
use crate::transport::{MAGIC_VALUE, VENDOR_ID, VirtioMmio, regs};
use armvex_bus::{AccessSize, Accessor, Bus, DeviceId, PhysicalMemory, RamRegionSpec};
use std::path::PathBuf;

pub const RAM_BASE: u32 = 0x6000_0000;
pub const RAM_SIZE: u32 = 0x20_0000;
/// Where QEMU's vexpress places the first transport.
pub const MMIO_BASE: u32 = 0x1001_3000;
/// SPI 40.
pub const IRQ: u32 = 72;

/// A bus with 2 MiB of RAM and one transport.
pub struct Machine {
    pub bus: Bus,
    pub time: u64,
    /// The transport's id on the bus (see [`Machine::transport`]).
    pub id: DeviceId,
}

impl Machine {
    pub fn new(transport: VirtioMmio) -> Self {
        let mem = PhysicalMemory::new(&[RamRegionSpec {
            name: "ram".into(),
            base: u64::from(RAM_BASE),
            size: u64::from(RAM_SIZE),
        }])
        .unwrap();
        let mut bus = Bus::new(mem);
        let id = bus.add_device(MMIO_BASE, 0x200, Box::new(transport)).unwrap();
        Machine { bus, time: 0, id }
    }

    /// The transport, as the bus holds it.
    pub fn transport(&self) -> &VirtioMmio {
        self.bus.device_as(self.id).expect("the transport is on the bus")
    }

    /// The transport, to change behind the bus's back (load a state into it).
    pub fn transport_mut(&mut self) -> &mut VirtioMmio {
        self.bus.device_as_mut(self.id).expect("the transport is on the bus")
    }

    /// The transport's state.
    pub fn state(&self) -> crate::transport::TransportState {
        self.transport().snapshot()
    }

    fn who(&self) -> Accessor {
        Accessor {
            cpu: 0,
            time: self.time,
        }
    }

    /// readl
    pub fn rd(&mut self, offset: u32) -> u32 {
        self.bus.read(self.who(), MMIO_BASE + offset, AccessSize::Word)
    }

    /// writel
    pub fn wr(&mut self, offset: u32, value: u32) {
        self.bus.write(self.who(), MMIO_BASE + offset, AccessSize::Word, value)
    }

    pub fn rd_sized(&mut self, offset: u32, size: AccessSize) -> u32 {
        self.bus.read(self.who(), MMIO_BASE + offset, size)
    }

    pub fn wr_sized(&mut self, offset: u32, size: AccessSize, value: u32) {
        self.bus.write(self.who(), MMIO_BASE + offset, size, value)
    }

    /// Legacy `vm_get`: the configuration space byte by byte.
    pub fn config_bytes(&mut self, offset: u32, len: u32) -> Vec<u8> {
        (0..len)
            .map(|i| self.rd_sized(regs::CONFIG + offset + i, AccessSize::Byte) as u8)
            .collect()
    }

    /// Level of the transport's interrupt line.
    pub fn irq(&self) -> bool {
        self.bus.irq.spi_level(IRQ)
    }

    pub fn poke(&mut self, pa: u32, data: &[u8]) {
        self.bus.memory.write_bytes(u64::from(pa), data).unwrap();
    }

    pub fn peek(&self, pa: u32, len: usize) -> Vec<u8> {
        let mut v = vec![0; len];
        self.bus.memory.read_bytes(u64::from(pa), &mut v).unwrap();
        v
    }

    pub fn peek_u16(&self, pa: u32) -> u16 {
        u16::from_le_bytes(self.peek(pa, 2).try_into().unwrap())
    }

    pub fn peek_u32(&self, pa: u32) -> u32 {
        u32::from_le_bytes(self.peek(pa, 4).try_into().unwrap())
    }

    /// `vm_interrupt`: read InterruptStatus and acknowledge exactly that.
    pub fn linux_interrupt(&mut self) -> u32 {
        let status = self.rd(regs::INTERRUPT_STATUS);
        self.wr(regs::INTERRUPT_ACK, status);
        status
    }

    /// `add_status`: read-modify-write of Status.
    pub fn add_status(&mut self, bits: u32) {
        let s = self.rd(regs::STATUS) & 0xff;
        self.wr(regs::STATUS, s | bits);
    }
}

/// Feature bits the Linux 6.1 virtio-blk driver knows (its feature table), plus the ring
/// features `vring_transport_features` keeps.
pub const LINUX_BLK_FEATURES: u64 = (1 << 1)   // SIZE_MAX
    | (1 << 2)   // SEG_MAX
    | (1 << 4)   // GEOMETRY
    | (1 << 5)   // RO
    | (1 << 6)   // BLK_SIZE
    | (1 << 9)   // FLUSH
    | (1 << 10)  // TOPOLOGY
    | (1 << 11)  // CONFIG_WCE
    | (1 << 12)  // MQ
    | (1 << 13)  // DISCARD
    | (1 << 14)  // WRITE_ZEROES
    | (1 << 16)  // SECURE_ERASE
    | INDIRECT_DESC
    | EVENT_IDX
    | VERSION_1;

/// The probe part common to both versions: `virtio_mmio_probe` up to `register_virtio_device`,
/// which resets and acknowledges, then `virtio_dev_probe`'s DRIVER status and feature
/// read-out (`vm_get_features`: word 1, then word 0) and write-back (`vm_finalize_features`:
/// word 1, then word 0). Returns the features written.
pub fn linux_probe_features(m: &mut Machine, version: u32, device_id: u32) -> u64 {
    assert_eq!(m.rd(regs::MAGIC_VALUE), MAGIC_VALUE);
    assert_eq!(m.rd(regs::VERSION), version);
    assert_eq!(m.rd(regs::DEVICE_ID), device_id);
    assert_eq!(m.rd(regs::VENDOR_ID), VENDOR_ID);
    if version == 1 {
        m.wr(regs::GUEST_PAGE_SIZE, 4096);
    }
    m.wr(regs::STATUS, 0);
    m.add_status(1); // ACKNOWLEDGE
    m.add_status(2); // DRIVER
    assert_eq!(m.rd(regs::STATUS), 3);
    m.wr(regs::DEVICE_FEATURES_SEL, 1);
    let high = m.rd(regs::DEVICE_FEATURES);
    m.wr(regs::DEVICE_FEATURES_SEL, 0);
    let low = m.rd(regs::DEVICE_FEATURES);
    let offered = (u64::from(high) << 32) | u64::from(low);
    let accepted = offered & LINUX_BLK_FEATURES;
    m.wr(regs::DRIVER_FEATURES_SEL, 1);
    m.wr(regs::DRIVER_FEATURES, (accepted >> 32) as u32);
    m.wr(regs::DRIVER_FEATURES_SEL, 0);
    m.wr(regs::DRIVER_FEATURES, accepted as u32);
    if accepted & VERSION_1 != 0 {
        // virtio_features_ok
        m.add_status(8);
        assert_ne!(m.rd(regs::STATUS) & 8, 0, "device refused the features");
    }
    accepted
}

/// A split ring as the guest driver sees it.
#[derive(Clone)]
pub struct Ring {
    pub desc: u32,
    pub avail: u32,
    pub used: u32,
    pub size: u16,
    /// Next free descriptor (allocated round-robin; the tests never have many in flight).
    pub next_desc: u16,
    pub avail_idx: u16,
    pub last_used: u16,
}

impl Ring {
    /// Linux's `vring_init` layout: descriptors, available ring, used ring aligned to `align`.
    pub fn contiguous(base: u32, size: u16, align: u32) -> Ring {
        let avail = base + 16 * u32::from(size);
        let used = (avail + 6 + 2 * u32::from(size)).next_multiple_of(align);
        Ring {
            desc: base,
            avail,
            used,
            size,
            next_desc: 0,
            avail_idx: 0,
            last_used: 0,
        }
    }

    pub fn separate(desc: u32, avail: u32, used: u32, size: u16) -> Ring {
        Ring {
            desc,
            avail,
            used,
            size,
            next_desc: 0,
            avail_idx: 0,
            last_used: 0,
        }
    }

    pub fn write_desc(m: &mut Machine, table: u32, index: u16, addr: u64, len: u32, flags: u16, next: u16) {
        let mut d = [0u8; 16];
        d[0..8].copy_from_slice(&addr.to_le_bytes());
        d[8..12].copy_from_slice(&len.to_le_bytes());
        d[12..14].copy_from_slice(&flags.to_le_bytes());
        d[14..16].copy_from_slice(&next.to_le_bytes());
        m.poke(table + 16 * u32::from(index), &d);
    }

    /// Put `buffers` (address, length, device-writable) in consecutive descriptors of the
    /// ring's table, linked with NEXT. Returns the head.
    pub fn direct_chain(&mut self, m: &mut Machine, buffers: &[(u32, u32, bool)]) -> u16 {
        let head = self.next_desc;
        for (i, &(addr, len, writable)) in buffers.iter().enumerate() {
            let index = (head + i as u16) % self.size;
            let last = i + 1 == buffers.len();
            let flags = if writable { VIRTQ_DESC_F_WRITE } else { 0 } | if last { 0 } else { VIRTQ_DESC_F_NEXT };
            Self::write_desc(
                m,
                self.desc,
                index,
                u64::from(addr),
                len,
                flags,
                (index + 1) % self.size,
            );
        }
        self.next_desc = (head + buffers.len() as u16) % self.size;
        head
    }

    /// Put `buffers` in an indirect table at `table` and one ring descriptor naming it, as
    /// Linux does for every request of more than one buffer when INDIRECT_DESC is negotiated.
    pub fn indirect_chain(&mut self, m: &mut Machine, table: u32, buffers: &[(u32, u32, bool)]) -> u16 {
        for (i, &(addr, len, writable)) in buffers.iter().enumerate() {
            let last = i + 1 == buffers.len();
            let flags = if writable { VIRTQ_DESC_F_WRITE } else { 0 } | if last { 0 } else { VIRTQ_DESC_F_NEXT };
            Self::write_desc(m, table, i as u16, u64::from(addr), len, flags, i as u16 + 1);
        }
        let head = self.next_desc;
        Self::write_desc(
            m,
            self.desc,
            head,
            u64::from(table),
            16 * buffers.len() as u32,
            VIRTQ_DESC_F_INDIRECT,
            0,
        );
        self.next_desc = (head + 1) % self.size;
        head
    }

    /// Make `head` available (without notifying).
    pub fn offer(&mut self, m: &mut Machine, head: u16) {
        let slot = u32::from(self.avail_idx % self.size);
        m.poke(self.avail + 4 + 2 * slot, &head.to_le_bytes());
        self.avail_idx = self.avail_idx.wrapping_add(1);
        m.poke(self.avail + 2, &self.avail_idx.to_le_bytes());
    }

    /// Offer `head` and write QueueNotify for queue 0.
    pub fn submit(&mut self, m: &mut Machine, head: u16) {
        self.offer(m, head);
        m.wr(regs::QUEUE_NOTIFY, 0);
    }

    pub fn used_idx(&self, m: &Machine) -> u16 {
        m.peek_u16(self.used + 2)
    }

    /// Take the next used element (id, len), if any.
    pub fn take_used(&mut self, m: &Machine) -> Option<(u32, u32)> {
        if self.used_idx(m) == self.last_used {
            return None;
        }
        let slot = u32::from(self.last_used % self.size);
        let e = self.used + 4 + 8 * slot;
        self.last_used = self.last_used.wrapping_add(1);
        Some((m.peek_u32(e), m.peek_u32(e + 4)))
    }

    /// The driver's `used_event` (EVENT_IDX).
    pub fn set_used_event(&self, m: &mut Machine, value: u16) {
        m.poke(self.avail + 4 + 2 * u32::from(self.size), &value.to_le_bytes());
    }

    /// The device's `avail_event` (EVENT_IDX).
    pub fn avail_event(&self, m: &Machine) -> u16 {
        m.peek_u16(self.used + 4 + 8 * u32::from(self.size))
    }

    pub fn set_avail_flags(&self, m: &mut Machine, flags: u16) {
        m.poke(self.avail, &flags.to_le_bytes());
    }
}

/// A temporary file removed when dropped.
pub struct TempImage {
    pub path: PathBuf,
}

impl TempImage {
    pub fn new(name: &str, contents: &[u8]) -> TempImage {
        use std::sync::atomic::{AtomicU32, Ordering};
        static COUNTER: AtomicU32 = AtomicU32::new(0);
        let n = COUNTER.fetch_add(1, Ordering::Relaxed);
        let path = std::env::temp_dir().join(format!("armvex-virtio-{}-{n}-{name}.img", std::process::id()));
        std::fs::write(&path, contents).unwrap();
        TempImage { path }
    }

    pub fn contents(&self) -> Vec<u8> {
        std::fs::read(&self.path).unwrap()
    }
}

impl Drop for TempImage {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.path);
    }
}

/// A deterministic pseudo-random generator (xorshift64*), for tests that want many cases.
pub struct Rng(pub u64);

impl Rng {
    pub fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }

    pub fn below(&mut self, n: u64) -> u64 {
        self.next() % n.max(1)
    }

    /// True with probability `percent`/100.
    pub fn chance(&mut self, percent: u64) -> bool {
        self.below(100) < percent
    }
}
