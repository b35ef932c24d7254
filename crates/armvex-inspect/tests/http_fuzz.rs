//! The inspector's HTTP side under random and damaged requests, on a live server on
//! 127.0.0.1: request lines, methods, paths, query strings, headers and bodies mutated from
//! the API's real requests, plain junk, non-UTF-8 bytes, huge declared lengths, and
//! slowloris-style clients that send part of a request and stall.
//!
//! The machine end is a stand-in that answers as the run loop does (views on request,
//! nothing on the screen) and records every command that reaches it. The rules:
//!
//! * every request is answered (or, for bytes that are no HTTP at all, the connection is
//!   closed) within a few seconds: no hang, and the server keeps serving;
//! * damaged requests get 4xx (tiny_http's own 505 for an unknown HTTP version is the
//!   protocol's answer and allowed, as is the interim 100 Continue a client that sends
//!   `Expect: 100-continue` gets first); 2xx only for the read-only pages and views;
//! * no command that changes the guest (pause, continue, step, breakpoint, key) reaches the
//!   machine: none of the requests is a valid one;
//! * stalled clients, however many, do not stop others from being served.

// The seed, case count (ARMVEX_FUZZ_SEED, ARMVEX_FUZZ_SCALE) and generator of the other fuzz
// tests, so that one setting reproduces or lengthens them all.
use armvex_fuzz::{Rng, cases, seed};
use armvex_machine::inspect::{Inspector, InspectorCommand, InspectorView};
use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// The machine end: publishes a view whenever one is wanted, answers screen requests with
/// "no display", and records the commands that change the guest.
struct Stand {
    stop: Arc<AtomicBool>,
    changing: Arc<Mutex<Vec<String>>>,
    views: Arc<AtomicUsize>,
}

fn start() -> (SocketAddr, Stand, std::thread::JoinHandle<()>) {
    let server = armvex_inspect::start("127.0.0.1:0".parse().expect("address")).expect("start the inspector");
    let address = server.address;
    let mut side = server.machine_side();
    let stand = Stand {
        stop: Arc::new(AtomicBool::new(false)),
        changing: Arc::new(Mutex::new(Vec::new())),
        views: Arc::new(AtomicUsize::new(0)),
    };
    let (stop, changing, views) = (stand.stop.clone(), stand.changing.clone(), stand.views.clone());
    let machine = std::thread::spawn(move || {
        let _server = server;
        let mut instructions = 0u64;
        while !stop.load(Ordering::Relaxed) {
            instructions += 1000;
            while let Some(c) = side.next_command(Duration::from_millis(5)) {
                match c {
                    InspectorCommand::Screen(reply) => {
                        let _ = reply.send(None);
                    }
                    // Clearing a breakpoint that was never set changes nothing (a damaged
                    // `/api/breakpoint?addr=zz` may lose its parameter and mean just that).
                    InspectorCommand::Breakpoint(None) => {}
                    other => changing.lock().expect("lock").push(format!("{other:?}")),
                }
            }
            if side.wants_view() {
                side.publish(InspectorView {
                    instructions,
                    running: true,
                    ..InspectorView::default()
                });
                views.fetch_add(1, Ordering::Relaxed);
            }
        }
    });
    (address, stand, machine)
}

/// Send `request` on a new connection; the status code, `None` if the server closed the
/// connection without one. Panics on a hang (no answer and no close within 10 s).
fn send(address: SocketAddr, request: &[u8]) -> Option<u16> {
    let mut s = TcpStream::connect_timeout(&address, Duration::from_secs(5)).expect("connect");
    s.set_read_timeout(Some(Duration::from_secs(10))).expect("timeout");
    s.set_write_timeout(Some(Duration::from_secs(10))).expect("timeout");
    if s.write_all(request).is_err() {
        return None;
    }
    let _ = s.shutdown(std::net::Shutdown::Write);
    let mut answer = Vec::new();
    let mut buf = [0u8; 4096];
    loop {
        match s.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => {
                answer.extend_from_slice(&buf[..n]);
                // The status line is all that is checked (a refused oversized request's
                // connection stays open: see armvex_inspect's `refuse_huge`).
                if answer.windows(2).any(|w| w == b"\r\n") {
                    break;
                }
            }
            Err(e) if e.kind() == std::io::ErrorKind::WouldBlock || e.kind() == std::io::ErrorKind::TimedOut => {
                if answer.is_empty() {
                    panic!(
                        "no answer within 10 s to {:?}",
                        String::from_utf8_lossy(&request[..request.len().min(200)])
                    );
                }
                break;
            }
            Err(_) => break,
        }
    }
    let text = String::from_utf8_lossy(&answer);
    let line = text.lines().next()?;
    let code = line.strip_prefix("HTTP/1.")?.get(2..5)?.parse().ok()?;
    Some(code)
}

