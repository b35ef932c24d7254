//! Every device of both boards, alone on a bus with RAM (as the devices crate's own tests
//! build it), fed random access sequences — offset, size 1/2/4, read or write, value, with
//! virtual time passing and host input arriving in between — while invariants from each
//! device's TRM or specification are checked through its registers and its interrupt line.
//!
//! The point is to catch state corruption, not only panics: a FIFO count that has drifted
//! past its depth, an interrupt line high with no cause bit behind it, a GIC that hands out an
//! interrupt that is disabled or masked, a status register reporting what the driver never
//! set. Three kinds of checks:
//!
//! * **always**, after every access: read-only registers that the device must keep
//!   consistent with each other (masked status = raw status AND mask; the interrupt line =
//!   the masked status; FIFO flags that cannot both be true);
//! * **on the access itself**: what a read returned must be possible given the state just
//!   before it (the GIC's IAR);
//! * **afterwards**: the device's documented programming sequence, run on whatever state the
//!   random accesses left, must give the documented behaviour (an SP804 reprogrammed for a
//!   periodic tick counts down from its load and interrupts on time; a GIC reset by its
//!   driver's init sequence signals nothing and acknowledges 1023).
//!
//! Reads of the registers the checks use have no side effects (TRMs: status, mask, ID
//! registers); the checks never read a FIFO or an acknowledge register except as the
//! documented sequence does.

use armvex_bus::{AccessSize, Accessor, Bus, PhysicalMemory, RamRegionSpec};
use armvex_devices::{
    A9MpCore, A15MpCore, KmiInput, L2c310, Lan9118, Pl011, Pl031, Pl041, Pl050, Pl111, Pl181, SdCard, Sp804, Sp805,
    Sp810, SysRegsConfig, VexpressSysRegs,
};
use armvex_fuzz::{Rng, cases, seed, within};
use armvex_virtio::{BlockDevice, DiskImage, RngDevice, VirtioMmio};
use std::cell::RefCell;
use std::rc::Rc;

/// Where the device under test sits (any address outside RAM would do).
const BASE: u32 = 0x1000_0000;
/// The interrupt line (SPI) it drives; PL181 also drives `IRQ + 1`.
const IRQ: u32 = 40;
const RAM: u32 = 0x6000_0000;

/// One device on a bus with 1 MiB of RAM, and the virtual time.
struct Rig {
    bus: Bus,
    now: u64,
    size: u32,
    /// Accesses made, for the figures.
    accesses: u64,
}

fn size_of(bytes: u32) -> AccessSize {
    match bytes {
        1 => AccessSize::Byte,
        2 => AccessSize::Half,
        _ => AccessSize::Word,
    }
}

impl Rig {
    fn new(size: u32, device: Box<dyn armvex_bus::Device>, controller: bool) -> Rig {
        let mut bus = Bus::new(
            PhysicalMemory::new(&[RamRegionSpec {
                name: "ram".into(),
                base: u64::from(RAM),
                size: 0x10_0000,
            }])
            .expect("RAM"),
        );
        let id = bus.add_device(BASE, size, device).expect("add the device");
        if controller {
            bus.set_interrupt_controller(id);
        }
        Rig {
            bus,
            now: 0,
            size,
            accesses: 0,
        }
    }

    fn read(&mut self, cpu: usize, offset: u32, bytes: u32) -> u32 {
        self.accesses += 1;
        self.bus
            .read(Accessor { cpu, time: self.now }, BASE + offset, size_of(bytes))
    }

    fn write(&mut self, cpu: usize, offset: u32, bytes: u32, value: u32) {
        self.accesses += 1;
        self.bus
            .write(Accessor { cpu, time: self.now }, BASE + offset, size_of(bytes), value)
    }

    fn r32(&mut self, offset: u32) -> u32 {
        self.read(0, offset, 4)
    }

    fn w32(&mut self, offset: u32, value: u32) {
        self.write(0, offset, 4, value)
    }

    /// Let `ns` of virtual time pass, firing the device's deadlines.
    fn tick(&mut self, ns: u64) {
        self.now += ns;
        self.bus.run_due_timers(self.now);
    }

    fn line(&self, id: u32) -> bool {
        self.bus.irq.spi_level(id)
    }
}

/// One random access: the offset from `registers` (60%) or anywhere in the window, aligned
/// to its size.
#[derive(Clone, Copy, Debug)]
struct Access {
    cpu: usize,
    offset: u32,
    bytes: u32,
    write: Option<u32>,
}

fn random_access(r: &mut Rng, rig_size: u32, registers: &[u32], cpus: usize) -> Access {
    let bytes = *r.pick(&[4, 4, 4, 2, 1]);
    let offset = if !registers.is_empty() && r.chance(60) {
        *r.pick(registers)
            + if bytes < 4 && r.chance(30) {
                r.below(4) as u32 & !(bytes - 1)
            } else {
                0
            }
    } else {
        (r.below(u64::from(rig_size)) as u32) & !(bytes - 1)
    };
    let write = r.chance(65).then(|| r.interesting_u32());
    Access {
        cpu: r.below(cpus as u64) as usize,
        offset: offset.min(rig_size - bytes),
        bytes,
        write,
    }
}

/// What one device's fuzzing needs: how to build it, its register offsets, and its checks.
trait Subject {
    fn name(&self) -> String;
    fn build(&self) -> Rig;
    fn registers(&self) -> Vec<u32>;
    /// A new case begins (forget what the checks remembered).
    fn start(&mut self) {}
    fn cpus(&self) -> usize {
        1
    }
    /// Host input now and then (console bytes, keys).
    fn input(&self, _rig: &mut Rig, _r: &mut Rng) {}
    /// Called before an access: remember what the check of the access needs.
    fn before(&mut self, _rig: &mut Rig, _a: &Access) {}
    /// Called after an access (`read`: what a read returned).
    fn after(&mut self, _rig: &mut Rig, _a: &Access, _read: Option<u32>) -> Result<(), String> {
        Ok(())
    }
    /// The invariants that hold at every instant.
    fn always(&mut self, _rig: &mut Rig) -> Result<(), String> {
        Ok(())
    }
    /// After the random sequence: the documented programming sequence works.
    fn recovers(&mut self, _rig: &mut Rig) -> Result<(), String> {
        Ok(())
    }
}

