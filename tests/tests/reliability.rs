//! End-to-end tests of what armvex promises about a guest's data:
//!
//! * **Crash consistency**: armvex killed with SIGKILL at random instants while the guest
//!   writes and fsyncs files loses nothing the guest was told is durable, and leaves a file
//!   system that checks clean after its journal is replayed.
//! * **Host I/O errors**: a disk image on a full host file system gives the guest I/O errors
//!   (never silently dropped writes), is said once on stderr, and armvex carries on.

use armvex_e2e::{Outcome, armvex, guest, linux_command, root};
use std::collections::BTreeMap;
use std::os::unix::process::ExitStatusExt;
use std::path::{Path, PathBuf};
use std::process::Command;

/// A private copy of the root image with `tests/guest/crash.sh` installed as /test/crash.sh.
fn crash_image(name: &str) -> PathBuf {
    let dir = root().join("target/e2e");
    std::fs::create_dir_all(&dir).expect("create target/e2e");
    let p = dir.join(format!("reliability-{name}.img"));
    std::fs::copy(guest().join("rootfs.img"), &p).expect("copy rootfs.img");
    install_test_script(&p, &root().join("tests/guest/crash.sh"), "crash.sh");
    p
}

/// Write the host file `script` into `image` as /test/`name`, executable (with debugfs).
fn install_test_script(image: &Path, script: &Path, name: &str) {
    let commands = image.with_extension("debugfs");
    std::fs::write(
        &commands,
        format!("cd /test\nwrite {} {name}\nsif {name} mode 0100755\n", script.display()),
    )
    .unwrap();
    let out = Command::new("debugfs")
        .arg("-w")
        .arg("-f")
        .arg(&commands)
        .arg(image)
        .output()
        .expect("run debugfs (e2fsprogs)");
    assert!(
        out.status.success(),
        "debugfs: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// The command that boots the a9 guest on `disk` running the crash test with `files` files.
fn crash_boot(disk: &Path, files: u32) -> Command {
    let append = format!("root=/dev/vda rw armvex.test=crash armvex.crash_files={files}");
    let mut c = linux_command("vexpress-a9", None, "vexpress-v2p-ca9.dtb", &append);
    c.arg("--drive")
        .arg(format!("file={}", disk.display()))
        .args(["--no-reboot", "--stats"]);
    c
}

fn outcome(out: std::process::Output) -> (Outcome, Option<i32>) {
    let signal = out.status.signal();
    (
        Outcome {
            status: out.status.code(),
            console: String::from_utf8_lossy(&out.stdout).into_owned(),
            stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
        },
        signal,
    )
}

/// A complete run: the instruction count it ends at.
fn calibrate(files: u32) -> u64 {
    let disk = crash_image(&format!("calibrate-{files}"));
    let (o, _) = outcome(crash_boot(&disk, files).output().expect("run armvex"));
    o.expect("ARMVEX-TEST crash PASS");
    o.expect(&format!("crash: writing {files} files"));
    if files > 0 {
        o.expect(&format!("crash: durable {files} "));
    }
    let _ = std::fs::remove_file(&disk);
    o.instructions()
}

/// xorshift64*: the kill instants, from a seed printed so that a failure reproduces.
struct Rng(u64);
impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }
}

fn e2fsck(args: &[&str], disk: &Path) -> (i32, String) {
    let out = Command::new("e2fsck")
        .args(args)
        .arg(disk)
        .output()
        .expect("run e2fsck (e2fsprogs)");
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    (out.status.code().unwrap_or(-1), text)
}

