/*
 * excl_exc.c — the local exclusive monitor across exceptions and
 * translation (ARM ARM A3.4, B2.9).
 *
 * LDREX, then something, then STREX to the same address; each line prints
 * the STREX status (0 = stored) and the word afterwards:
 *   - an exception taken and returned from between the two: SVC, UDF,
 *     BKPT (prefetch abort), a data abort (misaligned LDM, skipped), an
 *     IRQ (GIC SGI), an FIQ, SMC to Monitor mode. Exception handlers
 *     return with LDM ^ (start.S). ARMv7 leaves it IMPLEMENTATION DEFINED
 *     whether exception entry or return clears the local monitor (an OS
 *     must CLREX on a context switch); this prints what QEMU does;
 *   - the handler doing CLREX, a STREX to another word (which fails but
 *     still clears the monitor), or a complete LDREX/STREX pair on another
 *     word (the OS using exclusives itself);
 *   - an ordinary store to the same word in between, with the same and
 *     with a different value: IMPLEMENTATION DEFINED in ARMv7; QEMU 7.2
 *     implements STREX as a compare-and-swap against the value LDREX read,
 *     so the outcome depends on the value;
 *   - with the MMU on: LDREX through one VA and STREX through another VA
 *     of the same physical word (QEMU's monitor compares virtual
 *     addresses, so it fails there; a physical monitor would pass);
 *     STREX to a read-only page after a successful LDREX from it
 *     (permission fault, WnR = 1, nothing stored).
 */
#include "test.h"
#include "sys.h"
#include "mmu.h"

static u32 word[4] __attribute__((aligned(16)));
static u32 misaligned_src[4] __attribute__((aligned(16)));
static volatile int action; /* what the exception handler does */
enum { A_NOTHING, A_CLREX, A_STREX_OTHER, A_PAIR_OTHER };
static const char *const action_names[] = { "-", "handler: clrex", "handler: strex other",
                                            "handler: ldrex/strex other" };
static volatile int taken;
static u32 l1[4096] __attribute__((aligned(16384)));

static void hook(int kind, struct exc_frame *f)
{
    taken++;
    if (kind == EXC_IRQ || kind == EXC_FIQ) {
        gic_eoi(gic_ack());
        f->lr -= 4;
    }
    if (kind == EXC_DABT)
        f->lr -= 4;
    u32 t, st;
    switch (action) {
    case A_CLREX:
        __asm__ volatile("clrex" ::: "memory");
        break;
    case A_STREX_OTHER:
        __asm__ volatile("strex %0, %1, [%2]" : "=&r"(st) : "r"(0x77), "r"(&word[2]) : "memory");
        break;
    case A_PAIR_OTHER:
        __asm__ volatile("ldrex %0, [%2]\n\tstrex %1, %0, [%2]"
                         : "=&r"(t), "=&r"(st)
                         : "r"(&word[3])
                         : "memory");
        break;
    }
}

static void show(const char *what, u32 status)
{
    printf("%-30s %-27s status=%u word=%08x exceptions=%d\n", what, action_names[action],
           status, word[0], taken);
}

/* EXCL(what, between): LDREX word[0]; <between>; STREX 0xcafef00d */
#define EXCL(what, between)                                                  \
    do {                                                                     \
        u32 s_, v_;                                                          \
        word[0] = 0x11111111;                                                \
        taken = 0;                                                           \
        __asm__ volatile(".arch_extension sec\n\t"                           \
                         "ldrex %[v], [%[a]]\n\t" between "\n\t"             \
                         "strex %[s], %[n], [%[a]]"                          \
                         : [s] "=&r"(s_), [v] "=&r"(v_)                      \
                         : [a] "r"(word), [n] "r"(0xcafef00d),               \
                           [m] "r"((u32)misaligned_src + 2), [z] "r"(0x11111111), \
                           [y] "r"(0x22222222)                               \
                         : "r0", "r1", "r2", "r3", "r12", "lr", "cc", "memory"); \
        (void)v_;                                                            \
        show(what, s_);                                                      \
    } while (0)

