//! The CPU: architectural state and the operations every instruction builds on.
//!
//! [`Cpu`] holds one core's registers (with the lazy flags described in [`crate::state`]), its
//! system control registers ([`crate::cp15`]), its software TLB ([`crate::memory`]) and its
//! exclusive monitor. Instruction handlers in [`crate::exec`] are free functions taking the CPU,
//! the bus and the predecoded instruction, whose form ([`Insn`]) is defined here too: the
//! two types refer to each other.
//!
//! The crate's modules form layers, and no module imports one that imports it back
//! (`tools/module-cycles` checks): the types (this module, on the state, registers, TLB tables,
//! debugger and tracer types below it) at the bottom; then what the core does with them (the
//! loads and stores of [`crate::memory`], [`crate::exception`], [`crate::debug_hooks`], the
//! threaded dispatch and the instruction handlers); the decoders and the code cache above them;
//! the block loop ([`crate::run`]) on top. Methods of [`Cpu`] live in the module of what they
//! do (`impl Cpu` blocks), which imports this one.

use crate::cp14::DebugRegisters;
use crate::cp15::Cp15;
use crate::generic_timer::GenericTimer;
pub use crate::model::CpuModel;
use crate::state::{BankedRegisters, Mode, psr};
use crate::tlb::{TLB_TABLE_BYTES, Tlb};
use crate::trace::Tracer;
use armvex_bus::Bus;

/// For each condition code, bit `nzcv` says whether the condition passes with those flags.
const CONDITION_TABLE: [u16; 16] = {
    let mut t = [0u16; 16];
    let mut cond = 0;
    while cond < 16 {
        let mut nzcv = 0;
        while nzcv < 16 {
            let (n, z, c, v) = (nzcv & 8 != 0, nzcv & 4 != 0, nzcv & 2 != 0, nzcv & 1 != 0);
            let base = match cond >> 1 {
                0 => z,
                1 => c,
                2 => n,
                3 => v,
                4 => c && !z,
                5 => n == v,
                6 => !z && n == v,
                _ => true,
            };
            // Odd conditions negate, except 0b1111, which counts as "always" here.
            let passed = if cond & 1 == 1 && cond != 15 { !base } else { base };
            if passed {
                t[cond] |= 1 << nzcv;
            }
            nzcv += 1;
        }
        cond += 1;
    }
    t
};

/// How a CPU is built.
#[derive(Clone, Debug)]
pub struct CpuConfig {
    pub model: CpuModel,
    /// Index of this CPU in its cluster (MPIDR.Aff0), also its index on the bus.
    pub index: usize,
    /// Number of CPUs in the cluster.
    pub cluster_size: usize,
    /// Treat `SVC 0x123456` / `SVC 0xAB` / `HLT 0xF000` / `HLT 0x3C` as semihosting calls.
    pub semihosting: bool,
}

// ---------------------------------------------------------------------------------------
// The predecoded instruction slot (built and read in [`crate::insn`]). It is defined here,
// beside the `Cpu`, because the two refer to each other: a handler is a function of the
// `Cpu`, and the `Cpu` keeps where its chain of slots stopped.
// ---------------------------------------------------------------------------------------

/// What an instruction's step tells the code that runs it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[repr(u8)]
pub(crate) enum Flow {
    /// Continue with the next instruction in sequence.
    Next,
    /// A plain branch: only R15 (and maybe LR) changed, in the same instruction set. The block
    /// goes on at `regs[15]` if it is in the same page.
    Jump,
    /// Control flow changed (branch, exception entry or return, CPSR write): `regs[15]` holds
    /// the address of the next instruction. The block ends.
    Branch,
    /// The CPU must leave its run loop ([`crate::Exit`] says why); `regs[15]` holds the address
    /// of the next instruction.
    Stop,
    /// Only from a family's fast step ([`crate::thread::Op::step`]): nothing happened, run
    /// the family's slow step ([`crate::thread::Op::slow`]) instead. Never seen outside
    /// [`crate::thread`].
    Slow,
}

/// An instruction's behaviour: execute the instruction `d` describes. While it runs,
/// `regs[15]` reads as the instruction's address + 8 (ARM) or + 4 (Thumb) if the
/// instruction's handler family asks for it (see [`crate::thread::Op::SYNC`]).
pub(crate) type Step = fn(&mut Cpu, &mut Bus, &Insn) -> Flow;

