//! `armvex`: the command line. Everything interesting happens in the library crates; this file
//! turns options into a [`MachineConfig`], runs the machine and reports the outcome.

use armvex_machine::board::{board_names, parse_size};
use armvex_machine::console::{HostInput, RawTerminal};
use armvex_machine::devices::DriveSpec;
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

#[derive(clap::Args)]
struct RunArgs {
    /// The board: vexpress-a9 or vexpress-a15.
    #[arg(long, short = 'M', default_value = "vexpress-a9")]
    machine: String,
    /// The program to run: an ELF file, or a raw image.
    #[arg(long)]
    kernel: PathBuf,
    /// RAM size, e.g. 512M or 1G (a bare number is MiB). Default: the board's (128M, as QEMU).
    #[arg(long, short = 'm')]
    memory: Option<String>,
    /// Number of CPUs.
    #[arg(long, default_value_t = 1)]
    smp: usize,
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
    /// The virtio-mmio transport version: modern (2) or legacy (1).
    #[arg(long, value_name = "VERSION", default_value = "modern")]
    virtio_mmio: String,
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
    tracing_subscriber::fmt()
        .with_env_filter(tracing_subscriber::EnvFilter::from_env("ARMVEX_LOG"))
        .with_writer(std::io::stderr)
        .without_time()
        .init();
    match cli.command {
        Command::Run(args) => match run(args) {
            Ok(code) => code,
            Err(message) => {
                eprintln!("armvex: {message}");
                ExitCode::from(1)
            }
        },
    }
}

fn run(args: RunArgs) -> Result<ExitCode, String> {
    if !board_names().contains(&args.machine.as_str()) {
        return Err(format!(
            "unknown machine '{}' (known: {})",
            args.machine,
            board_names().join(", ")
        ));
    }
    let memory = args.memory.as_deref().map(parse_size).transpose()?;
    let gdb = match (&args.gdb, args.gdb_default) {
        (Some(spec), _) => Some(armvex_gdb::parse_address(spec)?),
        (None, true) => Some("127.0.0.1:1234".to_string()),
        (None, false) if args.gdb_wait => return Err("-S waits for gdb: give --gdb tcp::PORT or -s too".into()),
        (None, false) => None,
    };
    let mut history = armvex_history::HistoryConfig::default();
    if let Some(b) = &args.history_budget {
        history.budget = usize::try_from(parse_size(b)?).map_err(|_| format!("--history-budget {b} is too large"))?;
    }
    let gdb = gdb.map(|address| armvex_gdb::GdbOptions {
        address,
        wait: args.gdb_wait,
        history,
    });
    let drives = args
        .drive
        .iter()
        .map(|d| DriveSpec::parse(d))
        .collect::<Result<Vec<_>, _>>()?;
    let virtio_modern = match args.virtio_mmio.as_str() {
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
    let _terminal = if !args.semihosting && args.replay.is_none() {
        RawTerminal::enter()
    } else {
        None
    };
    let cmdline = match &args.append {
        Some(a) => format!("{} {a}", args.kernel.display()),
        None => args.kernel.display().to_string(),
    };
    let mut trace: Option<Box<dyn Write + Send>> = match &args.trace {
        Some(path) => {
            let f =
                std::fs::File::create(path).map_err(|e| format!("cannot create trace file {}: {e}", path.display()))?;
            Some(Box::new(std::io::BufWriter::new(f)))
        }
        None => None,
    };
    let mut total = Stats::default();
    loop {
        let semihosting = args.semihosting.then(|| Console {
            output: Box::new(std::io::LineWriter::new(std::io::stdout())),
            input: Some(Box::new(std::io::stdin())),
            is_tty: std::io::stdout().is_terminal(),
        });
        let mut machine = Machine::new(MachineConfig {
            machine: args.machine.clone(),
            memory,
            smp: args.smp,
            kernel: args.kernel.clone(),
            initrd: args.initrd.clone(),
            dtb: args.dtb.clone(),
            append: args.append.clone().unwrap_or_default(),
            semihosting,
            cmdline: cmdline.clone(),
            console: Box::new(std::io::stdout()),
            input,
            drives: drives.clone(),
            virtio_modern,
            max_instructions: args.max_instructions,
            trace: trace.take(),
        })?;
        let end = match &gdb {
            Some(options) => armvex_gdb::serve(&mut machine, options),
            None => machine.run(),
        };
        let s = machine.stats();
        total.instructions += s.instructions;
        total.host_seconds += s.host_seconds;
        total.virtual_ns += s.virtual_ns;
        total.pages_decoded += s.pages_decoded;
        if matches!(end, Ok(RunEnd::InstructionLimit)) {
            for cpu in machine.cpus() {
                eprintln!("cpu{}:\n{}", cpu.index(), cpu.dump());
            }
        }
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
            RunEnd::PowerOff | RunEnd::Quit | RunEnd::Reboot | RunEnd::InstructionLimit => Ok(ExitCode::SUCCESS),
        };
    }
}
