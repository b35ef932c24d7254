//! The machine as gdbstub's target: one gdb thread per CPU (thread id = CPU index + 1), all-stop.
//!
//! All CPUs always run together in their fixed order (armvex's determinism), so a resume
//! request is one of: continue, step one CPU by one instruction (the others run as the
//! schedule has them meanwhile), reverse-step one CPU, reverse-continue. They run in
//! [`GdbLoop::wait_for_stop_reason`], which polls the connection between rounds so that gdb's
//! Ctrl-C stops the machine within about a millisecond.

use crate::arch::{ArmBreakpointKind, ArmV7, ArmV7RegId, ArmV7Registers};
use armvex_cpu::{WatchKind, Watchpoint};
use armvex_history::{History, Outcome};
use armvex_machine::{Machine, RunEnd, RunGoal, Stop, registers};
use gdbstub::common::{Signal, Tid};
use gdbstub::conn::ConnectionExt;
use gdbstub::stub::MultiThreadStopReason;
use gdbstub::stub::run_blocking::{BlockingEventLoop, Event, WaitForStopReasonError};
use gdbstub::target::ext::base::multithread::{
    MultiThreadBase, MultiThreadResume, MultiThreadResumeOps, MultiThreadSchedulerLocking,
    MultiThreadSchedulerLockingOps, MultiThreadSingleStep, MultiThreadSingleStepOps,
};
use gdbstub::target::ext::base::reverse_exec::{
    ReplayLogPosition, ReverseCont, ReverseContOps, ReverseStep, ReverseStepOps,
};
use gdbstub::target::ext::base::single_register_access::{SingleRegisterAccess, SingleRegisterAccessOps};
use gdbstub::target::ext::breakpoints::{
    Breakpoints, BreakpointsOps, HwBreakpoint, HwBreakpointOps, HwWatchpoint, HwWatchpointOps, SwBreakpoint,
    SwBreakpointOps, WatchKind as GdbWatchKind,
};
use gdbstub::target::ext::monitor_cmd::{ConsoleOutput, MonitorCmdOps};
use gdbstub::target::{Target, TargetError, TargetResult};
use std::collections::BTreeSet;
use std::net::TcpStream;

/// What the next resume does.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Action {
    Continue,
    Step(usize),
    ReverseStep(usize),
    ReverseContinue,
}

/// One gdb session's view of the machine.
pub struct Session<'a> {
    pub(crate) machine: &'a mut Machine,
    pub(crate) history: &'a mut History,
    sw_breakpoints: BTreeSet<u32>,
    hw_breakpoints: BTreeSet<u32>,
    watchpoints: Vec<Watchpoint>,
    action: Action,
    /// The guest's end has been reported once as the end of history; the next resume reports
    /// it as the exit gdb expects.
    end_reported: bool,
}

/// gdb's thread id for CPU `cpu`.
pub fn tid(cpu: usize) -> Tid {
    Tid::new(cpu + 1).expect("cpu + 1 is never 0")
}

