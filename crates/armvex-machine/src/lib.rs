//! # armvex-machine: the Versatile Express boards
//!
//! A [`Machine`] is built from a board description ([`board`]): it maps the memories, creates
//! the CPUs, places the devices on the bus and loads the kernel ([`loader`]). [`Machine::run`]
//! then drives everything:
//!
//! * **One host thread, fixed order.** Time advances in *rounds*. In each round every CPU, in
//!   index order, runs the same number of instructions (a *quantum*), unless it is waiting
//!   (WFI/WFE). Virtual time is counted in nanoseconds, one instruction each.
//! * **Exact device times.** A round never runs past the earliest device deadline, so a timer
//!   fires at exactly its virtual time, between rounds.
//! * **Idle skipping.** When every CPU waits for an interrupt, time jumps straight to the next
//!   deadline: an idle guest costs no host time.
//!
//! Nothing here reads the host clock or depends on host timing, so the same inputs give the
//! same instruction count and output on every run.

pub mod board;
pub mod boot;
pub mod console;
pub mod devices;
pub mod loader;

use armvex_bus::{Bus, MachineRequest, PhysicalMemory, RamAliasSpec, RamRegionSpec};
use armvex_cpu::{CodeCache, Cpu, CpuConfig, CpuModel, Exit, Features, Tracer};
use armvex_semihosting::{Console, HeapInfo, Outcome, Semihosting};
use board::{Board, parse_size};
use console::{HostEvent, HostInput};
use devices::DriveSpec;
use std::path::PathBuf;
use std::time::Instant;

/// Instructions each CPU runs per round (at most).
const QUANTUM: u64 = 100_000;

/// How to build a machine.
pub struct MachineConfig {
    /// Board name ("vexpress-a9", "vexpress-a15").
    pub machine: String,
    /// RAM size in bytes (`None`: the board's default).
    pub memory: Option<u64>,
    /// Number of CPUs.
    pub smp: usize,
    /// The program or kernel to load: an ELF program runs bare-metal from its entry point;
    /// anything else is booted as a Linux kernel.
    pub kernel: PathBuf,
    /// Linux: an initial RAM disk.
    pub initrd: Option<PathBuf>,
    /// Linux: the device tree blob to patch and pass.
    pub dtb: Option<PathBuf>,
    /// Linux: the kernel command line.
    pub append: String,
    /// Enable semihosting, with this console.
    pub semihosting: Option<Console>,
    /// What SYS_GET_CMDLINE returns.
    pub cmdline: String,
    /// Where UART0 (the console) writes.
    pub console: Box<dyn std::io::Write>,
    /// Host input: console bytes and the RTC start time (live, replayed, or none).
    pub input: HostInput,
    /// Disk images for the virtio-mmio transports.
    pub drives: Vec<DriveSpec>,
    /// Modern (version 2) virtio-mmio transports rather than legacy (version 1).
    pub virtio_modern: bool,
    /// Stop after this many instructions in total (a debugging aid).
    pub max_instructions: Option<u64>,
    /// Write an instruction trace here.
    pub trace: Option<Box<dyn std::io::Write + Send>>,
}

/// Figures for `--stats`.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct Stats {
    /// Instructions retired by all CPUs.
    pub instructions: u64,
    /// Host seconds spent in [`Machine::run`].
    pub host_seconds: f64,
    /// Virtual time at the end, in nanoseconds.
    pub virtual_ns: u64,
    /// Pages of code decoded.
    pub pages_decoded: u64,
}

impl Stats {
    /// Millions of instructions per host second.
    pub fn mips(&self) -> f64 {
        if self.host_seconds > 0.0 {
            self.instructions as f64 / self.host_seconds / 1e6
        } else {
            0.0
        }
    }
}

/// Why a run ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RunEnd {
    /// The guest asked to exit (semihosting SYS_EXIT) with this status.
    Exit(i32),
    /// The guest powered the board off (SYS_CFG SHUTDOWN).
    PowerOff,
    /// The guest asked for a reboot (SYS_CFG REBOOT).
    Reboot,
    /// The user quit (Ctrl-A X).
    Quit,
    /// `max_instructions` were retired.
    InstructionLimit,
}

