/*
 * mmu_fault.c — every MMU fault the short-descriptor format can raise,
 * with the fault status and address registers it leaves (ARM ARM B3.13),
 * and the address translation operations (B4.2.3, ATS1Cxx -> PAR).
 *
 * DFSR/IFSR are printed as 3 hex digits: bit 11 WnR (write), bits 7:4 the
 * domain, FS[4] in bit 10 (never set here) and FS[3:0]:
 *   0x01 alignment          0x05 translation, section  0x07 translation, page
 *   0x03 access flag, sect. 0x06 access flag, page
 *   0x09 domain, section    0x0b domain, page
 *   0x0d permission, sect.  0x0f permission, page
 * Each kind is provoked by a read, a write and an instruction fetch (the
 * probes in common/mmu.c), and by the other access types: LDRH/STRB,
 * LDRT/STRT, User mode, LDM/STM, LDRD/STRD, SWP, LDREX/STREX, PLD (never
 * faults) and DCCMVAC. Also: which fault wins when two apply (alignment
 * before translation), LDM/STM and unaligned LDR running from a mapped
 * page into an unmapped one (which address DFAR gets), and an
 * instruction fetch falling off the end of a mapped page.
 * QEMU's vexpress boards have no external aborts: unassigned physical
 * addresses read as zero and ignore writes, so FS 0x08/0x0c/0x0e are not
 * tested.
 *
 * PAR after ATS1CPR/CPW/CUR/CUW (PL1/PL0 read/write, ARM ARM B4.1.113):
 * on success PA[31:12] (a supersection gives PA[31:24] and SS, bit 1) and
 * NS (bit 9) = 0 in Secure state; QEMU 7.2 sets none of the memory
 * attribute bits (Inner/Outer/SH/NOS), which hardware would. On a fault
 * F (bit 0) = 1 with FS[3:0] in bits 4:1, FS[4] in bit 5 and ExT in bit 6
 * (no domain, no WnR). XN does not affect the result. With the MMU off
 * the VA comes back unchanged.
 */
#include "test.h"
#include "sys.h"
#include "mmu.h"

static u32 l1[4096] __attribute__((aligned(16384)));
static u32 l2a[256] __attribute__((aligned(1024)));
static u32 l2b[256] __attribute__((aligned(1024)));
#define S(off) (SCRATCH_PA + (off))

/* VAs (see main for the mappings) */
#define V_RW      0x40000000 /* section, RW at PL0 and PL1 */
#define V_PL1     0x40100000 /* section, AP=1: PL1 only */
#define V_PL1RO   0x40200000 /* section, AP=5: PL1 read-only */
#define V_RO      0x40300000 /* section, AP=7: read-only for both */
#define V_XN      0x40400000 /* section, XN */
#define V_DOM     0x40500000 /* section in domain 2 (no access) */
#define V_AF      0x40600000 /* section, AP[0] = 0 (access flag, AFE = 1) */
#define V_NONE    0x40700000 /* no section */
#define V_SUPER   0x41000000 /* supersection */
#define P_RW      0x42000000 /* small page, RW */
#define P_NONE    0x42001000 /* no page */
#define P_PL1     0x42002000
#define P_RO      0x42003000
#define P_XN      0x42004000
#define P_AF      0x42005000
#define P_EDGE    0x42006000 /* RW page followed by no page */
#define P_LARGE   0x42010000 /* 64 KiB page */
#define P_DOM     0x42100000 /* page table in domain 2 */

enum op {
    LDR, STR, LDRH, STRB, EXEC, LDRT, STRT, ULDR, USTR, UEXEC, LDM, STM, LDRD, STRD,
    SWP, LDREX, STREX, PLD, DCCMVAC,
};
static const char *const op_names[] = {
    "ldr", "str", "ldrh", "strb", "exec", "ldrt", "strt", "usr ldr", "usr str", "usr exec",
    "ldm", "stm", "ldrd", "strd", "swp", "ldrex", "strex", "pld", "dccmvac",
};

static void try(const char *what, enum op op, u32 va)
{
    int r = 0, load = 1;
    switch (op) {
    case LDR: r = probe_ldr(va); break;
    case STR: r = probe_str(va, 0x5a5a5a5a); load = 0; break;
    case LDRH: r = probe_ldrh(va); break;
    case STRB: r = probe_strb(va, 0x5a); load = 0; break;
    case EXEC: r = probe_exec(va); break;
    case LDRT: r = probe_ldrt(va); break;
    case STRT: r = probe_strt(va, 0x5a5a5a5a); load = 0; break;
    case ULDR: r = probe_ldr_usr(va); load = 0; break;
    case USTR: r = probe_str_usr(va, 0x5a5a5a5a); load = 0; break;
    case UEXEC: r = probe_exec_usr(va); break;
    case LDM: r = probe_ldm2(va); break;
    case STM: r = probe_stm2(va); load = 0; break;
    case LDRD: r = probe_ldrd(va); break;
    case STRD: r = probe_strd(va); load = 0; break;
    case SWP: r = probe_swp(va); break;
    case LDREX: r = probe_ldrex(va); break;
    case STREX: r = probe_strex(va); break;
    case PLD: r = probe_pld(va); load = 0; break;
    case DCCMVAC: r = probe_dccmvac(va); load = 0; break;
    }
    printf("%-26s %-8s %08x", what, op_names[op], va);
    probe_show(r, load);
    printf("\n");
}