/// A threaded handler: execute the instruction at `d` and the ones after it; return the
/// instruction budget left, having left in the CPU's `chain_next` where the straight line
/// goes on (see [`ChainEnd`] and [`crate::thread`]). `rem` is the budget left *after the
/// run of `d`* (this instruction and the rest of its run, [`Insn::run`], are paid for): the
/// budget left now is `rem + run`. `rem` is "below zero" (wrapped) when the budget ends
/// inside the run, at a slot that stops the chain (see `Cpu::run_chain`).
///
/// (One scalar return value rather than a [`ChainEnd`] on purpose: with a two-part return
/// value, a handler that returns one it built itself gets that value split into its parts
/// and put together again before `ret`, and then none of its calls to the next handler is a
/// tail call; its chains grew the stack by a frame per instruction.)
///
/// # Safety
/// `d` must point at an instruction of a decoded page (or a copy of one, see
/// [`crate::thread`]) that stays alive and unchanged during the call, and the CPU's block
/// fields (`block_va`, `block_page`, `slot_shift`, `time_origin`) must describe that page.
///
/// The fourth argument ([`Spare`]) carries nothing: it keeps the register of the fourth
/// integer argument free, so that `rem` comes fifth. On x86-64 the fourth is `rcx`, whose
/// low byte `cl` is the only register a shift by a variable amount can take its amount from
/// (and shifts by an operand field of the instruction are everywhere: `lsl r2, r2, #1`,
/// `add ip, r2, r6, lsl #1`, `ldrh r5, [r0, lr]`, `uxth`); with `rem` there, each such
/// handler moved it out of the way and back, two host instructions for nothing.
pub(crate) type Handler = unsafe fn(&mut Cpu, &mut Bus, *const Insn, Spare, u64) -> u64;

/// The unused fourth argument of a [`Handler`]: uninitialised, so that passing it costs
/// nothing.
pub(crate) type Spare = std::mem::MaybeUninit<u64>;

/// The value every caller of a [`Handler`] passes as its [`Spare`].
pub(crate) const SPARE: Spare = std::mem::MaybeUninit::uninit();

/// Where a chain of threaded handlers stopped: what the handler returned, and the CPU's
/// `chain_next` (see `Cpu::run_chain`).
#[derive(Clone, Copy, Debug)]
pub(crate) struct ChainEnd {
    /// What is left of the instruction budget the chain was given.
    pub left: u64,
    /// The instruction to continue with, if the chain stopped between two instructions of
    /// the straight line (budget used up, an IT instruction, the end of the page). Null if a
    /// step ended it with a flow other than [`Flow::Next`]: the CPU's `chain_flow` says which,
    /// and `regs[15]` holds the next PC.
    pub next: *const Insn,
}

/// The condition code meaning "always".
pub(crate) const COND_ALWAYS: u8 = 14;

/// One predecoded instruction in its slot of a page (32 bytes).
#[derive(Clone, Copy)]
#[repr(C)]
pub(crate) struct Insn {
    /// The threaded handler.
    pub exec: Handler,
    /// For a conditional instruction, whose `exec` is the condition check of its condition
    /// code: the handler that executes it once the condition passed. Otherwise `exec`.
    pub then: Handler,
    pub imm: u32,
    pub rd: u8,
    pub rn: u8,
    pub rm: u8,
    pub rs: u8,
    pub op: u8,
    pub op2: u8,
    /// The value R15 reads as while this instruction runs, as an offset from the start of its
    /// page: the instruction's offset + 8 in ARM state, + 4 in Thumb state.
    pub pc: u16,
    /// The condition code (ARM ARM A8.3; [`COND_ALWAYS`] when unconditional) in bits 15:12
    /// ([`Insn::cond`]), and in bits 11:0 the instructions of the slot's *run* from this one
    /// on ([`Insn::run`], see [`crate::thread`]).
    pub cond_run: u16,
    /// For a conditional ARM instruction whose `exec` is a run check (see
    /// [`crate::thread`]) or checks the condition itself: in bits 6:0, how many slots on the
    /// first instruction is that does not fail when this one's condition fails (this one and
    /// the ones after it with the same condition fail together); bit 7 set if that
    /// instruction is to be entered through its `then` (its condition holds then). 1
    /// otherwise.
    pub skip: u8,
    /// How far the next instruction is ahead, in bytes of the page's array (one slot, or two
    /// for a 32-bit Thumb instruction).
    pub next_bytes: u8,
}

impl std::fmt::Debug for Insn {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "Insn(pc={:#x} cond={} rd={} rn={} rm={} rs={} imm={:#x} op={} op2={} run={})",
            self.pc,
            self.cond(),
            self.rd,
            self.rn,
            self.rm,
            self.rs,
            self.imm,
            self.op,
            self.op2,
            self.run()
        )
    }
}

/// Why [`Cpu::run`](crate::Cpu::run) returned.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Exit {
    /// The instruction budget is used up.
    Budget,
    /// A semihosting call is waiting: R0 holds the operation, R1 the argument. The PC is already
    /// past the call instruction; the caller performs it and writes the result to R0.
    Semihosting,
    /// WFI executed: the CPU waits until an interrupt is pending.
    WaitForInterrupt,
    /// WFE executed with no event pending: the CPU waits for an event or an interrupt.
    WaitForEvent,
    /// Stopped for the debugger before the instruction at the PC (see [`crate::debug`]).
    Debug(crate::debug::DebugStop),
}

