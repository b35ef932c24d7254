//! The inspector's window onto a running machine (`--inspect`, crate `armvex-inspect`).
//!
//! A live inspector wants two things from the machine: to *look* (registers, the memory map,
//! virtqueues, interrupt lines) and to *steer* (pause, continue, step, break, type on the
//! board's keyboard). Both must leave the guest exactly as it would have been without an
//! inspector, which decides the design:
//!
//! * **Looking happens between instructions, on the machine's own thread.** The inspector
//!   never touches machine or device fields. When it wants a picture it says so through
//!   [`Inspector::wants_attention`], a cheap flag the run loop asks once per round (the same
//!   place where gdb's Ctrl-C is asked). [`Machine::run_until`] then stops before the next
//!   instruction ([`Stop::Interrupted`]), the machine builds an [`InspectorView`] — owned,
//!   plain data, consistent because nothing runs meanwhile — hands it over and goes on. A run
//!   that stops and goes on does exactly what an unbroken run does (see [`crate::run`]), so
//!   looking cannot change the console bytes or the instruction count.
//! * **Devices say what they are through their own read-only methods.** The MMIO counts and
//!   access log are kept by the bus ([`armvex_bus::watch`]); a virtio-mmio transport shows its
//!   [`armvex_virtio::TransportState`], the GIC its lines ([`armvex_devices::Gic::line`]),
//!   reached through [`armvex_bus::Device::as_any`]. Rings and descriptor chains are read from
//!   guest RAM without side effects, as the driver wrote them.
//! * **Steering goes through the host-input channel or stops at exact positions.** A key from
//!   the page is host input like a console byte: [`crate::console::HostInput::push_live`]
//!   journals it at the next round start and `--record` writes it down, so a replay delivers
//!   it at the same instruction. Pause, continue, step and breakpoints change no guest state:
//!   they only decide *where the machine stops* — between rounds, after exactly N
//!   instructions ([`RunGoal::position`]), before the instruction at an address — and a
//!   stopped machine goes on exactly as if it had not stopped.

use crate::console::HostEvent;
use crate::error::MachineError;
use crate::{CpuActivity, Machine, RunEnd, RunGoal, Stop};
use armvex_bus::AccessSize;
use armvex_virtio::VirtioMmio;
use serde::Serialize;
use std::time::{Duration, Instant};

/// How many accesses of each device the view lists.
const LAST_ACCESSES: usize = 6;
/// How many accesses of the whole bus the view lists (the newest).
const LOG_ROWS: usize = 300;
/// How many recent chains of each virtqueue the view decodes.
const RECENT_CHAINS: u16 = 8;
/// Bytes of code shown after each CPU's PC.
const CODE_BYTES: usize = 24;

/// What the inspector asks of the machine.
#[derive(Clone, Debug)]
pub enum InspectorCommand {
    /// Stop between rounds (before the next instruction).
    Pause,
    /// Run on.
    Continue,
    /// Run exactly this many more instructions (all CPUs together), then stay paused.
    Step(u64),
    /// Stop before any CPU executes the instruction at this virtual address (`None`: no
    /// breakpoint). Replaces the previous one.
    Breakpoint(Option<u32>),
    /// A key of the board's PS/2 keyboard (Linux key code) pressed or released: host input.
    Key { code: u16, down: bool },
    /// Render display `0` (the first CLCD that is on) and send it back.
    Screen(crossbeam_channel::Sender<Option<armvex_devices::Frame>>),
}

/// The inspector as the run loop sees it (implemented by `armvex-inspect`).
pub trait Inspector {
    /// Asked once per round, so it must be cheap (an atomic load): the inspector has a
    /// command or wants a view.
    fn wants_attention(&self) -> bool;
    /// The next command, waiting at most `wait` for one (zero: do not wait).
    fn next_command(&mut self, wait: Duration) -> Option<InspectorCommand>;
    /// Whether a fresh view is wanted now.
    fn wants_view(&self) -> bool;
    /// Take a view.
    fn publish(&mut self, view: InspectorView);
}

