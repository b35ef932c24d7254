//! The ARM CoreLink Level 2 Cache Controller L2C-310 (formerly PL310; ARM DDI 0246, *CoreLink
//! Level 2 Cache Controller L2C-310 Technical Reference Manual*, chapter 3 "Programmers
//! Model"), at 0x1e00a000 on the vexpress-a9.
//!
//! armvex has no caches, so this is the register file software needs to find, configure and
//! maintain the cache, as in QEMU (`hw/misc/arm_l2x0.c`):
//!
//! | offset | register | here |
//! |---|---|---|
//! | 0x000 | Cache ID | 0x410000c8 (ARM, L2C-310 r3p2) |
//! | 0x004 | Cache Type | 0x1c100100, plus way-size bits from the auxiliary control |
//! | 0x100 | Control | bit 0 (enable) kept |
//! | 0x104 | Auxiliary Control | read/write, resets to 0x02020000 |
//! | 0x108, 0x10c | Tag / Data RAM latency control | read/write |
//! | 0x730..0x7fc | cache maintenance operations | read 0: "operation complete", writes ignored |
//! | 0xc00, 0xc04 | address filtering start/end | read/write |
//! | 0xf40, 0xf60, 0xf80 | debug, prefetch, power control | read 0, writes ignored |
//!
//! The way-size bits QEMU ORs into Cache Type stay set once seen (QEMU keeps them sticky).
//!
//! Saved state: every register above that holds a value, Cache Type with its sticky bits
//! included. The controller is plain data, so it is its own state.

use crate::truncate;
use armvex_bus::{AccessSize, Device, DeviceContext, StateError, state};
use serde::{Deserialize, Serialize};

/// Cache ID of an ARM L2C-310 r3p2.
pub const CACHE_ID: u32 = 0x4100_00c8;

/// Register offsets (DDI 0246 §3.2, Table 3-1; the TRM numbers the groups reg0..reg15).
pub mod regs {
    /// reg0_cache_id: implementer, part and revision.
    pub const REG0_CACHE_ID: u32 = 0x000;
    /// reg0_cache_type: sizes and associativity.
    pub const REG0_CACHE_TYPE: u32 = 0x004;
    /// reg1_control: bit 0 enables the cache.
    pub const REG1_CONTROL: u32 = 0x100;
    /// reg1_aux_control: associativity, way size, policies.
    pub const REG1_AUX_CONTROL: u32 = 0x104;
    /// reg1_tag_ram_control: tag RAM latencies.
    pub const REG1_TAG_RAM_CONTROL: u32 = 0x108;
    /// reg1_data_ram_control: data RAM latencies.
    pub const REG1_DATA_RAM_CONTROL: u32 = 0x10c;
    /// reg7_cache_sync, the first of the cache maintenance operations.
    pub const REG7_CACHE_SYNC: u32 = 0x730;
    /// The last byte of the cache maintenance operations (reg7_clean_inv_way ends at 0x7ff).
    pub const REG7_MAINTENANCE_LAST: u32 = 0x7ff;
    /// reg12_addr_filtering_start.
    pub const REG12_ADDR_FILTERING_START: u32 = 0xc00;
    /// reg12_addr_filtering_end.
    pub const REG12_ADDR_FILTERING_END: u32 = 0xc04;
    /// reg15_debug_ctrl.
    pub const REG15_DEBUG_CTRL: u32 = 0xf40;
    /// reg15_prefetch_ctrl.
    pub const REG15_PREFETCH_CTRL: u32 = 0xf60;
    /// reg15_power_ctrl.
    pub const REG15_POWER_CTRL: u32 = 0xf80;
}
use regs::*;

/// An L2C-310 cache controller.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct L2c310 {
    cache_type: u32,
    ctrl: u32,
    aux_ctrl: u32,
    tag_ctrl: u32,
    data_ctrl: u32,
    filter_start: u32,
    filter_end: u32,
}

