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

/* The probes use ARM-only instructions (SWP, LDRT with these operands):
 * always compile them as ARM, also into the Thumb-2 benchmark's copy. */
#pragma GCC target("arm")

/* --- probes ---
 * (LR is clobbered: the User-mode probes come back through an SVC, which
 * overwrites LR_svc.) */
#include "exc.h"
#include "printf.h"

volatile struct probe_result probe;
static volatile int probe_active;
volatile u32 probe_resume; /* where a prefetch abort in probe_exec resumes */

static void probe_abort(int kind, struct exc_frame *f)
{
    if (!probe_active || probe.kind) {
        printf("*** unexpected %s: lr=%08x spsr=%08x dfsr=%08x dfar=%08x ifsr=%08x ifar=%08x\n",
               exc_name(kind), f->lr, f->spsr, CP15_RD(0, c5, c0, 0), CP15_RD(0, c6, c0, 0),
               CP15_RD(0, c5, c0, 1), CP15_RD(0, c6, c0, 2));
        exit(128 + kind);
    }
    probe.kind = kind;
    if (kind == EXC_DABT) {
        probe.fsr = CP15_RD(0, c5, c0, 0);
        probe.far = CP15_RD(0, c6, c0, 0);
        f->lr -= 4; /* skip the access */
    } else {
        probe.fsr = CP15_RD(0, c5, c0, 1);
        probe.far = CP15_RD(0, c6, c0, 2);
        f->lr = probe_resume;
    }
}

static void probe_svc(int kind, struct exc_frame *f)
{
    (void)kind;
    /* SVC #0xff: back to SVC mode (A, I, F masked); others are fatal */
    if ((*(u32 *)(f->lr - 4) & 0x00ffffff) != 0xff || (f->spsr & 0x20)) {
        printf("*** unexpected svc: lr=%08x spsr=%08x\n", f->lr, f->spsr);
        exit(128 + EXC_SVC);
    }
    f->spsr = (f->spsr & ~0x1ffu) | 0x1c0 | MODE_SVC;
}

void probe_init(void)
{
    exc_set_hook(EXC_DABT, probe_abort);
    exc_set_hook(EXC_PABT, probe_abort);
    exc_set_hook(EXC_SVC, probe_svc);
}

void probe_start(void)
{
    probe.kind = 0;
    probe.fsr = probe.far = 0;
    probe.val = 0xdeadbeef;
    probe_active = 1;
}

int probe_end(u32 val, int is_load)
{
    probe_active = 0;
    if (!probe.kind && is_load)
        probe.val = val;
    return probe.kind;
}

#define PROBE_LOAD(name, insn)                                                \
    int name(u32 va)                                                         \
    {                                                                        \
        probe_start(); /* before the register variables: a call clobbers */  \
        register u32 r0 __asm__("r0") = 0xdeadbeef;                          \
        register u32 r1 __asm__("r1") = va;                                  \
        __asm__ volatile(insn : "+r"(r0) : "r"(r1) : "lr", "memory");       \
        return probe_end(r0, 1);                                             \
    }
#define PROBE_STORE(name, insn)                                               \
    int name(u32 va, u32 v)                                                  \
    {                                                                        \
        probe_start(); /* before the register variables: a call clobbers */  \
        register u32 r0 __asm__("r0") = v;                                   \
        register u32 r1 __asm__("r1") = va;                                  \
        __asm__ volatile(insn : : "r"(r0), "r"(r1) : "lr", "memory");       \
        return probe_end(0, 0);                                              \
    }

PROBE_LOAD(probe_ldr, "ldr r0, [r1]")
PROBE_LOAD(probe_ldrh, "ldrh r0, [r1]")
PROBE_LOAD(probe_ldrb, "ldrb r0, [r1]")
PROBE_LOAD(probe_ldrt, "ldrt r0, [r1]")
PROBE_LOAD(probe_ldr_usr, "cps #0x10\n\tldr r0, [r1]\n\tsvc #0xff")
PROBE_STORE(probe_str, "str r0, [r1]")
PROBE_STORE(probe_strh, "strh r0, [r1]")
PROBE_STORE(probe_strb, "strb r0, [r1]")
PROBE_STORE(probe_strt, "strt r0, [r1]")
PROBE_STORE(probe_str_usr, "cps #0x10\n\tstr r0, [r1]\n\tsvc #0xff")

PROBE_ASM(probe_ldm2, "ldm r1, {r2, r3}\n\teor r0, r2, r3", 1)
PROBE_ASM(probe_stm2, "stm r1, {r2, r3}", 0)
PROBE_ASM(probe_ldrd, "ldrd r2, r3, [r1]\n\teor r0, r2, r3", 1)
PROBE_ASM(probe_strd, "strd r2, r3, [r1]", 0)
PROBE_ASM(probe_ldrex, "ldrex r0, [r1]", 1)
PROBE_ASM(probe_strex, "ldrex r2, [r1]\n\tstrex r0, r3, [r1]", 1)
PROBE_ASM(probe_swp, ".arch armv6k\n\tswp r0, r2, [r1]\n\t.arch armv7-a", 1)
PROBE_ASM(probe_pld, "pld [r1]", 0)
PROBE_ASM(probe_dccmvac, "mcr p15, 0, r1, c7, c10, 1", 0)

int probe_exec(u32 va)
{
    probe_start();
    register u32 r0 __asm__("r0") = va;
    __asm__ volatile("adr r1, 1f\n\tstr r1, [%[res]]\n\tblx r0\n1:"
                     : "+r"(r0)
                     : [res] "r"(&probe_resume)
                     : "r1", "r2", "r3", "r12", "lr", "cc", "memory");
    return probe_end(r0, 1);
}

int probe_exec_usr(u32 va)
{
    probe_start();
    register u32 r0 __asm__("r0") = va;
    __asm__ volatile("adr r1, 1f\n\tstr r1, [%[res]]\n\tcps #0x10\n\tblx r0\n"
                     "1:\tsvc #0xff"
                     : "+r"(r0)
                     : [res] "r"(&probe_resume)
                     : "r1", "r2", "r3", "r12", "lr", "cc", "memory");
    return probe_end(r0, 1);
}

void probe_show(int r, int is_load)
{
    if (r == 0 && is_load)
        printf(" ok %08x", probe.val);
    else if (r == 0)
        printf(" ok");
    else if (r == EXC_DABT)
        printf(" dabt dfsr=%03x dfar=%08x", probe.fsr, probe.far);
    else
        printf(" pabt ifsr=%03x ifar=%08x", probe.fsr, probe.far);
}
