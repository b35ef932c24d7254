"""VFPv3-D32 scalar instruction classes (ARM state) for the differential
tester.

Encodings follow the ARMv7-A ARM (DDI 0406C) A7.5-A7.9 and QEMU's
``vfp.decode``; the target is the Cortex-A9's VFPv3-D32 (32 double
registers, no short vectors, no trapped exceptions).  All classes are A32
encodings with a condition field (AL half of the time).

The harness
-----------
``body_enter_asm`` enables CP10/CP11 (CPACR full access) and sets FPEXC.EN
(VMSR), then ``init_asm`` loads FPSCR, D0-D31, the APSR flags, SP and the
core registers from the init table.  SP is tested (VPUSH/VPOP, SP-based
VLDR/VSTR), so the log pointer lives in CP15 TPIDRURW as for Thumb
(``common.tpidr_log_macro``).  One record (81 words): r0-r12, lr, the APSR
(MRS), SP, S0-S31 (= D0-D15), D16-D31 (low word first), FPSCR (VMRS: NZCV,
QC, AHP, DN, FZ, RMode and the cumulative exception flags).

Operands and FPSCR
------------------
The initial D registers hold special values much of the time (see
``F64_SPECIAL``/``F32_SPECIAL``: +-0, +-inf, quiet and signalling NaNs
with payloads, denormals, min/max normal, values at and around 2^15, 2^16,
2^31, 2^32 for the conversions, ties and values that round differently in
each rounding mode or when narrowed to single precision).  Before an
instruction the setup may load one of its FP source registers with another
such value (through r0, saved in TPIDRPRW: no visible core register
changes).  The initial FPSCR has a random rounding mode, FZ and DN, random
NZCV and QC/AHP, and mostly clear cumulative flags; VMSR FPSCR instructions
in the body change it now and then (the setup loads their source register
with a value whose Len/Stride, bit 19 and trap-enable fields are zero: the
Cortex-A9 has no short vectors and no trapping, and QEMU 7.2 makes those
bits RAZ/WI, its write mask being 0xfff7009f).  The cumulative exception
flags are sticky, so the setup of about half the instructions clears them
first (VMRS/BIC/VMSR through r0): those records show exactly the flags the
one instruction raised.

Classes: VADD/VSUB/VMUL/VNMUL/VDIV/VMLA/VMLS/VNMLA/VNMLS, VABS/VNEG/VSQRT,
VMOV (register, immediate), VCMP/VCMPE (register and #0), VCVT F64<->F32,
integer to float (signed/unsigned), float to integer (round to zero, and
VCVTR with the FPSCR rounding mode), fixed point <-> float (16/32-bit,
signed/unsigned, any fraction bits), each in single and double precision;
VMOV core<->single, two cores<->two singles, two cores<->double, VMOV.32
Dd[x],Rt and Rt,Dn[x]; VMRS Rt/APSR_nzcv, FPSCR; VMSR FPSCR, Rt; VLDR/VSTR
(base register or SP, +-imm8*4; VLDR literal), VLDM/VSTM (IA, IA!, DB!),
VPUSH/VPOP.

UNPREDICTABLE rules encoded: VCVT fixed-point with a negative number of
fraction bits (16-bit: imm4:i > 16); VMOV two singles with Sm = S31; VMOV
to two core registers with Rt == Rt2; any core register PC (VMRS Rt=PC is
the APSR_nzcv form) or SP (outside the SP forms); VLDM/VSTM with no
registers, more than 16 doubles, or running past D31/S31; VLDM/VSTM
writeback with Rn=PC; FLDMX/FSTMX (odd imm8 with sz=1, deprecated) and
VSTR with Rn=PC (deprecated) are left out.  Never generated: Advanced SIMD,
half-precision conversions (VCVTB/VCVTT), VFPv4 fused multiply-add (not on
the Cortex-A9), VMRS/VMSR of FPSID/FPEXC/MVFR*, short vectors.
"""

from __future__ import annotations

import math
import struct

from pattern import M32, GenContext, GenerationError, Insn, Pattern
from isa import common
from isa.common import mem_imm

NAME = "vfp"
DESCRIPTION = "VFPv3-D32 scalar floating point in ARM state (Cortex-A9)"

STATE_NAMES = ([f"r{i}" for i in range(13)] + ["lr", "cpsr", "sp"]
               + [f"s{i}" for i in range(32)]
               + [f"d{i}.{h}" for i in range(16, 32) for h in ("lo", "hi")]
               + ["fpscr"])
FP_BASE = 16            # index of s0 in a record
FPSCR_INDEX = len(STATE_NAMES) - 1
LOG_END_ASM = common.LOG_END_TPIDR
CI_SEEDS = list(range(1, 25))
CI_COUNT = 1000

format_psr = common.format_psr

