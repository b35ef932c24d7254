//! # armvex-bus: the system bus
//!
//! Everything a CPU can reach through a physical address lives behind the bus:
//!
//! * **RAM-like memory** ([`memory`]): main RAM, PSRAM, SRAM, video RAM. Each region is a host
//!   memory mapping (memmap2), so the CPU's software TLB can hold plain host pointers into it and
//!   load and store without calling into the bus at all.
//! * **Memory-mapped devices** ([`mmio`]): peripherals implement [`Device`] and are placed at a
//!   physical address range. An access that hits no RAM and no device reads as zero and ignores
//!   writes, as on the Versatile Express motherboard (and in QEMU's model of it).
//! * **Interrupt lines** ([`irq`]): devices raise and lower lines; the interrupt controller turns
//!   them into the IRQ/FIQ inputs of each CPU.
//! * **The virtual clock** ([`clock`]): guest time comes from retired instructions, never from the
//!   host clock, and every timer in the machine schedules its deadline here.
//!
//! Data flows CPU → bus → device: the CPU crate calls into this crate, devices are called by it,
//! and nothing here knows which board it is part of.

#![warn(missing_docs)]

pub mod clock;
pub mod error;
pub mod irq;
pub mod memory;
pub mod mmio;
pub mod state;
pub mod watch;

pub use clock::{TimerSlot, VirtualClock};
pub use error::BusError;
pub use irq::{InterruptLines, MAX_CPUS};
pub use memory::{PHYS_ADDR_LIMIT, PhysAddr, PhysicalMemory, RamAliasSpec, RamPage, RamRegionSpec, RomView};
pub use mmio::{AccessSize, Device, DeviceContext, DeviceId};
use serde::{Deserialize, Serialize};
pub use state::StateError;

/// Something a device asks of the whole machine.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum MachineRequest {
    /// Power off (e.g. the vexpress SYS_CFG SHUTDOWN function): armvex exits with status 0.
    PowerOff,
    /// Reset the whole machine (SYS_CFG REBOOT).
    Reboot,
}

/// The system bus: memory, devices, interrupt lines and the clock of one machine.
pub struct Bus {
    /// RAM-like regions and the tracking of pages that hold predecoded code.
    pub memory: PhysicalMemory,
    /// Interrupt lines between devices, the interrupt controller and the CPUs.
    pub irq: InterruptLines,
    /// Virtual time and device deadlines.
    pub clock: VirtualClock,
    /// The MMIO map.
    devices: mmio::DeviceMap,
    /// The device told when interrupt lines change.
    interrupt_controller: Option<DeviceId>,
    /// Requests from devices, handled by the machine between rounds.
    pub requests: Vec<MachineRequest>,
    /// MMIO access counts and the inspector's access log (not machine state; see [`watch`]).
    pub watch: watch::MmioWatch,
}

/// The bus's part of a machine state (see [`crate::state`]): the clock with every timer
/// deadline, the interrupt lines, pending requests, and each device's own bytes. RAM is saved
/// separately.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct BusState {
    /// The virtual clock, with every device timer's deadline.
    pub clock: VirtualClock,
    /// The level of every interrupt line and CPU input.
    pub irq: InterruptLines,
    /// Power-off and reboot requests not yet handled by the machine.
    pub requests: Vec<MachineRequest>,
    /// Each device's name and [`Device::save_state`], in device-id order.
    pub devices: Vec<(String, Vec<u8>)>,
}

/// Who is making an MMIO access and when: the CPU index (banked device registers such as the
/// GIC CPU interface depend on it) and that CPU's local virtual time in nanoseconds.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Accessor {
    /// Index of the CPU making the access (0 for timer callbacks and host input).
    pub cpu: usize,
    /// That CPU's local virtual time, in nanoseconds.
    pub time: u64,
}

impl Bus {
    /// A bus with the given memory and no devices.
    pub fn new(memory: PhysicalMemory) -> Self {
        Bus {
            memory,
            irq: InterruptLines::default(),
            clock: VirtualClock::default(),
            devices: mmio::DeviceMap::default(),
            interrupt_controller: None,
            requests: Vec::new(),
            watch: watch::MmioWatch::default(),
        }
    }

    /// Make `id` the interrupt controller: after any device access, timer or line change that
    /// moved a line, its [`Device::interrupt_lines_changed`] runs.
    pub fn set_interrupt_controller(&mut self, id: DeviceId) {
        self.interrupt_controller = Some(id);
        self.sync_interrupts(Accessor {
            cpu: 0,
            time: self.clock.now(),
        });
    }

