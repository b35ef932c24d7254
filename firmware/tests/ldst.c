/*
 * ldst.c — single loads and stores in every addressing form.
 *
 * Word, byte, halfword, signed byte/halfword and doubleword accesses with
 * immediate, register and scaled-register offsets (LSL/LSR/ASR/ROR/RRX),
 * added or subtracted, as offset, pre-indexed with writeback and
 * post-indexed forms; the unprivileged LDRT/STRT family; unaligned
 * LDR/LDRH/LDRSH/STR/STRH with SCTLR.A = 0; PC-relative loads; big-endian
 * data accesses after SETEND BE.
 * The base register starts at mem+32 in a 64-byte buffer holding a known
 * byte pattern; each line shows the value loaded (or the bytes around the
 * store) and where the base register ended up.
 *
 * Note: with the MMU off, data accesses are Strongly-ordered, for which
 * ARMv7 makes unaligned accesses UNPREDICTABLE; QEMU (and armvex) perform
 * them like Normal-memory accesses, which is what this test records.
 */
#include "test.h"

static u8 mem[64] __attribute__((aligned(16)));

static void fill(void)
{
    for (u32 i = 0; i < sizeof(mem); i++)
        mem[i] = (u8)(i * 0x47 + 0x13);
}

/* LOAD(id, text, off): load into %[v] through base %[b] (= mem+32 on
 * entry), with %[o] = off. Flags are cleared first (for RRX). */
#define LOAD(id, text, off)                                                  \
    static void id(const char *name)                                         \
    {                                                                        \
        u32 v, b = (u32)mem + 32, o = (off);                                 \
        fill();                                                              \
        __asm__ volatile("msr APSR_nzcvq, #0\n\t" text                       \
                         : [v] "=&r"(v), [b] "+&r"(b)                        \
                         : [o] "r"(o)                                        \
                         : "cc", "memory");                                  \
        printf("%-28s -> %08x base=mem+%d\n", name, v, (int)(b - (u32)mem)); \
    }

/* STORE(id, text, off): store %[v] = 0x89abcdef through %[b]; print
 * mem[24..47] and where the base ended up. */
#define STORE(id, text, off)                                                 \
    static void id(const char *name)                                         \
    {                                                                        \
        u32 v = 0x89abcdef, b = (u32)mem + 32, o = (off);                    \
        fill();                                                              \
        __asm__ volatile("msr APSR_nzcvq, #0\n\t" text                       \
                         : [b] "+&r"(b)                                      \
                         : [v] "r"(v), [o] "r"(o)                            \
                         : "cc", "memory");                                  \
        printf("%-28s base=mem+%d mem[24..47]=", name, (int)(b - (u32)mem)); \
        for (int i = 24; i < 48; i++)                                        \
            printf("%s%02x", i % 4 ? "" : " ", mem[i]);                      \
        printf("\n");                                                        \
    }

/* LDRD/STRD need an even/odd register pair: use r2/r3 explicitly. */
#define LOADD(id, text, off)                                                 \
    static void id(const char *name)                                         \
    {                                                                        \
        u32 lo, hi, b = (u32)mem + 32, o = (off);                            \
        fill();                                                              \
        __asm__ volatile(text "\n\tmov %[lo], r2\n\tmov %[hi], r3"           \
                         : [lo] "=&r"(lo), [hi] "=&r"(hi), [b] "+&r"(b)      \
                         : [o] "r"(o)                                        \
                         : "r2", "r3", "memory");                            \
        printf("%-28s -> %08x %08x base=mem+%d\n", name, lo, hi,            \
               (int)(b - (u32)mem));                                         \
    }
#define STORED(id, text, off)                                                \
    static void id(const char *name)                                         \
    {                                                                        \
        u32 b = (u32)mem + 32, o = (off);                                    \
        fill();                                                              \
        __asm__ volatile("ldr r2, =0x01234567\n\tldr r3, =0x89abcdef\n\t" text \
                         : [b] "+&r"(b)                                      \
                         : [o] "r"(o)                                        \
                         : "r2", "r3", "memory");                            \
        printf("%-28s base=mem+%d mem[16..47]=", name, (int)(b - (u32)mem)); \
        for (int i = 16; i < 48; i++)                                        \
            printf("%s%02x", i % 4 ? "" : " ", mem[i]);                      \
        printf("\n");                                                        \
    }

