/*
 * excl.c — exclusive access and swap.
 *
 * LDREX/STREX, LDREXB/STREXB, LDREXH/STREXH, LDREXD/STREXD: a store
 * exclusive after a matching load exclusive succeeds (status 0) and
 * writes; one without (fresh after CLREX, after a CLREX between the pair,
 * or a second STREX after a successful one) fails (status 1) and leaves
 * memory alone. SWP/SWPB (enabled with SCTLR.SW, bit 10, as the Cortex-A9
 * and A15 with the Multiprocessing Extensions require) swap a register
 * with memory, including the Rt == Rt2 form.
 * Cases whose outcome ARMv7 leaves IMPLEMENTATION DEFINED (STREX to a
 * different address than the LDREX, an ordinary store between the pair)
 * are deliberately not tested.
 */
#include "test.h"

static u32 word[4] __attribute__((aligned(16)));

static void fill(void)
{
    word[0] = 0x11223344;
    word[1] = 0x55667788;
    word[2] = 0x99aabbcc;
    word[3] = 0xddeeff00;
}

static void show(const char *name, u32 loaded, u32 status)
{
    printf("%-28s loaded=%08x status=%u mem= %08x %08x %08x %08x\n", name, loaded, status,
           word[0], word[1], word[2], word[3]);
}

/* EX(name, asm): asm leaves the loaded value in %[v], the STREX status in
 * %[s]; %[a] = &word[0] (+ offset in the asm), %[n] = new value. */
#define EX(name, text)                                                       \
    do {                                                                     \
        u32 v = 0, s = 0xff;                                                 \
        fill();                                                              \
        __asm__ volatile(text                                                \
                         : [v] "+&r"(v), [s] "+&r"(s)                        \
                         : [a] "r"(word), [n] "r"(0xcafef00d)                \
                         : "r2", "r3", "r4", "r5", "memory");                \
        show(name, v, s);                                                    \
    } while (0)

int main(void)
{
    EX("ldrex/strex", "ldrex %[v], [%[a]]\n\tstrex %[s], %[n], [%[a]]");
    EX("ldrex/strex +4", "add r2, %[a], #4\n\tldrex %[v], [r2]\n\tstrex %[s], %[n], [r2]");
    EX("clrex; strex", "clrex\n\tstrex %[s], %[n], [%[a]]");
    EX("ldrex; clrex; strex", "ldrex %[v], [%[a]]\n\tclrex\n\tstrex %[s], %[n], [%[a]]");
    EX("ldrex; strex; strex",
       "ldrex %[v], [%[a]]\n\tstrex %[s], %[n], [%[a]]\n\t"
       "add r2, %[a], #0\n\tmov r3, #0x77\n\tstrex r4, r3, [r2]\n\t"
       "add %[s], %[s], r4, lsl #4"); /* status = first + 16 * second */
    EX("ldrexb/strexb +1", "add r2, %[a], #1\n\tldrexb %[v], [r2]\n\tstrexb %[s], %[n], [r2]");
    EX("ldrexb/strexb +3", "add r2, %[a], #3\n\tldrexb %[v], [r2]\n\tstrexb %[s], %[n], [r2]");
    EX("ldrexh/strexh +2", "add r2, %[a], #2\n\tldrexh %[v], [r2]\n\tstrexh %[s], %[n], [r2]");
    EX("ldrexh/strexh +6", "add r2, %[a], #6\n\tldrexh %[v], [r2]\n\tstrexh %[s], %[n], [r2]");
    EX("clrex; strexh", "clrex\n\tstrexh %[s], %[n], [%[a]]");
    EX("ldrexd/strexd +8 (v=hi^lo)",
       "add r5, %[a], #8\n\tldrexd r2, r3, [r5]\n\teor %[v], r2, r3\n\t"
       "mov r2, %[n]\n\tmvn r3, %[n]\n\tstrexd %[s], r2, r3, [r5]");
    EX("clrex; strexd", "clrex\n\tmov r2, #1\n\tmov r3, #2\n\tstrexd %[s], r2, r3, [%[a]]");

    /* SWP/SWPB */
    write_sctlr(read_sctlr() | (1u << 10));
    EX("swp", "mov %[s], #0\n\tswp %[v], %[n], [%[a]]");
    EX("swp +4 rt==rt2", "add r2, %[a], #4\n\tmov r3, %[n]\n\tswp r3, r3, [r2]\n\tmov %[v], r3\n\t"
                         "mov %[s], #0");
    EX("swpb +1", "mov %[s], #0\n\tadd r2, %[a], #1\n\tswpb %[v], %[n], [r2]");
    EX("swpb +7 rt==rt2", "add r2, %[a], #7\n\tmvn r3, #0\n\tswpb r3, r3, [r2]\n\tmov %[v], r3\n\t"
                          "mov %[s], #0");
    return 0;
}
