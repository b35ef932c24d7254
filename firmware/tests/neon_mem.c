/*
 * neon_mem.c — Advanced SIMD element and structure loads and stores (ARM ARM A7.7, and
 * A8.8's VLD1-VLD4 and VST1-VST4: multiple structures, one lane, all lanes),
 * with writeback (`!`) and register post-index, and the faults they take:
 *   - an `:align` qualifier the address does not meet: Alignment fault (DFSR 0x001, 0x801
 *     for a store) whatever SCTLR.A says;
 *   - SCTLR.A set and an element not aligned to its size: Alignment fault;
 *   - a structure running from a mapped page into an unmapped one: Translation fault at
 *     the first element in the unmapped page (DFAR), with the elements before it already
 *     transferred (registers loaded, memory written) and no writeback.
 * For each instruction: D0-D7 preloaded with a pattern, the instruction with r1 = the
 * address (and r4 = the post-index), then the outcome (ok or the abort), how far r1 moved,
 * and D0-D7 (loads) or the bytes around the destination (stores).
 */
#include "test.h"
#include "sys.h"
#include "mmu.h"

static u32 l1[4096] __attribute__((aligned(16384)));
static u32 l2[256] __attribute__((aligned(1024)));

#define SRC    (SCRATCH_PA + 0x1000) /* 256 bytes of i*7+3 */
#define DST    (SCRATCH_PA + 0x2000) /* stores go here, cleared to 0x5a first */
#define P_EDGE 0x42006000u           /* a mapped page (to SCRATCH + 0x6000), no page after it */

static u32 fill[16] __attribute__((aligned(8)));
static u32 dump[16] __attribute__((aligned(8)));
static u32 moved;

#define NEON_PROBE(name, insn)                                                   \
    static int name(u32 va, u32 rm)                                              \
    {                                                                            \
        probe_start();                                                           \
        register u32 r1 __asm__("r1") = va;                                      \
        register u32 r2 __asm__("r2") = (u32)fill;                               \
        register u32 r3 __asm__("r3") = (u32)dump;                               \
        register u32 r4 __asm__("r4") = rm;                                      \
        __asm__ volatile(".fpu neon\n\tvldm r2, {d0-d7}\n\t" insn                \
                         "\n\tvstm r3, {d0-d7}"                                  \
                         : "+r"(r1)                                              \
                         : "r"(r2), "r"(r3), "r"(r4)                             \
                         : "memory");                                            \
        moved = r1 - va;                                                         \
        return probe_end(0, 0);                                                  \
    }

