/*
 * lan9118.c — the motherboard's SMSC LAN9118 Ethernet controller against QEMU
 * (LAN9118 datasheet rev. 1.5, section 5 "Register Description"):
 *   - ID_REV (0x01180001), BYTE_TEST (0x87654321) and the reset value of every
 *     system CSR that reads without side effects (not FREE_RUN, which follows
 *     the clock);
 *   - the MAC CSRs through MAC_CSR_CMD/DATA (the address comes from the EEPROM:
 *     52:54:00:12:34:56, QEMU's default), the PHY's registers through MII, the
 *     EEPROM's first bytes through E2P_CMD;
 *   - what the writable registers keep of what is written;
 *   - one frame through the TX FIFO with the PHY in loopback, back through the
 *     RX status and data FIFOs (the data words, not the CRC after them).
 * The card's window is 0x4e000000 on the vexpress-a9, 0x1a000000 on the a15.
 */
#include "test.h"
#include "sys.h"

static u32 base;

static u32 rd(u32 off) { return mmio_rd(base + off); }
static void wr(u32 off, u32 v) { mmio_wr(base + off, v); }

static u32 mac_rd(u32 reg)
{
    wr(0xa4, 0xc0000000u | reg);
    return rd(0xa8);
}

static void mac_wr(u32 reg, u32 v)
{
    wr(0xa8, v);
    wr(0xa4, 0x80000000u | reg);
}

static u32 phy_rd(u32 reg)
{
    mac_wr(6, (1u << 11) | (reg << 6));
    return mac_rd(7);
}

static void phy_wr(u32 reg, u32 v)
{
    mac_wr(7, v);
    mac_wr(6, (1u << 11) | (reg << 6) | 2);
}

/* The system CSRs that read without side effects. */
static const u32 csrs[] = {0x44, 0x4c, 0x50, 0x54, 0x58, 0x5c, 0x64, 0x68, 0x6c, 0x70, 0x74,
                           0x78, 0x7c, 0x80, 0x84, 0x88, 0x8c, 0x90, 0x98, 0xa0, 0xa4, 0xa8,
                           0xac, 0xb0, 0xb4};

static void show_csrs(const char *what)
{
    printf("%s:", what);
    for (u32 i = 0; i < sizeof csrs / 4; i++)
        printf(" %02x=%08x", csrs[i], rd(csrs[i]));
    printf("\n");
}

static void show_mac(const char *what)
{
    printf("%s:", what);
    for (u32 reg = 1; reg <= 8; reg++)
        printf(" %u=%08x", reg, mac_rd(reg));
    printf("\n");
}

static void show_phy(const char *what)
{
    static const u32 regs[] = {0, 1, 2, 3, 4, 5, 6, 30, 29, 29};
    printf("%s:", what);
    for (u32 i = 0; i < sizeof regs / 4; i++)
        printf(" %u=%04x", regs[i], phy_rd(regs[i]));
    printf("\n");
}

int main(void)
{
    int a15 = is_a15();
    base = a15 ? 0x1a000000u : 0x4e000000u;
    printf("board: %s\n", a15 ? "vexpress-a15" : "vexpress-a9");
    printf("ID_REV %08x BYTE_TEST %08x\n", rd(0x50), rd(0x64));
    show_csrs("reset");
    show_mac("mac reset");
    show_phy("phy reset");
    printf("eeprom:");
    for (u32 a = 0; a < 8; a++) {
        wr(0xb0, 0x80000000u | a);
        printf(" %02x", rd(0xb4));
    }
    printf(" e2p_cmd %08x\n", rd(0xb0));

    /* What the registers keep. */
    wr(0x54, 0xffffffffu);
    wr(0x5c, 0xffffffffu);
    u32 a = rd(0x54), b = rd(0x5c), c = rd(0x58);
    printf("irq_cfg %08x int_en %08x int_sts %08x\n", a, b, c);
    wr(0x5c, 0);
    wr(0x58, 0xffffffffu);
    wr(0x54, 0);
    wr(0x68, 0x12345678u);
    wr(0x6c, 0xffff7fffu);
    wr(0x70, 0xffff3fffu);
    wr(0x74, 0xfffffff0u);
    wr(0x88, 0xffffffffu);
    wr(0x98, 0xffffffffu);
    wr(0xac, 0xffffffffu);
    wr(0xb4, 0xffffffffu);
    show_csrs("written");
    /* The GPT runs (its count follows the clock: not shown), then stops. */
    wr(0x8c, 0x20001000u);
    printf("gpt running %08x\n", rd(0x8c));
    wr(0x8c, 0);
    a = rd(0x8c);
    b = rd(0x90);
    printf("gpt stopped %08x %08x\n", a, b);
    wr(0x6c, 0);
    wr(0x70, 0);
    wr(0x68, 0x48000000u);
    mac_wr(1, 0xffffffffu);
    mac_wr(2, 0x0000bbaau);
    mac_wr(3, 0x44332211u);
    mac_wr(4, 0x01234567u);
    mac_wr(5, 0x89abcdefu);
    mac_wr(8, 0xffffffffu);
    show_mac("mac written");
    phy_wr(4, 0xffff);
    phy_wr(30, 0xff);
    show_phy("phy written");
    printf("int_sts %08x\n", rd(0x58));
    phy_wr(30, 0);
    wr(0x58, 0xffffffffu);

    /* A soft reset: the address comes back from the EEPROM. */
    wr(0x74, 1);
    a = rd(0x74);
    b = rd(0x84);
    printf("after SRST hw_cfg %08x pmt %08x\n", a, b);
    show_mac("mac after reset");

    /* One frame looped back by the PHY: 60 bytes to the card's own address. */
    phy_wr(0, 0x4000 | 0x1000);
    mac_wr(1, 0x0000000cu);
    wr(0x6c, 2u << 8);
    wr(0x70, 2);
    static const u8 head[14] = {0x52, 0x54, 0x00, 0x12, 0x34, 0x56, 0x02, 0x00,
                                0x00, 0x00, 0x00, 0x01, 0x08, 0x00};
    u8 frame[60];
    for (u32 i = 0; i < 60; i++)
        frame[i] = i < 14 ? head[i] : (u8)(i * 7);
    wr(0x20, 0x80003000u | 60);
    wr(0x20, (0x1234u << 16) | 60);
    for (u32 i = 0; i < 60; i += 4)
        wr(0x20, (u32)frame[i] | (u32)frame[i + 1] << 8 | (u32)frame[i + 2] << 16 |
                     (u32)frame[i + 3] << 24);
    u32 t[5];
    t[0] = rd(0x80);
    t[1] = rd(0x4c);
    t[2] = rd(0x48);
    t[3] = rd(0x80);
    t[4] = rd(0x58);
    printf("tx: fifo_inf %08x status peek %08x pop %08x then %08x, int_sts %08x\n", t[0], t[1],
           t[2], t[3], t[4]);
    t[0] = rd(0x7c);
    t[1] = rd(0x44);
    t[2] = rd(0x40);
    printf("rx: fifo_inf %08x status peek %08x pop %08x\n", t[0], t[1], t[2]);
    printf("rx data:");
    for (u32 i = 0; i < 15; i++)
        printf(" %08x", rd(0x00));
    printf(" %04x\n", rd(0x00) & 0xffff);
    /* The CRC's last word, then nothing. */
    rd(0x00);
    a = rd(0x7c);
    b = rd(0x58);
    printf("rx after: fifo_inf %08x int_sts %08x\n", a, b);
    return 0;
}
