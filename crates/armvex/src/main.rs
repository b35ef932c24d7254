//! `armvex`: the command line. Everything interesting happens in the library crates; this file
//! turns options into a [`MachineConfig`], runs the machine and reports the outcome.

use armvex_machine::board::{board_names, parse_size};
use armvex_machine::console::{HostInput, RawTerminal};
use armvex_machine::devices::{DeviceSpec, DriveSpec, Peripherals};
use armvex_machine::hostdev::{ChardevKind, ChardevSpec};
use armvex_machine::{Machine, MachineConfig, RunEnd, Stats};
use armvex_semihosting::Console;
use clap::{Parser, Subcommand};
use std::io::{IsTerminal, Write};
use std::path::PathBuf;
use std::process::ExitCode;

#[derive(Parser)]
#[command(
    name = "armvex",
    version,
    about = "An ARM Versatile Express emulator (ARMv7-A interpreter)"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Run a program or kernel on an emulated board.
    Run(RunArgs),
}

// The `///` comments below are clap's `--help` text, where `[,readonly=on]` means an optional
// part, not a rustdoc link; escaping the brackets would print the backslashes in --help.
#[allow(rustdoc::broken_intra_doc_links)]
#[derive(clap::Args)]
struct RunArgs {
    /// The board: vexpress-a9 (the default) or vexpress-a15.
    #[arg(long, short = 'M')]
    machine: Option<String>,
    /// The program to run: an ELF file, or a Linux kernel. Without one (with --pflash) the
    /// CPUs start at address 0, in flash 0, as on the hardware.
    #[arg(long, required_unless_present_any = ["loadvm", "pflash"])]
    kernel: Option<PathBuf>,
    /// RAM size, e.g. 512M or 1G (a bare number is MiB). Default: the board's (128M, as QEMU).
    #[arg(long, short = 'm')]
    memory: Option<String>,
    /// Number of CPUs (default 1).
    #[arg(long)]
    smp: Option<usize>,
    /// Enable ARM semihosting (console and exit for bare-metal programs).
    #[arg(long)]
    semihosting: bool,
    /// Print instructions retired, host seconds and MIPS on stderr at exit.
    #[arg(long)]
    stats: bool,
    /// Write a trace of every instruction, exception and MMIO access to FILE.
    #[arg(long, value_name = "FILE")]
    trace: Option<PathBuf>,
    /// Linux: the kernel command line (for ELF programs: extra arguments returned by the
    /// semihosting SYS_GET_CMDLINE).
    #[arg(long)]
    append: Option<String>,
    /// Linux: the device tree blob (patched with the memory size, command line, initrd and
    /// virtio-mmio transports, as QEMU does).
    #[arg(long, value_name = "FILE")]
    dtb: Option<PathBuf>,
    /// Linux: an initial RAM disk.
    #[arg(long, value_name = "FILE")]
    initrd: Option<PathBuf>,
    /// A virtio-blk disk: file=PATH[,format=raw][,readonly=on][,snapshot=on][,slot=N].
    /// Repeatable; each drive takes the next free virtio-mmio transport unless slot= says
    /// which. snapshot=on sends writes to a temporary overlay and leaves the image unchanged.
    #[arg(long, value_name = "SPEC")]
    drive: Vec<String>,
    /// The virtio-mmio transport version: modern (2, the default) or legacy (1).
    #[arg(long, value_name = "VERSION")]
    virtio_mmio: Option<String>,
    /// A device on a virtio-mmio transport, as QEMU's -device: virtio-blk,drive=ID |
    /// virtio-net,netdev=ID[,mac=MAC] | virtio-rng[,entropy=seeded|host] |
    /// virtio-console,chardev=ID; each with [,slot=N]. Repeatable. Also lan9118,netdev=ID[,mac=MAC]:
    /// the board's own network card on that network.
    #[arg(long, value_name = "KIND,...")]
    device: Vec<String>,
    /// The board's own network card (its LAN9118) on a network, as QEMU's -nic:
    /// user[,hostfwd=...][,mac=MAC] | tap,ifname=NAME[,mac=MAC] | none (the card on no network,
    /// the default); with model=virtio-net a virtio-net card instead (repeatable so).
    #[arg(long, value_name = "TYPE,...")]
    nic: Vec<String>,
    /// A network for a virtio-net or the LAN9118: user,id=ID[,hostfwd=[tcp|udp]:[HADDR]:HPORT-[GADDR]:GPORT]...
    /// (user-mode networking: the guest gets 10.0.2.15 by DHCP, the host is 10.0.2.2) or
    /// tap,id=ID,ifname=NAME. Repeatable.
    #[arg(long, value_name = "TYPE,...")]
    netdev: Vec<String>,
    /// A host side for a virtio-console: socket,id=ID,port=N,server=on[,host=ADDR] |
    /// file,id=ID,path=FILE | null,id=ID. Repeatable.
    #[arg(long, value_name = "TYPE,...")]
    chardev: Vec<String>,
    /// The seed of virtio-rng's generator and of a Linux guest's /chosen/rng-seed (default 0):
    /// the same seed, the same random bytes.
    #[arg(long, value_name = "N")]
    rng_seed: Option<u64>,
    /// on (default): give a Linux guest 64 bytes of the --rng-seed generator in its device
    /// tree (/chosen/rng-seed), so its random pool is ready at boot; off: the device tree as
    /// QEMU's vexpress boards pass it.
    #[arg(long, value_name = "on|off")]
    dtb_randomness: Option<String>,
    /// The RTC's start time in seconds since 1970 (default: the host's clock, recorded as
    /// host input).
    #[arg(long, value_name = "SECONDS")]
    rtc_base: Option<u64>,
    /// Record host input (console bytes and their virtual times, the RTC start) to FILE.
    #[arg(long, value_name = "FILE")]
    record: Option<PathBuf>,
    /// Replay host input recorded with --record (instead of reading the console).
    #[arg(long, value_name = "FILE", conflicts_with = "record")]
    replay: Option<PathBuf>,
    /// Exit when the guest asks for a reboot, instead of restarting the machine.
    #[arg(long)]
    no_reboot: bool,
    /// Debugging: stop after N instructions and print the CPUs' registers.
    #[arg(long, value_name = "N")]
    max_instructions: Option<u64>,
    /// Testing: kill armvex itself with SIGKILL once the guest has retired N instructions,
    /// as if the armvex process had crashed there (crash-consistency tests: the instant is
    /// virtual, so a failure found at one reproduces).
    #[arg(long, value_name = "N", conflicts_with_all = ["max_instructions", "loadvm"])]
    crash_at: Option<u64>,
    /// Serve the gdb remote protocol: tcp::PORT (loopback) or tcp:HOST:PORT. Reverse
    /// execution works from the first instruction.
    #[arg(long, value_name = "DEVICE")]
    gdb: Option<String>,
    /// Shorthand for --gdb tcp::1234.
    #[arg(short = 's')]
    gdb_default: bool,
    /// Wait for gdb to attach before the first instruction (with --gdb or -s).
    #[arg(short = 'S')]
    gdb_wait: bool,
    /// Host memory reverse execution may use for its history (e.g. 512M, 4G; default 2G).
    #[arg(long, value_name = "SIZE")]
    history_budget: Option<String>,
    /// Write a snapshot of the whole machine to FILE when N instructions have retired (all
    /// CPUs together), and run on unchanged. Repeatable.
    #[arg(long, value_name = "N:FILE")]
    snapshot_at: Vec<String>,
    /// When every CPU waits: `realtime` lets virtual time follow the host's clock (an idle
    /// guest costs no CPU and its clock keeps to the wall clock; the default with an
    /// interactive terminal), `skip` jumps to the next event at once (the default otherwise:
    /// batch runs, replays, tests). Input is recorded with its virtual time either way.
    #[arg(long, value_name = "realtime|skip")]
    idle: Option<String>,
    /// Profile the guest: where its instructions go, by symbol (with --profile-symbols) or by
    /// address range, per CPU and mode. Writes a report to FILE and folded stacks (for flame
    /// graphs) to FILE.folded.
    #[arg(long, value_name = "FILE")]
    profile: Option<PathBuf>,
    /// Symbols for --profile: an ELF file, a System.map or a /proc/kallsyms dump. Repeatable.
    #[arg(long, value_name = "FILE")]
    profile_symbols: Vec<PathBuf>,
    /// Sample the guest every N instructions on average (default 10000).
    #[arg(long, value_name = "N")]
    profile_every: Option<u64>,
    /// Resume a snapshot written by --snapshot-at (or gdb's monitor savevm): the machine, its
    /// RAM and disks as they were then. Needs no other option; disks are written to temporary
    /// overlays, so the snapshot can be resumed again.
    #[arg(long, value_name = "FILE")]
    loadvm: Option<PathBuf>,