static void with_exceptions(void)
{
    gic_send_sgi(1, 1);
    EXCL("irq (sgi) between", "cpsie i\n\tnop\n\tcpsid i");
    gic_send_sgi(2, 0);
    EXCL("fiq (sgi) between", "cpsie f\n\tnop\n\tcpsid f");
    EXCL("svc between", "svc #1");
    EXCL("udf between", "udf #2");
    EXCL("bkpt between", "bkpt #3");
    EXCL("data abort between", "ldm %[m], {r0, r1}");
    EXCL("smc between", "smc #0");
}

/* PROBE_ASM-style STREX through r1 after LDREX through r2 */
static int strex_alias(u32 va_load, u32 va_store, u32 *status)
{
    probe_start();
    register u32 r0 __asm__("r0") = 9;
    register u32 r1 __asm__("r1") = va_store;
    register u32 r2 __asm__("r2") = va_load;
    register u32 r3 __asm__("r3") = 0xcafef00d;
    __asm__ volatile("ldrex r12, [r2]\n\tstrex r0, r3, [r1]"
                     : "+r"(r0)
                     : "r"(r1), "r"(r2), "r"(r3)
                     : "r12", "lr", "memory");
    *status = r0;
    return probe_end(r0, 1);
}

int main(void)
{
    for (int k = 1; k < EXC_KINDS; k++)
        exc_set_hook(k, hook);
    exc_monitor_init();
    gic_init(0xf);
    gic_set_group(1, 1);
    gic_enable(1);
    gic_enable(2);

    EXCL("nothing between", "nop");
    EXCL("clrex between", "clrex");
    for (action = A_NOTHING; action <= A_PAIR_OTHER; action++)
        with_exceptions();
    action = A_NOTHING;

    EXCL("str same value between", "str %[z], [%[a]]");
    EXCL("str other value between", "str %[y], [%[a]]");
    EXCL("strb same value between", "strb %[z], [%[a], #1]");
    EXCL("str to the next word between", "str %[y], [%[a], #4]");
    EXCL("ldr between", "ldr r0, [%[a]]");
    EXCL("ldrex again between", "ldrex r0, [%[a]]");
    EXCL("ldrex other word between", "add r1, %[a], #4\n\tldrex r0, [r1]");

    /* With the MMU: two VAs for the word's page, one of them read-only */
    probe_init(); /* (its aborts hooks replace ours from here on) */
    u32 pa = (u32)word;
    mmu_identity(l1);
    mmu_section(l1, 0x40000000, pa, SEC_NORMAL | SEC_AP(3));
    mmu_section(l1, 0x40100000, pa, SEC_NORMAL | SEC_AP(7));
    mmu_on(l1, 0x1);
    u32 alias = 0x40000000 + (pa & 0xfffff), ro = 0x40100000 + (pa & 0xfffff);
    u32 st;
    word[0] = 0x11111111;
    strex_alias(pa, pa, &st);
    printf("mmu on, ldrex/strex same va: status=%u word=%08x\n", st, word[0]);
    word[0] = 0x11111111;
    strex_alias(pa, alias, &st);
    printf("ldrex via identity, strex via alias: status=%u word=%08x\n", st, word[0]);
    word[0] = 0x11111111;
    strex_alias(alias, alias, &st);
    printf("ldrex/strex both via alias: status=%u word=%08x\n", st, word[0]);
    word[0] = 0x11111111;
    int r = strex_alias(ro, ro, &st);
    printf("ldrex/strex via read-only alias:");
    probe_show(r, 0);
    printf(" (%s) word=%08x\n", probe.far == ro ? "dfar = the read-only va" : "dfar?", word[0]);
    mmu_off();
    return 0;
}
