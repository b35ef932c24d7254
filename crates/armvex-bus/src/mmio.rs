//! Memory-mapped devices.
//!
//! A device is a plain value implementing [`Device`]: `read` and `write` get the offset of the
//! access inside the device's range and its size. Through the [`DeviceContext`] a device sees
//! the current virtual time, raises interrupt lines, schedules its timers, and reads or writes
//! guest RAM (DMA). MMIO is the slow path of the CPU, so a `dyn` call per access is fine here.

use crate::clock::{TimerSlot, VirtualClock};
use crate::error::BusError;
use crate::irq::InterruptLines;
use crate::memory::PhysicalMemory;
use crate::{Accessor, MachineRequest};

/// The width of a bus access.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum AccessSize {
    /// 8 bits (LDRB/STRB).
    Byte,
    /// 16 bits (LDRH/STRH).
    Half,
    /// 32 bits (LDR/STR).
    Word,
}

impl AccessSize {
    /// Width in bytes.
    #[inline]
    pub fn bytes(self) -> u32 {
        match self {
            AccessSize::Byte => 1,
            AccessSize::Half => 2,
            AccessSize::Word => 4,
        }
    }

    /// Width in bits.
    #[inline]
    pub fn bits(self) -> u32 {
        self.bytes() * 8
    }

    /// The size for a width in bytes (1, 2 or 4).
    pub fn from_bytes(n: u32) -> Option<Self> {
        match n {
            1 => Some(AccessSize::Byte),
            2 => Some(AccessSize::Half),
            4 => Some(AccessSize::Word),
            _ => None,
        }
    }
}

/// Index of a device in its bus.
pub type DeviceId = usize;

/// A memory-mapped peripheral.
pub trait Device {
    /// Short name for traces and diagnostics, e.g. "pl011-uart0".
    fn name(&self) -> &str;

    /// Read `size` bytes at `offset` from the device's base.
    fn read(&mut self, ctx: &mut DeviceContext, offset: u32, size: AccessSize) -> u32;

    /// Write `size` bytes of `value` at `offset` from the device's base.
    fn write(&mut self, ctx: &mut DeviceContext, offset: u32, size: AccessSize, value: u32);

    /// A deadline set with [`DeviceContext::set_deadline`] has been reached.
    fn timer_expired(&mut self, _ctx: &mut DeviceContext, _slot: TimerSlot) {}

    /// Interrupt controller only: some interrupt line changed level; recompute the CPUs'
    /// IRQ/FIQ inputs (see [`crate::Bus::set_interrupt_controller`]).
    fn interrupt_lines_changed(&mut self, _ctx: &mut DeviceContext) {}

    /// Bytes from the host for this device (console input), delivered by the machine at a
    /// deterministic point in virtual time (see [`crate::Bus::deliver_host_input`]).
    fn host_input(&mut self, _ctx: &mut DeviceContext, _data: &[u8]) {}

    /// Called after [`Device::load_state`] (and after the bus's own state is back) for a device
    /// whose state reaches beyond its registers: a ROM device sets its memory's view again.
    fn state_loaded(&mut self, _ctx: &mut DeviceContext) {}

    /// Everything guest-visible about this device, as bytes made with
    /// [`crate::state::encode`] (see [`crate::state`] for what belongs in it). A device with no
    /// state returns an empty vector. Interrupt line levels and timer deadlines live in the bus
    /// and are saved there; the [`TimerSlot`]s a device holds are part of its own state.
    fn save_state(&self) -> Vec<u8>;

    /// Put back a state made by [`Device::save_state`] of a device built the same way. Host
    /// resources (files, the console) stay as they are. A state that does not fit is an error,
    /// and the device may then be left half-restored: the caller discards the machine.
    fn load_state(&mut self, _state: &[u8]) -> Result<(), crate::state::StateError> {
        Err(crate::state::StateError(format!(
            "{} cannot be restored yet",
            self.name()
        )))
    }

    /// This device as [`std::any::Any`], for an inspector that knows its type and shows more
    /// of it (a virtio-mmio transport's queues, the GIC's lines) through the type's own
    /// read-only methods. `None` (the default): the inspector shows only counts and names.
    fn as_any(&self) -> Option<&dyn std::any::Any> {
        None
    }

    /// This device as a mutable [`std::any::Any`], for a test or tool that built the device
    /// and wants it back whole (see [`crate::Bus::device_as_mut`]). `None` by default.
    fn as_any_mut(&mut self) -> Option<&mut dyn std::any::Any> {
        None
    }
}

/// What a device may touch while it handles an access or a timer.
pub struct DeviceContext<'a> {
    who: Accessor,
    device: DeviceId,
    /// Guest RAM, for DMA.
    pub memory: &'a mut PhysicalMemory,
    irq: &'a mut InterruptLines,
    clock: &'a mut VirtualClock,
    requests: &'a mut Vec<MachineRequest>,
}

