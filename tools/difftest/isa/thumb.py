"""T32 (Thumb-2, ARMv7-A) integer instruction classes for the differential
tester, 16- and 32-bit encodings, with IT blocks.

Encodings follow the ARMv7-A ARM (DDI 0406C) chapters A6 (Thumb encoding)
and A8, cross-checked with QEMU's ``t16.decode`` / ``t32.decode``; the
target is a Cortex-A9 (no integer divide).  Patterns are emitted as
``.inst.n`` (16 bits) or ``.inst.w`` (32 bits, first halfword first).

The harness
-----------
The body is entered from ARM state with BX (``body_enter_asm``) and stays in
Thumb state, log sequence included; ``body_leave_asm`` returns to ARM state
with BX.  SP is a tested register here (PUSH/POP, SP-relative loads and
stores, ADD/SUB SP), so the log pointer lives in CP15 TPIDRURW (see
``common.tpidr_log_macro``).  One record: r0-r12, lr, the APSR as MRS reads
it (N Z C V Q and GE[3:0]; MRS reads the IT and T bits as zero), and SP.

Units and IT blocks
-------------------
The generator produces *units*; each unit is followed by one log record.  A
unit is a single instruction, or an IT block: the IT instruction (random
firstcond and mask, 1-4 instructions, firstcond AL only with an all-"then"
mask) and the instructions it makes conditional.  Logging between the
instructions of an IT block would be wrong (the log instructions would
themselves be conditional and consume the IT state), so the block is logged
once, after its last instruction, and reported as one unit (``insn_<k>`` is
the IT instruction).  The setup MOVW/MOVTs of all members run before the IT
instruction (unconditionally); a member's setup registers must not be named
by an earlier member of the block (which could change them) nor be set to a
different value by another member's setup, otherwise the member is drawn
again.  Members come from the classes marked ``it=True``: everything except
hints, barriers, CLREX, preloads and exclusives (exclusives need the local
monitor state known, see the sequences below); a branch, CBZ/CBNZ, IT,
CPS/SETEND are never generated anywhere.  The 16-bit data-processing
instructions set the flags outside an IT block and do not inside one (CMP,
CMN, TST always do); both cases are drawn all the time.

UNPREDICTABLE rules encoded (DDI 0406C), beyond the per-class comments:

* SP (r13): A6.1.3/A6.2 restrict SP to MOV SP,Rm / MOV Rd,SP (register, no
  shift, no flags); ADD/SUB SP,SP,#imm / ,Rm{,LSL #0-3} adjusting SP by a
  multiple of 4; the base of any load/store/preload; the first operand of
  ADD{S}/SUB{S}/CMP/CMN; PUSH/POP.  Every other use of SP is UNPREDICTABLE
  (BadReg() in the pseudocode of most 32-bit instructions), so 4-bit
  register fields never draw 13 unless a pattern says ``sp=``.  SP[1:0]
  must stay 0: every value written to SP is a multiple of 4 (the setup
  loads Rm with a multiple of 4 for MOV/ADD SP).
* PC (r15): never a destination (a branch).  As an operand only in ADR,
  literal loads, 16-bit ADD Rdn,PC and MOV Rd,PC (value = address + 4).
  BadReg() rejects it everywhere else; a 4-bit field draws 15 only with
  ``pc=``.
* 16-bit LSL #0 (MOV Rd,Rm, T2) is UNPREDICTABLE inside an IT block.
* 16-bit CMP Rn,Rm with both registers low is UNPREDICTABLE (T2 encoding).
* Modified immediates: i:imm3 = 0001-0011 (the replicated forms) with
  imm8 = 0 are UNPREDICTABLE.
* Writeback with Rn == Rt (or Rt2) is UNPREDICTABLE; LDRD/LDREXD Rt == Rt2;
  STREX* Rd == Rn/Rt/Rt2; LDM/STM (32-bit) with fewer than 2 registers, or
  with writeback and Rn in the list; 16-bit STM with Rn in the list but not
  the lowest (UNKNOWN value stored); REV/RBIT/CLZ with the two Rm fields
  different; SBFX/UBFX lsb+width > 32; BFI/BFC msb < lsb; SSAT/USAT shift
  ASR #0 encodes SSAT16/USAT16; MSR APSR with mask 0.
* Never generated: B, BL, BLX, BX, CBZ/CBNZ, TBB/TBH, SVC, BKPT, UDF,
  CPS, SETEND, SRS/RFE, SUBS PC,LR, MRS/MSR of SPSR or banked registers,
  WFI/WFE, coprocessor instructions, SDIV/UDIV (absent on Cortex-A9),
  ARMv8 instructions.

Memory accesses land naturally aligned inside the 4 KiB data buffer (the
setup loads the base and index registers); unaligned accesses are left out
for the same reason as in arm.py.  Literal (PC-relative) loads read the
program itself: forward into the code or the fixed padding after the body
(``common.LITERAL_PAD``), backward only as far as the body already reaches.
"""

from __future__ import annotations

from pattern import (M32, GenContext, GenerationError, Insn, Pattern,
                     lowest_set_bit, popcount)
from isa import common
from isa.common import mem_imm, place as _place  # noqa: F401

NAME = "thumb"
DESCRIPTION = "T32 (Thumb-2) integer instructions with IT blocks (ARMv7-A, Cortex-A9)"

STATE_NAMES = [f"r{i}" for i in range(13)] + ["lr", "cpsr", "sp"]
LOG_END_ASM = common.LOG_END_TPIDR
CI_SEEDS = list(range(1, 25))
CI_COUNT = 1000

format_psr = common.format_psr

IT_PROBABILITY_HINT = 0.2  # about this share of the units are IT blocks


# ---------------------------------------------------------------------------
# Helpers

def thumb_expand_imm(i: int, imm3: int, imm8: int) -> int:
    """ThumbExpandImm(i:imm3:imm8) (A6.3.2)."""
    imm12 = (i << 11) | (imm3 << 8) | imm8
    if imm12 >> 10 == 0:
        form = (imm12 >> 8) & 3
        return (imm8, (imm8 << 16) | imm8, (imm8 << 24) | (imm8 << 8),
                imm8 * 0x01010101)[form]
    unrot = 0x80 | (imm12 & 0x7F)
    rot = imm12 >> 7
    return ((unrot >> rot) | (unrot << (32 - rot))) & M32


def modimm_ok(v) -> bool:
    """i:imm3 = 0001..0011 with imm8 = 0 is UNPREDICTABLE."""
    return not (v["i"] == 0 and 1 <= v["imm3"] <= 3 and v["imm8"] == 0)


def _reglist(rng, low_only: bool, minimum: int) -> int:
    regs = list(range(8)) if low_only else [r for r in range(15) if r != 13]
    k = rng.choice((1, 1, 2, 2, 3, 4, 5, 8) if low_only else
                   (2, 2, 3, 3, 4, 5, 6, 8, 10, 14))
    k = max(minimum, min(k, len(regs)))
    return sum(1 << r for r in rng.sample(regs, k))


def _aligned_value(rng) -> int:
    """A value for a register that is about to be written to SP (or added
    to it): a multiple of 4."""
    return common.register_value(rng) & ~3 & M32


# ---------------------------------------------------------------------------
# Memory and operand setup.  Each returns (setup, access) or None to reject
# the draw; setup is [(reg, value)], access is (address, length, store).