/// Run `cases` random sequences on `subject`; returns (cases, accesses).
fn fuzz(subject: &mut dyn Subject, seed: u64, count: u64, length: u64) -> Result<(u64, u64), String> {
    let mut rng = Rng::new(seed);
    let registers = subject.registers();
    let mut accesses = 0;
    for case in 0..count {
        let case_seed = rng.next_u64();
        let mut r = Rng::new(case_seed);
        subject.start();
        let mut rig = subject.build();
        let name = subject.name();
        let fail = |e: String| format!("{name} case {case} (case seed {case_seed}): {e}");
        for step in 0..length {
            if r.chance(10) {
                let ns = match r.below(4) {
                    0 => r.below(1_000),
                    1 => r.below(100_000),
                    2 => r.below(10_000_000),
                    _ => r.below(3_000_000_000),
                };
                rig.tick(ns);
            }
            if r.chance(5) {
                subject.input(&mut rig, &mut r);
            }
            let a = random_access(&mut r, rig.size, &registers, subject.cpus());
            subject.before(&mut rig, &a);
            let read = match a.write {
                Some(v) => {
                    rig.write(a.cpu, a.offset, a.bytes, v);
                    None
                }
                None => Some(rig.read(a.cpu, a.offset, a.bytes)),
            };
            let at = |e: String| fail(format!("after access {step} {a:x?} (read {read:x?}): {e}"));
            subject.after(&mut rig, &a, read).map_err(at)?;
            subject.always(&mut rig).map_err(at)?;
        }
        subject
            .recovers(&mut rig)
            .map_err(|e| fail(format!("after the sequence: {e}")))?;
        accesses += rig.accesses;
    }
    Ok((count, accesses))
}

fn check(cond: bool, what: impl FnOnce() -> String) -> Result<(), String> {
    if cond { Ok(()) } else { Err(what()) }
}

/// The PrimeCell ID registers (0xfe0..0xffc) read the same whatever was written.
fn ids_unchanged(rig: &mut Rig, ids: &[u32; 8]) -> Result<(), String> {
    for (i, &want) in ids.iter().enumerate() {
        let got = rig.r32(0xfe0 + 4 * i as u32);
        check(got == want, || {
            format!("ID register {:#x} reads {got:#x}, not {want:#x}", 0xfe0 + 4 * i)
        })?;
    }
    Ok(())
}

// ---- PL011 UART (ARM DDI 0183, 3.3) ----------------------------------------------------

struct Uart;

impl Subject for Uart {
    fn name(&self) -> String {
        "pl011".into()
    }
    fn build(&self) -> Rig {
        Rig::new(
            0x1000,
            Box::new(Pl011::new("uart", IRQ, Box::new(std::io::sink()))),
            false,
        )
    }
    fn registers(&self) -> Vec<u32> {
        vec![
            0x00, 0x04, 0x18, 0x20, 0x24, 0x28, 0x2c, 0x30, 0x34, 0x38, 0x3c, 0x40, 0x44, 0x48,
        ]
    }
    fn input(&self, rig: &mut Rig, r: &mut Rng) {
        let data: Vec<u8> = (0..r.below(40)).map(|_| r.next_u32() as u8).collect();
        let id = rig.bus.device_map()[0].0;
        rig.bus.deliver_host_input(id, &data);
    }
    fn always(&mut self, rig: &mut Rig) -> Result<(), String> {
        // UARTFR (3.3.3): RXFE and RXFF cannot both be set, nor TXFE and TXFF.
        let fr = rig.r32(0x18);
        check(fr & 0x50 != 0x50, || {
            format!("UARTFR {fr:#x}: receive FIFO both empty and full")
        })?;
        check(fr & 0xa0 != 0xa0, || {
            format!("UARTFR {fr:#x}: transmit FIFO both empty and full")
        })?;
        // UARTMIS (3.3.14) = UARTRIS AND UARTIMSC; UARTINTR is their OR (3.4.6).
        let (ris, imsc, mis) = (rig.r32(0x3c), rig.r32(0x38), rig.r32(0x40));
        check(mis == ris & imsc, || {
            format!("UARTMIS {mis:#x} != UARTRIS {ris:#x} & UARTIMSC {imsc:#x}")
        })?;
        check(ris & !0x7ff == 0, || {
            format!("UARTRIS {ris:#x} has bits that are no interrupt")
        })?;
        let line = rig.line(IRQ);
        check(line == (mis != 0), || {
            format!("interrupt line {line} with UARTMIS {mis:#x}")
        })?;
        // Receive interrupt status only with data waiting (QEMU's rule: RXRIS while not empty).
        check(ris & 0x10 == 0 || fr & 0x10 == 0, || {
            format!("RXRIS set with the FIFO empty (UARTFR {fr:#x})")
        })
    }
    fn recovers(&mut self, rig: &mut Rig) -> Result<(), String> {
        ids_unchanged(rig, &[0x11, 0x10, 0x14, 0x00, 0x0d, 0xf0, 0x05, 0xb1])?;
        // Program it as Linux does: FIFO on, receive interrupt enabled; read what is left
        // (host input waiting for room comes in as the FIFO empties).
        rig.w32(0x44, 0x7ff);
        rig.w32(0x2c, 0x70);
        rig.w32(0x30, 0x301);
        rig.w32(0x38, 0x10);
        let id = rig.bus.device_map()[0].0;
        let mut n = 0;
        while rig.r32(0x18) & 0x10 == 0 {
            rig.r32(0x00);
            n += 1;
            check(n <= 100_000, || "the receive FIFO never empties".into())?;
        }
        check(!rig.line(IRQ), || "receive interrupt with the FIFO empty".into())?;
        rig.bus.deliver_host_input(id, b"ok");
        check(rig.line(IRQ), || "no receive interrupt after input".into())?;
        let got = [rig.r32(0) & 0xff, rig.r32(0) & 0xff];
        check(got == [u32::from(b'o'), u32::from(b'k')], || {
            format!("received {got:x?}, not \"ok\"")
        })?;
        check(rig.r32(0x18) & 0x10 != 0 && !rig.line(IRQ), || {
            "FIFO not empty after reading it".into()
        })
    }
}

