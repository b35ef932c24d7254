//! Disk images: where a virtual disk's bytes live on the host, with copy-on-write overlays,
//! undo logs for reverse execution, and what snapshots need.
//!
//! A [`DiskImage`] is the host side of one drive. The virtio-blk device ([`crate::blk`]) reads,
//! writes and flushes through it in byte offsets; it knows nothing of sectors or requests. The
//! machine builds each drive's image and keeps a handle to it ([`SharedDisk`]), because
//! snapshots and reverse execution must save and rewind the disk along with the rest of the
//! machine.
//!
//! ## Modes ([`DiskMode`])
//!
//! * **ReadOnly**: the image file is opened read-only (never for writing) and every write is
//!   refused. virtio-blk offers the guest a read-only disk (VIRTIO_BLK_F_RO, virtio 1.2 §5.2.3).
//! * **InPlace**: the guest's writes go straight into the image file; a FLUSH request
//!   (§5.2.6.4) makes them durable with `fdatasync`.
//! * **TemporaryOverlay** (QEMU's `snapshot=on`): the image file is the *base*, opened
//!   read-only; the guest's writes go into an *overlay* that is thrown away when armvex exits.
//!   The guest sees a writable disk; the image is never changed.
//! * **PersistentOverlay** (`--drive file=OVERLAY,backing=BASE`, what QEMU does with a qcow2
//!   file that has a backing file): the same, but the overlay is a file that stays, in the
//!   format below, and a FLUSH makes it durable. The base is opened read-only and never changes;
//!   many overlays can share one base.
//!
//! ## Overlays: copy-on-write
//!
//! The disk is cut into 4 KiB blocks ([`BLOCK_SIZE`]; the last block is shorter when the
//! image's size is not a multiple of 4 KiB). An overlay is a second store with room for every
//! block, plus a bitmap saying which blocks it holds. A read takes each block from the overlay
//! if it holds it, else from the base. A write puts its bytes into the overlay; a block that is
//! only partly written and not yet in the overlay is first copied whole from the base ("copy on
//! write"), so the overlay only ever holds whole, current blocks.
//!
//! The overlay's store is an anonymous temporary file: created in the temporary directory
//! (`TMPDIR`) and unlinked at once, so nothing is left behind even if armvex is killed, and
//! sparse, so blocks never written take no host disk space.
//!
//! ## The overlay file format (PersistentOverlay)
//!
//! ```text
//!  offset 0      header, 4 KiB:  "ARMVXOVL"  version (le32 = 1)  block size (le32 = 4096)
//!                                disk length (le64)  base length (le64)  base hash (le128,
//!                                xxh3-128 of the base's bytes)
//!  offset 4096   bitmap: bit b (byte b/8, bit b%8) set = the overlay holds block b;
//!                padded to a multiple of 4 KiB
//!  data offset   block b at data offset + b * 4096 (a sparse file: blocks never written
//!                take no space)
//! ```
//!
//! A write puts the block's bytes in place first and sets its bit after; a FLUSH
//! (`fdatasync`) makes both durable. After a crash, a block whose bit did not reach the disk
//! reads as the base, as if the unflushed write had not happened: the guest's file system
//! recovers from that as from any unflushed write. Opening an overlay checks the base's length
//! and hash against the header: an overlay over a base that has changed since is refused, as
//! its blocks would no longer fit around the base's.
//!
//! ## Undo logs
//!
//! Reverse execution keeps checkpoints of the machine and must put the disk back as it was at
//! each of them, like RAM (`armvex_bus::memory::RamUndo`, the same pattern). Copying the disk
//! at every checkpoint would cost gigabytes; instead, between [`DiskImage::start_undo`] and
//! [`DiskImage::take_undo`], the first write to each block saves what the block held before
//! ([`DiskUndo`]). Applying the undo logs of the intervals since a checkpoint, newest first,
//! gives back the disk as it was at that checkpoint. With an overlay, a block the overlay did not
//! hold yet is logged as just that ("not in the overlay"): undoing drops it from the overlay
//! again, so its old contents (the base's) need not be copied into memory.
//!
//! ## Snapshots
//!
//! A snapshot of a machine whose disk has a TemporaryOverlay need not copy the whole disk. It
//! records which base it was made over ([`BaseIdentity`]: the path as given, the length, and a
//! hash of the contents) and the blocks the overlay holds ([`DiskImage::overlay_blocks`]).
//! Resuming opens the same base with a new overlay, checks the identity, and seeds the overlay
//! ([`DiskImage::load_overlay_block`]). A snapshot that carries a whole disk resumes on a
//! [`DiskImage::temporary`] disk, which has no base and reads zeros until blocks are loaded.
//!
//! ## Errors
//!
//! Host I/O errors and accesses past the end of the disk are `std::io::Error`s: the block
//! device turns them into an IOERR status for the guest. A disk never grows: nothing is ever
//! written past its end.

use crate::error::{DiskError, LockError};
use serde::{Deserialize, Serialize};
use std::cell::RefCell;
use std::collections::HashSet;
use std::fs::{File, OpenOptions};
use std::io::{self, ErrorKind, Seek, SeekFrom};
use std::os::unix::fs::{FileExt, OpenOptionsExt};
use std::path::{Path, PathBuf};
use std::rc::Rc;

/// The unit of overlays and undo logs: 4 KiB, the page size of guest RAM too.
pub const BLOCK_SIZE: u64 = 4096;

/// A disk image shared between its block device and the machine (which saves and rewinds it).
/// Everything runs on one thread; nobody holds a borrow across a guest access.
pub type SharedDisk = Rc<RefCell<DiskImage>>;

/// How a drive uses its image file (see the module docs).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum DiskMode {
    /// Opened read-only; writes are refused.
    ReadOnly,
    /// Writes go into the image file.
    InPlace,
    /// The image is a read-only base under a throwaway overlay (QEMU's `snapshot=on`).
    TemporaryOverlay,
    /// The image is an overlay file (the format in the module docs) over a read-only base.
    PersistentOverlay,
}

/// Which base a disk's contents start from: recorded in a snapshot so that resuming can check
/// it is given the same base again.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct BaseIdentity {
    /// The image's path as given on the command line; `None` for a [`DiskImage::temporary`]
    /// disk, whose base is all zeros.
    #[serde(with = "os_path")]
    pub path: Option<PathBuf>,
    /// Length in bytes.
    pub len: u64,
    /// xxh3-128 of the base's contents.
    pub hash: u128,
}

impl std::fmt::Display for BaseIdentity {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match &self.path {
            Some(p) => write!(f, "{}", p.display())?,
            None => f.write_str("a temporary disk")?,
        }
        write!(f, " ({} bytes, xxh3-128 {:032x})", self.len, self.hash)
    }
}

/// Paths as their raw bytes, so that any Unix path (not only UTF-8 ones) can be saved.
mod os_path {
    use serde::{Deserialize, Deserializer, Serialize, Serializer};
    use std::ffi::OsString;
    use std::os::unix::ffi::{OsStrExt, OsStringExt};
    use std::path::PathBuf;

    pub fn serialize<S: Serializer>(path: &Option<PathBuf>, s: S) -> Result<S::Ok, S::Error> {
        path.as_ref().map(|p| p.as_os_str().as_bytes()).serialize(s)
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Option<PathBuf>, D::Error> {
        let bytes: Option<Vec<u8>> = Option::deserialize(d)?;
        Ok(bytes.map(|b| PathBuf::from(OsString::from_vec(b))))
    }
}

/// One bit per block.
#[derive(Clone, Debug)]
struct BlockSet {
    bits: Vec<u64>,
}

impl BlockSet {
    fn new(blocks: u64) -> io::Result<BlockSet> {
        let words = usize::try_from(blocks.div_ceil(64))
            .map_err(|_| io::Error::new(ErrorKind::OutOfMemory, "disk too large for this host"))?;
        Ok(BlockSet { bits: vec![0; words] })
    }

    fn contains(&self, block: u64) -> bool {
        self.bits[(block / 64) as usize] & (1 << (block % 64)) != 0
    }

