//! The snapshot loader, past its checksums: real snapshot files (both boards, two CPUs, a
//! program running with a timer armed, drives of every kind a snapshot keeps: carried,
//! pinned `snapshot=on` overlays, read-only) are damaged *in their contents* and re-sealed
//! (every section checksum, the header's and the trailer's recomputed), so that the decoders
//! behind the checksums see them: `armvex_snapshot::load_bytes` must refuse each with a
//! one-line error naming the file, or give a machine that then runs without a panic. No
//! input may make the loader ask for a huge amount of memory (a counting allocator watches
//! every allocation).
//!
//! The damage is structure-aware, since bytes flipped at random mostly stop at the first
//! decoder (`armvex-snapshot`'s own `bad_files` test does that):
//!
//! * **sections**: dropped, duplicated, swapped, truncated, given trailing bytes, replaced
//!   by another section's payload;
//! * **the decoded state, re-encoded**: CPUs dropped or duplicated, registers and CPSR (the
//!   mode) set to out-of-range values, the run loop's CPU index past the end, device states
//!   swapped (wrong device order), renamed, truncated, extended or flipped, pending machine
//!   requests (power off, reboot) added, the input cursor and console position huge;
//! * **the setup, re-encoded**: CPU count 0 or huge, RAM size 0, odd or huge, an unknown
//!   board, drives added, removed or moved to other transports;
//! * **block stores** (RAM and disks): total length huge or odd, chunk counts and lengths
//!   wrong, bitmap bits past the end;
//! * **disk records**: the drive index and transport out of range, the disk length huge.

use armvex_fuzz::{Rng, a32, bytes, cases, elf, run, scratch, seed, within};
use armvex_machine::console::HostInput;
use armvex_machine::devices::DriveSpec;
use armvex_machine::{Machine, MachineConfig, MachineSetup, MachineState};
use armvex_semihosting::Console;
use armvex_snapshot::format::{END_MARKER, FINGERPRINT, HEADER_LEN, MAGIC, Tag, VERSION, parse};
use armvex_snapshot::{LoadHost, load_bytes, save};
use std::alloc::{GlobalAlloc, Layout, System};
use std::sync::atomic::{AtomicUsize, Ordering};
use xxhash_rust::xxh3::xxh3_64;

/// The system allocator, remembering the largest single request.
struct Watch;

static LARGEST: AtomicUsize = AtomicUsize::new(0);

// SAFETY: every method forwards to the system allocator with the caller's arguments; the
// only addition is a relaxed atomic maximum, which neither allocates nor touches the memory.
unsafe impl GlobalAlloc for Watch {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        LARGEST.fetch_max(layout.size(), Ordering::Relaxed);
        // SAFETY: forwarded unchanged to the system allocator.
        unsafe { System.alloc(layout) }
    }
    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        LARGEST.fetch_max(layout.size(), Ordering::Relaxed);
        // SAFETY: as above.
        unsafe { System.alloc_zeroed(layout) }
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        // SAFETY: as above.
        unsafe { System.dealloc(ptr, layout) }
    }
    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        LARGEST.fetch_max(new_size, Ordering::Relaxed);
        // SAFETY: as above.
        unsafe { System.realloc(ptr, layout, new_size) }
    }
}

#[global_allocator]
static ALLOCATOR: Watch = Watch;

/// The most one allocation may ask for while a damaged snapshot loads and runs. RAM is a
/// memory mapping, not an allocation; the biggest legitimate allocations are a few MiB
/// (a 1 MiB LZ4 chunk buffer, the original file).
const MOST: usize = 64 << 20;

fn host() -> LoadHost {
    LoadHost {
        console: Box::new(std::io::sink()),
        semihosting: Some(Console {
            output: Box::new(std::io::sink()),
            input: None,
            is_tty: false,
        }),
        input: HostInput::none(0),
    }
}

