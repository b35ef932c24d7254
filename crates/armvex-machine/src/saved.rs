//! A machine's whole state, for snapshots and reverse execution.
//!
//! [`MachineState`] is everything but RAM: each CPU ([`armvex_cpu::CpuState`]), the bus with
//! every device ([`armvex_bus::BusState`]), where the run loop is ([`crate::run::RoundState`]),
//! how far host input and console output have got. RAM is saved page by page, either whole
//! ([`Machine::ram_page`]) or as undo logs of the pages written in an interval
//! ([`Machine::take_ram_undo`]); disks likewise (see the virtio crate's disk layer).
//!
//! Loading a state into a machine built the same way ([`Machine::rebuild`] from the same
//! [`crate::MachineSetup`], or the machine that saved it) and giving it the RAM of that moment
//! gives a machine that runs on exactly as the saved one did.

use crate::error::MachineError;
use crate::run::RoundState;
use crate::{CpuActivity, Machine, RunEnd};
use armvex_bus::BusState;
use armvex_bus::memory::RamUndo;
use armvex_cpu::{CpuState, PageSummary};
use armvex_virtio::DiskUndo;
use serde::{Deserialize, Serialize};

/// Everything about a machine but its RAM and disks.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct MachineState {
    pub cpus: Vec<CpuState>,
    pub activity: Vec<CpuActivity>,
    pub bus: BusState,
    pub round: RoundState,
    /// The host-input journal's cursor.
    pub input_cursor: usize,
    /// Bytes the guest has sent to the console, and to semihosting's console.
    pub console_position: u64,
    pub semihosting_position: Option<u64>,
    /// Semihosting's state (errno, open handles), when it is on.
    pub semihosting: Option<Vec<u8>>,
    pub ended: Option<RunEnd>,
    /// Where the next state hash of a recording is due.
    pub next_hash_at: u64,
}

impl Machine {
    /// Save everything but RAM and disks.
    pub fn save_state(&self) -> MachineState {
        MachineState {
            cpus: self.cpus.iter().map(|c| c.save_state()).collect(),
            activity: self.states.clone(),
            bus: self.bus.save_state(),
            round: self.round,
            input_cursor: self.input.cursor(),
            console_position: self.console.position(),
            semihosting_position: self.semihosting_output.as_ref().map(|s| s.position()),
            semihosting: self.semihosting.as_ref().map(|s| s.save_state()),
            ended: self.ended,
            next_hash_at: self.next_hash_at,
        }
    }

    /// Put back a [`MachineState`] (RAM and disks are the caller's). Every TLB is emptied;
    /// predecoded code stays, as it follows RAM by itself (restoring a page drops its decode).
    /// Fails, with a one-line message, if the state does not fit this machine; the machine is
    /// then unusable.
    pub fn load_state(&mut self, s: &MachineState) -> Result<(), MachineError> {
        if s.cpus.len() != self.cpus.len() || s.activity.len() != self.cpus.len() {
            return Err(format!(
                "the saved machine has {} CPUs, this one {}",
                s.cpus.len(),
                self.cpus.len()
            )
            .into());
        }
        if s.round.cpu > self.cpus.len() {
            return Err("the saved run loop names a CPU this machine does not have".into());
        }
        for (cpu, saved) in self.cpus.iter_mut().zip(&s.cpus) {
            cpu.load_state(saved)?;
        }
        self.states = s.activity.clone();
        self.bus.load_state(&s.bus)?;
        self.round = s.round;
        self.input.set_cursor(s.input_cursor);
        self.console.set_position(s.console_position);
        if let (Some(sink), Some(p)) = (&self.semihosting_output, s.semihosting_position) {
            sink.set_position(p);
        }
        match (self.semihosting.as_mut(), &s.semihosting) {
            (Some(sh), Some(bytes)) => sh.load_state(bytes)?,
            (None, None) => {}
            _ => return Err("the saved machine and this one differ in semihosting".into()),
        }
        self.ended = s.ended;
        self.next_hash_at = s.next_hash_at;
        Ok(())
    }

    /// Empty every TLB and drop all predecoded code. Caches are not state, and a machine
    /// resumed from a snapshot starts without them; a run that saves a snapshot does this too,
    /// so that it goes on exactly as the resumed one will.
    pub fn drop_caches(&mut self) {
        for cpu in &mut self.cpus {
            cpu.flush_tlb();
        }
        self.code.clear(&mut self.bus.memory);
    }