/// Everything the inspector shows, taken between two instructions. Plain data.
#[derive(Clone, Debug, Default, Serialize)]
pub struct InspectorView {
    /// Instructions retired by all CPUs (the machine's position).
    pub instructions: u64,
    /// Virtual time in nanoseconds.
    pub virtual_ns: u64,
    /// The machine runs (false while paused or after the guest ended).
    pub running: bool,
    /// Why it is paused or ended ("paused", "step", "breakpoint", "ended: power-off"...).
    pub stopped: Option<String>,
    pub board: String,
    pub breakpoint: Option<u32>,
    pub cpus: Vec<CpuView>,
    /// RAM-like regions and devices, in address order (like QEMU's `info mtree`).
    pub memory: Vec<RegionView>,
    pub devices: Vec<DeviceView>,
    pub virtio: Vec<VirtioView>,
    pub irqs: Vec<IrqView>,
    /// The newest MMIO accesses of the whole bus, oldest first.
    pub mmio_log: Vec<MmioRow>,
    /// Journal entries of host input delivered so far (console bytes, keys...).
    pub host_inputs: usize,
    /// Host microseconds the machine spent building this view (the cost of looking).
    pub build_us: u64,
}

/// One CPU.
#[derive(Clone, Debug, Default, Serialize)]
pub struct CpuView {
    pub index: usize,
    /// Mode name ("svc", "usr", "irq"...).
    pub mode: String,
    /// R0–R15 of the current mode (R15: the next instruction).
    pub regs: [u32; 16],
    pub cpsr: u32,
    /// N, Z, C, V, Q and the I/F/A masks and T as letters ("nZCv q IfA T"-style).
    pub flags: String,
    pub thumb: bool,
    /// "running", "wfi" or "wfe".
    pub state: String,
    pub instructions: u64,
    /// The banked registers of every mode.
    pub banked: Vec<BankView>,
    /// The code at the PC: its address and bytes (the inspector disassembles them).
    pub code_addr: u32,
    pub code: Vec<u8>,
}

/// The banked R13, R14 and SPSR of one mode (and R8–R12 of FIQ/the others).
#[derive(Clone, Debug, Default, Serialize)]
pub struct BankView {
    pub mode: String,
    pub sp: u32,
    pub lr: u32,
    pub spsr: Option<u32>,
    pub r8_12: Option<[u32; 5]>,
}

/// One entry of the memory map.
#[derive(Clone, Debug, Default, Serialize)]
pub struct RegionView {
    pub name: String,
    /// "ram", "rom", "alias" or "mmio".
    pub kind: String,
    pub base: u32,
    pub size: u64,
    /// For an alias: the region it shows.
    pub alias_of: Option<String>,
}

/// One device on the bus.
#[derive(Clone, Debug, Default, Serialize)]
pub struct DeviceView {
    pub id: usize,
    pub name: String,
    /// The board's kind ("pl011", "virtio-mmio", ...).
    pub kind: String,
    pub base: u32,
    pub size: u32,
    pub irq: Option<u32>,
    pub reads: u64,
    pub writes: u64,
    pub last: Vec<MmioRow>,
}

/// One logged MMIO access.
#[derive(Clone, Debug, Default, Serialize)]
pub struct MmioRow {
    pub seq: u64,
    pub time: u64,
    pub cpu: u8,
    pub device: String,
    pub offset: u32,
    pub register: Option<&'static str>,
    pub write: bool,
    pub size: u8,
    pub value: u32,
}

/// One virtio-mmio transport.
#[derive(Clone, Debug, Default, Serialize)]
pub struct VirtioView {
    pub slot: usize,
    pub name: String,
    pub base: u32,
    pub irq: u32,
    /// "virtio-blk", "virtio-net", ... or "empty".
    pub device: String,
    pub device_id: u32,
    pub version: u32,
    pub status: u32,
    pub status_names: Vec<&'static str>,
    pub features: u64,
    pub feature_names: Vec<String>,
    pub offered: u64,
    pub interrupt_status: u32,
    pub queues: Vec<QueueView>,
    /// The last chains the driver notified, as the device found them (oldest first): the
    /// table of a used chain may since have been freed and reused by the driver.
    pub recent: Vec<RecentView>,
}

/// A chain as the device found it when the driver notified it.
#[derive(Clone, Debug, Default, Serialize)]
pub struct RecentView {
    pub queue: usize,
    pub avail_index: u16,
    pub head: u16,
    /// Virtual time of the QueueNotify.
    pub time: u64,
    pub descriptors: Vec<DescView>,
    /// For virtio-blk: the request, with the status byte the device wrote.
    pub request: Option<BlkRequestView>,
}

/// One split virtqueue.
#[derive(Clone, Debug, Default, Serialize)]
pub struct QueueView {
    pub index: usize,
    pub size: u16,
    pub max_size: u16,
    pub ready: bool,
    pub desc: u64,
    pub avail: u64,
    pub used: u64,
    /// The driver's available index (read from the ring in guest RAM).
    pub avail_idx: u16,
    /// The used index in the ring (what the device published).
    pub used_idx: u16,
    /// The device's next available entry to take.
    pub next_avail: u16,
    /// The most recent chains made available, newest last.
    pub chains: Vec<ChainView>,
}

