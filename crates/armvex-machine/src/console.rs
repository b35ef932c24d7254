//! Host input: the one place where bytes from the outside world enter the machine.
//!
//! Determinism (DEVELOPERS.md, principle 2) needs every piece of host input to arrive at a
//! virtual time that can be reproduced. Console bytes are therefore never handed to the guest
//! when they arrive; a reader thread queues them ([`crossbeam_channel`]), and the machine
//! takes them between rounds, stamps them with the virtual time, and delivers them to the
//! UART through [`armvex_bus::Bus::deliver_host_input`]. With `--record FILE` every delivery
//! (and the RTC start time) is written down; with `--replay FILE` the same bytes are delivered
//! at the same virtual times, so a session replays instruction for instruction.
//!
//! The interactive console behaves like QEMU's `-nographic`: the terminal is put in raw mode
//! (so Ctrl-C goes to the guest), Ctrl-A X quits, Ctrl-A Ctrl-A sends a Ctrl-A, and the
//! terminal is restored on every way out (normal exit, error, panic, SIGTERM/SIGHUP).

use crossbeam_channel::{Receiver, TryRecvError};
use std::collections::VecDeque;
use std::io::{BufRead, Read, Write};
use std::path::Path;

/// Something from the host for the guest.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum HostEvent {
    /// Bytes typed on the console.
    Console(Vec<u8>),
    /// The user asked to quit (Ctrl-A X).
    Quit,
}

/// Where host input comes from.
pub enum InputSource {
    /// Nothing (batch runs without a console).
    None,
    /// A live reader thread.
    Live(Receiver<HostEvent>),
    /// A recording: (virtual time, event) in time order.
    Replay(VecDeque<(u64, HostEvent)>),
}

/// Host input with optional recording.
pub struct HostInput {
    source: InputSource,
    recorder: Option<Box<dyn Write>>,
    /// The RTC start time (seconds since 1970): host input too.
    pub start_time: u64,
}

impl HostInput {
    /// Live input from stdin (Ctrl-A escapes handled), with the host's current time as the
    /// RTC start time unless given.
    pub fn live(start_time: u64) -> HostInput {
        let (tx, rx) = crossbeam_channel::unbounded();
        std::thread::Builder::new()
            .name("stdin".into())
            .spawn(move || {
                let mut stdin = std::io::stdin();
                let mut escape = false;
                let mut buf = [0u8; 256];
                loop {
                    let n = match stdin.read(&mut buf) {
                        Ok(0) | Err(_) => return,
                        Ok(n) => n,
                    };
                    let mut out = Vec::with_capacity(n);
                    for &b in &buf[..n] {
                        if escape {
                            escape = false;
                            match b {
                                b'x' | b'X' => {
                                    let _ = tx.send(HostEvent::Console(std::mem::take(&mut out)));
                                    let _ = tx.send(HostEvent::Quit);
                                    return;
                                }
                                0x01 => out.push(0x01),
                                b'h' | b'H' => {
                                    let _ =
                                        std::io::stderr().write_all(b"\r\nC-a x  exit armvex\r\nC-a C-a  send C-a\r\n");
                                }
                                _ => {}
                            }
                        } else if b == 0x01 {
                            escape = true;
                        } else {
                            out.push(b);
                        }
                    }
                    if !out.is_empty() && tx.send(HostEvent::Console(out)).is_err() {
                        return;
                    }
                }
            })
            .expect("start the stdin thread");
        HostInput {
            source: InputSource::Live(rx),
            recorder: None,
            start_time,
        }
    }

    /// No input at all.
    pub fn none(start_time: u64) -> HostInput {
        HostInput {
            source: InputSource::None,
            recorder: None,
            start_time,
        }
    }

