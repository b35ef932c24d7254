/*
 * vectors.c — where exceptions are taken from (ARM ARM B1.8.1): VBAR,
 * SCTLR.V (high vectors at 0xffff0000), MVBAR for Monitor mode, and
 * SCTLR.TE (exceptions taken in Thumb state).
 *
 * A probe vector table is copied to the address under test. Each of its
 * eight entries branches to a handler inside the copy that records the
 * address the table actually runs at (ADR, PC-relative), the entry's
 * offset, the CPSR and which probe ran ('A' for the ARM table, 'T' for the
 * Thumb one — the Thumb code only works if the exception was taken in Thumb
 * state; MRS itself reads CPSR.T as 0), and then jumps to start.S's table
 * for the same exception, whose hook below records LR and SPSR and
 * returns. Cases:
 *   VBAR at two addresses (32-byte and 4 KiB aligned), and VBAR written
 *     with its low five bits set (they are RES0, ignored);
 *   VBAR = 0 with the MMU mapping VA 0 to RAM (vexpress has flash at 0);
 *   SCTLR.V = 1: VBAR is ignored, vectors at 0xffff0000 (no memory there
 *     on vexpress, so the MMU maps that page to RAM);
 *   MVBAR: SMC goes to MVBAR + 8 whatever SCTLR.V and VBAR say;
 *   SCTLR.TE = 1: UDF, SVC, an IRQ (GIC SGI) and SMC all enter the Thumb
 *     probe; SPSR still shows the interrupted ARM state, and the return
 *     (LDM ^ in start.S) goes back to ARM code.
 * Code copied to RAM is made visible with ICIALLU/BPIALL, DSB, ISB.
 */
#include "test.h"
#include "sys.h"
#include "mmu.h"

struct vec_seen {
    u32 base, kind, cpsr, how;
};
volatile struct vec_seen vec_seen;

/*
 * Probe tables. VB_ARM name, fwd: eight ARM entries, handler k records
 * and jumps on to fwd + 4k. VB_THUMB: the same in Thumb code (entries are
 * 32-bit B.W); LDR PC with an ARM address interworks back to ARM state.
 * Everything is PC-relative or in the block's own literal pool, so a copy
 * works anywhere. Each block ends with a label <name>_end.
 */
__asm__(
    ".pushsection .text\n"
    ".syntax unified\n"
    ".macro VB_ARM_ENTRY name, k, fwd\n"
    "\\name\\()_\\k:\n"
    "    push {r0-r2}\n"
    "    ldr r2, =vec_seen\n"
    "    adr r1, \\name\n"
    "    str r1, [r2]\n"
    "    mov r1, #\\k * 4\n"
    "    str r1, [r2, #4]\n"
    "    mrs r1, cpsr\n"
    "    str r1, [r2, #8]\n"
    "    mov r1, #'A'\n"
    "    str r1, [r2, #12]\n"
    "    pop {r0-r2}\n"
    "    ldr pc, =\\fwd + \\k * 4\n"
    ".endm\n"
    ".macro VB_ARM name, fwd\n"
    "    .arm\n"
    "    .balign 32\n"
    "\\name:\n"
    "    .irp k, 0, 1, 2, 3, 4, 5, 6, 7\n"
    "    b \\name\\()_\\k\n"
    "    .endr\n"
    "    .irp k, 0, 1, 2, 3, 4, 5, 6, 7\n"
    "    VB_ARM_ENTRY \\name, \\k, \\fwd\n"
    "    .endr\n"
    "    .ltorg\n"
    "\\name\\()_end:\n"
    ".endm\n"
    ".macro VB_THUMB_ENTRY name, k, fwd\n"
    "\\name\\()_\\k:\n"
    "    push {r0-r2}\n"
    "    ldr r2, =vec_seen\n"
    "    mrs r1, cpsr\n"           /* before MOVS changes the flags */
    "    str r1, [r2, #8]\n"
    "    adr.w r1, \\name\n"
    "    str r1, [r2]\n"
    "    movs r1, #\\k * 4\n"
    "    str r1, [r2, #4]\n"
    "    movs r1, #'T'\n"
    "    str r1, [r2, #12]\n"
    "    pop {r0-r2}\n"
    "    ldr.w pc, =\\fwd + \\k * 4\n"
    ".endm\n"
    ".macro VB_THUMB name, fwd\n"
    "    .thumb\n"
    "    .balign 32\n"
    "\\name:\n"
    "    .irp k, 0, 1, 2, 3, 4, 5, 6, 7\n"
    "    b.w \\name\\()_\\k\n"
    "    .endr\n"
    "    .irp k, 0, 1, 2, 3, 4, 5, 6, 7\n"
    "    VB_THUMB_ENTRY \\name, \\k, \\fwd\n"
    "    .endr\n"
    "    .ltorg\n"
    "    .balign 4\n"
    "\\name\\()_end:\n"
    "    .arm\n"
    ".endm\n"
    "    VB_ARM vb_arm, _vectors\n"
    "    VB_ARM vb_arm_mon, _mon_vectors\n"
    "    VB_THUMB vb_thumb, _vectors\n"
    "    VB_THUMB vb_thumb_mon, _mon_vectors\n"
    ".popsection\n");