impl L2c310 {
    /// The controller in its reset state.
    pub fn new() -> Self {
        L2c310 {
            cache_type: 0x1c10_0100,
            ctrl: 0,
            aux_ctrl: 0x0202_0000,
            tag_ctrl: 0,
            data_ctrl: 0,
            filter_start: 0,
            filter_end: 0,
        }
    }
}

impl Default for L2c310 {
    fn default() -> Self {
        Self::new()
    }
}

impl Device for L2c310 {
    fn name(&self) -> &str {
        "l2c-310"
    }

    fn read(&mut self, _ctx: &mut DeviceContext, offset: u32, size: AccessSize) -> u32 {
        let value = match offset {
            REG7_CACHE_SYNC..=REG7_MAINTENANCE_LAST => 0,
            REG0_CACHE_ID => CACHE_ID,
            REG0_CACHE_TYPE => {
                // Way size (aux [19:17]) and associativity (aux bit 16) for both caches.
                let bits = ((self.aux_ctrl & (7 << 17)) >> 15) | ((self.aux_ctrl & (1 << 16)) >> 16);
                self.cache_type |= (bits << 18) | (bits << 6);
                self.cache_type
            }
            REG1_CONTROL => self.ctrl,
            REG1_AUX_CONTROL => self.aux_ctrl,
            REG1_TAG_RAM_CONTROL => self.tag_ctrl,
            REG1_DATA_RAM_CONTROL => self.data_ctrl,
            REG12_ADDR_FILTERING_START => self.filter_start,
            REG12_ADDR_FILTERING_END => self.filter_end,
            REG15_DEBUG_CTRL | REG15_PREFETCH_CTRL | REG15_POWER_CTRL => 0,
            _ => {
                tracing::debug!("l2c-310: read of unknown offset {offset:#x}");
                0
            }
        };
        truncate(value, size)
    }

    fn write(&mut self, _ctx: &mut DeviceContext, offset: u32, _size: AccessSize, value: u32) {
        match offset {
            REG7_CACHE_SYNC..=REG7_MAINTENANCE_LAST => {} // maintenance: nothing to maintain
            REG1_CONTROL => self.ctrl = value & 1,
            REG1_AUX_CONTROL => self.aux_ctrl = value,
            REG1_TAG_RAM_CONTROL => self.tag_ctrl = value,
            REG1_DATA_RAM_CONTROL => self.data_ctrl = value,
            REG12_ADDR_FILTERING_START => self.filter_start = value,
            REG12_ADDR_FILTERING_END => self.filter_end = value,
            REG15_DEBUG_CTRL | REG15_PREFETCH_CTRL | REG15_POWER_CTRL => {}
            _ => tracing::debug!("l2c-310: write of {value:#x} to unknown offset {offset:#x}"),
        }
    }

    fn save_state(&self) -> Vec<u8> {
        state::encode(self)
    }

