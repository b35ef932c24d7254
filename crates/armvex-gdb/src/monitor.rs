//! gdb's `monitor` commands: what armvex can tell and do beyond the remote protocol.
//!
//! | command | what it does |
//! |---|---|
//! | `monitor help` | this list |
//! | `monitor info registers [CPU]` | every register of a CPU: banked registers of all modes, the CP15 registers that decide translation and exceptions, VFP control |
//! | `monitor icount` | the machine's position (instructions retired by all CPUs), each CPU's count, virtual time |
//! | `monitor history` | checkpoints, memory held, the oldest and newest reachable positions |
//! | `monitor seek N` | go to position N of the history (back or forward), stopped before the next instruction |
//! | `monitor snapshot NAME` / `monitor restore NAME` | name the current position; go back (or forward) to it |
//! | `monitor translate ADDR [CPU]` | the physical address a CPU's MMU maps a virtual one to now |
//! | `monitor savevm FILE` | write a snapshot file of the machine as it is now (`armvex run --loadvm FILE` resumes it) |
//! | `monitor screendump FILE` | save what the display (the first CLCD that is on) shows now, as PNG (QEMU's command name) |

use crate::target::Session;
use armvex_cpu::Mode;

/// Run one monitor command; the reply is text for gdb's console.
pub fn run(s: &mut Session<'_>, command: &str) -> String {
    let words: Vec<&str> = command.split_whitespace().collect();
    match words.as_slice() {
        [] | ["help"] => HELP.to_string(),
        ["info", "registers"] | ["info", "reg"] => (0..s.machine.cpus().len())
            .map(|c| registers(s, c))
            .collect::<Vec<_>>()
            .join("\n"),
        ["info", "registers", cpu] | ["info", "reg", cpu] => match cpu.parse::<usize>() {
            Ok(c) if c < s.machine.cpus().len() => registers(s, c),
            _ => format!("no cpu {cpu} (the machine has {})", s.machine.cpus().len()),
        },
        ["icount"] => {
            let counts: Vec<String> = s
                .machine
                .cpus()
                .iter()
                .map(|c| format!("cpu{}: {}", c.index(), c.instructions()))
                .collect();
            format!(
                "position {} (instructions retired by all CPUs); {}; virtual time {} ns",
                s.machine.position(),
                counts.join(", "),
                s.machine.virtual_time()
            )
        }
        ["history"] => {
            let h = s.history.stats();
            format!(
                "history: positions {} to {} reachable, {} checkpoints, {:.1} MiB held; the machine is at {}",
                h.start,
                h.end,
                h.checkpoints,
                h.bytes as f64 / (1 << 20) as f64,
                s.machine.position()
            )
        }
        ["seek", n] => match n.parse::<u64>() {
            Ok(p) => seek(s, p),
            Err(_) => format!("monitor seek: {n} is not a position"),
        },
        ["snapshot", name] => {
            let p = s.machine.position();
            s.history.name_position(name, p);
            format!("snapshot {name}: position {p}")
        }
        ["restore", name] => match s.history.named_position(name) {
            Some(p) => seek(s, p),
            None => format!("no snapshot called {name} in the history (monitor snapshot NAME makes one)"),
        },
        ["translate", addr] | ["translate", addr, _] => {
            let cpu = words.get(2).and_then(|c| c.parse::<usize>().ok()).unwrap_or(0);
            match parse_number(addr) {
                Some(va) => match s.machine.translate(cpu, va) {
                    Some(pa) => format!("cpu{cpu}: virtual {va:#010x} is physical {pa:#010x}"),
                    None => format!("cpu{cpu}: virtual {va:#010x} is not mapped"),
                },
                None => format!("monitor translate: {addr} is not an address"),
            }
        }
        ["savevm", file] => match armvex_snapshot::save(s.machine, std::path::Path::new(file)) {
            Ok(r) => format!(
                "snapshot {file} at instruction {}: {:.1} MB in {:.2} s (resume it with armvex run --loadvm {file})",
                s.machine.position(),
                r.bytes as f64 / 1e6,
                r.seconds
            ),
            Err(e) => format!("savevm: {e}"),
        },
        ["screendump", file] => match s.machine.save_screenshot(std::path::Path::new(file)) {
            Ok(what) => format!("screendump {file}: {what}"),
            Err(e) => e.to_string(),
        },
        _ => format!("unknown monitor command '{command}' (monitor help lists them)"),
    }
}

/// A number as gdb users write them: decimal or 0x hexadecimal.
fn parse_number(text: &str) -> Option<u32> {
    match text.strip_prefix("0x").or_else(|| text.strip_prefix("0X")) {
        Some(hex) => u32::from_str_radix(hex, 16).ok(),
        None => text.parse().ok(),
    }
}