    // ---- The motherboard's SD card slot and display.
    /// An SD card in the MMCI's slot (Linux: /dev/mmcblk0): FILE[,readonly=on][,snapshot=on],
    /// a raw image whose size is a multiple of 512 bytes (SDHC above 2 GiB).
    #[arg(long, value_name = "FILE")]
    sd: Option<String>,
    /// Save what the display (the first CLCD that is on) shows when N instructions have
    /// retired, as a PNG image, and run on unchanged. Repeatable.
    #[arg(long, value_name = "N:FILE")]
    screenshot_at: Vec<String>,
    /// An image for NOR flash 0 (the second --pflash: flash 1), as QEMU's -pflash:
    /// FILE[,readonly=on][,snapshot=on], exactly 64 MiB. The guest's program and erase
    /// commands write it (flushed when each completes), unless it is read-only.
    #[arg(long, value_name = "FILE")]
    pflash: Vec<String>,

    // ---- The live inspector.
    /// Serve the live inspector, a web page (and JSON API) showing the running machine:
    /// PORT or :PORT (loopback), or HOST:PORT. Observing never changes the guest.
    #[arg(long, value_name = "ADDR")]
    inspect: Option<String>,
}

fn main() -> ExitCode {
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        // --help and --version print and exit 0; no command at all prints the help.
        Err(e) if !e.use_stderr() || e.kind() == clap::error::ErrorKind::DisplayHelpOnMissingArgumentOrSubcommand => {
            e.exit()
        }
        Err(e) => {
            // One line, like every other error: clap's message up to its first blank line,
            // without the "error: " prefix.
            let text = e.to_string();
            let message: Vec<&str> = text
                .lines()
                .take_while(|l| !l.trim().is_empty())
                .map(str::trim)
                .collect();
            let message = message.join(" ");
            let message = message.strip_prefix("error: ").unwrap_or(&message);
            eprintln!("armvex: {message} (see armvex --help)");
            return ExitCode::from(2);
        }
    };
    armvex_machine::console::handle_termination_signals();
    tracing_subscriber::fmt()
        .with_env_filter(tracing_subscriber::EnvFilter::from_env("ARMVEX_LOG"))
        .with_writer(std::io::stderr)
        // Colour codes only for a person at a terminal, never into a log file.
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .without_time()
        .init();
    let code = match cli.command {
        Command::Run(args) => match run(args) {
            Ok(code) => code,
            Err(message) => {
                eprintln!("armvex: {message}");
                ExitCode::from(1)
            }
        },
    };
    #[cfg(feature = "pair-census")]
    write_pair_census();
    code
}

