//! The MPCore private memory regions: the per-cluster peripherals of the Cortex-A9 and
//! Cortex-A15 MPCore processors, each modelled as one bus device that is also the machine's
//! interrupt controller.
//!
//! **Cortex-A9 MPCore** ([`A9MpCore`], Cortex-A9 MPCore TRM ARM DDI 0407, section 1.5
//! "Private memory region"; QEMU `hw/cpu/a9mpcore.c`). 8 KiB at PERIPHBASE (0x1e000000 on the
//! vexpress-a9):
//!
//! | offset | block |
//! |---|---|
//! | 0x0000 | Snoop Control Unit ([`scu`]) |
//! | 0x0100 | GIC CPU interface (GICv1, see [`crate::gic`]) |
//! | 0x0200 | global timer ([`global_timer`]), PPI 27 |
//! | 0x0600 | private timer ([`private_timer`]), PPI 29 |
//! | 0x0620 | watchdog, timer mode only, PPI 30 |
//! | 0x1000 | GIC distributor |
//!
//! The CPU interface, timers and watchdog are banked: each CPU reaches its own at the same
//! address. Their interrupts are PPIs of the CPU they belong to.
//!
//! **Cortex-A15 MPCore** ([`A15MpCore`], Cortex-A15 MPCore TRM ARM DDI 0438, section 8.1;
//! QEMU `hw/cpu/a15mpcore.c`). 32 KiB at PERIPHBASE (0x2c000000 on the vexpress-a15), of which
//! armvex models the GICv2 distributor at 0x1000 and CPU interface at 0x2000 (8 KiB). The
//! virtualization interface regions read as zero. The A15's timers are the generic timers
//! inside each CPU, which drive PPIs 26, 27, 29 and 30 through the bus.
//!
//! **Saved state.** The A9 saves its GIC (see [`crate::gic`]), the SCU's control and power
//! status, the global timer (shared control and counter, each CPU's comparator), each CPU's
//! private timer and watchdog whole (registers, event flag, the counter value and the time it
//! was set, how far zero crossings were accounted for), and the timer slots of all of them. The
//! A15 saves its GIC. A state from a cluster with another number of CPUs or another GIC is
//! refused.

pub mod global_timer;
pub mod private_timer;
pub mod scu;

pub use private_timer::PERIPHCLK_TICK_NS;

use crate::error::DeviceError;
use crate::gic::{Gic, GicConfig, GicState};
use crate::truncate;
use armvex_bus::{AccessSize, Device, DeviceContext, MAX_CPUS, StateError, TimerSlot, state};
use global_timer::GlobalTimer;
use private_timer::PrivateTimer;
use scu::{Scu, ScuState};
use serde::{Deserialize, Serialize};

/// Where the blocks of the Cortex-A9 MPCore's private memory region start (DDI 0407 §1.5,
/// the table above), from PERIPHBASE.
pub mod a9_map {
    /// The Snoop Control Unit's registers.
    pub const SCU: u32 = 0x0000;
    /// The GIC CPU interface (GICv1, 256 bytes).
    pub const GIC_CPU: u32 = 0x0100;
    /// The global timer.
    pub const GLOBAL_TIMER: u32 = 0x0200;
    /// The end of the global timer's registers; unmapped up to the private timer.
    pub const GLOBAL_TIMER_END: u32 = 0x0220;
    /// The calling CPU's private timer.
    pub const PRIVATE_TIMER: u32 = 0x0600;
    /// The calling CPU's watchdog.
    pub const WATCHDOG: u32 = 0x0620;
    /// The end of the watchdog's registers; unmapped up to the distributor.
    pub const WATCHDOG_END: u32 = 0x0640;
    /// The GIC distributor (4 KiB, up to the end of the region).
    pub const GIC_DIST: u32 = 0x1000;
}

/// Where the modelled blocks of the Cortex-A15 MPCore's private memory region start (DDI
/// 0438 §8.1), from PERIPHBASE.
pub mod a15_map {
    /// The GIC distributor (4 KiB).
    pub const GIC_DIST: u32 = 0x1000;
    /// The GIC CPU interface (GICv2, 8 KiB).
    pub const GIC_CPU: u32 = 0x2000;
    /// The end of the CPU interface; the virtualization interfaces follow, unmodelled.
    pub const GIC_CPU_END: u32 = 0x4000;
}

/// The A9 MPCore's private timers, for timer slot bookkeeping.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum PrivateKind {
    Timer,
    Watchdog,
}

/// The Cortex-A9 MPCore private region: SCU, GICv1, global timer, and per CPU a private timer
/// and a watchdog. Register it with [`armvex_bus::Bus::set_interrupt_controller`].
pub struct A9MpCore {
    num_cpus: usize,
    gic: Gic,
    scu: Scu,
    global_timer: GlobalTimer,
    timers: [PrivateTimer; MAX_CPUS],
    watchdogs: [PrivateTimer; MAX_CPUS],
    global_slot: Option<TimerSlot>,
    timer_slots: [Option<TimerSlot>; MAX_CPUS],
    watchdog_slots: [Option<TimerSlot>; MAX_CPUS],
}

