/* mmu.c — translation table and TLB helpers (see mmu.h). */
#include "mmu.h"
#include "sys.h"

void mmu_identity(u32 *l1)
{
    for (u32 i = 0; i < 4096; i++)
        l1[i] = 0;
    for (u32 mb = 0; mb < 128; mb++) {
        u32 pa = RAM_PA + (mb << 20);
        mmu_section(l1, pa, pa, SEC_NORMAL | SEC_AP(3) | SEC_DOM(0));
    }
    static const u32 a9_dev[] = { 0x10000000, 0x1e000000 };
    static const u32 a15_dev[] = { 0x1c000000, 0x1c100000, 0x2c000000 };
    const u32 *dev = is_a15() ? a15_dev : a9_dev;
    u32 n = is_a15() ? ARRAY_SIZE(a15_dev) : ARRAY_SIZE(a9_dev);
    for (u32 i = 0; i < n; i++)
        mmu_section(l1, dev[i], dev[i], SEC_DEVICE | SEC_AP(1) | SEC_XN | SEC_DOM(0));
}

void tlb_inv_all(void)
{
    __asm__ volatile("mcr p15, 0, %0, c8, c7, 0\n\tdsb\n\tisb" : : "r"(0) : "memory");
}

void tlb_inv_mva(u32 mva_asid)
{
    __asm__ volatile("mcr p15, 0, %0, c8, c7, 1\n\tdsb\n\tisb" : : "r"(mva_asid) : "memory");
}

void tlb_inv_asid(u32 asid)
{
    __asm__ volatile("mcr p15, 0, %0, c8, c7, 2\n\tdsb\n\tisb" : : "r"(asid) : "memory");
}

void tlb_inv_mva_all_asid(u32 mva)
{
    __asm__ volatile("mcr p15, 0, %0, c8, c7, 3\n\tdsb\n\tisb" : : "r"(mva) : "memory");
}

void mmu_on(u32 *l1, u32 dacr)
{
    dsb();
    CP15_WR(0, c2, c0, 2, 0);          /* TTBCR: N = 0, short descriptors */
    CP15_WR(0, c2, c0, 0, (u32)l1);    /* TTBR0 */
    CP15_WR(0, c3, c0, 0, dacr);       /* DACR */
    tlb_inv_all();
    CP15_WR(0, c1, c0, 0, CP15_RD(0, c1, c0, 0) | 1);
}

void mmu_off(void)
{
    CP15_WR(0, c1, c0, 0, CP15_RD(0, c1, c0, 0) & ~1u);
    tlb_inv_all();
}

#define ATS(name, op2)                                                        \
    u32 name(u32 va)                                                         \
    {                                                                        \
        u32 par;                                                             \
        __asm__ volatile("mcr p15, 0, %1, c7, c8, " #op2 "\n\tisb\n\t"       \
                         "mrc p15, 0, %0, c7, c4, 0"                          \
                         : "=r"(par) : "r"(va) : "memory");                  \
        return par;                                                          \
    }
ATS(ats1cpr, 0)
ATS(ats1cpw, 1)
ATS(ats1cur, 2)
ATS(ats1cuw, 3)
