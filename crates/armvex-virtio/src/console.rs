//! virtio-console (virtio 1.2 §5.3): a second console, `hvc0` in Linux.
//!
//! Without the MULTIPORT feature the device is one port with two queues:
//!
//! * **receiveq** (queue 0): the driver posts device-writable buffers; bytes from the host
//!   go into them;
//! * **transmitq** (queue 1): each chain holds bytes the guest wrote to the port.
//!
//! Linux's `virtio_console` turns the port into a terminal, `/dev/hvc0` (`console=hvc0` makes
//! it the kernel console; a getty can run on it). No feature is offered: not SIZE (the
//! terminal has no size), not MULTIPORT (one port is a console), not EMERG_WRITE. The
//! configuration space (cols, rows, max_nr_ports, emerg_wr) reads as zeros but for
//! max_nr_ports = 1.
//!
//! ## The host side
//!
//! Bytes the guest writes go at once to the device's output (a [`std::io::Write`]: a host
//! socket's client, a file, nothing), each byte once however often reverse execution re-runs
//! history: the device counts the bytes sent on the current timeline (saved) against the
//! furthest count written (a host fact), as the UART's console does. Bytes from the host are
//! host input, delivered by the machine at recorded virtual times; they wait in the device (at
//! most [`MAX_PENDING`] bytes; more are dropped, as a full serial FIFO drops) until the driver
//! posts receive buffers.

use crate::device::{Queues, VirtioDevice};
use crate::queue::QueueError;
use armvex_bus::state::{self, StateError};
use serde::{Deserialize, Serialize};
use std::collections::VecDeque;
use std::io::Write;

/// Virtio device ID of a console (§5.3.1).
pub const DEVICE_ID: u32 = 3;
/// QueueNumMax of both queues.
pub const QUEUE_SIZE: u16 = 128;
/// The receive queue.
pub const RECEIVEQ: usize = 0;
/// The transmit queue.
pub const TRANSMITQ: usize = 1;
/// Bytes from the host waiting for receive buffers, at most.
pub const MAX_PENDING: usize = 64 * 1024;

/// A virtio console port.
pub struct ConsoleDevice {
    output: Box<dyn Write>,
    /// Bytes the guest has sent on this timeline (state).
    position: u64,
    /// Bytes written to the output (the furthest position reached).
    written: u64,
    pending: VecDeque<u8>,
}

/// What [`ConsoleDevice`] saves.
#[derive(Serialize, Deserialize)]
struct ConsoleState {
    position: u64,
    pending: Vec<u8>,
}

impl ConsoleDevice {
    /// A console whose guest output goes to `output`.
    pub fn new(output: Box<dyn Write>) -> ConsoleDevice {
        ConsoleDevice {
            output,
            position: 0,
            written: 0,
            pending: VecDeque::new(),
        }
    }

    /// Write `bytes` from the guest to the output, skipping what it already has.
    fn emit(&mut self, bytes: &[u8]) {
        let end = self.position + bytes.len() as u64;
        if end > self.written {
            let skip = self.written.saturating_sub(self.position) as usize;
            let _ = self.output.write_all(&bytes[skip..]);
            self.written = end;
        }
        self.position = end;
    }

    fn transmit(&mut self, queues: &mut Queues) -> Result<(), QueueError> {
        let mut buf = [0u8; 4096];
        while let Some(chain) = queues.pop(TRANSMITQ)? {
            let mut reader = chain.reader();
            while let Ok(n @ 1..) = reader.read(queues.memory(), &mut buf) {
                self.emit(&buf[..n]);
            }
            queues.add_used(TRANSMITQ, chain.head, 0)?;
        }
        let _ = self.output.flush();
        Ok(())
    }

    fn deliver_pending(&mut self, queues: &mut Queues) -> Result<(), QueueError> {
        while !self.pending.is_empty() {
            let Some(chain) = queues.pop(RECEIVEQ)? else { break };
            let n = (chain.writable_len() as usize).min(self.pending.len());
            let bytes: Vec<u8> = self.pending.drain(..n).collect();
            let written = chain.writer().write(queues.memory(), &bytes).unwrap_or(0);
            queues.add_used(RECEIVEQ, chain.head, written as u32)?;
        }
        Ok(())
    }
}

impl VirtioDevice for ConsoleDevice {
    fn name(&self) -> &str {
        "virtio-console"
    }

    fn device_id(&self) -> u32 {
        DEVICE_ID
    }

    fn device_features(&self) -> u64 {
        0
    }