/// What [`A9MpCore`] saves.
#[derive(Serialize, Deserialize)]
struct A9MpCoreState {
    gic: GicState,
    scu: ScuState,
    global_timer: GlobalTimer,
    timers: [PrivateTimer; MAX_CPUS],
    watchdogs: [PrivateTimer; MAX_CPUS],
    global_slot: Option<TimerSlot>,
    timer_slots: [Option<TimerSlot>; MAX_CPUS],
    watchdog_slots: [Option<TimerSlot>; MAX_CPUS],
}

impl A9MpCore {
    /// The GIC inside, to look at.
    pub fn gic(&self) -> &Gic {
        &self.gic
    }

    /// Size of the region.
    pub const SIZE: u32 = 0x2000;
    /// PPI of each CPU's global timer comparator.
    pub const GLOBAL_TIMER_PPI: u32 = 27;
    /// PPI of each CPU's private timer.
    pub const TIMER_PPI: u32 = 29;
    /// PPI of each CPU's watchdog.
    pub const WATCHDOG_PPI: u32 = 30;
    /// The device's name.
    pub const NAME: &str = "a9mpcore-priv";

    /// The private region of a cluster of `num_cpus` Cortex-A9s whose GIC implements
    /// `num_irqs` interrupt IDs (96 on the vexpress-a9: 32 private + 64 shared).
    pub fn new(num_cpus: usize, num_irqs: usize) -> Result<Self, DeviceError> {
        Self::with_gic(GicConfig {
            num_irqs,
            ..GicConfig::cortex_a9(num_cpus)
        })
    }

    /// The same with a fully specified GIC.
    pub fn with_gic(config: GicConfig) -> Result<Self, DeviceError> {
        let num_cpus = config.num_cpus;
        Ok(A9MpCore {
            gic: Gic::new(config)?,
            scu: Scu::new(num_cpus),
            global_timer: GlobalTimer::default(),
            timers: Default::default(),
            watchdogs: Default::default(),
            global_slot: None,
            timer_slots: [None; MAX_CPUS],
            watchdog_slots: [None; MAX_CPUS],
            num_cpus,
        })
    }

    /// The CPU making the access, clamped to the cluster.
    fn cpu(&self, ctx: &DeviceContext) -> usize {
        let cpu = ctx.cpu();
        if cpu < self.num_cpus {
            cpu
        } else {
            tracing::warn!("A9 MPCore access from CPU {cpu} outside the cluster; treated as CPU 0");
            0
        }
    }

    /// Drive the interrupt and the deadline of one private timer after a change.
    fn sync_private(&mut self, ctx: &mut DeviceContext, kind: PrivateKind, cpu: usize) {
        let (timer, slot, ppi) = match kind {
            PrivateKind::Timer => (&self.timers[cpu], &mut self.timer_slots[cpu], Self::TIMER_PPI),
            PrivateKind::Watchdog => (&self.watchdogs[cpu], &mut self.watchdog_slots[cpu], Self::WATCHDOG_PPI),
        };
        ctx.set_ppi(cpu, ppi, timer.irq_level());
        schedule(ctx, slot, timer.deadline());
    }

    /// Drive the global timer's interrupts and deadline after a change.
    fn sync_global(&mut self, ctx: &mut DeviceContext) {
        for cpu in 0..self.num_cpus {
            ctx.set_ppi(cpu, Self::GLOBAL_TIMER_PPI, self.global_timer.irq_level(cpu));
        }
        let deadline = self.global_timer.deadline(ctx.now());
        schedule(ctx, &mut self.global_slot, deadline);
    }
}

/// Set or cancel the deadline of a timer, allocating its slot the first time one is needed.
fn schedule(ctx: &mut DeviceContext, slot: &mut Option<TimerSlot>, deadline: Option<u64>) {
    match (deadline, *slot) {
        (Some(when), Some(s)) => ctx.set_deadline(s, when),
        (Some(when), None) => {
            let s = ctx.new_timer_slot();
            *slot = Some(s);
            ctx.set_deadline(s, when);
        }
        (None, Some(s)) => ctx.cancel_deadline(s),
        (None, None) => {}
    }
}

impl Device for A9MpCore {
    fn name(&self) -> &str {
        Self::NAME
    }

    fn as_any(&self) -> Option<&dyn std::any::Any> {
        Some(self)
    }

