//! Replaying QEMU runs: the host side of the differential test.
//!
//! `tools/difftest/neon.py` runs random Advanced SIMD instructions bare-metal under QEMU
//! and writes a *case file* (its docstring describes the format): the initial state, each
//! instruction word with the core registers its setup loads, QEMU's state after each
//! instruction, and the data buffer before and after. [`replay`] executes the same words
//! with this crate, from the same state, on a model of the buffer, and reports the first
//! record that differs.
//!
//! A record is 82 words: r0-r12, D0-D31 (low word first), FPSCR, the number of UNDEFINED
//! instructions so far, the number of data aborts so far, and the last abort's DFSR and
//! DFAR (the harness counts exceptions and resumes at the next instruction).

use crate::{Decoded, Features, NeonEnv, NeonFault, decode_a32, decode_t32, execute};

/// Words in a record.
pub const RECORD_WORDS: usize = 82;
const FPSCR: usize = 13 + 64;
const UNDEF: usize = FPSCR + 1;
const ABORTS: usize = FPSCR + 2;
const DFSR: usize = FPSCR + 3;
const DFAR: usize = FPSCR + 4;

/// The outcome of replaying one case file.
#[derive(Debug, Default)]
pub struct Outcome {
    /// Instructions executed (the whole case when there is no mismatch).
    pub instructions: usize,
    /// UNDEFINED instructions among them.
    pub undefined: usize,
    /// Alignment faults among them.
    pub aborts: usize,
    /// Executed (not UNDEFINED) instructions per [`crate::Group`], in declaration order.
    pub per_group: [usize; crate::Group::ALL.len()],
    /// A description of the first mismatch, if any.
    pub mismatch: Option<String>,
}

struct Machine {
    regs: [u32; 16],
    base: u32,
    mem: Vec<u8>,
}

impl NeonEnv for Machine {
    type Fault = u32;
    fn core_reg(&self, r: usize) -> u32 {
        self.regs[r & 15]
    }
    fn set_core_reg(&mut self, r: usize, value: u32) {
        self.regs[r & 15] = value;
    }
    fn read(&mut self, addr: u32, bytes: u32) -> Result<u64, u32> {
        let off = addr.wrapping_sub(self.base) as usize;
        let slice = self.mem.get(off..off + bytes as usize).ok_or(addr)?;
        Ok(slice.iter().rev().fold(0u64, |acc, &b| (acc << 8) | b as u64))
    }
    fn write(&mut self, addr: u32, bytes: u32, value: u64) -> Result<(), u32> {
        let off = addr.wrapping_sub(self.base) as usize;
        let slice = self.mem.get_mut(off..off + bytes as usize).ok_or(addr)?;
        for (i, b) in slice.iter_mut().enumerate() {
            *b = (value >> (8 * i)) as u8;
        }
        Ok(())
    }
}

fn hex_words(s: &str) -> Result<Vec<u32>, String> {
    s.split_whitespace()
        .map(|w| u32::from_str_radix(w, 16).map_err(|e| format!("bad hex word {w:?}: {e}")))
        .collect()
}

/// Why a case file could not be replayed: the line at fault and what is wrong with it. (A
/// state that differs from QEMU's is no error: it is [`Outcome::mismatch`].)
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ReplayError {
    /// The line's number, from 1.
    pub line: usize,
    /// What is wrong: an unknown line or CPU, a bad hex word or record item, a word that is no
    /// Advanced SIMD instruction, an access outside the buffer.
    pub message: String,
}

impl std::fmt::Display for ReplayError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "line {}: {}", self.line, self.message)
    }
}

impl std::error::Error for ReplayError {}

fn state_name(i: usize) -> String {
    match i {
        0..=12 => format!("r{i}"),
        13..=76 => format!("d{}.{}", (i - 13) / 2, if (i - 13) % 2 == 0 { "lo" } else { "hi" }),
        FPSCR => "fpscr".into(),
        UNDEF => "undef".into(),
        ABORTS => "aborts".into(),
        DFSR => "dfsr".into(),
        _ => "dfar".into(),
    }
}

