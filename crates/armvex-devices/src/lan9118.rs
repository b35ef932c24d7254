//! The SMSC LAN9118 Ethernet controller: the Versatile Express motherboard's own network card
//! (SMSC *LAN9118 High Performance single-chip 10/100 Non-PCI Ethernet Controller* datasheet,
//! rev. 1.5, section 5 "Register Description"), on a network backend of `armvex_net`. Linux
//! binds it with `smsc911x` (the device tree's `smsc,lan9118`, 32-bit accesses, interrupt
//! active high and push-pull).
//!
//! | offset | register | here |
//! |---|---|---|
//! | 0x00–0x1c | RX data FIFO | read: the next word of the current frame (see below) |
//! | 0x20–0x3c | TX data FIFO | write: TX command A, command B, then the buffer's words |
//! | 0x40 / 0x44 | RX status FIFO / its peek | one status per received frame: length (+4, the CRC) at 29:16, broadcast (13), multicast (10), filter fail (30) |
//! | 0x48 / 0x4c | TX status FIFO / its peek | one status per sent frame: command B's tag (31:16) |
//! | 0x50 | ID_REV | 0x01180001 (LAN9118, revision 1) |
//! | 0x54 | IRQ_CFG | IRQ_EN (8), IRQ_POL (4), IRQ_TYPE (0) stored; IRQ_INT (12) reads the interrupt state |
//! | 0x58 / 0x5c | INT_STS / INT_EN | write 1 to clear / the enable mask; writing SW_INT_EN raises SW_INT |
//! | 0x64 | BYTE_TEST | 0x87654321 |
//! | 0x68 | FIFO_INT | the FIFO levels: RSFL_INT while more RX statuses wait than its RX status level, TSFL_INT when a TX status pushes the count past its TX status level |
//! | 0x6c | RX_CFG | end alignment (31:30), RX_DUMP (15), data offset in bytes (12:8) |
//! | 0x70 | TX_CFG | TXS_DUMP (15), TXD_DUMP (14), TX_ON (1), STOP_TX (2) |
//! | 0x74 | HW_CFG | SRST (0) resets the chip; 0x00050004 after reset (32-bit bus) |
//! | 0x78 | RX_DP_CTRL | RX_FFWD (31): skip the rest of the current frame |
//! | 0x7c / 0x80 | RX_FIFO_INF / TX_FIFO_INF | used status entries (23:16) and data bytes / status entries and free data space |
//! | 0x84 | PMT_CTRL | READY (0) always |
//! | 0x88 | GPIO_CFG | stored |
//! | 0x8c / 0x90 | GPT_CFG / GPT_CNT | the 10 kHz general-purpose timer (GPT_INT when it reaches zero) |
//! | 0x98 | WORD_SWAP | stored (the bus is 32 bits wide: nothing to swap) |
//! | 0x9c | FREE_RUN | the 25 MHz free-running counter, from virtual time |
//! | 0xa0 | RX_DROP | 0 |
//! | 0xa4 / 0xa8 | MAC_CSR_CMD / MAC_CSR_DATA | indirect access to the MAC's registers; never busy |
//! | 0xac | AFC_CFG | stored |
//! | 0xb0 / 0xb4 | E2P_CMD / E2P_DATA | a 128-byte EEPROM holding 0xa5 and the MAC address, as QEMU's |
//!
//! The MAC's registers (through MAC_CSR_CMD): MAC_CR (receive and transmit enables, the
//! address filter modes), ADDRH/ADDRL (the card's address), HASHH/HASHL (the multicast hash
//! table), MII_ACC/MII_DATA (the PHY, never busy), FLOW. The internal PHY (ID 0x0007c0d1)
//! answers on MII: basic control and status (link up, autonegotiation complete at once), the
//! IDs, advertisement, link partner (100 Mbit/s full duplex), interrupt source and mask; the
//! control register's loopback bit sends transmitted frames back to the card.
//!
//! The window is 256 bytes, repeated over the chip select (the chip decodes A1–A7 only).
//! Everything follows QEMU 7.2's `hw/net/lan9118.c` (the oracle of the firmware test
//! `lan9118`), including its interrupt pin: `IRQ_INT` is `INT_STS & INT_EN != 0`, masked by
//! `IRQ_EN`, and the line is driven inverted (active low) unless IRQ_TYPE and IRQ_POL are both
//! set. Where QEMU is plainly wrong it is not followed: the TX end padding reads command A's
//! end alignment, fast-forwarding frees the skipped words, RX_DUMP also drops the frame being
//! read, the RX status peek reads the RX status FIFO, and frames that do not fit are dropped
//! rather than overflowing a buffer.
//!
//! ## The network
//!
//! A frame the guest completes in the TX FIFO goes at once to the card's
//! [`armvex_net::NetPort`] (libslirp, a tap, nothing). Frames from the network arrive through
//! [`Device::host_input`], one frame per call, delivered by the machine at recorded points of
//! virtual time, like virtio-net's. With receiving disabled, a full status or data FIFO, a
//! frame shorter than 14 bytes or longer than 2047, or an address the filter refuses, the
//! frame is dropped, as the chip does.
//!
//! ## Saved state
//!
//! Every register, the MAC address and EEPROM, both FIFOs with their frames, the frame being
//! assembled and the one being read, the GPT's timer slot, and the frames sent so far (so that
//! reverse execution sends none twice). The MAC address the card was built with (the EEPROM's
//! at power-on) is checked, not restored.

use crate::{state_error, truncate};
use armvex_bus::{AccessSize, Device, DeviceContext, StateError, TimerSlot, state};
use armvex_net::{MIN_FRAME, NetBackend, NetPort};
use serde::{Deserialize, Serialize};
use std::collections::VecDeque;

/// What ID_REV reads: chip 0x0118, revision 1.
pub const ID_REV_VALUE: u32 = 0x0118_0001;
/// What BYTE_TEST reads: the driver checks it to see the bus's byte order.
pub const BYTE_TEST_VALUE: u32 = 0x8765_4321;
/// QEMU's default MAC address for the first card, the LAN9118's unless `mac=` says otherwise.
pub const DEFAULT_MAC: [u8; 6] = [0x52, 0x54, 0x00, 0x12, 0x34, 0x56];

