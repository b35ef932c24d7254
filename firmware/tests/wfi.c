/*
 * wfi.c — WFI and interrupts from a real source: the per-CPU timer through
 * the GIC (vexpress-a9: the Cortex-A9 private timer, TWD at 0x1e000600,
 * PPI 29; vexpress-a15: the virtual generic timer, CP15 CNTV_*, PPI 27).
 *
 *  - WFI with CPSR.I set wakes when the timer interrupt becomes pending at
 *    the GIC (ARM ARM B1.8.13: a masked interrupt is still a wake-up
 *    event); the interrupt is then taken at the CPSIE that unmasks it;
 *  - the same with the timer interrupt in group 0 signalled as FIQ and
 *    CPSR.F set;
 *  - WFI with an SGI already pending returns at once;
 *  - GIC CPU interface state around it: HPPIR before, IAR in the handler,
 *    the running priority while active and after EOIR, a spurious IAR
 *    (1023) when nothing is pending, PMR masking an interrupt (pending
 *    but not signalled until PMR is raised);
 *  - the timers themselves: one-shot expiry status (TWD ISR/counter, or
 *    CNTV_CTL.ISTATUS and the IMASK bit holding the interrupt back).
 * Nothing time-dependent is printed: only whether things happened. The
 * timer periods are short (tens of microseconds under QEMU, which times
 * them on the host clock; armvex counts instructions). Every wait for an
 * interrupt is done with the interrupt masked in CPSR, so it cannot be
 * taken before the WFI and leave the WFI waiting for nothing.
 */
#include "test.h"
#include "sys.h"

static volatile int irqs, fiqs;
static volatile u32 last_iar, rpr_in_handler, active_in_handler;
static volatile u32 last_lr;

static void hook(int kind, struct exc_frame *f)
{
    u32 iar = gic_ack();
    last_iar = iar;
    last_lr = f->lr;
    rpr_in_handler = mmio_rd(gicc_base() + GICC_RPR) & 0xff;
    active_in_handler = mmio_rd(gicd_base() + GICD_ISACTIVER);
    if ((iar & 0x3ff) == timer_ppi())
        timer_stop(); /* the timer interrupts are level-sensitive */
    if ((iar & 0x3ff) != GIC_SPURIOUS)
        gic_eoi(iar);
    if (kind == EXC_IRQ)
        irqs++;
    else
        fiqs++;
    f->lr -= 4;
    if (irqs + fiqs > 8) {
        printf("*** runaway interrupts (iar=%u)\n", iar);
        exit(3);
    }
}

/* Wait (bounded) for the timer PPI to become pending at the distributor. */
static int poll_pending(u32 id)
{
    for (u32 i = 0; i < 5000000; i++)
        if (mmio_rd(gicd_base() + GICD_ISPENDR) & (1u << id))
            return 1;
    return 0;
}

extern char site_irq[], site_fiq[];

static __attribute__((noinline)) void unmask_irq(void)
{
    __asm__ volatile("site_irq: cpsie i\n\tnop\n\tcpsid i" ::: "memory");
}

static __attribute__((noinline)) void unmask_fiq(void)
{
    __asm__ volatile("site_fiq: cpsie f\n\tnop\n\tcpsid f" ::: "memory");
}

static void show_gic(const char *when)
{
    printf("  %s: ISPENDR0=%08x ISACTIVER0=%08x HPPIR=%u RPR=%02x\n", when,
           mmio_rd(gicd_base() + GICD_ISPENDR), mmio_rd(gicd_base() + GICD_ISACTIVER),
           mmio_rd(gicc_base() + GICC_HPPIR) & 0x3ff, mmio_rd(gicc_base() + GICC_RPR) & 0xff);
}

static void show_handler(const char *what, u32 site)
{
    printf("  %s: irqs=%d fiqs=%d iar=%u lr=site+%u rpr=%02x isactiver0=%08x\n", what, irqs,
           fiqs, last_iar, last_lr - site, rpr_in_handler, active_in_handler);
}

static void timer_state(void)
{
    if (is_a15()) {
        u32 ctl = CP15_RD(0, c14, c3, 1);
        printf("  CNTV_CTL=%x (ENABLE=%u IMASK=%u ISTATUS=%u)\n", ctl, ctl & 1, (ctl >> 1) & 1,
               (ctl >> 2) & 1);
    } else {
        printf("  TWD control=%08x isr=%x counter=%08x\n", mmio_rd(0x1e000608),
               mmio_rd(0x1e00060c), mmio_rd(0x1e000604));
    }
}

