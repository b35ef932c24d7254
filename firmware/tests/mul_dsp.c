/*
 * mul_dsp.c — the DSP multiplies (ARMv5TE/ARMv6 signed halfword, dual and
 * most-significant-word multiplies).
 *
 *   SMLA<x><y>, SMUL<x><y>, SMULW<y>, SMLAW<y>, SMLAL<x><y>
 *   SMUAD{X}, SMUSD{X}, SMLAD{X}, SMLSD{X}, SMLALD{X}, SMLSLD{X}
 *   SMMUL{R}, SMMLA{R}, SMMLS{R}
 * on packed halfword operands chosen to overflow (0x8000 * 0x8000, sums of
 * two such products) with accumulators at the edges. Q starts clear (or,
 * in the "sticky" cases, set) so the instructions that set Q on overflow
 * (SMLAxy, SMLAWy, SMUAD, SMLAD, SMLSD) show it; the others must leave it.
 * Line format:  insn Rn Rm Ra flags-in -> Rd flags-out
 *               insn Rn Rm hi:lo flags-in -> hi:lo flags-out
 */
#include "test.h"

static const u32 vals[] = { 0x00000000, 0x7fff8000, 0x80007fff, 0xffff0001, 0x80008000, 0x12345678 };
static const u32 accs[] = { 0x7fffffff, 0x80000000 };
static const u32 acc64[][2] = { { 0xffffffff, 0x7fffffff }, { 0x00000001, 0x80000000 } };

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

/* name, function, 1 if it accumulates */
#define M3(op) DEF32(f_##op, #op " %[d], %[n], %[m]")
#define M4(op) DEF32(f_##op, #op " %[d], %[n], %[m], %[a]")
#define L4(op) DEF64(f_##op, #op " %[lo], %[hi], %[n], %[m]")

M4(smlabb) M4(smlabt) M4(smlatb) M4(smlatt)
M3(smulbb) M3(smulbt) M3(smultb) M3(smultt)
M3(smulwb) M3(smulwt) M4(smlawb) M4(smlawt)
L4(smlalbb) L4(smlalbt) L4(smlaltb) L4(smlaltt)
M3(smuad) M3(smuadx) M3(smusd) M3(smusdx)
M4(smlad) M4(smladx) M4(smlsd) M4(smlsdx)
L4(smlald) L4(smlaldx) L4(smlsld) L4(smlsldx)
M3(smmul) M3(smmulr) M4(smmla) M4(smmlar) M4(smmls) M4(smmlsr)

static const struct {
    const char *name;
    fn32 fn;
    int acc;
} ops32[] = {
#define A(op) { #op, f_##op, 1 },
#define N(op) { #op, f_##op, 0 },
    A(smlabb) A(smlabt) A(smlatb) A(smlatt) N(smulbb) N(smulbt) N(smultb) N(smultt)
    N(smulwb) N(smulwt) A(smlawb) A(smlawt) N(smuad) N(smuadx) N(smusd) N(smusdx)
    A(smlad) A(smladx) A(smlsd) A(smlsdx) N(smmul) N(smmulr) A(smmla) A(smmlar)
    A(smmls) A(smmlsr)
#undef A
#undef N
};

static const struct {
    const char *name;
    fn64 fn;
} ops64[] = {
#define L(op) { #op, f_##op },
    L(smlalbb) L(smlalbt) L(smlaltb) L(smlaltt) L(smlald) L(smlaldx) L(smlsld) L(smlsldx)
#undef L
};

int main(void)
{
    u32 psr;
    for (u32 o = 0; o < ARRAY_SIZE(ops32); o++)
        for (u32 i = 0; i < ARRAY_SIZE(vals); i++)
            for (u32 j = 0; j < ARRAY_SIZE(vals); j++)
                for (u32 a = 0; a < (ops32[o].acc ? ARRAY_SIZE(accs) : 1); a++) {
                    u32 acc = ops32[o].acc ? accs[a] : 0;
                    u32 d = ops32[o].fn(vals[i], vals[j], acc, FIN0, &psr);
                    printf("%-8s %08x %08x %08x %s -> %08x %s\n", ops32[o].name, vals[i],
                           vals[j], acc, fl(FIN0), d, fl(psr));
                }

    for (u32 o = 0; o < ARRAY_SIZE(ops64); o++)
        for (u32 i = 0; i < ARRAY_SIZE(vals); i++)
            for (u32 j = 0; j < ARRAY_SIZE(vals); j++)
                for (u32 a = 0; a < ARRAY_SIZE(acc64); a++) {
                    u32 lo = acc64[a][0], hi = acc64[a][1];
                    ops64[o].fn(vals[i], vals[j], &lo, &hi, FIN0, &psr);
                    printf("%-8s %08x %08x %08x:%08x %s -> %08x:%08x %s\n", ops64[o].name,
                           vals[i], vals[j], acc64[a][1], acc64[a][0], fl(FIN0), hi, lo,
                           fl(psr));
                }

    /* Q is sticky: an overflowing and a non-overflowing SMLABB with Q set
     * in, and all other flags as in FIN1. */
    u32 d = f_smlabb(0x8000, 0x8000, 0x7fffffff, FIN1, &psr);
    printf("sticky smlabb overflow    -> %08x %s\n", d, fl(psr));
    d = f_smlabb(2, 3, 4, FIN1, &psr);
    printf("sticky smlabb no overflow -> %08x %s\n", d, fl(psr));
    d = f_smuad(0x80008000, 0x80008000, 0, FIN1, &psr);
    printf("sticky smuad overflow     -> %08x %s\n", d, fl(psr));
    return 0;
}