/// A program that keeps the machine busy: arms the board's SP804 timer 0 (periodic,
/// interrupt enabled), then writes characters to UART0 in a loop forever.
fn program(board: &str) -> Vec<u8> {
    let (uart, timer) = if board == "vexpress-a9" {
        (0x1000_9000, 0x1001_1000)
    } else {
        (0x1c09_0000, 0x1c11_0000)
    };
    let mut code = Vec::new();
    code.extend(a32::mov32(0, timer));
    code.extend(a32::mov32(1, 5000));
    code.push(a32::store(4, 1, 0)); // TimerLoad
    code.extend(a32::mov32(1, 0xe2));
    code.extend(a32::mov32(2, timer + 8));
    code.push(a32::store(4, 1, 2)); // TimerControl: enable, periodic, interrupt, 32-bit
    code.extend(a32::mov32(0, uart));
    code.extend(a32::mov32(1, u32::from(b'a')));
    let top = code.len();
    code.push(a32::store(4, 1, 0)); // UARTDR
    code.push(0xe281_1001); // ADD r1, r1, #1
    code.push(0xe201_107f); // AND r1, r1, #0x7f
    let back = (top as i32 - code.len() as i32 - 2) as u32 & 0x00ff_ffff;
    code.push(0xea00_0000 | back); // B top
    bytes(&code)
}

/// A real snapshot of `board` with two CPUs and three drives (in place, `snapshot=on`,
/// read-only), taken part way through the program.
fn real_snapshot(board: &str, dir_tag: &str) -> Vec<u8> {
    let ram = if board == "vexpress-a9" {
        0x6000_0000
    } else {
        0x8000_0000
    };
    let kernel = scratch(&format!("snap-{dir_tag}.elf"), &elf(ram + 0x1_0000, &program(board)));
    let images: Vec<_> = (0..3)
        .map(|i| {
            let data: Vec<u8> = (0..256 * 1024).map(|j| (j * 7 + i * 13) as u8).collect();
            scratch(&format!("snap-{dir_tag}-{i}.img"), &data)
        })
        .collect();
    let drive = |i: usize, readonly, snapshot| DriveSpec {
        file: images[i].clone(),
        readonly,
        snapshot,
        backing: None,
        slot: None,
    };
    let mut m = Machine::new(MachineConfig {
        memory: Some(32 << 20),
        smp: 2,
        cmdline: "fuzz".into(),
        input: HostInput::none(1_700_000_000),
        drives: vec![drive(0, false, false), drive(1, false, true), drive(2, true, false)],
        ..MachineConfig::bare_metal(board, kernel, Box::new(std::io::sink()))
    })
    .expect("build the machine to snapshot");
    run(&mut m, 300_000).expect("run it");
    let file = scratch(&format!("snap-{dir_tag}.snap"), b"");
    save(&mut m, &file).expect("save a snapshot");
    let data = std::fs::read(&file).expect("read the snapshot back");
    load_bytes("pristine.snap", &data, host())
        .map(|_| ())
        .expect("the pristine snapshot loads");
    data
}

/// A file holding `sections`, sealed with correct checksums (the layout of
/// `armvex_snapshot::format`).
fn assemble(sections: &[(Tag, Vec<u8>)]) -> Vec<u8> {
    let mut f = Vec::new();
    f.extend_from_slice(&MAGIC);
    f.extend_from_slice(&VERSION.to_le_bytes());
    f.extend_from_slice(&FINGERPRINT.to_le_bytes());
    let total = HEADER_LEN + sections.iter().map(|(_, p)| 20 + p.len()).sum::<usize>() + 12;
    f.extend_from_slice(&(total as u64).to_le_bytes());
    let sum = xxh3_64(&f[..36]);
    f.extend_from_slice(&sum.to_le_bytes());
    for (tag, payload) in sections {
        f.extend_from_slice(&tag.bytes());
        f.extend_from_slice(&(payload.len() as u64).to_le_bytes());
        f.extend_from_slice(&xxh3_64(payload).to_le_bytes());
        f.extend_from_slice(payload);
    }
    let sum = xxh3_64(&f);
    f.extend_from_slice(&END_MARKER);
    f.extend_from_slice(&sum.to_le_bytes());
    f
}

