//! The ARM PrimeCell Advanced Audio CODEC Interface PL041 (AACI; *PrimeCell Advanced Audio
//! CODEC Interface (PL041) Technical Reference Manual*, ARM DDI 0173, chapter 3
//! "Programmer's Model"), with the board's National LM4549 AC'97 codec behind it, modelled
//! far enough for a driver to probe it: its identification, its register file, and the AC-link
//! slots through which the codec's registers are read and written. No sound is produced or
//! recorded: samples written to the FIFOs are dropped and the transmit FIFO always reads as
//! empty (the host has no audio here).
//!
//! | offset | registers |
//! |---|---|
//! | 0x00..0x4c | per channel (1..4, 0x14 apart): RXCR, TXCR, SR (status), ISR (interrupt status), IE (interrupt enable) |
//! | 0x50..0x64 | SL1RX, SL1TX, SL2RX, SL2TX, SL12RX, SL12TX: AC-link slots 1 and 2 (codec register address and data) |
//! | 0x68..0x88 | SLFR (slot flags), SLISTAT, SLIEN, INTCLR, MAINCR, RESET, SYNC, ALLINTS, MAINFR |
//! | 0x90.. | the channel FIFOs (writes dropped, reads zero) |
//! | 0xfe0.. | IDs 0x41 0x10 0x04 0x29 0x0d 0xf0 0x05 0xb1 (0x29: the FIFO depth QEMU configures) |
//!
//! As QEMU 7.2 (`hw/audio/pl041.c`, `lm4549.c`), which this follows: every register below
//! 0x90 holds what is written to it; then a write to SL1TX performs a codec access (bit 19 set:
//! read codec register `[18:12]` into SL1RX/SL2RX and mark both valid in SLFR; clear: write
//! SL2TX's `[19:4]` to it), a write to SL2TX marks slot 2 busy; and after every write channel
//! 1's interrupt status is recomputed from its status (TX half empty → TXINTR, TX empty and
//! idle → TXCINTR) and the interrupt line follows ISR1 & IE1. Channel 1's status resets to
//! RX empty, TX empty, TX half empty; ALLINTS reads ISR1.
//!
//! Saved state: the register file and the codec's registers.

use crate::{primecell_id, state_error, truncate};
use armvex_bus::{AccessSize, Device, DeviceContext, StateError, state};
use serde::{Deserialize, Serialize};

const ID: [u8; 8] = [0x41, 0x10, 0x04, 0x29, 0x0d, 0xf0, 0x05, 0xb1];

const REGS: usize = 0x90 / 4;
const SR1: usize = 0x08 / 4;
const ISR1: usize = 0x0c / 4;
const IE1: usize = 0x10 / 4;
const SL1RX: usize = 0x50 / 4;
const SL1TX: usize = 0x54 / 4;
const SL2RX: usize = 0x58 / 4;
const SL2TX: usize = 0x5c / 4;
const SLFR: usize = 0x68 / 4;
const ALLINTS: usize = 0x84 / 4;

// SR bits.
const RXFE: u32 = 1 << 0;
const TXFE: u32 = 1 << 1;
const TXHE: u32 = 1 << 3;
const TXBUSY: u32 = 1 << 7;
const TXUNDERRUN: u32 = 1 << 9;
// ISR bits.
const TXCINTR: u32 = 1 << 0;
const TXINTR: u32 = 1 << 2;
const URINTR: u32 = 1 << 5;
// SLFR bits.
const SL1RXBUSY: u32 = 1 << 0;
const SL2RXBUSY: u32 = 1 << 2;
const SL1RXVALID: u32 = 1 << 6;
const SL1TXEMPTY: u32 = 1 << 7;
const SL2RXVALID: u32 = 1 << 8;
const SL2TXEMPTY: u32 = 1 << 9;
const SL12TXEMPTY: u32 = 1 << 11;
const SLOT1_RW: u32 = 1 << 19;

