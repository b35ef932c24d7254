//! The gdb stub driven by the real `gdb-multiarch` (Debian's package) in batch mode, against
//! `firmware/tests/debuggee.c` (built by `make -C firmware`, which tools/test runs first).
//!
//! The debuggee computes counter(i) = counter(i-1) * 3 + i in `step(i)` for i = 1..20, so every
//! stop has an exact value to check: breakpoints, watchpoints, conditions, forward and in
//! reverse, and `stepi N` / `reverse-stepi N` / `stepi N` giving identical registers.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::Duration;

fn debuggee() -> String {
    let p = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../firmware/build/debuggee.elf");
    assert!(p.is_file(), "{} is missing: run `make -C firmware` first", p.display());
    p.to_str().unwrap().to_string()
}

/// The counter after step(i).
fn counter(i: u32) -> u32 {
    (1..=i).fold(0u32, |c, k| c.wrapping_mul(3).wrapping_add(k))
}

/// armvex waiting for gdb (-S) on a port the system picks; returns it and the port.
fn armvex(extra: &[&str]) -> (Armvex, u16) {
    let (child, port, _) = armvex_keeping_stderr(extra);
    (child, port)
}

/// [`armvex`], also returning what armvex prints on stderr (after the first line) as it comes.
fn armvex_keeping_stderr(extra: &[&str]) -> (Armvex, u16, Arc<Mutex<String>>) {
    let mut child = Command::new(env!("CARGO_BIN_EXE_armvex"))
        .args(["run", "--semihosting", "--kernel", &debuggee(), "--gdb", "tcp::0", "-S"])
        .args(extra)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("run armvex");
    let mut err = BufReader::new(child.stderr.take().unwrap());
    let mut line = String::new();
    err.read_line(&mut line).unwrap();
    let port = line
        .trim()
        .rsplit_once(':')
        .and_then(|(_, p)| p.trim_end_matches(')').parse().ok())
        .unwrap_or_else(|| panic!("no port in {line:?}"));
    // Keep draining stderr so armvex never blocks on it.
    let stderr = Arc::new(Mutex::new(String::new()));
    let kept = stderr.clone();
    std::thread::spawn(move || {
        let mut line = String::new();
        while err.read_line(&mut line).unwrap_or(0) > 0 {
            kept.lock().unwrap().push_str(&line);
            line.clear();
        }
    });
    (Armvex(child), port, stderr)
}

/// An armvex under test, killed if the test ends before it exits (a failing test must not
/// leave a guest running on the host).
struct Armvex(Child);

impl std::ops::Deref for Armvex {
    type Target = Child;
    fn deref(&self) -> &Child {
        &self.0
    }
}

impl std::ops::DerefMut for Armvex {
    fn deref_mut(&mut self) -> &mut Child {
        &mut self.0
    }
}

impl Drop for Armvex {
    fn drop(&mut self) {
        if let Ok(None) = self.0.try_wait() {
            let _ = self.0.kill();
            let _ = self.0.wait();
        }
    }
}

/// Run gdb-multiarch on the debuggee with these commands; returns everything it printed.
fn gdb(port: u16, commands: &[&str]) -> String {
    let mut args: Vec<String> = vec!["-q".into(), "-batch".into(), "-nx".into(), debuggee()];
    for c in ["set pagination off", "set confirm off"]
        .into_iter()
        .chain(std::iter::once(format!("target remote :{port}").as_str()))
        .chain(commands.iter().copied())
    {
        args.push("-ex".into());
        args.push(c.to_string());
    }
    // One stream for gdb's stdout and stderr, so that the order of what it prints is kept.
    let out = Command::new("sh")
        .args(["-c", "exec gdb-multiarch \"$@\" 2>&1", "sh"])
        .args(&args)
        .output()
        .expect("run gdb-multiarch");
    let text = String::from_utf8_lossy(&out.stdout).to_string();
    assert!(
        !text.contains("gdb-multiarch: not found"),
        "gdb-multiarch is needed for these tests (apt-get install gdb-multiarch)"
    );
    text
}

/// Wait for armvex to exit; returns its status and what the guest printed.
fn finish(mut child: Armvex) -> (Option<i32>, String) {
    let mut out = String::new();
    child.stdout.take().unwrap().read_to_string(&mut out).unwrap();
    let status = child.wait().unwrap();
    (status.code(), out)
}

