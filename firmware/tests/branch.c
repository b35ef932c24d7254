/*
 * branch.c — branches and interworking in ARM state.
 *
 * B forwards and backwards, BL (LR = next instruction), BX to ARM code,
 * BX/BLX(register) to a Thumb function and back through BX LR, BLX(imm)
 * to Thumb, and the ARMv7 interworking writes to PC: MOV PC, LDR PC,
 * POP {PC} and ADD PC. Also PC read as an operand (= instruction + 8).
 * MRS reads CPSR.T as zero, so each callee shows its state by reading PC
 * in its first instruction: PC reads as the instruction + 8 in ARM state
 * and + 4 in Thumb state. Addresses are printed relative to labels, so the
 * output does not depend on layout.
 */
#include "test.h"

/* Thumb callee: r1 = PC (its own address + 4), r0 += 1, return. */
__asm__(".pushsection .text\n"
        ".thumb\n"
        ".thumb_func\n"
        ".global thumb_inc\n"
        "thumb_inc:\n"
        "    mov r1, pc\n"
        "    adds r0, r0, #1\n"
        "    bx lr\n"
        ".arm\n"
        /* ARM callee: r1 = PC (its own address + 8), r0 += 2 */
        ".global arm_inc2\n"
        "arm_inc2:\n"
        "    mov r1, pc\n"
        "    add r0, r0, #2\n"
        "    bx lr\n"
        ".popsection\n");
extern char thumb_inc[], arm_inc2[];

struct out {
    u32 r0, r1, lr_rel, extra;
};

static void show(const char *name, struct out *o)
{
    const char *callee = "none";
    if (o->r1 == ((u32)thumb_inc & ~1u) + 4)
        callee = "thumb";
    else if (o->r1 == (u32)arm_inc2 + 8)
        callee = "arm";
    else if (o->r1)
        callee = "WRONG-PC";
    printf("%-16s r0=%08x callee-state=%-5s lr=label%+d extra=%08x\n", name, o->r0, callee,
           (int)o->lr_rel, o->extra);
}

/* CALL(name, asm): asm starts with r0 = 0x100 and must leave the return
 * label "9:" right after the call; %[o] points at a struct out. */
#define CALL(name, text)                                                     \
    do {                                                                     \
        struct out o = { 0, 0, 0, 0 };                                       \
        __asm__ volatile("mov r0, #0x100\n\tmov r1, #0\n\tmov r2, #0\n\t" text \
                         "\n\tstr r0, [%[o], #0]\n\t"                        \
                         "str r1, [%[o], #4]\n\t"                            \
                         "adr r3, 9b\n\t"                                    \
                         "sub r3, lr, r3\n\t"                                \
                         "str r3, [%[o], #8]\n\t"                            \
                         "str r2, [%[o], #12]"                               \
                         :                                                   \
                         : [o] "r"(&o), [t] "r"(thumb_inc), [a] "r"(arm_inc2) \
                         : "r0", "r1", "r2", "r3", "r12", "lr", "cc", "memory"); \
        show(name, &o);                                                      \
    } while (0)

int main(void)
{
    /* B forwards, then backwards: r2 counts the path taken. */
    CALL("b fwd/back", "b 2f\n"
                       "1:\tadd r2, r2, #0x10\n\tb 3f\n"
                       "2:\tadd r2, r2, #1\n\tb 1b\n"
                       "3:\tadr lr, 9f\n9:");
    /* BL: LR = address of the next instruction */
    CALL("bl arm", "bl arm_inc2\n9:");
    /* BX to an ARM address, returning with BX LR */
    CALL("bx arm", "adr lr, 9f\n\tbx %[a]\n9:");
    /* BLX register to ARM and to Thumb (bit 0 of the address set) */
    CALL("blx reg arm", "blx %[a]\n9:");
    CALL("blx reg thumb", "blx %[t]\n9:");
    /* BX to Thumb */
    CALL("bx thumb", "adr lr, 9f\n\tbx %[t]\n9:");
    /* BLX immediate: ARM -> Thumb, always */
    CALL("blx imm thumb", "blx thumb_inc\n9:");
    /* ARMv7 ALU writes to PC interwork: MOV PC, Rm with an odd address */
    CALL("mov pc thumb", "adr lr, 9f\n\tmov pc, %[t]\n9:");
    /* LDR PC interworks */
    CALL("ldr pc thumb", "adr lr, 9f\n\tpush {%[t]}\n\tldr pc, [sp], #4\n9:");
    /* POP {PC} interworks */
    CALL("pop pc thumb", "adr lr, 9f\n\tpush {%[t]}\n\tpop {pc}\n9:");
    /* ADD PC: an ALU write with a PC operand (PC reads as insn + 8) */
    CALL("add pc, pc, #4", "add pc, pc, #4\n\t"
                           "mov r2, #0xbad\n\t"
                           "mov r2, #0xbad\n\t"
                           "add r2, r2, #0x600\n\t"
                           "adr lr, 9f\n9:");
    /* Reading PC as an operand: MOV r2, PC = this instruction + 8 */
    CALL("mov r2, pc", "8:\tmov r2, pc\n\tadr r3, 8b\n\tsub r2, r2, r3\n\t"
                       "adr lr, 9f\n9:");
    /* STR PC stores insn + 8 on ARMv7 (Cortex-A9/A15) */
    CALL("str pc", "8:\tstr pc, [sp, #-4]!\n\tldr r2, [sp], #4\n\tadr r3, 8b\n\tsub r2, r2, r3\n\t"
                   "adr lr, 9f\n9:");
    /* A loop with a backward conditional branch: 10 iterations */
    CALL("loop", "mov r3, #10\n"
                 "1:\tadd r2, r2, #3\n\tsubs r3, r3, #1\n\tbne 1b\n\t"
                 "adr lr, 9f\n9:");
    return 0;
}
