//! The ARM Generic Interrupt Controller (GIC), versions 1 and 2.
//!
//! Every interrupt in a Cortex-A9 or Cortex-A15 MPCore system goes through the GIC. It has two
//! parts (ARM IHI 0048B, *GIC Architecture Specification v1.0 and v2.0*):
//!
//! * The **distributor** (chapter 4.3, registers `GICD_*`) is shared. It holds, for every
//!   interrupt ID, an enable bit, a pending and an active state, a priority (0 is the most
//!   urgent), a trigger mode (level or edge), a group, and for shared interrupts the set of CPUs
//!   it is sent to. IDs 0–15 are *software generated interrupts* (SGIs, one CPU interrupting
//!   others through `GICD_SGIR`), 16–31 *private peripheral interrupts* (PPIs, e.g. each CPU's
//!   own timer) and 32 and up *shared peripheral interrupts* (SPIs, the board's devices). SGIs
//!   and PPIs are *banked*: each CPU has its own copy of their enable/pending/active state and
//!   priority, and sees its own copy at the same address.
//! * One **CPU interface** per CPU (chapter 4.4, registers `GICC_*`), also at one address that
//!   each CPU sees as its own. It signals the CPU's IRQ (or FIQ) input when the best pending
//!   interrupt beats both the *priority mask* (`GICC_PMR`) and the *running priority* (the
//!   priority of the interrupt being handled, so only more urgent interrupts preempt). Reading
//!   `GICC_IAR` *acknowledges* the interrupt: it becomes active, stops being pending, and the
//!   running priority rises to its *group priority* (its priority with the low bits named by the
//!   binary point register `GICC_BPR` ignored). Writing its ID to `GICC_EOIR` ends it.
//!
//! Edge-triggered interrupts become pending on a rising edge of their line and stay pending
//! until acknowledged. A level-triggered interrupt is pending while its line is high (or after
//! software set it pending).
//!
//! This model follows QEMU's `hw/intc/arm_gic.c` (no virtualization extensions) register by
//! register, including its choices where the architecture leaves room: distributor registers
//! may be read and written a byte at a time; `GICD_ITARGETSR0..7` read as the reading CPU's own
//! bit (software such as Linux finds its CPU number there); writes to `GICD_ICPENDR` clear the
//! pending state on all CPUs. Like QEMU on the vexpress boards, the GIC implements the Security
//! Extensions and every access is treated as *Secure* (armvex runs guests in the Secure world),
//! which gives interrupt groups: group 0 interrupts may be sent as FIQs (`GICC_CTLR.FIQEn`),
//! group 1 as IRQs. Linux leaves everything in group 0 with FIQEn clear, so all arrive as IRQs.
//!
//! Line levels come from the bus's [`InterruptLines`]: after any change the bus calls the
//! owning device's `interrupt_lines_changed`, which calls [`Gic::lines_changed`]. A line that
//! goes up and down again within one device access is not seen.
//!
//! **Saved state** (part of the state of the MPCore device that owns the GIC): `GICD_CTLR`;
//! for every interrupt ID its enable, pending, active and group bits, trigger mode and the line
//! level the GIC last saw; priorities, targets and the sources of pending SGIs; and each CPU
//! interface's control, priority mask, binary points, running priority, active priority
//! registers and the interrupt it would acknowledge next. The [`GicConfig`] is saved only to
//! refuse a state from a GIC built differently. The CPUs' IRQ/FIQ inputs are the bus's.

use crate::error::DeviceError;
use crate::state_error;
use armvex_bus::{AccessSize, InterruptLines, MAX_CPUS, StateError};
use serde::{Deserialize, Serialize};

/// The interrupt ID `GICC_IAR` returns when nothing can be acknowledged.
pub const SPURIOUS: u32 = 1023;

/// IDs below this are per-CPU (SGIs and PPIs).
const NR_PRIVATE: usize = 32;
/// IDs below this are SGIs.
const NR_SGIS: usize = 16;
/// The largest interrupt ID plus one that the architecture allows (1020..1023 are special).
const MAX_IRQ: u32 = 1020;
/// Running priority when no interrupt is active ("idle", lower than any real priority).
const IDLE_PRIORITY: u16 = 0x100;
/// Number of active priority registers: 128 preemption levels (BPR 0) / 32 bits.
const NR_APRS: usize = 4;

// GICD_CTLR and GICC_CTLR bits.
const CTLR_EN_GRP0: u32 = 1 << 0;
const CTLR_EN_GRP1: u32 = 1 << 1;
const CPU_CTLR_ACK_CTL: u32 = 1 << 2;
const CPU_CTLR_FIQ_EN: u32 = 1 << 3;
const CPU_CTLR_CBPR: u32 = 1 << 4;
const CPU_CTLR_EOIMODE: u32 = 1 << 9;

/// Register offsets of the distributor (`GICD_*`, IHI 0048B §4.1.2, Table 4-1) and of the CPU
/// interface (`GICC_*`, §4.1.3, Table 4-2). A register with a bit, a byte or two bits per
/// interrupt ID is a block of words: its constant is the block's first byte, and the block
/// ends where the next constant begins.
pub mod regs {
    /// Distributor Control Register (§4.3.1): enables groups 0 and 1.
    pub const GICD_CTLR: u32 = 0x000;
    /// Interrupt Controller Type Register (§4.3.2): IDs, CPUs, Security Extensions.
    pub const GICD_TYPER: u32 = 0x004;
    /// Distributor Implementer Identification Register (§4.3.3).
    pub const GICD_IIDR: u32 = 0x008;
    /// The end of `GICD_IIDR`; reserved up to `GICD_IGROUPR`.
    pub const GICD_IIDR_END: u32 = 0x00c;
    /// Interrupt Group Registers (§4.3.4), a bit per ID.
    pub const GICD_IGROUPR: u32 = 0x080;
    /// Interrupt Set-Enable Registers (§4.3.5), a bit per ID.
    pub const GICD_ISENABLER: u32 = 0x100;
    /// Interrupt Clear-Enable Registers (§4.3.6), a bit per ID.
    pub const GICD_ICENABLER: u32 = 0x180;
    /// Interrupt Set-Pending Registers (§4.3.7), a bit per ID.
    pub const GICD_ISPENDR: u32 = 0x200;
    /// Interrupt Clear-Pending Registers (§4.3.8), a bit per ID.
    pub const GICD_ICPENDR: u32 = 0x280;
    /// Interrupt Set-Active Registers (§4.3.9, GICv2), a bit per ID.
    pub const GICD_ISACTIVER: u32 = 0x300;
    /// Interrupt Clear-Active Registers (§4.3.10, GICv2), a bit per ID.
    pub const GICD_ICACTIVER: u32 = 0x380;
    /// Interrupt Priority Registers (§4.3.11), a byte per ID.
    pub const GICD_IPRIORITYR: u32 = 0x400;
    /// Interrupt Processor Targets Registers (§4.3.12), a byte per ID.
    pub const GICD_ITARGETSR: u32 = 0x800;
    /// Interrupt Configuration Registers (§4.3.13), two bits per ID.
    pub const GICD_ICFGR: u32 = 0xc00;
    /// Non-secure Access Control Registers (§4.3.14); not implemented (reads 0, writes
    /// ignored), like the implementation-defined block before them.
    pub const GICD_NSACR: u32 = 0xe00;
    /// Software Generated Interrupt Register (§4.3.15), word writes only.
    pub const GICD_SGIR: u32 = 0xf00;
    /// SGI Clear-Pending Registers (§4.3.16), a byte per SGI: its source CPUs.
    pub const GICD_CPENDSGIR: u32 = 0xf10;
    /// SGI Set-Pending Registers (§4.3.17), a byte per SGI: its source CPUs.
    pub const GICD_SPENDSGIR: u32 = 0xf20;
    /// The end of `GICD_SPENDSGIR`.
    pub const GICD_SPENDSGIR_END: u32 = 0xf30;
    /// The first identification register, Peripheral ID4 (Table 4-1): twelve words, the
    /// peripheral IDs 4..7 and 0..3 then the component IDs, up to the end of the window.
    pub const GICD_PIDR4: u32 = 0xfd0;
    /// The size of the distributor's register window.
    pub const DIST_END: u32 = 0x1000;

    /// CPU Interface Control Register (§4.4.1).
    pub const GICC_CTLR: u32 = 0x00;
    /// Interrupt Priority Mask Register (§4.4.2).
    pub const GICC_PMR: u32 = 0x04;
    /// Binary Point Register (§4.4.3).
    pub const GICC_BPR: u32 = 0x08;
    /// Interrupt Acknowledge Register (§4.4.4): reading it acknowledges.
    pub const GICC_IAR: u32 = 0x0c;
    /// End of Interrupt Register (§4.4.5).
    pub const GICC_EOIR: u32 = 0x10;
    /// Running Priority Register (§4.4.6).
    pub const GICC_RPR: u32 = 0x14;
    /// Highest Priority Pending Interrupt Register (§4.4.7).
    pub const GICC_HPPIR: u32 = 0x18;
    /// Aliased Binary Point Register (§4.4.8), for group 1.
    pub const GICC_ABPR: u32 = 0x1c;
    /// Active Priorities Registers (§4.4.12, GICv2), four words.
    pub const GICC_APR: u32 = 0xd0;
    /// Non-secure Active Priorities Registers (§4.4.13, GICv2), four words.
    pub const GICC_NSAPR: u32 = 0xe0;
    /// The end of `GICC_NSAPR`.
    pub const GICC_NSAPR_END: u32 = 0xf0;
    /// CPU Interface Identification Register (§4.4.14).
    pub const GICC_IIDR: u32 = 0xfc;
    /// Deactivate Interrupt Register (§4.4.15, GICv2).
    pub const GICC_DIR: u32 = 0x1000;
}
use regs::*;

/// `GICD_IIDR`, and the low half of `GICC_IIDR`: implementer ARM (JEP106 code 0x3b after 4
/// continuation codes), revision and product 0.
const IIDR_ARM: u32 = 0x43b;

/// The distributor registers with one bit per interrupt ID (§4.3.4–§4.3.10).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum BitRegister {
    Group,
    SetEnable,
    ClearEnable,
    SetPending,
    ClearPending,
    SetActive,
    ClearActive,
}