// ---- SP804 dual timer (ARM DDI 0271, 3.2) ----------------------------------------------

struct Timer;

impl Subject for Timer {
    fn name(&self) -> String {
        "sp804".into()
    }
    fn build(&self) -> Rig {
        Rig::new(0x1000, Box::new(Sp804::new("timer", IRQ, 1_000_000)), false)
    }
    fn registers(&self) -> Vec<u32> {
        let one = [0x00, 0x04, 0x08, 0x0c, 0x10, 0x14, 0x18];
        one.iter()
            .chain(one.iter().map(|o| o + 0x20).collect::<Vec<_>>().iter())
            .copied()
            .collect()
    }
    fn always(&mut self, rig: &mut Rig) -> Result<(), String> {
        // TimerXMIS = TimerXRIS AND TimerXControl.IntEnable; TIMINTC is the OR of both.
        let mut any = false;
        for t in [0, 0x20] {
            let (ctrl, ris, mis) = (rig.r32(t + 8), rig.r32(t + 0x10), rig.r32(t + 0x14));
            check(ris <= 1 && mis == ris & (ctrl >> 5) & 1, || {
                format!("timer {t:#x}: RIS {ris:#x}, MIS {mis:#x}, control {ctrl:#x}")
            })?;
            any |= mis != 0;
        }
        let line = rig.line(IRQ);
        check(line == any, || format!("interrupt line {line}, masked status {any}"))
    }
    fn recovers(&mut self, rig: &mut Rig) -> Result<(), String> {
        ids_unchanged(rig, &[0x04, 0x18, 0x14, 0x00, 0x0d, 0xf0, 0x05, 0xb1])?;
        // Linux's clockevent: periodic, 32-bit, interrupt enabled, every 1000 ticks (1 ms).
        for t in [0, 0x20] {
            rig.w32(t + 8, 0);
            rig.w32(t + 0x0c, 1);
            rig.w32(t, 1000);
            rig.w32(t + 8, 0xe2);
            for _ in 0..5 {
                let mut value = rig.r32(t + 4);
                check(value <= 1000, || {
                    format!("timer {t:#x}: value {value} above its load 1000")
                })?;
                rig.tick(300_000);
                let before = value;
                value = rig.r32(t + 4);
                check(value <= 1000, || {
                    format!("timer {t:#x}: value {value} above its load 1000")
                })?;
                let _ = before;
            }
            check(rig.r32(t + 0x10) == 1 && rig.line(IRQ), || {
                format!("timer {t:#x}: no interrupt after 1.5 ms")
            })?;
            rig.w32(t + 0x0c, 1);
            rig.w32(t + 8, 0);
            check(rig.r32(t + 0x10) == 0, || {
                format!("timer {t:#x}: TimerIntClr did not clear")
            })?;
        }
        check(!rig.line(IRQ), || "interrupt line high with both timers cleared".into())
    }
}

// ---- PL031 RTC (ARM DDI 0224, 3.3) -----------------------------------------------------

#[derive(Default)]
struct Rtc {
    /// The last RTCDR read and the virtual time of the read (`None` after RTCLR is written).
    last: Option<(u32, u64)>,
}

impl Subject for Rtc {
    fn name(&self) -> String {
        "pl031".into()
    }
    fn build(&self) -> Rig {
        Rig::new(0x1000, Box::new(Pl031::new("rtc", IRQ, 1_700_000_000)), false)
    }
    fn registers(&self) -> Vec<u32> {
        vec![0x00, 0x04, 0x08, 0x0c, 0x10, 0x14, 0x18, 0x1c]
    }
    fn start(&mut self) {
        self.last = None;
    }
    fn before(&mut self, _rig: &mut Rig, a: &Access) {
        if a.write.is_some() && (0x08..0x0c).contains(&a.offset) {
            self.last = None;
        }
    }
    fn always(&mut self, rig: &mut Rig) -> Result<(), String> {
        // RTCDR counts seconds (3.3.1): unless RTCLR was written, it has gone up (modulo 2^32,
        // a 32-bit counter) by the seconds that passed, give or take the fraction.
        let dr = rig.r32(0);
        if let Some((last, then)) = self.last {
            let went = dr.wrapping_sub(last) as u64;
            let dt = rig.now - then;
            check(went == dt / 1_000_000_000 || went == dt.div_ceil(1_000_000_000), || {
                format!("RTCDR went from {last} to {dr} in {dt} ns")
            })?;
        }
        self.last = Some((dr, rig.now));
        // RTCMIS = RTCRIS AND RTCIMSC; RTCINTR = RTCMIS (3.3.6-3.3.8).
        let (imsc, ris, mis) = (rig.r32(0x10), rig.r32(0x14), rig.r32(0x18));
        check(ris <= 1 && mis == ris & imsc & 1, || {
            format!("RIS {ris:#x} IMSC {imsc:#x} MIS {mis:#x}")
        })?;
        let line = rig.line(IRQ);
        check(line == (mis != 0), || {
            format!("interrupt line {line} with RTCMIS {mis:#x}")
        })
    }
    fn recovers(&mut self, rig: &mut Rig) -> Result<(), String> {
        ids_unchanged(rig, &[0x31, 0x10, 0x14, 0x00, 0x0d, 0xf0, 0x05, 0xb1])?;
        // An alarm 2 s ahead (rtc-pl031's set_alarm): it fires after 2 s, not before.
        rig.w32(0x1c, 1);
        rig.w32(0x10, 1);
        rig.w32(0x08, 1_000_000);
        rig.w32(0x04, 1_000_002);
        rig.tick(1_500_000_000);
        check(rig.r32(0x14) == 0, || "the alarm fired early".into())?;
        rig.tick(600_000_000);
        // The counter ticks on whole seconds of virtual time (QEMU's pl031), so 2.1 s after
        // the load it has ticked 2 or 3 times.
        let dr = rig.r32(0);
        check(dr == 1_000_002 || dr == 1_000_003, || {
            format!("RTCDR {dr} 2.1 s after loading 1000000")
        })?;
        check(rig.r32(0x14) == 1 && rig.line(IRQ), || "the alarm did not fire".into())?;
        rig.w32(0x1c, 1);
        check(!rig.line(IRQ), || "RTCICR did not clear the interrupt".into())
    }
}

