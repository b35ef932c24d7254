//! # armvex-neon: the ARMv7 Advanced SIMD (NEON) unit
//!
//! Advanced SIMD, "NEON", is the ARMv7-A vector extension: one instruction operates on
//! every *lane* of a 64- or 128-bit register at once — eight bytes, four halfwords, two
//! words or one doubleword of a D register, twice that of a Q register. The Cortex-A9 and
//! Cortex-A15 both have it, and QEMU's `-cpu cortex-a9`/`cortex-a15` model it; Debian's armhf
//! userland uses it for string functions, compression, cryptography and media.
//!
//! This crate decodes and executes every ARMv7 Advanced SIMD instruction (ARM ARM DDI
//! 0406C, chapter A7 for the encodings, A8.8 for each instruction), apart from the CPU:
//! the CPU hands it a word, gets back a compact [`NeonOp`] or "UNDEFINED", and later asks
//! it to [`execute`] the op on the register file. See [Integration](#integration).
//!
//! ## The register file
//!
//! The extension register file (ARM ARM A2.6.1 "Advanced SIMD and Floating-point
//! Extension registers") is 256 bytes viewed three ways:
//!
//! ```text
//!   Q0          Q1          ...  Q15
//!   D1    D0    D3    D2    ...  D31   D30
//!   S1 S0 ...   (S0-S31 alias D0-D15 only)
//! ```
//!
//! `Q<n>` is `D<2n+1>:D<2n>`, `D<n>` is `S<2n+1>:S<2n>`. VFP (scalar floating point) and
//! NEON share it. Here it is `[u64; 32]`, the 32 D registers; a Q operand is encoded as an
//! even D number, and an odd one is UNDEFINED.
//!
//! ## Lanes
//!
//! Element `e` of size `esize` sits at bits `[e*esize + esize-1 : e*esize]` of a D register
//! (the `Elem[]` function of the ARM ARM); Q registers continue into the higher D register.
//! "Long" instructions (`VADDL`, `VMULL`, ...) widen D-register elements into a Q register
//! of double-sized elements, "wide" ones (`VADDW`) take one wide operand, "narrow" ones
//! (`VMOVN`, `VSHRN`, `VADDHN`) produce a D register of half-sized elements from a Q.
//!
//! ## Saturation and QC
//!
//! Saturating instructions (`VQADD`, `VQSHL`, `VQDMULH`, `VQMOVN`, ...) clamp a result that
//! does not fit its lane to the largest or smallest value of the lane's type (A2.2.1
//! "Saturation"), and set FPSCR.QC (bit 27), the cumulative saturation flag. Nothing but a
//! write of FPSCR clears it.
//!
//! ## Floating point: the Standard FPSCR value
//!
//! NEON floating point is single precision only and ignores most of FPSCR: it always uses
//! the *Standard FPSCR value* (A2.7 "Floating-point data types and arithmetic", pseudocode
//! `StandardFPSCRValue()`): round to nearest, flush-to-zero on (denormal inputs count as
//! zero and raise IDC, tiny results become zero and raise UFC), default NaN on (every NaN
//! result is `0x7fc00000`), and of the controls only AHP kept (for the half-precision
//! conversions). The cumulative exception flags IOC, DZC, OFC, UFC, IXC and IDC are still
//! set in the real FPSCR. The arithmetic itself is `armvex-fpu`'s, with that context.
//! VRECPE, VRSQRTE, VRECPS and VRSQRTS follow the ARM ARM pseudocode bit for bit
//! (`estimate`).
//!
//! ## Modules
//!
//! * `decode`: the encoding space and every UNDEFINED rule ([`decode_a32`],
//!   [`decode_t32`]).
//! * `exec`: the data-processing groups (A7.4).
//! * `mem`: loads, stores and core-register transfers (A7.7, A7.8).
//! * `estimate`: the reciprocal estimate tables.
//! * `lanes`: element access and saturation.
//!
//! ## How it is checked
//!
//! Measured when this crate was written: 800,000 random instructions (400,000 A32 and
//! 400,000 T32, on both cores; about 40% of them UNDEFINED encodings, 0.7% alignment
//! faults) identical to QEMU 7.2, registers, FPSCR, exceptions and memory.
//!
//! `tools/difftest/neon.py` generates random Advanced SIMD instructions (A32 and T32, any
//! encoding in the groups above, UNDEFINED ones included), runs them bare-metal under
//! `qemu-system-arm -M vexpress-a15 -cpu cortex-a15`, and records the registers D0-D31,
//! r0-r12, FPSCR, the count of UNDEFINED instructions and of data aborts after every
//! instruction, plus the memory buffer; the `neon-replay` binary of this crate runs the
//! same words from the same state and compares bit for bit. `tests/qemu_cases.rs` replays
//! a stored set of such QEMU runs in `cargo test`; `tools/test` runs fresh seeds.
//!
//! ## Integration
//!
//! What the CPU (crate `armvex-cpu`) must do to use this crate:
//!
//! 1. **Decode hook points.** A32: every word with bits 31:25 = `1111001` (0xF2xxxxxx,
//!    0xF3xxxxxx) and every 0xF4xxxxxx word with bit 20 = 0 (the unconditional space),
//!    plus the conditional words `cond 1110 xxxx xxxx xxxx 1011 xxx1 xxxx` (A7.8; the
//!    32-bit VMOV scalar forms of VFP are also in there; either decoder may keep them),
//!    go to [`decode_a32`]. T32: 32-bit words whose first halfword starts 0xEF or 0xFF
//!    (data processing), 0xF9 with bit 20 = 0 (loads/stores), and 0xEE with bits 11:8 =
//!    `1011` and bit 4 set (transfers), go to [`decode_t32`]. [`Decoded::NotNeon`] sends
//!    the word back to the CPU's own decoder, [`Decoded::Undefined`] is an Undefined
//!    Instruction exception, [`Decoded::Op`] is stored in the predecoded instruction (8
//!    bytes, `Copy`). The transfers are conditional (A32 condition field, T32 IT block);
//!    everything else is unconditional in A32 and obeys IT in T32.
//! 2. **Enables.** Before executing, the CPU checks, as for VFP, CPACR.cp10/cp11 access,
//!    NSACR.cp10 in Non-secure state, and FPEXC.EN (UNDEFINED otherwise). The architecture
//!    adds two Advanced SIMD-only bits: CPACR.ASEDIS (bit 31) and, in Non-secure state,
//!    NSACR.NSASEDIS (bit 15) make every Advanced SIMD instruction that is not also a VFP
//!    instruction UNDEFINED: all of A7.4 and A7.7, VDUP (core) and the 8- and 16-bit VMOV
//!    scalar forms (the 32-bit VMOV scalar forms are VFP). Both bits are read/write on the
//!    Cortex-A9 and A15. QEMU 7.2 keeps the bits but does not enforce them (measured: with
//!    ASEDIS set, its Advanced SIMD instructions still execute); Linux never sets them.
//!    Whether armvex enforces them (real cores) or not (QEMU) is the CPU's decision; the
//!    decoder does not look at them.
//! 3. **Execute** with [`execute`], giving it the D registers, FPSCR and an environment
//!    implementing [`NeonEnv`] (core registers r0-r14 of the current mode for Rn/Rm/Rt,
//!    and memory through the MMU with the current privilege: reads and writes of 1, 2, 4
//!    or 8 bytes, little-endian values; a big-endian CPSR.E swaps the bytes within each
//!    element). [`NeonFault::Alignment`] is a Data Abort with the Alignment fault status
//!    and the address as DFAR; [`NeonFault::Memory`] carries the CPU's own fault. Unaligned
//!    element accesses without `:align` follow SCTLR.A as for LDR: the environment decides.
//! 4. **ID registers** (as QEMU 7.2 reports them): Cortex-A9 MVFR0 = `0x11110222`,
//!    MVFR1 = `0x01111111`; Cortex-A15 MVFR0 = `0x10110222`, MVFR1 = `0x11111111`.
//!    `armvex-cpu` reports these (before it ran NEON, MVFR1 had the Advanced SIMD fields
//!    cleared: `0x01000011` and `0x11000011`).
//!    MVFR1.SIMDLS/SIMDInt/SIMDSP (bits 15:8) = 1 tell an OS that NEON is there,
//!    MVFR1.SIMDHP (23:20) the half-precision conversions, MVFR1.SIMDFMAC (31:28) VFMA/VFMS:
//!    the A9 has no fused multiply-add, so pass [`Features::CORTEX_A9`] to the decoder there
//!    and [`Features::CORTEX_A15`] on the A15.
//! 5. **Linux**: the kernel reads MVFR1 (`vfp_init`) and sets `HWCAP_NEON` (and
//!    `HWCAP_VFPv4` on the A15), which makes `/proc/cpuinfo` list `neon` and glibc pick its
//!    NEON string functions. Nothing else is needed from the emulator.
//! 6. **Determinism and speed**: execution is a pure function of the op, registers, FPSCR
//!    and memory; there is no allocation, lock or dynamic call per instruction (the
//!    environment is a generic parameter).
//!
//! `armvex-cpu` does all this (`exec/neon.rs`, `decode/neon.rs`), and the same random
//! programs run through the whole CPU: `tools/difftest/difftest.py --isa neon` (A32) and
//! `--isa neon_thumb` (T32) compare armvex with QEMU on `-M vexpress-a9`.

