//! Debian's armmp-lpae kernel (the long-descriptor translation tables of the Cortex-A15) on
//! vexpress-a15 with two CPUs and 2 GiB, 1.2 GiB of it highmem, root on virtio-blk; and with
//! 6 GiB, 4 GiB of it above the 32-bit physical address space. The guest comes from
//! `tools/guest/build --lpae` (out/guest-lpae, or $ARMVEX_GUEST_LPAE_DIR).

use armvex_e2e::{linux_command_in, root};
use std::path::PathBuf;

fn guest_lpae() -> PathBuf {
    let d = std::env::var_os("ARMVEX_GUEST_LPAE_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| root().join("out/guest-lpae"));
    assert!(
        d.join("vmlinuz").is_file(),
        "{} missing: build the guest with `tools/guest/build --lpae`",
        d.join("vmlinuz").display()
    );
    d
}

/// Boot the LPAE guest with 2 GiB and /test/TEST.sh on a private copy of its root image; the
/// console.
fn boot_lpae(test: &str) -> String {
    boot_lpae_with(
        test,
        "2G",
        &[
            // QEMU 7.2's boot of the same kernel reports 32 KiB more reserved (107560K) and as
            // much less available (1973208K); the highmem figure is the same. (Not investigated:
            // where each places the initrd and device tree.)
            "Memory: 1973240K/2097152K available",
            "1294336K highmem)",
        ],
    )
}

/// Boot the LPAE guest with `memory` and /test/TEST.sh; the console must hold `expected`.
fn boot_lpae_with(test: &str, memory: &str, expected: &[&str]) -> String {
    let g = guest_lpae();
    let disk = root().join(format!("target/e2e/lpae-{test}.img"));
    std::fs::create_dir_all(disk.parent().unwrap()).unwrap();
    std::fs::copy(g.join("rootfs.img"), &disk).unwrap();
    let append = format!("root=/dev/vda rw armvex.test={test} armvex.smp=2 panic=-1");
    let out = linux_command_in(
        &g,
        memory,
        "vexpress-a15",
        Some(2),
        "vexpress-v2p-ca15-tc1.dtb",
        &append,
    )
    .arg("--drive")
    .arg(format!("file={}", disk.display()))
    .args(["--no-reboot", "--stats"])
    .output()
    .expect("run armvex");
    let console = String::from_utf8_lossy(&out.stdout).into_owned();
    assert_eq!(
        out.status.code(),
        Some(0),
        "armvex failed; console:\n{console}\nstderr:\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let pass = format!("ARMVEX-TEST {test} PASS");
    let common = [
        "-armmp-lpae (debian-kernel@lists.debian.org)",
        "Machine model: V2P-CA15",
        "smp: Brought up 1 node, 2 CPUs",
        &pass,
        "reboot: Power down",
    ];
    for &line in common.iter().chain(expected) {
        assert!(console.contains(line), "console lacks {line:?}:\n{console}");
    }
    console
}

#[test]
fn armmp_lpae_kernel_boots_with_highmem_and_two_cpus() {
    let console = boot_lpae("hello");
    assert!(
        console.contains(
            "features: half thumb fastmult vfp edsp thumbee neon vfpv3 tls vfpv4 idiva idivt vfpd32 lpae evtstrm"
        ),
        "the CPU features lack lpae:\n{console}"
    );
}

#[test]
fn armmp_lpae_kernel_writes_and_reads_back_files_on_ext4() {
    boot_lpae("fs");
}

/// 6 GiB: RAM from 0x80000000 to 0x17fffffff, two thirds of it above 4 GiB, where only LPAE's
/// 40-bit physical addresses reach. The kernel sees all of it and /test/highmem.sh fills
/// 2 x 2 GiB at once (more than there is below 4 GiB) and reads it back.
#[test]
fn armmp_lpae_kernel_uses_6g_of_ram_above_4g() {
    boot_lpae_with(
        "highmem",
        "6G",
        &[
            "Memory: 6114260K/6291456K available",
            "5488640K highmem)",
            "highmem: MemTotal 5990 MiB, HighTotal 5360 MiB",
            "mem-pattern: 2 x 2048 MiB, errors 0, checksum 944c8ea6",
        ],
    );
}
