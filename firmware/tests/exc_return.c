/*
 * exc_return.c — every way back from an exception (ARM ARM B1.8.10) and
 * the banked LR/SPSR each exception mode keeps.
 *
 * The program installs its own vector table (VBAR = rv_vectors, below):
 * each handler checks that its exception was the one expected (anything
 * else goes on to start.S's handlers, which report it and exit), records
 * LR, SPSR and CPSR as found on entry and returns to the interrupted code
 * with the form selected by rv_form:
 *   movs     MOVS PC, LR (after SUB LR, LR, #adjust)
 *   subs     SUBS PC, LR, #adjust
 *   adds     ADDS PC, LR, #0 (after SUB LR, LR, #adjust). ARMv7 lists ADDS
 *            with Rd = PC among the exception returns ("SUBS PC, LR and
 *            related instructions"), but QEMU 7.2 treats only SUBS and MOVS
 *            so: ADDS PC is an ordinary flag-setting branch there, staying
 *            in the handler's mode with flags from LR + 0. QEMU is the
 *            oracle, so that is what is expected here.
 *   ldm^     LDMFD SP!, {PC}^
 *   ldm^4    LDMFD SP!, {R0-R3, PC}^ (other registers restored as well)
 *   rfe      SRSDB SP!, #own mode; RFEIA SP!
 *   rfe-svc  SRSDB SP!, #SVC; CPS #SVC; RFEIA SP! (as Linux's vector stubs
 *            do: state pushed on another mode's stack, RFE from that mode)
 *   spsr     MSR SPSR_f / SPSR_c first (flags Z, System mode), then MOVS
 *   thumb    SPSR.T set and LR = a Thumb routine, then MOVS: the return
 *            switches to Thumb state
 *   retry    data abort only: clear SCTLR.A and SUBS PC, LR, #8, which
 *            re-executes the faulting (misaligned) load, now allowed
 * "adjust" gives the next instruction: 0 for UND, SVC, SMC and BKPT (LR =
 * insn + 4), 4 for data aborts (LR = insn + 8) and IRQ/FIQ (LR = next + 4).
 * Each line shows LR on entry relative to the faulting instruction, SPSR
 * on entry, the CPSR the code resumes with, whether r0-r3 survived and
 * whether the handler mode's SP is back where it was.
 * The last part takes one exception of each kind in turn, then reads every
 * mode's banked LR and SPSR (MRS/MOV after CPS to each mode): each mode
 * must still hold what its own exception left.
 */
#include "test.h"
#include "sys.h"

/* Return forms */
enum { F_MOVS, F_SUBS, F_ADDS, F_LDM, F_LDM4, F_RFE, F_RFE_SVC, F_SPSR, F_THUMB, F_RETRY, F_N };
static const char *const form_names[F_N] = {
    "movs", "subs", "adds", "ldm^", "ldm^4", "rfe", "rfe-svc", "spsr", "thumb", "retry",
};

volatile u32 rv_expect; /* kind of the exception to be taken, 0 = none */
volatile u32 rv_form;
volatile u32 rv_seen[4]; /* lr, spsr, cpsr on entry, GICC_IAR */
volatile u32 rv_gicc;    /* GIC CPU interface base */

/*
 * RV_HANDLER name, kind, adjust, mode, vector: the handler for one vector.
 * On a wrong kind it restores r0/r1 and branches to `vector`, start.S's
 * entry for the same exception (which reports it). Interrupts are
 * acknowledged (IAR) and ended (EOIR) at once.
 */
