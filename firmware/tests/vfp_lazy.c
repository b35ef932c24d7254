/*
 * vfp_lazy.c — the VFP's enable controls and lazy context switching, as
 * Linux's VFP support uses them (ARM ARM B1.11.1, B4.1.40 CPACR, B6.1.4
 * FPEXC).
 *
 * Linux leaves FPEXC.EN clear after a context switch; the first VFP
 * instruction of the next task is UNDEFINED, the undefined-instruction
 * handler (vfp_support_entry) loads that task's registers, sets FPEXC.EN
 * and returns to the same instruction, which now executes. Covered here:
 *   - CPACR.cp10/cp11 = 0: a VFP instruction is UNDEFINED (LR = insn + 4);
 *   - CPACR allows access, FPEXC.EN = 0: data processing, VMRS FPSCR and
 *     VLDR are UNDEFINED, while FPEXC and FPSID stay readable at PL1;
 *   - retry: the handler sets FPEXC.EN and returns to the instruction,
 *     which then computes its result (ARM and Thumb state; in Thumb state
 *     LR = insn + 2 even for these 32-bit instructions);
 *   - CPACR.cp10 = 01 (PL1 only): VFP is UNDEFINED in User mode, = 11 it
 *     works there; VMRS/VMSR of FPEXC from User mode are UNDEFINED.
 */
#include "test.h"
#include "sys.h"

static volatile int undefs;
static volatile u32 undef_lr, undef_spsr;
static volatile int retry; /* the handler enables the VFP and retries */

static u32 fpexc_read(void)
{
    u32 v;
    __asm__ volatile(".fpu vfpv3\n\tvmrs %0, fpexc" : "=r"(v));
    return v;
}

static void fpexc_write(u32 v)
{
    __asm__ volatile(".fpu vfpv3\n\tvmsr fpexc, %0\n\tisb" : : "r"(v) : "memory");
}

static void cpacr_write(u32 v)
{
    CP15_WR(0, c1, c0, 2, v);
    __asm__ volatile("isb" ::: "memory");
}

#define FPEXC_EN (1u << 30)

static void undef_hook(int kind, struct exc_frame *f)
{
    (void)kind;
    undefs++;
    undef_lr = f->lr;
    undef_spsr = f->spsr;
    if (retry) {
        /* What vfp_support_entry does: enable, then re-execute. */
        cpacr_write(0x00f00000);
        fpexc_write(FPEXC_EN);
        f->lr -= (f->spsr & (1 << 5)) ? 2 : 4;
    }
    if (undefs > 3) {
        printf("*** runaway undefined instructions, lr=%08x\n", f->lr);
        exit(3);
    }
}

/* Each case: one VFP instruction at site_<name>, d1 = 1.5 and d2 = 2.25
 * (s8 = 3.0, s9 = 0.5 for the single-precision case) set beforehand. */
