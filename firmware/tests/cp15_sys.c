/*
 * cp15_sys.c — the CP15 system registers a Linux boot touches on the
 * Cortex-A9 and Cortex-A15, as QEMU 7.2 models them: which bits of each
 * stick when written (write all-ones / all-zeros, read back, restore),
 * what reads as fixed, and which encodings are UNDEFINED (printed as
 * "undef"). Registers:
 *   SCTLR (every bit but M, one at a time), ACTLR, CPACR, NSACR, SCR (all
 *   bits but NS), VBAR, MVBAR, FCSEIDR, ADFSR/AIFSR, AMAIR0/1, ISR (with
 *   an IRQ and an FIQ pending at the GIC but masked);
 *   the PMU: PMCR, PMCNTENSET/CLR, PMOVSR, PMSELR, PMCEID0/1, PMUSERENR,
 *   PMINTENSET, PMCCNTR written while disabled, and whether the cycle
 *   counter advances when enabled (in Secure state QEMU prohibits PMU
 *   counting, so it does not; see secure.c for Non-secure) — never a count;
 *   PMOVSR.C when the cycle counter wraps (PMCR.D clear and set), and its clearing;
 *   User-mode access to PMCCNTR with PMUSERENR.EN = 0 and 1;
 *   Cortex-A9: power control, diagnostic, NEON busy, CBAR, TLB lockdown
 *   and the other IMPLEMENTATION DEFINED c15 registers Linux uses;
 *   Cortex-A15: L2CTLR, L2ECTLR, CBAR, and the generic timer's CP15
 *   registers (CNTFRQ, CNTKCTL, CNTP/CNTV control, CNTPCT/CNTVCT from
 *   PL1 and from User mode with CNTKCTL.PL0VCTEN).
 * Counter values are never printed, only whether they moved.
 * Destination registers are preset (0 for the old value, 0xdeadbeef for
 * read-backs): QEMU implements some of these registers as no-ops whose
 * MRC leaves Rt unchanged (e.g. the A9's TLB lockdown register).
 * QEMU 7.2 findings: every SCTLR bit but M sticks when written (even U and
 * XP, RAO on hardware); the A9 model has no PMU counting at all (PMCCNTR
 * never advances; ID_DFR0 = 0), while the A15's cycle counter does count
 * in Secure state (PMCR.DP clear); Secure SVC is QEMU's EL3, so CNTVOFF is
 * accessible there; the GIC signals only its highest-priority pending
 * interrupt, so ISR shows I or F, not both.
 */
#include "test.h"
#include "sys.h"

static volatile int undefs;

static void count_undef(int kind, struct exc_frame *f)
{
    (void)kind;
    (void)f;
    undefs++;
}

/* User mode returns with SVC #0xff */
static void svc_hook(int kind, struct exc_frame *f)
{
    (void)kind;
    f->spsr = (f->spsr & ~0x1ffu) | 0x1c0 | MODE_SVC;
}

#define UND(x) ((x) ? " undef" : "")

/* Read one register. */
#define RD(name, op1, crn, crm, op2)                                         \
    do {                                                                     \
        u32 v_ = 0xdeadbeef;                                                 \
        undefs = 0;                                                          \
        __asm__ volatile("mrc p15, " #op1 ", %0, " #crn ", " #crm ", " #op2  \
                         : "+r"(v_) : : "memory");                           \
        if (undefs)                                                          \
            printf("%-12s undef\n", name);                                   \
        else                                                                 \
            printf("%-12s = %08x\n", name, v_);                              \
    } while (0)

/* Write all-ones and all-zeros (or the given values), read back, restore.
 * The whole sequence is one asm block with no memory access in between. */
