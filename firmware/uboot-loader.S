/*
 * uboot-loader.S — the first instructions of the U-Boot flash image that
 * tools/uboot-flash makes: what ARM's boot monitor does on the real board.
 * The CPU starts at address 0, which shows NOR flash 0; U-Boot's image is
 * in the flash's second 256 KiB block. Copy it to RAM at the address it is
 * linked for (TEXT_BASE) and jump there. Built with
 *   gcc -c -Wa,--defsym,TEXT_BASE=...,--defsym,UBOOT_SIZE=... uboot-loader.S
 */
    .arm
    .text
    .globl _start
_start:
    mov     r0, #0x40000            @ U-Boot in flash, through the alias at 0
    ldr     r1, text_base
    ldr     r2, size
copy:
    ldmia   r0!, {r3-r10}
    stmia   r1!, {r3-r10}
    subs    r2, r2, #32
    bgt     copy
    dsb
    isb
    ldr     pc, text_base

text_base:
    .word   TEXT_BASE
size:
    .word   UBOOT_SIZE
