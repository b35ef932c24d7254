//! CP14, the debug registers (ARM ARM C11, "The Debug Registers"), and the two ThumbEE
//! registers (A2.10: TEECR and TEEHBR, op1 = 6), which Linux saves and restores on every
//! context switch because ID_PFR0 reports ThumbEE.
//!
//! armvex has no debugger connected through these registers; it implements the subset QEMU
//! does, so that Linux's hw_breakpoint code can probe the debug architecture (DBGDIDR), clear
//! the OS lock and program (harmlessly) the breakpoint and watchpoint registers. Breakpoints
//! and watchpoints never fire.

use crate::model::CpuModel;

/// Debug register state of one core.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct DebugRegisters {
    model: CpuModel,
    pub dscr: u32,
    pub vcr: u32,
    pub os_lock: bool,
    pub osdlr: u32,
    pub prcr: u32,
    pub claim: u32,
    pub bvr: [u32; 16],
    pub bcr: [u32; 16],
    pub wvr: [u32; 16],
    pub wcr: [u32; 16],
    /// ThumbEE Configuration Register (bit 0: XED, User access disabled).
    pub teecr: u32,
    /// ThumbEE Handler Base Register.
    pub teehbr: u32,
}

impl DebugRegisters {
    pub fn new(model: CpuModel) -> Self {
        DebugRegisters {
            model,
            dscr: 0,
            vcr: 0,
            // QEMU resets the OS lock to locked.
            os_lock: true,
            osdlr: 0,
            prcr: 0,
            claim: 0,
            bvr: [0; 16],
            bcr: [0; 16],
            wvr: [0; 16],
            wcr: [0; 16],
            teecr: 0,
            teehbr: 0,
        }
    }

    /// DBGDIDR as QEMU reports it.
    pub fn didr(&self) -> u32 {
        match self.model {
            CpuModel::CortexA9 => 0x3514_1000,
            CpuModel::CortexA15 => 0x3515_f021,
        }
    }

    fn breakpoints(&self) -> u32 {
        ((self.didr() >> 24) & 0xf) + 1
    }

    fn watchpoints(&self) -> u32 {
        ((self.didr() >> 28) & 0xf) + 1
    }

    /// Read `(CRn, op1, CRm, op2)`; `None` if UNDEFINED.
    pub fn read(&self, key: (u32, u32, u32, u32), privileged: bool) -> Option<u32> {
        Some(match key {
            (0, 6, 0, 0) if privileged => self.teecr,
            (1, 6, 0, 0) if privileged || self.teecr & 1 == 0 => self.teehbr,
            (0, 0, 0, 0) => self.didr(),
            (0, 0, 1, 0) => self.dscr,
            _ if !privileged => return None,
            (1, 0, 0, 0) | (2, 0, 0, 0) => 0,
            (0, 0, 2, 2) => self.dscr,
            (0, 0, 7, 0) => self.vcr,
            (0, 0, n, 4) if n < self.breakpoints() => self.bvr[n as usize],
            (0, 0, n, 5) if n < self.breakpoints() => self.bcr[n as usize],
            (0, 0, n, 6) if n < self.watchpoints() => self.wvr[n as usize],
            (0, 0, n, 7) if n < self.watchpoints() => self.wcr[n as usize],
            (1, 0, 1, 4) => 0b1000 | if self.os_lock { 0b10 } else { 0 },
            (1, 0, 3, 4) => self.osdlr,
            (1, 0, 4, 4) => self.prcr,
            (7, 0, 8, 6) => 0xff,
            (7, 0, 9, 6) => self.claim,
            (7, 0, 14, 6) => 0,
            _ => return None,
        })
    }

    /// Write `(CRn, op1, CRm, op2)`; false if UNDEFINED.
    pub fn write(&mut self, key: (u32, u32, u32, u32), v: u32, privileged: bool) -> bool {
        if key == (1, 6, 0, 0) && (privileged || self.teecr & 1 == 0) {
            self.teehbr = v & !3;
            return true;
        }
        if !privileged {
            return false;
        }
        let (brps, wrps) = (self.breakpoints(), self.watchpoints());
        match key {
            (0, 6, 0, 0) => self.teecr = v & 1,
            (0, 0, 2, 2) => self.dscr = v & 0x0000_c000,
            (0, 0, 7, 0) => self.vcr = v,
            (0, 0, n, 4) if n < brps => self.bvr[n as usize] = v,
            (0, 0, n, 5) if n < brps => self.bcr[n as usize] = v,
            (0, 0, n, 6) if n < wrps => self.wvr[n as usize] = v,
            (0, 0, n, 7) if n < wrps => self.wcr[n as usize] = v,
            (1, 0, 0, 4) => self.os_lock = v == 0xc5ac_ce55,
            (1, 0, 3, 4) => self.osdlr = v & 1,
            (1, 0, 4, 4) => self.prcr = v & 1,
            (7, 0, 8, 6) => self.claim |= v & 0xff,
            (7, 0, 9, 6) => self.claim &= !v,
            _ => return false,
        }
        true
    }
}
