//! End-to-end tests of the motherboard's devices with the Debian guest: root on the SD card
//! (PL181) on both boards, every AMBA device bound or cleanly skipped (no "deferred probe
//! pending"), the CLCD's framebuffer console compared pixel for pixel with a reference
//! picture, and a line typed on the PS/2 keyboard (PL050) reaching the guest.
//!
//! The SD card's throughput is measured by `sd_throughput` (ignored by default: run it
//! with `tools/test --long`).

use armvex_e2e::{Outcome, assert_good_boot, dtb, guest, linux_command, root};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

/// A private copy of the root image for one test (as `scratch_disk`, named for this file).
fn image(name: &str) -> PathBuf {
    let dir = root().join("target/e2e");
    std::fs::create_dir_all(&dir).expect("create target/e2e");
    let p = dir.join(format!("board-{name}.img"));
    std::fs::copy(guest().join("rootfs.img"), &p).expect("copy rootfs.img");
    p
}

/// Boot the guest on `machine` with `append` added to the command line and `extra` options.
fn boot(machine: &str, smp: u32, dtb: &str, append: &str, extra: &[&str]) -> Outcome {
    let out = linux_command(machine, Some(smp), dtb, &format!("{append} armvex.smp={smp}"))
        .args(["--no-reboot", "--stats"])
        .args(extra)
        .output()
        .expect("run armvex");
    Outcome {
        status: out.status.code(),
        console: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
    }
}