/// Which bit-per-ID register distributor offset `offset` is in, and the ID of bit 0 of its
/// byte; `None` if that ID is not below `num_irqs` or `offset` is in no such register.
fn bit_register(offset: u32, num_irqs: usize) -> Option<(BitRegister, usize)> {
    let (reg, base) = match offset {
        GICD_IGROUPR..GICD_ISENABLER => (BitRegister::Group, GICD_IGROUPR),
        GICD_ISENABLER..GICD_ICENABLER => (BitRegister::SetEnable, GICD_ISENABLER),
        GICD_ICENABLER..GICD_ISPENDR => (BitRegister::ClearEnable, GICD_ICENABLER),
        GICD_ISPENDR..GICD_ICPENDR => (BitRegister::SetPending, GICD_ISPENDR),
        GICD_ICPENDR..GICD_ISACTIVER => (BitRegister::ClearPending, GICD_ICPENDR),
        GICD_ISACTIVER..GICD_ICACTIVER => (BitRegister::SetActive, GICD_ISACTIVER),
        GICD_ICACTIVER..GICD_IPRIORITYR => (BitRegister::ClearActive, GICD_ICACTIVER),
        _ => return None,
    };
    let irq = ((offset - base) * 8) as usize;
    (irq < num_irqs).then_some((reg, irq))
}

/// Which architecture version the GIC implements.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum GicVersion {
    /// GICv1, as in the Cortex-A9 MPCore: 256-byte CPU interface.
    V1,
    /// GICv2, as in the Cortex-A15 MPCore: 8 KiB CPU interface with `GICC_DIR`, split
    /// priority drop and deactivation, active-state set/clear registers.
    V2,
}

/// The shape of one GIC.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct GicConfig {
    /// The architecture version, which decides the CPU interface's size and registers.
    pub version: GicVersion,
    /// CPUs attached (1..=4).
    pub num_cpus: usize,
    /// Interrupt IDs implemented, including the 32 private ones; a multiple of 32, at most 256.
    pub num_irqs: usize,
    /// Implemented priority bits (4..=8); the low `8 - priority_bits` bits of every priority
    /// read as zero.
    pub priority_bits: u8,
    /// Whether the GIC has the Security Extensions (interrupt groups on a GICv1,
    /// `GICD_TYPER.SecurityExtn`). Accesses are always Secure.
    pub security_extensions: bool,
}

impl GicConfig {
    /// The Cortex-A9 MPCore's GIC as QEMU's vexpress-a9 has it: GICv1, 96 interrupt IDs,
    /// 5 priority bits, Security Extensions.
    pub fn cortex_a9(num_cpus: usize) -> Self {
        GicConfig {
            version: GicVersion::V1,
            num_cpus,
            num_irqs: 96,
            priority_bits: 5,
            security_extensions: true,
        }
    }

    /// The Cortex-A15 MPCore's GIC as QEMU's vexpress-a15 has it: GICv2, 160 interrupt IDs,
    /// 8 priority bits, Security Extensions.
    pub fn cortex_a15(num_cpus: usize) -> Self {
        GicConfig {
            version: GicVersion::V2,
            num_cpus,
            num_irqs: 160,
            priority_bits: 8,
            security_extensions: true,
        }
    }

    /// E.g. "GICv1 with 2 CPUs, 96 interrupt IDs, 5 priority bits and the Security
    /// Extensions", for messages.
    fn describe(&self) -> String {
        format!(
            "GICv{} with {} CPU{}, {} interrupt IDs, {} priority bits and {} Security Extensions",
            match self.version {
                GicVersion::V1 => 1,
                GicVersion::V2 => 2,
            },
            self.num_cpus,
            if self.num_cpus == 1 { "" } else { "s" },
            self.num_irqs,
            self.priority_bits,
            if self.security_extensions { "the" } else { "no" }
        )
    }

    fn validate(&self) -> Result<(), DeviceError> {
        if self.num_cpus == 0 || self.num_cpus > MAX_CPUS {
            return Err(DeviceError::GicCpus(self.num_cpus));
        }
        if self.num_irqs < NR_PRIVATE || self.num_irqs % 32 != 0 || self.num_irqs > armvex_bus::irq::MAX_IRQ_IDS {
            return Err(DeviceError::GicInterrupts(self.num_irqs));
        }
        if !(4..=8).contains(&self.priority_bits) {
            return Err(DeviceError::GicPriorityBits(self.priority_bits));
        }
        Ok(())
    }
}

/// The distributor's state for one interrupt ID. Each field is a mask of CPUs (bit n = CPU n):
/// for private interrupts only the owning CPU's bit is used, shared interrupts set all bits.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
struct IrqState {
    enabled: u8,
    pending: u8,
    active: u8,
    /// The input line is high.
    level: u8,
    /// In group 1.
    group: u8,
    /// Edge-triggered (else level-sensitive).
    edge: bool,
}

/// The state of one CPU interface.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
struct CpuInterface {
    ctlr: u32,
    priority_mask: u8,
    bpr: u8,
    abpr: u8,
    /// Group priority of the highest active interrupt, or `IDLE_PRIORITY`.
    running_priority: u16,
    /// The interrupt `GICC_HPPIR`/`GICC_IAR` would return (computed by `update`).
    current_pending: u32,
    /// Active priority registers: one bit per preemption level with an active interrupt.
    apr: [u32; NR_APRS],
    nsapr: [u32; NR_APRS],
}

impl Default for CpuInterface {
    fn default() -> Self {
        CpuInterface {
            ctlr: 0,
            priority_mask: 0,
            bpr: 0,
            abpr: 1,
            running_priority: IDLE_PRIORITY,
            current_pending: SPURIOUS,
            apr: [0; NR_APRS],
            nsapr: [0; NR_APRS],
        }
    }
}

/// What a [`Gic`] saves (see the module documentation), inside its MPCore device's state.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct GicState {
    /// The configuration of the GIC saved, to refuse a state from a different one.
    config: GicConfig,
    ctlr: u32,
    irqs: Vec<IrqState>,
    private_priority: [[u8; MAX_CPUS]; NR_PRIVATE],
    shared_priority: Vec<u8>,
    targets: Vec<u8>,
    sgi_sources: [[u8; MAX_CPUS]; NR_SGIS],
    cpus: [CpuInterface; MAX_CPUS],
}

/// A Generic Interrupt Controller (distributor and CPU interfaces). Not a bus device by itself:
/// the MPCore devices in [`crate::mpcore`] own one and route their register windows to it.
#[derive(Clone, Debug)]
pub struct Gic {
    config: GicConfig,
    /// Mask with one bit per CPU.
    all_cpus: u8,
    /// `GICD_CTLR`.
    ctlr: u32,
    irqs: Vec<IrqState>,
    /// Priorities of the private interrupts, per CPU.
    private_priority: [[u8; MAX_CPUS]; NR_PRIVATE],
    /// Priorities of the shared interrupts (index: ID - 32).
    shared_priority: Vec<u8>,
    /// `GICD_ITARGETSR` of each shared interrupt (entries below 32 unused).
    targets: Vec<u8>,
    /// For each SGI and target CPU, the mask of CPUs that sent it and are not yet acknowledged.
    sgi_sources: [[u8; MAX_CPUS]; NR_SGIS],
    cpus: [CpuInterface; MAX_CPUS],
    /// How often each interrupt ID was acknowledged (`GICC_IAR`): a statistic for inspectors,
    /// not state (never saved, never read by the model).
    acks: Vec<u64>,
}

/// One interrupt ID as an inspector shows it (see [`Gic::line`]). Each mask has one bit per
/// CPU: for private interrupts, that CPU's copy.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct GicLine {
    /// Enabled (`GICD_ISENABLER`).
    pub enabled: u8,
    /// Pending: latched, or a level-sensitive line held high.
    pub pending: u8,
    /// Active: acknowledged and not yet ended.
    pub active: u8,
    /// The input line is high.
    pub level: u8,
    /// Edge-triggered (else level-sensitive, `GICD_ICFGR`).
    pub edge: bool,
    /// `GICD_ITARGETSR` (shared interrupts; 0 for private ones).
    pub targets: u8,
    /// Priority (CPU 0's copy for private interrupts).
    pub priority: u8,
    /// Times acknowledged through `GICC_IAR` since the GIC was built.
    pub acknowledged: u64,
}

impl Gic {
    /// Interrupt `id` as an inspector shows it (read-only; `None` past the last ID).
    pub fn line(&self, id: usize) -> Option<GicLine> {
        let s = self.irqs.get(id)?;
        Some(GicLine {
            enabled: s.enabled,
            pending: s.pending,
            active: s.active,
            level: s.level,
            edge: s.edge,
            targets: if id < NR_PRIVATE { 0 } else { self.targets[id] },
            priority: self.priority(id, 0),
            acknowledged: self.acks.get(id).copied().unwrap_or(0),
        })
    }

    /// A GIC in its reset state. Fails if the configuration is impossible.
    pub fn new(config: GicConfig) -> Result<Self, DeviceError> {
        config.validate()?;
        let all_cpus = ((1u32 << config.num_cpus) - 1) as u8;
        let mut irqs = vec![IrqState::default(); config.num_irqs];
        for s in irqs.iter_mut().take(NR_SGIS) {
            // SGIs are always enabled and always edge-triggered.
            s.enabled = all_cpus;
            s.edge = true;
        }
        // On a uniprocessor GIC every interrupt goes to the only CPU (ITARGETSR is RAZ/WI).
        let default_target = if config.num_cpus == 1 { 1 } else { 0 };
        Ok(Gic {
            all_cpus,
            ctlr: 0,
            irqs,
            private_priority: [[0; MAX_CPUS]; NR_PRIVATE],
            shared_priority: vec![0; config.num_irqs - NR_PRIVATE],
            targets: vec![default_target; config.num_irqs],
            sgi_sources: [[0; MAX_CPUS]; NR_SGIS],
            cpus: [CpuInterface::default(); MAX_CPUS],
            acks: vec![0; config.num_irqs],
            config,
        })
    }

    /// The configuration this GIC was built with.
    pub fn config(&self) -> &GicConfig {
        &self.config
    }

    /// Everything a guest can see of this GIC or that decides what it does next.
    pub(crate) fn state(&self) -> GicState {
        let Gic {
            config,
            all_cpus: _, // follows from the configuration
            ctlr,
            irqs,
            private_priority,
            shared_priority,
            targets,
            sgi_sources,
            cpus,
            acks: _, // a statistic, not state
        } = self;
        GicState {
            config: config.clone(),
            ctlr: *ctlr,
            irqs: irqs.clone(),
            private_priority: *private_priority,
            shared_priority: shared_priority.clone(),
            targets: targets.clone(),
            sgi_sources: *sgi_sources,
            cpus: *cpus,
        }
    }