# FPSCR fields a VMSR may set: N Z C V QC AHP DN FZ RMode, IDC and
# IXC/UFC/OFC/DZC/IOC.  Not Stride/Len (no short vectors), bit 19, the
# trap enables (RAZ/WI without trapping).
FPSCR_RW = 0xFFC0009F
RMODES = ("RN", "RP", "RM", "RZ")


def format_fpscr(v: int) -> str:
    flags = "".join(c if v >> b & 1 else c.lower() for c, b in zip("NZCV", range(31, 27, -1)))
    bits = [name for name, b in (("QC", 27), ("AHP", 26), ("DN", 25), ("FZ", 24)) if v >> b & 1]
    exc = [name for name, b in (("IDC", 7), ("IXC", 4), ("UFC", 3), ("OFC", 2), ("DZC", 1),
                                ("IOC", 0)) if v >> b & 1]
    s = f"{flags} {RMODES[v >> 22 & 3]}"
    if bits:
        s += " " + " ".join(bits)
    s += " flags=" + ("|".join(exc) if exc else "-")
    other = v & ~FPSCR_RW & M32
    if other:
        s += f" other={other:#x}"
    return s


FORMATTERS = {"cpsr": common.format_psr, "fpscr": format_fpscr}


# ---------------------------------------------------------------------------
# Values

def f32(x: float) -> int:
    return struct.unpack("<I", struct.pack("<f", x))[0]


def f64(x: float) -> int:
    return struct.unpack("<Q", struct.pack("<d", x))[0]


def as_f32(w: int) -> float:
    return struct.unpack("<f", struct.pack("<I", w & M32))[0]


def as_f64(w: int) -> float:
    return struct.unpack("<d", struct.pack("<Q", w))[0]


F32_SPECIAL = (
    0x00000000, 0x80000000, 0x7F800000, 0xFF800000,            # +-0, +-inf
    0x7FC00000, 0xFFC00000, 0x7FC00001, 0x7FFFFFFF, 0xFFD55555,  # quiet NaNs
    0x7F800001, 0xFF800001, 0x7FBFFFFF, 0x7FA00000, 0xFF8ABCDE,  # signalling NaNs
    0x00000001, 0x80000001, 0x007FFFFF, 0x807FFFFF, 0x00400000,  # denormals
    0x00800000, 0x80800000, 0x00800001, 0x7F7FFFFF, 0xFF7FFFFF,  # min/max normal
    f32(1.0), f32(-1.0), f32(0.5), f32(-0.5), f32(1.5), f32(-1.5), f32(2.5), f32(-2.5),
    f32(3.5), 0x3F7FFFFF, 0x3F800001, f32(0.25), f32(3.0), f32(10.0), f32(-7.0),
    0x4F000000, 0x4EFFFFFF, 0xCF000000, 0xCF000001, 0xCEFFFFFF,  # +-2^31
    0x4F800000, 0x4F7FFFFF, 0x4F800001,                          # 2^32
    f32(32767.5), f32(32768.0), f32(-32768.0), f32(-32768.5), f32(65535.5),
    f32(65536.0), f32(-65536.0), f32(2147483520.0), f32(1e10), f32(-1e10),
    0x33800000, 0x34000000, 0x0C000000, 0x72800000,              # tiny/huge scales
)


def _d(x: float) -> int:
    return f64(x)


F64_SPECIAL = (
    0x0000000000000000, 0x8000000000000000, 0x7FF0000000000000, 0xFFF0000000000000,
    0x7FF8000000000000, 0xFFF8000000000000, 0x7FF8000000000001, 0x7FFFFFFFFFFFFFFF,
    0x7FF80000DEADBEEF, 0xFFFABCDE12345678,                      # quiet NaNs
    0x7FF0000000000001, 0xFFF0000000000001, 0x7FF7FFFFFFFFFFFF, 0x7FF4000000000000,
    0x7FF00000F0000000, 0xFFF0123456789ABC,                      # signalling NaNs
    0x0000000000000001, 0x8000000000000001, 0x000FFFFFFFFFFFFF, 0x800FFFFFFFFFFFFF,
    0x0008000000000000,                                          # denormals
    0x0010000000000000, 0x8010000000000000, 0x0010000000000001,
    0x7FEFFFFFFFFFFFFF, 0xFFEFFFFFFFFFFFFF,                      # min/max normal
    _d(1.0), _d(-1.0), _d(0.5), _d(-0.5), _d(1.5), _d(-1.5), _d(2.5), _d(-2.5), _d(3.5),
    _d(0.25), _d(3.0), _d(10.0), _d(-7.0), 0x3FEFFFFFFFFFFFFF, 0x3FF0000000000001,
    # conversions to 32-bit integers: around +-2^31 and 2^32, ties
    _d(2147483647.0), _d(2147483647.5), _d(2147483648.0), _d(2147483648.5),
    _d(-2147483648.0), _d(-2147483648.5), _d(-2147483649.0), _d(-2147483647.5),
    _d(4294967295.0), _d(4294967295.5), _d(4294967296.0), _d(4294967296.5),
    _d(-0.5), _d(-0.75), _d(0.75), _d(1e10), _d(-1e10), _d(4503599627370496.5),
    _d(32767.5), _d(32768.0), _d(-32768.5), _d(65535.5), _d(65536.0),
    # narrowing to single: ties (to even), just above, overflow, underflow
    0x3FF0000010000000, 0x3FF0000030000000, 0x3FF0000010000001, 0x3FF000000FFFFFFF,
    _d(3.4028235677973366e38), 0x47EFFFFFF0000000, 0x47EFFFFFE8000000, _d(1e39), _d(-1e39),
    _d(1e-40), _d(-1e-40), _d(2.0 ** -149), _d(2.0 ** -150), _d(1.5 * 2.0 ** -150),
    _d(2.0 ** -126), _d(2.0 ** -126 * (1 - 2.0 ** -25)), _d(1e-300), _d(1e300),
)