/// Flip, zero or set 1 to 8 bytes of `b` (anywhere).
fn flip(r: &mut Rng, b: &mut [u8]) {
    if b.is_empty() {
        return;
    }
    for _ in 0..=r.below(8) {
        let at = r.below(b.len() as u64) as usize;
        b[at] = match r.below(3) {
            0 => b[at] ^ (1 << r.below(8)),
            1 => 0xff,
            _ => r.next_u32() as u8,
        };
    }
}

/// A huge or odd 64-bit number.
fn wild(r: &mut Rng) -> u64 {
    match r.below(6) {
        0 => u64::MAX,
        1 => 1 << r.below(64),
        2 => (1 << r.below(64)) + 1,
        3 => r.below(5),
        4 => u64::from(r.interesting_u32()),
        _ => r.next_u64(),
    }
}

/// Damage the decoded machine state and encode it again.
fn damage_state(r: &mut Rng, payload: &[u8]) -> Vec<u8> {
    let Ok(mut s) = armvex_bus::state::decode::<MachineState>(payload, "state") else {
        return payload.to_vec();
    };
    for _ in 0..=r.below(3) {
        match r.below(14) {
            0 if !s.cpus.is_empty() => {
                s.cpus.pop();
            }
            1 if !s.cpus.is_empty() => {
                let c = s.cpus[0].clone();
                s.cpus.push(c);
                s.activity.push(s.activity[0]);
            }
            2 if !s.cpus.is_empty() => {
                let i = r.below(s.cpus.len() as u64) as usize;
                s.cpus[i].cpsr = r.interesting_u32();
            }
            3 if !s.cpus.is_empty() => {
                let i = r.below(s.cpus.len() as u64) as usize;
                let reg = r.below(16) as usize;
                s.cpus[i].regs[reg] = r.interesting_u32();
            }
            4 if !s.cpus.is_empty() => {
                let i = r.below(s.cpus.len() as u64) as usize;
                s.cpus[i].index = wild(r) as usize;
            }
            5 => s.round.cpu = wild(r) as usize,
            6 => s.round.quantum = wild(r),
            7 if s.bus.devices.len() > 1 => {
                let i = r.below(s.bus.devices.len() as u64) as usize;
                let j = r.below(s.bus.devices.len() as u64) as usize;
                s.bus.devices.swap(i, j);
            }
            8 if !s.bus.devices.is_empty() => {
                let i = r.below(s.bus.devices.len() as u64) as usize;
                let d = &mut s.bus.devices[i].1;
                match r.below(4) {
                    0 => d.truncate(r.below(d.len() as u64 + 1) as usize),
                    1 => d.extend((0..=r.below(16)).map(|_| r.next_u32() as u8)),
                    2 => d.clear(),
                    _ => flip(r, d),
                }
            }
            9 if !s.bus.devices.is_empty() => {
                let i = r.below(s.bus.devices.len() as u64) as usize;
                s.bus.devices[i].0.push('x');
            }
            10 if !s.bus.devices.is_empty() => {
                let i = r.below(s.bus.devices.len() as u64) as usize;
                s.bus.devices.remove(i);
            }
            11 => s.input_cursor = wild(r) as usize,
            12 => s.console_position = wild(r),
            _ => {
                // A device's state replaced by another device's (same length or not).
                let n = s.bus.devices.len() as u64;
                if n > 1 {
                    let (i, j) = (r.below(n) as usize, r.below(n) as usize);
                    s.bus.devices[i].1 = s.bus.devices[j].1.clone();
                }
            }
        }
    }
    armvex_bus::state::encode(&s)
}

