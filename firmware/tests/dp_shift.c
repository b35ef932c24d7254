/*
 * dp_shift.c — the data-processing shifter operand ("operand2") forms.
 *
 *  1. rotated immediates: value and shifter carry (C unchanged when the
 *     rotation is 0, else bit 31 of the value), including the explicit
 *     "#imm8, rot" encodings such as #0 rotated by 2;
 *  2. immediate shifts LSL #0/#1/#31, LSR #1/#31/#32, ASR #1/#31/#32,
 *     ROR #1/#31 and RRX, shown through MOVS (result + carry-out);
 *  3. register shifts LSL/LSR/ASR/ROR by Rs = 0, 1, 31, 32, 33, 255, 256
 *     and 0xffffff01 (only the bottom byte of Rs counts);
 *  4. the shifter feeding arithmetic (carry comes from the adder, and
 *     ADC/SBC/RSC use the old carry even when RRX consumes it) and the
 *     other logical opcodes.
 * Line format:  instruction  Rn Rm [Rs] flags-in -> Rd flags-out
 */
#include "test.h"

static const u32 vals[] = { 0, 1, 0x7fffffff, 0x80000000, 0xffffffff, 0x80000001, 0x12345678 };
static const u32 fins[2] = { FIN0, FIN1 };

typedef u32 (*sh_fn)(u32 n, u32 m, u32 s, u32 fin, u32 *psr);

/* One function per instruction text; %[n] = Rn, %[m] = Rm, %[a] = Rs. */
#define DEF(id, text)                                                        \
    static u32 id(u32 n, u32 m, u32 s, u32 fin, u32 *psr)                    \
    {                                                                        \
        u32 d, p;                                                            \
        ASM_OP("mov %[d], #0\n\t" text, d, n, m, s, fin, p);                 \
        *psr = p;                                                            \
        return d;                                                            \
    }

struct form {
    const char *text;
    sh_fn fn;
};
#define F(id, text) { text, id },

/* 1. Rotated immediates with logical (carry from the shifter) and
 *    arithmetic (carry from the adder) opcodes. */
DEF(i_mov_ff, "movs %[d], #0xff")
DEF(i_mov_ff000000, "movs %[d], #0xff000000")
DEF(i_mov_3fc, "movs %[d], #0x3fc")
DEF(i_mov_0r2, "movs %[d], #0, 2")
DEF(i_mov_1r2, "movs %[d], #1, 2")
DEF(i_mov_f000000f, "movs %[d], #0xf000000f")
DEF(i_mvn_0, "mvns %[d], #0")
DEF(i_mvn_80000000, "mvns %[d], #0x80000000")
DEF(i_and_ff, "ands %[d], %[n], #0xff")
DEF(i_and_80000000, "ands %[d], %[n], #0x80000000")
DEF(i_orr_3fc, "orrs %[d], %[n], #0x3fc")
DEF(i_eor_ff000000, "eors %[d], %[n], #0xff000000")
DEF(i_bic_0r2, "bics %[d], %[n], #0, 2")
DEF(i_tst_1, "tst %[n], #1")
DEF(i_tst_c0000000, "tst %[n], #0xc0000000")
DEF(i_teq_80000000, "teq %[n], #0x80000000")
DEF(i_add_1, "adds %[d], %[n], #1")
DEF(i_add_80000000, "adds %[d], %[n], #0x80000000")
DEF(i_adc_ff000000, "adcs %[d], %[n], #0xff000000")
DEF(i_sub_1, "subs %[d], %[n], #1")
DEF(i_sbc_0, "sbcs %[d], %[n], #0")
DEF(i_rsb_0, "rsbs %[d], %[n], #0")
DEF(i_rsc_80000000, "rscs %[d], %[n], #0x80000000")
DEF(i_cmp_80000000, "cmp %[n], #0x80000000")
DEF(i_cmn_1, "cmn %[n], #1")
DEF(i_add_nos, "add %[d], %[n], #0xff000000")
static const struct form imm_forms[] = {
    F(i_mov_ff, "movs #0xff") F(i_mov_ff000000, "movs #0xff000000")
    F(i_mov_3fc, "movs #0x3fc") F(i_mov_0r2, "movs #0, 2") F(i_mov_1r2, "movs #1, 2")
    F(i_mov_f000000f, "movs #0xf000000f") F(i_mvn_0, "mvns #0")
    F(i_mvn_80000000, "mvns #0x80000000") F(i_and_ff, "ands #0xff")
    F(i_and_80000000, "ands #0x80000000") F(i_orr_3fc, "orrs #0x3fc")
    F(i_eor_ff000000, "eors #0xff000000") F(i_bic_0r2, "bics #0, 2") F(i_tst_1, "tst #1")
    F(i_tst_c0000000, "tst #0xc0000000") F(i_teq_80000000, "teq #0x80000000")
    F(i_add_1, "adds #1") F(i_add_80000000, "adds #0x80000000")
    F(i_adc_ff000000, "adcs #0xff000000") F(i_sub_1, "subs #1") F(i_sbc_0, "sbcs #0")
    F(i_rsb_0, "rsbs #0") F(i_rsc_80000000, "rscs #0x80000000")
    F(i_cmp_80000000, "cmp #0x80000000") F(i_cmn_1, "cmn #1") F(i_add_nos, "add #0xff000000")
};

