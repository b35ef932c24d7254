//! The snapshot crate's error: why a snapshot could not be written, read or resumed.
//!
//! `Display` is the one-line message the CLI prints after `armvex: `; every message names the
//! snapshot file (`name`: the path as given, or the name passed to [`crate::load_bytes`]).
//! Errors of the crates below keep their own types ([`MachineError`], [`DiskError`]), so a
//! caller can tell a machine that cannot be rebuilt from a disk image that cannot be opened.

use armvex_machine::MachineError;
use armvex_virtio::DiskError;
use std::fmt;
use std::path::PathBuf;

/// Why a snapshot could not be written, read or resumed.
#[derive(Debug)]
pub enum SnapshotError {
    /// The file could not be read.
    Read {
        /// The snapshot.
        name: String,
        /// The host's answer.
        source: std::io::Error,
    },
    /// The file could not be written (the host refused, the path names no file, or a drive's
    /// disk could not be saved); nothing is left at the path.
    Write {
        /// The snapshot.
        name: String,
        /// What went wrong.
        reason: String,
    },
    /// The file is empty.
    Empty {
        /// The snapshot.
        name: String,
    },
    /// The file does not start with the snapshot magic.
    NotASnapshot {
        /// The file.
        name: String,
    },
    /// The file ends before the length its header says (or within the header).
    Truncated {
        /// The snapshot.
        name: String,
        /// Its length.
        len: usize,
        /// The length its header says; `None` when it ends within the header.
        expected: Option<u64>,
    },
    /// The file is of another format version.
    Version {
        /// The snapshot.
        name: String,
        /// Its format version.
        version: u32,
    },
    /// The file was written by another build of armvex (its state may encode other fields).
    OtherBuild {
        /// The snapshot.
        name: String,
        /// The build fingerprint in its header.
        fingerprint: u64,
    },
    /// The file is damaged: a checksum, the layout or a section's contents are wrong.
    Damaged {
        /// The snapshot.
        name: String,
        /// What is damaged (the text in parentheses).
        what: String,
    },
    /// The snapshot's machine has semihosting and the host gave no semihosting console.
    NoSemihostingConsole {
        /// The snapshot.
        name: String,
    },
    /// The snapshot's machine could not be built again.
    Rebuild {
        /// The snapshot.
        name: String,
        /// Why.
        source: MachineError,
    },
    /// A drive of the rebuilt machine is not on the transport it was saved on.
    DriveMoved {
        /// The snapshot.
        name: String,
        /// The drive's index in the setup.
        drive: u32,
        /// The transport it was saved on.
        slot: u32,
    },
    /// The saved state does not fit the rebuilt machine.
    DoesNotFit {
        /// The snapshot.
        name: String,
        /// Why.
        source: MachineError,
    },
    /// A drive's disk image could not be opened, or a temporary disk not made.
    DiskOpen {
        /// The snapshot.
        name: String,
        /// Why.
        source: DiskError,
    },
    /// A drive's disk image could not be read to check it is unchanged.
    DiskRead {
        /// The snapshot.
        name: String,
        /// The image.
        path: PathBuf,
        /// The host's answer.
        source: std::io::Error,
    },
    /// A drive's disk image has changed since the snapshot was taken.
    DiskChanged {
        /// The snapshot.
        name: String,
        /// The image.
        path: PathBuf,
    },
    /// A drive's saved blocks could not be restored.
    DiskBlocks {
        /// The snapshot.
        name: String,
        /// The drive's index in the setup.
        drive: u32,
        /// Why.
        reason: String,
    },
}

impl fmt::Display for SnapshotError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        use SnapshotError::*;
        match self {
            Read { name, source } => write!(f, "cannot read snapshot {name}: {source}"),
            Write { name, reason } => write!(f, "cannot write snapshot {name}: {reason}"),
            Empty { name } => write!(f, "snapshot {name} is empty"),
            NotASnapshot { name } => write!(f, "{name} is not an armvex snapshot"),
            Truncated { name, len, expected } => {
                write!(f, "snapshot {name} is truncated (ends at byte {len} of ")?;
                match expected {
                    Some(total) => write!(f, "{total})"),
                    None => write!(f, "the {}-byte header)", crate::format::HEADER_LEN),
                }
            }
            Version { name, version } => write!(
                f,
                "snapshot {name} is of format version {version}; this armvex reads version {}",
                crate::format::VERSION
            ),
            OtherBuild { name, fingerprint } => write!(
                f,
                "snapshot {name} was written by another build of armvex (state format {fingerprint:016x}, this build {:016x})",
                crate::format::FINGERPRINT
            ),
            Damaged { name, what } => write!(f, "snapshot {name} is damaged ({what})"),
            NoSemihostingConsole { name } => write!(
                f,
                "snapshot {name} is of a machine with semihosting, and no semihosting console was given"
            ),
            Rebuild { name, source } => write!(f, "snapshot {name}: cannot build its machine: {source}"),
            DriveMoved { name, drive, slot } => write!(
                f,
                "snapshot {name}: drive {drive} is not attached where it was (transport {slot})"
            ),
            DoesNotFit { name, source } => write!(f, "snapshot {name} does not fit its machine: {source}"),
            DiskOpen { name, source } => write!(f, "snapshot {name}: {source}"),
            DiskRead { name, path, source } => {
                write!(
                    f,
                    "snapshot {name}: cannot read disk image {}: {source}",
                    path.display()
                )
            }
            DiskChanged { name, path } => write!(
                f,
                "snapshot {name}: disk image {} has changed since the snapshot was taken",
                path.display()
            ),
            DiskBlocks { name, drive, reason } => write!(f, "snapshot {name}: drive {drive}'s disk: {reason}"),
        }
    }
}

impl std::error::Error for SnapshotError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            SnapshotError::Read { source, .. } | SnapshotError::DiskRead { source, .. } => Some(source),
            SnapshotError::Rebuild { source, .. } | SnapshotError::DoesNotFit { source, .. } => Some(source),
            SnapshotError::DiskOpen { source, .. } => Some(source),
            _ => None,
        }
    }
}

/// Callers that report errors as strings (the CLI's `armvex: ...` line) keep working with `?`.
impl From<SnapshotError> for String {
    fn from(e: SnapshotError) -> String {
        e.to_string()
    }
}
