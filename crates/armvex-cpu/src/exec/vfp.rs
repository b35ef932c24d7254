//! VFP: the floating-point extension (ARM ARM A2.7, A7; VFPv3-D32, plus VFPv4's fused
//! multiply-add on the Cortex-A15).
//!
//! Thirty-two 64-bit registers D0–D31; S0–S31 are the halves of D0–D15 (S2n is the low half of
//! Dn). The FPSCR holds the condition flags set by VCMP, the rounding mode, flush-to-zero and
//! default-NaN controls, and cumulative exception flags. All arithmetic is delegated to
//! [`armvex_fpu`], which reproduces ARM's rounding, NaN and flag rules bit for bit.
//!
//! Access (B1.11, B4.1.40): a VFP instruction is UNDEFINED unless CPACR grants coprocessors 10
//! and 11 at the current privilege and FPEXC.EN is set. Linux enables the VFP lazily: it leaves
//! FPEXC.EN clear and switches a task's VFP state in from the undefined-instruction handler.
//! VMRS/VMSR of FPSID, FPEXC and MVFR0/1 work at PL1 whatever FPEXC.EN says.
//!
//! Short vectors (FPSCR.LEN/STRIDE) are not implemented: every operation is scalar.

use super::mem;
use crate::cpu::Cpu;
use crate::insn::{Flow, Insn};
use crate::memory::AccessFlags;
use crate::model::CpuModel;
use crate::state::Mode;
use armvex_bus::Bus;
use armvex_fpu::FpContext;

/// FPEXC.EN.
pub const FPEXC_EN: u32 = 1 << 30;

/// FPSCR bits that can be written: NZCV, QC, AHP, DN, FZ, RMode, Stride, Len and the
/// cumulative flags (the trap enables are RAZ/WI: no trapping here).
const FPSCR_WRITABLE: u32 = (0xffff_0000 & !(1 << 19)) | 0x9f;

impl Cpu {
    /// D register `n`.
    #[inline]
    pub(crate) fn dreg(&self, n: u8) -> u64 {
        self.vfp.d[n as usize & 31]
    }

    #[inline]
    pub(crate) fn set_dreg(&mut self, n: u8, v: u64) {
        self.vfp.d[n as usize & 31] = v;
    }

    /// S register `n` (a half of D(n/2)).
    #[inline]
    pub(crate) fn sreg(&self, n: u8) -> u32 {
        (self.vfp.d[(n as usize >> 1) & 15] >> ((n & 1) * 32)) as u32
    }

    #[inline]
    pub(crate) fn set_sreg(&mut self, n: u8, v: u32) {
        let d = &mut self.vfp.d[(n as usize >> 1) & 15];
        let shift = (n & 1) * 32;
        *d = (*d & !(0xffff_ffffu64 << shift)) | (u64::from(v) << shift);
    }

    /// CPACR grants CP10/CP11 at the current privilege (and, in Non-secure state, NSACR
    /// lets the Non-secure world use them at all).
    fn vfp_access_granted(&self) -> bool {
        if self.cp15.nonsecure && self.cp15.nsacr & crate::cp15::NSACR_CP10 == 0 {
            return false;
        }
        let cp10 = (self.cp15.cpacr >> 20) & 3;
        match cp10 {
            3 => true,
            1 => self.mode() != Mode::User,
            _ => false,
        }
    }

    /// The VFP may execute this instruction (CPACR and FPEXC.EN).
    #[inline]
    pub(crate) fn vfp_enabled(&self) -> bool {
        self.vfp.fpexc & FPEXC_EN != 0 && self.vfp_access_granted()
    }

    /// The arithmetic context from the FPSCR.
    #[inline]
    fn fp_context(&self) -> FpContext {
        FpContext::from_fpscr(self.vfp.fpscr)
    }

    #[inline]
    fn absorb_flags(&mut self, ctx: &FpContext) {
        self.vfp.fpscr |= ctx.flags & 0x9f;
    }

    /// FPSID for this core.
    fn fpsid(&self) -> u32 {
        match self.model() {
            CpuModel::CortexA9 => 0x4103_3090,
            CpuModel::CortexA15 => 0x4104_30f0,
        }
    }