mod decode;
mod estimate;
mod exec;
mod lanes;
mod mem;
pub mod replay;

pub use decode::{Decoded, Features, Group, NeonOp, a32_to_t32, decode_a32, decode_t32, t32_to_a32};

/// FPSCR.QC, the cumulative saturation flag.
pub const FPSCR_QC: u32 = 1 << 27;
/// FPSCR.AHP, alternative half-precision format.
pub const FPSCR_AHP: u32 = 1 << 26;

/// What an instruction needs from the CPU besides the extension registers: the core
/// registers of the current mode and memory.
pub trait NeonEnv {
    /// A fault from memory (translation, permission, external abort...), passed through.
    type Fault;
    /// Core register `r` (0-14; 15 only appears in UNPREDICTABLE encodings).
    fn core_reg(&self, r: usize) -> u32;
    /// Write core register `r` (VMOV to core, base register writeback).
    fn set_core_reg(&mut self, r: usize, value: u32);
    /// Read `bytes` (1, 2, 4 or 8) bytes at `addr`, as a little-endian value.
    fn read(&mut self, addr: u32, bytes: u32) -> Result<u64, Self::Fault>;
    /// Write the low `bytes` bytes of `value` at `addr`, little-endian.
    fn write(&mut self, addr: u32, bytes: u32, value: u64) -> Result<(), Self::Fault>;

