//! CFI NOR flash with the Intel/Sharp command set, as QEMU 7.2's `pflash_cfi01` models the two
//! 64 MiB flashes of the Versatile Express motherboard (`hw/arm/vexpress.c`: two 16-bit chips
//! side by side on a 32-bit bus, 256 KiB erase blocks, manufacturer 0x89 (Intel), device 0x18).
//! The facts come from the *Common Flash Interface* specification (JEDEC JESD68) and Intel's
//! *3 Volt Intel StrataFlash Memory* datasheet (command definitions, status register), and the
//! details where QEMU differs from a real chip are QEMU's, since QEMU is the oracle.
//!
//! ## Reads
//!
//! The flash is memory: the bus maps its stored bytes (see [`armvex_bus::memory`], "ROM
//! devices"), the CPU reads and executes them at full speed, and writes come here as
//! commands. What a read returns depends on the last command ([`RomView`]):
//!
//! | mode (command) | a 32-bit read at byte offset `o` returns |
//! |---|---|
//! | read array (0xff, and at reset) | the stored bytes |
//! | read status (0x70), and after program, erase, lock, write-to-buffer | the status register of both chips: `s | s << 16` |
//! | read identifier (0x90) | word `(o / 4) % 256`: 0 the manufacturer (0x89), 1 the device (0x18), others 0; both chips' |
//! | CFI query (0x98) | entry `o / 4` of the CFI table (0 past it), both chips' |
//!
//! ## Commands (first bus cycle, then the next ones)
//!
//! | command | cycles | effect |
//! |---|---|---|
//! | 0xff read array, 0xf0 (AMD reset), 0x00 | 1 | back to the stored bytes |
//! | 0x70 read status | 1 | |
//! | 0x50 clear status | 1 | the status becomes 0 (QEMU: even "ready") and the array is read again |
//! | 0x90 read identifier, 0x98 CFI query | 1 | the query mode lasts until 0xff |
//! | 0x40 / 0x10 word program | 2 | the second cycle's data is stored at its address, with the access's width |
//! | 0x20 block erase, then 0xd0 confirm | 2 | the 256 KiB block holding the address becomes 0xff (QEMU erases at the first cycle already) |
//! | 0xe8 write to buffer, count - 1, count words, 0xd0 | 3 + n | each word is stored as it comes; the buffer is 4 KiB (2 KiB per chip) |
//! | 0x60 lock setup, then 0x01 lock / 0xd0 unlock | 2 | accepted, no lock is kept (as QEMU) |
//!
//! Status bits: 0x80 ready (set by every operation), 0x20 erase error, 0x10 program error
//! (a read-only flash sets them instead of changing its bytes). Any other command sequence is
//! ignored and the flash returns to read-array mode.
//!
//! Programming stores the data as given (a real chip can only clear bits; QEMU overwrites).
//!
//! ## The image (`--pflash FILE`)
//!
//! A flash may be backed by a disk image of exactly its size (the disk layer of
//! `armvex_virtio::disk`: `readonly=on`, `snapshot=on`, undo logs for reverse execution). Its
//! bytes are loaded at start; every program and erase goes into the image as well, which is
//! flushed to the host disk when the operation completes. A read-only image is never written:
//! program and erase fail with the status error bits. Without an image the flash reads as
//! zeros and keeps what is programmed until armvex exits, as QEMU's does without `-pflash`.
//!
//! Saved state: the command, the bus cycle, the status and the write-to-buffer count. The bytes
//! are memory (saved with RAM) and the image is a drive the machine saves itself.

use crate::state_error;
use armvex_bus::{AccessSize, Device, DeviceContext, RomView, StateError, state};
use armvex_virtio::SharedDisk;
use serde::{Deserialize, Serialize};

/// How a flash is built.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct CfiFlashConfig {
    /// Total size in bytes.
    pub size: u32,
    /// Erase block size in bytes (of the whole bank).
    pub sector_size: u32,
    /// Bus width in bytes.
    pub bank_width: u32,
    /// Width of one chip in bytes (the bank holds `bank_width / device_width` chips).
    pub device_width: u32,
    /// Manufacturer and device codes.
    pub manufacturer: u16,
    pub device: u16,
}