impl<'a> Session<'a> {
    pub fn new(machine: &'a mut Machine, history: &'a mut History) -> Session<'a> {
        Session {
            machine,
            history,
            sw_breakpoints: BTreeSet::new(),
            hw_breakpoints: BTreeSet::new(),
            watchpoints: Vec::new(),
            action: Action::Continue,
            end_reported: false,
        }
    }

    /// The CPU index for gdb's thread id, if there is such a CPU.
    fn cpu_of(&self, tid: Tid) -> Result<usize, TargetError<String>> {
        let cpu = tid.get() - 1;
        if cpu < self.machine.cpus().len() {
            Ok(cpu)
        } else {
            Err(TargetError::Errno(22))
        }
    }

    fn update_breakpoints(&mut self) {
        let all: Vec<u32> = self.sw_breakpoints.union(&self.hw_breakpoints).copied().collect();
        self.machine.set_breakpoints(&all);
    }

    /// A debugger edit changed the machine: its future is no longer what history holds.
    fn edited(&mut self) {
        self.history.forget_future(self.machine);
    }

    /// Drop this session's breakpoints and watchpoints (gdb detached).
    pub fn clear_debug_state(&mut self) {
        self.sw_breakpoints.clear();
        self.hw_breakpoints.clear();
        self.watchpoints.clear();
        self.update_breakpoints();
        self.machine.set_watchpoints(&[]);
    }

    /// Carry out the pending resume, polling `interrupt` now and then.
    fn resume_now(&mut self, interrupt: &mut dyn FnMut() -> bool) -> Result<Outcome, String> {
        match self.action {
            Action::Continue => Ok(self.history.run(self.machine, RunGoal::default(), interrupt)?),
            Action::Step(cpu) => Ok(self.history.step(self.machine, cpu, interrupt)?),
            Action::ReverseStep(cpu) => {
                self.end_reported = false;
                Ok(self.history.reverse_step(self.machine, cpu)?)
            }
            Action::ReverseContinue => {
                self.end_reported = false;
                let outcome = self.history.reverse_continue(self.machine, interrupt)?;
                if let Outcome::Stop(Stop::Watchpoint { cpu, .. }) = outcome {
                    // ARM watchpoints are not "steppable" for gdb: after a watchpoint stop it
                    // steps over the instruction itself to see the new value — in reverse, one
                    // instruction back. So stop just *after* the access here, and gdb's step
                    // back lands before it, where gdb's `record full` stops: the old value in
                    // memory, the PC at the instruction that wrote.
                    let watchpoints = self.machine.watchpoints().to_vec();
                    self.machine.set_watchpoints(&[]);
                    let stepped = self.history.step(self.machine, cpu, &mut || false);
                    self.machine.set_watchpoints(&watchpoints);
                    stepped?;
                }
                Ok(outcome)
            }
        }
    }

    /// What gdb is told about an outcome (`None`: gdb's Ctrl-C is waiting to be read).
    fn stop_reason(&mut self, outcome: Outcome) -> Option<MultiThreadStopReason<u32>> {
        let current = self.current_cpu();
        Some(match outcome {
            Outcome::Stop(Stop::Breakpoint { cpu }) => {
                let pc = self.machine.cpu(cpu).map_or(0, |c| c.pc());
                if self.sw_breakpoints.contains(&pc) {
                    MultiThreadStopReason::SwBreak(tid(cpu))
                } else {
                    MultiThreadStopReason::HwBreak(tid(cpu))
                }
            }
            Outcome::Stop(Stop::Watchpoint { cpu, hit }) => MultiThreadStopReason::Watch {
                tid: tid(cpu),
                kind: match hit.watchpoint.kind {
                    WatchKind::Write => GdbWatchKind::Write,
                    WatchKind::Read => GdbWatchKind::Read,
                    WatchKind::Access => GdbWatchKind::ReadWrite,
                },
                addr: hit.addr,
            },
            // With the thread named, so that gdb knows which one stopped.
            Outcome::Stop(Stop::Reached) => MultiThreadStopReason::SignalWithThread {
                tid: tid(current),
                signal: Signal::SIGTRAP,
            },
            Outcome::Stop(Stop::Interrupted) => return None,
            Outcome::Stop(Stop::CheckpointDue) => MultiThreadStopReason::DoneStep,
            // armvex itself was asked to stop: gdb sees the program terminated by that signal.
            Outcome::Stop(Stop::Ended(RunEnd::Signal(sig))) => {
                MultiThreadStopReason::Terminated(Signal(sig as u8)) // HUP, INT, QUIT, TERM: the same numbers in gdb
            }
            Outcome::Stop(Stop::Ended(end)) => {
                if !self.end_reported {
                    // Stop where the guest ended, so that gdb can still go back from here.
                    self.end_reported = true;
                    eprintln!(
                        "armvex: the guest ended ({end:?}); gdb can go back from here, or continue to let it exit"
                    );
                    MultiThreadStopReason::ReplayLog {
                        tid: Some(tid(current)),
                        pos: ReplayLogPosition::End,
                    }
                } else {
                    MultiThreadStopReason::Exited(match end {
                        RunEnd::Exit(code) => code as u8,
                        _ => 0,
                    })
                }
            }
            Outcome::EndOfHistory => MultiThreadStopReason::ReplayLog {
                tid: Some(tid(current)),
                pos: ReplayLogPosition::End,
            },
            Outcome::StartOfHistory => MultiThreadStopReason::ReplayLog {
                tid: Some(tid(current)),
                pos: ReplayLogPosition::Begin,
            },
        })
    }

    /// The CPU a stop is reported on when none is named: the one being stepped, else the one
    /// that runs next.
    fn current_cpu(&self) -> usize {
        match self.action {
            Action::Step(cpu) | Action::ReverseStep(cpu) => cpu,
            _ => self.machine.current_cpu(),
        }
    }
}

