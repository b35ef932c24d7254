/*
 * start.S — vector table, reset code and exception entry stubs.
 *
 * The image starts with the ARM vector table (the ELF entry point is its
 * first word, the reset vector). Emulators start us at the entry point in
 * SVC mode, MMU off, IRQ/FIQ masked. Reset code:
 *   1. points VBAR at the table and clears SCTLR.V (so the vectors at the
 *      image start are used, not 0x00000000 or 0xffff0000);
 *   2. gives each mode (FIQ, IRQ, ABT, UND, SYS/USR, SVC) its own stack,
 *      placed by link.ld after the image;
 *   3. zeroes .bss, calls main() in SVC mode with A, I and F masked, and
 *      exits via SYS_EXIT_EXTENDED with main's return value.
 * This file is always assembled as ARM code (exceptions are taken in ARM
 * state because SCTLR.TE = 0), even when the C code is built as Thumb.
 */
        .syntax unified
        .arm

        .equ    MODE_FIQ, 0x11
        .equ    MODE_IRQ, 0x12
        .equ    MODE_SVC, 0x13
        .equ    MODE_MON, 0x16
        .equ    MODE_ABT, 0x17
        .equ    MODE_UND, 0x1b
        .equ    MODE_SYS, 0x1f

        .section .vectors, "ax"
        .global _start
        .global _vectors
_vectors:
_start:
        b       reset_entry             @ 0x00 reset
        b       undef_entry             @ 0x04 undefined instruction
        b       svc_entry               @ 0x08 supervisor call
        b       pabt_entry              @ 0x0c prefetch abort (and BKPT)
        b       dabt_entry              @ 0x10 data abort
        b       hyp_entry               @ 0x14 not used (Hyp trap)
        b       irq_entry               @ 0x18 IRQ
        b       fiq_entry               @ 0x1c FIQ

        .text
reset_entry:
        cpsid   aif, #MODE_SVC

        ldr     r0, =_vectors
        mcr     p15, 0, r0, c12, c0, 0  @ VBAR = _vectors
        mrc     p15, 0, r0, c1, c0, 0   @ SCTLR
        bic     r0, r0, #(1 << 13)      @ V = 0: use VBAR
        mcr     p15, 0, r0, c1, c0, 0
        isb

        cps     #MODE_FIQ
        ldr     sp, =__stack_fiq_top
        cps     #MODE_IRQ
        ldr     sp, =__stack_irq_top
        cps     #MODE_ABT
        ldr     sp, =__stack_abt_top
        cps     #MODE_UND
        ldr     sp, =__stack_und_top
        cps     #MODE_SYS
        ldr     sp, =__stack_sys_top
        cps     #MODE_SVC
        ldr     sp, =__stack_svc_top

        ldr     r0, =__bss_start
        ldr     r1, =__bss_end
        mov     r2, #0
1:      cmp     r0, r1
        strlo   r2, [r0], #4
        blo     1b

        bl      main
        bl      exit                    @ exit(main's return value)
        b       .

/*
 * Exception entry: build a struct exc_frame (exc.h) on this mode's stack:
 *   [sp+0] CPSR in the handler, [sp+4] SPSR, [sp+8..] r0-r12, [sp+60] LR
 * call exc_dispatch(kind, frame), then restore and return to frame.lr with
 * CPSR = frame.spsr. The frame is 64 bytes, keeping sp 8-byte aligned.
 */
        .macro  EXC_STUB name, kind
\name:
        stmfd   sp!, {r0-r12, lr}
        mrs     r0, spsr
        mrs     r1, cpsr
        stmfd   sp!, {r0}
        stmfd   sp!, {r1}
        mov     r0, #\kind
        mov     r1, sp
        bl      exc_dispatch
        add     sp, sp, #4              @ drop the CPSR word
        ldmfd   sp!, {r0}
        msr     spsr_cxsf, r0
        ldmfd   sp!, {r0-r12, pc}^      @ exception return
        .endm

        EXC_STUB undef_entry, 1
        EXC_STUB svc_entry, 2
        EXC_STUB pabt_entry, 3
        EXC_STUB dabt_entry, 4
        EXC_STUB hyp_entry, 5
        EXC_STUB irq_entry, 6
        EXC_STUB fiq_entry, 7

/*
 * Monitor mode (Security Extensions). Not set up at reset, so programs
 * that never touch Monitor mode do not depend on it: a test calls
 * exc_monitor_init() to point MVBAR at this table and give Monitor mode a
 * stack. MVBAR + 0x08 is SMC; + 0x0c/0x10/0x18/0x1c are prefetch abort,
 * data abort, IRQ and FIQ when SCR.EA/IRQ/FIQ route them to Monitor mode.
 * Kinds are 8 + offset / 4 (exc.h: EXC_SMC = 10, ...).
 */
        .balign 32
        .global _mon_vectors
_mon_vectors:
        b       mon_unused0_entry       @ 0x00 not used
        b       mon_unused1_entry       @ 0x04 not used
        b       smc_entry               @ 0x08 secure monitor call
        b       mon_pabt_entry          @ 0x0c prefetch abort (SCR.EA)
        b       mon_dabt_entry          @ 0x10 data abort (SCR.EA)
        b       mon_unused5_entry       @ 0x14 not used
        b       mon_irq_entry           @ 0x18 IRQ (SCR.IRQ)
        b       mon_fiq_entry           @ 0x1c FIQ (SCR.FIQ)

        EXC_STUB mon_unused0_entry, 8
        EXC_STUB mon_unused1_entry, 9
        EXC_STUB smc_entry, 10
        EXC_STUB mon_pabt_entry, 11
        EXC_STUB mon_dabt_entry, 12
        EXC_STUB mon_unused5_entry, 13
        EXC_STUB mon_irq_entry, 14
        EXC_STUB mon_fiq_entry, 15

        .global exc_monitor_init
exc_monitor_init:
        ldr     r0, =_mon_vectors
        mcr     p15, 0, r0, c12, c0, 1  @ MVBAR
        mrs     r1, cpsr
        cps     #MODE_MON
        ldr     sp, =__stack_mon_top
        msr     cpsr_c, r1
        isb
        bx      lr

        .ltorg
