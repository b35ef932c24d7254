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
//! * **Exact stops.** A debugger can stop the machine before any instruction ([`run`]), look
//!   at it and change it, save its whole state and load it back ([`saved`]); a run that stops
//!   and goes on does exactly what an unbroken run does.
//!
//! Nothing here reads the host clock or depends on host timing, so the same inputs give the
//! same instruction count and output on every run.

pub mod board;
pub mod boot;
pub mod console;
pub mod debug;
pub mod devices;
pub mod dtb;
pub mod error;
pub mod files;
pub mod hostdev;
pub mod inspect;
pub mod loader;
pub mod output;
pub mod profile;
pub mod registers;
pub mod run;
pub mod saved;

use armvex_bus::{Bus, PhysicalMemory, RamAliasSpec, RamRegionSpec};
use armvex_cpu::{CodeCache, Cpu, CpuConfig, CpuModel, DebugControl, Features, Tracer, Watchpoint};
use armvex_semihosting::{Console, HeapInfo, Semihosting};
use board::{Board, parse_size};
use console::HostInput;
use devices::{DriveSpec, Peripherals};
use output::OutputSink;
use run::RoundState;
use serde::{Deserialize, Serialize};
use std::path::PathBuf;

pub use error::MachineError;
pub use run::{RunGoal, Stop};
pub use saved::MachineState;

/// Instructions each CPU runs per round (at most).
const QUANTUM: u64 = 100_000;

/// Bytes of `/chosen/rng-seed` written into a Linux guest's device tree (see
/// [`boot::patch_dtb`]): 512 bits, twice what Linux needs before its CRNG is ready.
pub const DTB_RNG_SEED_BYTES: usize = 64;
/// The `--rng-seed` generator's stream those bytes come from; virtio-rng transports use
/// streams 0, 1, ..., so no card hands out the same bytes.
pub const DTB_RNG_SEED_STREAM: u64 = u64::MAX;

/// How to build a machine.
pub struct MachineConfig {
    /// Board name ("vexpress-a9", "vexpress-a15").
    pub machine: String,
    /// RAM size in bytes (`None`: the board's default).
    pub memory: Option<u64>,
    /// Number of CPUs.
    pub smp: usize,
    /// The program or kernel to load: an ELF program runs bare-metal from its entry point;
    /// anything else is booted as a Linux kernel. Without one every CPU starts at address 0,
    /// in flash 0, as on the hardware (firmware such as U-Boot, given with `--pflash`).
    pub kernel: Option<PathBuf>,
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
    /// The drives' disks already open, in `drives` order (`None`: open them as their options
    /// say). A reboot passes the previous machine's, so that a `snapshot=on` overlay lives as
    /// long as armvex runs, as QEMU's does, not only until the guest reboots.
    pub disks: Option<Vec<armvex_virtio::SharedDisk>>,
    /// Modern (version 2) virtio-mmio transports rather than legacy (version 1).
    pub virtio_modern: bool,
    /// Stop after this many instructions in total (a debugging aid).
    pub max_instructions: Option<u64>,
    /// Write an instruction trace here.
    pub trace: Option<Box<dyn std::io::Write + Send>>,
}

impl MachineConfig {
    /// A bare-metal program on `board`: one CPU, the board's RAM, semihosting on (its console
    /// writing to `output`, no input, an empty SYS_GET_CMDLINE), UART0 and every other output
    /// thrown away, no host input (the RTC starting at 0), no drives, modern virtio. Tests and
    /// tools change the fields they need with struct update syntax
    /// (`MachineConfig { smp: 2, ..MachineConfig::bare_metal(...) }`).
    pub fn bare_metal(board: &str, program: impl Into<PathBuf>, output: Box<dyn std::io::Write>) -> MachineConfig {
        MachineConfig {
            machine: board.into(),
            memory: None,
            smp: 1,
            kernel: Some(program.into()),
            initrd: None,
            dtb: None,
            append: String::new(),
            semihosting: Some(Console {
                output,
                input: None,
                is_tty: false,
            }),
            cmdline: String::new(),
            console: Box::new(std::io::sink()),
            input: HostInput::none(0),
            drives: Vec::new(),
            disks: None,
            virtio_modern: true,
            max_instructions: None,
            trace: None,
        }
    }
}