impl CfiFlashConfig {
    /// A flash of the Versatile Express motherboard (QEMU's `ve_pflash_cfi01_register`).
    pub const VEXPRESS: CfiFlashConfig = CfiFlashConfig {
        size: 64 << 20,
        sector_size: 256 << 10,
        bank_width: 4,
        device_width: 2,
        manufacturer: 0x89,
        device: 0x18,
    };

    fn chips(&self) -> u32 {
        self.bank_width / self.device_width
    }

    /// The CFI query table of one chip (JESD68 tables 1 to 5 and Intel's primary extended
    /// table), with QEMU's values.
    fn cfi_table(&self) -> [u8; 0x52] {
        let mut t = [0u8; 0x52];
        let blocks = self.size / self.sector_size;
        let sector_per_chip = self.sector_size / self.chips();
        let chip_size = sector_per_chip * blocks;
        t[0x10..0x13].copy_from_slice(b"QRY");
        t[0x13] = 0x01; // primary command set: Intel/Sharp extended
        t[0x15] = 0x31; // primary extended table at 0x31
        t[0x1b] = 0x45; // Vcc min 4.5 V
        t[0x1c] = 0x55; // Vcc max 5.5 V
        t[0x1f] = 0x07; // typical word program time: 2^7 us
        t[0x20] = 0x07; // typical buffer write time: 2^7 us
        t[0x21] = 0x0a; // typical block erase time: 2^10 ms
        t[0x23] = 0x04; // maximum times: 2^4 times typical
        t[0x24] = 0x04;
        t[0x25] = 0x04;
        t[0x27] = chip_size.trailing_zeros() as u8; // chip size: 2^n bytes
        t[0x28] = 0x02; // interface: x8/x16
        t[0x2a] = if self.bank_width == 1 { 0x08 } else { 0x0b }; // write buffer: 2^n bytes
        t[0x2c] = 0x01; // one erase block region
        t[0x2d] = (blocks - 1) as u8;
        t[0x2e] = ((blocks - 1) >> 8) as u8;
        t[0x2f] = (sector_per_chip >> 8) as u8;
        t[0x30] = (sector_per_chip >> 16) as u8;
        t[0x31..0x34].copy_from_slice(b"PRI");
        t[0x34] = b'1';
        t[0x35] = b'0';
        t[0x3f] = 0x01; // protection fields
        t
    }
}

const STATUS_READY: u8 = 0x80;
const STATUS_ERASE_ERROR: u8 = 0x20;
const STATUS_PROGRAM_ERROR: u8 = 0x10;

/// What [`CfiFlash`] saves.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
struct FlashState {
    /// The command being carried out (0: read array).
    cmd: u8,
    /// Which bus cycle of the command comes next (0: a new command).
    wcycle: u8,
    status: u8,
    /// Write to buffer: the words still to come, minus one.
    counter: u64,
}

/// A CFI NOR flash (see the module docs).
pub struct CfiFlash {
    name: String,
    config: CfiFlashConfig,
    /// The flash's main physical address (where its stored bytes are).
    base: u32,
    disk: Option<SharedDisk>,
    read_only: bool,
    cfi: [u8; 0x52],
    s: FlashState,
}

impl CfiFlash {
    /// A flash called `name` whose bytes are the bus memory at `base`, backed by `disk` if
    /// given (which must have the flash's size). `read_only` makes program and erase fail.
    pub fn new(
        name: impl Into<String>,
        config: CfiFlashConfig,
        base: u32,
        disk: Option<SharedDisk>,
        read_only: bool,
    ) -> Result<CfiFlash, String> {
        let name = name.into();
        if let Some(d) = &disk {
            let len = d.borrow().len();
            if len != u64::from(config.size) {
                return Err(format!(
                    "{}: the flash is {} MiB ({} bytes), the image has {len} bytes",
                    d.borrow().describe(),
                    config.size >> 20,
                    config.size
                ));
            }
        }
        Ok(CfiFlash {
            name,
            cfi: config.cfi_table(),
            config,
            base,
            disk,
            read_only,
            s: FlashState {
                cmd: 0,
                wcycle: 0,
                status: STATUS_READY,
                counter: 0,
            },
        })
    }