/// Register offsets of the system control and status registers and the FIFO ports (datasheet
/// section 5, "Register Description").
pub mod regs {
    /// RX data FIFO port (0x00..0x20): reads the next word of the current frame.
    pub const RX_DATA_FIFO: u32 = 0x00;
    /// TX data FIFO port (0x20..0x40): TX command A, command B, then the buffer's words.
    pub const TX_DATA_FIFO: u32 = 0x20;
    /// RX status FIFO port: pops one status per received frame.
    pub const RX_STATUS_FIFO: u32 = 0x40;
    /// RX status FIFO peek: the next status, not popped.
    pub const RX_STATUS_FIFO_PEEK: u32 = 0x44;
    /// TX status FIFO port: pops one status per sent frame.
    pub const TX_STATUS_FIFO: u32 = 0x48;
    /// TX status FIFO peek.
    pub const TX_STATUS_FIFO_PEEK: u32 = 0x4c;
    /// Chip ID and revision ([`super::ID_REV_VALUE`]).
    pub const ID_REV: u32 = 0x50;
    /// Interrupt configuration: IRQ_EN, IRQ_POL, IRQ_TYPE; IRQ_INT reads the interrupt state.
    pub const IRQ_CFG: u32 = 0x54;
    /// Interrupt status, write 1 to clear.
    pub const INT_STS: u32 = 0x58;
    /// Interrupt enable mask.
    pub const INT_EN: u32 = 0x5c;
    /// Byte order test register ([`super::BYTE_TEST_VALUE`]).
    pub const BYTE_TEST: u32 = 0x64;
    /// FIFO levels that raise RSFL_INT / TSFL_INT.
    pub const FIFO_INT: u32 = 0x68;
    /// Receive configuration: end alignment, RX_DUMP, data offset.
    pub const RX_CFG: u32 = 0x6c;
    /// Transmit configuration: TXS_DUMP, TXD_DUMP, TX_ON, STOP_TX.
    pub const TX_CFG: u32 = 0x70;
    /// Hardware configuration: SRST resets the chip.
    pub const HW_CFG: u32 = 0x74;
    /// Receive datapath control: RX_FFWD skips the rest of the frame.
    pub const RX_DP_CTRL: u32 = 0x78;
    /// Receive FIFO information: used status entries and data bytes.
    pub const RX_FIFO_INF: u32 = 0x7c;
    /// Transmit FIFO information: status entries and free data space.
    pub const TX_FIFO_INF: u32 = 0x80;
    /// Power management control: READY.
    pub const PMT_CTRL: u32 = 0x84;
    /// General-purpose I/O configuration.
    pub const GPIO_CFG: u32 = 0x88;
    /// General-purpose timer configuration.
    pub const GPT_CFG: u32 = 0x8c;
    /// General-purpose timer count.
    pub const GPT_CNT: u32 = 0x90;
    /// Word swap (nothing to swap on a 32-bit bus).
    pub const WORD_SWAP: u32 = 0x98;
    /// The 25 MHz free-running counter.
    pub const FREE_RUN: u32 = 0x9c;
    /// Receiver dropped frames counter.
    pub const RX_DROP: u32 = 0xa0;
    /// MAC CSR synchronizer command: indirect access to the MAC registers.
    pub const MAC_CSR_CMD: u32 = 0xa4;
    /// MAC CSR synchronizer data.
    pub const MAC_CSR_DATA: u32 = 0xa8;
    /// Automatic flow control configuration.
    pub const AFC_CFG: u32 = 0xac;
    /// EEPROM command.
    pub const E2P_CMD: u32 = 0xb0;
    /// EEPROM data.
    pub const E2P_DATA: u32 = 0xb4;
}
use regs::*;

const IRQ_INT: u32 = 1 << 12;
const IRQ_EN: u32 = 1 << 8;
const IRQ_POL: u32 = 1 << 4;
const IRQ_TYPE: u32 = 1;

const SW_INT: u32 = 1 << 31;
const TX_IOC_INT: u32 = 1 << 21;
const RXSTOP_INT: u32 = 1 << 24;
const GPT_INT: u32 = 1 << 19;
const PHY_INT: u32 = 1 << 18;
const RXE_INT: u32 = 1 << 14;
const TDFO_INT: u32 = 1 << 10;
const TSFF_INT: u32 = 1 << 8;
const TSFL_INT: u32 = 1 << 7;
const RSFL_INT: u32 = 1 << 3;
const RESERVED_INT: u32 = 0x7c00_1000;

const MAC_CR: u32 = 1;
const MAC_ADDRH: u32 = 2;
const MAC_ADDRL: u32 = 3;
const MAC_HASHH: u32 = 4;
const MAC_HASHL: u32 = 5;
const MAC_MII_ACC: u32 = 6;
const MAC_MII_DATA: u32 = 7;
const MAC_FLOW: u32 = 8;
const MAC_VLAN1: u32 = 9;

const MAC_CR_RXALL: u32 = 1 << 31;
const MAC_CR_MCPAS: u32 = 1 << 19;
const MAC_CR_PRMS: u32 = 1 << 18;
const MAC_CR_INVFILT: u32 = 1 << 17;
const MAC_CR_HO: u32 = 1 << 15;
const MAC_CR_HPFILT: u32 = 1 << 13;
const MAC_CR_BCAST: u32 = 1 << 11;
const MAC_CR_RXEN: u32 = 1 << 2;
const MAC_CR_RESERVED: u32 = 0x7f40_4213;

const PHY_INT_ENERGYON: u32 = 0x80;
const PHY_INT_AUTONEG_COMPLETE: u32 = 0x40;
const PHY_CONTROL_LOOPBACK: u32 = 0x4000;

const GPT_TIMER_EN: u32 = 1 << 29;
/// E2P_CMD: the MAC address was loaded from the EEPROM.
const E2P_MAC_ADDR_LOADED: u32 = 1 << 8;
/// The general-purpose timer counts at 10 kHz.
const GPT_TICK_NS: u64 = 100_000;

/// The TX data FIFO, as QEMU counts it (TX_FIFO_INF's free space at reset).
const TX_FIFO_SIZE: u32 = 4608;
/// TX status FIFO entries.
const TX_STATUS_ENTRIES: usize = 512;
/// RX data FIFO, in words.
const RX_FIFO_WORDS: usize = 2640;
/// RX status FIFO entries.
const RX_STATUS_ENTRIES: usize = 176;
/// Frames in the RX data FIFO, at most (QEMU's table of their sizes).
const RX_FRAMES: usize = 1024;
/// The longest frame either way (QEMU's buffers): longer ones are dropped.
const MAX_FRAME: usize = 2047;
/// The frame being assembled for transmission holds at most this much.
const TX_BUFFER: usize = 2048;

const TX_IDLE: u8 = 0;
const TX_B: u8 = 1;
const TX_DATA: u8 = 2;

/// The frame being written into the TX FIFO.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
struct TxFrame {
    /// TX_IDLE (waiting for command A), TX_B (for command B), TX_DATA.
    state: u8,
    cmd_a: u32,
    cmd_b: u32,
    /// Bytes of the current buffer still to come.
    buffer_size: i32,
    /// Bytes to skip at the buffer's start.
    offset: u32,
    /// Padding words after the buffer.
    pad: u32,
    /// Words in the FIFO (TX_FIFO_INF).
    fifo_used: u32,
    /// The frame so far.
    data: Vec<u8>,
    /// More bytes came than the buffer holds: the frame is dropped.
    overflow: bool,
}

/// What [`Lan9118`] saves.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
struct Lan9118State {
    irq_cfg: u32,
    int_sts: u32,
    int_en: u32,
    fifo_int: u32,
    rx_cfg: u32,
    tx_cfg: u32,
    hw_cfg: u32,
    pmt_ctrl: u32,
    gpio_cfg: u32,
    gpt_cfg: u32,
    /// While the GPT runs: the count at `gpt_start` (virtual ns); stopped: its count.
    gpt_count: u32,
    gpt_start: u64,
    gpt_slot: Option<TimerSlot>,
    word_swap: u32,
    /// FREE_RUN reads the 25 MHz ticks since this time (virtual ns; the last reset).
    free_run_start: u64,
    mac_cmd: u32,
    mac_data: u32,
    afc_cfg: u32,
    e2p_cmd: u32,
    e2p_data: u32,
    eeprom_writable: bool,
    eeprom: Vec<u8>,
    mac: [u8; 6],
    mac_cr: u32,
    mac_hashh: u32,
    mac_hashl: u32,
    mac_mii_acc: u32,
    mac_mii_data: u32,
    mac_flow: u32,
    phy_status: u32,
    phy_control: u32,
    phy_advertise: u32,
    phy_int: u32,
    phy_int_mask: u32,
    tx: TxFrame,
    tx_status: VecDeque<u32>,
    rx_status: VecDeque<u32>,
    rx_fifo: VecDeque<u32>,
    /// The size in words of each frame in `rx_fifo` not yet started.
    rx_frames: VecDeque<u32>,
    /// The frame being read: zero words before it, its words left, zero words after it.
    rxp_offset: u32,
    rxp_size: u32,
    rxp_pad: u32,
    /// Frames the guest has sent ([`NetPort::position`]).
    sent: u64,
    /// The address in the EEPROM at power-on (what the card was built with: checked).
    power_on_mac: [u8; 6],
}

