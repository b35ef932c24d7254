/*
 * sat.c — saturating arithmetic and the Q flag.
 *
 * QADD, QSUB, QDADD, QDSUB on edge values; SSAT/USAT to 1, 8, 16, 31 and 32
 * bits (USAT: 0, 8, 16, 31) with LSL #0/#4 and ASR #1/#31/#32 shifts;
 * SSAT16/USAT16 to a few widths. Q starts clear in every case, so lines
 * with Q set show where saturation happened; a last pair of lines shows Q
 * is sticky.
 * Line format:  insn Rn [Rm] flags-in -> Rd flags-out
 */
#include "test.h"

static const u32 vals[] = { 0, 1, 0x7fffffff, 0x80000000, 0xffffffff, 0x40000000, 0xc0000000,
                            0x12345678 };

#define DEF2(id, text)                                                       \
    static u32 id(u32 n, u32 m, u32 fin, u32 *psr)                           \
    {                                                                        \
        u32 d, p;                                                            \
        ASM_OP(text, d, n, m, 0, fin, p);                                    \
        *psr = p;                                                            \
        return d;                                                            \
    }

/* Note the operand order: QADD Rd, Rm, Rn computes sat(Rm + Rn); QDADD
 * Rd, Rm, Rn computes sat(Rm + sat(2 * Rn)). Here %[n] is the first. */
DEF2(f_qadd, "qadd %[d], %[n], %[m]")
DEF2(f_qsub, "qsub %[d], %[n], %[m]")
DEF2(f_qdadd, "qdadd %[d], %[n], %[m]")
DEF2(f_qdsub, "qdsub %[d], %[n], %[m]")

#define SAT(id, text) DEF2(id, text)
SAT(ssat1, "ssat %[d], #1, %[n]")
SAT(ssat8, "ssat %[d], #8, %[n]")
SAT(ssat16, "ssat %[d], #16, %[n]")
SAT(ssat31, "ssat %[d], #31, %[n]")
SAT(ssat32, "ssat %[d], #32, %[n]")
SAT(ssat8_lsl4, "ssat %[d], #8, %[n], lsl #4")
SAT(ssat16_asr1, "ssat %[d], #16, %[n], asr #1")
SAT(ssat8_asr31, "ssat %[d], #8, %[n], asr #31")
SAT(ssat8_asr32, "ssat %[d], #8, %[n], asr #32")
SAT(ssat32_lsl31, "ssat %[d], #32, %[n], lsl #31")
SAT(usat0, "usat %[d], #0, %[n]")
SAT(usat8, "usat %[d], #8, %[n]")
SAT(usat16, "usat %[d], #16, %[n]")
SAT(usat31, "usat %[d], #31, %[n]")
SAT(usat8_lsl4, "usat %[d], #8, %[n], lsl #4")
SAT(usat16_asr1, "usat %[d], #16, %[n], asr #1")
SAT(usat31_asr32, "usat %[d], #31, %[n], asr #32")
SAT(ssat16_1, "ssat16 %[d], #1, %[n]")
SAT(ssat16_8, "ssat16 %[d], #8, %[n]")
SAT(ssat16_16, "ssat16 %[d], #16, %[n]")
SAT(usat16_0, "usat16 %[d], #0, %[n]")
SAT(usat16_8, "usat16 %[d], #8, %[n]")
SAT(usat16_15, "usat16 %[d], #15, %[n]")

typedef u32 (*fn)(u32 n, u32 m, u32 fin, u32 *psr);
static const struct {
    const char *name;
    fn f;
} binops[] = {
    { "qadd", f_qadd }, { "qsub", f_qsub }, { "qdadd", f_qdadd }, { "qdsub", f_qdsub },
}, satops[] = {
    { "ssat #1", ssat1 }, { "ssat #8", ssat8 }, { "ssat #16", ssat16 }, { "ssat #31", ssat31 },
    { "ssat #32", ssat32 }, { "ssat #8,lsl#4", ssat8_lsl4 }, { "ssat #16,asr#1", ssat16_asr1 },
    { "ssat #8,asr#31", ssat8_asr31 }, { "ssat #8,asr#32", ssat8_asr32 },
    { "ssat #32,lsl#31", ssat32_lsl31 }, { "usat #0", usat0 }, { "usat #8", usat8 },
    { "usat #16", usat16 }, { "usat #31", usat31 }, { "usat #8,lsl#4", usat8_lsl4 },
    { "usat #16,asr#1", usat16_asr1 }, { "usat #31,asr#32", usat31_asr32 },
}, sat16ops[] = {
    { "ssat16 #1", ssat16_1 }, { "ssat16 #8", ssat16_8 }, { "ssat16 #16", ssat16_16 },
    { "usat16 #0", usat16_0 }, { "usat16 #8", usat16_8 }, { "usat16 #15", usat16_15 },
};

static const u32 vals16[] = { 0x00000000, 0x7fff8000, 0x80007fff, 0xffff0001, 0x00ff0100,
                              0xff80007f, 0x12345678 };

int main(void)
{
    u32 psr, d;
    for (u32 o = 0; o < ARRAY_SIZE(binops); o++)
        for (u32 i = 0; i < ARRAY_SIZE(vals); i++)
            for (u32 j = 0; j < ARRAY_SIZE(vals); j++) {
                d = binops[o].f(vals[i], vals[j], FIN0, &psr);
                printf("%-16s %08x %08x %s -> %08x %s\n", binops[o].name, vals[i], vals[j],
                       fl(FIN0), d, fl(psr));
            }
    for (u32 o = 0; o < ARRAY_SIZE(satops); o++)
        for (u32 i = 0; i < ARRAY_SIZE(vals); i++) {
            d = satops[o].f(vals[i], 0, FIN0, &psr);
            printf("%-16s %08x %s -> %08x %s\n", satops[o].name, vals[i], fl(FIN0), d, fl(psr));
        }
    for (u32 o = 0; o < ARRAY_SIZE(sat16ops); o++)
        for (u32 i = 0; i < ARRAY_SIZE(vals16); i++) {
            d = sat16ops[o].f(vals16[i], 0, FIN0, &psr);
            printf("%-16s %08x %s -> %08x %s\n", sat16ops[o].name, vals16[i], fl(FIN0), d,
                   fl(psr));
        }
    /* Sticky Q: no saturation with Q set in keeps Q set. */
    d = f_qadd(1, 2, FIN1, &psr);
    printf("qadd 1+2 with Q in      -> %08x %s\n", d, fl(psr));
    d = ssat8(5, 0, FIN1, &psr);
    printf("ssat #8 5 with Q in     -> %08x %s\n", d, fl(psr));
    return 0;
}
