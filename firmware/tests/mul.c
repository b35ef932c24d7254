/*
 * mul.c — 32- and 64-bit multiplies.
 *
 * MUL/MULS, MLA/MLAS, MLS, UMULL/UMULLS, UMLAL/UMLALS, SMULL/SMULLS,
 * SMLAL/SMLALS and UMAAL on all pairs of 0, 1, 0x7fffffff, 0x80000000,
 * 0xffffffff, 0x12345678, with several accumulators. Flag-setting forms
 * run with both flag-in patterns: they set N and Z and leave C and V alone.
 * Line format (32-bit):  insn Rn Rm Ra flags-in -> Rd flags-out
 *             (64-bit):  insn Rn Rm hi:lo-in flags-in -> hi:lo flags-out
 */
#include "test.h"

static const u32 vals[] = { 0, 1, 0x7fffffff, 0x80000000, 0xffffffff, 0x12345678 };
static const u32 accs[] = { 0, 0xffffffff, 0x80000000 };
static const u32 acc64[][2] = { { 0, 0 }, { 0xffffffff, 0xffffffff }, { 0x9abcdef0, 0x12345678 } };
static const u32 fins[2] = { FIN0, FIN1 };

typedef u32 (*fn32)(u32 n, u32 m, u32 a, u32 fin, u32 *psr);
typedef void (*fn64)(u32 n, u32 m, u32 *lo, u32 *hi, u32 fin, u32 *psr);

#define DEF32(id, text)                                                      \
    static u32 id(u32 n, u32 m, u32 a, u32 fin, u32 *psr)                    \
    {                                                                        \
        u32 d, p;                                                            \
        ASM_OP(text, d, n, m, a, fin, p);                                    \
        *psr = p;                                                            \
        return d;                                                            \
    }
#define DEF64(id, text)                                                      \
    static void id(u32 n, u32 m, u32 *lo, u32 *hi, u32 fin, u32 *psr)        \
    {                                                                        \
        u32 l = *lo, h = *hi, p;                                             \
        ASM_OP64(text, l, h, n, m, fin, p);                                  \
        *lo = l;                                                             \
        *hi = h;                                                             \
        *psr = p;                                                            \
    }

DEF32(f_mul, "mul %[d], %[n], %[m]")
DEF32(f_muls, "muls %[d], %[n], %[m]")
DEF32(f_mla, "mla %[d], %[n], %[m], %[a]")
DEF32(f_mlas, "mlas %[d], %[n], %[m], %[a]")
DEF32(f_mls, "mls %[d], %[n], %[m], %[a]")
DEF64(f_umull, "umull %[lo], %[hi], %[n], %[m]")
DEF64(f_umulls, "umulls %[lo], %[hi], %[n], %[m]")
DEF64(f_umlal, "umlal %[lo], %[hi], %[n], %[m]")
DEF64(f_umlals, "umlals %[lo], %[hi], %[n], %[m]")
DEF64(f_smull, "smull %[lo], %[hi], %[n], %[m]")
DEF64(f_smulls, "smulls %[lo], %[hi], %[n], %[m]")
DEF64(f_smlal, "smlal %[lo], %[hi], %[n], %[m]")
DEF64(f_smlals, "smlals %[lo], %[hi], %[n], %[m]")
DEF64(f_umaal, "umaal %[lo], %[hi], %[n], %[m]")

static const struct {
    const char *name;
    fn32 fn;
    int acc, sets_flags;
} ops32[] = {
    { "mul", f_mul, 0, 0 }, { "muls", f_muls, 0, 1 }, { "mla", f_mla, 1, 0 },
    { "mlas", f_mlas, 1, 1 }, { "mls", f_mls, 1, 0 },
};

static const struct {
    const char *name;
    fn64 fn;
    int acc, sets_flags;
} ops64[] = {
    { "umull", f_umull, 0, 0 }, { "umulls", f_umulls, 0, 1 }, { "umlal", f_umlal, 1, 0 },
    { "umlals", f_umlals, 1, 1 }, { "smull", f_smull, 0, 0 }, { "smulls", f_smulls, 0, 1 },
    { "smlal", f_smlal, 1, 0 }, { "smlals", f_smlals, 1, 1 }, { "umaal", f_umaal, 1, 0 },
};

int main(void)
{
    for (u32 o = 0; o < ARRAY_SIZE(ops32); o++)
        for (u32 i = 0; i < ARRAY_SIZE(vals); i++)
            for (u32 j = 0; j < ARRAY_SIZE(vals); j++)
                for (u32 a = 0; a < (ops32[o].acc ? ARRAY_SIZE(accs) : 1); a++)
                    for (int f = ops32[o].sets_flags ? 0 : 1; f < 2; f++) {
                        u32 psr, d = ops32[o].fn(vals[i], vals[j], accs[a], fins[f], &psr);
                        printf("%-6s %08x %08x %08x %s -> %08x %s\n", ops32[o].name, vals[i],
                               vals[j], ops32[o].acc ? accs[a] : 0, fl(fins[f]), d, fl(psr));
                    }

    for (u32 o = 0; o < ARRAY_SIZE(ops64); o++)
        for (u32 i = 0; i < ARRAY_SIZE(vals); i++)
            for (u32 j = 0; j < ARRAY_SIZE(vals); j++)
                for (u32 a = 0; a < (ops64[o].acc ? ARRAY_SIZE(acc64) : 1); a++)
                    for (int f = ops64[o].sets_flags ? 0 : 1; f < 2; f++) {
                        /* non-accumulating forms get garbage in: it must be ignored */
                        u32 lo = ops64[o].acc ? acc64[a][0] : 0xdeadbeef;
                        u32 hi = ops64[o].acc ? acc64[a][1] : 0xcafef00d;
                        u32 lo_in = lo, hi_in = hi, psr;
                        ops64[o].fn(vals[i], vals[j], &lo, &hi, fins[f], &psr);
                        printf("%-6s %08x %08x %08x:%08x %s -> %08x:%08x %s\n", ops64[o].name,
                               vals[i], vals[j], hi_in, lo_in, fl(fins[f]), hi, lo, fl(psr));
                    }
    return 0;
}
