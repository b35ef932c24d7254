//! An SD memory card, the card in the PL181's slot ([`crate::pl181`]), backed by a disk image
//! of the disk layer (`armvex_virtio::disk`: overlays, undo logs for reverse execution,
//! snapshots).
//!
//! The card follows the *SD Specifications Part 1, Physical Layer Simplified Specification*
//! (version 2.00), as QEMU 7.2's `hw/sd/sd.c` models it for the PL181, which this follows
//! command by command:
//!
//! * **States** (§4.2, §4.8): idle → (ACMD41) ready → (CMD2) identification → (CMD3)
//!   stand-by → (CMD7 with the card's RCA) transfer → (CMD17/18, CMD6, ACMD13, ACMD51)
//!   sending-data, or (CMD24/25) receiving-data → back to transfer when the data is done or
//!   CMD12 stops it. A command that is not allowed in the current state is *illegal*: no
//!   response, and ILLEGAL_COMMAND in the next status.
//! * **Responses** (§4.9): R1 (the card status, §4.10.1, with the state the card was in
//!   *before* the command; error bits clear once reported), R2 (CID or CSD), R3 (OCR), R6
//!   (the new RCA 0x4567 with status bits), R7 (the CMD8 check pattern echoed).
//! * **Power-up** (ACMD41, §4.2.3): the first inquiry ACMD41 (voltage window 0) starts a
//!   0.5 ms power-up (virtual time); one with a voltage window powers up at once. Once up,
//!   OCR bit 31 is set, and bit 30 (CCS) if the card is larger than 2 GiB.
//! * **Capacity** (§5.3): up to 2 GiB the card is a standard-capacity card (SDSC, CSD version
//!   1.0, byte addresses, block length set by CMD16 up to 512); above, a high-capacity card
//!   (SDHC, CSD version 2.0, block addresses of 512 bytes). The size must be a multiple of 512
//!   bytes (QEMU also wants a power of two; armvex does not).
//! * **Registers**: CID (§5.2: manufacturer 0xaa, OEM "AV", product "ARMVX", revision 1,
//!   serial 0xdeadbeef, made 2/2006), CSD (§5.3, as QEMU builds it), SCR (§5.6: SD 2.00,
//!   1- and 4-bit bus, no CMD23), SD status (§4.10.2, 64 bytes; ACMD6 sets the bus width in it),
//!   and the CMD6 switch status (§4.3.10, 64 bytes: only function 0 of each group).
//! * **Data**: reads and writes go to the image a block at a time. An access beyond the end
//!   of the card is refused with ADDRESS_ERROR before any byte moves, so nothing is ever read
//!   or written past the image's end. SD cards have no cache to flush: a write is complete
//!   when the card leaves the programming state, so the image is flushed to the host disk
//!   (fdatasync) when a write command ends (the single block is written, or CMD12 stops a
//!   multi-block write).
//! * **Write protection**: a read-only image reports the card's write-protect switch (the
//!   system registers' SYS_MCI bit 1, which Linux reads); a write that reaches it anyway is
//!   refused by the disk layer and the data is dropped.
//!
//! Saved state: the whole card (state, registers, the data buffer and where the transfer is)
//! but the disk, which the machine saves itself; the card's size is checked on load.

use crate::error::DeviceError;
use armvex_virtio::SharedDisk;
use serde::{Deserialize, Serialize};

/// The largest standard-capacity card.
pub const SDSC_MAX: u64 = 2 << 30;
/// A block of an SD card.
pub const BLOCK: u64 = 512;

// Card status bits (§4.10.1).
const ADDRESS_ERROR: u32 = 1 << 30;
const BLOCK_LEN_ERROR: u32 = 1 << 29;
const WP_VIOLATION: u32 = 1 << 26;
const ILLEGAL_COMMAND: u32 = 1 << 22;
const CURRENT_STATE: u32 = 0xf << 9;
const READY_FOR_DATA: u32 = 1 << 8;
const APP_CMD: u32 = 1 << 5;
/// Bits cleared once reported (status type C).
const STATUS_CLEAR_ON_READ: u32 = 0xfd39_a028;
/// Bits cleared by the next valid command (type B).
const STATUS_CLEAR_ON_VALID: u32 = 0x00c0_1e00;

// OCR bits.
const OCR_VOLTAGE_WINDOW: u32 = 0x00ff_8000;
const OCR_CCS: u32 = 1 << 30;
const OCR_POWER_UP: u32 = 1 << 31;
const ACMD41_R3_MASK: u32 = 0xe1ff_8000;
const ACMD41_ENQUIRY_MASK: u32 = 0x00ff_ffff;
/// How long a card takes to power up after an inquiry ACMD41 (virtual ns).
const POWER_UP_NS: u64 = 500_000;

/// The relative card address a card gives itself (as QEMU's).
const RCA: u16 = 0x4567;

