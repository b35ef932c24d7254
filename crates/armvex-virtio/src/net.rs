//! virtio-net (virtio 1.2 §5.1): an Ethernet card.
//!
//! The device has two queues for one pair of directions (no control queue, no multiqueue):
//!
//! * **receiveq** (queue 0): the driver fills it with empty, device-writable buffers; each
//!   frame from the network goes into one (or, with mergeable buffers, several) of them;
//! * **transmitq** (queue 1): each chain is one frame for the network, device-readable.
//!
//! Every frame travels behind a header, `struct virtio_net_hdr` (§5.1.6):
//!
//! | offset | field | use here |
//! |---|---|---|
//! | 0 | `flags` (u8) | transmit: NEEDS_CSUM (1) asks the device to finish a checksum |
//! | 1 | `gso_type` (u8) | NONE (0): segmentation offload is not offered |
//! | 2 | `hdr_len` (le16) | unused without GSO |
//! | 4 | `gso_size` (le16) | unused without GSO |
//! | 6 | `csum_start` (le16) | with NEEDS_CSUM: where the checksummed bytes start |
//! | 8 | `csum_offset` (le16) | with NEEDS_CSUM: where, after `csum_start`, the checksum goes |
//! | 10 | `num_buffers` (le16) | receive: how many buffers the frame took |
//!
//! The header is 12 bytes when VERSION_1 or MRG_RXBUF is negotiated, else (a legacy driver
//! without mergeable buffers) the first 10.
//!
//! ## Features offered (§5.1.3)
//!
//! * MAC (5): the configuration space holds the card's address (QEMU's default
//!   52:54:00:12:34:56, the last byte counting up per card, or `mac=`);
//! * STATUS (16): the link is always up (VIRTIO_NET_S_LINK_UP);
//! * MRG_RXBUF (15): a received frame may span several receive buffers, `num_buffers` says
//!   how many; Linux then posts page-sized buffers, which saves it memory and work;
//! * MTU (3), only for a network whose MTU is not 1500 (`--netdev user,mtu=65520`): the
//!   driver takes the configuration's `mtu` as eth0's MTU, so guest and network exchange
//!   frames of up to 64 KiB (over several mergeable buffers), far fewer for the same bytes;
//! * CSUM (0): the driver may leave a TCP/UDP checksum for the device to finish (it sums
//!   from `csum_start` to the end and stores the result at `csum_start + csum_offset`, as a
//!   card with checksum offload does). The emulator does that sum natively, faster than the
//!   guest would do it in emulated instructions. GUEST_CSUM (receive checksums already
//!   verified) is not offered: the device does not know whether a backend's checksums are good.
//!
//! Not offered: segmentation offloads (GSO/TSO/UFO; frames stay within the MTU), the control
//! queue (no receive filtering: the card delivers every frame, as promiscuous), multiqueue,
//! announcements.
//!
//! ## The host side
//!
//! Frames the guest sends go to the card's [`NetPort`] (an `armvex_net` backend: libslirp,
//! a tap, nothing) at once, from within the notification. Frames from the network arrive as
//! host input ([`VirtioDevice::host_input`], one frame per call), delivered by the machine at
//! recorded points of virtual time; a frame that finds no receive buffer waits in the card
//! (at most [`MAX_PENDING_FRAMES`] frames and [`MAX_PENDING_BYTES`] bytes; beyond that it is
//! dropped, as a card with a full ring drops) until the driver posts buffers and notifies the
//! receive queue. A frame that arrives while the receive queue is not live (before the driver
//! is up, after a reset) is dropped.
//!
//! ## Robustness
//!
//! Nothing the guest writes can crash the emulator: the queue layer validates every chain
//! ([`crate::queue`]); the device drops (with a debug log) a transmitted chain shorter than its
//! header, a frame shorter than an Ethernet header or longer than [`armvex_net::MAX_FRAME`], a
//! GSO frame, and a NEEDS_CSUM frame whose checksum would lie outside it; and returns the chain
//! to the driver either way. A receive buffer too small for a frame (without mergeable
//! buffers) is left to the driver and the frame dropped.
//!
//! ## Saved state
//!
//! The MAC (checked on load), the modes derived from the negotiated features, the frames
//! waiting for receive buffers, and how many frames the guest has sent (so that reverse
//! execution sends none twice, see [`NetPort`]). The backend's host side (slirp's
//! connections) is not state: see `armvex_net::slirp`.

use crate::device::{Queues, VirtioDevice};
use crate::error::MacError;
use crate::features::VERSION_1;
use crate::queue::{DescriptorChain, QueueError};
use armvex_bus::state::{self, StateError};
use armvex_net::{MAX_FRAME, MIN_FRAME, NetBackend, NetPort};
use serde::{Deserialize, Serialize};
use std::collections::VecDeque;

/// Virtio device ID of a network card (§5.1.1).
pub const DEVICE_ID: u32 = 1;
/// QueueNumMax of both queues (QEMU's default).
pub const QUEUE_SIZE: u16 = 256;
/// The receive queue.
pub const RECEIVEQ: usize = 0;
/// The transmit queue.
pub const TRANSMITQ: usize = 1;
/// Frames waiting for receive buffers, at most.
pub const MAX_PENDING_FRAMES: usize = 4096;
/// Bytes of frames waiting for receive buffers, at most.
pub const MAX_PENDING_BYTES: usize = 8 << 20;
/// QEMU's default MAC address for the first card.
pub const DEFAULT_MAC: [u8; 6] = [0x52, 0x54, 0x00, 0x12, 0x34, 0x56];