/// A LAN9118 on a network.
pub struct Lan9118 {
    name: String,
    irq_id: u32,
    /// The address in the EEPROM at power-on.
    power_on_mac: [u8; 6],
    port: NetPort,
    s: Lan9118State,
}

impl Lan9118 {
    /// A LAN9118 called `name` raising GIC interrupt `irq_id`, with `mac` in its EEPROM, sending
    /// its frames to `backend`.
    pub fn new(name: impl Into<String>, irq_id: u32, mac: [u8; 6], backend: Box<dyn NetBackend>) -> Self {
        let mut eeprom = vec![0; 128];
        eeprom[0] = 0xa5;
        eeprom[1..7].copy_from_slice(&mac);
        let mut card = Lan9118 {
            name: name.into(),
            irq_id,
            power_on_mac: mac,
            port: NetPort::new(backend),
            s: Lan9118State {
                irq_cfg: 0,
                int_sts: 0,
                int_en: 0,
                fifo_int: 0,
                rx_cfg: 0,
                tx_cfg: 0,
                hw_cfg: 0,
                pmt_ctrl: 1,
                gpio_cfg: 0,
                gpt_cfg: 0,
                gpt_count: 0,
                gpt_start: 0,
                gpt_slot: None,
                word_swap: 0,
                free_run_start: 0,
                mac_cmd: 0,
                mac_data: 0,
                afc_cfg: 0,
                e2p_cmd: 0,
                e2p_data: 0,
                eeprom_writable: false,
                eeprom,
                mac,
                mac_cr: 0,
                mac_hashh: 0,
                mac_hashl: 0,
                mac_mii_acc: 0,
                mac_mii_data: 0,
                mac_flow: 0,
                phy_status: 0,
                phy_control: 0,
                phy_advertise: 0,
                phy_int: 0,
                phy_int_mask: 0,
                tx: TxFrame::default(),
                tx_status: VecDeque::new(),
                rx_status: VecDeque::new(),
                rx_fifo: VecDeque::new(),
                rx_frames: VecDeque::new(),
                rxp_offset: 0,
                rxp_size: 0,
                rxp_pad: 0,
                sent: 0,
                power_on_mac: mac,
            },
        };
        card.reset_registers(0);
        card
    }

    /// The card's address now (the driver may change it).
    pub fn mac(&self) -> [u8; 6] {
        self.s.mac
    }

    /// The chip's reset (power-on or HW_CFG SRST) at virtual time `now`, without the
    /// interrupt line and the GPT's deadline (the callers see to those).
    fn reset_registers(&mut self, now: u64) {
        let s = &mut self.s;
        s.irq_cfg &= IRQ_TYPE | IRQ_POL;
        s.int_sts = 0;
        s.int_en = 0;
        s.fifo_int = 0x4800_0000;
        s.rx_cfg = 0;
        s.tx_cfg = 0;
        s.hw_cfg = 0x0005_0004;
        s.pmt_ctrl &= 0x45;
        s.gpio_cfg = 0;
        s.tx = TxFrame {
            cmd_a: u32::MAX,
            cmd_b: u32::MAX,
            ..TxFrame::default()
        };
        s.tx_status.clear();
        s.rx_status.clear();
        s.rx_fifo.clear();
        s.rx_frames.clear();
        s.rxp_offset = 0;
        s.rxp_size = 0;
        s.rxp_pad = 0;
        s.mac_cmd = 0;
        s.mac_data = 0;
        s.afc_cfg = 0;
        s.e2p_cmd = 0;
        s.e2p_data = 0;
        s.free_run_start = now;
        s.gpt_cfg = 0xffff;
        s.gpt_count = 0xffff;
        s.gpt_start = now;
        s.mac_cr = MAC_CR_PRMS;
        s.mac_hashh = 0;
        s.mac_hashl = 0;
        s.mac_mii_acc = 0;
        s.mac_mii_data = 0;
        s.mac_flow = 0;
        self.phy_reset();
        self.s.eeprom_writable = false;
        self.reload_eeprom();
    }

    fn phy_reset(&mut self) {
        let s = &mut self.s;
        s.phy_status = 0x7809;
        s.phy_control = 0x3000;
        s.phy_advertise = 0x01e1;
        s.phy_int_mask = 0;
        s.phy_int = 0;
        // The link is up (a card with no network has an idle link, as QEMU's): autonegotiation
        // is complete at once.
        s.phy_status |= 0x0024;
        s.phy_int |= PHY_INT_ENERGYON | PHY_INT_AUTONEG_COMPLETE;
        self.phy_update_irq();
    }

    fn phy_update_irq(&mut self) {
        if self.s.phy_int & self.s.phy_int_mask != 0 {
            self.s.int_sts |= PHY_INT;
        } else {
            self.s.int_sts &= !PHY_INT;
        }
    }

    fn reload_eeprom(&mut self) {
        if self.s.eeprom[0] != 0xa5 {
            self.s.e2p_cmd &= !E2P_MAC_ADDR_LOADED;
            return;
        }
        let mut mac = [0; 6];
        mac.copy_from_slice(&self.s.eeprom[1..7]);
        self.s.mac = mac;
        self.s.e2p_cmd |= E2P_MAC_ADDR_LOADED;
    }

    /// Drive the interrupt line from INT_STS, INT_EN and IRQ_CFG (see the module docs).
    fn update(&mut self, ctx: &mut DeviceContext) {
        let s = &mut self.s;
        // The RX status level: RSFL_INT while more statuses wait than FIFO_INT asks for.
        if s.rx_status.len() > (s.fifo_int & 0xff) as usize {
            s.int_sts |= RSFL_INT;
        }
        let mut level = s.int_sts & s.int_en != 0;
        if level {
            s.irq_cfg |= IRQ_INT;
        } else {
            s.irq_cfg &= !IRQ_INT;
        }
        if s.irq_cfg & IRQ_EN == 0 {
            level = false;
        }
        if s.irq_cfg & (IRQ_TYPE | IRQ_POL) != IRQ_TYPE | IRQ_POL {
            level = !level;
        }
        ctx.set_spi(self.irq_id, level);
    }

    // ---- Receiving.

    /// Whether the address filter takes a frame for `dest`.
    fn filter(&self, dest: &[u8]) -> bool {
        let cr = self.s.mac_cr;
        if cr & MAC_CR_PRMS != 0 {
            return true;
        }
        if dest.iter().all(|&b| b == 0xff) {
            return cr & MAC_CR_BCAST == 0;
        }
        let multicast = dest[0] & 1 != 0;
        if multicast && cr & MAC_CR_MCPAS != 0 {
            return true;
        }
        let exact = if multicast {
            cr & MAC_CR_HPFILT == 0
        } else {
            cr & MAC_CR_HO == 0
        };
        if exact {
            (dest == self.s.mac) != (cr & MAC_CR_INVFILT != 0)
        } else {
            let hash = ether_crc(dest) >> 26;
            let table = if hash & 0x20 != 0 {
                self.s.mac_hashh
            } else {
                self.s.mac_hashl
            };
            (table >> (hash & 0x1f)) & 1 != 0
        }
    }

