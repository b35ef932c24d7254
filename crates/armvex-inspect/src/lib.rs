//! # armvex-inspect: the live inspector (`--inspect ADDR`)
//!
//! A web page, and the JSON API behind it, that shows a running machine: each CPU's registers
//! and next instructions, the memory map with per-device MMIO counts and the last accesses,
//! every virtio-mmio transport with its virtqueues and descriptor chains, the GIC's lines, and
//! pictures of all of it over virtual time. See `docs/inspector.md` for the API.
//!
//! ## Two threads, one narrow bridge
//!
//! The machine runs on the main thread; this crate's HTTP server ([`tiny_http`], a small
//! blocking server: no async runtime) on its own. They share only a `Bridge`:
//!
//! * a flag, `attention`, that the run loop reads once per round (an atomic load: nothing on
//!   the per-instruction path). The server sets it when it has a command or wants a view;
//! * a channel of [`InspectorCommand`]s (pause, continue, step, breakpoint, key, screen);
//! * the latest [`InspectorView`] the machine published, with a generation number and a
//!   condition variable so that a request can wait for a fresh one.
//!
//! The machine side ([`MachineSide`], an [`armvex_machine::inspect::Inspector`]) is driven by
//! [`armvex_machine::Machine::run_inspected`], which takes views only between instructions
//! and turns keys into recorded host input: see `armvex_machine::inspect` for why the guest
//! cannot tell whether it is watched.

use armvex_machine::inspect::{Inspector, InspectorCommand, InspectorView};
use crossbeam_channel::{Receiver, Sender};
use serde_json::{Value, json};
use std::io::Read;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Condvar, Mutex};
use std::time::{Duration, Instant};

mod disasm;

/// The page, its script and style: plain files served from the binary (no build step, no CDN).
const INDEX_HTML: &str = include_str!("page/index.html");
const APP_JS: &str = include_str!("page/app.js");
const STYLE_CSS: &str = include_str!("page/style.css");
/// The teaching docs, linked from the page.
const DOCS: &[(&str, &str)] = &[
    ("inspector.md", include_str!("../../../docs/inspector.md")),
    ("instruction-flow.md", include_str!("../../../docs/instruction-flow.md")),
    (
        "disk-request-flow.md",
        include_str!("../../../docs/disk-request-flow.md"),
    ),
    ("virtual-time.md", include_str!("../../../docs/virtual-time.md")),
];

/// Request bodies larger than this are refused (413): no endpoint needs more.
const MAX_BODY: usize = 4096;
/// The most instructions one step may ask for.
const MAX_STEP: u64 = 1 << 40;
/// How often a live stream sends a view (host time).
const STREAM_PERIOD: Duration = Duration::from_millis(500);
/// The chunk size tiny_http's chunked encoder sends.
const CHUNK: usize = 8192;
/// How many live streams may be open at once.
const MAX_STREAMS: usize = 8;

/// The latest view and its number.
#[derive(Default)]
struct Latest {
    view: Option<Arc<InspectorView>>,
    generation: u64,
    /// Host time and instruction count of the previous view, for MIPS.
    previous: Option<(Instant, u64)>,
    mips: f64,
}

/// What the server thread and the machine share.
struct Bridge {
    attention: AtomicBool,
    want_view: AtomicBool,
    latest: Mutex<Latest>,
    fresh: Condvar,
    commands: Sender<InspectorCommand>,
    streams: AtomicUsize,
    started: Instant,
}

impl Bridge {
    fn send(&self, command: InspectorCommand) {
        let _ = self.commands.send(command);
        self.attention.store(true, Ordering::Release);
    }