/// The API's real requests, as templates (none of them changes the guest: the POSTs that
/// would carry bad parameters, or none).
const TEMPLATES: &[&str] = &[
    "GET / HTTP/1.1\r\nHost: x\r\n\r\n",
    "GET /api/machine HTTP/1.1\r\nHost: x\r\n\r\n",
    "GET /app.js HTTP/1.1\r\nHost: x\r\nAccept: */*\r\n\r\n",
    "GET /docs/inspector.md HTTP/1.1\r\n\r\n",
    "GET /api/screen.png HTTP/1.1\r\nConnection: close\r\n\r\n",
    "POST /api/step?n=0 HTTP/1.1\r\nContent-Length: 0\r\n\r\n",
    "POST /api/step?n=0x HTTP/1.1\r\nContent-Length: 0\r\n\r\n",
    "POST /api/key?code=0&action=press HTTP/1.1\r\nContent-Length: 0\r\n\r\n",
    "POST /api/key?code=0x&action=sideways HTTP/1.1\r\nContent-Length: 0\r\n\r\n",
    "POST /api/breakpoint?addr=zz HTTP/1.1\r\nContent-Length: 5\r\n\r\nhello",
    "GET /api/pause HTTP/1.1\r\n\r\n",
    "PUT /api/continue HTTP/1.1\r\nContent-Length: 3\r\n\r\nabc",
    "DELETE /api/events HTTP/1.1\r\n\r\n",
    "POST /api/machine HTTP/1.1\r\nContent-Length: 10\r\n\r\n0123456789",
    "GET /nonexistent/../../etc/passwd HTTP/1.1\r\n\r\n",
];

/// Pieces spliced into requests.
const PIECES: &[&[u8]] = &[
    b"\r\n",
    b"\n",
    b"\0",
    b"\xff\xfe\xc3\x28",
    b"%00",
    b"%",
    b"?",
    b"&&&=",
    b"n=18446744073709551616",
    b"Content-Length: 99999999999999999999\r\n",
    b"Content-Length: 4097\r\n",
    b"Content-Length: -1\r\n",
    b"Transfer-Encoding: chunked\r\n",
    b"Expect: 100-continue\r\n",
    b"HTTP/9.9",
    b"HTTP/1.0",
    b" ",
    b"X: ",
];

fn mutate(r: &mut Rng) -> Vec<u8> {
    match r.below(10) {
        // Plain junk.
        0 => (0..r.below(600)).map(|_| r.next_u64() as u8).collect(),
        // A long header line or URL.
        1 => {
            let mut v = b"GET /".to_vec();
            v.extend(std::iter::repeat_n(b'a', r.below(100_000) as usize));
            v.extend_from_slice(b" HTTP/1.1\r\nX: ");
            v.extend(std::iter::repeat_n(b'b', r.below(100_000) as usize));
            v.extend_from_slice(b"\r\n\r\n");
            v
        }
        _ => {
            let mut v = r.pick(TEMPLATES).as_bytes().to_vec();
            for _ in 0..=r.below(4) {
                let at = r.below(v.len() as u64 + 1) as usize;
                match r.below(4) {
                    0 => {
                        let piece = r.pick(PIECES);
                        v.splice(at..at, piece.iter().copied());
                    }
                    1 if at < v.len() => {
                        v[at] = r.next_u64() as u8;
                    }
                    2 if at < v.len() => {
                        let end = (at + r.below(8) as usize + 1).min(v.len());
                        v.drain(at..end);
                    }
                    _ => v.truncate(at),
                }
            }
            v
        }
    }
}

/// The method and path of a request's first line, if it has one. Empty lines before the
/// request line are skipped, as tiny_http does and RFC 9112 §2.2 asks of a server.
fn path_of(request: &[u8]) -> Option<String> {
    let start = request.iter().position(|&b| b != b'\r' && b != b'\n')?;
    let line = request[start..].split(|&b| b == b'\n').next()?;
    let line = std::str::from_utf8(line).ok()?;
    let mut words = line.split_whitespace();
    let method = words.next()?;
    let path = words.next()?;
    Some(format!("{method} {}", path.split('?').next()?))
}

/// Whether a damaged request may have become a well-formed guest-changing command (a
/// mutation of `POST /api/step?n=0` can read `POST /api/step?n=70`): its request line, past
/// any leading white space, is a POST to the API that is not one of the templates' own
/// request lines (whose parameters are all bad). Such requests are not sent: a command they
/// carry would rightly reach the machine.
fn may_be_a_valid_command(request: &[u8]) -> bool {
    let Some(start) = request.iter().position(|b| !b.is_ascii_whitespace()) else {
        return false;
    };
    let line = request[start..].split(|&b| b == b'\n').next().unwrap_or_default();
    let line = line.strip_suffix(b"\r").unwrap_or(line);
    let words: Vec<&[u8]> = line
        .split(|b| b.is_ascii_whitespace())
        .filter(|w| !w.is_empty())
        .collect();
    if words.len() < 2 || words[0] != b"POST" || !words[1].starts_with(b"/api/") {
        return false;
    }
    !TEMPLATES
        .iter()
        .any(|t| t.lines().next().is_some_and(|first| first.as_bytes() == line))
}