// ---- SP805 watchdog (ARM DDI 0270, 3.3) ------------------------------------------------

struct Watchdog;

impl Subject for Watchdog {
    fn name(&self) -> String {
        "sp805".into()
    }
    fn build(&self) -> Rig {
        Rig::new(0x1000, Box::new(Sp805::new("wdt", Some(IRQ), 1_000_000)), false)
    }
    fn registers(&self) -> Vec<u32> {
        vec![0x000, 0x004, 0x008, 0x00c, 0x010, 0x014, 0xc00, 0xf00, 0xf04]
    }
    fn always(&mut self, rig: &mut Rig) -> Result<(), String> {
        // WdogMIS = WdogRIS AND WdogControl.INTEN; WDOGINT = WdogMIS (3.3.5, 3.3.6).
        let (ctrl, ris, mis) = (rig.r32(8), rig.r32(0x10), rig.r32(0x14));
        check(ris <= 1 && mis == ris & ctrl & 1, || {
            format!("RIS {ris:#x} control {ctrl:#x} MIS {mis:#x}")
        })?;
        let line = rig.line(IRQ);
        check(line == (mis != 0), || {
            format!("interrupt line {line} with WdogMIS {mis:#x}")
        })?;
        let lock = rig.r32(0xc00);
        check(lock <= 1, || format!("WdogLock reads {lock:#x}"))
    }
    fn recovers(&mut self, rig: &mut Rig) -> Result<(), String> {
        ids_unchanged(rig, &[0x05, 0x18, 0x14, 0x00, 0x0d, 0xf0, 0x05, 0xb1])?;
        // Locked, writes are ignored (3.3.7); unlocked, WdogLoad reads back.
        rig.w32(0xc00, 0);
        let load = rig.r32(0);
        rig.w32(0, load ^ 0x55);
        check(rig.r32(0) == load, || "WdogLoad written while locked".into())?;
        rig.w32(0xc00, 0x1acc_e551);
        check(rig.r32(0xc00) == 0, || "WdogLock did not unlock".into())?;
        rig.w32(0, 5000);
        rig.w32(8, 1);
        check(rig.r32(0) == 5000 && rig.r32(4) <= 5000, || {
            "WdogLoad/WdogValue after unlocking".into()
        })?;
        rig.tick(5_100_000);
        check(rig.r32(0x10) == 1 && rig.line(IRQ), || {
            "no interrupt after the count ran out".into()
        })?;
        rig.w32(0x0c, 1);
        check(rig.r32(0x10) == 0 && !rig.line(IRQ), || {
            "WdogIntClr did not clear".into()
        })
    }
}

// ---- PL050 KMI (ARM DDI 0143, 3.3) -----------------------------------------------------

struct Kmi(bool);

impl Subject for Kmi {
    fn name(&self) -> String {
        format!("pl050 ({})", if self.0 { "mouse" } else { "keyboard" })
    }
    fn build(&self) -> Rig {
        Rig::new(0x1000, Box::new(Pl050::new("kmi", IRQ, self.0)), false)
    }
    fn registers(&self) -> Vec<u32> {
        vec![0x00, 0x04, 0x08, 0x0c, 0x10]
    }
    fn input(&self, rig: &mut Rig, r: &mut Rng) {
        let event = if self.0 {
            KmiInput::Mouse {
                dx: r.next_u32() as i16,
                dy: r.next_u32() as i16,
                dz: r.next_u32() as i8,
                buttons: r.next_u32() as u8,
            }
        } else {
            KmiInput::Key {
                code: r.below(0x300) as u16,
                down: r.chance(50),
            }
        };
        let id = rig.bus.device_map()[0].0;
        let mut bytes = event.to_bytes();
        if r.chance(10) {
            bytes.truncate(r.below(bytes.len() as u64) as usize);
        }
        rig.bus.deliver_host_input(id, &bytes);
    }
    fn always(&mut self, rig: &mut Rig) -> Result<(), String> {
        // KMIIR (3.3.5) and the interrupt output as QEMU 7.2's pl050.c has them (the oracle;
        // the TRM gates both status bits with the enables): bit 0 = a byte waits (KMISTAT
        // RXFULL), bit 1 always set (transmission is instantaneous); KMIINTR = (RXFULL AND
        // KMICR.KMIRXINTREn) OR KMICR.KMITXINTREn.
        let (cr, stat, ir) = (rig.r32(0), rig.r32(4), rig.r32(0x10));
        let rx = (stat >> 4) & 1;
        check(ir == (rx | 2) && stat & 0x40 != 0, || {
            format!("KMIIR {ir:#x} with KMISTAT {stat:#x} KMICR {cr:#x}")
        })?;
        let line = rig.line(IRQ);
        let want = (rx & (cr >> 4) & 1) != 0 || cr & 0x08 != 0;
        check(line == want, || {
            format!("interrupt line {line} with KMISTAT {stat:#x} KMICR {cr:#x}")
        })
    }
    fn recovers(&mut self, rig: &mut Rig) -> Result<(), String> {
        ids_unchanged(rig, &[0x50, 0x10, 0x04, 0x00, 0x0d, 0xf0, 0x05, 0xb1])
    }
}

// ---- The rest of the motherboard: no panics, IDs intact, lines consistent ---------------

/// A device whose checks are its ID registers and, where it has one, a masked interrupt
/// status that must equal raw AND mask and drive its line.
struct Plain {
    name: &'static str,
    size: u32,
    make: fn() -> Box<dyn armvex_bus::Device>,
    registers: Vec<u32>,
    /// Has PrimeCell ID registers (compared with a new device's).
    ids: bool,
    /// (RIS, IMSC, MIS) offsets and the line they drive.
    masked: Option<(u32, u32, u32)>,
}

