"""A32 (ARM state) instruction classes for the differential tester.

Every class is a ``Pattern``: a bit layout (most significant bit first), a
constraint that keeps UNPREDICTABLE / UNDEFINED encodings out, and for memory
instructions a function that points the base (and index) registers into the
data buffer.  Encodings follow the ARMv7-A ARM (DDI 0406C) chapter A5/A8 and
QEMU's ``target/arm/a32.decode``; the target is a Cortex-A9 (ARMv7-A with the
Multiprocessing Extensions, no integer divide, no virtualization).

Rules that hold for every class (enforced by pattern.py / the generator):

* SP (r13) is never an operand or destination: it is the harness's log
  pointer.  Register lists never contain r13 or r15.
* PC (r15) is never a destination (that would be a branch, or an exception
  return with S=1).  It is an operand only where the pattern says ``pc=``,
  i.e. where the ARM ARM defines the value read (PC+8, deterministic because
  both emulators run the same ELF).
* Should-be-one / should-be-zero bits, written ``(1)``/``(0)`` in the ARM
  ARM, are always encoded with their required values (getting them wrong is
  UNPREDICTABLE).
* Condition: AL half of the time, else EQ..LE at random.  The cond=1111
  space holds only the explicitly unconditional classes (barriers, preload,
  CLREX).
* Memory: every access lands, naturally aligned, inside the 4 KiB data
  buffer.  The setup before the instruction loads the base with an
  unconditional MOVW/MOVT, and the index register with a value whose
  shifted result is a small signed offset.  Unaligned accesses are left out
  on purpose: with the MMU off, data accesses are Strongly-ordered, where
  ARMv7 requires an alignment fault, and QEMU versions differ there.

Never generated: branches, BX/BLX, SVC, BKPT, UDF, coprocessor and
VFP/Neon instructions, CPS/SRS/RFE/SETEND, MSR with the control or extension
byte (mode, I/F/A/E bits), SPSR access, WFI/WFE (they could wait forever),
SDIV/UDIV (absent on Cortex-A9), ARMv8-only instructions (LDA/STL, CRC32).
"""

from __future__ import annotations

from pattern import M32, GenContext, GenerationError, Insn, Pattern, popcount
from isa import common

NAME = "arm"
DESCRIPTION = "A32 integer instructions (ARMv7-A, Cortex-A9)"

# One log record: what the harness stores after every instruction.
STATE_NAMES = [f"r{i}" for i in range(13)] + ["lr", "cpsr"]


# ---------------------------------------------------------------------------
# Field generators

COND_AL = 0xE


def _reglist(rng) -> int:
    """A non-empty register list without SP and PC, often short."""
    regs = [r for r in range(15) if r != 13]
    k = rng.choice((1, 1, 2, 2, 3, 4, 5, 6, 8, 10, 14))
    return sum(1 << r for r in rng.sample(regs, k))


# ---------------------------------------------------------------------------
# Memory setup functions.  Each returns (setup, access) or None to reject the
# draw.  ``setup`` is [(reg, value)]; access is (address, length, store).

def _base_for(addr: int, offset: int, p: int) -> int:
    """Base value so that the access hits ``addr``: pre-indexed and offset
    forms (P=1) add the offset to the base, post-indexed (P=0) use the base
    itself."""
    return addr if p == 0 else (addr - offset) & M32


def _index_value(rng, shift_type: int, imm5: int) -> tuple[int, int]:
    """(Rm, signed offset) for an index register shifted by an immediate.

    Chooses a small signed offset d and a register value whose shifted result
    is exactly d (mod 2^32), so even LSR/ASR/ROR forms reach the buffer with
    arbitrary-looking Rm values (bits that are shifted out are random).  RRX
    (ROR #0) depends on the carry flag, which the generator does not know, so
    the patterns exclude it."""
    n = imm5
    if shift_type == 0:  # LSL #n: d is a multiple of 2^n
        k = rng.randint(-(1024 >> n), 1023 >> n)
        low = k & (M32 >> n)
        return (low | (rng.getrandbits(n) << (32 - n) if n else low)) & M32, k << n
    if shift_type == 1:  # LSR #n, imm5=0 encodes LSR #32 (result 0)
        if n == 0:
            return rng.getrandbits(32), 0
        d = rng.randint(0, min(1023, (1 << (32 - n)) - 1))
        return ((d << n) | rng.getrandbits(n)) & M32, d
    if shift_type == 2:  # ASR #n, imm5=0 encodes ASR #32 (result 0 or -1)
        if n == 0:
            rm = rng.getrandbits(32)
            return rm, (-1 if rm & 0x80000000 else 0)
        lim = min(1023, (1 << (31 - n)) - 1)
        d = rng.randint(-lim - 1, lim)
        return ((d << n) | rng.getrandbits(n)) & M32, d
    if shift_type == 3 and n != 0:  # ROR #n
        d = rng.randint(-1023, 1023)
        dv = d & M32
        return ((dv << n) | (dv >> (32 - n))) & M32, d
    raise GenerationError("RRX index cannot be placed")


def mem_single_imm(length: int, align: int, store: bool, off=lambda v: v["imm12"]):
    """LDR/STR-style immediate offset, pre/post-indexed."""
    def setup(v, ctx: GenContext):
        addr = ctx.addr(length, align)
        o = off(v) if v["u"] else -off(v)
        return [(v["rn"], _base_for(addr, o, v.get("p", 0)))], (addr, length, store)
    return setup


