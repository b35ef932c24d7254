/*
 * parallel.c — ARMv6 SIMD add/subtract on packed bytes and halfwords.
 *
 * All 36 of {S,Q,SH,U,UQ,UH} x {ADD16, ASX, SAX, SUB16, ADD8, SUB8}, then
 * SEL under every GE value, USAD8 and USADA8. GE starts as 0101 (and NZCVQ
 * as nZcVq): the S and U forms set GE, the Q/SH/UQ/UH forms must leave it
 * (and no form touches NZCVQ).
 * Line format:  insn Rn Rm -> Rd flags ge
 */
#include "test.h"

static const u32 vals[] = { 0x00000000, 0xffffffff, 0x7fff8000, 0x80007fff, 0x7f80ff01,
                            0x017f80ff, 0x12345678, 0xfedcba98 };

#define DEF(id, text)                                                        \
    static u32 id(u32 n, u32 m, u32 a, u32 fin, u32 *psr)                    \
    {                                                                        \
        u32 d, p;                                                            \
        ASM_OP(text, d, n, m, a, fin, p);                                    \
        *psr = p;                                                            \
        return d;                                                            \
    }

#define OPS(P) DEF(f_##P##add16, #P "add16 %[d], %[n], %[m]")                 \
               DEF(f_##P##asx, #P "asx %[d], %[n], %[m]")                     \
               DEF(f_##P##sax, #P "sax %[d], %[n], %[m]")                     \
               DEF(f_##P##sub16, #P "sub16 %[d], %[n], %[m]")                 \
               DEF(f_##P##add8, #P "add8 %[d], %[n], %[m]")                   \
               DEF(f_##P##sub8, #P "sub8 %[d], %[n], %[m]")
OPS(s) OPS(q) OPS(sh) OPS(u) OPS(uq) OPS(uh)

DEF(f_sel, "sel %[d], %[n], %[m]")
DEF(f_usad8, "usad8 %[d], %[n], %[m]")
DEF(f_usada8, "usada8 %[d], %[n], %[m], %[a]")

typedef u32 (*fn)(u32 n, u32 m, u32 a, u32 fin, u32 *psr);
static const struct {
    const char *name;
    fn f;
} ops[] = {
#define E(P) { #P "add16", f_##P##add16 }, { #P "asx", f_##P##asx }, { #P "sax", f_##P##sax }, \
             { #P "sub16", f_##P##sub16 }, { #P "add8", f_##P##add8 }, { #P "sub8", f_##P##sub8 },
    E(s) E(q) E(sh) E(u) E(uq) E(uh)
#undef E
};

int main(void)
{
    const u32 fin = FIN0 | PSR_GE(0x5);
    u32 psr, d;
    for (u32 o = 0; o < ARRAY_SIZE(ops); o++)
        for (u32 i = 0; i < ARRAY_SIZE(vals); i++)
            for (u32 j = 0; j < ARRAY_SIZE(vals); j++) {
                d = ops[o].f(vals[i], vals[j], 0, fin, &psr);
                printf("%-7s %08x %08x -> %08x %s %s\n", ops[o].name, vals[i], vals[j], d,
                       fl(psr), ge(psr));
            }

    /* SEL picks each byte from Rn where GE[i] is set, else from Rm. */
    for (u32 g = 0; g < 16; g++) {
        d = f_sel(0x11223344, 0xaabbccdd, 0, PSR_GE(g), &psr);
        printf("sel     11223344 aabbccdd %s -> %08x %s\n", ge(PSR_GE(g)), d, ge(psr));
    }
    /* GE from an add feeding SEL: the usual byte-wise max idiom. */
    d = f_usub8(0x10ff7f80, 0x20017f7f, 0, 0, &psr);
    u32 max = f_sel(0x10ff7f80, 0x20017f7f, 0, psr, &psr);
    printf("usub8+sel max(10ff7f80, 20017f7f) = %08x\n", max);

    for (u32 i = 0; i < ARRAY_SIZE(vals); i++)
        for (u32 j = 0; j < ARRAY_SIZE(vals); j++) {
            d = f_usad8(vals[i], vals[j], 0, fin, &psr);
            u32 d2 = f_usada8(vals[i], vals[j], 0xfffffff0, fin, &psr);
            printf("usad8   %08x %08x -> %08x  usada8 +fffffff0 -> %08x %s %s\n", vals[i],
                   vals[j], d, d2, fl(psr), ge(psr));
        }
    return 0;
}
