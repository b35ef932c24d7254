//! The inspector interface (`Machine::run_inspected`) on a bare-metal program: a machine that
//! is stopped for a view every round, paused, stepped and continued prints the same output
//! and retires the same number of instructions as one that ran alone; a step runs exactly N
//! instructions; the views show the GIC lines and device counts the program caused.
//!
//! The program is the firmware test `wfi` (`make -C firmware` builds it; tools/test does so
//! before the unit tests): it programs the private timer, sleeps in WFI and takes the timer's
//! interrupts through the GIC.

use armvex_machine::inspect::{Inspector, InspectorCommand, InspectorView};
use armvex_machine::{Machine, MachineConfig, RunEnd};
use std::cell::RefCell;
use std::collections::VecDeque;
use std::io::Write;
use std::path::PathBuf;
use std::rc::Rc;
use std::time::Duration;

fn firmware(name: &str) -> PathBuf {
    let p = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../../firmware/build")
        .join(format!("{name}.elf"));
    assert!(p.is_file(), "{} is missing: run `make -C firmware` first", p.display());
    p
}

#[derive(Clone, Default)]
struct Output(Rc<RefCell<Vec<u8>>>);
impl Write for Output {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.borrow_mut().extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

fn machine(name: &str, output: &Output) -> Machine {
    Machine::new(MachineConfig {
        cmdline: name.into(),
        ..MachineConfig::bare_metal("vexpress-a9", firmware(name), Box::new(output.clone()))
    })
    .unwrap()
}

/// An inspector that wants a view every round and drives a script: pause after a few views,
/// step 1000, step 1, continue.
#[derive(Default)]
struct Script {
    stage: usize,
    commands: VecDeque<InspectorCommand>,
    views: usize,
    paused_at: Option<u64>,
    after_steps: Vec<u64>,
    last: Option<InspectorView>,
    max_timer_acks: u64,
}

impl Inspector for Script {
    fn wants_attention(&self) -> bool {
        true
    }
    fn next_command(&mut self, _wait: Duration) -> Option<InspectorCommand> {
        self.commands.pop_front()
    }
    fn wants_view(&self) -> bool {
        true
    }
    fn publish(&mut self, view: InspectorView) {
        self.views += 1;
        let acks = view
            .irqs
            .iter()
            .filter(|l| l.id == 29)
            .map(|l| l.count)
            .max()
            .unwrap_or(0);
        self.max_timer_acks = self.max_timer_acks.max(acks);
        match self.stage {
            0 if self.views == 2 => {
                self.commands.push_back(InspectorCommand::Pause);
                self.stage = 1;
            }
            1 if !view.running => {
                assert_eq!(view.stopped.as_deref(), Some("paused"));
                self.paused_at = Some(view.instructions);
                self.commands.push_back(InspectorCommand::Step(1000));
                self.stage = 2;
            }
            2 if view.stopped.as_deref() == Some("step") => {
                self.after_steps.push(view.instructions);
                self.commands.push_back(InspectorCommand::Step(1));
                self.stage = 3;
            }
            3 if view.stopped.as_deref() == Some("step") && self.after_steps.len() == 1 => {
                self.after_steps.push(view.instructions);
                self.commands.push_back(InspectorCommand::Continue);
                self.stage = 4;
            }
            _ => {}
        }
        self.last = Some(view);
    }
}

#[test]
fn a_watched_paused_and_stepped_run_is_the_same_run() {
    let plain_out = Output::default();
    let mut plain = machine("wfi", &plain_out);
    let plain_end = plain.run().unwrap();
    let plain_position = plain.position();

    let watched_out = Output::default();
    let mut watched = machine("wfi", &watched_out);
    let mut script = Script::default();
    let end = watched.run_inspected(&mut script).unwrap();

    assert_eq!(end, plain_end);
    assert!(matches!(end, RunEnd::Exit(0)), "{end:?}");
    assert_eq!(*watched_out.0.borrow(), *plain_out.0.borrow(), "the output differs");
    assert_eq!(watched.position(), plain_position, "the instruction count differs");
    assert_eq!(
        script.stage, 4,
        "the script did not run through ({} views)",
        script.views
    );
    let paused = script.paused_at.unwrap();
    assert_eq!(
        script.after_steps,
        vec![paused + 1000, paused + 1001],
        "steps are exact"
    );
    assert!(
        script.max_timer_acks > 0,
        "the private timer's interrupt (29) was acknowledged"
    );

    let last = script.last.unwrap();
    assert!(!last.running);
    assert!(last.stopped.as_deref().is_some_and(|s| s.starts_with("ended")));
    assert_eq!(last.instructions, plain_position);
    let gic = last
        .devices
        .iter()
        .find(|d| d.name == "a9mpcore-priv")
        .expect("the MPCore is listed");
    assert!(gic.reads > 0 && gic.writes > 0, "{gic:?}");
    assert!(
        gic.last.iter().any(|r| r.register == Some("GICC_IAR")),
        "{:?}",
        gic.last
    );
    assert!(last.memory.iter().any(|m| m.name == "ram" && m.kind == "ram"));
    assert!(
        last.memory
            .iter()
            .any(|m| m.kind == "alias" && m.alias_of.as_deref() == Some("flash0"))
    );
    assert_eq!(last.virtio.len(), 4, "four transports, all empty");
    assert!(last.virtio.iter().all(|t| t.device == "empty"));
    assert_eq!(last.cpus.len(), 1);
    assert_eq!(last.cpus[0].banked.len(), 7);
}

/// The address of symbol `name` in firmware `program`.
fn symbol(program: &str, name: &str) -> u32 {
    let bytes = std::fs::read(firmware(program)).unwrap();
    let elf = goblin::elf::Elf::parse(&bytes).unwrap();
    elf.syms
        .iter()
        .find(|s| elf.strtab.get_at(s.st_name) == Some(name))
        .map(|s| s.st_value as u32)
        .unwrap_or_else(|| panic!("no symbol {name}"))
}

/// Sets a breakpoint on the firmware's IRQ entry at the first view, checks that the machine
/// stops there (twice: continuing steps over it), then clears it.
#[derive(Default)]
struct Breaker {
    commands: VecDeque<InspectorCommand>,
    target: u32,
    breakpoint: Option<u32>,
    hits: Vec<(u32, u64)>,
    done: bool,
}

impl Inspector for Breaker {
    fn wants_attention(&self) -> bool {
        true
    }
    fn next_command(&mut self, _wait: Duration) -> Option<InspectorCommand> {
        self.commands.pop_front()
    }
    fn wants_view(&self) -> bool {
        true
    }
    fn publish(&mut self, view: InspectorView) {
        let cpu = &view.cpus[0];
        match self.breakpoint {
            None => {
                self.breakpoint = Some(self.target);
                self.commands.push_back(InspectorCommand::Breakpoint(Some(self.target)));
            }
            Some(bp) if !self.done && view.stopped.as_deref() == Some("breakpoint (cpu 0)") => {
                assert_eq!(view.breakpoint, Some(bp));
                assert_eq!(cpu.mode, "irq");
                self.hits.push((cpu.regs[15], view.instructions));
                if self.hits.len() == 2 {
                    self.commands.push_back(InspectorCommand::Breakpoint(None));
                    self.done = true;
                }
                self.commands.push_back(InspectorCommand::Continue);
            }
            _ => {}
        }
    }
}

#[test]
fn a_breakpoint_stops_before_the_instruction_and_changes_nothing() {
    let plain_out = Output::default();
    let mut plain = machine("wfi", &plain_out);
    plain.run().unwrap();

    let out = Output::default();
    let mut m = machine("wfi", &out);
    let mut b = Breaker {
        target: symbol("wfi", "irq_entry"),
        ..Breaker::default()
    };
    m.run_inspected(&mut b).unwrap();
    let bp = b.breakpoint.unwrap();
    assert_eq!(b.hits.len(), 2, "the breakpoint at {bp:#x} was hit twice");
    assert!(b.hits.iter().all(|(pc, _)| *pc == bp), "{:x?}", b.hits);
    assert!(b.hits[1].1 > b.hits[0].1, "continuing stepped over the breakpoint");
    assert!(m.breakpoints().is_empty());
    assert_eq!(*out.0.borrow(), *plain_out.0.borrow());
    assert_eq!(m.position(), plain.position());
}