/// The local exclusive monitor (ARM ARM A3.4.1) in QEMU's style: LDREX records the address and
/// the value loaded, and STREX succeeds only if the address matches and memory still holds that
/// value. Comparing values makes a cross-CPU monitor unnecessary for correct guests.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct ExclusiveMonitor {
    /// Virtual address of the last LDREX, or `None` in the Open Access state.
    pub addr: Option<u32>,
    /// Value loaded by the LDREX (64 bits for LDREXD).
    pub value: u64,
}

/// One ARMv7-A core.
///
/// The fields come in four groups:
///
/// * **Architectural state**: what the ARM ARM says a core holds (registers, flags and the
///   rest of the CPSR, banked registers, the coprocessors' registers, the exclusive monitor,
///   the event register), plus the instruction count. A snapshot must save these: they are
///   what [`CpuState`](crate::CpuState) holds ([`Cpu::save_state`], [`Cpu::load_state`]), with
///   the CPSR saved as one word and `current_it` not at all (it is zero between instructions).
/// * **Configuration**: how the core was built ([`CpuConfig`]); a snapshot saves the model and
///   index only to check that it is loaded into the same core.
/// * **Caches**: the software TLB ([`crate::memory`]) and what keeps it and the decoded code
///   coherent. Never saved: they are rebuilt from the state above and guest memory
///   ([`Cpu::load_state`] drops the TLB).
/// * **Scheduling** and **debugging and tracing**: the run in progress (virtual time, why it
///   stopped, the block and chain being executed) and the debugger's and tracer's hooks. Of
///   these a snapshot saves only `local_time` and the debugger's mid-block resume point
///   (`dbg.resume_mid_block`, `dbg.time_carry`), so that a run that stopped inside a block
///   goes on exactly where it was.
pub struct Cpu {
    // ---- architectural state (saved by snapshots) ---------------------------------------------
    /// R0–R15 as seen in the current mode. While an instruction executes, `regs[15]` reads as the
    /// instruction's address + 8 (ARM) or + 4 (Thumb); between blocks it is the next PC.
    pub regs: [u32; 16],
    /// Lazy N flag: bit 31.
    pub(crate) nf: u32,
    /// Lazy Z flag: Z is set when this is zero.
    pub(crate) zf: u32,
    /// C flag: 0 or 1.
    pub(crate) cf: u32,
    /// Lazy V flag: bit 31.
    pub(crate) vf: u32,
    /// Q (sticky saturation) flag.
    pub(crate) q: bool,
    /// GE[3:0] flags of the parallel add/subtract instructions.
    pub(crate) ge: u8,
    /// ITSTATE (Thumb If-Then state) for the next instruction.
    pub(crate) it: u8,
    /// ITSTATE of the Thumb instruction being executed (zero between instructions: not saved).
    pub(crate) current_it: u8,
    /// CPSR.T: executing Thumb instructions.
    pub(crate) thumb: bool,
    /// CPSR.E: data accesses are big-endian.
    pub(crate) big_endian: bool,
    /// CPSR.A, CPSR.I, CPSR.F: asynchronous abort, IRQ and FIQ masks.
    pub(crate) mask_a: bool,
    pub(crate) mask_i: bool,
    pub(crate) mask_f: bool,
    pub(crate) mode: Mode,
    pub(crate) banks: BankedRegisters,
    pub cp15: Cp15,
    /// CP14 debug registers.
    pub cp14: DebugRegisters,
    /// The VFP register file and control registers.
    pub vfp: crate::vfp_state::VfpState,
    /// The performance monitors.
    pub pmu: crate::pmu::Pmu,
    /// The generic timer (Cortex-A15 only).
    pub timer: Option<GenericTimer>,
    pub(crate) monitor: ExclusiveMonitor,
    /// The event register of WFE/SEV.
    pub(crate) event_register: bool,
    /// Set by SEV: the machine delivers the event to the other CPUs.
    pub(crate) sent_event: bool,
    /// Instructions retired since reset.
    pub(crate) icount: u64,

    // ---- configuration ------------------------------------------------------------------------
    pub(crate) config: CpuConfig,

    // ---- caches (never saved) -----------------------------------------------------------------
    /// 0 when privileged, 1 in User mode: selects the TLB used by ordinary accesses (follows
    /// `mode`).
    pub(crate) privilege_index: usize,
    /// `privilege_index` as the byte offset of its tables in the TLB's arrays.
    pub(crate) tlb_user_bytes: usize,
    pub(crate) tlb: Tlb<Insn>,
    /// The [`armvex_bus::PhysicalMemory::id`] of the memory `tlb` was filled from (0: none
    /// yet); see [`Cpu::adopt_memory`].
    pub(crate) tlb_memory: u64,
    /// The memory code epoch this CPU's write TLB is consistent with.
    pub(crate) seen_code_epoch: u64,
    /// Set when cached translations or decoded code must be dropped before the next block.
    pub(crate) flush_code_cache: bool,
    /// The generation of the code cache the current block executes from (see
    /// [`crate::tlb::FetchEntry::code`]), with [`crate::tlb::THUMB_CODE`] set in
    /// Thumb state, set at every block start; 0 before the first.
    pub(crate) code_generation: u64,