#define WR(name, op1, crn, crm, op2, wa_, wb_)                                   \
    do {                                                                     \
        u32 old_ = 0, ra_ = 0xdeadbeef, rb_ = 0xdeadbeef;                   \
        undefs = 0;                                                          \
        __asm__ volatile(                                                    \
            "mrc p15, " #op1 ", %[o], " #crn ", " #crm ", " #op2 "\n\t"      \
            "mcr p15, " #op1 ", %[a], " #crn ", " #crm ", " #op2 "\n\tisb\n\t" \
            "mrc p15, " #op1 ", %[ra], " #crn ", " #crm ", " #op2 "\n\t"     \
            "mcr p15, " #op1 ", %[b], " #crn ", " #crm ", " #op2 "\n\tisb\n\t" \
            "mrc p15, " #op1 ", %[rb], " #crn ", " #crm ", " #op2 "\n\t"     \
            "mcr p15, " #op1 ", %[o], " #crn ", " #crm ", " #op2 "\n\tisb"   \
            : [o] "+&r"(old_), [ra] "+&r"(ra_), [rb] "+&r"(rb_)              \
            : [a] "r"(wa_), [b] "r"(wb_)                                     \
            : "memory");                                                     \
        if (undefs)                                                          \
            printf("%-12s undef (%d)\n", name, undefs);                      \
        else                                                                 \
            printf("%-12s = %08x; wrote %08x read %08x; wrote %08x read %08x\n", name, old_, \
                   (u32)(wa_), ra_, (u32)(wb_), rb_);                        \
    } while (0)

static u32 sctlr_try(u32 v)
{
    u32 old, r;
    __asm__ volatile("mrc p15, 0, %[o], c1, c0, 0\n\t"
                     "mcr p15, 0, %[v], c1, c0, 0\n\tisb\n\t"
                     "mrc p15, 0, %[r], c1, c0, 0\n\t"
                     "mcr p15, 0, %[o], c1, c0, 0\n\tisb"
                     : [o] "=&r"(old), [r] "=&r"(r)
                     : [v] "r"(v)
                     : "memory");
    return r;
}

static void sctlr(void)
{
    u32 base = read_sctlr(), set = 0, clr = 0;
    for (int b = 1; b < 32; b++) {
        u32 bit = 1u << b;
        if (sctlr_try(base | bit) & bit)
            set |= bit;
        if (!(sctlr_try(base & ~bit) & bit))
            clr |= bit;
    }
    /* set: bits that read 1 after writing 1; clr: read 0 after writing 0 */
    printf("SCTLR        = %08x; writable (bits 1-31) %08x, stuck at 1 %08x, stuck at 0 %08x\n",
           base, set & clr, ~clr & ~1u, ~set & ~1u);
}

static u64 read64_cntvct(void)
{
    u32 lo, hi;
    __asm__ volatile("isb\n\tmrrc p15, 1, %0, %1, c14" : "=r"(lo), "=r"(hi));
    return ((u64)hi << 32) | lo;
}

static void busy(void)
{
    for (volatile int i = 0; i < 2000; i++)
        ;
}

