//! virtio-rng (virtio 1.2 §5.4): an entropy source.
//!
//! The simplest virtio device: one queue (requestq), no feature bits, no configuration. The
//! driver posts device-writable buffers; the device fills each with random bytes and returns
//! it with the number of bytes written. Linux's `virtio-rng` driver feeds them to its
//! hw_random core (`/dev/hwrng`), which mixes them into the kernel's entropy pool.
//!
//! ## Where the bytes come from
//!
//! An emulator that promises the same run for the same inputs cannot hand out the host's
//! randomness by default. So there are two sources:
//!
//! * **seeded** (the default; `--rng-seed N`, 0 unless given): ChaCha20, the stream cipher
//!   Linux's own CRNG is built on, keyed with the seed and run from the start of stream
//!   `slot` (so two cards differ). Good random bytes, the same in every run. Its whole state is
//!   its position in the stream, saved with the machine.
//! * **host** (`--device virtio-rng,entropy=host`): the host's entropy (`getrandom(2)`),
//!   which is host input: the device asks an [`EntropySource`] for bytes (output, allowed at
//!   any time), the source answers through the machine's host-input journal, and the bytes
//!   arrive as [`VirtioDevice::host_input`] at a recorded virtual time. Until they do, the
//!   driver's request stays in the queue, as with a slow hardware generator. `--record` writes
//!   them down and `--replay` gives the same bytes back.
//!
//! At most [`MAX_REQUEST`] bytes go into one request, so that a huge buffer cannot stall the
//! emulator; the driver asks again for more.

use crate::device::{Queues, VirtioDevice};
use crate::queue::QueueError;
use armvex_bus::state::{self, StateError};
use rand_chacha::ChaCha20Rng;
use rand_core::{RngCore, SeedableRng};
use serde::{Deserialize, Serialize};
use std::collections::VecDeque;

/// Virtio device ID of an entropy source (§5.4.1).
pub const DEVICE_ID: u32 = 4;
/// QueueNumMax of the request queue.
pub const QUEUE_SIZE: u16 = 64;
/// Most bytes written into one request.
pub const MAX_REQUEST: usize = 4096;
/// Host entropy kept for requests to come, at most.
pub const MAX_POOL: usize = 64 * 1024;
/// Bytes asked of the host at a time.
pub const HOST_CHUNK: usize = 256;

/// Where host entropy comes from: the device asks, the answer arrives later as host input.
pub trait EntropySource {
    /// Please deliver `bytes` random bytes (as host input for this device).
    fn request(&mut self, bytes: usize);
}

enum Source {
    Seeded {
        seed: u64,
        stream: u64,
        generator: Box<ChaCha20Rng>,
    },
    Host {
        source: Box<dyn EntropySource>,
        pool: VecDeque<u8>,
        /// A request is out and not yet answered.
        asked: bool,
        /// Requests made on this timeline (state), and passed to the source (the furthest
        /// count ever reached): requests made again while reverse execution re-runs history
        /// are not passed on again.
        requests: u64,
        passed: u64,
    },
}

/// A virtio-rng device.
pub struct RngDevice {
    source: Source,
}

/// What [`RngDevice`] saves.
#[derive(Serialize, Deserialize)]
enum RngState {
    Seeded { seed: u64, stream: u64, word_pos: u128 },
    Host { pool: Vec<u8>, asked: bool, requests: u64 },
}

/// The ChaCha20 key for `seed`: the seed's bytes, then a fixed tag.
fn key(seed: u64) -> [u8; 32] {
    let mut k = [0u8; 32];
    k[..8].copy_from_slice(&seed.to_le_bytes());
    k[8..].copy_from_slice(b"armvex virtio-rng seed 1");
    k
}

/// The seeded generator: ChaCha20 keyed with `seed`, at the start of stream `stream`.
fn seeded_generator(seed: u64, stream: u64) -> ChaCha20Rng {
    let mut generator = ChaCha20Rng::from_seed(key(seed));
    generator.set_stream(stream);
    generator
}

/// Fill `out` from the start of stream `stream` of the generator keyed with `seed` (`--rng-seed`):
/// the same bytes a seeded [`RngDevice`] on that stream hands out first. The machine uses it for
/// the device tree's `/chosen/rng-seed`, on a stream no transport uses.
pub fn seeded_bytes(seed: u64, stream: u64, out: &mut [u8]) {
    seeded_generator(seed, stream).fill_bytes(out);
}

impl RngDevice {
    /// Bytes from ChaCha20 keyed with `seed`, stream `stream`.
    pub fn seeded(seed: u64, stream: u64) -> RngDevice {
        let generator = seeded_generator(seed, stream);
        RngDevice {
            source: Source::Seeded {
                seed,
                stream,
                generator: Box::new(generator),
            },
        }
    }

    /// Bytes from the host, asked of `source`.
    pub fn host(source: Box<dyn EntropySource>) -> RngDevice {
        RngDevice {
            source: Source::Host {
                source,
                pool: VecDeque::new(),
                asked: false,
                requests: 0,
                passed: 0,
            },
        }
    }

