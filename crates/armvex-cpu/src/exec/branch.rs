//! Branches (ARM ARM A5.5, A8.8.18 B, A8.8.25 BL/BLX (immediate), A8.8.27 BX, A8.8.26 BLX
//! (register)).
//!
//! Fields: `imm` = offset from the PC value the instruction reads (instruction + 8 in ARM,
//! + 4 in Thumb); `rm` = target register; `op` = 1 for the linking forms.
//!
//! B and BL are the most frequent control flow, so their threaded handlers are written by
//! hand ([`BRANCH`]): one per condition code (the check is a constant expression on the
//! flags, not a table lookup), with and without link, and for targets inside or outside
//! the instruction's page. Where the target is is known when the page is decoded: the offset
//! of the instruction in its page plus `imm`. A branch inside the page goes straight on to the
//! target's handler, `rd:rn` holding the distance in slots (`op2` = 1 marks these).

use crate::cpu::Cpu;
use crate::exec::dataproc::{self, handler_form, opcode};
use crate::insn::{COND_ALWAYS, Flow, Handler, Insn, SPARE, Spare};
use crate::thread::{Op, Ops, OpsOf, Refine, Second, enter, op, reads};
use armvex_bus::Bus;

impl Cpu {
    /// The return address a BL/BLX leaves in LR: the next instruction, with bit 0 set in Thumb.
    #[inline(always)]
    fn link_address(&self, d: &Insn) -> u32 {
        self.next_insn_addr(d) | u32::from(self.thumb)
    }