/// Command numbers (SD Physical Layer Simplified Specification §4.7.4, "Detailed Command
/// Description"): `CMDn` as the host sends them, and the application-specific `ACMDn`, which
/// follow a CMD55 and reuse the same numbers.
pub mod cmd {
    /// CMD0: reset to idle.
    pub const GO_IDLE_STATE: u8 = 0;
    /// CMD2: every card in the ready state sends its CID.
    pub const ALL_SEND_CID: u8 = 2;
    /// CMD3: the card publishes a new relative address (RCA).
    pub const SEND_RELATIVE_ADDR: u8 = 3;
    /// CMD4: program the DSR (this card has none).
    pub const SET_DSR: u8 = 4;
    /// CMD5: SDIO's IO_SEND_OP_COND; a memory card does not answer it.
    pub const IO_SEND_OP_COND: u8 = 5;
    /// CMD6: check or switch a card function (64 bytes of switch status).
    pub const SWITCH_FUNC: u8 = 6;
    /// CMD7: select the card with the RCA given, deselect the others.
    pub const SELECT_CARD: u8 = 7;
    /// CMD8: the interface condition (voltage and check pattern).
    pub const SEND_IF_COND: u8 = 8;
    /// CMD9: the addressed card sends its CSD.
    pub const SEND_CSD: u8 = 9;
    /// CMD10: the addressed card sends its CID.
    pub const SEND_CID: u8 = 10;
    /// CMD12: stop a multiple-block transfer.
    pub const STOP_TRANSMISSION: u8 = 12;
    /// CMD13: the addressed card sends its status.
    pub const SEND_STATUS: u8 = 13;
    /// CMD15: the addressed card goes inactive.
    pub const GO_INACTIVE_STATE: u8 = 15;
    /// CMD16: the block length of a standard-capacity card.
    pub const SET_BLOCKLEN: u8 = 16;
    /// CMD17: read one block.
    pub const READ_SINGLE_BLOCK: u8 = 17;
    /// CMD18: read blocks until CMD12.
    pub const READ_MULTIPLE_BLOCK: u8 = 18;
    /// CMD24: write one block.
    pub const WRITE_BLOCK: u8 = 24;
    /// CMD25: write blocks until CMD12.
    pub const WRITE_MULTIPLE_BLOCK: u8 = 25;
    /// CMD55: the next command is an application command (ACMD).
    pub const APP_CMD: u8 = 55;

    /// ACMD6: the data bus width (kept in the SD status).
    pub const SET_BUS_WIDTH: u8 = 6;
    /// ACMD13: the card sends its SD status (64 bytes).
    pub const SD_STATUS: u8 = 13;
    /// ACMD18: SECURE_READ_MULTI_BLOCK (part of the security features, not supported).
    pub const SECURE_READ_MULTI_BLOCK: u8 = 18;
    /// ACMD22: the card sends the number of blocks written well (4 bytes).
    pub const SEND_NUM_WR_BLOCKS: u8 = 22;
    /// ACMD23: the number of blocks to pre-erase before a write.
    pub const SET_WR_BLK_ERASE_COUNT: u8 = 23;
    /// ACMD25: SECURE_WRITE_MULT_BLOCK (security, not supported).
    pub const SECURE_WRITE_MULT_BLOCK: u8 = 25;
    /// ACMD26: SECURE_WRITE_MKB (security, not supported).
    pub const SECURE_WRITE_MKB: u8 = 26;
    /// ACMD38: SECURE_ERASE (security, not supported).
    pub const SECURE_ERASE: u8 = 38;
    /// ACMD41: the host's capacity support and voltage window; the card answers its OCR.
    pub const SD_SEND_OP_COND: u8 = 41;
    /// ACMD42: connect or disconnect the pull-up on DAT3.
    pub const SET_CLR_CARD_DETECT: u8 = 42;
    /// ACMD43: the first of the application commands reserved for the security features.
    pub const SECURITY_FIRST: u8 = 43;
    /// ACMD49: the last of them.
    pub const SECURITY_LAST: u8 = 49;
    /// ACMD51: the card sends its SCR (8 bytes).
    pub const SEND_SCR: u8 = 51;
}
use cmd::*;

/// The card's states (§4.8; the numbers are those of the status register).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum CardState {
    /// Switched off by CMD15 (status value 0xf).
    Inactive,
    /// After power-up or CMD0 (`idle`, 0).
    Idle,
    /// ACMD41 found the voltage acceptable (`ready`, 1).
    Ready,
    /// CMD2 sent the CID (`ident`, 2).
    Identification,
    /// The card has an RCA and is not selected (`stby`, 3).
    Standby,
    /// Selected by CMD7, ready for data commands (`tran`, 4).
    Transfer,
    /// Sending data to the host (`data`, 5).
    SendingData,
    /// Receiving data from the host (`rcv`, 6).
    ReceivingData,
    /// Writing what it received (`prg`, 7).
    Programming,
    /// Deselected while programming (`dis`, 8).
    Disconnect,
}

