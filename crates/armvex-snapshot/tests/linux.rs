//! Snapshots late in a Linux boot (the Debian guest of `tools/guest/build`, running its `fs`
//! test: write 1 MiB and a note to ext4 on virtio-blk, sync, read back, count the boot, power
//! off). Each boot saves a snapshot once the guest's test has started, and runs on to the
//! end; the snapshot is then resumed and run to the end. Both must print the same console
//! bytes after the snapshot, end at the same instruction count with the same machine state,
//! and leave the same disk bytes.
//!
//! * in place (carry): the saving run goes on writing the image file, so the snapshot must
//!   hold a copy of the disk;
//! * `snapshot=on` (pin), with a read-only second drive: the snapshot holds the overlay and
//!   the bases' identities.
//!
//! Needs the guest (`ARMVEX_GUEST_DIR`, default `out/guest`): built with the `guest-tests`
//! feature, which `tools/test` turns on after building the guest. Two boots, about a minute.

mod common;

use armvex_machine::console::HostInput;
use armvex_machine::devices::DriveSpec;
use armvex_machine::{Machine, MachineConfig, RunEnd, Stop};
use armvex_snapshot::{LoadHost, load, save};
use common::*;
use std::path::{Path, PathBuf};
use std::time::Instant;

/// The guest directory, checked.
fn guest() -> PathBuf {
    let d = std::env::var_os("ARMVEX_GUEST_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| root().join("out/guest"));
    for f in [
        "vmlinuz",
        "initramfs.cpio.gz",
        "rootfs.img",
        "vexpress-v2p-ca9.dtb",
        "vexpress-v2p-ca15-tc1.dtb",
    ] {
        assert!(
            d.join(f).is_file(),
            "{} missing: build the guest with tools/guest/build",
            d.join(f).display()
        );
    }
    d
}

fn linux(board: &str, smp: usize, drives: Vec<DriveSpec>) -> (Machine, Outputs) {
    let g = guest();
    let dtb = if board == "vexpress-a15" {
        "vexpress-v2p-ca15-tc1.dtb"
    } else {
        "vexpress-v2p-ca9.dtb"
    };
    let out = Outputs::default();
    let m = Machine::new(MachineConfig {
        machine: board.into(),
        memory: Some(512 << 20),
        smp,
        kernel: Some(g.join("vmlinuz")),
        initrd: Some(g.join("initramfs.cpio.gz")),
        dtb: Some(g.join(dtb)),
        append: format!("console=ttyAMA0 root=/dev/vda rw armvex.test=fs armvex.smp={smp} panic=-1"),
        semihosting: None,
        cmdline: String::new(),
        console: Box::new(out.uart.clone()),
        input: HostInput::none(1_700_000_000),
        drives,
        disks: None,
        virtio_modern: true,
        max_instructions: None,
        trace: None,
    })
    .expect("build the Linux machine");
    (m, out)
}

/// Run until the console shows `marker` (checked every 10 million instructions).
fn run_until_console_shows(m: &mut Machine, out: &Outputs, marker: &str) {
    loop {
        let p = m.position() + 10_000_000;
        assert_eq!(
            run_to(m, p),
            Stop::Reached,
            "the guest ended before printing {marker:?}"
        );
        if String::from_utf8_lossy(&out.uart.bytes()).contains(marker) {
            return;
        }
    }
}

/// The whole disk in transport `slot`.
fn disk_bytes(m: &Machine, slot: usize) -> Vec<u8> {
    let (_, disk) = m.disks().iter().find(|(s, _)| *s == slot).expect("a disk in that slot");
    let disk = disk.borrow();
    let mut buf = vec![0; disk.len() as usize];
    disk.read_at(0, &mut buf).unwrap();
    buf
}

/// Boot with `drives`, save at `marker`, run on; resume and compare. Returns the disk in
/// slot 0 at the end of the straight run.
fn snapshot_late_in_boot(test: &str, board: &str, smp: usize, drives: Vec<DriveSpec>, marker: &str) -> Vec<u8> {
    let dir = drives[0].file.parent().unwrap().to_path_buf();
    let started = Instant::now();
    let (mut m, out) = linux(board, smp, drives);
    run_until_console_shows(&mut m, &out, marker);
    let at = m.position();
    let printed = out.uart.len();
    let file = dir.join(format!("{test}.snap"));
    let report = save(&mut m, &file).unwrap();
    let straight = run_to_end(&mut m);
    let boot_seconds = started.elapsed().as_secs_f64();
    let console = out.uart.bytes();
    let text = String::from_utf8_lossy(&console);
    assert_eq!(straight.end, RunEnd::PowerOff, "{text}");
    assert!(
        text.contains("fs: first boot") && text.contains("ARMVEX-TEST fs PASS"),
        "{text}"
    );
    let disk = disk_bytes(&m, 0);
    drop(m);

    let started = Instant::now();
    let resumed_out = Outputs::default();
    let mut r = load(
        &file,
        LoadHost {
            console: Box::new(resumed_out.uart.clone()),
            semihosting: None,
            input: HostInput::none(0),
        },
    )
    .unwrap();
    let load_seconds = started.elapsed().as_secs_f64();
    assert_eq!(r.position(), at);
    let started = Instant::now();
    let resumed = run_to_end(&mut r);
    let resumed_seconds = started.elapsed().as_secs_f64();
    assert_eq!(
        String::from_utf8_lossy(&resumed_out.uart.bytes()),
        String::from_utf8_lossy(&console[printed..]),
        "console output after the snapshot"
    );
    assert_eq!(resumed.instructions, straight.instructions, "final instruction count");
    assert_eq!(resumed, straight, "final machine state");
    assert!(disk_bytes(&r, 0) == disk, "the disk at the end differs");
    eprintln!(
        "{test}: {board} x{smp}, 512 MiB: snapshot at instruction {at} of {}: {} bytes ({} RAM pages, {} disk blocks), saved in {:.3} s, loaded in {load_seconds:.3} s; boot with the save {boot_seconds:.1} s, resumed run {resumed_seconds:.1} s",
        straight.instructions, report.bytes, report.ram_pages, report.disk_blocks, report.seconds
    );
    disk
}

/// A private copy of the guest's root image.
fn scratch_image(dir: &Path, name: &str) -> PathBuf {
    let p = dir.join(name);
    std::fs::copy(guest().join("rootfs.img"), &p).expect("copy rootfs.img");
    p
}

#[test]
fn resumed_in_place_drive_gives_the_straight_run() {
    let dir = scratch_dir("linux-carry");
    let image = scratch_image(&dir, "rootfs.img");
    let drives = vec![DriveSpec {
        file: image.clone(),
        readonly: false,
        snapshot: false,
        backing: None,
        slot: None,
    }];
    let disk = snapshot_late_in_boot("carry", "vexpress-a9", 1, drives, "fs: first boot");
    // The straight run wrote its image in place; the resumed one wrote none.
    assert!(std::fs::read(&image).unwrap() == disk);
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn resumed_overlay_drive_gives_the_straight_run() {
    let dir = scratch_dir("linux-pin");
    let image = scratch_image(&dir, "rootfs.img");
    let spare = scratch_image(&dir, "spare.img");
    let pristine = std::fs::read(&image).unwrap();
    let drives = vec![
        DriveSpec {
            file: image.clone(),
            readonly: false,
            snapshot: true,
            backing: None,
            slot: None,
        },
        DriveSpec {
            file: spare,
            readonly: true,
            snapshot: false,
            backing: None,
            slot: None,
        },
    ];
    let disk = snapshot_late_in_boot("pin", "vexpress-a15", 2, drives, "fs: wrote /data/pattern.bin");
    assert!(disk != pristine, "the guest wrote to its overlay");
    assert!(
        std::fs::read(&image).unwrap() == pristine,
        "a snapshot=on image was written"
    );
    std::fs::remove_dir_all(&dir).unwrap();
}
