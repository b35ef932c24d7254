//! The virtio crate's errors at its boundary: disk images that cannot be opened or used, and
//! option values (a MAC address) that do not parse.
//!
//! Each variant's `Display` is the one-line message a user sees (after `armvex: `). What the
//! *guest* gets wrong is not here: a broken ring is a [`crate::QueueError`], answered with
//! `DEVICE_NEEDS_RESET`, and a bad request is answered with a status byte.

use std::fmt;
use std::io;

/// Why a disk image (or overlay file) could not be opened.
#[derive(Debug)]
pub enum DiskError {
    /// A host operation on a file failed: "`{doing} {file}: {source}`", e.g.
    /// "cannot open disk image x.img: No such file or directory (os error 2)".
    Host {
        /// What armvex was doing, e.g. "cannot open", "cannot determine the size of".
        doing: &'static str,
        /// The file, as the user knows it ("disk image PATH", "overlay PATH", ...).
        file: String,
        /// The host's answer.
        source: io::Error,
    },
    /// A file that is not what it must be: "`{file} {problem}`", e.g. "disk image x is a
    /// directory".
    Unusable {
        /// The file.
        file: String,
        /// What is wrong with it.
        problem: String,
    },
    /// An image another user holds locked (see `lock_image`), or that could not be locked.
    Lock {
        /// The file.
        file: String,
        /// Why.
        error: LockError,
    },
    /// An overlay file opened without its base ([`crate::DiskMode::PersistentOverlay`] given
    /// to [`crate::DiskImage::open`]).
    OverlayNeedsBase {
        /// The file.
        file: String,
    },
    /// An overlay file that does not belong to its base, or is damaged.
    Overlay {
        /// The file.
        file: String,
        /// What is wrong with it.
        problem: String,
    },
}

/// Why an image could not be locked.
#[derive(Debug)]
pub enum LockError {
    /// Someone else holds a conflicting lock (`write`: we wanted the exclusive one).
    Busy {
        /// The lock wanted was the write (exclusive) lock.
        write: bool,
    },
    /// The host refused for another reason.
    Host(io::Error),
}

impl fmt::Display for LockError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            LockError::Busy { write } => write!(
                f,
                "cannot get its {} lock: is another armvex or QEMU (or another --drive) using it?",
                if *write { "write" } else { "read" }
            ),
            LockError::Host(e) => write!(f, "cannot lock it: {e}"),
        }
    }
}

impl fmt::Display for DiskError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            DiskError::Host { doing, file, source } => write!(f, "{doing} {file}: {source}"),
            DiskError::Unusable { file, problem } => write!(f, "{file} {problem}"),
            DiskError::Lock { file, error } => write!(f, "{file}: {error}"),
            DiskError::OverlayNeedsBase { file } => {
                write!(f, "{file}: an overlay file opens with its base (backing=)")
            }
            DiskError::Overlay { file, problem } => write!(f, "{file}: {problem}"),
        }
    }
}

impl std::error::Error for DiskError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            DiskError::Host { source, .. } => Some(source),
            DiskError::Lock {
                error: LockError::Host(e),
                ..
            } => Some(e),
            _ => None,
        }
    }
}

/// Callers that still report errors as strings keep working with `?`.
impl From<DiskError> for String {
    fn from(e: DiskError) -> String {
        e.to_string()
    }
}

/// A `mac=` value that is no unicast MAC address.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum MacError {
    /// Not six two-digit hex bytes separated by colons.
    Syntax(String),
    /// A multicast address (bit 0 of the first byte set): no card may have one.
    Multicast(String),
}

impl fmt::Display for MacError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            MacError::Syntax(s) => write!(f, "mac={s} is not a MAC address (aa:bb:cc:dd:ee:ff)"),
            MacError::Multicast(s) => write!(f, "mac={s} is a multicast address"),
        }
    }
}

impl std::error::Error for MacError {}

/// Callers that still report errors as strings keep working with `?`.
impl From<MacError> for String {
    fn from(e: MacError) -> String {
        e.to_string()
    }
}
