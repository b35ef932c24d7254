"""Values and helpers shared by the ISA generators."""

from __future__ import annotations

from pattern import GenContext

M32 = 0xFFFFFFFF

# Word values that sit on the edges of arithmetic: signed and unsigned
# overflow, halfword and byte lane boundaries, all-ones and zero.
INTERESTING = (
    0x00000000, 0x00000001, 0x00000002, 0x7FFFFFFF, 0x80000000, 0xFFFFFFFF,
    0xFFFFFFFE, 0x80000001, 0x00007FFF, 0x00008000, 0x0000FFFF, 0x00010000,
    0xFFFF8000, 0xFFFF7FFF, 0x7FFF7FFF, 0x80008000, 0x7FFF8000, 0x80007FFF,
    0xFFFFFFFF, 0x7F7F7F7F, 0x80808080, 0x00FF00FF, 0xFF00FF00, 0x01010101,
    0xFEFEFEFE,
)


def assign_weights(patterns, group_weights: dict[str, float]) -> None:
    """Give each pattern its share of its group's weight, so a group's chance of being
    picked does not depend on how many patterns it has."""
    counts: dict[str, int] = {}
    for c in patterns:
        counts[c.group] = counts.get(c.group, 0) + 1
    for c in patterns:
        c.weight = group_weights[c.group] / counts[c.group]


def register_value(rng) -> int:
    """An initial register value: special values, small numbers, words."""
    r = rng.random()
    if r < 0.35:
        return rng.choice(INTERESTING)
    if r < 0.55:
        return rng.randrange(0, 64)
    if r < 0.65:
        return (-rng.randrange(1, 64)) & M32
    return rng.getrandbits(32)


def shift_amount_value(rng) -> int:
    """A value for a shift-amount register: only bits [7:0] count, so cover
    0..33 (the edges at 0, 31, 32 and 33) and large amounts, with random
    upper bits that the instruction must ignore."""
    amount = rng.choice(list(range(0, 34)) + [63, 64, 127, 128, 200, 255])
    upper = rng.choice((0, 0, rng.getrandbits(24)))
    return (upper << 8) | amount


def format_psr(v: int) -> str:
    """NZCVQ (upper case = set), GE and the mode of a CPSR value."""
    flags = "".join(c if v >> b & 1 else c.lower()
                    for c, b in zip("NZCVQ", range(31, 26, -1)))
    return f"{flags} GE={v >> 16 & 15:04b} mode={v & 31:#x}"


# ---------------------------------------------------------------------------
# A log that does not use SP (for the ISAs that test SP itself).
#
# The arm ISA keeps the log pointer in SP and never lets an instruction touch
# SP.  Thumb has PUSH/POP, SP-relative loads and stores and ADD/SUB SP, and
# VFP has VPUSH/VPOP, so there SP is a tested register like the others and
# the log pointer lives in the CP15 thread ID register TPIDRURW (c13, c0, 2),
# with TPIDRURO (c13, c0, 3) and TPIDRPRW (c13, c0, 4) as scratch.  All
# three are plain read/write registers at PL1 (the harness runs in Secure
# SVC mode); MCR/MRC change no flags, and the same source assembles as A32
# or T32.  The log sequence writes r0-r12, lr, the APSR (MRS: NZCVQ, GE)
# and the tested SP, then whatever ``extra`` stores (VFP state), and leaves
# every register and flag as it found it.

LOG_END_TPIDR = "mrc p15, 0, r4, c13, c0, 2      @ end of the log (TPIDRURW)"


def tpidr_log_macro(extra=()) -> list[str]:
    """The ``log_state`` macro: one record at the log pointer."""
    return [
        ".macro log_state",
        "mcr p15, 0, r0, c13, c0, 4     @ TPIDRPRW := r0",
        "mov r0, sp",
        "mcr p15, 0, r0, c13, c0, 3     @ TPIDRURO := the tested SP",
        "mrc p15, 0, r0, c13, c0, 2     @ r0 := log pointer (TPIDRURW)",
        "mov sp, r0",
        "mrc p15, 0, r0, c13, c0, 4     @ r0 back",
        "stmia sp!, {r0-r12, lr}",
        "mrs r0, apsr",
        "str r0, [sp], #4",
        "mrc p15, 0, r0, c13, c0, 3",
        "str r0, [sp], #4               @ the tested SP",
        *extra,
        "mov r0, sp",
        "mcr p15, 0, r0, c13, c0, 2     @ log pointer advanced",
        "mrc p15, 0, r0, c13, c0, 3",
        "mov sp, r0                     @ the tested SP back",
        "mrc p15, 0, r0, c13, c0, 4     @ r0 back",
        ".endm",
    ]


def tpidr_log_start() -> list[str]:
    """(ARM state, at the start of the body) the log pointer, which the
    prologue put in SP, moves to TPIDRURW."""
    return ["mov r0, sp", "mcr p15, 0, r0, c13, c0, 2     @ TPIDRURW := log pointer"]


def reg_name(r: int) -> str:
    return {13: "sp", 14: "lr", 15: "pc"}.get(r, f"r{r}")


def movw_movt(reg: str, val: int) -> list[str]:
    lines = [f"movw {reg}, #0x{val & 0xFFFF:04x}"]
    if val >> 16:
        lines.append(f"movt {reg}, #0x{val >> 16:04x}")
    return lines


def core_setup_lines(setup) -> list[str]:
    """MOVW/MOVT for each (core register, value); SP (13) goes through r0,
    saved in TPIDRPRW (MOVW/MOVT to SP are UNPREDICTABLE in T32)."""
    lines = []
    for reg, val in setup:
        if reg == 13:
            lines += ["mcr p15, 0, r0, c13, c0, 4"] + movw_movt("r0", val) + [
                "mov sp, r0", "mrc p15, 0, r0, c13, c0, 4"]
        else:
            lines += movw_movt(reg_name(reg), val)
    return lines


# Padding after the body for PC-relative (literal) loads that reach past
# the last instruction: fixed, varied words, so the loaded values are the
# same in every emulator whatever follows the program.
LITERAL_PAD = [
    ".balign 4",
    ".rept 256",
    ".word 0x0123c567, 0x89ab4def, 0xfedcba98, 0x76548210",
    ".endr",
]


# ---------------------------------------------------------------------------
# Memory setup shared by the ISAs whose base register may be SP.  A setup
# function returns (setup, access) or None to reject the draw; setup is
# [(reg, value)], access is (address, length, store).

def place(ctx: GenContext, length: int, align: int, offset: int, pre: bool,
          base_is_sp: bool):
    """(address, base): an address in the buffer and the base register value
    that reaches it; a base in SP must stay word-aligned."""
    for _ in range(64):
        addr = ctx.addr(length, align)
        base = (addr - offset) & M32 if pre else addr
        if not base_is_sp or base % 4 == 0:
            return addr, base
    return None


def mem_imm(length, store, off, pre=lambda v: True, base="rn", align=None):
    """Base register plus a signed immediate (``off(v)``), pre-indexed or
    offset if ``pre(v)``, post-indexed otherwise.  Natural alignment up to
    a word unless ``align`` says otherwise."""
    def setup(v, ctx):
        rn = 13 if base == "sp" else v[base]
        placed = place(ctx, length, align or min(length, 4), off(v), pre(v), rn == 13)
        if placed is None:
            return None
        addr, b = placed
        return [(rn, b)], (addr, length, store)
    return setup