    /// MVFR0/MVFR1 (the Media and VFP Feature Registers) as QEMU 7.2 reports them. MVFR1's Advanced SIMD
    /// fields (SIMDLS, SIMDInt, SIMDSP, SIMDHP; SIMDFMAC on the A15) say NEON is there:
    /// Linux then sets HWCAP_NEON and `/proc/cpuinfo` lists `neon`.
    fn mvfr(&self, n: u32) -> u32 {
        match (self.model(), n) {
            (CpuModel::CortexA9, 0) => 0x1111_0222,
            (CpuModel::CortexA9, _) => 0x0111_1111,
            (CpuModel::CortexA15, 0) => 0x1011_0222,
            (CpuModel::CortexA15, _) => 0x1111_1111,
        }
    }
}

/// Return UNDEFINED from a handler unless the VFP is usable.
macro_rules! check_vfp {
    ($cpu:expr) => {
        if !$cpu.vfp_enabled() {
            return $cpu.undefined();
        }
    };
}

/// Binary operations (`op` of [`binary`]).
pub mod binop {
    pub const ADD: u8 = 0;
    pub const SUB: u8 = 1;
    pub const MUL: u8 = 2;
    pub const DIV: u8 = 3;
    pub const NMUL: u8 = 4;
    pub const MLA: u8 = 5;
    pub const MLS: u8 = 6;
    pub const NMLA: u8 = 7;
    pub const NMLS: u8 = 8;
    pub const FMA: u8 = 9;
    pub const FMS: u8 = 10;
    pub const FNMA: u8 = 11;
    pub const FNMS: u8 = 12;
}

/// Two- and three-operand arithmetic: `rd` ← `rn` op `rm` (the multiply-accumulates also
/// read `rd`). `DOUBLE` selects D registers.
pub fn binary<const DOUBLE: bool, const OP: u8>(cpu: &mut Cpu, _bus: &mut Bus, d: &Insn) -> Flow {
    check_vfp!(cpu);
    use armvex_fpu as f;
    use binop::*;
    let mut ctx = cpu.fp_context();
    if DOUBLE {
        let (a, n, m) = (cpu.dreg(d.rd), cpu.dreg(d.rn), cpu.dreg(d.rm));
        let r = match OP {
            ADD => f::add64(&mut ctx, n, m),
            SUB => f::sub64(&mut ctx, n, m),
            MUL => f::mul64(&mut ctx, n, m),
            DIV => f::div64(&mut ctx, n, m),
            NMUL => f::vnmul64(&mut ctx, n, m),
            MLA => f::vmla64(&mut ctx, a, n, m),
            MLS => f::vmls64(&mut ctx, a, n, m),
            NMLA => f::vnmla64(&mut ctx, a, n, m),
            NMLS => f::vnmls64(&mut ctx, a, n, m),
            FMA => f::vfma64(&mut ctx, a, n, m),
            FMS => f::vfms64(&mut ctx, a, n, m),
            FNMA => f::vfnma64(&mut ctx, a, n, m),
            _ => f::vfnms64(&mut ctx, a, n, m),
        };
        cpu.set_dreg(d.rd, r);
    } else {
        let (a, n, m) = (cpu.sreg(d.rd), cpu.sreg(d.rn), cpu.sreg(d.rm));
        let r = match OP {
            ADD => f::add32(&mut ctx, n, m),
            SUB => f::sub32(&mut ctx, n, m),
            MUL => f::mul32(&mut ctx, n, m),
            DIV => f::div32(&mut ctx, n, m),
            NMUL => f::vnmul32(&mut ctx, n, m),
            MLA => f::vmla32(&mut ctx, a, n, m),
            MLS => f::vmls32(&mut ctx, a, n, m),
            NMLA => f::vnmla32(&mut ctx, a, n, m),
            NMLS => f::vnmls32(&mut ctx, a, n, m),
            FMA => f::vfma32(&mut ctx, a, n, m),
            FMS => f::vfms32(&mut ctx, a, n, m),
            FNMA => f::vfnma32(&mut ctx, a, n, m),
            _ => f::vfnms32(&mut ctx, a, n, m),
        };
        cpu.set_sreg(d.rd, r);
    }
    cpu.absorb_flags(&ctx);
    Flow::Next
}

/// One-operand operations (`op`): 0 VMOV, 1 VABS, 2 VNEG, 3 VSQRT; `rd` ← op(`rm`).
pub fn unary<const DOUBLE: bool>(cpu: &mut Cpu, _bus: &mut Bus, d: &Insn) -> Flow {
    check_vfp!(cpu);
    use armvex_fpu as f;
    let mut ctx = cpu.fp_context();
    if DOUBLE {
        let m = cpu.dreg(d.rm);
        let r = match d.op {
            0 => m,
            1 => f::abs64(&mut ctx, m),
            2 => f::neg64(&mut ctx, m),
            _ => f::sqrt64(&mut ctx, m),
        };
        cpu.set_dreg(d.rd, r);
    } else {
        let m = cpu.sreg(d.rm);
        let r = match d.op {
            0 => m,
            1 => f::abs32(&mut ctx, m),
            2 => f::neg32(&mut ctx, m),
            _ => f::sqrt32(&mut ctx, m),
        };
        cpu.set_sreg(d.rd, r);
    }
    cpu.absorb_flags(&ctx);
    Flow::Next
}

