//! Reading the files a user names (`--kernel`, `--initrd`, `--dtb`, `--replay`): what they are
//! is checked before anything reads them, so a FIFO does not hang armvex and `/dev/zero` does
//! not eat the host's memory; each problem is one line naming the file.

use crate::error::MachineError;
use std::path::Path;

/// Why `path` cannot be read as a regular file of at most `max` bytes, if it cannot.
pub fn check(path: &Path, what: &str, max: u64) -> Result<(), MachineError> {
    use std::os::unix::fs::FileTypeExt;
    let shown = path.display();
    let meta = std::fs::metadata(path).map_err(|e| match e.kind() {
        std::io::ErrorKind::NotFound => format!("cannot read {what} {shown}: no such file"),
        _ => format!("cannot read {what} {shown}: {e}"),
    })?;
    let kind = meta.file_type();
    let wrong = if kind.is_dir() {
        Some("a directory")
    } else if kind.is_fifo() {
        Some("a FIFO")
    } else if kind.is_char_device() {
        Some("a character device")
    } else if kind.is_block_device() {
        Some("a block device")
    } else if kind.is_socket() {
        Some("a socket")
    } else {
        None
    };
    if let Some(wrong) = wrong {
        return Err(format!("cannot read {what} {shown}: it is {wrong}, not a file").into());
    }
    if meta.len() == 0 {
        return Err(format!("{what} {shown} is empty").into());
    }
    if meta.len() > max {
        return Err(format!(
            "{what} {shown} is {} MiB, more than the {} MiB a {what} can be",
            meta.len() >> 20,
            max >> 20
        )
        .into());
    }
    Ok(())
}

/// Read `path` whole after [`check`].
pub fn read(path: &Path, what: &str, max: u64) -> Result<Vec<u8>, MachineError> {
    check(path, what, max)?;
    Ok(std::fs::read(path).map_err(|e| format!("cannot read {what} {}: {e}", path.display()))?)
}

/// The largest kernel, initrd or device tree armvex reads: the boards have at most 2 GiB of RAM.
pub const MAX_IMAGE: u64 = 2 << 30;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn what_is_not_a_file_is_named() {
        assert!(
            check(Path::new("/nonexistent/k"), "kernel", MAX_IMAGE)
                .unwrap_err()
                .to_string()
                .contains("no such file")
        );
        assert!(
            check(Path::new("/"), "kernel", MAX_IMAGE)
                .unwrap_err()
                .to_string()
                .contains("a directory")
        );
        assert!(
            check(Path::new("/dev/zero"), "kernel", MAX_IMAGE)
                .unwrap_err()
                .to_string()
                .contains("a character device")
        );
        let fifo = std::env::temp_dir().join(format!("armvex-fifo-{}", std::process::id()));
        let c = std::ffi::CString::new(fifo.to_str().unwrap()).unwrap();
        // SAFETY: mkfifo with a valid NUL-terminated path.
        assert_eq!(unsafe { libc::mkfifo(c.as_ptr(), 0o600) }, 0);
        assert!(
            check(&fifo, "recording", MAX_IMAGE)
                .unwrap_err()
                .to_string()
                .contains("a FIFO")
        );
        std::fs::remove_file(&fifo).unwrap();
        let big = std::env::temp_dir().join(format!("armvex-big-{}", std::process::id()));
        std::fs::write(&big, vec![1u8; 3 << 20]).unwrap();
        assert!(
            check(&big, "dtb", 1 << 20)
                .unwrap_err()
                .to_string()
                .contains("3 MiB, more than the 1 MiB")
        );
        assert_eq!(read(&big, "dtb", 4 << 20).unwrap().len(), 3 << 20);
        std::fs::remove_file(&big).unwrap();
    }
}