impl CardState {
    fn number(self) -> u32 {
        match self {
            CardState::Inactive => 0xf,
            CardState::Idle => 0,
            CardState::Ready => 1,
            CardState::Identification => 2,
            CardState::Standby => 3,
            CardState::Transfer => 4,
            CardState::SendingData => 5,
            CardState::ReceivingData => 6,
            CardState::Programming => 7,
            CardState::Disconnect => 8,
        }
    }

    /// In data-transfer mode (the card has an RCA), rather than card-identification mode.
    fn transfer_mode(self) -> bool {
        matches!(
            self,
            CardState::Standby
                | CardState::Transfer
                | CardState::SendingData
                | CardState::ReceivingData
                | CardState::Programming
                | CardState::Disconnect
        )
    }
}

/// A command's response.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Response {
    /// No response (not an error).
    None,
    /// The command is illegal: no response.
    Illegal,
    R1,
    R2Cid,
    R2Csd,
    R3,
    R6,
    R7,
}

/// Everything about the card but its disk.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct SdState {
    size: u64,
    state: CardState,
    rca: u16,
    ocr: u32,
    power_up_at: Option<u64>,
    status: u32,
    vhs: u32,
    cid: [u8; 16],
    csd: [u8; 16],
    scr: [u8; 8],
    sd_status: Vec<u8>,
    function_group: [u8; 6],
    blk_len: u32,
    expecting_acmd: bool,
    current_cmd: u8,
    data: Vec<u8>,
    data_start: u64,
    data_offset: u32,
    blk_written: u32,
}

/// An SD card: its state and, if a card is in the slot, its image.
pub struct SdCard {
    disk: Option<SharedDisk>,
    read_only: bool,
    s: SdState,
}

/// CRC-7 (polynomial x^7 + x^3 + 1) of `bytes`, as the CID and CSD carry it (§4.5).
fn crc7(bytes: &[u8]) -> u8 {
    let mut crc: u8 = 0;
    for &b in bytes {
        for bit in (0..8).rev() {
            let input = (b >> bit) & 1;
            let top = (crc >> 6) & 1;
            crc = (crc << 1) & 0x7f;
            if input ^ top != 0 {
                crc ^= 0x09;
            }
        }
    }
    crc
}

fn make_cid() -> [u8; 16] {
    let mut cid = [
        0xaa, b'A', b'V', b'A', b'R', b'M', b'V', b'X', 0x01, 0xde, 0xad, 0xbe, 0xef, 0x00, 0x62, 0,
    ];
    cid[15] = (crc7(&cid[..15]) << 1) | 1;
    cid
}

/// The CSD of a card of `size` bytes, as QEMU builds it.
fn make_csd(size: u64) -> [u8; 16] {
    const CMULT_SHIFT: u32 = 9;
    const SECTOR_SHIFT: u32 = 5;
    const WPGROUP_SHIFT: u32 = 7;
    let mut csd = [0u8; 16];
    if size <= SDSC_MAX {
        let mut hwblock_shift = 9u32;
        if size == SDSC_MAX {
            hwblock_shift += 1;
        }
        let csize = ((size >> (CMULT_SHIFT + hwblock_shift)) as u32).wrapping_sub(1);
        let sectsize = (1u32 << (SECTOR_SHIFT + 1)) - 1;
        let wpsize = (1u32 << (WPGROUP_SHIFT + 1)) - 1;
        csd[0] = 0x00;
        csd[1] = 0x26;
        csd[2] = 0x00;
        csd[3] = 0x32;
        csd[4] = 0x5f;
        csd[5] = 0x50 | hwblock_shift as u8;
        csd[6] = 0xe0 | ((csize >> 10) & 0x03) as u8;
        csd[7] = ((csize >> 2) & 0xff) as u8;
        csd[8] = 0x3f | ((csize << 6) & 0xc0) as u8;
        csd[9] = 0xfc | ((CMULT_SHIFT - 2) >> 1) as u8;
        csd[10] = 0x40 | (((CMULT_SHIFT - 2) << 7) & 0x80) as u8 | (sectsize >> 1) as u8;
        csd[11] = ((sectsize << 7) & 0x80) as u8 | wpsize as u8;
        csd[12] = 0x90 | (hwblock_shift >> 2) as u8;
        csd[13] = 0x20 | ((hwblock_shift << 6) & 0xc0) as u8;
        csd[14] = 0x00;
    } else {
        let c = size / (512 << 10) - 1;
        csd[..7].copy_from_slice(&[0x40, 0x0e, 0x00, 0x32, 0x5b, 0x59, 0x00]);
        csd[7] = (c >> 16) as u8;
        csd[8] = (c >> 8) as u8;
        csd[9] = c as u8;
        csd[10..15].copy_from_slice(&[0x7f, 0x80, 0x0a, 0x40, 0x00]);
    }
    csd[15] = (crc7(&csd[..15]) << 1) | 1;
    csd
}

