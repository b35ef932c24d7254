//! Superinstructions: two instructions that often follow each other, run by one handler.
//!
//! Every handler ends with an indirect jump to the next instruction's handler (see
//! [`crate::thread`]): a few host instructions, and one more jump for the host's branch
//! predictor to learn. Where guest code is spread thin (busybox's Thumb-2 code calling
//! between many pages), those jumps are mispredicted often enough to cost more than the
//! handlers' own work: the `fs` test's own part ran at about 12.8 host cycles per guest
//! instruction, where the kernel's xz decompressor, a few tight loops, runs at about 5
//! with 1.6 times fewer host instructions. A *fused* handler runs two instructions, the one
//! in its slot and the one after it, as their own handlers would, with no jump between
//! them ([`crate::thread::fused`]); the second may also be a B or BL ([`BranchTo`]: a
//! comparison and the branch after it, a move and a call) or an IT ([`ItStart`]).
//!
//! Which pairs get one is decided here, by the handlers of the two instructions: [`PAIRS`]
//! lists the 400 pairs that followed each other most often in the Debian boot with the
//! `fs` test on vexpress-a9 (the ARM kernel, and the Thumb-2 busybox of the test). They
//! were counted by a build whose handlers recorded each pair they dispatched, and ranked by
//! their share of the boot's pairs plus their share of the test's own part (the part where
//! the jumps cost most); they make up about 65% of either's dispatches to the next slot
//! (86% and 79% of the pairs that could be fused). The first instruction is an
//! unconditional one of a named family ([`crate::exec::dataproc::Dp`], loads and stores,
//! multiplies, extends). The list is what `tools/pair-census` prints, in its order: it
//! builds armvex with the `pair-census` feature (which fuses nothing and counts pairs, see
//! `src/census.rs`) and boots the guest twice, whole and from a snapshot at the test's start
//! (the console line "running /test/fs.sh", instruction 3,848,400,000).
//!
//! When a page is decoded ([`fuse_page`]), each slot whose instruction and the next one are
//! such a pair gets the fused handler as its `exec`; its `then` keeps the instruction's own
//! handler. The next slot keeps its own handler, so a branch to it runs it alone, and pairs
//! may overlap: in a straight line of fused slots every other one runs.
//!
//! Nothing else changes, to the instruction: both instructions are in the same run (the
//! first is no branch), so the budget has paid for both, and where a chain's budget ends at
//! the second one, the first one's slot gets its own handler back for the time of the chain
//! (see `run_partial` in [`crate::thread`]), as when a debugger steps one instruction at a
//! time. Measured on the `fs` boot: its test part (from a snapshot) 1.95-2.00 s -> 1.32-1.36
//! s of host CPU time, the whole boot 7.9-8.1 s -> 7.2-7.3 s; the decompressor, bound by
//! data dependencies through the register array rather than by jumps, gains nothing.

use crate::cpu::{COND_ALWAYS, Handler, Insn};
use crate::exec::branch::BranchTo;
use crate::exec::dataproc::{Dp, DpT16};
use crate::exec::loadstore::{Ldm, Single, Stm};
use crate::exec::media::ExtendAs;
use crate::exec::misc::Nop;
use crate::exec::multiply::{MulAs, MulLongAs};
use crate::exec::thumb::ItStart;
use crate::thread::{Ops, OpsOf, Plain, Second, fused};
use std::collections::HashMap;
use std::sync::OnceLock;

/// A pair: the first instruction's handler on its own, the second's, and the handler
/// that runs them both.
struct Pair {
    first: Handler,
    second: Handler,
    handler: Handler,
}

/// One entry of [`PAIRS`]: the first instruction's family and length in slots, then the
/// second instruction: a family and its length, `branch COND, LINK, LOCAL` (a B or BL, see
/// [`BranchTo`]) or `it` (an IT instruction).
macro_rules! pair {
    ($a:ty, $sa:literal, branch $cond:literal, $link:literal, $local:literal) => {
        pair!(@ $a, $sa, BranchTo<$cond, $link, $local>)
    };
    ($a:ty, $sa:literal, it) => {
        pair!(@ $a, $sa, ItStart)
    };
    ($a:ty, $sa:literal, $b:ty, $sb:literal) => {
        pair!(@ $a, $sa, Plain<$b, $sb>)
    };
    (@ $a:ty, $sa:literal, $second:ty) => {
        Pair {
            first: if $sa == 2 { <$a as OpsOf>::OPS.fast_wide } else { <$a as OpsOf>::OPS.fast },
            second: <$second as Second>::HANDLER,
            handler: fused::<$a, $sa, $second>,
        }
    };
}

macro_rules! pairs {
    ($(($($entry:tt)*)),* $(,)?) => {
        &[$(pair!($($entry)*)),*]
    };
}