/// How a machine was built, as plain data: what a snapshot records so that a machine can be
/// built again to take the snapshot's state (`--loadvm` needs no other option). The kernel is
/// not part of it: it is in the saved RAM.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct MachineSetup {
    pub machine: String,
    /// RAM size in bytes.
    pub memory: u64,
    pub smp: usize,
    pub virtio_modern: bool,
    /// Semihosting is on (with this SYS_GET_CMDLINE and SYS_HEAPINFO).
    pub semihosting: Option<(String, [u32; 4])>,
    pub drives: Vec<DriveSpec>,
    /// The RTC's start time (seconds since 1970).
    pub rtc_start: u64,
    /// `--device`, `--netdev`, `--chardev`, `--rng-seed` (empty: only the drives).
    pub peripherals: Peripherals,
}

/// Host resources a machine is built with (not part of its state).
pub struct HostSide {
    /// Where UART0 writes.
    pub console: Box<dyn std::io::Write>,
    /// Semihosting's console, if semihosting is on.
    pub semihosting: Option<Console>,
    pub input: HostInput,
    /// Disk images already opened, one per drive of the setup in order (a resumed snapshot
    /// brings its own); `None` opens each drive's file as its options say.
    pub disks: Option<Vec<armvex_virtio::SharedDisk>>,
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
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
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
    /// armvex was asked to stop by this signal (SIGTERM, SIGHUP, SIGINT, SIGQUIT).
    Signal(i32),
}

/// A CPU's scheduling state.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum CpuActivity {
    Running,
    WaitingForInterrupt,
    WaitingForEvent,
}

/// A Versatile Express machine.
pub struct Machine {
    pub board: Board,
    setup: MachineSetup,
    cpus: Vec<Cpu>,
    states: Vec<CpuActivity>,
    bus: Bus,
    code: CodeCache,
    semihosting: Option<Semihosting>,
    input: HostInput,
    console_uart: Option<armvex_bus::DeviceId>,
    /// The KMIs with the PS/2 keyboard and mouse (host keyboard and mouse input goes there).
    keyboard: Option<armvex_bus::DeviceId>,
    mouse: Option<armvex_bus::DeviceId>,
    /// Each CLCD's name and registers (screenshots).
    displays: Vec<(String, armvex_devices::Display)>,
    /// Each drive's transport slot and disk image.
    disks: Vec<(usize, armvex_virtio::SharedDisk)>,
    /// The transport slot of each drive, in the setup's drive order.
    drive_slots: Vec<usize>,
    /// Which bus device gets the host input each backend id names (networks, sockets).
    input_routes: Vec<(String, armvex_bus::DeviceId)>,
    /// UART0's output stream (printed once, however often history is replayed).
    console: OutputSink,
    /// Semihosting's console output stream.
    semihosting_output: Option<OutputSink>,
    max_instructions: Option<u64>,
    stats: Stats,
    /// Where the run loop is in the current round (see [`run`]).
    round: RoundState,
    /// Breakpoints and the stop request.
    debug: DebugControl,
    watchpoints: Vec<Watchpoint>,
    /// The guest ended (exit, power-off, reboot, quit): nothing runs any more.
    ended: Option<RunEnd>,
    /// The position from which the next state hash is due (recordings).
    next_hash_at: u64,
    /// Virtual time each CPU spent waiting (WFI/WFE) while others ran or time jumped: a
    /// statistic for the profiler, not machine state.
    idle_ns: Vec<u64>,
    /// Idle time follows the host's clock (an interactive console): the host instant and the
    /// virtual time it corresponds to (see `run::idle_in_real_time`).
    pacing: Option<(std::time::Instant, u64)>,
}

impl Machine {
    /// Build the machine and load the kernel. Errors are one-line messages for the user.
    pub fn new(config: MachineConfig) -> Result<Machine, MachineError> {
        Machine::with_peripherals(config, Peripherals::default())
    }