impl Subject for Plain {
    fn name(&self) -> String {
        self.name.into()
    }
    fn build(&self) -> Rig {
        Rig::new(self.size, (self.make)(), false)
    }
    fn registers(&self) -> Vec<u32> {
        self.registers.clone()
    }
    fn always(&mut self, rig: &mut Rig) -> Result<(), String> {
        if let Some((ris, imsc, mis)) = self.masked {
            let (r, m, s) = (rig.r32(ris), rig.r32(imsc), rig.r32(mis));
            check(s == r & m, || format!("MIS {s:#x} != RIS {r:#x} & mask {m:#x}"))?;
        }
        Ok(())
    }
    fn recovers(&mut self, rig: &mut Rig) -> Result<(), String> {
        if self.ids {
            let mut fresh = self.build();
            let ids: Vec<u32> = (0..8).map(|i| fresh.r32(0xfe0 + 4 * i)).collect();
            ids_unchanged(rig, &ids.try_into().expect("8 IDs"))?;
        }
        Ok(())
    }
}

/// The PL181 MMCI (ARM DDI 0172, 3.3): MCIStatus AND MCIMask0 drives MCIINTR0 (3.3.11-3.3.13),
/// with no card and with a card.
struct Mmci(bool);

impl Subject for Mmci {
    fn name(&self) -> String {
        format!("pl181 ({})", if self.0 { "card" } else { "no card" })
    }
    fn build(&self) -> Rig {
        let card = if self.0 {
            let disk = DiskImage::temporary(1 << 20).expect("a temporary disk");
            SdCard::new(Some(Rc::new(RefCell::new(disk))), false).expect("an SD card")
        } else {
            SdCard::new(None, false).expect("an empty slot")
        };
        Rig::new(0x1000, Box::new(Pl181::new("mmci", [IRQ, IRQ + 1], card)), false)
    }
    fn registers(&self) -> Vec<u32> {
        let mut v: Vec<u32> = (0..0x40).step_by(4).collect();
        v.extend([0x48, 0x80, 0x84]);
        v
    }
    fn always(&mut self, rig: &mut Rig) -> Result<(), String> {
        // Reading MCIStatus ends the deferral of a read's FIFO refill (QEMU's "linux_hack",
        // which armvex follows): the first read settles it, the second is the state.
        rig.r32(0x34);
        let (status, mask0) = (rig.r32(0x34), rig.r32(0x3c));
        let line = rig.line(IRQ);
        check(line == (status & mask0 != 0), || {
            format!("MCIINTR0 {line} with MCIStatus {status:#x} MCIMask0 {mask0:#x}")
        })?;
        let count = rig.r32(0x48);
        check(count <= 0x7fff, || format!("MCIFifoCnt {count:#x} beyond its 15 bits"))
    }
    fn recovers(&mut self, rig: &mut Rig) -> Result<(), String> {
        ids_unchanged(rig, &[0x81, 0x11, 0x04, 0x00, 0x0d, 0xf0, 0x05, 0xb1])
    }
}

/// The LAN9118 (SMSC LAN9118 datasheet, 5.3): ID_REV constant; the IRQ pin follows
/// INT_STS AND INT_EN with IRQ_CFG.IRQ_EN (5.3.3); FIFO levels within the FIFOs' sizes.
struct Ethernet;

impl Subject for Ethernet {
    fn name(&self) -> String {
        "lan9118".into()
    }
    fn build(&self) -> Rig {
        let mac = [0x52, 0x54, 0, 0x12, 0x34, 0x56];
        Rig::new(
            0x100,
            Box::new(Lan9118::new("eth", IRQ, mac, Box::new(armvex_net::NullBackend))),
            false,
        )
    }
    fn registers(&self) -> Vec<u32> {
        let mut v = vec![0x00, 0x20, 0x40, 0x44];
        v.extend((0x50..0x100).step_by(4));
        v
    }
    fn always(&mut self, rig: &mut Rig) -> Result<(), String> {
        let id = rig.r32(0x50);
        check(id == 0x0118_0001, || format!("ID_REV reads {id:#x}"))?;
        let (cfg, sts, en) = (rig.r32(0x54), rig.r32(0x58), rig.r32(0x5c));
        // IRQ_CFG.IRQ_INT (bit 12) is the OR of the enabled interrupt status bits.
        let cause = sts & en != 0;
        check((cfg >> 12) & 1 == u32::from(cause), || {
            format!("IRQ_CFG {cfg:#x} with INT_STS {sts:#x} INT_EN {en:#x}")
        })?;
        let rx = rig.r32(0x7c);
        let tx = rig.r32(0x80);
        check(rx & 0xffff <= 0x4000, || format!("RX_FIFO_INF {rx:#x}"))?;
        check(tx & 0xffff <= 0x4000, || format!("TX_FIFO_INF {tx:#x}"))
    }
}

/// A virtio-mmio transport (virtio 1.2 §4.2.2) with a device behind it: the constant
/// registers stay, Status reports only what the driver wrote (the device may add
/// DEVICE_NEEDS_RESET and take away FEATURES_OK, §2.1, §3.1.1), and the interrupt line is
/// high exactly while InterruptStatus is not zero (§4.2.2, level-triggered).
struct Virtio {
    modern: bool,
    blk: bool,
    /// The status the driver last wrote.
    written: u32,
}