    fn read(&mut self, ctx: &mut DeviceContext, offset: u32, size: AccessSize) -> u32 {
        let cpu = self.cpu(ctx);
        let now = ctx.now();
        let value = match offset {
            a9_map::SCU..a9_map::GIC_CPU => self.scu.read(offset - a9_map::SCU),
            a9_map::GIC_CPU..a9_map::GLOBAL_TIMER => {
                self.gic.cpu_read(cpu, offset - a9_map::GIC_CPU, size, ctx.irq_lines())
            }
            a9_map::GLOBAL_TIMER..a9_map::GLOBAL_TIMER_END | a9_map::PRIVATE_TIMER..a9_map::WATCHDOG_END
                if size != AccessSize::Word =>
            {
                tracing::debug!(
                    "A9 MPCore: {}-bit read of timer register {offset:#x}; reads 0",
                    size.bits()
                );
                0
            }
            a9_map::GLOBAL_TIMER..a9_map::GLOBAL_TIMER_END => {
                let v = self.global_timer.read(cpu, offset - a9_map::GLOBAL_TIMER, now);
                self.sync_global(ctx);
                v
            }
            a9_map::PRIVATE_TIMER..a9_map::WATCHDOG => {
                let v = self.timers[cpu].read(offset - a9_map::PRIVATE_TIMER, now);
                self.sync_private(ctx, PrivateKind::Timer, cpu);
                v
            }
            a9_map::WATCHDOG..a9_map::WATCHDOG_END => {
                let v = self.watchdogs[cpu].read(offset - a9_map::WATCHDOG, now);
                self.sync_private(ctx, PrivateKind::Watchdog, cpu);
                v
            }
            a9_map::GIC_DIST..A9MpCore::SIZE => return self.gic.dist_read(cpu, offset - a9_map::GIC_DIST, size),
            _ => {
                tracing::debug!("A9 MPCore: read of unmapped offset {offset:#x}");
                0
            }
        };
        truncate(value, size)
    }

    fn write(&mut self, ctx: &mut DeviceContext, offset: u32, size: AccessSize, value: u32) {
        let cpu = self.cpu(ctx);
        let now = ctx.now();
        match offset {
            a9_map::SCU..a9_map::GIC_CPU => self.scu.write(offset - a9_map::SCU, value),
            a9_map::GIC_CPU..a9_map::GLOBAL_TIMER => {
                self.gic
                    .cpu_write(cpu, offset - a9_map::GIC_CPU, size, value, ctx.irq_lines())
            }
            a9_map::GLOBAL_TIMER..a9_map::GLOBAL_TIMER_END | a9_map::PRIVATE_TIMER..a9_map::WATCHDOG_END
                if size != AccessSize::Word =>
            {
                tracing::debug!(
                    "A9 MPCore: {}-bit write to timer register {offset:#x}; ignored",
                    size.bits()
                );
            }
            a9_map::GLOBAL_TIMER..a9_map::GLOBAL_TIMER_END => {
                self.global_timer.write(cpu, offset - a9_map::GLOBAL_TIMER, value, now);
                self.sync_global(ctx);
            }
            a9_map::PRIVATE_TIMER..a9_map::WATCHDOG => {
                self.timers[cpu].write(offset - a9_map::PRIVATE_TIMER, value, now);
                self.sync_private(ctx, PrivateKind::Timer, cpu);
            }
            a9_map::WATCHDOG..a9_map::WATCHDOG_END => {
                self.watchdogs[cpu].write(offset - a9_map::WATCHDOG, value, now);
                self.sync_private(ctx, PrivateKind::Watchdog, cpu);
            }
            a9_map::GIC_DIST..A9MpCore::SIZE => {
                self.gic
                    .dist_write(cpu, offset - a9_map::GIC_DIST, size, value, ctx.irq_lines())
            }
            _ => tracing::debug!("A9 MPCore: write of {value:#x} to unmapped offset {offset:#x}"),
        }
    }

    fn timer_expired(&mut self, ctx: &mut DeviceContext, slot: TimerSlot) {
        let now = ctx.now();
        if self.global_slot == Some(slot) {
            self.global_timer.advance(now);
            self.sync_global(ctx);
        }
        for cpu in 0..self.num_cpus {
            if self.timer_slots[cpu] == Some(slot) {
                self.timers[cpu].advance(now);
                self.sync_private(ctx, PrivateKind::Timer, cpu);
            }
            if self.watchdog_slots[cpu] == Some(slot) {
                self.watchdogs[cpu].advance(now);
                self.sync_private(ctx, PrivateKind::Watchdog, cpu);
            }
        }
    }

    fn interrupt_lines_changed(&mut self, ctx: &mut DeviceContext) {
        self.gic.lines_changed(ctx.irq_lines());
    }

    fn save_state(&self) -> Vec<u8> {
        let A9MpCore {
            num_cpus: _, // the GIC's configuration says it
            gic,
            scu,
            global_timer,
            timers,
            watchdogs,
            global_slot,
            timer_slots,
            watchdog_slots,
        } = self;
        state::encode(&A9MpCoreState {
            gic: gic.state(),
            scu: scu.state(),
            global_timer: global_timer.clone(),
            timers: timers.clone(),
            watchdogs: watchdogs.clone(),
            global_slot: *global_slot,
            timer_slots: *timer_slots,
            watchdog_slots: *watchdog_slots,
        })
    }

    fn load_state(&mut self, bytes: &[u8]) -> Result<(), StateError> {
        let A9MpCoreState {
            gic,
            scu,
            global_timer,
            timers,
            watchdogs,
            global_slot,
            timer_slots,
            watchdog_slots,
        } = state::decode(bytes, self.name())?;
        // The only check, and the GIC's configuration includes the number of CPUs: nothing
        // changes unless it passes.
        self.gic.restore(gic, Self::NAME)?;
        self.scu.restore(scu);
        self.global_timer = global_timer;
        self.timers = timers;
        self.watchdogs = watchdogs;
        self.global_slot = global_slot;
        self.timer_slots = timer_slots;
        self.watchdog_slots = watchdog_slots;
        Ok(())
    }
}

