//! # armvex-history: going back in time
//!
//! A deterministic machine can be run backwards without recording every instruction: keep
//! *checkpoints* of its state as it runs, and to reach any earlier moment, go back to the last
//! checkpoint before it and run forward again. Same inputs, same course, same state (the
//! machine crate guarantees it; the tests here check it).
//!
//! ```text
//!  position ──►  C0 ───────── C1 ───────── C2 ─────── C3 ──── now
//!                 │  undo log   │  undo log   │  undo log │  live log
//!                 │  summary    │  summary    │  summary  │  live summary
//!   reverse-stepi from now:  undo back to C3, run forward to now − 1
//!   reverse-continue:        scan the intervals backwards, skipping those whose summary
//!                            shows the breakpoint's page was never executed
//! ```
//!
//! * **Checkpoints** ([`Checkpoint`]) hold the machine's state without RAM and disks
//!   (`armvex_machine::MachineState`, a few tens of kilobytes). RAM and disks are not copied:
//!   between two checkpoints the machine keeps *undo logs*, the old contents of every page or
//!   disk block written for the first time in that interval. Going back to checkpoint k applies
//!   the live log and then the logs of the intervals after k, newest first.
//! * **Summaries** record which virtual pages each interval executed, read and wrote (at no
//!   cost per instruction: see `armvex_cpu::debug`), so `reverse-continue` replays only the
//!   intervals where a breakpoint or watchpoint could have fired.
//! * **Spacing.** Checkpoints are taken every [`HistoryConfig::spacing`] instructions as the
//!   machine runs, which bounds a reverse step's replay; around a spot being stepped backwards,
//!   finer ones ([`HistoryConfig::fine_spacing`]) are added so that a run of reverse steps is
//!   quick too. When the history outgrows [`HistoryConfig::budget`], neighbouring checkpoints
//!   are merged (their undo logs combined, the older contents winning), the oldest history
//!   first and the most recent last; if that is not enough, the oldest history is dropped.
//! * **Semantics** are those of gdb's `record full` target and of rr: a reverse step of a CPU
//!   leaves exactly the state a fresh run has just after that CPU's previous instruction; a
//!   reverse-continue stops at the last breakpoint or watchpoint hit before the present, before
//!   the instruction that hit it (for a watchpoint: before the write, so gdb shows the old and
//!   new values); running forward from the past stops where history ends
//!   ([`Outcome::EndOfHistory`]) before going on into the new.

use armvex_bus::memory::RamUndo;
use armvex_cpu::{WatchKind, Watchpoint};
use armvex_machine::{Machine, MachineError, MachineState, RunGoal, Stop};
use armvex_virtio::DiskUndo;
use std::time::Instant;

/// How the history is kept.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct HistoryConfig {
    /// Instructions between checkpoints as the machine runs (bounds a reverse step's replay).
    pub spacing: u64,
    /// Instructions between the extra checkpoints added where a reverse step lands.
    pub fine_spacing: u64,
    /// Instructions covered by one part of an interval's summary: a reverse-continue replays an
    /// interval only up to the end of the last part where its breakpoint could have fired.
    pub summary_spacing: u64,
    /// Host memory the history may hold, in bytes.
    pub budget: usize,
}

impl Default for HistoryConfig {
    fn default() -> Self {
        HistoryConfig {
            spacing: 1 << 24,
            fine_spacing: 1 << 20,
            summary_spacing: 1 << 20,
            budget: 2 << 30,
        }
    }
}

/// The virtual pages an interval touched, as sorted page numbers (address >> 12).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Summary {
    pub executed: Vec<u32>,
    pub read: Vec<u32>,
    pub written: Vec<u32>,
}

impl Summary {
    fn from_pages(s: &armvex_cpu::PageSummary) -> Summary {
        Summary {
            executed: s.executed.pages(),
            read: s.read.pages(),
            written: s.written.pages(),
        }
    }

