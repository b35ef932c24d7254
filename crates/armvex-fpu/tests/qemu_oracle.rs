//! Replays the QEMU oracle table (`tests/data/qemu_vfp.txt`, made by `oracle/gen.py` from
//! QEMU 7.2 running the instructions on an emulated Cortex-A15) through this crate and
//! requires the same result bits and the same FPSCR flags for every case.

mod common;

use armvex_fpu::*;
use common::{TABLE, parse, run};

/// Replays every line of `table`; returns the number of cases.
fn check_table(table: &str, what: &str) -> usize {
    let mut total = 0;
    let mut failures = Vec::new();
    let mut per_op: std::collections::BTreeMap<String, (u32, u32)> = Default::default();
    for line in table.lines() {
        let Some(case) = parse(line) else { continue };
        let op = case.op;
        let mut ctx = FpContext::from_fpscr(case.fpscr_in);
        let ahp = case.fpscr_in & FPSCR_AHP != 0;
        let got = run(op, &mut ctx, ahp, &case.ins);
        let ok = got == case.result && ctx.flags == case.fpscr_out & flags::ALL;
        total += 1;
        let e = per_op
            .entry(op.split('.').next().unwrap_or(op).to_string())
            .or_default();
        e.0 += 1;
        if !ok {
            e.1 += 1;
            failures.push(format!("{line}   => got {got:x} flags {:02x}", ctx.flags));
        }
    }
    if !failures.is_empty() {
        for (op, (n, bad)) in &per_op {
            if *bad > 0 {
                eprintln!("{op}: {bad} of {n} differ");
            }
        }
        for f in failures.iter().take(60) {
            eprintln!("{f}");
        }
        panic!("{what}: {} of {} cases differ from QEMU", failures.len(), total);
    }
    total
}

/// The checked-in table, plus a larger one named by `ARMVEX_FPU_ORACLE` if set (see
/// oracle/README.md).
#[test]
fn matches_qemu() {
    let total = check_table(TABLE, "tests/data/qemu_vfp.txt");
    assert!(total > 50_000, "table too small: {total}");
    if let Ok(path) = std::env::var("ARMVEX_FPU_ORACLE") {
        let extra = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{path}: {e}"));
        let n = check_table(&extra, &path);
        eprintln!("{path}: {n} cases match");
    }
}
