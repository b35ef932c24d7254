/*
 * ldm.c — load/store multiple.
 *
 * LDM/STM in the IA, IB, DA and DB modes, with and without writeback, on a
 * buffer of known words; PUSH/POP; the base register in the list (without
 * writeback, where it is defined); LDM loading PC; and the user-bank forms
 * STM^ / LDM^ (executed in SVC mode and FIQ mode; the User/System-mode
 * registers are then read in System mode to see what they hold).
 * Each line shows r4-r7 after an LDM (or the buffer after an STM) and the
 * base register's final offset in words from &mem[8].
 */
#include "test.h"

static u32 mem[16] __attribute__((aligned(8)));

static void fill(void)
{
    for (u32 i = 0; i < 16; i++)
        mem[i] = 0xa0000000 | (i * 0x01010101);
}

static void dump(void)
{
    for (int i = 2; i < 15; i++)
        printf(" %08x", mem[i]);
    printf("\n");
}

#define LDM(id, text)                                                        \
    static void id(const char *name)                                         \
    {                                                                        \
        u32 b = (u32)&mem[8], out[4];                                        \
        fill();                                                              \
        __asm__ volatile("mov r4, #0\n\tmov r5, #0\n\tmov r6, #0\n\tmov r7, #0\n\t" \
                         text "\n\t"                                         \
                         "stm %[o], {r4-r7}"                                 \
                         : [b] "+&r"(b)                                      \
                         : [o] "r"(out)                                      \
                         : "r4", "r5", "r6", "r7", "memory");                \
        printf("%-24s r4-r7= %08x %08x %08x %08x base=%+d words\n", name, out[0], \
               out[1], out[2], out[3], ((int)b - (int)(u32)&mem[8]) / 4);      \
    }

#define STM(id, text)                                                        \
    static void id(const char *name)                                         \
    {                                                                        \
        u32 b = (u32)&mem[8];                                                \
        fill();                                                              \
        __asm__ volatile("ldr r4, =0x44444444\n\tldr r5, =0x55555555\n\t"   \
                         "ldr r6, =0x66666666\n\tldr r7, =0x77777777\n\t"    \
                         text                                                \
                         : [b] "+&r"(b)                                      \
                         :                                                   \
                         : "r4", "r5", "r6", "r7", "memory");                \
        printf("%-24s base=%+d words mem[2..14]=", name,                    \
               ((int)b - (int)(u32)&mem[8]) / 4);                            \
        dump();                                                              \
    }

LDM(ldmia, "ldmia %[b], {r4-r7}")
LDM(ldmib, "ldmib %[b], {r4-r7}")
LDM(ldmda, "ldmda %[b], {r4-r7}")
LDM(ldmdb, "ldmdb %[b], {r4-r7}")
LDM(ldmia_w, "ldmia %[b]!, {r4-r7}")
LDM(ldmib_w, "ldmib %[b]!, {r4-r7}")
LDM(ldmda_w, "ldmda %[b]!, {r4-r7}")
LDM(ldmdb_w, "ldmdb %[b]!, {r4-r7}")
LDM(ldm_sparse, "ldmia %[b]!, {r4, r6}")
LDM(ldm_one, "ldmdb %[b]!, {r5}")
LDM(pop, "mov r0, sp\n\tmov sp, %[b]\n\tpop {r4, r5, r7}\n\tmov %[b], sp\n\tmov sp, r0")
/* base in the list, no writeback: r4 = base, loaded from memory */
LDM(ldm_base_in, "mov r4, %[b]\n\tldmia r4, {r4-r7}")
/* LDM into PC: branch to the address loaded */
LDM(ldm_pc, "adr r0, 1f\n\tstr r0, [%[b], #4]\n\t"
            "ldmia %[b]!, {r4, pc}\n\t"
            "mov r5, #0xbad\n"
            "1:\tmov r6, #0x600d")

STM(stmia, "stmia %[b], {r4-r7}")
STM(stmib, "stmib %[b], {r4-r7}")
STM(stmda, "stmda %[b], {r4-r7}")
STM(stmdb, "stmdb %[b], {r4-r7}")
STM(stmia_w, "stmia %[b]!, {r4-r7}")
STM(stmib_w, "stmib %[b]!, {r4-r7}")
STM(stmda_w, "stmda %[b]!, {r4-r7}")
STM(stmdb_w, "stmdb %[b]!, {r4-r7}")
STM(stm_sparse, "stmdb %[b]!, {r4, r7}")
STM(push, "mov r0, sp\n\tmov sp, %[b]\n\tpush {r5, r6}\n\tmov %[b], sp\n\tmov sp, r0")
/* base in the list, no writeback: the original base value is stored
 * (mem[9] is then rewritten as stored value - base, i.e. 0) */
