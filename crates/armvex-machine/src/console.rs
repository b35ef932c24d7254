//! Host input: the one place where bytes from the outside world enter the machine.
//!
//! Determinism (DEVELOPERS.md, principle 2) needs every piece of host input to arrive at a
//! point of the guest's execution that can be reproduced. Console bytes are therefore never
//! handed to the guest when they arrive; a reader thread queues them ([`crossbeam_channel`]),
//! and the machine takes them between rounds, stamps them with the virtual time and the
//! machine's *position* (instructions retired by all CPUs), and delivers them to the UART
//! through [`armvex_bus::Bus::deliver_host_input`]. A debugger that changes the guest (writes
//! a register or memory) is host input too, applied at the exact position where the guest
//! stopped.
//!
//! Everything delivered goes into a *journal*. With `--record FILE` the journal is written out
//! (with the RTC start time, and a hash of the machine state every so often); with
//! `--replay FILE` it is read back and delivered at the same points, so a session replays
//! instruction for instruction. Reverse execution uses the same journal: after going back to a
//! checkpoint, the journal's cursor goes back too, and the input of that stretch of history is
//! delivered again exactly as the first time; new live input is taken only once the journal's
//! end is reached again.
//!
//! The interactive console behaves like QEMU's `-nographic`: the terminal is put in raw mode
//! (so Ctrl-C goes to the guest), Ctrl-A X quits, Ctrl-A Ctrl-A sends a Ctrl-A, and the
//! terminal is restored on every way out (normal exit, error, panic, SIGTERM/SIGHUP).

use crate::error::MachineError;
use crossbeam_channel::{Receiver, Sender, TryRecvError};
use std::io::{BufRead, Read, Write};
use std::path::Path;

/// Something from the host for the guest.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum HostEvent {
    /// Bytes typed on the console.
    Console(Vec<u8>),
    /// The user asked to quit (Ctrl-A X).
    Quit,
    /// A debugger changed the guest.
    Edit(DebuggerEdit),
    /// Bytes from the host backend named `id` for the device it feeds: one network frame
    /// (`--netdev ID`), console bytes (`--chardev ID`), host entropy (a virtio-rng's id).
    Device { id: String, data: Vec<u8> },
    /// A key of the host keyboard (a Linux input key code, `KEY_A` = 30) was pressed or
    /// released: for the board's PS/2 keyboard (KMI 0).
    Keyboard { code: u16, down: bool },
    /// The host mouse moved (x right, y up), turned its wheel, and holds these buttons (bit 0
    /// left, 1 right, 2 middle): for the board's PS/2 mouse (KMI 1).
    Mouse { dx: i16, dy: i16, dz: i8, buttons: u8 },
}

/// A change a debugger made to a stopped guest.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum DebuggerEdit {
    /// Bytes written at virtual address `addr` through CPU `cpu`'s translation.
    Memory { cpu: usize, addr: u32, data: Vec<u8> },
    /// Register `reg` of CPU `cpu` (gdb's numbering: 0–15 core, 16 CPSR, 17–48 D0–D31,
    /// 49 FPSCR) set to `value`.
    Register { cpu: usize, reg: usize, value: u64 },
}

/// One journal entry: an event and where it was delivered.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct JournalEntry {
    /// Virtual time (ns) of the delivery.
    pub time: u64,
    /// Instructions retired by all CPUs before it; `None` in recordings of the first format.
    pub position: Option<u64>,
    pub event: HostEvent,
}

/// What waiting for live input gave.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Wait {
    /// Input is ready to be taken at the next round start.
    Ready,
    /// Nothing came in time.
    TimedOut,
    /// No input can ever come.
    Closed,
}

/// Instructions between two state hashes in a recording, unless the environment variable
/// `ARMVEX_STATE_HASH_EVERY` says otherwise when it is made (the recording says how often it
/// was hashed, so its replay hashes at the same points).
pub const DEFAULT_HASH_EVERY: u64 = 1 << 30;

/// First line of a recording in the current format.
const RECORDING_HEADER: &str = "armvex-recording 2";

