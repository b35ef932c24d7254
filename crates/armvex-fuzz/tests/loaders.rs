//! Damaged kernels: ELF files, uImages and zImages with valid headers and a few bytes changed,
//! and plain junk. Each must be refused with a one-line error or run, never panic or hang.

// CRC-32 as uImage headers use it (the loader's own).
use armvex_devices::lan9118::crc32;
use armvex_fuzz::{Rng, a32, bytes, cases, elf, machine, run, scratch, seed, within};

/// A valid legacy uImage (U-Boot's `image_header_t`, big-endian) of a kernel.
fn uimage(rng: &mut Rng, payload: &[u8]) -> Vec<u8> {
    let mut h = vec![0u8; 64];
    let put = |h: &mut Vec<u8>, at: usize, v: u32| h[at..at + 4].copy_from_slice(&v.to_be_bytes());
    put(&mut h, 0, 0x2705_1956); // magic
    put(&mut h, 8, rng.next_u32()); // time
    put(&mut h, 12, payload.len() as u32);
    let load = 0x6000_8000 + (rng.below(16) as u32) * 0x1000;
    put(&mut h, 16, load);
    put(&mut h, 20, load);
    put(&mut h, 24, crc32(payload));
    h[28] = 5; // IH_OS_LINUX
    h[29] = 2; // IH_ARCH_ARM
    h[30] = 2; // IH_TYPE_KERNEL
    h[31] = 0; // IH_COMP_NONE
    h[32..40].copy_from_slice(b"fuzzing\0");
    let hcrc = crc32(&h);
    put(&mut h, 4, hcrc);
    h.extend_from_slice(payload);
    h
}

/// A zImage-shaped file: the magic 0x016f2818 at 0x24, start and end at 0x28 and 0x2c.
fn zimage(rng: &mut Rng, code: &[u8]) -> Vec<u8> {
    let mut z = code.to_vec();
    z.resize(z.len().max(0x40), 0);
    z[0x24..0x28].copy_from_slice(&0x016f_2818u32.to_le_bytes());
    z[0x28..0x2c].copy_from_slice(&0u32.to_le_bytes());
    let end = if rng.chance(50) {
        z.len() as u32
    } else {
        rng.interesting_u32()
    };
    z[0x2c..0x30].copy_from_slice(&end.to_le_bytes());
    z
}

/// Change 1 to 8 bytes, mostly in the first 128 (the headers).
fn damage(rng: &mut Rng, file: &mut [u8]) {
    for _ in 0..=rng.below(8) {
        let limit = if rng.chance(70) {
            file.len().min(128)
        } else {
            file.len()
        };
        let at = rng.below(limit as u64) as usize;
        file[at] = match rng.below(4) {
            0 => 0,
            1 => 0xff,
            2 => file[at] ^ (1 << rng.below(8)),
            _ => rng.next_u32() as u8,
        };
    }
}

#[test]
fn damaged_kernels_are_refused_or_run_never_panic() {
    let mut rng = Rng::new(seed("loaders"));
    let (mut refused, mut ran) = (0, 0);
    for case in 0..cases(300) {
        let case_seed = rng.next_u64();
        let mut r = Rng::new(case_seed);
        let board = *r.pick(&["vexpress-a9", "vexpress-a15"]);
        let ram = if board == "vexpress-a9" {
            0x6000_0000
        } else {
            0x8000_0000
        };
        let mut code = a32::exit();
        code.extend((0..r.below(64)).map(|_| r.next_u32()));
        let code = bytes(&code);
        let mut file = match r.below(4) {
            0 => elf(ram + r.below(0x1000) as u32 * 4, &code),
            1 => uimage(&mut r, &code),
            2 => zimage(&mut r, &code),
            _ => (0..r.below(4096)).map(|_| r.next_u32() as u8).collect(),
        };
        if !file.is_empty() {
            damage(&mut r, &mut file);
        }
        let what = format!("loaders case {case} on {board} (case seed {case_seed})");
        let path = scratch(&format!("kernel-{case}"), &file);
        let kernel = path.clone();
        let outcome = within(60, &what, move || {
            let mut m = machine(board, &kernel, Vec::new())?;
            run(&mut m, 20_000).map(|_| ()).map_err(String::from)
        });
        let _ = std::fs::remove_file(&path);
        match outcome {
            Ok(()) => ran += 1,
            Err(e) => {
                assert!(
                    !e.contains('\n') && !e.is_empty(),
                    "{what}: not a one-line error: {e:?}"
                );
                refused += 1;
            }
        }
    }
    eprintln!(
        "loaders: {} damaged kernels: {refused} refused in one line, {ran} ran",
        cases(300)
    );
}