    /// The bytes the flash starts with: its image's, or zeros without one. Chunks of zeros are
    /// left out (memory starts zeroed). Calls `store(offset, bytes)` for the rest.
    pub fn initial_contents(&self, mut store: impl FnMut(u32, &[u8]) -> Result<(), String>) -> Result<(), String> {
        let Some(disk) = &self.disk else { return Ok(()) };
        let disk = disk.borrow();
        let mut chunk = vec![0u8; 1 << 20];
        let mut offset = 0u32;
        while offset < self.config.size {
            disk.read_at(u64::from(offset), &mut chunk)
                .map_err(|e| format!("cannot read {}: {e}", disk.describe()))?;
            for (i, page) in chunk.chunks(4096).enumerate() {
                if page.iter().any(|&b| b != 0) {
                    store(offset + (i as u32) * 4096, page)?;
                }
            }
            offset += chunk.len() as u32;
        }
        Ok(())
    }

    /// What reads show in the current mode (see the module docs).
    fn view(&self) -> RomView {
        let both = |v: u32| -> u32 {
            let bits = 8 * self.config.device_width;
            let mut w = v;
            let mut shift = bits;
            while shift < 8 * self.config.bank_width {
                w |= v << shift;
                shift += bits;
            }
            w
        };
        match self.s.cmd {
            0x00 => RomView::Array,
            0x90 => {
                let mut words = vec![0u32; 256];
                words[0] = both(u32::from(self.config.manufacturer));
                words[1] = both(u32::from(self.config.device));
                RomView::Words { words, repeat: true }
            }
            0x98 => RomView::Words {
                words: self.cfi.iter().map(|&b| both(u32::from(b))).collect(),
                repeat: false,
            },
            _ => RomView::Words {
                words: vec![both(u32::from(self.s.status))],
                repeat: true,
            },
        }
    }

    fn read_array(&mut self) {
        self.s.cmd = 0;
        self.s.wcycle = 0;
    }

    /// Store `data` at `offset` in the memory and the image (a program or an erase).
    fn store(&mut self, ctx: &mut DeviceContext, offset: u32, data: &[u8]) {
        if ctx.memory.load_bytes(self.base + offset, data).is_err() {
            tracing::warn!("{}: cannot store at offset {offset:#x}", self.name);
        }
        if let Some(disk) = &self.disk
            && let Err(e) = disk.borrow_mut().write_at(u64::from(offset), data)
        {
            tracing::warn!("{}: cannot write the flash image at {offset:#x}: {e}", self.name);
        }
    }

    /// An operation completed: make the image's writes durable on the host.
    fn flush(&mut self) {
        if let Some(disk) = &self.disk
            && let Err(e) = disk.borrow_mut().flush()
        {
            tracing::warn!("{}: cannot flush the flash image: {e}", self.name);
        }
    }

    /// Program `size` bytes of `value` at `offset` (or fail on a read-only flash).
    fn program(&mut self, ctx: &mut DeviceContext, offset: u32, size: AccessSize, value: u32) {
        if self.read_only {
            self.s.status |= STATUS_PROGRAM_ERROR;
        } else {
            let n = size.bytes() as usize;
            self.store(ctx, offset, &value.to_le_bytes()[..n]);
        }
        self.s.status |= STATUS_READY;
    }