/* Words */
LOAD(l1, "ldr %[v], [%[b]]", 0)
LOAD(l2, "ldr %[v], [%[b], #4]", 0)
LOAD(l3, "ldr %[v], [%[b], #-4]", 0)
LOAD(l4, "ldr %[v], [%[b], #8]!", 0)
LOAD(l5, "ldr %[v], [%[b], #-12]!", 0)
LOAD(l6, "ldr %[v], [%[b]], #4", 0)
LOAD(l7, "ldr %[v], [%[b]], #-16", 0)
LOAD(l8, "ldr %[v], [%[b], %[o]]", 8)
LOAD(l9, "ldr %[v], [%[b], -%[o]]", 8)
LOAD(l10, "ldr %[v], [%[b], %[o], lsl #2]", 3)
LOAD(l11, "ldr %[v], [%[b], -%[o], lsl #2]", 3)
LOAD(l12, "ldr %[v], [%[b], %[o], lsr #1]", 16)
LOAD(l13, "ldr %[v], [%[b], %[o], lsr #32]", 0xffffffff)
LOAD(l14, "ldr %[v], [%[b], %[o], asr #1]", 0xfffffff0)
LOAD(l15, "ldr %[v], [%[b], %[o], asr #32]", 0x80000000)
LOAD(l16, "ldr %[v], [%[b], %[o], ror #31]", 2)
LOAD(l17, "ldr %[v], [%[b], %[o], rrx]", 8)
LOAD(l18, "ldr %[v], [%[b], %[o], lsl #2]!", 2)
LOAD(l19, "ldr %[v], [%[b], -%[o]]!", 20)
LOAD(l20, "ldr %[v], [%[b]], %[o]", 12)
LOAD(l21, "ldr %[v], [%[b]], -%[o], lsl #3", 2)
STORE(s1, "str %[v], [%[b], #4]", 0)
STORE(s2, "str %[v], [%[b], #-4]!", 0)
STORE(s3, "str %[v], [%[b]], #8", 0)
STORE(s4, "str %[v], [%[b], -%[o], lsl #1]", 4)
STORE(s5, "str %[v], [%[b], %[o]]!", 4)
STORE(s6, "str %[v], [%[b]], -%[o], asr #1", 8)

/* Bytes */
LOAD(b1, "ldrb %[v], [%[b], #1]", 0)
LOAD(b2, "ldrb %[v], [%[b], #-3]!", 0)
LOAD(b3, "ldrb %[v], [%[b]], #5", 0)
LOAD(b4, "ldrb %[v], [%[b], %[o]]", 7)
LOAD(b5, "ldrb %[v], [%[b], -%[o], lsl #1]!", 3)
LOAD(b6, "ldrb %[v], [%[b]], %[o], lsr #2", 12)
STORE(sb1, "strb %[v], [%[b], #3]", 0)
STORE(sb2, "strb %[v], [%[b], #-1]!", 0)
STORE(sb3, "strb %[v], [%[b]], %[o]", 2)

/* Halfwords and signed loads (imm8 and plain register offsets only) */
LOAD(h1, "ldrh %[v], [%[b], #2]", 0)
LOAD(h2, "ldrh %[v], [%[b], #-6]!", 0)
LOAD(h3, "ldrh %[v], [%[b]], #10", 0)
LOAD(h4, "ldrh %[v], [%[b], %[o]]", 4)
LOAD(h5, "ldrh %[v], [%[b], -%[o]]!", 8)
LOAD(h6, "ldrh %[v], [%[b]], -%[o]", 2)
LOAD(sh1, "ldrsh %[v], [%[b], #2]", 0)
LOAD(sh2, "ldrsh %[v], [%[b], #-2]", 0)
LOAD(sh3, "ldrsh %[v], [%[b], %[o]]!", 6)
LOAD(sh4, "ldrsh %[v], [%[b]], #-4", 0)
LOAD(sb_1, "ldrsb %[v], [%[b], #1]", 0)
LOAD(sb_2, "ldrsb %[v], [%[b], #3]", 0)
LOAD(sb_3, "ldrsb %[v], [%[b], -%[o]]!", 5)
LOAD(sb_4, "ldrsb %[v], [%[b]], %[o]", 7)
STORE(sh_1, "strh %[v], [%[b], #2]", 0)
STORE(sh_2, "strh %[v], [%[b], -%[o]]!", 6)
STORE(sh_3, "strh %[v], [%[b]], #-2", 0)