/// A CPU's scheduling state.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum CpuState {
    Running,
    WaitingForInterrupt,
    WaitingForEvent,
}

/// A Versatile Express machine.
pub struct Machine {
    pub board: Board,
    cpus: Vec<Cpu>,
    states: Vec<CpuState>,
    bus: Bus,
    code: CodeCache,
    semihosting: Option<Semihosting>,
    input: HostInput,
    console_uart: Option<armvex_bus::DeviceId>,
    max_instructions: Option<u64>,
    stats: Stats,
}

impl Machine {
    /// Build the machine and load the kernel. Errors are one-line messages for the user.
    pub fn new(config: MachineConfig) -> Result<Machine, String> {
        let board = Board::by_name(&config.machine)?;
        let model = match board.cpu.as_str() {
            "cortex-a9" => CpuModel::CortexA9,
            "cortex-a15" => CpuModel::CortexA15,
            other => return Err(format!("board {} names unknown CPU {other}", board.name)),
        };
        if config.smp == 0 || config.smp > board.max_cpus {
            return Err(format!(
                "{} takes 1 to {} CPUs, not {}",
                board.name, board.max_cpus, config.smp
            ));
        }
        let ram_size = config.memory.unwrap_or_else(|| board.default_ram_size());
        if ram_size > board.max_ram_size() {
            return Err(format!(
                "{} cannot have more than {} MiB of RAM (asked for {} MiB)",
                board.name,
                board.max_ram_size() >> 20,
                ram_size >> 20
            ));
        }
        if ram_size % 4096 != 0 {
            return Err("RAM size must be a multiple of 4 KiB".into());
        }
        let mut regions = vec![RamRegionSpec {
            name: "ram".into(),
            base: board.ram.base,
            size: ram_size as u32,
        }];
        for m in &board.memory {
            regions.push(RamRegionSpec {
                name: m.name.clone(),
                base: m.base,
                size: parse_size(&m.size)? as u32,
            });
        }
        let mut aliases = Vec::new();
        for m in &board.memory {
            if let Some(base) = m.alias_base {
                aliases.push(RamAliasSpec {
                    of: m.name.clone(),
                    base,
                    size: parse_size(&m.size)? as u32,
                });
            }
        }
        let mut memory = PhysicalMemory::with_aliases(&regions, &aliases)?;
        for m in board.memory.iter().filter(|m| m.read_only) {
            memory.set_read_only(&m.name)?;
        }
        let linux = !loader::is_elf(&config.kernel)?;
        let (image, secondary_entry) = if linux {
            let layout = boot::load_linux(
                &mut memory,
                &boot::LinuxBootFiles {
                    kernel: &config.kernel,
                    initrd: config.initrd.as_deref(),
                    dtb: config.dtb.as_deref(),
                    cmdline: &config.append,
                },
                &boot_info(&board, ram_size, config.smp)?,
            )?;
            (layout.image, layout.secondary_stub)
        } else {
            if config.initrd.is_some() || config.dtb.is_some() {
                return Err("--initrd and --dtb are for Linux kernels, not ELF programs".into());
            }
            let image = loader::load_elf_program(&config.kernel, &mut memory)?;
            let entry = image.entry;
            (image, entry)
        };
        let mut bus = Bus::new(memory);
        let start_time = config.input.start_time;
        let board_devices = devices::build(
            &board,
            &mut bus,
            config.smp,
            devices::DeviceHostSetup {
                console: config.console,
                rtc_start: start_time,
                virtio_modern: config.virtio_modern,
                drives: config.drives,
            },
        )?;

        let semihosting_on = config.semihosting.is_some();
        let mut cpus: Vec<Cpu> = (0..config.smp)
            .map(|index| {
                Cpu::new(CpuConfig {
                    model,
                    index,
                    cluster_size: config.smp,
                    semihosting: semihosting_on,
                })
            })
            .collect();
        // Bare-metal ELF: every CPU starts at the entry point (secondaries are the program's
        // business). Linux: CPU 0 runs the boot stub, the others the secondary stub.
        for (i, cpu) in cpus.iter_mut().enumerate() {
            cpu.set_pc_interworking(if i == 0 { image.entry } else { secondary_entry });
        }
        if let Some(out) = config.trace {
            if config.smp > 1 {
                return Err("--trace supports one CPU for now".into());
            }
            cpus[0].set_tracer(Some(Tracer::new(out)?));
        }
        let ram_end = u64::from(board.ram.base) + ram_size;
        let (heap_start, heap_end) = loader::largest_gap(board.ram.base, ram_end, &image.ranges);
        let semihosting = config.semihosting.map(|console| {
            Semihosting::new(
                console,
                config.cmdline.clone(),
                HeapInfo::from_gap(heap_start, heap_end),
                start_time,
            )
        });
        let code = CodeCache::new(bus.memory.total_pages(), Features::for_model(model, semihosting_on));
        Ok(Machine {
            board,
            states: vec![CpuState::Running; cpus.len()],
            cpus,
            bus,
            code,
            semihosting,
            input: config.input,
            console_uart: board_devices.console_uart,
            max_instructions: config.max_instructions,
            stats: Stats::default(),
        })
    }

