//! gdb on a whole Debian boot: attached from the first instruction, a breakpoint at the last
//! kernel function before power-off, a reverse step, then a reverse-continue back across the
//! boot to `start_kernel`; and an interactive session recorded, then replayed under gdb.
//!
//! Kernel symbols come from the guest itself (tools/guest/kallsyms, run by tools/test after
//! the guest build) turned into a symbol-only ELF by tools/kallsyms-elf.

use armvex_e2e::{armvex, guest, root, scratch_disk};
use std::io::{BufRead, BufReader, Read, Write};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// The guest kernel's symbols as an ELF for gdb, and the address of `name`.
fn kernel_symbols() -> PathBuf {
    let kallsyms = guest().join("kallsyms");
    assert!(
        kallsyms.is_file(),
        "{} missing: run tools/guest/kallsyms",
        kallsyms.display()
    );
    let elf = root().join("target/e2e/kernel-syms.elf");
    std::fs::create_dir_all(elf.parent().unwrap()).unwrap();
    let out = Command::new(root().join("tools/kallsyms-elf"))
        .arg(&kallsyms)
        .arg(&elf)
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    elf
}

fn symbol(name: &str) -> u32 {
    let text = std::fs::read_to_string(guest().join("kallsyms")).unwrap();
    let line = text
        .lines()
        .find(|l| l.ends_with(&format!(" T {name}")))
        .unwrap_or_else(|| panic!("no {name} in kallsyms"));
    u32::from_str_radix(&line[..8], 16).unwrap()
}

/// Boot the guest under armvex with `extra` options; waits for the "waiting for gdb" line when
/// -S is among them and returns the port.
fn start(disk: &Path, append: &str, extra: &[&str], stdin: Stdio) -> (Child, Option<u16>) {
    let g = guest();
    let mut child = Command::new(armvex())
        .args(["run", "--machine", "vexpress-a9", "-m", "512M"])
        .arg("--kernel")
        .arg(g.join("vmlinuz"))
        .arg("--dtb")
        .arg(g.join("vexpress-v2p-ca9.dtb"))
        .arg("--initrd")
        .arg(g.join("initramfs.cpio.gz"))
        .args(["--append", append])
        .arg("--drive")
        .arg(format!("file={}", disk.display()))
        .args(["--rtc-base", "1700000000", "--no-reboot", "--stats"])
        .args(extra)
        .stdin(stdin)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("run armvex");
    let mut port = None;
    let err = child.stderr.take().unwrap();
    let mut err = BufReader::new(err);
    if extra.contains(&"-S") {
        let mut line = String::new();
        err.read_line(&mut line).unwrap();
        port = line
            .trim()
            .rsplit_once(':')
            .and_then(|(_, p)| p.trim_end_matches(')').parse().ok());
        assert!(port.is_some(), "no port in {line:?}");
    }
    // armvex's stderr is kept in a file next to the disk for the test's messages.
    let log = disk.with_extension("stderr");
    std::thread::spawn(move || {
        let mut rest = String::new();
        let _ = err.read_to_string(&mut rest);
        let _ = std::fs::write(log, rest);
    });
    (child, port)
}

