/*
 * thumb_edges.c — two Thumb-2 corners that random instruction tests do not
 * reach, each of which armvex once got wrong:
 *
 *  1. A 32-bit conditional branch (B<cond>.W, encoding T3) whose first
 *     halfword is the last halfword of a 4 KiB page and whose second is on
 *     the next page. The instruction is fetched from two pages (ARM ARM
 *     A6.1: a 32-bit Thumb instruction is two halfwords, each fetched on its
 *     own), and its condition still decides. Three forms: reached in
 *     sequence after a CMP on the same page (EQ, forward target), entered
 *     directly by a BLX with the flags set by the caller (HI, C and not Z),
 *     and a backward target on the first page (NE). Each taken and not
 *     taken.
 *
 *  2. An IRQ taken between two instructions of an IT block. An MSR inside
 *     the block unmasks IRQs while an SGI is pending, so the interrupt comes
 *     right after it (both emulators end a block or translation block at a
 *     CPSR write). Exception entry saves ITSTATE in the SPSR and clears it
 *     (ARM ARM B1.8.3), so the handler runs outside any IT block: a 16-bit
 *     data-processing instruction in it (ADDS, called from the handler in
 *     Thumb state) sets the flags, as outside an IT block it must (A8.6.4:
 *     the 16-bit encodings set flags only outside IT blocks). The return
 *     restores ITSTATE from the SPSR, so the rest of the block runs
 *     conditionally and its 16-bit instructions do not set flags.
 *
 * Addresses are printed relative to labels, so the output does not depend
 * on the layout.
 */
#include "test.h"
#include "sys.h"

/* Part 1: the straddling branches. Each function's B<cond>.W starts at page
 * offset 0xffe. They return 1 if the branch was taken and 2 if not. */
__asm__(".pushsection .text.straddle, \"ax\", %progbits\n"
        ".thumb\n"
        /* page A: cmp r0, #0 at 0xffc; beq.w at 0xffe..0x1001 (forward) */
        ".balign 4096\n"
        ".space 4092\n"
        ".thumb_func\n"
        ".global straddle_eq\n"
        "straddle_eq:\n"
        "    cmp r0, #0\n"
        "    beq.w 1f\n"
        "    movs r0, #2\n"
        "    bx lr\n"
        "1:  movs r0, #1\n"
        "    bx lr\n"
        /* page B: entered at 0xffe itself; the caller set the flags */
        ".balign 4096\n"
        ".space 4094\n"
        ".thumb_func\n"
        ".global straddle_hi\n"
        "straddle_hi:\n"
        "    bhi.w 1f\n"
        "    movs r0, #2\n"
        "    bx lr\n"
        "1:  movs r0, #1\n"
        "    bx lr\n"
        /* page C: bne.w at 0xffe back to 0xff0 */
        ".balign 4096\n"
        ".space 4080\n"
        "2:  movs r0, #1\n"
        "    bx lr\n"
        ".space 8\n"
        ".thumb_func\n"
        ".global straddle_ne_back\n"
        "straddle_ne_back:\n"
        "    cmp r0, #0\n"
        "    bne.w 2b\n"
        "    movs r0, #2\n"
        "    bx lr\n"
        ".popsection\n");

u32 straddle_eq(u32 value);
u32 straddle_ne_back(u32 value);
extern char straddle_hi[];

/* Compare a with b (ARM state), then BLX to straddle_hi with those flags. */
static u32 call_hi(u32 a, u32 b)
{
    register u32 r0 __asm__("r0") = 0;
    __asm__ volatile("cmp %[a], %[b]\n\t"
                     "blx %[f]"
                     : "+r"(r0)
                     : [a] "r"(a), [b] "r"(b), [f] "r"((u32)straddle_hi | 1)
                     : "r1", "r2", "r3", "r12", "lr", "cc", "memory");
    return r0;
}

static const char *taken(u32 r)
{
    return r == 1 ? "taken" : r == 2 ? "not taken" : "???";
}

/* Part 2: the IT block. it_irq(cpsr, out): r0 = a CPSR value with I clear,
 * written by an MSR inside the block; out[0..3] = r2, r3, r4 and the APSR
 * after the block. */
