//! Waking a host thread that sleeps in `poll(2)`.

use std::io;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd, RawFd};

/// A non-blocking pipe: [`Wake::wake`] makes its read end readable, so a thread polling it
/// (with its sockets) returns at once. Shared between the thread and its owner.
#[derive(Debug)]
pub struct Wake {
    read: OwnedFd,
    write: OwnedFd,
}

impl Wake {
    /// A new pipe.
    pub fn new() -> io::Result<Wake> {
        let mut fds = [0 as libc::c_int; 2];
        // SAFETY: pipe2 writes two file descriptors into the array it is given.
        if unsafe { libc::pipe2(fds.as_mut_ptr(), libc::O_NONBLOCK | libc::O_CLOEXEC) } != 0 {
            return Err(io::Error::last_os_error());
        }
        // SAFETY: both descriptors were just created by pipe2 and are owned by nothing else.
        let (read, write) = unsafe { (OwnedFd::from_raw_fd(fds[0]), OwnedFd::from_raw_fd(fds[1])) };
        Ok(Wake { read, write })
    }

    /// Wake the thread polling [`Wake::fd`].
    pub fn wake(&self) {
        // A full pipe is already readable: nothing more to do if the write fails.
        // SAFETY: writing one byte from a valid buffer to a descriptor this value owns.
        let _ = unsafe { libc::write(self.write.as_raw_fd(), [1u8].as_ptr().cast(), 1) };
    }

    /// The descriptor to poll for reading.
    pub fn fd(&self) -> RawFd {
        self.read.as_raw_fd()
    }

    /// Empty the pipe after a wake-up.
    pub fn drain(&self) {
        let mut buf = [0u8; 64];
        // SAFETY: reading into a valid buffer of the given length from a descriptor this value
        // owns; the descriptor is non-blocking, so the loop ends when the pipe is empty.
        while unsafe { libc::read(self.read.as_raw_fd(), buf.as_mut_ptr().cast(), buf.len()) } > 0 {}
    }
}

/// `poll(2)` on `fds` for at most `timeout_ms` (-1: no limit). Returns the number of
/// descriptors with events, or an error (EINTR is reported as 0).
pub fn poll(fds: &mut [libc::pollfd], timeout_ms: i32) -> io::Result<usize> {
    // SAFETY: `fds` is a valid, exclusively borrowed array of pollfd of the given length.
    let n = unsafe { libc::poll(fds.as_mut_ptr(), fds.len() as libc::nfds_t, timeout_ms) };
    if n < 0 {
        let e = io::Error::last_os_error();
        if e.kind() == io::ErrorKind::Interrupted {
            return Ok(0);
        }
        return Err(e);
    }
    Ok(n as usize)
}
