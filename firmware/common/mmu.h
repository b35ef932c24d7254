/*
 * mmu.h — short-descriptor translation tables (ARM ARM B3.5) for tests.
 *
 * First level (L1): 4096 word entries, one per MiB of VA, table 16 KiB
 * aligned (16 KiB >> TTBCR.N for TTBR0):
 *   section       PA[31:20] | nG | S | APX | TEX | AP | dom | XN | C | B | 0b10
 *   supersection  PA[31:24] | ... | bit 18 = 1, repeated in 16 entries
 *   page table    L2 address[31:10] | dom[8:5] | 0b01
 * Second level (L2): 256 entries, one per 4 KiB, table 1 KiB aligned:
 *   small page    PA[31:12] | nG | S | APX | TEX[8:6] | AP[5:4] | C | B | 1 | XN
 *   large page    PA[31:16] | XN[15] | TEX[14:12] | nG | S | APX | AP | C | B | 0b01,
 *                 repeated in 16 entries
 * The access permissions are given here as one 3-bit number APX:AP[1:0]
 * (ARM ARM table B3-8): 0 no access, 1 PL1 RW, 2 PL1 RW/PL0 RO,
 * 3 RW for both, 5 PL1 RO, 6 (deprecated) RO for both, 7 RO for both.
 * With SCTLR.AFE = 1, AP[0] is the access flag instead.
 */
#ifndef ARMVEX_MMU_H
#define ARMVEX_MMU_H

#include "types.h"

/* L1 section descriptor bits */
#define SEC            0x2u
#define SEC_B          (1u << 2)
#define SEC_C          (1u << 3)
#define SEC_XN         (1u << 4)
#define SEC_DOM(d)     ((u32)(d) << 5)
#define SEC_AP(ap)     ((((u32)(ap) & 3) << 10) | ((((u32)(ap) >> 2) & 1) << 15))
#define SEC_TEX(t)     ((u32)(t) << 12)
#define SEC_S          (1u << 16)
#define SEC_NG         (1u << 17)
#define SEC_SUPER      (1u << 18)
#define SEC_NS         (1u << 19)
/* L1 page-table descriptor */
#define PT             0x1u
#define PT_DOM(d)      ((u32)(d) << 5)
/* L2 small page */
#define PG             0x2u
#define PG_XN          (1u << 0)
#define PG_B           (1u << 2)
#define PG_C           (1u << 3)
#define PG_AP(ap)      ((((u32)(ap) & 3) << 4) | ((((u32)(ap) >> 2) & 1) << 9))
#define PG_TEX(t)      ((u32)(t) << 6)
#define PG_S           (1u << 10)
#define PG_NG          (1u << 11)
/* L2 large page (AP, C, B, S, nG as for small pages) */
#define LPG            0x1u
#define LPG_TEX(t)     ((u32)(t) << 12)
#define LPG_XN         (1u << 15)

/* Memory types: Normal write-back (TEX=001 C=1 B=1), Device (shareable). */
#define SEC_NORMAL     (SEC_TEX(1) | SEC_C | SEC_B)
#define SEC_DEVICE     (SEC_B)
#define PG_NORMAL      (PG_TEX(1) | PG_C | PG_B)

/* Fill l1 (4096 entries) with an identity map of what the tests run on:
 * all of RAM as Normal memory, read/write at PL0 and PL1 (AP=3), domain 0;
 * the board's device windows (system registers, GIC and private timers)
 * as Device, PL1 only, XN. Everything else faults (entry 0). */
void mmu_identity(u32 *l1);

/* Section (1 MiB) mapping va -> pa with the given attribute bits. */
static inline void mmu_section(u32 *l1, u32 va, u32 pa, u32 attrs)
{
    l1[va >> 20] = (pa & 0xfff00000u) | attrs | SEC;
}

/* Turn on the MMU with TTBR0 = l1, TTBCR = 0 (no TTBR1 use), DACR = dacr,
 * after invalidating the TLB. Caches stay off (SCTLR.C/I unchanged). */
void mmu_on(u32 *l1, u32 dacr);
void mmu_off(void);

