//! The adversarial Linux userland (issue 18, item 5): the Debian guest, as root, writes
//! random values of random widths through `/dev/mem` into every MMIO register window of the
//! board (`tools/guest/rootfs/test/devmem.sh`, seeded by `armvex.seed=N`; the vital windows
//! last: system registers, timers, the GIC, the console UART, the root disk's transport).
//!
//! The kernel lets it: Debian's armmp kernel has CONFIG_STRICT_DEVMEM, which on ARM refuses
//! only RAM, and CONFIG_IO_STRICT_DEVMEM, which also refuses regions a driver has claimed
//! unless the command line says `iomem=relaxed` (it does here).
//!
//! The guest may crash, hang or power off anywhere along the way. What is tested is armvex:
//! it must end by itself (the guest powers off, reboots with `--no-reboot`, reaches
//! `--max-instructions`, or armvex reports a deadlock in one line), never panic and never
//! hang; and the root image, on a `snapshot=on` drive, must be byte-identical afterwards.
//! The seed is printed (`ARMVEX_DEVMEM_SEED` repeats a run).

use armvex_e2e::{guest, linux_command, root};
use std::io::Read;
use std::process::Stdio;
use std::time::{Duration, Instant};

/// Accesses per register window.
const PER_WINDOW: u32 = 64;
/// Host seconds a run may take before it counts as a hang.
const HANG: u64 = 600;

fn seed() -> u64 {
    armvex_e2e::seed("ARMVEX_DEVMEM_SEED", "devmem", |d| d.as_secs() % 1_000_000)
}

/// Boot `machine` with `smp` CPUs into the devmem test; check armvex's end and the image.
fn attack(machine: &str, smp: u32, dtb: &str, seed: u64) {
    let g = guest();
    let dir = root().join("target/e2e");
    std::fs::create_dir_all(&dir).expect("create target/e2e");
    let image = dir.join(format!("devmem-{machine}.img"));
    std::fs::copy(g.join("rootfs.img"), &image).expect("copy rootfs.img");
    let before = std::fs::read(&image).expect("read the image");
    let append =
        format!("root=/dev/vda rw iomem=relaxed armvex.test=devmem armvex.seed={seed} armvex.devmem={PER_WINDOW}");
    let mut child = linux_command(machine, Some(smp), dtb, &append)
        .arg("--drive")
        .arg(format!("file={},snapshot=on", image.display()))
        .args(["--no-reboot", "--stats"])
        .args(["--max-instructions", "40000000000"])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("run armvex");
    let mut out = child.stdout.take().expect("stdout");
    let mut err = child.stderr.take().expect("stderr");
    let reader = std::thread::spawn(move || {
        let mut s = Vec::new();
        let _ = out.read_to_end(&mut s);
        String::from_utf8_lossy(&s).into_owned()
    });
    let err_reader = std::thread::spawn(move || {
        let mut s = Vec::new();
        let _ = err.read_to_end(&mut s);
        String::from_utf8_lossy(&s).into_owned()
    });
    let started = Instant::now();
    let status = loop {
        if let Some(status) = child.try_wait().expect("wait for armvex") {
            break status;
        }
        if started.elapsed() > Duration::from_secs(HANG) {
            let _ = child.kill();
            let _ = child.wait();
            panic!("{machine}: armvex still running after {HANG} s (a hang), seed {seed}");
        }
        std::thread::sleep(Duration::from_millis(200));
    };
    let console = reader.join().expect("stdout reader");
    let stderr = err_reader.join().expect("stderr reader");
    let got_to = console
        .lines()
        .filter_map(|l| l.strip_prefix("devmem: window "))
        .next_back()
        .unwrap_or("(none)")
        .to_string();
    let passed = console.contains("ARMVEX-TEST devmem PASS");
    eprintln!(
        "devmem: {machine} --smp {smp}, seed {seed}: exit {:?} after {:.1} s; last window {got_to}; {}; stderr: {}",
        status.code(),
        started.elapsed().as_secs_f64(),
        if passed {
            "the guest survived every window"
        } else {
            "the guest did not get to the end"
        },
        stderr.trim().replace('\n', " | ")
    );
    assert!(
        console.contains("devmem: seed"),
        "{machine}: the devmem test did not start:\n{console}"
    );
    assert!(
        !stderr.contains("panicked") && status.code() != Some(101),
        "{machine}: armvex panicked (seed {seed}):\n{stderr}"
    );
    let code = status
        .code()
        .unwrap_or_else(|| panic!("{machine}: armvex killed by a signal ({status:?}), seed {seed}"));
    // 0: the guest powered off or rebooted (--no-reboot), or --max-instructions; otherwise a
    // one-line error from armvex (a guest that deadlocked itself).
    if code != 0 {
        let errors: Vec<&str> = stderr
            .lines()
            .filter(|l| !l.starts_with("armvex: ") || l.contains("error"))
            .collect();
        assert!(
            stderr.lines().any(|l| l.starts_with("armvex: ")) && errors.len() <= 1,
            "{machine}: exit {code} without a one-line message (seed {seed}):\n{stderr}"
        );
    }
    let after = std::fs::read(&image).expect("read the image again");
    assert!(
        before == after,
        "{machine}: the snapshot=on image changed (seed {seed})"
    );
    let _ = std::fs::remove_file(&image);
}

#[test]
fn random_writes_through_dev_mem_never_break_armvex() {
    let seed = seed();
    let a15 = std::thread::spawn(move || attack("vexpress-a15", 2, "vexpress-v2p-ca15-tc1.dtb", seed));
    attack("vexpress-a9", 1, "vexpress-v2p-ca9.dtb", seed);
    a15.join().expect("the vexpress-a15 run");
}
