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

Register fields (``REG_FIELDS``) never take 13: SP is the harness's log
pointer.  They take 15 (PC) only when the pattern lists them in ``pc``.

The constraint is a Python expression over the field values (e.g.
``"rdhi != rdlo"``); it may use the helpers in ``CONSTRAINT_HELPERS``.
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


CONSTRAINT_HELPERS = {
    "popcount": popcount,
    "lowest_set_bit": lowest_set_bit,
}


@dataclasses.dataclass
class Insn:
    """One generated instruction plus the setup that must precede it.

    ``setup`` is a list of (register, value) pairs the harness loads with an
    unconditional MOVW/MOVT just before the instruction (base and index
    registers of memory accesses, seeded operand values).  ``access`` is
    (address, length, is_store) for memory instructions, for reports.
    """

    word: int
    name: str
    setup: list[tuple[int, int]] = dataclasses.field(default_factory=list)
    access: tuple[int, int, bool] | None = None
    fields: dict[str, int] = dataclasses.field(default_factory=dict)


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

    def __init__(self, name: str, layout: str, constraint: str = "True", *,
                 pc: tuple[str, ...] = (), gen: dict | None = None,
                 mem: Callable | None = None, weight: float = 1.0,
                 group: str = "", seed_regs: tuple[str, ...] | None = None):
        self.name = name
        self.layout = layout
        self.constraint_src = constraint
        self.constraint = compile(constraint, f"<{name} constraint>", "eval")
        self.pc = frozenset(pc)
        self.gen = gen or {}
        self.mem = mem
        self.weight = weight
        self.group = group
        self.fixed_bits = 0
        self.fields: list[tuple[str, int, int]] = []  # name, shift, width
        pos = 32
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
            raise ValueError(f"{name}: layout is {32 - pos} bits, not 32")
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
        if fname in REG_FIELDS:
            while True:
                r = ctx.rng.randrange(16)
                if r == SP or (r == PC and fname not in self.pc):
                    continue
                return r
        return ctx.rng.getrandbits(width)

    def draw(self, ctx: GenContext, tries: int = 2000) -> dict[str, int]:
        """Draw field values until the constraint holds."""
        for _ in range(tries):
            v = {f: self._draw_field(ctx, f, w) for f, _, w in self.fields}
            if eval(self.constraint, dict(CONSTRAINT_HELPERS), v):
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
            return Insn(self.encode(v), self.name, setup, access, v)
        raise GenerationError(f"{self.name}: memory setup never satisfied")

    def __repr__(self) -> str:
        return f"Pattern({self.name!r}, {self.layout!r}, {self.constraint_src!r})"