/* Loads: multiple structures */
NEON_PROBE(vld1_8_1, "vld1.8 {d0}, [r1]")
NEON_PROBE(vld1_16_2_wb, "vld1.16 {d0-d1}, [r1]!")
NEON_PROBE(vld1_32_3_rm, "vld1.32 {d0-d2}, [r1], r4")
NEON_PROBE(vld1_64_4_a256, "vld1.64 {d0-d3}, [r1:256]")
NEON_PROBE(vld2_8, "vld2.8 {d0-d1}, [r1]")
NEON_PROBE(vld2_16_sp_a128_wb, "vld2.16 {d0, d2}, [r1:128]!")
NEON_PROBE(vld2_32_q, "vld2.32 {d0-d3}, [r1]")
NEON_PROBE(vld3_8_wb, "vld3.8 {d0-d2}, [r1]!")
NEON_PROBE(vld3_16_sp_a64, "vld3.16 {d0, d2, d4}, [r1:64]")
NEON_PROBE(vld4_8, "vld4.8 {d0-d3}, [r1]")
NEON_PROBE(vld4_32_sp_a256_rm, "vld4.32 {d0, d2, d4, d6}, [r1:256], r4")
/* Loads: one lane */
NEON_PROBE(vld1_lane8, "vld1.8 {d0[3]}, [r1]")
NEON_PROBE(vld1_lane32_a32, "vld1.32 {d1[1]}, [r1:32]")
NEON_PROBE(vld2_lane16_wb, "vld2.16 {d0[1], d1[1]}, [r1]!")
NEON_PROBE(vld3_lane8, "vld3.8 {d0[7], d1[7], d2[7]}, [r1]")
NEON_PROBE(vld4_lane32_a128, "vld4.32 {d0[1], d1[1], d2[1], d3[1]}, [r1:128]")
NEON_PROBE(vld4_lane16_sp_a64, "vld4.16 {d0[2], d2[2], d4[2], d6[2]}, [r1:64]")
/* Loads: all lanes */
NEON_PROBE(vld1_dup8, "vld1.8 {d0[]}, [r1]")
NEON_PROBE(vld1_dup32_2_a32_wb, "vld1.32 {d0[], d1[]}, [r1:32]!")
NEON_PROBE(vld2_dup16, "vld2.16 {d0[], d1[]}, [r1]")
NEON_PROBE(vld3_dup32, "vld3.32 {d0[], d1[], d2[]}, [r1]")
NEON_PROBE(vld4_dup8_a32, "vld4.8 {d0[], d1[], d2[], d3[]}, [r1:32]")
/* Stores */
NEON_PROBE(vst1_8_4, "vst1.8 {d0-d3}, [r1]")
NEON_PROBE(vst2_16_wb, "vst2.16 {d0-d1}, [r1]!")
NEON_PROBE(vst3_32_sp, "vst3.32 {d0, d2, d4}, [r1]")
NEON_PROBE(vst4_8_a64, "vst4.8 {d0-d3}, [r1:64]")
NEON_PROBE(vst1_lane16, "vst1.16 {d0[2]}, [r1]")
NEON_PROBE(vst2_lane8_rm, "vst2.8 {d0[5], d1[5]}, [r1], r4")
NEON_PROBE(vst3_lane16, "vst3.16 {d0[3], d1[3], d2[3]}, [r1]")
NEON_PROBE(vst4_lane16_a64, "vst4.16 {d0[1], d1[1], d2[1], d3[1]}, [r1:64]")
NEON_PROBE(vst1_64_2_a128, "vst1.64 {d0-d1}, [r1:128]")
NEON_PROBE(vld1_64_1, "vld1.64 {d0}, [r1]")
NEON_PROBE(vld1_32_1, "vld1.32 {d0}, [r1]")
NEON_PROBE(vld1_32_4, "vld1.32 {d0-d3}, [r1]")
NEON_PROBE(vld4_8_wb, "vld4.8 {d0-d3}, [r1]!")

static void show(const char *what, int r, int store, u32 at)
{
    printf("%-24s", what);
    probe_show(r, 0);
    printf(" moved=%u\n  ", moved);
    if (store) {
        for (u32 i = 0; i < 48; i++)
            printf("%02x", ((volatile u8 *)at)[i]);
    } else {
        for (u32 i = 0; i < 16; i++)
            printf("%08x%s", dump[i], i % 2 ? " " : "");
    }
    printf("\n");
}

#define LOAD(fn, va, rm) show(#fn, fn(va, rm), 0, 0)
#define STORE(fn, va, rm, at) clear(at), show(#fn, fn(va, rm), 1, at)

static void clear(u32 at)
{
    for (u32 i = 0; i < 48; i++)
        ((volatile u8 *)at)[i] = 0x5a;
}

static void sctlr_a(int on)
{
    u32 v = CP15_RD(0, c1, c0, 0);
    v = on ? v | 2 : v & ~2u;
    __asm__ volatile("mcr p15, 0, %0, c1, c0, 0\n\tisb" : : "r"(v) : "memory");
}