/// Damage the decoded machine setup and encode it again.
fn damage_setup(r: &mut Rng, payload: &[u8]) -> Vec<u8> {
    let Ok(mut s) = armvex_bus::state::decode::<MachineSetup>(payload, "setup") else {
        return payload.to_vec();
    };
    match r.below(8) {
        0 => s.smp = wild(r) as usize,
        1 => s.memory = wild(r),
        2 => s.memory = s.memory.wrapping_add(4096 * (r.below(3) + 1)),
        3 => {
            s.machine = r
                .pick(&["vexpress-a9", "vexpress-a15", "", "vexpress-a9\0"])
                .to_string()
        }
        4 if !s.drives.is_empty() => {
            s.drives.pop();
        }
        5 if !s.drives.is_empty() => {
            let d = s.drives[0].clone();
            s.drives.push(d);
        }
        6 if !s.drives.is_empty() => {
            let i = r.below(s.drives.len() as u64) as usize;
            s.drives[i].slot = Some(wild(r) as usize);
        }
        _ => {
            s.virtio_modern = !s.virtio_modern;
            s.rtc_start = wild(r);
        }
    }
    armvex_bus::state::encode(&s)
}

/// Damage a block store (RAM, or a disk's after its record) at its structure: the total
/// length, the chunk count, a chunk's length, the bitmap's last byte.
fn damage_store(r: &mut Rng, store: &mut [u8]) {
    if store.len() < 12 {
        return;
    }
    let total = u64::from_le_bytes(store[..8].try_into().expect("8 bytes"));
    let bitmap = total.div_ceil(4096).div_ceil(8) as usize;
    match r.below(4) {
        0 => {
            let v = match r.below(3) {
                0 => wild(r),
                1 => total + 1 + r.below(8192),
                _ => total.saturating_sub(1 + r.below(8192)),
            };
            store[..8].copy_from_slice(&v.to_le_bytes());
        }
        1 if store.len() >= 8 + bitmap + 4 => {
            let at = 8 + bitmap;
            let v = wild(r) as u32;
            store[at..at + 4].copy_from_slice(&v.to_le_bytes());
        }
        2 if store.len() >= 8 + bitmap + 8 => {
            let at = 8 + bitmap + 4;
            let v = match r.below(3) {
                0 => u32::MAX,
                1 => 0,
                _ => r.next_u32() >> r.below(32),
            };
            store[at..at + 4].copy_from_slice(&v.to_le_bytes());
        }
        _ if bitmap > 0 && store.len() > 8 + bitmap => {
            store[8 + bitmap - 1] = r.next_u32() as u8;
            let i = 8 + r.below(bitmap as u64) as usize;
            store[i] ^= 1 << r.below(8);
        }
        _ => {}
    }
}

/// Damage a disk section: its record (re-encoded by hand: the record's first bytes are
/// postcard varints of the drive index and transport) or its block store.
fn damage_disk(r: &mut Rng, payload: &mut Vec<u8>) {
    if payload.len() < 4 {
        return;
    }
    let n = u32::from_le_bytes(payload[..4].try_into().expect("4 bytes")) as usize;
    match r.below(4) {
        0 if payload.len() >= 4 + n && n >= 2 => {
            // Drive index or transport: one varint byte each for small values.
            let at = 4 + r.below(2) as usize;
            payload[at] = *r.pick(&[0u8, 1, 2, 3, 4, 7, 0x7f, 100]);
        }
        1 => {
            let v = match r.below(3) {
                0 => u32::MAX,
                1 => n as u32 + 1 + r.below(8) as u32,
                _ => (n as u32).saturating_sub(1),
            };
            payload[..4].copy_from_slice(&v.to_le_bytes());
        }
        2 if payload.len() >= 4 + n => flip(r, &mut payload[4..4 + n]),
        _ if payload.len() > 4 + n => {
            let mut store = payload[4 + n..].to_vec();
            damage_store(r, &mut store);
            payload.truncate(4 + n);
            payload.extend_from_slice(&store);
        }
        _ => {}
    }
}

