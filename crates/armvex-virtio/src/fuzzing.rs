//! Fuzz harnesses: functions that feed arbitrary bytes to the split-virtqueue parser and to a
//! virtio-net card on a real transport, for the `cargo fuzz` targets in
//! `crates/armvex-virtio/fuzz` and for unit tests that run them on pseudo-random inputs. Built
//! only with the `fuzzing` feature (and in this crate's tests): they are test drivers, not
//! part of the emulator.

use crate::features::{EVENT_IDX, INDIRECT_DESC, VERSION_1};
use crate::net::{DEFAULT_MAC, NetDevice, feature};
use crate::queue::{SplitQueue, ram_contains};
use crate::transport::{VirtioMmio, regs, status};
use armvex_bus::{AccessSize, Accessor, Bus, Device, PhysicalMemory, RamRegionSpec};

/// Feed arbitrary bytes through the queue parser, as the `cargo fuzz` target
/// (`crates/armvex-virtio/fuzz`) and a unit test do. Never panics, whatever `data` holds —
/// that is what fuzzing checks — and asserts the parser's promises about every chain it
/// accepts (buffers in RAM, readable before writable, no more buffers than the queue size).
///
/// Layout of `data`: bytes 0..2 the queue size (`QueueNum`, unchecked: bad sizes must be
/// refused), byte 2 flags (bit 0 EVENT_IDX, bit 1 INDIRECT_DESC, bit 2 legacy layout, bit 3
/// misplace the used ring outside RAM), the rest copied into a 64 KiB RAM at
/// [`FUZZ_RAM_BASE`]: descriptor table at +0, available ring at +0x1000, used ring at +0x2000
/// (modern), or the legacy layout from page frame `FUZZ_RAM_BASE / 4096`.
pub fn fuzz_split_queue(data: &[u8]) {
    let Some((header, image)) = data.split_at_checked(3) else {
        return;
    };
    let size = u16::from_le_bytes([header[0], header[1]]);
    let flags = header[2];
    let mut mem = PhysicalMemory::new(&[RamRegionSpec {
        name: "fuzz-ram".into(),
        base: u64::from(FUZZ_RAM_BASE),
        size: u64::from(FUZZ_RAM_SIZE),
    }])
    .expect("a 64 KiB RAM can be mapped");
    let image = &image[..image.len().min(FUZZ_RAM_SIZE as usize)];
    mem.write_bytes(u64::from(FUZZ_RAM_BASE), image)
        .expect("the image fits in RAM");

    let mut q = SplitQueue::new(256);
    q.event_idx = flags & 1 != 0;
    q.indirect = flags & 2 != 0;
    if q.set_size(u32::from(size)).is_err() {
        return;
    }
    let base = u64::from(FUZZ_RAM_BASE);
    let enabled = if flags & 4 != 0 {
        q.enable_legacy(&mem, FUZZ_RAM_BASE / 4096, 4096)
    } else {
        q.desc_addr = base;
        q.avail_addr = base + 0x1000;
        q.used_addr = if flags & 8 != 0 {
            base + u64::from(FUZZ_RAM_SIZE)
        } else {
            base + 0x2000
        };
        q.enable(&mem)
    };
    if enabled.is_err() {
        return;
    }
    let mut scratch = [0u8; 256];
    for _ in 0..(2 * usize::from(q.size) + 2) {
        let chain = match q.pop(&mut mem) {
            Ok(Some(chain)) => chain,
            Ok(None) | Err(_) => break,
        };
        assert!(chain.buffers.len() <= usize::from(q.size));
        assert!(
            chain
                .buffers
                .iter()
                .all(|b| ram_contains(&mem, b.addr, u64::from(b.len)))
        );
        let first_writable = chain
            .buffers
            .iter()
            .position(|b| b.writable)
            .unwrap_or(chain.buffers.len());
        assert!(chain.buffers[first_writable..].iter().all(|b| b.writable));
        // Act like a device: consume the readable bytes, fill part of the writable ones.
        let mut reader = chain.reader();
        while reader.read(&mem, &mut scratch).expect("validated buffers are in RAM") > 0 {}
        let mut writer = chain.writer().limit(u64::from(scratch[0]) * 4);
        let written = writer.write(&mut mem, &scratch).expect("validated buffers are in RAM");
        if q.add_used(&mut mem, chain.head, written as u32).is_err() {
            break;
        }
        let _ = q.should_notify(&mem);
    }
}

/// Where [`fuzz_split_queue`] places its RAM.
pub const FUZZ_RAM_BASE: u32 = 0x4000_0000;
/// Size of the RAM of [`fuzz_split_queue`].
pub const FUZZ_RAM_SIZE: u32 = 0x1_0000;

