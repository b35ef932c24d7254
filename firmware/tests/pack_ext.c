/*
 * pack_ext.c — pack halfword and sign/zero extend.
 *
 * PKHBT with LSL #0/#1/#16/#31 and PKHTB with ASR #1/#16/#31/#32 (the
 * ASR #32 form is encoded as shift 0); SXTB/SXTH/SXTB16/UXTB/UXTH/UXTB16
 * and the accumulating SXTA-/UXTA- forms, each with ROR #0/#8/#16/#24.
 * None of these touch the flags (flags in nZcVq, GE 0101).
 * Line format:  insn Rn Rm -> Rd   (Rn is unused by the non-A forms)
 */
#include "test.h"

static const u32 vals[] = { 0x00000000, 0xffffffff, 0x80008000, 0x7fff7fff, 0x12345678,
                            0x87654321, 0x00ff80ff, 0x807f0180 };

#define DEF(id, text)                                                        \
    static u32 id(u32 n, u32 m, u32 fin, u32 *psr)                           \
    {                                                                        \
        u32 d, p;                                                            \
        ASM_OP(text, d, n, m, 0, fin, p);                                    \
        *psr = p;                                                            \
        return d;                                                            \
    }
typedef u32 (*fn)(u32 n, u32 m, u32 fin, u32 *psr);

DEF(pkhbt0, "pkhbt %[d], %[n], %[m]")
DEF(pkhbt1, "pkhbt %[d], %[n], %[m], lsl #1")
DEF(pkhbt16, "pkhbt %[d], %[n], %[m], lsl #16")
DEF(pkhbt31, "pkhbt %[d], %[n], %[m], lsl #31")
DEF(pkhtb1, "pkhtb %[d], %[n], %[m], asr #1")
DEF(pkhtb16, "pkhtb %[d], %[n], %[m], asr #16")
DEF(pkhtb31, "pkhtb %[d], %[n], %[m], asr #31")
DEF(pkhtb32, "pkhtb %[d], %[n], %[m], asr #32")

/* Each extend with its four rotations. */
#define EXT(op)                                                              \
    DEF(op##_0, #op " %[d], %[m]")                                           \
    DEF(op##_8, #op " %[d], %[m], ror #8")                                   \
    DEF(op##_16, #op " %[d], %[m], ror #16")                                 \
    DEF(op##_24, #op " %[d], %[m], ror #24")
#define EXTA(op)                                                             \
    DEF(op##_0, #op " %[d], %[n], %[m]")                                     \
    DEF(op##_8, #op " %[d], %[n], %[m], ror #8")                             \
    DEF(op##_16, #op " %[d], %[n], %[m], ror #16")                           \
    DEF(op##_24, #op " %[d], %[n], %[m], ror #24")
EXT(sxtb) EXT(sxth) EXT(sxtb16) EXT(uxtb) EXT(uxth) EXT(uxtb16)
EXTA(sxtab) EXTA(sxtah) EXTA(sxtab16) EXTA(uxtab) EXTA(uxtah) EXTA(uxtab16)

static const struct {
    const char *name;
    fn f;
} ops[] = {
    { "pkhbt", pkhbt0 }, { "pkhbt lsl#1", pkhbt1 }, { "pkhbt lsl#16", pkhbt16 },
    { "pkhbt lsl#31", pkhbt31 }, { "pkhtb asr#1", pkhtb1 }, { "pkhtb asr#16", pkhtb16 },
    { "pkhtb asr#31", pkhtb31 }, { "pkhtb asr#32", pkhtb32 },
#define X(op) { #op, op##_0 }, { #op " ror#8", op##_8 }, { #op " ror#16", op##_16 }, \
              { #op " ror#24", op##_24 },
    X(sxtb) X(sxth) X(sxtb16) X(uxtb) X(uxth) X(uxtb16)
    X(sxtab) X(sxtah) X(sxtab16) X(uxtab) X(uxtah) X(uxtab16)
#undef X
};

int main(void)
{
    const u32 fin = FIN0 | PSR_GE(0x5);
    /* Accumulators for the A forms (and first operands of PKH). */
    static const u32 ns[] = { 0x00000000, 0xffff8001, 0x7fff00ff };
    for (u32 o = 0; o < ARRAY_SIZE(ops); o++)
        for (u32 i = 0; i < ARRAY_SIZE(ns); i++) {
            /* plain extends ignore Rn: run them once */
            if (i > 0 && ops[o].name[0] != 'p' && ops[o].name[3] != 'a')
                continue;
            for (u32 j = 0; j < ARRAY_SIZE(vals); j++) {
                u32 psr, d = ops[o].f(ns[i], vals[j], fin, &psr);
                printf("%-15s %08x %08x -> %08x%s\n", ops[o].name, ns[i], vals[j], d,
                       (psr & 0xf80f0000) == fin ? "" : " FLAGS CHANGED");
            }
        }
    return 0;
}