def _random_f32(rng) -> int:
    r = rng.random()
    if r < 0.45:
        return rng.choice(F32_SPECIAL)
    sign = rng.getrandbits(1) << 31
    if r < 0.6:  # small integers and halves
        return f32(rng.randint(-300, 300) / rng.choice((1, 2, 4, 8))) | 0
    if r < 0.8:  # ordinary magnitudes
        exp = rng.randint(127 - 40, 127 + 40)
        return sign | exp << 23 | rng.getrandbits(23)
    return rng.getrandbits(32)


def _random_f64(rng) -> int:
    r = rng.random()
    if r < 0.45:
        return rng.choice(F64_SPECIAL)
    sign = rng.getrandbits(1) << 63
    if r < 0.6:
        return f64(rng.randint(-300, 300) / rng.choice((1, 2, 4, 8)))
    if r < 0.7:  # exact in single precision: narrowing is exact
        return f64(as_f32(_random_f32(rng))) if rng.random() < 0.9 else rng.choice(F64_SPECIAL)
    if r < 0.85:
        exp = rng.randint(1023 - 60, 1023 + 60)
        return sign | exp << 52 | rng.getrandbits(52)
    if r < 0.92:  # around the single-precision range edges
        exp = rng.choice((1023 - 126, 1023 - 127, 1023 - 149, 1023 - 150, 1023 + 127, 1023 + 128))
        return sign | exp << 52 | rng.getrandbits(52)
    return rng.getrandbits(64)


def random_fpscr(rng) -> int:
    v = rng.randrange(4) << 22                         # RMode
    if rng.random() < 0.3:
        v |= 1 << 24                                   # FZ
    if rng.random() < 0.3:
        v |= 1 << 25                                   # DN
    if rng.random() < 0.1:
        v |= 1 << 26                                   # AHP
    if rng.random() < 0.1:
        v |= 1 << 27                                   # QC
    v |= rng.getrandbits(4) << 28                      # NZCV
    if rng.random() < 0.3:
        v |= rng.getrandbits(8) & 0x9F                 # cumulative flags
    return v & FPSCR_RW


# ---------------------------------------------------------------------------
# Register numbering: single Sx = Vx:X, double Dx = X:Vx.

def sreg(v4: int, bit: int) -> int:
    return v4 << 1 | bit


def dreg(v4: int, bit: int) -> int:
    return bit << 4 | v4


def fp_reg(v, field: str, bit: str, double: bool) -> tuple[str, int]:
    return ("d", dreg(v[field], v[bit])) if double else ("s", sreg(v[field], v[bit]))


# ---------------------------------------------------------------------------
# Classes

GROUP_WEIGHTS = {
    "arith": 28, "unary": 9, "compare": 8, "convert": 20, "vmov_imm": 3,
    "transfer": 10, "status": 4, "vmsr": 1.5, "mem": 10,
}

PATTERNS: list[Pattern] = []


def V(name, layout, constraint="True", **kw) -> Pattern:
    p = Pattern(name, layout, constraint, seed_regs=(), **kw)
    PATTERNS.append(p)
    return p


def _prec(sz):
    return "F64" if sz else "F32"


# --- Three-register arithmetic: cond 1110 o1 D o2 Vn Vd 101 sz N op M 0 Vm
# (o1 = bit 23, o2 = bits 21:20).  VMLA/VMLS/VNMLA/VNMLS also read Vd.
ARITH = {"VMLA": (0, 0, 0), "VMLS": (0, 0, 1), "VNMLS": (0, 1, 0), "VNMLA": (0, 1, 1),
         "VMUL": (0, 2, 0), "VNMUL": (0, 2, 1), "VADD": (0, 3, 0), "VSUB": (0, 3, 1),
         "VDIV": (1, 0, 0)}
