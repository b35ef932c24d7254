//! Decoders: from instruction encodings to predecoded [`Insn`](crate::insn::Insn)s.

mod arm;
mod neon;
mod thumb;
mod vfp;

pub use arm::decode_arm;
pub use thumb::decode_thumb_page;

use crate::model::CpuModel;

/// Number of ARM instructions in a 4 KiB page.
pub const ARM_SLOTS: usize = 1024;
/// Number of halfword slots in a 4 KiB page (Thumb).
pub const THUMB_SLOTS: usize = 2048;

/// What the decoders may produce for a given core.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Features {
    /// SDIV/UDIV.
    pub divide: bool,
    /// HLT is a semihosting call (and not UNDEFINED).
    pub semihosting: bool,
    /// VFPv4's fused multiply-add (VFMA/VFMS/VFNMA/VFNMS).
    pub fused_multiply_add: bool,
    /// Advanced SIMD (NEON), decoded by `armvex-neon` with these options; `None` makes
    /// every Advanced SIMD encoding UNDEFINED.
    pub neon: Option<armvex_neon::Features>,
}

impl Features {
    /// The features of `model`.
    pub fn for_model(model: CpuModel, semihosting: bool) -> Features {
        Features {
            divide: model.has_divide(),
            semihosting,
            fused_multiply_add: model == CpuModel::CortexA15,
            neon: Some(match model {
                CpuModel::CortexA9 => armvex_neon::Features::CORTEX_A9,
                CpuModel::CortexA15 => armvex_neon::Features::CORTEX_A15,
            }),
        }
    }
}

#[cfg(test)]
mod arm_tests;

#[cfg(test)]
mod thumb_tests;

#[cfg(test)]
mod neon_tests;
