//! User-mode networking (`--netdev user`) through libslirp.
//!
//! libslirp (the library QEMU's `-netdev user` uses, Debian's `libslirp0`) is a small TCP/IP
//! stack that plays every other machine of a virtual network for the guest:
//!
//! ```text
//!   guest 10.0.2.15 ──frames──► slirp: gateway/host 10.0.2.2, DNS 10.0.2.3, DHCP server
//!                                  │ the guest's TCP connections and UDP datagrams become
//!                                  ▼ the host's own sockets (connect, sendto), as any program
//!                               host network (10.0.2.2 itself means the host's 127.0.0.1)
//! ```
//!
//! * **DHCP** hands the guest 10.0.2.15 with 10.0.2.2 as router and 10.0.2.3 as DNS server;
//!   **DNS** queries to 10.0.2.3 go to the host's resolver; **ARP** for those addresses is
//!   answered. IPv6 (fec0::/64, host fec0::2, DNS fec0::3) works the same way, as in QEMU.
//! * **Outbound**: a TCP SYN from the guest makes slirp `connect()` on the host; slirp then
//!   terminates the guest's TCP itself and copies bytes between the two. UDP and ICMP echo
//!   likewise. No root, no tap, no firewall rule: to the host it is one ordinary process.
//! * **Inbound** (`hostfwd`): slirp listens on a host port and, for each connection,
//!   opens a TCP connection to the guest's port.
//!
//! ## Threads and determinism
//!
//! slirp runs on a host thread of its own, in a `poll(2)` loop over its sockets, its timers
//! and a wake-up pipe. The machine never waits for it: a frame the guest sends is queued to
//! the thread (a channel, then a wake-up), and a frame slirp sends to the guest goes to the
//! [`FrameSink`], the machine's host-input journal, which delivers it between rounds at a
//! recorded virtual time. slirp's own timers (TCP retransmission, delayed ACKs) run on the
//! host's monotonic clock: they decide what the host side does, which the journal records;
//! the guest only ever sees the frames.
//!
//! A machine state (a snapshot, a checkpoint of reverse execution) does not hold slirp's
//! connections: host sockets cannot be saved. A resumed snapshot starts a fresh slirp: the
//! guest keeps its address, and its open TCP connections are reset by the new stack.

use crate::spec::UserOptions;
use crate::wake::{Wake, poll};
use crate::{FrameSink, MAX_FRAME, MIN_FRAME, NetBackend};
use crossbeam_channel::{Receiver, Sender, TryRecvError};
use libslirp::{Context, Handler, PollEvents};
use std::cell::RefCell;
use std::net::{Ipv4Addr, Ipv6Addr};
use std::os::fd::RawFd;
use std::rc::Rc;
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::Instant;

/// The virtual network, as QEMU's defaults.
pub const NETWORK: Ipv4Addr = Ipv4Addr::new(10, 0, 2, 0);
pub const NETMASK: Ipv4Addr = Ipv4Addr::new(255, 255, 255, 0);
/// The gateway: the host as the guest sees it.
pub const HOST: Ipv4Addr = Ipv4Addr::new(10, 0, 2, 2);
/// The DNS server slirp answers on.
pub const NAMESERVER: Ipv4Addr = Ipv4Addr::new(10, 0, 2, 3);
/// The first (and, for one guest, only) address DHCP hands out.
pub const GUEST: Ipv4Addr = Ipv4Addr::new(10, 0, 2, 15);
const PREFIX6: Ipv6Addr = Ipv6Addr::new(0xfec0, 0, 0, 0, 0, 0, 0, 0);
const HOST6: Ipv6Addr = Ipv6Addr::new(0xfec0, 0, 0, 0, 0, 0, 0, 2);
const NAMESERVER6: Ipv6Addr = Ipv6Addr::new(0xfec0, 0, 0, 0, 0, 0, 0, 3);

/// A running libslirp stack: the [`NetBackend`] of `--netdev user`.
pub struct UserNetwork {
    to_slirp: Option<Sender<Vec<u8>>>,
    wake: Arc<Wake>,
    thread: Option<JoinHandle<()>>,
}