/// Host input: a journal of what was delivered, a live source for more, and a recorder.
pub struct HostInput {
    /// Live console input, read by a thread.
    live: Option<Receiver<HostEvent>>,
    /// Live input from host backends (networks, sockets, entropy), once one asked for it
    /// ([`HostInput::backend_sender`]).
    backends: Option<(Sender<HostEvent>, Receiver<HostEvent>)>,
    /// Input comes from a recording ([`HostInput::replay`]): backends get no live channel.
    replaying: bool,
    /// Everything delivered so far, and what a replayed recording will deliver.
    journal: Vec<JournalEntry>,
    /// The next journal entry to deliver.
    cursor: usize,
    /// Journal entries before this one are in the recording.
    recorded: usize,
    recorder: Option<Box<dyn Write>>,
    /// The recording's file name, for messages.
    recording: String,
    /// Live events received while waiting, not yet delivered.
    pending: Vec<HostEvent>,
    /// State hashes from a recording (position, hash), and those to write.
    hashes: Vec<(u64, u64)>,
    /// Instructions between state hashes.
    hash_every: u64,
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
            live: Some(rx),
            ..HostInput::none(start_time)
        }
    }

    /// No input at all.
    pub fn none(start_time: u64) -> HostInput {
        HostInput {
            live: None,
            backends: None,
            replaying: false,
            journal: Vec::new(),
            cursor: 0,
            recorded: 0,
            recorder: None,
            recording: String::new(),
            pending: Vec::new(),
            hashes: Vec::new(),
            hash_every: DEFAULT_HASH_EVERY,
            start_time,
        }
    }

    /// Input from a channel (tests, and tools that feed the console).
    pub fn from_channel(start_time: u64, rx: Receiver<HostEvent>) -> HostInput {
        HostInput {
            live: Some(rx),
            ..HostInput::none(start_time)
        }
    }

    /// This input with `journal` to deliver first (a snapshot's journal, whose cursor the
    /// machine's saved state gives), and `hashes` to check; its own source (a live console)
    /// takes over once the journal is used up.
    pub fn with_journal(mut self, journal: Vec<JournalEntry>, hashes: Vec<(u64, u64)>) -> HostInput {
        self.recorded = journal.len();
        self.journal = journal;
        self.hashes = hashes;
        self.cursor = 0;
        self
    }

    /// The state hashes recorded or read so far (position, hash).
    pub fn state_hashes(&self) -> &[(u64, u64)] {
        &self.hashes
    }

    /// Replay a recording made with [`HostInput::record_to`].
    pub fn replay(path: &Path) -> Result<HostInput, MachineError> {
        let shown = path.display();
        crate::files::check(path, "input recording", 4 << 30)?;
        let f = std::fs::File::open(path).map_err(|e| format!("cannot read input recording {shown}: {e}"))?;
        let mut start_time = None;
        let mut input = HostInput::none(0);
        for (n, line) in std::io::BufReader::new(f).lines().enumerate() {
            let line = line.map_err(|e| format!("cannot read input recording {shown}: {e}"))?;
            let bad = || format!("input recording {shown}, line {}: not understood", n + 1);
            let words: Vec<&str> = line.split_whitespace().collect();
            let num = |s: &str| s.parse::<u64>().map_err(|_| bad());
            let hex = |s: &str| u64::from_str_radix(s.trim_start_matches("0x"), 16).map_err(|_| bad());
            let bytes = |s: &str| {
                (0..s.len())
                    .step_by(2)
                    .map(|i| s.get(i..i + 2).and_then(|h| u8::from_str_radix(h, 16).ok()))
                    .collect::<Option<Vec<u8>>>()
                    .ok_or_else(bad)
            };
            let mut entry = |time: u64, position: Option<u64>, event: HostEvent| {
                input.journal.push(JournalEntry { time, position, event });
            };
            match words.as_slice() {
                [] => {}
                ["armvex-recording", "2"] => {}
                ["armvex-recording", v] => {
                    return Err(
                        format!("input recording {shown} is of format {v}; this armvex reads formats 1 and 2").into(),
                    );
                }
                ["start-time", t] => start_time = Some(num(t)?),
                ["state-hash-every", n] => input.hash_every = num(n)?.max(1),
                [pos, "state-hash", h] => input.hashes.push((num(pos)?, hex(h)?)),
                // Format 1: time and event.
                [t, "quit"] => entry(num(t)?, None, HostEvent::Quit),
                [t, "console", h] => entry(num(t)?, None, HostEvent::Console(bytes(h)?)),
                // Format 2: time, position and event.
                [t, p, "quit"] => entry(num(t)?, Some(num(p)?), HostEvent::Quit),
                [t, p, "console", h] => entry(num(t)?, Some(num(p)?), HostEvent::Console(bytes(h)?)),
                // An empty console event (written by earlier builds on Ctrl-A X): nothing to deliver.
                [_, _, "console"] | [_, "console"] => {}
                [t, p, "device", id, h] => entry(
                    num(t)?,
                    Some(num(p)?),
                    HostEvent::Device {
                        id: id.to_string(),
                        data: bytes(h)?,
                    },
                ),
                [t, p, "write-memory", cpu, addr, data] => entry(
                    num(t)?,
                    Some(num(p)?),
                    HostEvent::Edit(DebuggerEdit::Memory {
                        cpu: num(cpu)? as usize,
                        addr: u32::try_from(hex(addr)?).map_err(|_| bad())?,
                        data: bytes(data)?,
                    }),
                ),
                [t, p, "key", code, state @ ("down" | "up")] => entry(
                    num(t)?,
                    Some(num(p)?),
                    HostEvent::Keyboard {
                        code: u16::try_from(num(code)?).map_err(|_| bad())?,
                        down: *state == "down",
                    },
                ),
                [t, p, "mouse", dx, dy, dz, buttons] => {
                    let signed = |v: &str| v.parse::<i64>().map_err(|_| bad());
                    entry(
                        num(t)?,
                        Some(num(p)?),
                        HostEvent::Mouse {
                            dx: i16::try_from(signed(dx)?).map_err(|_| bad())?,
                            dy: i16::try_from(signed(dy)?).map_err(|_| bad())?,
                            dz: i8::try_from(signed(dz)?).map_err(|_| bad())?,
                            buttons: u8::try_from(num(buttons)?).map_err(|_| bad())?,
                        },
                    )
                }
                [t, p, "write-register", cpu, reg, value] => entry(
                    num(t)?,
                    Some(num(p)?),
                    HostEvent::Edit(DebuggerEdit::Register {
                        cpu: num(cpu)? as usize,
                        reg: num(reg)? as usize,
                        value: hex(value)?,
                    }),
                ),
                _ => return Err(bad().into()),
            }
        }
        input.start_time = start_time.ok_or_else(|| format!("input recording {shown} has no start-time line"))?;
        input.recorded = input.journal.len();
        input.replaying = true;
        Ok(input)
    }

    /// Also write every delivered event to `path` (and the state hashes the machine reports).
    pub fn record_to(&mut self, path: &Path) -> Result<(), MachineError> {
        let mut f = std::fs::File::create(path)
            .map_err(|e| format!("cannot create input recording {}: {e}", path.display()))?;
        if let Some(n) = std::env::var("ARMVEX_STATE_HASH_EVERY")
            .ok()
            .and_then(|v| v.parse::<u64>().ok())
        {
            self.hash_every = n.max(1);
        }
        writeln!(
            f,
            "{RECORDING_HEADER}\nstart-time {}\nstate-hash-every {}",
            self.start_time, self.hash_every
        )
        .and_then(|_| f.flush())
        .map_err(|e| format!("cannot write the input recording {}: {e}", path.display()))?;
        self.recorder = Some(Box::new(f));
        self.recording = path.display().to_string();
        self.recorded = self.cursor;
        Ok(())
    }

    /// Console and quit events due at virtual time `now` (called at the start of a round, when
    /// `position` instructions have retired): from the journal when replaying it, else live.
    /// A debugger edit next in the journal holds back what follows it until it is applied
    /// ([`HostInput::next_edit`]). Fails only if the recording cannot be written.
    pub fn take(&mut self, now: u64, position: u64) -> Result<Vec<HostEvent>, MachineError> {
        let mut out = Vec::new();
        while let Some(e) = self.journal.get(self.cursor) {
            if e.time > now || matches!(e.event, HostEvent::Edit(_)) {
                return Ok(out);
            }
            out.push(e.event.clone());
            self.cursor += 1;
        }
        let mut fresh = std::mem::take(&mut self.pending);
        if let Some(rx) = &self.live {
            loop {
                match rx.try_recv() {
                    Ok(event) => fresh.push(event),
                    Err(TryRecvError::Empty) => break,
                    Err(TryRecvError::Disconnected) => {
                        self.live = None;
                        break;
                    }
                }
            }
        }
        if let Some((_, rx)) = &self.backends {
            fresh.extend(rx.try_iter());
        }
        for event in fresh {
            if matches!(&event, HostEvent::Console(b) if b.is_empty()) {
                continue;
            }
            out.push(event.clone());
            self.journal.push(JournalEntry {
                time: now,
                position: Some(position),
                event,
            });
            self.cursor += 1;
        }
        self.write_recording()?;
        Ok(out)
    }

    /// Input from a host source inside armvex (the inspector page's keyboard): taken at the
    /// next round start, journaled and recorded exactly like console bytes. Ignored while a
    /// recording is replayed (the recording brings its own input).
    pub fn push_live(&mut self, event: HostEvent) {
        if !self.replaying {
            self.pending.push(event);
        }
    }

    /// The user asked to quit (Ctrl-A X) and it is waiting to be taken: a paused inspector
    /// lets the machine run on to the next round start, where the quit is taken (and journaled).
    pub fn quit_waiting(&mut self) -> bool {
        self.wait_timeout(std::time::Duration::ZERO) == Wait::Ready
            && self.pending.iter().any(|e| matches!(e, HostEvent::Quit))
    }

    /// The next journal entry if it is a debugger edit: its position and the edit.
    pub fn next_edit(&self) -> Option<(u64, &DebuggerEdit)> {
        match self.journal.get(self.cursor) {
            Some(JournalEntry {
                position: Some(p),
                event: HostEvent::Edit(e),
                ..
            }) => Some((*p, e)),
            _ => None,
        }
    }

    /// The debugger edit [`HostInput::next_edit`] named has been applied.
    pub fn edit_applied(&mut self) {
        self.cursor += 1;
    }

    /// A debugger changes the guest now (at virtual time `now`, `position`): journal it. If
    /// the journal held input further on (the guest had been here before and gone further),
    /// that future is dropped: history now takes another course.
    pub fn push_edit(&mut self, now: u64, position: u64, edit: DebuggerEdit) -> Result<(), MachineError> {
        self.journal.truncate(self.cursor);
        self.recorded = self.recorded.min(self.cursor);
        self.journal.push(JournalEntry {
            time: now,
            position: Some(position),
            event: HostEvent::Edit(edit),
        });
        self.cursor += 1;
        Ok(self.write_recording()?)
    }

    /// Write journal entries not yet in the recording (recording stays in order: entries are
    /// written when first delivered). A recording that cannot be written (a full disk) stops
    /// the run: a silently truncated recording would replay wrong.
    fn write_recording(&mut self) -> Result<(), String> {
        let Some(rec) = self.recorder.as_mut() else {
            self.recorded = self.recorded.max(self.cursor);
            return Ok(());
        };
        let failed = |e: std::io::Error| format!("cannot write the input recording {}: {e}", self.recording);
        while self.recorded < self.cursor {
            let e = &self.journal[self.recorded];
            let p = e.position.unwrap_or(0);
            let t = e.time;
            let hex = |b: &[u8]| b.iter().map(|x| format!("{x:02x}")).collect::<String>();
            match &e.event {
                HostEvent::Console(b) => writeln!(rec, "{t} {p} console {}", hex(b)),
                HostEvent::Quit => writeln!(rec, "{t} {p} quit"),
                HostEvent::Device { id, data } => writeln!(rec, "{t} {p} device {id} {}", hex(data)),
                HostEvent::Edit(DebuggerEdit::Memory { cpu, addr, data }) => {
                    writeln!(rec, "{t} {p} write-memory {cpu} {addr:#x} {}", hex(data))
                }
                HostEvent::Edit(DebuggerEdit::Register { cpu, reg, value }) => {
                    writeln!(rec, "{t} {p} write-register {cpu} {reg} {value:#x}")
                }
                HostEvent::Keyboard { code, down } => {
                    writeln!(rec, "{t} {p} key {code} {}", if *down { "down" } else { "up" })
                }
                HostEvent::Mouse { dx, dy, dz, buttons } => writeln!(rec, "{t} {p} mouse {dx} {dy} {dz} {buttons}"),
            }
            .map_err(failed)?;
            self.recorded += 1;
        }
        rec.flush().map_err(failed)
    }

    /// Where the journal stands (saved with the machine state).
    pub fn cursor(&self) -> usize {
        self.cursor
    }

    /// Go back to a journal position saved with a machine state (reverse execution).
    pub fn set_cursor(&mut self, cursor: usize) {
        self.cursor = cursor.min(self.journal.len());
    }

    /// The journal (for snapshots, which carry the input a replay still has to deliver).
    pub fn journal(&self) -> &[JournalEntry] {
        &self.journal
    }

    /// The virtual time of the next journal entry still to deliver (so an idle machine can
    /// jump to it).
    pub fn next_replay_time(&self) -> Option<u64> {
        self.journal.get(self.cursor).map(|e| e.time)
    }

    /// Wait at most `timeout` for live input (the machine is idle with nothing scheduled, or
    /// paced by its host backends: [`HostInput::paces_idle`]; it asks its debugger between
    /// waits). Empty console bytes (what the console sends before a quit) are not input.
    pub fn wait_timeout(&mut self, timeout: std::time::Duration) -> Wait {
        if self.cursor < self.journal.len() || !self.pending.is_empty() {
            return Wait::Ready;
        }
        let deadline = std::time::Instant::now() + timeout;
        loop {
            let mut select = crossbeam_channel::Select::new();
            let live = self.live.as_ref().map(|rx| select.recv(rx));
            let backends = self.backends.as_ref().map(|(_, rx)| select.recv(rx));
            if live.is_none() && backends.is_none() {
                return Wait::Closed;
            }
            let Ok(op) = select.select_deadline(deadline) else {
                return Wait::TimedOut;
            };
            let index = op.index();
            let received = if Some(index) == live {
                self.live.as_ref().map(|rx| op.recv(rx))
            } else {
                self.backends.as_ref().map(|(_, rx)| op.recv(rx))
            };
            match received {
                Some(Ok(HostEvent::Console(bytes))) if bytes.is_empty() => {}
                Some(Ok(event)) => {
                    self.pending.push(event);
                    return Wait::Ready;
                }
                // Only the console's channel can close (this input holds a backend sender).
                Some(Err(_)) | None => self.live = None,
            }
        }
    }

    /// A channel for host backends (a network, a socket, an entropy source) to send their
    /// input through, [`HostEvent::Device`] events taken like console bytes at round starts.
    /// `None` when input is replayed from a recording: the recording brings what the backends
    /// sent, and they must send nothing new.
    pub fn backend_sender(&mut self) -> Option<Sender<HostEvent>> {
        if self.replaying {
            return None;
        }
        Some(self.backends.get_or_insert_with(crossbeam_channel::unbounded).0.clone())
    }

    /// True when live host backends may send input at any moment, and an idle machine
    /// should therefore let virtual time pass no faster than the host's (see
    /// `Machine::end_round`): a guest waiting for a network answer must not see its timeouts
    /// expire in no host time at all. False while a journal is being replayed.
    pub fn paces_idle(&self) -> bool {
        self.backends.is_some() && self.cursor >= self.journal.len()
    }

    /// True when input may still arrive from a live source at any moment.
    pub fn is_live(&self) -> bool {
        self.live.is_some()
    }

    /// Record the machine's state hash at `position` (with `--record`), or check it against
    /// the recording being replayed. Returns an error naming the first position where a replay
    /// differs from its recording.
    pub fn state_hash(&mut self, position: u64, hash: u64) -> Result<(), MachineError> {
        if let Some(&(_, want)) = self.hashes.iter().find(|(p, _)| *p == position) {
            // A state hashed before (a recording being replayed, or history gone over again).
            if want != hash {
                let since = self
                    .hashes
                    .iter()
                    .map(|(p, _)| *p)
                    .filter(|p| *p < position)
                    .max()
                    .unwrap_or(0);
                return Err(format!(
                    "the replay diverged from its recording between instructions {since} and {position} (machine state hash {hash:016x}, recorded {want:016x})"
                ).into());
            }
            return Ok(());
        }
        if let Some(rec) = self.recorder.as_mut() {
            writeln!(rec, "{position} state-hash {hash:016x}")
                .and_then(|_| rec.flush())
                .map_err(|e| format!("cannot write the input recording {}: {e}", self.recording))?;
            self.hashes.push((position, hash));
        }
        Ok(())
    }

    /// True if the machine should hash its state now and then (recording, or replaying a
    /// recording that has hashes).
    pub fn wants_state_hashes(&self) -> bool {
        self.recorder.is_some() || !self.hashes.is_empty()
    }

    /// Instructions between state hashes.
    pub fn hash_every(&self) -> u64 {
        self.hash_every
    }
}