int main(void)
{
    probe_init();
    /* Coprocessors 10 and 11 at PL0 and PL1, FPEXC.EN */
    __asm__ volatile("mcr p15, 0, %0, c1, c0, 2\n\tisb" : : "r"(0x00f00000u) : "memory");
    __asm__ volatile(".fpu neon\n\tvmsr fpexc, %0\n\tisb" : : "r"(0x40000000u) : "memory");
    for (u32 i = 0; i < 16; i++)
        fill[i] = 0xd0d0d000u | (i * 0x11);
    for (u32 i = 0; i < 256; i++)
        ((volatile u8 *)SRC)[i] = (u8)(i * 7 + 3);

    printf("-- loads, multiple structures\n");
    LOAD(vld1_8_1, SRC + 1, 0);
    LOAD(vld1_16_2_wb, SRC + 2, 0);
    LOAD(vld1_32_3_rm, SRC + 4, 12);
    LOAD(vld1_64_4_a256, SRC + 32, 0);
    LOAD(vld1_64_4_a256, SRC + 8, 0);
    LOAD(vld2_8, SRC + 5, 0);
    LOAD(vld2_16_sp_a128_wb, SRC + 16, 0);
    LOAD(vld2_16_sp_a128_wb, SRC + 24, 0);
    LOAD(vld2_32_q, SRC + 12, 0);
    LOAD(vld3_8_wb, SRC + 3, 0);
    LOAD(vld3_16_sp_a64, SRC + 8, 0);
    LOAD(vld3_16_sp_a64, SRC + 4, 0);
    LOAD(vld4_8, SRC + 7, 0);
    LOAD(vld4_32_sp_a256_rm, SRC + 64, 0xfffffff0u);
    LOAD(vld4_32_sp_a256_rm, SRC + 80, 4);
    printf("-- loads, one lane\n");
    LOAD(vld1_lane8, SRC + 9, 0);
    LOAD(vld1_lane32_a32, SRC + 20, 0);
    LOAD(vld1_lane32_a32, SRC + 22, 0);
    LOAD(vld2_lane16_wb, SRC + 6, 0);
    LOAD(vld3_lane8, SRC + 11, 0);
    LOAD(vld4_lane32_a128, SRC + 48, 0);
    LOAD(vld4_lane32_a128, SRC + 56, 0);
    LOAD(vld4_lane16_sp_a64, SRC + 40, 0);
    printf("-- loads, all lanes\n");
    LOAD(vld1_dup8, SRC + 13, 0);
    LOAD(vld1_dup32_2_a32_wb, SRC + 28, 0);
    LOAD(vld2_dup16, SRC + 30, 0);
    LOAD(vld3_dup32, SRC + 33, 0);
    LOAD(vld4_dup8_a32, SRC + 36, 0);
    LOAD(vld4_dup8_a32, SRC + 37, 0);
    printf("-- stores\n");
    STORE(vst1_8_4, DST + 3, 0, DST);
    STORE(vst2_16_wb, DST + 2, 0, DST);
    STORE(vst3_32_sp, DST + 4, 0, DST);
    STORE(vst4_8_a64, DST + 8, 0, DST);
    STORE(vst4_8_a64, DST + 4, 0, DST);
    STORE(vst1_lane16, DST + 1, 0, DST);
    STORE(vst2_lane8_rm, DST + 5, 3, DST);
    STORE(vst3_lane16, DST + 6, 0, DST);
    STORE(vst4_lane16_a64, DST + 16, 0, DST);
    STORE(vst4_lane16_a64, DST + 12, 0, DST);
    STORE(vst1_64_2_a128, DST + 16, 0, DST);
    STORE(vst1_64_2_a128, DST + 8, 0, DST);

    printf("-- SCTLR.A = 1: elements must be aligned to their size\n");
    sctlr_a(1);
    LOAD(vld1_8_1, SRC + 1, 0);
    LOAD(vld1_32_1, SRC + 2, 0);
    LOAD(vld1_32_1, SRC + 4, 0);
    LOAD(vld1_64_1, SRC + 4, 0);
    LOAD(vld1_64_1, SRC + 8, 0);
    STORE(vst1_lane16, DST + 1, 0, DST);
    sctlr_a(0);

    printf("-- across a page boundary into an unmapped page (MMU on)\n");
    mmu_identity(l1);
    l1[P_EDGE >> 20] = (u32)l2 | PT_DOM(0) | PT;
    for (u32 i = 0; i < 256; i++)
        l2[i] = 0;
    l2[(P_EDGE >> 12) & 0xff] = (SCRATCH_PA + 0x6000) | PG_NORMAL | PG_AP(3) | PG;
    for (u32 i = 0; i < 64; i++)
        ((volatile u8 *)(SCRATCH_PA + 0x6fc0))[i] = (u8)(0x80 + i);
    mmu_on(l1, 0x00000001);
    LOAD(vld1_32_4, P_EDGE + 0xff0, 0);
    LOAD(vld4_8_wb, P_EDGE + 0xfec, 0);
    STORE(vst1_8_4, P_EDGE + 0xfe8, 0, P_EDGE + 0xfd0);
    STORE(vst4_lane16_a64, P_EDGE + 0xff8, 0, P_EDGE + 0xfd0);
    mmu_off();
    return 0;
}