    // ---- scheduling: the run in progress ------------------------------------------------------
    /// Virtual time (ns) at the start of the current block, for MMIO accesses (saved).
    pub(crate) local_time: u64,
    pub(crate) exit: Exit,
    /// The block being executed (see [`crate::thread`]): the virtual address of its page,
    /// the page's decoded slots, log2 of the slot size, and the time origin from which a
    /// branch inside the page sets `local_time` (`time_origin - rem`).
    pub(crate) block_va: u32,
    pub(crate) block_page: *const Insn,
    pub(crate) slot_shift: u32,
    pub(crate) time_origin: u64,
    /// How the last chain of handlers ended when it did not end between instructions.
    pub(crate) chain_flow: Flow,
    /// Where the last chain of handlers stopped (see [`crate::insn::ChainEnd::next`]).
    pub(crate) chain_next: *const Insn,
    /// True while chains may go on into another page by themselves: in runs without a
    /// debugger checking blocks or a tracer (see [`crate::thread`]).
    pub(crate) chain_pages: bool,

    // ---- debugging and tracing ----------------------------------------------------------------
    pub(crate) tracer: Option<Tracer>,
    /// Watchpoints, exact stops and interval summaries (see [`crate::debug`]); its mid-block
    /// resume point is saved.
    pub(crate) dbg: crate::debug::CpuDebug,
    /// The pair census (see [`crate::census`]), with the `pair-census` feature.
    #[cfg(feature = "pair-census")]
    pub(crate) census: crate::census::Census,
}

impl Cpu {
    /// A CPU in its reset state (ARM ARM B1.8.1): Supervisor mode, ARM state, IRQ/FIQ/aborts
    /// masked, MMU off, executing from address 0.
    pub fn new(config: CpuConfig) -> Self {
        let cp15 = Cp15::new(config.model, config.index, config.cluster_size);
        let model = config.model;
        let mut cpu = Cpu {
            regs: [0; 16],
            nf: 0,
            zf: 1,
            cf: 0,
            vf: 0,
            q: false,
            ge: 0,
            it: 0,
            current_it: 0,
            thumb: false,
            big_endian: false,
            mask_a: true,
            mask_i: true,
            mask_f: true,
            mode: Mode::Supervisor,
            banks: BankedRegisters::default(),
            cp15,
            cp14: DebugRegisters::new(model),
            vfp: Default::default(),
            pmu: crate::pmu::Pmu::new(model),
            timer: (model == CpuModel::CortexA15).then(GenericTimer::default),
            monitor: ExclusiveMonitor::default(),
            event_register: false,
            sent_event: false,
            icount: 0,
            config,
            privilege_index: 0,
            tlb_user_bytes: 0,
            tlb: Tlb::default(),
            tlb_memory: 0,
            seen_code_epoch: u64::MAX,
            flush_code_cache: false,
            code_generation: 0,
            local_time: 0,
            exit: Exit::Budget,
            block_va: 0,
            block_page: std::ptr::null(),
            slot_shift: 2,
            time_origin: 0,
            chain_flow: Flow::Next,
            chain_next: std::ptr::null(),
            chain_pages: false,
            tracer: None,
            dbg: Default::default(),
            #[cfg(feature = "pair-census")]
            census: Default::default(),
        };
        cpu.reset();
        cpu
    }

    /// Reset the core (registers, CP15, TLB); the PC is set to the reset vector.
    pub fn reset(&mut self) {
        let config = self.config.clone();
        self.regs = [0; 16];
        self.banks = BankedRegisters::default();
        self.cp15 = Cp15::new(config.model, config.index, config.cluster_size);
        self.cp14 = DebugRegisters::new(config.model);
        self.vfp = Default::default();
        self.pmu = crate::pmu::Pmu::new(config.model);
        self.timer = (config.model == CpuModel::CortexA15).then(GenericTimer::default);
        // The flags are UNKNOWN at reset (ARM ARM B1.3.3); QEMU's read as Z set (it stores Z as
        // "the last result was zero", which starts at zero), so a program that tests them
        // before setting them behaves the same under both.
        self.set_cpsr_raw(psr::Z | psr::A | psr::I | psr::F | Mode::Supervisor as u32);
        self.regs[15] = self.cp15.exception_vector_base();
        self.monitor = ExclusiveMonitor::default();
        self.tlb.flush_all();
        self.flush_code_cache = true;
        self.event_register = false;
    }

    /// This CPU's index in the cluster.
    pub fn index(&self) -> usize {
        self.config.index
    }

    /// The configured model.
    pub fn model(&self) -> CpuModel {
        self.config.model
    }

    /// Instructions retired since reset.
    pub fn instructions(&self) -> u64 {
        self.icount
    }

