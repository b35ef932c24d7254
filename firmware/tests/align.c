/*
 * align.c — unaligned accesses and alignment faults (ARM ARM A3.2.1,
 * B3.12.4) with SCTLR.A off and on, for three kinds of memory:
 *   - Normal memory (MMU on, the identity map of RAM);
 *   - Device memory (MMU on, a Device alias of the same RAM);
 *   - MMU off (ARMv7: all data accesses are Strongly-ordered).
 * ARMv7 says an unaligned access to Device or Strongly-ordered memory
 * takes an alignment fault whatever SCTLR.A is; QEMU 7.2 does not check
 * the memory type (it treats all three alike), and QEMU is the oracle
 * here, so that is what is expected.
 * Word/halfword LDR/STR, LDRSH, LDRT are allowed unaligned with A = 0 and
 * fault with A = 1; LDRD/STRD need word alignment; LDM/STM, LDREX/STREX
 * (LDREXH: halfword, LDREXD: doubleword) and SWP always check; LDRB and PLD
 * never fault. STREX without an open monitor: ARMv7's pseudocode checks
 * alignment before the monitor, but QEMU 7.2 fails the STREX (status 1)
 * without an alignment fault. Loads print what they got, stores the buffer afterwards
 * (bytes 00 01 02 ... before each case), faults DFSR and DFAR relative to
 * the buffer.
 */
#include "test.h"
#include "sys.h"
#include "mmu.h"

static u32 l1[4096] __attribute__((aligned(16384)));
static u8 buf[32] __attribute__((aligned(32)));
static u32 out[2];
#define DEV_VA 0x40000000

/* r1 = address, r4 = out; loads leave a value in r0 (and out[] for two
 * words); stores write r2 = 0xddccbbaa, r3 = 0x44332211. */
#define AP(name, insn, is_load)                                               \
    static int name(u32 va)                                                  \
    {                                                                        \
        probe_start(); /* before the register variables: a call clobbers */  \
        register u32 r0 __asm__("r0") = 0;                                   \
        register u32 r1 __asm__("r1") = va;                                  \
        register u32 r2 __asm__("r2") = 0xddccbbaa;                          \
        register u32 r3 __asm__("r3") = 0x44332211;                          \
        register u32 r4 __asm__("r4") = (u32)out;                            \
        __asm__ volatile(insn : "+r"(r0), "+r"(r2), "+r"(r3) : "r"(r1), "r"(r4) \
                         : "lr", "memory");                                  \
        return probe_end(r0, is_load);                                       \
    }
AP(a_ldr, "ldr r0, [r1]", 1)
AP(a_ldrh, "ldrh r0, [r1]", 1)
AP(a_ldrsh, "ldrsh r0, [r1]", 1)
AP(a_ldrb, "ldrb r0, [r1]", 1)
AP(a_ldrt, "ldrt r0, [r1]", 1)
AP(a_str, "str r2, [r1]", 0)
AP(a_strh, "strh r2, [r1]", 0)
AP(a_strt, "strt r2, [r1]", 0)
AP(a_ldrd, "ldrd r2, r3, [r1]\n\tstm r4, {r2, r3}", 2)
AP(a_strd, "strd r2, r3, [r1]", 0)
AP(a_ldm, "ldm r1, {r2, r3}\n\tstm r4, {r2, r3}", 2)
AP(a_stm, "stm r1, {r2, r3}", 0)
AP(a_ldrex, "ldrex r0, [r1]", 1)
AP(a_ldrexh, "ldrexh r0, [r1]", 1)
AP(a_ldrexd, "ldrexd r2, r3, [r1]\n\tstm r4, {r2, r3}\n\tclrex", 2)
AP(a_strex, "strex r0, r2, [r1]", 1)
AP(a_swp, ".arch armv6k\n\tswp r0, r2, [r1]\n\t.arch armv7-a", 1)
AP(a_pld, "pld [r1]", 0)

static const struct {
    const char *name;
    int (*fn)(u32);
    u32 off;
    int load; /* 1: r0, 2: two words, 0: store, 3: store with status in r0 */
} ops[] = {
    { "ldr", a_ldr, 1, 1 },       { "ldr", a_ldr, 2, 1 },       { "ldr", a_ldr, 3, 1 },
    { "ldrh", a_ldrh, 1, 1 },     { "ldrh", a_ldrh, 3, 1 },     { "ldrsh", a_ldrsh, 7, 1 },
    { "ldrb", a_ldrb, 1, 1 },     { "ldrt", a_ldrt, 1, 1 },     { "str", a_str, 1, 0 },
    { "str", a_str, 2, 0 },       { "strh", a_strh, 3, 0 },     { "strt", a_strt, 3, 0 },
    { "ldrd", a_ldrd, 4, 2 },     { "ldrd", a_ldrd, 2, 2 },     { "strd", a_strd, 4, 0 },
    { "strd", a_strd, 1, 0 },     { "ldm", a_ldm, 4, 2 },       { "ldm", a_ldm, 2, 2 },
    { "stm", a_stm, 1, 0 },       { "ldrex", a_ldrex, 2, 1 },   { "ldrexh", a_ldrexh, 1, 1 },
    { "ldrexh", a_ldrexh, 2, 1 }, { "ldrexd", a_ldrexd, 4, 2 }, { "ldrexd", a_ldrexd, 8, 2 },
    { "strex", a_strex, 2, 3 },   { "swp", a_swp, 2, 1 },       { "swp", a_swp, 4, 1 },
    { "pld", a_pld, 3, 0 },
};

static void fill(void)
{
    for (u32 i = 0; i < sizeof(buf); i++)
        buf[i] = (u8)(i | (i << 4));
}

static void run_all(const char *mem, u32 base)
{
    for (int a = 0; a < 2; a++) {
        printf("== %s, SCTLR.A=%d ==\n", mem, a);
        write_sctlr(a ? read_sctlr() | 2 : read_sctlr() & ~2u);
        for (u32 i = 0; i < ARRAY_SIZE(ops); i++) {
            fill();
            out[0] = out[1] = 0;
            int r = ops[i].fn(base + ops[i].off);
            printf("%-7s +%u:", ops[i].name, ops[i].off);
            if (r == EXC_DABT)
                printf(" dabt dfsr=%03x dfar=buf+%d\n", probe.fsr, (int)(probe.far - base));
            else if (r)
                printf(" %s\n", exc_name(r));
            else if (ops[i].load == 1)
                printf(" ok %08x\n", probe.val);
            else if (ops[i].load == 2)
                printf(" ok %08x %08x\n", out[0], out[1]);
            else if (ops[i].load == 3)
                printf(" ok, status %u, memory %08x %08x %08x\n", probe.val,
                       ((u32 *)buf)[0], ((u32 *)buf)[1], ((u32 *)buf)[2]);
            else
                printf(" ok, memory %08x %08x %08x\n", ((u32 *)buf)[0], ((u32 *)buf)[1],
                       ((u32 *)buf)[2]);
        }
    }
    write_sctlr(read_sctlr() & ~2u);
}

int main(void)
{
    probe_init();
    write_sctlr(read_sctlr() | (1u << 10)); /* SCTLR.SW: SWP enabled */

    run_all("mmu off (strongly-ordered)", (u32)buf);

    mmu_identity(l1);
    mmu_section(l1, DEV_VA, (u32)buf, SEC_DEVICE | SEC_AP(3));
    mmu_on(l1, 0x1);
    run_all("normal memory", (u32)buf);
    run_all("device memory", DEV_VA + ((u32)buf & 0xfffff));
    mmu_off();
    return 0;
}
