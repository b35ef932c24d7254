//! The ARM PrimeCell Color LCD Controller PL111 (CLCD; *PrimeCell Color LCD Controller (PL111)
//! Technical Reference Manual*, ARM DDI 0293, chapter 3 "Programmer's Model"): the boards'
//! display. The motherboard has one (its framebuffer in the 8 MiB video RAM) and the A9
//! daughterboard another. Linux 6.1 binds them with the `clcd-pl11x` fbdev driver when the
//! device tree describes the panel, and shows its `fbcon` console there.
//!
//! | offset | register | |
//! |---|---|---|
//! | 0x00 | LCDTiming0 | `[7:2]` pixels per line / 16 − 1, porches and sync width |
//! | 0x04 | LCDTiming1 | `[9:0]` lines per panel − 1, porches and sync width |
//! | 0x08 / 0x0c | LCDTiming2 / LCDTiming3 | clock and polarity (stored) |
//! | 0x10 / 0x14 | LCDUPBASE / LCDLPBASE | the framebuffer's address (upper and lower panel) |
//! | 0x18 | LCDControl | bit 0 LCDEN, `[3:1]` bits per pixel, bit 5 TFT, bit 8 BGR, bit 9 BEBO, bit 10 BEPO, bit 11 LCDPWR |
//! | 0x1c | LCDIMSC | interrupt mask (the PL110 has these two the other way round) |
//! | 0x20 / 0x24 / 0x28 | LCDRIS / LCDMIS / LCDICR | raw and masked interrupt status, clear |
//! | 0x2c / 0x30 | LCDUPCURR / LCDLPCURR | current address: the base (as QEMU) |
//! | 0x200..0x3fc | the palette | 256 entries, two per word: `[4:0]` red, `[9:5]` green, `[14:10]` blue, bit 15 intensity |
//! | 0xfe0.. | IDs | 0x11 0x11 0x24 0x00 0x0d 0xf0 0x05 0xb1 |
//!
//! **The picture** (TRM 2.4 "Pixel formats"): `[3:1]` of LCDControl selects 1, 2, 4 or 8 bits
//! per pixel through the palette, 16 bits 1:5:5:5 (4), 24 bits in a 32-bit word (5), 16 bits
//! 5:6:5 (6) or 12 bits 4:4:4 (7). With BGR clear the lowest bits of a pixel are red (the
//! `arm,pl11x,tft-r0g0b0-pads = <0 8 16>` wiring of the vexpress); BGR swaps red and blue.
//! Pixels smaller than a byte are packed from the least significant bit unless BEPO is set;
//! BEBO makes the bytes of each word big-endian. The size comes from the timing registers:
//! 16 × (PPL + 1) pixels per line, LPP + 1 lines. The display shows only while LCDEN and
//! LCDPWR are both set.
//!
//! As QEMU 7.2 (`hw/display/pl110.c`), which this follows for every register: no interrupt is
//! ever raised (there is no vertical refresh to report), the current-address registers read
//! the bases, and the cursor registers of the PL111 (0xc00..) read as zero.
//!
//! The controller never reads memory by itself: the picture is made when someone looks
//! ([`render`]: `--screenshot-at`), from the registers and guest RAM at that exact point of
//! the guest's execution, so the same run gives the same pixels. The registers are shared
//! with the machine through a [`Display`] handle.
//!
//! Saved state: every register and the raw palette.

use crate::{primecell_id, state_error, truncate};
use armvex_bus::{AccessSize, Device, DeviceContext, PhysicalMemory, StateError, state};
use serde::{Deserialize, Serialize};
use std::cell::RefCell;
use std::rc::Rc;

const ID: [u8; 8] = [0x11, 0x11, 0x24, 0x00, 0x0d, 0xf0, 0x05, 0xb1];

