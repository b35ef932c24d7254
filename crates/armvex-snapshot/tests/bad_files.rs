//! Bad snapshot files: each is refused with one clear line, never a panic.
//!
//! A real snapshot (a bare-metal machine) is truncated at every length, has every byte
//! flipped, gets another build's fingerprint; random files are fed in; and damaged contents
//! are smuggled past the checksums (the checksums recomputed) to reach the decoders behind
//! them, which must refuse or accept them without panicking (and a machine that loads must
//! run without panicking).

mod common;

use armvex_machine::RunGoal;
use armvex_machine::console::HostInput;
use armvex_snapshot::format::{HEADER_LEN, SECTION_HEADER_LEN, TRAILER_LEN};
use armvex_snapshot::{LoadHost, load, load_bytes, save};
use common::*;
use xxhash_rust::xxh3::xxh3_64;

fn host() -> LoadHost {
    let out = Outputs::default();
    LoadHost {
        console: Box::new(out.uart.clone()),
        semihosting: Some(out.semihosting_console()),
        input: HostInput::none(0),
    }
}

/// A small real snapshot: the wfi firmware on two CPUs, part way through.
fn small_snapshot(test: &str) -> Vec<u8> {
    let elf = firmware("vexpress-a9", "wfi");
    let (mut m, _) = bare_metal("vexpress-a9", &elf, 2, 32 << 20);
    run_to(&mut m, 123_457);
    let dir = scratch_dir(test);
    let file = dir.join("small.snap");
    save(&mut m, &file).unwrap();
    let bytes = std::fs::read(&file).unwrap();
    // It loads as it is.
    load_bytes("small.snap", &bytes, host()).unwrap();
    std::fs::remove_dir_all(&dir).unwrap();
    bytes
}

fn xorshift(seed: u64) -> impl FnMut() -> u64 {
    let mut s = seed | 1;
    move || {
        s ^= s << 13;
        s ^= s >> 7;
        s ^= s << 17;
        s
    }
}

/// The error of loading `bytes`, which must be one line naming the file.
fn refused(bytes: &[u8]) -> String {
    let e = load_bytes("x.snap", bytes, host())
        .err()
        .expect("a bad snapshot is refused")
        .to_string();
    assert!(e.contains("x.snap") && !e.contains('\n'), "{e}");
    e
}

#[test]
fn every_truncation_is_named_as_such() {
    let bytes = small_snapshot("truncated");
    for n in 0..bytes.len() {
        let e = refused(&bytes[..n]);
        if n >= HEADER_LEN {
            assert_eq!(
                e,
                format!("snapshot x.snap is truncated (ends at byte {n} of {})", bytes.len())
            );
        } else if n > 0 {
            assert!(e.starts_with("snapshot x.snap is truncated (ends at byte"), "{e}");
        }
    }
}

#[test]
fn every_flipped_byte_is_refused() {
    let bytes = small_snapshot("flipped");
    let mut next = xorshift(7);
    for i in 0..bytes.len() {
        let mut b = bytes.clone();
        b[i] ^= 1 << (next() % 8);
        refused(&b);
    }
}

#[test]
fn random_files_are_not_snapshots() {
    let mut next = xorshift(99);
    for len in [1usize, 15, 16, 43, 44, 100, 4096, 100_000] {
        let b: Vec<u8> = (0..len).map(|_| next() as u8).collect();
        assert_eq!(refused(&b), "x.snap is not an armvex snapshot");
        // Random bytes behind a good magic and version.
        let mut b = b.clone();
        if len >= 20 {
            b[..16].copy_from_slice(b"armvex-snapshot\n");
            b[16..20].copy_from_slice(&1u32.to_le_bytes());
            refused(&b);
        }
    }
    assert_eq!(refused(b""), "snapshot x.snap is empty");
}

/// Put the right checksums back after changing a file's contents.
fn reseal(b: &mut [u8]) {
    let le = |b: &[u8], at: usize| u64::from_le_bytes(b[at..at + 8].try_into().unwrap());
    let sum = xxh3_64(&b[..36]);
    b[36..44].copy_from_slice(&sum.to_le_bytes());
    let end = b.len() - TRAILER_LEN;
    let mut pos = HEADER_LEN;
    while pos + SECTION_HEADER_LEN <= end {
        let start = pos + SECTION_HEADER_LEN;
        let len = le(b, pos + 4) as usize;
        if len > end - start {
            break;
        }
        let sum = xxh3_64(&b[start..start + len]);
        b[pos + 12..pos + 20].copy_from_slice(&sum.to_le_bytes());
        pos = start + len;
    }
    let sum = xxh3_64(&b[..end]);
    b[end + 4..end + 12].copy_from_slice(&sum.to_le_bytes());
}

#[test]
fn another_build_is_refused() {
    let mut b = small_snapshot("fingerprint");
    b[20..28].copy_from_slice(&0x1f2e_3d4c_5b6a_7988u64.to_le_bytes());
    reseal(&mut b);
    assert_eq!(
        refused(&b),
        format!(
            "snapshot x.snap was written by another build of armvex (state format 1f2e3d4c5b6a7988, this build {:016x})",
            armvex_snapshot::FINGERPRINT
        )
    );
}

#[test]
fn damaged_contents_behind_good_checksums_never_panic() {
    let bytes = small_snapshot("contents");
    let mut next = xorshift(2024);
    let body = HEADER_LEN..bytes.len() - TRAILER_LEN;
    let (mut refused_count, mut loaded) = (0, 0);
    for round in 0..1500 {
        let mut b = bytes.clone();
        // Flip 1 to 4 bits; in early rounds only in the first 2 KiB (setup, state, section
        // headers), where decoding is most delicate.
        let span = if round < 1000 { 2048.min(body.len()) } else { body.len() };
        for _ in 0..1 + next() % 4 {
            let i = body.start + (next() % span as u64) as usize;
            b[i] ^= 1 << (next() % 8);
        }
        reseal(&mut b);
        match load_bytes("x.snap", &b, host()) {
            Ok(mut m) => {
                // What loads also runs without a panic (a damaged state may well make the
                // guest fail, or the run stop with an error).
                loaded += 1;
                let goal = RunGoal {
                    position: Some(m.position() + 20_000),
                    ..RunGoal::default()
                };
                let _ = m.run_until(&goal, &mut || false);
            }
            Err(e) => {
                let e = e.to_string();
                assert!(e.contains("x.snap") && !e.contains('\n'), "{e}");
                refused_count += 1;
            }
        }
    }
    assert!(refused_count > 0 && refused_count + loaded == 1500);
}

#[test]
fn missing_files_and_consoles_are_clear_errors() {
    let e = load(std::path::Path::new("/nonexistent/x.snap"), host())
        .err()
        .unwrap()
        .to_string();
    assert!(e.starts_with("cannot read snapshot /nonexistent/x.snap: "), "{e}");
    let bytes = small_snapshot("consoles");
    let out = Outputs::default();
    let e = load_bytes(
        "x.snap",
        &bytes,
        LoadHost {
            console: Box::new(out.uart.clone()),
            semihosting: None,
            input: HostInput::none(0),
        },
    )
    .err()
    .unwrap()
    .to_string();
    assert_eq!(
        e,
        "snapshot x.snap is of a machine with semihosting, and no semihosting console was given"
    );
}