    /// [`Machine::new`] with devices chosen by `--device` (and their `--netdev`, `--chardev`,
    /// `--rng-seed`) besides the `--drive` shorthands of `config`.
    pub fn with_peripherals(config: MachineConfig, peripherals: Peripherals) -> Result<Machine, MachineError> {
        let board = Board::by_name(&config.machine)?;
        let ram_size = config.memory.unwrap_or_else(|| board.default_ram_size());
        let mut memory = build_memory(&board, ram_size, config.smp)?;
        let linux = match &config.kernel {
            Some(kernel) => !loader::is_elf(kernel)?,
            None => false,
        };
        let (image, secondary_entry) = match &config.kernel {
            Some(kernel) if linux => {
                let mut rng_seed = [0u8; DTB_RNG_SEED_BYTES];
                armvex_virtio::rng::seeded_bytes(peripherals.rng_seed, DTB_RNG_SEED_STREAM, &mut rng_seed);
                let layout = boot::load_linux(
                    &mut memory,
                    &boot::LinuxBootFiles {
                        kernel,
                        initrd: config.initrd.as_deref(),
                        dtb: config.dtb.as_deref(),
                        cmdline: &config.append,
                        rng_seed: peripherals.dtb_randomness.then_some(&rng_seed[..]),
                    },
                    &boot_info(&board, ram_size, config.smp)?,
                )?;
                (layout.image, layout.secondary_stub)
            }
            kernel => {
                if config.initrd.is_some() || config.dtb.is_some() {
                    return Err("--initrd and --dtb are for Linux kernels, not ELF programs or firmware".into());
                }
                let image = match kernel {
                    Some(program) => loader::load_elf_program(program, &mut memory)?,
                    // No kernel: the reset vector, in flash 0's alias at address 0.
                    None => loader::LoadedImage {
                        entry: 0,
                        ranges: Vec::new(),
                        elf: false,
                    },
                };
                let entry = image.entry;
                (image, entry)
            }
        };
        let ram_end = u64::from(board.ram.base) + ram_size;
        let (heap_start, heap_end) = loader::largest_gap(board.ram.base, ram_end, &image.ranges);
        let heap = HeapInfo::from_gap(heap_start, heap_end);
        let setup = MachineSetup {
            machine: config.machine.clone(),
            memory: ram_size,
            smp: config.smp,
            virtio_modern: config.virtio_modern,
            semihosting: config.semihosting.as_ref().map(|_| {
                (
                    config.cmdline.clone(),
                    [heap.heap_base, heap.heap_limit, heap.stack_base, heap.stack_limit],
                )
            }),
            drives: config.drives.clone(),
            rtc_start: config.input.start_time,
            peripherals,
        };
        let mut machine = Machine::assemble(
            board,
            setup,
            memory,
            HostSide {
                console: config.console,
                semihosting: config.semihosting,
                input: config.input,
                disks: config.disks,
            },
        )?;
        // Bare-metal ELF: every CPU starts at the entry point (secondaries are the program's
        // business). Linux: CPU 0 runs the boot stub, the others the secondary stub.
        for (i, cpu) in machine.cpus.iter_mut().enumerate() {
            cpu.set_pc_interworking(if i == 0 { image.entry } else { secondary_entry });
        }
        if let Some(out) = config.trace {
            if config.smp > 1 {
                return Err("--trace supports one CPU for now".into());
            }
            machine.cpus[0].set_tracer(Some(Tracer::new(out)?));
        }
        machine.max_instructions = config.max_instructions;
        Ok(machine)
    }

    /// Build a machine as `setup` says, with empty RAM and CPUs at reset, ready to take a
    /// saved state ([`Machine::load_state`] and the RAM pages): how `--loadvm` starts.
    pub fn rebuild(setup: &MachineSetup, host: HostSide) -> Result<Machine, MachineError> {
        let board = Board::by_name(&setup.machine)?;
        let memory = build_memory(&board, setup.memory, setup.smp)?;
        Ok(Machine::assemble(board, setup.clone(), memory, host)?)
    }