extern char vb_arm[], vb_arm_end[], vb_arm_mon[], vb_arm_mon_end[];
extern char vb_thumb[], vb_thumb_end[], vb_thumb_mon[], vb_thumb_mon_end[];
extern char _mon_vectors[];

/* Where the copies go: two RAM buffers, and (with the MMU) the pages at
 * VA 0 and 0xffff0000, which map to scratch RAM. */
static u8 buf_a[1024] __attribute__((aligned(32)));
static u8 buf_b[0x2000] __attribute__((aligned(4096)));
static u8 buf_mon[1024] __attribute__((aligned(32)));
#define HIVEC_VA 0xffff0000u
#define HIVEC_PA (SCRATCH_PA + 0x000f0000u) /* section 0xfff00000 -> SCRATCH_PA */
#define ZERO_PA (SCRATCH_PA + 0x00100000u)  /* section 0x00000000 -> this */
static u32 l1[4096] __attribute__((aligned(16384)));

static void sync_code(void)
{
    __asm__ volatile("dsb\n\tmcr p15, 0, %0, c7, c5, 0\n\t" /* ICIALLU */
                     "mcr p15, 0, %0, c7, c5, 6\n\t"        /* BPIALL */
                     "dsb\n\tisb" : : "r"(0) : "memory");
}

static void install(u32 dst, const char *start, const char *end)
{
    memcpy((void *)dst, start, (size_t)(end - start));
    sync_code();
}

struct hook_seen {
    int kind;
    u32 lr, spsr;
};
static volatile struct hook_seen hs;

static void hook(int kind, struct exc_frame *f)
{
    hs.kind = kind;
    hs.lr = f->lr;
    hs.spsr = f->spsr;
    if (kind == EXC_IRQ) {
        gic_eoi(gic_ack());
        f->lr -= 4;
        hs.lr = f->lr + 4;
    }
}

#define CASE(name, body)                                                     \
    extern char site_##name[];                                               \
    static __attribute__((noinline)) void run_##name(void)                   \
    {                                                                        \
        __asm__ volatile(".arch_extension sec\n\t"                           \
                         "msr APSR_nzcvq, #0x60000000\n\t" body              \
                         : : : "r0", "r1", "r2", "r3", "lr", "cc", "memory"); \
    }
CASE(udf, "site_udf: udf #7")
CASE(svc, "site_svc: svc #9")
CASE(smc, "site_smc: smc #0")
CASE(irq, "cpsie a\n\tsite_irq: cpsie i\n\tnop\n\tcpsid ai")

static const char *where(u32 base)
{
    static char other[12];
    if (base == (u32)buf_a)
        return "buf_a";
    if (base == (u32)buf_b + 0x1000)
        return "buf_b+1000";
    if (base == (u32)buf_mon)
        return "buf_mon";
    if (base == 0)
        return "00000000";
    if (base == HIVEC_VA)
        return "ffff0000";
    /* anything else: print the address (deterministic: a linked buffer) */
    const char *hex = "0123456789abcdef";
    for (int i = 0; i < 8; i++)
        other[i] = hex[(base >> (28 - 4 * i)) & 15];
    other[8] = 0;
    return other;
}