/* 2. Immediate shifts through MOVS. */
DEF(s_lsl0, "movs %[d], %[m], lsl #0")
DEF(s_lsl1, "movs %[d], %[m], lsl #1")
DEF(s_lsl31, "movs %[d], %[m], lsl #31")
DEF(s_lsr1, "movs %[d], %[m], lsr #1")
DEF(s_lsr31, "movs %[d], %[m], lsr #31")
DEF(s_lsr32, "movs %[d], %[m], lsr #32")
DEF(s_asr1, "movs %[d], %[m], asr #1")
DEF(s_asr31, "movs %[d], %[m], asr #31")
DEF(s_asr32, "movs %[d], %[m], asr #32")
DEF(s_ror1, "movs %[d], %[m], ror #1")
DEF(s_ror31, "movs %[d], %[m], ror #31")
DEF(s_rrx, "movs %[d], %[m], rrx")
DEF(s_mov_lsr32_nos, "mov %[d], %[m], lsr #32")
DEF(s_mov_rrx_nos, "mov %[d], %[m], rrx")
static const struct form imm_shifts[] = {
    F(s_lsl0, "movs lsl #0") F(s_lsl1, "movs lsl #1") F(s_lsl31, "movs lsl #31")
    F(s_lsr1, "movs lsr #1") F(s_lsr31, "movs lsr #31") F(s_lsr32, "movs lsr #32")
    F(s_asr1, "movs asr #1") F(s_asr31, "movs asr #31") F(s_asr32, "movs asr #32")
    F(s_ror1, "movs ror #1") F(s_ror31, "movs ror #31") F(s_rrx, "movs rrx")
    F(s_mov_lsr32_nos, "mov lsr #32") F(s_mov_rrx_nos, "mov rrx")
};

/* 3. Register shifts through MOVS. */
DEF(r_lsl, "movs %[d], %[m], lsl %[a]")
DEF(r_lsr, "movs %[d], %[m], lsr %[a]")
DEF(r_asr, "movs %[d], %[m], asr %[a]")
DEF(r_ror, "movs %[d], %[m], ror %[a]")
static const struct form reg_shifts[] = {
    F(r_lsl, "movs lsl rs") F(r_lsr, "movs lsr rs") F(r_asr, "movs asr rs") F(r_ror, "movs ror rs")
};
static const u32 amounts[] = { 0, 1, 31, 32, 33, 255, 256, 0xffffff01 };