    /// Replay a recording made with [`HostInput::record_to`].
    pub fn replay(path: &Path) -> Result<HostInput, String> {
        let shown = path.display();
        let f = std::fs::File::open(path).map_err(|e| format!("cannot read input recording {shown}: {e}"))?;
        let mut start_time = None;
        let mut events = VecDeque::new();
        for (n, line) in std::io::BufReader::new(f).lines().enumerate() {
            let line = line.map_err(|e| format!("cannot read input recording {shown}: {e}"))?;
            let bad = || format!("input recording {shown}, line {}: not understood", n + 1);
            let mut parts = line.split_whitespace();
            match (parts.next(), parts.next(), parts.next()) {
                (Some("start-time"), Some(t), None) => start_time = Some(t.parse().map_err(|_| bad())?),
                (Some(t), Some("quit"), None) => events.push_back((t.parse().map_err(|_| bad())?, HostEvent::Quit)),
                (Some(t), Some("console"), Some(hex)) => {
                    let bytes = (0..hex.len())
                        .step_by(2)
                        .map(|i| hex.get(i..i + 2).and_then(|h| u8::from_str_radix(h, 16).ok()))
                        .collect::<Option<Vec<u8>>>()
                        .ok_or_else(bad)?;
                    events.push_back((t.parse().map_err(|_| bad())?, HostEvent::Console(bytes)));
                }
                (None, _, _) => {}
                _ => return Err(bad()),
            }
        }
        Ok(HostInput {
            source: InputSource::Replay(events),
            recorder: None,
            start_time: start_time.ok_or_else(|| format!("input recording {shown} has no start-time line"))?,
        })
    }

    /// Also write every delivered event to `path`.
    pub fn record_to(&mut self, path: &Path) -> Result<(), String> {
        let mut f = std::fs::File::create(path)
            .map_err(|e| format!("cannot create input recording {}: {e}", path.display()))?;
        writeln!(f, "start-time {}", self.start_time).map_err(|e| e.to_string())?;
        self.recorder = Some(Box::new(f));
        Ok(())
    }

    /// Events to deliver at virtual time `now` (called between rounds).
    pub fn take(&mut self, now: u64) -> Vec<HostEvent> {
        let mut out = Vec::new();
        match &mut self.source {
            InputSource::None => {}
            InputSource::Live(rx) => loop {
                match rx.try_recv() {
                    Ok(e) => out.push(e),
                    Err(TryRecvError::Empty) => break,
                    Err(TryRecvError::Disconnected) => {
                        self.source = InputSource::None;
                        break;
                    }
                }
            },
            InputSource::Replay(events) => {
                while events.front().is_some_and(|(t, _)| *t <= now) {
                    out.push(events.pop_front().expect("checked").1);
                }
            }
        }
        if let Some(rec) = self.recorder.as_mut() {
            for e in &out {
                let _ = match e {
                    HostEvent::Console(b) => {
                        let hex: String = b.iter().map(|x| format!("{x:02x}")).collect();
                        writeln!(rec, "{now} console {hex}")
                    }
                    HostEvent::Quit => writeln!(rec, "{now} quit"),
                };
            }
            let _ = rec.flush();
        }
        out
    }

    /// The virtual time of the next replayed event (so an idle machine can jump to it).
    pub fn next_replay_time(&self) -> Option<u64> {
        match &self.source {
            InputSource::Replay(e) => e.front().map(|(t, _)| *t),
            _ => None,
        }
    }

    /// Block until live input arrives (the machine is idle with nothing scheduled). Returns
    /// false if no input can ever arrive.
    pub fn wait(&mut self) -> bool {
        match &self.source {
            InputSource::Live(rx) => match rx.recv() {
                Ok(e) => {
                    // Put it back at the front: `take` delivers it with the current time.
                    let (tx, new_rx) = crossbeam_channel::unbounded();
                    let _ = tx.send(e);
                    for rest in rx.try_iter() {
                        let _ = tx.send(rest);
                    }
                    // Keep the reader thread's channel alive behind the new one.
                    let old = std::mem::replace(&mut self.source, InputSource::Live(new_rx));
                    if let InputSource::Live(old_rx) = old {
                        std::thread::spawn(move || {
                            for e in old_rx.iter() {
                                if tx.send(e).is_err() {
                                    return;
                                }
                            }
                        });
                    }
                    true
                }
                Err(_) => {
                    self.source = InputSource::None;
                    false
                }
            },
            InputSource::Replay(e) => !e.is_empty(),
            InputSource::None => false,
        }
    }