/// One descriptor chain.
#[derive(Clone, Debug, Default, Serialize)]
pub struct ChainView {
    /// Its free-running available-ring index.
    pub avail_index: u16,
    pub head: u16,
    /// "available" (not taken by the device yet), "in-device" or "used".
    pub state: &'static str,
    pub descriptors: Vec<DescView>,
    /// For virtio-blk: the request it carries.
    pub request: Option<BlkRequestView>,
    /// The chain could not be followed (the driver is rewriting it).
    pub error: Option<String>,
}

/// One descriptor of a chain.
#[derive(Clone, Debug, Default, Serialize)]
pub struct DescView {
    pub addr: u64,
    pub len: u32,
    pub writable: bool,
}

/// A virtio-blk request (virtio 1.2 §5.2.6).
#[derive(Clone, Debug, Default, Serialize)]
pub struct BlkRequestView {
    /// "read", "write", "flush", "get-id", "discard", "write-zeroes" or the number.
    pub kind: String,
    pub sector: u64,
    /// Data bytes.
    pub len: u64,
    /// The status byte the device wrote (0 OK, 1 IOERR, 2 UNSUPP), as it is now in RAM.
    pub status: u8,
}

/// One GIC interrupt ID.
#[derive(Clone, Debug, Default, Serialize)]
pub struct IrqView {
    pub id: u32,
    /// Times acknowledged (GICC_IAR).
    pub count: u64,
    /// CPU masks.
    pub enabled: u8,
    pub pending: u8,
    pub active: u8,
    pub level: bool,
    pub targets: u8,
    pub edge: bool,
    pub priority: u8,
    /// The device wired to it, if known.
    pub source: Option<String>,
}

impl Machine {
    /// Build the inspector's view of the machine as it is now (read-only).
    pub fn inspector_view(&self) -> InspectorView {
        let map = self.bus.device_map();
        let kind_of = |name: &str| self.board.device(name).map(|d| d.kind.as_str().to_string());
        let mut names: Vec<String> = Vec::new();
        let max_id = map.iter().map(|(id, ..)| *id).max().unwrap_or(0);
        names.resize(max_id + 1, String::new());
        for (id, _, _, name) in &map {
            names[*id] = name.to_string();
        }
        let row = |a: &armvex_bus::watch::MmioAccess| MmioRow {
            seq: a.seq,
            time: a.time,
            cpu: a.cpu,
            device: names.get(a.device).cloned().unwrap_or_default(),
            offset: a.offset,
            register: self.register_name(a.device, &names, a.offset),
            write: a.write,
            size: a.size,
            value: a.value,
        };
        let log: Vec<&armvex_bus::watch::MmioAccess> = self.bus.watch.log().collect();
        let devices: Vec<DeviceView> = map
            .iter()
            .map(|(id, base, size, name)| {
                let (reads, writes) = self.bus.watch.counts(*id);
                let entry = self.board.device(name);
                let last: Vec<MmioRow> = log
                    .iter()
                    .rev()
                    .filter(|a| a.device == *id)
                    .take(LAST_ACCESSES)
                    .map(|a| row(a))
                    .collect();
                DeviceView {
                    id: *id,
                    name: name.to_string(),
                    kind: kind_of(name).unwrap_or_else(|| name.to_string()),
                    base: *base,
                    size: *size,
                    irq: entry.and_then(|d| d.spi.first()).map(|s| s + 32),
                    reads,
                    writes,
                    last,
                }
            })
            .collect();
        let mut memory: Vec<RegionView> = vec![RegionView {
            name: "ram".into(),
            kind: "ram".into(),
            base: self.board.ram.base,
            size: self.setup.memory,
            alias_of: None,
        }];
        for m in &self.board.memory {
            let size = crate::board::parse_size(&m.size).unwrap_or(0);
            memory.push(RegionView {
                name: m.name.clone(),
                kind: if m.read_only { "rom" } else { "ram" }.into(),
                base: m.base,
                size,
                alias_of: None,
            });
            if let Some(a) = m.alias_base {
                memory.push(RegionView {
                    name: format!("{}-alias", m.name),
                    kind: "alias".into(),
                    base: a,
                    size,
                    alias_of: Some(m.name.clone()),
                });
            }
        }
        for d in &devices {
            // A ROM device (flash) is already listed as memory.
            if memory.iter().any(|m| m.base == d.base && m.kind != "alias") {
                continue;
            }
            memory.push(RegionView {
                name: d.name.clone(),
                kind: "mmio".into(),
                base: d.base,
                size: u64::from(d.size),
                alias_of: None,
            });
        }
        memory.sort_by_key(|m| m.base);
        let virtio = map
            .iter()
            .filter_map(|(id, base, _, name)| {
                let t = self.bus.device_as::<VirtioMmio>(*id)?;
                Some((*base, name.to_string(), t))
            })
            .enumerate()
            .map(|(slot, (base, name, t))| self.virtio_view(slot, base, name, t))
            .collect();
        InspectorView {
            instructions: self.position(),
            virtual_ns: self.bus.clock.now(),
            running: true,
            stopped: None,
            board: self.board.name.clone(),
            breakpoint: self.debug.breakpoints().first().copied(),
            cpus: (0..self.cpus.len()).map(|i| self.cpu_view(i)).collect(),
            memory,
            irqs: self.irq_views(&devices),
            mmio_log: log.iter().rev().take(LOG_ROWS).rev().map(|a| row(a)).collect(),
            devices,
            virtio,
            host_inputs: self.input.cursor(),
            build_us: 0,
        }
    }

