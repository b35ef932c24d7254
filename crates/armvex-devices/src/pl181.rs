//! The ARM PrimeCell Multimedia Card Interface PL181 (MMCI; *ARM PrimeCell Multimedia Card
//! Interface (PL180) Technical Reference Manual*, ARM DDI 0172, chapter 3 "Programmer's Model";
//! the PL181 is the PL180 with its own IDs), with an SD card in its slot ([`crate::sd`]).
//! Linux binds it with `mmci`, and the card becomes `/dev/mmcblk0`.
//!
//! | offset | register | here |
//! |---|---|---|
//! | 0x00 | MCIPower | 8 bits, stored |
//! | 0x04 | MCIClock | 8 bits, stored |
//! | 0x08 | MCIArgument | the command's argument |
//! | 0x0c | MCICommand | index `[5:0]`, bit 6 wait for a response, bit 7 long response, bit 10 enable: sends the command |
//! | 0x10 | MCIRespCmd | always 0 (as QEMU) |
//! | 0x14..0x20 | MCIResponse0..3 | the response, most significant word first |
//! | 0x24 / 0x28 | MCIDataTimer / MCIDataLength | stored (the length is 16 bits) |
//! | 0x2c | MCIDataCtrl | bit 0 enable (starts a transfer of DataLength bytes), bit 1 direction (1: card to host) |
//! | 0x30 | MCIDataCnt | bytes still to move between the card and the FIFO |
//! | 0x34 / 0x38 | MCIStatus / MCIClear | status (below) / write 1s to clear bits 0..10 |
//! | 0x3c / 0x40 | MCIMask0 / MCIMask1 | which status bits raise interrupt 0 (SPI 9) and 1 (SPI 10) |
//! | 0x48 | MCIFifoCnt | words still to move (DataCnt rounded up, as QEMU) |
//! | 0x80..0xbc | MCIFIFO | the 16-word data FIFO, little-endian bytes |
//! | 0xfe0.. | IDs | 0x81 0x11 0x04 0x00 0x0d 0xf0 0x05 0xb1 |
//!
//! Status bits: 0 CmdCrcFail, 2 CmdTimeOut (no card, or no response where one was wanted),
//! 6 CmdRespEnd, 7 CmdSent, 8 DataEnd, 10 DataBlockEnd, 12/13 Tx/RxActive, 14 TxFifoHalfEmpty,
//! 15 RxFifoHalfFull, 16/17 Tx/RxFifoFull, 18/19 Tx/RxFifoEmpty, 20/21 Tx/RxDataAvlbl.
//!
//! As QEMU 7.2 (`hw/sd/pl181.c`), which this follows: a command completes as soon as it is
//! written, and data moves between the card and the FIFO whenever the FIFO has room (reads) or
//! words (writes). The **read deferral**: after the guest takes a word from the FIFO, the FIFO
//! is refilled only when it next reads MCIStatus or MCIFifoCnt (QEMU's "linux_hack", made for
//! an old Linux driver that misbehaved when data arrived while it was emptying the FIFO);
//! Linux's `mmci` reads the status between bursts, so it always makes progress. Everything
//! happens at the moment of the access: the same guest gives the same result every run.
//!
//! The card-detect and write-protect lines go to the system registers (SYS_MCI), which the
//! machine sets when it builds the board ([`crate::SysRegsConfig::mci`]).
//!
//! Saved state: every register, the FIFO with its position and count, the deferral flag, and
//! the card's state ([`crate::sd::SdState`]); the card's image is the machine's to save.

use crate::sd::{SdCard, SdState};
use crate::{primecell_id, state_error, truncate};
use armvex_bus::{AccessSize, Device, DeviceContext, StateError, state};
use serde::{Deserialize, Serialize};

const ID: [u8; 8] = [0x81, 0x11, 0x04, 0x00, 0x0d, 0xf0, 0x05, 0xb1];