def _imm8(v):
    return (v["imm4h"] << 4) | v["imm4l"]


def mem_single_reg(length: int, align: int, store: bool, shifted: bool):
    """LDR/STR-style register offset, optionally scaled by an immediate
    shift.  The index register is set first, then the base."""
    def setup(v, ctx: GenContext):
        addr = ctx.addr(length, align)
        if shifted:
            rm_val, d = _index_value(ctx.rng, v["type"], v["imm5"])
        else:
            d = ctx.rng.randint(-1023, 1023)
            rm_val = d & M32
        o = d if v["u"] else -d
        base = _base_for(addr, o, v.get("p", 0))
        return [(v["rm"], rm_val), (v["rn"], base)], (addr, length, store)
    return setup


def mem_block(store: bool):
    """LDM/STM: the lowest address is word-aligned in the buffer, the base
    is placed for the addressing mode (IA, IB, DA, DB)."""
    def setup(v, ctx: GenContext):
        n = popcount(v["list"])
        addr = ctx.addr(4 * n, 4)
        p, u = v["p"], v["u"]
        if u:
            base = addr if p == 0 else addr - 4          # IA / IB
        else:
            base = addr + 4 * n - 4 if p == 0 else addr + 4 * n  # DA / DB
        return [(v["rn"], base & M32)], (addr, 4 * n, store)
    return setup


def mem_plain(length: int, align: int, store: bool):
    """[Rn] with no offset: SWP and the exclusives."""
    def setup(v, ctx: GenContext):
        addr = ctx.addr(length, align)
        return [(v["rn"], addr)], (addr, length, store)
    return setup


# ---------------------------------------------------------------------------
# The classes.  ``GROUP_WEIGHTS`` sets how often each group is drawn; a
# group's weight is shared evenly between its patterns.

GROUP_WEIGHTS = {
    "dp_imm": 14, "dp_imm_shift": 14, "dp_reg_shift": 10, "movw": 3,
    "mul": 6, "mul_dsp": 8, "saturate": 5, "parallel": 8, "media": 9,
    "status": 3, "ldst": 10, "ldst_extra": 8, "ldst_multiple": 4, "swap": 1,
    "exclusive": 3, "hint": 2,
}

PATTERNS: list[Pattern] = []


def P(name, layout, constraint="True", **kw) -> Pattern:
    p = Pattern(name, layout, constraint, **kw)
    PATTERNS.append(p)
    return p


# --- Data processing ------------------------------------------------------
# Opcode bits [24:21].  Binary ops read Rn; MOV/MVN have Rn=(0)(0)(0)(0);
# TST/TEQ/CMP/CMN must have S=1 (S=0 is the MOVW/MOVT/MSR/misc space) and
# Rd=(0)(0)(0)(0).
DP_BINARY = {"AND": 0, "EOR": 1, "SUB": 2, "RSB": 3, "ADD": 4, "ADC": 5,
             "SBC": 6, "RSC": 7, "ORR": 12, "BIC": 14}
DP_MOVE = {"MOV": 13, "MVN": 15}
DP_TEST = {"TST": 8, "TEQ": 9, "CMP": 10, "CMN": 11}

for mnem, op in DP_BINARY.items():
    # Immediate: Rd=PC excluded (branch / SUBS PC,LR).  Rn=PC allowed: reads
    # PC+8 (ADD/SUB with Rn=PC and S=0 is ADR).  Both rotation==0 (C kept)
    # and non-zero rotation (C = bit 31 of the constant) are drawn.
    P(f"{mnem}_imm", f"cond:4 001 {op:04b} s:1 rn:4 rd:4 imm12:12",
      pc=("rn",), group="dp_imm")
    # Immediate shift: shift types LSL/LSR/ASR/ROR with imm5=0 meaning LSL #0,
    # LSR #32, ASR #32, RRX.  Rn=PC and Rm=PC allowed (PC+8).
    P(f"{mnem}_imm_shift",
      f"cond:4 000 {op:04b} s:1 rn:4 rd:4 imm5:5 type:2 0 rm:4",
      pc=("rn", "rm"), group="dp_imm_shift")
    # Register shift: d, n, m or s == 15 is UNPREDICTABLE.
    P(f"{mnem}_reg_shift",
      f"cond:4 000 {op:04b} s:1 rn:4 rd:4 rs:4 0 type:2 1 rm:4",
      group="dp_reg_shift")

for mnem, op in DP_MOVE.items():
    P(f"{mnem}_imm", f"cond:4 001 {op:04b} s:1 0000 rd:4 imm12:12",
      group="dp_imm")
    P(f"{mnem}_imm_shift", f"cond:4 000 {op:04b} s:1 0000 rd:4 imm5:5 type:2 0 rm:4",
      pc=("rm",), group="dp_imm_shift")
    P(f"{mnem}_reg_shift", f"cond:4 000 {op:04b} s:1 0000 rd:4 rs:4 0 type:2 1 rm:4",
      group="dp_reg_shift")