/// Register offsets (PL111 TRM, ARM DDI 0293, §3.2, Table 3-1).
pub mod regs {
    /// LCDTiming0..3, four words: horizontal, vertical, clock and signal polarity, line end.
    pub const LCD_TIMING0: u32 = 0x000;
    /// The last timing register.
    pub const LCD_TIMING3: u32 = 0x00c;
    /// LCDUPBASE: upper panel frame base address.
    pub const LCD_UPBASE: u32 = 0x010;
    /// LCDLPBASE: lower panel frame base address.
    pub const LCD_LPBASE: u32 = 0x014;
    /// LCDControl.
    pub const LCD_CONTROL: u32 = 0x018;
    /// LCDIMSC: interrupt mask set/clear.
    pub const LCD_IMSC: u32 = 0x01c;
    /// LCDRIS: raw interrupt status.
    pub const LCD_RIS: u32 = 0x020;
    /// LCDMIS: masked interrupt status.
    pub const LCD_MIS: u32 = 0x024;
    /// LCDICR: interrupt clear, write-only.
    pub const LCD_ICR: u32 = 0x028;
    /// LCDUPCURR: the upper panel's current address (here: its base).
    pub const LCD_UPCURR: u32 = 0x02c;
    /// LCDLPCURR: the lower panel's current address (here: its base).
    pub const LCD_LPCURR: u32 = 0x030;
    /// LCDPalette: 128 words, two 16-bit entries each.
    pub const LCD_PALETTE: u32 = 0x200;
    /// The palette's last word.
    pub const LCD_PALETTE_LAST: u32 = 0x3fc;
}
use regs::*;

const CR_LCDEN: u32 = 1 << 0;
const CR_BGR: u32 = 1 << 8;
const CR_BEBO: u32 = 1 << 9;
const CR_BEPO: u32 = 1 << 10;
const CR_LCDPWR: u32 = 1 << 11;

/// The registers of a CLCD (what [`Pl111`] saves).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ClcdRegs {
    /// `LCDTiming0..3`: horizontal and vertical timing, clock and signal polarity.
    pub timing: [u32; 4],
    /// `LCDUPBASE`: the frame buffer's (upper panel's) base address.
    pub upbase: u32,
    /// `LCDLPBASE`: the lower panel's base address.
    pub lpbase: u32,
    /// `LCDControl`: enable, bits per pixel, BGR, power.
    pub control: u32,
    /// `LCDIMSC`: the interrupt mask.
    pub int_mask: u32,
    /// `LCDRIS`: the raw interrupt status.
    pub int_status: u32,
    /// The 256-entry colour palette, two entries per word.
    pub palette: Vec<u32>,
}

impl Default for ClcdRegs {
    fn default() -> Self {
        ClcdRegs {
            timing: [0; 4],
            upbase: 0,
            lpbase: 0,
            control: 0,
            int_mask: 0,
            int_status: 0,
            palette: vec![0; 128],
        }
    }
}

/// The machine's view of a CLCD's registers (for [`render`]).
pub type Display = Rc<RefCell<ClcdRegs>>;

/// A picture: `width` × `height` pixels, 3 bytes (red, green, blue) each, row by row.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Frame {
    /// Pixels per row.
    pub width: u32,
    /// Rows.
    pub height: u32,
    /// `width * height * 3` bytes: red, green, blue of each pixel, row by row.
    pub rgb: Vec<u8>,
}

/// A PL111 CLCD.
pub struct Pl111 {
    name: String,
    regs: Display,
}

impl Pl111 {
    /// A CLCD called `name`. (Its interrupt is never raised, as in QEMU.)
    pub fn new(name: impl Into<String>) -> Self {
        Pl111 {
            name: name.into(),
            regs: Rc::new(RefCell::new(ClcdRegs::default())),
        }
    }

    /// The handle the machine renders from.
    pub fn display(&self) -> Display {
        self.regs.clone()
    }
}

impl Device for Pl111 {
    fn name(&self) -> &str {
        &self.name
    }

