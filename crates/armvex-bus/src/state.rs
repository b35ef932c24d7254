//! Saving and restoring the state of a machine's parts.
//!
//! Snapshots (`--snapshot-at`, `--loadvm`) and reverse execution (the in-memory checkpoints
//! behind gdb's `reverse-stepi`) both need every piece of guest-visible state as bytes, and
//! need to put it back into a machine built the same way. Each layer does its own part:
//!
//! * the CPU crate saves each core's registers (`Cpu::save_state`);
//! * this crate saves the virtual clock with every timer deadline, the interrupt lines, the
//!   pending machine requests ([`crate::Bus::save_state`]), and asks every device for its
//!   own bytes through [`crate::Device::save_state`];
//! * guest RAM is not part of these states: it is saved page by page (see
//!   [`crate::memory::RamUndo`] for the incremental form).
//!
//! A device encodes its state with [`encode`] (serde and the compact `postcard` format) and
//! decodes it with [`decode`]. Host resources (an open image file, the console writer) are not
//! state: a restored machine is built from the same options first, and then takes the saved
//! values. Values that came from the host but that the guest sees (the RTC's start time) are
//! state.
//!
//! What belongs in a device's state: every register a guest can read back and every internal
//! value that decides future behaviour (FIFO contents, counters, latched interrupt status,
//! the [`crate::TimerSlot`]s it owns). A test per device saves a device in use, loads the bytes
//! into a freshly built one and checks that both answer the same from then on.

use serde::Serialize;
use serde::de::DeserializeOwned;

/// Why a saved state could not be put back: a one-line message for the user.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct StateError(pub String);

impl std::fmt::Display for StateError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for StateError {}

impl From<StateError> for String {
    fn from(e: StateError) -> String {
        e.0
    }
}

/// Encode `value` as compact bytes (postcard). Encoding plain data into memory cannot fail.
pub fn encode<T: Serialize>(value: &T) -> Vec<u8> {
    postcard::to_stdvec(value).expect("postcard encodes plain data into a Vec without error")
}

/// Decode bytes made by [`encode`]; `what` names the state in the error message. Trailing
/// bytes are an error (a state from another build of the type).
pub fn decode<T: DeserializeOwned>(bytes: &[u8], what: &str) -> Result<T, StateError> {
    match postcard::take_from_bytes(bytes) {
        Ok((value, [])) => Ok(value),
        Ok((_, rest)) => Err(StateError(format!(
            "saved state of {what} has {} unexpected trailing bytes",
            rest.len()
        ))),
        Err(e) => Err(StateError(format!("saved state of {what} is not understood: {e}"))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde::Deserialize;

    #[derive(Debug, PartialEq, Serialize, Deserialize)]
    struct Regs {
        ctrl: u32,
        fifo: Vec<u8>,
        deadline: Option<u64>,
    }

    #[test]
    fn round_trip_and_errors() {
        let r = Regs {
            ctrl: 0x301,
            fifo: vec![1, 2, 3],
            deadline: Some(1 << 40),
        };
        let bytes = encode(&r);
        assert_eq!(decode::<Regs>(&bytes, "uart").unwrap(), r);
        let mut longer = bytes.clone();
        longer.push(0);
        assert!(decode::<Regs>(&longer, "uart").unwrap_err().0.contains("trailing"));
        let e = decode::<Regs>(&bytes[..2], "uart").unwrap_err();
        assert!(e.0.starts_with("saved state of uart is not understood"), "{e}");
    }
}