    /// Put the devices and CPUs of `board` around `memory`.
    fn assemble(board: Board, setup: MachineSetup, memory: PhysicalMemory, host: HostSide) -> Result<Machine, String> {
        let model = match board.cpu {
            board::CpuKind::CortexA9 => CpuModel::CortexA9,
            board::CpuKind::CortexA15 => CpuModel::CortexA15,
        };
        let mut bus = Bus::new(memory);
        let console = OutputSink::new(host.console);
        let mut input = host.input;
        let board_devices = devices::build(
            &board,
            &mut bus,
            setup.smp,
            devices::DeviceHostSetup {
                console: console.writer(),
                rtc_start: setup.rtc_start,
                virtio_modern: setup.virtio_modern,
                drives: setup.drives.clone(),
                disks: host.disks,
                peripherals: &setup.peripherals,
                input: &mut input,
            },
        )?;
        let semihosting_on = setup.semihosting.is_some();
        let cpus: Vec<Cpu> = (0..setup.smp)
            .map(|index| {
                Cpu::new(CpuConfig {
                    model,
                    index,
                    cluster_size: setup.smp,
                    semihosting: semihosting_on,
                })
            })
            .collect();
        let mut semihosting_output = None;
        let semihosting = match (&setup.semihosting, host.semihosting) {
            (Some((cmdline, [heap_base, heap_limit, stack_base, stack_limit])), Some(mut console)) => {
                let sink = OutputSink::new(console.output);
                console.output = sink.writer();
                semihosting_output = Some(sink);
                Some(Semihosting::new(
                    console,
                    cmdline.clone(),
                    HeapInfo {
                        heap_base: *heap_base,
                        heap_limit: *heap_limit,
                        stack_base: *stack_base,
                        stack_limit: *stack_limit,
                    },
                    setup.rtc_start,
                ))
            }
            _ => None,
        };
        let code = CodeCache::new(bus.memory.total_pages(), Features::for_model(model, semihosting_on));
        Ok(Machine {
            board,
            states: vec![CpuActivity::Running; cpus.len()],
            cpus,
            bus,
            code,
            semihosting,
            input,
            console_uart: board_devices.console_uart,
            keyboard: board_devices.keyboard,
            mouse: board_devices.mouse,
            displays: board_devices.displays,
            disks: board_devices.disks,
            drive_slots: board_devices.drive_slots,
            input_routes: board_devices.input_routes,
            console,
            semihosting_output,
            max_instructions: None,
            stats: Stats::default(),
            round: RoundState::default(),
            debug: DebugControl::default(),
            watchpoints: Vec::new(),
            ended: None,
            next_hash_at: 0,
            idle_ns: vec![0; setup.smp],
            pacing: None,
            setup,
        })
    }

    /// Let idle time follow the host's clock while a person may type (`--idle realtime`), or
    /// jump to the next event (`skip`, the default). From now on, virtual time never runs ahead
    /// of the real time elapsed.
    pub fn set_idle_in_real_time(&mut self, on: bool) {
        self.pacing = on.then(|| (std::time::Instant::now(), self.bus.clock.now()));
    }

    /// Stop after this many instructions in all (`--max-instructions`; `None` for no limit).
    pub fn set_max_instructions(&mut self, limit: Option<u64>) {
        self.max_instructions = limit;
    }

    /// Give back the host input (to build the machine again after a reboot).
    pub fn into_input(self) -> HostInput {
        self.input
    }

    /// How this machine was built.
    pub fn setup(&self) -> &MachineSetup {
        &self.setup
    }

    /// The CPUs.
    pub fn cpus(&self) -> &[Cpu] {
        &self.cpus
    }

    /// Statistics so far.
    pub fn stats(&self) -> Stats {
        Stats {
            instructions: self.position(),
            virtual_ns: self.bus.clock.now(),
            pages_decoded: self.code.pages_decoded,
            ..self.stats
        }
    }

    /// The machine's *position*: instructions retired by all CPUs so far. Every stop of a
    /// debugger is at a position (just before the next instruction runs), and the same
    /// position always means the same machine state.
    pub fn position(&self) -> u64 {
        self.cpus.iter().map(Cpu::instructions).sum()
    }

    /// The names of the board's displays (CLCDs), in board order.
    pub fn display_names(&self) -> Vec<&str> {
        self.displays.iter().map(|(n, _)| n.as_str()).collect()
    }