/// Puts the terminal in raw mode and restores it when dropped, and on SIGTERM/SIGHUP/SIGINT.
pub struct RawTerminal {
    saved: libc::termios,
}

static mut SAVED_TERMIOS: Option<libc::termios> = None;

/// The signal that asked armvex to stop (0: none yet).
static TERMINATION: std::sync::atomic::AtomicI32 = std::sync::atomic::AtomicI32::new(0);

/// SIGTERM, SIGHUP, SIGINT or SIGQUIT: the first asks the run loop to stop cleanly (it looks
/// between rounds, about every millisecond: console output is flushed, the terminal restored,
/// the disks synced); a second one, or one while armvex is not running the guest, restores the
/// terminal and exits at once.
extern "C" fn on_termination(sig: libc::c_int) {
    use std::sync::atomic::Ordering;
    if TERMINATION.swap(sig, Ordering::SeqCst) == 0 {
        return;
    }
    // SAFETY: called as a signal handler; tcsetattr and _exit are async-signal-safe, and
    // SAVED_TERMIOS is written once before the handler can see it set.
    unsafe {
        if let Some(t) = *std::ptr::addr_of!(SAVED_TERMIOS) {
            libc::tcsetattr(0, libc::TCSANOW, &t);
        }
        libc::_exit(128 + sig);
    }
}