/// Write the pair census the machine's CPUs took (dropped by now) to the file named by
/// `ARMVEX_PAIR_CENSUS` (see `armvex_cpu::census` and tools/pair-census).
#[cfg(feature = "pair-census")]
fn write_pair_census() {
    match std::env::var_os("ARMVEX_PAIR_CENSUS") {
        Some(path) => {
            if let Err(e) = armvex_cpu::census::write(std::path::Path::new(&path)) {
                eprintln!(
                    "armvex: cannot write the pair census to {}: {e}",
                    path.to_string_lossy()
                );
            }
        }
        None => eprintln!("armvex: built with pair-census, but ARMVEX_PAIR_CENSUS names no file to write it to"),
    }
}

/// The gdb options (`--gdb`, `-s`, `-S`, `--history-budget`), if a debugger is wanted.
fn gdb_options(args: &RunArgs) -> Result<Option<armvex_gdb::GdbOptions>, String> {
    let address = match (&args.gdb, args.gdb_default) {
        (Some(spec), _) => armvex_gdb::parse_address(spec)?,
        (None, true) => "127.0.0.1:1234".to_string(),
        (None, false) if args.gdb_wait => return Err("-S waits for gdb: give --gdb tcp::PORT or -s too".into()),
        (None, false) if args.history_budget.is_some() => {
            return Err("--history-budget is for reverse execution: give --gdb tcp::PORT or -s too".into());
        }
        (None, false) => return Ok(None),
    };
    let mut history = armvex_history::HistoryConfig::default();
    if let Some(b) = &args.history_budget {
        history.budget = usize::try_from(parse_size(b)?).map_err(|_| format!("--history-budget {b} is too large"))?;
    }
    Ok(Some(armvex_gdb::GdbOptions {
        address,
        wait: args.gdb_wait,
        history,
    }))
}

