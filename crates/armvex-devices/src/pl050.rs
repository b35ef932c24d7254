//! The ARM PrimeCell PS2 Keyboard/Mouse Interface PL050 (KMI; *PrimeCell PS2 Keyboard/Mouse
//! Interface (PL050) Technical Reference Manual*, ARM DDI 0143, chapter 3 "Programmer's
//! Model"), with a PS/2 keyboard (KMI 0) or mouse (KMI 1) behind it ([`crate::ps2`]). Linux
//! binds it with `ambakmi` (serio), then `atkbd` or `psmouse` on top.
//!
//! | offset | register | here |
//! |---|---|---|
//! | 0x00 | KMICR control | bits 0..7 stored; bit 4 RX interrupt enable, bit 3 TX interrupt enable |
//! | 0x04 | KMISTAT status | TXEMPTY (bit 6) always, RXFULL (bit 4) when a byte waits, RXPARITY (bit 2) the odd parity of the last byte read |
//! | 0x08 | KMIDATA | read: the next byte from the device; write: a byte to the device |
//! | 0x0c | KMICLKDIV | stored |
//! | 0x10 | KMIIR interrupt status | bit 0 RX (a byte waits), bit 1 TX (always: transmission is instantaneous) |
//! | 0xfe0.. | IDs | 0x50 0x10 0x04 0x00 0x0d 0xf0 0x05 0xb1 |
//!
//! As QEMU 7.2 (`hw/input/pl050.c`): a byte written to KMIDATA reaches the device at once and
//! its answer is queued at once; the interrupt line is high when a byte waits and RX
//! interrupts are enabled, or whenever TX interrupts are enabled.
//!
//! Host input (keys, mouse movement) comes through [`armvex_bus::Device::host_input`] as the
//! bytes of a [`KmiInput`], delivered by the machine at a recorded point of virtual time.
//!
//! Saved state: the registers, the last byte read, whether a byte waits (the interrupt
//! level), and the whole PS/2 device (its queue and settings).

use crate::ps2::{Keyboard, Mouse};
use crate::{primecell_id, state_error, truncate};
use armvex_bus::{AccessSize, Device, DeviceContext, StateError, state};
use serde::{Deserialize, Serialize};

const ID: [u8; 8] = [0x50, 0x10, 0x04, 0x00, 0x0d, 0xf0, 0x05, 0xb1];

/// Register offsets (PL050 TRM, ARM DDI 0143, §3.2, Table 3-1).
pub mod regs {
    /// KMICR: control.
    pub const KMICR: u32 = 0x00;
    /// KMISTAT: status, read-only.
    pub const KMISTAT: u32 = 0x04;
    /// KMIDATA: received data (read), data to transmit (write).
    pub const KMIDATA: u32 = 0x08;
    /// KMICLKDIV: the clock divisor.
    pub const KMICLKDIV: u32 = 0x0c;
    /// KMIIR: interrupt status, read-only.
    pub const KMIIR: u32 = 0x10;
}
use regs::*;

const CR_RXINTREN: u32 = 0x10;
const CR_TXINTREN: u32 = 0x08;
const STAT_TXEMPTY: u32 = 1 << 6;
const STAT_RXFULL: u32 = 1 << 4;
const STAT_RXPARITY: u32 = 1 << 2;

/// One piece of host input for a KMI, as bytes through [`Device::host_input`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum KmiInput {
    /// A key pressed or released.
    Key {
        /// The Linux input key code.
        code: u16,
        /// Pressed (else released).
        down: bool,
    },
    /// Mouse movement, wheel, and the buttons now held.
    Mouse {
        /// Movement to the right.
        dx: i16,
        /// Movement up.
        dy: i16,
        /// Wheel movement.
        dz: i8,
        /// The buttons held: bit 0 left, 1 right, 2 middle.
        buttons: u8,
    },
}

