//! The live inspector's JSON API (`--inspect`) under the Debian guest: the virtio-blk queue's
//! indices advance while the guest reads its disk, pause really stops the machine, a step runs
//! exactly N instructions, bad requests get 4xx answers and disturb nothing, and a run that was
//! watched, paused and stepped prints the same console bytes and retires the same number of
//! instructions as a run without the inspector.

use armvex_e2e::{armvex, guest, linux_command, scratch_disk};
use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

/// The guest's dd test: it writes, then reads its disk (a long stretch of virtio-blk traffic).
fn dd_boot(disk: &std::path::Path, inspect: bool) -> Command {
    guest_boot(disk, "dd armvex.dd_mb=16", inspect)
}

/// A boot running the guest's test `test` (and what follows it on the command line).
fn guest_boot(disk: &std::path::Path, test: &str, inspect: bool) -> Command {
    let append = format!("root=/dev/vda rw armvex.test={test} armvex.smp=1");
    let mut c = linux_command("vexpress-a9", None, "vexpress-v2p-ca9.dtb", &append);
    c.arg("--drive")
        .arg(format!("file={}", disk.display()))
        .args(["--no-reboot", "--stats"])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    if inspect {
        c.args(["--inspect", "127.0.0.1:0"]);
    }
    c
}

/// A running armvex: its inspector address, and its output collected by threads.
struct Running {
    child: Child,
    address: String,
    stdout: mpsc::Receiver<String>,
    stderr: mpsc::Receiver<String>,
}

impl Drop for Running {
    fn drop(&mut self) {
        let _ = self.child.kill();
    }
}

fn start(mut c: Command) -> Running {
    let mut child = c.spawn().expect("run armvex");
    let (out_tx, stdout) = mpsc::channel();
    let mut out = child.stdout.take().unwrap();
    std::thread::spawn(move || {
        let mut s = String::new();
        let _ = out.read_to_string(&mut s);
        let _ = out_tx.send(s);
    });
    let (addr_tx, addr_rx) = mpsc::channel();
    let (err_tx, stderr) = mpsc::channel();
    let err = child.stderr.take().unwrap();
    std::thread::spawn(move || {
        let mut all = String::new();
        for line in BufReader::new(err).lines().map_while(Result::ok) {
            if let Some(a) = line.strip_prefix("armvex: inspector on http://") {
                let _ = addr_tx.send(a.trim_end_matches('/').to_string());
            }
            all.push_str(&line);
            all.push('\n');
        }
        let _ = err_tx.send(all);
    });
    let address = addr_rx
        .recv_timeout(Duration::from_secs(30))
        .expect("armvex printed its inspector address");
    Running {
        child,
        address,
        stdout,
        stderr,
    }
}

/// One HTTP request (HTTP/1.0, so the server closes the connection): status and body.
fn http(address: &str, method: &str, path: &str, body: &[u8]) -> (u16, String) {
    let mut s = TcpStream::connect(address).expect("connect to the inspector");
    s.set_read_timeout(Some(Duration::from_secs(30))).unwrap();
    let head = format!(
        "{method} {path} HTTP/1.0\r\nHost: {address}\r\nContent-Length: {}\r\n\r\n",
        body.len()
    );
    s.write_all(head.as_bytes()).unwrap();
    let _ = s.write_all(body);
    let mut reply = Vec::new();
    let _ = s.read_to_end(&mut reply);
    let reply = String::from_utf8_lossy(&reply).into_owned();
    let status = reply.split(' ').nth(1).and_then(|c| c.parse().ok()).unwrap_or(0);
    let body = reply
        .split_once("\r\n\r\n")
        .map(|(_, b)| b.to_string())
        .unwrap_or_default();
    (status, body)
}