    /// Ask for a fresh view and wait (at most `timeout`) for one for which `good` holds;
    /// the latest view if none comes in time.
    fn view_where(
        &self,
        timeout: Duration,
        good: &dyn Fn(&InspectorView) -> bool,
    ) -> Option<(Arc<InspectorView>, f64)> {
        let deadline = Instant::now() + timeout;
        let mut latest = self.latest.lock().unwrap_or_else(|e| e.into_inner());
        loop {
            let seen = latest.generation;
            self.want_view.store(true, Ordering::Release);
            self.attention.store(true, Ordering::Release);
            loop {
                let now = Instant::now();
                if now >= deadline {
                    return latest.view.clone().map(|v| (v, latest.mips));
                }
                let wait = (deadline - now).min(Duration::from_millis(100));
                latest = self
                    .fresh
                    .wait_timeout(latest, wait)
                    .unwrap_or_else(|e| e.into_inner())
                    .0;
                if latest.generation != seen {
                    break;
                }
                // Ask again (the machine may have taken the flag before the command).
                self.want_view.store(true, Ordering::Release);
                self.attention.store(true, Ordering::Release);
            }
            if let Some(v) = latest.view.clone() {
                if good(&v) {
                    return Some((v, latest.mips));
                }
            }
        }
    }
}

/// The machine's end of the bridge: hand it to [`armvex_machine::Machine::run_inspected`].
pub struct MachineSide {
    bridge: Arc<Bridge>,
    commands: Receiver<InspectorCommand>,
}

impl Inspector for MachineSide {
    fn wants_attention(&self) -> bool {
        self.bridge.attention.load(Ordering::Relaxed)
    }

    fn next_command(&mut self, wait: Duration) -> Option<InspectorCommand> {
        self.bridge.attention.store(false, Ordering::Relaxed);
        let command = if wait.is_zero() {
            self.commands.try_recv().ok()
        } else {
            self.commands.recv_timeout(wait).ok()
        };
        // More commands waiting: come back at once. (A wanted view needs nothing here: the
        // run loop asks `wants_view` right after, and the server sets `attention` after
        // `want_view`, so a request that comes in between is seen at the next round.)
        if !self.commands.is_empty() {
            self.bridge.attention.store(true, Ordering::Relaxed);
        }
        command
    }

    fn wants_view(&self) -> bool {
        self.bridge.want_view.swap(false, Ordering::AcqRel)
    }

    fn publish(&mut self, view: InspectorView) {
        let mut latest = self.bridge.latest.lock().unwrap_or_else(|e| e.into_inner());
        let now = Instant::now();
        if let Some((t, n)) = latest.previous {
            let dt = now.duration_since(t).as_secs_f64();
            if dt > 0.05 {
                latest.mips = view.instructions.saturating_sub(n) as f64 / dt / 1e6;
                latest.previous = Some((now, view.instructions));
            }
        } else {
            latest.previous = Some((now, view.instructions));
        }
        latest.view = Some(Arc::new(view));
        latest.generation += 1;
        self.bridge.fresh.notify_all();
    }
}

/// A running inspector server.
pub struct InspectorServer {
    bridge: Arc<Bridge>,
    commands: Receiver<InspectorCommand>,
    /// The address it listens on (with the real port when 0 was asked for).
    pub address: std::net::SocketAddr,
}

impl InspectorServer {
    /// The machine's end of the bridge (a new one for each machine: after a reboot too).
    pub fn machine_side(&self) -> MachineSide {
        MachineSide {
            bridge: self.bridge.clone(),
            commands: self.commands.clone(),
        }
    }
}

/// Why the inspector could not start. `Display` is the one-line message the CLI prints after
/// `armvex: `.
#[derive(Debug)]
pub enum InspectError {
    /// An `--inspect` value that is no address.
    Address(String),
    /// The server could not listen on the address.
    Listen {
        /// The address.
        address: std::net::SocketAddr,
        /// The host's answer.
        source: Box<dyn std::error::Error + Send + Sync>,
    },
    /// The server's address is not an IP address.
    NotIp(std::net::SocketAddr),
    /// The server's thread could not be started.
    Thread(std::io::Error),
}

impl std::fmt::Display for InspectError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            InspectError::Address(spec) => write!(f, "--inspect {spec}: expected PORT, :PORT or HOST:PORT"),
            InspectError::Listen { address, source } => write!(f, "--inspect {address}: cannot listen: {source}"),
            InspectError::NotIp(address) => write!(f, "--inspect {address}: not an IP address"),
            InspectError::Thread(e) => write!(f, "cannot start the inspector thread: {e}"),
        }
    }
}