/// Register offsets (PL181 TRM, ARM DDI 0172, §3.2, Table 3-1).
pub mod regs {
    /// MCIPower: power control.
    pub const MCI_POWER: u32 = 0x00;
    /// MCIClock: clock control.
    pub const MCI_CLOCK: u32 = 0x04;
    /// MCIArgument: the command's argument.
    pub const MCI_ARGUMENT: u32 = 0x08;
    /// MCICommand: index, response type, enable; writing it sends the command.
    pub const MCI_COMMAND: u32 = 0x0c;
    /// MCIRespCmd: the index of the last command answered.
    pub const MCI_RESPCMD: u32 = 0x10;
    /// MCIResponse0: the first word of the response.
    pub const MCI_RESPONSE0: u32 = 0x14;
    /// MCIResponse1.
    pub const MCI_RESPONSE1: u32 = 0x18;
    /// MCIResponse2.
    pub const MCI_RESPONSE2: u32 = 0x1c;
    /// MCIResponse3.
    pub const MCI_RESPONSE3: u32 = 0x20;
    /// MCIDataTimer: the data timeout.
    pub const MCI_DATATIMER: u32 = 0x24;
    /// MCIDataLength: the bytes to transfer.
    pub const MCI_DATALENGTH: u32 = 0x28;
    /// MCIDataCtrl: enable, direction, mode, block size.
    pub const MCI_DATACTRL: u32 = 0x2c;
    /// MCIDataCnt: the bytes left.
    pub const MCI_DATACNT: u32 = 0x30;
    /// MCIStatus.
    pub const MCI_STATUS: u32 = 0x34;
    /// MCIClear: clears static status bits, write-only.
    pub const MCI_CLEAR: u32 = 0x38;
    /// MCIMask0: interrupt mask of the first interrupt.
    pub const MCI_MASK0: u32 = 0x3c;
    /// MCIMask1: interrupt mask of the second interrupt.
    pub const MCI_MASK1: u32 = 0x40;
    /// MCIFifoCnt: the words left to transfer through the FIFO.
    pub const MCI_FIFOCNT: u32 = 0x48;
    /// MCIFIFO: the data FIFO, sixteen words of one port.
    pub const MCI_FIFO: u32 = 0x80;
    /// The FIFO's last word.
    pub const MCI_FIFO_LAST: u32 = 0xbc;
}
use regs::*;
const FIFO_LEN: usize = 16;

const CMD_INDEX: u32 = 0x3f;
const CMD_RESPONSE: u32 = 1 << 6;
const CMD_LONGRESP: u32 = 1 << 7;
const CMD_INTERRUPT: u32 = 1 << 8;
const CMD_PENDING: u32 = 1 << 9;
const CMD_ENABLE: u32 = 1 << 10;

const DATA_ENABLE: u32 = 1 << 0;
const DATA_DIRECTION: u32 = 1 << 1;

const CMDTIMEOUT: u32 = 1 << 2;
const CMDRESPEND: u32 = 1 << 6;
const CMDSENT: u32 = 1 << 7;
const DATAEND: u32 = 1 << 8;
const DATABLOCKEND: u32 = 1 << 10;
const TXACTIVE: u32 = 1 << 12;
const RXACTIVE: u32 = 1 << 13;
const TXFIFOHALFEMPTY: u32 = 1 << 14;
const RXFIFOHALFFULL: u32 = 1 << 15;
const TXFIFOFULL: u32 = 1 << 16;
const RXFIFOFULL: u32 = 1 << 17;
const TXFIFOEMPTY: u32 = 1 << 18;
const RXFIFOEMPTY: u32 = 1 << 19;
const TXDATAAVLBL: u32 = 1 << 20;
const RXDATAAVLBL: u32 = 1 << 21;
const TX_FIFO: u32 = TXACTIVE | TXFIFOHALFEMPTY | TXFIFOFULL | TXFIFOEMPTY | TXDATAAVLBL;
const RX_FIFO: u32 = RXACTIVE | RXFIFOHALFFULL | RXFIFOFULL | RXFIFOEMPTY | RXDATAAVLBL;

/// The controller's registers and FIFO.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
struct Regs {
    power: u32,
    clock: u32,
    cmdarg: u32,
    cmd: u32,
    datatimer: u32,
    datalength: u32,
    respcmd: u32,
    response: [u32; 4],
    datactrl: u32,
    datacnt: u32,
    status: u32,
    mask: [u32; 2],
    fifo: [u32; FIFO_LEN],
    fifo_pos: usize,
    fifo_len: usize,
    /// The FIFO is refilled at the next status or FIFO count read (see the module docs).
    deferred: bool,
}

