//! A guest profiler: where the guest's instructions go (`armvex run --profile FILE`).
//!
//! The machine is stopped every *period* instructions (about 10,000, varied by a fixed
//! pseudo-random sequence so that no loop of the guest beats in step with it), exactly as a
//! debugger stops it — so profiling changes nothing the guest does. At each stop, the CPU about
//! to run its next instruction is sampled: its PC and its mode. Each sample stands for the
//! instructions retired since the previous one. The stops are at fixed positions, so the same
//! run gives the same profile, to the instruction.
//!
//! Samples are attributed to symbols when the user gives some — an ELF file's symbol table, a
//! `System.map`, or a `/proc/kallsyms` dump (`tools/guest/kallsyms` makes one for the Debian
//! guest) — and to 4 KiB address ranges otherwise. Modes: *user* (User mode), *kernel*
//! (Supervisor, System, Abort, Undefined, Monitor), *irq* (IRQ and FIQ). Time a CPU spends
//! waiting in WFI retires no instructions; it is counted apart, as *idle* virtual time.
//!
//! The report ([`Profile::report`]) lists symbols by instructions, with each one's split by
//! CPU and mode; [`Profile::folded`] writes `cpuN;mode;symbol count` lines, the "folded stacks"
//! input of flame-graph tools (one frame deep: guest call stacks are not unwound).

use crate::error::MachineError;
use crate::run::{RunGoal, Stop};
use crate::{Machine, RunEnd};
use armvex_cpu::Mode;
use std::collections::HashMap;
use std::path::Path;

/// Where a sample's instructions are counted.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum CpuMode {
    User,
    Kernel,
    Irq,
}

impl CpuMode {
    fn of(mode: Mode) -> CpuMode {
        match mode {
            Mode::User => CpuMode::User,
            Mode::Irq | Mode::Fiq => CpuMode::Irq,
            _ => CpuMode::Kernel,
        }
    }

    fn name(self) -> &'static str {
        match self {
            CpuMode::User => "user",
            CpuMode::Kernel => "kernel",
            CpuMode::Irq => "irq",
        }
    }
}

/// Function symbols, sorted by address.
#[derive(Clone, Debug, Default)]
pub struct Symbols {
    /// (address, name), sorted.
    entries: Vec<(u32, String)>,
    /// Where they came from, for the report.
    pub sources: Vec<String>,
}

impl Symbols {
    /// Add the symbols of `path`: an ELF file (its function symbols), or text lines
    /// "ADDRESS TYPE NAME" as in System.map and /proc/kallsyms (text symbols only).
    pub fn load(&mut self, path: &Path) -> Result<(), MachineError> {
        let shown = path.display();
        let data = std::fs::read(path).map_err(|e| format!("cannot read symbols {shown}: {e}"))?;
        let before = self.entries.len();
        if data.starts_with(b"\x7fELF") {
            let elf =
                goblin::elf::Elf::parse(&data).map_err(|e| format!("symbols {shown}: not a valid ELF file ({e})"))?;
            for sym in elf.syms.iter().filter(|s| s.is_function() && s.st_value != 0) {
                if let Some(name) = elf.strtab.get_at(sym.st_name).filter(|n| !n.starts_with('$')) {
                    self.entries.push(((sym.st_value as u32) & !1, name.to_string()));
                }
            }
        } else {
            let text = String::from_utf8_lossy(&data);
            for (n, line) in text.lines().enumerate() {
                let parts: Vec<&str> = line.split_whitespace().collect();
                let (addr, kind, name) = match parts.as_slice() {
                    [a, k, name] | [a, k, name, _] => (a, k, name),
                    [] => continue,
                    _ => return Err(format!("symbols {shown}, line {}: expected ADDRESS TYPE NAME", n + 1).into()),
                };
                let addr = u32::from_str_radix(addr, 16)
                    .map_err(|_| format!("symbols {shown}, line {}: {addr} is not an address", n + 1))?;
                // ARM mapping symbols ($a, $t, $d) mark code and data, not functions.
                if matches!(*kind, "T" | "t" | "W" | "w") && addr != 0 && !name.starts_with('$') {
                    let name = match parts.get(3) {
                        Some(module) => format!("{name} {module}"),
                        None => name.to_string(),
                    };
                    self.entries.push((addr, name));
                }
            }
        }
        if self.entries.len() == before {
            return Err(format!("symbols {shown}: no function symbols in it").into());
        }
        self.entries.sort();
        self.entries.dedup_by_key(|(a, _)| *a);
        self.sources
            .push(format!("{shown} ({} functions)", self.entries.len() - before));
        Ok(())
    }

