/*
 * exc_entry.c — what the CPU does on entry to every exception (ARM ARM
 * B1.8): the mode it enters, which of CPSR.A/I/F it sets, the SPSR it saves
 * and the LR it leaves, for
 *   undefined instruction  UDF                         LR = insn + 4
 *   supervisor call        SVC                         LR = insn + 4
 *   prefetch abort         BKPT (debug event)          LR = insn + 4
 *   data abort             misaligned LDM              LR = insn + 8
 *   IRQ                    a GIC SGI (group 1)         LR = next + 4
 *   FIQ                    a GIC SGI in group 0 with GICC_CTLR.FIQEn
 *   secure monitor call    SMC -> Monitor mode via MVBAR, LR = insn + 4
 * taken from SVC mode and from User mode, with A, I and F all clear
 * before the exception so the masks the entry sets are visible (UND/SVC
 * set I; aborts and IRQ set A and I; FIQ and SMC set A, I and F), and with
 * the flags preset to N and V so SPSR shows them.
 * Also: SMC from User mode is undefined; an FIQ preempting the IRQ handler
 * (SPSR_fiq = IRQ mode); SCR.IRQ / SCR.FIQ routing the interrupts to
 * Monitor mode (MVBAR + 0x18 / 0x1c).
 *
 * Interrupts: an SGI is made pending through GICD_SGIR while CPSR masks it
 * and is taken right after the instruction that unmasks it (CPSIE, or the
 * MSR that enters User mode); QEMU takes it at once, so LR = that
 * instruction + 8. Both vexpress GICs (GICv1 on the A9, GICv2 on the A15)
 * implement the Security Extensions in QEMU 7.2, so group 0 can be FIQ.
 * From Secure state an SGI is raised only in the group given by
 * GICD_SGIR.NSATT, and GICC_CTLR.AckCtl must be set to acknowledge group 1
 * interrupts.
 */
#include "test.h"
#include "sys.h"

struct seen {
    int kind;
    u32 lr, spsr, cpsr, iar;
};
static volatile struct seen seen;
static volatile int taken;

/* Set in the IRQ hook to test an FIQ that preempts the IRQ handler. */
static volatile int fiq_in_irq;
static volatile struct seen seen_nested;

static void hook(int kind, struct exc_frame *f)
{
    if (++taken > 4) {
        printf("*** runaway exceptions: %s, lr=%08x spsr=%08x\n", exc_name(kind), f->lr,
               f->spsr);
        exit(3);
    }
    u32 iar = 0;
    if (kind == EXC_IRQ || kind == EXC_FIQ || kind == EXC_MON_IRQ || kind == EXC_MON_FIQ) {
        iar = gic_ack();
        gic_eoi(iar);
        f->lr -= 4; /* back to the interrupted instruction */
    }
    if (taken == 1) {
        seen.kind = kind;
        seen.lr = f->lr + ((kind == EXC_IRQ || kind == EXC_FIQ || kind == EXC_MON_IRQ ||
                            kind == EXC_MON_FIQ) ? 4 : 0);
        seen.spsr = f->spsr;
        seen.cpsr = f->cpsr;
        seen.iar = iar;
    }
    if (kind == EXC_DABT)
        f->lr -= 4; /* resume after the faulting instruction */
    /* SVC #0xff: the way back from User mode to SVC mode, masks set */
    if (kind == EXC_SVC && (*(u32 *)(f->lr - 4) & 0xffffff) == 0xff)
        f->spsr = (f->spsr & ~0x1ffu) | 0x1c0 | MODE_SVC;
    if (kind == EXC_IRQ && fiq_in_irq) {
        /* An FIQ (group 0) is pending now: unmask F in the IRQ handler. */
        fiq_in_irq = 0;
        struct seen outer = seen;
        taken = 0;
        __asm__ volatile("cpsid f" ::: "memory");
        gic_send_sgi(2, 0);
        __asm__ volatile("msr APSR_nzcvq, #0x60000000\n\tcpsie f\n\tnop\n\tcpsid f"
                         ::: "cc", "memory");
        seen_nested = seen;
        seen = outer;
    }
}

