"""T32 (Thumb-2) instruction classes -- not implemented yet.

Plan: the same Pattern machinery with 16- and 32-bit layouts (from QEMU's
t16.decode/t32.decode), the body entered with BLX into Thumb state and left
with BX, IT blocks generated as sequences (an IT instruction followed by up
to four instructions whose conditions it dictates, logging after each), and
the log record extended with the IT state (CPSR bits [26:25], [15:10]) that
MRS already returns.
"""

NAME = "thumb"
DESCRIPTION = "T32 (Thumb-2) with IT blocks -- planned"
IMPLEMENTED = False