    /// The current mode.
    pub fn mode(&self) -> Mode {
        self.mode
    }

    /// True when executing Thumb instructions.
    pub fn is_thumb(&self) -> bool {
        self.thumb
    }

    /// The program counter (address of the next instruction) between runs.
    pub fn pc(&self) -> u32 {
        self.regs[15]
    }

    /// Set the PC, choosing ARM or Thumb state from bit 0 (as a BX would).
    pub fn set_pc_interworking(&mut self, target: u32) {
        self.thumb = target & 1 != 0;
        self.regs[15] = target & !1;
    }

    /// True after a SEV, once: the machine must set the event register of every other CPU.
    pub fn take_sent_event(&mut self) -> bool {
        std::mem::take(&mut self.sent_event)
    }

    /// Set the event register (another CPU executed SEV).
    pub fn signal_event(&mut self) {
        self.event_register = true;
    }

    /// The earliest virtual time at which this CPU's generic timer raises an interrupt.
    pub fn timer_deadline(&self, now: u64) -> Option<u64> {
        self.timer.as_ref().and_then(|t| t.next_deadline(now))
    }

    /// Drive the generic timer's interrupt outputs for virtual time `now` (the machine calls
    /// this at timer deadlines).
    pub fn update_timer_outputs(&mut self, bus: &mut armvex_bus::Bus, now: u64) {
        let index = self.config.index;
        if let Some(t) = self.timer.as_mut() {
            t.drive_outputs(bus, index, now);
        }
    }

    /// Consume the event register (a CPU waiting in WFE wakes up when it was set).
    pub fn take_event(&mut self) -> bool {
        std::mem::take(&mut self.event_register)
    }

    // ---- registers ---------------------------------------------------------------------------

    /// Register `r` (0–15). The mask lets the compiler drop the bounds check.
    #[inline(always)]
    pub(crate) fn reg(&self, r: u8) -> u32 {
        self.regs[usize::from(r & 15)]
    }

    /// Set register `r` (0–15).
    #[inline(always)]
    pub(crate) fn set_reg(&mut self, r: u8, v: u32) {
        self.regs[usize::from(r & 15)] = v;
    }

    /// Register `r` of an instruction whose family needs no PC ([`crate::thread::Op::SYNC`]
    /// false): [`crate::insn::Decoded::finish`] checked that its register fields are below 16,
    /// so no mask or bounds check is needed.
    #[inline(always)]
    pub(crate) fn r(&self, r: u8) -> u32 {
        debug_assert!(r < 16);
        // SAFETY: register fields of such instructions are below 16 (checked at decode).
        unsafe { *self.regs.get_unchecked(usize::from(r)) }
    }

    /// Set register `r` of an instruction whose family needs no PC (see [`Cpu::r`]).
    #[inline(always)]
    pub(crate) fn set_r(&mut self, r: u8, v: u32) {
        debug_assert!(r < 16);
        // SAFETY: as in `r`.
        unsafe { *self.regs.get_unchecked_mut(usize::from(r)) = v };
    }

    // ---- condition flags -------------------------------------------------------------------

    /// Set N and Z from a result.
    #[inline(always)]
    pub(crate) fn set_nz(&mut self, result: u32) {
        self.nf = result;
        self.zf = result;
    }

    /// The NZCV flags as CPSR bits 31:28.
    #[inline]
    pub(crate) fn nzcv(&self) -> u32 {
        (self.nf & psr::N) | if self.zf == 0 { psr::Z } else { 0 } | (self.cf << 29) | ((self.vf >> 3) & psr::V)
    }

    /// Set the flags from CPSR bits 31:28.
    #[inline]
    pub(crate) fn set_nzcv(&mut self, v: u32) {
        self.nf = v & psr::N;
        self.zf = u32::from(v & psr::Z == 0);
        self.cf = (v >> 29) & 1;
        self.vf = (v & psr::V) << 3;
    }

    /// ConditionPassed() for condition code `cond` (ARM ARM A8.3), without branches: the
    /// flags form a 4-bit NZCV number that selects a bit of the condition's truth table
    /// (a branch per condition would be mispredicted often in this central place).
    #[inline(always)]
    pub(crate) fn condition_passed(&self, cond: u8) -> bool {
        let nzcv = ((self.nf >> 31) << 3) | (u32::from(self.zf == 0) << 2) | ((self.cf & 1) << 1) | (self.vf >> 31);
        (CONDITION_TABLE[usize::from(cond & 15)] >> nzcv) & 1 != 0
    }

    // ---- the program status registers -------------------------------------------------------

    /// The CPSR as a 32-bit value.
    pub fn cpsr(&self) -> u32 {
        self.nzcv()
            | if self.q { psr::Q } else { 0 }
            | crate::state::it_to_psr(self.it)
            | (u32::from(self.ge) << 16)
            | if self.big_endian { psr::E } else { 0 }
            | if self.mask_a { psr::A } else { 0 }
            | if self.mask_i { psr::I } else { 0 }
            | if self.mask_f { psr::F } else { 0 }
            | if self.thumb { psr::T } else { 0 }
            | self.mode as u32
    }

