/*
 * secure.c — the Security Extensions (ARM ARM B1.5, B3.15.4): Monitor
 * mode switching between the Secure and Non-secure worlds through SCR.NS,
 * and the CP15 registers that are banked between them or restricted in
 * Non-secure state.
 *
 * The program starts in Secure SVC. An SMC with r0 = 1 goes to Monitor
 * mode (MVBAR), which sets SCR.NS and returns: the code continues in
 * Non-secure SVC. SMC with r0 = 2 comes back to Secure SVC. In Monitor
 * mode, CP15 accesses to banked registers go to the bank SCR.NS selects,
 * which is how the monitor gives the Non-secure world its own VBAR.
 *   - banked registers (SCTLR, VBAR, TTBR0, TTBCR, DACR, CONTEXTIDR, the
 *     TPIDRs, PRRR/NMRR): values written in each world stay separate;
 *   - Non-secure state: SCR, MVBAR and NSACR writes are UNDEFINED, NSACR
 *     reads; CPACR cp10/cp11 bits are RAZ/WI unless NSACR allows them;
 *     CPSR.F and CPSR.A can be changed only if SCR.FW / SCR.AW allow it;
 *     an SVC taken in Non-secure state uses the Non-secure VBAR; SMC from
 *     Non-secure SVC and from the monitor's view (SPSR, LR, SCR.NS);
 *   - ATS12NSOPR/PW/UR/UW (Secure PL1 translating for the Non-secure
 *     world, c7, c8, 4-7): with the Non-secure MMU off, PAR = VA | NS;
 *   - the cycle counter in Non-secure state (advances or not).
 * (Flags are masked out of printed PSRs: they come from compiled code.)
 * QEMU 7.2 behaviours this records:
 *   - in Non-secure state with NSACR.cp10 = 0, CPACR reads 0xff0fffff
 *     (QEMU returns ~(0xf << 20) instead of masking the register; on
 *     hardware the cp10/cp11 fields read as zero);
 *   - the A15 model has the Virtualization Extensions (ID_PFR1, SCR.HCE
 *     writable, HVBAR and HCR accessible from Secure SVC, which QEMU runs
 *     as EL3), so SCR.AW/FW do not restrict CPSR.A/F there (ARMv7 B1.8.6:
 *     with the Virtualization Extensions they never do); on the A9 they do.
 */
#include "test.h"
#include "sys.h"
#include "mmu.h"

static volatile int undefs, svcs;
static volatile u32 mon_spsr, mon_scr;

static void count_undef(int kind, struct exc_frame *f)
{
    (void)kind;
    (void)f;
    undefs++;
}

static void count_svc(int kind, struct exc_frame *f)
{
    (void)kind;
    (void)f;
    svcs++;
}

extern char _vectors[];

/* SMC: r0 = 1 to the Non-secure world, r0 = 2 back to Secure; r1 = SCR
 * bits to set besides NS. Runs in Monitor mode. */
static void smc_hook(int kind, struct exc_frame *f)
{
    (void)kind;
    mon_spsr = f->spsr;
    mon_scr = CP15_RD(0, c1, c1, 0);
    if (f->r[0] == 1) {
        CP15_WR(0, c1, c1, 0, 1 | f->r[1]);     /* SCR.NS = 1 */
        CP15_WR(0, c12, c0, 0, (u32)_vectors);  /* Non-secure VBAR */
    } else if (f->r[0] == 2) {
        CP15_WR(0, c1, c1, 0, 0);
    }
}

static void smc(u32 fn, u32 scr_bits)
{
    register u32 r0 __asm__("r0") = fn;
    register u32 r1 __asm__("r1") = scr_bits;
    __asm__ volatile(".arch_extension sec\n\tsmc #0"
                     : "+r"(r0), "+r"(r1)
                     :
                     : "r2", "r3", "r12", "lr", "memory");
}