    fn insert(&mut self, block: u64) {
        self.bits[(block / 64) as usize] |= 1 << (block % 64);
    }

    fn remove(&mut self, block: u64) {
        self.bits[(block / 64) as usize] &= !(1 << (block % 64));
    }

    /// The blocks in the set, in increasing order.
    fn iter(&self) -> impl Iterator<Item = u64> + '_ {
        self.bits.iter().enumerate().flat_map(|(w, &word)| {
            (0..64)
                .filter(move |b| word & (1 << b) != 0)
                .map(move |b| w as u64 * 64 + b)
        })
    }

    fn count(&self) -> u64 {
        self.bits.iter().map(|w| u64::from(w.count_ones())).sum()
    }
}

/// A store of blocks over a base: throwaway, or an overlay file that stays.
struct Overlay {
    /// Sparse: block `b` sits at `data_offset + b * BLOCK_SIZE`. For a throwaway overlay an
    /// anonymous file of the disk's length.
    file: File,
    /// Blocks the overlay holds.
    present: BlockSet,
    /// Where block 0 sits in `file`: 0 for a throwaway overlay; after the header and bitmap
    /// for an overlay file, whose bitmap is kept up to date on disk as blocks come and go.
    data_offset: u64,
    persistent: bool,
}

/// The overlay file format (module docs).
mod overlay_file {
    pub const MAGIC: &[u8; 8] = b"ARMVXOVL";
    pub const VERSION: u32 = 1;
    pub const HEADER_LEN: u64 = 4096;
    /// Where the bitmap starts.
    pub const BITMAP: u64 = HEADER_LEN;

    /// Where block 0's data starts for a disk of `blocks` blocks.
    pub fn data_offset(blocks: u64) -> u64 {
        BITMAP + blocks.div_ceil(8).div_ceil(4096) * 4096
    }
}

/// Where the bytes are.
enum Storage {
    /// ReadOnly and InPlace: the image file itself.
    Direct(File),
    /// TemporaryOverlay: the overlay's blocks over the base's (`None`: all zeros).
    Overlaid { base: Option<File>, overlay: Overlay },
}

/// What a block held before the first write of an interval.
enum OldBlock {
    /// Its bytes (a whole block; shorter for the last block of the disk).
    Contents(Box<[u8]>),
    /// The overlay did not hold it: it read as the base.
    NotInOverlay,
}

impl OldBlock {
    /// Host memory used by one log entry, in bytes.
    fn bytes(&self) -> usize {
        std::mem::size_of::<(u64, OldBlock)>()
            + match self {
                OldBlock::Contents(data) => data.len(),
                OldBlock::NotInOverlay => 0,
            }
    }
}

/// The undo log being filled.
struct UndoLog {
    /// Blocks already saved in this interval. A set of the blocks written rather than a
    /// bitmap of the whole disk: intervals are short and disks large.
    saved: HashSet<u64>,
    blocks: Vec<(u64, OldBlock)>,
}

/// What the blocks written during one interval held when it began (see the module docs):
/// applying it with [`DiskImage::apply_undo`] puts them back.
#[derive(Default)]
pub struct DiskUndo {
    /// In the order the blocks were first written.
    blocks: Vec<(u64, OldBlock)>,
}

impl DiskUndo {
    /// Number of blocks saved.
    pub fn len(&self) -> usize {
        self.blocks.len()
    }

    /// True if no block was written.
    pub fn is_empty(&self) -> bool {
        self.blocks.is_empty()
    }

    /// Host memory used, in bytes.
    pub fn bytes(&self) -> usize {
        self.blocks.iter().map(|(_, old)| old.bytes()).sum()
    }

    /// The block numbers saved.
    pub fn block_numbers(&self) -> impl Iterator<Item = u64> + '_ {
        self.blocks.iter().map(|(b, _)| *b)
    }

    /// Merge the undo log of the interval just *before* this one into this one, so the result
    /// undoes both intervals: where both saved a block, the older contents win.
    pub fn absorb_older(&mut self, older: DiskUndo) {
        let mut by_block: std::collections::HashMap<u64, usize> =
            self.blocks.iter().enumerate().map(|(i, (b, _))| (*b, i)).collect();
        for (block, old) in older.blocks {
            match by_block.get(&block) {
                Some(&i) => self.blocks[i].1 = old,
                None => {
                    by_block.insert(block, self.blocks.len());
                    self.blocks.push((block, old));
                }
            }
        }
    }
}

/// One drive's image (see the module docs).
pub struct DiskImage {
    /// The image file's path as given; `None` for a temporary disk.
    path: Option<PathBuf>,
    mode: DiskMode,
    /// Length in bytes.
    len: u64,
    storage: Storage,
    undo: Option<UndoLog>,
    /// [`DiskImage::base_identity`], once computed (forgotten when an in-place write changes it).
    identity: Option<BaseIdentity>,
    /// Unit tests only: fail every host access with this error, as a full or failing host
    /// disk would (ENOSPC, EIO), to test what the block device makes of it.
    #[cfg(test)]
    pub(crate) inject_error: Option<ErrorKind>,
}

