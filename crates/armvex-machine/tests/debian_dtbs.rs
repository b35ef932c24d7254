//! Debian's own vexpress device trees, damaged in every way a fuzzer finds in a few seconds:
//! armvex must answer each with a tree or a one-line error, never a panic. (The `fdt` crate
//! armvex used before panicked on over a hundred such files.) Needs the guest built by
//! tools/guest/build (ARMVEX_GUEST_DIR, default out/guest); tools/test runs it after that.

use armvex_machine::boot::{BoardBootInfo, patch_dtb};
use armvex_machine::dtb::DeviceTree;
use std::path::PathBuf;

fn guest_file(name: &str) -> Vec<u8> {
    let dir = std::env::var_os("ARMVEX_GUEST_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../out/guest"));
    let p = dir.join(name);
    std::fs::read(&p).unwrap_or_else(|e| panic!("{}: {e} (build the guest with tools/guest/build)", p.display()))
}

fn board() -> BoardBootInfo {
    BoardBootInfo {
        ram_base: 0x6000_0000,
        ram_size: 256 << 20,
        machine_id: 0x8e0,
        smp_loader: 0x4800_0000,
        boot_register: 0x1000_0030,
        gic_cpu_interface: 0x1e00_0100,
        virtio: vec![(0x1001_3000, 0x200, 40)],
        cpus: 4,
    }
}

#[test]
fn damaged_debian_dtbs_are_errors_never_panics() {
    for name in ["vexpress-v2p-ca9.dtb", "vexpress-v2p-ca15-tc1.dtb"] {
        let good = guest_file(name);
        let tree = DeviceTree::parse(&good).unwrap();
        assert!(tree.root.walk().len() > 50, "{name}");
        patch_dtb(&good, &board(), "console=ttyAMA0", None, None).unwrap();
        let (mut ok, mut refused) = (0, 0);
        let mut seed = 0x2545_f491_4f6c_dd1du64;
        let mut next = || {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            seed
        };
        for round in 0..30_000 {
            let mut b = good.clone();
            match round % 4 {
                // A few random bytes anywhere (structure, strings, header).
                0 | 1 => {
                    for _ in 0..1 + next() % 4 {
                        let i = (next() as usize) % b.len();
                        b[i] = next() as u8;
                    }
                }
                // A header field (offsets, sizes) set to something else.
                2 => {
                    let field = 4 + (next() as usize % 9) * 4;
                    let v = match next() % 3 {
                        0 => next() as u32,
                        1 => (b.len() as u32).wrapping_add((next() % 64) as u32).wrapping_sub(32),
                        _ => 0,
                    };
                    b[field..field + 4].copy_from_slice(&v.to_be_bytes());
                }
                // Cut short.
                _ => b.truncate(next() as usize % b.len()),
            }
            match patch_dtb(&b, &board(), "console=ttyAMA0", None, None) {
                Ok(_) => ok += 1,
                Err(e) => {
                    assert!(!e.to_string().contains('\n'), "{name}: a multi-line error: {e}");
                    refused += 1;
                }
            }
        }
        eprintln!("{name}: 30000 damaged copies, {ok} patched, {refused} refused, no panic");
        assert!(refused > 1000 && ok > 1000, "{name}: {ok} / {refused}");
    }
}
