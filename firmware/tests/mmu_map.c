/*
 * mmu_map.c — short-descriptor translation (ARM ARM B3.5-B3.7): what a VA
 * maps to and who may access it.
 *
 * The program runs on an identity map of RAM and the devices (mmu.c) and
 * adds test mappings onto scratch RAM (16 MiB into RAM). A word read
 * through a test mapping tells which physical address was reached: before
 * each read the expected PA is written (MMU off or through the identity
 * map) with PA ^ MARK, and the value read is printed as "scratch+offset".
 *   - section (1 MiB), supersection (16 MiB, 16 repeated entries, PAR.SS),
 *     coarse L2 table with 4 KiB small pages and a 64 KiB large page (16
 *     repeated entries), offsets within each;
 *   - TTBR0/TTBR1 with TTBCR.N = 0..3 and 7: VA 0x30000000, 0x50000000 and
 *     0xc0000000 map differently in the two tables; TTBCR.PD0/PD1 turn the
 *     walks off (translation fault);
 *   - domains: DACR no access (domain fault), client (AP checked), manager
 *     (AP ignored), for a section and for a page table's domain;
 *   - AP[2:0] (APX:AP) for every defined value: PL1 read/write, PL0 (User
 *     mode) read/write, and LDRT/STRT from SVC mode;
 *   - XN on a section, a small page and a large page: the branch takes a
 *     prefetch abort; without XN the code there runs, also from User mode
 *     where AP allows it;
 *   - SCTLR.AFE = 1: AP[0] is the access flag (fault when 0), AP[2:1]
 *     the simplified permission model;
 *   - SCTLR.TRE = 1 with Linux's PRRR/NMRR: memory attributes are remapped,
 *     translation itself is unchanged.
 * Faults print DFSR/IFSR (3 hex digits: WnR/ExT and FS with the domain)
 * and DFAR/IFAR. The fault codes themselves are in mmu_fault.c.
 */
#include "test.h"
#include "sys.h"
#include "mmu.h"

#define MARK 0xa5a5a5a5u
static u32 l1[4096] __attribute__((aligned(16384)));
static u32 l1b[4096] __attribute__((aligned(16384)));
static u32 l2a[256] __attribute__((aligned(1024)));
static u32 l2b[256] __attribute__((aligned(1024)));

#define S(off) (SCRATCH_PA + (off))

/* Write the marker at pa (through the identity map, or physically). */
static void mark(u32 pa)
{
    *(volatile u32 *)pa = pa ^ MARK;
}

static void show_val(u32 v)
{
    u32 pa = v ^ MARK;
    if (pa >= SCRATCH_PA && pa < SCRATCH_PA + 0x01000000)
        printf(" -> scratch+%06x", pa - SCRATCH_PA);
    else
        printf(" -> raw %08x", v);
}

/* Read va (expecting it to reach pa, which gets a marker first; pa = 0:
 * the candidates were marked before). */
static void rd(const char *what, u32 va, u32 pa)
{
    if (pa)
        mark(pa);
    printf("%-34s %08x", what, va);
    int r = probe_ldr(va);
    if (r)
        probe_show(r, 1);
    else
        show_val(probe.val);
    printf("\n");
}

static void set_ttbcr(u32 v) { CP15_WR(0, c2, c0, 2, v); tlb_inv_all(); }
static void set_dacr(u32 v) { CP15_WR(0, c3, c0, 0, v); }

/* Access matrix for one VA: PL1 read/write, LDRT/STRT, User read/write. */
static void access_row(const char *what, u32 va)
{
    printf("%-20s", what);
    printf(" pl1 r");
    probe_show(probe_ldr(va), 0);
    printf(" w");
    probe_show(probe_str(va, va), 0);
    printf(" | ldrt");
    probe_show(probe_ldrt(va), 0);
    printf(" strt");
    probe_show(probe_strt(va, va), 0);
    printf(" | usr r");
    probe_show(probe_ldr_usr(va), 0);
    printf(" w");
    probe_show(probe_str_usr(va, va), 0);
    printf("\n");
}