impl SdCard {
    /// The slot of a PL181: a card backed by `disk` (`read_only`: its write-protect switch is
    /// on), or an empty slot. Fails if the image's size is not a whole number of blocks.
    pub fn new(disk: Option<SharedDisk>, read_only: bool) -> Result<SdCard, DeviceError> {
        let size = match &disk {
            Some(d) => {
                let d = d.borrow();
                let len = d.len();
                if len == 0 || len % BLOCK != 0 {
                    return Err(DeviceError::SdImageSize {
                        image: d.describe(),
                        len,
                    });
                }
                len
            }
            None => 0,
        };
        let mut card = SdCard {
            disk,
            read_only,
            s: SdState {
                size,
                state: CardState::Idle,
                rca: 0,
                ocr: 0,
                power_up_at: None,
                status: 0,
                vhs: 0,
                cid: [0; 16],
                csd: [0; 16],
                scr: [0; 8],
                sd_status: vec![0; 64],
                function_group: [0; 6],
                blk_len: 512,
                expecting_acmd: false,
                current_cmd: 0,
                data: vec![0; 512],
                data_start: 0,
                data_offset: 0,
                blk_written: 0,
            },
        };
        card.reset();
        Ok(card)
    }

    /// True if a card is in the slot.
    pub fn inserted(&self) -> bool {
        self.disk.is_some()
    }

    /// True if the card's write-protect switch is on.
    pub fn read_only(&self) -> bool {
        self.read_only
    }

    fn reset(&mut self) {
        let s = &mut self.s;
        s.state = CardState::Idle;
        s.rca = 0;
        s.ocr = OCR_VOLTAGE_WINDOW;
        s.power_up_at = None;
        s.scr = [0x02, 0x25, 0, 0, 0, 0, 0, 0];
        s.cid = make_cid();
        s.csd = make_csd(s.size);
        s.status = READY_FOR_DATA;
        s.sd_status = vec![0; 64];
        s.function_group = [0; 6];
        s.blk_len = 512;
        s.expecting_acmd = false;
    }

    fn high_capacity(&self) -> bool {
        self.s.ocr & OCR_CCS != 0
    }

    fn power_up(&mut self) {
        self.s.power_up_at = None;
        self.s.ocr |= OCR_POWER_UP;
        if self.s.size > SDSC_MAX {
            self.s.ocr |= OCR_CCS;
        }
    }

    fn in_range(&mut self, addr: u64, len: u64) -> bool {
        if addr.checked_add(len).is_none_or(|end| end > self.s.size) {
            tracing::debug!(
                "sd: access of {len} bytes at {addr:#x} beyond the card's {} bytes",
                self.s.size
            );
            self.s.status |= ADDRESS_ERROR;
            return false;
        }
        true
    }

    /// Send command `cmd` with argument `arg` at virtual time `now`. Returns the response
    /// bytes (big-endian, as on the wire without start, index and CRC): 4 or 16 of them, or
    /// none when the card does not answer (no card, an illegal command, or no response).
    pub fn command(&mut self, cmd: u8, arg: u32, now: u64) -> Vec<u8> {
        if self.disk.is_none() {
            return Vec::new();
        }
        if self.s.power_up_at.is_some_and(|t| now >= t) {
            self.power_up();
        }
        let last_state = self.s.state;
        let response = if self.s.expecting_acmd {
            self.s.expecting_acmd = false;
            self.app_command(cmd, arg, now)
        } else {
            self.normal_command(cmd, arg)
        };
        if response == Response::Illegal {
            self.s.status |= ILLEGAL_COMMAND;
        } else {
            self.s.current_cmd = cmd;
            self.s.status = (self.s.status & !CURRENT_STATE) | (last_state.number() << 9);
        }
        let out = match response {
            Response::R1 => {
                let v = self.s.status;
                self.s.status &= !STATUS_CLEAR_ON_READ;
                v.to_be_bytes().to_vec()
            }
            Response::R2Cid => self.s.cid.to_vec(),
            Response::R2Csd => self.s.csd.to_vec(),
            Response::R3 => (self.s.ocr & ACMD41_R3_MASK).to_be_bytes().to_vec(),
            Response::R6 => {
                let st = self.s.status;
                let bits = ((st >> 8) & 0xc000) | ((st >> 6) & 0x2000) | (st & 0x1fff);
                self.s.status &= !(STATUS_CLEAR_ON_READ & 0xc8_1fff);
                let mut v = self.s.rca.to_be_bytes().to_vec();
                v.extend_from_slice(&(bits as u16).to_be_bytes());
                v
            }
            Response::R7 => self.s.vhs.to_be_bytes().to_vec(),
            Response::None | Response::Illegal => Vec::new(),
        };
        if response != Response::Illegal {
            self.s.status &= !STATUS_CLEAR_ON_VALID;
        }
        out
    }