for mnem, op in DP_TEST.items():
    P(f"{mnem}_imm", f"cond:4 001 {op:04b} 1 rn:4 0000 imm12:12",
      pc=("rn",), group="dp_imm")
    P(f"{mnem}_imm_shift", f"cond:4 000 {op:04b} 1 rn:4 0000 imm5:5 type:2 0 rm:4",
      pc=("rn", "rm"), group="dp_imm_shift")
    P(f"{mnem}_reg_shift", f"cond:4 000 {op:04b} 1 rn:4 0000 rs:4 0 type:2 1 rm:4",
      group="dp_reg_shift")

# MOVW/MOVT: d == 15 is UNPREDICTABLE.
P("MOVW", "cond:4 0011 0000 imm4:4 rd:4 imm12:12", group="movw")
P("MOVT", "cond:4 0011 0100 imm4:4 rd:4 imm12:12", group="movw")

# --- Multiplies -----------------------------------------------------------
# Layout: [19:16]=Rd/RdHi, [15:12]=Ra/RdLo, [11:8]=Rm, [3:0]=Rn.
# Any register == 15 is UNPREDICTABLE (never drawn).  ARMv6+ has no Rd==Rn
# restriction.  MULS/MLAS/xMULLS/xMLALS set N and Z, leave C and V alone.
P("MUL", "cond:4 0000000 s:1 rd:4 0000 rm:4 1001 rn:4", group="mul")
P("MLA", "cond:4 0000001 s:1 rd:4 ra:4 rm:4 1001 rn:4", group="mul")
P("MLS", "cond:4 0000 0110 rd:4 ra:4 rm:4 1001 rn:4", group="mul")
# Long multiplies: RdHi == RdLo is UNPREDICTABLE.  UMAAL has no S form.
P("UMAAL", "cond:4 0000 0100 rdhi:4 rdlo:4 rm:4 1001 rn:4", "rdhi != rdlo",
  group="mul")
for mnem, op in {"UMULL": 4, "UMLAL": 5, "SMULL": 6, "SMLAL": 7}.items():
    P(mnem, f"cond:4 0000 {op:03b} s:1 rdhi:4 rdlo:4 rm:4 1001 rn:4",
      "rdhi != rdlo", group="mul")

# Halfword multiplies (DSP).  x (bit 5) picks the top half of Rn, y (bit 6)
# the top half of Rm.  SMLAxy/SMLAWy set Q on accumulate overflow.
P("SMLAxy", "cond:4 0001 0000 rd:4 ra:4 rm:4 1 y:1 x:1 0 rn:4", group="mul_dsp")
P("SMLAWy", "cond:4 0001 0010 rd:4 ra:4 rm:4 1 y:1 00 rn:4", group="mul_dsp")
P("SMULWy", "cond:4 0001 0010 rd:4 0000 rm:4 1 y:1 10 rn:4", group="mul_dsp")
P("SMLALxy", "cond:4 0001 0100 rdhi:4 rdlo:4 rm:4 1 y:1 x:1 0 rn:4",
  "rdhi != rdlo", group="mul_dsp")
P("SMULxy", "cond:4 0001 0110 rd:4 0000 rm:4 1 y:1 x:1 0 rn:4", group="mul_dsp")
# Dual 16-bit multiplies: [19:16]=Rd, [15:12]=Ra (1111 = no accumulate),
# bit 6 = subtract, bit 5 = X (swap Rm halves).  SMLSD/SMLAD/SMUAD set Q.
P("SMLAD_SMLSD", "cond:4 0111 0000 rd:4 ra:4 rm:4 0 sub:1 x:1 1 rn:4",
  group="mul_dsp")
P("SMUAD_SMUSD", "cond:4 0111 0000 rd:4 1111 rm:4 0 sub:1 x:1 1 rn:4",
  group="mul_dsp")
P("SMLALD_SMLSLD", "cond:4 0111 0100 rdhi:4 rdlo:4 rm:4 0 sub:1 x:1 1 rn:4",
  "rdhi != rdlo", group="mul_dsp")
# Most-significant-word multiplies; R (bit 5) rounds.  SMMUL is SMMLA with
# Ra=1111; SMMLS with Ra=1111 is UNPREDICTABLE.
P("SMMLA", "cond:4 0111 0101 rd:4 ra:4 rm:4 00 r:1 1 rn:4", group="mul_dsp")
P("SMMUL", "cond:4 0111 0101 rd:4 1111 rm:4 00 r:1 1 rn:4", group="mul_dsp")
P("SMMLS", "cond:4 0111 0101 rd:4 ra:4 rm:4 11 r:1 1 rn:4", group="mul_dsp")
# USAD8/USADA8: [19:16]=Rd, [15:12]=Ra (1111 = USAD8).
P("USADA8", "cond:4 0111 1000 rd:4 ra:4 rm:4 0001 rn:4", group="mul_dsp")
P("USAD8", "cond:4 0111 1000 rd:4 1111 rm:4 0001 rn:4", group="mul_dsp")

# --- Saturating -----------------------------------------------------------
# QADD Rd, Rm, Rn: [19:16]=Rn, [3:0]=Rm, [11:8]=(0)(0)(0)(0).  PC anywhere is
# UNPREDICTABLE.
for mnem, op in {"QADD": 0, "QSUB": 1, "QDADD": 2, "QDSUB": 3}.items():
    P(mnem, f"cond:4 00010 {op:02b} 0 rn:4 rd:4 0000 0101 rm:4", group="saturate")
