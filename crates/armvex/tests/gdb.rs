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
fn armvex(extra: &[&str]) -> (Child, u16) {
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
    std::thread::spawn(move || {
        let mut rest = String::new();
        let _ = err.read_to_string(&mut rest);
    });
    (child, port)
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
fn finish(mut child: Child) -> (Option<i32>, String) {
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
    let mut got = Vec::new();
    let mut byte = [0u8];
    loop {
        s.read_exact(&mut byte).expect("a reply from armvex");
        got.push(byte[0]);
        if let Some(hash) = got.iter().rposition(|&b| b == b'#') {
            if got.len() == hash + 3 {
                break;
            }
        }
    }
    s.write_all(b"+").unwrap();
    let text = String::from_utf8_lossy(&got).into_owned();
    let start = text.find('$').expect("a packet");
    text[start + 1..text.len() - 3].to_string()
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