/* Flags N and V, then clear A, I and F; afterwards mask them again. */
#define PRE "msr APSR_nzcvq, #0x90000000\n\tcpsie aif\n\t"
#define POST "\n\tcpsid aif"
/* User mode with A, I, F clear (CPSR_c = 0x10); back with SVC #0xff */
#define TO_USR "cpsie a\n\tmsr APSR_nzcvq, #0x90000000\n\tmov r0, #0x10\n\t"
#define FROM_USR "\n\tsvc #0xff"

#define CASE(name, body)                                                     \
    extern char site_##name[];                                               \
    static __attribute__((noinline)) void run_##name(void)                   \
    {                                                                        \
        __asm__ volatile(".arch_extension sec\n\t" body                      \
                         : : : "r0", "r1", "r2", "r3", "lr", "cc", "memory"); \
    }

u32 buf[4] __attribute__((aligned(16)));

CASE(udf_svc, PRE "site_udf_svc: udf #0x12" POST)
CASE(svc_svc, PRE "site_svc_svc: svc #0x34" POST)
CASE(bkpt_svc, PRE "site_bkpt_svc: bkpt #0x56" POST)
CASE(dabt_svc, "ldr r1, =buf+2\n\t" PRE "site_dabt_svc: ldm r1, {r2, r3}" POST)
CASE(irq_svc, "msr APSR_nzcvq, #0x90000000\n\tcpsie af\n\tsite_irq_svc: cpsie i\n\tnop" POST)
CASE(fiq_svc, "msr APSR_nzcvq, #0x90000000\n\tcpsie ai\n\tsite_fiq_svc: cpsie f\n\tnop" POST)
CASE(smc_svc, PRE "site_smc_svc: smc #0" POST)

CASE(udf_usr, TO_USR "msr cpsr_c, r0\nsite_udf_usr: udf #0x12" FROM_USR)
CASE(svc_usr, TO_USR "msr cpsr_c, r0\nsite_svc_usr: svc #0x34" FROM_USR)
CASE(bkpt_usr, TO_USR "msr cpsr_c, r0\nsite_bkpt_usr: bkpt #0x56" FROM_USR)
CASE(dabt_usr, "ldr r1, =buf+2\n\t" TO_USR "msr cpsr_c, r0\nsite_dabt_usr: ldm r1, {r2, r3}"
                   FROM_USR)
CASE(irq_usr, TO_USR "site_irq_usr: msr cpsr_c, r0\n\tnop" FROM_USR)
CASE(fiq_usr, TO_USR "site_fiq_usr: msr cpsr_c, r0\n\tnop" FROM_USR)
CASE(smc_usr, TO_USR "msr cpsr_c, r0\nsite_smc_usr: smc #0" FROM_USR)

/* IRQ whose handler unmasks F with an FIQ pending (see hook) */
CASE(irq_fiq, "msr APSR_nzcvq, #0x90000000\n\tcpsie af\n\tsite_irq_fiq: cpsie i\n\tnop" POST)
/* SCR.IRQ = 1 / SCR.FIQ = 1: to Monitor mode */
CASE(irq_mon, "msr APSR_nzcvq, #0x90000000\n\tcpsie af\n\tsite_irq_mon: cpsie i\n\tnop" POST)
CASE(fiq_mon, "msr APSR_nzcvq, #0x90000000\n\tcpsie ai\n\tsite_fiq_mon: cpsie f\n\tnop" POST)

static const char *mode_name(u32 psr)
{
    switch (psr & 0x1f) {
    case MODE_USR: return "usr";
    case MODE_FIQ: return "fiq";
    case MODE_IRQ: return "irq";
    case MODE_SVC: return "svc";
    case MODE_MON: return "mon";
    case MODE_ABT: return "abt";
    case MODE_UND: return "und";
    case MODE_SYS: return "sys";
    }
    return "???";
}

/* "nzCV aIF T mode" */
static const char *psr_text(u32 psr)
{
    static char bufs[2][24];
    static int next;
    char *b = bufs[next++ & 1];
    const char *m = mode_name(psr);
    b[0] = psr & PSR_N ? 'N' : 'n';
    b[1] = psr & PSR_Z ? 'Z' : 'z';
    b[2] = psr & PSR_C ? 'C' : 'c';
    b[3] = psr & PSR_V ? 'V' : 'v';
    b[4] = ' ';
    b[5] = psr & 0x100 ? 'A' : 'a';
    b[6] = psr & 0x80 ? 'I' : 'i';
    b[7] = psr & 0x40 ? 'F' : 'f';
    b[8] = psr & 0x20 ? 'T' : 't';
    b[9] = ' ';
    b[10] = m[0];
    b[11] = m[1];
    b[12] = m[2];
    b[13] = 0;
    return b;
}