/// `armvex run --loadvm FILE`: resume a snapshot. The snapshot says how the machine is built;
/// options that would build it otherwise are refused.
fn run_loaded(file: &std::path::Path, args: RunArgs, snapshots: Vec<(u64, PathBuf)>) -> Result<ExitCode, String> {
    let conflicting = [
        ("--kernel", args.kernel.is_some()),
        ("--machine", args.machine.is_some()),
        ("-m", args.memory.is_some()),
        ("--smp", args.smp.is_some()),
        ("--dtb", args.dtb.is_some()),
        ("--initrd", args.initrd.is_some()),
        ("--append", args.append.is_some()),
        ("--drive", !args.drive.is_empty()),
        ("--device", !args.device.is_empty()),
        ("--nic", !args.nic.is_empty()),
        ("--sd", args.sd.is_some()),
        ("--netdev", !args.netdev.is_empty()),
        ("--chardev", !args.chardev.is_empty()),
        ("--rng-seed", args.rng_seed.is_some()),
        ("--dtb-randomness", args.dtb_randomness.is_some()),
        ("--pflash", !args.pflash.is_empty()),
        ("--virtio-mmio", args.virtio_mmio.is_some()),
        ("--semihosting", args.semihosting),
        ("--rtc-base", args.rtc_base.is_some()),
        ("--record", args.record.is_some()),
        ("--replay", args.replay.is_some()),
        ("--trace", args.trace.is_some()),
    ];
    if let Some((name, _)) = conflicting.iter().find(|(_, given)| *given) {
        return Err(format!(
            "--loadvm {}: the snapshot says how the machine is built; {name} cannot change it",
            file.display()
        ));
    }
    let gdb = gdb_options(&args)?;
    let inspector = inspector(&args)?;
    let setup = armvex_snapshot::setup_of(file)?;
    announce_host_sides(&setup.peripherals, false);
    if !setup.peripherals.netdevs.is_empty() {
        eprintln!(
            "armvex: the snapshot's network resumes with a fresh host side: the guest keeps its address, its open connections are reset"
        );
    }
    let semihosting = setup.semihosting.is_some();
    let input = if semihosting {
        HostInput::none(setup.rtc_start)
    } else {
        HostInput::live(setup.rtc_start)
    };
    let _terminal = if semihosting { None } else { RawTerminal::enter() };
    let mut machine = armvex_snapshot::load(
        file,
        armvex_snapshot::LoadHost {
            console: Box::new(std::io::stdout()),
            semihosting: Some(Console {
                output: Box::new(std::io::LineWriter::new(std::io::stdout())),
                input: Some(Box::new(std::io::stdin())),
                is_tty: std::io::stdout().is_terminal(),
            }),
            input,
        },
    )?;
    machine.set_max_instructions(args.max_instructions);
    machine.set_idle_in_real_time(idle_in_real_time(&args, _terminal.is_some())?);
    let started_at = machine.position();
    if let Some((n, _)) = snapshots.iter().find(|(n, _)| *n < started_at) {
        return Err(format!(
            "--snapshot-at {n}: the snapshot resumes at instruction {started_at}, after it"
        ));
    }
    let profile = ProfileRequest::from_args(&args)?;
    let screenshots = screenshot_points(&args.screenshot_at)?;
    let end = run_machine(
        &mut machine,
        &gdb,
        &snapshots,
        &profile,
        &screenshots,
        inspector.as_ref(),
    );
    let _ = std::io::stdout().flush();
    let s = machine.stats();
    if matches!(end, Ok(RunEnd::InstructionLimit)) {
        for cpu in machine.cpus() {
            eprintln!("cpu{}:\n{}", cpu.index(), cpu.dump());
        }
    }
    if args.stats {
        let ran = Stats {
            instructions: s.instructions - started_at,
            ..s
        };
        eprintln!(
            "armvex: {} instructions in {:.3} s, {:.1} MIPS ({} code pages decoded, {:.3} s virtual; resumed at instruction {started_at}, ended at {})",
            ran.instructions,
            ran.host_seconds,
            ran.mips(),
            ran.pages_decoded,
            ran.virtual_ns as f64 / 1e9,
            s.instructions
        );
    }
    Ok(match end? {
        RunEnd::Exit(status) => ExitCode::from(status as u8),
        RunEnd::Reboot => {
            eprintln!(
                "armvex: the guest asked for a reboot; a resumed snapshot cannot be rebuilt from its kernel, so armvex exits"
            );
            ExitCode::SUCCESS
        }
        RunEnd::Signal(sig) => terminated(sig),
        RunEnd::PowerOff | RunEnd::Quit | RunEnd::InstructionLimit => ExitCode::SUCCESS,
    })
}

/// `--crash-at`: die by SIGKILL, as a crashed armvex would: no buffered output flushed, no
/// file closed in order, nothing synced. (Writes armvex already made are in the host's page
/// cache, as they would be after any crash of the process; only a host crash loses those that
/// no FLUSH made durable.)
fn crash_now() -> ! {
    // SAFETY: kill(2) on our own pid with a valid signal number; SIGKILL cannot be caught,
    // so it does not return.
    unsafe {
        libc::kill(libc::getpid(), libc::SIGKILL);
    }
    std::process::abort()
}

