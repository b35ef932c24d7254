/*
 * psr.c — status registers, processor modes and banked registers.
 *
 *  - MRS/MSR on APSR: the nzcvq, g and nzcvqg masks, register and
 *    immediate forms; only the selected bits may change;
 *  - MSR CPSR_c to every privileged mode (FIQ, IRQ, ABT, UND, SYS, SVC):
 *    each mode's banked SP and LR, FIQ's banked r8-r12, and that System
 *    mode shares User's registers;
 *  - SPSR of each exception mode written and read back (MSR SPSR with
 *    register and immediate, field masks);
 *  - MSR CPSR_fsxc changing flags and mode at once, CPSR_x (the A bit);
 *  - CPS: CPSIE/CPSID with i, f, a and with a mode change;
 *  - exception returns that are ALU writes: MOVS PC, LR and SUBS PC, LR, #4
 *    copy SPSR to CPSR.
 * The program runs with A, I and F masked in SVC mode and restores that.
 */
#include "test.h"

static const struct {
    const char *name;
    u32 mode;
} modes[] = {
    { "fiq", MODE_FIQ }, { "irq", MODE_IRQ }, { "abt", MODE_ABT },
    { "und", MODE_UND }, { "sys", MODE_SYS }, { "svc", MODE_SVC },
};

/* APSR writes: run msr <text> with all flags first cleared (GE too),
 * print the whole CPSR after. */
#define APSR_W(text, val)                                                    \
    do {                                                                     \
        u32 c;                                                               \
        __asm__ volatile("msr APSR_nzcvqg, %[z]\n\t" text "\n\tmrs %[c], cpsr" \
                         : [c] "=&r"(c)                                      \
                         : [v] "r"(val), [z] "r"(0)                          \
                         : "cc");                                            \
        printf("%-32s -> cpsr=%08x\n", text, c);                             \
    } while (0)

static void apsr(void)
{
    APSR_W("msr APSR_nzcvq, %[v]", 0xffffffff);
    APSR_W("msr APSR_g, %[v]", 0xffffffff);
    APSR_W("msr APSR_nzcvqg, %[v]", 0xffffffff);
    APSR_W("msr APSR_nzcvqg, %[v]", 0xa50a5a5a);
    APSR_W("msr APSR_nzcvq, #0x50000000", 0);
    APSR_W("msr APSR_g, #0x00030000", 0);
    APSR_W("msr CPSR_f, %[v]", 0x98765432);
    APSR_W("msr CPSR_s, %[v]", 0x98765432);
}

/* Visit each mode with MSR CPSR_c, leave a mark in SP, LR (and r8-r12 in
 * FIQ mode) derived from the mode number, then visit again to read them
 * all back. SP of each mode is saved and restored around this. */
static void banked(void)
{
    static u32 saved_sp[6], got[6][7];
    /* r8-r12 of SVC (= User's) set to known values first */
    __asm__ volatile(
        "mrs r0, cpsr\n\t"
        "ldr r8, =0x08080808\n\tldr r9, =0x09090909\n\tldr r10, =0x0a0a0a0a\n\t"
        "ldr r11, =0x0b0b0b0b\n\tldr r12, =0x0c0c0c0c\n\t"
        "mov r2, #0\n"
        "1:\tldrb r1, [%[m], r2, lsl #3]\n\t"       /* modes[i].mode (8-byte entries) */
        "add r1, %[m], r2, lsl #3\n\t"
        "ldr r1, [r1, #4]\n\t"
        "orr r1, r1, #0xc0\n\t"                      /* keep I and F masked */
        "msr cpsr_c, r1\n\t"
        "str sp, [%[s], r2, lsl #2]\n\t"
        "orr sp, r1, r1, lsl #16\n\t"                /* SP = mode | mode << 16 */
        "mvn lr, sp\n\t"                             /* LR = ~SP */
        "cmp r1, #0xd1\n\t"                          /* FIQ: mark r8-r12 too */
        "ldreq r8, =0xf8f8f8f8\n\tldreq r9, =0xf9f9f9f9\n\tldreq r10, =0xfafafafa\n\t"
        "ldreq r11, =0xfbfbfbfb\n\tldreq r12, =0xfcfcfcfc\n\t"
        "add r2, r2, #1\n\t"
        "cmp r2, #5\n\t"                             /* not SVC: its SP is ours */
        "blt 1b\n\t"
        "msr cpsr_c, r0\n\t"
        /* second pass: read SP, LR, r8-r12 in each mode */
        "mov r2, #0\n"
        "2:\tadd r1, %[m], r2, lsl #3\n\t"
        "ldr r1, [r1, #4]\n\t"
        "orr r1, r1, #0xc0\n\t"
        "msr cpsr_c, r1\n\t"
        "mov r3, #28\n\t"
        "mul r3, r2, r3\n\t"
        "add r3, %[g], r3\n\t"
        "cmp r2, #5\n\t"
        "moveq r4, #0\n\t"                           /* SVC: SP not marked */
        "movne r4, sp\n\t"
        "stm r3, {r4, lr}\n\t"
        "add r3, r3, #8\n\t"
        "stm r3, {r8-r12}\n\t"
        "ldrne sp, [%[s], r2, lsl #2]\n\t"           /* restore this mode's SP */
        "add r2, r2, #1\n\t"
        "cmp r2, #6\n\t"
        "blt 2b\n\t"
        "msr cpsr_c, r0\n\t"
        :
        : [m] "r"(modes), [s] "r"(saved_sp), [g] "r"(got)
        : "r0", "r1", "r2", "r3", "r4", "r8", "r9", "r10", "r11", "r12", "lr", "cc",
          "memory");
    for (int i = 0; i < 6; i++) {
        /* SVC's LR is whatever the compiler left there: don't print it */
        printf("%s: sp=%08x lr=%08x r8-r12=", modes[i].name, got[i][0],
               i == 5 ? 0 : got[i][1]);
        for (int r = 2; r < 7; r++)
            printf(" %08x", got[i][r]);
        printf("\n");
    }
}