impl KmiInput {
    /// The bytes handed to the device.
    pub fn to_bytes(self) -> Vec<u8> {
        match self {
            KmiInput::Key { code, down } => {
                let c = code.to_le_bytes();
                vec![b'K', c[0], c[1], u8::from(down)]
            }
            KmiInput::Mouse { dx, dy, dz, buttons } => {
                let (x, y) = (dx.to_le_bytes(), dy.to_le_bytes());
                vec![b'M', x[0], x[1], y[0], y[1], dz as u8, buttons]
            }
        }
    }

    /// The input in `bytes` (made by [`KmiInput::to_bytes`]); `None` if they are not one.
    pub fn from_bytes(bytes: &[u8]) -> Option<KmiInput> {
        match *bytes {
            [b'K', c0, c1, d] => Some(KmiInput::Key {
                code: u16::from_le_bytes([c0, c1]),
                down: d != 0,
            }),
            [b'M', x0, x1, y0, y1, z, buttons] => Some(KmiInput::Mouse {
                dx: i16::from_le_bytes([x0, x1]),
                dy: i16::from_le_bytes([y0, y1]),
                dz: z as i8,
                buttons,
            }),
            _ => None,
        }
    }
}

/// The PS/2 device behind a KMI.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
enum Ps2 {
    Keyboard(Keyboard),
    Mouse(Mouse),
}

/// What [`Pl050`] saves.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
struct Pl050State {
    cr: u32,
    clk: u32,
    last: u8,
    pending: bool,
    ps2: Ps2,
}

/// A PL050 with its keyboard or mouse.
pub struct Pl050 {
    name: String,
    irq_id: u32,
    s: Pl050State,
}

impl Pl050 {
    /// A KMI called `name` raising GIC interrupt `irq_id`, with a keyboard (`mouse` false) or
    /// a mouse behind it.
    pub fn new(name: impl Into<String>, irq_id: u32, mouse: bool) -> Self {
        Pl050 {
            name: name.into(),
            irq_id,
            s: Pl050State {
                cr: 0,
                clk: 0,
                last: 0,
                pending: false,
                ps2: if mouse {
                    Ps2::Mouse(Mouse::default())
                } else {
                    Ps2::Keyboard(Keyboard::default())
                },
            },
        }
    }

    /// True for the mouse port.
    pub fn is_mouse(&self) -> bool {
        matches!(self.s.ps2, Ps2::Mouse(_))
    }

    fn queue_len(&self) -> usize {
        match &self.s.ps2 {
            Ps2::Keyboard(k) => k.queue.len(),
            Ps2::Mouse(m) => m.queue.len(),
        }
    }

    fn update(&mut self, ctx: &mut DeviceContext) {
        self.s.pending = self.queue_len() > 0;
        let level = (self.s.pending && self.s.cr & CR_RXINTREN != 0) || self.s.cr & CR_TXINTREN != 0;
        ctx.set_spi(self.irq_id, level);
    }
}

impl Device for Pl050 {
    fn name(&self) -> &str {
        &self.name
    }

    fn read(&mut self, ctx: &mut DeviceContext, offset: u32, size: AccessSize) -> u32 {
        if let Some(id) = primecell_id(&ID, offset & !3) {
            return id;
        }
        let value = match offset & !3 {
            KMICR => self.s.cr,
            KMISTAT => {
                let parity = self.s.last.count_ones() & 1;
                let mut stat = STAT_TXEMPTY;
                if parity != 0 {
                    stat |= STAT_RXPARITY;
                }
                if self.s.pending {
                    stat |= STAT_RXFULL;
                }
                stat
            }
            KMIDATA => {
                let (v, _) = match &mut self.s.ps2 {
                    Ps2::Keyboard(k) => k.queue.read(),
                    Ps2::Mouse(m) => m.queue.read(),
                };
                self.s.last = v;
                self.update(ctx);
                u32::from(v)
            }
            KMICLKDIV => self.s.clk,
            KMIIR => u32::from(self.s.pending) | 2,
            _ => {
                tracing::debug!("{}: read of unknown offset {offset:#x}", self.name);
                0
            }
        };
        truncate(value, size)
    }