fn gdb(symbols: &Path, port: u16, commands: &[&str]) -> String {
    let mut args: Vec<String> = vec![
        "-q".into(),
        "-batch".into(),
        "-nx".into(),
        symbols.display().to_string(),
    ];
    let target = format!("target remote :{port}");
    for c in ["set pagination off", "set confirm off", &target]
        .into_iter()
        .chain(commands.iter().copied())
    {
        args.push("-ex".into());
        args.push(c.to_string());
    }
    let out = Command::new("sh")
        .args(["-c", "exec gdb-multiarch \"$@\" 2>&1", "sh"])
        .args(&args)
        .output()
        .expect("run gdb-multiarch");
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// The positions `monitor icount` printed, in order.
fn positions(out: &str) -> Vec<u64> {
    out.lines()
        .filter_map(|l| {
            l.strip_prefix("position ")
                .and_then(|r| r.split(' ').next())
                .and_then(|n| n.parse().ok())
        })
        .collect()
}

/// Seconds between two `echo` markers gdb printed with their host times.
fn seconds(out: &str, what: &str) -> f64 {
    let start: f64 = out
        .lines()
        .find_map(|l| l.strip_prefix(&format!("T0 {what} ")))
        .and_then(|t| t.trim().parse().ok())
        .unwrap_or_else(|| panic!("no T0 {what} in:\n{out}"));
    let end: f64 = out
        .lines()
        .find_map(|l| l.strip_prefix(&format!("T1 {what} ")))
        .and_then(|t| t.trim().parse().ok())
        .unwrap();
    end - start
}

/// gdb commands printing the host time around `command`.
fn timed<'a>(what: &'a str, command: &'a str) -> Vec<String> {
    vec![
        format!("python print('T0 {what} %f' % __import__('time').time())"),
        command.to_string(),
        format!("python print('T1 {what} %f' % __import__('time').time())"),
    ]
}

#[test]
fn gdb_reverse_execution_over_a_whole_boot() {
    let symbols = kernel_symbols();
    let (power_off, start_kernel) = (symbol("machine_power_off"), symbol("start_kernel"));
    let disk = scratch_disk("gdb-boot");
    let started = Instant::now();
    let (child, port) = start(
        &disk,
        "console=ttyAMA0 root=/dev/vda rw armvex.test=hello panic=-1",
        &["--gdb", "tcp::0", "-S"],
        Stdio::null(),
    );
    let mut commands: Vec<String> = vec![
        "break machine_power_off".into(),
        "continue".into(),
        "monitor icount".into(),
    ];
    commands.extend(timed("reverse-stepi", "reverse-stepi"));
    commands.push("monitor icount".into());
    commands.push("break start_kernel".into());
    commands.extend(timed("reverse-continue", "reverse-continue"));
    commands.extend(["print/x $pc".into(), "monitor icount".into(), "monitor history".into()]);
    // Forward again: start_kernel runs once, so the next stop is the power-off again.
    commands.extend(["continue".into(), "monitor icount".into(), "kill".into()]);
    let refs: Vec<&str> = commands.iter().map(String::as_str).collect();
    let out = gdb(&symbols, port.unwrap(), &refs);
    let mut child = child;
    let status = child.wait().unwrap();
    eprintln!("{out}");
    assert!(
        out.contains(&format!("Breakpoint 1, {power_off:#010x} in machine_power_off ()")),
        "{out}"
    );
    let p = positions(&out);
    assert_eq!(p.len(), 4, "{out}");
    assert_eq!(p[1], p[0] - 1, "reverse-stepi went back one instruction");
    assert!(
        out.contains(&format!("Breakpoint 2, {start_kernel:#010x} in start_kernel ()")),
        "{out}"
    );
    assert!(out.contains(&format!("= {start_kernel:#x}")), "{out}");
    assert!(p[2] > 1_000_000_000 && p[2] < p[1], "start_kernel at {}", p[2]);
    assert_eq!(p[3], p[0], "forward again, the same power-off");
    let (step, back) = (seconds(&out, "reverse-stepi"), seconds(&out, "reverse-continue"));
    eprintln!(
        "boot to machine_power_off at {} instructions; reverse-stepi {step:.3} s; reverse-continue to start_kernel {back:.2} s; whole test {:.1} s",
        p[0],
        started.elapsed().as_secs_f64()
    );
    // Generous bounds for a loaded CI machine; the README gives the figures measured quietly.
    assert!(step < 2.0, "reverse-stepi took {step} s");
    assert!(back < 10.0, "reverse-continue took {back} s");
    assert!(status.code() == Some(0), "armvex exit status {status:?}");
}