    /// A frame from the network (or from the PHY's loopback).
    fn receive(&mut self, frame: &[u8]) {
        let s = &self.s;
        if s.mac_cr & MAC_CR_RXEN == 0 || !(MIN_FRAME..=MAX_FRAME).contains(&frame.len()) {
            tracing::debug!("{}: frame of {} bytes dropped", self.name, frame.len());
            return;
        }
        if s.rx_status.len() >= RX_STATUS_ENTRIES || s.rx_frames.len() >= RX_FRAMES {
            tracing::debug!("{}: RX status FIFO full: frame dropped", self.name);
            return;
        }
        let pass = self.filter(&frame[..6]);
        if !pass && s.mac_cr & MAC_CR_RXALL == 0 {
            return;
        }
        // The data offset's odd bytes come before the frame in its first word; its whole words
        // are added as the frame is read. The CRC follows the frame.
        let lead = ((s.rx_cfg >> 8) & 3) as usize;
        let mut bytes = vec![0; lead];
        bytes.extend_from_slice(frame);
        bytes.extend_from_slice(&crc32(frame).to_le_bytes());
        bytes.resize(bytes.len().div_ceil(4) * 4, 0);
        let words = bytes.len() / 4;
        if RX_FIFO_WORDS - s.rx_fifo.len() < words {
            tracing::debug!("{}: RX data FIFO full: frame dropped", self.name);
            return;
        }
        let mut status = ((frame.len() as u32 + 4) & 0x3fff) << 16;
        if frame[..6].iter().all(|&b| b == 0xff) {
            status |= 1 << 13;
        } else if frame[0] & 1 != 0 {
            status |= 1 << 10;
        }
        if !pass {
            status |= 1 << 30;
        }
        let s = &mut self.s;
        s.rx_fifo.extend(
            bytes
                .chunks_exact(4)
                .map(|w| u32::from_le_bytes([w[0], w[1], w[2], w[3]])),
        );
        s.rx_frames.push_back(words as u32);
        s.rx_status.push_back(status);
    }

    /// The next word of the RX data FIFO.
    fn rx_fifo_pop(&mut self) -> u32 {
        let s = &mut self.s;
        if s.rxp_size == 0 && s.rxp_pad == 0 {
            if let Some(size) = s.rx_frames.pop_front() {
                s.rxp_size = size;
                s.rxp_offset = (s.rx_cfg >> 10) & 7;
                let n = s.rxp_offset + size;
                s.rxp_pad = match s.rx_cfg >> 30 {
                    1 => n.wrapping_neg() & 3,
                    2 => n.wrapping_neg() & 7,
                    _ => 0,
                };
            }
        }
        if s.rxp_offset > 0 {
            s.rxp_offset -= 1;
            0
        } else if s.rxp_size > 0 {
            s.rxp_size -= 1;
            s.rx_fifo.pop_front().unwrap_or_else(|| {
                // Only a damaged saved state gets here.
                s.rxp_size = 0;
                0
            })
        } else if s.rxp_pad > 0 {
            s.rxp_pad -= 1;
            0
        } else {
            s.int_sts |= RXE_INT;
            0
        }
    }

    /// RX_DP_CTRL's fast-forward: the rest of the current frame is skipped.
    fn rx_fast_forward(&mut self) {
        self.s.rxp_pad = 0;
        self.s.rxp_offset = 0;
        if self.s.rxp_size == 0 {
            if let Some(size) = self.s.rx_frames.pop_front() {
                self.s.rxp_size = size;
            }
        }
        let skip = (self.s.rxp_size as usize).min(self.s.rx_fifo.len());
        self.s.rx_fifo.drain(..skip);
        self.s.rxp_size = 0;
    }

    // ---- Transmitting.

    /// A word written to the TX data FIFO.
    fn tx_fifo_push(&mut self, value: u32) {
        let tx = &mut self.s.tx;
        if tx.fifo_used >= TX_FIFO_SIZE {
            self.s.int_sts |= TDFO_INT;
            return;
        }
        match tx.state {
            TX_IDLE => {
                tx.cmd_a = value & 0x831f_37ff;
                tx.fifo_used += 1;
                tx.state = TX_B;
                tx.buffer_size = (tx.cmd_a & 0x7ff) as i32;
                tx.offset = (tx.cmd_a >> 16) & 0x1f;
            }
            TX_B => {
                if tx.cmd_a & 0x2000 != 0 {
                    // The first segment: command B tags the frame.
                    tx.cmd_b = value;
                    tx.fifo_used += 1;
                    tx.data.clear();
                    tx.overflow = false;
                }
                // The end alignment pads the buffer (without the commands) to 16 or 32 bytes.
                let n = (tx.buffer_size as u32 + tx.offset + 3) >> 2;
                tx.pad = match (tx.cmd_a >> 24) & 3 {
                    1 => n.wrapping_neg() & 3,
                    2 => n.wrapping_neg() & 7,
                    _ => 0,
                };
                tx.state = TX_DATA;
            }
            _ => {
                if tx.offset >= 4 {
                    tx.offset -= 4;
                    return;
                }
                if tx.buffer_size <= 0 && tx.pad != 0 {
                    tx.pad -= 1;
                } else {
                    let n = (tx.buffer_size + tx.offset as i32).clamp(0, 4) as u32;
                    let bytes = value.to_le_bytes();
                    let take = n.saturating_sub(tx.offset) as usize;
                    let first = tx.offset as usize;
                    for &b in &bytes[first..first + take] {
                        if tx.data.len() < TX_BUFFER {
                            tx.data.push(b);
                        } else {
                            tx.overflow = true;
                        }
                    }
                    tx.buffer_size -= take as i32;
                    tx.offset = 0;
                    tx.fifo_used += 1;
                }
                if tx.buffer_size <= 0 && tx.pad == 0 {
                    let last = tx.cmd_a & 0x1000 != 0;
                    let on_completion = tx.cmd_a & 0x8000_0000 != 0;
                    tx.state = TX_IDLE;
                    if last {
                        self.transmit();
                    }
                    if on_completion {
                        self.s.int_sts |= TX_IOC_INT;
                    }
                }
            }
        }
    }

    /// The frame in the TX FIFO is complete: send it.
    fn transmit(&mut self) {
        let frame = std::mem::take(&mut self.s.tx.data);
        let good = !self.s.tx.overflow && frame.len() >= MIN_FRAME;
        if !good {
            tracing::debug!("{}: a transmitted frame of {} bytes dropped", self.name, frame.len());
        } else if self.s.phy_control & PHY_CONTROL_LOOPBACK != 0 {
            self.receive(&frame);
        } else {
            self.port.send(&frame);
        }
        self.s.tx.data = frame;
        self.s.tx.data.clear();
        self.s.tx.fifo_used = 0;
        if self.s.tx_status.len() >= TX_STATUS_ENTRIES {
            return;
        }
        // The tag of command B; an oversize frame reports an error.
        let mut status = self.s.tx.cmd_b & 0xffff_0000;
        if self.s.tx.overflow {
            status |= 0x8000;
        }
        self.s.tx_status.push_back(status);
        if self.s.tx_status.len() > ((self.s.fifo_int >> 16) & 0xff) as usize {
            self.s.int_sts |= TSFL_INT;
        }
        if self.s.tx_status.len() == TX_STATUS_ENTRIES {
            self.s.int_sts |= TSFF_INT;
        }
    }

    // ---- The MAC's and the PHY's registers.

    fn phy_read(&mut self, reg: u32) -> u32 {
        let s = &mut self.s;
        match reg {
            0 => s.phy_control,
            1 => s.phy_status,
            2 => 0x0007,
            3 => 0xc0d1,
            4 => s.phy_advertise,
            5 => 0x0f71,
            6 => 1,
            29 => {
                let v = s.phy_int;
                s.phy_int = 0;
                self.phy_update_irq();
                v
            }
            30 => s.phy_int_mask,
            _ => {
                tracing::debug!("{}: read of PHY register {reg}", self.name);
                0
            }
        }
    }

