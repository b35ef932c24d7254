//! The run loop: rounds of CPU turns, and stops exactly where a debugger asks.
//!
//! Time advances in *rounds*. A round starts by delivering host input due at its virtual time
//! and choosing its *quantum* (at most `QUANTUM` instructions, never past the next
//! device deadline); then each CPU, in index order, takes a *turn* of that many instructions
//! unless it waits (WFI/WFE) with nothing to wake it; then the round ends: requests from
//! devices (power-off, reboot) are acted on, and time moves on by the quantum, firing the
//! timers due. When every CPU waits, time jumps to the next deadline instead.
//!
//! ```text
//!   round start ──► CPU 0's turn ──► CPU 1's turn ──► … ──► round end ──┐
//!   (input, quantum)   (≤ quantum instructions each)     (requests, time) │
//!        ▲────────────────────────────────────────────────────────────────┘
//! ```
//!
//! ## Stopping anywhere
//!
//! [`Machine::run_until`] can stop in the middle of any of this: at a breakpoint, at a
//! watchpoint, when the machine's *position* (instructions retired by all CPUs) reaches a
//! number, when one CPU has retired a number of instructions, or when the host asks. Where the
//! loop is — which round, whose turn, how far into it — is kept in [`RoundState`], part of the
//! machine's saved state, and the CPU itself remembers a block it was stopped in (see
//! `armvex_cpu::debug`). So a run that stops and goes on does exactly what a run that never
//! stopped does.
//!
//! Every stop is *before an instruction*: when a position is reached, the loop goes on with
//! whatever the machine does before the next instruction (the end of a round, an interrupt
//! entry) and stops just before that instruction executes. One position is therefore always
//! one state — what reverse execution relies on: "go back one instruction" is "run a copy of
//! the past to the position before".

use crate::console::{DebuggerEdit, HostEvent};
use crate::error::MachineError;
use crate::{CpuActivity, Machine, RunEnd};
use armvex_bus::MachineRequest;
use armvex_cpu::{DebugStop, Exit, WatchHit};
use armvex_semihosting::Outcome;
use serde::{Deserialize, Serialize};
use std::time::{Duration, Instant};

/// Where the run loop is inside a round.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct RoundState {
    /// A round is under way (between its start and its end).
    pub active: bool,
    /// Virtual time at the round's start.
    pub start: u64,
    /// Instructions each CPU may run in this round.
    pub quantum: u64,
    /// The earliest device or CPU-timer deadline at the round's start.
    pub deadline: Option<u64>,
    /// The CPU whose turn is under way or next.
    pub cpu: usize,
    /// That CPU's turn has begun.
    pub turn_started: bool,
    /// That CPU's instruction count when its turn began.
    pub turn_start: u64,
    /// Some CPU has run in this round.
    pub anyone_ran: bool,
}

/// Why [`Machine::run_until`] returned. The machine is stopped just before an instruction (or
/// between rounds, for [`Stop::Interrupted`] while every CPU waits).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Stop {
    /// The guest ended; nothing more will run.
    Ended(RunEnd),
    /// CPU `cpu`'s next instruction is at a breakpoint.
    Breakpoint { cpu: usize },
    /// CPU `cpu`'s next instruction was about to touch a watchpoint (it has not run).
    Watchpoint { cpu: usize, hit: WatchHit },
    /// The goal's position, or its CPU's instruction count, was reached.
    Reached,
    /// The host asked to stop (gdb's Ctrl-C).
    Interrupted,
    /// The position reached [`RunGoal::checkpoint_at`] (stopped before the next instruction).
    CheckpointDue,
}

/// Where [`Machine::run_until`] should stop, besides breakpoints and watchpoints.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct RunGoal {
    /// Stop when the machine's position reaches this.
    pub position: Option<u64>,
    /// Stop when CPU `.0` has retired `.1` instructions in all.
    pub cpu_instructions: Option<(usize, u64)>,
    /// Return [`Stop::CheckpointDue`] when the position reaches this (before the goal).
    pub checkpoint_at: Option<u64>,
}

