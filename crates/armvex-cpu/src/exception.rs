//! Exception entry and return (ARM ARM B1.8, "Exception handling").
//!
//! Taking an exception saves the CPSR into the target mode's SPSR, switches mode, sets LR to a
//! return address (Table B1-7 gives the offsets), masks interrupts, selects ARM or Thumb state
//! from SCTLR.TE and data endianness from SCTLR.EE, clears the IT state, and jumps to the
//! vector: VBAR (or 0xffff0000 with SCTLR.V high vectors) plus the vector's offset.
//!
//! | exception       | mode | vector | LR                         | masks   |
//! |-----------------|------|--------|----------------------------|---------|
//! | Undefined       | und  | 0x04   | insn + 4 (ARM) / + 2 (Thumb)| I      |
//! | Supervisor call | svc  | 0x08   | next instruction           | I       |
//! | Prefetch abort  | abt  | 0x0c   | insn + 4                   | A, I    |
//! | Data abort      | abt  | 0x10   | insn + 8                   | A, I    |
//! | IRQ             | irq  | 0x18   | next instruction + 4       | A, I    |
//! | FIQ             | fiq  | 0x1c   | next instruction + 4       | A, I, F |
//! | Secure monitor call | mon | MVBAR + 0x08 | next instruction   | A, I, F |

use crate::cp15::sctlr;
use crate::cpu::Cpu;
use crate::insn::Flow;
use crate::mmu::Fault;
use crate::state::{Mode, psr};

/// The kinds of exception.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Exception {
    Undefined,
    SupervisorCall,
    PrefetchAbort,
    DataAbort,
    Irq,
    Fiq,
    SecureMonitorCall,
}

impl Exception {
    fn mode(self) -> Mode {
        match self {
            Exception::Undefined => Mode::Undefined,
            Exception::SupervisorCall => Mode::Supervisor,
            Exception::PrefetchAbort | Exception::DataAbort => Mode::Abort,
            Exception::Irq => Mode::Irq,
            Exception::Fiq => Mode::Fiq,
            Exception::SecureMonitorCall => Mode::Monitor,
        }
    }

    fn vector_offset(self) -> u32 {
        match self {
            Exception::Undefined => 0x04,
            Exception::SupervisorCall => 0x08,
            Exception::PrefetchAbort => 0x0c,
            Exception::DataAbort => 0x10,
            Exception::Irq => 0x18,
            Exception::Fiq => 0x1c,
            Exception::SecureMonitorCall => 0x08,
        }
    }

    /// Name for traces.
    pub fn name(self) -> &'static str {
        match self {
            Exception::Undefined => "undefined instruction",
            Exception::SupervisorCall => "supervisor call",
            Exception::PrefetchAbort => "prefetch abort",
            Exception::DataAbort => "data abort",
            Exception::Irq => "irq",
            Exception::Fiq => "fiq",
            Exception::SecureMonitorCall => "secure monitor call",
        }
    }
}

impl Cpu {
    /// Enter exception `kind` with LR = `lr`.
    pub(crate) fn take_exception(&mut self, kind: Exception, lr: u32) {
        let old_cpsr = self.cpsr();
        // The handler starts outside any IT block. An interrupt taken between the
        // instructions of an IT block would otherwise leave the last one's ITSTATE here, and
        // 16-bit data-processing instructions run later (after a return to another thread,
        // say) would not set the flags, nor would a later exception's SPSR lack ITSTATE.
        self.current_it = 0;
        // An exception taken from Monitor mode goes to the Secure world (QEMU clears SCR.NS).
        if self.mode == Mode::Monitor {
            self.cp15.scr &= !crate::cp15::scr::NS;
        }
        // SCR.IRQ / SCR.FIQ route interrupts to Monitor mode (B1.8.5).
        let to_monitor = kind == Exception::SecureMonitorCall
            || (kind == Exception::Irq && self.cp15.scr & crate::cp15::scr::IRQ != 0)
            || (kind == Exception::Fiq && self.cp15.scr & crate::cp15::scr::FIQ != 0);
        let (mode, base) = if to_monitor {
            (Mode::Monitor, self.cp15.mvbar)
        } else {
            (kind.mode(), self.cp15.exception_vector_base())
        };
        let vector = base.wrapping_add(kind.vector_offset());
        self.trace_exception(kind.name(), old_cpsr, lr, vector);
        self.switch_mode(mode);
        self.set_spsr(old_cpsr);
        self.regs[14] = lr;
        self.mask_i = true;
        if matches!(
            kind,
            Exception::PrefetchAbort | Exception::DataAbort | Exception::Irq | Exception::Fiq
        ) {
            self.mask_a = true;
        }
        if kind == Exception::Fiq || to_monitor {
            self.mask_f = true;
        }
        if to_monitor {
            self.mask_a = true;
        }
        self.it = 0;
        self.thumb = self.cp15.sctlr & sctlr::TE != 0;
        let ee = self.cp15.sctlr & sctlr::EE != 0;
        if ee != self.big_endian {
            self.set_cpsr_raw((self.cpsr() & !psr::E) | if ee { psr::E } else { 0 });
        }
        // QEMU leaves the exclusive monitor alone on exception entry and return (ARMv7 makes
        // this IMPLEMENTATION DEFINED); Linux clears it itself with CLREX.
        self.regs[15] = vector;
    }

