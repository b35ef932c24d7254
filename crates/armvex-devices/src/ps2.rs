//! PS/2 keyboard and mouse, the devices behind the PL050 KMI ([`crate::pl050`]).
//!
//! A PS/2 device talks to its host controller over a serial link one byte at a time: the host
//! sends commands (reset, identify, set LEDs, enable reporting...), the device answers each
//! with an acknowledge byte (0xfa) and any data, and sends scan codes (keyboard) or movement
//! packets (mouse) on its own. The protocol is that of the IBM PC/AT keyboard and PS/2 mouse;
//! the command set here is the one QEMU 7.2's `hw/input/ps2.c` implements, which this
//! follows byte for byte:
//!
//! * **Output queue.** Bytes for the host wait in a 256-byte ring, of which at most 16 are
//!   queued at once (the depth the protocol allows). Answers to commands go *in front of*
//!   scan codes already waiting, so that a driver waiting for 0xfa is not confused by a key
//!   pressed meanwhile: the "command reply" part of the queue starts at `cwptr`, and a new
//!   command drops the replies to the previous one that were never read. Reading an empty
//!   queue gives the last byte again.
//! * **Keyboard** (IBM PS/2 Technical Reference, "Keyboard and auxiliary device controller"):
//!   reset (0xff → 0xfa 0xaa), identify (0xf2 → 0xfa 0xab 0x83, an MF2 keyboard), echo (0xee),
//!   enable/disable scanning (0xf4/0xf5/0xf6), set LEDs (0xed), typematic rate (0xf3), scan
//!   code set (0xf0: 1, 2 or 3; 0 asks which). Keys are reported in **scan code set 2** (make
//!   code when pressed, 0xf0 + make code when released, extended keys prefixed by 0xe0),
//!   whichever set was selected: Linux's atkbd selects set 2.
//! * **Mouse**: reset (0xff → 0xfa 0xaa 0x00), identify (0xf2), stream/remote mode, scaling,
//!   resolution, sample rate (with the IntelliMouse "200, 100, 80" knock that turns on the
//!   wheel: type 3; "200, 200, 80": type 4), status request (0xe9), wrap mode, enable and
//!   disable reporting. Movement is reported in 3-byte packets (4 with a wheel) while
//!   reporting is enabled, in stream mode.
//!
//! Host keys arrive as Linux input-event key codes (`KEY_A` = 30, ...; the codes a browser's
//! `KeyboardEvent.code` maps to one to one); [`set2_scancode`] turns them into set 2 codes.

use serde::{Deserialize, Serialize};

/// Size of the ring buffer.
pub const BUFFER_SIZE: usize = 256;
/// How many bytes may wait at once.
pub const QUEUE_SIZE: usize = 16;

const REPLY_ACK: u8 = 0xfa;
const REPLY_RESEND: u8 = 0xfe;
const REPLY_POR: u8 = 0xaa;
const REPLY_ID: u8 = 0xab;

/// The keyboard's commands (IBM PS/2 Technical Reference, keyboard commands; the subset QEMU
/// implements).
mod kbd_cmd {
    /// Set the LEDs from the next byte.
    pub const SET_LEDS: u8 = 0xed;
    /// Echo: answers 0xee.
    pub const ECHO: u8 = 0xee;
    /// Select (1..3) or query (0) the scan code set in the next byte.
    pub const SCANCODE: u8 = 0xf0;
    /// Identify: ACK, 0xab 0x83.
    pub const GET_ID: u8 = 0xf2;
    /// Typematic rate and delay in the next byte.
    pub const SET_RATE: u8 = 0xf3;
    /// Enable scanning.
    pub const ENABLE: u8 = 0xf4;
    /// Reset to defaults and disable scanning.
    pub const RESET_DISABLE: u8 = 0xf5;
    /// Reset to defaults and enable scanning.
    pub const RESET_ENABLE: u8 = 0xf6;
    /// Set all keys make/break (acknowledged, no effect).
    pub const SET_MAKE_BREAK: u8 = 0xfa;
    /// Set a key's type from the next byte (acknowledged, no effect).
    pub const SET_TYPEMATIC: u8 = 0xfc;
    /// Reset: ACK then the power-on self-test result 0xaa.
    pub const RESET: u8 = 0xff;
}