    /// A fast path for a structure load: read the `buf.len()` bytes at `addr` (elements of
    /// `ebytes` bytes each) in one go and return true, or do nothing and return false, and
    /// the elements are then read one at a time with [`NeonEnv::read`]. Return true only if
    /// reading the elements one by one could not have faulted and would have read the same
    /// bytes (plain little-endian memory, no alignment check failing). The default has no
    /// fast path.
    fn read_contiguous(&mut self, addr: u32, buf: &mut [u8], ebytes: u32) -> bool {
        let _ = (addr, buf, ebytes);
        false
    }

    /// The same for a structure store: write `buf` at `addr` in one go, or nothing.
    fn write_contiguous(&mut self, addr: u32, buf: &[u8], ebytes: u32) -> bool {
        let _ = (addr, buf, ebytes);
        false
    }
}

/// Why an instruction stopped.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum NeonFault<F> {
    /// The base address is not a multiple of the `:align` qualifier: an Alignment fault.
    Alignment { addr: u32 },
    /// A memory access faulted.
    Memory(F),
}

/// Execute one decoded instruction on the D registers and FPSCR. Only memory forms can
/// fail; the data-processing ones always complete.
pub fn execute<E: NeonEnv>(
    op: NeonOp,
    d: &mut [u64; 32],
    fpscr: &mut u32,
    env: &mut E,
) -> Result<(), NeonFault<E::Fault>> {
    let w = op.word;
    match op.group {
        Group::LsMultiple => return mem::multiple(env, d, w),
        Group::LsSingle => return mem::single(env, d, w),
        Group::LsAllLanes => return mem::all_lanes(env, d, w),
        Group::CoreToScalar => mem::core_to_scalar(env, d, w),
        Group::ScalarToCore => mem::scalar_to_core(env, d, w),
        Group::DupCore => mem::dup_core(env, d, w),
        _ => execute_dp(op, d, fpscr),
    }
    Ok(())
}

/// Execute a data-processing instruction (any group but loads/stores and transfers, which
/// need [`execute`]; given one of those, nothing happens).
pub fn execute_dp(op: NeonOp, d: &mut [u64; 32], fpscr: &mut u32) {
    let mut u = exec::Unit {
        d,
        qc: false,
        fp: exec::standard_context(),
        ahp: *fpscr & FPSCR_AHP != 0,
    };
    let w = op.word;
    match op.group {
        Group::ThreeSame => exec::three_same(&mut u, w),
        Group::ShiftImm => exec::shift_imm(&mut u, w),
        Group::ModImm => exec::mod_imm(&mut u, w),
        Group::ThreeDiff => exec::three_diff(&mut u, w),
        Group::Scalar => exec::scalar(&mut u, w),
        Group::Ext => exec::ext(&mut u, w),
        Group::Tbl => exec::tbl(&mut u, w),
        Group::DupScalar => exec::dup_scalar(&mut u, w),
        Group::TwoMisc => exec::two_misc(&mut u, w),
        _ => {}
    }
    *fpscr |= u.fp.flags | if u.qc { FPSCR_QC } else { 0 };
}