/// armvex was asked to stop by a signal: say so; exit 128 + its number, as a shell would.
fn terminated(sig: i32) -> ExitCode {
    eprintln!("armvex: terminating on signal {sig}");
    ExitCode::from((128 + sig) as u8)
}

/// `--idle`: whether idle time follows the host's clock.
fn idle_in_real_time(args: &RunArgs, interactive: bool) -> Result<bool, String> {
    match args.idle.as_deref() {
        None => Ok(interactive),
        Some("realtime") => Ok(true),
        Some("skip") => Ok(false),
        Some(other) => Err(format!("--idle {other}: expected realtime or skip")),
    }
}

/// `--snapshot-at N:FILE` options, in increasing N.
fn snapshot_points(specs: &[String]) -> Result<Vec<(u64, PathBuf)>, String> {
    let mut points = Vec::new();
    for spec in specs {
        let (n, file) = spec
            .split_once(':')
            .filter(|(_, f)| !f.is_empty())
            .ok_or_else(|| format!("--snapshot-at {spec}: expected N:FILE"))?;
        let n: u64 = n
            .parse()
            .map_err(|_| format!("--snapshot-at {spec}: {n} is not an instruction count"))?;
        points.push((n, PathBuf::from(file)));
    }
    points.sort_by_key(|(n, _)| *n);
    if let Some(w) = points.windows(2).find(|w| w[0].0 == w[1].0) {
        return Err(format!("--snapshot-at: two snapshots at instruction {}", w[0].0));
    }
    Ok(points)
}

/// The `--screenshot-at N:FILE` options, in instruction order.
fn screenshot_points(specs: &[String]) -> Result<Vec<(u64, PathBuf)>, String> {
    let mut points = Vec::new();
    for spec in specs {
        let (n, file) = spec
            .split_once(':')
            .filter(|(_, f)| !f.is_empty())
            .ok_or_else(|| format!("--screenshot-at {spec}: expected N:FILE"))?;
        let n: u64 = n
            .parse()
            .map_err(|_| format!("--screenshot-at {spec}: {n} is not an instruction count"))?;
        points.push((n, PathBuf::from(file)));
    }
    points.sort_by_key(|(n, _)| *n);
    Ok(points)
}

/// What `--profile` asks for.
struct ProfileRequest {
    report: PathBuf,
    symbols: armvex_machine::profile::Symbols,
    every: u64,
}

impl ProfileRequest {
    fn from_args(args: &RunArgs) -> Result<Option<ProfileRequest>, String> {
        let Some(report) = args.profile.clone() else {
            if !args.profile_symbols.is_empty() || args.profile_every.is_some() {
                return Err("--profile-symbols and --profile-every go with --profile FILE".into());
            }
            return Ok(None);
        };
        if args.gdb.is_some() || args.gdb_default || !args.snapshot_at.is_empty() {
            return Err("--profile runs the guest alone: not with --gdb or --snapshot-at".into());
        }
        let mut symbols = armvex_machine::profile::Symbols::default();
        for path in &args.profile_symbols {
            symbols.load(path)?;
        }
        // Fail now, not after the run, if the report cannot be written.
        std::fs::write(&report, b"").map_err(|e| format!("cannot write --profile {}: {e}", report.display()))?;
        Ok(Some(ProfileRequest {
            report,
            symbols,
            every: args.profile_every.unwrap_or(10_000),
        }))
    }

    fn run(&self, machine: &mut Machine) -> Result<RunEnd, String> {
        let mut profile = armvex_machine::profile::Profile::new(self.every);
        let end = machine.run_profiled(&mut profile).map_err(String::from);
        let report = profile.report(machine, &self.symbols);
        std::fs::write(&self.report, report).map_err(|e| format!("cannot write {}: {e}", self.report.display()))?;
        let folded = self.report.with_extension(
            self.report
                .extension()
                .map_or("folded".to_string(), |e| format!("{}.folded", e.to_string_lossy())),
        );
        std::fs::write(&folded, profile.folded(&self.symbols))
            .map_err(|e| format!("cannot write {}: {e}", folded.display()))?;
        end
    }
}

/// The live inspector `--inspect` asks for, serving already (it outlives reboots).
fn inspector(args: &RunArgs) -> Result<Option<armvex_inspect::InspectorServer>, String> {
    let Some(spec) = &args.inspect else {
        return Ok(None);
    };
    let others = [
        ("--gdb", args.gdb.is_some() || args.gdb_default),
        ("--profile", args.profile.is_some()),
        ("--snapshot-at", !args.snapshot_at.is_empty()),
        ("--screenshot-at", !args.screenshot_at.is_empty()),
    ];
    if let Some((name, _)) = others.iter().find(|(_, given)| *given) {
        return Err(format!("--inspect does not combine with {name}"));
    }
    let server = armvex_inspect::start(armvex_inspect::parse_address(spec)?)?;
    eprintln!("armvex: inspector on http://{}/", server.address);
    Ok(Some(server))
}