    /// The function holding `pc`: the nearest symbol at or below it, if one is within 64 KiB
    /// (past that, the address is not in any function the symbols know).
    pub fn lookup(&self, pc: u32) -> Option<&str> {
        let i = self.entries.partition_point(|(a, _)| *a <= pc).checked_sub(1)?;
        let (addr, name) = &self.entries[i];
        (pc - addr < 0x1_0000).then_some(name.as_str())
    }
}

/// Instructions by (CPU, mode).
type Split = HashMap<(usize, CpuMode), u64>;

/// Samples taken so far.
pub struct Profile {
    /// Mean instructions between samples.
    pub period: u64,
    /// (cpu, mode, pc) → instructions.
    counts: HashMap<(usize, CpuMode, u32), u64>,
    samples: u64,
    /// The position of the last sample, and the next.
    last: u64,
    next: u64,
    rng: u64,
}

impl Profile {
    /// Sample every `period` instructions on average (at least 64).
    pub fn new(period: u64) -> Profile {
        let period = period.max(64);
        Profile {
            period,
            counts: HashMap::new(),
            samples: 0,
            last: 0,
            next: period,
            rng: 0x2545_f491_4f6c_dd1d,
        }
    }

    /// The next gap: the period ± 50%, from a fixed xorshift sequence.
    fn gap(&mut self) -> u64 {
        self.rng ^= self.rng << 13;
        self.rng ^= self.rng >> 7;
        self.rng ^= self.rng << 17;
        self.period / 2 + self.rng % self.period.max(1)
    }

    /// Take one sample of `machine`, stopped before its next instruction.
    fn sample(&mut self, machine: &Machine) {
        let position = machine.position();
        let cpu = machine.round.cpu.min(machine.cpus.len() - 1);
        let c = &machine.cpus[cpu];
        let pc = c.pc();
        *self.counts.entry((cpu, CpuMode::of(c.mode()), pc)).or_insert(0) += position - self.last;
        self.samples += 1;
        self.last = position;
    }

    /// Instructions counted so far.
    pub fn instructions(&self) -> u64 {
        self.counts.values().sum()
    }

    /// The profile as a sorted text report.
    pub fn report(&self, machine: &Machine, symbols: &Symbols) -> String {
        let total = self.instructions().max(1);
        let mut by_symbol: HashMap<String, (u64, Split)> = HashMap::new();
        let mut by_mode: HashMap<CpuMode, u64> = HashMap::new();
        for (&(cpu, mode, pc), &n) in &self.counts {
            let name = label(symbols, pc);
            let e = by_symbol.entry(name).or_default();
            e.0 += n;
            *e.1.entry((cpu, mode)).or_insert(0) += n;
            *by_mode.entry(mode).or_insert(0) += n;
        }
        let mut rows: Vec<_> = by_symbol.into_iter().collect();
        rows.sort_by(|a, b| b.1.0.cmp(&a.1.0).then(a.0.cmp(&b.0)));
        let mut out = format!(
            "armvex profile: {} instructions on {} CPU(s), {} samples (one every ~{} instructions)\n",
            machine.position(),
            machine.cpus.len(),
            self.samples,
            self.period
        );
        out.push_str(&format!(
            "symbols: {}\n",
            if symbols.sources.is_empty() {
                "none (4 KiB address ranges)".to_string()
            } else {
                symbols.sources.join(", ")
            }
        ));
        let mut modes: Vec<_> = by_mode.into_iter().collect();
        modes.sort();
        out.push_str("by mode:");
        for (m, n) in modes {
            out.push_str(&format!(" {} {:.1}%", m.name(), 100.0 * n as f64 / total as f64));
        }
        out.push('\n');
        let virtual_ns = machine.virtual_time().max(1);
        out.push_str("idle (waiting in WFI/WFE), in virtual time:");
        for (i, ns) in machine.idle_ns.iter().enumerate() {
            out.push_str(&format!(
                " cpu{i} {:.3} s ({:.1}%)",
                *ns as f64 / 1e9,
                100.0 * *ns as f64 / virtual_ns as f64
            ));
        }
        out.push_str(&format!(" of {:.3} s\n\n", virtual_ns as f64 / 1e9));
        out.push_str("  instructions   share  cumul.  symbol  [cpu/mode split]\n");
        let mut cumulative = 0u64;
        for (name, (n, split)) in rows {
            cumulative += n;
            let mut split: Vec<_> = split.into_iter().collect();
            split.sort_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(&b.0)));
            let split: Vec<String> = split
                .iter()
                .map(|((cpu, mode), k)| format!("cpu{cpu}/{} {:.0}%", mode.name(), 100.0 * *k as f64 / n as f64))
                .collect();
            out.push_str(&format!(
                "{n:>14} {:>6.2}% {:>6.1}%  {name}  [{}]\n",
                100.0 * n as f64 / total as f64,
                100.0 * cumulative as f64 / total as f64,
                split.join(", ")
            ));
        }
        out
    }

    /// `cpuN;mode;symbol count` lines for flame-graph tools, sorted.
    pub fn folded(&self, symbols: &Symbols) -> String {
        let mut lines: HashMap<String, u64> = HashMap::new();
        for (&(cpu, mode, pc), &n) in &self.counts {
            let name = label(symbols, pc).replace([';', ' '], "_");
            *lines.entry(format!("cpu{cpu};{};{name}", mode.name())).or_insert(0) += n;
        }
        let mut lines: Vec<_> = lines.into_iter().collect();
        lines.sort();
        lines.into_iter().map(|(k, n)| format!("{k} {n}\n")).collect()
    }
}

