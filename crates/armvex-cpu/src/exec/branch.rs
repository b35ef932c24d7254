//! Branches (ARM ARM A5.5, A8.8.18 B, A8.8.25 BL/BLX (immediate), A8.8.27 BX, A8.8.26 BLX
//! (register)).
//!
//! Fields: `imm` = offset from the PC value the instruction reads (instruction + 8 in ARM,
//! + 4 in Thumb); `rm` = target register; `op` = 1 for the linking forms.

use crate::cpu::Cpu;
use crate::insn::{Flow, Insn};
use armvex_bus::Bus;

impl Cpu {
    /// The return address a BL/BLX leaves in LR: the next instruction, with bit 0 set in Thumb.
    #[inline(always)]
    fn link_address(&self, d: &Insn) -> u32 {
        self.next_insn_addr(d) | u32::from(self.thumb)
    }
}

/// B (`op` 0) and BL (`op` 1): stay in the current instruction set.
pub fn branch(cpu: &mut Cpu, _bus: &mut Bus, d: &Insn) -> Flow {
    if d.op != 0 {
        cpu.regs[14] = cpu.link_address(d);
    }
    let target = cpu.regs[15].wrapping_add(d.imm);
    cpu.branch_write_pc(target)
}

/// BLX (immediate): branch with link and change instruction set. The target is computed from
/// Align(PC, 4) when coming from Thumb.
pub fn blx_imm(cpu: &mut Cpu, _bus: &mut Bus, d: &Insn) -> Flow {
    cpu.regs[14] = cpu.link_address(d);
    let to_thumb = !cpu.thumb;
    let target = (cpu.regs[15] & !3).wrapping_add(d.imm);
    cpu.thumb = to_thumb;
    cpu.regs[15] = if to_thumb { target & !1 } else { target & !3 };
    Flow::Branch
}

/// BX (`op` 0) and BLX (register) (`op` 1): interworking branch to `rm`.
pub fn bx(cpu: &mut Cpu, _bus: &mut Bus, d: &Insn) -> Flow {
    let target = cpu.reg(d.rm);
    if d.op != 0 {
        cpu.regs[14] = cpu.link_address(d);
    }
    cpu.bx_write_pc(target)
}