    fn read(&mut self, _ctx: &mut DeviceContext, offset: u32, size: AccessSize) -> u32 {
        if let Some(id) = primecell_id(&ID, offset & !3) {
            return id;
        }
        let r = self.regs.borrow();
        let value = match offset & !3 {
            o @ LCD_PALETTE..=LCD_PALETTE_LAST => r.palette[((o - LCD_PALETTE) >> 2) as usize],
            o @ LCD_TIMING0..=LCD_TIMING3 => r.timing[((o - LCD_TIMING0) >> 2) as usize],
            LCD_UPBASE => r.upbase,
            LCD_LPBASE => r.lpbase,
            LCD_CONTROL => r.control,
            LCD_IMSC => r.int_mask,
            LCD_RIS => r.int_status,
            LCD_MIS => r.int_status & r.int_mask,
            LCD_UPCURR => r.upbase,
            LCD_LPCURR => r.lpbase,
            _ => {
                tracing::debug!("{}: read of unknown offset {offset:#x}", self.name);
                0
            }
        };
        truncate(value, size)
    }

    fn write(&mut self, _ctx: &mut DeviceContext, offset: u32, _size: AccessSize, value: u32) {
        let mut r = self.regs.borrow_mut();
        match offset & !3 {
            o @ LCD_PALETTE..=LCD_PALETTE_LAST => r.palette[((o - LCD_PALETTE) >> 2) as usize] = value,
            o @ LCD_TIMING0..=LCD_TIMING3 => r.timing[((o - LCD_TIMING0) >> 2) as usize] = value,
            LCD_UPBASE => r.upbase = value,
            LCD_LPBASE => r.lpbase = value,
            LCD_CONTROL => r.control = value,
            LCD_IMSC => r.int_mask = value,
            LCD_ICR => r.int_status &= !value,
            _ => tracing::debug!("{}: write of {value:#x} to unknown offset {offset:#x}", self.name),
        }
    }

    fn save_state(&self) -> Vec<u8> {
        let Pl111 { name: _, regs } = self;
        state::encode(&*regs.borrow())
    }

    fn load_state(&mut self, bytes: &[u8]) -> Result<(), StateError> {
        let r: ClcdRegs = state::decode(bytes, &self.name)?;
        if r.palette.len() != 128 {
            return Err(state_error(&self.name, "has a palette of the wrong size"));
        }
        *self.regs.borrow_mut() = r;
        Ok(())
    }
}

/// Expand an `n`-bit colour component to 8 bits.
fn expand(v: u32, bits: u32) -> u8 {
    let v = v & ((1 << bits) - 1);
    ((v << (8 - bits)) | (v >> (2 * bits).saturating_sub(8).min(bits))) as u8
}

