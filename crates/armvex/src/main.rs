//! `armvex`: the command line. Everything interesting happens in the library crates; this file
//! turns options into a [`MachineConfig`], runs the machine and reports the outcome.

use armvex_machine::board::{board_names, parse_size};
use armvex_machine::{Machine, MachineConfig, RunEnd};
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
    /// RAM size, e.g. 512M or 1G (a bare number is MiB). Default: the board's (1G).
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
}

fn main() -> ExitCode {
    let cli = Cli::parse();
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
    let semihosting = args.semihosting.then(|| Console {
        output: Box::new(std::io::LineWriter::new(std::io::stdout())),
        input: Some(Box::new(std::io::stdin())),
        is_tty: std::io::stdout().is_terminal(),
    });
    let trace: Option<Box<dyn Write + Send>> = match &args.trace {
        Some(path) => {
            let f =
                std::fs::File::create(path).map_err(|e| format!("cannot create trace file {}: {e}", path.display()))?;
            Some(Box::new(std::io::BufWriter::new(f)))
        }
        None => None,
    };
    let cmdline = match &args.append {
        Some(a) => format!("{} {a}", args.kernel.display()),
        None => args.kernel.display().to_string(),
    };
    let mut machine = Machine::new(MachineConfig {
        machine: args.machine.clone(),
        memory,
        smp: args.smp,
        kernel: args.kernel.clone(),
        initrd: args.initrd.clone(),
        dtb: args.dtb.clone(),
        append: args.append.clone().unwrap_or_default(),
        semihosting,
        cmdline,
        start_time: std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_secs())
            .unwrap_or(0),
        trace,
    })?;
    let end = machine.run();
    if args.stats {
        let s = machine.stats();
        eprintln!(
            "armvex: {} instructions in {:.3} s, {:.1} MIPS ({} code pages decoded, {:.3} s virtual)",
            s.instructions,
            s.host_seconds,
            s.mips(),
            s.pages_decoded,
            s.virtual_ns as f64 / 1e9
        );
    }
    match end? {
        RunEnd::Exit(status) => Ok(ExitCode::from(status as u8)),
        RunEnd::PowerOff => Ok(ExitCode::SUCCESS),
        RunEnd::Reboot => Err("the guest asked for a reboot, which is not implemented yet".into()),
    }
}
