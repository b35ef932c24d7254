/*
 * exceptions.c — taking exceptions through the vector table (start.S).
 *
 * For each exception the hook records what the handler sees: LR (printed
 * relative to the address of the instruction that caused it), SPSR, the
 * handler's own CPSR (mode and A/I/F masks), and the fault status and
 * address registers where they are architecturally defined:
 *   SVC           from SVC, SYS and USR mode; the immediate is read from the
 *                 SVC instruction at LR-4; and from Thumb state (LR-2)
 *   UDF           UDF, VMRS with CP10 disabled (CPACR=0), MRC p15 from User,
 *                 16- and 32-bit UDF in Thumb state
 *   BKPT          prefetch abort, IFSR = debug event (0x002); ARM and Thumb
 *   alignment     data abort with SCTLR.A=1 (LDR/STR/LDRH), and with A=0
 *                 for LDM and LDREX, which always need alignment
 *   SRS/RFE       store return state / return from exception, in both
 *                 increment/decrement forms, to this mode and another one
 * Before each exception the flags are set to a known pattern and CPSR.A is
 * cleared, so SPSR and the A-bit behaviour on entry are visible.
 */
#include "test.h"

struct seen {
    int kind;
    u32 lr, spsr, cpsr, r0, imm, fsr, far;
};
static volatile struct seen seen;

/* Record the exception and resume: after the faulting instruction for
 * aborts (data abort LR = insn + 8), at LR otherwise. */
static volatile int taken; /* exceptions in the current case */

static void hook(int kind, struct exc_frame *f)
{
    /* Each case expects one exception (two for the User-mode ones). If an
     * emulator gets it wrong, resuming could take exception after
     * exception: stop with a message instead of spinning. */
    if (++taken > 4) {
        printf("*** runaway exceptions: %s, lr=%08x spsr=%08x\n", exc_name(kind), f->lr,
               f->spsr);
        exit(3);
    }
    seen.kind = kind;
    seen.lr = f->lr;
    seen.spsr = f->spsr;
    seen.cpsr = f->cpsr;
    seen.r0 = f->r[0];
    seen.imm = 0;
    seen.fsr = seen.far = 0;
    int thumb = (f->spsr >> 5) & 1;
    if (kind == EXC_SVC)
        seen.imm = thumb ? *(u16 *)(f->lr - 2) & 0xff : *(u32 *)(f->lr - 4) & 0xffffff;
    if (kind == EXC_UNDEF && !thumb)
        seen.imm = *(u32 *)(f->lr - 4);
    if (kind == EXC_UNDEF && thumb) {
        /* LR = instruction + 2 in Thumb state, even for a 32-bit
         * instruction: then step over its second halfword. */
        u32 hw = *(u16 *)(f->lr - 2);
        seen.imm = hw;
        if ((hw >> 11) >= 0x1d) {
            seen.imm = (hw << 16) | *(u16 *)f->lr;
            f->lr += 2;
        }
    }
    if (kind == EXC_PABT) {
        seen.fsr = read_ifsr();
        if (thumb)
            f->lr -= 2; /* LR = BKPT + 4; resume after the 16-bit BKPT */
    }
    if (kind == EXC_DABT) {
        seen.fsr = read_dfsr();
        seen.far = read_dfar();
        f->lr -= 4; /* resume after the faulting instruction */
    }
    /* SVC #0xff means "return to SVC mode" (the way back from User mode) */
    if (kind == EXC_SVC && seen.imm == 0xff)
        f->spsr = (f->spsr & ~0x1fu) | MODE_SVC;
}

/* Before each exception: clear CPSR.A (to see which exceptions set it)
 * and set the flags to N and V (to see them in SPSR). */
#define PRE "cpsie a\n\tmsr APSR_nzcvq, #0x90000000\n\t"
/* After: mask A again, as the rest of the program runs. */
#define POST "\n\tcpsid a"

/* CASE(name, asm): a function that runs asm; the instruction expected to
 * take the exception carries the label site_<name>. */
#define CASE(name, body, ...)                                                \
    extern char site_##name[];                                               \
    static __attribute__((noinline)) void run_##name(void)                   \
    {                                                                        \
        __asm__ volatile(body : : : "r0", "r1", "r2", "r3", "lr", "cc",      \
                         "memory" __VA_ARGS__);                              \
    }

