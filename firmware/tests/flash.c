/*
 * flash.c — the motherboard's NOR flash, as QEMU presents it without
 * -pflash (hw/arm/vexpress.c): flash 0 at 0x40000000 (vexpress-a9) or
 * 0x08000000 (vexpress-a15), flash 1 64 MiB above it, and flash 0 again
 * at address 0, where the exception vectors are while VBAR = 0.
 *   - every word read is zero, through either address of flash 0;
 *   - a data write is not stored (QEMU takes writes as CFI commands and
 *     drops one it does not know, as armvex does: see pflash.c);
 *   - code in flash executes: zeros are ANDEQ r0, r0, r0, which does
 *     nothing. The MMU maps the last MiB of flash 1 just below a MiB of
 *     RAM holding `bx lr`; a call two words before the end of flash runs
 *     two instructions from flash and returns from RAM.
 */
#include "test.h"
#include "sys.h"
#include "mmu.h"

static u32 l1[4096] __attribute__((aligned(16384)));

#define FLASH_SIZE 0x04000000u
#define VA_FLASH 0xc0000000u /* last MiB of flash 1 */
#define VA_RAM 0xc0100000u   /* scratch RAM */

/* Loads and stores in assembly: C may not dereference address 0. */
static u32 rd(u32 pa)
{
    u32 v;
    __asm__ volatile("ldr %0, [%1]" : "=r"(v) : "r"(pa) : "memory");
    return v;
}

static void wr(u32 pa, u32 v) { __asm__ volatile("str %0, [%1]" : : "r"(v), "r"(pa) : "memory"); }

int main(void)
{
    u32 flash0 = is_a15() ? 0x08000000u : 0x40000000u;
    u32 flash1 = flash0 + FLASH_SIZE;

    printf("flash 0 at %08x, flash 1 at %08x, flash 0 also at 0\n", flash0, flash1);
    printf("reads: [0]=%08x [4]=%08x [0x100]=%08x [flash0]=%08x [flash0+64M-4]=%08x "
           "[flash1]=%08x [flash1+0x123450]=%08x\n",
           rd(0), rd(4), rd(0x100), rd(flash0), rd(flash0 + FLASH_SIZE - 4), rd(flash1),
           rd(flash1 + 0x123450));

    wr(flash0 + 0x1000, 0x5a5a5a5a);
    wr(0x2000, 0x5a5a5a5a);
    dsb();
    printf("after writing 5a5a5a5a: [flash0+0x1000]=%08x [0x1000]=%08x [0x2000]=%08x "
           "[flash0+0x2000]=%08x\n",
           rd(flash0 + 0x1000), rd(0x1000), rd(0x2000), rd(flash0 + 0x2000));

    /* Execute from flash: VA_FLASH -> last MiB of flash 1, VA_RAM -> scratch RAM
     * whose first word is `bx lr`. */
    *(volatile u32 *)SCRATCH_PA = 0xe12fff1e;
    mmu_identity(l1);
    mmu_section(l1, VA_FLASH, flash1 + FLASH_SIZE - 0x100000, SEC_NORMAL | SEC_AP(1));
    mmu_section(l1, VA_RAM, SCRATCH_PA, SEC_NORMAL | SEC_AP(1));
    mmu_on(l1, 1);
    u32 r0 = 0x1234, target = VA_RAM - 8;
    __asm__ volatile("blx %[t]" : "+r"(r0) : [t] "r"(target) : "r1", "r2", "r3", "r12", "lr", "cc",
                     "memory");
    mmu_off();
    printf("called 2 words before the end of flash 1: returned, r0=%08x\n", r0);
    return 0;
}
