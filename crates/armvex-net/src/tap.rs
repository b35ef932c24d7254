//! A host tap interface (`--netdev tap,ifname=NAME`).
//!
//! A tap is a virtual Ethernet interface of the host kernel whose "wire" is a file
//! descriptor: every frame the host's network stack sends out of the interface can be read
//! from `/dev/net/tun`, and every frame written there arrives on the interface as if from a
//! cable. Attaching to one is `open("/dev/net/tun")` and the `TUNSETIFF` ioctl with the
//! interface's name and `IFF_TAP | IFF_NO_PI` (plain Ethernet frames, no extra header).
//! An interface that does not exist yet is created, which needs CAP_NET_ADMIN; one made
//! beforehand (`ip tuntap add dev tap0 mode tap user $USER`) can be opened by its owner.
//! Bridging it or giving it an address is the host's business.
//!
//! A thread reads the frames for the guest and hands them to the [`FrameSink`]; the guest's
//! frames are written straight to the descriptor.

use crate::wake::{Wake, poll};
use crate::{FrameSink, MAX_FRAME, MIN_FRAME, NetBackend};
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
use std::sync::Arc;
use std::thread::JoinHandle;

const TUNSETIFF: libc::c_ulong = 0x4004_54ca;
const IFF_TAP: libc::c_short = 0x0002;
const IFF_NO_PI: libc::c_short = 0x1000;

/// `struct ifreq` with the flags member of its union.
#[repr(C)]
struct IfReq {
    name: [u8; libc::IFNAMSIZ],
    flags: libc::c_short,
    _rest: [u8; 22],
}

/// An open tap interface: the [`NetBackend`] of `--netdev tap`.
pub struct Tap {
    fd: Arc<OwnedFd>,
    ifname: String,
    wake: Arc<Wake>,
    thread: Option<JoinHandle<()>>,
}

impl Tap {
    /// Attach to tap interface `ifname` (created if it does not exist and we may), and start
    /// reading its frames for `deliver`.
    pub(crate) fn open(ifname: &str, deliver: FrameSink) -> Result<Tap, String> {
        let fail = |what: &str, e: std::io::Error| format!("tap {ifname}: {what}: {e}");
        let path = c"/dev/net/tun";
        // SAFETY: opening a NUL-terminated path.
        let raw = unsafe { libc::open(path.as_ptr(), libc::O_RDWR | libc::O_CLOEXEC) };
        if raw < 0 {
            return Err(fail("cannot open /dev/net/tun", std::io::Error::last_os_error()));
        }
        // SAFETY: a descriptor just opened and owned by nothing else.
        let fd = unsafe { OwnedFd::from_raw_fd(raw) };
        let mut req = IfReq {
            name: [0; libc::IFNAMSIZ],
            flags: IFF_TAP | IFF_NO_PI,
            _rest: [0; 22],
        };
        let name = ifname.as_bytes();
        if name.is_empty() || name.len() >= libc::IFNAMSIZ {
            return Err(format!("tap {ifname}: not an interface name"));
        }
        req.name[..name.len()].copy_from_slice(name);
        // SAFETY: TUNSETIFF reads and writes one struct ifreq, which `req` is (40 bytes).
        if unsafe { libc::ioctl(fd.as_raw_fd(), TUNSETIFF, &mut req as *mut IfReq) } < 0 {
            return Err(fail(
                "cannot attach (does the interface exist, and may this user open it?)",
                std::io::Error::last_os_error(),
            ));
        }
        let fd = Arc::new(fd);
        let wake = Arc::new(Wake::new().map_err(|e| fail("cannot make a pipe", e))?);
        let (thread_fd, thread_wake) = (fd.clone(), wake.clone());
        let thread = std::thread::Builder::new()
            .name(format!("tap {ifname}"))
            .spawn(move || read_loop(&thread_fd, &thread_wake, deliver))
            .map_err(|e| fail("cannot start its thread", e))?;
        Ok(Tap {
            fd,
            ifname: ifname.to_string(),
            wake,
            thread: Some(thread),
        })
    }
}

impl NetBackend for Tap {
    fn send(&mut self, frame: &[u8]) {
        // SAFETY: writing a valid buffer of the given length to a descriptor we own.
        let n = unsafe { libc::write(self.fd.as_raw_fd(), frame.as_ptr().cast(), frame.len()) };
        if n < 0 {
            tracing::debug!(target: "net", "tap {}: frame of {} bytes dropped: {}", self.ifname, frame.len(),
                std::io::Error::last_os_error());
        }
    }
}