    fn cpu_view(&self, i: usize) -> CpuView {
        let cpu = &self.cpus[i];
        let s = cpu.save_state();
        let mode = cpu.mode();
        let f = s.cpsr;
        let bit = |b: u32, c: char| if f & (1 << b) != 0 { c } else { c.to_ascii_lowercase() };
        let flags: String = [
            bit(31, 'N'),
            bit(30, 'Z'),
            bit(29, 'C'),
            bit(28, 'V'),
            bit(27, 'Q'),
            ' ',
            bit(8, 'A'),
            bit(7, 'I'),
            bit(6, 'F'),
            bit(5, 'T'),
        ]
        .iter()
        .collect();
        use armvex_cpu::Mode;
        let banked = [
            Mode::User,
            Mode::Fiq,
            Mode::Irq,
            Mode::Supervisor,
            Mode::Abort,
            Mode::Undefined,
            Mode::Monitor,
        ]
        .iter()
        .map(|&m| {
            let current = m.bank() == mode.bank();
            let (sp, lr) = if current {
                (s.regs[13], s.regs[14])
            } else {
                (s.banks.sp[m.bank()], s.banks.lr[m.bank()])
            };
            let r8_12 = match m {
                Mode::User if mode == Mode::Fiq => Some(s.banks.r8_12_usr),
                Mode::Fiq if mode != Mode::Fiq => Some(s.banks.r8_12_fiq),
                Mode::User | Mode::Fiq => s.regs[8..13].try_into().ok(),
                _ => None,
            };
            BankView {
                mode: if m == Mode::User { "usr/sys" } else { m.name() }.to_string(),
                sp,
                lr,
                spsr: m.has_spsr().then(|| {
                    if current {
                        cpu.spsr().unwrap_or(0)
                    } else {
                        s.banks.spsr[m.bank()]
                    }
                }),
                r8_12,
            }
        })
        .collect();
        let pc = cpu.pc();
        let mut code = vec![0u8; CODE_BYTES];
        let n = match cpu.debug_read(&self.bus, pc, &mut code) {
            Ok(()) => CODE_BYTES,
            Err(n) => n,
        };
        code.truncate(n);
        CpuView {
            index: i,
            mode: mode.name().to_string(),
            regs: s.regs,
            cpsr: f,
            flags,
            thumb: cpu.is_thumb(),
            state: match self.states[i] {
                CpuActivity::Running => "running",
                CpuActivity::WaitingForInterrupt => "wfi",
                CpuActivity::WaitingForEvent => "wfe",
            }
            .into(),
            instructions: cpu.instructions(),
            banked,
            code_addr: pc,
            code,
        }
    }