/// Feed arbitrary bytes through a virtio-net card on a modern or legacy transport, as the
/// `cargo fuzz` target `net_queues` (`crates/armvex-virtio/fuzz`) and a unit test do. Never
/// panics, whatever `data` holds: that is what fuzzing checks. After every step the card's
/// saved state loads into a fresh card and saves to the same bytes.
///
/// Layout of `data`: byte 0 flags (bit 0 modern transport; bits 1–4 the driver accepts
/// MRG_RXBUF, CSUM, EVENT_IDX, INDIRECT_DESC), bytes 1–2 and 3–4 the receive and transmit
/// queue sizes (unchecked: bad sizes must be refused), bytes 5–6 a length L and L bytes
/// copied into a 64 KiB RAM at [`FUZZ_RAM_BASE`] (receive rings at +0, +0x1000,
/// +0x2000; transmit rings at +0x3000, +0x4000, +0x5000). Then operations, one byte each with
/// its operands: `0` notify transmit, `1` notify receive, `2 n` a frame of `n * 6` bytes from
/// the input for the guest, `3 o o l bytes` write `l` bytes into RAM at offset `o`, `4` reset
/// and bring the driver up again.
pub fn fuzz_virtio_net(data: &[u8]) {
    let mut input = data.iter().copied();
    let mut take = |n: usize| -> Vec<u8> { input.by_ref().take(n).collect() };
    let head = take(7);
    let [flags, rx0, rx1, tx0, tx1, l0, l1] = <[u8; 7]>::try_from(head.as_slice()).unwrap_or([0; 7]);
    let image = take(usize::from(u16::from_le_bytes([l0, l1])));
    let mem = PhysicalMemory::new(&[RamRegionSpec {
        name: "fuzz-ram".into(),
        base: u64::from(FUZZ_RAM_BASE),
        size: u64::from(FUZZ_RAM_SIZE),
    }])
    .expect("a 64 KiB RAM can be mapped");
    let mut bus = Bus::new(mem);
    let modern = flags & 1 != 0;
    let device = NetDevice::new(DEFAULT_MAC, Box::new(armvex_net::NullBackend));
    let id = bus
        .add_device(
            0x1001_3000,
            0x200,
            Box::new(VirtioMmio::new(modern, 72, Some(Box::new(device)))),
        )
        .expect("the transport fits");
    let _ = bus.memory.write_bytes(u64::from(FUZZ_RAM_BASE), &image);
    let who = Accessor { cpu: 0, time: 0 };
    let wr = |bus: &mut Bus, offset: u32, value: u32| bus.write(who, 0x1001_3000 + offset, AccessSize::Word, value);
    let mut accepted = feature::MAC | feature::STATUS;
    for (bit, f) in [
        (2, feature::MRG_RXBUF),
        (4, feature::CSUM),
        (8, EVENT_IDX),
        (16, INDIRECT_DESC),
    ] {
        if flags & bit != 0 {
            accepted |= f;
        }
    }
    if modern {
        accepted |= VERSION_1;
    }
    let bring_up = |bus: &mut Bus| {
        wr(bus, regs::STATUS, 0);
        if !modern {
            wr(bus, regs::GUEST_PAGE_SIZE, 4096);
        }
        wr(bus, regs::STATUS, status::ACKNOWLEDGE | status::DRIVER);
        wr(bus, regs::DRIVER_FEATURES_SEL, 1);
        wr(bus, regs::DRIVER_FEATURES, (accepted >> 32) as u32);
        wr(bus, regs::DRIVER_FEATURES_SEL, 0);
        wr(bus, regs::DRIVER_FEATURES, accepted as u32);
        wr(
            bus,
            regs::STATUS,
            status::ACKNOWLEDGE | status::DRIVER | status::FEATURES_OK,
        );
        for (queue, size, base) in [
            (0u32, u16::from_le_bytes([rx0, rx1]), 0u32),
            (1, u16::from_le_bytes([tx0, tx1]), 0x3000),
        ] {
            wr(bus, regs::QUEUE_SEL, queue);
            wr(bus, regs::QUEUE_NUM, u32::from(size));
            if modern {
                wr(bus, regs::QUEUE_DESC_LOW, FUZZ_RAM_BASE + base);
                wr(bus, regs::QUEUE_DRIVER_LOW, FUZZ_RAM_BASE + base + 0x1000);
                wr(bus, regs::QUEUE_DEVICE_LOW, FUZZ_RAM_BASE + base + 0x2000);
                wr(bus, regs::QUEUE_READY, 1);
            } else {
                wr(bus, regs::QUEUE_ALIGN, 4096);
                wr(bus, regs::QUEUE_PFN, (FUZZ_RAM_BASE + base) / 4096);
            }
        }
        wr(
            bus,
            regs::STATUS,
            status::ACKNOWLEDGE | status::DRIVER | status::FEATURES_OK | status::DRIVER_OK,
        );
    };
    bring_up(&mut bus);
    let check_state = |bus: &Bus| {
        let saved = bus.save_state();
        let mut fresh = VirtioMmio::new(
            modern,
            72,
            Some(Box::new(NetDevice::new(DEFAULT_MAC, Box::new(armvex_net::NullBackend)))),
        );
        let mine = &saved.devices[id].1;
        fresh
            .load_state(mine)
            .expect("a saved state loads into a card built the same way");
        assert_eq!(&fresh.save_state(), mine, "and saves to the same bytes");
    };
    while let Some(op) = take(1).first().copied() {
        match op % 5 {
            0 => wr(&mut bus, regs::QUEUE_NOTIFY, 1),
            1 => wr(&mut bus, regs::QUEUE_NOTIFY, 0),
            2 => {
                let n = take(1).first().copied().unwrap_or(0);
                let frame = take(usize::from(n) * 6);
                bus.deliver_host_input(id, &frame);
            }
            3 => {
                let at = take(2);
                let offset = u32::from(u16::from_le_bytes([
                    at.first().copied().unwrap_or(0),
                    at.get(1).copied().unwrap_or(0),
                ]));
                let len = take(1).first().copied().unwrap_or(0);
                let bytes = take(usize::from(len));
                let _ = bus.memory.write_bytes(u64::from(FUZZ_RAM_BASE + offset), &bytes);
            }
            _ => bring_up(&mut bus),
        }
        check_state(&bus);
    }
}