/* --- SVC from SVC, System and User mode (SVC #0xff returns to SVC) --- */
CASE(svc_svc, PRE "mov r0, #0x11\nsite_svc_svc: svc #0x42" POST)
CASE(svc_sys, "cps #0x1f\n\t" PRE "mov r0, #0x22\nsite_svc_sys: svc #0x123\n\t"
              "cps #0x13" POST)
CASE(svc_usr, "cpsie a\n\tcps #0x10\n\tmsr APSR_nzcvq, #0x90000000\n\tmov r0, #0x33\n"
              "site_svc_usr: svc #0xabcdef\n\t"
              "ldr r1, =seen_usr\n\tldr r2, =seen\n\t"
              "ldm r2!, {r0, r3, r12, lr}\n\tstm r1!, {r0, r3, r12, lr}\n\t"
              "ldm r2!, {r0, r3, r12, lr}\n\tstm r1!, {r0, r3, r12, lr}\n\t"
              "svc #0xff" POST, , "r12")

/* --- Undefined instructions --- */
CASE(udf, PRE "site_udf: udf #0xabc" POST)
/* VMRS r0, FPSCR with CPACR granting no access to CP10/CP11 */
CASE(vmrs, PRE "site_vmrs: .inst 0xeef10a10" POST)
/* MRC p15 (SCTLR) from User mode is undefined; then back to SVC */
CASE(mrc_usr, "cpsie a\n\tcps #0x10\n\tmsr APSR_nzcvq, #0x90000000\n"
              "site_mrc_usr: mrc p15, 0, r0, c1, c0, 0\n\t"
              "ldr r1, =seen_usr\n\tldr r2, =seen\n\t"
              "ldm r2!, {r0, r3, r12, lr}\n\tstm r1!, {r0, r3, r12, lr}\n\t"
              "ldm r2!, {r0, r3, r12, lr}\n\tstm r1!, {r0, r3, r12, lr}\n\t"
              "svc #0xff" POST, , "r12")

/* --- BKPT: prefetch abort with a debug-event IFSR --- */
CASE(bkpt, PRE "site_bkpt: bkpt #0x77" POST)

/* --- The same from Thumb state: SPSR.T is set; LR is the instruction + 2
 * for SVC and UDF (also for the 32-bit UDF.W) and + 4 for BKPT. Each Thumb
 * function is called with BLX from an ARM wrapper and returns with POP. */
#define THUMB_CASE(name, insn)                                               \
    __asm__(".pushsection .text\n"                                           \
            ".thumb\n"                                                       \
            ".thumb_func\n"                                                  \
            "thumb_" #name ":\n"                                             \
            "    push {r4, lr}\n"                                            \
            "    cpsie a\n"                                                  \
            "    mov r4, #0x90000000\n"                                      \
            "    msr APSR_nzcvq, r4\n"                                       \
            "    mov r0, #0x44\n"                                            \
            "site_" #name ":\n"                                              \
            "    " insn "\n"                                                 \
            "    cpsid a\n"                                                  \
            "    pop {r4, pc}\n"                                             \
            ".arm\n"                                                         \
            ".popsection\n");                                                \
    extern char site_##name[];                                               \
    void thumb_##name(void);                                                 \
    static __attribute__((noinline)) void run_##name(void)                   \
    {                                                                        \
        thumb_##name();                                                      \
    }
THUMB_CASE(t_svc, "svc #0x12")
THUMB_CASE(t_udf, "udf #0x34")
THUMB_CASE(t_udfw, "udf.w #0x5678")
THUMB_CASE(t_bkpt, "bkpt #0x56")

/* --- Alignment faults (data aborts); r1 = misaligned address --- */
static u32 buf[4] __attribute__((aligned(16))) = { 0x03020100, 0x07060504, 0x0b0a0908, 0x0f0e0d0c };
CASE(ldr_align, "ldr r1, =buf+1\n\t" PRE "site_ldr_align: ldr r0, [r1]" POST)
CASE(str_align, "ldr r1, =buf+2\n\t" PRE "site_str_align: str r0, [r1]" POST)
CASE(ldrh_align, "ldr r1, =buf+1\n\t" PRE "site_ldrh_align: ldrh r0, [r1]" POST)
CASE(ldm_align, "ldr r1, =buf+2\n\t" PRE "site_ldm_align: ldm r1, {r2, r3}" POST)
CASE(ldrex_align, "ldr r1, =buf+2\n\t" PRE "site_ldrex_align: ldrex r0, [r1]" POST)

