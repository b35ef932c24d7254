//! The NOR flashes (`--pflash`) in snapshots: the firmware test `pflash` programs, erases and
//! queries flash 0 (an image written in place) and fails to change flash 1 (read-only).
//! Snapshots taken anywhere in it — in the middle of a command sequence too — resume to the
//! same end as the unbroken run: the same output, instruction count and state hash, and the
//! same bytes in the flash image; the image file itself is left as the saving run wrote it.

mod common;

use armvex_machine::console::HostInput;
use armvex_machine::devices::{DriveSpec, PFLASH_SLOTS};
use armvex_machine::{Machine, MachineConfig};
use armvex_snapshot::{LoadHost, load, save};
use common::*;
use std::path::{Path, PathBuf};

const FLASH: usize = 64 << 20;

/// Flash images: a pattern in the first MiB, zeros after.
fn flash_image(path: &Path, seed: u32) {
    let mut bytes = vec![0u8; FLASH];
    for (i, w) in bytes[..1 << 20].chunks_mut(4).enumerate() {
        w.copy_from_slice(&((i as u32).wrapping_mul(2_654_435_761) ^ seed).to_le_bytes());
    }
    std::fs::write(path, bytes).unwrap();
}

fn machine(flash0: &Path, flash1: &Path) -> (Machine, Outputs) {
    let out = Outputs::default();
    let spec = |file: &Path, readonly, slot| DriveSpec {
        file: file.to_path_buf(),
        readonly,
        snapshot: false,
        backing: None,
        slot: Some(slot),
    };
    let m = Machine::new(MachineConfig {
        machine: "vexpress-a9".into(),
        memory: Some(64 << 20),
        smp: 1,
        kernel: Some(firmware("vexpress-a9", "pflash")),
        initrd: None,
        dtb: None,
        append: String::new(),
        semihosting: Some(out.semihosting_console()),
        cmdline: "pflash".into(),
        console: Box::new(out.uart.clone()),
        input: HostInput::none(1_700_000_000),
        drives: vec![
            spec(flash0, false, PFLASH_SLOTS[0]),
            spec(flash1, true, PFLASH_SLOTS[1]),
        ],
        disks: None,
        virtio_modern: true,
        max_instructions: None,
        trace: None,
    })
    .unwrap();
    (m, out)
}

fn flash_bytes(m: &Machine, slot: usize) -> Vec<u8> {
    let (_, disk) = m.disks().iter().find(|(s, _)| *s == slot).expect("the flash's image");
    let mut buf = vec![0; FLASH];
    disk.borrow().read_at(0, &mut buf).unwrap();
    buf
}

struct Images {
    dir: PathBuf,
    flash0: PathBuf,
    flash1: PathBuf,
}

fn fresh(test: &str) -> Images {
    let dir = scratch_dir(test);
    let i = Images {
        flash0: dir.join("flash0.img"),
        flash1: dir.join("flash1.img"),
        dir,
    };
    flash_image(&i.flash0, 0x5a5a_0000);
    flash_image(&i.flash1, 0xb4b4_0000);
    i
}

#[test]
fn flash_snapshots_resume_to_the_same_end() {
    let i = fresh("pflash-straight");
    let (mut m, out) = machine(&i.flash0, &i.flash1);
    let straight = run_to_end(&mut m);
    let printed = out.semihosting.bytes();
    assert!(
        String::from_utf8_lossy(&printed).contains("code in flash, round 1: returned 77"),
        "{}",
        String::from_utf8_lossy(&printed)
    );
    let final_flash = flash_bytes(&m, PFLASH_SLOTS[0]);
    drop(m);
    assert!(
        std::fs::read(&i.flash0).unwrap() == final_flash,
        "programs reach the image file"
    );
    let pristine1 = {
        let j = fresh("pflash-ro");
        std::fs::read(&j.flash1).unwrap()
    };
    assert!(
        std::fs::read(&i.flash1).unwrap() == pristine1,
        "the read-only image is unchanged"
    );

    for p in positions(straight.instructions, 6, 0x9e37) {
        if p == 0 || p >= straight.instructions {
            continue;
        }
        let j = fresh("pflash-saving");
        let (mut m, _) = machine(&j.flash0, &j.flash1);
        run_to(&mut m, p);
        let file = j.dir.join("s.snap");
        save(&mut m, &file).unwrap();
        assert_eq!(run_to_end(&mut m), straight, "the saving run, snapshot at {p}");
        drop(m);
        let written = std::fs::read(&j.flash0).unwrap();
        assert!(written == final_flash, "snapshot at {p}: the saving run's image");
        let r_out = Outputs::default();
        let mut r = load(
            &file,
            LoadHost {
                console: Box::new(r_out.uart.clone()),
                semihosting: Some(r_out.semihosting_console()),
                input: HostInput::none(0),
            },
        )
        .unwrap();
        assert_eq!(run_to_end(&mut r), straight, "resumed at {p}");
        let tail = r_out.semihosting.bytes();
        assert!(printed.ends_with(&tail), "resumed at {p}: the output's end differs");
        assert!(
            flash_bytes(&r, PFLASH_SLOTS[0]) == final_flash,
            "resumed at {p}: flash 0"
        );
        assert!(flash_bytes(&r, PFLASH_SLOTS[1]) == pristine1, "resumed at {p}: flash 1");
        drop(r);
        assert!(
            std::fs::read(&j.flash0).unwrap() == written,
            "resuming never writes the image"
        );
        std::fs::remove_dir_all(&j.dir).unwrap();
    }
    std::fs::remove_dir_all(&i.dir).unwrap();
}