for mnem, (o1, o2, op) in ARITH.items():
    for sz in (0, 1):
        acc = mnem in ("VMLA", "VMLS", "VNMLA", "VNMLS")
        V(f"{mnem}_{_prec(sz)}", f"cond:4 1110 {o1} d:1 {o2:02b} vn:4 vd:4 101 {sz} n:1 {op} m:1 0 vm:4",
          group="arith",
          fp_sources=lambda v, sz=sz, acc=acc: [fp_reg(v, "vn", "n", sz), fp_reg(v, "vm", "m", sz)]
          + ([fp_reg(v, "vd", "d", sz)] if acc else []),
          fp_dests=lambda v, sz=sz: [fp_reg(v, "vd", "d", sz)])

# --- Two-register operations: cond 1110 1 D 11 opc2 Vd 101 sz opc3 M 0 Vm -----
for mnem, opc2, opc3 in (("VMOV_reg", 0, 1), ("VABS", 0, 3), ("VNEG", 1, 1), ("VSQRT", 1, 3)):
    for sz in (0, 1):
        V(f"{mnem}_{_prec(sz)}", f"cond:4 11101 d:1 11 {opc2:04b} vd:4 101 {sz} {opc3:02b} m:1 0 vm:4",
          group="unary", fp_sources=lambda v, sz=sz: [fp_reg(v, "vm", "m", sz)],
          fp_dests=lambda v, sz=sz: [fp_reg(v, "vd", "d", sz)])
for sz in (0, 1):
    # VCMP{E}: E (bit 7) also signals on quiet NaNs.  Sets FPSCR.NZCV.
    V(f"VCMP_{_prec(sz)}", f"cond:4 11101 d:1 11 0100 vd:4 101 {sz} e:1 1 m:1 0 vm:4",
      group="compare",
      fp_sources=lambda v, sz=sz: [fp_reg(v, "vd", "d", sz), fp_reg(v, "vm", "m", sz)],
      fp_dests=lambda v: [])
    V(f"VCMP0_{_prec(sz)}", f"cond:4 11101 d:1 11 0101 vd:4 101 {sz} e:1 1 0 0 0000",
      group="compare", fp_sources=lambda v, sz=sz: [fp_reg(v, "vd", "d", sz)],
      fp_dests=lambda v: [])
    # VMOV immediate: VFPExpandImm(imm4H:imm4L); bits 7:4 are (0)0(0)0.
    V(f"VMOV_imm_{_prec(sz)}", f"cond:4 11101 d:1 11 imm4h:4 vd:4 101 {sz} 0000 imm4l:4",
      group="vmov_imm", fp_sources=lambda v: [],
      fp_dests=lambda v, sz=sz: [fp_reg(v, "vd", "d", sz)])

# --- Conversions ------------------------------------------------------------------
G = "convert"
# Between precisions: sz=0 is VCVT.F64.F32 Dd, Sm; sz=1 is VCVT.F32.F64 Sd, Dm.
V("VCVT_F64_F32", "cond:4 11101 d:1 11 0111 vd:4 101 0 11 m:1 0 vm:4", group=G,
  fp_sources=lambda v: [fp_reg(v, "vm", "m", 0)], fp_dests=lambda v: [fp_reg(v, "vd", "d", 1)])
V("VCVT_F32_F64", "cond:4 11101 d:1 11 0111 vd:4 101 1 11 m:1 0 vm:4", group=G,
  fp_sources=lambda v: [fp_reg(v, "vm", "m", 1)], fp_dests=lambda v: [fp_reg(v, "vd", "d", 0)])
for sz in (0, 1):
    # Integer (in Sm) to float: bit 7 = signed.  FPSCR rounding.
    V(f"VCVT_{_prec(sz)}_int", f"cond:4 11101 d:1 11 1000 vd:4 101 {sz} signed:1 1 m:1 0 vm:4",
      group=G, fp_sources=lambda v: [fp_reg(v, "vm", "m", 0)], int_sources=True,
      fp_dests=lambda v, sz=sz: [fp_reg(v, "vd", "d", sz)])
    # Float to integer (into Sd): opc2 110U' (bit 16 = signed); bit 7 = 1
    # rounds toward zero (VCVT), 0 uses the FPSCR rounding mode (VCVTR).
    V(f"VCVT_int_{_prec(sz)}", f"cond:4 11101 d:1 11 110 signed:1 vd:4 101 {sz} rz:1 1 m:1 0 vm:4",
      group=G, fp_sources=lambda v, sz=sz: [fp_reg(v, "vm", "m", sz)],
      fp_dests=lambda v: [fp_reg(v, "vd", "d", 0)])
    # Fixed point <-> float, in place: opc2 1 op 1 U (op=1: to fixed, which
    # always rounds toward zero; op=0: from fixed, FPSCR rounding).  sx (bit
    # 7) = 32-bit, else 16-bit; fraction bits = size - imm4:i, negative is
    # UNPREDICTABLE.
    V(f"VCVT_fixed_{_prec(sz)}",
      f"cond:4 11101 d:1 11 1 op:1 1 u:1 vd:4 101 {sz} sx:1 1 i:1 0 imm4:4",
      "sx == 1 or imm4 * 2 + i <= 16", group=G,
      fp_sources=lambda v, sz=sz: [fp_reg(v, "vd", "d", sz)],
      fp_dests=lambda v, sz=sz: [fp_reg(v, "vd", "d", sz)])


