//! The VFP's architectural state: the floating-point register file and control registers.
//!
//! The instructions that use it are in [`crate::exec::vfp`] (and [`crate::exec::neon`], which
//! shares the register file); the state lives here, apart from them, so that the core
//! ([`crate::cpu`]) and snapshots ([`crate::saved`]) need nothing of the instruction handlers.

/// The floating-point register file and control registers.
#[derive(Clone, Debug, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct VfpState {
    /// D0–D31.
    pub d: [u64; 32],
    pub fpscr: u32,
    pub fpexc: u32,
}
