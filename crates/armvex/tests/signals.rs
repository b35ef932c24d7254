//! SIGTERM (or SIGHUP, SIGINT, SIGQUIT) stops a run cleanly: output flushed, one line on
//! stderr, exit status 128 + the signal, as a shell reports it.

use std::io::Read;
use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::time::Duration;

#[test]
fn a_signal_stops_the_run_cleanly() {
    let bench = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../firmware/build/bench.elf");
    assert!(
        bench.is_file(),
        "{} is missing: run `make -C firmware` first",
        bench.display()
    );
    for sig in [libc::SIGTERM, libc::SIGHUP] {
        let mut child = Command::new(env!("CARGO_BIN_EXE_armvex"))
            .args(["run", "--semihosting", "--kernel"])
            .arg(&bench)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        // The benchmark prints its first results within a few hundred million instructions.
        std::thread::sleep(Duration::from_millis(1500));
        // SAFETY: sending a signal to our own child process.
        assert_eq!(unsafe { libc::kill(child.id() as i32, sig) }, 0);
        let mut out = String::new();
        child.stdout.take().unwrap().read_to_string(&mut out).unwrap();
        let mut err = String::new();
        child.stderr.take().unwrap().read_to_string(&mut err).unwrap();
        let status = child.wait().unwrap();
        assert_eq!(status.code(), Some(128 + sig), "{err}");
        assert_eq!(err, format!("armvex: terminating on signal {sig}\n"));
        assert!(!out.is_empty(), "what the guest printed before the signal was kept");
        assert!(!out.contains("checksum:"), "it was stopped before the end");
    }
}