# SSAT/USAT Rd, #sat, Rn, shift: sh=0 LSL #imm5, sh=1 ASR #imm5 (imm5=0 is
# ASR #32 in A32).  d or n == 15 is UNPREDICTABLE.
P("SSAT", "cond:4 0110 101 sat:5 rd:4 imm5:5 sh:1 01 rn:4", group="saturate")
P("USAT", "cond:4 0110 111 sat:5 rd:4 imm5:5 sh:1 01 rn:4", group="saturate")
P("SSAT16", "cond:4 0110 1010 sat:4 rd:4 1111 0011 rn:4", group="saturate")
P("USAT16", "cond:4 0110 1110 sat:4 rd:4 1111 0011 rn:4", group="saturate")

# --- Parallel add/subtract: all 36 ----------------------------------------
# [22:20] prefix (op1 000 and 100 are UNDEFINED), [7:5] operation (101, 110
# UNDEFINED), [11:8]=(1)(1)(1)(1).  PC anywhere is UNPREDICTABLE.  The S and
# U forms set the GE flags.
PAR_PREFIX = {"S": 1, "Q": 2, "SH": 3, "U": 5, "UQ": 6, "UH": 7}
PAR_OP = {"ADD16": 0, "ASX": 1, "SAX": 2, "SUB16": 3, "ADD8": 4, "SUB8": 7}
for pre, op1 in PAR_PREFIX.items():
    for opname, op2 in PAR_OP.items():
        P(pre + opname, f"cond:4 01100 {op1:03b} rn:4 rd:4 1111 {op2:03b} 1 rm:4",
          group="parallel")

# --- Other media instructions ---------------------------------------------
# SEL reads GE.  PKHBT (tb=0) is LSL #imm5; PKHTB (tb=1) is ASR #imm5 with
# imm5=0 meaning ASR #32.  PC anywhere is UNPREDICTABLE.
P("SEL", "cond:4 0110 1000 rn:4 rd:4 1111 1011 rm:4", group="media")
P("PKHBT", "cond:4 0110 1000 rn:4 rd:4 imm5:5 0 01 rm:4", group="media")
P("PKHTB", "cond:4 0110 1000 rn:4 rd:4 imm5:5 1 01 rm:4", group="media")
# Extend and extend-add, rotation 0/8/16/24, [9:8]=(0)(0).  Rn=1111 selects
# the plain extend (SXTB etc.), so the accumulate patterns never draw PC.
EXTEND = {"SXTAB16": 0, "SXTAB": 2, "SXTAH": 3, "UXTAB16": 4, "UXTAB": 6,
          "UXTAH": 7}
for mnem, op in EXTEND.items():
    P(mnem, f"cond:4 01101 {op:03b} rn:4 rd:4 rot:2 00 0111 rm:4", group="media")
    plain = mnem.replace("A", "", 1)
    P(plain, f"cond:4 01101 {op:03b} 1111 rd:4 rot:2 00 0111 rm:4", group="media")
# Reversals and CLZ: fixed (1) bits, d or m == 15 UNPREDICTABLE.
P("REV", "cond:4 0110 1011 1111 rd:4 1111 0011 rm:4", group="media")
P("REV16", "cond:4 0110 1011 1111 rd:4 1111 1011 rm:4", group="media")
P("RBIT", "cond:4 0110 1111 1111 rd:4 1111 0011 rm:4", group="media")
P("REVSH", "cond:4 0110 1111 1111 rd:4 1111 1011 rm:4", group="media")
P("CLZ", "cond:4 0001 0110 1111 rd:4 1111 0001 rm:4", group="media")
# Bit fields.  BFI/BFC: msb < lsb is UNPREDICTABLE; Rn=1111 is BFC.
# SBFX/UBFX: lsb + width - 1 > 31 is UNPREDICTABLE.
P("BFI", "cond:4 0111 110 msb:5 rd:4 lsb:5 001 rn:4", "msb >= lsb", group="media")
P("BFC", "cond:4 0111 110 msb:5 rd:4 lsb:5 001 1111", "msb >= lsb", group="media")
P("SBFX", "cond:4 0111 101 widthm1:5 rd:4 lsb:5 101 rn:4", "lsb + widthm1 <= 31",
  group="media")
P("UBFX", "cond:4 0111 111 widthm1:5 rd:4 lsb:5 101 rn:4", "lsb + widthm1 <= 31",
  group="media")

# --- Status register ------------------------------------------------------
# MRS Rd, APSR (reads the whole CPSR at PL1; deterministic).  Rd=PC is
# UNPREDICTABLE.  Only R=0 (CPSR): the SPSR_svc reset value is UNKNOWN.
P("MRS", "cond:4 0001 0000 1111 rd:4 0000 0000 0000", group="status")
# MSR APSR_<nzcvq|g|nzcvqg>: mask bit 3 writes NZCVQ, bit 2 writes GE.
# mask=0 is UNPREDICTABLE (register form) / a hint (immediate form); masks
# with bits 1 or 0 would touch E/A/I/F/mode and are never drawn.  Value bits
# outside NZCVQ and GE (IT, J, reserved) must be ignored by the emulator.
P("MSR_reg", "cond:4 0001 0010 mask:4 1111 0000 0000 rn:4",
  gen={"mask": (4, 8, 12)}, group="status")