impl Subject for Virtio {
    fn name(&self) -> String {
        format!(
            "virtio-mmio ({}, {})",
            if self.modern { "modern" } else { "legacy" },
            if self.blk { "blk" } else { "rng" }
        )
    }
    fn build(&self) -> Rig {
        let device: Box<dyn armvex_virtio::VirtioDevice> = if self.blk {
            let disk = DiskImage::temporary(1 << 20).expect("a temporary disk");
            Box::new(BlockDevice::new(Rc::new(RefCell::new(disk))))
        } else {
            Box::new(RngDevice::seeded(1, 0))
        };
        Rig::new(0x200, Box::new(VirtioMmio::new(self.modern, IRQ, Some(device))), false)
    }
    fn registers(&self) -> Vec<u32> {
        let mut v: Vec<u32> = (0..0x100).step_by(4).collect();
        v.extend([0x100, 0x104, 0x108]);
        v
    }
    fn before(&mut self, _rig: &mut Rig, a: &Access) {
        if let Some(v) = a.write
            && a.offset == 0x70
            && a.bytes == 4
        {
            self.written = v & 0xff;
        }
    }
    fn start(&mut self) {
        self.written = 0;
    }
    fn always(&mut self, rig: &mut Rig) -> Result<(), String> {
        let (magic, version, device) = (rig.r32(0), rig.r32(4), rig.r32(8));
        let want_version = if self.modern { 2 } else { 1 };
        let want_device = if self.blk { 2 } else { 4 };
        check(
            magic == 0x7472_6976 && version == want_version && device == want_device,
            || format!("MagicValue {magic:#x} Version {version} DeviceID {device}"),
        )?;
        let status = rig.r32(0x70);
        let w = self.written;
        let allowed = w | 0x40;
        let required = w & !0x08 & !0x40;
        check(status & !allowed == 0 && status & required == required, || {
            format!("Status reads {status:#x}; the driver wrote {w:#x}")
        })?;
        let isr = rig.r32(0x60);
        check(isr & !3 == 0, || format!("InterruptStatus {isr:#x} has undefined bits"))?;
        let line = rig.line(IRQ);
        check(line == (isr != 0), || {
            format!("interrupt line {line} with InterruptStatus {isr:#x}")
        })
    }
    fn recovers(&mut self, rig: &mut Rig) -> Result<(), String> {
        // A reset (§4.2.3.1: write 0 to Status) brings everything back: Status 0, no
        // interrupt, the queues not ready.
        rig.w32(0x70, 0);
        self.written = 0;
        check(rig.r32(0x70) == 0 && rig.r32(0x60) == 0 && !rig.line(IRQ), || {
            "reset left state".into()
        })?;
        rig.w32(0x30, 0);
        let ready = if self.modern { rig.r32(0x44) } else { rig.r32(0x40) };
        check(ready == 0, || format!("queue 0 still ready ({ready:#x}) after a reset"))
    }
}

// ---- The GIC, in the A9 and A15 MPCores (ARM IHI 0048B) ---------------------------------

/// The distributor and CPU interface offsets inside the MPCore window.
struct Gic {
    a15: bool,
    cpus: usize,
    irqs: u32,
    dist: u32,
    cpu_if: u32,
    /// What an IAR read must be checked against: (candidates, highest-priority candidates'
    /// lowest priority value), from the state just before.
    before_iar: Option<Vec<u32>>,
}

impl Gic {
    fn new(a15: bool, cpus: usize) -> Gic {
        Gic {
            a15,
            cpus,
            irqs: if a15 { 160 } else { 96 },
            dist: 0x1000,
            cpu_if: if a15 { 0x2000 } else { 0x100 },
            before_iar: None,
        }
    }

    fn bit(rig: &mut Rig, cpu: usize, at: u32, id: u32) -> bool {
        rig.read(cpu, at + (id / 32) * 4, 4) >> (id % 32) & 1 != 0
    }

    /// The IDs pending and enabled as `cpu` sees them (its banked SGIs and PPIs), with a
    /// priority strictly above its priority mask (IHI 0048B 3.2.2 / 4.4.2); with `idle`, only
    /// those not also active (an active and pending interrupt is not signalled again until
    /// it is deactivated, 3.2.4).
    fn candidates_of(&self, rig: &mut Rig, cpu: usize, idle: bool) -> Vec<u32> {
        let pmr = rig.read(cpu, self.cpu_if + 4, 4) & 0xff;
        (0..self.irqs)
            .filter(|&id| {
                Gic::bit(rig, cpu, self.dist + 0x200, id)
                    && Gic::bit(rig, cpu, self.dist + 0x100, id)
                    && (rig.read(cpu, self.dist + 0x400 + id, 1) & 0xff) < pmr
                    && !(idle && Gic::bit(rig, cpu, self.dist + 0x300, id))
            })
            .collect()
    }

    fn candidates(&self, rig: &mut Rig, cpu: usize) -> Vec<u32> {
        self.candidates_of(rig, cpu, false)
    }
}

