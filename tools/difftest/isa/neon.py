"""Advanced SIMD (NEON) instructions, A32 and T32, for the differential tester.

Encodings follow the ARMv7-A ARM (DDI 0406C) chapter A7 and QEMU's decodetree
files ``neon-dp.decode``/``neon-ls.decode``/``neon-shared.decode``.  Unlike the
other ISA modules, this one draws words from whole encoding groups (A7.4
data processing, A7.7 loads/stores, A7.8 core<->scalar transfers) with only a
bias towards valid operands: UNDEFINED encodings are generated too and are
part of the test.  The harness's Undefined Instruction handler counts them and
returns to the next instruction, so the decoder's UNDEFINED rules are
compared with QEMU's like any result.  Data aborts (alignment faults of
``:align`` accesses) are counted the same way, with their DFSR and DFAR.

Only UNPREDICTABLE encodings are filtered out (``_unpredictable``): VTBL past
D31, VTRN/VUZP/VZIP/VSWP with Vd == Vm, VLDn/VSTn whose registers run past
D31, Rn = SP/PC, and VMOV/VDUP with Rt = SP/PC.

One record (82 words): r0-r12, D0-D31 (low word first), FPSCR, the number of
UNDEFINED instructions so far, the number of data aborts, the last DFSR and
DFAR.  The log pointer is SP, which no instruction uses.

Memory instructions get a setup (MOVW/MOVT) that points Rn into the 4 KiB
data buffer, at an address aligned to 1..32 bytes (mostly to the element
size), and gives a register post-index Rm a small value.

Two ISAs live here: ``ARM`` (A32, run in ARM state) and ``THUMB`` (the T32
forms of the same words, run in Thumb state); the module itself is ``ARM``
(``difftest.py --isa neon``), and ``isa/neon_thumb.py`` is ``THUMB``
(``--isa neon_thumb``): both compare QEMU with armvex, the whole CPU.
``tools/difftest/neon.py`` compares QEMU with the ``neon-replay`` binary of
``armvex-neon`` alone, on the Cortex-A9 and the Cortex-A15.
"""

from __future__ import annotations

import dataclasses
import struct

M32 = 0xFFFFFFFF

NAME = "neon"
DESCRIPTION = "Advanced SIMD (NEON), A32 and T32"
STATE_NAMES = ([f"r{i}" for i in range(13)]
               + [f"d{i}.{h}" for i in range(32) for h in ("lo", "hi")]
               + ["fpscr", "undef", "aborts", "dfsr", "dfar"])
RECORD_WORDS = len(STATE_NAMES)

# Values seeded in lanes: float specials (as 32-bit lanes) and integer edges.
F32_SPECIAL = (
    0x00000000, 0x80000000, 0x7F800000, 0xFF800000, 0x7FC00000, 0xFFC00000,
    0x7FC00001, 0x7F800001, 0xFF8ABCDE, 0x7FA00000, 0x00000001, 0x807FFFFF,
    0x00800000, 0x80800000, 0x7F7FFFFF, 0xFF7FFFFF, 0x3F800000, 0xBF800000,
    0x3F000000, 0x40000000, 0x40400000, 0x3FC00000, 0x4F000000, 0xCF000000,
    0x4F800000, 0x7E800000, 0x7F000000, 0x00400000, 0x3F7FFFFF, 0x3F800001,
    0x47000000, 0x477FFF00, 0x38800000, 0x33800000,
)
INT_EDGES = (0x00, 0x01, 0x7F, 0x80, 0xFF, 0xFE, 0x81)


def lane_value(rng, size_bits: int) -> int:
    """An edge value for a lane of size_bits."""
    r = rng.random()
    top = 1 << (size_bits - 1)
    m = (1 << size_bits) - 1
    choices = (0, 1, 2, top - 1, top, top + 1, m, m - 1, top >> 1)
    if r < 0.5:
        return rng.choice(choices)
    if r < 0.65:
        return rng.randrange(0, 64)
    return rng.getrandbits(size_bits)


