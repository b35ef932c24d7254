//! `--idle realtime`: at an idle shell prompt the guest's clock keeps to the host's, and armvex
//! uses almost no host CPU (it waits for input or the next timer instead of racing ahead).

use armvex_e2e::{armvex, guest, scratch_disk};
use std::io::{BufRead, BufReader, Write};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

/// User + system CPU seconds of process `pid` so far.
fn cpu_seconds(pid: u32) -> f64 {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap();
    let fields: Vec<&str> = stat.rsplit_once(')').unwrap().1.split_whitespace().collect();
    let ticks: f64 = fields[11].parse::<f64>().unwrap() + fields[12].parse::<f64>().unwrap();
    // The kernel counts these in clock ticks: USER_HZ, 100 on Linux.
    ticks / 100.0
}

fn now() -> u64 {
    SystemTime::now().duration_since(UNIX_EPOCH).unwrap().as_secs()
}

#[test]
fn an_idle_shell_follows_the_wall_clock_and_costs_no_cpu() {
    let g = guest();
    let disk = scratch_disk("idle");
    let mut child = Command::new(armvex())
        .args(["run", "--machine", "vexpress-a9", "-m", "256M"])
        .arg("--kernel")
        .arg(g.join("vmlinuz"))
        .arg("--dtb")
        .arg(g.join("vexpress-v2p-ca9.dtb"))
        .arg("--initrd")
        .arg(g.join("initramfs.cpio.gz"))
        .args(["--append", "console=ttyAMA0 root=/dev/vda rw"])
        .arg("--drive")
        .arg(format!("file={}", disk.display()))
        .args(["--no-reboot", "--idle", "realtime"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let pid = child.id();
    let mut stdin = child.stdin.take().unwrap();
    let (tx, lines) = std::sync::mpsc::channel::<String>();
    let stdout = child.stdout.take().unwrap();
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines().map_while(Result::ok) {
            let _ = tx.send(line);
        }
    });
    let wait_for = |pred: &dyn Fn(&str) -> bool| -> String {
        let deadline = Instant::now() + Duration::from_secs(300);
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            let l = lines.recv_timeout(left).expect("the guest stopped talking");
            if pred(&l) {
                return l;
            }
        }
    };
    wait_for(&|l| l.contains("armvex guest: Linux"));
    std::thread::sleep(Duration::from_secs(2));
    // Idle at the prompt for 8 s of wall time.
    let cpu_before = cpu_seconds(pid);
    std::thread::sleep(Duration::from_secs(8));
    let cpu_idle = cpu_seconds(pid) - cpu_before;
    stdin.write_all(b"echo GUEST-DATE $(date +%s)\n").unwrap();
    let line = wait_for(&|l| l.starts_with("GUEST-DATE "));
    let guest_date: u64 = line["GUEST-DATE ".len()..].trim().parse().unwrap();
    let host_date = now();
    stdin.write_all(b"poweroff\n").unwrap();
    let status = child.wait().unwrap();
    eprintln!("idle 8 s: {cpu_idle:.2} s of CPU; guest date {guest_date}, host date {host_date}");
    assert!(cpu_idle < 0.4, "an idle guest used {cpu_idle} s of CPU in 8 s");
    assert!(
        guest_date.abs_diff(host_date) <= 3,
        "guest date {guest_date}, host date {host_date}"
    );
    assert!(status.success());
}
