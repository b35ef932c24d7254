#!/usr/bin/env python3
"""Tests of the differential tester itself (needs arm-none-eabi-gcc,
objdump and qemu-system-arm):

    python3 tools/difftest/test_difftest.py

* generation is reproducible, and a shorter program is a prefix of a longer
  one (bisection relies on it);
* a large sample of every class assembles to the intended mnemonic, and
  objdump finds nothing UNPREDICTABLE or UNDEFINED in it;
* QEMU runs seeds cleanly and deterministically, with the --qemu-only
  self-check (effective addresses, STREX results) passing;
* faults injected through fake_armvex.py are reported at the right
  instruction: a corrupted register, a changed store (found by bisecting
  the data buffer), an UNDEFINED instruction, unparseable output.
"""

import argparse
import os
import re
import subprocess
import sys
import tempfile
import unittest
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

import difftest  # noqa: E402
import isa as isa_registry  # noqa: E402

ARM = isa_registry.load("arm")
FAKE = str(HERE / "fake_armvex.py")


def args_for(**kw):
    a = argparse.Namespace(keep=None, seeds_multi=False, pattern=None,
                           qemu_only=False, armvex=FAKE)
    for k, v in kw.items():
        setattr(a, k, v)
    return a


def expected_mnemonics(name: str) -> tuple[str, ...]:
    special = {
        "MOV": ("mov", "lsl", "lsr", "asr", "ror", "rrx"),
        "SMLAD": ("smlad", "smlsd"), "SMUAD": ("smuad", "smusd"),
        "SMLALD": ("smlald", "smlsld"), "SMLAxy": ("smla",),
        "SMLAWy": ("smlaw",), "SMULWy": ("smulw",), "SMLALxy": ("smlal",),
        "SMULxy": ("smul",),
    }
    head = name.split("_")[0]
    return special.get(head, (head.lower(),))


class Generation(unittest.TestCase):
    def test_reproducible(self):
        a = difftest.make_program(ARM, 42, 300)
        b = difftest.make_program(ARM, 42, 300)
        self.assertEqual([(i.word, i.setup) for i in a.insns],
                         [(i.word, i.setup) for i in b.insns])
        self.assertEqual(a.state, b.state)
        self.assertEqual(a.buffer, b.buffer)
        c = difftest.make_program(ARM, 43, 300)
        self.assertNotEqual([i.word for i in a.insns], [i.word for i in c.insns])

    def test_prefix(self):
        long = difftest.make_program(ARM, 5, 400)
        short = difftest.make_program(ARM, 5, 150)
        self.assertEqual([(i.word, i.setup) for i in short.insns],
                         [(i.word, i.setup) for i in long.insns[:150]])

    def test_every_class_is_generated_and_decodes(self):
        prog = difftest.make_program(ARM, 7, 12000)
        with tempfile.TemporaryDirectory() as d:
            elf = difftest.build(prog, Path(d))
            dis = subprocess.run([difftest.OBJDUMP, "-d", str(elf)],
                                 capture_output=True, text=True, check=True).stdout
            syms = {a: int(n[5:]) for n, a in difftest.symbol_addresses(elf).items()
                    if n.startswith("insn_")}
        seen = set()
        for line in dis.splitlines():
            m = re.match(r"\s*([0-9a-f]+):\s+([0-9a-f]{8})\s+(\S+)(.*)", line)
            if not m or int(m.group(1), 16) not in syms:
                continue
            k = syms[int(m.group(1), 16)]
            insn = prog.insns[k]
            seen.add(insn.name)
            self.assertNotRegex(line, r"(?i)unpredictable|undefined",
                                f"insn {k} {insn.name}")
            self.assertTrue(m.group(3).startswith(expected_mnemonics(insn.name)),
                            f"insn {k} {insn.name} disassembles as {line}")
        pattern_names = {p.name for p in ARM.PATTERNS}
        pattern_names |= {p.name for p in ARM.LDREX_P.values()}
        pattern_names |= {p.name for p in ARM.STREX_P.values()}
        self.assertEqual(pattern_names - seen, set())


class QemuRuns(unittest.TestCase):
    def test_clean_and_deterministic(self):
        self.assertEqual(difftest.main(["--seeds", "1-4", "--count", "400",
                                        "--qemu-only"]), 0)


class FaultInjection(unittest.TestCase):
    def run_fake(self, mode, seed, count):
        os.environ["FAKE_MODE"] = mode
        try:
            return difftest.run_seed(ARM, seed, count, args_for())
        finally:
            del os.environ["FAKE_MODE"]

    def program_info(self, seed, count):
        prog = difftest.make_program(ARM, seed, count)
        with tempfile.TemporaryDirectory() as d:
            elf = difftest.build(prog, Path(d))
            prog.elf = elf
            out = difftest.run(difftest.qemu_cmd(elf), len(ARM.STATE_NAMES))
            syms = difftest.symbol_addresses(elf)
            rep = difftest.Reporter(prog, elf, "qemu", "")
            before = [rep.state_before(k, out.records[k]) for k in range(count)]
        return prog, out, syms, before

    def test_same_as_qemu_passes(self):
        r = self.run_fake("", 8, 200)
        self.assertTrue(r.ok, r.report)

    def test_register_fault(self):
        r = self.run_fake("reg:61", 8, 200)
        self.assertFalse(r.ok)
        text = "\n".join(r.report)
        self.assertIn("first difference after instruction 60 of 200", text)
        self.assertRegex(text, r"armvex: r3=[0-9a-f]{8}\n")

    def test_store_fault_is_bisected(self):
        seed, count = 11, 300
        prog, out, syms, before = self.program_info(seed, count)
        # The last executed word store whose source register can be swapped
        # for another one holding a different value.
        for k in range(count - 1, -1, -1):
            insn = prog.insns[k]
            if insn.name not in ("STR_imm", "STRT_imm") or insn.fields["rt"] == 15:
                continue
            if not ARM.condition_passed(insn.word >> 28, before[k][14]):
                continue
            rt = insn.fields["rt"]
            other = next(r for r in range(13) if r not in
                         (rt, insn.fields["rn"]) and before[k][r] != before[k][rt])
            break
        else:
            self.fail("no executed STR_imm in the program")
        os.environ["FAKE_MODE"] = f"patch:{syms[f'insn_{k}']:x}:{(rt ^ other) << 12:x}"
        try:
            r = difftest.run_seed(ARM, seed, k + 1, args_for())
        finally:
            del os.environ["FAKE_MODE"]
        self.assertFalse(r.ok)
        text = "\n".join(r.report)
        self.assertIn("the data buffer differs", text)
        self.assertIn(f"differ (bisected): {k}\n  insn {k} ", text)

    def test_undefined_instruction(self):
        seed, count = 12, 200
        prog, out, syms, _ = self.program_info(seed, count)
        k = 150
        word = prog.insns[k].word
        r = self.run_fake(f"patch:{syms[f'insn_{k}']:x}:{word ^ 0xE7F000F0:x}",
                          seed, count)
        self.assertFalse(r.ok)
        text = "\n".join(r.report)
        self.assertIn(f"first difference after instruction {k} of {count}", text)
        self.assertIn("armvex: no record: undefined exception, LR=", text)

    def test_garbage_output(self):
        r = self.run_fake("garbage", 3, 50)
        self.assertFalse(r.ok)
        self.assertIn("armvex produced no log: unparseable output", r.report[0])
        self.assertIn("exit status 101", r.report[0])


if __name__ == "__main__":
    unittest.main()