    fn start_sending(&mut self, start: u64) {
        self.s.state = CardState::SendingData;
        self.s.data_start = start;
        self.s.data_offset = 0;
    }

    fn normal_command(&mut self, cmd: u8, arg: u32) -> Response {
        use CardState::*;
        let addr = if self.high_capacity() {
            u64::from(arg) << 9
        } else {
            u64::from(arg)
        };
        self.s.status &= !APP_CMD;
        // Addressed commands carry the RCA in the top half of the argument.
        let rca = (arg >> 16) as u16;
        let state = self.s.state;
        let selected = rca == self.s.rca;
        match cmd {
            GO_IDLE_STATE => {
                if state != Inactive {
                    self.reset();
                }
                Response::None
            }
            ALL_SEND_CID if state == Ready => {
                self.s.state = Identification;
                Response::R2Cid
            }
            SEND_RELATIVE_ADDR if matches!(state, Identification | Standby) => {
                self.s.state = Standby;
                self.s.rca = self.s.rca.wrapping_add(RCA);
                Response::R6
            }
            SET_DSR if state == Standby => Response::Illegal,
            IO_SEND_OP_COND => Response::Illegal,
            SWITCH_FUNC if state.transfer_mode() => {
                self.function_switch(arg);
                self.start_sending(0);
                Response::R1
            }
            SELECT_CARD => match state {
                Standby if !selected => Response::None,
                Standby => {
                    self.s.state = Transfer;
                    Response::R1
                }
                Transfer | SendingData if !selected => {
                    self.s.state = Standby;
                    Response::R1
                }
                Disconnect if !selected => Response::None,
                Disconnect => {
                    self.s.state = Programming;
                    Response::R1
                }
                Programming if !selected => {
                    self.s.state = Disconnect;
                    Response::R1
                }
                _ => Response::Illegal,
            },
            SEND_IF_COND if state == Idle => {
                self.s.vhs = 0;
                let above = arg & !0xff;
                // Exactly one voltage bit must be set, else no response.
                if above == 0 || !above.is_power_of_two() {
                    return Response::None;
                }
                self.s.vhs = arg;
                Response::R7
            }
            SEND_CSD | SEND_CID if state == Standby => {
                if !selected {
                    Response::None
                } else if cmd == SEND_CSD {
                    Response::R2Csd
                } else {
                    Response::R2Cid
                }
            }
            STOP_TRANSMISSION => match state {
                SendingData => {
                    self.s.state = Transfer;
                    Response::R1
                }
                ReceivingData => {
                    self.s.state = Transfer;
                    self.flush();
                    Response::R1
                }
                _ => Response::Illegal,
            },
            SEND_STATUS if state.transfer_mode() => {
                if selected {
                    Response::R1
                } else {
                    Response::None
                }
            }
            GO_INACTIVE_STATE if state.transfer_mode() => {
                if selected {
                    self.s.state = Inactive;
                }
                Response::None
            }
            SET_BLOCKLEN if state == Transfer => {
                if arg > 512 {
                    self.s.status |= BLOCK_LEN_ERROR;
                } else {
                    self.s.blk_len = arg;
                }
                Response::R1
            }
            READ_SINGLE_BLOCK | READ_MULTIPLE_BLOCK if state == Transfer => {
                if self.in_range(addr, u64::from(self.s.blk_len)) {
                    self.start_sending(addr);
                }
                Response::R1
            }
            WRITE_BLOCK | WRITE_MULTIPLE_BLOCK if state == Transfer => {
                if self.in_range(addr, u64::from(self.s.blk_len)) {
                    self.s.state = ReceivingData;
                    self.s.data_start = addr;
                    self.s.data_offset = 0;
                    self.s.blk_written = 0;
                    if self.s.csd[14] & 0x30 != 0 {
                        self.s.status |= WP_VIOLATION;
                    }
                }
                Response::R1
            }
            cmd::APP_CMD => {
                if matches!(state, Ready | Identification | Inactive) {
                    return Response::Illegal;
                }
                if !selected {
                    return Response::None;
                }
                self.s.expecting_acmd = true;
                self.s.status |= APP_CMD;
                Response::R1
            }
            _ => {
                tracing::debug!("sd: CMD{cmd} is unknown or not allowed in state {state:?}");
                Response::Illegal
            }
        }
    }