impl Subject for Gic {
    fn name(&self) -> String {
        format!("{} MPCore GIC, {} CPUs", if self.a15 { "A15" } else { "A9" }, self.cpus)
    }
    fn cpus(&self) -> usize {
        self.cpus
    }
    fn build(&self) -> Rig {
        if self.a15 {
            Rig::new(
                A15MpCore::SIZE,
                Box::new(A15MpCore::new(self.cpus, self.irqs as usize).expect("A15 MPCore")),
                true,
            )
        } else {
            Rig::new(
                A9MpCore::SIZE,
                Box::new(A9MpCore::new(self.cpus, self.irqs as usize).expect("A9 MPCore")),
                true,
            )
        }
    }
    fn registers(&self) -> Vec<u32> {
        let (d, c) = (self.dist, self.cpu_if);
        let mut v = vec![
            d,
            d + 4,
            d + 8,
            d + 0xf00,
            c,
            c + 4,
            c + 8,
            c + 0xc,
            c + 0x10,
            c + 0x14,
            c + 0x18,
            c + 0x1c,
        ];
        for base in [0x80, 0x100, 0x180, 0x200, 0x280, 0x300, 0x380] {
            v.extend((0..self.irqs / 32).map(|i| d + base + 4 * i));
        }
        v.extend((0..self.irqs / 4).map(|i| d + 0x400 + 4 * i));
        v.extend((0..self.irqs / 4).map(|i| d + 0x800 + 4 * i));
        v.extend((0..self.irqs / 16).map(|i| d + 0xc00 + 4 * i));
        if !self.a15 {
            // The SCU, the global timer and the private timer/watchdog (their interrupts
            // are PPIs into this GIC).
            v.extend([0x00, 0x04, 0x08, 0x0c, 0x200, 0x204, 0x208, 0x20c, 0x210, 0x214, 0x218]);
            v.extend([0x600, 0x604, 0x608, 0x60c, 0x620, 0x624, 0x628, 0x62c, 0x630, 0x634]);
        }
        v
    }
    fn start(&mut self) {
        self.before_iar = None;
    }
    fn before(&mut self, rig: &mut Rig, a: &Access) {
        self.before_iar =
            (a.write.is_none() && a.offset == self.cpu_if + 0xc && a.bytes == 4).then(|| self.candidates(rig, a.cpu));
    }
    fn after(&mut self, rig: &mut Rig, a: &Access, read: Option<u32>) -> Result<(), String> {
        let (Some(candidates), Some(iar)) = (self.before_iar.take(), read) else {
            return Ok(());
        };
        // GICC_IAR (4.4.4): an interrupt ID only for a pending, enabled interrupt above the
        // priority mask, which is then active; 1023 when there is none.
        let id = iar & 0x3ff;
        if id < 1020 {
            check(id < self.irqs, || format!("IAR {iar:#x}: no such interrupt"))?;
            check(candidates.contains(&id), || {
                format!(
                    "IAR {iar:#x} on CPU {}: ID {id} was not pending, enabled and above the mask (candidates {candidates:?})",
                    a.cpu
                )
            })?;
            check(Gic::bit(rig, a.cpu, self.dist + 0x300, id), || {
                format!("ID {id} not active after IAR")
            })?;
        } else if candidates.is_empty() {
            check(id == 1023, || format!("IAR {iar:#x} with nothing pending: not 1023"))?;
        } else {
            check(id == 1022 || id == 1023, || format!("IAR {iar:#x}: a reserved ID"))?;
        }
        Ok(())
    }
    fn always(&mut self, rig: &mut Rig) -> Result<(), String> {
        // A CPU's IRQ/FIQ input is asserted only with the distributor and its CPU interface
        // enabled and some interrupt pending, enabled and above its priority mask (3.2.2,
        // 4.3.1, 4.4.1).
        for cpu in 0..self.cpus {
            if !(rig.bus.irq.cpu_irq(cpu) || rig.bus.irq.cpu_fiq(cpu)) {
                continue;
            }
            let dctlr = rig.read(cpu, self.dist, 4);
            let cctlr = rig.read(cpu, self.cpu_if, 4);
            check(dctlr & 3 != 0 && cctlr & 3 != 0, || {
                format!("CPU {cpu} signalled with GICD_CTLR {dctlr:#x} GICC_CTLR {cctlr:#x}")
            })?;
            let c = self.candidates(rig, cpu);
            check(!c.is_empty(), || {
                format!("CPU {cpu} signalled with nothing pending, enabled and above the mask")
            })?;
        }
        Ok(())
    }
    fn recovers(&mut self, rig: &mut Rig) -> Result<(), String> {
        // Linux's gic_dist_init/gic_cpu_init: distributor off; every interrupt disabled,
        // not pending, not active, in group 0; then on. With nothing enabled, nothing is signalled and
        // IAR reads 1023 on every CPU.
        rig.w32(self.dist, 0);
        for cpu in 0..self.cpus {
            for i in 0..self.irqs / 32 {
                rig.write(cpu, self.dist + 0x180 + 4 * i, 4, u32::MAX);
                rig.write(cpu, self.dist + 0x280 + 4 * i, 4, u32::MAX);
                rig.write(cpu, self.dist + 0x380 + 4 * i, 4, u32::MAX);
                // Group 0 (Secure firmware's choice: a Secure IAR read of a group 1
                // interrupt answers 1022 while GICC_CTLR.AckCtl is clear, 4.4.4).
                rig.write(cpu, self.dist + 0x80 + 4 * i, 4, 0);
            }
            rig.write(cpu, self.cpu_if + 4, 4, 0xf0);
            rig.write(cpu, self.cpu_if, 4, 1);
            if self.a15 {
                // GICv2: the active priority registers too (GICC_APRn, GICC_NSAPRn, 4.4.18,
                // 4.4.19), as Linux's gic_cpu_init clears them; the next EOI recomputes the
                // running priority from them.
                for i in 0..4 {
                    rig.write(cpu, self.cpu_if + 0xd0 + 4 * i, 4, 0);
                    rig.write(cpu, self.cpu_if + 0xe0 + 4 * i, 4, 0);
                }
            }
        }
        rig.w32(self.dist, 1);
        // What was pending and enabled before may still be signalled (SGIs cannot all be
        // disabled or cleared this way): acknowledge and end whatever IAR hands out, checking
        // each is a candidate, until it reads 1023 (4.4.4, 4.4.5). Ending every ID also drops
        // the running priorities of interrupts the random accesses acknowledged.
        for cpu in 0..self.cpus {
            let mut n = 0;
            loop {
                let candidates = self.candidates_of(rig, cpu, true);
                let iar = rig.read(cpu, self.cpu_if + 0xc, 4);
                let id = iar & 0x3ff;
                if id == 1023 {
                    let idle = rig.read(cpu, self.cpu_if + 0x14, 4) & 0xff == 0xff;
                    check(candidates.is_empty() || !idle, || {
                        format!("IAR on CPU {cpu} reads 1023 with {candidates:?} pending, enabled and above the mask")
                    })?;
                    if idle {
                        break;
                    }
                } else if id < 1020 {
                    check(candidates.contains(&id), || {
                        format!("IAR on CPU {cpu} hands out {id}, not a candidate ({candidates:?})")
                    })?;
                }
                // GICC_EOIR (4.4.5): end what was acknowledged, with IAR's value (an SGI's
                // source CPU in bits [12:10]). With nothing acknowledged and the running
                // priority not idle (interrupts the random reads acknowledged), end every ID
                // from every source: an EOI while the running priority is idle is ignored, so
                // only the ones that are active take.
                if id < 1020 {
                    rig.write(cpu, self.cpu_if + 0x10, 4, iar);
                } else {
                    // An EOI drops the active priority of its ID's group (4.4.5, GICv2 3.3.1):
                    // sweep with every ID in group 0, then in group 1, then back to group 0.
                    for group in [0, u32::MAX, 0] {
                        for i in 0..self.irqs / 32 {
                            rig.write(cpu, self.dist + 0x80 + 4 * i, 4, group);
                        }
                        for e in 0..self.irqs {
                            let sources = if e < 16 { self.cpus as u32 } else { 1 };
                            for src in 0..sources {
                                rig.write(cpu, self.cpu_if + 0x10, 4, e | src << 10);
                            }
                        }
                    }
                }
                n += 1;
                check(n < 200, || {
                    format!(
                        "CPU {cpu}: IAR never reads 1023 with everything disabled and ended (IAR {iar:#x}, RPR {:#x}, candidates {candidates:?})",
                        rig.read(cpu, self.cpu_if + 0x14, 4)
                    )
                })?;
            }
            check(!rig.bus.irq.cpu_irq(cpu) && !rig.bus.irq.cpu_fiq(cpu), || {
                format!("CPU {cpu} signalled with nothing to acknowledge")
            })?;
        }
        // An SGI from CPU 0 to the last CPU arrives there: one that is neither active nor
        // pending already (a GICv1 cannot deactivate an interrupt but through an EOI at its
        // running priority, nor clear a pending SGI but by acknowledging it: SGIs the random
        // accesses sent below the priority mask stay pending).
        let last = self.cpus - 1;
        let busy = rig.read(last, self.dist + 0x300, 4) | rig.read(last, self.dist + 0x200, 4);
        let Some(sgi) = (0..16).find(|i| busy & (1 << i) == 0) else {
            return Ok(());
        };
        rig.write(last, self.dist + 0x80, 4, 0);
        rig.write(last, self.dist + 0x400 + sgi, 1, 0);
        rig.write(last, self.dist + 0x100, 4, 1 << sgi);
        rig.write(0, self.dist + 0xf00, 4, (1 << (16 + last)) | sgi);
        if !rig.bus.irq.cpu_irq(last) {
            let mut regs = Vec::new();
            for o in [0x80, 0x100, 0x200, 0x300, 0x400 + (sgi & !3)] {
                regs.push(rig.read(last, self.dist + o, 4));
            }
            for o in [0, 4, 8, 0x14, 0x18] {
                regs.push(rig.read(last, self.cpu_if + o, 4));
            }
            regs.push(rig.read(last, self.dist, 4));
            return Err(format!(
                "SGI {sgi} to CPU {last} not signalled (IGROUPR0 ISENABLER0 ISPENDR0 ISACTIVER0 IPRIORITYR; CTLR PMR BPR RPR HPPIR; GICD_CTLR: {regs:x?})"
            ));
        }
        let iar = rig.read(last, self.cpu_if + 0xc, 4);
        check(iar & 0x3ff == sgi, || {
            format!("IAR on CPU {last} reads {iar:#x}, not SGI {sgi}")
        })?;
        rig.write(last, self.cpu_if + 0x10, 4, iar);
        check(
            !Gic::bit(rig, last, self.dist + 0x300, sgi) && !Gic::bit(rig, last, self.dist + 0x200, sgi),
            || format!("SGI {sgi} still active or pending on CPU {last} after its EOI"),
        )
    }
}

