/*
 * hints.c — barriers, hints, preloads and cache/TLB maintenance.
 *
 * DMB/DSB/ISB with their option fields and the CP15 barrier operations;
 * NOP, YIELD, SEV then WFE (SEV sets the event register, so WFE returns at
 * once), DBG; PLD/PLDW/PLI in several addressing forms (also to an
 * unmapped address: preloads never fault); CLREX; and the CP15 cache and
 * TLB maintenance operations an OS issues (no caches or TLB are visible
 * with the MMU off, so they only have to execute). Each must leave r0-r12
 * and the flags unchanged; the line says "ok" or "CHANGED".
 * (WFI is left out: with interrupts masked and nothing pending it would
 * wait forever.)
 */
#include "test.h"

static u32 regs_before[13], regs_after[13];
static u32 buf[16] __attribute__((aligned(64)));

/* %[m] = buf, %[z] = 0, %[u] = an unmapped address */
#define HINT2(name, text)                                                         \
    do {                                                                     \
        u32 p1, p2;                                                          \
        __asm__ volatile("msr APSR_nzcvqg, %[f]\n\t"                         \
                         "mrs %[p1], APSR\n\t"                               \
                         "stm %[b], {r0-r12}\n\t" text "\n\t"                \
                         "stm %[a], {r0-r12}\n\t"                            \
                         "mrs %[p2], APSR"                                   \
                         : [p1] "=&r"(p1), [p2] "=&r"(p2)                    \
                         : [b] "r"(regs_before), [a] "r"(regs_after),        \
                           [f] "r"(FIN1 | PSR_GE(9)), [m] "r"(buf), [z] "r"(0), \
                           [u] "r"(0xf0000000)                               \
                         : "memory", "cc");                                  \
        int same = p1 == p2;                                                 \
        for (int i = 0; i < 13; i++)                                         \
            same &= regs_before[i] == regs_after[i];                         \
        printf("%-28s %s %s %s\n", name, same ? "ok" : "CHANGED", fl(p2), ge(p2)); \
    } while (0)
#define HINT(text) HINT2(text, text)

int main(void)
{
    HINT("dmb sy");
    HINT("dmb ish");
    HINT("dmb ishst");
    HINT("dmb nsh");
    HINT("dmb osh");
    HINT("dmb st");
    HINT("dsb sy");
    HINT("dsb ish");
    HINT("dsb nshst");
    HINT("isb sy");
    HINT("isb");
    HINT2("mcr CP15DMB", "mcr p15, 0, %[z], c7, c10, 5");
    HINT2("mcr CP15DSB", "mcr p15, 0, %[z], c7, c10, 4");
    HINT2("mcr CP15ISB", "mcr p15, 0, %[z], c7, c5, 4");
    HINT("nop");
    HINT("yield");
    HINT2("sev; wfe", "sev\n\twfe");
    HINT("dbg #0");
    HINT("dbg #15");
    HINT("pld [%[m]]");
    HINT("pld [%[m], #64]");
    HINT("pld [%[m], #-4]");
    HINT("pld [%[m], %[z]]");
    HINT("pld [%[m], -%[z], lsl #2]");
    HINT("pld [%[u]]");
    HINT2("pldw [%[m], #32]", ".arch_extension mp\n\tpldw [%[m], #32]");
    HINT("pli [%[m]]");
    HINT("pli [%[m], #-8]");
    HINT("pli [%[u]]");
    HINT("clrex");
    HINT2("mcr ICIALLU", "mcr p15, 0, %[z], c7, c5, 0");
    HINT2("mcr BPIALL", "mcr p15, 0, %[z], c7, c5, 6");
    HINT2("mcr ICIMVAU", "mcr p15, 0, %[m], c7, c5, 1");
    HINT2("mcr DCCMVAC", "mcr p15, 0, %[m], c7, c10, 1");
    HINT2("mcr DCCIMVAC", "mcr p15, 0, %[m], c7, c14, 1");
    HINT2("mcr DCCMVAU", "mcr p15, 0, %[m], c7, c11, 1");
    HINT2("mcr DCCISW set/way 0", "mcr p15, 0, %[z], c7, c14, 2");
    HINT2("mcr TLBIALL", "mcr p15, 0, %[z], c8, c7, 0");
    HINT2("mcr TLBIMVA", "mcr p15, 0, %[m], c8, c7, 1");
    HINT2("mcr TLBIASID", "mcr p15, 0, %[z], c8, c7, 2");
    HINT2("mcr TLBIALLIS", "mcr p15, 0, %[z], c8, c3, 0");
    return 0;
}
