//! The container: a header, checksummed sections, and a trailer (see the crate docs for the
//! picture).
//!
//! This module knows nothing of machines: it writes a list of sections to a file, and reads
//! a file back into its sections after checking everything that can be checked without
//! looking inside them — that the file is a snapshot, of this format version and this build,
//! complete, and undamaged. All numbers are little-endian.
//!
//! Checksums are xxh3-64 (fast, and good at catching accidental damage; not a defence
//! against someone forging a file). Each section has its own, so a damaged file says which
//! part is damaged; the trailer has one over everything before it, which also covers the
//! section headers.

use crate::SnapshotError;
use std::io::Write;
use std::path::{Path, PathBuf};
use xxhash_rust::xxh3::{Xxh3, xxh3_64};

include!(concat!(env!("OUT_DIR"), "/fingerprint.rs"));

/// The first 16 bytes of every snapshot (`head -c 16` shows them).
pub const MAGIC: [u8; 16] = *b"armvex-snapshot\n";

/// The version of the layout described here. A file of another version is refused.
pub const VERSION: u32 = 1;

/// Header: magic (16), version (4), fingerprint (8), file length (8), header checksum (8).
pub const HEADER_LEN: usize = 44;

/// Section header: tag (4), payload length (8), payload checksum (8).
pub const SECTION_HEADER_LEN: usize = 20;

/// Trailer: end marker (4), checksum of everything before the trailer (8).
pub const TRAILER_LEN: usize = 12;

/// The trailer's end marker.
pub const END_MARKER: [u8; 4] = *b"END.";

/// What a section holds.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Tag {
    /// How the machine was built ([`armvex_machine::MachineSetup`]).
    Setup,
    /// Everything but RAM and disks ([`armvex_machine::MachineState`]).
    State,
    /// The host-input journal (only when there is one).
    Input,
    /// Guest RAM: the pages that are not all zeros.
    Ram,
    /// One drive's disk.
    Disk,
}

impl Tag {
    /// The four bytes that stand for the tag in the file.
    pub fn bytes(self) -> [u8; 4] {
        match self {
            Tag::Setup => *b"SETU",
            Tag::State => *b"STAT",
            Tag::Input => *b"INPT",
            Tag::Ram => *b"RAM ",
            Tag::Disk => *b"DISK",
        }
    }

    fn from_bytes(b: [u8; 4]) -> Option<Tag> {
        [Tag::Setup, Tag::State, Tag::Input, Tag::Ram, Tag::Disk]
            .into_iter()
            .find(|t| t.bytes() == b)
    }

    /// The section's name in messages.
    pub fn name(self) -> &'static str {
        match self {
            Tag::Setup => "machine setup",
            Tag::State => "machine state",
            Tag::Input => "host input",
            Tag::Ram => "RAM",
            Tag::Disk => "disk",
        }
    }
}

/// A section to write.
pub struct Section {
    pub tag: Tag,
    pub payload: Vec<u8>,
}

/// The header for a file of `total` bytes.
fn header(total: u64) -> [u8; HEADER_LEN] {
    let mut h = [0u8; HEADER_LEN];
    h[..16].copy_from_slice(&MAGIC);
    h[16..20].copy_from_slice(&VERSION.to_le_bytes());
    h[20..28].copy_from_slice(&FINGERPRINT.to_le_bytes());
    h[28..36].copy_from_slice(&total.to_le_bytes());
    let sum = xxh3_64(&h[..36]);
    h[36..44].copy_from_slice(&sum.to_le_bytes());
    h
}

/// Write `sections` as a snapshot file at `path`: into a temporary file in the same
/// directory first, synced to the disk, then renamed over `path`, so that `path` is either
/// the old file or the whole new one, never half a snapshot. Returns the file's length.
pub fn write(path: &Path, sections: &[Section]) -> Result<u64, SnapshotError> {
    let fail = |reason: String| SnapshotError::Write {
        name: path.display().to_string(),
        reason,
    };
    let file_name = path
        .file_name()
        .ok_or_else(|| fail("the path names no file".to_string()))?;
    let mut temp_name = std::ffi::OsString::from(".");
    temp_name.push(file_name);
    temp_name.push(format!(".{}.tmp", std::process::id()));
    let temp = path.with_file_name(temp_name);
    let total = HEADER_LEN as u64
        + sections
            .iter()
            .map(|s| (SECTION_HEADER_LEN + s.payload.len()) as u64)
            .sum::<u64>()
        + TRAILER_LEN as u64;
    let result = write_to(&temp, total, sections).and_then(|()| std::fs::rename(&temp, path));
    if let Err(e) = result {
        let _ = std::fs::remove_file(&temp);
        return Err(fail(e.to_string()));
    }
    // Make the rename itself durable (best effort: not every file system lets a directory be
    // synced).
    let dir = match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
        _ => PathBuf::from("."),
    };
    if let Ok(d) = std::fs::File::open(dir) {
        let _ = d.sync_all();
    }
    Ok(total)
}