impl DiskImage {
    /// Open the image at `path`. ReadOnly and TemporaryOverlay open it read-only, never for
    /// writing; TemporaryOverlay also creates the overlay. Fails with a one-line message if the
    /// file cannot be opened or sized, or is a directory.
    pub fn open(path: &Path, mode: DiskMode) -> Result<DiskImage, DiskError> {
        let shown = format!("disk image {}", path.display());
        let host = |doing: &'static str| {
            let file = shown.clone();
            move |source| DiskError::Host { doing, file, source }
        };
        let unusable = |problem: &str| DiskError::Unusable {
            file: shown.clone(),
            problem: problem.to_string(),
        };
        // Look before opening: opening a FIFO would wait for a writer, and a character
        // device such as /dev/null or /dev/zero is no disk.
        let kind = std::fs::metadata(path).map_err(host("cannot open"))?;
        let kind = kind.file_type();
        use std::os::unix::fs::FileTypeExt;
        let not_a_disk = if kind.is_fifo() {
            Some("a FIFO")
        } else if kind.is_char_device() {
            Some("a character device")
        } else if kind.is_socket() {
            Some("a socket")
        } else {
            None
        };
        if let Some(what) = not_a_disk {
            return Err(unusable(&format!("is {what}, not a disk image")));
        }
        let mut file = OpenOptions::new()
            .read(true)
            .write(mode == DiskMode::InPlace)
            .open(path)
            .map_err(host("cannot open"))?;
        let meta = file.metadata().map_err(host("cannot examine"))?;
        if meta.is_dir() {
            return Err(unusable("is a directory"));
        }
        // Seeking to the end also sizes block devices, whose metadata length is 0.
        let len = file
            .seek(SeekFrom::End(0))
            .map_err(host("cannot determine the size of"))?;
        if len == 0 {
            return Err(unusable("is empty (a disk needs at least one 512-byte sector)"));
        }
        lock_image(&file, mode == DiskMode::InPlace).map_err(|error| DiskError::Lock {
            file: shown.clone(),
            error,
        })?;
        let storage = match mode {
            DiskMode::PersistentOverlay => return Err(DiskError::OverlayNeedsBase { file: shown }),
            DiskMode::ReadOnly | DiskMode::InPlace => Storage::Direct(file),
            DiskMode::TemporaryOverlay => Storage::Overlaid {
                base: Some(file),
                overlay: Overlay::new(len).map_err(host("cannot create the temporary overlay of"))?,
            },
        };
        Ok(DiskImage {
            path: Some(path.to_path_buf()),
            mode,
            len,
            storage,
            undo: None,
            identity: None,
            #[cfg(test)]
            inject_error: None,
        })
    }

    /// The disk of an overlay file `overlay` over the base image `base` (PersistentOverlay,
    /// `--drive file=OVERLAY,backing=BASE`): the base opened read-only (and never written),
    /// the overlay file created in the format of the module docs if it does not exist or is
    /// empty, else checked against the base. Fails with a one-line message.
    pub fn open_persistent(overlay: &Path, base: &Path) -> Result<DiskImage, DiskError> {
        // The base as a read-only drive first: the same checks, and a shared lock.
        let mut base_disk = DiskImage::open(base, DiskMode::ReadOnly)?;
        let identity = base_disk.base_identity().map_err(|source| DiskError::Host {
            doing: "cannot read",
            file: format!("the base image {}", base.display()),
            source,
        })?;
        let len = base_disk.len;
        let Storage::Direct(base_file) = base_disk.storage else {
            return Err(DiskError::Unusable {
                file: format!("base image {}", base.display()),
                problem: "has no file".into(),
            });
        };
        let shown = format!("overlay {}", overlay.display());
        let host = |doing: &'static str| {
            let file = shown.clone();
            move |source| DiskError::Host { doing, file, source }
        };
        let file = OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(false)
            .open(overlay)
            .map_err(host("cannot open"))?;
        if !file.metadata().map_err(host("cannot examine"))?.is_file() {
            return Err(DiskError::Unusable {
                file: shown,
                problem: "is not a regular file".into(),
            });
        }
        lock_image(&file, true).map_err(|error| DiskError::Lock {
            file: shown.clone(),
            error,
        })?;
        let overlay_store =
            Overlay::open_file(file, &identity).map_err(|problem| DiskError::Overlay { file: shown, problem })?;
        Ok(DiskImage {
            path: Some(overlay.to_path_buf()),
            mode: DiskMode::PersistentOverlay,
            len,
            storage: Storage::Overlaid {
                base: Some(base_file),
                overlay: overlay_store,
            },
            undo: None,
            identity: None,
            #[cfg(test)]
            inject_error: None,
        })
    }

    /// A disk of `len` bytes with no base file: it reads zeros until written, and its writes go
    /// to a throwaway overlay (mode TemporaryOverlay). For resuming snapshots that carry a
    /// whole disk.
    pub fn temporary(len: u64) -> Result<DiskImage, DiskError> {
        let overlay = Overlay::new(len).map_err(|source| DiskError::Host {
            doing: "cannot create",
            file: format!("a temporary disk of {len} bytes"),
            source,
        })?;
        Ok(DiskImage {
            path: None,
            mode: DiskMode::TemporaryOverlay,
            len,
            storage: Storage::Overlaid { base: None, overlay },
            undo: None,
            identity: None,
            #[cfg(test)]
            inject_error: None,
        })
    }

    /// The image file's path as given (`None` for a temporary disk).
    pub fn path(&self) -> Option<&Path> {
        self.path.as_deref()
    }

    /// The path for messages, or "temporary disk".
    pub fn describe(&self) -> String {
        match &self.path {
            Some(p) => p.display().to_string(),
            None => "temporary disk".to_string(),
        }
    }

    /// How the image file is used.
    pub fn mode(&self) -> DiskMode {
        self.mode
    }

    /// Length in bytes.
    pub fn len(&self) -> u64 {
        self.len
    }

    /// True for a disk of no bytes.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// Number of blocks, the last one possibly shorter than [`BLOCK_SIZE`].
    pub fn block_count(&self) -> u64 {
        self.len.div_ceil(BLOCK_SIZE)
    }

    /// Length of block `block` (which must exist).
    fn block_len(&self, block: u64) -> usize {
        (self.len - block * BLOCK_SIZE).min(BLOCK_SIZE) as usize
    }

    /// The end of `len` bytes at `offset`, if they lie within the disk.
    fn check_range(&self, offset: u64, len: usize, what: &str) -> io::Result<u64> {
        match offset.checked_add(len as u64) {
            Some(end) if end <= self.len => Ok(end),
            _ => Err(io::Error::new(
                ErrorKind::InvalidInput,
                format!(
                    "{what} of {len} bytes at offset {offset} reaches past the end of {} ({} bytes)",
                    self.describe(),
                    self.len
                ),
            )),
        }
    }

    /// Read `buf.len()` bytes at `offset`, which must lie within the disk.
    pub fn read_at(&self, offset: u64, buf: &mut [u8]) -> io::Result<()> {
        let end = self.check_range(offset, buf.len(), "read")?;
        self.injected_error()?;
        match &self.storage {
            Storage::Direct(file) => file.read_exact_at(buf, offset),
            Storage::Overlaid { base, overlay } => {
                // Runs of consecutive blocks from the same place, one host read each.
                let mut pos = offset;
                while pos < end {
                    let in_overlay = overlay.present.contains(pos / BLOCK_SIZE);
                    let mut run_end = pos;
                    while run_end < end && overlay.present.contains(run_end / BLOCK_SIZE) == in_overlay {
                        run_end = ((run_end / BLOCK_SIZE + 1) * BLOCK_SIZE).min(end);
                    }
                    let part = &mut buf[(pos - offset) as usize..(run_end - offset) as usize];
                    match (in_overlay, base) {
                        (true, _) => overlay.read_at(part, pos)?,
                        (false, Some(base)) => base.read_exact_at(part, pos)?,
                        (false, None) => part.fill(0),
                    }
                    pos = run_end;
                }
                Ok(())
            }
        }
    }

    /// Write `data` at `offset`, which must lie within the disk (a disk never grows). Refused
    /// on a read-only disk.
    pub fn write_at(&mut self, offset: u64, data: &[u8]) -> io::Result<()> {
        if self.mode == DiskMode::ReadOnly {
            return Err(io::Error::new(
                ErrorKind::PermissionDenied,
                format!("{} is a read-only disk", self.describe()),
            ));
        }
        let end = self.check_range(offset, data.len(), "write")?;
        if data.is_empty() {
            return Ok(());
        }
        self.injected_error()?;
        let (first, last) = (offset / BLOCK_SIZE, (end - 1) / BLOCK_SIZE);
        self.save_old_blocks(first, last)?;
        let len = self.len;
        match &mut self.storage {
            Storage::Direct(file) => {
                self.identity = None;
                file.write_all_at(data, offset)
            }
            Storage::Overlaid { base, overlay } => {
                // Copy on write: the partly written blocks at either end come from the base
                // first, unless the overlay holds them already.
                for block in [first, last] {
                    let start = block * BLOCK_SIZE;
                    let block_end = (start + BLOCK_SIZE).min(len);
                    let whole = offset <= start && end >= block_end;
                    if !whole && !overlay.present.contains(block) {
                        let mut old = vec![0; (block_end - start) as usize];
                        if let Some(base) = base {
                            base.read_exact_at(&mut old, start)?;
                        }
                        overlay.write_at(&old, start)?;
                        overlay.mark(block, true)?;
                    }
                }
                overlay.write_at(data, offset)?;
                (first..=last).try_for_each(|b| overlay.mark(b, true))
            }
        }
    }

    /// Make completed writes durable: for an in-place image, `fdatasync` of the file (virtio
    /// 1.2 §5.2.6.4). Nothing to do for the other modes (an overlay is thrown away anyway).
    pub fn flush(&mut self) -> io::Result<()> {
        self.injected_error()?;
        match (&self.storage, self.mode) {
            (Storage::Direct(file), DiskMode::InPlace) => file.sync_data(),
            (Storage::Overlaid { overlay, .. }, DiskMode::PersistentOverlay) => overlay.file.sync_data(),
            _ => Ok(()),
        }
    }

    /// The error a unit test injected ([`DiskImage::inject_error`]); never fails otherwise.
    #[inline]
    fn injected_error(&self) -> io::Result<()> {
        #[cfg(test)]
        if let Some(kind) = self.inject_error {
            return Err(io::Error::from(kind));
        }
        Ok(())
    }

    /// With an undo log running: save what blocks `first..=last` hold before their first write
    /// of the interval.
    fn save_old_blocks(&mut self, first: u64, last: u64) -> io::Result<()> {
        let Some(mut log) = self.undo.take() else {
            return Ok(());
        };
        let mut result = Ok(());
        for block in first..=last {
            if log.saved.contains(&block) {
                continue;
            }
            match self.old_block(block) {
                Ok(old) => {
                    log.saved.insert(block);
                    log.blocks.push((block, old));
                }
                Err(e) => {
                    result = Err(e);
                    break;
                }
            }
        }
        self.undo = Some(log);
        result
    }

    /// What block `block` holds now, as an undo log keeps it.
    fn old_block(&self, block: u64) -> io::Result<OldBlock> {
        let start = block * BLOCK_SIZE;
        let mut data = vec![0; self.block_len(block)].into_boxed_slice();
        match &self.storage {
            Storage::Direct(file) => file.read_exact_at(&mut data, start)?,
            Storage::Overlaid { overlay, .. } => {
                if !overlay.present.contains(block) {
                    return Ok(OldBlock::NotInOverlay);
                }
                overlay.read_at(&mut data, start)?;
            }
        }
        Ok(OldBlock::Contents(data))
    }

    /// Start saving the old contents of blocks before their first write (module docs). A log
    /// already running is dropped.
    pub fn start_undo(&mut self) {
        self.undo = Some(UndoLog {
            saved: HashSet::new(),
            blocks: Vec::new(),
        });
    }

    /// Stop saving old contents and drop the log being filled.
    pub fn stop_undo(&mut self) {
        self.undo = None;
    }

    /// True while an undo log is being filled.
    pub fn undo_enabled(&self) -> bool {
        self.undo.is_some()
    }

    /// The undo log of the interval since the last [`DiskImage::start_undo`] or `take_undo`;
    /// a new, empty log starts at once. Empty if no log was being filled.
    pub fn take_undo(&mut self) -> DiskUndo {
        match self.undo.as_mut() {
            Some(log) => {
                log.saved.clear();
                DiskUndo {
                    blocks: std::mem::take(&mut log.blocks),
                }
            }
            None => DiskUndo::default(),
        }
    }

    /// Host memory held by the log being filled, in bytes.
    pub fn undo_bytes(&self) -> usize {
        self.undo
            .as_ref()
            .map_or(0, |log| log.blocks.iter().map(|(_, old)| old.bytes()).sum())
    }

    /// Put back what an undo log holds (newest log first when going back over several). This
    /// is not itself logged, and the log being filled is not told: the caller takes it first.
    pub fn apply_undo(&mut self, undo: &DiskUndo) -> io::Result<()> {
        // Check the whole log first, so that a log of another disk changes nothing.
        let overlaid = matches!(self.storage, Storage::Overlaid { .. });
        for (block, old) in &undo.blocks {
            let problem = if *block >= self.block_count() {
                Some(format!("block {block} is past the end"))
            } else {
                match old {
                    OldBlock::Contents(data) if data.len() != self.block_len(*block) => Some(format!(
                        "block {block} has {} bytes, not {}",
                        data.len(),
                        self.block_len(*block)
                    )),
                    OldBlock::Contents(_) if self.mode == DiskMode::ReadOnly => {
                        Some("a read-only disk has nothing to undo".to_string())
                    }
                    OldBlock::NotInOverlay if !overlaid => Some("it was taken from a disk with an overlay".to_string()),
                    _ => None,
                }
            };
            if let Some(problem) = problem {
                return Err(io::Error::new(
                    ErrorKind::InvalidInput,
                    format!("undo log does not fit {}: {problem}", self.describe()),
                ));
            }
        }
        if self.mode == DiskMode::InPlace && !undo.is_empty() {
            self.identity = None;
        }
        for (block, old) in &undo.blocks {
            let start = block * BLOCK_SIZE;
            match (old, &mut self.storage) {
                (OldBlock::Contents(data), Storage::Direct(file)) => file.write_all_at(data, start)?,
                (OldBlock::Contents(data), Storage::Overlaid { overlay, .. }) => {
                    overlay.write_at(data, start)?;
                    overlay.mark(*block, true)?;
                }
                (OldBlock::NotInOverlay, Storage::Overlaid { overlay, .. }) => overlay.mark(*block, false)?,
                // Refused by the check above.
                (OldBlock::NotInOverlay, Storage::Direct(_)) => {}
            }
        }
        Ok(())
    }

    /// The identity of the base (module docs): the path as given, the length and the xxh3-128
    /// hash of the contents, which reads the whole base once; the result is kept. The base of a
    /// ReadOnly or TemporaryOverlay disk never changes during a run; an InPlace disk's is its
    /// current contents, hashed again after writes. A temporary disk's base is all zeros.
    pub fn base_identity(&mut self) -> io::Result<BaseIdentity> {
        if let Some(id) = &self.identity {
            return Ok(id.clone());
        }
        let base = match &self.storage {
            Storage::Direct(file) => Some(file),
            Storage::Overlaid { base, .. } => base.as_ref(),
        };
        let mut hasher = xxhash_rust::xxh3::Xxh3Default::new();
        let mut buf = vec![0u8; 1 << 20];
        let mut pos = 0u64;
        while pos < self.len {
            let n = (self.len - pos).min(buf.len() as u64) as usize;
            if let Some(file) = base {
                file.read_exact_at(&mut buf[..n], pos)?;
            }
            hasher.update(&buf[..n]);
            pos += n as u64;
        }
        let id = BaseIdentity {
            path: self.path.clone(),
            len: self.len,
            hash: hasher.digest128(),
        };
        self.identity = Some(id.clone());
        Ok(id)
    }

    /// Number of blocks the overlay holds (0 without an overlay).
    pub fn overlay_block_count(&self) -> u64 {
        match &self.storage {
            Storage::Overlaid { overlay, .. } => overlay.present.count(),
            Storage::Direct(_) => 0,
        }
    }

    /// Every block the overlay holds, in increasing order: (block number, its contents: 4 KiB,
    /// the disk's last block possibly shorter). Nothing without an overlay. Each block is read
    /// from the overlay's file as the iterator reaches it.
    pub fn overlay_blocks(&self) -> impl Iterator<Item = io::Result<(u64, Vec<u8>)>> + '_ {
        let overlay = match &self.storage {
            Storage::Overlaid { overlay, .. } => Some(overlay),
            Storage::Direct(_) => None,
        };
        overlay.into_iter().flat_map(move |o| {
            o.present.iter().map(move |block| {
                let mut data = vec![0; self.block_len(block)];
                o.read_at(&mut data, block * BLOCK_SIZE).map(|()| (block, data))
            })
        })
    }

    /// Put `data` into the overlay as block `block`, as when resuming a snapshot: `data` must
    /// be the whole block. Not logged in an undo log. Only a disk with an overlay takes it.
    pub fn load_overlay_block(&mut self, block: u64, data: &[u8]) -> io::Result<()> {
        if block >= self.block_count() {
            return Err(io::Error::new(
                ErrorKind::InvalidInput,
                format!("block {block} is past the end of {}", self.describe()),
            ));
        }
        let len = self.block_len(block);
        if data.len() != len {
            return Err(io::Error::new(
                ErrorKind::InvalidInput,
                format!(
                    "block {block} of {} has {len} bytes, not {}",
                    self.describe(),
                    data.len()
                ),
            ));
        }
        let Storage::Overlaid { overlay, .. } = &mut self.storage else {
            return Err(io::Error::new(
                ErrorKind::InvalidInput,
                format!("{} has no overlay to load blocks into", self.describe()),
            ));
        };
        overlay.write_at(data, block * BLOCK_SIZE)?;
        overlay.mark(block, true)
    }

    /// The raw descriptor of the image file, for tests that check how it was opened.
    #[cfg(test)]
    pub(crate) fn base_fd(&self) -> Option<std::os::fd::RawFd> {
        use std::os::fd::AsRawFd;
        match &self.storage {
            Storage::Direct(file) => Some(file.as_raw_fd()),
            Storage::Overlaid { base, .. } => base.as_ref().map(|f| f.as_raw_fd()),
        }
    }
}

