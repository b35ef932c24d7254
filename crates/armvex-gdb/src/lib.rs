//! # armvex-gdb: the gdb remote stub
//!
//! `armvex run --gdb tcp::1234` (or `-s`; `-S` to wait for gdb before the first instruction,
//! as QEMU) lets `gdb-multiarch` attach over TCP with `target remote :1234`. Built on the
//! `gdbstub` crate, which speaks the protocol; this crate maps it onto the machine:
//!
//! * **Threads** are CPUs (thread 1 = CPU 0), all stopped and resumed together (all-stop).
//! * **Registers**: R0–R15, CPSR, D0–D31, FPSCR (see [`arch`]); `monitor info registers`
//!   shows the banked and CP15 registers too ([`monitor`]).
//! * **Memory** is read and written through the stopped CPU's current MMU translation
//!   (physical addresses with the MMU off); device registers are never read (a read could
//!   change them), unmapped addresses are refused.
//! * **Breakpoints** (`break`, `hbreak`) compare the PC and never touch guest memory, so they
//!   work on addresses the MMU does not map yet; **watchpoints** (`watch`, `rwatch`, `awatch`)
//!   of any size and number stop exactly at the instruction that accesses the watched bytes.
//! * **Reverse execution** (`reverse-stepi`, `reverse-continue`, and with them
//!   `reverse-next`, `reverse-finish`) needs no option: the machine's history is kept from the
//!   start ([`armvex_history`]). Where history ends or begins, gdb says "No more
//!   reverse-execution history".
//! * Writing registers or memory is host input: it is journaled (a `--record`ing replays it) and
//!   the history after that point is dropped — the machine now has another future.
//!
//! The machine runs on the thread that serves gdb; between rounds (about every millisecond of
//! host time) it peeks at the connection, so gdb's Ctrl-C stops it at once. When gdb detaches,
//! the guest runs on and another gdb may attach later; `kill` ends armvex.

pub mod arch;
pub mod monitor;
pub mod target;

use armvex_history::{History, HistoryConfig, Outcome};
use armvex_machine::{Machine, RunEnd, RunGoal, Stop};
use gdbstub::stub::{DisconnectReason, GdbStub};
use std::net::{TcpListener, TcpStream};
use target::{GdbLoop, Session};

/// How `--gdb` was given.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct GdbOptions {
    /// The address to listen on, e.g. `127.0.0.1:1234`.
    pub address: String,
    /// Wait for gdb before the first instruction (`-S`).
    pub wait: bool,
    /// How the history for reverse execution is kept.
    pub history: HistoryConfig,
}

/// Why the gdb stub could not start or go on. `Display` is the one-line message the CLI
/// prints after `armvex: `.
#[derive(Debug)]
pub enum GdbError {
    /// A `--gdb` value that is no address.
    Address(String),
    /// The listening socket could not be set up, or a connection not accepted.
    Listen {
        /// What failed: "cannot listen on" or "cannot accept a connection on".
        doing: &'static str,
        /// The address.
        address: String,
        /// The host's answer.
        source: std::io::Error,
    },
    /// The machine failed while gdb drove it (a replay that diverged, a bad edit...).
    Machine(armvex_machine::MachineError),
    /// The debugging session stopped on an error of the machine, reported through gdbstub.
    Session(String),
}

impl std::fmt::Display for GdbError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            GdbError::Address(spec) => write!(f, "--gdb {spec}: expected tcp::PORT or tcp:HOST:PORT"),
            GdbError::Listen { doing, address, source } => write!(f, "--gdb: {doing} {address}: {source}"),
            GdbError::Machine(e) => e.fmt(f),
            GdbError::Session(message) => f.write_str(message),
        }
    }
}

impl std::error::Error for GdbError {}

impl From<armvex_machine::MachineError> for GdbError {
    fn from(e: armvex_machine::MachineError) -> GdbError {
        GdbError::Machine(e)
    }
}

/// Callers that still report errors as strings keep working with `?`.
impl From<GdbError> for String {
    fn from(e: GdbError) -> String {
        e.to_string()
    }
}