def mem_reg(length, store, shift=lambda v: 0, base="rn", index="rm"):
    """Base register plus an index register shifted left by ``shift(v)``."""
    def setup(v, ctx):
        rn, rm = v[base], v[index]
        for _ in range(64):
            addr = ctx.addr(length, min(length, 4))
            n = shift(v)
            k = ctx.rng.randint(-(1024 >> n), 1023 >> n)
            d = k << n
            low = k & (M32 >> n)
            rm_val = (low | (ctx.rng.getrandbits(n) << (32 - n) if n else low)) & M32
            b = (addr - d) & M32
            if rn != 13 or b % 4 == 0:
                return [(rm, rm_val), (rn, b)], (addr, length, store)
        return None
    return setup


def mem_block(store, count, base="rn", mode=lambda v: "IA"):
    """LDM/STM/PUSH/POP: ``count(v)`` words; IA: the base is the lowest
    address, DB: the base is just above the highest."""
    def setup(v, ctx):
        n = count(v)
        addr = ctx.addr(4 * n, 4)
        rn = 13 if base == "sp" else v[base]
        b = addr if mode(v) == "IA" else addr + 4 * n
        return [(rn, b & M32)], (addr, 4 * n, store)
    return setup


def aligned_source(field):
    """Not memory: the register in ``field`` goes to SP, load it with a
    multiple of 4."""
    def setup(v, ctx):
        return [(v[field], _aligned_value(ctx.rng))], None
    return setup


def literal(align):
    """PC-relative load: U=0 (backward) only as far as the body already
    reaches, so the load never reads below RAM; the offset must keep the
    access aligned (Align(PC, 4) is word-aligned)."""
    def setup(v, ctx):
        if v["u"] == 0 and v["imm12"] + 64 > 40 * getattr(ctx, "units", 0):
            return None
        if v["imm12"] % align:
            return None
        return [], None
    return setup


# ---------------------------------------------------------------------------
# Classes

GROUP_WEIGHTS = {
    "t16_shift_addsub": 9, "t16_dp": 9, "t16_hireg": 5, "t16_sp_adr": 3,
    "t16_misc": 3, "t16_ldst": 8, "t16_ldm": 3, "t16_hint": 0.6,
    "t32_dp_shift": 10, "t32_dp_regshift": 3, "t32_dp_modimm": 10,
    "t32_plain_imm": 6, "t32_mul": 5, "t32_mul_long": 3, "t32_parallel": 5,
    "t32_misc": 5, "t32_extend": 3, "t32_ldst": 10, "t32_ldst_dual": 3,
    "t32_ldm": 3, "t32_status": 2, "t32_hint": 3, "exclusive": 3,
    "it": 22,
}

PATTERNS: list[Pattern] = []
SOURCE_FIELDS = ("rn", "rm", "rs", "ra", "rdn")


def _add(name, layout, constraint, bits, kw) -> Pattern:
    kw.setdefault("it", True)
    explicit_seeds = "seed_regs" in kw
    p = Pattern(name, layout, constraint, bits=bits, thumb=True, **kw)
    if not explicit_seeds and p.mem is None:
        p.seed_regs = tuple(f for f in SOURCE_FIELDS if f in p.field_names())
    PATTERNS.append(p)
    return p


def T16(name, layout, constraint="True", **kw) -> Pattern:
    return _add(name, layout, constraint, 16, kw)


def T32(name, layout, constraint="True", **kw) -> Pattern:
    return _add(name, layout, constraint, 32, kw)


def hi(a, b):
    """A 4-bit register number split as a high bit and three low bits."""
    return lambda v: v[a] * 8 + v[b]


# --- 16-bit: shift (immediate), add/subtract, move/compare immediate -------
# Outside an IT block these set the flags (LSLS, ADDS, MOVS...), inside they
# do not (except CMP).  LSL #0 is MOVS Rd,Rm (T2), UNPREDICTABLE in IT.
G = "t16_shift_addsub"
T16("LSL_imm_n", "000 00 imm5:5 rm:3 rd:3", it_rule=lambda v: v["imm5"] != 0,
    group=G)
T16("LSR_imm_n", "000 01 imm5:5 rm:3 rd:3", group=G)  # imm5=0: #32
T16("ASR_imm_n", "000 10 imm5:5 rm:3 rd:3", group=G)  # imm5=0: #32
T16("ADD_reg_n", "0001100 rm:3 rn:3 rd:3", group=G)
T16("SUB_reg_n", "0001101 rm:3 rn:3 rd:3", group=G)
T16("ADD_imm3_n", "0001110 imm3:3 rn:3 rd:3", group=G)
T16("SUB_imm3_n", "0001111 imm3:3 rn:3 rd:3", group=G)
T16("MOV_imm8_n", "00100 rd:3 imm8:8", group=G)
T16("CMP_imm8_n", "00101 rn:3 imm8:8", group=G)
T16("ADD_imm8_n", "00110 rdn:3 imm8:8", group=G)
T16("SUB_imm8_n", "00111 rdn:3 imm8:8", group=G)

# --- 16-bit data processing (two low registers) ---------------------------
# LSL/LSR/ASR/ROR by register: Rs (bits 5:3) holds the amount.  RSB is
# NEGS Rd,Rn (RSB #0).  MUL has no Rd==Rm restriction in ARMv6+.
DP16 = ["AND", "EOR", "LSL", "LSR", "ASR", "ADC", "SBC", "ROR",
        "TST", "RSB", "CMP", "CMN", "ORR", "MUL", "BIC", "MVN"]
for op, mnem in enumerate(DP16):
    if mnem in ("LSL", "LSR", "ASR", "ROR"):
        T16(f"{mnem}_reg_n", f"010000 {op:04b} rs:3 rdn:3", group="t16_dp")
    else:
        T16(f"{mnem}_dp_n", f"010000 {op:04b} rm:3 rdn:3", group="t16_dp")

# --- 16-bit high-register ADD/CMP/MOV and the SP forms ----------------------
# ADD Rdn,Rm (T2): Rdn=PC is a branch; Rm=PC reads PC+4; Rdn or Rm = SP are
# the SP-plus-register encodings, generated as their own classes.
G = "t16_hireg"
T16("ADD_hi_n", "01000100 dn:1 rm:4 rdn:3", lambda v: hi("dn", "rdn")(v) not in (13, 15),
    pc=("rm",), group=G, regs=lambda v: {hi("dn", "rdn")(v), v["rm"]},
    sources=lambda v: [hi("dn", "rdn")(v), v["rm"]])
# ADD Rdm, SP, Rdm (T1 of ADD SP plus register).  Rdm=SP would be
# ADD SP,SP,SP (SP as Rm: not an allowed use).
T16("ADD_SPrdm_n", "01000100 dm:1 1101 rdm:3", lambda v: hi("dm", "rdm")(v) not in (13, 15),
    group=G, regs=lambda v: {hi("dm", "rdm")(v), 13},
    sources=lambda v: [hi("dm", "rdm")(v)])
# ADD SP, Rm (T2 of ADD SP plus register): Rm is a multiple of 4.
T16("ADD_SPrm_n", "010001001 rm:4 101", mem=aligned_source("rm"), group=G,
    regs=lambda v: {v["rm"], 13})
