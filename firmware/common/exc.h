/*
 * exc.h — exception handling for the firmware (see start.S).
 *
 * Every vector except reset saves the interrupted registers on the
 * exception mode's stack as a struct exc_frame and calls exc_dispatch().
 * A test installs a hook for the exception kinds it provokes; the hook may
 * inspect and change the frame. On return the stub restores r0-r12, writes
 * frame->spsr to SPSR and returns with `LDM sp!, {r0-r12, pc}^`, i.e. to
 * frame->lr with CPSR = frame->spsr. So a hook chooses where execution
 * resumes by setting frame->lr (LR on entry is: undef/SVC = next
 * instruction in ARM state; prefetch abort/BKPT = insn + 4; data abort =
 * insn + 8; IRQ/FIQ = next insn + 4).
 *
 * Without a hook the exception is fatal: a description is printed and the
 * program exits with status 128 + kind.
 */
#ifndef ARMVEX_EXC_H
#define ARMVEX_EXC_H

#include "types.h"

/* Kinds = vector offset / 4. */
enum exc_kind {
    EXC_UNDEF = 1,
    EXC_SVC = 2,
    EXC_PABT = 3,
    EXC_DABT = 4,
    EXC_HYP = 5,
    EXC_IRQ = 6,
    EXC_FIQ = 7,
    /* Monitor mode, through MVBAR (after exc_monitor_init()): 8 + offset/4 */
    EXC_SMC = 10,
    EXC_MON_PABT = 11,
    EXC_MON_DABT = 12,
    EXC_MON_IRQ = 14,
    EXC_MON_FIQ = 15,
};
#define EXC_KINDS 16

struct exc_frame {
    u32 cpsr;  /* CPSR as seen at the start of the handler */
    u32 spsr;  /* SPSR on entry (the interrupted CPSR); restored on return */
    u32 r[13]; /* r0-r12 of the interrupted code; restored on return */
    u32 lr;    /* LR on entry; execution resumes here */
};

typedef void (*exc_hook_fn)(int kind, struct exc_frame *f);

extern exc_hook_fn exc_hooks[EXC_KINDS];

static inline void exc_set_hook(int kind, exc_hook_fn fn)
{
    exc_hooks[kind] = fn;
}

const char *exc_name(int kind);

/* Point MVBAR at the Monitor vector table in start.S and give Monitor mode
 * a stack. Needs the Security Extensions and Secure PL1. */
void exc_monitor_init(void);

/* Called by the vector stubs in start.S. */
void exc_dispatch(int kind, struct exc_frame *f);

/* CPSR mode numbers. */
#define MODE_USR 0x10
#define MODE_FIQ 0x11
#define MODE_IRQ 0x12
#define MODE_SVC 0x13
#define MODE_MON 0x16
#define MODE_ABT 0x17
#define MODE_UND 0x1b
#define MODE_SYS 0x1f

/* CP15 accessors used by handlers and tests. */
static inline u32 read_dfsr(void) { u32 v; __asm__ volatile("mrc p15, 0, %0, c5, c0, 0" : "=r"(v)); return v; }
static inline u32 read_ifsr(void) { u32 v; __asm__ volatile("mrc p15, 0, %0, c5, c0, 1" : "=r"(v)); return v; }
static inline u32 read_dfar(void) { u32 v; __asm__ volatile("mrc p15, 0, %0, c6, c0, 0" : "=r"(v)); return v; }
static inline u32 read_ifar(void) { u32 v; __asm__ volatile("mrc p15, 0, %0, c6, c0, 2" : "=r"(v)); return v; }
static inline u32 read_sctlr(void) { u32 v; __asm__ volatile("mrc p15, 0, %0, c1, c0, 0" : "=r"(v)); return v; }
static inline void write_sctlr(u32 v) { __asm__ volatile("mcr p15, 0, %0, c1, c0, 0\n\tisb" : : "r"(v) : "memory"); }

#endif