impl std::error::Error for InspectError {}

/// Callers that report errors as strings keep working with `?`.
impl From<InspectError> for String {
    fn from(e: InspectError) -> String {
        e.to_string()
    }
}

/// Parse `--inspect ADDR`: `PORT`, `:PORT` (loopback) or `HOST:PORT`.
pub fn parse_address(spec: &str) -> Result<std::net::SocketAddr, InspectError> {
    use std::net::ToSocketAddrs;
    let bad = || InspectError::Address(spec.to_string());
    let spec_full = if let Ok(port) = spec.parse::<u16>() {
        format!("127.0.0.1:{port}")
    } else if let Some(port) = spec.strip_prefix(':') {
        format!("127.0.0.1:{}", port.parse::<u16>().map_err(|_| bad())?)
    } else {
        spec.to_string()
    };
    spec_full.to_socket_addrs().map_err(|_| bad())?.next().ok_or_else(bad)
}

/// Start serving on `address`. A one-line error if it cannot be bound; a warning on stderr
/// when it is not a loopback address (the page can pause the guest and type into it).
pub fn start(address: std::net::SocketAddr) -> Result<InspectorServer, InspectError> {
    let server = tiny_http::Server::http(address).map_err(|source| InspectError::Listen { address, source })?;
    let address = server.server_addr().to_ip().ok_or(InspectError::NotIp(address))?;
    if !address.ip().is_loopback() {
        eprintln!(
            "armvex: warning: the inspector listens on {address}, not a loopback address: anyone who can reach it can pause the guest and type into it"
        );
    }
    let (tx, rx) = crossbeam_channel::unbounded();
    let bridge = Arc::new(Bridge {
        attention: AtomicBool::new(false),
        want_view: AtomicBool::new(false),
        latest: Mutex::new(Latest::default()),
        fresh: Condvar::new(),
        commands: tx,
        streams: AtomicUsize::new(0),
        started: Instant::now(),
    });
    let b = bridge.clone();
    std::thread::Builder::new()
        .name("inspector".into())
        .spawn(move || serve(server, b))
        .map_err(InspectError::Thread)?;
    Ok(InspectorServer {
        bridge,
        commands: rx,
        address,
    })
}

type Response = tiny_http::Response<std::io::Cursor<Vec<u8>>>;

fn header(name: &str, value: &str) -> tiny_http::Header {
    tiny_http::Header::from_bytes(name.as_bytes(), value.as_bytes()).expect("valid header")
}

fn reply(status: u16, content_type: &str, body: Vec<u8>) -> Response {
    tiny_http::Response::from_data(body)
        .with_status_code(status)
        .with_header(header("Content-Type", content_type))
        .with_header(header("Cache-Control", "no-store"))
}

fn json_reply(status: u16, v: &Value) -> Response {
    reply(status, "application/json", v.to_string().into_bytes())
}

fn error(status: u16, message: &str) -> Response {
    json_reply(status, &json!({ "error": message }))
}

/// Serve requests: each on a thread of its own, so that a client that stalls (a body
/// shorter than its declared length, a chunked body that never ends) holds up only itself.
/// tiny_http reads a body over 1 KiB lazily and, when the request is dropped, reads what is
/// left of it into a buffer as big as the *declared* length: a request claiming a terabyte
/// would abort the process with a failed allocation. Such a request is answered 413 and its
/// connection let go without dropping the request: a socket held until the client closes
/// it, never an abort (see [`refuse_huge`]).
fn serve(server: tiny_http::Server, bridge: Arc<Bridge>) {
    for request in server.incoming_requests() {
        if request.body_length().is_some_and(|n| n > MAX_BODY) {
            refuse_huge(request);
            continue;
        }
        let b = bridge.clone();
        let spawned = std::thread::Builder::new()
            .name("inspector-request".into())
            .spawn(move || handle(request, &b));
        if let Err(e) = spawned {
            eprintln!("armvex: inspector: cannot start a thread for a request: {e}");
        }
    }
}