static void exec_row(const char *what, u32 va)
{
    printf("%-26s %08x pl1", what, va);
    probe_show(probe_exec(va), 1);
    printf(" | usr");
    probe_show(probe_exec_usr(va), 1);
    printf("\n");
}

static void put_code(u32 pa, u32 mark8)
{
    ((volatile u32 *)pa)[0] = PROBE_CODE0(mark8);
    ((volatile u32 *)pa)[1] = PROBE_CODE1;
    __asm__ volatile("dsb\n\tmcr p15, 0, %0, c7, c5, 0\n\tdsb\n\tisb" : : "r"(0) : "memory");
}

int main(void)
{
    probe_init();

    /* --- Build the tables (MMU off) --- */
    mmu_identity(l1);
    /* section */
    mmu_section(l1, 0x40000000, S(0x100000), SEC_NORMAL | SEC_AP(3));
    /* supersection: VA 0x41000000-0x41ffffff -> SCRATCH_PA (16 MiB aligned) */
    for (u32 i = 0; i < 16; i++)
        l1[(0x41000000 >> 20) + i] = (SCRATCH_PA & 0xff000000) | SEC_SUPER | SEC_NORMAL |
                                     SEC_AP(3) | SEC;
    /* coarse table at VA 0x42000000: small pages 0, 1, 3 (2 unmapped),
     * a large page at 0x42010000 (entries 16-31) */
    l1[0x420] = (u32)l2a | PT_DOM(0) | PT;
    for (u32 i = 0; i < 256; i++)
        l2a[i] = 0;
    l2a[0] = S(0x200000) | PG_NORMAL | PG_AP(3) | PG;
    l2a[1] = S(0x205000) | PG_NORMAL | PG_AP(3) | PG;
    l2a[3] = S(0x200000) | PG_NORMAL | PG_AP(3) | PG; /* alias of page 0 */
    for (u32 i = 16; i < 32; i++)
        l2a[i] = S(0x210000) | LPG_TEX(1) | PG_C | PG_B | PG_AP(3) | LPG;

    /* AP[2:0] sections at 0x43000000 + ap MiB, all onto one scratch MiB */
    for (u32 ap = 0; ap < 8; ap++)
        mmu_section(l1, 0x43000000 + (ap << 20), S(0x300000), SEC_NORMAL | SEC_AP(ap));

    /* domains: 0x44000000 section in domain 3 (AP = 1: PL1 only);
     * 0x44100000 page table in domain 5 with a page of AP = 1 */
    mmu_section(l1, 0x44000000, S(0x100000), SEC_NORMAL | SEC_AP(1) | SEC_DOM(3));
    l1[0x441] = (u32)l2b | PT_DOM(5) | PT;
    for (u32 i = 0; i < 256; i++)
        l2b[i] = 0;
    l2b[0] = S(0x200000) | PG_NORMAL | PG_AP(1) | PG;

    /* XN: code at S(0x400000) (section), S(0x401000) (small page),
     * S(0x410000) (large page). 0x45000000 section XN, 0x45100000 not XN
     * (both AP = 3); 0x45200000 not XN, AP = 1 (PL1 only); l2b entries
     * 16-31 (VA 0x44110000) large page XN, entry 1 small page XN,
     * entry 2 small page not XN (AP = 3). */
    put_code(S(0x400000), 0x11);
    put_code(S(0x401000), 0x22);
    put_code(S(0x410000), 0x33);
    mmu_section(l1, 0x45000000, S(0x400000), SEC_NORMAL | SEC_AP(3) | SEC_XN);
    mmu_section(l1, 0x45100000, S(0x400000), SEC_NORMAL | SEC_AP(3));
    mmu_section(l1, 0x45200000, S(0x400000), SEC_NORMAL | SEC_AP(1));
    l2b[1] = S(0x401000) | PG_NORMAL | PG_AP(3) | PG | PG_XN;
    l2b[2] = S(0x401000) | PG_NORMAL | PG_AP(3) | PG;
    for (u32 i = 16; i < 32; i++)
        l2b[i] = S(0x410000) | LPG_TEX(1) | PG_C | PG_B | PG_AP(3) | LPG | LPG_XN;

    /* TTBR1 table: the identity map too, but 0x50000000 and 0xc0000000
     * (and 0x30000000) map elsewhere than in TTBR0's table */
    for (u32 i = 0; i < 4096; i++)
        l1b[i] = l1[i];
    mmu_section(l1, 0x30000000, S(0x500000), SEC_NORMAL | SEC_AP(3));
    mmu_section(l1, 0x50000000, S(0x600000), SEC_NORMAL | SEC_AP(3));
    mmu_section(l1, 0xc0000000, S(0x700000), SEC_NORMAL | SEC_AP(3));
    mmu_section(l1b, 0x30000000, S(0x800000), SEC_NORMAL | SEC_AP(3));
    mmu_section(l1b, 0x50000000, S(0x900000), SEC_NORMAL | SEC_AP(3));
    mmu_section(l1b, 0xc0000000, S(0xa00000), SEC_NORMAL | SEC_AP(3));

    /* DACR: domain 0 client, 3 and 5 set per case */
    mmu_on(l1, 0x00000001);
    printf("mmu on: SCTLR=%08x TTBR0=l1 TTBCR=%x DACR=%08x\n", read_sctlr(),
           CP15_RD(0, c2, c0, 2), CP15_RD(0, c3, c0, 0));

    /* --- mappings --- */
    rd("section", 0x40000000, S(0x100000));
    rd("section +0xabcd4", 0x400abcd4, S(0x1abcd4));
    rd("supersection", 0x41000000, S(0x000000));
    rd("supersection +0xabcde8", 0x41abcde8, S(0xabcde8));
    rd("small page 0 +0x10", 0x42000010, S(0x200010));
    rd("small page 1 +0xffc", 0x42001ffc, S(0x205ffc));
    rd("small page 2 (none)", 0x42002000, S(0x202000));
    rd("small page 3 (alias of 0)", 0x42003010, S(0x200010));
    rd("large page +0", 0x42010000, S(0x210000));
    rd("large page +0xfedc", 0x4201fedc, S(0x21fedc));
    rd("large page +0x5554", 0x42015554, S(0x215554));
    rd("unmapped section", 0x4ff00000, S(0x000000));
    /* a write through an alias is seen through the other mapping */
    probe_str(0x42003020, 0x13572468);
    printf("%-34s %08x -> %08x\n", "write via page 3, read via page 0", 0x42000020,
           *(volatile u32 *)0x42000020);

    /* --- TTBR0 / TTBR1 --- */
    CP15_WR(0, c2, c0, 1, l1b);
    static const u32 ns[] = { 0, 1, 2, 3, 7 };
    for (u32 off = 0x500000; off <= 0xa00000; off += 0x100000)
        mark(S(off)); /* TTBR0's targets 5-7, TTBR1's 8-a */
    for (u32 i = 0; i < ARRAY_SIZE(ns); i++) {
        set_ttbcr(ns[i]);
        printf("TTBCR.N=%u:\n", ns[i]);
        rd("  0x30000000", 0x30000000, 0);
        rd("  0x50000000", 0x50000000, 0);
        rd("  0xc0000000", 0xc0000000, 0);
    }
    /* PD0 / PD1 (with N = 2: 0x30000000 via TTBR0, the rest via TTBR1;
     * the code and data are at or above 0x60000000 so stay reachable) */
    set_ttbcr(0x12);
    printf("TTBCR.N=2 PD0=1:\n");
    rd("  0x30000000", 0x30000000, 0);
    rd("  0x50000000", 0x50000000, 0);
    printf("TTBCR read back: %x\n", CP15_RD(0, c2, c0, 2));
    /* PD1 needs the program below the TTBR1 region: with N = 1 that is
     * the A9 board (RAM at 0x60000000) only; the A15's RAM is at
     * 0x80000000, always in TTBR1's region when N > 0. */
    if (!is_a15()) {
        set_ttbcr(0x21);
        printf("TTBCR.N=1 PD1=1:\n");
        rd("  0x50000000", 0x50000000, 0);
        rd("  0xc0000000", 0xc0000000, 0);
    } else {
        printf("TTBCR.N=1 PD1=1: not tested on this board\n");
    }
    set_ttbcr(0x0);

    /* --- domains --- */
    printf("domains (DACR field: 0 no access, 1 client, 3 manager):\n");
    static const u32 dac[] = { 0, 1, 3 };
    for (u32 i = 0; i < 3; i++) {
        set_dacr(0x1 | (dac[i] << 6) | (dac[i] << 10));
        tlb_inv_all();
        printf("  D=%u ", dac[i]);
        access_row("section dom 3, AP=1", 0x44000000);
        printf("  D=%u ", dac[i]);
        access_row("page dom 5, AP=1", 0x44100000);
    }
    set_dacr(0x1 | (1u << 6) | (1u << 10)); /* domains 0, 3, 5: client */
    tlb_inv_all();

    /* --- access permissions --- */
    printf("access permissions (client domain):\n");
    for (u32 ap = 0; ap < 8; ap++) {
        if (ap == 4)
            continue; /* APX=1 AP=00: reserved */
        char name[] = "  AP=0";
        name[5] = (char)('0' + ap);
        access_row(name, 0x43000000 + (ap << 20));
    }

    /* --- XN --- */
    printf("execute:\n");
    exec_row("  section XN", 0x45000000);
    exec_row("  section", 0x45100000);
    exec_row("  section AP=1 (PL1 only)", 0x45200000);
    exec_row("  small page XN", 0x44101000);
    exec_row("  small page", 0x44102000);
    exec_row("  large page XN", 0x44110000);
    exec_row("  unmapped", 0x4ff00000);

    /* --- access flag: SCTLR.AFE = 1 --- */
    printf("SCTLR.AFE=1 (AP[0] = access flag):\n");
    for (u32 ap = 0; ap < 8; ap++)
        mmu_section(l1, 0x43000000 + (ap << 20), S(0x300000), SEC_NORMAL | SEC_AP(ap));
    l2b[3] = S(0x200000) | PG_NORMAL | PG_AP(2) | PG; /* AF = 0 */
    l2b[4] = S(0x200000) | PG_NORMAL | PG_AP(3) | PG; /* AF = 1 */
    write_sctlr(read_sctlr() | (1u << 29));
    tlb_inv_all();
    for (u32 ap = 0; ap < 8; ap++) {
        char name[] = "  AP=0";
        name[5] = (char)('0' + ap);
        access_row(name, 0x43000000 + (ap << 20));
    }
    access_row("  page AF=0", 0x44103000);
    access_row("  page AF=1", 0x44104000);
    write_sctlr(read_sctlr() & ~(1u << 29));
    tlb_inv_all();

    /* --- TEX remap: SCTLR.TRE = 1 with Linux's PRRR/NMRR --- */
    CP15_WR(0, c10, c2, 0, 0xff0a81a8);
    CP15_WR(0, c10, c2, 1, 0x40e040e0);
    write_sctlr(read_sctlr() | (1u << 28));
    tlb_inv_all();
    printf("SCTLR.TRE=1 sctlr=%08x PRRR=%08x NMRR=%08x\n", read_sctlr(), CP15_RD(0, c10, c2, 0),
           CP15_RD(0, c10, c2, 1));
    for (u32 idx = 0; idx < 8; idx++) {
        /* TEX[0]:C:B = idx */
        u32 attrs = ((idx >> 2) ? SEC_TEX(1) : 0) | ((idx & 2) ? SEC_C : 0) |
                    ((idx & 1) ? SEC_B : 0);
        mmu_section(l1, 0x40000000, S(0x100000), attrs | SEC_AP(3));
        tlb_inv_all();
        char name[] = "  TEX[0]CB=0 read";
        name[11] = (char)('0' + idx);
        rd(name, 0x40000010 + idx * 4, S(0x100010 + idx * 4));
    }
    write_sctlr(read_sctlr() & ~(1u << 28));

    mmu_off();
    printf("mmu off: SCTLR=%08x\n", read_sctlr());
    return 0;
}
