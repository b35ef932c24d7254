/*
 * start.S — reset code for the VFP oracle harness (see README.md here).
 * Sets up a stack, enables cp10/cp11 (CPACR) and the FPU (FPEXC.EN),
 * calls main() and exits through semihosting with its return value.
 * Any other exception prints its kind and exits with status 100 + kind.
 */
        .syntax unified
        .arm
        .fpu    vfpv4

        .section .vectors, "ax"
        .global _start
_start:
        b       reset
        b       undef
        b       other
        b       other
        b       other
        b       other
        b       other
        b       other

        .text
reset:
        cpsid   aif
        ldr     r0, =_start
        mcr     p15, 0, r0, c12, c0, 0  @ VBAR
        mrc     p15, 0, r0, c1, c0, 0
        bic     r0, r0, #(1 << 13)      @ SCTLR.V = 0
        mcr     p15, 0, r0, c1, c0, 0
        ldr     sp, =__stack_top
        mrc     p15, 0, r0, c1, c0, 2
        orr     r0, r0, #(0xf << 20)    @ CPACR: cp10, cp11 full access
        mcr     p15, 0, r0, c1, c0, 2
        isb
        mov     r0, #0x40000000         @ FPEXC.EN
        vmsr    fpexc, r0
        ldr     r0, =__bss_start
        ldr     r1, =__bss_end
        mov     r2, #0
1:      cmp     r0, r1
        strlo   r2, [r0], #4
        blo     1b
        bl      main
        b       do_exit

undef:  mov     r0, #101
        b       do_exit
other:  mov     r0, #102
do_exit:
        ldr     r1, =exit_block
        str     r0, [r1, #4]
        mov     r0, #0x20               @ SYS_EXIT_EXTENDED
        svc     0x123456
        b       .

        .data
exit_block:
        .word   0x20026, 0
