//! # armvex-cpu: an ARMv7-A core
//!
//! An interpreter for the ARMv7-A architecture as implemented by the Cortex-A9 and Cortex-A15
//! (ARM Architecture Reference Manual, ARMv7-A and ARMv7-R edition, "the ARM ARM"). The core
//! knows nothing of boards: it reaches memory and devices only through [`armvex_bus::Bus`], and
//! its IRQ and FIQ inputs are lines on that bus.
//!
//! How an instruction runs, and where to read about it:
//!
//! 1. [`run`]: the run loop executes *blocks* of predecoded instructions and handles
//!    interrupts and housekeeping between blocks.
//! 2. [`code_cache`]: each 4 KiB page of code is decoded once, by [`decode`], into
//!    [`insn::Insn`]s: a handler function pointer plus extracted operands.
//! 3. [`thread`]: how handlers run one after the other (threaded dispatch: each handler
//!    jumps to the next one's).
//! 4. [`exec`]: what each instruction does, one small function per kind of instruction,
//!    built on the arithmetic in [`alu`] and the loads and stores of [`memory`].
//! 5. [`memory`]: the software TLB ([`tlb`]) turning virtual addresses into host pointers, with the
//!    page-table walk of [`mmu`] on a miss.
//! 6. [`exception`]: exception entry and return; [`cp15`]: the system control registers;
//!    [`state`]: modes, banked registers and the program status register.

pub mod alu;
#[cfg(feature = "pair-census")]
pub mod census;
pub mod code_cache;
pub mod cp14;
pub mod cp15;
pub mod cpu;
pub mod debug;
pub mod debug_hooks;
pub(crate) mod decode;
pub mod error;
pub mod exception;
pub(crate) mod exec;
pub(crate) mod fuse;
pub mod generic_timer;
pub(crate) mod insn;
pub mod memory;
pub mod mmu;
pub mod model;
pub mod pmu;
pub mod run;
pub mod saved;
pub mod state;
pub(crate) mod thread;
pub mod tlb;
pub mod trace;
pub mod vfp_state;

#[cfg(test)]
pub(crate) mod testutil;

pub use code_cache::CodeCache;
pub use cpu::{Cpu, CpuConfig, Exit};
pub use debug::{DebugControl, DebugStop, PageSummary, WatchHit, WatchKind, Watchpoint};
pub use decode::Features;
pub use error::CpuError;
pub use model::CpuModel;
pub use saved::CpuState;
pub use state::Mode;
pub use trace::Tracer;