/// The pairs that get a fused handler (see the module documentation), most frequent first.
static PAIRS: &[Pair] = pairs![
    (Single<0, 0, 0>, 1, Single<0, 0, 0>, 1),
    (Dp<13, false, 1>, 1, Dp<13, false, 1>, 1),
    (Dp<4, true, 1>, 1, Dp<5, false, 0>, 1),
    (Single<0, 1, 0>, 1, Single<0, 1, 0>, 1),
    (MulLongAs<0, false>, 1, Dp<4, true, 1>, 1),
    (Single<0, 1, 0>, 1, MulLongAs<0, false>, 1),
    (Dp<4, false, 1>, 1, branch 1, false, true),
    (Dp<10, true, 1>, 1, Dp<4, false, 1>, 1),
    (Dp<2, true, 1>, 1, Single<1, 0, 0>, 1),
    (Dp<5, false, 0>, 1, Dp<2, true, 1>, 1),
    (Dp<13, false, 1>, 1, branch 14, true, false),
    (Single<0, 0, 0>, 1, Dp<4, false, 1>, 1),
    (Single<0, 0, 0>, 1, Dp<13, false, 1>, 1),
    (Dp<10, true, 0>, 1, branch 0, false, true),
    (Dp<2, false, 1>, 1, Dp<2, false, 1>, 1),
    (Single<1, 0, 0>, 1, Single<1, 0, 0>, 1),
    (Single<0, 0, 0>, 1, Dp<10, true, 0>, 1),
    (Dp<4, false, 0>, 1, Single<1, 0, 0>, 1),
    (Single<0, 0, 0>, 1, Dp<4, false, 0>, 1),
    (Dp<10, true, 0>, 1, branch 1, false, true),
    (Single<0, 0, 0>, 1, Dp<10, true, 1>, 1),
    (DpT16<4, 0>, 1, Single<1, 0, 0>, 1),
    (Single<0, 0, 0>, 1, Single<1, 0, 0>, 1),
    (Single<0, 0, 0>, 1, DpT16<4, 0>, 1),
    (Dp<10, true, 1>, 1, it),
    (MulAs<0, false>, 1, Dp<10, true, 1>, 1),
    (Single<4, 0, 2>, 1, Dp<13, false, 3>, 1),
    (Single<1, 0, 0>, 1, Single<0, 0, 0>, 1),
    (Single<1, 0, 0>, 1, Dp<4, false, 0>, 1),
    (Dp<1, false, 1>, 2, Dp<4, false, 1>, 1),
    (Single<0, 0, 0>, 1, Dp<13, false, 2>, 1),
    (Dp<4, false, 1>, 1, Single<0, 0, 0>, 1),
    (Dp<10, true, 0>, 1, ExtendAs<false, 1, false>, 1),
    (ExtendAs<false, 1, false>, 1, Single<5, 0, 2>, 1),
    (Single<5, 0, 2>, 1, branch 9, false, true),
    (Dp<13, false, 1>, 1, branch 14, false, true),
    (Dp<4, false, 1>, 1, Dp<4, false, 1>, 1),
    (Dp<13, false, 1>, 1, Single<0, 0, 0>, 1),
    (Single<1, 0, 0>, 1, Single<2, 0, 0>, 1),
    (Dp<1, false, 1>, 1, Dp<10, true, 1>, 1),
    (Dp<10, true, 1>, 1, branch 1, false, true),
    (Single<0, 0, 2>, 1, Dp<1, false, 3>, 1),
    (Dp<1, false, 3>, 1, branch 1, false, true),
    (ExtendAs<false, 0, false>, 1, Dp<1, false, 1>, 1),
    (Dp<10, true, 1>, 1, Single<0, 0, 2>, 1),
    (Single<3, 0, 2>, 1, Single<0, 0, 0>, 1),
    (Single<2, 2, 0>, 1, ExtendAs<false, 0, false>, 1),
    (Single<0, 0, 0>, 1, Single<0, 0, 0>, 2),
    (Dp<10, true, 1>, 1, branch 2, false, true),
    (Dp<10, true, 1>, 1, branch 9, false, true),
    (Dp<10, true, 0>, 2, branch 0, false, true),
    (Dp<4, false, 0>, 1, Single<2, 0, 2>, 1),
    (Dp<13, false, 2>, 1, Single<0, 0, 0>, 1),
    (Dp<5, false, 0>, 1, Single<1, 0, 0>, 1),
    (Dp<5, false, 0>, 1, Dp<4, true, 1>, 1),
    (Single<1, 0, 0>, 1, branch 1, false, true),
    (Dp<5, false, 1>, 2, it),
    (Nop, 1, Dp<5, false, 1>, 2),
    (Single<2, 0, 2>, 1, Single<3, 0, 2>, 1),
    (Dp<13, false, 2>, 1, Dp<13, false, 2>, 1),
    (Dp<13, false, 3>, 1, MulAs<0, false>, 1),
    (Dp<1, false, 5>, 2, Dp<1, false, 1>, 2),
    (Dp<10, true, 0>, 1, branch 13, false, true),
    (Stm<false, 6>, 2, Dp<13, false, 1>, 1),
    (Single<0, 0, 0>, 1, branch 14, true, false),
    (Dp<4, false, 0>, 2, DpT16<2, 0>, 1),
    (DpT16<4, 0>, 1, Dp<10, true, 0>, 1),
    (Dp<2, false, 0>, 2, Dp<10, true, 0>, 1),
    (Single<0, 0, 0>, 1, Single<8, 0, 0>, 2),
    (Dp<4, false, 1>, 1, Single<1, 0, 0>, 1),
    (Dp<13, false, 1>, 1, Dp<2, false, 0>, 1),
    (Dp<13, false, 1>, 1, Single<1, 0, 0>, 1),
    (Dp<4, false, 1>, 1, Dp<10, true, 0>, 1),
    (Dp<13, false, 1>, 1, Dp<4, false, 0>, 1),
    (Dp<4, false, 2>, 1, Single<1, 0, 0>, 1),
    (Single<1, 1, 0>, 1, Dp<4, false, 0>, 1),
    (Dp<4, false, 0>, 1, Ldm<5>, 2),
    (Single<0, 0, 0>, 2, Single<0, 0, 0>, 1),
    (Single<2, 0, 0>, 1, Dp<10, true, 0>, 1),
    (Dp<10, true, 0>, 1, branch 8, false, true),
    (Single<0, 1, 0>, 1, Dp<4, true, 1>, 1),
    (Single<0, 0, 0>, 1, Dp<0, false, 1>, 1),
    (Dp<10, true, 0>, 1, branch 0, false, false),
    (Dp<1, false, 5>, 2, Dp<1, false, 3>, 2),
    (Dp<4, false, 2>, 2, branch 14, false, true),
    (Dp<10, true, 2>, 2, Nop, 1),
    (Dp<2, false, 1>, 1, Single<1, 0, 0>, 1),
    (Dp<10, true, 0>, 1, it),
    (Dp<10, true, 1>, 1, branch 12, false, true),
    (Dp<0, false, 1>, 1, Dp<4, false, 1>, 1),
    (DpT16<2, 0>, 1, it),
    (Single<1, 0, 0>, 1, Dp<10, true, 0>, 1),
    (Single<0, 0, 0>, 2, Dp<4, false, 1>, 1),
    (Dp<4, false, 0>, 1, Dp<4, false, 1>, 1),
    (Stm<false, 6>, 2, branch 14, true, true),
    (Dp<10, true, 0>, 1, branch 1, false, false),
    (Dp<13, false, 1>, 1, MulAs<0, false>, 1),
    (DpT16<13, 0>, 1, Dp<13, false, 1>, 1),
    (Dp<4, false, 0>, 2, Dp<10, true, 0>, 2),
    (Dp<4, false, 0>, 2, Single<0, 0, 2>, 2),
    (Dp<4, true, 1>, 1, Single<1, 1, 0>, 1),
    (Single<1, 1, 0>, 1, Dp<5, false, 0>, 1),
    (Dp<4, false, 1>, 1, Dp<13, false, 1>, 1),
    (Dp<4, false, 1>, 1, Dp<4, false, 2>, 1),
    (Single<1, 0, 0>, 1, Dp<13, false, 4>, 1),
    (Dp<10, true, 0>, 1, Dp<13, false, 2>, 1),
    (Dp<13, false, 3>, 1, Dp<2, true, 0>, 1),
    (Dp<13, false, 3>, 1, Dp<13, false, 1>, 1),
    (Dp<0, false, 1>, 1, Dp<4, false, 0>, 1),
    (Dp<2, true, 0>, 1, Dp<2, false, 1>, 1),
    (Dp<13, false, 4>, 1, Dp<0, false, 1>, 1),
    (Dp<13, false, 2>, 1, branch 2, false, true),
    (DpT16<4, 0>, 1, Dp<13, false, 1>, 1),
    (Dp<1, false, 5>, 1, Dp<4, false, 1>, 1),
    (Single<0, 1, 0>, 2, DpT16<2, 0>, 1),
    (Dp<4, false, 0>, 1, Ldm<5>, 1),
    (DpT16<13, 0>, 1, Single<0, 0, 0>, 1),
    (Dp<4, false, 1>, 1, DpT16<2, 0>, 1),
    (DpT16<2, 0>, 1, Dp<10, true, 1>, 1),
    (Single<1, 0, 0>, 1, Dp<2, false, 0>, 2),
    (Single<0, 0, 0>, 1, DpT16<13, 0>, 1),
    (DpT16<2, 0>, 1, Dp<10, true, 0>, 1),
    (Single<0, 0, 0>, 2, Dp<4, false, 0>, 2),
    (Single<1, 1, 0>, 2, Dp<5, false, 0>, 2),
    (Dp<5, false, 0>, 2, Dp<10, true, 1>, 1),
    (Single<0, 1, 0>, 2, MulLongAs<0, false>, 2),
    (Dp<4, true, 1>, 2, Single<1, 1, 0>, 2),
    (MulLongAs<0, false>, 2, Dp<4, true, 1>, 2),
    (Stm<false, 6>, 1, Single<1, 1, 0>, 1),
    (Single<4, 0, 0>, 1, Dp<13, false, 3>, 1),
    (Dp<13, false, 1>, 1, branch 1, false, true),
    (Dp<13, false, 5>, 1, Dp<1, false, 5>, 1),
    (Dp<13, false, 3>, 1, Dp<14, false, 1>, 1),
    (Dp<14, false, 1>, 1, MulAs<0, false>, 1),
    (Stm<false, 6>, 1, Dp<13, false, 1>, 1),
    (Dp<13, false, 1>, 1, DpT16<2, 0>, 1),
    (DpT16<2, 0>, 1, Dp<10, true, 0>, 2),
    (Single<0, 0, 0>, 2, Dp<13, false, 1>, 1),
    (DpT16<2, 1>, 1, Dp<10, true, 1>, 1),
    (Single<8, 0, 0>, 2, Dp<10, true, 1>, 1),
    (DpT16<4, 0>, 1, branch 1, false, true),
    (Single<0, 0, 0>, 1, Dp<0, false, 1>, 2),
    (Single<0, 0, 2>, 2, Dp<4, false, 0>, 2),
    (Dp<0, false, 1>, 2, Single<1, 0, 0>, 1),
    (Dp<0, false, 1>, 2, Dp<4, false, 0>, 2),
    (Dp<10, true, 0>, 2, Dp<4, false, 1>, 1),
    (Dp<4, false, 1>, 1, Dp<1, false, 1>, 2),
    (Single<1, 0, 0>, 1, Dp<1, false, 5>, 2),
    (Dp<4, false, 1>, 1, Dp<4, false, 1>, 2),
    (Dp<0, false, 1>, 2, Dp<1, false, 5>, 2),
    (Dp<1, false, 5>, 2, Dp<14, false, 1>, 2),
    (Dp<14, false, 1>, 2, Dp<1, false, 5>, 2),
    (Dp<1, false, 5>, 2, Dp<0, false, 1>, 2),
    (Dp<4, false, 1>, 2, Dp<4, false, 1>, 1),
    (Single<0, 1, 0>, 2, DpT16<4, 0>, 1),
    (Dp<13, false, 1>, 1, DpT16<13, 0>, 1),
    (Single<0, 0, 0>, 2, Single<1, 0, 0>, 1),
    (Dp<10, true, 1>, 1, branch 13, false, true),
    (Dp<13, false, 1>, 1, Single<9, 0, 0>, 2),
    (Single<1, 2, 0>, 2, branch 1, false, true),
    (Dp<10, true, 1>, 1, Single<1, 2, 0>, 2),
    (DpT16<2, 0>, 1, Single<0, 0, 2>, 2),
    (Dp<10, true, 0>, 1, Single<0, 0, 0>, 1),
    (Dp<4, false, 1>, 1, Dp<13, false, 5>, 1),
    (Single<1, 0, 0>, 1, branch 14, false, true),
    (Single<0, 0, 2>, 1, Single<0, 0, 0>, 1),
    (Single<1, 0, 0>, 1, Dp<13, false, 1>, 1),
    (Dp<13, false, 1>, 1, Single<0, 2, 0>, 2),
    (Dp<4, false, 2>, 1, Dp<13, false, 3>, 1),
    (Single<4, 0, 0>, 1, MulAs<0, false>, 1),
    (DpT16<4, 0>, 1, Single<1, 0, 0>, 2),
    (Dp<13, false, 1>, 1, Single<0, 1, 0>, 2),
    (Single<0, 0, 0>, 1, Stm<false, 6>, 1),
    (Dp<2, false, 0>, 1, Single<0, 0, 0>, 2),
    (Single<8, 0, 0>, 2, DpT16<2, 1>, 1),
    (Single<0, 0, 0>, 1, Dp<4, false, 2>, 2),
    (Single<1, 0, 0>, 1, Dp<10, true, 0>, 2),
    (Single<9, 0, 0>, 2, Dp<13, false, 1>, 1),
    (Single<1, 0, 2>, 2, Single<0, 0, 0>, 1),
    (Single<0, 0, 2>, 2, Dp<10, true, 1>, 1),
    (DpT16<2, 1>, 1, Single<1, 0, 2>, 2),
    (MulAs<0, false>, 1, Dp<2, false, 1>, 1),
    (Single<1, 0, 0>, 1, Single<4, 0, 2>, 1),
    (Dp<4, false, 0>, 1, Dp<13, false, 1>, 1),
    (ExtendAs<false, 1, false>, 1, Single<5, 0, 0>, 1),
    (Dp<10, true, 1>, 1, ExtendAs<false, 1, false>, 1),
    (Single<5, 0, 0>, 1, branch 8, false, true),
    (Single<2, 0, 0>, 1, Dp<4, false, 0>, 1),
    (Single<0, 0, 0>, 1, DpT16<2, 0>, 1),
    (DpT16<13, 0>, 1, Single<0, 1, 0>, 2),
    (Dp<4, false, 2>, 2, DpT16<13, 0>, 1),
    (Stm<false, 6>, 1, Dp<2, false, 0>, 2),
    (Dp<2, false, 0>, 2, Dp<4, false, 2>, 2),
    (DpT16<2, 0>, 1, Stm<false, 6>, 1),
    (Dp<4, false, 0>, 2, Dp<4, false, 0>, 2),
    (Dp<13, false, 1>, 1, Dp<4, false, 0>, 2),
    (Dp<1, false, 3>, 2, Single<0, 0, 0>, 1),
    (Dp<1, false, 3>, 2, Dp<4, false, 1>, 1),
    (Dp<12, false, 2>, 2, Single<0, 0, 0>, 1),
    (Single<2, 2, 0>, 2, Dp<10, true, 1>, 1),
    (Dp<11, true, 1>, 1, branch 0, false, false),
    (Dp<2, false, 1>, 2, Dp<11, true, 1>, 1),
    (Single<8, 0, 0>, 2, Single<2, 2, 0>, 2),
    (Single<0, 2, 0>, 2, Dp<10, true, 1>, 1),
    (Dp<4, false, 0>, 1, Single<0, 0, 0>, 1),
    (Single<1, 0, 0>, 1, branch 14, true, false),
    (Dp<2, true, 1>, 1, Single<1, 1, 0>, 1),
    (Dp<13, false, 1>, 1, Dp<10, true, 0>, 1),
    (Single<1, 0, 0>, 1, Single<1, 0, 2>, 2),
    (Dp<8, true, 1>, 1, branch 0, false, true),
    (Dp<2, false, 1>, 2, Dp<3, false, 0>, 2),
    (Dp<10, true, 1>, 2, Nop, 1),
    (Dp<4, false, 1>, 1, Single<1, 0, 0>, 2),
    (DpT16<2, 1>, 1, Dp<13, false, 1>, 1),
    (Single<0, 1, 0>, 2, Dp<13, false, 1>, 1),
    (Dp<4, false, 2>, 2, Dp<4, false, 1>, 1),
    (Dp<12, false, 2>, 2, Dp<10, true, 1>, 1),
    (Dp<4, false, 0>, 2, Dp<12, false, 2>, 2),
    (DpT16<2, 0>, 1, Dp<4, false, 2>, 2),
    (Dp<10, true, 1>, 1, Single<1, 1, 0>, 2),
    (ExtendAs<false, 1, false>, 2, Dp<4, false, 0>, 2),
    (ExtendAs<false, 1, false>, 2, Dp<4, false, 2>, 2),
    (Dp<12, false, 2>, 2, DpT16<2, 1>, 1),
    (Dp<13, false, 1>, 1, ExtendAs<false, 1, false>, 2),
    (Single<1, 0, 0>, 2, ExtendAs<false, 1, false>, 2),
    (Single<1, 1, 0>, 2, branch 0, false, true),
    (Single<1, 0, 0>, 1, it),
    (Single<0, 0, 0>, 1, Dp<2, false, 1>, 2),
    (Dp<10, true, 1>, 1, Dp<4, false, 0>, 1),
    (Dp<13, false, 7>, 2, Dp<12, false, 1>, 2),
    (Single<2, 0, 2>, 1, Dp<4, false, 2>, 1),
    (Dp<0, false, 0>, 1, Dp<3, false, 0>, 1),
    (Dp<13, false, 1>, 1, Ldm<5>, 1),
    (Single<1, 0, 0>, 1, Single<2, 0, 2>, 1),
    (Dp<13, false, 1>, 1, Dp<4, false, 1>, 1),
    (Single<0, 0, 0>, 1, Dp<2, false, 1>, 1),
    (DpT16<4, 0>, 1, branch 14, false, true),
    (Single<0, 0, 2>, 1, Dp<13, false, 1>, 1),
    (Dp<13, false, 3>, 1, Dp<4, false, 2>, 1),
    (Dp<2, false, 0>, 1, Dp<2, false, 0>, 1),
    (DpT16<2, 0>, 1, Single<1, 0, 0>, 1),
    (Dp<4, false, 0>, 1, Dp<2, false, 0>, 1),
    (Dp<2, false, 0>, 1, Dp<4, false, 2>, 1),
    (Single<8, 0, 0>, 2, DpT16<4, 0>, 1),
    (Single<1, 0, 2>, 2, Dp<13, false, 1>, 1),
    (Single<1, 0, 0>, 1, Single<0, 0, 0>, 2),
    (Dp<13, false, 0>, 1, Single<0, 1, 0>, 1),
    (Dp<10, true, 0>, 1, branch 11, false, true),
    (Dp<4, false, 0>, 1, Dp<13, false, 0>, 1),
    (Single<0, 0, 0>, 1, DpT16<13, 2>, 1),
    (DpT16<13, 0>, 1, Single<1, 0, 0>, 1),
    (Dp<10, true, 1>, 1, branch 9, false, false),
    (Single<1, 0, 0>, 2, Single<1, 0, 0>, 1),
    (Dp<2, false, 1>, 2, Dp<4, false, 0>, 1),
    (Single<0, 0, 0>, 1, Dp<12, false, 2>, 2),
    (Single<0, 0, 0>, 1, Dp<13, false, 0>, 1),
    (DpT16<13, 2>, 1, Single<0, 0, 0>, 1),
    (Dp<1, false, 5>, 1, Dp<1, false, 5>, 1),
    (Dp<4, false, 2>, 1, Single<4, 0, 0>, 1),
    (Dp<4, false, 4>, 1, Single<5, 0, 0>, 1),
    (Dp<4, false, 1>, 1, Dp<1, false, 5>, 1),
    (Dp<4, false, 1>, 1, branch 14, false, true),
    (Dp<0, false, 1>, 1, branch 2, false, true),
    (Single<1, 0, 0>, 1, Single<5, 0, 0>, 1),
    (Single<1, 0, 0>, 1, Dp<13, false, 0>, 1),
    (Single<0, 0, 0>, 1, Dp<4, false, 7>, 1),
    (Single<5, 0, 2>, 1, Single<0, 0, 0>, 1),
    (Single<4, 0, 2>, 1, Dp<2, false, 3>, 1),
    (Dp<2, false, 3>, 1, Single<5, 0, 2>, 1),
    (Single<0, 0, 0>, 1, DpT16<1, 1>, 1),
    (Dp<10, true, 0>, 1, Dp<13, false, 1>, 1),
    (Dp<10, true, 1>, 1, branch 0, false, true),
    (Single<0, 0, 0>, 2, Dp<10, true, 0>, 1),
    (Dp<4, false, 2>, 2, Single<0, 0, 0>, 2),
    (Dp<4, false, 2>, 1, Dp<13, false, 0>, 1),
    (Single<0, 0, 0>, 2, DpT16<2, 0>, 1),
    (DpT16<4, 0>, 1, DpT16<13, 0>, 1),
    (Dp<3, false, 0>, 1, Dp<4, false, 4>, 1),
    (DpT16<4, 0>, 1, branch 0, false, true),
    (Dp<10, true, 0>, 1, Single<1, 0, 0>, 1),
    (Dp<2, false, 0>, 2, Dp<2, false, 0>, 2),
    (Single<0, 0, 2>, 1, Single<1, 0, 0>, 1),
    (Single<1, 0, 0>, 1, Single<0, 0, 2>, 1),
    (DpT16<13, 2>, 1, branch 4, false, true),
    (Dp<13, false, 1>, 1, it),
    (Dp<4, false, 1>, 1, Dp<1, false, 1>, 1),
    (Dp<1, false, 1>, 1, Dp<4, false, 1>, 1),
    (Dp<13, false, 1>, 1, branch 14, false, false),
    (DpT16<13, 2>, 1, branch 0, false, true),
    (Dp<13, false, 1>, 1, DpT16<4, 0>, 1),
    (Dp<13, false, 0>, 1, Single<0, 0, 0>, 1),
    (Dp<2, false, 1>, 1, Dp<2, false, 0>, 1),
    (Dp<10, true, 1>, 1, Dp<2, false, 1>, 1),
    (Dp<10, true, 0>, 1, branch 8, false, false),
    (ExtendAs<false, 0, false>, 1, DpT16<13, 2>, 1),
    (Dp<10, true, 1>, 1, branch 3, false, false),
    (Dp<10, true, 0>, 1, branch 10, false, true),
    (Dp<10, true, 0>, 2, it),
    (Single<0, 0, 0>, 1, Single<1, 0, 0>, 2),
    (Dp<2, false, 0>, 2, Single<0, 0, 0>, 1),
    (Single<0, 0, 0>, 1, Dp<2, false, 0>, 2),
    (Dp<4, false, 0>, 2, Single<0, 0, 0>, 1),
    (Single<0, 0, 0>, 2, DpT16<4, 0>, 1),
    (DpT16<13, 0>, 1, DpT16<4, 1>, 1),
    (Single<0, 0, 0>, 1, it),
    (Single<2, 0, 0>, 2, Single<1, 0, 0>, 1),
    (Single<1, 0, 0>, 1, Dp<4, false, 2>, 2),
    (DpT16<4, 1>, 1, branch 4, false, false),
    (Single<2, 0, 0>, 1, Dp<2, false, 0>, 2),
    (Single<2, 0, 0>, 2, DpT16<13, 2>, 1),
    (Dp<4, false, 1>, 1, Single<2, 0, 0>, 2),
    (Dp<4, false, 1>, 2, Dp<4, false, 0>, 2),
    (Dp<3, false, 0>, 2, Dp<13, false, 1>, 1),
    (Dp<12, false, 1>, 2, Single<1, 1, 0>, 2),
    (Dp<4, false, 1>, 1, Dp<0, false, 1>, 1),
    (Ldm<1>, 1, Dp<13, false, 2>, 1),
    (Dp<0, false, 1>, 1, Dp<1, false, 1>, 1),
    (Dp<0, false, 1>, 1, Dp<12, false, 1>, 1),
    (DpT16<2, 1>, 1, Single<1, 0, 0>, 1),
    (Dp<1, false, 1>, 1, Dp<0, false, 1>, 1),
    (Dp<4, false, 1>, 1, Dp<12, false, 1>, 1),
    (Dp<12, false, 1>, 1, Dp<0, false, 1>, 1),
    (Dp<4, false, 7>, 1, Single<1, 0, 0>, 1),
    (Single<1, 0, 0>, 1, DpT16<13, 2>, 1),
    (Single<2, 2, 0>, 1, Single<2, 2, 0>, 1),
    (Dp<2, false, 1>, 1, Dp<10, true, 0>, 1),
    (Dp<10, true, 0>, 2, branch 13, false, true),
    (Dp<10, true, 1>, 1, Dp<13, false, 1>, 1),
    (Dp<4, false, 0>, 1, Dp<4, false, 0>, 1),
    (Dp<4, false, 0>, 1, Dp<13, false, 3>, 1),
    (Dp<10, true, 1>, 1, Single<1, 0, 0>, 1),
    (Dp<13, false, 2>, 1, Dp<4, false, 0>, 1),
    (Single<5, 0, 0>, 1, branch 2, false, true),
    (Dp<2, false, 3>, 1, Single<1, 0, 0>, 1),
    (DpT16<2, 0>, 1, Single<0, 1, 0>, 2),
    (Dp<13, false, 1>, 1, Single<0, 0, 2>, 1),
    (Dp<4, false, 2>, 1, Dp<4, false, 0>, 1),
    (Single<0, 0, 0>, 1, Dp<4, false, 0>, 2),
    (Single<1, 0, 0>, 1, Ldm<5>, 1),
    (Dp<13, false, 1>, 1, Ldm<5>, 2),
    (Dp<10, true, 0>, 1, branch 12, false, true),
    (Dp<2, false, 0>, 1, Dp<4, false, 0>, 1),
    (Single<0, 1, 0>, 2, Dp<10, true, 1>, 1),
    (DpT16<2, 0>, 1, branch 4, false, true),
    (Stm<false, 6>, 1, Dp<4, false, 1>, 1),
    (DpT16<13, 2>, 1, Stm<false, 6>, 1),
    (Single<1, 0, 0>, 1, Dp<4, false, 2>, 1),
    (Dp<3, false, 0>, 1, Dp<10, true, 0>, 1),
    (Dp<10, true, 0>, 1, Dp<13, false, 0>, 1),
    (Dp<10, true, 1>, 1, Single<0, 0, 0>, 1),
    (Dp<12, false, 1>, 1, Single<0, 0, 0>, 1),
    (Dp<1, false, 3>, 1, Dp<4, false, 1>, 1),
    (Dp<13, false, 0>, 1, branch 9, false, true),
    (Single<0, 0, 0>, 1, Dp<2, false, 0>, 1),
    (Single<0, 0, 0>, 1, Dp<4, false, 2>, 1),
    (Dp<13, false, 0>, 1, Single<1, 0, 0>, 1),
    (Single<1, 1, 0>, 1, Single<0, 0, 0>, 1),
    (Single<0, 2, 0>, 2, Dp<1, false, 1>, 2),
    (Dp<0, false, 1>, 2, DpT16<12, 1>, 1),
    (Dp<2, false, 0>, 2, Dp<4, false, 0>, 2),
    (DpT16<1, 1>, 1, Dp<1, false, 1>, 2),
    (Dp<1, false, 1>, 2, Dp<2, false, 0>, 2),
    (DpT16<12, 1>, 1, DpT16<4, 0>, 1),
    (Dp<1, false, 1>, 2, Dp<0, false, 1>, 2),
    (Dp<4, false, 0>, 2, DpT16<1, 1>, 1),
    (Dp<4, false, 0>, 1, Single<1, 1, 0>, 1),
    (Dp<10, true, 0>, 1, Dp<2, false, 3>, 1),
    (Dp<4, false, 0>, 1, branch 14, true, true),
    (Single<1, 0, 0>, 1, branch 14, false, false),
    (Dp<4, false, 0>, 1, Dp<10, true, 1>, 1),
    (DpT16<13, 2>, 1, branch 5, false, true),
    (Single<0, 0, 0>, 1, DpT16<2, 1>, 1),
    (Dp<13, false, 3>, 1, Dp<4, false, 0>, 1),
    (Single<2, 0, 0>, 2, Dp<10, true, 1>, 1),
    (Single<1, 0, 0>, 1, branch 1, false, false),
    (Dp<4, false, 0>, 2, Dp<13, false, 1>, 1),
    (Dp<4, false, 0>, 1, Single<4, 0, 0>, 1),
    (Single<1, 0, 0>, 1, DpT16<13, 0>, 1),
    (Dp<4, false, 1>, 2, Dp<13, false, 1>, 1),
    (Nop, 2, branch 1, false, true),
    (Dp<10, true, 0>, 1, branch 9, false, false),
    (Dp<10, true, 1>, 1, branch 1, false, false),
    (Dp<12, false, 0>, 2, Single<1, 0, 0>, 1),
    (DpT16<4, 0>, 1, DpT16<4, 0>, 1),
    (Dp<2, false, 1>, 1, Dp<10, true, 1>, 1),
    (Dp<4, false, 0>, 2, Single<1, 0, 0>, 1),
    (Single<0, 0, 0>, 1, Dp<10, true, 0>, 2),
    (Dp<0, true, 0>, 2, Nop, 2),
    (Nop, 2, Single<9, 1, 0>, 2),
    (Single<8, 2, 0>, 2, Dp<4, false, 3>, 2),
    (Single<9, 1, 0>, 2, Dp<14, false, 0>, 2),
    (DpT16<13, 0>, 1, Dp<4, false, 1>, 1),
    (Single<1, 0, 0>, 1, Ldm<5>, 2),
    (Single<1, 0, 0>, 1, Single<1, 0, 0>, 2),
    (Single<0, 0, 0>, 1, Single<2, 0, 0>, 2),
    (DpT16<13, 2>, 1, branch 4, false, false),
    (DpT16<13, 0>, 1, DpT16<4, 0>, 1),
    (Single<2, 0, 0>, 2, Single<0, 0, 0>, 1),
    (Single<1, 0, 0>, 1, DpT16<4, 0>, 1),
    (Single<0, 0, 0>, 1, Single<0, 0, 2>, 2),
];

