//! Instruction tracing (`--trace`): each executed instruction with its address, encoding,
//! disassembly (capstone) and the registers it starts with, plus exceptions and MMIO accesses.
//! The format is meant to be diffed against QEMU's `-d in_asm,cpu,int -singlestep` log.

use crate::error::CpuError;
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
    pub fn new(out: Box<dyn Write + Send>) -> Result<Tracer, CpuError> {
        let make = |mode| {
            Capstone::new()
                .arm()
                .mode(mode)
                .extra_mode([arch::arm::ArchExtraMode::V8].into_iter())
                .build()
                .map_err(|e| CpuError::Disassembler(e.to_string()))
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

impl Tracer {
    /// The lines of one instruction: the registers it starts with (`regs`, as
    /// [`Cpu::dump`](crate::Cpu::dump) prints them), then CPU `cpu`, its address, encoding and
    /// disassembly. `raw` is `len` bytes long; a 32-bit Thumb instruction has its first halfword
    /// in bits 31:16.
    pub(crate) fn insn(&mut self, cpu: usize, regs: &str, thumb: bool, pc: u32, raw: u32, len: u8) {
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
        let text = self.disassemble(thumb, pc, &bytes);
        let _ = writeln!(self.out, "{regs}\ncpu{cpu} 0x{pc:08x}:  {hex}  {text}");
    }

    /// The line of an exception entry (`name` as in [`Exception::name`](crate::exception::Exception::name)).
    pub(crate) fn exception(&mut self, cpu: usize, name: &str, cpsr: u32, lr: u32, vector: u32) {
        let _ = writeln!(
            self.out,
            "cpu{cpu} exception: {name} (cpsr {cpsr:08x}, lr {lr:08x}) -> {vector:08x}"
        );
    }

    /// The line of a device access (`size` in bytes).
    pub(crate) fn mmio(&mut self, cpu: usize, write: bool, pa: u64, size: u32, value: u32) {
        let dir = if write { "write" } else { "read" };
        let _ = writeln!(self.out, "cpu{cpu} mmio {dir}{} {pa:#010x} = {value:#x}", size * 8);
    }
}