    fn write(&mut self, ctx: &mut DeviceContext, offset: u32, _size: AccessSize, value: u32) {
        match offset & !3 {
            KMICR => self.s.cr = value & 0xff,
            KMIDATA => match &mut self.s.ps2 {
                Ps2::Keyboard(k) => k.write(value as u8),
                Ps2::Mouse(m) => m.write(value as u8),
            },
            KMICLKDIV => self.s.clk = value & 0xff,
            _ => tracing::debug!("{}: write of {value:#x} to unknown offset {offset:#x}", self.name),
        }
        self.update(ctx);
    }

    fn host_input(&mut self, ctx: &mut DeviceContext, data: &[u8]) {
        let Some(input) = KmiInput::from_bytes(data) else {
            tracing::debug!("{}: host input not understood: {data:02x?}", self.name);
            return;
        };
        match (&mut self.s.ps2, input) {
            (Ps2::Keyboard(k), KmiInput::Key { code, down }) => {
                k.key(code, down);
            }
            (Ps2::Mouse(m), KmiInput::Mouse { dx, dy, dz, buttons }) => {
                m.event(dx.into(), dy.into(), dz.into(), buttons);
            }
            _ => tracing::debug!("{}: input for the other kind of device ignored", self.name),
        }
        self.update(ctx);
    }

    fn save_state(&self) -> Vec<u8> {
        let Pl050 { name: _, irq_id: _, s } = self;
        state::encode(s)
    }