/// VMOV (immediate): `imm` is the single value, or the top word of the double (whose low word
/// is always zero).
pub fn mov_immediate<const DOUBLE: bool>(cpu: &mut Cpu, _bus: &mut Bus, d: &Insn) -> Flow {
    check_vfp!(cpu);
    if DOUBLE {
        cpu.set_dreg(d.rd, u64::from(d.imm) << 32);
    } else {
        cpu.set_sreg(d.rd, d.imm);
    }
    Flow::Next
}

/// VCMP/VCMPE: compare `rd` with `rm` (or with +0 when `op2` bit 1 is set); `op2` bit 0 = E
/// (signal on any NaN). Sets FPSCR.NZCV.
pub fn compare<const DOUBLE: bool>(cpu: &mut Cpu, _bus: &mut Bus, d: &Insn) -> Flow {
    check_vfp!(cpu);
    let mut ctx = cpu.fp_context();
    let signal = d.op2 & 1 != 0;
    let with_zero = d.op2 & 2 != 0;
    let nzcv = if DOUBLE {
        let m = if with_zero { 0 } else { cpu.dreg(d.rm) };
        armvex_fpu::compare64(&mut ctx, cpu.dreg(d.rd), m, signal)
    } else {
        let m = if with_zero { 0 } else { cpu.sreg(d.rm) };
        armvex_fpu::compare32(&mut ctx, cpu.sreg(d.rd), m, signal)
    };
    cpu.absorb_flags(&ctx);
    cpu.vfp.fpscr = (cpu.vfp.fpscr & 0x0fff_ffff) | (nzcv & 0xf000_0000);
    Flow::Next
}

/// Conversions (`op`):
/// 0 f32→f64 (`rd` is a D register, `rm` an S register); 1 f64→f32;
/// 2 int→float (`op2` bit 0 signed; `rm` an S register; `DOUBLE` is the float size);
/// 3 float→int (`op2` bit 0 signed, bit 1 round towards zero; `rd` an S register);
/// 4 fixed→float and 5 float→fixed in place in `rd` (`op2` bit 0 signed, bit 1 16-bit; `imm`
/// fraction bits); 6 half→single and 7 single→half (`imm` = 1 for the top half, VCVTT).
pub fn convert<const DOUBLE: bool>(cpu: &mut Cpu, _bus: &mut Bus, d: &Insn) -> Flow {
    check_vfp!(cpu);
    use armvex_fpu as f;
    let mut ctx = cpu.fp_context();
    let signed = d.op2 & 1 != 0;
    let ahp = cpu.vfp.fpscr & (1 << 26) != 0;
    match d.op {
        0 => {
            let r = f::f32_to_f64(&mut ctx, cpu.sreg(d.rm));
            cpu.set_dreg(d.rd, r);
        }
        1 => {
            let r = f::f64_to_f32(&mut ctx, cpu.dreg(d.rm));
            cpu.set_sreg(d.rd, r);
        }
        2 => {
            let v = cpu.sreg(d.rm);
            if DOUBLE {
                let r = if signed {
                    f::i32_to_f64(&mut ctx, v)
                } else {
                    f::u32_to_f64(&mut ctx, v)
                };
                cpu.set_dreg(d.rd, r);
            } else {
                let r = if signed {
                    f::i32_to_f32(&mut ctx, v)
                } else {
                    f::u32_to_f32(&mut ctx, v)
                };
                cpu.set_sreg(d.rd, r);
            }
        }
        3 => {
            let rz = d.op2 & 2 != 0;
            let r = match (DOUBLE, signed) {
                (true, true) => f::f64_to_i32(&mut ctx, cpu.dreg(d.rm), rz),
                (true, false) => f::f64_to_u32(&mut ctx, cpu.dreg(d.rm), rz),
                (false, true) => f::f32_to_i32(&mut ctx, cpu.sreg(d.rm), rz),
                (false, false) => f::f32_to_u32(&mut ctx, cpu.sreg(d.rm), rz),
            };
            cpu.set_sreg(d.rd, r);
        }
        4 | 5 => {
            let size16 = d.op2 & 2 != 0;
            let bits = d.imm;
            if DOUBLE {
                let v = cpu.dreg(d.rd);
                let r = if d.op == 4 {
                    f::fixed_to_f64(&mut ctx, v, bits, signed, size16)
                } else {
                    f::f64_to_fixed(&mut ctx, v, bits, signed, size16)
                };
                cpu.set_dreg(d.rd, r);
            } else {
                let v = cpu.sreg(d.rd);
                let r = if d.op == 4 {
                    f::fixed_to_f32(&mut ctx, v, bits, signed, size16)
                } else {
                    f::f32_to_fixed(&mut ctx, v, bits, signed, size16)
                };
                cpu.set_sreg(d.rd, r);
            }
        }
        6 => {
            let h = (cpu.sreg(d.rm) >> (16 * d.imm)) as u16;
            let r = f::f16_to_f32(&mut ctx, h, ahp);
            cpu.set_sreg(d.rd, r);
        }
        _ => {
            let h = f::f32_to_f16(&mut ctx, cpu.sreg(d.rm), ahp);
            let shift = 16 * d.imm;
            let old = cpu.sreg(d.rd);
            cpu.set_sreg(d.rd, (old & !(0xffff << shift)) | (u32::from(h) << shift));
        }
    }
    cpu.absorb_flags(&ctx);
    Flow::Next
}