    fn app_command(&mut self, cmd: u8, arg: u32, now: u64) -> Response {
        use CardState::*;
        self.s.status |= APP_CMD;
        let state = self.s.state;
        match cmd {
            SET_BUS_WIDTH if state == Transfer => {
                self.s.sd_status[0] = (self.s.sd_status[0] & 0x3f) | (((arg & 3) as u8) << 6);
                Response::R1
            }
            SD_STATUS | SEND_SCR if state == Transfer => {
                self.start_sending(0);
                Response::R1
            }
            SEND_NUM_WR_BLOCKS if state == Transfer => {
                let n = self.s.blk_written.to_le_bytes();
                self.s.data[..4].copy_from_slice(&n);
                self.start_sending(0);
                Response::R1
            }
            SET_WR_BLK_ERASE_COUNT | SET_CLR_CARD_DETECT if state == Transfer => Response::R1,
            SD_SEND_OP_COND if state == Idle => {
                if self.s.ocr & OCR_POWER_UP == 0 {
                    if arg & ACMD41_ENQUIRY_MASK != 0 {
                        self.power_up();
                    } else if self.s.power_up_at.is_none() {
                        self.s.power_up_at = Some(now.saturating_add(POWER_UP_NS));
                    }
                }
                if self.s.ocr & arg & ACMD41_ENQUIRY_MASK != 0 {
                    self.s.state = Ready;
                }
                Response::R3
            }
            // Application commands the card knows, in a state that does not allow them.
            SET_BUS_WIDTH
            | SD_STATUS
            | SEND_NUM_WR_BLOCKS
            | SET_WR_BLK_ERASE_COUNT
            | SD_SEND_OP_COND
            | SET_CLR_CARD_DETECT
            | SEND_SCR => Response::Illegal,
            // The security features, not supported.
            SECURE_READ_MULTI_BLOCK
            | SECURE_WRITE_MULT_BLOCK
            | SECURE_WRITE_MKB
            | SECURE_ERASE
            | SECURITY_FIRST..=SECURITY_LAST => Response::Illegal,
            _ => self.normal_command(cmd, arg),
        }
    }

    /// CMD6: the switch status (§4.3.10), and the switch itself in mode 1.
    fn function_switch(&mut self, arg: u32) {
        let switch = arg & 0x8000_0000 != 0;
        let d = &mut self.s.data;
        d[..64].fill(0);
        d[..14].copy_from_slice(&[
            0x00, 0x01, 0x80, 0x01, 0x80, 0x01, 0x80, 0x01, 0x80, 0x01, 0x80, 0x43, 0x80, 0x03,
        ]);
        for i in 0..6 {
            let f = ((arg >> (i * 4)) & 0xf) as u8;
            if switch && f != 0xf {
                self.s.function_group[i] = f;
            }
            d[16 - (i >> 1)] |= f << ((i % 2) * 4);
        }
    }

    /// True while the card has data for the host.
    pub fn data_ready(&self) -> bool {
        self.s.state == CardState::SendingData
    }

    fn io_len(&self) -> u32 {
        if self.high_capacity() { 512 } else { self.s.blk_len }
    }

    fn read_block(&mut self, addr: u64, len: u32) {
        let len = len as usize;
        if let Some(disk) = &self.disk
            && let Err(e) = disk.borrow().read_at(addr, &mut self.s.data[..len])
        {
            tracing::warn!("sd: cannot read the card image at {addr:#x}: {e}");
        }
    }

    fn write_block(&mut self, addr: u64, len: u32) {
        let len = len as usize;
        if let Some(disk) = &self.disk
            && let Err(e) = disk.borrow_mut().write_at(addr, &self.s.data[..len])
        {
            tracing::warn!("sd: cannot write the card image at {addr:#x}: {e}");
        }
    }

    /// Make the writes so far durable on the host (see the module docs).
    fn flush(&mut self) {
        if let Some(disk) = &self.disk
            && let Err(e) = disk.borrow_mut().flush()
        {
            tracing::warn!("sd: cannot flush the card image: {e}");
        }
    }

    /// The next data byte from the card.
    pub fn read_byte(&mut self) -> u8 {
        if self.disk.is_none() || self.s.state != CardState::SendingData {
            return 0;
        }
        if self.s.status & (ADDRESS_ERROR | WP_VIOLATION) != 0 {
            return 0;
        }
        let io_len = self.io_len();
        let off = self.s.data_offset as usize;
        let ret;
        match self.s.current_cmd {
            SWITCH_FUNC => {
                ret = self.s.data[off % 64];
                self.s.data_offset += 1;
                if self.s.data_offset >= 64 {
                    self.s.state = CardState::Transfer;
                }
            }
            SD_STATUS => {
                ret = self.s.sd_status[off % 64];
                self.s.data_offset += 1;
                if self.s.data_offset >= 64 {
                    self.s.state = CardState::Transfer;
                }
            }
            READ_SINGLE_BLOCK | READ_MULTIPLE_BLOCK => {
                if off == 0 {
                    if self.s.current_cmd == READ_MULTIPLE_BLOCK && !self.in_range(self.s.data_start, u64::from(io_len))
                    {
                        return 0;
                    }
                    self.read_block(self.s.data_start, io_len);
                }
                ret = self.s.data.get(off).copied().unwrap_or(0);
                self.s.data_offset += 1;
                if self.s.data_offset >= io_len {
                    if self.s.current_cmd == READ_SINGLE_BLOCK {
                        self.s.state = CardState::Transfer;
                    } else {
                        self.s.data_start += u64::from(io_len);
                        self.s.data_offset = 0;
                    }
                }
            }
            SEND_NUM_WR_BLOCKS => {
                ret = self.s.data[off % 4];
                self.s.data_offset += 1;
                if self.s.data_offset >= 4 {
                    self.s.state = CardState::Transfer;
                }
            }
            SEND_SCR => {
                ret = self.s.scr[off % 8];
                self.s.data_offset += 1;
                if self.s.data_offset >= 8 {
                    self.s.state = CardState::Transfer;
                }
            }
            _ => return 0,
        }
        ret
    }