/// The mouse's commands (IBM PS/2 Technical Reference, auxiliary device commands).
mod mouse_cmd {
    /// Scaling 1:1.
    pub const SET_SCALE11: u8 = 0xe6;
    /// Scaling 2:1.
    pub const SET_SCALE21: u8 = 0xe7;
    /// Resolution in the next byte.
    pub const SET_RES: u8 = 0xe8;
    /// Status request: ACK, status, resolution, sample rate.
    pub const STATUS: u8 = 0xe9;
    /// Stream mode.
    pub const SET_STREAM: u8 = 0xea;
    /// Read data: one movement packet now.
    pub const POLL: u8 = 0xeb;
    /// Leave wrap mode.
    pub const RESET_WRAP: u8 = 0xec;
    /// Wrap mode: echo every byte but RESET_WRAP and RESET.
    pub const SET_WRAP: u8 = 0xee;
    /// Remote mode.
    pub const SET_REMOTE: u8 = 0xf0;
    /// Identify: ACK and the mouse type.
    pub const GET_TYPE: u8 = 0xf2;
    /// Sample rate in the next byte (also the IntelliMouse knock).
    pub const SET_SAMPLE: u8 = 0xf3;
    /// Enable reporting.
    pub const ENABLE: u8 = 0xf4;
    /// Disable reporting.
    pub const DISABLE: u8 = 0xf5;
    /// Defaults: 100 samples/s, resolution 2, status 0.
    pub const SET_DEFAULT: u8 = 0xf6;
    /// Reset: ACK, 0xaa, the mouse type.
    pub const RESET: u8 = 0xff;
}

/// The output queue of a PS/2 device (see the module docs).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Queue {
    data: Vec<u8>,
    rptr: usize,
    wptr: usize,
    /// Where the replies to the current command end (`None`: no replies queued).
    cwptr: Option<usize>,
    count: usize,
}

impl Default for Queue {
    fn default() -> Self {
        Queue {
            data: vec![0; BUFFER_SIZE],
            rptr: 0,
            wptr: 0,
            cwptr: None,
            count: 0,
        }
    }
}

impl Queue {
    /// Bytes waiting.
    pub fn len(&self) -> usize {
        self.count
    }

    /// True if no byte waits.
    pub fn is_empty(&self) -> bool {
        self.count == 0
    }

    fn reset(&mut self) {
        self.rptr = 0;
        self.wptr = 0;
        self.cwptr = None;
        self.count = 0;
    }

    /// Append `b` after everything waiting (a scan code, a mouse packet byte).
    fn push(&mut self, b: u8) {
        if self.count >= QUEUE_SIZE {
            return;
        }
        self.data[self.wptr] = b;
        self.wptr = (self.wptr + 1) % BUFFER_SIZE;
        self.count += 1;
    }

    /// Drop the unread replies to the previous command.
    fn reset_replies(&mut self) {
        let Some(cw) = self.cwptr.take() else { return };
        let replies = (cw + BUFFER_SIZE - self.rptr) % BUFFER_SIZE;
        self.count -= replies.min(self.count);
        self.rptr = cw;
    }

    /// Put a command's reply bytes in front of whatever waits.
    fn reply(&mut self, bytes: &[u8]) {
        let n = bytes.len();
        self.rptr = (self.rptr + BUFFER_SIZE - n) % BUFFER_SIZE;
        let mut cw = self.rptr;
        for &b in bytes {
            self.data[cw] = b;
            cw = (cw + 1) % BUFFER_SIZE;
            self.count += 1;
        }
        self.cwptr = Some(cw);
    }

    /// Take the next byte (the last one again if none waits). Returns the byte and whether
    /// one was taken.
    pub fn read(&mut self) -> (u8, bool) {
        if self.count == 0 {
            return (self.data[(self.rptr + BUFFER_SIZE - 1) % BUFFER_SIZE], false);
        }
        let v = self.data[self.rptr];
        self.rptr = (self.rptr + 1) % BUFFER_SIZE;
        self.count -= 1;
        if self.cwptr == Some(self.rptr) {
            self.cwptr = None;
        }
        (v, true)
    }

