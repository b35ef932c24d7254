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
//! | FLUSH (4; legacy alias 5) | [`DiskImage::flush`]: completed writes reach the host disk (§5.2.6.4) |
//! | GET_ID (8) | the 20-byte serial, NUL-padded (empty unless [`BlockDevice::with_serial`]) |
//! | DISCARD (11) | checked, then nothing: a discard is a hint, and QEMU's default `discard=ignore` does the same |
//! | WRITE_ZEROES (13) | zeros written to the image |
//! | anything else | UNSUPP |
//!
//! ## The disk
//!
//! The device reads and writes a [`DiskImage`] ([`crate::disk`]) shared with the machine: the
//! image file written in place, read-only (opened never for writing), or under a throwaway
//! overlay. A disk in [`DiskMode::ReadOnly`] is offered to the driver as read-only (RO). The
//! capacity is the disk's size in 512-byte sectors. An image whose size is not a multiple of
//! 512 is accepted with a warning and its capacity rounded down, as QEMU does; the bytes of
//! the partial last sector are never read or written. Every request is checked against the
//! capacity first: a read or write reaching past the end fails with IOERR and never touches (or
//! extends) the file. A host I/O error fails the request with IOERR.
//!
//! ## Saved state
//!
//! Besides its configuration (capacity, read-only, serial: checked on load) the device keeps
//! one thing between requests: whether it is write-through, decided from the features the
//! driver accepted. The disk's contents are not part of the device's state: the machine saves
//! and rewinds them through its [`SharedDisk`] handle.
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

use crate::device::{Queues, VirtioDevice};
use crate::disk::{DiskImage, DiskMode, SharedDisk};
use crate::error::DiskError;
use crate::queue::{ChainCursor, DescriptorChain, QueueError};
use armvex_bus::PhysicalMemory;
use armvex_bus::state::{self, StateError};
use serde::{Deserialize, Serialize};
use std::cell::{Cell, RefCell};
use std::path::Path;
use std::rc::Rc;

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
    /// `size_max` in the configuration is the largest buffer.
    pub const SIZE_MAX: u64 = 1 << 1;
    /// `seg_max` in the configuration is the most buffers per request.
    pub const SEG_MAX: u64 = 1 << 2;
    /// The configuration has a disk geometry.
    pub const GEOMETRY: u64 = 1 << 4;
    /// The disk is read-only.
    pub const RO: u64 = 1 << 5;
    /// `blk_size` in the configuration is the logical block size.
    pub const BLK_SIZE: u64 = 1 << 6;
    /// FLUSH requests are supported.
    pub const FLUSH: u64 = 1 << 9;
    /// The configuration has the physical block topology.
    pub const TOPOLOGY: u64 = 1 << 10;
    /// The write-cache mode in the configuration can be read and set.
    pub const CONFIG_WCE: u64 = 1 << 11;
    /// More than one request queue (`num_queues`).
    pub const MQ: u64 = 1 << 12;
    /// DISCARD requests are supported.
    pub const DISCARD: u64 = 1 << 13;
    /// WRITE_ZEROES requests are supported.
    pub const WRITE_ZEROES: u64 = 1 << 14;
}

/// Request types (§5.2.6).
pub mod request {
    /// Read sectors from the disk into the guest's buffers.
    pub const IN: u32 = 0;
    /// Write the guest's buffers to the disk.
    pub const OUT: u32 = 1;
    /// Make every completed write durable.
    pub const FLUSH: u32 = 4;
    /// Legacy synonym of FLUSH.
    pub const FLUSH_OUT: u32 = 5;
    /// The device's serial number, [`super::SERIAL_LEN`] bytes.
    pub const GET_ID: u32 = 8;
    /// The guest no longer needs some sectors.
    pub const DISCARD: u32 = 11;
    /// Write zeroes to some sectors.
    pub const WRITE_ZEROES: u32 = 13;
}

/// Request status values (§5.2.6).
pub mod status {
    /// The request succeeded.
    pub const OK: u8 = 0;
    /// The request failed: a host I/O error, sectors past the end, a write to a read-only
    /// disk, a malformed request.
    pub const IOERR: u8 = 1;
    /// The request type is not supported.
    pub const UNSUPP: u8 = 2;
}

/// What a request asks for: the `type` field of its header (§5.2.6).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RequestKind {
    /// IN: read sectors into the writable buffers.
    In,
    /// OUT: write the readable buffers to sectors.
    Out,
    /// FLUSH (or its legacy alias FLUSH_OUT): make completed writes durable.
    Flush,
    /// GET_ID: the device's serial.
    GetId,
    /// DISCARD: segments of sectors the driver no longer needs.
    Discard,
    /// WRITE_ZEROES: segments of sectors to zero.
    WriteZeroes,
    /// A type this device does not implement: answered UNSUPP.
    Unsupported(u32),
}

impl RequestKind {
    /// The kind of a header's `type` value.
    pub fn from_type(value: u32) -> RequestKind {
        match value {
            request::IN => RequestKind::In,
            request::OUT => RequestKind::Out,
            request::FLUSH | request::FLUSH_OUT => RequestKind::Flush,
            request::GET_ID => RequestKind::GetId,
            request::DISCARD => RequestKind::Discard,
            request::WRITE_ZEROES => RequestKind::WriteZeroes,
            other => RequestKind::Unsupported(other),
        }
    }
}

/// The status byte the device writes last (§5.2.6).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Status {
    /// The request succeeded.
    Ok,
    /// The request failed: out of range, malformed, read-only drive, or a host I/O error.
    IoErr,
    /// The request (or one of its flags) is not supported.
    Unsupp,
}

impl Status {
    /// The byte on the wire.
    pub fn byte(self) -> u8 {
        match self {
            Status::Ok => status::OK,
            Status::IoErr => status::IOERR,
            Status::Unsupp => status::UNSUPP,
        }
    }
}

/// A request as the driver framed it (§5.2.6): its header and where its status byte goes.
/// Parsing checks only the framing; whether the sectors exist or the data fits is decided
/// when the request is executed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Request {
    /// What the request asks for.
    pub kind: RequestKind,
    /// The first sector (for IN and OUT; ignored by the other kinds).
    pub sector: u64,
    /// Guest address of the status byte: the chain's last writable byte.
    pub status_addr: armvex_bus::PhysAddr,
    /// Writable bytes before the status byte (where IN and GET_ID put their data).
    pub data_in: u64,
}

/// A chain that is not a request at all.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RequestError {
    /// No device-writable byte: there is nowhere to put the status, so the request is
    /// completed with nothing written.
    NoStatusByte,
    /// A header shorter than 16 bytes: answered IOERR.
    ShortHeader {
        /// Where the status byte goes.
        status_addr: armvex_bus::PhysAddr,
        /// How many header bytes there were.
        len: usize,
    },
}

impl Request {
    /// Parse the request `chain` carries, reading its header from `mem`.
    pub fn parse(chain: &DescriptorChain, mem: &PhysicalMemory) -> Result<Request, RequestError> {
        let status_addr = chain.last_writable_byte().ok_or(RequestError::NoStatusByte)?;
        let mut header = [0u8; 16];
        let len = chain.reader().read(mem, &mut header).unwrap_or(0);
        if len < header.len() {
            return Err(RequestError::ShortHeader { status_addr, len });
        }
        Ok(Request {
            kind: RequestKind::from_type(u32::from_le_bytes(header[0..4].try_into().expect("4 bytes"))),
            sector: u64::from_le_bytes(header[8..16].try_into().expect("8 bytes")),
            status_addr,
            data_in: chain.writable_len() - 1,
        })
    }
}

/// One segment of a DISCARD or WRITE_ZEROES request: `{le64 sector, le32 num_sectors,
/// le32 flags}` (§5.2.6).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct Segment {
    sector: u64,
    count: u32,
    flags: u32,
}