static void pmu(void)
{
    RD("PMCR", 0, c9, c12, 0);
    WR("PMCR", 0, c9, c12, 0, 0xffffffff, 0);
    WR("PMCNTENSET", 0, c9, c12, 1, 0xffffffff, 0);
    WR("PMCNTENCLR", 0, c9, c12, 2, 0xffffffff, 0);
    WR("PMOVSR", 0, c9, c12, 3, 0xffffffff, 0);
    WR("PMSELR", 0, c9, c12, 5, 0xffffffff, 0);
    RD("PMCEID0", 0, c9, c12, 6);
    RD("PMCEID1", 0, c9, c12, 7);
    WR("PMXEVTYPER", 0, c9, c13, 1, 0xffffffff, 0x11);
    WR("PMUSERENR", 0, c9, c14, 0, 0xffffffff, 0);
    WR("PMINTENSET", 0, c9, c14, 1, 0xffffffff, 0);
    WR("PMINTENCLR", 0, c9, c14, 2, 0xffffffff, 0);

    /* Cycle counter: disabled (PMCR.E = 0), a written value stays */
    CP15_WR(0, c9, c12, 0, 0);
    CP15_WR(0, c9, c12, 2, 0xffffffff); /* PMCNTENCLR all */
    CP15_WR(0, c9, c13, 0, 0x1000);     /* PMCCNTR */
    busy();
    printf("PMCCNTR disabled: wrote 1000, after a loop reads %x\n", CP15_RD(0, c9, c13, 0));
    /* enabled: PMCR.E, PMCNTENSET.C; PMCR.C resets it */
    CP15_WR(0, c9, c12, 0, 0x5);        /* E | C (reset the cycle counter) */
    CP15_WR(0, c9, c12, 1, 0x80000000);
    u32 c1 = CP15_RD(0, c9, c13, 0);
    busy();
    u32 c2 = CP15_RD(0, c9, c13, 0);
    printf("PMCCNTR enabled (Secure state): advances: %s\n", c2 != c1 ? "yes" : "no");
    CP15_WR(0, c9, c12, 2, 0xffffffff);
    CP15_WR(0, c9, c12, 0, 0);

    /* Overflow: started close to 2^32, the cycle counter wraps during the loop and sets
     * PMOVSR.C (bit 31), which stays until written with 1; with PMCR.D it counts once
     * every 64 cycles, so it is started closer. */
    for (u32 d = 0; d < 2; d++) {
        CP15_WR(0, c9, c12, 0, 1 | (d << 3)); /* E, D */
        CP15_WR(0, c9, c12, 3, 0xffffffff);   /* PMOVSR: clear all */
        CP15_WR(0, c9, c13, 0, d ? 0xfffffff0 : 0xffffff00);
        CP15_WR(0, c9, c12, 1, 0x80000000);
        busy();
        /* PMCCNTR first: QEMU brings PMOVSR up to date when PMCCNTR is read (or when a
         * host-timed callback runs), not when PMOVSR is read. */
        u32 small = CP15_RD(0, c9, c13, 0) < 0x80000000;
        u32 wrapped = CP15_RD(0, c9, c12, 3);
        CP15_WR(0, c9, c12, 3, 0x80000000);
        u32 cleared = CP15_RD(0, c9, c12, 3);
        CP15_WR(0, c9, c12, 2, 0xffffffff);
        u32 kept = CP15_RD(0, c9, c12, 3);
        printf("PMCCNTR near 2^32, PMCR.D=%u: PMOVSR %x (count wrapped: %s), after clearing %x,"
               " disabled %x\n", d, wrapped, small ? "yes" : "no", cleared, kept);
    }
    CP15_WR(0, c9, c12, 0, 0);

    /* User mode: PMCCNTR needs PMUSERENR.EN */
    for (u32 en = 0; en < 2; en++) {
        CP15_WR(0, c9, c14, 0, en);
        undefs = 0;
        __asm__ volatile("cps #0x10\n\tmrc p15, 0, r0, c9, c13, 0\n\tsvc #0xff"
                         ::: "r0", "lr", "memory");
        printf("PMCCNTR from User mode, PMUSERENR.EN=%u:%s\n", en, undefs ? " undef" : " ok");
    }
    CP15_WR(0, c9, c14, 0, 0);
}

static void a9_regs(void)
{
    WR("A9 PWRCTRL", 0, c15, c0, 0, 0xffffffff, 0);
    WR("A9 DIAG", 0, c15, c0, 1, 0xffffffff, 0);
    RD("A9 c15,c0,2", 0, c15, c0, 2);
    RD("A9 NEONBUSY", 0, c15, c1, 0);
    RD("A9 CBAR", 4, c15, c0, 0);
    WR("TLB lockdown", 0, c10, c0, 0, 0xffffffff, 0);
    RD("A9 c15,c1,1", 0, c15, c1, 1);
    RD("A9 5,c15,c4,2", 5, c15, c4, 2);
    RD("A9 5,c15,c5,2", 5, c15, c5, 2);
    RD("A9 5,c15,c6,2", 5, c15, c6, 2);
    RD("A9 5,c15,c7,2", 5, c15, c7, 2);
    RD("L2CTLR?", 1, c9, c0, 2);
}