    /// Give back the host input (to build the machine again after a reboot).
    pub fn into_input(self) -> HostInput {
        self.input
    }

    /// The CPUs.
    pub fn cpus(&self) -> &[Cpu] {
        &self.cpus
    }

    /// Statistics so far.
    pub fn stats(&self) -> Stats {
        Stats {
            instructions: self.cpus.iter().map(Cpu::instructions).sum(),
            virtual_ns: self.bus.clock.now(),
            pages_decoded: self.code.pages_decoded,
            ..self.stats
        }
    }

    /// Whether CPU `i` has something to wake it from WFI/WFE.
    fn wake_pending(&self, i: usize) -> bool {
        self.bus.irq.cpu_irq(i) || self.bus.irq.cpu_fiq(i)
    }

    /// Run until the guest exits. Errors are one-line messages (e.g. a guest that waits for an
    /// interrupt that can never come).
    pub fn run(&mut self) -> Result<RunEnd, String> {
        let started = Instant::now();
        let result = self.run_rounds();
        self.stats.host_seconds += started.elapsed().as_secs_f64();
        if let Some(sh) = self.semihosting.as_mut() {
            sh.flush();
        }
        result
    }

    /// The earliest device or CPU-timer deadline.
    fn next_deadline(&self, now: u64) -> Option<u64> {
        let devices = self.bus.clock.next_deadline().map(|(_, t)| t);
        self.cpus
            .iter()
            .filter_map(|c| c.timer_deadline(now))
            .chain(devices)
            .min()
    }

    /// Advance virtual time to `t`: fire device timers and update the CPUs' timer outputs.
    fn advance_to(&mut self, t: u64) {
        self.bus.run_due_timers(t);
        for cpu in &mut self.cpus {
            cpu.update_timer_outputs(&mut self.bus, t);
        }
    }

    /// Act on power-off and reboot requests from devices.
    fn handle_requests(&mut self) -> Option<RunEnd> {
        // The first request wins; anything after a power-off or reboot is moot.
        let first = self.bus.requests.drain(..).next()?;
        Some(match first {
            MachineRequest::PowerOff => RunEnd::PowerOff,
            MachineRequest::Reboot => RunEnd::Reboot,
        })
    }

    /// Deliver host input due at `now`; `Some` if the user quit.
    fn deliver_input(&mut self, now: u64) -> Option<RunEnd> {
        for event in self.input.take(now) {
            match event {
                HostEvent::Console(bytes) => {
                    if let Some(uart) = self.console_uart {
                        self.bus.deliver_host_input(uart, &bytes);
                    }
                }
                HostEvent::Quit => return Some(RunEnd::Quit),
            }
        }
        None
    }

