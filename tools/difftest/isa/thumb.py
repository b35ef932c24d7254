"""T32 (Thumb-2) instruction classes -- not implemented yet.

Plan, using the hooks described in isa/__init__.py:

* patterns: the same Pattern machinery with 16- and 32-bit layouts (facts
  from QEMU's t16.decode / t32.decode), emitted as `.inst.n` / `.inst.w`;
* body_enter_asm: `adr r0, 1f + 1; bx r0; .thumb; 1:` (registers are free
  to clobber there), then init_asm/log_asm written in Thumb (STMIA SP! with
  r0-r12, lr is a valid T32 encoding);
* body_leave_asm: `movw/movt r0, finish; bx r0; .arm`;
* IT blocks as sequences (like the exclusive sequences in arm.py): an IT
  instruction, then up to four instructions whose conditions it dictates;
  the log after each of them runs inside the IT block, so it must be
  IT-neutral or the block logged only after its last instruction;
* the CPSR record already carries the IT bits ([26:25], [15:10]) and T.
"""

NAME = "thumb"
DESCRIPTION = "T32 (Thumb-2) with IT blocks -- planned"
IMPLEMENTED = False