impl Target for Session<'_> {
    type Arch = ArmV7;
    type Error = String;

    fn base_ops(&mut self) -> gdbstub::target::ext::base::BaseOps<'_, Self::Arch, Self::Error> {
        gdbstub::target::ext::base::BaseOps::MultiThread(self)
    }

    fn support_breakpoints(&mut self) -> Option<BreakpointsOps<'_, Self>> {
        Some(self)
    }

    fn support_monitor_cmd(&mut self) -> Option<MonitorCmdOps<'_, Self>> {
        Some(self)
    }
}

impl MultiThreadBase for Session<'_> {
    fn read_registers(&mut self, regs: &mut ArmV7Registers, tid: Tid) -> TargetResult<(), Self> {
        let cpu = self.cpu_of(tid)?;
        for n in 0..registers::COUNT {
            regs.set(n, self.machine.read_register(cpu, n).unwrap_or(0));
        }
        Ok(())
    }

    fn write_registers(&mut self, regs: &ArmV7Registers, tid: Tid) -> TargetResult<(), Self> {
        let cpu = self.cpu_of(tid)?;
        for n in 0..registers::COUNT {
            self.machine
                .write_register(cpu, n, regs.get(n))
                .map_err(|_| TargetError::Errno(22))?;
        }
        self.edited();
        Ok(())
    }

    fn support_single_register_access(&mut self) -> Option<SingleRegisterAccessOps<'_, Tid, Self>> {
        Some(self)
    }

    fn read_addrs(&mut self, start: u32, data: &mut [u8], tid: Tid) -> TargetResult<usize, Self> {
        let cpu = self.cpu_of(tid)?;
        match self.machine.read_memory(cpu, start, data) {
            Ok(()) => Ok(data.len()),
            // Nothing readable at the start: an error gdb shows as "Cannot access memory".
            Err(0) => Err(TargetError::Errno(14)),
            Err(n) => Ok(n),
        }
    }

    fn write_addrs(&mut self, start: u32, data: &[u8], tid: Tid) -> TargetResult<(), Self> {
        let cpu = self.cpu_of(tid)?;
        self.machine
            .write_memory(cpu, start, data)
            .map_err(|_| TargetError::Errno(14))?;
        self.edited();
        Ok(())
    }

    fn list_active_threads(&mut self, thread_is_active: &mut dyn FnMut(Tid)) -> Result<(), Self::Error> {
        for cpu in 0..self.machine.cpus().len() {
            thread_is_active(tid(cpu));
        }
        Ok(())
    }

    fn support_resume(&mut self) -> Option<MultiThreadResumeOps<'_, Self>> {
        Some(self)
    }
}