impl<'a> DeviceContext<'a> {
    pub(crate) fn new(
        who: Accessor,
        device: DeviceId,
        memory: &'a mut PhysicalMemory,
        irq: &'a mut InterruptLines,
        clock: &'a mut VirtualClock,
        requests: &'a mut Vec<MachineRequest>,
    ) -> Self {
        DeviceContext {
            who,
            device,
            memory,
            irq,
            clock,
            requests,
        }
    }

    /// Ask the machine to power off or reboot (handled between rounds).
    pub fn request(&mut self, r: MachineRequest) {
        self.requests.push(r);
    }

    /// The CPU making the access (0 for timer callbacks).
    pub fn cpu(&self) -> usize {
        self.who.cpu
    }

    /// Current virtual time in nanoseconds.
    pub fn now(&self) -> u64 {
        self.who.time
    }

    /// Drive shared interrupt line `id` (a GIC interrupt ID, 32 and up).
    pub fn set_spi(&mut self, id: u32, level: bool) {
        self.irq.set_spi(id, level);
    }

    /// Drive private interrupt `id` (16..31) of CPU `cpu`.
    pub fn set_ppi(&mut self, cpu: usize, id: u32, level: bool) {
        self.irq.set_ppi(cpu, id, level);
    }

    /// The interrupt lines, for the interrupt controller itself.
    pub fn irq_lines(&mut self) -> &mut InterruptLines {
        self.irq
    }

    /// Allocate a new timer slot owned by this device.
    pub fn new_timer_slot(&mut self) -> TimerSlot {
        self.clock.new_slot(self.device)
    }

    /// Arrange for `timer_expired(slot)` at virtual time `when` (replacing any earlier deadline
    /// of that slot).
    pub fn set_deadline(&mut self, slot: TimerSlot, when: u64) {
        self.clock.set_deadline(slot, when);
    }

    /// Say what reads of this device's ROM device region show (see
    /// [`crate::Bus::add_rom_device`]); nothing for other devices.
    pub fn set_rom_view(&mut self, view: crate::RomView) {
        self.memory.set_rom_view(self.device, view);
    }

    /// Cancel the deadline of `slot`.
    pub fn cancel_deadline(&mut self, slot: TimerSlot) {
        self.clock.cancel(slot);
    }
}

struct Mapping {
    base: u32,
    size: u32,
    device: Box<dyn Device>,
}

/// The devices of a bus, sorted by base address.
#[derive(Default)]
pub(crate) struct DeviceMap {
    /// Devices in insertion order (their `DeviceId`s).
    mappings: Vec<Mapping>,
    /// Indices into `mappings`, sorted by base address, for the lookup.
    by_address: Vec<usize>,
}

impl DeviceMap {
    pub(crate) fn insert(&mut self, base: u32, size: u32, device: Box<dyn Device>) -> Result<DeviceId, BusError> {
        if size == 0 || u64::from(base) + u64::from(size) > 1 << 32 {
            return Err(BusError::BadDeviceRange {
                device: device.name().to_string(),
                base,
                size,
            });
        }
        for m in &self.mappings {
            let (a, b) = (u64::from(m.base), u64::from(base));
            if a < b + u64::from(size) && b < a + u64::from(m.size) {
                return Err(BusError::DeviceOverlap {
                    device: device.name().to_string(),
                    base,
                    other: m.device.name().to_string(),
                    other_base: m.base,
                });
            }
        }
        let id = self.mappings.len();
        self.mappings.push(Mapping { base, size, device });
        self.by_address.push(id);
        let mappings = &self.mappings;
        self.by_address.sort_by_key(|&i| mappings[i].base);
        Ok(id)
    }

    /// The device holding `pa` and the offset of `pa` inside it.
    pub(crate) fn find(&self, pa: u32) -> Option<(DeviceId, u32)> {
        let pos = self.by_address.partition_point(|&i| self.mappings[i].base <= pa);
        let id = *self.by_address.get(pos.checked_sub(1)?)?;
        let m = &self.mappings[id];
        let offset = pa - m.base;
        (offset < m.size).then_some((id, offset))
    }

    pub(crate) fn device_mut(&mut self, id: DeviceId) -> &mut dyn Device {
        self.mappings[id].device.as_mut()
    }

    /// How many devices there are (ids are `0..len`).
    pub(crate) fn len(&self) -> usize {
        self.mappings.len()
    }

    pub(crate) fn device(&self, id: DeviceId) -> Option<&dyn Device> {
        self.mappings.get(id).map(|m| m.device.as_ref())
    }

    pub(crate) fn map(&self) -> Vec<(DeviceId, u32, u32, &str)> {
        self.by_address
            .iter()
            .map(|&i| {
                let m = &self.mappings[i];
                (i, m.base, m.size, m.device.name())
            })
            .collect()
    }

    /// Every device, in insertion (id) order.
    pub(crate) fn devices(&self) -> impl Iterator<Item = &dyn Device> {
        self.mappings.iter().map(|m| m.device.as_ref())
    }

    pub(crate) fn describe(&self) -> Vec<(u32, u32, String)> {
        self.by_address
            .iter()
            .map(|&i| {
                let m = &self.mappings[i];
                (m.base, m.size, m.device.name().to_string())
            })
            .collect()
    }
}