fn write_to(temp: &Path, total: u64, sections: &[Section]) -> std::io::Result<()> {
    let file = std::fs::File::create(temp)?;
    let mut out = std::io::BufWriter::with_capacity(1 << 20, file);
    let mut whole = Xxh3::new();
    let mut put = |out: &mut std::io::BufWriter<std::fs::File>, bytes: &[u8]| {
        whole.update(bytes);
        out.write_all(bytes)
    };
    put(&mut out, &header(total))?;
    for s in sections {
        let mut h = [0u8; SECTION_HEADER_LEN];
        h[..4].copy_from_slice(&s.tag.bytes());
        h[4..12].copy_from_slice(&(s.payload.len() as u64).to_le_bytes());
        h[12..20].copy_from_slice(&xxh3_64(&s.payload).to_le_bytes());
        put(&mut out, &h)?;
        put(&mut out, &s.payload)?;
    }
    let mut trailer = [0u8; TRAILER_LEN];
    trailer[..4].copy_from_slice(&END_MARKER);
    trailer[4..].copy_from_slice(&whole.digest().to_le_bytes());
    out.write_all(&trailer)?;
    let file = out.into_inner().map_err(|e| e.into_error())?;
    file.sync_all()
}

fn u32_at(b: &[u8], at: usize) -> u32 {
    u32::from_le_bytes(b[at..at + 4].try_into().expect("4 bytes"))
}

fn u64_at(b: &[u8], at: usize) -> u64 {
    u64::from_le_bytes(b[at..at + 8].try_into().expect("8 bytes"))
}

