"""Advanced SIMD (NEON) in Thumb state: the T32 forms of isa/neon.py's random words.

Everything but the state switch and the encodings is isa/neon.py's (``THUMB``); see there.
"""

from __future__ import annotations

from isa import neon as _neon
from isa.neon import (CI_COUNT, CI_SEEDS, STATE_NAMES, adjust_before, all_classes,  # noqa: F401
                      initial_state)

NAME = "neon_thumb"
DESCRIPTION = "Advanced SIMD (NEON), T32 encodings in Thumb state"

body_enter_asm = _neon.THUMB.body_enter_asm
init_asm = _neon.THUMB.init_asm
init_data_asm = _neon.THUMB.init_data_asm
log_asm = _neon.THUMB.log_asm
body_leave_asm = _neon.THUMB.body_leave_asm
insn_asm = _neon.THUMB.insn_asm
setup_regs_after = _neon.THUMB.setup_regs_after
format_psr = _neon.Neon.format_psr


def generate(rng, count: int, ctx, select=None):
    return _neon.generate(rng, count, ctx, select, thumb=True)