/// The number after `"key":` in a JSON text (the first one).
fn number(json: &str, key: &str) -> u64 {
    let pat = format!("\"{key}\":");
    let at = json.find(&pat).unwrap_or_else(|| panic!("no {key} in {json:.300}")) + pat.len();
    json[at..]
        .chars()
        .take_while(|c| c.is_ascii_digit())
        .collect::<String>()
        .parse()
        .unwrap()
}

fn machine(address: &str) -> String {
    let (status, body) = http(address, "GET", "/api/machine", b"");
    assert_eq!(status, 200, "{body:.300}");
    body
}

/// The virtio-blk transport's queue 0 indices (avail_idx, used_idx) in a machine view.
fn blk_queue(view: &str) -> Option<(u64, u64)> {
    let blk = view.find("\"device\":\"virtio-blk\"")?;
    let q = &view[blk..];
    let q = &q[q.find("\"queues\":[")?..];
    Some((number(q, "avail_idx"), number(q, "used_idx")))
}

#[test]
fn inspector_api_under_a_guest_reading_its_disk() {
    let disk = scratch_disk("inspector-api");
    let pristine = std::fs::read(&disk).unwrap();
    let vm = start(dd_boot(&disk, true));
    let a = vm.address.clone();

    // The queue indices advance while the guest reads its disk.
    let deadline = Instant::now() + Duration::from_secs(240);
    let mut first = None;
    let advanced = loop {
        assert!(
            Instant::now() < deadline,
            "virtio-blk's indices did not advance; first {first:?}"
        );
        if let Some((avail, used)) = blk_queue(&machine(&a)).filter(|(avail, _)| *avail > 0) {
            match first {
                None => first = Some((avail, used)),
                Some((a0, u0)) if avail > a0 && used > u0 => break (a0, u0, avail, used),
                _ => {}
            }
        }
        std::thread::sleep(Duration::from_millis(100));
    };
    eprintln!(
        "virtio-blk queue 0: avail/used {}/{} then {}/{}",
        advanced.0, advanced.1, advanced.2, advanced.3
    );

    // Pause really stops the instruction count.
    let (status, body) = http(&a, "POST", "/api/pause", b"");
    assert_eq!(status, 200, "{body}");
    assert!(body.contains("\"running\":false"), "{body}");
    let paused = number(&machine(&a), "instructions");
    std::thread::sleep(Duration::from_millis(500));
    let view = machine(&a);
    assert!(view.contains("\"running\":false"), "{view:.200}");
    assert_eq!(number(&view, "instructions"), paused, "the paused machine ran on");

    // A step runs exactly N instructions (all CPUs together).
    let (status, body) = http(&a, "POST", "/api/step?n=1000", b"");
    assert_eq!(status, 200, "{body}");
    assert_eq!(number(&body, "instructions"), paused + 1000, "{body}");
    let (_, body) = http(&a, "POST", "/api/step?n=1", b"");
    assert_eq!(number(&body, "instructions"), paused + 1001, "{body}");
    assert_eq!(number(&machine(&a), "instructions"), paused + 1001);

    // Bad requests get 4xx answers and change nothing.
    let huge = vec![b'x'; 64 * 1024];
    for (method, path, body, want) in [
        ("GET", "/no/such/page", &b""[..], 404),
        ("GET", "/api/nothing", b"", 404),
        ("POST", "/api/machine", b"", 405),
        ("GET", "/api/pause", b"", 405),
        ("DELETE", "/api/step?n=5", b"", 405),
        ("POST", "/api/step", b"", 400),
        ("POST", "/api/step?n=", b"", 400),
        ("POST", "/api/step?n=abc", b"", 400),
        ("POST", "/api/step?n=0", b"", 400),
        ("POST", "/api/step?n=-3", b"", 400),
        ("POST", "/api/step?n=99999999999999999999999", b"", 400),
        ("POST", "/api/step?n=2e3", b"", 400),
        ("POST", "/api/breakpoint?addr=nowhere", b"", 400),
        ("POST", "/api/breakpoint?addr=0x100000000", b"", 400),
        ("POST", "/api/key?code=0", b"", 400),
        ("POST", "/api/key?code=30&action=smash", b"", 400),
        ("POST", "/api/key?code=30", &huge[..], 413),
    ] {
        let (status, reply) = http(&a, method, path, body);
        assert_eq!(status, want, "{method} {path}: {reply}");
    }
    // Not HTTP at all.
    let mut s = TcpStream::connect(&a).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    s.write_all(b"\x16\x03\x01 garbage\r\n\r\n").unwrap();
    let mut reply = String::new();
    let _ = s.read_to_string(&mut reply);
    assert!(reply.is_empty() || reply.starts_with("HTTP/1.1 4"), "{reply:.100}");
    let view = machine(&a);
    assert_eq!(
        number(&view, "instructions"),
        paused + 1001,
        "a bad request moved the machine"
    );
    assert!(view.contains("\"running\":false"));

    // A breakpoint shows in the view; clearing it too.
    let (status, body) = http(&a, "POST", "/api/breakpoint?addr=0xc0008000", b"");
    assert_eq!(status, 200, "{body}");
    assert!(machine(&a).contains(&format!("\"breakpoint\":{}", 0xc000_8000u32)));
    let (status, _) = http(&a, "POST", "/api/breakpoint?addr=none", b"");
    assert_eq!(status, 200);
    assert!(machine(&a).contains("\"breakpoint\":null"));

    // Run on to the end, then the same boot without the inspector.
    let (status, body) = http(&a, "POST", "/api/continue", b"");
    assert_eq!(status, 200, "{body}");
    let mut vm = vm;
    let watched_status = vm.child.wait().unwrap();
    let watched_console = vm.stdout.recv().unwrap();
    let watched_stderr = vm.stderr.recv().unwrap();
    assert!(watched_status.success(), "{watched_stderr}");
    assert!(watched_console.contains("ARMVEX-TEST dd PASS"), "{watched_console}");

    std::fs::write(&disk, &pristine).unwrap();
    let plain = dd_boot(&disk, false).output().expect("run armvex");
    let plain_console = String::from_utf8_lossy(&plain.stdout);
    let plain_stderr = String::from_utf8_lossy(&plain.stderr);
    assert!(plain.status.success(), "{plain_stderr}");
    assert_eq!(watched_console, plain_console, "the watched run printed something else");
    assert_eq!(
        stats_count(&watched_stderr),
        stats_count(&plain_stderr),
        "instruction counts differ"
    );
}