    /// Put back a state saved from a GIC with the same configuration. `device` names the
    /// device that owns this GIC in the error, which is given, and nothing changed, for a
    /// state from a GIC built differently or one this GIC could never have reached: tables of
    /// the wrong length, state bits of CPUs it does not have, a pending interrupt it does not
    /// have, a running priority value above idle (0x100).
    pub(crate) fn restore(&mut self, state: GicState, device: &str) -> Result<(), StateError> {
        let GicState {
            config,
            ctlr,
            irqs,
            private_priority,
            shared_priority,
            targets,
            sgi_sources,
            cpus,
        } = state;
        if config != self.config {
            return Err(state_error(
                device,
                format_args!(
                    "is from a {}; this one is a {}",
                    config.describe(),
                    self.config.describe()
                ),
            ));
        }
        let n = self.num_irqs();
        if irqs.len() != n || shared_priority.len() != n - NR_PRIVATE || targets.len() != n {
            return Err(state_error(
                device,
                format_args!(
                    "has GIC tables of {}, {} and {} entries for {n} interrupt IDs",
                    irqs.len(),
                    shared_priority.len() + NR_PRIVATE,
                    targets.len()
                ),
            ));
        }
        let others = !self.all_cpus;
        for (id, (s, &target)) in irqs.iter().zip(&targets).enumerate() {
            let stray = (s.enabled | s.pending | s.active | s.level | s.group | target) & others;
            if stray != 0 {
                return Err(state_error(
                    device,
                    format_args!(
                        "has GIC interrupt {id} set for CPUs {stray:#06b}, which a GIC of {} CPUs does not have",
                        self.config.num_cpus
                    ),
                ));
            }
        }
        for (cpu, iface) in cpus.iter().enumerate() {
            let pending = iface.current_pending;
            if pending != SPURIOUS && pending as usize >= n {
                return Err(state_error(
                    device,
                    format_args!("has GIC interrupt {pending} pending for CPU {cpu}; the GIC has {n} IDs"),
                ));
            }
            if iface.running_priority > IDLE_PRIORITY {
                return Err(state_error(
                    device,
                    format_args!(
                        "has running priority {:#x} on GIC CPU interface {cpu}",
                        iface.running_priority
                    ),
                ));
            }
        }
        self.ctlr = ctlr;
        self.irqs = irqs;
        self.private_priority = private_priority;
        self.shared_priority = shared_priority;
        self.targets = targets;
        self.sgi_sources = sgi_sources;
        self.cpus = cpus;
        Ok(())
    }

    fn has_groups(&self) -> bool {
        self.config.version == GicVersion::V2 || self.config.security_extensions
    }

    /// How many interrupt IDs this GIC has.
    pub fn num_irqs(&self) -> usize {
        self.config.num_irqs
    }

    /// Mask clearing unimplemented priority bits.
    fn priority_bits_mask(&self) -> u8 {
        (0xffu32 << (8 - u32::from(self.config.priority_bits))) as u8
    }

    fn priority(&self, irq: usize, cpu: usize) -> u8 {
        if irq < NR_PRIVATE {
            self.private_priority[irq][cpu]
        } else {
            self.shared_priority[irq - NR_PRIVATE]
        }
    }

    fn set_priority(&mut self, irq: usize, cpu: usize, value: u8) {
        let value = value & self.priority_bits_mask();
        if irq < NR_PRIVATE {
            self.private_priority[irq][cpu] = value;
        } else {
            self.shared_priority[irq - NR_PRIVATE] = value;
        }
    }

    /// Pending for the CPUs in `mask`: latched pending, or a level-sensitive line held high.
    fn is_pending(&self, irq: usize, mask: u8) -> bool {
        let s = &self.irqs[irq];
        s.pending & mask != 0 || (!s.edge && s.level & mask != 0)
    }

    fn in_group1(&self, irq: usize, cpu: usize) -> bool {
        self.irqs[irq].group & (1 << cpu) != 0
    }

    /// The CPU mask an interrupt's state bits use for an access by `cpu`.
    fn bank_mask(&self, irq: usize, cpu: usize) -> u8 {
        if irq < NR_PRIVATE { 1 << cpu } else { self.all_cpus }
    }

    /// Clamp a CPU number from the bus to one this GIC has.
    fn cpu_index(&self, cpu: usize) -> usize {
        if cpu < self.config.num_cpus {
            cpu
        } else {
            tracing::warn!("GIC access from CPU {cpu}, which it does not serve; treated as CPU 0");
            0
        }
    }

    // ---------------------------------------------------------------------------------------
    // Interrupt lines and CPU outputs

    /// Pick up line level changes from the bus and recompute the CPUs' IRQ/FIQ inputs.
    pub fn lines_changed(&mut self, lines: &mut InterruptLines) {
        for irq in NR_PRIVATE..self.num_irqs() {
            let level = lines.spi_level(irq as u32);
            if level != (self.irqs[irq].level != 0) {
                let target = self.targets[irq];
                self.set_line(irq, level, self.all_cpus, target);
            }
        }
        for cpu in 0..self.config.num_cpus {
            let cm = 1u8 << cpu;
            for irq in NR_SGIS..NR_PRIVATE {
                let level = lines.ppi_level(cpu, irq as u32);
                if level != (self.irqs[irq].level & cm != 0) {
                    self.set_line(irq, level, cm, cm);
                }
            }
        }
        self.update(lines);
    }

    /// An input line changed level: `cm` are the CPUs whose copy of the line it is, `target`
    /// the CPUs an edge makes it pending for.
    fn set_line(&mut self, irq: usize, level: bool, cm: u8, target: u8) {
        let s = &mut self.irqs[irq];
        if level {
            s.level |= cm;
            if s.edge {
                s.pending |= target;
            }
        } else {
            s.level &= !cm;
        }
    }

    /// Recompute, for every CPU, the best pending interrupt and the IRQ/FIQ inputs
    /// (QEMU's `gic_update`).
    fn update(&mut self, lines: &mut InterruptLines) {
        for cpu in 0..self.config.num_cpus {
            let cm = 1u8 << cpu;
            self.cpus[cpu].current_pending = SPURIOUS;
            let enabled = CTLR_EN_GRP0 | CTLR_EN_GRP1;
            if self.ctlr & enabled == 0 || self.cpus[cpu].ctlr & enabled == 0 {
                lines.set_cpu_inputs(cpu, false, false);
                continue;
            }
            let mut best_irq = SPURIOUS;
            let mut best_prio: u16 = IDLE_PRIORITY;
            for irq in 0..self.num_irqs() {
                let s = &self.irqs[irq];
                if s.enabled & cm != 0
                    && self.is_pending(irq, cm)
                    && s.active & cm == 0
                    && (irq < NR_PRIVATE || self.targets[irq] & cm != 0)
                {
                    let prio = u16::from(self.priority(irq, cpu));
                    if prio < best_prio {
                        best_prio = prio;
                        best_irq = irq as u32;
                    }
                }
            }
            let (mut irq_level, mut fiq_level) = (false, false);
            let iface = self.cpus[cpu];
            if best_prio < u16::from(iface.priority_mask) {
                self.cpus[cpu].current_pending = best_irq;
                if best_prio < iface.running_priority {
                    let group = u32::from(self.in_group1(best_irq as usize, cpu));
                    if self.ctlr & (1 << group) != 0 && iface.ctlr & (1 << group) != 0 {
                        if group == 0 && iface.ctlr & CPU_CTLR_FIQ_EN != 0 {
                            fiq_level = true;
                        } else {
                            irq_level = true;
                        }
                    }
                }
            }
            if irq_level != lines.cpu_irq(cpu) || fiq_level != lines.cpu_fiq(cpu) {
                tracing::trace!(
                    target: "gic",
                    "cpu{cpu}: IRQ {} FIQ {} (best pending {best_irq})",
                    u8::from(irq_level),
                    u8::from(fiq_level)
                );
            }
            lines.set_cpu_inputs(cpu, irq_level, fiq_level);
        }
    }

    // ---------------------------------------------------------------------------------------
    // Distributor

    /// Read `size` bytes at `offset` in the distributor window (0..0x1000) as CPU `cpu`.
    pub fn dist_read(&self, cpu: usize, offset: u32, size: AccessSize) -> u32 {
        let cpu = self.cpu_index(cpu);
        (0..size.bytes()).fold(0, |acc, i| {
            acc | u32::from(self.dist_read_byte(cpu, offset + i)) << (8 * i)
        })
    }

    /// `GICD_TYPER`: ITLinesNumber `[4:0]` (IDs / 32 - 1), CPUNumber `[7:5]`, SecurityExtn `[10]`.
    fn typer(&self) -> u32 {
        let lines = (self.num_irqs() / 32 - 1) as u32;
        let cpus = (self.config.num_cpus - 1) as u32;
        lines | (cpus << 5) | (u32::from(self.config.security_extensions) << 10)
    }

    fn dist_read_byte(&self, cpu: usize, offset: u32) -> u8 {
        let bad = || {
            tracing::debug!("GIC distributor: read of unknown offset {offset:#x}");
            0
        };
        // For the byte-per-ID registers: the ID of the byte, if the GIC has it.
        let byte_irq = |base: u32| Some((offset - base) as usize).filter(|&irq| irq < self.num_irqs());
        match offset {
            GICD_CTLR..GICD_IIDR_END => {
                let word = match offset & !3 {
                    GICD_CTLR => self.ctlr,
                    GICD_TYPER => self.typer(),
                    _ => IIDR_ARM,
                };
                (word >> (8 * (offset & 3))) as u8
            }
            GICD_IGROUPR..GICD_ISENABLER if !self.has_groups() => 0,
            GICD_ICACTIVER..GICD_IPRIORITYR if self.config.version != GicVersion::V2 => bad(),
            GICD_IGROUPR..GICD_IPRIORITYR => match bit_register(offset, self.num_irqs()) {
                Some((reg, irq)) => self.read_bits(cpu, reg, irq),
                None => bad(),
            },
            GICD_IPRIORITYR..GICD_ITARGETSR => match byte_irq(GICD_IPRIORITYR) {
                Some(irq) => self.priority(irq, cpu),
                None => bad(),
            },
            GICD_ITARGETSR..GICD_ICFGR => match byte_irq(GICD_ITARGETSR) {
                // Private interrupts target the reading CPU only.
                Some(irq) if irq < NR_PRIVATE => 1 << cpu,
                // Uniprocessor: RAZ/WI.
                Some(_) if self.config.num_cpus == 1 => 0,
                Some(irq) => self.targets[irq],
                None => bad(),
            },
            GICD_ICFGR..GICD_NSACR => {
                // Two bits per ID, of which the upper one is the trigger mode (1: edge).
                let irq = ((offset - GICD_ICFGR) * 4) as usize;
                if irq >= self.num_irqs() {
                    return bad();
                }
                (0..4).fold(0u8, |a, i| a | (u8::from(self.irqs[irq + i].edge) << (2 * i + 1)))
            }
            // The source CPUs of each SGI pending here, through either register.
            GICD_CPENDSGIR..GICD_SPENDSGIR_END => {
                let irq = ((offset - GICD_CPENDSGIR) % NR_SGIS as u32) as usize;
                self.sgi_sources[irq][cpu]
            }
            GICD_PIDR4..DIST_END => {
                if offset & 3 != 0 {
                    return 0;
                }
                let id: [u8; 12] = match self.config.version {
                    GicVersion::V1 => [0x04, 0, 0, 0, 0x90, 0xb3, 0x1b, 0x00, 0x0d, 0xf0, 0x05, 0xb1],
                    GicVersion::V2 => [0x04, 0, 0, 0, 0x90, 0xb4, 0x2b, 0x00, 0x0d, 0xf0, 0x05, 0xb1],
                };
                id[((offset - GICD_PIDR4) >> 2) as usize]
            }
            _ => bad(),
        }
    }

