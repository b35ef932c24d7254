//! U-Boot from NOR flash, under armvex and QEMU: `tools/uboot-flash` builds U-Boot's
//! `vexpress_ca9x4_defconfig` (the first time: it clones U-Boot v2024.01 and needs bison,
//! flex and gcc-arm-none-eabi) into a flash image; both emulators start at address 0 in
//! flash 0 with that image and an empty flash 1. The test stops the autoboot, runs `flinfo`
//! (U-Boot's CFI driver found both flashes), erases a block of flash 1 and copies a kilobyte
//! into it (block erase, buffered writes), saves the environment (`saveenv`), resets, and reads
//! both back after the second boot: the kilobyte is there; the environment is not, under QEMU
//! as here (QEMU's write buffer takes its window from the count cycle, which U-Boot gives at
//! the block's base, so the environment's bytes past the first 4 KiB are refused; see
//! `armvex_devices::pflash`). The two transcripts must be the same, and so must both flash
//! images afterwards, but for what depends on the network card, which armvex does not have
//! yet (the `Net:` lines, and the environment block, where U-Boot under QEMU keeps the card's
//! MAC address) and for one prompt: armvex acts on the reset U-Boot asks for at the end of its
//! scheduling round, so U-Boot's `reset_cpu` returns and it prints `=> ` once more before the
//! board restarts (QEMU restarts at once).
//!
//! Slow (a U-Boot build the first time): ignored by default, run by `tools/test --long`.

use armvex_e2e::{armvex, root};
use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdin, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// An emulator whose console we talk to.
struct Console {
    name: &'static str,
    child: Child,
    stdin: ChildStdin,
    out: Arc<Mutex<Vec<u8>>>,
    /// How much of the output the last `wait_for` consumed.
    seen: usize,
}

impl Console {
    fn spawn(name: &'static str, cmd: &mut Command) -> Console {
        let mut child = cmd
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .unwrap_or_else(|e| panic!("start {name}: {e}"));
        let stdin = child.stdin.take().unwrap();
        let mut stdout = child.stdout.take().unwrap();
        let out = Arc::new(Mutex::new(Vec::new()));
        let sink = out.clone();
        std::thread::spawn(move || {
            let mut buf = [0u8; 4096];
            while let Ok(n) = stdout.read(&mut buf) {
                if n == 0 {
                    break;
                }
                sink.lock().unwrap().extend_from_slice(&buf[..n]);
            }
        });
        Console {
            name,
            child,
            stdin,
            out,
            seen: 0,
        }
    }

    fn text(&self) -> String {
        String::from_utf8_lossy(&self.out.lock().unwrap()).into_owned()
    }