STM(stm_base_in, "mov r5, %[b]\n\tstmia r5, {r4-r7}\n\t"
                 "ldr r4, [r5, #4]\n\tsub r4, r4, %[b]\n\tstr r4, [r5, #4]")

/* User-bank transfers. SP_usr/LR_usr are set in System mode first and
 * restored at the end (they are the System-mode stack this program uses
 * for User-mode code). */
static void user_bank(void)
{
    u32 out[8];
    fill();
    __asm__ volatile(
        "cps #0x1f\n\t"
        "mov r4, sp\n\tmov r5, lr\n\t"        /* save SP_usr, LR_usr */
        "ldr sp, =0x5b5b5b5b\n\tldr lr, =0x1e1e1e1e\n\t"
        "cps #0x13\n\t"
        "stmia %[b], {sp, lr}^\n\t"           /* stores the User-mode pair */
        "add r0, %[b], #8\n\t"
        "stmia r0, {sp, lr}\n\t"              /* the SVC-mode pair, for contrast */
        "add r0, %[b], #32\n\t"
        "ldmia r0, {sp, lr}^\n\t"             /* loads mem[8], mem[9] into SP_usr/LR_usr */
        "nop\n\t"
        "cps #0x1f\n\t"
        "str sp, [%[o], #0]\n\tstr lr, [%[o], #4]\n\t"
        "mov sp, r4\n\tmov lr, r5\n\t"
        "cps #0x13\n\t"
        : : [b] "r"(mem), [o] "r"(out) : "r0", "r4", "r5", "memory");
    printf("stmia {sp,lr}^ in svc      -> %08x %08x\n", mem[0], mem[1]);
    printf("stmia {sp,lr} in svc       -> %s\n",
           (mem[2] != mem[0] && mem[3] != mem[1]) ? "svc bank (differs)" : "SAME AS USER BANK");
    printf("ldmia {sp,lr}^ then in sys -> %08x %08x\n", out[0], out[1]);

    /* In FIQ mode, r8-r12 are banked too: STM^ stores the User-mode ones. */
    fill();
    __asm__ volatile(
        "ldr r8, =0x88888888\n\tldr r9, =0x99999999\n\tldr r10, =0xaaaaaaaa\n\t"
        "ldr r11, =0xbbbbbbbb\n\tldr r12, =0xcccccccc\n\t"
        "cps #0x11\n\t"
        "push {r8-r12}\n\t"                   /* keep FIQ's own r8-r12 */
        "ldr r8, =0xf8f8f8f8\n\tldr r9, =0xf9f9f9f9\n\tldr r10, =0xfafafafa\n\t"
        "ldr r11, =0xfbfbfbfb\n\tldr r12, =0xfcfcfcfc\n\t"
        "stmia %[b], {r8-r12}^\n\t"           /* User-mode r8-r12 */
        "add r0, %[b], #20\n\t"
        "stmia r0, {r8-r12}\n\t"              /* FIQ-mode r8-r12 */
        "pop {r8-r12}\n\t"
        "cps #0x13\n\t"
        : : [b] "r"(mem) : "r0", "r8", "r9", "r10", "r11", "r12", "memory");
    printf("fiq stmia {r8-r12}^        ->");
    for (int i = 0; i < 5; i++)
        printf(" %08x", mem[i]);
    printf("\nfiq stmia {r8-r12}         ->");
    for (int i = 5; i < 10; i++)
        printf(" %08x", mem[i]);
    printf("\n");
}

#define RUN(id) id(#id)

int main(void)
{
    fill();
    printf("mem[2..14] =");
    dump();
    RUN(ldmia); RUN(ldmib); RUN(ldmda); RUN(ldmdb);
    RUN(ldmia_w); RUN(ldmib_w); RUN(ldmda_w); RUN(ldmdb_w);
    RUN(ldm_sparse); RUN(ldm_one); RUN(pop); RUN(ldm_base_in); RUN(ldm_pc);
    RUN(stmia); RUN(stmib); RUN(stmda); RUN(stmdb);
    RUN(stmia_w); RUN(stmib_w); RUN(stmda_w); RUN(stmdb_w);
    RUN(stm_sparse); RUN(push); RUN(stm_base_in);
    user_bank();
    return 0;
}