impl UserNetwork {
    /// Start slirp on a thread of its own with `options`, handing frames for the guest to
    /// `deliver`. The forwarded host ports are listening when this returns; a port that
    /// cannot be bound is an error.
    pub(crate) fn start(options: &UserOptions, deliver: FrameSink) -> Result<UserNetwork, String> {
        let wake = Arc::new(Wake::new().map_err(|e| format!("cannot make a pipe: {e}"))?);
        let (to_slirp, from_guest) = crossbeam_channel::unbounded();
        let (ready_tx, ready_rx) = crossbeam_channel::bounded(1);
        let options = options.clone();
        let thread_wake = wake.clone();
        let thread = std::thread::Builder::new()
            .name("slirp".into())
            .spawn(move || {
                let (slirp, timers) = match new_stack(&options, deliver) {
                    Ok(s) => {
                        let _ = ready_tx.send(Ok(()));
                        s
                    }
                    Err(e) => {
                        let _ = ready_tx.send(Err(e));
                        return;
                    }
                };
                poll_loop(&slirp, &timers, &from_guest, &thread_wake);
            })
            .map_err(|e| format!("cannot start the slirp thread: {e}"))?;
        let mut network = UserNetwork {
            to_slirp: Some(to_slirp),
            wake,
            thread: Some(thread),
        };
        match ready_rx.recv() {
            Ok(Ok(())) => Ok(network),
            Ok(Err(e)) => Err(e),
            Err(_) => {
                network.thread.take().map(JoinHandle::join);
                Err("the slirp thread ended before it started".into())
            }
        }
    }
}

impl NetBackend for UserNetwork {
    fn send(&mut self, frame: &[u8]) {
        if let Some(tx) = &self.to_slirp {
            if tx.send(frame.to_vec()).is_ok() {
                self.wake.wake();
            }
        }
    }
}