/// A stop the loop has decided on, taken just before the next instruction.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Pending {
    /// Return this to the caller.
    Report(Stop),
    /// Apply the debugger edit the journal holds for this position, then go on.
    Edit,
    /// Hash the machine's state for the recording (or check it against it), then go on.
    Hash,
}

impl Machine {
    /// Run until the guest ends: a plain run, without a debugger. `--max-instructions` stops it
    /// exactly there.
    pub fn run(&mut self) -> Result<RunEnd, MachineError> {
        self.run_with_stops(&[], &mut |_, _| Ok(()))
    }

    /// [`Machine::run`], stopping at each of `positions` (in increasing order) to call `at`
    /// with the machine stopped there, before the next instruction (`--snapshot-at`).
    pub fn run_with_stops(
        &mut self,
        positions: &[u64],
        at: &mut dyn FnMut(&mut Machine, u64) -> Result<(), String>,
    ) -> Result<RunEnd, MachineError> {
        let started = Instant::now();
        let here = self.position();
        let mut stops = positions.iter().copied().filter(|p| *p >= here).peekable();
        let result = loop {
            // The instruction limit is run_until's own: reaching it ends the run.
            let next = stops.peek().copied();
            let goal = RunGoal {
                position: next,
                ..RunGoal::default()
            };
            match self.run_until(&goal, &mut || false) {
                Ok(Stop::Ended(RunEnd::InstructionLimit)) if next == Some(self.position()) => {
                    // A stop at the limit itself comes before the end.
                    break at(self, self.position()).map(|()| RunEnd::InstructionLimit);
                }
                Ok(Stop::Ended(end)) => break Ok(end),
                Ok(Stop::Reached) if next == Some(self.position()) => {
                    stops.next();
                    if let Err(e) = at(self, self.position()) {
                        break Err(e);
                    }
                }
                Ok(_) => continue,
                Err(e) => break Err(e.into()),
            }
        };
        self.stats.host_seconds += started.elapsed().as_secs_f64();
        self.flush_output();
        Ok(result?)
    }

    /// Flush console output (the UART's and semihosting's).
    pub fn flush_output(&mut self) {
        if let Some(sh) = self.semihosting.as_mut() {
            sh.flush();
        }
        use std::io::Write;
        let _ = self.console.flush();
    }

    /// Run until `goal`, a breakpoint, a watchpoint, the end of the guest, or until
    /// `interrupt` (asked between rounds, about every millisecond of host time) returns true.
    pub fn run_until(&mut self, goal: &RunGoal, interrupt: &mut dyn FnMut() -> bool) -> Result<Stop, MachineError> {
        if let Some(end) = self.ended {
            return Ok(Stop::Ended(end));
        }
        // `--max-instructions` ends the guest there, whoever runs it (under gdb too): reaching
        // the limit is the guest's end, even when the caller's goal is that same position.
        if let Some(limit) = self.max_instructions {
            if self.position() >= limit {
                self.ended = Some(RunEnd::InstructionLimit);
                return Ok(Stop::Ended(RunEnd::InstructionLimit));
            }
            if goal.position.is_none_or(|p| p >= limit) {
                let capped = RunGoal {
                    position: Some(limit),
                    ..*goal
                };
                return match self.run_until_goal(&capped, interrupt)? {
                    Stop::Reached if self.position() >= limit => {
                        self.ended = Some(RunEnd::InstructionLimit);
                        Ok(Stop::Ended(RunEnd::InstructionLimit))
                    }
                    stop => Ok(stop),
                };
            }
        }
        Ok(self.run_until_goal(goal, interrupt)?)
    }

