//! # armvex-snapshot: snapshot files of a whole machine
//!
//! A snapshot is a machine frozen between two instructions, written to one file:
//! `--snapshot-at N:FILE` writes one when N instructions have retired, and
//! `armvex run --loadvm FILE` resumes it with no other option. The resumed run does exactly
//! what the run that saved it did from that instant on: the same console bytes, the same
//! instruction count, the same disk contents. [`save`] writes a file; [`load`] builds a
//! machine from one.
//!
//! ## What is in a snapshot
//!
//! * how the machine was built ([`armvex_machine::MachineSetup`]: board, RAM size, CPUs,
//!   drives, semihosting, the RTC's start time), so that `--loadvm` needs no other option;
//! * its state ([`armvex_machine::MachineState`]): every CPU (banked registers, CP15, VFP,
//!   exclusive monitor, timers), the interrupt controller and every device, the virtio
//!   transports, the virtual clock with every pending event, where the run loop is, how far
//!   host input and console output have got;
//! * the host-input journal, when input was recorded or is being replayed ([`input`]);
//! * RAM: the pages that are not all zeros ([`blocks`]);
//! * each drive's disk as it was at that instant ([`disks`]).
//!
//! Caches are not state: [`save`] empties the TLBs and drops the predecoded code first, so that
//! the saving run goes on exactly as a resumed one starts (with nothing cached).
//!
//! ## The file
//!
//! ```text
//!  offset  size  ─ header ──────────────────────────────────────────────────────────────
//!       0    16  magic "armvex-snapshot\n"
//!      16     4  format version (1): the layout described here
//!      20     8  build fingerprint: a hash of the source of the saved types (build.rs)
//!      28     8  length of the whole file
//!      36     8  xxh3-64 of bytes 0..36
//!              ─ sections, in this order ────────────────────────────────────────────
//!                each: tag (4 ASCII bytes), payload length (8), xxh3-64 of payload (8), payload
//!                "SETU"  machine setup           postcard
//!                "STAT"  machine state           postcard
//!                "INPT"  host-input journal      postcard (only if the journal is not empty)
//!                "RAM "  RAM                     block store: bitmap + LZ4 chunks
//!                "DISK"  one per drive           record (postcard) + block store
//!              ─ trailer ────────────────────────────────────────────────────────────
//!                "END."  xxh3-64 of everything before the trailer
//! ```
//!
//! All numbers are little-endian. The header says how long the file is, so a truncated file
//! is recognised as such ("ends at byte N of M"); each section's checksum names the part that
//! is damaged; the trailer's checksum covers the section headers too. See [`mod@format`].
//!
//! A snapshot refers to nothing but the images of read-only and `snapshot=on` drives (which
//! it checks are unchanged, by length and content hash). The kernel, initrd and DTB are in
//! the saved RAM.
//!
//! ## Why a build fingerprint
//!
//! The state is the Rust types of the CPU and device crates, encoded with serde. A snapshot
//! written by another build may encode other fields, or describe a machine that behaves
//! differently from here on, and would be mis-read or replay wrongly. Rather than keep a
//! version number per device, the header carries a hash of the source files of those crates,
//! computed at build time, and a snapshot from any other build is refused with a clear
//! message. Snapshots are for resuming and debugging with the same armvex, not an archive
//! format.
//!
//! ## Safety of the files
//!
//! [`save`] writes into a temporary file in the same directory and renames it over the
//! snapshot's name once it is complete and synced, so the name never holds half a snapshot.
//! [`load`] reads and checks the whole file (magic, version, fingerprint, every checksum,
//! the trailer) and the disk images it needs before it builds anything; every failure is a
//! [`SnapshotError`] whose message is one line naming the file, never a panic. The resumed
//! machine writes into temporary overlays only, so a snapshot can be resumed any number of
//! times.

pub mod blocks;
pub mod disks;
mod error;
pub mod format;
pub mod input;

use armvex_machine::console::HostInput;
use armvex_machine::{Machine, MachineSetup, MachineState};
use armvex_semihosting::Console;
use blocks::{BLOCK, BlockReader, BlockWriter, is_zero};
use format::{Section, Tag};
use std::path::Path;
use std::time::Instant;

pub use error::SnapshotError;
pub use format::FINGERPRINT;

/// What [`save`] wrote.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct SaveReport {
    /// Length of the file.
    pub bytes: u64,
    /// RAM pages saved (those not all zeros).
    pub ram_pages: u64,
    /// Disk blocks saved, over all drives.
    pub disk_blocks: u64,
    /// Host seconds the save took.
    pub seconds: f64,
}

