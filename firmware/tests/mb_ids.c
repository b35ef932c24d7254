/*
 * mb_ids.c — the motherboard peripherals' identification and reset values, as
 * Linux's AMBA bus and drivers first see them (PrimeCell TRMs, "Peripheral
 * identification registers" and "PrimeCell identification registers" at
 * 0xfe0..0xffc; reset values from each TRM's register summary):
 *   - PL041 AACI, PL181 MMCI, PL050 KMI 0 and 1, PL111 CLCD (and on the
 *     vexpress-a9 the daughterboard's PL111): every ID byte and every register
 *     that can be read without side effects;
 *   - the SP805 watchdogs and the A9 daughterboard's memory controllers, which
 *     QEMU does not model (they read zero there): printed as "ids present" or
 *     not, so the output does not depend on the model.
 */
#include "test.h"
#include "sys.h"

static void ids(const char *name, u32 base)
{
    printf("%s ids:", name);
    for (u32 off = 0xfe0; off < 0x1000; off += 4)
        printf(" %02x", mmio_rd(base + off));
    printf("\n");
}

static void regs(const char *name, u32 base, const u32 *offs, int n)
{
    printf("%s regs:", name);
    for (int i = 0; i < n; i++)
        printf(" %03x=%08x", offs[i], mmio_rd(base + offs[i]));
    printf("\n");
}

int main(void)
{
    int a15 = is_a15();
    u32 mb = a15 ? 0x1c000000u : 0x10000000u;
    u32 step = a15 ? 0x10000u : 0x1000u;
    u32 aaci = mb + 4 * step, mmci = mb + 5 * step, kmi0 = mb + 6 * step, kmi1 = mb + 7 * step;
    u32 clcd = mb + 0x1f * step;

    /* PL041: channel 1 control/status, the slot and main registers. */
    static const u32 aaci_offs[] = {0x00, 0x04, 0x08, 0x0c, 0x10, 0x14, 0x18, 0x1c, 0x20,
                                    0x24, 0x50, 0x54, 0x58, 0x5c, 0x60, 0x64, 0x68, 0x6c,
                                    0x70, 0x78, 0x80, 0x84, 0x88};
    /* PL181: everything but the FIFO. */
    static const u32 mmci_offs[] = {0x00, 0x04, 0x08, 0x0c, 0x10, 0x14, 0x18, 0x1c, 0x20,
                                    0x24, 0x28, 0x2c, 0x30, 0x34, 0x3c, 0x40, 0x48};
    /* PL050: CR, STAT, CLKDIV, IR (DATA is read below, with the queue empty). */
    static const u32 kmi_offs[] = {0x00, 0x04, 0x0c, 0x10};
    /* PL111: timing, base addresses, control, interrupts, current addresses. */
    static const u32 clcd_offs[] = {0x00, 0x04, 0x08, 0x0c, 0x10, 0x14, 0x18, 0x1c, 0x20,
                                    0x24, 0x28, 0x2c, 0x30, 0xc00, 0xc04, 0xc08, 0xc0c,
                                    0xc20, 0xc24, 0xc28, 0xc2c};

    printf("board: %s\n", a15 ? "vexpress-a15" : "vexpress-a9");
    ids("aaci", aaci);
    regs("aaci", aaci, aaci_offs, sizeof aaci_offs / 4);
    ids("mmci", mmci);
    regs("mmci", mmci, mmci_offs, sizeof mmci_offs / 4);
    ids("kmi0", kmi0);
    regs("kmi0", kmi0, kmi_offs, sizeof kmi_offs / 4);
    ids("kmi1", kmi1);
    regs("kmi1", kmi1, kmi_offs, sizeof kmi_offs / 4);
    printf("kmi0 data (empty queue) %08x, kmi1 %08x\n", mmio_rd(kmi0 + 8), mmio_rd(kmi1 + 8));
    ids("clcd", clcd);
    regs("clcd", clcd, clcd_offs, sizeof clcd_offs / 4);
    if (!a15) {
        ids("db-clcd", 0x10020000u);
        regs("db-clcd", 0x10020000u, clcd_offs, sizeof clcd_offs / 4);
    }
    /* SYS_MCI: no card without -sd. */
    printf("SYS_MCI %08x\n", mmio_rd(mb + (a15 ? 0x10000u : 0) + 0x48));

    /* Registers keep what is written (the writable ones). */
    mmio_wr(mmci + 0x00, 0x1ff);
    mmio_wr(mmci + 0x04, 0x1ff);
    mmio_wr(mmci + 0x08, 0x12345678);
    mmio_wr(mmci + 0x24, 0xffffffff);
    mmio_wr(mmci + 0x28, 0xffffffff);
    mmio_wr(mmci + 0x3c, 0xffffffff);
    mmio_wr(mmci + 0x40, 0x00c00000);
    regs("mmci written", mmci, mmci_offs, sizeof mmci_offs / 4);
    mmio_wr(mmci + 0x3c, 0);
    mmio_wr(mmci + 0x40, 0);
    mmio_wr(kmi0 + 0x00, 0xff);
    mmio_wr(kmi0 + 0x0c, 0xff);
    regs("kmi0 written", kmi0, kmi_offs, sizeof kmi_offs / 4);
    mmio_wr(kmi0 + 0x00, 0);
    for (u32 i = 0; i < 12; i++)
        mmio_wr(clcd + 4 * i, 0x11111111u * (i + 1));
    mmio_wr(clcd + 0xc00, 0xff);
    regs("clcd written", clcd, clcd_offs, sizeof clcd_offs / 4);
    mmio_wr(clcd + 0x18, 0);
    mmio_wr(clcd + 0xc00, 0);
    mmio_wr(clcd + 0x1c, 0);
    /* The palette: 256 entries of two 16-bit colours, read back. */
    for (u32 i = 0; i < 4; i++)
        mmio_wr(clcd + 0x200 + 4 * i, 0x80018000u + i * 0x00420042u);
    printf("clcd palette %08x %08x %08x %08x\n", mmio_rd(clcd + 0x200), mmio_rd(clcd + 0x204),
           mmio_rd(clcd + 0x208), mmio_rd(clcd + 0x20c));
    mmio_wr(aaci + 0x00, 0x1fff);
    mmio_wr(aaci + 0x10, 0x7f);
    mmio_wr(aaci + 0x78, 0x1);
    regs("aaci written", aaci, aaci_offs, sizeof aaci_offs / 4);
    return 0;
}