# --- Core <-> extension register transfers ------------------------------------------
G = "transfer"


def _core_float(field, double=False):
    """Not memory: load the core source register(s) with a float value
    (half the time), the other half keep the random register value."""
    def setup(v, ctx):
        if ctx.rng.random() < 0.5:
            return [], None
        if double:
            val = _random_f64(ctx.rng)
            return [(v["rt"], val & M32), (v["rt2"], val >> 32)], None
        return [(v[field], _random_f32(ctx.rng))], None
    return setup


V("VMOV_s_core", "cond:4 1110 000 0 vn:4 rt:4 1010 n:1 00 1 0000", group=G,
  mem=_core_float("rt"), fp_sources=lambda v: [], fp_dests=lambda v: [fp_reg(v, "vn", "n", 0)])
V("VMOV_core_s", "cond:4 1110 000 1 vn:4 rt:4 1010 n:1 00 1 0000", group=G,
  fp_sources=lambda v: [fp_reg(v, "vn", "n", 0)], fp_dests=lambda v: [])
# Two singles Sm, Sm+1: Sm = S31 UNPREDICTABLE; to core: Rt == Rt2 UNPREDICTABLE.
V("VMOV_2s_core", "cond:4 1100 010 0 rt2:4 rt:4 1010 00 m:1 1 vm:4", "vm * 2 + m != 31",
  group=G, mem=_core_float("rt", double=True), fp_sources=lambda v: [],
  fp_dests=lambda v: [("s", sreg(v["vm"], v["m"])), ("s", sreg(v["vm"], v["m"]) + 1)])
V("VMOV_core_2s", "cond:4 1100 010 1 rt2:4 rt:4 1010 00 m:1 1 vm:4",
  "vm * 2 + m != 31 and rt != rt2", group=G,
  fp_sources=lambda v: [("s", sreg(v["vm"], v["m"])), ("s", sreg(v["vm"], v["m"]) + 1)],
  fp_dests=lambda v: [])
V("VMOV_d_core", "cond:4 1100 010 0 rt2:4 rt:4 1011 00 m:1 1 vm:4", group=G,
  mem=_core_float("rt", double=True), fp_sources=lambda v: [],
  fp_dests=lambda v: [fp_reg(v, "vm", "m", 1)])
V("VMOV_core_d", "cond:4 1100 010 1 rt2:4 rt:4 1011 00 m:1 1 vm:4", "rt != rt2", group=G,
  fp_sources=lambda v: [fp_reg(v, "vm", "m", 1)], fp_dests=lambda v: [])
# VMOV.32 Dd[x], Rt / VMOV.32 Rt, Dn[x] (the 8/16-bit scalars are Advanced
# SIMD and not generated).
V("VMOV_scalar_core", "cond:4 1110 0 0 x:1 0 vd:4 rt:4 1011 d:1 00 1 0000", group=G,
  mem=_core_float("rt"), fp_sources=lambda v: [], fp_dests=lambda v: [fp_reg(v, "vd", "d", 1)])
V("VMOV_core_scalar", "cond:4 1110 0 0 x:1 1 vn:4 rt:4 1011 n:1 00 1 0000", group=G,
  fp_sources=lambda v: [fp_reg(v, "vn", "n", 1)], fp_dests=lambda v: [])

# --- FPSCR ----------------------------------------------------------------------------
V("VMRS", "cond:4 1110 1111 0001 rt:4 1010 0001 0000", group="status",
  fp_sources=lambda v: [], fp_dests=lambda v: [])
V("VMRS_APSR_nzcv", "cond:4 1110 1111 0001 1111 1010 0001 0000", group="status",
  fp_sources=lambda v: [], fp_dests=lambda v: [])


def _fpscr_value(v, ctx):
    return [(v["rt"], random_fpscr(ctx.rng))], None


V("VMSR", "cond:4 1110 1110 0001 rt:4 1010 0001 0000", group="vmsr", mem=_fpscr_value,
  fp_sources=lambda v: [], fp_dests=lambda v: [])