    /// [`Machine::run_until`] without the instruction limit.
    fn run_until_goal(&mut self, goal: &RunGoal, interrupt: &mut dyn FnMut() -> bool) -> Result<Stop, String> {
        // A CPU goal already met: stop before the next instruction, whoever runs it.
        let mut pending: Option<Pending> = goal
            .cpu_instructions
            .filter(|(cpu, n)| self.cpus.get(*cpu).is_some_and(|c| c.instructions() >= *n))
            .map(|_| Pending::Report(Stop::Reached));
        loop {
            if !self.round.active {
                if let Some(end) = self.start_round()? {
                    self.ended = Some(end);
                    return Ok(Stop::Ended(end));
                }
            }
            while self.round.cpu < self.cpus.len() {
                let i = self.round.cpu;
                if !self.round.turn_started {
                    if !self.wake_for_turn(i) {
                        self.round.cpu += 1;
                        continue;
                    }
                    self.round.turn_started = true;
                    self.round.anyone_ran = true;
                    self.round.turn_start = self.cpus[i].instructions();
                }
                if let Some(stop) = self.run_turn(i, goal, &mut pending)? {
                    if let Stop::Ended(end) = stop {
                        self.ended = Some(end);
                    }
                    return Ok(stop);
                }
                self.round.turn_started = false;
                self.round.cpu += 1;
            }
            match self.end_round(interrupt)? {
                Some(Stop::Ended(end)) => {
                    self.ended = Some(end);
                    return Ok(Stop::Ended(end));
                }
                Some(stop) => return Ok(stop),
                None => {}
            }
            if let Some(sig) = crate::console::termination_requested() {
                self.flush_output();
                return Ok(Stop::Ended(RunEnd::Signal(sig)));
            }
            if pending.is_none() && interrupt() {
                pending = Some(Pending::Report(Stop::Interrupted));
            }
        }
    }

    /// Start a round: deliver host input due now and choose the quantum. Returns the end of
    /// the guest if the user quit.
    fn start_round(&mut self) -> Result<Option<RunEnd>, String> {
        let now = self.bus.clock.now();
        let position = self.position();
        for event in self.input.take(now, position)? {
            match event {
                HostEvent::Console(bytes) => {
                    if let Some(uart) = self.console_uart {
                        self.bus.deliver_host_input(uart, &bytes);
                    }
                }
                HostEvent::Device { id, data } => {
                    if let Some((_, device)) = self.input_routes.iter().find(|(route, _)| *route == id) {
                        self.bus.deliver_host_input(*device, &data);
                    }
                }
                HostEvent::Keyboard { code, down } => {
                    if let Some(kmi) = self.keyboard {
                        let input = armvex_devices::KmiInput::Key { code, down };
                        self.bus.deliver_host_input(kmi, &input.to_bytes());
                    }
                }
                HostEvent::Mouse { dx, dy, dz, buttons } => {
                    if let Some(kmi) = self.mouse {
                        let input = armvex_devices::KmiInput::Mouse { dx, dy, dz, buttons };
                        self.bus.deliver_host_input(kmi, &input.to_bytes());
                    }
                }
                HostEvent::Quit => return Ok(Some(RunEnd::Quit)),
                HostEvent::Edit(_) => unreachable!("edits are applied at their position"),
            }
        }
        let deadline = self.next_deadline(now);
        self.round = crate::run::RoundState {
            active: true,
            start: now,
            quantum: deadline.map_or(crate::QUANTUM, |d| d.saturating_sub(now).clamp(1, crate::QUANTUM)),
            deadline,
            cpu: 0,
            turn_started: false,
            turn_start: 0,
            anyone_ran: false,
        };
        Ok(None)
    }

    /// Whether CPU `i` takes a turn in this round (waking it from WFI/WFE if it can).
    fn wake_for_turn(&mut self, i: usize) -> bool {
        match self.states[i] {
            CpuActivity::Running => true,
            CpuActivity::WaitingForInterrupt if self.wake_pending(i) => {
                self.states[i] = CpuActivity::Running;
                true
            }
            CpuActivity::WaitingForEvent if self.wake_pending(i) || self.cpus[i].take_event() => {
                self.states[i] = CpuActivity::Running;
                true
            }
            _ => {
                self.idle_ns[i] += self.round.quantum;
                false
            }
        }
    }