/// A pair of plain handlers (see [`runs_plain`]), by address.
type Key = (usize, usize);

/// The plain handler of `ops` for an instruction `slots` slots long.
fn plain(ops: &Ops, slots: u8) -> Handler {
    if slots == 2 { ops.fast_wide } else { ops.fast }
}

/// [`PAIRS`] by the handlers of their two instructions. (By handler, not by family: two
/// families whose handlers the compiler made one run alike, so either's pair is right.)
fn pairs_by_handlers() -> &'static HashMap<Key, Handler> {
    static TABLE: OnceLock<HashMap<Key, Handler>> = OnceLock::new();
    TABLE.get_or_init(|| {
        PAIRS
            .iter()
            .map(|p| ((p.first as usize, p.second as usize), p.handler))
            .collect()
    })
}

/// True if the instruction in `insn` runs as the plain unconditional handler of its family
/// `ops` (not a condition check, not the `full` variant, not already fused with a branch).
fn runs_plain(insn: &Insn, ops: &Ops) -> bool {
    insn.cond() == COND_ALWAYS && std::ptr::fn_addr_eq(insn.exec, plain(ops, insn.slots() as u8))
}

/// Give each of the first `slots` slots of a decoded page (`insns`, with `families` their
/// instructions' families) whose instruction and the next one are a pair of [`PAIRS`] the
/// fused handler of that pair (see the module documentation). Returns how many it fused.
pub(crate) fn fuse_page(insns: &mut [Insn], families: &[&'static Ops], slots: usize) -> usize {
    // The pair census counts every pair, so none may be fused (see `crate::census`).
    if cfg!(feature = "pair-census") {
        return 0;
    }
    let table = pairs_by_handlers();
    let mut fused = 0;
    for i in 0..slots {
        let j = i + insns[i].slots();
        // The second instruction is the one of a pair if its handler is (a condition check
        // or a `full` variant is not; a B or BL checks its condition itself).
        if j >= slots || !runs_plain(&insns[i], families[i]) {
            continue;
        }
        if let Some(&handler) = table.get(&(insns[i].exec as usize, insns[j].exec as usize)) {
            insns[i].exec = handler;
            fused += 1;
        }
    }
    fused
}

// The census build fuses nothing (see `fuse_page`), so these tests of fused pairs do not
// apply to it.
#[cfg(all(test, not(feature = "pair-census")))]
mod tests {
    use crate::testutil::{RAM, machine};
    use crate::{CodeCache, CpuModel, Features};

    /// Load `bytes` at RAM and run `budget` instructions from RAM (in Thumb state if
    /// `thumb`), then, if `rest` is not zero, `rest` more with the same code cache or
    /// (`same_cache` false) a new one. Returns the CPU and the pairs the first cache fused.
    fn run_split(bytes: &[u8], thumb: bool, budget: u64, rest: u64, same_cache: bool) -> (crate::Cpu, u64) {
        let (mut cpu, mut bus) = machine(CpuModel::CortexA9);
        bus.memory.write_bytes(u64::from(RAM), bytes).unwrap();
        cpu.regs[3] = RAM + 0x800;
        cpu.set_pc_interworking(RAM | u32::from(thumb));
        let features = || Features::for_model(CpuModel::CortexA9, true);
        let mut code = CodeCache::new(bus.memory.total_pages(), features());
        cpu.run(&mut bus, &mut code, budget, 0);
        let fused = code.pairs_fused;
        if rest != 0 {
            if !same_cache {
                code = CodeCache::new(bus.memory.total_pages(), features());
            }
            cpu.run(&mut bus, &mut code, rest, 0);
        }
        (cpu, fused)
    }

    /// Stop at every budget inside a loop of fused pairs and go on: each stop is at the
    /// right instruction, and the end state is the one of an unbroken run.
    fn stops_exactly(bytes: &[u8], thumb: bool, pcs: &[u32], expect: &[u32], min_fused: u64) {
        let total = pcs.len() as u64 - 1;
        let (cpu, fused) = run_split(bytes, thumb, total, 0, true);
        assert!(fused >= min_fused, "{fused} pairs fused, expected at least {min_fused}");
        assert_eq!(cpu.instructions(), total);
        assert_eq!(&cpu.regs[..expect.len()], expect, "registers after the whole program");
        for n in 1..total {
            for same_cache in [false, true] {
                let (cpu, _) = run_split(bytes, thumb, n, 0, same_cache);
                assert_eq!(cpu.instructions(), n, "budget {n}");
                assert_eq!(cpu.pc(), RAM + pcs[n as usize], "PC after {n} instructions");
                let (cpu, _) = run_split(bytes, thumb, n, total - n, same_cache);
                assert_eq!(cpu.instructions(), total, "budget {n}, then the rest");
                assert_eq!(&cpu.regs[..expect.len()], expect, "budget {n}, then the rest");
            }
        }
    }

    /// A loop of ARM instructions that are all fused pairs (moves, additions, loads and
    /// stores, an ADDS/ADC pair), run whole and cut at every budget.
    #[test]
    fn fused_arm_pairs_stop_exactly() {
        let prog: [u32; 13] = [
            0xe3a00000, // mov r0, #0
            0xe2800001, // loop: add r0, r0, #1
            0xe1a01000, // mov r1, r0
            0xe1a02001, // mov r2, r1
            0xe2833004, // add r3, r3, #4
            0xe5832000, // str r2, [r3]
            0xe5934000, // ldr r4, [r3]
            0xe5135004, // ldr r5, [r3, #-4]
            0xe0946005, // adds r6, r4, r5
            0xe2a77000, // adc r7, r7, #0
            0xe3500004, // cmp r0, #4
            0x1afffff4, // bne loop
            0xe3a09009, // mov r9, #9
        ];
        let bytes: Vec<u8> = prog.iter().flat_map(|w| w.to_le_bytes()).collect();
        let mut pcs = vec![0];
        for _ in 0..4 {
            pcs.extend((1..=11).map(|i| 4 * i));
        }
        pcs.extend([48, 52]);
        let data = RAM + 0x800 + 16;
        // r4 = 4, r5 = 3 (stored the round before), r6 = 7, no carry out in any round.
        stops_exactly(&bytes, false, &pcs, &[4, 4, 4, data, 4, 3, 7, 0], 6);
    }

    /// The same in Thumb state, with 16-bit and 32-bit instructions, a comparison fused with
    /// the IT after it and with a conditional branch, and a move fused with a BL into the
    /// next page.
    #[test]
    fn fused_thumb_pairs_stop_exactly() {
        let mut prog: Vec<u16> = vec![
            0x2000, // movs r0, #0
            0x3001, // loop: adds r0, #1
            0x4601, // mov r1, r0
            0x460a, // mov r2, r1
            0x3304, // adds r3, #4
            0x601a, // str r2, [r3]
            0x681c, // ldr r4, [r3]
            0x3401, // adds r4, #1
            0xf853, 0x5c04, // ldr.w r5, [r3, #-4]
            0x681e, // ldr r6, [r3]
            0x1967, // adds r7, r4, r5
            0x2802, // cmp r0, #2
            0xbf08, // it eq
            0x4680, // moveq r8, r0
            0x4601, // mov r1, r0
            0xf000, 0xffee, // bl func (RAM + 0x1000)
            0x2804, // cmp r0, #4
            0xd1ec, // bne loop
            0x2109, // movs r1, #9
            0xe7fe, // b .
        ];
        prog.resize(0x800, 0xbf00); // nop
        prog.extend([
            0x3601, // func: adds r6, #1
            0x4770, // bx lr
            0xe7fe, // b .  (ends the run: a budget can cover it)
        ]);
        let bytes: Vec<u8> = prog.iter().flat_map(|h| h.to_le_bytes()).collect();
        let mut pcs = vec![0];
        for _ in 0..4 {
            pcs.extend([
                2, 4, 6, 8, 0xa, 0xc, 0xe, 0x10, 0x14, 0x16, 0x18, 0x1a, 0x1c, 0x1e, 0x20,
            ]);
            pcs.extend([0x1000, 0x1002, 0x24, 0x26]);
        }
        pcs.extend([0x28, 0x2a]);
        let data = RAM + 0x800 + 16;
        // Last round: r4 = 4 + 1, r5 = 3, r6 = 4 + 1 (in func), r7 = 8; r8 = 2 (set in
        // round 2); r1 = 9 at the end.
        stops_exactly(&bytes, true, &pcs, &[4, 9, 4, data, 5, 3, 5, 8, 2], 6);
    }
}
