//! Which core a CPU models: the one choice, made when a machine is built, that ID registers,
//! optional instructions and the generic timer depend on. Its own module so that the modules
//! the core is built of ([`crate::cp15`], [`crate::decode`], ...) need nothing of [`crate::cpu`].

/// Which core this CPU models. The model decides ID register values and optional instructions.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub enum CpuModel {
    /// ARM Cortex-A9 r0p0 as QEMU models it (vexpress-a9): no integer divide, no generic timer.
    CortexA9,
    /// ARM Cortex-A15 r4p0 as QEMU models it (vexpress-a15): integer divide, generic timer.
    CortexA15,
}

impl CpuModel {
    /// SDIV/UDIV exist in ARM state (ID_ISAR0.Divide_instrs = 2).
    pub fn has_divide(self) -> bool {
        self == CpuModel::CortexA15
    }
}
