/*
 * lpae.c — the long-descriptor translation table format (LPAE, ARM ARM B3.6) of the
 * Cortex-A15: walks from level 1 and level 2, blocks of 1 GiB and 2 MiB and 4 KiB pages,
 * table attributes (APTable, XNTable, PXNTable), the access flag, AP[2:1], XN and PXN, the
 * TTBR0/TTBR1 split by TTBCR.T0SZ/T1SZ with the gap between them and EPD, 64-bit TTBRs
 * (MCRR/MRRC), and what a fault leaves: the long-descriptor fault status in DFSR/IFSR
 * (bit 9 set; STATUS 0b0001LL translation, 0b0010LL access flag, 0b0011LL permission at
 * level LL, 0b100001 alignment) and the 64-bit PAR of the address translation operations
 * (ATTR from MAIR, SH, NS, or F with the status). The Cortex-A9 has no LPAE (ID_MMFR0's
 * VMSA field is 3): there the test only says so.
 *
 * Physical addresses above 4 GiB: with 3 GiB of RAM (0x80000000-0x13fffffff) blocks and
 * pages there, two windows onto the same bytes, the 64-bit PAR of such mappings, and a
 * block where there is no RAM.
 *
 * fwtest: vexpress-a15 -m 3G
 */
#include "test.h"
#include "sys.h"
#include "mmu.h"

typedef unsigned long long u64;

static u64 l1[4] __attribute__((aligned(32)));
static u64 l2_low[512] __attribute__((aligned(4096)));  /* VA 0x00000000-0x3fffffff */
static u64 l2_test[512] __attribute__((aligned(4096))); /* VA 0x40000000-0x7fffffff */
static u64 l2_ram[512] __attribute__((aligned(4096)));  /* VA 0x80000000-0xbfffffff */
static u64 l3a[512] __attribute__((aligned(4096)));
static u64 l3b[512] __attribute__((aligned(4096)));
static u64 l1_hi[2] __attribute__((aligned(32)));        /* TTBR1's table when T1SZ = 1 */

#define S(off) (SCRATCH_PA + (off))

/* Descriptor bits (B3.6.1, B3.6.2) */
#define D_TABLE       3ull
#define D_BLOCK       1ull
#define D_PAGE        3ull
#define D_ATTR(i)     ((u64)(i) << 2)
#define D_NS          (1ull << 5)
#define D_AP(ap)      ((u64)(ap) << 6) /* AP[2:1]: 0 PL1 RW, 1 RW, 2 PL1 RO, 3 RO */
#define D_SH(sh)      ((u64)(sh) << 8)
#define D_AF          (1ull << 10)
#define D_NG          (1ull << 11)
#define D_PXN         (1ull << 53)
#define D_XN          (1ull << 54)
#define T_PXN         (1ull << 59)
#define T_XN          (1ull << 60)
#define T_AP(ap)      ((u64)(ap) << 61)
#define NORMAL        (D_ATTR(0) | D_SH(3) | D_AF)

#define V_BLOCK  0x40000000u /* 2 MiB block, RW at PL0 and PL1 */
#define V_PAGES  0x40200000u /* level 3 table l3a */
#define V_NOAF2  0x40400000u /* block without the access flag */
#define V_NONE2  0x40600000u /* invalid at level 2 */
#define V_APT    0x40800000u /* table with APTable = 2 (read-only below) -> l3b */
#define V_XNT    0x40a00000u /* table with XNTable -> l3b */
#define V_APT1   0x40c00000u /* table with APTable = 1 (no PL0 below) -> l3b */
#define V_PXNT   0x40e00000u /* table with PXNTable -> l3b */
#define V_DEV    0x41000000u /* block with AttrIndx 1, SH 2 */
#define V_GIB    0xc0000000u /* 1 GiB block at level 1 -> RAM */
#define V_HI     0x41200000u /* 2 MiB block at PA 0x100000000 (RAM, 2 GiB in) */
#define V_HI2    0x41400000u /* the same block again */
#define V_NORAM  0x41800000u /* 2 MiB block at PA 0x200000000: no RAM there */
#define V_END    0x41a00000u /* 2 MiB block at PA 0x13fe00000, the end of RAM */