/// Run the machine: under gdb, profiled, or plainly with the snapshots `--snapshot-at` asks
/// for.
fn run_machine(
    machine: &mut Machine,
    gdb: &Option<armvex_gdb::GdbOptions>,
    snapshots: &[(u64, PathBuf)],
    profile: &Option<ProfileRequest>,
    screenshots: &[(u64, PathBuf)],
    inspector: Option<&armvex_inspect::InspectorServer>,
) -> Result<RunEnd, String> {
    if let Some(server) = inspector {
        return Ok(machine.run_inspected(&mut server.machine_side())?);
    }
    if let Some(options) = gdb {
        return Ok(armvex_gdb::serve(machine, options)?);
    }
    if let Some(p) = profile {
        return p.run(machine);
    }
    let mut positions: Vec<u64> = snapshots.iter().chain(screenshots).map(|(n, _)| *n).collect();
    positions.sort_unstable();
    positions.dedup();
    let end = machine.run_with_stops(&positions, &mut |m, at| {
        for (_, file) in screenshots.iter().filter(|(n, _)| *n == at) {
            let report = m.save_screenshot(file)?;
            eprintln!("armvex: screenshot {} at instruction {at}: {report}", file.display());
        }
        let Some((_, file)) = snapshots.iter().find(|(n, _)| *n == at) else {
            return Ok(());
        };
        let report = armvex_snapshot::save(m, file)?;
        eprintln!(
            "armvex: snapshot {} at instruction {at}: {:.1} MB ({} RAM pages, {} disk blocks) in {:.2} s",
            file.display(),
            report.bytes as f64 / 1e6,
            report.ram_pages,
            report.disk_blocks,
            report.seconds
        );
        Ok(())
    });
    let at = machine.position();
    for (n, file) in snapshots.iter().filter(|(n, _)| *n > at) {
        eprintln!(
            "armvex: no snapshot {}: the run ended at instruction {at}, before {n}",
            file.display()
        );
    }
    for (n, file) in screenshots.iter().filter(|(n, _)| *n > at) {
        eprintln!(
            "armvex: no screenshot {}: the run ended at instruction {at}, before {n}",
            file.display()
        );
    }
    end.map_err(String::from)
}

// ---- Devices chosen on the command line: --drive, --device, --netdev, --chardev, --rng-seed.

/// The drives and the other devices the options ask for, checked. Host ports given as 0
/// (`hostfwd=tcp::0-:22`, `--chardev socket,port=0`) are replaced by free ports.
fn device_options(args: &RunArgs) -> Result<(Vec<DriveSpec>, Peripherals), String> {
    let mut drives = Vec::new();
    let mut drive_ids = Vec::new();
    for d in &args.drive {
        let (drive, id) = DriveSpec::parse_with_id(d)?;
        drives.push(drive);
        drive_ids.push(id);
    }
    let mut devices = args
        .device
        .iter()
        .map(|d| DeviceSpec::parse(d))
        .collect::<Result<Vec<_>, _>>()?;
    let mut netdevs = args
        .netdev
        .iter()
        .map(|n| armvex_net::NetdevSpec::parse(n))
        .collect::<Result<Vec<_>, _>>()?;
    for (i, n) in args.nic.iter().enumerate() {
        if let Some((netdev, device)) = nic_option(i, n)? {
            netdevs.push(netdev);
            devices.push(device);
        }
    }
    let mut chardevs = args
        .chardev
        .iter()
        .map(|c| ChardevSpec::parse(c))
        .collect::<Result<Vec<_>, _>>()?;
    for n in &mut netdevs {
        if let armvex_net::NetdevKind::User(user) = &mut n.kind {
            for fwd in user.hostfwd.iter_mut().filter(|f| f.host_port == 0) {
                fwd.host_port = free_port(fwd.host_addr, fwd.udp)
                    .map_err(|e| format!("--netdev {}: no free port on {}: {e}", n.id, fwd.host_addr))?;
            }
        }
    }
    for c in &mut chardevs {
        if let ChardevKind::Socket { host, port } = &mut c.kind {
            if *port == 0 {
                *port =
                    free_port(*host, false).map_err(|e| format!("--chardev {}: no free port on {host}: {e}", c.id))?;
            }
        }
    }
    let peripherals = Peripherals {
        devices,
        drive_ids,
        netdevs,
        chardevs,
        rng_seed: args.rng_seed.unwrap_or(0),
        dtb_randomness: match args.dtb_randomness.as_deref().unwrap_or("on") {
            "on" => true,
            "off" => false,
            other => return Err(format!("--dtb-randomness {other}: expected on or off")),
        },
    };
    Ok((drives, peripherals))
}