static void a15_regs(void)
{
    WR("L2CTLR", 1, c9, c0, 2, 0xffffffff, 0);
    WR("L2ECTLR", 1, c9, c0, 3, 0xffffffff, 0);
    RD("CBAR", 4, c15, c0, 0);
    RD("A9 PWRCTRL?", 0, c15, c0, 0);
    RD("A9 DIAG?", 0, c15, c0, 1);
    /* generic timer */
    WR("CNTFRQ", 0, c14, c0, 0, 0xffffffff, 24000000);
    WR("CNTKCTL", 0, c14, c1, 0, 0xffffffff, 0);
    WR("CNTP_CTL", 0, c14, c2, 1, 0xfffffffe, 0); /* (ENABLE left clear) */
    WR("CNTV_CTL", 0, c14, c3, 1, 0xfffffffe, 0);
    u64 a = read64_cntvct();
    busy();
    u64 b = read64_cntvct();
    printf("CNTVCT advances: %s\n", b > a ? "yes" : "no");
    u32 lo, hi;
    undefs = 0;
    __asm__ volatile("mrrc p15, 0, %0, %1, c14" : "=r"(lo), "=r"(hi)); /* CNTPCT */
    printf("CNTPCT read:%s\n", undefs ? " undef" : " ok");
    undefs = 0;
    __asm__ volatile("mrrc p15, 4, %0, %1, c14" : "=r"(lo), "=r"(hi) : "0"(0), "1"(0));
    printf("CNTVOFF from Secure SVC:%s\n", undefs ? " undef" : " ok");
    /* PL0 access to CNTVCT: CNTKCTL.PL0VCTEN (bit 1) */
    for (u32 en = 0; en < 2; en++) {
        CP15_WR(0, c14, c1, 0, en << 1);
        undefs = 0;
        __asm__ volatile("cps #0x10\n\tmrrc p15, 1, r0, r1, c14\n\tsvc #0xff"
                         ::: "r0", "r1", "lr", "memory");
        printf("CNTVCT from User mode, CNTKCTL.PL0VCTEN=%u:%s\n", en, undefs ? " undef" : " ok");
    }
    CP15_WR(0, c14, c1, 0, 0);
}

int main(void)
{
    exc_set_hook(EXC_UNDEF, count_undef);
    exc_set_hook(EXC_SVC, svc_hook);
    printf("cpu: cortex-%s\n", cpu_name());

    sctlr();
    WR("ACTLR", 0, c1, c0, 1, 0xffffffff, 0x41);
    WR("CPACR", 0, c1, c0, 2, 0xffffffff, 0x00f00000);
    WR("NSACR", 0, c1, c1, 2, 0xffffffff, 0x00000c00);
    WR("SCR", 0, c1, c1, 0, 0xfffffffe, 0x00000030); /* (NS left clear) */
    WR("VBAR", 0, c12, c0, 0, 0xffffffff, 0);
    WR("MVBAR", 0, c12, c0, 1, 0xffffffff, 0);
    WR("FCSEIDR", 0, c13, c0, 0, 0xffffffff, 0);
    WR("ADFSR", 0, c5, c1, 0, 0xffffffff, 0);
    WR("AIFSR", 0, c5, c1, 1, 0xffffffff, 0);
    WR("AMAIR0", 0, c10, c3, 0, 0xffffffff, 0);
    WR("AMAIR1", 0, c10, c3, 1, 0xffffffff, 0);
    WR("TPIDRPRW", 0, c13, c0, 4, 0xffffffff, 0);
    WR("CONTEXTIDR", 0, c13, c0, 1, 0xffffffff, 0);
    WR("TTBCR", 0, c2, c0, 2, 0xffffffff, 0); /* (EAE on the A15: LPAE) */

    /* ISR: IRQ and FIQ pending at the GIC, masked in CPSR */
    gic_init(0xf);
    RD("ISR", 0, c12, c1, 0);
    gic_set_group(1, 1);
    gic_enable(1);
    gic_send_sgi(1, 1);
    RD("ISR irq", 0, c12, c1, 0);
    gic_init(0xf);
    gic_enable(2);
    gic_send_sgi(2, 0);
    RD("ISR fiq", 0, c12, c1, 0);
    gic_set_group(1, 1);
    gic_enable(1);
    gic_send_sgi(1, 1);
    RD("ISR fiq+irq", 0, c12, c1, 0);
    gic_init(0); /* (clears pending state, disables everything) */
    RD("ISR", 0, c12, c1, 0);

    pmu();
    if (is_a15())
        a15_regs();
    else
        a9_regs();
    return 0;
}
