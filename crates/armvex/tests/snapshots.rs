//! `--snapshot-at` and `--loadvm` through the command line, on firmware/tests/debuggee.c (built
//! by `make -C firmware`): the resumed runs print what the straight run printed after each
//! snapshot and end at the same instruction, and bad snapshot files are one-line errors.

use std::path::PathBuf;
use std::process::Command;

fn debuggee() -> String {
    let p = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../firmware/build/debuggee.elf");
    assert!(p.is_file(), "{} is missing: run `make -C firmware` first", p.display());
    p.to_str().unwrap().to_string()
}

fn scratch(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("armvex-snapshots-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    dir.join(name)
}

fn armvex(args: &[&str]) -> (Option<i32>, String, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_armvex")).args(args).output().unwrap();
    (
        out.status.code(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// The final instruction count `--stats` reports ("... ended at N" after a resume).
fn final_count(stderr: &str) -> u64 {
    let line = stderr
        .lines()
        .find(|l| l.contains("MIPS"))
        .unwrap_or_else(|| panic!("no stats: {stderr}"));
    match line.rsplit_once("ended at ") {
        Some((_, n)) => n.trim_end_matches(')').parse().unwrap(),
        None => line["armvex: ".len()..].split(' ').next().unwrap().parse().unwrap(),
    }
}

#[test]
fn resumed_snapshots_end_like_the_straight_run() {
    // The debuggee runs 2592 instructions in all.
    let points = [0u64, 1, 333, 2000, 2591];
    let files: Vec<PathBuf> = points.iter().map(|p| scratch(&format!("at-{p}.snap"))).collect();
    let mut args = vec![
        "run".to_string(),
        "--semihosting".into(),
        "--stats".into(),
        "--kernel".into(),
        debuggee(),
    ];
    for (p, f) in points.iter().zip(&files) {
        args.push("--snapshot-at".into());
        args.push(format!("{p}:{}", f.display()));
    }
    let never = scratch("never.snap");
    args.push("--snapshot-at".into());
    args.push(format!("9999:{}", never.display()));
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let (status, out, err) = armvex(&args);
    assert_eq!(status, Some(0), "{err}");
    assert!(out.starts_with("debuggee: counter=2615088290"), "{out}");
    let straight = final_count(&err);
    assert_eq!(straight, 2592);
    assert!(
        err.contains(&format!(
            "no snapshot {}: the run ended at instruction 2592, before 9999",
            never.display()
        )),
        "{err}"
    );
    assert!(!never.exists());
    for (p, f) in points.iter().zip(&files) {
        assert!(
            err.contains(&format!("snapshot {} at instruction {p}:", f.display())),
            "{err}"
        );
        let (status2, out2, err2) = armvex(&["run", "--stats", "--loadvm", f.to_str().unwrap()]);
        assert_eq!(status2, Some(0), "resumed at {p}: {err2}");
        // The debuggee prints its one line near its end: after instruction 2000, before 2591.
        let expected = if *p <= 2000 { out.as_str() } else { "" };
        assert_eq!(out2, expected, "resumed at {p}");
        assert_eq!(final_count(&err2), straight, "resumed at {p}: {err2}");
        assert!(err2.contains(&format!("resumed at instruction {p}")), "{err2}");
    }
}

#[test]
fn bad_snapshot_options_and_files_are_one_line_errors() {
    let snap = scratch("good.snap");
    let (status, _, err) = armvex(&[
        "run",
        "--semihosting",
        "--kernel",
        &debuggee(),
        "--snapshot-at",
        &format!("100:{}", snap.display()),
    ]);
    assert_eq!(status, Some(0), "{err}");
    let bytes = std::fs::read(&snap).unwrap();
    let truncated = scratch("truncated.snap");
    std::fs::write(&truncated, &bytes[..bytes.len() / 2]).unwrap();
    let random = scratch("random.snap");
    std::fs::write(
        &random,
        (0..5000u32).map(|i| (i * 7919 % 251) as u8).collect::<Vec<_>>(),
    )
    .unwrap();
    let cases: Vec<(Vec<String>, &str)> = vec![
        (vec!["--loadvm".into(), "/nonexistent.snap".into()], "/nonexistent.snap"),
        (vec!["--loadvm".into(), truncated.display().to_string()], "is truncated"),
        (
            vec!["--loadvm".into(), random.display().to_string()],
            "not an armvex snapshot",
        ),
        (
            vec![
                "--loadvm".into(),
                snap.display().to_string(),
                "--kernel".into(),
                debuggee(),
            ],
            "--kernel cannot change it",
        ),
        (
            vec![
                "--kernel".into(),
                debuggee(),
                "--snapshot-at".into(),
                "soon:x.snap".into(),
            ],
            "soon is not an instruction count",
        ),
        (
            vec!["--kernel".into(), debuggee(), "--snapshot-at".into(), "5".into()],
            "expected N:FILE",
        ),
        (
            vec![
                "--kernel".into(),
                debuggee(),
                "--snapshot-at".into(),
                "5:x".into(),
                "-s".into(),
            ],
            "monitor savevm",
        ),
        (
            vec![
                "--loadvm".into(),
                snap.display().to_string(),
                "--snapshot-at".into(),
                "50:y.snap".into(),
            ],
            "resumes at instruction 100",
        ),
    ];
    for (extra, expected) in cases {
        let mut args = vec!["run".to_string()];
        args.extend(extra);
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        let (status, out, err) = armvex(&args);
        assert_eq!(status, Some(1), "{args:?}: {err}");
        assert_eq!(err.lines().count(), 1, "{args:?}: {err:?}");
        assert!(
            err.starts_with("armvex: ") && err.contains(expected),
            "{args:?}: {err:?} lacks {expected:?}"
        );
        assert!(out.is_empty(), "{args:?}: {out}");
    }
}

/// A recording hashes the machine state now and then; a replay that does not reach the same
/// state stops and says between which instructions it went another way.
#[test]
fn a_replay_that_goes_another_way_says_where() {
    let rec = scratch("hashes.rec");
    let out = Command::new(env!("CARGO_BIN_EXE_armvex"))
        .args([
            "run",
            "--semihosting",
            "--kernel",
            &debuggee(),
            "--rtc-base",
            "7",
            "--record",
        ])
        .arg(&rec)
        .env("ARMVEX_STATE_HASH_EVERY", "500")
        .stdin(std::process::Stdio::null())
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let text = std::fs::read_to_string(&rec).unwrap();
    assert!(text.contains("state-hash-every 500\n"), "{text}");
    let hashes: Vec<&str> = text.lines().filter(|l| l.contains(" state-hash ")).collect();
    assert!(hashes.len() >= 5, "{text}");
    let replay = |recording: &PathBuf| {
        armvex(&[
            "run",
            "--semihosting",
            "--kernel",
            &debuggee(),
            "--replay",
            recording.to_str().unwrap(),
        ])
    };
    // The replay as recorded: fine.
    let (status, _, err) = replay(&rec);
    assert_eq!(status, Some(0), "{err}");
    // A recording whose third hash says otherwise: the replay stops there.
    let third: u64 = hashes[3].split(' ').next().unwrap().parse().unwrap();
    let second: u64 = hashes[2].split(' ').next().unwrap().parse().unwrap();
    let wrong = text.replace(hashes[3], &format!("{third} state-hash 0123456789abcdef"));
    let bad = scratch("diverged.rec");
    std::fs::write(&bad, wrong).unwrap();
    let (status, _, err) = replay(&bad);
    assert_eq!(status, Some(1), "{err}");
    assert!(
        err.contains(&format!(
            "the replay diverged from its recording between instructions {second} and {third}"
        )),
        "{err}"
    );
}
