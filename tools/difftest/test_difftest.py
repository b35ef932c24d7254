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
THUMB = isa_registry.load("thumb")
VFP = isa_registry.load("vfp")
FAKE = str(HERE / "fake_armvex.py")


def args_for(**kw):
    a = argparse.Namespace(keep=None, seeds_multi=False, pattern=None,
                           qemu_only=False, armvex=FAKE)
    for k, v in kw.items():
        setattr(a, k, v)
    return a


def expected_mnemonics(name: str) -> tuple[str, ...]:
    special = {
        "MOV": ("mov", "lsl", "lsr", "asr", "ror", "rrx", "nop"),  # mov r8, r8: "nop"
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

    def test_thumb_clean_and_deterministic(self):
        self.assertEqual(difftest.main(["--isa", "thumb", "--seeds", "1-4", "--count",
                                        "400", "--qemu-only"]), 0)

    def test_vfp_clean_and_deterministic(self):
        self.assertEqual(difftest.main(["--isa", "vfp", "--seeds", "1-4", "--count",
                                        "400", "--qemu-only"]), 0)


def disassembly(prog):
    """{unit index: [(name, objdump text) for each instruction]}."""
    with tempfile.TemporaryDirectory() as d:
        elf = difftest.build(prog, Path(d))
        dis = subprocess.run([difftest.OBJDUMP, "-d", str(elf)],
                             capture_output=True, text=True, check=True).stdout
        syms = difftest.symbol_addresses(elf)
    lines = {}
    for line in dis.splitlines():
        m = re.match(r"\s*([0-9a-f]+):\t[0-9a-f ]+\t(.*)", line)
        if m:
            lines[int(m.group(1), 16)] = re.sub(r"\s+", " ", m.group(2)).strip()
    out = {}
    for k, unit in enumerate(prog.insns):
        a = syms[f"insn_{k}"]
        out[k] = []
        for part in unit.members():
            out[k].append((part, lines.get(a, "?")))
            a += part.size
    return out


THUMB_MNEMONICS = {
    # 16-bit LSL #0 outside an IT block is MOVS; NEGS is RSB #0
    "LSL": ("lsl", "mov"), "RSB": ("rsb", "neg"),
    "ADR": ("adr", "add", "sub"),        # objdump: add rd, pc, #imm / addw / subw
    "MOV": ("mov", "lsl", "lsr", "asr", "ror", "rrx", "nop"),  # mov r8, r8: "nop"
    "STR": ("str", "push"), "LDR": ("ldr", "pop"),  # STR rt,[sp,#-4]! is PUSH
    "STMDB": ("stmdb", "push"), "LDMIA": ("ldmia", "pop", "ldm"),
    "STMIA": ("stmia", "stm"), "LDM": ("ldm", "pop"), "STM": ("stm",),
    "SMLAxy": ("smla",), "SMULxy": ("smul",), "SMLAWy": ("smlaw",), "SMULWy": ("smulw",),
    "SMLALxy": ("smlal",),
}


def expected_thumb(name):
    head = name.split("_")[0]
    return THUMB_MNEMONICS.get(head, (head.lower(),))


COND_SUFFIXES = ["eq", "ne", "cs", "cc", "mi", "pl", "vs", "vc", "hi", "ls", "ge", "lt",
                 "gt", "le", "al"]


class ThumbGeneration(unittest.TestCase):
    def test_reproducible_and_prefix(self):
        a = difftest.make_program(THUMB, 42, 400)
        b = difftest.make_program(THUMB, 42, 400)
        c = difftest.make_program(THUMB, 42, 150)
        words = [[(p.word, p.setup) for p in u.members()] for u in a.insns]
        self.assertEqual(words, [[(p.word, p.setup) for p in u.members()] for u in b.insns])
        self.assertEqual(words[:150], [[(p.word, p.setup) for p in u.members()]
                                       for u in c.insns])

    def test_every_class_is_generated_and_decodes(self):
        prog = difftest.make_program(THUMB, 7, 10000)
        seen = set()
        for k, parts in disassembly(prog).items():
            for part, text in parts:
                seen.add(part.name)
                self.assertNotRegex(text, r"(?i)unpredictable|undefined|\.word|\.short",
                                    f"unit {k} {part.name}")
                if part.name == "IT":
                    continue
                self.assertTrue(text.startswith(expected_thumb(part.name)),
                                f"unit {k} {part.name} disassembles as {text}")
        names = {p.name for p in THUMB.PATTERNS}
        names |= {p.name for p in THUMB.LDREX_P.values()}
        names |= {p.name for p in THUMB.STREX_P.values()} | {"IT"}
        self.assertEqual(names - seen, set())

    def test_it_blocks(self):
        """objdump reads each IT block as the generator meant it: the
        T/E pattern, and each member's condition; the members are legal in
        an IT block; the setup of a member is not touched by earlier ones."""
        prog = difftest.make_program(THUMB, 9, 3000)
        blocks = 0
        lengths = set()
        for k, parts in disassembly(prog).items():
            unit = prog.insns[k]
            if not unit.parts:
                continue
            blocks += 1
            it, members = parts[0], parts[1:]
            fc, mask = unit.fields["firstcond"], unit.fields["mask"]
            n = 4 - ((mask & -mask).bit_length() - 1)
            self.assertEqual(len(members), n)
            lengths.add(n)
            conds = [fc] + [(fc & 0xE) | (mask >> (4 - j) & 1) for j in range(1, n)]
            te = "".join("t" if c == fc else "e" for c in conds[1:])
            self.assertEqual(it[1], f"it{te} {COND_SUFFIXES[fc]}", f"unit {k}")
            touched = set()
            for (part, text), cond in zip(members, conds):
                cls = next(p for p in THUMB.PATTERNS if p.name == part.name)
                self.assertTrue(cls.it, part.name)
                mnem = text.split()[0].split(".")[0]
                self.assertIn(COND_SUFFIXES[cond], mnem, f"unit {k}: {text}")
                for reg, _ in part.setup:
                    self.assertNotIn(reg, touched, f"unit {k}: {part.name} setup")
                touched |= THUMB.mentioned(cls, part.fields)
        self.assertGreater(blocks, 300)
        self.assertEqual(lengths, {1, 2, 3, 4})

    def test_self_check_finds_a_wrong_address(self):
        prog = difftest.make_program(THUMB, 5, 300)
        k = next(i for i, u in enumerate(prog.insns) if u.access)
        unit = prog.insns[k]
        before = lambda i: [0] * 16  # noqa: E731
        # with the setup applied, the decoded address is the intended one
        regs = [0] * 16
        for r, v in unit.setup:
            regs[r] = v
        self.assertEqual(THUMB.effective_address(unit.word, unit.size, regs), unit.access[0])
        unit.access = (unit.access[0] + 4,) + unit.access[1:]
        rec = [0] * 13 + [0, 0, 0]
        for r, v in unit.setup:
            rec[{13: 15, 14: 13}.get(r, r)] = v
        problems = THUMB.check_run([unit], lambda i: rec, before)
        self.assertTrue(problems and "effective address" in problems[0], problems)


VFP_MNEMONICS = {"VCMP0": ("vcmp",), "VMRS": ("vmrs",)}


class VfpGeneration(unittest.TestCase):
    def test_reproducible_and_prefix(self):
        a = difftest.make_program(VFP, 42, 400)
        b = difftest.make_program(VFP, 42, 150)
        self.assertEqual([(i.word, i.setup) for i in a.insns[:150]],
                         [(i.word, i.setup) for i in b.insns])
        self.assertEqual(a.state, difftest.make_program(VFP, 42, 10).state)

    def test_every_class_is_generated_and_decodes(self):
        prog = difftest.make_program(VFP, 7, 6000)
        seen = set()
        for k, parts in disassembly(prog).items():
            part, text = parts[0]
            seen.add(part.name)
            self.assertNotRegex(text, r"(?i)unpredictable|undefined|\.word",
                                f"insn {k} {part.name}")
            head = part.name.split("_")[0]
            self.assertTrue(text.startswith(VFP_MNEMONICS.get(head, (head.lower(),))),
                            f"insn {k} {part.name} disassembles as {text}")
        self.assertEqual({p.name for p in VFP.PATTERNS} - seen, set())


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

    def test_thumb_fault_in_an_it_block(self):
        """A changed instruction inside an IT block is reported with the
        whole block as the unit."""
        count = 120

        def target(u):
            return (u.parts and len(u.parts) >= 3 and u.fields["firstcond"] == 14
                    and u.parts[1].name in ("ADD_reg_n", "SUB_reg_n", "ADD_imm3_n",
                                            "SUB_imm3_n"))
        for seed in range(1, 200):
            prog = difftest.make_program(THUMB, seed, count)
            k = next((i for i, u in enumerate(prog.insns) if target(u)), None)
            if k is not None:
                break
        with tempfile.TemporaryDirectory() as d:
            elf = difftest.build(prog, Path(d))
            addr = difftest.symbol_addresses(elf)[f"insn_{k}"] + 2
        # ADD <-> SUB (bit 9 of the 16-bit encoding); the patch XORs the
        # little-endian word at addr, whose low half is this halfword.
        os.environ["FAKE_MODE"] = f"patch:{addr:x}:200"
        try:
            r = difftest.run_seed(THUMB, seed, count, args_for())
        finally:
            del os.environ["FAKE_MODE"]
        text = "\n".join(r.report)
        self.assertFalse(r.ok)  # IT AL: the member executes
        self.assertIn(f"first difference after instruction {k} of {count}", text)
        self.assertIn("an IT block of", text)

    def test_garbage_output(self):
        r = self.run_fake("garbage", 3, 50)
        self.assertFalse(r.ok)
        self.assertIn("armvex produced no log: unparseable output", r.report[0])
        self.assertIn("exit status 101", r.report[0])


if __name__ == "__main__":
    unittest.main()