/// Feature bits of virtio-net (§5.1.3).
pub mod feature {
    /// The device completes checksums the driver leaves partial on transmit.
    pub const CSUM: u64 = 1 << 0;
    /// The driver accepts received packets with partial checksums.
    pub const GUEST_CSUM: u64 = 1 << 1;
    /// The configuration has the maximum MTU.
    pub const MTU: u64 = 1 << 3;
    /// The configuration has the card's MAC address.
    pub const MAC: u64 = 1 << 5;
    /// The driver accepts TCPv4 segmentation offload on receive (not offered).
    pub const GUEST_TSO4: u64 = 1 << 7;
    /// The device segments TCPv4 on transmit (not offered).
    pub const HOST_TSO4: u64 = 1 << 11;
    /// A received frame may span several receive buffers.
    pub const MRG_RXBUF: u64 = 1 << 15;
    /// The configuration has the link status.
    pub const STATUS: u64 = 1 << 16;
    /// A control queue (not offered).
    pub const CTRL_VQ: u64 = 1 << 17;
}

/// `virtio_net_hdr.flags`: the checksum from `csum_start` on is left to the device.
pub const HDR_F_NEEDS_CSUM: u8 = 1;
/// `virtio_net_hdr.gso_type`: no segmentation offload.
pub const HDR_GSO_NONE: u8 = 0;
/// Configuration `status`: the link is up.
pub const S_LINK_UP: u16 = 1;

/// A virtio-net card.
pub struct NetDevice {
    mac: [u8; 6],
    /// Offered with the MTU feature when the network's MTU is not Ethernet's 1500.
    mtu: Option<u16>,
    port: NetPort,
    /// Header length: 12 with VERSION_1 or MRG_RXBUF, else 10.
    header_len: usize,
    mergeable: bool,
    /// The driver accepted CSUM: finish checksums of NEEDS_CSUM frames.
    checksum_offload: bool,
    pending: VecDeque<Vec<u8>>,
    pending_bytes: usize,
    /// Staging buffer for a transmitted chain.
    scratch: Vec<u8>,
}

/// What [`NetDevice`] saves.
#[derive(Serialize, Deserialize)]
struct NetState {
    mac: [u8; 6],
    header_len: u8,
    mergeable: bool,
    checksum_offload: bool,
    pending: Vec<Vec<u8>>,
    /// Frames the guest has sent ([`NetPort::position`]).
    sent: u64,
}

/// The fields of `struct virtio_net_hdr` (§5.1.6) a transmitted frame's header carries that
/// this device looks at (`hdr_len`, `gso_size` and `num_buffers` matter only with offloads it
/// does not offer).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct NetHeader {
    /// `flags`: NEEDS_CSUM asks the device to fill in a checksum.
    flags: u8,
    /// `gso_type`: must be GSO_NONE.
    gso_type: u8,
    /// `csum_start`: where the checksummed bytes start, from the frame's first byte.
    csum_start: u16,
    /// `csum_offset`: where the checksum goes, from `csum_start`.
    csum_offset: u16,
}

impl NetHeader {
    /// The fields of a 10- or 12-byte header.
    fn parse(bytes: &[u8]) -> NetHeader {
        NetHeader {
            flags: bytes[0],
            gso_type: bytes[1],
            csum_start: u16::from_le_bytes([bytes[6], bytes[7]]),
            csum_offset: u16::from_le_bytes([bytes[8], bytes[9]]),
        }
    }
}

/// Why a transmitted frame was dropped (the guest is not told: a real card drops such frames
/// too). `Display` is the reason logged at `debug`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum TxDrop {
    /// Fewer readable bytes than the header.
    ShortHeader { len: u64, header_len: usize },
    /// A frame shorter than an Ethernet header or longer than the largest frame.
    FrameLength(u64),
    /// The chain's bytes could not be read.
    Unreadable,
    /// A segmentation offload type, which is not offered.
    Gso(u8),
    /// NEEDS_CSUM without the CSUM feature negotiated.
    CsumNotNegotiated,
    /// A checksum position outside the frame.
    CsumOutside { start: usize, offset: usize, frame: usize },
}

impl std::fmt::Display for TxDrop {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            TxDrop::ShortHeader { len, header_len } => write!(f, "{len} bytes, less than the {header_len}-byte header"),
            TxDrop::FrameLength(n) => write!(f, "a frame of {n} bytes"),
            TxDrop::Unreadable => write!(f, "unreadable"),
            TxDrop::Gso(t) => write!(f, "GSO type {t} (segmentation offload is not offered)"),
            TxDrop::CsumNotNegotiated => write!(f, "NEEDS_CSUM without CSUM negotiated"),
            TxDrop::CsumOutside { start, offset, frame } => {
                write!(f, "checksum at {start}+{offset} outside a frame of {frame}")
            }
        }
    }
}

/// Parse a MAC address `aa:bb:cc:dd:ee:ff`.
pub fn parse_mac(s: &str) -> Result<[u8; 6], MacError> {
    let mut mac = [0u8; 6];
    let mut parts = s.split(':');
    for byte in &mut mac {
        let part = parts.next().filter(|p| p.len() == 2).ok_or_else(|| bad_mac(s))?;
        *byte = u8::from_str_radix(part, 16).map_err(|_| bad_mac(s))?;
    }
    if parts.next().is_some() {
        return Err(bad_mac(s));
    }
    if mac[0] & 1 != 0 {
        return Err(MacError::Multicast(s.to_string()));
    }
    Ok(mac)
}

fn bad_mac(s: &str) -> MacError {
    MacError::Syntax(s.to_string())
}

/// The Internet checksum (RFC 1071) of `data` folded into 16 bits and complemented, as a
/// card with checksum offload writes it; 0 becomes 0xffff (0 means "no checksum" in UDP).
fn internet_checksum(data: &[u8]) -> u16 {
    let mut sum = 0u64;
    let mut chunks = data.chunks_exact(2);
    for pair in &mut chunks {
        sum += u64::from(u16::from_be_bytes([pair[0], pair[1]]));
    }
    if let [last] = chunks.remainder() {
        sum += u64::from(*last) << 8;
    }
    while sum > 0xffff {
        sum = (sum & 0xffff) + (sum >> 16);
    }
    match !(sum as u16) {
        0 => 0xffff,
        c => c,
    }
}