__asm__(
    ".pushsection .text\n"
    ".syntax unified\n"
    ".arm\n"
    ".arch_extension sec\n"
    ".macro RV_HANDLER name, kind, adj, mode, vector\n"
    "\\name:\n"
    "    push {r0, r1}\n"
    "    ldr r0, =rv_expect\n"
    "    ldr r1, [r0]\n"
    "    cmp r1, #\\kind\n"
    "    bne \\name\\()_bad\n"
    "    mov r1, #0\n"
    "    str r1, [r0]\n"
    "    ldr r0, =rv_seen\n"
    "    str lr, [r0]\n"
    "    mrs r1, spsr\n"
    "    str r1, [r0, #4]\n"
    "    mrs r1, cpsr\n"
    "    str r1, [r0, #8]\n"
    "    .if \\kind == 6 || \\kind == 7\n"
    "    ldr r0, =rv_gicc\n"
    "    ldr r0, [r0]\n"
    "    ldr r1, [r0, #0x0c]\n"      /* GICC_IAR */
    "    str r1, [r0, #0x10]\n"      /* GICC_EOIR */
    "    ldr r0, =rv_seen\n"
    "    str r1, [r0, #12]\n"
    "    .endif\n"
    "    ldr r0, =rv_form\n"
    "    ldr r0, [r0]\n"
    "    cmp r0, #10\n"
    "    addlo pc, pc, r0, lsl #2\n" /* PC reads as this instruction + 8 */
    "    b \\name\\()_bad\n"
    "    b \\name\\()_movs\n"
    "    b \\name\\()_subs\n"
    "    b \\name\\()_adds\n"
    "    b \\name\\()_ldm\n"
    "    b \\name\\()_ldm4\n"
    "    b \\name\\()_rfe\n"
    "    b \\name\\()_rfe_svc\n"
    "    b \\name\\()_spsr\n"
    "    b \\name\\()_thumb\n"
    "    b \\name\\()_retry\n"
    "\\name\\()_movs:\n"
    "    pop {r0, r1}\n"
    "    sub lr, lr, #\\adj\n"
    "    movs pc, lr\n"
    "\\name\\()_subs:\n"
    "    pop {r0, r1}\n"
    "    subs pc, lr, #\\adj\n"
    "\\name\\()_adds:\n"
    "    pop {r0, r1}\n"
    "    sub lr, lr, #\\adj\n"
    "    adds pc, lr, #0\n"
    "\\name\\()_ldm:\n"
    "    pop {r0, r1}\n"
    "    sub lr, lr, #\\adj\n"
    "    push {lr}\n"
    "    ldmfd sp!, {pc}^\n"
    "\\name\\()_ldm4:\n"
    "    pop {r0, r1}\n"
    "    sub lr, lr, #\\adj\n"
    "    push {r0-r3, lr}\n"
    "    mov r0, #0\n"               /* clobber r0-r3: the LDM restores them */
    "    mov r1, #0\n"
    "    mov r2, #0\n"
    "    mov r3, #0\n"
    "    ldmfd sp!, {r0-r3, pc}^\n"
    "\\name\\()_rfe:\n"
    "    pop {r0, r1}\n"
    "    sub lr, lr, #\\adj\n"
    "    srsdb sp!, #\\mode\n"
    "    rfeia sp!\n"
    "\\name\\()_rfe_svc:\n"
    "    pop {r0, r1}\n"
    "    sub lr, lr, #\\adj\n"
    "    srsdb sp!, #0x13\n"
    "    cps #0x13\n"
    "    rfeia sp!\n"
    "\\name\\()_spsr:\n"
    "    pop {r0, r1}\n"
    "    sub lr, lr, #\\adj\n"
    "    msr spsr_f, #0x40000000\n"  /* flags: Z only */
    "    msr spsr_c, #0xdf\n"        /* System mode, I and F masked, ARM */
    "    movs pc, lr\n"
    "\\name\\()_thumb:\n"
    "    pop {r0, r1}\n"
    "    ldr lr, =rv_thumb_target\n" /* bit 0 set (Thumb symbol): ignored */
    "    msr spsr_c, #0xf3\n"        /* SVC, I and F masked, T */
    "    movs pc, lr\n"
    "\\name\\()_retry:\n"
    "    .if \\kind == 4\n"
    "    mrc p15, 0, r0, c1, c0, 0\n"
    "    bic r0, r0, #2\n"           /* SCTLR.A = 0 */
    "    mcr p15, 0, r0, c1, c0, 0\n"
    "    isb\n"
    "    pop {r0, r1}\n"
    "    subs pc, lr, #8\n"
    "    .endif\n"
    "\\name\\()_bad:\n"
    "    pop {r0, r1}\n"
    "    b \\vector\n"
    "    .ltorg\n"
    ".endm\n"
    "\n"
    "    .balign 32\n"
    "rv_vectors:\n"
    "    b _vectors\n"
    "    b rv_und\n"
    "    b rv_svc\n"
    "    b rv_pabt\n"
    "    b rv_dabt\n"
    "    b _vectors + 0x14\n"
    "    b rv_irq\n"
    "    b rv_fiq\n"
    "    .balign 32\n"
    "rv_mon_vectors:\n"
    "    b _mon_vectors\n"
    "    b _mon_vectors + 0x04\n"
    "    b rv_smc\n"
    "    b _mon_vectors + 0x0c\n"
    "    b _mon_vectors + 0x10\n"
    "    b _mon_vectors + 0x14\n"
    "    b _mon_vectors + 0x18\n"
    "    b _mon_vectors + 0x1c\n"
    "    RV_HANDLER rv_und, 1, 0, 0x1b, _vectors + 0x04\n"
    "    RV_HANDLER rv_svc, 2, 0, 0x13, _vectors + 0x08\n"
    "    RV_HANDLER rv_pabt, 3, 0, 0x17, _vectors + 0x0c\n"
    "    RV_HANDLER rv_dabt, 4, 4, 0x17, _vectors + 0x10\n"
    "    RV_HANDLER rv_irq, 6, 4, 0x12, _vectors + 0x18\n"
    "    RV_HANDLER rv_fiq, 7, 4, 0x11, _vectors + 0x1c\n"
    "    RV_HANDLER rv_smc, 10, 0, 0x16, _mon_vectors + 0x08\n"
    /* Reached in Thumb state by the `thumb` form: r2 = CPSR, then back to
     * ARM code at r3 (set by the test before the exception). */
    ".thumb\n"
    ".thumb_func\n"
    "rv_thumb_target:\n"
    "    mrs r2, cpsr\n"            /* (MRS reads CPSR.T as 0) */
    "    movw r12, #0x7777\n"
    "    bx r3\n"
    ".arm\n"
    ".popsection\n");