/// What [`A15MpCore`] saves.
#[derive(Serialize, Deserialize)]
struct A15MpCoreState {
    gic: GicState,
}

/// The Cortex-A15 MPCore private region: a GICv2. Register it with
/// [`armvex_bus::Bus::set_interrupt_controller`].
pub struct A15MpCore {
    gic: Gic,
}

impl A15MpCore {
    /// The GIC inside, to look at.
    pub fn gic(&self) -> &Gic {
        &self.gic
    }

    /// Size of the region (including the virtualization interfaces armvex leaves out).
    pub const SIZE: u32 = 0x8000;
    /// The device's name.
    pub const NAME: &str = "a15mpcore-priv";

    /// The private region of a cluster of `num_cpus` Cortex-A15s whose GIC implements
    /// `num_irqs` interrupt IDs (160 on the vexpress-a15: 32 private + 128 shared).
    pub fn new(num_cpus: usize, num_irqs: usize) -> Result<Self, DeviceError> {
        Self::with_gic(GicConfig {
            num_irqs,
            ..GicConfig::cortex_a15(num_cpus)
        })
    }

    /// The same with a fully specified GIC.
    pub fn with_gic(config: GicConfig) -> Result<Self, DeviceError> {
        Ok(A15MpCore { gic: Gic::new(config)? })
    }
}

impl Device for A15MpCore {
    fn name(&self) -> &str {
        Self::NAME
    }

    fn as_any(&self) -> Option<&dyn std::any::Any> {
        Some(self)
    }

    fn read(&mut self, ctx: &mut DeviceContext, offset: u32, size: AccessSize) -> u32 {
        let cpu = ctx.cpu();
        match offset {
            a15_map::GIC_DIST..a15_map::GIC_CPU => self.gic.dist_read(cpu, offset - a15_map::GIC_DIST, size),
            a15_map::GIC_CPU..a15_map::GIC_CPU_END => truncate(
                self.gic.cpu_read(cpu, offset - a15_map::GIC_CPU, size, ctx.irq_lines()),
                size,
            ),
            _ => {
                tracing::debug!("A15 MPCore: read of unmodelled offset {offset:#x}");
                0
            }
        }
    }

    fn write(&mut self, ctx: &mut DeviceContext, offset: u32, size: AccessSize, value: u32) {
        let cpu = ctx.cpu();
        match offset {
            a15_map::GIC_DIST..a15_map::GIC_CPU => {
                self.gic
                    .dist_write(cpu, offset - a15_map::GIC_DIST, size, value, ctx.irq_lines())
            }
            a15_map::GIC_CPU..a15_map::GIC_CPU_END => {
                self.gic
                    .cpu_write(cpu, offset - a15_map::GIC_CPU, size, value, ctx.irq_lines())
            }
            _ => tracing::debug!("A15 MPCore: write of {value:#x} to unmodelled offset {offset:#x}"),
        }
    }

    fn interrupt_lines_changed(&mut self, ctx: &mut DeviceContext) {
        self.gic.lines_changed(ctx.irq_lines());
    }

    fn save_state(&self) -> Vec<u8> {
        let A15MpCore { gic } = self;
        state::encode(&A15MpCoreState { gic: gic.state() })
    }