    /// The address of the instruction being executed (valid inside a handler).
    #[inline]
    pub(crate) fn current_insn_addr(&self) -> u32 {
        self.regs[15].wrapping_sub(if self.thumb { 4 } else { 8 })
    }

    /// For an exception that returns to the instruction being executed: put back that
    /// instruction's ITSTATE (the run loop has already advanced it) so the SPSR holds it.
    fn restore_current_it(&mut self) {
        if self.thumb {
            self.it = self.current_it;
        }
    }

    /// Take the Undefined Instruction exception for the instruction being executed.
    pub(crate) fn undefined(&mut self) -> Flow {
        self.restore_current_it();
        let addr = self.current_insn_addr();
        let lr = addr.wrapping_add(if self.thumb { 2 } else { 4 });
        self.take_exception(Exception::Undefined, lr);
        Flow::Branch
    }

    /// SMC: take the Secure Monitor Call exception (UNDEFINED in User mode).
    pub(crate) fn secure_monitor_call(&mut self, next: u32) -> Flow {
        if self.mode == Mode::User {
            return self.undefined();
        }
        self.take_exception(Exception::SecureMonitorCall, next);
        Flow::Branch
    }

    /// Take the Supervisor Call exception; `next` is the address of the next instruction.
    pub(crate) fn supervisor_call(&mut self, next: u32) -> Flow {
        self.take_exception(Exception::SupervisorCall, next);
        Flow::Branch
    }

    /// Take a Data Abort for `fault` raised by the instruction being executed.
    pub(crate) fn data_abort(&mut self, fault: Fault) -> Flow {
        self.restore_current_it();
        if fault.is_watchpoint() {
            // Not an abort: stop for the debugger before this instruction, which runs again
            // when the CPU resumes (`exit` already names the watchpoint).
            self.regs[15] = self.current_insn_addr();
            self.dbg.retried = 1;
            return Flow::Stop;
        }
        let fault = if self.cp15.lpae() {
            fault.in_lpae_format()
        } else {
            fault
        };
        self.cp15.dfsr = fault.fsr();
        self.cp15.dfar = fault.address;
        let lr = self.current_insn_addr().wrapping_add(8);
        self.take_exception(Exception::DataAbort, lr);
        Flow::Branch
    }

    /// Take a Prefetch Abort for the instruction at `addr` (the fetch itself faulted).
    pub(crate) fn prefetch_abort(&mut self, addr: u32, fault: Fault) {
        let fault = if self.cp15.lpae() {
            fault.in_lpae_format()
        } else {
            fault
        };
        self.cp15.ifsr = fault.fsr() & !(1 << 11);
        self.cp15.ifar = fault.address;
        self.take_exception(Exception::PrefetchAbort, addr.wrapping_add(4));
    }

    /// BKPT: a Prefetch Abort with a debug-event fault status (as QEMU without a debugger).
    pub(crate) fn breakpoint(&mut self) -> Flow {
        self.restore_current_it();
        let addr = self.current_insn_addr();
        self.cp15.ifsr = if self.cp15.lpae() {
            crate::mmu::LPAE_STATUS | crate::mmu::lfsc::DEBUG
        } else {
            crate::mmu::fsc::DEBUG
        };
        self.take_exception(Exception::PrefetchAbort, addr.wrapping_add(4));
        Flow::Branch
    }

    /// Take an IRQ or FIQ between instructions; `regs[15]` is the next instruction.
    pub(crate) fn take_interrupt(&mut self, fiq: bool) {
        let lr = self.regs[15].wrapping_add(4);
        self.take_exception(if fiq { Exception::Fiq } else { Exception::Irq }, lr);
    }

    /// Exception return: restore CPSR from the current mode's SPSR and branch to `target`
    /// (SUBS PC, LR; LDM with PC and ^; RFE). In User or System mode, which have no SPSR, the
    /// CPSR is left alone (UNPREDICTABLE in the ARM ARM).
    pub(crate) fn exception_return(&mut self, target: u32, new_cpsr: Option<u32>) -> Flow {
        let spsr = new_cpsr.or_else(|| self.spsr());
        if let Some(spsr) = spsr {
            let cur = self.cpsr();
            let mut value = spsr;
            // An illegal target mode keeps the current mode (QEMU's choice for ARMv7); so does
            // Monitor mode from Non-secure state.
            let illegal = |m: Mode| m == Mode::Hyp || (m == Mode::Monitor && self.cp15.nonsecure);
            if Mode::from_bits(spsr).is_none_or(illegal) {
                value = (value & !psr::M) | (cur & psr::M);
            }
            let keep = !self.nonsecure_af_mask();
            value = (value & !keep) | (cur & keep);
            // J is never set in the CPSR: there is no Jazelle state to return to.
            self.set_cpsr_raw(value & psr::VALID & !psr::J);
        }
        self.regs[15] = if self.thumb { target & !1 } else { target & !3 };
        Flow::Branch
    }
}