impl NetDevice {
    /// A card with address `mac` whose frames go to `backend`.
    pub fn new(mac: [u8; 6], backend: Box<dyn NetBackend>) -> NetDevice {
        NetDevice {
            mac,
            mtu: None,
            port: NetPort::new(backend),
            header_len: 10,
            mergeable: false,
            checksum_offload: false,
            pending: VecDeque::new(),
            pending_bytes: 0,
            scratch: Vec::new(),
        }
    }

    /// Tell the driver the network's MTU (the MTU feature, §5.1.4.1): for a network whose MTU
    /// is not 1500, such as `--netdev user,mtu=65520`.
    pub fn with_mtu(mut self, mtu: u16) -> Self {
        self.mtu = Some(mtu);
        self
    }

    /// The card's MAC address.
    pub fn mac(&self) -> [u8; 6] {
        self.mac
    }

    /// Frames waiting for receive buffers.
    pub fn pending_frames(&self) -> usize {
        self.pending.len()
    }

    /// Send every frame on the transmit queue.
    fn transmit(&mut self, queues: &mut Queues) -> Result<(), QueueError> {
        while let Some(chain) = queues.pop(TRANSMITQ)? {
            self.transmit_one(&chain, queues);
            queues.add_used(TRANSMITQ, chain.head, 0)?;
        }
        Ok(())
    }

    /// Send one chain's frame, or drop it with a reason.
    fn transmit_one(&mut self, chain: &DescriptorChain, queues: &mut Queues) {
        if let Err(why) = self.send_frame(chain, queues) {
            tracing::debug!(target: "virtio", "virtio-net: frame of chain {} dropped: {why}", chain.head);
        }
    }

    /// Read the chain's header and frame, parse the header, apply the checksum it asks for
    /// and send the frame.
    fn send_frame(&mut self, chain: &DescriptorChain, queues: &mut Queues) -> Result<(), TxDrop> {
        let len = chain.readable_len();
        let header_len = self.header_len;
        let frame_len = len
            .checked_sub(header_len as u64)
            .ok_or(TxDrop::ShortHeader { len, header_len })?;
        if frame_len < MIN_FRAME as u64 || frame_len > MAX_FRAME as u64 {
            return Err(TxDrop::FrameLength(frame_len));
        }
        self.scratch.resize(len as usize, 0);
        if chain.reader().read(queues.memory(), &mut self.scratch).ok() != Some(len as usize) {
            return Err(TxDrop::Unreadable);
        }
        let (header, frame) = self.scratch.split_at_mut(header_len);
        let header = NetHeader::parse(header);
        if header.gso_type != HDR_GSO_NONE {
            return Err(TxDrop::Gso(header.gso_type));
        }
        if header.flags & HDR_F_NEEDS_CSUM != 0 {
            if !self.checksum_offload {
                return Err(TxDrop::CsumNotNegotiated);
            }
            let (start, offset) = (usize::from(header.csum_start), usize::from(header.csum_offset));
            let at = start + offset;
            if start >= frame.len() || at + 2 > frame.len() {
                return Err(TxDrop::CsumOutside {
                    start,
                    offset,
                    frame: frame.len(),
                });
            }
            let sum = internet_checksum(&frame[start..]);
            frame[at..at + 2].copy_from_slice(&sum.to_be_bytes());
        }
        self.port.send(frame);
        Ok(())
    }

    /// A frame from the network: keep it (if there is room and the receive queue is live) and
    /// deliver what the driver has buffers for.
    fn receive(&mut self, frame: &[u8], queues: &mut Queues) -> Result<(), QueueError> {
        if !(MIN_FRAME..=MAX_FRAME).contains(&frame.len()) {
            tracing::debug!(target: "virtio", "virtio-net: received frame of {} bytes dropped", frame.len());
            return Ok(());
        }
        if !queues.is_live(RECEIVEQ) {
            tracing::debug!(target: "virtio", "virtio-net: frame dropped: the receive queue is not live");
            return Ok(());
        }
        if self.pending.len() >= MAX_PENDING_FRAMES || self.pending_bytes + frame.len() > MAX_PENDING_BYTES {
            tracing::debug!(target: "virtio", "virtio-net: frame dropped: {} frames wait for receive buffers",
                self.pending.len());
            return Ok(());
        }
        self.pending_bytes += frame.len();
        self.pending.push_back(frame.to_vec());
        self.deliver_pending(queues)
    }

    /// Put waiting frames into receive buffers while there are buffers.
    fn deliver_pending(&mut self, queues: &mut Queues) -> Result<(), QueueError> {
        if !queues.is_live(RECEIVEQ) {
            return Ok(());
        }
        while let Some(frame) = self.pending.front() {
            let delivered = if self.mergeable {
                self.deliver_mergeable(frame, queues)?
            } else {
                self.deliver_one(frame, queues)?
            };
            match delivered {
                Some(true) | None => {
                    // Delivered, or dropped because no buffer of the ring can ever hold it.
                    let frame = self.pending.pop_front().unwrap_or_default();
                    self.pending_bytes -= frame.len();
                }
                Some(false) => return Ok(()),
            }
        }
        Ok(())
    }

    /// The header of a received frame that takes `buffers` buffers.
    fn receive_header(&self, buffers: u16) -> [u8; 12] {
        let mut h = [0u8; 12];
        h[10..12].copy_from_slice(&buffers.to_le_bytes());
        h
    }