impl Overlay {
    /// An empty overlay for a disk of `len` bytes.
    fn new(len: u64) -> io::Result<Overlay> {
        let file = anonymous_file()?;
        // Sparse: only blocks written take space.
        file.set_len(len)?;
        Ok(Overlay {
            file,
            present: BlockSet::new(len.div_ceil(BLOCK_SIZE))?,
            data_offset: 0,
            persistent: false,
        })
    }

    /// Open (or, if it is empty, start) the overlay file `file` of a disk over `base`: check its
    /// header against the base's identity and read its bitmap.
    fn open_file(file: File, base: &BaseIdentity) -> Result<Overlay, String> {
        use overlay_file::*;
        let blocks = base.len.div_ceil(BLOCK_SIZE);
        let data_offset = data_offset(blocks);
        let bitmap_len = blocks.div_ceil(8) as usize;
        let mut present = BlockSet::new(blocks).map_err(|e| e.to_string())?;
        let file_len = file.metadata().map_err(|e| e.to_string())?.len();
        if file_len == 0 {
            let mut header = vec![0u8; HEADER_LEN as usize];
            header[0..8].copy_from_slice(MAGIC);
            header[8..12].copy_from_slice(&VERSION.to_le_bytes());
            header[12..16].copy_from_slice(&(BLOCK_SIZE as u32).to_le_bytes());
            header[16..24].copy_from_slice(&base.len.to_le_bytes());
            header[24..32].copy_from_slice(&base.len.to_le_bytes());
            header[32..48].copy_from_slice(&base.hash.to_le_bytes());
            file.write_all_at(&header, 0)
                .map_err(|e| format!("cannot write its header: {e}"))?;
            // Sparse up to the end of the data, so that reads of any block stay inside it.
            file.set_len(data_offset + base.len)
                .map_err(|e| format!("cannot size it: {e}"))?;
            file.sync_all().map_err(|e| format!("cannot sync it: {e}"))?;
        } else {
            let mut header = [0u8; 48];
            file.read_exact_at(&mut header, 0)
                .map_err(|_| format!("not an armvex overlay file ({file_len} bytes, too short)"))?;
            if &header[0..8] != MAGIC {
                return Err("not an armvex overlay file (no ARMVXOVL header)".into());
            }
            let word = |at: usize| u32::from_le_bytes(header[at..at + 4].try_into().expect("4 bytes"));
            let long = |at: usize| u64::from_le_bytes(header[at..at + 8].try_into().expect("8 bytes"));
            if word(8) != VERSION || word(12) != BLOCK_SIZE as u32 {
                return Err(format!(
                    "an overlay file of version {} with {}-byte blocks (this armvex reads version {VERSION}, 4096)",
                    word(8),
                    word(12)
                ));
            }
            let hash = u128::from_le_bytes(header[32..48].try_into().expect("16 bytes"));
            if long(24) != base.len || hash != base.hash || long(16) != base.len {
                return Err(format!(
                    "made over a base of {} bytes with xxh3-128 {hash:032x}, but {} has changed since: refusing (the overlay's blocks would no longer fit the base)",
                    long(24),
                    base,
                ));
            }
            if file_len < data_offset + base.len {
                return Err(format!("an overlay file cut short ({file_len} bytes)"));
            }
            let mut bitmap = vec![0u8; bitmap_len];
            file.read_exact_at(&mut bitmap, BITMAP)
                .map_err(|e| format!("cannot read its bitmap: {e}"))?;
            for (i, byte) in bitmap.iter().enumerate() {
                for bit in 0..8 {
                    let block = i as u64 * 8 + bit;
                    if byte & (1 << bit) != 0 && block < blocks {
                        present.insert(block);
                    }
                }
            }
        }
        Ok(Overlay {
            file,
            present,
            data_offset,
            persistent: true,
        })
    }