# CMP Rn,Rm (T2): both low UNPREDICTABLE, either PC UNPREDICTABLE, Rn=SP
# allowed (first operand), Rm=SP not.
T16("CMP_hi_n", "01000101 n:1 rm:4 rn3:3",
    lambda v: hi("n", "rn3")(v) != 15 and not (hi("n", "rn3")(v) < 8 and v["rm"] < 8),
    group=G, regs=lambda v: {hi("n", "rn3")(v), v["rm"]},
    sources=lambda v: [hi("n", "rn3")(v), v["rm"]])
# MOV Rd,Rm (T1): Rd=PC is a branch.  Rm may be SP or PC (reads PC+4).
T16("MOV_hi_n", "01000110 d:1 rm:4 rd3:3", lambda v: hi("d", "rd3")(v) not in (13, 15),
    pc=("rm",), sp=("rm",), group=G, regs=lambda v: {hi("d", "rd3")(v), v["rm"]},
    sources=lambda v: [v["rm"]])
# MOV SP,Rm: Rm a multiple of 4 (not SP, not PC).
T16("MOV_SP_n", "01000110 1 rm:4 101", mem=aligned_source("rm"), group=G,
    regs=lambda v: {v["rm"], 13})

# --- ADR, ADD Rd,SP,#imm, ADD/SUB SP,SP,#imm --------------------------------
G = "t16_sp_adr"
T16("ADR_n", "10100 rd:3 imm8:8", group=G)
T16("ADD_SPimm8_n", "10101 rd:3 imm8:8", group=G, implicit=(13,))
T16("ADD_SPSP_n", "101100000 imm7:7", group=G, implicit=(13,))
T16("SUB_SPSP_n", "101100001 imm7:7", group=G, implicit=(13,))

# --- Extend and reverse -----------------------------------------------------
G = "t16_misc"
for op, mnem in enumerate(("SXTH", "SXTB", "UXTH", "UXTB")):
    T16(f"{mnem}_n", f"1011 0010 {op:02b} rm:3 rd:3", group=G)
for op, mnem in ((0, "REV"), (1, "REV16"), (3, "REVSH")):  # op 10 is HLT (v8)
    T16(f"{mnem}_n", f"1011 1010 {op:02b} rm:3 rd:3", group=G)

# --- 16-bit loads and stores ----------------------------------------------
G = "t16_ldst"
LDST_REG16 = ["STR", "STRH", "STRB", "LDRSB", "LDR", "LDRH", "LDRB", "LDRSH"]
for op, mnem in enumerate(LDST_REG16):
    size = 4 if mnem in ("STR", "LDR") else 2 if "H" in mnem else 1
    # Rm == Rn is left out (the generator could not place both).
    T16(f"{mnem}_reg_n", f"0101 {op:03b} rm:3 rn:3 rt:3", "rm != rn",
        mem=mem_reg(size, mnem.startswith("STR")), group=G)
for mnem, bits, size in (("STR", "01100", 4), ("LDR", "01101", 4),
                         ("STRB", "01110", 1), ("LDRB", "01111", 1),
                         ("STRH", "10000", 2), ("LDRH", "10001", 2)):
    T16(f"{mnem}_imm_n", f"{bits} imm5:5 rn:3 rt:3",
        mem=mem_imm(size, mnem.startswith("STR"), lambda v, s=size: v["imm5"] * s),
        group=G)
T16("STR_SP_n", "10010 rt:3 imm8:8", mem=mem_imm(4, True, lambda v: v["imm8"] * 4, base="sp"),
    group=G, implicit=(13,))
T16("LDR_SP_n", "10011 rt:3 imm8:8", mem=mem_imm(4, False, lambda v: v["imm8"] * 4, base="sp"),
    group=G, implicit=(13,))
# LDR Rt,[PC,#imm8*4]: forward only, within 1 KiB.
T16("LDR_lit_n", "01001 rt:3 imm8:8", group=G)

# --- 16-bit load/store multiple, PUSH/POP (never PC) ------------------------
# At least one register.  LDM writes back unless Rn is in the list.  STM
# always writes back; Rn in the list must be the lowest register.
G = "t16_ldm"
T16("PUSH_n", "1011010 m:1 list:8", "list or m", gen={"list": lambda r: _reglist(r, True, 0)},
    mem=mem_block(True, lambda v: popcount(v["list"]) + v["m"], base="sp", mode=lambda v: "DB"),
    group=G, implicit=(13, 14))
T16("POP_n", "1011110 0 list:8", "list != 0", gen={"list": lambda r: _reglist(r, True, 1)},
    mem=mem_block(False, lambda v: popcount(v["list"]), base="sp"), group=G, implicit=(13,))
T16("LDM_n", "11001 rn:3 list:8", "list != 0", gen={"list": lambda r: _reglist(r, True, 1)},
    mem=mem_block(False, lambda v: popcount(v["list"])), group=G)
T16("STM_n", "11000 rn:3 list:8",
    "list != 0 and (not (list >> rn) & 1 or rn == lowest_set_bit(list))",
    gen={"list": lambda r: _reglist(r, True, 1)},
    mem=mem_block(True, lambda v: popcount(v["list"])), group=G)

# --- 16-bit hints (outside IT blocks) ---------------------------------------
for mnem, op in (("NOP", 0), ("YIELD", 1), ("SEV", 4)):
    T16(f"{mnem}_n", f"10111111 {op:04b} 0000", group="t16_hint", it=False)

# --- 32-bit data processing (shifted register) ------------------------------
# Layout: 1110101 op:4 S Rn | (0) imm3 Rd imm2 type Rm; shift imm3:imm2.
# BadReg(Rd), BadReg(Rm) and Rn in {13, 15} are UNPREDICTABLE for the
# binary ops; Rn=1111 of ORR/ORN is MOV/MVN; Rn=1101 of ADD/SUB is the SP
# form; Rd=1111 with S=1 of AND/EOR/ADD/SUB is TST/TEQ/CMN/CMP.
G = "t32_dp_shift"
DP32 = {"AND": 0, "BIC": 1, "ORR": 2, "ORN": 3, "EOR": 4, "ADD": 8, "ADC": 10,
        "SBC": 11, "SUB": 13, "RSB": 14}
for mnem, op in DP32.items():
    T32(f"{mnem}_reg_w", f"11101 01 {op:04b} s:1 rn:4 0 imm3:3 rd:4 imm2:2 type:2 rm:4",
        group=G)
T32("MOV_reg_w", "11101 01 0010 s:1 1111 0 imm3:3 rd:4 imm2:2 type:2 rm:4", group=G)
T32("MVN_reg_w", "11101 01 0011 s:1 1111 0 imm3:3 rd:4 imm2:2 type:2 rm:4", group=G)
# MOV.W SP,Rm / MOV.W Rd,SP: no shift, no flags (the only SP moves).
T32("MOV_toSP_w", "11101 01 0010 0 1111 0 000 1101 00 00 rm:4", mem=aligned_source("rm"),
    group=G, implicit=(13,))
