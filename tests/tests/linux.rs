//! Debian's armmp kernel on both boards, with its root file system on virtio-blk.

use armvex_e2e::{Boot, assert_good_boot, boot, scratch_disk};

#[test]
fn vexpress_a9_one_cpu() {
    let disk = scratch_disk("a9-smp1");
    let o = boot(&Boot::new("vexpress-a9", 1, "hello", &disk));
    assert_good_boot(&o, "vexpress-a9", "hello");
    // The random pool is ready at once from the device tree's /chosen/rng-seed (without it,
    // on armvex's instruction-counting clock, it never became ready without a virtio-rng).
    o.expect("[    0.000000] random: crng init done");
    o.expect("smp: Brought up 1 node, 1 CPU");
    o.expect("[vda] 131072 512-byte logical blocks");
}

#[test]
fn vexpress_a9_two_cpus() {
    let disk = scratch_disk("a9-smp2");
    let o = boot(&Boot::new("vexpress-a9", 2, "hello", &disk));
    assert_good_boot(&o, "vexpress-a9", "hello");
    o.expect("smp: Brought up 1 node, 2 CPUs");
}

#[test]
fn vexpress_a15_two_cpus() {
    let disk = scratch_disk("a15-smp2");
    let o = boot(&Boot::new("vexpress-a15", 2, "hello", &disk));
    assert_good_boot(&o, "vexpress-a15", "hello");
    o.expect("[    0.000000] random: crng init done");
    o.expect("arch_timer: cp15 timer(s) running at 62.50MHz (virt).");
    o.expect("smp: Brought up 1 node, 2 CPUs");
}

#[test]
fn vexpress_a15_four_cpus() {
    // The CoreTile A15x2 device tree describes two CPUs; armvex adds cpu@2 and cpu@3 to it
    // (QEMU doesn't, and Linux starts only two there), so Linux starts all four.
    let disk = scratch_disk("a15-smp4");
    let o = boot(&Boot::new("vexpress-a15", 4, "hello", &disk));
    assert_good_boot(&o, "vexpress-a15", "hello");
    o.expect("CPU3: thread -1, cpu 3, socket 0, mpidr 80000003");
    o.expect("smp: Brought up 1 node, 4 CPUs");
    o.expect("hello: CPUs present 0-3, online 0-3");
}

#[test]
fn files_persist_across_boots_and_reach_the_image() {
    let disk = scratch_disk("fs-persist");
    let run = || boot(&Boot::new("vexpress-a15", 2, "fs", &disk));
    let first = run();
    assert_good_boot(&first, "vexpress-a15", "fs");
    first.expect("fs: first boot");
    let second = run();
    assert_good_boot(&second, "vexpress-a15", "fs");
    second.expect("fs: files from a previous boot");
    // The host image itself holds the file the guest wrote.
    let out = std::process::Command::new("debugfs")
        .args(["-R", "cat /data/note.txt"])
        .arg(&disk)
        .output()
        .expect("run debugfs (e2fsprogs)");
    assert_eq!(
        String::from_utf8_lossy(&out.stdout),
        "armvex fs test\nThe quick brown fox jumps over the lazy dog.\n"
    );
}

#[test]
fn legacy_virtio_mmio_transport() {
    let disk = scratch_disk("legacy");
    let o = boot(&Boot {
        legacy_virtio: true,
        ..Boot::new("vexpress-a9", 1, "fs", &disk)
    });
    assert_good_boot(&o, "vexpress-a9", "fs");
}

#[test]
fn read_only_drive_mounts_read_only_and_refuses_writes() {
    let disk = scratch_disk("readonly");
    let run = |readonly| {
        boot(&Boot {
            readonly,
            ..Boot::new("vexpress-a9", 1, "fs", &disk)
        })
    };
    // A read-write boot first leaves files for the read-only boot to check (fs.sh's
    // "previous read-write boot" branch): read cold from the disk, and again after the page
    // cache is dropped.
    let rw = run(false);
    assert_good_boot(&rw, "vexpress-a9", "fs");
    rw.expect("fs: this was boot 1");
    let before = std::fs::read(&disk).unwrap();
    let o = run(true);
    assert_good_boot(&o, "vexpress-a9", "fs");
    o.expect("mounted ro");
    o.expect("fs: creating a file fails as it should");
    o.expect("fs: remount read-write refused as it should");
    o.expect("fs: files from a previous boot (boots so far: 1):");
    let pattern = "fs: 9ba9021fcbace935a5900fd48e98302e9c48cb6e51db2bc05c6f211b931adb0c  /data/pattern.bin";
    assert_eq!(
        o.console.matches(pattern).count(),
        2,
        "the pattern file is checked before and after dropping caches:\n{}",
        o.console
    );
    o.expect("fs: b675be36a5fe4f39314c34552112230e391d3d4797d234fd38ae2eec893d2c02  /data/note.txt");
    assert!(std::fs::read(&disk).unwrap() == before, "a read-only image changed");
}

#[test]
fn two_identical_boots_are_identical() {
    let disk = scratch_disk("determinism");
    let pristine = std::fs::read(&disk).unwrap();
    let run = || {
        std::fs::write(&disk, &pristine).unwrap();
        boot(&Boot::new("vexpress-a9", 2, "hello", &disk))
    };
    let (a, b) = (run(), run());
    assert_good_boot(&a, "vexpress-a9", "hello");
    assert_eq!(a.console, b.console, "console transcripts differ");
    assert_eq!(a.instructions(), b.instructions(), "instruction counts differ");
}

#[test]
fn neon_user_program_matches_qemu_on_both_boards() {
    // /test/neon.sh: the kernel lists `neon` (MVFR1), and tools/guest/neon/neon-sum.c, built
    // for ARM and for Thumb, prints the checksum and FPSCR QEMU 7.2 prints on both cores.
    for (machine, smp) in [("vexpress-a9", 1), ("vexpress-a15", 2)] {
        let disk = scratch_disk(&format!("neon-{machine}"));
        let o = boot(&Boot {
            machine,
            smp,
            test: "neon",
            disk: &disk,
            readonly: false,
            legacy_virtio: false,
        });
        assert_good_boot(&o, machine, "neon");
        for isa in ["arm", "thumb"] {
            o.expect(&format!("neon-sum-{isa}: fpscr 08000093"));
            o.expect(&format!("neon-sum-{isa}: checksum cf2ee9ac"));
        }
    }
}