    fn read_at(&self, buf: &mut [u8], pos: u64) -> io::Result<()> {
        self.file.read_exact_at(buf, self.data_offset + pos)
    }

    fn write_at(&self, data: &[u8], pos: u64) -> io::Result<()> {
        self.file.write_all_at(data, self.data_offset + pos)
    }

    /// Record that the overlay holds `block` (or no longer does); an overlay file's bitmap
    /// byte is written at once (made durable by the next flush).
    fn mark(&mut self, block: u64, held: bool) -> io::Result<()> {
        if held {
            self.present.insert(block);
        } else {
            self.present.remove(block);
        }
        if self.persistent {
            let byte = (self.present.bits[(block / 64) as usize] >> (block % 64 / 8 * 8)) as u8;
            self.file.write_all_at(&[byte], overlay_file::BITMAP + block / 8)?;
        }
        Ok(())
    }
}

/// Lock an image file for as long as it is open, so that two users cannot write one disk
/// at once (two armvex processes, or `--drive file=x --drive file=x`, or armvex and QEMU,
/// which takes the same kind of locks): a drive written in place takes an exclusive lock, a
/// read-only one or the base of an overlay a shared lock. These are open-file-description
/// locks (`fcntl(F_OFD_SETLK)`), which belong to the open file, not the process: a second open
/// in the same process conflicts too, and closing the file releases them. A file system that
/// has no locks (some network ones) is used without them, as QEMU does.
fn lock_image(file: &File, exclusive: bool) -> Result<(), LockError> {
    use std::os::fd::AsRawFd;
    // SAFETY: flock is plain data; all-zero is a valid value before we fill it in.
    let mut lock: libc::flock = unsafe { std::mem::zeroed() };
    lock.l_type = if exclusive { libc::F_WRLCK } else { libc::F_RDLCK } as libc::c_short;
    lock.l_whence = libc::SEEK_SET as libc::c_short;
    lock.l_start = 0;
    lock.l_len = 0; // the whole file
    // SAFETY: fcntl on a file descriptor we own, with a pointer to a live flock.
    let r = unsafe { libc::fcntl(file.as_raw_fd(), libc::F_OFD_SETLK, &mut lock) };
    if r == 0 {
        return Ok(());
    }
    let e = io::Error::last_os_error();
    match e.raw_os_error() {
        Some(libc::EAGAIN) | Some(libc::EACCES) => Err(LockError::Busy { write: exclusive }),
        Some(libc::ENOLCK) | Some(libc::EINVAL) | Some(libc::ENOTSUP) => Ok(()),
        _ => Err(LockError::Host(e)),
    }
}