    /// Fill the driver's requests while there are bytes (always, when seeded).
    fn serve(&mut self, queues: &mut Queues) -> Result<(), QueueError> {
        let mut buf = [0u8; MAX_REQUEST];
        while let Some(chain) = queues.pop(0)? {
            let wanted = (chain.writable_len() as usize).min(MAX_REQUEST);
            let n = match &mut self.source {
                Source::Seeded { generator, .. } => {
                    generator.fill_bytes(&mut buf[..wanted]);
                    wanted
                }
                Source::Host {
                    source,
                    pool,
                    asked,
                    requests,
                    passed,
                } => {
                    if pool.is_empty() && wanted > 0 {
                        // Keep the request until the host answers.
                        queues.unpop(0, 1);
                        if !*asked {
                            *asked = true;
                            *requests += 1;
                            if *requests > *passed {
                                source.request(HOST_CHUNK.max(wanted.min(MAX_POOL)));
                                *passed = *requests;
                            }
                        }
                        return Ok(());
                    }
                    let n = wanted.min(pool.len());
                    for (b, p) in buf[..n].iter_mut().zip(pool.drain(..n)) {
                        *b = p;
                    }
                    n
                }
            };
            let written = chain.writer().write(queues.memory(), &buf[..n]).unwrap_or(0);
            queues.add_used(0, chain.head, written as u32)?;
        }
        Ok(())
    }
}

impl VirtioDevice for RngDevice {
    fn name(&self) -> &str {
        "virtio-rng"
    }

    fn device_id(&self) -> u32 {
        DEVICE_ID
    }

    fn device_features(&self) -> u64 {
        0
    }

    fn read_config(&self, _offset: u32, data: &mut [u8]) {
        data.fill(0);
    }

    fn queue_max_sizes(&self) -> Vec<u16> {
        vec![QUEUE_SIZE]
    }

    fn queue_notify(&mut self, _index: usize, queues: &mut Queues) -> Result<(), QueueError> {
        self.serve(queues)
    }

    /// Entropy from the host (host mode; ignored when seeded).
    fn host_input(&mut self, data: &[u8], queues: &mut Queues) -> Result<(), QueueError> {
        match &mut self.source {
            Source::Host { pool, asked, .. } => {
                *asked = false;
                let room = MAX_POOL - pool.len();
                pool.extend(&data[..data.len().min(room)]);
                self.serve(queues)
            }
            Source::Seeded { .. } => Ok(()),
        }
    }

    fn reset(&mut self) {
        // The generator runs on (a reset does not rewind randomness); host bytes stay too.
    }

    fn save_state(&self) -> Vec<u8> {
        state::encode(&match &self.source {
            Source::Seeded {
                seed,
                stream,
                generator,
            } => RngState::Seeded {
                seed: *seed,
                stream: *stream,
                word_pos: generator.get_word_pos(),
            },
            Source::Host {
                pool, asked, requests, ..
            } => RngState::Host {
                pool: pool.iter().copied().collect(),
                asked: *asked,
                requests: *requests,
            },
        })
    }