T32("MOV_fromSP_w", "11101 01 0010 0 1111 0 000 rd:4 00 00 1101", group=G, implicit=(13,))
T32("TST_reg_w", "11101 01 0000 1 rn:4 0 imm3:3 1111 imm2:2 type:2 rm:4", group=G)
T32("TEQ_reg_w", "11101 01 0100 1 rn:4 0 imm3:3 1111 imm2:2 type:2 rm:4", group=G)
T32("CMP_reg_w", "11101 01 1101 1 rn:4 0 imm3:3 1111 imm2:2 type:2 rm:4", sp=("rn",), group=G)
T32("CMN_reg_w", "11101 01 1000 1 rn:4 0 imm3:3 1111 imm2:2 type:2 rm:4", sp=("rn",), group=G)
# PKHBT (tb=0, LSL) / PKHTB (tb=1, ASR; shift 0 encodes ASR #32).
T32("PKHBT_w", "11101 01 0110 0 rn:4 0 imm3:3 rd:4 imm2:2 0 0 rm:4", group=G)
T32("PKHTB_w", "11101 01 0110 0 rn:4 0 imm3:3 rd:4 imm2:2 1 0 rm:4", group=G)
# ADD{S}/SUB{S}.W Rd, SP, Rm{,shift} (Rd not SP), and ADD/SUB.W SP, SP,
# Rm, LSL #0-3 (no flags; Rm a multiple of 4).
T32("ADD_SPreg_w", "11101 01 1000 s:1 1101 0 imm3:3 rd:4 imm2:2 type:2 rm:4", group=G,
    implicit=(13,))
T32("SUB_SPreg_w", "11101 01 1101 s:1 1101 0 imm3:3 rd:4 imm2:2 type:2 rm:4", group=G,
    implicit=(13,))
T32("ADD_SPSPreg_w", "11101 01 1000 0 1101 0 000 1101 imm2:2 00 rm:4", mem=aligned_source("rm"),
    group=G, implicit=(13,))
T32("SUB_SPSPreg_w", "11101 01 1101 0 1101 0 000 1101 imm2:2 00 rm:4", mem=aligned_source("rm"),
    group=G, implicit=(13,))

# --- 32-bit register-controlled shifts: BadReg anywhere UNPREDICTABLE -------
for t, mnem in enumerate(("LSL", "LSR", "ASR", "ROR")):
    T32(f"{mnem}_regs_w", f"11111010 0 {t:02b} s:1 rn:4 1111 rd:4 0000 rs:4",
        group="t32_dp_regshift")

# --- 32-bit data processing (modified immediate) ----------------------------
# 11110 i 0 op:4 S Rn | 0 imm3 Rd imm8, constant ThumbExpandImm(i:imm3:imm8):
# 00000000 00000000 00000000 abcdefgh, 00XY00XY, XY00XY00, XYXYXYXY and the
# rotated 1bcdefgh forms (C = bit 31 of the constant when S=1 and rotated;
# unchanged for the unrotated forms).  Same register rules as above.
G = "t32_dp_modimm"
for mnem, op in DP32.items():
    T32(f"{mnem}_imm_w", f"11110 i:1 0 {op:04b} s:1 rn:4 0 imm3:3 rd:4 imm8:8", modimm_ok,
        group=G)
T32("MOV_imm_w", "11110 i:1 0 0010 s:1 1111 0 imm3:3 rd:4 imm8:8", modimm_ok, group=G)
T32("MVN_imm_w", "11110 i:1 0 0011 s:1 1111 0 imm3:3 rd:4 imm8:8", modimm_ok, group=G)
T32("TST_imm_w", "11110 i:1 0 0000 1 rn:4 0 imm3:3 1111 imm8:8", modimm_ok, group=G)
T32("TEQ_imm_w", "11110 i:1 0 0100 1 rn:4 0 imm3:3 1111 imm8:8", modimm_ok, group=G)
T32("CMP_imm_w", "11110 i:1 0 1101 1 rn:4 0 imm3:3 1111 imm8:8", modimm_ok, sp=("rn",),
    group=G)
T32("CMN_imm_w", "11110 i:1 0 1000 1 rn:4 0 imm3:3 1111 imm8:8", modimm_ok, sp=("rn",),
    group=G)
T32("ADD_SPimm_w", "11110 i:1 0 1000 s:1 1101 0 imm3:3 rd:4 imm8:8", modimm_ok, group=G,
    implicit=(13,))
T32("SUB_SPimm_w", "11110 i:1 0 1101 s:1 1101 0 imm3:3 rd:4 imm8:8", modimm_ok, group=G,
    implicit=(13,))


def _sp_modimm_ok(v) -> bool:
    """ADD/SUB.W SP,SP,#const: a multiple of 4."""
    return modimm_ok(v) and thumb_expand_imm(v["i"], v["imm3"], v["imm8"]) % 4 == 0


T32("ADD_SPSPimm_w", "11110 i:1 0 1000 0 1101 0 imm3:3 1101 imm8:8", _sp_modimm_ok, group=G,
    implicit=(13,))
T32("SUB_SPSPimm_w", "11110 i:1 0 1101 0 1101 0 imm3:3 1101 imm8:8", _sp_modimm_ok, group=G,
    implicit=(13,))

# --- 32-bit plain binary immediate ------------------------------------------
# ADDW/SUBW Rd,Rn,#imm12 (Rn=PC is ADR, Rn=SP the SP form), MOVW/MOVT,
# saturate, bit fields.  BadReg(Rd), BadReg(Rn) UNPREDICTABLE (BFI: Rn=PC
# is BFC).
G = "t32_plain_imm"
T32("ADDW_w", "11110 i:1 1 00000 rn:4 0 imm3:3 rd:4 imm8:8", group=G)
T32("SUBW_w", "11110 i:1 1 01010 rn:4 0 imm3:3 rd:4 imm8:8", group=G)
T32("ADDW_SP_w", "11110 i:1 1 00000 1101 0 imm3:3 rd:4 imm8:8", group=G, implicit=(13,))
T32("SUBW_SP_w", "11110 i:1 1 01010 1101 0 imm3:3 rd:4 imm8:8", group=G, implicit=(13,))
T32("ADDW_SPSP_w", "11110 i:1 1 00000 1101 0 imm3:3 1101 imm8:8", "imm8 % 4 == 0", group=G,
    implicit=(13,))
T32("SUBW_SPSP_w", "11110 i:1 1 01010 1101 0 imm3:3 1101 imm8:8", "imm8 % 4 == 0", group=G,
    implicit=(13,))
T32("ADR_add_w", "11110 i:1 1 00000 1111 0 imm3:3 rd:4 imm8:8", group=G)
T32("ADR_sub_w", "11110 i:1 1 01010 1111 0 imm3:3 rd:4 imm8:8", group=G)
T32("MOVW_w", "11110 i:1 1 00100 imm4:4 0 imm3:3 rd:4 imm8:8", group=G)
T32("MOVT_w", "11110 i:1 1 01100 imm4:4 0 imm3:3 rd:4 imm8:8", group=G)
# SSAT/USAT Rd,#sat,Rn{,LSL #n | ASR #n}: sh=1 with shift 0 is SSAT16/USAT16.
T32("SSAT_w", "11110 0 1 100 sh:1 0 rn:4 0 imm3:3 rd:4 imm2:2 0 sat:5",
    "not (sh and imm3 == 0 and imm2 == 0)", group=G)
T32("USAT_w", "11110 0 1 110 sh:1 0 rn:4 0 imm3:3 rd:4 imm2:2 0 sat:5",
    "not (sh and imm3 == 0 and imm2 == 0)", group=G)
