//! Fuzzing armvex under `cargo test`: what this crate's tests throw at the emulator, and the
//! tools they share.
//!
//! armvex promises that bad input gets a clear error or an error to the guest, never a panic
//! and never a hang. The tests in `tests/` check that promise against inputs nobody would write
//! by hand, generated from a seeded random stream:
//!
//! * `tests/cpu.rs`: random ARM and Thumb instruction streams from random register values, on
//!   both boards' cores: every undefined encoding, every coprocessor access, every mode change
//!   the stream happens to contain;
//! * `tests/loaders.rs`: damaged ELF files, uImages, zImages and plain junk given as the kernel;
//! * `tests/adversarial.rs`: an adversarial bare-metal guest that writes random values of
//!   random sizes to every register of every device of the board, and programs the virtio
//!   transports with huge queues, rings in MMIO space, overlapping and looping descriptors,
//!   requests aimed at its own code, and resets in the middle; the host images behind its
//!   read-only and `snapshot=on` drives must not change by a single byte.
//!
//! Each case runs on its own thread under a host-time deadline ([`within`]), so a hang fails
//! the test instead of stopping it. The seed comes from `ARMVEX_FUZZ_SEED` (else the clock) and
//! is printed: a failure reproduces with it. `ARMVEX_FUZZ_SCALE=N` multiplies the number of
//! cases (the CI run uses 1; `tools/test --long` documents a longer one).
//!
//! This is fuzzing without coverage feedback (no `cargo-fuzz`, which needs a nightly compiler):
//! the generators are biased toward the inputs that reach deep (valid headers with damaged
//! fields, register values that point into RAM, bring-up sequences of the virtio spec with one
//! step wrong), which is what coverage guidance would find on its own, given time.

use armvex_machine::console::HostInput;
use armvex_machine::devices::DriveSpec;
use armvex_machine::{Machine, MachineConfig, MachineError, RunGoal, Stop};
use std::path::{Path, PathBuf};
use std::sync::mpsc;
use std::time::Duration;

/// A seeded pseudo-random stream (SplitMix64: tiny, and good enough to pick test inputs).
#[derive(Clone)]
pub struct Rng(u64);

impl Rng {
    pub fn new(seed: u64) -> Rng {
        Rng(seed)
    }

    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    pub fn next_u32(&mut self) -> u32 {
        (self.next_u64() >> 32) as u32
    }

    /// A number in `0..n` (`n` > 0).
    pub fn below(&mut self, n: u64) -> u64 {
        self.next_u64() % n
    }

    /// True with probability `percent`/100.
    pub fn chance(&mut self, percent: u64) -> bool {
        self.below(100) < percent
    }

    /// One of `items`.
    pub fn pick<'a, T>(&mut self, items: &'a [T]) -> &'a T {
        &items[self.below(items.len() as u64) as usize]
    }

    /// A 32-bit value biased toward the interesting ones: 0, all ones, small numbers, single
    /// bits, values near the top, and plain random ones.
    pub fn interesting_u32(&mut self) -> u32 {
        match self.below(8) {
            0 => 0,
            1 => u32::MAX,
            2 => self.below(16) as u32,
            3 => 1 << self.below(32),
            4 => u32::MAX - self.below(16) as u32,
            5 => self.below(0x1_0000) as u32,
            _ => self.next_u32(),
        }
    }
}

/// The run's seed: `ARMVEX_FUZZ_SEED`, else from the clock. Printed so that a failure can be
/// reproduced.
pub fn seed(test: &str) -> u64 {
    let seed = std::env::var("ARMVEX_FUZZ_SEED")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| {
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map(|d| d.as_nanos() as u64)
                .unwrap_or(1)
        });
    eprintln!("{test}: ARMVEX_FUZZ_SEED={seed}");
    seed
}

/// `base` cases, times `ARMVEX_FUZZ_SCALE` (default 1).
pub fn cases(base: u64) -> u64 {
    let scale: u64 = std::env::var("ARMVEX_FUZZ_SCALE")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(1);
    base * scale.max(1)
}

/// Run `f` on its own thread; fail (naming `what`) if it panics or takes longer than
/// `seconds` of host time. Returns what `f` returned.
pub fn within<T: Send + 'static>(seconds: u64, what: &str, f: impl FnOnce() -> T + Send + 'static) -> T {
    let (tx, rx) = mpsc::channel();
    let handle = std::thread::Builder::new()
        .name(what.to_string())
        .spawn(move || {
            let _ = tx.send(f());
        })
        .expect("spawn a fuzz case");
    match rx.recv_timeout(Duration::from_secs(seconds)) {
        Ok(v) => {
            let _ = handle.join();
            v
        }
        Err(mpsc::RecvTimeoutError::Disconnected) => {
            let panic = handle.join().err();
            let message = panic
                .as_ref()
                .and_then(|p| {
                    p.downcast_ref::<String>()
                        .cloned()
                        .or_else(|| p.downcast_ref::<&str>().map(|s| s.to_string()))
                })
                .unwrap_or_default();
            panic!("{what}: armvex panicked: {message}")
        }
        Err(mpsc::RecvTimeoutError::Timeout) => panic!("{what}: no answer within {seconds} s of host time (a hang)"),
    }
}

