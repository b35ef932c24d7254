/*
 * bits.c — byte/bit reversal, count leading zeros, bitfields, MOVW/MOVT.
 *
 * REV, REV16, REVSH, RBIT, CLZ on assorted values; BFC/BFI/UBFX/SBFX at
 * the field edges (lsb 0 and 31, widths 1 and 32, fields ending at bit 31);
 * MOVW/MOVT with 0, 0xffff and 0x8000. None of these change the flags; a
 * line says so if they do.
 */
#include "test.h"

static const u32 vals[] = { 0x00000000, 0x00000001, 0x80000000, 0xffffffff, 0x12345678,
                            0x0000ff80, 0x00017f00, 0x7fffffff, 0x00008000 };
static const u32 fin = FIN1 | PSR_GE(0xa);

#define DEF(id, text)                                                        \
    static u32 id(u32 n, u32 m, u32 *psr)                                    \
    {                                                                        \
        u32 d, p;                                                            \
        ASM_OP(text, d, n, m, 0, fin, p);                                    \
        *psr = p;                                                            \
        return d;                                                            \
    }
/* Read-modify-write of Rd (BFC, BFI, MOVT): d starts as n. */
#define DEFRMW(id, text)                                                     \
    static u32 id(u32 n, u32 m, u32 *psr)                                    \
    {                                                                        \
        u32 d = n, p;                                                        \
        ASM_OP_RMW(text, d, n, m, fin, p);                                   \
        *psr = p;                                                            \
        return d;                                                            \
    }
typedef u32 (*fn)(u32 n, u32 m, u32 *psr);

DEF(f_rev, "rev %[d], %[m]")
DEF(f_rev16, "rev16 %[d], %[m]")
DEF(f_revsh, "revsh %[d], %[m]")
DEF(f_rbit, "rbit %[d], %[m]")
DEF(f_clz, "clz %[d], %[m]")
DEFRMW(bfc_0_1, "bfc %[d], #0, #1")
DEFRMW(bfc_0_32, "bfc %[d], #0, #32")
DEFRMW(bfc_31_1, "bfc %[d], #31, #1")
DEFRMW(bfc_8_16, "bfc %[d], #8, #16")
DEFRMW(bfi_0_1, "bfi %[d], %[m], #0, #1")
DEFRMW(bfi_0_32, "bfi %[d], %[m], #0, #32")
DEFRMW(bfi_31_1, "bfi %[d], %[m], #31, #1")
DEFRMW(bfi_4_8, "bfi %[d], %[m], #4, #8")
DEFRMW(bfi_16_16, "bfi %[d], %[m], #16, #16")
DEF(ubfx_0_1, "ubfx %[d], %[m], #0, #1")
DEF(ubfx_0_32, "ubfx %[d], %[m], #0, #32")
DEF(ubfx_31_1, "ubfx %[d], %[m], #31, #1")
DEF(ubfx_4_8, "ubfx %[d], %[m], #4, #8")
DEF(ubfx_1_31, "ubfx %[d], %[m], #1, #31")
DEF(sbfx_0_1, "sbfx %[d], %[m], #0, #1")
DEF(sbfx_0_32, "sbfx %[d], %[m], #0, #32")
DEF(sbfx_31_1, "sbfx %[d], %[m], #31, #1")
DEF(sbfx_4_8, "sbfx %[d], %[m], #4, #8")
DEF(sbfx_8_16, "sbfx %[d], %[m], #8, #16")
DEF(movw_0, "movw %[d], #0")
DEF(movw_ffff, "movw %[d], #0xffff")
DEF(movw_8000, "movw %[d], #0x8000")
DEFRMW(movt_0, "movt %[d], #0")
DEFRMW(movt_ffff, "movt %[d], #0xffff")
DEFRMW(movt_8000, "movt %[d], #0x8000")

static const struct {
    const char *name;
    fn f;
    int rmw; /* 1: Rd is also an input (shown as Rd-in) */
} ops[] = {
    { "rev", f_rev, 0 }, { "rev16", f_rev16, 0 }, { "revsh", f_revsh, 0 },
    { "rbit", f_rbit, 0 }, { "clz", f_clz, 0 },
    { "bfc #0,#1", bfc_0_1, 1 }, { "bfc #0,#32", bfc_0_32, 1 }, { "bfc #31,#1", bfc_31_1, 1 },
    { "bfc #8,#16", bfc_8_16, 1 },
    { "bfi #0,#1", bfi_0_1, 1 }, { "bfi #0,#32", bfi_0_32, 1 }, { "bfi #31,#1", bfi_31_1, 1 },
    { "bfi #4,#8", bfi_4_8, 1 }, { "bfi #16,#16", bfi_16_16, 1 },
    { "ubfx #0,#1", ubfx_0_1, 0 }, { "ubfx #0,#32", ubfx_0_32, 0 },
    { "ubfx #31,#1", ubfx_31_1, 0 }, { "ubfx #4,#8", ubfx_4_8, 0 },
    { "ubfx #1,#31", ubfx_1_31, 0 },
    { "sbfx #0,#1", sbfx_0_1, 0 }, { "sbfx #0,#32", sbfx_0_32, 0 },
    { "sbfx #31,#1", sbfx_31_1, 0 }, { "sbfx #4,#8", sbfx_4_8, 0 },
    { "sbfx #8,#16", sbfx_8_16, 0 },
    { "movw #0", movw_0, 0 }, { "movw #0xffff", movw_ffff, 0 }, { "movw #0x8000", movw_8000, 0 },
    { "movt #0", movt_0, 1 }, { "movt #0xffff", movt_ffff, 1 }, { "movt #0x8000", movt_8000, 1 },
};

int main(void)
{
    static const u32 dins[] = { 0x00000000, 0xffffffff, 0xa5a5a5a5 };
    for (u32 o = 0; o < ARRAY_SIZE(ops); o++) {
        int is_mov = ops[o].name[0] == 'm'; /* MOVW/MOVT take no Rm */
        for (u32 k = 0; k < (ops[o].rmw ? ARRAY_SIZE(dins) : 1); k++)
            for (u32 j = 0; j < (is_mov ? 1 : ARRAY_SIZE(vals)); j++) {
                u32 psr, d = ops[o].f(dins[k], vals[j], &psr);
                if (ops[o].rmw)
                    printf("%-13s rd=%08x rm=%08x -> %08x", ops[o].name, dins[k], vals[j], d);
                else
                    printf("%-13s rm=%08x -> %08x", ops[o].name, vals[j], d);
                printf("%s\n", (psr & 0xf80f0000) == fin ? "" : " FLAGS CHANGED");
            }
    }
    return 0;
}
