//! # armvex-net: the host side of a guest's network
//!
//! A network card model (virtio-net, the LAN9118) moves Ethernet frames between the guest and
//! *something on the host*. This crate is that something, behind one small trait a NIC model
//! can use without knowing virtio or the machine:
//!
//! * [`NetBackend`]: where the frames the guest **sends** go. A NIC calls
//!   [`NetBackend::send`] the moment the guest transmits: output can leave at any time.
//! * Frames **for the guest** never reach the NIC directly. A backend runs its host side on a
//!   thread of its own and hands every frame it receives to a [`FrameSink`], which the machine
//!   connects to its host-input journal. The machine takes them between rounds, stamps them with
//!   the virtual time and position, and delivers each one to the NIC as host input
//!   (`armvex_bus::Device::host_input`, one frame per call). That is what makes a networked
//!   session replayable: `--record` writes the frames down with their times, `--replay` feeds
//!   the same frames at the same points, and reverse execution re-delivers them from the
//!   journal. During a replay the backend is a [`NullBackend`]: the guest's frames go nowhere,
//!   the recording says what came back.
//! * [`NetPort`]: what a NIC holds. It wraps the backend and counts the frames the guest has
//!   sent (the NIC saves that count with its state), so that frames sent again while reverse
//!   execution re-runs history reach the host once, as the console prints its bytes once.
//!
//! ## The backends
//!
//! * [`slirp`] (`--netdev user`): user-mode networking through libslirp, the library behind
//!   QEMU's `-netdev user`. No root, no tap: a small TCP/IP stack that answers the guest on the
//!   virtual network 10.0.2.0/24 (DHCP hands out 10.0.2.15, the host is 10.0.2.2, DNS
//!   10.0.2.3) and turns the guest's TCP connections and UDP datagrams into the host's own
//!   sockets. `hostfwd` rules listen on host ports and forward connections into the guest.
//! * [`tap`] (`--netdev tap`): frames to and from a host tap interface, for users who have
//!   one (creating it needs root or CAP_NET_ADMIN; opening an existing one needs its owner).
//! * [`NullBackend`]: drops everything (a replay, or a NIC with no network).
//!
//! [`NetdevSpec`] parses the `--netdev` options and [`open`] starts a backend.
//!
//! ## For a NIC model
//!
//! ```
//! use armvex_net::{NetPort, NullBackend};
//! let mut port = NetPort::new(Box::new(NullBackend));
//! // The guest transmitted a frame: send it (now, whatever the virtual time).
//! port.send(&[0xff; 60]);
//! // Save `port.position()` with the NIC's state; after a restore, `port.set_position(saved)`.
//! assert_eq!(port.position(), 1);
//! // Frames for the guest arrive through `Device::host_input`, one frame per call.
//! ```

mod error;
#[cfg(feature = "slirp")]
pub mod slirp;
pub mod spec;
pub mod tap;
mod wake;

pub use error::NetError;
pub use spec::{HostFwd, NetdevKind, NetdevSpec, UserOptions};

impl NetdevSpec {
    /// The MTU a NIC on this network should tell the guest, if not the Ethernet default.
    pub fn mtu(&self) -> Option<u16> {
        match &self.kind {
            NetdevKind::User(u) if u.mtu != spec::DEFAULT_MTU => Some(u.mtu),
            _ => None,
        }
    }
}

/// The largest Ethernet frame a backend passes either way (a 64 KiB IP packet and its
/// Ethernet header, as a tap with a large MTU or GSO can give); anything longer is dropped.
pub const MAX_FRAME: usize = 65_535 + 14;
/// The smallest: an Ethernet header (destination, source, type).
pub const MIN_FRAME: usize = 14;

/// Where a backend's host thread hands the frames it received for the guest. Returns `false`
/// when nobody listens any more (the machine is gone); the backend may then stop.
pub type FrameSink = Box<dyn FnMut(Vec<u8>) -> bool + Send>;

/// The host side of a network as a NIC model sees it: where the guest's frames go.
pub trait NetBackend {
    /// Send one Ethernet frame from the guest (destination MAC first, no frame check
    /// sequence). Never blocks on the network and never fails: a frame the host cannot take
    /// is dropped, as a real network may.
    fn send(&mut self, frame: &[u8]);
}