    /// Whether a saved queue is one this code could have made.
    pub fn is_valid(&self) -> bool {
        self.data.len() == BUFFER_SIZE
            && self.rptr < BUFFER_SIZE
            && self.wptr < BUFFER_SIZE
            && self.count <= BUFFER_SIZE
            && self.cwptr.is_none_or(|c| c < BUFFER_SIZE)
    }
}

/// A PS/2 keyboard.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Keyboard {
    /// The bytes for the host (the KMI) to read.
    pub queue: Queue,
    /// The command whose parameter byte comes next.
    write_cmd: Option<u8>,
    scan_enabled: bool,
    scancode_set: u8,
    leds: u8,
}

impl Default for Keyboard {
    fn default() -> Self {
        Keyboard {
            queue: Queue::default(),
            write_cmd: None,
            scan_enabled: true,
            scancode_set: 2,
            leds: 0,
        }
    }
}

impl Keyboard {
    fn reset(&mut self) {
        self.scan_enabled = true;
        self.scancode_set = 2;
        self.queue.reset();
        self.leds = 0;
    }

    /// The host controller sent `val`.
    pub fn write(&mut self, val: u8) {
        self.queue.reset_replies();
        match self.write_cmd.take() {
            None => match val {
                // Two bytes QEMU answers without naming them.
                0x00 => self.queue.reply(&[REPLY_ACK]),
                0x05 => self.queue.reply(&[REPLY_RESEND]),
                kbd_cmd::GET_ID => self.queue.reply(&[REPLY_ACK, REPLY_ID, 0x83]),
                kbd_cmd::ECHO => self.queue.reply(&[kbd_cmd::ECHO]),
                kbd_cmd::ENABLE => {
                    self.scan_enabled = true;
                    self.queue.reply(&[REPLY_ACK]);
                }
                kbd_cmd::SCANCODE | kbd_cmd::SET_LEDS | kbd_cmd::SET_RATE | kbd_cmd::SET_TYPEMATIC => {
                    self.write_cmd = Some(val);
                    self.queue.reply(&[REPLY_ACK]);
                }
                kbd_cmd::RESET_DISABLE => {
                    self.reset();
                    self.scan_enabled = false;
                    self.queue.reply(&[REPLY_ACK]);
                }
                kbd_cmd::RESET_ENABLE => {
                    self.reset();
                    self.queue.reply(&[REPLY_ACK]);
                }
                kbd_cmd::RESET => {
                    self.reset();
                    self.queue.reply(&[REPLY_ACK, REPLY_POR]);
                }
                kbd_cmd::SET_MAKE_BREAK => self.queue.reply(&[REPLY_ACK]),
                _ => self.queue.reply(&[REPLY_RESEND]),
            },
            Some(kbd_cmd::SCANCODE) => match val {
                0 => self.queue.reply(&[REPLY_ACK, self.scancode_set]),
                1..=3 => {
                    self.scancode_set = val;
                    self.queue.reply(&[REPLY_ACK]);
                }
                _ => self.queue.reply(&[REPLY_RESEND]),
            },
            Some(kbd_cmd::SET_LEDS) => {
                self.leds = val;
                self.queue.reply(&[REPLY_ACK]);
            }
            Some(_) => self.queue.reply(&[REPLY_ACK]),
        }
    }

    /// A key was pressed or released on the host. Returns false if the key has no scan code
    /// (it is then ignored) or scanning is off.
    pub fn key(&mut self, code: u16, down: bool) -> bool {
        let Some((extended, make)) = set2_scancode(code) else {
            return false;
        };
        if !self.scan_enabled {
            return false;
        }
        if extended {
            self.queue.push(0xe0);
        }
        if !down {
            self.queue.push(0xf0);
        }
        self.queue.push(make);
        true
    }

    /// The LED state last set (bit 0 scroll lock, 1 num lock, 2 caps lock).
    pub fn leds(&self) -> u8 {
        self.leds
    }

    /// Whether a saved keyboard is one this code could have made (its queue too).
    pub fn is_valid(&self) -> bool {
        self.queue.is_valid() && (1..=3).contains(&self.scancode_set)
    }
}

/// A PS/2 mouse.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Mouse {
    /// The bytes for the host (the KMI) to read.
    pub queue: Queue,
    write_cmd: Option<u8>,
    status: u8,
    resolution: u8,
    sample_rate: u8,
    wrap: bool,
    /// 0 standard, 3 IntelliMouse (wheel), 4 IntelliMouse Explorer.
    mouse_type: u8,
    detect_state: u8,
    dx: i32,
    dy: i32,
    dz: i32,
    buttons: u8,
}