/// The instruction count of a `--stats` line.
fn stats_count(stderr: &str) -> u64 {
    stderr
        .lines()
        .find_map(|l| {
            l.strip_prefix("armvex: ")
                .and_then(|r| r.split(' ').next())
                .and_then(|n| n.parse::<u64>().ok())
        })
        .unwrap_or_else(|| panic!("no --stats line in {stderr}"))
}

#[test]
fn keys_from_the_page_are_recorded_and_a_replay_is_the_same_run() {
    let disk = scratch_disk("inspector-record");
    let pristine = std::fs::read(&disk).unwrap();
    let recording = disk.with_extension("rec");
    let mut c = guest_boot(&disk, "hello", true);
    c.arg("--record").arg(&recording);
    let vm = start(c);
    let a = vm.address.clone();
    // Once the kernel has probed virtio-blk, type "a" on the board's keyboard, pause, step
    // and go on.
    let deadline = Instant::now() + Duration::from_secs(240);
    while !machine(&a).contains("DRIVER_OK") {
        assert!(Instant::now() < deadline, "virtio-blk never became ready");
        std::thread::sleep(Duration::from_millis(100));
    }
    let (status, body) = http(&a, "POST", "/api/key?code=30", b"");
    assert_eq!(status, 200, "{body}");
    let (status, _) = http(&a, "POST", "/api/pause", b"");
    assert_eq!(status, 200);
    let (status, _) = http(&a, "POST", "/api/step?n=12345", b"");
    assert_eq!(status, 200);
    let (status, _) = http(&a, "POST", "/api/key?code=48&action=down", b"");
    assert_eq!(status, 200);
    let (status, _) = http(&a, "POST", "/api/key?code=48&action=up", b"");
    assert_eq!(status, 200);
    let (status, _) = http(&a, "POST", "/api/continue", b"");
    assert_eq!(status, 200);
    let mut vm = vm;
    assert!(vm.child.wait().unwrap().success());
    let console = vm.stdout.recv().unwrap();
    let stderr = vm.stderr.recv().unwrap();
    assert!(console.contains("ARMVEX-TEST hello PASS"), "{console}");
    let text = std::fs::read_to_string(&recording).unwrap();
    for event in [" key 30 down", " key 30 up", " key 48 down", " key 48 up"] {
        assert!(text.contains(event), "the recording lacks {event:?}:\n{text}");
    }

    std::fs::write(&disk, &pristine).unwrap();
    let mut replay = guest_boot(&disk, "hello", false);
    replay.arg("--replay").arg(&recording);
    let out = replay.output().unwrap();
    let replay_stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{replay_stderr}");
    assert_eq!(
        String::from_utf8_lossy(&out.stdout),
        console,
        "the replay printed something else"
    );
    assert_eq!(
        stats_count(&replay_stderr),
        stats_count(&stderr),
        "instruction counts differ"
    );
}