static void to_ns(u32 scr_bits) { smc(1, scr_bits); }
static void to_secure(void) { smc(2, 0); }

/* The banked registers: encodings and test values per world */
#define BANKED(X)                                                            \
    X("SCTLR", 0, c1, c0, 0)                                                 \
    X("VBAR", 0, c12, c0, 0)                                                 \
    X("TTBR0", 0, c2, c0, 0)                                                 \
    X("TTBR1", 0, c2, c0, 1)                                                 \
    X("TTBCR", 0, c2, c0, 2)                                                 \
    X("DACR", 0, c3, c0, 0)                                                  \
    X("CONTEXTIDR", 0, c13, c0, 1)                                           \
    X("TPIDRURW", 0, c13, c0, 2)                                             \
    X("TPIDRURO", 0, c13, c0, 3)                                             \
    X("TPIDRPRW", 0, c13, c0, 4)                                             \
    X("PRRR", 0, c10, c2, 0)                                                 \
    X("NMRR", 0, c10, c2, 1)                                                 \
    X("DFAR", 0, c6, c0, 0)                                                  \
    X("CSSELR", 2, c0, c0, 0)

#define COUNT(n, a, b, c, d) +1
enum { NBANKED = 0 BANKED(COUNT) };

static void read_banked(u32 *out)
{
    int i = 0;
#define READ(n, op1, crn, crm, op2) out[i++] = CP15_RD(op1, crn, crm, op2);
    BANKED(READ)
#undef READ
}

/* Write a world-specific pattern into the registers where it is harmless
 * (SCTLR, VBAR and CSSELR get values that keep things running). */
static void write_banked(u32 world)
{
    u32 w = world ? 0x00500000 : 0x00a00000;
    CP15_WR(0, c2, c0, 0, 0x10004000 | w);
    CP15_WR(0, c2, c0, 1, 0x20004000 | w);
    CP15_WR(0, c2, c0, 2, world ? 1 : 2);
    CP15_WR(0, c3, c0, 0, 0x55000000 | w);
    CP15_WR(0, c13, c0, 1, 0x00001200 | world);
    CP15_WR(0, c13, c0, 2, 0xaaaa0000 | w);
    CP15_WR(0, c13, c0, 3, 0xbbbb0000 | w);
    CP15_WR(0, c13, c0, 4, 0xcccc0000 | w);
    CP15_WR(0, c10, c2, 0, 0x000a0000 | world);
    CP15_WR(0, c10, c2, 1, 0x00e00000 | world);
    CP15_WR(0, c6, c0, 0, 0xfa000000 | w);
    CP15_WR(2, c0, c0, 0, world ? 2 : 0);
}

static const char *const banked_names[] = {
#define NAME(n, a, b, c, d) n,
    BANKED(NAME)
#undef NAME
};

static void show_banked(const char *title, const u32 *v)
{
    printf("%s:\n", title);
    for (int i = 0; i < NBANKED; i++)
        printf("  %-11s %08x\n", banked_names[i], v[i]);
}

#define TRY_RD(nm_, op1, crn, crm, op2)                                     \
    do {                                                                     \
        u32 v_ = 0xdeadbeef;                                                 \
        undefs = 0;                                                          \
        __asm__ volatile("mrc p15, " #op1 ", %0, " #crn ", " #crm ", " #op2  \
                         : "+r"(v_) : : "memory");                           \
        ns_log[nlog].name = nm_;                                            \
        ns_log[nlog].wr = 0;                                                 \
        ns_log[nlog].val = v_;                                               \
        ns_log[nlog++].undef = undefs;                                       \
    } while (0)
