#!/usr/bin/env python3
"""neon.py -- differential test of crates/armvex-neon against QEMU, without the CPU.

For each seed: generate random Advanced SIMD instructions (isa/neon.py; A32 or
T32), build a bare-metal program around them with the shared harness
(harness.py), run it under ``qemu-system-arm -M vexpress-a15 -cpu cortex-a15`` (or the
A9 board and core),
and write a *case file*: the initial state, every instruction word with its
setup, QEMU's state after each one, and the data buffer before and after.
Then ``neon-replay`` (a binary of armvex-neon) executes the same words from
the same state with the crate and compares every record bit for bit.

Usage:

    tools/difftest/neon.py --ci          # CI size: 8 seeds x 300, A32 and T32, A9 and A15
    tools/difftest/neon.py --long        # 30 seeds x 1000, A32 and T32, A9 and A15
    --cpu a9|a15|both  (vexpress-a9 -cpu cortex-a9: no VFMA/VFMS; vexpress-a15 -cpu cortex-a15)
    tools/difftest/neon.py --isa thumb --seed 5 --count 500 --keep DIR
    tools/difftest/neon.py --ci --out crates/armvex-neon/tests/qemu
        (re)write the stored cases that ``cargo test -p armvex-neon`` replays
    --pattern REGEX   only the groups whose name matches (3same, shift, modimm,
                      3diff, scalar, 2misc, vtbl, vdup, vext, ls_multi,
                      ls_single, ls_all, xfer)

Case file format (text, one item per line, hex without 0x):

    neon-case 1
    isa arm|thumb
    cpu cortex-a9|cortex-a15
    buf BASE N              data buffer address and size in words
    mem W0 W1 ...           the buffer before
    init W0 ... W81         record 0 (see isa/neon.py STATE_NAMES)
    i A32WORD [REG=VALUE ...] [dN=VALUE ...]   an instruction, and the core
                            registers and D registers (64-bit) its setup loads first
    r IDX=VALUE ...         QEMU's record after it: the words that differ
                            from the previous record
    final W0 W1 ...         the buffer after
"""

from __future__ import annotations

import argparse
import concurrent.futures
import os
import random
import re
import subprocess
import sys
import tempfile
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

import harness  # noqa: E402
from isa import neon  # noqa: E402

# vexpress-a15 uses the board's "A series" memory map: RAM at 0x80000000, not the
# Cortex-A9 daughterboard's 0x60000000 that harness.py assumes: there everything moves up.
ORIGINAL = {k: getattr(harness, k) for k in
            ("TEXT_BASE", "BUF_BASE", "LOG_BASE", "HEX_BASE", "LINKER_SCRIPT")}
CPUS = {"a9": ("vexpress-a9", "cortex-a9", 0), "a15": ("vexpress-a15", "cortex-a15", 0x20000000)}


def use_board(cpu: str) -> None:
    """Point the shared harness at the board's RAM (not thread-safe: one board at a time)."""
    shift = CPUS[cpu][2]
    for k in ("TEXT_BASE", "BUF_BASE", "LOG_BASE", "HEX_BASE"):
        setattr(harness, k, ORIGINAL[k] + shift)
    harness.LINKER_SCRIPT = ORIGINAL["LINKER_SCRIPT"].replace(
        f"0x{ORIGINAL['TEXT_BASE']:08x}", f"0x{harness.TEXT_BASE:08x}").replace(
        f"0x{ORIGINAL['BUF_BASE']:08x}", f"0x{harness.BUF_BASE:08x}")
    Ctx.buf_base = harness.BUF_BASE

REPO = HERE.parent.parent
CI_SEEDS = list(range(1, 9))
CI_COUNT = 300
LONG_SEEDS = list(range(100, 130))
LONG_COUNT = 1000
GCC = "arm-none-eabi-gcc"


class Ctx:
    buf_base = harness.BUF_BASE
    buf_size = harness.BUF_SIZE