impl Segment {
    fn parse(bytes: &[u8; 16]) -> Segment {
        Segment {
            sector: u64::from_le_bytes(bytes[0..8].try_into().expect("8 bytes")),
            count: u32::from_le_bytes(bytes[8..12].try_into().expect("4 bytes")),
            flags: u32::from_le_bytes(bytes[12..16].try_into().expect("4 bytes")),
        }
    }
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

/// A virtio-blk device backed by a raw disk image.
pub struct BlockDevice {
    disk: SharedDisk,
    /// The image's path (or "temporary disk"), for messages.
    label: String,
    readonly: bool,
    /// Size in 512-byte sectors.
    capacity: u64,
    serial: [u8; SERIAL_LEN],
    /// The driver did not accept FLUSH: sync every write before completing it.
    writethrough: bool,
    /// Reused staging buffer for image I/O.
    bounce: Vec<u8>,
    /// A host I/O error was already reported on stderr (once per drive; see
    /// [`BlockDevice::host_error`]).
    host_error_reported: Cell<bool>,
}

impl BlockDevice {
    /// A device reading and writing `disk`; read-only if the disk is.
    pub fn new(disk: SharedDisk) -> BlockDevice {
        let (bytes, readonly, label) = {
            let d = disk.borrow();
            (d.len(), d.mode() == DiskMode::ReadOnly, d.describe())
        };
        if bytes % SECTOR_SIZE != 0 {
            tracing::warn!(target: "virtio",
                "disk image {label}: size {bytes} is not a multiple of 512; its last {} bytes are ignored",
                bytes % SECTOR_SIZE);
        }
        BlockDevice {
            disk,
            label,
            readonly,
            capacity: bytes / SECTOR_SIZE,
            serial: [0; SERIAL_LEN],
            writethrough: false,
            bounce: vec![0; CHUNK],
            host_error_reported: Cell::new(false),
        }
    }