    fn virtio_view(&self, slot: usize, base: u32, name: String, t: &VirtioMmio) -> VirtioView {
        use armvex_virtio::transport::status as st;
        let s = t.state();
        let status_names = [
            (st::ACKNOWLEDGE, "ACKNOWLEDGE"),
            (st::DRIVER, "DRIVER"),
            (st::FEATURES_OK, "FEATURES_OK"),
            (st::DRIVER_OK, "DRIVER_OK"),
            (st::DEVICE_NEEDS_RESET, "DEVICE_NEEDS_RESET"),
            (st::FAILED, "FAILED"),
        ]
        .iter()
        .filter(|(b, _)| s.status & b != 0)
        .map(|(_, n)| *n)
        .collect();
        let device = t.device_name().unwrap_or("empty").to_string();
        let features = t.negotiated_features();
        // Requests are decoded on virtio-blk's request queue (0).
        let is_blk = device == "virtio-blk";
        let blk = |queue: usize| is_blk && queue == 0;
        let queues = s
            .queues
            .iter()
            .enumerate()
            .map(|(index, q)| self.queue_view(index, q, blk(index)))
            .collect();
        VirtioView {
            slot,
            name,
            base,
            irq: t.irq_id(),
            device,
            device_id: s.device_id,
            version: if s.modern { 2 } else { 1 },
            status: s.status,
            status_names,
            features,
            feature_names: feature_names(features, t.device_name().unwrap_or("")),
            offered: t.offered_features(),
            interrupt_status: s.interrupt_status,
            queues,
            recent: t
                .recent_chains()
                .map(|c| RecentView {
                    queue: c.queue,
                    avail_index: c.avail_index,
                    head: c.head,
                    time: c.time,
                    descriptors: desc_views(&c.buffers),
                    request: blk(c.queue)
                        .then(|| blk_request(&c.header, &c.buffers, c.last_byte))
                        .flatten(),
                })
                .collect(),
        }
    }

    /// A little-endian 16-bit value of guest RAM (0 outside RAM).
    fn read16(&self, addr: u64) -> u16 {
        self.bus.memory.read(addr, AccessSize::Half).unwrap_or(0) as u16
    }

    /// Queue `index`, with the most recent chains made available (their requests decoded if
    /// `blk`).
    fn queue_view(&self, index: usize, q: &armvex_virtio::SplitQueue, blk: bool) -> QueueView {
        let (avail_idx, used_idx) = if q.ready {
            (self.read16(q.avail_addr + 2), self.read16(q.used_addr + 2))
        } else {
            (0, 0)
        };
        let mut chains = Vec::new();
        if q.ready && q.size > 0 {
            let count = RECENT_CHAINS.min(q.size).min(avail_idx);
            for k in (0..count).rev() {
                let i = avail_idx.wrapping_sub(k + 1);
                let head = self.read16(q.avail_addr + 4 + 2 * u64::from(i % q.size));
                let state = if i.wrapping_sub(q.next_avail) < 0x8000 {
                    "available"
                } else if i.wrapping_sub(q.next_used) < 0x8000 {
                    "in-device"
                } else {
                    "used"
                };
                chains.push(self.chain_view(q, i, head, state, blk));
            }
        }
        QueueView {
            index,
            size: q.size,
            max_size: q.max_size,
            ready: q.ready,
            desc: q.desc_addr,
            avail: q.avail_addr,
            used: q.used_addr,
            avail_idx,
            used_idx,
            next_avail: q.next_avail,
            chains,
        }
    }

    fn chain_view(
        &self,
        q: &armvex_virtio::SplitQueue,
        i: u16,
        head: u16,
        state: &'static str,
        blk: bool,
    ) -> ChainView {
        let mem = &self.bus.memory;
        let mut view = ChainView {
            avail_index: i,
            head,
            state,
            ..ChainView::default()
        };
        match q.walk_chain(mem, head) {
            Ok(chain) => {
                view.descriptors = desc_views(&chain.buffers);
                if blk {
                    let mut header = [0u8; 16];
                    let mut status = [0u8];
                    let first = chain.buffers.first();
                    let last = chain.buffers.last().filter(|b| b.writable && b.len > 0);
                    if first.is_some_and(|b| b.len >= 16 && mem.read_bytes(b.addr, &mut header).is_ok()) {
                        let status = last
                            .and_then(|b| mem.read_bytes(b.addr + u64::from(b.len) - 1, &mut status).ok())
                            .map(|()| status[0]);
                        view.request = blk_request(&header, &chain.buffers, status);
                    }
                }
            }
            // Once used, a chain's indirect table is the driver's again (freed, reused).
            Err(e) if state == "used" => view.error = Some(format!("no longer readable (completed; {e})")),
            Err(e) => view.error = Some(e.to_string()),
        }
        view
    }