/// The LM4549's registers at reset (AC'97 register address, value).
const CODEC_RESET: [(usize, u16); 23] = [
    (0x00, 0x0d50),
    (0x02, 0x8008),
    (0x04, 0x8000),
    (0x06, 0x8000),
    (0x0a, 0x0000),
    (0x0c, 0x8008),
    (0x0e, 0x8008),
    (0x10, 0x8808),
    (0x12, 0x8808),
    (0x14, 0x8808),
    (0x16, 0x8808),
    (0x18, 0x8808),
    (0x1a, 0x0000),
    (0x1c, 0x8000),
    (0x20, 0x0000),
    (0x22, 0x0101),
    (0x26, 0x000f),
    (0x28, 0x0001),
    (0x2a, 0x0000),
    (0x2c, 0xbb80),
    (0x32, 0xbb80),
    (0x7c, 0x4e53),
    (0x7e, 0x4331),
];

/// What [`Pl041`] saves.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
struct Pl041State {
    regs: Vec<u32>,
    codec: Vec<u16>,
}

/// A PL041 with its LM4549 codec.
pub struct Pl041 {
    name: String,
    irq_id: u32,
    s: Pl041State,
}

fn codec_reset() -> Vec<u16> {
    let mut codec = vec![0; 0x80];
    for (reg, value) in CODEC_RESET {
        codec[reg] = value;
    }
    codec
}

impl Pl041 {
    /// An AACI called `name` raising GIC interrupt `irq_id`.
    pub fn new(name: impl Into<String>, irq_id: u32) -> Self {
        let mut regs = vec![0; REGS];
        regs[SR1] = TXFE | RXFE | TXHE;
        regs[SLFR] = SL1TXEMPTY | SL2TXEMPTY | SL12TXEMPTY;
        Pl041 {
            name: name.into(),
            irq_id,
            s: Pl041State {
                regs,
                codec: codec_reset(),
            },
        }
    }

    fn codec_write(&mut self, reg: usize, value: u16) {
        match reg {
            0x00 => self.s.codec = codec_reset(),
            0x26 => self.s.codec[reg] = (value & !0xf) | (self.s.codec[reg] & 0xf),
            0x28 | 0x7c | 0x7e => tracing::debug!("{}: write to read-only codec register {reg:#x}", self.name),
            _ => self.s.codec[reg] = value,
        }
    }

    fn update_isr1(&mut self, ctx: &mut DeviceContext) {
        let sr1 = self.s.regs[SR1];
        let mut isr1 = self.s.regs[ISR1] & !(URINTR | TXINTR | TXCINTR);
        if sr1 & TXUNDERRUN != 0 {
            isr1 |= URINTR;
        }
        if sr1 & TXHE != 0 {
            isr1 |= TXINTR;
        }
        if sr1 & TXBUSY == 0 && sr1 & TXFE != 0 {
            isr1 |= TXCINTR;
        }
        self.s.regs[ISR1] = isr1;
        ctx.set_spi(self.irq_id, isr1 & self.s.regs[IE1] != 0);
    }
}

impl Device for Pl041 {
    fn name(&self) -> &str {
        &self.name
    }

    fn read(&mut self, _ctx: &mut DeviceContext, offset: u32, size: AccessSize) -> u32 {
        if let Some(id) = primecell_id(&ID, offset & !3) {
            return id;
        }
        let i = (offset >> 2) as usize;
        let value = match i {
            ALLINTS => self.s.regs[ISR1] & 0x7f,
            _ if i < REGS => self.s.regs[i],
            _ => {
                tracing::debug!("{}: read at {offset:#x} (FIFOs are not modelled) reads 0", self.name);
                0
            }
        };
        truncate(value, size)
    }

    fn write(&mut self, ctx: &mut DeviceContext, offset: u32, _size: AccessSize, value: u32) {
        let i = (offset >> 2) as usize;
        if i < REGS {
            self.s.regs[i] = value;
        }
        match i {
            SL1TX => {
                self.s.regs[SLFR] &= !SL1TXEMPTY;
                let reg = ((value >> 12) & 0x7e) as usize;
                if value & SLOT1_RW == 0 {
                    let data = ((self.s.regs[SL2TX] >> 4) & 0xffff) as u16;
                    self.codec_write(reg, data);
                } else {
                    self.s.regs[SL1RX] = value & !SLOT1_RW;
                    self.s.regs[SL2RX] = u32::from(self.s.codec[reg]) << 4;
                    self.s.regs[SLFR] &= !(SL1RXBUSY | SL2RXBUSY);
                    self.s.regs[SLFR] |= SL1RXVALID | SL2RXVALID;
                }
            }
            SL2TX => self.s.regs[SLFR] &= !SL2TXEMPTY,
            _ if i >= REGS => tracing::debug!("{}: FIFO write of {value:#x} dropped (no audio)", self.name),
            _ => {}
        }
        self.update_isr1(ctx);
    }