    fn merge(&mut self, other: &Summary) {
        for (a, b) in [
            (&mut self.executed, &other.executed),
            (&mut self.read, &other.read),
            (&mut self.written, &other.written),
        ] {
            a.extend_from_slice(b);
            a.sort_unstable();
            a.dedup();
        }
    }

    /// Could one of these breakpoints or watchpoints have fired in this interval?
    pub fn might_hit(&self, breakpoints: &[u32], watchpoints: &[Watchpoint]) -> bool {
        let has = |v: &Vec<u32>, page: u32| v.binary_search(&page).is_ok();
        breakpoints.iter().any(|b| has(&self.executed, b >> 12))
            || watchpoints.iter().any(|w| {
                w.pages().any(|p| match w.kind {
                    WatchKind::Write => has(&self.written, p),
                    WatchKind::Read => has(&self.read, p),
                    WatchKind::Access => has(&self.written, p) || has(&self.read, p),
                })
            })
    }

    fn bytes(&self) -> usize {
        4 * (self.executed.len() + self.read.len() + self.written.len())
    }
}

/// A saved moment of the machine, and what is needed to come back to it from the next one.
pub struct Checkpoint {
    /// The machine's position (instructions retired by all CPUs).
    pub position: u64,
    /// Each CPU's instruction count.
    pub cpu_instructions: Vec<u64>,
    /// The encoded `MachineState`.
    state: Vec<u8>,
    /// Undo logs and summary of the interval from this checkpoint to the next one; `None`
    /// until the machine has run through to the next checkpoint.
    interval: Option<Interval>,
}

/// What an interval between two checkpoints did.
struct Interval {
    ram: RamUndo,
    disks: Vec<DiskUndo>,
    /// The pages the whole interval touched.
    summary: Summary,
    /// The same, part by part: each part's end position and summary, in order.
    parts: Vec<(u64, Summary)>,
}

/// The end of the last of `parts` where one of the breakpoints or watchpoints could have
/// fired (`None`: nowhere).
fn last_possible_hit(parts: &[(u64, Summary)], breakpoints: &[u32], watchpoints: &[Watchpoint]) -> Option<u64> {
    parts
        .iter()
        .rev()
        .find(|(_, s)| s.might_hit(breakpoints, watchpoints))
        .map(|(end, _)| *end)
}

impl Interval {
    fn bytes(&self) -> usize {
        self.ram.bytes()
            + self.disks.iter().map(DiskUndo::bytes).sum::<usize>()
            + self.summary.bytes()
            + self.parts.iter().map(|(_, s)| s.bytes() + 8).sum::<usize>()
    }

    /// Combine with the interval just before this one (older contents win).
    fn absorb_older(&mut self, older: Interval) {
        self.ram.absorb_older(older.ram);
        for (d, o) in self.disks.iter_mut().zip(older.disks) {
            d.absorb_older(o);
        }
        self.summary.merge(&older.summary);
        let mut parts = older.parts;
        parts.append(&mut self.parts);
        self.parts = parts;
    }
}

impl Checkpoint {
    fn bytes(&self) -> usize {
        self.state.len() + 64 + self.interval.as_ref().map_or(0, Interval::bytes)
    }
}

/// How a history operation ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Outcome {
    /// The machine stopped (breakpoint, watchpoint, goal reached, interrupt, end of guest).
    Stop(Stop),
    /// Running forward through the past, the machine reached the present: the end of the
    /// recorded history. Running on goes into new territory.
    EndOfHistory,
    /// Going backwards, the machine reached the oldest moment the history holds.
    StartOfHistory,
}

/// Figures about the history (for `monitor history` and the README).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct HistoryStats {
    pub checkpoints: usize,
    pub bytes: usize,
    /// The oldest position that can be reached.
    pub start: u64,
    /// The furthest position the machine has reached.
    pub end: u64,
}

/// A hit found while scanning an interval for reverse-continue.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct Hit {
    position: u64,
    stop: Stop,
}

/// The hits found between two positions.
struct Scan {
    start: u64,
    end: u64,
    hits: Vec<Hit>,
}