    /// True when input may still arrive from a live terminal at any moment.
    pub fn is_live(&self) -> bool {
        matches!(self.source, InputSource::Live(_))
    }
}

/// Puts the terminal in raw mode and restores it when dropped, and on SIGTERM/SIGHUP/SIGINT.
pub struct RawTerminal {
    saved: libc::termios,
}

static mut SAVED_TERMIOS: Option<libc::termios> = None;

extern "C" fn restore_and_exit(sig: libc::c_int) {
    // SAFETY: called as a signal handler; tcsetattr and _exit are async-signal-safe, and
    // SAVED_TERMIOS is written once before the handler is installed.
    unsafe {
        if let Some(t) = *std::ptr::addr_of!(SAVED_TERMIOS) {
            libc::tcsetattr(0, libc::TCSANOW, &t);
        }
        libc::_exit(128 + sig);
    }
}

impl RawTerminal {
    /// Enter raw mode if stdin is a terminal; `None` otherwise.
    pub fn enter() -> Option<RawTerminal> {
        // SAFETY: isatty/tcgetattr/tcsetattr on fd 0 with valid pointers; the static is written
        // before any handler that reads it is installed.
        unsafe {
            if libc::isatty(0) != 1 {
                return None;
            }
            let mut t: libc::termios = std::mem::zeroed();
            if libc::tcgetattr(0, &mut t) != 0 {
                return None;
            }
            let saved = t;
            *std::ptr::addr_of_mut!(SAVED_TERMIOS) = Some(saved);
            for sig in [libc::SIGTERM, libc::SIGHUP, libc::SIGINT, libc::SIGQUIT] {
                libc::signal(sig, restore_and_exit as *const () as libc::sighandler_t);
            }
            libc::cfmakeraw(&mut t);
            libc::tcsetattr(0, libc::TCSANOW, &t);
            Some(RawTerminal { saved })
        }
    }
}

impl Drop for RawTerminal {
    fn drop(&mut self) {
        // SAFETY: restoring the attributes read in `enter`.
        unsafe {
            libc::tcsetattr(0, libc::TCSANOW, &self.saved);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn record_then_replay_gives_the_same_events_at_the_same_times() {
        let dir = std::env::temp_dir().join(format!("armvex-input-{}", std::process::id()));
        let mut h = HostInput::none(1234);
        h.record_to(&dir).unwrap();
        // Simulate deliveries by writing through the recorder directly.
        let (tx, rx) = crossbeam_channel::unbounded();
        h.source = InputSource::Live(rx);
        tx.send(HostEvent::Console(b"ls\r".to_vec())).unwrap();
        assert_eq!(h.take(500).len(), 1);
        tx.send(HostEvent::Quit).unwrap();
        assert_eq!(h.take(900), vec![HostEvent::Quit]);
        drop(h);
        let mut r = HostInput::replay(&dir).unwrap();
        assert_eq!(r.start_time, 1234);
        assert_eq!(r.next_replay_time(), Some(500));
        assert!(r.take(499).is_empty());
        assert_eq!(r.take(500), vec![HostEvent::Console(b"ls\r".to_vec())]);
        assert_eq!(r.take(10_000), vec![HostEvent::Quit]);
        std::fs::remove_file(&dir).unwrap();
    }

    #[test]
    fn a_bad_recording_is_a_clear_error() {
        let p = std::env::temp_dir().join(format!("armvex-bad-{}", std::process::id()));
        std::fs::write(&p, "start-time 5\n12 console zz\n").unwrap();
        assert!(HostInput::replay(&p).err().unwrap().contains("line 2"));
        std::fs::remove_file(&p).unwrap();
    }
}