/// One damaged copy of `pristine` (already cut into its sections).
fn damaged(r: &mut Rng, sections: &[(Tag, Vec<u8>)]) -> Vec<u8> {
    let mut s = sections.to_vec();
    for _ in 0..=r.below(2) {
        let i = r.below(s.len() as u64) as usize;
        match r.below(12) {
            0 => {
                s.remove(i);
            }
            1 => {
                let dup = s[i].clone();
                s.insert(i, dup);
            }
            2 => {
                let j = r.below(s.len() as u64) as usize;
                s.swap(i, j);
            }
            3 => {
                let p = &mut s[i].1;
                p.truncate(r.below(p.len() as u64 + 1) as usize);
            }
            4 => s[i].1.extend((0..=r.below(8)).map(|_| r.next_u32() as u8)),
            5 => {
                let j = r.below(s.len() as u64) as usize;
                s[i].1 = s[j].1.clone();
            }
            _ => match s[i].0 {
                Tag::Setup => s[i].1 = damage_setup(r, &s[i].1),
                Tag::State => s[i].1 = damage_state(r, &s[i].1),
                Tag::Ram => damage_store(r, &mut s[i].1),
                Tag::Disk => damage_disk(r, &mut s[i].1),
                Tag::Input => flip(r, &mut s[i].1),
            },
        }
        if s.is_empty() {
            break;
        }
    }
    assemble(&s)
}

#[test]
fn damaged_snapshot_contents_are_refused_in_one_line_or_run() {
    let seed = seed("snapshots");
    let total = cases(1000);
    let outcome = within(1800, "snapshots", move || {
        let mut rng = Rng::new(seed);
        let mut figures = Vec::new();
        for (n, board) in ["vexpress-a9", "vexpress-a15"].into_iter().enumerate() {
            let pristine = real_snapshot(board, &format!("{n}"));
            let sections: Vec<(Tag, Vec<u8>)> = parse("pristine", &pristine)
                .expect("parse the pristine snapshot")
                .into_iter()
                .map(|(t, p)| (t, p.to_vec()))
                .collect();
            // Re-assembled unchanged it is the same file, and loads.
            assert_eq!(assemble(&sections), pristine, "assemble() writes the format");
            let (mut refused, mut ran, mut largest) = (0u64, 0u64, 0usize);
            let mut messages = std::collections::BTreeMap::<String, u64>::new();
            for case in 0..total {
                let case_seed = rng.next_u64();
                let mut r = Rng::new(case_seed);
                let file = damaged(&mut r, &sections);
                LARGEST.store(0, Ordering::Relaxed);
                let what = format!("{board} case {case} (case seed {case_seed})");
                let result = std::panic::catch_unwind(|| match load_bytes("x.snap", &file, host()) {
                    Ok(mut m) => {
                        let _ = run(&mut m, 20_000);
                        Ok(())
                    }
                    Err(e) => Err(e.to_string()),
                });
                let got = LARGEST.load(Ordering::Relaxed);
                largest = largest.max(got);
                assert!(got <= MOST, "{what}: one allocation of {got} bytes");
                match result {
                    Err(p) => {
                        let message = p
                            .downcast_ref::<String>()
                            .cloned()
                            .or_else(|| p.downcast_ref::<&str>().map(|s| s.to_string()))
                            .unwrap_or_default();
                        panic!("{what}: armvex panicked: {message}");
                    }
                    Ok(Ok(())) => ran += 1,
                    Ok(Err(e)) => {
                        assert!(
                            e.contains("x.snap") && !e.contains('\n') && !e.is_empty(),
                            "{what}: not a one-line error naming the file: {e:?}"
                        );
                        // The kind of message, without the numbers.
                        let kind: String = e.chars().filter(|c| !c.is_ascii_digit()).take(90).collect();
                        *messages.entry(kind).or_default() += 1;
                        refused += 1;
                    }
                }
            }
            figures.push(format!(
                "{board}: {total} damaged snapshots ({} bytes each): {refused} refused in one line ({} kinds of message), {ran} loaded and ran 20,000 instructions; largest allocation {largest} bytes",
                pristine.len(),
                messages.len()
            ));
        }
        figures
    });
    for f in outcome {
        eprintln!("snapshots: {f}");
    }
}
