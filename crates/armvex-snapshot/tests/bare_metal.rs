//! Snapshots of bare-metal machines (the firmware test programs), saved at many positions —
//! the first instructions, the middle of blocks, around interrupts, after the end — and
//! resumed: the resumed run must print what the straight run printed after that point, and
//! end with the same instruction count and the same machine state hash. So must the run that
//! saved the snapshot (saving drops the caches and nothing else).

mod common;

use armvex_machine::Stop;
use armvex_machine::console::HostInput;
use armvex_snapshot::{LoadHost, load, save};
use common::*;

/// Enough for the firmware (its scratch area is 16 MiB into RAM), small enough that hashing
/// the whole machine after every run stays quick.
const RAM: u64 = 32 << 20;

/// Load `file` with fresh outputs.
fn resume(file: &std::path::Path) -> Result<(armvex_machine::Machine, Outputs), String> {
    let out = Outputs::default();
    let m = load(
        file,
        LoadHost {
            console: Box::new(out.uart.clone()),
            semihosting: Some(out.semihosting_console()),
            input: HostInput::none(0),
        },
    )?;
    Ok((m, out))
}

/// Save `name` at many positions along one run, and resume each snapshot; compare with the
/// straight run.
fn resume_anywhere(board: &str, name: &str, smp: usize, random: usize) {
    let elf = firmware(board, name);
    let (mut m, out) = bare_metal(board, &elf, smp, RAM);
    let straight = run_to_end(&mut m);
    let (uart, semihosting) = (out.uart.bytes(), out.semihosting.bytes());
    assert_eq!(straight.end, armvex_machine::RunEnd::Exit(0), "{name} passes");
    assert!(!semihosting.is_empty(), "{name} prints through semihosting");
    drop(m);

    // One run saves a snapshot at every position, and must still end as the straight run.
    let dir = scratch_dir(&format!("{board}-{name}-{smp}"));
    let (mut m, out) = bare_metal(board, &elf, smp, RAM);
    let mut saved = Vec::new();
    for p in positions(straight.instructions, random, straight.instructions) {
        let stop = run_to(&mut m, p);
        if p < straight.instructions {
            assert_eq!((stop, m.position()), (Stop::Reached, p));
        }
        let file = dir.join(format!("at-{p}.snap"));
        let report = save(&mut m, &file).unwrap_or_else(|e| panic!("save at {p}: {e}"));
        assert_eq!(report.bytes, std::fs::metadata(&file).unwrap().len());
        assert!(report.ram_pages > 0);
        saved.push((p, m.position(), (out.uart.len(), out.semihosting.len()), file));
    }
    assert_eq!(
        run_to_end(&mut m),
        straight,
        "{name}: the run that saved snapshots went on differently"
    );
    assert_eq!(out.semihosting.bytes(), semihosting);
    assert_eq!(out.uart.bytes(), uart);
    drop(m);

    for (p, at, printed, file) in saved {
        let (mut r, rout) = resume(&file).unwrap_or_else(|e| panic!("load the snapshot at {p}: {e}"));
        assert_eq!(r.position(), at);
        let resumed = run_to_end(&mut r);
        assert_eq!(resumed, straight, "{name}: the run resumed at {p} went on differently");
        assert_eq!(
            String::from_utf8_lossy(&rout.semihosting.bytes()),
            String::from_utf8_lossy(&semihosting[printed.1..]),
            "{name}: semihosting output after {p}"
        );
        assert_eq!(rout.uart.bytes(), uart[printed.0..], "{name}: console output after {p}");
    }
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn timer_and_gic_interrupts_vexpress_a9() {
    resume_anywhere("vexpress-a9", "wfi", 1, 20);
}

#[test]
fn two_cpus_racing_vexpress_a9() {
    resume_anywhere("vexpress-a9", "wfi", 2, 20);
}

#[test]
fn mmu_and_tlb_vexpress_a9() {
    resume_anywhere("vexpress-a9", "mmu_map", 1, 10);
    resume_anywhere("vexpress-a9", "tlb", 1, 10);
}

#[test]
fn exceptions_and_semihosting_handles_vexpress_a9() {
    resume_anywhere("vexpress-a9", "exc_entry", 1, 10);
    // (It also writes a few lines to the host's stderr, as QEMU does for ":tt" in append mode.)
    resume_anywhere("vexpress-a9", "semihost", 1, 4);
    resume_anywhere("vexpress-a9", "excl_exc", 1, 10);
}

#[test]
fn generic_timer_and_secure_world_vexpress_a15() {
    resume_anywhere("vexpress-a15", "wfi", 1, 15);
    resume_anywhere("vexpress-a15", "secure", 1, 10);
    resume_anywhere("vexpress-a15", "vfp_lazy", 2, 10);
}

/// A snapshot of a resumed machine, resumed again: the chain gives the straight run too.
#[test]
fn snapshots_of_resumed_machines() {
    let elf = firmware("vexpress-a9", "wfi");
    let (mut m, out) = bare_metal("vexpress-a9", &elf, 2, RAM);
    let straight = run_to_end(&mut m);
    let semihosting = out.semihosting.bytes();
    let dir = scratch_dir("chain");
    let (mut m, first_out) = bare_metal("vexpress-a9", &elf, 2, RAM);
    let step = straight.instructions / 7 + 13;
    let mut at = step;
    run_to(&mut m, at);
    let mut file = dir.join("0.snap");
    save(&mut m, &file).unwrap();
    assert_eq!(armvex_snapshot::setup_of(&file).unwrap(), *m.setup());
    let printed = first_out.semihosting.len();
    let mut resumed_output = Vec::new();
    for n in 1..6 {
        let (mut r, rout) = resume(&file).unwrap();
        at += step;
        run_to(&mut r, at);
        resumed_output.extend(rout.semihosting.bytes());
        file = dir.join(format!("{n}.snap"));
        save(&mut r, &file).unwrap();
    }
    let (mut r, rout) = resume(&file).unwrap();
    assert_eq!(run_to_end(&mut r), straight);
    resumed_output.extend(rout.semihosting.bytes());
    assert_eq!(resumed_output, semihosting[printed..]);
    // The same snapshot resumes as often as asked.
    let (mut again, _) = resume(&dir.join("0.snap")).unwrap();
    assert_eq!(run_to_end(&mut again), straight);
    std::fs::remove_dir_all(&dir).unwrap();
}