/// VLDR/VSTR: `rd` = register, `rn` = base, `imm` = signed offset, `op` = 1 for a store.
/// The base PC reads word-aligned.
pub fn load_store<const DOUBLE: bool>(cpu: &mut Cpu, bus: &mut Bus, d: &Insn) -> Flow {
    check_vfp!(cpu);
    let base = if d.rn == 15 {
        cpu.regs[15] & !3
    } else {
        cpu.regs[d.rn as usize]
    };
    let addr = base.wrapping_add(d.imm);
    transfer::<DOUBLE>(cpu, bus, d.op != 0, d.rd, addr)
}

/// Move one S or D register to or from memory at `addr` (word-aligned accesses).
fn transfer<const DOUBLE: bool>(cpu: &mut Cpu, bus: &mut Bus, store: bool, reg: u8, addr: u32) -> Flow {
    let flags = AccessFlags {
        user: cpu.privilege_index != 0,
        align: 3,
    };
    if DOUBLE {
        if store {
            let v = cpu.dreg(reg);
            mem!(cpu, cpu.store_with(bus, addr, 4, v as u32, flags));
            mem!(
                cpu,
                cpu.store_with(bus, addr.wrapping_add(4), 4, (v >> 32) as u32, flags)
            );
        } else {
            let lo = mem!(cpu, cpu.load_with(bus, addr, 4, flags));
            let hi = mem!(cpu, cpu.load_with(bus, addr.wrapping_add(4), 4, flags));
            cpu.set_dreg(reg, (u64::from(hi) << 32) | u64::from(lo));
        }
    } else if store {
        let v = cpu.sreg(reg);
        mem!(cpu, cpu.store_with(bus, addr, 4, v, flags));
    } else {
        let v = mem!(cpu, cpu.load_with(bus, addr, 4, flags));
        cpu.set_sreg(reg, v);
    }
    Flow::Next
}

/// VLDM/VSTM (and VPUSH/VPOP): `rd` = first register, `imm` = number of registers, `rn` =
/// base; `op` bit 0 = store, bit 1 = decrement before (else increment after), bit 2 =
/// writeback, bit 3 = one extra word (FLDMX/FSTMX).
pub fn load_store_multiple<const DOUBLE: bool>(cpu: &mut Cpu, bus: &mut Bus, d: &Insn) -> Flow {
    check_vfp!(cpu);
    let base = if d.rn == 15 {
        cpu.regs[15] & !3
    } else {
        cpu.regs[d.rn as usize]
    };
    let bytes = d.imm * if DOUBLE { 8 } else { 4 } + if d.op & 8 != 0 { 4 } else { 0 };
    let decrement = d.op & 2 != 0;
    let start = if decrement { base.wrapping_sub(bytes) } else { base };
    let step = if DOUBLE { 8 } else { 4 };
    for i in 0..d.imm {
        let flow = transfer::<DOUBLE>(
            cpu,
            bus,
            d.op & 1 != 0,
            d.rd.wrapping_add(i as u8),
            start.wrapping_add(i * step),
        );
        if flow != Flow::Next {
            return flow;
        }
    }
    if d.op & 4 != 0 {
        cpu.regs[d.rn as usize] = if decrement {
            base.wrapping_sub(bytes)
        } else {
            base.wrapping_add(bytes)
        };
    }
    Flow::Next
}

