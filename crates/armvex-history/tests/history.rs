//! Reverse execution checked against fresh runs: every state reached by going back must be
//! exactly the state a fresh run to the same position has (machine state and every RAM page,
//! hashed), and reverse-continue must find exactly the hits a forward run sees, in reverse.
//!
//! The programs are the bare-metal firmware tests (`make -C firmware` builds them; tools/test
//! does so before these tests run): `wfi` takes timer interrupts through the GIC and sleeps in
//! WFI, `exceptions` and `mmu_map` change modes and page tables.

use armvex_cpu::{WatchKind, Watchpoint};
use armvex_history::{History, HistoryConfig, Outcome};
use armvex_machine::{Machine, MachineConfig, RunGoal, Stop};
use std::cell::RefCell;
use std::io::Write;
use std::path::PathBuf;
use std::rc::Rc;

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

/// The state hash of a fresh machine run to `position`.
fn fresh_hash(name: &str, position: u64) -> u64 {
    let mut m = machine(name, &Output::default());
    let stop = m
        .run_until(
            &RunGoal {
                position: Some(position),
                ..RunGoal::default()
            },
            &mut || false,
        )
        .unwrap();
    assert_eq!(stop, Stop::Reached);
    m.state_hash()
}

fn small() -> HistoryConfig {
    HistoryConfig {
        spacing: 20_000,
        fine_spacing: 2_000,
        summary_spacing: 4_000,
        budget: 1 << 30,
    }
}

fn run_to_end(h: &mut History, m: &mut Machine) -> u64 {
    let out = h.run(m, RunGoal::default(), &mut || false).unwrap();
    assert!(matches!(out, Outcome::Stop(Stop::Ended(_))), "{out:?}");
    m.position()
}

#[test]
fn seeking_anywhere_gives_the_state_of_a_fresh_run() {
    let out = Output::default();
    let mut m = machine("wfi", &out);
    let mut h = History::new(&mut m, small());
    let end = run_to_end(&mut h, &mut m);
    assert!(end > 100_000, "wfi runs {end} instructions");
    assert!(
        h.stats().checkpoints > 5,
        "{:?} {:?}",
        h.stats(),
        h.checkpoint_positions()
    );
    let printed = out.0.borrow().clone();
    for p in [end - 1, 0, 1, 12_345, end / 2, 20_000, 19_999, end / 3 + 7, end - 5000] {
        h.seek(&mut m, p).unwrap();
        assert_eq!(m.position(), p);
        assert_eq!(m.state_hash(), fresh_hash("wfi", p), "position {p}");
    }
    // Going back and forth printed nothing twice.
    assert_eq!(*out.0.borrow(), printed);
    assert!(String::from_utf8_lossy(&printed).contains("PASS") || !printed.is_empty());
}

#[test]
fn stepi_reverse_stepi_stepi_comes_back_to_the_same_state() {
    let mut m = machine("exceptions", &Output::default());
    let mut h = History::new(&mut m, small());
    h.run(
        &mut m,
        RunGoal {
            position: Some(30_000),
            ..RunGoal::default()
        },
        &mut || false,
    )
    .unwrap();
    let before = m.state_hash();
    for _ in 0..50 {
        assert!(matches!(
            h.step(&mut m, 0, &mut || false).unwrap(),
            Outcome::Stop(Stop::Reached)
        ));
    }
    let after = m.state_hash();
    assert_eq!(m.position(), 30_050);
    for i in 0..50 {
        assert_eq!(
            h.reverse_step(&mut m, 0).unwrap(),
            Outcome::Stop(Stop::Reached),
            "step {i}"
        );
    }
    assert_eq!(m.position(), 30_000);
    assert_eq!(m.state_hash(), before);
    // Forward again through the past: the end of history is where the first pass stopped.
    for _ in 0..50 {
        h.step(&mut m, 0, &mut || false).unwrap();
    }
    assert_eq!(m.state_hash(), after);
    assert_eq!(
        h.step(&mut m, 0, &mut || false).unwrap(),
        Outcome::Stop(Stop::Reached),
        "beyond: new ground"
    );
}

#[test]
fn reverse_step_reaches_the_start_of_history() {
    let mut m = machine("exceptions", &Output::default());
    let mut h = History::new(&mut m, small());
    h.step(&mut m, 0, &mut || false).unwrap();
    h.step(&mut m, 0, &mut || false).unwrap();
    assert_eq!(h.reverse_step(&mut m, 0).unwrap(), Outcome::Stop(Stop::Reached));
    assert_eq!(h.reverse_step(&mut m, 0).unwrap(), Outcome::Stop(Stop::Reached));
    assert_eq!(m.position(), 0);
    assert_eq!(h.reverse_step(&mut m, 0).unwrap(), Outcome::StartOfHistory);
    assert_eq!(m.position(), 0);
}

