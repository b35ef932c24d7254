/*
 * cp15.c — MRC/MCR to the system control coprocessor.
 *
 * Prints the identification registers the CPU model exposes (MIDR, CTR,
 * MPIDR, ID_PFR*, ID_DFR0, ID_MMFR*, ID_ISAR*, CLIDR, CCSIDR for each
 * CSSELR) and the reset values of the control registers, then writes and
 * reads back the plain read/write registers (TTBR0/1, TTBCR, DACR,
 * CONTEXTIDR, the TPIDRs, VBAR, PRRR/NMRR), and checks that an MRC to an
 * unimplemented register, and MCR/MRC to CP14/CP15 from User mode where
 * not permitted, are undefined. Values are those of the board's CPU model
 * (Cortex-A9 on vexpress-a9, Cortex-A15 on vexpress-a15).
 */
#include "test.h"

static volatile int undefs;
static void count_undef(int kind, struct exc_frame *f)
{
    (void)kind;
    (void)f;
    undefs++; /* resume at LR = the next instruction */
}

/* The way back from User mode: SVC returns in SVC mode. */
static void svc_to_svc_mode(int kind, struct exc_frame *f)
{
    (void)kind;
    f->spsr = (f->spsr & ~0x1fu) | MODE_SVC;
}

#define RD(name, enc)                                                        \
    do {                                                                     \
        u32 v = 0xdeadbeef;                                                  \
        undefs = 0;                                                          \
        __asm__ volatile("mrc " enc : "+r"(v));                              \
        printf("%-12s = %08x%s\n", name, v, undefs ? " (undefined)" : "");   \
    } while (0)

/* Write val, read it back, restore the old value. */
#define WR_RD(name, op1, crn, crm, op2, val)                                 \
    do {                                                                     \
        u32 v, old;                                                          \
        undefs = 0;                                                          \
        __asm__ volatile("mrc p15, " #op1 ", %[o], " #crn ", " #crm ", " #op2 "\n\t" \
                         "mcr p15, " #op1 ", %[w], " #crn ", " #crm ", " #op2 "\n\t" \
                         "isb\n\t"                                           \
                         "mrc p15, " #op1 ", %[v], " #crn ", " #crm ", " #op2 "\n\t" \
                         "mcr p15, " #op1 ", %[o], " #crn ", " #crm ", " #op2 "\n\t" \
                         "isb"                                               \
                         : [v] "=&r"(v), [o] "=&r"(old)                      \
                         : [w] "r"(val)                                      \
                         : "memory");                                        \
        printf("%-12s wrote %08x read %08x%s\n", name, (u32)(val), v,       \
               undefs ? " (undefined)" : "");                                \
    } while (0)