    /// Go on with CPU `i`'s turn. `None` when the turn is over; a stop otherwise.
    fn run_turn(&mut self, i: usize, goal: &RunGoal, pending: &mut Option<Pending>) -> Result<Option<Stop>, String> {
        let quantum = self.round.quantum;
        loop {
            let done = self.cpus[i].instructions() - self.round.turn_start;
            if done >= quantum {
                return Ok(None);
            }
            let now = self.round.start + done;
            // How far this CPU may go before a stop the loop must take. At one position, a
            // checkpoint comes first, then a journaled debugger edit, then the goal.
            let mut limit = u64::MAX;
            if pending.is_none() {
                let position = self.position();
                let edit = self.input.next_edit().map(|(p, _)| p);
                let hash = self.input.wants_state_hashes().then_some(self.next_hash_at);
                let reached = |target: Option<u64>| target.is_some_and(|t| position >= t);
                let count = self.cpus[i].instructions();
                let cpu_goal = goal.cpu_instructions.filter(|(cpu, _)| *cpu == i).map(|(_, n)| n);
                *pending = if reached(goal.checkpoint_at) {
                    Some(Pending::Report(Stop::CheckpointDue))
                } else if reached(hash) {
                    Some(Pending::Hash)
                } else if reached(edit) {
                    Some(Pending::Edit)
                } else if reached(goal.position) || cpu_goal.is_some_and(|n| count >= n) {
                    Some(Pending::Report(Stop::Reached))
                } else {
                    for target in [goal.checkpoint_at, hash, edit, goal.position].into_iter().flatten() {
                        limit = limit.min(target - position);
                    }
                    if let Some(n) = cpu_goal {
                        limit = limit.min(n - count);
                    }
                    None
                };
            }
            self.debug.limit = limit;
            self.debug.stop_before_next = pending.is_some();
            let exit = self.cpus[i].run_with(&mut self.bus, &mut self.code, quantum - done, now, &self.debug);
            if self.cpus[i].take_sent_event() {
                for (j, other) in self.cpus.iter_mut().enumerate() {
                    if j != i {
                        other.signal_event();
                    }
                }
            }
            match exit {
                Exit::Budget => return Ok(None),
                Exit::Semihosting => {
                    let t = now + (self.cpus[i].instructions() - self.round.turn_start - done);
                    let Some(sh) = self.semihosting.as_mut() else {
                        return Err("semihosting call without --semihosting".into());
                    };
                    if let Outcome::Exit(status) = sh.handle(&mut self.cpus[i], &mut self.bus, t) {
                        return Ok(Some(Stop::Ended(RunEnd::Exit(status))));
                    }
                }
                Exit::WaitForInterrupt => {
                    if !self.wake_pending(i) {
                        self.states[i] = CpuActivity::WaitingForInterrupt;
                        return Ok(None);
                    }
                }
                Exit::WaitForEvent => {
                    if !self.wake_pending(i) {
                        self.states[i] = CpuActivity::WaitingForEvent;
                        return Ok(None);
                    }
                }
                // A limit was reached: the top of the loop finds which.
                Exit::Debug(DebugStop::Limit) => {}
                Exit::Debug(DebugStop::Requested) => match pending.take() {
                    Some(Pending::Report(stop)) => return Ok(Some(stop)),
                    Some(Pending::Edit) => self.apply_journaled_edit()?,
                    Some(Pending::Hash) => self.hash_for_recording()?,
                    None => unreachable!("a stop is requested only when one is pending"),
                },
                Exit::Debug(DebugStop::Breakpoint) => return Ok(Some(Stop::Breakpoint { cpu: i })),
                Exit::Debug(DebugStop::Watchpoint(hit)) => return Ok(Some(Stop::Watchpoint { cpu: i, hit })),
            }
        }
    }