/// What the host gives a resumed machine (as `armvex_machine::HostSide`, less the disks,
/// which the snapshot brings).
pub struct LoadHost {
    /// Where UART0 (the console) writes.
    pub console: Box<dyn std::io::Write>,
    /// Semihosting's console: needed if the snapshot's machine has semihosting on.
    pub semihosting: Option<Console>,
    /// Where more input comes from once the snapshot's own journal is used up (live, none).
    pub input: HostInput,
}

/// Save the whole of `machine` at `path` (see the crate docs). The machine's caches are
/// dropped first; apart from that, the machine is not changed and runs on as before.
pub fn save(machine: &mut Machine, path: &Path) -> Result<SaveReport, SnapshotError> {
    let started = Instant::now();
    let shown = path.display().to_string();
    machine.drop_caches();
    let journal = input_journal(machine);
    let mut sections = vec![
        Section {
            tag: Tag::Setup,
            payload: armvex_bus::state::encode(machine.setup()),
        },
        Section {
            tag: Tag::State,
            payload: armvex_bus::state::encode(&machine.save_state()),
        },
    ];
    if let Some(journal) = journal {
        sections.push(Section {
            tag: Tag::Input,
            payload: input::encode(journal),
        });
    }
    let (ram, ram_pages) = save_ram(machine);
    sections.push(Section {
        tag: Tag::Ram,
        payload: ram,
    });
    let (drives, disk_blocks) = disks::save_drives(machine, &shown)?;
    sections.extend(drives.into_iter().map(|payload| Section {
        tag: Tag::Disk,
        payload,
    }));
    let bytes = format::write(path, &sections)?;
    Ok(SaveReport {
        bytes,
        ram_pages,
        disk_blocks,
        seconds: started.elapsed().as_secs_f64(),
    })
}

/// The machine's host-input journal, if it has one: the whole of it, so that the saved cursor
/// means the same in the resumed machine and input still to come (a recording being
/// replayed) is delivered.
fn input_journal(machine: &Machine) -> Option<&[armvex_machine::console::JournalEntry]> {
    let j = machine.input().journal();
    (!j.is_empty()).then_some(j)
}

/// The RAM section: every page that is not all zeros.
fn save_ram(machine: &Machine) -> (Vec<u8>, u64) {
    let pages = machine.ram_pages();
    let mut store = BlockWriter::new(u64::from(pages) * BLOCK);
    for i in 0..pages {
        let page = machine.ram_page(i);
        if !is_zero(page) {
            store.add(u64::from(i), page);
        }
    }
    let count = store.count();
    (store.finish(), count)
}

/// A snapshot file's contents, decoded and checked.
struct Contents<'a> {
    setup: MachineSetup,
    state: MachineState,
    journal: Option<Vec<armvex_machine::console::JournalEntry>>,
    ram: BlockReader<'a>,
    /// In the setup's drive order.
    disks: Vec<disks::SavedDisk<'a>>,
}

/// Take the next section, which must be a `want` section.
fn next_section<'a>(name: &str, rest: &mut &[(Tag, &'a [u8])], want: Tag) -> Result<&'a [u8], SnapshotError> {
    match rest.split_first() {
        Some(((tag, payload), tail)) if *tag == want => {
            *rest = tail;
            Ok(payload)
        }
        Some(((tag, _), _)) => Err(damaged(
            name,
            format!("a {} section where the {} section belongs", tag.name(), want.name()),
        )),
        None => Err(damaged(name, format!("it has no {} section", want.name()))),
    }
}

/// The file `name` is damaged: `what` says how.
fn damaged(name: &str, what: String) -> SnapshotError {
    SnapshotError::Damaged {
        name: name.to_string(),
        what,
    }
}

/// Decode the sections of a checked file.
fn decode<'a>(name: &str, sections: &[(Tag, &'a [u8])]) -> Result<Contents<'a>, SnapshotError> {
    let in_section = |tag: Tag, e: String| damaged(name, format!("its {} section: {e}", tag.name()));
    let mut rest = sections;
    let setup: MachineSetup =
        armvex_bus::state::decode(next_section(name, &mut rest, Tag::Setup)?, "the machine setup")
            .map_err(|e| in_section(Tag::Setup, e.0))?;
    let state: MachineState = armvex_bus::state::decode(next_section(name, &mut rest, Tag::State)?, "the machine")
        .map_err(|e| in_section(Tag::State, e.0))?;
    let journal = match rest.first() {
        Some((Tag::Input, _)) => {
            let payload = next_section(name, &mut rest, Tag::Input)?;
            Some(input::decode(payload).map_err(|e| in_section(Tag::Input, e.0))?)
        }
        _ => None,
    };
    let (ram, tail) = BlockReader::parse(next_section(name, &mut rest, Tag::Ram)?)
        .map_err(|e| in_section(Tag::Ram, e.to_string()))?;
    if !tail.is_empty() {
        return Err(in_section(
            Tag::Ram,
            format!("{} unexpected trailing bytes", tail.len()),
        ));
    }
    let mut found: Vec<Option<disks::SavedDisk>> = (0..setup.drives.len()).map(|_| None).collect();
    for &(tag, payload) in rest {
        if tag != Tag::Disk {
            return Err(damaged(name, format!("a {} section among the disks", tag.name())));
        }
        let disk = disks::parse_disk(name, payload)?;
        let slot = found
            .get_mut(disk.record.drive as usize)
            .ok_or_else(|| in_section(Tag::Disk, format!("it names drive {}", disk.record.drive)))?;
        if slot.is_some() {
            return Err(in_section(
                Tag::Disk,
                format!("drive {} is saved twice", disk.record.drive),
            ));
        }
        *slot = Some(disk);
    }
    let disks = found
        .into_iter()
        .enumerate()
        .map(|(i, d)| d.ok_or_else(|| damaged(name, format!("drive {i}'s disk is missing"))))
        .collect::<Result<Vec<_>, _>>()?;
    Ok(Contents {
        setup,
        state,
        journal,
        ram,
        disks,
    })
}