/// The symbol of `pc`, or its 4 KiB range.
fn label(symbols: &Symbols, pc: u32) -> String {
    match symbols.lookup(pc) {
        Some(name) => name.to_string(),
        None => format!("[{:#010x}-{:#010x}]", pc & !0xfff, (pc & !0xfff) + 0xfff),
    }
}

impl Machine {
    /// [`Machine::run`] with the profiler sampling it (see the module docs).
    pub fn run_profiled(&mut self, profile: &mut Profile) -> Result<RunEnd, MachineError> {
        let started = std::time::Instant::now();
        profile.last = self.position();
        profile.next = profile.last + profile.gap();
        let result = loop {
            // The instruction limit is the machine's own (it ends the run there).
            let position = Some(profile.next);
            match self.run_until(
                &RunGoal {
                    position,
                    ..RunGoal::default()
                },
                &mut || false,
            ) {
                Ok(Stop::Ended(end)) => break Ok(end),
                Ok(Stop::Reached) => {
                    profile.sample(self);
                    profile.next = self.position() + profile.gap();
                }
                Ok(_) => {}
                Err(e) => break Err(e),
            }
        };
        // What ran since the last sample counts there too.
        if self.position() > profile.last {
            profile.sample(self);
        }
        self.stats.host_seconds += started.elapsed().as_secs_f64();
        self.flush_output();
        result
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn symbols_from_kallsyms_text() {
        let path = std::env::temp_dir().join(format!("armvex-syms-{}", std::process::id()));
        std::fs::write(
            &path,
            "c0008000 T stext\nc0100000 t helper\nc0200000 D data\nbf000000 t mod_init [virtio_blk]\nbf000100 t $a [virtio_blk]\n",
        )
        .unwrap();
        let mut s = Symbols::default();
        s.load(&path).unwrap();
        assert_eq!(s.lookup(0xc0100010), Some("helper"));
        assert_eq!(s.lookup(0xc0008000), Some("stext"));
        assert_eq!(s.lookup(0xbf000004), Some("mod_init [virtio_blk]"));
        assert_eq!(
            s.lookup(0xbf000104),
            Some("mod_init [virtio_blk]"),
            "$a is a mapping symbol"
        );
        assert_eq!(
            s.lookup(0xc0200000),
            None,
            "data symbols are not functions; too far from helper"
        );
        assert_eq!(s.lookup(0x6000_0000), None);
        std::fs::write(&path, "zz T x\n").unwrap();
        assert!(
            Symbols::default()
                .load(&path)
                .unwrap_err()
                .to_string()
                .contains("not an address")
        );
        std::fs::remove_file(&path).unwrap();
    }

    #[test]
    fn gaps_vary_around_the_period_and_repeat() {
        let mut a = Profile::new(1000);
        let mut b = Profile::new(1000);
        let ga: Vec<u64> = (0..100).map(|_| a.gap()).collect();
        let gb: Vec<u64> = (0..100).map(|_| b.gap()).collect();
        assert_eq!(ga, gb);
        assert!(ga.iter().all(|g| (500..1500).contains(g)));
        let mean = ga.iter().sum::<u64>() / 100;
        assert!((900..1100).contains(&mean), "{mean}");
    }
}
