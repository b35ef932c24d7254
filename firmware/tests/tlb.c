/*
 * tlb.c — TLB maintenance and ASIDs (ARM ARM B3.10, B4.2.2).
 *
 * Each step changes a translation table entry that has been used (so the
 * old translation may be cached), performs one TLB maintenance operation
 * and then reads through the VA: the new mapping must be seen. What a read
 * sees *before* the invalidation is architecturally UNKNOWN (the TLB may
 * or may not hold the old entry), so such reads are never printed.
 *   TLBIMVA, TLBIMVAA, TLBIASID, TLBIALL and their Inner Shareable forms
 *   (c8, c3), the data-side forms DTLBIMVA/DTLBIALL (c8, c6) for data and
 *   ITLBIMVA/ITLBIALL (c8, c5) for an instruction fetch;
 *   a section changed and invalidated by an MVA in the middle of it (an
 *   entry covering 1 MiB must go whatever address inside it is named);
 *   a supersection the same way;
 *   non-global (nG) pages and ASIDs in CONTEXTIDR: a change made while
 *   another ASID is current is seen at once under a new ASID; TLBIASID
 *   and TLBIMVA with an ASID make it seen under the old one;
 *   switching TTBR0 between two tables (with TLBIALL).
 * Each read target holds its own marker, printed as the page name (P1..).
 */
#include "test.h"
#include "sys.h"
#include "mmu.h"

static u32 l1[4096] __attribute__((aligned(16384)));
static u32 l1_other[4096] __attribute__((aligned(16384)));
static u32 l2[256] __attribute__((aligned(1024)));
#define S(off) (SCRATCH_PA + (off))

/* Physical pages P1..P8 at S(n * 0x1000); sections Q1..Q3 at S(n MiB). */
#define P(n) S((u32)(n) * 0x1000)
#define Q(n) S((u32)(n) * 0x100000)
#define MARKP(n) (0x9a9e0000u | (n))
#define MARKQ(n) (0x5ec70000u | (n))

#define VA_PAGE   0x42000000 /* global small page (l2[0]) */
#define VA_NG     0x42001000 /* non-global small page (l2[1]) */
#define VA_CODE   0x42002000 /* small page holding code (l2[2]) */
#define VA_SECT   0x40000000 /* section */
#define VA_SUPER  0x41000000 /* supersection */

static void rd(const char *what, u32 va)
{
    u32 v = *(volatile u32 *)va;
    const char *name = "?";
    char buf[4] = { 'P', '0', 0, 0 };
    if ((v & 0xffff0000) == 0x9a9e0000) {
        buf[0] = 'P';
        buf[1] = (char)('0' + (v & 0xf));
        name = buf;
    } else if ((v & 0xffff0000) == 0x5ec70000) {
        buf[0] = 'Q';
        buf[1] = (char)('0' + (v & 0xf));
        name = buf;
    }
    if (name[0] == '?')
        printf("%-44s %08x -> unexpected %08x\n", what, va, v);
    else
        printf("%-44s %08x -> %s\n", what, va, name);
}

static void exec(const char *what, u32 va)
{
    printf("%-44s %08x ->", what, va);
    probe_show(probe_exec(va), 1);
    printf("\n");
}

static void set_page(u32 idx, u32 pa, u32 extra)
{
    l2[idx] = pa | PG_NORMAL | PG_AP(3) | PG | extra;
    dsb();
}

static void set_asid(u32 procid, u32 asid)
{
    /* ARM ARM B3.10.4: change ASID with a DSB/ISB around it */
    dsb();
    CP15_WR(0, c13, c0, 1, (procid << 8) | asid);
}

#define TLBOP(crm, op2, val)                                                 \
    __asm__ volatile("mcr p15, 0, %0, c8, " #crm ", " #op2 "\n\tdsb\n\tisb"  \
                     : : "r"(val) : "memory")