/// Replay a case file's text.
pub fn replay(text: &str) -> Result<Outcome, ReplayError> {
    let mut thumb = false;
    let mut features = Features::CORTEX_A15;
    let mut m = Machine {
        regs: [0; 16],
        base: 0,
        mem: Vec::new(),
    };
    let mut expected: Vec<u32> = Vec::new();
    let mut state = [0u32; RECORD_WORDS];
    let mut d = [0u64; 32];
    let mut out = Outcome::default();
    let mut current: Option<(u32, String)> = None;
    for (lineno, line) in text.lines().enumerate() {
        let (tag, rest) = line.split_once(' ').unwrap_or((line, ""));
        let ctx = |message: String| ReplayError {
            line: lineno + 1,
            message,
        };
        match tag {
            "neon-case" => {}
            "isa" => thumb = rest == "thumb",
            "cpu" => {
                features = match rest {
                    "cortex-a9" => Features::CORTEX_A9,
                    "cortex-a15" => Features::CORTEX_A15,
                    _ => return Err(ctx(format!("unknown cpu {rest:?}"))),
                }
            }
            "buf" => {
                let w = hex_words(rest).map_err(ctx)?;
                m.base = *w.first().ok_or_else(|| ctx("buf needs an address".into()))?;
            }
            "mem" => {
                m.mem = hex_words(rest)
                    .map_err(ctx)?
                    .iter()
                    .flat_map(|w| w.to_le_bytes())
                    .collect();
            }
            "init" => {
                expected = hex_words(rest).map_err(ctx)?;
                if expected.len() != RECORD_WORDS {
                    return Err(ctx(format!("init has {} words", expected.len())));
                }
                state.copy_from_slice(&expected);
                m.regs[..13].copy_from_slice(&state[..13]);
                for (i, r) in d.iter_mut().enumerate() {
                    *r = state[13 + 2 * i] as u64 | ((state[14 + 2 * i] as u64) << 32);
                }
            }
            "i" => {
                let mut parts = rest.split_whitespace();
                let word = u32::from_str_radix(parts.next().unwrap_or(""), 16).map_err(|e| ctx(e.to_string()))?;
                let mut setup = String::new();
                for p in parts {
                    let (r, v) = p.split_once('=').ok_or_else(|| ctx(format!("bad setup {p:?}")))?;
                    if let Some(dn) = r.strip_prefix('d') {
                        let dn: usize = dn.parse().map_err(|_| ctx(format!("bad register {r:?}")))?;
                        let v = u64::from_str_radix(v, 16).map_err(|e| ctx(e.to_string()))?;
                        d[dn & 31] = v;
                        setup += &format!(" d{dn}={v:#x}");
                        continue;
                    }
                    let r: usize = r.parse().map_err(|_| ctx(format!("bad register {r:?}")))?;
                    let v = u32::from_str_radix(v, 16).map_err(|e| ctx(e.to_string()))?;
                    m.regs[r & 15] = v;
                    setup += &format!(" r{r}={v:#x}");
                }
                current = Some((word, setup));
                let decoded = if thumb {
                    decode_t32(crate::decode::a32_to_t32(word), features)
                } else {
                    decode_a32(word, features)
                };
                match decoded {
                    Decoded::NotNeon => return Err(ctx(format!("{word:08x} is not an Advanced SIMD word"))),
                    Decoded::Undefined => {
                        state[UNDEF] += 1;
                        out.undefined += 1;
                    }
                    Decoded::Op(op) => {
                        out.per_group[op.group as usize] += 1;
                        let mut fpscr = state[FPSCR];
                        match execute(op, &mut d, &mut fpscr, &mut m) {
                            Ok(()) => {}
                            Err(NeonFault::Alignment { addr }) => {
                                state[ABORTS] += 1;
                                out.aborts += 1;
                                let store = word & (1 << 21) == 0;
                                state[DFSR] = 0x1 | if store { 1 << 11 } else { 0 };
                                state[DFAR] = addr;
                            }
                            Err(NeonFault::Memory(addr)) => {
                                return Err(ctx(format!("access at {addr:#x} outside the buffer")));
                            }
                        }
                        state[FPSCR] = fpscr;
                    }
                }
                state[..13].copy_from_slice(&m.regs[..13]);
                for (i, r) in d.iter().enumerate() {
                    state[13 + 2 * i] = *r as u32;
                    state[14 + 2 * i] = (*r >> 32) as u32;
                }
            }
            "r" => {
                for p in rest.split_whitespace() {
                    let (i, v) = p.split_once('=').ok_or_else(|| ctx(format!("bad record item {p:?}")))?;
                    let i: usize = i.parse().map_err(|_| ctx(format!("bad index {i:?}")))?;
                    let v = u32::from_str_radix(v, 16).map_err(|e| ctx(e.to_string()))?;
                    *expected
                        .get_mut(i)
                        .ok_or_else(|| ctx(format!("index {i} out of range")))? = v;
                }
                let (word, setup) = current.take().ok_or_else(|| ctx("record without instruction".into()))?;
                if expected[..] != state[..] {
                    let diffs: Vec<String> = (0..RECORD_WORDS)
                        .filter(|&i| expected[i] != state[i])
                        .map(|i| format!("{}: qemu={:08x} neon={:08x}", state_name(i), expected[i], state[i]))
                        .collect();
                    let enc = if thumb { crate::decode::a32_to_t32(word) } else { word };
                    out.mismatch = Some(format!(
                        "instruction {} ({} {enc:08x}, A32 {word:08x}{}{}): {}",
                        out.instructions,
                        if thumb { "T32" } else { "A32" },
                        if setup.is_empty() { "" } else { ", setup" },
                        setup,
                        diffs.join(", ")
                    ));
                    return Ok(out);
                }
                out.instructions += 1;
            }
            "final" => {
                let words = hex_words(rest).map_err(ctx)?;
                let ours: Vec<u32> = m
                    .mem
                    .chunks(4)
                    .map(|c| u32::from_le_bytes([c[0], c[1], c[2], c[3]]))
                    .collect();
                if let Some(i) = (0..words.len()).find(|&i| ours.get(i) != Some(&words[i])) {
                    out.mismatch = Some(format!(
                        "registers agree, the buffer differs at +{:#x}: qemu={:08x} neon={:08x}",
                        4 * i,
                        words[i],
                        ours.get(i).copied().unwrap_or(0)
                    ));
                }
            }
            "" => {}
            _ => return Err(ctx(format!("unknown line {tag:?}"))),
        }
    }
    Ok(out)
}