extern char rv_vectors[], rv_mon_vectors[];

/*
 * CASE(name, setup, insn): flags N and V, A/I/F as `setup` leaves them,
 * r0 = 0x10, r1 = 0x11, r3 = label 2 (for the Thumb form), r12 = a
 * misaligned address (for data aborts); then `insn` at site_<name>.
 * Execution resumes at label 1 (the next instruction), where CPSR is read
 * into r2, or in rv_thumb_target, which does the same and branches to r3.
 * At label 2 (end_<name>), r0-r3 and CPSR are stored and the program goes
 * back to SVC mode with A, I and F masked.
 */
struct result {
    u32 r[4];  /* r0-r3 after the return (r2 = CPSR) */
    u32 r12;   /* 0x7777 if rv_thumb_target ran */
};
static volatile u32 case_flags; /* NZCV before the exception */

#define CASE(name, setup, insn)                                               \
    extern char site_##name[], end_##name[];                                 \
    static __attribute__((noinline)) void run_##name(struct result *res)     \
    {                                                                        \
        __asm__ volatile(".arch_extension sec\n\t"                           \
                         "push {r4}\n\t"                                     \
                         "mov r4, %[res]\n\t"                                \
                         "mov r0, #0x10\n\tmov r1, #0x11\n\t"                \
                         "mov r2, #0x12\n\tadr r3, 2f\n\t"                   \
                         "ldr r12, =mis_word + 1\n\t"                        \
                         "ldr r2, =case_flags\n\tldr r2, [r2]\n\t"            \
                         "msr APSR_nzcvq, r2\n\tmov r2, #0x12\n\t"            \
                         setup "\n"                                          \
                         "site_" #name ":\t" insn "\n"                       \
                         "1:\tmrs r2, cpsr\n"                                \
                         "end_" #name ":\n"                                   \
                         "2:\tstm r4, {r0-r3, r12}\n\t"                      \
                         "cpsid aif, #0x13\n\t"                              \
                         "pop {r4}"                                          \
                         : : [res] "r"(res)                                  \
                         : "r0", "r1", "r2", "r3", "r12", "lr", "cc", "memory"); \
    }

/* Interrupts are made pending before; the site is the CPSIE unmasking them. */
CASE(und, "cpsie aif", "udf #1")
CASE(svc, "cpsie aif", "svc #2")
CASE(bkpt, "cpsie aif", "bkpt #3")
CASE(dabt, "cpsie aif", "ldm r12, {r2}")
CASE(dabt_ldr, "cpsie aif", "ldr r0, [r12]")
CASE(irq, "cpsie af", "cpsie i\n\tnop")
CASE(fiq, "cpsie ai", "cpsie f\n\tnop")
CASE(smc, "cpsie aif", "smc #0")