int main(void)
{
    exc_set_hook(EXC_IRQ, hook);
    exc_set_hook(EXC_FIQ, hook);
    u32 ppi = timer_ppi();
    printf("timer: %s, PPI %u\n", is_a15() ? "generic timer (virtual)" : "TWD", ppi);

    if (is_a15()) {
        u32 lo1, hi1, lo2, hi2;
        printf("CNTFRQ=%u\n", CP15_RD(0, c14, c0, 0));
        __asm__ volatile("mrrc p15, 1, %0, %1, c14" : "=r"(lo1), "=r"(hi1)); /* CNTVCT */
        for (volatile int i = 0; i < 1000; i++)
            ;
        __asm__ volatile("mrrc p15, 1, %0, %1, c14" : "=r"(lo2), "=r"(hi2));
        printf("CNTVCT advances: %s\n", (hi2 > hi1 || (hi2 == hi1 && lo2 > lo1)) ? "yes" : "no");
    } else {
        mmio_wr(0x1e000608, 0);
        mmio_wr(0x1e000600, 0x100000);
        u32 c1 = mmio_rd(0x1e000604);
        mmio_wr(0x1e000608, 1); /* enabled, no interrupt */
        for (volatile int i = 0; i < 1000; i++)
            ;
        u32 c2 = mmio_rd(0x1e000604);
        mmio_wr(0x1e000608, 0);
        printf("TWD load=00100000 counter before enable=%08x, counts down: %s\n", c1,
               c2 < c1 ? "yes" : "no");
    }

    gic_init(0xf); /* group 0 and 1, AckCtl, group 0 as FIQ */
    printf("nothing pending: IAR=%u\n", gic_ack() & 0x3ff);

    /* 1. Timer IRQ (group 1), WFI with CPSR.I set */
    printf("timer irq, wfi with I set:\n");
    gic_set_group(ppi, 1);
    gic_set_priority(ppi, 0xa0);
    gic_enable(ppi);
    timer_start(2000);
    __asm__ volatile("dsb\n\twfi" ::: "memory");
    printf("  woke from wfi, irqs=%d\n", irqs);
    show_gic("after wfi");
    timer_state();
    unmask_irq();
    show_handler("after cpsie i", (u32)site_irq);
    show_gic("after eoi");
    timer_state();

    /* 2. The same interrupt in group 0: FIQ, WFI with CPSR.F set */
    printf("timer fiq, wfi with F set:\n");
    irqs = fiqs = 0;
    gic_set_group(ppi, 0);
    timer_start(2000);
    __asm__ volatile("dsb\n\twfi" ::: "memory");
    printf("  woke from wfi, fiqs=%d\n", fiqs);
    show_gic("after wfi");
    unmask_fiq();
    show_handler("after cpsie f", (u32)site_fiq);

    /* 3. PMR masking: priority 0xa0 is not below PMR 0x80, so the pending
     * interrupt is not signalled (IAR reads 1023) until PMR is raised. */
    printf("pmr masking:\n");
    irqs = fiqs = 0;
    gic_set_group(ppi, 1);
    mmio_wr(gicc_base() + GICC_PMR, 0x80);
    timer_start(2000);
    printf("  pending: %s\n", poll_pending(ppi) ? "yes" : "no (timeout)");
    show_gic("pmr=80");
    unmask_irq();
    printf("  irqs=%d with pmr=80\n", irqs);
    mmio_wr(gicc_base() + GICC_PMR, 0xf0);
    unmask_irq();
    show_handler("pmr=f0, after cpsie i", (u32)site_irq);

    /* 4. Timer with its output masked at the timer (A15: CNTV_CTL.IMASK;
     * A9: TWD interrupt enable clear): it expires, nothing is pending. */
    printf("timer interrupt masked at the timer:\n");
    irqs = fiqs = 0;
    if (is_a15()) {
        CP15_WR(0, c14, c3, 0, 1000);
        CP15_WR(0, c14, c3, 1, 3); /* ENABLE | IMASK */
        for (int i = 0; i < 5000000 && !(CP15_RD(0, c14, c3, 1) & 4); i++)
            ;
    } else {
        mmio_wr(0x1e00060c, 1);
        mmio_wr(0x1e000600, 1000);
        mmio_wr(0x1e000608, 1); /* enable, IT enable clear, one-shot */
        for (int i = 0; i < 5000000 && !(mmio_rd(0x1e00060c) & 1); i++)
            ;
    }
    timer_state();
    show_gic("expired, masked");
    timer_stop();

    /* 5. WFI with an SGI pending (group 1) returns at once */
    printf("sgi pending, wfi with I set:\n");
    gic_set_group(3, 1);
    gic_enable(3);
    gic_send_sgi(3, 1);
    __asm__ volatile("dsb\n\twfi" ::: "memory");
    show_gic("after wfi");
    unmask_irq();
    show_handler("after cpsie i", (u32)site_irq);
    printf("  IAR now=%u\n", gic_ack() & 0x3ff);
    return 0;
}