static void run(const char *what, const char *insn, void (*fn)(void), u32 site)
{
    vec_seen.base = vec_seen.kind = vec_seen.cpsr = vec_seen.how = 0xdead;
    hs.kind = 0;
    fn();
    printf("%-28s %-4s ", what, insn);
    if (vec_seen.how == 0xdead) {
        printf("probe not entered; %s\n", hs.kind ? exc_name(hs.kind) : "no exception");
        return;
    }
    printf("-> %c %s+%02x cpsr=%08x | %s lr=site+%u spsr=%08x\n", (int)vec_seen.how,
           where(vec_seen.base), vec_seen.kind, vec_seen.cpsr,
           hs.kind ? exc_name(hs.kind) : "no exception", hs.lr - site, hs.spsr);
}
#define RUN(what, name) run(what, #name, run_##name, (u32)site_##name)

static void set_vbar(u32 v) { CP15_WR(0, c12, c0, 0, v); }
static void set_mvbar(u32 v) { CP15_WR(0, c12, c0, 1, v); }

int main(void)
{
    for (int k = 1; k < EXC_KINDS; k++)
        exc_set_hook(k, hook);
    exc_monitor_init();
    gic_init(0xf);
    gic_set_group(1, 1);
    gic_enable(1);

    u32 vbar0 = CP15_RD(0, c12, c0, 0);
    install((u32)buf_a, vb_arm, vb_arm_end);
    install((u32)buf_b + 0x1000, vb_arm, vb_arm_end);
    install((u32)buf_mon, vb_arm_mon, vb_arm_mon_end);

    set_vbar((u32)buf_a);
    RUN("vbar=buf_a", udf);
    RUN("vbar=buf_a", svc);
    set_vbar((u32)buf_b + 0x1000);
    RUN("vbar=buf_b+1000", svc);
    gic_send_sgi(1, 1);
    RUN("vbar=buf_b+1000", irq);
    set_vbar((u32)buf_a | 0x1f);
    printf("vbar written buf_a|1f reads %s\n", where(CP15_RD(0, c12, c0, 0)));
    RUN("vbar=buf_a|1f", svc);
    /* SMC: MVBAR, not VBAR */
    set_mvbar((u32)buf_mon);
    RUN("mvbar=buf_mon", smc);
    set_mvbar((u32)buf_mon | 0x1f);
    printf("mvbar written buf_mon|1f reads %s\n", where(CP15_RD(0, c12, c0, 1)));

    /* With the MMU: VA 0 and 0xffff0000 mapped to scratch RAM */
    mmu_identity(l1);
    mmu_section(l1, 0x00000000, ZERO_PA, SEC_NORMAL | SEC_AP(1));
    mmu_section(l1, 0xfff00000, SCRATCH_PA, SEC_NORMAL | SEC_AP(1));
    install(ZERO_PA, vb_arm, vb_arm_end);
    install(HIVEC_PA, vb_arm, vb_arm_end);
    mmu_on(l1, 0x55555555);
    set_vbar(0);
    RUN("mmu, vbar=0", svc);
    RUN("mmu, vbar=0", udf);
    set_vbar((u32)buf_a);
    write_sctlr(read_sctlr() | (1u << 13)); /* SCTLR.V */
    RUN("mmu, vbar=buf_a, V=1", svc);
    RUN("mmu, vbar=buf_a, V=1", udf);
    gic_send_sgi(1, 1);
    RUN("mmu, vbar=buf_a, V=1", irq);
    RUN("mmu, mvbar=buf_mon, V=1", smc);
    write_sctlr(read_sctlr() & ~(1u << 13));
    RUN("mmu, vbar=buf_a, V=0", svc);
    mmu_off();

    /* SCTLR.TE = 1: Thumb probes at VBAR and MVBAR */
    install((u32)buf_a, vb_thumb, vb_thumb_end);
    install((u32)buf_mon, vb_thumb_mon, vb_thumb_mon_end);
    write_sctlr(read_sctlr() | (1u << 30)); /* SCTLR.TE */
    printf("SCTLR.TE set: sctlr=%08x\n", read_sctlr());
    RUN("TE=1, vbar=buf_a", udf);
    RUN("TE=1, vbar=buf_a", svc);
    gic_send_sgi(1, 1);
    RUN("TE=1, vbar=buf_a", irq);
    RUN("TE=1, mvbar=buf_mon", smc);
    write_sctlr(read_sctlr() & ~(1u << 30));
    install((u32)buf_a, vb_arm, vb_arm_end);
    RUN("TE=0, vbar=buf_a", svc);

    set_vbar(vbar0);
    set_mvbar((u32)_mon_vectors);
    return 0;
}
