//! Reverse execution over NOR flash commands: the firmware test `pflash` programs and erases
//! flash 0 (an image written in place) and switches its modes (status, identifier, CFI
//! query). Going back to any position must give exactly the state of a fresh run to that
//! position (machine state and every RAM page, which hold the flash's bytes and what reads
//! show), and the flash image must hold what the fresh run's holds there.

use armvex_history::{History, HistoryConfig, Outcome};
use armvex_machine::devices::{DriveSpec, PFLASH_SLOTS};
use armvex_machine::{Machine, MachineConfig, RunGoal, Stop};
use std::path::{Path, PathBuf};

const FLASH: usize = 64 << 20;

fn firmware(name: &str) -> PathBuf {
    let p = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../../firmware/build")
        .join(format!("{name}.elf"));
    assert!(p.is_file(), "{} is missing: run `make -C firmware` first", p.display());
    p
}

/// Fresh images for one machine: flash 0 with a pattern in its first MiB, flash 1 zeros.
fn images(tag: &str) -> (PathBuf, PathBuf) {
    let dir = std::env::temp_dir().join(format!("armvex-history-pflash-{tag}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    let mut bytes = vec![0u8; FLASH];
    for (i, w) in bytes[..1 << 20].chunks_mut(4).enumerate() {
        w.copy_from_slice(&(i as u32).wrapping_mul(2_654_435_761).to_le_bytes());
    }
    let (a, b) = (dir.join("flash0.img"), dir.join("flash1.img"));
    std::fs::write(&a, &bytes).unwrap();
    std::fs::write(&b, vec![0u8; FLASH]).unwrap();
    (a, b)
}

fn machine(flash0: &Path, flash1: &Path) -> Machine {
    let spec = |file: &Path, readonly, slot| DriveSpec {
        file: file.to_path_buf(),
        readonly,
        snapshot: false,
        backing: None,
        slot: Some(slot),
    };
    Machine::new(MachineConfig {
        memory: Some(64 << 20),
        cmdline: "pflash".into(),
        drives: vec![
            spec(flash0, false, PFLASH_SLOTS[0]),
            spec(flash1, true, PFLASH_SLOTS[1]),
        ],
        ..MachineConfig::bare_metal("vexpress-a9", firmware("pflash"), Box::new(std::io::sink()))
    })
    .unwrap()
}

fn flash0_bytes(m: &Machine) -> Vec<u8> {
    let (_, disk) = m.disks().iter().find(|(s, _)| *s == PFLASH_SLOTS[0]).unwrap();
    let mut buf = vec![0; FLASH];
    disk.borrow().read_at(0, &mut buf).unwrap();
    buf
}

/// The state hash and flash 0's bytes of a fresh run to `position`.
fn fresh(position: u64) -> (u64, Vec<u8>) {
    let (a, b) = images("fresh");
    let mut m = machine(&a, &b);
    let goal = RunGoal {
        position: Some(position),
        ..RunGoal::default()
    };
    assert_eq!(m.run_until(&goal, &mut || false).unwrap(), Stop::Reached);
    let r = (m.state_hash(), flash0_bytes(&m));
    drop(m);
    let _ = std::fs::remove_dir_all(a.parent().unwrap());
    r
}

#[test]
fn going_back_over_flash_commands_gives_the_state_of_a_fresh_run() {
    let (a, b) = images("history");
    let mut m = machine(&a, &b);
    let mut h = History::new(
        &mut m,
        HistoryConfig {
            spacing: 50_000,
            fine_spacing: 5_000,
            summary_spacing: 10_000,
            budget: 1 << 30,
        },
    );
    let out = h.run(&mut m, RunGoal::default(), &mut || false).unwrap();
    assert!(matches!(out, Outcome::Stop(Stop::Ended(_))), "{out:?}");
    let end = m.position();
    let at_end = flash0_bytes(&m);
    let mut rewound = 0;
    for p in [end / 2, 1000, end - 1, end / 3, 2 * end / 3, end / 5, 4 * end / 5, 10] {
        h.seek(&mut m, p).unwrap();
        let (hash, bytes) = fresh(p);
        assert_eq!(m.state_hash(), hash, "position {p} of {end}");
        assert!(flash0_bytes(&m) == bytes, "position {p}: the flash image");
        rewound += usize::from(bytes != at_end);
    }
    assert!(
        rewound >= 3,
        "only {rewound} positions are before the flash was programmed"
    );
    h.seek(&mut m, end).unwrap();
    assert!(flash0_bytes(&m) == at_end);
    drop(h);
    drop(m);
    let _ = std::fs::remove_dir_all(a.parent().unwrap());
}
