//! Replays the QEMU runs stored in `tests/qemu/` (written by
//! `tools/difftest/neon.py --ci --out crates/armvex-neon/tests/qemu`): random Advanced SIMD
//! instructions, A32 and T32, on QEMU 7.2's `cortex-a9` and `cortex-a15`, every register
//! and the memory buffer compared after every instruction.

use std::path::Path;

#[test]
fn qemu_runs_replay_bit_for_bit() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/qemu");
    let mut files: Vec<_> = std::fs::read_dir(&dir)
        .expect("tests/qemu")
        .map(|e| e.expect("directory entry").path())
        .filter(|p| p.extension().is_some_and(|x| x == "case"))
        .collect();
    files.sort();
    assert_eq!(files.len(), 32, "8 seeds x A32/T32 x A9/A15");
    let (mut total, mut undefined, mut aborts, mut thumb) = (0, 0, 0, 0);
    for f in &files {
        let text = std::fs::read_to_string(f).expect("case file");
        let o = armvex_neon::replay::replay(&text).unwrap_or_else(|e| panic!("{}: {e}", f.display()));
        assert_eq!(o.mismatch, None, "{}", f.display());
        assert_eq!(o.instructions, 300, "{}", f.display());
        total += o.instructions;
        undefined += o.undefined;
        aborts += o.aborts;
        if text.contains("\nisa thumb") {
            thumb += o.instructions;
        }
    }
    assert_eq!(total, 9600);
    assert_eq!(thumb, 4800);
    // The generator draws UNDEFINED encodings and misaligned `:align` accesses on purpose.
    assert!(undefined > 1000 && undefined < 6000, "{undefined} UNDEFINED");
    assert!(aborts > 10, "{aborts} alignment faults");
}

#[test]
fn a_wrong_record_is_reported() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/qemu/a15-arm-1.case");
    let text = std::fs::read_to_string(dir).expect("case file");
    // Flip the low bit of the first value QEMU recorded after some instruction.
    let line = text
        .lines()
        .position(|l| l.starts_with("r "))
        .expect("a record with changes");
    let mut lines: Vec<String> = text.lines().map(String::from).collect();
    let (idx, val) = lines[line][2..]
        .split_whitespace()
        .next()
        .unwrap()
        .split_once('=')
        .unwrap();
    let flipped = u32::from_str_radix(val, 16).unwrap() ^ 1;
    let item = format!("{idx}={val}");
    lines[line] = lines[line].replacen(&item, &format!("{idx}={flipped:x}"), 1);
    let o = armvex_neon::replay::replay(&(lines.join("\n") + "\n")).unwrap();
    assert!(o.mismatch.is_some());
}