# --- Loads and stores -----------------------------------------------------------------------
# VLDR/VSTR: [Rn, #+-imm8*4], word-aligned (also for doubles).  SP is a valid
# base.  VLDR literal (Rn=PC) reads the program: backward only as far as
# the body reaches, forward into the code or the padding.
G = "mem"
for mnem, l in (("VSTR", 0), ("VLDR", 1)):
    for sz in (0, 1):
        n = 8 if sz else 4
        V(f"{mnem}_{_prec(sz)}", f"cond:4 1101 u:1 d:1 0 {l} rn:4 vd:4 101 {sz} imm8:8", sp=("rn",),
          group=G, mem=mem_imm(n, not l, lambda v: 4 * v["imm8"] if v["u"] else -4 * v["imm8"]),
          fp_sources=lambda v, sz=sz, l=l: [] if l else [fp_reg(v, "vd", "d", sz)],
          fp_dests=lambda v, sz=sz, l=l: [fp_reg(v, "vd", "d", sz)] if l else [])


def _literal(v, ctx):
    if v["u"] == 0 and 4 * v["imm8"] + 64 > 40 * getattr(ctx, "units", 0):
        return None
    return [], None


for sz in (0, 1):
    V(f"VLDR_lit_{_prec(sz)}", f"cond:4 1101 u:1 d:1 01 1111 vd:4 101 {sz} imm8:8", group=G,
      mem=_literal, fp_sources=lambda v: [], fp_dests=lambda v, sz=sz: [fp_reg(v, "vd", "d", sz)])


