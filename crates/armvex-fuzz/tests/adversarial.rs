//! An adversarial guest: a bare-metal program that attacks every device of the board.
//!
//! It writes random values of random sizes to every register window of the board file (the
//! motherboard's and daughterboard's devices, the MPCore region with the GIC and timers, the
//! four virtio-mmio transports), reads them back, and drives the virtio transports through
//! their bring-up with one step wrong: huge or zero QueueNum, rings in MMIO space or over its
//! own code, descriptor tables with overlapping, looping and out-of-RAM buffers, requests whose
//! data lands on the program itself, notifications after a reset, resets in the middle. The
//! drives behind the transports are a read-only image and a `snapshot=on` overlay (and the SD
//! card and flash, read-only): armvex must not panic or hang, and no host image may change by
//! a single byte.

use armvex_fuzz::{Rng, a32, bytes, cases, elf, machine, run, scratch, seed, within};
use armvex_machine::board::Board;
use armvex_machine::devices::DriveSpec;

/// virtio-mmio register offsets (virtio 1.2 §4.2.2).
mod reg {
    pub const DEVICE_FEATURES_SEL: u32 = 0x014;
    pub const DRIVER_FEATURES: u32 = 0x020;
    pub const DRIVER_FEATURES_SEL: u32 = 0x024;
    pub const GUEST_PAGE_SIZE: u32 = 0x028;
    pub const QUEUE_SEL: u32 = 0x030;
    pub const QUEUE_NUM: u32 = 0x038;
    pub const QUEUE_ALIGN: u32 = 0x03c;
    pub const QUEUE_PFN: u32 = 0x040;
    pub const QUEUE_READY: u32 = 0x044;
    pub const QUEUE_NOTIFY: u32 = 0x050;
    pub const INTERRUPT_ACK: u32 = 0x064;
    pub const STATUS: u32 = 0x070;
    pub const QUEUE_DESC_LOW: u32 = 0x080;
    pub const QUEUE_DESC_HIGH: u32 = 0x084;
    pub const QUEUE_DRIVER_LOW: u32 = 0x090;
    pub const QUEUE_DEVICE_LOW: u32 = 0x0a0;
}

/// Builds the program: each access is R0 = address, R1 = value, then a store or a load.
struct Program {
    words: Vec<u32>,
}

impl Program {
    fn write(&mut self, size: u32, addr: u32, value: u32) {
        self.words.extend(a32::mov32(0, addr));
        self.words.extend(a32::mov32(1, value));
        self.words.push(a32::store(size, 1, 0));
    }
    fn read(&mut self, size: u32, addr: u32) {
        self.words.extend(a32::mov32(0, addr));
        self.words.push(a32::load(size, 1, 0));
    }
    /// Guest RAM bytes, a word at a time.
    fn poke(&mut self, addr: u32, data: &[u8]) {
        for (i, chunk) in data.chunks(4).enumerate() {
            let mut w = [0u8; 4];
            w[..chunk.len()].copy_from_slice(chunk);
            self.write(4, addr + 4 * i as u32, u32::from_le_bytes(w));
        }
    }
}

/// An address for a ring or a buffer: in RAM, over the part of the program that has run
/// already (`code` to `done`: the device's writes there must reach the CPU's decoded copy of
/// that code without disturbing what runs next), in a device's registers, in the transport's
/// own window, or nowhere.
fn target(r: &mut Rng, ram: u32, code: u32, done: u32, transport: u32) -> u32 {
    match r.below(6) {
        0 => code + (r.below(u64::from(done.max(16))) as u32 & !15),
        1 => transport + (r.below(0x200) as u32 & !3),
        2 => 0x1000_0000 + (r.below(0x2_0000) as u32 & !3),
        3 => r.interesting_u32(),
        _ => ram + 0x10_0000 + (r.below(0x10_0000) as u32 & !15),
    }
}

