/*
 * pflash.c — the motherboard's CFI NOR flashes with the Intel command set,
 * as QEMU 7.2's pflash_cfi01 models them on vexpress (hw/arm/vexpress.c:
 * two 16-bit chips on a 32-bit bus, 256 KiB blocks, IDs 0x89/0x18).
 *
 * fwtest: pflash
 * (tools/fwtest gives both emulators the same two 64 MiB images: flash 0
 * writable, flash 1 read-only, each starting with a 1 MiB pattern, and
 * compares the images after the run byte for byte.)
 *
 *   - read array: the image's bytes, through flash 0 and its alias at 0;
 *   - read identifier (0x90), CFI query (0x98), status (0x70), clear
 *     status (0x50), with 32/16/8-bit reads at aligned addresses;
 *   - block erase + confirm, word program (32, 16, 8 bits), buffered
 *     write (0xe8, count, data, confirm), lock/unlock: status and read back;
 *   - a command read back in the same block of instructions as an array
 *     read of the same word (the CPU must not keep showing array data);
 *   - code programmed into flash runs; erased and programmed again, the
 *     new code runs;
 *   - flash 1 is read-only: erase and program set error bits and change
 *     nothing;
 *   - unknown commands return to read array; 0xf0 leaves a CFI query on.
 */
#include "test.h"
#include "sys.h"

#define FLASH_SIZE 0x04000000u
#define BLOCK 0x40000u

static u32 flash0, flash1;

static u32 rd(u32 a)
{
    u32 v;
    __asm__ volatile("ldr %0, [%1]" : "=r"(v) : "r"(a) : "memory");
    return v;
}
static u32 rd16(u32 a)
{
    u32 v;
    __asm__ volatile("ldrh %0, [%1]" : "=r"(v) : "r"(a) : "memory");
    return v;
}
static u32 rd8(u32 a)
{
    u32 v;
    __asm__ volatile("ldrb %0, [%1]" : "=r"(v) : "r"(a) : "memory");
    return v;
}
static void wr(u32 a, u32 v) { __asm__ volatile("str %0, [%1]" : : "r"(v), "r"(a) : "memory"); }
static void wr16(u32 a, u32 v) { __asm__ volatile("strh %0, [%1]" : : "r"(v), "r"(a) : "memory"); }
static void wr8(u32 a, u32 v) { __asm__ volatile("strb %0, [%1]" : : "r"(v), "r"(a) : "memory"); }

/* Both chips get the same command. */
#define CMD(c) ((u32)(c) | ((u32)(c) << 16))

/* Read [a], write cmd to [a], read [a] again: no branch in between, so one
 * block of the CPU's predecoded instructions. */
static void read_cmd_read(u32 a, u32 cmd, u32 *before, u32 *after)
{
    u32 b, c;
    __asm__ volatile("ldr %0, [%2]\n\t"
                     "str %3, [%2]\n\t"
                     "ldr %1, [%2]"
                     : "=&r"(b), "=&r"(c)
                     : "r"(a), "r"(cmd)
                     : "memory");
    *before = b;
    *after = c;
}

static void show_words(const char *what, u32 a, int n)
{
    printf("%s:", what);
    for (int i = 0; i < n; i++)
        printf(" %08x", rd(a + 4 * i));
    printf("\n");
}

typedef u32 (*fn_t)(u32);