def dreg_value(rng) -> int:
    r = rng.random()
    if r < 0.3:
        return rng.choice(F32_SPECIAL) | (rng.choice(F32_SPECIAL) << 32)
    if r < 0.6:
        size = rng.choice((8, 16, 32, 64))
        v = 0
        for i in range(64 // size):
            v |= lane_value(rng, size) << (i * size)
        return v
    if r < 0.65:
        return rng.choice((0, (1 << 64) - 1, 0x8000000000000000, 0x7FFFFFFFFFFFFFFF))
    return rng.getrandbits(64)


DP_GROUPS = ("3same", "shift", "3diff", "scalar", "2misc", "vtbl", "vdup", "vext")
RESEED_PROBABILITY = 0.35


def special_dvalue(rng) -> int:
    """A D register of special lanes: float specials (denormals, NaNs, infinities,
    values at the edges of the conversions) or integer lane edges."""
    if rng.random() < 0.6:
        return rng.choice(F32_SPECIAL) | (rng.choice(F32_SPECIAL) << 32)
    size = rng.choice((8, 16, 32, 64))
    v = 0
    for i in range(64 // size):
        v |= lane_value(rng, size) << (i * size)
    return v


def core_value(rng) -> int:
    r = rng.random()
    if r < 0.4:
        return rng.choice((0, 1, 0x7F, 0x80, 0xFF, 0x7FFF, 0x8000, 0xFFFF, 0x7FFFFFFF,
                           0x80000000, 0xFFFFFFFF, 0x3F800000, 0x7FC00000))
    return rng.getrandbits(32)


def random_fpscr(rng) -> int:
    # N Z C V QC AHP DN FZ RMode, cumulative flags: NEON ignores all but AHP and the flags
    v = rng.getrandbits(4) << 28
    if rng.random() < 0.3:
        v |= 1 << 27                      # QC already set
    v |= rng.getrandbits(1) << 26         # AHP
    v |= rng.getrandbits(2) << 24         # DN, FZ
    v |= rng.getrandbits(2) << 22         # RMode
    if rng.random() < 0.2:
        v |= rng.getrandbits(8) & 0x9F
    return v


# ---------------------------------------------------------------------------
# Word generation

def _vd(w):
    return ((w >> 18) & 0x10) | ((w >> 12) & 0xF)


def _vn(w):
    return ((w >> 3) & 0x10) | ((w >> 16) & 0xF)


def _vm(w):
    return ((w >> 1) & 0x10) | (w & 0xF)


def _bits(w, lo, width):
    return (w >> lo) & ((1 << width) - 1)


# group name -> (weight, fixed mask, fixed value)
GROUPS = {
    # 1111 001U 0 ...: 3 same
    "3same": (22, 0xFE800000, 0xF2000000),
    # 1111 001U 1 D imm6 ... L Q M 1: shifts and modified immediates
    "shift": (14, 0xFE800010, 0xF2800010),
    "modimm": (5, 0xFEB80090, 0xF2800010),
    # 1111 001U 1 D sz!=11 ... x 0: 3 diff / scalar (size rejected if 11)
    "3diff": (10, 0xFE800050, 0xF2800000),
    "scalar": (9, 0xFE800050, 0xF2800040),
    # 1111 001 1 1 D 11 ... 0: 2 misc, VTBL, VDUP scalar; VEXT (U=0)
    "2misc": (16, 0xFFB00810, 0xF3B00000),
    "vtbl": (3, 0xFFB00C10, 0xF3B00800),
    "vdup": (2, 0xFFB00F90, 0xF3B00C00),
    "vext": (3, 0xFFB00010, 0xF2B00000),
    # 1111 0100 A D L 0: loads and stores
    "ls_multi": (6, 0xFF900000, 0xF4000000),
    "ls_single": (5, 0xFF900000, 0xF4800000),
    "ls_all": (3, 0xFFB00C00, 0xF4A00C00),
    # cond=AL 1110 ... 1011 ... 1 0000: transfers
    "xfer": (4, 0xFF000F1F, 0xEE000B10),
}


@dataclasses.dataclass
class Insn:
    word: int                # the A32 word
    group: str
    setup: list              # [(core register, value)]
    thumb: bool = False
    dsetup: list = dataclasses.field(default_factory=list)   # [(D register, 64-bit value)]
    name: str = ""
    size: int = 4
    parts: tuple = ()
    access: tuple | None = None

    def a32(self) -> int:
        return self.word

    def encoding(self) -> int:
        return a32_to_t32(self.word) if self.thumb else self.word

    def hex(self) -> str:
        return f"{self.encoding():08x}"

    def members(self):
        return [self]


def a32_to_t32(w: int) -> int:
    top = w >> 24
    if top in (0xF2, 0xF3):
        u = (w >> 24) & 1
        return (0xEF000000 | (u << 28)) | (w & 0x00FFFFFF)
    if top == 0xF4:
        return 0xF9000000 | (w & 0x00FFFFFF)
    return w  # transfers: cond 1110 = T32 0xEE


def _even_regs(rng, w: int) -> int:
    """Clear the low bit of Vd/Vn/Vm most of the time: Q operands need even numbers."""
    if rng.random() < 0.85:
        w &= ~((1 << 12) | (1 << 16) | 1)
    return w


def _ls_regs(w: int):
    """(first D register, last D register) a load/store touches, or None if the
    encoding is UNDEFINED anyway (the decoder's business: keep it)."""
    d = _vd(w)
    if not (w >> 23) & 1:
        ty = _bits(w, 8, 4)
        span = {0b0111: 1, 0b1010: 2, 0b0110: 3, 0b0010: 4, 0b1000: 2, 0b1001: 3,
                0b0011: 4, 0b0100: 3, 0b0101: 5, 0b0000: 4, 0b0001: 7}.get(ty)
        return None if span is None else (d, d + span - 1)
    size = _bits(w, 10, 2)
    n = _bits(w, 8, 2) + 1
    if size == 3:
        t = _bits(w, 5, 1)
        if n == 1:
            return (d, d + t)
        return (d, d + (n - 1) * (t + 1))
    ia = _bits(w, 4, 4)
    inc = 1
    if size == 1 and ia & 2:
        inc = 2
    if size == 2 and ia & 4:
        inc = 2
    if n == 1:
        inc = 1
    return (d, d + (n - 1) * inc)


def _unpredictable(group: str, w: int) -> bool:
    if group == "vtbl":
        return _vn(w) + _bits(w, 8, 2) + 1 > 32
    if group == "2misc":
        op = (_bits(w, 16, 2), _bits(w, 7, 4))
        if op in ((2, 0), (2, 1), (2, 2), (2, 3)) and _vd(w) == _vm(w):
            return True
        if op in ((2, 1), (2, 2), (2, 3), (2, 0)) and (w >> 6) & 1 and abs(_vd(w) - _vm(w)) < 2:
            return True
    if group.startswith("ls_"):
        rn = _bits(w, 16, 4)
        if rn >= 13:
            return True
        span = _ls_regs(w)
        if span is not None and span[1] > 31:
            return True
    if group == "xfer":
        if _bits(w, 12, 4) >= 13:
            return True
    return False


def _mem_setup(rng, w: int, ctx_base: int, buf_size: int):
    rn = _bits(w, 16, 4)
    rm = _bits(w, 0, 4)
    align = rng.choice((1, 2, 4, 8, 8, 16, 16, 32, 32, 32))
    off = rng.randrange(64, buf_size - 128)
    off -= off % align
    setup = [(rn, ctx_base + off)]
    if rm not in (13, 15) and rm != rn:
        setup.append((rm, rng.choice((0, 1, 2, 4, 8, 16, 24, 32, (-8) & M32, (-32) & M32))))
    return setup


def random_insn(rng, thumb: bool, buf_base: int, buf_size: int, select=None) -> Insn:
    names = [g for g in GROUPS if select is None or select(g)]
    weights = [GROUPS[g][0] for g in names]
    while True:
        group = rng.choices(names, weights)[0]
        _, mask, value = GROUPS[group]
        w = (rng.getrandbits(32) & ~mask) | value
        w = _even_regs(rng, w)
        if group in ("3diff", "scalar") and _bits(w, 20, 2) == 3:
            continue
        # size = 3 is UNDEFINED for most of these: keep a third of those draws
        if group == "3same" and _bits(w, 20, 2) == 3 and rng.random() < 0.66:
            continue
        if group == "2misc" and _bits(w, 18, 2) == 3 and rng.random() < 0.66:
            continue
        if group == "shift" and not (w >> 7) & 1 and _bits(w, 19, 3) == 0:
            continue  # that is the modified-immediate group
        if group == "xfer":
            w &= ~0xF          # bits 3:0 are (0)
            if (w >> 23) & 1 and not (w >> 20) & 1:
                w &= ~(1 << 6) if rng.random() < 0.8 else ~0
        if _unpredictable(group, w):
            continue
        setup = _mem_setup(rng, w, buf_base, buf_size) if group.startswith("ls_") else []
        dsetup = []
        if group in DP_GROUPS and rng.random() < RESEED_PROBABILITY:
            # an operand full of special values again (results drift away from them)
            q = (w >> 6) & 1 and group not in ("3diff",)
            for reg in rng.sample((_vn(w), _vm(w)), rng.choice((1, 2))):
                for r in range(2 if q else 1):
                    if reg + r < 32:
                        dsetup.append((reg + r, special_dvalue(rng)))
        return Insn(w, group, setup, thumb, dsetup=dsetup, name=group)


def generate(rng, count: int, ctx, select=None, thumb=False) -> list[Insn]:
    return [random_insn(rng, thumb, ctx.buf_base, ctx.buf_size, select) for _ in range(count)]


def all_classes():
    return list(GROUPS)


def initial_state(rng) -> dict:
    return {
        "regs": [core_value(rng) for _ in range(13)],
        "dregs": [dreg_value(rng) for _ in range(32)],
        "fpscr": random_fpscr(rng),
    }


# ---------------------------------------------------------------------------
# Harness pieces (see harness.py)

LOG_MACRO = [
    ".macro log_state",
    "stmia sp!, {r0-r12}",
    "vstmia sp!, {d0-d15}",
    "vstmia sp!, {d16-d31}",
    "vmrs r0, fpscr",
    "str r0, [sp], #4",
    "ldaddr r0, exc_counts",
    "ldmia r0, {r1-r4}",
    # four STRs: in Thumb, gas turns "stmia sp!, {r1-r4}" into PUSH (STMDB)
    "str r1, [sp], #4",
    "str r2, [sp], #4",
    "str r3, [sp], #4",
    "str r4, [sp], #4",
    f"sub r0, sp, #{RECORD_WORDS * 4}",
    "ldmia r0, {r0-r12}",
    ".endm",
]


class Neon:
    NAME = NAME
    DESCRIPTION = DESCRIPTION
    STATE_NAMES = STATE_NAMES

    def __init__(self, thumb: bool):
        self.thumb = thumb

    def body_enter_asm(self) -> list[str]:
        lines = [".arm", ".fpu neon-vfpv4",
                 "ldaddr r0, neon_vectors",
                 "mcr p15, 0, r0, c12, c0, 0     @ VBAR: count UNDEF and aborts, go on",
                 "mrc p15, 0, r0, c1, c0, 2      @ CPACR",
                 "orr r0, r0, #(0xf << 20)       @ cp10, cp11: full access",
                 "bic r0, r0, #(3 << 30)         @ ASEDIS, D32DIS clear",
                 "mcr p15, 0, r0, c1, c0, 2",
                 "isb",
                 "mov r0, #0x40000000            @ FPEXC.EN",
                 "vmsr fpexc, r0"] + LOG_MACRO
        if self.thumb:
            lines += ["ldaddr r0, body_thumb", "orr r0, r0, #1", "bx r0", ".thumb", "body_thumb:"]
        return lines

    def init_asm(self) -> list[str]:
        return [
            "ldaddr r0, init_fpscr",
            "ldr r0, [r0]",
            "vmsr fpscr, r0",
            "ldaddr r0, init_dregs",
            "vldmia r0!, {d0-d15}",
            "vldmia r0, {d16-d31}",
            "ldaddr r0, init_regs",
            "ldmia r0, {r0-r12}",
        ]

    def init_data_asm(self, state: dict) -> list[str]:
        lines = ["exc_counts: .word 0, 0, 0, 0",
                 "init_fpscr:", f"    .word 0x{state['fpscr']:08x}", "init_regs:"]
        lines += [f"    .word 0x{v:08x}" for v in state["regs"]]
        lines += ["    .balign 8", "init_dregs:"]
        lines += [f"    .word 0x{v & M32:08x}, 0x{v >> 32:08x}" for v in state["dregs"]]
        return lines

    def log_asm(self) -> list[str]:
        return ["log_state"]

    def body_leave_asm(self) -> list[str]:
        lines = []
        if self.thumb:
            lines += ["ldaddr r0, finish", "bx r0", ".arm"]
        else:
            lines += ["b finish"]
        thumb_fix = ["add lr, lr, #2                 @ T32: LR = insn + 2"] if self.thumb else []
        lines += [
            ".balign 32",
            "neon_vectors:",
            "b vectors",
            "b neon_und",
            "b vectors + 8",
            "b vectors + 12",
            "b neon_dabt",
            "b vectors + 20",
            "b vectors + 24",
            "b vectors + 28",
            "neon_und:",
            "mcr p15, 0, r0, c13, c0, 4",
            "ldaddr r0, exc_counts",
            "ldr sp, [r0]",
            "add sp, sp, #1",
            "str sp, [r0]",
            "mrc p15, 0, r0, c13, c0, 4",
            *thumb_fix,
            "movs pc, lr",
            "neon_dabt:",
            "mcr p15, 0, r0, c13, c0, 4",
            "mcr p15, 0, r1, c13, c0, 3",
            "ldaddr r0, exc_counts",
            "ldr r1, [r0, #4]",
            "add r1, r1, #1",
            "str r1, [r0, #4]",
            "mrc p15, 0, r1, c5, c0, 0",
            "str r1, [r0, #8]",
            "mrc p15, 0, r1, c6, c0, 0",
            "str r1, [r0, #12]",
            "mrc p15, 0, r1, c13, c0, 3",
            "mrc p15, 0, r0, c13, c0, 4",
            "subs pc, lr, #4",
        ]
        return lines

    def insn_asm(self, insn: Insn) -> list[str]:
        lines = []
        for reg, val in insn.setup:
            lines.append(f"movw r{reg}, #0x{val & 0xFFFF:04x}")
            lines.append(f"movt r{reg}, #0x{val >> 16:04x}")
        if insn.dsetup:
            # through r0/r1, saved in TPIDRPRW/TPIDRURO: no core register changes
            lines += ["mcr p15, 0, r0, c13, c0, 4", "mcr p15, 0, r1, c13, c0, 3"]
            for reg, val in insn.dsetup:
                lo, hi = val & M32, val >> 32
                lines += [f"movw r0, #0x{lo & 0xFFFF:04x}", f"movt r0, #0x{lo >> 16:04x}",
                          f"movw r1, #0x{hi & 0xFFFF:04x}", f"movt r1, #0x{hi >> 16:04x}",
                          f"vmov d{reg}, r0, r1"]
            lines += ["mrc p15, 0, r0, c13, c0, 4", "mrc p15, 0, r1, c13, c0, 3"]
        lines.append(f".inst{'.w' if self.thumb else ''} 0x{insn.encoding():08x}  @ {insn.group}")
        return lines

    def setup_regs_after(self, insn: Insn) -> dict:
        return dict(insn.setup)

    @staticmethod
    def format_psr(v: int) -> str:
        return f"{v:#010x}"


ARM = Neon(False)
THUMB = Neon(True)


def f32_bits(x: float) -> int:
    return struct.unpack("<I", struct.pack("<f", x))[0]


# The module-level interface of isa/__init__.py (A32: `difftest.py --isa neon`; the T32
# forms are isa/neon_thumb.py). difftest.py runs vexpress-a9 with -cpu cortex-a9, which has
# NEON in QEMU; the harness addresses fit that board.
body_enter_asm = ARM.body_enter_asm
init_asm = ARM.init_asm
init_data_asm = ARM.init_data_asm
log_asm = ARM.log_asm
body_leave_asm = ARM.body_leave_asm
insn_asm = ARM.insn_asm
setup_regs_after = ARM.setup_regs_after
format_psr = Neon.format_psr
CI_SEEDS = list(range(1, 9))
CI_COUNT = 300


def adjust_before(insn: Insn, regs: list[int]) -> list[int]:
    """The D registers the setup reloads, for reports of the state before an instruction."""
    regs = list(regs)
    for reg, val in insn.dsetup:
        regs[13 + 2 * reg] = val & M32
        regs[14 + 2 * reg] = val >> 32
    return regs