    /// Open the raw image at `path` ([`DiskImage::open`]): in place, or for a `readonly` drive
    /// read-only (never for writing). Fails with a one-line message if the file cannot be
    /// opened or sized, or is a directory.
    pub fn open(path: &Path, readonly: bool) -> Result<BlockDevice, DiskError> {
        let mode = if readonly {
            DiskMode::ReadOnly
        } else {
            DiskMode::InPlace
        };
        Ok(BlockDevice::new(Rc::new(RefCell::new(DiskImage::open(path, mode)?))))
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

    /// The disk the device reads and writes.
    pub fn disk(&self) -> &SharedDisk {
        &self.disk
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

    /// A host I/O error (ENOSPC on a sparse image, EIO, a short write, an image truncated
    /// underneath us) fails the request with IOERR: the guest sees an I/O error for it (Linux
    /// logs "I/O error, dev vda" and ext4 remounts read-only or aborts its journal) and armvex
    /// keeps running. Nothing is lost silently: the first such error of a drive is said once
    /// on stderr, whatever the log level; every one is logged at `warn` (`ARMVEX_LOG=warn`).
    fn host_error(&self, what: &str, e: &std::io::Error) {
        tracing::warn!(target: "virtio", "virtio-blk: {what} {}: {e}", self.label);
        if !self.host_error_reported.replace(true) {
            eprintln!(
                "armvex: disk {}: host I/O error {what} the image: {e}; the guest gets an I/O error \
                 (said once per disk)",
                self.label
            );
        }
    }

    /// Byte offset of `count` sectors from `sector`, if they lie within the capacity.
    fn byte_range(&self, sector: u64, count: u64) -> Option<u64> {
        let end = sector.checked_add(count)?;
        (end <= self.capacity).then(|| sector * SECTOR_SIZE)
    }

    /// Handle one request: parse it, execute it, write its status byte. Returns the number
    /// of bytes written into its writable buffers (the used-ring length).
    fn handle_request(&mut self, chain: &DescriptorChain, mem: &mut PhysicalMemory) -> u32 {
        let head = chain.head;
        let (status_addr, (status, written)) = match Request::parse(chain, mem) {
            Ok(request) => (request.status_addr, self.execute(&request, chain, mem)),
            Err(RequestError::NoStatusByte) => {
                tracing::warn!(target: "virtio",
                    "virtio-blk: request {head} has no device-writable byte for its status; failed");
                return 0;
            }
            Err(RequestError::ShortHeader { status_addr, len }) => {
                tracing::warn!(target: "virtio", "virtio-blk: request {head} has a {len}-byte header");
                (status_addr, (Status::IoErr, 0))
            }
        };
        if status != Status::Ok {
            tracing::debug!(target: "virtio", "virtio-blk: request {head} failed with status {}", status.byte());
        }
        // The chain was validated: its writable bytes are RAM.
        if mem.write_bytes(status_addr, &[status.byte()]).is_err() {
            return u32::try_from(written).unwrap_or(u32::MAX);
        }
        u32::try_from(written + 1).unwrap_or(u32::MAX)
    }

    /// Carry out a parsed request. The readable data follows the 16-byte header; the writable
    /// data is everything before the status byte. Returns the status and the bytes written.
    fn execute(&mut self, request: &Request, chain: &DescriptorChain, mem: &mut PhysicalMemory) -> (Status, u64) {
        let mut reader = chain.reader();
        reader.skip(16);
        let writer = chain.writer().limit(request.data_in);
        let sector = request.sector;
        match request.kind {
            RequestKind::In => self.read_sectors(mem, sector, writer),
            RequestKind::Out => (self.write_sectors(mem, sector, reader), 0),
            RequestKind::Flush => (self.flush(), 0),
            RequestKind::GetId => self.get_id(mem, writer),
            RequestKind::Discard => (self.discard_or_write_zeroes(mem, reader, false), 0),
            RequestKind::WriteZeroes => (self.discard_or_write_zeroes(mem, reader, true), 0),
            RequestKind::Unsupported(kind) => {
                tracing::debug!(target: "virtio", "virtio-blk: request type {kind} unsupported");
                (Status::Unsupp, 0)
            }
        }
    }

    /// IN: fill the writable data with sectors from the image. Returns (status, bytes written).
    fn read_sectors(&mut self, mem: &mut PhysicalMemory, sector: u64, mut writer: ChainCursor) -> (Status, u64) {
        let len = writer.remaining();
        if len % SECTOR_SIZE != 0 {
            tracing::warn!(target: "virtio", "virtio-blk: read of {len} bytes, not whole sectors");
            return (Status::IoErr, 0);
        }
        let Some(offset) = self.byte_range(sector, len / SECTOR_SIZE) else {
            tracing::warn!(target: "virtio", "virtio-blk: read of {len} bytes at sector {sector} is past the end ({} sectors)",
                self.capacity);
            return (Status::IoErr, 0);
        };
        let mut done = 0u64;
        while done < len {
            let n = (len - done).min(CHUNK as u64) as usize;
            let buf = &mut self.bounce[..n];
            if let Err(e) = self.disk.borrow().read_at(offset + done, buf) {
                self.host_error("reading", &e);
                return (Status::IoErr, done);
            }
            match writer.write(mem, buf) {
                Ok(k) if k == n => done += n as u64,
                _ => return (Status::IoErr, done),
            }
        }
        (Status::Ok, done)
    }

    /// OUT: write the readable data after the header to the image.
    fn write_sectors(&mut self, mem: &PhysicalMemory, sector: u64, mut reader: ChainCursor) -> Status {
        if self.readonly {
            tracing::debug!(target: "virtio", "virtio-blk: write to a read-only drive");
            return Status::IoErr;
        }
        let len = reader.remaining();
        if len % SECTOR_SIZE != 0 {
            tracing::warn!(target: "virtio", "virtio-blk: write of {len} bytes, not whole sectors");
            return Status::IoErr;
        }
        let Some(offset) = self.byte_range(sector, len / SECTOR_SIZE) else {
            tracing::warn!(target: "virtio", "virtio-blk: write of {len} bytes at sector {sector} is past the end ({} sectors)",
                self.capacity);
            return Status::IoErr;
        };
        let mut done = 0u64;
        while done < len {
            let n = (len - done).min(CHUNK as u64) as usize;
            let buf = &mut self.bounce[..n];
            match reader.read(mem, buf) {
                Ok(k) if k == n => {}
                _ => return Status::IoErr,
            }
            if let Err(e) = self.disk.borrow_mut().write_at(offset + done, buf) {
                self.host_error("writing", &e);
                return Status::IoErr;
            }
            done += n as u64;
        }
        self.sync_if_writethrough()
    }

    fn sync_if_writethrough(&self) -> Status {
        if self.writethrough {
            if let Err(e) = self.disk.borrow_mut().flush() {
                self.host_error("syncing", &e);
                return Status::IoErr;
            }
        }
        Status::Ok
    }

    /// FLUSH: make every completed write durable on the host disk.
    fn flush(&self) -> Status {
        if self.readonly {
            return Status::Ok;
        }
        match self.disk.borrow_mut().flush() {
            Ok(()) => Status::Ok,
            Err(e) => {
                self.host_error("flushing", &e);
                Status::IoErr
            }
        }
    }

    /// GET_ID: the serial, as much of its 20 bytes as fits.
    fn get_id(&self, mem: &mut PhysicalMemory, mut writer: ChainCursor) -> (Status, u64) {
        let n = (writer.remaining() as usize).min(SERIAL_LEN);
        match writer.write(mem, &self.serial[..n]) {
            Ok(k) => (Status::Ok, k as u64),
            Err(_) => (Status::IoErr, 0),
        }
    }

    /// DISCARD and WRITE_ZEROES: segments `{le64 sector, le32 num_sectors, le32 flags}`
    /// (§5.2.6), checked as §5.2.6.2 requires.
    fn discard_or_write_zeroes(&mut self, mem: &PhysicalMemory, mut reader: ChainCursor, zeroes: bool) -> Status {
        let what = if zeroes { "write-zeroes" } else { "discard" };
        if self.readonly {
            tracing::debug!(target: "virtio", "virtio-blk: {what} on a read-only drive");
            return Status::IoErr;
        }
        let len = reader.remaining();
        let (max_seg, max_sectors) = if zeroes {
            (MAX_WRITE_ZEROES_SEG, MAX_WRITE_ZEROES_SECTORS)
        } else {
            (MAX_DISCARD_SEG, MAX_DISCARD_SECTORS)
        };
        if len == 0 || len % 16 != 0 {
            tracing::warn!(target: "virtio", "virtio-blk: {what} with {len} bytes of segments");
            return Status::IoErr;
        }
        if len / 16 > u64::from(max_seg) {
            tracing::debug!(target: "virtio", "virtio-blk: {what} with {} segments (at most {max_seg})", len / 16);
            return Status::Unsupp;
        }
        for _ in 0..len / 16 {
            let mut seg = [0u8; 16];
            if reader.read(mem, &mut seg).ok() != Some(16) {
                return Status::IoErr;
            }
            let Segment { sector, count, flags } = Segment::parse(&seg);
            // Unknown flags, or unmap on a discard, are UNSUPP (§5.2.6.2).
            let allowed = if zeroes { SEGMENT_FLAG_UNMAP } else { 0 };
            if flags & !allowed != 0 {
                return Status::Unsupp;
            }
            if count > max_sectors {
                tracing::warn!(target: "virtio", "virtio-blk: {what} of {count} sectors (at most {max_sectors})");
                return Status::IoErr;
            }
            let Some(offset) = self.byte_range(sector, u64::from(count)) else {
                tracing::warn!(target: "virtio", "virtio-blk: {what} at sector {sector} is past the end");
                return Status::IoErr;
            };
            if zeroes {
                let len = u64::from(count) * SECTOR_SIZE;
                let mut done = 0u64;
                while done < len {
                    let n = (len - done).min(CHUNK as u64) as usize;
                    if let Err(e) = self.disk.borrow_mut().write_at(offset + done, &ZEROS[..n]) {
                        self.host_error("writing zeros to", &e);
                        return Status::IoErr;
                    }
                    done += n as u64;
                }
            }
        }
        if zeroes {
            self.sync_if_writethrough()
        } else {
            Status::Ok
        }
    }
}

impl VirtioDevice for BlockDevice {
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

    fn queue_max_sizes(&self) -> Vec<u16> {
        vec![QUEUE_SIZE]
    }

    fn activate(&mut self, negotiated_features: u64) {
        self.writethrough = negotiated_features & feature::FLUSH == 0;
    }

    fn queue_notify(&mut self, index: usize, queues: &mut Queues) -> Result<(), QueueError> {
        while let Some(chain) = queues.pop(index)? {
            let written = self.handle_request(&chain, queues.memory());
            queues.add_used(index, chain.head, written)?;
        }
        Ok(())
    }

    fn reset(&mut self) {
        self.writethrough = false;
    }

    fn save_state(&self) -> Vec<u8> {
        state::encode(&BlkState {
            capacity: self.capacity,
            readonly: self.readonly,
            serial: self.serial,
            writethrough: self.writethrough,
        })
    }

    fn load_state(&mut self, bytes: &[u8]) -> Result<(), StateError> {
        let saved: BlkState = state::decode(bytes, "virtio-blk")?;
        if saved.capacity != self.capacity {
            return Err(StateError(format!(
                "the saved disk has {} sectors, this one ({}) has {}",
                saved.capacity, self.label, self.capacity
            )));
        }
        if saved.readonly != self.readonly {
            return Err(StateError(format!(
                "the saved disk is {}, this one ({}) is not",
                if saved.readonly { "read-only" } else { "writable" },
                self.label
            )));
        }
        if saved.serial != self.serial {
            return Err(StateError(format!(
                "the saved disk has serial {:?}, this one ({}) has {:?}",
                String::from_utf8_lossy(&saved.serial).trim_end_matches('\0'),
                self.label,
                String::from_utf8_lossy(&self.serial).trim_end_matches('\0')
            )));
        }
        self.writethrough = saved.writethrough;
        Ok(())
    }
}

/// What [`BlockDevice`] saves: its configuration, checked on load, and the write-through mode.
#[derive(Serialize, Deserialize)]
struct BlkState {
    capacity: u64,
    readonly: bool,
    serial: [u8; SERIAL_LEN],
    /// Derived from the negotiated features at DRIVER_OK.
    writethrough: bool,
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::features::{EVENT_IDX, INDIRECT_DESC, VERSION_1};
    use crate::testing::*;
    use crate::transport::{INT_USED_BUFFER, VirtioMmio, regs, status as device_status};
    use armvex_bus::AccessSize;
    use std::io::ErrorKind;

    const RING: u32 = RAM_BASE + 0x1_0000;
    const HDR: u32 = RAM_BASE + 0x4_0000;
    const DATA: u32 = RAM_BASE + 0x4_1000;
    const STATUS: u32 = RAM_BASE + 0x6_0000;
    const TABLE: u32 = RAM_BASE + 0x6_1000;

    fn pattern(len: usize) -> Vec<u8> {
        (0..len).map(|i| (i * 7 + i / 512) as u8).collect()
    }

    fn header(kind: u32, sector: u64) -> [u8; 16] {
        let mut h = [0u8; 16];
        h[0..4].copy_from_slice(&kind.to_le_bytes());
        h[8..16].copy_from_slice(&sector.to_le_bytes());
        h
    }

    fn segment(sector: u64, count: u32, flags: u32) -> [u8; 16] {
        let mut s = [0u8; 16];
        s[0..8].copy_from_slice(&sector.to_le_bytes());
        s[8..12].copy_from_slice(&count.to_le_bytes());
        s[12..16].copy_from_slice(&flags.to_le_bytes());
        s
    }

    /// `virtio_cread` of a config field as Linux 6.1 does it: byte by byte on a legacy device;
    /// on a modern one sized accesses, 64-bit fields as two 32-bit reads inside a
    /// ConfigGeneration check.
    fn linux_cread(m: &mut Machine, modern: bool, offset: u32, len: u32) -> u64 {
        if !modern {
            let bytes = m.config_bytes(offset, len);
            return bytes.iter().rev().fold(0, |v, &b| (v << 8) | u64::from(b));
        }
        let at = regs::CONFIG + offset;
        match len {
            1 => u64::from(m.rd_sized(at, AccessSize::Byte)),
            2 => u64::from(m.rd_sized(at, AccessSize::Half)),
            4 => u64::from(m.rd(at)),
            _ => {
                let generation = m.rd(regs::CONFIG_GENERATION);
                let v = u64::from(m.rd(at)) | (u64::from(m.rd(at + 4)) << 32);
                assert_eq!(m.rd(regs::CONFIG_GENERATION), generation);
                v
            }
        }
    }

    /// Linux 6.1 bringing up virtio-blk: `virtio_mmio_probe`, `register_virtio_device`,
    /// `virtio_dev_probe` (features, FEATURES_OK when modern), `virtblk_probe` (seg_max, queue
    /// setup by `vm_setup_vq`, cache mode, block size, topology, discard and write-zeroes
    /// limits, capacity) and `virtio_device_ready`. Checks every value the driver reads.
    fn linux_bringup(m: &mut Machine, modern: bool, readonly: bool, capacity: u64) -> (Ring, u64) {
        let features = linux_probe_features(m, if modern { 2 } else { 1 }, DEVICE_ID);
        let mut expected = feature::SEG_MAX | feature::BLK_SIZE | feature::TOPOLOGY | feature::FLUSH;
        expected |= if readonly {
            feature::RO
        } else {
            feature::DISCARD | feature::WRITE_ZEROES
        };
        expected |= INDIRECT_DESC | EVENT_IDX | if modern { VERSION_1 } else { 0 };
        assert_eq!(features, expected);
        assert_eq!(m.rd(regs::STATUS), if modern { 0xb } else { 3 });
        assert_eq!(linux_cread(m, modern, 0x0c, 4), 254, "seg_max");
        // vm_setup_vq
        m.wr(regs::QUEUE_SEL, 0);
        assert_eq!(m.rd(if modern { regs::QUEUE_READY } else { regs::QUEUE_PFN }), 0);
        let num = m.rd(regs::QUEUE_NUM_MAX);
        assert_eq!(num, 256);
        // vring_create_virtqueue: Linux's layout with VIRTIO_MMIO_VRING_ALIGN = PAGE_SIZE.
        let ring = Ring::contiguous(RING, num as u16, 4096);
        m.wr(regs::QUEUE_NUM, num);
        if modern {
            m.wr(regs::QUEUE_DESC_LOW, ring.desc);
            m.wr(regs::QUEUE_DESC_HIGH, 0);
            m.wr(regs::QUEUE_DRIVER_LOW, ring.avail);
            m.wr(regs::QUEUE_DRIVER_HIGH, 0);
            m.wr(regs::QUEUE_DEVICE_LOW, ring.used);
            m.wr(regs::QUEUE_DEVICE_HIGH, 0);
            m.wr(regs::QUEUE_READY, 1);
        } else {
            m.wr(regs::QUEUE_ALIGN, 4096);
            m.wr(regs::QUEUE_PFN, RING >> 12);
        }
        assert_eq!(m.rd(regs::STATUS) & device_status::DEVICE_NEEDS_RESET, 0);
        assert_eq!(linux_cread(m, modern, 0x14, 4), 512, "blk_size");
        assert_eq!(linux_cread(m, modern, 0x18, 1), 0, "physical_block_exp");
        assert_eq!(linux_cread(m, modern, 0x19, 1), 0, "alignment_offset");
        assert_eq!(linux_cread(m, modern, 0x1a, 2), 0, "min_io_size");
        assert_eq!(linux_cread(m, modern, 0x1c, 4), 0, "opt_io_size");
        if !readonly {
            assert_eq!(linux_cread(m, modern, 0x2c, 4), 1, "discard_sector_alignment");
            assert_eq!(linux_cread(m, modern, 0x24, 4), u64::from(MAX_DISCARD_SECTORS));
            assert_eq!(linux_cread(m, modern, 0x28, 4), 1, "max_discard_seg");
            assert_eq!(linux_cread(m, modern, 0x30, 4), u64::from(MAX_WRITE_ZEROES_SECTORS));
        }
        assert_eq!(linux_cread(m, modern, 0x00, 8), capacity, "capacity");
        m.add_status(device_status::DRIVER_OK);
        assert_eq!(m.rd(regs::STATUS), if modern { 0xf } else { 7 });
        (ring, features)
    }

    /// A guest with one virtio-blk disk, brought up as Linux does.
    struct Guest {
        m: Machine,
        ring: Ring,
        /// Put requests in indirect tables, as Linux does once INDIRECT_DESC is negotiated.
        indirect: bool,
    }

    impl Guest {
        fn new(image: &TempImage, modern: bool, readonly: bool, indirect: bool) -> Guest {
            let disk = BlockDevice::open(&image.path, readonly)
                .unwrap()
                .with_serial("armvex-disk-0");
            let capacity = disk.capacity_sectors();
            let mut m = Machine::new(VirtioMmio::new(modern, IRQ, Some(Box::new(disk))));
            let (ring, _) = linux_bringup(&mut m, modern, readonly, capacity);
            Guest { m, ring, indirect }
        }

        /// Submit a chain of `buffers` as one request and take its completion the way Linux's
        /// interrupt handler does. Returns the used length.
        fn submit(&mut self, buffers: &[(u32, u32, bool)]) -> u32 {
            let head = if self.indirect {
                self.ring.indirect_chain(&mut self.m, TABLE, buffers)
            } else {
                self.ring.direct_chain(&mut self.m, buffers)
            };
            self.ring.submit(&mut self.m, head);
            assert!(self.m.irq(), "used-buffer interrupt");
            assert_eq!(self.m.linux_interrupt(), INT_USED_BUFFER);
            assert!(!self.m.irq());
            let (id, len) = self.ring.take_used(&self.m).expect("the request completed");
            assert_eq!(id, u32::from(head));
            assert_eq!(self.ring.take_used(&self.m), None);
            self.ring.set_used_event(&mut self.m, self.ring.last_used);
            len
        }

        /// A request: header, data buffers, status byte. Returns (used length, status).
        fn request(&mut self, kind: u32, sector: u64, data: &[(u32, u32, bool)]) -> (u32, u8) {
            self.m.poke(HDR, &header(kind, sector));
            self.m.poke(STATUS, &[0xee]);
            let mut buffers = vec![(HDR, 16, false)];
            buffers.extend_from_slice(data);
            buffers.push((STATUS, 1, true));
            let len = self.submit(&buffers);
            (len, self.m.peek(STATUS, 1)[0])
        }

        fn needs_reset(&mut self) -> bool {
            self.m.rd(regs::STATUS) & device_status::DEVICE_NEEDS_RESET != 0
        }
    }

    /// Read, write, flush and get-id through a queue in guest RAM, checking the image file.
    fn read_write_flush_get_id(modern: bool, indirect: bool) {
        let original = pattern(64 * 512);
        let image = TempImage::new("rwfi", &original);
        let mut g = Guest::new(&image, modern, false, indirect);

        // IN: sectors 3 and 4, into two buffers of 512 bytes.
        g.m.poke(DATA, &[0xcc; 1024]);
        let (len, status) = g.request(request::IN, 3, &[(DATA, 512, true), (DATA + 0x800, 512, true)]);
        assert_eq!((len, status), (1025, status::OK));
        assert_eq!(g.m.peek(DATA, 512), original[3 * 512..4 * 512]);
        assert_eq!(g.m.peek(DATA + 0x800, 512), original[4 * 512..5 * 512]);

        // OUT: two sectors at 10.
        let new: Vec<u8> = (0..1024).map(|i| (i % 251) as u8 ^ 0xa5).collect();
        g.m.poke(DATA, &new);
        let (len, status) = g.request(request::OUT, 10, &[(DATA, 1024, false)]);
        assert_eq!((len, status), (1, status::OK));
        let mut expected = original.clone();
        expected[10 * 512..12 * 512].copy_from_slice(&new);
        assert_eq!(image.contents(), expected);

        // Reading it back through the device.
        g.m.poke(DATA, &[0; 1024]);
        assert_eq!(g.request(request::IN, 10, &[(DATA, 1024, true)]), (1025, status::OK));
        assert_eq!(g.m.peek(DATA, 1024), new);

        // FLUSH.
        assert_eq!(g.request(request::FLUSH, 0, &[]), (1, status::OK));

        // GET_ID: 20 bytes, NUL-padded.
        g.m.poke(DATA, &[0xcc; 20]);
        assert_eq!(g.request(request::GET_ID, 0, &[(DATA, 20, true)]), (21, status::OK));
        let mut id = b"armvex-disk-0".to_vec();
        id.resize(20, 0);
        assert_eq!(g.m.peek(DATA, 20), id);

        assert!(!g.needs_reset());
        assert_eq!(image.contents().len(), 64 * 512, "the image never grows");
    }

    #[test]
    fn legacy_linux_6_1_bringup_then_read_write_flush_get_id() {
        read_write_flush_get_id(false, false);
        read_write_flush_get_id(false, true);
    }

    #[test]
    fn modern_linux_6_1_bringup_then_read_write_flush_get_id() {
        read_write_flush_get_id(true, true);
        read_write_flush_get_id(true, false);
    }

    #[test]
    fn a_read_past_the_end_fails_with_ioerr() {
        let image = TempImage::new("read-past-end", &pattern(8 * 512));
        let mut g = Guest::new(&image, true, false, true);
        g.m.poke(DATA, &[0xcc; 1024]);
        for sector in [7, 8, u64::MAX, u64::MAX / 512] {
            let (len, status) = g.request(request::IN, sector, &[(DATA, 1024, true)]);
            assert_eq!((len, status), (1, status::IOERR), "sector {sector}");
            assert_eq!(g.m.peek(DATA, 1024), vec![0xcc; 1024], "no data written");
        }
        // The last sector itself is fine.
        assert_eq!(g.request(request::IN, 7, &[(DATA, 512, true)]), (513, status::OK));
        // So is a read that is not whole sectors: no.
        assert_eq!(g.request(request::IN, 0, &[(DATA, 100, true)]), (1, status::IOERR));
        assert!(!g.needs_reset());
    }

    #[test]
    fn a_write_past_the_end_fails_and_never_extends_the_image() {
        let original = pattern(8 * 512);
        let image = TempImage::new("write-past-end", &original);
        let mut g = Guest::new(&image, false, false, false);
        g.m.poke(DATA, &[0x5a; 1024]);
        for sector in [7, 8, 1 << 60] {
            assert_eq!(
                g.request(request::OUT, sector, &[(DATA, 1024, false)]),
                (1, status::IOERR)
            );
        }
        assert_eq!(g.request(request::OUT, 0, &[(DATA, 511, false)]), (1, status::IOERR));
        let segment_past_end = segment(7, 2, 0);
        g.m.poke(DATA, &segment_past_end);
        assert_eq!(
            g.request(request::WRITE_ZEROES, 0, &[(DATA, 16, false)]),
            (1, status::IOERR)
        );
        assert_eq!(g.request(request::DISCARD, 0, &[(DATA, 16, false)]), (1, status::IOERR));
        assert_eq!(image.contents(), original);
    }

    /// A bring-up like [`Guest::new`] that keeps a handle on the disk, to break it.
    fn guest_with_disk(image: &TempImage) -> (Guest, SharedDisk) {
        let disk = BlockDevice::open(&image.path, false).unwrap();
        let shared = disk.disk().clone();
        let capacity = disk.capacity_sectors();
        let mut m = Machine::new(VirtioMmio::new(true, IRQ, Some(Box::new(disk))));
        let (ring, _) = linux_bringup(&mut m, true, false, capacity);
        (
            Guest {
                m,
                ring,
                indirect: true,
            },
            shared,
        )
    }

    #[test]
    fn host_io_errors_fail_the_request_with_ioerr_and_the_device_carries_on() {
        let original = pattern(8 * 512);
        let image = TempImage::new("host-errors", &original);
        let (mut g, disk) = guest_with_disk(&image);
        g.m.poke(DATA, &[0x5a; 1024]);
        // A full host disk (ENOSPC on a sparse image), then a failing one (EIO): every kind of
        // request that touches the image fails with IOERR, none panics, nothing is written.
        for kind in [ErrorKind::StorageFull, ErrorKind::Other] {
            disk.borrow_mut().inject_error = Some(kind);
            assert_eq!(g.request(request::OUT, 2, &[(DATA, 1024, false)]), (1, status::IOERR));
            assert_eq!(g.request(request::FLUSH, 0, &[]), (1, status::IOERR));
            g.m.poke(DATA + 2048, &segment(0, 1, 0));
            assert_eq!(
                g.request(request::WRITE_ZEROES, 0, &[(DATA + 2048, 16, false)]),
                (1, status::IOERR)
            );
            g.m.poke(DATA + 4096, &[0xcc; 512]);
            let (_, st) = g.request(request::IN, 0, &[(DATA + 4096, 512, true)]);
            assert_eq!(st, status::IOERR);
            assert!(!g.needs_reset(), "an I/O error is the request's, not the device's");
        }
        assert_eq!(image.contents(), original);
        // The host disk recovers: requests work again.
        disk.borrow_mut().inject_error = None;
        assert_eq!(g.request(request::OUT, 2, &[(DATA, 1024, false)]), (1, status::OK));
        assert_eq!(g.request(request::FLUSH, 0, &[]), (1, status::OK));
        assert_eq!(&image.contents()[1024..2048], &[0x5a; 1024][..]);
    }

    #[test]
    fn an_image_truncated_underneath_gives_ioerr_not_a_panic() {
        let original = pattern(8 * 512);
        let image = TempImage::new("truncated-underneath", &original);
        let (mut g, _disk) = guest_with_disk(&image);
        std::fs::OpenOptions::new()
            .write(true)
            .open(&image.path)
            .unwrap()
            .set_len(1024)
            .unwrap();
        g.m.poke(DATA, &[0xcc; 1024]);
        let (_, st) = g.request(request::IN, 4, &[(DATA, 1024, true)]);
        assert_eq!(st, status::IOERR, "reading sectors that are no longer there");
        assert_eq!(g.request(request::IN, 0, &[(DATA, 1024, true)]), (1025, status::OK));
        assert_eq!(g.m.peek(DATA, 1024), original[..1024]);
        assert!(!g.needs_reset());
    }

    #[test]
    fn a_read_only_drive_offers_ro_and_refuses_every_write() {
        let original = pattern(8 * 512);
        let image = TempImage::new("read-only", &original);
        let mut g = Guest::new(&image, true, true, true);
        g.m.poke(DATA, &[0x5a; 512]);
        assert_eq!(g.request(request::OUT, 0, &[(DATA, 512, false)]), (1, status::IOERR));
        g.m.poke(DATA, &segment(0, 1, 0));
        assert_eq!(
            g.request(request::WRITE_ZEROES, 0, &[(DATA, 16, false)]),
            (1, status::IOERR)
        );
        assert_eq!(g.request(request::DISCARD, 0, &[(DATA, 16, false)]), (1, status::IOERR));
        assert_eq!(image.contents(), original);
        // Reading, flushing and asking for the ID still work.
        assert_eq!(g.request(request::IN, 1, &[(DATA, 512, true)]), (513, status::OK));
        assert_eq!(g.m.peek(DATA, 512), original[512..1024]);
        assert_eq!(g.request(request::FLUSH, 0, &[]), (1, status::OK));
        assert_eq!(g.request(request::GET_ID, 0, &[(DATA, 20, true)]), (21, status::OK));
    }

    #[test]
    fn a_read_only_image_is_never_opened_for_writing() {
        let image = TempImage::new("o-rdonly", &[0; 512]);
        let disk = BlockDevice::open(&image.path, true).unwrap();
        let fd = disk.disk().borrow().base_fd().unwrap();
        // /proc/self/fdinfo shows the open flags in octal; the access mode is the low 2 bits.
        let info = std::fs::read_to_string(format!("/proc/self/fdinfo/{fd}")).unwrap();
        let flags = info.lines().find_map(|l| l.strip_prefix("flags:")).unwrap().trim();
        assert_eq!(
            u32::from_str_radix(flags, 8).unwrap() & 3,
            0,
            "O_RDONLY, got flags {flags}"
        );
        drop(disk); // its read lock would keep a writer out
        let writable = BlockDevice::open(&image.path, false).unwrap();
        let fd = writable.disk().borrow().base_fd().unwrap();
        let info = std::fs::read_to_string(format!("/proc/self/fdinfo/{fd}")).unwrap();
        let flags = info.lines().find_map(|l| l.strip_prefix("flags:")).unwrap().trim();
        assert_eq!(
            u32::from_str_radix(flags, 8).unwrap() & 3,
            2,
            "O_RDWR, got flags {flags}"
        );
    }

    #[test]
    fn a_status_byte_in_a_device_readable_buffer_fails_the_request_without_writing_it() {
        let original = pattern(8 * 512);
        let image = TempImage::new("readable-status", &original);
        let mut g = Guest::new(&image, true, false, true);
        g.m.poke(HDR, &header(request::OUT, 0));
        g.m.poke(DATA, &[0x77; 512]);
        g.m.poke(STATUS, &[0xee]);
        let len = g.submit(&[(HDR, 16, false), (DATA, 512, false), (STATUS, 1, false)]);
        assert_eq!(len, 0, "completed with nothing written");
        assert_eq!(g.m.peek(STATUS, 1), [0xee], "the read-only status byte is untouched");
        assert_eq!(image.contents(), original, "and the write was not done");
        // A zero-length status buffer: no room for the status either.
        g.m.poke(HDR, &header(request::FLUSH, 0));
        let len = g.submit(&[(HDR, 16, false), (STATUS, 0, true)]);
        assert_eq!(len, 0);
        assert_eq!(g.m.peek(STATUS, 1), [0xee]);
        // The device carries on.
        assert!(!g.needs_reset());
        assert_eq!(g.request(request::FLUSH, 0, &[]), (1, status::OK));
    }

    #[test]
    fn a_status_buffer_before_the_data_breaks_the_queue_rules() {
        // IN with the status descriptor first and a readable one after it: not a request the
        // device can make sense of; the queue refuses the chain (§2.7.4.2).
        let image = TempImage::new("misordered", &pattern(8 * 512));
        let mut g = Guest::new(&image, true, false, false);
        g.m.poke(HDR, &header(request::IN, 0));
        let head = g
            .ring
            .direct_chain(&mut g.m, &[(HDR, 16, false), (STATUS, 1, true), (DATA, 512, false)]);
        g.ring.submit(&mut g.m, head);
        assert!(g.needs_reset());
        assert_eq!(g.ring.used_idx(&g.m), 0);
    }

    #[test]
    fn malformed_and_unknown_requests() {
        let image = TempImage::new("malformed", &pattern(8 * 512));
        let mut g = Guest::new(&image, true, false, true);
        for kind in [2, 3, 7, 10, 14, 16, 0x8000_0000] {
            assert_eq!(g.request(kind, 0, &[]), (1, status::UNSUPP), "type {kind}");
        }
        // A header shorter than 16 bytes.
        g.m.poke(STATUS, &[0xee]);
        let len = g.submit(&[(HDR, 8, false), (STATUS, 1, true)]);
        assert_eq!((len, g.m.peek(STATUS, 1)[0]), (1, status::IOERR));
        // Legacy FLUSH_OUT is a flush.
        assert_eq!(g.request(request::FLUSH_OUT, 0, &[]), (1, status::OK));
        // GET_ID into a short buffer: what fits.
        g.m.poke(DATA, &[0xcc; 8]);
        assert_eq!(g.request(request::GET_ID, 0, &[(DATA, 5, true)]), (6, status::OK));
        assert_eq!(g.m.peek(DATA, 8), b"armve\xcc\xcc\xcc");
        assert!(!g.needs_reset());
    }

    #[test]
    fn discard_and_write_zeroes() {
        let original = pattern(16 * 512);
        let image = TempImage::new("discard", &original);
        let mut g = Guest::new(&image, true, false, true);
        // Discard: checked, then nothing (QEMU's discard=ignore).
        g.m.poke(DATA, &segment(2, 3, 0));
        assert_eq!(g.request(request::DISCARD, 0, &[(DATA, 16, false)]), (1, status::OK));
        assert_eq!(image.contents(), original);
        g.m.poke(DATA, &segment(2, 3, 1));
        assert_eq!(
            g.request(request::DISCARD, 0, &[(DATA, 16, false)]),
            (1, status::UNSUPP),
            "unmap"
        );
        g.m.poke(DATA, &[segment(0, 1, 0), segment(4, 1, 0)].concat());
        assert_eq!(
            g.request(request::DISCARD, 0, &[(DATA, 32, false)]),
            (1, status::UNSUPP),
            "two segments"
        );
        assert_eq!(
            g.request(request::DISCARD, 0, &[(DATA, 12, false)]),
            (1, status::IOERR),
            "partial segment"
        );
        // Write zeroes, with or without unmap.
        for (flags, sector) in [(0, 2), (1, 9)] {
            g.m.poke(DATA, &segment(sector, 3, flags));
            assert_eq!(
                g.request(request::WRITE_ZEROES, 0, &[(DATA, 16, false)]),
                (1, status::OK)
            );
        }
        let mut expected = original.clone();
        expected[2 * 512..5 * 512].fill(0);
        expected[9 * 512..12 * 512].fill(0);
        assert_eq!(image.contents(), expected);
        g.m.poke(DATA, &segment(0, 1, 2));
        assert_eq!(
            g.request(request::WRITE_ZEROES, 0, &[(DATA, 16, false)]),
            (1, status::UNSUPP)
        );
        g.m.poke(DATA, &segment(0, MAX_WRITE_ZEROES_SECTORS + 1, 0));
        assert_eq!(
            g.request(request::WRITE_ZEROES, 0, &[(DATA, 16, false)]),
            (1, status::IOERR)
        );
        assert_eq!(image.contents(), expected);
    }

    #[test]
    fn an_image_that_is_not_whole_sectors_is_rounded_down() {
        let original = pattern(1000);
        let image = TempImage::new("odd-size", &original);
        let disk = BlockDevice::open(&image.path, false).unwrap();
        assert_eq!(disk.capacity_sectors(), 1);
        drop(disk);
        let mut g = Guest::new(&image, false, false, false);
        assert_eq!(g.request(request::IN, 0, &[(DATA, 512, true)]), (513, status::OK));
        assert_eq!(g.m.peek(DATA, 512), original[..512]);
        assert_eq!(g.request(request::IN, 1, &[(DATA, 512, true)]), (1, status::IOERR));
        g.m.poke(DATA, &[0; 512]);
        assert_eq!(g.request(request::OUT, 1, &[(DATA, 512, false)]), (1, status::IOERR));
        assert_eq!(image.contents(), original, "the tail is never touched");
    }

    #[test]
    fn open_errors_are_one_line_messages() {
        let missing = std::env::temp_dir().join("armvex-virtio-no-such-image.img");
        let err = BlockDevice::open(&missing, true).err().unwrap();
        assert!(err.to_string().starts_with("cannot open disk image "), "{err}");
        assert!(err.to_string().contains("armvex-virtio-no-such-image.img"), "{err}");
        assert!(!err.to_string().contains('\n'));
        let dir = std::env::temp_dir();
        let err = BlockDevice::open(&dir, true).err().unwrap();
        assert!(err.to_string().contains("is a directory"), "{err}");
        let err = BlockDevice::open(&dir, false).err().unwrap();
        assert!(err.to_string().contains("directory"), "{err}");
    }

    #[test]
    fn without_flush_negotiated_the_device_is_write_through() {
        let image = TempImage::new("write-through", &[0; 512]);
        let mut disk = BlockDevice::open(&image.path, false).unwrap();
        disk.activate(feature::SEG_MAX);
        assert!(disk.writethrough);
        let mut byte = [0xff];
        disk.read_config(config::WRITEBACK as u32, &mut byte);
        assert_eq!(byte, [0]);
        disk.activate(feature::FLUSH);
        assert!(!disk.writethrough);
        disk.read_config(config::WRITEBACK as u32, &mut byte);
        assert_eq!(byte, [1]);
    }

    #[test]
    fn config_reads_beyond_the_structure_are_zero() {
        let image = TempImage::new("config", &[0; 4096]);
        let disk = BlockDevice::open(&image.path, false).unwrap();
        let mut buf = [0xffu8; 8];
        disk.read_config(0, &mut buf);
        assert_eq!(u64::from_le_bytes(buf), 8);
        disk.read_config(0x3a, &mut buf);
        assert_eq!(buf, [0; 8]);
        disk.read_config(u32::MAX, &mut buf[..4]);
        assert_eq!(buf[..4], [0; 4]);
    }
}

/// Parsing a request apart from executing it.
#[cfg(test)]
mod request_tests {
    use super::*;

    #[test]
    fn every_header_type_has_a_kind_and_every_status_its_byte() {
        let kinds = [
            (0, RequestKind::In),
            (1, RequestKind::Out),
            (4, RequestKind::Flush),
            (5, RequestKind::Flush),
            (8, RequestKind::GetId),
            (11, RequestKind::Discard),
            (13, RequestKind::WriteZeroes),
            (2, RequestKind::Unsupported(2)),
            (u32::MAX, RequestKind::Unsupported(u32::MAX)),
        ];
        for (value, kind) in kinds {
            assert_eq!(RequestKind::from_type(value), kind, "type {value}");
        }
        assert_eq!(
            [Status::Ok.byte(), Status::IoErr.byte(), Status::Unsupp.byte()],
            [0, 1, 2]
        );
        let seg = Segment::parse(&[1, 0, 0, 0, 0, 0, 0, 0x80, 7, 0, 0, 0, 1, 0, 0, 0]);
        assert_eq!(
            seg,
            Segment {
                sector: 0x8000_0000_0000_0001,
                count: 7,
                flags: 1
            }
        );
    }
}

/// Saving a device in use and loading it into a freshly built machine (see
/// `armvex_bus::state`).
#[cfg(test)]
mod state_tests {
    use super::*;
    use crate::features::{EVENT_IDX, INDIRECT_DESC};
    use crate::testing::*;
    use crate::transport::{INT_USED_BUFFER, VirtioMmio, regs};
    use armvex_bus::{AccessSize, Device};

    const RING: u32 = RAM_BASE + 0x1_0000;
    const HDR: u32 = RAM_BASE + 0x4_0000;
    const DATA: u32 = RAM_BASE + 0x4_1000;
    const STATUS: u32 = RAM_BASE + 0x6_0000;
    const TABLE: u32 = RAM_BASE + 0x6_1000;
    const SECTORS: u64 = 64;

    fn pattern(len: usize) -> Vec<u8> {
        (0..len).map(|i| (i * 11 + i / 512) as u8).collect()
    }

    /// A machine with one virtio-blk disk on `image`, its driver's ring, and whether the driver
    /// puts requests in indirect tables.
    struct Guest {
        m: Machine,
        ring: Ring,
        indirect: bool,
    }

    fn machine(image: &TempImage, modern: bool) -> Machine {
        let disk = BlockDevice::open(&image.path, false).unwrap().with_serial("state-test");
        Machine::new(VirtioMmio::new(modern, IRQ, Some(Box::new(disk))))
    }

    /// Linux 6.1's bring-up, condensed: the register writes of `linux_probe_features` and
    /// `vm_setup_vq`, then DRIVER_OK.
    fn bring_up(image: &TempImage, modern: bool) -> Guest {
        let mut m = machine(image, modern);
        let features = linux_probe_features(&mut m, if modern { 2 } else { 1 }, DEVICE_ID);
        assert_ne!(features & feature::FLUSH, 0);
        m.wr(regs::QUEUE_SEL, 0);
        m.wr(regs::QUEUE_NUM, 256);
        let ring = Ring::contiguous(RING, 256, 4096);
        if modern {
            m.wr(regs::QUEUE_DESC_LOW, ring.desc);
            m.wr(regs::QUEUE_DRIVER_LOW, ring.avail);
            m.wr(regs::QUEUE_DEVICE_LOW, ring.used);
            m.wr(regs::QUEUE_READY, 1);
        } else {
            m.wr(regs::QUEUE_ALIGN, 4096);
            m.wr(regs::QUEUE_PFN, RING >> 12);
        }
        m.add_status(4);
        // Both kinds of chains: direct on the legacy device, indirect tables on the modern one.
        Guest {
            m,
            ring,
            indirect: features & INDIRECT_DESC != 0 && modern,
        }
    }

    impl Guest {
        /// Offer one request (header, data buffers, status byte) and notify; no interrupt
        /// handling. Returns the head.
        fn offer(&mut self, kind: u32, sector: u64, data: &[(u32, u32, bool)]) -> u16 {
            let mut header = [0u8; 16];
            header[0..4].copy_from_slice(&kind.to_le_bytes());
            header[8..16].copy_from_slice(&sector.to_le_bytes());
            self.m.poke(HDR, &header);
            self.m.poke(STATUS, &[0xee]);
            let mut buffers = vec![(HDR, 16, false)];
            buffers.extend_from_slice(data);
            buffers.push((STATUS, 1, true));
            let head = if self.indirect {
                self.ring.indirect_chain(&mut self.m, TABLE, &buffers)
            } else {
                self.ring.direct_chain(&mut self.m, &buffers)
            };
            self.ring.submit(&mut self.m, head);
            head
        }

        /// `vm_interrupt` and `virtblk_done`: acknowledge, take every used entry, publish
        /// `used_event`. Returns (interrupt status, used entries, status byte).
        fn complete(&mut self) -> (u32, Vec<(u32, u32)>, u8) {
            let irq = self.m.linux_interrupt();
            let mut used = Vec::new();
            while let Some(e) = self.ring.take_used(&self.m) {
                used.push(e);
            }
            self.ring.set_used_event(&mut self.m, self.ring.last_used);
            (irq, used, self.m.peek(STATUS, 1)[0])
        }

        /// Everything the guest can see of the device: registers, configuration space, the
        /// interrupt line.
        fn visible(&mut self) -> Vec<u32> {
            let mut v: Vec<u32> = [
                regs::STATUS,
                regs::INTERRUPT_STATUS,
                regs::QUEUE_NUM_MAX,
                regs::QUEUE_PFN,
                regs::QUEUE_READY,
                regs::CONFIG_GENERATION,
            ]
            .into_iter()
            .map(|r| self.m.rd(r))
            .collect();
            v.extend((0..0x40).map(|i| self.m.rd_sized(regs::CONFIG + i, AccessSize::Byte)));
            v.push(u32::from(self.m.irq()));
            v
        }
    }

    /// Save `g` (bus state with the transport, and RAM) and build a fresh machine on a copy of
    /// its disk image, loaded with both.
    fn save_and_load(g: &Guest, image: &TempImage, modern: bool) -> (Guest, TempImage) {
        let saved = g.m.bus.save_state();
        let ram = g.m.peek(RAM_BASE, RAM_SIZE as usize);
        let copy = TempImage::new("state-copy", &image.contents());
        let mut m = machine(&copy, modern);
        m.poke(RAM_BASE, &ram);
        m.bus.load_state(&saved).unwrap();
        assert_eq!(m.bus.save_state(), saved, "loading gives back exactly what was saved");
        let fresh = Guest {
            m,
            ring: g.ring.clone(),
            indirect: g.indirect,
        };
        (fresh, copy)
    }

    /// A Linux-like run: bring-up, requests, one completion left unacknowledged; save; load
    /// into a fresh machine; then the same requests on both must give the same used ring,
    /// interrupts, RAM and disk bytes.
    fn carries_on_identically(modern: bool) {
        let image = TempImage::new("state", &pattern((SECTORS * 512) as usize));
        let mut g = bring_up(&image, modern);
        g.m.poke(DATA, &[0x3c; 2048]);
        g.offer(request::OUT, 5, &[(DATA, 2048, false)]);
        assert_eq!(g.complete(), (INT_USED_BUFFER, vec![(0, 1)], status::OK));
        g.offer(request::IN, 1, &[(DATA + 0x1000, 1024, true)]);
        assert_eq!(g.complete().2, status::OK);
        // Left pending: completed, interrupt raised, not yet acknowledged.
        let head = g.offer(request::GET_ID, 0, &[(DATA + 0x2000, 20, true)]);
        assert!(g.m.irq());

        let (mut f, copy) = save_and_load(&g, &image, modern);
        assert_eq!(f.visible(), g.visible());
        assert!(f.m.irq(), "the line is high from the bus's saved state");
        let pending = f.complete();
        assert_eq!(pending, g.complete());
        assert_eq!(pending.1, vec![(u32::from(head), 21)]);

        let mut rng = Rng(if modern { 2 } else { 1 });
        for step in 0..40 {
            let sector = rng.below(SECTORS - 4);
            let fill = vec![step as u8 ^ 0xa5; 2048];
            let (kind, data) = match rng.below(5) {
                0 => (request::IN, vec![(DATA, 1024, true), (DATA + 0x1000, 512, true)]),
                1 => (request::OUT, vec![(DATA, 2048, false)]),
                2 => (request::FLUSH, vec![]),
                3 => (request::WRITE_ZEROES, vec![(DATA + 0x3000, 16, false)]),
                _ => (request::IN, vec![(DATA, 512, true)]),
            };
            let mut segment = [0u8; 16];
            segment[0..8].copy_from_slice(&sector.to_le_bytes());
            segment[8..12].copy_from_slice(&2u32.to_le_bytes());
            for guest in [&mut g, &mut f] {
                guest.m.poke(DATA, &fill);
                guest.m.poke(DATA + 0x3000, &segment);
                guest.offer(kind, sector, &data);
            }
            let (a, b) = (g.complete(), f.complete());
            assert_eq!(a, b, "step {step}: request type {kind}");
            assert_eq!(a.2, status::OK, "step {step}");
            assert_eq!(f.visible(), g.visible(), "step {step}");
        }
        assert_eq!(
            f.m.peek(RAM_BASE, RAM_SIZE as usize),
            g.m.peek(RAM_BASE, RAM_SIZE as usize)
        );
        assert_eq!(copy.contents(), image.contents(), "the same bytes on disk");
        assert_ne!(
            image.contents(),
            pattern((SECTORS * 512) as usize),
            "the disk was written"
        );
        assert_eq!(f.m.bus.save_state(), g.m.bus.save_state());
    }

    #[test]
    fn a_loaded_legacy_device_carries_on_exactly_as_the_saved_one() {
        carries_on_identically(false);
    }

    #[test]
    fn a_loaded_modern_device_carries_on_exactly_as_the_saved_one() {
        carries_on_identically(true);
    }

    #[test]
    fn write_through_is_part_of_the_saved_state() {
        let image = TempImage::new("state-wt", &[0; 4096]);
        let mut disk = BlockDevice::open(&image.path, false).unwrap();
        // A driver that did not accept FLUSH.
        disk.activate(feature::SEG_MAX | EVENT_IDX);
        assert!(disk.writethrough);
        let saved = VirtioDevice::save_state(&disk);
        drop(disk); // its write lock would keep the restored device out
        let mut fresh = BlockDevice::open(&image.path, false).unwrap();
        assert!(!fresh.writethrough);
        VirtioDevice::load_state(&mut fresh, &saved).unwrap();
        let mut byte = [0xff];
        fresh.read_config(config::WRITEBACK as u32, &mut byte);
        assert_eq!(byte, [0], "still write-through: the driver sees writeback = 0");
    }

    #[test]
    fn a_state_of_another_disk_is_refused() {
        let image = TempImage::new("state-disk", &[0; 8192]);
        let disk = BlockDevice::open(&image.path, false).unwrap().with_serial("one");
        let saved = VirtioDevice::save_state(&disk);
        drop(disk); // its write lock would keep the other openings out
        let smaller = TempImage::new("state-smaller", &[0; 4096]);
        let e = VirtioDevice::load_state(&mut BlockDevice::open(&smaller.path, false).unwrap(), &saved).unwrap_err();
        assert!(e.0.starts_with("the saved disk has 16 sectors, this one ("), "{e}");
        assert!(e.0.ends_with(") has 8"), "{e}");
        let e = VirtioDevice::load_state(&mut BlockDevice::open(&image.path, true).unwrap(), &saved).unwrap_err();
        assert!(e.0.starts_with("the saved disk is writable"), "{e}");
        let mut other_serial = BlockDevice::open(&image.path, false).unwrap().with_serial("two");
        let e = VirtioDevice::load_state(&mut other_serial, &saved).unwrap_err();
        assert!(e.0.contains("serial \"one\"") && e.0.ends_with("has \"two\""), "{e}");
        let e = VirtioDevice::load_state(&mut other_serial, &saved[..3]).unwrap_err();
        assert!(e.0.starts_with("saved state of virtio-blk is not understood"), "{e}");
        assert!(!e.0.contains('\n'));
        drop(other_serial);
        // Through the transport, the backend's name comes first.
        let mut t = VirtioMmio::new(
            false,
            IRQ,
            Some(Box::new(BlockDevice::open(&image.path, false).unwrap())),
        );
        let bytes = t.save_state();
        let mut u = VirtioMmio::new(
            false,
            IRQ,
            Some(Box::new(BlockDevice::open(&smaller.path, false).unwrap())),
        );
        let e = u.load_state(&bytes).unwrap_err();
        assert!(e.0.starts_with("virtio-blk: the saved disk has 16 sectors"), "{e}");
        t.load_state(&bytes).unwrap();
    }

    /// A machine whose disk is a TemporaryOverlay over `image`, and the disk's handle.
    fn overlay_guest(image: &TempImage, modern: bool) -> (Guest, SharedDisk) {
        let disk: SharedDisk = Rc::new(RefCell::new(
            DiskImage::open(&image.path, DiskMode::TemporaryOverlay).unwrap(),
        ));
        let device = BlockDevice::new(disk.clone()).with_serial("state-test");
        let mut m = Machine::new(VirtioMmio::new(modern, IRQ, Some(Box::new(device))));
        let features = linux_probe_features(&mut m, if modern { 2 } else { 1 }, DEVICE_ID);
        assert_eq!(features & feature::RO, 0, "the guest sees a writable disk");
        m.wr(regs::QUEUE_NUM, 256);
        let ring = Ring::contiguous(RING, 256, 4096);
        if modern {
            m.wr(regs::QUEUE_DESC_LOW, ring.desc);
            m.wr(regs::QUEUE_DRIVER_LOW, ring.avail);
            m.wr(regs::QUEUE_DEVICE_LOW, ring.used);
            m.wr(regs::QUEUE_READY, 1);
        } else {
            m.wr(regs::QUEUE_PFN, RING >> 12);
        }
        m.add_status(4);
        (
            Guest {
                m,
                ring,
                indirect: modern,
            },
            disk,
        )
    }

    /// Read the whole disk through the guest's queue.
    fn read_all(g: &mut Guest) -> Vec<u8> {
        let mut all = Vec::new();
        for sector in (0..SECTORS).step_by(8) {
            g.offer(request::IN, sector, &[(DATA, 4096, true)]);
            assert_eq!(g.complete().2, status::OK);
            all.extend(g.m.peek(DATA, 4096));
        }
        all
    }

    #[test]
    fn a_temporary_overlay_disk_is_writable_for_the_guest_and_leaves_the_image_alone() {
        let original = pattern((SECTORS * 512) as usize);
        let image = TempImage::new("state-overlay", &original);
        let (mut g, disk) = overlay_guest(&image, true);
        g.m.poke(DATA, &[0x77; 1536]);
        g.offer(request::OUT, 3, &[(DATA, 1536, false)]);
        assert_eq!(g.complete().2, status::OK);
        g.m.poke(DATA + 0x3000, &[9, 0, 0, 0, 0, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0]);
        g.offer(request::WRITE_ZEROES, 0, &[(DATA + 0x3000, 16, false)]);
        assert_eq!(g.complete().2, status::OK);
        g.offer(request::FLUSH, 0, &[]);
        assert_eq!(g.complete().2, status::OK);
        let mut expected = original.clone();
        expected[3 * 512..6 * 512].fill(0x77);
        expected[9 * 512..10 * 512].fill(0);
        assert_eq!(read_all(&mut g), expected);
        assert_eq!(disk.borrow().overlay_block_count(), 2, "blocks 0 and 1");
        assert_eq!(image.contents(), original);
    }

    #[test]
    fn rewinding_the_disk_and_loading_the_device_gives_back_the_checkpoint() {
        for modern in [false, true] {
            let original = pattern((SECTORS * 512) as usize);
            let image = TempImage::new("state-rewind", &original);
            let (mut g, disk) = overlay_guest(&image, modern);
            g.m.poke(DATA, &[0x11; 4096]);
            g.offer(request::OUT, 8, &[(DATA, 4096, false)]);
            g.complete();
            // Checkpoint: device state, RAM, and a disk undo log from here on.
            let saved = g.m.bus.save_state();
            let ram = g.m.peek(RAM_BASE, RAM_SIZE as usize);
            let ring = g.ring.clone();
            disk.borrow_mut().start_undo();
            let at_checkpoint = read_all(&mut g);
            let blocks_then = disk.borrow().overlay_block_count();
            // The guest goes on writing.
            let mut rng = Rng(5);
            for step in 0..20u8 {
                let sector = rng.below(SECTORS - 8);
                g.m.poke(DATA, &[step; 4096]);
                g.offer(request::OUT, sector, &[(DATA, 512 * (1 + rng.below(8) as u32), false)]);
                assert_eq!(g.complete().2, status::OK);
            }
            assert_ne!(read_all(&mut g), at_checkpoint);
            let after = read_all(&mut g);
            // Rewind: the disk with its undo log, RAM and the bus with the device.
            let undo = disk.borrow_mut().take_undo();
            disk.borrow_mut().apply_undo(&undo).unwrap();
            g.m.poke(RAM_BASE, &ram);
            g.m.bus.load_state(&saved).unwrap();
            g.ring = ring;
            assert_eq!(disk.borrow().overlay_block_count(), blocks_then);
            assert_eq!(read_all(&mut g), at_checkpoint, "modern {modern}");
            // The same writes again give the same disk.
            let mut rng = Rng(5);
            for step in 0..20u8 {
                let sector = rng.below(SECTORS - 8);
                g.m.poke(DATA, &[step; 4096]);
                g.offer(request::OUT, sector, &[(DATA, 512 * (1 + rng.below(8) as u32), false)]);
                assert_eq!(g.complete().2, status::OK);
            }
            assert_eq!(read_all(&mut g), after);
            assert_eq!(image.contents(), original);
        }
    }
}
