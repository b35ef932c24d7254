#!/usr/bin/env python3
"""difftest -- risu-style random-instruction differential tester for armvex.

Generates a bare-metal ARM program from a seed: random initial registers and
flags, a 4 KiB data buffer of random words, then N random instructions drawn
from bit patterns of the instruction classes of one instruction set:

    --isa arm    A32 integer (isa/arm.py); the default
    --isa thumb  T32 integer, 16- and 32-bit encodings, run in Thumb state,
                 with IT blocks (isa/thumb.py)
    --isa vfp    VFPv3-D32 scalar floating point in ARM state (isa/vfp.py)
    --isa neon   Advanced SIMD (NEON), A32 encodings in ARM state, UNDEFINED
                 ones and alignment faults included (isa/neon.py)
    --isa neon_thumb  the same words' T32 encodings in Thumb state
                 (isa/neon_thumb.py)

After every instruction the harness logs the state (arm: r0-r12, lr, CPSR;
thumb: also SP; vfp: also SP, S0-S31, D16-D31 and FPSCR); at the end it
prints the log and the data buffer as hex text through semihosting.  The
program runs under QEMU (the oracle) and under armvex; the outputs must be
equal.  A Thumb IT block (the IT instruction and its 1-4 conditional
instructions) is one unit: it is logged once, after its last instruction,
and reported as a whole; --count counts units.

Usage:

    tools/difftest/difftest.py --isa thumb --seed 7 --count 500
        build, run under QEMU and armvex, compare; on a mismatch report the
        first differing unit (index, encoding, disassembly, setup, state
        before it, the differing values from each emulator)
    tools/difftest/difftest.py --ci [--isa arm|thumb|vfp|neon|neon_thumb]
        the ISA's fixed CI seed list, 2 in parallel: arm 24 seeds x 500,
        thumb and vfp 24 seeds x 1000 units, neon and neon_thumb 8 seeds x
        300 (tools/test runs more: --seeds 1-40 --count 500); prints e.g.
        "difftest arm: 12000 instructions, 24 seeds, 0 mismatches" (the
        number of random instructions, IT instructions and their members
        included) and exits 1 on any mismatch.  Without --isa: arm.
    --qemu-only         no armvex: run QEMU twice and require identical,
                        complete output, and check the generator's
                        assumptions against the run (addresses of every
                        load/store, STREX results): validates the
                        generator/harness
    --armvex PATH       armvex binary (default $ARMVEX, else
                        target/release/armvex in the repository)
    --keep DIR          keep the generated sources, ELF and outputs in DIR
    --pattern REGEX     only instruction classes whose name matches
                        (thumb: IT blocks only if IT_block matches, and
                        their members come from the selected classes,
                        e.g. --pattern '^IT_block|_n$')
    --list              list the instruction classes and their weights
    --seeds A-B | A,B,C several seeds (with --count); --jobs N workers
    -v                  print per-seed timings

Reproducing a CI failure: the report prints the exact command, e.g.
    tools/difftest/difftest.py --isa thumb --seed 13 --count 1000 --keep /tmp/d13
then /tmp/d13/prog.S is the program (each random unit is labelled insn_<k>),
prog.elf the binary, qemu.out / armvex.out the outputs.

Requirements: Python 3.11 (stdlib only), arm-none-eabi-gcc and objdump,
qemu-system-arm.  Generation is fully reproducible: random.Random(seed).
"""

from __future__ import annotations

import argparse
import concurrent.futures
import dataclasses
import os
import random
import re
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

import harness  # noqa: E402
import isa as isa_registry  # noqa: E402
from pattern import GenContext, GenerationError, Insn  # noqa: E402

REPO = HERE.parent.parent
CI_SEEDS = list(range(1, 25))
CI_COUNT = 500
MAX_COUNT = 100_000
RUN_TIMEOUT = 30.0
GCC = "arm-none-eabi-gcc"
OBJDUMP = "arm-none-eabi-objdump"
NM = "arm-none-eabi-nm"


# ---------------------------------------------------------------------------
# Programs