impl Drop for Tap {
    fn drop(&mut self) {
        self.wake.wake();
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

/// Read frames until woken (the tap is being dropped), the interface goes away, or nobody
/// listens.
fn read_loop(fd: &OwnedFd, wake: &Wake, mut deliver: FrameSink) {
    let mut buf = vec![0u8; MAX_FRAME + 1];
    loop {
        let mut fds = [
            libc::pollfd {
                fd: fd.as_raw_fd(),
                events: libc::POLLIN,
                revents: 0,
            },
            libc::pollfd {
                fd: wake.fd(),
                events: libc::POLLIN,
                revents: 0,
            },
        ];
        if poll(&mut fds, -1).is_err() || fds[1].revents != 0 {
            return;
        }
        if fds[0].revents & (libc::POLLERR | libc::POLLHUP | libc::POLLNVAL) != 0 {
            return;
        }
        if fds[0].revents & libc::POLLIN == 0 {
            continue;
        }
        // SAFETY: reading into a valid buffer of the given length from a descriptor we own.
        let n = unsafe { libc::read(fd.as_raw_fd(), buf.as_mut_ptr().cast(), buf.len()) };
        if n < 0 {
            let e = std::io::Error::last_os_error();
            if matches!(
                e.kind(),
                std::io::ErrorKind::Interrupted | std::io::ErrorKind::WouldBlock
            ) {
                continue;
            }
            tracing::warn!(target: "net", "tap: read: {e}");
            return;
        }
        let n = n as usize;
        if (MIN_FRAME..=MAX_FRAME).contains(&n) && !deliver(buf[..n].to_vec()) {
            return;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    /// Set or clear IFF_UP on interface `name` (SIOCGIFFLAGS / SIOCSIFFLAGS on a socket).
    fn set_up(name: &str, up: bool) {
        // SAFETY: a plain socket for the ioctls, closed below; `req` is a struct ifreq.
        unsafe {
            let s = libc::socket(libc::AF_INET, libc::SOCK_DGRAM | libc::SOCK_CLOEXEC, 0);
            assert!(s >= 0);
            let mut req = IfReq {
                name: [0; libc::IFNAMSIZ],
                flags: 0,
                _rest: [0; 22],
            };
            req.name[..name.len()].copy_from_slice(name.as_bytes());
            assert_eq!(libc::ioctl(s, libc::SIOCGIFFLAGS, &mut req as *mut IfReq), 0);
            if up {
                req.flags |= libc::IFF_UP as libc::c_short;
            } else {
                req.flags &= !(libc::IFF_UP as libc::c_short);
            }
            assert_eq!(libc::ioctl(s, libc::SIOCSIFFLAGS, &mut req as *mut IfReq), 0);
            libc::close(s);
        }
    }

    fn counter(name: &str, which: &str) -> u64 {
        std::fs::read_to_string(format!("/sys/class/net/{name}/statistics/{which}"))
            .unwrap()
            .trim()
            .parse()
            .unwrap()
    }

    /// Needs CAP_NET_ADMIN (the tests run as root, as CI does): the test makes its own tap
    /// interface, which lives only as long as the descriptor. Nothing leaves the host: the
    /// interface has no address, and the only traffic is the kernel's own IPv6 link-local
    /// chatter when the link comes up and one frame we write.
    #[test]
    fn frames_cross_a_tap_both_ways() {
        let name = format!("avxt{}", std::process::id() % 100_000);
        let (tx, rx) = crossbeam_channel::unbounded();
        let mut tap = Tap::open(&name, Box::new(move |f| tx.send(f).is_ok())).expect("open a tap (needs root)");
        set_up(&name, true);
        // The kernel announces itself on the new link (IPv6 neighbour discovery / MLD to
        // multicast addresses): frames for the guest.
        let frame = rx
            .recv_timeout(Duration::from_secs(20))
            .expect("a frame from the host kernel");
        assert!(frame.len() >= MIN_FRAME);
        assert_eq!(frame[0] & 1, 1, "multicast destination");
        // A frame from the guest reaches the host's interface.
        let before = counter(&name, "rx_packets");
        let mut f = vec![0x33, 0x33, 0, 0, 0, 1, 0x52, 0x54, 0, 0x12, 0x34, 0x56, 0x88, 0xb5];
        f.extend_from_slice(&[0u8; 46]);
        tap.send(&f);
        assert_eq!(counter(&name, "rx_packets"), before + 1);
        set_up(&name, false);
        drop(tap);
        assert!(
            !std::path::Path::new(&format!("/sys/class/net/{name}")).exists(),
            "gone with its descriptor"
        );
    }

    #[test]
    fn a_bad_tap_is_a_one_line_error() {
        let e = Tap::open("", Box::new(|_| true)).err().unwrap();
        assert!(e.contains("not an interface name"), "{e}");
        let e = Tap::open("averyveryverylongname", Box::new(|_| true)).err().unwrap();
        assert!(e.contains("not an interface name"), "{e}");
    }
}