#[test]
fn ctrl_a_x_quits_a_paused_machine() {
    let disk = scratch_disk("inspector-quit");
    let mut c = guest_boot(&disk, "hello", true);
    c.stdin(Stdio::piped());
    let mut vm = start(c);
    let a = vm.address.clone();
    let deadline = Instant::now() + Duration::from_secs(240);
    while !machine(&a).contains("DRIVER_OK") {
        assert!(Instant::now() < deadline, "virtio-blk never became ready");
        std::thread::sleep(Duration::from_millis(100));
    }
    let (status, body) = http(&a, "POST", "/api/pause", b"");
    assert_eq!(status, 200, "{body}");
    let paused = number(&body, "instructions");
    let mut stdin = vm.child.stdin.take().unwrap();
    stdin.write_all(b"\x01x").unwrap();
    stdin.flush().unwrap();
    let waited = Instant::now();
    let status = loop {
        if let Some(s) = vm.child.try_wait().unwrap() {
            break s;
        }
        assert!(
            waited.elapsed() < Duration::from_secs(30),
            "Ctrl-A X did not end the paused machine"
        );
        std::thread::sleep(Duration::from_millis(50));
    };
    assert!(status.success());
    let stderr = vm.stderr.recv().unwrap();
    let count = stats_count(&stderr);
    assert!(
        count >= paused && count < paused + 2_000_000,
        "it quit at the next round: {paused} -> {count}"
    );
}

#[test]
fn a_non_loopback_address_gets_a_warning() {
    let out = Command::new(armvex())
        .args(["run", "--kernel", "/nonexistent", "--inspect", "0.0.0.0:0"])
        .stdin(Stdio::null())
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("warning: the inspector listens on 0.0.0.0:"), "{err}");
    assert!(err.contains("not a loopback address"), "{err}");
}

#[test]
fn inspect_address_errors_are_one_line() {
    // A port that is taken.
    let taken = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = taken.local_addr().unwrap().port();
    let g = guest();
    for (spec, want) in [
        (format!("127.0.0.1:{port}"), "cannot listen"),
        ("nonsense".to_string(), "expected PORT"),
    ] {
        let out = Command::new(armvex())
            .args(["run", "--kernel"])
            .arg(g.join("vmlinuz"))
            .args(["--inspect", &spec])
            .stdin(Stdio::null())
            .output()
            .unwrap();
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(!out.status.success());
        assert!(err.contains(want) && err.trim().lines().count() == 1, "{err}");
    }
}
