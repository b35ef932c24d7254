//! The build fingerprint of the saved state's format.
//!
//! A snapshot holds the state of every CPU and device as their Rust types encode it (serde and
//! postcard). Those types have no version numbers of their own: a field added to a device's
//! state, or a change in how a device behaves, makes an older snapshot mean something else.
//! So the header of a snapshot file carries a fingerprint of the source code that defines the
//! saved types and the behaviour that follows from them, and a snapshot written by a build
//! with another fingerprint is refused (see `src/format.rs`).
//!
//! The fingerprint is xxh3-64 over every file under `src/` of the crates below, their
//! `Cargo.toml` and the board descriptions, each taken as (path relative to the repository,
//! length, contents), in sorted path order. Any change there, even a comment, gives a new
//! fingerprint: it errs on the safe side.

use std::path::{Path, PathBuf};

/// Crates whose types are saved in a snapshot, or whose behaviour a resumed run depends on.
const CRATES: &[&str] = &[
    "armvex-bus",
    "armvex-cpu",
    "armvex-fpu",
    "armvex-devices",
    "armvex-virtio",
    "armvex-machine",
    "armvex-semihosting",
];

fn main() {
    let manifest = PathBuf::from(std::env::var_os("CARGO_MANIFEST_DIR").expect("cargo sets CARGO_MANIFEST_DIR"));
    let crates = manifest.parent().expect("this crate lives in crates/");
    let root = crates.parent().expect("crates/ lives in the repository");
    let mut files = Vec::new();
    for name in CRATES {
        let dir = crates.join(name);
        files.push(dir.join("Cargo.toml"));
        collect(&dir.join("src"), &mut files);
        println!("cargo:rerun-if-changed={}", dir.join("src").display());
        println!("cargo:rerun-if-changed={}", dir.join("Cargo.toml").display());
    }
    collect(&root.join("boards"), &mut files);
    println!("cargo:rerun-if-changed={}", root.join("boards").display());
    files.sort();

    let mut hasher = xxhash_rust::xxh3::Xxh3::new();
    for file in &files {
        let contents = std::fs::read(file).unwrap_or_else(|e| panic!("cannot read {}: {e}", file.display()));
        let relative = file.strip_prefix(root).unwrap_or(file);
        let name = relative.to_string_lossy();
        hasher.update(&(name.len() as u64).to_le_bytes());
        hasher.update(name.as_bytes());
        hasher.update(&(contents.len() as u64).to_le_bytes());
        hasher.update(&contents);
    }
    let out = PathBuf::from(std::env::var_os("OUT_DIR").expect("cargo sets OUT_DIR")).join("fingerprint.rs");
    let code = format!(
        "/// The build fingerprint of the saved state's format (see build.rs).\npub const FINGERPRINT: u64 = {:#018x};\n",
        hasher.digest()
    );
    std::fs::write(&out, code).unwrap_or_else(|e| panic!("cannot write {}: {e}", out.display()));
}

/// Every file under `dir`, recursively.
fn collect(dir: &Path, out: &mut Vec<PathBuf>) {
    let entries = std::fs::read_dir(dir).unwrap_or_else(|e| panic!("cannot list {}: {e}", dir.display()));
    for entry in entries {
        let path = entry
            .unwrap_or_else(|e| panic!("cannot list {}: {e}", dir.display()))
            .path();
        if path.is_dir() {
            collect(&path, out);
        } else {
            out.push(path);
        }
    }
}