def _block_regs(v, sz):
    """(first register, count) of a VLDM/VSTM register list."""
    return (dreg(v["vd"], v["d"]), v["imm8"] // 2) if sz else (sreg(v["vd"], v["d"]), v["imm8"])


def _block_count(rng, sz):
    k = rng.choice((1, 1, 2, 2, 3, 4, 5, 8, 16) if sz else (1, 2, 2, 3, 4, 6, 8, 16, 32))
    return 2 * k if sz else k


def _block_ok(v, sz):
    first, count = _block_regs(v, sz)
    return count >= 1 and first + count <= 32 and (not sz or count <= 16)


def _vblock(store, base_sp=False):
    def setup(v, ctx):
        sz = v["sz"]
        words = v["imm8"]
        addr = ctx.addr(4 * words, 4)
        mode_db = v.get("p", 1 if base_sp and store else 0) == 1
        base = addr + 4 * words if mode_db else addr
        rn = 13 if base_sp else v["rn"]
        return [(rn, base & M32)], (addr, 4 * words, store)
    return setup


def _block_fp(v, sz):
    first, count = _block_regs(v, sz)
    return [("d" if sz else "s", first + i) for i in range(count)]


# VLDM/VSTM: P U W = 010 (IA), 011 (IA!), 101 (DB!).  sz=1 with an odd imm8
# is FLDMX/FSTMX (not generated).  Base PC UNPREDICTABLE with writeback
# (and not drawn at all).
for mnem, l in (("VSTM", 0), ("VLDM", 1)):
    for sz in (0, 1):
        V(f"{mnem}_{_prec(sz)}", f"cond:4 110 p:1 u:1 d:1 w:1 {l} rn:4 vd:4 101 {sz} imm8:8",
          lambda v, sz=sz: (v["p"], v["u"], v["w"]) in ((0, 1, 0), (0, 1, 1), (1, 0, 1))
          and _block_ok(v, sz), gen={"imm8": lambda r, sz=sz: _block_count(r, sz)},
          fix=lambda v, sz=sz: v.__setitem__("sz", sz), group=G, mem=_vblock(not l),
          fp_sources=lambda v, sz=sz, l=l: [] if l else _block_fp(v, sz),
          fp_dests=lambda v, sz=sz, l=l: _block_fp(v, sz) if l else [])
    # VPUSH = VSTMDB SP!, VPOP = VLDMIA SP!
for mnem, layout, l in (("VPUSH", "cond:4 110 1 0 d:1 1 0 1101 vd:4 101 {} imm8:8", 0),
                        ("VPOP", "cond:4 110 0 1 d:1 1 1 1101 vd:4 101 {} imm8:8", 1)):
    for sz in (0, 1):
        V(f"{mnem}_{_prec(sz)}", layout.format(sz), lambda v, sz=sz: _block_ok(v, sz),
          gen={"imm8": lambda r, sz=sz: _block_count(r, sz)},
          fix=lambda v, sz=sz: v.__setitem__("sz", sz), group=G,
          mem=_vblock(not l, base_sp=True),
          fp_sources=lambda v, sz=sz, l=l: [] if l else _block_fp(v, sz),
          fp_dests=lambda v, sz=sz, l=l: _block_fp(v, sz) if l else [])


def all_classes():
    return PATTERNS


common.assign_weights(PATTERNS, GROUP_WEIGHTS)


# ---------------------------------------------------------------------------
# Program generation

FP_SEED_PROBABILITY = 0.4


CLEAR_FLAGS_PROBABILITY = 0.5
CLEAR_FLAGS = "fpscr_flags"   # a setup target: FPSCR IDC, IXC..IOC := 0
EXC_FLAGS = 0x9F


def _seed_fp(insn: Insn, cls, ctx: GenContext) -> None:
    """Maybe load one FP source register with a special value."""
    rng = ctx.rng
    srcs = cls.fp_sources(insn.fields)
    if getattr(cls, "int_sources", False) and srcs and rng.random() < FP_SEED_PROBABILITY:
        # integer operands of VCVT.F*.S32/U32
        val = rng.choice(common.INTERESTING + (rng.getrandbits(32),))
        insn.setup.append((f"s{srcs[0][1]}", val))
        return
    if srcs and rng.random() < FP_SEED_PROBABILITY:
        kind, idx = rng.choice(srcs)
        val = _random_f64(rng) if kind == "d" else _random_f32(rng)
        insn.setup.append((f"{kind}{idx}", val))


def initial_state(rng) -> dict:
    import harness
    regs = [common.register_value(rng) for _ in range(14)]
    sp = harness.BUF_BASE + 4 * rng.randrange(harness.BUF_SIZE // 4)
    psr = rng.getrandbits(32) & 0xF80F0000
    dregs = []
    for _ in range(32):
        if rng.random() < 0.5:
            dregs.append(_random_f64(rng))
        else:
            dregs.append(_random_f32(rng) | _random_f32(rng) << 32)
    return {"regs": regs, "psr": psr, "sp": sp, "dregs": dregs, "fpscr": random_fpscr(rng)}


def generate(rng, count: int, ctx: GenContext, select=None) -> list[Insn]:
    classes = [c for c in all_classes() if select is None or select(c.name)]
    if not classes:
        raise GenerationError("no instruction class matches the selection")
    weights = [c.weight for c in classes]
    out: list[Insn] = []
    while len(out) < count:
        ctx.units = len(out)
        cls = rng.choices(classes, weights)[0]
        insn = cls.generate(ctx)
        _seed_fp(insn, cls, ctx)
        # The cumulative exception flags are sticky: clear them before half
        # the instructions, so their records show exactly what that one
        # instruction raised (the other half test that flags stay set).
        if rng.random() < CLEAR_FLAGS_PROBABILITY:
            insn.setup.append((CLEAR_FLAGS, 0))
        out.append(insn)
    return out


# ---------------------------------------------------------------------------
# Harness fragments (ARM state)

LOG_EXTRA = [
    "vstmia sp!, {d0-d15}",
    "vstmia sp!, {d16-d31}",
    "vmrs r0, fpscr",
    "str r0, [sp], #4",
]


def body_enter_asm() -> list[str]:
    return [".arm", ".fpu vfpv3"] + common.tpidr_log_start() + [
        "mrc p15, 0, r0, c1, c0, 2      @ CPACR",
        "orr r0, r0, #(0xf << 20)       @ cp10, cp11: full access",
        "mcr p15, 0, r0, c1, c0, 2",
        "isb",
        "mov r0, #0x40000000            @ FPEXC.EN",
        "vmsr fpexc, r0",
    ] + common.tpidr_log_macro(LOG_EXTRA)


def init_asm() -> list[str]:
    return [
        "ldaddr r0, init_fpscr",
        "ldr r0, [r0]",
        "vmsr fpscr, r0",
        "ldaddr r0, init_dregs",
        "vldmia r0!, {d0-d15}",
        "vldmia r0, {d16-d31}",
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
             "init_sp:", f"    .word 0x{state['sp']:08x}",
             "init_fpscr:", f"    .word 0x{state['fpscr']:08x}",
             "init_regs:"]
    lines += [f"    .word 0x{v:08x}" for v in state["regs"]]
    lines += ["    .balign 8", "init_dregs:"]
    lines += [f"    .word 0x{v & M32:08x}, 0x{v >> 32:08x}" for v in state["dregs"]]
    return lines


def log_asm() -> list[str]:
    return ["log_state"]


def body_leave_asm() -> list[str]:
    return ["b finish"] + common.LITERAL_PAD


def _fp_setup_lines(target: str, val: int) -> list[str]:
    """Load an FP register through r0 (saved in TPIDRPRW)."""
    lines = ["mcr p15, 0, r0, c13, c0, 4"]
    if target[0] == "s":
        lines += common.movw_movt("r0", val & M32) + [f"vmov {target}, r0"]
    else:
        lines += common.movw_movt("r0", val & M32) + [f"vmov.32 {target}[0], r0"]
        lines += common.movw_movt("r0", val >> 32) + [f"vmov.32 {target}[1], r0"]
    return lines + ["mrc p15, 0, r0, c13, c0, 4"]


def insn_asm_parts(insn: Insn) -> tuple[list[str], list[str]]:
    core = [(r, v) for r, v in insn.setup if isinstance(r, int)]
    lines = common.core_setup_lines(core)
    for r, v in insn.setup:
        if r == CLEAR_FLAGS:
            lines += ["mcr p15, 0, r0, c13, c0, 4", "vmrs r0, fpscr",
                      f"bic r0, r0, #0x{EXC_FLAGS:02x}          @ clear the cumulative flags",
                      "vmsr fpscr, r0", "mrc p15, 0, r0, c13, c0, 4"]
        elif isinstance(r, str):
            lines += _fp_setup_lines(r, v)
    return lines, [f".inst 0x{insn.word:08x}  @ {insn.name}"]


def insn_asm(insn: Insn) -> list[str]:
    setup, code = insn_asm_parts(insn)
    return setup + code


def setup_regs_after(insn: Insn) -> dict:
    out = {}
    for r, v in insn.setup:
        if r == CLEAR_FLAGS:
            continue  # see adjust_before
        if isinstance(r, int):
            out[r] = v
        elif r[0] == "s":
            out[r] = v
        else:
            n = int(r[1:])
            if n < 16:
                out[f"s{2 * n}"], out[f"s{2 * n + 1}"] = v & M32, v >> 32
            else:
                out[f"d{n}.lo"], out[f"d{n}.hi"] = v & M32, v >> 32
    return out


def adjust_before(insn: Insn, regs: list[int]) -> list[int]:
    """The state before the instruction, from the previous record and the
    setup: the flag-clearing setup changes FPSCR."""
    if any(r == CLEAR_FLAGS for r, _ in insn.setup):
        regs[FPSCR_INDEX] &= ~EXC_FLAGS
    return regs


# ---------------------------------------------------------------------------
# Reports

def _fp_value_text(kind: str, bits: int) -> str:
    x = as_f64(bits) if kind == "d" else as_f32(bits)
    if math.isnan(x):
        top = 51 if kind == "d" else 22
        return ("qNaN" if bits >> top & 1 else "sNaN")
    return repr(x)


def value_notes(names, record, only) -> list[str]:
    """The differing FP registers as numbers."""
    out = []
    seen = set()
    for i in sorted(only):
        name = names[i]
        if name.startswith("s"):
            out.append(f"{name}={_fp_value_text('s', record[i])}")
            d = int(name[1:]) // 2
            if d not in seen:
                seen.add(d)
                lo, hi = record[FP_BASE + 2 * d], record[FP_BASE + 2 * d + 1]
                out.append(f"d{d}={_fp_value_text('d', hi << 32 | lo)}")
        elif name.startswith("d"):
            d = int(name[1:name.index(".")])
            if d not in seen:
                seen.add(d)
                j = names.index(f"d{d}.lo")
                out.append(f"d{d}={_fp_value_text('d', record[j + 1] << 32 | record[j])}")
    return out


def before_indices(insn: Insn) -> list[int]:
    """State words worth showing before an instruction: the core registers,
    the FP registers it names, FPSCR."""
    cls = next((p for p in PATTERNS if p.name == insn.name), None)
    idx = list(range(FP_BASE))
    regs = []
    if cls is not None:
        regs = cls.fp_sources(insn.fields) + cls.fp_dests(insn.fields)
    for kind, n in regs:
        if kind == "s":
            idx.append(FP_BASE + n)
        elif n < 16:
            idx += [FP_BASE + 2 * n, FP_BASE + 2 * n + 1]
        else:
            j = STATE_NAMES.index(f"d{n}.lo")
            idx += [j, j + 1]
    idx.append(FPSCR_INDEX)
    return sorted(set(idx))


# ---------------------------------------------------------------------------
# Self-check of a clean run: decoded VLDR/VSTR/VLDM/VSTM addresses.

def effective_address(word: int, regs: list[int]) -> int | None:
    if (word >> 25) & 7 != 0b110 or (word >> 9) & 7 != 0b101:
        return None
    rn = (word >> 16) & 15
    if rn == 15:
        return None
    p, u, w = (word >> 24) & 1, (word >> 23) & 1, (word >> 21) & 1
    imm8 = word & 0xFF
    base = regs[rn]
    if p == 1 and w == 0:                              # VLDR/VSTR
        return (base + (4 * imm8 if u else -4 * imm8)) & M32
    if p == 1:                                         # DB!
        return (base - 4 * imm8) & M32
    return base                                        # IA


def check_run(insns: list[Insn], before, after) -> list[str]:
    problems = []
    for k, insn in enumerate(insns):
        if insn.access:
            rb = before(k)
            regs = rb[:13] + [rb[15], rb[13], 0]
            addr = effective_address(insn.word, regs)
            if addr != insn.access[0]:
                problems.append(f"insn {k} ({insn.name}): effective address "
                                f"{addr if addr is None else hex(addr)}, generator meant "
                                f"{insn.access[0]:#x}")
    return problems