    /// What display `index` shows now, read from guest memory at this exact point of the
    /// guest's execution (`None` while it is off). Reading changes nothing.
    pub fn screenshot(&self, index: usize) -> Option<armvex_devices::Frame> {
        let (_, regs) = self.displays.get(index)?;
        armvex_devices::pl111::render(&regs.borrow(), &self.bus.memory)
    }

    /// Write what the first display that is on shows to `file` as a PNG image (`--screenshot-at`,
    /// gdb's `monitor screendump`); says which display and its size. The picture is read from
    /// guest memory at this exact instruction, so the same run gives the same pixels. PNG
    /// through the `png` crate (image-rs's encoder: pure Rust, maintained, no system library).
    pub fn save_screenshot(&self, file: &std::path::Path) -> Result<String, MachineError> {
        let names = self.display_names();
        let Some((index, frame)) = (0..names.len()).find_map(|i| self.screenshot(i).map(|f| (i, f))) else {
            return Err(format!(
                "cannot take screenshot {}: no display is on (the board has {})",
                file.display(),
                names.join(", ")
            )
            .into());
        };
        let fail = |e: &dyn std::fmt::Display| format!("cannot write screenshot {}: {e}", file.display());
        let out = std::fs::File::create(file).map_err(|e| fail(&e))?;
        let mut encoder = png::Encoder::new(std::io::BufWriter::new(out), frame.width, frame.height);
        encoder.set_color(png::ColorType::Rgb);
        encoder.set_depth(png::BitDepth::Eight);
        let mut writer = encoder.write_header().map_err(|e| fail(&e))?;
        writer.write_image_data(&frame.rgb).map_err(|e| fail(&e))?;
        writer.finish().map_err(|e| fail(&e))?;
        Ok(format!("{} ({}x{})", names[index], frame.width, frame.height))
    }

    /// Virtual time in nanoseconds.
    pub fn virtual_time(&self) -> u64 {
        self.bus.clock.now()
    }

    /// The CPU that runs the next instruction (whose turn is under way), or CPU 0 between
    /// rounds.
    pub fn current_cpu(&self) -> usize {
        if self.round.active && self.round.turn_started {
            self.round.cpu.min(self.cpus.len() - 1)
        } else {
            0
        }
    }

    /// Why the guest ended, if it has.
    pub fn ended(&self) -> Option<RunEnd> {
        self.ended
    }

    /// Whether CPU `i` has something to wake it from WFI/WFE.
    fn wake_pending(&self, i: usize) -> bool {
        self.bus.irq.cpu_irq(i) || self.bus.irq.cpu_fiq(i)
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
}

/// The RAM and other memories of `board`, after checking the CPU count and RAM size.
fn build_memory(board: &Board, ram_size: u64, smp: usize) -> Result<PhysicalMemory, String> {
    if smp == 0 || smp > board.max_cpus {
        return Err(format!("{} takes 1 to {} CPUs, not {smp}", board.name, board.max_cpus));
    }
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
        base: u64::from(board.ram.base),
        size: ram_size,
    }];
    for m in &board.memory {
        regions.push(RamRegionSpec {
            name: m.name.clone(),
            base: u64::from(m.base),
            size: parse_size(&m.size)?,
        });
    }
    let mut aliases = Vec::new();
    for m in &board.memory {
        if let Some(base) = m.alias_base {
            aliases.push(RamAliasSpec {
                of: m.name.clone(),
                base: u64::from(base),
                size: parse_size(&m.size)?,
            });
        }
    }
    let mut memory = PhysicalMemory::with_aliases(&regions, &aliases)?;
    for m in board.memory.iter().filter(|m| m.read_only) {
        memory.set_read_only(&m.name)?;
    }
    Ok(memory)
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
        .filter(|d| d.kind == board::DeviceKind::VirtioMmio)
        .map(|d| (d.base, d.size.unwrap_or(0x200), d.spi.first().copied().unwrap_or(0)))
        .collect();
    Ok(boot::BoardBootInfo {
        ram_base: board.ram.base,
        ram_size,
        machine_id: board.machine_id,
        smp_loader: psram.base,
        boot_register: sysregs.base + armvex_devices::sysregs::SYS_FLAGS,
        gic_cpu_interface: board.mpcore.base + board.mpcore.gic_cpu_offset,
        virtio,
        cpus: cpus as u32,
    })
}
