//! Instruction handlers, shared by the ARM (A32) and Thumb (T32) decoders.
//!
//! Most ARM and Thumb-2 instructions do the same thing with operands found in different bits,
//! so both decoders produce [`Insn`](crate::insn::Insn)s pointing at these handlers; only the
//! value R15 reads as (instruction + 8 in ARM state, + 4 in Thumb state) differs, and the run
//! loop takes care of it.
//!
//! | module       | instructions                                                       |
//! |--------------|--------------------------------------------------------------------|
//! | [`dataproc`] | AND..MVN with every operand-2 form, MOVW/MOVT                       |
//! | [`multiply`] | MUL..UMAAL, the DSP and media multiplies, SDIV/UDIV                 |
//! | [`loadstore`]| LDR/STR and the byte, halfword, doubleword, unprivileged and exclusive forms, LDM/STM, SWP |
//! | [`media`]    | parallel add/subtract, saturation, packing, extension, reversal, bit fields |
//! | [`branch`]   | B, BL, BX, BLX                                                     |
//! | [`misc`]     | status registers, exceptions, hints, barriers, coprocessors        |
//! | [`thumb`]    | IT, CBZ/CBNZ, TBB/TBH: the instructions only Thumb state has        |
//! | [`vfp`]      | VFP floating point: arithmetic, conversions, transfers, loads/stores |
//! | [`neon`]     | Advanced SIMD (NEON), executed by `armvex-neon`                     |

pub mod branch;
pub mod dataproc;
pub mod loadstore;
pub mod media;
pub mod misc;
pub mod multiply;
pub mod neon;
pub mod thumb;
pub mod vfp;

use crate::cpu::Cpu;
use crate::insn::{Flow, Insn};

impl Cpu {
    /// The address of the instruction after the one executing (of length `len`).
    #[inline(always)]
    pub(crate) fn next_insn_addr(&self, d: &Insn) -> u32 {
        self.current_insn_addr().wrapping_add(d.len(self.thumb))
    }

    /// BXWritePC (ARM ARM A2.3.2): bit 0 selects Thumb state.
    #[inline]
    pub(crate) fn bx_write_pc(&mut self, target: u32) -> Flow {
        let thumb = target & 1 != 0;
        // Bit 1 set in ARM state is UNPREDICTABLE; QEMU keeps it and the fetch faults.
        // Clearing it is the simpler well-defined choice.
        self.regs[15] = if thumb { target & !1 } else { target & !3 };
        if thumb == self.thumb {
            Flow::Jump
        } else {
            self.thumb = thumb;
            Flow::Branch
        }
    }

    /// BranchWritePC: stay in the current instruction set.
    #[inline]
    pub(crate) fn branch_write_pc(&mut self, target: u32) -> Flow {
        self.regs[15] = if self.thumb { target & !1 } else { target & !3 };
        Flow::Jump
    }

    /// ALUWritePC: interworking in ARM state, a plain branch in Thumb state.
    #[inline]
    pub(crate) fn alu_write_pc(&mut self, target: u32) -> Flow {
        if self.thumb {
            self.branch_write_pc(target)
        } else {
            self.bx_write_pc(target)
        }
    }
}

/// Unwrap a memory access result inside a handler, taking a Data Abort on a fault.
macro_rules! mem {
    ($cpu:expr, $e:expr) => {
        match $e {
            Ok(v) => v,
            Err(fault) => return $cpu.data_abort(fault),
        }
    };
}
pub(crate) use mem;

/// [`mem!`] in a handler whose family does not keep the PC ([`crate::thread::Op::SYNC`]
/// false): the PC of instruction `d` is stored before the Data Abort, which needs it.
macro_rules! mem_synced {
    ($cpu:expr, $d:expr, $e:expr) => {
        match $e {
            Ok(v) => v,
            Err(fault) => {
                $cpu.sync_pc($d);
                return $cpu.data_abort(fault);
            }
        }
    };
}
pub(crate) use mem_synced;