/// A virtio bring-up (legacy or modern register layout, both are tried) with one part wrong,
/// requests written into its descriptor table, notifications, and perhaps a reset.
fn virtio_attack(p: &mut Program, r: &mut Rng, base: u32, ram: u32, code: u32) {
    // What has run by the time the device looks at the rings (less a margin for this code).
    let done = (p.words.len() as u32 * 4).saturating_sub(64);
    let w = |p: &mut Program, off: u32, v: u32| p.write(4, base + off, v);
    w(p, reg::STATUS, 0);
    w(p, reg::STATUS, 1 | 2); // ACKNOWLEDGE | DRIVER
    w(p, reg::DEVICE_FEATURES_SEL, r.below(3) as u32);
    w(p, reg::DRIVER_FEATURES_SEL, r.below(3) as u32);
    w(p, reg::DRIVER_FEATURES, r.interesting_u32());
    if r.chance(50) {
        w(p, reg::DRIVER_FEATURES_SEL, 1);
        w(p, reg::DRIVER_FEATURES, 1); // VERSION_1
    }
    if r.chance(70) {
        w(p, reg::STATUS, 1 | 2 | 8); // FEATURES_OK
    }
    w(p, reg::QUEUE_SEL, if r.chance(80) { 0 } else { r.interesting_u32() });
    let num = match r.below(4) {
        0 => r.interesting_u32(),
        1 => 1 << r.below(17),
        _ => 1 << r.below(9),
    };
    w(p, reg::QUEUE_NUM, num);
    let desc = target(r, ram, code, done, base);
    let avail = target(r, ram, code, done, base);
    let used = target(r, ram, code, done, base);
    if r.chance(50) {
        w(
            p,
            reg::GUEST_PAGE_SIZE,
            if r.chance(80) { 4096 } else { r.interesting_u32() },
        );
        w(
            p,
            reg::QUEUE_ALIGN,
            if r.chance(80) { 4096 } else { r.interesting_u32() },
        );
        w(p, reg::QUEUE_PFN, desc >> 12);
    } else {
        w(p, reg::QUEUE_DESC_LOW, desc);
        w(
            p,
            reg::QUEUE_DESC_HIGH,
            if r.chance(90) { 0 } else { r.interesting_u32() },
        );
        w(p, reg::QUEUE_DRIVER_LOW, avail);
        w(p, reg::QUEUE_DEVICE_LOW, used);
        w(p, reg::QUEUE_READY, 1);
    }
    w(p, reg::STATUS, 1 | 2 | 4 | 8); // DRIVER_OK
    // Descriptors (if the table is in RAM): buffers anywhere, flags and next chosen to make
    // chains that overlap, loop, mix readable and writable parts or go indirect.
    if (ram..ram + 0x800_0000).contains(&desc) {
        let count = 1 + r.below(8);
        for i in 0..count {
            let mut d = [0u8; 16];
            let addr = match r.below(3) {
                0 => code + (r.below(u64::from(done.max(1))) as u32), // data lands on the program
                _ => target(r, ram, code, done, base),
            };
            d[0..4].copy_from_slice(&addr.to_le_bytes());
            let len = if r.chance(70) {
                r.below(0x2000) as u32
            } else {
                r.interesting_u32()
            };
            d[8..12].copy_from_slice(&len.to_le_bytes());
            let flags = r.below(8) as u16; // NEXT, WRITE, INDIRECT
            d[12..14].copy_from_slice(&flags.to_le_bytes());
            let next = if r.chance(70) {
                ((i + 1) % count) as u16
            } else {
                r.next_u32() as u16
            };
            d[14..16].copy_from_slice(&next.to_le_bytes());
            p.poke(desc + 16 * i as u32, &d);
        }
        // A virtio-blk header in the first buffer's place, sometimes: IN or OUT at a sector.
        if r.chance(50) {
            let any = r.next_u32();
            let kind = *r.pick(&[0u32, 1, 4, 8, 11, 13, any]);
            p.poke(ram + 0x10_0000, &[kind.to_le_bytes(), [0; 4]].concat());
        }
    }
    if (ram..ram + 0x800_0000).contains(&avail) {
        let idx = if r.chance(70) {
            1 + r.below(4) as u16
        } else {
            r.next_u32() as u16
        };
        p.poke(avail, &[0, 0, idx as u8, (idx >> 8) as u8, r.below(8) as u8, 0]);
    }
    for _ in 0..1 + r.below(3) {
        w(p, reg::QUEUE_NOTIFY, if r.chance(80) { 0 } else { r.interesting_u32() });
        if r.chance(20) {
            w(p, reg::STATUS, 0); // reset in the middle
        }
        w(p, reg::INTERRUPT_ACK, r.interesting_u32());
    }
}