static void mcrr_ttbr0(u64 v) { __asm__ volatile("mcrr p15, 0, %Q0, %R0, c2" : : "r"(v) : "memory"); }
static void mcrr_ttbr1(u64 v) { __asm__ volatile("mcrr p15, 1, %Q0, %R0, c2" : : "r"(v) : "memory"); }
static u64 mrrc_ttbr0(void) { u64 v; __asm__ volatile("mrrc p15, 0, %Q0, %R0, c2" : "=r"(v)); return v; }
static u64 mrrc_ttbr1(void) { u64 v; __asm__ volatile("mrrc p15, 1, %Q0, %R0, c2" : "=r"(v)); return v; }
static u64 mrrc_par(void) { u64 v; __asm__ volatile("mrrc p15, 0, %Q0, %R0, c7" : "=r"(v)); return v; }

static void put_code(u32 pa, u32 mark8)
{
    ((volatile u32 *)pa)[0] = PROBE_CODE0(mark8);
    ((volatile u32 *)pa)[1] = PROBE_CODE1;
}

enum op { LDR, STR, EXEC, ULDR, USTR, UEXEC, LDRH_ODD };
static const char *const op_names[] = { "ldr", "str", "exec", "usr ldr", "usr str", "usr exec", "ldrh odd" };

static void try(const char *what, enum op op, u32 va)
{
    int r = 0, load = 1;
    switch (op) {
    case LDR: r = probe_ldr(va); break;
    case STR: r = probe_str(va, 0x5a5a5a5a); load = 0; break;
    case EXEC: r = probe_exec(va); break;
    case ULDR: r = probe_ldr_usr(va); load = 0; break;
    case USTR: r = probe_str_usr(va, 0x5a5a5a5a); load = 0; break;
    case UEXEC: r = probe_exec_usr(va); break;
    case LDRH_ODD: r = probe_ldrh(va + 1); break;
    }
    printf("%-22s %-8s %08x", what, op_names[op], va);
    probe_show(r, load);
    printf("\n");
}

static void all(const char *what, u32 va)
{
    for (int op = LDR; op <= UEXEC; op++)
        try(what, (enum op)op, va);
}

static void show_par(const char *what, u32 va)
{
    u64 p[4];
    u32 ops[4] = { 0, 1, 2, 3 };
    for (int i = 0; i < 4; i++) {
        switch (ops[i]) {
        case 0: ats1cpr(va); break;
        case 1: ats1cpw(va); break;
        case 2: ats1cur(va); break;
        default: ats1cuw(va); break;
        }
        p[i] = mrrc_par();
    }
    printf("%-22s %08x PAR: cpr=%08x%08x cpw=%08x%08x cur=%08x%08x cuw=%08x%08x\n", what, va,
           (u32)(p[0] >> 32), (u32)p[0], (u32)(p[1] >> 32), (u32)p[1], (u32)(p[2] >> 32),
           (u32)p[2], (u32)(p[3] >> 32), (u32)p[3]);
}

static void lpae_on(u32 ttbcr)
{
    dsb();
    CP15_WR(0, c2, c0, 2, ttbcr);
    tlb_inv_all();
    CP15_WR(0, c1, c0, 0, CP15_RD(0, c1, c0, 0) | 1);
    isb();
}