    /// `struct virtio_console_config` (§5.3.4): cols, rows, max_nr_ports = 1, emerg_wr.
    fn read_config(&self, offset: u32, data: &mut [u8]) {
        let mut c = [0u8; 12];
        c[4..8].copy_from_slice(&1u32.to_le_bytes());
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

    fn queue_notify(&mut self, index: usize, queues: &mut Queues) -> Result<(), QueueError> {
        match index {
            RECEIVEQ => self.deliver_pending(queues),
            TRANSMITQ => self.transmit(queues),
            _ => Ok(()),
        }
    }

    fn host_input(&mut self, data: &[u8], queues: &mut Queues) -> Result<(), QueueError> {
        if !queues.is_live(RECEIVEQ) {
            tracing::debug!(target: "virtio", "virtio-console: {} bytes dropped: no reader yet", data.len());
            return Ok(());
        }
        let room = MAX_PENDING - self.pending.len();
        if data.len() > room {
            tracing::debug!(target: "virtio", "virtio-console: {} bytes dropped: buffer full", data.len() - room);
        }
        self.pending.extend(&data[..data.len().min(room)]);
        self.deliver_pending(queues)
    }

    fn reset(&mut self) {
        self.pending.clear();
    }

    fn save_state(&self) -> Vec<u8> {
        state::encode(&ConsoleState {
            position: self.position,
            pending: self.pending.iter().copied().collect(),
        })
    }

    fn load_state(&mut self, bytes: &[u8]) -> Result<(), StateError> {
        let s: ConsoleState = state::decode(bytes, "virtio-console")?;
        if s.pending.len() > MAX_PENDING {
            return Err(StateError("the saved console input is too long".into()));
        }
        self.position = s.position;
        self.pending = s.pending.into();
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::*;
    use crate::transport::{VirtioMmio, regs, status};
    use std::sync::{Arc, Mutex};

    #[derive(Clone, Default)]
    struct Screen(Arc<Mutex<Vec<u8>>>);
    impl Write for Screen {
        fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
            self.0.lock().unwrap().extend_from_slice(buf);
            Ok(buf.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }

    const RX: u32 = RAM_BASE + 0x1_0000;
    const TX: u32 = RAM_BASE + 0x2_0000;
    const BUF: u32 = RAM_BASE + 0x4_0000;

    fn bring_up(screen: &Screen) -> (Machine, Ring, Ring) {
        let mut m = Machine::new(VirtioMmio::new(
            false,
            IRQ,
            Some(Box::new(ConsoleDevice::new(Box::new(screen.clone())))),
        ));
        assert_eq!(m.rd(regs::DEVICE_ID), DEVICE_ID);
        m.wr(regs::GUEST_PAGE_SIZE, 4096);
        m.add_status(status::ACKNOWLEDGE | status::DRIVER);
        assert_eq!(m.config_bytes(4, 4), [1, 0, 0, 0], "max_nr_ports");
        let mut rings = Vec::new();
        for (q, base) in [(0, RX), (1, TX)] {
            m.wr(regs::QUEUE_SEL, q);
            m.wr(regs::QUEUE_NUM, 8);
            m.wr(regs::QUEUE_ALIGN, 4096);
            m.wr(regs::QUEUE_PFN, base >> 12);
            rings.push(Ring::contiguous(base, 8, 4096));
        }
        m.add_status(status::DRIVER_OK);
        let tx = rings.pop().unwrap();
        (m, rings.pop().unwrap(), tx)
    }

    #[test]
    fn guest_output_reaches_the_host_and_host_input_the_guest() {
        let screen = Screen::default();
        let (mut m, mut rx, mut tx) = bring_up(&screen);
        m.poke(BUF, b"hello from hvc0\n");
        let head = tx.direct_chain(&mut m, &[(BUF, 6, false), (BUF + 6, 10, false)]);
        tx.offer(&mut m, head);
        m.wr(regs::QUEUE_NOTIFY, 1);
        assert_eq!(tx.take_used(&m).map(|u| u.1), Some(0));
        assert_eq!(*screen.0.lock().unwrap(), b"hello from hvc0\n");
        // Input before a buffer waits; a 4-byte buffer takes 4 of it.
        m.bus.deliver_host_input(0, b"ls -l\n");
        let head = rx.direct_chain(&mut m, &[(BUF + 0x100, 4, true)]);
        rx.submit(&mut m, head);
        assert_eq!(rx.take_used(&m).map(|u| u.1), Some(4));
        assert_eq!(m.peek(BUF + 0x100, 4), b"ls -");
        let saved = m.bus.save_state();
        let head = rx.direct_chain(&mut m, &[(BUF + 0x200, 64, true)]);
        rx.submit(&mut m, head);
        assert_eq!(rx.take_used(&m).map(|u| u.1), Some(2));
        assert_eq!(m.peek(BUF + 0x200, 2), b"l\n");
        // Restored: the rest of the input is still waiting.
        let other = Screen::default();
        let mut f = Machine::new(VirtioMmio::new(
            false,
            IRQ,
            Some(Box::new(ConsoleDevice::new(Box::new(other)))),
        ));
        f.bus.load_state(&saved).unwrap();
        assert_eq!(f.bus.save_state(), saved);
    }

    #[test]
    fn output_sent_again_by_a_rewound_guest_is_written_once() {
        let screen = Screen::default();
        let mut c = ConsoleDevice::new(Box::new(screen.clone()));
        c.emit(b"abc");
        let saved = c.save_state();
        c.emit(b"def");
        c.load_state(&saved).unwrap();
        c.emit(b"de");
        c.emit(b"fgh");
        assert_eq!(*screen.0.lock().unwrap(), b"abcdefgh");
    }
}