/// The execution history of one machine.
pub struct History {
    config: HistoryConfig,
    /// Sorted by position; the first is the start of history.
    checkpoints: Vec<Checkpoint>,
    /// The furthest position reached.
    end: u64,
    /// Hits found by reverse-continue scans (from a checkpoint's position up to a position),
    /// for the breakpoints and watchpoints in `scanned_for`.
    scans: Vec<Scan>,
    scanned_for: (Vec<u32>, Vec<Watchpoint>),
    /// The summary parts of the live interval so far.
    live_parts: Vec<(u64, Summary)>,
    /// Positions the user named (gdb's `monitor snapshot NAME`).
    names: Vec<(String, u64)>,
}

impl History {
    /// Start keeping the history of `machine` from where it is now.
    pub fn new(machine: &mut Machine, config: HistoryConfig) -> History {
        machine.start_ram_undo();
        machine.start_disk_undo();
        machine.start_summaries();
        let mut h = History {
            config,
            checkpoints: Vec::new(),
            end: machine.position(),
            scans: Vec::new(),
            scanned_for: (Vec::new(), Vec::new()),
            live_parts: Vec::new(),
            names: Vec::new(),
        };
        h.checkpoints.push(checkpoint_of(machine));
        h
    }

    /// Figures about the history.
    pub fn stats(&self) -> HistoryStats {
        HistoryStats {
            checkpoints: self.checkpoints.len(),
            bytes: self.checkpoints.iter().map(Checkpoint::bytes).sum(),
            start: self.checkpoints.first().map_or(0, |c| c.position),
            end: self.end,
        }
    }

    /// Give `position` a name (replacing an earlier position of that name).
    pub fn name_position(&mut self, name: &str, position: u64) {
        self.names.retain(|(n, _)| n != name);
        self.names.push((name.to_string(), position));
    }