const MOUSE_STATUS_REMOTE: u8 = 0x40;
const MOUSE_STATUS_ENABLED: u8 = 0x20;
const MOUSE_STATUS_SCALE21: u8 = 0x10;

impl Mouse {
    /// The host controller sent `val`.
    pub fn write(&mut self, val: u8) {
        match self.write_cmd.take() {
            None => {
                if self.wrap {
                    if val == mouse_cmd::RESET_WRAP {
                        self.wrap = false;
                        self.queue.push(REPLY_ACK);
                        return;
                    } else if val != mouse_cmd::RESET {
                        self.queue.push(val);
                        return;
                    }
                }
                match val {
                    mouse_cmd::SET_SCALE11 => {
                        self.status &= !MOUSE_STATUS_SCALE21;
                        self.queue.push(REPLY_ACK);
                    }
                    mouse_cmd::SET_SCALE21 => {
                        self.status |= MOUSE_STATUS_SCALE21;
                        self.queue.push(REPLY_ACK);
                    }
                    mouse_cmd::SET_STREAM => {
                        self.status &= !MOUSE_STATUS_REMOTE;
                        self.queue.push(REPLY_ACK);
                    }
                    mouse_cmd::SET_WRAP => {
                        self.wrap = true;
                        self.queue.push(REPLY_ACK);
                    }
                    mouse_cmd::SET_REMOTE => {
                        self.status |= MOUSE_STATUS_REMOTE;
                        self.queue.push(REPLY_ACK);
                    }
                    mouse_cmd::GET_TYPE => {
                        self.queue.push(REPLY_ACK);
                        self.queue.push(self.mouse_type);
                    }
                    mouse_cmd::SET_RES | mouse_cmd::SET_SAMPLE => {
                        self.write_cmd = Some(val);
                        self.queue.push(REPLY_ACK);
                    }
                    mouse_cmd::STATUS => {
                        for b in [REPLY_ACK, self.status, self.resolution, self.sample_rate] {
                            self.queue.push(b);
                        }
                    }
                    mouse_cmd::POLL => {
                        self.queue.push(REPLY_ACK);
                        self.send_packet();
                    }
                    mouse_cmd::ENABLE => {
                        self.status |= MOUSE_STATUS_ENABLED;
                        self.queue.push(REPLY_ACK);
                    }
                    mouse_cmd::DISABLE => {
                        self.status &= !MOUSE_STATUS_ENABLED;
                        self.queue.push(REPLY_ACK);
                    }
                    mouse_cmd::SET_DEFAULT => {
                        self.sample_rate = 100;
                        self.resolution = 2;
                        self.status = 0;
                        self.queue.push(REPLY_ACK);
                    }
                    mouse_cmd::RESET => {
                        self.sample_rate = 100;
                        self.resolution = 2;
                        self.status = 0;
                        self.mouse_type = 0;
                        self.queue.reset();
                        for b in [REPLY_ACK, REPLY_POR, self.mouse_type] {
                            self.queue.push(b);
                        }
                    }
                    _ => {}
                }
            }
            Some(mouse_cmd::SET_SAMPLE) => {
                self.sample_rate = val;
                self.detect_state = match (self.detect_state, val) {
                    (0, 200) => 1,
                    (1, 100) => 2,
                    (1, 200) => 3,
                    (2, 80) => {
                        self.mouse_type = 3;
                        0
                    }
                    (3, 80) => {
                        self.mouse_type = 4;
                        0
                    }
                    _ => 0,
                };
                self.queue.push(REPLY_ACK);
            }
            Some(_) => {
                self.resolution = val;
                self.queue.push(REPLY_ACK);
            }
        }
    }