    /// Overwrite the whole CPSR, switching register banks if the mode changes. Invalid mode
    /// bits leave the mode unchanged.
    pub fn set_cpsr_raw(&mut self, v: u32) {
        self.set_nzcv(v);
        self.q = v & psr::Q != 0;
        self.it = crate::state::it_from_psr(v);
        self.ge = ((v >> 16) & 0xf) as u8;
        self.set_endianness(v & psr::E != 0);
        self.mask_a = v & psr::A != 0;
        self.mask_i = v & psr::I != 0;
        self.mask_f = v & psr::F != 0;
        self.thumb = v & psr::T != 0;
        if let Some(m) = Mode::from_bits(v) {
            self.switch_mode(m);
        }
    }

    /// Write the CPSR fields selected by `mask` (CPSRWriteByInstr with QEMU's rules: writes to
    /// an invalid mode, or to Monitor/Hyp when those do not exist, leave the mode unchanged).
    pub(crate) fn write_cpsr_masked(&mut self, value: u32, mut mask: u32) {
        let cur = self.cpsr();
        if (cur ^ value) & mask & psr::M != 0 && !self.mode_switch_allowed(value) {
            mask &= !psr::M;
        }
        mask &= self.nonsecure_af_mask();
        self.set_cpsr_raw((cur & !mask) | (value & mask));
    }

    /// Whether a write of CPSR.M = `value & 0x1f` by an instruction may take effect.
    fn mode_switch_allowed(&self, value: u32) -> bool {
        match Mode::from_bits(value) {
            None => false,
            // armvex has no Hyp mode (QEMU's A9 has no Virtualization Extensions at all).
            Some(Mode::Hyp) => false,
            // Monitor mode is Secure: Non-secure software cannot enter it by a mode change.
            Some(Mode::Monitor) if self.cp15.nonsecure => false,
            Some(_) => self.mode != Mode::User && self.mode != Mode::Hyp,
        }
    }

    /// The CPSR bits an instruction or exception return may write as far as the A and F masks
    /// go: in Non-secure state, without the Virtualization Extensions (the A9), CPSR.A and
    /// CPSR.F change only if SCR.AW and SCR.FW allow it (ARM ARM B1.8.6).
    pub(crate) fn nonsecure_af_mask(&self) -> u32 {
        use crate::cp15::scr;
        if !self.cp15.nonsecure || self.config.model != CpuModel::CortexA9 {
            return !0;
        }
        let mut mask = !0;
        if self.cp15.scr & scr::AW == 0 {
            mask &= !psr::A;
        }
        if self.cp15.scr & scr::FW == 0 {
            mask &= !psr::F;
        }
        mask
    }

    /// The SPSR of the current mode, if it has one.
    pub fn spsr(&self) -> Option<u32> {
        self.mode.has_spsr().then(|| self.banks.spsr[self.mode.bank()])
    }

    /// Set the SPSR of the current mode (ignored in User and System mode).
    pub(crate) fn set_spsr(&mut self, v: u32) {
        if self.mode.has_spsr() {
            self.banks.spsr[self.mode.bank()] = v;
        }
    }

    fn set_endianness(&mut self, big: bool) {
        if big != self.big_endian {
            self.big_endian = big;
            // Big-endian data accesses always take the slow path, which swaps bytes.
            self.tlb.flush_all();
        }
    }

    /// Change mode, swapping banked registers (ARM ARM B1.3.2).
    pub(crate) fn switch_mode(&mut self, new: Mode) {
        let old = self.mode;
        if old == new {
            return;
        }
        let (ob, nb) = (old.bank(), new.bank());
        if ob != nb {
            self.banks.sp[ob] = self.regs[13];
            self.banks.lr[ob] = self.regs[14];
            self.regs[13] = self.banks.sp[nb];
            self.regs[14] = self.banks.lr[nb];
        }
        if (old == Mode::Fiq) != (new == Mode::Fiq) {
            let (save, load) = if new == Mode::Fiq {
                (&mut self.banks.r8_12_usr, &self.banks.r8_12_fiq)
            } else {
                (&mut self.banks.r8_12_fiq, &self.banks.r8_12_usr)
            };
            save.copy_from_slice(&self.regs[8..13]);
            self.regs[8..13].copy_from_slice(load);
        }
        self.mode = new;
        self.set_privilege(new == Mode::User);
        self.update_security_state();
    }

    /// Select the TLB tables of User mode (`user`) or of the privileged modes.
    pub(crate) fn set_privilege(&mut self, user: bool) {
        self.privilege_index = usize::from(user);
        self.tlb_user_bytes = if user { TLB_TABLE_BYTES } else { 0 };
    }