/// What [`Pl181`] saves.
#[derive(Serialize, Deserialize)]
struct Pl181State {
    regs: Regs,
    card: SdState,
}

/// A PL181 and its card slot.
pub struct Pl181 {
    name: String,
    irq_ids: [u32; 2],
    r: Regs,
    card: SdCard,
}

impl Pl181 {
    /// An MMCI called `name` raising GIC interrupts `irq_ids` (MCIINTR0, MCIINTR1), with
    /// `card` in its slot.
    pub fn new(name: impl Into<String>, irq_ids: [u32; 2], card: SdCard) -> Self {
        Pl181 {
            name: name.into(),
            irq_ids,
            r: Regs {
                power: 0,
                clock: 0,
                cmdarg: 0,
                cmd: 0,
                datatimer: 0,
                datalength: 0,
                respcmd: 0,
                response: [0; 4],
                datactrl: 0,
                datacnt: 0,
                status: 0,
                mask: [0; 2],
                fifo: [0; FIFO_LEN],
                fifo_pos: 0,
                fifo_len: 0,
                deferred: false,
            },
            card,
        }
    }

    fn update(&self, ctx: &mut DeviceContext) {
        for i in 0..2 {
            ctx.set_spi(self.irq_ids[i], self.r.status & self.r.mask[i] != 0);
        }
    }

    fn fifo_push(&mut self, value: u32) {
        if self.r.fifo_len == FIFO_LEN {
            tracing::debug!("{}: FIFO overflow", self.name);
            return;
        }
        let n = (self.r.fifo_pos + self.r.fifo_len) % FIFO_LEN;
        self.r.fifo_len += 1;
        self.r.fifo[n] = value;
    }

    fn fifo_pop(&mut self) -> u32 {
        if self.r.fifo_len == 0 {
            tracing::debug!("{}: FIFO underflow", self.name);
            return 0;
        }
        let v = self.r.fifo[self.r.fifo_pos];
        self.r.fifo_len -= 1;
        self.r.fifo_pos = (self.r.fifo_pos + 1) % FIFO_LEN;
        v
    }

    fn do_command(&mut self, now: u64) {
        let cmd = (self.r.cmd & CMD_INDEX) as u8;
        let response = self.card.command(cmd, self.r.cmdarg, now);
        let rlen = response.len();
        if self.r.cmd & CMD_RESPONSE != 0 {
            if rlen == 0 || (rlen == 4 && self.r.cmd & CMD_LONGRESP != 0) {
                self.r.status |= CMDTIMEOUT;
                return;
            }
            let word = |i: usize| u32::from_be_bytes([response[i], response[i + 1], response[i + 2], response[i + 3]]);
            self.r.response[0] = word(0);
            if rlen == 4 {
                self.r.response[1..].fill(0);
            } else {
                self.r.response[1] = word(4);
                self.r.response[2] = word(8);
                self.r.response[3] = word(12) & !1;
            }
            self.r.status |= CMDRESPEND;
        } else {
            self.r.status |= CMDSENT;
        }
    }

    /// Move data between the card and the FIFO, and recompute the FIFO status bits.
    fn fifo_run(&mut self) {
        let is_read = self.r.datactrl & DATA_DIRECTION != 0;
        if self.r.datacnt != 0 && (!is_read || self.card.data_ready()) && !self.r.deferred {
            if is_read {
                let mut n = 0;
                let mut value = 0u32;
                while self.r.datacnt != 0 && self.r.fifo_len < FIFO_LEN {
                    value |= u32::from(self.card.read_byte()) << (n * 8);
                    self.r.datacnt -= 1;
                    n += 1;
                    if n == 4 {
                        self.fifo_push(value);
                        n = 0;
                        value = 0;
                    }
                }
                if n != 0 {
                    self.fifo_push(value);
                }
            } else {
                let mut n = 0;
                let mut value = 0u32;
                while self.r.datacnt > 0 && (self.r.fifo_len > 0 || n > 0) {
                    if n == 0 {
                        value = self.fifo_pop();
                        n = 4;
                    }
                    n -= 1;
                    self.r.datacnt -= 1;
                    self.card.write_byte(value as u8);
                    value >>= 8;
                }
            }
        }
        self.r.status &= !(RX_FIFO | TX_FIFO);
        if self.r.datacnt == 0 {
            self.r.status |= DATAEND | DATABLOCKEND;
        }
        if self.r.datacnt == 0 && self.r.fifo_len == 0 {
            self.r.datactrl &= !DATA_ENABLE;
        } else {
            let mut bits = TXACTIVE | RXACTIVE;
            if self.r.fifo_len == 0 {
                bits |= TXFIFOEMPTY | RXFIFOEMPTY;
            } else {
                bits |= TXDATAAVLBL | RXDATAAVLBL;
            }
            if self.r.fifo_len == 16 {
                bits |= TXFIFOFULL | RXFIFOFULL;
            }
            if self.r.fifo_len <= 8 {
                bits |= TXFIFOHALFEMPTY;
            }
            if self.r.fifo_len >= 8 {
                bits |= RXFIFOHALFFULL;
            }
            bits &= if is_read { RX_FIFO } else { TX_FIFO };
            self.r.status |= bits;
        }
    }

