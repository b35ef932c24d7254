//! Disks in snapshots, on a bare-metal machine with three drives: one written in place
//! (carried), one with `snapshot=on` (pinned), one read-only. The test writes to the disks
//! through the machine's handles, as the virtio-blk device does for a guest, before and after
//! the snapshot: the resumed machine must see the disks exactly as they were at the snapshot,
//! and must never write an image file. Changed images are refused.

mod common;

use armvex_machine::console::HostInput;
use armvex_machine::devices::DriveSpec;
use armvex_machine::{Machine, MachineConfig};
use armvex_snapshot::{LoadHost, load, save};
use common::*;
use std::path::{Path, PathBuf};

/// Image contents: a pattern, with zero blocks here and there and a short last block.
fn image(seed: u8, len: usize) -> Vec<u8> {
    (0..len)
        .map(|i| {
            if (i / 4096) % 3 == 1 {
                0
            } else {
                (i as u8).wrapping_mul(seed) ^ (i >> 12) as u8
            }
        })
        .collect()
}

fn machine(drives: Vec<DriveSpec>) -> (Machine, Outputs) {
    let out = Outputs::default();
    let m = Machine::new(MachineConfig {
        machine: "vexpress-a9".into(),
        memory: Some(32 << 20),
        smp: 1,
        kernel: Some(firmware("vexpress-a9", "wfi")),
        initrd: None,
        dtb: None,
        append: String::new(),
        semihosting: Some(out.semihosting_console()),
        cmdline: String::new(),
        console: Box::new(out.uart.clone()),
        input: HostInput::none(1_700_000_000),
        drives,
        disks: None,
        virtio_modern: true,
        max_instructions: None,
        trace: None,
    })
    .unwrap();
    (m, out)
}

fn resume(file: &Path) -> Result<Machine, String> {
    let out = Outputs::default();
    load(
        file,
        LoadHost {
            console: Box::new(out.uart.clone()),
            semihosting: Some(out.semihosting_console()),
            input: HostInput::none(0),
        },
    )
    .map_err(String::from)
}

/// The whole disk in transport `slot`.
fn disk_bytes(m: &Machine, slot: usize) -> Vec<u8> {
    let (_, disk) = m.disks().iter().find(|(s, _)| *s == slot).expect("a disk in that slot");
    let disk = disk.borrow();
    let mut buf = vec![0; disk.len() as usize];
    disk.read_at(0, &mut buf).unwrap();
    buf
}

/// Write `data` at `offset` of the disk in transport `slot`.
fn write_disk(m: &Machine, slot: usize, offset: u64, data: &[u8]) {
    let (_, disk) = m.disks().iter().find(|(s, _)| *s == slot).expect("a disk in that slot");
    disk.borrow_mut().write_at(offset, data).unwrap();
}

struct Images {
    dir: PathBuf,
    in_place: PathBuf,
    overlay: PathBuf,
    read_only: PathBuf,
}

fn images(test: &str) -> Images {
    let dir = scratch_dir(test);
    let i = Images {
        in_place: dir.join("in-place.img"),
        overlay: dir.join("base.img"),
        read_only: dir.join("ro.img"),
        dir,
    };
    std::fs::write(&i.in_place, image(3, 300 * 4096 + 100)).unwrap();
    std::fs::write(&i.overlay, image(5, 200 * 4096)).unwrap();
    std::fs::write(&i.read_only, image(7, 50 * 4096 + 7)).unwrap();
    i
}

/// The drives: in place in transport 2 (explicitly), the overlay and the read-only image in
/// the first free ones (0 and 1).
fn drives(i: &Images) -> Vec<DriveSpec> {
    let spec = |file: &Path, readonly, snapshot, slot| DriveSpec {
        file: file.to_path_buf(),
        readonly,
        snapshot,
        backing: None,
        slot,
    };
    vec![
        spec(&i.in_place, false, false, Some(2)),
        spec(&i.overlay, false, true, None),
        spec(&i.read_only, true, false, None),
    ]
}

const IN_PLACE: usize = 2;
const OVERLAY: usize = 0;
const READ_ONLY: usize = 1;