@dataclasses.dataclass
class Program:
    isa: object
    seed: int
    count: int
    state: dict
    buffer: list[int]
    insns: list[Insn]
    elf: Path | None = None


def make_program(isa, seed: int, count: int, select=None) -> Program:
    rng = random.Random(seed)
    state = isa.initial_state(rng)
    buffer = [rng.getrandbits(32) for _ in range(harness.BUF_SIZE // 4)]
    ctx = GenContext(rng, harness.BUF_BASE, harness.BUF_SIZE)
    insns = isa.generate(rng, count, ctx, select)
    return Program(isa, seed, count, state, buffer, insns)


def build(prog: Program, workdir: Path, upto: int | None = None,
          stem: str = "prog") -> Path:
    """Assemble and link the program (its first ``upto`` instructions)."""
    insns = prog.insns if upto is None else prog.insns[:upto]
    src = workdir / f"{stem}.S"
    ld = workdir / "link.ld"
    elf = workdir / f"{stem}.elf"
    src.write_text(harness.program_source(prog.isa, prog.state, prog.buffer, insns))
    ld.write_text(harness.LINKER_SCRIPT)
    r = subprocess.run([GCC, "-nostdlib", "-nostartfiles", "-T", str(ld),
                        "-o", str(elf), str(src)], capture_output=True, text=True)
    if r.returncode != 0:
        raise RuntimeError(f"assembling {src} failed:\n{r.stderr}")
    return elf


def symbol_addresses(elf: Path) -> dict[str, int]:
    r = subprocess.run([NM, str(elf)], capture_output=True, text=True, check=True)
    out = {}
    for line in r.stdout.splitlines():
        parts = line.split()
        if len(parts) == 3:
            out[parts[2]] = int(parts[0], 16)
    return out


def disassemble_range(elf: Path, addr: int, nbytes: int) -> dict[int, str]:
    """{address: disassembly} for the instructions in [addr, addr+nbytes).
    objdump follows the mapping symbols ($a/$t) for ARM or Thumb, and the
    IT state when the range starts at an IT instruction."""
    r = subprocess.run([OBJDUMP, "-d", f"--start-address={addr:#x}",
                        f"--stop-address={addr + nbytes:#x}", str(elf)],
                       capture_output=True, text=True)
    out = {}
    for line in r.stdout.splitlines():
        m = re.match(r"\s*([0-9a-f]+):\t[0-9a-f ]+\t(.*)", line)
        if m:
            text = re.split(r"\s[@;]", m.group(2))[0]
            out[int(m.group(1), 16)] = re.sub(r"\s+", " ", text).strip()
    return out


def disassemble(elf: Path, addr: int, nbytes: int = 4) -> str:
    return "; ".join(disassemble_range(elf, addr, nbytes).values()) or "?"


# ---------------------------------------------------------------------------
# Emulators

@dataclasses.dataclass
class Output:
    rc: int | None
    text: str
    stderr: str
    seconds: float
    records: list[tuple[int, ...]] = dataclasses.field(default_factory=list)
    mem: list[int] = dataclasses.field(default_factory=list)
    exc: tuple[int, ...] | None = None
    complete: bool = False
    problem: str = ""     # why the output is unusable, if it is


def qemu_cmd(elf: Path) -> list[str]:
    return ["qemu-system-arm", "-M", "vexpress-a9", "-display", "none",
            "-monitor", "none", "-serial", "none", "-semihosting",
            "-kernel", str(elf)]


def armvex_cmd(armvex: str, elf: Path) -> list[str]:
    return [armvex, "run", "--machine", "vexpress-a9", "--semihosting",
            "--kernel", str(elf)]


def run(cmd: list[str], record_words: int) -> Output:
    env = dict(os.environ, QEMU_AUDIO_DRV="none")
    t0 = time.monotonic()
    try:
        r = subprocess.run(cmd, capture_output=True, env=env, timeout=RUN_TIMEOUT)
        rc, out, err = r.returncode, r.stdout, r.stderr
    except subprocess.TimeoutExpired as e:
        rc, out, err = None, e.stdout or b"", e.stderr or b""
    except OSError as e:
        rc, out, err = None, b"", str(e).encode()
    o = Output(rc, out.decode("latin-1"), err.decode("latin-1", "replace"),
               time.monotonic() - t0)
    parse_output(o, record_words)
    if rc is None and not o.problem:
        o.problem = f"no exit within {RUN_TIMEOUT:.0f} s"
    return o


def parse_output(o: Output, record_words: int) -> None:
    section = None
    try:
        for line in o.text.splitlines():
            if line in ("LOG", "MEM", "EXC"):
                section = line
                continue
            if line == "END":
                o.complete = True
                break
            words = tuple(int(w, 16) for w in line.split())
            if section == "LOG":
                if len(words) != record_words:
                    raise ValueError(f"log line with {len(words)} words")
                o.records.append(words)
            elif section == "MEM":
                o.mem.extend(words)
            elif section == "EXC":
                o.exc = words
            else:
                raise ValueError(f"text outside a section: {line[:60]!r}")
    except ValueError as e:
        o.problem = f"unparseable output: {e}"
        return
    if not o.complete:
        o.problem = "output incomplete (no END line)"


# ---------------------------------------------------------------------------
# Comparison and reports

EXC_NAMES = ["reset", "undefined", "SVC", "prefetch abort", "data abort",
             "hyp", "IRQ", "FIQ"]


def describe_exc(exc) -> str:
    vec, lr, spsr, dfsr, dfar = exc
    s = f"{EXC_NAMES[vec] if vec < 8 else vec} exception, LR={lr:#010x}"
    if vec == 4:
        s += f", DFSR={dfsr:#x}, DFAR={dfar:#010x}"
    return s


def same_output(a: Output, b: Output) -> bool:
    return (a.rc == b.rc and a.records == b.records and a.mem == b.mem
            and a.exc == b.exc and a.complete == b.complete)


def fmt_regs(names, values, only=None) -> str:
    items = [f"{n}={v:08x}" for i, (n, v) in enumerate(zip(names, values))
             if only is None or i in only]
    return " ".join(items)


def state_key_name(key) -> str:
    """A setup target (core register number or state name) as a state name."""
    if isinstance(key, str):
        return key
    return {13: "sp", 14: "lr", 15: "pc"}.get(key, f"r{key}")


class Reporter:
    def __init__(self, prog: Program, elf: Path, a_name: str, b_name: str):
        self.prog = prog
        self.elf = elf
        self.a_name, self.b_name = a_name, b_name
        self.names = prog.isa.STATE_NAMES
        self._syms = None
        # Words of a record shown decoded when they differ or in "before".
        self.formatters = getattr(prog.isa, "FORMATTERS", None) or (
            {"cpsr": prog.isa.format_psr} if "cpsr" in self.names else {})

    def insn_addr(self, k: int) -> int | None:
        if self._syms is None:
            self._syms = symbol_addresses(self.elf)
        return self._syms.get(f"insn_{k}")

    def state_before(self, k: int, record: tuple[int, ...]) -> list[int]:
        """The state right before instruction k: the record after k-1 with
        the setup's MOVW/MOVT values applied."""
        regs = list(record)
        for r, v in self.prog.isa.setup_regs_after(self.prog.insns[k]).items():
            name = state_key_name(r)
            if name in self.names:
                regs[self.names.index(name)] = v
        if hasattr(self.prog.isa, "adjust_before"):
            regs = self.prog.isa.adjust_before(self.prog.insns[k], regs)
        return regs

    def notes(self, record, only) -> str:
        """Decoded forms of the formatted words among ``only``."""
        out = []
        for name, f in self.formatters.items():
            if name in self.names and self.names.index(name) in only:
                out.append(f"{name}: {f(record[self.names.index(name)])}")
        if hasattr(self.prog.isa, "value_notes"):
            out += self.prog.isa.value_notes(self.names, record, only)
        return "  (" + "; ".join(out) + ")" if out else ""

    def describe_insn(self, k: int, before: tuple[int, ...] | None) -> list[str]:
        insn = self.prog.insns[k]
        addr = self.insn_addr(k)
        dis = disassemble_range(self.elf, addr, insn.size) if addr is not None else {}
        where = f" @ {addr:#010x}" if addr is not None else ""
        if insn.parts:
            lines = [f"  insn {k}{where}: {insn.name}: an IT block of "
                     f"{len(insn.parts) - 1} conditional instruction(s), logged as one unit"]
            a = addr
            for p in insn.parts:
                text = dis.get(a, "?") if a is not None else "?"
                at = f"{a:#010x}: " if a is not None else ""
                lines.append(f"      {at}{p.hex():9}  {text}   [{p.name}]")
                a = a + p.size if a is not None else None
        else:
            text = "; ".join(dis.values()) or "?"
            lines = [f"  insn {k}{where}: {insn.hex()}  {text}   [{insn.name}]"]
        if insn.setup:
            lines.append("  setup:  " + ", ".join(f"{state_key_name(r)} = {v:#010x}"
                                                  for r, v in insn.setup))
        for p in insn.members():
            if p.access:
                a, n, st = p.access
                who = f" ({p.name})" if insn.parts else ""
                lines.append(f"  access{who}: {'store' if st else 'load'} {n} bytes at "
                             f"{a:#010x} (buffer +{a - harness.BUF_BASE:#05x}) "
                             "if the condition passes")
        if before is not None:
            regs = self.state_before(k, before)
            # Long records (VFP): only the words the ISA says matter here.
            show = (self.prog.isa.before_indices(insn)
                    if hasattr(self.prog.isa, "before_indices") else range(len(self.names)))
            show = list(show)
            per_row = (len(show) + 1) // 2 if len(show) <= 20 else 8
            for j in range(0, len(show), per_row):
                idx = show[j:j + per_row]
                lines.append(("  before: " if j == 0 else "          ")
                             + fmt_regs([self.names[i] for i in idx], [regs[i] for i in idx]))
            for name, f in self.formatters.items():
                if name in self.names:
                    lines.append(f"          {name}: {f(regs[self.names.index(name)])}")
        return lines

    @staticmethod
    def why_stopped(o: Output) -> str:
        parts = []
        if o.exc:
            parts.append(describe_exc(o.exc))
        if o.problem:
            parts.append(o.problem)
        parts.append("timed out" if o.rc is None else f"exit status {o.rc}")
        return ", ".join(parts)

    def compare(self, a: Output, b: Output, bisect=None) -> list[str]:
        """A report of the first difference, or [] if the outputs agree."""
        if same_output(a, b):
            return []
        lines = []
        for name, o in ((self.a_name, a), (self.b_name, b)):
            if not o.records:
                lines.append(f"{name} produced no log: {self.why_stopped(o)}")
        if lines:
            return lines
        n = min(len(a.records), len(b.records))
        first = next((i for i in range(n) if a.records[i] != b.records[i]), None)
        if first is None and len(a.records) != len(b.records):
            first = n  # one log is longer: the shorter one stopped there
        if first is not None:
            if first == 0:
                lines.append("  the initial state (record 0) differs: the "
                             "harness setup, before any random instruction")
                diff = [i for i, (x, y) in enumerate(zip(a.records[0], b.records[0]))
                        if x != y]
                lines.append(f"  {self.a_name + ':':8}{fmt_regs(self.names, a.records[0], diff)}")
                lines.append(f"  {self.b_name + ':':8}{fmt_regs(self.names, b.records[0], diff)}")
                return lines
            k = first - 1
            lines.append(f"first difference after instruction {k} of "
                         f"{self.prog.count}:")
            lines += self.describe_insn(k, a.records[k] if k < len(a.records) else None)
            for name, o in ((self.a_name, a), (self.b_name, b)):
                if first < len(o.records):
                    other = (b if o is a else a)
                    if first < len(other.records):
                        diff = [i for i, (x, y) in enumerate(
                            zip(o.records[first], other.records[first])) if x != y]
                    else:  # the other side stopped: show what this one changed
                        base = self.state_before(k, o.records[k])
                        diff = [i for i, (x, y) in enumerate(
                            zip(o.records[first], base)) if x != y]
                    regs = fmt_regs(self.names, o.records[first], diff)
                    regs += self.notes(o.records[first], diff)
                    lines.append(f"  {name + ':':8}" + (regs or "(no change)"))
                else:
                    lines.append(f"  {name + ':':8}no record: {self.why_stopped(o)}")
            return lines
        if a.mem != b.mem:
            diffs = [i for i in range(min(len(a.mem), len(b.mem)))
                     if a.mem[i] != b.mem[i]]
            lines.append("registers agree everywhere, the data buffer differs "
                         f"in {len(diffs)} word(s)")
            for i in diffs[:8]:
                lines.append(f"  buffer +{4 * i:#05x} ({harness.BUF_BASE + 4 * i:#010x}): "
                             f"{self.a_name}={a.mem[i]:08x} {self.b_name}={b.mem[i]:08x}")
            if bisect is not None:
                k = bisect()
                if k is not None:
                    lines.append(f"first instruction after which the buffers "
                                 f"differ (bisected): {k}")
                    lines += self.describe_insn(k, a.records[k])
            return lines
        for name, o in ((self.a_name, a), (self.b_name, b)):
            lines.append(f"  {name}: exit status {o.rc}, "
                         f"{'complete' if o.complete else 'incomplete'}"
                         f"{', ' + describe_exc(o.exc) if o.exc else ''}"
                         f"{', ' + o.problem if o.problem else ''}")
        return lines


# ---------------------------------------------------------------------------
# One seed

@dataclasses.dataclass
class SeedResult:
    seed: int
    count: int
    ok: bool
    report: list[str]
    seconds: dict
    instructions: int = 0   # random instructions (IT blocks count each one)


def check_oracle(prog: Program, o: Output, name: str) -> list[str]:
    """The oracle's own run must be clean: otherwise the generator or the
    harness is wrong, not armvex."""
    problems = []
    if o.problem:
        problems.append(o.problem)
    if o.rc != 0:
        problems.append(f"exit status {o.rc}")
    if o.exc:
        problems.append(describe_exc(o.exc))
    if o.complete and len(o.records) != len(prog.insns) + 1:
        problems.append(f"{len(o.records)} log records, expected {len(prog.insns) + 1}")
    if not problems:
        return []
    lines = [f"{name} did not run the program cleanly (generator or harness "
             f"bug): {'; '.join(problems)}"]
    if o.exc or (o.complete and len(o.records) <= len(prog.insns)):
        k = len(o.records) - 1
        if 0 <= k < len(prog.insns):
            lines.append(f"  it stopped at instruction {k}:")
            rep = Reporter(prog, prog.elf, name, "")
            lines += rep.describe_insn(k, o.records[k])
    if o.stderr.strip():
        lines.append("  stderr: " + o.stderr.strip().splitlines()[-1][:200])
    return lines


def run_seed(isa, seed: int, count: int, args) -> SeedResult:
    workdir_obj = None
    if args.keep:
        workdir = Path(args.keep)
        if args.seeds_multi:
            workdir = workdir / f"seed{seed}"
        workdir.mkdir(parents=True, exist_ok=True)
    else:
        workdir_obj = tempfile.TemporaryDirectory(prefix=f"difftest{seed}-")
        workdir = Path(workdir_obj.name)
    try:
        return _run_seed(isa, seed, count, args, workdir)
    finally:
        if workdir_obj:
            workdir_obj.cleanup()


def _run_seed(isa, seed, count, args, workdir: Path) -> SeedResult:
    timings = {}
    t0 = time.monotonic()
    select = re.compile(args.pattern).search if args.pattern else None
    prog = make_program(isa, seed, count, select)
    n_insns = (isa.instruction_count(prog.insns) if hasattr(isa, "instruction_count")
               else len(prog.insns))
    elf = build(prog, workdir)
    prog.elf = elf
    timings["build"] = time.monotonic() - t0
    nwords = len(isa.STATE_NAMES)
    reproduce = (f"  reproduce: {os.path.relpath(HERE / 'difftest.py')} --isa {isa.NAME} --seed {seed} "
                 f"--count {count}" + (f" --pattern '{args.pattern}'" if args.pattern else "")
                 + (" --qemu-only" if args.qemu_only else
                    f" --armvex {args.armvex}" if args.armvex != default_armvex() else "")
                 + " --keep DIR")

    qa = run(qemu_cmd(elf), nwords)
    timings["qemu"] = qa.seconds
    (workdir / "qemu.out").write_text(qa.text)
    bad = check_oracle(prog, qa, "QEMU")
    if bad:
        return SeedResult(seed, count, False, bad + [reproduce], timings, n_insns)

    if args.qemu_only and hasattr(isa, "check_run"):
        rep = Reporter(prog, elf, "qemu", "")
        problems = isa.check_run(
            prog.insns, lambda k: rep.state_before(k, qa.records[k]),
            lambda k: qa.records[k + 1])
        if problems:
            return SeedResult(seed, count, False, [
                "the QEMU run breaks the generator's assumptions:"]
                + ["  " + p for p in problems[:20]] + [reproduce], timings, n_insns)

    if args.qemu_only:
        b_name = "qemu#2"
        qb = run(qemu_cmd(elf), nwords)
        timings["qemu#2"] = qb.seconds
        (workdir / "qemu2.out").write_text(qb.text)
        cmd_b = lambda e: qemu_cmd(e)  # noqa: E731
    else:
        b_name = "armvex"
        qb = run(armvex_cmd(args.armvex, elf), nwords)
        timings["armvex"] = qb.seconds
        (workdir / "armvex.out").write_text(qb.text)
        (workdir / "armvex.err").write_text(qb.stderr)
        cmd_b = lambda e: armvex_cmd(args.armvex, e)  # noqa: E731

    def bisect():
        """Smallest k such that running instructions 0..k leaves different
        buffers: the program prefix property makes this a plain bisection."""
        lo, hi = 0, len(prog.insns)  # buffers agree after lo, differ after hi
        while hi - lo > 1:
            mid = (lo + hi) // 2
            e = build(prog, workdir, upto=mid, stem="bisect")
            x, y = run(qemu_cmd(e), nwords), run(cmd_b(e), nwords)
            if x.mem != y.mem:
                hi = mid
            else:
                lo = mid
        return hi - 1

    rep = Reporter(prog, elf, "qemu", b_name)
    lines = rep.compare(qa, qb, bisect)
    if lines and qb.stderr.strip():
        lines.append(f"  {b_name} stderr: " + qb.stderr.strip().splitlines()[-1][:200])
    if lines:
        lines.append(reproduce)
    return SeedResult(seed, count, not lines, lines, timings, n_insns)


# ---------------------------------------------------------------------------
# Command line

def parse_seeds(spec: str) -> list[int]:
    seeds = []
    for part in spec.split(","):
        if "-" in part[1:]:
            a, b = part.split("-", 1)
            seeds += range(int(a), int(b) + 1)
        else:
            seeds.append(int(part))
    return seeds


def default_armvex() -> str:
    return os.environ.get("ARMVEX") or str(REPO / "target" / "release" / "armvex")


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(
        description="Random-instruction differential tester: armvex vs QEMU.",
        formatter_class=argparse.RawDescriptionHelpFormatter,
        epilog="See the comment at the top of difftest.py for details.")
    ap.add_argument("--isa", default="arm", choices=isa_registry.ISAS,
                    help="instruction set: arm (A32 integer, default), thumb (T32 "
                    "integer with IT blocks), vfp (VFPv3-D32 in ARM state)")
    ap.add_argument("--seed", type=int, help="one seed")
    ap.add_argument("--seeds", help="several seeds: A-B or A,B,C")
    ap.add_argument("--count", type=int, default=CI_COUNT,
                    help=f"random instructions per seed, an IT block counting as one "
                    f"(default {CI_COUNT})")
    ap.add_argument("--ci", action="store_true",
                    help=f"the ISA's fixed CI seed list (arm: seeds {CI_SEEDS[0]}-"
                    f"{CI_SEEDS[-1]} x {CI_COUNT}; thumb, vfp: 24 seeds x 1000)")
    ap.add_argument("--armvex", default=default_armvex(),
                    help="armvex binary (default: $ARMVEX or target/release/armvex)")
    ap.add_argument("--qemu-only", action="store_true",
                    help="run QEMU twice instead of QEMU and armvex")
    ap.add_argument("--keep", metavar="DIR", help="keep generated files in DIR")
    ap.add_argument("--pattern", metavar="REGEX",
                    help="only instruction classes whose name matches")
    ap.add_argument("--list", action="store_true", help="list instruction classes")
    ap.add_argument("--jobs", type=int, default=2, help="parallel seeds (default 2)")
    ap.add_argument("-v", "--verbose", action="store_true")
    args = ap.parse_args(argv)

    try:
        isa = isa_registry.load(args.isa)
    except NotImplementedError as e:
        print(f"difftest: {e}", file=sys.stderr)
        return 2

    if args.list:
        classes = isa.all_classes()
        total = sum(c.weight for c in classes)
        for c in classes:
            layout = getattr(c, "layout", "(sequence)")
            print(f"{c.name:16} {c.group:14} {100 * c.weight / total:5.2f}%  {layout}")
        print(f"{len(classes)} classes")
        return 0

    if args.ci:
        seeds = list(getattr(isa, "CI_SEEDS", CI_SEEDS))
        count = getattr(isa, "CI_COUNT", CI_COUNT)
    elif args.seeds:
        seeds, count = parse_seeds(args.seeds), args.count
    elif args.seed is not None:
        seeds, count = [args.seed], args.count
    else:
        ap.error("give --seed, --seeds or --ci")
    if not 1 <= count <= MAX_COUNT:
        ap.error(f"--count must be 1..{MAX_COUNT}")
    args.seeds_multi = len(seeds) > 1

    for tool in (GCC, OBJDUMP, NM, "qemu-system-arm"):
        if shutil.which(tool) is None:
            print(f"difftest: {tool} not found (Debian packages gcc-arm-none-eabi, "
                  "binutils-arm-none-eabi, qemu-system-arm)", file=sys.stderr)
            return 2
    if not args.qemu_only and not os.access(args.armvex, os.X_OK):
        print(f"difftest: no armvex binary at {args.armvex} (build it with "
              "`cargo build --release`, pass --armvex PATH, or use --qemu-only)",
              file=sys.stderr)
        return 2

    t0 = time.monotonic()
    results: list[SeedResult] = []
    try:
        with concurrent.futures.ThreadPoolExecutor(max_workers=max(1, args.jobs)) as ex:
            futures = [ex.submit(run_seed, isa, s, count, args) for s in seeds]
            for fut in futures:
                r = fut.result()
                results.append(r)
                if args.verbose:
                    t = " ".join(f"{k}={v:.2f}s" for k, v in r.seconds.items())
                    print(f"seed {r.seed}: {'ok' if r.ok else 'MISMATCH'}  {t}")
                if not r.ok:
                    print(f"difftest {isa.NAME} seed {r.seed}: MISMATCH")
                    print("\n".join(r.report))
                    sys.stdout.flush()
    except (GenerationError, RuntimeError) as e:
        print(f"difftest: {e}", file=sys.stderr)
        return 2

    bad = sum(not r.ok for r in results)
    mode = " (qemu vs qemu)" if args.qemu_only else ""
    print(f"difftest {isa.NAME}{mode}: {sum(r.instructions for r in results)} instructions, "
          f"{len(seeds)} seeds, {bad} mismatches")
    if args.verbose:
        print(f"total {time.monotonic() - t0:.1f}s")
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