    /// Queue one movement packet if there is room. Returns whether it was queued.
    fn send_packet(&mut self) -> bool {
        let needed = if self.mouse_type != 0 { 4 } else { 3 };
        if QUEUE_SIZE - self.queue.len() < needed {
            return false;
        }
        let dx = self.dx.clamp(-127, 127);
        let dy = self.dy.clamp(-127, 127);
        let b = 0x08 | (u8::from(dx < 0) << 4) | (u8::from(dy < 0) << 5) | (self.buttons & 7);
        self.queue.push(b);
        self.queue.push(dx as u8);
        self.queue.push(dy as u8);
        match self.mouse_type {
            3 => {
                let dz = self.dz.clamp(-127, 127);
                self.queue.push(dz as u8);
                self.dz -= dz;
            }
            4 => {
                let dz = self.dz.clamp(-7, 7);
                self.queue.push((dz as u8 & 0x0f) | ((self.buttons & 0x18) << 1));
                self.dz -= dz;
            }
            _ => {}
        }
        self.dx -= dx;
        self.dy -= dy;
        true
    }

    /// The host mouse moved by (`dx`, `dy`) (y up, as PS/2 counts it), turned its wheel by `dz`
    /// and holds `buttons` (bit 0 left, 1 right, 2 middle). Returns whether a packet was
    /// queued.
    pub fn event(&mut self, dx: i32, dy: i32, dz: i32, buttons: u8) -> bool {
        if self.status & MOUSE_STATUS_ENABLED == 0 {
            return false;
        }
        self.dx = self.dx.saturating_add(dx);
        self.dy = self.dy.saturating_add(dy);
        self.dz = self.dz.saturating_add(dz);
        self.buttons = buttons;
        if self.status & MOUSE_STATUS_REMOTE != 0 {
            return false;
        }
        let mut sent = false;
        // Send all the movement, in packets of at most 127 per axis, while there is room.
        loop {
            if !self.send_packet() {
                break;
            }
            sent = true;
            if self.dx == 0 && self.dy == 0 && self.dz == 0 {
                break;
            }
        }
        sent
    }

    /// Whether a saved mouse is one this code could have made (its queue).
    pub fn is_valid(&self) -> bool {
        self.queue.is_valid()
    }
}

