//! virtio-blk (virtio 1.2 §5.2): a disk backed by a raw image file.
//!
//! The driver puts requests on queue 0. Each request is one descriptor chain: a 16-byte
//! device-readable header `{le32 type, le32 reserved, le64 sector}`, data buffers (readable
//! for writes, writable for reads), and a final device-writable status byte (§5.2.6). The
//! device reads the readable bytes and writes the writable bytes as one stream each, however
//! the driver split them into buffers; the status byte is the last writable byte.
//!
//! | type | what armvex does |
//! |---|---|
//! | IN (0) | read `data` from the image at `sector * 512` |
//! | OUT (1) | write `data` to the image (IOERR on a read-only drive) |
//! | FLUSH (4; legacy alias 5) | `File::sync_all`: completed writes reach the host disk (§5.2.6.4) |
//! | GET_ID (8) | the 20-byte serial, NUL-padded (empty unless [`BlockDevice::with_serial`]) |
//! | DISCARD (11) | checked, then nothing: a discard is a hint, and QEMU's default `discard=ignore` does the same |
//! | WRITE_ZEROES (13) | zeros written to the image |
//! | anything else | UNSUPP |
//!
//! ## The image file
//!
//! [`BlockDevice::open`] opens the file read-write, or read-only (never for writing) for a
//! read-only drive. Its capacity is its size in 512-byte sectors. An image whose size is not a
//! multiple of 512 is accepted with a warning and its capacity rounded down, as QEMU does; the
//! bytes of the partial last sector are never read or written. Every request is checked
//! against the capacity first: a read or write reaching past the end fails with IOERR and
//! never touches (or extends) the file.
//!
//! ## Features offered (§5.2.3)
//!
//! SEG_MAX (254 = queue size - 2, as QEMU), BLK_SIZE (512), TOPOLOGY (no alignment hints),
//! FLUSH, and for a writable drive DISCARD and WRITE_ZEROES (one segment per request, as
//! QEMU; at most 16 MiB of zeros per request so one notification never stalls the emulator
//! for long), or RO for a read-only drive. Not offered: SIZE_MAX (there is no per-segment
//! limit), GEOMETRY (meaningless for a virtual disk), CONFIG_WCE and MQ. If the driver does
//! not accept FLUSH the device is write-through (§5.2.6.4, case 1): every write is synced to
//! the host disk before it completes.
//!
//! ## Timing
//!
//! Requests are handled synchronously when the driver notifies the queue (see
//! [`crate::transport`]); the host I/O happens right then, so completion points are exactly
//! as deterministic as the guest's notifications.

use crate::backend::VirtioBackend;
use crate::queue::{ChainCursor, DescriptorChain, QueueError, SplitQueue};
use armvex_bus::PhysicalMemory;
use std::fs::{File, OpenOptions};
use std::io::{Seek, SeekFrom};
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};

/// Virtio device ID of a block device (§5.2.1).
pub const DEVICE_ID: u32 = 2;
/// The protocol's sector size: always 512 bytes (§5.2.4).
pub const SECTOR_SIZE: u64 = 512;
/// QueueNumMax of the request queue (QEMU's default).
pub const QUEUE_SIZE: u16 = 256;
/// Most data segments in one request (QEMU: queue size - 2, leaving room for header and status).
pub const SEG_MAX: u32 = QUEUE_SIZE as u32 - 2;
/// Most sectors in one discard segment (QEMU's default).
pub const MAX_DISCARD_SECTORS: u32 = 0x3f_ffff;
/// Most segments in one discard request.
pub const MAX_DISCARD_SEG: u32 = 1;
/// Most sectors in one write-zeroes segment: 16 MiB of host writes at most per request.
pub const MAX_WRITE_ZEROES_SECTORS: u32 = 0x8000;
/// Most segments in one write-zeroes request.
pub const MAX_WRITE_ZEROES_SEG: u32 = 1;
/// Length of the GET_ID string (§5.2.6).
pub const SERIAL_LEN: usize = 20;