// ---- The runs ----------------------------------------------------------------------------

fn subjects() -> Vec<Box<dyn Subject + Send>> {
    let plain = |name, size, make, registers: Vec<u32>, ids, masked| -> Box<dyn Subject + Send> {
        Box::new(Plain {
            name,
            size,
            make,
            registers,
            ids,
            masked,
        })
    };
    vec![
        Box::new(Uart),
        Box::new(Timer),
        Box::new(Rtc::default()),
        Box::new(Watchdog),
        Box::new(Kmi(false)),
        Box::new(Kmi(true)),
        Box::new(Mmci(false)),
        Box::new(Mmci(true)),
        Box::new(Ethernet),
        Box::new(Virtio {
            modern: true,
            blk: true,
            written: 0,
        }),
        Box::new(Virtio {
            modern: false,
            blk: true,
            written: 0,
        }),
        Box::new(Virtio {
            modern: true,
            blk: false,
            written: 0,
        }),
        Box::new(Gic::new(false, 1)),
        Box::new(Gic::new(false, 4)),
        Box::new(Gic::new(true, 2)),
        Box::new(Gic::new(true, 4)),
        plain(
            "vexpress-sysregs (CA9)",
            0x1000,
            || Box::new(VexpressSysRegs::new(SysRegsConfig::ca9())),
            (0..0xa8).step_by(4).collect(),
            false,
            None,
        ),
        plain(
            "vexpress-sysregs (CA15)",
            0x1000,
            || Box::new(VexpressSysRegs::new(SysRegsConfig::ca15())),
            (0..0xa8).step_by(4).collect(),
            false,
            None,
        ),
        plain(
            "sp810",
            0x1000,
            || Box::new(Sp810::new("sysctl")),
            (0..0x40).step_by(4).collect(),
            false,
            None,
        ),
        plain(
            "pl041",
            0x1000,
            || Box::new(Pl041::new("aaci", IRQ)),
            (0..0xb0).step_by(4).collect(),
            true,
            None,
        ),
        plain(
            "pl111",
            0x1000,
            || Box::new(Pl111::new("clcd")),
            (0..0x30).step_by(4).chain((0x200..0x280).step_by(4)).collect(),
            true,
            Some((0x20, 0x18, 0x24)),
        ),
        plain(
            "l2c-310",
            0x1000,
            || Box::new(L2c310::new()),
            vec![
                0x000, 0x004, 0x100, 0x104, 0x108, 0x10c, 0x200, 0x204, 0x208, 0x20c, 0x210, 0x214, 0x218, 0x21c,
                0x220, 0x730, 0x770, 0x77c, 0x7b0, 0x7bc, 0x7f0, 0x7fc, 0xf40, 0xf60, 0xf80,
            ],
            false,
            None,
        ),
    ]
}

#[test]
fn every_device_keeps_its_invariants_under_random_accesses() {
    let seed = seed("devices");
    let count = cases(40);
    let started = std::time::Instant::now();
    let mut lines = Vec::new();
    for (i, mut subject) in subjects().into_iter().enumerate() {
        let name = subject.name();
        let s = seed.wrapping_add(i as u64 * 0x9e37_79b9);
        let what = format!("devices: {name}");
        let (n, accesses) = within(600, &what, move || fuzz(subject.as_mut(), s, count, 400))
            .unwrap_or_else(|e| panic!("{e} (ARMVEX_FUZZ_SEED={seed})"));
        lines.push(format!("{name}: {n} sequences, {accesses} accesses"));
    }
    for l in &lines {
        eprintln!("devices: {l}");
    }
    eprintln!(
        "devices: {} devices, {:.1} s",
        lines.len(),
        started.elapsed().as_secs_f64()
    );
}