/// The scan code set 2 make code of Linux input key code `code`: (needs an 0xe0 prefix, code).
/// `None` for keys a PS/2 keyboard does not have (or that need longer sequences, such as
/// Pause and Print Screen).
pub fn set2_scancode(code: u16) -> Option<(bool, u8)> {
    // Linux KEY_* codes 1..=88, in order (0: no key).
    const BASIC: [u8; 89] = [
        0x00, 0x76, 0x16, 0x1e, 0x26, 0x25, 0x2e, 0x36, 0x3d, 0x3e, 0x46, 0x45, 0x4e, 0x55, 0x66, 0x0d, // 0..15
        0x15, 0x1d, 0x24, 0x2d, 0x2c, 0x35, 0x3c, 0x43, 0x44, 0x4d, 0x54, 0x5b, 0x5a, 0x14, 0x1c, 0x1b, // 16..31
        0x23, 0x2b, 0x34, 0x33, 0x3b, 0x42, 0x4b, 0x4c, 0x52, 0x0e, 0x12, 0x5d, 0x1a, 0x22, 0x21, 0x2a, // 32..47
        0x32, 0x31, 0x3a, 0x41, 0x49, 0x4a, 0x59, 0x7c, 0x11, 0x29, 0x58, 0x05, 0x06, 0x04, 0x0c, 0x03, // 48..63
        0x0b, 0x83, 0x0a, 0x01, 0x09, 0x77, 0x7e, 0x6c, 0x75, 0x7d, 0x7b, 0x6b, 0x73, 0x74, 0x79, 0x69, // 64..79
        0x72, 0x7a, 0x70, 0x71, 0x00, 0x00, 0x61, 0x78, 0x07, // 80..88
    ];
    if let Some(&c) = BASIC.get(usize::from(code)) {
        return (c != 0).then_some((false, c));
    }
    let extended = match code {
        96 => 0x5a,  // KP Enter
        97 => 0x14,  // Right Ctrl
        98 => 0x4a,  // KP /
        100 => 0x11, // Right Alt
        102 => 0x6c, // Home
        103 => 0x75, // Up
        104 => 0x7d, // Page Up
        105 => 0x6b, // Left
        106 => 0x74, // Right
        107 => 0x69, // End
        108 => 0x72, // Down
        109 => 0x7a, // Page Down
        110 => 0x70, // Insert
        111 => 0x71, // Delete
        125 => 0x1f, // Left Meta
        126 => 0x27, // Right Meta
        127 => 0x2f, // Compose (menu)
        _ => return None,
    };
    Some((true, extended))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn drain(q: &mut Queue) -> Vec<u8> {
        let mut out = Vec::new();
        while !q.is_empty() {
            out.push(q.read().0);
        }
        out
    }

    #[test]
    fn keyboard_commands_and_scan_codes() {
        let mut k = Keyboard::default();
        k.write(0xff);
        assert_eq!(drain(&mut k.queue), [0xfa, 0xaa]);
        k.write(0xf2);
        assert_eq!(drain(&mut k.queue), [0xfa, 0xab, 0x83]);
        k.write(0xf0);
        assert_eq!(drain(&mut k.queue), [0xfa]);
        k.write(0);
        assert_eq!(drain(&mut k.queue), [0xfa, 2]);
        k.write(0xed);
        k.write(4);
        assert_eq!(
            drain(&mut k.queue),
            [0xfa],
            "the unread acknowledge of 0xed was dropped"
        );
        assert_eq!(k.leds(), 4);
        assert!(k.key(30, true));
        assert!(k.key(30, false));
        assert!(k.key(103, true));
        assert!(k.key(103, false));
        assert!(!k.key(119, true), "Pause has no simple code");
        assert_eq!(drain(&mut k.queue), [0x1c, 0xf0, 0x1c, 0xe0, 0x75, 0xe0, 0xf0, 0x75]);
        assert_eq!(k.queue.read(), (0x75, false), "an empty queue repeats the last byte");
        k.write(0xf5);
        assert!(!k.key(30, true), "scanning disabled");
        assert_eq!(drain(&mut k.queue), [0xfa]);
    }

    #[test]
    fn a_reply_goes_before_waiting_scan_codes_and_stale_replies_are_dropped() {
        let mut k = Keyboard::default();
        k.key(30, true);
        k.write(0xf2);
        assert_eq!(k.queue.read().0, 0xfa);
        // The next command drops the unread 0xab 0x83.
        k.write(0xee);
        assert_eq!(drain(&mut k.queue), [0xee, 0x1c]);
    }

    #[test]
    fn the_queue_holds_sixteen() {
        let mut k = Keyboard::default();
        for _ in 0..20 {
            k.key(30, true);
        }
        assert_eq!(k.queue.len(), QUEUE_SIZE);
    }

    #[test]
    fn mouse_reset_identify_wheel_and_packets() {
        let mut m = Mouse::default();
        m.write(0xff);
        assert_eq!(drain(&mut m.queue), [0xfa, 0xaa, 0x00]);
        assert!(!m.event(5, 5, 0, 0), "reporting off");
        for rate in [200, 100, 80] {
            m.write(0xf3);
            m.write(rate);
        }
        m.write(0xf2);
        assert_eq!(drain(&mut m.queue), [0xfa, 0xfa, 0xfa, 0xfa, 0xfa, 0xfa, 0xfa, 3]);
        m.write(0xf4);
        drain(&mut m.queue);
        assert!(m.event(10, -3, 1, 1));
        assert_eq!(drain(&mut m.queue), [0x29, 10, 0xfd, 1]);
        m.event(300, 0, 0, 0);
        assert_eq!(drain(&mut m.queue), [0x08, 127, 0, 0, 0x08, 127, 0, 0, 0x08, 46, 0, 0]);
        m.write(0xe9);
        assert_eq!(drain(&mut m.queue), [0xfa, 0x20, 2, 80]);
        m.write(0xee);
        m.write(0x42);
        m.write(0xec);
        assert_eq!(drain(&mut m.queue), [0xfa, 0x42, 0xfa]);
    }

    #[test]
    fn scan_codes_of_the_common_keys() {
        assert_eq!(set2_scancode(28), Some((false, 0x5a)), "Enter");
        assert_eq!(set2_scancode(57), Some((false, 0x29)), "Space");
        assert_eq!(set2_scancode(42), Some((false, 0x12)), "Left Shift");
        assert_eq!(set2_scancode(88), Some((false, 0x07)), "F12");
        assert_eq!(set2_scancode(84), None);
        assert_eq!(set2_scancode(111), Some((true, 0x71)), "Delete");
        assert_eq!(set2_scancode(0), None);
        assert_eq!(set2_scancode(u16::MAX), None);
    }
}