    /// Follow the security state (ARM ARM B1.5.1): Non-secure when SCR.NS is set outside
    /// Monitor mode. Entering or leaving it swaps in the other world's banked CP15 registers,
    /// so translations change and the software TLB is flushed.
    pub(crate) fn update_security_state(&mut self) {
        let nonsecure = self.cp15.scr & crate::cp15::scr::NS != 0 && self.mode != Mode::Monitor;
        if nonsecure != self.cp15.nonsecure {
            self.cp15.swap_worlds();
            self.cp15.nonsecure = nonsecure;
            self.tlb.flush_all();
        }
    }

    /// Read register `r` as seen by User mode (for STM^ and friends).
    pub(crate) fn user_reg(&self, r: usize) -> u32 {
        match r {
            8..=12 if self.mode == Mode::Fiq => self.banks.r8_12_usr[r - 8],
            13 | 14 if self.mode.bank() != 0 => {
                if r == 13 {
                    self.banks.sp[0]
                } else {
                    self.banks.lr[0]
                }
            }
            _ => self.regs[r],
        }
    }

    /// Write register `r` as seen by User mode (for LDM^).
    pub(crate) fn set_user_reg(&mut self, r: usize, v: u32) {
        match r {
            8..=12 if self.mode == Mode::Fiq => self.banks.r8_12_usr[r - 8] = v,
            13 if self.mode.bank() != 0 => self.banks.sp[0] = v,
            14 if self.mode.bank() != 0 => self.banks.lr[0] = v,
            _ => self.regs[r] = v,
        }
    }

    /// Read R13 or R14 of the given mode (for SRS).
    pub(crate) fn banked_sp(&self, mode: Mode) -> u32 {
        if mode.bank() == self.mode.bank() {
            self.regs[13]
        } else {
            self.banks.sp[mode.bank()]
        }
    }

    pub(crate) fn set_banked_sp(&mut self, mode: Mode, v: u32) {
        if mode.bank() == self.mode.bank() {
            self.regs[13] = v;
        } else {
            self.banks.sp[mode.bank()] = v;
        }
    }

    /// A snapshot of all registers for diagnostics (R0–R15 and the CPSR).
    pub fn dump(&self) -> String {
        self.dump_with_r15(self.regs[15])
    }

    /// The registers as QEMU's `-d cpu` prints them, with R15 shown as `r15` (the trace passes
    /// the address of the instruction about to run, as QEMU does, not the pipeline's PC + 8).
    /// `S`/`NS` is SCR.NS, as QEMU shows it.
    pub(crate) fn dump_with_r15(&self, r15: u32) -> String {
        let mut s = String::new();
        for (i, &r) in self.regs.iter().enumerate() {
            let r = if i == 15 { r15 } else { r };
            s.push_str(&format!("R{i:02}={r:08x}{}", if i % 4 == 3 { "\n" } else { " " }));
        }
        let f = self.cpsr();
        s.push_str(&format!(
            "PSR={f:08x} {}{}{}{} {} {} {}32",
            if f & psr::N != 0 { 'N' } else { '-' },
            if f & psr::Z != 0 { 'Z' } else { '-' },
            if f & psr::C != 0 { 'C' } else { '-' },
            if f & psr::V != 0 { 'V' } else { '-' },
            if self.thumb { 'T' } else { 'A' },
            if self.cp15.scr & crate::cp15::scr::NS != 0 {
                "NS"
            } else {
                "S"
            },
            self.mode.name()
        ));
        s
    }
}

/// Tracing (`--trace`, see [`crate::trace`]): the core hands the [`Tracer`] what it prints.
impl Cpu {
    /// Start tracing to `tracer` (or stop with `None`).
    pub fn set_tracer(&mut self, tracer: Option<Tracer>) {
        self.tracer = tracer;
    }

    /// Trace the instruction at `pc` whose encoding is `raw` (`len` bytes; a 32-bit Thumb
    /// instruction has its first halfword in bits 31:16).
    pub(crate) fn trace_insn(&mut self, pc: u32, raw: u32, len: u8) {
        if self.tracer.is_none() {
            return;
        }
        let regs = self.dump_with_r15(pc);
        let (index, thumb) = (self.config.index, self.thumb);
        if let Some(t) = self.tracer.as_mut() {
            t.insn(index, &regs, thumb, pc, raw, len);
        }
    }

    /// Trace an exception entry (`name`: the exception's name).
    pub(crate) fn trace_exception(&mut self, name: &str, cpsr: u32, lr: u32, vector: u32) {
        let index = self.config.index;
        if let Some(t) = self.tracer.as_mut() {
            t.exception(index, name, cpsr, lr, vector);
        }
    }