    fn phy_write(&mut self, reg: u32, value: u32) {
        let s = &mut self.s;
        match reg {
            0 => {
                if value & 0x8000 != 0 {
                    self.phy_reset();
                    return;
                }
                s.phy_control = value & 0x7980;
                // Autonegotiation completes at once.
                if value & 0x1000 != 0 {
                    s.phy_status |= 0x0020;
                }
            }
            4 => s.phy_advertise = (value & 0x2d7f) | 0x80,
            30 => {
                s.phy_int_mask = value & 0xff;
                self.phy_update_irq();
            }
            _ => tracing::debug!("{}: write of {value:#x} to PHY register {reg}", self.name),
        }
    }

    fn mac_read(&mut self, reg: u32) -> u32 {
        let s = &self.s;
        let m = s.mac.map(u32::from);
        match reg {
            MAC_CR => s.mac_cr,
            MAC_ADDRH => m[4] | m[5] << 8,
            MAC_ADDRL => m[0] | m[1] << 8 | m[2] << 16 | m[3] << 24,
            MAC_HASHH => s.mac_hashh,
            MAC_HASHL => s.mac_hashl,
            MAC_MII_ACC => s.mac_mii_acc,
            MAC_MII_DATA => s.mac_mii_data,
            MAC_FLOW => s.mac_flow,
            _ => {
                tracing::debug!("{}: read of MAC register {reg}", self.name);
                0
            }
        }
    }

    fn mac_write(&mut self, reg: u32, value: u32) {
        let s = &mut self.s;
        match reg {
            MAC_CR => {
                if s.mac_cr & MAC_CR_RXEN != 0 && value & MAC_CR_RXEN == 0 {
                    s.int_sts |= RXSTOP_INT;
                }
                s.mac_cr = value & !MAC_CR_RESERVED;
            }
            MAC_ADDRH => {
                s.mac[4] = value as u8;
                s.mac[5] = (value >> 8) as u8;
            }
            MAC_ADDRL => s.mac[..4].copy_from_slice(&value.to_le_bytes()),
            MAC_HASHH => s.mac_hashh = value,
            MAC_HASHL => s.mac_hashl = value,
            MAC_MII_ACC => {
                s.mac_mii_acc = value & 0xffc2;
                let reg = (value >> 6) & 0x1f;
                if value & 2 != 0 {
                    let data = s.mac_mii_data;
                    self.phy_write(reg, data);
                } else {
                    let data = self.phy_read(reg);
                    self.s.mac_mii_data = data;
                }
            }
            MAC_MII_DATA => s.mac_mii_data = value & 0xffff,
            MAC_FLOW => s.mac_flow = value & 0xffff_0000,
            // VLAN1 only changes when a frame is too long, which is never reported.
            MAC_VLAN1 => {}
            _ => tracing::debug!("{}: write of {value:#x} to MAC register {reg}", self.name),
        }
    }

    fn eeprom_command(&mut self, cmd: u32, addr: usize) {
        let s = &mut self.s;
        s.e2p_cmd = (s.e2p_cmd & E2P_MAC_ADDR_LOADED) | (cmd << 28) | addr as u32;
        match cmd {
            0 => s.e2p_data = u32::from(s.eeprom[addr]),
            1 => s.eeprom_writable = false,
            2 => s.eeprom_writable = true,
            3 if s.eeprom_writable => s.eeprom[addr] &= s.e2p_data as u8,
            4 if s.eeprom_writable => {
                let data = s.e2p_data as u8;
                s.eeprom.iter_mut().for_each(|b| *b &= data);
            }
            5 if s.eeprom_writable => s.eeprom[addr] = 0xff,
            6 if s.eeprom_writable => s.eeprom.fill(0xff),
            7 => self.reload_eeprom(),
            _ => {}
        }
    }

    // ---- The general-purpose timer.

    fn gpt_running(&self) -> bool {
        self.s.gpt_cfg & GPT_TIMER_EN != 0
    }

    /// The GPT's count at `now`: down from the count it started with, then from 0xffff again
    /// after each zero.
    fn gpt_value(&self, now: u64) -> u32 {
        if !self.gpt_running() {
            return self.s.gpt_count;
        }
        let ticks = now.saturating_sub(self.s.gpt_start) / GPT_TICK_NS;
        let start = u64::from(self.s.gpt_count);
        if ticks <= start {
            (start - ticks) as u32
        } else {
            (0xffff - (ticks - start - 1) % 0x10000) as u32
        }
    }

    /// Set the deadline of the GPT's next zero (or cancel it when stopped).
    fn gpt_schedule(&mut self, ctx: &mut DeviceContext) {
        if !self.gpt_running() {
            if let Some(slot) = self.s.gpt_slot {
                ctx.cancel_deadline(slot);
            }
            return;
        }
        let now = ctx.now();
        let count = u64::from(self.gpt_value(now));
        let ticks_done = now.saturating_sub(self.s.gpt_start) / GPT_TICK_NS;
        let at = self
            .s
            .gpt_start
            .saturating_add((ticks_done + count).saturating_mul(GPT_TICK_NS));
        let slot = *self.s.gpt_slot.get_or_insert_with(|| ctx.new_timer_slot());
        ctx.set_deadline(slot, at.max(now + 1));
    }

    fn read_register(&mut self, ctx: &mut DeviceContext, offset: u32) -> u32 {
        let s = &self.s;
        match offset {
            RX_DATA_FIFO..TX_DATA_FIFO => {
                let v = self.rx_fifo_pop();
                self.update(ctx);
                v
            }
            RX_STATUS_FIFO => {
                let v = self.s.rx_status.pop_front().unwrap_or(0);
                self.update(ctx);
                v
            }
            RX_STATUS_FIFO_PEEK => s.rx_status.front().copied().unwrap_or(0),
            TX_STATUS_FIFO => self.s.tx_status.pop_front().unwrap_or(0),
            TX_STATUS_FIFO_PEEK => s.tx_status.front().copied().unwrap_or(0),
            ID_REV => ID_REV_VALUE,
            IRQ_CFG => s.irq_cfg,
            INT_STS => s.int_sts,
            INT_EN => s.int_en,
            BYTE_TEST => BYTE_TEST_VALUE,
            FIFO_INT => s.fifo_int,
            RX_CFG => s.rx_cfg,
            TX_CFG => s.tx_cfg,
            HW_CFG => s.hw_cfg,
            RX_DP_CTRL => 0,
            RX_FIFO_INF => ((s.rx_status.len() as u32) << 16) | ((s.rx_fifo.len() as u32) << 2),
            TX_FIFO_INF => ((s.tx_status.len() as u32) << 16) | (TX_FIFO_SIZE - s.tx.fifo_used.min(TX_FIFO_SIZE)),
            PMT_CTRL => s.pmt_ctrl,
            GPIO_CFG => s.gpio_cfg,
            GPT_CFG => s.gpt_cfg,
            GPT_CNT => self.gpt_value(ctx.now()),
            WORD_SWAP => s.word_swap,
            FREE_RUN => (ctx.now().saturating_sub(s.free_run_start) / 40) as u32,
            RX_DROP => 0,
            MAC_CSR_CMD => s.mac_cmd,
            MAC_CSR_DATA => s.mac_data,
            AFC_CFG => s.afc_cfg,
            E2P_CMD => s.e2p_cmd,
            E2P_DATA => s.e2p_data,
            _ => {
                tracing::debug!("{}: read of unknown offset {offset:#x}", self.name);
                0
            }
        }
    }