int main(void)
{
    exc_set_hook(EXC_UNDEF, count_undef);
    exc_set_hook(EXC_SVC, svc_to_svc_mode);

    RD("MIDR", "p15, 0, %0, c0, c0, 0");
    RD("CTR", "p15, 0, %0, c0, c0, 1");
    RD("TCMTR", "p15, 0, %0, c0, c0, 2");
    RD("TLBTR", "p15, 0, %0, c0, c0, 3");
    RD("MPIDR", "p15, 0, %0, c0, c0, 5");
    RD("REVIDR", "p15, 0, %0, c0, c0, 6");
    RD("ID_PFR0", "p15, 0, %0, c0, c1, 0");
    RD("ID_PFR1", "p15, 0, %0, c0, c1, 1");
    RD("ID_DFR0", "p15, 0, %0, c0, c1, 2");
    RD("ID_AFR0", "p15, 0, %0, c0, c1, 3");
    RD("ID_MMFR0", "p15, 0, %0, c0, c1, 4");
    RD("ID_MMFR1", "p15, 0, %0, c0, c1, 5");
    RD("ID_MMFR2", "p15, 0, %0, c0, c1, 6");
    RD("ID_MMFR3", "p15, 0, %0, c0, c1, 7");
    RD("ID_ISAR0", "p15, 0, %0, c0, c2, 0");
    RD("ID_ISAR1", "p15, 0, %0, c0, c2, 1");
    RD("ID_ISAR2", "p15, 0, %0, c0, c2, 2");
    RD("ID_ISAR3", "p15, 0, %0, c0, c2, 3");
    RD("ID_ISAR4", "p15, 0, %0, c0, c2, 4");
    RD("ID_ISAR5", "p15, 0, %0, c0, c2, 5");
    RD("CLIDR", "p15, 1, %0, c0, c0, 1");
    RD("AIDR", "p15, 1, %0, c0, c0, 7");
    /* CCSIDR for each cache CLIDR says exists (CSSELR = level << 1 | InD) */
    u32 clidr;
    __asm__ volatile("mrc p15, 1, %0, c0, c0, 1" : "=r"(clidr));
    for (u32 level = 0; level < 7; level++) {
        u32 ctype = (clidr >> (3 * level)) & 7;
        if (ctype == 0)
            break;
        for (u32 ind = 0; ind < 2; ind++) {
            if (ind == 0 ? ctype < 2 : !(ctype & 1))
                continue; /* no data/unified (ind 0) or no instruction (ind 1) cache */
            u32 sel = level << 1 | ind, ccsidr;
            __asm__ volatile("mcr p15, 2, %1, c0, c0, 0\n\tisb\n\tmrc p15, 1, %0, c0, c0, 0"
                             : "=r"(ccsidr)
                             : "r"(sel));
            printf("CCSIDR[%u]    = %08x\n", sel, ccsidr);
        }
    }
    __asm__ volatile("mcr p15, 2, %0, c0, c0, 0" : : "r"(0));
    RD("CSSELR", "p15, 2, %0, c0, c0, 0");

    /* Control registers as left by reset (start.S only cleared SCTLR.V) */
    RD("SCTLR", "p15, 0, %0, c1, c0, 0");
    RD("ACTLR", "p15, 0, %0, c1, c0, 1");
    RD("CPACR", "p15, 0, %0, c1, c0, 2");
    RD("SCR", "p15, 0, %0, c1, c1, 0");
    RD("NSACR", "p15, 0, %0, c1, c1, 2");
    RD("TTBR0", "p15, 0, %0, c2, c0, 0");
    RD("TTBR1", "p15, 0, %0, c2, c0, 1");
    RD("TTBCR", "p15, 0, %0, c2, c0, 2");
    RD("DACR", "p15, 0, %0, c3, c0, 0");
    RD("DFSR", "p15, 0, %0, c5, c0, 0");
    RD("IFSR", "p15, 0, %0, c5, c0, 1");
    RD("DFAR", "p15, 0, %0, c6, c0, 0");
    RD("IFAR", "p15, 0, %0, c6, c0, 2");
    RD("PRRR", "p15, 0, %0, c10, c2, 0");
    RD("NMRR", "p15, 0, %0, c10, c2, 1");
    RD("CONTEXTIDR", "p15, 0, %0, c13, c0, 1");
    RD("TPIDRURW", "p15, 0, %0, c13, c0, 2");
    RD("TPIDRURO", "p15, 0, %0, c13, c0, 3");
    RD("TPIDRPRW", "p15, 0, %0, c13, c0, 4");

    /* Read/write registers: write, read back, restore */
    WR_RD("TTBR0", 0, c2, c0, 0, 0x12345f7f);
    WR_RD("TTBR1", 0, c2, c0, 1, 0xffffc07f);
    WR_RD("TTBCR", 0, c2, c0, 2, 0x00000037);
    WR_RD("DACR", 0, c3, c0, 0, 0x5555aaaa);
    WR_RD("CONTEXTIDR", 0, c13, c0, 1, 0x12345678);
    WR_RD("TPIDRURW", 0, c13, c0, 2, 0xcafef00d);
    WR_RD("TPIDRURO", 0, c13, c0, 3, 0xdeadbeef);
    WR_RD("TPIDRPRW", 0, c13, c0, 4, 0x0badf00d);
    WR_RD("PRRR", 0, c10, c2, 0, 0xff0a81a8);
    WR_RD("NMRR", 0, c10, c2, 1, 0x40e040e0);
    WR_RD("DFAR", 0, c6, c0, 0, 0x87654321);
    WR_RD("IFAR", 0, c6, c0, 2, 0x13579bdf);
    WR_RD("DFSR", 0, c5, c0, 0, 0x00000cff); /* WnR, FS[4], domain, FS */
    WR_RD("IFSR", 0, c5, c0, 1, 0x0000140f); /* ExT, FS[4], FS */
    /* VBAR: low five bits are RES0 */
    WR_RD("VBAR", 0, c12, c0, 0, 0x1234567f);

    /* An unimplemented encoding is undefined */
    RD("c15,c15,7", "p15, 7, %0, c15, c15, 7");

    /* From User mode: TPIDRURW is read/write, TPIDRURO read-only,
     * TPIDRPRW and SCTLR not accessible. Runs in User mode and returns to
     * SVC mode via an SVC handled below. */
    static u32 usr[4], usr_undefs;
    __asm__ volatile("mcr p15, 0, %0, c13, c0, 2\n\tmcr p15, 0, %1, c13, c0, 3"
                     : : "r"(0x11111111), "r"(0x22222222));
    undefs = 0;
    __asm__ volatile("cps #0x10\n\t"
                     "mrc p15, 0, r0, c13, c0, 2\n\tstr r0, [%[u], #0]\n\t"
                     "mrc p15, 0, r0, c13, c0, 3\n\tstr r0, [%[u], #4]\n\t"
                     "mov r0, #0\n\t"
                     "mrc p15, 0, r0, c13, c0, 4\n\tstr r0, [%[u], #8]\n\t"
                     "mov r0, #0\n\t"
                     "mrc p15, 0, r0, c1, c0, 0\n\tstr r0, [%[u], #12]\n\t"
                     "mcr p15, 0, r0, c13, c0, 3\n\t" /* write TPIDRURO: undefined */
                     "svc #0\n\t"
                     :
                     : [u] "r"(usr)
                     : "r0", "lr", "memory");
    usr_undefs = undefs;
    printf("user: TPIDRURW=%08x TPIDRURO=%08x TPIDRPRW=%08x SCTLR=%08x undefs=%u\n", usr[0],
           usr[1], usr[2], usr[3], usr_undefs);
    return 0;
}
