//! Helpers for the snapshot tests: machines from firmware ELFs, captured output, runs to the
//! end.

#![allow(dead_code)]

use armvex_machine::console::HostInput;
use armvex_machine::{Machine, MachineConfig, RunEnd, RunGoal, Stop};
use armvex_semihosting::Console;
use std::cell::RefCell;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::rc::Rc;
use std::sync::Once;

/// The repository root.
pub fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

/// A firmware program, built with `make -C firmware` (for `board`) the first time.
pub fn firmware(board: &str, name: &str) -> PathBuf {
    static BUILD: Once = Once::new();
    BUILD.call_once(|| {
        for b in ["vexpress-a9", "vexpress-a15"] {
            let status = std::process::Command::new("make")
                .arg("-C")
                .arg(root().join("firmware"))
                .args(["-s", &format!("BOARD={b}")])
                .status()
                .expect("run make (the firmware needs make and gcc-arm-none-eabi)");
            assert!(status.success(), "make -C firmware BOARD={b} failed");
        }
    });
    let dir = if board == "vexpress-a9" {
        root().join("firmware/build")
    } else {
        root().join("firmware/build").join(board)
    };
    dir.join(format!("{name}.elf"))
}

/// A writer whose bytes the test can read.
#[derive(Clone, Default)]
pub struct Capture(pub Rc<RefCell<Vec<u8>>>);

impl Capture {
    pub fn bytes(&self) -> Vec<u8> {
        self.0.borrow().clone()
    }

    pub fn len(&self) -> usize {
        self.0.borrow().len()
    }
}

impl Write for Capture {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.borrow_mut().extend_from_slice(buf);
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// What a machine printed: the UART console and semihosting's console.
#[derive(Clone, Default)]
pub struct Outputs {
    pub uart: Capture,
    pub semihosting: Capture,
}

impl Outputs {
    /// A semihosting console printing into `self.semihosting`.
    pub fn semihosting_console(&self) -> Console {
        Console {
            output: Box::new(self.semihosting.clone()),
            input: None,
            is_tty: false,
        }
    }
}

/// A bare-metal machine running `elf` with semihosting.
pub fn bare_metal(board: &str, elf: &Path, smp: usize, memory: u64) -> (Machine, Outputs) {
    let out = Outputs::default();
    let machine = Machine::new(MachineConfig {
        machine: board.into(),
        memory: Some(memory),
        smp,
        kernel: Some(elf.to_path_buf()),
        initrd: None,
        dtb: None,
        append: String::new(),
        semihosting: Some(out.semihosting_console()),
        cmdline: "firmware".into(),
        console: Box::new(out.uart.clone()),
        input: HostInput::none(1_700_000_000),
        drives: Vec::new(),
        disks: None,
        virtio_modern: true,
        max_instructions: None,
        trace: None,
    })
    .unwrap_or_else(|e| panic!("build a {board} machine for {}: {e}", elf.display()));
    (machine, out)
}

/// Run to `position`; the stop (`Reached`, or `Ended` if the guest ended first).
pub fn run_to(machine: &mut Machine, position: u64) -> Stop {
    let goal = RunGoal {
        position: Some(position),
        ..RunGoal::default()
    };
    loop {
        match machine.run_until(&goal, &mut || false).expect("run") {
            stop @ (Stop::Reached | Stop::Ended(_)) => return stop,
            Stop::CheckpointDue | Stop::Interrupted => continue,
            other => panic!("unexpected stop {other:?}"),
        }
    }
}

/// How a run ended.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Finish {
    pub end: RunEnd,
    pub instructions: u64,
    pub state_hash: u64,
}

/// Run to the end of the guest.
pub fn run_to_end(machine: &mut Machine) -> Finish {
    let end = machine.run().expect("run to the end");
    Finish {
        end,
        instructions: machine.position(),
        state_hash: machine.state_hash(),
    }
}

/// A fresh directory for one test's files.
pub fn scratch_dir(test: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("armvex-snapshot-{test}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("create a scratch directory");
    dir
}

/// Positions spread over `0..=end`: the first few, some chosen at random (fixed seed), the
/// middle, the last few.
pub fn positions(end: u64, random: usize, seed: u64) -> Vec<u64> {
    let mut rng = seed | 1;
    let mut next = move || {
        rng ^= rng << 13;
        rng ^= rng >> 7;
        rng ^= rng << 17;
        rng
    };
    let mut p = vec![0, 1, 2, 3, 7, 100, 1001, end / 2, end.saturating_sub(1), end];
    p.extend((0..random).map(|_| next() % end.max(1)));
    p.retain(|&x| x <= end);
    p.sort_unstable();
    p.dedup();
    p
}
