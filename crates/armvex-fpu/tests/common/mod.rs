//! Shared by the integration tests: the QEMU oracle table and a dispatcher that runs one of
//! its cases through the crate.
#![allow(dead_code)]

use armvex_fpu::*;

/// `tests/data/qemu_vfp.txt`, made by `oracle/gen.py` from QEMU 7.2 (see oracle/README.md).
pub const TABLE: &str = include_str!("../data/qemu_vfp.txt");

pub fn hex(s: &str) -> u64 {
    u64::from_str_radix(s, 16).unwrap_or_else(|_| panic!("bad hex field {s:?}"))
}

/// Runs one case; returns the result bits (NZCV in bits 31:28 for compares).
pub fn run(op: &str, ctx: &mut FpContext, ahp: bool, ins: &[u64]) -> u64 {
    let (name, prec) = op.split_once('.').unwrap_or((op, ""));
    let f = |i: usize| ins[i] as u32;
    let d = |i: usize| ins[i];
    match (name, prec) {
        ("add", "f32") => add32(ctx, f(0), f(1)) as u64,
        ("sub", "f32") => sub32(ctx, f(0), f(1)) as u64,
        ("mul", "f32") => mul32(ctx, f(0), f(1)) as u64,
        ("div", "f32") => div32(ctx, f(0), f(1)) as u64,
        ("sqrt", "f32") => sqrt32(ctx, f(0)) as u64,
        ("neg", "f32") => neg32(ctx, f(0)) as u64,
        ("abs", "f32") => abs32(ctx, f(0)) as u64,
        ("vmla", "f32") => vmla32(ctx, f(0), f(1), f(2)) as u64,
        ("vmls", "f32") => vmls32(ctx, f(0), f(1), f(2)) as u64,
        ("vnmla", "f32") => vnmla32(ctx, f(0), f(1), f(2)) as u64,
        ("vnmls", "f32") => vnmls32(ctx, f(0), f(1), f(2)) as u64,
        ("vnmul", "f32") => vnmul32(ctx, f(0), f(1)) as u64,
        ("vfma", "f32") => vfma32(ctx, f(0), f(1), f(2)) as u64,
        ("vfms", "f32") => vfms32(ctx, f(0), f(1), f(2)) as u64,
        ("vfnma", "f32") => vfnma32(ctx, f(0), f(1), f(2)) as u64,
        ("vfnms", "f32") => vfnms32(ctx, f(0), f(1), f(2)) as u64,
        ("cmp", "f32") => compare32(ctx, f(0), f(1), false) as u64,
        ("cmpe", "f32") => compare32(ctx, f(0), f(1), true) as u64,
        ("cmpz", "f32") => compare32(ctx, f(0), 0, false) as u64,
        ("add", "f64") => add64(ctx, d(0), d(1)),
        ("sub", "f64") => sub64(ctx, d(0), d(1)),
        ("mul", "f64") => mul64(ctx, d(0), d(1)),
        ("div", "f64") => div64(ctx, d(0), d(1)),
        ("sqrt", "f64") => sqrt64(ctx, d(0)),
        ("neg", "f64") => neg64(ctx, d(0)),
        ("abs", "f64") => abs64(ctx, d(0)),
        ("vmla", "f64") => vmla64(ctx, d(0), d(1), d(2)),
        ("vmls", "f64") => vmls64(ctx, d(0), d(1), d(2)),
        ("vnmla", "f64") => vnmla64(ctx, d(0), d(1), d(2)),
        ("vnmls", "f64") => vnmls64(ctx, d(0), d(1), d(2)),
        ("vnmul", "f64") => vnmul64(ctx, d(0), d(1)),
        ("vfma", "f64") => vfma64(ctx, d(0), d(1), d(2)),
        ("vfms", "f64") => vfms64(ctx, d(0), d(1), d(2)),
        ("vfnma", "f64") => vfnma64(ctx, d(0), d(1), d(2)),
        ("vfnms", "f64") => vfnms64(ctx, d(0), d(1), d(2)),
        ("cmp", "f64") => compare64(ctx, d(0), d(1), false) as u64,
        ("cmpe", "f64") => compare64(ctx, d(0), d(1), true) as u64,
        ("cmpz", "f64") => compare64(ctx, d(0), 0, false) as u64,
        ("f32_to_f64", "") => f32_to_f64(ctx, f(0)),
        ("f64_to_f32", "") => f64_to_f32(ctx, d(0)) as u64,
        ("f16_to_f32", "") => f16_to_f32(ctx, ins[0] as u16, ahp) as u64,
        ("f32_to_f16", "") => f32_to_f16(ctx, f(0), ahp) as u64,
        ("f32_to_i32", "") => f32_to_i32(ctx, f(0), true) as u64,
        ("f32_to_i32_r", "") => f32_to_i32(ctx, f(0), false) as u64,
        ("f32_to_u32", "") => f32_to_u32(ctx, f(0), true) as u64,
        ("f32_to_u32_r", "") => f32_to_u32(ctx, f(0), false) as u64,
        ("f64_to_i32", "") => f64_to_i32(ctx, d(0), true) as u64,
        ("f64_to_i32_r", "") => f64_to_i32(ctx, d(0), false) as u64,
        ("f64_to_u32", "") => f64_to_u32(ctx, d(0), true) as u64,
        ("f64_to_u32_r", "") => f64_to_u32(ctx, d(0), false) as u64,
        ("i32_to_f32", "") => i32_to_f32(ctx, f(0)) as u64,
        ("u32_to_f32", "") => u32_to_f32(ctx, f(0)) as u64,
        ("i32_to_f64", "") => i32_to_f64(ctx, f(0)),
        ("u32_to_f64", "") => u32_to_f64(ctx, f(0)),
        (fixed, params) if fixed.ends_with("fixed") || fixed.starts_with("fixed") => {
            // e.g. "f32_to_fixed" with "s16.5", or "fixed_to_f64" with "u32.17"
            let (kind, fb) = params.split_once('.').expect("fixed params");
            let signed = kind.starts_with('s');
            let size16 = &kind[1..] == "16";
            let fb: u32 = fb.parse().expect("frac bits");
            match fixed {
                "f32_to_fixed" => f32_to_fixed(ctx, f(0), fb, signed, size16) as u64,
                "f64_to_fixed" => f64_to_fixed(ctx, d(0), fb, signed, size16),
                "fixed_to_f32" => fixed_to_f32(ctx, f(0), fb, signed, size16) as u64,
                "fixed_to_f64" => fixed_to_f64(ctx, d(0), fb, signed, size16),
                _ => panic!("unknown op {op}"),
            }
        }
        _ => panic!("unknown op {op}"),
    }
}

