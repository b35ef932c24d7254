//! Drives in a snapshot: keeping each disk as it was at the instant of the snapshot.
//!
//! The run that saves a snapshot goes on afterwards, and goes on writing to its disks. A
//! snapshot must therefore hold, or pin down, every disk's contents *as they were*: the
//! resumed run must see exactly the bytes the saving run saw at that instant. How depends on
//! the drive's mode (`armvex_virtio::DiskMode`):
//!
//! | drive                       | kept in the snapshot as          | resumed on                            |
//! |-----------------------------|----------------------------------|---------------------------------------|
//! | `snapshot=on` (overlay)     | **pin**: the base's identity and every block of the overlay | the base again, under a new overlay seeded with those blocks; a base that changed is refused |
//! | in place, or `backing=` overlay file | **carry**: every non-zero block of the whole disk | a temporary disk seeded with them (the image file goes on changing under the saving run, so only a copy keeps the moment) |
//! | read-only                   | the base's identity              | the same image, read-only, checked unchanged |
//!
//! A disk's *identity* (`armvex_virtio::BaseIdentity`) is its length and an xxh3-128 hash of
//! its contents. The resumed machine writes only into overlays and temporary disks, never into
//! an image file, so one snapshot can be resumed again and again.
//!
//! Each drive is one section: a little postcard-encoded [`DiskRecord`] (which drive, which
//! transport, how it is kept), then a block store (see [`crate::blocks`]) of its blocks.

use crate::SnapshotError;
use crate::blocks::{BLOCK, BlockReader, BlockWriter, is_zero};
use armvex_machine::Machine;
#[cfg(test)]
use armvex_machine::devices::{DriveSpec, PFLASH_SLOTS, SD_SLOT};
use armvex_virtio::{BaseIdentity, DiskImage, DiskMode, SharedDisk};
use serde::{Deserialize, Serialize};
use std::cell::RefCell;
use std::ffi::OsString;
use std::os::unix::ffi::{OsStrExt, OsStringExt};
use std::path::{Path, PathBuf};
use std::rc::Rc;

/// How one drive's disk is kept (see the module docs).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum DiskKind {
    /// An overlay over a base image: the base's identity, where to open it (an absolute path,
    /// as raw bytes), and the overlay's blocks in the block store.
    Pinned { base: BaseIdentity, open: Vec<u8> },
    /// The whole disk's non-zero blocks, in the block store.
    Carried { len: u64 },
    /// A read-only image: its identity and where to open it.
    ReadOnly { base: BaseIdentity, open: Vec<u8> },
}

/// What a disk section says before its blocks.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct DiskRecord {
    /// The drive's index in the machine setup's `drives`.
    pub drive: u32,
    /// The virtio-mmio transport it is attached to.
    pub slot: u32,
    pub kind: DiskKind,
}

/// The transport each drive of `drives` is attached to, given `transports` virtio-mmio
/// transports: explicit slots first, then the lowest free one, in drive order. (This is how
/// `armvex_machine::devices::build` places drives when there is no other device; the machine
/// reports its placement, `Machine::drive_slots`; this stays as the tests' statement of it.)
#[cfg(test)]
fn drive_slots(drives: &[DriveSpec], transports: usize) -> Option<Vec<usize>> {
    let mut used = vec![false; transports];
    let mut slots = vec![usize::MAX; drives.len()];
    for (i, d) in drives.iter().enumerate() {
        if let Some(s) = d.slot.filter(|s| *s == SD_SLOT || PFLASH_SLOTS.contains(s)) {
            // The SD card (`--sd`) and the flashes' images (`--pflash`): in the MMCI's slot
            // and the flashes, not on a transport.
            slots[i] = s;
            continue;
        }
        if let Some(s) = d.slot {
            if s >= transports || used[s] {
                return None;
            }
            used[s] = true;
            slots[i] = s;
        }
    }
    for (i, d) in drives.iter().enumerate() {
        if d.slot.is_none() {
            let s = used.iter().position(|u| !u)?;
            used[s] = true;
            slots[i] = s;
        }
    }
    Some(slots)
}

/// A path as raw bytes, made absolute so that `--loadvm` works from another directory.
fn absolute(path: &Path) -> Vec<u8> {
    let abs = std::fs::canonicalize(path)
        .or_else(|_| std::path::absolute(path))
        .unwrap_or_else(|_| path.to_path_buf());
    abs.as_os_str().as_bytes().to_vec()
}