    /// The byte of bit-per-ID register `reg` that starts at interrupt `irq`, as CPU `cpu` sees
    /// it (its own copy of the private interrupts' state).
    fn read_bits(&self, cpu: usize, reg: BitRegister, irq: usize) -> u8 {
        let cm = 1u8 << cpu;
        let mask = self.bank_mask(irq, cpu);
        let bit = |i: usize| {
            let s = &self.irqs[i];
            match reg {
                BitRegister::Group => s.group & cm != 0,
                BitRegister::SetEnable | BitRegister::ClearEnable => s.enabled & cm != 0,
                BitRegister::SetPending | BitRegister::ClearPending => self.is_pending(i, mask),
                BitRegister::SetActive | BitRegister::ClearActive => s.active & mask != 0,
            }
        };
        (0..8).fold(0u8, |a, i| a | (u8::from(bit(irq + i)) << i))
    }

    /// Write `size` bytes of `value` at `offset` in the distributor window as CPU `cpu`.
    pub fn dist_write(&mut self, cpu: usize, offset: u32, size: AccessSize, value: u32, lines: &mut InterruptLines) {
        let cpu = self.cpu_index(cpu);
        if offset == GICD_SGIR {
            if size == AccessSize::Word {
                self.send_sgi(cpu, value);
            } else {
                tracing::debug!("GIC: GICD_SGIR takes word writes only");
            }
        } else {
            for i in 0..size.bytes() {
                self.dist_write_byte(cpu, offset + i, (value >> (8 * i)) as u8);
            }
        }
        self.update(lines);
    }

    /// `GICD_SGIR`: raise SGI `value[3:0]` on the CPUs chosen by the target list filter.
    fn send_sgi(&mut self, cpu: usize, value: u32) {
        let irq = (value & 0xf) as usize;
        let me = 1u8 << cpu;
        let targets = match (value >> 24) & 3 {
            0 => (value >> 16) as u8 & self.all_cpus,
            1 => self.all_cpus & !me,
            2 => me,
            _ => self.all_cpus,
        };
        self.irqs[irq].pending |= targets;
        for target in 0..self.config.num_cpus {
            if targets & (1 << target) != 0 {
                self.sgi_sources[irq][target] |= me;
            }
        }
    }

    fn dist_write_byte(&mut self, cpu: usize, offset: u32, value: u8) {
        let bad = || tracing::debug!("GIC distributor: write of {value:#x} to unknown offset {offset:#x}");
        // For the byte-per-ID registers: the ID of the byte, if the GIC has it.
        let byte_irq = |base: u32| Some((offset - base) as usize).filter(|&irq| irq < self.num_irqs());
        match offset {
            // Only GICD_CTLR's low byte is writable: its other bytes are reserved, GICD_TYPER
            // and GICD_IIDR are read-only.
            GICD_CTLR..GICD_IIDR_END => {
                if offset == GICD_CTLR {
                    let mask = if self.has_groups() {
                        CTLR_EN_GRP0 | CTLR_EN_GRP1
                    } else {
                        CTLR_EN_GRP0
                    };
                    self.ctlr = u32::from(value) & mask;
                }
            }
            GICD_IGROUPR..GICD_ISENABLER if !self.has_groups() => {}
            GICD_ISACTIVER..GICD_IPRIORITYR if self.config.version != GicVersion::V2 => bad(),
            GICD_IGROUPR..GICD_IPRIORITYR => match bit_register(offset, self.num_irqs()) {
                Some((reg, irq)) => self.write_bits(cpu, reg, irq, value),
                None => bad(),
            },
            GICD_IPRIORITYR..GICD_ITARGETSR => match byte_irq(GICD_IPRIORITYR) {
                Some(irq) => self.set_priority(irq, cpu, value),
                None => bad(),
            },
            GICD_ITARGETSR..GICD_ICFGR => match byte_irq(GICD_ITARGETSR) {
                Some(irq) => self.set_targets(irq, value),
                None => bad(),
            },
            GICD_ICFGR..GICD_NSACR => {
                let irq = ((offset - GICD_ICFGR) * 4) as usize;
                if irq >= self.num_irqs() {
                    return bad();
                }
                // SGIs are always edge-triggered.
                let value = if irq < NR_SGIS { value | 0xaa } else { value };
                for i in 0..4 {
                    self.irqs[irq + i].edge = value & (2 << (2 * i)) != 0;
                }
            }
            GICD_CPENDSGIR..GICD_SPENDSGIR => {
                let irq = (offset - GICD_CPENDSGIR) as usize;
                self.sgi_sources[irq][cpu] &= !value;
                if self.sgi_sources[irq][cpu] == 0 {
                    self.irqs[irq].pending &= !(1 << cpu);
                }
            }
            GICD_SPENDSGIR..GICD_SPENDSGIR_END => {
                let irq = (offset - GICD_SPENDSGIR) as usize;
                self.irqs[irq].pending |= 1 << cpu;
                self.sgi_sources[irq][cpu] |= value;
            }
            _ => bad(),
        }
    }

    /// Write the byte of bit-per-ID register `reg` that starts at interrupt `irq` as CPU `cpu`:
    /// each bit set in `value` sets (or clears) that state of its interrupt. SGIs are always
    /// enabled, and made pending through `GICD_SGIR`/`GICD_SPENDSGIR` only.
    fn write_bits(&mut self, cpu: usize, reg: BitRegister, irq: usize, value: u8) {
        let mask = self.bank_mask(irq, cpu);
        let sgis = irq < NR_SGIS;
        for i in 0..8 {
            let bit = value & (1 << i) != 0;
            let s = &mut self.irqs[irq + i];
            match reg {
                BitRegister::Group if bit => s.group |= mask,
                BitRegister::Group => s.group &= !mask,
                BitRegister::SetEnable if bit || sgis => s.enabled |= mask,
                BitRegister::ClearEnable if bit && !sgis => s.enabled &= !mask,
                BitRegister::SetPending if bit && !sgis => {
                    s.pending |= if irq < NR_PRIVATE {
                        1 << cpu
                    } else {
                        self.targets[irq + i]
                    }
                }
                // As QEMU: clears the pending state for every CPU.
                BitRegister::ClearPending if bit && !sgis => s.pending = 0,
                BitRegister::SetActive if bit => s.active |= mask,
                BitRegister::ClearActive if bit => s.active &= !mask,
                _ => {}
            }
        }
    }

    /// `GICD_ITARGETSR` of `irq`: private targets are fixed, and a uniprocessor GIC ignores
    /// these writes. A pending interrupt moves with its target.
    fn set_targets(&mut self, irq: usize, value: u8) {
        if irq >= NR_PRIVATE && self.config.num_cpus > 1 {
            let targets = value & self.all_cpus;
            self.targets[irq] = targets;
            if self.irqs[irq].pending != 0 {
                self.irqs[irq].pending = targets;
            }
        }
    }

    // ---------------------------------------------------------------------------------------
    // CPU interface

    /// The interrupt `GICC_HPPIR` reports: the best pending one, hidden as 1022 if it is in
    /// group 1 and `GICC_CTLR.AckCtl` is clear.
    fn current_pending_irq(&self, cpu: usize) -> u32 {
        let irq = self.cpus[cpu].current_pending;
        if irq < MAX_IRQ
            && self.has_groups()
            && self.in_group1(irq as usize, cpu)
            && self.cpus[cpu].ctlr & CPU_CTLR_ACK_CTL == 0
        {
            return 1022;
        }
        irq
    }

    /// The priority of `irq` with the sub-priority bits (named by the binary point) cleared.
    fn group_priority(&self, cpu: usize, irq: usize) -> u16 {
        let iface = &self.cpus[cpu];
        let bpr = if self.has_groups() && iface.ctlr & CPU_CTLR_CBPR == 0 && self.in_group1(irq, cpu) {
            iface.abpr.saturating_sub(1)
        } else {
            iface.bpr
        };
        let mask = 0xffu32 << ((u32::from(bpr) & 7) + 1);
        (u32::from(self.priority(irq, cpu)) & mask) as u16
    }

    /// Make `irq` active on `cpu` and raise the running priority to its group priority.
    fn activate(&mut self, cpu: usize, irq: usize) {
        let prio = self.group_priority(cpu, irq);
        let level = usize::from(prio >> 1);
        let (reg, bit) = (level / 32, level % 32);
        let group1 = self.has_groups() && self.in_group1(irq, cpu);
        let iface = &mut self.cpus[cpu];
        if let Some(r) = if group1 {
            iface.nsapr.get_mut(reg)
        } else {
            iface.apr.get_mut(reg)
        } {
            *r |= 1 << bit;
        }
        iface.running_priority = prio;
        self.irqs[irq].active |= 1 << cpu;
    }

    /// Running priority from the active priority registers (the lowest set bit wins).
    fn priority_from_aprs(&self, cpu: usize) -> u16 {
        let iface = &self.cpus[cpu];
        for i in 0..NR_APRS {
            let apr = iface.apr[i] | iface.nsapr[i];
            if apr != 0 {
                return ((i as u32 * 32 + apr.trailing_zeros()) << 1) as u16;
            }
        }
        IDLE_PRIORITY
    }