__asm__(".pushsection .text\n"
        ".thumb\n"
        ".thumb_func\n"
        ".global it_irq\n"
        "it_irq:\n"
        "    push {r4-r6, lr}\n"
        "    mov r6, r1\n"
        "    movs r2, #0\n"
        "    movs r3, #0\n"
        "    movs r4, #0\n"
        "    cmp r4, #0\n"            /* Z set: EQ holds, NE fails */
        "    itttt eq\n"
        "    msreq cpsr_c, r0\n"      /* IRQ unmasked: the pending SGI comes next */
        ".global it_irq_after\n"
        "it_irq_after:\n"
        "    moveq r2, #7\n"          /* 16-bit MOV: no flags inside the block */
        "    addeq r3, r3, #5\n"      /* 16-bit ADD: no flags either */
        "    subeq r4, r4, #1\n"      /* 16-bit SUB: r4 = -1 with the flags kept */
        "    mrs r5, apsr\n"
        "    str r2, [r6, #0]\n"
        "    str r3, [r6, #4]\n"
        "    str r4, [r6, #8]\n"
        "    str r5, [r6, #12]\n"
        "    cpsid i\n"
        "    pop {r4-r6, pc}\n"
        /* flags_probe(): the APSR after clearing the flags and ADDS of
         * 0x80000000 + 0x80000000 (Z, C and V set, N clear). */
        ".thumb_func\n"
        ".global flags_probe\n"
        "flags_probe:\n"
        "    movs r2, #0\n"
        "    msr APSR_nzcvq, r2\n"
        "    movs r0, #1\n"
        "    lsls r0, r0, #31\n"
        "    adds r0, r0, r0\n"
        "    mrs r0, apsr\n"
        "    bx lr\n"
        ".arm\n"
        ".popsection\n");
void it_irq(u32 cpsr, u32 *out);
u32 flags_probe(void);
extern char it_irq_after[];

static volatile int irqs;
static volatile u32 irq_iar, irq_site, irq_spsr, irq_probe;

static void irq_hook(int kind, struct exc_frame *f)
{
    (void)kind;
    u32 iar = gic_ack();
    gic_eoi(iar);
    irq_iar = iar & 0x3ff;
    f->lr -= 4; /* back to the instruction the IRQ came before */
    irq_site = f->lr;
    irq_spsr = f->spsr;
    irq_probe = flags_probe();
    if (++irqs > 4) {
        printf("*** runaway interrupts\n");
        exit(3);
    }
}

int main(void)
{
    printf("straddling B<cond>.W:\n");
    printf("  beq.w after cmp 0: %s\n", taken(straddle_eq(0)));
    printf("  beq.w after cmp 5: %s\n", taken(straddle_eq(5)));
    printf("  bhi.w entered directly, 7 cmp 3: %s\n", taken(call_hi(7, 3)));
    printf("  bhi.w entered directly, 3 cmp 3: %s\n", taken(call_hi(3, 3)));
    printf("  bhi.w entered directly, 2 cmp 3: %s\n", taken(call_hi(2, 3)));
    printf("  bne.w backwards after cmp 9: %s\n", taken(straddle_ne_back(9)));
    printf("  bne.w backwards after cmp 0: %s\n", taken(straddle_ne_back(0)));

    printf("irq inside an IT block:\n");
    exc_set_hook(EXC_IRQ, irq_hook);
    gic_init(0xf);
    gic_set_group(3, 1);
    gic_enable(3);
    gic_send_sgi(3, 1);
    u32 out[4];
    it_irq(read_cpsr() & ~(1u << 7), out);
    u32 s = irq_spsr;
    u32 itstate = ((s >> 25) & 3) | (((s >> 10) & 0x3f) << 2);
    printf("  irqs=%d iar=%u at it_irq_after+%u\n", irqs, irq_iar,
           irq_site - ((u32)it_irq_after & ~1u));
    printf("  spsr: T=%u ITSTATE=%02x mode=%02x\n", (s >> 5) & 1, itstate, s & 0x1f);
    printf("  handler's adds (16-bit) flags: %s\n", fl(irq_probe));
    printf("  after the block: r2=%u r3=%u r4=%x flags %s\n", out[0], out[1], out[2], fl(out[3]));
    return 0;
}