T32("SSAT16_w", "11110 0 1 10010 rn:4 0 000 rd:4 00 00 sat:4", group=G)
T32("USAT16_w", "11110 0 1 11010 rn:4 0 000 rd:4 00 00 sat:4", group=G)
# lsb = imm3:imm2.  SBFX/UBFX: lsb + width > 32 UNPREDICTABLE; BFI/BFC:
# msb < lsb UNPREDICTABLE.
T32("SBFX_w", "11110 0 1 10100 rn:4 0 imm3:3 rd:4 imm2:2 0 widthm1:5",
    "imm3 * 4 + imm2 + widthm1 <= 31", group=G)
T32("UBFX_w", "11110 0 1 11100 rn:4 0 imm3:3 rd:4 imm2:2 0 widthm1:5",
    "imm3 * 4 + imm2 + widthm1 <= 31", group=G)
T32("BFI_w", "11110 0 1 10110 rn:4 0 imm3:3 rd:4 imm2:2 0 msb:5", "msb >= imm3 * 4 + imm2",
    group=G)
T32("BFC_w", "11110 0 1 10110 1111 0 imm3:3 rd:4 imm2:2 0 msb:5", "msb >= imm3 * 4 + imm2",
    group=G)

# --- Multiplies: 111110110 op1 Rn | Ra Rd op2 Rm ------------------------------
# BadReg anywhere UNPREDICTABLE; Ra=1111 selects the non-accumulating form
# (MUL, SMULxy, SMUAD, SMULWy, SMUSD, SMMUL, USAD8); MLS/SMMLS need a real Ra.
G = "t32_mul"
MUL3 = (  # name, op1, hw2 bits 7:4 (fields allowed), has a no-accumulate form
    ("MLA", 0, "0000", "MUL"), ("MLS", 0, "0001", None),
    ("SMLAxy", 1, "00 n:1 m:1", "SMULxy"), ("SMLAD", 2, "000 x:1", "SMUAD"),
    ("SMLAWy", 3, "000 m:1", "SMULWy"), ("SMLSD", 4, "000 x:1", "SMUSD"),
    ("SMMLA", 5, "000 r:1", "SMMUL"), ("SMMLS", 6, "000 r:1", None),
    ("USADA8", 7, "0000", "USAD8"))
for mnem, op1, op2, plain in MUL3:
    T32(f"{mnem}_w", f"111110110 {op1:03b} rn:4 ra:4 rd:4 {op2} rm:4", group=G)
    if plain:
        T32(f"{plain}_w", f"111110110 {op1:03b} rn:4 1111 rd:4 {op2} rm:4", group=G)
# Long multiplies: 111110111 op1 Rn | RdLo RdHi op2 Rm; RdHi == RdLo
# UNPREDICTABLE.  SDIV/UDIV (op1 001/011, op2 1111) are not generated.
G = "t32_mul_long"
for mnem, op1, op2 in (("SMULL", 0, "0000"), ("UMULL", 2, "0000"), ("SMLAL", 4, "0000"),
                       ("SMLALxy", 4, "10 n:1 m:1"), ("SMLALD", 4, "110 x:1"),
                       ("SMLSLD", 5, "110 x:1"), ("UMLAL", 6, "0000"), ("UMAAL", 6, "0110")):
    T32(f"{mnem}_w", f"111110111 {op1:03b} rn:4 rdlo:4 rdhi:4 {op2} rm:4", "rdhi != rdlo",
        group=G)

# --- Parallel add/subtract: 11111010 1 op1 Rn | 1111 Rd 0 U H Q Rm -----------
PAR_OP1 = {"ADD8": 0, "ADD16": 1, "ASX": 2, "SUB8": 4, "SUB16": 5, "SAX": 6}
PAR_PRE = {"S": 0, "Q": 1, "SH": 2, "U": 4, "UQ": 5, "UH": 6}
for pre, p2 in PAR_PRE.items():
    for opname, op1 in PAR_OP1.items():
        T32(f"{pre}{opname}_w", f"11111010 1 {op1:03b} rn:4 1111 rd:4 0 {p2:03b} rm:4",
            group="t32_parallel")

# --- Miscellaneous: saturating add/sub, reverse, SEL, CLZ ---------------------
# REV/REV16/RBIT/REVSH/CLZ encode Rm twice; the two must be equal.
G = "t32_misc"
for op, mnem in enumerate(("QADD", "QDADD", "QSUB", "QDSUB")):
    T32(f"{mnem}_w", f"11111010 1000 rn:4 1111 rd:4 10 {op:02b} rm:4", group=G)


def _same_rm(v):
    v["rm2"] = v["rm"]


for op, mnem in enumerate(("REV", "REV16", "RBIT", "REVSH")):
    T32(f"{mnem}_w", f"11111010 1001 rm2:4 1111 rd:4 10 {op:02b} rm:4", fix=_same_rm, group=G)
T32("SEL_w", "11111010 1010 rn:4 1111 rd:4 1000 rm:4", group=G)
T32("CLZ_w", "11111010 1011 rm2:4 1111 rd:4 1000 rm:4", fix=_same_rm, group=G)

# --- Extend (and add), rotation 0/8/16/24: Rn=1111 is the plain extend ---------
G = "t32_extend"
for op, mnem in enumerate(("SXTAH", "UXTAH", "SXTAB16", "UXTAB16", "SXTAB", "UXTAB")):
    T32(f"{mnem}_w", f"11111010 0 {op:03b} rn:4 1111 rd:4 10 rot:2 rm:4", group=G)
    plain = mnem.replace("A", "", 1)
    T32(f"{plain}_w", f"11111010 0 {op:03b} 1111 1111 rd:4 10 rot:2 rm:4", group=G)

# --- 32-bit loads and stores (single) ---------------------------------------
# 1111100 S U size L Rn | Rt ...: bit 7 (U) = 1 is the imm12 form; else
# bits 11:8 of the second halfword: 1PUW imm8 (1110 = the unprivileged
# LDRT family, 1100 = negative offset), 000000 imm2 Rm (register, LSL #0-3).
# Rn=PC is the literal form (loads) / UNDEFINED (stores); SP is a valid base.
# Rt: BadReg UNPREDICTABLE (STR/LDR allow Rt=SP in the pseudocode, but that
# is not one of the allowed uses of SP; LDR Rt=PC is a branch).  Writeback
# with Rn == Rt UNPREDICTABLE.  Register form: BadReg(Rm).  Writeback to SP
# only by a multiple of 4 (SP[1:0] must stay 0).
G = "t32_ldst"
SINGLE = {"STRB": (0, 0, 0), "STRH": (0, 1, 0), "STR": (0, 2, 0), "LDRB": (0, 0, 1),
          "LDRH": (0, 1, 1), "LDR": (0, 2, 1), "LDRSB": (1, 0, 1), "LDRSH": (1, 1, 1)}