/// Check that `text` holds `parts` in this order.
fn in_order(text: &str, parts: &[&str]) {
    let mut at = 0;
    for p in parts {
        match text[at..].find(p) {
            Some(i) => at += i + p.len(),
            None => panic!("{p:?} not found (in order) in:\n{text}"),
        }
    }
}

#[test]
fn watchpoints_forward_then_reverse_with_exact_values() {
    let (child, port) = armvex(&[]);
    let out = gdb(
        port,
        &[
            "watch counter",
            "continue",
            "continue",
            "continue",
            "print counter",
            "reverse-continue",
            "print counter",
            "x/i $pc",
            "reverse-continue",
            "print counter",
            "kill",
        ],
    );
    in_order(
        &out,
        &[
            "Old value = 0\nNew value = 1",
            "Old value = 1\nNew value = 5",
            "Old value = 5\nNew value = 18",
            "= 18",
            // Backwards: stopped before the store that wrote 18, so counter is 5 again.
            "Old value = 18\nNew value = 5",
            "in step (i=i@entry=3)",
            "= 5",
            // At the store itself, not yet done (as gdb's own `record full` stops).
            "str\tr0, [r3, #4]",
            "Old value = 5\nNew value = 1",
            "in step (i=i@entry=2)",
            "= 1",
        ],
    );
    let (status, _) = finish(child);
    assert_eq!(status, Some(0), "gdb's kill ends armvex");
}

#[test]
fn stepi_reverse_stepi_stepi_gives_identical_registers() {
    let (child, port) = armvex(&[]);
    let out = gdb(
        port,
        &[
            "break step",
            "continue",
            "delete",
            "echo ===A\\n",
            "info all-registers",
            "stepi 37",
            "echo ===B\\n",
            "info all-registers",
            "reverse-stepi 37",
            "echo ===C\\n",
            "info all-registers",
            "stepi 37",
            "echo ===D\\n",
            "info all-registers",
            "echo ===END\\n",
            "kill",
        ],
    );
    let section = |name: &str, next: &str| -> String {
        let start = out
            .find(&format!("==={name}\n"))
            .unwrap_or_else(|| panic!("no {name}:\n{out}"));
        let end = out.find(&format!("==={next}\n")).unwrap();
        // Register rows only ("r0             0x1    1"), not gdb's "where am I" lines.
        let is_register = |l: &&str| {
            let name: String = l.chars().take_while(|c| !c.is_whitespace()).collect();
            !name.is_empty() && name.chars().all(|c| c.is_ascii_alphanumeric()) && l[name.len()..].starts_with("  ")
        };
        out[start..end]
            .lines()
            .skip(1)
            .filter(is_register)
            .collect::<Vec<_>>()
            .join("\n")
    };
    let (a, b, c, d) = (
        section("A", "B"),
        section("B", "C"),
        section("C", "D"),
        section("D", "END"),
    );
    assert!(a.contains("pc ") && a.contains("d31") && a.contains("fpscr"), "{a}");
    assert_ne!(a, b, "stepping changed nothing");
    assert_eq!(a, c, "reverse-stepi 37 did not come back");
    assert_eq!(b, d, "stepi 37 again differs");
    finish(child);
}

#[test]
fn conditional_breakpoints_forward_and_reverse() {
    let (child, port) = armvex(&[]);
    let out = gdb(
        port,
        &[
            "break step if i == 15",
            "continue",
            "print i",
            "print counter",
            "delete",
            "break step if i == 7",
            "reverse-continue",
            "print i",
            "print counter",
            "print calls",
            "kill",
        ],
    );
    let (c14, c6) = (counter(14), counter(6));
    in_order(
        &out,
        &[
            "step (i=i@entry=15)",
            "= 15",
            &format!("= {c14}"),
            "step (i=i@entry=7)",
            "= 7",
            &format!("= {c6}"),
            "= 6",
        ],
    );
    finish(child);
}

#[test]
fn the_start_and_the_end_of_history_are_reported_and_output_is_printed_once() {
    let (child, port) = armvex(&[]);
    let out = gdb(
        port,
        &[
            "reverse-stepi",
            "print $pc",
            "continue",
            "print counter",
            "reverse-continue",
            "print $pc",
            "continue",
            "continue",
        ],
    );
    in_order(
        &out,
        &[
            "No more reverse-execution history.",
            "(void (*)()) 0x60000000",
            "No more reverse-execution history.",
            &format!("= {}", counter(20)),
            "No more reverse-execution history.",
            "(void (*)()) 0x60000000",
            // Forward through the whole past again, to where the guest ended, then the exit.
            "No more reverse-execution history.",
            "exited normally",
        ],
    );
    let (status, printed) = finish(child);
    assert_eq!(status, Some(0));
    assert_eq!(
        printed,
        format!("debuggee: counter={} calls=20 checksum=07e5acf8\n", counter(20)),
        "the guest's output, once, though its history ran three times"
    );
}