    /// Trace a device access.
    pub(crate) fn note_mmio(&mut self, write: bool, pa: u64, size: u32, value: u32) {
        let index = self.config.index;
        if let Some(t) = self.tracer.as_mut() {
            t.mmio(index, write, pa, size, value);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    pub(crate) fn cpu() -> Cpu {
        Cpu::new(CpuConfig {
            model: CpuModel::CortexA9,
            index: 0,
            cluster_size: 1,
            semihosting: true,
        })
    }

    #[test]
    fn reset_state_is_svc_with_interrupts_masked() {
        let c = cpu();
        assert_eq!(c.cpsr(), 0x4000_01d3, "SVC, A, I, F masked; Z set as QEMU's flags read");
        assert_eq!(c.pc(), 0);
    }

    #[test]
    fn flags_round_trip_through_cpsr() {
        let mut c = cpu();
        for nzcv in 0..16u32 {
            c.set_nzcv(nzcv << 28);
            assert_eq!(c.nzcv(), nzcv << 28);
        }
    }

    #[test]
    fn condition_codes_follow_the_table() {
        let mut c = cpu();
        // N=1 Z=0 C=1 V=0
        c.set_nzcv(0xa000_0000);
        let expect = [
            false, true, true, false, true, false, false, true, true, false, false, true, false, true, true,
        ];
        for (cond, e) in expect.iter().enumerate() {
            assert_eq!(c.condition_passed(cond as u8), *e, "cond {cond}");
        }
    }

    #[test]
    fn banked_registers_swap_with_mode() {
        let mut c = cpu();
        c.regs[13] = 0x1000;
        c.regs[14] = 0x2000;
        c.regs[8] = 8;
        c.switch_mode(Mode::Fiq);
        assert_eq!((c.regs[13], c.regs[14], c.regs[8]), (0, 0, 0));
        c.regs[8] = 88;
        c.regs[13] = 0x3000;
        assert_eq!(c.user_reg(8), 8);
        c.switch_mode(Mode::System);
        assert_eq!(c.regs[8], 8);
        assert_eq!(c.regs[13], 0);
        c.switch_mode(Mode::Supervisor);
        assert_eq!((c.regs[13], c.regs[14]), (0x1000, 0x2000));
        c.switch_mode(Mode::Fiq);
        assert_eq!((c.regs[8], c.regs[13]), (88, 0x3000));
    }

    #[test]
    fn msr_cannot_enter_hyp_or_leave_user() {
        let mut c = cpu();
        c.write_cpsr_masked(0x1a, psr::M);
        assert_eq!(c.mode(), Mode::Supervisor);
        c.write_cpsr_masked(0x16, psr::M);
        assert_eq!(c.mode(), Mode::Monitor);
        c.write_cpsr_masked(0x10, psr::M);
        assert_eq!(c.mode(), Mode::User);
        c.write_cpsr_masked(0x13, psr::M);
        assert_eq!(c.mode(), Mode::User);
    }

    #[test]
    fn security_state_swaps_banked_cp15_registers() {
        const VBAR: (u32, u32, u32, u32) = (12, 0, 0, 0);
        const SCR: (u32, u32, u32, u32) = (1, 0, 1, 0);
        let mut c = cpu();
        c.cp15.write(VBAR, 0x6000_0000, true).unwrap();
        // Monitor mode with SCR.NS set: still Secure, but MCR reaches the Non-secure copies.
        c.switch_mode(Mode::Monitor);
        c.cp15.write(SCR, 1, true).unwrap();
        c.update_security_state();
        assert!(!c.cp15.nonsecure);
        c.cp15.write(VBAR, 0x7000_0000, true).unwrap();
        assert_eq!(c.cp15.vbar, 0x6000_0000, "Monitor mode uses the Secure copy");
        assert_eq!(c.cp15.read(VBAR, true), Some(0x7000_0000));
        // Leaving Monitor mode enters Non-secure state.
        c.switch_mode(Mode::Supervisor);
        assert!(c.cp15.nonsecure);
        assert_eq!(c.cp15.exception_vector_base(), 0x7000_0000);
        assert_eq!(c.cp15.read(SCR, true), None, "SCR is Secure-only");
        assert_eq!(c.cp15.write((12, 0, 0, 1), 0, true), None, "MVBAR is Secure-only");
        assert_eq!(c.cp15.read((1, 0, 1, 2), true), Some(0), "NSACR is readable");
        assert_eq!(c.cp15.write((1, 0, 1, 2), 0xc00, true), None, "but not writable");
        // Non-secure software cannot enter Monitor mode; on the A9, SCR.AW/FW = 0 keep A and F.
        c.write_cpsr_masked(0x16, psr::M | psr::A | psr::F);
        assert_eq!(c.mode(), Mode::Supervisor);
        assert_eq!(c.cpsr() & (psr::A | psr::F), psr::A | psr::F);
        // An exception from Monitor mode returns to the Secure world.
        c.switch_mode(Mode::Monitor);
        assert_eq!(c.cp15.vbar, 0x6000_0000);
        c.take_exception(crate::exception::Exception::Undefined, 0);
        assert_eq!(
            (c.mode(), c.cp15.nonsecure, c.regs[15]),
            (Mode::Undefined, false, 0x6000_0004)
        );
    }
}