PUW_OK = ((1, 0, 0), (1, 0, 1), (1, 1, 1), (0, 0, 1), (0, 1, 1))
for mnem, (s, size, l) in SINGLE.items():
    n = 1 << size
    store = not l
    hw1 = f"1111100 {s} {{}} {size:02b} {l}"
    T32(f"{mnem}_imm12_w", hw1.format(1) + " rn:4 rt:4 imm12:12", sp=("rn",),
        mem=mem_imm(n, store, lambda v: v["imm12"]), group=G)
    T32(f"{mnem}_imm8_w", hw1.format(0) + " rn:4 rt:4 1 p:1 u:1 w:1 imm8:8",
        lambda v: ((v["p"], v["u"], v["w"]) in PUW_OK and not (v["w"] and v["rn"] == v["rt"])
                   and not (v["w"] and v["rn"] == 13 and v["imm8"] % 4)),
        sp=("rn",), mem=mem_imm(n, store, lambda v: v["imm8"] if v["u"] else -v["imm8"],
                                pre=lambda v: v["p"] == 1), group=G)
    T32(f"{mnem}_reg_w", hw1.format(0) + " rn:4 rt:4 000000 imm2:2 rm:4", "rm != rn",
        sp=("rn",), mem=mem_reg(n, store, shift=lambda v: v["imm2"]), group=G)
    T32(f"{mnem}T_w", hw1.format(0) + " rn:4 rt:4 1110 imm8:8", sp=("rn",),
        mem=mem_imm(n, store, lambda v: v["imm8"]), group=G)
    if l:
        T32(f"{mnem}_lit_w", f"1111100 {s} u:1 {size:02b} 1 1111 rt:4 imm12:12",
            mem=literal(n), group=G)

# Preloads never fault: any address.  PLD/PLI literal fine, PLDW (v7MP)
# has no literal form; register forms BadReg(Rm) UNPREDICTABLE.
for mnem, s, w in (("PLD", 0, 0), ("PLDW", 0, 1), ("PLI", 1, 0)):
    hw1 = f"1111100 {s} {{}} 0{w} 1"
    T32(f"{mnem}_imm12_w", hw1.format(1) + " rn:4 1111 imm12:12", sp=("rn",),
        group="t32_hint", it=False, seed_regs=())
    T32(f"{mnem}_imm8_w", hw1.format(0) + " rn:4 1111 1100 imm8:8", sp=("rn",),
        group="t32_hint", it=False, seed_regs=())
    T32(f"{mnem}_reg_w", hw1.format(0) + " rn:4 1111 000000 imm2:2 rm:4", sp=("rn",),
        group="t32_hint", it=False, seed_regs=())
    if not w:
        T32(f"{mnem}_lit_w", f"1111100 {s} u:1 001 1111 1111 imm12:12", group="t32_hint",
            it=False)

# --- LDRD/STRD (immediate, literal) -----------------------------------------
# 1110100 P U 1 W L Rn | Rt Rt2 imm8 (offset imm8*4); P=0 W=0 is the
# exclusive space.  BadReg(Rt/Rt2), LDRD Rt == Rt2, writeback with Rn ==
# Rt/Rt2, STRD Rn=PC UNPREDICTABLE; LDRD literal (Rn=PC) needs W=0.  Rt
# and Rt2 need not be consecutive in T32.
G = "t32_ldst_dual"
for mnem, l in (("STRD", 0), ("LDRD", 1)):
    T32(f"{mnem}_w", f"1110100 p:1 u:1 1 w:1 {l} rn:4 rt:4 rt2:4 imm8:8",
        lambda v, l=l: ((v["p"], v["w"]) != (0, 0) and not (l and v["rt"] == v["rt2"])
                        and not (v["w"] and v["rn"] in (v["rt"], v["rt2"]))),
        sp=("rn",), mem=mem_imm(8, not l, lambda v: 4 * v["imm8"] if v["u"] else -4 * v["imm8"],
                                pre=lambda v: v["p"] == 1), group=G)


def _lit_dual(v, ctx):
    if v["u"] == 0 and 4 * v["imm8"] + 64 > 40 * getattr(ctx, "units", 0):
        return None
    return [], None


T32("LDRD_lit_w", "1110100 1 u:1 1 0 1 1111 rt:4 rt2:4 imm8:8", "rt != rt2", mem=_lit_dual,
    group=G)

# --- LDM/STM (IA = op 01, DB = op 10), incl. PUSH.W / POP.W -------------------
# Rn=PC, fewer than two registers, SP in the list, writeback with Rn in the
# list: UNPREDICTABLE.  PC never in the list (a branch); LR is fine.
G = "t32_ldm"
for mnem, l in (("STM", 0), ("LDM", 1)):
    for mode, op in (("IA", 1), ("DB", 2)):
        T32(f"{mnem}{mode}_w", f"1110100 {op:02b} 0 w:1 {l} rn:4 list:16",
            "not (w and (list >> rn) & 1)", sp=("rn",),
            gen={"list": lambda r: _reglist(r, False, 2)},
            mem=mem_block(not l, lambda v: popcount(v["list"]), mode=lambda v, m=mode: m),
            group=G)

# --- Status registers, hints, barriers -----------------------------------------
# MRS Rd, APSR (R=0); MSR APSR_<nzcvq|g|nzcvqg>, Rn (mask 1000/0100/1100).
T32("MRS_w", "11110011111 0 1111 1000 rd:4 00000000", group="t32_status")
T32("MSR_w", "11110011100 0 rn:4 1000 mask:4 00000000", gen={"mask": (4, 8, 12)},
    group="t32_status")
G = "t32_hint"
for mnem, op in (("NOP", 0), ("YIELD", 1), ("SEV", 4)):
    T32(f"{mnem}_w", f"1111 0011 1010 1111 1000 0000 {op:08b}", group=G, it=False)
BARRIER_OPTS = (15, 14, 11, 10, 7, 6, 3, 2)
T32("DSB_w", "1111 0011 1011 1111 1000 1111 0100 opt:4", gen={"opt": BARRIER_OPTS},
    group=G, it=False)
T32("DMB_w", "1111 0011 1011 1111 1000 1111 0101 opt:4", gen={"opt": BARRIER_OPTS},
    group=G, it=False)
T32("ISB_w", "1111 0011 1011 1111 1000 1111 0110 1111", group=G, it=False)

# --- Exclusives -------------------------------------------------------------
# As in arm.py, they come in sequences that keep the local monitor's state
# known: LDREX<x> then STREX<x> to the same address (succeeds, Rd=0);
# LDREX<x> then CLREX; STREX<x> alone (monitor Open: fails, Rd=1).  Never
# inside IT blocks.  Rules: BadReg(Rt/Rt2/Rd), Rn=PC UNPREDICTABLE (SP is a
# valid base); LDREXD Rt == Rt2; STREX Rd == Rn/Rt/Rt2.  LDREX/STREX (word)
# have an imm8*4 offset; the others none.  Natural alignment.
G = "exclusive"
EXCL = {"": 4, "B": 1, "H": 2, "D": 8}
LDREX_P = {
    "": Pattern("LDREX_w", "111010000101 rn:4 rt:4 1111 imm8:8", sp=("rn",), thumb=True,
                mem=mem_imm(4, False, lambda v: 4 * v["imm8"]), group=G),
    "B": Pattern("LDREXB_w", "111010001101 rn:4 rt:4 1111 0100 1111", sp=("rn",), thumb=True,
                 mem=mem_imm(1, False, lambda v: 0), group=G),
    "H": Pattern("LDREXH_w", "111010001101 rn:4 rt:4 1111 0101 1111", sp=("rn",), thumb=True,
                 mem=mem_imm(2, False, lambda v: 0), group=G),
    "D": Pattern("LDREXD_w", "111010001101 rn:4 rt:4 rt2:4 0111 1111", "rt != rt2",
                 sp=("rn",), thumb=True, mem=mem_imm(8, False, lambda v: 0, align=8), group=G),
}
STREX_P = {
    "": Pattern("STREX_w", "111010000100 rn:4 rt:4 rd:4 imm8:8", "rd != rn and rd != rt",
                sp=("rn",), thumb=True, mem=mem_imm(4, True, lambda v: 4 * v["imm8"]), group=G),
    "B": Pattern("STREXB_w", "111010001100 rn:4 rt:4 1111 0100 rd:4", "rd != rn and rd != rt",
                 sp=("rn",), thumb=True, mem=mem_imm(1, True, lambda v: 0), group=G),
    "H": Pattern("STREXH_w", "111010001100 rn:4 rt:4 1111 0101 rd:4", "rd != rn and rd != rt",
                 sp=("rn",), thumb=True, mem=mem_imm(2, True, lambda v: 0), group=G),
    "D": Pattern("STREXD_w", "111010001100 rn:4 rt:4 rt2:4 0111 rd:4",
                 "rd not in (rn, rt, rt2)", sp=("rn",), thumb=True,
                 mem=mem_imm(8, True, lambda v: 0, align=8), group=G),
}
CLREX = Pattern("CLREX_w", "1111 0011 1011 1111 1000 1111 0010 1111", thumb=True, group=G)


