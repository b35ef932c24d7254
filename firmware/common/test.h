/*
 * test.h — helpers shared by the instruction test programs in tests/.
 *
 * Each test runs instructions through inline asm on chosen operands and
 * prints the results and the flags as text, so the output of armvex and
 * QEMU can be compared byte for byte. Flags are printed as five letters,
 * upper case when set: "NzCvq" = N and C set, Z, V and Q clear; the GE
 * bits as "ge=3210" (GE3 first).
 */
#ifndef ARMVEX_TEST_H
#define ARMVEX_TEST_H

#include "types.h"
#include "printf.h"
#include "semihost.h"
#include "exc.h"

/* APSR bits. */
#define PSR_N (1u << 31)
#define PSR_Z (1u << 30)
#define PSR_C (1u << 29)
#define PSR_V (1u << 28)
#define PSR_Q (1u << 27)
#define PSR_GE_SHIFT 16
#define PSR_GE(x) ((u32)(x) << PSR_GE_SHIFT)

/* Two flag settings used as "flags in": every flag differs between them,
 * so instructions that must leave a flag alone show it. */
#define FIN0 (PSR_Z | PSR_V)            /* nZcVq, ge=0000, carry clear */
#define FIN1 (PSR_N | PSR_C | PSR_Q)    /* NzCvQ, ge=0000, carry set   */

/* Returns "NzCvQ"-style text for the flags in psr (rotating static buffers,
 * so up to four may be used in one printf). */
const char *fl(u32 psr);
/* Returns "ge=0101"-style text for the GE bits of psr. */
const char *ge(u32 psr);

static inline u32 read_cpsr(void)
{
    u32 v;
    __asm__ volatile("mrs %0, cpsr" : "=r"(v));
    return v;
}

/*
 * ASM_OP: run `insn` with APSR (NZCVQ and GE) preloaded from fin, then read
 * APSR back. insn names its operands %[d] (result), %[n], %[m], %[a]
 * (inputs). d is early-clobber, so it never shares a register with an input.
 */
#define ASM_OP(insn, d_, n_, m_, a_, fin_, psr_)                              \
    __asm__ volatile("msr APSR_nzcvqg, %[fi]\n\t" insn "\n\t"                \
                     "mrs %[p], APSR"                                        \
                     : [d] "=&r"(d_), [p] "=&r"(psr_)                        \
                     : [n] "r"(n_), [m] "r"(m_), [a] "r"(a_), [fi] "r"(fin_) \
                     : "cc")

/* ASM_OP with d also an input (BFI, MOVT, ...). */
#define ASM_OP_RMW(insn, d_, n_, m_, fin_, psr_)                              \
    __asm__ volatile("msr APSR_nzcvqg, %[fi]\n\t" insn "\n\t"                \
                     "mrs %[p], APSR"                                        \
                     : [d] "+&r"(d_), [p] "=&r"(psr_)                        \
                     : [n] "r"(n_), [m] "r"(m_), [fi] "r"(fin_)              \
                     : "cc")

/* Two-register (64-bit) result; lo and hi are also inputs (accumulators). */
#define ASM_OP64(insn, lo_, hi_, n_, m_, fin_, psr_)                          \
    __asm__ volatile("msr APSR_nzcvqg, %[fi]\n\t" insn "\n\t"                \
                     "mrs %[p], APSR"                                        \
                     : [lo] "+&r"(lo_), [hi] "+&r"(hi_), [p] "=&r"(psr_)     \
                     : [n] "r"(n_), [m] "r"(m_), [fi] "r"(fin_)              \
                     : "cc")

/* Operand values that hit the edges of 32-bit arithmetic. */
extern const u32 edge_vals[5]; /* 0, 1, 0x7fffffff, 0x80000000, 0xffffffff */

#endif