    fn run_rounds(&mut self) -> Result<RunEnd, String> {
        loop {
            let now = self.bus.clock.now();
            if let Some(end) = self.deliver_input(now) {
                return Ok(end);
            }
            if self
                .max_instructions
                .is_some_and(|m| self.cpus.iter().map(Cpu::instructions).sum::<u64>() >= m)
            {
                return Ok(RunEnd::InstructionLimit);
            }
            let deadline = self.next_deadline(now);
            let quantum = deadline.map_or(QUANTUM, |d| d.saturating_sub(now).clamp(1, QUANTUM));
            let mut anyone_ran = false;
            for i in 0..self.cpus.len() {
                match self.states[i] {
                    CpuState::Running => {}
                    CpuState::WaitingForInterrupt if self.wake_pending(i) => self.states[i] = CpuState::Running,
                    CpuState::WaitingForEvent if self.wake_pending(i) || self.cpus[i].take_event() => {
                        self.states[i] = CpuState::Running
                    }
                    _ => continue,
                }
                anyone_ran = true;
                if let Some(end) = self.run_cpu(i, now, quantum)? {
                    return Ok(end);
                }
            }
            if let Some(end) = self.handle_requests() {
                return Ok(end);
            }
            if anyone_ran {
                self.advance_to(now + quantum);
                continue;
            }
            // Every CPU waits: jump to the next device event or replayed input, if there is
            // one; with a live console, wait for the user.
            let deadline = match (deadline, self.input.next_replay_time()) {
                (Some(a), Some(b)) => Some(a.min(b)),
                (a, b) => a.or(b),
            };
            match deadline {
                Some(t) => self.advance_to(t.max(now)),
                None if self.input.wait() => {}
                None => {
                    return Err(format!(
                        "all CPUs are waiting for an interrupt and no device can raise one (pc {:#010x})",
                        self.cpus[0].pc()
                    ));
                }
            }
        }
    }

    /// Run CPU `i` for up to `quantum` instructions starting at virtual time `now`.
    fn run_cpu(&mut self, i: usize, now: u64, quantum: u64) -> Result<Option<RunEnd>, String> {
        let start = self.cpus[i].instructions();
        loop {
            let done = self.cpus[i].instructions() - start;
            if done >= quantum {
                return Ok(None);
            }
            let exit = self.cpus[i].run(&mut self.bus, &mut self.code, quantum - done, now + done);
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
                    let t = now + (self.cpus[i].instructions() - start);
                    let Some(sh) = self.semihosting.as_mut() else {
                        return Err("semihosting call without --semihosting".into());
                    };
                    if let Outcome::Exit(status) = sh.handle(&mut self.cpus[i], &mut self.bus, t) {
                        return Ok(Some(RunEnd::Exit(status)));
                    }
                }
                Exit::WaitForInterrupt => {
                    if !self.wake_pending(i) {
                        self.states[i] = CpuState::WaitingForInterrupt;
                        return Ok(None);
                    }
                }
                Exit::WaitForEvent => {
                    if !self.wake_pending(i) {
                        self.states[i] = CpuState::WaitingForEvent;
                        return Ok(None);
                    }
                }
            }
        }
    }
}

/// The facts of `board` the Linux boot protocol needs.
fn boot_info(board: &Board, ram_size: u64, cpus: usize) -> Result<boot::BoardBootInfo, String> {
    let psram = board
        .memory("psram")
        .ok_or("the board has no PSRAM for the secondary CPUs' boot stub")?;
    let sysregs = board.device("sysregs").ok_or("the board has no system registers")?;
    let virtio = board
        .device
        .iter()
        .filter(|d| d.kind == "virtio-mmio")
        .map(|d| (d.base, d.size.unwrap_or(0x200), d.spi.first().copied().unwrap_or(0)))
        .collect();
    Ok(boot::BoardBootInfo {
        ram_base: board.ram.base,
        ram_size,
        machine_id: board.machine_id,
        smp_loader: psram.base,
        boot_register: sysregs.base + 0x30,
        gic_cpu_interface: board.mpcore.base + board.mpcore.gic_cpu_offset,
        virtio,
        cpus: cpus as u32,
    })
}