class ExclusiveSequence:
    """A pseudo-class that expands to several units (see above)."""

    def __init__(self, kind: str, sfx: str):
        self.kind, self.sfx = kind, sfx
        self.name = {"LDREX_STREX": f"LDREX{sfx}_STREX{sfx}_pair",
                     "LDREX_CLREX": f"LDREX{sfx}_CLREX",
                     "STREX": f"STREX{sfx}_alone"}[kind]
        self.group = "exclusive"
        self.weight = 1.0
        self.it = False

    def expand(self, ctx: GenContext) -> list[Insn]:
        ld, st = LDREX_P[self.sfx], STREX_P[self.sfx]
        if self.kind == "STREX":
            return [st.generate(ctx)]
        first = ld.generate(ctx)
        if self.kind == "LDREX_CLREX":
            return [first, CLREX.generate(ctx)]
        addr = first.access[0]
        for _ in range(200):
            v = st.draw(ctx)
            off = 4 * v.get("imm8", 0)
            base = (addr - off) & M32
            if v["rn"] == 13 and base % 4:
                continue
            return [first, Insn(st.encode(v), st.name, [(v["rn"], base)],
                                (addr, EXCL[self.sfx], True), v, size=4, thumb=True)]
        raise GenerationError(f"{self.name}: no STREX for the address")


EXCLUSIVE_SEQUENCES = [ExclusiveSequence(k, s) for k in ("LDREX_STREX", "LDREX_CLREX", "STREX")
                       for s in EXCL]


# --- IT blocks ----------------------------------------------------------------

COND_NAMES = ["EQ", "NE", "CS", "CC", "MI", "PL", "VS", "VC", "HI", "LS", "GE", "LT",
              "GT", "LE", "AL"]


def mentioned(cls, v) -> set[int]:
    """Registers an instruction names (read or written), SP if it uses SP
    implicitly: an over-approximation of what it may write."""
    if hasattr(cls, "regs"):
        out = set(cls.regs(v))
    else:
        out = {val for f, val in v.items()
               if f in ("rd", "rn", "rm", "rs", "ra", "rt", "rt2", "rdlo", "rdhi", "rdn")}
    out |= set(getattr(cls, "implicit", ()))
    if "list" in v:
        out |= {r for r in range(16) if v["list"] >> r & 1}
    return out


class ITBlock:
    """A pseudo-class: IT plus 1-4 conditional instructions, one unit."""

    name = "IT_block"
    group = "it"
    weight = 1.0
    it = False

    def expand(self, ctx: GenContext, members, weights) -> list[Insn]:
        rng = ctx.rng
        n = rng.choice((1, 2, 2, 3, 3, 4, 4))
        if rng.random() < 0.08:
            firstcond, xs = 14, [0] * (n - 1)  # IT AL: "then" only
        else:
            firstcond = rng.randrange(14)
            xs = [rng.getrandbits(1) for _ in range(n - 1)]
        mask = 1 << (4 - n)
        for j, x in enumerate(xs):
            mask |= x << (3 - j)
        conds = [firstcond] + [(firstcond & 0xE) | x for x in xs]
        it = Insn(0xBF00 | firstcond << 4 | mask, "IT", fields={"firstcond": firstcond,
                                                                 "mask": mask},
                  size=2, thumb=True)
        parts = [it]
        setup: dict[int, int] = {}
        touched: set[int] = set()
        for j in range(n):
            for _ in range(200):
                cls = rng.choices(members, weights)[0]
                insn = cls.generate(ctx)
                rule = getattr(cls, "it_rule", None)
                if rule is not None and not rule(insn.fields):
                    continue
                if any(r in touched or setup.get(r, val) != val for r, val in insn.setup):
                    continue
                break
            else:
                raise GenerationError("IT block: no member fits")
            if cls.mem is None:
                _seed_operands(insn, cls, ctx, forbidden=touched, fixed=setup)
            setup.update(insn.setup)
            touched |= mentioned(cls, insn.fields)
            parts.append(insn)
        # A readable name: ITTE EQ etc.
        te = "".join("T" if c == firstcond else "E" for c in conds[1:])
        unit = Insn(it.word, f"IT{te}_{COND_NAMES[firstcond]}", list(setup.items()), None,
                    {"firstcond": firstcond, "mask": mask}, size=sum(p.size for p in parts),
                    thumb=True, parts=parts)
        return [unit]


IT_BLOCK = ITBlock()


def all_classes():
    return PATTERNS + EXCLUSIVE_SEQUENCES + [IT_BLOCK]


common.assign_weights(all_classes(), GROUP_WEIGHTS)


# ---------------------------------------------------------------------------
# Program generation

SEED_PROBABILITY = 0.25
SHIFT_SEED_PROBABILITY = 0.5


def _sources(cls, v) -> list[int]:
    if hasattr(cls, "sources"):
        return list(cls.sources(v))
    return [v[f] for f in cls.seed_regs if f in v]


def _seed_operands(insn: Insn, cls, ctx: GenContext, forbidden=(), fixed=None) -> None:
    """Maybe load a source operand with an interesting value (a shift
    amount for a register-shift amount).  Inside an IT block, registers
    that earlier members name or set are left alone."""
    rng = ctx.rng
    fixed = fixed or {}
    f = insn.fields

    def ok(r):
        return r not in (13, 15) and r not in forbidden and r not in fixed

    if "rs" in f and ok(f["rs"]) and rng.random() < SHIFT_SEED_PROBABILITY:
        insn.setup.append((f["rs"], common.shift_amount_value(rng)))
        return
    cands = [r for r in _sources(cls, f) if ok(r)]
    if cands and rng.random() < SEED_PROBABILITY:
        insn.setup.append((rng.choice(cands), rng.choice(common.INTERESTING)))