/// One section payload per drive of `machine`, in the setup's drive order, and the number of
/// blocks saved in all (`name`: the snapshot being written, for messages).
pub fn save_drives(machine: &Machine, name: &str) -> Result<(Vec<Vec<u8>>, u64), SnapshotError> {
    let fail = |reason: String| SnapshotError::Write {
        name: name.to_string(),
        reason,
    };
    let drives = &machine.setup().drives;
    let disks = machine.disks();
    let mismatch = || fail("cannot tell which of the machine's disks belongs to which drive".to_string());
    // The machine says where it put each drive (`--device virtio-blk,slot=` and other
    // devices move them from where drive_slots would put them).
    let slots = machine.drive_slots().to_vec();
    if slots.len() != drives.len() {
        return Err(mismatch());
    }
    if disks.len() != drives.len() {
        return Err(mismatch());
    }
    let mut sections = Vec::new();
    let mut blocks = 0;
    for (i, (drive, slot)) in drives.iter().zip(slots).enumerate() {
        let (_, disk) = disks.iter().find(|(s, _)| *s == slot).ok_or_else(mismatch)?;
        let mut disk = disk.borrow_mut();
        // A disk opened from the drive's file has its path and mode; one resumed from a
        // carried snapshot is a temporary disk with no path.
        if disk.path().is_some_and(|p| p != drive.file) || (disk.path().is_some() && disk.mode() != drive.mode()) {
            return Err(mismatch());
        }
        let (kind, store) = save_disk(&mut disk).map_err(fail)?;
        blocks += store.count();
        let record = DiskRecord {
            drive: i as u32,
            slot: slot as u32,
            kind,
        };
        let record = armvex_bus::state::encode(&record);
        let mut payload = Vec::new();
        payload.extend_from_slice(&(record.len() as u32).to_le_bytes());
        payload.extend_from_slice(&record);
        payload.extend_from_slice(&store.finish());
        sections.push(payload);
    }
    Ok((sections, blocks))
}

/// How to keep `disk`, and its blocks.
fn save_disk(disk: &mut DiskImage) -> Result<(DiskKind, BlockWriter), String> {
    let what = disk.describe();
    let io = |e: std::io::Error| format!("cannot read disk image {what}: {e}");
    let len = disk.len();
    let mut store = BlockWriter::new(len);
    let kind = match (disk.mode(), disk.path().map(Path::to_path_buf)) {
        (DiskMode::TemporaryOverlay, Some(path)) => {
            let base = disk.base_identity().map_err(io)?;
            for block in disk.overlay_blocks() {
                let (i, data) = block.map_err(io)?;
                store.add(i, &data);
            }
            DiskKind::Pinned {
                base,
                open: absolute(&path),
            }
        }
        (DiskMode::TemporaryOverlay, None) => {
            // A temporary disk (resumed from a carried snapshot): zeros but for its overlay.
            for block in disk.overlay_blocks() {
                let (i, data) = block.map_err(io)?;
                if !is_zero(&data) {
                    store.add(i, &data);
                }
            }
            DiskKind::Carried { len }
        }
        // The image file (or the overlay file) goes on changing under the saving run: carry
        // the whole disk as it reads now.
        (DiskMode::InPlace | DiskMode::PersistentOverlay, _) => {
            let mut buf = vec![0u8; 256 * BLOCK as usize];
            let mut pos = 0u64;
            while pos < len {
                let n = (len - pos).min(buf.len() as u64) as usize;
                disk.read_at(pos, &mut buf[..n]).map_err(io)?;
                for (j, data) in buf[..n].chunks(BLOCK as usize).enumerate() {
                    if !is_zero(data) {
                        store.add(pos / BLOCK + j as u64, data);
                    }
                }
                pos += n as u64;
            }
            DiskKind::Carried { len }
        }
        (DiskMode::ReadOnly, Some(path)) => DiskKind::ReadOnly {
            base: disk.base_identity().map_err(io)?,
            open: absolute(&path),
        },
        (DiskMode::ReadOnly, None) => return Err(format!("{what} is read-only but has no image file")),
    };
    Ok((kind, store))
}

/// A disk section read back.
pub struct SavedDisk<'a> {
    pub record: DiskRecord,
    pub blocks: BlockReader<'a>,
}

/// Read a disk section's payload (`name`: the snapshot, for messages).
pub fn parse_disk<'a>(name: &str, payload: &'a [u8]) -> Result<SavedDisk<'a>, SnapshotError> {
    parse_disk_payload(payload).map_err(|e| SnapshotError::Damaged {
        name: name.to_string(),
        what: format!("its disk section: {e}"),
    })
}