/// How many connections of requests with a huge declared body have been let go.
static LEAKED: AtomicUsize = AtomicUsize::new(0);
/// Past this many, say so once (each holds a socket until the client closes it).
const MAX_LEAKED: usize = 64;

/// Answer 413 to a request whose declared body is over [`MAX_BODY`], without ever dropping
/// the request (see [`serve`]): the answer goes through `upgrade`, which hands over the
/// connection, and the connection is forgotten rather than dropped.
fn refuse_huge(request: tiny_http::Request) {
    let response = error(413, "request body too large").with_header(header("Connection", "close"));
    let stream = request.upgrade("none", response);
    std::mem::forget(stream);
    if LEAKED.fetch_add(1, Ordering::Relaxed) + 1 == MAX_LEAKED {
        eprintln!(
            "armvex: inspector: {MAX_LEAKED} requests with oversized bodies refused; their connections stay open until their clients close them"
        );
    }
}

/// One request, on its own thread.
fn handle(mut request: tiny_http::Request, bridge: &Arc<Bridge>) {
    let url = request.url().to_string();
    let (path, query) = url.split_once('?').unwrap_or((&url, ""));
    let (path, query) = (path.to_string(), query.to_string());
    let method = request.method().clone();
    let mut body = Vec::new();
    if request
        .as_reader()
        .take(MAX_BODY as u64 + 1)
        .read_to_end(&mut body)
        .is_err()
        || body.len() > MAX_BODY
    {
        let _ = request.respond(error(413, "request body too large"));
        return;
    }
    if path == "/api/events" && method == tiny_http::Method::Get {
        if bridge.streams.load(Ordering::Acquire) >= MAX_STREAMS {
            let _ = request.respond(error(503, "too many live streams"));
            return;
        }
        bridge.streams.fetch_add(1, Ordering::AcqRel);
        let stream = EventStream {
            bridge: bridge.clone(),
            buffer: Vec::new(),
            at: 0,
            next: Instant::now(),
        };
        let response = tiny_http::Response::new(
            tiny_http::StatusCode(200),
            vec![
                header("Content-Type", "text/event-stream"),
                header("Cache-Control", "no-store"),
            ],
            stream,
            None,
            None,
        );
        let _ = request.respond(response);
        bridge.streams.fetch_sub(1, Ordering::AcqRel);
        return;
    }
    let response = route(bridge, &method, &path, &query, &body);
    let _ = request.respond(response);
}

/// A query parameter's value.
fn param<'a>(query: &'a str, name: &str) -> Option<&'a str> {
    query
        .split('&')
        .filter_map(|kv| kv.split_once('=').or(Some((kv, ""))))
        .find(|(k, _)| *k == name)
        .map(|(_, v)| v)
}

fn parse_number(s: &str) -> Option<u64> {
    match s.strip_prefix("0x").or_else(|| s.strip_prefix("0X")) {
        Some(hex) => u64::from_str_radix(hex, 16).ok(),
        None => s.parse().ok(),
    }
}