/// Feature bits of virtio-blk (§5.2.3).
pub mod feature {
    pub const SIZE_MAX: u64 = 1 << 1;
    pub const SEG_MAX: u64 = 1 << 2;
    pub const GEOMETRY: u64 = 1 << 4;
    pub const RO: u64 = 1 << 5;
    pub const BLK_SIZE: u64 = 1 << 6;
    pub const FLUSH: u64 = 1 << 9;
    pub const TOPOLOGY: u64 = 1 << 10;
    pub const CONFIG_WCE: u64 = 1 << 11;
    pub const MQ: u64 = 1 << 12;
    pub const DISCARD: u64 = 1 << 13;
    pub const WRITE_ZEROES: u64 = 1 << 14;
}

/// Request types (§5.2.6).
pub mod request {
    pub const IN: u32 = 0;
    pub const OUT: u32 = 1;
    pub const FLUSH: u32 = 4;
    /// Legacy synonym of FLUSH.
    pub const FLUSH_OUT: u32 = 5;
    pub const GET_ID: u32 = 8;
    pub const DISCARD: u32 = 11;
    pub const WRITE_ZEROES: u32 = 13;
}

/// Request status values (§5.2.6).
pub mod status {
    pub const OK: u8 = 0;
    pub const IOERR: u8 = 1;
    pub const UNSUPP: u8 = 2;
}

/// The `unmap` flag of a discard/write-zeroes segment.
const SEGMENT_FLAG_UNMAP: u32 = 1;

/// Offsets in `struct virtio_blk_config` (§5.2.4).
mod config {
    pub const CAPACITY: usize = 0x00;
    pub const SEG_MAX: usize = 0x0c;
    pub const BLK_SIZE: usize = 0x14;
    pub const WRITEBACK: usize = 0x20;
    pub const NUM_QUEUES: usize = 0x22;
    pub const MAX_DISCARD_SECTORS: usize = 0x24;
    pub const MAX_DISCARD_SEG: usize = 0x28;
    pub const DISCARD_SECTOR_ALIGNMENT: usize = 0x2c;
    pub const MAX_WRITE_ZEROES_SECTORS: usize = 0x30;
    pub const MAX_WRITE_ZEROES_SEG: usize = 0x34;
    pub const WRITE_ZEROES_MAY_UNMAP: usize = 0x38;
    /// Up to and including `unused1[3]`.
    pub const LEN: usize = 0x3c;
}

/// Bytes moved between the image and guest memory per step.
const CHUNK: usize = 64 * 1024;
static ZEROS: [u8; CHUNK] = [0; CHUNK];

/// A virtio-blk device backed by a raw image file.
pub struct BlockDevice {
    path: PathBuf,
    file: File,
    readonly: bool,
    /// Size in 512-byte sectors.
    capacity: u64,
    serial: [u8; SERIAL_LEN],
    /// The driver did not accept FLUSH: sync every write before completing it.
    writethrough: bool,
    /// Reused staging buffer for image I/O.
    bounce: Vec<u8>,
}

impl BlockDevice {
    /// Open the raw image at `path`; a `readonly` drive opens it read-only. Fails with a
    /// one-line message if the file cannot be opened or sized, or is a directory.
    pub fn open(path: &Path, readonly: bool) -> Result<BlockDevice, String> {
        let shown = path.display();
        let mut file = OpenOptions::new()
            .read(true)
            .write(!readonly)
            .open(path)
            .map_err(|e| format!("cannot open disk image {shown}: {e}"))?;
        let meta = file
            .metadata()
            .map_err(|e| format!("cannot examine disk image {shown}: {e}"))?;
        if meta.is_dir() {
            return Err(format!("disk image {shown} is a directory"));
        }
        // Seeking to the end also sizes block devices, whose metadata length is 0.
        let bytes = file
            .seek(SeekFrom::End(0))
            .map_err(|e| format!("cannot determine the size of disk image {shown}: {e}"))?;
        let capacity = bytes / SECTOR_SIZE;
        if bytes % SECTOR_SIZE != 0 {
            tracing::warn!(target: "virtio",
                "disk image {shown}: size {bytes} is not a multiple of 512; its last {} bytes are ignored",
                bytes % SECTOR_SIZE);
        }
        Ok(BlockDevice {
            path: path.to_path_buf(),
            file,
            readonly,
            capacity,
            serial: [0; SERIAL_LEN],
            writethrough: false,
            bounce: vec![0; CHUNK],
        })
    }