    fn load_state(&mut self, bytes: &[u8]) -> Result<(), StateError> {
        let saved: RngState = state::decode(bytes, "virtio-rng")?;
        match (&mut self.source, saved) {
            (
                Source::Seeded {
                    seed,
                    stream,
                    generator,
                },
                RngState::Seeded {
                    seed: s,
                    stream: t,
                    word_pos,
                },
            ) => {
                if (s, t) != (*seed, *stream) {
                    return Err(StateError(format!(
                        "the saved generator has seed {s} stream {t}, this one seed {seed} stream {stream}"
                    )));
                }
                generator.set_word_pos(word_pos);
            }
            (
                Source::Host {
                    pool, asked, requests, ..
                },
                RngState::Host {
                    pool: p,
                    asked: a,
                    requests: r,
                },
            ) => {
                if p.len() > MAX_POOL {
                    return Err(StateError("the saved entropy pool is too large".into()));
                }
                *pool = p.into();
                *asked = a;
                *requests = r;
            }
            (Source::Seeded { .. }, _) => {
                return Err(StateError(
                    "the saved device took host entropy; this one is seeded".into(),
                ));
            }
            (Source::Host { .. }, _) => {
                return Err(StateError(
                    "the saved device was seeded; this one takes host entropy".into(),
                ));
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::*;
    use crate::transport::{INT_USED_BUFFER, VirtioMmio, regs, status};
    use std::sync::{Arc, Mutex};

    const RING: u32 = RAM_BASE + 0x1_0000;
    const BUF: u32 = RAM_BASE + 0x4_0000;

    fn bring_up(device: RngDevice) -> (Machine, Ring) {
        let mut m = Machine::new(VirtioMmio::new(true, IRQ, Some(Box::new(device))));
        assert_eq!(m.rd(regs::DEVICE_ID), DEVICE_ID);
        m.add_status(status::ACKNOWLEDGE | status::DRIVER);
        m.wr(regs::DRIVER_FEATURES_SEL, 1);
        m.wr(regs::DRIVER_FEATURES, 1); // VERSION_1
        m.add_status(status::FEATURES_OK);
        let ring = Ring::contiguous(RING, 8, 4096);
        m.wr(regs::QUEUE_NUM, 8);
        m.wr(regs::QUEUE_DESC_LOW, ring.desc);
        m.wr(regs::QUEUE_DRIVER_LOW, ring.avail);
        m.wr(regs::QUEUE_DEVICE_LOW, ring.used);
        m.wr(regs::QUEUE_READY, 1);
        m.add_status(status::DRIVER_OK);
        (m, ring)
    }

    /// One request of `len` bytes, as `virtio_read` makes it; returns the used length.
    fn ask(m: &mut Machine, ring: &mut Ring, len: u32) -> Option<u32> {
        let head = ring.direct_chain(m, &[(BUF, len, true)]);
        ring.submit(m, head);
        ring.take_used(m).map(|(_, n)| n)
    }

    #[test]
    fn seeded_bytes_are_the_same_every_run_and_differ_by_seed_and_stream() {
        let run = |seed, stream| {
            let (mut m, mut ring) = bring_up(RngDevice::seeded(seed, stream));
            assert_eq!(ask(&mut m, &mut ring, 64), Some(64));
            assert!(m.irq());
            assert_eq!(m.linux_interrupt(), INT_USED_BUFFER);
            let a = m.peek(BUF, 64);
            assert_eq!(ask(&mut m, &mut ring, 10_000), Some(MAX_REQUEST as u32), "capped");
            (a, m.peek(BUF, 64))
        };
        let (a, b) = run(7, 0);
        assert_eq!((a.clone(), b.clone()), run(7, 0));
        assert_ne!(a, b, "the stream moves on");
        assert_ne!(a, run(8, 0).0);
        assert_ne!(a, run(7, 1).0);
        assert!(a.iter().any(|&x| x != a[0]), "not a constant");
    }

    #[test]
    fn the_generator_resumes_where_it_was_saved() {
        let (mut m, mut ring) = bring_up(RngDevice::seeded(3, 2));
        ask(&mut m, &mut ring, 100);
        let saved = m.bus.save_state();
        ask(&mut m, &mut ring, 64);
        let next = m.peek(BUF, 64);
        let mut f = Machine::new(VirtioMmio::new(true, IRQ, Some(Box::new(RngDevice::seeded(3, 2)))));
        f.poke(RAM_BASE, &m.peek(RAM_BASE, RAM_SIZE as usize));
        f.bus.load_state(&saved).unwrap();
        let mut r = ring.clone();
        r.avail_idx -= 1;
        r.last_used -= 1;
        r.next_desc -= 1;
        ask(&mut f, &mut r, 64);
        assert_eq!(f.peek(BUF, 64), next);
        let mut other = Machine::new(VirtioMmio::new(true, IRQ, Some(Box::new(RngDevice::seeded(4, 2)))));
        assert!(other.bus.load_state(&saved).unwrap_err().0.contains("seed 3 stream 2"));
    }

    #[derive(Clone, Default)]
    struct Asked(Arc<Mutex<Vec<usize>>>);
    impl EntropySource for Asked {
        fn request(&mut self, bytes: usize) {
            self.0.lock().unwrap().push(bytes);
        }
    }

    #[test]
    fn host_entropy_is_asked_for_and_fills_the_waiting_request() {
        let asked = Asked::default();
        let (mut m, mut ring) = bring_up(RngDevice::host(Box::new(asked.clone())));
        assert_eq!(ask(&mut m, &mut ring, 32), None, "no bytes yet: the request waits");
        assert_eq!(*asked.0.lock().unwrap(), vec![HOST_CHUNK]);
        m.wr(regs::QUEUE_NOTIFY, 0);
        assert_eq!(asked.0.lock().unwrap().len(), 1, "asked once");
        let bytes: Vec<u8> = (0..40).collect();
        m.bus.deliver_host_input(0, &bytes);
        assert_eq!(ring.take_used(&m).map(|u| u.1), Some(32));
        assert_eq!(m.peek(BUF, 32), bytes[..32]);
        assert!(m.irq());
        // 8 bytes left in the pool.
        assert_eq!(ask(&mut m, &mut ring, 32), Some(8));
        let saved = m.bus.save_state();
        let mut f = Machine::new(VirtioMmio::new(
            true,
            IRQ,
            Some(Box::new(RngDevice::host(Box::new(Asked::default())))),
        ));
        f.bus.load_state(&saved).unwrap();
        assert_eq!(f.bus.save_state(), saved);
        let mut seeded = Machine::new(VirtioMmio::new(true, IRQ, Some(Box::new(RngDevice::seeded(0, 0)))));
        assert!(
            seeded
                .bus
                .load_state(&saved)
                .unwrap_err()
                .0
                .contains("took host entropy")
        );
    }
}
