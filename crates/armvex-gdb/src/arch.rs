//! The ARMv7-A register set as gdb sees it: a target description (gdb's
//! `org.gnu.gdb.arm.core` and `org.gnu.gdb.arm.vfp` features) and the `g`/`p` packet layout.
//!
//! gdbstub's own ARM description (`gdbstub_arch::arm::Armv4t`) has only the ARMv4T core
//! registers and the old FPA slots; armvex's CPUs have VFPv3 with 32 double registers, so this
//! module describes them itself. The numbering is armvex's (`armvex_machine::registers`): R0–R15,
//! CPSR, D0–D31, FPSCR; gdb finds the registers by name and builds S0–S31 from the D registers.

use armvex_machine::registers;
use gdbstub::arch::{Arch, BreakpointKind, RegId, Registers};
use std::num::NonZeroUsize;

/// armvex's CPUs, for gdbstub.
pub enum ArmV7 {}

impl Arch for ArmV7 {
    type Usize = u32;
    type Registers = ArmV7Registers;
    type BreakpointKind = ArmBreakpointKind;
    type RegId = ArmV7RegId;

    fn target_description_xml() -> Option<&'static str> {
        Some(TARGET_XML)
    }
}

/// The whole register file, in `g` packet order.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ArmV7Registers {
    /// R0–R15 (R15: the next instruction).
    pub r: [u32; 16],
    pub cpsr: u32,
    pub d: [u64; 32],
    pub fpscr: u32,
}

impl ArmV7Registers {
    /// Register `n` (armvex numbering) as a value.
    pub fn get(&self, n: usize) -> u64 {
        match n {
            0..=15 => u64::from(self.r[n]),
            registers::CPSR => u64::from(self.cpsr),
            registers::FPSCR => u64::from(self.fpscr),
            _ => self.d[n - registers::D0],
        }
    }

    /// Set register `n` (armvex numbering).
    pub fn set(&mut self, n: usize, v: u64) {
        match n {
            0..=15 => self.r[n] = v as u32,
            registers::CPSR => self.cpsr = v as u32,
            registers::FPSCR => self.fpscr = v as u32,
            _ => self.d[n - registers::D0] = v,
        }
    }
}

impl Registers for ArmV7Registers {
    type ProgramCounter = u32;

    fn pc(&self) -> u32 {
        self.r[15]
    }

    fn gdb_serialize(&self, mut write_byte: impl FnMut(Option<u8>)) {
        for n in 0..registers::COUNT {
            let v = self.get(n);
            for b in &v.to_le_bytes()[..registers::size(n)] {
                write_byte(Some(*b));
            }
        }
    }

    /// A `G` packet of another length than the description's (gdb never sends one) sets the
    /// registers it covers whole and leaves the others: refusing it would make gdbstub end the
    /// whole session.
    fn gdb_deserialize(&mut self, bytes: &[u8]) -> Result<(), ()> {
        let mut at = 0;
        for n in 0..registers::COUNT {
            let size = registers::size(n);
            let Some(value) = bytes.get(at..at + size) else { break };
            let mut v = [0u8; 8];
            v[..size].copy_from_slice(value);
            self.set(n, u64::from_le_bytes(v));
            at += size;
        }
        Ok(())
    }
}

/// A register by armvex number, for the `p`/`P` packets.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ArmV7RegId(pub usize);

impl RegId for ArmV7RegId {
    fn from_raw_id(id: usize) -> Option<(Self, Option<NonZeroUsize>)> {
        let size = NonZeroUsize::new(registers::size(id))?;
        Some((ArmV7RegId(id), Some(size)))
    }

    fn to_raw_id(&self) -> Option<usize> {
        Some(self.0)
    }
}

/// The `kind` of a `Z0`/`Z1` packet on ARM: the size of the instruction the breakpoint is on.
/// armvex compares the PC, so the kind only tells the instruction set; a kind gdb never sends
/// is taken too (refusing it would make gdbstub end the whole session).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ArmBreakpointKind {
    Thumb16,
    Thumb32,
    Arm32,
    Other(usize),
}

impl BreakpointKind for ArmBreakpointKind {
    fn from_usize(kind: usize) -> Option<Self> {
        Some(match kind {
            2 => ArmBreakpointKind::Thumb16,
            3 => ArmBreakpointKind::Thumb32,
            4 => ArmBreakpointKind::Arm32,
            other => ArmBreakpointKind::Other(other),
        })
    }
}