/* SPSR of each exception mode: write mode-specific values, read back all. */
static void spsrs(void)
{
    static u32 got[5];
    __asm__ volatile(
        "mrs r0, cpsr\n\t"
        "cps #0x11\n\tldr r1, =0x10000010\n\tmsr spsr_cxsf, r1\n\t"
        "cps #0x12\n\tldr r1, =0x200f0011\n\tmsr spsr_cxsf, r1\n\t"
        "cps #0x17\n\tldr r1, =0x40000013\n\tmsr spsr_cxsf, r1\n\t"
        "cps #0x1b\n\tldr r1, =0x800001df\n\tmsr spsr_cxsf, r1\n\t"
        "cps #0x13\n\tldr r1, =0xf80000d3\n\tmsr spsr_cxsf, r1\n\t"
        "cps #0x11\n\tmrs r1, spsr\n\tstr r1, [%[g], #0]\n\t"
        "cps #0x12\n\tmrs r1, spsr\n\tstr r1, [%[g], #4]\n\t"
        "cps #0x17\n\tmrs r1, spsr\n\tstr r1, [%[g], #8]\n\t"
        "cps #0x1b\n\tmrs r1, spsr\n\tstr r1, [%[g], #12]\n\t"
        "cps #0x13\n\tmrs r1, spsr\n\tstr r1, [%[g], #16]\n\t"
        "msr cpsr_c, r0\n\t"
        :
        : [g] "r"(got)
        : "r0", "r1", "memory");
    printf("spsr fiq=%08x irq=%08x abt=%08x und=%08x svc=%08x\n", got[0], got[1], got[2],
           got[3], got[4]);

    /* Field masks and the immediate form on SPSR_svc. (J, bit 24, is left
     * clear: whether it is writable depends on Jazelle support.) */
    u32 a, b, c;
    __asm__ volatile(
        "mov r1, #0\n\tmsr spsr_cxsf, r1\n\t"
        "ldr r1, =0xf8ffffff\n\tmsr spsr_f, r1\n\tmrs %[a], spsr\n\t"
        "msr spsr_c, #0x1f\n\tmrs %[b], spsr\n\t"
        "ldr r1, =0x0000ff00\n\tmsr spsr_x, r1\n\tmsr spsr_s, #0x000f0000\n\tmrs %[c], spsr"
        : [a] "=&r"(a), [b] "=&r"(b), [c] "=&r"(c)
        :
        : "r1");
    printf("spsr_f=f8..: %08x  then spsr_c=#0x1f: %08x  then spsr_x, spsr_s: %08x\n", a, b, c);
}