    fn load_state(&mut self, bytes: &[u8]) -> Result<(), StateError> {
        *self = state::decode(bytes, self.name())?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::test_support::{bus_with_ram, bus_without_ram};
    use AccessSize::Word;
    use armvex_bus::{Accessor, Bus};

    const BASE: u32 = 0x1e00_a000;
    const CPU0: Accessor = Accessor { cpu: 0, time: 0 };

    fn setup() -> Bus {
        let mut bus = bus_with_ram(0x6000_0000, 0x1000);
        bus.add_device(BASE, 0x1000, Box::new(L2c310::new())).unwrap();
        bus
    }

    #[test]
    fn identification_and_control() {
        let mut bus = setup();
        assert_eq!(bus.read(CPU0, BASE, Word), 0x4100_00c8);
        assert_eq!(bus.read(CPU0, BASE + 0x004, Word), 0x1c10_0100);
        assert_eq!(bus.read(CPU0, BASE + 0x104, Word), 0x0202_0000);
        // Linux: set 64 KiB ways (aux [19:17] = 3) and enable.
        bus.write(CPU0, BASE + 0x104, Word, 0x0206_0000);
        bus.write(CPU0, BASE + 0x100, Word, 0xff);
        assert_eq!(bus.read(CPU0, BASE + 0x100, Word), 1);
        assert_eq!(bus.read(CPU0, BASE + 0x104, Word), 0x0206_0000);
        assert_eq!(bus.read(CPU0, BASE + 0x004, Word), 0x1c30_0300);
        bus.write(CPU0, BASE + 0x108, Word, 0x111);
        assert_eq!(bus.read(CPU0, BASE + 0x108, Word), 0x111);
    }

    #[test]
    fn maintenance_completes_at_once() {
        let mut bus = setup();
        for off in [0x730, 0x770, 0x77c, 0x7b0, 0x7f0, 0x7fc] {
            bus.write(CPU0, BASE + off, Word, 0xffff);
            assert_eq!(bus.read(CPU0, BASE + off, Word), 0, "offset {off:#x}");
        }
    }

    #[test]
    fn registers_and_sticky_way_size_survive_save_and_restore() {
        let mut a = setup();
        bus_setup_for_state(&mut a);
        let saved = a.save_state();
        let mut b = setup();
        b.load_state(&saved).unwrap();
        assert_eq!(b.save_state(), saved);
        for bus in [&mut a, &mut b] {
            assert_eq!(bus.read(CPU0, BASE + 0x104, Word), 0x0202_0000);
            // A fresh controller with this aux value reads 0x1c100100: the sticky bits came back.
            assert_eq!(bus.read(CPU0, BASE + 0x004, Word), 0x1c30_0300);
            assert_eq!(bus.read(CPU0, BASE + 0x100, Word), 1);
            assert_eq!(bus.read(CPU0, BASE + 0x108, Word), 0x111);
            assert_eq!(bus.read(CPU0, BASE + 0x10c, Word), 0x222);
            assert_eq!(bus.read(CPU0, BASE + 0xc00, Word), 0x8000_0001);
            assert_eq!(bus.read(CPU0, BASE + 0xc04, Word), 0x9000_0000);
            bus.write(CPU0, BASE + 0x104, Word, 0x0208_0000);
            assert_eq!(bus.read(CPU0, BASE + 0x004, Word), 0x1c70_0700);
        }
    }

    /// Enable the cache with 64 KiB ways, let Cache Type pick that up, then go back to the
    /// reset way size; set the latencies and the address filter.
    fn bus_setup_for_state(bus: &mut Bus) {
        bus.write(CPU0, BASE + 0x104, Word, 0x0206_0000);
        assert_eq!(bus.read(CPU0, BASE + 0x004, Word), 0x1c30_0300);
        bus.write(CPU0, BASE + 0x104, Word, 0x0202_0000);
        bus.write(CPU0, BASE + 0x100, Word, 1);
        bus.write(CPU0, BASE + 0x108, Word, 0x111);
        bus.write(CPU0, BASE + 0x10c, Word, 0x222);
        bus.write(CPU0, BASE + 0xc00, Word, 0x8000_0001);
        bus.write(CPU0, BASE + 0xc04, Word, 0x9000_0000);
    }

    #[test]
    fn damaged_states_are_refused_without_panic() {
        let mut a = setup();
        bus_setup_for_state(&mut a);
        let valid = a.save_state().devices[0].1.clone();
        crate::state_tests::check_damaged_states(&valid, |bytes| {
            let mut c = L2c310::new();
            c.load_state(bytes)?;
            let mut bus = bus_without_ram();
            bus.add_device(BASE, 0x1000, Box::new(c)).unwrap();
            for off in (0..0x1000).step_by(4) {
                bus.read(CPU0, BASE + off, Word);
            }
            Ok(())
        });
    }
}