#[test]
fn random_and_damaged_requests_get_4xx_and_change_nothing() {
    let (address, stand, machine) = start();
    let mut r = Rng::new(seed("http_fuzz"));
    let total = cases(400);
    let started = Instant::now();
    let mut codes = std::collections::BTreeMap::<String, u64>::new();
    for case in 0..total {
        let request = mutate(&mut r);
        if may_be_a_valid_command(&request) {
            *codes.entry("skipped".into()).or_default() += 1;
            continue;
        }
        let code = send(address, &request);
        let shown = || String::from_utf8_lossy(&request[..request.len().min(300)]).into_owned();
        if let Some(c) = code {
            let read_only_get = matches!(
                path_of(&request).as_deref(),
                Some("GET /" | "GET /index.html" | "GET /app.js" | "GET /style.css" | "GET /api/machine")
            ) || path_of(&request).is_some_and(|p| p.starts_with("GET /docs/"));
            let clears_breakpoint = path_of(&request).as_deref() == Some("POST /api/breakpoint");
            let fine =
                (400..500).contains(&c) || c == 505 || c == 100 || (c == 200 && (read_only_get || clears_breakpoint));
            assert!(fine, "case {case}: status {c} for {:?}", shown());
        }
        *codes
            .entry(code.map_or("closed".into(), |c| c.to_string()))
            .or_default() += 1;
    }
    // A good request is still served.
    assert_eq!(
        send(address, TEMPLATES[1].as_bytes()),
        Some(200),
        "the server stopped serving"
    );
    stand.stop.store(true, Ordering::Relaxed);
    machine.join().expect("the machine stand-in");
    let changing = stand.changing.lock().expect("lock").clone();
    assert!(changing.is_empty(), "commands reached the machine: {changing:?}");
    eprintln!(
        "http_fuzz: {total} requests in {:.1} s, answers {codes:?}, {} views published, no command reached the machine",
        started.elapsed().as_secs_f64(),
        stand.views.load(Ordering::Relaxed)
    );
}

#[test]
fn stalled_clients_do_not_stop_the_server() {
    let (address, stand, machine) = start();
    // Twenty clients that stop half way: in the request line, in the headers, and in a body
    // shorter than its declared length (plain and chunked), and keep their connections open.
    let partial: &[&[u8]] = &[
        b"GET /api/mach",
        b"GET /api/machine HTTP/1.1\r\nHost: x\r\n",
        b"POST /api/key?code=0 HTTP/1.1\r\nContent-Length: 1000\r\n\r\nonly a few bytes",
        b"POST /api/step?n=0 HTTP/1.1\r\nContent-Length: 4096\r\n\r\n",
        b"POST /api/breakpoint?addr=zz HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n10\r\nabc",
    ];
    let mut stalled = Vec::new();
    for i in 0..20 {
        let mut s = TcpStream::connect(address).expect("connect");
        s.write_all(partial[i % partial.len()]).expect("write");
        stalled.push(s);
    }
    std::thread::sleep(Duration::from_millis(300));
    for _ in 0..5 {
        let t = Instant::now();
        assert_eq!(
            send(address, TEMPLATES[1].as_bytes()),
            Some(200),
            "a good request was not served"
        );
        assert!(
            t.elapsed() < Duration::from_secs(5),
            "a good request took {:?} behind stalled clients",
            t.elapsed()
        );
    }
    drop(stalled);
    stand.stop.store(true, Ordering::Relaxed);
    machine.join().expect("the machine stand-in");
    let changing = stand.changing.lock().expect("lock").clone();
    assert!(changing.is_empty(), "commands reached the machine: {changing:?}");
}

#[test]
fn huge_declared_bodies_are_refused_without_reading_them() {
    let (address, stand, machine) = start();
    for length in ["1025", "4097", "1000000000000", "18446744073709551615"] {
        let request = format!("POST /api/machine HTTP/1.1\r\nContent-Length: {length}\r\n\r\nabc");
        let code = send(address, request.as_bytes());
        assert!(
            code.is_none_or(|c| (400..500).contains(&c)),
            "Content-Length {length}: status {code:?}"
        );
    }
    assert_eq!(
        send(address, TEMPLATES[1].as_bytes()),
        Some(200),
        "the server stopped serving"
    );
    stand.stop.store(true, Ordering::Relaxed);
    machine.join().expect("the machine stand-in");
}