/* TLB maintenance, each followed by DSB and ISB. */
void tlb_inv_all(void);              /* TLBIALL */
void tlb_inv_mva(u32 mva_asid);      /* TLBIMVA: VA[31:12] | ASID */
void tlb_inv_asid(u32 asid);         /* TLBIASID */
void tlb_inv_mva_all_asid(u32 mva);  /* TLBIMVAA (Multiprocessing Ext.) */

/* Address translation operations: write the VA to ATS1Cxx, ISB, read PAR. */
u32 ats1cpr(u32 va);
u32 ats1cpw(u32 va);
u32 ats1cur(u32 va);
u32 ats1cuw(u32 va);

#endif

/*
 * Probes: one access that may fault. A data or prefetch abort during a
 * probe is recorded in `probe` (kind, FSR, FAR) and execution continues
 * after the access; an abort outside a probe is reported and exits.
 * The *_usr probes run the access in User mode (CPS #USR), then return
 * to SVC mode with SVC #0xff; the *t probes use LDRT/STRT (unprivileged
 * access from SVC mode). probe_exec branches (BLX) to va, where the code
 * must be `mov r0, #x; bx lr` (see PROBE_CODE); probe.val = r0.
 * probe_init() installs the DABT, PABT and SVC hooks they need.
 * Each returns 0 if the access completed (loads put the value in
 * probe.val), or the exception kind.
 */
struct probe_result {
    int kind;         /* 0, EXC_DABT, EXC_PABT */
    u32 fsr, far, val;
};
extern volatile struct probe_result probe;

void probe_init(void);
int probe_ldr(u32 va);
int probe_ldrh(u32 va);
int probe_ldrb(u32 va);
int probe_str(u32 va, u32 v);
int probe_strh(u32 va, u32 v);
int probe_strb(u32 va, u32 v);
int probe_ldrt(u32 va);
int probe_strt(u32 va, u32 v);
int probe_ldr_usr(u32 va);
int probe_str_usr(u32 va, u32 v);
/* probe.val: LDM/LDRD: word0 ^ word1; LDREX: the word; STREX (after an
 * LDREX of the same address): the status; SWP: the old word. */
int probe_ldm2(u32 va);   /* LDM va, {r2, r3} */
int probe_stm2(u32 va);   /* STM va, {r2, r3} = 0x02020202, 0x03030303 */
int probe_ldrd(u32 va);
int probe_strd(u32 va);   /* 0x02020202, 0x03030303 */
int probe_ldrex(u32 va);
int probe_strex(u32 va);  /* LDREX then STREX of 0x03030303 */
int probe_swp(u32 va);    /* SWP 0x02020202 (needs SCTLR.SW) */
int probe_pld(u32 va);
int probe_dccmvac(u32 va); /* DCCMVAC: clean data cache line by MVA */
int probe_exec(u32 va);
int probe_exec_usr(u32 va);
/* For custom probes: probe_start() before the access, then
 * probe_end(loaded value, is_load), which returns the result as above.
 * PROBE_ASM(name, insn, is_load) defines int name(u32 va) running insn
 * with r1 = va, r0 = 0x01010101, r2 = 0x02020202, r3 = 0x03030303; r0
 * afterwards is the value. */
void probe_start(void);
int probe_end(u32 val, int is_load);
#define PROBE_ASM(name, insn, is_load)                                        \
    int name(u32 va)                                                         \
    {                                                                        \
        probe_start(); /* before the register variables: a call clobbers */  \
        register u32 r0 __asm__("r0") = 0x01010101;                          \
        register u32 r1 __asm__("r1") = va;                                  \
        register u32 r2 __asm__("r2") = 0x02020202;                          \
        register u32 r3 __asm__("r3") = 0x03030303;                          \
        __asm__ volatile(insn : "+r"(r0), "+r"(r2), "+r"(r3) : "r"(r1)      \
                         : "lr", "memory");                                  \
        return probe_end(r0, is_load);                                       \
    }

/* Print the outcome of the last probe: " ok 12345678" (loads, exec),
 * " ok" (stores) or " dabt dfsr=805 dfar=40001000" / " pabt ifsr=..". */
void probe_show(int r, int is_load);

/* The code probe_exec expects at va: mov r0, #imm8; bx lr. */
#define PROBE_CODE0(imm8) (0xe3a00000u | ((imm8) & 0xffu))
#define PROBE_CODE1       0xe12fff1eu