P("MSR_imm", "cond:4 0011 0010 mask:4 1111 imm12:12",
  gen={"mask": (4, 8, 12)}, group="status")

# --- Hints, barriers, preload ---------------------------------------------
# Hints: NOP, YIELD, SEV, DBG #n.  WFE/WFI are left out: they may wait for
# an event that never comes.
P("NOP", "cond:4 0011 0010 0000 1111 0000 0000 0000", group="hint")
P("YIELD", "cond:4 0011 0010 0000 1111 0000 0000 0001", group="hint")
P("SEV", "cond:4 0011 0010 0000 1111 0000 0000 0100", group="hint")
P("DBG", "cond:4 0011 0010 0000 1111 0000 1111 opt:4", group="hint")
# Barriers (unconditional): only the architecturally defined options.
BARRIER_OPTS = (15, 14, 11, 10, 7, 6, 3, 2)
P("DMB", "1111 0101 0111 1111 1111 0000 0101 opt:4", gen={"opt": BARRIER_OPTS},
  group="hint")
P("DSB", "1111 0101 0111 1111 1111 0000 0100 opt:4", gen={"opt": BARRIER_OPTS},
  group="hint")
P("ISB", "1111 0101 0111 1111 1111 0000 0110 1111", group="hint")
# Preloads (unconditional) never fault, so the address may be anything.
# PLD/PLI literal (Rn=PC) is fine; PLDW with Rn=PC is UNPREDICTABLE; the
# register forms with Rm=PC are UNPREDICTABLE.  PLDW is a v7MP instruction.
P("PLD_imm", "1111 0101 u:1 101 rn:4 1111 imm12:12", pc=("rn",), group="hint",
  seed_regs=())
P("PLDW_imm", "1111 0101 u:1 001 rn:4 1111 imm12:12", group="hint", seed_regs=())
P("PLI_imm", "1111 0100 u:1 101 rn:4 1111 imm12:12", pc=("rn",), group="hint",
  seed_regs=())
P("PLD_reg", "1111 0111 u:1 101 rn:4 1111 imm5:5 type:2 0 rm:4", pc=("rn",),
  group="hint", seed_regs=())
P("PLDW_reg", "1111 0111 u:1 001 rn:4 1111 imm5:5 type:2 0 rm:4", group="hint",
  seed_regs=())
P("PLI_reg", "1111 0110 u:1 101 rn:4 1111 imm5:5 type:2 0 rm:4", pc=("rn",),
  group="hint", seed_regs=())

# --- Loads and stores: word and unsigned byte -----------------------------
# P=1 offset/pre-indexed (W=1 writes back), P=0 post-indexed (always writes
# back; P=0 W=1 is the LDRT family, separate patterns).
# Rules: writeback with Rn == Rt is UNPREDICTABLE; Rm == PC is UNPREDICTABLE;
# LDR/LDRB with Rt=PC (branch / UNPREDICTABLE) excluded; STRB Rt=PC is
# UNPREDICTABLE; STR Rt=PC is defined (stores PC+8) and drawn.  RRX (ROR #0)
# as index shift is left out (depends on C).  Rm == Rn is left out (the
# generator could not place both).
WB_RULE = "not (p == 0 and w == 1) and not ((p == 0 or w == 1) and rn == rt)"
for mnem, b, l in (("STR", 0, 0), ("STRB", 1, 0), ("LDR", 0, 1), ("LDRB", 1, 1)):
    size = 1 if b else 4
    pc = ("rt",) if mnem == "STR" else ()
    P(f"{mnem}_imm", f"cond:4 010 p:1 u:1 {b} w:1 {l} rn:4 rt:4 imm12:12", WB_RULE,
      pc=pc, mem=mem_single_imm(size, size, not l), group="ldst")
    P(f"{mnem}_reg", f"cond:4 011 p:1 u:1 {b} w:1 {l} rn:4 rt:4 imm5:5 type:2 0 rm:4",
      WB_RULE + " and rm != rn and not (type == 3 and imm5 == 0)",
      pc=pc, mem=mem_single_reg(size, size, not l, shifted=True), group="ldst")
    # Unprivileged forms (post-indexed, always write back): Rt=PC, Rn=PC,
    # Rn == Rt and Rm=PC are UNPREDICTABLE.  With the MMU off they behave
    # like the plain post-indexed access.
    P(f"{mnem}T_imm", f"cond:4 0100 u:1 {b} 1 {l} rn:4 rt:4 imm12:12", "rn != rt",
      mem=mem_single_imm(size, size, not l), group="ldst")
    P(f"{mnem}T_reg", f"cond:4 0110 u:1 {b} 1 {l} rn:4 rt:4 imm5:5 type:2 0 rm:4",
      "rn != rt and rm != rn and not (type == 3 and imm5 == 0)",
      mem=mem_single_reg(size, size, not l, shifted=True), group="ldst")