    /// The position named `name`, if it is still in the history.
    pub fn named_position(&self, name: &str) -> Option<u64> {
        let start = self.checkpoints.first().map_or(0, |c| c.position);
        self.names
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, p)| *p)
            .filter(|p| (start..=self.end).contains(p))
    }

    /// The furthest position reached.
    pub fn end(&self) -> u64 {
        self.end
    }

    /// The checkpoints' positions (for tests and `monitor history`).
    pub fn checkpoint_positions(&self) -> Vec<u64> {
        self.checkpoints.iter().map(|c| c.position).collect()
    }

    /// Index of the last checkpoint at or before `position`.
    fn at_or_before(&self, position: u64) -> usize {
        self.checkpoints
            .partition_point(|c| c.position <= position)
            .saturating_sub(1)
    }

    /// Run forward to `goal`, a breakpoint, a watchpoint, the end of the guest or an interrupt,
    /// taking checkpoints on the way. Running through the past stops at the end of history.
    pub fn run(
        &mut self,
        machine: &mut Machine,
        goal: RunGoal,
        interrupt: &mut dyn FnMut() -> bool,
    ) -> Result<Outcome, MachineError> {
        let start = machine.position();
        let replaying = start < self.end;
        let asked = goal;
        let mut goal = goal;
        if replaying {
            goal.position = Some(goal.position.map_or(self.end, |p| p.min(self.end)));
        }
        let stop = self.run_recording(machine, goal, self.config.spacing, interrupt)?;
        if replaying && stop == Stop::Reached && machine.position() == self.end && !asked.is_met(machine) {
            return Ok(Outcome::EndOfHistory);
        }
        Ok(Outcome::Stop(stop))
    }

    /// Run CPU `cpu` forward by one instruction (other CPUs run as the schedule has them).
    pub fn step(
        &mut self,
        machine: &mut Machine,
        cpu: usize,
        interrupt: &mut dyn FnMut() -> bool,
    ) -> Result<Outcome, MachineError> {
        let count = machine.cpu(cpu).ok_or_else(|| format!("no cpu {cpu}"))?.instructions();
        self.run(
            machine,
            RunGoal {
                cpu_instructions: Some((cpu, count + 1)),
                ..RunGoal::default()
            },
            interrupt,
        )
    }

    /// The machine's run loop with checkpoints: `spacing` instructions after the last
    /// checkpoint, or at an existing checkpoint's position, the interval's undo logs and
    /// summary are filed and a checkpoint is (re)taken; every `summary_spacing` instructions
    /// in between, a part of the interval's summary is.
    fn run_recording(
        &mut self,
        machine: &mut Machine,
        goal: RunGoal,
        spacing: u64,
        interrupt: &mut dyn FnMut() -> bool,
    ) -> Result<Stop, String> {
        loop {
            let here = self.at_or_before(machine.position());
            let next_existing = self.checkpoints.get(here + 1).map(|c| c.position);
            let due = self.checkpoints[here].position + spacing;
            let checkpoint = next_existing.map_or(due, |n| n.min(due));
            let part_start = self
                .live_parts
                .last()
                .map_or(self.checkpoints[here].position, |(e, _)| *e);
            let part = part_start + self.config.summary_spacing;
            let goal = RunGoal {
                checkpoint_at: Some(checkpoint.min(part)),
                ..goal
            };
            let stop = machine.run_until(&goal, interrupt)?;
            self.end = self.end.max(machine.position());
            if stop != Stop::CheckpointDue {
                return Ok(stop);
            }
            if machine.position() >= checkpoint {
                self.take_checkpoint(machine)?;
            } else {
                let summary = Summary::from_pages(&machine.take_summaries());
                self.live_parts.push((machine.position(), summary));
            }
        }
    }

    /// File the interval that just ended and checkpoint the machine where it is (a round
    /// start). An existing checkpoint at this position is checked against the machine: a
    /// replay that went another way is an error naming where.
    fn take_checkpoint(&mut self, machine: &mut Machine) -> Result<(), String> {
        let position = machine.position();
        let here = self.at_or_before(position);
        let mut parts = std::mem::take(&mut self.live_parts);
        parts.push((position, Summary::from_pages(&machine.take_summaries())));
        let mut summary = Summary::default();
        for (_, p) in &parts {
            summary.merge(p);
        }
        let interval = Interval {
            ram: machine.take_ram_undo(),
            disks: machine.take_disk_undo(),
            summary,
            parts,
        };
        let existing = self.checkpoints[here].position == position;
        // The interval that just ended began at the last checkpoint before this position.
        let previous = if existing { here.checked_sub(1) } else { Some(here) };
        if let Some(p) = previous {
            // Replaying a stretch already filed gives the same interval again: keep the first.
            if self.checkpoints[p].interval.is_none() {
                self.checkpoints[p].interval = Some(interval);
            }
        }
        if existing {
            // Passing an existing checkpoint (replaying the past): it must match.
            let now = checkpoint_of(machine);
            if now.state != self.checkpoints[here].state {
                return Err(format!(
                    "reverse execution: the replay diverged from history before instruction {position} (the machine's state differs from the checkpoint taken there)"
                ));
            }
            return Ok(());
        }
        self.checkpoints.insert(here + 1, checkpoint_of(machine));
        self.enforce_budget(position);
        Ok(())
    }

    /// Go back to checkpoint `k` (at or before the machine's position): undo the live
    /// interval and the intervals after `k`, newest first, and load `k`'s state.
    fn restore(&mut self, machine: &mut Machine, k: usize) -> Result<(), String> {
        let t = Instant::now();
        let here = self.at_or_before(machine.position());
        debug_assert!(k <= here);
        let live_ram = machine.take_ram_undo();
        machine.apply_ram_undo(&live_ram);
        let live_disks = machine.take_disk_undo();
        machine.apply_disk_undo(&live_disks)?;
        for j in (k..here).rev() {
            let interval = self.checkpoints[j]
                .interval
                .as_ref()
                .ok_or("reverse execution: an interval of the history is missing its undo log")?;
            machine.apply_ram_undo(&interval.ram);
            machine.apply_disk_undo(&interval.disks)?;
        }
        let state: MachineState = armvex_bus::state::decode(&self.checkpoints[k].state, "a checkpoint")
            .map_err(|e| format!("reverse execution: {e}"))?;
        machine.load_state(&state)?;
        machine.take_summaries();
        self.live_parts.clear();
        tracing::debug!(target: "history", "restored checkpoint {k} (position {}) from {here} in {:?}", self.checkpoints[k].position, t.elapsed());
        Ok(())
    }

    /// Put the machine at `position` (in the history), stopped before the next instruction,
    /// with no breakpoint or watchpoint on the way. Checkpoints `fine` apart are added on the
    /// way when given.
    pub fn seek(&mut self, machine: &mut Machine, position: u64) -> Result<(), MachineError> {
        Ok(self.seek_with(
            machine,
            RunGoal {
                position: Some(position),
                ..RunGoal::default()
            },
            None,
        )?)
    }

    fn seek_with(&mut self, machine: &mut Machine, goal: RunGoal, fine: Option<u64>) -> Result<(), String> {
        let target = goal.position;
        let from = match (target, goal.cpu_instructions) {
            (Some(p), _) => self.at_or_before(p),
            (None, Some((cpu, count))) => {
                // The last checkpoint where that CPU had not yet retired `count` instructions.
                let n = self.checkpoints.partition_point(|c| c.cpu_instructions[cpu] < count);
                n.saturating_sub(1)
            }
            (None, None) => self.at_or_before(machine.position()),
        };
        // Undo logs only go backwards: a target ahead is reached by running forward.
        let need_restore = match (target, goal.cpu_instructions) {
            (Some(p), _) => machine.position() > p,
            (None, Some((cpu, count))) => machine.cpu(cpu).is_some_and(|c| c.instructions() >= count),
            (None, None) => false,
        };
        if need_restore {
            self.restore(machine, from)?;
        }
        let (bps, wps) = (machine.breakpoints().to_vec(), machine.watchpoints().to_vec());
        machine.set_breakpoints(&[]);
        machine.set_watchpoints(&[]);
        let result = self.run_recording(machine, goal, fine.unwrap_or(self.config.spacing), &mut || false);
        machine.set_breakpoints(&bps);
        machine.set_watchpoints(&wps);
        match result? {
            Stop::Reached => Ok(()),
            Stop::Ended(_) => Ok(()),
            other => Err(format!(
                "reverse execution: replaying the past stopped unexpectedly ({other:?})"
            )),
        }
    }

    /// Step CPU `cpu` back by one instruction: the state just after its previous instruction
    /// retired, as a fresh run would have it.
    pub fn reverse_step(&mut self, machine: &mut Machine, cpu: usize) -> Result<Outcome, MachineError> {
        let count = machine.cpu(cpu).ok_or_else(|| format!("no cpu {cpu}"))?.instructions();
        let oldest = self.checkpoints[0].cpu_instructions[cpu];
        if count == 0 || count - 1 < oldest {
            if machine.position() != self.checkpoints[0].position {
                self.restore(machine, 0)?;
            }
            return Ok(Outcome::StartOfHistory);
        }
        self.seek_with(
            machine,
            RunGoal {
                cpu_instructions: Some((cpu, count - 1)),
                ..RunGoal::default()
            },
            Some(self.config.fine_spacing),
        )?;
        Ok(Outcome::Stop(Stop::Reached))
    }

    /// Run backwards to the last breakpoint or watchpoint hit before the machine's position;
    /// [`Outcome::StartOfHistory`] if there is none.
    pub fn reverse_continue(
        &mut self,
        machine: &mut Machine,
        interrupt: &mut dyn FnMut() -> bool,
    ) -> Result<Outcome, MachineError> {
        let present = machine.position();
        let (bps, wps) = (machine.breakpoints().to_vec(), machine.watchpoints().to_vec());
        if self.scanned_for != (bps.clone(), wps.clone()) {
            self.scans.clear();
            self.scanned_for = (bps.clone(), wps.clone());
        }
        let mut k = self.at_or_before(present);
        loop {
            if interrupt() {
                return Ok(Outcome::Stop(Stop::Interrupted));
            }
            let start = self.checkpoints[k].position;
            let mut end = self.checkpoints.get(k + 1).map_or(present, |c| c.position.min(present));
            // Replay only as far as the last part of the interval where a hit is possible.
            let possible = match &self.checkpoints[k].interval {
                Some(i) if i.summary.might_hit(&bps, &wps) => last_possible_hit(&i.parts, &bps, &wps),
                Some(_) => None,
                // The live interval: its parts so far and what it touched since.
                None if self.at_or_before(machine.position()) == k => {
                    let mut parts = self.live_parts.clone();
                    parts.push((machine.position(), Summary::from_pages(&machine.peek_summaries())));
                    last_possible_hit(&parts, &bps, &wps)
                }
                None => Some(end),
            };
            if let Some(p) = possible {
                end = end.min(p);
            }
            if let Some(i) = &self.checkpoints[k].interval {
                let hits: Vec<u64> = i
                    .parts
                    .iter()
                    .filter(|(_, s)| s.might_hit(&bps, &wps))
                    .map(|(e, _)| *e)
                    .collect();
                tracing::trace!(target: "history", "interval at {start}: {} parts, possible hits in the parts ending at {hits:?}", i.parts.len());
            }
            let skip = start >= end || possible.is_none();
            if !skip {
                let t = Instant::now();
                let hits = self.scan(machine, k, end)?;
                tracing::debug!(target: "history", "scanned {start}..{end}: {} hits in {:?}", hits.len(), t.elapsed());
                if let Some(hit) = hits.iter().rev().find(|h| h.position < present) {
                    let hit = *hit;
                    let t = Instant::now();
                    self.seek(machine, hit.position)?;
                    tracing::debug!(target: "history", "went to the hit at {} in {:?}", hit.position, t.elapsed());
                    return Ok(Outcome::Stop(hit.stop));
                }
                k = self.at_or_before(start);
            }
            if k == 0 {
                self.restore(machine, 0)?;
                return Ok(Outcome::StartOfHistory);
            }
            k -= 1;
        }
    }

    /// Every breakpoint and watchpoint hit from checkpoint `k` up to position `end` (cached).
    fn scan(&mut self, machine: &mut Machine, k: usize, end: u64) -> Result<Vec<Hit>, String> {
        let start = self.checkpoints[k].position;
        if let Some(scan) = self.scans.iter().find(|s| s.start == start && s.end >= end) {
            return Ok(scan.hits.iter().filter(|h| h.position < end).copied().collect());
        }
        let here = self.at_or_before(machine.position());
        if here != k || machine.position() != start {
            self.restore(machine, k)?;
        }
        let wps = machine.watchpoints().to_vec();
        let mut hits = Vec::new();
        loop {
            let stop = self.run_recording(
                machine,
                RunGoal {
                    position: Some(end),
                    ..RunGoal::default()
                },
                self.config.spacing,
                &mut || false,
            )?;
            match stop {
                Stop::Breakpoint { cpu } => {
                    hits.push(Hit {
                        position: machine.position(),
                        stop,
                    });
                    let pc = machine.cpu(cpu).map_or(0, |c| c.pc());
                    machine.skip_breakpoint_once(cpu, pc);
                }
                Stop::Watchpoint { cpu, .. } => {
                    hits.push(Hit {
                        position: machine.position(),
                        stop,
                    });
                    // Let that instruction run with no watchpoint, then watch again.
                    let count = machine.cpu(cpu).map_or(0, |c| c.instructions());
                    machine.set_watchpoints(&[]);
                    let r = machine.run_until(
                        &RunGoal {
                            cpu_instructions: Some((cpu, count + 1)),
                            ..RunGoal::default()
                        },
                        &mut || false,
                    );
                    machine.set_watchpoints(&wps);
                    match r? {
                        Stop::Reached | Stop::Breakpoint { .. } => {}
                        Stop::Ended(_) => break,
                        other => {
                            return Err(format!(
                                "reverse execution: stepping past a watchpoint stopped ({other:?})"
                            ));
                        }
                    }
                }
                Stop::Reached | Stop::Ended(_) => break,
                Stop::Interrupted | Stop::CheckpointDue => {}
            }
        }
        self.scans.retain(|s| s.start != start);
        self.scans.push(Scan {
            start,
            end,
            hits: hits.clone(),
        });
        Ok(hits)
    }

    /// A debugger changed the machine: the history after this point is no longer the
    /// machine's future. Checkpoints after the position are dropped.
    pub fn forget_future(&mut self, machine: &Machine) {
        let position = machine.position();
        let here = self.at_or_before(position);
        self.checkpoints.truncate(here + 1);
        // The interval after the last checkpoint is being lived anew: its old log is void.
        self.checkpoints[here].interval = None;
        self.end = position;
        self.scans.clear();
    }

    /// Keep the history within its budget: merge neighbouring checkpoints, the oldest first,
    /// keeping the most recent ones fine; drop the oldest history if that is not enough.
    fn enforce_budget(&mut self, present: u64) {
        let mut total: usize = self.checkpoints.iter().map(Checkpoint::bytes).sum();
        if total <= self.config.budget {
            return;
        }
        let started = Instant::now();
        // Merge checkpoints whose interval is short for their age: a checkpoint d
        // instructions in the past may be d/8 from its neighbour.
        let mut i = 1;
        while total > self.config.budget && i + 1 < self.checkpoints.len() {
            let age = present.saturating_sub(self.checkpoints[i].position);
            let span = self.checkpoints[i + 1].position - self.checkpoints[i - 1].position;
            let complete = self.checkpoints[i - 1].interval.is_some() && self.checkpoints[i].interval.is_some();
            if complete && span <= (age / 8).max(self.config.spacing) {
                let before = self.checkpoints[i - 1].bytes() + self.checkpoints[i].bytes();
                self.merge_into_previous(i);
                total = total.saturating_sub(before.saturating_sub(self.checkpoints[i - 1].bytes()));
            } else {
                i += 1;
            }
        }
        // Then drop the oldest history.
        while total > self.config.budget && self.checkpoints.len() > 2 {
            total -= self.checkpoints[0].bytes();
            self.checkpoints.remove(0);
            self.scans.clear();
        }
        tracing::debug!(target: "history", "budget enforced in {:?}: {} checkpoints, {} bytes", started.elapsed(), self.checkpoints.len(), total);
    }

    /// Remove checkpoint `i`, folding its interval into the one before.
    fn merge_into_previous(&mut self, i: usize) {
        let removed = self.checkpoints.remove(i);
        let mut newer = removed.interval.expect("merged checkpoints are complete");
        let older = self.checkpoints[i - 1]
            .interval
            .take()
            .expect("merged checkpoints are complete");
        newer.absorb_older(older);
        self.checkpoints[i - 1].interval = Some(newer);
        self.scans.clear();
    }
}

/// Whether a machine has reached a goal (its position or CPU count).
trait GoalMet {
    fn is_met(&self, machine: &Machine) -> bool;
}

impl GoalMet for RunGoal {
    fn is_met(&self, machine: &Machine) -> bool {
        self.position.is_some_and(|p| machine.position() >= p)
            || self
                .cpu_instructions
                .is_some_and(|(cpu, n)| machine.cpu(cpu).is_some_and(|c| c.instructions() >= n))
    }
}

/// A checkpoint of the machine as it is now.
fn checkpoint_of(machine: &Machine) -> Checkpoint {
    let state = machine.save_state();
    Checkpoint {
        position: machine.position(),
        cpu_instructions: state.cpus.iter().map(|c| c.icount).collect(),
        state: armvex_bus::state::encode(&state),
        interval: None,
    }
}