    fn irq_views(&self, devices: &[DeviceView]) -> Vec<IrqView> {
        let Some(gic) = self.bus.device_map().iter().find_map(|(id, ..)| {
            (self.bus.device_as::<armvex_devices::A9MpCore>(*id).map(|m| m.gic()))
                .or_else(|| self.bus.device_as::<armvex_devices::A15MpCore>(*id).map(|m| m.gic()))
        }) else {
            return Vec::new();
        };
        let ppi_name = |id: u32| {
            let mp = &self.board.mpcore;
            [
                (mp.global_timer_ppi, "global-timer"),
                (mp.twd_timer_ppi, "twd-timer"),
                (mp.twd_watchdog_ppi, "twd-watchdog"),
                (mp.generic_timer_secure_ppi, "generic-timer-s"),
                (mp.generic_timer_nonsecure_ppi, "generic-timer-ns"),
                (mp.generic_timer_virtual_ppi, "generic-timer-virt"),
                (mp.generic_timer_hyp_ppi, "generic-timer-hyp"),
            ]
            .iter()
            .find(|(p, _)| p.is_some_and(|p| p + 16 == id || p == id))
            .map(|(_, n)| n.to_string())
        };
        (0..gic.num_irqs())
            .filter_map(|id| {
                let l = gic.line(id)?;
                let id = id as u32;
                let source = devices
                    .iter()
                    .filter(|d| d.irq == Some(id))
                    .map(|d| d.name.as_str())
                    .collect::<Vec<_>>()
                    .join("+");
                let source = if source.is_empty() { ppi_name(id) } else { Some(source) };
                let shown = l.acknowledged > 0 || l.level != 0 || l.pending != 0 || (id >= 16 && l.enabled != 0);
                shown.then_some(IrqView {
                    id,
                    count: l.acknowledged,
                    enabled: l.enabled,
                    pending: l.pending,
                    active: l.active,
                    level: l.level != 0,
                    targets: l.targets,
                    edge: l.edge,
                    priority: l.priority,
                    source,
                })
            })
            .collect()
    }

    /// The name of the register at `offset` of device `id`, where known.
    fn register_name(&self, id: usize, names: &[String], offset: u32) -> Option<&'static str> {
        let name = names.get(id)?;
        let kind = match self.board.device(name) {
            Some(d) => d.kind.as_str(),
            None if *name == armvex_devices::A9MpCore::NAME || *name == armvex_devices::A15MpCore::NAME => "mpcore",
            None => return None,
        };
        match kind {
            "virtio-mmio" => virtio_register(offset),
            "pl011" => pl011_register(offset),
            "mpcore" => {
                let mp = &self.board.mpcore;
                if let Some(o) = offset.checked_sub(mp.gic_cpu_offset).filter(|o| *o < 0x100) {
                    gicc_register(o)
                } else if let Some(o) = offset.checked_sub(mp.gic_distributor_offset).filter(|o| *o < 0x1000) {
                    gicd_register(o)
                } else {
                    None
                }
            }
            _ => None,
        }
    }

    /// Run until the guest ends, with `inspector` attached: it gets views when it asks and
    /// steers the run (see the module documentation). `--max-instructions` still ends the run.
    pub fn run_inspected(&mut self, inspector: &mut dyn Inspector) -> Result<RunEnd, MachineError> {
        self.bus.watch.set_logging(true);
        let started = Instant::now();
        let result = self.inspect_loop(inspector);
        self.stats.host_seconds += started.elapsed().as_secs_f64();
        self.flush_output();
        Ok(result?)
    }

    fn inspect_loop(&mut self, inspector: &mut dyn Inspector) -> Result<RunEnd, String> {
        let mut stopped: Option<String> = None;
        let mut step_goal: Option<u64> = None;
        // The CPU that stopped at the breakpoint (it steps over it when the run goes on).
        let mut at_breakpoint: Option<usize> = None;
        loop {
            // Between instructions: take commands and hand out views.
            loop {
                let wait = if stopped.is_some() {
                    Duration::from_millis(20)
                } else {
                    Duration::ZERO
                };
                while let Some(command) = inspector.next_command(wait) {
                    match command {
                        InspectorCommand::Pause => {
                            if stopped.is_none() {
                                stopped = Some("paused".into());
                            }
                            step_goal = None;
                        }
                        InspectorCommand::Continue => {
                            stopped = None;
                            step_goal = None;
                        }
                        InspectorCommand::Step(n) => {
                            stopped = None;
                            step_goal = Some(self.position().saturating_add(n));
                        }
                        InspectorCommand::Breakpoint(addr) => {
                            self.set_breakpoints(addr.as_slice());
                        }
                        InspectorCommand::Key { code, down } => {
                            self.input.push_live(HostEvent::Keyboard { code, down });
                        }
                        InspectorCommand::Screen(reply) => {
                            let frame = (0..self.displays.len()).find_map(|i| self.screenshot(i));
                            let _ = reply.send(frame);
                        }
                    }
                    if stopped.is_none() {
                        break;
                    }
                }
                if inspector.wants_view() {
                    let began = Instant::now();
                    let mut view = self.inspector_view();
                    view.build_us = began.elapsed().as_micros() as u64;
                    view.running = stopped.is_none();
                    view.stopped = stopped.clone();
                    inspector.publish(view);
                }
                if stopped.is_none() {
                    break;
                }
                if let Some(sig) = crate::console::termination_requested() {
                    return Ok(RunEnd::Signal(sig));
                }
                // Ctrl-A X while paused: run on to the next round start, which takes it.
                if self.input.quit_waiting() {
                    stopped = None;
                    step_goal = None;
                    break;
                }
            }
            if let Some(cpu) = at_breakpoint.take() {
                let pc = self.cpus[cpu].pc();
                self.skip_breakpoint_once(cpu, pc);
            }
            let goal = RunGoal {
                position: step_goal,
                ..RunGoal::default()
            };
            let stop = {
                let inspector: &dyn Inspector = inspector;
                self.run_until(&goal, &mut || inspector.wants_attention())?
            };
            match stop {
                Stop::Ended(end) => {
                    let mut view = self.inspector_view();
                    view.running = false;
                    view.stopped = Some(format!("ended: {end:?}"));
                    inspector.publish(view);
                    return Ok(end);
                }
                Stop::Interrupted | Stop::CheckpointDue => {}
                Stop::Reached => {
                    step_goal = None;
                    stopped = Some("step".into());
                }
                Stop::Breakpoint { cpu } => {
                    at_breakpoint = Some(cpu);
                    step_goal = None;
                    stopped = Some(format!("breakpoint (cpu {cpu})"));
                }
                Stop::Watchpoint { cpu, .. } => {
                    step_goal = None;
                    stopped = Some(format!("watchpoint (cpu {cpu})"));
                }
            }
        }
    }
}

