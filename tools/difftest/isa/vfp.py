"""VFPv3 instruction classes -- not implemented yet.

Plan: enable CP10/CP11 in CPACR and set FPEXC.EN in init_asm, give D0-D31
and FPSCR random initial values (special values: zeros, infinities, NaNs,
denormals), and extend the log record with D0-D31 (VSTMIA SP!) and FPSCR
(VMRS).  Patterns from QEMU's vfp.decode.
"""

NAME = "vfp"
DESCRIPTION = "VFPv3-D32 floating point -- planned"
IMPLEMENTED = False
