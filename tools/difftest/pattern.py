"""Risu-style instruction patterns: bit layouts with fields and constraints.

A pattern describes one instruction class the way risu's ``.risu`` files and
QEMU's decodetree files do: a 32-bit layout made of fixed bits and named
fields, plus a constraint that rejects the field values whose encoding is
UNPREDICTABLE, UNDEFINED or otherwise unwanted.  Generation is rejection
sampling: draw every field at random, keep the draw if the constraint holds.

Layout syntax (most significant bit first, whitespace separated)::

    cond:4 001 op:4 s:1 rn:4 rd:4 imm12:12

* ``0101`` -- fixed bits
* ``name:width`` -- a field, drawn uniformly unless the pattern gives a
  generator for it (a list of allowed values or a function of the rng)
* ``cond`` -- the condition field, drawn by the context (mostly AL)

Register fields (``REG_FIELDS``) of 4 bits never take 13 (SP) unless the
pattern lists them in ``sp``, nor 15 (PC) unless it lists them in ``pc``
(in A32, SP is the harness's log pointer; T32 allows SP only in a few
places).  Narrower register fields (the 3-bit fields of 16-bit Thumb
encodings) take any value.

A layout is 32 bits wide, or 16 for a 16-bit Thumb encoding (``bits=16``);
a 32-bit Thumb layout lists the first halfword first, the way the ARM ARM
draws it, and is emitted with ``.inst.w`` (first halfword first).

The constraint is a Python expression over the field values (e.g.
``"rdhi != rdlo"``); it may use the helpers in ``CONSTRAINT_HELPERS``.  It
may also be a function of the field dict.  ``fix`` (optional) edits the
drawn fields before the constraint is checked (e.g. to copy a register into
a second field that must hold the same number).
A memory pattern also has a ``mem`` function that points the base and index
registers into the data buffer (see ``GenContext``) and may reject the draw.
"""

from __future__ import annotations

import dataclasses
from typing import Callable

M32 = 0xFFFFFFFF

REG_FIELDS = frozenset(
    {"rd", "rn", "rm", "rs", "ra", "rt", "rt2", "rdlo", "rdhi"}
)
SP = 13
PC = 15


def popcount(x: int) -> int:
    return bin(x).count("1")


def lowest_set_bit(x: int) -> int:
    return (x & -x).bit_length() - 1


def badreg(r: int) -> bool:
    """The T32 pseudocode's BadReg(): SP or PC."""
    return r in (SP, PC)


CONSTRAINT_HELPERS = {
    "popcount": popcount,
    "lowest_set_bit": lowest_set_bit,
    "badreg": badreg,
}


@dataclasses.dataclass
class Insn:
    """One generated instruction plus the setup that must precede it.

    ``setup`` is a list of (register, value) pairs the harness loads with an
    unconditional MOVW/MOVT just before the instruction (base and index
    registers of memory accesses, seeded operand values); a register is a
    core register number, or a name the ISA module understands (``"d5"``).
    ``access`` is (address, length, is_store) for memory instructions, for
    reports.

    ``size`` is the encoding's length in bytes (2 for a 16-bit Thumb
    instruction), ``thumb`` says the word is a T32 encoding (first halfword
    in the upper 16 bits).  A unit of several instructions logged as one
    (a Thumb IT block) has ``parts``: the instructions in order, each an
    Insn; its own setup is the union of theirs, run before the first.
    """

    word: int
    name: str
    setup: list[tuple[int | str, int]] = dataclasses.field(default_factory=list)
    access: tuple[int, int, bool] | None = None
    fields: dict[str, int] = dataclasses.field(default_factory=dict)
    size: int = 4
    thumb: bool = False
    parts: list["Insn"] | None = None

    def members(self) -> list["Insn"]:
        """The instructions of this unit (itself if it is a single one)."""
        return self.parts if self.parts else [self]

    def hex(self) -> str:
        """The encoding as objdump shows it."""
        if not self.thumb:
            return f"{self.word:08x}"
        if self.size == 2:
            return f"{self.word:04x}"
        return f"{self.word >> 16:04x} {self.word & 0xFFFF:04x}"


class GenerationError(Exception):
    pass


class GenContext:
    """State shared by the patterns while one program is generated."""

    def __init__(self, rng, buf_base: int, buf_size: int,
                 al_probability: float = 0.5):
        self.rng = rng
        self.buf_base = buf_base
        self.buf_size = buf_size
        self.al_probability = al_probability

    def cond(self) -> int:
        """A condition code: AL half of the time, else any of EQ..LE."""
        if self.rng.random() < self.al_probability:
            return 0xE
        return self.rng.randrange(0, 14)

    def addr(self, length: int, align: int) -> int:
        """A random address in the data buffer, aligned to ``align``, with
        room for ``length`` bytes."""
        if length > self.buf_size:
            raise GenerationError("access longer than the data buffer")
        slots = (self.buf_size - length) // align + 1
        return self.buf_base + self.rng.randrange(slots) * align