    /// End the round: act on device requests, then move time on (or, when every CPU waits,
    /// jump to the next deadline, or wait for live input).
    fn end_round(&mut self, interrupt: &mut dyn FnMut() -> bool) -> Result<Option<Stop>, String> {
        // The first request wins; anything after a power-off or reboot is moot.
        if let Some(first) = self.bus.requests.drain(..).next() {
            self.round.active = false;
            return Ok(Some(Stop::Ended(match first {
                MachineRequest::PowerOff => RunEnd::PowerOff,
                MachineRequest::Reboot => RunEnd::Reboot,
            })));
        }
        let now = self.round.start;
        if self.round.anyone_ran {
            self.advance_to(now + self.round.quantum);
            self.round.active = false;
            return Ok(None);
        }
        // Every CPU waits: jump to the next device event or replayed input, if there is one;
        // with a live console, wait for the user (asking `interrupt` now and then).
        let deadline = match (self.round.deadline, self.input.next_replay_time()) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        };
        if self.pacing.is_some() && self.input.is_live() {
            return self.idle_in_real_time(now, deadline, interrupt);
        }
        if let Some(t) = deadline {
            let t = if self.input.paces_idle() {
                match self.paced_idle(now, t, interrupt) {
                    Ok(t) => t,
                    Err(stop) => {
                        self.round.active = false;
                        return Ok(Some(stop));
                    }
                }
            } else {
                t
            };
            // Every CPU waited this round; its quantum was counted as idle already.
            self.advance_idle_to(now, t);
            self.round.active = false;
            return Ok(None);
        }
        self.round.active = false;
        self.flush_output();
        loop {
            match self.input.wait_timeout(Duration::from_millis(50)) {
                crate::console::Wait::Ready => return Ok(None),
                crate::console::Wait::Closed => {
                    return Err(format!(
                        "all CPUs are waiting for an interrupt and no device can raise one (pc {:#010x})",
                        self.cpus[0].pc()
                    ));
                }
                crate::console::Wait::TimedOut => {
                    if let Some(sig) = crate::console::termination_requested() {
                        return Ok(Some(Stop::Ended(RunEnd::Signal(sig))));
                    }
                    if interrupt() {
                        return Ok(Some(Stop::Interrupted));
                    }
                }
            }
        }
    }

    /// Every CPU waits and the next event is at virtual time `deadline`, but live host
    /// backends (a network) may send input meanwhile: let virtual time pass no faster than
    /// the host's, so that a guest waiting for an answer from the host does not see its
    /// timeouts expire in no time at all. Waits for live input at most `deadline - now` host
    /// nanoseconds and returns the virtual time to jump to: `deadline` if nothing came, else
    /// `now` plus the host time waited (the input is then taken, and journaled, at that
    /// time, so a replay jumps to exactly there). The stop if the host asked to stop or a
    /// termination signal came meanwhile (time has not moved).
    fn paced_idle(&mut self, now: u64, deadline: u64, interrupt: &mut dyn FnMut() -> bool) -> Result<u64, Stop> {
        let span = deadline.saturating_sub(now);
        let started = Instant::now();
        self.flush_output();
        loop {
            let waited = u64::try_from(started.elapsed().as_nanos()).unwrap_or(u64::MAX);
            if waited >= span {
                return Ok(deadline);
            }
            let slice = Duration::from_nanos(span - waited).min(Duration::from_millis(50));
            match self.input.wait_timeout(slice) {
                crate::console::Wait::Ready => {
                    let waited = u64::try_from(started.elapsed().as_nanos()).unwrap_or(u64::MAX);
                    return Ok(now.saturating_add(waited).min(deadline));
                }
                crate::console::Wait::Closed => return Ok(deadline),
                crate::console::Wait::TimedOut => {
                    if let Some(sig) = crate::console::termination_requested() {
                        return Err(Stop::Ended(RunEnd::Signal(sig)));
                    }
                    if interrupt() {
                        return Err(Stop::Interrupted);
                    }
                }
            }
        }
    }

    /// Every CPU waits, and a person may type at any moment: let virtual time follow the host's
    /// clock instead of jumping to the next deadline, so the guest's clock keeps to the wall
    /// clock and an idle guest costs no host CPU. Virtual time never runs ahead of the real
    /// time elapsed since the machine started; when it is behind (the guest was busy), it
    /// catches up at once. Input that arrives is delivered at the virtual time it arrived,
    /// recorded as always, so a replay (which skips) is exact.
    fn idle_in_real_time(
        &mut self,
        now: u64,
        deadline: Option<u64>,
        interrupt: &mut dyn FnMut() -> bool,
    ) -> Result<Option<Stop>, String> {
        self.round.active = false;
        self.flush_output();
        let (anchor, at_anchor) = self.pacing.expect("pacing is on");
        let real = |a: std::time::Instant| at_anchor + a.elapsed().as_nanos() as u64;
        loop {
            let target = real(anchor).max(now);
            if let Some(t) = deadline.filter(|&t| t <= target) {
                self.advance_idle_to(now, t);
                return Ok(None);
            }
            let left = deadline.map_or(Duration::from_millis(50), |t| {
                Duration::from_nanos(t - target).min(Duration::from_millis(50))
            });
            match self.input.wait_timeout(left) {
                crate::console::Wait::Ready => {
                    let t = real(anchor).max(now);
                    self.advance_idle_to(now, deadline.map_or(t, |d| t.min(d)));
                    return Ok(None);
                }
                crate::console::Wait::TimedOut => {
                    if let Some(sig) = crate::console::termination_requested() {
                        return Ok(Some(Stop::Ended(RunEnd::Signal(sig))));
                    }
                    if interrupt() {
                        return Ok(Some(Stop::Interrupted));
                    }
                }
                crate::console::Wait::Closed if deadline.is_none() => {
                    return Err(format!(
                        "all CPUs are waiting for an interrupt and no device can raise one (pc {:#010x})",
                        self.cpus[0].pc()
                    ));
                }
                // No person any more: skip to the deadline.
                crate::console::Wait::Closed => {}
            }
        }
    }

    /// Advance an idle machine from `now` to `t`, counting the time as idle.
    fn advance_idle_to(&mut self, now: u64, t: u64) {
        let jump = t.max(now).saturating_sub(now + self.round.quantum);
        self.idle_ns.iter_mut().for_each(|n| *n += jump);
        self.advance_to(t.max(now));
    }

    /// With a recording being made or replayed, the machine's state is hashed every
    /// `hash_every` instructions (see [`crate::console::DEFAULT_HASH_EVERY`]), exactly there,
    /// before the next instruction, and written down or checked.
    fn hash_for_recording(&mut self) -> Result<(), String> {
        let position = self.position();
        let hash = self.state_hash();
        self.input.state_hash(position, hash)?;
        let every = self.input.hash_every();
        self.next_hash_at = (position / every + 1) * every;
        Ok(())
    }

    /// Apply the debugger edit the journal holds for the current position.
    fn apply_journaled_edit(&mut self) -> Result<(), String> {
        let Some((_, edit)) = self.input.next_edit() else {
            return Ok(());
        };
        let edit = edit.clone();
        self.apply_edit(&edit)?;
        self.input.edit_applied();
        Ok(())
    }

    /// Change the guest as a debugger edit says.
    pub(crate) fn apply_edit(&mut self, edit: &DebuggerEdit) -> Result<(), String> {
        match edit {
            DebuggerEdit::Memory { cpu, addr, data } => {
                let c = self.cpus.get(*cpu).ok_or_else(|| format!("no cpu {cpu}"))?;
                c.debug_write(&mut self.bus, *addr, data)
                    .map_err(|done| format!("cannot write memory at {:#010x}", addr.wrapping_add(done as u32)))
            }
            DebuggerEdit::Register { cpu, reg, value } => {
                let c = self.cpus.get_mut(*cpu).ok_or_else(|| format!("no cpu {cpu}"))?;
                Ok(crate::registers::write(c, *reg, *value)?)
            }
        }
    }
}