    /// Wait until `text` appears after what was already seen.
    fn wait_for(&mut self, text: &str) {
        let start = Instant::now();
        loop {
            let all = self.text();
            if let Some(i) = all.get(self.seen..).and_then(|rest| rest.find(text)) {
                self.seen += i + text.len();
                return;
            }
            assert!(
                start.elapsed() < Duration::from_secs(240),
                "{}: no {text:?} after {:?}; the console so far:\n{all}",
                self.name,
                start.elapsed()
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// Type `line`, a character at a time as a person would.
    fn type_line(&mut self, line: &str) {
        for b in line.bytes().chain([b'\r']) {
            self.stdin.write_all(&[b]).unwrap();
            self.stdin.flush().unwrap();
            std::thread::sleep(Duration::from_millis(15));
        }
    }

    /// At the prompt: run `command` and wait for the next prompt.
    fn run(&mut self, command: &str) {
        self.type_line(command);
        self.wait_for("\n=> ");
    }
}

impl Drop for Console {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The session: stop the autoboot, look at the flashes, save a variable, reset, read it.
fn session(c: &mut Console) -> String {
    c.wait_for("Hit any key to stop autoboot");
    c.stdin.write_all(b" ").unwrap();
    c.stdin.flush().unwrap();
    c.wait_for("=> ");
    c.run("flinfo");
    c.run("mw.l 61000000 12345678 100");
    c.run("erase 47f40000 +40000");
    c.run("cp.l 61000000 47f40000 100");
    c.run("cmp.l 61000000 47f40000 100");
    c.run("setenv armvex pflash");
    c.run("saveenv");
    c.type_line("reset");
    c.wait_for("Hit any key to stop autoboot");
    c.stdin.write_all(b" ").unwrap();
    c.stdin.flush().unwrap();
    c.wait_for("=> ");
    c.run("printenv armvex");
    c.run("md.l 47f40000 4");
    c.run("md.l 47f40400 4");
    c.text()
}

/// The transcript without what depends on the network card, and with the autoboot countdown
/// (which a key stops at a moment the host decides) cut short.
fn normalized(transcript: &str) -> String {
    transcript
        .replace('\r', "")
        .replace("resetting ...\n=> ", "resetting ...")
        .lines()
        .filter(|l| {
            !(l.is_empty() || l.starts_with("Net:") || l.contains("smc911x") || l.starts_with("No ethernet found"))
        })
        .map(|l| match l.find("Hit any key to stop autoboot") {
            Some(i) => &l[..i + "Hit any key to stop autoboot".len()],
            None => l,
        })
        .collect::<Vec<_>>()
        .join("\n")
}

fn copy(from: &Path, to: &Path) {
    std::fs::copy(from, to).unwrap_or_else(|e| panic!("copy {} to {}: {e}", from.display(), to.display()));
}

fn empty_flash(path: &Path) {
    let f = std::fs::File::create(path).unwrap();
    f.set_len(64 << 20).unwrap();
}

#[test]
#[ignore]
fn u_boot_runs_from_flash_as_under_qemu() {
    let dir = root().join("target/e2e");
    std::fs::create_dir_all(&dir).unwrap();
    let image = dir.join("uboot-flash.img");
    let status = Command::new(root().join("tools/uboot-flash"))
        .arg(&image)
        .status()
        .expect("run tools/uboot-flash");
    assert!(status.success(), "tools/uboot-flash failed");

    let flashes = |who: &str| -> (PathBuf, PathBuf) {
        let (f0, f1) = (
            dir.join(format!("uboot-{who}-flash0.img")),
            dir.join(format!("uboot-{who}-flash1.img")),
        );
        copy(&image, &f0);
        empty_flash(&f1);
        (f0, f1)
    };
    let (a0, a1) = flashes("armvex");
    let mut a = Console::spawn(
        "armvex",
        Command::new(armvex())
            .args(["run", "--machine", "vexpress-a9", "--idle", "skip", "--pflash"])
            .arg(&a0)
            .arg("--pflash")
            .arg(&a1),
    );
    let armvex_said = session(&mut a);
    drop(a);

    let (q0, q1) = flashes("qemu");
    let mut q = Console::spawn(
        "qemu",
        Command::new("qemu-system-arm")
            .args([
                "-M",
                "vexpress-a9",
                "-display",
                "none",
                "-monitor",
                "none",
                "-serial",
                "stdio",
            ])
            .args(["-audiodev", "none,id=none"])
            .arg("-drive")
            .arg(format!("if=pflash,format=raw,file={}", q0.display()))
            .arg("-drive")
            .arg(format!("if=pflash,format=raw,file={}", q1.display())),
    );
    let qemu_said = session(&mut q);
    drop(q);

    eprintln!("armvex:\n{armvex_said}");
    let (a_text, q_text) = (normalized(&armvex_said), normalized(&qemu_said));
    for want in [
        "U-Boot 2024.01",
        "Flash: 128 MiB",
        "Bank # 1: CFI conformant flash (32 x 16)  Size: 64 MB in 256 Sectors",
        "Intel Extended command set, Manufacturer ID: 0x89, Device ID: 0x0018",
        "Loading Environment from Flash... *** Warning - bad CRC, using default environment",
        "Erased 1 sectors",
        "Copy to Flash... done",
        "Total of 256 word(s) were the same",
        "Writing to Flash... done",
        "resetting ...",
        "47f40000: 12345678 12345678 12345678 12345678",
        "47f40400: ffffffff ffffffff ffffffff ffffffff",
    ] {
        assert!(a_text.contains(want), "armvex's U-Boot did not say {want:?}");
    }
    if a_text != q_text {
        let (a_lines, q_lines): (Vec<_>, Vec<_>) = (a_text.lines().collect(), q_text.lines().collect());
        let at = a_lines
            .iter()
            .zip(&q_lines)
            .position(|(x, y)| x != y)
            .unwrap_or(a_lines.len().min(q_lines.len()));
        panic!(
            "the transcripts part at line {at}:\n  armvex: {:?}\n  qemu:   {:?}\nqemu's:\n{qemu_said}",
            a_lines.get(at),
            q_lines.get(at)
        );
    }
    // The environment block of flash 1 (0x47f80000) holds the MAC address under QEMU.
    let env = 0x3f8_0000..0x3fc_0000;
    for (x, y) in [(&a0, &q0), (&a1, &q1)] {
        let (mut xb, mut yb) = (std::fs::read(x).unwrap(), std::fs::read(y).unwrap());
        if x == &a1 {
            xb.splice(env.clone(), []);
            yb.splice(env.clone(), []);
        }
        assert!(xb == yb, "{} and {} differ", x.display(), y.display());
    }
    assert!(
        std::fs::read(&a1).unwrap().iter().any(|&b| b != 0),
        "saveenv wrote flash 1's image"
    );
}