#[test]
fn disks_resume_as_they_were_at_the_snapshot() {
    let i = images("disks");
    // One machine at a time: a machine holds its in-place image's write lock.
    let straight = {
        let (mut m, _) = machine(drives(&i));
        run_to_end(&mut m)
    };
    let (mut m, _) = machine(drives(&i));
    run_to(&mut m, 40_000);
    // Writes before the snapshot: a whole block, a partial one, bytes across a block edge,
    // and the short last block.
    write_disk(&m, IN_PLACE, 4096, &[0xaa; 4096]);
    write_disk(&m, IN_PLACE, 300 * 4096 + 50, &[0xbb; 50]);
    write_disk(&m, OVERLAY, 10 * 4096 + 4000, &[0xcc; 200]);
    write_disk(&m, OVERLAY, 77 * 4096, &[0; 4096]);
    let at_snapshot = [
        disk_bytes(&m, OVERLAY),
        disk_bytes(&m, READ_ONLY),
        disk_bytes(&m, IN_PLACE),
    ];
    let file = i.dir.join("disks.snap");
    let report = save(&mut m, &file).unwrap();
    // In place: the non-zero blocks of the whole disk; overlay: the blocks it holds (10, 11
    // and 77, zeros included: the base is not zero there).
    let nonzero = at_snapshot[2]
        .chunks(4096)
        .filter(|b| b.iter().any(|&x| x != 0))
        .count() as u64;
    assert_eq!(report.disk_blocks, nonzero + 3);

    // The saving run goes on writing, in place too.
    write_disk(&m, IN_PLACE, 0, &[0x11; 8192]);
    write_disk(&m, OVERLAY, 10 * 4096, &[0x22; 4096]);
    assert_eq!(run_to_end(&mut m), straight);
    let in_place_final = disk_bytes(&m, IN_PLACE);
    drop(m);
    assert_eq!(std::fs::read(&i.in_place).unwrap(), in_place_final);

    for round in 0..2 {
        let mut r = resume(&file).unwrap();
        for (slot, want) in [OVERLAY, READ_ONLY, IN_PLACE].into_iter().zip(&at_snapshot) {
            assert!(
                disk_bytes(&r, slot) == *want,
                "round {round}: disk {slot} is not as it was"
            );
        }
        // The resumed machine writes to overlays only.
        write_disk(&r, IN_PLACE, 0, &[0x33; 4096]);
        write_disk(&r, OVERLAY, 0, &[0x44; 4096]);
        assert_eq!(run_to_end(&mut r), straight);
    }
    assert_eq!(std::fs::read(&i.in_place).unwrap(), in_place_final);
    assert_eq!(std::fs::read(&i.overlay).unwrap(), image(5, 200 * 4096));
    assert_eq!(std::fs::read(&i.read_only).unwrap(), image(7, 50 * 4096 + 7));

    // A snapshot of the resumed machine (its carried disk is now a temporary disk) resumes
    // the same way.
    let mut r = resume(&file).unwrap();
    write_disk(&r, IN_PLACE, 8192, &[0x55; 10]);
    let again = i.dir.join("again.snap");
    save(&mut r, &again).unwrap();
    let expect = disk_bytes(&r, IN_PLACE);
    let r2 = resume(&again).unwrap();
    assert!(disk_bytes(&r2, IN_PLACE) == expect);
    assert!(disk_bytes(&r2, OVERLAY) == at_snapshot[0]);
    std::fs::remove_dir_all(&i.dir).unwrap();
}

#[test]
fn changed_images_are_refused() {
    let i = images("changed");
    let (mut m, _) = machine(drives(&i));
    run_to(&mut m, 1000);
    let file = i.dir.join("s.snap");
    save(&mut m, &file).unwrap();
    drop(m);
    let shown = |p: &Path| std::fs::canonicalize(p).unwrap().display().to_string();

    // One byte of the overlay's base changed.
    let mut base = std::fs::read(&i.overlay).unwrap();
    base[12345] ^= 1;
    std::fs::write(&i.overlay, &base).unwrap();
    assert_eq!(
        resume(&file).err().unwrap(),
        format!(
            "snapshot {}: disk image {} has changed since the snapshot was taken",
            file.display(),
            shown(&i.overlay)
        )
    );
    base[12345] ^= 1;
    std::fs::write(&i.overlay, &base).unwrap();
    resume(&file).unwrap();

    // The read-only image grew.
    let mut ro = std::fs::read(&i.read_only).unwrap();
    ro.push(0);
    std::fs::write(&i.read_only, &ro).unwrap();
    assert_eq!(
        resume(&file).err().unwrap(),
        format!(
            "snapshot {}: disk image {} has changed since the snapshot was taken",
            file.display(),
            shown(&i.read_only)
        )
    );
    ro.pop();
    std::fs::write(&i.read_only, &ro).unwrap();

    // The in-place image may change or go: the snapshot carries its contents.
    std::fs::remove_file(&i.in_place).unwrap();
    resume(&file).unwrap();

    // A base that is gone.
    let where_ = shown(&i.overlay);
    std::fs::remove_file(&i.overlay).unwrap();
    let e = resume(&file).err().unwrap();
    assert!(
        e.starts_with(&format!(
            "snapshot {}: cannot open disk image {where_}: ",
            file.display()
        )),
        "{e}"
    );
    std::fs::remove_dir_all(&i.dir).unwrap();
}