    /// Call `f` with device `id` and the [`DeviceContext`] of an access by `who`: the one
    /// place a device is handed the bus's memory, lines, clock and request list.
    fn with_device<R>(
        &mut self,
        who: Accessor,
        id: DeviceId,
        f: impl FnOnce(&mut dyn Device, &mut DeviceContext) -> R,
    ) -> R {
        let Bus {
            memory,
            irq,
            clock,
            devices,
            requests,
            ..
        } = self;
        let mut ctx = DeviceContext::new(who, id, memory, irq, clock, requests);
        f(devices.device_mut(id), &mut ctx)
    }

    /// Tell the interrupt controller if a line changed.
    fn sync_interrupts(&mut self, who: Accessor) {
        let Some(ic) = self.interrupt_controller else {
            return;
        };
        if !self.irq.take_changed() {
            return;
        }
        self.with_device(who, ic, |device, ctx| device.interrupt_lines_changed(ctx));
        // The controller only drives CPU inputs, which are not lines: nothing to repeat.
        self.irq.take_changed();
    }

    /// Drive private interrupt `id` of `cpu` from outside any device (the CPU's own generic
    /// timer), at virtual time `time`.
    pub fn set_ppi(&mut self, cpu: usize, id: u32, level: bool, time: u64) {
        self.irq.set_ppi(cpu, id, level);
        self.sync_interrupts(Accessor { cpu, time });
    }

    /// Hand host input (console bytes) to device `id` at the current virtual time. The
    /// machine calls this between rounds, which is what makes input replayable.
    pub fn deliver_host_input(&mut self, id: DeviceId, data: &[u8]) {
        let who = Accessor {
            cpu: 0,
            time: self.clock.now(),
        };
        self.with_device(who, id, |device, ctx| device.host_input(ctx, data));
        self.sync_interrupts(who);
    }

    /// Place `device` at `base..base+size`. Returns its id, used for its timer slots.
    /// Fails if the range overlaps RAM or another device.
    pub fn add_device(&mut self, base: u32, size: u32, device: Box<dyn Device>) -> Result<DeviceId, BusError> {
        if self.memory.overlaps(u64::from(base), u64::from(size)) {
            return Err(BusError::DeviceOverlapsRam {
                device: device.name().to_string(),
                base,
            });
        }
        self.devices.insert(base, size, device)
    }

    /// Make the read-only memory region `region` a ROM device driven by `device` (a NOR flash:
    /// see [`memory`]): the guest's writes to the region and its alias go to the device, which
    /// decides what reads show ([`DeviceContext::set_rom_view`]). The device is listed at the
    /// region's address.
    pub fn add_rom_device(&mut self, region: &str, device: Box<dyn Device>) -> Result<DeviceId, BusError> {
        let spec = self
            .memory
            .regions()
            .find(|r| r.name == region)
            .cloned()
            .ok_or_else(|| BusError::NoSuchRegion {
                name: region.to_string(),
            })?;
        // Devices live in the 32-bit address space.
        let (Ok(base), Ok(size)) = (u32::try_from(spec.base), u32::try_from(spec.size)) else {
            return Err(BusError::BadDeviceRange {
                device: device.name().to_string(),
                base: spec.base as u32,
                size: spec.size as u32,
            });
        };
        let id = self.devices.insert(base, size, device)?;
        self.memory.make_rom_device(region, id)?;
        Ok(id)
    }

    /// Read `size` bytes at a 32-bit physical address `pa` (see [`Bus::read_phys`]): the
    /// address space of the devices, the Cortex-A9 and the short-descriptor format.
    pub fn read(&mut self, who: Accessor, pa: u32, size: AccessSize) -> u32 {
        self.read_phys(who, PhysAddr::from(pa), size)
    }

    /// Read `size` bytes at physical address `pa` from a device, or from RAM when `pa` is RAM
    /// (the CPU's slow path for accesses the TLB could not serve). Addresses at or above
    /// 4 GiB (LPAE) can only be RAM; elsewhere they read as zero like any unmapped address.
    pub fn read_phys(&mut self, who: Accessor, pa: PhysAddr, size: AccessSize) -> u32 {
        if let Some(v) = self.memory.read(pa, size) {
            return v;
        }
        match u32::try_from(pa).ok().and_then(|pa| self.devices.find(pa)) {
            Some((id, offset)) => {
                let v = self.with_device(who, id, |device, ctx| device.read(ctx, offset, size));
                self.watch.note(id, false, offset, size.bytes(), v, who);
                tracing::trace!(target: "mmio", "read{} {pa:#010x} = {v:#x} ({})", size.bits(), self.devices.device_mut(id).name());
                self.sync_interrupts(who);
                v
            }
            None => {
                tracing::debug!(target: "mmio", "read{} {pa:#010x}: unmapped, reads as zero", size.bits());
                0
            }
        }
    }