/// Root on /dev/mmcblk0: written in one boot, read back in the next, and in the image.
fn sd_root(machine: &str, smp: u32) {
    let disk = image(&format!("sd-{machine}"));
    let sd = disk.display().to_string();
    let run = || {
        boot(
            machine,
            smp,
            dtb(machine),
            "root=/dev/mmcblk0 rw armvex.test=fs",
            &["--sd", &sd],
        )
    };
    let first = run();
    assert_good_boot(&first, machine, "fs");
    first.expect("mmcblk0: mmc0:4567 ARMVX 64.0 MiB");
    first.expect("fs: root /dev/mmcblk0 mounted rw");
    first.expect("fs: first boot");
    let second = run();
    assert_good_boot(&second, machine, "fs");
    second.expect("fs: files from a previous boot");
    let out = Command::new("debugfs")
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
fn root_on_the_sd_card_vexpress_a9() {
    sd_root("vexpress-a9", 1);
}

#[test]
fn root_on_the_sd_card_vexpress_a15() {
    sd_root("vexpress-a15", 2);
}

#[test]
fn a_read_only_sd_card_mounts_read_only() {
    let disk = image("sd-ro");
    let before = std::fs::read(&disk).unwrap();
    let sd = format!("{},readonly=on", disk.display());
    let o = boot(
        "vexpress-a9",
        1,
        dtb("vexpress-a9"),
        "root=/dev/mmcblk0 ro armvex.test=fs",
        &["--sd", &sd],
    );
    assert_good_boot(&o, "vexpress-a9", "fs");
    o.expect("mounted ro");
    o.expect("device read-only: 1");
    assert!(std::fs::read(&disk).unwrap() == before, "a read-only SD image changed");
}

/// The acceptance of the motherboard work: after the ten seconds Linux waits, no device is
/// left deferred, and each has its driver (or, for the memory controllers and the AACI, none
/// exists in this kernel and the device is skipped).
#[test]
fn every_device_is_bound_or_skipped_vexpress_a9() {
    let disk = image("devices");
    let sd = disk.display().to_string();
    let o = boot(
        "vexpress-a9",
        1,
        dtb("vexpress-a9"),
        "root=/dev/mmcblk0 rw armvex.test=devices",
        &["--sd", &sd],
    );
    assert_good_boot(&o, "vexpress-a9", "devices");
    o.refuse("deferred probe pending");
    for bound in [
        "10005000.mmci id 00041181 driver mmci-pl18x",
        "10006000.kmi id 00041050 driver kmi-pl050",
        "10007000.kmi id 00041050 driver kmi-pl050",
        "1000f000.wdt id 00141805 driver sp805-wdt",
        "100e5000.watchdog id 00141805 driver sp805-wdt",
        "10004000.aaci id 29041041 driver -",
        "100e0000.memory-controller id 00041341 driver -",
        "100e1000.memory-controller id 00041354 driver -",
        "1001f000.clcd id 00241111",
        "devices: input AT Raw Set 2 keyboard",
        "devices: input ImExPS/2 Generic Explorer Mouse",
    ] {
        o.expect(&format!("devices: {bound}").replace("devices: devices: ", "devices: "));
    }
}

/// The framebuffer console on the motherboard's CLCD, at the guest's last instruction, is
/// the reference picture, pixel for pixel (`tests/reference/clcd-fbcon-vexpress-a9.png`).
#[test]
fn the_clcd_shows_the_framebuffer_console() {
    let disk = image("screen");
    let drive = format!("file={}", disk.display());
    let pristine = std::fs::read(&disk).unwrap();
    let args = "root=/dev/vda rw armvex.test=screen";
    let first = boot(
        "vexpress-a9",
        1,
        "vexpress-v2p-ca9-clcd.dtb",
        args,
        &["--drive", &drive],
    );
    assert_good_boot(&first, "vexpress-a9", "screen");
    first.expect("screen: fb0 CLCD FB 640,480 16 bpp");
    // The same boot again, with a screenshot one instruction before its end.
    std::fs::write(&disk, &pristine).unwrap();
    let shot = root().join("target/e2e/board-screen.png");
    let _ = std::fs::remove_file(&shot);
    let at = format!("{}:{}", first.instructions() - 1, shot.display());
    let second = boot(
        "vexpress-a9",
        1,
        "vexpress-v2p-ca9-clcd.dtb",
        args,
        &["--drive", &drive, "--screenshot-at", &at],
    );
    assert_good_boot(&second, "vexpress-a9", "screen");
    assert_eq!(second.instructions(), first.instructions());
    assert!(second.stderr.contains("clcd (640x480)"), "{}", second.stderr);
    let reference = root().join("tests/reference/clcd-fbcon-vexpress-a9.png");
    assert_eq!(
        pixels(&shot),
        pixels(&reference),
        "the screen differs from {}",
        reference.display()
    );
}

/// The width, height and RGB bytes of a PNG (decoded with the same crate armvex writes with).
fn pixels(path: &Path) -> (u32, u32, Vec<u8>) {
    let decoder = png::Decoder::new(std::io::BufReader::new(std::fs::File::open(path).expect("open PNG")));
    let mut reader = decoder.read_info().expect("a PNG");
    let mut buf = vec![0; reader.output_buffer_size()];
    let info = reader.next_frame(&mut buf).expect("PNG pixels");
    buf.truncate(info.buffer_size());
    (info.width, info.height, buf)
}

/// Linux input key codes for `text` on a US keyboard: (code, needs shift).
fn keys(text: &str) -> Vec<(u16, bool)> {
    const ROWS: [(&str, &str, u16); 4] = [
        ("1234567890-=", "!@#$%^&*()_+", 2),
        ("qwertyuiop[]", "QWERTYUIOP{}", 16),
        ("asdfghjkl;'", "ASDFGHJKL:\"", 30),
        ("zxcvbnm,./", "ZXCVBNM<>?", 44),
    ];
    text.chars()
        .map(|c| match c {
            ' ' => (57, false),
            '\n' => (28, false),
            _ => ROWS
                .iter()
                .find_map(|(plain, shifted, first)| {
                    plain
                        .find(c)
                        .map(|i| (first + i as u16, false))
                        .or_else(|| shifted.find(c).map(|i| (first + i as u16, true)))
                })
                .unwrap_or_else(|| panic!("no key for {c:?}")),
        })
        .collect()
}

/// A line typed on the PS/2 keyboard reaches the guest: the key presses are host input in a
/// recording (one event each 20 ms of virtual time from 8 s on), replayed at their times.
#[test]
fn a_line_typed_on_the_keyboard_reaches_the_guest() {
    let disk = image("kmi");
    let drive = format!("file={}", disk.display());
    let recording = root().join("target/e2e/board-kmi.rec");
    let mut text = String::from("armvex-recording 2\nstart-time 1700000000\n");
    let mut t = 8_000_000_000u64;
    let mut event = |line: String| {
        text.push_str(&format!("{t} 0 {line}\n"));
        t += 20_000_000;
    };
    for (code, shift) in keys("Hello, KMI 42!\n") {
        if shift {
            event("key 42 down".into());
        }
        event(format!("key {code} down"));
        event(format!("key {code} up"));
        if shift {
            event("key 42 up".into());
        }
    }
    std::fs::write(&recording, text).unwrap();
    let replay = recording.display().to_string();
    let o = boot(
        "vexpress-a9",
        1,
        dtb("vexpress-a9"),
        "root=/dev/vda rw armvex.test=kmi",
        &["--drive", &drive, "--replay", &replay],
    );
    assert_good_boot(&o, "vexpress-a9", "kmi");
    o.expect("kmi: typed: Hello, KMI 42!");
}

/// SD card throughput inside the guest, in guest time (`armvex.test=dd`), next to the same
/// under QEMU when it is installed. Slow: run with `tools/test --long`.
#[test]
#[ignore]
fn sd_throughput() {
    let disk = image("sd-dd");
    let sd = disk.display().to_string();
    let o = boot(
        "vexpress-a9",
        1,
        dtb("vexpress-a9"),
        "root=/dev/mmcblk0 rw armvex.test=dd armvex.dd_mb=16",
        &["--sd", &sd],
    );
    assert_good_boot(&o, "vexpress-a9", "dd");
    for line in o.console.lines().filter(|l| l.starts_with("dd: ")) {
        eprintln!("armvex {line}");
    }
    eprintln!("armvex: {}", o.stderr.lines().last().unwrap_or(""));
    let g = guest();
    let disk = image("sd-dd-qemu");
    let qemu = Command::new("qemu-system-arm")
        .args(["-M", "vexpress-a9", "-m", "512M", "-nographic", "-no-reboot"])
        .arg("-kernel")
        .arg(g.join("vmlinuz"))
        .arg("-dtb")
        .arg(g.join("vexpress-v2p-ca9.dtb"))
        .arg("-initrd")
        .arg(g.join("initramfs.cpio.gz"))
        .args([
            "-append",
            "console=ttyAMA0 root=/dev/mmcblk0 rw armvex.test=dd armvex.dd_mb=16",
        ])
        .args(["-drive", &format!("if=sd,format=raw,file={}", disk.display())])
        .stdin(Stdio::null())
        .output();
    match qemu {
        Ok(q) => {
            for line in String::from_utf8_lossy(&q.stdout)
                .lines()
                .filter(|l| l.starts_with("dd: "))
            {
                eprintln!("qemu {line}");
            }
        }
        Err(e) => eprintln!("qemu not run: {e}"),
    }
}

/// The SP805 resets a guest that stops feeding it, as the hardware does: busybox's `watchdog`
/// opens it with a 4 s timeout and feeds it, then is killed (so the device is never told to
/// stop); the board must restart within the timeout, without Linux asking for a reboot or a
/// power-off. (The script is written into this test's copy of the root image.)
#[test]
fn the_watchdog_resets_a_guest_that_stops_feeding_it() {
    let disk = image("watchdog");
    let script = root().join("target/e2e/board-watchdog.sh");
    std::fs::write(
        &script,
        "w=/sys/class/watchdog/watchdog0\n\
         echo \"watchdog: $(cat $w/identity)\"\n\
         watchdog -F -T 4 -t 1 /dev/watchdog0 &\n\
         pid=$!\n\
         sleep 3\n\
         echo \"watchdog: timeout $(cat $w/timeout) s, fed for 3 s; the feeding stops\"\n\
         kill -9 $pid\n\
         sleep 30\n\
         echo \"ARMVEX-TEST watchdog FAIL (still running 30 s later)\"\n",
    )
    .unwrap();
    let commands = root().join("target/e2e/board-watchdog.debugfs");
    std::fs::write(&commands, format!("cd /test\nwrite {} watchdog.sh\n", script.display())).unwrap();
    let out = Command::new("debugfs")
        .arg("-w")
        .arg("-f")
        .arg(&commands)
        .arg(&disk)
        .output()
        .expect("run debugfs (e2fsprogs)");
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let drive = format!("file={}", disk.display());
    let o = boot(
        "vexpress-a9",
        1,
        dtb("vexpress-a9"),
        "root=/dev/vda rw armvex.test=watchdog",
        &["--drive", &drive],
    );
    o.expect("watchdog: sp805-wdt");
    o.expect("watchdog: timeout 4 s, fed for 3 s; the feeding stops");
    o.refuse("still running");
    o.refuse("reboot: Power down");
    o.refuse("reboot: Restarting system");
    o.refuse("armvex-init: test watchdog exited");
    assert_eq!(o.status, Some(0), "armvex exit status; stderr:\n{}", o.stderr);
    let virtual_s: f64 = o
        .stderr
        .lines()
        .find_map(|l| l.split(", ").find_map(|p| p.strip_suffix(" s virtual)")?.parse().ok()))
        .unwrap_or_else(|| panic!("no virtual time in {}", o.stderr));
    let fed_until = o.console.find("the feeding stops").unwrap();
    eprintln!("watchdog: the board restarted at {virtual_s:.2} s of virtual time");
    assert!(fed_until > 0 && virtual_s < 60.0, "restarted at {virtual_s} s");
}

/// Write a file on the SD card's root, reboot (the guest's `reboot -f`: armvex restarts the
/// board, keeping the card's image), read it back in the second boot and in the image.
#[test]
fn root_on_the_sd_card_survives_a_reboot() {
    let disk = image("sd-reboot");
    let script = root().join("target/e2e/board-sdreboot.sh");
    std::fs::write(
        &script,
        "f=/sd-reboot.txt\n\
         if [ -f $f ]; then\n\
         \x20   echo \"sdreboot: read back: $(cat $f)\"\n\
         \x20   echo \"ARMVEX-TEST sdreboot PASS\"\n\
         \x20   exit 0\n\
         fi\n\
         echo 'written before a reboot' >$f\n\
         sync\n\
         echo \"sdreboot: written to $(awk '$2 == \"/\" { print $1 }' /proc/mounts); rebooting\"\n\
         reboot -f\n\
         sleep 30\n",
    )
    .unwrap();
    let commands = root().join("target/e2e/board-sdreboot.debugfs");
    std::fs::write(&commands, format!("cd /test\nwrite {} sdreboot.sh\n", script.display())).unwrap();
    let out = Command::new("debugfs")
        .arg("-w")
        .arg("-f")
        .arg(&commands)
        .arg(&disk)
        .output();
    let out = out.expect("run debugfs (e2fsprogs)");
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let append = "root=/dev/mmcblk0 rw armvex.test=sdreboot armvex.smp=1";
    let out = linux_command("vexpress-a9", None, "vexpress-v2p-ca9.dtb", append)
        .arg("--sd")
        .arg(&disk)
        .output()
        .expect("run armvex");
    let o = Outcome {
        status: out.status.code(),
        console: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
    };
    o.expect("sdreboot: written to /dev/mmcblk0; rebooting");
    o.expect("reboot: Restarting system");
    o.expect("sdreboot: read back: written before a reboot");
    assert_eq!(
        o.console.matches("Booting Linux on physical CPU").count(),
        2,
        "two boots"
    );
    assert_good_boot(&o, "vexpress-a9", "sdreboot");
    let out = Command::new("debugfs")
        .args(["-R", "cat /sd-reboot.txt"])
        .arg(&disk)
        .output()
        .expect("run debugfs");
    assert_eq!(String::from_utf8_lossy(&out.stdout), "written before a reboot\n");
}