    /// A status or FIFO count read ends the read deferral.
    fn end_deferral(&mut self, ctx: &mut DeviceContext) {
        if self.r.deferred {
            self.r.deferred = false;
            self.fifo_run();
            self.update(ctx);
        }
    }
}

impl Device for Pl181 {
    fn name(&self) -> &str {
        &self.name
    }

    fn read(&mut self, ctx: &mut DeviceContext, offset: u32, size: AccessSize) -> u32 {
        if let Some(id) = primecell_id(&ID, offset & !3) {
            return id;
        }
        let value = match offset & !3 {
            MCI_POWER => self.r.power,
            MCI_CLOCK => self.r.clock,
            MCI_ARGUMENT => self.r.cmdarg,
            MCI_COMMAND => self.r.cmd,
            MCI_RESPCMD => self.r.respcmd,
            MCI_RESPONSE0 => self.r.response[0],
            MCI_RESPONSE1 => self.r.response[1],
            MCI_RESPONSE2 => self.r.response[2],
            MCI_RESPONSE3 => self.r.response[3],
            MCI_DATATIMER => self.r.datatimer,
            MCI_DATALENGTH => self.r.datalength,
            MCI_DATACTRL => self.r.datactrl,
            MCI_DATACNT => self.r.datacnt,
            MCI_STATUS => {
                let v = self.r.status;
                self.end_deferral(ctx);
                v
            }
            MCI_MASK0 => self.r.mask[0],
            MCI_MASK1 => self.r.mask[1],
            MCI_FIFOCNT => {
                let v = self.r.datacnt.div_ceil(4);
                self.end_deferral(ctx);
                v
            }
            MCI_FIFO..=MCI_FIFO_LAST => {
                if self.r.fifo_len == 0 {
                    tracing::debug!("{}: read of an empty FIFO", self.name);
                    0
                } else {
                    let v = self.fifo_pop();
                    self.r.deferred = true;
                    self.fifo_run();
                    self.update(ctx);
                    v
                }
            }
            _ => {
                tracing::debug!("{}: read of unknown offset {offset:#x}", self.name);
                0
            }
        };
        truncate(value, size)
    }

    fn write(&mut self, ctx: &mut DeviceContext, offset: u32, _size: AccessSize, value: u32) {
        match offset & !3 {
            MCI_POWER => self.r.power = value & 0xff,
            MCI_CLOCK => self.r.clock = value & 0xff,
            MCI_ARGUMENT => self.r.cmdarg = value,
            MCI_COMMAND => {
                self.r.cmd = value;
                if value & CMD_ENABLE != 0 {
                    if value & CMD_INTERRUPT != 0 {
                        tracing::debug!("{}: interrupt mode is not implemented", self.name);
                    }
                    if value & CMD_PENDING != 0 {
                        tracing::debug!("{}: pending commands are not implemented", self.name);
                    } else {
                        self.do_command(ctx.now());
                        self.fifo_run();
                    }
                    self.r.cmd &= !CMD_ENABLE;
                }
            }
            MCI_DATATIMER => self.r.datatimer = value,
            MCI_DATALENGTH => self.r.datalength = value & 0xffff,
            MCI_DATACTRL => {
                self.r.datactrl = value & 0xff;
                if value & DATA_ENABLE != 0 {
                    self.r.datacnt = self.r.datalength;
                    self.fifo_run();
                }
            }
            MCI_CLEAR => self.r.status &= !(value & 0x7ff),
            MCI_MASK0 => self.r.mask[0] = value,
            MCI_MASK1 => self.r.mask[1] = value,
            MCI_FIFO..=MCI_FIFO_LAST => {
                if self.r.datacnt == 0 {
                    tracing::debug!("{}: FIFO write with no transfer", self.name);
                } else {
                    self.fifo_push(value);
                    self.fifo_run();
                }
            }
            _ => tracing::debug!("{}: write of {value:#x} to unknown offset {offset:#x}", self.name),
        }
        self.update(ctx);
    }

