//! Devices chosen on the command line, on the Debian guest: virtio-net with user-mode
//! networking (DHCP, a download from an HTTP server this test runs on the host's loopback,
//! a host client reaching a server in the guest through hostfwd), a recorded networked
//! session replayed exactly with the host's server gone, virtio-rng read without rngd, and
//! hvc0 output reaching a --chardev file. All traffic stays on 127.0.0.1.

use armvex_e2e::{dtb, linux_command, scratch_disk};
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{Shutdown, TcpListener, TcpStream};
use std::path::Path;
use std::process::{Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

/// A one-file HTTP/1.0 server on 127.0.0.1 (any path gets the file), until dropped.
struct HttpServer {
    port: u16,
    stop: Arc<AtomicBool>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl HttpServer {
    fn start(body: Vec<u8>) -> HttpServer {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        let stop = Arc::new(AtomicBool::new(false));
        let flag = stop.clone();
        let thread = std::thread::spawn(move || {
            for stream in listener.incoming() {
                if flag.load(Ordering::Acquire) {
                    return;
                }
                let Ok(mut s) = stream else { continue };
                let mut request = Vec::new();
                let mut byte = [0u8; 1];
                while !request.ends_with(b"\r\n\r\n") && s.read(&mut byte).unwrap_or(0) == 1 {
                    request.push(byte[0]);
                }
                let head = format!(
                    "HTTP/1.0 200 OK\r\nContent-Length: {}\r\nContent-Type: application/octet-stream\r\n\r\n",
                    body.len()
                );
                let _ = s.write_all(head.as_bytes()).and_then(|_| s.write_all(&body));
            }
        });
        HttpServer {
            port,
            stop,
            thread: Some(thread),
        }
    }
}

impl Drop for HttpServer {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Release);
        let _ = TcpStream::connect(("127.0.0.1", self.port));
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

/// A port of 127.0.0.1 free right now.
fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

/// A file of `len` pseudo-random bytes (xorshift) and its SHA-256 from the host's sha256sum.
fn test_file(len: usize) -> (Vec<u8>, String) {
    let mut x = 0x2545_f491_4f6c_dd1du64;
    let body: Vec<u8> = (0..len)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            x as u8
        })
        .collect();
    let path = std::env::temp_dir().join(format!("armvex-net-file-{}", std::process::id()));
    std::fs::write(&path, &body).unwrap();
    let out = Command::new("sha256sum").arg(&path).output().expect("sha256sum");
    let _ = std::fs::remove_file(&path);
    let sum = String::from_utf8_lossy(&out.stdout)
        .split_whitespace()
        .next()
        .unwrap()
        .to_string();
    (body, sum)
}

/// The armvex command for a test boot of `test` with `extra` options and kernel parameters.
fn command(machine: &str, smp: u32, test: &str, disk: &Path, append: &str, extra: &[String]) -> Command {
    let append = format!("root=/dev/vda rw armvex.test={test} {append}");
    let mut c = linux_command(machine, Some(smp), dtb(machine), &append);
    c.arg("--drive")
        .arg(format!("file={}", disk.display()))
        .args(["--no-reboot", "--stats"])
        .args(extra);
    c
}

fn instructions(stderr: &str) -> u64 {
    stderr
        .lines()
        .find_map(|l| {
            l.strip_prefix("armvex: ")
                .and_then(|r| r.split(' ').next())
                .and_then(|n| n.parse().ok())
        })
        .unwrap_or_else(|| panic!("no --stats line in stderr:\n{stderr}"))
}

fn net_options(extra: &[&str]) -> Vec<String> {
    let mut v: Vec<String> = vec![
        "--netdev".into(),
        "user,id=n0".into(),
        "--device".into(),
        "virtio-net,netdev=n0".into(),
    ];
    v.extend(extra.iter().map(|s| s.to_string()));
    v
}