# --- Loads and stores: halfword, signed byte, doubleword ------------------
# Immediate offset imm4H:imm4L, register offset Rm (no shift, [11:8]=(0)).
# Rt=PC is UNPREDICTABLE, writeback with Rn == Rt is UNPREDICTABLE, Rm=PC is
# UNPREDICTABLE.  LDRD/STRD: Rt odd is UNPREDICTABLE, Rt=14 (Rt2=PC) is
# UNPREDICTABLE, Rt=12 is left out (Rt2 would be SP), writeback with Rn ==
# Rt or Rt2 is UNPREDICTABLE, P=0 W=1 is UNPREDICTABLE, LDRD (register) with
# Rm == Rt or Rt2 is UNPREDICTABLE.  Register forms with writeback and
# Rm == Rt are left out too (binutils flags them).  Doubleword accesses are
# word-aligned (all ARMv7 requires with SCTLR.A=0).
EXTRA = (("STRH", 0, 0b01, 2, False), ("LDRH", 1, 0b01, 2, False),
         ("LDRSB", 1, 0b10, 1, False), ("LDRSH", 1, 0b11, 2, False),
         ("LDRD", 0, 0b10, 8, True), ("STRD", 0, 0b11, 8, True))
for mnem, l, op2, size, dual in EXTRA:
    store = mnem.startswith("STR")
    align = 4 if dual else size
    if dual:
        rule = ("rt % 2 == 0 and rt < 12 and not (p == 0 and w == 1) and "
                "not ((p == 0 or w == 1) and (rn == rt or rn == rt + 1))")
    else:
        rule = WB_RULE
    # binutils marks Rm == Rt with writeback as UNPREDICTABLE for these
    # forms; the ARMv7 pseudocode has no such rule, but it costs nothing to
    # stay clear of it.
    rule_reg = rule + " and rm != rn and not ((p == 0 or w == 1) and rm == rt)"
    if mnem == "LDRD":
        rule_reg += " and rm != rt and rm != rt + 1"
    P(f"{mnem}_imm",
      f"cond:4 000 p:1 u:1 1 w:1 {l} rn:4 rt:4 imm4h:4 1 {op2:02b} 1 imm4l:4", rule,
      mem=mem_single_imm(size, align, store, off=_imm8), group="ldst_extra")
    P(f"{mnem}_reg", f"cond:4 000 p:1 u:1 0 w:1 {l} rn:4 rt:4 0000 1 {op2:02b} 1 rm:4",
      rule_reg, mem=mem_single_reg(size, align, store, shifted=False),
      group="ldst_extra")
    if not dual:
        # STRHT/LDRHT/LDRSBT/LDRSHT: post-indexed; Rt=PC, Rn == Rt and Rm=PC
        # are UNPREDICTABLE.
        P(f"{mnem}T_imm",
          f"cond:4 0000 u:1 1 1 {l} rn:4 rt:4 imm4h:4 1 {op2:02b} 1 imm4l:4",
          "rn != rt", mem=mem_single_imm(size, align, store, off=_imm8),
          group="ldst_extra")
        P(f"{mnem}T_reg", f"cond:4 0000 u:1 0 1 {l} rn:4 rt:4 0000 1 {op2:02b} 1 rm:4",
          "rn != rt and rm != rn and rm != rt",
          mem=mem_single_reg(size, align, store, shifted=False), group="ldst_extra")

# --- Load/store multiple --------------------------------------------------
# All four modes (DA, IA, DB, IB), W=0/1, S (bit 22) = 0.  Empty list,
# Rn=PC are UNPREDICTABLE; SP and PC never in the list.  LDM with writeback
# and Rn in the list is UNPREDICTABLE.  STM with writeback stores an UNKNOWN
# value for Rn unless Rn is the lowest register in the list.
P("LDM", "cond:4 100 p:1 u:1 0 w:1 1 rn:4 list:16",
  "not (w and (list >> rn) & 1)", gen={"list": _reglist},
  mem=mem_block(False), group="ldst_multiple")
P("STM", "cond:4 100 p:1 u:1 0 w:1 0 rn:4 list:16",
  "not (w and (list >> rn) & 1 and rn != lowest_set_bit(list))",
  gen={"list": _reglist}, mem=mem_block(True), group="ldst_multiple")

# --- Swap -----------------------------------------------------------------
# SWP{B} Rt, Rt2, [Rn]: any PC is UNPREDICTABLE, Rn == Rt or Rn == Rt2 is
# UNPREDICTABLE (Rt == Rt2 is fine).  The harness sets SCTLR.SW, without
# which SWP/SWPB are UNDEFINED on a v7MP core.
P("SWP", "cond:4 0001 0000 rn:4 rt:4 0000 1001 rt2:4", "rn != rt and rn != rt2",
  mem=mem_plain(4, 4, True), group="swap")
P("SWPB", "cond:4 0001 0100 rn:4 rt:4 0000 1001 rt2:4", "rn != rt and rn != rt2",
  mem=mem_plain(1, 1, True), group="swap")