def make(seed: int, count: int, thumb: bool, cpu: str, select=None):
    rng = random.Random(seed * 4 + (1 if thumb else 0) + (2 if cpu == "a9" else 0))
    isa = neon.THUMB if thumb else neon.ARM
    state = neon.initial_state(rng)
    buffer = [rng.getrandbits(32) for _ in range(harness.BUF_SIZE // 4)]
    insns = neon.generate(rng, count, Ctx, select, thumb)
    return isa, state, buffer, insns


def build(isa, state, buffer, insns, workdir: Path) -> Path:
    src = workdir / "prog.S"
    ld = workdir / "link.ld"
    elf = workdir / "prog.elf"
    src.write_text(harness.program_source(isa, state, buffer, insns))
    ld.write_text(harness.LINKER_SCRIPT)
    r = subprocess.run([GCC, "-nostdlib", "-nostartfiles", "-T", str(ld), "-o", str(elf),
                        str(src)], capture_output=True, text=True)
    if r.returncode != 0:
        raise RuntimeError(f"assembling {src} failed:\n{r.stderr[-3000:]}")
    return elf


def run_qemu(elf: Path, cpu: str):
    board, core, _ = CPUS[cpu]
    cmd = ["qemu-system-arm", "-M", board, "-cpu", core, "-display", "none",
           "-monitor", "none", "-serial", "none", "-semihosting", "-kernel", str(elf)]
    r = subprocess.run(cmd, capture_output=True, timeout=120,
                       env=dict(os.environ, QEMU_AUDIO_DRV="none"))
    text = r.stdout.decode("latin-1")
    records, mem, exc, section, complete = [], [], None, None, False
    for line in text.splitlines():
        if line in ("LOG", "MEM", "EXC"):
            section = line
            continue
        if line == "END":
            complete = True
            break
        words = [int(x, 16) for x in line.split()]
        if section == "LOG":
            records.append(words)
        elif section == "MEM":
            mem.extend(words)
        elif section == "EXC":
            exc = words
    return r.returncode, records, mem, exc, complete


def case_text(thumb, cpu, state, buffer, insns, records, mem) -> str:
    out = ["neon-case 1", f"isa {'thumb' if thumb else 'arm'}", f"cpu {CPUS[cpu][1]}",
           f"buf {harness.BUF_BASE:x} {len(buffer)}",
           "mem " + " ".join(f"{w:x}" for w in buffer),
           "init " + " ".join(f"{w:x}" for w in records[0])]
    prev = records[0]
    for insn, rec in zip(insns, records[1:]):
        setup = " ".join([f"{r}={v:x}" for r, v in insn.setup]
                         + [f"d{r}={v:x}" for r, v in insn.dsetup])
        out.append(f"i {insn.word:08x}" + (" " + setup if setup else ""))
        diff = " ".join(f"{i}={w:x}" for i, (w, p) in enumerate(zip(rec, prev)) if w != p)
        out.append("r" + (" " + diff if diff else ""))
        prev = rec
    out.append("final " + " ".join(f"{w:x}" for w in mem))
    return "\n".join(out) + "\n"


def one(seed: int, count: int, thumb: bool, cpu: str, args) -> tuple[str, Path | None, str]:
    """Build and run one seed under QEMU; write its case file. (name, case, problem)"""
    name = f"{cpu}-{'thumb' if thumb else 'arm'}-{seed}"
    select = re.compile(args.pattern).search if args.pattern else None
    isa, state, buffer, insns = make(seed, count, thumb, cpu, select)
    keep = Path(args.keep) / name if args.keep else None
    tmp = None
    if keep:
        keep.mkdir(parents=True, exist_ok=True)
        workdir = keep
    else:
        tmp = tempfile.TemporaryDirectory(prefix=f"neon-{name}-")
        workdir = Path(tmp.name)
    try:
        elf = build(isa, state, buffer, insns, workdir)
        rc, records, mem, exc, complete = run_qemu(elf, cpu)
        if rc != 0 or not complete or len(records) != count + 1:
            why = f"exit {rc}, {len(records)} records of {count + 1}"
            if exc:
                why += f", unexpected exception {exc}"
            return name, None, f"QEMU did not run {name} cleanly (harness bug): {why}"
        outdir = Path(args.out) if args.out else workdir
        outdir.mkdir(parents=True, exist_ok=True)
        case = outdir / f"{name}.case"
        case.write_text(case_text(thumb, cpu, state, buffer, insns, records, mem))
        if tmp and not args.out:
            # the replay runs after the pool; keep the file outside the temporary dir
            dest = Path(args.casedir) / case.name
            dest.write_text(case.read_text())
            case = dest
        return name, case, ""
    finally:
        if tmp:
            tmp.cleanup()


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--isa", choices=("arm", "thumb", "both"), default="both")
    ap.add_argument("--cpu", choices=("a9", "a15", "both"), default="both")
    ap.add_argument("--seed", type=int)
    ap.add_argument("--seeds")
    ap.add_argument("--count", type=int, default=CI_COUNT)
    ap.add_argument("--ci", action="store_true")
    ap.add_argument("--long", action="store_true")
    ap.add_argument("--pattern")
    ap.add_argument("--keep")
    ap.add_argument("--out", help="write the case files here and do not replay")
    ap.add_argument("--jobs", type=int, default=2)
    ap.add_argument("--replay", default=str(REPO / "target/release/neon-replay"))
    args = ap.parse_args()

    if args.ci:
        seeds, count = CI_SEEDS, CI_COUNT
    elif args.long:
        seeds, count = LONG_SEEDS, LONG_COUNT
    elif args.seeds:
        a, _, b = args.seeds.partition("-")
        seeds = list(range(int(a), int(b) + 1)) if b else [int(x) for x in args.seeds.split(",")]
        count = args.count
    else:
        seeds, count = [args.seed if args.seed is not None else 1], args.count
    isas = [False, True] if args.isa == "both" else [args.isa == "thumb"]

    with tempfile.TemporaryDirectory(prefix="neon-cases-") as casedir:
        args.casedir = casedir
        cases, problems = [], []
        for cpu in (["a9", "a15"] if args.cpu == "both" else [args.cpu]):
            use_board(cpu)
            jobs = [(s, t) for t in isas for s in seeds]
            with concurrent.futures.ThreadPoolExecutor(args.jobs) as pool:
                for name, case, problem in pool.map(lambda j: one(j[0], count, j[1], cpu, args), jobs):
                    if problem:
                        problems.append(problem)
                    else:
                        cases.append(case)
        for p in problems:
            print(p)
        if args.out:
            print(f"neon: wrote {len(cases)} case files to {args.out}")
            return 1 if problems else 0
        if not Path(args.replay).exists():
            print(f"neon: {args.replay} is missing (cargo build --release -p armvex-neon)")
            return 1
        r = subprocess.run([args.replay, *map(str, cases)])
        return 1 if problems or r.returncode != 0 else 0


if __name__ == "__main__":
    sys.exit(main())