/// A32 encodings for generated programs (ARM ARM A8.8; all unconditional).
pub mod a32 {
    /// MOVW Rd, #imm16.
    pub fn movw(rd: u32, imm: u32) -> u32 {
        0xe300_0000 | ((imm >> 12) & 0xf) << 16 | rd << 12 | (imm & 0xfff)
    }
    /// MOVT Rd, #imm16.
    pub fn movt(rd: u32, imm: u32) -> u32 {
        0xe340_0000 | ((imm >> 12) & 0xf) << 16 | rd << 12 | (imm & 0xfff)
    }
    /// Rd = value, in two instructions.
    pub fn mov32(rd: u32, value: u32) -> [u32; 2] {
        [movw(rd, value & 0xffff), movt(rd, value >> 16)]
    }
    /// STR/STRH/STRB Rt, \[Rn\] for a 4-, 2- or 1-byte access.
    pub fn store(size: u32, rt: u32, rn: u32) -> u32 {
        match size {
            1 => 0xe5c0_0000 | rn << 16 | rt << 12,
            2 => 0xe1c0_00b0 | rn << 16 | rt << 12,
            _ => 0xe580_0000 | rn << 16 | rt << 12,
        }
    }
    /// LDR/LDRH/LDRB Rt, \[Rn\] for a 4-, 2- or 1-byte access.
    pub fn load(size: u32, rt: u32, rn: u32) -> u32 {
        match size {
            1 => 0xe5d0_0000 | rn << 16 | rt << 12,
            2 => 0xe1d0_00b0 | rn << 16 | rt << 12,
            _ => 0xe590_0000 | rn << 16 | rt << 12,
        }
    }
    /// BX Rm.
    pub fn bx(rm: u32) -> u32 {
        0xe12f_ff10 | rm
    }
    /// The semihosting call that ends a program with status 0: SYS_EXIT (0x18) with
    /// ADP_Stopped_ApplicationExit (ARM semihosting 2.0, 6.5).
    pub fn exit() -> Vec<u32> {
        let mut v = Vec::new();
        v.extend(mov32(0, 0x18));
        v.extend(mov32(1, 0x2_0026));
        v.push(0xef12_3456); // SVC #0x123456
        v
    }
}

/// A little-endian ARM ELF32 executable with one loadable segment holding `code` at `load`,
/// entered at `load`.
pub fn elf(load: u32, code: &[u8]) -> Vec<u8> {
    let mut f = Vec::with_capacity(84 + code.len());
    // e_ident: ELF, 32-bit, little-endian, version 1.
    f.extend_from_slice(&[0x7f, b'E', b'L', b'F', 1, 1, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0]);
    let half = |f: &mut Vec<u8>, v: u16| f.extend_from_slice(&v.to_le_bytes());
    let word = |f: &mut Vec<u8>, v: u32| f.extend_from_slice(&v.to_le_bytes());
    half(&mut f, 2); // ET_EXEC
    half(&mut f, 40); // EM_ARM
    word(&mut f, 1); // EV_CURRENT
    word(&mut f, load); // e_entry
    word(&mut f, 52); // e_phoff
    word(&mut f, 0); // e_shoff
    word(&mut f, 0x0500_0000); // e_flags: EABI version 5
    half(&mut f, 52); // e_ehsize
    half(&mut f, 32); // e_phentsize
    half(&mut f, 1); // e_phnum
    half(&mut f, 40); // e_shentsize
    half(&mut f, 0); // e_shnum
    half(&mut f, 0); // e_shstrndx
    // The program header: PT_LOAD, file offset 84, RWX.
    word(&mut f, 1);
    word(&mut f, 84);
    word(&mut f, load);
    word(&mut f, load);
    word(&mut f, code.len() as u32);
    word(&mut f, code.len() as u32);
    word(&mut f, 7);
    word(&mut f, 4);
    f.extend_from_slice(code);
    f
}

/// Little-endian bytes of 32-bit words.
pub fn bytes(words: &[u32]) -> Vec<u8> {
    words.iter().flat_map(|w| w.to_le_bytes()).collect()
}

/// A scratch file for one case (in the temporary directory; the caller removes it).
pub fn scratch(name: &str, contents: &[u8]) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("armvex-fuzz-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("create the fuzz scratch directory");
    let p = dir.join(name);
    std::fs::write(&p, contents).expect("write a fuzz scratch file");
    p
}

/// A machine of `board` with `kernel` (a bare-metal ELF with semihosting, or anything else,
/// which is booted as Linux) and `drives`; its console output is thrown away.
pub fn machine(board: &str, kernel: &Path, drives: Vec<DriveSpec>) -> Result<Machine, MachineError> {
    Machine::new(MachineConfig {
        memory: Some(128 << 20),
        cmdline: "fuzz".into(),
        input: HostInput::none(1_700_000_000),
        drives,
        ..MachineConfig::bare_metal(board, kernel, Box::new(std::io::sink()))
    })
}

/// Run `machine` until `instructions` have retired or the guest ends; how it stopped.
pub fn run(machine: &mut Machine, instructions: u64) -> Result<Stop, MachineError> {
    let goal = RunGoal {
        position: Some(machine.position() + instructions),
        ..RunGoal::default()
    };
    loop {
        match machine.run_until(&goal, &mut || false)? {
            Stop::CheckpointDue | Stop::Interrupted => continue,
            other => return Ok(other),
        }
    }
}