    /// Report `serial` (truncated to 20 bytes) in answer to GET_ID.
    pub fn with_serial(mut self, serial: &str) -> Self {
        self.serial = [0; SERIAL_LEN];
        let n = serial.len().min(SERIAL_LEN);
        self.serial[..n].copy_from_slice(&serial.as_bytes()[..n]);
        self
    }

    /// Capacity in 512-byte sectors.
    pub fn capacity_sectors(&self) -> u64 {
        self.capacity
    }

    /// True for a read-only drive.
    pub fn is_readonly(&self) -> bool {
        self.readonly
    }

    /// The image file's path.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The configuration structure (§5.2.4) as the driver sees it.
    fn config_bytes(&self) -> [u8; config::LEN] {
        let mut c = [0u8; config::LEN];
        let mut put = |offset: usize, bytes: &[u8]| c[offset..offset + bytes.len()].copy_from_slice(bytes);
        put(config::CAPACITY, &self.capacity.to_le_bytes());
        put(config::SEG_MAX, &SEG_MAX.to_le_bytes());
        put(config::BLK_SIZE, &(SECTOR_SIZE as u32).to_le_bytes());
        // Topology (0x18..0x20): one logical block per physical block, no alignment hints.
        put(config::WRITEBACK, &[u8::from(!self.writethrough)]);
        put(config::NUM_QUEUES, &1u16.to_le_bytes());
        put(config::MAX_DISCARD_SECTORS, &MAX_DISCARD_SECTORS.to_le_bytes());
        put(config::MAX_DISCARD_SEG, &MAX_DISCARD_SEG.to_le_bytes());
        put(config::DISCARD_SECTOR_ALIGNMENT, &1u32.to_le_bytes());
        put(
            config::MAX_WRITE_ZEROES_SECTORS,
            &MAX_WRITE_ZEROES_SECTORS.to_le_bytes(),
        );
        put(config::MAX_WRITE_ZEROES_SEG, &MAX_WRITE_ZEROES_SEG.to_le_bytes());
        // We always write zeros, never deallocate.
        put(config::WRITE_ZEROES_MAY_UNMAP, &[0]);
        c
    }

    /// Byte offset of `count` sectors from `sector`, if they lie within the capacity.
    fn byte_range(&self, sector: u64, count: u64) -> Option<u64> {
        let end = sector.checked_add(count)?;
        (end <= self.capacity).then_some(sector * SECTOR_SIZE)
    }

    /// Handle one request; returns the number of bytes written into its writable buffers
    /// (the used-ring length).
    fn handle_request(&mut self, chain: &DescriptorChain, mem: &mut PhysicalMemory) -> u32 {
        let head = chain.head;
        let Some(status_addr) = chain.last_writable_byte() else {
            tracing::warn!(target: "virtio",
                "virtio-blk: request {head} has no device-writable byte for its status; failed");
            return 0;
        };
        let mut reader = chain.reader();
        let mut header = [0u8; 16];
        let header_len = reader.read(mem, &mut header).unwrap_or(0);
        // Writable bytes before the status byte.
        let data_in = chain.writable_len() - 1;
        let writer = chain.writer().limit(data_in);
        let (status, written) = if header_len < header.len() {
            tracing::warn!(target: "virtio", "virtio-blk: request {head} has a {header_len}-byte header");
            (status::IOERR, 0)
        } else {
            let kind = u32::from_le_bytes(header[0..4].try_into().expect("4 bytes"));
            let sector = u64::from_le_bytes(header[8..16].try_into().expect("8 bytes"));
            match kind {
                request::IN => self.read_sectors(mem, sector, writer),
                request::OUT => (self.write_sectors(mem, sector, reader), 0),
                request::FLUSH | request::FLUSH_OUT => (self.flush(), 0),
                request::GET_ID => self.get_id(mem, writer),
                request::DISCARD => (self.discard_or_write_zeroes(mem, reader, false), 0),
                request::WRITE_ZEROES => (self.discard_or_write_zeroes(mem, reader, true), 0),
                _ => {
                    tracing::debug!(target: "virtio", "virtio-blk: request type {kind} unsupported");
                    (status::UNSUPP, 0)
                }
            }
        };
        if status != status::OK {
            tracing::debug!(target: "virtio", "virtio-blk: request {head} failed with status {status}");
        }
        // The chain was validated: its writable bytes are RAM.
        if mem.write_bytes(status_addr, &[status]).is_err() {
            return u32::try_from(written).unwrap_or(u32::MAX);
        }
        u32::try_from(written + 1).unwrap_or(u32::MAX)
    }