/// Kill armvex (SIGKILL, from inside: `--crash-at N`) at 20 instants spread over the guest's
/// write loop, chosen by a seed ($ARMVEX_CRASH_SEED, else the clock; printed). After each:
/// replay the journal on the host (`e2fsck -E journal_only`, what a mount would do), check
/// the file system (`e2fsck -fn`: exit 0), and read back with debugfs every file the guest
/// announced durable before the kill: same SHA-256; `latest` is the last announced N or the
/// one after it (its atomic rename either happened or not).
#[test]
fn killed_at_random_instants_no_fsynced_file_is_lost() {
    const KILLS: usize = 20;
    let seed = armvex_e2e::seed("ARMVEX_CRASH_SEED", "crash test", |d| d.as_nanos() as u64 | 1);
    // Where the write loop starts and ends, in instructions (the boot is deterministic).
    let files = 60;
    let (start, end) = std::thread::scope(|s| {
        let start = s.spawn(|| calibrate(0));
        (start.join().unwrap(), calibrate(files))
    });
    assert!(
        end > start,
        "the loop of {files} files retired no instructions ({start}, {end})"
    );
    let mut rng = Rng(seed);
    // Mostly inside the loop; a few just before it (the boot, mkdir) and near its end.
    let span = (end - start) * 11 / 10;
    let instants: Vec<u64> = (0..KILLS)
        .map(|_| (start - (end - start) / 20 + rng.next() % span).min(end - 1))
        .collect();
    // Two at a time: the machine's two cores.
    let announced: usize = std::thread::scope(|s| {
        let workers: Vec<_> = [0, 1]
            .map(|w| {
                let instants = &instants;
                s.spawn(move || {
                    (w..KILLS)
                        .step_by(2)
                        .map(|kill| kill_and_check(seed, kill, instants[kill], files))
                        .sum::<usize>()
                })
            })
            .into_iter()
            .collect();
        workers.into_iter().map(|w| w.join().unwrap()).sum()
    });
    // The kills did land inside the loop: most saw files written, so the checks above checked.
    assert!(announced > KILLS * 5, "only {announced} durable files in {KILLS} kills");
}

/// One kill at instruction `at` and the checks after it; returns how many files the guest had
/// announced durable.
fn kill_and_check(seed: u64, kill: usize, at: u64, files: u32) -> usize {
    let disk = crash_image(&format!("kill-{kill}"));
    let (o, signal) = outcome(
        crash_boot(&disk, files)
            .arg("--crash-at")
            .arg(at.to_string())
            .output()
            .unwrap(),
    );
    let context = format!("ARMVEX_CRASH_SEED={seed}, kill {kill} at instruction {at}");
    assert_eq!(
        signal,
        Some(9),
        "{context}: armvex was not killed by SIGKILL; stderr:\n{}",
        o.stderr
    );
    o.refuse("ARMVEX-TEST crash FAIL");
    let mut durable = BTreeMap::new();
    let mut latest = 0;
    for line in o.console.lines() {
        let mut words = line.split_whitespace();
        match (words.next(), words.next(), words.next(), words.next()) {
            (Some("crash:"), Some("durable"), Some(n), Some(sum)) => {
                durable.insert(n.to_string(), sum.to_string());
            }
            (Some("crash:"), Some("latest"), Some(n), None) => latest = n.parse().unwrap(),
            _ => {}
        }
    }
    let (code, text) = e2fsck(&["-E", "journal_only", "-p"], &disk);
    assert!(
        code == 0 || code == 1,
        "{context}: journal replay failed ({code}):\n{text}"
    );
    let (code, text) = e2fsck(&["-fn"], &disk);
    assert_eq!(code, 0, "{context}: e2fsck -fn after the journal replay:\n{text}");
    let out_dir = root().join(format!("target/e2e/reliability-kill-{kill}-files"));
    let _ = std::fs::remove_dir_all(&out_dir);
    std::fs::create_dir_all(&out_dir).unwrap();
    let out = Command::new("debugfs")
        .arg("-R")
        .arg(format!("rdump /data {}", out_dir.display()))
        .arg(&disk)
        .output()
        .expect("run debugfs");
    assert!(out.status.success(), "{context}: debugfs rdump failed");
    let dir = out_dir.join("data/crash");
    for (n, sum) in &durable {
        let file = dir.join(n);
        let got = Command::new("sha256sum").arg(&file).output().expect("run sha256sum");
        let got = String::from_utf8_lossy(&got.stdout);
        assert_eq!(
            got.split_whitespace().next(),
            Some(sum.as_str()),
            "{context}: /data/crash/{n} was announced durable with SHA-256 {sum}, but reads back as {got:?}"
        );
    }
    if latest > 0 {
        let text = std::fs::read_to_string(dir.join("latest"))
            .unwrap_or_else(|e| panic!("{context}: /data/crash/latest announced ({latest}) but unreadable: {e}"));
        let value: u32 = text
            .trim()
            .parse()
            .unwrap_or_else(|_| panic!("{context}: latest holds {text:?}"));
        assert!(
            value == latest || value == latest + 1,
            "{context}: latest holds {value}, but {latest} was announced last"
        );
    }
    eprintln!(
        "crash test: kill {kill} at {at}: {} durable files intact, latest {latest}",
        durable.len()
    );
    let _ = std::fs::remove_file(&disk);
    let _ = std::fs::remove_dir_all(&out_dir);
    durable.len()
}