    /// Write `size` bytes of `value` at a 32-bit physical address `pa` (see [`Bus::read`]).
    pub fn write(&mut self, who: Accessor, pa: u32, size: AccessSize, value: u32) {
        self.write_phys(who, PhysAddr::from(pa), size, value)
    }

    /// Write `size` bytes of `value` at physical address `pa` (see [`Bus::read_phys`]).
    pub fn write_phys(&mut self, who: Accessor, pa: PhysAddr, size: AccessSize, value: u32) {
        if self.memory.write(pa, size, value) {
            return;
        }
        let target = self
            .memory
            .rom_device_at(pa)
            .or_else(|| u32::try_from(pa).ok().and_then(|pa| self.devices.find(pa)));
        match target {
            Some((id, offset)) => {
                tracing::trace!(target: "mmio", "write{} {pa:#010x} = {value:#x} ({})", size.bits(), self.devices.device_mut(id).name());
                self.with_device(who, id, |device, ctx| device.write(ctx, offset, size, value));
                self.watch.note(id, true, offset, size.bytes(), value, who);
                self.sync_interrupts(who);
            }
            None => {
                tracing::debug!(target: "mmio", "write{} {pa:#010x} = {value:#x}: unmapped, ignored", size.bits());
            }
        }
    }

    /// Run the callbacks of every device timer whose deadline is at or before `now`, in
    /// deadline order (ties in slot order), and advance the clock to `now`.
    pub fn run_due_timers(&mut self, now: u64) {
        while let Some((slot, when)) = self.clock.next_deadline() {
            if when > now {
                break;
            }
            self.clock.advance_to(when);
            self.clock.cancel(slot);
            let Some(owner) = self.clock.owner(slot) else { continue };
            let who = Accessor { cpu: 0, time: when };
            self.with_device(who, owner, |device, ctx| device.timer_expired(ctx, slot));
            self.sync_interrupts(who);
        }
        self.clock.advance_to(now);
    }

    /// Save the clock, interrupt lines, pending requests and every device (not RAM).
    pub fn save_state(&self) -> BusState {
        BusState {
            clock: self.clock.clone(),
            irq: self.irq.clone(),
            requests: self.requests.clone(),
            devices: self
                .devices
                .devices()
                .map(|d| (d.name().to_string(), d.save_state()))
                .collect(),
        }
    }

    /// Put back a [`BusState`] saved from a bus with the same devices in the same order.
    pub fn load_state(&mut self, state: &BusState) -> Result<(), StateError> {
        let names: Vec<String> = self.devices.devices().map(|d| d.name().to_string()).collect();
        let saved: Vec<&String> = state.devices.iter().map(|(n, _)| n).collect();
        if names.iter().collect::<Vec<_>>() != saved {
            return Err(StateError(format!(
                "the saved machine has devices [{}], this one [{}]",
                saved.iter().map(|s| s.as_str()).collect::<Vec<_>>().join(", "),
                names.join(", ")
            )));
        }
        if let Some(bad) = state.clock.owners().find(|&o| o >= names.len()) {
            return Err(StateError(format!(
                "the saved clock has a timer of device {bad}, which does not exist"
            )));
        }
        for (id, (name, bytes)) in state.devices.iter().enumerate() {
            self.devices
                .device_mut(id)
                .load_state(bytes)
                .map_err(|e| StateError(format!("{name}: {e}")))?;
        }
        self.clock = state.clock.clone();
        self.irq = state.irq.clone();
        self.requests = state.requests.clone();
        // Devices whose state decides more than their own registers (what a ROM device's
        // memory shows) put it back now.
        let who = Accessor {
            cpu: 0,
            time: self.clock.now(),
        };
        for id in 0..names.len() {
            self.with_device(who, id, |device, ctx| device.state_loaded(ctx));
        }
        Ok(())
    }

    /// Device `id`, to look at (an inspector that knows its type uses [`Bus::device_as`]).
    pub fn device(&self, id: DeviceId) -> Option<&dyn Device> {
        self.devices.device(id)
    }

    /// Device `id` as its concrete type `T`, if it is one and offers itself through
    /// [`Device::as_any`].
    pub fn device_as<T: std::any::Any>(&self, id: DeviceId) -> Option<&T> {
        self.devices.device(id)?.as_any()?.downcast_ref()
    }