#[test]
fn dhcp_a_download_from_the_host_and_a_host_client_through_hostfwd() {
    let (body, sum) = test_file(1 << 20);
    let server = HttpServer::start(body);
    let forwarded = free_port();
    let disk = scratch_disk("net-a9");
    let append = format!(
        "armvex.net_url=http://10.0.2.2:{}/file armvex.net_sha256={sum} armvex.net_echo=7777",
        server.port
    );
    let options = vec![
        "--netdev".to_string(),
        format!("user,id=n0,hostfwd=tcp:127.0.0.1:{forwarded}-:7777"),
        "--device".into(),
        "virtio-net,netdev=n0".into(),
    ];
    let mut child = command("vexpress-a9", 1, "net", &disk, &append, &options)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("run armvex");
    let mut stdout = BufReader::new(child.stdout.take().unwrap());
    let mut console = String::new();
    let mut echoed = None;
    loop {
        let mut line = String::new();
        if stdout.read_line(&mut line).unwrap_or(0) == 0 {
            break;
        }
        console.push_str(&line);
        if line.starts_with("net: serving on 7777") {
            // A host client reaches the guest's server through the forwarded port.
            let mut c = TcpStream::connect(("127.0.0.1", forwarded)).expect("connect to the forwarded port");
            c.set_read_timeout(Some(Duration::from_secs(60))).unwrap();
            c.write_all(b"ping through hostfwd\n").unwrap();
            c.shutdown(Shutdown::Write).unwrap();
            let mut reply = String::new();
            let _ = c.read_to_string(&mut reply);
            echoed = Some(reply);
        }
    }
    let status = child.wait().unwrap();
    let mut stderr = String::new();
    child.stderr.take().unwrap().read_to_string(&mut stderr).unwrap();
    assert!(
        console.contains("ARMVEX-TEST net PASS"),
        "console:\n{console}\nstderr:\n{stderr}"
    );
    assert!(console.contains("net: eth0 address 10.0.2.15/24"));
    assert!(console.contains(&format!("sha256 {sum}")));
    assert!(console.contains("net: served one client on 7777"));
    assert_eq!(
        echoed.as_deref(),
        Some("ping through hostfwd\n"),
        "the guest echoed the host client"
    );
    assert!(
        stderr.contains(&format!("hostfwd tcp 127.0.0.1:{forwarded} -> guest 10.0.2.15:7777")),
        "{stderr}"
    );
    assert_eq!(status.code(), Some(0), "{stderr}");
}

#[test]
fn a_recorded_networked_session_replays_exactly_without_the_network() {
    let (body, sum) = test_file(256 << 10);
    let server = HttpServer::start(body);
    let disk = scratch_disk("net-record");
    let pristine = std::fs::read(&disk).unwrap();
    let recording = disk.with_extension("rec");
    let append = format!(
        "armvex.net_url=http://10.0.2.2:{}/file armvex.net_sha256={sum}",
        server.port
    );
    let run = |io: &str| {
        std::fs::write(&disk, &pristine).unwrap();
        let mut extra = net_options(&["--device", "virtio-rng", io]);
        extra.push(recording.display().to_string());
        let out = command("vexpress-a15", 2, "net", &disk, &append, &extra)
            .output()
            .expect("run armvex");
        let console = String::from_utf8_lossy(&out.stdout).into_owned();
        let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
        assert!(
            console.contains("ARMVEX-TEST net PASS"),
            "{io}: console:\n{console}\nstderr:\n{stderr}"
        );
        assert_eq!(out.status.code(), Some(0), "{stderr}");
        (console, instructions(&stderr))
    };
    let recorded = run("--record");
    let text = std::fs::read_to_string(&recording).unwrap();
    let frames = text.lines().filter(|l| l.contains(" device n0 ")).count();
    assert!(
        frames > 150,
        "the recording holds the frames from the network ({frames})"
    );
    // The host's server is gone: what the guest downloads comes from the recording.
    drop(server);
    let replayed = run("--replay");
    assert_eq!(replayed.0, recorded.0, "console transcripts differ");
    assert_eq!(replayed.1, recorded.1, "instruction counts differ");
    let _ = std::fs::remove_file(&recording);
}

#[test]
fn hwrng_without_rngd_and_hvc0_output_to_a_chardev_file() {
    let disk = scratch_disk("virtio");
    let hvc = disk.with_extension("hvc0.txt");
    let _ = std::fs::remove_file(&hvc);
    let extra: Vec<String> = [
        "--device",
        "virtio-rng",
        "--chardev",
        &format!("file,id=c0,path={}", hvc.display()),
        "--device",
        "virtio-console,chardev=c0",
        "--rng-seed",
        "42",
    ]
    .iter()
    .map(|s| s.to_string())
    .collect();
    let out = command("vexpress-a9", 1, "virtio", &disk, "", &extra)
        .output()
        .expect("run armvex");
    let console = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        console.contains("ARMVEX-TEST virtio PASS"),
        "console:\n{console}\nstderr:\n{stderr}"
    );
    assert!(console.contains("virtio: hwrng virtio_rng"));
    // hvc0 is a tty with the standard settings (OPOST, ONLCR): the guest's "\n" is "\r\n".
    assert_eq!(std::fs::read_to_string(&hvc).unwrap(), "hvc0: hello from the guest\r\n");
    assert_eq!(out.status.code(), Some(0));
}

