//! A whole board's devices saved and restored together, as `--snapshot-at`/`--loadvm` and
//! reverse execution do: a vexpress-a9 device set is put to work (timers running, interrupts
//! pending and active, console input waiting), its bus state is loaded into a second board built
//! the same way, and from then on both must answer every access identically and raise the same
//! CPU interrupts at the same virtual times.

use armvex_bus::{AccessSize, Accessor, Bus, PhysicalMemory, RamRegionSpec};
use armvex_devices::{A9MpCore, L2c310, Pl011, Pl031, Sp804, Sp810, SysRegsConfig, VexpressSysRegs, ZeroStub};

const WORD: AccessSize = AccessSize::Word;
const MPCORE: u32 = 0x1e00_0000;
const UART0: u32 = 0x1000_9000;
const TIMER01: u32 = 0x1001_1000;
const RTC: u32 = 0x1001_7000;
const SYSREGS: u32 = 0x1000_0000;

/// Every device kind of this crate at its vexpress-a9 address; returns the bus and the id of
/// UART0 (for console input).
fn vexpress_a9(rtc_start: u64) -> (Bus, usize) {
    let mut bus = Bus::new(
        PhysicalMemory::new(&[RamRegionSpec {
            name: "ram".into(),
            base: 0x6000_0000,
            size: 0x10_0000,
        }])
        .unwrap(),
    );
    let mpcore = bus
        .add_device(MPCORE, A9MpCore::SIZE, Box::new(A9MpCore::new(2, 96).unwrap()))
        .unwrap();
    bus.set_interrupt_controller(mpcore);
    bus.add_device(0x1e00_a000, 0x1000, Box::new(L2c310::new())).unwrap();
    bus.add_device(SYSREGS, 0x1000, Box::new(VexpressSysRegs::new(SysRegsConfig::ca9())))
        .unwrap();
    bus.add_device(0x1000_1000, 0x1000, Box::new(Sp810::new("sysctl")))
        .unwrap();
    bus.add_device(0x1000_5000, 0x1000, Box::new(ZeroStub::new("mmci")))
        .unwrap();
    let uart0 = bus
        .add_device(
            UART0,
            0x1000,
            Box::new(Pl011::new("uart0", 37, Box::new(std::io::sink()))),
        )
        .unwrap();
    bus.add_device(
        0x1000_a000,
        0x1000,
        Box::new(Pl011::new("uart1", 38, Box::new(std::io::sink()))),
    )
    .unwrap();
    bus.add_device(TIMER01, 0x1000, Box::new(Sp804::new("timer01", 34, 1_000_000)))
        .unwrap();
    bus.add_device(0x1001_2000, 0x1000, Box::new(Sp804::new("timer23", 35, 1_000_000)))
        .unwrap();
    bus.add_device(RTC, 0x1000, Box::new(Pl031::new("rtc", 36, rtc_start)))
        .unwrap();
    (bus, uart0)
}

fn at(cpu: usize, time: u64) -> Accessor {
    Accessor { cpu, time }
}

/// What a booted Linux leaves running, up to 2.5 ms: GIC on for both CPUs with the timer,
/// RTC and UART interrupts sent to CPU 0; the SP804 ticking every 1 ms; CPU 1's TWD every
/// 0.5 ms; an RTC alarm 2 s ahead; console input waiting; SMP boot flags set.
fn booted() -> (Bus, usize) {
    let (mut bus, uart0) = vexpress_a9(1_700_000_000);
    bus.write(at(0, 0), MPCORE + 0x1000, WORD, 1);
    for cpu in 0..2 {
        bus.write(at(cpu, 0), MPCORE + 0x104, WORD, 0xf0);
        bus.write(at(cpu, 0), MPCORE + 0x100, WORD, 1);
    }
    bus.write(at(0, 0), MPCORE + 0x1104, WORD, (1 << 2) | (1 << 4) | (1 << 5)); // IDs 34, 36, 37
    bus.write(at(0, 0), MPCORE + 0x1820, WORD, 0x0101_0101);
    bus.write(at(0, 0), MPCORE + 0x1824, WORD, 0x0101_0101);
    bus.write(at(1, 0), MPCORE + 0x1100, WORD, 1 << 29);
    bus.write(at(0, 0), SYSREGS + 0x30, WORD, 0x6010_0000);
    bus.write(at(0, 0), TIMER01, WORD, 1000);
    bus.write(at(0, 0), TIMER01 + 0x08, WORD, 0xe2);
    bus.write(at(1, 0), MPCORE + 0x600, WORD, 49_999);
    bus.write(at(1, 0), MPCORE + 0x608, WORD, 0b111);
    bus.write(at(0, 0), RTC + 0x10, WORD, 1);
    bus.write(at(0, 0), RTC + 0x04, WORD, 1_700_000_002);
    bus.write(at(0, 0), UART0 + 0x2c, WORD, 0x70);
    bus.write(at(0, 0), UART0 + 0x38, WORD, 1 << 4);
    bus.deliver_host_input(uart0, b"root\n");
    bus.run_due_timers(2_500_000);
    (bus, uart0)
}