/// A `--nic TYPE[,model=M][,mac=MAC][,id=ID][,netdev options]` (the `i`th): a `--netdev` and
/// the card on it, the LAN9118 unless `model=virtio-net`. `none`: nothing (the LAN9118 stays
/// on no network).
fn nic_option(i: usize, s: &str) -> Result<Option<(armvex_net::NetdevSpec, DeviceSpec)>, String> {
    let mut parts = s.split(',');
    let kind = parts.next().unwrap_or_default();
    if kind == "none" {
        return match parts.next() {
            None => Ok(None),
            Some(p) => Err(format!("--nic none: takes no options ('{p}')")),
        };
    }
    let (mut model, mut mac, mut id) = ("lan9118", None, format!("nic{i}"));
    let mut netdev = vec![kind.to_string()];
    for part in parts {
        match part.split_once('=') {
            Some(("model", m)) => model = m,
            Some(("mac", m)) => mac = Some(m),
            Some(("id", v)) => id = v.to_string(),
            _ => netdev.push(part.to_string()),
        }
    }
    netdev.insert(1, format!("id={id}"));
    let netdev =
        armvex_net::NetdevSpec::parse(&netdev.join(",")).map_err(|e| e.to_string().replace("--netdev", "--nic"))?;
    let model = match model {
        "lan9118" => "lan9118",
        "virtio-net" | "virtio-net-device" => "virtio-net",
        other => return Err(format!("--nic model={other}: the board's lan9118 or virtio-net")),
    };
    let mac = mac.map(|m| format!(",mac={m}")).unwrap_or_default();
    let device = DeviceSpec::parse(&format!("{model},netdev={id}{mac}"))
        .map_err(|e| e.to_string().replace("--device", "--nic"))?;
    Ok(Some((netdev, device)))
}

/// A port of `addr` that is free now (the system's choice for port 0).
fn free_port(addr: std::net::Ipv4Addr, udp: bool) -> std::io::Result<u16> {
    if udp {
        Ok(std::net::UdpSocket::bind((addr, 0))?.local_addr()?.port())
    } else {
        Ok(std::net::TcpListener::bind((addr, 0))?.local_addr()?.port())
    }
}

/// Say on stderr which host ports lead into the guest (not when replaying: nothing listens).
fn announce_host_sides(p: &Peripherals, replaying: bool) {
    if replaying {
        return;
    }
    for n in &p.netdevs {
        if let armvex_net::NetdevKind::User(user) = &n.kind {
            for fwd in &user.hostfwd {
                eprintln!("armvex: netdev {}: hostfwd {fwd}", n.id);
            }
        }
    }
    for c in &p.chardevs {
        if let ChardevKind::Socket { host, port } = &c.kind {
            eprintln!("armvex: chardev {}: listening on {host}:{port}", c.id);
        }
    }
}