/// Every (position, stop) a forward run with these breakpoints and watchpoints sees.
fn forward_hits(name: &str, bps: &[u32], wps: &[Watchpoint]) -> Vec<(u64, Stop)> {
    let mut m = machine(name, &Output::default());
    m.set_breakpoints(bps);
    m.set_watchpoints(wps);
    let mut hits = Vec::new();
    loop {
        let stop = m.run_until(&RunGoal::default(), &mut || false).unwrap();
        match stop {
            Stop::Breakpoint { cpu } => {
                hits.push((m.position(), stop));
                let pc = m.cpu(cpu).unwrap().pc();
                m.skip_breakpoint_once(cpu, pc);
            }
            Stop::Watchpoint { cpu, .. } => {
                hits.push((m.position(), stop));
                let n = m.cpu(cpu).unwrap().instructions();
                m.set_watchpoints(&[]);
                m.run_until(
                    &RunGoal {
                        cpu_instructions: Some((cpu, n + 1)),
                        ..RunGoal::default()
                    },
                    &mut || false,
                )
                .unwrap();
                m.set_watchpoints(wps);
            }
            Stop::Ended(_) => return hits,
            other => panic!("{other:?}"),
        }
    }
}

fn check_reverse_continue(name: &str, bps: &[u32], wps: &[Watchpoint], config: HistoryConfig) {
    let expected = forward_hits(name, bps, wps);
    eprintln!("{name}: {} hits", expected.len());
    assert!(expected.len() >= 2, "{name}: only {} hits", expected.len());
    let mut m = machine(name, &Output::default());
    let mut h = History::new(&mut m, config);
    run_to_end(&mut h, &mut m);
    m.set_breakpoints(bps);
    m.set_watchpoints(wps);
    // A thinned history may have dropped its oldest part.
    let start = h.stats().start;
    let reachable: Vec<_> = expected.iter().filter(|(p, _)| *p >= start).collect();
    assert!(!reachable.is_empty());
    for (position, stop) in reachable.into_iter().rev() {
        let out = h.reverse_continue(&mut m, &mut || false).unwrap();
        assert_eq!(out, Outcome::Stop(*stop));
        assert_eq!(m.position(), *position);
        assert_eq!(m.state_hash(), fresh_hash(name, *position), "{name} at {position}");
    }
    assert_eq!(
        h.reverse_continue(&mut m, &mut || false).unwrap(),
        Outcome::StartOfHistory
    );
}

/// The address of the `irqs++` store's variable and the IRQ vector, found from the program's
/// symbols would be nicer; the vector table sits at the load address.
fn vector_irq(name: &str) -> u32 {
    let data = std::fs::read(firmware(name)).unwrap();
    let entry = u32::from_le_bytes(data[24..28].try_into().unwrap());
    (entry & !0xfff) + 0x18
}

#[test]
fn reverse_continue_finds_every_breakpoint_hit_backwards() {
    check_reverse_continue("wfi", &[vector_irq("wfi")], &[], small());
}

#[test]
fn reverse_continue_finds_every_watchpoint_hit_backwards() {
    // The stack just below the initial stack pointer is written by every call.
    let mut m = machine("exceptions", &Output::default());
    m.run_until(
        &RunGoal {
            position: Some(200),
            ..RunGoal::default()
        },
        &mut || false,
    )
    .unwrap();
    let sp = m.read_register(0, 13).unwrap() as u32;
    let w = Watchpoint {
        addr: sp - 8,
        len: 4,
        kind: WatchKind::Write,
    };
    check_reverse_continue("exceptions", &[], &[w], small());
}

#[test]
fn a_tight_budget_thins_the_history_and_stays_exact() {
    let tight = HistoryConfig {
        spacing: 5_000,
        fine_spacing: 1_000,
        summary_spacing: 1_000,
        budget: 60 << 10,
    };
    check_reverse_continue("wfi", &[vector_irq("wfi")], &[], tight);
    let mut m = machine("wfi", &Output::default());
    let mut h = History::new(&mut m, tight);
    let end = run_to_end(&mut h, &mut m);
    let stats = h.stats();
    eprintln!("{stats:?} after {end} instructions");
    assert!(stats.bytes <= tight.budget, "{stats:?}");
    assert!(
        stats.start > 0 && (stats.checkpoints as u64) < end / tight.spacing,
        "{stats:?}: the history was thinned"
    );
    for p in [end - 3, stats.start + 10, (stats.start + end) / 2] {
        h.seek(&mut m, p).unwrap();
        assert_eq!(m.state_hash(), fresh_hash("wfi", p), "position {p}");
    }
}

#[test]
fn merged_checkpoints_keep_the_history_exact() {
    // Find what the whole history costs unthinned, then give it three quarters of that:
    // merging old neighbours must be enough, and nothing may be dropped.
    let config = HistoryConfig {
        spacing: 4_000,
        fine_spacing: 1_000,
        summary_spacing: 1_000,
        budget: 1 << 30,
    };
    let mut m = machine("wfi", &Output::default());
    let mut h = History::new(&mut m, config);
    let end = run_to_end(&mut h, &mut m);
    let full = h.stats();
    let tight = HistoryConfig {
        budget: full.bytes * 3 / 4,
        ..config
    };
    let mut m = machine("wfi", &Output::default());
    let mut h = History::new(&mut m, tight);
    run_to_end(&mut h, &mut m);
    let thinned = h.stats();
    assert_eq!(thinned.start, 0, "merging sufficed: {full:?} -> {thinned:?}");
    assert!(thinned.checkpoints < full.checkpoints, "{full:?} -> {thinned:?}");
    assert!(thinned.bytes <= tight.budget, "{thinned:?}");
    for p in [1, 5_000, end / 3, end / 2 + 11, end - 2] {
        h.seek(&mut m, p).unwrap();
        assert_eq!(m.state_hash(), fresh_hash("wfi", p), "position {p}");
    }
}