    /// Drop the running priority of `cpu` (the most urgent active level of `group`).
    fn drop_priority(&mut self, cpu: usize, group1: bool) {
        let iface = &mut self.cpus[cpu];
        let aprs = if group1 { &mut iface.nsapr } else { &mut iface.apr };
        if let Some(apr) = aprs.iter_mut().find(|a| **a != 0) {
            *apr &= *apr - 1;
        }
        self.cpus[cpu].running_priority = self.priority_from_aprs(cpu);
    }

    /// `GICC_IAR`: acknowledge the best pending interrupt. For an SGI the sending CPU is in
    /// bits `[12:10]`.
    fn acknowledge(&mut self, cpu: usize) -> u32 {
        let irq = self.current_pending_irq(cpu);
        if irq >= MAX_IRQ {
            return irq;
        }
        let id = irq as usize;
        if u16::from(self.priority(id, cpu)) >= self.cpus[cpu].running_priority {
            return SPURIOUS;
        }
        self.activate(cpu, id);
        if let Some(n) = self.acks.get_mut(id) {
            *n += 1;
        }
        let cm = 1u8 << cpu;
        if id < NR_SGIS {
            let sources = self.sgi_sources[id][cpu];
            let source = if sources == 0 { 0 } else { sources.trailing_zeros() };
            self.sgi_sources[id][cpu] &= !(1 << source);
            if self.sgi_sources[id][cpu] == 0 {
                self.irqs[id].pending &= !cm;
            }
            irq | ((source & 7) << 10)
        } else {
            // A level-sensitive interrupt whose line is still high stays pending.
            self.irqs[id].pending &= !cm;
            irq
        }
    }

    fn eoi_split(&self, cpu: usize) -> bool {
        self.config.version == GicVersion::V2 && self.cpus[cpu].ctlr & CPU_CTLR_EOIMODE != 0
    }

    /// `GICC_EOIR`: end of interrupt `value[9:0]`.
    fn end_of_interrupt(&mut self, cpu: usize, value: u32) {
        let irq = (value & 0x3ff) as usize;
        if irq >= self.num_irqs() {
            // The spurious ID, or one that does not exist: ignored.
            return;
        }
        if self.cpus[cpu].running_priority == IDLE_PRIORITY {
            return;
        }
        let group1 = self.has_groups() && self.in_group1(irq, cpu);
        self.drop_priority(cpu, group1);
        if !self.eoi_split(cpu) {
            self.irqs[irq].active &= !(1 << cpu);
        }
    }

    /// `GICC_DIR` (GICv2): deactivate, when priority drop and deactivation are split.
    fn deactivate(&mut self, cpu: usize, value: u32) {
        let irq = (value & 0x3ff) as usize;
        if irq >= self.num_irqs() {
            return;
        }
        if !self.eoi_split(cpu) {
            tracing::debug!("GIC: GICC_DIR written while GICC_CTLR.EOImode is clear; ignored");
            return;
        }
        self.irqs[irq].active &= !(1 << cpu);
    }

    /// Read the register at `offset` in CPU `cpu`'s interface window (registers are 32 bits
    /// wide and decoded by exact offset, whatever the access size). Reading `GICC_IAR`
    /// acknowledges an interrupt, so this may change the CPU inputs.
    pub fn cpu_read(&mut self, cpu: usize, offset: u32, _size: AccessSize, lines: &mut InterruptLines) -> u32 {
        let cpu = self.cpu_index(cpu);
        let iface = self.cpus[cpu];
        let v2 = self.config.version == GicVersion::V2;
        match offset {
            GICC_CTLR => iface.ctlr,
            GICC_PMR => u32::from(iface.priority_mask),
            GICC_BPR => u32::from(iface.bpr),
            GICC_IAR => {
                let v = self.acknowledge(cpu);
                tracing::trace!(target: "gic", "cpu{cpu}: acknowledge -> {v:#x}");
                self.update(lines);
                v
            }
            GICC_RPR => u32::from(iface.running_priority.min(0xff)),
            GICC_HPPIR => self.current_pending_irq(cpu),
            GICC_ABPR => {
                if self.has_groups() {
                    u32::from(iface.abpr)
                } else {
                    0
                }
            }
            GICC_APR..GICC_NSAPR if offset & 3 == 0 => {
                if v2 {
                    iface.apr[((offset - GICC_APR) / 4) as usize]
                } else {
                    0
                }
            }
            GICC_NSAPR..GICC_NSAPR_END if offset & 3 == 0 => {
                if v2 && self.has_groups() {
                    iface.nsapr[((offset - GICC_NSAPR) / 4) as usize]
                } else {
                    0
                }
            }
            // Architecture version in [19:16].
            GICC_IIDR => (if v2 { 2 } else { 1 } << 16) | IIDR_ARM,
            _ => {
                tracing::debug!("GIC CPU interface: read of unknown offset {offset:#x}");
                0
            }
        }
    }