    fn save_state(&self) -> Vec<u8> {
        let Pl041 { name: _, irq_id: _, s } = self;
        state::encode(s)
    }

    fn load_state(&mut self, bytes: &[u8]) -> Result<(), StateError> {
        let s: Pl041State = state::decode(bytes, &self.name)?;
        if s.regs.len() != REGS || s.codec.len() != 0x80 {
            return Err(state_error(&self.name, "has the wrong number of registers"));
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

    const BASE: u32 = 0x1000_4000;
    const IRQ: u32 = 43;
    const T: Accessor = Accessor { cpu: 0, time: 0 };

    fn setup() -> (Bus, usize) {
        let mut bus = bus_without_ram();
        let id = bus.add_device(BASE, 0x1000, Box::new(Pl041::new("aaci", IRQ))).unwrap();
        (bus, id)
    }

    #[test]
    fn reset_values_as_qemu_and_interrupt_status_after_a_write() {
        let (mut bus, _) = setup();
        assert_eq!(bus.read(T, BASE + 0x08, Word), 0x0b);
        assert_eq!(bus.read(T, BASE + 0x0c, Word), 0);
        assert_eq!(bus.read(T, BASE + 0x68, Word), 0xa80);
        let ids: Vec<u32> = (0..8).map(|i| bus.read(T, BASE + 0xfe0 + 4 * i, Word)).collect();
        assert_eq!(ids, [0x41, 0x10, 0x04, 0x29, 0x0d, 0xf0, 0x05, 0xb1]);
        bus.write(T, BASE, Word, 0x1fff);
        bus.write(T, BASE + 0x10, Word, 0x7f);
        assert_eq!(bus.read(T, BASE, Word), 0x1fff);
        assert_eq!(bus.read(T, BASE + 0x0c, Word), 5);
        assert_eq!(bus.read(T, BASE + 0x84, Word), 5);
        assert!(bus.irq.spi_level(IRQ));
    }

    #[test]
    fn codec_registers_through_the_slots() {
        let (mut bus, _) = setup();
        bus.write(T, BASE + 0x54, Word, (0x7c << 12) | SLOT1_RW);
        assert_eq!(bus.read(T, BASE + 0x58, Word), 0x4e53 << 4);
        assert_eq!(bus.read(T, BASE + 0x50, Word), 0x7c << 12);
        assert_ne!(bus.read(T, BASE + 0x68, Word) & (SL1RXVALID | SL2RXVALID), 0);
        bus.write(T, BASE + 0x5c, Word, 0x1234 << 4);
        bus.write(T, BASE + 0x54, Word, 0x02 << 12);
        bus.write(T, BASE + 0x54, Word, (0x02 << 12) | SLOT1_RW);
        assert_eq!(bus.read(T, BASE + 0x58, Word), 0x1234 << 4);
        bus.write(T, BASE + 0x54, Word, 0x00 << 12);
        bus.write(T, BASE + 0x54, Word, (0x02 << 12) | SLOT1_RW);
        assert_eq!(bus.read(T, BASE + 0x58, Word), 0x8008 << 4, "a codec reset");
    }

    #[test]
    fn state_round_trip_and_damaged_states() {
        let (mut a, _) = setup();
        a.write(T, BASE + 0x5c, Word, 0x1234 << 4);
        a.write(T, BASE + 0x54, Word, 0x18 << 12);
        a.write(T, BASE + 0x10, Word, 4);
        let saved = a.save_state();
        let (mut b, _) = setup();
        b.load_state(&saved).unwrap();
        assert_eq!(b.save_state(), saved);
        assert!(b.irq.spi_level(IRQ));
        let valid = saved.devices[0].1.clone();
        crate::state_tests::check_damaged_states(&valid, |bytes| {
            let (mut bus, id) = setup();
            crate::state_tests::load_device(&mut bus, id, bytes)?;
            for off in (0..0x100).step_by(4) {
                bus.read(T, BASE + off, Word);
                bus.write(T, BASE + off, Word, 0xffff_ffff);
            }
            Ok(())
        });
    }
}
