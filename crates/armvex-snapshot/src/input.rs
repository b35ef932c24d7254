//! The host-input journal in a snapshot.
//!
//! Host input (console bytes, Ctrl-A X, a debugger's edits) enters the machine through one
//! journal (`armvex_machine::console`), and the machine state saves the journal's *cursor*:
//! how many entries have been delivered. A snapshot taken while a recording is replayed must
//! carry the entries still to come, or the resumed run would not get them; it carries the
//! whole journal, so that the saved cursor means the same thing in the resumed machine (the
//! machine's state hash, which recordings check, includes it).
//!
//! The journal's types are the machine crate's; this module mirrors them in a serde form of
//! its own, so that the file format is written down here.

use armvex_machine::console::{DebuggerEdit, HostEvent, HostInput, JournalEntry};
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
    WriteMemory { cpu: u64, addr: u32, data: Vec<u8> },
    WriteRegister { cpu: u64, reg: u64, value: u64 },
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
            },
        })
        .collect();
    armvex_bus::state::encode(&saved)
}

/// The journal a section payload holds.
pub fn decode(payload: &[u8]) -> Result<Vec<JournalEntry>, String> {
    let saved: Vec<SavedEntry> = armvex_bus::state::decode(payload, "the host input")?;
    saved
        .into_iter()
        .map(|e| {
            let index = |n: u64| usize::try_from(n).map_err(|_| "a CPU or register number is too large".to_string());
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
                },
            })
        })
        .collect()
}

/// Host input that delivers `journal` (the machine state's cursor then says where it is).
///
/// `HostInput` has no constructor from journal entries yet, so this writes them as an input
/// recording (the `--record` format) and replays that. Consequences until the machine crate
/// has one: the host's own input source is not used after a journal (a live console is not
/// attached), and an empty console event (which the recording format cannot express) is
/// refused.
pub fn host_input(journal: &[JournalEntry], start_time: u64) -> Result<HostInput, String> {
    use std::fmt::Write;
    let mut text = format!("armvex-recording 2\nstart-time {start_time}\n");
    let hex = |b: &[u8]| b.iter().map(|x| format!("{x:02x}")).collect::<String>();
    for e in journal {
        let at = match e.position {
            Some(p) => format!("{} {p}", e.time),
            None => e.time.to_string(),
        };
        let line = match &e.event {
            HostEvent::Console(b) if b.is_empty() => {
                return Err("its host input holds an empty console event, which this build cannot resume".into());
            }
            HostEvent::Console(b) => format!("{at} console {}", hex(b)),
            HostEvent::Quit => format!("{at} quit"),
            HostEvent::Edit(_) if e.position.is_none() => {
                return Err("its host input holds a debugger edit with no position".into());
            }
            HostEvent::Edit(DebuggerEdit::Memory { cpu, addr, data }) => {
                format!("{at} write-memory {cpu} {addr:#x} {}", hex(data))
            }
            HostEvent::Edit(DebuggerEdit::Register { cpu, reg, value }) => {
                format!("{at} write-register {cpu} {reg} {value:#x}")
            }
        };
        let _ = writeln!(text, "{line}");
    }
    static COUNTER: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
    let n = COUNTER.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    let path = std::env::temp_dir().join(format!("armvex-snapshot-input-{}-{n}", std::process::id()));
    std::fs::write(&path, text).map_err(|e| format!("cannot write {}: {e}", path.display()))?;
    let input = HostInput::replay(&path);
    let _ = std::fs::remove_file(&path);
    input
}

#[cfg(test)]
mod tests {
    use super::*;

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
        let mut input = host_input(&j, 1234).unwrap();
        assert_eq!(input.start_time, 1234);
        assert_eq!(input.journal(), &j[..]);
        input.set_cursor(1);
        assert_eq!(input.take(500, 480), vec![HostEvent::Console(b"ls\r".to_vec())]);
        assert_eq!(input.next_edit().map(|(p, _)| p), Some(590));
        let empty = [JournalEntry {
            time: 1,
            position: Some(1),
            event: HostEvent::Console(Vec::new()),
        }];
        assert!(host_input(&empty, 0).err().unwrap().contains("empty console event"));
    }
}