    /// A data byte from the host.
    pub fn write_byte(&mut self, value: u8) {
        if self.disk.is_none() || self.s.state != CardState::ReceivingData {
            return;
        }
        if self.s.status & (ADDRESS_ERROR | WP_VIOLATION) != 0 {
            return;
        }
        let blk_len = self.s.blk_len.min(512);
        match self.s.current_cmd {
            WRITE_BLOCK | WRITE_MULTIPLE_BLOCK => {
                if self.s.current_cmd == WRITE_MULTIPLE_BLOCK
                    && self.s.data_offset == 0
                    && !self.in_range(self.s.data_start, u64::from(blk_len))
                {
                    return;
                }
                let off = self.s.data_offset as usize;
                if let Some(b) = self.s.data.get_mut(off) {
                    *b = value;
                }
                self.s.data_offset += 1;
                if self.s.data_offset >= blk_len {
                    let n = self.s.data_offset.min(512);
                    self.write_block(self.s.data_start, n);
                    self.s.blk_written = self.s.blk_written.wrapping_add(1);
                    self.s.csd[14] |= 0x40;
                    if self.s.current_cmd == WRITE_BLOCK {
                        self.s.state = CardState::Transfer;
                        self.flush();
                    } else {
                        self.s.data_start += u64::from(blk_len);
                        self.s.data_offset = 0;
                    }
                }
            }
            _ => {}
        }
    }

    /// The card's state, for saving.
    pub fn state(&self) -> &SdState {
        &self.s
    }

    /// Put back a state saved from a card of the same size (error: a one-line reason).
    pub fn load(&mut self, s: SdState) -> Result<(), DeviceError> {
        if s.size != self.s.size {
            return Err(DeviceError::SdStateSize {
                saved: s.size,
                ours: self.s.size,
            });
        }
        if s.data.len() != 512 || s.sd_status.len() != 64 || s.blk_len > 512 || s.data_offset > 512 {
            return Err(DeviceError::SdStateInvalid);
        }
        self.s = s;
        Ok(())
    }
}