    fn write_register(&mut self, ctx: &mut DeviceContext, offset: u32, value: u32) {
        match offset {
            TX_DATA_FIFO..RX_STATUS_FIFO => self.tx_fifo_push(value),
            IRQ_CFG => {
                let s = &mut self.s;
                s.irq_cfg = (s.irq_cfg & IRQ_INT) | (value & (IRQ_EN | IRQ_POL | IRQ_TYPE));
            }
            INT_STS => self.s.int_sts &= !value,
            INT_EN => {
                self.s.int_en = value & !RESERVED_INT;
                self.s.int_sts |= value & SW_INT;
            }
            FIFO_INT => self.s.fifo_int = value,
            RX_CFG => {
                if value & 0x8000 != 0 {
                    // RX_DUMP: every frame received so far is gone.
                    let s = &mut self.s;
                    s.rx_fifo.clear();
                    s.rx_status.clear();
                    s.rx_frames.clear();
                    s.rxp_offset = 0;
                    s.rxp_size = 0;
                    s.rxp_pad = 0;
                }
                self.s.rx_cfg = value & 0xcfff_1ff0;
            }
            TX_CFG => {
                if value & 0x8000 != 0 {
                    self.s.tx_status.clear();
                }
                if value & 0x4000 != 0 {
                    self.s.tx = TxFrame {
                        cmd_a: u32::MAX,
                        cmd_b: self.s.tx.cmd_b,
                        ..TxFrame::default()
                    };
                }
                self.s.tx_cfg = value & 6;
            }
            HW_CFG => {
                if value & 1 != 0 {
                    self.reset_registers(ctx.now());
                    self.gpt_schedule(ctx);
                } else {
                    self.s.hw_cfg = (value & 0x0003_f300) | (self.s.hw_cfg & 4);
                }
            }
            RX_DP_CTRL => {
                if value & 0x8000_0000 != 0 {
                    self.rx_fast_forward();
                }
            }
            PMT_CTRL => {
                if value & 0x400 != 0 {
                    self.phy_reset();
                }
                self.s.pmt_ctrl = (self.s.pmt_ctrl & !0x34e) | (value & 0x34e);
            }
            GPIO_CFG => self.s.gpio_cfg = value & 0x7777_071f,
            GPT_CFG => {
                let now = ctx.now();
                if (self.s.gpt_cfg ^ value) & GPT_TIMER_EN != 0 {
                    if value & GPT_TIMER_EN != 0 {
                        self.s.gpt_count = value & 0xffff;
                        self.s.gpt_start = now;
                    } else {
                        self.s.gpt_count = 0xffff;
                    }
                }
                self.s.gpt_cfg = value & (GPT_TIMER_EN | 0xffff);
                self.gpt_schedule(ctx);
            }
            WORD_SWAP => self.s.word_swap = value,
            MAC_CSR_CMD => {
                self.s.mac_cmd = value & 0x4000_000f;
                if value & 0x8000_0000 != 0 {
                    if value & 0x4000_0000 != 0 {
                        self.s.mac_data = self.mac_read(value & 0xf);
                    } else {
                        self.mac_write(value & 0xf, self.s.mac_data);
                    }
                }
            }
            MAC_CSR_DATA => self.s.mac_data = value,
            AFC_CFG => self.s.afc_cfg = value & 0x00ff_ffff,
            E2P_CMD => self.eeprom_command((value >> 28) & 7, (value & 0x7f) as usize),
            E2P_DATA => self.s.e2p_data = value & 0xff,
            _ => tracing::debug!("{}: write of {value:#x} to offset {offset:#x}", self.name),
        }
        self.update(ctx);
    }
}

impl Device for Lan9118 {
    fn name(&self) -> &str {
        &self.name
    }

    fn read(&mut self, ctx: &mut DeviceContext, offset: u32, size: AccessSize) -> u32 {
        let offset = offset & 0xff;
        let value = self.read_register(ctx, offset & !3);
        if size != AccessSize::Word {
            tracing::debug!("{}: {size:?} read at {offset:#x}", self.name);
        }
        truncate(value >> ((offset & 3) * 8), size)
    }

    fn write(&mut self, ctx: &mut DeviceContext, offset: u32, size: AccessSize, value: u32) {
        let offset = offset & 0xff;
        if size != AccessSize::Word && offset & 3 != 0 {
            tracing::debug!("{}: {size:?} write at {offset:#x} ignored", self.name);
            return;
        }
        self.write_register(ctx, offset, truncate(value, size));
    }

    fn timer_expired(&mut self, ctx: &mut DeviceContext, _slot: TimerSlot) {
        if !self.gpt_running() {
            return;
        }
        if self.s.int_en & GPT_INT != 0 {
            self.s.int_sts |= GPT_INT;
        }
        // Counting goes on from 0xffff after the zero.
        self.s.gpt_count = 0xffff;
        self.s.gpt_start = ctx.now().saturating_add(GPT_TICK_NS);
        self.gpt_schedule(ctx);
        self.update(ctx);
    }

    fn host_input(&mut self, ctx: &mut DeviceContext, frame: &[u8]) {
        self.receive(frame);
        self.update(ctx);
    }

    fn save_state(&self) -> Vec<u8> {
        let Lan9118 {
            name: _,
            irq_id: _,
            power_on_mac: _,
            port,
            s,
        } = self;
        let mut s = s.clone();
        s.sent = port.position();
        state::encode(&s)
    }

    fn load_state(&mut self, bytes: &[u8]) -> Result<(), StateError> {
        let s: Lan9118State = state::decode(bytes, &self.name)?;
        let fits = s.eeprom.len() == 128
            && s.tx.state <= TX_DATA
            && s.tx.data.len() <= TX_BUFFER
            && s.tx.fifo_used <= TX_FIFO_SIZE
            && s.tx.offset < 32
            && s.tx.pad < 8
            && s.tx_status.len() <= TX_STATUS_ENTRIES
            && s.rx_status.len() <= RX_STATUS_ENTRIES
            && s.rx_fifo.len() <= RX_FIFO_WORDS
            && s.rx_frames.len() <= RX_FRAMES
            && s.rx_frames.iter().all(|&w| w as usize <= RX_FIFO_WORDS)
            && s.rxp_size as usize <= RX_FIFO_WORDS
            && s.rxp_offset < 8
            && s.rxp_pad < 8
            && s.gpt_count <= 0xffff;
        if !fits {
            return Err(state_error(&self.name, "holds values a LAN9118 cannot have"));
        }
        if s.power_on_mac != self.power_on_mac {
            let show = |m: [u8; 6]| m.map(|b| format!("{b:02x}")).join(":");
            return Err(state_error(
                &self.name,
                format!(
                    "is of a card with MAC {}, this one has {}",
                    show(s.power_on_mac),
                    show(self.power_on_mac)
                ),
            ));
        }
        self.port.set_position(s.sent);
        self.s = s;
        Ok(())
    }
}

/// CRC-32 (IEEE 802.3, reflected; zlib's `crc32`): Ethernet's frame check sequence (sent on the
/// wire least significant byte first), and the checksum of uImage headers (the machine's
/// loader uses it too). Bitwise: frames and headers are short, so no table is needed.
pub fn crc32(data: &[u8]) -> u32 {
    let mut crc = !0u32;
    for &b in data {
        crc ^= u32::from(b);
        for _ in 0..8 {
            crc = if crc & 1 != 0 {
                (crc >> 1) ^ 0xedb8_8320
            } else {
                crc >> 1
            };
        }
    }
    !crc
}