# --- Exclusives -----------------------------------------------------------
# The local monitor's state must be known for STREX results to be defined,
# so exclusives come in sequences (see EXCLUSIVE_SEQUENCES) that keep the
# monitor Open between sequences:
#   LDREX<x> then STREX<x> to the same address, same condition: both execute
#     or neither; the store succeeds (Rd=0).  Nothing between them writes the
#     buffer (only the MOVW/MOVT setup and the log stores elsewhere).
#   LDREX<x> then CLREX.
#   STREX<x> alone: the monitor is Open, so it fails (Rd=1) and stores
#     nothing.
# Rules: Rt or Rn == PC UNPREDICTABLE; STREX Rd == Rn or Rd == Rt (or Rt2)
# UNPREDICTABLE; LDREXD/STREXD Rt odd or Rt=14 UNPREDICTABLE, Rt=12 left out
# (Rt2 would be SP); STREX after LDREX of another size UNPREDICTABLE (never
# generated); natural alignment (doubleword for the D forms).
EXCL_SIZES = {"": (0b00, 4), "D": (0b01, 8), "B": (0b10, 1), "H": (0b11, 2)}
LDREX_P = {}
STREX_P = {}
for sfx, (op, size) in EXCL_SIZES.items():
    dual = sfx == "D"
    LDREX_P[sfx] = Pattern(
        f"LDREX{sfx}", f"cond:4 00011 {op:02b} 1 rn:4 rt:4 1111 1001 1111",
        "rt % 2 == 0 and rt < 12" if dual else "True",
        mem=mem_plain(size, size, False), group="exclusive")
    STREX_P[sfx] = Pattern(
        f"STREX{sfx}", f"cond:4 00011 {op:02b} 0 rn:4 rd:4 1111 1001 rt:4",
        "rd != rn and rd != rt" + (" and rd != rt + 1 and rt % 2 == 0 and rt < 12"
                                   if dual else ""),
        mem=mem_plain(size, size, True), group="exclusive")
CLREX = P("CLREX", "1111 0101 0111 1111 1111 0000 0001 1111", group="exclusive")


class ExclusiveSequence:
    """A pseudo-pattern that expands to several instructions (see above)."""

    def __init__(self, kind: str, sfx: str):
        self.kind = kind
        self.sfx = sfx
        self.name = {"LDREX_STREX": f"LDREX{sfx}_STREX{sfx}_pair",
                     "LDREX_CLREX": f"LDREX{sfx}_CLREX",
                     "STREX": f"STREX{sfx}_alone"}[kind]
        self.group = "exclusive"
        self.weight = 1.0
        self.seed_regs = ()

    def expand(self, ctx: GenContext) -> list[Insn]:
        ld, st = LDREX_P[self.sfx], STREX_P[self.sfx]
        if self.kind == "STREX":
            return [st.generate(ctx)]
        first = ld.generate(ctx)
        if self.kind == "LDREX_CLREX":
            return [first, CLREX.generate(ctx)]
        # LDREX_STREX: same condition, same address as the LDREX.
        addr = first.access[0]
        v = st.draw(ctx)
        v["cond"] = first.fields["cond"]
        return [first, Insn(st.encode(v), st.name, [(v["rn"], addr)],
                            (addr, first.access[1], True), v)]


EXCLUSIVE_SEQUENCES = [ExclusiveSequence(k, s) for k in
                       ("LDREX_STREX", "LDREX_CLREX", "STREX")
                       for s in EXCL_SIZES]


def all_classes():
    return PATTERNS + EXCLUSIVE_SEQUENCES


common.assign_weights(all_classes(), GROUP_WEIGHTS)


# ---------------------------------------------------------------------------
# Program generation

SEED_PROBABILITY = 0.25       # load one source operand with a special value
SHIFT_SEED_PROBABILITY = 0.5  # load Rs of a register-shift form


def initial_state(rng) -> dict:
    """Initial r0-r12, r14 and APSR flags (NZCVQ and GE)."""
    regs = [common.register_value(rng) for _ in range(14)]
    psr = rng.getrandbits(32) & 0xF80F0000
    return {"regs": regs, "psr": psr}


def _seed_operands(insn: Insn, cls, ctx: GenContext) -> None:
    rng = ctx.rng
    f = insn.fields
    if "rs" in f and f["rs"] != 15 and rng.random() < SHIFT_SEED_PROBABILITY:
        insn.setup.append((f["rs"], common.shift_amount_value(rng)))
        return
    cands = [f[r] for r in cls.seed_regs if r in f and f[r] not in (13, 15)]
    if cands and rng.random() < SEED_PROBABILITY:
        reg = rng.choice(cands)
        insn.setup.append((reg, rng.choice(common.INTERESTING)))


def generate(rng, count: int, ctx: GenContext, select=None) -> list[Insn]:
    """``count`` instructions.  ``select`` is an optional predicate on class
    names (from --pattern).  Generation is a pure function of the rng state,
    and a program's first k instructions do not depend on ``count``."""
    classes = [c for c in all_classes() if select is None or select(c.name)]
    if not classes:
        raise GenerationError("no instruction class matches the selection")
    weights = [c.weight for c in classes]
    out: list[Insn] = []
    while len(out) < count:
        cls = rng.choices(classes, weights)[0]
        if isinstance(cls, ExclusiveSequence):
            items = cls.expand(ctx)
        else:
            insn = cls.generate(ctx)
            if cls.mem is None:
                _seed_operands(insn, cls, ctx)
            items = [insn]
        out.extend(items)
    return out[:count]


# ---------------------------------------------------------------------------
# Harness fragments (ARM state)

def init_asm() -> list[str]:
    """Load the initial flags and registers from the init table."""
    return [
        "ldaddr r0, init_psr",
        "ldr r0, [r0]",
        "msr APSR_nzcvqg, r0",
        "ldaddr lr, init_regs",
        "ldm lr, {r0-r12, lr}",
    ]


