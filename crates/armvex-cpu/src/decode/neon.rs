//! Advanced SIMD (NEON): the hook from the ARM and Thumb decoders into `armvex-neon`.
//!
//! The Advanced SIMD encodings live in three places of each instruction set (ARM ARM
//! A7.1): data processing (A32 `1111 001x`, T32 `111x 1111`), element and structure
//! loads/stores (A32 `1111 0100 xxx0`, T32 `1111 1001 xxx0`) and the 8-, 16- and 32-bit
//! transfers between core registers and scalars plus VDUP (the coprocessor-11 `MCR`/`MRC`
//! space, `cond 1110 xxxx xxxx xxxx 1011 xxx1 xxxx`). `armvex-neon` decodes all of them
//! into a [`NeonOp`](armvex_neon::NeonOp): its group and its A32 word (T32 words are
//! converted), which the predecoded instruction keeps in `op` and `imm`. Execution is
//! [`crate::exec::neon`].

use super::Features;
use crate::exec::{misc, neon};
use crate::insn::Decoded;
use crate::thread::op;
use armvex_neon::{Decoded as Neon, Group};

/// The decoded form of what `armvex-neon` said of `raw`: `None` when it is not Advanced SIMD,
/// the CPU's UNDEFINED handler, or the op with its group in `op` and its A32 word in `imm`.
fn decoded(raw: u32, neon: Neon) -> Option<Decoded> {
    let op = match neon {
        Neon::NotNeon => return None,
        Neon::Undefined => return Some(Decoded::new(op!(misc::undefined), raw)),
        Neon::Op(op) => op,
    };
    let ops = match op.group {
        Group::LsMultiple
        | Group::LsSingle
        | Group::LsAllLanes
        | Group::CoreToScalar
        | Group::ScalarToCore
        | Group::DupCore => op!(neon::with_core),
        _ => op!(neon::data_processing),
    };
    Some(Decoded::new(ops, raw).imm(op.word).op(op.group as u32))
}

/// An A32 word in one of the Advanced SIMD spaces: its decoded form (UNDEFINED ones
/// included), or `None` when it is not Advanced SIMD (or the core has none).
pub(super) fn decode_a32(w: u32, f: &Features) -> Option<Decoded> {
    decoded(w, armvex_neon::decode_a32(w, f.neon?))
}

/// The same for a 32-bit T32 word (first halfword in bits 31:16).
pub(super) fn decode_t32(w: u32, f: &Features) -> Option<Decoded> {
    decoded(w, armvex_neon::decode_t32(w, f.neon?))
}