int main(void)
{
    u32 mmfr0 = CP15_RD(0, c0, c1, 4);
    if ((mmfr0 & 0xf) < 5) {
        printf("ID_MMFR0 %08x: VMSA %u, no long-descriptor format on this core\n", mmfr0, mmfr0 & 0xf);
        return 0;
    }
    probe_init();
    put_code(S(0x000800), 0x11);
    put_code(S(0x200800), 0x22);
    put_code(S(0x201800), 0x23);
    *(volatile u32 *)S(0x000000) = 0x10101010;
    *(volatile u32 *)S(0x200000) = 0x20202020;
    *(volatile u32 *)S(0x201000) = 0x20212021;
    __asm__ volatile("dsb\n\tmcr p15, 0, %0, c7, c5, 0\n\tdsb\n\tisb" : : "r"(0) : "memory");

    /* Identity: low 1 GiB (devices, PL1 only, XN) and RAM (RW everywhere) as 2 MiB blocks */
    for (u32 i = 0; i < 512; i++) {
        l2_low[i] = ((u64)i << 21) | D_BLOCK | D_ATTR(1) | D_AF | D_AP(0) | D_XN | D_PXN;
        l2_ram[i] = (0x80000000ull + ((u64)i << 21)) | D_BLOCK | NORMAL | D_AP(1);
        l2_test[i] = 0;
        l3a[i] = l3b[i] = 0;
    }
    l1[0] = (u32)l2_low | D_TABLE;
    l1[1] = (u32)l2_test | D_TABLE;
    l1[2] = (u32)l2_ram | D_TABLE;
    l1[3] = 0x80000000ull | D_BLOCK | NORMAL | D_AP(1) | D_NG;

    l2_test[0] = S(0) | D_BLOCK | NORMAL | D_AP(1);
    l2_test[1] = (u32)l3a | D_TABLE;
    l2_test[2] = S(0) | D_BLOCK | D_ATTR(0) | D_AP(1);          /* AF = 0 */
    l2_test[4] = (u32)l3b | D_TABLE | T_AP(2);
    l2_test[5] = (u32)l3b | D_TABLE | T_XN;
    l2_test[6] = (u32)l3b | D_TABLE | T_AP(1);
    l2_test[7] = (u32)l3b | D_TABLE | T_PXN;
    l2_test[8] = S(0) | D_BLOCK | D_ATTR(1) | D_SH(2) | D_AF | D_AP(1) | D_NS;
    l3a[0] = S(0x200000) | D_PAGE | NORMAL | D_AP(1);
    /* l3a[1] invalid */
    l3a[2] = S(0x200000) | D_PAGE | D_ATTR(0) | D_AP(1);        /* AF = 0 */
    l3a[3] = S(0x200000) | D_PAGE | NORMAL | D_AP(2);           /* PL1 read-only */
    l3a[4] = S(0x200000) | D_PAGE | NORMAL | D_AP(0);           /* PL1 only */
    l3a[5] = S(0x200000) | D_PAGE | NORMAL | D_AP(1) | D_XN;
    l3a[6] = S(0x200000) | D_PAGE | NORMAL | D_AP(1) | D_PXN;
    l3a[7] = S(0x200000) | 1 | NORMAL | D_AP(1);                /* 01 at level 3: reserved */
    l3a[8] = S(0x200000) | D_PAGE | NORMAL | D_AP(3);           /* read-only for both */
    l3b[1] = S(0x201000) | D_PAGE | NORMAL | D_AP(1);
    dsb();

    /* MAIR0: attr0 Normal write-back, attr1 Device; MAIR1 arbitrary, for PAR.ATTR */
    CP15_WR(0, c10, c2, 0, 0x000004ffu);
    CP15_WR(0, c10, c2, 1, 0x44aa00bbu);
    mcrr_ttbr0((u64)(u32)l1 | (0x5aull << 48));
    u64 t0 = mrrc_ttbr0();
    printf("TTBR0 %08x%08x TTBR0 (32-bit) %08x\n", (u32)(t0 >> 32), (u32)t0, CP15_RD(0, c2, c0, 0));
    lpae_on(0x80000000u); /* EAE, T0SZ = T1SZ = 0: TTBR0 translates everything */
    printf("TTBCR %08x\n", CP15_RD(0, c2, c0, 2));

    all("2M block", V_BLOCK);
    all("4K page", V_PAGES + 0x0000);
    all("invalid L3", V_PAGES + 0x1000);
    all("AF=0 page", V_PAGES + 0x2000);
    all("AP=2 page", V_PAGES + 0x3000);
    all("AP=0 page", V_PAGES + 0x4000);
    all("XN page", V_PAGES + 0x5000);
    all("PXN page", V_PAGES + 0x6000);
    all("reserved L3", V_PAGES + 0x7000);
    all("AP=3 page", V_PAGES + 0x8000);
    all("AF=0 block", V_NOAF2);
    all("invalid L2", V_NONE2);
    all("APTable=2", V_APT + 0x1000);
    all("XNTable", V_XNT + 0x1000);
    all("APTable=1", V_APT1 + 0x1000);
    all("PXNTable", V_PXNT + 0x1000);
    try("1G block", LDR, V_GIB + (S(0) - 0x80000000u));
    try("alignment", LDRH_ODD, V_BLOCK);
    CP15_WR(0, c1, c0, 0, CP15_RD(0, c1, c0, 0) | 2); /* SCTLR.A */
    try("alignment, A=1", LDRH_ODD, V_BLOCK);
    CP15_WR(0, c1, c0, 0, CP15_RD(0, c1, c0, 0) & ~2u);
    show_par("2M block", V_BLOCK + 0x1234);
    show_par("4K page", V_PAGES + 0x0abc);
    show_par("device, NS", V_DEV + 0x10);
    show_par("1G block", V_GIB + 0x123456);
    show_par("invalid L3", V_PAGES + 0x1000);
    show_par("AP=2 page", V_PAGES + 0x3000);
    show_par("AF=0 block", V_NOAF2);
    show_par("APTable=1", V_APT1 + 0x1000);

    /* Above 4 GiB */
    l2_test[9] = 0x100000000ull | D_BLOCK | NORMAL | D_AP(1);
    l2_test[10] = 0x100000000ull | D_BLOCK | NORMAL | D_AP(1);
    l2_test[12] = 0x200000000ull | D_BLOCK | NORMAL | D_AP(1);
    dsb();
    tlb_inv_all();
    volatile u32 *hi = (volatile u32 *)V_HI, *hi2 = (volatile u32 *)V_HI2;
    hi[0] = 0xc0ffee01;
    hi[0x1ffffc / 4] = 0xc0ffee02;
    printf("above 4G: %08x %08x, through the other window %08x %08x\n", hi[0], hi[0x1ffffc / 4],
           hi2[0], hi2[0x1ffffc / 4]);
    l3a[9] = 0x13ffff000ull | D_PAGE | NORMAL | D_AP(1); /* the last page of RAM */
    l3a[10] = 0x100000000ull | D_PAGE | NORMAL | D_AP(3);
    dsb();
    tlb_inv_all();
    *(volatile u32 *)(V_PAGES + 0x9ffc) = 0xc0ffee03;
    printf("page above 4G %08x\n", *(volatile u32 *)(V_PAGES + 0xa000));
    l2_test[13] = 0x13fe00000ull | D_BLOCK | NORMAL | D_AP(1); /* the last 2 MiB of RAM */
    dsb();
    tlb_inv_all();
    printf("last word of RAM through a block %08x\n", *(volatile u32 *)(V_END + 0x1ffffc));
    try("PA 100000000", LDR, V_HI);
    try("PA 100000000", STR, V_HI + 8);
    try("page above 4G", LDR, V_PAGES + 0x9ffc);
    try("page above 4G AP=3", STR, V_PAGES + 0xa000);
    try("no RAM", LDR, V_NORAM);
    try("no RAM", STR, V_NORAM);
    try("no RAM", LDR, V_NORAM);
    show_par("PA 100000000", V_HI + 0x1234);
    show_par("page above 4G", V_PAGES + 0x9010);
    show_par("page above 4G AP=3", V_PAGES + 0xa010);
    show_par("no RAM", V_NORAM + 0x20);

    /* T0SZ = 1, T1SZ = 1: TTBR0 the low 2 GiB, TTBR1 the high 2 GiB, each from level 1
     * with two entries. */
    CP15_WR(0, c1, c0, 0, CP15_RD(0, c1, c0, 0) & ~1u);
    l1_hi[0] = (u32)l2_ram | D_TABLE;   /* VA 0x80000000 */
    l1_hi[1] = 0x80000000ull | D_BLOCK | NORMAL | D_AP(1);
    mcrr_ttbr1((u64)(u32)l1_hi | (0x33ull << 48));
    u64 t1 = mrrc_ttbr1();
    printf("TTBR1 %08x%08x\n", (u32)(t1 >> 32), (u32)t1);
    lpae_on(0x80010001u);
    try("T0SZ=1 low", LDR, V_BLOCK);
    try("T1SZ=1 high", LDR, V_GIB + (S(0) - 0x80000000u));
    show_par("T1SZ=1 high", V_GIB + 0x10);
    /* T0SZ = 2, T1SZ = 1: TTBR0 the low 1 GiB (its table starts at level 2), TTBR1 the
     * high 2 GiB (where this code runs); between them, 0x40000000-0x7fffffff, a gap. */
    CP15_WR(0, c1, c0, 0, CP15_RD(0, c1, c0, 0) & ~1u);
    mcrr_ttbr0((u64)(u32)l2_low);
    lpae_on(0x80010002u);
    try("gap", LDR, V_BLOCK);
    try("gap", STR, V_BLOCK + 0x3000000);
    try("T0SZ=2 low", LDR, 0x10000000u);
    show_par("gap", V_BLOCK);
    show_par("T0SZ=2 low", 0x10000020u);
    /* EPD0: TTBR0's walks disabled (T0SZ = T1SZ = 1) */
    CP15_WR(0, c1, c0, 0, CP15_RD(0, c1, c0, 0) & ~1u);
    mcrr_ttbr0((u64)(u32)l1);
    lpae_on(0x80010081u);
    try("EPD0", LDR, V_BLOCK);
    show_par("EPD0", V_BLOCK);
    show_par("EPD0, TTBR1", V_GIB + 0x10);
    CP15_WR(0, c1, c0, 0, CP15_RD(0, c1, c0, 0) & ~1u);
    CP15_WR(0, c2, c0, 2, 0);
    tlb_inv_all();
    printf("TTBCR after %08x, PAR low word %08x\n", CP15_RD(0, c2, c0, 2), CP15_RD(0, c7, c4, 0));
    return 0;
}