/// [`parse_disk`]; the error says what is wrong with the payload.
fn parse_disk_payload(payload: &[u8]) -> Result<SavedDisk<'_>, String> {
    if payload.len() < 4 {
        return Err("it is cut short".into());
    }
    let n = u32::from_le_bytes(payload[..4].try_into().expect("4 bytes")) as usize;
    let record_bytes = payload.get(4..4 + n).ok_or("its record is cut short")?;
    let record: DiskRecord = armvex_bus::state::decode(record_bytes, "a disk")?;
    let (blocks, rest) = BlockReader::parse(&payload[4 + n..]).map_err(|e| format!("its blocks: {e}"))?;
    if !rest.is_empty() {
        return Err(format!("it has {} unexpected trailing bytes", rest.len()));
    }
    let len = match &record.kind {
        DiskKind::Pinned { base, .. } => base.len,
        DiskKind::Carried { len } => *len,
        DiskKind::ReadOnly { base, .. } => {
            if blocks.count() != 0 {
                return Err("it holds blocks of a read-only disk".into());
            }
            base.len
        }
    };
    if blocks.total_len != len {
        return Err(format!(
            "its blocks cover {} bytes of a {len}-byte disk",
            blocks.total_len
        ));
    }
    Ok(SavedDisk { record, blocks })
}

/// Open the disk a section describes, as it was at the snapshot (`name`: the snapshot, for
/// messages). Also gives the image file opened, if any.
pub fn open_disk(name: &str, saved: &SavedDisk) -> Result<(SharedDisk, Option<PathBuf>), SnapshotError> {
    let name_ = || name.to_string();
    let open_checked = |base: &BaseIdentity, open: &[u8], mode: DiskMode| -> Result<DiskImage, SnapshotError> {
        // The path is printed in messages: one with control characters (a damaged file)
        // would break the one-line error.
        if open.iter().any(|b| b.is_ascii_control()) {
            return Err(SnapshotError::Damaged {
                name: name_(),
                what: format!("drive {}'s image path has control characters", saved.record.drive),
            });
        }
        let path = PathBuf::from(OsString::from_vec(open.to_vec()));
        let mut disk =
            DiskImage::open(&path, mode).map_err(|source| SnapshotError::DiskOpen { name: name_(), source })?;
        let now = disk.base_identity().map_err(|source| SnapshotError::DiskRead {
            name: name_(),
            path: path.clone(),
            source,
        })?;
        if now.len != base.len || now.hash != base.hash {
            return Err(SnapshotError::DiskChanged { name: name_(), path });
        }
        Ok(disk)
    };
    let opened = match &saved.record.kind {
        DiskKind::Pinned { open, .. } | DiskKind::ReadOnly { open, .. } => {
            Some(PathBuf::from(OsString::from_vec(open.clone())))
        }
        DiskKind::Carried { .. } => None,
    };
    let mut disk = match &saved.record.kind {
        DiskKind::Pinned { base, open } => open_checked(base, open, DiskMode::TemporaryOverlay)?,
        DiskKind::ReadOnly { base, open } => open_checked(base, open, DiskMode::ReadOnly)?,
        DiskKind::Carried { len } => {
            DiskImage::temporary(*len).map_err(|source| SnapshotError::DiskOpen { name: name_(), source })?
        }
    };
    // Both the store's own errors (a chunk that does not uncompress) and the disk's name
    // the snapshot: every failure of `load` is one line naming the file.
    saved
        .blocks
        .for_each(|i, data| {
            disk.load_overlay_block(i, data)
                .map_err(|e| format!("cannot restore a disk block: {e}"))
        })
        .map_err(|reason| SnapshotError::DiskBlocks {
            name: name_(),
            drive: saved.record.drive,
            reason,
        })?;
    Ok((Rc::new(RefCell::new(disk)), opened))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spec(slot: Option<usize>) -> DriveSpec {
        DriveSpec {
            file: "x.img".into(),
            readonly: false,
            snapshot: false,
            backing: None,
            slot,
        }
    }

    #[test]
    fn slots_as_the_machine_assigns_them() {
        assert_eq!(drive_slots(&[spec(None), spec(None)], 4), Some(vec![0, 1]));
        assert_eq!(
            drive_slots(&[spec(None), spec(Some(0)), spec(None)], 4),
            Some(vec![1, 0, 2])
        );
        assert_eq!(drive_slots(&[spec(Some(3)), spec(None)], 4), Some(vec![3, 0]));
        assert_eq!(drive_slots(&[spec(Some(1)), spec(Some(1))], 4), None);
        assert_eq!(drive_slots(&vec![spec(None); 5], 4), None);
        assert_eq!(
            drive_slots(&[spec(None), spec(Some(SD_SLOT)), spec(None)], 4),
            Some(vec![0, SD_SLOT, 1]),
            "the SD card takes no transport"
        );
        assert_eq!(
            drive_slots(
                &[spec(Some(PFLASH_SLOTS[1])), spec(None), spec(Some(PFLASH_SLOTS[0]))],
                4
            ),
            Some(vec![PFLASH_SLOTS[1], 0, PFLASH_SLOTS[0]]),
            "nor do the flashes' images"
        );
    }
}
