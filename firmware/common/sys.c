/* sys.c — board and system-register helpers (see sys.h). */
#include "sys.h"

int is_a15(void)
{
    /* MIDR.PartNum: 0xc09 Cortex-A9, 0xc0f Cortex-A15 */
    return ((CP15_RD(0, c0, c0, 0) >> 4) & 0xfff) == 0xc0f;
}

const char *cpu_name(void)
{
    return is_a15() ? "a15" : "a9";
}

u32 gicd_base(void)
{
    return is_a15() ? 0x2c001000 : 0x1e001000;
}

u32 gicc_base(void)
{
    return is_a15() ? 0x2c002000 : 0x1e000100;
}

void gic_init(u32 gicc_ctlr)
{
    u32 d = gicd_base(), c = gicc_base();
    mmio_wr(d + GICD_CTLR, 0);
    mmio_wr(c + GICC_CTLR, 0);
    /* The first 32 interrupts (SGIs and PPIs) are all these tests use. */
    mmio_wr(d + GICD_ICENABLER, 0xffffffff);
    mmio_wr(d + GICD_ICPENDR, 0xffffffff);
    mmio_wr(d + GICD_IGROUPR, 0);
    for (u32 i = 0; i < 32; i += 4)
        mmio_wr(d + GICD_IPRIORITYR + i, 0x80808080);
    mmio_wr(c + GICC_PMR, 0xf0);
    mmio_wr(c + GICC_BPR, 0); /* (Secure view: BPR 0 = no preemption grouping) */
    mmio_wr(d + GICD_CTLR, 3); /* group 0 and (Secure view) group 1 */
    mmio_wr(c + GICC_CTLR, gicc_ctlr);
    dsb();
}

void gic_enable(u32 id)
{
    mmio_wr(gicd_base() + GICD_ISENABLER + (id >> 5) * 4, 1u << (id & 31));
    dsb();
}

void gic_disable(u32 id)
{
    mmio_wr(gicd_base() + GICD_ICENABLER + (id >> 5) * 4, 1u << (id & 31));
    dsb();
}

void gic_set_priority(u32 id, u32 prio)
{
    volatile u8 *p = (volatile u8 *)(gicd_base() + GICD_IPRIORITYR);
    p[id] = (u8)prio;
    dsb();
}

void gic_set_group(u32 id, u32 group)
{
    u32 a = gicd_base() + GICD_IGROUPR + (id >> 5) * 4;
    u32 v = mmio_rd(a);
    v = group ? v | (1u << (id & 31)) : v & ~(1u << (id & 31));
    mmio_wr(a, v);
    dsb();
}

void gic_send_sgi(u32 id, u32 nsatt)
{
    /* TargetListFilter = 2: only the CPU that writes the register */
    mmio_wr(gicd_base() + GICD_SGIR, (2u << 24) | (nsatt << 15) | (id & 15));
    dsb();
}

u32 gic_ack(void)
{
    return mmio_rd(gicc_base() + GICC_IAR);
}

void gic_eoi(u32 iar)
{
    mmio_wr(gicc_base() + GICC_EOIR, iar);
    dsb();
}

u32 timer_ppi(void)
{
    return is_a15() ? 27 : 29;
}

#define TWD_BASE 0x1e000600
#define TWD_LOAD 0x00
#define TWD_COUNTER 0x04
#define TWD_CONTROL 0x08
#define TWD_ISR 0x0c

void timer_start(u32 ticks)
{
    if (is_a15()) {
        CP15_WR(0, c14, c3, 1, 0);       /* CNTV_CTL: off */
        CP15_WR(0, c14, c3, 0, ticks);   /* CNTV_TVAL */
        CP15_WR(0, c14, c3, 1, 1);       /* CNTV_CTL: ENABLE, IMASK = 0 */
    } else {
        mmio_wr(TWD_BASE + TWD_CONTROL, 0);
        mmio_wr(TWD_BASE + TWD_ISR, 1);
        mmio_wr(TWD_BASE + TWD_LOAD, ticks);
        mmio_wr(TWD_BASE + TWD_CONTROL, 5); /* enable, IRQ enable, one-shot, prescaler 0 */
    }
    dsb();
}

void timer_stop(void)
{
    if (is_a15()) {
        CP15_WR(0, c14, c3, 1, 0);
    } else {
        mmio_wr(TWD_BASE + TWD_CONTROL, 0);
        mmio_wr(TWD_BASE + TWD_ISR, 1);
    }
    dsb();
}