fn run(args: RunArgs) -> Result<ExitCode, String> {
    let snapshots = snapshot_points(&args.snapshot_at)?;
    if !snapshots.is_empty() && (args.gdb.is_some() || args.gdb_default) {
        return Err("--snapshot-at does not combine with --gdb: in gdb, `monitor savevm FILE` takes a snapshot".into());
    }
    if let Some(file) = args.loadvm.clone() {
        return run_loaded(&file, args, snapshots);
    }
    let kernel = args.kernel.clone();
    if kernel.is_none() && args.pflash.is_empty() {
        return Err(
            "--kernel FILE is needed (or --pflash FILE to start from flash, or --loadvm FILE to resume a snapshot)"
                .into(),
        );
    }
    let machine_name = args.machine.clone().unwrap_or_else(|| "vexpress-a9".into());
    if !board_names().contains(&machine_name.as_str()) {
        return Err(format!(
            "unknown machine '{machine_name}' (known: {})",
            board_names().join(", ")
        ));
    }
    let memory = args.memory.as_deref().map(parse_size).transpose()?;
    let gdb = gdb_options(&args)?;
    let profile = ProfileRequest::from_args(&args)?;
    let inspector = inspector(&args)?;
    let (mut drives, peripherals) = device_options(&args)?;
    // The SD card is a drive in the MMCI's slot (see armvex_machine::devices::SD_SLOT).
    if let Some(sd) = &args.sd {
        drives.push(DriveSpec::parse_sd(sd)?);
    }
    // So are the flashes' images (see armvex_machine::devices::PFLASH_SLOTS).
    for (i, image) in args.pflash.iter().enumerate() {
        drives.push(DriveSpec::parse_pflash(image, i)?);
    }
    let virtio_modern = match args.virtio_mmio.as_deref().unwrap_or("modern") {
        "modern" | "2" => true,
        "legacy" | "1" => false,
        other => return Err(format!("--virtio-mmio {other}: expected modern or legacy")),
    };
    for p in [&args.dtb, &args.initrd].into_iter().flatten() {
        if !p.is_file() {
            let why = if p.is_dir() { "is a directory" } else { "no such file" };
            return Err(format!("cannot read {}: {why}", p.display()));
        }
    }
    let start_time = args.rtc_base.unwrap_or_else(|| {
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_secs())
            .unwrap_or(0)
    });
    // Host input: replayed, or none for semihosting programs (they read stdin through
    // semihosting), or the live console.
    let mut input = match &args.replay {
        Some(path) => HostInput::replay(path)?,
        None if args.semihosting => HostInput::none(start_time),
        None => HostInput::live(start_time),
    };
    if let Some(path) = &args.record {
        input.record_to(path)?;
    }
    announce_host_sides(&peripherals, args.replay.is_some());
    let _terminal = if !args.semihosting && args.replay.is_none() {
        RawTerminal::enter()
    } else {
        None
    };
    let program = kernel.as_ref().map(|k| k.display().to_string()).unwrap_or_default();
    let cmdline = match &args.append {
        Some(a) => format!("{program} {a}"),
        None => program,
    };
    let mut trace: Option<Box<dyn Write + Send>> = match &args.trace {
        Some(path) => {
            let f =
                std::fs::File::create(path).map_err(|e| format!("cannot create trace file {}: {e}", path.display()))?;
            Some(Box::new(std::io::BufWriter::new(f)))
        }
        None => None,
    };
    let screenshots = screenshot_points(&args.screenshot_at)?;
    let mut total = Stats::default();
    // After a reboot: the disks of the machine before it (see MachineConfig::disks).
    let mut kept_disks = None;
    loop {
        let semihosting = args.semihosting.then(|| Console {
            output: Box::new(std::io::LineWriter::new(std::io::stdout())),
            input: Some(Box::new(std::io::stdin())),
            is_tty: std::io::stdout().is_terminal(),
        });
        let mut machine = Machine::with_peripherals(
            MachineConfig {
                machine: machine_name.clone(),
                memory,
                smp: args.smp.unwrap_or(1),
                kernel: kernel.clone(),
                initrd: args.initrd.clone(),
                dtb: args.dtb.clone(),
                append: args.append.clone().unwrap_or_default(),
                semihosting,
                cmdline: cmdline.clone(),
                console: Box::new(std::io::stdout()),
                input,
                drives: drives.clone(),
                disks: kept_disks.take(),
                virtio_modern,
                max_instructions: args.max_instructions.or(args.crash_at),
                trace: trace.take(),
            },
            peripherals.clone(),
        )?;
        machine.set_idle_in_real_time(idle_in_real_time(&args, _terminal.is_some())?);
        let end = run_machine(
            &mut machine,
            &gdb,
            &snapshots,
            &profile,
            &screenshots,
            inspector.as_ref(),
        );
        let s = machine.stats();
        total.instructions += s.instructions;
        total.host_seconds += s.host_seconds;
        total.virtual_ns += s.virtual_ns;
        total.pages_decoded += s.pages_decoded;
        if matches!(end, Ok(RunEnd::InstructionLimit)) {
            if args.crash_at.is_some() {
                crash_now();
            }
            for cpu in machine.cpus() {
                eprintln!("cpu{}:\n{}", cpu.index(), cpu.dump());
            }
        }
        // The next board gets the same disks: in-place images are the same files anyway; a
        // `snapshot=on` overlay keeps what the guest wrote across its reboot, as in QEMU.
        kept_disks = Some(machine.disks_in_drive_order());
        input = machine.into_input();
        let _ = std::io::stdout().flush();
        match end {
            Ok(RunEnd::Reboot) if !args.no_reboot => continue,
            _ => {}
        }
        if args.stats {
            eprintln!(
                "armvex: {} instructions in {:.3} s, {:.1} MIPS ({} code pages decoded, {:.3} s virtual)",
                total.instructions,
                total.host_seconds,
                total.mips(),
                total.pages_decoded,
                total.virtual_ns as f64 / 1e9
            );
        }
        return match end? {
            RunEnd::Exit(status) => Ok(ExitCode::from(status as u8)),
            RunEnd::Signal(sig) => Ok(terminated(sig)),
            RunEnd::PowerOff | RunEnd::Quit | RunEnd::Reboot | RunEnd::InstructionLimit => Ok(ExitCode::SUCCESS),
        };
    }
}
