/*
 * dp_ops.c — data-processing opcodes with register operands.
 *
 * Every A32 data-processing opcode (AND EOR SUB RSB ADD ADC SBC RSC TST TEQ
 * CMP CMN ORR MOV BIC MVN), with and without S, on all pairs of the edge
 * values 0, 1, 0x7fffffff, 0x80000000, 0xffffffff, once with the flags in
 * set to nZcVq (carry clear) and once to NzCvQ (carry set).
 * Line format:  op  Rn Rm flags-in -> Rd flags-out
 * Shifter operand forms are in dp_shift.c.
 */
#include "test.h"

typedef u32 (*op_fn)(u32 n, u32 m, u32 fin, u32 *psr);

/* Rd = Rn op Rm, plain and flag-setting */
#define DEF_BIN(op)                                                          \
    static u32 f_##op(u32 n, u32 m, u32 fin, u32 *psr)                       \
    {                                                                        \
        u32 d, p;                                                            \
        ASM_OP(#op " %[d], %[n], %[m]", d, n, m, 0, fin, p);                 \
        *psr = p;                                                            \
        return d;                                                            \
    }                                                                        \
    static u32 f_##op##s(u32 n, u32 m, u32 fin, u32 *psr)                    \
    {                                                                        \
        u32 d, p;                                                            \
        ASM_OP(#op "s %[d], %[n], %[m]", d, n, m, 0, fin, p);                \
        *psr = p;                                                            \
        return d;                                                            \
    }

/* Compare/test: flags only */
#define DEF_CMP(op)                                                          \
    static u32 f_##op(u32 n, u32 m, u32 fin, u32 *psr)                       \
    {                                                                        \
        u32 d, p;                                                            \
        ASM_OP("mov %[d], #0\n\t" #op " %[n], %[m]", d, n, m, 0, fin, p);    \
        *psr = p;                                                            \
        return d;                                                            \
    }

/* Rd = op Rm */
#define DEF_MOV(op)                                                          \
    static u32 f_##op(u32 n, u32 m, u32 fin, u32 *psr)                       \
    {                                                                        \
        u32 d, p;                                                            \
        ASM_OP(#op " %[d], %[m]", d, n, m, 0, fin, p);                       \
        *psr = p;                                                            \
        return d;                                                            \
    }                                                                        \
    static u32 f_##op##s(u32 n, u32 m, u32 fin, u32 *psr)                    \
    {                                                                        \
        u32 d, p;                                                            \
        ASM_OP(#op "s %[d], %[m]", d, n, m, 0, fin, p);                      \
        *psr = p;                                                            \
        return d;                                                            \
    }

DEF_BIN(and) DEF_BIN(eor) DEF_BIN(sub) DEF_BIN(rsb) DEF_BIN(add) DEF_BIN(adc)
DEF_BIN(sbc) DEF_BIN(rsc) DEF_BIN(orr) DEF_BIN(bic)
DEF_CMP(tst) DEF_CMP(teq) DEF_CMP(cmp) DEF_CMP(cmn)
DEF_MOV(mov) DEF_MOV(mvn)

static const struct {
    const char *name;
    op_fn fn;
    int kind; /* 0 = Rd Rn Rm, 1 = flags only, 2 = Rd Rm */
} ops[] = {
#define B(op) { #op, f_##op, 0 }, { #op "s", f_##op##s, 0 },
    B(and) B(eor) B(sub) B(rsb) B(add) B(adc) B(sbc) B(rsc) B(orr) B(bic)
#undef B
    { "tst", f_tst, 1 }, { "teq", f_teq, 1 }, { "cmp", f_cmp, 1 }, { "cmn", f_cmn, 1 },
    { "mov", f_mov, 2 }, { "movs", f_movs, 2 }, { "mvn", f_mvn, 2 }, { "mvns", f_mvns, 2 },
};

int main(void)
{
    static const u32 fins[2] = { FIN0, FIN1 };
    for (u32 o = 0; o < ARRAY_SIZE(ops); o++) {
        for (u32 i = 0; i < ARRAY_SIZE(edge_vals); i++) {
            for (u32 j = 0; j < ARRAY_SIZE(edge_vals); j++) {
                u32 n = edge_vals[i], m = edge_vals[j];
                if (ops[o].kind == 2 && i > 0)
                    continue; /* MOV/MVN ignore Rn */
                for (int f = 0; f < 2; f++) {
                    u32 psr;
                    u32 d = ops[o].fn(n, m, fins[f], &psr);
                    if (ops[o].kind == 0)
                        printf("%-5s %08x %08x %s -> %08x %s\n", ops[o].name, n, m,
                               fl(fins[f]), d, fl(psr));
                    else if (ops[o].kind == 1)
                        printf("%-5s %08x %08x %s -> -------- %s\n", ops[o].name, n, m,
                               fl(fins[f]), fl(psr));
                    else
                        printf("%-5s -------- %08x %s -> %08x %s\n", ops[o].name, m,
                               fl(fins[f]), d, fl(psr));
                }
            }
        }
    }
    return 0;
}
