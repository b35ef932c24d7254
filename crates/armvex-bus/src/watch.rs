//! Watching the MMIO path for an inspector: per-device access counts and a log of the last
//! accesses.
//!
//! Every device access a CPU makes goes through [`crate::Bus::read`] or
//! [`crate::Bus::write`]. There the bus counts it for the device (two additions into a
//! vector indexed by [`crate::DeviceId`]: the MMIO path, never the per-instruction path) and,
//! only while an inspector has switched the log on ([`MmioWatch::set_logging`]), appends one
//! fixed-size record to a ring of the last [`LOG_CAPACITY`] accesses. Nothing here is machine
//! state: it is not saved, not hashed, and no device or CPU ever reads it, so watching cannot
//! change what the guest does.

use crate::{Accessor, DeviceId};

/// How many accesses the log keeps (the oldest are overwritten).
pub const LOG_CAPACITY: usize = 2048;

/// One logged MMIO access.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct MmioAccess {
    /// Sequence number: accesses counted since the log was switched on (never reused).
    pub seq: u64,
    /// Virtual time of the access (the accessing CPU's local time), in nanoseconds.
    pub time: u64,
    /// The CPU that made the access.
    pub cpu: u8,
    /// A write (otherwise a read).
    pub write: bool,
    /// Access width in bytes (1, 2, 4).
    pub size: u8,
    /// The device accessed.
    pub device: DeviceId,
    /// Offset inside the device's range.
    pub offset: u32,
    /// The value read or written.
    pub value: u32,
}

/// Access counters and the optional access log of one bus.
#[derive(Debug, Default)]
pub struct MmioWatch {
    /// Reads and writes per device id.
    counts: Vec<[u64; 2]>,
    /// The log ring while logging is on.
    log: Vec<MmioAccess>,
    logging: bool,
    next_seq: u64,
}

impl MmioWatch {
    /// Count one access to `device` (and log it if logging is on).
    #[inline]
    pub(crate) fn note(&mut self, device: DeviceId, write: bool, offset: u32, size: u32, value: u32, who: Accessor) {
        if let Some(c) = self.counts.get_mut(device) {
            c[usize::from(write)] += 1;
        } else {
            self.counts.resize(device + 1, [0; 2]);
            self.counts[device][usize::from(write)] += 1;
        }
        if self.logging {
            self.log_access(MmioAccess {
                seq: self.next_seq,
                time: who.time,
                cpu: who.cpu as u8,
                write,
                size: size as u8,
                device,
                offset,
                value,
            });
        }
    }

    #[cold]
    fn log_access(&mut self, a: MmioAccess) {
        let slot = (a.seq % LOG_CAPACITY as u64) as usize;
        if slot < self.log.len() {
            self.log[slot] = a;
        } else {
            self.log.push(a);
        }
        self.next_seq += 1;
    }

    /// Reads and writes of `device` so far.
    pub fn counts(&self, device: DeviceId) -> (u64, u64) {
        self.counts.get(device).map_or((0, 0), |c| (c[0], c[1]))
    }

    /// Switch the access log on or off.
    pub fn set_logging(&mut self, on: bool) {
        self.logging = on;
    }

    /// Whether the log is on.
    pub fn logging(&self) -> bool {
        self.logging
    }

    /// The logged accesses, oldest first.
    pub fn log(&self) -> impl Iterator<Item = &MmioAccess> {
        let n = self.log.len() as u64;
        let start = self.next_seq.saturating_sub(n);
        (start..self.next_seq).map(move |s| &self.log[(s % LOG_CAPACITY as u64) as usize])
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_always_logs_only_when_on_and_keeps_the_last() {
        let mut w = MmioWatch::default();
        let who = |cpu, time| Accessor { cpu, time };
        w.note(3, false, 0x10, 4, 7, who(0, 100));
        w.note(3, true, 0x50, 4, 0, who(1, 200));
        assert_eq!(w.counts(3), (1, 1));
        assert_eq!(w.counts(9), (0, 0));
        assert_eq!(w.log().count(), 0);
        w.set_logging(true);
        for i in 0..(LOG_CAPACITY as u32 + 5) {
            w.note(1, true, i, 4, i, who(0, u64::from(i)));
        }
        let log: Vec<_> = w.log().collect();
        assert_eq!(log.len(), LOG_CAPACITY);
        assert_eq!(log[0].offset, 5);
        assert_eq!(log.last().unwrap().offset, LOG_CAPACITY as u32 + 4);
        assert!(log.windows(2).all(|p| p[1].seq == p[0].seq + 1));
    }
}