static struct seen seen_usr;

static void run_case(const char *what, void (*fn)(void), u32 site, int from_usr)
{
    seen.kind = 0;
    taken = 0;
    fn();
    if (from_usr)
        seen = seen_usr;
    if (seen.kind == 0) {
        printf("%-24s no exception\n", what);
        return;
    }
    printf("%-24s %-21s lr=site+%u spsr=%08x cpsr=%08x", what, exc_name(seen.kind),
           seen.lr - site, seen.spsr, seen.cpsr);
    if (seen.kind == EXC_SVC)
        printf(" imm=%06x r0=%x", seen.imm, seen.r0);
    if (seen.kind == EXC_UNDEF)
        printf(" insn=%08x", seen.imm);
    if (seen.kind == EXC_PABT)
        printf(" ifsr=%08x", seen.fsr);
    if (seen.kind == EXC_DABT)
        printf(" dfsr=%08x dfar=buf+%d", seen.fsr, (int)(seen.far - (u32)buf));
    printf("\n");
}
#define RUN(name, desc, usr) run_case(desc, run_##name, (u32)site_##name, usr)

/* --- SRS / RFE --- */

/* RFE_CASE: build a {return address, CPSR} pair in frame[2], frame[3] and
 * return through it with `insn`, whose base register is %[b] = frame +
 * base_words; print the CPSR we arrive with and how far the base moved. */
#define RFE_CASE(name, insn, base_words, psr)                                 \
    do {                                                                      \
        static u32 frame[6] __attribute__((aligned(8)));                      \
        u32 b = (u32)&frame[base_words], cpsr;                                \
        frame[3] = (psr);                                                     \
        __asm__ volatile("adr r0, 1f\n\t"                                     \
                         "str r0, [%[f], #8]\n\t" insn "\n\t"                 \
                         "b .\n"                                              \
                         "1:\tmrs %[c], cpsr"                                 \
                         : [b] "+r"(b), [c] "=r"(cpsr)                        \
                         : [f] "r"(frame)                                     \
                         : "r0", "cc", "memory");                             \
        printf("%-12s -> cpsr=%08x base moved by %d\n", name, cpsr,          \
               (int)(b - (u32)&frame[base_words]));                           \
    } while (0)