#[test]
fn bad_device_options_are_one_line_errors() {
    let disk = scratch_disk("bad-devices");
    let second = format!("file={},readonly=on,slot=2", disk.display());
    for (extra, says) in [
        (vec!["--device", "virtio-gpu"], "--device virtio-gpu: unknown kind"),
        (vec!["--device", "virtio-net"], "--device virtio-net needs netdev=ID"),
        (vec!["--device", "virtio-net,netdev=n9"], "there is no --netdev id=n9"),
        (
            vec!["--device", "virtio-rng,slot=1", "--device", "virtio-rng,slot=1"],
            "--device virtio-rng slot=1 is used twice",
        ),
        (
            vec!["--drive", &second, "--device", "virtio-rng,slot=2"],
            "slot=2: the transport is taken by --drive",
        ),
        (
            vec!["--device", "virtio-rng,slot=7"],
            "slot=7: the board has transports 0 to 3",
        ),
        (
            vec![
                "--device",
                "virtio-rng",
                "--device",
                "virtio-rng",
                "--device",
                "virtio-rng",
                "--device",
                "virtio-rng",
            ],
            "no free virtio-mmio transport",
        ),
        (vec!["--netdev", "user,id=n0,hostfwd=tcp::1-:0"], "guest port 0"),
        (vec!["--drive", "id=d1,file=/nonexistent"], "--drive id=d1 is not used"),
        (vec!["--device", "lan9118"], "--device lan9118 needs netdev=ID"),
        (
            vec!["--device", "lan9118,netdev=n0,slot=1"],
            "on no virtio-mmio transport",
        ),
        (
            vec!["--nic", "user", "--nic", "user"],
            "the board has one LAN9118, given twice",
        ),
        (
            vec!["--nic", "user,mtu=9000"],
            "the LAN9118 carries Ethernet frames of 1500 bytes",
        ),
        (vec!["--nic", "user,model=e1000"], "--nic model=e1000"),
        (vec!["--nic", "socket"], "--nic socket"),
    ] {
        let out = command(
            "vexpress-a9",
            1,
            "hello",
            &disk,
            "",
            &extra.iter().map(|s| s.to_string()).collect::<Vec<_>>(),
        )
        .output()
        .unwrap();
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(1), "{extra:?}: {stderr}");
        assert!(stderr.contains(says), "{extra:?}: {stderr}");
        assert_eq!(stderr.trim_end().lines().count(), 1, "{extra:?}: {stderr}");
    }
}

/// The board's own LAN9118 (`--nic user`, no virtio-net): Linux's smsc911x driver (loaded by
/// modules_load=) gets an address by DHCP, pings the gateway and downloads a file, on both
/// boards.
#[test]
fn lan9118_dhcp_and_a_download_without_virtio_net() {
    let (body, sum) = test_file(1 << 20);
    let server = HttpServer::start(body);
    for machine in ["vexpress-a9", "vexpress-a15"] {
        let disk = scratch_disk(&format!("lan9118-{machine}"));
        let forwarded = free_port();
        let append = format!(
            "modules_load=smsc911x armvex.net_ping=10.0.2.2 armvex.net_url=http://10.0.2.2:{}/file armvex.net_sha256={sum}",
            server.port
        );
        let options = vec![
            "--nic".to_string(),
            format!("user,hostfwd=tcp:127.0.0.1:{forwarded}-:22"),
        ];
        let out = command(machine, 1, "net", &disk, &append, &options)
            .output()
            .expect("run armvex");
        let console = String::from_utf8_lossy(&out.stdout);
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(
            console.contains("ARMVEX-TEST net PASS"),
            "{machine}: console:\n{console}\nstderr:\n{stderr}"
        );
        assert!(
            console.contains("net: eth0 driver smsc911x, mac 52:54:00:12:34:56"),
            "{machine}: {console}"
        );
        assert!(console.contains("net: eth0 address 10.0.2.15/24"));
        assert!(
            console.contains("net: ping 10.0.2.2: 3 packets transmitted, 3 packets received, 0% packet loss"),
            "{machine}: {console}"
        );
        assert!(console.contains(&format!("sha256 {sum}")));
        assert!(!console.contains("virtio_net"), "{machine}: no virtio-net card");
        assert!(
            stderr.contains(&format!(
                "netdev nic0: hostfwd tcp 127.0.0.1:{forwarded} -> guest 10.0.2.15:22"
            )),
            "{stderr}"
        );
        assert_eq!(out.status.code(), Some(0), "{machine}: {stderr}");
    }
}