/* MSR CPSR_fsxc and CPSR_x with a register. */
static void cpsr_fields(void)
{
    u32 c1, c2, c3;
    __asm__ volatile(
        "mrs r0, cpsr\n\t"
        "ldr r1, =0x600f01df\n\t"                    /* ZC, GE=1111, A I F, SYS */
        "msr cpsr_fsxc, r1\n\t"
        "mrs %[c1], cpsr\n\t"
        "mov r1, #0\n\t"
        "msr cpsr_x, r1\n\t"                         /* clears A (bit 8) only */
        "mrs %[c2], cpsr\n\t"
        "mov r1, #0x100\n\t"
        "msr cpsr_x, r1\n\t"
        "mrs %[c3], cpsr\n\t"
        "msr cpsr_fsxc, r0\n\t"
        : [c1] "=&r"(c1), [c2] "=&r"(c2), [c3] "=&r"(c3)
        :
        : "r0", "r1", "cc");
    printf("msr cpsr_fsxc 600f01df -> %08x; cpsr_x 0 -> %08x; cpsr_x 0x100 -> %08x\n", c1, c2,
           c3);
}

/* CPS forms, all in one asm block (the mode changes must not leak into
 * compiled code); the value recorded is CPSR & 0x1ff (A I F T mode). */
static void cps(void)
{
    static const char *const names[] = {
        "cpsie i", "cpsie f", "cpsie a", "cpsid if", "cpsie aif", "cpsid a",
        "cpsid aif", "cps #0x1f", "cpsie f, #0x1b", "cpsid f, #0x13",
    };
    u32 got[10];
    __asm__ volatile(
        "cpsie i\n\tmrs r1, cpsr\n\tstr r1, [%[g], #0]\n\t"
        "cpsie f\n\tmrs r1, cpsr\n\tstr r1, [%[g], #4]\n\t"
        "cpsie a\n\tmrs r1, cpsr\n\tstr r1, [%[g], #8]\n\t"
        "cpsid if\n\tmrs r1, cpsr\n\tstr r1, [%[g], #12]\n\t"
        "cpsie aif\n\tmrs r1, cpsr\n\tstr r1, [%[g], #16]\n\t"
        "cpsid a\n\tmrs r1, cpsr\n\tstr r1, [%[g], #20]\n\t"
        "cpsid aif\n\tmrs r1, cpsr\n\tstr r1, [%[g], #24]\n\t"
        "cps #0x1f\n\tmrs r1, cpsr\n\tstr r1, [%[g], #28]\n\t"
        "cpsie f, #0x1b\n\tmrs r1, cpsr\n\tstr r1, [%[g], #32]\n\t"
        "cpsid f, #0x13\n\tmrs r1, cpsr\n\tstr r1, [%[g], #36]\n\t"
        :
        : [g] "r"(got)
        : "r1", "memory");
    for (int i = 0; i < 10; i++)
        printf("%-16s -> cpsr[8:0]=%03x\n", names[i], got[i] & 0x1ff);
}

/* MOVS PC, LR and SUBS PC, LR, #4 return with CPSR = SPSR: land in System
 * mode with the flags from SPSR, then come back with CPS. */
static void alu_returns(void)
{
    u32 c1, c2, d1, d2;
    __asm__ volatile(
        "ldr r1, =0x300000df\n\t"                    /* CV, A I F, SYS */
        "msr spsr_cxsf, r1\n\t"
        "adr lr, 1f\n\t"
        "movs pc, lr\n\t"
        "b .\n"
        "1:\tmrs %[c1], cpsr\n\t"
        "mov %[d1], #1\n\t"
        "cps #0x13\n\t"
        "ldr r1, =0xc00001df\n\t"                    /* NZ, A I F, SYS */
        "msr spsr_cxsf, r1\n\t"
        "adr lr, 2f + 4\n\t"
        "subs pc, lr, #4\n\t"
        "b .\n"
        "2:\tmrs %[c2], cpsr\n\t"
        "mov %[d2], #2\n\t"
        "cps #0x13\n\t"
        : [c1] "=&r"(c1), [c2] "=&r"(c2), [d1] "=&r"(d1), [d2] "=&r"(d2)
        :
        : "r1", "lr", "cc");
    printf("movs pc, lr -> cpsr=%08x (%u); subs pc, lr, #4 -> cpsr=%08x (%u)\n", c1, d1, c2, d2);
}

int main(void)
{
    printf("cpsr at main: %08x\n", read_cpsr() & ~0xf80f0000u);
    apsr();
    banked();
    spsrs();
    cpsr_fields();
    cps();
    alu_returns();
    printf("cpsr at end: %08x\n", read_cpsr() & ~0xf80f0000u);
    return 0;
}