    /// Write `value` at `offset` in CPU `cpu`'s interface window.
    pub fn cpu_write(&mut self, cpu: usize, offset: u32, _size: AccessSize, value: u32, lines: &mut InterruptLines) {
        let cpu = self.cpu_index(cpu);
        let v2 = self.config.version == GicVersion::V2;
        match offset {
            GICC_CTLR => {
                let mask = match (v2, self.config.security_extensions) {
                    (false, false) => 0x1,
                    (false, true) => 0x1f,
                    (true, false) => 0x21f,
                    (true, true) => 0x61f,
                };
                self.cpus[cpu].ctlr = value & mask;
            }
            GICC_PMR => self.cpus[cpu].priority_mask = value as u8 & self.priority_bits_mask(),
            GICC_BPR => self.cpus[cpu].bpr = (value & 7) as u8,
            GICC_EOIR => {
                tracing::trace!(target: "gic", "cpu{cpu}: end of interrupt {value:#x}");
                self.end_of_interrupt(cpu, value);
            }
            GICC_ABPR => {
                if self.has_groups() {
                    self.cpus[cpu].abpr = ((value & 7) as u8).max(1);
                }
            }
            GICC_APR..GICC_NSAPR if offset & 3 == 0 => {
                if v2 {
                    self.cpus[cpu].apr[((offset - GICC_APR) / 4) as usize] = value;
                    self.cpus[cpu].running_priority = self.priority_from_aprs(cpu);
                }
            }
            GICC_NSAPR..GICC_NSAPR_END if offset & 3 == 0 => {
                if v2 && self.has_groups() {
                    self.cpus[cpu].nsapr[((offset - GICC_NSAPR) / 4) as usize] = value;
                    self.cpus[cpu].running_priority = self.priority_from_aprs(cpu);
                }
            }
            GICC_DIR if v2 => self.deactivate(cpu, value),
            _ => {
                tracing::debug!("GIC CPU interface: write of {value:#x} to unknown offset {offset:#x}");
                return;
            }
        }
        self.update(lines);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use AccessSize::{Byte, Word};
    use armvex_bus::state;

    /// A GIC and its lines, with the Linux-style setup helpers.
    #[derive(Debug)]
    struct Rig {
        gic: Gic,
        lines: InterruptLines,
    }

    impl Rig {
        fn new(config: GicConfig) -> Self {
            Rig {
                gic: Gic::new(config).unwrap(),
                lines: InterruptLines::default(),
            }
        }
        fn a9(cpus: usize) -> Self {
            Self::new(GicConfig::cortex_a9(cpus))
        }
        fn a15(cpus: usize) -> Self {
            Self::new(GicConfig::cortex_a15(cpus))
        }
        fn dr(&self, cpu: usize, off: u32) -> u32 {
            self.gic.dist_read(cpu, off, Word)
        }
        fn dw(&mut self, cpu: usize, off: u32, v: u32) {
            self.gic.dist_write(cpu, off, Word, v, &mut self.lines);
        }
        fn cr(&mut self, cpu: usize, off: u32) -> u32 {
            self.gic.cpu_read(cpu, off, Word, &mut self.lines)
        }
        fn cw(&mut self, cpu: usize, off: u32, v: u32) {
            self.gic.cpu_write(cpu, off, Word, v, &mut self.lines);
        }
        /// Distributor and CPU interfaces on, priority mask open.
        fn enable(&mut self) {
            self.dw(0, GICD_CTLR, 1);
            for cpu in 0..self.gic.config.num_cpus {
                self.cw(cpu, GICC_PMR, 0xf0);
                self.cw(cpu, GICC_CTLR, 1);
            }
        }
        fn enable_irq(&mut self, cpu: usize, irq: u32) {
            self.dw(cpu, GICD_ISENABLER + 4 * (irq / 32), 1 << (irq % 32));
        }
        fn spi(&mut self, id: u32, level: bool) {
            self.lines.set_spi(id, level);
            self.gic.lines_changed(&mut self.lines);
        }
        fn ppi(&mut self, cpu: usize, id: u32, level: bool) {
            self.lines.set_ppi(cpu, id, level);
            self.gic.lines_changed(&mut self.lines);
        }
        fn irq(&self, cpu: usize) -> bool {
            self.lines.cpu_irq(cpu)
        }
        fn saved(&self) -> Vec<u8> {
            state::encode(&self.gic.state())
        }
        /// A GIC built like this one with `bytes` loaded, and the lines as the bus restores them.
        fn restored(&self, bytes: &[u8]) -> Result<Rig, StateError> {
            let mut gic = Gic::new(self.gic.config.clone()).unwrap();
            gic.restore(state::decode(bytes, "gic")?, "gic")?;
            Ok(Rig {
                gic,
                lines: self.lines.clone(),
            })
        }
        /// Everything readable without side effects, from every CPU: the distributor byte by
        /// byte, the CPU interface registers but GICC_IAR, and the IRQ/FIQ inputs.
        fn visible(&mut self) -> Vec<u32> {
            let mut v = Vec::new();
            for cpu in 0..self.gic.config.num_cpus {
                v.extend((0..DIST_END).map(|off| self.gic.dist_read(cpu, off, Byte)));
                let aprs = (GICC_APR..GICC_NSAPR_END).step_by(4);
                for off in [GICC_CTLR, GICC_PMR, GICC_BPR, GICC_RPR, GICC_HPPIR, GICC_ABPR]
                    .into_iter()
                    .chain(aprs)
                {
                    v.push(self.cr(cpu, off));
                }
                v.push(u32::from(self.lines.cpu_irq(cpu)));
                v.push(u32::from(self.lines.cpu_fiq(cpu)));
            }
            v
        }
    }

    /// A two-CPU GICv1 in use: CPU 1 handling SPI 40 (priority 0x80) with SGI 3 from CPU 0
    /// and its PPI 29 waiting to preempt it, CPU 0 with the edge of SPI 41 latched, SPI 44 in
    /// group 1, a binary point set.
    fn gicv1_in_use() -> Rig {
        let mut r = Rig::a9(2);
        r.enable();
        r.cw(0, 0x08, 2);
        r.dw(0, 0x084, 1 << 12);
        r.dw(0, 0xc08, 0b10 << 18);
        for id in [40, 41, 44] {
            r.enable_irq(0, id);
        }
        r.enable_irq(1, 29);
        r.dw(0, 0x428, 0x0000_4080);
        r.gic.dist_write(0, 0x828, Byte, 2, &mut r.lines);
        r.gic.dist_write(0, 0x829, Byte, 1, &mut r.lines);
        r.gic.dist_write(0, 0x82c, Byte, 3, &mut r.lines);
        r.spi(40, true);
        assert_eq!(r.cr(1, 0x0c), 40);
        r.spi(41, true);
        r.spi(41, false);
        r.dw(0, 0xf00, (0b10 << 16) | 3);
        r.ppi(1, 29, true);
        r
    }

    #[test]
    fn a_gicv1_in_use_survives_save_and_restore() {
        let mut a = gicv1_in_use();
        let saved = a.saved();
        let mut b = a.restored(&saved).unwrap();
        assert_eq!(b.gic.state(), a.gic.state());
        assert_eq!(b.visible(), a.visible());
        for r in [&mut a, &mut b] {
            assert!(r.irq(0) && r.irq(1));
            assert_eq!(r.cr(1, 0x14), 0x80, "CPU 1 runs at SPI 40's priority");
            assert_eq!(r.cr(1, 0x18), 3, "SGI 3 comes first");
            assert_eq!(r.cr(0, 0x18), 41);
            assert_eq!(r.gic.dist_read(1, 0xf23, Byte), 0b01, "SGI 3 from CPU 0");
            assert_eq!(r.dr(1, 0x304), 1 << 8, "SPI 40 active");
            assert_eq!(r.cr(0, 0x08), 2);
            // CPU 1 takes SGI 3, then PPI 29 once SGI 3 is over, then finishes SPI 40.
            assert_eq!(r.cr(1, 0x0c), 3);
            assert_eq!(r.cr(1, 0x0c), SPURIOUS, "priority 0 cannot be preempted");
            r.cw(1, 0x10, 3);
            assert_eq!(r.cr(1, 0x0c), 29);
            r.ppi(1, 29, false);
            r.cw(1, 0x10, 29);
            assert_eq!(r.cr(1, 0x14), 0x80);
            r.spi(40, false);
            r.cw(1, 0x10, 40);
            assert!(!r.irq(1));
            assert_eq!(r.cr(1, 0x14), 0xff);
            // CPU 0 takes the latched edge.
            assert_eq!(r.cr(0, 0x0c), 41);
            r.cw(0, 0x10, 41);
            assert!(!r.irq(0));
            // SPI 44 is group 1, which the CPU interfaces have not enabled.
            r.spi(44, true);
            assert!(!r.irq(0) && !r.irq(1));
            assert_eq!(r.cr(0, 0x18), 1022);
        }
        assert_eq!(b.gic.state(), a.gic.state());
        assert_eq!(b.visible(), a.visible());
    }

    #[test]
    fn a_gicv2_with_split_eoi_survives_save_and_restore() {
        let mut a = Rig::a15(1);
        a.dw(0, 0x000, 3);
        a.cw(0, 0x04, 0xff);
        a.cw(0, 0x00, 0b1111 | CPU_CTLR_EOIMODE);
        a.enable_irq(0, 50);
        a.enable_irq(0, 51);
        a.dw(0, 0x084, 1 << 19); // 51 in group 1
        a.dw(0, 0x430, 0x1020_0000); // 50: 0x20, 51: 0x10
        a.spi(50, true);
        assert!(a.lines.cpu_fiq(0));
        assert_eq!(a.cr(0, 0x0c), 50);
        a.cw(0, 0x10, 50); // priority dropped, still active
        a.spi(51, true);
        assert_eq!(a.cr(0, 0x0c), 51);
        let mut b = a.restored(&a.saved()).unwrap();
        assert_eq!(b.visible(), a.visible());
        for r in [&mut a, &mut b] {
            assert_eq!(r.cr(0, 0x14), 0x10);
            assert_eq!(r.cr(0, 0xd0), 0, "group 0 priority dropped");
            assert_eq!(r.cr(0, 0xe0), 1 << 8, "group 1 at priority 0x10");
            assert_eq!(r.dr(0, 0x304), (1 << 18) | (1 << 19));
            assert!(!r.irq(0) && !r.lines.cpu_fiq(0));
            r.cw(0, 0x10, 51);
            assert_eq!(r.cr(0, 0x14), 0xff);
            r.cw(0, 0x1000, 50);
            assert!(r.lines.cpu_fiq(0), "SPI 50's line is still high");
            assert_eq!(r.cr(0, 0x0c), 50);
            r.cw(0, 0x1000, 51);
            assert_eq!(r.dr(0, 0x304), 1 << 18);
        }
        assert_eq!(b.visible(), a.visible());
    }

    #[test]
    fn a_state_from_another_gic_is_refused() {
        let saved = gicv1_in_use().saved();
        let e = Rig::a9(1).restored(&saved).unwrap_err();
        assert_eq!(
            e.0,
            "saved state of gic is from a GICv1 with 2 CPUs, 96 interrupt IDs, 5 priority bits and \
             the Security Extensions; this one is a GICv1 with 1 CPU, 96 interrupt IDs, 5 \
             priority bits and the Security Extensions"
        );
        let more_irqs = Rig::new(GicConfig {
            num_irqs: 128,
            ..GicConfig::cortex_a9(2)
        });
        let e = more_irqs.restored(&saved).unwrap_err();
        assert!(
            e.0.contains("this one is a GICv1 with 2 CPUs, 128 interrupt IDs"),
            "{e}"
        );
        assert!(Rig::a15(2).restored(&saved).is_err());
    }

    #[test]
    fn a_state_no_gic_could_reach_is_refused() {
        let r = Rig::a9(2);
        let good: GicState = state::decode(&gicv1_in_use().saved(), "gic").unwrap();
        let refused = |change: &dyn Fn(&mut GicState)| {
            let mut s = good.clone();
            change(&mut s);
            r.restored(&state::encode(&s)).unwrap_err().0
        };
        assert_eq!(
            refused(&|s| {
                s.irqs.pop();
            }),
            "saved state of gic has GIC tables of 95, 96 and 96 entries for 96 interrupt IDs"
        );
        assert_eq!(
            refused(&|s| s.targets.push(0)),
            "saved state of gic has GIC tables of 96, 96 and 97 entries for 96 interrupt IDs"
        );
        assert_eq!(
            refused(&|s| s.irqs[40].pending = 0b100),
            "saved state of gic has GIC interrupt 40 set for CPUs 0b0100, which a GIC of 2 CPUs \
             does not have"
        );
        assert_eq!(
            refused(&|s| s.targets[33] = 0b1000),
            "saved state of gic has GIC interrupt 33 set for CPUs 0b1000, which a GIC of 2 CPUs \
             does not have"
        );
        assert_eq!(
            refused(&|s| s.cpus[3].current_pending = 96),
            "saved state of gic has GIC interrupt 96 pending for CPU 3; the GIC has 96 IDs"
        );
        assert_eq!(
            refused(&|s| s.cpus[0].running_priority = 0x101),
            "saved state of gic has running priority 0x101 on GIC CPU interface 0"
        );
        // The edges: the last ID, and idle.
        let mut edge = good.clone();
        edge.cpus[1].current_pending = 95;
        edge.cpus[1].running_priority = IDLE_PRIORITY;
        let mut e = r.restored(&state::encode(&edge)).unwrap();
        assert_eq!(e.cr(1, 0x18), 95);
        assert_eq!(e.cr(1, 0x0c), 95, "ID 95 (priority 0) acknowledged");
    }

    #[test]
    fn damaged_states_are_refused_without_panic() {
        let template = gicv1_in_use();
        crate::state_tests::check_damaged_states(&template.saved(), |bytes| {
            let mut r = template.restored(bytes)?;
            r.visible();
            for cpu in 0..2 {
                for _ in 0..4 {
                    let id = r.cr(cpu, 0x0c);
                    r.cw(cpu, 0x10, id);
                }
            }
            for id in 16..32 {
                r.ppi(1, id, true);
            }
            for id in 32..96 {
                r.spi(id, true);
            }
            for off in (0..0x1000).step_by(4) {
                r.dw(1, off, 0xffff_ffff);
            }
            r.visible();
            Ok(())
        });
    }

    #[test]
    fn identification_registers() {
        let r = Rig::a9(2);
        // 96 IDs -> ITLinesNumber 2; 2 CPUs -> CPUNumber 1; SecurityExtn.
        assert_eq!(r.dr(0, 0x004), 0x0000_0422);
        assert_eq!(r.dr(0, 0x008), 0x0000_043b);
        assert_eq!(r.dr(0, 0xfe0), 0x90);
        assert_eq!(r.dr(0, 0xfe4), 0xb3);
        assert_eq!(r.dr(0, 0xfe8), 0x1b);
        assert_eq!(r.dr(0, 0xfd0), 0x04);
        assert_eq!(r.dr(0, 0xffc), 0xb1);
        let mut r = Rig::a15(1);
        assert_eq!(r.dr(0, 0x004), 0x0000_0404);
        assert_eq!(r.dr(0, 0xfe4), 0xb4);
        assert_eq!(r.dr(0, 0xfe8), 0x2b);
        assert_eq!(r.cr(0, 0xfc), 0x0002_043b);
        let mut r = Rig::a9(1);
        assert_eq!(r.cr(0, 0xfc), 0x0001_043b);
    }

    #[test]
    fn reset_state() {
        let mut r = Rig::a9(1);
        // SGIs enabled and edge-triggered, nothing else.
        assert_eq!(r.dr(0, 0x100), 0x0000_ffff);
        assert_eq!(r.dr(0, 0x104), 0);
        assert_eq!(r.dr(0, 0xc00), 0xaaaa_aaaa);
        assert_eq!(r.dr(0, 0xc04), 0);
        assert_eq!(r.cr(0, 0x14), 0xff, "idle running priority reads 0xff");
        assert_eq!(r.cr(0, 0x18), SPURIOUS);
        assert_eq!(r.cr(0, 0x0c), SPURIOUS);
        assert_eq!(r.cr(0, 0x1c), 1, "ABPR resets to 1");
    }

    #[test]
    fn itargetsr_private_reads_own_cpu() {
        let r = Rig::a9(4);
        assert_eq!(r.dr(0, 0x800), 0x0101_0101);
        assert_eq!(r.dr(2, 0x81c), 0x0404_0404);
        assert_eq!(r.dr(3, 0x820), 0, "SPI targets reset to none on an MP GIC");
        // Uniprocessor: private ones still read the CPU's bit, shared ones are RAZ/WI.
        let mut r = Rig::a9(1);
        assert_eq!(r.dr(0, 0x804), 0x0101_0101);
        r.dw(0, 0x820, 0x0202_0202);
        assert_eq!(r.dr(0, 0x820), 0);
    }

    #[test]
    fn enable_bits_are_banked_for_private_interrupts() {
        let mut r = Rig::a9(2);
        r.dw(1, 0x100, 1 << 29);
        assert_eq!(r.dr(1, 0x100), 0x2000_ffff);
        assert_eq!(r.dr(0, 0x100), 0x0000_ffff);
        r.dw(0, 0x104, 0x8000_0001);
        assert_eq!(r.dr(1, 0x104), 0x8000_0001, "shared enables are shared");
        r.dw(0, 0x184, 1);
        assert_eq!(r.dr(0, 0x104), 0x8000_0000);
        r.dw(0, 0x180, 0xffff_ffff);
        assert_eq!(r.dr(0, 0x100), 0x0000_ffff, "SGIs cannot be disabled");
    }

    #[test]
    fn priorities_bytewise_and_masked_to_implemented_bits() {
        let mut r = Rig::a9(2);
        r.gic.dist_write(0, 0x400 + 37, Byte, 0xa7, &mut r.lines);
        assert_eq!(
            r.gic.dist_read(1, 0x400 + 37, Byte),
            0xa0,
            "5 priority bits: 0xa7 -> 0xa0"
        );
        assert_eq!(r.dr(0, 0x424), 0x0000_a000);
        r.gic.dist_write(1, 0x400 + 29, Byte, 0x48, &mut r.lines);
        assert_eq!(r.gic.dist_read(1, 0x41d, Byte), 0x48);
        assert_eq!(r.gic.dist_read(0, 0x41d, Byte), 0x00, "PPI priorities are banked");
        r.cw(0, 0x04, 0xff);
        assert_eq!(r.cr(0, 0x04), 0xf8);
        let mut r = Rig::a15(1);
        r.gic.dist_write(0, 0x400 + 40, Byte, 0xa7, &mut r.lines);
        assert_eq!(r.gic.dist_read(0, 0x428, Byte), 0xa7, "8 priority bits on the A15");
    }

    #[test]
    fn level_spi_to_irq_acknowledge_and_eoi() {
        let mut r = Rig::a9(1);
        r.enable();
        r.enable_irq(0, 37);
        r.dw(0, 0x400 + 36, 0xa000); // priority 0xa0 for 37
        assert!(!r.irq(0));
        r.spi(37, true);
        assert!(r.irq(0));
        assert_eq!(r.dr(0, 0x204), 1 << 5, "pending while the line is high");
        assert_eq!(r.cr(0, 0x18), 37);
        assert_eq!(r.cr(0, 0x0c), 37);
        assert!(!r.irq(0), "active: no longer signalled");
        assert_eq!(r.cr(0, 0x14), 0xa0);
        assert_eq!(r.dr(0, 0x304), 1 << 5);
        assert_eq!(r.dr(0, 0x204), 1 << 5, "level still high: still pending");
        // The device drops its line, the handler ends the interrupt.
        r.spi(37, false);
        r.cw(0, 0x10, 37);
        assert_eq!(r.dr(0, 0x304), 0);
        assert_eq!(r.cr(0, 0x14), 0xff);
        assert!(!r.irq(0));
        assert_eq!(r.cr(0, 0x0c), SPURIOUS);
    }

    #[test]
    fn level_interrupt_still_high_after_eoi_fires_again() {
        let mut r = Rig::a9(1);
        r.enable();
        r.enable_irq(0, 40);
        r.spi(40, true);
        assert_eq!(r.cr(0, 0x0c), 40);
        r.cw(0, 0x10, 40);
        assert!(r.irq(0), "line still high");
        assert_eq!(r.cr(0, 0x0c), 40);
    }

    #[test]
    fn edge_interrupt_latches_until_acknowledged() {
        let mut r = Rig::a9(1);
        r.enable();
        r.dw(0, 0xc08, 0b10 << 16); // ID 40 edge-triggered
        assert_eq!(r.dr(0, 0xc08), 0x0002_0000);
        r.enable_irq(0, 40);
        r.spi(40, true);
        r.spi(40, false);
        assert!(r.irq(0), "the edge was latched");
        assert_eq!(r.cr(0, 0x0c), 40);
        assert_eq!(r.dr(0, 0x204), 0, "acknowledged: no longer pending");
        r.cw(0, 0x10, 40);
        assert!(!r.irq(0));
    }

    #[test]
    fn disabled_or_masked_interrupts_are_not_signalled() {
        let mut r = Rig::a9(1);
        r.enable();
        r.spi(45, true);
        assert!(!r.irq(0), "not enabled");
        assert_eq!(r.dr(0, 0x204), 1 << 13, "but pending");
        r.enable_irq(0, 45);
        assert!(r.irq(0));
        r.dw(0, 0x400 + 44, 0xf000); // priority 0xf0 == PMR: masked
        assert!(!r.irq(0));
        assert_eq!(r.cr(0, 0x18), SPURIOUS);
        r.cw(0, 0x04, 0xf8);
        assert!(r.irq(0));
        r.cw(0, 0x00, 0);
        assert!(!r.irq(0), "CPU interface off");
        r.cw(0, 0x00, 1);
        r.dw(0, 0x000, 0);
        assert!(!r.irq(0), "distributor off");
    }

    #[test]
    fn set_and_clear_pending_by_software() {
        let mut r = Rig::a9(1);
        r.enable();
        r.enable_irq(0, 50);
        r.dw(0, 0x204, 1 << 18);
        assert!(r.irq(0));
        assert_eq!(r.dr(0, 0x284), 1 << 18);
        r.dw(0, 0x284, 1 << 18);
        assert!(!r.irq(0));
        r.dw(0, 0x200, 0xffff);
        assert_eq!(r.dr(0, 0x200), 0, "SGIs are not set pending through ISPENDR");
    }

    #[test]
    fn preemption_by_group_priority() {
        let mut r = Rig::a9(1);
        r.enable();
        for id in [40, 41, 42] {
            r.enable_irq(0, id);
        }
        // 40: 0x80, 41: 0x40, 42: 0x70.
        r.dw(0, 0x428, 0x0070_4080);
        r.spi(40, true);
        assert_eq!(r.cr(0, 0x0c), 40);
        assert_eq!(r.cr(0, 0x14), 0x80);
        r.spi(41, true);
        assert!(r.irq(0), "0x40 preempts 0x80");
        assert_eq!(r.cr(0, 0x0c), 41);
        assert_eq!(r.cr(0, 0x14), 0x40);
        r.spi(42, true);
        assert!(!r.irq(0), "0x70 does not preempt 0x40");
        assert_eq!(r.cr(0, 0x18), 42, "but it is the highest pending");
        assert_eq!(r.cr(0, 0x0c), SPURIOUS, "and cannot be acknowledged yet");
        r.spi(41, false);
        r.cw(0, 0x10, 41);
        assert_eq!(r.cr(0, 0x14), 0x80, "back to the preempted interrupt's priority");
        assert!(r.irq(0), "0x70 preempts 0x80");
        // BPR 7 leaves no group priority bits: 42 runs at group priority 0, and nothing can
        // preempt it.
        r.cw(0, 0x08, 7);
        assert_eq!(r.cr(0, 0x08), 7);
        assert_eq!(r.cr(0, 0x0c), 42);
        assert_eq!(r.cr(0, 0x14), 0x00);
        r.cw(0, 0x10, 42);
        assert_eq!(r.cr(0, 0x14), 0x80);
        r.cw(0, 0x10, 40);
        assert_eq!(r.cr(0, 0x14), 0xff);
    }

    #[test]
    fn binary_point_merges_priorities_into_one_group() {
        let mut r = Rig::a15(1);
        r.enable();
        r.enable_irq(0, 40);
        r.enable_irq(0, 41);
        r.dw(0, 0x428, 0x0000_1018); // 40: 0x18, 41: 0x10
        r.cw(0, 0x08, 4); // group priority bits [7:5]
        r.spi(40, true);
        assert_eq!(r.cr(0, 0x0c), 40);
        assert_eq!(r.cr(0, 0x14), 0x00, "group priority of 0x18 with BPR 4");
        r.spi(41, true);
        assert!(!r.irq(0), "0x10 is in the same group: no preemption");
    }

    #[test]
    fn sgi_with_source_cpu_and_filters() {
        let mut r = Rig::a9(4);
        r.enable();
        // CPU 0 sends SGI 1 to CPUs 2 and 3 by list.
        r.dw(0, 0xf00, (0b1100 << 16) | 1);
        assert!(!r.irq(0) && !r.irq(1) && r.irq(2) && r.irq(3));
        assert_eq!(r.dr(2, 0x200), 1 << 1);
        assert_eq!(r.dr(0, 0x200), 0, "pending state is per CPU");
        assert_eq!(r.gic.dist_read(2, 0xf21, Byte), 0b0001, "SPENDSGIR1: from CPU 0");
        // CPU 1 sends SGI 1 to all but itself.
        r.dw(1, 0xf00, (1 << 24) | 1);
        assert_eq!(r.gic.dist_read(2, 0xf21, Byte), 0b0011);
        assert_eq!(r.cr(2, 0x0c), 1, "from CPU 0 first");
        assert_eq!(r.cr(2, 0x0c), SPURIOUS, "SGI 1 is active on CPU 2");
        r.cw(2, 0x10, 1);
        assert_eq!(r.cr(2, 0x0c), (1 << 10) | 1, "then from CPU 1");
        r.cw(2, 0x10, (1 << 10) | 1);
        assert_eq!(r.cr(2, 0x0c), SPURIOUS);
        // To self.
        r.dw(3, 0xf00, (2 << 24) | 7);
        assert_eq!(r.dr(3, 0x200), (1 << 7) | (1 << 1));
        assert_eq!(r.dr(0, 0x200), 1 << 1);
        // Clearing through CPENDSGIR.
        r.gic.dist_write(3, 0xf17, Byte, 0b1000, &mut r.lines);
        assert_eq!(r.dr(3, 0x200), 1 << 1);
    }

    #[test]
    fn ppis_are_per_cpu() {
        let mut r = Rig::a9(2);
        r.enable();
        r.enable_irq(1, 29);
        r.ppi(0, 29, true);
        assert!(!r.irq(0), "not enabled on CPU 0");
        assert!(!r.irq(1), "CPU 1's line is low");
        r.ppi(1, 29, true);
        assert!(r.irq(1));
        assert_eq!(r.cr(1, 0x0c), 29);
        assert_eq!(r.dr(0, 0x300), 0, "active on CPU 1 only");
        assert_eq!(r.dr(1, 0x300), 1 << 29);
    }

    #[test]
    fn spi_goes_to_its_target_cpus() {
        let mut r = Rig::a9(2);
        r.enable();
        r.enable_irq(0, 33);
        r.gic.dist_write(0, 0x821, Byte, 2, &mut r.lines);
        assert_eq!(r.gic.dist_read(1, 0x821, Byte), 2);
        r.spi(33, true);
        assert!(!r.irq(0) && r.irq(1));
        r.gic.dist_write(0, 0x821, Byte, 1, &mut r.lines);
        assert!(r.irq(0) && !r.irq(1), "retargeted");
    }

    #[test]
    fn group1_interrupts_and_fiq() {
        let mut r = Rig::a15(1);
        r.dw(0, 0x000, 3);
        r.cw(0, 0x04, 0xff);
        // FIQEn, both groups enabled, AckCtl.
        r.cw(0, 0x00, 0b1111);
        assert_eq!(r.cr(0, 0x00), 0b1111);
        r.enable_irq(0, 40);
        r.enable_irq(0, 41);
        r.dw(0, 0x084, 1 << 9); // 41 in group 1
        assert_eq!(r.dr(0, 0x084), 1 << 9);
        r.spi(40, true);
        assert!(r.lines.cpu_fiq(0) && !r.irq(0), "group 0 with FIQEn: FIQ");
        r.spi(40, false);
        r.spi(41, true);
        assert!(!r.lines.cpu_fiq(0) && r.irq(0), "group 1: IRQ");
        assert_eq!(r.cr(0, 0x0c), 41);
        r.cw(0, 0x10, 41);
        r.cw(0, 0x00, 0b1011); // AckCtl off: group 1 hidden from the Secure IAR
        assert_eq!(r.cr(0, 0x18), 1022);
        assert_eq!(r.cr(0, 0x0c), 1022);
    }

    #[test]
    fn gicv2_split_eoi_and_active_registers() {
        let mut r = Rig::a15(1);
        r.enable();
        r.cw(0, 0x00, 1 | CPU_CTLR_EOIMODE);
        assert_eq!(r.cr(0, 0x00), 0x201);
        r.enable_irq(0, 50);
        r.dw(0, 0xc0c, 0b10 << 4); // edge
        r.spi(50, true);
        assert_eq!(r.cr(0, 0x0c), 50);
        assert_eq!(r.cr(0, 0xd0), 1, "APR0 bit for priority 0");
        r.cw(0, 0x10, 50);
        assert_eq!(r.cr(0, 0x14), 0xff, "priority dropped");
        assert_eq!(r.dr(0, 0x304), 1 << 18, "but still active");
        r.cw(0, 0x1000, 50);
        assert_eq!(r.dr(0, 0x304), 0, "GICC_DIR deactivated it");
        r.dw(0, 0x304, 1 << 18);
        assert_eq!(r.dr(0, 0x384), 1 << 18);
        r.dw(0, 0x384, 1 << 18);
        assert_eq!(r.dr(0, 0x304), 0);
        // GICv1 has no set/clear-active registers.
        let mut r = Rig::a9(1);
        r.dw(0, 0x304, 1);
        assert_eq!(r.dr(0, 0x304), 0);
    }

    #[test]
    fn eoi_of_spurious_and_unknown_is_ignored() {
        let mut r = Rig::a9(1);
        r.enable();
        r.enable_irq(0, 40);
        r.spi(40, true);
        assert_eq!(r.cr(0, 0x0c), 40);
        r.cw(0, 0x10, SPURIOUS);
        r.cw(0, 0x10, 200);
        assert_eq!(r.dr(0, 0x304), 1 << 8);
        r.cw(0, 0x10, 40);
        assert_eq!(r.dr(0, 0x304), 0);
    }

    /// Whether every byte of `size` at distributor offset `off` is reserved or past the last
    /// of 96 interrupt IDs on a GICv1 (where the active-state registers read only).
    fn reserved_on_a9(off: u32, size: AccessSize) -> bool {
        (off..off + size.bytes()).all(|o| {
            let past = |base: u32, per_byte: u32| o >= base + 96 / per_byte;
            match o {
                GICD_IIDR_END..GICD_IGROUPR | GICD_NSACR..GICD_SGIR | GICD_SPENDSGIR_END..GICD_PIDR4 => true,
                GICD_ISACTIVER..GICD_IPRIORITYR => true,
                GICD_IGROUPR..GICD_ISACTIVER => past(o & !0x7f, 8),
                GICD_IPRIORITYR..GICD_ITARGETSR => past(GICD_IPRIORITYR, 1),
                GICD_ITARGETSR..GICD_ICFGR => past(GICD_ITARGETSR, 1),
                GICD_ICFGR..GICD_NSACR => past(GICD_ICFGR, 4),
                _ => o > GICD_SGIR && o < GICD_CPENDSGIR,
            }
        })
    }

    #[test]
    fn every_offset_and_size() {
        let sizes = [Byte, AccessSize::Half, Word];
        let mut r = Rig::a9(2);
        let fresh = r.gic.state();
        // Reserved distributor offsets, and IDs the GIC does not have: writes of every width
        // change nothing, and reads (but the GICv1's ISACTIVER) are 0.
        for off in 0..0x1004 {
            for size in sizes {
                if reserved_on_a9(off, size) {
                    r.gic.dist_write(1, off, size, 0xffff_ffff, &mut r.lines);
                }
            }
        }
        // 0x00c..0x080, five bit-per-ID blocks of 0x80 bytes past 12, ISACTIVER/ICACTIVER,
        // priorities and targets past 96, ICFGR past 24, 0xd00..0xf00, 0xf01..0xf10 and
        // 0xf30..0xfd0.
        let reserved = (0..0x1000).filter(|&o| reserved_on_a9(o, Byte)).count();
        assert_eq!(reserved, 116 + 5 * 116 + 256 + 2 * 928 + 232 + 512 + 15 + 160);
        assert_eq!(r.gic.state(), fresh);
        for off in (0..0x1000).filter(|&o| reserved_on_a9(o, Byte)) {
            for cpu in 0..2 {
                assert_eq!(r.gic.dist_read(cpu, off, Byte), 0, "{off:#x}");
            }
        }
        // Unknown CPU interface offsets read 0 and ignore writes; a CPU the GIC does not have
        // is taken for CPU 0.
        let known = [
            0x00, 0x04, 0x08, 0x0c, 0x10, 0x14, 0x18, 0x1c, 0xd0, 0xd4, 0xd8, 0xdc, 0xe0, 0xe4, 0xe8, 0xec, 0xfc,
        ];
        for off in (0..0x2004).filter(|o| !known.contains(o)) {
            for cpu in [0, 1, 5] {
                r.gic.cpu_write(cpu, off, Byte, 0xffff_ffff, &mut r.lines);
                assert_eq!(r.gic.cpu_read(cpu, off, Word, &mut r.lines), 0, "{off:#x}");
            }
        }
        assert_eq!(r.gic.state(), fresh);
        r.cw(5, GICC_PMR, 0xff);
        assert_eq!(r.cr(0, GICC_PMR), 0xf8);
        assert_eq!(r.cr(1, GICC_PMR), 0);
        // All ones everywhere, of every width, from CPU 1, in address order: set-then-clear
        // registers end clear, the others hold what their implemented bits keep.
        for off in 0..0x1004 {
            for size in sizes {
                r.gic.dist_read(1, off, size);
                r.gic.dist_write(1, off, size, 0xffff_ffff, &mut r.lines);
            }
        }
        assert_eq!(r.dr(1, GICD_CTLR), CTLR_EN_GRP0 | CTLR_EN_GRP1);
        assert_eq!(r.dr(1, GICD_IGROUPR), 0xffff_ffff);
        assert_eq!(r.dr(0, GICD_IGROUPR), 0, "private groups are banked");
        assert_eq!(r.dr(1, GICD_IGROUPR + 8), 0xffff_ffff);
        assert_eq!(r.dr(1, GICD_ISENABLER), 0x0000_ffff, "SGIs stay enabled");
        assert_eq!(r.dr(1, GICD_ISENABLER + 8), 0, "cleared by ICENABLER");
        assert_eq!(r.dr(1, GICD_ISPENDR + 8), 0, "cleared by ICPENDR");
        assert_eq!(r.dr(1, GICD_IPRIORITYR + 92), 0xf8f8_f8f8);
        assert_eq!(r.dr(0, GICD_IPRIORITYR), 0, "CPU 0's SGI priorities are its own");
        assert_eq!(r.dr(1, GICD_ITARGETSR + 92), 0x0303_0303);
        assert_eq!(r.dr(1, GICD_ICFGR + 20), 0xaaaa_aaaa, "all edge-triggered");
        // GICD_SGIR sent SGI 15 to both CPUs; CPU 1's CPENDSGIR cleared only its own copy;
        // SPENDSGIR set every SGI pending on CPU 1 with all eight source bits, as QEMU does.
        assert_eq!(r.dr(1, GICD_ISPENDR), 0x0000_ffff);
        assert_eq!(r.dr(0, GICD_ISPENDR), 1 << 15);
        assert_eq!(r.gic.dist_read(0, GICD_SPENDSGIR + 15, Byte), 0b10, "from CPU 1");
        assert_eq!(r.dr(1, GICD_SPENDSGIR), 0xffff_ffff);
        for cpu in 0..2 {
            for off in (0..0x1000).filter(|&o| reserved_on_a9(o, Byte)) {
                assert_eq!(r.gic.dist_read(cpu, off, Byte), 0, "{off:#x}");
            }
        }
        assert!(
            Gic::new(GicConfig {
                num_irqs: 100,
                ..GicConfig::cortex_a9(1)
            })
            .is_err()
        );
        assert!(Gic::new(GicConfig::cortex_a9(0)).is_err());
        assert!(Gic::new(GicConfig::cortex_a9(5)).is_err());
    }
}
