/*
 * mb_proto.c — the protocols behind the motherboard peripherals, byte for byte
 * against QEMU:
 *   - PL050 KMI 0 (PS/2 keyboard) and KMI 1 (PS/2 mouse): commands and their
 *     answers (IBM PS/2 reference: reset, identify, echo, scan code set, LEDs;
 *     mouse reset, identify, IntelliMouse knock, status, wrap mode), with the
 *     KMISTAT/KMIIR flags after each byte;
 *   - PL181 MMCI with no card in the slot: commands time out when a response
 *     is wanted, are "sent" otherwise (PL180 TRM 3.3.3 status bits);
 *   - PL041 AACI: AC'97 codec registers read and written through slots 1 and 2
 *     (PL041 TRM 3.4.7, LM4549 register map).
 */
#include "test.h"
#include "sys.h"

static u32 kmi_base[2];

static void kmi_send(int port, u32 byte)
{
    mmio_wr(kmi_base[port] + 0x08, byte);
}

/* Read every byte that waits, with the status before each. */
static void kmi_drain(int port, const char *what)
{
    u32 b = kmi_base[port];
    printf("kmi%d %s:", port, what);
    for (int i = 0; i < 20 && (mmio_rd(b + 0x04) & 0x10); i++) {
        u32 st = mmio_rd(b + 0x04), ir = mmio_rd(b + 0x10);
        printf(" %02x(st %02x ir %x)", mmio_rd(b + 0x08), st, ir);
    }
    printf(" | st %02x ir %x\n", mmio_rd(b + 0x04), mmio_rd(b + 0x10));
}

static void mmci_cmd(u32 mmci, u32 cmd, u32 arg, u32 flags)
{
    mmio_wr(mmci + 0x38, 0x7ff);
    mmio_wr(mmci + 0x08, arg);
    mmio_wr(mmci + 0x0c, cmd | flags | (1 << 10));
    printf("mmci CMD%u(%08x) flags %03x: status %08x resp %08x %08x %08x %08x cmd %08x\n", cmd, arg,
           flags, mmio_rd(mmci + 0x34), mmio_rd(mmci + 0x14), mmio_rd(mmci + 0x18),
           mmio_rd(mmci + 0x1c), mmio_rd(mmci + 0x20), mmio_rd(mmci + 0x0c));
}

static u32 codec_read(u32 aaci, u32 reg)
{
    mmio_wr(aaci + 0x54, (reg << 12) | (1 << 19));
    return mmio_rd(aaci + 0x58) >> 4;
}

static void codec_write(u32 aaci, u32 reg, u32 value)
{
    mmio_wr(aaci + 0x5c, value << 4);
    mmio_wr(aaci + 0x54, reg << 12);
}