/// The target description gdb reads with `qXfer:features:read`.
const TARGET_XML: &str = r#"<?xml version="1.0"?>
<!DOCTYPE target SYSTEM "gdb-target.dtd">
<target version="1.0">
  <architecture>arm</architecture>
  <feature name="org.gnu.gdb.arm.core">
    <reg name="r0" bitsize="32" type="uint32" regnum="0"/>
    <reg name="r1" bitsize="32" type="uint32"/>
    <reg name="r2" bitsize="32" type="uint32"/>
    <reg name="r3" bitsize="32" type="uint32"/>
    <reg name="r4" bitsize="32" type="uint32"/>
    <reg name="r5" bitsize="32" type="uint32"/>
    <reg name="r6" bitsize="32" type="uint32"/>
    <reg name="r7" bitsize="32" type="uint32"/>
    <reg name="r8" bitsize="32" type="uint32"/>
    <reg name="r9" bitsize="32" type="uint32"/>
    <reg name="r10" bitsize="32" type="uint32"/>
    <reg name="r11" bitsize="32" type="uint32"/>
    <reg name="r12" bitsize="32" type="uint32"/>
    <reg name="sp" bitsize="32" type="data_ptr"/>
    <reg name="lr" bitsize="32"/>
    <reg name="pc" bitsize="32" type="code_ptr"/>
    <reg name="cpsr" bitsize="32" regnum="16"/>
  </feature>
  <feature name="org.gnu.gdb.arm.vfp">
    <reg name="d0" bitsize="64" type="ieee_double" regnum="17"/>
    <reg name="d1" bitsize="64" type="ieee_double"/>
    <reg name="d2" bitsize="64" type="ieee_double"/>
    <reg name="d3" bitsize="64" type="ieee_double"/>
    <reg name="d4" bitsize="64" type="ieee_double"/>
    <reg name="d5" bitsize="64" type="ieee_double"/>
    <reg name="d6" bitsize="64" type="ieee_double"/>
    <reg name="d7" bitsize="64" type="ieee_double"/>
    <reg name="d8" bitsize="64" type="ieee_double"/>
    <reg name="d9" bitsize="64" type="ieee_double"/>
    <reg name="d10" bitsize="64" type="ieee_double"/>
    <reg name="d11" bitsize="64" type="ieee_double"/>
    <reg name="d12" bitsize="64" type="ieee_double"/>
    <reg name="d13" bitsize="64" type="ieee_double"/>
    <reg name="d14" bitsize="64" type="ieee_double"/>
    <reg name="d15" bitsize="64" type="ieee_double"/>
    <reg name="d16" bitsize="64" type="ieee_double"/>
    <reg name="d17" bitsize="64" type="ieee_double"/>
    <reg name="d18" bitsize="64" type="ieee_double"/>
    <reg name="d19" bitsize="64" type="ieee_double"/>
    <reg name="d20" bitsize="64" type="ieee_double"/>
    <reg name="d21" bitsize="64" type="ieee_double"/>
    <reg name="d22" bitsize="64" type="ieee_double"/>
    <reg name="d23" bitsize="64" type="ieee_double"/>
    <reg name="d24" bitsize="64" type="ieee_double"/>
    <reg name="d25" bitsize="64" type="ieee_double"/>
    <reg name="d26" bitsize="64" type="ieee_double"/>
    <reg name="d27" bitsize="64" type="ieee_double"/>
    <reg name="d28" bitsize="64" type="ieee_double"/>
    <reg name="d29" bitsize="64" type="ieee_double"/>
    <reg name="d30" bitsize="64" type="ieee_double"/>
    <reg name="d31" bitsize="64" type="ieee_double"/>
    <reg name="fpscr" bitsize="32" type="int" group="float" regnum="49"/>
  </feature>
</target>
"#;

#[cfg(test)]
mod tests {
    use super::*;

    /// Bytes in a `g` packet: 16 core registers, the CPSR, 32 doubles and the FPSCR.
    const G_BYTES: usize = 16 * 4 + 4 + 32 * 8 + 4;

    #[test]
    fn g_packets_round_trip_in_armvex_order() {
        let mut r = ArmV7Registers::default();
        r.r[15] = 0x6000_0010;
        r.cpsr = 0x6000_01d3;
        r.d[31] = 0x4000_0000_0000_0001;
        r.fpscr = 0x0300_0000;
        let mut bytes = Vec::new();
        r.gdb_serialize(|b| bytes.push(b.unwrap()));
        assert_eq!(bytes.len(), G_BYTES);
        assert_eq!(&bytes[60..64], &0x6000_0010u32.to_le_bytes());
        assert_eq!(&bytes[64..68], &0x6000_01d3u32.to_le_bytes());
        assert_eq!(
            &bytes[68 + 31 * 8..68 + 32 * 8],
            &0x4000_0000_0000_0001u64.to_le_bytes()
        );
        let mut back = ArmV7Registers::default();
        back.gdb_deserialize(&bytes).unwrap();
        assert_eq!(back, r);
        let mut short = ArmV7Registers::default();
        short.gdb_deserialize(&bytes[..6]).unwrap();
        assert_eq!((short.r[0], short.r[1]), (r.r[0], 0), "only whole registers are taken");
        assert_eq!(
            ArmV7RegId::from_raw_id(17).map(|(r, s)| (r.0, s.map(|s| s.get()))),
            Some((17, Some(8)))
        );
        assert!(ArmV7RegId::from_raw_id(50).is_none());
        assert_eq!(ArmBreakpointKind::from_usize(1), Some(ArmBreakpointKind::Other(1)));
    }
}
