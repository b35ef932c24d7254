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
//! | 0xe8 write to buffer, count - 1, count words, 0xd0 | 3 + n | the words go into a 4 KiB buffer (2 KiB per chip), stored by the confirm (see below) |
//! | 0x60 lock setup, then 0x01 lock / 0xd0 unlock | 2 | accepted, no lock is kept (as QEMU) |
//!
//! Status bits: 0x80 ready (set by every operation), 0x20 erase error, 0x10 program error
//! (a read-only flash sets them instead of changing its bytes). Any other command sequence is
//! ignored and the flash returns to read-array mode.
//!
//! Programming stores the data as given (a real chip can only clear bits; QEMU overwrites).
//!
//! **Write to buffer**, as the QEMU oracle does it (Debian's 7.2 carries QEMU 9.0's update
//! buffer): the cycle that gives the count also opens the buffer's window, the 4 KiB-aligned
//! 4 KiB holding *that cycle's* address, filled with the flash's bytes there. Data words inside
//! the window go into the buffer; a word outside it sets the program error bit (0x10). The
//! confirm (0xd0) stores the whole window, unless the program error bit is set (from any earlier
//! operation too, until a clear status): then, as for any other cycle, the buffer is dropped and
//! the flash reads the array. (U-Boot gives the count at the erase block's base, so its
//! buffered writes beyond a block's first 4 KiB fail under QEMU, and here.)
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

use crate::error::DeviceError;
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
    /// Manufacturer code (read in query mode at address 0).
    pub manufacturer: u16,
    /// Device code (read in query mode at address 1).
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