/* Doublewords */
LOADD(d1, "ldrd r2, r3, [%[b]]", 0)
LOADD(d2, "ldrd r2, r3, [%[b], #8]", 0)
LOADD(d3, "ldrd r2, r3, [%[b], #-8]!", 0)
LOADD(d4, "ldrd r2, r3, [%[b]], #16", 0)
LOADD(d5, "ldrd r2, r3, [%[b], %[o]]", 8)
LOADD(d6, "ldrd r2, r3, [%[b]], -%[o]", 24)
LOADD(d7, "ldrd r2, r3, [%[b], #4]", 0)  /* word- but not doubleword-aligned */
STORED(sd1, "strd r2, r3, [%[b], #-8]", 0)
STORED(sd2, "strd r2, r3, [%[b], %[o]]!", 4)
STORED(sd3, "strd r2, r3, [%[b]], #-16", 0)

/* Unprivileged (T) forms: post-indexed only; as LDR/STR here (MMU off) */
LOAD(t1, "ldrt %[v], [%[b]], #4", 0)
LOAD(t2, "ldrt %[v], [%[b]], -%[o], lsl #1", 4)
LOAD(t3, "ldrbt %[v], [%[b]], #-1", 0)
LOAD(t4, "ldrht %[v], [%[b]], #2", 0)
LOAD(t5, "ldrsht %[v], [%[b]], %[o]", 6)
LOAD(t6, "ldrsbt %[v], [%[b]], #-7", 0)
STORE(st1, "strt %[v], [%[b]], #4", 0)
STORE(st2, "strbt %[v], [%[b]], %[o]", 3)
STORE(st3, "strht %[v], [%[b]], #-2", 0)

/* Unaligned (SCTLR.A = 0) */
LOAD(u1, "ldr %[v], [%[b], #1]", 0)
LOAD(u2, "ldr %[v], [%[b], #3]", 0)
LOAD(u3, "ldr %[v], [%[b], %[o]]!", 6)
LOAD(u4, "ldrh %[v], [%[b], #1]", 0)
LOAD(u5, "ldrh %[v], [%[b], #3]", 0)
LOAD(u6, "ldrsh %[v], [%[b], #-1]", 0)
STORE(su1, "str %[v], [%[b], #1]", 0)
STORE(su2, "str %[v], [%[b], #-2]", 0)
STORE(su3, "strh %[v], [%[b], #3]", 0)

/* Big-endian data (SETEND BE) */
LOAD(e1, "setend be\n\tldr %[v], [%[b]]\n\tsetend le", 0)
LOAD(e2, "setend be\n\tldrh %[v], [%[b], #2]\n\tsetend le", 0)
LOAD(e3, "setend be\n\tldrsh %[v], [%[b], #6]\n\tsetend le", 0)
LOAD(e4, "setend be\n\tldrb %[v], [%[b], #1]\n\tsetend le", 0)
LOAD(e5, "setend be\n\tldr %[v], [%[b], #1]\n\tsetend le", 0)
STORE(se1, "setend be\n\tstr %[v], [%[b]]\n\tsetend le", 0)
STORE(se2, "setend be\n\tstrh %[v], [%[b], #6]\n\tsetend le", 0)

/* PC-relative: a literal, and the load instruction itself (PC reads as
 * the instruction's address + 8); Rt (bits 15:12) is masked out below. */
LOAD(p1, "ldr %[v], =0x5eed1e55", 0)
LOAD(p2, "ldr %[v], [pc, #-8]\n\tbic %[v], %[v], #0xf000", 0)

#define RUN(id, text) id(text)