/// A disk image on a full host file system (a 24 MiB tmpfs in a private mount namespace,
/// the image copied sparse so the guest's writes need new host blocks): the guest's writes
/// fail with I/O errors, ext4 aborts its journal and goes read-only, the guest still powers
/// off cleanly, armvex says so once on stderr, and the image checks clean afterwards.
#[test]
fn a_full_host_disk_gives_the_guest_io_errors_and_armvex_carries_on() {
    let g = guest();
    let dir = root().join("target/e2e/reliability-enospc");
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(dir.join("mnt")).unwrap();
    let script = format!(
        r#"set -e
mount -t tmpfs -o size=24M armvex-enospc {dir}/mnt
cp --sparse=always {guest}/rootfs.img {dir}/mnt/root.img
set +e
{armvex} run --machine vexpress-a9 -m 512M --kernel {guest}/vmlinuz --dtb {guest}/vexpress-v2p-ca9.dtb \
  --initrd {guest}/initramfs.cpio.gz --drive file={dir}/mnt/root.img --rtc-base 1700000000 --no-reboot --stats \
  --append 'console=ttyAMA0 root=/dev/vda rw armvex.test=dd armvex.dd_mb=48' \
  </dev/null >{dir}/console.txt 2>{dir}/stderr.txt
echo "armvex exit $?" >{dir}/result.txt
e2fsck -fn {dir}/mnt/root.img >{dir}/e2fsck.txt 2>&1
echo "e2fsck exit $?" >>{dir}/result.txt
"#,
        dir = dir.display(),
        guest = g.display(),
        armvex = armvex().display()
    );
    let out = Command::new("unshare")
        .args(["-m", "sh", "-c", &script])
        .output()
        .expect("run unshare (util-linux)");
    assert!(
        out.status.success(),
        "a private tmpfs (needs root): {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let read = |f: &str| std::fs::read_to_string(dir.join(f)).unwrap_or_default();
    let (console, stderr, result) = (read("console.txt"), read("stderr.txt"), read("result.txt"));
    let o = Outcome {
        status: None,
        console,
        stderr: stderr.clone(),
    };
    // The guest saw I/O errors for its writes, and its own dd failed with EIO...
    o.expect("I/O error, dev vda, sector");
    o.expect("ARMVEX-TEST dd FAIL (dd if=/dev/zero of=/data/dd.bin bs=1M count=48 conv=fsync failed");
    o.expect("Input/output error");
    // ...ext4 went read-only, and the guest still shut down cleanly.
    o.expect("EXT4-fs (vda): Remounting filesystem read-only");
    o.expect("reboot: Power down");
    assert!(result.contains("armvex exit 0"), "{result}\nstderr:\n{stderr}");
    // Said once, in one line, whatever the number of failed requests.
    let said: Vec<&str> = stderr.lines().filter(|l| l.contains("host I/O error")).collect();
    assert_eq!(said.len(), 1, "stderr:\n{stderr}");
    assert!(said[0].contains("No space left on device"), "{}", said[0]);
    assert!(
        !stderr.contains('\x1b'),
        "colour codes in a redirected stderr:\n{stderr}"
    );
    assert!(result.contains("e2fsck exit 0"), "{result}\n{}", read("e2fsck.txt"));
}

/// A private copy of the root image, unchanged (for the overlay tests' bases).
fn base_image(name: &str) -> PathBuf {
    let dir = root().join("target/e2e");
    std::fs::create_dir_all(&dir).expect("create target/e2e");
    let p = dir.join(format!("reliability-{name}.img"));
    std::fs::copy(guest().join("rootfs.img"), &p).expect("copy rootfs.img");
    p
}

/// Boot the a9 guest running `test` with `drive` as its root drive and `append` added.
fn boot_with_drive(drive: &str, test: &str, append: &str, no_reboot: bool) -> Outcome {
    let append = format!("root=/dev/vda rw armvex.test={test} {append}");
    let mut c = linux_command("vexpress-a9", None, "vexpress-v2p-ca9.dtb", &append);
    c.args(["--drive", drive]);
    if no_reboot {
        c.arg("--no-reboot");
    }
    let (o, _) = outcome(c.output().expect("run armvex"));
    o
}

/// `--drive file=OVERLAY,backing=BASE`: the guest's files survive into the next boot through
/// the overlay file, the base never changes, and a base changed behind the overlay's back is
/// refused in one line.
#[test]
fn an_overlay_file_keeps_the_guests_files_and_never_changes_its_base() {
    let base = base_image("backing-base");
    let pristine = std::fs::read(&base).unwrap();
    let overlay = root().join("target/e2e/reliability-backing.overlay");
    let _ = std::fs::remove_file(&overlay);
    let drive = format!("file={},backing={}", overlay.display(), base.display());
    let first = boot_with_drive(&drive, "fs", "", true);
    first.expect("fs: first boot");
    first.expect("ARMVEX-TEST fs PASS");
    let second = boot_with_drive(&drive, "fs", "", true);
    second.expect("fs: files from a previous boot");
    second.expect("ARMVEX-TEST fs PASS");
    assert!(std::fs::read(&base).unwrap() == pristine, "the base image changed");
    // The base's first block changes: the overlay no longer fits it.
    let mut changed = pristine.clone();
    changed[0] ^= 0xff;
    std::fs::write(&base, &changed).unwrap();
    let out = Command::new(armvex())
        .args(["run", "--kernel"])
        .arg(guest().join("vmlinuz"))
        .args(["--drive", &drive])
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert_eq!(stderr.lines().count(), 1, "{stderr}");
    assert!(stderr.contains("has changed since: refusing"), "{stderr}");
    let _ = std::fs::remove_file(&overlay);
    let _ = std::fs::remove_file(&base);
}

/// `snapshot=on`: 100 MiB written and fsynced by the guest, and a reboot in the middle (the
/// overlay lives as long as armvex, as in QEMU, so the file written before the reboot is still
/// there after it); the base image is the same, byte for byte, afterwards.
#[test]
fn snapshot_on_keeps_its_base_unchanged_under_100_mib_and_a_reboot() {
    let base = base_image("cow-base");
    // Room for 100 MiB: grow the file system to 256 MiB.
    let grown = Command::new("sh")
        .arg("-c")
        .arg(format!(
            "truncate -s 256M {0} && e2fsck -fy {0} >/dev/null 2>&1; resize2fs {0} >/dev/null 2>&1",
            base.display()
        ))
        .status()
        .unwrap();
    assert!(grown.success(), "resize2fs (e2fsprogs)");
    let script = root().join("target/e2e/reliability-cowreboot.sh");
    std::fs::write(
        &script,
        "f=/cow-reboot.txt\n\
         if [ -f $f ]; then\n\
         \x20   echo \"cowreboot: after the reboot: $(cat $f)\"\n\
         \x20   exec /test/dd.sh\n\
         fi\n\
         echo 'written before a reboot' >$f\n\
         sync\n\
         echo 'cowreboot: rebooting'\n\
         reboot -f\n\
         sleep 30\n",
    )
    .unwrap();
    install_test_script(&base, &script, "cowreboot.sh");
    let pristine = std::fs::read(&base).unwrap();
    let o = boot_with_drive(
        &format!("file={},snapshot=on", base.display()),
        "cowreboot",
        "armvex.dd_mb=100",
        false,
    );
    o.expect("cowreboot: rebooting");
    o.expect("reboot: Restarting system");
    o.expect("cowreboot: after the reboot: written before a reboot");
    o.expect("dd: write 104857600 bytes");
    o.expect("ARMVEX-TEST dd PASS");
    assert!(
        std::fs::read(&base).unwrap() == pristine,
        "the base image changed under snapshot=on"
    );
    let _ = std::fs::remove_file(&base);
}