impl Drop for UserNetwork {
    /// Stop the thread and wait for it: slirp closes its sockets (the forwarded ports are
    /// free again when this returns, e.g. for the machine a reboot builds next).
    fn drop(&mut self) {
        self.to_slirp = None;
        self.wake.wake();
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

/// slirp's callbacks: its clock, its timers, and where its frames for the guest go.
struct Callbacks {
    start: Instant,
    deliver: FrameSink,
    timers: Timers,
}

/// slirp's timers, kept by us and run by the poll loop.
#[derive(Default)]
struct Timers {
    /// By id (`None`: a free id).
    entries: Vec<Option<TimerEntry>>,
}

/// One of slirp's timers.
struct TimerEntry {
    /// The callback (taken out while it runs).
    func: Option<Box<dyn FnMut()>>,
    /// When it is due, in ns of our clock (`None`: not armed).
    deadline: Option<i64>,
}

impl Timers {
    fn next_deadline(&self) -> Option<i64> {
        self.entries.iter().flatten().filter_map(|e| e.deadline).min()
    }
}

type Shared = Rc<RefCell<Callbacks>>;

impl Handler for Callbacks {
    type Timer = usize;

    fn clock_get_ns(&mut self) -> i64 {
        self.start.elapsed().as_nanos() as i64
    }

    fn send_packet(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        if (MIN_FRAME..=MAX_FRAME).contains(&buf.len()) {
            (self.deliver)(buf.to_vec());
        }
        Ok(buf.len())
    }

    fn register_poll_fd(&mut self, _fd: RawFd) {}

    fn unregister_poll_fd(&mut self, _fd: RawFd) {}

    fn guest_error(&mut self, msg: &str) {
        tracing::warn!(target: "net", "slirp: the guest sent something wrong: {msg}");
    }

    fn notify(&mut self) {}

    fn timer_new(&mut self, func: Box<dyn FnMut()>) -> Box<usize> {
        let entries = &mut self.timers.entries;
        let id = entries.iter().position(Option::is_none).unwrap_or(entries.len());
        if id == entries.len() {
            entries.push(None);
        }
        entries[id] = Some(TimerEntry {
            func: Some(func),
            deadline: None,
        });
        Box::new(id)
    }

    fn timer_mod(&mut self, timer: &mut Box<usize>, expire_time: i64) {
        // slirp gives the deadline in ms of the clock it reads through clock_get_ns.
        if let Some(Some(entry)) = self.timers.entries.get_mut(**timer) {
            entry.deadline = Some(expire_time.saturating_mul(1_000_000));
        }
    }

    fn timer_free(&mut self, timer: Box<usize>) {
        if let Some(slot) = self.timers.entries.get_mut(*timer) {
            *slot = None;
        }
    }
}

/// Build the slirp stack and its forwards.
fn new_stack(options: &UserOptions, deliver: FrameSink) -> Result<(Context<Shared>, Shared), String> {
    let callbacks = Rc::new(RefCell::new(Callbacks {
        start: Instant::now(),
        deliver,
        timers: Timers::default(),
    }));
    let config = libslirp_sys::SlirpConfig {
        // Version 1: the fields up to enable_emu.
        version: 1,
        restricted: i32::from(options.restrict),
        in_enabled: true,
        vnetwork: NETWORK.into(),
        vnetmask: NETMASK.into(),
        vhost: HOST.into(),
        in6_enabled: options.ipv6,
        vprefix_addr6: PREFIX6.into(),
        vprefix_len: 64,
        vhost6: HOST6.into(),
        vhostname: std::ptr::null(),
        tftp_server_name: std::ptr::null(),
        tftp_path: std::ptr::null(),
        bootfile: std::ptr::null(),
        vdhcp_start: GUEST.into(),
        vnameserver: NAMESERVER.into(),
        vnameserver6: NAMESERVER6.into(),
        vdnssearch: std::ptr::null_mut(),
        vdomainname: std::ptr::null(),
        if_mtu: usize::from(options.mtu),
        if_mru: usize::from(options.mtu),
        disable_host_loopback: false,
        enable_emu: false,
        outbound_addr: std::ptr::null(),
        outbound_addr6: std::ptr::null(),
        disable_dns: false,
        disable_dhcp: false,
    };
    let slirp = Context::new_with_config(&config, callbacks.clone());
    for fwd in &options.hostfwd {
        let guest = fwd.guest_addr.unwrap_or(Ipv4Addr::UNSPECIFIED);
        // SAFETY: the context pointer is slirp's, alive as long as `slirp`; the addresses
        // are plain values.
        let r = unsafe {
            libslirp_sys::slirp_add_hostfwd(
                slirp.inner.context,
                i32::from(fwd.udp),
                fwd.host_addr.into(),
                i32::from(fwd.host_port),
                guest.into(),
                i32::from(fwd.guest_port),
            )
        };
        if r != 0 {
            return Err(format!(
                "hostfwd {fwd}: cannot listen on {}:{} (in use, or not an address of this host)",
                fwd.host_addr, fwd.host_port
            ));
        }
    }
    Ok((slirp, callbacks))
}

fn to_poll(events: PollEvents) -> libc::c_short {
    let mut e = 0;
    if events.has_in() {
        e |= libc::POLLIN;
    }
    if events.has_out() {
        e |= libc::POLLOUT;
    }
    if events.has_pri() {
        e |= libc::POLLPRI;
    }
    e
}

fn from_poll(revents: libc::c_short) -> PollEvents {
    let mut e = PollEvents::empty();
    if revents & libc::POLLIN != 0 {
        e |= PollEvents::poll_in();
    }
    if revents & libc::POLLOUT != 0 {
        e |= PollEvents::poll_out();
    }
    if revents & libc::POLLPRI != 0 {
        e |= PollEvents::poll_pri();
    }
    if revents & libc::POLLERR != 0 {
        e |= PollEvents::poll_err();
    }
    if revents & libc::POLLHUP != 0 {
        e |= PollEvents::poll_hup();
    }
    e
}

/// The thread's life: hand the guest's frames to slirp, poll slirp's sockets, run its
/// timers; until the backend is dropped.
fn poll_loop(slirp: &Context<Shared>, callbacks: &Shared, from_guest: &Receiver<Vec<u8>>, wake: &Wake) {
    let mut fds: Vec<libc::pollfd> = Vec::new();
    loop {
        loop {
            match from_guest.try_recv() {
                Ok(frame) => slirp.input(&frame),
                Err(TryRecvError::Empty) => break,
                Err(TryRecvError::Disconnected) => return,
            }
        }
        fds.clear();
        fds.push(libc::pollfd {
            fd: wake.fd(),
            events: libc::POLLIN,
            revents: 0,
        });
        let mut timeout_ms: u32 = 1000;
        slirp.pollfds_fill(&mut timeout_ms, |fd, events| {
            fds.push(libc::pollfd {
                fd,
                events: to_poll(events),
                revents: 0,
            });
            (fds.len() - 1) as i32
        });
        let now = callbacks.borrow().start.elapsed().as_nanos() as i64;
        if let Some(deadline) = callbacks.borrow().timers.next_deadline() {
            let ms = ((deadline - now).max(0) as u64).div_ceil(1_000_000);
            timeout_ms = timeout_ms.min(u32::try_from(ms).unwrap_or(u32::MAX));
        }
        let result = poll(&mut fds, i32::try_from(timeout_ms).unwrap_or(i32::MAX));
        if let Err(e) = &result {
            tracing::warn!(target: "net", "slirp: poll: {e}");
        }
        slirp.pollfds_poll(result.is_err(), |idx| {
            fds.get(idx as usize)
                .map_or(PollEvents::empty(), |p| from_poll(p.revents))
        });
        if fds[0].revents & libc::POLLIN != 0 {
            wake.drain();
        }
        run_due_timers(callbacks);
    }
}

/// Run every timer whose deadline has passed. A timer's callback may create, change or free
/// timers (itself included), so it runs with the callbacks' state unborrowed.
fn run_due_timers(callbacks: &Shared) {
    let now = callbacks.borrow().start.elapsed().as_nanos() as i64;
    let due: Vec<usize> = callbacks
        .borrow()
        .timers
        .entries
        .iter()
        .enumerate()
        .filter_map(|(id, e)| match e {
            Some(TimerEntry {
                deadline: Some(deadline),
                ..
            }) if *deadline <= now => Some(id),
            _ => None,
        })
        .collect();
    for id in due {
        let func = match callbacks.borrow_mut().timers.entries.get_mut(id) {
            Some(Some(entry)) => {
                entry.deadline = None;
                entry.func.take()
            }
            _ => None,
        };
        let Some(mut func) = func else { continue };
        func();
        if let Some(Some(entry)) = callbacks.borrow_mut().timers.entries.get_mut(id) {
            if entry.func.is_none() {
                entry.func = Some(func);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::spec::HostFwd;
    use std::io::{Read, Write};
    use std::net::{TcpListener, TcpStream};
    use std::time::Duration;

    const GUEST_MAC: [u8; 6] = [0x52, 0x54, 0x00, 0x12, 0x34, 0x56];

    fn checksum(data: &[u8]) -> u16 {
        let mut sum = 0u32;
        for pair in data.chunks(2) {
            sum += u32::from(u16::from_be_bytes([pair[0], *pair.get(1).unwrap_or(&0)]));
        }
        while sum > 0xffff {
            sum = (sum & 0xffff) + (sum >> 16);
        }
        !(sum as u16)
    }

    /// An Ethernet + IPv4 + UDP frame from the guest.
    fn udp_frame(src: Ipv4Addr, dst: Ipv4Addr, sport: u16, dport: u16, payload: &[u8]) -> Vec<u8> {
        let mut f = Vec::new();
        f.extend_from_slice(&[0xff; 6]);
        f.extend_from_slice(&GUEST_MAC);
        f.extend_from_slice(&[0x08, 0x00]);
        let total = 20 + 8 + payload.len();
        let mut ip = vec![0x45, 0, (total >> 8) as u8, total as u8, 0, 1, 0, 0, 64, 17, 0, 0];
        ip.extend_from_slice(&src.octets());
        ip.extend_from_slice(&dst.octets());
        let c = checksum(&ip);
        ip[10..12].copy_from_slice(&c.to_be_bytes());
        f.extend_from_slice(&ip);
        let len = (8 + payload.len()) as u16;
        f.extend_from_slice(&sport.to_be_bytes());
        f.extend_from_slice(&dport.to_be_bytes());
        f.extend_from_slice(&len.to_be_bytes());
        f.extend_from_slice(&[0, 0]); // no UDP checksum
        f.extend_from_slice(payload);
        f
    }

    /// A minimal DHCPDISCOVER (RFC 2131) from the guest's MAC.
    fn dhcp_discover() -> Vec<u8> {
        let mut b = vec![0u8; 240];
        b[0] = 1; // BOOTREQUEST
        b[1] = 1; // Ethernet
        b[2] = 6;
        b[4..8].copy_from_slice(&0x1234_5678u32.to_be_bytes());
        b[28..34].copy_from_slice(&GUEST_MAC);
        b[236..240].copy_from_slice(&[99, 130, 83, 99]); // magic cookie
        b.extend_from_slice(&[53, 1, 1, 255]); // DHCPDISCOVER, end
        udp_frame(Ipv4Addr::UNSPECIFIED, Ipv4Addr::BROADCAST, 68, 67, &b)
    }

    fn start(options: &UserOptions) -> (UserNetwork, Receiver<Vec<u8>>) {
        let (tx, rx) = crossbeam_channel::unbounded();
        let net = UserNetwork::start(options, Box::new(move |f| tx.send(f).is_ok())).unwrap();
        (net, rx)
    }

    #[test]
    fn dhcp_offers_the_guest_10_0_2_15() {
        let (mut net, rx) = start(&UserOptions {
            mtu: 1500,
            ..UserOptions::default()
        });
        net.send(&dhcp_discover());
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            let frame = rx
                .recv_deadline(deadline)
                .expect("slirp answers a DHCPDISCOVER within 10 s");
            // Ethernet(14) + IPv4(20) + UDP(8): BOOTP yiaddr at 16.
            if frame.len() > 42 + 240 && frame[12..14] == [0x08, 0x00] && frame[23] == 17 {
                let bootp = &frame[42..];
                assert_eq!(bootp[0], 2, "BOOTREPLY");
                assert_eq!(&bootp[28..34], &GUEST_MAC, "for the guest's MAC");
                assert_eq!(Ipv4Addr::from(<[u8; 4]>::try_from(&bootp[16..20]).unwrap()), GUEST);
                assert_eq!(Ipv4Addr::from(<[u8; 4]>::try_from(&frame[26..30]).unwrap()), HOST);
                break;
            }
        }
    }

    #[test]
    fn a_forwarded_host_port_listens_until_the_network_is_dropped() {
        // A free port on the loopback, then forwarded.
        let port = TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
        let options = UserOptions {
            hostfwd: vec![HostFwd {
                udp: false,
                host_addr: Ipv4Addr::LOCALHOST,
                host_port: port,
                guest_addr: None,
                guest_port: 22,
            }],
            mtu: 1500,
            ..UserOptions::default()
        };
        let (net, rx) = start(&options);
        // Taken: a second stack cannot forward the same port.
        let (tx2, _rx2) = crossbeam_channel::unbounded();
        let e = UserNetwork::start(&options, Box::new(move |f| tx2.send(f).is_ok()))
            .err()
            .expect("the port is in use");
        assert!(e.contains(&format!("127.0.0.1:{port}")), "{e}");
        // A host client connects; slirp turns it into a SYN for the guest, after an ARP
        // request for 10.0.2.15 (the guest has never spoken).
        let mut client = TcpStream::connect(("127.0.0.1", port)).unwrap();
        let frame = rx.recv_timeout(Duration::from_secs(10)).expect("a frame for the guest");
        assert_eq!(&frame[12..14], &[0x08, 0x06], "ARP");
        assert_eq!(&frame[38..42], &GUEST.octets(), "who has 10.0.2.15");
        drop(net);
        // The stack is gone: the port is closed (the connection is reset or ends).
        let mut buf = [0u8; 1];
        client.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
        assert!(matches!(client.read(&mut buf), Ok(0) | Err(_)));
        let _ = client.write_all(b"x");
        assert!(TcpListener::bind(("127.0.0.1", port)).is_ok(), "the port is free again");
    }
}