/// The command codes (Intel's command set, as in the module docs' table; QEMU
/// `hw/block/pflash_cfi01.c`).
mod cmd {
    /// Not a CFI command: the command register in read-array mode (QEMU's reset value), which
    /// also reads the array when written.
    pub const ARRAY_MODE: u8 = 0x00;
    /// Lock a block (second cycle of LOCK_SETUP).
    pub const LOCK_BLOCK: u8 = 0x01;
    /// Word program, alternative code.
    pub const PROGRAM_ALT: u8 = 0x10;
    /// Block erase (then CONFIRM).
    pub const BLOCK_ERASE: u8 = 0x20;
    /// Word program: the next cycle's data is stored.
    pub const PROGRAM: u8 = 0x40;
    /// Clear the status register.
    pub const CLEAR_STATUS: u8 = 0x50;
    /// Block lock setup (then LOCK_BLOCK, or CONFIRM to unlock).
    pub const LOCK_SETUP: u8 = 0x60;
    /// Read the status register.
    pub const READ_STATUS: u8 = 0x70;
    /// Read the identifier (manufacturer and device codes).
    pub const READ_IDENTIFIER: u8 = 0x90;
    /// CFI query: read the CFI table.
    pub const CFI_QUERY: u8 = 0x98;
    /// Confirm an erase, an unlock or a buffered write.
    pub const CONFIRM: u8 = 0xd0;
    /// Write to buffer: count - 1, the words, then CONFIRM.
    pub const WRITE_TO_BUFFER: u8 = 0xe8;
    /// AMD's reset, read as read array.
    pub const AMD_RESET: u8 = 0xf0;
    /// Read array.
    pub const READ_ARRAY: u8 = 0xff;
}
use cmd::*;

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
    /// Write to buffer: the window's offset and its bytes, while a buffer is open.
    buffer: Option<(u32, Vec<u8>)>,
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
    ) -> Result<CfiFlash, DeviceError> {
        let name = name.into();
        if let Some(d) = &disk {
            let len = d.borrow().len();
            if len != u64::from(config.size) {
                return Err(DeviceError::FlashImageSize {
                    image: d.borrow().describe(),
                    size: config.size,
                    len,
                });
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
                buffer: None,
            },
        })
    }

    /// The bytes the flash starts with: its image's, or zeros without one. Chunks of zeros are
    /// left out (memory starts zeroed). Calls `store(offset, bytes)` for the rest; its error
    /// type is the caller's, as long as a [`DeviceError`] converts into it.
    pub fn initial_contents<E: From<DeviceError>>(
        &self,
        mut store: impl FnMut(u32, &[u8]) -> Result<(), E>,
    ) -> Result<(), E> {
        let Some(disk) = &self.disk else { return Ok(()) };
        let disk = disk.borrow();
        let mut chunk = vec![0u8; 1 << 20];
        let mut offset = 0u32;
        while offset < self.config.size {
            disk.read_at(u64::from(offset), &mut chunk)
                .map_err(|source| DeviceError::FlashRead {
                    image: disk.describe(),
                    source,
                })?;
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
            ARRAY_MODE => RomView::Array,
            READ_IDENTIFIER => {
                let mut words = vec![0u32; 256];
                words[0] = both(u32::from(self.config.manufacturer));
                words[1] = both(u32::from(self.config.device));
                RomView::Words { words, repeat: true }
            }
            CFI_QUERY => RomView::Words {
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
        self.s.cmd = ARRAY_MODE;
        self.s.wcycle = 0;
        self.s.buffer = None;
    }

    /// The write buffer's size: 2^n bytes per chip (CFI entry 0x2a), for every chip.
    fn buffer_size(&self) -> u32 {
        (1 << self.cfi[0x2a]) * self.config.chips()
    }

    /// Store `data` at `offset` in the memory and the image (a program or an erase).
    fn store(&mut self, ctx: &mut DeviceContext, offset: u32, data: &[u8]) {
        if ctx.memory.load_bytes(u64::from(self.base + offset), data).is_err() {
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
                ARRAY_MODE | AMD_RESET | READ_ARRAY => self.read_array(),
                PROGRAM_ALT | PROGRAM | LOCK_SETUP | CFI_QUERY => {
                    self.s.cmd = cmd;
                    self.s.wcycle = 1;
                }
                BLOCK_ERASE => {
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
                CLEAR_STATUS => {
                    self.s.status = 0;
                    self.read_array();
                }
                READ_STATUS | READ_IDENTIFIER => self.s.cmd = cmd,
                WRITE_TO_BUFFER => {
                    self.s.status |= STATUS_READY;
                    self.s.cmd = cmd;
                    self.s.wcycle = 1;
                }
                _ => self.unknown(offset, value),
            },
            1 => match self.s.cmd {
                PROGRAM_ALT | PROGRAM => {
                    self.program(ctx, offset, size, value);
                    self.flush();
                    self.s.wcycle = 0;
                }
                BLOCK_ERASE | LOCK_SETUP if cmd == CONFIRM || (self.s.cmd == LOCK_SETUP && cmd == LOCK_BLOCK) => {
                    self.s.wcycle = 0;
                    self.s.status |= STATUS_READY;
                }
                BLOCK_ERASE if cmd != READ_ARRAY => self.unknown(offset, value),
                WRITE_TO_BUFFER => {
                    let bits = 8 * self.config.device_width;
                    self.s.counter = u64::from(value & (u32::MAX >> (32 - bits)));
                    self.s.wcycle = 2;
                    // The buffer's window: where this cycle writes.
                    let window = offset & !(self.buffer_size() - 1);
                    let mut bytes = vec![0; self.buffer_size() as usize];
                    if ctx
                        .memory
                        .read_bytes(u64::from(self.base + window), &mut bytes)
                        .is_err()
                    {
                        tracing::warn!("{}: cannot read the flash at {window:#x}", self.name);
                    }
                    self.s.buffer = Some((window, bytes));
                }
                // In query mode only read array leaves (QEMU stays in it otherwise).
                CFI_QUERY if cmd != READ_ARRAY => {}
                _ => self.read_array(),
            },
            2 if self.s.cmd == WRITE_TO_BUFFER => {
                match &mut self.s.buffer {
                    Some((window, bytes)) if !self.read_only => {
                        let n = size.bytes();
                        if offset < *window || offset + n > *window + bytes.len() as u32 {
                            self.s.status |= STATUS_PROGRAM_ERROR;
                        } else {
                            let at = (offset - *window) as usize;
                            bytes[at..at + n as usize].copy_from_slice(&value.to_le_bytes()[..n as usize]);
                        }
                    }
                    _ => self.s.status |= STATUS_PROGRAM_ERROR,
                }
                self.s.status |= STATUS_READY;
                if self.s.counter == 0 {
                    self.s.wcycle = 3;
                }
                self.s.counter = self.s.counter.wrapping_sub(1);
            }
            3 if self.s.cmd == WRITE_TO_BUFFER && cmd == CONFIRM && self.s.status & STATUS_PROGRAM_ERROR == 0 => {
                if let Some((window, bytes)) = self.s.buffer.take() {
                    self.store(ctx, window, &bytes);
                    self.flush();
                }
                self.s.wcycle = 0;
                self.s.status |= STATUS_READY;
            }
            3 if self.s.cmd == WRITE_TO_BUFFER => self.read_array(),
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
        ctx.memory.read(u64::from(self.base + offset), size).unwrap_or(0)
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
        let known = [
            ARRAY_MODE,
            PROGRAM_ALT,
            BLOCK_ERASE,
            PROGRAM,
            LOCK_SETUP,
            READ_STATUS,
            READ_IDENTIFIER,
            CFI_QUERY,
            WRITE_TO_BUFFER,
        ];
        if !known.contains(&s.cmd) || s.wcycle > 3 {
            return Err(state_error(&self.name, "holds a command the flash cannot be in"));
        }
        if let Some((window, bytes)) = &s.buffer {
            let size = self.buffer_size();
            if bytes.len() != size as usize || window % size != 0 || *window >= self.config.size {
                return Err(state_error(&self.name, "holds a write buffer the flash cannot have"));
            }
        }
        self.s = s;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use AccessSize::{Byte, Half, Word};
    use armvex_bus::{Accessor, Bus, PhysicalMemory, RamAliasSpec, RamRegionSpec};
    use armvex_virtio::{DiskImage, DiskMode};
    use std::cell::RefCell;
    use std::rc::Rc;

    const BASE: u32 = 0x4000_0000;
    const SMALL: CfiFlashConfig = CfiFlashConfig {
        size: 1 << 20,
        ..CfiFlashConfig::VEXPRESS
    };
    const CPU0: Accessor = Accessor { cpu: 0, time: 0 };

    fn cmd(c: u32) -> u32 {
        c | c << 16
    }

    /// A bus with a 1 MiB flash at BASE (and its alias at 0) on `disk`.
    fn bus(disk: Option<SharedDisk>, read_only: bool) -> Bus {
        let memory = PhysicalMemory::with_aliases(
            &[RamRegionSpec {
                name: "flash0".into(),
                base: u64::from(BASE),
                size: u64::from(SMALL.size),
            }],
            &[RamAliasSpec {
                of: "flash0".into(),
                base: 0,
                size: u64::from(SMALL.size),
            }],
        )
        .unwrap();
        let mut bus = Bus::new(memory);
        bus.memory.set_read_only("flash0").unwrap();
        let flash = CfiFlash::new("flash0", SMALL, BASE, disk, read_only).unwrap();
        let mut loads = Vec::new();
        flash
            .initial_contents(|offset, bytes| {
                loads.push((offset, bytes.to_vec()));
                Ok::<(), DeviceError>(())
            })
            .unwrap();
        for (offset, bytes) in loads {
            bus.memory.load_bytes(u64::from(BASE + offset), &bytes).unwrap();
        }
        bus.add_rom_device("flash0", Box::new(flash)).unwrap();
        bus
    }

    fn disk_with(pattern: impl Fn(usize) -> u8) -> SharedDisk {
        let mut d = DiskImage::temporary(u64::from(SMALL.size)).unwrap();
        let bytes: Vec<u8> = (0..SMALL.size as usize).map(pattern).collect();
        d.write_at(0, &bytes).unwrap();
        Rc::new(RefCell::new(d))
    }

    fn rd(bus: &mut Bus, a: u32) -> u32 {
        bus.read(CPU0, a, Word)
    }

    fn wr(bus: &mut Bus, a: u32, v: u32) {
        bus.write(CPU0, a, Word, v);
    }

    #[test]
    fn identifier_query_and_status() {
        let mut b = bus(None, false);
        assert_eq!(rd(&mut b, BASE), 0, "an empty flash reads zeros");
        wr(&mut b, BASE, cmd(0x90));
        assert_eq!((rd(&mut b, BASE), rd(&mut b, BASE + 4)), (0x0089_0089, 0x0018_0018));
        assert_eq!(rd(&mut b, BASE + 0x404), 0x0018_0018, "repeats every 256 words");
        assert_eq!(b.read(CPU0, BASE + 4, Half), 0x0018);
        wr(&mut b, 0, cmd(0xff));
        assert_eq!(rd(&mut b, BASE + 4), 0, "read array through the alias");
        wr(&mut b, BASE + 0x55 * 4, cmd(0x98));
        let qry: Vec<u32> = (0x10..0x13).map(|i| rd(&mut b, BASE + 4 * i)).collect();
        assert_eq!(qry, [0x0051_0051, 0x0052_0052, 0x0059_0059]);
        // 256 KiB blocks are 128 KiB per chip; four blocks of a 1 MiB flash.
        assert_eq!(rd(&mut b, BASE + 0x2d * 4) & 0xff, 3);
        assert_eq!(rd(&mut b, BASE + 0x30 * 4) & 0xff, 2);
        assert_eq!(rd(&mut b, BASE + 0x27 * 4) & 0xff, 19, "a 512 KiB chip");
        assert_eq!(rd(&mut b, BASE + 0x52 * 4), 0);
        wr(&mut b, BASE, cmd(0xf0));
        assert_eq!(rd(&mut b, BASE + 0x40), 0x0051_0051, "only read array leaves a query");
        wr(&mut b, BASE, cmd(0x70));
        assert_eq!(rd(&mut b, BASE + 0x40), 0x0051_0051, "even read status");
        wr(&mut b, BASE, cmd(0xff));
        wr(&mut b, BASE, cmd(0x70));
        assert_eq!(rd(&mut b, BASE + 0x1234), 0x0080_0080);
        assert_eq!(b.read(CPU0, BASE, Byte), 0x80);
        wr(&mut b, BASE, cmd(0x50));
        assert_eq!(rd(&mut b, BASE), 0, "clear status reads the array");
        wr(&mut b, BASE, cmd(0x70));
        assert_eq!(rd(&mut b, BASE), 0, "and the status is 0");
        wr(&mut b, BASE, cmd(0x5a));
        assert_eq!(b.memory.rom_view(0), Some(&RomView::Array), "unknown: read array");
    }

    #[test]
    fn erase_program_and_buffered_write_reach_the_image() {
        let disk = disk_with(|i| i as u8);
        let mut b = bus(Some(disk.clone()), false);
        assert_eq!(rd(&mut b, BASE + 0x4_0004), 0x0706_0504, "the image's bytes");
        wr(&mut b, BASE + 0x4_0100, cmd(0x20));
        wr(&mut b, BASE + 0x4_0100, cmd(0xd0));
        assert_eq!(rd(&mut b, BASE), 0x0080_0080);
        wr(&mut b, BASE, cmd(0xff));
        assert_eq!(rd(&mut b, BASE + 0x4_0000), 0xffff_ffff);
        assert_eq!(rd(&mut b, BASE + 0x7_fffc), 0xffff_ffff);
        assert_eq!(rd(&mut b, BASE + 0x8_0000), 0x0302_0100, "the next block is kept");
        wr(&mut b, BASE + 0x4_0010, cmd(0x40));
        wr(&mut b, BASE + 0x4_0010, 0x1234_5678);
        wr(&mut b, BASE, cmd(0x10));
        b.write(CPU0, BASE + 0x4_0016, Half, 0xbeef);
        wr(&mut b, BASE + 0x4_0020, cmd(0xe8));
        wr(&mut b, BASE + 0x4_0020, cmd(1));
        wr(&mut b, BASE + 0x4_0020, 0xaaaa_aaaa);
        wr(&mut b, BASE + 0x4_0024, 0xbbbb_bbbb);
        wr(&mut b, BASE + 0x4_0020, cmd(0xd0));
        assert_eq!(rd(&mut b, BASE), 0x0080_0080);
        wr(&mut b, BASE, cmd(0xff));
        let mut image = [0u8; 0x30];
        disk.borrow().read_at(0x4_0000, &mut image).unwrap();
        let word = |i: usize| u32::from_le_bytes(image[i..i + 4].try_into().unwrap());
        assert_eq!(
            [word(0), word(0x10), word(0x14), word(0x20), word(0x24), word(0x28)],
            [
                0xffff_ffff,
                0x1234_5678,
                0xbeef_ffff,
                0xaaaa_aaaa,
                0xbbbb_bbbb,
                0xffff_ffff
            ]
        );
        for (offset, w) in [(0x10, 0x1234_5678), (0x14, 0xbeef_ffff), (0x24, 0xbbbb_bbbb)] {
            assert_eq!(
                rd(&mut b, BASE + 0x4_0000 + offset),
                w,
                "memory holds what the image holds"
            );
        }
    }

    #[test]
    fn the_write_buffer_takes_its_window_from_the_count_cycle() {
        let disk = disk_with(|_| 0xff);
        let mut b = bus(Some(disk.clone()), false);
        // Count at the block's base, data 8 KiB further: refused, and the confirm drops all.
        wr(&mut b, BASE + 0x2000, cmd(0xe8));
        wr(&mut b, BASE, cmd(1));
        wr(&mut b, BASE + 0xffc, 0x1111_1111);
        wr(&mut b, BASE + 0x2000, 0x2222_2222);
        assert_eq!(rd(&mut b, BASE), 0x0090_0090);
        wr(&mut b, BASE, cmd(0xd0));
        assert_eq!(
            (rd(&mut b, BASE + 0xffc), rd(&mut b, BASE + 0x2000)),
            (0xffff_ffff, 0xffff_ffff)
        );
        // The error bit still set: even a good buffer is dropped.
        wr(&mut b, BASE, cmd(0xe8));
        wr(&mut b, BASE, cmd(0));
        wr(&mut b, BASE + 8, 0x3333_3333);
        wr(&mut b, BASE, cmd(0xd0));
        assert_eq!(rd(&mut b, BASE + 8), 0xffff_ffff);
        // Cleared, the same buffer is stored, memory and image, on the confirm only.
        wr(&mut b, BASE, cmd(0x50));
        wr(&mut b, BASE, cmd(0xe8));
        wr(&mut b, BASE, cmd(0));
        wr(&mut b, BASE + 8, 0x3333_3333);
        let mut image = [0u8; 4];
        disk.borrow().read_at(8, &mut image).unwrap();
        assert_eq!(image, [0xff; 4], "nothing is stored before the confirm");
        wr(&mut b, BASE, cmd(0xd0));
        wr(&mut b, BASE, cmd(0xff));
        assert_eq!(rd(&mut b, BASE + 8), 0x3333_3333);
        disk.borrow().read_at(8, &mut image).unwrap();
        assert_eq!(image, [0x33; 4]);
    }

    #[test]
    fn a_read_only_flash_keeps_its_bytes_and_reports_errors() {
        let disk = Rc::new(RefCell::new(DiskImage::temporary(u64::from(SMALL.size)).unwrap()));
        let mut b = bus(Some(disk.clone()), true);
        wr(&mut b, BASE, cmd(0x20));
        wr(&mut b, BASE, cmd(0xd0));
        assert_eq!(rd(&mut b, BASE), 0x00a0_00a0, "erase error");
        wr(&mut b, BASE, cmd(0x40));
        wr(&mut b, BASE, 0x1234);
        assert_eq!(rd(&mut b, BASE), 0x00b0_00b0, "program error too");
        wr(&mut b, BASE, cmd(0x50));
        assert_eq!(rd(&mut b, BASE), 0);
        let mut image = vec![1u8; SMALL.size as usize];
        disk.borrow().read_at(0, &mut image).unwrap();
        assert!(image.iter().all(|&x| x == 0));
    }

    #[test]
    fn an_image_of_another_size_is_refused() {
        let disk = Rc::new(RefCell::new(DiskImage::temporary(4096).unwrap()));
        let e = CfiFlash::new("flash0", CfiFlashConfig::VEXPRESS, BASE, Some(disk), false)
            .err()
            .unwrap();
        assert_eq!(
            e.to_string(),
            "temporary disk: the flash is 64 MiB (67108864 bytes), the image has 4096 bytes"
        );
        let path = std::env::temp_dir().join(format!("armvex-pflash-ro-{}", std::process::id()));
        std::fs::write(&path, [0u8; 512]).unwrap();
        let ro = Rc::new(RefCell::new(DiskImage::open(&path, DiskMode::ReadOnly).unwrap()));
        assert!(CfiFlash::new("flash1", SMALL, BASE, Some(ro), true).is_err());
        std::fs::remove_file(path).unwrap();
    }

    #[test]
    fn the_mode_comes_back_with_a_saved_state() {
        let mut a = bus(None, false);
        wr(&mut a, BASE, cmd(0xe8));
        wr(&mut a, BASE, cmd(3));
        wr(&mut a, BASE, 0x1111_1111);
        let saved = a.save_state();
        let mut b = bus(None, false);
        b.load_state(&saved).unwrap();
        assert_eq!(b.save_state(), saved);
        assert_eq!(
            rd(&mut b, BASE + 8),
            0x0080_0080,
            "the status shows, as in the saved one"
        );
        // Both go on alike (the stored bytes are RAM, saved apart: copy them).
        let mut word = [0u8; 4];
        a.memory.read_bytes(u64::from(BASE), &mut word).unwrap();
        b.memory.load_bytes(u64::from(BASE), &word).unwrap();
        for bus in [&mut a, &mut b] {
            for i in 1..4 {
                wr(bus, BASE + 4 * i, 0x2222_0000 + i);
            }
            wr(bus, BASE, cmd(0xd0));
            wr(bus, BASE, cmd(0xff));
        }
        for i in 0..5 {
            assert_eq!(rd(&mut a, BASE + 4 * i), rd(&mut b, BASE + 4 * i));
        }
        assert_eq!(rd(&mut b, BASE + 12), 0x2222_0003);
        // Damaged states are refused.
        let mut flash = CfiFlash::new("flash0", SMALL, BASE, None, false).unwrap();
        let bad = |cmd: u8, wcycle: u8| {
            state::encode(&FlashState {
                cmd,
                wcycle,
                status: 0x80,
                counter: 0,
                buffer: None,
            })
        };
        assert!(flash.load_state(&bad(0x33, 0)).is_err());
        assert!(flash.load_state(&bad(0xe8, 4)).is_err());
        assert!(flash.load_state(&[1, 2]).is_err());
        assert!(flash.load_state(&bad(0xe8, 2)).is_ok());
    }
}