impl SingleRegisterAccess<Tid> for Session<'_> {
    fn read_register(&mut self, tid: Tid, reg: ArmV7RegId, buf: &mut [u8]) -> TargetResult<usize, Self> {
        let cpu = self.cpu_of(tid)?;
        let value = self.machine.read_register(cpu, reg.0).ok_or(TargetError::Errno(22))?;
        let size = registers::size(reg.0).min(buf.len());
        buf[..size].copy_from_slice(&value.to_le_bytes()[..size]);
        Ok(size)
    }

    fn write_register(&mut self, tid: Tid, reg: ArmV7RegId, val: &[u8]) -> TargetResult<(), Self> {
        let cpu = self.cpu_of(tid)?;
        let mut bytes = [0u8; 8];
        let n = val.len().min(8);
        bytes[..n].copy_from_slice(&val[..n]);
        self.machine
            .write_register(cpu, reg.0, u64::from_le_bytes(bytes))
            .map_err(|_| TargetError::Errno(22))?;
        self.edited();
        Ok(())
    }
}

impl MultiThreadResume for Session<'_> {
    fn resume(&mut self) -> Result<(), Self::Error> {
        Ok(())
    }

    fn clear_resume_actions(&mut self) -> Result<(), Self::Error> {
        self.action = Action::Continue;
        Ok(())
    }

    fn set_resume_action_continue(&mut self, _tid: Tid, signal: Option<Signal>) -> Result<(), Self::Error> {
        if signal.is_some() {
            tracing::info!(target: "gdb", "signals cannot be delivered to a machine; ignored");
        }
        Ok(())
    }

    fn support_single_step(&mut self) -> Option<MultiThreadSingleStepOps<'_, Self>> {
        Some(self)
    }

    fn support_reverse_step(&mut self) -> Option<ReverseStepOps<'_, Tid, Self>> {
        Some(self)
    }

    fn support_reverse_cont(&mut self) -> Option<ReverseContOps<'_, Tid, Self>> {
        Some(self)
    }

    fn support_scheduler_locking(&mut self) -> Option<MultiThreadSchedulerLockingOps<'_, Self>> {
        Some(self)
    }
}

/// gdb asks for scheduler locking when it steps one thread while replaying. armvex's CPUs always
/// run in their fixed order (that is what makes replay exact), so the other CPUs run as the
/// schedule has them; a step stopped inside the stepped CPU's turn (the usual case) runs no
/// other CPU before it.
impl MultiThreadSchedulerLocking for Session<'_> {
    fn set_resume_action_scheduler_lock(&mut self) -> Result<(), Self::Error> {
        Ok(())
    }
}

impl MultiThreadSingleStep for Session<'_> {
    fn set_resume_action_step(&mut self, tid: Tid, _signal: Option<Signal>) -> Result<(), Self::Error> {
        let cpu = self.cpu_of(tid).map_err(|_| format!("no thread {tid}"))?;
        self.action = Action::Step(cpu);
        Ok(())
    }
}

impl ReverseStep<Tid> for Session<'_> {
    fn reverse_step(&mut self, tid: Tid) -> Result<(), Self::Error> {
        let cpu = self.cpu_of(tid).map_err(|_| format!("no thread {tid}"))?;
        self.action = Action::ReverseStep(cpu);
        Ok(())
    }
}

impl ReverseCont<Tid> for Session<'_> {
    fn reverse_cont(&mut self) -> Result<(), Self::Error> {
        self.action = Action::ReverseContinue;
        Ok(())
    }
}

impl Breakpoints for Session<'_> {
    fn support_sw_breakpoint(&mut self) -> Option<SwBreakpointOps<'_, Self>> {
        Some(self)
    }

    fn support_hw_breakpoint(&mut self) -> Option<HwBreakpointOps<'_, Self>> {
        Some(self)
    }

    fn support_hw_watchpoint(&mut self) -> Option<HwWatchpointOps<'_, Self>> {
        Some(self)
    }
}

impl SwBreakpoint for Session<'_> {
    fn add_sw_breakpoint(&mut self, addr: u32, _kind: ArmBreakpointKind) -> TargetResult<bool, Self> {
        self.sw_breakpoints.insert(addr & !1);
        self.update_breakpoints();
        Ok(true)
    }

    fn remove_sw_breakpoint(&mut self, addr: u32, _kind: ArmBreakpointKind) -> TargetResult<bool, Self> {
        let removed = self.sw_breakpoints.remove(&(addr & !1));
        self.update_breakpoints();
        Ok(removed)
    }
}