def init_data_asm(state: dict) -> list[str]:
    lines = ["init_psr:", f"    .word 0x{state['psr']:08x}", "init_regs:"]
    lines += [f"    .word 0x{v:08x}" for v in state["regs"]]
    return lines


def log_asm() -> list[str]:
    """Append one record (r0-r12, lr, cpsr) at SP without changing any
    register or flag: SP is the log pointer."""
    return [
        "stmia sp!, {r0-r12, lr}",
        "mrs r0, apsr",
        "str r0, [sp], #4",
        "ldr r0, [sp, #-60]",
    ]


def body_enter_asm() -> list[str]:
    return [".arm"]


def body_leave_asm() -> list[str]:
    return []


def insn_asm(insn: Insn) -> list[str]:
    lines = []
    for reg, val in insn.setup:
        lines.append(f"movw r{reg}, #0x{val & 0xFFFF:04x}")
        if val >> 16:
            lines.append(f"movt r{reg}, #0x{val >> 16:04x}")
    lines.append(f".inst 0x{insn.word:08x}  @ {insn.name}")
    return lines


def setup_regs_after(insn: Insn) -> dict[int, int]:
    """The register values the setup guarantees before the instruction."""
    out = {}
    for reg, val in insn.setup:
        out[reg] = val  # MOVW zero-extends, MOVT (if any) writes the top half
    return out


def format_psr(v: int) -> str:
    flags = "".join(c if v >> b & 1 else c.lower()
                    for c, b in zip("NZCVQ", range(31, 26, -1)))
    return f"{flags} GE={v >> 16 & 15:04b} mode={v & 31:#x}"


# ---------------------------------------------------------------------------
# Self-check of a clean (oracle) run, independent of the generator's
# arithmetic: decode each memory instruction's effective address from its
# encoding and the logged registers, and check the exclusive monitor design.

def condition_passed(cond: int, psr: int) -> bool:
    n, z, c, v = (psr >> 31) & 1, (psr >> 30) & 1, (psr >> 29) & 1, (psr >> 28) & 1
    base = {0: z, 1: c, 2: n, 3: v, 4: c and not z, 5: n == v,
            6: (not z) and n == v, 7: True}[cond >> 1]
    return bool(base) != bool(cond & 1 and cond != 0xF)


def _shift(value: int, typ: int, imm5: int, carry: int) -> int:
    if typ == 0:
        return (value << imm5) & M32
    if typ == 1:
        return 0 if imm5 == 0 else value >> imm5
    if typ == 2:
        signed = value - (1 << 32) if value >> 31 else value
        return (signed >> (imm5 or 32)) & M32
    if imm5 == 0:
        return (carry << 31) | (value >> 1)
    return ((value >> imm5) | (value << (32 - imm5))) & M32


def effective_address(word: int, regs: list[int], psr: int) -> int | None:
    """Lowest address accessed by a load/store encoding, or None."""
    op = (word >> 25) & 7
    p, u = (word >> 24) & 1, (word >> 23) & 1
    base = regs[(word >> 16) & 15]
    if op == 0b100:  # LDM/STM
        n = popcount(word & 0xFFFF)
        return {(0, 1): base, (1, 1): base + 4, (0, 0): base - 4 * n + 4,
                (1, 0): base - 4 * n}[(p, u)] & M32
    if op == 0b010:
        off = word & 0xFFF
    elif op == 0b011:
        off = _shift(regs[word & 15], (word >> 5) & 3, (word >> 7) & 31, psr >> 29 & 1)
    elif op == 0b000 and (word & 0x90) == 0x90:
        if (word & 0x0F8000F0) in (0x01000090, 0x01800090):  # SWP, exclusives
            return base
        off = ((word >> 4) & 0xF0) | (word & 0xF) if word >> 22 & 1 else regs[word & 15]
    else:
        return None
    return (base + (off if u else -off)) & M32 if p else base


def check_run(insns: list[Insn], before, after) -> list[str]:
    """Problems in a clean run: ``before(k)``/``after(k)`` give the register
    list (r0..r12, lr, cpsr) around instruction k."""
    problems = []
    monitor_pair = False
    for k, insn in enumerate(insns):
        regs_b = before(k)
        regs = regs_b[:13] + [0, regs_b[13], 0]
        psr = regs_b[14]
        cond = insn.word >> 28
        executed = cond == 0xF or condition_passed(cond, psr)
        if insn.access:
            addr = effective_address(insn.word, regs, psr)
            if addr != insn.access[0]:
                problems.append(f"insn {k} ({insn.name}): effective address "
                                f"{addr:#x}, generator meant {insn.access[0]:#x}")
        if insn.name.startswith("STREX"):
            rd = insn.fields["rd"]
            idx = 13 if rd == 14 else rd  # record: r0..r12, lr, cpsr
            want = regs_b[idx] if not executed else (0 if monitor_pair else 1)
            got = after(k)[idx]
            if got != want:
                problems.append(f"insn {k} ({insn.name}): STREX status {got}, "
                                f"expected {want}")
        monitor_pair = (insn.name.startswith("LDREX") and k + 1 < len(insns)
                        and insns[k + 1].name.startswith("STREX"))
    return problems