    /// IN: fill the writable data with sectors from the image. Returns (status, bytes written).
    fn read_sectors(&mut self, mem: &mut PhysicalMemory, sector: u64, mut writer: ChainCursor) -> (u8, u64) {
        let len = writer.remaining();
        if len % SECTOR_SIZE != 0 {
            tracing::warn!(target: "virtio", "virtio-blk: read of {len} bytes, not whole sectors");
            return (status::IOERR, 0);
        }
        let Some(offset) = self.byte_range(sector, len / SECTOR_SIZE) else {
            tracing::warn!(target: "virtio", "virtio-blk: read of {len} bytes at sector {sector} is past the end ({} sectors)",
                self.capacity);
            return (status::IOERR, 0);
        };
        let mut done = 0u64;
        while done < len {
            let n = (len - done).min(CHUNK as u64) as usize;
            let buf = &mut self.bounce[..n];
            if let Err(e) = self.file.read_exact_at(buf, offset + done) {
                tracing::warn!(target: "virtio", "virtio-blk: reading {}: {e}", self.path.display());
                return (status::IOERR, done);
            }
            match writer.write(mem, buf) {
                Ok(k) if k == n => done += n as u64,
                _ => return (status::IOERR, done),
            }
        }
        (status::OK, done)
    }

    /// OUT: write the readable data after the header to the image.
    fn write_sectors(&mut self, mem: &PhysicalMemory, sector: u64, mut reader: ChainCursor) -> u8 {
        if self.readonly {
            tracing::debug!(target: "virtio", "virtio-blk: write to a read-only drive");
            return status::IOERR;
        }
        let len = reader.remaining();
        if len % SECTOR_SIZE != 0 {
            tracing::warn!(target: "virtio", "virtio-blk: write of {len} bytes, not whole sectors");
            return status::IOERR;
        }
        let Some(offset) = self.byte_range(sector, len / SECTOR_SIZE) else {
            tracing::warn!(target: "virtio", "virtio-blk: write of {len} bytes at sector {sector} is past the end ({} sectors)",
                self.capacity);
            return status::IOERR;
        };
        let mut done = 0u64;
        while done < len {
            let n = (len - done).min(CHUNK as u64) as usize;
            let buf = &mut self.bounce[..n];
            match reader.read(mem, buf) {
                Ok(k) if k == n => {}
                _ => return status::IOERR,
            }
            if let Err(e) = self.file.write_all_at(buf, offset + done) {
                tracing::warn!(target: "virtio", "virtio-blk: writing {}: {e}", self.path.display());
                return status::IOERR;
            }
            done += n as u64;
        }
        self.sync_if_writethrough()
    }

    fn sync_if_writethrough(&self) -> u8 {
        if self.writethrough {
            if let Err(e) = self.file.sync_data() {
                tracing::warn!(target: "virtio", "virtio-blk: syncing {}: {e}", self.path.display());
                return status::IOERR;
            }
        }
        status::OK
    }

    /// FLUSH: make every completed write durable on the host disk.
    fn flush(&self) -> u8 {
        if self.readonly {
            return status::OK;
        }
        match self.file.sync_all() {
            Ok(()) => status::OK,
            Err(e) => {
                tracing::warn!(target: "virtio", "virtio-blk: flushing {}: {e}", self.path.display());
                status::IOERR
            }
        }
    }

    /// GET_ID: the serial, as much of its 20 bytes as fits.
    fn get_id(&self, mem: &mut PhysicalMemory, mut writer: ChainCursor) -> (u8, u64) {
        let n = (writer.remaining() as usize).min(SERIAL_LEN);
        match writer.write(mem, &self.serial[..n]) {
            Ok(k) => (status::OK, k as u64),
            Err(_) => (status::IOERR, 0),
        }
    }