int main(void)
{
    probe_init();
    for (u32 n = 1; n <= 8; n++)
        *(volatile u32 *)P(n) = MARKP(n);
    for (u32 n = 1; n <= 3; n++)
        *(volatile u32 *)Q(n) = MARKQ(n);
    /* code pages: P9 returns 9, P10 returns 10 */
    ((volatile u32 *)P(9))[0] = PROBE_CODE0(9);
    ((volatile u32 *)P(9))[1] = PROBE_CODE1;
    ((volatile u32 *)P(10))[0] = PROBE_CODE0(10);
    ((volatile u32 *)P(10))[1] = PROBE_CODE1;
    __asm__ volatile("dsb\n\tmcr p15, 0, %0, c7, c5, 0\n\tdsb\n\tisb" : : "r"(0) : "memory");

    mmu_identity(l1);
    l1[VA_PAGE >> 20] = (u32)l2 | PT;
    for (u32 i = 0; i < 256; i++)
        l2[i] = 0;
    set_page(0, P(1), 0);
    set_page(1, P(1), PG_NG);
    set_page(2, P(9), 0);
    mmu_section(l1, VA_SECT, Q(1), SEC_NORMAL | SEC_AP(3));
    /* supersection onto the 16 MiB at SCRATCH_PA (Q1 is at +1 MiB) */
    for (u32 i = 0; i < 16; i++)
        l1[(VA_SUPER >> 20) + i] = (SCRATCH_PA & 0xff000000) | SEC_SUPER | SEC_NORMAL |
                                   SEC_AP(3) | SEC;
    set_asid(0, 1);
    mmu_on(l1, 0x1);
    printf("CONTEXTIDR=%08x\n", CP15_RD(0, c13, c0, 1));

    /* --- global page --- */
    rd("page", VA_PAGE);
    set_page(0, P(2), 0);
    TLBOP(c7, 1, VA_PAGE | 1); /* TLBIMVA (the ASID does not matter: global) */
    rd("-> P2, TLBIMVA", VA_PAGE);
    set_page(0, P(3), 0);
    TLBOP(c7, 3, VA_PAGE); /* TLBIMVAA */
    rd("-> P3, TLBIMVAA", VA_PAGE);
    set_page(0, P(4), 0);
    TLBOP(c7, 0, 0); /* TLBIALL */
    rd("-> P4, TLBIALL", VA_PAGE);
    set_page(0, P(5), 0);
    TLBOP(c3, 1, VA_PAGE | 7); /* TLBIMVAIS */
    rd("-> P5, TLBIMVAIS", VA_PAGE);
    set_page(0, P(6), 0);
    TLBOP(c3, 0, 0); /* TLBIALLIS */
    rd("-> P6, TLBIALLIS", VA_PAGE);
    set_page(0, P(7), 0);
    TLBOP(c6, 1, VA_PAGE | 1); /* DTLBIMVA */
    rd("-> P7, DTLBIMVA", VA_PAGE);
    set_page(0, P(8), 0);
    TLBOP(c6, 0, 0); /* DTLBIALL */
    rd("-> P8, DTLBIALL", VA_PAGE);
    set_page(0, P(1), 0);
    TLBOP(c3, 3, VA_PAGE); /* TLBIMVAAIS */
    rd("-> P1, TLBIMVAAIS", VA_PAGE);

    /* --- instruction side --- */
    exec("code page (P9: returns 9)", VA_CODE);
    set_page(2, P(10), 0);
    TLBOP(c5, 1, VA_CODE | 1); /* ITLBIMVA */
    __asm__ volatile("mcr p15, 0, %0, c7, c5, 6\n\tisb" : : "r"(0)); /* BPIALL */
    exec("-> P10, ITLBIMVA", VA_CODE);
    set_page(2, P(9), 0);
    TLBOP(c5, 0, 0); /* ITLBIALL */
    __asm__ volatile("mcr p15, 0, %0, c7, c5, 6\n\tisb" : : "r"(0));
    exec("-> P9, ITLBIALL", VA_CODE);

    /* --- section and supersection, invalidated by an inner MVA --- */
    rd("section +0", VA_SECT);
    mmu_section(l1, VA_SECT, Q(2), SEC_NORMAL | SEC_AP(3));
    dsb();
    TLBOP(c7, 1, VA_SECT + 0x80000); /* TLBIMVA, middle of the section */
    rd("-> Q2, TLBIMVA at +0x80000, read +0", VA_SECT);
    mmu_section(l1, VA_SECT, Q(3), SEC_NORMAL | SEC_AP(3));
    dsb();
    TLBOP(c7, 3, VA_SECT + 0xff000); /* TLBIMVAA, last page of it */
    rd("-> Q3, TLBIMVAA at +0xff000, read +0", VA_SECT);
    rd("supersection +1 MiB", VA_SUPER + 0x100000);
    for (u32 i = 0; i < 16; i++)
        l1[(VA_SUPER >> 20) + i] = ((SCRATCH_PA + 0x01000000) & 0xff000000) | SEC_SUPER |
                                   SEC_NORMAL | SEC_AP(3) | SEC;
    /* the new supersection covers the 16 MiB after SCRATCH_PA: mark it */
    *(volatile u32 *)(SCRATCH_PA + 0x01100000) = MARKQ(9);
    dsb();
    TLBOP(c7, 1, VA_SUPER + 0x00a00000 + 1); /* TLBIMVA, 10 MiB in */
    rd("-> Q9 (next 16 MiB), TLBIMVA at +10 MiB", VA_SUPER + 0x100000);

    /* --- ASIDs with a non-global page --- */
    rd("nG page, ASID 1", VA_NG);          /* P1, cached under ASID 1 */
    set_page(1, P(2), PG_NG);
    set_asid(0, 2);
    rd("-> P2, no invalidation, ASID 2", VA_NG); /* nothing cached for 2 */
    set_page(1, P(3), PG_NG);
    TLBOP(c7, 2, 2); /* TLBIASID 2 */
    rd("-> P3, TLBIASID 2", VA_NG);
    set_asid(0, 1);
    TLBOP(c7, 2, 1); /* TLBIASID 1: the P1 entry of ASID 1 goes */
    rd("   back to ASID 1, TLBIASID 1", VA_NG);
    set_page(1, P(4), PG_NG);
    TLBOP(c7, 1, VA_NG | 1); /* TLBIMVA with ASID 1 */
    rd("-> P4, TLBIMVA ASID 1", VA_NG);
    set_page(1, P(5), PG_NG);
    TLBOP(c3, 2, 1); /* TLBIASIDIS 1 */
    rd("-> P5, TLBIASIDIS 1", VA_NG);
    set_asid(0x123456, 0xfe);
    printf("CONTEXTIDR=%08x (PROCID 123456, ASID fe)\n", CP15_RD(0, c13, c0, 1));
    rd("   ASID fe", VA_NG);
    set_asid(0, 1);

    /* --- TTBR0 switch --- */
    for (u32 i = 0; i < 4096; i++)
        l1_other[i] = l1[i];
    mmu_section(l1_other, VA_SECT, Q(1), SEC_NORMAL | SEC_AP(3));
    rd("section in table 1", VA_SECT);
    CP15_WR(0, c2, c0, 0, l1_other);
    TLBOP(c7, 0, 0);
    rd("-> Q1, TTBR0 = table 2, TLBIALL", VA_SECT);
    CP15_WR(0, c2, c0, 0, l1);
    TLBOP(c7, 0, 0);
    rd("-> Q3, TTBR0 = table 1, TLBIALL", VA_SECT);

    mmu_off();
    return 0;
}