/// VMOV between a core register and an S register: `rd` = core register, `rn` = S register,
/// `op` = 1 to the core register.
pub fn mov_core_single(cpu: &mut Cpu, _bus: &mut Bus, d: &Insn) -> Flow {
    check_vfp!(cpu);
    if d.op != 0 {
        cpu.regs[d.rd as usize] = cpu.sreg(d.rn);
    } else {
        let v = cpu.regs[d.rd as usize];
        cpu.set_sreg(d.rn, v);
    }
    Flow::Next
}

/// VMOV between a core register and a 32-bit scalar Dn\[x\]: `rd` = core register, `rn` = D
/// register, `imm` = x, `op` = 1 to the core register.
pub fn mov_core_scalar(cpu: &mut Cpu, _bus: &mut Bus, d: &Insn) -> Flow {
    check_vfp!(cpu);
    let s = (d.rn << 1) | (d.imm as u8 & 1);
    let dv = cpu.dreg(d.rn);
    if d.op != 0 {
        cpu.regs[d.rd as usize] = (dv >> (32 * (s & 1))) as u32;
    } else {
        let shift = 32 * u64::from(s & 1);
        let v = u64::from(cpu.regs[d.rd as usize]);
        cpu.set_dreg(d.rn, (dv & !(0xffff_ffff << shift)) | (v << shift));
    }
    Flow::Next
}

/// VMOV between two core registers (`rd`, `rs`) and a D register or two consecutive S
/// registers (`rm`, `DOUBLE` selects); `op` = 1 to the core registers.
pub fn mov_two_core<const DOUBLE: bool>(cpu: &mut Cpu, _bus: &mut Bus, d: &Insn) -> Flow {
    check_vfp!(cpu);
    let (lo, hi) = if DOUBLE {
        let v = cpu.dreg(d.rm);
        (v as u32, (v >> 32) as u32)
    } else {
        (cpu.sreg(d.rm), cpu.sreg(d.rm.wrapping_add(1)))
    };
    if d.op != 0 {
        cpu.regs[d.rd as usize] = lo;
        cpu.regs[d.rs as usize] = hi;
    } else {
        let (lo, hi) = (cpu.regs[d.rd as usize], cpu.regs[d.rs as usize]);
        if DOUBLE {
            cpu.set_dreg(d.rm, (u64::from(hi) << 32) | u64::from(lo));
        } else {
            cpu.set_sreg(d.rm, lo);
            cpu.set_sreg(d.rm.wrapping_add(1), hi);
        }
    }
    Flow::Next
}

/// VMRS: `rd` ← system register `rn` (0 FPSID, 1 FPSCR, 6 MVFR1, 7 MVFR0, 8 FPEXC);
/// `rd` = 15 with FPSCR copies its flags to the APSR.
pub fn vmrs(cpu: &mut Cpu, _bus: &mut Bus, d: &Insn) -> Flow {
    let privileged = cpu.mode() != Mode::User;
    let v = match d.rn {
        1 => {
            check_vfp!(cpu);
            cpu.vfp.fpscr
        }
        0 | 6 | 7 | 8 if privileged && cpu.vfp_access_granted() => match d.rn {
            0 => cpu.fpsid(),
            6 => cpu.mvfr(1),
            7 => cpu.mvfr(0),
            _ => cpu.vfp.fpexc,
        },
        _ => return cpu.undefined(),
    };
    if d.rd == 15 {
        cpu.set_nzcv(v & 0xf000_0000);
    } else {
        cpu.regs[d.rd as usize] = v;
    }
    Flow::Next
}

/// VMSR: system register `rn` (1 FPSCR, 8 FPEXC; writes to FPSID and the MVFRs are ignored)
/// ← `rd`.
pub fn vmsr(cpu: &mut Cpu, _bus: &mut Bus, d: &Insn) -> Flow {
    let privileged = cpu.mode() != Mode::User;
    let v = cpu.regs[d.rd as usize];
    match d.rn {
        1 => {
            check_vfp!(cpu);
            cpu.vfp.fpscr = v & FPSCR_WRITABLE;
        }
        8 if privileged && cpu.vfp_access_granted() => cpu.vfp.fpexc = v & FPEXC_EN,
        0 | 6 | 7 if privileged && cpu.vfp_access_granted() => {}
        _ => return cpu.undefined(),
    }
    Flow::Next
}
