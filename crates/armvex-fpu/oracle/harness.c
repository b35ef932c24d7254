/*
 * harness.c — runs VFP instructions under QEMU and records what they do.
 *
 * Input `cases.bin` (read through semihosting from the host's working
 * directory): records of 40 bytes, little-endian:
 *     u32 insn     the A32 VFP instruction to execute (built by gen.py)
 *     u32 fpscr    the FPSCR value to run it with (flags clear)
 *     u64 d[4]     initial values of D0..D3 (S0..S7)
 * Output `results.bin`: one 40-byte record per case:
 *     u32 fpscr    FPSCR read back right after the instruction
 *     u32 zero
 *     u64 d[4]     D0..D3 after the instruction
 * Each instruction is copied into a small code block `insn; bx lr` that
 * run_one() calls with the registers loaded.
 */
typedef unsigned int u32;
typedef unsigned long long u64;

struct vcase { u32 insn, fpscr; u64 d[4]; };
struct vres { u32 fpscr, zero; u64 d[4]; };

extern char __heap_start[];

static int semihost(u32 op, void *arg)
{
    register u32 r0 __asm__("r0") = op;
    register void *r1 __asm__("r1") = arg;
    __asm__ volatile("svc 0x123456" : "+r"(r0), "+r"(r1) : : "memory");
    return (int)r0;
}

static u32 slen(const char *s) { u32 n = 0; while (s[n]) n++; return n; }

static int sh_open(const char *name, u32 mode)
{
    u32 b[3] = { (u32)name, mode, slen(name) };
    return semihost(0x01, b);
}

static void sh_write0(const char *s) { semihost(0x04, (void *)s); }

void run_one(const u32 *code, const struct vcase *c, struct vres *r);
__asm__(
    "    .fpu vfpv4\n"
    "    .global run_one\n"
    "run_one:\n"
    "    push {r4, lr}\n"
    "    mov r4, r2\n"
    "    add r3, r1, #8\n"
    "    vldmia r3, {d0-d3}\n"
    "    ldr r3, [r1, #4]\n"
    "    vmsr fpscr, r3\n"
    "    blx r0\n"
    "    vmrs r3, fpscr\n"
    "    str r3, [r4]\n"
    "    mov r3, #0\n"
    "    str r3, [r4, #4]\n"
    "    vmsr fpscr, r3\n"
    "    add r3, r4, #8\n"
    "    vstmia r3, {d0-d3}\n"
    "    pop {r4, pc}\n");

int main(void)
{
    int fh = sh_open("cases.bin", 1 /* rb */);
    if (fh < 0) {
        sh_write0("cannot open cases.bin\n");
        return 1;
    }
    u32 blk[3] = { (u32)fh, 0, 0 };
    int len = semihost(0x0c, blk); /* SYS_FLEN */
    if (len <= 0 || len % sizeof(struct vcase)) {
        sh_write0("bad cases.bin length\n");
        return 2;
    }
    u32 n = (u32)len / sizeof(struct vcase);
    struct vcase *cases = (struct vcase *)__heap_start;
    blk[1] = (u32)cases;
    blk[2] = (u32)len;
    if (semihost(0x06, blk) != 0) { /* SYS_READ */
        sh_write0("short read\n");
        return 3;
    }
    blk[1] = 0;
    semihost(0x02, blk); /* SYS_CLOSE */

    u32 *code = (u32 *)((char *)cases + (((u32)len + 4095) & ~4095u));
    struct vres *res = (struct vres *)(code + 2 * n + 1024);
    for (u32 i = 0; i < n; i++) {
        code[2 * i] = cases[i].insn;
        code[2 * i + 1] = 0xe12fff1e; /* bx lr */
    }
    __asm__ volatile("dsb\n mcr p15, 0, %0, c7, c5, 0\n dsb\n isb" : : "r"(0) : "memory");

    for (u32 i = 0; i < n; i++)
        run_one(&code[2 * i], &cases[i], &res[i]);

    fh = sh_open("results.bin", 5 /* wb */);
    if (fh < 0) {
        sh_write0("cannot open results.bin\n");
        return 4;
    }
    blk[0] = (u32)fh;
    blk[1] = (u32)res;
    blk[2] = n * sizeof(struct vres);
    if (semihost(0x05, blk) != 0) {
        sh_write0("short write\n");
        return 5;
    }
    blk[1] = 0;
    semihost(0x02, blk);
    sh_write0("done\n");
    return 0;
}
