//! `--profile` on firmware/tests/debuggee.c (built by `make -C firmware`): the report names the
//! program's functions from its ELF symbols, and is identical across two runs.

use std::path::PathBuf;
use std::process::Command;

fn debuggee() -> String {
    let p = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../firmware/build/debuggee.elf");
    assert!(p.is_file(), "{} is missing: run `make -C firmware` first", p.display());
    p.to_str().unwrap().to_string()
}

fn profile(name: &str) -> (String, String) {
    let dir = std::env::temp_dir().join(format!("armvex-profile-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let report = dir.join(format!("{name}.txt"));
    let out = Command::new(env!("CARGO_BIN_EXE_armvex"))
        .args(["run", "--semihosting", "--kernel", &debuggee(), "--profile"])
        .arg(&report)
        .args(["--profile-symbols", &debuggee(), "--profile-every", "64"])
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let folded = dir.join(format!("{name}.txt.folded"));
    (
        std::fs::read_to_string(&report).unwrap(),
        std::fs::read_to_string(&folded).unwrap(),
    )
}

#[test]
fn a_profile_names_functions_and_repeats_exactly() {
    let (a, fa) = profile("a");
    let (b, fb) = profile("b");
    assert_eq!(a, b, "two runs, two different profiles");
    assert_eq!(fa, fb);
    assert!(a.starts_with("armvex profile: 2592 instructions on 1 CPU(s)"), "{a}");
    assert!(a.contains("debuggee.elf"), "{a}");
    // printf formatting and the recurrence are where the time goes; every line sums up.
    for f in ["step", "main", "checksum"] {
        assert!(
            a.lines()
                .any(|l| l.trim_end().ends_with(&format!("  {f}  [cpu0/kernel 100%]"))),
            "{f} missing:\n{a}"
        );
    }
    let total: u64 = fa
        .lines()
        .map(|l| l.rsplit_once(' ').unwrap().1.parse::<u64>().unwrap())
        .sum();
    assert_eq!(total, 2592, "the folded stacks count every instruction once");
    assert!(fa.lines().any(|l| l.starts_with("cpu0;kernel;step ")), "{fa}");
}