#[test]
fn a_recorded_console_session_replays_exactly_and_under_gdb() {
    let rec = root().join("target/e2e/session.rec");
    let disk = scratch_disk("record");
    let pristine = std::fs::read(&disk).unwrap();
    // An interactive boot to the shell: type two commands, the second powers off.
    let (mut child, _) = start(
        &disk,
        "console=ttyAMA0 root=/dev/vda rw panic=-1",
        &["--record", rec.to_str().unwrap()],
        Stdio::piped(),
    );
    let mut stdin = child.stdin.take().unwrap();
    let stdout = child.stdout.take().unwrap();
    let (lines_tx, lines) = std::sync::mpsc::channel::<String>();
    let reader = std::thread::spawn(move || {
        let mut all = String::new();
        let mut r = BufReader::new(stdout);
        let mut line = String::new();
        while r.read_line(&mut line).unwrap_or(0) > 0 {
            let _ = lines_tx.send(line.clone());
            all.push_str(&line);
            line.clear();
        }
        all
    });
    let wait_for = |text: &str| {
        let deadline = Instant::now() + Duration::from_secs(300);
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            match lines.recv_timeout(left) {
                Ok(l) if l.contains(text) => return,
                Ok(_) => {}
                Err(_) => panic!("the guest never printed {text:?}"),
            }
        }
    };
    // The init banner comes just before the shell starts on the console.
    wait_for("armvex guest: Linux");
    stdin.write_all(b"echo typed-$((6*7))\n").unwrap();
    wait_for("typed-42");
    stdin.write_all(b"poweroff\n").unwrap();
    let status = child.wait().unwrap();
    let recorded_console = reader.join().unwrap();
    assert_eq!(status.code(), Some(0));
    assert!(recorded_console.contains("typed-42"), "{recorded_console}");
    let recording = std::fs::read_to_string(&rec).unwrap();
    assert!(recording.starts_with("armvex-recording 2\n"), "{recording}");
    assert!(recording.contains(" console "), "{recording}");

    // Replayed: the same console, to the byte.
    std::fs::write(&disk, &pristine).unwrap();
    let (child, _) = start(
        &disk,
        "console=ttyAMA0 root=/dev/vda rw panic=-1",
        &["--replay", rec.to_str().unwrap()],
        Stdio::null(),
    );
    let out = child.wait_with_output().unwrap();
    assert_eq!(
        String::from_utf8_lossy(&out.stdout),
        recorded_console,
        "the replay printed something else"
    );

    // Replayed under gdb: stop where the typed line is echoed back by the TTY layer, go back
    // to the previous such point, forward again.
    std::fs::write(&disk, &pristine).unwrap();
    let symbols = kernel_symbols();
    let (child, port) = start(
        &disk,
        "console=ttyAMA0 root=/dev/vda rw panic=-1",
        &["--replay", rec.to_str().unwrap(), "--gdb", "tcp::0", "-S"],
        Stdio::null(),
    );
    let out = gdb(
        &symbols,
        port.unwrap(),
        &[
            "break machine_power_off",
            "continue",
            "monitor icount",
            "delete",
            "break n_tty_receive_buf_common",
            "reverse-continue",
            "monitor icount",
            "reverse-continue",
            "monitor icount",
            "delete",
            "continue",
            "monitor icount",
            "continue",
        ],
    );
    let mut child = child;
    let mut console = String::new();
    child.stdout.take().unwrap().read_to_string(&mut console).unwrap();
    let status = child.wait().unwrap();
    let p = positions(&out);
    assert_eq!(p.len(), 4, "{out}");
    assert!(
        p[0] > p[1] && p[1] > p[2],
        "two input deliveries before the power-off: {p:?}\n{out}"
    );
    assert_eq!(p[3], p[0], "forward again to the same power-off: {out}");
    assert!(out.contains("in n_tty_receive_buf_common ()"), "{out}");
    assert_eq!(
        console, recorded_console,
        "under gdb, the replay printed something else"
    );
    assert_eq!(status.code(), Some(0), "{out}");
}