    fn save_state(&self) -> Vec<u8> {
        let Pl181 {
            name: _,
            irq_ids: _,
            r,
            card,
        } = self;
        state::encode(&Pl181State {
            regs: r.clone(),
            card: card.state().clone(),
        })
    }

    fn load_state(&mut self, bytes: &[u8]) -> Result<(), StateError> {
        let Pl181State { regs, card } = state::decode(bytes, &self.name)?;
        if regs.fifo_pos >= FIFO_LEN || regs.fifo_len > FIFO_LEN || regs.datalength > 0xffff || regs.datacnt > 0xffff {
            return Err(state_error(&self.name, "holds values an MMCI cannot have"));
        }
        self.card.load(card).map_err(|e| state_error(&self.name, e))?;
        self.r = regs;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sd::tests::card;
    use crate::test_support::bus_without_ram;
    use AccessSize::Word;
    use armvex_bus::{Accessor, Bus};

    const BASE: u32 = 0x1000_5000;
    const T: Accessor = Accessor { cpu: 0, time: 0 };

    fn setup(card: SdCard) -> (Bus, usize) {
        let mut bus = bus_without_ram();
        let id = bus
            .add_device(BASE, 0x1000, Box::new(Pl181::new("mmci", [41, 42], card)))
            .unwrap();
        (bus, id)
    }

    fn command(bus: &mut Bus, cmd: u32, arg: u32, flags: u32) -> u32 {
        bus.write(T, BASE + 0x38, Word, 0x7ff);
        bus.write(T, BASE + 0x08, Word, arg);
        bus.write(T, BASE + 0x0c, Word, cmd | flags | CMD_ENABLE);
        // The command status bits (with no transfer, DataEnd and DataBlockEnd are set too).
        bus.read(T, BASE + 0x34, Word) & 0xff
    }

    fn select(bus: &mut Bus) {
        command(bus, 0, 0, 0);
        assert_eq!(command(bus, 8, 0x1aa, CMD_RESPONSE), CMDRESPEND);
        command(bus, 55, 0, CMD_RESPONSE);
        command(bus, 41, 0x40ff_8000, CMD_RESPONSE);
        assert_eq!(command(bus, 2, 0, CMD_RESPONSE | CMD_LONGRESP), CMDRESPEND);
        command(bus, 3, 0, CMD_RESPONSE);
        assert_eq!(bus.read(T, BASE + 0x14, Word) >> 16, 0x4567);
        command(bus, 7, 0x4567_0000, CMD_RESPONSE);
    }

    #[test]
    fn no_card_times_out() {
        let (mut bus, _) = setup(SdCard::new(None, false).unwrap());
        assert_eq!(command(&mut bus, 8, 0x1aa, CMD_RESPONSE), CMDTIMEOUT);
        assert_eq!(command(&mut bus, 0, 0, 0), CMDSENT);
        let ids: Vec<u32> = (0..8).map(|i| bus.read(T, BASE + 0xfe0 + 4 * i, Word)).collect();
        assert_eq!(ids, [0x81, 0x11, 0x04, 0x00, 0x0d, 0xf0, 0x05, 0xb1]);
    }

    #[test]
    fn a_block_read_through_the_fifo_and_a_block_write() {
        let (c, disk) = card(1 << 20);
        let (mut bus, _) = setup(c);
        select(&mut bus);
        bus.write(T, BASE + 0x3c, Word, DATAEND);
        bus.write(T, BASE + 0x28, Word, 512);
        bus.write(T, BASE + 0x2c, Word, DATA_ENABLE | DATA_DIRECTION | (9 << 4));
        command(&mut bus, 17, 2 * 512, CMD_RESPONSE);
        let mut got = Vec::new();
        while got.len() < 128 {
            let st = bus.read(T, BASE + 0x34, Word);
            if st & RXDATAAVLBL == 0 {
                break;
            }
            got.push(bus.read(T, BASE + 0x80, Word));
        }
        assert_eq!(got, vec![0x0202_0202; 128]);
        assert_ne!(bus.read(T, BASE + 0x34, Word) & DATAEND, 0);
        assert!(bus.irq.spi_level(41));
        // Write a block.
        command(&mut bus, 24, 3 * 512, CMD_RESPONSE);
        bus.write(T, BASE + 0x28, Word, 512);
        bus.write(T, BASE + 0x2c, Word, DATA_ENABLE | (9 << 4));
        for i in 0..128u32 {
            bus.write(T, BASE + 0x80, Word, i * 0x0101_0101);
        }
        assert_eq!(bus.read(T, BASE + 0x30, Word), 0);
        let mut back = vec![0u8; 8];
        disk.borrow().read_at(3 * 512 + 4 * 5, &mut back).unwrap();
        assert_eq!(back, [5, 5, 5, 5, 6, 6, 6, 6]);
    }

    #[test]
    fn state_round_trip_mid_transfer_and_damaged_states() {
        let (c, disk) = card(1 << 20);
        let (mut a, _) = setup(c);
        select(&mut a);
        a.write(T, BASE + 0x28, Word, 1024);
        a.write(T, BASE + 0x2c, Word, DATA_ENABLE | DATA_DIRECTION);
        command(&mut a, 18, 4 * 512, CMD_RESPONSE);
        for _ in 0..40 {
            a.read(T, BASE + 0x34, Word);
            a.read(T, BASE + 0x80, Word);
        }
        let saved = a.save_state();
        let (mut b, _) = setup(SdCard::new(Some(disk.clone()), false).unwrap());
        b.load_state(&saved).unwrap();
        assert_eq!(b.save_state(), saved);
        for bus in [&mut a, &mut b] {
            let mut words = Vec::new();
            for _ in 0..300 {
                if bus.read(T, BASE + 0x34, Word) & RXDATAAVLBL == 0 {
                    break;
                }
                words.push(bus.read(T, BASE + 0x80, Word));
            }
            assert_eq!(words.len(), 216);
            assert_eq!(words[..88], vec![0x0404_0404; 88][..]);
            assert_eq!(words[88..], vec![0x0505_0505; 128][..]);
        }
        let (other, _) = card(2 << 20);
        let e = setup(other).0.load_state(&saved).unwrap_err();
        assert!(e.0.contains("1048576-byte SD card"), "{e}");
        let valid = saved.devices[0].1.clone();
        crate::state_tests::check_damaged_states(&valid, |bytes| {
            let (mut bus, id) = setup(SdCard::new(Some(disk.clone()), false).unwrap());
            crate::state_tests::load_device(&mut bus, id, bytes)?;
            for _ in 0..300 {
                bus.read(T, BASE + 0x34, Word);
                bus.read(T, BASE + 0x80, Word);
                bus.read(T, BASE + 0x48, Word);
            }
            Ok(())
        });
    }

    #[test]
    fn random_accesses_never_panic_nor_write_past_the_card() {
        let (c, disk) = card(64 << 10);
        let (mut bus, _) = setup(c);
        select(&mut bus);
        let mut x = 0x9e37_79b9_7f4a_7c15u64;
        for _ in 0..200_000 {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            let off = ((x >> 8) as u32) & 0xfc;
            let value = (x >> 32) as u32;
            if x & 3 == 0 {
                bus.read(T, BASE + off, Word);
            } else if off == 0x0c {
                // Commands with a valid index, mostly data ones.
                let cmd = [17, 18, 24, 25, 12, 13, 16, 55, 51, 6, 7, 9][(value % 12) as usize];
                bus.write(T, BASE + 0x08, Word, value >> 4);
                bus.write(T, BASE + 0x0c, Word, cmd | CMD_ENABLE | CMD_RESPONSE);
            } else {
                bus.write(T, BASE + off, Word, value);
            }
        }
        assert_eq!(disk.borrow().len(), 64 << 10);
    }
}