#define TRY_WR(nm_, op1, crn, crm, op2, wv_)                                \
    do {                                                                     \
        u32 v_ = 0xdeadbeef;                                                 \
        undefs = 0;                                                          \
        __asm__ volatile("mcr p15, " #op1 ", %1, " #crn ", " #crm ", " #op2 "\n\tisb\n\t" \
                         "mrc p15, " #op1 ", %0, " #crn ", " #crm ", " #op2  \
                         : "+r"(v_) : "r"(wv_) : "memory");                  \
        ns_log[nlog].name = nm_;                                            \
        ns_log[nlog].wr = 1;                                                 \
        ns_log[nlog].val = v_;                                               \
        ns_log[nlog++].undef = undefs;                                       \
    } while (0)

static struct {
    const char *name;
    int wr, undef;
    u32 val;
} ns_log[32];
static int nlog;

static void show_log(void)
{
    for (int i = 0; i < nlog; i++) {
        printf("  %-26s", ns_log[i].name);
        if (ns_log[i].undef)
            printf(" undef (%d)\n", ns_log[i].undef);
        else
            printf(" %s %08x\n", ns_log[i].wr ? "write, reads" : "reads", ns_log[i].val);
    }
    nlog = 0;
}

int main(void)
{
    exc_set_hook(EXC_UNDEF, count_undef);
    exc_set_hook(EXC_SVC, count_svc);
    exc_set_hook(EXC_SMC, smc_hook);
    exc_monitor_init();

    u32 sec[NBANKED], ns[NBANKED];
    write_banked(0);
    read_banked(sec);

    /* --- into the Non-secure world --- */
    to_ns(0);
    u32 cpsr = read_cpsr();
    printf("smc #0 (r0=1): monitor saw spsr=%03x scr=%08x; now cpsr=%03x\n", mon_spsr & 0x1ff,
           mon_scr, cpsr & 0x1ff);
    u32 ns_reset[NBANKED];
    read_banked(ns_reset);
    write_banked(1);
    read_banked(ns);

    /* restrictions in Non-secure SVC (results logged, printed later so
     * that printing itself is not part of what is tested) */
    TRY_RD("SCR read", 0, c1, c1, 0);
    TRY_WR("SCR write 0", 0, c1, c1, 0, 0);
    TRY_RD("NSACR read", 0, c1, c1, 2);
    TRY_WR("NSACR write", 0, c1, c1, 2, 0xc00);
    TRY_RD("MVBAR read", 0, c12, c0, 1);
    TRY_WR("CPACR write 00f00000", 0, c1, c0, 2, 0x00f00000);
    TRY_RD("ID_PFR1", 0, c0, c1, 1);
    TRY_RD("MIDR", 0, c0, c0, 0);
    TRY_WR("ATS12NSOPR", 0, c7, c8, 4, 0x12345678);
    /* CPSR.F and A: SCR.FW = SCR.AW = 0 */
    u32 c1, c2;
    __asm__ volatile("cpsie af\n\tmrs %0, cpsr\n\tcpsid af\n\tmrs %1, cpsr"
                     : "=r"(c1), "=r"(c2) : : "memory");
    /* SVC in Non-secure state (Non-secure VBAR = _vectors) */
    svcs = 0;
    __asm__ volatile("svc #5" ::: "lr", "memory");
    int ns_svcs = svcs;
    /* cycle counter */
    CP15_WR(0, c9, c12, 0, 0x5);
    CP15_WR(0, c9, c12, 1, 0x80000000);
    u32 cc1 = CP15_RD(0, c9, c13, 0);
    for (volatile int i = 0; i < 2000; i++)
        ;
    u32 cc2 = CP15_RD(0, c9, c13, 0);
    CP15_WR(0, c9, c12, 2, 0xffffffff);
    CP15_WR(0, c9, c12, 0, 0);

    /* back to Secure */
    to_secure();
    printf("smc #0 (r0=2) from Non-secure svc: monitor saw spsr=%03x scr=%08x; now cpsr=%03x\n",
           mon_spsr & 0x1ff, mon_scr, read_cpsr() & 0x1ff);
    printf("in Non-secure svc:\n");
    show_log();
    printf("  cpsie af -> cpsr=%03x, cpsid af -> cpsr=%03x (SCR.AW=FW=0)\n", c1 & 0x1ff,
           c2 & 0x1ff);
    printf("  svc taken through the Non-secure VBAR: %d\n", ns_svcs);
    printf("  PMCCNTR advances: %s\n", cc2 != cc1 ? "yes" : "no");
    show_banked("Non-secure banked registers at first entry", ns_reset);
    show_banked("Non-secure banked registers after writing", ns);
    u32 sec_after[NBANKED];
    read_banked(sec_after);
    int same = 1;
    for (int i = 0; i < NBANKED; i++)
        same &= sec_after[i] == sec[i];
    show_banked("Secure banked registers", sec_after);
    printf("Secure values unchanged by the Non-secure writes: %s\n", same ? "yes" : "NO");

    /* NSACR.cp10/cp11 allow Non-secure CPACR; SCR.FW/AW allow F and A */
    CP15_WR(0, c1, c1, 2, 0x00000c00);
    to_ns(0x30); /* SCR.FW | SCR.AW */
    TRY_WR("CPACR write 00f00000", 0, c1, c0, 2, 0x00f00000);
    TRY_WR("CPACR write 0", 0, c1, c0, 2, 0);
    TRY_RD("NSACR read", 0, c1, c1, 2);
    __asm__ volatile("cpsie af\n\tmrs %0, cpsr\n\tcpsid af\n\tmrs %1, cpsr"
                     : "=r"(c1), "=r"(c2) : : "memory");
    u32 ns_again[NBANKED];
    read_banked(ns_again);
    to_secure();
    CP15_WR(0, c1, c1, 2, 0);
    printf("Non-secure again, NSACR=00000c00, SCR.FW=AW=1:\n");
    show_log();
    printf("  cpsie af -> cpsr=%03x, cpsid af -> cpsr=%03x\n", c1 & 0x1ff, c2 & 0x1ff);
    same = 1;
    for (int i = 0; i < NBANKED; i++)
        same &= ns_again[i] == ns[i];
    printf("  Non-secure banked registers kept while Secure: %s\n", same ? "yes" : "NO");

    /* ATS12NSO*: translation for the Non-secure world, from Secure SVC */
    printf("ATS12NSOPR/PW/UR/UW (Non-secure MMU off):");
    static const u32 va = 0x40012345;
    u32 par[4];
    undefs = 0;
    __asm__ volatile("mcr p15, 0, %1, c7, c8, 4\n\tisb\n\tmrc p15, 0, %0, c7, c4, 0"
                     : "=r"(par[0]) : "r"(va));
    __asm__ volatile("mcr p15, 0, %1, c7, c8, 5\n\tisb\n\tmrc p15, 0, %0, c7, c4, 0"
                     : "=r"(par[1]) : "r"(va));
    __asm__ volatile("mcr p15, 0, %1, c7, c8, 6\n\tisb\n\tmrc p15, 0, %0, c7, c4, 0"
                     : "=r"(par[2]) : "r"(va));
    __asm__ volatile("mcr p15, 0, %1, c7, c8, 7\n\tisb\n\tmrc p15, 0, %0, c7, c4, 0"
                     : "=r"(par[3]) : "r"(va));
    if (undefs)
        printf(" undef (%d)\n", undefs);
    else
        printf(" %08x %08x %08x %08x\n", par[0], par[1], par[2], par[3]);
    printf("ATS1CPR (Secure, MMU off): %08x\n", ats1cpr(va));

    /* Hyp registers, read from Secure SVC: the A15 model has them */
    TRY_RD("HVBAR (p15, 4, c12, c0, 0)", 4, c12, c0, 0);
    TRY_RD("HCR (p15, 4, c1, c1, 0)", 4, c1, c1, 0);
    printf("Secure svc:\n");
    show_log();
    return 0;
}