static const u32 mis_word[2] __attribute__((used, aligned(8))) = { 0x33221100, 0x77665544 };

/* Banked registers are read with fixed low registers: in FIQ mode r8-r12
 * are banked too, so the compiler must not pick those. */
static u32 read_banked_sp(u32 mode)
{
    register u32 m __asm__("r0") = mode | 0xc0;
    register u32 sp __asm__("r1");
    __asm__ volatile("mrs r2, cpsr\n\tmsr cpsr_c, r0\n\tmov r1, sp\n\tmsr cpsr_c, r2"
                     : "=r"(sp)
                     : "r"(m)
                     : "r2", "memory");
    return sp;
}

static const char *psr_text(u32 psr)
{
    static char bufs[2][16];
    static int next;
    char *b = bufs[next++ & 1];
    static const char modes[32][4] = {
        [0x10] = "usr", [0x11] = "fiq", [0x12] = "irq", [0x13] = "svc",
        [0x16] = "mon", [0x17] = "abt", [0x1b] = "und", [0x1f] = "sys",
    };
    const char *m = modes[psr & 0x1f][0] ? modes[psr & 0x1f] : "???";
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

static void run_case(const char *what, int kind, u32 mode, int form,
                     void (*fn)(struct result *), u32 site, u32 end)
{
    struct result res;
    u32 sp_before = read_banked_sp(mode);
    rv_seen[0] = rv_seen[1] = rv_seen[2] = rv_seen[3] = 0;
    rv_form = form;
    rv_expect = kind;
    fn(&res);
    u32 sp_after = read_banked_sp(mode);
    if (rv_expect) {
        printf("%-4s %-7s no exception\n", what, form_names[form]);
        rv_expect = 0;
        return;
    }
    int kept = (form == F_RETRY || res.r[0] == 0x10) && res.r[1] == 0x11 && res.r[3] == end;
    printf("%-4s %-7s lr=site+%u spsr=%s -> cpsr=%08x (%s) r0,r1,r3 %s, sp %s", what,
           form_names[form], rv_seen[0] - site, psr_text(rv_seen[1]), res.r[2],
           psr_text(res.r[2]), kept ? "kept" : "CHANGED", sp_after == sp_before ? "kept" : "MOVED");
    if (kind == EXC_IRQ || kind == EXC_FIQ)
        printf(" iar=%u", rv_seen[3]);
    if (form == F_RETRY)
        printf(" ldr loaded %08x", res.r[0]);
    if (form == F_THUMB)
        printf(" %s", res.r12 == 0x7777 ? "ran thumb code" : "THUMB CODE NOT RUN");
    printf("\n");
}

static void run_forms(const char *what, int kind, u32 mode, const int *forms, int n,
                      void (*fn)(struct result *), u32 site, u32 end)
{
    for (int i = 0; i < n; i++) {
        if (kind == EXC_IRQ)
            gic_send_sgi(1, 1);
        if (kind == EXC_FIQ)
            gic_send_sgi(2, 0);
        run_case(what, kind, mode, forms[i], fn, site, end);
    }
}
#define RUN_FORMS(what, kind, mode, forms, name)                              \
    run_forms(what, kind, mode, forms, (int)ARRAY_SIZE(forms), run_##name,   \
              (u32)site_##name, (u32)end_##name)
#define RUN(what, kind, mode, form, name)                                     \
    do {                                                                     \
        if (kind == EXC_IRQ)                                                 \
            gic_send_sgi(1, 1);                                              \
        if (kind == EXC_FIQ)                                                 \
            gic_send_sgi(2, 0);                                              \
        run_case(what, kind, mode, form, run_##name, (u32)site_##name,       \
                 (u32)end_##name);                                           \
    } while (0)

/* LR and SPSR of an exception mode, read from SVC mode via MSR CPSR_c. */
static void read_banked(u32 mode, u32 *lr_out, u32 *spsr_out)
{
    register u32 m __asm__("r0") = mode | 0xc0;
    register u32 lr __asm__("r1");
    register u32 spsr __asm__("r2");
    __asm__ volatile("mrs r3, cpsr\n\tmsr cpsr_c, r0\n\t"
                     "mov r1, lr\n\tmrs r2, spsr\n\tmsr cpsr_c, r3"
                     : "=r"(lr), "=r"(spsr)
                     : "r"(m)
                     : "r3", "memory");
    *lr_out = lr;
    *spsr_out = spsr;
}

int main(void)
{
    exc_monitor_init();
    rv_gicc = gicc_base();
    gic_init(0xf); /* groups 0 and 1, AckCtl, group 0 as FIQ */
    gic_set_group(1, 1);
    gic_enable(1);
    gic_enable(2);
    CP15_WR(0, c12, c0, 0, rv_vectors);
    CP15_WR(0, c12, c0, 1, rv_mon_vectors);

    case_flags = PSR_N | PSR_V;
    static const int und_forms[] = { F_MOVS, F_SUBS, F_ADDS, F_LDM, F_LDM4, F_RFE, F_RFE_SVC,
                                     F_SPSR, F_THUMB };
    static const int svc_forms[] = { F_MOVS, F_SUBS, F_LDM, F_RFE, F_SPSR, F_THUMB };
    static const int pabt_forms[] = { F_MOVS, F_SUBS, F_LDM4, F_RFE };
    static const int dabt_forms[] = { F_MOVS, F_SUBS, F_LDM, F_RFE, F_RFE_SVC };
    static const int irq_forms[] = { F_SUBS, F_ADDS, F_LDM, F_LDM4, F_RFE, F_RFE_SVC };
    static const int fiq_forms[] = { F_SUBS, F_LDM, F_RFE, F_SPSR };
    static const int smc_forms[] = { F_MOVS, F_SUBS, F_LDM4, F_RFE, F_THUMB };
    RUN_FORMS("und", EXC_UNDEF, MODE_UND, und_forms, und);
    RUN_FORMS("svc", EXC_SVC, MODE_SVC, svc_forms, svc);
    RUN_FORMS("bkpt", EXC_PABT, MODE_ABT, pabt_forms, bkpt);
    RUN_FORMS("dabt", EXC_DABT, MODE_ABT, dabt_forms, dabt);
    /* Retry: LDR misaligned with SCTLR.A = 1; the handler clears A. */
    write_sctlr(read_sctlr() | 2);
    RUN("dabt", EXC_DABT, MODE_ABT, F_RETRY, dabt_ldr);
    printf("     SCTLR.A after the retry: %u\n", (read_sctlr() >> 1) & 1);
    RUN_FORMS("irq", EXC_IRQ, MODE_IRQ, irq_forms, irq);
    RUN_FORMS("fiq", EXC_FIQ, MODE_FIQ, fiq_forms, fiq);
    RUN_FORMS("smc", EXC_SMC, MODE_MON, smc_forms, smc);

    /* Banked LR/SPSR: one exception of each kind (SUBS returns leave LR
     * alone), then every mode's LR and SPSR. ABT holds the data abort's,
     * which came after the prefetch abort. */
    case_flags = PSR_V;
    RUN("und", EXC_UNDEF, MODE_UND, F_SUBS, und);
    case_flags = PSR_N | PSR_Z;
    RUN("bkpt", EXC_PABT, MODE_ABT, F_SUBS, bkpt);
    case_flags = PSR_C;
    RUN("dabt", EXC_DABT, MODE_ABT, F_SUBS, dabt);
    case_flags = PSR_Z;
    RUN("irq", EXC_IRQ, MODE_IRQ, F_SUBS, irq);
    case_flags = PSR_N;
    RUN("fiq", EXC_FIQ, MODE_FIQ, F_SUBS, fiq);
    case_flags = PSR_C | PSR_V;
    RUN("smc", EXC_SMC, MODE_MON, F_SUBS, smc);
    static const struct {
        const char *name;
        u32 mode, site;
    } banked[] = {
        { "und", MODE_UND, (u32)site_und }, { "abt", MODE_ABT, (u32)site_dabt },
        { "irq", MODE_IRQ, (u32)site_irq }, { "fiq", MODE_FIQ, (u32)site_fiq },
        { "mon", MODE_MON, (u32)site_smc },
    };
    u32 lr[5], spsr[5];
    for (int i = 0; i < 5; i++)
        read_banked(banked[i].mode, &lr[i], &spsr[i]);
    for (int i = 0; i < 5; i++)
        printf("banked %s: lr=site+%u spsr=%08x\n", banked[i].name, lr[i] - banked[i].site,
               spsr[i]);
    return 0;
}
