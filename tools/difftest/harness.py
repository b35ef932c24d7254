"""The bare-metal harness around the random instructions.

Memory map (vexpress-a9 RAM starts at 0x60000000):

    0x60000000  .text   harness code, then the random body
    0x60800000  .data   data buffer (4 KiB, random), then the harness data
    0x61000000  log     one record per step, written through SP
    0x62000000  text    the hex dump built at the end, written out at once

Flow: set VBAR to our own vectors (an unexpected exception is reported, not
a hang), set SCTLR.SW (SWP/SWPB are UNDEFINED on a v7MP core without it),
CLREX, SP = log pointer.  The body then switches to its instruction set
(ISA module's body_enter_asm), loads the initial flags and registers
(init_asm), logs record 0, and for every random instruction (or unit of
instructions logged together, such as a Thumb IT block): its setup
MOVW/MOVTs, the instruction(s), a log record; body_leave_asm returns to ARM
state and jumps to `finish`, which prints, through semihosting SYS_WRITE to
":tt", the text

    LOG
    <record 0: one hex word per state field, space separated>
    ...
    MEM
    <data buffer, 8 words per line>
    [EXC
    <vector number, LR, SPSR, DFSR, DFAR>]
    END

and SYS_EXIT with ADP_Stopped_ApplicationExit (exit status 0), or with
ADP_Stopped_RunTimeErrorUnknown (status 1) after an exception.

The harness code before the body has a fixed size, so a program's first k
instructions sit at the same addresses whatever its length (used when
bisecting).

The log pointer is SP for the arm ISA.  ISAs that test SP itself (thumb,
vfp) keep it in TPIDRURW instead (see isa/common.py) and set LOG_END_ASM,
the line that puts the end of the log in r4 for `finish`.
"""

from __future__ import annotations

TEXT_BASE = 0x60000000
BUF_BASE = 0x60800000
BUF_SIZE = 4096
LOG_BASE = 0x61000000
HEX_BASE = 0x62000000
LOG_LIMIT = HEX_BASE - LOG_BASE

LINKER_SCRIPT = f"""\
ENTRY(_start)
SECTIONS
{{
  . = 0x{TEXT_BASE:08x};
  .text : {{ *(.text.start) *(.text*) }}
  . = 0x{BUF_BASE:08x};
  .data : {{ *(.data.buf) *(.data*) }}
}}
"""