/// Check the whole of `bytes` (a snapshot file named `name` in messages) and cut it into its
/// sections, in file order. Every failure is a one-line message naming the file.
pub fn parse<'a>(name: &str, bytes: &'a [u8]) -> Result<Vec<(Tag, &'a [u8])>, SnapshotError> {
    let len = bytes.len();
    let name_ = || name.to_string();
    let truncated = |expected: Option<u64>| SnapshotError::Truncated {
        name: name_(),
        len,
        expected,
    };
    let damaged = |what: String| SnapshotError::Damaged { name: name_(), what };
    if len == 0 {
        return Err(SnapshotError::Empty { name: name_() });
    }
    if len < MAGIC.len() {
        return Err(if MAGIC.starts_with(bytes) {
            truncated(None)
        } else {
            SnapshotError::NotASnapshot { name: name_() }
        });
    }
    if bytes[..16] != MAGIC {
        return Err(SnapshotError::NotASnapshot { name: name_() });
    }
    if len < 20 {
        return Err(truncated(None));
    }
    let version = u32_at(bytes, 16);
    if version != VERSION {
        return Err(SnapshotError::Version { name: name_(), version });
    }
    if len < HEADER_LEN {
        return Err(truncated(None));
    }
    if xxh3_64(&bytes[..36]) != u64_at(bytes, 36) {
        return Err(damaged("its header's checksum is wrong".to_string()));
    }
    let fingerprint = u64_at(bytes, 20);
    let total = u64_at(bytes, 28);
    if (len as u64) < total {
        return Err(truncated(Some(total)));
    }
    if len as u64 > total {
        return Err(damaged(format!("it has {len} bytes; its header says {total}")));
    }
    if fingerprint != FINGERPRINT {
        return Err(SnapshotError::OtherBuild {
            name: name_(),
            fingerprint,
        });
    }
    if len < HEADER_LEN + TRAILER_LEN {
        return Err(damaged("too short for a header and a trailer".to_string()));
    }
    let end = len - TRAILER_LEN;
    let mut sections = Vec::new();
    let mut pos = HEADER_LEN;
    while pos < end {
        if end - pos < SECTION_HEADER_LEN {
            return Err(damaged(format!(
                "at byte {pos}: a section header runs into the trailer"
            )));
        }
        let tag_bytes: [u8; 4] = bytes[pos..pos + 4].try_into().expect("4 bytes");
        let tag = Tag::from_bytes(tag_bytes).ok_or_else(|| {
            damaged(format!(
                "at byte {pos}: unknown section {:?}",
                String::from_utf8_lossy(&tag_bytes)
            ))
        })?;
        let payload_len = u64_at(bytes, pos + 4);
        let room = (end - pos - SECTION_HEADER_LEN) as u64;
        if payload_len > room {
            return Err(damaged(format!(
                "the {} section at byte {pos} runs past the end",
                tag.name()
            )));
        }
        let start = pos + SECTION_HEADER_LEN;
        let payload = &bytes[start..start + payload_len as usize];
        if xxh3_64(payload) != u64_at(bytes, pos + 12) {
            return Err(damaged(format!(
                "the {} section at byte {pos} does not match its checksum",
                tag.name()
            )));
        }
        sections.push((tag, payload));
        pos = start + payload_len as usize;
    }
    if bytes[end..end + 4] != END_MARKER {
        return Err(damaged(format!("no end marker at byte {end}")));
    }
    if xxh3_64(&bytes[..end]) != u64_at(bytes, end + 4) {
        return Err(damaged("the file's checksum does not match its contents".to_string()));
    }
    Ok(sections)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A small file written in a directory of its own (`test` names it).
    fn sample(test: &str) -> (PathBuf, Vec<u8>) {
        let dir = std::env::temp_dir().join(format!("armvex-format-{test}-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("s.snap");
        let sections = [
            Section {
                tag: Tag::Setup,
                payload: b"setup".to_vec(),
            },
            Section {
                tag: Tag::Ram,
                payload: vec![7; 300],
            },
            Section {
                tag: Tag::Disk,
                payload: Vec::new(),
            },
        ];
        let n = write(&path, &sections).unwrap();
        let bytes = std::fs::read(&path).unwrap();
        assert_eq!(n as usize, bytes.len());
        (path, bytes)
    }

    #[test]
    fn sections_come_back_as_written() {
        let (path, bytes) = sample("sections");
        let s = parse("s.snap", &bytes).unwrap();
        assert_eq!(s.len(), 3);
        assert_eq!((s[0].0, s[0].1), (Tag::Setup, &b"setup"[..]));
        assert_eq!((s[1].0, s[1].1.len()), (Tag::Ram, 300));
        assert_eq!((s[2].0, s[2].1.len()), (Tag::Disk, 0));
        assert_eq!(&bytes[..16], b"armvex-snapshot\n");
        // No temporary file is left beside it.
        let dir = path.parent().unwrap();
        let names: Vec<_> = std::fs::read_dir(dir)
            .unwrap()
            .map(|e| e.unwrap().file_name())
            .collect();
        assert_eq!(names, vec![std::ffi::OsString::from("s.snap")]);
        std::fs::remove_dir_all(dir).unwrap();
    }

    #[test]
    fn every_truncation_and_every_flipped_byte_is_refused() {
        let (path, bytes) = sample("damage");
        std::fs::remove_dir_all(path.parent().unwrap()).unwrap();
        for n in 0..bytes.len() {
            let e = parse("s.snap", &bytes[..n]).unwrap_err().to_string();
            if n == 0 {
                assert_eq!(e, "snapshot s.snap is empty");
            } else {
                let of = if n < HEADER_LEN {
                    format!("the {HEADER_LEN}-byte header")
                } else {
                    bytes.len().to_string()
                };
                assert_eq!(e, format!("snapshot s.snap is truncated (ends at byte {n} of {of})"));
            }
        }
        for i in 0..bytes.len() {
            for bit in [0x01, 0x80] {
                let mut b = bytes.clone();
                b[i] ^= bit;
                let e = parse("s.snap", &b).unwrap_err().to_string();
                assert!(e.contains("s.snap") && !e.contains('\n'), "{e}");
            }
        }
    }

    #[test]
    fn other_files_versions_and_builds_are_named_as_such() {
        let (path, bytes) = sample("others");
        std::fs::remove_dir_all(path.parent().unwrap()).unwrap();
        assert_eq!(
            parse("x", b"\x7fELF").unwrap_err().to_string(),
            "x is not an armvex snapshot"
        );
        assert_eq!(
            parse("x", &[0u8; 100]).unwrap_err().to_string(),
            "x is not an armvex snapshot"
        );
        let mut other = bytes.clone();
        other[16..20].copy_from_slice(&2u32.to_le_bytes());
        assert_eq!(
            parse("x", &other).unwrap_err().to_string(),
            "snapshot x is of format version 2; this armvex reads version 1"
        );
        let mut other = bytes.clone();
        other[20..28].copy_from_slice(&0x1f2e_3d4c_5b6a_7988u64.to_le_bytes());
        let sum = xxh3_64(&other[..36]);
        other[36..44].copy_from_slice(&sum.to_le_bytes());
        assert_eq!(
            parse("x", &other).unwrap_err().to_string(),
            format!(
                "snapshot x was written by another build of armvex (state format 1f2e3d4c5b6a7988, this build {FINGERPRINT:016x})"
            )
        );
        let mut longer = bytes.clone();
        longer.push(0);
        assert!(parse("x", &longer).unwrap_err().to_string().contains("its header says"));
    }

    #[test]
    fn a_failed_write_leaves_nothing_behind() {
        let e = write(Path::new("/nonexistent-dir/x.snap"), &[])
            .unwrap_err()
            .to_string();
        assert!(e.starts_with("cannot write snapshot /nonexistent-dir/x.snap: "), "{e}");
        assert!(
            write(Path::new("/"), &[])
                .unwrap_err()
                .to_string()
                .contains("names no file")
        );
    }
}