static void put_code(u32 pa, u32 mark8)
{
    ((volatile u32 *)pa)[0] = PROBE_CODE0(mark8);
    ((volatile u32 *)pa)[1] = PROBE_CODE1;
}

static void show_par(const char *what, u32 va)
{
    printf("%-22s %08x PAR: cpr=%08x cpw=%08x cur=%08x cuw=%08x\n", what, va, ats1cpr(va),
           ats1cpw(va), ats1cur(va), ats1cuw(va));
}

int main(void)
{
    probe_init();

    /* Code for the fetch probes, at offset 0x800 of each target (the data
     * probes use offsets below that) */
    put_code(S(0x100800), 0x10);
    put_code(S(0x200800), 0x20);
    put_code(S(0x210800), 0x21);
    *(volatile u32 *)S(0x100000) = 0x10101010;
    *(volatile u32 *)S(0x200000) = 0x20202020;
    /* the last word of P_EDGE's page: mov r0, #0x66 (then the fetch runs
     * into the unmapped page after it) */
    *(volatile u32 *)S(0x206ffc) = PROBE_CODE0(0x66);
    __asm__ volatile("dsb\n\tmcr p15, 0, %0, c7, c5, 0\n\tdsb\n\tisb" : : "r"(0) : "memory");

    mmu_identity(l1);
    mmu_section(l1, V_RW, S(0x100000), SEC_NORMAL | SEC_AP(3));
    mmu_section(l1, V_PL1, S(0x100000), SEC_NORMAL | SEC_AP(1));
    mmu_section(l1, V_PL1RO, S(0x100000), SEC_NORMAL | SEC_AP(5));
    mmu_section(l1, V_RO, S(0x100000), SEC_NORMAL | SEC_AP(7));
    mmu_section(l1, V_XN, S(0x100000), SEC_NORMAL | SEC_AP(3) | SEC_XN);
    mmu_section(l1, V_DOM, S(0x100000), SEC_NORMAL | SEC_AP(3) | SEC_DOM(2));
    mmu_section(l1, V_AF, S(0x100000), SEC_NORMAL | SEC_AP(2)); /* AF = AP[0] = 0 */
    for (u32 i = 0; i < 16; i++)
        l1[(V_SUPER >> 20) + i] = (SCRATCH_PA & 0xff000000) | SEC_SUPER | SEC_NORMAL |
                                  SEC_AP(3) | SEC;
    l1[P_RW >> 20] = (u32)l2a | PT_DOM(1) | PT;
    l1[P_DOM >> 20] = (u32)l2b | PT_DOM(2) | PT;
    for (u32 i = 0; i < 256; i++)
        l2a[i] = l2b[i] = 0;
    l2a[0] = S(0x200000) | PG_NORMAL | PG_AP(3) | PG;
    l2a[2] = S(0x200000) | PG_NORMAL | PG_AP(1) | PG;
    l2a[3] = S(0x200000) | PG_NORMAL | PG_AP(7) | PG;
    l2a[4] = S(0x200000) | PG_NORMAL | PG_AP(3) | PG | PG_XN;
    l2a[5] = S(0x200000) | PG_NORMAL | PG_AP(2) | PG;
    l2a[6] = S(0x206000) | PG_NORMAL | PG_AP(3) | PG;
    for (u32 i = 16; i < 32; i++)
        l2a[i] = S(0x210000) | LPG_TEX(1) | PG_C | PG_B | PG_AP(3) | LPG;
    l2b[0] = S(0x200000) | PG_NORMAL | PG_AP(3) | PG;
    /* Domains 0 and 1 client, 2 no access */
    mmu_on(l1, 0x00000005);
    write_sctlr(read_sctlr() | (1u << 10)); /* SW: SWP enabled */

    printf("-- no fault --\n");
    try("section", LDR, V_RW);
    try("section", STR, V_RW);
    try("section", EXEC, V_RW + 0x800);
    try("supersection", LDR, V_SUPER + 0x100000);
    try("small page", EXEC, P_RW + 0x800);
    try("large page", EXEC, P_LARGE + 0x800);

    printf("-- translation --\n");
    try("section", LDR, V_NONE + 0x1234);
    try("section", STR, V_NONE + 0x1234);
    try("section", STRB, V_NONE + 0x1235);
    try("section", EXEC, V_NONE + 0x1238);
    try("section", ULDR, V_NONE);
    try("section", UEXEC, V_NONE + 0x800);
    try("section", LDRT, V_NONE);
    try("section", STRT, V_NONE);
    try("page", LDR, P_NONE + 0x10);
    try("page", STR, P_NONE + 0x10);
    try("page", LDRH, P_NONE + 0x12);
    try("page", EXEC, P_NONE + 0x10);
    try("page", SWP, P_NONE);
    try("page", LDREX, P_NONE);
    try("page", STM, P_NONE + 8);
    try("page", PLD, P_NONE);
    try("page", DCCMVAC, P_NONE);

    printf("-- access flag (SCTLR.AFE = 1) --\n");
    write_sctlr(read_sctlr() | (1u << 29));
    tlb_inv_all();
    try("section", LDR, V_AF);
    try("section", STR, V_AF);
    try("section", EXEC, V_AF + 0x800);
    try("section", LDRT, V_AF);
    try("page", LDR, P_AF);
    try("page", STR, P_AF);
    try("page", EXEC, P_AF + 0x800);
    try("page", UEXEC, P_AF + 0x800);
    try("page", PLD, P_AF);
    write_sctlr(read_sctlr() & ~(1u << 29));
    tlb_inv_all();

    printf("-- domain --\n");
    try("section", LDR, V_DOM);
    try("section", STR, V_DOM);
    try("section", EXEC, V_DOM + 0x800);
    try("section", LDM, V_DOM);
    try("section", USTR, V_DOM);
    try("page", LDR, P_DOM);
    try("page", STR, P_DOM);
    try("page", EXEC, P_DOM + 0x800);
    try("page", STRD, P_DOM);

    printf("-- permission --\n");
    try("section AP=1", ULDR, V_PL1);
    try("section AP=1", USTR, V_PL1);
    try("section AP=1", UEXEC, V_PL1 + 0x800);
    try("section AP=1", LDRT, V_PL1);
    try("section AP=5", STR, V_PL1RO);
    try("section AP=5", STRB, V_PL1RO + 3);
    try("section AP=7", STR, V_RO);
    try("section AP=7", STRT, V_RO);
    try("section AP=7", STM, V_RO);
    try("section AP=7", STRD, V_RO);
    try("section AP=7", SWP, V_RO);
    try("section AP=7", STREX, V_RO);
    try("section AP=7", DCCMVAC, V_RO);
    try("section XN", EXEC, V_XN + 0x800);
    try("section XN", UEXEC, V_XN + 0x800);
    try("section XN", LDR, V_XN);
    try("page AP=1", ULDR, P_PL1);
    try("page AP=1", UEXEC, P_PL1 + 0x800);
    try("page AP=7", STR, P_RO);
    try("page AP=7", USTR, P_RO);
    try("page XN", EXEC, P_XN + 0x800);

    printf("-- alignment (SCTLR.A = 1) and priorities --\n");
    write_sctlr(read_sctlr() | 2);
    try("mapped", LDR, V_RW + 1);
    try("mapped", STR, V_RW + 2);
    try("mapped", LDRH, V_RW + 1);
    try("mapped", LDRD, V_RW + 4);
    try("mapped", LDRD, V_RW + 2);
    try("unmapped section", LDR, V_NONE + 1);
    try("unmapped page", STR, P_NONE + 2);
    try("read-only section", STR, V_RO + 2);
    try("domain no access", LDR, V_DOM + 3);
    write_sctlr(read_sctlr() & ~2u);
    try("unmapped, A=0", LDM, V_NONE + 2);
    try("unmapped, A=0", LDREX, P_NONE + 1);
    try("unmapped, A=0", LDR, V_NONE + 1);

    printf("-- accesses running into the next page (unmapped) --\n");
    try("ldm last word", LDM, P_EDGE + 0xffc);
    try("stm last word", STM, P_EDGE + 0xffc);
    try("ldrd last word", LDRD, P_EDGE + 0xffc);
    try("ldr unaligned, A=0", LDR, P_EDGE + 0xffe);
    try("str unaligned, A=0", STR, P_EDGE + 0xffd);
    try("ldrh unaligned, A=0", LDRH, P_EDGE + 0xfff);
    try("fetch off the page end", EXEC, P_EDGE + 0xffc);

    printf("-- address translation: PAR --\n");
    show_par("section RW", V_RW + 0x12345);
    show_par("section AP=1", V_PL1);
    show_par("section AP=5", V_PL1RO);
    show_par("section AP=7", V_RO);
    show_par("section XN", V_XN);
    show_par("section domain 2", V_DOM);
    show_par("no section", V_NONE);
    show_par("supersection", V_SUPER + 0x00abc123);
    show_par("small page", P_RW + 0x123);
    show_par("no page", P_NONE);
    show_par("small page AP=1", P_PL1);
    show_par("small page AP=7", P_RO);
    show_par("large page", P_LARGE + 0xfedc);
    show_par("page domain 2", P_DOM);
    write_sctlr(read_sctlr() | (1u << 29));
    tlb_inv_all();
    show_par("section AF=0", V_AF);
    show_par("page AF=0", P_AF);
    write_sctlr(read_sctlr() & ~(1u << 29));
    tlb_inv_all();
    /* PAR is also writable */
    CP15_WR(0, c7, c4, 0, 0x12345678);
    printf("PAR write 12345678 -> %08x\n", CP15_RD(0, c7, c4, 0));

    mmu_off();
    show_par("mmu off", 0x40012345);
    show_par("mmu off", 0xfffff001);
    write_sctlr(read_sctlr() & ~(1u << 10));
    return 0;
}