/// Where [`continue_running`] stops.
const END: u64 = 3_000_000_000;

/// The guest's next 3 s: handle every interrupt as Linux would, reading and clearing the
/// device that raised it, and list what it saw: (time, CPU, interrupt ID, a device value).
fn continue_running(bus: &mut Bus) -> Vec<(u64, usize, u32, u32)> {
    let mut seen = Vec::new();
    let mut now = 2_500_000;
    loop {
        for cpu in 0..2 {
            while bus.irq.cpu_irq(cpu) {
                let id = bus.read(at(cpu, now), MPCORE + 0x10c, WORD);
                let value = match id {
                    29 => {
                        bus.write(at(cpu, now), MPCORE + 0x60c, WORD, 1);
                        bus.read(at(cpu, now), MPCORE + 0x604, WORD)
                    }
                    34 => {
                        bus.write(at(cpu, now), TIMER01 + 0x0c, WORD, 1);
                        bus.read(at(cpu, now), TIMER01 + 0x04, WORD)
                    }
                    36 => {
                        bus.write(at(cpu, now), RTC + 0x1c, WORD, 1);
                        bus.read(at(cpu, now), RTC, WORD)
                    }
                    37 => bus.read(at(cpu, now), UART0, WORD),
                    _ => panic!("unexpected interrupt {id} on CPU {cpu} at {now}"),
                };
                bus.write(at(cpu, now), MPCORE + 0x110, WORD, id);
                seen.push((now, cpu, id, value));
            }
        }
        if now == END {
            break;
        }
        now = bus.clock.next_deadline().map_or(END, |d| d.1.min(END));
        bus.run_due_timers(now);
    }
    seen
}

#[test]
fn a_restored_board_runs_on_exactly_like_the_original() {
    let (mut original, _) = booted();
    let saved = original.save_state();
    // Restored on another day: the host start time of the new machine's RTC differs.
    let (mut restored, _) = vexpress_a9(1_800_000_000);
    restored.load_state(&saved).unwrap();
    assert_eq!(restored.save_state(), saved);

    let a = continue_running(&mut original);
    let b = continue_running(&mut restored);
    assert_eq!(a, b);
    // At 2.5 ms CPU 0 finds the SP804 (ID 34, 500 ticks to its next zero) before the UART
    // (ID 37), whose handler takes one character per interrupt: all of "root\n" at once.
    assert_eq!(a[0], (2_500_000, 0, 34, 500));
    assert_eq!(a[1], (2_500_000, 0, 37, u32::from(b'r')));
    let uart: Vec<u8> = a.iter().filter(|e| e.2 == 37).map(|e| e.3 as u8).collect();
    assert_eq!(uart, b"root\n");
    assert!(a.iter().filter(|e| e.2 == 37).all(|e| e.0 == 2_500_000));
    // Then the SP804 every 1 ms, read at its reload.
    let sp804: Vec<_> = a.iter().filter(|e| e.2 == 34).collect();
    assert_eq!(sp804.len(), 2999);
    assert_eq!(sp804[1..3], [&(3_000_000, 0, 34, 1000), &(4_000_000, 0, 34, 1000)]);
    assert!(sp804[1..].iter().all(|e| e.3 == 1000));
    // CPU 1's TWD every 0.5 ms: the flag pending since 0.49999 ms first (49999 ticks to the
    // next zero), then each zero, where the counter reads 0 before reloading on the next tick.
    let twd: Vec<_> = a.iter().filter(|e| e.2 == 29).collect();
    assert_eq!(
        twd[..3],
        [
            &(2_500_000, 1, 29, 49_999),
            &(2_999_990, 1, 29, 0),
            &(3_499_990, 1, 29, 0)
        ]
    );
    assert_eq!(twd.len(), 1 + 5995, "zeros at 2999990 + k * 500000 ns up to 3 s");
    // And the RTC alarm, 2 s after it was set.
    let rtc: Vec<_> = a.iter().filter(|e| e.2 == 36).collect();
    assert_eq!(rtc, [&(2_000_000_000, 0, 36, 1_700_000_002)]);
    assert_eq!(original.save_state(), restored.save_state());
}

#[test]
fn a_damaged_device_state_is_refused_by_name() {
    let (original, _) = booted();
    let mut saved = original.save_state();
    let (index, _) = saved
        .devices
        .iter()
        .enumerate()
        .find(|(_, (name, _))| name == "timer01")
        .unwrap();
    saved.devices[index].1.truncate(3);
    let (mut other, _) = vexpress_a9(0);
    let e = other.load_state(&saved).unwrap_err();
    assert!(
        e.0.starts_with("timer01: saved state of timer01 is not understood"),
        "{e}"
    );
}
