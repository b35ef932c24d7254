//! Helpers for the end-to-end tests: locate the armvex binary and the Debian guest, boot it
//! with a test script selected on the kernel command line, and collect what it printed.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

/// The repository root.
pub fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("tests/ is inside the repository")
        .to_path_buf()
}

/// The armvex binary ($ARMVEX, or target/release/armvex).
pub fn armvex() -> PathBuf {
    let p = std::env::var_os("ARMVEX")
        .map(PathBuf::from)
        .unwrap_or_else(|| root().join("target/release/armvex"));
    assert!(
        p.is_file(),
        "{} not found: build it with `cargo build --release`",
        p.display()
    );
    p
}

/// The guest directory ($ARMVEX_GUEST_DIR, or out/guest), checked for the files we need.
pub fn guest() -> PathBuf {
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
            "{} missing: build the guest with `tools/guest/build`",
            d.join(f).display()
        );
    }
    d
}

/// Debian's device tree for `machine`: the CoreTile A15x2's for vexpress-a15, else the A9x4's.
pub fn dtb(machine: &str) -> &'static str {
    if machine == "vexpress-a15" {
        "vexpress-v2p-ca15-tc1.dtb"
    } else {
        "vexpress-v2p-ca9.dtb"
    }
}

/// The start of every Linux boot of the guest: `armvex run` on `machine` (with `--smp` when
/// `smp` says) and 512 MiB, the guest's kernel, device tree `dtb` and initramfs, the kernel
/// command line `console=ttyAMA0 {append}`, the RTC at a fixed time (so that runs are
/// reproducible) and no standard input. Callers add the drives and their own options.
pub fn linux_command(machine: &str, smp: Option<u32>, dtb: &str, append: &str) -> Command {
    linux_command_in(&guest(), "512M", machine, smp, dtb, append)
}

/// [`linux_command`] with the kernel, device tree and initramfs of guest directory `g` (such
/// as `tools/guest/build --lpae`'s) and `mem` of RAM.
pub fn linux_command_in(g: &Path, mem: &str, machine: &str, smp: Option<u32>, dtb: &str, append: &str) -> Command {
    let mut c = Command::new(armvex());
    c.args(["run", "--machine", machine]);
    if let Some(n) = smp {
        c.args(["--smp", &n.to_string()]);
    }
    c.args(["-m", mem, "--kernel"])
        .arg(g.join("vmlinuz"))
        .arg("--dtb")
        .arg(g.join(dtb))
        .arg("--initrd")
        .arg(g.join("initramfs.cpio.gz"))
        .args(["--append", &format!("console=ttyAMA0 {append}")])
        .args(["--rtc-base", "1700000000"])
        .stdin(Stdio::null());
    c
}

/// A random test's seed: `$var` if it is set, else `from_clock` of the time since 1970.
/// Printed (`{label}: {var}={seed}`) so that a failing run can be repeated.
pub fn seed(var: &str, label: &str, from_clock: impl FnOnce(std::time::Duration) -> u64) -> u64 {
    let seed = std::env::var(var).ok().and_then(|s| s.parse().ok()).unwrap_or_else(|| {
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(from_clock)
            .unwrap_or(1)
    });
    eprintln!("{label}: {var}={seed}");
    seed
}

/// A private copy of the root image for one test.
pub fn scratch_disk(name: &str) -> PathBuf {
    let dir = root().join("target/e2e");
    std::fs::create_dir_all(&dir).expect("create target/e2e");
    let p = dir.join(format!("{name}.img"));
    std::fs::copy(guest().join("rootfs.img"), &p).expect("copy rootfs.img");
    p
}

/// One boot.
pub struct Boot<'a> {
    pub machine: &'a str,
    pub smp: u32,
    /// The guest test script to run (/test/NAME.sh), then power off.
    pub test: &'a str,
    pub disk: &'a Path,
    pub readonly: bool,
    pub legacy_virtio: bool,
}

impl<'a> Boot<'a> {
    /// A boot of `machine` with `smp` CPUs running `test` on `disk`, read-write, on modern
    /// virtio-mmio transports.
    pub fn new(machine: &'a str, smp: u32, test: &'a str, disk: &'a Path) -> Boot<'a> {
        Boot {
            machine,
            smp,
            test,
            disk,
            readonly: false,
            legacy_virtio: false,
        }
    }
}

/// What a boot printed and how it ended.
pub struct Outcome {
    pub status: Option<i32>,
    pub console: String,
    pub stderr: String,
}

impl Outcome {
    /// The instruction count of `--stats`.
    pub fn instructions(&self) -> u64 {
        self.stderr
            .lines()
            .find_map(|l| {
                l.strip_prefix("armvex: ")
                    .and_then(|r| r.split(' ').next())
                    .and_then(|n| n.parse().ok())
            })
            .unwrap_or_else(|| panic!("no --stats line in stderr:\n{}", self.stderr))
    }

    /// Assert the console contains `text`.
    pub fn expect(&self, text: &str) {
        assert!(
            self.console.contains(text),
            "console lacks {text:?}; it was:\n{}\nstderr:\n{}",
            self.console,
            self.stderr
        );
    }

    /// Assert the console does not contain `text`.
    pub fn refuse(&self, text: &str) {
        assert!(
            !self.console.contains(text),
            "console contains {text:?}:\n{}",
            self.console
        );
    }
}

/// Boot the guest (with a fixed RTC start time, so that runs are reproducible).
pub fn boot(b: &Boot) -> Outcome {
    let mode = if b.readonly { "ro" } else { "rw" };
    let mut drive = format!("file={}", b.disk.display());
    if b.readonly {
        drive.push_str(",readonly=on");
    }
    let append = format!("root=/dev/vda {mode} armvex.test={} armvex.smp={}", b.test, b.smp);
    let out = linux_command(b.machine, Some(b.smp), dtb(b.machine), &append)
        .args(["--drive", &drive])
        .args(["--virtio-mmio", if b.legacy_virtio { "legacy" } else { "modern" }])
        .args(["--no-reboot", "--stats"])
        .output()
        .expect("run armvex");
    Outcome {
        status: out.status.code(),
        console: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
    }
}

/// The checks every good boot passes: the right board, all CPUs, no GIC complaint, the
/// test's PASS line and a clean power-off (exit status 0).
pub fn assert_good_boot(o: &Outcome, machine: &str, test: &str) {
    let model = if machine == "vexpress-a15" {
        "Machine model: V2P-CA15"
    } else {
        "Machine model: V2P-CA9"
    };
    o.expect(model);
    o.refuse("GIC CPU mask not found");
    o.refuse("Kernel panic");
    o.expect(&format!("ARMVEX-TEST {test} PASS"));
    o.expect("reboot: Power down");
    assert_eq!(o.status, Some(0), "armvex exit status; stderr:\n{}", o.stderr);
}