impl HwBreakpoint for Session<'_> {
    fn add_hw_breakpoint(&mut self, addr: u32, _kind: ArmBreakpointKind) -> TargetResult<bool, Self> {
        self.hw_breakpoints.insert(addr & !1);
        self.update_breakpoints();
        Ok(true)
    }

    fn remove_hw_breakpoint(&mut self, addr: u32, _kind: ArmBreakpointKind) -> TargetResult<bool, Self> {
        let removed = self.hw_breakpoints.remove(&(addr & !1));
        self.update_breakpoints();
        Ok(removed)
    }
}

fn watch_kind(kind: GdbWatchKind) -> WatchKind {
    match kind {
        GdbWatchKind::Write => WatchKind::Write,
        GdbWatchKind::Read => WatchKind::Read,
        GdbWatchKind::ReadWrite => WatchKind::Access,
    }
}

impl HwWatchpoint for Session<'_> {
    fn add_hw_watchpoint(&mut self, addr: u32, len: u32, kind: GdbWatchKind) -> TargetResult<bool, Self> {
        if len == 0 {
            return Ok(false);
        }
        self.watchpoints.push(Watchpoint {
            addr,
            len,
            kind: watch_kind(kind),
        });
        self.machine.set_watchpoints(&self.watchpoints);
        Ok(true)
    }

    fn remove_hw_watchpoint(&mut self, addr: u32, len: u32, kind: GdbWatchKind) -> TargetResult<bool, Self> {
        let w = Watchpoint {
            addr,
            len,
            kind: watch_kind(kind),
        };
        let Some(i) = self.watchpoints.iter().position(|x| *x == w) else {
            return Ok(false);
        };
        self.watchpoints.remove(i);
        self.machine.set_watchpoints(&self.watchpoints);
        Ok(true)
    }
}

impl gdbstub::target::ext::monitor_cmd::MonitorCmd for Session<'_> {
    fn handle_monitor_cmd(&mut self, cmd: &[u8], mut out: ConsoleOutput<'_>) -> Result<(), Self::Error> {
        let text = String::from_utf8_lossy(cmd);
        let reply = crate::monitor::run(self, text.trim());
        gdbstub::outputln!(out, "{}", reply.trim_end());
        Ok(())
    }
}

/// gdbstub's event loop for armvex: the machine runs on the thread that serves gdb.
pub struct GdbLoop<'a>(std::marker::PhantomData<&'a ()>);

impl<'a> BlockingEventLoop for GdbLoop<'a> {
    type Target = Session<'a>;
    type Connection = TcpStream;
    type StopReason = MultiThreadStopReason<u32>;

    #[allow(clippy::type_complexity)]
    fn wait_for_stop_reason(
        target: &mut Session<'a>,
        conn: &mut TcpStream,
    ) -> Result<Event<Self::StopReason>, WaitForStopReasonError<String, std::io::Error>> {
        let outcome = {
            let mut poll = || conn.peek().map(|b| b.is_some()).unwrap_or(true);
            target.resume_now(&mut poll).map_err(WaitForStopReasonError::Target)?
        };
        match target.stop_reason(outcome) {
            Some(reason) => Ok(Event::TargetStopped(reason)),
            None => {
                let byte = conn.read().map_err(WaitForStopReasonError::Connection)?;
                Ok(Event::IncomingData(byte))
            }
        }
    }

    fn on_interrupt(target: &mut Session<'a>) -> Result<Option<Self::StopReason>, String> {
        // The machine is already stopped: it runs only inside `wait_for_stop_reason`.
        Ok(Some(MultiThreadStopReason::SignalWithThread {
            tid: tid(target.machine.current_cpu()),
            signal: Signal::SIGINT,
        }))
    }
}
