/*
 * sys.h — board and system-register helpers for the system architecture
 * tests (exceptions with real interrupt sources, MMU, timers, CP15).
 *
 * One binary per board is built, but the tests find out at run time which
 * board they are on from MIDR (Cortex-A9 = vexpress-a9, Cortex-A15 =
 * vexpress-a15), so the same source covers both:
 *
 *                      vexpress-a9          vexpress-a15
 *   RAM (128 MiB)      0x60000000           0x80000000
 *   GIC distributor    0x1e001000 (GICv1)   0x2c001000 (GICv2)
 *   GIC CPU interface  0x1e000100           0x2c002000
 *   per-CPU timer      TWD 0x1e000600,      generic timer (CP15),
 *                      PPI 29               virtual timer PPI 27
 *
 * References: ARM ARM (DDI 0406C) B3 (VMSA), B4.1 (CP15 registers); GIC
 * architecture spec v1/v2 (IHI 0048B) 4.3/4.4 (distributor and CPU interface
 * registers); Cortex-A9 MPCore TRM (DDI 0407) 4.2 (private timer).
 */
#ifndef ARMVEX_SYS_H
#define ARMVEX_SYS_H

#include "types.h"

/* MRC/MCR with the encoding as literal operands: CP15_RD(0, c1, c0, 0).
 * The destination is preset to 0, so that an MRC that is UNDEFINED (and
 * skipped by a test's handler) or a no-op yields 0, not a stale value. */
#define CP15_RD(op1, crn, crm, op2)                                          \
    ({                                                                       \
        u32 v_ = 0;                                                          \
        __asm__ volatile("mrc p15, " #op1 ", %0, " #crn ", " #crm ", " #op2  \
                         : "+r"(v_) : : "memory");                           \
        v_;                                                                  \
    })
#define CP15_WR(op1, crn, crm, op2, val)                                     \
    __asm__ volatile("mcr p15, " #op1 ", %0, " #crn ", " #crm ", " #op2 "\n\tisb" \
                     : : "r"((u32)(val)) : "memory")

static inline u32 mmio_rd(u32 addr) { return *(volatile u32 *)addr; }
static inline void mmio_wr(u32 addr, u32 v) { *(volatile u32 *)addr = v; }

static inline void dsb(void) { __asm__ volatile("dsb" ::: "memory"); }
static inline void isb(void) { __asm__ volatile("isb" ::: "memory"); }

/* The image is linked at the start of RAM (link.ld, --defsym RAM_BASE). */
extern char RAM_BASE[];
#define RAM_PA ((u32)RAM_BASE)
/* Physical RAM the tests may use freely: 16 MiB into RAM, 16 MiB long
 * (16 MiB aligned, for supersections), well past image, .bss and stacks.
 * Its contents are not defined at start: tests write before they read. */
#define SCRATCH_PA (RAM_PA + 0x01000000)

/* 1 on vexpress-a15 (Cortex-A15), 0 on vexpress-a9 (Cortex-A9). */
int is_a15(void);
/* "a9" or "a15", for messages. */
const char *cpu_name(void);

/* --- GIC --- */
u32 gicd_base(void);
u32 gicc_base(void);

#define GICD_CTLR       0x000
#define GICD_TYPER      0x004
#define GICD_IIDR       0x008
#define GICD_IGROUPR    0x080
#define GICD_ISENABLER  0x100
#define GICD_ICENABLER  0x180
#define GICD_ISPENDR    0x200
#define GICD_ICPENDR    0x280
#define GICD_ISACTIVER  0x300
#define GICD_IPRIORITYR 0x400
#define GICD_ITARGETSR  0x800
#define GICD_ICFGR      0xc00
#define GICD_SGIR       0xf00

#define GICC_CTLR  0x00
#define GICC_PMR   0x04
#define GICC_BPR   0x08
#define GICC_IAR   0x0c
#define GICC_EOIR  0x10
#define GICC_RPR   0x14
#define GICC_HPPIR 0x18

#define GIC_SPURIOUS 1023

/* Distributor and CPU interface on, interrupts 0-31 disabled, their
 * pending state cleared through GICD_ICPENDR0 (GICv2 ignores that for
 * SGIs: a pending SGI stays pending, but disabled), all in group 0,
 * priority 0x80, PMR = 0xf0 (let all through), GICC_CTLR = gicc_ctlr
 * (bit 0 group 0 enable, 1 group 1 enable, 2 AckCtl, 3 FIQEn). */
void gic_init(u32 gicc_ctlr);
void gic_enable(u32 id);
void gic_disable(u32 id);
void gic_set_priority(u32 id, u32 prio);
/* Group 0 or 1 (needs a GIC with groups: the Security Extensions). */
void gic_set_group(u32 id, u32 group);
/* Software-generated interrupt `id` (0-15) to this CPU only. nsatt is the
 * GICD_SGIR.NSATT bit: a Secure write raises the SGI only if it is in
 * group nsatt. */
void gic_send_sgi(u32 id, u32 nsatt);
u32 gic_ack(void);            /* GICC_IAR */
void gic_eoi(u32 iar);        /* GICC_EOIR */

/* --- Per-CPU timer (TWD on the A9, virtual generic timer on the A15) --- */
u32 timer_ppi(void);          /* 29 or 27 */
/* Fire once after `ticks` timer ticks (interrupt enabled at the timer). */
void timer_start(u32 ticks);
/* Stop the timer and clear its interrupt condition. */
void timer_stop(void);

#endif