/// Build the machine saved at `path`, ready to run on from where it was saved (see the crate
/// docs). Console output resumes after what the saving run had printed.
pub fn load(path: &Path, host: LoadHost) -> Result<Machine, SnapshotError> {
    let (name, bytes) = read(path)?;
    load_bytes(&name, &bytes, host)
}

/// The file at `path`: its name in messages, and its bytes.
fn read(path: &Path) -> Result<(String, Vec<u8>), SnapshotError> {
    let name = path.display().to_string();
    match std::fs::read(path) {
        Ok(bytes) => Ok((name, bytes)),
        Err(source) => Err(SnapshotError::Read { name, source }),
    }
}

/// How the machine saved at `path` was built, after checking the whole file as [`load`] does:
/// for a front end that must choose the host side before loading (a semihosting console,
/// whether stdin goes to the UART).
pub fn setup_of(path: &Path) -> Result<MachineSetup, SnapshotError> {
    let (name, bytes) = read(path)?;
    let sections = format::parse(&name, &bytes)?;
    Ok(decode(&name, &sections)?.setup)
}

/// [`load`] from the file's bytes (`name` names it in messages).
pub fn load_bytes(name: &str, bytes: &[u8], host: LoadHost) -> Result<Machine, SnapshotError> {
    let sections = format::parse(name, bytes)?;
    let Contents {
        mut setup,
        state,
        journal,
        ram,
        disks,
    } = decode(name, &sections)?;
    if setup.semihosting.is_some() && host.semihosting.is_none() {
        return Err(SnapshotError::NoSemihostingConsole { name: name.to_string() });
    }
    let mut opened = Vec::new();
    for (drive, saved) in setup.drives.iter_mut().zip(&disks) {
        let (disk, file) = disks::open_disk(name, saved)?;
        // The resumed machine's drives name the files it opened (absolute paths).
        if let Some(file) = file {
            drive.file = file;
        }
        opened.push(disk);
    }
    let mut input = match &journal {
        Some(j) => host.input.with_journal(j.clone(), Vec::new()),
        None => host.input,
    };
    input.start_time = setup.rtc_start;
    let mut machine = Machine::rebuild(
        &setup,
        armvex_machine::HostSide {
            console: host.console,
            semihosting: host.semihosting,
            input,
            disks: Some(opened.clone()),
        },
    )
    .map_err(|source| SnapshotError::Rebuild {
        name: name.to_string(),
        source,
    })?;
    for (saved, disk) in disks.iter().zip(&opened) {
        let attached = machine
            .disks()
            .iter()
            .any(|(slot, d)| *slot == saved.record.slot as usize && std::rc::Rc::ptr_eq(d, disk));
        if !attached {
            return Err(SnapshotError::DriveMoved {
                name: name.to_string(),
                drive: saved.record.drive,
                slot: saved.record.slot,
            });
        }
    }
    let pages = machine.ram_pages();
    if ram.block_count() != u64::from(pages) || ram.total_len != u64::from(pages) * BLOCK {
        return Err(damaged(
            name,
            format!(
                "its RAM has {} bytes; its machine has {}",
                ram.total_len,
                u64::from(pages) * BLOCK
            ),
        ));
    }
    ram.for_each::<blocks::BlockError>(|i, data| {
        machine.restore_ram_page(i as u32, data);
        Ok(())
    })
    .map_err(|e| damaged(name, format!("its RAM section: {e}")))?;
    machine.load_state(&state).map_err(|source| SnapshotError::DoesNotFit {
        name: name.to_string(),
        source,
    })?;
    machine.output_starts_here();
    Ok(machine)
}