#define ARM_CASE(name, insn)                                                  \
    extern char site_##name[];                                                \
    static __attribute__((noinline)) void run_##name(void)                    \
    {                                                                         \
        __asm__ volatile(".fpu vfpv3\n"                                       \
                         "site_" #name ": " insn "\n\t" ::: "r0", "memory"); \
    }
ARM_CASE(vadd, "vadd.f64 d0, d1, d2")
ARM_CASE(vmrs_fpscr, "vmrs r0, fpscr")
ARM_CASE(vldr, "vldr d3, [sp]")
ARM_CASE(vmul_usr, "vmul.f32 s0, s8, s9")
ARM_CASE(vmrs_fpexc_usr, "vmrs r0, fpexc")
ARM_CASE(vmsr_fpexc_usr, "vmsr fpexc, r0")

/* A Thumb function called with BLX, returning with BX LR. */
__asm__(".pushsection .text\n"
        ".thumb\n"
        ".fpu vfpv3\n"
        ".thumb_func\n"
        "thumb_vsub:\n"
        "site_thumb_vsub:\n"
        "    vsub.f64 d0, d1, d2\n"
        "    bx lr\n"
        ".arm\n"
        ".popsection\n");
extern char site_thumb_vsub[];
void thumb_vsub(void);
static __attribute__((noinline)) void run_thumb_vsub(void) { thumb_vsub(); }

static void set_inputs(void)
{
    static const u64 in[2] = { 0x3ff8000000000000ull /* 1.5 */, 0x4002000000000000ull /* 2.25 */ };
    static const u32 sin[2] = { 0x40400000 /* 3.0 */, 0x3f000000 /* 0.5 */ };
    __asm__ volatile(".fpu vfpv3\n\t"
                     "vldr d1, [%0]\n\tvldr d2, [%0, #8]\n\t"
                     "vmov.f64 d0, #1.0\n\t"
                     "vldr s8, [%1]\n\tvldr s9, [%1, #4]"
                     : : "r"(in), "r"(sin) : "memory");
}

static u64 read_d0(void)
{
    u32 lo, hi;
    __asm__ volatile(".fpu vfpv3\n\tvmov %0, %1, d0" : "=r"(lo), "=r"(hi));
    return ((u64)hi << 32) | lo;
}

static void run(const char *what, void (*fn)(void), const char *site, int do_retry)
{
    undefs = 0;
    undef_lr = undef_spsr = 0;
    retry = do_retry;
    fn();
    retry = 0;
    printf("%-40s undefs=%d", what, undefs);
    if (undefs)
        printf(" lr=site+%u spsr.mode=%02x spsr.T=%u", undef_lr - ((u32)site & ~1u), undef_spsr & 0x1f,
               (undef_spsr >> 5) & 1);
    printf("\n");
}
#define RUN(name, what, do_retry) run(what, run_##name, site_##name, do_retry)

/* Run fn in User mode (CPS to User, back through SVC #0xff). */
static void svc_back(int kind, struct exc_frame *f)
{
    (void)kind;
    f->spsr = (f->spsr & ~0x1fu) | MODE_SVC;
}

static void (*volatile usr_fn)(void);
static void usr_trampoline(void)
{
    __asm__ volatile("cps #0x10" ::: "memory");
    usr_fn();
    __asm__ volatile("svc #0xff" ::: "lr", "memory");
}

static void run_usr(const char *what, void (*fn)(void), const char *site)
{
    usr_fn = fn;
    undefs = 0;
    undef_lr = undef_spsr = 0;
    usr_trampoline();
    printf("%-40s undefs=%d", what, undefs);
    if (undefs)
        printf(" lr=site+%u spsr.mode=%02x", undef_lr - (u32)site, undef_spsr & 0x1f);
    printf("\n");
}

int main(void)
{
    exc_set_hook(EXC_UNDEF, undef_hook);
    exc_set_hook(EXC_SVC, svc_back);

    printf("CPACR at start: %08x\n", CP15_RD(0, c1, c0, 2));

    /* CPACR grants no access */
    cpacr_write(0);
    RUN(vadd, "CPACR=0: vadd.f64", 0);
    RUN(vmrs_fpscr, "CPACR=0: vmrs fpscr", 0);

    /* access granted, FPEXC.EN = 0 */
    cpacr_write(0x00f00000);
    printf("CPACR after writing 00f00000: %08x\n", CP15_RD(0, c1, c0, 2));
    undefs = 0;
    u32 fpexc = fpexc_read();
    u32 fpsid;
    __asm__ volatile(".fpu vfpv3\n\tvmrs %0, fpsid" : "=r"(fpsid));
    printf("FPEXC.EN=0: FPEXC=%08x FPSID=%08x read with %d undefs\n", fpexc, fpsid, undefs);
    RUN(vadd, "FPEXC.EN=0: vadd.f64", 0);
    RUN(vmrs_fpscr, "FPEXC.EN=0: vmrs fpscr", 0);
    RUN(vldr, "FPEXC.EN=0: vldr", 0);

    /* lazy enable and retry, ARM state */
    fpexc_write(FPEXC_EN);
    set_inputs();
    fpexc_write(0);
    RUN(vadd, "lazy: vadd.f64 d0=d1+d2, retried", 1);
    printf("  d0=%08x%08x (3.75 = 400e000000000000) FPEXC=%08x\n", (u32)(read_d0() >> 32), (u32)read_d0(),
           fpexc_read());

    /* and in Thumb state */
    set_inputs();
    fpexc_write(0);
    RUN(thumb_vsub, "lazy (Thumb): vsub.f64 d0=d1-d2, retried", 1);
    printf("  d0=%08x%08x (-0.75 = bfe8000000000000) FPEXC=%08x\n", (u32)(read_d0() >> 32),
           (u32)read_d0(), fpexc_read());

    /* CPACR.cp10/cp11 = 01: PL1 only */
    cpacr_write(0x00500000);
    fpexc_write(FPEXC_EN);
    set_inputs();
    run_usr("CPACR=00500000: vmul.f32 from User", run_vmul_usr, site_vmul_usr);
    cpacr_write(0x00f00000);
    run_usr("CPACR=00f00000: vmul.f32 from User", run_vmul_usr, site_vmul_usr);
    u32 s0;
    __asm__ volatile(".fpu vfpv3\n\tvmov %0, s0" : "=r"(s0));
    printf("  s0=%08x (1.5 = 3fc00000)\n", s0);
    run_usr("vmrs fpexc from User", run_vmrs_fpexc_usr, site_vmrs_fpexc_usr);
    run_usr("vmsr fpexc from User", run_vmsr_fpexc_usr, site_vmsr_fpexc_usr);
    printf("FPEXC at the end: %08x\n", fpexc_read());
    return 0;
}