static void test_srs_rfe(void)
{
    u32 out[5];
    /* SRSDB sp!, #SVC: push LR_svc and SPSR_svc on our own stack; check the
     * stored words and sp; then RFEIA sp! returns to label 1 with the
     * flags and mode from the stored SPSR. */
    __asm__ volatile(
        "mov r4, sp\n\t"
        "adr lr, 1f\n\t"
        "ldr r0, =0x600001d3\n\t"      /* Z C, A I F masked, SVC */
        "msr spsr_cxsf, r0\n\t"
        "srsdb sp!, #0x13\n\t"
        "ldr r0, [sp]\n\t"
        "adr r1, 1f\n\t"
        "sub r0, r0, r1\n\t"           /* stored LR - label 1: 0 */
        "str r0, [%[o], #0]\n\t"
        "ldr r0, [sp, #4]\n\t"         /* stored SPSR */
        "str r0, [%[o], #4]\n\t"
        "sub r0, r4, sp\n\t"           /* 8 */
        "str r0, [%[o], #8]\n\t"
        "msr APSR_nzcvq, #0\n\t"
        "rfeia sp!\n\t"
        "b .\n"
        "1:\tsub r0, r4, sp\n\t"       /* 0: RFE popped both words */
        "str r0, [%[o], #12]\n\t"
        "mrs r0, cpsr\n\t"
        "str r0, [%[o], #16]\n\t"
        : : [o] "r"(out) : "r0", "r1", "r4", "lr", "cc", "memory");
    printf("srsdb sp!, #0x13: [sp]-label=%d [sp+4]=%08x sp-=%u; rfeia sp!: cpsr=%08x sp+=%u\n",
           (int)out[0], out[1], out[2], out[4], 8 - out[3]);

    /* SRS to the System-mode stack (another mode's banked SP) without and
     * with writeback; then read SP_sys and the stored words. */
    static u32 sysstack[4] __attribute__((aligned(8)));
    __asm__ volatile(
        "mov r5, sp\n\t"
        "cps #0x1f\n\t"
        "mov r4, sp\n\t"                /* save SP_sys */
        "mov sp, %[s]\n\t"              /* SP_sys = sysstack */
        "cps #0x13\n\t"
        "ldr lr, =0x11111111\n\t"
        "ldr r0, =0xf00000d3\n\t"
        "msr spsr_cxsf, r0\n\t"
        "srsia #0x1f\n\t"               /* [0],[1] = lr, spsr; SP_sys unchanged */
        "ldr lr, =0x22222222\n\t"
        "srsia sp!, #0x1f\n\t"          /* overwrites [0],[1]; SP_sys += 8 */
        "ldr lr, =0x33333333\n\t"
        "srsda sp!, #0x1f\n\t"          /* [1],[2] = lr, spsr; SP_sys -= 8 */
        "cps #0x1f\n\t"
        "sub r0, sp, %[s]\n\t"
        "str r0, [%[o], #0]\n\t"        /* SP_sys - sysstack: 0 */
        "mov sp, r4\n\t"
        "cps #0x13\n\t"
        "sub r0, r5, sp\n\t"            /* SP_svc unchanged: 0 */
        "str r0, [%[o], #4]\n\t"
        : : [o] "r"(out), [s] "r"(sysstack) : "r0", "r4", "r5", "lr", "cc", "memory");
    printf("srs to sys stack: sp_sys=stack+%d sp_svc moved=%u words=", (int)out[0], out[1]);
    for (int i = 0; i < 4; i++)
        printf(" %08x", sysstack[i]);
    printf("\n");

    /* Each RFE form, with frame[2] = return address, frame[3] = CPSR. */
    RFE_CASE("rfeia rn", "rfeia %[b]", 2, 0x100001d3);
    RFE_CASE("rfeib rn", "rfeib %[b]", 1, 0x200001d3);
    RFE_CASE("rfeda rn", "rfeda %[b]", 3, 0x300001d3);
    RFE_CASE("rfedb rn", "rfedb %[b]", 4, 0x400001d3);
    RFE_CASE("rfeia rn!", "rfeia %[b]!", 2, 0x500001d3);
    RFE_CASE("rfeib rn!", "rfeib %[b]!", 1, 0x600001d3);
    RFE_CASE("rfeda rn!", "rfeda %[b]!", 3, 0x700001d3);
    RFE_CASE("rfedb rn!", "rfedb %[b]!", 4, 0x800001d3);
    /* RFE into System mode, with A clear; come back with CPS */
    RFE_CASE("rfeia rn", "rfeia %[b]", 2, 0xf000001f);
    __asm__ volatile("cpsid aif, #0x13" ::: "memory");
}

int main(void)
{
    for (int k = 1; k < 8; k++)
        exc_set_hook(k, hook);

    RUN(svc_svc, "svc #0x42 from svc", 0);
    RUN(svc_sys, "svc #0x123 from sys", 0);
    RUN(svc_usr, "svc #0xabcdef from usr", 1);
    printf("back in mode %02x\n", read_cpsr() & 0x1f);

    RUN(udf, "udf #0xabc", 0);
    RUN(vmrs, "vmrs (cp10 disabled)", 0);
    RUN(mrc_usr, "mrc p15 from usr", 1);

    RUN(bkpt, "bkpt #0x77", 0);


    /* LDM and LDREX need alignment even with SCTLR.A = 0 */
    write_sctlr(read_sctlr() & ~2u);
    RUN(ldm_align, "ldm misaligned, A=0", 0);
    RUN(ldrex_align, "ldrex misaligned, A=0", 0);
    RUN(ldr_align, "ldr misaligned, A=0", 0);
    /* With SCTLR.A = 1 every misaligned access faults */
    write_sctlr(read_sctlr() | 2u);
    RUN(ldr_align, "ldr misaligned, A=1", 0);
    RUN(str_align, "str misaligned, A=1", 0);
    RUN(ldrh_align, "ldrh misaligned, A=1", 0);
    write_sctlr(read_sctlr() & ~2u);

    test_srs_rfe();

    /* Thumb state last, so an emulator without Thumb still shows the rest */
    RUN(t_svc, "thumb svc #0x12", 0);
    RUN(t_udf, "thumb udf #0x34", 0);
    RUN(t_udfw, "thumb udf.w #0x5678", 0);
    RUN(t_bkpt, "thumb bkpt #0x56", 0);
    return 0;
}