impl Drop for SdCard {
    fn drop(&mut self) {
        self.flush();
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use armvex_virtio::{DiskImage, DiskMode};
    use std::cell::RefCell;
    use std::rc::Rc;

    /// A card of `size` bytes whose block `n` is filled with byte `n`, on a temporary disk.
    pub fn card(size: u64) -> (SdCard, SharedDisk) {
        let mut disk = DiskImage::temporary(size).unwrap();
        for n in 0..(size / BLOCK).min(64) {
            disk.write_at(n * BLOCK, &[n as u8; 512]).unwrap();
        }
        let disk = Rc::new(RefCell::new(disk));
        (SdCard::new(Some(disk.clone()), false).unwrap(), disk)
    }

    /// Take a card through identification to the transfer state.
    pub fn select(c: &mut SdCard) {
        assert_eq!(c.command(0, 0, 0), Vec::<u8>::new());
        assert_eq!(c.command(8, 0x1aa, 0), [0, 0, 1, 0xaa]);
        assert_eq!(c.command(55, 0, 0), [0, 0, 0x01, 0x20]);
        let r3 = c.command(41, 0x40ff_8000, 0);
        assert_eq!(r3[0] & 0x80, 0x80, "powered up");
        assert_eq!(c.command(2, 0, 0).len(), 16);
        assert_eq!(c.command(3, 0, 0), [0x45, 0x67, 0x05, 0x00]);
        assert_eq!(c.command(7, 0x4567_0000, 0), [0, 0, 0x07, 0x00]);
    }

    #[test]
    fn crc7_of_known_frames() {
        // CMD0 with argument 0: CRC 0x4a (the frame ends 0x95).
        assert_eq!(crc7(&[0x40, 0, 0, 0, 0]), 0x4a);
        // CMD8 with 0x1aa: 0x43 (0x87).
        assert_eq!(crc7(&[0x48, 0, 0, 1, 0xaa]), 0x43);
    }

    #[test]
    fn identification_registers_and_block_reads_sdsc() {
        let (mut c, _) = card(64 << 20);
        select(&mut c);
        assert_eq!(c.command(16, 512, 0), [0, 0, 0x09, 0x00]);
        c.command(17, 3 * 512, 0);
        let block: Vec<u8> = (0..512).map(|_| c.read_byte()).collect();
        assert_eq!(block, [3u8; 512]);
        assert!(!c.data_ready());
        // CSD version 1.0, C_SIZE for 64 MiB: (64 MiB >> 18) - 1 = 255.
        c.command(7, 0, 0);
        let csd = c.command(9, 0x4567_0000, 0);
        assert_eq!(csd[0] >> 6, 0);
        assert_eq!(csd[15] & 1, 1);
        let csize = (u32::from(csd[6] & 3) << 10) | (u32::from(csd[7]) << 2) | (u32::from(csd[8]) >> 6);
        assert_eq!(csize, 255);
    }

    #[test]
    fn sdhc_multi_block_read_and_write_and_bounds() {
        let (mut c, disk) = card(4 << 30);
        select(&mut c);
        assert!(c.high_capacity());
        c.command(18, 5, 0);
        let two: Vec<u8> = (0..1024).map(|_| c.read_byte()).collect();
        assert_eq!(&two[..512], &[5u8; 512][..]);
        assert_eq!(&two[512..], &[6u8; 512][..]);
        assert_eq!(c.command(12, 0, 0)[2] >> 1, 5, "stopped while sending data");
        c.command(25, 10, 0);
        for i in 0..1024 {
            c.write_byte(i as u8);
        }
        c.command(12, 0, 0);
        let mut back = vec![0u8; 1024];
        disk.borrow().read_at(10 * 512, &mut back).unwrap();
        assert_eq!(back, (0..1024).map(|i| i as u8).collect::<Vec<_>>());
        // The last block reads; one past the end is an address error.
        let last = (4u32 << 21) - 1;
        c.command(17, last, 0);
        assert!(c.data_ready());
        (0..512).for_each(|_| {
            c.read_byte();
        });
        let r1 = c.command(17, last + 1, 0);
        assert!(!c.data_ready());
        assert_eq!(r1[0] & 0x40, 0x40, "ADDRESS_ERROR, in the command's own response");
        assert_eq!(c.command(13, 0x4567_0000, 0)[0] & 0x40, 0, "cleared once reported");
        // A multi-block write running off the end stops before the end.
        c.command(25, last, 0);
        for _ in 0..1024 {
            c.write_byte(0xee);
        }
        c.command(12, 0, 0);
        assert_eq!(disk.borrow().len(), 4 << 30, "the image never grows");
    }

    #[test]
    fn illegal_commands_and_the_empty_slot() {
        let (mut c, _) = card(1 << 20);
        assert_eq!(c.command(5, 0, 0), Vec::<u8>::new());
        assert_eq!(c.command(17, 0, 0), Vec::<u8>::new(), "not in transfer state");
        c.command(55, 0, 0);
        let st = c.command(13, 0, 0);
        assert!(st.is_empty(), "CMD13 in identification mode is illegal");
        let mut empty = SdCard::new(None, false).unwrap();
        assert!(empty.command(0, 0, 0).is_empty() && empty.command(8, 0x1aa, 0).is_empty());
        assert_eq!(empty.read_byte(), 0);
        let odd = Rc::new(RefCell::new(DiskImage::temporary(1000).unwrap()));
        assert!(
            SdCard::new(Some(odd), false)
                .err()
                .unwrap()
                .to_string()
                .contains("multiple of 512")
        );
    }

    #[test]
    fn an_inquiry_acmd41_powers_up_after_half_a_millisecond() {
        let (mut c, _) = card(1 << 20);
        c.command(55, 0, 1000);
        assert_eq!(c.command(41, 0, 1000)[0] & 0x80, 0);
        c.command(55, 0, 400_000);
        assert_eq!(c.command(41, 0, 400_000)[0] & 0x80, 0);
        c.command(55, 0, 501_000);
        assert_eq!(c.command(41, 0, 501_000)[0] & 0x80, 0x80);
    }

    #[test]
    fn a_read_only_image_refuses_writes() {
        let path = std::env::temp_dir().join(format!("armvex-sd-ro-{}.img", std::process::id()));
        std::fs::write(&path, vec![7u8; 4096]).unwrap();
        let disk = Rc::new(RefCell::new(DiskImage::open(&path, DiskMode::ReadOnly).unwrap()));
        let mut c = SdCard::new(Some(disk), true).unwrap();
        assert!(c.read_only());
        select(&mut c);
        c.command(24, 0, 0);
        for _ in 0..512 {
            c.write_byte(0);
        }
        assert_eq!(std::fs::read(&path).unwrap(), vec![7u8; 4096]);
        std::fs::remove_file(&path).unwrap();
    }
}