class Pattern:
    """One instruction class: layout, field generators, constraint, memory."""

    def __init__(self, name: str, layout: str, constraint="True", *,
                 pc: tuple[str, ...] = (), sp: tuple[str, ...] = (),
                 gen: dict | None = None, fix: Callable | None = None,
                 mem: Callable | None = None, weight: float = 1.0,
                 group: str = "", seed_regs: tuple[str, ...] | None = None,
                 bits: int = 32, thumb: bool = False, **extra):
        self.name = name
        self.layout = layout
        if callable(constraint):
            self.constraint_src = getattr(constraint, "__doc__", None) or name
            self.constraint = constraint
        else:
            self.constraint_src = constraint
            self.constraint = compile(constraint, f"<{name} constraint>", "eval")
        self.pc = frozenset(pc)
        self.sp = frozenset(sp)
        self.gen = gen or {}
        self.fix = fix
        self.mem = mem
        self.weight = weight
        self.group = group
        self.bits = bits
        self.thumb = thumb
        # ISA-specific attributes (e.g. whether a Thumb class may sit in an
        # IT block, which registers it writes)
        for k, v in extra.items():
            setattr(self, k, v)
        self.fixed_bits = 0
        self.fields: list[tuple[str, int, int]] = []  # name, shift, width
        pos = bits
        for tok in layout.split():
            if ":" in tok:
                fname, width_s = tok.split(":")
                width = int(width_s)
                pos -= width
                self.fields.append((fname, pos, width))
            else:
                if set(tok) - {"0", "1"}:
                    raise ValueError(f"{name}: bad layout token {tok!r}")
                pos -= len(tok)
                self.fixed_bits |= int(tok, 2) << pos
        if pos != 0:
            raise ValueError(f"{name}: layout is {bits - pos} bits, not {bits}")
        for fname in self.gen:
            if fname not in self.field_names():
                raise ValueError(f"{name}: generator for unknown field {fname}")
        # Source registers an operand-seeding setup may load with an
        # interesting value (memory patterns set their registers themselves).
        if seed_regs is None:
            seed_regs = tuple(f for f in ("rn", "rm", "rs", "ra")
                              if f in self.field_names()) if mem is None else ()
        self.seed_regs = seed_regs

    def field_names(self) -> list[str]:
        return [f[0] for f in self.fields]

    def _draw_field(self, ctx: GenContext, fname: str, width: int) -> int:
        g = self.gen.get(fname)
        if g is not None:
            if callable(g):
                return g(ctx.rng)
            return ctx.rng.choice(g)
        if fname == "cond":
            return ctx.cond()
        if fname in REG_FIELDS and width >= 4:
            while True:
                r = ctx.rng.randrange(16)
                if (r == SP and fname not in self.sp) or (r == PC and fname not in self.pc):
                    continue
                return r
        return ctx.rng.getrandbits(width)

    def check(self, v: dict[str, int]) -> bool:
        if callable(self.constraint):
            return bool(self.constraint(v))
        return bool(eval(self.constraint, dict(CONSTRAINT_HELPERS), dict(v)))

    def draw(self, ctx: GenContext, tries: int = 2000) -> dict[str, int]:
        """Draw field values until the constraint holds."""
        for _ in range(tries):
            v = {f: self._draw_field(ctx, f, w) for f, _, w in self.fields}
            if self.fix is not None:
                self.fix(v)
            if self.check(v):
                return v
        raise GenerationError(f"{self.name}: constraint never satisfied")

    def encode(self, v: dict[str, int]) -> int:
        word = self.fixed_bits
        for fname, shift, width in self.fields:
            val = v[fname]
            if val < 0 or val >= (1 << width):
                raise ValueError(f"{self.name}: {fname}={val} out of range")
            word |= val << shift
        return word

    def generate(self, ctx: GenContext, tries: int = 2000) -> Insn:
        for _ in range(tries):
            v = self.draw(ctx)
            setup: list[tuple[int, int]] = []
            access = None
            if self.mem is not None:
                m = self.mem(v, ctx)
                if m is None:
                    continue
                setup, access = m
            return Insn(self.encode(v), self.name, setup, access, v,
                        size=self.bits // 8, thumb=self.thumb)
        raise GenerationError(f"{self.name}: memory setup never satisfied")

    def __repr__(self) -> str:
        return f"Pattern({self.name!r}, {self.layout!r}, {self.constraint_src!r})"
