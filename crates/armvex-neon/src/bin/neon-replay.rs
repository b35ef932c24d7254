//! `neon-replay CASE...`: replay QEMU case files (written by `tools/difftest/neon.py`)
//! with armvex-neon and compare every record; exit status 1 on any mismatch.

use std::process::ExitCode;

fn main() -> ExitCode {
    let files: Vec<String> = std::env::args().skip(1).collect();
    if files.is_empty() {
        eprintln!("usage: neon-replay CASE...");
        return ExitCode::from(2);
    }
    let mut per_group = [0usize; armvex_neon::Group::ALL.len()];
    let (mut total, mut undef, mut aborts, mut bad, mut arm, mut thumb) = (0, 0, 0, 0, 0, 0);
    for f in &files {
        let text = match std::fs::read_to_string(f) {
            Ok(t) => t,
            Err(e) => {
                eprintln!("neon-replay: {f}: {e}");
                return ExitCode::from(2);
            }
        };
        match armvex_neon::replay::replay(&text) {
            Ok(o) => {
                total += o.instructions;
                undef += o.undefined;
                aborts += o.aborts;
                for (a, b) in per_group.iter_mut().zip(o.per_group) {
                    *a += b;
                }
                if text.contains("\nisa thumb") {
                    thumb += o.instructions;
                } else {
                    arm += o.instructions;
                }
                if let Some(m) = o.mismatch {
                    bad += 1;
                    println!("{f}: MISMATCH at {m}");
                }
            }
            Err(e) => {
                println!("{f}: {e}");
                bad += 1;
            }
        }
    }
    println!(
        "neon difftest: {total} instructions ({arm} A32, {thumb} T32; {undef} UNDEFINED, {aborts} alignment faults), {} case files, {bad} mismatching",
        files.len()
    );
    if std::env::var_os("NEON_STATS").is_some() {
        for (g, n) in armvex_neon::Group::ALL.iter().zip(per_group) {
            println!("  {g:?}: {n}");
        }
    }
    if bad == 0 { ExitCode::SUCCESS } else { ExitCode::FAILURE }
}