int main(void)
{
    flash0 = is_a15() ? 0x08000000u : 0x40000000u;
    flash1 = flash0 + FLASH_SIZE;
    printf("flash 0 at %08x, flash 1 at %08x\n", flash0, flash1);

    /* Read array: the images' first words. */
    show_words("flash0", flash0, 4);
    show_words("alias 0", 0, 4);
    show_words("flash0+1M-8", flash0 + 0x100000 - 8, 4);
    show_words("flash1", flash1, 4);
    printf("bytes/halves: %02x %02x %04x %04x\n", rd8(flash0 + 1), rd8(flash0 + 7), rd16(flash0 + 2),
           rd16(flash0 + 6));

    /* Read identifier. */
    wr(flash0, CMD(0x90));
    printf("id: %08x %08x %08x %08x | +0x400: %08x %08x | block 5: %08x %08x\n", rd(flash0),
           rd(flash0 + 4), rd(flash0 + 8), rd(flash0 + 12), rd(flash0 + 0x400), rd(flash0 + 0x404),
           rd(flash0 + 5 * BLOCK), rd(flash0 + 5 * BLOCK + 4));
    printf("id 16/8-bit: %04x %04x %02x %02x, alias: %08x\n", rd16(flash0), rd16(flash0 + 6),
           rd8(flash0 + 4), rd8(flash0 + 8), rd(0));
    wr(flash0, CMD(0xff));
    show_words("array again", flash0, 2);

    /* CFI query, as U-Boot asks (at 0x55 in chip words). */
    wr(flash0 + 0x55 * 4, CMD(0x98));
    printf("cfi:");
    for (int i = 0x10; i < 0x52; i++)
        printf("%s%02x", (i & 15) ? " " : "\n  ", rd(flash0 + 4 * i) & 0xff);
    printf("\n  words: %08x %08x %08x, past the table: %08x %08x\n", rd(flash0 + 0x10 * 4),
           rd(flash0 + 0x27 * 4), rd(flash0 + 0x2a * 4), rd(flash0 + 0x52 * 4), rd(flash0 + 0x1000));
    printf("  16-bit: %04x %04x\n", rd16(flash0 + 0x10 * 4), rd16(flash0 + 0x11 * 4 + 2));
    wr(flash0, CMD(0xf0));
    printf("after 0xf0 (still querying): %08x\n", rd(flash0 + 0x10 * 4));
    wr(flash0, CMD(0xff));
    show_words("array again", flash0 + 0x10 * 4, 1);

    /* Status and clear status. */
    wr(flash0, CMD(0x70));
    printf("status: %08x %04x %02x (at +0x1234: %08x)\n", rd(flash0), rd16(flash0), rd8(flash0),
           rd(flash0 + 0x1234));
    wr(flash0, CMD(0x50));
    printf("after clear status, array: %08x\n", rd(flash0));
    wr(flash0, CMD(0x70));
    printf("status after clear: %08x\n", rd(flash0));
    wr(flash0, CMD(0xff));

    /* An array read, a command and a read of the same word in one block. */
    u32 before, after;
    read_cmd_read(flash0 + 4, CMD(0x90), &before, &after);
    printf("same block, read id: before %08x after %08x\n", before, after);
    read_cmd_read(flash0 + 4, CMD(0xff), &before, &after);
    printf("same block, read array: before %08x after %08x\n", before, after);

    /* Block erase (block 1). */
    u32 b1 = flash0 + BLOCK;
    wr(b1 + 0x100, CMD(0x20));
    printf("erase setup: status %08x\n", rd(b1));
    wr(b1 + 0x100, CMD(0xd0));
    printf("erase confirm: status %08x\n", rd(b1 + 0x8));
    wr(b1, CMD(0xff));
    show_words("block 1 erased", b1, 3);
    show_words("block 1 end", b1 + BLOCK - 8, 2);
    show_words("block 0 end", b1 - 8, 2);
    show_words("block 2", b1 + BLOCK, 2);

    /* Word program: 32, 16 and 8 bits. */
    wr(b1 + 0x10, CMD(0x40));
    wr(b1 + 0x10, 0x12345678);
    printf("program: status %08x\n", rd(b1 + 0x10));
    wr(b1 + 0x14, CMD(0x10));
    wr16(b1 + 0x16, 0xbeef);
    wr(b1 + 0x18, CMD(0x40));
    wr8(b1 + 0x19, 0x5a);
    wr(b1, CMD(0xff));
    show_words("programmed", b1 + 0x10, 3);

    /* Buffered write: 8 words (count - 1 = 7, both chips). */
    wr(b1 + 0x40, CMD(0xe8));
    printf("write to buffer: status %08x\n", rd(b1 + 0x40));
    wr(b1 + 0x40, CMD(7));
    for (int i = 0; i < 8; i++)
        wr(b1 + 0x40 + 4 * i, 0xc0de0000u + i);
    printf("buffer full: status %08x\n", rd(b1 + 0x40));
    wr(b1 + 0x40, CMD(0xd0));
    printf("buffer confirm: status %08x\n", rd(b1 + 0x40));
    wr(b1, CMD(0xff));
    show_words("buffered", b1 + 0x40, 9);

    /* The buffer's window is the 4 KiB holding the count cycle's address:
     * words outside it fail, and the confirm then drops the buffer; with
     * the error bit still set, even a good buffer is dropped. */
    wr(b1, CMD(0x50));
    wr(b1 + 0x2000, CMD(0xe8));
    wr(b1, CMD(1));
    wr(b1 + 0x2000, 0x11111111);
    wr(b1 + 0x2004, 0x22222222);
    printf("outside the window: status %08x\n", rd(b1));
    wr(b1, CMD(0xd0));
    printf("confirmed: reads %08x\n", rd(b1 + 0x2000));
    wr(b1 + 0x80, CMD(0xe8));
    wr(b1 + 0x80, CMD(0));
    wr(b1 + 0x80, 0x33333333);
    wr(b1 + 0x80, CMD(0xd0));
    printf("error bit left set: reads %08x, status ", rd(b1 + 0x80));
    wr(b1, CMD(0x70));
    printf("%08x\n", rd(b1));
    wr(b1, CMD(0x50));
    wr(b1 + 0x80, CMD(0xe8));
    wr(b1 + 0x80, CMD(0));
    wr(b1 + 0x80, 0x33333333);
    printf("before the confirm: status %08x", rd(b1 + 0x80));
    wr(b1 + 0x80, CMD(0xd0));
    wr(b1, CMD(0xff));
    printf(", after: %08x %08x\n", rd(b1 + 0x80), rd(b1 + 0x2000));

    /* Lock and unlock: accepted, nothing kept. */
    wr(b1, CMD(0x60));
    wr(b1, CMD(0x01));
    printf("lock: status %08x\n", rd(b1));
    wr(b1, CMD(0x60));
    wr(b1, CMD(0xd0));
    printf("unlock: status %08x\n", rd(b1));
    wr(b1, CMD(0x60));
    wr(b1, CMD(0x2f));
    printf("lock-down (not known): %08x\n", rd(b1 + 0x10));
    wr(b1, CMD(0x5a));
    printf("unknown command: %08x\n", rd(b1 + 0x10));

    /* Code in flash: program `mov r0, #N; bx lr` and call it; then erase the
     * block and program it 8 bytes further on (QEMU keeps translated code of
     * flash it has run even when the flash is programmed, so the second
     * function is at a new address). */
    u32 code = flash0 + 2 * BLOCK;
    for (int round = 0; round < 2; round++) {
        u32 fn = code + 8 * round;
        wr(code, CMD(0x20));
        wr(code, CMD(0xd0));
        wr(fn, CMD(0x40));
        wr(fn, 0xe3a00000u | (round ? 77 : 42)); /* mov r0, #42 / #77 */
        wr(fn + 4, CMD(0x40));
        wr(fn + 4, 0xe12fff1eu); /* bx lr */
        wr(code, CMD(0xff));
        dsb();
        isb();
        u32 r = ((fn_t)fn)(0);
        printf("code in flash, round %d: returned %u; first words %08x %08x %08x\n", round, r,
               rd(code), rd(code + 4), rd(code + 8));
    }

    /* Flash 1 is read-only. */
    wr(flash1, CMD(0x20));
    wr(flash1, CMD(0xd0));
    printf("read-only erase: status %08x\n", rd(flash1));
    wr(flash1 + 4, CMD(0x40));
    wr(flash1 + 4, 0);
    printf("read-only program: status %08x\n", rd(flash1));
    wr(flash1, CMD(0xe8));
    wr(flash1, CMD(0));
    wr(flash1, 0x11111111);
    printf("read-only buffer: status %08x\n", rd(flash1));
    wr(flash1, CMD(0xd0));
    wr(flash1, CMD(0x50));
    show_words("flash1 unchanged", flash1, 2);

    /* Commands through the alias at 0 reach flash 0. */
    wr(0, CMD(0x90));
    printf("id through the alias: %08x\n", rd(flash0 + 4));
    wr(0, CMD(0xff));
    show_words("flash0 at the end", flash0, 2);
    return 0;
}