/// The kind, sector, data length and status of the virtio-blk request in `buffers`
/// (§5.2.6: a 16-byte header — type, reserved, sector — then data, then one status byte).
/// The descriptors of a chain, as the page shows them.
fn desc_views(buffers: &[armvex_virtio::queue::Buffer]) -> Vec<DescView> {
    buffers
        .iter()
        .map(|b| DescView {
            addr: b.addr,
            len: b.len,
            writable: b.writable,
        })
        .collect()
}

fn blk_request(header: &[u8], buffers: &[armvex_virtio::queue::Buffer], status: Option<u8>) -> Option<BlkRequestView> {
    let kind = u32::from_le_bytes(header.get(0..4)?.try_into().ok()?);
    let sector = u64::from_le_bytes(header.get(8..16)?.try_into().ok()?);
    let total: u64 = buffers.iter().map(|b| u64::from(b.len)).sum();
    let len = total.saturating_sub(16 + 1);
    use armvex_virtio::blk::request as r;
    let kind = match kind {
        r::IN => "read".to_string(),
        r::OUT => "write".to_string(),
        r::FLUSH => "flush".to_string(),
        r::GET_ID => "get-id".to_string(),
        r::DISCARD => "discard".to_string(),
        r::WRITE_ZEROES => "write-zeroes".to_string(),
        other => other.to_string(),
    };
    Some(BlkRequestView {
        kind,
        sector,
        len,
        status: status.unwrap_or(0xff),
    })
}

/// The names of the feature bits in `features` (virtio 1.2 §6 and the device types' sections).
fn feature_names(features: u64, device: &str) -> Vec<String> {
    let device_bits: &[(u32, &str)] = match device {
        "virtio-blk" => &[
            (1, "SIZE_MAX"),
            (2, "SEG_MAX"),
            (4, "GEOMETRY"),
            (5, "RO"),
            (6, "BLK_SIZE"),
            (9, "FLUSH"),
            (10, "TOPOLOGY"),
            (11, "CONFIG_WCE"),
            (12, "MQ"),
            (13, "DISCARD"),
            (14, "WRITE_ZEROES"),
        ],
        "virtio-net" => &[
            (0, "CSUM"),
            (1, "GUEST_CSUM"),
            (5, "MAC"),
            (15, "MRG_RXBUF"),
            (16, "STATUS"),
            (17, "CTRL_VQ"),
        ],
        "virtio-console" => &[(0, "SIZE"), (1, "MULTIPORT"), (2, "EMERG_WRITE")],
        _ => &[],
    };
    let common: &[(u32, &str)] = &[
        (24, "NOTIFY_ON_EMPTY"),
        (27, "ANY_LAYOUT"),
        (28, "INDIRECT_DESC"),
        (29, "EVENT_IDX"),
        (32, "VERSION_1"),
        (33, "ACCESS_PLATFORM"),
        (34, "RING_PACKED"),
    ];
    (0..64)
        .filter(|b| features & (1u64 << b) != 0)
        .map(|b| {
            device_bits
                .iter()
                .chain(common)
                .find(|(n, _)| *n == b)
                .map_or_else(|| format!("bit{b}"), |(_, n)| n.to_string())
        })
        .collect()
}

