//! Instruction tracing (`--trace`): each executed instruction with its address, encoding,
//! disassembly (capstone) and the registers it starts with, plus exceptions and MMIO accesses.
//! The format is meant to be diffed against QEMU's `-d in_asm,cpu,int -singlestep` log.

use crate::cpu::Cpu;
use crate::exception::Exception;
use capstone::prelude::*;
use std::io::Write;

/// Where trace lines go, and the disassembler.
pub struct Tracer {
    out: Box<dyn Write + Send>,
    arm: Capstone,
    thumb: Capstone,
}

impl Tracer {
    /// A tracer writing to `out`.
    pub fn new(out: Box<dyn Write + Send>) -> Result<Tracer, String> {
        let make = |mode| {
            Capstone::new()
                .arm()
                .mode(mode)
                .extra_mode([arch::arm::ArchExtraMode::V8].into_iter())
                .build()
                .map_err(|e| format!("cannot start the disassembler: {e}"))
        };
        Ok(Tracer {
            out,
            arm: make(arch::arm::ArchMode::Arm)?,
            thumb: make(arch::arm::ArchMode::Thumb)?,
        })
    }

    fn disassemble(&self, thumb: bool, addr: u32, bytes: &[u8]) -> String {
        let cs = if thumb { &self.thumb } else { &self.arm };
        match cs.disasm_count(bytes, u64::from(addr), 1) {
            Ok(insns) => insns
                .iter()
                .next()
                .map(|i| format!("{} {}", i.mnemonic().unwrap_or("?"), i.op_str().unwrap_or("")))
                .unwrap_or_else(|| "(undefined)".into()),
            Err(_) => "(undefined)".into(),
        }
    }
}

impl Cpu {
    /// Start tracing to `tracer` (or stop with `None`).
    pub fn set_tracer(&mut self, tracer: Option<Tracer>) {
        self.tracer = tracer;
    }

    /// Trace the instruction at `pc` whose encoding is `raw` (`len` bytes; a 32-bit Thumb
    /// instruction has its first halfword in bits 31:16).
    pub(crate) fn trace_insn(&mut self, pc: u32, raw: u32, len: u8) {
        let regs = self.dump_with_r15(pc);
        let thumb = self.thumb;
        let index = self.config.index;
        let Some(t) = self.tracer.as_mut() else { return };
        let (bytes, hex) = if thumb {
            if len == 4 {
                let hw1 = (raw >> 16) as u16;
                let hw2 = raw as u16;
                let mut b = hw1.to_le_bytes().to_vec();
                b.extend_from_slice(&hw2.to_le_bytes());
                (b, format!("{hw1:04x}{hw2:04x}"))
            } else {
                ((raw as u16).to_le_bytes().to_vec(), format!("{:04x}", raw as u16))
            }
        } else {
            (raw.to_le_bytes().to_vec(), format!("{raw:08x}"))
        };
        let text = t.disassemble(thumb, pc, &bytes);
        let _ = writeln!(t.out, "{regs}\ncpu{index} 0x{pc:08x}:  {hex}  {text}");
    }

    pub(crate) fn trace_exception(&mut self, kind: Exception, cpsr: u32, lr: u32, vector: u32) {
        let index = self.config.index;
        if let Some(t) = self.tracer.as_mut() {
            let _ = writeln!(
                t.out,
                "cpu{index} exception: {} (cpsr {cpsr:08x}, lr {lr:08x}) -> {vector:08x}",
                kind.name()
            );
        }
    }

    pub(crate) fn note_mmio(&mut self, write: bool, pa: u64, size: u32, value: u32) {
        let index = self.config.index;
        if let Some(t) = self.tracer.as_mut() {
            let dir = if write { "write" } else { "read" };
            let _ = writeln!(t.out, "cpu{index} mmio {dir}{} {pa:#010x} = {value:#x}", size * 8);
        }
    }
}