def initial_state(rng) -> dict:
    """Initial r0-r12, lr, SP (word-aligned, in the data buffer) and APSR
    flags (NZCVQ and GE)."""
    import harness
    regs = [common.register_value(rng) for _ in range(14)]
    sp = harness.BUF_BASE + 4 * rng.randrange(harness.BUF_SIZE // 4)
    psr = rng.getrandbits(32) & 0xF80F0000
    return {"regs": regs, "psr": psr, "sp": sp}


def generate(rng, count: int, ctx: GenContext, select=None) -> list[Insn]:
    """``count`` units (single instructions or IT blocks).  A program's
    first k units do not depend on ``count``."""
    classes = [c for c in all_classes() if select is None or select(c.name)]
    members = [c for c in classes if isinstance(c, Pattern) and c.it]
    if not members:
        classes = [c for c in classes if c is not IT_BLOCK]
    if not classes:
        raise GenerationError("no instruction class matches the selection")
    weights = [c.weight for c in classes]
    member_weights = [c.weight for c in members]
    out: list[Insn] = []
    while len(out) < count:
        ctx.units = len(out)
        cls = rng.choices(classes, weights)[0]
        if cls is IT_BLOCK:
            items = cls.expand(ctx, members, member_weights)
        elif isinstance(cls, ExclusiveSequence):
            items = cls.expand(ctx)
        else:
            insn = cls.generate(ctx)
            if cls.mem is None:
                _seed_operands(insn, cls, ctx)
            items = [insn]
        out.extend(items)
    return out[:count]


def instruction_count(insns: list[Insn]) -> int:
    """Random instructions in a program (an IT block counts its IT
    instruction and each member)."""
    return sum(len(i.members()) for i in insns)


# ---------------------------------------------------------------------------
# Harness fragments

def body_enter_asm() -> list[str]:
    return [".arm"] + common.tpidr_log_start() + [
        "ldaddr r0, body_thumb",
        "orr r0, r0, #1",
        "bx r0                          @ into Thumb state",
        ".thumb",
    ] + common.tpidr_log_macro() + ["body_thumb:"]


def init_asm() -> list[str]:
    return [
        "ldaddr r0, init_psr",
        "ldr r0, [r0]",
        "msr APSR_nzcvqg, r0",
        "ldaddr r0, init_sp",
        "ldr r0, [r0]",
        "mov sp, r0",
        "ldaddr lr, init_regs",
        "ldm lr, {r0-r12, lr}",
    ]


def init_data_asm(state: dict) -> list[str]:
    lines = ["init_psr:", f"    .word 0x{state['psr']:08x}",
             "init_sp:", f"    .word 0x{state['sp']:08x}", "init_regs:"]
    lines += [f"    .word 0x{v:08x}" for v in state["regs"]]
    return lines


def log_asm() -> list[str]:
    return ["log_state"]


def body_leave_asm() -> list[str]:
    return ["ldaddr r0, finish", "bx r0                          @ back to ARM state"] + \
        common.LITERAL_PAD + [".arm"]


def _inst(insn: Insn) -> str:
    d = ".inst.n" if insn.size == 2 else ".inst.w"
    w = f"0x{insn.word:04x}" if insn.size == 2 else f"0x{insn.word:08x}"
    return f"{d} {w}  @ {insn.name}"


def insn_asm_parts(insn: Insn) -> tuple[list[str], list[str]]:
    return common.core_setup_lines(insn.setup), [_inst(p) for p in insn.members()]


def insn_asm(insn: Insn) -> list[str]:
    setup, code = insn_asm_parts(insn)
    return setup + code


def setup_regs_after(insn: Insn) -> dict[int, int]:
    return {reg: val for reg, val in insn.setup}


# ---------------------------------------------------------------------------
# Self-check of a clean (oracle) run: each load/store's lowest address,
# decoded from the encoding and the register values (not from the
# generator's arithmetic), must be the one the generator meant; STREX
# results must follow the monitor design.

def effective_address(word: int, size: int, regs: list[int]) -> int | None:
    """Lowest address a load/store accesses; None for literal loads and
    non-memory encodings.  ``regs`` is r0..r15 (PC unknown)."""
    if size == 2:
        h = word
        if h >> 12 == 0b0101:
            return (regs[(h >> 3) & 7] + regs[(h >> 6) & 7]) & M32
        if h >> 13 == 0b011:
            scale = 1 if (h >> 12) & 1 else 4
            return (regs[(h >> 3) & 7] + scale * ((h >> 6) & 31)) & M32
        if h >> 12 == 0b1000:
            return (regs[(h >> 3) & 7] + 2 * ((h >> 6) & 31)) & M32
        if h >> 12 == 0b1001:
            return (regs[13] + 4 * (h & 0xFF)) & M32
        if h >> 9 == 0b1011010:
            return (regs[13] - 4 * (popcount(h & 0xFF) + ((h >> 8) & 1))) & M32
        if h >> 9 == 0b1011110:
            return regs[13]
        if h >> 12 == 0b1100:
            return regs[(h >> 8) & 7]
        return None
    h1, h2 = word >> 16, word & 0xFFFF
    rn = h1 & 15
    if rn == 15:
        return None
    base = regs[rn]
    if h1 & 0xFFE0 == 0xE840:                       # LDREX/STREX
        return (base + 4 * (h2 & 0xFF)) & M32
    if h1 & 0xFFE0 == 0xE8C0:                       # LDREX/STREX B/H/D
        return base
    if h1 & 0xFE40 == 0xE840:                       # LDRD/STRD
        p, u = (h1 >> 8) & 1, (h1 >> 7) & 1
        off = 4 * (h2 & 0xFF)
        return (base + (off if u else -off)) & M32 if p else base
    if h1 & 0xFE40 == 0xE800:                       # LDM/STM
        return base if (h1 >> 7) & 3 == 1 else (base - 4 * popcount(h2)) & M32
    if h1 & 0xFE00 == 0xF800:                       # single loads/stores
        if h1 & 0x80:
            return (base + (h2 & 0xFFF)) & M32
        if h2 & 0x800:
            puw = (h2 >> 8) & 7
            off = h2 & 0xFF
            if puw == 0b110:
                return (base + off) & M32
            p, u = puw >> 2, (puw >> 1) & 1
            return (base + (off if u else -off)) & M32 if p else base
        if h2 & 0xFC0 == 0:
            return (base + (regs[h2 & 15] << ((h2 >> 4) & 3))) & M32
    return None


def check_run(insns: list[Insn], before, after) -> list[str]:
    """Problems in a clean run: ``before(k)``/``after(k)`` give the record
    (r0..r12, lr, cpsr, sp) around unit k."""
    problems = []
    monitor_pair = False
    for k, unit in enumerate(insns):
        rb = before(k)
        regs = rb[:13] + [rb[15], rb[13], 0]
        for p in unit.members():
            # IT members' base/index registers come from the setup, which
            # no earlier member touches: the values before the unit hold.
            if p.access:
                addr = effective_address(p.word, p.size, regs)
                if addr != p.access[0]:
                    problems.append(f"unit {k} ({p.name}): effective address "
                                    f"{addr if addr is None else hex(addr)}, generator "
                                    f"meant {p.access[0]:#x}")
        if unit.name.startswith("STREX"):
            rd = unit.fields["rd"]
            idx = 13 if rd == 14 else rd
            want = 0 if monitor_pair else 1
            got = after(k)[idx]
            if got != want:
                problems.append(f"unit {k} ({unit.name}): STREX status {got}, expected {want}")
        monitor_pair = (unit.name.startswith("LDREX") and k + 1 < len(insns)
                        and insns[k + 1].name.startswith("STREX"))
    return problems
