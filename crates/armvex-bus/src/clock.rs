//! The virtual clock and device deadlines.
//!
//! Guest time is counted in nanoseconds and advanced by the machine from retired instructions
//! (never from the host clock), so a run is repeatable. Each device timer owns a [`TimerSlot`]
//! holding at most one deadline; the machine asks for the earliest deadline to know how far the
//! CPUs may run, and fires due slots in deadline order, ties broken by slot number. With a
//! handful of timers in a machine, a linear scan is both the simplest and a fast structure.

use crate::mmio::DeviceId;
use serde::{Deserialize, Serialize};

/// Handle of one device timer.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct TimerSlot(pub(crate) usize);

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
struct Slot {
    owner: DeviceId,
    deadline: Option<u64>,
}

/// Virtual time and the deadlines of all device timers.
#[derive(Clone, Default, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct VirtualClock {
    now: u64,
    slots: Vec<Slot>,
}

impl VirtualClock {
    /// Current virtual time in nanoseconds.
    #[inline]
    pub fn now(&self) -> u64 {
        self.now
    }

    /// Move time forward to `t` (never backwards).
    pub fn advance_to(&mut self, t: u64) {
        self.now = self.now.max(t);
    }

    /// A new slot for a timer of `owner`.
    pub fn new_slot(&mut self, owner: DeviceId) -> TimerSlot {
        self.slots.push(Slot { owner, deadline: None });
        TimerSlot(self.slots.len() - 1)
    }

    /// Set (or move) the deadline of `slot`. A slot this clock never handed out (only a
    /// damaged saved state can name one) is ignored.
    pub fn set_deadline(&mut self, slot: TimerSlot, when: u64) {
        if let Some(s) = self.slots.get_mut(slot.0) {
            s.deadline = Some(when);
        }
    }

    /// Remove the deadline of `slot`.
    pub fn cancel(&mut self, slot: TimerSlot) {
        if let Some(s) = self.slots.get_mut(slot.0) {
            s.deadline = None;
        }
    }

    /// The device that owns `slot`.
    pub fn owner(&self, slot: TimerSlot) -> Option<DeviceId> {
        self.slots.get(slot.0).map(|s| s.owner)
    }

    /// The devices owning timer slots (to check a restored clock against the devices).
    pub fn owners(&self) -> impl Iterator<Item = DeviceId> + '_ {
        self.slots.iter().map(|s| s.owner)
    }

    /// The earliest deadline and its slot.
    pub fn next_deadline(&self) -> Option<(TimerSlot, u64)> {
        let mut best: Option<(TimerSlot, u64)> = None;
        for (i, s) in self.slots.iter().enumerate() {
            if let Some(d) = s.deadline {
                if best.is_none_or(|(_, b)| d < b) {
                    best = Some((TimerSlot(i), d));
                }
            }
        }
        best
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn earliest_deadline_wins_ties_by_slot() {
        let mut c = VirtualClock::default();
        let a = c.new_slot(0);
        let b = c.new_slot(1);
        c.set_deadline(b, 100);
        c.set_deadline(a, 100);
        assert_eq!(c.next_deadline(), Some((a, 100)));
        c.set_deadline(a, 50);
        assert_eq!(c.next_deadline(), Some((a, 50)));
        c.cancel(a);
        assert_eq!(c.next_deadline(), Some((b, 100)));
        assert_eq!(c.owner(b), Some(1));
        assert_eq!(c.owner(TimerSlot(9)), None);
        c.set_deadline(TimerSlot(9), 5);
        c.cancel(TimerSlot(9));
    }

    #[test]
    fn time_never_goes_back() {
        let mut c = VirtualClock::default();
        c.advance_to(10);
        c.advance_to(5);
        assert_eq!(c.now(), 10);
    }
}