    fn load_state(&mut self, bytes: &[u8]) -> Result<(), StateError> {
        let A15MpCoreState { gic } = state::decode(bytes, self.name())?;
        self.gic.restore(gic, Self::NAME)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::gic::SPURIOUS;
    use crate::test_support::{bus_with_ram, bus_without_ram};
    use AccessSize::Word;
    use armvex_bus::{Accessor, Bus};

    const BASE: u32 = 0x1e00_0000;

    fn a9_bus(cpus: usize) -> Bus {
        let mut bus = bus_with_ram(0x6000_0000, 0x10_0000);
        let id = bus
            .add_device(BASE, A9MpCore::SIZE, Box::new(A9MpCore::new(cpus, 96).unwrap()))
            .unwrap();
        bus.set_interrupt_controller(id);
        bus
    }

    fn at(cpu: usize, time: u64) -> Accessor {
        Accessor { cpu, time }
    }

    /// GIC on, CPU interfaces open, as Linux leaves them.
    fn gic_on(bus: &mut Bus, cpus: usize) {
        bus.write(at(0, 0), BASE + 0x1000, Word, 1);
        for cpu in 0..cpus {
            bus.write(at(cpu, 0), BASE + 0x104, Word, 0xf0);
            bus.write(at(cpu, 0), BASE + 0x100, Word, 1);
        }
    }

    #[test]
    fn a9_region_layout() {
        let mut bus = a9_bus(2);
        assert_eq!(bus.read(at(0, 0), BASE + 0x04, Word), 0x31, "SCU config: 2 CPUs");
        assert_eq!(bus.read(at(0, 0), BASE + 0x1004, Word), 0x422, "GICD_TYPER");
        assert_eq!(
            bus.read(at(1, 0), BASE + 0x1800, Word),
            0x0202_0202,
            "ITARGETSR0 on CPU 1"
        );
        assert_eq!(bus.read(at(0, 0), BASE + 0x1fe0, Word), 0x90);
        assert_eq!(bus.read(at(0, 0), BASE + 0x10c, Word), 1023, "GICC_IAR");
        assert_eq!(bus.read(at(0, 0), BASE + 0x1fc, Word), 0x0001_043b, "GICC_IIDR");
        assert_eq!(bus.read(at(0, 0), BASE + 0x400, Word), 0, "hole");
    }

    #[test]
    fn twd_timer_interrupts_its_own_cpu_through_the_gic() {
        let mut bus = a9_bus(2);
        gic_on(&mut bus, 2);
        // CPU 1: enable PPI 29, load 1000 ticks one-shot with interrupts.
        bus.write(at(1, 0), BASE + 0x1100, Word, 1 << 29);
        bus.write(at(1, 100), BASE + 0x604, Word, 1000);
        bus.write(at(1, 100), BASE + 0x608, Word, 0b101);
        assert_eq!(bus.read(at(0, 200), BASE + 0x608, Word), 0, "CPU 0's timer is its own");
        assert_eq!(bus.read(at(1, 200), BASE + 0x604, Word), 990);
        assert_eq!(bus.clock.next_deadline().map(|d| d.1), Some(100 + 10_000));
        bus.run_due_timers(10_099);
        assert!(!bus.irq.cpu_irq(1));
        bus.run_due_timers(10_100);
        assert!(bus.irq.cpu_irq(1) && !bus.irq.cpu_irq(0));
        assert_eq!(bus.read(at(1, 10_200), BASE + 0x60c, Word), 1);
        assert_eq!(bus.read(at(1, 10_200), BASE + 0x10c, Word), 29, "acknowledge");
        bus.write(at(1, 10_300), BASE + 0x60c, Word, 1);
        bus.write(at(1, 10_300), BASE + 0x110, Word, 29);
        assert!(!bus.irq.cpu_irq(1));
        assert_eq!(bus.read(at(1, 10_400), BASE + 0x10c, Word), 1023);
    }

    #[test]
    fn twd_periodic_interrupt_repeats_after_each_clear() {
        let mut bus = a9_bus(1);
        gic_on(&mut bus, 1);
        bus.write(at(0, 0), BASE + 0x1100, Word, 1 << 29);
        // 99 ticks (990 ns) from the load value down to zero, then every 100 ticks.
        bus.write(at(0, 0), BASE + 0x600, Word, 99);
        bus.write(at(0, 0), BASE + 0x608, Word, 0b111);
        for n in 1..=3u64 {
            let fire = n * 1000 - 10;
            bus.run_due_timers(fire - 1);
            assert!(!bus.irq.cpu_irq(0), "period {n}: not yet");
            bus.run_due_timers(fire);
            assert!(bus.irq.cpu_irq(0), "period {n}: fired");
            let t = fire + 50;
            assert_eq!(bus.read(at(0, t), BASE + 0x10c, Word), 29);
            bus.write(at(0, t), BASE + 0x60c, Word, 1);
            bus.write(at(0, t), BASE + 0x110, Word, 29);
            assert!(!bus.irq.cpu_irq(0));
        }
    }

    #[test]
    fn watchdog_in_timer_mode_raises_ppi_30() {
        let mut bus = a9_bus(1);
        gic_on(&mut bus, 1);
        bus.write(at(0, 0), BASE + 0x1100, Word, 1 << 30);
        bus.write(at(0, 0), BASE + 0x620, Word, 5);
        bus.write(at(0, 0), BASE + 0x628, Word, 0b101);
        bus.run_due_timers(50);
        assert!(bus.irq.cpu_irq(0));
        assert_eq!(bus.read(at(0, 60), BASE + 0x10c, Word), 30);
    }

    #[test]
    fn global_timer_comparator_raises_ppi_27() {
        let mut bus = a9_bus(2);
        gic_on(&mut bus, 2);
        bus.write(at(0, 0), BASE + 0x1100, Word, 1 << 27);
        bus.write(at(0, 0), BASE + 0x210, Word, 300);
        bus.write(at(0, 0), BASE + 0x208, Word, 0b111);
        assert_eq!(bus.read(at(1, 1000), BASE + 0x200, Word), 100, "shared counter");
        assert_eq!(
            bus.read(at(1, 1000), BASE + 0x208, Word),
            1,
            "CPU 1's comparator is off"
        );
        // The flag comes when the counter passes 300 (tick 301).
        bus.run_due_timers(3009);
        assert!(!bus.irq.cpu_irq(0));
        bus.run_due_timers(3010);
        assert!(bus.irq.cpu_irq(0) && !bus.irq.cpu_irq(1));
        assert_eq!(bus.read(at(0, 3010), BASE + 0x10c, Word), 27);
    }

    #[test]
    fn sgi_wakes_a_secondary_cpu() {
        let mut bus = a9_bus(2);
        gic_on(&mut bus, 2);
        bus.write(at(0, 0), BASE + 0x1f00, Word, 0b10 << 16); // SGI 0 to CPU 1
        assert!(bus.irq.cpu_irq(1) && !bus.irq.cpu_irq(0));
        assert_eq!(bus.read(at(1, 0), BASE + 0x10c, Word), 0, "SGI 0 from CPU 0");
    }

    #[test]
    fn a15_gic_sees_generic_timer_ppis_from_the_bus() {
        let mut bus = bus_with_ram(0x8000_0000, 0x10_0000);
        let base = 0x2c00_0000;
        let id = bus
            .add_device(base, A15MpCore::SIZE, Box::new(A15MpCore::new(2, 160).unwrap()))
            .unwrap();
        bus.set_interrupt_controller(id);
        assert_eq!(bus.read(at(0, 0), base + 0x1004, Word), 0x424, "160 IDs, 2 CPUs");
        assert_eq!(bus.read(at(0, 0), base + 0x20fc, Word), 0x0002_043b);
        bus.write(at(0, 0), base + 0x1000, Word, 1);
        bus.write(at(1, 0), base + 0x2004, Word, 0xf0);
        bus.write(at(1, 0), base + 0x2000, Word, 1);
        bus.write(at(1, 0), base + 0x1100, Word, 1 << 27);
        bus.set_ppi(1, 27, true, 500);
        assert!(bus.irq.cpu_irq(1));
        assert_eq!(bus.read(at(1, 600), base + 0x200c, Word), 27);
        bus.set_ppi(1, 27, false, 700);
        bus.write(at(1, 800), base + 0x2010, Word, 27);
        assert!(!bus.irq.cpu_irq(1));
        assert_eq!(
            bus.read(at(0, 900), base + 0x5000, Word),
            0,
            "virtualization regions read 0"
        );
    }

    /// A two-CPU A9 cluster in use at 4 us: CPU 1's private timer periodic every 1 us
    /// (load 99), first zero at 990 ns, acknowledged at 1 us and its flag cleared, its second
    /// flag (1990 ns) not yet; CPU 0's watchdog a one-shot of 5000 ticks from 100 ns; the
    /// global timer with CPU 0's comparator at 300 auto-incrementing by 1000, passed at
    /// 3010 ns and not yet acknowledged; the SCU enabled with a power status written.
    fn a9_in_use() -> Bus {
        let mut bus = a9_bus(2);
        gic_on(&mut bus, 2);
        for (cpu, ppi) in [(1, 29), (0, 30), (0, 27)] {
            bus.write(at(cpu, 0), BASE + 0x1100, Word, 1 << ppi);
        }
        bus.write(at(0, 0), BASE, Word, 1); // SCU control
        bus.write(at(0, 0), BASE + 0x08, Word, 0x0300);
        bus.write(at(1, 0), BASE + 0x600, Word, 99);
        bus.write(at(1, 0), BASE + 0x608, Word, 0b111);
        bus.write(at(0, 100), BASE + 0x620, Word, 5000);
        bus.write(at(0, 100), BASE + 0x628, Word, 0b101);
        bus.write(at(0, 0), BASE + 0x210, Word, 300);
        bus.write(at(0, 0), BASE + 0x218, Word, 1000);
        bus.write(at(0, 0), BASE + 0x208, Word, 0b1111);
        bus.run_due_timers(995);
        assert_eq!(bus.read(at(1, 1000), BASE + 0x10c, Word), 29);
        bus.write(at(1, 1000), BASE + 0x60c, Word, 1);
        bus.run_due_timers(4000);
        bus
    }

    #[test]
    fn a9_timers_and_gic_survive_save_and_restore() {
        let mut a = a9_in_use();
        let saved = a.save_state();
        let mut b = a9_bus(2);
        b.load_state(&saved).unwrap();
        assert_eq!(b.save_state(), saved);
        for bus in [&mut a, &mut b] {
            assert!(bus.irq.cpu_irq(0), "CPU 0: global timer");
            assert!(!bus.irq.cpu_irq(1), "CPU 1: PPI 29 pending again but still active");
            assert_eq!(bus.clock.next_deadline().map(|d| d.1), Some(13_010));
            let t = 4250;
            assert_eq!(bus.read(at(0, t), BASE, Word), 1, "SCU control");
            assert_eq!(bus.read(at(0, t), BASE + 0x08, Word), 0x0300);
            assert_eq!(bus.read(at(1, t), BASE + 0x604, Word), 74);
            assert_eq!(bus.read(at(1, t), BASE + 0x60c, Word), 1);
            assert_eq!(bus.read(at(0, t), BASE + 0x604, Word), 0, "CPU 0's timer unused");
            assert_eq!(bus.read(at(0, t), BASE + 0x624, Word), 4585);
            assert_eq!(bus.read(at(0, t), BASE + 0x200, Word), 425);
            assert_eq!(bus.read(at(0, t), BASE + 0x210, Word), 1300);
            assert_eq!(bus.read(at(0, t), BASE + 0x20c, Word), 1);
            assert_eq!(bus.read(at(1, t), BASE + 0x208, Word), 1, "CPU 1's comparator off");
            assert_eq!(bus.read(at(1, t), BASE + 0x114, Word), 0, "CPU 1 running priority");
            assert_eq!(bus.read(at(1, t), BASE + 0x1300, Word), 1 << 29, "active on CPU 1");
            // CPU 0 handles its global timer interrupt.
            assert_eq!(bus.read(at(0, 4300), BASE + 0x10c, Word), 27);
            bus.write(at(0, 4300), BASE + 0x20c, Word, 1);
            bus.write(at(0, 4300), BASE + 0x110, Word, 27);
            assert!(!bus.irq.cpu_irq(0));
            // CPU 1 ends PPI 29 and takes the second one at once.
            bus.write(at(1, 4300), BASE + 0x110, Word, 29);
            assert!(bus.irq.cpu_irq(1));
            assert_eq!(bus.read(at(1, 4300), BASE + 0x10c, Word), 29);
            bus.write(at(1, 4300), BASE + 0x60c, Word, 1);
            bus.write(at(1, 4300), BASE + 0x110, Word, 29);
            assert!(!bus.irq.cpu_irq(1));
            assert_eq!(bus.clock.next_deadline().map(|d| d.1), Some(4990));
            bus.run_due_timers(4989);
            assert!(!bus.irq.cpu_irq(1));
            bus.run_due_timers(4990);
            assert!(bus.irq.cpu_irq(1), "the private timer's next zero");
            assert_eq!(bus.clock.next_deadline().map(|d| d.1), Some(13_010));
            bus.run_due_timers(13_009);
            assert!(!bus.irq.cpu_irq(0));
            bus.run_due_timers(13_010);
            assert!(bus.irq.cpu_irq(0), "the global timer's next comparison");
            assert_eq!(bus.read(at(0, 13_010), BASE + 0x210, Word), 2300);
            assert_eq!(bus.read(at(0, 13_010), BASE + 0x10c, Word), 27);
            bus.write(at(0, 13_010), BASE + 0x20c, Word, 1);
            bus.write(at(0, 13_010), BASE + 0x110, Word, 27);
            bus.run_due_timers(50_099);
            assert_eq!(bus.read(at(0, 50_099), BASE + 0x62c, Word), 0);
            bus.run_due_timers(50_100);
            assert_eq!(bus.read(at(0, 50_100), BASE + 0x62c, Word), 1, "the watchdog's zero");
            assert_eq!(bus.read(at(0, 50_100), BASE + 0x10c, Word), 27, "27 before 30");
        }
        assert_eq!(a.save_state(), b.save_state());
    }

    #[test]
    fn a9_state_from_another_cluster_is_refused() {
        let saved = a9_in_use().save_state();
        let mut one_cpu = a9_bus(1);
        let e = one_cpu.load_state(&saved).unwrap_err();
        assert!(
            e.0.starts_with(
                "a9mpcore-priv: saved state of a9mpcore-priv is from a GICv1 with 2 CPUs, 96 \
                 interrupt IDs"
            ),
            "{e}"
        );
        assert!(e.0.contains("this one is a GICv1 with 1 CPU, 96 interrupt IDs"), "{e}");
        let a9_bytes = &saved.devices[0].1;
        let mut a15 = A15MpCore::new(2, 160).unwrap();
        assert!(a15.load_state(a9_bytes).is_err());
        let mut a9 = A9MpCore::new(2, 128).unwrap();
        let e = a9.load_state(a9_bytes).unwrap_err();
        assert!(
            e.0.contains("this one is a GICv1 with 2 CPUs, 128 interrupt IDs"),
            "{e}"
        );
    }

    #[test]
    fn a9_damaged_states_are_refused_without_panic() {
        let valid = a9_in_use().save_state().devices[0].1.clone();
        crate::state_tests::check_damaged_states(&valid, |bytes| {
            let mut mpcore = A9MpCore::new(2, 96).unwrap();
            mpcore.load_state(bytes)?;
            // The timers directly: what a damaged timer slot would do is the bus's to check.
            for cpu in 0..2 {
                for t in [0, 4000, u64::MAX / 2, u64::MAX] {
                    for off in (0..0x20).step_by(4) {
                        mpcore.timers[cpu].read(off, t);
                        mpcore.watchdogs[cpu].read(off, t);
                        mpcore.global_timer.read(cpu, off, t);
                    }
                    mpcore.timers[cpu].deadline();
                    mpcore.global_timer.deadline(t);
                }
            }
            // The GIC and SCU through the bus.
            let mut bus = bus_without_ram();
            let id = bus.add_device(BASE, A9MpCore::SIZE, Box::new(mpcore)).unwrap();
            bus.set_interrupt_controller(id);
            for cpu in 0..2 {
                for off in (0..0x200).chain(0x1000..0x2000).step_by(4) {
                    bus.read(at(cpu, 0), BASE + off, Word);
                }
                for _ in 0..4 {
                    let irq = bus.read(at(cpu, 0), BASE + 0x10c, Word);
                    bus.write(at(cpu, 0), BASE + 0x110, Word, irq);
                }
            }
            Ok(())
        });
    }

    fn a15_bus() -> (Bus, u32) {
        let mut bus = bus_without_ram();
        let base = 0x2c00_0000;
        let id = bus
            .add_device(base, A15MpCore::SIZE, Box::new(A15MpCore::new(2, 160).unwrap()))
            .unwrap();
        bus.set_interrupt_controller(id);
        (bus, base)
    }

    /// A two-CPU A15 cluster: CPU 1 handling its generic timer's PPI 27 (line still high),
    /// with SGI 5 from CPU 0 waiting behind it at the same priority; CPU 0's PPI 30 high but
    /// masked by its priority.
    fn a15_in_use() -> (Bus, u32) {
        let (mut bus, base) = a15_bus();
        bus.write(at(0, 0), base + 0x1000, Word, 1);
        for cpu in 0..2 {
            bus.write(at(cpu, 0), base + 0x2004, Word, 0xf0);
            bus.write(at(cpu, 0), base + 0x2000, Word, 1);
        }
        bus.write(at(1, 0), base + 0x1100, Word, 1 << 27);
        bus.write(at(0, 0), base + 0x1100, Word, 1 << 30);
        bus.write(at(0, 0), base + 0x141c, Word, 0x00f8_0000); // PPI 30 priority 0xf8
        bus.set_ppi(1, 27, true, 500);
        assert_eq!(bus.read(at(1, 600), base + 0x200c, Word), 27);
        bus.write(at(0, 700), base + 0x1f00, Word, (0b10 << 16) | 5);
        bus.set_ppi(0, 30, true, 800);
        (bus, base)
    }

    #[test]
    fn a15_gic_survives_save_and_restore() {
        let (mut a, base) = a15_in_use();
        let saved = a.save_state();
        let (mut b, _) = a15_bus();
        b.load_state(&saved).unwrap();
        assert_eq!(b.save_state(), saved);
        for bus in [&mut a, &mut b] {
            assert!(!bus.irq.cpu_irq(0) && !bus.irq.cpu_irq(1));
            assert_eq!(bus.read(at(1, 900), base + 0x2018, Word), 5, "SGI 5 waits");
            assert_eq!(bus.read(at(0, 900), base + 0x2018, Word), SPURIOUS, "PPI 30 masked");
            assert_eq!(bus.read(at(0, 900), base + 0x1f25, AccessSize::Byte), 0);
            assert_eq!(bus.read(at(1, 900), base + 0x1f25, AccessSize::Byte), 0b01);
            bus.write(at(1, 1000), base + 0x2010, Word, 27);
            assert!(bus.irq.cpu_irq(1));
            assert_eq!(bus.read(at(1, 1000), base + 0x200c, Word), 5);
            bus.write(at(1, 1000), base + 0x2010, Word, 5);
            assert_eq!(bus.read(at(1, 1000), base + 0x200c, Word), 27, "level still high");
            bus.set_ppi(1, 27, false, 1100);
            bus.write(at(1, 1100), base + 0x2010, Word, 27);
            assert!(!bus.irq.cpu_irq(1));
            bus.write(at(0, 1200), base + 0x2004, Word, 0xff);
            assert!(bus.irq.cpu_irq(0), "PPI 30 once the mask opens");
            assert_eq!(bus.read(at(0, 1200), base + 0x200c, Word), 30);
        }
        assert_eq!(a.save_state(), b.save_state());
    }

    #[test]
    fn a15_damaged_states_are_refused_without_panic() {
        let (a, base) = a15_in_use();
        let valid = a.save_state().devices[0].1.clone();
        crate::state_tests::check_damaged_states(&valid, |bytes| {
            let mut mpcore = A15MpCore::new(2, 160).unwrap();
            mpcore.load_state(bytes)?;
            let mut bus = bus_without_ram();
            let id = bus.add_device(base, A15MpCore::SIZE, Box::new(mpcore)).unwrap();
            bus.set_interrupt_controller(id);
            for cpu in 0..2 {
                for off in (0x1000..0x2100).step_by(4) {
                    bus.read(at(cpu, 0), base + off, Word);
                }
                for _ in 0..4 {
                    let irq = bus.read(at(cpu, 0), base + 0x200c, Word);
                    bus.write(at(cpu, 0), base + 0x2010, Word, irq);
                    bus.write(at(cpu, 0), base + 0x3000, Word, irq);
                }
            }
            Ok(())
        });
    }

    #[test]
    fn odd_accesses_do_not_panic() {
        let mut bus = a9_bus(4);
        for off in (0..A9MpCore::SIZE).step_by(2) {
            for size in [AccessSize::Byte, AccessSize::Half, Word] {
                bus.read(at(7, 0), BASE + off, size);
                bus.write(at(3, 0), BASE + off, size, 0xffff_ffff);
            }
        }
        assert!(A9MpCore::new(0, 96).is_err());
        assert!(A15MpCore::new(1, 33).is_err());
    }
}