/// Parse QEMU's `--gdb` device syntax: `tcp::PORT` (loopback) or `tcp:HOST:PORT`; a bare
/// `PORT` or `HOST:PORT` is taken too.
pub fn parse_address(spec: &str) -> Result<String, GdbError> {
    let rest = spec.strip_prefix("tcp:").unwrap_or(spec);
    let (host, port) = match rest.rsplit_once(':') {
        Some((h, p)) => (if h.is_empty() { "127.0.0.1" } else { h }, p),
        None => ("127.0.0.1", rest),
    };
    let port: u16 = port.parse().map_err(|_| GdbError::Address(spec.to_string()))?;
    Ok(format!("{host}:{port}"))
}

/// Run `machine` under the gdb stub until the guest ends (with no gdb attached) or gdb kills
/// it. Returns how the guest ended, or [`RunEnd::Quit`] after a kill.
pub fn serve(machine: &mut Machine, options: &GdbOptions) -> Result<RunEnd, GdbError> {
    let listen = |doing: &'static str, address: &str| {
        let address = address.to_string();
        move |source| GdbError::Listen { doing, address, source }
    };
    let listener = TcpListener::bind(&options.address).map_err(listen("cannot listen on", &options.address))?;
    let shown = listener.local_addr().map_or(options.address.clone(), |a| a.to_string());
    let mut history = History::new(machine, options.history);
    let mut pending: Option<TcpStream> = None;
    if options.wait {
        eprintln!("armvex: waiting for gdb on {shown} (target remote {shown})");
        let (stream, _) = listener
            .accept()
            .map_err(listen("cannot accept a connection on", &shown))?;
        pending = Some(stream);
    }
    listener
        .set_nonblocking(true)
        .map_err(listen("cannot listen on", &shown))?;
    loop {
        if let Some(stream) = pending.take() {
            match session(machine, &mut history, stream)? {
                Some(end) => return Ok(end),
                None => continue,
            }
        }
        // No debugger: run until the guest ends or one connects.
        let mut incoming: Option<TcpStream> = None;
        let mut poll = || match listener.accept() {
            Ok((stream, _)) => {
                incoming = Some(stream);
                true
            }
            Err(_) => false,
        };
        let outcome = history.run(machine, RunGoal::default(), &mut poll)?;
        match outcome {
            Outcome::Stop(Stop::Ended(end)) => return Ok(end),
            _ => pending = incoming,
        }
    }
}

/// Serve one gdb connection. `Some(end)` if armvex should exit (gdb killed it, or the guest
/// exited under gdb); `None` when gdb detached and the guest runs on.
fn session(machine: &mut Machine, history: &mut History, stream: TcpStream) -> Result<Option<RunEnd>, GdbError> {
    let peer = stream.peer_addr().map_or("?".to_string(), |a| a.to_string());
    let _ = stream.set_nodelay(true);
    tracing::info!(target: "gdb", "gdb connected from {peer}");
    let mut session = Session::new(machine, history);
    let result = GdbStub::new(stream).run_blocking::<GdbLoop<'_>>(&mut session);
    session.clear_debug_state();
    match result {
        Ok(DisconnectReason::Disconnect) => {
            tracing::info!(target: "gdb", "gdb detached; the guest runs on");
            Ok(None)
        }
        Ok(DisconnectReason::TargetExited(code)) => Ok(Some(RunEnd::Exit(i32::from(code)))),
        Ok(DisconnectReason::TargetTerminated(_)) | Ok(DisconnectReason::Kill) => {
            Ok(Some(machine_end(&session).unwrap_or(RunEnd::Quit)))
        }
        Err(e) => {
            if e.is_target_error() {
                let message = e.into_target_error().unwrap_or_default();
                return Err(GdbError::Session(message));
            }
            // The connection broke or gdb sent something gdbstub gave up on: say so, and let
            // the guest run on, as after a detach.
            eprintln!("armvex: gdb connection from {peer} ended: {e}; the guest runs on");
            Ok(None)
        }
    }
}

fn machine_end(session: &Session<'_>) -> Option<RunEnd> {
    session.machine.ended()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn gdb_addresses_as_qemu_takes_them() {
        assert_eq!(parse_address("tcp::1234").unwrap(), "127.0.0.1:1234");
        assert_eq!(parse_address("tcp:0.0.0.0:4321").unwrap(), "0.0.0.0:4321");
        assert_eq!(parse_address("1234").unwrap(), "127.0.0.1:1234");
        assert_eq!(parse_address(":99").unwrap(), "127.0.0.1:99");
        assert!(
            parse_address("tcp::port")
                .unwrap_err()
                .to_string()
                .contains("tcp::PORT")
        );
        assert!(parse_address("tcp::70000").is_err());
    }
}
