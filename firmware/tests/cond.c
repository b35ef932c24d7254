/*
 * cond.c — condition codes.
 *
 * For each of the 16 NZCV combinations, run MOV<cond> for the 15
 * conditions EQ..AL and print which executed, as a 16-character map
 * indexed by NZCV (bit 3 = N ... bit 0 = V). Then check that a
 * flag-setting instruction whose condition fails leaves the flags and
 * its destination alone, that a conditional branch follows the same rules,
 * and that BL<cond> only writes LR when taken.
 */
#include "test.h"

#define COND(c)                                                              \
    static u32 run_##c(u32 fin)                                              \
    {                                                                        \
        u32 d, p;                                                            \
        ASM_OP("mov %[d], #0\n\tmov" #c " %[d], #1", d, 0, 0, 0, fin, p);    \
        (void)p;                                                             \
        return d;                                                            \
    }
COND(eq) COND(ne) COND(cs) COND(cc) COND(mi) COND(pl) COND(vs) COND(vc)
COND(hi) COND(ls) COND(ge) COND(lt) COND(gt) COND(le) COND(al)

static const struct {
    const char *name;
    u32 (*fn)(u32);
} conds[] = {
    { "eq", run_eq }, { "ne", run_ne }, { "cs", run_cs }, { "cc", run_cc },
    { "mi", run_mi }, { "pl", run_pl }, { "vs", run_vs }, { "vc", run_vc },
    { "hi", run_hi }, { "ls", run_ls }, { "ge", run_ge }, { "lt", run_lt },
    { "gt", run_gt }, { "le", run_le }, { "al", run_al },
};

int main(void)
{
    printf("cond  nzcv=0000..1111\n");
    for (u32 c = 0; c < ARRAY_SIZE(conds); c++) {
        char map[17];
        for (u32 f = 0; f < 16; f++)
            map[f] = conds[c].fn(f << 28) ? '1' : '0';
        map[16] = 0;
        printf("%s    %s\n", conds[c].name, map);
    }

    /* A failing ADDS must not write Rd or the flags. */
    for (u32 f = 0; f < 16; f++) {
        u32 d = 0x5555, p;
        ASM_OP_RMW("addseq %[d], %[n], %[m]", d, 0xffffffff, 1, f << 28, p);
        printf("addseq nzcv=%x%x%x%x -> %08x %s\n", f >> 3, (f >> 2) & 1, (f >> 1) & 1, f & 1,
               d, fl(p));
    }

    /* Conditional branches and BL: count taken branches per condition. */
    for (u32 f = 0; f < 16; f += 5) {
        u32 taken, lr_written, p;
        __asm__ volatile(
            "msr APSR_nzcvq, %[fi]\n\t"
            "mov %[t], #0\n\t"
            "bgt 1f\n\t"
            "orr %[t], %[t], #1\n"          /* bit 0: GT not taken */
            "1:\tbvs 2f\n\t"
            "orr %[t], %[t], #2\n"          /* bit 1: VS not taken */
            "2:\tmov lr, #0\n\t"
            "blls 3f\n\t"
            "b 4f\n"
            "3:\torr %[t], %[t], #4\n\t"    /* bit 2: BLLS taken */
            "bx lr\n"
            "4:\tmov %[l], lr\n\t"
            "mrs %[p], APSR"
            : [t] "=&r"(taken), [l] "=&r"(lr_written), [p] "=&r"(p)
            : [fi] "r"(f << 28)
            : "lr", "cc");
        printf("branches nzcv=%x: gt-not-taken=%u vs-not-taken=%u blls-taken=%u lr-set=%u %s\n",
               f, taken & 1, (taken >> 1) & 1, (taken >> 2) & 1, lr_written != 0, fl(p));
    }
    return 0;
}