pub fn arity(op: &str) -> usize {
    let name = op.split('.').next().unwrap_or(op);
    match name {
        "vmla" | "vmls" | "vnmla" | "vnmls" | "vfma" | "vfms" | "vfnma" | "vfnms" => 3,
        "add" | "sub" | "mul" | "div" | "vnmul" | "cmp" | "cmpe" => 2,
        _ => 1,
    }
}

/// One line of the table.
pub struct Line<'a> {
    pub op: &'a str,
    pub fpscr_in: u32,
    pub ins: Vec<u64>,
    /// The result bits; for compares the NZCV nibble in bits 31:28.
    pub result: u64,
    pub fpscr_out: u32,
}

pub fn parse(line: &str) -> Option<Line<'_>> {
    if line.starts_with('#') || line.trim().is_empty() {
        return None;
    }
    let fields: Vec<&str> = line.split_whitespace().collect();
    let op = fields[0];
    let n = arity(op);
    let fpscr_out = hex(fields[fields.len() - 1]) as u32;
    let result = if op.starts_with("cmp") {
        (fpscr_out & 0xf000_0000) as u64
    } else {
        hex(fields[2 + n])
    };
    Some(Line {
        op,
        fpscr_in: hex(fields[1]) as u32,
        ins: fields[2..2 + n].iter().map(|s| hex(s)).collect(),
        result,
        fpscr_out,
    })
}