    fn command(&mut self, ctx: &mut DeviceContext, offset: u32, size: AccessSize, value: u32) {
        let cmd = value as u8;
        match self.s.wcycle {
            0 => match cmd {
                0x00 | 0xf0 | 0xff => self.read_array(),
                0x10 | 0x40 | 0x60 | 0x98 => {
                    self.s.cmd = cmd;
                    self.s.wcycle = 1;
                }
                0x20 => {
                    let block = offset & !(self.config.sector_size - 1);
                    if self.read_only {
                        self.s.status |= STATUS_ERASE_ERROR;
                    } else {
                        let ones = vec![0xff; self.config.sector_size as usize];
                        self.store(ctx, block, &ones);
                        self.flush();
                    }
                    self.s.status |= STATUS_READY;
                    self.s.cmd = cmd;
                    self.s.wcycle = 1;
                }
                0x50 => {
                    self.s.status = 0;
                    self.read_array();
                }
                0x70 | 0x90 => self.s.cmd = cmd,
                0xe8 => {
                    self.s.status |= STATUS_READY;
                    self.s.cmd = cmd;
                    self.s.wcycle = 1;
                }
                _ => self.unknown(offset, value),
            },
            1 => match self.s.cmd {
                0x10 | 0x40 => {
                    self.program(ctx, offset, size, value);
                    self.flush();
                    self.s.wcycle = 0;
                }
                0x20 | 0x60 if cmd == 0xd0 || (self.s.cmd == 0x60 && cmd == 0x01) => {
                    self.s.wcycle = 0;
                    self.s.status |= STATUS_READY;
                }
                0x20 if cmd != 0xff => self.unknown(offset, value),
                0xe8 => {
                    let bits = 8 * self.config.device_width;
                    self.s.counter = u64::from(value & (u32::MAX >> (32 - bits)));
                    self.s.wcycle = 2;
                }
                // In query mode only read array leaves (QEMU stays in it otherwise).
                0x98 if cmd != 0xff => {}
                _ => self.read_array(),
            },
            2 if self.s.cmd == 0xe8 => {
                self.program(ctx, offset, size, value);
                if self.s.counter == 0 {
                    if self.read_only {
                        self.s.status |= STATUS_PROGRAM_ERROR;
                    }
                    self.flush();
                    self.s.wcycle = 3;
                }
                self.s.counter = self.s.counter.wrapping_sub(1);
            }
            3 if self.s.cmd == 0xe8 && cmd == 0xd0 => {
                self.s.wcycle = 0;
                self.s.status |= STATUS_READY;
            }
            3 if self.s.cmd == 0xe8 => self.read_array(),
            _ => self.unknown(offset, value),
        }
    }

    fn unknown(&mut self, offset: u32, value: u32) {
        tracing::debug!(
            "{}: unknown command sequence (offset {offset:#x}, cycle {}, command {:#x}, value {value:#x})",
            self.name,
            self.s.wcycle,
            self.s.cmd
        );
        self.read_array();
    }
}

impl Device for CfiFlash {
    fn name(&self) -> &str {
        &self.name
    }

    /// The bus answers reads from memory; this answers the same (for callers that ask the
    /// device directly).
    fn read(&mut self, ctx: &mut DeviceContext, offset: u32, size: AccessSize) -> u32 {
        ctx.memory.read(self.base + offset, size).unwrap_or(0)
    }

    fn write(&mut self, ctx: &mut DeviceContext, offset: u32, size: AccessSize, value: u32) {
        self.command(ctx, offset, size, value);
        ctx.set_rom_view(self.view());
    }

    fn state_loaded(&mut self, ctx: &mut DeviceContext) {
        ctx.set_rom_view(self.view());
    }

    fn save_state(&self) -> Vec<u8> {
        let CfiFlash {
            name: _,
            config: _,
            base: _,
            disk: _,
            read_only: _,
            cfi: _,
            s,
        } = self;
        state::encode(s)
    }

    fn load_state(&mut self, bytes: &[u8]) -> Result<(), StateError> {
        let s: FlashState = state::decode(bytes, &self.name)?;
        let known = [0x00, 0x10, 0x20, 0x40, 0x60, 0x70, 0x90, 0x98, 0xe8];
        if !known.contains(&s.cmd) || s.wcycle > 3 {
            return Err(state_error(&self.name, "holds a command the flash cannot be in"));
        }
        self.s = s;
        Ok(())
    }
}