int main(void)
{
    int a15 = is_a15();
    u32 mb = a15 ? 0x1c000000u : 0x10000000u;
    u32 step = a15 ? 0x10000u : 0x1000u;
    u32 aaci = mb + 4 * step, mmci = mb + 5 * step;
    kmi_base[0] = mb + 6 * step;
    kmi_base[1] = mb + 7 * step;

    /* Keyboard. */
    mmio_wr(kmi_base[0], 0x14); /* enable, RX interrupt on */
    kmi_drain(0, "at start");
    kmi_send(0, 0xff);
    kmi_drain(0, "reset");
    kmi_send(0, 0xf2);
    kmi_drain(0, "identify");
    kmi_send(0, 0xee);
    kmi_drain(0, "echo");
    kmi_send(0, 0xf0);
    kmi_drain(0, "scan code set?");
    kmi_send(0, 0x00);
    kmi_drain(0, "0: which set");
    kmi_send(0, 0xf0);
    kmi_drain(0, "scan code set");
    kmi_send(0, 0x03);
    kmi_drain(0, "3");
    kmi_send(0, 0xf0);
    kmi_send(0, 0x00);
    kmi_drain(0, "set? 0 (first answer unread)");
    kmi_send(0, 0xed);
    kmi_drain(0, "LEDs");
    kmi_send(0, 0x07);
    kmi_drain(0, "7");
    kmi_send(0, 0xf5);
    kmi_drain(0, "disable");
    kmi_send(0, 0xf4);
    kmi_drain(0, "enable");
    kmi_send(0, 0x42);
    kmi_drain(0, "unknown 0x42");
    printf("kmi0 data again %02x, parity of last: st %02x\n", mmio_rd(kmi_base[0] + 8),
           mmio_rd(kmi_base[0] + 4));
    mmio_wr(kmi_base[0], 0x00);

    /* Mouse. */
    mmio_wr(kmi_base[1], 0x04);
    kmi_send(1, 0xff);
    kmi_drain(1, "reset");
    kmi_send(1, 0xf2);
    kmi_drain(1, "identify");
    static const u32 knock[] = {200, 100, 80};
    for (int i = 0; i < 3; i++) {
        kmi_send(1, 0xf3);
        kmi_send(1, knock[i]);
    }
    kmi_drain(1, "sample rates 200 100 80");
    kmi_send(1, 0xf2);
    kmi_drain(1, "identify (wheel)");
    kmi_send(1, 0xe8);
    kmi_send(1, 0x03);
    kmi_send(1, 0xe7);
    kmi_send(1, 0xf4);
    kmi_send(1, 0xe9);
    kmi_drain(1, "resolution 3, scaling 2:1, enable, status");
    kmi_send(1, 0xeb);
    kmi_drain(1, "poll");
    kmi_send(1, 0xee);
    kmi_send(1, 0x55);
    kmi_send(1, 0xec);
    kmi_drain(1, "wrap 55, reset wrap");
    kmi_send(1, 0xf6);
    kmi_send(1, 0xe9);
    kmi_drain(1, "defaults, status");
    mmio_wr(kmi_base[1], 0x00);

    /* MMCI, empty slot. */
    mmci_cmd(mmci, 0, 0, 0);
    mmci_cmd(mmci, 8, 0x1aa, 1 << 6);
    mmci_cmd(mmci, 55, 0, 1 << 6);
    mmci_cmd(mmci, 2, 0, (1 << 6) | (1 << 7));
    mmio_wr(mmci + 0x28, 512);
    mmio_wr(mmci + 0x2c, 0x93);
    printf("mmci data: ctrl %08x cnt %08x fifocnt %08x status %08x\n", mmio_rd(mmci + 0x2c),
           mmio_rd(mmci + 0x30), mmio_rd(mmci + 0x48), mmio_rd(mmci + 0x34));
    mmio_wr(mmci + 0x2c, 0);

    /* AACI codec through the slots. */
    mmio_wr(aaci + 0x78, 1);
    printf("codec: reset %04x master %04x powerdown %04x ext id %04x vendor %04x %04x rate %04x\n",
           codec_read(aaci, 0x00), codec_read(aaci, 0x02), codec_read(aaci, 0x26),
           codec_read(aaci, 0x28), codec_read(aaci, 0x7c), codec_read(aaci, 0x7e),
           codec_read(aaci, 0x2c));
    printf("aaci after reads: sl1rx %08x sl2rx %08x slfr %08x\n", mmio_rd(aaci + 0x50),
           mmio_rd(aaci + 0x58), mmio_rd(aaci + 0x68));
    codec_write(aaci, 0x02, 0x0808);
    codec_write(aaci, 0x18, 0x1f1f);
    codec_write(aaci, 0x26, 0xffff);
    codec_write(aaci, 0x7c, 0x1234);
    printf("codec written: master %04x pcm %04x powerdown %04x vendor %04x slfr %08x\n",
           codec_read(aaci, 0x02), codec_read(aaci, 0x18), codec_read(aaci, 0x26),
           codec_read(aaci, 0x7c), mmio_rd(aaci + 0x68));
    codec_write(aaci, 0x00, 0);
    printf("codec after reset: master %04x pcm %04x\n", codec_read(aaci, 0x02),
           codec_read(aaci, 0x18));
    return 0;
}