/// `--max-instructions N` ends the guest after N instructions under gdb as without it: gdb
/// stops there (and can go back), then sees the program exit.
#[test]
fn the_instruction_limit_holds_under_gdb() {
    let (child, port) = armvex(&["--max-instructions", "1000"]);
    let out = gdb(
        port,
        &[
            "continue",
            "monitor icount",
            "reverse-stepi",
            "monitor icount",
            "continue",
            "continue",
        ],
    );
    in_order(
        &out,
        &[
            "No more reverse-execution history.",
            "position 1000 ",
            "position 999 ",
            "No more reverse-execution history.",
            "exited normally",
        ],
    );
    let (status, _) = finish(child);
    assert_eq!(status, Some(0));
}

#[test]
fn threads_registers_and_monitor_commands() {
    let (child, port) = armvex(&["--smp", "2"]);
    let out = gdb(
        port,
        &[
            "info threads",
            "break checksum",
            "continue",
            "monitor info registers 0",
            "monitor icount",
            "monitor translate 0x60000000",
            "monitor history",
            "monitor screendump screen.png",
            "monitor bogus",
            "print $cpsr & 0x1f",
            "set var $r5 = 0x12345678",
            "print/x $r5",
            "kill",
        ],
    );
    in_order(
        &out,
        &[
            "* 1    Thread 1.1",
            "2    Thread 1.2",
            "checksum ()",
            "cpu0 (svc mode, ARM",
            "irq  sp",
            "cp15 sctlr",
            "vfp  fpscr",
            "position",
            "cpu0:",
            "cpu1:",
            "virtual 0x60000000 is physical 0x60000000",
            "history: positions 0 to",
            "cannot take screenshot screen.png: no display is on (the board has clcd, db-clcd)",
            "unknown monitor command 'bogus'",
            "= 19",
            "= 0x12345678",
        ],
    );
    finish(child);
}

/// A raw connection that sends nonsense, then a debugger that vanishes mid-packet: armvex says
/// so and the guest runs on to its end, unharmed.
#[test]
fn malformed_packets_and_a_vanishing_debugger_leave_the_guest_unharmed() {
    let (child, port) = armvex(&[]);
    let mut s = TcpStream::connect(("127.0.0.1", port)).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
    // A bad checksum, garbage, an unknown packet, a huge one, then half a packet. armvex may
    // give up on the connection part-way: later writes may then fail, which is fine.
    let mut huge = b"$m".to_vec();
    huge.extend(std::iter::repeat_n(b'f', 100_000));
    huge.extend(b"#00");
    for chunk in [
        &b"+$g#00"[..],
        b"\x00\xffgarbage}}}#zz",
        b"$qArmvexNoSuchThing#00",
        &huge,
        b"$m60000000,",
    ] {
        if s.write_all(chunk).is_err() {
            break;
        }
    }
    drop(s);
    let (status, printed) = finish(child);
    assert_eq!(status, Some(0));
    assert_eq!(
        printed,
        format!("debuggee: counter={} calls=20 checksum=07e5acf8\n", counter(20))
    );
}

/// Named moments, seeking, and a snapshot file written from gdb and resumed from the command
/// line.
#[test]
fn monitor_snapshots_seek_and_savevm() {
    let snap = std::env::temp_dir().join(format!("armvex-gdb-savevm-{}.snap", std::process::id()));
    let (child, port) = armvex(&[]);
    let out = gdb(
        port,
        &[
            "break step if i == 4",
            "continue",
            "monitor snapshot four",
            "print counter",
            "delete",
            "break step if i == 9",
            "continue",
            "print counter",
            &format!("monitor savevm {}", snap.display()),
            "monitor restore four",
            "maint flush register-cache",
            "print counter",
            "print i",
            "monitor seek 0",
            "maint flush register-cache",
            "print $pc",
            "monitor restore nowhere",
            "kill",
        ],
    );
    in_order(
        &out,
        &[
            "step (i=i@entry=4)",
            "snapshot four: position",
            &format!("= {}", counter(3)),
            "step (i=i@entry=9)",
            &format!("= {}", counter(8)),
            &format!("snapshot {} at instruction", snap.display()),
            "at position",
            &format!("= {}", counter(3)),
            "= 4",
            "at position 0",
            "0x60000000",
            "no snapshot called nowhere",
        ],
    );
    finish(child);
    // The snapshot resumes where gdb took it: counter(8) done, the rest of the run to come.
    let out = Command::new(env!("CARGO_BIN_EXE_armvex"))
        .args(["run", "--loadvm", snap.to_str().unwrap()])
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    assert_eq!(
        String::from_utf8_lossy(&out.stdout),
        format!("debuggee: counter={} calls=20 checksum=07e5acf8\n", counter(20))
    );
}