/* 4. Shifted operands into the other opcodes. */
DEF(a_adcs_rrx, "adcs %[d], %[n], %[m], rrx")
DEF(a_sbcs_asr32, "sbcs %[d], %[n], %[m], asr #32")
DEF(a_adds_lsl_r, "adds %[d], %[n], %[m], lsl %[a]")
DEF(a_rscs_ror_r, "rscs %[d], %[n], %[m], ror %[a]")
DEF(a_subs_lsr32, "subs %[d], %[n], %[m], lsr #32")
DEF(a_rsbs_lsl1, "rsbs %[d], %[n], %[m], lsl #1")
DEF(a_cmp_asr_r, "cmp %[n], %[m], asr %[a]")
DEF(a_cmn_rrx, "cmn %[n], %[m], rrx")
DEF(a_ands_lsr32, "ands %[d], %[n], %[m], lsr #32")
DEF(a_eors_ror_r, "eors %[d], %[n], %[m], ror %[a]")
DEF(a_orrs_rrx, "orrs %[d], %[n], %[m], rrx")
DEF(a_bics_asr_r, "bics %[d], %[n], %[m], asr %[a]")
DEF(a_mvns_lsl_r, "mvns %[d], %[m], lsl %[a]")
DEF(a_tst_lsl1, "tst %[n], %[m], lsl #1")
DEF(a_teq_ror31, "teq %[n], %[m], ror #31")
DEF(a_add_lsl_r_nos, "add %[d], %[n], %[m], lsl %[a]")
static const struct form op_forms[] = {
    F(a_adcs_rrx, "adcs rrx") F(a_sbcs_asr32, "sbcs asr #32") F(a_adds_lsl_r, "adds lsl rs")
    F(a_rscs_ror_r, "rscs ror rs") F(a_subs_lsr32, "subs lsr #32") F(a_rsbs_lsl1, "rsbs lsl #1")
    F(a_cmp_asr_r, "cmp asr rs") F(a_cmn_rrx, "cmn rrx") F(a_ands_lsr32, "ands lsr #32")
    F(a_eors_ror_r, "eors ror rs") F(a_orrs_rrx, "orrs rrx") F(a_bics_asr_r, "bics asr rs")
    F(a_mvns_lsl_r, "mvns lsl rs") F(a_tst_lsl1, "tst lsl #1") F(a_teq_ror31, "teq ror #31")
    F(a_add_lsl_r_nos, "add lsl rs")
};
static const u32 op_amounts[] = { 1, 32, 33 };

static void line(const char *text, u32 n, u32 m, u32 s, int show_s, u32 fin, u32 d, u32 psr)
{
    if (show_s)
        printf("%-16s %08x %08x %08x %s -> %08x %s\n", text, n, m, s, fl(fin), d, fl(psr));
    else
        printf("%-16s %08x %08x %s -> %08x %s\n", text, n, m, fl(fin), d, fl(psr));
}

int main(void)
{
    u32 psr, d;
    for (u32 k = 0; k < ARRAY_SIZE(imm_forms); k++)
        for (u32 i = 0; i < 5; i++)
            for (int f = 0; f < 2; f++) {
                d = imm_forms[k].fn(vals[i], 0, 0, fins[f], &psr);
                line(imm_forms[k].text, vals[i], 0, 0, 0, fins[f], d, psr);
            }

    for (u32 k = 0; k < ARRAY_SIZE(imm_shifts); k++)
        for (u32 i = 0; i < ARRAY_SIZE(vals); i++)
            for (int f = 0; f < 2; f++) {
                d = imm_shifts[k].fn(0, vals[i], 0, fins[f], &psr);
                line(imm_shifts[k].text, 0, vals[i], 0, 0, fins[f], d, psr);
            }

    for (u32 k = 0; k < ARRAY_SIZE(reg_shifts); k++)
        for (u32 a = 0; a < ARRAY_SIZE(amounts); a++)
            for (u32 i = 0; i < ARRAY_SIZE(vals); i++)
                for (int f = 0; f < 2; f++) {
                    d = reg_shifts[k].fn(0, vals[i], amounts[a], fins[f], &psr);
                    line(reg_shifts[k].text, 0, vals[i], amounts[a], 1, fins[f], d, psr);
                }

    for (u32 k = 0; k < ARRAY_SIZE(op_forms); k++)
        for (u32 a = 0; a < ARRAY_SIZE(op_amounts); a++) {
            /* immediate-shift forms do not read Rs: run them once */
            int uses_rs = op_forms[k].text[strlen(op_forms[k].text) - 1] == 's';
            if (!uses_rs && a > 0)
                continue;
            for (u32 i = 0; i < 5; i++)
                for (u32 j = 0; j < 5; j++)
                    for (int f = 0; f < 2; f++) {
                        u32 n = vals[i], m = vals[j], s = op_amounts[a];
                        d = op_forms[k].fn(n, m, s, fins[f], &psr);
                        line(op_forms[k].text, n, m, s, uses_rs, fins[f], d, psr);
                    }
        }
    return 0;
}