fn route(bridge: &Bridge, method: &tiny_http::Method, path: &str, query: &str, body: &[u8]) -> Response {
    use tiny_http::Method::{Get, Post};
    let is_get = *method == Get;
    let is_post = *method == Post;
    let wrong_method = || error(405, "method not allowed");
    match path {
        "/" | "/index.html" if is_get => reply(200, "text/html; charset=utf-8", INDEX_HTML.into()),
        "/app.js" if is_get => reply(200, "text/javascript; charset=utf-8", APP_JS.into()),
        "/style.css" if is_get => reply(200, "text/css; charset=utf-8", STYLE_CSS.into()),
        "/" | "/index.html" | "/app.js" | "/style.css" => wrong_method(),
        p if p.starts_with("/docs/") => match DOCS.iter().find(|(n, _)| p == format!("/docs/{n}")) {
            Some((_, text)) if is_get => reply(200, "text/plain; charset=utf-8", text.as_bytes().to_vec()),
            Some(_) => wrong_method(),
            None => error(404, "no such document"),
        },
        "/api/machine" if is_get => match bridge.view_where(Duration::from_secs(2), &|_| true) {
            Some((v, mips)) => json_reply(200, &machine_json(&v, mips, bridge)),
            None => error(503, "the machine has not answered yet"),
        },
        "/api/pause" if is_post => {
            bridge.send(InspectorCommand::Pause);
            answer_after(bridge, &|v| !v.running)
        }
        "/api/continue" if is_post => {
            bridge.send(InspectorCommand::Continue);
            answer_after(bridge, &|v| {
                v.running || v.stopped.as_deref().is_some_and(|s| s.starts_with("ended"))
            })
        }
        "/api/step" if is_post => {
            let Some(n) = param(query, "n")
                .and_then(parse_number)
                .filter(|n| (1..=MAX_STEP).contains(n))
            else {
                return error(400, "step needs n=N, 1 <= N <= 2^40");
            };
            // Steps count from where the machine stopped: pause first so the count is exact.
            bridge.send(InspectorCommand::Pause);
            let Some((before, _)) = bridge.view_where(Duration::from_secs(5), &|v| !v.running) else {
                return error(503, "the machine has not answered yet");
            };
            if before.running {
                return error(503, "the machine did not stop");
            }
            let target = before.instructions.saturating_add(n);
            bridge.send(InspectorCommand::Step(n));
            answer_after(bridge, &move |v| {
                !v.running && (v.instructions >= target || v.stopped.as_deref() != Some("paused"))
            })
        }
        "/api/breakpoint" if is_post => {
            let addr = match param(query, "addr") {
                Some("" | "none") | None => None,
                Some(a) => match parse_number(a).and_then(|a| u32::try_from(a).ok()) {
                    Some(a) => Some(a),
                    None => return error(400, "breakpoint needs addr=ADDRESS (or addr=none)"),
                },
            };
            bridge.send(InspectorCommand::Breakpoint(addr));
            answer_after(bridge, &|v| v.breakpoint == addr)
        }
        "/api/key" if is_post => {
            let code = param(query, "code")
                .and_then(parse_number)
                .and_then(|c| u16::try_from(c).ok());
            let action = param(query, "action").unwrap_or("press");
            let (Some(code), true) = (code, code.is_some_and(|c| (1..0x300).contains(&c))) else {
                return error(400, "key needs code=N (a Linux key code, 1..767)");
            };
            match action {
                "down" => bridge.send(InspectorCommand::Key { code, down: true }),
                "up" => bridge.send(InspectorCommand::Key { code, down: false }),
                "press" => {
                    bridge.send(InspectorCommand::Key { code, down: true });
                    bridge.send(InspectorCommand::Key { code, down: false });
                }
                _ => return error(400, "action must be press, down or up"),
            }
            let _ = body;
            json_reply(200, &json!({ "ok": true }))
        }
        "/api/screen.png" if is_get => {
            let (tx, rx) = crossbeam_channel::bounded(1);
            bridge.send(InspectorCommand::Screen(tx));
            match rx.recv_timeout(Duration::from_secs(3)) {
                Ok(Some(frame)) => match encode_png(&frame) {
                    Ok(png) => reply(200, "image/png", png),
                    Err(e) => error(500, &e),
                },
                Ok(None) => error(404, "no display is on"),
                Err(_) => error(503, "the machine has not answered"),
            }
        }
        "/api/machine" | "/api/pause" | "/api/continue" | "/api/step" | "/api/breakpoint" | "/api/key"
        | "/api/screen.png" | "/api/events" => wrong_method(),
        _ => error(404, "no such page"),
    }
}

/// Answer a command with the first view for which `good` holds (waiting at most 5 s).
fn answer_after(bridge: &Bridge, good: &dyn Fn(&InspectorView) -> bool) -> Response {
    match bridge.view_where(Duration::from_secs(5), good) {
        Some((v, _)) => json_reply(
            200,
            &json!({
                "ok": good(&v),
                "running": v.running,
                "stopped": v.stopped,
                "instructions": v.instructions,
                "virtual_ns": v.virtual_ns,
                "breakpoint": v.breakpoint,
            }),
        ),
        None => error(503, "the machine has not answered yet"),
    }
}

