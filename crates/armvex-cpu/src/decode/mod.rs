//! Decoders: from instruction encodings to predecoded [`Insn`](crate::insn::Insn)s.

mod arm;
mod thumb;
mod vfp;

pub use arm::decode_arm;
pub use thumb::{decode_thumb_page, decode_thumb16, decode_thumb32};

use crate::cpu::CpuModel;

/// What the decoders may produce for a given core.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Features {
    /// SDIV/UDIV.
    pub divide: bool,
    /// HLT is a semihosting call (and not UNDEFINED).
    pub semihosting: bool,
    /// VFPv4's fused multiply-add (VFMA/VFMS/VFNMA/VFNMS).
    pub fused_multiply_add: bool,
}

impl Features {
    /// The features of `model`.
    pub fn for_model(model: CpuModel, semihosting: bool) -> Features {
        Features {
            divide: model.has_divide(),
            semihosting,
            fused_multiply_add: model == CpuModel::CortexA15,
        }
    }
}

#[cfg(test)]
mod arm_tests;

#[cfg(test)]
mod thumb_tests;