fn seek(s: &mut Session<'_>, p: u64) -> String {
    let h = s.history.stats();
    if p < h.start || p > h.end {
        return format!("position {p} is outside the history ({} to {})", h.start, h.end);
    }
    match s.history.seek(s.machine, p) {
        Ok(()) => format!("at position {p} (gdb: use `flushregs` or `maint flush register-cache` to see it)"),
        Err(e) => format!("seek: {e}"),
    }
}

const HELP: &str = "armvex monitor commands:
  info registers [CPU]  every register of each CPU (or of CPU), banked and CP15 included
  icount                the machine's position and each CPU's instruction count
  history               what reverse execution holds
  seek N                go to position N (instructions retired by all CPUs)
  snapshot NAME         name the current position
  restore NAME          go to a named position
  translate ADDR [CPU]  the physical address a virtual one maps to now
  savevm FILE           write a snapshot file (resume it with armvex run --loadvm FILE)
  screendump FILE       save what the display shows now, as PNG";

/// Every register of CPU `c`, as `monitor info registers` shows them.
fn registers(s: &Session<'_>, c: usize) -> String {
    let Some(cpu) = s.machine.cpu(c) else {
        return format!("no cpu {c}");
    };
    let mut out = format!(
        "cpu{c} ({} mode, {}, {} instructions retired)\n",
        cpu.mode().name(),
        if cpu.is_thumb() { "Thumb" } else { "ARM" },
        cpu.instructions()
    );
    for r in 0..16 {
        out.push_str(&format!(
            "{:>4} {:08x}{}",
            [
                "r0", "r1", "r2", "r3", "r4", "r5", "r6", "r7", "r8", "r9", "r10", "r11", "r12", "sp", "lr", "pc"
            ][r],
            cpu.register(r),
            if r % 4 == 3 { "\n" } else { "  " }
        ));
    }
    let cpsr = cpu.cpsr();
    let bit = |b: u32, c: char| if cpsr & (1 << b) != 0 { c } else { '-' };
    out.push_str(&format!(
        "cpsr {cpsr:08x} (flags {}{}{}{}, masked {}{}{})",
        bit(31, 'N'),
        bit(30, 'Z'),
        bit(29, 'C'),
        bit(28, 'V'),
        bit(8, 'A'),
        bit(7, 'I'),
        bit(6, 'F'),
    ));
    if let Some(spsr) = cpu.spsr() {
        out.push_str(&format!("  spsr {spsr:08x}"));
    }
    out.push('\n');
    // The banked registers: each mode's SP, LR and SPSR (the current mode's are live above).
    let b = cpu.banked_registers();
    for m in [
        Mode::User,
        Mode::Fiq,
        Mode::Irq,
        Mode::Supervisor,
        Mode::Abort,
        Mode::Undefined,
        Mode::Monitor,
    ] {
        let (sp, lr) = if m.bank() == cpu.mode().bank() {
            (cpu.register(13), cpu.register(14))
        } else {
            (b.sp[m.bank()], b.lr[m.bank()])
        };
        out.push_str(&format!("  {:<4} sp {sp:08x} lr {lr:08x}", m.name()));
        if m.has_spsr() {
            out.push_str(&format!(" spsr {:08x}", b.spsr[m.bank()]));
        }
        out.push('\n');
    }
    let fiq = if cpu.mode() == Mode::Fiq {
        b.r8_12_usr
    } else {
        b.r8_12_fiq
    };
    out.push_str(&format!(
        "  r8-r12 of the other bank ({}): {}\n",
        if cpu.mode() == Mode::Fiq { "usr" } else { "fiq" },
        fiq.iter().map(|v| format!("{v:08x}")).collect::<Vec<_>>().join(" ")
    ));
    let p = &cpu.cp15;
    out.push_str(&format!(
        "cp15 sctlr {:08x} (MMU {}) ttbr0 {:08x} ttbr1 {:08x} ttbcr {:08x} dacr {:08x}\n",
        p.sctlr,
        if p.sctlr & 1 != 0 { "on" } else { "off" },
        p.ttbr0,
        p.ttbr1,
        p.ttbcr,
        p.dacr
    ));
    out.push_str(&format!(
        "     dfsr {:08x} dfar {:08x} ifsr {:08x} ifar {:08x} vbar {:08x} contextidr {:08x}\n",
        p.dfsr, p.dfar, p.ifsr, p.ifar, p.vbar, p.contextidr
    ));
    out.push_str(&format!(
        "     scr {:08x} ({}) mvbar {:08x} cpacr {:08x} par {:08x} tpidrprw {:08x}\n",
        p.scr,
        if p.nonsecure { "Non-secure" } else { "Secure" },
        p.mvbar,
        p.cpacr,
        p.par,
        p.tpidrprw
    ));
    out.push_str(&format!(
        "vfp  fpscr {:08x} fpexc {:08x}\n",
        cpu.vfp.fpscr, cpu.vfp.fpexc
    ));
    out
}