/// virtio-mmio register names (virtio 1.2 §4.2.2).
fn virtio_register(offset: u32) -> Option<&'static str> {
    use armvex_virtio::transport::regs as r;
    Some(match offset {
        r::MAGIC_VALUE => "MagicValue",
        r::VERSION => "Version",
        r::DEVICE_ID => "DeviceID",
        r::VENDOR_ID => "VendorID",
        r::DEVICE_FEATURES => "DeviceFeatures",
        r::DEVICE_FEATURES_SEL => "DeviceFeaturesSel",
        r::DRIVER_FEATURES => "DriverFeatures",
        r::DRIVER_FEATURES_SEL => "DriverFeaturesSel",
        r::GUEST_PAGE_SIZE => "GuestPageSize",
        r::QUEUE_SEL => "QueueSel",
        r::QUEUE_NUM_MAX => "QueueNumMax",
        r::QUEUE_NUM => "QueueNum",
        r::QUEUE_ALIGN => "QueueAlign",
        r::QUEUE_PFN => "QueuePFN",
        r::QUEUE_READY => "QueueReady",
        r::QUEUE_NOTIFY => "QueueNotify",
        r::INTERRUPT_STATUS => "InterruptStatus",
        r::INTERRUPT_ACK => "InterruptACK",
        r::STATUS => "Status",
        r::QUEUE_DESC_LOW => "QueueDescLow",
        r::QUEUE_DESC_HIGH => "QueueDescHigh",
        r::QUEUE_DRIVER_LOW => "QueueDriverLow",
        r::QUEUE_DRIVER_HIGH => "QueueDriverHigh",
        r::QUEUE_DEVICE_LOW => "QueueDeviceLow",
        r::QUEUE_DEVICE_HIGH => "QueueDeviceHigh",
        r::CONFIG_GENERATION => "ConfigGeneration",
        o if o >= r::CONFIG => "Config",
        _ => return None,
    })
}

/// PL011 UART register names (PrimeCell UART TRM, DDI 0183, 3.2).
fn pl011_register(offset: u32) -> Option<&'static str> {
    Some(match offset {
        0x000 => "UARTDR",
        0x004 => "UARTRSR",
        0x018 => "UARTFR",
        0x024 => "UARTIBRD",
        0x028 => "UARTFBRD",
        0x02c => "UARTLCR_H",
        0x030 => "UARTCR",
        0x034 => "UARTIFLS",
        0x038 => "UARTIMSC",
        0x03c => "UARTRIS",
        0x040 => "UARTMIS",
        0x044 => "UARTICR",
        0x048 => "UARTDMACR",
        _ => return None,
    })
}

/// GIC CPU interface register names (IHI 0048B, 4.4).
fn gicc_register(offset: u32) -> Option<&'static str> {
    Some(match offset {
        0x00 => "GICC_CTLR",
        0x04 => "GICC_PMR",
        0x08 => "GICC_BPR",
        0x0c => "GICC_IAR",
        0x10 => "GICC_EOIR",
        0x14 => "GICC_RPR",
        0x18 => "GICC_HPPIR",
        0x1c => "GICC_ABPR",
        0xfc => "GICC_IIDR",
        _ => return None,
    })
}

/// GIC distributor register names (IHI 0048B, 4.3).
fn gicd_register(offset: u32) -> Option<&'static str> {
    Some(match offset {
        0x000 => "GICD_CTLR",
        0x004 => "GICD_TYPER",
        0x008 => "GICD_IIDR",
        0x080..0x100 => "GICD_IGROUPR",
        0x100..0x180 => "GICD_ISENABLER",
        0x180..0x200 => "GICD_ICENABLER",
        0x200..0x280 => "GICD_ISPENDR",
        0x280..0x300 => "GICD_ICPENDR",
        0x300..0x380 => "GICD_ISACTIVER",
        0x380..0x400 => "GICD_ICACTIVER",
        0x400..0x800 => "GICD_IPRIORITYR",
        0x800..0xc00 => "GICD_ITARGETSR",
        0xc00..0xd00 => "GICD_ICFGR",
        0xf00 => "GICD_SGIR",
        _ => return None,
    })
}