    /// Without mergeable buffers: the frame in one chain. `Some(true)` delivered,
    /// `Some(false)` no buffer yet, `None` dropped (the buffer is too small).
    fn deliver_one(&self, frame: &[u8], queues: &mut Queues) -> Result<Option<bool>, QueueError> {
        let Some(chain) = queues.pop(RECEIVEQ)? else {
            return Ok(Some(false));
        };
        let needed = (self.header_len + frame.len()) as u64;
        if chain.writable_len() < needed {
            // Leave the buffer to the driver; this frame cannot fit any buffer of its size.
            queues.unpop(RECEIVEQ, 1);
            tracing::debug!(target: "virtio", "virtio-net: frame of {} bytes dropped: receive buffer of {} bytes",
                frame.len(), chain.writable_len());
            return Ok(None);
        }
        let header = self.receive_header(1);
        let mut writer = chain.writer();
        let memory = queues.memory();
        let written =
            writer.write(memory, &header[..self.header_len]).unwrap_or(0) + writer.write(memory, frame).unwrap_or(0);
        queues.add_used(RECEIVEQ, chain.head, written as u32)?;
        Ok(Some(true))
    }

    /// With mergeable buffers: the frame across as many chains as it needs, the header (with
    /// their number) at the start of the first. `Some(false)` if the driver has not posted
    /// enough yet (nothing is taken).
    fn deliver_mergeable(&self, frame: &[u8], queues: &mut Queues) -> Result<Option<bool>, QueueError> {
        let needed = (self.header_len + frame.len()) as u64;
        let mut chains = Vec::new();
        let mut room = 0u64;
        while room < needed {
            match queues.pop(RECEIVEQ)? {
                Some(chain) => {
                    room += chain.writable_len();
                    chains.push(chain);
                }
                None => {
                    queues.unpop(RECEIVEQ, chains.len() as u16);
                    return Ok(Some(false));
                }
            }
        }
        let header = self.receive_header(chains.len() as u16);
        let mut bytes = header[..self.header_len].iter().chain(frame.iter()).copied();
        let mut chunk = Vec::with_capacity(needed as usize);
        for chain in &chains {
            chunk.clear();
            chunk.extend(bytes.by_ref().take(chain.writable_len() as usize));
            let written = chain.writer().write(queues.memory(), &chunk).unwrap_or(0);
            queues.add_used(RECEIVEQ, chain.head, written as u32)?;
        }
        Ok(Some(true))
    }
}

impl VirtioDevice for NetDevice {
    fn name(&self) -> &str {
        "virtio-net"
    }

    fn device_id(&self) -> u32 {
        DEVICE_ID
    }

    fn device_features(&self) -> u64 {
        let mtu = if self.mtu.is_some() { feature::MTU } else { 0 };
        feature::MAC | feature::STATUS | feature::MRG_RXBUF | feature::CSUM | mtu
    }

    /// `struct virtio_net_config` (§5.1.4): mac\[6\], status, max_virtqueue_pairs (1), mtu.
    fn read_config(&self, offset: u32, data: &mut [u8]) {
        let mut c = [0u8; 12];
        c[0..6].copy_from_slice(&self.mac);
        c[6..8].copy_from_slice(&S_LINK_UP.to_le_bytes());
        c[8..10].copy_from_slice(&1u16.to_le_bytes());
        c[10..12].copy_from_slice(&self.mtu.unwrap_or(1500).to_le_bytes());
        for (i, byte) in data.iter_mut().enumerate() {
            *byte = (offset as usize)
                .checked_add(i)
                .and_then(|o| c.get(o))
                .copied()
                .unwrap_or(0);
        }
    }

    fn queue_max_sizes(&self) -> Vec<u16> {
        vec![QUEUE_SIZE, QUEUE_SIZE]
    }

    fn activate(&mut self, negotiated: u64) {
        self.mergeable = negotiated & feature::MRG_RXBUF != 0;
        self.header_len = if negotiated & (VERSION_1 | feature::MRG_RXBUF) != 0 {
            12
        } else {
            10
        };
        self.checksum_offload = negotiated & feature::CSUM != 0;
    }

    fn queue_notify(&mut self, index: usize, queues: &mut Queues) -> Result<(), QueueError> {
        match index {
            RECEIVEQ => self.deliver_pending(queues),
            TRANSMITQ => self.transmit(queues),
            _ => Ok(()),
        }
    }

    fn host_input(&mut self, frame: &[u8], queues: &mut Queues) -> Result<(), QueueError> {
        self.receive(frame, queues)
    }

    fn reset(&mut self) {
        self.header_len = 10;
        self.mergeable = false;
        self.checksum_offload = false;
        self.pending.clear();
        self.pending_bytes = 0;
    }

    fn save_state(&self) -> Vec<u8> {
        state::encode(&NetState {
            mac: self.mac,
            header_len: self.header_len as u8,
            mergeable: self.mergeable,
            checksum_offload: self.checksum_offload,
            pending: self.pending.iter().cloned().collect(),
            sent: self.port.position(),
        })
    }

