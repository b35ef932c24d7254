//! VFP (coprocessors 10 and 11). Not implemented yet: every encoding is UNDEFINED, which is
//! what a core with VFP disabled (CPACR, FPEXC.EN) does.

use super::Features;
use crate::exec::misc;
use crate::insn::Insn;

/// Decode an ARM-state VFP instruction.
pub fn decode_vfp_arm(w: u32, _f: &Features) -> Insn {
    Insn::new(misc::undefined, w)
}