/// The remote protocol by hand: a packet with its checksum.
fn packet(body: &str) -> Vec<u8> {
    let sum: u8 = body.bytes().fold(0u8, |s, b| s.wrapping_add(b));
    format!("${body}#{sum:02x}").into_bytes()
}

/// Read until a whole packet ($...#xx) has arrived; ack it; return its body.
fn reply(s: &mut TcpStream) -> String {
    try_reply(s).expect("a reply from armvex")
}

/// [`reply`], or the error if the connection ends first.
fn try_reply(s: &mut TcpStream) -> std::io::Result<String> {
    let mut got = Vec::new();
    let mut byte = [0u8];
    loop {
        s.read_exact(&mut byte)?;
        got.push(byte[0]);
        if let Some(hash) = got.iter().rposition(|&b| b == b'#') {
            if got.len() == hash + 3 {
                break;
            }
        }
    }
    s.write_all(b"+")?;
    let text = String::from_utf8_lossy(&got).into_owned();
    let start = text.find('$').expect("a packet");
    Ok(run_length_decoded(&text[start + 1..text.len() - 3]))
}

/// A reply's body with gdb's run-length encoding undone: `c*N` stands for `c` followed by
/// `N - 29` more copies of it (gdb manual, "Debugging with GDB", E.1 Overview).
fn run_length_decoded(body: &str) -> String {
    let mut out = String::new();
    let mut chars = body.chars();
    while let Some(c) = chars.next() {
        if c == '*' {
            let repeat = chars.next().expect("a run length after '*'") as usize - 29;
            let last = out.chars().last().expect("a character before '*'");
            out.extend(std::iter::repeat_n(last, repeat));
        } else {
            out.push(c);
        }
    }
    out
}

/// gdb's Ctrl-C (a bare 0x03 byte while the guest runs) stops it at once, and the stop reply
/// says SIGINT; after a detach the guest runs on to its end.
#[test]
fn ctrl_c_stops_a_running_guest_and_detach_lets_it_finish() {
    let bench = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../firmware/build/bench.elf");
    let mut child = Command::new(env!("CARGO_BIN_EXE_armvex"))
        .args(["run", "--semihosting", "--kernel"])
        .arg(&bench)
        .args(["--gdb", "tcp::0", "-S"])
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut err = BufReader::new(child.stderr.take().unwrap());
    let mut line = String::new();
    err.read_line(&mut line).unwrap();
    let port: u16 = line
        .trim()
        .trim_end_matches(')')
        .rsplit_once(':')
        .unwrap()
        .1
        .parse()
        .unwrap();
    let mut s = TcpStream::connect(("127.0.0.1", port)).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(20))).unwrap();
    s.write_all(&packet("?")).unwrap();
    assert!(reply(&mut s).starts_with('T'), "the initial stop");
    // Continue, then interrupt after a moment: the benchmark runs ~1e9 instructions.
    s.write_all(&packet("vCont;c")).unwrap();
    std::thread::sleep(Duration::from_millis(300));
    let started = std::time::Instant::now();
    s.write_all(b"\x03").unwrap();
    let stop = reply(&mut s);
    assert!(
        stop.starts_with("T02thread:"),
        "SIGINT stop reply naming the thread, got {stop:?}"
    );
    assert!(
        started.elapsed() < Duration::from_secs(2),
        "Ctrl-C took {:?}",
        started.elapsed()
    );
    s.write_all(&packet("D")).unwrap();
    assert_eq!(reply(&mut s), "OK");
    drop(s);
    let mut out = String::new();
    child.stdout.take().unwrap().read_to_string(&mut out).unwrap();
    assert!(child.wait().unwrap().success());
    assert!(
        out.contains("checksum: d3e896cb"),
        "the benchmark ran to its end after the detach: {out}"
    );
}

