//! The host-input journal in a snapshot.
//!
//! Host input (console bytes, Ctrl-A X, a debugger's edits, and what device backends send:
//! network frames, bytes from a `--chardev` socket, host entropy) enters the machine through one
//! journal (`armvex_machine::console`), and the machine state saves the journal's *cursor*:
//! how many entries have been delivered. A snapshot taken while a recording is replayed must
//! carry the entries still to come, or the resumed run would not get them; it carries the
//! whole journal, so that the saved cursor means the same thing in the resumed machine (the
//! machine's state hash, which recordings check, includes it).
//!
//! The journal's types are the machine crate's; this module mirrors them in a serde form of
//! its own, so that the file format is written down here.

use armvex_bus::StateError;
use armvex_machine::console::{DebuggerEdit, HostEvent, JournalEntry};
use serde::{Deserialize, Serialize};

/// One journal entry, as saved.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
struct SavedEntry {
    time: u64,
    position: Option<u64>,
    event: SavedEvent,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
enum SavedEvent {
    Console(Vec<u8>),
    Quit,
    WriteMemory {
        cpu: u64,
        addr: u32,
        data: Vec<u8>,
    },
    WriteRegister {
        cpu: u64,
        reg: u64,
        value: u64,
    },
    Keyboard {
        code: u16,
        down: bool,
    },
    Mouse {
        dx: i16,
        dy: i16,
        dz: i8,
        buttons: u8,
    },
    /// Bytes from the host backend `id` for its device (added last: earlier variants keep
    /// their numbers).
    Device {
        id: String,
        data: Vec<u8>,
    },
}

/// The section payload for `journal`.
pub fn encode(journal: &[JournalEntry]) -> Vec<u8> {
    let saved: Vec<SavedEntry> = journal
        .iter()
        .map(|e| SavedEntry {
            time: e.time,
            position: e.position,
            event: match &e.event {
                HostEvent::Console(b) => SavedEvent::Console(b.clone()),
                HostEvent::Quit => SavedEvent::Quit,
                HostEvent::Edit(DebuggerEdit::Memory { cpu, addr, data }) => SavedEvent::WriteMemory {
                    cpu: *cpu as u64,
                    addr: *addr,
                    data: data.clone(),
                },
                HostEvent::Edit(DebuggerEdit::Register { cpu, reg, value }) => SavedEvent::WriteRegister {
                    cpu: *cpu as u64,
                    reg: *reg as u64,
                    value: *value,
                },
                HostEvent::Keyboard { code, down } => SavedEvent::Keyboard {
                    code: *code,
                    down: *down,
                },
                HostEvent::Mouse { dx, dy, dz, buttons } => SavedEvent::Mouse {
                    dx: *dx,
                    dy: *dy,
                    dz: *dz,
                    buttons: *buttons,
                },
                HostEvent::Device { id, data } => SavedEvent::Device {
                    id: id.clone(),
                    data: data.clone(),
                },
            },
        })
        .collect();
    armvex_bus::state::encode(&saved)
}

/// The journal a section payload holds; the error says what is wrong with the payload (the
/// caller names the file and the section).
pub fn decode(payload: &[u8]) -> Result<Vec<JournalEntry>, StateError> {
    let saved: Vec<SavedEntry> = armvex_bus::state::decode(payload, "the host input")?;
    saved
        .into_iter()
        .map(|e| {
            let index = |n: u64| {
                usize::try_from(n).map_err(|_| StateError("a CPU or register number is too large".to_string()))
            };
            Ok(JournalEntry {
                time: e.time,
                position: e.position,
                event: match e.event {
                    SavedEvent::Console(b) => HostEvent::Console(b),
                    SavedEvent::Quit => HostEvent::Quit,
                    SavedEvent::WriteMemory { cpu, addr, data } => HostEvent::Edit(DebuggerEdit::Memory {
                        cpu: index(cpu)?,
                        addr,
                        data,
                    }),
                    SavedEvent::WriteRegister { cpu, reg, value } => HostEvent::Edit(DebuggerEdit::Register {
                        cpu: index(cpu)?,
                        reg: index(reg)?,
                        value,
                    }),
                    SavedEvent::Keyboard { code, down } => HostEvent::Keyboard { code, down },
                    SavedEvent::Mouse { dx, dy, dz, buttons } => HostEvent::Mouse { dx, dy, dz, buttons },
                    SavedEvent::Device { id, data } => HostEvent::Device { id, data },
                },
            })
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use armvex_machine::console::HostInput;

    fn journal() -> Vec<JournalEntry> {
        vec![
            JournalEntry {
                time: 10,
                position: None,
                event: HostEvent::Console(b"old".to_vec()),
            },
            JournalEntry {
                time: 500,
                position: Some(480),
                event: HostEvent::Console(b"ls\r".to_vec()),
            },
            JournalEntry {
                time: 600,
                position: Some(590),
                event: HostEvent::Edit(DebuggerEdit::Memory {
                    cpu: 0,
                    addr: 0x6000_0000,
                    data: vec![1, 2, 3],
                }),
            },
            JournalEntry {
                time: 650,
                position: Some(640),
                event: HostEvent::Edit(DebuggerEdit::Register {
                    cpu: 1,
                    reg: 16,
                    value: 0x6000_01d3,
                }),
            },
            JournalEntry {
                time: 700,
                position: Some(690),
                event: HostEvent::Device {
                    id: "n0".into(),
                    data: vec![0xff; 60],
                },
            },
            JournalEntry {
                time: 750,
                position: Some(740),
                event: HostEvent::Keyboard { code: 30, down: true },
            },
            JournalEntry {
                time: 800,
                position: Some(790),
                event: HostEvent::Mouse {
                    dx: -5,
                    dy: 300,
                    dz: -1,
                    buttons: 4,
                },
            },
            JournalEntry {
                time: 900,
                position: Some(880),
                event: HostEvent::Quit,
            },
        ]
    }

    #[test]
    fn the_journal_round_trips() {
        let j = journal();
        assert_eq!(decode(&encode(&j)).unwrap(), j);
        assert!(decode(&encode(&j)[..5]).is_err());
    }

    #[test]
    fn the_host_input_delivers_the_journal() {
        let j = journal();
        let mut input = HostInput::none(1234).with_journal(j.clone(), Vec::new());
        assert_eq!(input.start_time, 1234);
        assert_eq!(input.journal(), &j[..]);
        input.set_cursor(1);
        assert_eq!(
            input.take(500, 480).unwrap(),
            vec![HostEvent::Console(b"ls\r".to_vec())]
        );
        assert_eq!(input.next_edit().map(|(p, _)| p), Some(590));
    }
}
