//! Bad input gets one line on stderr and a non-zero exit status, never a panic
//! (DEVELOPERS.md principle 4). Each case runs the real `armvex` binary.

use std::path::PathBuf;
use std::process::Command;

/// A scratch directory for this test binary's files.
fn scratch() -> PathBuf {
    let dir = std::env::temp_dir().join(format!("armvex-bad-input-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

fn file(name: &str, bytes: &[u8]) -> String {
    let path = scratch().join(name);
    std::fs::write(&path, bytes).unwrap();
    path.to_str().unwrap().to_string()
}

/// Run `armvex args...`; check the exit status and that stderr is exactly one line holding
/// `expected`.
fn refuses(args: &[&str], status: i32, expected: &str) {
    let out = Command::new(env!("CARGO_BIN_EXE_armvex"))
        .args(args)
        .output()
        .expect("run armvex");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(status), "armvex {args:?}: stderr {stderr:?}");
    assert_eq!(stderr.lines().count(), 1, "armvex {args:?}: not one line: {stderr:?}");
    assert!(stderr.starts_with("armvex: "), "{stderr:?}");
    assert!(
        stderr.contains(expected),
        "armvex {args:?}: {stderr:?} lacks {expected:?}"
    );
    assert!(
        out.stdout.is_empty(),
        "armvex {args:?} printed {:?}",
        String::from_utf8_lossy(&out.stdout)
    );
}

fn run(extra: &[&str]) -> Vec<String> {
    let mut args = vec!["run".to_string(), "--machine".into(), "vexpress-a9".into()];
    args.extend(extra.iter().map(|s| s.to_string()));
    args
}

fn refuses_run(extra: &[&str], expected: &str) {
    let args = run(extra);
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    refuses(&args, 1, expected);
}

#[test]
fn missing_empty_and_corrupt_kernels() {
    refuses_run(
        &["--kernel", "/nonexistent/vmlinuz"],
        "cannot read kernel /nonexistent/vmlinuz",
    );
    refuses_run(&["--kernel", &file("empty", b"")], "is empty");
    // An ARM ELF header whose one program header lies past the end of the file.
    let mut elf = b"\x7fELF\x01\x01\x01".to_vec();
    elf.resize(52, 0);
    elf[16] = 2; // ET_EXEC
    elf[18] = 40; // EM_ARM
    elf[20] = 1; // EV_CURRENT
    elf[24..28].copy_from_slice(&0x6000_0000u32.to_le_bytes()); // entry
    elf[28] = 52; // program headers right after this header...
    elf[40] = 52;
    elf[42] = 32;
    elf[44] = 1; // ...one of them, which the file does not hold
    refuses_run(&["--kernel", &file("cut.elf", &elf)], "not a valid ELF file");
    let mut x86 = elf.clone();
    x86[18] = 3; // EM_386
    x86[44] = 0; // no program headers: a well-formed file, for the wrong machine
    refuses_run(&["--kernel", &file("x86.elf", &x86)], "not an ARM ELF file (machine 3)");
    let mut wide = x86.clone();
    wide[4] = 2; // ELFCLASS64
    refuses_run(&["--kernel", &file("wide.elf", &wide)], "a 64-bit ELF file");
    let mut big = x86.clone();
    big[5] = 2; // ELFDATA2MSB
    refuses_run(&["--kernel", &file("big.elf", &big)], "a big-endian ELF file");
    // Two PT_LOAD segments over the same bytes: refused, as QEMU does.
    let mut twice = elf.clone();
    twice[44] = 2;
    twice.resize(52 + 64 + 16, 0);
    for (i, offset) in [(0usize, 116u32), (1, 120)] {
        let ph = 52 + 32 * i;
        twice[ph] = 1; // PT_LOAD
        twice[ph + 4..ph + 8].copy_from_slice(&offset.to_le_bytes());
        twice[ph + 12..ph + 16].copy_from_slice(&(0x6000_0000u32 + 4 * i as u32).to_le_bytes()); // paddr
        twice[ph + 16..ph + 20].copy_from_slice(&8u32.to_le_bytes()); // filesz
        twice[ph + 20..ph + 24].copy_from_slice(&8u32.to_le_bytes()); // memsz
    }
    refuses_run(&["--kernel", &file("twice.elf", &twice)], "segments overlap");
    // Not files at all.
    refuses_run(&["--kernel", "/dev/zero"], "it is a character device, not a file");
    let fifo = scratch().join("fifo");
    let c = std::ffi::CString::new(fifo.to_str().unwrap()).unwrap();
    // SAFETY: mkfifo with a valid NUL-terminated path.
    assert_eq!(unsafe { libc::mkfifo(c.as_ptr(), 0o600) }, 0);
    refuses_run(&["--kernel", fifo.to_str().unwrap()], "it is a FIFO, not a file");
    refuses_run(
        &["--kernel", &file("x", b"x"), "--replay", "/dev/zero"],
        "cannot read input recording /dev/zero: it is a character device",
    );
    // A recording that cannot be written stops armvex at once, not after a silent truncation.
    refuses_run(
        &["--kernel", &file("y", b"y"), "--record", "/dev/full"],
        "cannot write the input recording /dev/full: No space left on device",
    );
    // A zImage cut short: its header says how long it is.
    let mut zimage = vec![0u8; 0x1000];
    zimage[0x24..0x28].copy_from_slice(&0x016f_2818u32.to_le_bytes());
    zimage[0x2c..0x30].copy_from_slice(&0x2000u32.to_le_bytes());
    refuses_run(
        &["--kernel", &file("cut.zimage", &zimage)],
        "a truncated zImage (its header says 8192 bytes, the file has 4096)",
    );
    let mut uimage = 0x2705_1956u32.to_be_bytes().to_vec();
    uimage.resize(200, 0x55);
    refuses_run(
        &["--kernel", &file("uImage", &uimage)],
        "a uImage with a corrupt header (CRC mismatch)",
    );
    refuses_run(
        &["--kernel", &file("uImage-short", &uimage[..20])],
        "header is cut short",
    );
}

#[test]
fn bad_machine_memory_and_cpus() {
    let kernel = file("raw-kernel", &[0u8; 4096]);
    refuses(
        &["run", "--machine", "vexpress-a7", "--kernel", &kernel],
        1,
        "unknown machine 'vexpress-a7' (known: vexpress-a9, vexpress-a15)",
    );
    refuses_run(&["--kernel", &kernel, "-m", "12X"], "bad memory size '12X'");
    refuses_run(&["--kernel", &kernel, "-m", "0"], "bad memory size '0'");
    refuses_run(
        &["--kernel", &kernel, "--smp", "9"],
        "vexpress-a9 takes 1 to 4 CPUs, not 9",
    );
    // QEMU's limits (hw/arm/vexpress.c): 1 GiB on the A9, 30 GiB on the A15 (LPAE).
    refuses_run(
        &["--kernel", &kernel, "-m", "1025M"],
        "vexpress-a9 cannot have more than 1024 MiB of RAM (asked for 1025 MiB)",
    );
    refuses(
        &["run", "--machine", "vexpress-a15", "--kernel", &kernel, "-m", "31G"],
        1,
        "vexpress-a15 cannot have more than 30720 MiB of RAM (asked for 31744 MiB)",
    );
}

#[test]
fn bad_device_tree_initrd_and_drives() {
    let kernel = file("raw-kernel2", &[0u8; 4096]);
    let junk: Vec<u8> = (0..3000u32).map(|i| (i * 7 + 3) as u8).collect();
    refuses_run(
        &["--kernel", &kernel, "--dtb", &file("junk.dtb", &junk)],
        "not a valid device tree",
    );
    refuses_run(
        &["--kernel", &kernel, "--dtb", "/nonexistent.dtb"],
        "cannot read /nonexistent.dtb: no such file",
    );
    refuses_run(
        &["--kernel", &kernel, "--initrd", "/tmp"],
        "cannot read /tmp: is a directory",
    );
    refuses_run(
        &["--kernel", &kernel, "--drive", "file=/nonexistent.img"],
        "cannot open disk image /nonexistent.img",
    );
    let image = file("disk.img", &[0u8; 4096]);
    refuses_run(
        &["--kernel", &kernel, "--drive", &format!("file={image},format=qcow2")],
        "--drive format=qcow2 is not supported (only raw)",
    );
    refuses_run(
        &["--kernel", &kernel, "--drive", &format!("file={image},readonly=maybe")],
        "bad --drive readonly=maybe",
    );
    // A repeated key is an error, not "the last one wins".
    refuses_run(
        &[
            "--kernel",
            &kernel,
            "--drive",
            &format!("file={image},readonly=on,readonly=off"),
        ],
        "--drive readonly= is given twice",
    );
    // Not disk images: a character device (once a zero-sector disk, silently), a FIFO (once a
    // hang in open), an empty file.
    refuses_run(
        &["--kernel", &kernel, "--drive", "file=/dev/null"],
        "disk image /dev/null is a character device, not a disk image",
    );
    let fifo = scratch().join("fifo.img");
    let c = std::ffi::CString::new(fifo.to_str().unwrap()).unwrap();
    // SAFETY: mkfifo with a valid NUL-terminated path.
    assert_eq!(unsafe { libc::mkfifo(c.as_ptr(), 0o600) }, 0);
    refuses_run(
        &["--kernel", &kernel, "--drive", &format!("file={}", fifo.display())],
        "is a FIFO, not a disk image",
    );
    refuses_run(
        &[
            "--kernel",
            &kernel,
            "--drive",
            &format!("file={}", file("empty.img", b"")),
        ],
        "is empty (a disk needs at least one 512-byte sector)",
    );
    // One image, two writers: refused as QEMU does ("Failed to get write lock").
    refuses_run(
        &[
            "--kernel",
            &kernel,
            "--drive",
            &format!("file={image}"),
            "--drive",
            &format!("file={image}"),
        ],
        "cannot get its write lock: is another armvex or QEMU (or another --drive) using it?",
    );
    refuses_run(
        &[
            "--kernel",
            &kernel,
            "--drive",
            &format!("file={image},readonly=on"),
            "--sd",
            &image,
        ],
        "lock: is another armvex or QEMU (or another --drive) using it?",
    );
}

#[test]
fn a_path_with_a_comma_is_written_with_two() {
    // QEMU's escape: `,,` in an option value is one comma.
    let kernel = file("raw-kernel3", &[0u8; 4096]);
    let image = file("comma,disk.img", &[0u8; 8192]);
    let escaped = image.replace(',', ",,");
    let out = Command::new(env!("CARGO_BIN_EXE_armvex"))
        .args(run(&["--kernel", &kernel, "--max-instructions", "100", "--drive"]))
        .arg(format!("file={escaped},readonly=on"))
        .output()
        .expect("run armvex");
    assert_eq!(out.status.code(), Some(0), "{}", String::from_utf8_lossy(&out.stderr));
    let unescaped = image.clone();
    refuses_run(
        &["--kernel", &kernel, "--drive", &format!("file={unescaped}")],
        "bad --drive option 'disk.img' (expected key=value)",
    );
}

#[test]
fn bad_options_are_one_line_too() {
    refuses(
        &["run", "--rtc-base", "abc", "--kernel", "x"],
        2,
        "invalid value 'abc' for '--rtc-base",
    );
    refuses(
        &["run", "--machine", "vexpress-a9"],
        2,
        "required arguments were not provided: --kernel",
    );
    refuses(&["run", "--bogus"], 2, "unexpected argument '--bogus'");
}