/// Let SIGTERM, SIGHUP, SIGINT and SIGQUIT stop the run cleanly (see `on_termination`).
pub fn handle_termination_signals() {
    for sig in [libc::SIGTERM, libc::SIGHUP, libc::SIGINT, libc::SIGQUIT] {
        // SAFETY: installing a handler that only does async-signal-safe work.
        unsafe {
            libc::signal(sig, on_termination as *const () as libc::sighandler_t);
        }
    }
}

/// The signal that asked armvex to stop, if one did.
pub fn termination_requested() -> Option<i32> {
    match TERMINATION.load(std::sync::atomic::Ordering::SeqCst) {
        0 => None,
        sig => Some(sig),
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
            handle_termination_signals();
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
        let path = std::env::temp_dir().join(format!("armvex-input-{}", std::process::id()));
        let (tx, rx) = crossbeam_channel::unbounded();
        let mut h = HostInput::from_channel(1234, rx);
        h.record_to(&path).unwrap();
        tx.send(HostEvent::Console(b"ls\r".to_vec())).unwrap();
        assert_eq!(h.take(500, 7).unwrap(), vec![HostEvent::Console(b"ls\r".to_vec())]);
        h.push_edit(
            600,
            9,
            DebuggerEdit::Register {
                cpu: 1,
                reg: 16,
                value: 0x6000_01d3,
            },
        )
        .unwrap();
        tx.send(HostEvent::Quit).unwrap();
        assert_eq!(h.take(900, 20).unwrap(), vec![HostEvent::Quit]);
        h.state_hash(1000, 0xabcd).unwrap();
        drop(h);
        let mut r = HostInput::replay(&path).unwrap();
        assert_eq!(r.start_time, 1234);
        assert_eq!(r.next_replay_time(), Some(500));
        assert!(r.take(499, 0).unwrap().is_empty());
        assert_eq!(r.take(500, 7).unwrap(), vec![HostEvent::Console(b"ls\r".to_vec())]);
        assert!(
            r.take(10_000, 8).unwrap().is_empty(),
            "the edit holds back what follows"
        );
        assert_eq!(
            r.next_edit(),
            Some((
                9,
                &DebuggerEdit::Register {
                    cpu: 1,
                    reg: 16,
                    value: 0x6000_01d3
                }
            ))
        );
        r.edit_applied();
        assert_eq!(r.take(10_000, 20).unwrap(), vec![HostEvent::Quit]);
        assert!(r.state_hash(1000, 0xabcd).is_ok());
        let e = r.state_hash(1000, 0xabce).unwrap_err();
        assert!(e.to_string().contains("between instructions 0 and 1000"), "{e}");
        std::fs::remove_file(&path).unwrap();
    }

    #[test]
    fn going_back_replays_the_journal_then_takes_live_input() {
        let (tx, rx) = crossbeam_channel::unbounded();
        let mut h = HostInput::from_channel(0, rx);
        tx.send(HostEvent::Console(b"a".to_vec())).unwrap();
        assert_eq!(h.take(100, 100).unwrap().len(), 1);
        let mark = h.cursor();
        tx.send(HostEvent::Console(b"b".to_vec())).unwrap();
        assert_eq!(h.take(200, 200).unwrap(), vec![HostEvent::Console(b"b".to_vec())]);
        h.set_cursor(mark);
        tx.send(HostEvent::Console(b"c".to_vec())).unwrap();
        assert!(
            h.take(150, 150).unwrap().is_empty(),
            "b was delivered at 200, not before"
        );
        assert_eq!(
            h.take(200, 200).unwrap(),
            vec![HostEvent::Console(b"b".to_vec()), HostEvent::Console(b"c".to_vec())]
        );
    }

    #[test]
    fn recordings_of_the_first_format_still_replay() {
        let p = std::env::temp_dir().join(format!("armvex-v1-{}", std::process::id()));
        std::fs::write(&p, "start-time 5\n12 console 6c73\n40 quit\n").unwrap();
        let mut r = HostInput::replay(&p).unwrap();
        assert_eq!(r.take(12, 0).unwrap(), vec![HostEvent::Console(b"ls".to_vec())]);
        assert_eq!(r.take(40, 0).unwrap(), vec![HostEvent::Quit]);
        std::fs::write(&p, "armvex-recording 3\nstart-time 5\n").unwrap();
        assert!(HostInput::replay(&p).err().unwrap().to_string().contains("format 3"));
        std::fs::remove_file(&p).unwrap();
    }

    #[test]
    fn a_bad_recording_is_a_clear_error() {
        let p = std::env::temp_dir().join(format!("armvex-bad-{}", std::process::id()));
        std::fs::write(&p, "start-time 5\n12 console zz\n").unwrap();
        assert!(HostInput::replay(&p).err().unwrap().to_string().contains("line 2"));
        std::fs::remove_file(&p).unwrap();
    }
}