    /// DISCARD and WRITE_ZEROES: segments `{le64 sector, le32 num_sectors, le32 flags}`
    /// (§5.2.6), checked as §5.2.6.2 requires.
    fn discard_or_write_zeroes(&mut self, mem: &PhysicalMemory, mut reader: ChainCursor, zeroes: bool) -> u8 {
        let what = if zeroes { "write-zeroes" } else { "discard" };
        if self.readonly {
            tracing::debug!(target: "virtio", "virtio-blk: {what} on a read-only drive");
            return status::IOERR;
        }
        let len = reader.remaining();
        let (max_seg, max_sectors) = if zeroes {
            (MAX_WRITE_ZEROES_SEG, MAX_WRITE_ZEROES_SECTORS)
        } else {
            (MAX_DISCARD_SEG, MAX_DISCARD_SECTORS)
        };
        if len == 0 || len % 16 != 0 {
            tracing::warn!(target: "virtio", "virtio-blk: {what} with {len} bytes of segments");
            return status::IOERR;
        }
        if len / 16 > u64::from(max_seg) {
            tracing::debug!(target: "virtio", "virtio-blk: {what} with {} segments (at most {max_seg})", len / 16);
            return status::UNSUPP;
        }
        for _ in 0..len / 16 {
            let mut seg = [0u8; 16];
            if reader.read(mem, &mut seg).ok() != Some(16) {
                return status::IOERR;
            }
            let sector = u64::from_le_bytes(seg[0..8].try_into().expect("8 bytes"));
            let count = u32::from_le_bytes(seg[8..12].try_into().expect("4 bytes"));
            let flags = u32::from_le_bytes(seg[12..16].try_into().expect("4 bytes"));
            // Unknown flags, or unmap on a discard, are UNSUPP (§5.2.6.2).
            let allowed = if zeroes { SEGMENT_FLAG_UNMAP } else { 0 };
            if flags & !allowed != 0 {
                return status::UNSUPP;
            }
            if count > max_sectors {
                tracing::warn!(target: "virtio", "virtio-blk: {what} of {count} sectors (at most {max_sectors})");
                return status::IOERR;
            }
            let Some(offset) = self.byte_range(sector, u64::from(count)) else {
                tracing::warn!(target: "virtio", "virtio-blk: {what} at sector {sector} is past the end");
                return status::IOERR;
            };
            if zeroes {
                let len = u64::from(count) * SECTOR_SIZE;
                let mut done = 0u64;
                while done < len {
                    let n = (len - done).min(CHUNK as u64) as usize;
                    if let Err(e) = self.file.write_all_at(&ZEROS[..n], offset + done) {
                        tracing::warn!(target: "virtio", "virtio-blk: writing zeros to {}: {e}", self.path.display());
                        return status::IOERR;
                    }
                    done += n as u64;
                }
            }
        }
        if zeroes {
            self.sync_if_writethrough()
        } else {
            status::OK
        }
    }
}

impl VirtioBackend for BlockDevice {
    fn name(&self) -> &str {
        "virtio-blk"
    }

    fn device_id(&self) -> u32 {
        DEVICE_ID
    }

    fn device_features(&self) -> u64 {
        let common = feature::SEG_MAX | feature::BLK_SIZE | feature::TOPOLOGY | feature::FLUSH;
        if self.readonly {
            common | feature::RO
        } else {
            common | feature::DISCARD | feature::WRITE_ZEROES
        }
    }

    fn read_config(&self, offset: u32, data: &mut [u8]) {
        let c = self.config_bytes();
        for (i, byte) in data.iter_mut().enumerate() {
            *byte = (offset as usize)
                .checked_add(i)
                .and_then(|o| c.get(o))
                .copied()
                .unwrap_or(0);
        }
    }

    fn write_config(&mut self, offset: u32, data: &[u8]) {
        // Without CONFIG_WCE every field is read-only.
        tracing::debug!(target: "virtio", "virtio-blk: config write {data:?} at {offset:#x} ignored");
    }

    fn queue_max_sizes(&self) -> Vec<u16> {
        vec![QUEUE_SIZE]
    }

    fn activate(&mut self, negotiated_features: u64) {
        self.writethrough = negotiated_features & feature::FLUSH == 0;
    }

    fn process_queue(
        &mut self,
        _index: usize,
        queue: &mut SplitQueue,
        memory: &mut PhysicalMemory,
    ) -> Result<(), QueueError> {
        while let Some(chain) = queue.pop(memory)? {
            let written = self.handle_request(&chain, memory);
            queue.add_used(memory, chain.head, written)?;
        }
        Ok(())
    }

    fn reset(&mut self) {
        self.writethrough = false;
    }
}