/// A network that drops every frame: the guest's link is up, nothing answers.
#[derive(Clone, Copy, Debug, Default)]
pub struct NullBackend;

impl NetBackend for NullBackend {
    fn send(&mut self, _frame: &[u8]) {}
}

/// A NIC's handle on its backend: frames go out once, however often history is replayed.
///
/// Reverse execution goes back to a checkpoint and runs the guest forward again; the guest
/// then transmits the same frames a second time. They already reached the host, and a TCP
/// peer or a DHCP server should not see them twice. So the port counts the frames the guest
/// has sent on the current timeline (its *position*, part of the NIC's saved state) and the
/// frames the backend has been given (the *high-water mark*, a fact about the host); a frame
/// below the mark is not sent again. A guest that diverges (a debugger changed the past)
/// sends only what comes after what the host has already seen.
pub struct NetPort {
    backend: Box<dyn NetBackend>,
    position: u64,
    sent: u64,
}

impl NetPort {
    /// A port sending to `backend`.
    pub fn new(backend: Box<dyn NetBackend>) -> NetPort {
        NetPort {
            backend,
            position: 0,
            sent: 0,
        }
    }

    /// The guest sent `frame`: pass it to the backend unless it already has it.
    pub fn send(&mut self, frame: &[u8]) {
        if self.position >= self.sent {
            self.backend.send(frame);
            self.sent = self.position + 1;
        }
        self.position += 1;
    }

    /// Frames the guest has sent so far on this timeline (save it with the NIC's state).
    pub fn position(&self) -> u64 {
        self.position
    }

    /// Go back (or forward) to `position`, as a restored NIC does.
    pub fn set_position(&mut self, position: u64) {
        self.position = position;
    }
}

/// A place for a host thread to stop: a pipe whose write end, once written or closed, wakes
/// a `poll` on its read end.
pub use wake::Wake;

/// Start the backend `spec` describes, handing the frames it receives for the guest to
/// `deliver`. Fails with a one-line message naming the netdev (no such tap interface, a
/// forwarded host port in use, user-mode networking not built in).
pub fn open(spec: &NetdevSpec, deliver: FrameSink) -> Result<Box<dyn NetBackend>, NetError> {
    let fail = |problem: String| NetError::Backend {
        id: spec.id.clone(),
        problem,
    };
    match &spec.kind {
        #[cfg(feature = "slirp")]
        NetdevKind::User(options) => Ok(Box::new(slirp::UserNetwork::start(options, deliver).map_err(fail)?)),
        #[cfg(not(feature = "slirp"))]
        NetdevKind::User(_) => {
            let _ = deliver;
            Err(fail(
                "this armvex was built without user-mode networking (libslirp)".into(),
            ))
        }
        NetdevKind::Tap { ifname } => Ok(Box::new(tap::Tap::open(ifname, deliver).map_err(fail)?)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::{Arc, Mutex};

    struct Capture(Arc<Mutex<Vec<Vec<u8>>>>);
    impl NetBackend for Capture {
        fn send(&mut self, frame: &[u8]) {
            self.0.lock().unwrap().push(frame.to_vec());
        }
    }

    #[test]
    fn frames_sent_again_while_history_replays_go_out_once() {
        let seen = Arc::new(Mutex::new(Vec::new()));
        let mut port = NetPort::new(Box::new(Capture(seen.clone())));
        port.send(b"one");
        let mark = port.position();
        port.send(b"two");
        port.send(b"three");
        // Back to the mark, forward again over the same frames, then a new one.
        port.set_position(mark);
        port.send(b"two");
        port.send(b"three");
        port.send(b"four");
        assert_eq!(port.position(), 4);
        let frames: Vec<&[u8]> = vec![b"one", b"two", b"three", b"four"];
        assert_eq!(*seen.lock().unwrap(), frames);
        // A NIC resumed from a snapshot file: its position is ahead of a fresh port's mark.
        let mut resumed = NetPort::new(Box::new(Capture(seen.clone())));
        resumed.set_position(10);
        resumed.send(b"five");
        assert_eq!(seen.lock().unwrap().last().unwrap(), b"five");
    }
}