static void show(const char *what, const struct seen *s, u32 site)
{
    if (s->kind == 0) {
        printf("%-22s no exception\n", what);
        return;
    }
    printf("%-22s %-20s lr=site+%u spsr=%08x (%s) cpsr=%08x (%s)", what, exc_name(s->kind),
           s->lr - site, s->spsr, psr_text(s->spsr), s->cpsr, psr_text(s->cpsr));
    if (s->iar)
        printf(" iar=%u", s->iar);
    printf("\n");
}

static void run_case(const char *what, void (*fn)(void), u32 site)
{
    seen.kind = 0;
    taken = 0;
    fn();
    struct seen s = seen;
    show(what, &s, site);
    u32 cpsr = read_cpsr();
    if ((cpsr & 0x1ff) != 0x1d3) {
        printf("*** not back in SVC mode with A, I, F masked: cpsr=%08x\n", cpsr);
        exit(2);
    }
}
#define RUN(name, desc) run_case(desc, run_##name, (u32)site_##name)

int main(void)
{
    for (int k = 1; k < EXC_KINDS; k++)
        exc_set_hook(k, hook);
    exc_monitor_init();
    /* SGI 1: group 1, IRQ. SGI 2: group 0, FIQ. AckCtl so that the Secure
     * side acknowledges group 1 too. */
    gic_init(0xf); /* EnableGrp0 | EnableGrp1 | AckCtl | FIQEn */
    gic_set_group(1, 1);
    gic_enable(1);
    gic_enable(2);

    RUN(udf_svc, "udf from svc");
    RUN(svc_svc, "svc from svc");
    RUN(bkpt_svc, "bkpt from svc");
    RUN(dabt_svc, "ldm misaligned, svc");
    gic_send_sgi(1, 1);
    RUN(irq_svc, "sgi 1 (irq) in svc");
    gic_send_sgi(2, 0);
    RUN(fiq_svc, "sgi 2 (fiq) in svc");
    RUN(smc_svc, "smc from svc");

    RUN(udf_usr, "udf from usr");
    RUN(svc_usr, "svc from usr");
    RUN(bkpt_usr, "bkpt from usr");
    RUN(dabt_usr, "ldm misaligned, usr");
    gic_send_sgi(1, 1);
    RUN(irq_usr, "sgi 1 (irq) in usr");
    gic_send_sgi(2, 0);
    RUN(fiq_usr, "sgi 2 (fiq) in usr");
    RUN(smc_usr, "smc from usr");

    /* FIQ taken inside the IRQ handler */
    fiq_in_irq = 1;
    seen_nested.kind = 0;
    gic_send_sgi(1, 1);
    RUN(irq_fiq, "sgi 1 (irq), then fiq");
    struct seen n = seen_nested;
    if (n.kind)
        printf("%-22s %-20s spsr=%08x (%s) cpsr=%08x (%s) iar=%u\n", "  nested",
               exc_name(n.kind), n.spsr, psr_text(n.spsr), n.cpsr, psr_text(n.cpsr), n.iar);
    else
        printf("%-22s no exception\n", "  nested");

    /* SCR.IRQ (bit 1) and SCR.FIQ (bit 2): to Monitor mode */
    CP15_WR(0, c1, c1, 0, 2);
    gic_send_sgi(1, 1);
    RUN(irq_mon, "irq with SCR.IRQ=1");
    CP15_WR(0, c1, c1, 0, 4);
    gic_send_sgi(2, 0);
    RUN(fiq_mon, "fiq with SCR.FIQ=1");
    CP15_WR(0, c1, c1, 0, 0);

    printf("GICD_ISPENDR0=%08x GICC_RPR=%02x\n", mmio_rd(gicd_base() + GICD_ISPENDR),
           mmio_rd(gicc_base() + GICC_RPR));
    return 0;
}