int main(void)
{
    write_sctlr(read_sctlr() & ~2u); /* SCTLR.A = 0: unaligned allowed */
    fill();
    printf("mem[32..39] =");
    for (int i = 32; i < 40; i++)
        printf(" %02x", mem[i]);
    printf("\n");

    RUN(l1, "ldr [b]"); RUN(l2, "ldr [b, #4]"); RUN(l3, "ldr [b, #-4]");
    RUN(l4, "ldr [b, #8]!"); RUN(l5, "ldr [b, #-12]!"); RUN(l6, "ldr [b], #4");
    RUN(l7, "ldr [b], #-16"); RUN(l8, "ldr [b, o=8]"); RUN(l9, "ldr [b, -o=8]");
    RUN(l10, "ldr [b, o=3, lsl #2]"); RUN(l11, "ldr [b, -o=3, lsl #2]");
    RUN(l12, "ldr [b, o=16, lsr #1]"); RUN(l13, "ldr [b, o=-1, lsr #32]");
    RUN(l14, "ldr [b, o=-16, asr #1]"); RUN(l15, "ldr [b, o=80000000, asr #32]");
    RUN(l16, "ldr [b, o=2, ror #31]"); RUN(l17, "ldr [b, o=8, rrx] (C=0)");
    RUN(l18, "ldr [b, o=2, lsl #2]!"); RUN(l19, "ldr [b, -o=20]!"); RUN(l20, "ldr [b], o=12");
    RUN(l21, "ldr [b], -o=2, lsl #3");
    RUN(s1, "str [b, #4]"); RUN(s2, "str [b, #-4]!"); RUN(s3, "str [b], #8");
    RUN(s4, "str [b, -o=4, lsl #1]"); RUN(s5, "str [b, o=4]!"); RUN(s6, "str [b], -o=8, asr #1");

    RUN(b1, "ldrb [b, #1]"); RUN(b2, "ldrb [b, #-3]!"); RUN(b3, "ldrb [b], #5");
    RUN(b4, "ldrb [b, o=7]"); RUN(b5, "ldrb [b, -o=3, lsl #1]!"); RUN(b6, "ldrb [b], o=12, lsr #2");
    RUN(sb1, "strb [b, #3]"); RUN(sb2, "strb [b, #-1]!"); RUN(sb3, "strb [b], o=2");

    RUN(h1, "ldrh [b, #2]"); RUN(h2, "ldrh [b, #-6]!"); RUN(h3, "ldrh [b], #10");
    RUN(h4, "ldrh [b, o=4]"); RUN(h5, "ldrh [b, -o=8]!"); RUN(h6, "ldrh [b], -o=2");
    RUN(sh1, "ldrsh [b, #2]"); RUN(sh2, "ldrsh [b, #-2]"); RUN(sh3, "ldrsh [b, o=6]!");
    RUN(sh4, "ldrsh [b], #-4");
    RUN(sb_1, "ldrsb [b, #1]"); RUN(sb_2, "ldrsb [b, #3]"); RUN(sb_3, "ldrsb [b, -o=5]!");
    RUN(sb_4, "ldrsb [b], o=7");
    RUN(sh_1, "strh [b, #2]"); RUN(sh_2, "strh [b, -o=6]!"); RUN(sh_3, "strh [b], #-2");

    RUN(d1, "ldrd [b]"); RUN(d2, "ldrd [b, #8]"); RUN(d3, "ldrd [b, #-8]!");
    RUN(d4, "ldrd [b], #16"); RUN(d5, "ldrd [b, o=8]"); RUN(d6, "ldrd [b], -o=24");
    RUN(d7, "ldrd [b, #4]");
    RUN(sd1, "strd [b, #-8]"); RUN(sd2, "strd [b, o=4]!"); RUN(sd3, "strd [b], #-16");

    RUN(t1, "ldrt [b], #4"); RUN(t2, "ldrt [b], -o=4, lsl #1"); RUN(t3, "ldrbt [b], #-1");
    RUN(t4, "ldrht [b], #2"); RUN(t5, "ldrsht [b], o=6"); RUN(t6, "ldrsbt [b], #-7");
    RUN(st1, "strt [b], #4"); RUN(st2, "strbt [b], o=3"); RUN(st3, "strht [b], #-2");

    RUN(u1, "ldr [b, #1] unaligned"); RUN(u2, "ldr [b, #3] unaligned");
    RUN(u3, "ldr [b, o=6]! unaligned"); RUN(u4, "ldrh [b, #1] unaligned");
    RUN(u5, "ldrh [b, #3] unaligned"); RUN(u6, "ldrsh [b, #-1] unaligned");
    RUN(su1, "str [b, #1] unaligned"); RUN(su2, "str [b, #-2] unaligned");
    RUN(su3, "strh [b, #3] unaligned");

    RUN(e1, "BE ldr [b]"); RUN(e2, "BE ldrh [b, #2]"); RUN(e3, "BE ldrsh [b, #6]");
    RUN(e4, "BE ldrb [b, #1]"); RUN(e5, "BE ldr [b, #1] unaligned");
    RUN(se1, "BE str [b]"); RUN(se2, "BE strh [b, #6]");

    RUN(p1, "ldr =0x5eed1e55 (literal)");
    RUN(p2, "ldr [pc, #-8] (itself)");
    return 0;
}
