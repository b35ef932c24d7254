//! The cpu crate's error: why a tracer could not start or a saved CPU state does not fit.
//!
//! `Display` is the one-line message the CLI prints after `armvex: ` (the machine crate wraps
//! it unchanged), so each variant's text names the core and the field at fault.

use crate::model::CpuModel;
use std::fmt;

/// Why the CPU refused a request from outside the crate.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CpuError {
    /// Capstone, the disassembler behind `--trace`, could not be set up; its own message.
    Disassembler(String),
    /// [`Cpu::load_state`](crate::Cpu::load_state) was given the state of another core model
    /// or another CPU index.
    OtherCore {
        /// This CPU's index in the machine.
        index: usize,
        /// The core model the state was saved from.
        saved_model: CpuModel,
        /// The CPU index the state was saved from.
        saved_index: usize,
        /// This CPU's core model.
        model: CpuModel,
    },
    /// A saved CPSR whose mode field names no processor mode.
    InvalidMode {
        /// This CPU's index in the machine.
        index: usize,
        /// The saved CPSR.
        cpsr: u32,
    },
    /// A saved generic timer on a core without one (the Cortex-A9), or none on a core with
    /// one (the Cortex-A15).
    TimerDoesNotFit {
        /// This CPU's index in the machine.
        index: usize,
        /// The core model the state was saved from.
        saved_model: CpuModel,
    },
}

impl fmt::Display for CpuError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            CpuError::Disassembler(e) => write!(f, "cannot start the disassembler: {e}"),
            CpuError::OtherCore {
                index,
                saved_model,
                saved_index,
                model,
            } => {
                write!(
                    f,
                    "cpu{index}: the saved core is {saved_model:?} cpu{saved_index}, this one {model:?}"
                )
            }
            CpuError::InvalidMode { index, cpsr } => {
                write!(f, "cpu{index}: saved CPSR {cpsr:#x} has no valid mode")
            }
            CpuError::TimerDoesNotFit { index, saved_model } => {
                write!(f, "cpu{index}: saved generic timer does not fit a {saved_model:?}")
            }
        }
    }
}

impl std::error::Error for CpuError {}
