//! Random instruction streams on both boards' cores, ARM and Thumb: the decoders and one run of
//! execution from random register values must never panic or hang, whatever the stream holds
//! (undefined encodings, coprocessor accesses, mode changes, exceptions, loads and stores
//! anywhere in the address map).

use armvex_fuzz::{Rng, a32, bytes, cases, elf, machine, run, scratch, seed, within};

/// Instructions run per program.
const STEPS: u64 = 20_000;

/// A program: registers set from the stream (half of them pointing into RAM, so that loads and
/// stores reach memory rather than only aborting), then 4 KiB of random code, entered in ARM
/// or (with `thumb`) Thumb state.
fn program(rng: &mut Rng, ram: u32, thumb: bool) -> Vec<u8> {
    let mut words = Vec::new();
    for r in 0..12 {
        let value = if rng.chance(50) {
            ram + 0x10_0000 + (rng.below(0x10_0000) as u32 & !3)
        } else {
            rng.interesting_u32()
        };
        words.extend(a32::mov32(r, value));
    }
    words.extend(a32::mov32(13, ram + 0x80_0000)); // SP
    words.extend(a32::mov32(14, rng.interesting_u32()));
    // R12 = the code after the BX (+1 for Thumb), then BX R12.
    let code = ram + (words.len() as u32 + 3) * 4;
    words.extend(a32::mov32(12, code | u32::from(thumb)));
    words.push(a32::bx(12));
    for _ in 0..1024 {
        let w = rng.next_u32();
        let w = match (thumb, rng.below(4)) {
            // ARM: mostly unconditional, so that the instruction itself runs.
            (false, 0..=1) => (w & 0x0fff_ffff) | 0xe000_0000,
            // ARM: loads and stores (single, multiple, coprocessor) with an address register.
            (false, 2) => (w & 0x0e3f_ffff & !(0xf << 16)) | 0xe400_0000 | (rng.below(8) as u32) << 16,
            // Thumb: a 32-bit encoding's first halfword (0b111xx, xx != 00) then anything.
            (true, 0..=1) => (w & 0xffff_07ff) | 0xe800 | (rng.below(3) as u32 + 1) << 11,
            _ => w,
        };
        words.push(w);
    }
    bytes(&words)
}

fn fuzz(board: &'static str, ram: u32, thumb: bool) {
    let name = format!("cpu {board} {}", if thumb { "thumb" } else { "arm" });
    let mut rng = Rng::new(seed(&name));
    let mut ended = 0;
    for case in 0..cases(60) {
        let case_seed = rng.next_u64();
        let what = format!("{name}, case {case} (case seed {case_seed})");
        let code = program(&mut Rng::new(case_seed), ram, thumb);
        let path = scratch(&format!("cpu-{board}-{thumb}-{case}.elf"), &elf(ram, &code));
        let file = path.clone();
        let stop = within(60, &what, move || {
            let mut m = machine(board, &file, Vec::new())?;
            run(&mut m, STEPS).map(|s| format!("{s:?}")).map_err(String::from)
        });
        let _ = std::fs::remove_file(&path);
        // An error is an answer too (e.g. every CPU waiting for an interrupt that nothing can
        // raise): one line, no panic.
        match stop {
            Ok(stop) if stop == "Reached" => {}
            Ok(_) => ended += 1,
            Err(e) => {
                assert!(
                    !e.is_empty() && !e.contains('\n'),
                    "{what}: not a one-line error: {e:?}"
                );
                ended += 1;
            }
        }
    }
    eprintln!(
        "{name}: {} programs of {STEPS} instructions, {ended} ended early",
        cases(60)
    );
}

#[test]
fn random_arm_code_on_the_cortex_a9() {
    fuzz("vexpress-a9", 0x6000_0000, false);
}

#[test]
fn random_thumb_code_on_the_cortex_a9() {
    fuzz("vexpress-a9", 0x6000_0000, true);
}

#[test]
fn random_arm_code_on_the_cortex_a15() {
    fuzz("vexpress-a15", 0x8000_0000, false);
}

#[test]
fn random_thumb_code_on_the_cortex_a15() {
    fuzz("vexpress-a15", 0x8000_0000, true);
}