fn attack(board: &'static str) {
    let b = Board::by_name(board).expect("the board file");
    let ram = b.ram.base;
    let code = ram + 0x1_0000;
    // Register windows: every device, the MPCore region, the flash (its command interface).
    let mut windows: Vec<(u32, u32, bool)> = b
        .device
        .iter()
        .map(|d| (d.base, d.size.unwrap_or(0x1000), d.kind == "virtio-mmio"))
        .collect();
    windows.push((b.mpcore.base, 0x2000, false));
    windows.push((0x4000_0000, 0x100, false));
    let transports: Vec<u32> = b
        .device
        .iter()
        .filter(|d| d.kind == "virtio-mmio")
        .map(|d| d.base)
        .collect();

    let name = format!("adversarial {board}");
    let mut rng = Rng::new(seed(&name));
    let base_image: Vec<u8> = (0..64 * 1024u32).map(|i| (i * 7 + i / 4096) as u8).collect();
    let mut runs = 0;
    for case in 0..cases(12) {
        let case_seed = rng.next_u64();
        let mut r = Rng::new(case_seed);
        let mut p = Program { words: Vec::new() };
        // Interrupts stay masked (CPSR.I and F are set at entry and nothing here clears them),
        // so the program runs to its end whatever the devices raise.
        for _ in 0..400 {
            if r.chance(8) {
                let t = *r.pick(&transports);
                virtio_attack(&mut p, &mut r, t, ram, code);
                continue;
            }
            let (base, size, _) = *r.pick(&windows);
            let size_of_access = *r.pick(&[1u32, 2, 4, 4, 4]);
            let span = if r.chance(70) { size.min(0x100) } else { size };
            let addr = base + (r.below(u64::from(span)) as u32 & !(size_of_access - 1));
            if r.chance(70) {
                p.write(size_of_access, addr, r.interesting_u32());
            } else {
                p.read(size_of_access, addr);
            }
        }
        p.words.extend(a32::exit());
        let program = elf(code, &bytes(&p.words));
        let ro = scratch(&format!("{board}-{case}-ro.img"), &base_image);
        let cow = scratch(&format!("{board}-{case}-cow.img"), &base_image);
        let sd = scratch(&format!("{board}-{case}-sd.img"), &base_image);
        let kernel = scratch(&format!("{board}-{case}.elf"), &program);
        let drives = vec![
            DriveSpec::parse(&format!("file={},readonly=on", ro.display())).unwrap(),
            DriveSpec::parse(&format!("file={},snapshot=on", cow.display())).unwrap(),
            DriveSpec::parse_sd(&format!("{},readonly=on", sd.display())).unwrap(),
        ];
        let what = format!("{name}, case {case} (case seed {case_seed})");
        let k = kernel.clone();
        let outcome = within(120, &what, move || {
            let mut m = machine(board, &k, drives)?;
            let stop = run(&mut m, 2_000_000).map(|s| format!("{s:?}")).map_err(String::from);
            if std::env::var_os("ARMVEX_FUZZ_DEBUG").is_some() {
                eprintln!("{stop:?}\n{}", m.cpus()[0].dump());
            }
            stop
        });
        // An error ends a run too (e.g. every CPU waiting for an interrupt that nothing can
        // raise): one line, no panic.
        let stop = outcome.unwrap_or_else(|e| {
            assert!(
                !e.is_empty() && !e.contains('\n'),
                "{what}: not a one-line error: {e:?}"
            );
            format!("Error({e})")
        });
        for image in [&ro, &cow, &sd] {
            assert!(
                std::fs::read(image).unwrap() == base_image,
                "{what}: {} changed",
                image.display()
            );
        }
        for f in [ro, cow, sd, kernel] {
            let _ = std::fs::remove_file(f);
        }
        if stop.starts_with("Ended") {
            runs += 1;
        }
    }
    eprintln!(
        "{name}: {} adversarial programs, {runs} ran to their end, 0 panics or hangs",
        cases(12)
    );
}

#[test]
fn an_adversarial_guest_attacking_every_device_of_the_vexpress_a9() {
    attack("vexpress-a9");
}

#[test]
fn an_adversarial_guest_attacking_every_device_of_the_vexpress_a15() {
    attack("vexpress-a15");
}