PROLOGUE = """\
    .syntax unified
    .arch armv7-a
    .arm

    .macro ldaddr reg, sym
    movw \\reg, #:lower16:\\sym
    movt \\reg, #:upper16:\\sym
    .endm

    .equ LOG_BASE, 0x{log:08x}
    .equ HEX_BASE, 0x{hex:08x}
    .equ BUF_SIZE, {bufsize}
    .equ RECORD_WORDS, {record_words}

    .section .text.start, "ax"
    .global _start
_start:
    ldaddr r0, vectors
    mcr p15, 0, r0, c12, c0, 0      @ VBAR = our vector table
    mrc p15, 0, r0, c1, c0, 0       @ SCTLR
    orr r0, r0, #(1 << 10)          @ SW: enable SWP/SWPB
    bic r0, r0, #(1 << 13)          @ V=0: vectors at VBAR
    mcr p15, 0, r0, c1, c0, 0
    isb
    clrex                           @ local monitor Open
    ldaddr sp, LOG_BASE
    b body

@ ---- unexpected exceptions: record vector, LR, SPSR, DFSR, DFAR, dump ----
    .balign 32
vectors:
    b exc_reset
    b exc_und
    b exc_svc
    b exc_pabt
    b exc_dabt
    b exc_hyp
    b exc_irq
    b exc_fiq
@ SP is banked in the exception modes and free to use; in SVC mode it is
@ the log pointer, so the SVC-mode vectors use r0 instead.
exc_reset: mov r0, #0
    b exc_svc_mode
exc_svc:   mov r0, #2
    b exc_svc_mode
exc_und:   mov sp, #1
    b exc_banked
exc_pabt:  mov sp, #3
    b exc_banked
exc_dabt:  mov sp, #4
    b exc_banked
exc_hyp:   mov sp, #5
    b exc_banked
exc_irq:   mov sp, #6
    b exc_banked
exc_fiq:   mov sp, #7
    b exc_banked
exc_banked:
    mov r0, sp
exc_svc_mode:
    mov r1, lr
    mrs r2, spsr
    mrc p15, 0, r3, c5, c0, 0       @ DFSR
    mrc p15, 0, r4, c6, c0, 0       @ DFAR
    cps #0x13                       @ back to SVC: SP is the log pointer
    ldaddr r5, exc_info
    mov r6, #1
    str r6, [r5], #4
    stmia r5, {{r0-r4}}
    @ fall through

@ ---- dump the log and the buffer as hex text, then exit -----------------
finish:
    {log_end}
    ldaddr r6, HEX_BASE             @ output cursor
    ldaddr r10, hexdigits
    ldaddr r0, str_log
    bl puts
    ldaddr r0, LOG_BASE
    mov r1, r4
    mov r2, #RECORD_WORDS
    bl hexwords
    ldaddr r0, str_mem
    bl puts
    ldaddr r0, data_buf
    add r1, r0, #BUF_SIZE
    mov r2, #8
    bl hexwords
    ldaddr r0, exc_info
    ldr r1, [r0]
    cmp r1, #0
    beq 1f
    ldaddr r0, str_exc
    bl puts
    ldaddr r0, exc_info
    add r0, r0, #4
    add r1, r0, #20
    mov r2, #5
    bl hexwords
1:  ldaddr r0, str_end
    bl puts
    ldaddr r1, open_args
    mov r0, #0x01                   @ SYS_OPEN(":tt", "w")
    svc 0x123456
    ldaddr r1, write_args
    str r0, [r1]
    ldaddr r2, HEX_BASE
    str r2, [r1, #4]
    sub r2, r6, r2
    str r2, [r1, #8]
    mov r0, #0x05                   @ SYS_WRITE
    svc 0x123456
    ldaddr r0, exc_info
    ldr r0, [r0]
    cmp r0, #0
    movw r1, #0x0026                @ ADP_Stopped_ApplicationExit
    movwne r1, #0x0023              @ ADP_Stopped_RunTimeErrorUnknown
    movt r1, #0x0002
    mov r0, #0x18                   @ SYS_EXIT
    svc 0x123456
    b .

@ puts: copy the NUL-terminated string at r0 to the cursor r6.
puts:
    ldrb r3, [r0], #1
    cmp r3, #0
    strbne r3, [r6], #1
    bne puts
    bx lr

@ hexwords: words [r0, r1) as 8-digit hex, r2 per line, to the cursor r6.
hexwords:
    mov r3, r2
1:  cmp r0, r1
    bhs 3f
    ldr r7, [r0], #4
    mov r8, #8
2:  mov r7, r7, ror #28
    and r9, r7, #15
    ldrb r9, [r10, r9]
    strb r9, [r6], #1
    subs r8, r8, #1
    bne 2b
    subs r3, r3, #1
    moveq r3, r2
    moveq r9, #10
    movne r9, #32
    strb r9, [r6], #1
    b 1b
3:  cmp r3, r2
    movne r9, #10
    strbne r9, [r6], #1
    bx lr
    .ltorg

@ ---- the random instructions ---------------------------------------------
    .balign 16
body:
"""

DATA = """\
    b finish

    .section .data.buf, "aw"
    .balign 16
data_buf:
{buffer}
    .section .data, "aw"
    .balign 4
exc_info:   .word 0, 0, 0, 0, 0, 0
open_args:  .word tt_name, 4, 3
write_args: .word 0, 0, 0
{init_data}
tt_name:    .asciz ":tt"
str_log:    .asciz "LOG\\n"
str_mem:    .asciz "MEM\\n"
str_exc:    .asciz "EXC\\n"
str_end:    .asciz "END\\n"
hexdigits:  .ascii "0123456789abcdef"
"""


def indent(lines):
    return "\n".join("    " + l if not l.endswith(":") else l for l in lines)


DEFAULT_LOG_END = "mov r4, sp                      @ end of the log"


def program_source(isa, state: dict, buffer: list[int], insns) -> str:
    """Assembly source for a whole test program."""
    out = [PROLOGUE.format(log=LOG_BASE, hex=HEX_BASE, bufsize=BUF_SIZE,
                           record_words=len(isa.STATE_NAMES),
                           log_end=getattr(isa, "LOG_END_ASM", DEFAULT_LOG_END))]
    # Enter the body's state first (may clobber registers), then load the
    # initial state in it, then log record 0.
    body = list(isa.body_enter_asm()) + list(isa.init_asm())
    log = isa.log_asm()
    body += log
    for k, insn in enumerate(insns):
        if hasattr(isa, "insn_asm_parts"):
            # (setup lines, instruction lines): the label goes in between
            setup, code = isa.insn_asm_parts(insn)
        else:
            lines = isa.insn_asm(insn)
            setup, code = lines[:-1], lines[-1:]
        body += setup + [f"insn_{k}:"] + code + log
    body += isa.body_leave_asm()  # back in ARM state after this
    out.append(indent(body))
    words = [f"    .word 0x{buffer[i]:08x}, 0x{buffer[i + 1]:08x}, "
             f"0x{buffer[i + 2]:08x}, 0x{buffer[i + 3]:08x}"
             for i in range(0, len(buffer), 4)]
    out.append("\n" + DATA.format(buffer="\n".join(words),
                                  init_data="\n".join(isa.init_data_asm(state))))
    return "\n".join(out)