    /// ConditionPassed() for a condition code known at compile time (see
    /// [`Cpu::condition_passed`]): a test or two of the lazy flags.
    #[inline(always)]
    pub(crate) fn condition_holds<const COND: u8>(&self) -> bool {
        let (n, z, c, v) = (self.nf as i32, self.zf == 0, self.cf != 0, self.vf as i32);
        match COND {
            0 => z,
            1 => !z,
            2 => c,
            3 => !c,
            4 => n < 0,
            5 => n >= 0,
            6 => v < 0,
            7 => v >= 0,
            8 => c && !z,
            9 => !c || z,
            10 => (n ^ v) >= 0,
            11 => (n ^ v) < 0,
            12 => !z && (n ^ v) >= 0,
            13 => z || (n ^ v) < 0,
            _ => true,
        }
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

/// The threaded handler of B/BL with condition `COND`, with `LINK`, to a target in the page
/// (`LOCAL`) or not.
///
/// # Safety
/// See [`Handler`].
#[inline(always)]
unsafe fn branch_threaded<const COND: u8, const LINK: bool, const LOCAL: bool>(
    cpu: &mut Cpu,
    bus: &mut Bus,
    d: *const Insn,
    _: Spare,
    rem: u64,
) -> u64 {
    // SAFETY: `d` points at a live instruction (the caller's contract).
    let insn = unsafe { &*d };
    #[cfg(feature = "pair-census")]
    cpu.census.arrive(
        d as usize,
        std::ptr::fn_addr_eq(insn.exec, branch_threaded::<COND, LINK, LOCAL> as Handler),
        crate::census::Name::of::<BranchTo<COND, LINK, LOCAL>>(insn.slots()),
    );
    // A branch ends its run (it is the last instruction paid for): the budget after it is
    // `rem`, and whichever instruction comes next starts a run of its own.
    debug_assert_eq!(insn.run(), 1);
    let left = rem;
    if !cpu.condition_holds::<COND>() {
        // SAFETY: the next slot is in the page's array (pages end with sentinels).
        let next = unsafe { d.byte_add(usize::from(insn.next_bytes)) };
        // SAFETY: the caller's contract.
        return unsafe { enter(cpu, bus, next, left) };
    }
    // The PC this instruction reads; the target is in the same instruction set, at an
    // offset aligned for it (so BranchWritePC's masking changes nothing).
    let pc = cpu.block_va.wrapping_add(u32::from(insn.pc));
    if LINK {
        let here = pc.wrapping_sub(if cpu.thumb { 4 } else { 8 });
        cpu.regs[14] = here.wrapping_add(insn.len(cpu.thumb)) | u32::from(cpu.thumb);
    }
    let target = pc.wrapping_add(insn.imm);
    if LOCAL {
        let slots = i16::from_le_bytes([insn.rd, insn.rn]);
        // SAFETY: the decoder found the target inside this page: `slots` away from `d` in
        // the page's array.
        let next = unsafe { d.offset(isize::from(slots)) };
        // SAFETY: as above.
        let run = unsafe { (*next).run() };
        if left >= run {
            cpu.local_time = cpu.time_origin.wrapping_sub(left);
            // SAFETY: `next` is a live instruction of the same page.
            return unsafe { ((*next).exec)(cpu, bus, next, SPARE, left - run) };
        }
    }
    if LOCAL {
        cpu.regs[15] = target;
        return crate::thread::leave_chain(cpu, left, Flow::Jump);
    }
    // SAFETY: the caller's contract.
    unsafe { crate::thread::jump_out(cpu, bus, target, left) }
}

/// B/BL with condition `COND`, with `LINK`, to a target in the page (`LOCAL`) or not, as
/// the second instruction of a fused pair (see [`crate::fuse`]).
pub(crate) struct BranchTo<const COND: u8, const LINK: bool, const LOCAL: bool>;

impl<const COND: u8, const LINK: bool, const LOCAL: bool> Second for BranchTo<COND, LINK, LOCAL> {
    const HANDLER: Handler = branch_threaded::<COND, LINK, LOCAL>;
    #[inline(always)]
    unsafe fn run(cpu: &mut Cpu, bus: &mut Bus, d: *const Insn, rem: u64) -> u64 {
        // SAFETY: the caller's contract.
        unsafe { branch_threaded::<COND, LINK, LOCAL>(cpu, bus, d, SPARE, rem) }
    }
}

macro_rules! branch_ops {
    ($cond:literal, $link:literal, $local:literal) => {
        Ops::uniform(branch, branch_threaded::<$cond, $link, $local>).ending_run()
    };
}
macro_rules! branch_conds {
    ($link:literal, $local:literal) => {
        [
            branch_ops!(0, $link, $local),
            branch_ops!(1, $link, $local),
            branch_ops!(2, $link, $local),
            branch_ops!(3, $link, $local),
            branch_ops!(4, $link, $local),
            branch_ops!(5, $link, $local),
            branch_ops!(6, $link, $local),
            branch_ops!(7, $link, $local),
            branch_ops!(8, $link, $local),
            branch_ops!(9, $link, $local),
            branch_ops!(10, $link, $local),
            branch_ops!(11, $link, $local),
            branch_ops!(12, $link, $local),
            branch_ops!(13, $link, $local),
            branch_ops!(14, $link, $local),
        ]
    };
}

/// B/BL families indexed by `[link][local][condition]`.
static BRANCHES: [[[Ops; 15]; 2]; 2] = [
    [branch_conds!(false, false), branch_conds!(false, true)],
    [branch_conds!(true, false), branch_conds!(true, true)],
];

/// B/BL as decoded: [`refine_branch`] picks the specialised family.
struct BranchAny;

impl Op for BranchAny {
    const REFINE: Option<Refine> = Some(refine_branch);
    fn step(cpu: &mut Cpu, bus: &mut Bus, d: &Insn) -> Flow {
        branch(cpu, bus, d)
    }
}

/// The family of B and BL.
pub static BRANCH: &Ops = <BranchAny as OpsOf>::OPS;

/// Choose the B/BL handler for `d` at its place in the page: a target inside the page gets
/// the distance in slots in `rd:rn` and `op2` = 1.
fn refine_branch(d: &mut Insn, thumb: bool) -> &'static Ops {
    let (bias, shift) = if thumb { (4, 1) } else { (8, 2) };
    let target = u32::from(d.pc).wrapping_add(d.imm);
    let local = target < 0x1000;
    if local {
        let here = (u32::from(d.pc) - bias) >> shift;
        let slots = (target >> shift) as i32 - here as i32;
        [d.rd, d.rn] = (slots as i16).to_le_bytes();
        d.op2 = 1;
    }
    let cond = usize::from(d.cond().min(COND_ALWAYS));
    &BRANCHES[usize::from(d.op != 0)][usize::from(local)][cond]
}

/// The handler of a B/BL like `d` but unconditional (a conditional branch that an IT block
/// makes conditional instead, see [`crate::run`]), for a copy of `d` run on its own: the
/// variant for a target outside the page, which finds the target from the PC rather than
/// from the slot's place in the page (the copy is not in the page).
pub(crate) fn unconditional_handler(d: &Insn) -> Handler {
    BRANCHES[usize::from(d.op != 0)][0][usize::from(COND_ALWAYS)].fast
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

/// BX without link: needs no PC unless it branches to R15.
fn bx_plain(cpu: &mut Cpu, _bus: &mut Bus, d: &Insn) -> Flow {
    let target = cpu.r(d.rm);
    cpu.bx_write_pc(target)
}

/// BX and BLX (register) as decoded.
struct BxAny;

impl Op for BxAny {
    const REFINE: Option<Refine> = Some(refine_bx);
    fn step(cpu: &mut Cpu, bus: &mut Bus, d: &Insn) -> Flow {
        bx(cpu, bus, d)
    }
}

/// The family of BX and BLX (register).
pub static BX: &Ops = <BxAny as OpsOf>::OPS;
static BX_PLAIN: &Ops = op!(nosync(reads::RM) bx_plain);
static BLX: &Ops = op!(bx);

fn refine_bx(d: &mut Insn, _thumb: bool) -> &'static Ops {
    if d.op == 0 { BX_PLAIN } else { BLX }
}

// ---- compare and branch ------------------------------------------------------------------

/// The comparisons [`compare_branch`] fuses with the branch after them: CMP, TST and SUBS,
/// with an immediate or an unshifted register (`HF`, see
/// [`crate::exec::dataproc::handler_form`]).
const FUSED_OPS: [u8; 3] = [opcode::CMP, opcode::TST, opcode::SUB];

/// A comparison (`OP` with the S bit, operand form `HF`) and, in the next slot, a B without
/// link whose condition is `COND` and whose target is in the page: the two instructions run
/// by one handler. Most loops end so (`cmp r2, #63; bls loop`, `subs r3, r3, #1; bne loop`),
/// and so do most ifs; fused, the pair costs one dispatch instead of two and the branch's
/// test of the flags works on values the comparison has just computed. The branch slot
/// keeps its own handler for code that jumps to it, and with a budget of one instruction
/// (a debugger stepping) the comparison runs alone.
///
/// # Safety
/// See [`Handler`]; the next slot is a B like that.
unsafe fn compare_branch<const OP: u8, const HF: u8, const COND: u8>(
    cpu: &mut Cpu,
    bus: &mut Bus,
    d: *const Insn,
    _: Spare,
    rem: u64,
) -> u64 {
    // SAFETY: `d` points at a live instruction (the caller's contract).
    dataproc::dp::<OP, true, HF>(cpu, bus, unsafe { &*d });
    // SAFETY: the next slot is in the page's array (the caller's contract).
    let b = unsafe { d.add(1) };
    // The run of the comparison is the two of them (the branch ends it). `rem` is below
    // zero only if the budget ends inside it, that is before the branch, whose slot then
    // stops the chain (see `Cpu::run_chain`).
    if (rem as i64) < 0 {
        // SAFETY: `b` is a live instruction of the same page.
        return unsafe { ((*b).exec)(cpu, bus, b, SPARE, rem) };
    }
    // SAFETY: `b` is a B with condition `COND`, without link, to a target in the page.
    unsafe { branch_threaded::<COND, false, true>(cpu, bus, b, SPARE, rem) }
}

macro_rules! compare_branch_conds {
    ($op:expr, $hf:expr) => {
        [
            compare_branch::<{ $op }, { $hf }, 0>,
            compare_branch::<{ $op }, { $hf }, 1>,
            compare_branch::<{ $op }, { $hf }, 2>,
            compare_branch::<{ $op }, { $hf }, 3>,
            compare_branch::<{ $op }, { $hf }, 4>,
            compare_branch::<{ $op }, { $hf }, 5>,
            compare_branch::<{ $op }, { $hf }, 6>,
            compare_branch::<{ $op }, { $hf }, 7>,
            compare_branch::<{ $op }, { $hf }, 8>,
            compare_branch::<{ $op }, { $hf }, 9>,
            compare_branch::<{ $op }, { $hf }, 10>,
            compare_branch::<{ $op }, { $hf }, 11>,
            compare_branch::<{ $op }, { $hf }, 12>,
            compare_branch::<{ $op }, { $hf }, 13>,
        ]
    };
}

/// [`compare_branch`] handlers indexed by `[FUSED_OPS index][operand form][condition]`.
static COMPARE_BRANCH: [[[Handler; 14]; 2]; 3] = [
    [
        compare_branch_conds!(opcode::CMP, handler_form::IMM),
        compare_branch_conds!(opcode::CMP, handler_form::REG),
    ],
    [
        compare_branch_conds!(opcode::TST, handler_form::IMM),
        compare_branch_conds!(opcode::TST, handler_form::REG),
    ],
    [
        compare_branch_conds!(opcode::SUB, handler_form::IMM),
        compare_branch_conds!(opcode::SUB, handler_form::REG),
    ],
];

/// The handler running the instruction `first` (of family `first_ops`) and the one after it
/// (of family `second_ops`, with condition `cond`) as one ([`compare_branch`]), if they are
/// a comparison and a branch it fuses: `first` unconditional, reading no R15, and the branch
/// a B without link to a target in the page.
pub(crate) fn fused_compare_branch(
    first: &Insn,
    first_ops: &'static Ops,
    second_ops: &'static Ops,
    cond: u8,
) -> Option<Handler> {
    if first.cond() != COND_ALWAYS || cond >= COND_ALWAYS {
        return None;
    }
    if !std::ptr::eq(second_ops, &BRANCHES[0][1][usize::from(cond)]) {
        return None;
    }
    for (i, &op) in FUSED_OPS.iter().enumerate() {
        for (f, hf) in [
            (dataproc::form::IMM, handler_form::IMM),
            (dataproc::form::REG, handler_form::REG),
        ] {
            if !std::ptr::eq(first_ops, dataproc::dp_ops(op, true, f, 0)) {
                continue;
            }
            let reads_pc = first.rn == 15 || (hf == handler_form::REG && first.rm == 15) || first.rd == 15;
            if reads_pc {
                return None;
            }
            return Some(COMPARE_BRANCH[i][usize::from(hf)][usize::from(cond)]);
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use crate::model::CpuModel;
    use crate::testutil::machine;

    #[test]
    fn constant_conditions_agree_with_the_table() {
        let (mut cpu, _) = machine(CpuModel::CortexA9);
        for nzcv in 0..16u32 {
            cpu.set_nzcv(nzcv << 28);
            let holds = [
                cpu.condition_holds::<0>(),
                cpu.condition_holds::<1>(),
                cpu.condition_holds::<2>(),
                cpu.condition_holds::<3>(),
                cpu.condition_holds::<4>(),
                cpu.condition_holds::<5>(),
                cpu.condition_holds::<6>(),
                cpu.condition_holds::<7>(),
                cpu.condition_holds::<8>(),
                cpu.condition_holds::<9>(),
                cpu.condition_holds::<10>(),
                cpu.condition_holds::<11>(),
                cpu.condition_holds::<12>(),
                cpu.condition_holds::<13>(),
                cpu.condition_holds::<14>(),
            ];
            for (cond, h) in holds.iter().enumerate() {
                assert_eq!(*h, cpu.condition_passed(cond as u8), "cond {cond} nzcv {nzcv:04b}");
            }
        }
    }
}