    fn load_state(&mut self, bytes: &[u8]) -> Result<(), StateError> {
        let s: Pl050State = state::decode(bytes, &self.name)?;
        let valid = match (&s.ps2, &self.s.ps2) {
            (Ps2::Keyboard(k), Ps2::Keyboard(_)) => k.is_valid(),
            (Ps2::Mouse(m), Ps2::Mouse(_)) => m.is_valid(),
            _ => {
                return Err(state_error(
                    &self.name,
                    "is of a keyboard where a mouse is, or the reverse",
                ));
            }
        };
        if !valid || s.cr > 0xff || s.clk > 0xff {
            return Err(state_error(&self.name, "holds values a KMI cannot have"));
        }
        self.s = s;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::test_support::bus_without_ram;
    use AccessSize::Word;
    use armvex_bus::{Accessor, Bus};

    const BASE: u32 = 0x1000_6000;
    const IRQ: u32 = 44;
    const T: Accessor = Accessor { cpu: 0, time: 0 };

    fn setup(mouse: bool) -> (Bus, usize) {
        let mut bus = bus_without_ram();
        let id = bus
            .add_device(BASE, 0x1000, Box::new(Pl050::new("kmi", IRQ, mouse)))
            .unwrap();
        (bus, id)
    }

    #[test]
    fn reset_values_ids_and_a_keyboard_reset() {
        let (mut bus, _) = setup(false);
        let regs: Vec<u32> = [0, 4, 0xc, 0x10].iter().map(|&o| bus.read(T, BASE + o, Word)).collect();
        assert_eq!(regs, [0, 0x40, 0, 2]);
        let ids: Vec<u32> = (0..8).map(|i| bus.read(T, BASE + 0xfe0 + 4 * i, Word)).collect();
        assert_eq!(ids, [0x50, 0x10, 0x04, 0x00, 0x0d, 0xf0, 0x05, 0xb1]);
        bus.write(T, BASE, Word, CR_RXINTREN | 4);
        bus.write(T, BASE + 8, Word, 0xff);
        assert!(bus.irq.spi_level(IRQ));
        assert_eq!(bus.read(T, BASE + 4, Word), 0x50);
        assert_eq!(bus.read(T, BASE + 8, Word), 0xfa);
        assert_eq!(bus.read(T, BASE + 4, Word), 0x50, "0xfa has even parity, 0xaa waits");
        assert_eq!(bus.read(T, BASE + 8, Word), 0xaa);
        assert!(!bus.irq.spi_level(IRQ));
        bus.write(T, BASE + 8, Word, 0xf2);
        bus.read(T, BASE + 8, Word);
        assert_eq!(bus.read(T, BASE + 8, Word), 0xab);
        assert_eq!(bus.read(T, BASE + 4, Word), 0x54, "0xab has odd parity, 0x83 waits");
        assert_eq!(bus.read(T, BASE + 0x10, Word), 3);
        assert_eq!(bus.read(T, BASE + 8, Word), 0x83);
        assert_eq!(bus.read(T, BASE + 0x10, Word), 2);
        bus.write(T, BASE, Word, CR_TXINTREN);
        assert!(bus.irq.spi_level(IRQ), "TX interrupts are always due");
    }

    #[test]
    fn host_keys_and_mouse_movement_arrive() {
        let (mut bus, id) = setup(false);
        bus.write(T, BASE, Word, CR_RXINTREN);
        bus.deliver_host_input(id, &KmiInput::Key { code: 30, down: true }.to_bytes());
        assert!(bus.irq.spi_level(IRQ));
        assert_eq!(bus.read(T, BASE + 8, Word), 0x1c);
        let mouse = KmiInput::Mouse {
            dx: 3,
            dy: -2,
            dz: 0,
            buttons: 1,
        };
        bus.deliver_host_input(id, &mouse.to_bytes());
        assert_eq!(
            bus.read(T, BASE + 4, Word) & STAT_RXFULL,
            0,
            "a keyboard ignores the mouse"
        );
        assert_eq!(KmiInput::from_bytes(&mouse.to_bytes()), Some(mouse));
        assert_eq!(KmiInput::from_bytes(b"K12"), None);

        let (mut bus, id) = setup(true);
        bus.write(T, BASE + 8, Word, 0xf4);
        assert_eq!(bus.read(T, BASE + 8, Word), 0xfa);
        bus.deliver_host_input(id, &mouse.to_bytes());
        let packet: Vec<u32> = (0..3).map(|_| bus.read(T, BASE + 8, Word)).collect();
        assert_eq!(packet, [0x29, 3, 0xfe]);
    }

    #[test]
    fn state_round_trip_and_damaged_states() {
        let (mut a, id) = setup(false);
        a.write(T, BASE, Word, CR_RXINTREN);
        a.write(T, BASE + 0xc, Word, 7);
        a.write(T, BASE + 8, Word, 0xf2);
        a.read(T, BASE + 8, Word);
        a.deliver_host_input(id, &KmiInput::Key { code: 103, down: true }.to_bytes());
        let saved = a.save_state();
        let (mut b, _) = setup(false);
        b.load_state(&saved).unwrap();
        assert_eq!(b.save_state(), saved);
        for bus in [&mut a, &mut b] {
            let bytes: Vec<u32> = (0..5).map(|_| bus.read(T, BASE + 8, Word)).collect();
            assert_eq!(bytes, [0xab, 0x83, 0xe0, 0x75, 0x75]);
            assert_eq!(bus.read(T, BASE + 0xc, Word), 7);
        }
        let (m, _) = setup(true);
        let e = crate::state_tests::load_device(&mut b, 0, &m.save_state().devices[0].1).unwrap_err();
        assert!(e.0.contains("keyboard where a mouse"), "{e}");
        let valid = saved.devices[0].1.clone();
        crate::state_tests::check_damaged_states(&valid, |bytes| {
            let (mut bus, id) = setup(false);
            crate::state_tests::load_device(&mut bus, id, bytes)?;
            for _ in 0..40 {
                for off in (0..0x20).step_by(4) {
                    bus.read(T, BASE + off, Word);
                }
            }
            bus.write(T, BASE + 8, Word, 0xff);
            bus.deliver_host_input(id, &KmiInput::Key { code: 1, down: true }.to_bytes());
            Ok(())
        });
    }

    #[test]
    fn random_accesses_never_panic() {
        let (mut bus, id) = setup(true);
        let mut x = 0x1234_5678_9abc_def0u64;
        for _ in 0..20000 {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            let off = (x as u32 >> 8) & 0xffc;
            if x & 1 == 0 {
                bus.write(T, BASE + off, Word, (x >> 32) as u32);
            } else {
                bus.read(T, BASE + off, Word);
            }
            if x % 97 == 0 {
                bus.deliver_host_input(id, &x.to_le_bytes()[..(x as usize % 8)]);
            }
        }
    }
}