/// What the CLCD whose registers are `regs` shows, read from `memory` now; `None` while the
/// display is off, its size is zero, or its framebuffer is not wholly in RAM.
pub fn render(regs: &ClcdRegs, memory: &PhysicalMemory) -> Option<Frame> {
    if regs.control & CR_LCDEN == 0 || regs.control & CR_LCDPWR == 0 {
        return None;
    }
    let width = 16 * (((regs.timing[0] >> 2) & 0x3f) + 1);
    let height = (regs.timing[1] & 0x3ff) + 1;
    let bpp_mode = (regs.control >> 1) & 7;
    let bits: u32 = match bpp_mode {
        0 => 1,
        1 => 2,
        2 => 4,
        3 => 8,
        4 | 6 | 7 => 16,
        _ => 32,
    };
    let stride = width * bits / 8;
    let mut fb = vec![0u8; (stride * height) as usize];
    memory.read_bytes(u64::from(regs.upbase), &mut fb).ok()?;
    let bgr = regs.control & CR_BGR != 0;
    let bebo = regs.control & CR_BEBO != 0;
    let bepo = regs.control & CR_BEPO != 0;
    let palette = |i: u32| -> [u8; 3] {
        let word = regs.palette[(i as usize >> 1) & 127];
        let e = if i & 1 == 0 { word & 0xffff } else { word >> 16 };
        [expand(e, 5), expand(e >> 5, 5), expand(e >> 10, 5)]
    };
    let mut rgb = Vec::with_capacity((width * height * 3) as usize);
    for y in 0..height {
        let line = &fb[(y * stride) as usize..((y + 1) * stride) as usize];
        let byte = |i: usize| line.get(i).copied().unwrap_or(0);
        for x in 0..width {
            // The pixel's bits, from the word holding it (a line of 16 one-bit pixels is
            // only half a word).
            let bit = x * bits;
            let word_at = ((bit / 32) * 4) as usize;
            let mut word = u32::from_le_bytes([byte(word_at), byte(word_at + 1), byte(word_at + 2), byte(word_at + 3)]);
            if bebo {
                word = word.swap_bytes();
            }
            let in_word = bit % 32;
            let pixel = if bits >= 32 {
                word
            } else {
                let shift = if bits < 8 && (bebo || bepo) {
                    // Pixels big-endian within each byte.
                    let byte = in_word / 8;
                    byte * 8 + (8 - bits) - (in_word % 8)
                } else if bebo && bits < 32 {
                    32 - bits - in_word
                } else {
                    in_word
                };
                (word >> shift) & ((1 << bits) - 1)
            };
            let [c0, c1, c2] = match bpp_mode {
                0..=3 => palette(pixel),
                4 => [expand(pixel, 5), expand(pixel >> 5, 5), expand(pixel >> 10, 5)],
                6 => [expand(pixel, 5), expand(pixel >> 5, 6), expand(pixel >> 11, 5)],
                7 => [expand(pixel, 4), expand(pixel >> 4, 4), expand(pixel >> 8, 4)],
                _ => [pixel as u8, (pixel >> 8) as u8, (pixel >> 16) as u8],
            };
            // Palette entries are red-low whatever BGR says; direct colours swap with it.
            if bgr && bpp_mode > 3 {
                rgb.extend_from_slice(&[c2, c1, c0]);
            } else {
                rgb.extend_from_slice(&[c0, c1, c2]);
            }
        }
    }
    Some(Frame { width, height, rgb })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::test_support::bus_with_ram_named;
    use AccessSize::Word;
    use armvex_bus::{Accessor, Bus};

    const BASE: u32 = 0x1001_f000;
    const VRAM: u32 = 0x4c00_0000;
    const T: Accessor = Accessor { cpu: 0, time: 0 };

    fn setup() -> (Bus, usize, Display) {
        let mut bus = bus_with_ram_named("vram", VRAM, 0x80_0000);
        let clcd = Pl111::new("clcd");
        let display = clcd.display();
        let id = bus.add_device(BASE, 0x1000, Box::new(clcd)).unwrap();
        (bus, id, display)
    }

    /// A 32x2 display in mode `bpp` with control bits `extra`.
    fn mode(bus: &mut Bus, bpp: u32, extra: u32) {
        bus.write(T, BASE, Word, 1 << 2);
        bus.write(T, BASE + 4, Word, 1);
        bus.write(T, BASE + 0x10, Word, VRAM);
        bus.write(
            T,
            BASE + 0x18,
            Word,
            CR_LCDEN | CR_LCDPWR | (1 << 5) | (bpp << 1) | extra,
        );
    }

    #[test]
    fn registers_as_qemu() {
        let (mut bus, _, _) = setup();
        for i in 0..12u32 {
            bus.write(T, BASE + 4 * i, Word, 0x1111_1111 * (i + 1));
        }
        let got: Vec<u32> = (0..13).map(|i| bus.read(T, BASE + 4 * i, Word)).collect();
        assert_eq!(
            got,
            [
                0x1111_1111,
                0x2222_2222,
                0x3333_3333,
                0x4444_4444,
                0x5555_5555,
                0x6666_6666,
                0x7777_7777,
                0x8888_8888,
                0,
                0,
                0,
                0x5555_5555,
                0x6666_6666
            ]
        );
        bus.write(T, BASE + 0x200, Word, 0x8001_8000);
        assert_eq!(bus.read(T, BASE + 0x200, Word), 0x8001_8000);
        let ids: Vec<u32> = (0..8).map(|i| bus.read(T, BASE + 0xfe0 + 4 * i, Word)).collect();
        assert_eq!(ids, [0x11, 0x11, 0x24, 0x00, 0x0d, 0xf0, 0x05, 0xb1]);
        assert_eq!(bus.read(T, BASE + 0xc00, Word), 0);
    }

    #[test]
    fn pixel_formats() {
        let (mut bus, _, display) = setup();
        assert!(render(&display.borrow(), &bus.memory).is_none(), "off");
        // 5:6:5, red low: pure red, green, blue.
        bus.memory
            .write_bytes(u64::from(VRAM), &[0x1f, 0x00, 0xe0, 0x07, 0x00, 0xf8])
            .unwrap();
        mode(&mut bus, 6, 0);
        let f = render(&display.borrow(), &bus.memory).unwrap();
        assert_eq!((f.width, f.height), (32, 2));
        assert_eq!(&f.rgb[..9], &[255, 0, 0, 0, 255, 0, 0, 0, 255]);
        // BGR swaps red and blue.
        mode(&mut bus, 6, CR_BGR);
        let f = render(&display.borrow(), &bus.memory).unwrap();
        assert_eq!(&f.rgb[..3], &[0, 0, 255]);
        // 24 bits in 32.
        bus.memory
            .write_bytes(u64::from(VRAM), &[0x10, 0x20, 0x30, 0x00])
            .unwrap();
        mode(&mut bus, 5, 0);
        let f = render(&display.borrow(), &bus.memory).unwrap();
        assert_eq!(&f.rgb[..3], &[0x10, 0x20, 0x30]);
        // 8 bits through the palette; 1 bit with and without BEPO.
        bus.write(T, BASE + 0x200, Word, 0x7c00_001f);
        bus.memory
            .write_bytes(u64::from(VRAM), &[0x01, 0x00, 0x00, 0x00])
            .unwrap();
        mode(&mut bus, 3, 0);
        let f = render(&display.borrow(), &bus.memory).unwrap();
        assert_eq!(&f.rgb[..6], &[0, 0, 255, 255, 0, 0]);
        mode(&mut bus, 0, 0);
        let f = render(&display.borrow(), &bus.memory).unwrap();
        assert_eq!(&f.rgb[..6], &[0, 0, 255, 255, 0, 0], "bit 0 is the first pixel");
        mode(&mut bus, 0, CR_BEPO);
        let f = render(&display.borrow(), &bus.memory).unwrap();
        assert_eq!(&f.rgb[21..24], &[0, 0, 255], "bit 0 is the eighth pixel");
        // A framebuffer outside RAM shows nothing.
        bus.write(T, BASE + 0x10, Word, 0x1000_0000);
        assert!(render(&display.borrow(), &bus.memory).is_none());
    }

    #[test]
    fn state_round_trip_and_damaged_states() {
        let (mut a, _, _) = setup();
        mode(&mut a, 6, CR_BGR);
        a.write(T, BASE + 0x204, Word, 0x1234_5678);
        let saved = a.save_state();
        let (mut b, _, display) = setup();
        b.load_state(&saved).unwrap();
        assert_eq!(b.save_state(), saved);
        assert_eq!(display.borrow().palette[1], 0x1234_5678, "the machine's handle sees it");
        let valid = saved.devices[0].1.clone();
        crate::state_tests::check_damaged_states(&valid, |bytes| {
            let (mut bus, id, display) = setup();
            crate::state_tests::load_device(&mut bus, id, bytes)?;
            for off in (0..0x1000).step_by(4) {
                bus.read(T, BASE + off, Word);
            }
            let _ = render(&display.borrow(), &bus.memory);
            Ok(())
        });
    }

    #[test]
    fn random_registers_never_panic_the_renderer() {
        let (mut bus, _, display) = setup();
        let mut x = 0x1234_5678_9abc_def1u64;
        for _ in 0..3000 {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            let off = ((x >> 8) as u32 & 0x3f) * 4;
            let mut value = (x >> 32) as u32;
            if off == 0x10 {
                value = VRAM + (value & 0xff_ffff);
            }
            bus.write(T, BASE + off, Word, value);
            let _ = render(&display.borrow(), &bus.memory);
        }
    }
}