/// Thousands of random and half-valid packets — reads, writes, breakpoints, watchpoints,
/// register writes, thread selections, monitor commands with random arguments, garbage — never
/// make armvex panic. A packet the protocol library cannot parse ends that gdb session with one
/// line on stderr and the guest runs on, as when a connection breaks (QEMU keeps its socket open
/// the same way): gdb can connect again, and the test does, until all packets have been sent.
/// Afterwards a fresh connection still reads all registers. (Kill, detach and restart packets
/// are left out: they end the session for real.)
#[test]
fn random_packets_never_crash_the_stub() {
    let (mut child, mut port, mut stderr) = armvex_keeping_stderr(&[]);
    let connect = |port: u16| {
        let mut s = TcpStream::connect(("127.0.0.1", port)).expect("armvex still listens");
        s.set_read_timeout(Some(Duration::from_secs(20))).unwrap();
        s.write_all(&packet("QStartNoAckMode")).unwrap();
        assert_eq!(reply(&mut s), "OK");
        s
    };
    let mut s = connect(port);
    let mut seed = 0x0bad_5eed_1234_5678u64;
    let mut next = move || {
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        seed
    };
    let hex = |n: u64| format!("{n:x}");
    let mut sessions_ended = 0;
    for i in 0..3000 {
        let a = next();
        let body = match i % 12 {
            0 => format!("m{},{}", hex(a & 0xffff_ffff), hex(next() % 0x2000)),
            1 => format!("M{},4:{:08x}", hex(0x6000_0000 + (a % 0x2_0000)), next() as u32),
            2 => format!("p{}", hex(a % 80)),
            3 => format!("P{}={:016x}", hex(a % 60), next()),
            4 => format!("Z{},{},{}", a % 5, hex(next() & 0xffff_ffff), next() % 9),
            5 => format!("z{},{},{}", a % 5, hex(next() & 0xffff_ffff), next() % 9),
            6 => format!("Hg{}", hex(a % 4)),
            7 => format!("qRcmd,{}", hex(a).repeat(1 + (next() % 3) as usize)),
            8 => "g".to_string(),
            9 => format!("G{}", "00".repeat((a % 400) as usize)),
            10 => format!("T{}", hex(a % 5)),
            _ => (0..(a % 40))
                .map(|_| (b'!' + (next() % 90) as u8) as char)
                .filter(|c| !"#$}*".contains(*c))
                .collect::<String>(),
        };
        // Leave out what ends a session or resumes the guest for real.
        let body = if body.starts_with(['k', 'D', 'R', 'r', 'c', 's', 'v', 'i', 'C', 'S', 'b']) {
            format!("q{body}")
        } else {
            body
        };
        if std::env::var_os("ARMVEX_TEST_TRACE").is_some() {
            eprintln!("sent {body}");
        }
        // A session may also end after its reply to the packet before (then this write fails).
        if s.write_all(&packet(&body)).is_err() || try_reply(&mut s).is_err() {
            // The session ended: armvex said why in one line and went on listening.
            sessions_ended += 1;
            std::thread::sleep(Duration::from_millis(50));
            let said = stderr.lock().unwrap().clone();
            assert!(!said.contains("panicked"), "{said}");
            assert_eq!(said.matches("gdb connection from").count(), sessions_ended, "{said}");
            // The guest runs on after a broken session; with scrambled registers it may
            // even have ended (cleanly): then start another.
            if let Some(status) = child.try_wait().unwrap() {
                assert!(matches!(status.code(), Some(0) | Some(1)), "{status:?}: {said}");
                (child, port, stderr) = armvex_keeping_stderr(&[]);
                sessions_ended = 0;
            }
            s = connect(port);
        }
    }
    // A fresh session reads every register.
    drop(s);
    let mut s = connect(port);
    s.write_all(&packet("g")).unwrap();
    assert_eq!(reply(&mut s).len(), 2 * (16 * 4 + 4 + 32 * 8 + 4));
    drop(s);
    std::thread::sleep(Duration::from_millis(300));
    // SAFETY: sending SIGTERM to our own child.
    unsafe {
        libc::kill(child.id() as i32, libc::SIGTERM);
    }
    let status = child.wait().unwrap();
    let stderr = stderr.lock().unwrap().clone();
    assert!(!stderr.contains("panicked"), "{stderr}");
    assert!(
        matches!(status.code(), Some(143) | Some(0) | Some(1)),
        "{status:?}: {stderr}"
    );
    eprintln!("{sessions_ended} sessions ended on packets gdbstub gave up on");
}