    /// Device `id` as its concrete type `T`, to change, if it is one and offers itself through
    /// [`Device::as_any_mut`].
    pub fn device_as_mut<T: std::any::Any>(&mut self, id: DeviceId) -> Option<&mut T> {
        if id >= self.devices.len() {
            return None;
        }
        self.devices.device_mut(id).as_any_mut()?.downcast_mut()
    }

    /// Every device in address order: its id, base, size and name.
    pub fn device_map(&self) -> Vec<(DeviceId, u32, u32, &str)> {
        self.devices.map()
    }

    /// The devices in address order, for diagnostics.
    pub fn device_names(&self) -> Vec<(u32, u32, String)> {
        self.devices.describe()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    struct Scratch {
        regs: [u32; 4],
        fired: u32,
    }

    impl Device for Scratch {
        fn name(&self) -> &str {
            "scratch"
        }
        fn read(&mut self, _ctx: &mut DeviceContext, offset: u32, _size: AccessSize) -> u32 {
            self.regs[(offset as usize / 4) % 4]
        }
        fn write(&mut self, ctx: &mut DeviceContext, offset: u32, _size: AccessSize, value: u32) {
            self.regs[(offset as usize / 4) % 4] = value;
            if offset == 0xc {
                let slot = ctx.new_timer_slot();
                ctx.set_deadline(slot, ctx.now() + u64::from(value));
            }
        }
        fn timer_expired(&mut self, ctx: &mut DeviceContext, _slot: TimerSlot) {
            self.fired += 1;
            self.regs[0] = ctx.now() as u32;
            ctx.set_spi(40, true);
        }
        fn save_state(&self) -> Vec<u8> {
            state::encode(&(self.regs, self.fired))
        }
        fn load_state(&mut self, bytes: &[u8]) -> Result<(), StateError> {
            (self.regs, self.fired) = state::decode(bytes, "scratch")?;
            Ok(())
        }
        fn as_any(&self) -> Option<&dyn std::any::Any> {
            Some(self)
        }
        fn as_any_mut(&mut self) -> Option<&mut dyn std::any::Any> {
            Some(self)
        }
    }

    fn bus() -> Bus {
        bus_with_ram_at(0x6000_0000)
    }

    /// 1 MiB of RAM at `base` and the scratch device at 0x1000_0000.
    fn bus_with_ram_at(base: u64) -> Bus {
        let mem = PhysicalMemory::new(&[RamRegionSpec {
            name: "ram".into(),
            base,
            size: 0x10_0000,
        }])
        .unwrap();
        let mut bus = Bus::new(mem);
        bus.add_device(0x1000_0000, 0x1000, Box::new(Scratch { regs: [0; 4], fired: 0 }))
            .unwrap();
        bus
    }

    const CPU0: Accessor = Accessor { cpu: 0, time: 0 };

    #[test]
    fn physical_addresses_above_4g_reach_ram_there_and_no_device() {
        let mut bus = bus_with_ram_at(0x1_0000_0000);
        bus.write_phys(CPU0, 0x1_0000_0010, AccessSize::Word, 0xdead_beef);
        assert_eq!(bus.read_phys(CPU0, 0x1_0000_0010, AccessSize::Word), 0xdead_beef);
        assert_eq!(bus.memory.read(0x1_0000_0010, AccessSize::Word), Some(0xdead_beef));
        // The device's address 4 GiB up is not the device: unmapped, reads as zero.
        bus.write(CPU0, 0x1000_0004, AccessSize::Word, 7);
        assert_eq!(bus.read_phys(CPU0, 0x1_1000_0004, AccessSize::Word), 0);
        bus.write_phys(CPU0, 0x1_1000_0004, AccessSize::Word, 9);
        assert_eq!(bus.read(CPU0, 0x1000_0004, AccessSize::Word), 7);
        // Nor is RAM's 32-bit alias RAM.
        assert_eq!(bus.read(CPU0, 0x0000_0010, AccessSize::Word), 0);
    }

    #[test]
    fn ram_and_device_and_unmapped() {
        let mut bus = bus();
        bus.write(CPU0, 0x6000_0010, AccessSize::Word, 0xdead_beef);
        assert_eq!(bus.read(CPU0, 0x6000_0010, AccessSize::Word), 0xdead_beef);
        assert_eq!(bus.read(CPU0, 0x6000_0011, AccessSize::Byte), 0xbe);
        bus.write(CPU0, 0x1000_0004, AccessSize::Word, 7);
        assert_eq!(bus.read(CPU0, 0x1000_0004, AccessSize::Word), 7);
        bus.write(CPU0, 0x2000_0000, AccessSize::Word, 7);
        assert_eq!(bus.read(CPU0, 0x2000_0000, AccessSize::Word), 0);
    }

    /// A toy interrupt controller: CPU 0's IRQ input is the OR of all SPI lines 32..64.
    struct OrController;
    impl Device for OrController {
        fn name(&self) -> &str {
            "or-controller"
        }
        fn read(&mut self, _ctx: &mut DeviceContext, _offset: u32, _size: AccessSize) -> u32 {
            0
        }
        fn write(&mut self, _ctx: &mut DeviceContext, _offset: u32, _size: AccessSize, _value: u32) {}
        fn interrupt_lines_changed(&mut self, ctx: &mut DeviceContext) {
            let any = (32..64).any(|id| ctx.irq_lines().spi_level(id));
            ctx.irq_lines().set_cpu_inputs(0, any, false);
        }
        fn save_state(&self) -> Vec<u8> {
            Vec::new()
        }
        fn load_state(&mut self, _bytes: &[u8]) -> Result<(), StateError> {
            Ok(())
        }
    }

    #[test]
    fn the_interrupt_controller_hears_line_changes() {
        let mut bus = bus();
        let ic = bus.add_device(0x1e00_0000, 0x1000, Box::new(OrController)).unwrap();
        bus.set_interrupt_controller(ic);
        assert!(!bus.irq.cpu_irq(0));
        bus.write(CPU0, 0x1000_000c, AccessSize::Word, 10);
        bus.run_due_timers(20);
        assert!(bus.irq.cpu_irq(0), "the timer raised SPI 40 and the controller saw it");
    }

    #[test]
    fn overlapping_device_is_refused() {
        let mut bus = bus();
        let dup = Box::new(Scratch { regs: [0; 4], fired: 0 });
        assert!(bus.add_device(0x1000_0800, 0x1000, dup).is_err());
        let on_ram = Box::new(Scratch { regs: [0; 4], fired: 0 });
        assert!(bus.add_device(0x600f_f000, 0x2000, on_ram).is_err());
    }

    #[test]
    fn a_saved_bus_state_restores_clock_lines_and_devices() {
        let mut a = bus();
        a.write(CPU0, 0x1000_0004, AccessSize::Word, 0x55);
        a.write(CPU0, 0x1000_000c, AccessSize::Word, 300);
        a.irq.set_spi(41, true);
        let saved = a.save_state();
        let mut b = bus();
        b.load_state(&saved).unwrap();
        assert_eq!(b.save_state(), saved);
        assert_eq!(b.read(CPU0, 0x1000_0004, AccessSize::Word), 0x55);
        assert!(b.irq.spi_level(41));
        b.run_due_timers(300);
        assert!(b.irq.spi_level(40), "the deadline came back with the clock");
        let mut other = Bus::new(PhysicalMemory::new(&[]).unwrap());
        let e = other.load_state(&saved).unwrap_err();
        assert!(e.0.contains("devices [scratch]"), "{e}");
    }

    #[test]
    fn device_as_hands_back_the_concrete_device_or_none() {
        let mut bus = bus();
        let ic = bus.add_device(0x1e00_0000, 0x1000, Box::new(OrController)).unwrap();
        bus.write(CPU0, 0x1000_0008, AccessSize::Word, 0x1234);
        assert_eq!(bus.device_as::<Scratch>(0).map(|s| s.regs[2]), Some(0x1234));
        bus.device_as_mut::<Scratch>(0).unwrap().regs[1] = 77;
        assert_eq!(bus.read(CPU0, 0x1000_0004, AccessSize::Word), 77);
        // Another type, a device that does not offer itself, an id with no device.
        assert!(bus.device_as::<OrController>(0).is_none());
        assert!(bus.device_as::<OrController>(ic).is_none());
        assert!(bus.device_as_mut::<OrController>(ic).is_none());
        assert!(bus.device_as::<Scratch>(2).is_none());
        assert!(bus.device_as_mut::<Scratch>(2).is_none());
    }

    #[test]
    fn timers_fire_at_their_exact_time() {
        let mut bus = bus();
        bus.write(Accessor { cpu: 0, time: 0 }, 0x1000_000c, AccessSize::Word, 500);
        assert_eq!(bus.clock.next_deadline().map(|d| d.1), Some(500));
        bus.run_due_timers(499);
        assert!(!bus.irq.spi_level(40));
        bus.run_due_timers(1000);
        assert!(bus.irq.spi_level(40));
        assert_eq!(bus.read(CPU0, 0x1000_0000, AccessSize::Word), 500);
        assert_eq!(bus.clock.now(), 1000);
        assert_eq!(bus.clock.next_deadline(), None);
    }
}