/// The CRC the multicast hash filter uses (Linux's `ether_crc`: not reflected, not inverted);
/// its top 6 bits choose the bit of HASHH:HASHL.
fn ether_crc(data: &[u8]) -> u32 {
    let mut crc = !0u32;
    for &b in data {
        let mut byte = b;
        for _ in 0..8 {
            let bit = ((crc >> 31) ^ u32::from(byte & 1)) & 1;
            crc <<= 1;
            byte >>= 1;
            if bit != 0 {
                crc ^= 0x04c1_1db7;
            }
        }
    }
    crc
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::test_support::bus_without_ram;
    use AccessSize::Word;
    use armvex_bus::{Accessor, Bus};
    use std::sync::{Arc, Mutex};

    const BASE: u32 = 0x4e00_0000;
    const IRQ: u32 = 47;
    const T: Accessor = Accessor { cpu: 0, time: 0 };

    struct Capture(Arc<Mutex<Vec<Vec<u8>>>>);
    impl NetBackend for Capture {
        fn send(&mut self, frame: &[u8]) {
            self.0.lock().unwrap().push(frame.to_vec());
        }
    }

    fn setup() -> (Bus, usize, Arc<Mutex<Vec<Vec<u8>>>>) {
        let sent = Arc::new(Mutex::new(Vec::new()));
        let mut bus = bus_without_ram();
        let card = Lan9118::new("lan9118", IRQ, DEFAULT_MAC, Box::new(Capture(sent.clone())));
        let id = bus.add_device(BASE, 0x10000, Box::new(card)).unwrap();
        (bus, id, sent)
    }

    fn mac_write(bus: &mut Bus, reg: u32, value: u32) {
        bus.write(T, BASE + MAC_CSR_DATA, Word, value);
        bus.write(T, BASE + MAC_CSR_CMD, Word, 0x8000_0000 | reg);
    }

    fn mac_read(bus: &mut Bus, reg: u32) -> u32 {
        bus.write(T, BASE + MAC_CSR_CMD, Word, 0xc000_0000 | reg);
        assert_eq!(bus.read(T, BASE + MAC_CSR_CMD, Word) & 0x8000_0000, 0, "never busy");
        bus.read(T, BASE + MAC_CSR_DATA, Word)
    }

    fn phy_read(bus: &mut Bus, reg: u32) -> u32 {
        mac_write(bus, MAC_MII_ACC, (1 << 11) | (reg << 6));
        mac_read(bus, MAC_MII_DATA)
    }

    /// Bring the card up as smsc911x does: interrupt active high, push-pull; RX status
    /// interrupts; 2 bytes of RX offset; receive and transmit on.
    fn bring_up(bus: &mut Bus) {
        bus.write(T, BASE + IRQ_CFG, Word, IRQ_EN | IRQ_POL | IRQ_TYPE);
        bus.write(T, BASE + FIFO_INT, Word, 0x4800_0000);
        bus.write(T, BASE + INT_EN, Word, RSFL_INT);
        bus.write(T, BASE + RX_CFG, Word, 2 << 8);
        mac_write(bus, MAC_CR, 0x0c);
        bus.write(T, BASE + TX_CFG, Word, 2);
    }

    /// Write `frame` into the TX FIFO as one buffer starting `start` bytes into its first word.
    fn send(bus: &mut Bus, frame: &[u8], start: usize, tag: u16) {
        let len = frame.len() as u32;
        bus.write(T, BASE + 0x20, Word, 0x8000_3000 | ((start as u32) << 16) | len);
        bus.write(T, BASE + 0x20, Word, (u32::from(tag) << 16) | len);
        let mut bytes = vec![0xee; start];
        bytes.extend_from_slice(frame);
        bytes.resize(bytes.len().div_ceil(4) * 4, 0xee);
        for w in bytes.chunks(4) {
            bus.write(T, BASE + 0x24, Word, u32::from_le_bytes([w[0], w[1], w[2], w[3]]));
        }
    }

    /// Read one frame as smsc911x does: its status, then its words (2 bytes of offset).
    fn read_frame(bus: &mut Bus) -> Vec<u8> {
        let status = bus.read(T, BASE + 0x40, Word);
        let len = ((status >> 16) & 0x3fff) as usize;
        let words = (len + 2).div_ceil(4);
        let mut bytes = Vec::new();
        for _ in 0..words {
            bytes.extend_from_slice(&bus.read(T, BASE, Word).to_le_bytes());
        }
        bytes[2..2 + len - 4].to_vec()
    }

    fn frame(dest: [u8; 6], n: usize) -> Vec<u8> {
        let mut f = dest.to_vec();
        f.extend_from_slice(&[0x02, 0, 0, 0, 0, 1, 0x08, 0x00]);
        f.extend((0..n).map(|i| i as u8));
        f
    }

    #[test]
    fn ids_and_reset_values() {
        let (mut bus, _, _) = setup();
        assert_eq!(bus.read(T, BASE + ID_REV, Word), ID_REV_VALUE);
        assert_eq!(bus.read(T, BASE + BYTE_TEST, Word), BYTE_TEST_VALUE);
        assert_eq!(bus.read(T, BASE + 0x164, Word), BYTE_TEST_VALUE, "the window repeats");
        assert_eq!(bus.read(T, BASE + HW_CFG, Word), 0x0005_0004);
        assert_eq!(bus.read(T, BASE + PMT_CTRL, Word), 1);
        assert_eq!(bus.read(T, BASE + FIFO_INT, Word), 0x4800_0000);
        assert_eq!(bus.read(T, BASE + TX_FIFO_INF, Word), 4608);
        assert_eq!(bus.read(T, BASE + GPT_CNT, Word), 0xffff);
        assert_eq!(bus.read(T, BASE + E2P_CMD, Word), 0x100, "the MAC came from the EEPROM");
        assert_eq!(mac_read(&mut bus, MAC_CR), MAC_CR_PRMS);
        assert_eq!(mac_read(&mut bus, MAC_ADDRL), 0x1200_5452);
        assert_eq!(mac_read(&mut bus, MAC_ADDRH), 0x5634);
        let phy: Vec<u32> = [0, 1, 2, 3, 4, 5, 6].iter().map(|&r| phy_read(&mut bus, r)).collect();
        assert_eq!(phy, [0x3000, 0x782d, 0x0007, 0xc0d1, 0x01e1, 0x0f71, 1]);
        assert_eq!(phy_read(&mut bus, 29), 0xc0, "link up and autonegotiation complete");
        assert_eq!(phy_read(&mut bus, 29), 0, "read clears");
        // A soft reset puts the address written back to the EEPROM's.
        mac_write(&mut bus, MAC_ADDRL, 0x0403_0201);
        assert_eq!(mac_read(&mut bus, MAC_ADDRL), 0x0403_0201);
        bus.write(T, BASE + HW_CFG, Word, 1);
        assert_eq!(mac_read(&mut bus, MAC_ADDRL), 0x1200_5452);
    }

    #[test]
    fn frames_go_out_and_come_in() {
        let (mut bus, id, sent) = setup();
        bring_up(&mut bus);
        // The line is driven active high once IRQ_TYPE and IRQ_POL are set.
        assert!(!bus.irq.spi_level(IRQ));
        for (len, start) in [(60, 0), (61, 1), (1514, 2), (99, 3)] {
            let f = frame([0xff; 6], len - 14);
            send(&mut bus, &f, start, len as u16);
            assert_eq!(sent.lock().unwrap().last().unwrap(), &f);
            assert_eq!(bus.read(T, BASE + 0x48, Word), (len as u32) << 16);
        }
        assert_eq!(bus.read(T, BASE + 0x48, Word), 0, "the TX status FIFO is empty");
        assert_eq!(bus.read(T, BASE + TX_FIFO_INF, Word), 4608);
        // From the network: a frame for the card, a broadcast, one for someone else.
        let mine = frame(DEFAULT_MAC, 50);
        mac_write(&mut bus, MAC_CR, 0x0c);
        bus.deliver_host_input(id, &mine);
        assert!(bus.irq.spi_level(IRQ), "RSFL interrupt");
        assert_eq!(bus.read(T, BASE + RX_FIFO_INF, Word) >> 16, 1);
        assert_eq!(bus.read(T, BASE + 0x44, Word), ((mine.len() as u32 + 4) << 16));
        assert_eq!(read_frame(&mut bus), mine);
        assert_eq!(bus.read(T, BASE + RX_FIFO_INF, Word), 0);
        bus.write(T, BASE + INT_STS, Word, RSFL_INT);
        assert!(!bus.irq.spi_level(IRQ));
        let other = frame([0x02, 9, 9, 9, 9, 9], 50);
        bus.deliver_host_input(id, &other);
        assert_eq!(bus.read(T, BASE + RX_FIFO_INF, Word), 0, "filtered out");
        let bcast = frame([0xff; 6], 1000);
        bus.deliver_host_input(id, &bcast);
        assert_eq!(bus.read(T, BASE + 0x44, Word) & (1 << 13), 1 << 13);
        // Fast-forward skips it; the next frame reads whole.
        bus.deliver_host_input(id, &mine);
        bus.read(T, BASE + 0x40, Word);
        bus.write(T, BASE + RX_DP_CTRL, Word, 0x8000_0000);
        assert_eq!(read_frame(&mut bus), mine);
        assert_eq!(bus.read(T, BASE + RX_FIFO_INF, Word), 0);
        // Too short, too long, receiver off: dropped.
        bus.deliver_host_input(id, &[0xff; 13]);
        bus.deliver_host_input(id, &frame([0xff; 6], 2100));
        mac_write(&mut bus, MAC_CR, 0x08);
        assert_ne!(bus.read(T, BASE + INT_STS, Word) & RXSTOP_INT, 0);
        bus.deliver_host_input(id, &mine);
        assert_eq!(bus.read(T, BASE + RX_FIFO_INF, Word), 0);
    }

    #[test]
    fn phy_loopback_and_multicast_hash() {
        let (mut bus, _, sent) = setup();
        bring_up(&mut bus);
        mac_write(&mut bus, MAC_MII_DATA, 0x4000 | 0x1000);
        mac_write(&mut bus, MAC_MII_ACC, (1 << 11) | 2);
        let f = frame(DEFAULT_MAC, 100);
        send(&mut bus, &f, 0, 7);
        assert!(sent.lock().unwrap().is_empty(), "looped back, not sent");
        assert_eq!(read_frame(&mut bus), f);
        // Multicast through the hash table (HPFILT), as Linux sets it for a group.
        let group = [0x01, 0x00, 0x5e, 0x00, 0x00, 0xfb];
        let bit = ether_crc(&group) >> 26;
        mac_write(&mut bus, MAC_CR, 0x0c | MAC_CR_HPFILT);
        let g = frame(group, 20);
        send(&mut bus, &g, 0, 8);
        assert_eq!(bus.read(T, BASE + RX_FIFO_INF, Word), 0, "not in the table");
        mac_write(
            &mut bus,
            if bit & 0x20 != 0 { MAC_HASHH } else { MAC_HASHL },
            1 << (bit & 0x1f),
        );
        send(&mut bus, &g, 0, 9);
        assert_eq!(bus.read(T, BASE + 0x44, Word) & (1 << 10), 1 << 10);
        assert_eq!(read_frame(&mut bus), g);
    }

    #[test]
    fn the_gpt_counts_and_interrupts() {
        let (mut bus, _, _) = setup();
        bus.write(T, BASE + IRQ_CFG, Word, IRQ_EN | IRQ_POL | IRQ_TYPE);
        bus.write(T, BASE + INT_EN, Word, GPT_INT);
        bus.write(T, BASE + GPT_CFG, Word, GPT_TIMER_EN | 10);
        let at = |t: u64| Accessor { cpu: 0, time: t };
        assert_eq!(bus.read(at(250_000), BASE + GPT_CNT, Word), 8);
        let deadline = bus.clock.next_deadline().map(|d| d.1).unwrap();
        assert_eq!(deadline, 1_000_000);
        bus.run_due_timers(deadline);
        assert!(bus.irq.spi_level(IRQ));
        assert_ne!(bus.read(at(deadline), BASE + INT_STS, Word) & GPT_INT, 0);
    }

    #[test]
    fn state_round_trip_and_damaged_states() {
        let (mut a, id, _) = setup();
        bring_up(&mut a);
        mac_write(&mut a, MAC_ADDRH, 0x9988);
        // For the address just set (frames for the old one are filtered out now).
        a.deliver_host_input(id, &frame([0x52, 0x54, 0x00, 0x12, 0x88, 0x99], 40));
        a.deliver_host_input(id, &frame([0xff; 6], 41));
        a.read(T, BASE + 0x40, Word);
        a.read(T, BASE, Word);
        a.write(T, BASE + 0x20, Word, 0x0000_3000 | 60);
        a.write(T, BASE + 0x20, Word, 60);
        a.write(T, BASE + 0x20, Word, 0x1234_5678);
        let saved = a.save_state();
        let (mut b, _, sent) = setup();
        b.load_state(&saved).unwrap();
        assert_eq!(b.save_state(), saved);
        for bus in [&mut a, &mut b] {
            let rest: Vec<u32> = (0..14).map(|_| bus.read(T, BASE, Word)).collect();
            assert_eq!(rest[0], u32::from_le_bytes([0x00, 0x12, 0x88, 0x99]));
            assert_eq!(read_frame(bus).len(), 14 + 41);
            assert_eq!(mac_read(bus, MAC_ADDRH), 0x9988);
        }
        // The frame being written goes on in the restored card.
        for _ in 0..14 {
            b.write(T, BASE + 0x20, Word, 0);
        }
        assert_eq!(sent.lock().unwrap().len(), 1);
        // A card built with another MAC refuses the state.
        let mut other = bus_without_ram();
        other
            .add_device(
                BASE,
                0x10000,
                Box::new(Lan9118::new(
                    "lan9118",
                    IRQ,
                    [2, 0, 0, 0, 0, 1],
                    Box::new(armvex_net::NullBackend),
                )),
            )
            .unwrap();
        let e = crate::state_tests::load_device(&mut other, 0, &saved.devices[0].1).unwrap_err();
        assert!(e.0.contains("MAC"), "{e}");
        let valid = saved.devices[0].1.clone();
        crate::state_tests::check_damaged_states(&valid, |bytes| {
            let (mut bus, id, _) = setup();
            crate::state_tests::load_device(&mut bus, id, bytes)?;
            for off in (0..0x100).step_by(4) {
                bus.read(T, BASE + off, Word);
            }
            for _ in 0..40 {
                bus.read(T, BASE, Word);
                bus.write(T, BASE + 0x20, Word, 0xffff_ffff);
            }
            bus.write(T, BASE + RX_DP_CTRL, Word, 0x8000_0000);
            bus.deliver_host_input(id, &frame([0xff; 6], 100));
            Ok(())
        });
    }

    #[test]
    fn random_accesses_never_panic() {
        let (mut bus, id, _) = setup();
        let mut x = 0x1234_5678_9abc_def0u64;
        for _ in 0..50000 {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            let off = (x as u32 >> 8) & 0xfc;
            let size = [AccessSize::Byte, AccessSize::Half, Word, Word][(x >> 40) as usize & 3];
            if x & 1 == 0 {
                bus.write(T, BASE + off, size, (x >> 32) as u32);
            } else {
                bus.read(T, BASE + off, size);
            }
            if x % 7 == 0 {
                let len = (x >> 20) as usize % 2200;
                bus.deliver_host_input(id, &vec![(x >> 8) as u8; len]);
            }
        }
    }
}