    /// Consider the console output up to the loaded state's position already printed (a
    /// machine resumed from a snapshot file prints only what comes after it).
    pub fn output_starts_here(&mut self) {
        self.console.start_at(self.console.position());
        if let Some(sink) = &self.semihosting_output {
            sink.start_at(sink.position());
        }
    }

    /// Number of RAM pages (4 KiB each) over all memories.
    pub fn ram_pages(&self) -> u32 {
        self.bus.memory.total_pages()
    }

    /// The contents of RAM page `index` (< [`Machine::ram_pages`]).
    pub fn ram_page(&self, index: u32) -> &[u8] {
        self.bus.memory.page_contents(index)
    }

    /// Overwrite RAM page `index` (a restore).
    pub fn restore_ram_page(&mut self, index: u32, data: &[u8]) {
        self.bus.memory.restore_page(index, data);
    }

    /// Start keeping undo logs of RAM (see `armvex_bus::memory`).
    pub fn start_ram_undo(&mut self) {
        self.bus.memory.start_undo();
    }

    /// The undo log of RAM since the last start or take; a new one starts.
    pub fn take_ram_undo(&mut self) -> RamUndo {
        self.bus.memory.take_undo()
    }

    /// Put RAM back as an undo log says.
    pub fn apply_ram_undo(&mut self, undo: &RamUndo) {
        self.bus.memory.apply_undo(undo);
    }

    /// Host memory held by the RAM undo log being filled.
    pub fn ram_undo_bytes(&self) -> usize {
        self.bus.memory.undo_bytes()
    }

    /// Start recording which virtual pages the CPUs execute, read and write.
    pub fn start_summaries(&mut self) {
        for cpu in &mut self.cpus {
            cpu.start_summary();
        }
    }

    /// The pages all CPUs touched since the last start or take; recording goes on.
    pub fn take_summaries(&mut self) -> PageSummary {
        let mut all = PageSummary::default();
        for cpu in &mut self.cpus {
            if let Some(s) = cpu.take_summary() {
                all.executed.union_with(&s.executed);
                all.read.union_with(&s.read);
                all.written.union_with(&s.written);
            }
        }
        all
    }

    /// Each drive's transport slot and disk image.
    pub fn disks(&self) -> &[(usize, armvex_virtio::SharedDisk)] {
        &self.disks
    }

    /// The transport slot of each drive, in the setup's drive order.
    pub fn drive_slots(&self) -> &[usize] {
        &self.drive_slots
    }

    /// Each drive's disk image, in the setup's drive order (what `MachineConfig::disks` and
    /// `HostSide::disks` take, e.g. to keep the disks across a guest reboot).
    pub fn disks_in_drive_order(&self) -> Vec<armvex_virtio::SharedDisk> {
        self.drive_slots
            .iter()
            .filter_map(|slot| self.disks.iter().find(|(s, _)| s == slot).map(|(_, d)| d.clone()))
            .collect()
    }

    /// Start keeping undo logs of every writable disk (reverse execution).
    pub fn start_disk_undo(&mut self) {
        for (_, d) in &self.disks {
            d.borrow_mut().start_undo();
        }
    }

    /// Each disk's undo log since the last start or take (in [`Machine::disks`] order); new
    /// ones start.
    pub fn take_disk_undo(&mut self) -> Vec<DiskUndo> {
        self.disks.iter().map(|(_, d)| d.borrow_mut().take_undo()).collect()
    }

    /// Put the disks back as undo logs from [`Machine::take_disk_undo`] say.
    pub fn apply_disk_undo(&mut self, undo: &[DiskUndo]) -> Result<(), MachineError> {
        for ((slot, d), u) in self.disks.iter().zip(undo) {
            d.borrow_mut()
                .apply_undo(u)
                .map_err(|e| format!("cannot rewind the disk in slot {slot}: {e}"))?;
        }
        Ok(())
    }

    /// The pages all CPUs touched since the last start or take, without ending the interval.
    pub fn peek_summaries(&self) -> PageSummary {
        let mut all = PageSummary::default();
        for s in self.cpus.iter().filter_map(|c| c.summary()) {
            all.executed.union_with(&s.executed);
            all.read.union_with(&s.read);
            all.written.union_with(&s.written);
        }
        all
    }

    /// A hash of the whole machine: its state and every RAM page (for recordings, which check
    /// that a replay follows the same course, and for tests).
    pub fn state_hash(&self) -> u64 {
        let mut h = xxhash_rust::xxh3::Xxh3::new();
        h.update(&armvex_bus::state::encode(&self.save_state()));
        for i in 0..self.ram_pages() {
            h.update(self.ram_page(i));
        }
        h.digest()
    }
}