/// The view as JSON, with what the machine leaves to the inspector: MIPS, host time and the
/// disassembly of the next instructions.
fn machine_json(view: &InspectorView, mips: f64, bridge: &Bridge) -> Value {
    let mut v = serde_json::to_value(view).unwrap_or(Value::Null);
    if let Value::Object(map) = &mut v {
        map.insert("mips".into(), json!(if view.running { mips } else { 0.0 }));
        map.insert("host_ms".into(), json!(bridge.started.elapsed().as_millis() as u64));
        if let Some(Value::Array(cpus)) = map.get_mut("cpus") {
            for (c, cpu) in cpus.iter_mut().zip(&view.cpus) {
                let next = disasm::disassemble(c_thumb(cpu), cpu.code_addr, &cpu.code, 6);
                if let Value::Object(m) = c {
                    m.insert("next".into(), json!(next));
                    m.remove("code");
                }
            }
        }
    }
    v
}

fn c_thumb(cpu: &armvex_machine::inspect::CpuView) -> bool {
    cpu.thumb
}

fn encode_png(frame: &armvex_devices::Frame) -> Result<Vec<u8>, String> {
    let mut out = Vec::new();
    let mut encoder = png::Encoder::new(&mut out, frame.width, frame.height);
    encoder.set_color(png::ColorType::Rgb);
    encoder.set_depth(png::BitDepth::Eight);
    let mut writer = encoder.write_header().map_err(|e| e.to_string())?;
    writer.write_image_data(&frame.rgb).map_err(|e| e.to_string())?;
    writer.finish().map_err(|e| e.to_string())?;
    Ok(out)
}

/// A server-sent event stream: one `data:` line with the machine's JSON every
/// [`STREAM_PERIOD`], until the client goes away (the write fails and tiny_http drops us).
struct EventStream {
    bridge: Arc<Bridge>,
    buffer: Vec<u8>,
    at: usize,
    next: Instant,
}

impl Read for EventStream {
    fn read(&mut self, out: &mut [u8]) -> std::io::Result<usize> {
        if self.at >= self.buffer.len() {
            let now = Instant::now();
            if self.next > now {
                std::thread::sleep(self.next - now);
            }
            self.next = Instant::now() + STREAM_PERIOD;
            let text = match self.bridge.view_where(Duration::from_secs(1), &|_| true) {
                Some((v, mips)) => machine_json(&v, mips, &self.bridge).to_string(),
                None => "{}".to_string(),
            };
            let mut event = format!("data: {text}\n\n");
            // tiny_http sends chunks of 8 KiB: pad the event with an SSE comment line to a
            // whole number of chunks, so that it leaves at once rather than with the next.
            let fill = (CHUNK - (event.len() + 2) % CHUNK) % CHUNK;
            event.push(':');
            event.extend(std::iter::repeat_n(' ', fill));
            event.push('\n');
            self.buffer = event.into_bytes();
            self.at = 0;
        }
        let n = out.len().min(self.buffer.len() - self.at);
        out[..n].copy_from_slice(&self.buffer[self.at..self.at + n]);
        self.at += n;
        Ok(n)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn addresses() {
        assert_eq!(parse_address("8080").unwrap().to_string(), "127.0.0.1:8080");
        assert_eq!(parse_address(":0").unwrap().to_string(), "127.0.0.1:0");
        assert_eq!(parse_address("0.0.0.0:9").unwrap().to_string(), "0.0.0.0:9");
        assert!(parse_address("nonsense").is_err());
        assert!(parse_address(":99999").is_err());
    }

    #[test]
    fn parameters_and_numbers() {
        assert_eq!(param("n=5&x=1", "n"), Some("5"));
        assert_eq!(param("a&n=", "n"), Some(""));
        assert_eq!(param("a=1", "n"), None);
        assert_eq!(parse_number("0x10"), Some(16));
        assert_eq!(parse_number("12"), Some(12));
        assert_eq!(parse_number("-1"), None);
        assert_eq!(parse_number("1e3"), None);
    }
}