    fn load_state(&mut self, bytes: &[u8]) -> Result<(), StateError> {
        let s: NetState = state::decode(bytes, "virtio-net")?;
        if s.mac != self.mac {
            let show = |m: [u8; 6]| m.map(|b| format!("{b:02x}")).join(":");
            return Err(StateError(format!(
                "the saved card has MAC {}, this one {}",
                show(s.mac),
                show(self.mac)
            )));
        }
        if !matches!(s.header_len, 10 | 12) {
            return Err(StateError(format!(
                "saved header length {} is impossible",
                s.header_len
            )));
        }
        let bytes: usize = s.pending.iter().map(Vec::len).sum();
        if s.pending.len() > MAX_PENDING_FRAMES
            || bytes > MAX_PENDING_BYTES
            || s.pending.iter().any(|f| !(MIN_FRAME..=MAX_FRAME).contains(&f.len()))
        {
            return Err(StateError(
                "the saved frames waiting for receive buffers do not fit".into(),
            ));
        }
        self.header_len = usize::from(s.header_len);
        self.mergeable = s.mergeable;
        self.checksum_offload = s.checksum_offload;
        self.pending = s.pending.into();
        self.pending_bytes = bytes;
        self.port.set_position(s.sent);
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::features::{EVENT_IDX, INDIRECT_DESC};
    use crate::fuzzing::fuzz_virtio_net;
    use crate::testing::*;
    use crate::transport::{INT_USED_BUFFER, VirtioMmio, regs, status};
    use std::sync::{Arc, Mutex};

    const RX_RING: u32 = RAM_BASE + 0x1_0000;
    const TX_RING: u32 = RAM_BASE + 0x2_0000;
    const BUFS: u32 = RAM_BASE + 0x4_0000;

    /// A backend that keeps what the guest sent.
    #[derive(Clone, Default)]
    struct Wire(Arc<Mutex<Vec<Vec<u8>>>>);
    impl NetBackend for Wire {
        fn send(&mut self, frame: &[u8]) {
            self.0.lock().unwrap().push(frame.to_vec());
        }
    }
    impl Wire {
        fn frames(&self) -> Vec<Vec<u8>> {
            self.0.lock().unwrap().clone()
        }
    }

    /// Linux 6.1's virtio_net feature table, as far as this card's bits go.
    const LINUX_NET_FEATURES: u64 = feature::CSUM
        | feature::GUEST_CSUM
        | feature::MAC
        | feature::MRG_RXBUF
        | feature::STATUS
        | feature::CTRL_VQ
        | feature::MTU
        | feature::GUEST_TSO4
        | feature::HOST_TSO4
        | INDIRECT_DESC
        | EVENT_IDX
        | VERSION_1;

    struct Guest {
        m: Machine,
        rx: Ring,
        tx: Ring,
        wire: Wire,
        features: u64,
    }

    /// A card brought up as Linux's `virtnet_probe` does: features (masked by `accept`),
    /// MAC and status from the configuration, both queues, DRIVER_OK.
    fn guest(modern: bool, accept: u64) -> Guest {
        let wire = Wire::default();
        let card = NetDevice::new([0x52, 0x54, 0, 0x12, 0x34, 0x57], Box::new(wire.clone()));
        let mut m = Machine::new(VirtioMmio::new(modern, IRQ, Some(Box::new(card))));
        let version = if modern { 2 } else { 1 };
        assert_eq!(m.rd(regs::MAGIC_VALUE), crate::transport::MAGIC_VALUE);
        assert_eq!(m.rd(regs::VERSION), version);
        assert_eq!(m.rd(regs::DEVICE_ID), DEVICE_ID);
        if !modern {
            m.wr(regs::GUEST_PAGE_SIZE, 4096);
        }
        m.wr(regs::STATUS, 0);
        m.add_status(status::ACKNOWLEDGE | status::DRIVER);
        m.wr(regs::DEVICE_FEATURES_SEL, 1);
        let high = m.rd(regs::DEVICE_FEATURES);
        m.wr(regs::DEVICE_FEATURES_SEL, 0);
        let offered = (u64::from(high) << 32) | u64::from(m.rd(regs::DEVICE_FEATURES));
        let features = offered & LINUX_NET_FEATURES & accept;
        m.wr(regs::DRIVER_FEATURES_SEL, 1);
        m.wr(regs::DRIVER_FEATURES, (features >> 32) as u32);
        m.wr(regs::DRIVER_FEATURES_SEL, 0);
        m.wr(regs::DRIVER_FEATURES, features as u32);
        if modern {
            m.add_status(status::FEATURES_OK);
        }
        assert_eq!(m.config_bytes(0, 6), [0x52, 0x54, 0, 0x12, 0x34, 0x57], "mac");
        assert_eq!(m.config_bytes(6, 2), [1, 0], "link up");
        let mut rings = Vec::new();
        for (q, base) in [(0u32, RX_RING), (1, TX_RING)] {
            m.wr(regs::QUEUE_SEL, q);
            assert_eq!(m.rd(regs::QUEUE_NUM_MAX), 256);
            let ring = Ring::contiguous(base, 16, 4096);
            m.wr(regs::QUEUE_NUM, 16);
            if modern {
                m.wr(regs::QUEUE_DESC_LOW, ring.desc);
                m.wr(regs::QUEUE_DRIVER_LOW, ring.avail);
                m.wr(regs::QUEUE_DEVICE_LOW, ring.used);
                m.wr(regs::QUEUE_READY, 1);
            } else {
                m.wr(regs::QUEUE_ALIGN, 4096);
                m.wr(regs::QUEUE_PFN, base >> 12);
            }
            rings.push(ring);
        }
        m.add_status(status::DRIVER_OK);
        assert_eq!(m.rd(regs::STATUS) & status::DEVICE_NEEDS_RESET, 0);
        let tx = rings.pop().unwrap();
        let rx = rings.pop().unwrap();
        Guest {
            m,
            rx,
            tx,
            wire,
            features,
        }
    }

    impl Guest {
        fn header_len(&self) -> usize {
            if self.features & (VERSION_1 | feature::MRG_RXBUF) != 0 {
                12
            } else {
                10
            }
        }

        /// Post a receive buffer of `len` bytes at `addr`.
        fn post_rx(&mut self, addr: u32, len: u32) -> u16 {
            let head = self.rx.direct_chain(&mut self.m, &[(addr, len, true)]);
            self.rx.offer(&mut self.m, head);
            head
        }

        /// Transmit `frame` behind `header`, split in two buffers; returns the used entry.
        fn transmit(&mut self, header: &[u8], frame: &[u8]) -> Option<(u32, u32)> {
            self.m.poke(BUFS + 0x8000, header);
            self.m.poke(BUFS + 0x9000, frame);
            let head = self.tx.direct_chain(
                &mut self.m,
                &[
                    (BUFS + 0x8000, header.len() as u32, false),
                    (BUFS + 0x9000, frame.len() as u32, false),
                ],
            );
            self.tx.offer(&mut self.m, head);
            self.m.wr(regs::QUEUE_NOTIFY, 1);
            self.tx.take_used(&self.m)
        }
    }

    fn frame(len: usize, seed: u8) -> Vec<u8> {
        (0..len)
            .map(|i| (i as u8).wrapping_mul(13).wrapping_add(seed))
            .collect()
    }

    #[test]
    fn linux_negotiates_mac_status_mergeable_buffers_and_checksum_offload() {
        let g = guest(true, u64::MAX);
        assert_eq!(
            g.features,
            feature::MAC | feature::STATUS | feature::MRG_RXBUF | feature::CSUM | INDIRECT_DESC | EVENT_IDX | VERSION_1
        );
        let g = guest(false, u64::MAX);
        assert_eq!(g.header_len(), 12);
        assert_eq!(guest(false, !feature::MRG_RXBUF).header_len(), 10);
    }

    #[test]
    fn a_transmitted_frame_reaches_the_backend_and_its_chain_comes_back() {
        for (modern, accept) in [(true, u64::MAX), (false, !feature::MRG_RXBUF), (false, u64::MAX)] {
            let mut g = guest(modern, accept);
            let f = frame(60, 1);
            let header = vec![0u8; g.header_len()];
            let used = g.transmit(&header, &f).expect("the chain was used");
            assert_eq!(used.1, 0, "nothing written into a transmit chain");
            assert_eq!(g.wire.frames(), vec![f]);
            assert!(g.m.irq());
        }
    }

    #[test]
    fn checksum_offload_finishes_a_udp_checksum_as_the_stack_would() {
        let mut g = guest(true, u64::MAX);
        // Ethernet + IPv4 (20) + UDP (8) + "hello": the guest leaves the pseudo-header sum in
        // the UDP checksum field and asks the device for the rest.
        let mut f = vec![0xff; 6];
        f.extend_from_slice(&[0x52, 0x54, 0, 0x12, 0x34, 0x57, 0x08, 0x00]);
        f.extend_from_slice(&[0x45, 0, 0, 33, 0, 1, 0, 0, 64, 17, 0, 0, 10, 0, 2, 15, 10, 0, 2, 2]);
        f.extend_from_slice(&[0x30, 0x39, 0x00, 0x35, 0, 13, 0, 0]);
        f.extend_from_slice(b"hello");
        // Pseudo-header: source, destination, protocol 17, UDP length 13.
        let pseudo: u32 = 0x0a00 + 0x020f + 0x0a00 + 0x0202 + 17 + 13;
        f[40..42].copy_from_slice(&(pseudo as u16).to_be_bytes());
        let mut header = vec![0u8; 12];
        header[0] = HDR_F_NEEDS_CSUM;
        header[6..8].copy_from_slice(&34u16.to_le_bytes());
        header[8..10].copy_from_slice(&6u16.to_le_bytes());
        g.transmit(&header, &f).unwrap();
        let sent = &g.wire.frames()[0];
        // The full checksum, computed independently over pseudo-header and datagram.
        let mut full = vec![10, 0, 2, 15, 10, 0, 2, 2, 0, 17, 0, 13];
        full.extend_from_slice(&f[34..]);
        full[12 + 6..12 + 8].copy_from_slice(&[0, 0]);
        assert_eq!(sent[40..42], internet_checksum(&full).to_be_bytes());
        // The receiver's check: pseudo-header and datagram, checksum included, sum to 0xffff.
        let mut check = full[..12].to_vec();
        check.extend_from_slice(&sent[34..]);
        assert_eq!(internet_checksum(&check), 0xffff, "0 complemented, shown as 0xffff");
        assert_eq!(&sent[..40], &f[..40], "nothing else changed");
    }

    #[test]
    fn malformed_transmissions_are_dropped_and_their_chains_returned() {
        let mut g = guest(true, !feature::CSUM);
        let cases: Vec<(Vec<u8>, Vec<u8>)> = vec![
            (vec![0; 4], vec![]),                                      // shorter than the header
            (vec![0; 12], vec![]),                                     // no frame at all
            (vec![0; 12], frame(10, 0)),                               // shorter than an Ethernet header
            (vec![0, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0], frame(60, 0)),  // GSO
            (vec![1, 0, 0, 0, 0, 0, 34, 0, 6, 0, 0, 0], frame(60, 0)), // NEEDS_CSUM without CSUM
        ];
        for (header, f) in cases {
            if f.is_empty() {
                let head =
                    g.tx.direct_chain(&mut g.m, &[(BUFS + 0x8000, header.len() as u32, false)]);
                g.tx.offer(&mut g.m, head);
                g.m.wr(regs::QUEUE_NOTIFY, 1);
                assert!(g.tx.take_used(&g.m).is_some());
            } else {
                assert!(g.transmit(&header, &f).is_some());
            }
        }
        let mut g2 = guest(true, u64::MAX);
        // NEEDS_CSUM with the checksum field outside the frame.
        assert!(
            g2.transmit(&[1, 0, 0, 0, 0, 0, 50, 0, 20, 0, 0, 0], &frame(60, 0))
                .is_some()
        );
        // A frame larger than any Ethernet frame: 70000 bytes of readable data.
        let head = g2
            .tx
            .direct_chain(&mut g2.m, &[(BUFS, 12, false), (BUFS + 0x100, 70_000, false)]);
        g2.tx.offer(&mut g2.m, head);
        g2.m.wr(regs::QUEUE_NOTIFY, 1);
        assert!(g2.tx.take_used(&g2.m).is_some());
        assert!(g.wire.frames().is_empty() && g2.wire.frames().is_empty());
        assert_eq!(g.m.rd(regs::STATUS) & status::DEVICE_NEEDS_RESET, 0);
    }

    #[test]
    fn a_received_frame_lands_in_a_buffer_behind_its_header() {
        for (modern, accept) in [(true, u64::MAX), (false, !feature::MRG_RXBUF)] {
            let mut g = guest(modern, accept);
            let head = g.post_rx(BUFS, 2048);
            let f = frame(100, 7);
            g.m.bus.deliver_host_input(0, &f);
            let hl = g.header_len();
            assert_eq!(g.rx.take_used(&g.m), Some((u32::from(head), (hl + 100) as u32)));
            let mut want = vec![0u8; hl];
            if hl == 12 {
                want[10] = 1; // num_buffers
            }
            want.extend_from_slice(&f);
            assert_eq!(g.m.peek(BUFS, hl + 100), want);
            assert!(g.m.irq());
            assert_eq!(g.m.linux_interrupt(), INT_USED_BUFFER);
        }
    }

    #[test]
    fn frames_wait_for_receive_buffers_and_span_several_when_merged() {
        let mut g = guest(true, u64::MAX);
        // No buffer yet: both frames wait in the card.
        let (a, b) = (frame(1000, 1), frame(1400, 2));
        g.m.bus.deliver_host_input(0, &a);
        g.m.bus.deliver_host_input(0, &b);
        assert!(!g.m.irq());
        assert_eq!(g.rx.take_used(&g.m), None);
        // 512-byte buffers: the first frame (12 + 1000 bytes) needs two; only one is posted,
        // so nothing is delivered even after a notification.
        let h0 = g.post_rx(BUFS, 512);
        g.m.wr(regs::QUEUE_NOTIFY, 0);
        assert_eq!(g.rx.take_used(&g.m), None);
        let h1 = g.post_rx(BUFS + 0x1000, 512);
        let h2 = g.post_rx(BUFS + 0x2000, 512);
        g.m.wr(regs::QUEUE_NOTIFY, 0);
        assert_eq!(g.rx.take_used(&g.m), Some((u32::from(h0), 512)));
        assert_eq!(g.rx.take_used(&g.m), Some((u32::from(h1), 500)));
        assert_eq!(g.rx.take_used(&g.m), None, "the second frame needs three buffers");
        let mut got = g.m.peek(BUFS, 512);
        got.extend(g.m.peek(BUFS + 0x1000, 500));
        assert_eq!(&got[10..12], &[2, 0], "num_buffers");
        assert_eq!(&got[12..], &a[..]);
        for i in 3..6 {
            g.post_rx(BUFS + 0x1000 * i, 512);
        }
        g.m.wr(regs::QUEUE_NOTIFY, 0);
        let lens: Vec<u32> = std::iter::from_fn(|| g.rx.take_used(&g.m))
            .map(|(_, len)| len)
            .collect();
        assert_eq!(lens, vec![512, 512, 388], "{h2}: 12 + 1400 bytes over three buffers");
    }

    #[test]
    fn frames_before_the_driver_is_up_or_too_big_for_the_buffers_are_dropped() {
        let wire = Wire::default();
        let card = NetDevice::new(DEFAULT_MAC, Box::new(wire));
        let mut m = Machine::new(VirtioMmio::new(true, IRQ, Some(Box::new(card))));
        m.bus.deliver_host_input(0, &frame(60, 0));
        let mut g = guest(true, !feature::MRG_RXBUF);
        g.post_rx(BUFS, 64);
        g.m.bus.deliver_host_input(0, &frame(100, 0));
        g.m.bus.deliver_host_input(0, &frame(8, 0));
        g.m.bus.deliver_host_input(0, &vec![0; MAX_FRAME + 1]);
        assert_eq!(g.rx.take_used(&g.m), None, "the small buffer is left to the driver");
        g.m.bus.deliver_host_input(0, &frame(40, 3));
        assert_eq!(
            g.rx.take_used(&g.m).map(|u| u.1),
            Some(52),
            "and used by the next frame that fits"
        );
        assert_eq!(g.m.rd(regs::STATUS) & status::DEVICE_NEEDS_RESET, 0);
    }

    #[test]
    fn the_waiting_frames_and_the_send_count_survive_save_and_load() {
        let mut g = guest(true, u64::MAX);
        g.transmit(&[0; 12], &frame(60, 9)).unwrap();
        g.m.bus.deliver_host_input(0, &frame(300, 4));
        g.m.bus.deliver_host_input(0, &frame(200, 5));
        let saved = g.m.bus.save_state();
        let wire = Wire::default();
        let card = NetDevice::new([0x52, 0x54, 0, 0x12, 0x34, 0x57], Box::new(wire.clone()));
        let mut m2 = Machine::new(VirtioMmio::new(true, IRQ, Some(Box::new(card))));
        m2.poke(RAM_BASE, &g.m.peek(RAM_BASE, RAM_SIZE as usize));
        m2.bus.load_state(&saved).unwrap();
        assert_eq!(m2.bus.save_state(), saved);
        let mut rx = g.rx.clone();
        let head = rx.direct_chain(&mut m2, &[(BUFS, 2048, true)]);
        rx.offer(&mut m2, head);
        m2.wr(regs::QUEUE_NOTIFY, 0);
        assert_eq!(rx.take_used(&m2).map(|u| u.1), Some(312), "the first waiting frame");
        assert_eq!(m2.peek(BUFS + 12, 300), frame(300, 4));
        // A restored card's send count is where it was: the next frame is number 2.
        let mut tx = g.tx.clone();
        m2.poke(BUFS + 0x8000, &[0; 12]);
        m2.poke(BUFS + 0x9000, &frame(60, 8));
        let head = tx.direct_chain(&mut m2, &[(BUFS + 0x8000, 12, false), (BUFS + 0x9000, 60, false)]);
        tx.offer(&mut m2, head);
        m2.wr(regs::QUEUE_NOTIFY, 1);
        assert_eq!(
            wire.frames(),
            vec![frame(60, 8)],
            "a fresh port sends frames past the saved count"
        );
        // Another MAC refuses.
        let other = NetDevice::new(DEFAULT_MAC, Box::new(Wire::default()));
        let mut m3 = Machine::new(VirtioMmio::new(true, IRQ, Some(Box::new(other))));
        let e = m3.bus.load_state(&saved).unwrap_err();
        assert!(e.0.contains("MAC 52:54:00:12:34:57, this one 52:54:00:12:34:56"), "{e}");
    }

    #[test]
    fn a_large_mtu_is_offered_and_frames_of_64_kib_cross_both_ways() {
        let wire = Wire::default();
        let card = NetDevice::new(DEFAULT_MAC, Box::new(wire.clone())).with_mtu(65520);
        let mut m = Machine::new(VirtioMmio::new(true, IRQ, Some(Box::new(card))));
        m.wr(regs::DEVICE_FEATURES_SEL, 0);
        assert_ne!(m.rd(regs::DEVICE_FEATURES) & feature::MTU as u32, 0);
        assert_eq!(m.config_bytes(10, 2), 65520u16.to_le_bytes());
        let mut g = guest(true, u64::MAX);
        assert_eq!(g.features & feature::MTU, 0, "1500: not offered");
        // Mergeable buffers of 8 KiB: a 64 KiB frame takes 9 of them.
        let big = frame(65534, 3);
        g.m.bus.deliver_host_input(0, &big);
        for i in 0..8u32 {
            g.post_rx(BUFS + 0x2000 * i, 8192);
        }
        g.m.wr(regs::QUEUE_NOTIFY, 0);
        assert_eq!(g.rx.take_used(&g.m), None, "8 buffers are not enough");
        g.post_rx(BUFS + 0x1_0000, 8192);
        g.m.wr(regs::QUEUE_NOTIFY, 0);
        let lens: Vec<u32> = std::iter::from_fn(|| g.rx.take_used(&g.m)).map(|u| u.1).collect();
        assert_eq!(lens.len(), 9);
        assert_eq!(lens.iter().sum::<u32>(), 65534 + 12);
        let mut got = Vec::new();
        for i in 0..9u32 {
            got.extend(g.m.peek(BUFS + 0x2000 * i, lens[i as usize] as usize));
        }
        assert_eq!(&got[10..12], &[9, 0]);
        assert_eq!(&got[12..], &big[..]);
        // And one out: a 64 KiB frame in one transmission.
        let mut header = vec![0u8; 12];
        header[1] = HDR_GSO_NONE;
        g.m.poke(BUFS + 0x2_0000, &header);
        g.m.poke(BUFS + 0x3_0000, &big);
        let head = g.tx.direct_chain(
            &mut g.m,
            &[(BUFS + 0x2_0000, 12, false), (BUFS + 0x3_0000, 65534, false)],
        );
        g.tx.offer(&mut g.m, head);
        g.m.wr(regs::QUEUE_NOTIFY, 1);
        assert_eq!(g.wire.frames(), vec![big]);
    }

    #[test]
    fn mac_addresses_parse() {
        assert_eq!(
            parse_mac("52:54:00:ab:CD:0f").unwrap(),
            [0x52, 0x54, 0, 0xab, 0xcd, 0x0f]
        );
        for bad in [
            "",
            "52:54:00:ab:cd",
            "52:54:00:ab:cd:0f:00",
            "52-54-00-ab-cd-0f",
            "5:54:00:ab:cd:0f",
            "zz:54:00:ab:cd:0f",
        ] {
            assert!(
                parse_mac(bad).unwrap_err().to_string().contains("not a MAC address"),
                "{bad}"
            );
        }
        assert!(
            parse_mac("01:00:5e:00:00:01")
                .unwrap_err()
                .to_string()
                .contains("multicast")
        );
    }

    #[test]
    fn random_driver_behaviour_never_panics() {
        let mut rng = Rng(0x0e7_5eed);
        for case in 0..1500 {
            let mut data = vec![rng.next() as u8];
            let size = |rng: &mut Rng| {
                if rng.chance(90) {
                    1u16 << rng.below(9)
                } else {
                    rng.next() as u16
                }
            };
            data.extend_from_slice(&size(&mut rng).to_le_bytes());
            data.extend_from_slice(&size(&mut rng).to_le_bytes());
            let image_len = if case % 3 == 0 {
                0x6000
            } else {
                rng.below(0x8000) as u16
            };
            data.extend_from_slice(&image_len.to_le_bytes());
            data.extend((0..image_len).map(|_| {
                // Mostly small numbers, so descriptors point into RAM now and then.
                if rng.chance(50) {
                    rng.below(4) as u8
                } else {
                    rng.next() as u8
                }
            }));
            for _ in 0..rng.below(40) {
                let op = rng.below(5) as u8;
                data.push(op);
                match op {
                    2 => {
                        let n = rng.below(255) as u8;
                        data.push(n);
                        data.extend((0..usize::from(n) * 6).map(|_| rng.next() as u8));
                    }
                    3 => {
                        data.extend_from_slice(&(rng.below(0x6000) as u16).to_le_bytes());
                        let n = rng.below(64) as u8;
                        data.push(n);
                        data.extend((0..n).map(|_| rng.below(8) as u8));
                    }
                    _ => {}
                }
            }
            fuzz_virtio_net(&data);
        }
        for len in 0..300 {
            let data: Vec<u8> = (0..len).map(|_| rng.next() as u8).collect();
            fuzz_virtio_net(&data);
        }
    }
}