/// A new file in the temporary directory, unlinked at once: it lives as long as the handle.
/// (A dozen lines of std rather than the `tempfile` crate and its dependencies.)
fn anonymous_file() -> io::Result<File> {
    use std::sync::atomic::{AtomicU32, Ordering};
    static COUNTER: AtomicU32 = AtomicU32::new(0);
    let dir = std::env::temp_dir();
    for _ in 0..100 {
        let n = COUNTER.fetch_add(1, Ordering::Relaxed);
        let path = dir.join(format!(".armvex-overlay-{}-{n}", std::process::id()));
        match OpenOptions::new()
            .read(true)
            .write(true)
            .create_new(true)
            .mode(0o600)
            .open(&path)
        {
            Ok(file) => {
                std::fs::remove_file(&path)?;
                return Ok(file);
            }
            Err(e) if e.kind() == ErrorKind::AlreadyExists => continue,
            Err(e) => return Err(io::Error::new(e.kind(), format!("in {}: {e}", dir.display()))),
        }
    }
    Err(io::Error::new(
        ErrorKind::AlreadyExists,
        format!("no free name for a temporary file in {}", dir.display()),
    ))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::{Rng, TempImage};
    use std::collections::BTreeSet;
    use std::os::unix::fs::PermissionsExt;

    /// Ten whole blocks and a short eleventh.
    const LEN: u64 = 10 * BLOCK_SIZE + 1000;

    fn pattern(len: u64) -> Vec<u8> {
        (0..len).map(|i| (i * 13 + i / 4096) as u8).collect()
    }

    fn contents(disk: &DiskImage) -> Vec<u8> {
        let mut all = vec![0; disk.len() as usize];
        disk.read_at(0, &mut all).unwrap();
        all
    }

    fn overlay_set(disk: &DiskImage) -> BTreeSet<u64> {
        disk.overlay_blocks().map(|b| b.unwrap().0).collect()
    }

    /// The access mode of an open descriptor (0 = O_RDONLY, 2 = O_RDWR), from /proc.
    fn access_mode(fd: std::os::fd::RawFd) -> u32 {
        let info = std::fs::read_to_string(format!("/proc/self/fdinfo/{fd}")).unwrap();
        let flags = info.lines().find_map(|l| l.strip_prefix("flags:")).unwrap().trim();
        u32::from_str_radix(flags, 8).unwrap() & 3
    }

    /// Disks of every kind over `base` (an InPlace disk writes the file itself, so it gets a
    /// copy), with a name for messages.
    fn every_kind(base: &TempImage, copy: &TempImage) -> Vec<(&'static str, DiskImage)> {
        vec![
            ("in place", DiskImage::open(&copy.path, DiskMode::InPlace).unwrap()),
            (
                "overlay",
                DiskImage::open(&base.path, DiskMode::TemporaryOverlay).unwrap(),
            ),
            ("temporary", DiskImage::temporary(LEN).unwrap()),
            (
                "overlay file",
                // (The overlay file's name goes when the TempImage does; the disk keeps it open.)
                DiskImage::open_persistent(&TempImage::new("overlay-file", &[]).path, &base.path).unwrap(),
            ),
        ]
    }

    /// Random writes of up to three blocks anywhere, the same on `disk` and `model`. Returns
    /// the blocks written.
    fn random_writes(rng: &mut Rng, disk: &mut DiskImage, model: &mut [u8], count: usize) -> BTreeSet<u64> {
        let mut touched = BTreeSet::new();
        for _ in 0..count {
            let offset = rng.below(LEN);
            let len = rng.below((3 * BLOCK_SIZE).min(LEN - offset)) + 1;
            let data: Vec<u8> = (0..len).map(|_| rng.next() as u8).collect();
            disk.write_at(offset, &data).unwrap();
            model[offset as usize..(offset + len) as usize].copy_from_slice(&data);
            touched.extend(offset / BLOCK_SIZE..=(offset + len - 1) / BLOCK_SIZE);
        }
        touched
    }

    #[test]
    fn undo_logs_give_back_the_exact_old_bytes_over_several_intervals() {
        let original = pattern(LEN);
        let base = TempImage::new("undo-base", &original);
        let copy = TempImage::new("undo-copy", &original);
        for (kind, mut disk) in every_kind(&base, &copy) {
            let mut rng = Rng(0x5eed_0000 + kind.len() as u64);
            let mut model = contents(&disk);
            disk.start_undo();
            let mut checkpoints = Vec::new();
            let mut logs = Vec::new();
            for interval in 0..6 {
                checkpoints.push((model.clone(), overlay_set(&disk)));
                let touched = random_writes(&mut rng, &mut disk, &mut model, 1 + interval);
                let log = disk.take_undo();
                let logged: BTreeSet<u64> = log.block_numbers().collect();
                assert_eq!(logged, touched, "{kind}: the log holds exactly the blocks written");
                logs.push(log);
                assert_eq!(contents(&disk), model, "{kind}");
            }
            assert!(disk.take_undo().is_empty(), "{kind}: a new log starts empty");
            // Back, newest first: every checkpoint comes back byte for byte, and an overlay
            // holds exactly the blocks it held then.
            for (log, (then, blocks)) in logs.iter().zip(&checkpoints).rev() {
                disk.apply_undo(log).unwrap();
                assert_eq!(contents(&disk), *then, "{kind}");
                assert_eq!(overlay_set(&disk), *blocks, "{kind}");
            }
            assert!(
                disk.take_undo().is_empty(),
                "{kind}: applying a log is not itself logged"
            );
            assert_eq!(overlay_set(&disk), BTreeSet::new(), "{kind}");
        }
        assert_eq!(copy.contents(), original, "the in-place image is back as it was");
        assert_eq!(base.contents(), original, "the overlay's base was never written");
    }

    #[test]
    fn merged_undo_logs_undo_both_intervals_with_the_older_contents() {
        let original = pattern(LEN);
        let base = TempImage::new("merge-base", &original);
        let copy = TempImage::new("merge-copy", &original);
        for (kind, mut disk) in every_kind(&base, &copy) {
            let mut rng = Rng(77);
            let start = contents(&disk);
            let mut model = start.clone();
            disk.start_undo();
            // Block 2 is written in both intervals: the merge must keep the older contents.
            disk.write_at(2 * BLOCK_SIZE + 5, b"first").unwrap();
            let a = random_writes(&mut rng, &mut disk, &mut model, 4);
            let mut older = disk.take_undo();
            disk.write_at(2 * BLOCK_SIZE + 100, b"second").unwrap();
            let b = random_writes(&mut rng, &mut disk, &mut model, 4);
            let mut newer = disk.take_undo();
            let merged_blocks: BTreeSet<u64> = a.union(&b).copied().chain([2]).collect();
            // Merging older into newer, or the same logs merged the other way round.
            let bytes = newer.bytes() + older.bytes();
            newer.absorb_older(older);
            assert_eq!(newer.block_numbers().collect::<BTreeSet<_>>(), merged_blocks, "{kind}");
            assert_eq!(newer.len(), merged_blocks.len(), "{kind}: each block once");
            assert!(newer.bytes() <= bytes, "{kind}");
            disk.apply_undo(&newer).unwrap();
            assert_eq!(contents(&disk), start, "{kind}");
            // An empty log merged in changes nothing.
            older = DiskUndo::default();
            older.absorb_older(DiskUndo::default());
            assert!(older.is_empty());
        }
        assert_eq!(copy.contents(), original);
    }

    #[test]
    fn an_overlay_never_changes_or_opens_its_base_for_writing() {
        let original = pattern(LEN);
        let base = TempImage::new("overlay-0444", &original);
        std::fs::set_permissions(&base.path, std::fs::Permissions::from_mode(0o444)).unwrap();
        let mtime = std::fs::metadata(&base.path).unwrap().modified().unwrap();
        let mut disk = DiskImage::open(&base.path, DiskMode::TemporaryOverlay).unwrap();
        assert_eq!(access_mode(disk.base_fd().unwrap()), 0, "base opened O_RDONLY");
        assert_eq!(disk.mode(), DiskMode::TemporaryOverlay);
        assert_eq!(disk.path(), Some(base.path.as_path()));
        let mut model = original.clone();
        random_writes(&mut Rng(3), &mut disk, &mut model, 40);
        disk.write_at(0, &vec![0xee; LEN as usize]).unwrap();
        model.fill(0xee);
        disk.flush().unwrap();
        assert_eq!(contents(&disk), model);
        assert_eq!(disk.overlay_block_count(), disk.block_count());
        drop(disk);
        assert_eq!(base.contents(), original);
        assert_eq!(std::fs::metadata(&base.path).unwrap().modified().unwrap(), mtime);
        // A fresh overlay over the same base starts from the base again.
        let again = DiskImage::open(&base.path, DiskMode::TemporaryOverlay).unwrap();
        assert_eq!(contents(&again), original);
    }

    #[test]
    fn a_read_only_disk_is_opened_read_only_and_refuses_writes() {
        let original = pattern(LEN);
        let image = TempImage::new("read-only-0444", &original);
        std::fs::set_permissions(&image.path, std::fs::Permissions::from_mode(0o444)).unwrap();
        let mtime = std::fs::metadata(&image.path).unwrap().modified().unwrap();
        let mut disk = DiskImage::open(&image.path, DiskMode::ReadOnly).unwrap();
        assert_eq!(access_mode(disk.base_fd().unwrap()), 0, "O_RDONLY");
        let e = disk.write_at(0, b"x").unwrap_err();
        assert_eq!(e.kind(), ErrorKind::PermissionDenied);
        assert!(e.to_string().ends_with("is a read-only disk"), "{e}");
        disk.start_undo();
        assert!(disk.write_at(LEN - 1, b"y").is_err());
        assert!(disk.take_undo().is_empty());
        assert!(disk.load_overlay_block(0, &original[..4096]).is_err());
        assert_eq!(disk.overlay_blocks().count(), 0);
        disk.flush().unwrap();
        assert_eq!(contents(&disk), original);
        assert_eq!(image.contents(), original);
        assert_eq!(std::fs::metadata(&image.path).unwrap().modified().unwrap(), mtime);
        // In place: opened for writing (the only mode that is).
        let copy = TempImage::new("in-place", &original);
        let disk = DiskImage::open(&copy.path, DiskMode::InPlace).unwrap();
        assert_eq!(access_mode(disk.base_fd().unwrap()), 2, "O_RDWR");
    }

    #[test]
    fn the_overlay_file_is_unlinked_at_once() {
        let base = TempImage::new("unlinked", &pattern(LEN));
        let disk = DiskImage::open(&base.path, DiskMode::TemporaryOverlay).unwrap();
        let Storage::Overlaid { overlay, .. } = &disk.storage else {
            panic!("an overlay disk has an overlay");
        };
        use std::os::fd::AsRawFd;
        let target = std::fs::read_link(format!("/proc/self/fd/{}", overlay.file.as_raw_fd())).unwrap();
        let target = target.to_string_lossy();
        assert!(target.ends_with(" (deleted)"), "{target}");
        assert_eq!(overlay.file.metadata().unwrap().len(), LEN, "room for every block");
    }

    #[test]
    fn reads_see_the_overlay_over_the_base_at_sub_block_offsets() {
        let original = pattern(LEN);
        let base = TempImage::new("sub-block", &original);
        let mut disk = DiskImage::open(&base.path, DiskMode::TemporaryOverlay).unwrap();
        let mut model = original.clone();
        // Straddling blocks 0 and 1; one byte in the middle of block 4; the very last byte
        // (block 10, 1000 bytes long); all of block 7.
        for (offset, data) in [
            (4090u64, vec![0xa1; 10]),
            (4 * BLOCK_SIZE + 1234, vec![0xb2]),
            (LEN - 1, vec![0xc3]),
            (7 * BLOCK_SIZE, vec![0xd4; BLOCK_SIZE as usize]),
        ] {
            disk.write_at(offset, &data).unwrap();
            model[offset as usize..offset as usize + data.len()].copy_from_slice(&data);
        }
        assert_eq!(overlay_set(&disk), BTreeSet::from([0, 1, 4, 7, 10]));
        let blocks: Vec<(u64, Vec<u8>)> = disk.overlay_blocks().map(Result::unwrap).collect();
        assert_eq!(blocks.last().unwrap().1.len(), 1000, "the short last block");
        for (block, data) in &blocks {
            let start = (block * BLOCK_SIZE) as usize;
            assert_eq!(*data, model[start..start + data.len()], "block {block}");
        }
        // Every read of a few lengths at many offsets, across overlay/base boundaries.
        for len in [1usize, 7, 512, 4096, 4097, 3 * 4096 + 11] {
            for offset in (0..LEN - len as u64).step_by(509) {
                let mut buf = vec![0; len];
                disk.read_at(offset, &mut buf).unwrap();
                assert_eq!(buf, model[offset as usize..offset as usize + len], "{len} at {offset}");
            }
        }
        assert_eq!(contents(&disk), model);
        assert_eq!(base.contents(), original);
    }

    #[test]
    fn overlay_blocks_seed_a_new_overlay_or_a_temporary_disk() {
        let original = pattern(LEN);
        let base = TempImage::new("seed", &original);
        let mut disk = DiskImage::open(&base.path, DiskMode::TemporaryOverlay).unwrap();
        let mut model = original.clone();
        random_writes(&mut Rng(11), &mut disk, &mut model, 12);
        // Resuming over the same base: the overlay's blocks are enough.
        let mut resumed = DiskImage::open(&base.path, DiskMode::TemporaryOverlay).unwrap();
        for block in disk.overlay_blocks() {
            let (index, data) = block.unwrap();
            resumed.load_overlay_block(index, &data).unwrap();
        }
        assert_eq!(contents(&resumed), model);
        assert_eq!(overlay_set(&resumed), overlay_set(&disk));
        // Resuming a snapshot that carries the whole disk: a temporary disk, every block.
        let mut whole = DiskImage::temporary(LEN).unwrap();
        for block in 0..whole.block_count() {
            let start = (block * BLOCK_SIZE) as usize;
            let end = (start + BLOCK_SIZE as usize).min(LEN as usize);
            whole.load_overlay_block(block, &model[start..end]).unwrap();
        }
        assert_eq!(contents(&whole), model);
        // Blocks that do not fit.
        let e = whole.load_overlay_block(11, &[0; 4096]).unwrap_err();
        assert!(e.to_string().contains("past the end"), "{e}");
        let e = whole.load_overlay_block(10, &[0; 4096]).unwrap_err();
        assert!(e.to_string().contains("has 1000 bytes, not 4096"), "{e}");
        let in_place_copy = TempImage::new("seed-in-place", &original);
        let mut in_place = DiskImage::open(&in_place_copy.path, DiskMode::InPlace).unwrap();
        assert!(in_place.load_overlay_block(0, &[0; 4096]).is_err());
        assert_eq!(in_place.overlay_blocks().count(), 0);
    }

    #[test]
    fn a_temporary_disk_reads_zeros_until_written() {
        let mut disk = DiskImage::temporary(LEN).unwrap();
        assert_eq!(
            (disk.path(), disk.mode(), disk.len()),
            (None, DiskMode::TemporaryOverlay, LEN)
        );
        assert_eq!(contents(&disk), vec![0; LEN as usize]);
        disk.write_at(5000, b"hello").unwrap();
        let mut buf = [0xffu8; 12];
        disk.read_at(4998, &mut buf).unwrap();
        assert_eq!(&buf, b"\0\0hello\0\0\0\0\0");
        assert_eq!(overlay_set(&disk), BTreeSet::from([1]));
        let block = disk.overlay_blocks().next().unwrap().unwrap().1;
        assert_eq!(block.iter().filter(|&&b| b != 0).count(), 5, "copied up from zeros");
        assert_eq!(DiskImage::temporary(0).unwrap().block_count(), 0);
    }

    #[test]
    fn base_identity_follows_the_base_contents() {
        let original = pattern(LEN);
        let a = TempImage::new("identity-a", &original);
        let b = TempImage::new("identity-b", &original);
        let id_a = DiskImage::open(&a.path, DiskMode::ReadOnly)
            .unwrap()
            .base_identity()
            .unwrap();
        assert_eq!(id_a.path.as_deref(), Some(a.path.as_path()));
        assert_eq!(id_a.len, LEN);
        assert_eq!(id_a.hash, xxhash_rust::xxh3::xxh3_128(&original));
        let mut overlay_b = DiskImage::open(&b.path, DiskMode::TemporaryOverlay).unwrap();
        let id_b = overlay_b.base_identity().unwrap();
        assert_eq!((id_b.len, id_b.hash), (id_a.len, id_a.hash), "same contents, same hash");
        assert_ne!(id_b, id_a, "another path");
        // Writes to an overlay leave its base, and so its identity, as it was.
        overlay_b.write_at(0, b"changed").unwrap();
        assert_eq!(overlay_b.base_identity().unwrap(), id_b);
        // One byte of the base changed: another hash.
        let mut changed = original.clone();
        changed[LEN as usize - 1] ^= 1;
        std::fs::write(&b.path, &changed).unwrap();
        let id_changed = DiskImage::open(&b.path, DiskMode::ReadOnly)
            .unwrap()
            .base_identity()
            .unwrap();
        assert_ne!(id_changed.hash, id_b.hash);
        // An in-place disk's identity is its current contents.
        let mut in_place = DiskImage::open(&a.path, DiskMode::InPlace).unwrap();
        assert_eq!(in_place.base_identity().unwrap(), id_a);
        in_place.write_at(LEN - 1, &[changed[LEN as usize - 1]]).unwrap();
        assert_eq!(in_place.base_identity().unwrap().hash, id_changed.hash);
        // A temporary disk's base is zeros.
        let id_t = DiskImage::temporary(LEN).unwrap().base_identity().unwrap();
        assert_eq!(id_t.path, None);
        assert_eq!(id_t.hash, xxhash_rust::xxh3::xxh3_128(&vec![0; LEN as usize]));
        // Saved and read back with the snapshot serializer, and shown to the user.
        let bytes = armvex_bus::state::encode(&id_a);
        assert_eq!(armvex_bus::state::decode::<BaseIdentity>(&bytes, "disk").unwrap(), id_a);
        let shown = id_t.to_string();
        assert!(shown.starts_with("a temporary disk (41960 bytes, xxh3-128 "), "{shown}");
    }

    #[test]
    fn accesses_past_the_end_fail_and_never_grow_the_image() {
        let original = pattern(LEN);
        let base = TempImage::new("past-end", &original);
        let copy = TempImage::new("past-end-copy", &original);
        for (kind, mut disk) in every_kind(&base, &copy) {
            disk.start_undo();
            for (offset, len) in [(LEN - 1, 2usize), (LEN, 1), (u64::MAX, 1), (u64::MAX - 2, 8)] {
                let e = disk.write_at(offset, &vec![0x55; len]).unwrap_err();
                assert_eq!(e.kind(), ErrorKind::InvalidInput, "{kind}");
                assert!(e.to_string().contains("reaches past the end"), "{kind}: {e}");
                let mut buf = vec![0; len];
                assert!(disk.read_at(offset, &mut buf).is_err(), "{kind}");
            }
            assert!(disk.take_undo().is_empty(), "{kind}: nothing was logged");
            // Up to the very end is fine, and so is nothing at the end.
            disk.write_at(LEN - 1, &[0x55]).unwrap();
            disk.write_at(LEN, &[]).unwrap();
            disk.read_at(LEN, &mut []).unwrap();
            assert_eq!(disk.overlay_blocks().filter(|b| b.as_ref().unwrap().0 > 10).count(), 0);
        }
        assert_eq!(std::fs::metadata(&copy.path).unwrap().len(), LEN);
        assert_eq!(std::fs::metadata(&base.path).unwrap().len(), LEN);
    }

    #[test]
    fn an_overlay_undo_log_holds_no_copies_of_the_base() {
        let base = TempImage::new("cheap-undo", &pattern(LEN));
        let mut disk = DiskImage::open(&base.path, DiskMode::TemporaryOverlay).unwrap();
        disk.start_undo();
        disk.write_at(0, &vec![1; LEN as usize]).unwrap();
        assert!(disk.undo_bytes() < 11 * 64, "{} bytes", disk.undo_bytes());
        let first = disk.take_undo();
        assert_eq!(first.len(), 11);
        // Blocks the overlay holds are saved whole.
        disk.write_at(100, b"again").unwrap();
        let second = disk.take_undo();
        assert_eq!(second.len(), 1);
        assert!(second.bytes() >= BLOCK_SIZE as usize);
        // A log of an overlay does not fit an in-place disk, and changes nothing there.
        let copy = TempImage::new("cheap-undo-copy", &pattern(LEN));
        let mut in_place = DiskImage::open(&copy.path, DiskMode::InPlace).unwrap();
        let e = in_place.apply_undo(&first).unwrap_err();
        assert!(e.to_string().contains("undo log does not fit"), "{e}");
        assert_eq!(copy.contents(), pattern(LEN));
    }

    #[test]
    fn open_errors_are_one_line_messages() {
        for mode in [DiskMode::ReadOnly, DiskMode::InPlace, DiskMode::TemporaryOverlay] {
            let missing = std::env::temp_dir().join("armvex-disk-no-such-image.img");
            let e = DiskImage::open(&missing, mode).err().unwrap();
            assert!(e.to_string().starts_with("cannot open disk image "), "{e}");
            assert!(!e.to_string().contains('\n'));
            let e = DiskImage::open(&std::env::temp_dir(), mode).err().unwrap();
            assert!(e.to_string().contains("directory"), "{e}");
            let e = DiskImage::open(Path::new("/dev/null"), mode).err().unwrap();
            assert_eq!(
                e.to_string(),
                "disk image /dev/null is a character device, not a disk image"
            );
        }
    }

    #[test]
    fn an_overlay_file_keeps_the_guests_writes_across_openings_and_never_changes_its_base() {
        let original = pattern(LEN);
        let base = TempImage::new("persistent-base", &original);
        let overlay = TempImage::new("persistent-overlay", &[]);
        let mut model = original.clone();
        let mut rng = Rng(7);
        let mut disk = DiskImage::open_persistent(&overlay.path, &base.path).unwrap();
        assert_eq!(disk.mode(), DiskMode::PersistentOverlay);
        assert_eq!(
            access_mode(disk.base_fd().unwrap()),
            libc::O_RDONLY as u32,
            "base opened read-only"
        );
        let written = random_writes(&mut rng, &mut disk, &mut model, 40);
        disk.flush().unwrap();
        drop(disk);
        // A new opening (a new armvex) sees every write, the base is as it was, and only the
        // blocks written are in the overlay.
        let disk = DiskImage::open_persistent(&overlay.path, &base.path).unwrap();
        assert!(contents(&disk) == model, "contents after reopening");
        assert_eq!(overlay_set(&disk), written);
        assert!(base.contents() == original, "the base changed");
        // Sparse: the overlay file takes room for what was written, not for the whole disk.
        let meta = std::fs::metadata(&overlay.path).unwrap();
        use std::os::unix::fs::MetadataExt;
        assert!(
            meta.blocks() * 512 < 4096 * (written.len() as u64 + 8) + 64 * 1024,
            "{} bytes used",
            meta.blocks() * 512
        );
        drop(disk);
        // A base that changed since is refused, in one line; so is a file that is no overlay.
        let mut changed = original.clone();
        changed[LEN as usize / 2] ^= 1;
        std::fs::write(&base.path, &changed).unwrap();
        let e = DiskImage::open_persistent(&overlay.path, &base.path).err().unwrap();
        assert!(e.to_string().contains("has changed since: refusing"), "{e}");
        assert!(!e.to_string().contains('\n'));
        let e = DiskImage::open_persistent(&base.path, &overlay.path).err().unwrap();
        assert!(e.to_string().contains("not an armvex overlay file"), "{e}");
    }

    #[test]
    fn a_fifo_or_an_empty_file_is_refused_without_waiting() {
        let fifo = std::env::temp_dir().join(format!("armvex-disk-fifo-{}", std::process::id()));
        let c = std::ffi::CString::new(fifo.as_os_str().as_encoded_bytes()).unwrap();
        // SAFETY: mkfifo with a valid NUL-terminated path.
        assert_eq!(unsafe { libc::mkfifo(c.as_ptr(), 0o600) }, 0);
        let e = DiskImage::open(&fifo, DiskMode::ReadOnly).err().unwrap();
        let _ = std::fs::remove_file(&fifo);
        assert!(e.to_string().ends_with("is a FIFO, not a disk image"), "{e}");
        let empty = TempImage::new("empty", &[]);
        let e = DiskImage::open(&empty.path, DiskMode::InPlace).err().unwrap();
        assert!(
            e.to_string()
                .ends_with("is empty (a disk needs at least one 512-byte sector)"),
            "{e}"
        );
    }

    #[test]
    fn an_image_written_in_place_is_locked_against_every_other_user() {
        let image = TempImage::new("locks", &pattern(8192));
        let writer = DiskImage::open(&image.path, DiskMode::InPlace).unwrap();
        for mode in [DiskMode::InPlace, DiskMode::ReadOnly, DiskMode::TemporaryOverlay] {
            let e = DiskImage::open(&image.path, mode).err().unwrap();
            assert!(
                e.to_string()
                    .contains("is another armvex or QEMU (or another --drive) using it?"),
                "{mode:?}: {e}"
            );
            assert!(!e.to_string().contains('\n'));
        }
        drop(writer);
        // Readers share: read-only drives and overlays over the same base, but no writer.
        let reader = DiskImage::open(&image.path, DiskMode::ReadOnly).unwrap();
        let overlay = DiskImage::open(&image.path, DiskMode::TemporaryOverlay).unwrap();
        let e = DiskImage::open(&image.path, DiskMode::InPlace).err().unwrap();
        assert!(e.to_string().contains("cannot get its write lock"), "{e}");
        drop((reader, overlay));
        DiskImage::open(&image.path, DiskMode::InPlace).unwrap();
    }
}
